"""Benchmark: the numpy Cox engine against lifelines, measured in the same run.

1. Time-varying Cox with cluster-robust errors on repeat filings (default 100k cases, about 3
   counting-process rows each: agencies of 15 types join open cases over time and each one
   multiplies the closing hazard from when it joins; cases share a matter frailty in clusters of
   2-3). Goal: 10 s or less. Baseline: lifelines' ``CoxTimeVaryingFitter`` on the same rows
   (which has no robust errors); when it would take over 3 minutes it runs on the first 10k
   cases instead and the script says so.
2. Time-fixed Cox on 1M cases (15 indicators). Goal: 10 s or less. Baseline: lifelines'
   ``CoxPHFitter`` on 100k cases, beside casekit on the same 100k.
3. The API's fits on a cached ``casekit synth`` district (``_common.py``: about 300 agencies,
   all columns; default 1M cases): ``fit_cox`` on 100k / 300k / 1M of its cases (CPU and
   wall, and the scaling exponent), ``fit_time_varying_cox`` and the default time-varying
   ranking on its counting-process rows; lifelines on the first 20k cases. Goal: 10 s CPU or
   less at 1M cases, scaling linearly.

Both sides run with BLAS on one thread (casekit sets it itself with threadpoolctl; lifelines
gets the same limit, its fastest setting on a shared machine). Every comparison also checks the
coefficients agree, so speed never changes the statistics. Prints the machine load.

    .venv/bin/python benchmarks/cox.py
    .venv/bin/python benchmarks/cox.py --cases 20000 --fixed-cases 100000 --quick
    .venv/bin/python benchmarks/cox.py --skip-synthetic --district-cases 100000 \
        --district-sizes 10000 30000 100000
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from casekit.engine import cox_fit

N_TYPES = 15
LIFELINES_BUDGET_S = 180.0


def counting_process_rows(n_cases: int, seed: int = 0) -> pd.DataFrame:
    """Synthetic repeat filings as counting-process rows (integer days, so times tie).

    Each of 15 agency types joins a case with probability 0.22 at an exponential time (mean 20
    days); from then on it multiplies the closing hazard by ``exp(beta_k)``. A case closes
    (``E``) or is censored at the observation end; only joins strictly before the exit day split
    the case. Matters of 2-3 cases share a log-normal frailty (sd 0.5).
    """
    rng = np.random.default_rng(seed)
    beta = np.linspace(-0.5, 0.7, N_TYPES)
    sizes = rng.choice([2, 3], n_cases // 2 + 1)
    cluster = np.repeat(np.arange(len(sizes)), sizes)[:n_cases]
    frail = np.exp(0.5 * rng.normal(size=len(sizes)))[cluster]
    joins = rng.random((n_cases, N_TYPES)) < 0.22
    jt = np.where(joins, np.ceil(rng.exponential(20, (n_cases, N_TYPES))), np.inf)
    order = np.argsort(jt, axis=1)
    jt_sorted = np.take_along_axis(jt, order, axis=1)
    # piecewise-constant hazard between successive joins: invert the cumulative hazard
    target = rng.exponential(1.0, n_cases)
    h0 = frail / 40.0
    lin = np.zeros(n_cases)
    t_prev = np.zeros(n_cases)
    cum = np.zeros(n_cases)
    exit_t = np.full(n_cases, np.inf)
    for s in range(N_TYPES + 1):
        t_next = jt_sorted[:, s] if s < N_TYPES else np.full(n_cases, np.inf)
        rate = h0 * np.exp(lin)
        seg = rate * (t_next - t_prev)
        hit = np.isinf(exit_t) & (cum + seg >= target)
        exit_t[hit] = t_prev[hit] + (target[hit] - cum[hit]) / rate[hit]
        cum += np.where(np.isfinite(seg), seg, 0.0)
        if s < N_TYPES:
            k = order[:, s]
            lin = lin + np.where(np.isfinite(t_next), beta[k], 0.0)
            t_prev = np.where(np.isfinite(t_next), t_next, t_prev)
    censor = rng.uniform(30, 365, n_cases)
    stop = np.ceil(np.minimum(exit_t, censor))
    event = exit_t <= censor
    # rows: (0, j1], (j1, j2], ..., (jm, stop] for joins before the exit day (same day: no split)
    valid = jt_sorted < stop[:, None]
    same = np.zeros_like(valid)
    same[:, 1:] = jt_sorted[:, 1:] == jt_sorted[:, :-1]  # two types joining on one day
    split = valid & ~same
    n_split = split.sum(axis=1)
    n_rows = n_split + 1
    row0 = np.r_[0, np.cumsum(n_rows)[:-1]]
    total = int(n_rows.sum())
    case = np.repeat(np.arange(n_cases), n_rows)
    pos = np.arange(total) - row0[case]
    # split times per case, compacted left
    st = np.where(split, jt_sorted, np.inf)
    st.sort(axis=1)
    start = np.where(pos == 0, 0.0, st[case, np.maximum(pos - 1, 0)])
    stop_r = np.where(pos == n_rows[case] - 1, stop[case], st[case, np.minimum(pos, N_TYPES - 1)])
    # indicators: type k is on from the row whose start is its join day
    D = np.zeros((total + 1, N_TYPES))
    ci, si = np.nonzero(valid)
    seg_of = (st[ci] <= jt_sorted[ci, si][:, None]).sum(axis=1)  # first row with it in force
    np.add.at(D, (row0[ci] + seg_of, order[ci, si]), 1.0)
    np.add.at(D, (row0[ci] + n_rows[ci], order[ci, si]), -1.0)
    X = np.cumsum(D[:-1], axis=0)
    df = pd.DataFrame(X, columns=[f"a{k:02d}" for k in range(N_TYPES)])
    df.insert(0, "E", (pos == n_rows[case] - 1) & event[case])
    df.insert(0, "stop", stop_r)
    df.insert(0, "start", start)
    df.insert(0, "cluster", cluster[case])
    df.insert(0, "id", case)
    return df


def fixed_cases(n_cases: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time-fixed cases: 15 indicators, exponential times on a day grid, 10% censored."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n_cases, N_TYPES)) < 0.2).astype(np.float64)
    beta = np.linspace(-0.5, 0.7, N_TYPES)
    t = np.ceil(rng.exponential(40 / np.exp(X @ beta)))
    c = np.ceil(rng.uniform(30, 700, n_cases))
    return X, np.minimum(t, c), t <= c


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall and CPU seconds of one call, and its result."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def lifelines_tv(df: pd.DataFrame) -> np.ndarray:
    from lifelines import CoxTimeVaryingFitter

    cols = ["id", "start", "stop", "E", *[f"a{k:02d}" for k in range(N_TYPES)]]
    with threadpool_limits(limits=1, user_api="blas"):
        fit = CoxTimeVaryingFitter().fit(df[cols], id_col="id", event_col="E",
                                         start_col="start", stop_col="stop")
    return fit.params_.to_numpy()


def lifelines_fixed(X: np.ndarray, T: np.ndarray, E: np.ndarray) -> np.ndarray:
    from lifelines import CoxPHFitter

    df = pd.DataFrame(X, columns=[f"a{k:02d}" for k in range(N_TYPES)]).assign(T=T, E=E)
    with threadpool_limits(limits=1, user_api="blas"):
        fit = CoxPHFitter().fit(df, "T", "E")
    return fit.params_.to_numpy()


def casekit_tv(df: pd.DataFrame, cluster: bool = True) -> Any:
    X = df[[f"a{k:02d}" for k in range(N_TYPES)]].to_numpy()
    return cox_fit(df["start"].to_numpy(), df["stop"].to_numpy(), df["E"].to_numpy(), X,
                   cluster=df["cluster"].to_numpy() if cluster else None)


def _cpu_wall(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """CPU and wall seconds of one call, and its result."""
    w, c, out = timed(fn)
    return c, w, out


def _exponent(sizes: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(time) on log(size): 1 is linear scaling."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def _district_cox(n_cases: int, n_lifelines: int, sizes: tuple[int, ...]) -> str:
    """Part 3: the Cox fits of casekit's API on a real-shaped district's case table.

    ``fit_cox`` (time-fixed, pattern + default covariates, PH test) on evenly spaced subsets of
    ``sizes`` cases of the district (same shape at every size) with the scaling exponent;
    ``fit_time_varying_cox`` (counting-process rows of every filing, agency types joining,
    errors clustered by matter) and the default time-varying ranking (``rank_collaborations``:
    pattern Cox on counting-process rows, cluster sandwich, PH test) on the whole district;
    lifelines' ``CoxPHFitter`` (``fit_cox(engine="lifelines")``) on the first ``n_lifelines``
    cases beside casekit on the same cases. BLAS threads are left to casekit (no environment
    variable needed).
    """
    if n_cases <= 0:
        return ""
    import warnings

    import _common as cm

    import casekit as ck

    warnings.simplefilter("ignore")  # PH notes: the fits are what is timed here
    path = cm.district(n_cases)
    ev = ck.read_events(path)
    cases = ck.build_case_table(ev)
    iv = ck.build_case_intervals(ev, cases=cases)
    del ev
    print(f"[district] {path.name}: {len(cases):,} cases, {len(iv):,} counting-process rows")
    used, cpu = [], []
    for n in sorted({min(s, len(cases)) for s in sizes}):
        sub = cases.iloc[np.arange(n) * len(cases) // n]
        c_c, w_c, res = _cpu_wall(lambda sub=sub: ck.fit_cox(sub))
        used.append(n)
        cpu.append(c_c)
        print(f"[district] fit_cox {n:>9,} cases (pattern + covariates, PH test, "
              f"{len(res)} terms): {c_c:6.2f} s CPU, {w_c:6.2f} s wall; {load()}")
    slope = _exponent(used, cpu) if len(used) > 1 else float("nan")
    print(f"[district] fit_cox scaling exponent (CPU, {used[0]:,} -> {used[-1]:,} cases): "
          f"{slope:.2f} (1 = linear)")
    c_t, w_t, tv = _cpu_wall(lambda: ck.fit_time_varying_cox(iv))
    print(f"[district] fit_time_varying_cox ({len(iv):,} rows, clustered): {c_t:.2f} s CPU, "
          f"{w_t:.2f} s wall, {len(tv)} terms")
    c_r, w_r, rk = _cpu_wall(lambda: ck.rank_collaborations(cases, intervals=iv))
    print(f"[district] rank_collaborations (default time-varying, {rk.attrs['n_rows']:,} rows, "
          f"clustered by matter): {c_r:.2f} s CPU, {w_r:.2f} s wall")
    small = cases.head(n_lifelines)
    w_s, _, ours = timed(lambda: ck.fit_cox(small))
    w_l, c_l, ref = timed(lambda: ck.fit_cox(small, engine="lifelines"))
    diff = float(np.max(np.abs(ours["coef"].to_numpy() - ref["coef"].to_numpy())))
    print(f"[district] first {len(small):,} cases: lifelines {w_l:.2f} s wall ({c_l:.2f} CPU) "
          f"vs casekit {w_s:.2f} s: {w_l / w_s:.1f}x; max |coef diff| {diff:.1e}")
    ok = cpu[-1] <= 10 and slope < 1.15
    print(f"[district] goal fit_cox <= 10 s CPU at {used[-1]:,} cases, linear: "
          f"{'met' if ok else 'MISSED'}; fit_time_varying_cox on {len(iv):,} rows <= 10 s: "
          f"{'met' if c_t <= 10 else 'MISSED'}; {load()}")
    return (f"district fit_cox {used[-1]:,} cases {cpu[-1]:.2f} s CPU (exponent {slope:.2f}), "
            f"tv {c_t:.2f} s, ranking {c_r:.2f} s CPU; ")


def load() -> str:
    return "load %.2f %.2f %.2f" % os.getloadavg()


def _synthetic(args: argparse.Namespace) -> str:
    """Parts 1 and 2 (synthetic time-varying and time-fixed rows); returns the summary text."""
    # ---- 1. time-varying, clustered -------------------------------------------------------
    t0 = time.perf_counter()
    rows = counting_process_rows(args.cases)
    print(f"[tv] {args.cases:,} cases -> {len(rows):,} rows ({len(rows) / args.cases:.2f} per "
          f"case), {int(rows['E'].sum()):,} closures, {rows['cluster'].nunique():,} clusters, "
          f"{rows['stop'].nunique()} distinct days (built in {time.perf_counter() - t0:.1f} s)")
    w_ck, c_ck, fit = timed(lambda: casekit_tv(rows))
    print(f"[tv] casekit cox_fit + cluster sandwich: {w_ck:.2f} s wall, {c_ck:.2f} s CPU "
          f"({fit.n_iter} iterations, converged={fit.converged}; robust/model SE "
          f"{np.median(fit.robust_se / fit.se):.2f})")
    sub = rows[rows["id"] < 10_000]
    w_ck_sub, _, fit_sub = timed(lambda: casekit_tv(sub, cluster=False))
    w_ll_sub, c_ll_sub, b_ll_sub = timed(lambda: lifelines_tv(sub))
    diff_sub = float(np.max(np.abs(b_ll_sub - fit_sub.beta)))
    print(f"[tv] 10k cases ({len(sub):,} rows): lifelines CoxTimeVaryingFitter {w_ll_sub:.2f} s "
          f"wall ({c_ll_sub:.2f} CPU) vs casekit {w_ck_sub:.3f} s: {w_ll_sub / w_ck_sub:.0f}x; "
          f"max |coef diff| {diff_sub:.1e}")
    projected = w_ll_sub * len(rows) / len(sub)
    tv_baseline = ""
    if args.cases <= 10_000:
        tv_ratio = w_ll_sub / w_ck_sub
        tv_baseline = "lifelines same rows"
    elif projected <= LIFELINES_BUDGET_S and not args.quick:
        w_ll, c_ll, b_ll = timed(lambda: lifelines_tv(rows))
        tv_ratio = w_ll / w_ck
        print(f"[tv] lifelines CoxTimeVaryingFitter on the same {len(rows):,} rows (no robust "
              f"errors): {w_ll:.1f} s wall ({c_ll:.1f} CPU); casekit is {tv_ratio:.0f}x faster "
              f"with clustered errors; max |coef diff| {np.max(np.abs(b_ll - fit.beta)):.1e}")
        tv_baseline = "lifelines same rows"
    else:
        tv_ratio = w_ll_sub / w_ck_sub
        print(f"[tv] lifelines on all {len(rows):,} rows would take about {projected:.0f} s "
              f"(linear projection from 10k; over the {LIFELINES_BUDGET_S:.0f} s budget or "
              f"--quick): compared on the 10k subsample only")
        tv_baseline = "lifelines 10k subsample"
    print(f"[tv] goal <= 10 s: {'met' if w_ck <= 10 else 'MISSED'} ({w_ck:.2f} s); {load()}")

    # ---- 2. time-fixed ---------------------------------------------------------------------
    X, T, E = fixed_cases(args.fixed_cases)
    zeros = np.zeros(len(T))
    w_fx, c_fx, fx = timed(lambda: cox_fit(zeros, T, E, X))
    print(f"[fixed] casekit cox_fit on {len(T):,} cases x {N_TYPES} covariates: {w_fx:.2f} s "
          f"wall, {c_fx:.2f} s CPU ({fx.n_iter} iterations)")
    m = min(args.lifelines_fixed_cases, len(T))
    Xs, Ts, Es = X[:m], T[:m], E[:m]
    w_fs, _, fs = timed(lambda: cox_fit(np.zeros(m), Ts, Es, Xs))
    w_lf, c_lf, b_lf = timed(lambda: lifelines_fixed(Xs, Ts, Es))
    fixed_ratio = w_lf / w_fs
    print(f"[fixed] {m:,} cases: lifelines CoxPHFitter {w_lf:.2f} s wall ({c_lf:.2f} CPU) vs "
          f"casekit {w_fs:.2f} s: {fixed_ratio:.1f}x; max |coef diff| "
          f"{np.max(np.abs(b_lf - fs.beta)):.1e}; casekit time {len(T):,} / {m:,} cases: "
          f"{w_fx / w_fs:.1f}x for {len(T) / m:.0f}x the cases")
    print(f"[fixed] goal <= 10 s: {'met' if w_fx <= 10 else 'MISSED'} ({w_fx:.2f} s); {load()}")
    return (f"tv-cox {args.cases:,} cases/{len(rows):,} rows clustered {w_ck:.2f} s "
            f"({tv_ratio:.0f}x vs {tv_baseline}); fixed-cox {len(T):,} cases {w_fx:.2f} s, "
            f"{m:,}: {fixed_ratio:.1f}x vs lifelines CoxPHFitter; ")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=100_000, help="time-varying cases")
    ap.add_argument("--fixed-cases", type=int, default=1_000_000)
    ap.add_argument("--lifelines-fixed-cases", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="skip lifelines on the full sizes")
    ap.add_argument("--district-cases", type=int, default=1_000_000,
                    help="cases of the casekit synth district for part 3 (0: skip)")
    ap.add_argument("--lifelines-district-cases", type=int, default=20_000)
    ap.add_argument("--district-sizes", type=int, nargs="+", default=[100_000, 300_000,
                                                                       1_000_000],
                    help="fit_cox on evenly spaced subsets of these many district cases")
    ap.add_argument("--skip-synthetic", action="store_true",
                    help="only part 3 (the district fits)")
    args = ap.parse_args()
    print(f"cores {os.cpu_count()}, {load()}")

    synthetic = "" if args.skip_synthetic else _synthetic(args)
    district = _district_cox(args.district_cases, args.lifelines_district_cases,
                             tuple(args.district_sizes))
    print(f"SUMMARY {synthetic}{district}{load()}")


if __name__ == "__main__":
    main()
