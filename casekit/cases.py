"""The case table: one row per case, with censoring-aware durations, settlement and patterns.

``build_case_table`` turns a canonical event log (one row per event) into one row per case:
when it was opened and first closed, whether it was closed by the observation end (else it is
right-censored there), whether it was *settled* (closed and not re-filed within a window, or a
cessation pledge), its collaboration ``pattern`` (the distinct agency types that acted on it,
sorted and joined with ``+``), a few process features and the repeat-petition fields.

Everything is vectorised over the sorted log (``numpy.*.reduceat`` over case segments, bit masks
for the patterns): the per-group Python lambda that builds pattern strings costs minutes at a
million cases (``perf/BASELINES.md``), this costs well under a second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from casekit._utils import CasekitError

__all__ = ["build_case_table", "build_matter_view"]

_NS_PER_DAY = 86_400 * 10**9
_BIG = np.iinfo(np.int64).max

#: activities that mark leader involvement (REG2022 Art.18)
LEADER_ACTIVITIES: tuple[str, ...] = (
    "leader_reception",
    "leader_field_visit",
    "leader_case_ownership",
)
#: activities that mark a joint conference / joint reception
JOINT_ACTIVITIES: tuple[str, ...] = ("joint_conference",)

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


def _resolve_observation_end(events: pd.DataFrame, observation_end: Any) -> pd.Timestamp:
    if observation_end is not None:
        try:
            ts = pd.Timestamp(observation_end)
        except (TypeError, ValueError) as exc:
            raise CasekitError(
                f"observation_end: expected a date such as '2024-12-31', got {observation_end!r}"
            ) from exc
        if ts is pd.NaT:
            raise CasekitError("observation_end: got a missing value (NaT); pass a date")
        return ts.tz_localize(None) if ts.tzinfo is not None else ts
    meta = events.attrs.get("casekit") if isinstance(events.attrs, dict) else None
    if isinstance(meta, dict) and meta.get("observation_end") is not None:
        ts = pd.Timestamp(meta["observation_end"])
        if ts is not pd.NaT:
            return ts.tz_localize(None) if ts.tzinfo is not None else ts
    if len(events) == 0:
        raise CasekitError("events: the log is empty, so there is no observation end")
    return pd.Timestamp(events["timestamp"].max())


def _case_codes(case_id: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Integer case codes in order of appearance and the case ids (str).

    Fast path for the contract's sorted logs: when the ids are non-decreasing strings, codes are
    a cumulative sum of "id changed" flags computed by pyarrow (no hashing).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        arr = pa.array(case_id)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)) and \
                arr.null_count == 0 and len(arr) > 1 and \
                pc.all(pc.greater_equal(arr[1:], arr[:-1])).as_py():
            new = np.r_[True, pc.not_equal(arr[1:], arr[:-1]).to_numpy(zero_copy_only=False)]
            codes = np.cumsum(new) - 1
            labels = pd.Series(pd.array(arr.filter(pa.array(new)), dtype="str"))
            return codes, labels
    except (TypeError, ValueError, pa.ArrowException):  # fall back to hashing
        pass
    codes, uniques = pd.factorize(case_id.astype("str"), sort=False)
    return codes, pd.Series(np.asarray(uniques, dtype=object), dtype="str")


def _factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` (missing -> -1), via pyarrow's dictionary encoding for arrow strings."""
    import pyarrow as pa

    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), np.asarray(
            values.cat.categories, dtype=object)
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        enc = pa.array(values)
        if isinstance(enc, pa.ChunkedArray):
            enc = enc.combine_chunks()
        enc = enc.dictionary_encode()
        codes = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return codes, np.asarray(enc.dictionary.to_pylist(), dtype=object)
    codes, uniques = pd.factorize(values, sort=False)
    return codes, np.asarray(uniques, dtype=object)


def _identifier_codes(values: pd.Series, vocabulary: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes into identifier labels (Chinese / alias / English mapped) without per-row strings."""
    codes, uniques = _factorize(values)
    mapped = _to_identifiers(pd.Series(np.asarray(uniques, dtype=object)), vocabulary)
    ident_codes, ident_uniques = pd.factorize(mapped, sort=False)
    remap = np.r_[ident_codes, -1]
    return remap[codes], np.asarray(ident_uniques, dtype=object)


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


def _set_labels(
    case_codes: np.ndarray,
    starts: np.ndarray,
    item_codes: np.ndarray,
    item_names: Sequence[str],
    n_cases: int,
) -> tuple[pd.Series, np.ndarray]:
    """Per case: sorted distinct item names joined by ``+`` and their number (vectorised).

    ``case_codes`` are contiguous per case (segments start at ``starts``); ``item_codes`` index
    ``item_names`` (-1 = missing, ignored). With at most 63 distinct items each case's set is an
    int64 bit mask (bits in alphabetical order of the names) built by one ``bitwise_or.reduceat``;
    the distinct masks (a lookup table when there are few items, else a hash factorisation) are
    decoded once, joined by pyarrow and spread back to the cases by one arrow ``take``. With
    more items, the distinct (case, item) pairs are sorted instead. No Python loop runs per case
    or per pattern.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    names = np.asarray([str(n) for n in item_names], dtype=object)
    order = np.argsort(names, kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[order] = np.arange(len(names))
    sorted_names = pa.array(list(names[order]), type=pa.string())
    k = len(names)
    if k <= 63:
        # item code -> its bit; the extra last entry (code -1, missing) is no bit
        bit = np.r_[np.left_shift(np.int64(1), rank), np.int64(0)]
        masks = (np.bitwise_or.reduceat(bit[item_codes], starts) if len(starts)
                 else np.zeros(0, dtype=np.int64))
        if k <= 16:  # masks < 2**16: distinct masks by a lookup table, no hashing
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
    else:
        valid = item_codes >= 0
        key = np.unique(case_codes[valid].astype(np.int64) * k + rank[item_codes[valid]])
        rows, cols = key // k, key % k
        counts = np.bincount(rows, minlength=n_cases)
        inverse = np.arange(n_cases)
    offsets = np.r_[0, np.cumsum(counts)].astype(np.int64)
    lists = pa.LargeListArray.from_arrays(pa.array(offsets), sorted_names.take(pa.array(cols)))
    joined = pc.binary_join(lists, "+").take(pa.array(inverse))
    return pd.Series(pd.array(joined, dtype="str")), counts[inverse].astype(np.int64)


def _int_bincount(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Exact int64 bincount (``np.bincount`` sums in float64, which loses high bits)."""
    out = np.zeros(n, dtype=np.int64)
    if len(index) == 0:
        return out
    order = np.argsort(index, kind="stable")
    idx = index[order]
    val = values[order]
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    out[idx[starts]] = np.add.reduceat(val, starts)
    return out


def _first_valid(values: pd.Series, starts: np.ndarray, n_rows: int) -> pd.Series:
    """First non-missing value of each case segment (missing where the whole segment is)."""
    notna = values.notna().to_numpy()
    if notna.all():
        return values.iloc[starts].reset_index(drop=True)
    pos = np.where(notna, np.arange(n_rows, dtype=np.int64), _BIG)
    first = np.minimum.reduceat(pos, starts) if n_rows else np.array([], dtype=np.int64)
    has = first != _BIG
    taken = values.iloc[np.where(has, first, 0)].reset_index(drop=True)
    if not has.all():
        taken = taken.where(pd.Series(has))
    return taken


def _masked_first_time(
    ts: np.ndarray, mask: np.ndarray, codes: np.ndarray, n_cases: int
) -> np.ndarray:
    """Per case: the earliest ``ts`` among its events where ``mask`` holds (``_BIG`` if none).

    Works on the (usually few) masked events only; ``codes`` are contiguous per case.
    """
    out = np.full(n_cases, _BIG, dtype=np.int64)
    pos = np.flatnonzero(mask)
    if len(pos):
        c = codes[pos]
        seg = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        out[c[seg]] = np.minimum.reduceat(ts[pos], seg)
    return out


def _any(mask: np.ndarray, codes: np.ndarray, n_cases: int) -> np.ndarray:
    out = np.zeros(n_cases, dtype=bool)
    out[codes[mask]] = True
    return out


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
        optional ``petitioner_id, matter_id, category, channel, street, address, ...``).
        Activity and agency-type labels may be identifiers or Chinese labels (mapped here).
    observation_end : date-like, optional
        End of observation. Default: ``events.attrs["casekit"]["observation_end"]`` when the
        reader recorded one, else the last timestamp in the log. Never today's date. Events
        after it are ignored (the table is "as of" ``observation_end``).
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
        category, street, channel`` (and ``address, level`` when present).
        ``attrs["observation_end"]`` holds the observation end.

    Raises
    ------
    CasekitError
        When a required column is missing or the log is empty.

    See Also
    --------
    casekit.survival.fit_time_to_close, casekit.survival.rank_collaborations

    Notes
    -----
    *Time to close* runs from ``opened_at`` (first ``register``, else the first event) to the
    first ``close``; a case not closed by ``observation_end`` is right-censored there
    (``closed`` is the event indicator, ``duration_days`` the follow-up). *Time to settle* ends
    at the first ``cessation_pledge``, or at a closure after which the matter is not re-filed
    within ``settle_window_days``; a closure whose window has not elapsed by
    ``observation_end`` is censored at the closure (settled then or never, not yet known); a
    case that was closed and re-filed within the window did not settle and is censored at
    ``observation_end``.

    Examples
    --------
    >>> ev = pd.DataFrame({
    ...     "case_id": ["a", "a", "a", "b", "b"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-11",
    ...                                  "2024-01-05", "2024-01-06"]),
    ...     "activity": ["register", "transfer", "close", "register", "transfer"],
    ...     "agency": ["bureau", "street 1", "street 1", "bureau", "court 2"],
    ...     "agency_type": ["petition_bureau", "street_office", "street_office",
    ...                     "petition_bureau", "court"],
    ... })
    >>> cases = ck.build_case_table(ev, observation_end="2024-02-01", link=False)
    >>> cases[["case_id", "duration_days", "closed", "pattern"]]
      case_id  duration_days  closed                        pattern
    0       a           10.0    True  petition_bureau+street_office
    1       b           27.0   False          court+petition_bureau
    >>> str(cases.attrs["observation_end"])
    '2024-02-01 00:00:00'
    """
    missing = [c for c in ("case_id", "timestamp", "activity", "agency") if c not in events]
    if missing:
        raise CasekitError(
            f"events: missing column {missing[0]!r} (found: {', '.join(map(str, events.columns))})"
        )
    obs_end = _resolve_observation_end(events, observation_end)
    obs_ns = int(np.datetime64(obs_end.to_datetime64(), "ns").astype(np.int64))

    ts_all = pd.to_datetime(events["timestamp"]).to_numpy().astype("datetime64[ns]").view(np.int64)
    nat = ts_all == np.iinfo(np.int64).min
    keep = ~nat & (ts_all <= obs_ns)
    n_after = int((~nat & (ts_all > obs_ns)).sum())
    ev = events if keep.all() else events.loc[keep]
    ts = ts_all[keep]
    if len(ev) == 0:
        raise CasekitError(f"events: no event on or before the observation end {obs_end}")

    codes, case_labels = _case_codes(ev["case_id"])
    # sortedness: cases contiguous and time non-decreasing within a case (the contract)
    same = codes[1:] == codes[:-1]
    if not (np.all(codes[1:] >= codes[:-1]) and not np.any(same & (ts[1:] < ts[:-1]))):
        order = np.lexsort((ts, codes))  # stable: ties keep source order
        ev = ev.iloc[order]
        ts = ts[order]
        codes = codes[order]
        same = codes[1:] == codes[:-1]
    n_rows = len(ev)
    n_cases = len(case_labels)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])

    act_codes, act_uniques = _identifier_codes(ev["activity"], "activity")

    def amask(names: Sequence[str]) -> np.ndarray:
        # activity code -> hit; the extra last entry is code -1 (missing activity)
        hit = np.r_[np.isin(act_uniques, list(names)), False]
        return hit[act_codes]

    first_ts = ts[starts]
    reg_ts = _masked_first_time(ts, amask(["register"]), codes, n_cases)
    close_ts = _masked_first_time(ts, amask(["close"]), codes, n_cases)
    pledge_ts = _masked_first_time(ts, amask(["cessation_pledge"]), codes, n_cases)
    term_ts = _masked_first_time(ts, amask(["terminated"]), codes, n_cases)
    opened = np.where(reg_ts != _BIG, reg_ts, first_ts)
    # a close before the registration: the case was open from its first event
    opened = np.where((close_ts != _BIG) & (close_ts < opened), first_ts, opened)
    closed = close_ts != _BIG
    end = np.where(closed, close_ts, obs_ns)
    duration = (end - opened) / _NS_PER_DAY

    # agencies, agency types, patterns
    ag_codes, ag_uniques = _factorize(ev["agency"])
    if "agency_type" in ev:
        at_codes, at_uniques = _identifier_codes(ev["agency_type"], "agency_type")
    else:
        at_codes, at_uniques = np.full(n_rows, -1, dtype=np.int64), np.array([], dtype=object)
    if (at_codes < 0).any():  # missing agency type -> "unknown"
        if "unknown" not in set(at_uniques):
            at_uniques = np.r_[at_uniques, np.array(["unknown"], dtype=object)]
        at_codes = np.where(at_codes < 0, int(np.flatnonzero(at_uniques == "unknown")[0]),
                            at_codes)
    agencies, n_agencies = _set_labels(codes, starts, ag_codes, list(ag_uniques), n_cases)
    if pattern_on == "auto":
        pattern_on = "agency" if set(map(str, at_uniques)) <= {"unknown"} else "agency_type"
    if pattern_on == "agency_type":
        pattern, n_types = _set_labels(codes, starts, at_codes, list(at_uniques), n_cases)
    elif pattern_on == "agency":
        pattern, n_types = agencies, n_agencies
    else:
        raise CasekitError(
            f"pattern_on: expected 'auto', 'agency_type' or 'agency', got {pattern_on!r}"
        )
    # labels converted to strings once, then taken per case (code -1 -> the missing last entry)
    ag_labels = pd.array(np.r_[ag_uniques, np.array([None], dtype=object)], dtype="str")
    first_ag = ag_codes[starts]
    first_agency = pd.Series(ag_labels.take(np.where(first_ag < 0, len(ag_uniques), first_ag)))
    first_type = pd.Series(pd.array(np.asarray(at_uniques, dtype=object), dtype="str")
                           .take(at_codes[starts]))

    # hand-overs: consecutive events in a case whose acting agency changes
    changed = same & (ag_codes[1:] != ag_codes[:-1]) & (ag_codes[1:] >= 0) & (ag_codes[:-1] >= 0)
    n_handovers = np.bincount(codes[1:][changed], minlength=n_cases)

    table = pd.DataFrame(
        {
            "case_id": case_labels,
            "opened_at": pd.to_datetime(opened.astype("datetime64[ns]")),
            "closed_at": pd.to_datetime(np.where(closed, close_ts, np.iinfo(np.int64).min)
                                        .astype("datetime64[ns]")),
            "observation_end": pd.Series(np.full(n_cases, obs_end.to_datetime64()))
            .astype("datetime64[ns]"),
            "duration_days": duration,
            "closed": closed,
            "agencies": agencies,
            "n_agencies": n_agencies,
            "pattern": pattern,
            "n_agency_types": n_types,
            "first_agency": first_agency,
            "first_agency_type": first_type,
            "n_handovers": n_handovers,
            "joint_conference": _any(amask(JOINT_ACTIVITIES), codes, n_cases),
            "leader_involved": _any(amask(LEADER_ACTIVITIES), codes, n_cases),
        }
    )
    table["year"] = table["opened_at"].dt.year.astype("int64")
    if (term_ts != _BIG).any():
        table["terminated_at"] = pd.to_datetime(
            np.where(term_ts != _BIG, term_ts, np.iinfo(np.int64).min).astype("datetime64[ns]")
        )
    for col in _CARRY:
        if col in ev:
            table[col] = _first_valid(ev[col].reset_index(drop=True), starts, n_rows)

    table = _add_repeats(table, link=link, keys=repeat_keys, window_days=repeat_window_days)
    table = _add_settlement(table, pledge_ts, obs_ns, settle_window_days)

    front = [
        "case_id", "opened_at", "closed_at", "settled_at", "observation_end", "duration_days",
        "closed", "settled", "settle_days", "settle_observed", "agencies", "n_agencies", "pattern",
        "n_agency_types", "first_agency", "first_agency_type", "n_handovers", "joint_conference",
        "leader_involved", "year", "repeat_ordinal", "repeat_kind", "matter_id", "petitioner_id",
        "category", "street", "channel",
    ]
    for col in ("category", "street", "channel", "petitioner_id"):
        if col not in table:
            table[col] = pd.Series(pd.NA, index=table.index, dtype="str")
    cols = [c for c in front if c in table] + [c for c in table if c not in front]
    table = table[cols]
    table.attrs["observation_end"] = obs_end
    table.attrs["settle_window_days"] = settle_window_days
    table.attrs["pattern_on"] = pattern_on
    table.attrs["n_events_after_observation_end"] = n_after
    return table


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


def _add_settlement(
    table: pd.DataFrame, pledge_ts: np.ndarray, obs_ns: int, window_days: float
) -> pd.DataFrame:
    n = len(table)
    opened = table["opened_at"].to_numpy().astype("datetime64[ns]").view(np.int64)
    closed = table["closed"].to_numpy()
    close_ts = np.where(
        closed, table["closed_at"].to_numpy().astype("datetime64[ns]").view(np.int64), _BIG
    )
    window_ns = round(window_days * _NS_PER_DAY)
    # next filing of the same matter opened at or after this case's closure
    matter = pd.factorize(table["matter_id"].fillna(table["case_id"]).astype("str"))[0]
    next_open = np.full(n, _BIG, dtype=np.int64)
    # only filings of matters with more than one filing can be re-filed
    multi = np.bincount(matter)[matter] > 1 if n else np.zeros(0, dtype=bool)
    if n and (closed & multi).any():
        t0 = int(opened.min())
        # one int64 key per (matter, time) in seconds: matter-major ordering
        span = int((max(int(opened.max()), obs_ns) - t0) // 10**9) + 2
        okey = matter.astype(np.int64) * span + (opened - t0) // 10**9
        sorted_key = np.sort(okey)
        # filings opened strictly after the closure second (never the case itself)
        qsec = np.where(closed, (np.minimum(close_ts, obs_ns) - t0) // 10**9 + 1, 0)
        q = matter.astype(np.int64) * span + qsec
        look = np.flatnonzero(closed & multi)
        look = look[np.argsort(q[look])]  # sorted queries: a cache-friendly binary search
        pos = np.full(n, n, dtype=np.int64)
        pos[look] = np.searchsorted(sorted_key, q[look], side="left")
        ok = closed & multi & (pos < n)
        hit = np.zeros(n, dtype=bool)
        hit[ok] = (sorted_key[pos[ok]] // span) == matter[ok]
        nxt = np.where(hit, sorted_key[np.minimum(pos, n - 1)] % span, -1)
        next_open = np.where(hit, t0 + nxt * 10**9, _BIG)
    refiled = closed & (next_open != _BIG) & (next_open - close_ts <= window_ns)
    window_done = closed & (close_ts + window_ns <= obs_ns)
    settled_by_window = closed & ~refiled & window_done
    has_pledge = pledge_ts != _BIG
    settle_ts = np.where(has_pledge, pledge_ts, _BIG)
    settle_ts = np.where(settled_by_window, np.minimum(settle_ts, close_ts), settle_ts)
    settled = settle_ts != _BIG
    # follow-up when not settled: closure with window pending -> censored at the closure;
    # re-filed or still open -> censored at the observation end
    pending = closed & ~refiled & ~window_done & ~has_pledge
    follow_end = np.where(settled, settle_ts, np.where(pending, close_ts, obs_ns))
    table["settled"] = settled
    table["settle_observed"] = settled
    table["settled_at"] = pd.to_datetime(
        np.where(settled, settle_ts, np.iinfo(np.int64).min).astype("datetime64[ns]")
    )
    table["settle_days"] = np.maximum(follow_end - opened, 0) / _NS_PER_DAY
    table["refiled_within_window"] = refiled
    return table


def build_matter_view(cases: pd.DataFrame) -> pd.DataFrame:
    """One row per matter (a chain of filings by the same petitioner on the same matter).

    Parameters
    ----------
    cases : DataFrame
        A case table from :func:`build_case_table` (needs ``matter_id``).

    Returns
    -------
    DataFrame
        ``matter_id, n_filings, first_opened_at, last_opened_at, last_closed_at, n_closed,
        settled, first_settled_at, chain_days, patterns, petitioner_id, category``;
        ``patterns`` lists the filings' patterns in filing order joined with `` > ``.
        ``chain_days`` runs from the first filing to the settlement, else to the observation end.

    Examples
    --------
    >>> cases = pd.DataFrame({
    ...     "case_id": ["a", "b", "c"], "matter_id": ["m1", "m1", "m2"],
    ...     "opened_at": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-01-05"]),
    ...     "closed_at": pd.to_datetime(["2024-02-01", None, "2024-01-20"]),
    ...     "closed": [True, False, True], "settled": [False, False, True],
    ...     "settled_at": pd.to_datetime([None, None, "2024-01-20"]),
    ...     "pattern": ["p", "p+q", "q"],
    ... })
    >>> view = ck.build_matter_view(cases)
    >>> view[["matter_id", "n_filings", "settled", "patterns"]]
      matter_id  n_filings  settled patterns
    0        m1          2    False  p > p+q
    1        m2          1     True        q
    """
    if "matter_id" not in cases:
        raise CasekitError("cases: missing column 'matter_id' (build it with build_case_table)")
    c = cases.sort_values(["matter_id", "opened_at"], kind="stable")
    g = c.groupby("matter_id", sort=True)
    view = g.agg(
        n_filings=("case_id", "size"),
        first_opened_at=("opened_at", "min"),
        last_opened_at=("opened_at", "max"),
        last_closed_at=("closed_at", "max"),
        n_closed=("closed", "sum"),
        settled=("settled", "any") if "settled" in c else ("closed", "any"),
    )
    if "settled_at" in c:
        view["first_settled_at"] = g["settled_at"].min()
    if "pattern" in c:
        view["patterns"] = g["pattern"].agg(" > ".join)
    for col in ("petitioner_id", "category"):
        if col in c:
            view[col] = g[col].first()
    obs = cases.attrs.get("observation_end")
    if "first_settled_at" in view:
        end = view["first_settled_at"]
        if obs is not None:
            end = end.fillna(pd.Timestamp(obs))
        view["chain_days"] = (end - view["first_opened_at"]).dt.total_seconds() / 86400
    view = view.reset_index()
    view.attrs["observation_end"] = obs
    return view

