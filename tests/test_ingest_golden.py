"""Issue 15: the fast ingest path returns exactly what the code before it returned.

``tests/data/ingest_golden.json`` holds digests of ``read_events_report`` on a corrupted ~20k
event district (CSV and Parquet) and on the bundled sample, made by the code before the
speed-up (``tests/data/make_ingest_golden.py``). Every accepted value and dtype, every
quarantined row, every problem line and the metadata must be the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "data"))
import make_ingest_golden as golden


@pytest.fixture(scope="module")
def reads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return golden.reads(tmp_path_factory.mktemp("golden"))


@pytest.mark.parametrize("name", ["csv", "parquet", "sample"])
def test_read_is_unchanged(reads: dict[str, dict], name: str) -> None:
    want = json.loads(golden.GOLDEN.read_text(encoding="utf-8"))[name]
    got = json.loads(json.dumps(reads[name], ensure_ascii=False))
    assert got["n"] == want["n"]
    assert got["quarantine"] == want["quarantine"], got["quarantine_head"]
    assert got["events"] == _as_categories(want["events"])
    assert got["n_problems"] == want["n_problems"] and got["problems"] == want["problems"]
    assert got["metadata_keys"] == want["metadata_keys"]
    assert got["metadata"] == want["metadata"]


def _as_categories(events: dict) -> dict:
    """The golden digests with the label columns as ``category``: the one change made on
    purpose since (issue 15: validated events keep activity, agency, agency_type and the other
    label columns as categories; every value, hence every text digest, is the same)."""
    from casekit.validate import _CATEGORY_COLUMNS

    cols = {c: (["category", h] if c in _CATEGORY_COLUMNS and dt == "str" else [dt, h])
            for c, (dt, h) in events["columns"].items()}
    return {**events, "columns": cols}


def test_the_fixture_is_hostile(reads: dict[str, dict]) -> None:
    reasons = {r[3] for r in reads["csv"]["quarantine_head"]}
    assert reads["csv"]["n"][2] >= 40 and "empty case id" in reasons
    assert "petitioner_name" not in reads["csv"]["events"]["columns"]
