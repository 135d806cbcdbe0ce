"""The what-if forecast checked against a planted policy change (issue #13 item 4; slow, CI runs it).

Worlds: ``casekit.synth.generate_district`` over two years (2023, 2024) with the policy change
``{"date": "2024-01-01", "leader_ownership_share": 0.6}``: from the start of year 2 a leader
owns 60% of the repeat filings instead of about 20%, and ownership has planted effects from the
time it happens (``truth["mechanism_effects"]["leader_case_ownership"]``).

Per seed (``ck.simulate.forecast_check``, the one home of the check, also drawn in tutorial 05):
the simulator is calibrated on the year before the change only (the events before 2024-01-01,
observation end there), ``ck.calibrate_baseline(year_1, estimate_effects=True)``, then
``ck.simulate_year(base, leader_ownership_share=0.6)`` forecasts year 2. Its 90% band is
compared with what the log shows for the filings registered in year 2 (the whole two-year log,
so year-2 filings are followed to 2025-01-01), with the definitions of the simulator's metrics
(``ck.simulate.observed_metrics``):

* ``median_days_to_close_repeat``: Kaplan-Meier median time to close of the repeat filings
  (open cases and competing exits censored, as the calibration's target);
* ``repeat_rate``: share of the filings with ``repeat_ordinal >= 2``;
* ``on_time_rate``: share of the filings closed within 60 days of registration, among those
  registered at least 60 days before the observation end (so every one is seen for 60 days).

The same is run with the default assumed effects (``estimate_effects=False``) for comparison;
both coverages are printed (the closing note of the change quotes them).
"""

from __future__ import annotations

import inspect

import pandas as pd
import pytest

import casekit as ck

pytestmark = pytest.mark.slow
if "estimate_effects" not in inspect.signature(ck.calibrate_baseline).parameters:
    pytest.skip("needs calibrate_baseline(estimate_effects=) (issue #13 item 1)",
                allow_module_level=True)

N_CASES = 12_000  # two years: about 6,000 filings a year
SEEDS = range(20)
#: The 90% band is the 5%-95% range of the replications. From 10 (simulate_year's default) a
#: perfect model's band covers a new year only ~74% of the time (expected coverage between the
#: interpolated order statistics: (9.55 - 1.45) / 11); from 40 about 86%, so the check measures
#: the model, not the band's own estimation noise.
REPLICATIONS = 40
CHANGE = pd.Timestamp("2024-01-01")
END = pd.Timestamp("2025-01-01")
POLICY = {"date": CHANGE.date().isoformat(), "leader_ownership_share": 0.6}
METRICS = ck.simulate.FORECAST_METRICS


@pytest.fixture(scope="module")
def forecasts() -> pd.DataFrame:
    rows = []
    for seed in SEEDS:
        assert ck.simulate.PLANTED_CHANGE == POLICY
        events, truth = ck.simulate.planted_change_district(N_CASES, seed=seed)
        assert truth["policy_change"]["after"] == 0.6
        for estimated in (True, False):
            chk = ck.simulate.check_planted_change(events, estimate_effects=estimated,
                                                   replications=REPLICATIONS, seed=seed)
            assert (chk.attrs["change"], chk.attrs["end"]) == (CHANGE.isoformat(),
                                                                END.isoformat())
            rows.append(chk.assign(seed=seed, effects=chk.attrs["effects"]))
    return pd.concat(rows, ignore_index=True)


def _coverage(forecasts: pd.DataFrame, effects: str) -> pd.Series:
    return forecasts[forecasts["effects"] == effects].groupby("metric")["covered"].mean()


def test_print_both_coverages(forecasts, capsys) -> None:
    table = forecasts.groupby(["effects", "metric"]).agg(
        coverage=("covered", "mean"), observed=("observed", "mean"), low=("low", "mean"),
        forecast=("value", "mean"), high=("high", "mean"))
    joint = forecasts.groupby(["effects", "seed"])["covered"].all().groupby("effects").mean()
    with capsys.disabled():
        print(f"\nforecast of year 2 (leader ownership 0.2 -> 0.6), 90% band coverage over "
              f"{len(SEEDS)} seeds:\n{table.to_string(float_format='%.3f')}\n"
              f"all three covered: {joint.to_dict()}")
    assert set(table.index.get_level_values("effects")) == {"estimated", "assumed"}
    assert forecasts["observed"].notna().all()


def test_observed_metrics_use_the_simulators_definitions() -> None:
    cases = pd.DataFrame({
        "opened_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-12-01",
                                     "2023-06-01"]),
        "repeat_ordinal": [1, 2, 2, 1, 2], "closed": [True, True, False, True, True],
        "duration_days": [10.0, 30.0, 200.0, 5.0, 1.0]})
    obs = ck.simulate.observed_metrics(cases, CHANGE, END)
    assert obs["repeat_rate"] == pytest.approx(2 / 4)
    assert obs["on_time_rate"] == pytest.approx(2 / 3)  # 2024-12-01 is not seen for 60 days
    assert obs["median_days_to_close_repeat"] == pytest.approx(30.0)


def test_estimated_effects_cover_more_often_than_assumed_ones_overall(forecasts) -> None:
    # what estimating the effects is for; measured 2.70 vs 1.70 (sum of the three coverages)
    est, assumed = _coverage(forecasts, "estimated"), _coverage(forecasts, "assumed")
    assert est.sum() > assumed.sum()


#: Measured on 20 seeds (casekit h4-forecast, 2026-12-01, 40 replications): the 90% band with
#: estimated effects covered year 2 in 90% (median days to close of repeats), 100% (repeat
#: rate) and 80% (on-time rate) of the seeds (all three 70%); with assumed effects 50%, 50%,
#: 70% (all three 20%: their band has no calibration uncertainty drawn). Before
#: (h-planted + h-evidence, 10 replications): 65/45/20 estimated, 60/10/25 assumed. What changed:
#: competing exits are not closes and the spread of time to close is matched to the log's
#: on-time share (year-1 baseline run 0.716 -> 0.733 vs 0.730 observed), the scenario acts from
#: the first day of the forecast year (the warm-up year runs at the observed levers), the band
#: carries the calibration's uncertainty, and 40 replications estimate the band.
#: The same model on the fast run path (h4-port, other common random numbers; mean band and
#: forecast within 1% of h4-forecast's): estimated 80/95/95% (all three 75%), assumed
#: 55/70/75% (all three 30%); the repeat median's 80% sits on this test's threshold.


@pytest.mark.parametrize("metric", METRICS)
def test_estimated_band_covers_year_two_in_80_percent_of_seeds(forecasts, metric) -> None:
    assert _coverage(forecasts, "estimated")[metric] >= 0.8
