"""``casekit rank PATH [--columns MAP] [--repeat-only] [--outcome close|settle] [--min-cases K] --out RANKING.csv``.

Reads the log (:func:`casekit.io.read_events`), builds the case table
(:func:`casekit.cases.build_case_table`, repeats linked by same petitioner + category + address
when the log has no matter id) and ranks the collaboration patterns with
:func:`casekit.survival.rank_collaborations`, fastest first.

Outputs (UTF-8 CSV, spreadsheet-safe, no petitioner data):

* ``RANKING.csv``: ``rank,pattern,n_cases,n_closed,median_days,median_ci_low,median_ci_high,
  hazard_ratio,hr_ci_low,hr_ci_high,p_value`` then ``ranked_by, rmst_days, ...,
  observation_end``;
* ``<stem>.excluded.csv`` next to it: the patterns under ``--min-cases`` (``pattern, n_cases,
  n_closed, reason``), always written (header only when none).

A summary with the observation end goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from casekit.cli._common import add_columns_option, parse_columns, safe_table
from casekit._utils import CasekitError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``rank`` options."""
    parser.description = (
        "Rank collaboration patterns by censoring-aware time to close (or settle), fastest "
        "first. Writes RANKING.csv and, next to it, <stem>.excluded.csv listing the patterns "
        "under --min-cases (they are left out of the ranking, never silently dropped)."
    )
    parser.add_argument("path", metavar="PATH", help="event log (.csv .xlsx .parquet .xes ...)")
    add_columns_option(parser)
    parser.add_argument("--repeat-only", action="store_true",
                        help="rank repeat filings only (repeat_ordinal >= 2)")
    parser.add_argument("--outcome", choices=["close", "settle"], default="close",
                        help="time to first close (default) or to settlement")
    parser.add_argument("--min-cases", type=int, default=30, metavar="K",
                        help="patterns with fewer cases go to <stem>.excluded.csv (default 30)")
    parser.add_argument("--unadjusted", action="store_true",
                        help="rank by Kaplan-Meier median instead of the adjusted hazard ratio")
    parser.add_argument("--observation-end", metavar="DATE",
                        help="censor open cases at DATE (default: the log's last timestamp)")
    parser.add_argument("--settle-window-days", type=float, default=180, metavar="DAYS",
                        help="no re-filing within DAYS after closure = settled (default 180)")
    parser.add_argument("--out", required=True, metavar="RANKING.csv", help="ranking to write")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="PATH is a partitioned folder: "
                        "Dask scheduler (default: a local cluster sized to this machine)")


def run(args: argparse.Namespace) -> int:
    """Read, build the case table, rank, write RANKING.csv and <stem>.excluded.csv; return 0."""
    from casekit.cases import build_case_table
    from casekit.io import read_events
    from casekit.survival import rank_collaborations

    out = Path(args.out)
    if not out.parent.exists():
        raise CasekitError(f"--out {args.out}: folder {out.parent} does not exist")
    if args.min_cases < 1:
        raise CasekitError(f"--min-cases: expected a positive integer, got {args.min_cases}")
    if Path(args.path).is_dir():  # a partitioned dataset (casekit partition): on Dask
        from casekit import scale

        with scale.cluster(args.scheduler, progress=True):
            cases = scale.build_case_table(args.path, observation_end=args.observation_end,
                                           settle_window_days=args.settle_window_days)
    else:
        events = read_events(args.path, columns=parse_columns(args.columns),
                             observation_end=args.observation_end)
        cases = build_case_table(events, observation_end=args.observation_end,
                                 settle_window_days=args.settle_window_days)
    ranking = rank_collaborations(cases, repeat_only=args.repeat_only, outcome=args.outcome,
                                  min_cases=args.min_cases, adjust=not args.unadjusted)
    excluded = ranking.attrs["excluded"]
    ex_path = out.with_name(f"{out.stem}.excluded.csv")
    try:
        # 6 significant digits: readable, and no long digit runs that look like ID numbers
        safe_table(ranking, ("pattern",)).to_csv(
            out, index=False, encoding="utf-8", lineterminator="\n",
            float_format="%.6g")
        safe_table(excluded, ("pattern",)).to_csv(
            ex_path, index=False, encoding="utf-8", lineterminator="\n")
    except OSError as exc:
        raise CasekitError(f"--out {args.out}: cannot write ({exc.strerror or exc})") from None
    obs = ranking.attrs["observation_end"]
    scope = "repeat filings" if args.repeat_only else "filings"
    print(f"observation_end: {obs} (open cases are censored here)")
    print(f"cases: {len(cases)}; {scope} ranked: {ranking.attrs['n_cases_used']} "
          f"in {len(ranking)} patterns; outcome: time to {args.outcome}")
    print(f"ranked by: {ranking.attrs['ranked_by']}"
          + (f" (reference pattern: {ranking.attrs['reference']})"
             if ranking.attrs["ranked_by"] != "median" else ""))
    if len(ranking):
        top = ranking.iloc[0]
        print(f"fastest: {top['pattern']} (median {top['median_days']:.1f} days, "
              f"hazard ratio {top['hazard_ratio']:.2f})")
    print(f"excluded (under {args.min_cases} cases): {len(excluded)} patterns, "
          f"{int(excluded['n_cases'].sum()) if len(excluded) else 0} cases -> {ex_path}")
    for note in ranking.attrs.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {out}")
    return 0
