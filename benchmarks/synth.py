"""Benchmark: generate the synthetic district (default 1,000,000 cases) and compare with a baseline.

Prints cases, events, wall and CPU seconds, peak RSS, events/s, and the ratio against a baseline
measured in the same run: building a DataFrame of the same shape (same number of rows, same
columns and dtypes, string columns from small dictionaries) straight from random numpy arrays,
i.e. the unavoidable cost of materialising the output. Targets: 20k cases in < 2 s, 1M cases in
<= 60 s. ``--mode`` picks the district (default dynamic); ``--compare`` also times the other mode
in the same run. ``--partitions P [--chunk-cases K]`` instead times the chunked, partitioned
writer (``write_district(..., partitions=P, chunk_cases=K)``) into a temporary folder and prints
its peak RSS; run it once with ``--chunk-cases`` >= ``--cases`` for the whole-district figure
(each in its own process: peak RSS is per process).

    .venv/bin/python benchmarks/synth.py [--cases N] [--seed S] [--mode dynamic|upfront]
                                         [--compare] [--write PATH]
                                         [--partitions P [--chunk-cases K]]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import pandas as pd
import pyarrow as pa


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _baseline(n_rows: int, n_cases: int, columns: pd.Index, dtypes: pd.Series) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    out = {}
    case_dict = pa.array([f"XF{i:07d}" for i in range(n_cases)], pa.large_string())
    small = pa.array([f"值{i}" for i in range(300)], pa.large_string())
    case_codes = np.sort(rng.integers(0, n_cases, n_rows))
    for col in columns:
        dt = str(dtypes[col])
        if col == "timestamp":
            out[col] = pd.to_datetime(rng.integers(1.67e18, 1.70e18, n_rows), unit="ns")
        elif dt == "int64":
            out[col] = rng.integers(1, 5, n_rows)
        elif dt == "float64":
            out[col] = rng.random(n_rows)
        else:
            d = case_dict if col in ("case_id", "petitioner_id", "matter_id", "address") else small
            codes = case_codes if d is case_dict else rng.integers(0, len(d), n_rows)
            out[col] = pd.Series(d.take(pa.array(codes)),
                                 dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    return pd.DataFrame(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", choices=("dynamic", "upfront"), default="dynamic")
    parser.add_argument("--compare", action="store_true",
                        help="also time the other mode (same cases and seed)")
    parser.add_argument("--write", default=None, help="also write the events (.csv/.parquet)")
    parser.add_argument("--partitions", type=int, default=None,
                        help="time the chunked partitioned writer instead")
    parser.add_argument("--chunk-cases", type=int, default=250_000)
    args = parser.parse_args()
    if args.partitions:
        _chunked(args)
        return

    from casekit.synth import _write_events_deterministic, generate_district

    w0, c0 = time.perf_counter(), time.process_time()
    events, truth = generate_district(args.cases, seed=args.seed, mode=args.mode)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    rss = _peak_rss_mb()
    n = len(events)
    print(f"mode            {args.mode:>12}")
    print(f"cases           {args.cases:>12,}")
    print(f"events          {n:>12,}")
    print(f"generate wall   {wall:>12.2f} s   (target <= 60 s for 1M cases)")
    print(f"generate cpu    {cpu:>12.2f} s")
    print(f"peak RSS        {rss:>12,.0f} MiB")
    print(f"events/s        {n / wall:>12,.0f}")
    print(f"share open      {truth['share_open']:>12.3f}")
    print(f"share repeat    {truth['share_repeat_filings']:>12.3f}")
    if args.mode == "dynamic":
        print(f"share competing {truth['observed']['share_competing_exit']:>12.3f}")
        print(f"share w/ joiner {truth['observed']['share_with_a_joiner']:>12.3f}")

    cols, dtypes = events.columns, events.dtypes
    del events
    w0, c0 = time.perf_counter(), time.process_time()
    base = _baseline(n, args.cases, cols, dtypes)
    bwall, bcpu = time.perf_counter() - w0, time.process_time() - c0
    print(f"baseline wall   {bwall:>12.2f} s   (same-shape DataFrame from random numpy arrays)")
    print(f"baseline cpu    {bcpu:>12.2f} s")
    print(f"ratio wall      {wall / bwall:>12.2f} x baseline")
    print(f"ratio cpu       {cpu / bcpu:>12.2f} x baseline")
    del base
    if args.compare:
        other = "upfront" if args.mode == "dynamic" else "dynamic"
        w0, c0 = time.perf_counter(), time.process_time()
        ev2, _ = generate_district(args.cases, seed=args.seed, mode=other)
        owall, ocpu = time.perf_counter() - w0, time.process_time() - c0
        print(f"{other:<8}wall   {owall:>12.2f} s   ({len(ev2):,} events; ratio "
              f"{wall / owall:.2f} x)")
        print(f"{other:<8}cpu    {ocpu:>12.2f} s")
        del ev2
    if args.write:
        events, _ = generate_district(args.cases, seed=args.seed, mode=args.mode)
        w0 = time.perf_counter()
        _write_events_deterministic(events, args.write)
        print(f"write {args.write}: {time.perf_counter() - w0:.2f} s")


def _chunked(args: argparse.Namespace) -> None:
    """Time ``write_district(..., partitions=, chunk_cases=)``; print wall, CPU and peak RSS."""
    import json
    import shutil
    import tempfile
    from pathlib import Path

    from casekit.synth import write_district

    tmp = Path(tempfile.mkdtemp(prefix="casekit-synth-bench-"))
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        _, tpath = write_district(tmp / "parts", args.cases, seed=args.seed, mode=args.mode,
                                  partitions=args.partitions, chunk_cases=args.chunk_cases)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        n = json.loads(tpath.read_text(encoding="utf-8"))["n_events"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"cases           {args.cases:>12,}   chunk {args.chunk_cases:,}, "
          f"{args.partitions} partitions")
    print(f"events          {n:>12,}")
    print(f"wall / cpu      {wall:>8.1f} s / {cpu:.1f} s   ({n / wall:,.0f} events/s)")
    print(f"peak RSS        {_peak_rss_mb():>12,.0f} MiB")


if __name__ == "__main__":
    main()
