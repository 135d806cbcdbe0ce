"""Benchmark: case table + ranking (KM, median CIs, RMST, log-rank) on a real-shaped district.

Reads a cached ``casekit synth`` district (``_common.py``: about 300 agencies, all 17 columns,
free text, a few quarantined rows) from Parquet, then times casekit's case table and ranking
beside baselines measured in the same run: a plain vectorised pandas case table and lifelines
(one ``KaplanMeierFitter`` per pattern with median CIs, plus the multivariate log-rank test),
and checks that the answers agree (patterns, KM medians and CIs, the log-rank chi-square). Cox is
measured by
``cox.py``. Goals (issue 15, 1M cases): case table faster than pandas; case table + ranking
<= 3 s.

    python benchmarks/rank.py [--cases 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import warnings

import _common as cm

import casekit as ck


def main() -> None:
    warnings.simplefilter("ignore")  # the whole-case warning: KM medians are what is timed here
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    path = cm.district(args.cases)
    import lifelines  # noqa: F401  (import cost outside the timings)

    cm.header(f"case table + ranking (medians of {args.repeat} runs)", path)
    ev = ck.read_events(path)
    ck.rank_collaborations(ck.build_case_table(ev.head(20_000)), repeat_only=False, adjust=False,
                            method="whole-case")
    r = args.repeat
    t_cases = cm.measure(lambda: ck.build_case_table(ev), r)
    cases = t_cases.result
    t_rank = cm.measure(
        lambda: ck.rank_collaborations(cases, repeat_only=False, adjust=False,
                            method="whole-case"), r)
    t_cmp = cm.measure(lambda: ck.compare_patterns(cases, min_cases=30, pairwise=False), r)
    t_iv = cm.measure(lambda: ck.build_case_intervals(ev, cases=cases), r)
    t_tv = cm.measure(lambda: ck.rank_collaborations(cases, intervals=t_iv.result,
                                                     repeat_only=True), 1)
    ranking = t_rank.result
    patterns = ranking["pattern"].tolist()
    ranked = cases[cases["pattern"].isin(patterns).to_numpy()]
    t_lr = cm.measure(lambda: ck.compare_patterns(ranked, pairwise=False), r)
    b_cases = cm.measure(lambda: cm.pandas_case_table(ev), r)
    b_rank = cm.measure(lambda: cm.lifelines_ranking(cases, patterns), 1)
    print(f"  {cm.load()} after the runs")

    bc = b_cases.result.reindex(cases["case_id"])
    same_cases = bool((bc["pattern"].to_numpy() == cases["pattern"].to_numpy()).all())
    same_km = cm.same_ranking(ranking, t_lr.result, b_rank.result)
    print(f"{len(ev):,} events, {len(cases):,} cases, {len(patterns)} patterns ranked")
    print(cm.row("case table", t_cases, b_cases, "pandas vectorised", width=34))
    print(cm.row("KM ranking (medians, CIs, RMST, CIF)", t_rank, width=34))
    print(cm.row("log-rank, ranked patterns", t_lr, width=34))
    ranking_t = cm.Timing(t_rank.wall + t_lr.wall, t_rank.cpu + t_lr.cpu,
                          t_rank.wall_min + t_lr.wall_min)
    print(cm.row("ranking (KM + log-rank)", ranking_t, b_rank, "lifelines", width=34))
    print(cm.row("multivariate log-rank, all patterns", t_cmp, width=34))
    print(cm.row("counting-process rows", t_iv, width=34))
    print(cm.row("time-varying ranking, repeat filings", t_tv, width=34)
          + f"  ({t_tv.result.attrs['n_rows']:,} rows, {len(t_tv.result)} patterns)")
    both = t_cases.cpu + ranking_t.cpu
    ratio = t_cases.cpu / b_cases.cpu
    print(f"same answers: patterns {same_cases}, KM medians and CIs and log-rank {same_km}")
    print(f"goals: case table {ratio:.2f}x pandas (goal < 1: {'met' if ratio < 1 else 'MISSED'});"
          f" case table + ranking {both:.2f} s cpu, {t_cases.wall + ranking_t.wall:.2f} s wall "
          f"(goal <= 3 s: {'met' if both <= 3 else 'MISSED'})")
    print(f"rank cases={len(cases)} case_table_cpu_s={t_cases.cpu:.3f} "
          f"ranking_cpu_s={ranking_t.cpu:.3f} case_table_x_pandas={ratio:.2f} "
          f"lifelines_x_ranking={b_rank.cpu / ranking_t.cpu:.1f} same={same_cases and same_km}")


if __name__ == "__main__":
    main()
