"""``casekit report PATH [--columns MAP] [--repeat-only|--all-filings] [--outcome close|settle|any-exit] [--min-cases K] --out REPORT.html``.

An HTML report on a case log, with the ranking options of ``casekit rank``. The reading options
shared by every command (``--sheet``, ``--labels``, ``--shape``, ``--timezone``, ``--dayfirst`` /
``--monthfirst``, ``--max-unpacked``) are applied by reading the log here first
(:func:`casekit.read_events`) and handing the report the canonical events as a Parquet file
named after the log; without them the report reads the log itself. ``PATH`` may be a folder
written by ``casekit partition``: the report then runs on Dask (``--scheduler``).
"""

from __future__ import annotations

import argparse
import sys

from casekit.cli._common import (
    add_read_options,
    add_scope_options,
    atomic_write,
    check_outputs,
    parse_columns,
    read_kwargs,
    read_log,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``report`` options."""
    parser.add_argument("path", metavar="PATH", help="case log (.csv .xlsx .parquet .xes ...) "
                        "or a folder written by casekit partition")
    add_read_options(parser)
    parser.add_argument("--out", required=True, metavar="REPORT.html", help="HTML file to write")
    add_scope_options(parser)
    parser.add_argument("--min-cases", type=int, default=30, metavar="K",
                        help="minimum cases for a pattern to be ranked (default 30)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="PATH is a partitioned folder: "
                        "Dask scheduler (default: a local cluster sized to this machine)")
    parser.add_argument("--timeout", type=float, default=300, metavar="S",
                        help="per-cell timeout in seconds (default 300)")


def _needs_pre_read(args: argparse.Namespace) -> bool:
    """Whether a reading option beyond ``--columns`` / ``--observation-end`` was given."""
    return bool(args.sheet or args.labels or args.shape != "auto" or args.dayfirst
                or args.monthfirst or args.max_unpacked or args.timezone != "auto")


def run(args: argparse.Namespace) -> int:
    """Build the report; print where it is."""
    import tempfile
    from pathlib import Path

    from casekit.io import check_input_path, write_events
    from casekit.report import build_report

    folder = Path(args.path).is_dir()
    if folder:
        from casekit.scale import dataset_metadata

        dataset_metadata(args.path)  # not a partitioned dataset: one line, before any kernel
    else:
        check_input_path(Path(args.path))
    out = check_outputs([("--out", args.out)], [args.path])[0]
    read_kwargs(args)  # every option checked (one line) before the notebook runs
    if args.min_cases < 1:
        from casekit._utils import CasekitError

        raise CasekitError(f"--min-cases: expected a positive integer, got {args.min_cases}")
    with tempfile.TemporaryDirectory(prefix="casekit-report-in-") as tmp_dir, \
            atomic_write(out) as tmp:
        source, columns = args.path, parse_columns(args.columns)
        if _needs_pre_read(args) and not folder:
            events = read_log(args, args.path)
            shown = Path(str(events.attrs.get("casekit", {}).get("source") or "log")).stem
            source = write_events(events, Path(tmp_dir) / f"{shown}.parquet")  # PII-scrubbed
            columns = None
        build_report(source, out=tmp, columns=columns, observation_end=args.observation_end,
                     min_cases=args.min_cases, repeat_only=args.repeat_only,
                     outcome=args.outcome, scheduler=args.scheduler, timeout=args.timeout)
    print(f"casekit report: wrote {out} ({out.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0
