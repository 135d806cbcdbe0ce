"""casekit: how public agencies work together on citizens' grievance (信访) cases.

A small, flat API (``import casekit as ck``): read case-handling event logs, build the
coordination network among agencies, estimate censoring-aware time to close and to settle by
collaboration pattern, and explore what-if levers.

The facade is lazy: ``import casekit`` imports neither matplotlib nor ipywidgets (nor lifelines or
networkx); each name is loaded from its module the first time it is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that implements it (each re-exported function *is* the implementation)
_EXPORTS: dict[str, str] = {
    # --- errors ---
    "CasekitError": "casekit._utils",
    "FileUnusableError": "casekit._utils",
    # --- schema ---
    "validate_events": "casekit.schema",
    "to_identifier": "casekit.schema",
    "label_of": "casekit.schema",
    # --- synth ---
    "generate_district": "casekit.synth",
    "write_district": "casekit.synth",
    "load_sample_events": "casekit.datasets._sample",
    "load_sample_truth": "casekit.datasets._sample",
    # --- datasets ---
    "load_receipt": "casekit.datasets._real",
    "load_road_traffic": "casekit.datasets._real",
    "load_bpic14": "casekit.datasets._real",
    "load_bpic15": "casekit.datasets._real",
    "load_nyc_council_casework": "casekit.datasets._real",
    "load_nyc311_sample": "casekit.datasets._real",
    "load_tipdm_messages": "casekit.datasets._real",
    # --- io / validate ---
    "read_events": "casekit.io",
    "read_events_report": "casekit.io",
    "read_table": "casekit.io",
    "write_events": "casekit.io",
    "parse_timestamps": "casekit.timestamps",
    "guess_columns": "casekit.schema",
    "validate_table": "casekit.validate",
    "ReadResult": "casekit.validate",
    # --- privacy ---
    "pseudonymise": "casekit.privacy",
    "is_valid_id_number": "casekit.privacy",
    "mask_free_text": "casekit.privacy",
    "mask_value": "casekit.privacy",
    "spreadsheet_safe": "casekit.privacy",
    "suppress_small_cells": "casekit.privacy",
    "find_pii": "casekit.privacy",
    "assert_no_pii": "casekit.privacy",
    # --- network ---
    "build_working_together_network": "casekit.network",
    "build_handover_network": "casekit.network",
    "build_joint_conference_network": "casekit.network",
    "build_agency_networks": "casekit.network",
    "build_network_by_period": "casekit.network",
    "edges_to_frame": "casekit.network",
    "nodes_to_frame": "casekit.network",
    "network_metrics": "casekit.network",
    "find_referral_loops": "casekit.network",
    # --- repeat ---
    "link_repeats": "casekit.repeat",
    "build_matter_table": "casekit.repeat",
    "normalise_address": "casekit.repeat",
    # --- cases ---
    "build_case_table": "casekit.cases",
    "build_matter_view": "casekit.cases",
    "build_case_intervals": "casekit.cases",
    "DelayedEntryWarning": "casekit.cases",
    # --- survival ---
    "fit_time_to_close": "casekit.survival",
    "median_table": "casekit.survival",
    "compare_patterns": "casekit.survival",
    "fit_cox": "casekit.survival",
    # --- ranking ---
    "rank_collaborations": "casekit.ranking",
    "fit_time_varying_cox": "casekit.ranking",
    "describe_ranking": "casekit.ranking",
    "excluded_patterns": "casekit.ranking",
    # --- kpi ---
    "build_deadline_table": "casekit.kpi",
    "on_time_rates": "casekit.kpi",
    "overdue_cases": "casekit.kpi",
    # --- simulate ---
    "estimate_lever_effects": "casekit.simulate",
    "calibrate_baseline": "casekit.simulate",
    "simulate_year": "casekit.simulate",
    "sweep": "casekit.simulate",
    "ASSUMPTIONS": "casekit.simulate",
    # --- end ---
}

_SUBMODULES = {
    "schema", "io", "validate", "privacy", "synth", "cases", "repeat", "network", "survival",
    "kpi", "simulate", "plotting", "widgets", "datasets", "cli", "report", "training",
    "ranking", "engine", "scale", "timestamps",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"casekit.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'casekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_SUBMODULES])
