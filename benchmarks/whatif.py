"""What-if simulator speed: a district-year (20,000 filings) re-run, as a slider would call it.

Prints the cold call (drawing the common random numbers for the seed), the warm re-run median
over lever changes (the slider case: same seed, new lever values) for one district-year (one
replication of 20,000 filings a year, after its warm-up year) and for ten replications (what a
panel showing a 90% band calls), and the plain SimPy discrete-event reference of the same model
measured in this run (one replication, from tests/test_simulate_reference.py) with the ratio.
Last line: ``whatif median_ms=<x> cases=<n>`` for the one-replication district-year re-run.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

N_CASES = 20_000
REPLICATIONS = 10
REPEATS = 30


def main() -> None:
    from casekit import simulate as sm

    base = sm.calibrate_baseline()
    print(f"baseline: {base.source}")
    print(f"district-year: {N_CASES} filings a year, {REPLICATIONS} replications per run "
          "(the widget's call: scenario with its 90% band)")

    t0 = time.perf_counter()
    first = sm.simulate_year(base, n_cases=N_CASES, replications=REPLICATIONS, seed=0)
    cold = time.perf_counter() - t0
    n_filings = int(first.set_index("metric").at["n_filings", "value"])
    print(f"cold call (draws the common random numbers for the seed): {cold * 1000:.1f} ms")

    levers = [("leader_ownership_share", v) for v in (0.0, 0.3, 0.6, 0.9)] + [
        ("follow_up_visit_share", v) for v in (0.0, 0.5, 0.9)] + [
        ("one_stop_center", v) for v in (0, 1)] + [
        ("joint_conference_interval_days", v) for v in (7, 30, 90)] + [
        ("mediators", v) for v in (0, 100, 300)]
    warm: list[float] = []
    for i in range(REPEATS):
        name, value = levers[i % len(levers)]
        t0 = time.perf_counter()
        sm.simulate_year(base, n_cases=N_CASES, replications=REPLICATIONS, seed=0,
                         **{name: value})
        warm.append(time.perf_counter() - t0)
    median_ms = statistics.median(warm) * 1000
    print(f"warm re-run with {REPLICATIONS} replications over {REPEATS} lever changes: "
          f"median {median_ms:.1f} ms, "
          f"min {min(warm) * 1000:.1f} ms, max {max(warm) * 1000:.1f} ms "
          f"({n_filings} filings simulated per replication)")

    sm.simulate_year(base, n_cases=N_CASES, replications=1, seed=1)
    one = []
    for i in range(REPEATS):
        name, value = levers[i % len(levers)]
        t0 = time.perf_counter()
        sm.simulate_year(base, n_cases=N_CASES, replications=1, seed=1, **{name: value})
        one.append(time.perf_counter() - t0)
    one_ms = statistics.median(one) * 1000
    print(f"warm re-run of one district-year (one replication): median {one_ms:.1f} ms, "
          f"min {min(one) * 1000:.1f} ms")

    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from test_simulate_reference import simpy_year
    except ImportError as exc:  # simpy missing
        print(f"SimPy reference not run: {exc}")
    else:
        lv = sm._resolve_levers(base, {}, N_CASES / base.filings_per_year)
        t0 = time.perf_counter()
        ref = simpy_year(base, lv, n_cases=N_CASES, seed=0)
        simpy_s = time.perf_counter() - t0
        print(f"SimPy reference, one replication (same model, real queues): {simpy_s:.2f} s; "
              f"median days {ref['median_days_to_close']:.2f}")
        print(f"ratio SimPy / vectorised, one replication: {simpy_s * 1000 / one_ms:.0f}x; "
              f"SimPy for {REPLICATIONS} replications would take "
              f"{simpy_s * REPLICATIONS:.1f} s vs {median_ms:.1f} ms")
    print(f"whatif median_ms={one_ms:.1f} cases={N_CASES}")


if __name__ == "__main__":
    main()
