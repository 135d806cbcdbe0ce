"""The what-if bands: effects drawn per replication and the simulation-only band from one pass.

``simulate_year`` follows the drawn-effects run and the effects-fixed run (``sim_low, sim_high``)
over the same common random numbers in one vectorised pass; these tests pin that pass to the
plain runs it stands for (exactly), and the band it gives to an independent discrete-event
reference that draws the same effects (statistically).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from casekit import simulate as sm

COLS = ["value", "low", "high"]


def _uncertain(base: sm.Baseline, lo: float = 0.3, hi: float = 1.2) -> sm.Baseline:
    """The sample baseline with leader ownership's effects 'estimated' with wide intervals."""
    table = sm.ASSUMPTIONS.copy()
    for param, value, ci in (("duration_factor", 0.6, (lo, hi)), ("refile_factor", 0.75,
                                                                  (0.5, 1.1))):
        i = (table["lever"] == "leader_ownership_share") & (table["parameter"] == param)
        table.loc[i, ["value", "ci_low", "ci_high", "source"]] = [value, *ci, "estimated from x"]
    i = (table["lever"] == "follow_up_visit_share") & (table["parameter"] == "refile_factor")
    table.loc[i, ["ci_low", "ci_high", "source"]] = [0.45, 0.8, "estimated from x"]
    return dataclasses.replace(base, assumptions=table,
                               type_effects=(("court", 0.4, 0.15), ("police", -0.3, 0.2)))


@pytest.fixture(scope="module")
def base() -> sm.Baseline:
    return _uncertain(sm._sample_baseline())


@pytest.mark.parametrize("kw", [{"leader_ownership_share": 0.6},
                                {"route_share": 0.5, "route_repeat_to": "court"},
                                {"route_share": 0.5, "route_repeat_to": "court+police",
                                 "mediators": 40, "one_stop_center": 0.5}])
def test_simulation_only_band_is_exactly_the_run_with_effects_fixed(base, kw):
    drawn = sm.simulate_year(base, replications=7, seed=4, **kw)
    fixed = sm.simulate_year(base, replications=7, seed=4, effect_uncertainty=False, **kw)
    np.testing.assert_array_equal(drawn["sim_low"], fixed["low"])
    np.testing.assert_array_equal(drawn["sim_high"], fixed["high"])
    assert not drawn["low"].equals(drawn["sim_low"])  # the drawn band differs ...
    assert "sampling uncertainty" in drawn.attrs["band"]
    np.testing.assert_array_equal(fixed["sim_low"], fixed["low"])  # ... the fixed one does not


def test_each_replication_is_the_plain_run_with_its_own_drawn_effects(base):
    """Vectorised draws = R plain runs, each with its replication's effect sizes as scalars.

    Without mediators, in the warm-up year too (the queue is sized once per run, from the
    point values), replication r of the drawn run equals replication r of a run whose
    assumptions are r's draws; with the calibration's draws (``days_first`` acts on first
    filings: they are followed per variant) and without them (first filings shared).
    """
    R, seed = 5, 9
    base = dataclasses.replace(base, observed={**base.observed, "mediators": 0.0})
    a, table = sm._assumption_dict(None, base.assumptions)
    levers = sm._resolve_levers(base, {"leader_ownership_share": 0.7, "mediators": 0})
    effects = sm._effect_draws(table, R, seed)
    assert set(effects) == {("leader_ownership_share", "duration_factor"),
                            ("leader_ownership_share", "refile_factor"),
                            ("follow_up_visit_share", "refile_factor")}
    calibration = sm._calibration_draws(base, R, seed)
    assert set(calibration) == set(sm._CALIBRATION_EFFECTS)
    for draws in (effects, effects | calibration):
        _check_replications(base, levers, a, sm._crn(base, n_cases=None, replications=R,
                                                     seed=seed), draws)


def _check_replications(base, levers, a, crn, draws):
    res = sm._simulate(base, levers, a, crn, draws=draws)
    point = sm._simulate(base, levers, a, crn)
    for m in sm.METRICS:  # the fixed run of the same pass is the plain point-value run
        np.testing.assert_array_equal(res["fixed"][m], point[m])
    for r in (0, 3):
        plain = sm._simulate(base, levers, {**a, **{k: float(v[r]) for k, v in draws.items()}},
                             crn)
        for m in sm.METRICS:
            assert plain[m][r] == res[m][r], (m, r, sorted(draws))


def test_first_filings_are_shared_by_both_runs(base):
    """No drawn effect acts on a first filing's time: those filings are the same in both."""
    kw = {"replications": 3, "seed": 5, "leader_ownership_share": 0.0, "follow_up_visit_share": 0}
    # the warm-up year runs at the observed levers: none there either; and no calibration draws
    base = dataclasses.replace(base, observed={**base.observed, **{k: 0.0 for k in kw if
                                                                    k.endswith("share")}},
                               calibration_se={})
    drawn = sm.simulate_year(base, **kw).set_index("metric")
    fixed = sm.simulate_year(base, effect_uncertainty=False, **kw).set_index("metric")
    # nothing drawn acts (no owned filings, no follow-up visits): the two runs coincide
    pd.testing.assert_series_equal(drawn["value"], fixed["value"])


@pytest.mark.slow
def test_band_with_drawn_effects_agrees_with_a_discrete_event_reference(base):
    """Median and spread over replications against SimPy runs that draw the same effects.

    The reference draws each replication's effect sizes from the same log-normal (the 95%
    interval as in the table) and runs the plain discrete-event model with them; the fast
    model's 200 replications must agree with its 72 within their Monte Carlo error, and the
    spread must be far wider than the simulation noise alone (so the check can fail).
    """
    pytest.importorskip("simpy")
    from test_simulate_reference import simpy_year

    # no mediators: at this small volume the Erlang-C queue and SimPy's FIFO queue differ by a
    # few percent (test_simulate_reference checks them at 6,000 filings)
    # 72 reference replications: with 24 the reference median's own error (about 5%, measured
    # over reference seeds: 23.2, 25.0, 25.7 days) left too little of the 8% for the fast model
    n_cases, reps, kw = 1000, 72, {"leader_ownership_share": 0.6, "mediators": 0}
    scale = n_cases / base.filings_per_year
    levers = sm._resolve_levers(base, kw, scale)
    a, table = sm._assumption_dict(None, base.assumptions)
    rows = sm._estimated_rows(table)
    rng = np.random.default_rng(31)
    ref = []
    for r in range(reps):
        drawn = {key: float(np.clip(v * math.exp(sd * rng.standard_normal()), lo, hi))
                 for key, v, sd, lo, hi in rows}
        ref.append(simpy_year(base, levers, n_cases=n_cases, seed=500 + r, a={**a, **drawn})[
            "median_days_to_close_repeat"])
    crn = sm._crn(base, n_cases=n_cases, replications=200, seed=77)
    res = sm._simulate(base, levers, a, crn, draws=sm._effect_draws(table, 200, 77))
    fast = res["median_days_to_close_repeat"]
    noise = res["fixed"]["median_days_to_close_repeat"]
    assert abs(np.median(fast) / np.median(ref) - 1) < 0.08, (np.median(fast), np.median(ref))
    sd_ratio = np.std(fast, ddof=1) / np.std(ref, ddof=1)
    assert 0.65 < sd_ratio < 1.5, (sd_ratio, np.std(fast, ddof=1), np.std(ref, ddof=1))
    assert np.std(fast, ddof=1) > 1.5 * np.std(noise, ddof=1)


@pytest.mark.parametrize("competing", [False, True])
def test_first_filings_followed_per_variant_give_the_same_runs(base, monkeypatch, competing):
    """The general path (first filings once per variant, for effects acting on their times)
    gives exactly the shared path's result when the drawn effects do not act on them (with
    competing exits too: their rule reads each variant's re-filing threshold)."""
    kw = {"replications": 4, "seed": 6, "leader_ownership_share": 0.5, "mediators": 30}
    cdf = np.linspace(0, 0.4, 200, dtype=np.float32)[None, :].repeat(2, 0) if competing else None
    # days_first, drawn, is not shared
    base = dataclasses.replace(base, calibration_se={}, competing_cdf=cdf)
    shared = sm.simulate_year(base, **kw)
    monkeypatch.setattr(sm, "_FIRST_FILING_EFFECTS",
                        frozenset({("follow_up_visit_share", "refile_factor")}))
    pd.testing.assert_frame_equal(sm.simulate_year(base, **kw), shared)


@pytest.mark.parametrize("slow_closing", [False, True])
@pytest.mark.parametrize("kw", [
    {"leader_ownership_share": 0.6, "mediators": 40, "joint_conference_interval_days": 20},
    {"route_share": 0.7, "route_repeat_to": "court", "leader_ownership_share": 0.3},
])
def test_warm_up_filings_timed_only_where_they_matter_give_the_full_result(
        base, monkeypatch, kw, slow_closing):
    """The warm-up year's filings get their times only if they re-file or may still be open at
    the year's end (``_warm_step``, with a bound on the levers' times): the result is exactly
    the full path's, also when many filings take longer than a year (the bound then matters:
    the backlog counts warm-up filings). With estimated effects (first filings' times per
    variant), with the route's drawn hazard ratios, and without any draws."""
    if slow_closing:  # medians near a year: warm-up filings are open at the end of the year
        base = dataclasses.replace(base, mu=base.mu + 2.0)
    full_step = sm._step

    def full(run, base_, crn, f, arr, tally, shared):  # the warm-up filings as any others
        return full_step(run, base_, crn, dataclasses.replace(f, warm=False), arr, tally, shared)

    for uncertain in (True, False):
        args = {"replications": 4, "seed": 12, "effect_uncertainty": uncertain, **kw}
        fast = sm.simulate_year(base, **args)
        with monkeypatch.context() as m:
            m.setattr(sm, "_warm_step", full)
            pd.testing.assert_frame_equal(sm.simulate_year(base, **args), fast)
        if slow_closing:
            assert fast.set_index("metric").loc["backlog_end", "value"] > 0
