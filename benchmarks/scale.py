"""Benchmark: the case table, both networks and Kaplan-Meier on Dask, against the in-memory path.

All on one ``LocalCluster(n_workers=2, memory_limit="6GiB")``. For each size (millions of
events, ``--sizes``) the synthetic district is generated chunk by chunk on the workers
(:func:`casekit.synth.generate_district`, ``--chunk-cases`` cases per chunk, seed ``--seed +
chunk``, every id prefixed by its chunk) and appended to one Parquet file, one row group per
chunk (one chunk at a time in this process); ``casekit.scale.partition_events(client=)`` then
partitions it on the workers (streaming). ``--dataset DIR`` adds a folder that is already
partitioned, e.g. ``casekit synth --cases 11000000 --partitions 64 --chunk-cases 250000 --out
DIR`` (about 100M events, generated in chunks). For each it times ``scale.build_case_table``,
``scale.build_agency_networks`` (``lags=False``, as ``casekit network`` runs) and
``scale.median_table``: wall time, events per second, the peak resident memory of each worker
(``VmHWM``, reset before each phase) and of this process (which holds the gathered case
table). For generated sizes up to ``--in-memory-max`` million events the in-memory path
(``read_events`` + the same three functions) runs in a child process in the same run, for the
ratio and its peak memory, and must give the same case count, edges and top median. Finally
the growth exponent b of time ~ events^b is fitted over all sizes (least squares on logs).

    .venv/bin/python benchmarks/scale.py --sizes 1,10 --in-memory-max 10 [--dataset DIR]
        [--out DIR --keep]

Needs room: about 17 bytes of Parquet per event on disk, and for the in-memory comparison
about 1 GiB per million events.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import casekit as ck
from casekit import scale

_ID_COLUMNS = ("case_id", "matter_id", "petitioner_id")


def _peak_rss() -> int:
    """Peak resident memory of this process in bytes: ``VmHWM`` (Linux), which, unlike
    ``ru_maxrss``, is not inherited from the process that started this one."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak() -> None:
    """Start a new peak-memory measurement (Linux: ``clear_refs`` 5 resets ``VmHWM``), so the
    workers need no restart between phases."""
    with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
        fh.write("5")


def _warm() -> None:
    """Import the analysis modules on a worker (start-up is not part of the timings)."""
    import casekit.cases
    import casekit.kpi
    import casekit.network
    import casekit.scale
    import casekit.survival  # noqa: F401


def _chunk(chunk: int, chunk_cases: int, seed: int) -> pa.Table:
    """One chunk of the district: ``chunk_cases`` cases, seed ``seed + chunk``, ids prefixed."""
    ev, _ = ck.synth.generate_district(chunk_cases, seed=seed + chunk)
    for col in _ID_COLUMNS:
        if col in ev:
            ev[col] = f"k{chunk:04d}-" + ev[col].astype("str")
    return pa.Table.from_pandas(ev, preserve_index=False)


def write_district(path: Path, n_events: float, *, chunk_cases: int, seed: int,
                   client=None) -> int:
    """Write about ``n_events`` events as one Parquet file (one row group per chunk).

    Chunks are generated on the cluster's workers when ``client`` is given (at most two per
    worker ahead of the writer), else here; one chunk at a time is in this process.
    """
    writer = None
    written = chunk = 0
    pending: list = []
    per_chunk = None
    try:
        while written < n_events:
            if client is None:
                table = _chunk(chunk, chunk_cases, seed)
            else:
                ahead = 1 if per_chunk is None else 2 * len(client.scheduler_info()["workers"])
                left = math.ceil((n_events - written) / per_chunk) if per_chunk else 1
                while len(pending) < min(ahead, left):
                    pending.append(client.submit(_chunk, chunk + len(pending), chunk_cases,
                                                 seed, pure=False))
                table = pending.pop(0).result()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema), row_group_size=len(table))
            written += table.num_rows
            per_chunk = per_chunk or table.num_rows
            chunk += 1
            del table
    finally:
        if writer is not None:
            writer.close()
        for f in pending:
            f.cancel()
    return written


def _distributed_run(parts: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    n_cases = len(scale.build_case_table(parts))  # not kept: the next steps do not need it
    t1 = time.perf_counter()
    W, H = scale.build_agency_networks(parts, lags=False)
    t2 = time.perf_counter()
    m = scale.median_table(parts)
    t3 = time.perf_counter()
    return {"case_table_s": t1 - t0, "networks_s": t2 - t1, "km_s": t3 - t2,
            "total_s": t3 - t0, "n_cases": n_cases, "n_edges": H.number_of_edges(),
            "n_groups": len(m), "median_days_top": float(m["median_days"].iloc[0])}


def _in_memory_child(path: str, queue: mp.Queue) -> None:
    t0 = time.perf_counter()
    ev = ck.read_events(path)
    t1 = time.perf_counter()
    cases = ck.build_case_table(ev)
    t2 = time.perf_counter()
    W, H = ck.build_agency_networks(ev, lags=False)
    t3 = time.perf_counter()
    m = ck.median_table(cases)
    t4 = time.perf_counter()
    queue.put({"read_s": t1 - t0, "case_table_s": t2 - t1, "networks_s": t3 - t2,
               "km_s": t4 - t3, "total_s": t4 - t0, "analysis_s": t4 - t1,
               "n_cases": len(cases), "n_edges": H.number_of_edges(),
               "median_days_top": float(m["median_days"].iloc[0]), "peak_rss": _peak_rss()})


def in_memory_run(path: Path) -> dict[str, float]:
    """The in-memory path in a child process (its own peak memory; a failure is reported)."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_in_memory_child, args=(str(path), q))
    p.start()
    p.join()
    if p.exitcode != 0:
        return {"failed": f"exit code {p.exitcode}"}
    return q.get()


def fit_exponent(sizes: list[float], times: list[float]) -> float:
    """Least-squares slope of log(time) on log(size)."""
    if len(sizes) < 2:
        return float("nan")
    return float(np.polyfit(np.log(sizes), np.log(times), 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,3,10", help="millions of events, comma-separated")
    ap.add_argument("--in-memory-max", type=float, default=3.0,
                    help="run the in-memory path up to this many million events")
    ap.add_argument("--chunk-cases", type=int, default=100_000)
    ap.add_argument("--events-per-partition", type=float, default=1.5e6)
    ap.add_argument("--memory-limit", default="6GiB")
    ap.add_argument("--n-workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="work in this folder and keep the data (default: a temporary "
                    "folder, deleted at the end)")
    ap.add_argument("--keep", action="store_true", help="with --out: keep the data")
    ap.add_argument("--dataset", action="append", default=[], metavar="DIR",
                    help="also analyse this partitioned folder (e.g. written by casekit synth "
                    "--partitions); it is never deleted")
    args = ap.parse_args()
    sizes: list[float | Path] = [Path(d) for d in args.dataset]  # the largest first
    sizes += [float(s) for s in args.sizes.split(",") if s.strip()]
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="casekit-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    import distributed

    try:
        with distributed.LocalCluster(n_workers=args.n_workers, threads_per_worker=1,
                                      processes=True, memory_limit=args.memory_limit,
                                      host="127.0.0.1", dashboard_address=":0") as lc, \
                distributed.Client(lc) as client:
            limit = next(iter(client.scheduler_info()["workers"].values()))["memory_limit"]
            for size in sizes:
                client.run(_reset_peak)
                _reset_peak()
                if isinstance(size, Path):  # prebuilt: no generation, no in-memory run
                    file, parts, t_gen, t_part = None, size, float("nan"), float("nan")
                    meta = scale.dataset_metadata(parts)
                    n = meta["n_accepted"]
                else:
                    file = work / f"district-{size:g}M.parquet"
                    parts = work / f"district-{size:g}M.parts"
                    t = time.perf_counter()
                    n = write_district(file, size * 1e6, chunk_cases=args.chunk_cases,
                                       seed=args.seed, client=client)
                    t_gen = time.perf_counter() - t
                    t = time.perf_counter()
                    meta = scale.partition_events(
                        file, parts, overwrite=True, client=client,
                        partitions=max(1, math.ceil(n / args.events_per_partition)))
                    t_part = time.perf_counter() - t
                prep_peaks = client.run(_peak_rss)
                client.run(_warm)
                client.run(_reset_peak)
                workers = set(client.scheduler_info()["workers"])
                dist = _distributed_run(parts)
                peaks = client.run(_peak_rss)
                row = {"events": n, "cases": meta["n_cases"], "partitions": meta["partitions"],
                       "generate_s": t_gen, "partition_s": t_part,
                       "partition_events_per_s": n / t_part, **{f"dask_{k}": v for k, v in
                                                                 dist.items()},
                       "dask_events_per_s": n / dist["total_s"],
                       "worker_peak_gib": sorted(p / 2**30 for p in peaks.values()),
                       "worker_limit_gib": limit / 2**30,
                       "workers_kept": set(peaks) == workers,
                       "prepare_worker_peak_gib": sorted(p / 2**30 for p in
                                                         prep_peaks.values()),
                       "driver_peak_gib": _peak_rss() / 2**30}
                if file is not None and size <= args.in_memory_max:
                    mem = in_memory_run(file)
                    row.update({f"memory_{k}": v for k, v in mem.items()})
                    if "total_s" in mem:
                        row["ratio_dask_over_memory_analysis"] = (dist["total_s"]
                                                                  / mem["analysis_s"])
                        assert mem["n_cases"] == dist["n_cases"]
                        assert mem["n_edges"] == dist["n_edges"]
                        assert mem["median_days_top"] == dist["median_days_top"]
                results.append(row)
                print(json.dumps(row, default=str), flush=True)
                if file is not None and not args.keep:
                    file.unlink()
                    shutil.rmtree(parts)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    results.sort(key=lambda r: r["events"])
    ev_sizes = [r["events"] for r in results]
    b = fit_exponent(ev_sizes, [r["dask_total_s"] for r in results])
    print()
    print(f"{'events':>12} {'cases':>10} {'parts':>5} {'partition s':>11} {'dask s':>8} "
          f"{'events/s':>10} {'worker peak GiB':>16} {'in-memory s':>11} {'mem peak GiB':>12}")
    for r in results:
        mem = f"{r['memory_analysis_s']:.1f}" if "memory_analysis_s" in r else "-"
        mpk = f"{r['memory_peak_rss'] / 2**30:.2f}" if "memory_peak_rss" in r else "-"
        print(f"{r['events']:>12,} {r['cases']:>10,} {r['partitions']:>5} "
              f"{r['partition_s']:>11.1f} {r['dask_total_s']:>8.1f} "
              f"{r['dask_events_per_s']:>10,.0f} "
              f"{'/'.join(f'{p:.2f}' for p in r['worker_peak_gib']):>16} {mem:>11} {mpk:>12}")
    print(f"driver (gathered case table) peak so far: {results[-1]['driver_peak_gib']:.2f} GiB"
          if results else "")
    print(f"growth exponent (dask time ~ events^b): b = {b:.2f}; worker limit "
          f"{results[0]['worker_limit_gib']:.1f} GiB" if results else "no sizes run")


if __name__ == "__main__":
    main()
