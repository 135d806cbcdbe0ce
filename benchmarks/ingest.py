"""Ingest benchmark: files -> validated canonical events (time and peak memory).

    python benchmarks/ingest.py [--events 10000000] [--csv-events 1000000] [--skip-xes]

Each measurement runs in a fresh process so its peak RSS is its own. Reported against a bare
reader measured in the same run: ``pd.read_parquet`` for Parquet, pandas' pyarrow CSV engine for
CSV. Goals (issue 3): 10M events from Parquet in <= 5 s and <= 4 GiB peak RSS; the 561,470-event
road-traffic XES in <= 60 s and < 2 GiB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
ROAD = ROOT.parent / "shared" / "data" / "real" / "road-traffic-fines" / \
    "Road_Traffic_Fine_Management_Process.xes.zip"

ACTIVITIES = np.array(["register", "transfer", "accept", "notify_receipt", "investigate",
                       "mediate", "joint_conference", "close", "follow_up_visit",
                       "satisfaction_rating"])
TYPES = np.array(["petition_bureau", "street_office", "residents_committee", "court",
                  "housing_construction_bureau", "justice_office"])


def make_events(n_events: int, seed: int = 1) -> pd.DataFrame:
    """A sorted synthetic log: about 10 events per case, 40 agencies in 6 types."""
    rng = np.random.default_rng(seed)
    n_cases = max(1, n_events // 10)
    case = np.sort(rng.integers(0, n_cases, n_events))
    start = np.datetime64("2020-01-01T00:00:00", "s").astype("int64")
    t0 = start + rng.integers(0, 3 * 365 * 86400, n_cases)
    t = t0[case] + rng.integers(0, 120 * 86400, n_events)
    order = np.lexsort((t, case))
    case, t = case[order], t[order]
    agency_idx = rng.integers(0, 40, n_events)
    ids = pd.array([f"C{i:08d}" for i in range(n_cases)], dtype="str")
    agencies = pd.array([f"agency_{i:02d}" for i in range(40)], dtype="str")
    return pd.DataFrame({
        "case_id": ids.take(case),
        "timestamp": t.astype("datetime64[s]").astype("datetime64[ns]"),
        "activity": pd.array(ACTIVITIES, dtype="str").take(rng.integers(0, 10, n_events)),
        "agency": agencies.take(agency_idx),
        "agency_type": pd.array(TYPES, dtype="str").take(agency_idx % 6),
    })


def _peak_gib() -> float:
    """Peak RSS of this process (VmHWM; ru_maxrss would carry the parent's peak over exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:  # pragma: no cover - not Linux
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def _child(kind: str, path: str) -> None:
    """Run one measurement in this (fresh) process; print JSON."""
    os.environ.setdefault("CASEKIT_PSEUDONYM_KEY", "benchmark")
    if kind == "casekit":
        import casekit.io  # import cost is not part of the read
        import casekit.validate
    base = _peak_gib()
    t = time.perf_counter()
    c = time.process_time()
    if kind == "bare-parquet":
        df = pd.read_parquet(path)
        n = len(df)
    elif kind == "bare-csv":
        df = pd.read_csv(path, engine="pyarrow")
        n = len(df)
    else:
        import casekit.io

        res = casekit.io.read_events_report(path, progress=False)
        n = res.n_accepted
        assert res.n_read == res.n_accepted + res.n_quarantined
    dt = time.perf_counter() - t
    cpu = time.process_time() - c
    print(json.dumps({"seconds": dt, "cpu": cpu, "peak_gib": _peak_gib(), "base_gib": base,
                      "rows": n}))


def measure(kind: str, path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--csv-events", type=int, default=1_000_000)
    ap.add_argument("--skip-xes", action="store_true")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"))
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        print(f"making {args.events:,} events ...", flush=True)
        ev = make_events(args.events)
        pq = tmpd / "events.parquet"
        ev.to_parquet(pq, index=False)
        del ev
        bare = measure("bare-parquet", pq)
        ours = measure("casekit", pq)
        print(f"Parquet {args.events:,} events: read_events {ours['seconds']:.2f} s "
              f"(cpu {ours['cpu']:.2f} s), peak RSS {ours['peak_gib']:.2f} GiB | bare "
              f"pd.read_parquet {bare['seconds']:.2f} s (cpu {bare['cpu']:.2f} s), "
              f"{bare['peak_gib']:.2f} GiB | ratio {ours['seconds'] / bare['seconds']:.1f}x wall, "
              f"{ours['cpu'] / bare['cpu']:.1f}x cpu (goal <= 5 s, <= 4 GiB)", flush=True)
        pq.unlink()
        csv = tmpd / "events.csv"
        make_events(args.csv_events).to_csv(csv, index=False)
        bare = measure("bare-csv", csv)
        ours = measure("casekit", csv)
        print(f"CSV {args.csv_events:,} events: read_events {ours['seconds']:.2f} s "
              f"(cpu {ours['cpu']:.2f} s), peak RSS {ours['peak_gib']:.2f} GiB | bare "
              f"pd.read_csv(engine='pyarrow') {bare['seconds']:.2f} s (cpu {bare['cpu']:.2f} s) "
              f"| ratio {ours['seconds'] / bare['seconds']:.1f}x wall", flush=True)
    if not args.skip_xes:
        if ROAD.exists():
            ours = measure("casekit", ROAD)
            print(f"XES road traffic ({ours['rows']:,} events): read_events "
                  f"{ours['seconds']:.1f} s (cpu {ours['cpu']:.1f} s), peak RSS "
                  f"{ours['peak_gib']:.2f} GiB (goal <= 60 s, < 2 GiB)")
        else:
            print(f"XES road traffic: skipped ({ROAD} not present)")
    try:
        load = os.getloadavg()[0]  # wall times on a shared machine: read the cpu figures too
        print(f"load average during the run: {load:.1f} (2 cores shared)")
    except OSError:  # pragma: no cover
        pass


if __name__ == "__main__":
    main()
