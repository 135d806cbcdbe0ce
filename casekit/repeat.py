"""Repeat petitions (重复信访): link filings into matters, classify repeats, one row per matter.

A *matter* is one petitioner's one grievance; each filing (case) of it is a row of the case
table. Filings are linked by an explicit ``matter_id`` when the source has one, otherwise by
configurable keys (default: pseudonymised petitioner + category + normalised address) within a
time window. Each filing gets a ``repeat_ordinal`` (1 = first filing of the matter) and a
``repeat_kind`` (`domain/petition-work.md` §b5):

``first``
    the matter's first filing.
``skip_level_repeat``
    a repeat filed at a higher level (``level``) than the matter's first filing (越级).
``repeat_after_termination``
    filed after an earlier filing of the matter was terminated (``terminated_at``: 终结 after
    re-review; REG2022 Art.36(3): no longer accepted).
``repeat_while_open``
    filed while an earlier filing of the matter was still open (REG2022 Art.19(3)).
``repeat_after_close``
    filed after every earlier filing was closed (a recurrence).

When several apply the first in this list wins; the boolean columns ``earlier_open``,
``after_termination`` and ``skip_level`` keep each condition.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from casekit._utils import CasekitError, datetime_ns

__all__ = ["build_matter_table", "link_repeats", "normalise_address"]

LEVEL_ORDER: dict[str, int] = {
    "village": 0, "town": 1, "county": 2, "city": 3, "province": 4, "national": 5,
}
_NON_WORD = re.compile(r"[\W_]+")
_I8_MAX = np.iinfo(np.int64).max
_I8_MIN = np.iinfo(np.int64).min
_NS_PER_DAY = 86_400 * 10**9


def normalise_address(addresses: pd.Series) -> pd.Series:
    """Normalise addresses into a matching key.

    Unicode NFKC (full-width letters and digits become half-width), lower case, and every
    whitespace and punctuation character removed. Each distinct value is processed once.

    Parameters
    ----------
    addresses : pandas.Series
        Address text; missing values stay missing.

    Returns
    -------
    pandas.Series
        Normalised keys (string dtype), same index.

    Examples
    --------
    >>> ck.normalise_address(pd.Series(["南坡园 ３栋 ２单元", "南坡园3栋-2单元。", None])).tolist()
    ['南坡园3栋2单元', '南坡园3栋2单元', nan]
    """
    import unicodedata

    codes, uniques = pd.factorize(addresses, use_na_sentinel=True)
    fixed = [_NON_WORD.sub("", unicodedata.normalize("NFKC", str(u)).lower()) for u in uniques]
    values = np.array([*fixed, None], dtype=object)[codes]
    return pd.Series(values, index=addresses.index, name=addresses.name, dtype="str")


def _group_cummax_prev(group: np.ndarray, values: np.ndarray, fill: int) -> np.ndarray:
    """Max of ``values`` over the *earlier* rows of the same (contiguous) group; ``fill`` if none."""
    s = pd.Series(values)
    cm = s.groupby(group, sort=False).cummax().to_numpy()
    prev = np.empty_like(cm)
    if len(cm):
        prev[0] = fill
        prev[1:] = cm[:-1]
        first = np.ones(len(group), dtype=bool)
        first[1:] = group[1:] != group[:-1]
        prev[first] = fill
    return prev


def _level_rank(series: pd.Series) -> np.ndarray:
    """Level labels -> rank (village 0 ... national 5), -1 where unknown."""
    from casekit.schema import to_identifier

    def rank(label: Any) -> int:
        if label is None or (isinstance(label, float) and np.isnan(label)):
            return -1
        ident = str(label).strip().lower()
        if ident not in LEVEL_ORDER:
            with contextlib.suppress(KeyError):  # vocabulary absent: identifiers only
                ident = to_identifier(str(label), "level") or ident
        return LEVEL_ORDER.get(ident, -1)

    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    ranks = np.array([*(rank(u) for u in uniques), -1], dtype=np.int64)
    return ranks[codes]


def link_repeats(
    cases: pd.DataFrame,
    *,
    keys: Sequence[str] = ("petitioner_id", "category", "address"),
    window_days: float | None = 365,
    address_normaliser: Callable[[pd.Series], pd.Series] | None = normalise_address,
    matter_col: str = "matter_id",
) -> pd.DataFrame:
    """Link filings into matters and classify each filing's repeat kind.

    Parameters
    ----------
    cases : pandas.DataFrame
        One row per filing: ``case_id``, ``opened_at``, ``closed_at`` (NaT while open),
        ``petitioner_id``; optional ``matter_id`` (respected where given), ``category``,
        ``address``, ``level`` (village / town / county / city / province / national, Chinese
        labels accepted) and ``terminated_at``.
    keys : sequence of str
        Columns that identify the same matter when no ``matter_id`` is given. With the default
        keys, ``category`` and ``address`` are used only if present; a key given explicitly
        must exist. Missing values inside a key match each other (an unknown address is one
        value); a filing without ``petitioner_id`` is never linked to another.
    window_days : float or None
        A filing joins the matter of the same key if it is filed at most this many days after
        the matter's last activity (latest close, or still open); otherwise it starts a new
        matter. None: no window (one matter per key).
    address_normaliser : callable or None
        Applied to the ``address`` key (default :func:`normalise_address`).
    matter_col : str
        Name of the explicit matter column.

    Returns
    -------
    pandas.DataFrame
        A copy of ``cases`` (same row order) with ``matter_id`` (explicit values kept, others
        ``m000001`` ... in order of first filing), ``repeat_ordinal``, ``repeat_kind`` and the
        flags ``earlier_open``, ``after_termination``, ``skip_level``.

    Raises
    ------
    casekit.CasekitError
        A needed column is missing or not dates.

    Notes
    -----
    Vectorised: filings are sorted by (key, opened_at), matters are split where the gap to the
    running maximum of earlier ends exceeds the window, and the flags come from grouped
    running maxima of earlier close and termination times. Ties in ``opened_at`` keep the input
    order.

    Examples
    --------
    >>> cases = pd.DataFrame({
    ...     "case_id": ["a", "b", "c"],
    ...     "petitioner_id": ["p1", "p1", "p1"],
    ...     "category": ["housing"] * 3,
    ...     "opened_at": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-06-01"]),
    ...     "closed_at": pd.to_datetime(["2024-02-01", "2024-02-05", None]),
    ... })
    >>> ck.link_repeats(cases)[["case_id", "matter_id", "repeat_ordinal", "repeat_kind"]]
      case_id matter_id  repeat_ordinal         repeat_kind
    0       a   m000001               1               first
    1       b   m000001               2   repeat_while_open
    2       c   m000001               3  repeat_after_close
    """
    key_cols = _link_key_columns(cases, keys)
    n = len(cases)
    opened = datetime_ns(cases["opened_at"], "opened_at")
    if (opened == _I8_MIN).any():
        row = int(np.flatnonzero(opened == _I8_MIN)[0])
        raise CasekitError(f"link repeats: row {row}, column 'opened_at': missing date")
    closed = datetime_ns(cases["closed_at"], "closed_at")
    term = (
        datetime_ns(cases["terminated_at"], "terminated_at")
        if "terminated_at" in cases.columns else np.full(n, _I8_MIN, dtype=np.int64)
    )
    level = _level_rank(cases["level"]) if "level" in cases.columns else np.full(n, -1)
    explicit = (
        cases[matter_col].notna().to_numpy() if matter_col in cases.columns
        else np.zeros(n, dtype=bool)
    )
    keycode = _group_codes(cases, key_cols, explicit, address_normaliser, matter_col)
    # sort by (group, opened_at), input order for ties
    order = np.lexsort((np.arange(n), opened, keycode))
    o, c, ex = opened[order], closed[order], explicit[order]
    end = np.where(c == _I8_MIN, _I8_MAX, c)  # open filings never end
    new = _new_matter(keycode[order], o, end, ex, window_days)
    matter = np.cumsum(new) - 1
    first_pos = np.flatnonzero(new)
    ordinal, kind, flags = _repeat_kinds(matter, first_pos, o, end, term[order], level[order])
    explicit_ids = cases[matter_col].to_numpy()[order] if matter_col in cases.columns else None
    mid = _matter_ids(matter, first_pos, o, ex, explicit_ids)
    # back to input order
    out = cases.copy()
    inv = np.empty(n, dtype=np.int64)
    inv[order] = np.arange(n)
    out[matter_col] = pd.Series(mid[inv], index=cases.index, dtype="str")
    out["repeat_ordinal"] = ordinal[inv].astype(np.int64)
    out["repeat_kind"] = pd.Series(kind[inv], index=cases.index, dtype="str")
    for name, flag in flags.items():
        out[name] = flag[inv]
    out.attrs = dict(cases.attrs)
    out.attrs["repeat"] = {"keys": list(key_cols), "window_days": window_days}
    return out


def _link_key_columns(cases: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """Pick the key columns (default keys only where present); raise for a missing column."""
    if not isinstance(cases, pd.DataFrame):
        raise CasekitError(f"link repeats: expected a case table DataFrame, got {type(cases).__name__}")
    default_keys = tuple(keys) == ("petitioner_id", "category", "address")
    needed = ["case_id", "opened_at", "closed_at"]
    key_cols = [k for k in keys if k in cases.columns or not default_keys or k == "petitioner_id"]
    missing = [c for c in [*needed, *key_cols] if c not in cases.columns]
    if missing:
        found = ", ".join(map(str, cases.columns)) or "(none)"
        raise CasekitError(
            f"link repeats: missing column {missing[0]!r} in the case table; found: {found}"
        )
    return key_cols


def _group_codes(cases: pd.DataFrame, key_cols: list[str], explicit: np.ndarray,
                 address_normaliser: Callable[[pd.Series], pd.Series] | None,
                 matter_col: str) -> np.ndarray:
    """One integer per filing: its explicit matter id's code, else its key's (own range each)."""
    n = len(cases)
    key_frame = pd.DataFrame(index=cases.index)
    for k in key_cols:
        col = cases[k]
        if k == "address" and address_normaliser is not None:
            col = address_normaliser(col)
        key_frame[k] = col
    keycode = (
        key_frame.groupby(key_cols, sort=False, dropna=False).ngroup().to_numpy().astype(np.int64)
        if key_cols else np.zeros(n, dtype=np.int64)
    )
    if "petitioner_id" in key_cols:  # no petitioner: never linked
        nopet = cases["petitioner_id"].isna().to_numpy()
        keycode[nopet] = keycode.max(initial=-1) + 1 + np.arange(int(nopet.sum()))
    if explicit.any():
        mcode = pd.factorize(cases[matter_col].where(explicit))[0].astype(np.int64)
        # explicit matters get their own code range, and the window is not applied to them
        keycode = np.where(explicit, mcode, keycode + mcode.max(initial=-1) + 1)
    return keycode


def _new_matter(group: np.ndarray, opened: np.ndarray, end: np.ndarray, explicit: np.ndarray,
                window_days: float | None) -> np.ndarray:
    """Sorted filings: True where a matter starts (new group, or filed past the window)."""
    n = len(group)
    new = np.ones(n, dtype=bool)
    if n > 1:
        new[1:] = group[1:] != group[:-1]
    if window_days is not None:
        prev_end = _group_cummax_prev(group, end, _I8_MIN)
        gap = (opened.astype(np.float64) - prev_end.astype(np.float64)) / _NS_PER_DAY
        new |= (~explicit) & (prev_end != _I8_MIN) & (prev_end != _I8_MAX) & (gap > window_days)
    return new


def _repeat_kinds(matter: np.ndarray, first_pos: np.ndarray, opened: np.ndarray,
                  end: np.ndarray, term: np.ndarray,
                  level: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Sorted filings: ordinal in the matter, repeat kind, and the condition flags."""
    n = len(matter)
    prev_end_m = _group_cummax_prev(matter, end, _I8_MIN)
    prev_term_m = _group_cummax_prev(matter, term, _I8_MIN)
    first_level = level[first_pos][matter]
    ordinal = np.arange(n) - first_pos[matter] + 1
    is_first = ordinal == 1
    earlier_open = ~is_first & (prev_end_m > opened)
    after_term = ~is_first & (prev_term_m != _I8_MIN) & (prev_term_m <= opened)
    skip = ~is_first & (level >= 0) & (first_level >= 0) & (level > first_level)
    kind = np.select(
        [is_first, skip, after_term, earlier_open],
        ["first", "skip_level_repeat", "repeat_after_termination", "repeat_while_open"],
        default="repeat_after_close",
    )
    flags = {"earlier_open": earlier_open, "after_termination": after_term, "skip_level": skip}
    return ordinal, kind, flags


def _matter_ids(matter: np.ndarray, first_pos: np.ndarray, opened: np.ndarray,
                explicit: np.ndarray, explicit_ids: np.ndarray | None) -> np.ndarray:
    """Sorted filings: explicit matter ids kept, the others ``m000001`` ... by first filing."""
    first_time = opened[first_pos]
    rank = np.empty(len(first_pos), dtype=np.int64)
    rank[np.lexsort((first_pos, first_time))] = np.arange(len(first_pos))
    taken = set(map(str, pd.unique(explicit_ids[explicit]))) if explicit_ids is not None else set()
    prefix = "m"
    while any(s.startswith(prefix) and s[len(prefix):].isdigit() for s in taken):
        prefix = "auto_" + prefix
    width = max(6, len(str(len(first_pos))))
    auto = np.array([f"{prefix}{r + 1:0{width}d}" for r in rank], dtype=object)
    mid = auto[matter]
    if explicit_ids is not None:
        mid = np.where(explicit, explicit_ids.astype(object), mid)
    return mid


def build_matter_table(
    cases: pd.DataFrame,
    *,
    settle_window_days: float | None = None,
    observation_end: Any = None,
    **link_options: Any,
) -> pd.DataFrame:
    """One row per matter: filings, last close, settled or not, time to settlement (censored).

    The one matter table of casekit (``cases.build_matter_view`` is a deprecated alias).

    Parameters
    ----------
    cases : pandas.DataFrame
        Case table; if it has no ``repeat_ordinal`` yet, :func:`link_repeats` is applied first
        (with ``link_options``).
    settle_window_days : float, optional
        A matter is settled when all its filings are closed and no new filing followed the last
        close within this many days; then ``settled_at`` = last close. A ``settled_at`` column
        (e.g. a cessation pledge found by the case table) on the matter's last filing takes
        precedence. Default: the case table's own window (``attrs["settle_window_days"]``, set
        by :func:`casekit.build_case_table`), else 180 days as there.
    observation_end : datetime-like, optional
        End of observation; default ``cases.attrs["observation_end"]``, else an
        ``observation_end`` column, else the latest date in the table. Never today.

    Returns
    -------
    pandas.DataFrame
        ``matter_id, petitioner_id, category, first_case_id, first_opened_at, n_filings,
        n_repeats, last_opened_at, last_closed_at, open, settled, settled_at, days_to_settle,
        censored``, counts per repeat kind (``n_repeat_while_open`` ...), ``n_closed`` (closed
        filings) and, when the case table has ``pattern``, ``patterns`` (the filings' patterns
        in filing order joined with `` > ``); sorted by ``first_opened_at`` (ties: input
        order). ``days_to_settle`` runs from the first filing to settlement, or to
        ``observation_end`` when censored. ``attrs``: ``observation_end`` (a Timestamp) and
        ``settle_window_days``.

    Examples
    --------
    >>> cases = pd.DataFrame({
    ...     "case_id": ["a", "b", "c"],
    ...     "petitioner_id": ["p1", "p1", "p2"],
    ...     "opened_at": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-01-01"]),
    ...     "closed_at": pd.to_datetime(["2024-02-01", "2024-03-11", None]),
    ...     "pattern": ["bureau", "bureau+town", "bureau"],
    ... })
    >>> m = ck.build_matter_table(cases, observation_end="2024-12-31")
    >>> m[["matter_id", "n_filings", "settled", "days_to_settle", "censored", "patterns"]]
      matter_id  n_filings  settled  days_to_settle  censored              patterns
    0   m000001          2     True            70.0     False  bureau > bureau+town
    1   m000002          1    False           365.0      True                bureau
    """
    if "repeat_ordinal" not in cases.columns or "matter_id" not in cases.columns:
        cases = link_repeats(cases, **link_options)
    if settle_window_days is None:
        settle_window_days = float(cases.attrs.get("settle_window_days", 180))
    obs_end = _matter_observation_end(cases, observation_end)
    obs_ns = obs_end.as_unit("ns").value
    n = len(cases)
    mcode, mids = pd.factorize(cases["matter_id"], use_na_sentinel=False)
    opened = datetime_ns(cases["opened_at"], "opened_at")
    closed = datetime_ns(cases["closed_at"], "closed_at")
    pledge_all = (
        datetime_ns(cases["settled_at"], "settled_at") if "settled_at" in cases.columns
        else np.full(n, _I8_MIN, dtype=np.int64)
    )
    ordinal = cases["repeat_ordinal"].to_numpy().astype(np.int64)
    order = np.lexsort((ordinal, opened, mcode))  # by matter, then filing time
    m = mcode[order]
    starts = np.flatnonzero(np.r_[True, m[1:] != m[:-1]]) if n else np.zeros(0, dtype=np.int64)
    ends = np.append(starts[1:], n) - 1
    first_rows, last_rows = order[starts], order[ends]
    is_open = (closed == _I8_MIN)[order]
    any_open = np.logical_or.reduceat(is_open, starts) if n else np.zeros(0, dtype=bool)
    closed_max = np.maximum.reduceat(closed[order], starts) if n else np.zeros(0, dtype=np.int64)
    last_closed = np.where(any_open, _I8_MIN, closed_max)
    n_filings = np.diff(np.append(starts, n))

    out = pd.DataFrame({"matter_id": pd.Series(np.asarray(mids, dtype=object)[m[starts]],
                                               dtype="str")})
    for col in ("petitioner_id", "category"):
        if col in cases.columns:
            out[col] = cases[col].iloc[first_rows].to_numpy()
    out["first_case_id"] = cases["case_id"].iloc[first_rows].to_numpy()
    out["first_opened_at"] = _dates(opened[first_rows])
    out["n_filings"] = n_filings.astype(np.int64)
    out["n_repeats"] = out["n_filings"] - 1
    out["last_opened_at"] = _dates(opened[last_rows])
    out["last_closed_at"] = _dates(last_closed)
    out["open"] = any_open
    window_ns = int(settle_window_days * _NS_PER_DAY)
    by_window = ~any_open & (last_closed != _I8_MIN) & (last_closed + window_ns <= obs_ns)
    pledge = pledge_all[last_rows]
    has_pledge = (pledge != _I8_MIN) & (pledge <= obs_ns)
    settled_at = np.where(has_pledge, pledge, np.where(by_window, last_closed, _I8_MIN))
    settled = settled_at != _I8_MIN
    out["settled"] = settled
    out["settled_at"] = _dates(settled_at)
    stop = np.where(settled, settled_at, obs_ns)
    out["days_to_settle"] = (stop - opened[first_rows]) / _NS_PER_DAY
    out["censored"] = ~settled
    group = np.repeat(np.arange(len(starts)), n_filings)
    for name, values in _kind_counts(cases, order, group, len(starts)).items():
        out[name] = values
    out["n_closed"] = np.bincount(group[~is_open], minlength=len(starts)).astype(np.int64)
    if "pattern" in cases.columns:
        pats = pd.Series(cases["pattern"].astype("str").to_numpy()[order], dtype=object)
        out["patterns"] = pats.groupby(group, sort=True).agg(" > ".join).to_numpy()
    out = out.take(np.lexsort((first_rows, opened[first_rows]))).reset_index(drop=True)
    out.attrs["observation_end"] = obs_end
    out.attrs["settle_window_days"] = settle_window_days
    return out


_REPEAT_KINDS = ("repeat_while_open", "repeat_after_close", "repeat_after_termination",
                 "skip_level_repeat")


def _dates(ns: np.ndarray) -> pd.Series:
    """Nanoseconds since the epoch -> datetimes, NaT where missing."""
    return pd.Series(ns.astype("datetime64[ns]")).where(ns != _I8_MIN)


def _matter_observation_end(cases: pd.DataFrame, given: Any) -> pd.Timestamp:
    """Resolve a matter table's observation end: given, the case table's, its column, its last date."""
    if given is None:
        given = cases.attrs.get("observation_end")
    if given is None and "observation_end" in cases.columns:
        given = pd.to_datetime(cases["observation_end"]).max()
    if given is None:
        cols = [c for c in ("opened_at", "closed_at", "settled_at", "terminated_at")
                if c in cases.columns]
        given = max(pd.to_datetime(cases[c]).max() for c in cols)
    return pd.Timestamp(given)


def _kind_counts(cases: pd.DataFrame, order: np.ndarray, group: np.ndarray,
                 n_matters: int) -> dict[str, np.ndarray]:
    """``{n_<kind>: filings of that repeat kind per matter}`` (sorted filings, matter groups)."""
    n = len(cases)
    kind_values = (
        cases["repeat_kind"].to_numpy() if "repeat_kind" in cases.columns
        else np.full(n, "first", dtype=object)
    )
    kind_code = pd.Index(_REPEAT_KINDS).get_indexer(pd.Series(kind_values).astype(object))
    kind_code = kind_code.astype(np.int64)[order]
    hit = kind_code >= 0
    k = len(_REPEAT_KINDS)
    per = np.bincount(group[hit] * k + kind_code[hit],
                      minlength=n_matters * k).reshape(n_matters, k)
    return {f"n_{kind}": per[:, i].astype(np.int64) for i, kind in enumerate(_REPEAT_KINDS)}
