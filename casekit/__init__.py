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
    # --- datasets ---
    # --- io / validate ---
    # --- privacy ---
    # --- network ---
    # --- repeat ---
    # --- cases ---
    # --- survival ---
    # --- kpi ---
    # --- simulate ---
    # --- end ---
}

_SUBMODULES = {
    "schema", "io", "validate", "privacy", "synth", "cases", "repeat", "network", "survival",
    "kpi", "simulate", "plotting", "widgets", "datasets", "cli", "report",
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
