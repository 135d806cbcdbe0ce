"""validate_table: the row checks, quarantine, problems, metadata and exit codes."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from casekit._utils import FileUnusableError
from casekit.validate import RawTable
from casekit.validate import Problem, ReadResult, load_label_map, validate_table


@pytest.fixture(autouse=True)
def _stable_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEKIT_PSEUDONYM_KEY", "test-validate-key")


def _raw(data: dict, rows: list[int] | None = None) -> RawTable:
    df = pd.DataFrame(data)
    src = np.arange(2, len(df) + 2) if rows is None else np.asarray(rows)
    return RawTable(df, src, "csv")


def _ok(n: int = 3) -> dict:
    return {
        "case_id": [f"c{i // 2}" for i in range(n)],
        "timestamp": [f"2023-01-{i + 1:02d}" for i in range(n)],
        "activity": ["登记", "办结"] * (n // 2) + ["登记"] * (n % 2),
        "agency": ["区信访局"] * n,
    }


def test_all_valid_rows_exit_0() -> None:
    res = validate_table(_raw(_ok(4)), source="f.csv")
    assert isinstance(res, ReadResult)
    assert (res.n_read, res.n_accepted, res.n_quarantined, res.exit_code) == (4, 4, 0, 0)
    assert len(res.quarantine) == 0
    assert list(res.quarantine.columns) == ["source_row", "column", "value", "reason"]
    assert res.events["agency_type"].tolist() == ["petition_bureau"] * 4


def test_each_bad_row_is_one_quarantine_row_even_with_two_problems() -> None:
    d = _ok(4)
    d["case_id"][1] = ""
    d["timestamp"][1] = "garbage"
    d["activity"][3] = " "
    res = validate_table(_raw(d), source="f.csv")
    assert res.n_quarantined == 2
    assert res.exit_code == 1
    q = res.quarantine
    assert q["source_row"].tolist() == [3, 5]
    assert q.loc[0, "column"] == "case_id, timestamp"
    assert q.loc[0, "reason"] == "empty case id; unparseable timestamp"
    assert q.loc[1, "reason"] == "empty activity"
    rows = [p for p in res.problems if p.level == "row"]
    assert [p.row for p in rows] == [3, 3, 5]


def test_duplicates_are_quarantined_and_counted_so_rows_are_conserved() -> None:
    d = _ok(3)
    for k in d:
        d[k] = [*d[k], d[k][0], d[k][0]]
    res = validate_table(_raw(d), source="f.csv")
    assert res.n_read == 5
    assert res.n_accepted == 3
    assert res.n_quarantined == 2
    assert res.metadata["n_duplicates"] == 2
    assert all("exact duplicate of row 2" in p.message for p in res.problems if p.level == "row")


def test_same_case_and_time_but_different_activity_is_not_a_duplicate() -> None:
    d = {"case_id": ["a", "a", "a"], "timestamp": ["2023-01-01"] * 3,
         "activity": ["登记", "受理", "登记"], "agency": ["x", "x", "x"]}
    res = validate_table(_raw(d), source="f.csv")
    assert res.n_accepted == 2
    assert res.metadata["n_duplicates"] == 1
    # ties keep source order
    assert res.events["activity"].tolist() == ["register", "accept"]


def test_close_before_register_is_flagged_not_quarantined() -> None:
    d = {"case_id": ["a", "a", "b", "b"],
         "timestamp": ["2023-01-05", "2023-01-02", "2023-01-01", "2023-01-03"],
         "activity": ["登记", "办结", "登记", "办结"], "agency": ["x"] * 4}
    res = validate_table(_raw(d), source="f.csv")
    assert res.exit_code == 0
    assert res.n_accepted == 4
    assert res.metadata["flagged_cases"] == ["a"]
    case_lines = [p.line() for p in res.problems if p.level == "case"]
    assert case_lines == [("f.csv: column 'timestamp': flagged case: case 'a' is closed "
                           "(2023-01-02 00:00:00) before it is registered (2023-01-05 00:00:00); "
                           "expected registration before closure")]


def test_observation_end_with_offset_is_converted() -> None:
    res = validate_table(_raw(_ok(4)), source="f.csv", timezone="Asia/Shanghai",
                         observation_end=pd.Timestamp("2023-01-02T16:00:00Z"))
    # 16:00 UTC = 2023-01-03 00:00 in Shanghai: rows of Jan 1-3 kept, Jan 4 quarantined
    assert res.n_accepted == 3
    assert res.quarantine["reason"].tolist() == ["after the observation end"]
    # issue 12 item 8: with no zone given and none in the data, none is assumed: the end keeps
    # its own wall clock (Jan 2 16:00), so Jan 3 and 4 are after it
    auto = validate_table(_raw(_ok(4)), source="f.csv",
                          observation_end=pd.Timestamp("2023-01-02T16:00:00Z"))
    assert auto.n_accepted == 2


def test_missing_required_column_names_it_and_lists_found_columns() -> None:
    d = _ok()
    del d["activity"]
    with pytest.raises(FileUnusableError) as err:
        validate_table(_raw(d), source="f.csv")
    msg = str(err.value)
    assert "required column 'activity'" in msg
    assert "columns found: case_id, timestamp, agency" in msg
    assert "\n" not in msg


def test_problem_line_is_one_line_whatever_the_value() -> None:
    p = Problem("f.csv", "unparseable timestamp 'a\nb\r\nc'", 7, "时间", "a date")
    assert p.line() == "f.csv: row 7, column '时间': unparseable timestamp 'a b c'; expected a date"


def test_quarantined_values_are_masked() -> None:
    d = _ok(3)
    d["timestamp"][1] = "身份证 440507198001011239 电话 13812345678"
    d["petitioner_name"] = ["张伟"] * 3
    d["case_id"][2] = ""
    d["activity"][2] = "张伟来访"
    res = validate_table(_raw(d), source="f.csv")
    text = res.quarantine.to_csv() + "\n".join(p.line() for p in res.problems)
    assert not re.search(r"\d{17}[\dXx]", text)
    assert not re.search(r"1[3-9]\d{9}", text)
    assert "张伟" not in text
    assert "petitioner_name" not in res.events.columns
    assert res.events["petitioner_id"].notna().all()


def test_metadata_is_plain_json_and_counts_add_up() -> None:
    d = _ok(6)
    d["timestamp"][0] = ""
    res = validate_table(_raw(d), source="f.csv")
    meta = res.events.attrs["casekit"]
    assert meta == res.metadata
    json.dumps(meta)
    assert meta["n_read"] == meta["n_accepted"] + meta["n_quarantined"] == 6
    assert meta["n_cases"] == 3
    assert meta["observation_end"] == "2023-01-06 00:00:00"
    assert "n_read" in res.summary() or "read 6 rows" in res.summary()
    assert res.summary().startswith("f.csv: read 6 rows, accepted 5, quarantined 1")


def test_all_rows_bad_gives_exit_2() -> None:
    d = _ok(2)
    d["case_id"] = ["", ""]
    res = validate_table(_raw(d), source="f.csv")
    assert res.n_accepted == 0
    assert res.exit_code == 2


def test_numeric_case_ids_from_spreadsheets_become_text() -> None:
    d = _ok(2)
    d["case_id"] = [20230001.0, 20230002.0]
    res = validate_table(_raw(d), source="f.xlsx")
    assert res.events["case_id"].tolist() == ["20230001", "20230002"]


def test_agency_type_is_inferred_from_agency_names() -> None:
    d = {"case_id": ["a"] * 4, "timestamp": ["2023-01-01"] * 4,
         "activity": ["登记", "转送", "调解", "办结"],
         "agency": ["金平区信访局", "东墩街道办事处", "金平区人民法院", "某某公司"]}
    ev = validate_table(_raw(d), source="f.csv").events
    assert ev["agency_type"].tolist() == ["petition_bureau", "street_office", "court", "unknown"]


def test_label_map_validation() -> None:
    with pytest.raises(ValueError, match="must map labels"):
        load_label_map({"activity": "register"})
    assert load_label_map(None) == {}


def test_validation_frees_the_columns_it_was_handed(monkeypatch: pytest.MonkeyPatch) -> None:
    # read_events_report hands its RawTable over; once the accepted rows are taken, validation
    # keeps none of the columns as read (here the free text it replaces by its masked version)
    import pyarrow as pa

    import casekit.validate as v

    seen = {}
    order = v._canonical_order

    def spy(events: pd.DataFrame) -> pd.DataFrame:  # after masking: what is alive then
        seen["alive"] = pa.total_allocated_bytes()
        seen["own"] = sum(pa.array(events[c].array).nbytes for c in ("case_id", "address"))
        return order(events)

    monkeypatch.setattr(v, "_canonical_order", spy)
    n = 100_000
    text = pa.chunked_array([pa.array([f"住址{i}号 电话13{k}{i:08d}" for i in range(n // 2)],
                                      type=pa.large_string()) for k in (8, 9)])
    before = pa.total_allocated_bytes()
    data = pd.DataFrame({"case_id": [f"C{i // 4:06d}" for i in range(n)],
                         "timestamp": pd.date_range("2023-01-01", periods=n, freq="min"),
                         "activity": "登记", "address": pd.array(text, dtype="str")})
    del text
    held = [RawTable(data, np.arange(2, n + 2), "parquet")]
    del data
    res = validate_table(held.pop(), source="t.parquet")
    assert res.events["address"].str.contains("[手机号]", regex=False).all()
    kept = seen["alive"] - before
    assert kept < seen["own"] + (1 << 20), seen  # the address column as read is gone
