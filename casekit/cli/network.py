"""``casekit network PATH [--columns MAP] --kind working-together|handover [--include-self] --out EDGES.csv``.

Writes the agency network as an edge table ``source,target,count,share`` (contract in
ARCHITECTURE.md):

* handover: directed; ``count`` = consecutive event pairs a -> b within cases (time order, ties in
  source order); ``share`` = count / all consecutive pairs (self pairs included in the
  denominator, as PM4Py does); self pairs a -> a are rows only with ``--include-self``.
* working-together: one row per unordered pair with ``source < target``; ``count`` = cases in
  which both acted; ``share`` = count / number of cases.

The CSV holds agency labels and numbers only (no petitioner data); labels are PII-masked and
neutralised against spreadsheet formulas.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from casekit._utils import CasekitError, FileUnusableError
from casekit.cli._common import add_read_options, check_outputs, read_log, safe_table, write_csv

EDGE_COLUMNS = ["source", "target", "count", "share"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``network`` options."""
    parser.add_argument("path", metavar="PATH", help="event log (.csv .xlsx .parquet .xes ...)")
    add_read_options(parser)
    parser.add_argument("--kind", required=True, choices=["working-together", "handover"],
                        help="which network")
    parser.add_argument("--include-self", action="store_true",
                        help="handover: keep self pairs a -> a")
    parser.add_argument("--level", choices=["agency", "agency_type"], default="agency",
                        help="nodes are agencies (default) or agency types")
    parser.add_argument(
        "--drop-duplicates", action="store_true",
        help="leave out exact duplicate events (default: count events as recorded, as PM4Py does)",
    )
    parser.add_argument("--out", required=True, metavar="EDGES.csv", help="edge table to write")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="PATH is a partitioned folder: "
                        "Dask scheduler (default: a local cluster sized to this machine)")
    parser.add_argument("--progress", action="store_true", help="PATH is a partitioned folder: "
                        "show Dask's progress bar on stderr even when it is not a terminal")


def run(args: argparse.Namespace) -> int:
    """Read the log, build the network, write EDGES.csv; return 0."""
    from casekit.network import (
        build_handover_network,
        build_working_together_network,
        edges_to_frame,
    )

    out = check_outputs([("--out", args.out)], [args.path])[0]
    if args.include_self and args.kind != "handover":
        raise CasekitError("--include-self only applies to --kind handover")
    if Path(args.path).is_dir():  # a partitioned dataset (casekit partition): on Dask
        from casekit import scale

        events, kind = None, args.kind.replace("-", "_")
        meta = scale.read_metadata(args.path, drop_duplicates=args.drop_duplicates)
    else:
        events = read_log(args, args.path, drop_duplicates=args.drop_duplicates)
        meta = events.attrs.get("casekit") or {}
    mapping = meta.get("column_mapping")
    if isinstance(mapping, dict) and "agency" not in mapping:
        recognised = ", ".join(f"{k} ({v})" for k, v in mapping.items()) or "none"
        raise FileUnusableError(
            f"{args.path}: no agency column, so there is no network to build "
            f"(recognised: {recognised}); map one with --columns agency=COLUMN"
        )
    if events is None:
        with scale.cluster(args.scheduler, progress="always" if args.progress else True):
            G = scale.build_network(args.path, kind, include_self=args.include_self,
                                    level=args.level, drop_duplicates=args.drop_duplicates)
    elif args.kind == "handover":
        G = build_handover_network(
            events, include_self=args.include_self, level=args.level, lags=False
        )
    else:
        G = build_working_together_network(events, level=args.level)
    detail = (f"{G.graph['n_pairs']} consecutive pairs" if args.kind == "handover"
              else f"{G.graph['n_cases']} cases")
    left_out = int(meta.get("n_quarantined") or 0)
    if left_out:
        dups = int(meta.get("n_duplicates") or 0)
        print(
            f"casekit network: note: {left_out} event(s) were quarantined by the reader and are "
            f"not counted ({dups} exact duplicates); run casekit validate for the list",
            file=sys.stderr,
        )
    edges = safe_table(edges_to_frame(G)[EDGE_COLUMNS], ("source", "target"))
    write_csv(edges, out, "--out", encoding="utf-8", lineterminator="\n")
    print(
        f"casekit network: wrote {len(edges)} {args.kind} edges among "
        f"{G.number_of_nodes()} {args.level.replace('_', ' ')} nodes ({detail}) to {out}",
        file=sys.stderr,
    )
    return 0
