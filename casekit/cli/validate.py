"""``casekit validate PATH [--columns MAP] [--quarantine OUT.csv]``: check a case log.

Exit 0 when every row is valid, 1 when some rows were quarantined, 2 when the file is unusable
(unreadable, empty, wrong format, a required column missing, or no usable row). Problems go to
stderr, one line each, naming file, row, column and what was expected; the summary line with the
read / accepted / quarantined counts goes to stdout.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from casekit.cli._common import add_columns_option, parse_columns

#: Problem lines printed before the rest is summarised (the quarantine file has every row).
MAX_LINES = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``validate`` options."""
    parser.add_argument("path", help="the log: .csv .tsv .xlsx .parquet .xes .xes.gz .xes.zip")
    add_columns_option(parser)
    parser.add_argument("--quarantine", metavar="OUT.csv",
                        help="write the quarantined rows (PII masked) to this CSV file")
    parser.add_argument("--sheet", help="Excel sheet name (default: the first sheet)")
    parser.add_argument("--encoding", help="CSV encoding (default: detected)")
    parser.add_argument("--observation-end", metavar="DATETIME",
                        help="events after it are quarantined (default: the last timestamp)")
    parser.add_argument("--timezone", default="Asia/Shanghai",
                        help="zone that timestamps with offsets are converted to "
                        "(default Asia/Shanghai; 'none' keeps the recorded wall clock)")
    parser.add_argument("--labels", metavar="FILE",
                        help="extra label mappings: CSV with column,label,identifier or JSON")
    parser.add_argument("--max-lines", type=int, default=MAX_LINES,
                        help=f"problem lines to print (default {MAX_LINES})")


def run(args: argparse.Namespace) -> int:
    """Validate ``args.path``; return the exit code."""
    from casekit._utils import CasekitError
    from casekit.io import read_events_report

    timezone = None if str(args.timezone).lower() in ("none", "") else args.timezone
    obs = None
    if args.observation_end:
        import pandas as pd

        try:
            obs = pd.Timestamp(args.observation_end)
        except ValueError:
            raise CasekitError(f"--observation-end: cannot read {args.observation_end!r}; "
                               "expected a date such as 2023-12-31") from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = read_events_report(
            args.path,
            columns=parse_columns(args.columns),
            sheet=int(args.sheet) if args.sheet and args.sheet.isdigit() else args.sheet,
            encoding=args.encoding,
            observation_end=obs,
            timezone=timezone,
            label_map=args.labels,
            progress=None,
        )
    source = Path(args.path).name
    lines = [p.line() for p in result.problems]
    lines += [f"{source}: note: {str(w.message).splitlines()[0]}" for w in caught]
    limit = max(0, int(args.max_lines))
    for line in lines[:limit]:
        print(line, file=sys.stderr)
    if len(lines) > limit:
        print(f"{source}: ... {len(lines) - limit} more problem line(s) not shown"
              + (f"; every quarantined row is in {args.quarantine}" if args.quarantine else
                 "; use --quarantine OUT.csv to get every quarantined row"), file=sys.stderr)
    if args.quarantine:
        from casekit.privacy import spreadsheet_safe

        out = Path(args.quarantine)
        try:
            spreadsheet_safe(result.quarantine).to_csv(out, index=False, encoding="utf-8-sig")
        except OSError as exc:
            raise CasekitError(f"--quarantine {out}: cannot write ({exc.strerror})") from None
    print(result.summary())
    if result.n_accepted == 0:
        print(f"{source}: error: no usable rows (all {result.n_read} quarantined); expected at "
              "least one valid event", file=sys.stderr)
    return result.exit_code
