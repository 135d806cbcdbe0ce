"""``casekit rank PATH [--columns MAP] [--repeat-only|--all-filings] [--outcome close|settle|any-exit] [--method M] [--min-cases K] --out RANKING.csv``.

Reads the log (:func:`casekit.io.read_events`), builds the case table
(:func:`casekit.cases.build_case_table`, repeats linked by same petitioner + category + address
when the log has no matter id) and its counting-process rows
(:func:`casekit.cases.build_case_intervals`), and ranks the collaboration patterns with
:func:`casekit.ranking.rank_collaborations` (time-varying by default), fastest first.

Outputs (UTF-8 CSV, spreadsheet-safe, no petitioner data):

* ``RANKING.csv``: ``rank,pattern,n_cases,n_closed,median_days,median_ci_low,median_ci_high,
  hazard_ratio,hr_ci_low,hr_ci_high,p_value,method,p_holm,p_best,in_best_set,rank_low,
  rank_high,cif_30,cif_60,cif_90`` then ``ranked_by, rmst_days, ..., observation_end``;
* ``<stem>.excluded.csv`` next to it: the patterns left out (``pattern, n_cases, n_closed,
  reason``), always written (header only when none).

A summary goes to stdout: the observation end, method and estimand, the counts behind the
answer, and the headline, which names the 90% confidence set for the fastest pattern whenever
the top pattern's probability of being fastest is below 0.8.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from casekit._utils import CasekitError
from casekit.cli._common import (
    add_read_options,
    add_scope_options,
    check_outputs,
    parse_observation_end,
    read_log,
    safe_table,
    write_csv,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``rank`` options."""
    parser.description = (
        "Rank collaboration patterns by censoring-aware time to close (or settle), fastest "
        "first. By default a pattern counts from the moment its last agency type joins "
        "(time-varying). Writes RANKING.csv and, next to it, <stem>.excluded.csv listing the "
        "patterns left out and why (never silently dropped)."
    )
    parser.add_argument("path", metavar="PATH", help="event log (.csv .xlsx .parquet .xes ...)")
    add_read_options(parser)
    add_scope_options(parser)
    parser.add_argument("--method", default="time-varying", metavar="METHOD",
                        help="time-varying (default: pattern in force), landmark-DAYS "
                        "(e.g. landmark-30: pattern at day 30 among cases open then), or "
                        "whole-case (biased when agencies join during the case)")
    parser.add_argument("--cluster", choices=["matter", "petitioner", "none"], default="matter",
                        help="cluster-robust errors by matter (default), petitioner, or none")
    parser.add_argument("--stratify", choices=["matter"], default=None,
                        help="stratify by matter: a within-matter effect (default: none, a "
                        "population-average effect)")
    parser.add_argument("--min-cases", type=int, default=30, metavar="K",
                        help="patterns with fewer cases go to <stem>.excluded.csv (default 30)")
    parser.add_argument("--unadjusted", action="store_true",
                        help="rank by Kaplan-Meier median instead of the adjusted hazard ratio")
    parser.add_argument("--seed", type=int, default=0, metavar="S",
                        help="seed of the draws behind p_best and the rank intervals (default 0)")
    parser.add_argument("--settle-window-days", type=float, default=180, metavar="DAYS",
                        help="no re-filing within DAYS after closure = settled (default 180)")
    parser.add_argument("--out", required=True, metavar="RANKING.csv", help="ranking to write")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="PATH is a partitioned folder: "
                        "Dask scheduler (default: a local cluster sized to this machine)")
    parser.add_argument("--progress", action="store_true", help="PATH is a partitioned folder: "
                        "show Dask's progress bar on stderr even when it is not a terminal")


def _has_repeats(cases: pd.DataFrame) -> bool:
    if "repeat_ordinal" not in cases:
        return False
    return bool((pd.to_numeric(cases["repeat_ordinal"], errors="coerce").fillna(1) >= 2).any())


def run(args: argparse.Namespace) -> int:
    """Read, build the case table, rank, write RANKING.csv and <stem>.excluded.csv; return 0."""
    import warnings

    from casekit.ranking import (
        NothingToRankError,
        describe_ranking,
        excluded_patterns,
        rank_collaborations,
    )

    out = Path(args.out)
    ex_path = out.with_name(f"{out.stem}.excluded.csv")
    check_outputs([("--out", out), ("--out (excluded patterns)", ex_path)], [args.path])
    if args.min_cases < 1:
        raise CasekitError(f"--min-cases: expected a positive integer, got {args.min_cases}")
    if not args.settle_window_days > 0:
        raise CasekitError(f"--settle-window-days: expected a positive number of days, got "
                           f"{args.settle_window_days}")
    obs_end = parse_observation_end(args.observation_end)  # None: the log's (plausible) end
    cases, intervals = _cases_and_intervals(args, obs_end)
    notes = []
    repeat_only = args.repeat_only
    if repeat_only is None:
        repeat_only = _has_repeats(cases)
        if not repeat_only:
            notes.append("no repeat filings in the log: ranking all filings")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ranking = rank_collaborations(
                cases, intervals=intervals, method=args.method, repeat_only=repeat_only,
                outcome=args.outcome, min_cases=args.min_cases, adjust=not args.unadjusted,
                cluster=args.cluster, stratify=args.stratify, seed=args.seed)
        except NothingToRankError as exc:  # the log is usable; there is just no answer in it
            from casekit.privacy import scrub_message

            print(f"casekit rank: {scrub_message(exc, max_chars=800)}", file=sys.stderr)
            return 1
    notes += [str(w.message) for w in caught]
    excluded = excluded_patterns(ranking)
    # 6 significant digits: readable, and no long digit runs that look like ID numbers
    write_csv(safe_table(ranking, ("pattern", "reference_pattern")), out, "--out",
              encoding="utf-8", lineterminator="\n", float_format="%.6g")
    write_csv(safe_table(excluded, ("pattern",)), ex_path, "--out", encoding="utf-8",
              lineterminator="\n")
    _print_summary(ranking, excluded, cases, ex_path, repeat_only, args.outcome)
    for note in [*notes, *filter(None, ranking.attrs["notes"].split("; "))]:
        print(f"note: {note}", file=sys.stderr)
    print(describe_ranking(ranking))
    print(f"wrote {out}")
    return 0


def _cases_and_intervals(args: argparse.Namespace,
                         obs_end: Any) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The case table and (unless whole-case) its counting-process rows, in memory or on Dask."""
    need_rows = args.method != "whole-case"
    if Path(args.path).is_dir():  # a partitioned dataset (casekit partition): on Dask
        from casekit import scale

        with scale.cluster(args.scheduler, progress="always" if args.progress else True):
            cases = scale.build_case_table(args.path, observation_end=obs_end,
                                           settle_window_days=args.settle_window_days)
            intervals = (scale.build_case_intervals(args.path, observation_end=obs_end)
                         if need_rows else None)
        return cases, intervals
    from casekit.cases import build_case_intervals, build_case_table

    events = read_log(args, args.path)
    cases = build_case_table(events, observation_end=obs_end,
                             settle_window_days=args.settle_window_days)
    return cases, (build_case_intervals(events, cases=cases) if need_rows else None)


def _print_summary(ranking: pd.DataFrame, excluded: pd.DataFrame, cases: pd.DataFrame,
                   ex_path: Path, repeat_only: bool, outcome: str) -> None:
    a = ranking.attrs
    scope = "repeat filings" if repeat_only else "filings"
    print(f"observation_end: {a['observation_end']} (open cases are censored here)")
    print(f"method: {a['method']}; estimand: {a['estimand']}")
    print(f"cases: {len(cases)}; {scope} in a ranked pattern: {a['n_cases_used']} of "
          f"{a['n_cases_considered']} in {len(ranking)} patterns; outcome: time to {outcome}; competing exits: {a['n_competing_exits']}; "
          f"prevalent at the log's start: {a['n_prevalent']} "
          f"({a['n_prevalent_excluded']} without an opening date, left out of durations)")
    print(f"ranked by: {a['ranked_by']}"
          + (f" (reference pattern: {a['reference']})" if a["ranked_by"] != "median" else ""))
    print(f"excluded: {len(excluded)} patterns, "
          f"{int(excluded['n_cases'].sum()) if len(excluded) else 0} cases -> {ex_path}")
