"""Tests of casekit.kpi: statutory clocks, pending is not late, rates and the overdue list."""

from __future__ import annotations

import pandas as pd
import pytest

import casekit as ck


def _log() -> pd.DataFrame:
    rows = [
        # a: routed day 2, accepted day 3, notified day 10, closed day 50 -> all met
        ("a", "2024-01-01", "register", "bureau", "S1"), ("a", "2024-01-03", "transfer", "bureau", "S1"),
        ("a", "2024-01-04", "accept", "street", "S1"), ("a", "2024-01-11", "notify_receipt", "street", "S1"),
        ("a", "2024-02-20", "close", "street", "S1"),
        # b: routed day 20 (late), accepted, extended before day 60, closed day 85 after accept -> met
        ("b", "2024-01-01", "register", "bureau", "S1"), ("b", "2024-01-21", "accept", "court", "S1"),
        ("b", "2024-01-25", "notify_receipt", "court", "S1"), ("b", "2024-03-10", "extend", "court", "S1"),
        ("b", "2024-04-15", "close", "court", "S1"),
        # c: accepted, no extension, still open at the end 100 days after -> missed, still open
        ("c", "2024-01-01", "register", "bureau", "S2"), ("c", "2024-01-02", "accept", "street", "S2"),
        # d: accepted 2024-06-01, open, not yet due at the end -> pending
        ("d", "2024-05-30", "register", "bureau", "S2"), ("d", "2024-06-01", "accept", "street", "S2"),
        ("e", "2024-06-20", "register", "bureau", "S2"),
    ]
    ev = pd.DataFrame(rows, columns=["case_id", "timestamp", "activity", "agency", "street"])
    ev["timestamp"] = pd.to_datetime(ev["timestamp"])
    ev["agency_type"] = ev["agency"].map({"bureau": "petition_bureau", "street": "street_office",
                                          "court": "court"})
    return ev


@pytest.fixture
def deadlines() -> pd.DataFrame:
    return ck.build_deadline_table(_log(), observation_end="2024-07-01")


def test_statuses_by_hand(deadlines: pd.DataFrame) -> None:
    d = deadlines.set_index("case_id")
    assert list(d.loc["a", ["route_status", "notify_status", "handle_status"]]) == ["met"] * 3
    assert d.loc["b", "route_status"] == "missed"
    assert d.loc["b", "route_days_late"] == 5.0
    assert d.loc["b", "extended"]
    assert d.loc["b", "handle_status"] == "met"
    assert d.loc["b", "handle_due"] == pd.Timestamp("2024-01-21") + pd.Timedelta(days=90)
    assert d.loc["c", "handle_status"] == "missed"
    assert d.loc["c", "handle_days_late"] == (pd.Timestamp("2024-07-01") -
                                             pd.Timestamp("2024-03-02")).days
    assert d.loc["d", "handle_status"] == "pending"
    assert d.loc["d", "handle_days_late"] == 0
    # e: registered 11 days before the end, not routed yet: pending, not late
    assert d.loc["e", "route_status"] == "pending"
    assert d.loc["a", "handling_agency"] == "street"
    assert d.loc["b", "handling_agency"] == "court"
    assert (d["observation_end"] == pd.Timestamp("2024-07-01")).all()


def test_clock_not_in_the_log_is_not_recorded_not_missed() -> None:
    ev = _log()
    ev = ev[ev["activity"] != "notify_receipt"]
    d = ck.build_deadline_table(ev, observation_end="2024-07-01")
    assert (d["notify_status"] == "not_recorded").all()


def test_on_time_rates_exclude_pending(deadlines: pd.DataFrame) -> None:
    r = ck.on_time_rates(deadlines, by="street").set_index("street")
    # S1: a met, b met; S2: c missed, d pending, e pending (handle measured from receipt)
    assert r.loc["S1", "on_time_rate"] == 1.0
    assert r.loc["S1", "n_due"] == 2
    assert r.loc["S2", "n_due"] == 1
    assert r.loc["S2", "n_pending"] == 2
    assert r.loc["S2", "on_time_rate"] == 0.0
    assert 0 <= r.loc["S1", "rate_ci_low"] < 1.0 <= r.loc["S1", "rate_ci_high"] + 1e-12
    by_pattern = ck.on_time_rates(deadlines, by="pattern", clock="route")
    assert by_pattern["n_cases"].sum() == 5
    assert list(ck.on_time_rates(deadlines).columns[:2]) == ["agency", "n_cases"]


def test_overdue_list_most_late_first(deadlines: pd.DataFrame) -> None:
    od = ck.overdue_cases(deadlines)
    assert od["days_late"].is_monotonic_decreasing
    # c and d were accepted but never notified: the notify clock is missed for both
    assert set(od.loc[od["clock"] == "notify", "case_id"]) == {"c", "d"}
    hr = od[od["clock"] != "notify"].reset_index(drop=True)
    assert list(hr["case_id"]) == ["c", "b"]
    assert list(hr["clock"]) == ["handle", "route"]
    assert hr.loc[0, "still_open"]
    assert not hr.loc[1, "still_open"]
    assert list(ck.overdue_cases(deadlines, clock="handle")["case_id"]) == ["c"]


def test_synthetic_supervised_cases_are_missed_on_handling() -> None:
    events, _ = ck.synth.generate_district(600, seed=4)
    d = ck.build_deadline_table(events).set_index("case_id")
    supervised = events.loc[events["activity"] == "supervise", "case_id"].unique()
    # the generator supervises cases still unhandled 90 days after acceptance
    assert len(supervised) > 0
    assert (d.loc[supervised, "handle_status"] == "missed").all()
    assert set(d["handle_status"]) <= {"met", "missed", "pending"}


def test_observation_end_is_resolved_like_the_case_table():
    ev = pd.DataFrame({
        "case_id": ["a", "a"],
        "timestamp": pd.to_datetime(["2024-01-01", "2024-01-05"]),
        "activity": ["register", "accept"],
        "agency": ["bureau", "street"],
        "agency_type": ["petition_bureau", "street_office"],
    })
    aware = ck.build_deadline_table(ev, observation_end=pd.Timestamp("2024-04-01", tz="UTC"))
    assert aware.attrs["observation_end"] == pd.Timestamp("2024-04-01")  # naive, as everywhere
    with pytest.raises(ck.CasekitError, match=r"observation_end: cannot read .* expected a date"):
        ck.build_deadline_table(ev, cases=ck.build_case_table(ev, link=False),
                                observation_end="not a date")


def test_validated_activities_are_not_mapped_again(tmp_path) -> None:
    """Issue 14: the encoding flag skips the vocabulary re-mapping; the table is the same."""
    from casekit._utils import ENCODING_KEY

    ev = _log()
    ev["activity"] = ev["activity"].map({"register": "登记", "accept": "受理"}).fillna(ev["activity"])
    ev.to_csv(tmp_path / "log.csv", index=False)
    validated = ck.read_events(tmp_path / "log.csv")
    assert ck.validate.event_encoding(validated)["vocabulary"] == "identifiers"
    bare = validated.copy()
    bare.attrs = {k: v for k, v in validated.attrs.items() if k != ENCODING_KEY}
    pd.testing.assert_frame_equal(ck.build_deadline_table(validated, observation_end="2024-07-01"),
                                  ck.build_deadline_table(bare, observation_end="2024-07-01"))
    # a stale flag (rows added since validate) is ignored: Chinese labels are still mapped
    raw = pd.concat([validated, ev.iloc[:1]], ignore_index=True)
    raw.attrs = dict(validated.attrs)
    from casekit.kpi import _deadline_events

    activities = set(_deadline_events(raw, pd.Timestamp("2100-01-01"))["activity"])
    assert "register" in activities
    assert "登记" not in activities
