"""Ingest benchmark: district files on disk -> validated canonical events (time and peak memory).

    python benchmarks/ingest.py [--cases 1000000] [--csv-cases 100000] [--skip-xes]
                                [--skip-parquet] [--skip-csv] [--repeat N] [--stages]
                                [--pipeline] [--xes-python PYTHON] [--xes-before CHECKOUT]

The files are ``casekit synth`` districts (``_common.py``: about 300 agencies, all 17 columns,
free text, a few rows that validation quarantines), cached in ``benchmarks/.cache/``. Each
measurement runs in a fresh process so its peak RSS is its own, and is reported against a bare
reader measured in the same run: ``pyarrow.parquet.read_table(...).to_pandas()`` for Parquet,
pandas' pyarrow CSV engine for CSV; for XES (the real road-traffic log) against the fastest
reader measured in the run: PM4Py's Rust reader ``rustxes.import_xes`` (the core of ``r4pm``)
when the interpreter ``--xes-python`` (default: this one) can import it, else the standard
library's expat ``iterparse`` collecting the same fields without validation (always measured
too; ``--xes-before DIR`` also times another casekit checkout, e.g. main, in the same run),
plus PM4Py's published figures (``../shared/perf/BASELINES.md``). Memory is also given per
million events above the interpreter and imports; ``--stages`` prints each stage of the
validated reads (CPU, wall, peak RSS), ``--pipeline`` the peak of read -> case table -> both
networks and the events a 24 GiB machine holds. Goals (issue 15): Parquet within 2x of pyarrow,
CSV within 2x of pandas' pyarrow engine, XES within 1.5x of the fastest reader available.

Why rustxes / r4pm is a yardstick here and not a casekit backend (issue 15, measured
2026-12-01 with rustxes 0.2.11 and r4pm 0.6.2 from PyPI in a scratch venv): on the valid
real logs (road traffic 561,470 events, receipt 8,577) its case ids, activities, resources,
org:group and lifecycle equal casekit's exactly and it is about 2x faster than casekit's
expat parse (6.8-7.8 s CPU, 790 MiB peak on the extracted 185 MB road-traffic XES; it reads
only .xes/.xes.gz paths, no zip members, no streams). But it cannot stand in for the expat
semantics: every ``<date>`` becomes a naive UTC instant with its offset dropped (casekit keeps
the wall clock as recorded and the offsets seen: 220,709 events at +01:00 and 340,761 at
+02:00 there); on hostile files it silently drops events outside any trace, reads a malformed
``<int>`` "12x" as 0 and an unparsable date as null (the raw value is lost), keeps the first
of two values of one key, ignores the XML encoding declaration (Latin-1 read as mojibake),
flattens nested ``<event>`` elements into ordinary events (casekit quarantines them), has no
caps on value size or number of keys, and ends with a ``pyo3 PanicException`` (a
``BaseException``, not an ``Exception``) on nested traces, prefixed tags (``xes:log``), empty,
truncated or non-XML files. Most of these cannot be detected from its output, so a checked
fallback is not possible either. The casekit reader was made faster instead: first the expat
callbacks (inlined, doomed whole-column timestamp format scans skipped: 17.6-22.6 s -> 9.3-13.0
s CPU), then a bulk scanner for the regular XES shape (``casekit.io._xes_body``: the text split
at quotes by pyarrow, each distinct markup run between two values interpreted once, columns
filled with numpy; anything it does not read exactly as expat does is re-read with expat,
``tests/test_xes_fast.py``). Two runs, 2026-12-01, load 5-8 on 2 cores (``--skip-parquet
--skip-csv --xes-python /tmp/xesvenv/bin/python --xes-before <main checkout>``), each beside
the others in the same run: read_events 4.57 / 2.91 s CPU, peak 441 / 437 MiB, against
rustxes 7.39 / 6.49 s CPU, 766 / 771 MiB (0.6x / 0.45x: goal 1.5x met), the main branch's
expat reader 14.27 / 11.32 s, 593 / 586 MiB, and the bare expat ``iterparse`` floor 20.3 /
15.3 s. Wall times were about twice the CPU times for every reader under that load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _common as cm

ROAD = cm.ROOT.parent / "shared" / "data" / "real" / "road-traffic-fines" / \
    "Road_Traffic_Fine_Management_Process.xes.zip"


def _child(kind: str, path: str) -> None:
    """Run one measurement in this (fresh) process; print JSON."""
    os.environ.setdefault("CASEKIT_PSEUDONYM_KEY", "benchmark")
    import pandas as pd

    if kind == "stages":
        _stages(path)
        return
    if kind == "pipeline":
        _pipeline(path)
        return
    if kind == "casekit":  # import cost is not part of the read, on either side:
        import casekit.io
        import casekit.privacy  # imported by the read's masking on first use
        import casekit.validate
    elif kind == "bare-csv":
        import pyarrow.csv  # noqa: F401 - imported by pandas' pyarrow engine on first use
    base = cm.peak_rss_mib()
    t, c = time.perf_counter(), time.process_time()
    quarantined = 0
    if kind == "bare-parquet":
        import pyarrow.parquet as pq

        n = len(pq.read_table(path).to_pandas())
    elif kind == "bare-csv":
        n = len(pd.read_csv(path, engine="pyarrow"))
    elif kind == "bare-xes":
        n = _bare_xes(path)
    else:
        import casekit.io

        res = casekit.io.read_events_report(path, progress=False)
        n, quarantined = res.n_accepted, res.n_quarantined
        assert res.n_read == res.n_accepted + res.n_quarantined
    out = {"seconds": time.perf_counter() - t, "cpu": time.process_time() - c,
           "peak_mib": cm.peak_rss_mib(), "base_mib": base, "rows": n,
           "quarantined": quarantined}
    print(json.dumps(out))


#: The stages of a validated read, as (module, function) called by name inside
#: ``read_events_report`` / ``validate_table``: ``--stages`` times each and its peak RSS (the
#: CSV parse's parts are also inside ``_read_any``).
STAGES = [("casekit.io", "_read_any"), *(("casekit.io", f) for f in (
    "_arrow_csv", "_cells_hold", "_csv_raw_table")), *(("casekit.validate", f) for f in (
    "_canonical_frame", "_check_ids", "_check_timestamps", "_factor", "_order_and_dedupe",
    "_quarantine", "_accepted", "_map_labels", "_map_agencies", "_pseudonymise",
    "_mask_text_columns", "_canonical_order", "_check_cases", "_metadata",
    "_scrub_side_doors"))]


def _stages(path: str) -> None:
    """One validated read with each stage wrapped: CPU, wall and peak RSS above the RSS the
    stage started from (the peak mark is reset per stage); prints JSON rows."""
    import functools
    import importlib

    import casekit.io

    rows: dict[str, list[float]] = {}

    def wrap(mod: object, name: str) -> None:
        fn = getattr(mod, name)

        @functools.wraps(fn)
        def timed(*a: object, **k: object) -> object:
            start = cm.rss_mib()
            cm.reset_peak()
            t, c = time.perf_counter(), time.process_time()
            out = fn(*a, **k)
            row = rows.setdefault(name, [0.0, 0.0, 0.0, start, 0])
            row[0] += time.process_time() - c
            row[1] += time.perf_counter() - t
            row[2] = max(row[2], cm.peak_rss_mib() - start)
            row[4] += 1
            return out

        setattr(mod, name, timed)

    for mod_name, name in STAGES:
        wrap(importlib.import_module(mod_name), name)
    base = cm.rss_mib()
    t = time.process_time()
    res = casekit.io.read_events_report(path, progress=False)
    print(json.dumps({"total_cpu": time.process_time() - t, "base_mib": base,
                      "end_mib": cm.rss_mib(), "rows": res.n_accepted, "stages": rows}))


def _pipeline(path: str) -> None:
    """read -> case table -> both networks in this process: peak RSS after each step (never
    reset, so the last is the peak of the whole chain), as JSON."""
    import casekit as ck

    base = cm.rss_mib()
    steps: dict[str, list[float]] = {}

    def step(name: str, fn: object) -> object:
        c = time.process_time()
        out = fn()  # type: ignore[operator]
        steps[name] = [time.process_time() - c, cm.peak_rss_mib(), cm.rss_mib()]
        return out

    ev = step("read_events", lambda: ck.read_events(path, progress=False))
    step("build_case_table", lambda: ck.build_case_table(ev))
    step("build_agency_networks", lambda: ck.build_agency_networks(ev))
    print(json.dumps({"base_mib": base, "rows": len(ev), "steps": steps}))


def report_pipeline(path: Path) -> None:
    """The memory ceiling: peak RSS of read -> case table -> networks per million events."""
    got = measure("pipeline", path)
    base, rows = got["base_mib"], got["rows"]
    print(f"pipeline read -> case table -> networks ({rows:,} events; peak RSS so far, MiB "
          f"above the {base:,.0f} MiB of the imports):")
    for name, (cpu, peak, now) in got["steps"].items():
        print(f"    {name:<22} cpu {cpu:6.2f} s  peak +{peak - base:7,.0f}  held +{now - base:7,.0f}")
    per_m = (max(v[1] for v in got["steps"].values()) - base) / 1024 / rows * 1e6
    print(f"    -> {per_m:.2f} GiB per million events (goal <= 0.3); ceiling on 24 GiB: "
          f"{(24 - base / 1024) / per_m:,.0f}M events")


def _bare_xes(path: str) -> int:
    """The floor of an expat-based reader: the standard library's expat through
    ``ElementTree.iterparse``, keeping case, activity, time and resource of each event in
    lists, with no validation."""
    import xml.etree.ElementTree as ET
    import zipfile

    zf = zipfile.ZipFile(path) if path.endswith(".zip") else None
    fh = zf.open(next(n for n in zf.namelist() if n.endswith(".xes"))) if zf else open(path, "rb")
    cols: dict[str, list] = {"case": [], "activity": [], "time": [], "resource": []}
    keys = {"concept:name": "activity", "time:timestamp": "time", "org:resource": "resource"}
    case = None
    with fh:
        for _ev, el in ET.iterparse(fh, events=("end",)):
            tag = el.tag.rsplit("}", 1)[-1]
            if tag == "event":
                got = {keys[c.get("key")]: c.get("value") for c in el if c.get("key") in keys}
                cols["case"].append(case)
                for k in ("activity", "time", "resource"):
                    cols[k].append(got.get(k))
                el.clear()
            elif tag == "string" and el.get("key") == "concept:name":
                case = el.get("value")  # a trace's name precedes its events
            elif tag == "trace":
                el.clear()
    return len(cols["case"])


#: Run by ``--xes-python`` (which need not have casekit): time ``rustxes.import_xes`` on an
#: extracted ``.xes`` (it reads no zip members); prints JSON like :func:`_child`.
_RUSTXES_CHILD = """
import importlib.metadata, json, resource, sys, time
t, c = time.perf_counter(), time.process_time()
import rustxes
df, _meta = rustxes.import_xes(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t, "cpu": time.process_time() - c,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rows": df.height, "version": importlib.metadata.version("rustxes")}))
"""


def _rustxes_measure(python: str, path: Path, tmp: Path) -> dict | None:
    """``rustxes`` on the log's extracted ``.xes`` under ``python``; None if it has no rustxes."""
    probe = subprocess.run([python, "-c", "import rustxes"], capture_output=True, check=False)
    if probe.returncode:
        return None
    import zipfile

    xes = tmp / "road.xes"
    with zipfile.ZipFile(path) as zf, open(xes, "wb") as out:
        member = next(n for n in zf.namelist() if n.endswith(".xes") and "MACOSX" not in n)
        with zf.open(member) as src:
            while chunk := src.read(1 << 24):
                out.write(chunk)
    got = subprocess.run([python, "-c", _RUSTXES_CHILD, str(xes)], capture_output=True,
                         text=True, check=True)
    return json.loads(got.stdout.strip().splitlines()[-1])


def measure(kind: str, path: Path, root: Path = cm.ROOT) -> dict:
    """One measurement in a fresh process, casekit imported from ``root`` (this checkout)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(path)],
                         capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_pair(kinds: tuple[str, str], path: Path, repeat: int) -> list[dict]:
    """Both measurements ``repeat`` times, alternating (so load changes hit both alike); the run
    with the least CPU of each."""
    runs: list[list[dict]] = [[], []]
    for _ in range(max(repeat, 1)):
        for i, kind in enumerate(kinds):
            runs[i].append(measure(kind, path))
    return [min(r, key=lambda m: m["cpu"]) for r in runs]


def report(name: str, ours: dict, bare: dict | None, bare_name: str, goal: float) -> float:
    per_m = (ours["peak_mib"] - ours["base_mib"]) / 1024 / max(ours["rows"], 1) * 1e6
    text = (f"{name}: casekit read_events wall {ours['seconds']:.2f} s cpu {ours['cpu']:.2f} s "
            f"peak {ours['peak_mib']:,.0f} MiB ({per_m:.2f} GiB per million events above the "
            f"{ours['base_mib']:,.0f} MiB of the imports; {ours['rows']:,} accepted, "
            f"{ours['quarantined']} quarantined)")
    ratio = float("nan")
    if bare is not None:
        ratio = ours["cpu"] / bare["cpu"]
        text += (f"\n    | {bare_name}: wall {bare['seconds']:.2f} s cpu {bare['cpu']:.2f} s "
                 f"peak {bare['peak_mib']:,.0f} MiB -> casekit/bare {ratio:.1f}x cpu, "
                 f"{ours['seconds'] / bare['seconds']:.1f}x wall (goal <= {goal}x: "
                 f"{'met' if ratio <= goal else 'MISSED'})")
    print(text, flush=True)
    return ratio


def report_stages(name: str, path: Path) -> None:
    """Print the per-stage table of one validated read (fresh process)."""
    got = measure("stages", path)
    print(f"{name}: stages of read_events (cpu s, wall s, peak RSS above the stage's start "
          f"MiB; {got['total_cpu']:.2f} s cpu in all, {got['end_mib'] - got['base_mib']:,.0f} "
          f"MiB held at the end for {got['rows']:,} events)")
    for stage, (cpu, wall, peak, start, calls) in got["stages"].items():
        print(f"    {stage:<20} {cpu:6.2f} {wall:6.2f}  +{peak:7,.0f} MiB from {start:7,.0f}"
              f"{f'  ({calls} calls)' if calls > 1 else ''}")


def report_xes(python: str, before: Path | None = None) -> tuple[float, float]:
    """casekit on the road-traffic zip beside the fastest XES reader measured in this run (and
    beside the casekit checkout ``before``, e.g. the main branch, when given)."""
    import tempfile

    ours, expat = measure("casekit", ROAD), measure("bare-xes", ROAD)
    with tempfile.TemporaryDirectory() as tmp:
        rust = _rustxes_measure(python, ROAD, Path(tmp))
    name = f"XES road traffic ({ROAD.name})"
    expat_name = "stdlib expat iterparse, no validation"
    if rust is None:
        print(f"    (rustxes not importable by {python}: the yardstick is the expat floor; "
              "pip install rustxes or pass --xes-python)")
        r_xes = report(name, ours, expat, f"{expat_name} (fastest reader measured)", 1.5)
    else:
        r_xes = report(name, ours, rust, f"rustxes {rust['version']} import_xes on the extracted "
                       ".xes, no validation, offsets dropped (fastest reader measured)", 1.5)
    for label, other in ([] if rust is None else [(expat_name, expat)]) + (
            [] if before is None else [(f"casekit read_events from {before}",
                                        measure("casekit", ROAD, before))]):
        print(f"    | {label}: wall {other['seconds']:.2f} s cpu {other['cpu']:.2f} s "
              f"peak {other['peak_mib']:,.0f} MiB -> casekit here / it "
              f"{ours['cpu'] / other['cpu']:.2f}x cpu")
    pm = cm.published("XES 561,470 events")
    if pm:
        print(f"    | PM4Py (not installed; BASELINES.md, wall s): default parser / Rust "
              f"reader r4pm {pm[1]}")
    return ours["seconds"], r_xes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000, help="cases of the Parquet district")
    ap.add_argument("--csv-cases", type=int, default=100_000, help="cases of the CSV district")
    ap.add_argument("--skip-xes", action="store_true")
    ap.add_argument("--skip-parquet", action="store_true")
    ap.add_argument("--skip-csv", action="store_true")
    ap.add_argument("--xes-before", type=Path, default=None, metavar="DIR",
                    help="also time read_events on the XES log from this casekit checkout "
                         "(before / after in one run)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="CSV: run casekit and pandas this many times, alternating; best CPU of each")
    ap.add_argument("--stages", action="store_true",
                    help="also print each stage's time and peak memory")
    ap.add_argument("--pipeline", action="store_true",
                    help="also measure peak memory of read -> case table -> networks")
    ap.add_argument("--xes-python", default=sys.executable,
                    help="interpreter with rustxes installed (the XES yardstick), e.g. a venv")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"))
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    r_pq = r_csv = float("nan")
    if not args.skip_parquet:
        pq = cm.district(args.cases)
        cm.header("ingest: file -> validated events, each in a fresh process", pq)
        r_pq = report(f"Parquet, {args.cases:,} cases", measure("casekit", pq),
                      measure("bare-parquet", pq), "pyarrow read_table().to_pandas()", 2)
        if args.stages:
            report_stages(f"Parquet, {args.cases:,} cases", pq)
        if args.pipeline:
            report_pipeline(pq)
    if not args.skip_csv:
        csv = cm.district(args.csv_cases, fmt="csv")
        ours_csv, bare_csv = measure_pair(("casekit", "bare-csv"), csv, args.repeat)
        best = f", best CPU of {args.repeat} alternating runs" if args.repeat > 1 else ""
        r_csv = report(f"CSV ({csv.stat().st_size / 2**20:,.0f} MiB), {args.csv_cases:,} cases"
                       f"{best}", ours_csv, bare_csv, "pandas read_csv(engine='pyarrow')", 2)
        if args.stages:
            report_stages(f"CSV, {args.csv_cases:,} cases", csv)
    xes = float("nan")
    r_xes = float("nan")
    if not args.skip_xes and ROAD.exists():
        xes, r_xes = report_xes(args.xes_python, args.xes_before)
    elif not args.skip_xes:
        print(f"XES road traffic: skipped ({ROAD} not present)")
    print(f"  {cm.load()} after the runs")
    print(f"ingest parquet_x_pyarrow={r_pq:.1f} csv_x_pandas_pyarrow={r_csv:.1f} "
          f"xes_x_fastest={r_xes:.1f} xes_wall_s={xes:.1f} load1={os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
