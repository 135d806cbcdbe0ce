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

from casekit._utils import CasekitError
from casekit.cli._common import add_read_options, atomic_write, check_outputs, read_log

#: Problem lines printed before the rest is summarised (the quarantine file has every row).
MAX_LINES = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``validate`` options."""
    parser.add_argument("path", help="the log: .csv .tsv .xlsx .parquet .xes .xes.gz .xes.zip")
    add_read_options(parser)
    parser.add_argument("--quarantine", metavar="OUT.csv",
                        help="write the quarantined rows (PII masked) to this CSV file")
    parser.add_argument("--encoding", help="CSV encoding (default: detected)")
    parser.add_argument("--max-lines", type=int, default=MAX_LINES,
                        help=f"problem lines to print (default {MAX_LINES})")


def _check_encoding(name: str | None) -> None:
    """Refuse a codec Python does not know, in one line naming ``--encoding``."""
    import codecs

    if name is None:
        return
    try:
        codecs.lookup(name)
    except LookupError:
        raise CasekitError(f"--encoding {name!r}: unknown encoding; expected a name such as "
                           "utf-8, utf-8-sig, gb18030 or utf-16") from None


def run(args: argparse.Namespace) -> int:
    """Validate ``args.path``; return the exit code."""
    _check_encoding(args.encoding)
    check_outputs([("--quarantine", args.quarantine)], [args.path])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = read_log(args, args.path, report=True, encoding=args.encoding, progress=None)
    source = result.metadata.get("source") or Path(args.path).name  # scrubbed of PII by the read
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

        with atomic_write(args.quarantine, "--quarantine") as tmp:
            spreadsheet_safe(result.quarantine).to_csv(tmp, index=False, encoding="utf-8-sig")
    print(result.summary())
    if result.n_accepted == 0:
        print(f"{source}: error: no usable rows (all {result.n_read} quarantined); expected at "
              "least one valid event", file=sys.stderr)
    return result.exit_code
