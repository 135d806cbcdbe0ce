"""Tests of casekit.cases: the case table, censoring, settlement, patterns, repeats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import casekit as ck


def _ev(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["case_id", "timestamp", "activity", "agency", "agency_type"])
    df["timestamp"] = pd.to_datetime(df["timestamp"])
    return df


@pytest.fixture
def tiny() -> pd.DataFrame:
    return _ev([
        ("c1", "2024-01-01", "register", "bureau", "petition_bureau"),
        ("c1", "2024-01-02", "transfer", "bureau", "petition_bureau"),
        ("c1", "2024-01-04", "joint_conference", "street A", "street_office"),
        ("c1", "2024-01-06", "investigate", "court X", "court"),
        ("c1", "2024-01-11", "close", "street A", "street_office"),
        ("c2", "2024-01-05", "register", "bureau", "petition_bureau"),
        ("c2", "2024-01-07", "leader_field_visit", "street A", "street_office"),
        ("c3", "2024-01-10", "register", "bureau", "petition_bureau"),
        ("c3", "2024-01-12", "close", "bureau", "petition_bureau"),
        ("c3", "2024-01-20", "cessation_pledge", "bureau", "petition_bureau"),
    ])


def test_durations_and_censoring_at_explicit_observation_end(tiny: pd.DataFrame) -> None:
    cases = ck.build_case_table(tiny, observation_end="2024-02-04", link=False).set_index("case_id")
    assert cases.loc["c1", "duration_days"] == 10.0
    assert cases.loc["c1", "closed"]
    # c2 is open: censored at the observation end, 30 days after opening
    assert cases.loc["c2", "duration_days"] == 30.0
    assert not cases.loc["c2", "closed"]
    assert pd.isna(cases.loc["c2", "closed_at"])
    assert (cases["observation_end"] == pd.Timestamp("2024-02-04")).all()
    assert cases.attrs["observation_end"] == pd.Timestamp("2024-02-04")


def test_observation_end_defaults_to_last_timestamp_never_today(tiny: pd.DataFrame) -> None:
    cases = ck.build_case_table(tiny, link=False)
    assert cases.attrs["observation_end"] == pd.Timestamp("2024-01-20")
    tiny.attrs["casekit"] = {"observation_end": "2024-03-01"}
    assert ck.build_case_table(tiny, link=False).attrs["observation_end"] == pd.Timestamp(
        "2024-03-01")


def test_events_after_observation_end_are_ignored(tiny: pd.DataFrame) -> None:
    cases = ck.build_case_table(tiny, observation_end="2024-01-08", link=False).set_index("case_id")
    assert not cases.loc["c1", "closed"]  # its close on 01-11 is after the end
    assert cases.loc["c1", "duration_days"] == 7.0
    assert "c3" not in cases.index  # opened after the end
    assert cases.attrs["n_events_after_observation_end"] == 4


def test_pattern_features_and_flags(tiny: pd.DataFrame) -> None:
    cases = ck.build_case_table(tiny, link=False).set_index("case_id")
    assert cases.loc["c1", "pattern"] == "court+petition_bureau+street_office"
    assert cases.loc["c1", "n_agencies"] == 3
    assert cases.loc["c1", "agencies"] == "bureau+court X+street A"
    assert cases.loc["c1", "first_agency"] == "bureau"
    # bureau->bureau (no), bureau->street A, street A->court X, court X->street A
    assert cases.loc["c1", "n_handovers"] == 3
    assert cases.loc["c1", "joint_conference"]
    assert not cases.loc["c1", "leader_involved"]
    assert cases.loc["c2", "leader_involved"]
    assert cases.loc["c3", "pattern"] == "petition_bureau"
    assert list(cases.columns[:5]) == ["opened_at", "closed_at", "settled_at", "observation_end",
                                       "duration_days"]


def test_unsorted_log_gives_the_same_table(tiny: pd.DataFrame) -> None:
    a = ck.build_case_table(tiny, link=False)
    shuffled = tiny.sample(frac=1.0, random_state=3)
    b = ck.build_case_table(shuffled, link=False).set_index("case_id").loc[a["case_id"]]
    pd.testing.assert_frame_equal(a.set_index("case_id"), b, check_like=True)


def test_bitmask_patterns_equal_a_plain_python_reference() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    types = [f"type_{i:02d}" for i in range(70)]  # more than 63: several mask words
    ev = pd.DataFrame({
        "case_id": np.sort(rng.integers(0, 400, n)).astype(str),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(n), "h"),
        "activity": "investigate",
        "agency": rng.choice(types, n),
    })
    ev["agency_type"] = ev["agency"]
    cases = ck.build_case_table(ev, link=False).set_index("case_id")
    ref = ev.groupby("case_id")["agency_type"].agg(lambda s: "+".join(sorted(set(s))))
    assert (cases["pattern"] == ref.reindex(cases.index)).all()
    assert (cases["n_agencies"] == ev.groupby("case_id")["agency"].nunique()
            .reindex(cases.index)).all()


def test_chinese_labels_are_mapped_and_unknown_types_fall_back_to_agencies() -> None:
    ev = _ev([
        ("a", "2024-01-01", "登记", "信访局", "信访局"),
        ("a", "2024-01-05", "办结", "文光街道", "街道办事处"),
    ])
    cases = ck.build_case_table(ev, link=False)
    assert cases.loc[0, "closed"]
    assert cases.loc[0, "pattern"] == "petition_bureau+street_office"
    ev["agency_type"] = "unknown"
    assert ck.build_case_table(ev, link=False).loc[0, "pattern"] == "信访局+文光街道"


def _refile_log() -> pd.DataFrame:
    rows = [
        # matter m1: closed 01-10, re-filed 02-01 (within 180 days) -> first filing not settled
        ("f1", "2024-01-01", "register", "m1"), ("f1", "2024-01-10", "close", "m1"),
        ("f2", "2024-02-01", "register", "m1"), ("f2", "2024-02-11", "close", "m1"),
        # m2: closed 01-05, never re-filed, window elapsed by the end -> settled at the close
        ("g1", "2024-01-01", "register", "m2"), ("g1", "2024-01-05", "close", "m2"),
        # m3: closed 06-10 with the window pending -> censored at the closure (pledge after it)
        ("h1", "2024-06-01", "register", "m3"), ("h1", "2024-06-10", "close", "m3"),
        ("h1", "2024-06-20", "cessation_pledge", "m3"),
        # m4: closed 08-01, window pending at the end -> censored at the closure
        ("k1", "2024-07-01", "register", "m4"), ("k1", "2024-08-01", "close", "m4"),
    ]
    ev = pd.DataFrame(rows, columns=["case_id", "timestamp", "activity", "matter_id"])
    ev["timestamp"] = pd.to_datetime(ev["timestamp"])
    ev["agency"] = "bureau"
    ev["agency_type"] = "petition_bureau"
    return ev


def test_settlement_window_pledge_and_censoring() -> None:
    cases = ck.build_case_table(_refile_log(), observation_end="2024-09-01").set_index("case_id")
    assert not cases.loc["f1", "settled"]
    assert cases.loc["f1", "refiled_within_window"]
    assert cases.loc["f1", "settle_days"] == (pd.Timestamp("2024-09-01") -
                                              pd.Timestamp("2024-01-01")).days
    # f2 closed 02-11; the window ends 08-09, before the observation end: settled then
    assert cases.loc["f2", "settled"]
    assert cases.loc["f2", "settle_days"] == 10.0
    assert cases.loc["g1", "settled"]
    assert cases.loc["g1", "settle_days"] == 4.0
    assert cases.loc["g1", "settled_at"] == pd.Timestamp("2024-01-05")
    # h1 closed 06-10, after observation_end - 180 days (03-05): censored administratively at
    # the closure, whatever came after (issue 10; it used to count its pledge on 06-20)
    assert not cases.loc["h1", "settled"]
    assert cases.loc["h1", "settle_days"] == 9.0
    assert not cases.loc["k1", "settled"]
    assert not cases.loc["k1", "settle_observed"]
    assert cases.loc["k1", "settle_days"] == 31.0
    # explicit matter ids give the ordinals
    assert cases.loc["f2", "repeat_ordinal"] == 2
    assert cases.loc["f1", "repeat_ordinal"] == 1


def test_repeats_linked_by_petitioner_category_address_without_matter_id() -> None:
    ev = _refile_log().drop(columns="matter_id")
    ev["petitioner_id"] = np.where(ev["case_id"].str[0].isin(["f", "g"]), "P1", "P2")
    ev["category"] = np.where(ev["case_id"].str[0] == "g", "housing", "land")
    ev["address"] = "1 Road"
    cases = ck.build_case_table(ev).set_index("case_id")
    assert cases.loc["f2", "repeat_ordinal"] == 2
    assert cases.loc["f2", "repeat_kind"] == "repeat_after_close"
    assert cases.loc["f1", "matter_id"] == cases.loc["f2", "matter_id"]
    assert cases.loc["g1", "matter_id"] != cases.loc["f1", "matter_id"]
    assert (cases.loc[["g1", "h1"], "repeat_ordinal"] == 1).all()


def test_missing_column_is_a_readable_error() -> None:
    with pytest.raises(ck.CasekitError, match="missing column 'activity'"):
        ck.build_case_table(pd.DataFrame({"case_id": ["a"], "timestamp": [pd.Timestamp(0)],
                                          "agency": ["x"]}))


def test_matter_view_chains_filings() -> None:
    cases = ck.build_case_table(_refile_log(), observation_end="2024-09-01")
    with pytest.warns(DeprecationWarning, match="build_matter_table"):
        view = ck.build_matter_view(cases).set_index("matter_id")
    assert view.loc["m1", "n_filings"] == 2
    assert view.loc["m1", "patterns"] == "petition_bureau > petition_bureau"
    assert view.loc["m1", "settled"]
    assert view.loc["m2", "settled"]
    assert not view.loc["m4", "settled"]
    assert view.loc["m1", "chain_days"] == 41.0  # 01-01 to the settlement on 02-11
    assert view.loc["m2", "chain_days"] == 4.0


def test_case_table_on_the_synthetic_district_matches_its_truth() -> None:
    events, truth = ck.synth.generate_district(400, seed=3, mode="upfront")
    cases = ck.build_case_table(events)
    assert len(cases) == truth["n_cases"]
    assert cases.attrs["observation_end"] == pd.Timestamp(truth["observation_end"])
    # open = neither closed nor left by a competing exit (closed is cause-specific, issue 10)
    assert (cases["exit_type"] == "censored").mean() == pytest.approx(truth["share_open"],
                                                                      abs=0.01)
    assert (cases["repeat_ordinal"] >= 2).mean() == pytest.approx(
        truth["share_repeat_filings"], abs=0.01)


# --------------------------------------------------------------------------------------------
# the same answers whatever the events' encoding (issue 15: codes used as they are)
# --------------------------------------------------------------------------------------------
_TEXT = ("case_id", "activity", "agency", "agency_type", "category", "channel", "street",
         "matter_id", "repeat_kind")


def _encodings(ev: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The validated sample as validate gives it and as users may pass it."""
    import pyarrow as pa

    cols = [c for c in _TEXT if c in ev]
    half = len(ev) // 2
    return {
        "validated": ev,
        # categorical text, with a category that never occurs
        "categorical": ev.astype({c: pd.CategoricalDtype([*ev[c].dropna().unique(), "zz"])
                                  for c in cols if c != "case_id"}),
        "object": ev.astype(dict.fromkeys(cols, object)),
        "two arrow chunks": pd.concat([ev.iloc[:half], ev.iloc[half:]]),
        "arrow dictionary": ev.astype(dict.fromkeys(
            ("activity", "agency", "agency_type"),
            pd.ArrowDtype(pa.dictionary(pa.int32(), pa.string())))),
    }


@pytest.fixture(scope="module")
def sample_events() -> pd.DataFrame:
    from pathlib import Path

    return ck.read_events(Path(ck.__file__).parent / "datasets" / "sample_events.csv.gz")


@pytest.mark.filterwarnings("ignore::casekit.ranking.WholeCasePatternWarning")
def test_case_table_and_km_ranking_do_not_depend_on_the_text_encoding(sample_events) -> None:
    ref = ck.build_case_table(sample_events)
    ref_rank = ck.rank_collaborations(ref, repeat_only=False, adjust=False, method="whole-case")
    for name, ev in _encodings(sample_events).items():
        got = ck.build_case_table(ev)
        # object text stays object in the carried columns (as it always did); values equal
        pd.testing.assert_frame_equal(got, ref, check_exact=True, obj=name,
                                      check_dtype=name != "object")
        assert got.attrs == ref.attrs
        rank = ck.rank_collaborations(got, repeat_only=False, adjust=False,
                                      method="whole-case")
        pd.testing.assert_frame_equal(rank, ref_rank, check_exact=True, obj=name)


def test_contiguous_unsorted_cases_are_one_run_each(sample_events) -> None:
    """Cases in reverse id order (contiguous, not sorted) give the same table, reordered."""
    order = sample_events["case_id"].iloc[::-1].unique()
    pos = pd.Index(order).get_indexer(sample_events["case_id"])
    rev = sample_events.iloc[np.argsort(pos, kind="stable")].reset_index(drop=True)
    got = ck.build_case_table(rev)
    ref = ck.build_case_table(sample_events)
    assert got["case_id"].tolist() == list(order)
    pd.testing.assert_frame_equal(
        got.set_index("case_id").loc[ref["case_id"]].reset_index(), ref, check_exact=True)
