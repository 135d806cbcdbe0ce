"""What-if simulator speed: a district-year (20,000 filings) re-run, as a slider would call it.

The baseline is calibrated from a cached ``casekit synth`` district (dynamic mode, 20,000 cases
by default) read from disk (``_common.py``): read -> case table -> ``calibrate_baseline``, once
with the assumed lever effects and once estimating them from the log (issue 13: goal <= 10 s).
Then, for 10 replications of a district-year (the widget's call: scenario with its 90% band):

- the cold first call (draws the random inputs of the seed);
- a warm re-run with the same seed over lever changes, assumed effects (the same-run baseline)
  and estimated effects (drawn per replication, plus the simulation-only band from the same
  pass; goal <= 100 ms);
- a run with a fresh seed each time, both ways (the panel's 10 replications with a fresh seed:
  goal <= 300 ms, issue 15 wants <= 100 ms);
- one replication, warm;

beside ``python -c pass`` and a numpy floor measured in the same run (drawing one uint16 uniform
per filing input with ``Generator.integers``) and the plain SimPy discrete-event reference of the
same model (one replication, from ``tests/test_simulate_reference.py``), with the ratio. The
goals are judged on CPU time (the machine is shared: wall time is printed with the load).
``--against PATH`` loads another version of ``casekit/simulate.py`` (e.g. main's) beside this
one and times both on the fresh-seed run, alternating calls with the same seeds and levers, so
the ratio holds under load; without it the last session's figures are quoted (``PREVIOUS``).

    python benchmarks/whatif.py [--district-cases 20000] [--repeats 30] [--against PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import _common as cm
import numpy as np

N_CASES = 20_000
REPLICATIONS = 10
LEVERS = ([("leader_ownership_share", v) for v in (0.0, 0.3, 0.6, 0.9)]
          + [("follow_up_visit_share", v) for v in (0.0, 0.5, 0.9)]
          + [("one_stop_center", v) for v in (0, 1)]
          + [("joint_conference_interval_days", v) for v in (7, 30, 90)]
          + [("mediators", v) for v in (0, 100, 300)])


CPU: dict[int, list[float]] = {}
#: main's run path before issue 15's changes (CPU median ms, same session, load 3.0; the paired
#: ``--against`` figures are the ones that hold under load), quoted for comparison
PREVIOUS = {"same_seed_assumed": 35, "same_seed_estimated": 69, "fresh_seed_assumed": 71,
            "fresh_seed_estimated": 106}


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


def dynamic_district(n_cases: int, seed: int = 0) -> Path:
    """A cached ``casekit synth`` district in dynamic mode (agencies join open cases): the
    shape the lever-effect estimator is meant for (``_common.district`` writes upfront ones)."""
    from casekit import synth

    path = cm.district_path(n_cases, seed=seed).with_name(
        cm.district_path(n_cases, seed=seed).name.replace("district-", "district-dynamic-"))
    if not path.exists():
        cm.CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name("tmp-" + path.name)
        synth.write_district(tmp, n_cases, seed=seed, mode="dynamic")
        tmp.replace(path)
        for p in cm.CACHE.glob("tmp-" + path.stem + "*"):  # the truth file
            p.replace(p.with_name(p.name[4:]))
    return path


def calibrate(path: Path) -> tuple:  # type: ignore[type-arg]
    """Read, build the case table, calibrate with assumed and with estimated effects; timed."""
    import casekit as ck
    from casekit import simulate as sm

    t0 = time.perf_counter()
    ev = ck.read_events(path)
    cases = ck.build_case_table(ev)
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    assumed = sm.calibrate_baseline(cases, events=ev, estimate_effects=False)
    t_assumed = time.perf_counter() - t0
    t0 = time.perf_counter()
    estimated = sm.calibrate_baseline(cases, events=ev, estimate_effects=True)
    t_est = time.perf_counter() - t0
    n_est = int(estimated.assumptions["source"].str.startswith("estimated").sum())
    print(f"  read + case table of {len(cases):,} cases: {t_read:.1f} s; calibration with "
          f"assumed effects {t_assumed:.1f} s, estimating effects {t_est:.1f} s "
          f"({n_est} effects estimated; goal read + case table + estimated calibration <= 10 s: "
          f"{'met' if t_read + t_est <= 10 else 'MISSED'})")
    return assumed, estimated, t_read + t_est


def against(path: Path, base, repeats: int) -> None:  # type: ignore[no-untyped-def]
    """Time this ``simulate_year`` and the one in ``path`` on the same calls, paired."""
    from casekit import simulate as sm

    spec = importlib.util.spec_from_file_location("casekit_simulate_other", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--against: cannot load {path}")
    other = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = other
    spec.loader.exec_module(other)
    other.Baseline = sm.Baseline  # type: ignore[attr-defined]  # the baseline's own class
    for m in (sm, other):
        m.simulate_year(base, n_cases=N_CASES, replications=REPLICATIONS, seed=0)
    for label, fresh in (("fresh seed", True), ("same seed", False)):
        cpu: dict[str, list[float]] = {"this": [], "other": []}
        for i in range(repeats):
            pair = [("this", sm), ("other", other)]
            for name, m in pair if i % 2 else pair[::-1]:  # alternate who goes first
                c0 = time.process_time()
                m.simulate_year(base, n_cases=N_CASES, replications=REPLICATIONS,
                                seed=3000 + i if fresh else 0, **dict([LEVERS[i % len(LEVERS)]]))
                cpu[name].append(time.process_time() - c0)
        ratio = statistics.median(a / b for a, b in zip(cpu["this"], cpu["other"], strict=True))
        print(f"{label}, estimated effects, paired with {path}: this cpu median "
              f"{statistics.median(cpu['this']) * 1000:.1f} ms, other "
              f"{statistics.median(cpu['other']) * 1000:.1f} ms, median ratio this/other "
              f"{ratio:.2f}")


def python_floor() -> float:
    """Median wall seconds of ``python -c pass`` (process start), 5 runs."""
    import subprocess

    xs = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        xs.append(time.perf_counter() - t0)
    return statistics.median(xs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--district-cases", type=int, default=N_CASES)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--against", type=Path, default=None,
                    help="another casekit/simulate.py to time beside this one (paired)")
    args = ap.parse_args()
    from casekit import simulate as sm

    path = dynamic_district(args.district_cases)
    cm.header("what-if: one district-year re-run", path)
    assumed, estimated, t_cal = calibrate(path)
    print(f"  district-year: {N_CASES} filings a year, {REPLICATIONS} replications per run")

    def runner(base):  # type: ignore[no-untyped-def]
        def run(seed: int, replications: int = REPLICATIONS, **levers: float):  # type: ignore
            return sm.simulate_year(base, n_cases=N_CASES, replications=replications,
                                    seed=seed, **levers)
        return run

    run_a, run_e = runner(assumed), runner(estimated)
    t0 = time.perf_counter()
    first = run_e(0)
    cold = time.perf_counter() - t0
    n_filings = int(first.set_index("metric").at["n_filings", "value"])
    run_a(0)

    def lever(i: int) -> dict:  # type: ignore[type-arg]
        return dict([LEVERS[i % len(LEVERS)]])

    same_a = timed(lambda i: run_a(0, **lever(i)), args.repeats)
    same_e = timed(lambda i: run_e(0, **lever(i)), args.repeats)
    fresh_a = timed(lambda i: run_a(1000 + i, **lever(i)), args.repeats)
    fresh_e = timed(lambda i: run_e(2000 + i, **lever(i)), args.repeats)
    run_e(1, 1)
    one = timed(lambda i: run_e(1, 1, **lever(i)), args.repeats)
    crn = sm._crn(estimated, n_cases=N_CASES, replications=REPLICATIONS, seed=0)
    n_inputs = crn.replications * crn.slots * 16
    rng = np.random.default_rng(0)
    floor = timed(lambda i: rng.integers(0, 65536, size=n_inputs, dtype=np.uint16), 10)
    py = python_floor()
    band = first.set_index("metric").loc["median_days_to_close_repeat"]
    print(f"cold first call (draws the seed's inputs): {cold * 1000:.1f} ms "
          f"({n_filings} filings simulated per replication)")
    def was(name: str) -> str:
        return f"[d0d7d9f, before this pass, at load 3: {PREVIOUS[name]} ms cpu]"

    def goal(xs: list[float], limit_ms: float) -> str:
        return f"goal <= {limit_ms:.0f} ms cpu: {'met' if cpu_ms(xs) <= limit_ms else 'MISSED'}"

    print(f"same seed, assumed effects (baseline), {args.repeats} lever changes: {ms(same_a)} "
          f"{was('same_seed_assumed')}")
    print(f"same seed, estimated effects drawn per replication + simulation-only band: "
          f"{ms(same_e)} ({goal(same_e, 100)}) {was('same_seed_estimated')}")
    print(f"fresh seed, assumed effects (baseline): {ms(fresh_a)} {was('fresh_seed_assumed')}")
    print(f"fresh seed, estimated effects, the panel's {REPLICATIONS} replications: {ms(fresh_e)} "
          f"(issue 13 {goal(fresh_e, 300)}; issue 15 {goal(fresh_e, 100)}) "
          f"{was('fresh_seed_estimated')}")
    print(f"one replication, warm: {ms(one)}")
    print(f"repeat median band: total {band['low']:.1f}-{band['high']:.1f} days, simulation "
          f"noise alone {band['sim_low']:.1f}-{band['sim_high']:.1f}")
    print(f"python -c pass: {py * 1000:.0f} ms; numpy floor: {n_inputs:,} uint16 uniforms "
          f"(16 per first-filing slot) with Generator.integers: {ms(floor)}")
    try:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from test_simulate_reference import simpy_year
    except ImportError as exc:  # simpy missing
        print(f"SimPy reference not run: {exc}")
    else:
        lv = sm.default_levers(assumed, n_cases=N_CASES)
        t0 = time.perf_counter()
        simpy_year(assumed, lv, n_cases=N_CASES, seed=0)
        simpy_s = time.perf_counter() - t0
        print(f"SimPy reference, one replication (same model, real queues): {simpy_s:.2f} s -> "
              f"{simpy_s / statistics.median(one):.0f}x one warm replication")
    if args.against is not None:
        against(args.against, estimated, args.repeats)
    print(f"  {cm.load()} after the runs")
    print(f"whatif calibration_s={t_cal:.1f} same_seed_assumed_ms={statistics.median(same_a) * 1000:.1f} "
          f"same_seed_estimated_ms={statistics.median(same_e) * 1000:.1f} "
          f"fresh_seed_assumed_ms={statistics.median(fresh_a) * 1000:.1f} "
          f"fresh_seed_estimated_ms={statistics.median(fresh_e) * 1000:.1f} "
          f"same_seed_cpu_ms={cpu_ms(same_e):.1f} fresh_seed_cpu_ms={cpu_ms(fresh_e):.1f} "
          f"python_pass_ms={py * 1000:.0f} "
          f"load1={__import__('os').getloadavg()[0]:.1f} cases={N_CASES} "
          f"replications={REPLICATIONS}")


if __name__ == "__main__":
    main()
