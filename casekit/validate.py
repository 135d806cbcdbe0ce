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

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from casekit._utils import CasekitError, FileUnusableError
from casekit.schema import COLUMN_ALIASES, REQUIRED_COLUMNS, guess_columns
from casekit.timestamps import AmbiguousDateOrder, _parse_timestamps

__all__ = ["PLAUSIBLE_DAYS_AFTER", "PLAUSIBLE_FROM", "Problem", "RawTable", "ReadResult",
           "load_label_map", "normalise_ids", "validate_table"]

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
        text += f"; time zone {tz if tz else 'as recorded'}"
        return text


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _as_str(s: pd.Series) -> pd.Series:
    """Any column -> ``str`` dtype, stripped; missing stays missing; 12.0 -> '12'."""
    if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object:
        return s.str.strip()
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
    if not pc.any(pc.match_substring_regex(arr, _NEEDS_NORMALISING)).as_py():
        return s, 0, -1  # one pass in the common case
    clean = pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, _INVISIBLE, ""))
    changed = pc.fill_null(pc.not_equal(arr, clean), False).to_numpy(zero_copy_only=False)
    out = pd.Series(pd.array(clean, dtype="str"), index=s.index, name=s.name)
    return out, int(changed.sum()), int(np.argmax(changed))


def _lossy_numbers(s: pd.Series, fmt: str) -> np.ndarray:
    """Rows whose id arrived as a number too large to be exact (>= 2**53 as a float; any
    number of that size from Excel, which stores doubles)."""
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
    bad_u = np.array([isinstance(v, float | np.floating) and np.isfinite(v) and abs(v) >= limit
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


def _dictionary(s: pd.Series) -> tuple[np.ndarray, Any]:
    """Arrow dictionary encoding of a text column: (codes with -1 for missing, dictionary)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(_arrow(s))
    if isinstance(enc, pa.ChunkedArray):
        enc = enc.unify_dictionaries()
        dictionary = enc.chunk(0).dictionary if enc.num_chunks else pa.array([], pa.string())
        indices = pa.chunked_array([c.indices for c in enc.chunks], type=pa.int32())
    else:
        dictionary, indices = enc.dictionary, enc.indices
    codes = np.asarray(pc.fill_null(indices, -1).to_numpy())
    return codes, dictionary


def _map_uniques(s: pd.Series, fn: Any) -> pd.Series:
    """Apply ``fn(list_of_unique_strings) -> list`` over distinct values and broadcast back.

    The column is returned as it is when ``fn`` changes no value (the common case).
    """
    codes, dictionary = _dictionary(s)
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


def _factor(s: pd.Series) -> tuple[np.ndarray, list[str], bool]:
    """Factorise a column: codes (``-1`` = missing), distinct values as stripped text, unchanged.

    ``unchanged`` tells whether the column is already ``str`` text equal to those values, so it
    can be kept as it is.
    """
    if s.dtype == "str":  # pyarrow text: hash in arrow, keep int32 codes (no int64 copy)
        codes, dictionary = _dictionary(s)
        raw = np.asarray(dictionary.to_pylist(), dtype=object)
    else:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        raw = np.asarray(uniques, dtype=object)
    text = _as_str(pd.Series(raw, dtype=object))
    out = ["" if v is None or pd.isna(v) else str(v) for v in text.tolist()]
    same = s.dtype == "str" and all(isinstance(r, str) and r == t for r, t in zip(raw, out,
                                                                                strict=True))
    return np.asarray(codes), out, same


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


def _mask_text_columns(df: pd.DataFrame, known_names: list[str] | None,
                       notes: list[str]) -> pd.DataFrame:
    cols = [c for c in df.columns if c not in _CODE_COLUMNS
            and (pd.api.types.is_string_dtype(df[c].dtype) or df[c].dtype == object)]
    if not cols:
        return df
    from casekit.privacy import mask_free_text

    df = df.copy()
    for c in cols:
        s = df[c]
        if s.dtype == object and not all(isinstance(v, str) or v is None
                                         for v in pd.unique(s.dropna())[:1000]):
            s = _as_str(s)

        def fn(uniques: list[str]) -> list[str]:
            masked = mask_free_text(pd.Series(uniques, dtype="str"), known_names=known_names)
            return [None if isinstance(v, float) else v for v in masked.tolist()]

        df[c] = _map_uniques(s.astype("str"), fn)
    return df


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


def _sorted_order(case: pd.Series, ts: np.ndarray) -> np.ndarray | None:
    """Stable order by (case_id, timestamp); ``None`` when already sorted (cheap check)."""
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
    table = pa.table({"c": arr, "t": pa.array(ts.view("int64"))})
    # pyarrow's sort_indices is stable: ties keep source order
    return pc.sort_indices(table, sort_keys=[("c", "ascending"), ("t", "ascending")]).to_numpy()


# ---------------------------------------------------------------------------------------------
# the validator
# ---------------------------------------------------------------------------------------------


def validate_table(
    raw: RawTable,
    *,
    source: str,
    columns: Mapping[str, str] | None = None,
    observation_end: Any = None,
    timezone: str | None = "Asia/Shanghai",
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
    duplicate events are kept (and not counted as quarantined).

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
    df = raw.data
    rows = np.asarray(raw.source_rows, dtype="int64")
    n = len(df)
    notes: list[str] = list(raw.notes)
    problems: list[Problem] = []
    labels = load_label_map(label_map)

    mapping, map_notes = guess_columns(df.columns, columns)
    notes.extend(map_notes)
    if "agency" not in mapping:
        for cand in _AGENCY_FALLBACKS:
            if cand in df.columns and cand not in mapping.values():
                mapping["agency"] = cand
                notes.append(f"no agency column; used {cand!r} as the agency")
                break
    for req in REQUIRED_COLUMNS:
        if req not in mapping:
            found = ", ".join(map(str, df.columns)) or "(none)"
            looked = ", ".join(COLUMN_ALIASES[req][:8])
            hint = ""
            if raw.fmt == "excel" and raw.extra.get("other_sheets"):
                hint = (f"; read sheet {raw.extra.get('sheet')!r}, the workbook also has "
                        f"{', '.join(map(repr, raw.extra['other_sheets']))} (choose one with "
                        "--sheet NAME)")
            raise FileUnusableError(
                f"{source}: required column {req!r} ({_MEANING[req]}) not found; expected a "
                f"column named one of {looked}, ... or --columns {req}=COLUMN; "
                f"columns found: {found}{hint}"
            )

    # ---- build the canonical frame (canonical names first, other source columns kept) -------
    used = set(mapping.values())
    data: dict[str, pd.Series] = {}
    for canonical, col in mapping.items():
        data[canonical] = df[col]
    for col in df.columns:
        if col in used:
            continue
        name = str(col)
        if name in data:
            name = f"{name}_source"
        data[name] = df[col]
    frame = pd.DataFrame(data, copy=False).reset_index(drop=True)
    del data

    # ---- row checks ------------------------------------------------------------------------
    checks: list[tuple[np.ndarray, str, str, str, str | None]] = []
    # (mask, canonical column, reason, message template, expected)
    for col in _ID_COLUMNS:
        if col in frame.columns:
            lossy = _lossy_numbers(frame[col], raw.fmt)
            if lossy.any():
                checks.append((lossy, col, _LOSSY,
                               "id stored as a number that lost digits (16 or more digits, "
                               "which a float cannot hold exactly: two ids may have become "
                               "one)",
                               "the id stored as text (format the column as text)"))
    for col in _ID_COLUMNS:
        if col in frame.columns:
            frame[col], n_fixed, first_fixed = normalise_ids(_as_str(frame[col]))
            if n_fixed:
                notes.append(f"{n_fixed} {col} value(s) had a byte-order mark, zero-width "
                             f"character or surrounding space removed (first at row "
                             f"{rows[first_fixed]}); ids are compared without them")
    case = frame["case_id"]
    bad_case = _blank(case)
    checks.append((bad_case, "case_id", "empty case id", "empty case id",
                   "a non-empty case id"))

    try:
        ts, missing_ts, ts_info = _parse_timestamps(frame["timestamp"], timezone, dayfirst)
    except AmbiguousDateOrder as exc:
        raise FileUnusableError(f"{source}: column {str(mapping['timestamp'])!r}: {exc}")\
            from None
    bad_ts = np.isnat(ts)
    early, late, last_plausible = _implausible(ts, ~bad_ts, plausible_from,
                                               plausible_days_after)
    if early.any():
        lo = pd.Timestamp(plausible_from)
        checks.append((early, "timestamp", "implausible date",
                       f"implausible date {{value}} (before {lo.date()})",
                       f"dates from {lo.date()} on (plausible_from=)"))
    if late.any():
        checks.append((late, "timestamp", "implausible date",
                       f"implausible date {{value}} (more than {plausible_days_after:g} days "
                       f"after the log's last plausible date {last_plausible})",
                       "dates near the rest of the log (plausible_days_after=)"))
    checks.append((missing_ts & bad_ts, "timestamp", "missing timestamp", "missing timestamp",
                   _TS_EXPECTED))
    checks.append((~missing_ts & bad_ts, "timestamp", "unparseable timestamp",
                   "unparseable timestamp {value}", _TS_EXPECTED))

    # label columns: factorised once; checks, stripping and mapping work on the distinct values
    factors = {c: _factor(frame[c]) for c in ("activity", "agency", *_LABEL_COLUMNS[1:])
               if c in frame.columns}
    act_codes, act_uniques, _ = factors["activity"]
    blank_u = np.array([u == "" for u in act_uniques] + [True], dtype=bool)
    bad_act = blank_u[act_codes]
    checks.append((bad_act, "activity", "empty activity", "empty activity",
                   "an activity label such as 登记 or register"))

    obs_end = None
    if observation_end is not None:
        obs = pd.Timestamp(observation_end)
        if obs.tzinfo is not None:
            obs = obs.tz_convert(timezone).tz_localize(None) if timezone else obs.tz_localize(None)
        obs_end = obs.as_unit("ns")
        after = ~bad_ts & (ts > obs_end.to_datetime64())
        checks.append((after, "timestamp", "after the observation end",
                       f"event after the observation end {obs_end}",
                       f"events up to {obs_end}"))

    bad = np.zeros(n, dtype=bool)
    for mask, *_ in checks:
        bad |= mask
    frame["timestamp"] = ts

    # sort the good rows by (case_id, timestamp); exact duplicates are then neighbours within
    # runs of equal (case_id, timestamp): quarantined, counted
    dup = np.zeros(n, dtype=bool)
    same_case: np.ndarray | None = None
    good_idx = np.flatnonzero(~bad)
    dup_of: dict[int, int] = {}
    case_g = case.take(good_idx) if bad.any() else case
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
            # compare the source values as recorded (ids that differ only by padding or an
            # invisible character are not exact duplicates)
            cmp = df.iloc[sub_idx].astype("str")
            gid = cmp.groupby(list(cmp.columns), sort=False, dropna=False).ngroup().to_numpy()
            _, first_pos = np.unique(gid, return_index=True)
            firsts = first_pos[gid]
            is_dup = firsts != np.arange(len(gid))
            if is_dup.any():
                dup[sub_idx[is_dup]] = True
                for pos in np.flatnonzero(is_dup)[:_MAX_PROBLEM_OBJECTS]:
                    dup_of[int(sub_idx[pos])] = int(sub_idx[firsts[pos]])
    keep_idx = gi[~dup[gi]] if dup.any() else gi
    if dup.any():
        checks.append((dup, "*", "exact duplicate", "exact duplicate of row {first}",
                       "each event once"))
        bad |= dup

    # ---- quarantine ------------------------------------------------------------------------
    raw_names: list[str] | None = None
    if "petitioner_name" in mapping:
        raw_names = [v for v in pd.unique(_as_str(df[mapping["petitioner_name"]]).dropna()) if v]
    q_parts = []
    row_col_names = {c: str(mapping.get(c, c)) for c in frame.columns}
    for mask, col, reason, template, expected in checks:
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        if col == "*":
            values = ["" for _ in idx]
            shown_col = "*"
        elif reason == _LOSSY:  # the rounded number itself looks like an id: never shown
            values = ["[number]" for _ in idx]
            shown_col = row_col_names.get(col, col)
        else:
            src = df[mapping[col]] if col in mapping else frame[col]
            values = [_mask_value(v, None, raw_names) for v in src.iloc[idx].tolist()]
            shown_col = row_col_names.get(col, col)
        q_parts.append(pd.DataFrame({"_i": idx, "source_row": rows[idx], "column": shown_col,
                                     "value": values, "reason": reason}))
        for k, i in enumerate(idx[:_MAX_PROBLEM_OBJECTS]):
            msg = template.format(value=repr(values[k]) if values[k] else "''",
                                  first=rows[dup_of[int(i)]] if int(i) in dup_of else "?")
            problems.append(Problem(source, msg, int(rows[i]),
                                    None if col == "*" else shown_col, expected, "row"))
    for r, col, value, reason in raw.bad_rows:
        q_parts.append(pd.DataFrame({"_i": [-1], "source_row": [r], "column": [col or "*"],
                                     "value": [_mask_value(value, None, raw_names)], "reason": [reason]}))
        problems.append(Problem(source, reason, r, None, None, "row"))
    if q_parts:
        q = pd.concat(q_parts, ignore_index=True).sort_values("source_row", kind="stable")
        if q["source_row"].duplicated().any():
            q = q.groupby("source_row", sort=True, as_index=False).agg(
                column=("column", lambda s: ", ".join(dict.fromkeys(s))),
                value=("value", lambda s: " | ".join(s)),
                reason=("reason", lambda s: "; ".join(dict.fromkeys(s))),
            )
        else:
            q = q.drop(columns="_i")
        quarantine = q[["source_row", "column", "value", "reason"]].reset_index(drop=True)
    else:
        quarantine = pd.DataFrame({"source_row": pd.Series([], dtype="int64"),
                                   "column": pd.Series([], dtype="str"),
                                   "value": pd.Series([], dtype="str"),
                                   "reason": pd.Series([], dtype="str")})
    problems.sort(key=lambda p: (p.row if p.row is not None else -1))

    # ---- accepted events -------------------------------------------------------------------
    # accepted rows, already in (case_id, timestamp) order
    identity = order is None and not bad.any()  # keep_idx is then 0..n-1
    others = [c for c in frame.columns if c not in factors]
    originals = {c: frame[c] for c in factors}
    events = frame[others] if identity else frame[others].take(keep_idx).reset_index(drop=True)
    del frame
    sel = slice(None) if identity else keep_idx
    unknown_labels: dict[str, list[str]] = {}

    count_cache: dict[str, np.ndarray] = {}

    def empties(col: str) -> int:
        codes, uniques, _ = factors[col]
        if all(uniques) and not (codes < 0).any():
            return 0
        if col not in count_cache:  # rows per distinct value (index 0: missing)
            count_cache[col] = np.bincount(codes[sel] + 1, minlength=len(uniques) + 1)
        counts = count_cache[col]
        return int(counts[0] + sum(counts[i + 1] for i, u in enumerate(uniques) if not u))

    def column(col: str, mapped: Sequence[str | None], fill: str | None) -> pd.Series:
        codes, uniques, same = factors[col]
        if same and list(mapped) == uniques and (fill is None or empties(col) == 0):
            # already canonical text: keep the column (no 10M-string rebuild)
            orig = originals[col]
            if identity:
                return orig
            return pd.Series(orig.array.take(keep_idx), index=events.index)
        values = pd.array([*mapped, fill], dtype="str").take(codes[sel])
        return pd.Series(values, index=events.index)

    # activity and the other labelled columns -> identifiers (unknown labels kept)
    mapped_act: list[str | None] = []
    for col, (_codes, uniques, _same) in factors.items():
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
            n_empty = empties(col)
            if n_empty:
                notes.append(f"{n_empty} event(s) without an agency type: set to 'unknown'")
            mapped = [m or "unknown" for m in mapped]
            fill = "unknown"
        else:
            mapped = [m or None for m in mapped]
        if col == "activity":
            mapped_act = mapped
        events[col] = column(col, mapped, fill)

    # agency ('unknown' where missing) and, without an agency_type column, its inferred type
    if "agency" in factors:
        codes, uniques, _same = factors["agency"]
        n_empty = empties("agency")
        if n_empty:
            notes.append(f"{n_empty} event(s) without an agency: set to 'unknown'")
        named = [u if u else "unknown" for u in uniques]
        masked_agencies, n_split = _keep_distinct(named, _mask_labels(named, raw_names))
        if n_split:
            notes.append(f"{n_split} agency name(s) became equal once personal names in them "
                         "were masked; numbered (#2, #3, ...) so distinct agencies stay distinct")
        events["agency"] = column("agency", masked_agencies, "unknown")
        if "agency_type" not in factors:
            types, n_hit = _infer_types(uniques)
            events["agency_type"] = pd.Series(
                pd.array([*types, "unknown"], dtype="str").take(codes[sel]), index=events.index)
            notes.append(f"no agency_type column; inferred from agency names for {n_hit} of "
                         f"{len(uniques)} agencies, the others 'unknown'")
    else:
        events["agency"] = pd.Series("unknown", index=events.index, dtype="str")
        events["agency_type"] = pd.Series("unknown", index=events.index, dtype="str")
        notes.append("no agency column; agency and agency_type set to 'unknown' "
                     "(pass columns={'agency': ...})")

    events, pii_info = _pseudonymise(events, key, notes)
    events = _mask_text_columns(events, raw_names, notes)

    from casekit.schema import EVENT_COLUMNS, OPTIONAL_EVENT_COLUMNS

    first = [c for c in (*EVENT_COLUMNS, *OPTIONAL_EVENT_COLUMNS) if c in events.columns]
    events = events[first + [c for c in events.columns if c not in first]]
    if events["case_id"].dtype != "str":
        events["case_id"] = events["case_id"].astype("str")

    # ---- case checks: close before register (events are sorted by case, time) ------------
    flagged: list[str] = []
    n_flagged = 0
    n_cases = 0
    if len(events):
        case_arr = _arrow(events["case_id"])
        new_case = np.ones(len(events), dtype=bool)
        if same_case is not None and not dup.any():  # computed on the same sorted rows
            new_case[1:] = ~same_case
        else:
            new_case[1:] = ~_adjacent_equal(case_arr)
        group = np.cumsum(new_case) - 1
        n_cases = int(group[-1]) + 1
        ev_act = act_codes[sel]
        t64 = events["timestamp"].to_numpy().view("int64")
        never = np.iinfo(np.int64).max

        def first_time(label: str) -> np.ndarray:
            out = np.full(n_cases, never)
            hit = np.array([m == label for m in mapped_act] + [False], dtype=bool)
            if not hit.any():
                return out
            rows_ = np.flatnonzero(hit[ev_act])
            g, first = np.unique(group[rows_], return_index=True)
            out[g] = t64[rows_[first]]
            return out

        reg_t, clo_t = first_time("register"), first_time("close")
        wrong = np.flatnonzero((reg_t != never) & (clo_t != never) & (clo_t < reg_t))
        n_flagged = len(wrong)
        if n_flagged:
            starts = np.flatnonzero(new_case)
            flagged = [str(c) for c in case_arr.take(starts[wrong[:1000]]).to_pylist()]
            for k, c in enumerate(flagged[:_MAX_CASE_LINES]):
                g = wrong[k]
                problems.append(Problem(
                    source, f"case {c!r} is closed ({pd.Timestamp(clo_t[g])}) before it is "
                    f"registered ({pd.Timestamp(reg_t[g])})", None, "timestamp",
                    "registration before closure", "case"))
            if n_flagged > _MAX_CASE_LINES:
                problems.append(Problem(source, f"... and {n_flagged - _MAX_CASE_LINES} more "
                                        "cases closed before they were registered", None,
                                        "timestamp", "registration before closure", "case"))

    # ---- metadata --------------------------------------------------------------------------
    n_read = n + len(raw.bad_rows)
    n_accepted = len(events)
    n_quarantined = len(quarantine)
    shape_info: dict[str, Any] = {}
    if raw.extra.get("shape") == "cases":  # counts on the case rows (the physical records)
        shape_info = {"n_events_read": n_read, "n_events_accepted": n_accepted}
        n_read = int(raw.extra["n_case_rows"])
        n_quarantined = int(quarantine["source_row"].nunique())
        n_accepted = n_read - n_quarantined
    elif n_accepted + n_quarantined != n_read:  # pragma: no cover - invariant
        raise AssertionError(f"row conservation broken: {n_read} != {n_accepted} + "
                             f"{n_quarantined}")
    last = events["timestamp"].max() if n_accepted else None
    first_ts = events["timestamp"].min() if n_accepted else None
    if obs_end is None and last is not None:
        obs_end = last
    for c, labs in unknown_labels.items():
        shown = ", ".join(labs[:10]) + (f", ... ({len(labs)} in all)" if len(labs) > 10 else "")
        notes.append(f"unknown {c} labels kept as they are: {shown} "
                     "(map them with label_map= / --labels)")
    problems.extend(Problem(source, note, level="note") for note in notes)
    metadata: dict[str, Any] = {
        "source": source,
        "path": path,
        "format": raw.fmt,
        "encoding": raw.encoding,
        **dict(raw.extra),
        "column_mapping": {k: str(v) for k, v in mapping.items()},
        "timezone": timezone,
        "timestamp_offsets_seen": ts_info.offsets_seen,
        "timestamp_formats": ts_info.formats,
        "observation_end": obs_end,
        "observation_end_explicit": observation_end is not None,
        "first_timestamp": first_ts,
        "last_timestamp": last,
        "n_read": n_read,
        "n_accepted": n_accepted,
        "n_quarantined": n_quarantined,
        "n_duplicates": int(dup.sum()),
        "n_cases": n_cases,
        "unknown_labels": unknown_labels,
        "flagged_cases": flagged,
        "n_flagged_cases": n_flagged,
        "pseudonymisation": pii_info,
        "notes": notes,
        **shape_info,
    }
    metadata = _json_safe(metadata)
    events, problems, metadata = _scrub_side_doors(events, problems, metadata, raw_names)
    events.attrs["casekit"] = metadata
    return ReadResult(events, quarantine, metadata, problems)


#: Metadata values that are dates or counts, never free text: left as they are.
_PLAIN_KEYS = frozenset({"observation_end", "first_timestamp", "last_timestamp",
                         "observation_end_explicit", "timezone", "format", "encoding"})


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
