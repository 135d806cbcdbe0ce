"""Tests for casekit.repeat: linking filings into matters, repeat kinds, the matter table.

Hand-made log (``filings``): petitioner p1 files two different matters,

* matter A (housing, the unsafe facade at 南坡园3栋), three times: a1 (2024-01-01, closed
  02-15), a2 (02-01, while a1 is still open -> repeat_while_open, the address written with a
  full-width digit), a3 (05-01, after both closed -> repeat_after_close, still open);
* matter B (labour, another address), once: b1 (03-01, closed 03-20).

Petitioner p2 files once about the same building (q1): a different person is a different matter.
With observation_end 2024-12-31 and a 180-day settle window: A is open (censored, 365 days
from 2024-01-01), B settled at its close (19 days), q1 settled at its close (25 days).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import casekit as ck
from casekit._utils import CasekitError

D = pd.Timestamp


@pytest.fixture
def filings() -> pd.DataFrame:
    return pd.DataFrame({
        "case_id": ["a1", "q1", "a2", "b1", "a3"],
        "petitioner_id": ["p1", "p2", "p1", "p1", "p1"],
        "category": ["housing", "housing", "housing", "labour", "housing"],
        "address": ["南坡园 3栋", "南坡园3栋", "南坡园３栋", "工厂路1号", "南坡园3栋。"],
        "opened_at": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-02-01", "2024-03-01",
                                     "2024-05-01"]),
        "closed_at": pd.to_datetime(["2024-02-15", "2024-01-30", "2024-02-20", "2024-03-20",
                                     None]),
    })


def test_hand_made_log_is_linked_into_matters(filings):
    out = ck.link_repeats(filings).set_index("case_id")
    assert out.loc["a1", "matter_id"] == out.loc["a2", "matter_id"] == out.loc["a3", "matter_id"]
    assert len({out.loc["a1", "matter_id"], out.loc["b1", "matter_id"],
                out.loc["q1", "matter_id"]}) == 3
    assert out["repeat_ordinal"].to_dict() == {"a1": 1, "q1": 1, "a2": 2, "b1": 1, "a3": 3}
    assert out["repeat_kind"].to_dict() == {
        "a1": "first", "q1": "first", "a2": "repeat_while_open", "b1": "first",
        "a3": "repeat_after_close"}
    assert out.loc["a2", "earlier_open"]
    assert not out.loc["a3", "earlier_open"]
    # matter ids in order of first filing: A (01-01), q1 (01-05), B (03-01)
    assert out.loc["a1", "matter_id"] == "m000001"
    assert out.loc["q1", "matter_id"] == "m000002"
    assert out.loc["b1", "matter_id"] == "m000003"


def test_input_order_and_columns_are_kept(filings):
    out = ck.link_repeats(filings)
    assert out["case_id"].tolist() == filings["case_id"].tolist()
    assert out.index.equals(filings.index)
    assert set(filings.columns) < set(out.columns)
    assert "matter_id" not in filings.columns  # input not modified


def test_matter_table_of_the_hand_made_log(filings):
    m = ck.build_matter_table(filings, observation_end="2024-12-31").set_index("first_case_id")
    assert m["n_filings"].to_dict() == {"a1": 3, "q1": 1, "b1": 1}
    assert m["n_repeat_while_open"].to_dict() == {"a1": 1, "q1": 0, "b1": 0}
    assert m["n_repeat_after_close"].to_dict() == {"a1": 1, "q1": 0, "b1": 0}
    assert m.loc["a1", "open"]
    assert pd.isna(m.loc["a1", "last_closed_at"])
    assert not m.loc["a1", "settled"]
    assert m.loc["a1", "censored"]
    assert m.loc["a1", "days_to_settle"] == 365.0
    assert m.loc["b1", "settled"]
    assert m.loc["b1", "settled_at"] == D("2024-03-20")
    assert m.loc["b1", "days_to_settle"] == 19.0
    assert m.loc["q1", "days_to_settle"] == 25.0
    assert m.loc["a1", "petitioner_id"] == "p1"
    assert m.loc["b1", "category"] == "labour"
    assert m.attrs["observation_end"] == D("2024-12-31")


def test_settlement_needs_the_window_to_pass_before_observation_end(filings):
    # b1 closed 2024-03-20: settled only once 180 days have passed without a new filing
    early = ck.build_matter_table(filings, observation_end="2024-08-01").set_index("first_case_id")
    assert not early.loc["b1", "settled"]
    assert early.loc["b1", "days_to_settle"] == (D("2024-08-01") - D("2024-03-01")).days


def test_settled_at_column_takes_precedence(filings):
    f = filings.assign(settled_at=pd.to_datetime([None, None, None, None, "2024-06-01"]))
    m = ck.build_matter_table(f, observation_end="2024-12-31").set_index("first_case_id")
    assert m.loc["a1", "settled"]
    assert m.loc["a1", "days_to_settle"] == (D("2024-06-01") - D("2024-01-01")).days


def test_window_splits_a_key_into_matters():
    f = pd.DataFrame({
        "case_id": ["x1", "x2", "x3"], "petitioner_id": ["p"] * 3, "category": ["noise"] * 3,
        "opened_at": pd.to_datetime(["2022-01-01", "2022-06-01", "2023-09-01"]),
        "closed_at": pd.to_datetime(["2022-01-20", "2022-06-20", "2023-09-20"]),
    })
    out = ck.link_repeats(f, window_days=365)
    assert out["repeat_ordinal"].tolist() == [1, 2, 1]  # x3: 438 days after the last close
    assert out["matter_id"].nunique() == 2
    assert ck.link_repeats(f, window_days=None)["repeat_ordinal"].tolist() == [1, 2, 3]


def test_an_open_filing_keeps_the_matter_open_beyond_the_window():
    f = pd.DataFrame({
        "case_id": ["x1", "x2"], "petitioner_id": ["p", "p"],
        "opened_at": pd.to_datetime(["2020-01-01", "2023-01-01"]),
        "closed_at": pd.to_datetime([None, None]),
    })
    out = ck.link_repeats(f, window_days=30)
    assert out["repeat_kind"].tolist() == ["first", "repeat_while_open"]


def test_repeat_after_termination_and_skip_level():
    f = pd.DataFrame({
        "case_id": ["t1", "t2", "s1", "s2", "s3"],
        "petitioner_id": ["p3", "p3", "p4", "p4", "p4"],
        "opened_at": pd.to_datetime(["2023-01-01", "2023-07-01", "2024-01-01", "2024-02-01",
                                     "2024-03-01"]),
        "closed_at": pd.to_datetime(["2023-02-01", None, "2024-01-20", "2024-02-20", None]),
        "terminated_at": pd.to_datetime(["2023-06-01", None, None, None, None]),
        "level": ["county", "county", "county", "省", "county"],
    })
    out = ck.link_repeats(f).set_index("case_id")
    assert out["repeat_kind"].to_dict() == {
        "t1": "first", "t2": "repeat_after_termination",
        "s1": "first", "s2": "skip_level_repeat", "s3": "repeat_after_close"}
    assert out.loc["t2", "after_termination"]
    assert out.loc["s2", "skip_level"]


def test_explicit_matter_id_is_respected():
    f = pd.DataFrame({
        "case_id": ["e1", "e2", "e3", "e4"],
        "petitioner_id": ["p", "p", "p", "p"],
        "category": ["housing", "labour", "housing", "housing"],
        "matter_id": ["M-7", "M-7", None, None],
        "opened_at": pd.to_datetime(["2020-01-01", "2024-01-01", "2024-02-01", "2024-03-01"]),
        "closed_at": pd.to_datetime(["2020-01-10", "2024-01-10", "2024-02-10", "2024-03-10"]),
    })
    out = ck.link_repeats(f, window_days=30).set_index("case_id")
    # e1/e2: one matter by the explicit id despite another category and a four-year gap
    assert out.loc["e1", "matter_id"] == out.loc["e2", "matter_id"] == "M-7"
    assert out.loc["e2", "repeat_ordinal"] == 2
    # e3/e4 linked by keys (within 30 days of the last close? 02-10 -> 03-01 = 20 days)
    assert out.loc["e3", "matter_id"] == out.loc["e4", "matter_id"] != "M-7"
    assert out.loc["e4", "repeat_kind"] == "repeat_after_close"


def test_filings_without_petitioner_are_never_linked():
    f = pd.DataFrame({
        "case_id": ["n1", "n2"], "petitioner_id": [None, None],
        "opened_at": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        "closed_at": pd.to_datetime([None, None]),
    })
    out = ck.link_repeats(f)
    assert out["repeat_ordinal"].tolist() == [1, 1]
    assert out["matter_id"].nunique() == 2


def test_address_normaliser():
    s = pd.Series(["ＡＢＣ路 12 号", "abc路12号", "  abc-路,12号 ", None])
    got = ck.normalise_address(s)
    assert got.iloc[0] == got.iloc[1] == got.iloc[2] == "abc路12号"
    assert pd.isna(got.iloc[3])


def test_missing_columns_are_readable_errors(filings):
    with pytest.raises(CasekitError, match="missing column 'closed_at'"):
        ck.link_repeats(filings.drop(columns="closed_at"))
    with pytest.raises(CasekitError, match="missing column 'petitioner_id'"):
        ck.link_repeats(filings.drop(columns="petitioner_id"))
    with pytest.raises(CasekitError, match="missing column 'street'"):
        ck.link_repeats(filings, keys=("petitioner_id", "street"))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("pqr"), st.sampled_from("xy"), st.integers(0, 900),
                          st.one_of(st.none(), st.integers(0, 120))), min_size=1, max_size=30),
       st.one_of(st.none(), st.integers(0, 400)))
def test_linkage_invariants(rows, window):
    f = pd.DataFrame({
        "case_id": [f"c{i}" for i in range(len(rows))],
        "petitioner_id": [r[0] for r in rows],
        "category": [r[1] for r in rows],
        "opened_at": [D("2022-01-01") + pd.Timedelta(days=r[2]) for r in rows],
        "closed_at": [pd.NaT if r[3] is None else D("2022-01-01") + pd.Timedelta(days=r[2] + r[3])
                      for r in rows],
    })
    out = ck.link_repeats(f, window_days=window)
    for _, g in out.groupby("matter_id"):
        assert (g["petitioner_id"] == g["petitioner_id"].iloc[0]).all()
        assert (g["category"] == g["category"].iloc[0]).all()
        g = g.sort_values("repeat_ordinal")
        assert g["repeat_ordinal"].tolist() == list(range(1, len(g) + 1))
        assert g["opened_at"].is_monotonic_increasing
        assert (g["repeat_kind"] == "first").tolist() == [True] + [False] * (len(g) - 1)
    if window is None:  # without a window: one matter per petitioner and category
        assert out["matter_id"].nunique() == f.groupby(["petitioner_id", "category"]).ngroups
    m = ck.build_matter_table(out)
    assert m["n_filings"].sum() == len(f)
    assert (m["days_to_settle"] >= 0).all()
    assert (m["censored"] == ~m["settled"]).all()
    assert np.all(m.loc[m["open"], "censored"])


@pytest.mark.slow
def test_linkage_reproduces_the_synthetic_district_matters():
    # the bundled district records each filing's matter and repeat kind (planted truth);
    # linking again from petitioner + category + address must give the same matters and kinds
    try:
        events = ck.load_sample_events()
        cases = ck.build_case_table(events)
    except (ImportError, AttributeError) as exc:  # pragma: no cover - other modules absent
        pytest.skip(f"sample data or case table not available: {exc}")
    base = cases.drop(columns=["matter_id", "repeat_ordinal", "repeat_kind"])
    got = ck.link_repeats(base)
    assert (got["repeat_kind"] != "first").sum() > 100
    assert got["repeat_kind"].tolist() == cases["repeat_kind"].tolist()
    assert got["repeat_ordinal"].tolist() == cases["repeat_ordinal"].tolist()
    pairs = pd.crosstab(got["matter_id"], cases["matter_id"]) > 0
    assert (pairs.sum(axis=0) == 1).all()
    assert (pairs.sum(axis=1) == 1).all()


def test_matter_table_is_the_one_matter_table() -> None:
    """n_closed and the filings' patterns (once only in build_matter_view); the case table's window."""
    log = pd.DataFrame({
        "case_id": ["a", "a", "b", "b", "c"],
        "timestamp": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-20", "2024-01-25",
                                     "2024-02-01"]),
        "activity": ["register", "close", "register", "close", "register"],
        "agency": ["bureau", "bureau", "bureau", "town", "bureau"],
        "agency_type": ["petition_bureau", "petition_bureau", "petition_bureau",
                        "town_government", "petition_bureau"],
        "matter_id": ["m1", "m1", "m1", "m1", "m2"],
    })
    cases = ck.build_case_table(log, observation_end="2024-03-01", settle_window_days=20)
    m = ck.build_matter_table(cases).set_index("matter_id")
    assert m.loc["m1", "n_closed"] == 2
    assert m.loc["m2", "n_closed"] == 0
    assert m.loc["m1", "patterns"] == "petition_bureau > petition_bureau+town_government"
    assert m.attrs["settle_window_days"] == 20
    assert m.loc["m1", "settled"]  # closed 01-25, 20-day window elapsed by 03-01
    # without the case table's settlement dates the window decides: the table's own, 20 days
    bare = cases.drop(columns="settled_at")
    assert ck.build_matter_table(bare).set_index("matter_id").loc["m1", "settled"]
    assert not ck.build_matter_table(bare, settle_window_days=180).set_index(
        "matter_id").loc["m1", "settled"]
    with pytest.warns(DeprecationWarning, match="build_matter_table"):
        view = ck.build_matter_view(cases).set_index("matter_id")
    assert view["chain_days"].equals(m["days_to_settle"])
