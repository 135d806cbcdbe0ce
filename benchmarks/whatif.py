"""What-if simulator speed: a district-year (20,000 filings) re-run, as a slider would call it.

The baseline is calibrated from a cached ``casekit synth`` district read from disk
(``_common.py``; read -> case table -> ``calibrate_baseline``). Then, for 10 replications of a
district-year (the widget's call: scenario with its 90% band):

- the cold first call (draws the random inputs of the seed);
- a warm re-run with the same seed over lever changes (a lever slider);
- a run with a fresh seed each time (a slider that reseeds; goal <= 100 ms, issue 15);
- one replication, warm;

beside a numpy floor measured in the same run (drawing one uint16 uniform per filing input with
``Generator.integers``) and the plain SimPy discrete-event reference of the same model (one
replication, from ``tests/test_simulate_reference.py``), with the ratio.

    python benchmarks/whatif.py [--district-cases 100000] [--repeats 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import _common as cm

N_CASES = 20_000
REPLICATIONS = 10
LEVERS = ([("leader_ownership_share", v) for v in (0.0, 0.3, 0.6, 0.9)]
          + [("follow_up_visit_share", v) for v in (0.0, 0.5, 0.9)]
          + [("one_stop_center", v) for v in (0, 1)]
          + [("joint_conference_interval_days", v) for v in (7, 30, 90)]
          + [("mediators", v) for v in (0, 100, 300)])


CPU: dict[int, list[float]] = {}


def timed(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Wall seconds of each call; the CPU seconds go to ``CPU[id(result list)]``."""
    out, cpu = [], []
    for i in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU[id(out)] = cpu
    return out


def ms(xs: list[float]) -> str:
    cpu = CPU.get(id(xs))
    text = (f"wall median {statistics.median(xs) * 1000:6.1f} ms (min {min(xs) * 1000:6.1f}, "
            f"max {max(xs) * 1000:6.1f})")
    if cpu:
        text += f", cpu median {statistics.median(cpu) * 1000:6.1f} ms"
    return text


def cpu_ms(xs: list[float]) -> float:
    return statistics.median(CPU[id(xs)]) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--district-cases", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=30)
    args = ap.parse_args()
    import casekit as ck
    from casekit import simulate as sm

    path = cm.district(args.district_cases)
    cm.header("what-if: one district-year re-run", path)
    t0 = time.perf_counter()
    ev = ck.read_events(path)
    cases = ck.build_case_table(ev)
    base = sm.calibrate_baseline(cases, events=ev)
    print(f"  calibrated from {len(cases):,} cases in {time.perf_counter() - t0:.1f} s "
          "(read + case table + calibration)")
    print(f"  district-year: {N_CASES} filings a year, {REPLICATIONS} replications per run")

    def run(seed: int, replications: int = REPLICATIONS, **levers: float):  # type: ignore
        return sm.simulate_year(base, n_cases=N_CASES, replications=replications, seed=seed,
                                **levers)

    t0 = time.perf_counter()
    first = run(0)
    cold = time.perf_counter() - t0
    n_filings = int(first.set_index("metric").at["n_filings", "value"])
    same = timed(lambda i: run(0, **dict([LEVERS[i % len(LEVERS)]])), args.repeats)
    fresh = timed(lambda i: run(1000 + i, **dict([LEVERS[i % len(LEVERS)]])), args.repeats)
    run(1, 1)
    one = timed(lambda i: run(1, 1, **dict([LEVERS[i % len(LEVERS)]])), args.repeats)
    crn = sm._crn(base, n_cases=N_CASES, replications=REPLICATIONS, seed=0)
    n_inputs = crn.replications * crn.slots * 16
    rng = np.random.default_rng(0)
    floor = timed(lambda i: rng.integers(0, 65536, size=n_inputs, dtype=np.uint16), 10)
    print(f"cold first call (draws the seed's inputs): {cold * 1000:.1f} ms "
          f"({n_filings} filings simulated per replication)")
    print(f"same seed, {REPLICATIONS} replications, over {args.repeats} lever changes: {ms(same)}")
    print(f"fresh seed, {REPLICATIONS} replications, {args.repeats} seeds: {ms(fresh)} "
          f"(goal <= 100 ms: cpu {'met' if cpu_ms(fresh) <= 100 else 'MISSED'}, wall "
          f"{'met' if statistics.median(fresh) <= 0.1 else 'MISSED'} at this load)")
    print(f"one replication, warm: {ms(one)}")
    print(f"numpy floor: {n_inputs:,} uint16 uniforms (16 per first-filing slot) with "
          f"Generator.integers: {ms(floor)}")
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from test_simulate_reference import simpy_year
    except ImportError as exc:  # simpy missing
        print(f"SimPy reference not run: {exc}")
    else:
        lv = sm._resolve_levers(base, {}, N_CASES / base.filings_per_year)
        t0 = time.perf_counter()
        simpy_year(base, lv, n_cases=N_CASES, seed=0)
        simpy_s = time.perf_counter() - t0
        print(f"SimPy reference, one replication (same model, real queues): {simpy_s:.2f} s -> "
              f"{simpy_s / statistics.median(one):.0f}x one warm replication")
    print(f"  {cm.load()} after the runs")
    print(f"whatif same_seed_ms={statistics.median(same) * 1000:.1f} "
          f"fresh_seed_ms={statistics.median(fresh) * 1000:.1f} "
          f"fresh_seed_cpu_ms={cpu_ms(fresh):.1f} load1={__import__('os').getloadavg()[0]:.1f} "
          f"one_replication_ms={statistics.median(one) * 1000:.1f} cases={N_CASES} "
          f"replications={REPLICATIONS}")


if __name__ == "__main__":
    main()
