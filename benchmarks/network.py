"""Benchmark: handover and working-together networks on a real-shaped district, from the file.

Reads a ``casekit synth`` district (about 300 agencies, 17 columns, a few quarantined rows; see
``_common.py``) from Parquet with ``casekit.read_events`` and then times, on the same events:
casekit's builders, a bare numpy version of both networks (pyarrow dictionary encoding plus
integer-key counting: the floor), pandas (groupby-shift; drop_duplicates + self-merge) and
PM4Py's published figures (``../shared/perf/BASELINES.md``; PM4Py is AGPL and not installed).
All counts are checked equal. Goals (issue 15): both networks within 1.5x of the numpy version;
handover alone faster than pandas.

    python benchmarks/network.py [--cases 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse

import _common as cm
import casekit as ck


def counts(G) -> dict:  # type: ignore[no-untyped-def]
    if G.is_directed():
        return {(u, v): c for u, v, c in G.edges(data="count")}
    return {tuple(sorted((u, v))): c for u, v, c in G.edges(data="count")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    path = cm.district(args.cases)
    cm.header("networks on a real-shaped district (CPU seconds are medians of "
              f"{args.repeat} runs)", path)
    read = cm.measure(lambda: ck.read_events(path))
    ev = read.result
    print(f"  read + validate (setup, see pipeline.py): wall {read.wall:.1f} s; {len(ev):,} events, "
          f"{ev['case_id'].nunique():,} cases, {ev['agency'].nunique()} agencies")
    small = ev.head(20_000)  # warm-up: imports, first calls
    ck.build_agency_networks(small)
    cm.numpy_both(small)
    cm.pandas_handover(small)

    r = args.repeat
    t = {
        "handover (counts)": cm.measure(
            lambda: ck.build_handover_network(ev, include_self=True, lags=False), r),
        "handover (counts + median lags)": cm.measure(
            lambda: ck.build_handover_network(ev, include_self=True), r),
        "working together": cm.measure(lambda: ck.build_working_together_network(ev), r),
        "both, one pass (counts)": cm.measure(
            lambda: ck.build_agency_networks(ev, include_self=True, lags=False), r),
        "both, one pass (+ median lags)": cm.measure(
            lambda: ck.build_agency_networks(ev, include_self=True), r),
    }
    base_np = cm.measure(lambda: cm.numpy_both(ev), r)
    base_ph = cm.measure(lambda: cm.pandas_handover(ev), r)
    base_pw = cm.measure(lambda: cm.pandas_working_together(ev), r)
    print(f"  {cm.load()} after the runs")

    h_np, w_np = base_np.result
    W, H = t["both, one pass (counts)"].result
    same = (counts(H) == h_np == counts(t["handover (counts)"].result)
            == {k: int(v) for k, v in base_ph.result.items()}
            and counts(W) == w_np == counts(t["working together"].result)
            == {k: int(v) for k, v in base_pw.result.items()})
    print("casekit:")
    for name, timing in t.items():
        base, bname = ((base_ph, "pandas handover") if name.startswith("handover")
                       else (base_pw, "pandas working together") if name.startswith("working")
                       else (base_np, "numpy both"))
        print(cm.row(name, timing, base, bname, width=34))
    print("baselines (same run):")
    print(cm.row("numpy both networks (the floor)", base_np, width=34))
    print(cm.row("pandas handover", base_ph, width=34))
    print(cm.row("pandas working together", base_pw, width=34))
    pm = cm.published("PM4Py handover / working together")
    if pm:
        print(f"  PM4Py handover / working together (not installed; published in BASELINES.md, "
              f"CPU s, same district shape): 100k cases {pm[1]}, 1M cases {pm[2]}")
    both = t["both, one pass (counts)"]
    ratio_np = both.cpu / base_np.cpu
    ratio_pd = base_ph.cpu / t["handover (counts)"].cpu
    print(f"counts equal to numpy and pandas: {same} ({H.number_of_edges()} handover, "
          f"{W.number_of_edges()} working-together edges)")
    print(f"goals: both networks {ratio_np:.2f}x the numpy floor (goal <= 1.5x: "
          f"{'met' if ratio_np <= 1.5 else 'missed'}); handover {ratio_pd:.1f}x faster than "
          f"pandas (goal > 1x: {'met' if ratio_pd > 1 else 'missed'})")
    print(f"network events={len(ev)} both_cpu_s={both.cpu:.3f} numpy_cpu_s={base_np.cpu:.3f} "
          f"ratio={ratio_np:.2f} handover_vs_pandas={ratio_pd:.1f}x counts_equal={same}")


if __name__ == "__main__":
    main()
