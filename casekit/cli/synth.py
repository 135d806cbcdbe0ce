"""``casekit synth --cases N --seed S --out PATH``: write the seeded synthetic district.

Writes the events to PATH (``.csv``, ``.csv.gz``, ``.parquet`` or ``.xlsx``) and the planted
truth to ``<stem>.truth.json`` beside it. The same seed gives byte-identical files.
``--mode dynamic`` (default): agencies join open cases over time and a collaboration's effect
starts when it forms, with competing exits and a matter frailty; ``--mode upfront``: the older
district in which every agency of a case acts within its first day or two.
``--effect-scale 0`` gives the null district (collaboration has no effect); ``--start-cut DATE``
writes an extract that starts mid-stream (with an ``opened_at`` column).
``--partitions N`` writes ``--out DIR`` as a case-hash-partitioned Parquet dataset (the layout of
``casekit partition``), generated ``--chunk-cases K`` cases at a time so memory stays bounded
(for 10M cases and more); the truth goes to ``DIR.truth.json`` beside the folder.
``--policy-change 2024-01-01:leader_ownership_share=0.6`` plants a policy change: from that date
the share of repeat filings a leader owns is 0.6 instead of about 0.2 (recorded in the truth).
"""

from __future__ import annotations

import argparse

from casekit._utils import CasekitError

__all__ = ["add_arguments", "run"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _policy_change(text: str) -> dict[str, object]:
    """``DATE:LEVER=VALUE[,LEVER=VALUE]`` -> ``{"date": DATE, LEVER: VALUE}``."""
    date, sep, rest = text.partition(":")
    pairs = [p.partition("=") for p in rest.split(",")] if sep else []
    if not date or not pairs or any(not k or not eq or not v for k, eq, v in pairs):
        raise argparse.ArgumentTypeError(
            f"expected DATE:LEVER=VALUE (e.g. 2024-01-01:leader_ownership_share=0.6), got "
            f"{text!r}")
    out: dict[str, object] = {"date": date}
    for k, _, v in pairs:
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{k}: expected a number, got {v!r}") from None
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``synth`` options to ``parser``."""
    parser.add_argument("--cases", type=_positive_int, default=2000, metavar="N",
                        help="number of cases (filings), default 2000")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed, default 0")
    parser.add_argument("--out", required=True, metavar="PATH",
                        help="output file: .csv, .csv.gz, .parquet or .xlsx; the truth is "
                             "written to <stem>.truth.json beside it")
    parser.add_argument("--start", default="2023-01-01", metavar="DATE",
                        help="first filing day, default 2023-01-01")
    parser.add_argument("--observation-end", default=None, metavar="DATETIME",
                        help="end of observation (censoring); default start + 365 days")
    parser.add_argument("--mode", choices=("dynamic", "upfront"), default="dynamic",
                        help="dynamic (default): agencies join open cases over time; upfront: "
                             "every agency acts within the case's first days (older district)")
    parser.add_argument("--effect-scale", type=_non_negative_float, default=None, metavar="X",
                        help="dynamic mode: multiply the log effect of every collaboration by X "
                             "(default 1; 0 = collaboration has no effect, the null district)")
    parser.add_argument("--start-cut", default=None, metavar="DATE",
                        help="write an extract that starts mid-stream: only events at/after "
                             "DATE, plus an opened_at column (registration) for delayed entry")
    parser.add_argument("--policy-change", type=_policy_change, default=None,
                        metavar="DATE:LEVER=VALUE",
                        help="dynamic mode: plant a policy change from DATE, e.g. "
                             "2024-01-01:leader_ownership_share=0.6 (share of repeat filings "
                             "a leader owns; about 0.2 before)")
    parser.add_argument("--mechanism-scale", type=_non_negative_float, default=None,
                        metavar="X",
                        help="dynamic mode: multiply the log effect of leader ownership, "
                             "mediation and follow-up visits by X (default 1; 0 = markers only)")
    parser.add_argument("--partitions", type=_positive_int, default=None, metavar="N",
                        help="write --out as a folder: a case-hash-partitioned Parquet dataset "
                             "of N files (as casekit partition writes), generated in chunks")
    parser.add_argument("--chunk-cases", type=_positive_int, default=None, metavar="K",
                        help="with --partitions: cases generated at a time (default 250000); "
                             "memory grows with K, not with --cases")


#: Peak memory of ``casekit synth`` per case, measured (4.8 KB at 20k-80k cases) with a margin.
_BYTES_PER_CASE = 6_000
_BASE_BYTES = 300e6


def run(args: argparse.Namespace) -> int:
    """Generate and write the district; print a one-line summary. Returns the exit code."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from casekit.cli._common import check_memory, check_outputs, parse_observation_end
    from casekit.synth import truth_path_for, write_district

    dataset = args.partitions is not None
    if args.chunk_cases is not None and not dataset:
        raise CasekitError("--chunk-cases: applies with --partitions only")
    truth_path_for(args.out, dataset=dataset)  # bad extension -> CasekitError before any work
    start = parse_observation_end(args.start, "--start")
    obs = parse_observation_end(args.observation_end)
    parse_observation_end(args.start_cut, "--start-cut")  # a one-line error for a bad date
    if obs is not None and obs <= start:
        raise CasekitError(f"--observation-end {args.observation_end}: expected a date after "
                           f"--start {args.start}")
    if args.seed < 0:
        raise CasekitError(f"--seed: expected a non-negative integer, got {args.seed}")
    out = Path(args.out)
    truth = truth_path_for(out, dataset=dataset)
    if dataset and out.exists():
        raise CasekitError(f"--out {args.out}: already exists; expected a new folder for the "
                           "partitioned dataset")
    check_outputs([] if dataset else [("--out", out)], [])
    check_outputs([("--out (truth file)", truth)], [])
    in_memory = min(args.cases, args.chunk_cases or 250_000) if dataset else args.cases
    check_memory(_BASE_BYTES + _BYTES_PER_CASE * in_memory,
                 f"--chunk-cases {in_memory}" if dataset else f"--cases {args.cases}")
    folder = out.parent if str(out.parent) else Path(".")
    tmp_dir = Path(tempfile.mkdtemp(prefix=".casekit-synth-", dir=folder))
    try:  # written in a temporary folder beside the output, then both files renamed
        extra = {} if args.effect_scale is None else {"effect_scale": args.effect_scale}
        if dataset:
            extra.update(partitions=args.partitions, chunk_cases=args.chunk_cases)
        if args.policy_change is not None:
            extra["policy_change"] = args.policy_change
        if args.mechanism_scale is not None:
            extra["mechanism_scale"] = args.mechanism_scale
        ev_tmp, t_tmp = write_district(tmp_dir / out.name, args.cases, seed=args.seed,
                                       start=args.start, observation_end=args.observation_end,
                                       mode=args.mode, start_cut=args.start_cut, **extra)
        os.replace(t_tmp, truth)
        os.replace(ev_tmp, out)
    except OSError as exc:
        raise CasekitError(f"--out {args.out}: cannot write ({exc.strerror or exc})") from None
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    import json

    info = json.loads(truth.read_text(encoding="utf-8"))
    print(f"wrote {out} ({info['n_cases']} cases, {info['n_events']} events, "
          f"{info['share_open']:.1%} open at {info['observation_end']}, "
          f"{info['share_repeat_filings']:.1%} repeat filings, {args.mode} mode"
          + (f", {info['n_prevalent']} prevalent at {info['start_cut']}"
             if info.get("start_cut") else "")
          + (f", {args.partitions} partitions" if dataset else "")
          + (f", policy change on {info['policy_change']['date'][:10]}"
             if args.policy_change else "")
          + f") and truth {truth}")
    return 0
