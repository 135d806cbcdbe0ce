from __future__ import annotations

import inspect
import subprocess
import sys

import pytest

widgets = pytest.importorskip("ipywidgets")
pytest.importorskip("matplotlib")

from casekit import simulate as sm
from casekit.widgets import (
    LEVER_CONTROLS,
    NetworkExplorer,
    WhatIfPanel,
    check_lever_controls,
)


def value(res, metric):
    return float(res.set_index("metric").at[metric, "value"])


@pytest.fixture(scope="module")
def panel():
    return WhatIfPanel(seed=3, replications=4, dpi=40)


def test_spec_matches_the_simulator_signature():
    check_lever_controls()
    params = inspect.signature(sm.simulate_year).parameters
    assert set(LEVER_CONTROLS) <= set(params)
    assert set(sm.LEVERS["lever"]) == set(LEVER_CONTROLS)


def test_a_renamed_knob_fails_loudly():
    with pytest.raises(TypeError, match="leader_share"):
        check_lever_controls({**LEVER_CONTROLS, "leader_share": {}})

    def renamed(baseline=None, *, leader_share=None):  # the simulator after a rename
        return None

    with pytest.raises(TypeError, match="no keyword"):
        check_lever_controls(LEVER_CONTROLS, renamed)
    with pytest.raises(TypeError, match="has no control"):
        check_lever_controls({k: v for k, v in LEVER_CONTROLS.items() if k != "mediators"})


def test_controls_update_on_release_and_carry_css_classes(panel):
    for slider in panel.sliders.values():
        assert slider.continuous_update is False
        assert "ck-slider" in slider._dom_classes
    assert "ck-status" in panel.status._dom_classes
    assert "ck-reset" in panel.reset_button._dom_classes
    assert "ck-figure" in panel.image._dom_classes
    assert isinstance(panel, widgets.VBox)


def test_sliders_start_at_the_observed_values(panel):
    panel.reset()
    for lever, slider in panel.sliders.items():
        assert slider.value == pytest.approx(panel.base.observed[lever], rel=1e-6, abs=0.5)
    assert value(panel.result, "median_days_to_close") == value(panel.baseline_result,
                                                                "median_days_to_close")


@pytest.mark.parametrize(
    ("lever", "low", "high", "metric"),
    [("leader_ownership_share", 0.0, 0.9, "median_days_to_close_repeat"),
     ("follow_up_visit_share", 0.0, 0.9, "repeat_rate"),
     ("one_stop_center", 0.0, 1.0, "median_days_to_close")],
)
def test_setting_a_slider_reruns_in_the_right_direction(panel, lever, low, high, metric):
    panel.reset()
    fig, img, status, runs = panel.figure, panel.image.value, panel.status.value, panel.runs
    panel.sliders[lever].value = low
    lo = value(panel.result, metric)
    panel.sliders[lever].value = high
    hi = value(panel.result, metric)
    assert hi < lo
    assert panel.runs > runs  # a value equal to the current one does not re-run
    assert panel.figure is fig  # updated in place, never re-created
    assert panel.image.value != img
    assert panel.status.value != status
    assert panel.result.attrs["levers"][lever] == pytest.approx(high)


def test_figure_artists_are_updated_in_place(panel):
    panel.reset()
    bar = panel.axes[0].patches[1]  # drawn by casekit.plotting.plot_whatif
    axes = list(panel.figure.axes)
    panel.sliders["one_stop_center"].value = 1.0
    assert panel.axes[0].patches[1] is bar
    assert list(panel.figure.axes) == axes
    assert bar.get_height() == pytest.approx(value(panel.result, panel.metrics[0]))


def test_editing_an_assumption_reruns_and_is_carried(panel):
    panel.reset()
    panel.sliders["leader_ownership_share"].value = 1.0
    with_effect = value(panel.result, "median_days_to_close_repeat")
    panel.assumption_inputs[("leader_ownership_share", "duration_factor")].value = 1.0
    assert value(panel.result, "median_days_to_close_repeat") > with_effect
    carried = {(r["lever"], r["parameter"]): r["value"]
               for r in panel.result.attrs["assumptions"]}
    assert carried[("leader_ownership_share", "duration_factor")] == 1.0


def test_reset_restores_levers_assumptions_and_result(panel):
    panel.reset()
    start = panel.result.copy()
    panel.sliders["mediators"].value = 0
    panel.sliders["follow_up_visit_share"].value = 0.0
    panel.assumption_inputs[("follow_up_visit_share", "refile_factor")].value = 1.0
    panel.reset_button.click()
    assert panel.sliders["mediators"].value == round(panel.base.observed["mediators"])
    assert panel.assumption_inputs[("follow_up_visit_share", "refile_factor")].value == 0.6
    assert panel.result[["metric", "value"]].equals(start[["metric", "value"]])


def test_panel_never_displays_itself(monkeypatch):
    import IPython.display

    def boom(*args, **kwargs):
        raise AssertionError("display() called inside the panel")

    monkeypatch.setattr(IPython.display, "display", boom)
    WhatIfPanel(seed=1, replications=2, dpi=30)


def test_import_casekit_stays_light():
    code = ("import sys, casekit as ck; ck.simulate_year; ck.ASSUMPTIONS; "
            "bad = [m for m in ('ipywidgets', 'matplotlib') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def small_events():
    from casekit.datasets import load_sample_events

    ev = load_sample_events()
    return ev[ev["case_id"].isin(ev["case_id"].unique()[:400])]


def test_network_explorer_rebuilds_for_each_choice(small_events):
    ex = NetworkExplorer(small_events, by="quarter")
    fig, runs = ex.figure, ex.runs
    together = ex.result.copy()
    assert list(together.columns[:4]) == ["source", "target", "count", "share"]
    ex.kind.value = "handover"
    assert ex.graph.is_directed()
    assert not ex.result.equals(together)
    all_cases = int(ex.result["count"].sum())
    ex.subset.value = "repeat"
    assert int(ex.result["count"].sum()) < all_cases
    n_types = ex.graph.number_of_nodes()
    ex.level.value = "agency"
    assert ex.graph.number_of_nodes() > n_types
    ex.period.value = ex.period.options[-1][1]
    assert ex.figure is fig
    assert ex.runs == runs + 4
    assert "ck-status" in ex.status._dom_classes
    assert "ck-figure" in ex.image._dom_classes


def test_widgets_use_only_public_simulate_functions():
    import casekit.widgets as w

    source = inspect.getsource(w)
    assert "sm._" not in source


def test_sliders_take_their_ranges_and_units_from_the_one_lever_table(panel):
    for row in sm.LEVERS.itertuples():
        slider = panel.sliders[row.lever]
        assert slider.min <= row.min + 1e-9 or slider.min == panel.defaults[row.lever]
        assert slider.max == max(row.max, panel.defaults[row.lever])
        assert LEVER_CONTROLS[row.lever]["unit"] == row.unit
    assert "assumed" in panel.badges["leader_ownership_share"].value
    assert panel.route.disabled
    assert panel.sliders["route_share"].disabled
    assert panel.route.style.description_width == "initial"
    assert "e+0" not in panel.table.value
    assert "%" in panel.table.value


def test_an_estimated_baseline_shows_badges_and_route_choices():
    import casekit as ck

    base = ck.calibrate_baseline(ck.generate_district(3000, seed=4)[0])
    p = WhatIfPanel(base, seed=1, replications=2, dpi=30)
    assert "estimated" in p.badges["follow_up_visit_share"].value
    assert "assumed" in p.badges["one_stop_center"].value
    assert not p.route.disabled
    assert len(p.route.options) >= 1
    before = value(p.result, "median_days_to_close_repeat")
    p.sliders["route_share"].value = 1.0
    assert p.result.attrs["route_repeat_to"] == "+".join(sorted(p.route.value.split("+")))
    assert value(p.result, "median_days_to_close_repeat") != before
    p.assumption_inputs[("follow_up_visit_share", "refile_factor")].value = 0.2
    assert "edited" in p.badges["follow_up_visit_share"].value
