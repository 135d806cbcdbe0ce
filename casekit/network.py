"""Agency networks: who works with whom on cases, who hands cases to whom, who sits together.

Three graphs are built from a canonical event table (one row per event, ``case_id``,
``timestamp``, ``agency``, optionally ``agency_type``, ``activity``, ``participants``):

* :func:`build_working_together_network`: undirected ``nx.Graph``; edge ``count`` = number of
  cases in which both agencies acted, ``share`` = count / number of cases.
* :func:`build_handover_network`: ``nx.DiGraph``; edge ``count`` = consecutive event pairs
  a -> b inside cases (time order, ties in source order), ``share`` = count / all consecutive
  pairs, ``median_lag_days`` = median time between the two events.
* :func:`build_joint_conference_network`: bipartite conference-agency graph of
  ``joint_conference`` events and its weighted projection onto agencies.
* :func:`build_agency_networks`: the first two from one encoding of the events (faster).

Counting is vectorised numpy on integer codes: agencies are dictionary-encoded, case boundaries
come from adjacent comparisons on the (already sorted) case column, hand-over pairs from shifted
arrays and co-occurrence from per-case agency bit masks (up to 64 agencies) or from the distinct
(case, agency) pairs found by one sort. Pair counts are sparse (int64 keys ``a * K + b``, a flat
``np.bincount`` table up to 2048 agencies, sorted and merged above), so memory grows with the
pairs that occur, never with agencies squared: 100,000 agencies fit in well under 2 GiB.
networkx graphs are only built at the end, from the edge table, and every graph metric
(:func:`network_metrics`) is a networkx algorithm (R10).

The counts are defined to equal PM4Py's de-normalised social-network values: handover of work
(``beta=0``) with self pairs equals ``build_handover_network(..., include_self=True)`` counts, and
working together equals our ``count`` (PM4Py divides by the number of events of a DataFrame log).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import networkx as nx
import numpy as np
import pandas as pd

from casekit._utils import CasekitError, datetime_ns
from casekit.engine import distinct

__all__ = [
    "build_agency_networks",
    "build_handover_network",
    "build_joint_conference_network",
    "build_network_by_period",
    "build_working_together_network",
    "edges_to_frame",
    "find_referral_loops",
    "network_metrics",
    "nodes_to_frame",
]

Level = Literal["agency", "agency_type"]

_NS_PER_DAY = 86_400 * 10**9
_BITMASK_MAX = 64  # agencies up to this many: per-case uint64 bit masks


# --------------------------------------------------------------------------------------------
# encoding: events -> integer arrays, sorted by (case, time) with ties in source order
# --------------------------------------------------------------------------------------------
@dataclass
class _Encoded:
    node: np.ndarray  # int32 node (agency) code per event, in case/time order
    labels: list[str]  # node label per code (dictionary order; sort labels for output)
    time: np.ndarray | None  # int64 ns per event (NaT -> int64 max), or None
    starts: np.ndarray  # position of each case's first event (int64, ascending)
    row: np.ndarray | None  # original row position per event (None = identity)
    has_nat: bool = False

    @property
    def n_events(self) -> int:
        return len(self.node)

    @property
    def n_cases(self) -> int:
        return len(self.starts)

    @property
    def case(self) -> np.ndarray:
        """Case code (0, 1, ...) per event."""
        sizes = np.diff(np.append(self.starts, self.n_events))
        return np.repeat(np.arange(self.n_cases, dtype=np.int64), sizes)


def _require(events: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    if not isinstance(events, pd.DataFrame):
        raise CasekitError(f"{what}: expected a pandas DataFrame of events, got {type(events).__name__}")
    missing = [c for c in columns if c not in events.columns]
    if missing:
        found = ", ".join(map(str, events.columns)) or "(none)"
        raise CasekitError(
            f"{what}: missing column {missing[0]!r} (needed: {', '.join(columns)}); found: {found}"
        )


def _time_ns(series: pd.Series) -> tuple[np.ndarray, bool]:
    """Timestamps as int64 ns (NaT -> int64 max, i.e. last in its case) and whether NaT occurs."""
    t = datetime_ns(series, str(series.name))
    nat = t == np.iinfo(np.int64).min
    if nat.any():
        t = t.copy()
        t[nat] = np.iinfo(np.int64).max
        return t, True
    return t, False


def _pyarrow_strings(series: pd.Series) -> Any:
    """Return the column as a pyarrow string array (zero-copy for arrow-backed ``str``)."""
    import pyarrow as pa

    arr = pa.array(series, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pa.array(series.astype("str"), from_pandas=True)
    return arr


def _starts_if_sorted(series: pd.Series) -> np.ndarray | None:
    """Case start positions if the case column is sorted (fast path), else None."""
    n = len(series)
    if n <= 1:
        return np.zeros(min(n, 1), dtype=np.int64)
    if pd.api.types.is_numeric_dtype(series) and not series.hasnans:
        v = series.to_numpy()
        if not (v[1:] < v[:-1]).any():
            return np.concatenate([[0], np.flatnonzero(v[1:] != v[:-1]) + 1])
        return None
    from casekit.cases import _case_runs

    runs = _case_runs(series)  # arrow text: every case one run (contiguous), no hashing
    if runs is not None:
        return runs[0].astype(np.int64)
    if pd.api.types.is_string_dtype(series) or series.dtype == object:
        try:
            import pyarrow.compute as pc

            arr = _pyarrow_strings(series)
            if arr.null_count == 0:
                neq = np.asarray(pc.not_equal(arr.slice(1), arr.slice(0, n - 1)))
                starts = np.concatenate([[0], np.flatnonzero(neq) + 1])
                # sorted iff the first ids of the blocks are strictly increasing
                firsts = arr.take(starts)
                m = len(firsts)
                if m <= 1 or not pc.any(
                    pc.less_equal(firsts.slice(1), firsts.slice(0, m - 1))
                ).as_py():
                    return starts
        except (TypeError, ValueError, ImportError):  # odd object columns: factorize instead
            return None
    return None


def _encode_labels(series: pd.Series, missing_label: str | None) -> tuple[np.ndarray, list[str]]:
    """Dictionary-encode a label column (codes in dictionary order); missing -> ``missing_label``.

    Returns int32 codes (``-1`` for missing when ``missing_label`` is None) and the labels.
    """
    from casekit.cases import _arrow_column, _dictionary_codes

    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.int32)
        cats = [str(c) for c in series.cat.categories]
    elif (arr := _arrow_column(series)) is not None:  # arrow text: no combined copy
        fcodes, uniq = _dictionary_codes(arr)
        codes = fcodes.astype(np.int32)
        cats = [str(x) for x in uniq]
    else:
        try:
            import pyarrow.compute as pc

            enc = pc.dictionary_encode(_pyarrow_strings(series))
            idx = enc.indices
            if idx.null_count:
                idx = idx.fill_null(-1)
            codes = np.asarray(idx).astype(np.int32, copy=False)
            cats = [str(x) for x in enc.dictionary.to_pylist()]
        except (TypeError, ValueError, ImportError):  # pragma: no cover - non-string labels
            fcodes, uniq = pd.factorize(series.astype("str"))
            codes = fcodes.astype(np.int32)
            cats = [str(x) for x in uniq]
    if missing_label is not None:
        missing = codes < 0
        if missing.any():
            codes = codes.copy()
            if missing_label in cats:
                codes[missing] = cats.index(missing_label)
            else:
                cats.append(missing_label)
                codes[missing] = len(cats) - 1
    return codes, cats


def _first_index(codes: np.ndarray, k: int) -> np.ndarray:
    """Position of the first occurrence of each code 0..k-1 (len(codes) if absent), O(n)."""
    first = np.full(k, len(codes), dtype=np.int64)
    todo = k
    start, step = 0, 65_536
    while todo and start < len(codes):
        chunk = codes[start : start + step]
        u, i = np.unique(chunk, return_index=True)
        keep = u >= 0
        u, i = u[keep], i[keep]
        new = first[u] == len(codes)
        first[u[new]] = start + i[new]
        todo = int((first == len(codes)).sum())
        start += step
        step *= 4
    return first


def _stable_order(codes: np.ndarray, t: np.ndarray | None) -> np.ndarray:
    """Stable order by (case code, time): one combined int64 key when it fits, else lexsort."""
    if t is None:
        return np.argsort(codes, kind="stable")
    n = len(codes)
    tmin = int(t.min()) if n else 0
    span = (int(t.max()) - tmin + 1) if n else 1
    if n and (int(codes.max()) + 1) * span < 2**62:
        return np.argsort(codes.astype(np.int64) * span + (t - tmin), kind="stable")
    return np.lexsort((t, codes))


def _encode(
    events: pd.DataFrame,
    *,
    what: str,
    level: str,
    need_time: bool,
    cases: Iterable[Any] | None,
    missing_agency: str | None,
) -> _Encoded:
    if level not in ("agency", "agency_type"):
        raise CasekitError(f"{what}: level must be 'agency' or 'agency_type', got {level!r}")
    needed = ["case_id", level] + (["timestamp"] if need_time else [])
    _require(events, needed, what)
    if cases is not None:
        wanted = pd.Index(list(cases) if not isinstance(cases, pd.Index) else cases)
        events = events.loc[events["case_id"].isin(wanted).to_numpy()]
    n = len(events)
    t, has_nat = _time_ns(events["timestamp"]) if need_time else (None, False)
    starts = _starts_if_sorted(events["case_id"])
    if starts is not None and t is not None and n > 1:
        dec = t[1:] < t[:-1]
        dec[starts[1:] - 1] = False  # decreasing across a case boundary is fine
        if dec.any():
            starts = None
    order: np.ndarray | None = None
    if starts is None:  # not sorted lexicographically: factorize; sort only if needed
        codes = pd.factorize(events["case_id"], use_na_sentinel=False)[0].astype(np.int64)
        d = np.diff(codes)
        contiguous = bool(((d == 0) | (d == 1)).all())
        time_ok = t is None or not ((d == 0) & (t[1:] < t[:-1])).any()
        if not (contiguous and time_ok):
            order = _stable_order(codes, t)
            codes = codes[order]
            t = t[order] if t is not None else None
        starts = np.concatenate([[0], np.flatnonzero(codes[1:] != codes[:-1]) + 1])
    if n == 0:
        starts = np.zeros(0, dtype=np.int64)
    node, labels = _encode_labels(events[level], missing_agency)
    if order is not None:
        node = node[order]
    row = order
    if missing_agency is None and (node < 0).any():  # drop events with no agency
        keep = node >= 0
        case = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, n)))[keep]
        row = (np.arange(n) if row is None else row)[keep]
        node = node[keep]
        t = t[keep] if t is not None else None
        starts = (
            np.concatenate([[0], np.flatnonzero(case[1:] != case[:-1]) + 1])
            if len(case) else np.zeros(0, dtype=np.int64)
        )
    return _Encoded(node, labels, t, starts.astype(np.int64), row, has_nat)


def _node_types(events: pd.DataFrame, enc: _Encoded, level: str) -> list[str]:
    """Agency type of each node: its type at its first event (``unknown`` if not given)."""
    if level == "agency_type":
        return list(enc.labels)
    if "agency_type" not in events.columns:
        return ["unknown"] * len(enc.labels)
    pos = _first_index(enc.node, len(enc.labels))
    found = pos < enc.n_events
    rows = pos[found] if enc.row is None else enc.row[pos[found]]
    values = events["agency_type"].iloc[rows].tolist()
    out = ["unknown"] * len(enc.labels)
    for i, v in zip(np.flatnonzero(found).tolist(), values, strict=True):
        if isinstance(v, str) and v:
            out[i] = v
    return out


# --------------------------------------------------------------------------------------------
# counting kernels: sort-based and sparse (memory grows with the pairs that occur, never K x K)
# --------------------------------------------------------------------------------------------
_DENSE_MAX = 1 << 22  # up to this many agency pairs (K <= 2048): bincount over a flat K*K table


@dataclass
class _Pairs:
    """Sparse pair counts: ``keys`` (sorted int64 ``a * K + b``) with their ``counts``."""

    keys: np.ndarray
    counts: np.ndarray

    @classmethod
    def empty(cls) -> _Pairs:
        return cls(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    @classmethod
    def from_dense(cls, flat: np.ndarray) -> _Pairs:
        keys = np.flatnonzero(flat)
        return cls(keys.astype(np.int64), flat[keys].astype(np.int64))


def _run_lengths(sorted_keys: np.ndarray) -> _Pairs:
    """Distinct keys of a sorted array and how often each occurs."""
    n = len(sorted_keys)
    if n == 0:
        return _Pairs.empty()
    starts = np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))
    counts = np.diff(np.append(starts, n))
    return _Pairs(sorted_keys[starts].astype(np.int64), counts.astype(np.int64))


def _count_keys(keys: np.ndarray) -> _Pairs:
    """Occurrences of each distinct integer key, by sorting (no table of all possible keys).

    Examples
    --------
    >>> p = _count_keys(np.array([7, 2, 7, 7]))
    >>> p.keys.tolist(), p.counts.tolist()
    ([2, 7], [1, 3])
    """
    return _run_lengths(np.sort(keys))


def _merge(a: _Pairs, b: _Pairs) -> _Pairs:
    """Sum two sparse count tables."""
    if not len(a.keys):
        return b
    keys = np.concatenate([a.keys, b.keys])
    counts = np.concatenate([a.counts, b.counts])
    order = np.argsort(keys, kind="stable")
    merged = _run_lengths(keys[order])
    starts = np.concatenate([[0], np.cumsum(merged.counts)[:-1]])
    return _Pairs(merged.keys, np.add.reduceat(counts[order], starts))


def _pair_counts(
    row: np.ndarray, col: np.ndarray, weight: np.ndarray | None, k: int
) -> tuple[np.ndarray, _Pairs]:
    """Co-occurrence counts from (row, col) incidence sorted by row, distinct cols per row.

    Pairs (col[p], col[p + d]) inside a row are visited offset by offset (d = 1, 2, ...), so
    the work is the number of pairs; ``weight`` is a multiplicity per incidence (its row's).
    Returns the weighted rows per column and the sparse counts of unordered pairs
    ``lo * k + hi`` (lo < hi). Up to :data:`_DENSE_MAX` pairs a flat table is summed by
    ``np.bincount``; above, each offset's keys are sorted and merged (memory grows with the
    pairs that occur).
    """
    w = None if weight is None else weight.astype(np.float64)
    n_cases = np.rint(np.bincount(col, weights=w, minlength=k)).astype(np.int64)
    dense = k * k <= _DENSE_MAX
    flat = np.zeros(k * k if dense else 0, dtype=np.float64 if w is not None else np.int64)
    acc = _Pairs.empty()
    n = len(row)
    p = np.arange(n - 1) if n > 1 else np.zeros(0, dtype=np.int64)  # p + d still in p's row
    d = 1
    while len(p):
        p = p[row[p + d] == row[p]]  # rows are sorted: once p + d leaves p's row, so does p + d + 1
        if not len(p):
            break
        a, b = col[p].astype(np.int64), col[p + d].astype(np.int64)
        key = np.minimum(a, b) * k + np.maximum(a, b)
        if dense:
            flat += np.bincount(key, weights=None if w is None else w[p], minlength=k * k)
        else:  # weights only come with the bit-mask path, which is dense
            acc = _merge(acc, _count_keys(key))
        d += 1
        p = p[p + d < n]
    return n_cases, (_Pairs.from_dense(np.rint(flat).astype(np.int64)) if dense else acc)


def _incidence_counts(enc: _Encoded, *, force_general: bool = False) -> tuple[np.ndarray, _Pairs]:
    """Cases per agency and cases per unordered agency pair (sparse ``lo * K + hi``, lo < hi).

    Up to 64 agencies each case becomes a uint64 bit mask of its agencies and only distinct
    masks are expanded; above, the distinct (case, agency) pairs come from one sort of
    ``case * K + agency`` keys.
    """
    k = len(enc.labels)
    if enc.n_events == 0 or k == 0:
        return np.zeros(k, dtype=np.int64), _Pairs.empty()
    if k <= _BITMASK_MAX and not force_general:
        table = np.left_shift(np.uint64(1), np.arange(k, dtype=np.uint64))
        masks = np.bitwise_or.reduceat(table[enc.node], enc.starts)
        uniq, mult = np.unique(masks, return_counts=True)  # sort-based (return_counts)
        present = ((uniq[:, None] >> np.arange(k, dtype=np.uint64)) & np.uint64(1)).astype(bool)
        row, col = np.nonzero(present)  # row-major: sorted by row, cols ascending
        return _pair_counts(row, col, mult[row], k)
    row, col = _case_node_pairs(enc)
    return _pair_counts(row, col, None, k)


def _case_node_pairs(enc: _Encoded) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (case, node) pairs, sorted by case then node: one sort of ``case * K + node``.

    Keys are int32 when they fit (half the memory traffic of int64), and an event whose node
    repeats the previous event's in the same case is dropped before the sort.

    Examples
    --------
    >>> enc = _Encoded(np.array([1, 1, 0, 1, 1], np.int32), ["a", "b"], None,
    ...                np.array([0, 3]), None)
    >>> [x.tolist() for x in _case_node_pairs(enc)]
    [[0, 0, 1], [0, 1, 1]]
    """
    k, n = len(enc.labels), enc.n_events
    dt = np.int32 if enc.n_cases * k < 2**31 else np.int64
    node = enc.node.astype(dt, copy=False)
    keep = np.ones(n, dtype=bool)
    if n > 1:
        keep[1:] = node[1:] != node[:-1]
        keep[enc.starts] = True
    case = np.repeat(np.arange(enc.n_cases, dtype=dt), np.diff(np.append(enc.starts, n)))
    key = distinct(case[keep] * dt(k) + node[keep])
    row = key // dt(k)
    return row, key - row * dt(k)


def _cases_per_node(enc: _Encoded) -> np.ndarray:
    """Count the distinct cases each node acted in (from :func:`_case_node_pairs`)."""
    k = len(enc.labels)
    if enc.n_events == 0 or k == 0:
        return np.zeros(k, dtype=np.int64)
    return np.bincount(_case_node_pairs(enc)[1], minlength=k).astype(np.int64)


def _key_dtype(n_keys: int) -> type:
    return np.int16 if n_keys < 2**15 else np.int32 if n_keys < 2**31 else np.int64


def _pair_keys(enc: _Encoded) -> tuple[np.ndarray, int]:
    """Key ``a * K + b`` of every adjacent event pair; pairs across cases get ``K * K``."""
    k = len(enc.labels)
    kk = k * k
    dt = _key_dtype(kk + 1)
    node: np.ndarray = enc.node.astype(dt, copy=False)
    key = node[:-1] * dt(k)
    key += node[1:]
    key[enc.starts[1:] - 1] = kk  # pairs across cases
    return key, kk


def _group_medians(
    keys: np.ndarray, lag: np.ndarray, candidates: np.ndarray | None = None
) -> _Pairs | None:
    """Median lag (float ns, in ``counts``' place) per distinct key via one combined sort.

    The key and the lag (in the coarsest exact unit: s, ms, us or ns) are packed into one
    int64 and sorted, so each key's lags come out sorted; each key's block is found by binary
    search among the sorted ``candidates`` (a superset of the keys; default: the distinct keys)
    and its median read off the middle. Returns None when they do not fit into 63 bits.
    """
    if not len(keys):
        return _Pairs(np.zeros(0, dtype=np.int64), np.zeros(0))
    top = int(lag.max())
    if int(lag.min()) < 0:
        return None
    cand = distinct(keys) if candidates is None else candidates.astype(np.int64)
    key_bits = (max(int(keys.max()), int(cand.max())) + 1).bit_length()  # room for cand + 1
    for unit in (10**9, 10**6, 10**3, 1):
        if (top // unit).bit_length() + key_bits <= 62 and not (lag % unit).any():
            break
    else:
        return None
    shift = 62 - key_bits
    packed = keys.astype(np.int64) << shift
    packed |= lag // unit if unit > 1 else lag
    packed.sort()
    lo = np.searchsorted(packed, cand << shift)
    m = np.searchsorted(packed, (cand + 1) << shift) - lo
    found = m > 0
    lo, m = lo[found], m[found]
    mask = (1 << shift) - 1
    a = (packed[lo + (m - 1) // 2] & mask) * unit
    b = (packed[lo + m // 2] & mask) * unit
    return _Pairs(cand[found], (a + b) / 2)


def _group_medians_general(keys: np.ndarray, lag: np.ndarray) -> _Pairs:
    """Median lag per distinct key: argsort by key, then a partition per key."""
    order = np.argsort(keys, kind="stable")
    groups = _run_lengths(keys[order])
    vs = lag[order]
    bounds = np.concatenate([[0], np.cumsum(groups.counts)])
    med = np.empty(len(groups.keys))
    for g in range(len(groups.keys)):
        v = vs[bounds[g] : bounds[g + 1]]
        h = len(v) // 2
        if len(v) % 2:
            med[g] = np.partition(v, h)[h]
        else:
            part = np.partition(v, (h - 1, h))
            med[g] = (part[h - 1] + part[h]) / 2
    return _Pairs(groups.keys, med)


def _handover_counts(
    enc: _Encoded, *, lags: bool, self_lags: bool = True
) -> tuple[_Pairs, np.ndarray | None]:
    """Consecutive pairs per key a * K + b (sparse) and the median lag (days) of each key.

    All adjacent event pairs get a key; pairs that cross a case boundary get the extra key
    K * K. Up to :data:`_DENSE_MAX` keys they are counted with ``np.bincount``; above, sorted.
    Without ``self_lags`` the lags of self pairs (a -> a) are not computed (NaN).
    """
    k = len(enc.labels)
    if enc.n_events < 2 or k == 0:
        return _Pairs.empty(), (np.zeros(0) if lags else None)
    key, kk = _pair_keys(enc)
    if kk + 1 <= _DENSE_MAX:
        counts = _Pairs.from_dense(np.bincount(key, minlength=kk + 1)[:kk])
    else:
        counts = _count_keys(key[key != kk])
    if not lags or enc.time is None:
        return counts, None
    t = enc.time
    ok = key != kk
    if enc.has_nat:  # pairs touching a missing timestamp have no lag
        nat = np.iinfo(np.int64).max
        ok &= (t[1:] != nat) & (t[:-1] != nat)
    if not self_lags:
        ok &= enc.node[1:] != enc.node[:-1]
    lag_key, lag = key[ok], (t[1:] - t[:-1])[ok]
    med = _group_medians(lag_key, lag, counts.keys)
    if med is None:
        med = _group_medians_general(lag_key, lag)
    out = np.full(len(counts.keys), np.nan)
    out[np.searchsorted(counts.keys, med.keys)] = med.counts / _NS_PER_DAY
    return counts, out


# --------------------------------------------------------------------------------------------
# public builders
# --------------------------------------------------------------------------------------------
def _add_nodes(G: nx.Graph, enc: _Encoded, types: list[str], present: np.ndarray) -> None:
    k = len(enc.labels)
    n_events = np.bincount(enc.node, minlength=k) if enc.n_events else np.zeros(k, dtype=np.int64)
    ne, nc, lab = n_events.tolist(), np.asarray(present).tolist(), enc.labels
    order = sorted(np.flatnonzero(n_events).tolist(), key=lab.__getitem__)
    G.add_nodes_from(
        (lab[i], {"agency_type": types[i], "n_cases": int(nc[i]), "n_events": ne[i]})
        for i in order
    )


def build_working_together_network(
    events: pd.DataFrame,
    *,
    level: Level = "agency",
    cases: Iterable[Any] | None = None,
    missing_agency: str | None = "unknown",
) -> nx.Graph:
    """Build the undirected working-together network of agencies.

    Two agencies are linked when both acted (had at least one event) in the same case.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events with ``case_id`` and ``agency`` (or ``agency_type`` for
        ``level="agency_type"``); ``agency_type`` becomes a node attribute when present.
    level : {"agency", "agency_type"}
        Nodes are agencies, or agency types (the aggregated network).
    cases : iterable, optional
        Only these case ids (e.g. repeat filings only). The shares are then relative to the
        cases of the subset.
    missing_agency : str or None
        Label for events with no agency (default ``"unknown"``); None drops those events.

    Returns
    -------
    networkx.Graph
        Edge attributes ``count`` (cases in which both acted) and ``share`` (count / number of
        cases). Node attributes ``agency_type``, ``n_cases`` (cases the agency acted in) and
        ``n_events``. Graph attributes ``kind``, ``level``, ``n_cases``, ``n_events``.

    Raises
    ------
    casekit.CasekitError
        If a needed column is missing.

    See Also
    --------
    build_handover_network, edges_to_frame, network_metrics

    Notes
    -----
    ``count`` equals PM4Py's working-together value times its denominator (the number of
    events when PM4Py is given a DataFrame, the number of cases for its older EventLog object).
    Each case is reduced to a bit mask of the agencies acting in it; distinct masks are counted
    and the agency pairs of each distinct mask are counted with ``np.bincount`` (above 64
    agencies: the distinct (case, agency) pairs).

    Examples
    --------
    >>> ev = pd.DataFrame({
    ...     "case_id": ["c1", "c1", "c1", "c2", "c2", "c3"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03",
    ...                                  "2024-01-01", "2024-01-05", "2024-01-02"]),
    ...     "agency": ["street", "court", "street", "street", "court", "housing"],
    ... })
    >>> G = ck.build_working_together_network(ev)
    >>> G.edges["court", "street"]
    {'count': 2, 'share': 0.6666666666666666}
    >>> G.nodes["housing"]["n_cases"]
    1
    """
    enc = _encode(
        events, what="working together", level=level, need_time=False, cases=cases,
        missing_agency=missing_agency,
    )
    return _working_together_graph(enc, _node_types(events, enc, level), level,
                                   *_incidence_counts(enc))


def _working_together_graph(
    enc: _Encoded, types: list[str], level: str, n_cases: np.ndarray, pairs_: _Pairs
) -> nx.Graph:
    G = nx.Graph(kind="working_together", level=level, n_cases=enc.n_cases, n_events=enc.n_events)
    _add_nodes(G, enc, types, n_cases)
    k = len(enc.labels)
    ii, jj = np.divmod(pairs_.keys, k) if k else (pairs_.keys, pairs_.keys)
    denom = enc.n_cases or 1
    pairs = sorted(
        (min(enc.labels[i], enc.labels[j]), max(enc.labels[i], enc.labels[j]), c)
        for i, j, c in zip(ii.tolist(), jj.tolist(), pairs_.counts.tolist(), strict=True)
    )
    G.add_edges_from((u, v, {"count": c, "share": float(c / denom)}) for u, v, c in pairs)
    return G


def build_handover_network(
    events: pd.DataFrame,
    *,
    include_self: bool = False,
    level: Level = "agency",
    cases: Iterable[Any] | None = None,
    missing_agency: str | None = "unknown",
    lags: bool = True,
) -> nx.DiGraph:
    """Build the directed hand-over network: who passes the case to whom.

    Inside each case, events are taken in time order (ties in source order) and every
    consecutive pair of events (a, b) counts one hand-over a -> b.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events with ``case_id``, ``timestamp`` and ``agency`` (or ``agency_type``).
        Sorted input (the canonical order) is used as is; otherwise it is sorted stably.
    include_self : bool
        Keep self pairs a -> a (an agency acting twice in a row) as self-loops.
    level : {"agency", "agency_type"}
        Nodes are agencies or agency types.
    cases : iterable, optional
        Only these case ids.
    missing_agency : str or None
        Label for events with no agency (default ``"unknown"``); None drops those events (the
        pair then jumps over them).
    lags : bool
        Compute ``median_lag_days`` per edge (default True).

    Returns
    -------
    networkx.DiGraph
        Edge attributes ``count``, ``share`` and ``median_lag_days``; node attributes as in
        :func:`build_working_together_network`. Graph attributes ``kind``, ``level``,
        ``n_cases``, ``n_events``, ``n_pairs`` (all consecutive pairs, self pairs included:
        events - cases) and ``n_self_pairs``.

    Raises
    ------
    casekit.CasekitError
        If a needed column is missing.

    See Also
    --------
    build_working_together_network, find_referral_loops, network_metrics

    Notes
    -----
    ``share`` = count / ``n_pairs`` where ``n_pairs`` counts *all* consecutive pairs, self
    pairs included, also when they are left out of the graph. The shares are then PM4Py's
    handover-of-work values (``beta=0``), directly comparable across ``include_self`` settings;
    without self pairs they sum to 1 - ``n_self_pairs`` / ``n_pairs``.

    Examples
    --------
    >>> ev = pd.DataFrame({
    ...     "case_id": ["c1", "c1", "c1", "c2", "c2"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-04",
    ...                                  "2024-01-01", "2024-01-02"]),
    ...     "agency": ["bureau", "street", "street", "bureau", "street"],
    ... })
    >>> G = ck.build_handover_network(ev)
    >>> G.edges["bureau", "street"]
    {'count': 2, 'share': 0.6666666666666666, 'median_lag_days': 1.5}
    >>> G.graph["n_pairs"], G.has_edge("street", "street")
    (3, False)
    """
    enc = _encode(
        events, what="handover", level=level, need_time=True, cases=cases,
        missing_agency=missing_agency,
    )
    return _handover_graph(enc, _node_types(events, enc, level), level, include_self, lags)


def _handover_graph(
    enc: _Encoded, types: list[str], level: str, include_self: bool, lags: bool,
    n_cases: np.ndarray | None = None,
) -> nx.DiGraph:
    k = len(enc.labels)
    counts, med = _handover_counts(enc, lags=lags, self_lags=include_self)
    n_pairs = max(enc.n_events - enc.n_cases, 0)
    src, dst = np.divmod(counts.keys, k) if k else (counts.keys, counts.keys)
    n_self = int(counts.counts[src == dst].sum())
    G = nx.DiGraph(
        kind="handover", level=level, n_cases=enc.n_cases, n_events=enc.n_events,
        n_pairs=n_pairs, n_self_pairs=n_self, include_self=include_self,
    )
    _add_nodes(G, enc, types, _cases_per_node(enc) if n_cases is None else n_cases)
    denom = n_pairs or 1
    lab = enc.labels
    order = sorted(range(len(counts.keys)), key=lambda x: (lab[src[x]], lab[dst[x]]))
    c, meds = counts.counts.tolist(), None if med is None else med.tolist()
    si, di = src.tolist(), dst.tolist()

    def attrs(x: int) -> dict[str, Any]:
        a: dict[str, Any] = {"count": c[x], "share": float(c[x] / denom)}
        if meds is not None:
            a["median_lag_days"] = float(meds[x])
        return a

    G.add_edges_from((lab[si[x]], lab[di[x]], attrs(x)) for x in order
                     if include_self or si[x] != di[x])
    return G


def build_agency_networks(
    events: pd.DataFrame,
    *,
    include_self: bool = False,
    level: Level = "agency",
    cases: Iterable[Any] | None = None,
    missing_agency: str | None = "unknown",
    lags: bool = True,
) -> tuple[nx.Graph, nx.DiGraph]:
    """Build the working-together and the hand-over network in one pass over the events.

    Same results as :func:`build_working_together_network` and
    :func:`build_handover_network` with the same options, but the events are encoded (case
    boundaries, agency codes, time order) and the per-case agency sets computed once: on a
    10M-event log this takes about 60% of the two separate calls.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events with ``case_id``, ``timestamp`` and ``agency`` (or ``agency_type``).
    include_self, level, cases, missing_agency, lags
        As in :func:`build_handover_network`.

    Returns
    -------
    working_together : networkx.Graph
    handover : networkx.DiGraph

    Examples
    --------
    >>> ev = pd.DataFrame({
    ...     "case_id": ["c1", "c1", "c2", "c2"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03"]),
    ...     "agency": ["bureau", "street", "bureau", "court"],
    ... })
    >>> W, H = ck.build_agency_networks(ev)
    >>> sorted(W.edges(data="count")), sorted(H.edges(data="count"))
    ([('bureau', 'court', 1), ('bureau', 'street', 1)], [('bureau', 'court', 1), ('bureau', 'street', 1)])
    """
    enc = _encode(
        events, what="agency networks", level=level, need_time=True, cases=cases,
        missing_agency=missing_agency,
    )
    types = _node_types(events, enc, level)
    n_cases, pairs = _incidence_counts(enc)
    W = _working_together_graph(enc, types, level, n_cases, pairs)
    H = _handover_graph(enc, types, level, include_self, lags, n_cases)
    return W, H


# --------------------------------------------------------------------------------------------
# joint conferences
# --------------------------------------------------------------------------------------------
_SPLIT = re.compile(r"\s*[;；、,，]\s*")


def build_joint_conference_network(
    events: pd.DataFrame,
    *,
    activity: str = "joint_conference",
    level: Level = "agency",
) -> tuple[nx.Graph, nx.Graph]:
    """Build who sits together in joint conferences (联席会议): bipartite graph and projection.

    A conference is one ``joint_conference`` event when the event lists its ``participants``
    (agencies separated by ``;``, ``；``, ``、`` or ``,``; the event's own agency, the convener,
    is added); without a ``participants`` value, the conference is the set of agencies with a
    ``joint_conference`` event in the same case on the same day.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events with ``case_id``, ``timestamp``, ``activity``, ``agency``.
    activity : str
        The activity identifier that marks a conference (default ``"joint_conference"``).
    level : {"agency", "agency_type"}
        Agency nodes, or agency types (participants are then mapped to their type through the
        agency -> type pairs seen in the log; unseen participants become ``unknown``).

    Returns
    -------
    bipartite : networkx.Graph
        Conference nodes (``bipartite=0``, ``kind="conference"``, ``case_id``, ``date``) and
        agency nodes (``bipartite=1``, ``kind="agency"``, ``agency_type``).
    projection : networkx.Graph
        Agencies linked by ``count`` = conferences both attended and ``share`` = count /
        number of conferences (``networkx.bipartite.weighted_projected_graph``). Node attribute
        ``n_conferences``.

    Examples
    --------
    >>> ev = pd.DataFrame({
    ...     "case_id": ["c1", "c1", "c1", "c2"],
    ...     "timestamp": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 10:00",
    ...                                  "2024-01-02 09:00", "2024-02-01 09:00"]),
    ...     "activity": ["joint_conference", "joint_conference", "mediate", "joint_conference"],
    ...     "agency": ["street", "court", "street", "street"],
    ...     "participants": [None, None, None, "court;housing"],
    ... })
    >>> B, P = ck.build_joint_conference_network(ev)
    >>> sorted(P.edges(data="count"))
    [('court', 'housing', 1), ('court', 'street', 2), ('housing', 'street', 1)]
    >>> P.graph["n_conferences"]
    2
    """
    _require(events, ["case_id", "timestamp", "activity", "agency"], "joint conference")
    ev = events.loc[(events["activity"] == activity).to_numpy()]
    type_of: dict[str, str] = {}
    if "agency_type" in events.columns:
        pairs = events[["agency", "agency_type"]].dropna().drop_duplicates("agency")
        type_of = dict(zip(pairs["agency"].astype(str), pairs["agency_type"].astype(str),
                           strict=True))

    def node(a: str) -> str:
        return type_of.get(a, "unknown") if level == "agency_type" else a

    conferences: dict[str, dict[str, Any]] = {}
    days = pd.to_datetime(ev["timestamp"]).dt.strftime("%Y-%m-%d").to_numpy()
    has_part = "participants" in ev.columns
    parts = ev["participants"].to_numpy() if has_part else [None] * len(ev)
    for i, (case, agency, day, part) in enumerate(
        zip(ev["case_id"].to_numpy(), ev["agency"].to_numpy(), days, parts, strict=True)
    ):
        listed = isinstance(part, str) and part.strip() != ""
        cid = f"{case}@{day}#{i}" if listed else f"{case}@{day}"
        conf = conferences.setdefault(cid, {"case_id": str(case), "date": day, "agencies": set()})
        if isinstance(agency, str) and agency:
            conf["agencies"].add(node(agency))
        if listed:
            conf["agencies"].update(node(p) for p in _SPLIT.split(part.strip()) if p)
    B = nx.Graph(kind="joint_conference_bipartite", level=level)
    agencies = sorted({a for c in conferences.values() for a in c["agencies"]})
    for a in agencies:
        B.add_node(a, bipartite=1, kind="agency",
                   agency_type=a if level == "agency_type" else type_of.get(a, "unknown"))
    for cid, c in conferences.items():
        B.add_node(cid, bipartite=0, kind="conference", case_id=c["case_id"], date=c["date"])
        B.add_edges_from((cid, a) for a in c["agencies"])
    P = nx.bipartite.weighted_projected_graph(B, agencies)
    n_conf = len(conferences)
    for _, _, d in P.edges(data=True):
        d["count"] = int(d.pop("weight"))
        d["share"] = d["count"] / (n_conf or 1)
    for a in agencies:
        P.nodes[a]["n_conferences"] = B.degree(a)
    P.graph.update(kind="joint_conference", level=level, n_conferences=n_conf)
    return B, P


# --------------------------------------------------------------------------------------------
# tables, periods, metrics, loops
# --------------------------------------------------------------------------------------------
def edges_to_frame(G: nx.Graph) -> pd.DataFrame:
    """Edge table ``source, target, count, share`` (+ any other edge attributes).

    Undirected graphs give one row per unordered pair with ``source < target``. Rows are sorted
    by source and target.

    Examples
    --------
    >>> G = nx.Graph()
    >>> G.add_edge("b", "a", count=2, share=0.5)
    >>> ck.edges_to_frame(G)
      source target  count  share
    0      a      b      2    0.5
    """
    rows = []
    for u, v, d in G.edges(data=True):
        if not G.is_directed() and str(v) < str(u):
            u, v = v, u
        rows.append({"source": u, "target": v, **d})
    cols = ["source", "target", "count", "share"]
    df = pd.DataFrame(rows, columns=None if rows else cols)
    for c in cols:
        if c not in df.columns:
            df[c] = pd.Series(dtype="float64" if c == "share" else "int64" if c == "count" else "str")
    extra = [c for c in df.columns if c not in cols]
    df = df[cols + extra]
    if len(df):
        df = df.sort_values(["source", "target"], key=lambda s: s.astype(str)).reset_index(drop=True)
    return df


def nodes_to_frame(G: nx.Graph) -> pd.DataFrame:
    """Node table: one row per node, column ``node`` plus the node attributes.

    Examples
    --------
    >>> G = nx.Graph()
    >>> G.add_node("court", agency_type="court", n_cases=3)
    >>> ck.nodes_to_frame(G)
        node agency_type  n_cases
    0  court       court        3
    """
    return pd.DataFrame([{"node": n, **d} for n, d in G.nodes(data=True)],
                        columns=None if len(G) else ["node"])


def build_network_by_period(
    events: pd.DataFrame,
    *,
    kind: Literal["working_together", "handover"] = "working_together",
    by: Literal["quarter", "year", "month"] = "quarter",
    include_self: bool = False,
    level: Level = "agency",
    missing_agency: str | None = "unknown",
) -> pd.DataFrame:
    """Edge tables per time slice, stacked: ``period, source, target, count, share``.

    Each case belongs to the period in which it was opened (its first event), so a case is
    counted in exactly one period and shares are relative to that period's cases (working
    together) or consecutive pairs (handover).

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events.
    kind : {"working_together", "handover"}
        Which network.
    by : {"quarter", "year", "month"}
        Period length (pandas period string in the ``period`` column, e.g. ``2024Q1``).
    include_self, level, missing_agency
        As in the builders.

    Returns
    -------
    pandas.DataFrame
        Long table sorted by period, source, target; ``attrs["n_cases"]`` is JSON text mapping
        each period to its cases (``json.loads``; a string, so tables merge and pickle cleanly),
        periods without any pair of agencies included.

    Examples
    --------
    >>> ev = pd.DataFrame({
    ...     "case_id": ["c1", "c1", "c2", "c2"],
    ...     "timestamp": pd.to_datetime(["2024-01-05", "2024-01-09", "2024-05-01", "2024-05-02"]),
    ...     "agency": ["street", "court", "street", "court"],
    ... })
    >>> ck.build_network_by_period(ev, by="quarter")[["period", "source", "target", "count"]]
       period source  target  count
    0  2024Q1  court  street      1
    1  2024Q2  court  street      1
    """
    _require(events, ["case_id", "timestamp", level], "network by period")
    freq = {"quarter": "Q", "year": "Y", "month": "M"}.get(by)
    if freq is None:
        raise CasekitError(f"network by period: by must be quarter, year or month, got {by!r}")
    ts = pd.to_datetime(events["timestamp"])
    opened = ts.groupby(events["case_id"].to_numpy()).min()
    period = opened.dt.to_period(freq).astype(str)
    frames = []
    n_cases: dict[str, int] = {}
    for p, ids in period.groupby(period.to_numpy()).groups.items():
        if kind == "handover":
            G = build_handover_network(events, include_self=include_self, level=level, cases=ids,
                                       missing_agency=missing_agency)
        elif kind == "working_together":
            G = build_working_together_network(events, level=level, cases=ids,
                                               missing_agency=missing_agency)
        else:
            raise CasekitError(f"network by period: unknown kind {kind!r}")
        n_cases[str(p)] = G.graph["n_cases"]
        e = edges_to_frame(G)
        e.insert(0, "period", str(p))
        frames.append(e)
    cols = ["period", "source", "target", "count", "share"]
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    out = out.sort_values(["period", "source", "target"]).reset_index(drop=True)
    out.attrs["n_cases"] = json.dumps(n_cases, ensure_ascii=False)
    return out


def _undirected_sum(G: nx.Graph, weight: str) -> nx.Graph:
    if not G.is_directed():
        return G
    U = nx.Graph()
    U.add_nodes_from(G.nodes(data=True))
    for u, v, w in G.edges(data=weight, default=1):
        if U.has_edge(u, v):
            U[u][v][weight] += w
        else:
            U.add_edge(u, v, **{weight: w})
    return U


def network_metrics(G: nx.Graph, *, weight: str = "count", seed: int = 0) -> pd.DataFrame:
    """Per-node metrics, all computed by networkx algorithms.

    Parameters
    ----------
    G : networkx.Graph or networkx.DiGraph
        A casekit network (edge attribute ``count``).
    weight : str
        Edge attribute used as weight (default ``count``).
    seed : int
        Seed of the Louvain community detection.

    Returns
    -------
    pandas.DataFrame
        Indexed by node: ``agency_type``, ``weighted_degree`` (sum of ``weight`` over incident
        edges; also ``in_weight`` and ``out_weight`` for directed graphs), ``betweenness``
        (weighted, distance = 1 / count: brokers on strong ties), ``eigenvector``,
        ``community`` (``louvain_communities``, numbered by size), and for directed graphs
        ``reciprocity`` per node. ``attrs`` holds ``reciprocity`` (whole graph, directed only),
        ``modularity`` and ``n_communities``.

    Notes
    -----
    Eigenvector centrality uses ``nx.eigenvector_centrality`` (in-edges for directed graphs)
    and falls back to ``eigenvector_centrality_numpy`` if the power iteration does not
    converge; NaN for a graph without edges. Communities are found on the undirected graph
    (directed counts summed both ways).

    Examples
    --------
    >>> G = nx.Graph()
    >>> G.add_edge("a", "b", count=3)
    >>> G.add_edge("b", "c", count=1)
    >>> m = ck.network_metrics(G)
    >>> m["weighted_degree"].to_dict()
    {'a': 3, 'b': 4, 'c': 1}
    >>> float(m.loc["b", "betweenness"])
    1.0
    """
    if not isinstance(G, nx.Graph) or G.is_multigraph():
        raise CasekitError("network metrics: expected a networkx Graph or DiGraph (not a multigraph)")
    nodes = list(G.nodes)
    df = pd.DataFrame(index=pd.Index(nodes, name="node"))
    df["agency_type"] = [G.nodes[n].get("agency_type", "unknown") for n in nodes]
    deg = dict(G.degree(weight=weight))
    df["weighted_degree"] = [deg[n] for n in nodes]
    if G.is_directed():
        din, dout = dict(G.in_degree(weight=weight)), dict(G.out_degree(weight=weight))
        df["in_weight"] = [din[n] for n in nodes]
        df["out_weight"] = [dout[n] for n in nodes]
    H = G.copy()
    for _, _, d in H.edges(data=True):
        w = d.get(weight, 1)
        d["_distance"] = 1.0 / w if w else np.inf
    bc = nx.betweenness_centrality(H, weight="_distance", normalized=True)
    df["betweenness"] = [bc[n] for n in nodes]
    if G.number_of_edges():
        try:
            ec = nx.eigenvector_centrality(G, weight=weight, max_iter=1000)
        except (nx.PowerIterationFailedConvergence, nx.NetworkXException):
            try:
                ec = nx.eigenvector_centrality_numpy(G, weight=weight)
            except (nx.NetworkXException, ValueError, TypeError, ImportError):  # degenerate
                ec = dict.fromkeys(nodes, np.nan)
        df["eigenvector"] = [ec[n] for n in nodes]
    else:
        df["eigenvector"] = np.nan
    U = _undirected_sum(G, weight)
    if len(U):
        comms = nx.community.louvain_communities(U, weight=weight, seed=seed)
        comms = sorted(comms, key=lambda c: (-len(c), min(map(str, c))))
        cid = {n: i for i, c in enumerate(comms) for n in c}
        df["community"] = [cid[n] for n in nodes]
        df.attrs["modularity"] = (
            nx.community.modularity(U, comms, weight=weight) if U.number_of_edges() else np.nan
        )
        df.attrs["n_communities"] = len(comms)
    else:
        df["community"] = pd.Series(dtype="int64")
    if G.is_directed():
        S = nx.DiGraph(G)
        S.remove_edges_from(list(nx.selfloop_edges(S)))
        df["reciprocity"] = [
            nx.reciprocity(S, n) if S.degree(n) else np.nan for n in nodes
        ]
        df.attrs["reciprocity"] = nx.reciprocity(S) if S.number_of_edges() else np.nan
    return df


def find_referral_loops(
    events: pd.DataFrame,
    *,
    level: Level = "agency",
    cases: Iterable[Any] | None = None,
    missing_agency: str | None = "unknown",
) -> pd.DataFrame:
    """Find referral loops A -> B -> A inside cases (a case sent away and sent back).

    Consecutive events of the same agency are first collapsed (self pairs are not referrals);
    a loop is then any three consecutive agencies A, B, A in a case's time-ordered sequence.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events with ``case_id``, ``timestamp``, ``agency``.
    level, cases, missing_agency
        As in :func:`build_handover_network`.

    Returns
    -------
    pandas.DataFrame
        One row per (origin A, via B): ``origin, via, count`` (loop occurrences),
        ``n_cases`` (cases with this loop) and ``share_cases`` (n_cases / all cases), sorted by
        count (descending). ``attrs``: ``n_cases``, ``n_loops``, ``n_cases_with_loop``,
        ``share_cases_with_loop``.

    Examples
    --------
    >>> ev = pd.DataFrame({
    ...     "case_id": ["c1"] * 4 + ["c2"] * 2,
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03",
    ...                                  "2024-01-04", "2024-01-01", "2024-01-02"]),
    ...     "agency": ["street", "court", "court", "street", "street", "court"],
    ... })
    >>> loops = ck.find_referral_loops(ev)
    >>> loops[["origin", "via", "count", "n_cases"]]
       origin    via  count  n_cases
    0  street  court      1        1
    >>> loops.attrs["share_cases_with_loop"]
    0.5
    """
    enc = _encode(
        events, what="referral loops", level=level, need_time=True, cases=cases,
        missing_agency=missing_agency,
    )
    node, case = enc.node, enc.case
    keep = np.ones(len(node), dtype=bool)
    if len(node) > 1:
        keep[1:] = (node[1:] != node[:-1]) | (case[1:] != case[:-1])
    node, case = node[keep], case[keep]
    cols = ["origin", "via", "count", "n_cases", "share_cases"]
    if len(node) >= 3:
        hit = (node[2:] == node[:-2]) & (case[2:] == case[:-2])  # same case at i and i+2 -> i+1 too
        pos = np.flatnonzero(hit)
        a, b, c = node[pos], node[pos + 1], case[pos]
    else:
        a = b = c = np.zeros(0, dtype=np.int64)
    k = len(enc.labels)
    key = a.astype(np.int64) * k + b
    counts = _count_keys(key)
    if len(key):  # distinct (case, loop) pairs; c is ascending, so keys sorted within a case
        kk = k * k
        if (int(c[-1]) + 1) * kk < 2**63:
            per_case = _count_keys(distinct(c * kk + key) % kk)
        else:
            o = np.lexsort((key, c))
            cs, ks = c[o], key[o]
            new = np.concatenate([[True], (cs[1:] != cs[:-1]) | (ks[1:] != ks[:-1])])
            per_case = _count_keys(ks[new])
    else:
        per_case = _Pairs.empty()
    n_cases = enc.n_cases
    origin, via = np.divmod(counts.keys, k) if k else (counts.keys, counts.keys)
    out = pd.DataFrame({
        "origin": [enc.labels[x] for x in origin.tolist()],
        "via": [enc.labels[x] for x in via.tolist()],
        "count": counts.counts,
        "n_cases": per_case.counts,
        "share_cases": per_case.counts / (n_cases or 1),
    }, columns=cols)
    out = out.sort_values(["count", "origin", "via"], ascending=[False, True, True])
    out = out.reset_index(drop=True)
    n_with = int(np.count_nonzero(np.diff(c))) + 1 if len(c) else 0
    out.attrs.update(
        n_cases=n_cases, n_loops=len(key), n_cases_with_loop=n_with,
        share_cases_with_loop=n_with / (n_cases or 1),
    )
    return out
