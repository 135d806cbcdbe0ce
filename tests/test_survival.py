"""Tests of casekit.survival: numpy statistics equal lifelines', the ranking contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test, multivariate_logrank_test
from lifelines.utils import median_survival_times, restricted_mean_survival_time

import casekit as ck
from casekit import survival as sv


def _ph_cases(n: int, seed: int, rates: dict[str, float], *, censor_at: float = 90.0,
              day_grid: bool = False, covariate: bool = False) -> pd.DataFrame:
    """A small proportional-hazards simulator: exponential times, administrative censoring."""
    rng = np.random.default_rng(seed)
    names = list(rates)
    pattern = rng.choice(names, n)
    rate = np.array([rates[p] for p in pattern]) / 20.0
    cat = rng.choice(["x", "y"], n)
    if covariate:
        rate = rate * np.where(cat == "y", 2.0, 1.0)
    t = rng.exponential(1 / rate)
    entry = rng.uniform(0, censor_at, n)  # staggered entry: follow-up varies
    follow = censor_at - entry + 30
    if day_grid:
        t = np.ceil(t)
    closed = t <= follow
    return pd.DataFrame({
        "pattern": pattern,
        "duration_days": np.where(closed, t, follow),
        "closed": closed,
        "category": cat,
        "repeat_ordinal": 2,
    })


# ------------------------------------------------------------------ KM: numpy == lifelines
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("day_grid", [False, True])
def test_numpy_km_equals_lifelines_medians_cis_and_rmst(seed: int, day_grid: bool) -> None:
    cases = _ph_cases(300, seed, {"a": 1.0, "b": 0.5}, day_grid=day_grid)
    for _g, grp in cases.groupby("pattern"):
        kmf = KaplanMeierFitter().fit(grp["duration_days"], grp["closed"])
        km = sv._km(grp["duration_days"].to_numpy(), grp["closed"].to_numpy())
        np.testing.assert_array_equal(km.timeline, kmf.survival_function_.index.to_numpy())
        np.testing.assert_array_equal(km.survival, kmf.survival_function_.iloc[:, 0].to_numpy())
        ci = kmf.confidence_interval_.to_numpy()
        np.testing.assert_allclose(km.lower, ci[:, 0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(km.upper, ci[:, 1], rtol=0, atol=1e-12)
        assert km.median == kmf.median_survival_time_
        lo, hi = median_survival_times(kmf.confidence_interval_).iloc[0]
        assert km.median_ci == (lo, hi)
        h = 40.0
        assert km.rmst(h) == pytest.approx(restricted_mean_survival_time(kmf, t=h), rel=1e-10)


def test_plateau_at_exactly_one_half_resolves_like_lifelines() -> None:
    # 4 cases, 2 close at day 5, then a plateau at S = 0.5 until day 9: lifelines' median is
    # the first time S <= 0.5, here day 5 (S is exactly 0.5 in floating point)
    d = np.array([5.0, 5.0, 9.0, 12.0])
    e = np.array([True, True, True, False])
    km = sv._km(d, e)
    kmf = KaplanMeierFitter().fit(d, e)
    assert km.median == kmf.median_survival_time_ == 5.0
    # a plateau reached by a product that is not exact in floating point (6 -> 3 over steps)
    d2 = np.array([1.0, 2.0, 3.0, 7.0, 8.0, 9.0])
    e2 = np.ones(6, bool)
    assert sv._km(d2, e2).median == KaplanMeierFitter().fit(d2, e2).median_survival_time_


def test_tiny_log_km_median_computed_by_hand() -> None:
    # durations 2,3+,4,6,7+,8 (+ = censored). By hand: S(2)=5/6; at 4 risk set {4,6,7,8}: S=5/6*3/4
    # =0.625; at 6 risk set {6,7,8}: S=0.625*2/3=0.4167 <= 0.5 -> median 6. At 8: S=0.
    cases = pd.DataFrame({
        "pattern": "p",
        "duration_days": [2.0, 3.0, 4.0, 6.0, 7.0, 8.0],
        "closed": [True, False, True, True, False, True],
    })
    tab = ck.median_table(cases)
    assert tab.loc[0, "median_days"] == 6.0
    # the naive closed-only median would be median(2, 4, 6, 8) = 5
    assert cases.loc[cases["closed"], "duration_days"].median() == 5.0
    # RMST at the last time 8: 1*2 + 5/6*2 + 0.625*2 + 0.41667*2
    expected = 2 + 5 / 6 * 2 + 0.625 * 2 + (0.625 * 2 / 3) * 2
    assert tab.loc[0, "rmst_days"] == pytest.approx(expected)


def test_fit_time_to_close_returns_lifelines_fitters_per_pattern() -> None:
    cases = _ph_cases(200, 3, {"a": 1.0, "b": 0.5, "c": 2.0})
    fitters = ck.fit_time_to_close(cases)
    assert set(fitters) == {"a", "b", "c"}
    assert all(isinstance(f, KaplanMeierFitter) for f in fitters.values())
    tab = ck.median_table(cases).set_index("group")
    for g, f in fitters.items():
        assert tab.loc[g, "median_days"] == f.median_survival_time_


def test_naive_closed_only_median_is_biased_under_heavy_censoring_and_km_is_not() -> None:
    rng = np.random.default_rng(11)
    n = 4000
    t = rng.exponential(60.0, n)  # true median 60 ln 2 = 41.6 days
    follow = rng.uniform(5, 70, n)  # heavy censoring
    closed = t <= follow
    assert closed.mean() < 0.6
    cases = pd.DataFrame({"pattern": "p", "duration_days": np.minimum(t, follow), "closed": closed})
    true_median = 60 * np.log(2)
    km_median = ck.median_table(cases).loc[0, "median_days"]
    naive = cases.loc[cases["closed"], "duration_days"].median()
    assert abs(km_median - true_median) / true_median < 0.1
    assert naive < 0.75 * true_median


# ------------------------------------------------------------------ log-rank
def test_numpy_logrank_matches_lifelines() -> None:
    cases = _ph_cases(400, 5, {"a": 1.0, "b": 0.7, "c": 1.3}, day_grid=True)
    d = cases["duration_days"].to_numpy()
    e = cases["closed"].to_numpy()
    g = cases["pattern"].to_numpy()
    a, b = g == "a", g == "b"
    chi2, p = sv._logrank_two(d[a], e[a], d[b], e[b])
    ref = logrank_test(d[a], d[b], e[a], e[b])
    assert chi2 == pytest.approx(ref.test_statistic, rel=1e-9)
    assert p == pytest.approx(ref.p_value, rel=1e-7)
    chi2m, df, pm = sv._logrank_multi(d, e, g)
    refm = multivariate_logrank_test(d, g, e)
    assert df == 2
    assert chi2m == pytest.approx(refm.test_statistic, rel=1e-9)
    assert pm == pytest.approx(refm.p_value, rel=1e-7)


def test_holm_correction_by_hand() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.5])
    # sorted 0.01*4=0.04, 0.03*3=0.09, 0.04*2=0.08 -> monotone 0.09, 0.5*1=0.5
    np.testing.assert_allclose(sv._holm(p), [0.04, 0.09, 0.09, 0.5])


def test_compare_patterns_is_tidy_with_holm_column() -> None:
    cases = _ph_cases(300, 6, {"a": 1.0, "b": 0.5, "c": 2.0})
    res = ck.compare_patterns(cases)
    assert list(res["test"]) == ["multivariate"] + ["pairwise"] * 3
    pw = res[res["test"] == "pairwise"]
    assert (pw["p_value_holm"] >= pw["p_value"]).all()
    assert res.attrs["observation_end"] is None or "observation_end" in res


# ------------------------------------------------------------------ Cox: numpy == lifelines
@pytest.mark.parametrize("day_grid", [False, True])
def test_numpy_efron_cox_equals_lifelines(day_grid: bool) -> None:
    cases = _ph_cases(500, 7, {"a": 1.0, "b": 0.6, "c": 1.8}, day_grid=day_grid, covariate=True)
    ours = ck.fit_cox(cases, covariates=("category",), check_ph=False, min_cases=10)
    ref = ck.fit_cox(cases, covariates=("category",), check_ph=False, min_cases=10,
                     engine="lifelines")
    # lifelines stops at a step norm of 1e-7, we at 1e-10: ours is at least as high a maximum
    assert ours.attrs["log_likelihood"] >= ref.attrs["log_likelihood"] - 1e-9
    np.testing.assert_allclose(ours["coef"], ref["coef"], atol=5e-6)
    np.testing.assert_allclose(ours["se"], ref["se"], rtol=1e-5)
    np.testing.assert_allclose(ours["p_value"], ref["p_value"], rtol=1e-4, atol=1e-12)
    # and directly against a CoxPHFitter on the same dummies
    df = pd.DataFrame({
        "T": cases["duration_days"], "E": cases["closed"],
        "b": (cases["pattern"] == "b").astype(float), "c": (cases["pattern"] == "c").astype(float),
        "y": (cases["category"] == ours.loc[ours["variable"] == "category", "level"].item())
        .astype(float),
    })
    ref_cph = CoxPHFitter().fit(df, "T", "E")
    assert ours.attrs["reference"] == cases["pattern"].value_counts().index[0]
    assert ours.attrs["log_likelihood"] == pytest.approx(ref_cph.log_likelihood_, rel=1e-8)
    assert ours.loc[ours["variable"] == "category", "coef"].item() == pytest.approx(ref_cph.params_["y"], abs=5e-6)


def test_cox_recovers_planted_hazard_ratio_and_flags_ph_violation() -> None:
    cases = _ph_cases(3000, 8, {"a": 1.0, "b": 2.0})
    res = ck.fit_cox(cases, covariates=(), reference="a", check_ph=False)
    row = res.set_index("level").loc["b"]
    assert row["hr_ci_low"] < 2.0 < row["hr_ci_high"]
    # non-proportional hazards: pattern b fast early, slow late (crossing curves)
    rng = np.random.default_rng(9)
    n = 3000
    pat = rng.choice(["a", "b"], n)
    t = np.where(pat == "a", rng.exponential(20, n), rng.weibull(3.0, n) * 22)
    bad = pd.DataFrame({"pattern": pat, "duration_days": t, "closed": True})
    with pytest.warns(sv.ProportionalHazardsWarning):
        ck.fit_cox(bad, covariates=(), reference="a")


# ------------------------------------------------------------------ ranking contract
# A case table alone carries no join times: these run the whole-case method, exact for case
# tables built like these (one pattern from the start); casekit.ranking's own tests cover the
# time-varying method.
def _rank_wc(cases: pd.DataFrame, **kw) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ck.ranking.WholeCasePatternWarning)
        return ck.rank_collaborations(cases, method="whole-case", **kw)


def test_ranking_has_contract_columns_fastest_first_and_reports_excluded() -> None:
    cases = _ph_cases(1500, 10, {"a": 1.0, "b": 3.0, "c": 0.4})
    small = pd.DataFrame({"pattern": "tiny", "duration_days": [3.0, 4.0], "closed": True,
                          "category": "x", "repeat_ordinal": 2})
    cases = pd.concat([cases, small], ignore_index=True)
    cases.attrs["observation_end"] = pd.Timestamp("2025-01-01")
    r = _rank_wc(cases, min_cases=30)
    contract = ["rank", "pattern", "n_cases", "n_closed", "median_days", "median_ci_low",
                "median_ci_high", "hazard_ratio", "hr_ci_low", "hr_ci_high", "p_value"]
    assert list(r.columns[: len(contract)]) == contract
    assert list(r["pattern"]) == ["b", "a", "c"]
    assert (r["ranked_by"] == "adjusted_hazard_ratio").all()
    ex = ck.excluded_patterns(r)
    assert list(ex["pattern"]) == ["tiny"]
    assert int(ex["n_cases"].iloc[0]) == 2
    assert (r["observation_end"] == pd.Timestamp("2025-01-01")).all()
    assert r.loc[r["is_reference"], "hazard_ratio"].item() == 1.0
    med = _rank_wc(cases, min_cases=30, adjust=False)
    assert (med["ranked_by"] == "median").all()
    assert med["median_days"].is_monotonic_increasing


def test_ranking_repeat_only_uses_repeat_filings() -> None:
    cases = _ph_cases(400, 12, {"a": 1.0, "b": 2.0})
    cases["repeat_ordinal"] = np.where(np.arange(len(cases)) % 2 == 0, 1, 2)
    r = _rank_wc(cases, min_cases=10)
    assert r["n_cases"].sum() == (cases["repeat_ordinal"] >= 2).sum()
    r_all = _rank_wc(cases, min_cases=10, repeat_only=False)
    assert r_all["n_cases"].sum() == len(cases)
    with pytest.raises(ck.CasekitError, match="no repeat filings"):
        _rank_wc(cases.assign(repeat_ordinal=1))


def test_adjusted_ranking_removes_category_confounding() -> None:
    # pattern "fast" truly closes 1.5x faster but handles mostly the slow category
    rng = np.random.default_rng(13)
    n = 6000
    cat = rng.choice(["easy", "hard"], n)
    p_fast = np.where(cat == "hard", 0.8, 0.1)
    pattern = np.where(rng.random(n) < p_fast, "fast", "plain")
    rate = np.where(pattern == "fast", 1.5, 1.0) * np.where(cat == "hard", 0.2, 1.0) / 10
    t = rng.exponential(1 / rate)
    cases = pd.DataFrame({"pattern": pattern, "category": cat, "duration_days": np.minimum(t, 300),
                          "closed": t < 300, "repeat_ordinal": 2})
    adjusted = _rank_wc(cases)
    naive = _rank_wc(cases, adjust=False)
    assert adjusted["pattern"].iloc[0] == "fast"
    assert naive["pattern"].iloc[0] == "plain"


def test_ranking_falls_back_to_median_with_one_pattern() -> None:
    cases = _ph_cases(100, 14, {"a": 1.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = _rank_wc(cases)
    assert r["ranked_by"].item() == "median"
    assert np.isnan(r["hazard_ratio"].item())


def test_missing_outcome_column_is_a_readable_error() -> None:
    with pytest.raises(ck.CasekitError, match="settle_days"):
        ck.median_table(pd.DataFrame({"pattern": ["a"], "duration_days": [1.0],
                                      "closed": [True]}), outcome="settle")


# ------------------------------------------------------------------ the rank command
def test_rank_cli_writes_contract_and_excluded_file_without_pii(tmp_path, monkeypatch, capsys):
    import re

    from independent_district import COLUMNS, make_independent_district

    from casekit.cli import main

    monkeypatch.setenv("CASEKIT_PSEUDONYM_KEY", "test-key-not-secret")
    path = tmp_path / "district.csv"
    make_independent_district(path, n_petitioners=700, seed=3)
    out = tmp_path / "r.csv"
    code = main(["rank", str(path), "--columns", COLUMNS, "--repeat-only", "--min-cases", "20",
                 "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "observation_end: 2024-06-" in captured.out
    text = out.read_text(encoding="utf-8")
    assert not re.search(r"(?<!\d)\d{17}[\dXx](?!\d)", text)
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", text)
    ranking = pd.read_csv(out)
    assert list(ranking.columns[:11]) == [
        "rank", "pattern", "n_cases", "n_closed", "median_days", "median_ci_low",
        "median_ci_high", "hazard_ratio", "hr_ci_low", "hr_ci_high", "p_value"]
    assert ranking["rank"].tolist() == list(range(1, len(ranking) + 1))
    assert (ranking["n_cases"] >= 20).all()
    excluded = pd.read_csv(tmp_path / "r.excluded.csv")
    assert list(excluded.columns) == ["pattern", "n_cases", "n_closed", "reason"]
    assert (excluded["n_cases"] < 20).all() | excluded["reason"].str.contains("closures").all()


def test_rank_cli_unusable_input_is_one_line_exit_2(tmp_path, capsys):
    from casekit.cli import main

    bad = tmp_path / "empty.csv"
    bad.write_text("", encoding="utf-8")
    code = main(["rank", str(bad), "--out", str(tmp_path / "r.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "casekit rank: error" in err


def test_ph_check_equals_lifelines_proportional_hazard_test() -> None:
    from lifelines.statistics import proportional_hazard_test

    rng = np.random.default_rng(9)
    n = 600
    pat = rng.choice(["a", "b", "c"], n)
    t = np.where(pat == "a", rng.exponential(20, n),
                 np.where(pat == "b", rng.weibull(2.0, n) * 22, rng.exponential(15, n)))
    cases = pd.DataFrame({"pattern": pat, "duration_days": t, "closed": rng.random(n) < 0.85})
    with pytest.warns(sv.ProportionalHazardsWarning, match=r"pattern\[b\]"):
        ours = ck.fit_cox(cases, covariates=(), reference="a", min_cases=5).set_index("level")
    df = pd.DataFrame({"T": t, "E": cases["closed"], "b": (pat == "b") * 1.0,
                       "c": (pat == "c") * 1.0})
    ref = proportional_hazard_test(CoxPHFitter().fit(df, "T", "E"), df, time_transform="rank")
    p = ref.summary["p"]
    assert ours.loc["b", "ph_p_value"] == pytest.approx(p["b"], rel=1e-4)
    assert ours.loc["c", "ph_p_value"] == pytest.approx(p["c"], rel=1e-4)


def test_cox_results_hold_plain_attrs_merge_pickle_and_return_the_fit() -> None:
    import pickle

    from casekit.engine import CoxResult

    cases = _ph_cases(300, 6, {"a": 1.0, "b": 0.5, "c": 2.0}).copy()
    cases.loc[cases.index[:5], "pattern"] = "rare"
    res, fit = ck.fit_cox(cases, covariates=(), reference="a", min_cases=10, check_ph=False,
                          return_fit=True)
    assert isinstance(fit, CoxResult)
    np.testing.assert_array_equal(fit.beta, res["coef"].to_numpy())
    for key, value in res.attrs.items():
        assert isinstance(value, (str, int, float, bool, pd.Timestamp, type(None))), key
    ex = ck.excluded_patterns(res)
    assert ex.to_dict("list") == {"pattern": ["rare"], "n_cases": [5]}
    other = ck.fit_cox(cases, covariates=(), reference="b", min_cases=10, check_ph=False)
    merged = res.merge(other, on="term")  # DataFrames in attrs made this raise on pandas 3
    assert len(merged) >= 1
    back = pickle.loads(pickle.dumps(res))
    pd.testing.assert_frame_equal(back, res)
    assert back.attrs == res.attrs


def test_cases_of_unknown_duration_are_left_out_as_the_ranking_leaves_them_out() -> None:
    # a case open before the log starts, with no opening time: its duration is not known
    rng = np.random.default_rng(7)
    n = 200
    cases = pd.DataFrame({"pattern": np.repeat(["a", "b"], n // 2),
                          "duration_days": rng.exponential(10, n),
                          "closed": rng.random(n) < 0.8, "duration_known": True})
    cases.loc[[0, 1, 150], "duration_known"] = False
    cases.loc[[0, 1, 150], "duration_days"] = 400.0  # what a wrong clock would give
    known = cases[cases["duration_known"]]
    med = ck.median_table(cases).set_index("group")
    assert med["n_cases"].to_dict() == {"a": 98, "b": 99}
    pd.testing.assert_frame_equal(ck.median_table(cases), ck.median_table(known))
    pd.testing.assert_frame_equal(ck.compare_patterns(cases), ck.compare_patterns(known))
    fitted = ck.fit_time_to_close(cases)
    assert {k: len(f.durations) for k, f in fitted.items()} == {"a": 98, "b": 99}
    cox = ck.fit_cox(cases, covariates=(), reference="a", check_ph=False)
    assert cox.attrs["n_cases"] == 197
