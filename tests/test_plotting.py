"""Tests of casekit.plotting: the bundled CJK font and every plot, asserted on the returned Axes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt
import networkx as nx
from matplotlib import font_manager
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.patches import FancyArrowPatch

from casekit import plotting
from casekit.plotting import (
    AGENCY_TYPE_COLOURS,
    CJK_FONT_FAMILY,
    locate_cjk_font,
    plot_edge_trend,
    plot_forest,
    plot_handover_matrix,
    plot_kpi_on_time,
    plot_naive_vs_censored,
    plot_network,
    plot_referral_loops,
    plot_time_to_close,
    plot_whatif,
    update_whatif,
    use_cjk_font,
)

MUST_SHOW_TITLE = "街道办事处 人民法院 住房和城乡建设局 信访局 联席会议"


@pytest.fixture
def ax():
    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)


def _missing_glyph_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if "missing from font" in str(w.message)]


def _draw_and_collect(fig) -> list[str]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fig.canvas.draw()
    return _missing_glyph_warnings(record)


# ---------------------------------------------------------------------------------------------
# Font
# ---------------------------------------------------------------------------------------------


def test_use_cjk_font_returns_the_bundled_files_family():
    from matplotlib import ft2font

    family = use_cjk_font()
    assert family == CJK_FONT_FAMILY
    assert ft2font.FT2Font(str(locate_cjk_font())).family_name == family
    assert matplotlib.rcParams["font.sans-serif"][0] == family
    assert list(matplotlib.rcParams["font.family"])[:2] == ["sans-serif", "DejaVu Sans"]
    found = font_manager.findfont(
        font_manager.FontProperties(family=["sans-serif"]), fallback_to_default=False
    )
    assert os.path.samefile(found, locate_cjk_font())


def test_use_cjk_font_is_idempotent_and_keeps_the_other_sans_serif_fonts():
    before = [f for f in matplotlib.rcParams["font.sans-serif"] if f != CJK_FONT_FAMILY]
    for _ in range(3):
        use_cjk_font()
    sans = list(matplotlib.rcParams["font.sans-serif"])
    assert sans.count(CJK_FONT_FAMILY) == 1
    assert sans[1:] == before
    path = str(locate_cjk_font())
    assert sum(entry.fname == path for entry in font_manager.fontManager.ttflist) == 1


def test_use_cjk_font_restores_itself_after_rcparams_are_reset():
    use_cjk_font()
    with matplotlib.rc_context({"font.sans-serif": ["DejaVu Sans"], "font.family": "serif"}):
        assert use_cjk_font() == CJK_FONT_FAMILY
        assert matplotlib.rcParams["font.sans-serif"] == [CJK_FONT_FAMILY, "DejaVu Sans"]
        assert matplotlib.rcParams["font.family"][0] == "sans-serif"


def test_must_show_chinese_title_draws_without_missing_glyph_warning():
    use_cjk_font()
    fig, ax = plt.subplots()
    ax.set_title(MUST_SHOW_TITLE)
    ax.plot([-2, 3], [-1, 4])  # negative ticks: the minus sign U+2212 must render too
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fig.canvas.draw()
    plt.close(fig)
    assert _missing_glyph_warnings(record) == []


def test_glyphs_outside_the_subset_fall_back_to_other_fonts():
    from fontTools.ttLib import TTFont

    with TTFont(str(locate_cjk_font()), lazy=True) as font:
        cmap = font.getBestCmap()
    assert 0x2713 not in cmap  # CHECK MARK: not in the subset, but in DejaVu Sans
    use_cjk_font()
    fig, ax = plt.subplots()
    ax.set_title("办结 ✓")
    assert _draw_and_collect(fig) == []
    plt.close(fig)


def test_rare_hanzi_use_a_full_system_cjk_font_when_matplotlib_knows_one():
    from fontTools.ttLib import TTFont

    use_cjk_font()
    fallbacks = list(matplotlib.rcParams["font.family"])[2:]
    if not fallbacks:
        pytest.skip("no full CJK font known to matplotlib on this machine")
    with TTFont(str(locate_cjk_font()), lazy=True) as font:
        assert ord("旸") not in font.getBestCmap()  # not in GB 2312
    fig, ax = plt.subplots()
    ax.set_title("潮阳区 旸")
    assert _draw_and_collect(fig) == []
    plt.close(fig)


def test_font_covers_every_chinese_label_of_the_vocabularies_and_gb2312():
    from fontTools.ttLib import TTFont

    from casekit.schema import VOCABULARIES

    with TTFont(str(locate_cjk_font()), lazy=True) as font:
        cmap = font.getBestCmap()
    wanted = set(MUST_SHOW_TITLE.replace(" ", "")) | {"\u2212", "→", "，", "（", "）"}
    for vocabulary in VOCABULARIES.values():
        for term in vocabulary.values():
            wanted.update(term.zh)
            for alias in term.aliases:
                wanted.update(alias)
    missing = sorted(c for c in wanted if c.isprintable() and ord(c) > 0x7F and ord(c) not in cmap)
    assert missing == [], f"rebuild the font with tools/make_font_subset.py; missing {missing}"
    gb2312 = [bytes((a, b)).decode("gb2312") for a in (0xB0, 0xC8, 0xD7) for b in range(0xA1, 0xFA)]
    assert all(ord(c) in cmap for c in gb2312)


def test_bundled_font_ships_with_its_licence_and_readme():
    folder = locate_cjk_font().parent
    licence = (folder / "OFL.txt").read_text(encoding="utf-8")
    assert "SIL OPEN FONT LICENSE Version 1.1" in licence
    assert "Adobe" in licence
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "Noto Sans CJK SC" in readme
    assert CJK_FONT_FAMILY in readme
    assert locate_cjk_font().stat().st_size < 4_000_000
    import hashlib

    digest = hashlib.sha256(locate_cjk_font().read_bytes()).hexdigest()
    assert digest in readme, "casekit/fonts/README.md names another build: update its SHA-256"


_NO_SYSTEM_FONTS = textwrap.dedent(
    """
    import json, warnings
    from pathlib import Path
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import font_manager
    import matplotlib.pyplot as plt
    # Simulate a machine without any system font: keep only matplotlib's own fonts (DejaVu etc.).
    own = Path(matplotlib.get_data_path()).resolve()
    font_manager.fontManager.ttflist = [
        f for f in font_manager.fontManager.ttflist if own in Path(f.fname).resolve().parents
    ]
    TITLE = %r

    def draw():
        fig, ax = plt.subplots()
        ax.set_title(TITLE)
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            fig.canvas.draw()
        plt.close(fig)
        return [str(w.message) for w in rec if "missing from font" in str(w.message)]

    before = draw()
    from casekit.plotting import use_cjk_font
    family = use_cjk_font()
    after = draw()
    used = font_manager.findfont(font_manager.FontProperties(family=["sans-serif"]))
    print(json.dumps({"before": len(before), "after": after, "family": family, "used": used,
                      "rc_family": list(matplotlib.rcParams["font.family"]),
                      "n_fonts": len(font_manager.fontManager.ttflist)}))
    """
)


def test_chinese_renders_on_a_machine_without_system_cjk_fonts(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONWARNINGS": "default"}
    result = subprocess.run(
        [sys.executable, "-c", _NO_SYSTEM_FONTS % MUST_SHOW_TITLE],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["before"] > 0  # without casekit's font the glyphs really are missing
    assert out["after"] == []
    assert out["family"] == CJK_FONT_FAMILY
    assert out["rc_family"] == ["sans-serif", "DejaVu Sans"]  # no system CJK font to fall back to
    assert os.path.samefile(out["used"], locate_cjk_font())


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def working_together() -> nx.Graph:
    G = nx.Graph()
    G.add_node("朝阳街道办事处", agency_type="street_office", n_cases=40)
    G.add_node("区人民法院", agency_type="court", n_cases=10)
    G.add_node("区住建局", agency_type="housing_construction_bureau", n_cases=20)
    G.add_node("区信访局", agency_type="petition_bureau", n_cases=30)
    G.add_edge("朝阳街道办事处", "区人民法院", count=8)
    G.add_edge("朝阳街道办事处", "区住建局", count=2)
    G.add_edge("区信访局", "朝阳街道办事处", count=20)
    return G


@pytest.fixture
def handover() -> nx.DiGraph:
    G = nx.DiGraph()
    for node in ("petition_bureau", "street_office", "court"):
        G.add_node(node, agency_type=node, n_cases=5)
    G.add_edge("petition_bureau", "street_office", count=6)
    G.add_edge("street_office", "petition_bureau", count=2)
    G.add_edge("street_office", "court", count=3)
    return G


def test_network_nodes_are_coloured_by_agency_type_and_sized_by_cases(working_together, ax):
    plot_network(working_together, ax=ax, seed=3, legend=False)
    nodes = next(c for c in ax.collections if isinstance(c, PathCollection))
    assert len(nodes.get_offsets()) == 4
    expected = [
        AGENCY_TYPE_COLOURS[working_together.nodes[n]["agency_type"]]
        for n in working_together.nodes
    ]
    assert [matplotlib.colors.to_hex(c) for c in nodes.get_facecolors()] == expected
    sizes = nodes.get_sizes()
    assert np.argmax(sizes) == 0
    assert np.argmin(sizes) == 1


def test_network_edge_width_grows_with_count(working_together, ax):
    plot_network(working_together, ax=ax, labels=None, legend=False)
    edges = next(c for c in ax.collections if not isinstance(c, PathCollection))
    widths = list(edges.get_linewidths())
    counts = [d["count"] for _, _, d in working_together.edges(data=True)]
    assert np.argsort(widths).tolist() == np.argsort(counts).tolist()
    assert max(widths) > 3 * min(widths)


def test_network_labels_and_legend_are_chinese_and_draw_without_missing_glyphs(working_together):
    fig, ax = plt.subplots()
    plot_network(working_together, ax=ax)
    assert sorted(t.get_text() for t in ax.texts) == sorted(working_together.nodes)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "街道办事处 street office" in legend
    assert "人民法院 court" in legend
    assert _draw_and_collect(fig) == []
    plt.close(fig)


def test_network_labels_translate_type_level_nodes(handover, ax):
    plot_network(handover, ax=ax, labels="en", legend=False)
    assert sorted(t.get_text() for t in ax.texts) == ["court", "petition bureau", "street office"]


def test_network_layout_is_deterministic_for_a_seed(working_together):
    def positions(seed):
        fig, ax = plt.subplots()
        plot_network(working_together, ax=ax, seed=seed)
        offsets = ax.collections[0].get_offsets().copy()
        plt.close(fig)
        return np.asarray(offsets)

    assert np.array_equal(positions(7), positions(7))
    assert not np.allclose(positions(7), positions(8))


def test_directed_network_draws_one_arrow_per_handover(handover, ax):
    plot_network(handover, ax=ax)
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(arrows) == handover.number_of_edges()


def test_network_uses_given_positions(working_together, ax):
    pos = {n: (i, -i) for i, n in enumerate(working_together.nodes)}
    plot_network(working_together, ax=ax, pos=pos)
    assert np.allclose(ax.collections[0].get_offsets(), [pos[n] for n in working_together.nodes])


# ---------------------------------------------------------------------------------------------
# Hand-over matrix and referral loops
# ---------------------------------------------------------------------------------------------


def test_handover_matrix_holds_counts_source_by_target(handover, ax):
    order = ["petition_bureau", "street_office", "court"]
    plot_handover_matrix(handover, ax=ax, order=order, lang=None, colorbar=False)
    values = ax.images[0].get_array()
    assert np.array_equal(values, [[0, 6, 0], [2, 0, 3], [0, 0, 0]])
    assert [t.get_text() for t in ax.get_yticklabels()] == order
    assert "6" in [t.get_text() for t in ax.texts]


def test_handover_matrix_from_edge_table_equals_graph(handover):
    table = pd.DataFrame(
        [(u, v, d["count"]) for u, v, d in handover.edges(data=True)],
        columns=["source", "target", "count"],
    )
    fig, (a, b) = plt.subplots(1, 2)
    plot_handover_matrix(handover, ax=a, colorbar=False)
    plot_handover_matrix(table, ax=b, colorbar=False)
    assert np.array_equal(a.images[0].get_array(), b.images[0].get_array())
    assert [t.get_text() for t in a.get_xticklabels()] == [
        t.get_text() for t in b.get_xticklabels()
    ]
    assert "街道办事处" in [t.get_text() for t in a.get_xticklabels()]
    plt.close(fig)


def test_handover_matrix_row_normalisation_sums_to_one(handover, ax):
    plot_handover_matrix(handover, ax=ax, normalise="row", colorbar=True)
    values = np.asarray(ax.images[0].get_array())
    sums = values.sum(axis=1)
    assert np.allclose(sums[sums > 0], 1.0)
    assert len(ax.figure.axes) == 2  # the colorbar


def test_handover_matrix_rejects_unknown_normalisation(handover, ax):
    with pytest.raises(ValueError, match="normalise"):
        plot_handover_matrix(handover, ax=ax, normalise="diagonal")


def test_referral_loops_show_the_top_loops_most_frequent_first(ax):
    loops = pd.DataFrame(
        {
            "agency_a": ["street_office", "court", "police", "street_office"],
            "agency_b": ["petition_bureau", "street_office", "street_office", "court"],
            "n_cases": [3, 7, 1, 5],
        }
    )
    plot_referral_loops(loops, ax=ax, top=3)
    assert [p.get_width() for p in ax.patches] == [7, 5, 3]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "人民法院 → 街道办事处 → 人民法院"


def test_referral_loops_missing_count_column_is_a_readable_error(ax):
    from casekit._utils import CasekitError

    with pytest.raises(CasekitError, match="count"):
        plot_referral_loops(pd.DataFrame({"agency_a": ["a"], "agency_b": ["b"]}), ax=ax)


# ---------------------------------------------------------------------------------------------
# Time to close
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def fitters():
    from lifelines import KaplanMeierFitter

    a = KaplanMeierFitter().fit([5, 8, 12, 20, 30], [1, 1, 0, 1, 0], label="street_office")
    b = KaplanMeierFitter().fit([3, 4, 9, 10], [1, 1, 1, 0], label="court+street_office")
    return {"street_office": a, "court+street_office": b}


def test_time_to_close_draws_one_step_curve_and_band_per_pattern(fitters, ax):
    plot_time_to_close(fitters, ax=ax)
    curves = [
        line for line in ax.lines if line.get_label() and not line.get_label().startswith("_")
    ]
    assert len(curves) == 2
    sf = fitters["street_office"].survival_function_.iloc[:, 0]
    assert np.allclose(curves[0].get_ydata(), sf.to_numpy())
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 2
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["街道办事处 (n=5)", "人民法院+街道办事处 (n=4)"]


def test_time_to_close_composes_on_one_axis(fitters, ax):
    for key, fitter in fitters.items():
        plot_time_to_close({key: fitter}, ax=ax, ci=False)
    assert len(ax.get_legend().get_texts()) == 2
    assert sum(line.get_linestyle() == ":" for line in ax.lines) == 1  # one median guide only
    assert not any(isinstance(c, PolyCollection) for c in ax.collections)


def test_time_to_close_accepts_one_fitter_and_draws_cleanly(fitters):
    fig, ax = plt.subplots()
    plot_time_to_close(fitters["street_office"], ax=ax, lang="en")
    assert ax.get_legend().get_texts()[0].get_text() == "street office (n=5)"
    assert _draw_and_collect(fig) == []
    plt.close(fig)


def test_naive_vs_censored_marks_both_medians(ax):
    from lifelines import KaplanMeierFitter

    closed = [5, 8, 20]
    naive = KaplanMeierFitter().fit(closed, [1, 1, 1])
    censored = KaplanMeierFitter().fit([5, 8, 20, 25, 40], [1, 1, 1, 0, 0])
    plot_naive_vs_censored(naive, censored, ax=ax)
    vertical = sorted(
        line.get_xdata()[0]
        for line in ax.lines
        if len(set(line.get_xdata())) == 1 and line.get_linestyle() == ":"
    )
    assert vertical == sorted([naive.median_survival_time_, censored.median_survival_time_])
    assert len(ax.get_legend().get_texts()) == 2


def test_naive_vs_censored_from_numbers_draws_intervals(ax):
    plot_naive_vs_censored(
        21.0, {"median_days": 34.0, "median_ci_low": 30.0, "median_ci_high": 41.0}, ax=ax
    )
    assert len(ax.containers) == 2
    segments = ax.containers[1].lines[2][0].get_segments()
    assert np.allclose(segments[0][:, 0], [30.0, 41.0])


def test_forest_plot_is_log_scaled_with_reference_line(ax):
    table = pd.DataFrame(
        {
            "pattern": ["court+street_office", "street_office", "petition_bureau", "police"],
            "hazard_ratio": [2.0, 1.0, 0.5, np.nan],
            "hr_ci_low": [1.5, np.nan, 0.3, np.nan],
            "hr_ci_high": [2.7, np.nan, 0.8, np.nan],
        }
    )
    plot_forest(table, ax=ax)
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["人民法院+街道办事处", "街道办事处 (参照)", "信访局"]
    assert any(
        np.allclose(line.get_xdata(), [1.0, 1.0]) and line.get_linestyle() == "--"
        for line in ax.lines
    )
    assert len(ax.containers) == 2
    first = ax.containers[0]
    assert np.allclose(first.lines[0].get_xdata(), [2.0])
    assert np.allclose(first.lines[2][0].get_segments()[0][:, 0], [1.5, 2.7])


# ---------------------------------------------------------------------------------------------
# What-if and KPI
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def whatif_bars() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "metric": ["median_days_to_close"] * 2 + ["share_closed_60d"] * 2,
            "scenario": ["baseline", "scenario", "baseline", "scenario"],
            "median": [40.0, 31.0, 0.6, 0.7],
            "low": [36.0, 27.0, 0.55, 0.66],
            "high": [44.0, 35.0, 0.65, 0.75],
        }
    )


def test_whatif_bars_show_baseline_and_scenario_with_bands(whatif_bars, ax):
    plot_whatif(whatif_bars, ax=ax, metric="share_closed_60d")
    assert [p.get_height() for p in ax.patches] == [0.6, 0.7]
    bands = [line for line in ax.lines if len(line.get_ydata()) == 2]
    assert [tuple(line.get_ydata()) for line in bands] == [(0.55, 0.65), (0.66, 0.75)]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["baseline 现状", "scenario 情景"]
    assert ax.get_ylabel() == "share_closed_60d"


def test_update_whatif_changes_the_same_artists_in_place(whatif_bars, ax):
    plot_whatif(whatif_bars, ax=ax)
    bars = list(ax.patches)
    lines = list(ax.lines)
    new = whatif_bars.assign(median=[40.0, 20.0, 0.6, 0.8], low=[36.0, 15.0, 0.5, 0.7])
    update_whatif(ax, new)
    assert list(ax.patches) == bars
    assert list(ax.lines) == lines
    assert bars[1].get_height() == 20.0
    assert tuple(lines[1].get_ydata()) == (15.0, 35.0)
    assert ax.get_ylim()[1] >= 44.0


def test_whatif_curves_update_in_place(ax):
    days = np.arange(0, 5)
    table = pd.concat(
        [
            pd.DataFrame(
                {
                    "scenario": s,
                    "day": days,
                    "median": m * days,
                    "low": m * days - 1,
                    "high": m * days + 1,
                }
            )
            for s, m in (("baseline", 1.0), ("scenario", 2.0))
        ]
    )
    plot_whatif(table, ax=ax)
    assert len(ax.lines) == 2
    assert len(ax.collections) == 2
    line = ax.lines[1]
    band = ax.collections[1]
    update_whatif(ax, table.assign(median=table["median"] * 3, high=table["high"] * 3))
    assert ax.lines[1] is line
    assert ax.collections[1] is band
    assert np.allclose(line.get_ydata(), 6.0 * days)
    assert band.get_paths()[0].vertices[:, 1].max() == pytest.approx(3 * (2.0 * 4 + 1))


def test_update_whatif_redraws_when_the_scenarios_change(whatif_bars, ax):
    plot_whatif(whatif_bars, ax=ax)
    three = pd.concat([whatif_bars, whatif_bars.iloc[[1]].assign(scenario="more_staff")])
    update_whatif(ax, three)
    assert len(ax.patches) == 3


def test_kpi_on_time_lowest_rates_first_with_target(ax):
    kpi = pd.DataFrame(
        {
            "street": ["朝阳街道", "和平街道", "文光街道", "新街道"],
            "n_due": [20, 10, 30, 0],
            "on_time_rate": [0.95, 0.70, 0.85, np.nan],
            "rate_ci_low": [0.8, 0.4, 0.7, np.nan],
            "rate_ci_high": [0.99, 0.9, 0.94, np.nan],
        }
    )
    kpi.attrs["clock"] = "handle"
    plot_kpi_on_time(kpi, ax=ax, target=0.9)
    assert [p.get_width() for p in ax.patches] == [0.70, 0.85, 0.95]
    assert next(t.get_text() for t in ax.get_yticklabels()) == "和平街道 (n=10)"
    red = matplotlib.colors.to_rgba("#d62728")
    assert [tuple(p.get_facecolor()) == red for p in ax.patches] == [True, True, False]
    intervals = [tuple(line.get_xdata()) for line in ax.lines if len(line.get_xdata()) == 2]
    assert (0.4, 0.9) in intervals
    assert "办理时限" in ax.get_xlabel()


def test_plot_functions_draw_on_the_current_axes_when_none_is_given(fitters):
    fig, ax = plt.subplots()
    assert plot_time_to_close(fitters) is ax
    plt.close(fig)


def test_plotting_is_not_imported_by_casekit():
    code = "import sys, casekit; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert plotting.__name__ == "casekit.plotting"


def test_whatif_accepts_simulate_year_tables_with_a_separate_baseline(ax):
    base = pd.DataFrame(
        {
            "metric": ["median_days_to_close", "repeat_rate"],
            "value": [40.0, 0.30],
            "low": [36.0, 0.27],
            "high": [44.0, 0.33],
            "unit": ["days", "share"],
        }
    )
    scen = base.assign(value=[31.0, 0.22], low=[28.0, 0.20], high=[34.0, 0.25])
    plot_whatif(scen, baseline=base, ax=ax, metric="repeat_rate")
    assert [p.get_height() for p in ax.patches] == [0.30, 0.22]
    assert ax.get_ylabel() == "repeat_rate (share)"
    update_whatif(ax, scen.assign(value=[31.0, 0.1]), baseline=base)
    assert ax.patches[1].get_height() == 0.1
    assert ax.texts[1].get_text() == "0.10"


def test_whatif_draws_a_sweep_along_its_lever(ax):
    rows = []
    for i, share in enumerate([0.0, 0.5, 0.9]):
        for metric, value in (("repeat_rate", 0.3 - 0.1 * share), ("escalations", 50 - 20 * share)):
            rows.append(
                {
                    "scenario": i,
                    "follow_up_visit_share": share,
                    "metric": metric,
                    "value": value,
                    "low": value * 0.9,
                    "high": value * 1.1,
                    "unit": "x",
                }
            )
    sweep = pd.DataFrame(rows)
    plot_whatif(sweep, ax=ax, metric="escalations")
    assert ax.get_xlabel() == "follow_up_visit_share"
    assert len(ax.lines) == 1
    assert np.allclose(ax.lines[0].get_xdata(), [0.0, 0.5, 0.9])
    assert np.allclose(ax.lines[0].get_ydata(), [50.0, 40.0, 32.0])


def test_whatif_unknown_metric_is_a_readable_error(whatif_bars, ax):
    from casekit._utils import CasekitError

    with pytest.raises(CasekitError, match="not in the result table"):
        plot_whatif(whatif_bars, ax=ax, metric="happiness")


def test_forest_plot_uses_the_is_reference_column(ax):
    table = pd.DataFrame(
        {
            "pattern": ["court+street_office", "street_office"],
            "hazard_ratio": [2.0, 1.0],
            "hr_ci_low": [1.5, 1.0],
            "hr_ci_high": [2.7, 1.0],
            "is_reference": [False, True],
        }
    )
    plot_forest(table, ax=ax, lang="en")
    assert [t.get_text() for t in ax.get_yticklabels()][1] == "street office (reference)"
    assert len(ax.containers) == 1


def test_plots_draw_results_of_casekit_network():
    from casekit import network
    events = pd.DataFrame(
        {
            "case_id": ["c1"] * 4 + ["c2"] * 3,
            "timestamp": pd.to_datetime(
                [
                    "2024-01-01",
                    "2024-01-02",
                    "2024-01-03",
                    "2024-01-04",
                    "2024-02-01",
                    "2024-02-02",
                    "2024-02-05",
                ]
            ),
            "activity": ["register", "transfer", "investigate", "close"] * 1
            + ["register", "mediate", "close"],
            "agency": [
                "区信访局",
                "朝阳街道办事处",
                "区人民法院",
                "朝阳街道办事处",
                "区信访局",
                "朝阳街道办事处",
                "区信访局",
            ],
            "agency_type": [
                "petition_bureau",
                "street_office",
                "court",
                "street_office",
                "petition_bureau",
                "street_office",
                "petition_bureau",
            ],
        }
    )
    handover = network.build_handover_network(events)
    together = network.build_working_together_network(events)
    loops = network.find_referral_loops(events)
    fig, axes = plt.subplots(2, 2)
    plot_network(handover, ax=axes[0, 0])
    plot_network(together, ax=axes[0, 1])
    plot_handover_matrix(network.edges_to_frame(handover), ax=axes[1, 0], colorbar=False)
    plot_referral_loops(loops, ax=axes[1, 1])
    assert len(axes[0, 0].collections[0].get_offsets()) == 3
    labels = [t.get_text() for t in axes[1, 1].get_yticklabels()]
    assert "区信访局 → 朝阳街道办事处 → 区信访局" in labels
    assert np.asarray(axes[1, 0].images[0].get_array()).sum() == handover.size(weight="count")
    assert _draw_and_collect(fig) == []
    plt.close(fig)


def test_font_subset_script_enumerates_gb2312_and_keeps_the_minus_sign():
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "tools" / "make_font_subset.py"
    if not script.exists():
        pytest.skip("tools/ is not part of an installed casekit")
    spec = importlib.util.spec_from_file_location("make_font_subset", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    hanzi, symbols = module.gb2312_characters()
    assert len(hanzi) == 6763
    assert {ord("啊"), ord("齄"), ord("街")} <= hanzi  # first (0xB0A1) and last (0xF7FE) hanzi
    assert ord("，") in symbols
    wanted, counts = module.wanted_unicodes()
    assert 0x2212 in wanted
    assert counts["gb2312_hanzi"] == 6763
    with_font = {ord(c) for c in "街道办事处人民法院住房和城乡建设局信访局联席会议"}
    assert with_font <= wanted


@pytest.mark.parametrize(
    "draw",
    [
        lambda ax: plot_network(nx.Graph(), ax=ax),
        lambda ax: plot_network(nx.empty_graph(["street_office", "court"]), ax=ax),
        lambda ax: plot_handover_matrix(nx.DiGraph(), ax=ax),
        lambda ax: plot_referral_loops(
            pd.DataFrame(columns=["origin", "via", "count", "n_cases"]), ax=ax
        ),
        lambda ax: plot_time_to_close({}, ax=ax),
        lambda ax: plot_forest(
            pd.DataFrame(columns=["pattern", "hazard_ratio", "hr_ci_low", "hr_ci_high"]), ax=ax
        ),
    ],
    ids=["network", "network-no-edges", "matrix", "loops", "km", "forest"],
)
def test_empty_results_draw_without_warnings(draw, ax):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draw(ax)
        ax.figure.canvas.draw()


def test_edge_trend_follows_the_strongest_ties_over_periods(ax):
    table = pd.DataFrame(
        {
            "period": ["2023Q1", "2023Q2", "2023Q1", "2023Q2", "2023Q2"],
            "source": ["court", "court", "petition_bureau", "street_office", "police"],
            "target": [
                "street_office",
                "street_office",
                "street_office",
                "petition_bureau",
                "court",
            ],
            "count": [4, 9, 2, 1, 1],
            "share": [0.4, 0.6, 0.2, 0.05, 0.05],
        }
    )
    plot_edge_trend(table, ax=ax, top=2)
    assert [line.get_label() for line in ax.lines] == [
        "人民法院 → 街道办事处",  # (street_office, petition_bureau) and reverse: directed
        "信访局 → 街道办事处",
    ]
    assert np.allclose(ax.lines[0].get_ydata(), [0.4, 0.6])
    assert np.allclose(ax.lines[1].get_ydata(), [0.2, 0.0])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2023Q1", "2023Q2"]


def test_edge_trend_draws_casekit_network_by_period():
    from casekit import network
    events = pd.DataFrame(
        {
            "case_id": ["c1", "c1", "c2", "c2", "c3", "c3"],
            "timestamp": pd.to_datetime(
                ["2023-01-05", "2023-01-06", "2024-02-01", "2024-02-03", "2024-03-01", "2024-03-02"]
            ),
            "activity": ["register", "close"] * 3,
            "agency": ["区信访局", "朝阳街道办事处"] * 3,
            "agency_type": ["petition_bureau", "street_office"] * 3,
        }
    )
    by_year = network.build_network_by_period(events, by="year")
    fig, ax = plt.subplots()
    plot_edge_trend(by_year, ax=ax, value="count")
    assert np.allclose(ax.lines[0].get_ydata(), [1.0, 2.0])
    assert _draw_and_collect(fig) == []
    plt.close(fig)


def test_large_directed_network_uses_one_arrow_collection(handover, ax):
    from matplotlib.quiver import Quiver

    plot_network(handover, ax=ax, max_arrows=1)
    assert not any(isinstance(p, FancyArrowPatch) for p in ax.patches)
    quivers = [c for c in ax.collections if isinstance(c, Quiver)]
    assert len(quivers) == 1
    assert len(quivers[0].U) == handover.number_of_edges()
    ax.figure.canvas.draw()


def test_handover_matrix_shows_only_the_busiest_agencies(handover, ax):
    plot_handover_matrix(handover, ax=ax, top=2, lang=None, colorbar=False)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["street_office", "petition_bureau"]
    assert np.array_equal(ax.images[0].get_array(), [[0, 2], [6, 0]])
    assert "top 2 of 3" in ax.get_title()


def test_conference_graphs_size_by_conferences_and_leave_conference_nodes_unlabelled():
    from casekit import network
    events = pd.DataFrame(
        {
            "case_id": ["c1", "c1", "c1", "c2", "c2", "c2"],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-02", "2024-01-02", "2024-02-01", "2024-02-02", "2024-02-02"]
            ),
            "activity": ["register", "joint_conference", "joint_conference"] * 2,
            "agency": [
                "区信访局",
                "区信访局",
                "朝阳街道办事处",
                "区信访局",
                "区信访局",
                "区人民法院",
            ],
            "agency_type": [
                "petition_bureau",
                "petition_bureau",
                "street_office",
                "petition_bureau",
                "petition_bureau",
                "court",
            ],
        }
    )
    bipartite, projection = network.build_joint_conference_network(events)
    fig, (a, b) = plt.subplots(1, 2)
    plot_network(projection, ax=a, legend=False)
    nodes = list(projection.nodes)
    sizes = a.collections[0].get_sizes()
    biggest = max(nodes, key=lambda n: projection.nodes[n]["n_conferences"])
    assert nodes[int(np.argmax(sizes))] == biggest
    plot_network(bipartite, ax=b)
    agencies = {n for n, d in bipartite.nodes(data=True) if d.get("kind") != "conference"}
    assert {t.get_text() for t in b.texts} == agencies
    assert "联席会议 joint conference" in [t.get_text() for t in b.get_legend().get_texts()]
    assert _draw_and_collect(fig) == []
    plt.close(fig)


def test_every_agency_type_of_the_schema_has_its_own_colour():
    from casekit.plotting import agency_type_colour
    from casekit.schema import AGENCY_TYPES

    fixed = [AGENCY_TYPE_COLOURS[t] for t in AGENCY_TYPES if t in AGENCY_TYPE_COLOURS]
    assert len(set(fixed)) == len(fixed)
    assert len(fixed) >= 20
    for t in AGENCY_TYPES:  # a type added to the schema later still gets a distinct colour
        if t not in AGENCY_TYPE_COLOURS:
            assert agency_type_colour(t) not in fixed
