"""``casekit partition PATH --out DIR --partitions N [--columns MAP] [--observation-end DATE]``.

Writes the log as a case-hash-partitioned Parquet dataset (:func:`casekit.scale.partition_events`):
``DIR/part.NNNNN.parquet`` (every case whole in one file, sorted by case and time), the metadata
``DIR/_casekit.json`` (observation end, column mapping, counts read / accepted / quarantined) and
the quarantined rows ``DIR/_quarantine.csv`` (values masked). The input is streamed, so it may be
larger than memory. ``casekit network DIR`` and ``casekit rank DIR`` then read the folder, on a
Dask cluster given by ``--scheduler`` (default: a local cluster sized to the machine).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from casekit._utils import CasekitError
from casekit.cli._common import add_columns_option, parse_columns


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``partition`` options."""
    parser.add_argument("path", metavar="PATH", help="event log (.parquet .csv .xlsx .xes ...)")
    add_columns_option(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="dataset folder to create")
    parser.add_argument("--partitions", required=True, type=int, metavar="N",
                        help="number of partitions (files); one must fit in a worker's memory")
    parser.add_argument("--observation-end", metavar="DATE",
                        help="censor at DATE; later events are quarantined (default: the log's "
                             "last timestamp)")
    parser.add_argument("--block-rows", type=int, default=1_000_000, metavar="ROWS",
                        help="rows read and validated at a time (default 1000000)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace DIR when it is an existing casekit dataset")


def run(args: argparse.Namespace) -> int:
    """Partition the log; print the counts and the observation end; return 0."""
    from casekit.scale import partition_events

    src, out = Path(args.path).resolve(), Path(args.out).resolve()
    if src == out or out in src.parents:
        raise CasekitError(f"--out {args.out}: would write over the input {args.path}")
    if args.block_rows < 1:
        raise CasekitError(f"--block-rows: expected a positive integer, got {args.block_rows}")
    meta = partition_events(args.path, args.out, partitions=args.partitions,
                            columns=parse_columns(args.columns),
                            observation_end=args.observation_end, block_rows=args.block_rows,
                            overwrite=args.overwrite)
    print(f"read {meta['n_read']} rows, accepted {meta['n_accepted']}, quarantined "
          f"{meta['n_quarantined']} (of which {meta['n_duplicates']} exact duplicates, kept and "
          f"flagged); {meta['n_cases']} cases in {meta['partitions']} partitions")
    print(f"observation_end: {meta['observation_end']}")
    print(f"wrote {args.out}")
    if meta["n_quarantined"] - meta["n_duplicates"]:
        print(f"casekit partition: note: quarantined rows are listed in "
              f"{Path(args.out) / '_quarantine.csv'}", file=sys.stderr)
    return 0
