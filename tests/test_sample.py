"""Tests of the bundled synthetic sample (casekit.datasets._sample)."""

from __future__ import annotations

from importlib import resources

import pandas as pd
import pandas.testing as pdt

import casekit as ck
from casekit.datasets import _sample


def test_sample_loads_with_canonical_columns_and_types():
    events = ck.load_sample_events()
    ck.validate_events(events)
    assert events["case_id"].nunique() == _sample.SAMPLE_CASES
    assert events["timestamp"].dtype == "datetime64[ns]"
    assert events["case_id"].dtype == "str"
    assert events["repeat_ordinal"].dtype == "int64"
    assert events["case_id"].is_monotonic_increasing


def test_sample_is_exactly_the_generator_output():
    """Fails when the generator changed and the sample was not regenerated
    (``python -m casekit.datasets._sample``)."""
    events = ck.load_sample_events()
    fresh, truth = ck.generate_district(_sample.SAMPLE_CASES, seed=_sample.SAMPLE_SEED,
                                        mode="upfront")
    pdt.assert_frame_equal(events, fresh)
    assert ck.load_sample_truth() == truth


def test_sample_truth_matches_the_sample():
    events = ck.load_sample_events()
    truth = ck.load_sample_truth()
    assert truth["seed"] == _sample.SAMPLE_SEED
    assert truth["n_cases"] == events["case_id"].nunique()
    assert truth["n_events"] == len(events)
    assert events.attrs["casekit"]["observation_end"] == truth["observation_end"]
    assert events["timestamp"].max() < pd.Timestamp(truth["observation_end"])
    closed = events.loc[events["activity"] == "close", "case_id"].nunique()
    assert truth["share_open"] == round(1 - closed / truth["n_cases"], 4)
    assert 0.02 <= truth["share_open"] <= 0.5
    assert 0.05 <= truth["share_repeat_filings"] <= 0.8


def test_sample_holds_the_seed_matter_and_the_required_vocabulary():
    events = ck.load_sample_events()
    assert (events["matter_id"] == "M-NANPOYUAN").sum() >= 15
    assert {"street_office", "residents_committee", "court", "housing_construction_bureau",
            "petition_bureau"} <= set(events["agency_type"])
    assert {"register", "close", "joint_conference", "leader_case_ownership", "mediate",
            "follow_up_visit", "cessation_pledge"} <= set(events["activity"])


def test_sample_files_are_small_package_data():
    folder = resources.files("casekit.datasets")
    size = sum(len(folder.joinpath(n).read_bytes())
               for n in ("sample_events.csv.gz", "sample_truth.json"))
    assert size < 1_000_000


def test_loaders_are_reachable_from_both_facades():
    from casekit import datasets

    assert datasets.load_sample_events is ck.load_sample_events
    assert datasets.load_sample_truth is ck.load_sample_truth
    assert "load_sample_events" in ck.__all__
    assert "generate_district" in ck.__all__


def test_no_raw_identity_columns_in_the_sample():
    events = ck.load_sample_events()
    assert not set(ck.schema.PII_COLUMNS) & set(events.columns)
    assert events["petitioner_id"].str.fullmatch(r"P[0-9A-F]{11}").all()


def test_sample_shows_the_confounded_raw_ranking():
    truth = ck.load_sample_truth()
    raw = truth["observed"]["raw_median_order_repeat"]
    assert truth["fastest_repeat_pattern"] in raw
    assert raw[0] != truth["fastest_repeat_pattern"]
