"""Root conftest: doctest namespace (``ck``, ``pd``, ``np``) as networkx does with ``nx``."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

import casekit as ck
from casekit import _jupyter_patch

# nbclient stall workaround (jupyter/nbclient#312) for nbmake and in-process notebook runs
_jupyter_patch.apply()

# Shared 2-core machines: no per-example deadlines, no "too slow" health check (speed is measured
# by benchmarks/, never by tests).
settings.register_profile(
    "casekit", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
# CI replays the same examples every run (a red CI then means the change, not the dice); local
# runs keep drawing new ones, which is how the property tests find new bugs.
settings.register_profile("casekit-ci", parent=settings.get_profile("casekit"), derandomize=True)
settings.load_profile("casekit-ci" if os.environ.get("CI") else "casekit")


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace: dict) -> None:
    doctest_namespace["ck"] = ck
    doctest_namespace["pd"] = pd
    doctest_namespace["np"] = np
