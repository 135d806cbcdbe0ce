"""The case table's fast paths (issue 15) against plain references, and its output pinned.

The vectorised helpers of ``casekit.cases`` are compared with direct numpy / Python versions on
random inputs with ties, missing codes and ignored rows; the whole table of a corrupted
district (quarantined rows, shuffled events, missing agency types) is pinned by per-column
digests recorded from the implementation before the speed-up, so a faster version must give
the very same table.
"""

from __future__ import annotations

import hashlib
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import casekit as ck
from casekit import cases as C


@pytest.mark.parametrize("dtype", [np.int8, np.int16])
def test_lookup_is_numpy_indexing_for_narrow_codes(dtype: type) -> None:
    rng = np.random.default_rng(0)
    n_labels = 100 if dtype == np.int8 else 300
    codes = rng.integers(-1, n_labels, 200_000).astype(dtype)  # -1: the last table entry
    for table in (rng.integers(0, 2**40, n_labels + 1), np.arange(n_labels + 1, dtype=np.uint8),
                  rng.random(n_labels + 1)):
        got = C._lookup(table, codes)
        assert got.dtype == table.dtype
        np.testing.assert_array_equal(got, table[codes])


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = set(zip(a.tolist(), b.tolist(), strict=True))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("large", [False, True])
def test_short_text_codes_partition_strings_as_hashing_does(large: bool) -> None:
    import pyarrow as pa

    rng = np.random.default_rng(2)
    alphabet = np.array(list("ab\x00信访件"))  # NUL bytes and multi-byte UTF-8
    pool = ["".join(rng.choice(alphabet, m)) for m in rng.integers(0, 11, 3000)]
    pool += ["", "a", "a\x00", "ab" * 4, "ab" * 4 + "a"]  # lengths at word boundaries
    values = pa.array(list(rng.choice(pool, 50_000)),
                      type=pa.large_string() if large else pa.string()).slice(7)
    got = C._short_text_codes(values)
    assert got is not None
    assert _same_partition(got, values.dictionary_encode().indices.to_numpy())
    assert C._short_text_codes(pa.array(["x" * 33, "y"])) is None  # too long: text hashing
    assert C._short_text_codes(pa.array(["x", None])) is None
    codes = C._codes(pd.Series(values.to_pylist(), dtype="str"))
    assert _same_partition(codes, got)


def _random_log(rng: np.random.Generator, n_cases: int) -> pd.DataFrame:
    """A sorted log with many equal timestamps in a case (ties at the exit)."""
    lens = rng.integers(1, 12, n_cases)
    case = np.repeat(np.arange(n_cases), lens)
    day = np.concatenate([np.sort(rng.integers(0, 6, k)) for k in lens])
    return pd.DataFrame({"case_id": [f"c{i:05d}" for i in case], "activity": "investigate",
                         "agency": "x",
                         "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, "D")})


def test_after_exit_mask_is_a_direct_comparison_with_ties() -> None:
    rng = np.random.default_rng(1)
    log = C._prepare(_random_log(rng, 3000), None)
    ends = np.r_[log.starts[1:], len(log.ts)] - 1
    # exits at one of the case's own event times (ties with later events), or after all of them
    pick = log.starts + (rng.random(log.n_cases) * (ends - log.starts + 1)).astype(np.int64)
    exit_ns = np.where(rng.random(log.n_cases) < 0.2, log.obs_ns, log.ts[pick])
    got = C._after_exit(log, exit_ns)
    want = log.ts > exit_ns[log.codes]
    assert want.any()
    assert not want.all()
    np.testing.assert_array_equal(got, want)
    assert C._after_exit(log, np.full(log.n_cases, log.obs_ns)) is None


def _reference_sets(codes: np.ndarray, items: np.ndarray, names: list[str], n_cases: int,
                    drop: np.ndarray) -> tuple[list[str], list[int]]:
    sets: list[set[str]] = [set() for _ in range(n_cases)]
    for c, it, d in zip(codes, items, drop, strict=True):
        if it >= 0 and not d:
            sets[c].add(names[it])
    return ["+".join(sorted(s)) for s in sets], [len(s) for s in sets]


@pytest.mark.parametrize("n_items", [10, 40, 300])  # bit masks (two widths) and sorted pairs
def test_set_labels_ignore_missing_and_dropped_rows_like_a_reference(n_items: int) -> None:
    rng = np.random.default_rng(n_items)
    n_cases = 2000
    lens = rng.integers(1, 25, n_cases)
    codes = np.repeat(np.arange(n_cases), lens)
    starts = np.r_[0, np.cumsum(lens)[:-1]]
    items = rng.integers(-1, n_items, len(codes))
    items[1::3] = items[:-1:3]  # repeats of the previous event's item
    names = [f"agency {i:03d}" for i in rng.permutation(n_items)]
    drop = rng.random(len(codes)) < 0.3  # anywhere in a case, not only after its exit
    drop[0] = False
    want = _reference_sets(codes, items, names, n_cases, drop)
    got, counts = C._set_labels(codes, starts, items, names, n_cases, drop)
    assert got.tolist() == want[0]
    assert counts.tolist() == want[1]
    got, counts = C._set_labels(codes, starts, items, names, n_cases)
    assert (got.tolist(), counts.tolist()) == _reference_sets(
        codes, items, names, n_cases, np.zeros(len(codes), dtype=bool))


def test_join_sets_share_short_lists_and_keep_long_ones_apart() -> None:
    import pyarrow as pa

    rng = np.random.default_rng(3)
    k = 300  # 9 bits per name: lists of up to 7 names are packed, longer ones are not
    pool = [np.sort(rng.choice(k, m, replace=False)) for m in (0, 1, 3, 7, 8, 12, 7, 8)]
    pick = rng.integers(0, len(pool), 5000)
    lists = [pool[p] for p in pick]
    names = pa.array([f"n{i:03d}" for i in range(k)])
    got, counts = C._join_sets(np.array([len(x) for x in lists]),
                               np.concatenate(lists).astype(np.int64), names)
    assert got.tolist() == ["+".join(f"n{i:03d}" for i in x) for x in lists]
    assert counts.tolist() == [len(x) for x in lists]


def test_handovers_count_changes_of_known_agency_within_a_case() -> None:
    rng = np.random.default_rng(4)
    ev = _random_log(rng, 500)
    ev["agency"] = rng.choice(["a", "b", "c", None], len(ev), p=[0.4, 0.3, 0.2, 0.1])
    log = C._prepare(ev, None)
    got = C._handovers(log, log.agencies[0])
    want = [sum(1 for x, y in pairwise(g) if not pd.isna(x) and not pd.isna(y) and x != y)
            for _, g in ev.groupby("case_id", sort=False)["agency"].agg(list).items()]
    assert got.tolist() == want


def _corrupted_district(tmp_path: Path) -> pd.DataFrame:
    """A synth district read back through validation after corrupting its file: empty case
    ids, missing timestamps, empty activities and duplicated rows (quarantined), shuffled
    events and a few missing agency types."""
    ev, _ = ck.synth.generate_district(2000, seed=5, mode="upfront")
    rng = np.random.default_rng(5)
    n = len(ev)
    ev = ev.astype({"case_id": object, "activity": object, "agency_type": object})
    bad = rng.choice(n, 40, replace=False)
    ev.loc[bad[:10], "case_id"] = ""
    ev.loc[bad[10:20], "timestamp"] = pd.NaT
    ev.loc[bad[20:30], "activity"] = ""
    ev.loc[bad[30:], "agency_type"] = None
    ev = pd.concat([ev, ev.iloc[rng.choice(n, 10, replace=False)]])  # exact duplicates
    ev = ev.iloc[rng.permutation(len(ev))].reset_index(drop=True)
    path = tmp_path / "district.parquet"
    ev.to_parquet(path, index=False)
    return ck.read_events(path)


def _digest(table: pd.DataFrame) -> dict[str, str]:
    """Per column: a short sha256 of its values' pandas hashes (values and dtype kind)."""
    return {col: hashlib.sha256(pd.util.hash_pandas_object(table[col], index=False)
                                .to_numpy().tobytes()).hexdigest()[:16] for col in table}


#: digests of the case table of :func:`_corrupted_district`, recorded from casekit before the
#: issue-15 speed-up (main at d0d7d9f); ``pattern_on="agency"`` takes the sorted-pairs path
PINNED: dict[str, dict[str, str]] = {
    "auto": {
        "case_id": "5d104193de2a7a35",
        "opened_at": "2a9e0633aa9d768f",
        "closed_at": "36d166ec205b87d5",
        "settled_at": "f0da3e8a9e6d9bcb",
        "observation_end": "26772858fe930da9",
        "duration_days": "dcad27ecb5fb58bb",
        "closed": "81951dc589717a5c",
        "settled": "4f2c02aa1b71ee13",
        "settle_days": "ef717a2ff24c3837",
        "settle_observed": "4f2c02aa1b71ee13",
        "agencies": "15d6ef9682f7472f",
        "n_agencies": "9697c36bdbf93541",
        "pattern": "719a2a1e4af7ab0c",
        "n_agency_types": "6c17d629b08aed28",
        "first_agency": "5cca04833cb33ed6",
        "first_agency_type": "f530f2a99e2f849d",
        "n_handovers": "6e516883f36bcf3d",
        "joint_conference": "0bd2587215e2797e",
        "leader_involved": "cec14357035eba8e",
        "year": "900f10bf080af9e7",
        "repeat_ordinal": "d329b321307db52f",
        "repeat_kind": "b1ca62e2ad140cc5",
        "matter_id": "77e3592c370d1898",
        "petitioner_id": "14bc0b20db3f9940",
        "category": "0ecba3ad8bee3115",
        "street": "643c3162a66500ba",
        "channel": "90a209b8a19455c3",
        "exit_at": "4658523853fe8807",
        "exit_type": "924b6b14422363c5",
        "prevalent": "2bfc9c0e28cde01b",
        "entry_days": "f85f2c34eb2843d2",
        "duration_known": "f6f1c1829ce2e579",
        "terminated_at": "e73a1df0167845b6",
        "address": "bc7c19404309340c",
        "level": "385f72602df9adf3",
        "refiled_within_window": "676e3dd4fc5ae2ec",
    },
}
# patterns of agencies: the pattern is the agency set itself
PINNED["agency"] = {**PINNED["auto"], "pattern": PINNED["auto"]["agencies"],
                   "n_agency_types": PINNED["auto"]["n_agencies"]}


@pytest.mark.parametrize("pattern_on", ["auto", "agency"])
def test_case_table_of_a_corrupted_district_is_unchanged(tmp_path: Path,
                                                         pattern_on: str) -> None:
    ev = _corrupted_district(tmp_path)
    with pytest.warns(ck.DelayedEntryWarning):  # a few cases without a register event
        table = ck.build_case_table(ev, pattern_on=pattern_on)
    assert list(table.columns) == list(PINNED[pattern_on])
    assert _digest(table) == PINNED[pattern_on]
