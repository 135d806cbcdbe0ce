"""Bundled sample data and loaders for the real public logs.

- ``load_sample_events()`` / ``load_sample_truth()``: the small synthetic district committed in
  ``casekit/datasets/`` (see ``data/README.md``), read via ``importlib.resources``.
- ``load_receipt()``, ``load_road_traffic()``, ...: the real public logs kept in
  ``../shared/data/real/`` (never copied into the project), read with their column mappings.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    # --- sample (synth) ---
    "load_sample_events": "casekit.datasets._sample",
    "load_sample_truth": "casekit.datasets._sample",
    # --- real logs ---
    "load_receipt": "casekit.datasets._real",
    "load_road_traffic": "casekit.datasets._real",
    "load_bpic14": "casekit.datasets._real",
    "load_bpic15": "casekit.datasets._real",
    "load_nyc_council_casework": "casekit.datasets._real",
    "load_nyc311_sample": "casekit.datasets._real",
    "load_tipdm_messages": "casekit.datasets._real",
    "list_real_datasets": "casekit.datasets._real",
    "real_data_root": "casekit.datasets._real",
    "RealDataNotFoundError": "casekit.datasets._real",
    # --- end ---
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'casekit.datasets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
