"""Benchmark: the whole pipeline on a real-shaped district, from the Parquet file on disk.

read -> validate -> case table -> both networks -> ranking (KM, median CIs, RMST, log-rank) ->
counting-process rows -> the default time-varying Cox ranking -> ``fit_cox``, each
step with its wall and CPU seconds, its peak RSS (reset before the step, Linux
``/proc/self/clear_refs``) and the machine's load when it started, beside a bare baseline
measured in the same run:

- read + validate: ``pyarrow.parquet.read_table(...).to_pandas()`` (no mapping, no checks);
- case table: a plain vectorised pandas case table (groupby min / first close / agency-type
  bit masks) with the same opening, closing and pattern;
- networks: the bare numpy version of ``network.py`` (pyarrow dictionary + integer counting);
- ranking: lifelines, one ``KaplanMeierFitter`` per pattern (median and CI) plus the
  multivariate log-rank test;
- Cox: lifelines' ``CoxPHFitter`` through ``fit_cox(engine="lifelines")`` on the first
  ``--cox-baseline-cases`` cases (lifelines takes minutes at 1M), beside casekit on the same;
- PM4Py (AGPL, not installed): its published figures from ``shared/perf/BASELINES.md``.

The district (``_common.py``: about 300 agencies, all 17 columns, free text, a few bad rows that
validation quarantines) is generated once and cached. Goals (issue 15, 1M cases): read within 2x
of pyarrow, case table faster than pandas, case table + ranking (KM, CIs, log-rank) <= 3 s,
both networks within 1.5x of numpy, <= 0.3 GiB per million events through the whole pipeline.

    python benchmarks/pipeline.py [--cases 1000000] [--repeat 1] [--skip-lifelines]
"""

from __future__ import annotations

import argparse
import gc
import warnings

import _common as cm
import numpy as np

import casekit as ck


def main() -> None:
    warnings.simplefilter("ignore")  # the whole-case warning: KM medians are what is timed here
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--skip-lifelines", action="store_true", help="no lifelines baseline")
    ap.add_argument("--cox-baseline-cases", type=int, default=20_000,
                    help="cases of the Cox fit timed beside lifelines' CoxPHFitter")
    args = ap.parse_args()
    path = cm.district(args.cases)
    import lifelines  # noqa: F401  (import cost outside the timings)

    cm.header(f"pipeline on a {args.cases:,}-case district", path)
    warm = ck.read_events(cm.district(10_000) if args.cases > 10_000 else path)
    ck.rank_collaborations(ck.build_case_table(warm), repeat_only=False, adjust=False,
                            method="whole-case")
    ck.build_agency_networks(warm)
    del warm
    gc.collect()
    r = args.repeat
    start_mib = cm.rss_mib()

    def step(fn):  # type: ignore[no-untyped-def]
        # hand back what the last step freed: pyarrow's allocator (mimalloc) keeps it, and the
        # next step's peak, counted from the RSS at its start, would then include it
        gc.collect()
        ck.validate.release_arrow_memory()
        return cm.measure(fn, r, track_peak=True)

    bare_read = step(lambda: cm.pyarrow_read(path))
    n_rows = len(bare_read.result)
    bare_read.result = None
    # the user's call: the reader keeps few-distinct Parquet text as category for validation,
    # which ``read_table`` (text as the file holds it) then ``validate_table`` would not
    rv = step(lambda: ck.io.read_events_report(path))
    res = rv.result
    rv.result = None
    ev = res.events
    print(f"  {res.summary()}")
    cases_t = step(lambda: ck.build_case_table(ev))
    cases = cases_t.result
    base_cases = step(lambda: cm.pandas_case_table(ev))
    nets = step(lambda: ck.build_agency_networks(ev))
    base_nets = step(lambda: cm.numpy_both(ev))
    handover = step(lambda: ck.build_handover_network(ev, include_self=True, lags=False))
    base_handover = step(lambda: cm.pandas_handover(ev))
    rank = step(lambda: ck.rank_collaborations(cases, repeat_only=False, adjust=False,
                            method="whole-case"))
    patterns = rank.result["pattern"].tolist()
    ranked = _ranked(cases, patterns)  # the cases lifelines' log-rank baseline tests
    logrank = step(lambda: ck.compare_patterns(ranked, pairwise=False))
    base_rank = None if args.skip_lifelines else step(lambda: cm.lifelines_ranking(cases, patterns))
    intervals = step(lambda: ck.build_case_intervals(ev, cases=cases))
    tv_rank = step(lambda: ck.rank_collaborations(cases, intervals=intervals.result))
    intervals.result = None
    cox = step(lambda: ck.fit_cox(cases))
    small = cases.head(args.cox_baseline_cases)
    cox_small = step(lambda: ck.fit_cox(small))
    base_cox = None if args.skip_lifelines else step(lambda: ck.fit_cox(small, engine="lifelines"))
    print(f"  {cm.load()} after the runs")

    # same answers as the baselines
    bc = base_cases.result.reindex(cases["case_id"])
    same_cases = (bool((bc["pattern"].to_numpy() == cases["pattern"].to_numpy()).all())
                  and bool((bc["opened_at"].to_numpy() == cases["opened_at"].to_numpy()).all()))
    W, H = nets.result
    h_np, w_np = base_nets.result
    same_nets = ({(u, v): c for u, v, c in H.edges(data="count") if u != v}
                 == {k: c for k, c in h_np.items() if k[0] != k[1]}
                 and {(u, v): c for u, v, c in handover.result.edges(data="count")} == h_np
                 == {k: int(v) for k, v in base_handover.result.items()}
                 and {tuple(sorted((u, v))): c for u, v, c in W.edges(data="count")} == w_np)
    same_rank = "not run" if base_rank is None else str(
        cm.same_ranking(rank.result, logrank.result, base_rank.result))
    print(f"{len(ev):,} events accepted of {n_rows:,} rows; {len(cases):,} cases; "
          f"{ev['agency'].nunique()} agencies; {len(patterns)} patterns ranked")
    print(cm.row("read + validate (read_events)", rv, bare_read, "pyarrow read", width=34))
    print(cm.row("case table", cases_t, base_cases, "pandas vectorised", width=34))
    print(cm.row("both networks", nets, base_nets, "numpy floor", width=34))
    print(cm.row("  handover alone (counts)", handover, base_handover, "pandas groupby-shift",
                 width=34))
    if base_rank is not None:
        print(cm.row("KM ranking (medians, CIs, RMST, CIF)", rank, base_rank,
                     "lifelines KM + log-rank", width=34))
    else:
        print(cm.row("KM ranking (medians, CIs, RMST, CIF)", rank, width=34))
    print(cm.row("  log-rank (ranked patterns)", logrank, width=34)
          + f"  (chi2 {logrank.result['test_statistic'].iloc[0]:,.1f})")
    ckml = _total(cases_t, rank, logrank)
    base_ckm = None if base_rank is None else _total(base_cases, base_rank)
    print(cm.row("case table + ranking (goal)", ckml, base_ckm, "pandas + lifelines",
                 width=34) + "  (KM medians, CIs, RMST, CIF and the log-rank) goal <= 3 s cpu")
    print(cm.row("counting-process rows (intervals)", intervals, width=34))
    print(cm.row("ranking, default (time-varying Cox)", tv_rank, width=34)
          + f"  ({tv_rank.result.attrs['n_rows']:,} rows of repeat filings)")
    print(cm.row(f"fit_cox, {len(cases):,} cases", cox, width=34)
          + f"  ({len(cox.result)} terms)")
    if base_cox is not None:
        same_cox = bool(np.allclose(cox_small.result["coef"], base_cox.result["coef"],
                                    atol=5e-5))
        print(cm.row(f"fit_cox, first {len(small):,} cases", cox_small, base_cox,
                     "lifelines CoxPHFitter", width=34) + f"  same coefficients {same_cox}")
    for label in ("PM4Py handover of work", "PM4Py working together"):
        cells = cm.published(label)
        if cells:
            print(f"  published ({cm.BASELINES.name}): {label} at 1M cases "
                  f"{cells[3].strip('*')} s (100k: {cells[2].strip('*')} s)")
    steps = [rv, cases_t, nets, rank, logrank]
    total_cpu = sum(s.cpu for s in steps)
    total_wall = sum(s.wall for s in steps)
    peak = max(s.peak_mib for s in steps)
    per_m = peak / 1024 / (n_rows / 1e6)
    print(f"same answers as the baselines: case table {same_cases}, networks {same_nets}, "
          f"ranking medians, CIs and log-rank {same_rank}")
    data_per_m = (peak - start_mib) / 1024 / (n_rows / 1e6)
    print(f"process RSS before the steps {start_mib:,.0f} MiB; highest peak of a step "
          f"{peak:,.0f} MiB = {per_m:.2f} GiB per million events (goal <= 0.3); at that rate "
          f"a 24 GiB machine holds about {24 / per_m:.0f}M events (above the idle process: "
          f"{data_per_m:.2f} GiB per million events, about "
          f"{(24 - start_mib / 1024) / data_per_m:.0f}M events)")

    def goal(name: str, ok: bool, text: str) -> str:
        return f"  {name}: {text} -> {'met' if ok else 'MISSED'}"

    ratio_read = rv.cpu / bare_read.cpu
    ratio_cases = cases_t.cpu / base_cases.cpu
    ratio_nets = nets.cpu / base_nets.cpu
    ratio_ho = handover.cpu / base_handover.cpu
    cr = ckml.cpu
    print("goals (CPU seconds; wall is inflated by the machine's load):")
    print(goal("read + validate <= 2x pyarrow", ratio_read <= 2, f"{ratio_read:.1f}x"))
    print(goal("case table faster than pandas", ratio_cases < 1, f"{ratio_cases:.2f}x"))
    print(goal("case table + ranking (KM, CIs, log-rank) <= 3 s", cr <= 3, f"{cr:.2f} s"))
    print(goal("both networks <= 1.5x numpy", ratio_nets <= 1.5, f"{ratio_nets:.2f}x"))
    print(goal("handover faster than pandas", ratio_ho < 1, f"{ratio_ho:.2f}x"))
    print(goal("<= 0.3 GiB per million events", per_m <= 0.3, f"{per_m:.2f} GiB"))
    print(goal("fit_cox on the case table <= 10 s", cox.cpu <= 10, f"{cox.cpu:.2f} s"))
    print(f"  (the goal's 'ranking' is the KM ranking (medians, CIs, RMST, CIF) and the "
          f"log-rank of its patterns; the default time-varying Cox ranking takes "
          f"{intervals.cpu + tv_rank.cpu:.2f} s cpu more)")
    print(f"pipeline cases={len(cases)} events={len(ev)} cpu_s={total_cpu:.2f} "
          f"wall_s={total_wall:.2f} peak_mib={peak:.0f} gib_per_million_events={per_m:.2f} "
          f"read_x_pyarrow={ratio_read:.1f} cases_x_pandas={ratio_cases:.2f} "
          f"networks_x_numpy={ratio_nets:.2f} load1={__import__('os').getloadavg()[0]:.1f}")


def _ranked(cases, patterns):  # type: ignore[no-untyped-def]
    """The cases of the ranked patterns (what lifelines' log-rank baseline tests), few columns."""
    sub = cases[["pattern", "duration_days", "closed"]]
    return sub[sub["pattern"].isin(patterns).to_numpy()]


def _total(*steps: cm.Timing) -> cm.Timing:
    """Steps run one after the other, as one (highest peak, load at the first)."""
    return cm.Timing(sum(s.wall for s in steps), sum(s.cpu for s in steps),
                     sum(s.wall_min for s in steps), peak_mib=max(s.peak_mib for s in steps),
                     load1=steps[0].load1)


if __name__ == "__main__":
    main()
