"""Timestamp parsing for case logs: the formats of Chinese case systems, Excel serial numbers,
offsets converted to one recorded zone, impossible dates rejected, day/month order decided per
column (one home; :mod:`casekit.io` and :mod:`casekit.validate` both use it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from casekit._utils import CasekitError

__all__ = ["AUTO_TIMEZONE", "DEFAULT_TIMEZONE", "AmbiguousDateOrder", "TimestampInfo", "parse_date",
           "parse_timestamps"]

#: Default local time zone of casekit data (Chinese case systems record Beijing time).
DEFAULT_TIMEZONE = "Asia/Shanghai"
#: ``timezone="auto"``, the readers' default: the zone comes from the data. Values with UTC
#: offsets keep the wall clock they were recorded in (their own offset), values without keep
#: theirs; what the data said is reported, and no zone is assumed.
AUTO_TIMEZONE = "auto"


def parse_date(value: Any, *, option: str = "observation_end") -> pd.Timestamp:
    """Read one date option (or stored date) as a ``pandas.Timestamp``; its zone, if any, is kept.

    The one parser of single dates (``observation_end``, ``--start``, ``--start-cut``): the
    library and every command call it, so a value that is not a date gives the same one-line
    :class:`~casekit._utils.CasekitError` naming ``option`` everywhere.

    Examples
    --------
    >>> parse_date(" 2023-12-31 ")
    Timestamp('2023-12-31 00:00:00')
    >>> parse_date("2023-12-31T18:00+08:00")
    Timestamp('2023-12-31 18:00:00+0800', tz='UTC+08:00')
    >>> parse_date("31.13.2023", option="--observation-end")
    Traceback (most recent call last):
    ...
    casekit._utils.CasekitError: --observation-end: cannot read '31.13.2023'; expected a date such as 2023-12-31 or 2023-12-31 18:00
    """
    given = value.strip() if isinstance(value, str) else value
    try:
        ts = pd.Timestamp(given)
    except (ValueError, TypeError, OverflowError):
        ts = None
    if ts is pd.NaT and not isinstance(value, str):
        raise CasekitError(f"{option}: got a missing value (NaT); pass a date")
    if ts is None or ts is pd.NaT:
        raise CasekitError(f"{option}: cannot read {value!r}; expected a date such as 2023-12-31 "
                           "or 2023-12-31 18:00")
    return ts


# ---------------------------------------------------------------------------------------------
# Timestamps
# ---------------------------------------------------------------------------------------------
_NS_MIN = pd.Timestamp.min.as_unit("ns")
_NS_MAX = pd.Timestamp.max.as_unit("ns")
_OFFSET_RE = r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"
_EXCEL_RE = r"^\d{5}(?:\.\d+)?$"
_EXCEL_MIN, _EXCEL_MAX = 20000.0, 80000.0  # 1954-10-03 .. 2119-01-10: plausible serial dates
_EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "ns")
_FALLBACK_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
    "%m-%d-%Y %I:%M:%S %p",
    "%m-%d-%Y %I:%M %p",
    "%m-%d-%Y %H:%M:%S",
    "%m-%d-%Y %H:%M",
    "%m-%d-%Y",
)

_CN_DATE = str.maketrans({"年": "-", "月": "-", "日": " ", "号": " ", "时": ":", "点": ":",
                          "分": ":", "秒": " ", "/": "-", ".": "-", "T": " "})


@dataclass
class TimestampInfo:
    """What :func:`parse_timestamps` found (kept in the read metadata)."""

    timezone: str | None
    offsets_seen: list[str] = field(default_factory=list)
    n_converted: int = 0
    n_excel_serial: int = 0
    n_missing: int = 0
    n_unparseable: int = 0
    formats: list[str] = field(default_factory=list)


def _to_ns(values: Any) -> np.ndarray:
    """Datetime-like values -> naive datetime64[ns] ndarray; out-of-range values -> NaT."""
    idx = pd.DatetimeIndex(values)
    if idx.tz is not None:  # pragma: no cover - callers strip zones first
        idx = idx.tz_localize(None)
    arr = np.asarray(idx.values)
    if arr.dtype == np.dtype("datetime64[ns]"):
        return arr
    out = np.full(len(arr), np.datetime64("NaT"), dtype="datetime64[ns]")
    keep = ~np.isnat(arr)
    keep[keep] = (arr[keep] > np.datetime64("1677-09-22")) & (arr[keep] < np.datetime64("2262-04-11"))
    out[keep] = arr[keep].astype("datetime64[ns]")
    return out


def _excel_serial(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype="float64")
    out = np.full(len(x), np.datetime64("NaT"), dtype="datetime64[ns]")
    ok = np.isfinite(x) & (x >= _EXCEL_MIN) & (x <= _EXCEL_MAX)
    out[ok] = _EXCEL_EPOCH + np.round(x[ok] * 86400e9).astype("int64").astype("timedelta64[ns]")
    return out


def _parse_aware(strings: pd.Series, timezone: str | None, info: TimestampInfo) -> np.ndarray:
    """Strings carrying a UTC offset -> naive local times in ``timezone`` (or wall clock)."""
    norm = strings.str.replace(r"\s*(UTC|GMT)$", "+00:00", regex=True)
    offsets = norm.str.extract(r"([Zz]|[+-]\d{2}(?::?\d{2})?)$")[0]
    info.offsets_seen = sorted({str(o).upper().replace("Z", "+00:00") for o in offsets.dropna()})
    if timezone is None:  # keep the wall clock as recorded, drop the offset
        wall = norm.str.replace(r"\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$", "", regex=True)
        return _to_ns(pd.to_datetime(wall, format="ISO8601", errors="coerce"))
    ts = pd.to_datetime(norm, format="ISO8601", errors="coerce", utc=True)
    ts = pd.DatetimeIndex(ts).tz_convert(timezone).tz_localize(None)
    info.n_converted += int((~ts.isna()).sum())
    return _to_ns(ts)


class AmbiguousDateOrder(CasekitError):
    """Dates such as 05/03/2023 fit both day/month and month/day order (no value decides)."""


#: The hint of :class:`AmbiguousDateOrder` (the command line words it as its own options).
_DAYFIRST_HINT = "dayfirst=True / False"
_DMY_RE = r"^(\d{1,2})-(\d{1,2})-\d{4}(?:\s|$)"


def _day_first(rest: pd.Series, dayfirst: bool | None, info: TimestampInfo) -> bool:
    """Decide the order of ``NN-NN-YYYY`` dates of one column (after ``/`` -> ``-``).

    A first number above 12 proves day/month, a second above 12 month/day; with no such value
    and some that differ the order is ambiguous: :class:`AmbiguousDateOrder` unless
    ``dayfirst`` says it.
    """
    m = rest.str.extract(_DMY_RE)
    m = m[m[0].notna()]
    if not len(m):
        return bool(dayfirst)
    a, b = m[0].astype(int).to_numpy(), m[1].astype(int).to_numpy()
    if dayfirst is not None:
        info.formats.append("day/month/year" if dayfirst else "month/day/year")
        return dayfirst
    day_evident, month_evident = bool((a > 12).any()), bool((b > 12).any())
    if day_evident and month_evident:
        raise AmbiguousDateOrder(
            f"dates in both day/month ({rest[m.index[a > 12][0]]!r}) and month/day "
            f"({rest[m.index[b > 12][0]]!r}) order; expected one order per column")
    if day_evident or month_evident:
        info.formats.append("day/month/year (evident)" if day_evident else
                            "month/day/year (evident)")
        return day_evident
    if (a != b).any():
        example = rest[m.index[a != b][0]]
        raise AmbiguousDateOrder(
            f"dates such as {example!r} can be day/month or month/day and no value decides; "
            f"expected {_DAYFIRST_HINT}")
    return False


def _parse_strings(u: pd.Series, timezone: str | None, info: TimestampInfo,
                   dayfirst: bool | None = None) -> np.ndarray:
    """Parse unique, stripped, non-empty strings; NaT where nothing fits."""
    out = np.full(len(u), np.datetime64("NaT"), dtype="datetime64[ns]")
    if len(u) == 0:
        return out
    aware = u.str.contains(_OFFSET_RE, regex=True).to_numpy(dtype=bool)
    if aware.any():
        out[aware] = _parse_aware(u[aware], timezone, info)
        info.formats.append("ISO 8601 with offset")
    naive = ~aware
    if naive.any():
        out[naive] = _to_ns(pd.to_datetime(u[naive], format="ISO8601", errors="coerce"))
        if (~np.isnat(out[naive])).any():
            info.formats.append("ISO 8601")
    todo = np.isnat(out)
    if todo.any():
        serial = u.str.fullmatch(_EXCEL_RE).to_numpy(dtype=bool) & todo
        if serial.any():
            out[serial] = _excel_serial(u[serial].astype("float64").to_numpy())
            hit = int((~np.isnat(out[serial])).sum())
            info.n_excel_serial += hit
            if hit:
                info.formats.append("Excel serial")
        todo = np.isnat(out)
    if todo.any():
        rest = u[todo]
        rest = pd.Series(
            [
                re.sub(r"\s+", " ", unicodedata.normalize("NFKC", s).translate(_CN_DATE))
                .strip()
                .rstrip(":")
                .replace(": ", " ")
                for s in rest
            ],
            index=rest.index,
            dtype="str",
        )
        rest = rest.str.replace(r"(\d):(\s|$)", r"\1\2", regex=True).str.strip()
        got = np.full(len(rest), np.datetime64("NaT"), dtype="datetime64[ns]")
        formats = _FALLBACK_FORMATS
        if _day_first(rest, dayfirst, info):
            formats = tuple(f.replace("%m-%d-%Y", "%d-%m-%Y") for f in formats)
        for fmt in formats:
            left = np.isnat(got)
            if not left.any():
                break
            parsed = _to_ns(pd.to_datetime(rest[left], format=fmt, errors="coerce"))
            if (~np.isnat(parsed)).any():
                got[left] = parsed
                info.formats.append(fmt)
        out[todo] = got
    return out


def _parse_timestamps(values: pd.Series, timezone: str | None, dayfirst: bool | None = None
                      ) -> tuple[np.ndarray, np.ndarray, TimestampInfo]:
    """Return (datetime64[ns] array, missing mask, info); unparseable = NaT & ~missing.

    ``timezone="auto"`` converts nothing (each value's own wall clock, as ``None``).
    """
    if timezone == AUTO_TIMEZONE:
        timezone = None
    info = TimestampInfo(timezone=timezone)
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    n = len(s)
    typed = _parse_typed(s, timezone, info)
    if typed is not None:
        return typed
    if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object and n > 10_000:
        fast, done, info.formats = _fast_parse(s)
        if done.all():
            missing = np.zeros(n, dtype=bool)
            return fast, missing, info
        if done.any():  # the rest (other formats, blanks, garbage) value by value
            rest_idx = np.flatnonzero(~done)
            r_out, r_missing, r_info = _parse_timestamps(s.iloc[rest_idx].reset_index(drop=True),
                                                         timezone, dayfirst)
            fast[rest_idx] = r_out
            missing = np.zeros(n, dtype=bool)
            missing[rest_idx] = r_missing
            r_info.formats = list(dict.fromkeys([*info.formats, *r_info.formats]))
            return fast, missing, r_info
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    uniq = np.asarray(uniques, dtype=object)
    parsed = np.full(len(uniq), np.datetime64("NaT"), dtype="datetime64[ns]")
    empty = np.zeros(len(uniq), dtype=bool)
    is_str = np.fromiter((isinstance(v, str) for v in uniq), dtype=bool, count=len(uniq))
    if is_str.any():
        parsed[is_str], empty[is_str] = _parse_distinct_strings(uniq[is_str], timezone, info,
                                                                dayfirst)
    for i in np.flatnonzero(~is_str):  # Excel cells: datetime / date / number objects
        parsed[i], empty[i] = _parse_cell(uniq[i], timezone, info)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    has = codes >= 0
    out[has] = parsed[codes[has]]
    missing = ~has
    missing[has] = empty[codes[has]]
    info.n_missing = int(missing.sum())
    info.n_unparseable = int((np.isnat(out) & ~missing).sum())
    info.formats = list(dict.fromkeys(info.formats))
    return out, missing, info


def _parse_typed(s: pd.Series, timezone: str | None, info: TimestampInfo
                 ) -> tuple[np.ndarray, np.ndarray, TimestampInfo] | None:
    """Columns already typed: zone-aware or naive datetimes, numbers (Excel serial days);
    ``None`` for text and objects."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        info.offsets_seen = [str(s.dtype.tz)]
        if timezone is not None:
            s = s.dt.tz_convert(timezone)
            info.n_converted = int(s.notna().sum())
        out = _to_ns(s.dt.tz_localize(None))
        missing = np.isnat(out)
        info.n_missing = int(missing.sum())
        return out, missing, info
    if pd.api.types.is_datetime64_dtype(s.dtype):
        out = _to_ns(s)
        missing = s.isna().to_numpy()
        info.n_unparseable = int((np.isnat(out) & ~missing).sum())
        info.n_missing = int(missing.sum())
        return out, missing, info
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        x = s.to_numpy(dtype="float64", na_value=np.nan)
        out = _excel_serial(x)
        missing = np.isnan(x)
        info.n_excel_serial = int((~np.isnat(out)).sum())
        if info.n_excel_serial:
            info.formats.append("Excel serial")
        info.n_missing = int(missing.sum())
        info.n_unparseable = int((np.isnat(out) & ~missing).sum())
        return out, missing, info
    return None


def _parse_distinct_strings(values: np.ndarray, timezone: str | None, info: TimestampInfo,
                            dayfirst: bool | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct text values -> (datetimes, blank mask); over-long values are unparseable."""
    stripped = pd.Series(values, dtype="str").str.strip()
    blank = (stripped == "").to_numpy(dtype=bool)
    too_long = (stripped.str.len() > 64).to_numpy(dtype=bool)  # no timestamp is that long
    stripped[too_long] = "?"
    sub = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    sub[~blank] = _parse_strings(stripped[~blank].reset_index(drop=True), timezone, info,
                                 dayfirst)
    return sub, blank


def _parse_cell(v: Any, timezone: str | None, info: TimestampInfo) -> tuple[Any, bool]:
    """One non-text cell (an Excel datetime, date or number) -> (datetime64 or NaT, empty)."""
    nat = np.datetime64("NaT", "ns")
    if isinstance(v, bool):
        return nat, False
    if isinstance(v, int | float | np.integer | np.floating):
        got = _excel_serial(np.array([v], dtype="float64"))[0]
        if not np.isnat(got):
            info.n_excel_serial += 1
        return got, False
    try:
        ts = pd.Timestamp(v)
    except (TypeError, ValueError):
        return nat, False
    if ts is pd.NaT:
        return nat, True
    if ts.tzinfo is not None:
        ts = ts.tz_convert(timezone).tz_localize(None) if timezone else ts.tz_localize(None)
    if _NS_MIN <= ts <= _NS_MAX:
        return ts.as_unit("ns").to_datetime64(), False
    return nat, False


_FAST_PROBE = 2_000  # values a fast format is first tried on (see _fast_parse)
_FAST_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M",
                 "%Y-%m-%d")


def _fast_parse(s: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Whole-column try of the common formats with pandas' compiled parser (no per-value Python).

    Impossible dates (2023-02-30) are rejected by the parser, so they reach the careful path,
    and so do the values of a format that parses none of the first ``_FAST_PROBE`` values
    still to do (the careful path parses every format; this only skips doomed column scans).
    """
    n = len(s)
    got = _arrow_iso_seconds(s)
    if got is not None and got[1].mean() >= 0.5:
        out, done = got
        used = [_FAST_FORMATS[0]]
        if done.all():
            return out, done, used
    else:
        out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        done = np.zeros(n, dtype=bool)
        used = []
    for fmt in _FAST_FORMATS[len(used):]:
        todo = np.flatnonzero(~done)
        sub = s if len(todo) == n else s.iloc[todo]
        if len(sub) > _FAST_PROBE and np.isnat(_to_ns(pd.to_datetime(
                sub.iloc[:_FAST_PROBE], format=fmt, errors="coerce"))).all():
            continue  # e.g. XES dates with offsets: 5 whole-column misses were 6 s on 561k
        parsed = _to_ns(pd.to_datetime(sub, format=fmt, errors="coerce"))
        ok = ~np.isnat(parsed)
        if not ok.any():
            continue
        out[todo[ok]] = parsed[ok]
        done[todo[ok]] = True
        used.append(fmt)
        if done.all() or ok.mean() < 0.5:
            break
    return out, done, used


_ISO_SECONDS = b"0000-00-00 00:00:00"  # the shape; Arrow's cast itself checks the digits


def _iso_shaped(chunk: Any) -> np.ndarray:
    """Values of one Arrow string array 19 bytes long with ``-  -   :  :`` where
    ``YYYY-MM-DD HH:MM:SS`` has them, read from its buffers (no regex, no per-value Python)."""
    import pyarrow as pa

    n = len(chunk)
    ok = np.zeros(n, dtype=bool)
    _validity, offsets, data = chunk.buffers()
    if not n or data is None:
        return ok
    width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    off = np.frombuffer(offsets, dtype=width)[chunk.offset: chunk.offset + n + 1]
    raw = np.frombuffer(data, dtype=np.uint8)
    cand = np.flatnonzero(np.diff(off) == len(_ISO_SECONDS))
    if chunk.null_count:
        cand = cand[chunk.is_valid().to_numpy(zero_copy_only=False)[cand]]
    start = off[cand]
    fit = np.ones(len(cand), dtype=bool)
    for j, byte in enumerate(_ISO_SECONDS):
        if byte != ord("0"):
            fit &= raw[start + j] == byte
    ok[cand[fit]] = True
    return ok


def _arrow_iso_seconds(s: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """(datetimes, parsed mask) of the values shaped ``YYYY-MM-DD HH:MM:SS``, parsed by Arrow's
    ISO 8601 cast; ``None`` when any such value is not a valid time Arrow can hold (a
    non-digit, 2023-02-30, second 60, outside 1677-2262): the pandas parser then judges all.

    Where the cast succeeds it gives what ``%Y-%m-%d %H:%M:%S`` gives; the shape check keeps
    it from taking what that format would not (a ``T``, fractions, a bare date, an offset).

    Examples
    --------
    >>> out, ok = _arrow_iso_seconds(pd.Series(["2023-04-25 09:32:00", "2023-04-25", ""],
    ...                                        dtype="str"))
    >>> ok.tolist(), str(out[0])
    ([True, False, False], '2023-04-25T09:32:00.000000000')
    >>> _arrow_iso_seconds(pd.Series(["2023-02-30 10:00:00"], dtype="str")) is None
    True
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(s.array)
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if not all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks):
        return None
    ok = np.concatenate([_iso_shaped(c) for c in chunks]) if chunks else np.zeros(0, bool)
    try:
        ts = pc.cast(pc.if_else(pa.array(ok), arr, pa.scalar(None, arr.type)),
                     pa.timestamp("ns"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks()
    out = ts.fill_null(pa.scalar(np.iinfo(np.int64).min, pa.timestamp("ns")))
    return np.array(out.to_numpy(zero_copy_only=False), dtype="datetime64[ns]"), ok  # writable


def parse_timestamps(values: Iterable[Any], *, timezone: str | None = DEFAULT_TIMEZONE,
                     dayfirst: bool | None = None) -> pd.Series:
    """Parse a column of timestamps in the formats found in case-system exports.

    Vectorised: the whole column is tried with fast formats, then the remaining *distinct*
    values one format at a time, so millions of rows with few distinct values are cheap.

    Parameters
    ----------
    values : iterable
        Strings, datetimes or numbers. Recognised: ISO 8601 with or without a UTC offset
        (``2023-04-25T09:32:00+08:00``, ``2023-04-25 09:32``), ``2019/4/25 9:32:09``,
        ``2023年4月25日`` (and ``2023年4月25日 9时32分``), dates without times, ``20230425``,
        US ``04/25/2023 09:32:00 PM``, Excel serial day numbers (20000-80000, i.e. 1954-2119).
    timezone : str or None
        Values with an offset are converted to this zone and made naive (default
        ``Asia/Shanghai``). ``None`` keeps each value's own wall-clock time. Values without an
        offset are taken as already local.
    dayfirst : bool, optional
        Order of dates such as ``05/03/2023``: ``True`` day/month, ``False`` month/day. By
        default the order is taken from values that prove it (``25/03/2023``); when none does,
        :class:`AmbiguousDateOrder` is raised.

    Returns
    -------
    pandas.Series
        ``datetime64[ns]``; ``NaT`` where the value is missing or cannot be parsed.

    Examples
    --------
    >>> s = ck.io.parse_timestamps(["2019/4/25 9:32:09", "2023年4月25日", "2023-04-25T01:32:00Z",
    ...                             "45041.5", "not a date", None])
    >>> s.dt.strftime("%Y-%m-%d %H:%M").tolist()
    ['2019-04-25 09:32', '2023-04-25 00:00', '2023-04-25 09:32', '2023-04-25 12:00', nan, nan]
    >>> ck.io.parse_timestamps(["05/03/2023"], dayfirst=True).dt.strftime("%Y-%m-%d").tolist()
    ['2023-03-05']
    """
    s = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    out, _, _ = _parse_timestamps(s, timezone, dayfirst)
    return pd.Series(out, index=s.index, name=s.name)
