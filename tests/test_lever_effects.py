"""Lever effects estimated from an event log (issue 13 items 1-3), on logs whose truth is known."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import casekit as ck
from casekit import simulate as sm
from casekit._utils import CasekitError
from casekit.engine import cox_fit


def _log_with_planted_effect(hr: float, n: int = 3000, seed: int = 5) -> pd.DataFrame:
    """A log in which a leader takes a case over at a random time and, from then on, the
    closing hazard is multiplied by ``hr``. Hard cases close slower and get a leader sooner
    (confounding by indication); the leader's time does not depend on the future."""
    rng = np.random.default_rng(seed)
    hard = rng.random(n) < 0.4
    lam = np.where(hard, 1 / 40, 1 / 20)
    m = rng.exponential(np.where(hard, 30.0, 90.0))
    e1 = rng.exponential(1 / lam)
    t = np.where(e1 < m, e1, m + rng.exponential(1 / (lam * hr)))
    opened = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.uniform(0, 300, n), unit="D")
    end = pd.Timestamp("2025-01-01")
    ids = np.array([f"C{i:05d}" for i in range(n)])
    rows = []
    for act, agency, typ, when, keep in (
        ("register", "bureau", "petition_bureau", np.zeros(n), np.ones(n, bool)),
        ("accept", "street", "street_office", np.full(n, 0.01), np.ones(n, bool)),
        ("leader_case_ownership", "street", "street_office", m, m < t),
        ("close", "street", "street_office", t, np.ones(n, bool)),
    ):
        ts = opened + pd.to_timedelta(when, unit="D")
        ok = keep & (ts < end)
        rows.append(pd.DataFrame({"case_id": ids[ok], "timestamp": ts[ok], "activity": act,
                                  "agency": agency, "agency_type": typ,
                                  "category": np.where(hard, "natural_resources", "other")[ok],
                                  "matter_id": ids[ok]}))
    ev = pd.concat(rows, ignore_index=True).sort_values(["case_id", "timestamp"])
    return ev.reset_index(drop=True)


def _close_row(fx: pd.DataFrame, mechanism: str = "leader_case_ownership") -> pd.Series:
    return fx.set_index(["mechanism", "outcome"]).loc[(mechanism, "close")]


@pytest.mark.parametrize("hr", [1.0, 2.0])
def test_time_varying_estimate_covers_the_planted_hazard_ratio(hr):
    fx = ck.estimate_lever_effects(_log_with_planted_effect(hr))
    row = _close_row(fx)
    assert row["hr_ci_low"] < hr < row["hr_ci_high"]
    assert row["parameter"] == "duration_factor"
    assert row["estimate"] == pytest.approx(1 / row["hazard_ratio"])
    assert row["ci_low"] == pytest.approx(1 / row["hr_ci_high"])


def test_a_naive_whole_case_comparison_is_biased_where_the_estimate_is_not():
    ev = _log_with_planted_effect(1.0)
    cases = ck.build_case_table(ev)
    ever = cases["case_id"].isin(ev.loc[ev.activity == "leader_case_ownership", "case_id"])
    hard = (cases["category"] == "natural_resources").to_numpy(float)
    naive = cox_fit(np.zeros(len(cases)), cases["duration_days"].to_numpy(float),
                    cases["closed"].to_numpy(bool),
                    np.column_stack([ever.to_numpy(float), hard])).summary()
    assert naive.loc[0, "hr_ci_high"] < 0.8  # immortal time: "leaders slow cases down"
    row = _close_row(ck.estimate_lever_effects(ev, cases=cases))
    assert row["hr_ci_low"] < 1 < row["hr_ci_high"]


@pytest.fixture(scope="module")
def district_and_truth():
    return ck.generate_district(6000, seed=2)


@pytest.fixture(scope="module")
def district(district_and_truth):
    return district_and_truth[0]


@pytest.fixture(scope="module")
def estimated(district):
    return ck.calibrate_baseline(district, estimate_effects=True)


def test_planted_refiling_effects_are_recovered(district_and_truth):
    """The synth plants re-filing multipliers from the time a mechanism happens.

    Leader ownership and mediation act on the matter's next filing: their hazard ratio of time to
    the next filing covers the planted multiplier. The follow-up visit happens days after the
    close and its re-filings only come after it, so its hazard ratio is a weaker read-out of the
    planted probability multiplier (0.6): only its direction is checked.
    """
    events, truth = district_and_truth
    planted = truth["mechanism_effects"]
    fx = ck.estimate_lever_effects(events).set_index(["mechanism", "outcome"])
    for mech in ("mediate", "leader_case_ownership"):
        row = fx.loc[(mech, "refile")]
        want = planted[mech]["refile_probability_multiplier"]
        assert row["hr_ci_low"] < want < row["hr_ci_high"], mech
        assert row["hr_ci_high"] < 1, mech
        assert row["n_cases"] > 50
        assert row["n_events"] > 10
    assert fx.loc[("follow_up_visit", "refile"), "hazard_ratio"] < 1


def test_effects_table_says_why_an_estimate_is_not_used(district):
    fx = ck.estimate_lever_effects(district, max_ci_ratio=1.01)
    assert list(fx.columns[:7]) == ["mechanism", "outcome", "lever", "parameter", "estimate",
                                    "ci_low", "ci_high"]
    assert not fx["usable"].any()
    fitted = fx[np.isfinite(fx["hazard_ratio"])]
    assert fitted["reason"].str.contains("interval too wide|no simulator lever|reported only").all()
    with pytest.raises(CasekitError, match="max_ci_ratio"):
        ck.estimate_lever_effects(district, max_ci_ratio=1.0)


def test_calibration_marks_estimated_and_assumed_rows(estimated):
    t = estimated.assumptions.set_index(["lever", "parameter"])
    row = t.loc[("follow_up_visit_share", "refile_factor")]
    assert row["source"] == "estimated from casekit.synth 1.0.0"
    assert row["ci_low"] < row["value"] < row["ci_high"]
    assert row["n_cases"] > 100
    assumed = t.loc[("special_fund_yuan", "refile_factor")]
    if not str(assumed["source"]).startswith("estimated"):
        assert assumed["value"] == 0.3
        assert assumed["reason"].endswith("assumed")
    # rows no mechanism can inform are untouched
    assert t.loc[("one_stop_center", "on_site_share"), "source"] == "SRC:JIANDE"
    assert estimated.effects is not None
    assert len(estimated.type_effects) > 3
    plain = ck.calibrate_baseline(ck.build_case_table(ck.generate_district(600, seed=2)[0]))
    assert plain.assumptions["source"].str.startswith("estimated").sum() == 0


def test_bands_carry_the_estimates_uncertainty_and_say_so(estimated):
    kw = {"leader_ownership_share": 0.6, "replications": 20, "seed": 3}
    res = sm.simulate_year(estimated, **kw).set_index("metric")
    m = "median_days_to_close_repeat"
    assert not res["low"].equals(res["sim_low"])
    # an uncertain estimate (interval 0.3 to 1.2) widens the band well beyond the noise
    table = estimated.assumptions.copy()
    i = (table["lever"] == "leader_ownership_share") & (table["parameter"] == "duration_factor")
    table.loc[i, ["value", "ci_low", "ci_high", "source"]] = [0.6, 0.3, 1.2, "estimated from x"]
    wide = sm.simulate_year(dataclasses.replace(estimated, assumptions=table), **kw)
    wide = wide.set_index("metric")
    total, noise = wide.loc[m, "high"] - wide.loc[m, "low"], wide.loc[m, "sim_high"] - wide.loc[
        m, "sim_low"]
    assert total > 1.5 * noise
    assert "sampling uncertainty" in res.attrs["band"]
    again = sm.simulate_year(estimated, **kw)
    pd.testing.assert_frame_equal(res.reset_index(), again)
    fixed = sm.simulate_year(estimated, **kw, effect_uncertainty=False)
    assert fixed["low"].equals(fixed["sim_low"])
    assert fixed.set_index("metric").loc[m, "low"] == res.loc[m, "sim_low"]


def test_an_edited_estimate_becomes_an_assumption(estimated):
    res = sm.simulate_year(estimated, replications=2, assumptions=[
        {"lever": "follow_up_visit_share", "parameter": "refile_factor", "value": 0.5}])
    t = pd.DataFrame(res.attrs["assumptions"]).set_index(["lever", "parameter"])
    row = t.loc[("follow_up_visit_share", "refile_factor")]
    assert row["source"] == "edited"
    assert row["reason"].startswith("edited (was estimated")


def test_route_lever_uses_the_estimated_agency_type_effects(estimated):
    hr = {t: np.exp(b) for t, b, _se in estimated.type_effects}
    fast = max(hr, key=hr.get)
    assert hr[fast] > 1
    kw = {"replications": 6, "seed": 1, "effect_uncertainty": False}
    base = sm.simulate_year(estimated, **kw).set_index("metric")
    routed = sm.simulate_year(estimated, route_share=1.0, route_repeat_to=fast, **kw)
    routed = routed.set_index("metric")
    m = "median_days_to_close_repeat"
    assert routed.loc[m, "value"] < base.loc[m, "value"]
    # first filings are not routed: their draws and times are untouched
    assert routed.attrs["route_repeat_to"] == fast
    assert routed.loc["staff_days", "value"] > base.loc["staff_days", "value"]
    with pytest.raises(CasekitError, match="unknown agency type"):
        sm.simulate_year(estimated, route_share=0.5, route_repeat_to="court+nonsense_bureau")
    with pytest.raises(CasekitError, match="no estimated agency-type effects"):
        sm.simulate_year(sm.calibrate_baseline(), route_share=0.5, route_repeat_to="court")


def test_levers_can_be_passed_as_a_mapping(estimated):
    kw = {"replications": 3, "seed": 2}
    a = sm.simulate_year(estimated, leader_ownership_share=0.6, **kw)
    b = sm.simulate_year(estimated, levers={"leader_ownership_share": 0.6}, **kw)
    pd.testing.assert_frame_equal(a, b)
    band = b.set_index("metric").loc[["median_days_to_close_repeat", "repeat_rate",
                                      "on_time_rate"], ["low", "high"]]
    assert (band["low"] <= band["high"]).all()
    with pytest.raises(CasekitError, match="both"):
        sm.simulate_year(estimated, leader_ownership_share=0.5,
                         levers={"leader_ownership_share": 0.6})
    with pytest.raises(CasekitError, match="unknown lever"):
        sm.simulate_year(estimated, levers={"leader_share": 0.6})
