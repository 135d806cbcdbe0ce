"""The chunked, partitioned synth (issue #16): one district, written in casekit partition's layout."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import casekit as ck
from casekit._utils import CasekitError
from casekit.cli import main

pytest.importorskip("dask.dataframe")

from casekit import scale

N, PARTS, CHUNK = 1200, 4, 300


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    d = tmp_path_factory.mktemp("chunked")
    out, truth = ck.synth.write_district(d / "parts", N, seed=7, partitions=PARTS,
                                         chunk_cases=CHUNK)
    parts = [pd.read_parquet(p) for p in sorted(out.glob("part.*.parquet"))]
    return out, truth, parts


def test_layout_no_case_split_sorted(chunked):
    out, truth, parts = chunked
    assert [p.name for p in sorted(out.glob("part.*.parquet"))] == [
        f"part.{k:05d}.parquet" for k in range(PARTS)]
    seen: set[str] = set()
    for k, df in enumerate(parts):
        cases = set(df["case_id"])
        assert not cases & seen  # no case in two partitions
        seen |= cases
        # the partition of a case is its hash bucket, as casekit partition assigns it
        assert (scale._case_bucket(df["case_id"], PARTS) == k).all()
        key = df[["case_id", "timestamp"]]
        assert key.equals(key.sort_values(["case_id", "timestamp"], kind="stable"))
        assert "_duplicate" in df
        assert not df["_duplicate"].any()
    assert len(seen) == N
    assert seen == set(ck.synth._serial_ids("XF", N, 6))  # ids numbered on across chunks
    meta = scale.dataset_metadata(out)
    assert meta["n_cases"] == N
    assert meta["partitions"] == PARTS
    assert meta["n_accepted"] == sum(map(len, parts)) == json.loads(truth.read_text())["n_events"]


def test_one_district_across_chunks(chunked):
    out, truth_path, parts = chunked
    ev = pd.concat(parts, ignore_index=True)
    # a matter lives in one chunk, has one petitioner; petitioners differ between matters
    per_matter = ev.groupby("matter_id")["petitioner_id"].nunique()
    assert (per_matter == 1).all()
    pet = ev.drop_duplicates("matter_id")["petitioner_id"]
    assert pet.is_unique
    # the same agencies in every chunk: case numbers from every chunk use the district's units
    agencies = set(ck.synth.build_agency_table()["agency"])
    assert set(ev["agency"]) <= agencies
    chunk = (ev["case_id"].str[2:].astype(int) - 1) // CHUNK
    assert chunk.nunique() == N // CHUNK
    streets_per_chunk = ev.groupby(chunk)["street"].nunique()
    assert (streets_per_chunk == 13).all()
    # ordinals per matter are 1..k (whole matters inside a chunk)
    ords = ev.drop_duplicates("case_id").groupby("matter_id")["repeat_ordinal"]
    assert (ords.max() == ords.count()).all()
    truth = json.loads(truth_path.read_text())
    assert truth["n_cases"] == N
    assert truth["seed"] == 7
    assert truth["n_matters"] == ev["matter_id"].nunique()
    assert truth["chunks"]["n_chunks"] == N // CHUNK
    assert truth["seed_matter"]["matter_id"] == ck.synth.SEED_MATTER_ID
    assert (ev["matter_id"] == ck.synth.SEED_MATTER_ID).sum() > 0
    assert sum(truth["pattern_support"]["first"].values()) > 0
    assert list(out.parent.glob("*.truth.json")) == [truth_path]  # written once


def test_scale_case_table_on_it(chunked):
    out, truth, _ = chunked
    cases = scale.build_case_table(out)
    assert len(cases) == N
    assert cases["case_id"].is_unique
    info = json.loads(truth.read_text())
    assert cases["observation_end"].iloc[0] == pd.Timestamp(info["observation_end"])
    assert cases["repeat_ordinal"].ge(2).mean() == pytest.approx(info["share_repeat_filings"],
                                                                  abs=1e-3)


def test_single_chunk_equals_casekit_partition(tmp_path):
    ev_path, t_path = ck.synth.write_district(tmp_path / "d.parquet", 400, seed=3)
    end = json.loads(t_path.read_text())["observation_end"]
    scale.partition_events(ev_path, tmp_path / "ref", partitions=3, observation_end=end)
    out, _ = ck.synth.write_district(tmp_path / "parts", 400, seed=3, partitions=3,
                                     chunk_cases=1000)
    for k in range(3):
        got = pd.read_parquet(out / f"part.{k:05d}.parquet")
        ref = pd.read_parquet(tmp_path / "ref" / f"part.{k:05d}.parquet")
        pd.testing.assert_frame_equal(got, ref)
    m, r = scale.dataset_metadata(out), scale.dataset_metadata(tmp_path / "ref")
    assert set(m) == set(r)
    for key in ("column_mapping", "n_read", "n_accepted", "n_cases", "vocabulary",
                "first_timestamp", "last_timestamp", "observation_end", "partitioned_by"):
        assert m[key] == r[key], key


def test_same_seed_same_dataset(tmp_path, chunked):
    out, _ = ck.synth.write_district(tmp_path / "again", N, seed=7, partitions=PARTS,
                                     chunk_cases=CHUNK)
    for k, df in enumerate(chunked[2]):
        pd.testing.assert_frame_equal(pd.read_parquet(out / f"part.{k:05d}.parquet"), df)


def test_mixed_ids_distinct():
    ids = ck.synth._mixed_ids(np.arange(200_000), 12345, "P")
    assert len(set(ids)) == ids.size
    assert all(len(x) == 12 and x[0] == "P" for x in ids[:5])


def test_errors(tmp_path):
    with pytest.raises(CasekitError, match="chunk_cases applies"):
        ck.synth.write_district(tmp_path / "a.csv", 10, chunk_cases=5)
    with pytest.raises(CasekitError, match="partitions: expected a positive"):
        ck.synth.write_district(tmp_path / "p", 10, partitions=0)
    (tmp_path / "exists").mkdir()
    with pytest.raises(CasekitError, match="already exists"):
        ck.synth.write_district(tmp_path / "exists", 10, partitions=2)
    with pytest.raises(CasekitError, match="unknown option"):
        ck.synth.write_district(tmp_path / "q", 10, partitions=2, colour="red")


def test_cli_partitions(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["synth", "--cases", "500", "--seed", "1", "--out", str(out),
                 "--partitions", "2", "--chunk-cases", "200"]) == 0
    assert "2 partitions" in capsys.readouterr().out
    assert (tmp_path / "ds.truth.json").exists()
    assert scale.dataset_metadata(out)["n_cases"] == 500
    assert main(["synth", "--cases", "500", "--out", str(out), "--partitions", "2"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["synth", "--cases", "5", "--out", str(tmp_path / "x.csv"),
                 "--chunk-cases", "2"]) == 2
