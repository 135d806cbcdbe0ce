"""Benchmark: case table and counting-process rows on a synthetic district, against plain pandas.

Generates a ``casekit synth`` district (all its columns, ~290 agencies in ~18 types), writes it
to Parquet and reads it back from disk, then times in the same run (CPU and wall seconds, best
of ``--repeat``; peak RSS at the end):

- ``build_case_table(events)`` against a plain vectorised pandas case table (groupby / merge /
  drop_duplicates; only opening, exit, duration, closed, pattern and agencies: a subset of what
  casekit computes);
- ``build_case_intervals(events, cases=cases)`` and ``build_case_intervals(events)`` (the case
  table included) against a plain vectorised pandas construction of the same rows (groupby
  first join per type, drop_duplicates for the splits, shift for the stops, a wide table of join
  times for the exposure columns).

Both baselines are checked against casekit's output (same durations, closures and patterns;
same rows), so speed never changes the result. Goal (issue 10): rows of 1M cases / ~9M events
in 5 s or less; issue 15: the case table faster than plain pandas.

    .venv/bin/python benchmarks/intervals.py                      # 1M cases
    .venv/bin/python benchmarks/intervals.py --cases 100000 --repeat 1
    .venv/bin/python benchmarks/intervals.py --data district.parquet   # an existing file
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import casekit as ck
from casekit.schema import EXIT_TYPES

DAY = pd.Timedelta(days=1)


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    """Result, best CPU seconds and best wall seconds over ``repeat`` runs."""
    best_cpu = best_wall = float("inf")
    out = None
    for _ in range(repeat):
        out = None
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        best_cpu = min(best_cpu, time.process_time() - c)
        best_wall = min(best_wall, time.perf_counter() - w)
    return out, best_cpu, best_wall


def pandas_case_table(ev: pd.DataFrame, obs_end: pd.Timestamp) -> pd.DataFrame:
    """Plain vectorised pandas: opening, exit, duration, closed, pattern, agencies."""
    ev = ev[ev["timestamp"] <= obs_end]
    act = ev["activity"]
    by_case = ev.groupby("case_id", sort=False)["timestamp"]
    out = pd.DataFrame({"first": by_case.min()})
    for name, mask in (("reg", act == "register"), ("close", act == "close"),
                       ("comp", act.isin(list(EXIT_TYPES)))):
        out[name] = ev.loc[mask].groupby("case_id", sort=False)["timestamp"].min()
    opened = out["reg"].fillna(out["first"])
    exits = out[["close", "comp"]].min(axis=1)
    out["opened_at"] = opened.where(~(exits < opened), out["first"])
    out["closed"] = out["close"].notna() & ~(out["comp"] < out["close"])
    out["exit_at"] = out[["close", "comp"]].min(axis=1).fillna(obs_end)
    out["duration_days"] = (out["exit_at"] - out["opened_at"]) / DAY
    sub = ev[["case_id", "timestamp", "agency", "agency_type"]].merge(
        out["exit_at"], left_on="case_id", right_index=True)
    sub = sub[sub["timestamp"] <= sub["exit_at"]]
    for col, name in (("agency_type", "pattern"), ("agency", "agencies")):
        pairs = sub[["case_id", col]].drop_duplicates().sort_values(["case_id", col])
        # a vectorised string concatenation per group (agg("+".join) is 16x slower)
        out[name] = (pairs[col] + "+").groupby(pairs["case_id"], sort=False).sum().str[:-1]
    out["n_agencies"] = out["agencies"].str.count(r"\+") + 1
    return out.reset_index()


def pandas_intervals(ev: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """Plain vectorised pandas counting-process rows (same rules as build_case_intervals)."""
    c = cases.loc[cases["duration_known"] & (cases["duration_days"] > cases["entry_days"]),
                  ["case_id", "opened_at", "exit_at", "entry_days", "duration_days", "closed",
                   "exit_type"]]
    first = (ev.groupby(["case_id", "agency_type"], sort=False, observed=True)["timestamp"]
             .min().rename("joined").reset_index().merge(c, on="case_id"))
    first = first[first["joined"] < first["exit_at"]]
    first["t"] = np.maximum((first["joined"] - first["opened_at"]) / DAY, first["entry_days"])
    splits = first.loc[first["t"] > first["entry_days"], ["case_id", "t"]].drop_duplicates()
    rows = pd.concat([c[["case_id", "entry_days"]].rename(columns={"entry_days": "t"}), splits])
    rows = rows.sort_values(["case_id", "t"], kind="stable").reset_index(drop=True)
    rows["stop"] = rows.groupby("case_id", sort=False)["t"].shift(-1)
    rows = rows.merge(c[["case_id", "duration_days", "closed", "exit_type"]], on="case_id")
    last = rows["stop"].isna()
    rows["stop"] = rows["stop"].fillna(rows["duration_days"])
    rows["event"] = (last & rows["closed"]).astype("int8")
    rows["exit_type"] = rows["exit_type"].where(last, "")
    wide = first.pivot(index="case_id", columns="agency_type", values="t")  # noqa: PD010
    wide = wide[sorted(wide.columns)].reindex(rows["case_id"])
    joined = wide.to_numpy() <= rows["t"].to_numpy()[:, None]
    pattern = pd.Series("", index=rows.index, dtype="str")
    for j, name in enumerate(wide.columns):
        rows[f"at_{name}"] = joined[:, j].astype("int8")
        pattern = pattern + np.where(joined[:, j], f"{name}+", "")
    rows["pattern"] = pattern.str[:-1]
    return rows.rename(columns={"t": "start"}).drop(columns=["duration_days", "closed"])


def _check_table(cases: pd.DataFrame, ref: pd.DataFrame) -> None:
    a = cases.set_index("case_id")
    b = ref.set_index("case_id").loc[a.index]
    for col in ("duration_days", "closed", "pattern", "agencies", "n_agencies"):
        assert (a[col].to_numpy() == b[col].to_numpy()).all(), f"case table differs: {col}"


def _check_rows(rows: pd.DataFrame, ref: pd.DataFrame) -> None:
    key = ["case_id", "start"]
    a = rows.sort_values(key, kind="stable").reset_index(drop=True)
    b = ref.sort_values(key, kind="stable").reset_index(drop=True)
    assert len(a) == len(b), f"rows differ in number: {len(a)} vs {len(b)}"
    for col in ("case_id", "start", "stop", "event", "exit_type", "pattern"):
        assert (a[col].to_numpy() == b[col].to_numpy()).all(), f"rows differ: {col}"
    at = sorted(c for c in a if c.startswith("at_"))
    assert at == sorted(c for c in b if c.startswith("at_")), "exposure columns differ"
    assert (a[at].to_numpy() == b[at].to_numpy()).all(), "exposure values differ"


def _line(name: str, cpu: float, wall: float, base: tuple[float, float] | None = None) -> None:
    ratio = f"  x{base[0] / cpu:5.2f} faster (CPU) than the baseline" if base else ""
    print(f"  {name:<44} {cpu:7.2f} s CPU {wall:7.2f} s wall{ratio}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--data", type=Path, default=None, help="an existing Parquet district")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = args.data
        if path is None:
            path = Path(tmp) / "district.parquet"
            events, _ = ck.synth.generate_district(args.cases, seed=args.seed)
            events.to_parquet(path)
            del events
        events = pd.read_parquet(path)
    n_cases = events["case_id"].nunique()
    print(f"district: {n_cases:,} cases, {len(events):,} events, "
          f"{events['agency'].nunique()} agencies in {events['agency_type'].nunique()} types, "
          f"{events.shape[1]} columns; load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
          flush=True)

    print("case table")
    cases, cpu, wall = _timed(lambda: ck.build_case_table(events), args.repeat)
    obs_end = cases.attrs["observation_end"]
    ref, bcpu, bwall = _timed(lambda: pandas_case_table(events, obs_end), args.repeat)
    _check_table(cases, ref)
    del ref
    _line("plain pandas (subset of the columns)", bcpu, bwall)
    _line("casekit build_case_table", cpu, wall, (bcpu, bwall))

    print("counting-process rows")
    ref, bcpu, bwall = _timed(lambda: pandas_intervals(events, cases), args.repeat)
    _line("plain pandas (from the case table)", bcpu, bwall)
    rows, cpu, wall = _timed(lambda: ck.build_case_intervals(events, cases=cases), args.repeat)
    _check_rows(rows, ref)
    del ref
    _line("casekit build_case_intervals(cases=...)", cpu, wall, (bcpu, bwall))
    del rows
    rows, cpu2, wall2 = _timed(lambda: ck.build_case_intervals(events), args.repeat)
    _line("casekit build_case_intervals (+ case table)", cpu2, wall2)
    print(f"  {len(rows):,} rows for {rows.attrs['n_cases_with_rows']:,} cases; "
          f"{rows.attrs['n_events']:,} closes; outputs equal the baselines")
    print(f"peak RSS {_peak_rss_gib():.2f} GiB")


if __name__ == "__main__":
    main()
