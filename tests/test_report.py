"""casekit report: HTML with figures, no code, no PII; and the helpers behind it."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from casekit import report
from casekit._utils import CasekitError, FileUnusableError
from casekit.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from independent_district import COLUMNS, make_independent_district


def test_report_template_is_stripped_and_has_the_parameters_the_command_passes():
    path = report._template_path()
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert all(c.get("outputs", []) == [] for c in nb["cells"] if c["cell_type"] == "code")
    assert set(report.read_parameters(path)) == {"EVENTS_PATH", "SOURCE_NAME", "COLUMNS",
                                                 "OBSERVATION_END", "MIN_CASES", "REPEAT_ONLY",
                                                 "OUTCOME", "SCHEDULER", "K"}
    source = "\n".join("".join(c["source"]) for c in nb["cells"])
    assert "use_cjk_font()" in source
    assert "suppress_small_cells" in source
    # the kernel's first cells import no plotting: a report without figures never pays for it
    setup = next(c for c in nb["cells"] if c["cell_type"] == "code"
                 and "parameters" not in c["metadata"].get("tags", []))
    assert "matplotlib" not in "".join(l for l in setup["source"] if not l.startswith("#"))


def test_pattern_counts_and_description_from_a_hand_made_case_table():
    cases = pd.DataFrame({
        "pattern": ["a", "a", "a", "b"], "closed": [True, True, False, False],
        "repeat_ordinal": [1, 2, 3, 1],
        "observation_end": pd.to_datetime(["2024-03-31"] * 4),
    })
    counts = report.pattern_counts(cases)
    assert counts.to_dict("records")[0] == {"pattern": "a", "n_cases": 3, "n_closed": 2,
                                            "n_open": 1, "n_repeat": 2}
    text = report.describe_log(pd.DataFrame({"agency": ["x"] * 9}), cases)
    assert "4 cases, 9 events, 1 agencies" in text
    assert "2024-03-31" in text
    assert "open (censored) 未办结: 50.0%" in text
    assert "repeat filings 重复信访: 50.0%" in text


def test_html_pii_scan_ignores_embedded_images_but_finds_an_id_number_in_text():
    assert report.find_pii_in_html(
        "<img src='data:image/png;base64,44052419800101001X13812345678=='>") == []
    kinds = {f.kind for f in report.find_pii_in_html("<td>440524188001010014</td>")}
    assert kinds == {"id_number"}


def test_build_report_refuses_to_write_html_that_would_leak_an_id_number(monkeypatch, tmp_path):
    src = tmp_path / "log.csv"
    src.write_text("case_id\n1\n", encoding="utf-8")
    monkeypatch.setattr(report, "execute_notebook", lambda *a, **k: nbformat.v4.new_notebook())
    monkeypatch.setattr(report, "export_html", lambda nb, **k: "<p>身份证 440524188001010014</p>")
    out = tmp_path / "r.html"
    with pytest.raises(CasekitError, match="raw PII"):
        report.build_report(src, out=out)
    assert not out.exists()


def test_build_report_names_a_missing_file():
    with pytest.raises(FileUnusableError, match="no such file"):
        report.build_report("/nonexistent/log.csv", out="x.html")


def test_cli_report_on_a_missing_file_exits_2_with_one_line(tmp_path, capsys):
    code = main(["report", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r.html")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "missing.csv" in err


def test_export_html_drops_code_and_prompts_and_embeds_images():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## 结果"),
        nbformat.v4.new_code_cell("secret_variable_name = 1", execution_count=1, outputs=[
            nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="}),
        ]),
    ])
    html = report.export_html(nb)
    assert "secret_variable_name" not in html
    assert "In&nbsp;[1]" not in html
    assert "In [1]" not in html
    assert "data:image/png;base64,iVBORw0KGgo=" in html


@pytest.mark.slow
def test_cli_report_on_a_raw_pii_export_writes_figures_and_no_identities(tmp_path, capsys):
    src = tmp_path / "信访件导出.csv"
    make_independent_district(src, n_petitioners=150, seed=3)
    out = tmp_path / "report.html"
    code = main(["report", str(src), "--columns", COLUMNS, "--min-cases", "10", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    html = out.read_text(encoding="utf-8")
    assert html.count("<img") >= 2  # network and Kaplan-Meier figures, embedded
    assert "data:image/png;base64," in html
    assert "import casekit" not in html  # no code cells
    assert report.find_pii_in_html(html) == []
    raw = pd.read_csv(src, encoding="gb18030", dtype=str)
    for column in ("身份证号", "联系电话", "信访人姓名"):
        leaked = [v for v in raw[column].unique()[:200] if v in html]
        assert not leaked, f"raw {column} in the report"


def test_report_template_is_in_sync_with_its_reviewable_script():
    jupytext = pytest.importorskip("jupytext")
    script = Path(__file__).resolve().parents[1] / "notebooks" / "report" / "report.py"
    nb = jupytext.read(report._template_path())
    py = jupytext.read(script)
    assert [(c.cell_type, c.source) for c in nb.cells] == \
        [(c.cell_type, c.source) for c in py.cells], (
        "regenerate: jupytext --to ipynb -o casekit/templates/report.ipynb "
        "notebooks/report/report.py")


# ---------------------------------------------------------------------------------------------
# the options of rank, what a section says when it cannot be computed, the method note
# ---------------------------------------------------------------------------------------------

def _real_root() -> Path:
    from casekit.datasets._real import RealDataNotFoundError, real_data_root

    try:
        return real_data_root()
    except RealDataNotFoundError:
        return Path("/nonexistent-real-data")


REAL = _real_root()
LEDGER = Path(__file__).resolve().parents[1] / "data" / "信访台账示例.xlsx"


def test_cli_report_passes_the_rank_options_to_the_report(monkeypatch, tmp_path):
    seen = {}

    def fake_build_report(source, **kwargs):
        seen.update(kwargs, source=source)
        Path(kwargs["out"]).write_text("<p>ok</p>", encoding="utf-8")
        return Path(kwargs["out"])

    monkeypatch.setattr(report, "build_report", fake_build_report)
    labels = tmp_path / "labels.csv"
    labels.write_text("column,label,identifier\nactivity,结案,close\n", encoding="utf-8")
    code = main(["report", str(LEDGER), "--all-filings", "--outcome", "settle", "--min-cases",
                 "7", "--observation-end", "2024-07-01", "--labels", str(labels), "--sheet", "0",
                 "--out", str(tmp_path / "r.html")])
    assert code == 0
    assert (seen["repeat_only"], seen["outcome"], seen["min_cases"]) == (False, "settle", 7)
    assert seen["observation_end"] == "2024-07-01"
    assert str(seen["source"]).endswith(".parquet")  # --labels / --sheet: read here first
    main(["report", str(LEDGER), "--repeat-only", "--out", str(tmp_path / "r2.html")])
    assert (seen["repeat_only"], seen["outcome"], seen["source"]) == (True, "close", str(LEDGER))
    main(["report", str(LEDGER), "--out", str(tmp_path / "r3.html")])
    assert seen["repeat_only"] is None  # the report decides, and says so


def test_cli_report_on_a_folder_that_is_not_a_partitioned_dataset_is_one_line(tmp_path, capsys):
    code = main(["report", str(tmp_path), "--out", str(tmp_path.parent / "r.html")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "casekit partition" in err


def test_rank_for_report_follows_the_scope_and_outcome_it_is_given():
    import casekit as ck

    ev = ck.load_sample_events()
    cases = ck.build_case_table(ev)
    ranking, text = report.rank_for_report(ev, cases, repeat_only=False, outcome="settle")
    assert text.startswith("All filings ranked")
    assert "time to settling" in text
    assert ranking.attrs["report_scope"] == "all"
    footer = report.method_footer(ranking, outcome="settle")
    assert "All filings (first and repeat) were ranked" in footer
    assert ("Cox model" in footer) == (ranking.attrs["ranked_by"] == "adjusted_hazard_ratio")
    auto, text = report.rank_for_report(ev, cases)
    assert text.startswith("Repeat filings ranked") and auto.attrs["report_scope"] == "repeat"
    assert "Repeat filings (repeat_ordinal >= 2) were ranked" in report.method_footer(auto)


def test_no_ranking_says_why_and_what_would_help_without_printing_a_small_count():
    import casekit as ck

    ev = ck.load_sample_events()
    ev = ev[ev["case_id"].isin(ev["case_id"].unique()[:9])]
    ranking, text = report.rank_for_report(ev, ck.build_case_table(ev), repeat_only=False, k=5)
    assert ranking is None
    assert text.startswith("No ranking:")
    assert "--min-cases (now 30)" in text
    assert not re.search(r"\b[1-4] (cases|closures)\b", text), text
    assert "nothing here is adjusted" in report.method_footer(None)


def test_median_fallback_footer_says_unadjusted_and_never_claims_adjustment():
    r = pd.DataFrame({"pattern": ["a"], "n_cases": [40]})
    r.attrs.update(ranked_by="median", method="time-varying", report_scope="all")
    text = report.method_footer(r)
    assert "unadjusted" in text and "Cox" not in text.split("unadjusted")[0]
    assert "adjusted for" not in text


def test_notes_for_sections_that_cannot_be_drawn():
    import networkx as nx

    assert "two or more agency types" in report.network_note(nx.empty_graph(["x", "y"]))
    assert report.network_note(nx.Graph([("x", "y")])) is None
    none_closed = pd.DataFrame({"closed": [False] * 9})
    assert "no case in this log is closed" in report.curves_note(["a"], none_closed)
    closed = pd.DataFrame({"closed": [True] * 9})
    assert "no collaboration pattern has a case count" in report.curves_note([], closed)
    assert report.curves_note(["a"], closed) is None


def test_a_table_no_suppression_can_protect_is_withheld_with_a_sentence():
    # two patterns, one open case each, open total printed as "fewer than 5": any hidden
    # arrangement gives the open counts back (complementary cells are 0 or >= 5)
    cases = pd.DataFrame({"pattern": ["a"] * 6 + ["b"] * 6,
                          "closed": [True] * 5 + [False] + [True] * 5 + [False],
                          "repeat_ordinal": [1] * 12})
    out = report.publish_tables(cases, k=5)
    assert len(out["patterns"]) == 0
    assert "Table withheld" in out["patterns"].attrs["withheld"]


def test_small_patterns_are_pooled_and_never_the_ranked_ones():
    counts = pd.DataFrame({"pattern": ["a", "b", "c", "d"], "n_cases": [50, 3, 2, 6],
                           "n_closed": [40, 3, 1, 6], "n_open": [10, 0, 1, 0],
                           "n_repeat": [0, 0, 0, 0]})
    pooled = report.merge_small_patterns(counts, k=5)
    assert pooled["pattern"].tolist() == ["a", "d", "other patterns (2)"]
    assert pooled["n_cases"].sum() == counts["n_cases"].sum()
    kept = report.merge_small_patterns(counts, k=5, keep={"b"})
    assert "b" in kept["pattern"].tolist()


def test_ranked_total_printed_in_the_text_is_part_of_the_suppression():
    # the text prints n_cases_used; with one ranked pattern it is that pattern's count, so the
    # suppression must treat it as printed (no [c] on a number the text gives away)
    cases = pd.DataFrame({"pattern": ["a"] * 40 + ["b"] * 12 + ["c"] * 3,
                          "closed": [True] * 30 + [False] * 10 + [True] * 9 + [False] * 3
                          + [True] * 3, "repeat_ordinal": [1] * 55})
    ranking = pd.DataFrame({"pattern": ["a"], "n_cases": [40], "n_closed": [30]})
    ranking.attrs["n_cases_used"] = 40
    out = report.publish_tables(cases, ranking=ranking, k=5)
    assert out["ranking"]["n_cases"].tolist() == ["40"]


def _sections(html: str) -> dict[str, str]:
    """Heading text -> the visible text, tables and images up to the next heading."""
    parts = re.split(r"<h2[^>]*>", html)[1:]
    out = {}
    for part in parts:
        head, _, body = part.partition("</h2>")
        body = re.split(r"<h1[^>]*>", body)[0]
        title = re.sub(r"<[^>]+>", "", head).replace("¶", "").strip()
        out[title] = body
    return out


def _assert_every_section_says_something(html: str) -> None:
    sections = _sections(html)
    assert len(sections) >= 5, list(sections)
    for title, body in sections.items():
        text = re.sub(r"<(style|script)\b.*?</\1>", "", body, flags=re.DOTALL)
        has_figure = "<img" in text
        has_table = "<table" in text and "<td" in text
        words = re.sub(r"<[^>]+>", " ", text)
        sentence = re.search(r"[A-Za-z][^.]{20,}\.", words)
        assert has_figure or has_table or sentence, f"section {title!r} is empty"
        if "<table" in text and "<td" not in text:
            raise AssertionError(f"section {title!r} has an empty table")


def _report(path: Path, tmp_path: Path, *extra: str) -> str:
    out = tmp_path / "report.html"
    code = main(["report", str(path), *extra, "--out", str(out)])
    assert code == 0
    return out.read_text(encoding="utf-8")


@pytest.mark.slow
def test_report_on_the_example_excel_ledger_says_something_in_every_section(tmp_path):
    sys.path.insert(0, str(LEDGER.parents[1] / "scripts"))
    import make_example_ledger

    html = _report(LEDGER, tmp_path)
    _assert_every_section_says_something(html)
    assert "Table withheld" in html  # 12 cases: no suppression protects the pattern table
    raw = make_example_ledger.ledger()
    for column in ("信访人姓名", "身份证号", "联系电话"):
        leaked = [v for v in raw[column].unique() if str(v) in html]
        assert not leaked, f"raw {column} in the report"


@pytest.mark.slow
@pytest.mark.real
def test_report_on_the_nyc_311_sample_says_something_in_every_section(tmp_path):
    path = REAL / "nyc-311-sample" / "nyc311_sample_2024-04_YangziXinJas.csv"
    if not path.exists():
        pytest.skip(f"real logs not found: {path}")
    html = _report(path, tmp_path)
    _assert_every_section_says_something(html)
    assert "No repeat filings in this log, so all filings are ranked" in html
    assert "No network: no case in this log was handled by two or more agency types" in html
    assert "Kaplan-Meier median time to closing, unadjusted" in html  # the footer tells


@pytest.mark.slow
@pytest.mark.real
def test_report_on_bpic15_says_why_nothing_is_ranked(tmp_path):
    path = REAL / "bpic15-municipality-1" / "BPIC15_1.csv.gz"
    if not path.exists():
        pytest.skip(f"real logs not found: {path}")
    html = _report(path, tmp_path)
    _assert_every_section_says_something(html)
    assert "No ranking: " in html and "--labels" in html
    assert "No curves: no case in this log is closed" in html
    assert "nothing here is adjusted" in html


@pytest.mark.slow
def test_report_on_a_partitioned_folder(tmp_path):
    import casekit as ck

    src = tmp_path / "log.parquet"
    ck.load_sample_events().to_parquet(src)
    parts = tmp_path / "parts"
    ck.scale.partition_events(src, parts, partitions=2)
    html = _report(parts, tmp_path, "--min-cases", "20")
    _assert_every_section_says_something(html)
    assert "Repeat filings ranked by the time-varying method" in html
    assert html.count("<img") >= 2
