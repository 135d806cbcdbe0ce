"""Tests of casekit.cases.build_case_intervals and the time-honest case table (issue 10).

Counting-process rows, competing exits, patterns up to the exit, delayed entry, administrative
settlement censoring and time zones. The property tests compare the vectorised rows with a
plain per-case Python reference written from the documented rules.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import casekit as ck
from casekit.cases import DelayedEntryWarning

T0 = pd.Timestamp("2024-01-01")
DAY = pd.Timedelta(days=1)


def _ev(rows: list[tuple]) -> pd.DataFrame:
    """Events from (case, days after T0, activity, agency_type); one agency per type."""
    df = pd.DataFrame(rows, columns=["case_id", "t", "activity", "agency_type"])
    df["timestamp"] = T0 + pd.to_timedelta(df.pop("t"), unit="D")
    df["agency"] = df["agency_type"] + " 1"
    return df[["case_id", "timestamp", "activity", "agency", "agency_type"]]


@pytest.fixture
def hand() -> pd.DataFrame:
    return _ev([
        # A: street joins on day 2; court and housing at one instant (day 5): one split; closed
        # on day 10; the justice office's review after the close changes nothing
        ("A", 0, "register", "petition_bureau"),
        ("A", 2, "transfer", "street_office"),
        ("A", 5, "investigate", "court"),
        ("A", 5, "investigate", "housing_construction_bureau"),
        ("A", 10, "close", "street_office"),
        ("A", 12, "review", "justice_office"),
        # B: the street acts at the opening instant (first row); housing earlier on the day of
        # the close counts, the court at the close's own timestamp does not
        ("B", 1, "register", "petition_bureau"),
        ("B", 1, "accept", "street_office"),
        ("B", 7.25, "investigate", "housing_construction_bureau"),
        ("B", 7.5, "investigate", "court"),
        ("B", 7.5, "close", "street_office"),
        # C: routed to a legal procedure on day 6 (a competing exit), closed later: censored
        ("C", 0, "register", "petition_bureau"),
        ("C", 3, "investigate", "street_office"),
        ("C", 6, "route_to_legal_procedure", "court"),
        ("C", 20, "close", "street_office"),
        # D: open; the street acts exactly at the observation end (not before the exit)
        ("D", 2, "register", "petition_bureau"),
        ("D", 4, "investigate", "justice_office"),
        ("D", 30, "investigate", "street_office"),
    ])


OBS = T0 + 30 * DAY


def test_hand_checked_rows(hand: pd.DataFrame) -> None:
    rows = ck.build_case_intervals(hand, observation_end=OBS)
    got = rows[["case_id", "start", "stop", "event", "exit_type", "pattern"]]
    expected = pd.DataFrame([
        ("A", 0.0, 2.0, 0, "", "petition_bureau"),
        ("A", 2.0, 5.0, 0, "", "petition_bureau+street_office"),
        ("A", 5.0, 10.0, 1, "close",
         "court+housing_construction_bureau+petition_bureau+street_office"),
        ("B", 0.0, 6.25, 0, "", "petition_bureau+street_office"),
        ("B", 6.25, 6.5, 1, "close",
         "housing_construction_bureau+petition_bureau+street_office"),
        ("C", 0.0, 3.0, 0, "", "petition_bureau"),
        ("C", 3.0, 6.0, 0, "routed_to_legal_procedure", "petition_bureau+street_office"),
        ("D", 0.0, 2.0, 0, "", "petition_bureau"),
        ("D", 2.0, 28.0, 0, "censored", "justice_office+petition_bureau"),
    ], columns=got.columns)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert rows["event"].dtype == np.int8
    # one 0/1 column per type in force on some row (the street at D's end never is in force
    # for D, but is for A, B and C; the justice office only for D)
    at = [c for c in rows if c.startswith("at_")]
    assert at == ["at_court", "at_housing_construction_bureau", "at_justice_office",
                  "at_petition_bureau", "at_street_office"]
    assert rows["at_court"].tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert rows["at_street_office"].tolist() == [0, 1, 1, 1, 1, 0, 1, 0, 0]
    assert rows.attrs["observation_end"] == OBS
    assert rows.attrs["n_events"] == 2


def test_case_table_exits_and_patterns_up_to_the_exit(hand: pd.DataFrame) -> None:
    cases = ck.build_case_table(hand, observation_end=OBS, link=False).set_index("case_id")
    assert cases["exit_type"].to_dict() == {
        "A": "close", "B": "close", "C": "routed_to_legal_procedure", "D": "censored"}
    assert cases["closed"].tolist() == [True, True, False, False]
    assert cases.loc["C", "duration_days"] == 6.0  # ends at the routing, not at the close
    assert cases.loc["C", "closed_at"] == T0 + 20 * DAY  # the close is still recorded
    assert cases.loc["C", "exit_at"] == T0 + 6 * DAY
    assert cases.loc["D", "exit_at"] == OBS
    # the review after A's close is left out; B's court at the close instant is "at or before"
    assert cases.loc["A", "pattern"] == (
        "court+housing_construction_bureau+petition_bureau+street_office")
    assert cases.loc["A", "n_agencies"] == 4
    assert "justice_office 1" not in cases.loc["A", "agencies"]
    assert cases.loc["B", "pattern"] == (
        "court+housing_construction_bureau+petition_bureau+street_office")
    assert cases.loc["C", "pattern"] == "court+petition_bureau+street_office"
    assert cases.attrs["n_competing_exits"] == 1
    assert cases.attrs["n_prevalent"] == 0
    assert not cases["prevalent"].any()
    assert cases["duration_known"].all()
    assert (cases["entry_days"] == 0).all()


@pytest.mark.parametrize(("label", "kind"), [
    ("不予受理", "declined"), ("导入法定程序", "routed_to_legal_procedure"),
    ("终结", "terminated"), ("不再受理", "terminated"), ("撤回", "withdrawn"),
    ("撤销信访事项", "withdrawn"), ("转出", "transferred_out"), ("移出本辖区", "transferred_out"),
])
def test_competing_exit_labels_in_chinese(label: str, kind: str) -> None:
    ev = _ev([("a", 0, "登记", "信访局"), ("a", 3, label, "街道办事处"),
              ("a", 5, "办结", "街道办事处")])
    cases = ck.build_case_table(ev, observation_end=T0 + 9 * DAY, link=False)
    assert cases.loc[0, "exit_type"] == kind
    assert not cases.loc[0, "closed"]
    assert cases.loc[0, "duration_days"] == 3.0
    assert ck.schema.EXIT_TYPES[ck.to_identifier(label, "activity")] == kind


def test_close_and_competing_exit_at_one_instant_is_a_close() -> None:
    ev = _ev([("a", 0, "register", "petition_bureau"), ("a", 4, "decline_intake",
              "petition_bureau"), ("a", 4, "close", "petition_bureau")])
    cases = ck.build_case_table(ev, link=False)
    assert cases.loc[0, "exit_type"] == "close"
    assert cases.loc[0, "closed"]


def test_prevalent_without_opening_time_is_excluded_counted_and_warned(
        hand: pd.DataFrame) -> None:
    ev = pd.concat([hand, _ev([("E", 3, "investigate", "court"),
                               ("E", 9, "close", "court")])])
    with pytest.warns(DelayedEntryWarning, match="1 of 5 cases"):
        cases = ck.build_case_table(ev, observation_end=OBS, link=False)
    e = cases.set_index("case_id").loc["E"]
    assert e["prevalent"]
    assert not e["duration_known"]
    assert cases.attrs["n_prevalent"] == 1
    assert cases.attrs["n_prevalent_excluded"] == 1
    rows = ck.build_case_intervals(ev, cases=cases)
    assert "E" not in set(rows["case_id"])
    assert rows.attrs["n_prevalent_excluded"] == 1
    assert rows.attrs["n_cases_with_rows"] == 4
    with pytest.warns(DelayedEntryWarning):
        again = ck.build_case_intervals(ev, observation_end=OBS)
    pd.testing.assert_frame_equal(rows.drop(columns=["year", "repeat_ordinal", "matter_id"]),
                                  again.drop(columns=["year", "repeat_ordinal", "matter_id"]))


def test_no_register_anywhere_is_not_delayed_entry() -> None:
    ev = _ev([("a", 0, "investigate", "court"), ("a", 2, "close", "court"),
              ("b", 1, "investigate", "court")])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cases = ck.build_case_table(ev, link=False)
    assert not cases["prevalent"].any()


def test_delayed_entry_with_an_opened_at_column() -> None:
    ev = _ev([
        ("old", 0, "investigate", "street_office"),  # opened 10 days before the extract
        ("old", 4, "investigate", "court"),
        ("old", 6, "close", "street_office"),
        ("new", 1, "register", "petition_bureau"),
        ("new", 3, "investigate", "court"),
        # opened 5 days before the log starts, first logged event (its close) on day 3: it
        # enters when the log starts, not at its close (which would drop it)
        ("late", 3, "close", "court"),
    ])
    opened = {"old": T0 - 10 * DAY, "new": T0 + DAY, "late": T0 - 5 * DAY}
    ev["opened_at"] = ev["case_id"].map(opened)
    ev["opened_at"] = pd.to_datetime(ev["opened_at"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cases = ck.build_case_table(ev, observation_end=T0 + 8 * DAY, link=False)
        rows = ck.build_case_intervals(ev, cases=cases)
    old = cases.set_index("case_id").loc["old"]
    assert old["prevalent"]
    assert old["duration_known"]
    assert old["opened_at"] == T0 - 10 * DAY
    assert old["entry_days"] == 10.0
    assert old["duration_days"] == 16.0
    assert cases.attrs["n_prevalent"] == 2
    assert cases.attrs["n_prevalent_excluded"] == 0
    late = cases.set_index("case_id").loc["late"]
    assert late["entry_days"] == 5.0
    assert late["duration_days"] == 8.0
    assert late["closed"]
    assert rows.loc[rows["case_id"] == "late", ["start", "stop", "event"]].to_numpy().tolist() \
        == [[5.0, 8.0, 1.0]]
    r = rows[rows["case_id"] == "old"]
    assert r[["start", "stop"]].to_numpy().tolist() == [[10.0, 14.0], [14.0, 16.0]]
    assert r["pattern"].tolist() == ["street_office", "court+street_office"]
    new = rows[rows["case_id"] == "new"]
    assert new["start"].iloc[0] == 0.0
    assert new["stop"].iloc[-1] == 7.0


def test_settlement_is_censored_administratively_at_the_closure() -> None:
    rows = [
        # closed 08-01, after observation_end - 180 days, re-filed 08-10: censored at the
        # closure (it used to be censored at the observation end because it was re-filed)
        ("k1", "2024-07-01", "register"), ("k1", "2024-08-01", "close"),
        ("k2", "2024-08-10", "register"),
        # a pledge on an open case settles it
        ("p1", "2024-05-01", "register"), ("p1", "2024-05-20", "cessation_pledge"),
        # routed before its pledge: censored for settling at the routing
        ("r1", "2024-06-01", "register"), ("r1", "2024-06-05", "route_to_legal_procedure"),
        ("r1", "2024-06-09", "cessation_pledge"),
    ]
    ev = pd.DataFrame(rows, columns=["case_id", "timestamp", "activity"])
    ev["timestamp"] = pd.to_datetime(ev["timestamp"])
    ev["agency"], ev["agency_type"] = "bureau", "petition_bureau"
    ev["matter_id"] = ev["case_id"].str[0]
    cases = ck.build_case_table(ev, observation_end="2024-09-01").set_index("case_id")
    assert cases.loc["k1", "refiled_within_window"]
    assert not cases.loc["k1", "settled"]
    assert cases.loc["k1", "settle_days"] == 31.0
    assert cases.loc["p1", "settled"]
    assert cases.loc["p1", "settle_days"] == 19.0
    assert not cases.loc["r1", "settled"]
    assert cases.loc["r1", "settle_days"] == 4.0


def test_zone_aware_events_and_a_naive_observation_end() -> None:
    ev = _ev([("a", 0, "register", "petition_bureau"), ("a", 0.5, "investigate", "court"),
              ("b", 0.25, "register", "petition_bureau")])
    naive = ck.build_case_table(ev, observation_end="2024-01-02", link=False)
    aware = ev.assign(timestamp=ev["timestamp"].dt.tz_localize("Asia/Shanghai"))
    zoned = ck.build_case_table(aware, observation_end="2024-01-02", link=False)
    pd.testing.assert_frame_equal(naive, zoned)
    assert zoned.attrs["observation_end"] == pd.Timestamp("2024-01-02")
    # an aware observation end is converted to the events' zone: 16:00 UTC = 00:00 Shanghai
    utc = ck.build_case_table(aware, observation_end=pd.Timestamp("2024-01-01 16:00", tz="UTC"),
                              link=False)
    pd.testing.assert_frame_equal(naive, utc)
    rows = ck.build_case_intervals(aware, observation_end="2024-01-02")
    assert rows["stop"].tolist() == [0.5, 1.0, 0.75]


def test_cases_in_another_order_give_the_same_rows(hand: pd.DataFrame) -> None:
    cases = ck.build_case_table(hand, observation_end=OBS, link=False)
    a = ck.build_case_intervals(hand, cases=cases)
    shuffled = cases.iloc[::-1].reset_index(drop=True)
    shuffled.attrs = cases.attrs
    b = ck.build_case_intervals(hand.sample(frac=1.0, random_state=2), cases=shuffled)
    key = ["case_id", "start"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True),
                                  b.sort_values(key).reset_index(drop=True))


def test_cases_not_in_the_events_is_a_readable_error(hand: pd.DataFrame) -> None:
    cases = ck.build_case_table(hand, observation_end=OBS, link=False)
    with pytest.raises(ck.CasekitError, match="1 case ids are not in the events"):
        ck.build_case_intervals(hand[hand["case_id"] != "B"], cases=cases)
    with pytest.raises(ck.CasekitError, match="missing column 'closed'"):
        ck.build_case_intervals(hand, cases=cases.drop(columns="closed"))


def test_zero_length_cases_give_no_rows() -> None:
    ev = _ev([("a", 0, "register", "petition_bureau"), ("a", 0, "close", "petition_bureau"),
              ("b", 0, "register", "petition_bureau"), ("b", 2, "close", "court")])
    rows = ck.build_case_intervals(ev)
    assert rows["case_id"].tolist() == ["b"]
    assert rows.attrs["n_zero_length"] == 1


def test_agency_patterns_and_covariates_on_the_synthetic_district() -> None:
    events, _ = ck.synth.generate_district(300, seed=5)
    cases = ck.build_case_table(events)
    rows = ck.build_case_intervals(events, cases=cases)
    last = rows.groupby("case_id", sort=False).tail(1).set_index("case_id")
    c = cases.set_index("case_id").loc[last.index]
    assert (last["stop"] == c["duration_days"]).all()
    assert rows["event"].sum() == cases["closed"].sum()
    assert (rows.set_index("case_id")["category"] == cases.set_index("case_id")["category"]
            .reindex(rows["case_id"])).all()
    by_agency = ck.build_case_intervals(events, cases=cases, pattern_on="agency")
    assert by_agency.attrs["pattern_on"] == "agency"
    assert by_agency["event"].sum() == cases["closed"].sum()
    assert len(by_agency) >= len(rows)  # agencies join at least as often as their types


# ---------------------------------------------------------------------------------------------
# properties against a plain per-case reference
# ---------------------------------------------------------------------------------------------

TYPES = ["court", "petition_bureau", "street_office", "housing_construction_bureau"]
ACTS = ["investigate", "investigate", "close", "review", "decline_intake", "withdraw",
        "mediate", "register"]


@st.composite
def logs(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.Timestamp]:
    n_cases = draw(st.integers(1, 6))
    rows = []
    for i in range(n_cases):
        start = draw(st.integers(0, 20))
        if draw(st.booleans()) or i == 0:
            rows.append((f"c{i}", start, "register", draw(st.sampled_from(TYPES))))
        for _ in range(draw(st.integers(0 if rows and rows[-1][0] == f"c{i}" else 1, 6))):
            rows.append((f"c{i}", start + draw(st.integers(0, 12)) / 2,
                         draw(st.sampled_from(ACTS)), draw(st.sampled_from(TYPES))))
    ev = _ev(rows)
    if draw(st.booleans()):
        ev = ev.sample(frac=1.0, random_state=draw(st.integers(0, 9)))
    obs = T0 + DAY * draw(st.integers(8, 30)) / 2
    return ev, obs


def _reference(ev: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """The documented rules, one case at a time."""
    out = []
    for c in cases.itertuples():
        if not c.duration_known or not c.duration_days > c.entry_days:
            continue
        e = ev[(ev["case_id"] == c.case_id)]
        entry = max(c.opened_at, ev["timestamp"].min()) if c.prevalent else c.opened_at
        first = e[e["timestamp"] < c.exit_at].groupby("agency_type")["timestamp"].min()
        bounds = [entry, *sorted({t for t in first if t > entry}), c.exit_at]
        for j in range(len(bounds) - 1):
            is_last = j == len(bounds) - 2
            out.append((c.case_id, (bounds[j] - c.opened_at) / DAY,
                        (bounds[j + 1] - c.opened_at) / DAY, int(is_last and c.closed),
                        c.exit_type if is_last else "",
                        "+".join(sorted(k for k, t in first.items() if t <= bounds[j]))))
    return pd.DataFrame(out, columns=["case_id", "start", "stop", "event", "exit_type",
                                      "pattern"])


@given(logs())
def test_rows_equal_the_reference_and_tile_each_case(log: tuple) -> None:
    ev, obs = log
    kept = ev[ev["timestamp"] <= obs]
    if kept.empty:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DelayedEntryWarning)
        cases = ck.build_case_table(ev, observation_end=obs, link=False)
    rows = ck.build_case_intervals(ev, cases=cases)
    ref = _reference(kept, cases)
    got = rows[ref.columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref, check_dtype=False, atol=1e-9, rtol=0)

    # tiling: starts at entry, no gap or overlap, ends at duration_days; no zero-length rows
    assert (rows["stop"] > rows["start"]).all()
    same = rows["case_id"].to_numpy()[1:] == rows["case_id"].to_numpy()[:-1]
    assert (rows["start"].to_numpy()[1:][same] == rows["stop"].to_numpy()[:-1][same]).all()
    c = cases.set_index("case_id")
    first = rows.groupby("case_id", sort=False).head(1).set_index("case_id")
    last = rows.groupby("case_id", sort=False).tail(1).set_index("case_id")
    assert (first["start"] == c.loc[first.index, "entry_days"]).all()
    assert (last["stop"] == c.loc[last.index, "duration_days"]).all()
    with_rows = c.index.isin(last.index)
    assert rows["event"].sum() == c.loc[with_rows, "closed"].sum()
    n = rows.attrs
    assert n["n_cases_with_rows"] + n["n_prevalent_excluded"] + n["n_zero_length"] == len(c)
    for cid, r in last.iterrows():  # the pattern in force at the end is within the case's
        assert set(r["pattern"].split("+")) <= set(c.loc[cid, "pattern"].split("+"))
    # the case table's exit: the first close or competing exit, else the observation end
    for cid, e in kept.groupby("case_id"):
        ends = e[e["activity"].isin(["close", *ck.schema.EXIT_TYPES])]["timestamp"]
        assert c.loc[cid, "exit_at"] == (ends.min() if len(ends) else obs)
        types = e.loc[e["timestamp"] <= c.loc[cid, "exit_at"], "agency_type"]
        assert c.loc[cid, "pattern"] == "+".join(sorted(set(types)))
    # the at_ columns are the pattern in force
    at = [x for x in rows if x.startswith("at_")]
    from_cols = rows[at].apply(lambda r: "+".join(x[3:] for x in at if r[x]), axis=1)
    assert (from_cols == rows["pattern"]).all()


@pytest.mark.parametrize("n_types", [5, 20, 70])  # lookup table, factorised masks, pairs
def test_many_types_equal_the_reference(n_types: int) -> None:
    rng = np.random.default_rng(n_types)
    n = 4000
    types = [f"type_{i:02d}" for i in range(n_types)]
    case = np.sort(rng.integers(0, 300, n))
    ev = pd.DataFrame({
        "case_id": pd.Series(case).map("k{:03d}".format),
        "timestamp": T0 + pd.to_timedelta(rng.integers(0, 200, n) * 6, unit="h"),
        "activity": rng.choice(["investigate", "investigate", "investigate", "close",
                                "transfer_out"], n),
        "agency": "unit",
        "agency_type": rng.choice(types, n),
    })
    cases = ck.build_case_table(ev, link=False)
    rows = ck.build_case_intervals(ev, cases=cases)
    ref = _reference(ev, cases)
    pd.testing.assert_frame_equal(rows[ref.columns], ref, check_dtype=False, atol=1e-9, rtol=0)
    at = [x for x in rows if x.startswith("at_")]
    assert (rows[at].sum(axis=1) == rows["pattern"].str.count(r"\+") + 1).all()


def test_a_subset_of_the_case_table_gives_rows_for_those_cases_only(hand: pd.DataFrame) -> None:
    cases = ck.build_case_table(hand, observation_end=OBS, link=False)
    full = ck.build_case_intervals(hand, cases=cases)
    sub = cases[cases["case_id"].isin(["D", "B"])]
    sub.attrs = cases.attrs
    rows = ck.build_case_intervals(hand, cases=sub)
    assert rows["case_id"].unique().tolist() == ["B", "D"]
    expected = full[full["case_id"].isin(["B", "D"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(rows[expected.columns.intersection(rows.columns)],
                                  expected[expected.columns.intersection(rows.columns)])
    assert rows.attrs["n_cases"] == 2
