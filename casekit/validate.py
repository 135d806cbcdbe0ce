"""Validate a read table into canonical events, with every bad row quarantined, never dropped.

:func:`validate_table` is the second half of :func:`casekit.read_events`: it maps columns,
parses timestamps, checks rows, pseudonymises petitioner identity, maps labels and sorts.

Rules (each row is either accepted or quarantined, so ``read = accepted + quarantined``):

- **file level** (:class:`~casekit.FileUnusableError`, CLI exit 2): unreadable, empty, not the
  format its name says, a required column (``case_id``, ``timestamp``, ``activity``) missing, or
  no row left after the checks;
- **row level** (quarantined with source row, column, PII-masked value and reason): empty case
  id, missing or unparseable timestamp, empty activity, a line that does not split into the
  header's columns, an event after an explicit ``observation_end``, and an **exact duplicate**
  of an earlier event (all columns equal): duplicates are dropped *by quarantining them*, so
  they count among the quarantined rows and also in ``n_duplicates``;
- **case level** (flagged, rows kept): a case whose first ``close`` precedes its first
  ``register``;
- **notes** (rows kept): unknown labels (kept as they are), an agency or agency type filled
  with ``unknown``, a header found below a title row, replaced bytes, ...
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from casekit import _utils
from casekit._utils import CasekitError, FileUnusableError, take_chunked
from casekit.schema import COLUMN_ALIASES, REQUIRED_COLUMNS, guess_columns
from casekit.timestamps import _DAYFIRST_HINT as _DAYFIRST_PYTHON
from casekit.timestamps import (
    AUTO_TIMEZONE,
    AmbiguousDateOrder,
    TimestampInfo,
    _parse_timestamps,
    parse_date,
)

__all__ = ["ENCODING_KEY", "PLAUSIBLE_DAYS_AFTER", "PLAUSIBLE_FROM", "Problem", "RawTable",
           "ReadResult", "event_encoding", "hint_option", "hint_style", "load_label_map",
           "normalise_ids", "validate_table"]

@dataclass
class RawTable:
    """A file's columns as read, before mapping and validation (internal hand-over)."""

    data: pd.DataFrame
    source_rows: np.ndarray  # int64, one per row of ``data``
    fmt: str
    encoding: str | None = None
    notes: list[str] = field(default_factory=list)  # file-level warnings
    bad_rows: list[tuple[int, str | None, str, str]] = field(default_factory=list)
    # (source_row, column, raw value, reason) for rows that could not be split into columns
    extra: dict[str, Any] = field(default_factory=dict)
    #: Text columns the reader already has dictionary-encoded (Parquet dictionary pages, the
    #: CSV parser's dictionaries): column name -> pyarrow ``dictionary<string>`` (chunked)
    #: array of the same values as ``data[column]``. Validation factorises from them instead of
    #: hashing millions of strings again. They are a cache: validation drops the entries it
    #: has no use for (id columns at once, the rest once used), so their memory is freed.
    dictionaries: dict[str, Any] = field(default_factory=dict, repr=False)


#: How hints name an option: ``"python"`` (``columns={'agency': ...}``, the default) or
#: ``"cli"`` (``--columns agency=COLUMN``); the command line sets it with :func:`hint_style`.
_HINT_STYLE: contextvars.ContextVar[str] = contextvars.ContextVar("casekit_hint_style",
                                                                  default="python")
_HINTS = {  # option -> (Python wording, command-line wording); {v}: the value shown
    "columns": ("columns={{{v!r}: ...}}", "--columns {v}=COLUMN"),
    "sheet": ("sheet=...", "--sheet NAME"),
    "labels": ("label_map=", "--labels FILE"),
    "timezone": ("timezone=", "--timezone ZONE"),
    "shape": ("shape='cases'", "--shape cases"),
    "dayfirst": ("dayfirst=True / False", "--dayfirst or --monthfirst"),
}


@contextlib.contextmanager
def hint_style(style: str) -> Iterator[None]:
    """Word the hints of messages raised inside the block for ``"python"`` or ``"cli"`` users.

    Examples
    --------
    >>> with ck.validate.hint_style("cli"):
    ...     ck.validate.hint_option("columns", "agency")
    '--columns agency=COLUMN'
    >>> ck.validate.hint_option("columns", "agency")
    "columns={'agency': ...}"
    """
    if style not in ("python", "cli"):
        raise CasekitError(f"hint style {style!r}: expected 'python' or 'cli'")
    token = _HINT_STYLE.set(style)
    try:
        yield
    finally:
        _HINT_STYLE.reset(token)


def hint_option(option: str, value: str | None = None) -> str:
    """How to pass ``option`` (``columns``, ``sheet``, ``labels``, ``timezone``) in the current
    :func:`hint_style`.
    """
    python, cli = _HINTS[option]
    return (cli if _HINT_STYLE.get() == "cli" else python).format(v=value)


#: Dates before this are implausible for a case log (quarantined); ``plausible_from=``.
PLAUSIBLE_FROM = "1990-01-01"
#: Dates more than this many days after the log's last plausible date are quarantined.
PLAUSIBLE_DAYS_AFTER = 365.0
#: Identifier columns: kept as text, never through a float, normalised the same way.
_LOSSY = "id stored as a number that lost digits"
_ID_COLUMNS = ("case_id", "petitioner_id", "matter_id", "petitioner_id_number")

_MEANING = {
    "case_id": "the case / petition id",
    "timestamp": "when the event happened",
    "activity": "what was done",
    "agency": "the unit that acted",
    "agency_type": "the kind of unit",
}
_TS_EXPECTED = "a date/time such as 2023-04-25 09:32, 2019/4/25 9:32:09 or 2023年4月25日"
_LABEL_COLUMNS = ("activity", "agency_type", "channel", "category", "outcome", "level",
                  "handling_mode")
#: Canonical columns whose values are codes or labels, not free text (never masked).
#: Canonical columns validated events hold as ``category`` (sorted text categories); every other
#: text column is ``str`` (see data/README.md, "Validated events").
_CATEGORY_COLUMNS = ("activity", "agency", *_LABEL_COLUMNS[1:], "street")
_CODE_COLUMNS = {"case_id", "timestamp", "activity", "agency", "agency_type", "petitioner_id",
                 "matter_id", "category", "channel", "street", "level", "outcome",
                 "handling_mode", "participants", "amount_yuan"}
_PII = ("petitioner_name", "petitioner_id_number", "petitioner_phone")
_AGENCY_FALLBACKS = ("org:resource", "event_org:resource", "org_resource", "resource", "org:role")


@dataclass(frozen=True)
class Problem:
    """One problem found while reading a file, printed as one line.

    ``level`` is ``"row"`` (the row was quarantined), ``"case"`` (a case was flagged, rows kept)
    or ``"note"`` (the file was read; something worth knowing).
    """

    source: str
    message: str
    row: int | None = None
    column: str | None = None
    expected: str | None = None
    level: str = "row"

    def line(self) -> str:
        """Return the problem as one line naming file, row, column and what was expected."""
        where = [self.source]
        loc = []
        if self.row is not None:
            loc.append(f"row {self.row}")
        if self.column is not None:
            loc.append(f"column {self.column!r}")
        if loc:
            where.append(", ".join(loc))
        prefix = {"row": "", "case": "flagged case: ", "note": "note: "}.get(self.level, "")
        text = f"{': '.join(where)}: {prefix}{self.message}"
        if self.expected:
            text += f"; expected {self.expected}"
        return " ".join(text.split())  # one line, whatever the values held


@dataclass
class ReadResult:
    """Events, quarantine, metadata and problems of one validated read.

    Attributes
    ----------
    events : pandas.DataFrame
        The accepted canonical events (``events.attrs["casekit"]`` is ``metadata``).
    quarantine : pandas.DataFrame
        One row per quarantined source row: ``source_row, column, value, reason`` (values masked).
    metadata : dict
    problems : list of Problem
    """

    events: pd.DataFrame
    quarantine: pd.DataFrame
    metadata: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)

    @property
    def n_read(self) -> int:
        """Rows read from the file (``n_accepted + n_quarantined``)."""
        return int(self.metadata["n_read"])

    @property
    def n_accepted(self) -> int:
        """Rows accepted as events."""
        return int(self.metadata["n_accepted"])

    @property
    def n_quarantined(self) -> int:
        """Rows quarantined (duplicates included)."""
        return int(self.metadata["n_quarantined"])

    @property
    def exit_code(self) -> int:
        """0 every row valid, 1 some rows quarantined, 2 no usable row."""
        if self.n_accepted == 0:
            return 2
        return 1 if self.n_quarantined else 0

    def summary(self) -> str:
        """One line: read / accepted / quarantined counts and the observation window."""
        m = self.metadata
        text = (f"{m['source']}: read {m['n_read']} rows, accepted {m['n_accepted']}, "
                f"quarantined {m['n_quarantined']}")
        if "n_events_accepted" in m:
            text += f" (case rows; {m['n_events_accepted']} events accepted)"
        if m.get("n_duplicates"):
            text += f" (of which {m['n_duplicates']} exact duplicates)"
        if self.n_accepted:
            text += (f"; {m['n_cases']} cases, {m['first_timestamp']} to {m['last_timestamp']}"
                     f"; observation end {m['observation_end']}")
        tz = m.get("timezone")
        text += f"; time zone {m.get('timezone_note') or (tz if tz else 'as recorded')}"
        return text


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _as_str(s: pd.Series) -> pd.Series:
    """Any column -> ``str`` dtype, stripped; missing stays missing; 12.0 -> '12'."""
    if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object:
        return s.str.strip()
    if isinstance(s.dtype, pd.CategoricalDtype):  # the distinct values, then one take
        cats = _as_str(pd.Series(np.asarray(s.cat.categories, dtype=object), dtype=object))
        values = cats.array.take(s.cat.codes.to_numpy(), allow_fill=True)
        return pd.Series(values, index=s.index, name=s.name)
    if pd.api.types.is_float_dtype(s.dtype):
        x = s.to_numpy(dtype="float64", na_value=np.nan)
        integral = np.isfinite(x) & (np.floor(x) == x) & (np.abs(x) < 2**53)
        out = s.astype("str")
        if integral.any():
            out[integral] = pd.Series(x[integral].astype("int64")).astype("str").to_numpy()
        return out.where(~np.isnan(x)).astype("str")
    if s.dtype == object:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        conv = []
        for v in uniques:
            if isinstance(v, float) and v.is_integer():
                conv.append(str(int(v)))
            elif isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "isoformat"):
                conv.append(pd.Timestamp(v).isoformat(sep=" "))
            else:
                conv.append(str(v).strip())
        values = pd.array(conv, dtype="str").take(codes, allow_fill=True)
        return pd.Series(values, index=s.index, name=s.name)
    return s.astype("str").str.strip()


_INVISIBLE = "[\ufeff\u200b\u200c\u200d\u2060\u00ad]"
_SPACE = "[\\s\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"  # RE2's \s is ASCII only
_NEEDS_NORMALISING = f"^{_SPACE}|{_SPACE}$|{_INVISIBLE}"


def normalise_ids(s: pd.Series) -> tuple[pd.Series, int, int]:
    """Ids without BOM, zero-width characters and surrounding (also full-width) space.

    Returns the normalised ids, how many values changed and the position of the first change
    (``-1`` when none). Applied to every id column of every file, so one case is never split in
    two by an invisible character.

    Examples
    --------
    >>> ids, n, first = normalise_ids(pd.Series(["\ufeffXF1", "XF1 ", "XF\u200b1", "XF2"],
    ...                                         dtype="str"))
    >>> ids.tolist(), n, first
    (['XF1', 'XF1', 'XF1', 'XF2'], 3, 0)
    """
    import pyarrow.compute as pc

    if s.dtype != "str":
        s = _as_str(s)
    arr = _arrow(s)
    if not _may_need_normalising(arr) or \
            not pc.any(pc.match_substring_regex(arr, _NEEDS_NORMALISING)).as_py():
        return s, 0, -1  # ASCII ids without white space at either end: no pass at all
    clean = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, _INVISIBLE, ""))
    changed = pc.fill_null(pc.not_equal(arr, clean), False).to_numpy(zero_copy_only=False)
    out = pd.Series(pd.array(clean, dtype="str"), index=s.index, name=s.name)
    return out, int(changed.sum()), int(np.argmax(changed))


def _may_need_normalising(arr: Any) -> bool:
    """False when no value can match ``_NEEDS_NORMALISING``: every byte ASCII and no ASCII
    white space first or last in a value (read from the Arrow buffers, no per-value work).

    Every character the pattern looks for besides ASCII white space is outside ASCII, so a
    ``True`` only means the exact (regex) check must run.
    """
    import pyarrow as pa

    for chunk in (arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]):
        if not len(chunk):
            continue
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            return True
        _validity, offsets, data = chunk.buffers()
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        off = np.frombuffer(offsets, dtype=width)[chunk.offset: chunk.offset + len(chunk) + 1]
        if data is None or off[-1] == off[0]:
            continue
        raw = np.frombuffer(data, dtype=np.uint8)
        if (raw[off[0]: off[-1]] >= 0x80).any():
            return True
        full = off[1:] > off[:-1]
        edges = np.concatenate([raw[off[:-1][full]], raw[off[1:][full] - 1]])
        if ((edges == 32) | ((edges >= 9) & (edges <= 13))).any():
            return True
    return False


def _lossy_numbers(s: pd.Series, fmt: str) -> np.ndarray:
    """Rows whose id arrived as a number too large to be exact (>= 2**53 as a float; any
    number of that size from Excel, which stores doubles).
    """
    limit = 2**53
    if pd.api.types.is_float_dtype(s.dtype):
        x = s.to_numpy(dtype="float64", na_value=np.nan)
        return np.isfinite(x) & (np.abs(x) >= limit)
    if fmt == "excel" and pd.api.types.is_integer_dtype(s.dtype):
        x = s.to_numpy(dtype="float64", na_value=0.0)
        return np.abs(x) >= limit
    if s.dtype != object:
        return np.zeros(len(s), dtype=bool)
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    bad_u = np.array([(isinstance(v, float | np.floating) and np.isfinite(v) and abs(v) >= limit)
                      or (fmt == "excel" and isinstance(v, int | np.integer)
                          and not isinstance(v, bool) and abs(int(v)) >= limit)
                      for v in uniques] + [False], dtype=bool)
    return bad_u[codes]


_MIN_ROWS_FOR_GAP = 50


def _implausible(ts: np.ndarray, valid: np.ndarray, plausible_from: Any,
                 days_after: float | None) -> tuple[np.ndarray, np.ndarray, Any]:
    """Masks of dates before ``plausible_from`` and far after the log's last plausible date.

    The last plausible date is found from the top of the sorted dates: when a gap of more than
    ``days_after`` separates a few of the latest dates (at most 0.2% of the rows, or 2) from the
    rest, those beyond the gap are implausible (one event in 2100 must not set the observation
    end). Logs under 50 dated rows are too sparse to judge a gap.
    """
    n = len(ts)
    early = np.zeros(n, dtype=bool)
    late = np.zeros(n, dtype=bool)
    if plausible_from is not None:
        lo = pd.Timestamp(plausible_from).as_unit("ns").to_datetime64()
        early = valid & (ts < lo)
    last = None
    if days_after is not None:
        ok = valid & ~early
        v = np.sort(ts[ok].view("int64"))
        m = len(v)
        k = max(2, m // 500) if m >= _MIN_ROWS_FOR_GAP else 0
        if k > 0:
            gap = np.int64(days_after * 86400e9)
            top = v[m - 1 - k:]
            jumps = np.flatnonzero(np.diff(top) > gap)
            if len(jumps):
                cut = top[jumps[0]]
                last = pd.Timestamp(cut)
                late = ok & (ts.view("int64") > cut + gap)
    return early, late, last


def _blank(s: pd.Series) -> np.ndarray:
    return (s.isna() | (s == "")).to_numpy(dtype=bool)


def _reader_codes(enc: Any) -> tuple[np.ndarray, Any]:
    """(int32 codes, -1 for missing; dictionary) of a reader's dictionary column as stored: one
    dictionary for all chunks, values the rows never use kept, in the file's order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = enc.chunks
    if not chunks:
        return np.zeros(0, dtype=np.int32), pa.array([], pa.large_string())
    first = chunks[0].dictionary
    if not all(c.dictionary is first or c.dictionary.equals(first) for c in chunks[1:]):
        enc = enc.unify_dictionaries()
        chunks, first = enc.chunks, enc.chunk(0).dictionary
    idx = np.concatenate([np.asarray(pc.fill_null(c.indices, -1).to_numpy(), dtype=np.int32)
                          for c in chunks])
    return idx, first


def _from_dictionary(enc: Any) -> tuple[np.ndarray, Any]:
    """(codes, dictionary) of a column read dictionary-encoded, exactly as
    :func:`_dictionary` gives them for its text: distinct values in order of first appearance,
    values the rows never use left out, ``-1`` for missing.
    """
    import pyarrow as pa

    idx, first = _reader_codes(enc)
    k = len(first)
    used = pd.unique(idx)  # in order of first appearance (a hash pass over integers)
    used = used[used >= 0]
    remap = np.full(k + 1, -1, dtype=np.int32)
    remap[used] = np.arange(len(used), dtype=np.int32)
    codes = remap[idx]  # idx == -1 reads remap[-1], the -1 kept for missing
    return codes, first.take(pa.array(used)).cast(pa.large_string())


def _dictionary(s: pd.Series, enc: Any = None) -> tuple[np.ndarray, Any]:
    """Arrow dictionary encoding of a text column: (codes with -1 for missing, dictionary).

    ``enc``: the same column as the reader dictionary-encoded it (see ``RawTable.dictionaries``);
    its encoding is reused instead of hashing the strings again.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if enc is not None:
        return _from_dictionary(enc)
    arr = _arrow(s)
    if isinstance(arr, pa.ChunkedArray) and arr.num_chunks > 1:
        arr = arr.combine_chunks()  # unifying per-chunk dictionaries of 100k values is quadratic
    enc = pc.dictionary_encode(arr)
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.unify_dictionaries()
        dictionary = enc.chunk(0).dictionary if enc.num_chunks else pa.array([], pa.string())
        indices = pa.chunked_array([c.indices for c in enc.chunks], type=pa.int32())
    else:
        dictionary, indices = enc.dictionary, enc.indices
    codes = np.asarray(pc.fill_null(indices, -1).to_numpy())
    return codes, dictionary


def _map_uniques(s: pd.Series, fn: Any, enc: Any = None, sel: Any = None) -> pd.Series:
    """Apply ``fn(list_of_unique_strings) -> list`` over distinct values and broadcast back.

    The column is returned as it is when ``fn`` changes no value (the common case). ``enc``: the
    reader's dictionary encoding of the column ``s`` was selected from by the positions ``sel``
    (see :func:`_dictionary`); its distinct values may then include some of unselected rows.
    """
    # the order of the distinct values does not matter here: the reader's codes as they are
    codes, dictionary = _reader_codes(enc) if enc is not None else _dictionary(s)
    if enc is not None and sel is not None:
        codes = codes[sel]
    if not len(dictionary):
        return s
    uniques = dictionary.to_pylist()
    mapped = list(fn(uniques))
    if mapped == uniques:
        return s
    values = pd.array(mapped, dtype="str").take(codes, allow_fill=True)
    return pd.Series(values, index=s.index, name=s.name)


def load_label_map(label_map: Any) -> dict[str, dict[str, str]]:
    """Load user label mappings: ``{column: {label: identifier}}`` from a dict, JSON or CSV file.

    A CSV needs the columns ``column,label,identifier``; a JSON file holds the dict itself.

    Examples
    --------
    >>> ck.validate.load_label_map({"activity": {"茶话会": "joint_conference"}})
    {'activity': {'茶话会': 'joint_conference'}}
    """
    if label_map is None:
        return {}
    if isinstance(label_map, Mapping):
        given: dict[str, dict[str, str]] = {}
        for col, m in label_map.items():
            if not isinstance(m, Mapping):
                raise CasekitError(
                    f"label_map[{col!r}] must map labels to identifiers, got {type(m).__name__}; "
                    "expected {column: {label: identifier}}"
                )
            given[str(col)] = {str(k): str(v) for k, v in m.items()}
        return given
    path = Path(label_map)
    if not path.exists():
        raise CasekitError(f"label map {path}: no such file")
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CasekitError(f"label map {path.name}: not valid JSON ({exc})") from None
        return load_label_map(data)
    table = None
    for enc in ("utf-8-sig", "gb18030"):
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)
            break
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise CasekitError(f"label map {path.name}: not a readable CSV "
                               f"({str(exc).splitlines()[0]}); expected columns "
                               "column,label,identifier") from None
    if table is None:
        raise CasekitError(f"label map {path.name}: cannot be decoded as UTF-8 or GB18030; "
                           "expected a UTF-8 CSV (column,label,identifier) or JSON file")
    missing = [c for c in ("column", "label", "identifier") if c not in table.columns]
    if missing:
        raise CasekitError(f"label map {path.name}: column {missing[0]!r} missing; expected "
                           f"columns column,label,identifier; found {', '.join(table.columns)}")
    out: dict[str, dict[str, str]] = {}
    for col, lab, ident in table[["column", "label", "identifier"]].itertuples(index=False):
        out.setdefault(col.strip(), {})[lab.strip()] = ident.strip()
    return out


def _factor(s: pd.Series, enc: Any = None) -> tuple[np.ndarray, list[str], bool]:
    """Factorise a column: codes (``-1`` = missing), distinct values as stripped text, unchanged.

    ``unchanged`` tells whether the column is already ``str`` text equal to those values, so it
    can be kept as it is; ``enc`` as in :func:`_dictionary`.
    """
    if s.dtype == "str" or enc is not None:  # hash in arrow (or reuse the reader's codes)
        codes, dictionary = _dictionary(s, enc)
        raw = np.asarray(dictionary.to_pylist(), dtype=object)
    else:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        raw = np.asarray(uniques, dtype=object)
    text = _as_str(pd.Series(raw, dtype=object))
    out = ["" if v is None or pd.isna(v) else str(v) for v in text.tolist()]
    same = s.dtype == "str" and all(isinstance(r, str) and r == t for r, t in zip(raw, out,
                                                                                strict=True))
    return _small_codes(np.asarray(codes), len(out)), out, same


def _small_codes(codes: np.ndarray, k: int) -> np.ndarray:
    """Codes (``-1`` = missing) of ``k`` distinct values in the smallest integer type that
    also holds ``k`` itself (so ``codes + 1`` cannot wrap): 1 byte per row for labels.

    Examples
    --------
    >>> _small_codes(np.array([0, -1, 2], dtype=np.int64), 3).dtype
    dtype('int8')
    """
    for dt in (np.int8, np.int16):
        if k < np.iinfo(dt).max:
            return codes.astype(dt, copy=False)
    return codes


def _mask_labels(labels: list[str], known_names: list[str] | None) -> list[str]:
    """Mask ID numbers, phones and known names inside free labels (few distinct values)."""
    if not labels:
        return labels
    from casekit.privacy import mask_free_text

    masked = mask_free_text(pd.Series(labels, dtype="str"), known_names=known_names)
    return ["" if v is None or pd.isna(v) else str(v) for v in masked.tolist()]


def _map_vocab_uniques(uniques: list[str], vocabulary: str,
                       extra: Mapping[str, str]) -> tuple[list[str], list[str]]:
    from casekit import schema

    mapped, unknown = [], []
    for u in uniques:
        if not u:
            mapped.append("")
            continue
        ident = extra.get(u)
        if ident is None:
            ident = schema.to_identifier(u, vocabulary) if vocabulary in schema.VOCABULARIES \
                else None
        if ident is None:
            unknown.append(u)
            ident = u
        mapped.append(ident)
    return mapped, sorted(set(unknown))


def _keep_distinct(originals: list[str], masked: list[str]) -> tuple[list[str], int]:
    """Masked labels, numbered where masking made distinct originals equal.

    Examples
    --------
    >>> _keep_distinct(["张伟调解室", "李娜调解室", "区信访局"], ["[姓名]调解室"] * 2 + ["区信访局"])
    (['[姓名]调解室', '[姓名]调解室 #2', '区信访局'], 1)
    """
    first_of: dict[str, str] = {}
    count: dict[str, int] = {}
    out = []
    n_split = 0
    taken = set(masked)
    for orig, m in zip(originals, masked, strict=True):
        if m not in first_of or first_of[m] == orig:
            first_of.setdefault(m, orig)
            out.append(m)
            continue
        k = count.get(m, 1) + 1
        while f"{m} #{k}" in taken:
            k += 1
        count[m] = k
        taken.add(f"{m} #{k}")
        out.append(f"{m} #{k}")
        n_split += 1
    return out, n_split


def _infer_types(agencies: list[str]) -> tuple[list[str], int]:
    """Agency names -> agency type identifiers by their suffix (``unknown`` when none fits)."""
    pairs = _suffix_table()
    out, hits = [], 0
    for name in agencies:
        ident = "unknown"
        for label, cand in pairs:
            if name.endswith(label) or (len(label) >= 3 and label in name):
                ident = cand
                break
        hits += ident != "unknown"
        out.append(ident)
    return out, hits


def _suffix_table() -> list[tuple[str, str]]:
    from casekit import schema

    pairs = []
    for ident, term in schema.AGENCY_TYPES.items():
        if ident == "unknown":
            continue
        for label in (term.zh, *term.aliases):
            if re.search(r"[\u4e00-\u9fff]", label) and len(label) >= 2:
                pairs.append((label, ident))
    pairs.sort(key=lambda p: -len(p[0]))
    return pairs


def _pseudonymise(df: pd.DataFrame, key: Any, notes: list[str]) -> tuple[pd.DataFrame, dict]:
    present = [c for c in _PII if c in df.columns]
    if not present:
        return df, {}
    cats = [c for c in present if isinstance(df[c].dtype, pd.CategoricalDtype)]
    if cats:  # identity columns a reader kept dictionary-encoded: as the text they hold
        df = df.assign(**{c: _category_text(df[c]) for c in cats})
    from casekit.privacy import pseudonymise

    out, info = pseudonymise(df, key=key)
    leftover = [c for c in _PII if c in out.columns]
    if leftover:  # belt and braces: raw PII must never survive ingest
        out = out.drop(columns=leftover)
    return out, dict(info) if isinstance(info, Mapping) else {"info": str(info)}


def _mask_value(value: object, column: str | None = None,
                known_names: list[str] | None = None) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    from casekit.privacy import mask_value

    if len(text) > 4 * _MAX_VALUE_CHARS:  # long cells: mask a prefix cut outside any number
        total = len(text)
        text = re.sub(r"[\dXx+\-\s]+$", "", text[: 4 * _MAX_VALUE_CHARS]) + f"... ({total} characters)"
    masked = str(mask_value(text, column=column, known_names=known_names))
    if len(masked) > _MAX_VALUE_CHARS:
        masked = f"{masked[:_MAX_VALUE_CHARS]}... ({len(masked)} characters)"
    return masked


def _mask_text_columns(df: pd.DataFrame, known_names: list[str] | None, notes: list[str],
                       enc: Mapping[str, Any] | None = None, sel: Any = None) -> pd.DataFrame:
    """Free-text columns (not codes) masked, each distinct value once.

    ``enc`` / ``sel``: the reader's dictionary encodings of the source columns and the rows of
    them that ``df`` holds (see :func:`_map_uniques`).
    """
    enc = enc or {}
    cols = [c for c in df.columns if c not in _CODE_COLUMNS and _is_text(df[c])]
    if not cols:
        return df
    df = df.copy(deep=False)  # copy-on-write: the columns replaced below are new, the rest shared
    for c in cols:
        s = df[c]
        if isinstance(s.dtype, pd.CategoricalDtype):  # a reader's dictionary column:
            df[c] = _mask_categories(s, known_names)   # its distinct values masked
            continue
        if s.dtype == object and not all(isinstance(v, str) or v is None
                                         for v in pd.unique(s.dropna())[:1000]):
            s = _as_str(s)
        usable = c in enc and s.dtype == "str" and c not in _PII
        df[c] = _mask_distinct_text(s.astype("str"), known_names,
                                    enc.get(c) if usable else None, sel)
    return df


def _mask_distinct_text(s: pd.Series, known_names: list[str] | None, enc: Any = None,
                        sel: Any = None) -> pd.Series:
    """A ``str`` column PII-masked through its distinct values, kept in Arrow (the prefilter
    sets most aside without Python strings); ``s`` itself when no value changes. ``enc`` /
    ``sel`` as in :func:`_map_uniques`.

    Examples
    --------
    >>> s = pd.Series(["电话13812345678", "无", None, "无"], dtype="str")
    >>> _mask_distinct_text(s, None).tolist()
    ['电话[手机号]', '无', nan, '无']
    >>> t = s.iloc[1:]
    >>> _mask_distinct_text(t, None) is t
    True
    """
    import pyarrow as pa

    from casekit.privacy import _mask_distinct

    codes, dictionary = _reader_codes(enc) if enc is not None else _dictionary(s)
    if enc is not None and sel is not None:
        codes = codes[sel]
    masked = _mask_distinct(dictionary, known_names)
    if masked is dictionary:
        return s
    values = pd.array(masked.take(pa.array(codes, mask=codes < 0)), dtype="str")
    return pd.Series(values, index=s.index, name=s.name)


def _mask_categories(s: pd.Series, known_names: list[str] | None) -> pd.Series:
    """A ``category`` column of free text with its categories PII-masked (values that masking
    makes equal become one category).

    Examples
    --------
    >>> s = pd.Series(["电话13812345678", "无", "电话13912345678"], dtype="category")
    >>> _mask_categories(s, None).tolist()
    ['电话[手机号]', '无', '电话[手机号]']
    """
    from casekit.privacy import mask_free_text

    cats = [str(c) for c in s.cat.categories]
    masked = mask_free_text(pd.Series(cats, dtype="str"), known_names=known_names).tolist()
    masked = [None if isinstance(v, float) else v for v in masked]
    if masked == cats:
        return s
    return _categorical(s.cat.codes.to_numpy(), [*masked, None], s.index).rename(s.name)


def _text_category(s: pd.Series) -> pd.Series:
    """A text column as ``category`` with sorted categories (the values unchanged)."""
    codes, dictionary = _dictionary(s)
    return _categorical(codes, [*dictionary.to_pylist(), None], s.index).rename(s.name)


def _category_text(s: pd.Series) -> pd.Series:
    """A ``category`` column of text as ``str`` (one Arrow take; pandas' own ``astype`` goes
    through a Python object per row).

    Examples
    --------
    >>> _category_text(pd.Series(["b", None, "a", "b"], dtype="category")).tolist()
    ['b', nan, 'a', 'b']
    """
    import pyarrow as pa

    codes = s.cat.codes.to_numpy()
    cats = pa.array(s.cat.categories.astype("str"), type=pa.large_string())
    values = cats.take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(values, dtype="str"), index=s.index, name=s.name)


def _is_text(s: pd.Series) -> bool:
    """Text held as ``str``, objects or a ``category`` of text (what free-text masking sees)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return _is_text(pd.Series(s.cat.categories))
    return pd.api.types.is_string_dtype(s.dtype) or s.dtype == object


def _arrow(s: pd.Series) -> Any:
    import pyarrow as pa

    if s.dtype == object:
        return pa.array(s.to_numpy(), type=pa.large_string(), from_pandas=True)
    return pa.array(s)


def _adjacent_equal(values: Any) -> np.ndarray:
    """``values[i + 1] == values[i]`` for an arrow array (nulls compare unequal)."""
    import pyarrow.compute as pc

    n = len(values)
    if n < 2:
        return np.zeros(0, dtype=bool)
    eq = pc.equal(values.slice(1), values.slice(0, n - 1))
    return pc.fill_null(eq, False).to_numpy(zero_copy_only=False)


def _sorted_order(case: pd.Series, ts: np.ndarray, *, check_only: bool = False
                  ) -> np.ndarray | None:
    """Stable order by (case_id, timestamp); ``None`` when already sorted (cheap check).

    ``check_only``: only the cheap check; an empty array (not ``None``) when not sorted.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(case)
    if n < 2:
        return None
    arr = _arrow(case)
    lt = pc.fill_null(pc.less(arr.slice(1), arr.slice(0, n - 1)), False).to_numpy(
        zero_copy_only=False)
    if not lt.any():
        eq = _adjacent_equal(arr)
        t = ts.view("int64")
        if not (eq & (t[1:] < t[:-1])).any():
            return None
    if check_only:
        return np.zeros(0, dtype=np.int64)
    table = pa.table({"c": arr, "t": pa.array(ts.view("int64"))})
    # pyarrow's sort_indices is stable: ties keep source order
    return pc.sort_indices(table, sort_keys=[("c", "ascending"), ("t", "ascending")]).to_numpy()


# ---------------------------------------------------------------------------------------------
# the validator, stage by stage
# ---------------------------------------------------------------------------------------------

#: One row check: (mask of failing rows, canonical column or ``*``, reason, message template,
#: what was expected).
_Check = tuple[np.ndarray, str, str, str, "str | None"]


@dataclass
class _Run:
    """What the stages of one :func:`validate_table` call share."""

    raw: RawTable
    source: str
    rows: np.ndarray
    notes: list[str]
    problems: list[Problem] = field(default_factory=list)
    checks: list[_Check] = field(default_factory=list)
    #: canonical column -> the reader's dictionary encoding of it (dropped once it changes)
    enc: dict[str, Any] = field(default_factory=dict)


def _map_columns(run: _Run, columns: Mapping[str, str] | None) -> dict[str, Any]:
    """Canonical column -> source column; a required column missing is a FileUnusableError."""
    df, raw = run.raw.data, run.raw
    mapping, map_notes = guess_columns(df.columns, columns)
    run.notes.extend(map_notes)
    if "agency" not in mapping:
        for cand in _AGENCY_FALLBACKS:
            if cand in df.columns and cand not in mapping.values():
                mapping["agency"] = cand
                run.notes.append(f"no agency column; used {cand!r} as the agency")
                break
    for req in REQUIRED_COLUMNS:
        if req not in mapping:
            found = ", ".join(map(str, df.columns)) or "(none)"
            looked = ", ".join(COLUMN_ALIASES[req][:8])
            hint = ""
            if raw.fmt == "excel" and raw.extra.get("other_sheets"):
                hint = (f"; read sheet {raw.extra.get('sheet')!r}, the workbook also has "
                        f"{', '.join(map(repr, raw.extra['other_sheets']))} (choose one with "
                        f"{hint_option('sheet', 'NAME')})")
            raise FileUnusableError(
                f"{run.source}: required column {req!r} ({_MEANING[req]}) not found; expected "
                f"a column named one of {looked}, ... or {hint_option('columns', req)}; "
                f"columns found: {found}{hint}"
            )
    return mapping


def _canonical_frame(run: _Run, mapping: Mapping[str, Any]) -> pd.DataFrame:
    """Canonical names first, the other source columns kept (no copy); notes which columns
    arrived dictionary-encoded (``run.enc``).
    """
    df = run.raw.data
    used = set(mapping.values())
    data: dict[str, pd.Series] = {}
    for canonical, col in mapping.items():
        data[canonical] = df[col]
        if canonical in _ID_COLUMNS:  # ids are never factorised from it: freed now
            run.raw.dictionaries.pop(col, None)
        elif col in run.raw.dictionaries:
            run.enc[canonical] = run.raw.dictionaries[col]
    for col in df.columns:
        if col in used:
            continue
        name = str(col)
        if name in data:
            name = f"{name}_source"
        data[name] = df[col]
        if col in run.raw.dictionaries:
            run.enc[name] = run.raw.dictionaries[col]
    return pd.DataFrame(data, copy=False).reset_index(drop=True)


def _check_ids(run: _Run, frame: pd.DataFrame) -> None:
    """Ids that arrived as lossy numbers (quarantined); ids normalised (noted); empty case ids."""
    for col in _ID_COLUMNS:
        if col in frame.columns:
            lossy = _lossy_numbers(frame[col], run.raw.fmt)
            if lossy.any():
                run.checks.append((lossy, col, _LOSSY,
                                   "id stored as a number that lost digits (16 or more digits, "
                                   "which a float cannot hold exactly: two ids may have become "
                                   "one)",
                                   "the id stored as text (format the column as text)"))
    for col in _ID_COLUMNS:
        if col in frame.columns:
            if frame[col].dtype == "str" and not _may_need_normalising(_arrow(frame[col])):
                continue  # ASCII text without white space at either end: as it is
            frame[col], n_fixed, first_fixed = normalise_ids(_as_str(frame[col]))
            if n_fixed:
                run.enc.pop(col, None)
                run.notes.append(f"{n_fixed} {col} value(s) had a byte-order mark, zero-width "
                                 f"character or surrounding space removed (first at row "
                                 f"{run.rows[first_fixed]}); ids are compared without them")
    run.checks.append((_blank(frame["case_id"]), "case_id", "empty case id", "empty case id",
                       "a non-empty case id"))


def _check_timestamps(run: _Run, frame: pd.DataFrame, ts_column: Any, timezone: str | None,
                      dayfirst: bool | None, plausible_from: Any,
                      days_after: float | None) -> tuple[np.ndarray, Any]:
    """Parse the timestamps; quarantine missing, unparseable and implausible ones."""
    try:
        ts, missing_ts, ts_info = _parse_timestamps(frame["timestamp"], timezone, dayfirst)
    except AmbiguousDateOrder as exc:
        text = str(exc).replace(_DAYFIRST_PYTHON, hint_option("dayfirst"))
        raise FileUnusableError(f"{run.source}: column {str(ts_column)!r}: {text}") from None
    bad_ts = np.isnat(ts)
    early, late, last_plausible = _implausible(ts, ~bad_ts, plausible_from, days_after)
    if early.any():
        lo = pd.Timestamp(plausible_from)
        run.checks.append((early, "timestamp", "implausible date",
                           f"implausible date {{value}} (before {lo.date()})",
                           f"dates from {lo.date()} on (plausible_from=)"))
    if late.any():
        run.checks.append((late, "timestamp", "implausible date",
                           f"implausible date {{value}} (more than {days_after:g} days "
                           f"after the log's last plausible date {last_plausible})",
                           "dates near the rest of the log (plausible_days_after=)"))
    run.checks.append((missing_ts & bad_ts, "timestamp", "missing timestamp",
                       "missing timestamp", _TS_EXPECTED))
    run.checks.append((~missing_ts & bad_ts, "timestamp", "unparseable timestamp",
                       "unparseable timestamp {value}", _TS_EXPECTED))
    return ts, ts_info


def _resolve_zone(timezone: str | None, info: TimestampInfo) -> tuple[str | None, str, str]:
    """(zone reported, where it came from, the phrase the summary prints) of one read.

    ``auto``: the data's offsets (one offset: ``UTC+08:00``, several: ``UTC+01:00/+02:00``, a
    zone-aware column: its zone); none in the data: no zone, said so, never assumed.
    """
    offsets = [str(o) for o in info.offsets_seen]
    if timezone is None:
        return None, "recorded", "as recorded (offsets dropped)"
    if timezone != AUTO_TIMEZONE:
        how = "offsets converted to it" if offsets else "stated; the data has no UTC offsets"
        return timezone, "argument", f"{timezone} ({how})"
    if not offsets:
        return None, "not in the data", ("not in the data (no UTC offsets): wall clock as "
                                         f"recorded; state it with {hint_option('timezone')}")
    named = [o if not o[:1] in "+-" else ("UTC" if o == "+00:00" else f"UTC{o}")
             for o in offsets]
    zone = named[0] if len(named) == 1 else "UTC" + "/".join(offsets)
    return zone, "data", f"{zone} from the data's offsets (wall clock as recorded)"


def _fixed_zone(timezone: str | None, info: TimestampInfo) -> Any:
    """The zone an aware observation end is converted to: the one given, or under ``auto`` the
    data's single offset or zone; ``None`` (its own wall clock) otherwise.
    """
    import datetime as dt

    if timezone != AUTO_TIMEZONE:
        return timezone
    if len(info.offsets_seen) != 1:
        return None
    o = str(info.offsets_seen[0])
    if o[:1] not in "+-":
        return o
    hours, _, minutes = o[1:].partition(":")
    delta = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
    return dt.timezone(delta if o[0] == "+" else -delta)


def _check_observation_end(run: _Run, ts: np.ndarray, observation_end: Any,
                           timezone: Any) -> pd.Timestamp | None:
    """Events after an explicit observation end are quarantined; returns that end (naive)."""
    if observation_end is None:
        return None
    obs = parse_date(observation_end)
    if obs.tzinfo is not None:
        obs = obs.tz_convert(timezone).tz_localize(None) if timezone else obs.tz_localize(None)
    obs_end = obs.as_unit("ns")
    after = ~np.isnat(ts) & (ts > obs_end.to_datetime64())
    run.checks.append((after, "timestamp", "after the observation end",
                       f"event after the observation end {obs_end}", f"events up to {obs_end}"))
    return obs_end


@dataclass
class _Order:
    """Accepted rows in (case_id, timestamp) order and the exact duplicates found on the way."""

    keep_idx: np.ndarray           # source positions of the accepted rows, in event order
    sorted_already: bool           # the good rows were in order (no reordering)
    dup: np.ndarray                # bool per source row: an exact duplicate (quarantined)
    dup_of: dict[int, int]         # duplicate row -> the row it repeats (first 10,000)
    same_case: np.ndarray | None   # adjacent accepted rows share a case id (when computed)


def _order_and_dedupe(df: pd.DataFrame, case: pd.Series, ts: np.ndarray, bad: np.ndarray,
                      drop_duplicates: bool) -> _Order:
    """Sort the good rows by (case_id, timestamp); exact duplicates are then neighbours within
    runs of equal (case_id, timestamp) and are compared on the source values as recorded (ids
    that differ only by padding or an invisible character are not exact duplicates).
    """
    n = len(df)
    dup = np.zeros(n, dtype=bool)
    same_case: np.ndarray | None = None
    good_idx = np.flatnonzero(~bad)
    dup_of: dict[int, int] = {}
    case_g = _select_rows(case, good_idx, _row_runs(good_idx, n)) if bad.any() else case
    order = _sorted_order(case_g, ts[good_idx])
    gi = good_idx if order is None else good_idx[order]
    if drop_duplicates and len(gi) > 1:
        c_sorted = case_g if order is None else case_g.take(order)
        t_sorted = ts[gi]
        same_case = _adjacent_equal(_arrow(c_sorted))
        same = same_case & (t_sorted[1:] == t_sorted[:-1])
        if same.any():
            near = np.zeros(len(gi), dtype=bool)
            near[1:] |= same
            near[:-1] |= same
            sub_idx = np.sort(gi[near])
            cmp = _take_frame_rows(df, sub_idx).astype("str")
            gid = cmp.groupby(list(cmp.columns), sort=False, dropna=False).ngroup().to_numpy()
            _, first_pos = np.unique(gid, return_index=True)
            firsts = first_pos[gid]
            is_dup = firsts != np.arange(len(gid))
            if is_dup.any():
                dup[sub_idx[is_dup]] = True
                for pos in np.flatnonzero(is_dup)[:_MAX_PROBLEM_OBJECTS]:
                    dup_of[int(sub_idx[pos])] = int(sub_idx[firsts[pos]])
    keep_idx = gi[~dup[gi]] if dup.any() else gi
    return _Order(keep_idx, order is None, dup, dup_of, same_case)


def _quarantined_values(run: _Run, frame: pd.DataFrame, mapping: Mapping[str, Any],
                        idx: np.ndarray, col: str, reason: str,
                        raw_names: list[str] | None) -> tuple[list[str], str]:
    """The PII-masked values shown for the rows ``idx`` of one check, and the column named."""
    shown_col = str(mapping.get(col, col))
    if col == "*":
        return ["" for _ in idx], "*"
    if reason == _LOSSY:  # the rounded number itself looks like an id: never shown
        return ["[number]" for _ in idx], shown_col
    src = run.raw.data[mapping[col]] if col in mapping else frame[col]
    return [_mask_value(v, None, raw_names) for v in _take_rows(src, idx).tolist()], shown_col


def _quarantine(run: _Run, frame: pd.DataFrame, mapping: Mapping[str, Any], dup_of: dict,
                raw_names: list[str] | None) -> pd.DataFrame:
    """One row per quarantined source row (values masked), and a problem line per row."""
    rows = run.rows
    q_parts = []
    for mask, col, reason, template, expected in run.checks:
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        values, shown_col = _quarantined_values(run, frame, mapping, idx, col, reason,
                                                raw_names)
        q_parts.append(pd.DataFrame({"_i": idx, "source_row": rows[idx], "column": shown_col,
                                     "value": values, "reason": reason}))
        for k, i in enumerate(idx[:_MAX_PROBLEM_OBJECTS]):
            msg = template.format(value=repr(values[k]) if values[k] else "''",
                                  first=rows[dup_of[int(i)]] if int(i) in dup_of else "?")
            run.problems.append(Problem(run.source, msg, int(rows[i]),
                                        None if col == "*" else shown_col, expected, "row"))
    for r, col, value, reason in run.raw.bad_rows:
        q_parts.append(pd.DataFrame({"_i": [-1], "source_row": [r], "column": [col or "*"],
                                     "value": [_mask_value(value, None, raw_names)],
                                     "reason": [reason]}))
        run.problems.append(Problem(run.source, reason, r, None, None, "row"))
    run.problems.sort(key=lambda p: (p.row if p.row is not None else -1))
    if not q_parts:
        return pd.DataFrame({"source_row": pd.Series([], dtype="int64"),
                             "column": pd.Series([], dtype="str"),
                             "value": pd.Series([], dtype="str"),
                             "reason": pd.Series([], dtype="str")})
    q = pd.concat(q_parts, ignore_index=True).sort_values("source_row", kind="stable")
    if q["source_row"].duplicated().any():
        q = q.groupby("source_row", sort=True, as_index=False).agg(
            column=("column", lambda s: ", ".join(dict.fromkeys(s))),
            value=("value", lambda s: " | ".join(s)),
            reason=("reason", lambda s: "; ".join(dict.fromkeys(s))),
        )
    else:
        q = q.drop(columns="_i")
    return q[["source_row", "column", "value", "reason"]].reset_index(drop=True)


_MAX_RUNS = 4096  # accepted rows in at most this many contiguous runs: sliced, not copied


def _row_runs(keep: np.ndarray, n: int) -> list[tuple[int, int]] | None:
    """(start, stop) of the contiguous runs of an increasing row index; ``None`` when the rows
    were reordered or fall in too many runs (then they are taken).
    """
    if len(keep) and (np.diff(keep) <= 0).any():
        return None
    breaks = np.flatnonzero(np.diff(keep) != 1) + 1
    if len(breaks) >= _MAX_RUNS:
        return None
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(keep)]])
    return [(int(keep[a]), int(keep[b - 1]) + 1) for a, b in zip(starts, stops, strict=True)
            if b > a]


def _select_rows(s: pd.Series, keep: np.ndarray, runs: list[tuple[int, int]] | None
                 ) -> pd.Series:
    """``s.take(keep)`` with a fresh index; Arrow-backed columns kept in few runs are zero-copy
    slices of the column (a few bad rows do not copy every column).
    """
    import pyarrow as pa

    arr = s.array
    if runs is not None and isinstance(arr, pd.arrays.ArrowExtensionArray):
        whole = pa.array(arr)
        whole = whole if isinstance(whole, pa.ChunkedArray) else pa.chunked_array([whole])
        chunks = [c for a, b in runs for c in whole.slice(a, b - a).chunks]
        values = pd.array(pa.chunked_array(chunks, type=whole.type), dtype=s.dtype)
    else:
        values = arr.take(keep)
    return pd.Series(values, name=s.name)


def _take_rows(s: pd.Series, idx: np.ndarray) -> pd.Series:
    """``s.iloc[idx]`` for a few rows; an Arrow column in several chunks is taken chunk by chunk
    (Arrow's take on a chunked column concatenates it first: a copy of the whole column).

    Examples
    --------
    >>> import pyarrow as pa
    >>> s = pd.Series(pd.array(pa.chunked_array([["a", "b"], ["c", None]]), dtype="str"))
    >>> _take_rows(s, np.array([3, 0, 2])).tolist()
    [nan, 'a', 'c']
    """
    import pyarrow as pa

    arr = s.array
    whole = pa.array(arr) if isinstance(arr, pd.arrays.ArrowExtensionArray) else None
    if not isinstance(whole, pa.ChunkedArray) or whole.num_chunks < 2 or not len(idx):
        return s.iloc[idx]
    values = take_chunked(whole, idx)
    return pd.Series(pd.array(values, dtype=s.dtype), index=s.index[idx], name=s.name)


def _take_frame_rows(df: pd.DataFrame, idx: np.ndarray) -> pd.DataFrame:
    """``df.iloc[idx]`` column by column with :func:`_take_rows` (same columns, same index)."""
    out = pd.DataFrame({i: _take_rows(df.iloc[:, i], idx).reset_index(drop=True)
                        for i in range(df.shape[1])}, index=pd.RangeIndex(len(idx)))
    out.columns, out.index = df.columns, df.index[idx]
    return out


@dataclass
class _Accepted:
    """The accepted rows and how to rebuild a factorised column on them."""

    events: pd.DataFrame
    factors: dict[str, tuple[np.ndarray, list[str], bool]]
    sel: Any                  # positions of the accepted rows (``slice(None)``: all, in order)
    runs: list[tuple[int, int]] | None
    identity: bool
    counts: dict[str, np.ndarray] = field(default_factory=dict)

    def empties(self, col: str) -> int:
        """Accepted rows whose ``col`` is missing or empty."""
        codes, uniques, _ = self.factors[col]
        if all(uniques) and not (codes < 0).any():
            return 0
        if col not in self.counts:  # rows per distinct value (index 0: missing)
            self.counts[col] = np.bincount(codes[self.sel] + 1, minlength=len(uniques) + 1)
        counts = self.counts[col]
        return int(counts[0] + sum(counts[i + 1] for i, u in enumerate(uniques) if not u))

    def column(self, col: str, mapped: Sequence[str | None], fill: str | None) -> pd.Series:
        """The accepted rows of ``col`` with its distinct values replaced by ``mapped``, as a
        ``category`` column (see :func:`_categorical`; no per-row strings are built)."""
        codes = self.factors[col][0]
        return _categorical(codes if self.identity else codes[self.sel], [*mapped, fill],
                            self.events.index)


def _categorical(codes: np.ndarray, values: Sequence[str | None], index: pd.Index) -> pd.Series:
    """``values[codes]`` (``codes == -1``: ``values[-1]``; ``None``: missing) as a ``category``
    column whose categories are the distinct values the rows use, sorted as text sorts.

    Sorted categories make sorting and ``groupby`` give the order plain text gives.

    Examples
    --------
    >>> s = _categorical(np.array([1, 0, -1, 1]), ["b", "a", None], pd.RangeIndex(4))
    >>> s.tolist(), list(s.cat.categories)
    (['a', 'b', nan, 'a'], ['a', 'b'])
    """
    text = [v for v in values if v is not None]
    cats = sorted(set(text))
    pos = {c: i for i, c in enumerate(cats)}
    remap = np.array([-1 if v is None else pos[v] for v in values], dtype=np.int32)
    new = remap[codes]  # -1 reads remap[-1]: the fill value's code
    used = np.bincount(new + 1, minlength=len(cats) + 1)[1:] > 0
    if not used.all():  # categories of quarantined rows only: left out
        cats = [c for c, u in zip(cats, used, strict=True) if u]
        keep = np.full(len(used) + 1, -1, dtype=np.int32)
        keep[np.flatnonzero(used)] = np.arange(len(cats), dtype=np.int32)
        new = keep[new]  # -1 reads keep[-1] == -1
    dtype = pd.CategoricalDtype(pd.Index(cats, dtype="str"))
    return pd.Series(pd.Categorical.from_codes(new, dtype=dtype, validate=False), index=index)


def _accepted(run: _Run, frame: pd.DataFrame, order: _Order, bad: np.ndarray,
              done: Mapping[str, tuple[np.ndarray, list[str], bool]]) -> _Accepted:
    """The accepted rows (in event order) of the columns that are not label columns; the label
    columns factorised once (checks, stripping and mapping work on the distinct values; those
    in ``done`` already were).
    """
    factors = {c: done[c] if c in done else _factor(frame[c], run.enc.get(c))
               for c in ("activity", "agency", *_LABEL_COLUMNS[1:]) if c in frame.columns}
    identity = order.sorted_already and not bad.any() and not order.dup.any()
    others = [c for c in frame.columns if c not in factors]
    keep = order.keep_idx
    runs = None if identity else _row_runs(keep, len(frame))
    if identity:
        events = frame[others]
    else:
        events = pd.DataFrame({c: _select_rows(frame[c], keep, runs) for c in others},
                              columns=others, copy=False)
    return _Accepted(events, factors, slice(None) if identity else keep, runs,
                     identity)


def _map_labels(run: _Run, acc: _Accepted, labels: Mapping[str, Mapping[str, str]],
                raw_names: list[str] | None) -> tuple[list[str | None], dict[str, list[str]]]:
    """Activity and the other labelled columns -> identifiers (unknown labels kept, masked);
    returns the activity identifiers per distinct value and the unknown labels per column.
    """
    mapped_act: list[str | None] = []
    unknown_labels: dict[str, list[str]] = {}
    for col, (_codes, uniques, _same) in acc.factors.items():
        if col == "agency":
            continue
        mapped_s, unknown = _map_vocab_uniques(uniques, col, labels.get(col, {}))
        mapped: list[str | None] = list(mapped_s)
        if unknown:  # labels kept as they are may hold PII: mask them
            unknown_set = set(unknown)
            positions = [i for i, m in enumerate(mapped) if m in unknown_set]
            masked = _mask_labels([str(mapped[i]) for i in positions], raw_names)
            for i, m in zip(positions, masked, strict=True):
                mapped[i] = m
            unknown = sorted(set(masked))
        if unknown:
            unknown_labels[col] = unknown
        fill: str | None = None
        if col == "agency_type":
            n_empty = acc.empties(col)
            if n_empty:
                run.notes.append(f"{n_empty} event(s) without an agency type: set to 'unknown'")
            mapped = [m or "unknown" for m in mapped]
            fill = "unknown"
        else:
            mapped = [m or None for m in mapped]
        if col == "activity":
            mapped_act = mapped
        acc.events[col] = acc.column(col, mapped, fill)
    return mapped_act, unknown_labels


def _map_agencies(run: _Run, acc: _Accepted, raw_names: list[str] | None) -> None:
    """Agency ('unknown' where missing, personal names masked, kept distinct) and, without an
    agency_type column, the type inferred from the agency name.
    """
    events = acc.events
    if "agency" not in acc.factors:
        unknown = np.full(len(events), -1, dtype=np.int8)
        events["agency"] = _categorical(unknown, ["unknown"], events.index)
        events["agency_type"] = _categorical(unknown, ["unknown"], events.index)
        run.notes.append("no agency column; agency and agency_type set to 'unknown' "
                         f"(pass {hint_option('columns', 'agency')})")
        return
    codes, uniques, _same = acc.factors["agency"]
    n_empty = acc.empties("agency")
    if n_empty:
        run.notes.append(f"{n_empty} event(s) without an agency: set to 'unknown'")
    named = [u if u else "unknown" for u in uniques]
    masked_agencies, n_split = _keep_distinct(named, _mask_labels(named, raw_names))
    if n_split:
        run.notes.append(f"{n_split} agency name(s) became equal once personal names in them "
                         "were masked; numbered (#2, #3, ...) so distinct agencies stay distinct")
    events["agency"] = acc.column("agency", masked_agencies, "unknown")
    if "agency_type" not in acc.factors:
        types, n_hit = _infer_types(uniques)
        events["agency_type"] = _categorical(codes[acc.sel], [*types, "unknown"], events.index)
        run.notes.append(f"no agency_type column; inferred from agency names for {n_hit} of "
                         f"{len(uniques)} agencies, the others 'unknown'")


def _canonical_order(events: pd.DataFrame) -> pd.DataFrame:
    """Canonical columns first (in the schema's order), then the others; case ids as text."""
    from casekit.schema import EVENT_COLUMNS, OPTIONAL_EVENT_COLUMNS

    first = [c for c in (*EVENT_COLUMNS, *OPTIONAL_EVENT_COLUMNS) if c in events.columns]
    events = events[first + [c for c in events.columns if c not in first]]
    for c in events.columns:  # the category columns as categories, every other text as str
        is_cat = isinstance(events[c].dtype, pd.CategoricalDtype)
        if c in _CATEGORY_COLUMNS and not is_cat and _is_text(events[c]):
            events[c] = _text_category(events[c].astype("str"))
        elif c not in _CATEGORY_COLUMNS and is_cat:
            events[c] = _category_text(events[c])
    if events["case_id"].dtype != "str":
        events["case_id"] = events["case_id"].astype("str")
    return events


@dataclass
class _CaseFacts:
    """Per-case facts found on the sorted accepted events."""

    n_cases: int = 0
    flagged: list[str] = field(default_factory=list)
    n_flagged: int = 0


def _check_cases(run: _Run, events: pd.DataFrame, order: _Order, act_codes: np.ndarray,
                 mapped_act: list[str | None]) -> _CaseFacts:
    """Count the cases and flag those closed before they were registered (rows kept)."""
    facts = _CaseFacts()
    if not len(events):
        return facts
    case_arr = _arrow(events["case_id"])
    new_case = np.ones(len(events), dtype=bool)
    if order.same_case is not None and not order.dup.any():  # computed on the same sorted rows
        new_case[1:] = ~order.same_case
    else:
        new_case[1:] = ~_adjacent_equal(case_arr)
    group = np.cumsum(new_case) - 1
    facts.n_cases = n_cases = int(group[-1]) + 1
    t64 = events["timestamp"].to_numpy().view("int64")
    never = np.iinfo(np.int64).max

    def first_time(label: str) -> np.ndarray:
        out = np.full(n_cases, never)
        hit = np.array([m == label for m in mapped_act] + [False], dtype=bool)
        if not hit.any():
            return out
        rows_ = np.flatnonzero(hit[act_codes])
        g, first = np.unique(group[rows_], return_index=True)
        out[g] = t64[rows_[first]]
        return out

    reg_t, clo_t = first_time("register"), first_time("close")
    wrong = np.flatnonzero((reg_t != never) & (clo_t != never) & (clo_t < reg_t))
    facts.n_flagged = len(wrong)
    if facts.n_flagged:
        starts = np.flatnonzero(new_case)
        facts.flagged = [str(c) for c in _take_rows(events["case_id"], starts[wrong[:1000]])]
        _flag_problems(run, facts, wrong, reg_t, clo_t)
    return facts


def _flag_problems(run: _Run, facts: _CaseFacts, wrong: np.ndarray, reg_t: np.ndarray,
                   clo_t: np.ndarray) -> None:
    expected = "registration before closure"
    for k, c in enumerate(facts.flagged[:_MAX_CASE_LINES]):
        g = wrong[k]
        run.problems.append(Problem(
            run.source, f"case {c!r} is closed ({pd.Timestamp(clo_t[g])}) before it is "
            f"registered ({pd.Timestamp(reg_t[g])})", None, "timestamp", expected, "case"))
    if facts.n_flagged > _MAX_CASE_LINES:
        run.problems.append(Problem(run.source, f"... and {facts.n_flagged - _MAX_CASE_LINES} "
                                    "more cases closed before they were registered", None,
                                    "timestamp", expected, "case"))


def _counts(run: _Run, n: int, n_accepted: int, quarantine: pd.DataFrame) -> dict[str, Any]:
    """Read / accepted / quarantined counts (on the physical case rows for a case table)."""
    raw = run.raw
    n_read = n + len(raw.bad_rows)
    n_quarantined = len(quarantine)
    if raw.extra.get("shape") == "cases":  # counts on the case rows (the physical records)
        n_case_rows = int(raw.extra["n_case_rows"])
        n_q = int(quarantine["source_row"].nunique())
        return {"n_read": n_case_rows, "n_accepted": n_case_rows - n_q, "n_quarantined": n_q,
                "shape_info": {"n_events_read": n_read, "n_events_accepted": n_accepted}}
    if n_accepted + n_quarantined != n_read:  # pragma: no cover - invariant
        raise AssertionError(f"row conservation broken: {n_read} != {n_accepted} + "
                             f"{n_quarantined}")
    return {"n_read": n_read, "n_accepted": n_accepted, "n_quarantined": n_quarantined,
            "shape_info": {}}


def _metadata(run: _Run, events: pd.DataFrame, counts: dict[str, Any], facts: _CaseFacts,
              extra: dict[str, Any]) -> dict[str, Any]:
    """The read's metadata as plain JSON types (``events.attrs['casekit']``)."""
    raw = run.raw
    n_accepted = len(events)
    last = events["timestamp"].max() if n_accepted else None
    first_ts = events["timestamp"].min() if n_accepted else None
    obs_end = extra["observation_end"]
    if obs_end is None and last is not None:
        obs_end = last
    for c, labs in extra["unknown_labels"].items():
        shown = ", ".join(labs[:10]) + (f", ... ({len(labs)} in all)" if len(labs) > 10 else "")
        run.notes.append(f"unknown {c} labels kept as they are: {shown} "
                         f"(map them with {hint_option('labels', None)})")
    run.problems.extend(Problem(run.source, note, level="note") for note in run.notes)
    ts_info = extra["ts_info"]
    metadata: dict[str, Any] = {
        "source": run.source,
        "path": extra["path"],
        "format": raw.fmt,
        "encoding": raw.encoding,
        **dict(raw.extra),
        "column_mapping": {k: str(v) for k, v in extra["mapping"].items()},
        "timezone": extra["zone"][0],
        "timezone_source": extra["zone"][1],
        "timezone_note": extra["zone"][2],
        "timestamp_offsets_seen": ts_info.offsets_seen,
        "timestamp_formats": ts_info.formats,
        "observation_end": obs_end,
        "observation_end_explicit": extra["observation_end_explicit"],
        "first_timestamp": first_ts,
        "last_timestamp": last,
        "n_read": counts["n_read"],
        "n_accepted": counts["n_accepted"],
        "n_quarantined": counts["n_quarantined"],
        "n_duplicates": extra["n_duplicates"],
        "n_cases": facts.n_cases,
        "unknown_labels": extra["unknown_labels"],
        "flagged_cases": facts.flagged,
        "n_flagged_cases": facts.n_flagged,
        "pseudonymisation": extra["pii_info"],
        "notes": run.notes,
        **counts["shape_info"],
    }
    return _json_safe(metadata)


#: ``events.attrs`` key of how validated events are encoded (see :func:`event_encoding`).
ENCODING_KEY = _utils.ENCODING_KEY  # one home: casekit._utils


def event_encoding(events: pd.DataFrame) -> dict[str, Any]:
    """How validated events are encoded, so later steps need not redo it.

    :func:`validate_table` (and so every reader) sets ``events.attrs["casekit_encoding"]``, plain
    scalars only: ``sorted_by_case_time`` (rows in stable ``(case_id, timestamp)`` order),
    ``timestamps_parsed`` (``timestamp`` is naive ``datetime64[ns]`` in the read's zone, no NaT),
    ``vocabulary`` (``"identifiers"``: ``activity``, ``agency_type`` and the other labelled
    columns hold vocabulary identifiers where a label was recognised), ``case_ids_normalised``
    (ids stripped of BOMs, zero-width characters and surrounding space; never empty) and
    ``n_events`` (rows when set). pandas copies ``attrs`` through sorting and filtering, so this
    function returns the flags only while they still hold: ``{}`` when the row count differs,
    and ``sorted_by_case_time`` re-checked in one vectorised pass (no sort).

    Examples
    --------
    >>> data = pd.DataFrame({"case_id": ["B", "A", "A"], "activity": ["登记", "办结", "登记"],
    ...                      "timestamp": ["2023-01-03", "2023-01-05", "2023-01-02"]})
    >>> ev = ck.validate.validate_table(RawTable(data, np.array([2, 3, 4]), "csv"),
    ...                                 source="t.csv").events
    >>> ck.validate.event_encoding(ev)["sorted_by_case_time"]
    True
    >>> ck.validate.event_encoding(ev.sort_values("timestamp"))
    {}
    """
    flags = events.attrs.get(ENCODING_KEY)
    if not isinstance(flags, Mapping) or flags.get("n_events") != len(events) \
            or "case_id" not in events.columns or "timestamp" not in events.columns:
        return {}
    flags = dict(flags)
    ts = events["timestamp"]
    if flags.get("timestamps_parsed") and ts.dtype != np.dtype("datetime64[ns]"):
        return {}
    if flags.get("sorted_by_case_time") and (
            ts.dtype != np.dtype("datetime64[ns]")
            or _sorted_order(events["case_id"], ts.to_numpy(), check_only=True) is not None):
        return {}
    return flags


def _encoding_flags(events: pd.DataFrame) -> dict[str, Any]:
    return {"sorted_by_case_time": True, "timestamps_parsed": True, "vocabulary": "identifiers",
            "case_ids_normalised": True, "n_events": len(events)}


def validate_table(
    raw: RawTable,
    *,
    source: str,
    columns: Mapping[str, str] | None = None,
    observation_end: Any = None,
    timezone: str | None = AUTO_TIMEZONE,
    label_map: Any = None,
    key: str | bytes | None = None,
    path: str | None = None,
    drop_duplicates: bool = True,
    dayfirst: bool | None = None,
    plausible_from: Any = PLAUSIBLE_FROM,
    plausible_days_after: float | None = PLAUSIBLE_DAYS_AFTER,
) -> ReadResult:
    """Turn a :class:`casekit.io.RawTable` into canonical events plus a quarantine.

    Parameters are those of :func:`casekit.read_events`; ``source`` is the file name used in
    messages. See the module docstring for the rules. With ``drop_duplicates=False`` exact
    duplicate events are kept (and not counted as quarantined). The stages, in order: map the
    columns, check ids, parse and check timestamps, check activities, sort and de-duplicate,
    quarantine, map labels and agencies, pseudonymise, mask free text, order the columns,
    check cases, metadata (each a function of its own below). The events carry how they are
    encoded (:func:`event_encoding`).

    Returns
    -------
    ReadResult

    Raises
    ------
    FileUnusableError
        A required column is missing (naming it and listing the columns found), or the day /
        month order of a date column is ambiguous (``dayfirst`` not given).

    Examples
    --------
    >>> from casekit.validate import RawTable
    >>> data = pd.DataFrame({"case_id": ["A", "A", "A"], "timestamp": ["2023-01-02", "x", "2023-01-02"],
    ...                      "activity": ["登记", "办结", "登记"]})
    >>> res = ck.validate.validate_table(RawTable(data, np.array([2, 3, 4]), "csv"), source="t.csv")
    >>> res.n_read, res.n_accepted, res.n_quarantined, res.metadata["n_duplicates"]
    (3, 1, 2, 1)
    >>> [p.line() for p in res.problems if p.level == "row"][0]
    "t.csv: row 3, column 'timestamp': unparseable timestamp 'x'; expected a date/time such as 2023-04-25 09:32, 2019/4/25 9:32:09 or 2023年4月25日"
    """
    run = _Run(raw, source, np.asarray(raw.source_rows, dtype="int64"), list(raw.notes))
    labels = load_label_map(label_map)
    mapping = _map_columns(run, columns)
    frame = _canonical_frame(run, mapping)
    _check_ids(run, frame)
    ts, ts_info = _check_timestamps(run, frame, mapping["timestamp"], timezone, dayfirst,
                                    plausible_from, plausible_days_after)
    frame["timestamp"] = ts
    acc_factor = _factor(frame["activity"], run.enc.get("activity"))
    blank_u = np.array([u == "" for u in acc_factor[1]] + [True], dtype=bool)
    run.checks.append((blank_u[acc_factor[0]], "activity", "empty activity", "empty activity",
                       "an activity label such as 登记 or register"))
    obs_end = _check_observation_end(run, ts, observation_end, _fixed_zone(timezone, ts_info))
    bad = np.zeros(len(frame), dtype=bool)
    for mask, *_ in run.checks:
        bad |= mask
    order = _order_and_dedupe(raw.data, frame["case_id"], ts, bad, drop_duplicates)
    if order.dup.any():
        run.checks.append((order.dup, "*", "exact duplicate", "exact duplicate of row {first}",
                           "each event once"))
        bad |= order.dup
    raw_names = _petitioner_names(raw.data, mapping)
    quarantine = _quarantine(run, frame, mapping, order.dup_of, raw_names)
    acc = _accepted(run, frame, order, bad, {"activity": acc_factor})
    del frame, ts, bad  # memory: what the accepted rows no longer need goes as soon as it can
    run.checks.clear()
    n_rows = len(raw.data)
    raw = run.raw = _without_rows(raw)  # the columns as read: freed here when the caller
    run.rows = raw.source_rows          # handed them over (read_events_report does)
    mapped_act, unknown_labels = _map_labels(run, acc, labels, raw_names)
    _map_agencies(run, acc, raw_names)
    act_codes, sel = acc_factor[0][acc.sel], acc.sel
    events = acc.events
    del acc, acc_factor  # the label codes of every column
    events, pii_info = _pseudonymise(events, key, run.notes)
    events = _mask_text_columns(events, raw_names, run.notes, run.enc, sel)
    run.enc.clear()  # every use of the reader's dictionaries is behind: their memory freed
    raw.dictionaries.clear()
    events = _canonical_order(events)
    facts = _check_cases(run, events, order, act_codes, mapped_act)
    counts = _counts(run, n_rows, len(events), quarantine)
    metadata = _metadata(run, events, counts, facts, {
        "path": path, "mapping": mapping, "zone": _resolve_zone(timezone, ts_info),
        "ts_info": ts_info,
        "observation_end": obs_end, "observation_end_explicit": observation_end is not None,
        "n_duplicates": int(order.dup.sum()), "unknown_labels": unknown_labels,
        "pii_info": pii_info})
    events, problems, metadata = _scrub_side_doors(events, run.problems, metadata, raw_names)
    release_arrow_memory()
    events.attrs["casekit"] = metadata
    events.attrs[ENCODING_KEY] = _encoding_flags(events)
    return ReadResult(events, quarantine, metadata, problems)


def _without_rows(raw: RawTable) -> RawTable:
    """``raw`` without its rows (the column names, none of their memory): what validation keeps
    of it once the accepted rows are taken. The caller's ``raw`` is left as it is.

    Examples
    --------
    >>> raw = RawTable(pd.DataFrame({"a": [1, 2]}), np.array([2, 3]), "csv", extra={"k": 1})
    >>> bare = _without_rows(raw)
    >>> list(bare.data.columns), len(bare.data), len(bare.source_rows), bare.extra, len(raw.data)
    (['a'], 0, 0, {'k': 1}, 2)
    """
    import dataclasses

    # a fresh frame: a zero-row slice (even a "deep" copy of Arrow text) keeps the buffers alive
    return dataclasses.replace(raw, data=pd.DataFrame(columns=raw.data.columns),
                               source_rows=np.zeros(0, dtype="int64"))


def release_arrow_memory() -> None:
    """Hand the memory Arrow's allocator keeps after a read's temporaries are freed back to the
    system (mimalloc / jemalloc keep it for Arrow's reuse, where numpy and the later steps
    cannot use it: on a 9M-event Parquet read that is more than the events themselves)."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _petitioner_names(df: pd.DataFrame, mapping: Mapping[str, Any]) -> list[str] | None:
    """The distinct petitioner names of the file (masked wherever else they appear)."""
    if "petitioner_name" not in mapping:
        return None
    return [v for v in pd.unique(_as_str(df[mapping["petitioner_name"]]).dropna()) if v]


#: Metadata values that are dates or counts, never free text: left as they are.
_PLAIN_KEYS = frozenset({"observation_end", "first_timestamp", "last_timestamp",
                         "observation_end_explicit", "timezone", "timezone_source",
                         "timezone_note", "format", "encoding"})


def _scrub_side_doors(events: pd.DataFrame, problems: list[Problem], metadata: dict[str, Any],
                      known_names: list[str] | None
                      ) -> tuple[pd.DataFrame, list[Problem], dict[str, Any]]:
    """PII out of everything a read hands on besides the cells: the file name (in every
    problem line and the metadata), column headers, notes and the column mapping.

    Scrubbed with :func:`casekit.privacy.scrub_message`, which also masks the names, ID numbers
    and phones of the identity columns this read consumed (``known_names``), so a petitioner's
    name in a file name or header is caught even without a marker word.
    """
    import dataclasses

    from casekit.privacy import scrub_message

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return scrub_message(value, known_names=known_names, max_chars=100_000)
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: (v if k in _PLAIN_KEYS else clean(v)) for k, v in value.items()}
        return value

    renamed: dict[Any, str] = {}
    taken = {str(c) for c in events.columns}
    for col in events.columns:
        safe = clean(str(col))
        if safe != str(col):
            k, name = 2, safe
            while name in taken:
                name, k = f"{safe}#{k}", k + 1
            renamed[col] = name
            taken.add(name)
    if renamed:
        events = events.rename(columns=renamed)
    problems = [dataclasses.replace(
        pr, source=clean(pr.source), message=clean(pr.message),
        column=None if pr.column is None else clean(pr.column)) for pr in problems]
    return events, problems, clean(metadata)


_MAX_PROBLEM_OBJECTS = 10_000
_MAX_VALUE_CHARS = 200
_MAX_CASE_LINES = 200


def _json_safe(obj: Any) -> Any:
    """Metadata as plain JSON types (pandas writes ``attrs`` into Parquet as JSON)."""
    from casekit._utils import json_safe

    return json_safe(obj)
