"""``casekit report PATH [--columns MAP] --out REPORT.html``: an HTML report on a case log."""

from __future__ import annotations

import argparse
import sys

from casekit.cli._common import (
    add_columns_option,
    atomic_write,
    check_outputs,
    parse_columns,
    parse_observation_end,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` options."""
    parser.add_argument("path", metavar="PATH", help="case log (.csv .xlsx .parquet .xes ...)")
    add_columns_option(parser)
    parser.add_argument("--out", required=True, metavar="REPORT.html", help="HTML file to write")
    parser.add_argument("--observation-end", metavar="DATE",
                        help="censoring date (default: the log's last timestamp)")
    parser.add_argument("--min-cases", type=int, default=30, metavar="K",
                        help="minimum cases for a pattern to be ranked (default 30)")
    parser.add_argument("--timeout", type=float, default=300, metavar="S",
                        help="per-cell timeout in seconds (default 300)")


def run(args: argparse.Namespace) -> int:
    """Build the report; print where it is."""
    from pathlib import Path

    from casekit.io import check_input_path
    from casekit.report import build_report

    check_input_path(Path(args.path))
    out = check_outputs([("--out", args.out)], [args.path])[0]
    columns = parse_columns(args.columns)
    parse_observation_end(args.observation_end)  # one-line error before the notebook runs
    with atomic_write(out) as tmp:
        build_report(args.path, out=tmp, columns=columns, observation_end=args.observation_end,
                     min_cases=args.min_cases, timeout=args.timeout)
    print(f"casekit report: wrote {out} ({out.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0
