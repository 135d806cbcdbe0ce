"""The numpy survival engine against lifelines, against its own invariances, and against truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import (
    AalenJohansenFitter,
    CoxPHFitter,
    CoxTimeVaryingFitter,
    KaplanMeierFitter,
)

from casekit import engine as eg
from casekit._utils import CasekitError

TIGHT = {"precision": 1e-12}


# ------------------------------------------------------------------ data


def time_varying_rows(
    n: int, seed: int, *, ties: bool = True, entry_share: float = 0.2, cluster_size: int = 1,
    frailty_sd: float = 0.0, shared_z: bool = False,
) -> pd.DataFrame:
    """Cases gain an agency (``a`` turns 1) at a random time; the agency doubles the hazard.

    Covariate ``z`` is fixed; some cases enter late (delayed entry); optionally cases share a
    cluster with a log-normal frailty (and, with ``shared_z``, its ``z``) so that robust and
    model-based errors differ.
    """
    rng = np.random.default_rng(seed)
    cl = np.arange(n) // cluster_size
    frail = np.exp(frailty_sd * rng.normal(size=cl.max() + 1))[cl]
    z = rng.normal(size=cl.max() + 1)[cl] if shared_z else rng.normal(size=n)
    join = rng.exponential(3, n)
    base = 0.4 * np.exp(0.4 * z) * frail
    t1 = rng.exponential(1 / base)
    t = np.where(t1 < join, t1, join + rng.exponential(1 / (2 * base)))
    cens = rng.uniform(2, 12, n)
    entry = np.where(rng.random(n) < entry_share, rng.uniform(0, 1, n), 0.0)
    stop = np.minimum(t, cens)
    ev = t <= cens
    if ties:
        stop, join = np.ceil(stop * 4) / 4, np.ceil(join * 4) / 4
    rows = []
    for i in np.flatnonzero(stop > entry):
        if entry[i] < join[i] < stop[i]:
            rows.append((i, cl[i], entry[i], join[i], False, z[i], 0.0))
            rows.append((i, cl[i], join[i], stop[i], ev[i], z[i], 1.0))
        else:
            rows.append((i, cl[i], entry[i], stop[i], ev[i], z[i], float(join[i] <= entry[i])))
    return pd.DataFrame(rows, columns=["id", "cluster", "start", "stop", "E", "z", "a"])


def fixed_cases(n: int, seed: int, *, ties: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.random(n) < 0.4, rng.random(n) < 0.3])
    t = rng.exponential(1 / np.exp(X @ np.array([0.5, -0.4, 0.7])))
    c = rng.exponential(2.5, n)
    T = np.minimum(t, c)
    if ties:
        T = np.ceil(T * 8) / 8
    return pd.DataFrame(X, columns=["x1", "x2", "x3"]).assign(
        T=T, E=t <= c, cl=rng.integers(0, n // 3, n), s=rng.integers(0, 3, n),
        w=rng.uniform(0.5, 2.0, n),
    )


def fit_rows(df: pd.DataFrame, **kw) -> eg.CoxResult:
    return eg.cox_fit(df["start"], df["stop"], df["E"], df[["z", "a"]].to_numpy(), **kw)


# ------------------------------------------------------------------ Cox against lifelines


@pytest.mark.parametrize("ties", [True, False])
def test_time_varying_cox_equals_lifelines_coxtimevaryingfitter(ties: bool) -> None:
    df = time_varying_rows(600, seed=1, ties=ties)
    ours = fit_rows(df)
    ref = CoxTimeVaryingFitter().fit(df.drop(columns="cluster"), id_col="id", event_col="E",
                                     start_col="start", stop_col="stop", fit_options=TIGHT)
    assert ours.converged
    np.testing.assert_allclose(ours.beta, ref.params_[["z", "a"]].to_numpy(), atol=1e-6)
    np.testing.assert_allclose(ours.se, ref.standard_errors_[["z", "a"]].to_numpy(), rtol=1e-6)
    assert ours.loglik == pytest.approx(ref.log_likelihood_, abs=1e-8)
    assert ours.n_events == int(df["E"].sum()) and ours.n_obs == len(df)


def test_cluster_sandwich_equals_lifelines_robust_cluster_col() -> None:
    df = fixed_cases(500, seed=2)
    X = df[["x1", "x2", "x3"]].to_numpy()
    ours = eg.cox_fit(np.zeros(len(df)), df["T"], df["E"], X, cluster=df["cl"])
    ref = CoxPHFitter().fit(df[["x1", "x2", "x3", "T", "E", "cl"]], "T", "E", cluster_col="cl",
                            robust=True, fit_options=TIGHT)
    np.testing.assert_allclose(ours.beta, ref.params_.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(ours.robust_se, ref.standard_errors_.to_numpy(), rtol=1e-5)
    assert ours.n_clusters == df["cl"].nunique()
    # one cluster per case: Lin-Wei's robust variance, as CoxPHFitter(robust=True)
    per_case = eg.cox_fit(np.zeros(len(df)), df["T"], df["E"], X, cluster=np.arange(len(df)))
    ref_case = CoxPHFitter().fit(df[["x1", "x2", "x3", "T", "E"]], "T", "E", robust=True,
                                 fit_options=TIGHT)
    np.testing.assert_allclose(per_case.robust_se, ref_case.standard_errors_.to_numpy(),
                               rtol=1e-5)


def test_strata_and_weights_equal_lifelines() -> None:
    df = fixed_cases(600, seed=3, ties=True)
    X = df[["x1", "x2", "x3"]].to_numpy()
    ours = eg.cox_fit(np.zeros(len(df)), df["T"], df["E"], X, strata=df["s"])
    ref = CoxPHFitter(strata=["s"]).fit(df[["x1", "x2", "x3", "T", "E", "s"]], "T", "E",
                                         fit_options=TIGHT)
    np.testing.assert_allclose(ours.beta, ref.params_.to_numpy(), atol=1e-8)
    np.testing.assert_allclose(ours.se, ref.standard_errors_.to_numpy(), rtol=1e-6)
    nt = fixed_cases(600, seed=4)  # weights: lifelines' Efron weighting matches R's without ties
    Xw = nt[["x1", "x2", "x3"]].to_numpy()
    ours_w = eg.cox_fit(np.zeros(len(nt)), nt["T"], nt["E"], Xw, weights=nt["w"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines: "weights are not integers" advice
        ref_w = CoxPHFitter().fit(nt[["x1", "x2", "x3", "T", "E", "w"]], "T", "E",
                                  weights_col="w", fit_options=TIGHT)
    np.testing.assert_allclose(ours_w.beta, ref_w.params_.to_numpy(), atol=1e-8)


def test_time_varying_strata_equal_lifelines() -> None:
    df = time_varying_rows(500, seed=5)
    df["s"] = df["id"] % 3
    ours = fit_rows(df, strata=df["s"])
    ref = CoxTimeVaryingFitter().fit(df.drop(columns="cluster"), id_col="id", event_col="E",
                                     start_col="start", stop_col="stop", strata=["s"],
                                     fit_options=TIGHT)
    np.testing.assert_allclose(ours.beta, ref.params_[["z", "a"]].to_numpy(), atol=1e-6)


# ------------------------------------------------------------------ Cox invariances


def test_splitting_rows_at_non_event_times_changes_nothing() -> None:
    df = time_varying_rows(300, seed=6)
    whole = fit_rows(df, cluster=df["id"])
    # split every row with a long enough stretch in two at its midpoint (same covariates)
    long = df["stop"] - df["start"] > 1
    mid = (df["start"] + df["stop"]) / 2
    first = df[long].assign(stop=mid[long], E=False)
    second = df[long].assign(start=mid[long])
    split = pd.concat([df[~long], first, second], ignore_index=True)
    parts = fit_rows(split, cluster=split["id"])
    np.testing.assert_allclose(parts.beta, whole.beta, atol=1e-10)
    np.testing.assert_allclose(parts.se, whole.se, rtol=1e-9)
    np.testing.assert_allclose(parts.robust_se, whole.robust_se, rtol=1e-9)
    assert parts.loglik == pytest.approx(whole.loglik, abs=1e-9)


def test_score_residuals_are_the_weight_derivative_of_the_score() -> None:
    # U_i = d(gradient) / d(w_i) at fixed beta, Efron ties, delayed entry and strata included
    df = time_varying_rows(120, seed=7)
    X = df[["z", "a"]].to_numpy()
    w = np.random.default_rng(0).uniform(0.5, 1.5, len(df))
    strata = df["id"] % 2
    beta = np.array([0.3, 0.5])
    data = eg._prepare(df["start"], df["stop"], df["E"], X, strata=strata, weights=w)
    U = eg._score_residuals(data, eg._evaluate(data, beta))
    np.testing.assert_allclose((w[:, None] * U).sum(0), eg._evaluate(data, beta).grad, atol=1e-9)
    h = 1e-6
    for i in [0, 3, int(np.flatnonzero(df["E"])[5]), len(df) - 1]:
        wp, wm = w.copy(), w.copy()
        wp[i] += h
        wm[i] -= h
        gp = eg._evaluate(eg._prepare(df["start"], df["stop"], df["E"], X, strata=strata,
                                      weights=wp), beta).grad
        gm = eg._evaluate(eg._prepare(df["start"], df["stop"], df["E"], X, strata=strata,
                                      weights=wm), beta).grad
        np.testing.assert_allclose((gp - gm) / (2 * h), U[i], atol=1e-6)


def test_information_is_minus_the_hessian_of_the_loglik() -> None:
    df = time_varying_rows(150, seed=8)
    X = df[["z", "a"]].to_numpy()
    data = eg._prepare(df["start"], df["stop"], df["E"], X, weights=np.linspace(0.5, 2, len(df)))
    beta = np.array([0.2, -0.4])
    st = eg._evaluate(data, beta)
    h = 1e-6
    num = np.empty((2, 2))
    for j in range(2):
        d = np.zeros(2)
        d[j] = h
        gp, gm = eg._evaluate(data, beta + d).grad, eg._evaluate(data, beta - d).grad
        num[:, j] = (gp - gm) / (2 * h)
        llp, llm = eg._evaluate(data, beta + d, False).ll, eg._evaluate(data, beta - d, False).ll
        assert (llp - llm) / (2 * h) == pytest.approx(st.grad[j], abs=1e-6)
    np.testing.assert_allclose(st.info, -num, atol=1e-6)


def _ph_from_residuals(res: eg.CoxResult, rows: np.ndarray, times: np.ndarray,
                       resid: np.ndarray, rank: str) -> np.ndarray:
    """The Grambsch-Therneau test written out on the Schoenfeld residual matrix."""
    n_d = len(times)
    if rank == "ordinal":  # lifelines' order: latest first, ties in row order
        order = np.lexsort((rows, -times))
        g = np.empty(n_d)
        g[order] = np.arange(n_d, 0, -1, dtype=float)
    else:
        g = pd.Series(times).rank(method="average").to_numpy(dtype=float, copy=True)
    g -= (n_d + 1) / 2
    scaled = n_d * resid @ res.var + res.beta
    stat = (g @ scaled) ** 2 / (n_d * np.diag(res.var) * (g**2).sum())
    from scipy.stats import chi2

    return chi2.sf(stat, 1)


@pytest.mark.parametrize("rank", ["ordinal", "average"])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("stratified", [False, True])
def test_ph_test_from_risk_sums_equals_the_residual_formula(rank: str, ties: str,
                                                           stratified: bool) -> None:
    df = time_varying_rows(400, seed=21)
    X = df[["z", "a"]].to_numpy()
    w = np.random.default_rng(2).uniform(0.5, 1.5, len(df))
    strata = (df["id"] % 3).to_numpy() if stratified else None
    args = (df["start"], df["stop"], df["E"], X)
    res, p = eg.cox_fit_ph(*args, strata=strata, weights=w, ties=ties, rank=rank)
    rows, times, resid = eg.schoenfeld_residuals(res, *args, strata=strata, weights=w, ties=ties)
    np.testing.assert_allclose(p, _ph_from_residuals(res, rows, times, resid, rank), rtol=1e-7)
    assert np.isfinite(p).all()
    assert ((p >= 0) & (p <= 1)).all()


def test_large_data_path_equals_plain_newton(monkeypatch: pytest.MonkeyPatch) -> None:
    # the subsample start and the chord steps change the path, not the estimate
    df = time_varying_rows(3000, seed=22, cluster_size=3, frailty_sd=0.5)
    args = (df["start"], df["stop"], df["E"], df[["z", "a"]].to_numpy())
    monkeypatch.setattr(eg, "_START_ROWS", 300)  # start from a fit on every 13th row
    starts = []
    real_start = eg._start_value
    monkeypatch.setattr(eg, "_start_value", lambda *a: starts.append(real_start(*a)) or starts[-1])
    fast, _ = eg.cox_fit_ph(*args, cluster=df["cluster"], tol=1e-10)
    assert starts[0] is not None
    assert np.abs(starts[0] - fast.beta).max() > 1e-4
    monkeypatch.setattr(eg, "_START_ROWS", 10**9)
    monkeypatch.setattr(eg, "_CHORD_START", 0.0)
    seen = []
    real = eg._evaluate
    monkeypatch.setattr(eg, "_evaluate", lambda *a, **k: seen.append(k) or real(*a, **k))
    plain, _ = eg.cox_fit_ph(*args, cluster=df["cluster"], tol=1e-10)
    assert all(k.get("need_info", True) for k in seen)  # really plain Newton
    np.testing.assert_allclose(fast.beta, plain.beta, rtol=1e-8)
    np.testing.assert_allclose(fast.se, plain.se, rtol=1e-8)
    np.testing.assert_allclose(fast.robust_se, plain.robust_se, rtol=1e-8)
    assert fast.loglik == pytest.approx(plain.loglik, rel=1e-12)


def test_distinct_rows_rebuild_the_design_exactly() -> None:
    rng = np.random.default_rng(5)
    X = np.column_stack([rng.integers(0, 3, 5000), rng.random(5000) < 0.3]).astype(float)
    Xu, u = eg._distinct_rows(X)
    assert len(Xu) == 6 and (Xu[u] == X).all()
    Z = rng.normal(size=(50, 3))  # mostly distinct rows: every row its own group
    Zu, zu = eg._distinct_rows(Z)
    assert (zu == np.arange(50)).all() and (Zu == Z).all()


@pytest.mark.slow
def test_clustered_errors_match_a_cluster_bootstrap_on_time_varying_data() -> None:
    df = time_varying_rows(900, seed=9, cluster_size=3, frailty_sd=1.0, ties=False,
                           shared_z=True)
    fit = fit_rows(df, cluster=df["cluster"])
    assert fit.robust_se[0] > 1.2 * fit.se[0]  # a shared frailty and z: model-based SE too small
    rng = np.random.default_rng(1)
    rows_of = df.groupby("cluster").indices
    ids = np.array(list(rows_of))
    boot = []
    for _ in range(300):
        pick = rng.choice(ids, len(ids))
        idx = np.concatenate([rows_of[c] for c in pick])
        b = df.iloc[idx]
        boot.append(fit_rows(b).beta)
    boot_se = np.std(boot, axis=0, ddof=1)
    # 300 replicates: the bootstrap SE itself is uncertain by about 4%
    np.testing.assert_allclose(fit.robust_se, boot_se, rtol=0.15)


def test_time_varying_cox_has_no_immortal_time_bias() -> None:
    # the agency doubles the hazard from when it joins; coding it from the start makes it look
    # slower (cases had to survive to be joined)
    df = time_varying_rows(3000, seed=10, ties=False, entry_share=0.0)
    tv = fit_rows(df, cluster=df["id"])
    lo, hi = tv.beta[1] - 1.96 * tv.robust_se[1], tv.beta[1] + 1.96 * tv.robust_se[1]
    assert lo < np.log(2) < hi
    last = df.groupby("id").tail(1)
    first = df.groupby("id").head(1)
    whole = eg.cox_fit(first["start"].to_numpy(), last["stop"].to_numpy(), last["E"].to_numpy(),
                       np.column_stack([last["z"], last["a"]]))
    assert whole.beta[1] < np.log(2) - 0.3


def test_cox_rejects_bad_rows_with_one_line_errors() -> None:
    with pytest.raises(CasekitError, match="start < stop"):
        eg.cox_fit([0, 3], [1, 2], [1, 0], np.zeros((2, 1)))
    with pytest.raises(CasekitError, match="expected 2 values"):
        eg.cox_fit([0, 0, 0], [1, 2], [1, 0], np.zeros((2, 1)))
    with pytest.raises(CasekitError, match="non-finite"):
        eg.cox_fit([0, 0], [1, 2], [1, 0], np.array([[np.nan], [1.0]]))
    with pytest.raises(CasekitError, match="no events"):
        eg.cox_fit([0, 0], [1, 2], [0, 0], np.zeros((2, 1)))
    with pytest.raises(CasekitError, match="ties"):
        eg.cox_fit([0, 0], [1, 2], [1, 0], np.zeros((2, 1)), ties="exact")


def test_zero_durations_are_at_risk_at_time_zero_as_in_lifelines() -> None:
    df = fixed_cases(300, seed=16, ties=True)
    df.loc[:9, "T"] = 0.0  # closed on the day of opening
    X = df[["x1", "x2", "x3"]].to_numpy()
    ours = eg.cox_fit(np.zeros(len(df)), df["T"], df["E"], X)
    ref = CoxPHFitter().fit(df[["x1", "x2", "x3", "T", "E"]], "T", "E", fit_options=TIGHT)
    np.testing.assert_allclose(ours.beta, ref.params_.to_numpy(), atol=1e-8)
    # a delayed entrant that closes on its entry day is at risk that day
    one = eg.cox_fit([0, 0, 2, 0], [3, 2, 2, 4], [1, 1, 1, 0], np.array([[1.0], [0], [1], [0]]))
    assert one.n_events == 3 and np.isfinite(one.loglik)


def test_breslow_ties_equal_lifelines_breslow_free_data_and_summary_table() -> None:
    df = fixed_cases(300, seed=11)
    X = df[["x1", "x2", "x3"]].to_numpy()
    efron = eg.cox_fit(np.zeros(len(df)), df["T"], df["E"], X)
    breslow = eg.cox_fit(np.zeros(len(df)), df["T"], df["E"], X, ties="breslow")
    np.testing.assert_allclose(efron.beta, breslow.beta, atol=1e-10)  # no ties: the same
    tab = efron.summary(["x1", "x2", "x3"])
    assert list(tab.index) == ["x1", "x2", "x3"]
    assert tab["hazard_ratio"].to_numpy() == pytest.approx(np.exp(efron.beta))
    assert tab["robust_se"].isna().all()


# ------------------------------------------------------------------ baseline and medians


def test_breslow_baseline_equals_lifelines_and_median_follows_the_hazard_ratio() -> None:
    df = fixed_cases(400, seed=12)
    X = df[["x1", "x2", "x3"]].to_numpy()
    fit = eg.cox_fit(np.zeros(len(df)), df["T"], df["E"], X)
    times, H0 = eg.breslow_cumhaz(fit, np.zeros(len(df)), df["T"], df["E"], X)
    ref = CoxPHFitter().fit(df[["x1", "x2", "x3", "T", "E"]], "T", "E", fit_options=TIGHT)
    ref_h = ref.baseline_cumulative_hazard_.iloc[:, 0]
    ref_at = ref_h.reindex(times).to_numpy()  # lifelines: at the column means of X
    np.testing.assert_allclose(H0 * np.exp(X.mean(0) @ fit.beta), ref_at, rtol=1e-6)
    # median of S0 ** hr by brute force
    for hr in (0.5, 1.0, 3.0):
        s = np.exp(-H0 * hr)
        expect = times[np.argmax(s <= 0.5)] if (s <= 0.5).any() else np.inf
        assert eg.median_time(times, H0, hazard_ratio=hr) == expect
    # strata: one column per stratum, each the stratum's own baseline
    t_s, H_s = eg.breslow_cumhaz(fit.beta, np.zeros(len(df)), df["T"], df["E"], X, strata=df["s"])
    one = df["s"].to_numpy() == 1
    t1, H1 = eg.breslow_cumhaz(fit.beta, np.zeros(one.sum()), df["T"][one], df["E"][one], X[one])
    np.testing.assert_allclose(H_s[np.searchsorted(t_s, t1), 1], H1)


# ------------------------------------------------------------------ Aalen-Johansen


def competing(n: int, seed: int, *, entry: bool = False) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    t1, t2, c = rng.exponential(10, n), rng.exponential(25, n), rng.uniform(5, 60, n)
    t = np.minimum.reduce([t1, t2, c])
    cause = np.select([t == t1, t == t2], [1, 2], 0)
    e = np.where(rng.random(n) < 0.3, rng.uniform(0, 0.8, n) * t, 0.0) if entry else np.zeros(n)
    return e, t, cause


def test_aalen_johansen_equals_lifelines_without_ties() -> None:
    entry, t, cause = competing(400, seed=13)
    grid = np.array([1.0, 5.0, 10.0, 20.0, 30.0])
    cif, lo, hi = eg.aalen_johansen(entry, t, cause, times=grid, cause_of_interest=1)
    ref = AalenJohansenFitter(calculate_variance=True).fit(t, cause, event_of_interest=1)
    ref_cif = ref.cumulative_density_.iloc[:, 0]
    idx = ref_cif.index.searchsorted(grid, side="right") - 1
    np.testing.assert_allclose(cif, ref_cif.to_numpy()[idx], rtol=1e-10)
    ci = ref.confidence_interval_.to_numpy()[idx]
    np.testing.assert_allclose(lo, ci.min(axis=1), rtol=1e-8)
    np.testing.assert_allclose(hi, ci.max(axis=1), rtol=1e-8)
    assert (lo < cif).all() and (cif < hi).all()


def test_aalen_johansen_groups_ties_exactly_where_lifelines_jitters() -> None:
    _, t, cause = competing(400, seed=14)
    t = np.ceil(t)  # many ties across causes
    t[cause == 0] -= 0.5  # lifelines' jitter would move events past censorings tied with them
    grid = np.array([3.5, 10.5, 20.5])
    cif, _, _ = eg.aalen_johansen(None, t, cause, times=grid, cause_of_interest=1)
    with pytest.warns(Warning, match="Tied event times"):
        ref = AalenJohansenFitter(jitter_level=1e-7, seed=0, calculate_variance=False).fit(
            t, cause, event_of_interest=1)
    ref_cif = ref.cumulative_density_.iloc[:, 0]
    idx = ref_cif.index.searchsorted(grid, side="right") - 1
    # sequential single exits within a tie give the same product and sum as grouped exits
    np.testing.assert_allclose(cif, ref_cif.to_numpy()[idx], rtol=1e-9)


def test_aalen_johansen_delayed_entry_and_single_cause() -> None:
    entry, t, cause = competing(500, seed=15, entry=True)
    grid = np.array([2.0, 8.0, 15.0, 40.0])
    cif, lo, hi = eg.aalen_johansen(entry, t, cause, times=grid, cause_of_interest=1)
    ref = AalenJohansenFitter(calculate_variance=False).fit(t, cause, event_of_interest=1,
                                                            entry=entry)
    ref_cif = ref.cumulative_density_.iloc[:, 0]
    idx = ref_cif.index.searchsorted(grid, side="right") - 1
    np.testing.assert_allclose(cif, ref_cif.to_numpy()[idx], rtol=1e-10)
    # one cause only: 1 - Kaplan-Meier (with the same delayed entry)
    one = np.where(cause > 0, 1, 0)
    cif1, _, _ = eg.aalen_johansen(entry, t, one, times=grid, cause_of_interest=1)
    km = KaplanMeierFitter().fit(t, one, entry=entry).survival_function_at_times(grid)
    np.testing.assert_allclose(cif1, 1 - km.to_numpy(), rtol=1e-10)
    # zero durations (closed on the day of opening) are at risk at time 0 with everyone
    t0 = np.r_[np.zeros(5), t]
    c0 = np.r_[np.ones(5, int), cause]
    cif0, _, _ = eg.aalen_johansen(np.zeros(len(t0)), t0, c0, times=np.r_[0.0, grid],
                                   cause_of_interest=1)
    assert cif0[0] == pytest.approx(5 / len(t0))
    ref0 = AalenJohansenFitter(calculate_variance=False).fit(t0, c0, event_of_interest=1)
    ref0_cif = ref0.cumulative_density_.iloc[:, 0]
    # lifelines overwrites the first row of the CIF with 0, dropping the closures at time 0
    np.testing.assert_allclose(
        cif0[1:] - cif0[0],
        ref0_cif.to_numpy()[ref0_cif.index.searchsorted(grid, side="right") - 1], rtol=1e-10)
    with pytest.raises(CasekitError, match="start < stop"):
        eg.aalen_johansen([2.0], [1.0], [1], times=[1.0], cause_of_interest=1)
    # nobody is observed past the last exit
    assert np.isnan(eg.aalen_johansen(entry, t, cause, times=[t.max() + 1],
                                      cause_of_interest=1)[0]).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 3)), min_size=1, max_size=120),
       st.lists(st.floats(-1, 45, allow_nan=False), min_size=1, max_size=4))
def test_aalen_johansen_of_sorted_rows_is_the_general_one_bit_for_bit(rows, grid) -> None:
    # the ranking's fast path: exits sorted (ties in any order), everyone at risk from 0
    t = np.array([r[0] for r in rows], dtype=float) / 2  # many ties, zero durations
    cause = np.array([r[1] for r in rows])
    order = np.argsort(t)  # unstable: tied rows in some order
    fast = eg._aj_presorted(t[order], cause[order], times=grid, cause_of_interest=1)
    slow = eg.aalen_johansen(np.zeros(len(t)), t, cause, times=grid, cause_of_interest=1)
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)
    estimate_only = eg._aj_presorted(t[order], cause[order], times=grid, cause_of_interest=1,
                                     interval=False)
    np.testing.assert_array_equal(estimate_only[0], slow[0])
    assert estimate_only[1:] == (None, None)


def test_aalen_johansen_of_sorted_rows_rejects_what_the_general_one_rejects() -> None:
    with pytest.raises(CasekitError, match="start < stop"):
        eg._aj_presorted(np.array([-1.0, 2.0]), np.array([1, 1]), times=[1.0],
                         cause_of_interest=1)


def test_km_median_ci_from_the_band_where_the_search_looks_equals_the_whole_band() -> None:
    from lifelines.utils import median_survival_times

    rng = np.random.default_rng(5)
    for _ in range(150):
        n = int(rng.integers(1, 300))
        d = np.round(rng.exponential(10, n), int(rng.integers(0, 3)))  # ties, zeros
        e = rng.random(n) < rng.random()
        km = eg._km(d, e)
        whole = (km._qth(km.lower, km.timeline), km._qth(km.upper, km.timeline))
        assert km.median_ci == whole
        ref = KaplanMeierFitter().fit(d, e)
        assert km.median_ci == tuple(median_survival_times(ref.confidence_interval_).iloc[0])
        np.testing.assert_array_equal(km.lower, ref.confidence_interval_.iloc[:, 0].to_numpy())


@pytest.mark.parametrize("block", [eg._LOGRANK_BLOCK, 7])
def test_multivariate_logrank_equals_lifelines_with_ties_and_blocks(
        monkeypatch: pytest.MonkeyPatch, block: int) -> None:
    from lifelines.statistics import multivariate_logrank_test

    monkeypatch.setattr(eg, "_LOGRANK_BLOCK", block)  # 7: many blocks of death times
    rng = np.random.default_rng(3)
    for k in (2, 3, 9):
        n = 400
        d = np.round(rng.exponential(10, n), 0)  # heavy ties
        e = rng.random(n) < 0.7
        g = rng.integers(0, k, n) * 3 + 5  # codes with gaps
        chi2, df, p = eg._logrank_multi(d, e, g)
        ref = multivariate_logrank_test(d, g, e)
        assert df == k - 1
        assert chi2 == pytest.approx(ref.test_statistic, rel=1e-10)
        assert p == pytest.approx(ref.p_value, rel=1e-8, abs=1e-300)
    labels = np.array(["b", "a", "b", "c"] * 50)  # text groups go through np.unique
    d = rng.exponential(5, 200)
    e = rng.random(200) < 0.8
    ref = multivariate_logrank_test(d, labels, e)
    assert eg._logrank_multi(d, e, labels)[0] == pytest.approx(ref.test_statistic, rel=1e-10)


# ------------------------------------------------------------------ best set


def test_best_set_one_clear_winner_gives_a_set_of_one() -> None:
    theta = np.array([0.0, 0.1, 0.9, -0.2, 0.05])
    cov = np.diag([0.0, 0.004, 0.004, 0.004, 0.004])
    out = eg.best_set(theta, cov, seed=2)
    assert out["in_best_set"].tolist() == [False, False, True, False, False]
    assert out["p_best"][2] > 0.99 and out["p_best"].sum() == pytest.approx(1.0)
    assert out["rank_low"][2] == out["rank_high"][2] == 1


def test_best_set_equal_candidates_are_all_in() -> None:
    k = 6
    rho = 0.3 * np.ones((k, k)) + 0.7 * np.eye(k)
    out = eg.best_set(np.zeros(k), 0.01 * rho, seed=3)
    assert out["in_best_set"].all()
    assert np.allclose(out["p_best"], 1 / k, atol=0.03)
    assert (out["rank_low"] <= 2).all() and (out["rank_high"] >= k - 1).all()


def test_best_set_covers_the_true_best_over_repeated_estimates() -> None:
    rng = np.random.default_rng(4)
    k, alpha = 8, 0.10
    truth = np.r_[0.0, np.linspace(-0.3, 0.25, k - 1)]  # candidate k-1 is best
    sd = np.r_[0.0, rng.uniform(0.08, 0.15, k - 1)]
    cov = np.diag(sd**2)
    covered, sizes = 0, []
    reps = 200
    for r in range(reps):
        est = truth + sd * rng.standard_normal(k)
        inside = eg.best_set(est, cov, alpha=alpha, n_draws=2000, seed=r)["in_best_set"]
        covered += inside[k - 1]
        sizes.append(inside.sum())
    assert covered / reps >= 1 - alpha - 0.04  # binomial slack for 200 replications
    assert np.mean(sizes) < k - 1  # and the set is informative


def test_best_set_rejects_bad_input() -> None:
    with pytest.raises(CasekitError, match="shape"):
        eg.best_set([0.0, 1.0], np.eye(3))
    with pytest.raises(CasekitError, match="alpha"):
        eg.best_set([0.0, 1.0], np.eye(2), alpha=1.5)


def test_holm_lives_in_the_engine_and_survival_uses_it() -> None:
    from casekit import survival

    assert survival._holm is eg.holm
    assert survival._km is eg._km
    np.testing.assert_allclose(eg.holm([0.01, 0.04, 0.03, 0.5]), [0.04, 0.09, 0.09, 0.5])


def test_cox_fit_limits_blas_threads_only_while_fitting(monkeypatch: pytest.MonkeyPatch) -> None:
    import threadpoolctl

    seen = []
    real = eg._evaluate

    def spy(*args, **kwargs):
        seen.extend(p["num_threads"] for p in threadpoolctl.threadpool_info()
                    if p["user_api"] == "blas")
        return real(*args, **kwargs)

    before = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    monkeypatch.setattr(eg, "_evaluate", spy)
    df = fixed_cases(200, seed=17)
    eg.cox_fit(np.zeros(len(df)), df["T"], df["E"], df[["x1", "x2", "x3"]].to_numpy())
    after = [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]
    assert seen and set(seen) == {1}
    assert after == before
