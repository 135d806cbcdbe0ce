"""Shared helpers of the benchmarks: real-shaped districts on disk, timing, memory, baselines.

Every benchmark runs on a ``casekit synth`` district (about 300 agencies, all 17 columns, free
text) read from a file on disk, with a few bad rows injected so that validation quarantines some
rows, as it does on real exports. Districts are generated once, in a child process (so that the
generator's memory does not count in a benchmark's peak), and cached in ``benchmarks/.cache/``
(git-ignored) under a name that holds the size, the seed and the generator version.

    python benchmarks/_common.py --cases 100000          # generate (or find) a district
"""

from __future__ import annotations

import argparse
import inspect
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(__file__).resolve().parent / ".cache"
BASELINES = ROOT.parent / "shared" / "perf" / "BASELINES.md"

#: Rows of the district made bad on purpose (positions as fractions of the log): what
#: validation must quarantine. The rows are changed in place, so the file stays sorted.
BAD_ROWS = {"empty case id": (0.11, 0.52), "missing timestamp": (0.23, 0.74),
            "empty activity": (0.37,), "exact duplicate of the previous row": (0.61, 0.88)}


# --------------------------------------------------------------------------------------------
# districts on disk
# --------------------------------------------------------------------------------------------
def district_path(n_cases: int, *, seed: int = 0, fmt: str = "parquet") -> Path:
    """Where the cached district of this size, seed and generator version lives."""
    from casekit import synth

    version = re.sub(r"[^0-9A-Za-z.]+", "", str(synth.GENERATOR_VERSION))
    return CACHE / f"district-{n_cases}-s{seed}-v{version}.{fmt}"


def _write_kwargs() -> dict[str, Any]:
    """``mode="upfront"`` where the generator has it (fast, all draws first)."""
    from casekit import synth

    params = inspect.signature(synth.generate_district).parameters
    return {"mode": "upfront"} if "mode" in params else {}


def _inject_bad_rows(path: Path) -> int:
    """Change a few rows of a Parquet district in place so that validation quarantines them."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    n = table.num_rows
    meta = table.schema.metadata

    def rows(key: str) -> np.ndarray:
        return np.unique((np.array(BAD_ROWS[key]) * n).astype(np.int64).clip(1, n - 1))

    def blank(col: str, at: np.ndarray, value: Any) -> None:
        nonlocal table
        mask = np.zeros(n, dtype=bool)
        mask[at] = True
        i = table.schema.get_field_index(col)
        column = table.column(i)
        new = pc.if_else(pa.array(mask), pa.scalar(value, column.type), column)
        table = table.set_column(i, col, new)

    blank("case_id", rows("empty case id"), "")
    blank("timestamp", rows("missing timestamp"), None)
    blank("activity", rows("empty activity"), "")
    take = np.arange(n)
    dup = rows("exact duplicate of the previous row")
    take[dup] = dup - 1
    table = table.take(pa.array(take)).replace_schema_metadata(meta)
    pq.write_table(table, path)
    return sum(len(rows(k)) for k in BAD_ROWS)


def _generate(n_cases: int, seed: int, fmt: str) -> None:
    """Write the district (Parquet first; other formats converted from it)."""
    from casekit import synth

    CACHE.mkdir(parents=True, exist_ok=True)
    parquet = district_path(n_cases, seed=seed)
    if not parquet.exists():
        tmp = parquet.with_name("tmp-" + parquet.name)
        synth.write_district(tmp, n_cases, seed=seed, **_write_kwargs())
        _inject_bad_rows(tmp)
        tmp.replace(parquet)
        for p in CACHE.glob("tmp-" + parquet.stem + "*"):  # the truth file
            p.replace(p.with_name(p.name[4:]))
    if fmt != "parquet":
        import pandas as pd

        out = district_path(n_cases, seed=seed, fmt=fmt)
        tmp = out.with_name("tmp-" + out.name)
        synth._write_events_deterministic(pd.read_parquet(parquet), tmp)
        tmp.replace(out)


def district(n_cases: int, *, seed: int = 0, fmt: str = "parquet") -> Path:
    """Path of a cached district file, generated in a child process when missing.

    ``fmt`` is ``parquet``, ``csv`` or ``csv.gz``. Its bad rows are listed in :data:`BAD_ROWS`.
    """
    path = district_path(n_cases, seed=seed, fmt=fmt)
    if not path.exists():
        print(f"generating a {n_cases:,}-case district ({fmt}) into {path.parent} ...",
              flush=True)
        t = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        subprocess.run([sys.executable, __file__, "--cases", str(n_cases), "--seed", str(seed),
                        "--format", fmt], check=True, env=env)
        print(f"  generated in {time.perf_counter() - t:.0f} s", flush=True)
    return path


# --------------------------------------------------------------------------------------------
# timing, memory, machine
# --------------------------------------------------------------------------------------------
@dataclass
class Timing:
    """Wall and CPU seconds of repeated runs (medians and minimum wall) and the last result."""

    wall: float
    cpu: float
    wall_min: float
    result: Any = None
    peak_mib: float = float("nan")
    load1: float = float("nan")  # the machine's 1-minute load average when the step started


def measure(fn: Callable[[], Any], repeat: int = 1, *, track_peak: bool = False) -> Timing:
    """Run ``fn`` ``repeat`` times; medians of wall and CPU seconds, optional peak RSS of a run.

    With ``track_peak`` the process' peak RSS is reset before each run (Linux
    ``/proc/self/clear_refs``), so ``peak_mib`` is the highest resident memory during ``fn``
    (what it holds plus what it allocates), not the process' lifetime peak.
    """
    walls, cpus, peaks, result = [], [], [], None
    load1 = os.getloadavg()[0]
    for _ in range(repeat):
        result = None
        if track_peak:
            reset_peak()
        c, t = time.process_time(), time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
        if track_peak:
            peaks.append(peak_rss_mib())
    return Timing(statistics.median(walls), statistics.median(cpus), min(walls), result,
                  max(peaks) if peaks else float("nan"), load1)


def _status(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    """Peak resident memory of this process since start or the last :func:`reset_peak`, MiB."""
    return _status("VmHWM")


def rss_mib() -> float:
    """Current resident memory, MiB."""
    return _status("VmRSS")


def reset_peak() -> None:
    """Reset the peak-RSS mark to the current RSS (Linux; no-op elsewhere)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        pass


def load() -> str:
    """Machine load now: ``load 1/5/15 min on N cores``."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}/{fifteen:.1f} (1/5/15 min) on {os.cpu_count()} cores"


def versions() -> str:
    """Versions of the libraries the timings depend on."""
    import numpy
    import pandas
    import pyarrow

    out = [f"python {sys.version.split()[0]}", f"numpy {numpy.__version__}",
           f"pandas {pandas.__version__}", f"pyarrow {pyarrow.__version__}"]
    for name in ("scipy", "lifelines", "networkx", "threadpoolctl"):
        try:
            out.append(f"{name} {__import__(name).__version__}")
        except ImportError:
            pass
    return ", ".join(out)


def row(name: str, ours: Timing, base: Timing | None = None, base_name: str = "",
        width: int = 44) -> str:
    """One printed step: casekit's wall and CPU beside a same-run baseline and the CPU ratio."""
    text = f"  {name:<{width}} wall {ours.wall:7.3f} s  cpu {ours.cpu:7.3f} s"
    if ours.peak_mib == ours.peak_mib:  # not NaN
        text += f"  peak {ours.peak_mib:7,.0f} MiB"
    if ours.load1 == ours.load1:
        text += f"  load {ours.load1:4.1f}"
    if base is not None:
        ratio = ours.cpu / base.cpu if base.cpu > 0 else float("inf")
        text += (f"  | {base_name}: wall {base.wall:7.3f} s cpu {base.cpu:7.3f} s"
                 f"  casekit/base {ratio:.2f}x cpu")
    return text


def published(label: str) -> list[str]:
    """Cells of the first table row of ``BASELINES.md`` whose first cell contains ``label``.

    Returns ``[]`` when the file or the row is missing (figures are then not printed).
    """
    try:
        text = BASELINES.read_text(encoding="utf-8")
    except OSError:
        return []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and label in cells[0]:
            return cells
    return []


def header(title: str, path: Path) -> None:
    """Print what is measured, on which file and machine."""
    size = path.stat().st_size / 2**20
    print(f"{title}\n  file: {path.name} ({size:,.0f} MiB on disk)\n  {versions()}\n  {load()}")


# --------------------------------------------------------------------------------------------
# bare baselines (measured in the same run as casekit)
# --------------------------------------------------------------------------------------------
def numpy_both(ev: pd.DataFrame) -> tuple[dict, dict]:
    """Both networks in bare numpy (events sorted by case, then time): the floor."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def arrow(col: str) -> pa.Array:
        arr = pa.array(ev[col])
        return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr

    case = arrow("case_id")
    enc = pc.dictionary_encode(arrow("agency"))
    node = np.asarray(enc.indices).astype(np.int64)
    k = len(enc.dictionary)
    labels = enc.dictionary.to_pylist()
    n = len(node)
    boundary = np.asarray(pc.not_equal(case.slice(1), case.slice(0, n - 1)))
    # handover: adjacent pairs inside a case
    key = node[:-1] * k + node[1:]
    ho = np.bincount(key[~boundary], minlength=k * k)
    # working together: distinct (case, agency), then pairs inside a case
    cid = np.concatenate([[0], np.cumsum(boundary)])
    d = np.sort(cid * k + node)
    d = d[np.concatenate([[True], d[1:] != d[:-1]])]
    row, col = d // k, d % k
    wt = np.zeros(k * k, dtype=np.int64)
    off = 1
    while True:
        same = row[off:] == row[:-off]
        if not same.any():
            break
        wt += np.bincount(col[:-off][same] * k + col[off:][same], minlength=k * k)
        off += 1
    h = {(labels[x // k], labels[x % k]): int(ho[x]) for x in np.flatnonzero(ho)}
    w = {tuple(sorted((labels[x // k], labels[x % k]))): int(wt[x]) for x in np.flatnonzero(wt)}
    return h, w


def pandas_handover(ev: pd.DataFrame) -> pd.Series:
    prev = ev.groupby("case_id", sort=False)["agency"].shift()
    mask = prev.notna()
    counts = pd.DataFrame({"source": prev[mask], "target": ev["agency"][mask]}).value_counts()
    return counts[counts > 0]  # category columns (as validated) count every pair, unseen ones 0


def pandas_working_together(ev: pd.DataFrame) -> pd.Series:
    d = ev[["case_id", "agency"]].drop_duplicates()
    pairs = d.merge(d, on="case_id", suffixes=("_s", "_t"))
    s, t = pairs["agency_s"], pairs["agency_t"]
    if isinstance(s.dtype, pd.CategoricalDtype):  # validated events: sorted categories, so
        s, t = s.cat.codes, t.cat.codes            # codes order as the text does
    pairs = pairs[(s < t).to_numpy()]
    return pairs.groupby(["agency_s", "agency_t"], observed=True).size()


def pyarrow_read(path) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    import pyarrow.parquet as pq

    return pq.read_table(path).to_pandas()


def pandas_case_table(ev: pd.DataFrame) -> pd.DataFrame:
    """Opening, first close and agency-type pattern per case, plain vectorised pandas."""
    g = ev.groupby("case_id", sort=False)
    opened = g["timestamp"].min()
    closed = ev.loc[ev["activity"] == "close"].groupby("case_id", sort=False)["timestamp"].min()
    types = ev[["case_id", "agency_type"]].drop_duplicates()
    code, uniq = pd.factorize(types["agency_type"], sort=True)
    bits = pd.Series(np.left_shift(np.int64(1), code), index=types["case_id"].to_numpy())
    mask = bits.groupby(level=0, sort=False).sum()  # distinct bits: the sum is the OR
    names = {m: "+".join(u for i, u in enumerate(uniq) if m >> i & 1) for m in mask.unique()}
    out = pd.DataFrame({"opened_at": opened, "closed_at": closed.reindex(opened.index),
                        "pattern": mask.map(names).reindex(opened.index)})
    return out


def lifelines_ranking(cases: pd.DataFrame, patterns: list[str]) -> tuple[dict, float]:
    """lifelines' KM median and CI of each pattern, and the multivariate log-rank chi-square."""
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test
    from lifelines.utils import median_survival_times

    known = cases.get("duration_known", True)  # as casekit: unknown durations left out
    sub = cases[cases["pattern"].isin(patterns) & known]
    out = {}
    for name, grp in sub.groupby("pattern"):
        kmf = KaplanMeierFitter().fit(grp["duration_days"], grp["closed"])
        out[name] = (kmf.median_survival_time_,
                     tuple(median_survival_times(kmf.confidence_interval_).iloc[0]))
    test = multivariate_logrank_test(sub["duration_days"], sub["pattern"], sub["closed"])
    return out, float(test.test_statistic)


def same_ranking(ranking: pd.DataFrame, logrank: pd.DataFrame, base: tuple[dict, float]) -> bool:
    """Whether casekit's KM medians and CIs equal lifelines' and its log-rank chi-square agrees
    (to 1e-9: the sums run in another order)."""
    medians, chi2 = base
    rk = ranking.set_index("pattern")
    same_km = all(rk.loc[p, "median_days"] == m
                  and (rk.loc[p, "median_ci_low"], rk.loc[p, "median_ci_high"]) == ci
                  for p, (m, ci) in medians.items())
    ours = float(logrank["test_statistic"].iloc[0])
    return same_km and abs(ours - chi2) <= 1e-9 * max(1.0, abs(chi2))


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", default="parquet", choices=["parquet", "csv", "csv.gz"])
    args = ap.parse_args()
    _generate(args.cases, args.seed, args.format)
    print(district_path(args.cases, seed=args.seed, fmt=args.format))


if __name__ == "__main__":
    _main()
