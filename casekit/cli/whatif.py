"""``casekit whatif [--data PATH] [--set LEVER=VALUE ...] [--seed S] --out RESULT.json``.

Calibrates the what-if simulator (:mod:`casekit.simulate`) from an event log (``--data``:
:func:`casekit.io.read_events` -> :func:`casekit.cases.build_case_table` ->
:func:`casekit.simulate.calibrate_baseline`) or from casekit's synthetic district, then runs the
baseline (every lever as observed) and the scenario (the ``--set`` levers changed) with the same
seed (common random numbers) and writes one JSON file: ``baseline`` and ``scenario`` (the same
metrics, each a number: the median over replications), ``intervals`` (their 90% bands, the
simulation-only bands ``sim_low, sim_high`` and units; ``band`` says which part comes from
which), ``assumptions`` (the table used), ``lever_effects`` (per lever parameter: estimated from
the log with its interval and case count, or assumed and why), ``effects`` (the whole
:func:`casekit.simulate.estimate_lever_effects` table), the lever values, seed, volume,
replications, casekit version and data source. The same arguments give byte-identical output
(sorted keys, rounded floats, no timestamps).

With ``--data`` the lever effects are estimated from the log by default (as
:func:`casekit.simulate.calibrate_baseline` does with an event log); ``--assumed-effects``
keeps the documented assumed values instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from casekit._utils import CasekitError, FileUnusableError
from casekit.cli._common import (
    add_read_options,
    atomic_write,
    check_memory,
    check_outputs,
    read_log,
)

DEFAULT_SEED = 0  # = casekit.simulate.DEFAULT_SEED (checked by the tests; kept light here)
DEFAULT_REPLICATIONS = 10  # = casekit.simulate.DEFAULT_REPLICATIONS


#: Peak memory per simulated case and replication (measured 0.66 KB at 20k-80k cases x 10
#: replications), with a margin; checked before anything is allocated.
_BYTES_PER_CASE_REP = 1_000
_BASE_BYTES = 350e6


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``whatif`` options."""
    from casekit.simulate import LEVERS

    levers = ", ".join(LEVERS["lever"])
    parser.description = (
        "Run the what-if simulator: baseline (levers as observed) vs a scenario. "
        f"Levers: {levers}."
    )
    parser.add_argument("--data", metavar="PATH",
                        help="event log to calibrate from (default: the synthetic district)")
    add_read_options(parser)
    parser.add_argument("--set", dest="sets", action="append", default=[],
                        metavar="LEVER=VALUE",
                        help=f"change a lever (repeatable); levers: {levers}")
    parser.add_argument("--route-to", metavar="PATTERN", default=None,
                        help="collaboration the route_share of repeat filings is routed "
                        "through, e.g. court+street_office (needs --data)")
    parser.add_argument("--assumed-effects", action="store_true",
                        help="keep the assumed lever effects instead of estimating them from "
                        "--data")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="S",
                        help=f"seed of the common random numbers (default {DEFAULT_SEED})")
    parser.add_argument("--replications", type=int, default=DEFAULT_REPLICATIONS, metavar="N",
                        help="replications behind the 90%% band "
                        f"(default {DEFAULT_REPLICATIONS})")
    parser.add_argument("--n-cases", type=int, default=None, metavar="N",
                        help="filings per year to simulate (default: the data's volume)")
    parser.add_argument("--out", required=True, metavar="RESULT.json", help="JSON file to write")


def _parse_sets(items: list[str]) -> dict[str, Any]:
    from casekit.simulate import check_lever

    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise CasekitError(f"--set: expected LEVER=VALUE, got {item!r}")
        name, raw = (s.strip() for s in item.split("=", 1))
        out[name] = check_lever(name, raw)
    return out


def _clean(x: Any) -> Any:
    """JSON-ready, deterministic: floats to 6 significant digits, NaN/inf to null."""
    from casekit._utils import json_safe

    return json_safe(x, digits=6)


def _values(res: Any) -> dict[str, float]:
    """``{metric: value}``: the median over replications, a plain number per metric."""
    return {r.metric: r.value for r in res.itertuples(index=False)}


def _bands(res: Any) -> dict[str, dict[str, Any]]:
    """``{metric: {low, high, sim_low, sim_high, unit}}``: the 90% bands over replications."""
    return {r.metric: {"low": r.low, "high": r.high, "sim_low": r.sim_low,
                       "sim_high": r.sim_high, "unit": r.unit}
            for r in res.itertuples(index=False)}


def _lever_effects(table: Any) -> dict[str, dict[str, Any]]:
    """``{"lever.parameter": {source, value, ci_low, ci_high, n_cases, reason}}``."""
    return {f"{r.lever}.{r.parameter}": {"source": r.source, "value": r.value,
                                         "ci_low": r.ci_low, "ci_high": r.ci_high,
                                         "n_cases": int(r.n_cases), "reason": r.reason}
            for r in table.itertuples(index=False) if r.lever != "all"}


def run(args: argparse.Namespace) -> int:
    """Run ``casekit whatif``."""
    from casekit import __version__
    from casekit import simulate as sm

    levers = _parse_sets(args.sets)  # validate before any heavy work
    if args.seed < 0:
        raise CasekitError(f"--seed: expected a non-negative integer, got {args.seed}")
    if args.replications < 1:
        raise CasekitError(f"--replications: expected a positive integer, got {args.replications}")
    if args.n_cases is not None and not (10 <= args.n_cases <= 5_000_000):
        raise CasekitError(f"--n-cases={args.n_cases} is out of range: expected 10 to 5000000")
    out_path = check_outputs([("--out", args.out)], [args.data])[0]
    if args.n_cases is not None:
        check_memory(_BASE_BYTES + _BYTES_PER_CASE_REP * args.n_cases
                     * max(args.replications, 10), f"--n-cases {args.n_cases} with "
                     f"--replications {args.replications}")

    if args.data:
        from casekit.cases import build_case_table

        path = Path(args.data)
        events = read_log(args, path)
        if len(events) == 0:
            raise FileUnusableError(f"{args.data}: no usable events")
        cases = build_case_table(events)
        base = sm.calibrate_baseline(cases, events=events,
                                     estimate_effects=not args.assumed_effects)
        name = (events.attrs.get("casekit") or {}).get("source") or "log"  # scrubbed of PII
        source = f"{name}: {base.source}"
    else:
        base = sm.calibrate_baseline()
        source = base.source

    common: dict[str, Any] = {"seed": args.seed, "replications": args.replications,
                              "n_cases": args.n_cases}
    baseline = sm.simulate_year(base, **common)
    scenario = sm.simulate_year(base, **common, **levers, route_repeat_to=args.route_to)
    table = base.assumptions if base.assumptions is not None else sm.ASSUMPTIONS
    result = {
        "casekit_version": __version__,
        "command": "whatif",
        "data_source": source,
        "seed": args.seed,
        "replications": args.replications,
        "n_cases": scenario.attrs["n_cases"],
        "levers_set": levers,
        "levers_baseline": baseline.attrs["levers"],
        "levers_scenario": scenario.attrs["levers"],
        "baseline": _values(baseline),
        "scenario": _values(scenario),
        "intervals": {"level": 0.9, "baseline": _bands(baseline), "scenario": _bands(scenario),
                      "band": scenario.attrs["band"]},
        "route_repeat_to": scenario.attrs["route_repeat_to"],
        "assumptions": scenario.attrs["assumptions"],
        "lever_effects": _lever_effects(table),
        "effects": [] if base.effects is None else base.effects.to_dict(orient="records"),
        "calibration": base.to_dict(),
        "metrics": {k: {"unit": u, "description": d} for k, (u, d) in sm.METRICS.items()},
    }
    text = json.dumps(_clean(result), sort_keys=True, ensure_ascii=False, indent=1) + "\n"
    with atomic_write(out_path) as tmp:
        tmp.write_text(text, encoding="utf-8")

    b = baseline.set_index("metric")["value"]
    s = scenario.set_index("metric")["value"]
    changed = ", ".join(f"{k}={v:g}" for k, v in levers.items()) or "no lever changed"
    est = table[table["source"].astype("str").str.startswith("estimated")]
    for r in est.itertuples(index=False):
        print(f"estimated {r.lever}.{r.parameter} = {r.value:.2f} (95% {r.ci_low:.2f} to "
              f"{r.ci_high:.2f}, {int(r.n_cases):,} cases)", file=sys.stdout)
    print(
        f"whatif ({changed}; seed {args.seed}, {args.replications} replications): "
        f"median days to close {s['median_days_to_close']:.1f} (baseline "
        f"{b['median_days_to_close']:.1f}), repeat rate {s['repeat_rate']:.3f} (baseline "
        f"{b['repeat_rate']:.3f}); wrote {out_path}",
        file=sys.stdout,
    )
    return 0
