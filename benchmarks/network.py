"""Benchmark: handover and working-together networks on a large sorted log.

Generates ``--cases`` cases (default 1,000,000) with about 10 events each (about 10M events)
and 40 agencies in 6 types, sorted by (case_id, timestamp) as the canonical reader leaves it;
times casekit's two network builders (median of ``--repeat`` runs) and a straightforward pandas
groupby implementation of the same counts in the same run, checks that both give the same
counts, and prints the figures, the ratio and the peak resident memory.

    .venv/bin/python benchmarks/network.py [--cases 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import numpy as np
import pandas as pd
import pyarrow as pa

import casekit as ck

TYPES = ["petition_bureau", "street_office", "residents_committee", "court",
         "housing_construction_bureau", "justice_office"]


def generate(n_cases: int, *, n_agencies: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_ev = rng.integers(2, 19, n_cases)  # 2..18 events, mean 10
    case_idx = np.repeat(np.arange(n_cases), n_ev)
    n = len(case_idx)
    # each case involves 1-4 agencies; each event is done by one of them
    k = rng.integers(1, 5, n_cases)
    sets = rng.integers(0, n_agencies, (n_cases, 4))
    pick = (rng.random(n) * k[case_idx]).astype(np.int64)
    agency_code = sets[case_idx, pick]
    # timestamps: case start + cumulative gaps (seconds), sorted inside each case
    start = np.datetime64("2023-01-01T00:00:00", "s") + rng.integers(0, 730 * 86400, n_cases)
    gaps = rng.exponential(2 * 86400, n).astype(np.int64)
    first = np.concatenate([[0], np.cumsum(n_ev)[:-1]])
    cum = np.cumsum(gaps)
    cum -= np.repeat(cum[first], n_ev)
    ts = (np.repeat(start, n_ev) + cum.astype("timedelta64[s]")).astype("datetime64[ns]")
    import pyarrow.compute as pc

    ids = pc.binary_join_element_wise(
        "C", pc.utf8_lpad(pa.array(np.arange(n_cases).astype(str)), width=7, padding="0"), ""
    )
    agency_names = pa.array([f"agency_{i:02d}" for i in range(n_agencies)])
    type_names = pa.array([TYPES[i % len(TYPES)] for i in range(n_agencies)])
    mapper = {pa.string(): pd.StringDtype(na_value=np.nan),
              pa.large_string(): pd.StringDtype(na_value=np.nan)}
    table = pa.table({
        "case_id": ids.take(pa.array(case_idx)),
        "timestamp": pa.array(ts),
        "activity": pa.array(np.full(n, "investigate")),
        "agency": agency_names.take(pa.array(agency_code)),
        "agency_type": type_names.take(pa.array(agency_code)),
    })
    return table.to_pandas(types_mapper=mapper.get)


def pandas_handover(ev: pd.DataFrame) -> pd.Series:
    prev = ev.groupby("case_id", sort=False)["agency"].shift()
    mask = prev.notna()
    return pd.DataFrame({"source": prev[mask], "target": ev["agency"][mask]}).value_counts()


def pandas_working_together(ev: pd.DataFrame) -> pd.Series:
    d = ev[["case_id", "agency"]].drop_duplicates()
    pairs = d.merge(d, on="case_id", suffixes=("_s", "_t"))
    pairs = pairs[pairs["agency_s"] < pairs["agency_t"]]
    return pairs.groupby(["agency_s", "agency_t"]).size()


CPU: dict[str, float] = {}


def timed(f, repeat: int, name: str = ""):  # type: ignore[no-untyped-def]
    times, cpu, result = [], [], None
    for _ in range(repeat):
        c = time.process_time()
        t = time.perf_counter()
        result = f()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    CPU[name] = statistics.median(cpu)
    return statistics.median(times), min(times), result


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    t = time.perf_counter()
    ev = generate(args.cases)
    gen_s = time.perf_counter() - t
    n_agencies = ev["agency"].nunique()
    print(f"log: {len(ev):,} events, {args.cases:,} cases, {n_agencies} agencies "
          f"(generated in {gen_s:.1f} s); peak RSS after generation {rss_mib():,.0f} MiB")

    ck.build_agency_networks(ev.head(10_000))  # warm-up: imports, kernel set-up
    pandas_handover(ev.head(10_000))
    pandas_working_together(ev.head(10_000))
    codes = ev["agency"].astype("category").cat.codes.to_numpy().astype(np.int64)
    f_med, f_min, _ = timed(lambda: np.bincount(codes, minlength=64), max(args.repeat, 5), "floor")
    h_med, h_min, H = timed(lambda: ck.build_handover_network(ev, include_self=True),
                            args.repeat, "h")
    h2_med, h2_min, _ = timed(
        lambda: ck.build_handover_network(ev, include_self=True, lags=False), args.repeat, "h2")
    w_med, w_min, W = timed(lambda: ck.build_working_together_network(ev), args.repeat, "w")
    b_med, b_min, (W2, H2) = timed(
        lambda: ck.build_agency_networks(ev, include_self=True, lags=False), args.repeat, "b")
    b2_med, b2_min, _ = timed(
        lambda: ck.build_agency_networks(ev, include_self=True), args.repeat, "b2")
    rss_ours = rss_mib()
    ph_med, ph_min, ph = timed(lambda: pandas_handover(ev), args.repeat, "ph")
    pw_med, pw_min, pw = timed(lambda: pandas_working_together(ev), args.repeat, "pw")
    rss_all = rss_mib()

    ours_h = {(u, v): d["count"] for u, v, d in H.edges(data=True)}
    ours_w = {tuple(sorted((u, v))): d["count"] for u, v, d in W.edges(data=True)}
    same_h = ours_h == {k: int(v) for k, v in ph.items()}
    same_w = ours_w == {k: int(v) for k, v in pw.items()}
    same_w &= ours_w == {tuple(sorted((u, v))): d["count"] for u, v, d in W2.edges(data=True)}
    same_h &= ours_h == {(u, v): d["count"] for u, v, d in H2.edges(data=True)}

    def line(name: str, med: float, mn: float, cpu: str = "") -> str:
        cpu_s = f"   cpu {CPU[cpu]:7.3f} s" if cpu in CPU else ""
        return f"  {name:<48} median {med:7.3f} s   min {mn:7.3f} s{cpu_s}"

    load = os.getloadavg()[0]
    quiet_floor = 0.023 * len(ev) / 9_570_000  # BASELINES.md: 0.023 s for 9.57M events
    slow = max(f_min / quiet_floor, 1.0)
    print(f"machine load average {load:.1f} on {os.cpu_count()} cores; floor (numpy bincount "
          f"over the events; BASELINES.md quiet: {quiet_floor:.4f} s) median {f_med:.4f} s, "
          f"min {f_min:.4f} s -> slow-down now about {slow:.1f}x")

    print(f"casekit (median / min of {args.repeat} runs):")
    print(line("handover (with median lag per edge)", h_med, h_min, "h"))
    print(line("handover (counts only, lags=False, as the CLI)", h2_med, h2_min, "h2"))
    print(line("working together", w_med, w_min, "w"))
    print(line("both networks (handover with lags + WT)", h_med + w_med, h_min + w_min))
    print(line("both networks (handover counts + WT)", h2_med + w_med, h2_min + w_min))
    print(line("both in one pass: build_agency_networks (counts)", b_med, b_min, "b"))
    print(line("both in one pass, with median lags", b2_med, b2_min, "b2"))
    print("pandas groupby baseline (same run):")
    print(line("handover (groupby shift + value_counts)", ph_med, ph_min, "ph"))
    print(line("working together (drop_duplicates + self-merge)", pw_med, pw_min, "pw"))
    print(line("both networks", ph_med + pw_med, ph_min + pw_min))
    print("ratio pandas / casekit (medians): "
          f"handover {ph_med / h_med:.1f}x (counts only {ph_med / h2_med:.1f}x), "
          f"working together {pw_med / w_med:.1f}x, "
          f"both {(ph_med + pw_med) / (h_med + w_med):.1f}x, "
          f"both in one pass (counts) {(ph_med + pw_med) / b_med:.1f}x")
    print(f"counts equal to the pandas baseline: handover {same_h}, working together {same_w} "
          f"({H.number_of_edges()} and {W.number_of_edges()} edges)")
    print(f"both networks (counts), min wall time divided by the floor's slow-down: separate "
          f"calls about {(h2_min + w_min) / slow:.2f} s, one pass about {b_min / slow:.2f} s "
          "on a quiet machine (estimate)")
    print(f"peak RSS: {rss_ours:,.0f} MiB after casekit's networks (log included), "
          f"{rss_all:,.0f} MiB after the pandas baseline")


if __name__ == "__main__":
    main()
