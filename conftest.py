"""Root conftest: doctest namespace (``ck``, ``pd``, ``np``) as networkx does with ``nx``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import casekit as ck
from casekit import _jupyter_patch

# nbclient stall workaround (jupyter/nbclient#312) for nbmake and in-process notebook runs
_jupyter_patch.apply()


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace: dict) -> None:
    doctest_namespace["ck"] = ck
    doctest_namespace["pd"] = pd
    doctest_namespace["np"] = np
