"""The real public logs in ../shared/data/real load with their mappings (marker ``real``).

Expected counts come from SOURCES.md and from reading the raw files independently here
(plain pandas / XML counts), not from casekit.
"""

from __future__ import annotations

import gzip
import re

import numpy as np
import pandas as pd
import pytest

from casekit._utils import CasekitError
from casekit.datasets import _real
from casekit.datasets._real import RealDataNotFoundError, real_data_root
from casekit.privacy import KEY_ENV_VAR, assert_no_pii, find_pii

try:
    ROOT = real_data_root()
except RealDataNotFoundError:
    ROOT = None

needs_real = pytest.mark.skipif(
    ROOT is None,
    reason="real public logs not found at ../shared/data/real (set CASEKIT_REAL_DATA); they "
    "are reference data kept outside the repository",
)
pytestmark = pytest.mark.real

CANONICAL = ["case_id", "timestamp", "activity", "agency", "agency_type"]


def check_canonical(ev: pd.DataFrame) -> None:
    assert list(ev.columns[:5]) == CANONICAL
    assert ev["timestamp"].dtype == "datetime64[ns]"
    for col in ("case_id", "activity", "agency", "agency_type"):
        assert ev[col].notna().all(), col
    # sorted by (case_id, timestamp)
    key = ev["case_id"].to_numpy(dtype=object)
    ts = ev["timestamp"].to_numpy()
    same = key[1:] == key[:-1]
    assert (key[1:][~same] > key[:-1][~same]).all()
    assert (ts[1:][same] >= ts[:-1][same]).all()
    meta = ev.attrs["casekit"]
    assert meta["n_read"] == meta["n_accepted"] + meta["n_quarantined"]
    assert meta["dataset"]["citation"]
    for raw in ("petitioner_name", "petitioner_id_number", "petitioner_phone"):
        assert raw not in ev.columns


@pytest.fixture(scope="module")
def pseudonym_key():
    mp = pytest.MonkeyPatch()
    mp.setenv(KEY_ENV_VAR, "test-real-logs-key")
    yield "test-real-logs-key"
    mp.undo()


# --------------------------------------------------------------------------- locating the data


def test_missing_root_is_a_clear_file_not_found_error(tmp_path):
    with pytest.raises(RealDataNotFoundError, match="CASEKIT_REAL_DATA") as info:
        real_data_root(tmp_path / "nowhere")
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, CasekitError)


def test_env_var_is_used_and_a_missing_file_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv(_real.REAL_DATA_ENV, str(tmp_path))
    assert real_data_root() == tmp_path
    with pytest.raises(RealDataNotFoundError, match=r"receipt\.xes\.gz: no such file"):
        _real.load_receipt()


def test_every_source_in_sources_md_has_a_loader():
    sources = ROOT / "SOURCES.md" if ROOT is not None else None
    folders = {d.folder for d in _real.REAL_DATASETS.values()}
    for d in _real.REAL_DATASETS.values():
        assert callable(getattr(_real, d.loader))
    if sources is not None and sources.is_file():
        listed = set(
            re.findall(r"^\| `([^`/]+)/`", sources.read_text(encoding="utf-8"), re.MULTILINE)
        )
        assert listed == folders


@needs_real
def test_list_real_datasets_reports_presence():
    t = _real.list_real_datasets()
    assert t["present"].all()
    assert set(t["loader"]) == {d.loader for d in _real.REAL_DATASETS.values()}


# --------------------------------------------------------------------------- receipt


@pytest.fixture(scope="module")
def receipt():
    return _real.load_receipt()


@needs_real
def test_receipt_counts_and_columns(receipt):
    check_canonical(receipt)
    assert_no_pii(receipt)
    assert len(receipt) == 8_577
    assert receipt["case_id"].nunique() == 1_434
    assert receipt.attrs["casekit"]["dataset"]["doi"].endswith("70bc9e77dbe6")


@needs_real
def test_receipt_agency_is_org_group_with_empty_literal(receipt):
    with gzip.open(ROOT / "receipt" / "receipt.xes.gz", "rt", encoding="utf-8") as fh:
        text = fh.read()
    groups = re.findall(r'<string key="org:group" value="([^"]*)"', text)[1:]  # [0] is global
    assert len(groups) == 8_577
    assert receipt["agency"].value_counts().to_dict() == pd.Series(groups).value_counts().to_dict()
    assert (receipt["agency"] == "EMPTY").sum() == 1_936


@needs_real
def test_receipt_handover_counts_match_pm4py_reference(receipt):
    ref_path = ROOT.parent / "reference" / "receipt_pm4py_handover_org_group.csv"
    if not ref_path.is_file():
        pytest.skip("PM4Py reference results not present")
    ref = pd.read_csv(ref_path)
    same = receipt["case_id"].to_numpy()[1:] == receipt["case_id"].to_numpy()[:-1]
    a = receipt["agency"].to_numpy()[:-1][same]
    b = receipt["agency"].to_numpy()[1:][same]
    assert same.sum() == 7_143
    index = pd.MultiIndex.from_arrays([a, b], names=["source", "target"])
    counts = pd.Series(1, index=index).groupby(level=[0, 1]).sum()
    mine = (counts / same.sum()).rename("casekit")
    merged = ref.set_index(["source", "target"])["pm4py_value"].to_frame().join(mine, how="outer")
    assert np.allclose(merged["pm4py_value"].fillna(0), merged["casekit"].fillna(0))


# --------------------------------------------------------------------------- road traffic


@needs_real
def test_road_traffic_sample_agencies_follow_the_activity():
    ev = _real.load_road_traffic(sample=True)
    check_canonical(ev)
    text = (ROOT / "road-traffic-fines" / "roadtraffic100traces.xes").read_text(encoding="utf-8")
    assert len(ev) == text.count("<event>") == 390
    assert ev["case_id"].nunique() == text.count("<trace>") == 100
    pairs = ev.groupby("source_activity")["agency"].unique().map(list).to_dict()
    assert pairs["Create Fine"] == ["police"]
    assert pairs["Payment"] == ["offender"]
    assert pairs["Send for Credit Collection"] == ["credit collection"]
    assert pairs["Send Appeal to Prefecture"] == ["prefecture"]
    assert set(ev.loc[ev["agency"] == "judge", "agency_type"]) <= {"court"}
    assert (ev.loc[ev["source_activity"] == "Create Fine", "activity"] == "register").all()
    assert (ev.groupby("case_id")["activity"].first() == "register").all()


@needs_real
@pytest.mark.slow
def test_road_traffic_full_log_counts():
    ev = _real.load_road_traffic()
    assert len(ev) == 561_470
    assert ev["case_id"].nunique() == 150_370
    assert set(ev["agency"]) == {"police", "prefecture", "judge", "credit collection", "offender"}
    assert ev.attrs["casekit"]["n_quarantined"] == 0


# --------------------------------------------------------------------------- BPIC 2014 / 2015


@needs_real
def test_bpic14_counts_reopen_and_reassignment():
    ev = _real.load_bpic14()
    assert_no_pii(ev)
    check_canonical(ev)
    raw = pd.read_csv(ROOT / "bpic14-incidents" / "BPIC14_incident_log.csv")
    assert len(ev) == len(raw) == 39_911
    assert ev["case_id"].nunique() == 4_000
    acts = ev["activity"].value_counts()
    assert acts["register"] == 4_000
    assert acts["close"] == (raw["incident_activity_type"] == "Closed").sum()
    assert acts["transfer"] == (raw["incident_activity_type"] == "Reassignment").sum()
    assert acts["Reopen"] == 206
    raw_closed = raw.groupby("incident_id")["incident_activity_type"].agg(
        lambda s: "Closed" in set(s)
    )
    ev_closed = ev.groupby("case_id")["activity"].agg(lambda s: "close" in set(s))
    assert (~ev_closed).sum() == (~raw_closed).sum() == 37  # closed in the case table only
    assert ev["agency"].str.startswith("TEAM").all()
    assert ev["category"].notna().all()


@needs_real
def test_bpic15_counts_and_utc_to_local_time():
    ev = _real.load_bpic15()
    assert_no_pii(ev)
    check_canonical(ev)
    assert len(ev) == 52_217
    assert ev["case_id"].nunique() == 1_199
    first = ev[ev["case_id"] == "10009138"].iloc[0]
    # stored as 2014-04-10 22:00:00 UTC = midnight in Amsterdam (CEST)
    assert first["timestamp"] == pd.Timestamp("2014-04-11 00:00:00")
    assert first["activity"] == "01_HOOFD_010"
    assert first["agency"] == "9264148"


# --------------------------------------------------------------------------- case-only logs


@needs_real
@pytest.mark.slow
def test_nyc_council_casework_cases_become_register_and_close_events():
    ev = _real.load_nyc_council_casework()
    check_canonical(ev)
    raw = pd.read_csv(ROOT / "nyc-council-casework" / "nycomplaints.csv.gz", dtype=str)
    assert len(raw) == 341_299
    n_cases = raw["unique_key"].nunique()
    assert ev["case_id"].nunique() == n_cases == 341_194
    acts = ev["activity"].value_counts()
    assert acts["register"] == n_cases
    closed = raw.drop_duplicates("unique_key")["closedate"].notna().sum()
    assert acts["close"] == closed
    assert len(ev) == n_cases + closed
    assert (ev["agency_type"] == "council_office").all()
    assert set(ev["agency"]) == set(raw["account"])
    assert ev.attrs["casekit"]["observation_end"].startswith("2025-01-09")


@needs_real
def test_nyc311_sample_censoring_shape():
    ev = _real.load_nyc311_sample()
    check_canonical(ev)
    raw = pd.read_csv(ROOT / "nyc-311-sample" / "nyc311_sample_2024-04_YangziXinJas.csv", dtype=str)
    assert ev["case_id"].nunique() == len(raw) == 1_000
    assert (ev["activity"] == "close").sum() == raw["closed_date"].notna().sum() == 292
    assert len(ev) == 1_292
    nypd = ev.loc[ev["agency"] == "NYPD", "agency_type"]
    assert (nypd == "police").all()
    # register precedes close within each case
    order = ev.groupby("case_id")["activity"].agg(list)
    assert all(acts[0] == "register" for acts in order)
    assert_no_pii(ev)


@pytest.fixture(scope="module")
def tipdm(pseudonym_key):
    return _real.load_tipdm_messages()


@needs_real
def test_tipdm_replies_load_with_pseudonymised_posters(tipdm):
    check_canonical(tipdm)
    raw = pd.read_excel(
        ROOT / "tipdm2020-gov-messages" / "tipdm2020C_attachment4_messages_replies.xlsx"
    )
    assert tipdm["case_id"].nunique() == len(raw) == 2_816
    assert len(tipdm) == 2 * 2_816
    assert "留言用户" not in tipdm.columns
    ids = tipdm.drop_duplicates("case_id")["petitioner_id"]
    assert ids.str.fullmatch(r"P[0-9a-f]{16}").all()
    assert ids.nunique() == raw["留言用户"].nunique()
    posters = set(raw["留言用户"].astype(str))
    for col in tipdm.columns:
        if tipdm[col].dtype == "str":
            assert not tipdm[col].isin(posters).any(), col
    meta = tipdm.attrs["casekit"]
    assert meta["pseudonymisation"]["key_source"] == "env"


@needs_real
def test_tipdm_free_text_is_masked(tipdm):
    raw = pd.read_excel(
        ROOT / "tipdm2020-gov-messages" / "tipdm2020C_attachment4_messages_replies.xlsx"
    )
    raw_found = find_pii(raw[["留言详情", "答复意见"]], landlines=True)
    assert raw_found, "expected the raw replies to contain phone numbers"
    assert not find_pii(tipdm, landlines=True)
    assert tipdm["答复意见"].str.contains(r"\[电话\]|\[手机号\]", regex=True).any()
    assert tipdm.loc[tipdm["activity"] == "register", "答复意见"].isna().all()
    assert tipdm.loc[tipdm["activity"] == "close", "留言详情"].isna().all()


@needs_real
@pytest.mark.slow
def test_tipdm_all_messages_adds_unreplied_as_open(pseudonym_key):
    ev = _real.load_tipdm_messages(which="all")
    assert ev["case_id"].nunique() == 2_816 + 4_326
    assert (ev["activity"] == "close").sum() == 2_816
    with pytest.raises(CasekitError, match="which must be"):
        _real.load_tipdm_messages(which="some")


@needs_real
@pytest.mark.slow
def test_tipdm_without_key_warns(monkeypatch, tmp_path):
    monkeypatch.delenv(KEY_ENV_VAR, raising=False)
    monkeypatch.delenv("CASEKIT_PSEUDONYM_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    with pytest.warns(UserWarning, match="not be stable across runs"):
        ev = _real.load_tipdm_messages()
    assert ev.attrs["casekit"]["pseudonymisation"]["key_source"] == "random"


# --------------------------------------------------------------------------- time zones (#12.8)


@needs_real
@pytest.mark.parametrize(("loader", "relative", "zone"), [
    ("load_bpic15", "bpic15-municipality-1/BPIC15_1.csv.gz", "Europe/Amsterdam"),
    ("load_nyc311_sample", "nyc-311-sample/nyc311_sample_2024-04_YangziXinJas.csv", None),
])
def test_foreign_logs_are_not_reported_in_shanghai_time(loader: str, relative: str,
                                                        zone: str | None,
                                                        capsys: pytest.CaptureFixture[str]):
    from casekit.cli import main

    ev = getattr(_real, loader)()
    assert ev.attrs["casekit"]["timezone"] == zone
    code = main(["validate", str(ROOT / relative)])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "Asia/Shanghai" not in out
    assert "time zone not in the data" in out and "--timezone ZONE" in out
