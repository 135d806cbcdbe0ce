"""The case table and its counting-process rows: durations, competing exits, entry, patterns.

``build_case_table`` turns a canonical event log (one row per event) into one row per case:
when it was opened, how and when its follow-up ended (first ``close``, a competing exit such as
``decline_intake`` or ``route_to_legal_procedure``, or the observation end), whether it was
*settled* (closed and not re-filed within a window, or a cessation pledge), whether it was
already open before the log starts (delayed entry), its collaboration ``pattern`` (the distinct
agency types that acted on it up to its exit, sorted and joined with ``+``), a few process
features and the repeat-petition fields.

``build_case_intervals`` splits each case's follow-up into counting-process ``(start, stop]``
rows at the moments agency types join it, so that a time-varying model sees a collaboration
only from when it forms (no immortal time).

Everything is vectorised over the sorted log (first positions of case segments, bit masks for
the patterns, sort-based distinct values; never a Python loop per case): the per-group Python
lambda that builds pattern strings costs minutes at a million cases (``perf/BASELINES.md``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from casekit._utils import CasekitError, as_dates, take_chunked
from casekit.engine import distinct
from casekit.timestamps import parse_date

__all__ = [
    "DelayedEntryWarning",
    "build_case_intervals",
    "build_case_table",
    "build_matter_view",
]

_NS_PER_DAY = 86_400 * 10**9
_BIG = np.iinfo(np.int64).max
_NAT = np.iinfo(np.int64).min

#: activities that mark leader involvement (REG2022 Art.18)
LEADER_ACTIVITIES: tuple[str, ...] = (
    "leader_reception",
    "leader_field_visit",
    "leader_case_ownership",
)
#: activities that mark a joint conference / joint reception
JOINT_ACTIVITIES: tuple[str, ...] = ("joint_conference",)


def _activity_groups() -> dict[str, tuple[str, ...]]:
    from casekit.schema import EXIT_TYPES

    return {"register": ("register",), "close": ("close",), "pledge": ("cessation_pledge",),
            "terminated": ("terminated",), "competing": tuple(EXIT_TYPES),
            "joint": JOINT_ACTIVITIES, "leader": LEADER_ACTIVITIES}


#: the activity groups whose events the case table locates (:attr:`_Log.hits`)
_ACTIVITY_GROUPS: dict[str, tuple[str, ...]] = _activity_groups()

#: per-case attributes carried over from the events (first non-missing value in the case)
_CARRY = (
    "petitioner_id",
    "matter_id",
    "category",
    "channel",
    "street",
    "address",
    "level",
    "repeat_ordinal",
    "repeat_kind",
)

#: case covariates copied onto the counting-process rows by default
INTERVAL_COVARIATES: tuple[str, ...] = (
    "category", "repeat_ordinal", "matter_id", "petitioner_id", "street", "channel", "year",
)


class DelayedEntryWarning(UserWarning):
    """Some cases were opened before the log starts and their opening time is unknown.

    Their durations are not known (``duration_known`` is False): duration estimates leave them
    out by default, and ``build_case_intervals`` gives them no rows. The counts are in the case
    table's ``attrs`` (``n_prevalent``, ``n_prevalent_excluded``).
    """


def _zone_of(values: pd.Series) -> Any:
    """Return the time zone of a datetime column (None when naive or not a datetime column)."""
    return getattr(values.dtype, "tz", None)


def _local_ns(values: pd.Series, name: str, tz: Any = None) -> np.ndarray:
    """Return a datetime column as int64 ns of local wall time (NaT -> int64 min).

    Zone-aware values are read in ``tz`` (default: their own zone) and made naive, so that
    event times, opening times and the observation end share one wall clock.
    """
    s = as_dates(values, name)
    if _zone_of(s) is not None:
        s = (s.dt.tz_convert(tz) if tz is not None else s).dt.tz_localize(None)
    return np.asarray(s.to_numpy(dtype="datetime64[ns]")).view(np.int64)


def _as_local(ts: pd.Timestamp, tz: Any) -> pd.Timestamp:
    """Put a timestamp on the events' wall clock: aware -> converted to ``tz``, made naive."""
    if ts.tzinfo is None:
        return ts
    return (ts.tz_convert(tz) if tz is not None else ts).tz_localize(None)


def parse_observation_end(value: Any, tz: Any = None, *,
                          option: str = "observation_end") -> pd.Timestamp:
    """One observation end as a naive Timestamp on the wall clock of zone ``tz``.

    Read with the one date parser, :func:`casekit.timestamps.parse_date` (anything that is not
    a date is a one-line :class:`~casekit._utils.CasekitError` naming ``option``); an aware
    value is then converted to ``tz``, a naive one read as wall time there.

    Examples
    --------
    >>> parse_observation_end("2024-12-31")
    Timestamp('2024-12-31 00:00:00')
    >>> parse_observation_end("2024-12-31 02:00+00:00", "Asia/Shanghai")
    Timestamp('2024-12-31 10:00:00')
    >>> parse_observation_end("notadate")
    Traceback (most recent call last):
    ...
    casekit._utils.CasekitError: observation_end: cannot read 'notadate'; expected a date such as 2023-12-31 or 2023-12-31 18:00
    """
    return _as_local(parse_date(value, option=option), tz)


def _resolve_observation_end(
    events: pd.DataFrame, observation_end: Any, tz: Any = "events"
) -> pd.Timestamp:
    """Resolve the observation end as a naive Timestamp on the events' wall clock.

    Order: ``observation_end``, then ``events.attrs["casekit"]["observation_end"]``, then the
    last event time. With zone-aware event timestamps (zone ``tz``, default: the zone of
    ``events["timestamp"]``) a naive observation end is read as wall time in that zone and an
    aware one is converted to it; event times are read the same way (:func:`_local_ns`).

    Examples
    --------
    >>> ev = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01 09:00"]).tz_localize(
    ...     "Asia/Shanghai")})
    >>> _resolve_observation_end(ev, "2024-01-02 08:00")
    Timestamp('2024-01-02 08:00:00')
    >>> _resolve_observation_end(ev, pd.Timestamp("2024-01-02 00:00", tz="UTC"))
    Timestamp('2024-01-02 08:00:00')
    >>> _resolve_observation_end(ev, None)
    Timestamp('2024-01-01 09:00:00')
    """
    if isinstance(tz, str) and tz == "events":
        tz = _zone_of(events["timestamp"]) if "timestamp" in events else None
    if observation_end is not None:
        return parse_observation_end(observation_end, tz)
    meta = events.attrs.get("casekit") if isinstance(events.attrs, dict) else None
    if isinstance(meta, dict) and not pd.isna(meta.get("observation_end")):
        return parse_observation_end(meta["observation_end"], tz)
    if len(events) == 0:
        raise CasekitError("events: the log is empty, so there is no observation end")
    last = _local_ns(events["timestamp"], "timestamp", tz)
    last = last[last != _NAT]
    if len(last) == 0:
        raise CasekitError("events: no valid timestamp, so there is no observation end")
    return pd.Timestamp(int(last.max()))


def _arrow_column(values: pd.Series) -> Any:
    """Return the column's pyarrow ChunkedArray when it is arrow-backed text, else None.

    Zero-copy: the column's own buffers.

    Arrow-backed ``str`` / ``string[pyarrow]`` columns and ``pd.ArrowDtype`` string or
    dictionary columns qualify; object, python-string and other columns give None.

    Examples
    --------
    >>> _arrow_column(pd.Series(["a", "b"], dtype="string[pyarrow]")).to_pylist()
    ['a', 'b']
    >>> _arrow_column(pd.Series(["a"], dtype=object)) is None
    True
    """
    import pyarrow as pa

    dtype = values.dtype
    arrow_str = isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
    if not (arrow_str or isinstance(dtype, pd.ArrowDtype)):
        return None
    arr = pa.array(values)  # arrow-backed: the column's own buffers
    arr = arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
    t = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
    return arr if (pa.types.is_string(t) or pa.types.is_large_string(t)) else None


def _dictionary_codes(arr: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return codes (narrowest int dtype, null -> -1) and labels of a pyarrow ChunkedArray.

    Plain strings are dictionary-encoded (one hash pass; labels in order of first appearance,
    as ``pd.factorize``); a dictionary array's own indices and dictionary are used as they are.
    """
    import pyarrow as pa

    enc = arr if pa.types.is_dictionary(arr.type) else arr.dictionary_encode()
    if enc.num_chunks == 0:
        return np.zeros(0, dtype=np.int64), np.array([], dtype=object)
    last = enc.chunk(enc.num_chunks - 1).dictionary
    if not all(c.dictionary.equals(last) for c in enc.chunks[:-1]):
        enc = enc.unify_dictionaries()
        last = enc.chunk(0).dictionary
    parts = [c.indices.fill_null(-1) if c.indices.null_count else c.indices for c in enc.chunks]
    codes = np.concatenate([np.asarray(c.to_numpy(zero_copy_only=False)) for c in parts])
    return codes.astype(_code_dtype(len(last))), np.asarray(last.to_pylist(), dtype=object)


def _codes(values: pd.Series) -> np.ndarray:
    """Integer codes of a text column (equal values, equal codes), without building its labels
    (a million distinct ids as Python strings cost more than encoding them)."""
    import pyarrow as pa

    arr = _arrow_column(values)
    if arr is None or pa.types.is_dictionary(arr.type):
        return _factorize(values)[0]
    arr = arr.combine_chunks()
    codes = _short_text_codes(arr)
    if codes is not None:
        return codes
    return np.asarray(arr.dictionary_encode().indices.to_numpy(zero_copy_only=False))


def _short_text_codes(arr: Any) -> np.ndarray | None:
    """Codes of short strings (at most 32 bytes, no nulls) by sorting integers, not hashing text.

    Each string's bytes are read as (at most four) little-endian uint64 words, which with its
    length determine it exactly. A 64-bit mix of them is sorted (a SIMD integer sort: far
    cheaper than a hash table of a million distinct strings, whose probes miss the cache) and
    numbered by runs; every run is then checked to hold one string only (the same length and
    words as its first member). None when that check fails (two strings with one mix), the
    strings are longer, or the array has nulls: the caller then hashes the text.

    Examples
    --------
    >>> import pyarrow as pa
    >>> codes = _short_text_codes(pa.array(["ab", "abcdefghij", "ab", "", "abcdefghij"]))
    >>> bool(codes[0] == codes[2]), bool(codes[1] == codes[4]), len(set(codes.tolist()))
    (True, True, 3)
    """
    import sys

    import pyarrow as pa

    n = len(arr)
    large = pa.types.is_large_string(arr.type)
    if not n or arr.null_count or sys.byteorder != "little" or not (
            large or pa.types.is_string(arr.type)):
        return None
    _, off_buf, data_buf = arr.buffers()
    off = np.frombuffer(off_buf, dtype=np.int64 if large else np.int32)
    off = off[arr.offset:arr.offset + n + 1].astype(np.int64)
    lens = np.diff(off)
    n_words = -(-int(lens.max()) // 8)
    if n_words > 4:
        return None
    size = int(off[-1] - off[0])
    padded = np.zeros(size + 8 * n_words + 8, dtype=np.uint8)  # room for the last reads
    if size:
        padded[:size] = np.frombuffer(data_buf, dtype=np.uint8)[off[0]:off[-1]]
    # every string's w-th 8 bytes as one (unaligned) uint64, bytes past its end masked off
    at = np.ndarray(shape=(len(padded) - 7,), dtype=np.uint64, buffer=padded, strides=(1,))
    keep = np.array([(1 << (8 * b)) - 1 for b in range(9)], dtype=np.uint64)  # b bytes
    first = off[:-1] - off[0]
    words, mix = [], lens.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for w in range(n_words):
        word = at[first + 8 * w]
        if lens.min() < 8 * w + 8:
            word &= keep[np.clip(lens - 8 * w, 0, 8)]
        words.append(word)
        mix = (mix ^ word) * np.uint64(0xBF58476D1CE4E5B9)
        mix ^= mix >> np.uint64(31)
    order = np.argsort(mix)
    sorted_mix = mix[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(sorted_mix[1:], sorted_mix[:-1], out=new[1:])
    # one string per run: each member equals the one before it in the run
    for values in (lens, *words):
        v = values[order]
        if not np.all((v[1:] == v[:-1]) | new[1:]):
            return None
    run = np.cumsum(new, dtype=np.int64) - 1
    codes = np.empty(n, dtype=_code_dtype(int(run[-1]) + 1))
    codes[order] = run
    return codes


def _code_dtype(n_labels: int) -> type:
    """Return the narrowest signed integer dtype for codes -1..n_labels-1 (less traffic)."""
    return np.int8 if n_labels < 2**7 else np.int16 if n_labels < 2**15 else np.int32 \
        if n_labels < 2**31 else np.int64


def _case_codes(case_id: pd.Series) -> tuple[np.ndarray, pd.Series, np.ndarray | None]:
    """Integer case codes in order of appearance, the case ids (str) and the cases' first rows.

    Fast path for the contract's logs, whose cases are contiguous: runs of equal ids found by
    one pyarrow comparison of neighbours, accepted when the runs' ids are distinct (checked on
    one id per case: strictly increasing, as in a sorted log, or else by one hash pass), so the
    events are not hashed; the runs' first rows come back too. Otherwise ``pd.factorize``
    (first rows None).

    Examples
    --------
    >>> codes, labels, starts = _case_codes(pd.Series(["b", "b", "a"], dtype="string[pyarrow]"))
    >>> codes.tolist(), labels.tolist(), starts.tolist()
    ([0, 0, 1], ['b', 'a'], [0, 2])
    >>> _case_codes(pd.Series(["b", "a", "b"], dtype="string[pyarrow]"))[0].tolist()
    [0, 1, 0]
    """
    runs = _case_runs(case_id)
    if runs is not None:
        starts, labels = runs
        codes = np.repeat(np.arange(len(starts), dtype=np.int32 if len(starts) < 2**31 else np.int64),
                          np.diff(np.r_[starts, len(case_id)]))
        return codes, pd.Series(pd.array(labels, dtype="str")), starts
    codes, uniques = pd.factorize(case_id.astype("str"), sort=False)
    return codes, pd.Series(np.asarray(uniques, dtype=object), dtype="str"), None


def _case_runs(case_id: pd.Series) -> tuple[np.ndarray, Any] | None:
    """Return the starts and ids (pyarrow) of the case runs when every case is one run, else None.

    A case is one run when its events are contiguous; only arrow-backed text without missing
    ids is looked at. One pyarrow comparison of neighbours; the runs' ids are checked distinct on one id per case
    (strictly increasing, as in a sorted log, or else by one hash pass), so the events are never
    hashed.

    Examples
    --------
    >>> starts, ids = _case_runs(pd.Series(["b", "b", "a"], dtype="string[pyarrow]"))
    >>> starts.tolist(), ids.to_pylist()
    ([0, 2], ['b', 'a'])
    >>> _case_runs(pd.Series(["b", "a", "b"], dtype="string[pyarrow]")) is None
    True
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = _arrow_column(case_id)
    if arr is None or arr.null_count or len(arr) < 2 or pa.types.is_dictionary(arr.type):
        return None
    new = np.empty(len(arr), dtype=bool)
    new[0] = True
    new[1:] = pc.not_equal(arr[1:], arr[:-1]).to_numpy()
    starts = np.flatnonzero(new)
    labels = take_chunked(arr, starts)
    m = len(labels)
    if m == 1 or not pc.any(pc.less_equal(labels[1:], labels[:-1])).as_py() \
            or len(_dictionary_codes(labels)[1]) == m:
        return starts, labels
    return None


def _factorize(values: pd.Series, all_labels: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Codes (missing -> -1) and labels of a label column, hashing rows only when needed.

    Categorical codes and arrow dictionaries are used as they are (labels in category order,
    categories that never occur dropped unless ``all_labels``, which saves a pass over the
    codes); arrow strings are dictionary-encoded by pyarrow and other columns factorised by
    pandas (labels in order of first appearance).

    Examples
    --------
    >>> codes, labels = _factorize(pd.Series(["x", None, "y", "x"], dtype="string[pyarrow]"))
    >>> codes.tolist(), labels.tolist()
    ([0, -1, 1, 0], ['x', 'y'])
    >>> s = pd.Series(["y", "x", "y"], dtype=pd.CategoricalDtype(["w", "x", "y"]))
    >>> codes, labels = _factorize(s)
    >>> codes.tolist(), labels.tolist()
    ([1, 0, 1], ['x', 'y'])
    """
    import pyarrow as pa

    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()  # already the narrowest dtype
        labels = np.asarray(values.cat.categories, dtype=object)
        return (codes, labels) if all_labels else _drop_unused(codes, labels)
    arr = _arrow_column(values)
    if arr is not None:
        codes, labels = _dictionary_codes(arr)
        return _drop_unused(codes, labels) if pa.types.is_dictionary(arr.type) \
            and not all_labels else (codes, labels)
    codes, uniques = pd.factorize(values, sort=False)
    return codes, np.asarray(uniques, dtype=object)


def _drop_unused(codes: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the labels no code points at, keeping the others' order (one pass, no scatter)."""
    seen = np.zeros(len(labels) + 1, dtype=bool)
    seen[_used_codes(codes)] = True  # code -1 marks the extra last entry
    used = seen[:-1]
    if used.all():
        return codes, labels
    remap = np.r_[np.cumsum(used) - 1, -1].astype(codes.dtype)  # code -1 stays -1
    return remap[codes], labels[used]


def _used_codes(codes: np.ndarray) -> np.ndarray:
    """Return the distinct values of integer codes, in no particular order.

    One arrow hash pass over narrow codes, cheaper than a numpy scatter or ``bincount`` over
    millions of rows.
    """
    if codes.dtype.itemsize > 2 or len(codes) < 1 << 16:
        return codes
    import pyarrow as pa
    import pyarrow.compute as pc

    return np.asarray(pc.unique(pa.array(codes)).to_numpy())


def _lookup(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``table[codes]`` (numpy indexing: code -1 is the last entry) without widening the codes.

    Narrow codes (int8 / int16, as categorical codes are) index a table padded to all 2**8 /
    2**16 unsigned values by one arrow ``take``, about 2.5x faster than numpy's fancy
    indexing, which first copies the codes to intp. The result is read-only.

    Examples
    --------
    >>> _lookup(np.array([10, 20, 30]), np.array([2, -1, 0], dtype=np.int8)).tolist()
    [30, 30, 10]
    """
    if codes.dtype not in (np.int8, np.int16) or len(codes) < 1 << 16 or table.dtype == bool:
        return table[codes]
    import pyarrow as pa

    size = 1 << (8 * codes.itemsize)
    m = min(len(table), size // 2)  # codes 0..m-1 and -m..-1 (unsigned: size-m..size-1)
    full = np.zeros(size, dtype=table.dtype)
    full[:m] = table[:m]
    full[size - m:] = table[len(table) - m:]
    unsigned = codes.view(np.uint8 if codes.itemsize == 1 else np.uint16)
    return np.asarray(pa.array(full).take(pa.array(unsigned)).to_numpy())


def _identifier_codes(values: pd.Series, vocabulary: str,
                      all_labels: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Codes into identifier labels (Chinese / alias / English mapped) without per-row strings.

    ``all_labels``: as for :func:`_factorize`.
    """
    codes, uniques = _factorize(values, all_labels)
    mapped = _to_identifiers(pd.Series(np.asarray(uniques, dtype=object)), vocabulary)
    ident_codes, ident_uniques = pd.factorize(mapped, sort=False)
    dtype = _code_dtype(len(ident_uniques))
    if len(ident_uniques) == len(uniques) and np.array_equal(ident_codes, np.arange(len(uniques))):
        return codes.astype(dtype, copy=False), np.asarray(ident_uniques, dtype=object)
    remap = np.r_[ident_codes, -1].astype(dtype)
    return _lookup(remap, codes), np.asarray(ident_uniques, dtype=object)


def _to_identifiers(values: pd.Series, vocabulary: str) -> pd.Series:
    """Map labels (Chinese / alias / English) to identifiers, looking up the unique values only."""
    from casekit.schema import to_identifier

    codes, uniques = pd.factorize(values, sort=False)
    mapped = []
    for u in uniques:
        try:
            mapped.append(to_identifier(u, vocabulary, default=str(u)))
        except Exception:  # noqa: BLE001 - an odd label stays as it is
            mapped.append(str(u))
    lookup = np.asarray([*mapped, None], dtype=object)
    return pd.Series(lookup[codes], index=values.index, dtype="str")


def _set_bits(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decode int64 bit masks: the number of set bits of each and their positions, ascending.

    Peels the lowest set bit off every mask at once, so the loop runs once per member of the
    largest set (not per mask); ``frexp`` gives a power of two's exponent exactly.
    """
    m = masks.copy()
    counts = np.zeros(len(m), dtype=np.int64)
    peeled = []  # (masks that still had a bit, that bit's position), lowest bits first
    idx = np.flatnonzero(m)
    while idx.size:
        v = m[idx]
        low = v & -v
        peeled.append((idx, np.frexp(low.astype(np.float64))[1].astype(np.int64) - 1))
        m[idx] = v ^ low
        counts[idx] += 1
        idx = idx[m[idx] != 0]
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    positions = np.empty(offsets[-1], dtype=np.int64)
    for j, (idx, pos) in enumerate(peeled):
        positions[offsets[idx] + j] = pos
    return counts, positions


def _alpha_rank(item_names: Sequence[Any]) -> tuple[np.ndarray, Any]:
    """Each item's rank in alphabetical order of the names, and the sorted names (arrow)."""
    import pyarrow as pa

    names = np.asarray([str(n) for n in item_names], dtype=object)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    return rank, pa.array(list(names[order]), type=pa.large_string())


def _bits(rank: np.ndarray) -> np.ndarray:
    """Item code -> its int64 bit (alphabetical rank); the extra last entry (code -1) is 0."""
    return np.r_[np.left_shift(np.int64(1), rank), np.int64(0)]


def _mask_labels(masks: np.ndarray, sorted_names: Any) -> tuple[pd.Series, np.ndarray]:
    """Bit masks (bit r = the r-th name in alphabetical order) as ``+``-joined names and counts.

    The distinct masks (a lookup table when there are few names, else ``pd.factorize``) are
    decoded once, joined by pyarrow and spread back by one arrow ``take``.
    """
    k = len(sorted_names)
    if k <= 20:  # masks < 2**20: distinct masks by a lookup table (8 MB at most), no hashing
        seen = np.zeros(1 << k, dtype=bool)
        seen[masks] = True
        uniq = np.flatnonzero(seen).astype(np.int64)
        lookup = np.zeros(1 << k, dtype=np.int64)
        lookup[uniq] = np.arange(len(uniq))
        inverse = lookup[masks]
    else:
        inverse, uniq = pd.factorize(masks, sort=False)
        uniq = np.asarray(uniq, dtype=np.int64)
    counts, cols = _set_bits(uniq)
    return _join_lists(counts, cols, sorted_names, inverse)


def _join_lists(counts: np.ndarray, cols: np.ndarray, sorted_names: Any,
                inverse: np.ndarray | None) -> tuple[pd.Series, np.ndarray]:
    """Join lists of names by ``+`` and return them with the lists' lengths.

    ``counts`` names per list at name positions ``cols``, spread back by ``inverse`` (None: one
    list per row, as they are).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), sorted_names.take(pa.array(cols)))
    joined = pc.binary_join(lists, pa.scalar("+", type=sorted_names.type))
    if inverse is None:
        return pd.Series(pd.array(joined, dtype="str")), counts.astype(np.int64)
    return (pd.Series(pd.array(joined.take(pa.array(inverse)), dtype="str")),
            counts[inverse].astype(np.int64))


def _set_labels(
    case_codes: np.ndarray,
    starts: np.ndarray,
    item_codes: np.ndarray,
    item_names: Sequence[str],
    n_cases: int,
    drop: np.ndarray | None = None,
) -> tuple[pd.Series, np.ndarray]:
    """Per case: sorted distinct item names joined by ``+`` and their number (vectorised).

    ``case_codes`` are contiguous per case (segments start at ``starts``); ``item_codes`` index
    ``item_names`` (-1 = missing, ignored), and the rows where ``drop`` holds are ignored too.
    With at most 63 distinct items each case's set is an int64 bit mask (bits in alphabetical
    order of the names) built by one ``bitwise_or.reduceat`` and decoded by
    :func:`_mask_labels`. With more items, the distinct (case, item) pairs are sorted instead
    and joined once per distinct set (:func:`_join_sets`). No Python loop runs per case or per
    pattern.

    Examples
    --------
    >>> labels, counts = _set_labels(np.array([0, 0, 0, 1]), np.array([0, 3]),
    ...                              np.array([1, 0, 1, -1]), ["b", "a"], 2)
    >>> labels.tolist(), counts.tolist()
    (['a+b', ''], [2, 0])
    """
    rank, sorted_names = _alpha_rank(item_names)
    k = len(rank)
    if k <= 63:
        bits = _bits(rank).astype(np.int8 if k <= 7 else np.int16 if k <= 15 else np.int32
                                  if k <= 31 else np.int64)  # narrow: less memory traffic
        ev_bits = _lookup(bits, item_codes)
        if drop is not None:
            ev_bits = np.where(drop, bits.dtype.type(0), ev_bits)
        masks = (np.bitwise_or.reduceat(ev_bits, starts).astype(np.int64)
                 if len(starts) else np.zeros(0, dtype=np.int64))
        return _mask_labels(masks, sorted_names)
    dt = np.int32 if n_cases * (k + 1) < 2**31 else np.int64  # narrow keys sort faster
    r = _lookup(np.r_[rank + 1, 0].astype(dt), item_codes)  # 1 + alphabetical rank, 0 missing
    key = case_codes.astype(dt, copy=False) * dt(k + 1)  # one key per (case, item)
    key += r
    # skip the ignored rows and the repeats of the previous row's item in a case (cheap)
    skip = np.zeros(len(r), dtype=bool)
    skip[1:] = key[1:] == key[:-1]
    if drop is not None:
        skip[1:] &= ~drop[:-1]  # an ignored row stands for nothing
        skip |= drop
    key = distinct(key[np.flatnonzero((r != 0) & ~skip)])
    rows = key // dt(k + 1)
    counts = np.bincount(rows, minlength=n_cases)
    return _join_sets(counts, (key - rows * dt(k + 1) - 1).astype(np.int64), sorted_names)


def _join_sets(counts: np.ndarray, cols: np.ndarray, sorted_names: Any
               ) -> tuple[pd.Series, np.ndarray]:
    """:func:`_join_lists` of one list per case, joining each distinct list only once.

    Cases share few distinct sets: each list of at most ``63 // b`` names (``b`` bits per name
    position) is packed exactly into one int64 and the packed keys factorised; longer lists
    keep a key of their own. The representatives' lists are joined and spread back by one take.

    Examples
    --------
    >>> import pyarrow as pa
    >>> names = pa.array(["a", "b", "c"])
    >>> s, n = _join_sets(np.array([2, 0, 2, 1]), np.array([0, 2, 0, 2, 1]), names)
    >>> s.tolist(), n.tolist()
    (['a+c', '', 'a+c', 'b'], [2, 0, 2, 1])
    """
    n = len(counts)
    b = max(len(sorted_names).bit_length(), 1)  # positions 1..k; 0: no name
    slots = 63 // b
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    within = np.arange(len(cols)) - np.repeat(offsets[:-1], counts)  # position in its list
    packed = np.zeros(n, dtype=np.int64)
    nonempty = np.flatnonzero(counts)
    if len(nonempty):
        shifted = (cols + 1) << (b * np.minimum(within, slots - 1))  # beyond slots: long
        packed[nonempty] = np.bitwise_or.reduceat(shifted, offsets[nonempty])
    long = np.flatnonzero(counts > slots)
    packed[long] = -1 - long  # a key of its own
    inverse, _ = pd.factorize(packed, sort=False)
    if n:  # representatives: each key's first case (factorize codes in order of appearance)
        first = np.empty(n, dtype=bool)
        first[0] = True
        first[1:] = inverse[1:] > np.maximum.accumulate(inverse)[:-1]
        rep = np.flatnonzero(first)
    else:
        rep = np.zeros(0, dtype=np.int64)
    lens = counts[rep]
    within = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
    rep_cols = cols[np.repeat(offsets[rep], lens) + within]
    joined, _ = _join_lists(lens, rep_cols, sorted_names, inverse)
    return joined, counts.astype(np.int64)


def _segment_cumor(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Return the running bitwise OR within contiguous segments (inclusive), by position.

    The loop runs once per position of the longest segment, each step over the segments that
    are that long (segments sorted by length), so the work is one pass over ``values``.

    Examples
    --------
    >>> _segment_cumor(np.array([1, 2, 4, 8, 1]), np.array([0, 3]), np.array([3, 2])).tolist()
    [1, 3, 7, 8, 9]
    """
    out = values.copy()
    if len(lengths) == 0:
        return out
    order = np.argsort(-lengths, kind="stable")
    s, neg = starts[order], -lengths[order]  # neg ascending
    for p in range(1, int(-neg[0])):
        idx = s[:np.searchsorted(neg, -p, side="left")] + p  # segments longer than p
        out[idx] |= out[idx - 1]
    return out


def _first_valid(values: pd.Series, starts: np.ndarray, n_rows: int) -> pd.Series:
    """First non-missing value of each case segment (missing where the whole segment is).

    Categorical text comes back as ``str`` (the case table's text columns are strings whatever
    the events' encoding), found on the codes.

    Examples
    --------
    >>> v = pd.Series([None, "x", "y", None], dtype="category")
    >>> _first_valid(v, np.array([0, 3]), 4).tolist()
    ['x', nan]
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        k = len(values.cat.categories)
        if not n_rows or codes.min() >= 0:
            first_code = codes[starts]
        else:
            pos = np.where(codes >= 0, np.arange(n_rows, dtype=np.int64), _BIG)
            first = np.minimum.reduceat(pos, starts)
            first_code = np.where(first != _BIG, codes[np.minimum(first, n_rows - 1)], k)
        return _take_labels([*map(str, values.cat.categories), None],
                            first_code.astype(np.int64))
    arr = _arrow_column(values)
    if arr is not None and arr.null_count == 0:  # arrow take: no pandas index checks
        return pd.Series(pd.array(take_chunked(arr, starts), dtype=values.dtype))
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iub":  # never missing
        return pd.Series(values.to_numpy()[starts], name=values.name)
    notna = values.notna().to_numpy()
    if notna.all():
        return values.iloc[starts].reset_index(drop=True)
    pos = np.where(notna, np.arange(n_rows, dtype=np.int64), _BIG)
    first = np.minimum.reduceat(pos, starts) if n_rows else np.array([], dtype=np.int64)
    has = first != _BIG
    rows = np.where(has, first, 0)
    taken = (pd.Series(pd.array(take_chunked(arr, rows), dtype=values.dtype)) if arr is not None
             else values.iloc[rows].reset_index(drop=True))
    if not has.all():
        taken = taken.where(pd.Series(has))
    return taken


def _first_where(
    ts: np.ndarray, mask: np.ndarray, codes: np.ndarray, n_cases: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per case: the time and the row of its first event where ``mask`` holds.

    ``codes`` are contiguous per case and times non-decreasing within a case (the sorted log),
    so the first masked row of a case is its earliest (ties: source order). Cases without one
    get time ``_BIG`` and row -1. See :func:`_first_at` (the rows given as positions).
    """
    return _first_at(ts, np.flatnonzero(mask), codes, n_cases)


def _first_at(
    ts: np.ndarray, pos: np.ndarray, codes: np.ndarray, n_cases: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_first_where` of the event rows ``pos`` (ascending): works on those rows only."""
    first_ts = np.full(n_cases, _BIG, dtype=np.int64)
    first_row = np.full(n_cases, -1, dtype=np.int64)
    if len(pos):
        c = codes[pos]
        new = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])  # integer takes, not bool masks
        seg, case = pos[new], c[new]
        first_ts[case] = ts[seg]
        first_row[case] = seg
    return first_ts, first_row


def _any_at(pos: np.ndarray, codes: np.ndarray, n_cases: int) -> np.ndarray:
    """Per case: whether one of the event rows ``pos`` is in it."""
    out = np.zeros(n_cases, dtype=bool)
    out[codes[pos]] = True
    return out


class _Log:
    """The log sorted by (case, time), with codes computed once on first use.

    Shared by the case table and the counting-process rows.
    """

    def __init__(self, ev: pd.DataFrame, ts: np.ndarray, codes: np.ndarray,
                 case_labels: pd.Series, obs_end: pd.Timestamp, tz: Any, n_after: int,
                 starts: np.ndarray | None = None) -> None:
        self.ev = ev  # the kept events (on or before the observation end), sorted
        self.ts = ts  # int64 ns, local wall time
        self.codes = codes  # case code per event, contiguous per case
        self.starts = (np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if starts is None
                       else starts)  # each case's first row
        self.case_labels = case_labels
        self.obs_end = obs_end
        self.obs_ns = int(obs_end.as_unit("ns").value)
        self.tz = tz
        self.n_after = n_after

    @property
    def n_cases(self) -> int:
        return len(self.case_labels)

    @cached_property
    def _activities(self) -> tuple[np.ndarray, np.ndarray]:
        # narrow codes; unused categories are harmless here (no label is read off them)
        return _identifier_codes(self.ev["activity"], "activity", all_labels=True)

    @cached_property
    def agencies(self) -> tuple[np.ndarray, np.ndarray]:
        """Agency codes per event (-1: missing) and the agency names.

        Categories that never occur may be among the names: sets, first agencies and
        exposures only read the names of codes that occur.
        """
        return _factorize(self.ev["agency"], all_labels=True)

    @cached_property
    def agency_types(self) -> tuple[np.ndarray, np.ndarray]:
        """Agency-type codes per event (a missing type is ``unknown``) and the type names."""
        if "agency_type" in self.ev:
            codes, uniques = _identifier_codes(self.ev["agency_type"], "agency_type")
        else:
            codes = np.full(len(self.ev), -1, dtype=np.int64)
            uniques = np.array([], dtype=object)
        if (codes < 0).any():
            if "unknown" not in set(uniques):
                uniques = np.r_[uniques, np.array(["unknown"], dtype=object)]
            codes = np.where(codes < 0, int(np.flatnonzero(uniques == "unknown")[0]),
                             codes.astype(_code_dtype(len(uniques))))
        return codes, uniques

    @cached_property
    def hits(self) -> dict[str, np.ndarray]:
        """Event rows (ascending) of each activity group of :data:`_ACTIVITY_GROUPS`.

        One gather over the log for all groups: each activity's groups are bits of a lookup
        table (its class), and only the events with some bit are split, by one stable radix
        sort of their classes (a group is one class's run, or a few merged).
        """
        act_codes, act_uniques = self._activities
        bits = np.zeros(len(act_uniques) + 1, dtype=np.uint8)  # last entry: code -1, none
        for j, names in enumerate(_ACTIVITY_GROUPS.values()):  # at most 8 groups: one byte
            bits[:-1] |= np.isin(act_uniques, list(names)).astype(np.uint8) << j
        cls = _lookup(bits, act_codes)
        pos = np.flatnonzero(cls != 0)  # a bool mask: nonzero is faster on it than on bytes
        sub = cls[pos]
        order = np.argsort(sub, kind="stable")  # rows of one class together, still ascending
        sub = sub[order]
        runs = {int(v): pos[order[np.searchsorted(sub, v):np.searchsorted(sub, v, "right")]]
                for v in distinct(bits[bits != 0])}  # a few distinct classes
        out = {}
        for j, g in enumerate(_ACTIVITY_GROUPS):
            parts = [rows for v, rows in runs.items() if v >> j & 1]
            out[g] = (parts[0] if len(parts) == 1 else np.sort(np.concatenate(parts))
                      if parts else np.zeros(0, dtype=np.int64))
        return out

    def amask(self, names: Sequence[str]) -> np.ndarray:
        """Events whose activity is one of ``names`` (code -1, a missing activity: never)."""
        act_codes, act_uniques = self._activities
        hit = np.r_[np.isin(act_uniques, list(names)), False]
        return hit[act_codes]

    def activity_of(self, rows: np.ndarray, mapping: dict[str, int]) -> np.ndarray:
        """Map the activities of the event rows ``rows`` through ``mapping`` (-1 if absent)."""
        act_codes, act_uniques = self._activities
        values = np.asarray([mapping.get(str(a), -1) for a in act_uniques] + [-1],
                            dtype=np.int64)
        return values[act_codes[rows]]

    def items(self, pattern_on: str) -> tuple[np.ndarray, np.ndarray]:
        """Item codes per event and item names of a pattern (agency types or agencies)."""
        return self.agency_types if pattern_on == "agency_type" else self.agencies

    def resolve_pattern_on(self, pattern_on: str) -> str:
        if pattern_on == "auto":
            types = self.agency_types[1]
            return "agency" if set(map(str, types)) <= {"unknown"} else "agency_type"
        if pattern_on not in ("agency_type", "agency"):
            raise CasekitError(
                f"pattern_on: expected 'auto', 'agency_type' or 'agency', got {pattern_on!r}"
            )
        return pattern_on


def _prepare(events: pd.DataFrame, observation_end: Any) -> _Log:
    """Check, clip to the observation end, sort and encode the events (see :class:`_Log`)."""
    missing = [c for c in ("case_id", "timestamp", "activity", "agency") if c not in events]
    if missing:
        raise CasekitError(
            f"events: missing column {missing[0]!r} (found: {', '.join(map(str, events.columns))})"
        )
    tz = _zone_of(events["timestamp"])
    obs_end = _resolve_observation_end(events, observation_end, tz)
    obs_ns = int(obs_end.as_unit("ns").value)
    ts_all = _local_ns(events["timestamp"], "timestamp", tz)
    # the usual whole log (no NaT, nothing later): two reductions, no masks, no copy
    everything = len(ts_all) > 0 and ts_all.min() > _NAT and ts_all.max() <= obs_ns
    if everything:
        ev, ts, n_after = events, ts_all, 0
    else:
        nat = ts_all == _NAT
        keep = ~nat & (ts_all <= obs_ns)
        n_after = int((~nat & (ts_all > obs_ns)).sum())
        ev, ts = events.loc[keep], ts_all[keep]
    if len(ev) == 0:
        raise CasekitError(f"events: no event on or before the observation end {obs_end}")

    codes, case_labels, starts = _case_codes(ev["case_id"])
    if not _is_sorted(codes, ts, starts):
        order = np.lexsort((ts, codes))  # stable: ties keep source order
        ev = ev.iloc[order]
        ts = ts[order]
        codes = codes[order]
        starts = None
    return _Log(ev, ts, codes, case_labels, obs_end, tz, n_after, starts)


def _is_sorted(codes: np.ndarray, ts: np.ndarray, starts: np.ndarray | None = None) -> bool:
    """Tell whether the log is in the contract's order: cases contiguous, times sorted in each.

    Codes non-decreasing, and the (few) decreases of time are all changes of case. With
    ``starts``, the first rows of the cases' runs (codes ascending by construction), only the
    times within each run are looked at.

    Examples
    --------
    >>> _is_sorted(np.array([0, 0, 1]), np.array([5, 6, 1]))
    True
    >>> _is_sorted(np.array([0, 0, 1]), np.array([5, 4, 6]))
    False
    >>> _is_sorted(np.array([0, 0, 1]), np.array([5, 6, 1]), starts=np.array([0, 2]))
    True
    """
    if len(codes) < 2:
        return True
    if starts is not None:
        down = ts[1:] < ts[:-1]
        down[starts[1:] - 1] = False  # a new case may start earlier
        return not down.any()
    down = np.flatnonzero(ts[1:] < ts[:-1])
    if len(down) and np.any(codes[down + 1] == codes[down]):
        return False
    return bool(np.all(codes[1:] >= codes[:-1]))


@dataclass
class _Timing:
    """Per case (int64 ns on the events' wall clock, ``_BIG`` = never): the follow-up."""

    opened: np.ndarray
    entry: np.ndarray  # delayed-entry time (= opened unless the case is prevalent)
    close: np.ndarray  # first close (a fact, whether or not it ends the follow-up)
    exit: np.ndarray  # end of follow-up: first of close, competing exit, observation end
    exit_type: pd.Series  # "close", a competing exit type or "censored"
    closed: np.ndarray  # bool: the follow-up ended in a close
    competing: np.ndarray  # bool: the follow-up ended in a competing exit
    prevalent: np.ndarray  # bool
    duration_known: np.ndarray  # bool
    pledge: np.ndarray
    terminated: np.ndarray


def _timing(log: _Log) -> _Timing:
    """Find the opening, entry and exit of every case (rules: ``build_case_table`` Notes)."""
    from casekit.schema import EXIT_TYPES

    n, ts, codes, hits = log.n_cases, log.ts, log.codes, log.hits
    first_ts = ts[log.starts]
    reg_ts, _ = _first_at(ts, hits["register"], codes, n)
    close_ts, _ = _first_at(ts, hits["close"], codes, n)
    pledge_ts, _ = _first_at(ts, hits["pledge"], codes, n)
    term_ts, _ = _first_at(ts, hits["terminated"], codes, n)
    comp_ts, comp_row = _first_at(ts, hits["competing"], codes, n)
    exit_labels = ["close", "censored", *dict.fromkeys(EXIT_TYPES.values())]
    exit_code_of = {a: exit_labels.index(t) for a, t in EXIT_TYPES.items()}
    comp_code = np.zeros(n, dtype=np.int64)  # only the cases with a competing exit
    has_comp = np.flatnonzero(comp_row >= 0)
    comp_code[has_comp] = log.activity_of(comp_row[has_comp], exit_code_of)

    opened = np.where(reg_ts != _BIG, reg_ts, first_ts)
    # an exit before the registration: the case was open from its first event
    opened = np.where(np.minimum(close_ts, comp_ts) < opened, first_ts, opened)
    has_reg = reg_ts != _BIG
    prevalent = ~has_reg if has_reg.mean() > 0.5 else np.zeros(n, dtype=bool)
    known = np.ones(n, dtype=bool)
    if "opened_at" in log.ev:
        col = _local_ns(log.ev["opened_at"].reset_index(drop=True), "opened_at", log.tz)
        col = _first_valid(pd.Series(col.astype("datetime64[ns]")), log.starts, len(log.ev))
        col = col.to_numpy(dtype="datetime64[ns]").view(np.int64)
        col_known = col != _NAT
        prevalent |= col_known & (col < ts.min())
        opened = np.where(prevalent & col_known, np.minimum(col, first_ts), opened)
        known = ~prevalent | col_known
    else:
        known = ~prevalent
    # left truncation at the log's start: the case is known to be open then (entering at its
    # own first logged event would drop the cases whose first logged event is their exit)
    entry = np.where(prevalent & known, np.maximum(opened, ts.min()), opened)

    closed = (close_ts != _BIG) & (close_ts <= comp_ts)  # a tie goes to the close
    competing = (comp_ts != _BIG) & ~closed
    exit_ts = np.where(closed, close_ts, np.where(competing, comp_ts, log.obs_ns))
    exit_code = np.where(closed, 0, np.where(competing, comp_code, 1))
    return _Timing(opened=opened, entry=entry, close=close_ts, exit=exit_ts,
                   exit_type=_take_labels(exit_labels, exit_code), closed=closed,
                   competing=competing,
                   prevalent=prevalent, duration_known=known, pledge=pledge_ts,
                   terminated=term_ts)


def _timing_from_table(table: pd.DataFrame, pledge: np.ndarray) -> _Timing:
    """The follow-up of cases already in a case table (e.g. gathered from partitions), with
    their first cessation pledges (int64 ns, ``_BIG`` = none): what settlement needs."""

    def ns(col: str) -> np.ndarray:
        v = table[col].to_numpy(dtype="datetime64[ns]").view(np.int64)
        return np.where(v == _NAT, _BIG, v)

    opened = ns("opened_at")
    exit_type = table["exit_type"].astype("str").reset_index(drop=True)
    return _Timing(
        opened=opened, entry=opened + np.round(table["entry_days"].to_numpy(float)
                                               * _NS_PER_DAY).astype(np.int64),
        close=ns("closed_at"), exit=ns("exit_at"), exit_type=exit_type,
        closed=table["closed"].to_numpy(bool),
        competing=~exit_type.isin(["close", "censored"]).to_numpy(),
        prevalent=table["prevalent"].to_numpy(bool),
        duration_known=table["duration_known"].to_numpy(bool),
        pledge=np.asarray(pledge, dtype=np.int64),
        terminated=ns("terminated_at") if "terminated_at" in table else np.full(len(table), _BIG),
    )


def _datetimes(ns: np.ndarray) -> pd.Series:
    """int64 ns (``_BIG`` = never) as a datetime64[ns] Series with NaT."""
    return pd.Series(np.where(ns == _BIG, _NAT, ns).view("datetime64[ns]"))


def build_case_table(
    events: pd.DataFrame,
    *,
    observation_end: Any = None,
    settle_window_days: float = 180,
    link: bool = True,
    repeat_keys: Sequence[str] = ("petitioner_id", "category", "address"),
    repeat_window_days: float = 365,
    pattern_on: Literal["agency_type", "agency", "auto"] = "auto",
) -> pd.DataFrame:
    """Build the case table: one row per case, censored at an explicit observation end.

    Parameters
    ----------
    events : DataFrame
        Canonical events (``case_id, timestamp, activity, agency`` and usually ``agency_type``;
        optional ``petitioner_id, matter_id, category, channel, street, address, ...``, and
        ``opened_at``, the case's registration time, for extracts that start mid-stream).
        Activity and agency-type labels may be identifiers or Chinese labels (mapped here).
    observation_end : date-like, optional
        End of observation. Default: ``events.attrs["casekit"]["observation_end"]`` when the
        reader recorded one, else the last timestamp in the log. Never today's date. Events
        after it are ignored (the table is "as of" ``observation_end``). With zone-aware event
        timestamps a naive value is wall time in the events' zone.
    settle_window_days : float, default 180
        A closed case counts as settled when no filing of the same matter is opened within this
        many days after its closure (or at a ``cessation_pledge``).
    link : bool, default True
        Derive ``matter_id`` / ``repeat_ordinal`` / ``repeat_kind`` with
        :func:`casekit.repeat.link_repeats` when the events do not carry them.
    repeat_keys : sequence of str
        Case columns that identify "same petitioner + same matter" for linking (those missing
        from the log are skipped).
    repeat_window_days : float, default 365
        Passed to ``link_repeats`` as ``window_days``.
    pattern_on : {"auto", "agency_type", "agency"}
        What the pattern is built from. ``"auto"`` uses agency types unless every type is
        ``unknown``, in which case it uses the agencies themselves.

    Returns
    -------
    DataFrame
        One row per case: ``case_id, opened_at, closed_at, settled_at, observation_end,
        duration_days, closed, settled, settle_days, settle_observed, agencies, n_agencies,
        pattern, first_agency, first_agency_type, n_handovers, joint_conference,
        leader_involved, year, repeat_ordinal, repeat_kind, matter_id, petitioner_id,
        category, street, channel, exit_at, exit_type, prevalent, entry_days,
        duration_known`` (and ``address, level, terminated_at`` when present).
        ``attrs`` holds ``observation_end`` and the counts ``n_prevalent``,
        ``n_prevalent_excluded``, ``n_competing_exits``.

    Raises
    ------
    CasekitError
        When a required column is missing or the log is empty.

    Warns
    -----
    DelayedEntryWarning
        Once, with the counts, when prevalent cases have no known opening time.

    See Also
    --------
    build_case_intervals, casekit.survival.fit_time_to_close,
    casekit.ranking.rank_collaborations

    Notes
    -----
    *Opening*: ``opened_at`` is the first ``register``, else the first event (also when an
    exit comes before the registration).

    *Exit*: the follow-up ends at the first of the first ``close``, the first competing exit
    (:data:`casekit.schema.EXIT_TYPES`: ``decline_intake``, ``route_to_legal_procedure``,
    ``terminated``, ``withdraw``, ``transfer_out``) and ``observation_end``: ``exit_at``,
    ``exit_type`` (``"close"``, the competing exit type, or ``"censored"``; a close and a
    competing exit at the same instant count as a close). ``duration_days`` runs from
    ``opened_at`` to ``exit_at`` and ``closed`` is True only for a close, so a competing exit
    is censored for closing (the cause-specific hazard). ``closed_at`` is still the first
    close in the log, even when a competing exit came first.

    *Pattern*: ``pattern``, ``agencies`` and their counts hold only the agencies whose first
    action is at or before ``exit_at`` (a review or follow-up after the close does not enter).

    *Delayed entry*: a case is ``prevalent`` (open before the log starts) when its
    ``opened_at`` column value is before the log's first timestamp, or when it has no
    ``register`` event while more than half of the cases have one. A prevalent case with a
    known opening time (an ``opened_at`` column) has that opening (or its first logged event
    if earlier) and enters the risk set when the log starts (left truncation): ``entry_days``
    = the log's first timestamp minus its opening, in days (0 for every other case). Entering
    at the case's own first logged event instead would drop, outcome-dependently, the cases
    whose first logged event is their exit. Without it, ``duration_known`` is False (its
    ``opened_at`` is its first logged event, so ``duration_days`` is only a lower bound);
    duration estimates leave such cases out and a :class:`DelayedEntryWarning` says how many.

    *Time to settle* ends at the first ``cessation_pledge``, or at a closure after which the
    matter is not re-filed within ``settle_window_days``. Settlement is censored
    administratively: a closure after ``observation_end - settle_window_days`` is censored at
    the closure whatever happened after (its window outcome is unknown for some cases, so
    knowing it for the others would make censoring depend on the outcome). A case closed
    earlier and re-filed within the window did not settle at that closure and is followed to
    a later pledge or ``observation_end``; a competing exit censors settling at the exit.

    Examples
    --------
    >>> ev = pd.DataFrame({
    ...     "case_id": ["a", "a", "a", "a", "b", "b", "c", "c"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-11", "2024-01-20",
    ...                                  "2024-01-05", "2024-01-06", "2024-01-02", "2024-01-09"]),
    ...     "activity": ["register", "transfer", "close", "review",
    ...                  "register", "transfer", "register", "route_to_legal_procedure"],
    ...     "agency": ["bureau", "street 1", "street 1", "court 2", "bureau", "court 2",
    ...                "bureau", "bureau"],
    ...     "agency_type": ["petition_bureau", "street_office", "street_office", "court",
    ...                     "petition_bureau", "court", "petition_bureau", "petition_bureau"],
    ... })
    >>> cases = ck.build_case_table(ev, observation_end="2024-02-01", link=False)
    >>> cases[["case_id", "duration_days", "closed", "exit_type"]]
      case_id  duration_days  closed                  exit_type
    0       a           10.0    True                      close
    1       b           27.0   False                   censored
    2       c            7.0   False  routed_to_legal_procedure
    >>> cases["pattern"].tolist()  # the court's review of "a" after its close does not count
    ['petition_bureau+street_office', 'court+petition_bureau', 'petition_bureau']
    >>> str(cases.attrs["observation_end"])
    '2024-02-01 00:00:00'
    """
    log = _prepare(events, observation_end)
    return _case_table(log, _timing(log), settle_window_days=settle_window_days, link=link,
                       repeat_keys=repeat_keys, repeat_window_days=repeat_window_days,
                       pattern_on=pattern_on)


def _case_table(
    log: _Log,
    tm: _Timing,
    *,
    settle_window_days: float,
    link: bool,
    repeat_keys: Sequence[str],
    repeat_window_days: float,
    pattern_on: str,
) -> pd.DataFrame:
    """Build the case table of a prepared log (the body of :func:`build_case_table`)."""
    n_cases, codes, starts = log.n_cases, log.codes, log.starts
    pattern_on = log.resolve_pattern_on(pattern_on)
    table = pd.DataFrame(
        {
            "case_id": log.case_labels,
            "opened_at": _datetimes(tm.opened),
            "closed_at": _datetimes(tm.close),
            "observation_end": pd.Series(np.full(n_cases, log.obs_end.to_datetime64()))
            .astype("datetime64[ns]"),
            "duration_days": (tm.exit - tm.opened) / _NS_PER_DAY,
            "closed": tm.closed,
            **_agency_columns(log, tm, pattern_on),
            "joint_conference": _any_at(log.hits["joint"], codes, n_cases),
            "leader_involved": _any_at(log.hits["leader"], codes, n_cases),
            "exit_at": _datetimes(tm.exit),
            "exit_type": tm.exit_type,
            "prevalent": tm.prevalent,
            "entry_days": (tm.entry - tm.opened) / _NS_PER_DAY,
            "duration_known": tm.duration_known,
        },
        copy=False,  # fresh per-case arrays: no copy into consolidated blocks
    )
    table["year"] = table["opened_at"].dt.year.astype("int64")
    if (tm.terminated != _BIG).any():
        table["terminated_at"] = _datetimes(tm.terminated)
    for col in _CARRY:
        if col in log.ev:
            table[col] = _first_valid(log.ev[col].reset_index(drop=True), starts, len(log.ev))

    table = _add_repeats(table, link=link, keys=repeat_keys, window_days=repeat_window_days)
    table = _add_settlement(table, tm, log.obs_ns, settle_window_days)
    table = _order_case_columns(table)
    _case_table_attrs(table, log, tm, settle_window_days, pattern_on)
    return table


def _agency_columns(log: _Log, tm: _Timing, pattern_on: str) -> dict[str, Any]:
    """Agencies, pattern, first agency (and type) and hand-overs of every case.

    Only agencies whose first action is at or before the case's exit count.
    """
    n_cases, codes, starts = log.n_cases, log.codes, log.starts
    after = _after_exit(log, tm.exit)
    ag_all, ag_uniques = log.agencies
    at_all, at_uniques = log.agency_types
    agencies, n_agencies = _set_labels(codes, starts, ag_all, list(ag_uniques), n_cases, after)
    if pattern_on == "agency_type":
        pattern, n_types = _set_labels(codes, starts, at_all, list(at_uniques), n_cases, after)
    else:
        pattern, n_types = agencies, n_agencies
    # labels converted to strings once, then taken per case (code -1 -> the missing last entry)
    ag_labels = pd.array(np.r_[ag_uniques, np.array([None], dtype=object)], dtype="str")
    first_ag = ag_all[starts]
    first_agency = pd.Series(ag_labels.take(np.where(first_ag < 0, len(ag_uniques), first_ag)))
    first_type = pd.Series(pd.array(np.asarray(at_uniques, dtype=object), dtype="str")
                           .take(at_all[starts]))
    return {"agencies": agencies, "n_agencies": n_agencies, "pattern": pattern,
            "n_agency_types": n_types, "first_agency": first_agency,
            "first_agency_type": first_type,
            "n_handovers": _handovers(log, ag_all)}


def _handovers(log: _Log, agency_codes: np.ndarray) -> np.ndarray:
    """Per case: consecutive events whose (known) acting agency changes.

    Examples
    --------
    >>> log = _prepare(pd.DataFrame({"case_id": ["a", "a", "a", "b", "b"], "activity": "x",
    ...     "agency": ["p", "q", None, "q", "r"], "timestamp": pd.Timestamp("2024-01-01")}), None)
    >>> _handovers(log, log.agencies[0]).tolist()
    [1, 1]
    """
    changed = agency_codes[1:] != agency_codes[:-1]  # event i -> i + 1
    if len(agency_codes) and agency_codes.min() < 0:  # a missing agency hands nothing over
        known = agency_codes >= 0
        changed &= known[1:] & known[:-1]
    # a case's changes are those from its first to its last event: a difference of prefix sums
    ends = np.r_[log.starts[1:], len(agency_codes)] - 1
    total = np.r_[np.int32(0), np.cumsum(changed, dtype=np.int32)]
    return (total[ends] - total[log.starts]).astype(np.int64)


def _after_exit(log: _Log, exit_ns: np.ndarray) -> np.ndarray | None:
    """Return a mask of the events later than their case's exit (None when there are none).

    One sequential pass: each case's exit repeated over its events and compared (cheaper than
    gathering the late cases' events when many cases have events after their exit).

    Examples
    --------
    >>> log = _prepare(pd.DataFrame({"case_id": ["a", "a", "a", "b"], "activity": "x",
    ...     "agency": "y", "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02",
    ...                                                 "2024-01-03", "2024-01-01"])}), None)
    >>> _after_exit(log, log.ts[[0, 3]]).tolist()  # exits at each case's first event
    [False, True, True, False]
    >>> _after_exit(log, log.ts[[2, 3]]) is None
    True
    """
    ts = log.ts
    ends = np.r_[log.starts[1:], len(ts)] - 1
    late = np.flatnonzero(ts[ends] > exit_ns) if len(ends) else ends
    if not len(late):
        return None
    # times are sorted within a case, so its events after the exit are a suffix (usually one or
    # two events): step every late case's suffix start back from its last event at once
    first, start, ex = ends[late], log.starts[late], exit_ns[late]
    todo = np.arange(len(late))
    while len(todo):
        prev = first[todo] - 1
        more = prev >= start[todo]
        more[more] = ts[prev[more]] > ex[todo[more]]
        todo = todo[more]
        first[todo] = prev[more]
    flip = np.zeros(len(ts) + 1, dtype=np.int8)  # +1 where a suffix starts, -1 after it ends
    flip[first] = 1
    flip[ends[late] + 1] = -1
    return np.cumsum(flip[:-1], dtype=np.int8).view(bool)


#: Column order of the case table (other columns follow in their own order).
_CASE_COLUMNS = (
    "case_id", "opened_at", "closed_at", "settled_at", "observation_end", "duration_days",
    "closed", "settled", "settle_days", "settle_observed", "agencies", "n_agencies", "pattern",
    "n_agency_types", "first_agency", "first_agency_type", "n_handovers", "joint_conference",
    "leader_involved", "year", "repeat_ordinal", "repeat_kind", "matter_id", "petitioner_id",
    "category", "street", "channel", "exit_at", "exit_type", "prevalent", "entry_days",
    "duration_known",
)


def _order_case_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The contract's columns first (absent text columns as missing strings), then the rest."""
    for col in ("category", "street", "channel", "petitioner_id"):
        if col not in table:
            table[col] = pd.Series(pd.NA, index=table.index, dtype="str")
    cols = [c for c in _CASE_COLUMNS if c in table] + [c for c in table if c not in _CASE_COLUMNS]
    return table[cols]


def _case_table_attrs(table: pd.DataFrame, log: _Log, tm: _Timing, settle_window_days: float,
                      pattern_on: str) -> None:
    """Scalar metadata in ``table.attrs``; warn when prevalent cases have unknown durations."""
    n_prevalent = int(tm.prevalent.sum())
    n_excluded = int((~tm.duration_known).sum())
    table.attrs["observation_end"] = log.obs_end
    table.attrs["settle_window_days"] = settle_window_days
    table.attrs["pattern_on"] = pattern_on
    table.attrs["n_events_after_observation_end"] = log.n_after
    table.attrs["n_prevalent"] = n_prevalent
    table.attrs["n_prevalent_excluded"] = n_excluded
    table.attrs["n_competing_exits"] = int(tm.competing.sum())
    if n_excluded:
        warnings.warn(
            f"{n_excluded} of {log.n_cases} cases were open before the log starts and their "
            f"opening time is unknown ({n_prevalent} prevalent in all): their durations are "
            "not known (duration_known=False) and duration estimates leave them out; give an "
            "'opened_at' column to let them enter late instead",
            DelayedEntryWarning,
            stacklevel=4,
        )
def _add_repeats(
    table: pd.DataFrame, *, link: bool, keys: Sequence[str], window_days: float
) -> pd.DataFrame:
    has_matter = "matter_id" in table and table["matter_id"].notna().any()
    has_ordinal = "repeat_ordinal" in table and table["repeat_ordinal"].notna().all()
    has_kind = "repeat_kind" in table and table["repeat_kind"].notna().all()
    if has_matter and has_ordinal and has_kind:
        table["repeat_ordinal"] = pd.to_numeric(table["repeat_ordinal"]).astype("int64")
        return table
    usable_keys = tuple(k for k in keys if k in table and table[k].notna().any())
    if link and "petitioner_id" in usable_keys:
        from casekit.repeat import link_repeats

        base = table.drop(columns=[c for c in ("repeat_ordinal", "repeat_kind") if c in table])
        if not has_matter and "matter_id" in base:
            base = base.drop(columns=["matter_id"])
        linked = link_repeats(base, keys=usable_keys, window_days=window_days)
        for col in ("matter_id", "repeat_ordinal", "repeat_kind"):
            table[col] = linked[col].to_numpy()
        table["repeat_ordinal"] = pd.to_numeric(table["repeat_ordinal"]).astype("int64")
        table["repeat_kind"] = table["repeat_kind"].astype("str")
        table["matter_id"] = table["matter_id"].astype("str")
        return table
    if has_matter:
        # ordinals from the explicit matter ids, by opening time
        m = table["matter_id"].fillna(table["case_id"]).astype("str")
        order = np.lexsort((table["opened_at"].to_numpy(), pd.factorize(m)[0]))
        ordinal = np.empty(len(table), dtype=np.int64)
        ordinal[order] = pd.Series(m.to_numpy()[order]).groupby(
            m.to_numpy()[order], sort=False
        ).cumcount().to_numpy() + 1
        table["matter_id"] = m
        if not has_ordinal:
            table["repeat_ordinal"] = ordinal
        if not has_kind:
            table["repeat_kind"] = np.where(ordinal == 1, "first", "repeat")
        table["repeat_ordinal"] = pd.to_numeric(table["repeat_ordinal"]).astype("int64")
        return table
    # no linkage possible: every filing is its own matter
    table["matter_id"] = table["case_id"]
    table["repeat_ordinal"] = np.ones(len(table), dtype=np.int64)
    table["repeat_kind"] = "first"
    return table




def _next_filing(table: pd.DataFrame, close_ts: np.ndarray, closed: np.ndarray,
                 obs_ns: int) -> np.ndarray:
    """Per closed case: opening time of the next filing of its matter after the closure.

    One int64 key per filing (matter, opening second) sorted once; the closed cases of
    matters with several filings look up their closure second (sorted queries: a
    cache-friendly binary search). ``_BIG`` where there is none.

    Examples
    --------
    >>> t = pd.DataFrame({"case_id": ["a", "b", "c"], "matter_id": ["m", "m", None],
    ...                   "opened_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-01"])})
    >>> closed = np.array([True, True, True])
    >>> close_ts = t["opened_at"].to_numpy("datetime64[ns]").view(np.int64) + _NS_PER_DAY
    >>> nxt = _next_filing(t, close_ts, closed, int(pd.Timestamp("2024-12-31").value))
    >>> pd.to_datetime(nxt[:1]).tolist(), (nxt[1:] == _BIG).tolist()
    ([Timestamp('2024-02-01 00:00:00')], [True, True])
    """
    n = len(table)
    next_open = np.full(n, _BIG, dtype=np.int64)
    m = table["matter_id"]
    matter = _codes((m.fillna(table["case_id"]) if m.hasnans else m).astype("str"))
    # only filings of matters with more than one filing can be re-filed
    look = np.flatnonzero(closed & (np.bincount(matter)[matter] > 1)) if n else matter
    if not len(look):
        return next_open
    opened = table["opened_at"].to_numpy().astype("datetime64[ns]").view(np.int64)
    t0 = int(opened.min())
    # one int64 key per (matter, time) in seconds: matter-major ordering
    span = int((max(int(opened.max()), obs_ns) - t0) // 10**9) + 2
    sorted_key = np.sort(matter.astype(np.int64) * span + (opened - t0) // 10**9)
    # filings opened strictly after the closure second (never the case itself)
    q = (matter[look].astype(np.int64) * span
         + (np.minimum(close_ts[look], obs_ns) - t0) // 10**9 + 1)
    order = np.argsort(q)
    look, q = look[order], q[order]
    pos = np.searchsorted(sorted_key, q, side="left")
    found = sorted_key[np.minimum(pos, n - 1)]
    hit = (pos < n) & (found // span == matter[look])
    next_open[look[hit]] = t0 + (found[hit] % span) * 10**9
    return next_open


def _add_settlement(
    table: pd.DataFrame, tm: _Timing, obs_ns: int, window_days: float
) -> pd.DataFrame:
    """Time to settle, censored administratively (rules: ``build_case_table`` Notes)."""
    closed = tm.closed
    close_ts = np.where(closed, tm.close, _BIG)
    window_ns = round(window_days * _NS_PER_DAY)
    next_open = _next_filing(table, close_ts, closed, obs_ns)
    refiled = closed & (next_open != _BIG) & (next_open - close_ts <= window_ns)
    # the window outcome is known only for closures on or before obs_end - window
    window_done = closed & (close_ts <= obs_ns - window_ns)
    # follow-up for settling ends at a competing exit, at a closure whose window is pending,
    # else at the observation end; a pledge settles the case when it comes by then
    limit = np.where(tm.competing, tm.exit,
                     np.where(closed & ~window_done, close_ts, obs_ns))
    pledge = np.where(tm.pledge <= limit, tm.pledge, _BIG)
    settle_ts = np.where(closed & window_done & ~refiled, np.minimum(pledge, close_ts), pledge)
    settled = settle_ts != _BIG
    follow_end = np.where(settled, settle_ts, limit)
    table["settled"] = settled
    table["settle_observed"] = settled
    table["settled_at"] = _datetimes(settle_ts)
    table["settle_days"] = np.maximum(follow_end - tm.opened, 0) / _NS_PER_DAY
    table["refiled_within_window"] = refiled
    return table
def build_matter_view(cases: pd.DataFrame) -> pd.DataFrame:
    """Deprecated alias of :func:`casekit.build_matter_table` (one matter table, issue 14).

    Returns ``build_matter_table(cases)`` with two columns under their older names:
    ``first_settled_at`` (= ``settled_at``) and ``chain_days`` (= ``days_to_settle``). A matter
    is now settled as a matter (every filing closed and no re-filing within the window, or a
    pledge on its last filing), no longer when any one of its filings was.
    """
    from casekit.repeat import build_matter_table

    warnings.warn("build_matter_view is deprecated; use casekit.build_matter_table",
                  DeprecationWarning, stacklevel=2)
    if "matter_id" not in cases:
        raise CasekitError("cases: missing column 'matter_id' (build it with build_case_table)")
    table = build_matter_table(cases)
    return table.assign(first_settled_at=table["settled_at"], chain_days=table["days_to_settle"])


def build_case_intervals(
    events: pd.DataFrame,
    *,
    observation_end: Any = None,
    cases: pd.DataFrame | None = None,
    pattern_on: Literal["agency_type", "agency", "auto"] = "auto",
    covariates: Sequence[str] = INTERVAL_COVARIATES,
) -> pd.DataFrame:
    """Counting-process rows: one per case and stretch of constant collaboration exposure.

    Each case's follow-up ``(entry_days, duration_days]`` (days since it opened; see
    :func:`build_case_table`) is split at the first action of each agency type on it, so a
    time-varying model sees a collaboration only from the moment it forms.

    Parameters
    ----------
    events : DataFrame
        Canonical events, as for :func:`build_case_table`.
    observation_end : date-like, optional
        As for :func:`build_case_table`; with ``cases`` given, default its
        ``attrs["observation_end"]``.
    cases : DataFrame, optional
        A case table of these events already built by :func:`build_case_table` (it gives the
        openings, exits, delayed entry and covariates); built here when omitted.
    pattern_on : {"auto", "agency_type", "agency"}
        What exposure is made of. ``"auto"``: the case table's choice (agency types unless
        every type is ``unknown``).
    covariates : sequence of str
        Case-table columns copied onto every row of the case (those present).

    Returns
    -------
    DataFrame
        ``case_id, start, stop, event, exit_type, pattern, at_<type>..., <covariates>``:
        ``start``/``stop`` in days since the case opened (the first row starts at
        ``entry_days``, 0 unless delayed entry; the last stops at ``duration_days``);
        ``event`` is 1 when the row ends in a close; ``exit_type`` is the case's exit type on
        its last row (``"close"``, a competing exit type or ``"censored"``) and ``""`` on
        earlier rows; ``pattern`` is the pattern in force (the types that have acted by
        ``start``, sorted and joined with ``+``, as in the case table); ``at_<type>`` (int8)
        is 1 once that type has joined, one column per type in force on some row. ``attrs``:
        ``observation_end`` (a Timestamp), ``pattern_on``, ``n_cases``, ``n_cases_with_rows``,
        ``n_prevalent_excluded``, ``n_zero_length``, ``n_events``.

    Raises
    ------
    CasekitError
        When a column is missing, or ``cases`` holds cases that are not in the events.

    See Also
    --------
    build_case_table

    Notes
    -----
    Only actions strictly before a case's exit change its exposure; nothing after the exit
    does. Same-instant rule: a type whose first action has the same timestamp as the close
    does not count for that close (it joins no row), one whose timestamp is earlier does,
    even on the same day. Types that act at or before the case's entry are in force from the
    first row; several types joining at one instant make one split; rows never have zero
    length. Cases without a known duration (prevalent, no opening time) give no rows, nor do
    cases that exit at their entry instant (no time at risk); both are counted in ``attrs``.

    Examples
    --------
    >>> ev = pd.DataFrame({
    ...     "case_id": ["a", "a", "a", "a", "b", "b"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-06", "2024-01-11",
    ...                                  "2024-01-05", "2024-01-06"]),
    ...     "activity": ["register", "transfer", "investigate", "close", "register", "transfer"],
    ...     "agency": ["bureau", "street 1", "court 2", "street 1", "bureau", "court 2"],
    ...     "agency_type": ["petition_bureau", "street_office", "court", "street_office",
    ...                     "petition_bureau", "court"],
    ... })
    >>> rows = ck.build_case_intervals(ev, observation_end="2024-01-15")
    >>> rows[["case_id", "start", "stop", "event", "exit_type", "pattern"]]
      case_id  start  stop  event exit_type                              pattern
    0       a    0.0   2.0      0                                petition_bureau
    1       a    2.0   5.0      0                  petition_bureau+street_office
    2       a    5.0  10.0      1     close  court+petition_bureau+street_office
    3       b    0.0   1.0      0                                petition_bureau
    4       b    1.0  10.0      0  censored                court+petition_bureau
    >>> rows[["at_court", "at_street_office"]].sum().tolist()
    [2, 2]
    """
    if cases is None:
        log = _prepare(events, observation_end)
        table = _case_table(log, _timing(log), settle_window_days=180, link=True,
                            repeat_keys=("petitioner_id", "category", "address"),
                            repeat_window_days=365, pattern_on=pattern_on)
        row_of_code = np.arange(log.n_cases)
    else:
        table = cases
        need = [c for c in ("case_id", "opened_at", "duration_days", "closed") if c not in table]
        if need:
            raise CasekitError(f"cases: missing column {need[0]!r}; build it with "
                               "build_case_table")
        if observation_end is None:
            observation_end = table.attrs.get("observation_end")
        log = _prepare(events, observation_end)
        if pattern_on == "auto":
            pattern_on = table.attrs.get("pattern_on", "auto")
        row_of_code = _align(log, table)
    pattern_on = log.resolve_pattern_on(pattern_on)
    rows = _interval_rows(log, table, row_of_code, pattern_on)
    out = rows.pop("frame")
    for col in covariates:
        if col in table and col not in out:
            out[col] = table[col].take(rows["row_case"]).reset_index(drop=True)
    out.attrs.update({k: v for k, v in rows.items() if k.startswith("n_")})
    out.attrs["observation_end"] = log.obs_end
    out.attrs["pattern_on"] = pattern_on
    return out


def _align(log: _Log, table: pd.DataFrame) -> np.ndarray:
    """Row of ``table`` for each case code of ``log`` (-1: a case the table leaves out)."""
    ids = table["case_id"].astype("str").reset_index(drop=True)
    if len(ids) == log.n_cases and ids.equals(log.case_labels.astype("str")):
        return np.arange(log.n_cases)  # the table of this log, in its order
    pos = pd.Index(log.case_labels.astype("str")).get_indexer(ids)
    if (pos < 0).any():
        bad = int((pos < 0).sum())
        raise CasekitError(f"cases: {bad} case ids are not in the events (first: "
                           f"{table['case_id'].iloc[int(np.flatnonzero(pos < 0)[0])]!r}); "
                           "pass the case table of these events")
    row_of_code = np.full(log.n_cases, -1, dtype=np.int64)
    row_of_code[pos] = np.arange(len(table))
    return row_of_code


def _table_ns(table: pd.DataFrame, col: str, tz: Any) -> np.ndarray:
    return _local_ns(table[col].reset_index(drop=True), col, tz)


@dataclass
class _FollowUp:
    """Per case of a case table: follow-up times (days from opening, and int64 ns)."""

    opened: np.ndarray  # ns
    duration: np.ndarray  # days to exit
    entry_days: np.ndarray
    exit_ns: np.ndarray
    entry_ns: np.ndarray
    known: np.ndarray  # duration known
    zero: np.ndarray  # known, but exit at or before entry: no rows
    has_rows: np.ndarray


def _follow_up(table: pd.DataFrame, tz: Any) -> _FollowUp:
    n = len(table)
    opened = _table_ns(table, "opened_at", tz)
    duration = table["duration_days"].to_numpy(dtype=np.float64)
    entry_days = (table["entry_days"].to_numpy(dtype=np.float64) if "entry_days" in table
                  else np.zeros(n))
    if "exit_at" in table:
        exit_ns = _table_ns(table, "exit_at", tz)
    else:
        exit_ns = opened + np.round(duration * _NS_PER_DAY).astype(np.int64)
    entry_ns = opened + np.round(entry_days * _NS_PER_DAY).astype(np.int64)
    known = (table["duration_known"].to_numpy(dtype=bool) if "duration_known" in table
             else np.ones(n, dtype=bool))
    zero = known & ~(duration > entry_days)
    return _FollowUp(opened, duration, entry_days, exit_ns, entry_ns, known, zero,
                     known & ~zero)


def _joins(log: _Log, fu: _FollowUp, row_of_code: np.ndarray, item_codes: np.ndarray,
           rank: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First action of each item of a case strictly before its exit: table row, time, item.

    Ordered by table row, then time.
    """
    n = len(fu.opened)
    identity = len(row_of_code) == n and bool(np.all(row_of_code == np.arange(n)))
    case_row = log.codes if identity else row_of_code[log.codes]
    # a case without rows (or not in the table) has no action "before its exit"
    until = np.r_[np.where(fu.has_rows, fu.exit_ns, _NAT), _NAT]
    ok = (log.ts < until[case_row]) & (item_codes >= 0)
    pos = _first_actions(log.codes, item_codes, rank, np.flatnonzero(ok))
    j_row, j_ts, j_item = case_row[pos], log.ts[pos], item_codes[pos]
    if len(j_row) > 1 and not np.all(
            (j_row[1:] > j_row[:-1]) | ((j_row[1:] == j_row[:-1]) & (j_ts[1:] >= j_ts[:-1]))):
        order = np.lexsort((j_ts, j_row))  # the case table's order differs from the log's
        j_row, j_ts, j_item = j_row[order], j_ts[order], j_item[order]
    return j_row, j_ts, j_item


def _interval_rows(
    log: _Log, table: pd.DataFrame, row_of_code: np.ndarray, pattern_on: str
) -> dict[str, Any]:
    """Build the counting-process rows (vectorised; see :func:`build_case_intervals`)."""
    n = len(table)
    fu = _follow_up(table, log.tz)
    item_codes, item_names = log.items(pattern_on)
    rank, sorted_names = _alpha_rank(item_names)
    j_row, j_ts, j_item = _joins(log, fu, row_of_code, item_codes, rank)

    # splits: distinct join instants strictly after the entry (and before the exit)
    split = j_ts > fu.entry_ns[j_row]
    prev_same = np.zeros(len(j_row), dtype=bool)  # same case, instant and split as before
    prev_same[1:] = (j_row[1:] == j_row[:-1]) & (j_ts[1:] == j_ts[:-1]) & split[:-1]
    new = split & ~prev_same
    n_splits = np.bincount(j_row[new], minlength=n)
    n_rows_case = np.where(fu.has_rows, 1 + n_splits, 0)
    off = np.r_[0, np.cumsum(n_rows_case)].astype(np.int64)
    split_off = np.r_[0, np.cumsum(n_splits)].astype(np.int64)
    split_id = np.cumsum(new) - 1
    jr = off[j_row] + np.where(split, 1 + split_id - split_off[j_row], 0)

    total = int(off[-1])
    cases_with_rows = np.flatnonzero(fu.has_rows)
    row_case = np.repeat(np.arange(n), n_rows_case)
    first = off[cases_with_rows]
    last = off[cases_with_rows + 1] - 1
    start = np.empty(total, dtype=np.float64)
    start[first] = fu.entry_days[cases_with_rows]
    start[jr[new]] = (j_ts[new] - fu.opened[j_row[new]]) / _NS_PER_DAY
    stop = np.empty(total, dtype=np.float64)
    stop[:-1] = start[1:]
    stop[last] = fu.duration[cases_with_rows]
    event, exit_type = _row_exits(table, cases_with_rows, last, total)

    # exposure in force on each row: the case's joins up to that row
    if len(rank) <= 63:
        jbit = _bits(rank)[j_item]
        mask = np.zeros(total, dtype=np.int64)
        if len(jr):
            seg = np.flatnonzero(np.r_[True, jr[1:] != jr[:-1]])
            mask[jr[seg]] = np.bitwise_or.reduceat(jbit, seg)
        mask = _segment_cumor(mask, first, n_rows_case[cases_with_rows])
        pattern, _ = _mask_labels(mask, sorted_names)
        exposure = _mask_columns(mask, sorted_names)
    else:
        pattern, exposure = _pair_exposure(jr, j_row, j_item, row_case, n, total, item_names)

    frame = pd.DataFrame({
        "case_id": table["case_id"].astype("str").take(row_case).reset_index(drop=True),
        "start": start,
        "stop": stop,
        "event": event,
        "exit_type": exit_type,
        "pattern": pattern,
    })
    frame = pd.concat([frame, exposure], axis=1)
    return {
        "frame": frame,
        "row_case": row_case,
        "n_cases": n,
        "n_cases_with_rows": int(fu.has_rows.sum()),
        "n_prevalent_excluded": int((~fu.known).sum()),
        "n_zero_length": int(fu.zero.sum()),
        "n_events": int(event.sum()),
        "n_rows": total,
    }


def _row_exits(table: pd.DataFrame, cases_with_rows: np.ndarray, last: np.ndarray,
               total: int) -> tuple[np.ndarray, pd.Series]:
    """Event flag and exit type per row: a case's last row carries its exit, others none."""
    closed = table["closed"].to_numpy(dtype=bool)
    event = np.zeros(total, dtype=np.int8)
    event[last] = closed[cases_with_rows]
    exit_codes = np.zeros(total, dtype=np.int64)  # 0: "" (not the last row)
    if "exit_type" in table:
        exit_codes_case, exit_labels = pd.factorize(table["exit_type"].astype("str"))
        exit_codes[last] = exit_codes_case[cases_with_rows] + 1
        exit_labels = ["", *map(str, exit_labels)]
    else:
        exit_codes[last] = np.where(closed[cases_with_rows], 1, 2)
        exit_labels = ["", "close", "censored"]
    return event, _take_labels(exit_labels, exit_codes)


def _first_actions(
    codes: np.ndarray, items: np.ndarray, rank: np.ndarray, pos: np.ndarray
) -> np.ndarray:
    """Keep the rows of ``pos`` (sorted by case, then time) that are an item's first in a case.

    With at most 63 items: a running bit mask per case (:func:`_segment_cumor`), no hashing;
    with more, ``duplicated`` on an int64 (case, item) key.
    """
    c, it = codes[pos], items[pos]
    run = np.ones(len(pos), dtype=bool)  # drop repeats of the previous event's item (cheap)
    run[1:] = (c[1:] != c[:-1]) | (it[1:] != it[:-1])
    pos, c, it = pos[run], c[run], it[run]
    if len(rank) > 63:
        key = c.astype(np.int64) * len(rank) + it
        return pos[~pd.Series(key).duplicated().to_numpy()]
    b = _bits(rank)[it]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]]) if len(c) else np.zeros(0, np.int64)
    cum = _segment_cumor(b, starts, np.diff(np.r_[starts, len(c)]))
    before = np.zeros_like(cum)
    before[1:] = cum[:-1]
    before[starts] = 0
    return pos[(before & b) == 0]


def _take_labels(labels: Sequence[str], codes: np.ndarray) -> pd.Series:
    """``labels[codes]`` as a string Series, by one arrow ``take``."""
    import pyarrow as pa

    # large_string: the storage of pandas' str dtype, so no cast of the taken strings
    return pd.Series(pd.array(pa.array(list(labels), type=pa.large_string())
                              .take(pa.array(codes)), dtype="str"))


def _mask_columns(mask: np.ndarray, sorted_names: Any) -> pd.DataFrame:
    """One int8 ``at_<item>`` column per bit set on some row, in name order."""
    present = int(np.bitwise_or.reduce(mask)) if len(mask) else 0
    cols = {f"at_{sorted_names[r].as_py()}": ((mask >> r) & 1).astype(np.int8)
            for r in range(len(sorted_names)) if present >> r & 1}
    return pd.DataFrame(cols, index=pd.RangeIndex(len(mask)))


def _pair_exposure(
    jr: np.ndarray, j_row: np.ndarray, j_item: np.ndarray, row_case: np.ndarray, n: int,
    total: int, item_names: np.ndarray,
) -> tuple[pd.Series, pd.DataFrame]:
    """Pattern and ``at_`` columns from (row, item) pairs, for more than 63 items.

    The items in force on a row are a prefix of its case's joins (sorted by row), so the pairs
    are generated row by row with one ``repeat``.
    """
    in_force = np.cumsum(np.bincount(jr, minlength=total)) if total else np.zeros(0, np.int64)
    join_off = np.r_[0, np.cumsum(np.bincount(j_row, minlength=n))].astype(np.int64)
    lens = in_force - join_off[row_case] + 1  # + one missing-item pair: no empty segment
    pstart = (np.cumsum(lens) - lens).astype(np.int64)
    prow = np.repeat(np.arange(total), lens)
    q = np.arange(int(lens.sum())) - pstart[prow]
    jidx = np.repeat(join_off[row_case], lens) + q - 1
    pitem = np.where(q == 0, -1, j_item[np.maximum(jidx, 0)] if len(j_item) else -1)
    pattern, _ = _set_labels(prow, pstart, pitem, list(item_names), total)
    return pattern, _exposure_columns(prow, pitem, item_names, total)


def _exposure_columns(
    prow: np.ndarray, pitem: np.ndarray, item_names: np.ndarray, total: int
) -> pd.DataFrame:
    """One int8 ``at_<item>`` column per item in force on some row, in name order."""
    sel = pitem >= 0
    items = np.flatnonzero(np.bincount(pitem[sel], minlength=len(item_names)))
    names = np.asarray([str(item_names[i]) for i in items], dtype=object)
    order = np.argsort(names, kind="stable")
    col_of_item = np.full(len(item_names), -1, dtype=np.int64)
    col_of_item[items[order]] = np.arange(len(items))
    m = np.zeros((total, len(items)), dtype=np.int8)
    m[prow[sel], col_of_item[pitem[sel]]] = 1
    return pd.DataFrame(m, columns=[f"at_{x}" for x in names[order]])
