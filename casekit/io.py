"""Read case-handling event logs: CSV, Excel, Parquet and XES into the canonical events.

Formats
-------
- **CSV** (``.csv``, ``.tsv``, ``.txt``, also ``.csv.gz``): UTF-8, UTF-8 with BOM, UTF-16 with
  BOM, GB18030 / GBK (detected when the bytes are not UTF-8); the separator (``,`` tab ``;``
  ``|``) is sniffed from the header line. Parsed with pyarrow, every column as text; a plain
  UTF-8 file is streamed from disk, the columns whose values repeat dictionary-encoded.
- **Excel** (``.xlsx``, ``.xlsm``): the first sheet or ``sheet=``; a title row above the header is
  skipped (and reported); a merged header that hides the column names makes the file unusable.
- **Parquet** (``.parquet``, ``.pq``).
- **XES** (``.xes``, ``.xes.gz``, ``.xes.zip``): streamed chunk by chunk; the regular XES shape
  (traces of events whose attributes are empty ``<type key=".." value=".."/>`` elements, as
  OpenXES and PM4Py write them) is read in bulk with pyarrow and numpy, anything else with the
  expat parser (``xml.parsers.expat``), the same values either way. No element tree is built,
  only the attribute values are kept, so memory stays proportional to the events, not the XML.
  Trace attributes become ``case:<key>`` columns.

Large CSV, Parquet and Excel files are read by one compiled call each; the tqdm progress bar
(``progress=``) is shown for XES logs, whose reading is the slow part.

Every reader returns the file's columns as read; :func:`read_events` then maps them to the
canonical columns (:data:`casekit.schema.EVENT_COLUMNS`), parses timestamps, maps Chinese labels
to identifiers, pseudonymises petitioner identity and quarantines bad rows
(:func:`casekit.validate.validate_table`).

Row numbers reported in problems and quarantine files are *source rows*: for CSV and Excel the
spreadsheet row (the header is row 1, the first data row is row 2); for Parquet and XES the
1-based record (event) number.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import os
import re
import sys
import zipfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from casekit._utils import CasekitError, FileUnusableError
from casekit.schema import (
    CANONICAL_NAMES,
    CASE_COLUMN_ALIASES,
    COLUMN_ALIASES,
    _norm_header,
    guess_columns,
)
from casekit.timestamps import (
    AUTO_TIMEZONE,
    parse_timestamps,
)
from casekit.validate import RawTable, hint_option

if TYPE_CHECKING:  # pragma: no cover
    from casekit.validate import ReadResult

__all__ = [
    "CANONICAL_NAMES",
    "CASE_STATUS",
    "CASE_COLUMN_ALIASES",
    "COLUMN_ALIASES",
    "guess_columns",
    "parse_timestamps",
    "read_events",
    "read_events_report",
    "read_table",
    "cases_to_events",
    "write_events",
]


# ---------------------------------------------------------------------------------------------
# Raw readers
# ---------------------------------------------------------------------------------------------


def _detect_format(path: Path) -> str:
    name = path.name.lower()
    for suffixes, fmt in (
        ((".xes", ".xes.gz", ".xes.zip"), "xes"),
        ((".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".txt.gz", ".csv.zip", ".tsv.zip"),
         "csv"),
        ((".xlsx", ".xlsm"), "excel"),
        ((".parquet", ".pq"), "parquet"),
        ((".xls",), "xls"),
        ((".zip",), "zip"),
    ):
        if name.endswith(suffixes):
            return fmt
    raise FileUnusableError(
        f"{path.name}: unknown file type {''.join(path.suffixes) or '(no extension)'}; "
        "expected .csv, .tsv, .xlsx, .parquet, .xes, .xes.gz or .xes.zip"
    )


def _zip_kind(path: Path) -> str:
    """A plain ``.zip``: an XES log archive when it holds .xes members, else a CSV archive."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = [n.lower() for n in zf.namelist()]
    except (zipfile.BadZipFile, OSError):
        return "csv"  # the CSV reader names the problem
    return "xes" if any(n.endswith((".xes", ".xes.gz")) for n in names) else "csv"


def _magic(head: bytes) -> str | None:
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive (e.g. an Excel .xlsx file)"
    if head.startswith(b"PAR1"):
        return "a Parquet file"
    if head.startswith(b"\x1f\x8b"):
        return "a gzip archive"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "an old Excel .xls / OLE file"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    return None


class _Progress:
    """File wrapper counting bytes read into a tqdm bar (or nothing)."""

    def __init__(self, raw: IO[bytes], total: int, desc: str, enabled: bool) -> None:
        self.raw = raw
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="B", unit_scale=True, desc=desc, leave=False,
                            file=sys.stderr)

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        if self.bar is not None:
            self.bar.update(len(data))
        return data

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _want_progress(progress: bool | None, size: int) -> bool:
    if progress is not None:
        return bool(progress)
    return size > 20_000_000 and sys.stderr.isatty()


# --- input checks and decompression limits --------------------------------------------------

#: Default cap on what one archive (gzip, zip, xlsx) may unpack to, and on the unpack ratio.
DEFAULT_MAX_UNPACKED = 8 << 30
DEFAULT_MAX_RATIO = 200.0
_RATIO_FLOOR = 64 << 20  # ratios are judged once this much has been unpacked


@dataclass(frozen=True)
class UnpackLimits:
    """Decompression limits: absolute unpacked bytes and unpacked / packed ratio.

    Defaults come from the environment variables ``CASEKIT_MAX_UNPACKED`` (bytes, or ``4G``,
    ``500M``) and ``CASEKIT_MAX_RATIO``, else 8 GiB and 200.

    Examples
    --------
    >>> lim = ck.io.UnpackLimits.resolve(max_unpacked=1 << 20)
    >>> lim.max_bytes, lim.max_ratio
    (1048576, 200.0)
    """

    max_bytes: int = DEFAULT_MAX_UNPACKED
    max_ratio: float = DEFAULT_MAX_RATIO

    @classmethod
    def resolve(cls, max_unpacked: int | None = None,
                max_ratio: float | None = None) -> UnpackLimits:
        """Limits from the arguments, else the environment, else the defaults."""
        if max_unpacked is None:
            env = os.environ.get("CASEKIT_MAX_UNPACKED")
            max_unpacked = _size_from_text(env, "CASEKIT_MAX_UNPACKED") if env else \
                DEFAULT_MAX_UNPACKED
        if max_ratio is None:
            env = os.environ.get("CASEKIT_MAX_RATIO")
            try:
                max_ratio = float(env) if env else DEFAULT_MAX_RATIO
            except ValueError:
                raise CasekitError(f"CASEKIT_MAX_RATIO: cannot read {env!r}; expected a number "
                                   "such as 200") from None
        if max_unpacked <= 0 or max_ratio <= 0:
            raise CasekitError("decompression limits must be positive")
        return cls(int(max_unpacked), float(max_ratio))

    def check(self, name: str, unpacked: int, packed: int) -> None:
        """Raise :class:`FileUnusableError` when ``unpacked`` bytes break a limit."""
        if unpacked > self.max_bytes:
            raise FileUnusableError(
                f"{name}: unpacks to more than {_human(self.max_bytes)} (limit); expected a "
                "smaller archive (raise --max-unpacked / CASEKIT_MAX_UNPACKED if it is genuine)")
        if unpacked > _RATIO_FLOOR and unpacked > self.max_ratio * max(packed, 1):
            raise FileUnusableError(
                f"{name}: unpacks more than {self.max_ratio:g} times its packed size "
                f"({_human(packed)} -> over {_human(unpacked)}), like a decompression bomb; "
                "expected an ordinary archive (raise CASEKIT_MAX_RATIO if it is genuine)")


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


def _size_from_text(text: str, what: str) -> int:
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    mult = units.get(t[-1:], 1)
    try:
        return int(float(t[:-1] if t[-1:] in units else t) * mult)
    except ValueError:
        raise CasekitError(f"{what}: cannot read {text!r}; expected a size such as 4G") from None


class _Limited:
    """Readable wrapper that counts unpacked bytes and enforces :class:`UnpackLimits`."""

    def __init__(self, raw: Any, name: str, packed: int, limits: UnpackLimits) -> None:
        self.raw, self.name, self.packed, self.limits = raw, name, packed, limits
        self.n = 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:  # read all, but in checked pieces
            parts = []
            while chunk := self.read(1 << 22):
                parts.append(chunk)
            return b"".join(parts)
        data = self.raw.read(n)
        self.n += len(data)
        self.limits.check(self.name, self.n, self.packed)
        return data

    def close(self) -> None:
        self.raw.close()


def check_input_path(path: Path) -> None:
    """Refuse at once what is not a regular file: missing, folder, FIFO, device, socket.

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     ck.io.check_input_path(Path(tempfile.mkdtemp()))
    ... except ck.FileUnusableError as exc:
    ...     print(str(exc).split(": ", 1)[1])
    is a directory; expected a file
    """
    import stat as st

    try:
        mode = os.stat(path).st_mode  # follows links: a link to /dev/zero is a device
    except FileNotFoundError:
        raise FileUnusableError(f"{path}: no such file") from None
    except OSError as exc:
        raise FileUnusableError(f"{path.name}: cannot be read ({exc.strerror}); expected a "
                                "readable file") from None
    kind = ("is a directory" if st.S_ISDIR(mode) else "is a named pipe (FIFO)" if
            st.S_ISFIFO(mode) else "is a device" if st.S_ISCHR(mode) or st.S_ISBLK(mode) else
            "is a socket" if st.S_ISSOCK(mode) else None)
    if kind is not None:
        raise FileUnusableError(f"{path.name}: {kind}; expected a file")


# --- CSV -------------------------------------------------------------------------------------


_BadLines = list[tuple[int, str]]  # (physical line number, reason)


def _read_source_bytes(path: Path, limits: UnpackLimits) -> tuple[bytes, str | None]:
    """The file's bytes; ``.gz`` streamed through the unpack limits; ``.zip`` one CSV member.

    Returns (bytes, member name or None).
    """
    name = path.name
    low = name.lower()
    if low.endswith(".gz"):
        packed = path.stat().st_size
        try:
            with open(path, "rb") as fh:
                head = fh.read(2)
                fh.seek(0)
                if head != b"\x1f\x8b":
                    raise FileUnusableError(f"{name}: not a readable gzip file (no gzip magic "
                                            "bytes); expected a .gz archive as its name says")
                with gzip.GzipFile(fileobj=fh) as gz:
                    return _Limited(gz, name, packed, limits).read(), None
        except (OSError, EOFError) as exc:
            raise FileUnusableError(f"{name}: not a readable gzip file ({exc})") from None
    if low.endswith(".zip"):
        with open(path, "rb") as fh:
            zf, members = _zip_members(path, fh, (".csv", ".tsv", ".txt"), limits)
            with zf:
                if len(members) > 1:
                    raise FileUnusableError(
                        f"{name}: the archive holds {len(members)} table files "
                        f"({', '.join(m.filename for m in members[:20])}); expected one (unpack "
                        "it and read each file, or keep one per archive)")
                m = members[0]
                with zf.open(m) as stream:
                    return _Limited(stream, name, m.compress_size, limits).read(), m.filename
    return path.read_bytes(), None


def _zip_members(path: Path, fh: Any, suffixes: tuple[str, ...],
                 limits: UnpackLimits) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """Open a zip archive and list its data members (refusing encrypted ones and bombs)."""
    name = path.name
    head = fh.read(4)
    fh.seek(0)
    if not head.startswith(b"PK"):
        raise FileUnusableError(f"{name}: is not a zip archive as its name says")
    try:
        zf = zipfile.ZipFile(fh)
    except zipfile.BadZipFile as exc:
        raise FileUnusableError(f"{name}: not a readable zip archive ({exc})") from None
    members = [i for i in zf.infolist()
               if i.filename.lower().endswith(suffixes) and not i.is_dir()
               and not i.filename.startswith("__MACOSX") and not Path(i.filename).name.startswith("._")]
    if not members:
        zf.close()
        kinds = "/".join(suffixes)
        raise FileUnusableError(f"{name}: the zip archive holds no {kinds} file; found "
                                f"{', '.join(i.filename for i in zf.infolist()[:10]) or 'nothing'}")
    locked = [i.filename for i in members if i.flag_bits & 0x1]
    if locked:
        zf.close()
        raise FileUnusableError(f"{name}: member {locked[0]!r} is encrypted (password-protected "
                                "zip); expected an unencrypted archive (unpack it with the "
                                "password first)")
    packed = max(path.stat().st_size, 1)
    limits.check(name, sum(i.file_size for i in members), packed)
    return zf, members


def _nul_lines(data: bytes, notes: list[str]) -> tuple[bytes, _BadLines]:
    """Lines made only of NUL bytes are records that cannot be read: report them by line;
    NUL bytes inside other lines are removed (noted).
    """
    bad: _BadLines = []
    if b"\x00" not in data:
        return data, bad
    lines = data.split(b"\n")
    n_inside = 0
    for i, line in enumerate(lines):
        if b"\x00" not in line:
            continue
        rest = line.replace(b"\x00", b"")
        if line.strip(b"\r") and not rest.strip(b"\r \t"):
            n_nul = line.count(b"\x00")
            bad.append((i + 1, f"line of {n_nul} NUL byte(s); expected a row of text"))
            lines[i] = b""
        else:
            n_inside += line.count(b"\x00")
            lines[i] = rest
    if n_inside:
        notes.append(f"removed {n_inside} NUL byte(s) inside rows; expected plain text")
    return b"\n".join(lines), bad


def _decode_lines(data: bytes, name: str) -> tuple[bytes, str, _BadLines]:
    """Decode a file that is not valid UTF-8 as a whole, line by line.

    Lines are classed as valid UTF-8 (with non-ASCII text), GB18030 only, or neither. The file's
    encoding is the majority of the first two classes; the lines of the other class (mixed
    encodings) and those of neither are reported by line number and blanked, never decoded into
    replacement characters.
    """
    lines = data.split(b"\n")
    cls = np.zeros(len(lines), dtype=np.int8)  # 0 ascii, 1 utf-8, 2 gb18030, 3 neither
    for i, line in enumerate(lines):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
            cls[i] = 1
            continue
        except UnicodeDecodeError:
            pass
        try:
            line.decode("gb18030")
            cls[i] = 2
        except UnicodeDecodeError:
            cls[i] = 3
    n_utf8, n_gb = int((cls == 1).sum()), int((cls == 2).sum())
    enc = "utf-8" if n_utf8 >= n_gb else "gb18030"
    other = 2 if enc == "utf-8" else 1
    bad: _BadLines = []
    out = []
    for i, line in enumerate(lines):
        c = cls[i]
        if c == other:
            bad.append((i + 1, f"line is encoded in {'GB18030' if other == 2 else 'UTF-8'} while "
                               f"the file is {enc.upper()} (mixed encodings); expected one "
                               "encoding for the whole file"))
            out.append(b"")
        elif c == 3:
            bad.append((i + 1, "bytes that are neither UTF-8 nor GB18030; expected UTF-8 or "
                               "GB18030 text (or pass encoding=)"))
            out.append(b"")
        elif c == 2:
            out.append(line.decode("gb18030").encode("utf-8"))
        else:
            out.append(line)
    first = next((i for i, line in enumerate(lines) if line.strip(b"\r \t")), 0)
    if bad and bad[0][0] == first + 1:
        raise FileUnusableError(f"{name}: line {first + 1} (the header) cannot be decoded "
                                f"({bad[0][1].split(';')[0]}); expected UTF-8 or GB18030 text")
    return b"\n".join(out), enc, bad


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8, checked by Arrow's validator (no 2x-size str copy).

    Examples
    --------
    >>> _is_utf8("信访".encode()), _is_utf8("信访".encode("gb18030"))
    (True, False)
    """
    import pyarrow as pa

    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64).tobytes())
    arr = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _blank_bytes(data: bytes | memoryview,
                 chars: bytes = b" \t\r\n\x00\xef\xbb\xbf") -> bool:
    """``not data.strip(chars)`` without copying a large buffer when it starts with text."""
    if bytes(data[:4096]).strip(chars):
        return False
    return not bytes(data).strip(chars)


def _decode(data: bytes, encoding: str | None, name: str, notes: list[str], *,
            keep_bom: bool = False) -> tuple[bytes, str, _BadLines]:
    """Return (UTF-8 bytes without BOM, encoding label, undecodable lines).

    ``keep_bom``: valid UTF-8 after a UTF-8 byte-order mark comes back with the mark (the
    caller skips it; slicing it off would copy the whole file).
    """
    if encoding is not None:
        try:
            text = data.decode(encoding)
        except LookupError:
            raise CasekitError(f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise FileUnusableError(
                f"{name}: cannot decode as {encoding} at byte {exc.start} (line {line}); "
                "expected a text file in that encoding (try encoding=None to detect it)"
            ) from None
        return text.lstrip("\ufeff").encode("utf-8"), encoding, []
    if data.startswith(b"\xef\xbb\xbf"):
        label = "utf-8-sig"  # the mark stays on ``data`` until the end (no copy)
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16").encode("utf-8"), "utf-16", []
        except UnicodeDecodeError:
            raise FileUnusableError(f"{name}: has a UTF-16 byte-order mark but is not valid "
                                    "UTF-16; expected UTF-8, GB18030 or UTF-16 text") from None
    else:
        label = "utf-8"
        head = data[:4096]
        if head.count(b"\x00") > len(head) // 4:  # UTF-16 without a BOM
            for enc in ("utf-16-le", "utf-16-be"):
                try:
                    text = data.decode(enc)
                except UnicodeDecodeError:
                    continue
                if "\x00" not in text[:1000]:
                    return text.encode("utf-8"), enc, []
    data, bad = _nul_lines(data, notes)
    if _is_utf8(data):
        return (data if keep_bom or label != "utf-8-sig" else data[3:]), label, bad
    if label == "utf-8-sig":
        data = data[3:]
    body, enc, bad_enc = _decode_lines(data, name)
    return body, enc, sorted(bad + bad_enc)


def _sniff_sep(first_line: str) -> str:
    counts = {sep: first_line.count(sep) for sep in (",", "\t", ";", "|")}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] > 0 else ","


def _header_names(raw: list[str], notes: list[str]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(raw):
        name = _clean_id_text(name.strip().lstrip("\ufeff")).strip()
        if not name:
            name = f"column_{i + 1}"
            notes.append(f"column {i + 1} has no header; named it {name!r}")
        if name in seen:
            seen[name] += 1
            new = f"{name}.{seen[name]}"
            notes.append(
                f"duplicated column name {name!r} (column {i + 1}); kept the first as the "
                f"{name!r} column and renamed this one {new!r}; expected unique column names"
            )
            name = new
        else:
            seen[name] = 1
        names.append(name)
    return names


#: Characters that are invisible in a spreadsheet but split ids: BOM, zero-width space / joiners,
#: word joiner, soft hyphen.
_INVISIBLE_RE = re.compile("[\ufeff\u200b\u200c\u200d\u2060\u00ad]")


def _clean_id_text(text: str) -> str:
    """Remove invisible characters (BOM, zero-width) from one string.

    Examples
    --------
    >>> _clean_id_text("\\ufeffXF001\\u200b")
    'XF001'
    """
    return _INVISIBLE_RE.sub("", text)


_WIDE_LIMIT = 20_000  # columns: wider files are refused (nobody exports 20,000 fields per event)

#: Bytes per block of the Arrow CSV parse (and of the head read first). Blocks that stay in the
#: CPU caches parse faster: 1 MiB took 0.68 s CPU on a 173 MB district where 16 MiB took
#: 0.99 s (2026-12-01).
_CSV_BLOCK = 1 << 20

#: A column is parsed dictionary-encoded when its values repeat at least this many times on
#: average in the first block (labels, agencies, streets): validation then factorises from the
#: parser's dictionary instead of hashing every string again. Measured on the 173 MB district:
#: 16 was faster than 4 (ids of a case then also hashed for nothing) and than none.
_CSV_REPEATS = 16

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_CSV_HEAD = 1 << 20  # bytes read first for the header lines and the sample of the values


@dataclass(frozen=True)
class _CsvSource:
    """What the CSV parse needs to know of the file besides its bytes."""

    name: str
    member: str | None
    categories: bool


def _read_csv(path: Path, encoding: str | None, progress: bool | None,
              limits: UnpackLimits | None = None, *, categories: bool = False) -> RawTable:
    """A CSV file's columns; ``categories`` as in :func:`_undictionary`.

    A plain file is first streamed through Arrow (:func:`_read_csv_streamed`); what that cannot
    settle, and archives, are read from the decoded bytes of the whole file.
    """
    name = path.name
    if encoding is None and not name.lower().endswith((".gz", ".zip")):
        raw = _read_csv_streamed(path, _CsvSource(name, None, categories))
        if raw is not None:
            return raw
    data, member = _read_source_bytes(path, limits or UnpackLimits.resolve())
    _check_csv_head(data, name)
    notes: list[str] = []
    if member is not None:
        notes.append(f"read member {member!r} of the archive")
    body, enc, bad_lines = _decode(data, encoding, name, notes, keep_bom=True)
    del data
    return _parse_csv(body, enc, bad_lines, notes, _CsvSource(name, member, categories))


def _check_csv_head(data: bytes, name: str) -> None:
    """Refuse an empty file, another format's magic bytes, binary data."""
    if _blank_bytes(data):
        raise FileUnusableError(f"{name}: the file is empty; expected a header row and events")
    what = _magic(data[:8])
    if what is not None:
        raise FileUnusableError(f"{name}: is {what}, not a CSV text file as its name says")
    head = data[:4096]
    controls = sum(head.count(bytes([c])) for c in (*range(1, 9), 11, 12, *range(14, 32)))
    if controls > len(head) // 20 and not head.startswith(_UTF16_BOMS):
        raise FileUnusableError(f"{name}: looks like a binary file ({controls} control bytes in "
                                "the first 4 KB), not CSV text")


def _read_csv_streamed(path: Path, src: _CsvSource) -> RawTable | None:
    """A plain UTF-8 CSV read by Arrow from the file itself (no copy of the file in memory, no
    separate UTF-8 pass: Arrow checks every cell), or ``None`` for the bytes path to decide.

    Taken only when nothing the bytes path handles can be in the file: the header lines are
    UTF-8 in the first block, there are two or more columns, and no cell holds a quote or a
    NUL byte (the parse does not interpret quotes, so any quote stays visible in its cell,
    where it is looked for; a NUL also would) nor fails Arrow's checks (UTF-8, field counts).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = p.write_text("case_id,activity\\nA1,登记\\nA1,办结\\n", encoding="utf-8")
    >>> raw = _read_csv_streamed(p, _CsvSource(p.name, None, False))
    >>> raw.data.to_dict("list"), raw.source_rows.tolist(), raw.encoding
    ({'case_id': ['A1', 'A1'], 'activity': ['登记', '办结']}, [2, 3], 'utf-8')
    >>> _ = p.write_text('case_id,activity\\nA1,"登记"\\n', encoding="utf-8")
    >>> _read_csv_streamed(p, _CsvSource(p.name, None, False)) is None
    True
    """
    with open(path, "rb") as fh:
        head = fh.read(_CSV_HEAD)
    if _blank_bytes(head) or head.startswith(_UTF16_BOMS) or b"\x00" in head:
        return None
    _check_csv_head(head, src.name)  # magic bytes, binary data: judged on the first 4 KB
    notes: list[str] = []
    pos, skipped = _find_header(head, notes)
    first_nl = head.find(b"\n", pos)
    if first_nl < 0 or not _is_utf8(head[:first_nl + 1]):
        return None
    first_line = head[pos:first_nl].decode("utf-8")
    sep = _csv_separator(src.name, first_line)
    try:
        names = _csv_header(first_line, sep, src.name, notes)
    except FileUnusableError:
        return None  # the bytes path words it
    sample = head[first_nl + 1:head.rfind(b"\n") + 1]
    if len(names) < 2 or not sample.strip(b" \t\r\n") or not _is_utf8(sample):
        return None
    table = _arrow_csv(_ArrowSource(path, first_nl + 1), names, sep, False,
                       _repeating_columns(sample, names, sep, False), quotes=False)
    if table is None or _cells_hold(table, b'"\x00') or _has_empty_row(table):
        return None
    first = 2 + skipped
    enc = "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"
    return _csv_raw_table(table, names, first, enc, notes, {"separator": sep}, src)


@dataclass(frozen=True)
class _ArrowSource:
    """The bytes of ``path`` from ``offset`` on, opened by Arrow (see :func:`_arrow_csv`)."""

    path: Path
    offset: int

    def open(self) -> Any:
        import pyarrow as pa

        fh = pa.OSFile(str(self.path))
        fh.seek(self.offset)
        return fh


def _cells_hold(table: Any, chars: bytes) -> bool:
    """Whether a cell of an all-text Arrow table (text or dictionary columns) holds one of the
    bytes ``chars``, read from the value buffers.

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = pa.table({"a": ["x", 'y"'], "b": pa.array(["z", "z"]).dictionary_encode()})
    >>> _cells_hold(t, b'"'), _cells_hold(t, b"\\x00")
    (True, False)
    """
    import pyarrow as pa

    for col in table.columns:
        for chunk in col.chunks:
            values = chunk.dictionary if pa.types.is_dictionary(chunk.type) else chunk
            data = values.buffers()[2]
            if data is None:
                continue
            raw = np.frombuffer(data, dtype=np.uint8)
            low = raw.min() if len(raw) else 255  # a reduction: no temporary array
            if any(c >= low and (c == low or (raw == c).any()) for c in chars):
                return True
    return False


def _find_header(body: bytes, notes: list[str]) -> tuple[int, int]:
    """(offset of the header line, physical lines above it) in UTF-8 ``body``.

    The header is the first non-empty line, unless a title line sits above the real header
    (exports often start with "XX区信访件台账"): then the line among the first 10 naming most
    known columns. Offsets, not slices: no copy of the file.

    Examples
    --------
    >>> notes = []
    >>> _find_header("\\n区信访件台账\\n信访件编号,办理时间\\nX1,2023-01-01\\n".encode(), notes)
    (20, 2)
    >>> notes
    ['header found on line 3; the line(s) above it (a title) skipped']
    """
    pos = 3 if body.startswith(b"\xef\xbb\xbf") else 0
    skipped = 0
    while body.startswith((b"\n", b"\r\n"), pos):
        pos = body.find(b"\n", pos) + 1
        skipped += 1
    head_lines = body[pos:pos + 65536].split(b"\n")[:10]
    if len(head_lines) > 1:
        aliases = {_norm_header(a) for al in (*COLUMN_ALIASES.values(),
                                              *CASE_COLUMN_ALIASES.values()) for a in al}
        scores = []
        for raw_line in head_lines[:-1]:
            text = raw_line.decode("utf-8", errors="replace").rstrip("\r")
            fields = re.split(r"[,\t;|]", text)
            scores.append(sum(_norm_header(f.strip('"')) in aliases for f in fields))
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        if best > 0 and scores[best] >= 2 and scores[0] < 2:
            for _ in range(best):
                pos = body.find(b"\n", pos) + 1
            notes.append(f"header found on line {skipped + best + 1}; the line(s) above it (a "
                         "title) skipped")
            skipped += best
    return pos, skipped


def _csv_separator(name: str, first_line: str) -> str:
    return "\t" if name.lower().endswith((".tsv", ".tsv.gz")) else _sniff_sep(first_line)


def _parse_csv(body: bytes, enc: str, bad_lines: _BadLines, notes: list[str],
               src: _CsvSource) -> RawTable:
    """Header, then Arrow's parse or the exact reader, on the decoded UTF-8 ``body``."""
    name = src.name
    pos, skipped = _find_header(body, notes)
    bad_lines = [(ln, r) for ln, r in bad_lines if ln > skipped + 1]
    first_nl = body.find(b"\n", pos)
    first_line = (body[pos:] if first_nl < 0 else body[pos:first_nl]).decode(
        "utf-8", errors="replace")
    sep = _csv_separator(name, first_line)
    names = _csv_header(first_line, sep, name, notes)
    rest = memoryview(b"" if first_nl < 0 else body)[first_nl + 1 if first_nl >= 0 else 0:]
    if _blank_bytes(rest, b" \t\r\n") and not bad_lines:
        raise FileUnusableError(f"{name}: has a header but no data rows; expected events below "
                                "the header")
    first = 2 + skipped  # physical line of the first data line
    extra = {"separator": sep, **({"member": src.member} if src.member else {})}
    quoted = first_nl >= 0 and body.find(b'"', first_nl + 1) >= 0
    table = None
    if not bad_lines:
        table = _arrow_csv(rest, names, sep, quoted,
                           _repeating_columns(rest, names, sep, quoted))
    if table is not None and _has_empty_row(table):
        table = None  # Arrow reads an empty line as a row of empty cells: the exact path decides
    if table is not None:
        # rows == lines, except that with quotes a cell may span lines, and one column may be
        # empty: count the lines then
        n_lines = table.num_rows
        if quoted or len(names) == 1:
            n_lines = body.count(b"\n", first_nl + 1) + (0 if body.endswith(b"\n") else 1)
        if table.num_rows == n_lines:
            return _csv_raw_table(table, names, first, enc, notes, extra, src)
    # exact path: ragged rows, blank lines, multi-line cells, broken quotes, undecodable lines
    del table
    try:
        raw = _read_csv_exact(bytes(rest).decode("utf-8"), names, sep, enc, notes, first=first)
    except csv.Error as exc:
        raise FileUnusableError(f"{name}: cannot be parsed as CSV ({exc})") from None
    raw.bad_rows.extend((ln, None, "", reason) for ln, reason in bad_lines)
    raw.bad_rows.sort(key=lambda b: b[0])
    raw.extra.update(extra)
    return raw


def _csv_raw_table(table: Any, names: list[str], first: int, enc: str, notes: list[str],
                   extra: dict[str, Any], src: _CsvSource) -> RawTable:
    """The RawTable of Arrow's parse: one dictionary per dictionary column (its chunks'
    dictionaries unified), columns as :func:`_undictionary` gives them."""
    import pyarrow as pa

    for i, fld in enumerate(table.schema):
        if pa.types.is_dictionary(fld.type):
            table = table.set_column(i, fld, pa.chunked_array([table.column(i).combine_chunks()]))
    df, dictionaries = _undictionary(table, dict.fromkeys(names, pa.string()), src.categories)
    rows = np.arange(first, len(df) + first, dtype="int64")
    return RawTable(df, rows, "csv", enc, notes, extra=extra, dictionaries=dictionaries)


def _csv_header(first_line: str, sep: str, name: str, notes: list[str]) -> list[str]:
    """The column names of the header line (cleaned, made unique)."""
    if first_line.count(sep) + 1 > _WIDE_LIMIT:
        raise FileUnusableError(f"{name}: the header has {first_line.count(sep) + 1} columns; "
                                f"expected at most {_WIDE_LIMIT:,} (is the separator right?)")
    try:
        with _csv_field_limit(len(first_line)):
            header = next(csv.reader([first_line.rstrip("\r")], delimiter=sep), [])
    except csv.Error as exc:
        raise FileUnusableError(f"{name}: cannot read the header line ({exc}); expected a "
                                "header row naming the columns") from None
    if not any(h.strip() for h in header):
        raise FileUnusableError(f"{name}: the first line is empty; expected a header row "
                                "naming the columns")
    return _header_names(header, notes)


def _has_empty_row(table: Any) -> bool:
    """Whether some row of an all-text Arrow table has only empty cells (maybe an empty line).

    Only the rows still empty so far are looked at in the next column (a few empty ids do not
    compare every cell of the file).

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = pa.table({"a": ["", "x", ""], "b": pa.array(["y", "", ""]).dictionary_encode()})
    >>> _has_empty_row(t), _has_empty_row(t.slice(0, 2))
    (True, False)
    """
    import pyarrow.compute as pc

    rows = pc.indices_nonzero(pc.equal(table.column(0), ""))
    for col in table.columns[1:]:
        if not len(rows):
            return False
        cells = col.take(rows)
        rows = rows.filter(pc.equal(cells, ""))
    return len(rows) > 0


def _repeating_columns(rest: bytes | memoryview, names: list[str], sep: str,
                       quoted: bool) -> list[str]:
    """The columns whose values repeat :data:`_CSV_REPEATS` times or more on average in the
    first block of ``rest`` (read as text; none when that block does not parse).

    Examples
    --------
    >>> _repeating_columns(b"A1,x\\n" * 20, ["ref", "kind"], ",", False)
    ['ref', 'kind']
    >>> _repeating_columns(b"".join(b"A%d,x\\n" % i for i in range(20)), ["ref", "kind"], ",",
    ...                    False)
    ['kind']
    >>> _repeating_columns(b"A1,x\\n" * 20, ["case_id", "kind"], ",", False)  # kept as text
    ['kind']
    """
    import pyarrow.compute as pc

    from casekit.validate import _CATEGORY_COLUMNS, _CODE_COLUMNS

    cut = bytes(rest[:_CSV_BLOCK]).rfind(b"\n") + 1 if len(rest) > _CSV_BLOCK else len(rest)
    sample = _arrow_csv(rest[:cut], names, sep, quoted) if cut else None
    if sample is None or not sample.num_rows:
        return []
    # a hint only (the read's own ``columns=`` may differ): the recognised columns validation
    # keeps as plain text (ids, counts, amounts) are parsed as text, not hashed for nothing
    mapping, _ = guess_columns(names)
    plain = {mapping[c] for c in _CODE_COLUMNS - set(_CATEGORY_COLUMNS) if c in mapping}
    return [n for n, col in zip(names, sample.columns, strict=True) if n not in plain
            and pc.count_distinct(col).as_py() * _CSV_REPEATS <= sample.num_rows]


def _arrow_csv(rest: bytes | memoryview | _ArrowSource, names: list[str], sep: str,
               quoted: bool, dictionary: Collection[str] = (), *, quotes: bool = True) -> Any:
    """Parse with pyarrow (every column text, those in ``dictionary`` dictionary-encoded; UTF-8
    checked); ``None`` when the exact path must decide (a row that does not split into the
    header's columns, bytes that are not UTF-8). ``quotes=False``: quotes are not interpreted
    (they stay in the cells); ``rest`` may then be a file (:class:`_ArrowSource`)."""
    import pyarrow as pa
    import pyarrow.csv as pv

    bad: list[int] = []

    def on_invalid(row: Any) -> str:
        bad.append(1)
        return "skip"

    # a file's rows are not checked UTF-8 yet: Arrow's handler would fail to decode a bad one
    # (its error then only printed); without a handler a bad row is an error, as wanted here
    handler = None if isinstance(rest, _ArrowSource) else on_invalid
    text, codes = pa.string(), pa.dictionary(pa.int32(), pa.string())
    types = {n: codes if n in dictionary else text for n in names}
    block = _CSV_BLOCK
    for _ in range(2):
        source = rest.open() if isinstance(rest, _ArrowSource) else \
            pa.BufferReader(pa.py_buffer(rest))  # zero-copy
        try:
            table = pv.read_csv(
                source,
                read_options=pv.ReadOptions(column_names=names, block_size=block),
                parse_options=pv.ParseOptions(delimiter=sep, newlines_in_values=quoted,
                                              quote_char='"' if quotes else False,
                                              ignore_empty_lines=quoted or len(names) == 1,
                                              invalid_row_handler=handler),
                convert_options=pv.ConvertOptions(column_types=types, strings_can_be_null=False,
                                                  check_utf8=True),
            )
        except pa.ArrowInvalid as exc:
            if "straddling" in str(exc) or "block" in str(exc).lower():
                # a cell larger than the block: one larger block, else the exact reader
                size = rest.path.stat().st_size if isinstance(rest, _ArrowSource) else len(rest)
                block = min(size + 1, (1 << 31) - 1)
                bad.clear()
                continue
            return None
        finally:
            source.close()
        return None if bad else table
    return None


@contextlib.contextmanager
def _csv_field_limit(size: int) -> Any:
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, min(size + 1, (1 << 31) - 1)))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _looks_like_row(line: str, sep: str, width: int) -> bool:
    return width > 1 and line.count(sep) + 1 == width


def _read_csv_exact(text: str, names: list[str], sep: str, enc: str,
                    notes: list[str], first: int = 2) -> RawTable:
    """Read record by record, each counted on the physical lines it spans.

    A quote opened and never closed would swallow the lines after it into one cell; when a
    record spans several lines and either does not split into the header's columns or has
    lines inside it that would be complete rows on their own, the line with the stray quote is
    quarantined alone and reading resumes on the next line.
    """
    width = len(names)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln + "\n" for ln in lines]
    good: list[list[str]] = []
    rows: list[int] = []
    bad_rows: list[tuple[int, str | None, str, str]] = []
    i = 0
    n_broken = 0
    with _csv_field_limit(len(text)):
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                i += 1
                continue  # blank line: not a record
            if '"' not in line:
                rec = line.rstrip("\r\n").split(sep)
                span = 1
            else:
                reader = csv.reader((lines[k] for k in range(i, len(lines))), delimiter=sep)
                rec = next(reader, [])
                span = max(reader.line_num, 1)
                # the quote is stray when the record does not split into the header's columns,
                # when lines inside it would be rows on their own, or when it is never closed
                # (the record runs to the end of the file and its last line has no quote)
                if span > 1 and (len(rec) != width or '"' not in lines[i + span - 1] or any(
                        _looks_like_row(c, sep, width) for c in lines[i + 1:i + span - 1])):
                    n_broken += 1
                    bad_rows.append((first + i, None, line.rstrip("\r\n"),
                                     "opens a quote that is not closed before the next rows; "
                                     "expected quotes in pairs"))
                    i += 1
                    continue
            if len(rec) == width:
                good.append(rec)
                rows.append(first + i)
            else:
                bad_rows.append((first + i, None, sep.join(rec),
                                 f"has {len(rec)} fields; expected {width} like the header"))
                if len(bad_rows) > 10_000 and not good:
                    raise FileUnusableError(
                        f"row {first + i}: {len(bad_rows)} rows in a row do not split into the "
                        f"{width} header columns; expected a CSV file with separator {sep!r}"
                    )
            i += span
    if n_broken:
        notes.append(f"{n_broken} line(s) open a quote that is never closed; each is quarantined "
                     "alone, the rows after it are read")
    df = pd.DataFrame(good, columns=names, dtype="str") if good else pd.DataFrame(
        {n: pd.Series([], dtype="str") for n in names})
    return RawTable(df, np.asarray(rows, dtype="int64"), "csv", enc, notes, bad_rows,
                    extra={"separator": sep})


# --- Excel -----------------------------------------------------------------------------------

_ENCRYPTED_OLE = "EncryptedPackage".encode("utf-16-le")


def _is_encrypted_office(path: Path) -> bool:
    """An OLE compound file holding an ``EncryptedPackage`` stream: a password-protected
    .xlsx (Office encrypts the whole workbook into an OLE container).
    """
    with open(path, "rb") as fh:
        if fh.read(8) != b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
            return False
        fh.seek(0)
        while chunk := fh.read(1 << 22):
            if _ENCRYPTED_OLE in chunk:
                return True
            if len(chunk) == 1 << 22:
                fh.seek(-len(_ENCRYPTED_OLE), 1)
    return False


def _password_error(name: str) -> FileUnusableError:
    return FileUnusableError(
        f"{name}: is a password-protected (encrypted) Excel workbook; expected an unprotected "
        "workbook (open it in Excel, remove the password under File > Info, and save a copy, "
        "or export the sheet to CSV)")


def _sheet_xml_facts(path: Path, part: str | None) -> tuple[list[str], list[str]]:
    """Merged ranges and formula cells without a cached value, from the sheet's XML part."""
    if part is None:
        return [], []
    try:
        with zipfile.ZipFile(path) as zf:
            xml = zf.read(part.lstrip("/")).decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, KeyError, OSError):
        return [], []
    merged = re.findall(r'<mergeCell ref="([A-Z]+\d+:[A-Z]+\d+)"', xml)
    uncached = []
    if "<f" in xml:
        for ref, inner in re.findall(r'<c r="([A-Z]+\d+)"[^>]*?(?<!/)>(.*?)</c>', xml, re.S):
            if "<f" in inner and not re.search(r"<v>[^<]+</v>", inner):
                uncached.append(ref)
    return merged, uncached


def _row_of(ref: str) -> tuple[int, int]:
    a, b = ref.split(":")
    return int(re.sub(r"\D", "", a)), int(re.sub(r"\D", "", b))


def _check_xlsx_archive(path: Path, limits: UnpackLimits) -> None:
    """The workbook's zip: readable, no encrypted part, declared sizes inside the limits."""
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise FileUnusableError(f"{path.name}: not a readable .xlsx workbook ({exc})") from None
    if any(i.flag_bits & 0x1 for i in infos):
        raise _password_error(path.name)
    limits.check(path.name, sum(i.file_size for i in infos), max(path.stat().st_size, 1))


def _choose_sheet(wb: Any, sheet: str | int | None, name: str) -> tuple[int, list[str]]:
    """Index of the sheet to read and notes: the given one, else the active visible sheet."""
    sheetnames = list(wb.sheetnames)
    states = [getattr(wb[s], "sheet_state", "visible") for s in sheetnames]
    notes: list[str] = []
    if sheet is None:
        try:
            index = sheetnames.index(wb.active.title)
        except (AttributeError, ValueError, IndexError):
            index = 0
        if states[index] != "visible":
            visible = [i for i, st in enumerate(states) if st == "visible"]
            if not visible:
                raise FileUnusableError(f"{name}: every sheet is hidden "
                                        f"({', '.join(sheetnames)}); expected a visible sheet, or "
                                        f"name one with {hint_option('sheet', None)}")
            index = visible[0]
    elif isinstance(sheet, int):
        if not 0 <= sheet < len(sheetnames):
            raise FileUnusableError(f"{name}: no sheet number {sheet}; the workbook has "
                                    f"{len(sheetnames)} sheet(s): {', '.join(sheetnames)}")
        index = sheet
    elif sheet in sheetnames:
        index = sheetnames.index(sheet)
    else:
        raise FileUnusableError(f"{name}: no sheet named {sheet!r}; sheets found: "
                                f"{', '.join(sheetnames)}")
    others = [f"{s!r}" + ("" if st == "visible" else f" ({st})")
              for i, (s, st) in enumerate(zip(sheetnames, states, strict=True)) if i != index]
    how = "as asked" if sheet is not None else "the active visible sheet"
    text = f"read sheet {sheetnames[index]!r} ({how}"
    text += "; it is hidden)" if states[index] != "visible" else ")"
    if others:
        text += f"; other sheets not read: {', '.join(others)} (choose one with "
        text += f"{hint_option('sheet', None)})"
    notes.append(text)
    return index, notes


_EXCEL_MAX_ROWS = 1_048_576


def _excel_header_row(rows: list[tuple], nonempty: list[int], width: int, blank: Any
                      ) -> tuple[int, tuple[int, int]]:
    """The header row: among the first 10 non-empty rows, the one with most recognised names
    (ties: most filled cells, then the earliest); with its (known names, filled cells)."""
    aliases = {_norm_header(a) for al in (*COLUMN_ALIASES.values(),
                                          *CASE_COLUMN_ALIASES.values()) for a in al}
    best, best_key = nonempty[0], (-1, -1)
    for i in nonempty[:10]:
        vals = [v for v in rows[i][:width] if not blank(v)]
        known = sum(isinstance(v, str) and _norm_header(v) in aliases for v in vals)
        key = (known, len(vals))
        if key > best_key:
            best, best_key = i, key
    return best, best_key


def _excel_rows(path: Path, sheet: str | int | None, limits: UnpackLimits | None
                ) -> tuple[list[tuple], list[str], int, Any, list[str]]:
    """The chosen sheet's rows as values (after the archive, password and row-limit checks),
    the sheet names, the chosen index, its XML part and the notes on the choice."""
    name = path.name
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        raise FileUnusableError(f"{name}: the file is empty; expected an Excel workbook")
    if not head.startswith(b"PK\x03\x04"):
        if _is_encrypted_office(path):
            raise _password_error(name)
        what = _magic(head) or "not a zip archive"
        raise FileUnusableError(f"{name}: is {what}; an .xlsx workbook is a zip archive "
                                "(save it from Excel as .xlsx)")
    _check_xlsx_archive(path, limits or UnpackLimits.resolve())
    import warnings

    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise FileUnusableError(f"{name}: not a readable .xlsx workbook "
                                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                                ) from None
    try:
        index, notes = _choose_sheet(wb, sheet, name)
        sheetnames = list(wb.sheetnames)
        ws = wb[sheetnames[index]]
        part = getattr(ws, "_worksheet_path", None)
        n_rows = ws.max_row or 0  # from the sheet's <dimension>: known before reading
        if n_rows >= _EXCEL_MAX_ROWS:
            raise FileUnusableError(
                f"{name}: sheet {sheetnames[index]!r} reaches Excel's row limit "
                f"({_EXCEL_MAX_ROWS:,} rows), so the export was probably cut off; expected the "
                "whole log (export it as CSV, or split it over sheets read with "
                f"{hint_option('sheet', None)})")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = list(ws.iter_rows(values_only=True))
    finally:
        wb.close()
    return rows, sheetnames, index, part, notes


def _read_excel(path: Path, sheet: str | int | None,
                limits: UnpackLimits | None = None) -> RawTable:
    name = path.name
    rows, sheetnames, index, part, notes = _excel_rows(path, sheet, limits)
    sname = sheetnames[index]
    others = [s for s in sheetnames if s != sname]
    # drop fully empty trailing rows / columns

    def blank(v: Any) -> bool:
        return v is None or (isinstance(v, str) and not v.strip())

    nonempty = [i for i, r in enumerate(rows) if any(not blank(v) for v in r)]
    if not nonempty:
        hint = f"; other sheets: {', '.join(others)} (choose one with " \
            f"{hint_option('sheet', None)})" \
            if others else ""
        raise FileUnusableError(f"{name}: sheet {sname!r} is empty; expected a header row and "
                                f"events{hint}")
    width = max((max((j for j, v in enumerate(rows[i]) if not blank(v)), default=-1) + 1)
                for i in nonempty)
    merged, uncached = _sheet_xml_facts(path, part)
    header_row, best_key = _excel_header_row(rows, nonempty, width, blank)
    hdr_merges = [m for m in merged if _row_of(m)[0] <= header_row + 1 <= _row_of(m)[1]
                  or _row_of(m)[1] == header_row]  # spans the header or ends just above it
    raw_header = list(rows[header_row][:width]) + [None] * (width - len(rows[header_row]))
    missing_names = [j for j, v in enumerate(raw_header) if blank(v)]
    if hdr_merges and (missing_names or best_key[0] == 0):
        raise FileUnusableError(
            f"{name}: sheet {sname!r} has merged header cells ({', '.join(hdr_merges[:5])}) "
            f"so some columns have no name; expected one header row with one name per column "
            "(unmerge the header cells)"
        )
    if header_row != nonempty[0]:
        notes.append(f"sheet {sname!r}: header found on row {header_row + 1}; rows above it "
                     f"(title or merged cells) skipped")
    if uncached:
        notes.append(f"sheet {sname!r}: {len(uncached)} formula cell(s) have no saved value "
                     f"({', '.join(uncached[:5])}{', ...' if len(uncached) > 5 else ''}), so "
                     "they read as empty; expected computed values (open the workbook in Excel "
                     "and save it, or export to CSV)")
    names = _header_names(["" if blank(v) else str(v) for v in raw_header], notes)
    data_idx = [i for i in nonempty if i > header_row]
    if not data_idx:
        raise FileUnusableError(f"{name}: sheet {sname!r} has a header but no data rows; "
                                "expected events below the header")
    body = [tuple(rows[i][:width]) + (None,) * (width - len(rows[i][:width])) for i in data_idx]
    del rows
    df = pd.DataFrame.from_records(body, columns=names)
    for col in df.columns:
        s = df[col]
        if s.dtype == object and all(isinstance(v, str) or v is None for v in s):
            df[col] = s.astype("str")
    source_rows = np.asarray(data_idx, dtype="int64") + 1
    return RawTable(df, source_rows, "excel", None, notes,
                    extra={"sheet": sname, "header_row": header_row + 1, "other_sheets": others})


# --- Parquet ---------------------------------------------------------------------------------


def _read_parquet(path: Path, columns: list[str] | None = None, *,
                  categories: bool = False) -> RawTable:
    name = path.name
    with open(path, "rb") as fh:
        head = fh.read(4)
    if not head:
        raise FileUnusableError(f"{name}: the file is empty; expected a Parquet file")
    if head != b"PAR1":
        what = _magic(head) or "not a Parquet file (no PAR1 magic bytes)"
        raise FileUnusableError(f"{name}: is {what}, not Parquet as its name says")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        text = [f.name for f in schema if pa.types.is_string(f.type)
                or pa.types.is_large_string(f.type)]
        tables = [pq.read_table(path, columns=columns, read_dictionary=text)]
    except (pa.ArrowException, OSError) as exc:
        raise FileUnusableError(f"{name}: not a readable Parquet file ({exc})") from None
    # popped: _undictionary holds the only reference, so each column it replaces is freed
    df, dictionaries = _undictionary(tables.pop(), {f.name: f.type for f in schema}, categories)
    return RawTable(df, np.arange(1, len(df) + 1, dtype="int64"), "parquet",
                    dictionaries=dictionaries)


def _undictionary(table: Any, types: Mapping[str, Any], categories: bool = False
                  ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A table whose text columns were read dictionary-encoded -> the DataFrame the plain read
    gives (each such column cast back to ``types[name]``) and those dictionary columns.

    Reading text as dictionaries is cheaper than plain strings (Parquet stores them so) and
    hands validation its factorisation for free; with ``categories`` columns with few distinct
    values stay ``category`` (no per-row strings); the values are those of the plain read.
    Memory (a 9M-event district): Arrow's freed memory is handed back to the system before
    and after the conversion to pandas (mimalloc keeps it otherwise, where numpy cannot use
    it); few-distinct columns first get the narrow indices their pandas codes will have; numbers stay zero-copy views of the Arrow buffers; the dictionary handed over for a
    ``category`` column is a zero-copy view of its pandas codes (:func:`_category_dictionary`).

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = pa.table({"few": pa.array(["x", "y"] * 20).dictionary_encode(),
    ...               "ids": pa.array([f"C{i}" for i in range(40)]).dictionary_encode()})
    >>> df, enc = _undictionary(t, {"few": pa.string(), "ids": pa.string()}, categories=True)
    >>> df.dtypes.astype(str).to_dict(), df["few"].cat.codes.dtype.name
    ({'few': 'category', 'ids': 'str'}, 'int8')
    >>> enc["few"].to_pylist()[:3], enc["ids"].to_pylist()[:3]
    (['x', 'y', 'x'], ['C0', 'C1', 'C2'])
    """
    import pyarrow as pa

    pool = pa.default_memory_pool()
    dictionaries, few, many = {}, [], []
    for i, fld in enumerate(table.schema):
        want = types.get(fld.name)
        if pa.types.is_dictionary(fld.type) and want is not None \
                and not pa.types.is_dictionary(want):
            col = table.column(i)
            if categories and \
                    sum(len(c.dictionary) for c in col.chunks) * _FEW_DISTINCT <= len(col):
                few.append(fld.name)
                table = _set_column(table, i, _narrow_indices(col))
            else:
                many.append((i, want))
            del col
    pool.release_unused()  # the decoder's buffers and the wide indices, before the strings
    for i, want in many:
        col = table.column(i)
        dictionaries[table.schema.field(i).name] = col
        table = _set_column(table, i, col.cast(want))
        del col
    pool.release_unused()
    # one block per column (no 2-D copy of the numbers); each Arrow column freed once converted
    df = table.to_pandas(split_blocks=True, self_destruct=True)
    del table
    pool.release_unused()
    for name in few:
        dictionaries[name] = _category_dictionary(df[name])
    return df, dictionaries


def _set_column(table: Any, i: int, col: Any) -> Any:
    """``table`` with column ``i`` replaced by ``col`` (same name, nullability and metadata)."""
    import pyarrow as pa

    fld = table.schema.field(i)
    return table.set_column(i, pa.field(fld.name, col.type, fld.nullable, fld.metadata), col)


def _narrow_indices(col: Any) -> Any:
    """A dictionary column with one dictionary and the index width of its pandas codes.

    That is int8 under 127 values, int16 under 32,767, so converting it makes no wider copy.

    Examples
    --------
    >>> import pyarrow as pa
    >>> col = pa.chunked_array([pa.array(["x", None]).dictionary_encode(),
    ...                         pa.array(["y", "x"]).dictionary_encode()])
    >>> out = _narrow_indices(col)
    >>> out.type, out.to_pylist()
    (DictionaryType(dictionary<values=string, indices=int8, ordered=0>), ['x', None, 'y', 'x'])
    """
    import pyarrow as pa

    if not col.num_chunks:
        return col
    col = col.unify_dictionaries()
    dictionary = col.chunk(0).dictionary
    k = len(dictionary)
    width = pa.int8() if k < 127 else pa.int16() if k < 32767 else None
    if width is None or col.type.index_type == width:
        return col
    return pa.chunked_array([pa.DictionaryArray.from_arrays(c.indices.cast(width), dictionary)
                             for c in col.chunks])


def _category_dictionary(s: pd.Series) -> Any:
    """A ``category`` column as an Arrow ``dictionary`` array sharing its codes (no copy).

    Examples
    --------
    >>> enc = _category_dictionary(pd.Series(["b", None, "a", "b"], dtype="category"))
    >>> enc.to_pylist(), enc.chunk(0).indices.type
    (['b', None, 'a', 'b'], DataType(int8))
    """
    import pyarrow as pa

    codes = s.array.codes  # a view (``s.cat.codes.to_numpy()`` is a copy on pandas 3)
    has_missing = len(codes) and codes.min() < 0
    indices = pa.array(codes, mask=codes < 0) if has_missing else pa.array(codes)
    dictionary = pa.array(np.asarray(s.cat.categories, dtype=object), type=pa.large_string())
    # pandas' codes are within the categories: no pass over them to check that
    return pa.chunked_array([pa.DictionaryArray.from_arrays(indices, dictionary, safe=False)])


#: A text column read dictionary-encoded stays a ``category`` in ``RawTable.data`` when it has
#: fewer distinct values than rows / this (labels, agencies); others become ``str``.
_FEW_DISTINCT = 16


# --- XES -------------------------------------------------------------------------------------

_XES_TYPES = {"string", "date", "int", "float", "boolean", "id"}


def _open_xes(path: Path, progress: bool | None,
              limits: UnpackLimits) -> list[tuple[str | None, Any, list[Any]]]:
    """Open the XES stream(s): one per event log member of a zip, else one.

    Returns ``[(member name or None, readable, things to close, last first)]``.
    """
    name = path.name.lower()
    size = path.stat().st_size
    if size == 0:
        raise FileUnusableError(f"{path.name}: the file is empty; expected an XES log")
    show = _want_progress(progress, size)
    desc = f"reading {path.name}"
    raw = open(path, "rb")
    head = raw.read(4)
    raw.seek(0)
    if name.endswith(".zip"):
        try:
            zf, members = _zip_members(path, raw, (".xes", ".xes.gz"), limits)
        except FileUnusableError as exc:
            raw.close()
            if "holds no" in str(exc):
                raise FileUnusableError(f"{path.name}: the zip archive holds no .xes file")\
                    from None
            raise
        out = []
        for k, m in enumerate(members):
            stream: Any = _Limited(zf.open(m), path.name, m.compress_size, limits)
            if m.filename.lower().endswith(".gz"):
                stream = gzip.GzipFile(fileobj=stream)  # type: ignore[arg-type]
            wrapped = _Progress(stream, m.file_size, f"{desc}:{m.filename}",
                                _want_progress(progress, m.file_size))
            closers = [wrapped, stream] + ([zf, raw] if k == len(members) - 1 else [])
            out.append((m.filename, wrapped, closers))
        return out
    if name.endswith(".gz"):
        if not head.startswith(b"\x1f\x8b"):
            raw.close()
            raise FileUnusableError(f"{path.name}: is not a gzip file as its name says")
        counted = _Progress(raw, size, desc, _want_progress(progress, 8 * size))  # ~8x packed
        stream = _Limited(gzip.GzipFile(fileobj=counted), path.name, size, limits)  # type: ignore[call-overload]
        return [(None, stream, [stream, counted, raw])]
    wrapped = _Progress(raw, size, desc, show)
    return [(None, wrapped, [wrapped, raw])]


class _Col:
    """Sparse column collector: positions and values, filled in at the end."""

    __slots__ = ("kind", "parts", "pos", "vals")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.pos: list[int] = []
        self.vals: list[str] = []
        self.parts: list[tuple[np.ndarray, Any]] = []  # (positions, pyarrow values) in bulk


def _int64_exact(num: Any) -> bool:
    """Whether the float64 values (pyarrow, nulls allowed) are all whole numbers int64 holds.

    Else an ``<int>`` column stays float (``inf``, ``1e19``), as one with ``1.5`` does.

    >>> import pyarrow as pa
    >>> _int64_exact(pa.array([1.0, None])), _int64_exact(pa.array([1.0, float("inf")]))
    (True, False)
    """
    import pyarrow.compute as pc

    whole = pc.and_(pc.equal(pc.floor(num), num), pc.less(pc.abs(num), 2.0 ** 63))
    return pc.all(whole).as_py() is not False


def _finish_cols(cols: dict[str, _Col], n: int) -> dict[str, pd.Series]:
    """Sparse collected values -> one column per key (pyarrow; no per-value Python)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out: dict[str, pd.Series] = {}
    for key, col in cols.items():
        if col.parts:  # the fast scanner's columns (it never appends to ``pos``/``vals``)
            vals = pa.concat_arrays([v for _, v in col.parts])
            pos = np.concatenate([q for q, _ in col.parts])
        else:
            vals = pa.array(col.vals, type=pa.large_string())
            pos = np.asarray(col.pos, dtype=np.int64)
        if len(pos) != n or (len(pos) and not (pos == np.arange(n)).all()):
            where = np.full(n, -1, dtype=np.int64)
            where[pos] = np.arange(len(pos))  # a key repeated in one element: last one wins
            vals = vals.take(pa.array(where, mask=where < 0))
        if col.kind in ("int", "float"):
            try:
                num = pc.cast(vals, pa.float64())
            except pa.ArrowInvalid:  # a malformed number: fall back to pandas' coercion
                out[key] = pd.to_numeric(pd.Series(vals.to_pylist(), dtype=object),
                                         errors="coerce")
                continue
            if col.kind == "int" and _int64_exact(num):
                out[key] = pd.Series(num.to_numpy(zero_copy_only=False)).astype("Int64")
            else:
                out[key] = pd.Series(num.to_numpy(zero_copy_only=False))
        elif col.kind == "boolean":
            low = pc.utf8_lower(vals)
            out[key] = pd.Series(pd.array(pc.equal(low, "true"), dtype="boolean"))
        else:
            out[key] = pd.Series(pd.array(vals, dtype="str"))
    return out


#: Caps on an XES log: distinct attribute keys (else refused) and one attribute value's size
#: (else its event is quarantined).
XES_MAX_KEYS = 5_000
XES_MAX_VALUE_CHARS = 1 << 20
_XES_CHUNK = 1 << 23  # bytes fed to expat at once (few re-parses of large tokens on expat < 2.6)
_XES_MAX_HEADER = 1 << 26  # characters before the first trace the fast scanner looks through


class _XesState:
    """What the expat callbacks collect over one log (possibly several archive members)."""

    def __init__(self, max_keys: int, max_value: int) -> None:
        self.ev_cols: dict[str, _Col] = {}
        self.tr_cols: dict[str, _Col] = {}
        self.trace_of: list[int] = []
        self.bad: dict[int, str] = {}  # event index -> reason (quarantined)
        self.member_of: list[int] = []
        self.n_ev = self.n_tr = 0
        self.n_outside = 0
        self.saw_log = False
        self.max_keys, self.max_value = max_keys, max_value


class _Irregular(Exception):
    """The XES text leaves the regular shape the fast scanner reads: read it with expat."""


_S = "[ \t\r\n]"  # XML white space (not ``\s``: that takes other Unicode spaces too)
_XNAME = "[A-Za-z_][A-Za-z0-9._:-]*"  # an ASCII XML name (other names: expat)
#: One token of the regular XES shape, a capture group each: (1-3) an attribute element written
#: ``<int key="k" value="v"/>`` with plain values, (4-6) any other start or empty tag with its
#: attribute text, (7) an end tag, (8) a comment, (9) anything else (-> expat). White space
#: between tokens is skipped; character data, CDATA, processing instructions, DOCTYPE,
#: non-ASCII names or a ``<`` in a value fall to (9).
_XES_TOKEN = re.compile(
    f"{_S}*(?:"
    f'<(string|date|int|float|boolean|id) key="([^"<&\t\n\r]*)" value="([^"<&\t\n\r]*)"{_S}*/>'
    f"|<({_XNAME})((?:{_S}+{_XNAME}{_S}*={_S}*(?:\"[^\"<]*\"|'[^'<]*'))*){_S}*(/?)>"
    f"|</({_XNAME}){_S}*>"
    "|(<!--(?:[^-]|-[^-])*-->)"
    "|(.))", re.DOTALL)  # (9) after the white space: no retry from inside a long run of it
_XES_ATTR = re.compile(f"{_S}+({_XNAME}){_S}*={_S}*(?:\"([^\"<]*)\"|'([^'<]*)')")
_XES_DECL = re.compile(
    f"<\\?xml{_S}+version{_S}*={_S}*(?:\"1\\.0\"|'1\\.0')"
    f"(?:{_S}+encoding{_S}*={_S}*(?:\"[Uu][Tt][Ff]-8\"|'[Uu][Tt][Ff]-8'))?"
    f"(?:{_S}+standalone{_S}*={_S}*(?:\"(?:yes|no)\"|'(?:yes|no)'))?{_S}*\\?>")
_XES_REF = re.compile("&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));")
_XES_ENTITY = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


def _xes_char_ref(m: re.Match[str]) -> str:
    """Expand one ``&name;`` / ``&#n;`` / ``&#xh;`` reference as expat does (else irregular)."""
    if m[1]:
        return _XES_ENTITY[m[1]]
    cp = int(m[2], 10) if m[2] else int(m[3], 16)
    if cp in (9, 10, 13) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD \
            or 0x10000 <= cp <= 0x10FFFF:
        return chr(cp)
    raise _Irregular


def _xes_attrs(text: str) -> dict[str, str]:
    r"""Read the attribute text of a start tag into ``{name: value}`` exactly as expat does.

    Line ends and white space in a literal value become single spaces (XML attribute-value
    normalisation), then references are expanded; a repeated name or a bare ``&`` is
    irregular (expat refuses them).

    >>> _xes_attrs(' key="a&amp;b" value=\'x\ty\'')
    {'key': 'a&b', 'value': 'x y'}
    """
    pairs = _XES_ATTR.findall(text)
    out = {}
    for name, dq, sq in pairs:
        v = dq or sq
        out[name] = _xes_value(v) if "&" in v or "\t" in v or "\n" in v or "\r" in v else v
    if len(out) != len(pairs):
        raise _Irregular
    return out


_XES_WS = {9: 32, 10: 32, 13: 32}


def _xes_value(v: str) -> str:
    r"""Give a literal attribute value (without ``<``) as expat does.

    White space is normalised and references expanded; a bare or unknown ``&`` is irregular.

    >>> _xes_value("a\r\nb&#x41;&lt;")
    'a bA<'
    """
    v = v.replace("\r\n", " ").translate(_XES_WS)
    n_amp = v.count("&")
    v, n_ref = _XES_REF.subn(_xes_char_ref, v)
    if n_ref != n_amp:
        raise _Irregular
    return v


#: Bytes XML 1.0 forbids (control characters); none occurs inside a multi-byte UTF-8 sequence.
_XES_OK_BYTES = bytes(b for b in range(256)
                      if b not in range(9) and b not in (11, 12) and b not in range(14, 32))
_XES_BODY_START = re.compile(f"<(?:trace|event)(?:{_S}|/|>)")
#: One markup run between two quoted values of the body: ``/>`` closing the attribute before
#: it, then start / end tags of traces and events, then the next attribute element up to
#: ``key=`` (group 2: its type), or ``</log>`` ending the document.
_XES_SHAPE = re.compile(
    f"{_S}*/>((?:{_S}*</?(?:event|trace){_S}*/?>)*){_S}*"
    f"(?:<(string|date|int|float|boolean|id){_S}+key{_S}*={_S}*|</log{_S}*>{_S}*)")
_XES_OP = re.compile(f"<(/?)(event|trace){_S}*(/?)>")
_XES_MID = re.compile(f"{_S}+value{_S}*={_S}*")
#: Levels of the body: 1 in the log, 2 in a trace, 3 in an event; op -> (level before, after).
_XES_STEP = {("", "trace", ""): (1, 2), ("/", "trace", ""): (2, 1), ("", "trace", "/"): (1, 1),
             ("", "event", ""): (2, 3), ("/", "event", ""): (3, 2), ("", "event", "/"): (2, 2)}


def _xes_chunks(source: Any) -> Iterator[str]:
    """Yield the decoded text of an XES stream, chunk by chunk, ``""`` last.

    Raises ``_Irregular`` on what only expat reads right (bytes that are not UTF-8,
    characters XML forbids).
    """
    decode = codecs.getincrementaldecoder("utf-8")().decode
    while True:
        chunk = source.read(_XES_CHUNK)
        try:
            text = decode(chunk, not chunk)
        except UnicodeDecodeError:
            raise _Irregular from None
        if chunk.translate(None, _XES_OK_BYTES) or "\ufffe" in text or "\uffff" in text:
            raise _Irregular
        if text or not chunk:  # (a chunk may end inside a character: nothing to give yet)
            yield text
        if not chunk:
            return


def _xes_header(chunks: Iterator[str]) -> tuple[str, str]:
    """Split the text at the first ``<trace`` / ``<event``.

    Returns (the header after an XML declaration of version 1.0 in UTF-8, the rest of the
    text read); ``_Irregular`` if there is no such tag or another declaration.
    """
    text = ""
    for chunk in chunks:
        text += chunk
        at = _XES_BODY_START.search(text)
        if at is not None or not chunk or len(text) > _XES_MAX_HEADER:
            break
    if at is None:
        raise _Irregular
    start = at.start()
    head = text[1:start] if text.startswith("\ufeff") else text[:start]
    if head.startswith("<?xml"):
        decl = _XES_DECL.match(head)
        if decl is None:
            raise _Irregular
        head = head[decl.end():]
    return head, text[start:]


def _xes_body(chunks: Iterator[str], text: str, st: _XesState, member: int, name: str) -> None:
    """Read the body of a regular XES log in bulk (traces of events, attributes all empty).

    Regular: every attribute an empty ``<type key=".." value=".."/>``. The text is split at
    quotes, each markup run between two values interpreted once per distinct run
    (:func:`_xes_shape`) and the columns filled with numpy and pyarrow; ``_Irregular`` on
    anything else (the caller re-reads with expat), also when the text held back for want
    of a whole attribute outgrows two chunks (it would be split again with every chunk).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    buf, level, chunk = "/>" + text, 1, text  # "/>": no attribute before the first run
    while chunk:
        pieces = pc.list_flatten(pc.split_pattern(pa.array([buf], pa.large_string()), '"'))
        cut = (len(pieces) - 1) // 4 * 4  # whole attributes; the rest waits for more text
        if cut:
            buf = '"'.join(pieces.slice(cut).to_pylist())
            level = _xes_bulk(st, member, name, pieces.slice(0, cut), level)
        if len(buf) > 2 * max(_XES_CHUNK, 1 << 16):
            raise _Irregular
        chunk = next(chunks, "")
        buf += chunk
    if '"' in buf or _xes_bulk(st, member, name, pa.array([buf], pa.large_string()),
                               level) != 0:
        raise _Irregular


def _xes_shape(run: str) -> tuple[int, int, str | None, list[int], int]:
    r"""Interpret one markup run of the body (the text between two quoted values).

    Returns (level before, level after: -1 if it has no tags, attribute type or None at
    ``</log>``, per event opened the traces opened before it in the run, traces opened).

    >>> _xes_shape('/>\n</event></trace><trace><event><string key=')
    (3, 3, 'string', [1], 1)
    """
    m = _XES_SHAPE.fullmatch(run)
    if m is None or not run.isascii():
        raise _Irregular
    ops = _XES_OP.findall(m[1])
    before = after = -1
    toffs: list[int] = []
    n_t = 0
    for op in ops:
        step = _XES_STEP.get(op)
        if step is None or (after >= 0 and step[0] != after):
            raise _Irregular  # </event/>, or nesting other than log > trace > event
        before = step[0] if before < 0 else before
        after = step[1]
        n_t += op[1] == "trace" and not op[0]
        if op[1] == "event" and not op[0]:
            toffs.append(n_t)
    if m[2] is None:  # </log>
        if after not in (-1, 1):
            raise _Irregular
        before, after = (1 if before < 0 else before), 0
    return before, after, m[2], toffs, n_t


def _xes_levels(st: _XesState, member: int, shapes: list[tuple[Any, ...]],
                codes: np.ndarray, level: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check that the runs nest as log > trace > event, and record their new events.

    Returns per run the level after it and the ordinal of the event / trace open there
    (-1: none).
    """
    before = np.array([s[0] for s in shapes], dtype=np.int64)[codes]
    after = np.array([s[1] for s in shapes], dtype=np.int64)[codes]
    tagged = np.flatnonzero(after >= 0)
    if len(tagged):
        prev = np.concatenate([[level], after[tagged[:-1]]])
        if (before[tagged] != prev).any():
            raise _Irregular
    last = np.full(len(codes), -1, dtype=np.int64)
    last[tagged] = tagged
    np.maximum.accumulate(last, out=last)
    lv = np.where(last >= 0, after[np.maximum(last, 0)], level)
    n_e = np.array([len(s[3]) for s in shapes], dtype=np.int64)[codes]
    n_t = np.array([s[4] for s in shapes], dtype=np.int64)[codes]
    ev_end, tr_end = np.cumsum(n_e), np.cumsum(n_t)
    trace_of = np.empty(int(ev_end[-1]) if len(codes) else 0, dtype=np.int64)
    for k, s in enumerate(shapes):  # each distinct run: its events' traces
        occ = np.flatnonzero(codes == k) if s[3] else ()
        for i, toff in enumerate(s[3]):
            trace_of[ev_end[occ] - n_e[occ] + i] = st.n_tr + tr_end[occ] - n_t[occ] + toff - 1
    st.trace_of.extend(trace_of.tolist())
    st.member_of.extend([member] * len(trace_of))
    ev_i = np.where(lv == 3, st.n_ev + ev_end - 1, -1)
    tr_i = np.where(lv == 2, st.n_tr + tr_end - 1, -1)
    st.n_ev += len(trace_of)
    st.n_tr += int(tr_end[-1]) if len(codes) else 0
    return lv, ev_i, tr_i


def _xes_bulk(st: _XesState, member: int, name: str, pieces: Any, level: int) -> int:
    """Put one chunk of the body's events, traces and attribute values into ``st``.

    ``pieces``: the chunk split at quotes (pyarrow strings), ``[run, key, " value=", value]
    * n``, or the last run alone. Returns the level after it.
    """
    import pyarrow as pa

    def nth(k: int) -> Any:
        return pieces.take(np.arange(k, len(pieces), 4)) if len(pieces) > 1 else pieces

    runs = nth(0).dictionary_encode()
    shapes = [_xes_shape(r) for r in runs.dictionary.to_pylist()]
    codes = runs.indices.to_numpy().astype(np.int64)
    if any(s[2] is None for s in shapes) != (len(pieces) == 1):
        raise _Irregular  # </log> before the last run, or no </log> at the end
    lv, ev_i, tr_i = _xes_levels(st, member, shapes, codes, level)
    if len(pieces) == 1:
        return int(lv[-1])
    if any(_XES_MID.fullmatch(m) is None for m in nth(2).unique().to_pylist()):
        raise _Irregular
    keys = nth(1).dictionary_encode()
    names = keys.dictionary.to_pylist()
    if any(_XES_NEEDS_CARE.search(k) for k in names):
        raise _Irregular
    vals = _xes_bulk_values(st, keys, nth(3), lv, ev_i)
    kinds = [s[2] for s in shapes]
    group = np.where(lv >= 2, lv * len(names) + keys.indices.to_numpy(), -1)
    got, first = np.unique(group, return_index=True)
    for g, at in sorted(zip(got.tolist(), first.tolist(), strict=True), key=lambda x: x[1]):
        if g < 0:
            continue
        cols, where = (st.ev_cols, ev_i) if g // len(names) == 3 else (st.tr_cols, tr_i)
        key = names[g % len(names)]
        col = cols.get(key) or _xes_new_col(st, cols, key, kinds[codes[at]], name)
        sel = group == g
        col.parts.append((where[sel], vals.filter(pa.array(sel))))
    return int(lv[-1])


_XES_NEEDS_CARE = re.compile("[<&\t\n\r]")


def _xes_bulk_values(st: _XesState, keys: Any, vals: Any, lv: np.ndarray,
                     ev_i: np.ndarray) -> Any:
    """Give the quoted values of a chunk as expat does (references expanded, spaces normalised).

    A value over the size cap quarantines its event (in a trace: it is emptied); a ``<`` is
    irregular.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    care = pc.match_substring_regex(vals, "[<&\t\n\r]")
    if pc.any(care).as_py():
        out = vals.to_pylist()
        for i in np.flatnonzero(care.to_numpy(zero_copy_only=False)).tolist():
            if "<" in out[i]:
                raise _Irregular
            out[i] = _xes_value(out[i])
        vals = pa.array(out, pa.large_string())
    long = pc.greater(pc.utf8_length(vals), st.max_value)
    if not pc.any(long).as_py():
        return vals
    out = vals.to_pylist()
    for i in np.flatnonzero(long.to_numpy(zero_copy_only=False)).tolist():
        if lv[i] == 3:
            key = keys.dictionary[keys.indices[i].as_py()].as_py()
            st.bad.setdefault(int(ev_i[i]), f"attribute {key[:40]!r} holds {len(out[i]):,} "
                                            f"characters; expected at most {st.max_value:,}")
        out[i] = None if lv[i] == 3 else out[i][:0]
    return pa.array(out, pa.large_string())


def _xes_new_col(st: _XesState, cols: dict[str, _Col], key: str, kind: str,
                 name: str) -> _Col:
    """Add a column ``key`` to ``cols`` (the events' or the traces'), within the key cap."""
    if len(st.ev_cols) + len(st.tr_cols) >= st.max_keys:
        raise FileUnusableError(
            f"{name}: more than {st.max_keys:,} distinct attribute keys; expected an "
            "event log with a bounded set of attributes")
    col = cols[key] = _Col(kind)
    return col


def _parse_xes_stream(source: Any, state: _XesState, member: int, name: str,
                      fast: bool = True) -> None:
    """Read one XES stream into ``state`` (columns of events and traces).

    ``fast``: the header (up to the first ``<trace>``) tokenised by one regular expression
    (``_XES_TOKEN``) and run through the same callbacks, then the body in bulk
    (:func:`_xes_body`); ``_Irregular`` (the caller re-reads with expat) on anything either
    does not read exactly as expat does, on events or traces in the header, and where it would
    raise (so that an error is always expat's, at its line and column). Else the stream is
    fed through expat.

    Kept as one function on purpose (issue 14 allows it with a reason): the expat callbacks
    ``start`` / ``end`` are closures over the parser's local state and run once per XML
    element (millions of calls on a log that is not in the regular shape), so the attribute
    case is inlined in ``start`` and the innermost open event / trace are plain locals
    (``ev_d``/``ev_i``, ``tr_d``/``tr_i``; depth -1: none open) rather than stack look-ups:
    each call or index on that hot path costs about a second on the road-traffic log
    (issue 15).
    """
    from xml.parsers import expat

    st = state
    types = _XES_TYPES
    ev_cols, tr_cols, bad = st.ev_cols, st.tr_cols, st.bad
    max_value = st.max_value
    kinds = {t: t for t in types}  # attribute tag as written -> its type (xes:int -> int)
    depth = 0
    ev_d = ev_i = tr_d = tr_i = -1
    ev_stack: list[tuple[int, int]] = []  # (ev_d, ev_i) saved when an <event> opens
    tr_stack: list[tuple[int, int]] = []  # (tr_d, tr_i) saved when a <trace> opens

    def new_col(cols: dict[str, _Col], key: str, kind: str) -> _Col:
        return _xes_new_col(st, cols, key, kind, name)

    def structure(tag: str) -> None:  # <event>, <trace>, <log>: once per event, not per value
        nonlocal ev_d, ev_i, tr_d, tr_i
        if tag == "event":
            idx = st.n_ev
            st.n_ev += 1
            st.member_of.append(member)
            if ev_d >= 0:
                bad[idx] = f"<event> nested inside event {ev_i + 1}; expected events " \
                           "directly in a trace"
                bad.setdefault(ev_i, "holds a nested <event>; expected events directly in "
                                     "a trace")
            if tr_d >= 0:
                st.trace_of.append(tr_i)
                if len(tr_stack) > 1:
                    bad.setdefault(idx, "event of a <trace> nested inside a trace; expected "
                                        "traces directly in the log")
            else:
                st.trace_of.append(-1)
                st.n_outside += 1
            ev_stack.append((ev_d, ev_i))
            ev_d, ev_i = depth, idx
        elif tag == "trace":
            tr_stack.append((tr_d, tr_i))
            tr_d, tr_i = depth, st.n_tr
            st.n_tr += 1
        elif tag == "log":
            st.saw_log = True

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        kind = kinds.get(tag)
        if kind is None:  # not an attribute: <event>, <trace>, <log>, <list>, ...
            base = tag.rsplit(":", 1)[1] if ":" in tag and tag not in types else tag
            if base not in types:
                structure(base)
                return
            kind = kinds[tag] = base  # a prefixed attribute tag (xes:string)
        key = attrs.get("key")
        if key is None:
            return
        value = attrs.get("value")
        if depth == ev_d + 1:  # an attribute of the innermost open event
            if value is not None and len(value) > max_value:
                bad.setdefault(ev_i, f"attribute {key[:40]!r} holds {len(value):,} "
                                     f"characters; expected at most {max_value:,}")
                value = None
            col = ev_cols.get(key) or new_col(ev_cols, key, kind)
            col.pos.append(ev_i)
            col.vals.append(value)  # type: ignore[arg-type]
        elif ev_d < 0 and depth == tr_d + 1:  # an attribute of the trace (outside events)
            if value is not None and len(value) > max_value:
                value = value[:0]
            col = tr_cols.get(key) or new_col(tr_cols, key, kind)
            col.pos.append(tr_i)
            col.vals.append(value)  # type: ignore[arg-type]

    def end(tag: str) -> None:
        nonlocal depth, ev_d, ev_i, tr_d, tr_i
        if depth == ev_d:
            ev_d, ev_i = ev_stack.pop()
        elif depth == tr_d:
            tr_d, tr_i = tr_stack.pop()
        depth -= 1

    names: list[str] = []  # open elements, to check end tags as expat does
    rooted = False

    def feed(tokens: Iterator[tuple[str, ...]]) -> None:  # the header's tokens, in order
        nonlocal rooted
        for a_tag, key, value, tag, attrs, slash, end_tag, _comment, other in tokens:
            if a_tag and names:
                start(a_tag, {"key": key, "value": value})
                end(a_tag)
            elif end_tag:
                if not names or names.pop() != end_tag:
                    raise _Irregular
                end(end_tag)
            elif tag:
                if not names:
                    if rooted:
                        raise _Irregular  # a second document element
                    rooted = True
                start(tag, _xes_attrs(attrs) if attrs else {})
                if slash:
                    end(tag)
                else:
                    names.append(tag)
            elif other or a_tag:
                raise _Irregular

    if fast:
        n_ev, n_tr = st.n_ev, st.n_tr
        chunks = _xes_chunks(source)
        try:
            head, body = _xes_header(chunks)
            feed(m.groups() for m in _XES_TOKEN.finditer(head.rstrip(" \t\r\n")))
            if names != ["log"] or ev_d >= 0 or tr_d >= 0 or st.n_ev > n_ev or st.n_tr > n_tr:
                raise _Irregular  # (events of the header: expat's columns, not the bulk's)
            _xes_body(chunks, body, st, member, name)
        except (FileUnusableError, OSError, EOFError, zipfile.BadZipFile):
            raise _Irregular from None  # expat re-reads: its error, at its place in the text
        return
    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        while chunk := source.read(_XES_CHUNK):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        msg = expat.ErrorString(exc.code)
        raise FileUnusableError(
            f"{name}: malformed XML at line {exc.lineno}, column {exc.offset} ({msg}); "
            "expected a complete XES log (is the file truncated?)"
        ) from None
    except LookupError as exc:  # the declaration names an encoding Python does not know
        raise FileUnusableError(f"{name}: cannot be decoded ({exc}); expected an XES log in "
                                "UTF-8 or another known encoding") from None


def _parse_xes_file(path: Path, progress: bool | None, limits: UnpackLimits,
                    fast: bool) -> tuple[_XesState, list[str | None]]:
    """Read all event logs of one XES file with :func:`_parse_xes_stream` (streams closed)."""
    streams = _open_xes(path, progress, limits)
    state = _XesState(XES_MAX_KEYS, XES_MAX_VALUE_CHARS)
    try:
        for k, (member, source, _closers) in enumerate(streams):
            shown = f"{path.name}:{member}" if member else path.name
            _parse_xes_stream(source, state, k, shown, fast)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise FileUnusableError(f"{path.name}: cannot be read ({exc}); expected an XES log")\
            from None
    finally:
        for _m, _s, closers in streams:
            for c in closers:
                with contextlib.suppress(OSError, ValueError, zipfile.BadZipFile):
                    c.close()
    return state, [m for m, _, _ in streams]


def _read_xes(path: Path, progress: bool | None, limits: UnpackLimits | None = None) -> RawTable:
    """Stream an XES log, nothing kept but the values: in bulk, else with expat.

    The bulk scanner (:func:`_xes_body`) reads the regular shape and gives up
    (``_Irregular``) on anything it does not read exactly as expat does (entities other than
    the predefined ones, comments, CDATA or text inside the log's traces, nesting other than
    log > trace > event, attributes with children, other encodings, malformed or truncated
    XML...); the file is then read again from the start with expat, one callback per element
    (``ElementTree.iterparse`` with cleared elements was measured 2x slower than that). On the
    185 MB road-traffic log the bulk read takes about 3 s CPU against 9-12 s for expat. Every
    ``<event>`` element is a record: nested events (and events of nested traces) are
    quarantined, never dropped; a zip with several logs is read as one, the member kept in the
    column ``source_member``. (PyPI's Rust reader ``rustxes`` / ``r4pm`` is not a backend: it
    drops time zone offsets, silently drops or mis-reads hostile files and panics on others;
    see ``benchmarks/ingest.py``.)
    """
    limits = limits or UnpackLimits.resolve()
    try:
        state, members = _parse_xes_file(path, progress, limits, fast=True)
    except _Irregular:
        state, members = _parse_xes_file(path, progress, limits, fast=False)
    if not state.saw_log:
        raise FileUnusableError(f"{path.name}: is XML but has no <log> element; expected an XES "
                                "log")
    n_ev, n_tr = state.n_ev, state.n_tr
    if n_ev == 0:
        raise FileUnusableError(f"{path.name}: the XES log holds no events")
    # events outside traces point at an extra, empty trace -> no case id
    tr_idx = np.asarray(state.trace_of, dtype=np.int64)
    tr_idx[tr_idx < 0] = n_tr
    columns: dict[str, pd.Series] = {}
    trace = _finish_cols(state.tr_cols, n_tr + 1)
    for key, s in trace.items():
        columns[f"case:{key}"] = s.take(tr_idx).reset_index(drop=True)
    for key, s in _finish_cols(state.ev_cols, n_ev).items():
        if key in columns:
            key = f"event:{key}"
        columns[key] = s
    if len(members) > 1:
        columns["source_member"] = pd.Series(pd.array(
            [str(m) for m in members], dtype="str").take(np.asarray(state.member_of)))
    df = pd.DataFrame(columns)
    notes = []
    if state.n_outside:
        notes.append(f"{state.n_outside} event(s) outside any <trace>: they have no case id")
    if len(members) > 1:
        notes.append(f"read {len(members)} event logs of the archive as one "
                     f"({', '.join(map(str, members[:10]))}); the member is in column "
                     "'source_member'; events are numbered across the members in that order")
    elif members[0]:
        notes.append(f"read member {members[0]!r} of the archive")
    rows = np.arange(1, n_ev + 1, dtype="int64")
    bad_rows: list[tuple[int, str | None, str, str]] = []
    if state.bad:
        bad_idx = np.fromiter(sorted(state.bad), dtype=np.int64)
        keep = np.ones(n_ev, dtype=bool)
        keep[bad_idx] = False
        bad_rows = [(int(i) + 1, None, "", state.bad[int(i)]) for i in bad_idx]
        df = df.iloc[np.flatnonzero(keep)].reset_index(drop=True)
        rows = rows[keep]
    return RawTable(df, rows, "xes", "utf-8", notes, bad_rows,
                    extra={"n_traces": n_tr, **({"members": members} if len(members) > 1 else {})})


# ---------------------------------------------------------------------------------------------
# Case-level tables (one row per case) -> canonical events
# ---------------------------------------------------------------------------------------------

#: Status labels of case-level tables and what they mean: the exit activity at the closing time,
#: or ``"open"`` (no exit event). Matching ignores case, spaces and full-width forms.
CASE_STATUS: dict[str, tuple[str, ...]] = {
    "close": ("closed", "close", "resolved", "completed", "complete", "done", "finished",
              "answered", "办结", "已办结", "结案", "已结案", "完成", "已完成", "已答复", "已回复",
              "已处理", "办理完毕", "已关闭"),
    "decline_intake": ("rejected", "declined", "not accepted", "不予受理", "不受理", "已驳回"),
    "route_to_legal_procedure": ("referred to court", "legal procedure", "导入法定程序",
                                 "诉访分离", "导入诉讼程序", "转法定途径"),
    "terminated": ("terminated", "不再受理", "终结", "已终结"),
    "withdraw": ("withdrawn", "withdraw", "cancelled", "canceled", "撤回", "已撤回", "撤销",
                 "已撤销"),
    "transfer_out": ("transferred", "transfer out", "transferred out", "转出", "已转出", "移交",
                     "已移交"),
    "open": ("open", "opened", "in progress", "assigned", "pending", "started", "unassigned",
             "new", "draft", "办理中", "处理中", "待办", "待处理", "未办结", "在办", "已受理",
             "受理中", "待受理", "已交办", "已转办", "未完成"),
}
#: Activity of the event that gives a case to its handling agency (at the opening time).
CASE_ASSIGN_ACTIVITY = "assign_with_report"
_STATUS_INDEX = {_norm_header(label): act for act, labels in CASE_STATUS.items()
                 for label in labels}


def _guess_case_columns(names: list[str], columns: Mapping[str, str] | None) -> dict[str, str]:
    given = {k: v for k, v in (columns or {}).items() if k in CASE_COLUMN_ALIASES}
    for k, v in given.items():
        if v not in names:
            raise FileUnusableError(f"column {v!r} given for {k!r} is not in the file; columns "
                                    f"found: {', '.join(names) or '(none)'}")
    by_norm: dict[str, str] = {}
    for name in names:
        by_norm.setdefault(_norm_header(name), name)
    used = set(given.values()) | {v for k, v in (columns or {}).items()}
    out = dict(given)
    for canonical, aliases in CASE_COLUMN_ALIASES.items():
        if canonical in out:
            continue
        for alias in aliases:
            hit = by_norm.get(_norm_header(alias))
            if hit is not None and hit not in used:
                out[canonical] = hit
                used.add(hit)
                break
    return out


def _looks_like_cases(raw: RawTable, columns: Mapping[str, str] | None) -> bool:
    names = [str(c) for c in raw.data.columns]
    if columns and "activity" in columns:
        return False
    mapping, _ = guess_columns(names, {k: v for k, v in (columns or {}).items()
                                       if k in COLUMN_ALIASES})
    if "activity" in mapping:
        return False
    case_cols = _guess_case_columns(names, columns)
    return "opened_at" in case_cols and "closed_at" in case_cols


@dataclass
class _CaseExits:
    """How each case row of a case-level table ends (see :func:`cases_to_events`)."""

    activity: np.ndarray            # exit activity per row (None: still open)
    counts: dict[str, int]
    unknown: dict[str, int]         # status labels not recognised -> rows
    n_open_with_time: int
    keep: np.ndarray                # rows kept (a closing status without a time: quarantined)
    bad_rows: list[tuple[int, str | None, str, str]]


def _case_exits(raw: RawTable, case_cols: Mapping[str, str], has_close: np.ndarray,
                status: np.ndarray | None) -> _CaseExits:
    """The exit of each case: its status when recognised, else the closing time decides."""
    n = len(has_close)
    status_col = case_cols.get("status")
    exit_act = np.full(n, None, dtype=object)
    counts: dict[str, int] = {}
    unknown: dict[str, int] = {}
    n_open_with_time = 0
    bad_rows = list(raw.bad_rows)
    keep = np.ones(n, dtype=bool)
    if status is None:
        exit_act[has_close] = "close"
        counts = {"close": int(has_close.sum()), "open": int((~has_close).sum())}
        return _CaseExits(exit_act, counts, unknown, 0, keep, bad_rows)
    codes, uniq = pd.factorize(pd.Series(status, dtype=object))
    meaning = [_STATUS_INDEX.get(_norm_header(u)) if str(u).strip() else "" for u in uniq]
    for i, u in enumerate(uniq):
        if meaning[i] is None:
            unknown[str(u)[:40]] = int((codes == i).sum())
    for r in range(n):
        m = meaning[codes[r]]
        if m is None or m == "":  # unknown or empty status: the closing time decides
            m = "close" if has_close[r] else "open"
        if m == "open":
            n_open_with_time += bool(has_close[r])
            counts["open"] = counts.get("open", 0) + 1
            continue
        if not has_close[r]:
            keep[r] = False
            bad_rows.append((int(raw.source_rows[r]), status_col, "",
                             f"status {str(status[r])[:40]!r} ends the case but the closing "
                             f"time ({case_cols.get('closed_at', 'no column')}) is empty; "
                             "expected a closing time"))
            continue
        exit_act[r] = m
        counts[m] = counts.get(m, 0) + 1
    return _CaseExits(exit_act, counts, unknown, n_open_with_time, keep, bad_rows)


def _case_table_notes(raw: RawTable, mapping: Mapping[str, Any], case_cols: Mapping[str, str],
                      exits: _CaseExits, agency_col: Any, intake_col: Any) -> list[str]:
    """What :func:`cases_to_events` did, as notes (mapping, statuses, repeated ids)."""
    df = raw.data
    counts, unknown, n_open_with_time = exits.counts, exits.unknown, exits.n_open_with_time
    status_col = case_cols.get("status")
    shown = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    note = (f"case-level table (one row per case): case_id={mapping['case_id']!r}, "
            f"opened={case_cols['opened_at']!r}, closed={case_cols.get('closed_at')!r}, "
            f"agency={agency_col!r}, status={status_col!r}"
            + (f", intake agency={intake_col!r}" if intake_col else "")
            + f"; each case: register at opening, {CASE_ASSIGN_ACTIVITY} by the handling agency, "
            f"then close or a competing exit at the closing time as the status says ({shown})")
    notes = [*raw.notes, note]
    if unknown:
        notes.append("unknown status labels (the closing time decided close or open): "
                     + ", ".join(f"{k!r} ({v})" for k, v in list(unknown.items())[:10]))
    ids = df[mapping["case_id"]]
    n_repeated = int(ids.duplicated().sum())
    if n_repeated:
        notes.append(f"{n_repeated} case row(s) repeat a case id of an earlier row; their events "
                     "join that case (expected one row per case)")
    if n_open_with_time:
        notes.append(f"{n_open_with_time} case(s) have an open status but a closing time; kept "
                     "open (the status wins)")
    return notes


def cases_to_events(raw: RawTable, columns: Mapping[str, str] | None = None,
                    source: str = "table") -> tuple[RawTable, dict[str, str]]:
    """Turn a case-level table (one row per case) into canonical events.

    Each case row becomes ``register`` at the opening time (by the intake agency when the table
    names one, else the handling agency), ``assign_with_report`` by the handling agency at the
    same time, and, at the closing time, ``close`` or a competing exit (``decline_intake``,
    ``route_to_legal_procedure``, ``terminated``, ``withdraw``, ``transfer_out``) as the status
    says (:data:`CASE_STATUS`); an open status gives no exit event. Without a status column a
    closing time means ``close``. A row whose status is an exit but that has no closing time
    is quarantined. The mapping is noted in ``notes``.

    Returns the events as a :class:`RawTable` (every event keeps its case row as source row)
    and the column mapping for :func:`casekit.validate.validate_table`.

    Examples
    --------
    >>> raw = RawTable(pd.DataFrame({"unique_key": ["1", "2"], "created_date": ["2024-04-01",
    ...                 "2024-04-02"], "closed_date": ["2024-04-03", ""], "agency": ["DOT", "HPD"],
    ...                 "status": ["Closed", "Open"]}), np.array([2, 3]), "csv")
    >>> ev, cols = ck.io.cases_to_events(raw)
    >>> ev.data[["case_id", "activity", "agency"]].values.tolist()
    [['1', 'register', 'DOT'], ['1', 'assign_with_report', 'DOT'], ['1', 'close', 'DOT'], ['2', 'register', 'HPD'], ['2', 'assign_with_report', 'HPD']]
    >>> ev.source_rows.tolist()
    [2, 2, 2, 3, 3]
    """
    df = raw.data
    case_cols, core_given, mapping = _case_table_columns(df, columns, source)
    n = len(df)

    def text(col: str | None) -> np.ndarray:
        if col is None:
            return np.full(n, "", dtype=object)
        s = df[col]
        vals = s.astype("str").to_numpy(dtype=object, na_value="")
        return np.where(pd.isna(vals), "", vals).astype(object)

    opened = text(case_cols["opened_at"])
    closed = text(case_cols.get("closed_at"))
    has_close = np.array([bool(str(v).strip()) for v in closed], dtype=bool)
    status_col = case_cols.get("status")
    exits_found = _case_exits(raw, case_cols, has_close,
                              None if status_col is None else text(status_col))
    exit_act, keep, bad_rows = exits_found.activity, exits_found.keep, exits_found.bad_rows
    row_of, kind = _case_event_rows(keep, exit_act)
    consumed = set(case_cols.values()) | {mapping["case_id"]}
    agency_col = mapping.get("agency")
    if agency_col is not None:
        consumed.add(agency_col)
    handling = text(agency_col)
    intake_col = case_cols.get("intake_agency")
    intake = text(intake_col) if intake_col else handling
    activity = np.where(kind == 0, "register", np.where(kind == 1, CASE_ASSIGN_ACTIVITY, None))
    activity = activity.astype(object)
    activity[kind == 2] = exit_act[row_of[kind == 2]]
    data: dict[str, Any] = {
        "case_id": df[mapping["case_id"]].take(row_of).reset_index(drop=True),
        "timestamp": pd.Series(np.where(kind == 2, closed[row_of], opened[row_of]), dtype="str"),
        "activity": pd.Series(activity, dtype="str"),
        "agency": pd.Series(np.where(kind == 0, intake[row_of], handling[row_of]), dtype="str"),
    }
    for col in df.columns:
        if str(col) not in consumed and str(col) not in data:
            data[str(col)] = df[col].take(row_of).reset_index(drop=True)
    events = pd.DataFrame(data)
    notes = _case_table_notes(raw, mapping, case_cols, exits_found, agency_col, intake_col)
    out_cols = {"case_id": "case_id", "timestamp": "timestamp", "activity": "activity",
                **({"agency": "agency"} if agency_col else {})}
    out_cols.update({k: v for k, v in core_given.items() if k not in out_cols})
    extra = {**raw.extra, "shape": "cases", "n_case_rows": n + len(raw.bad_rows),
             "case_columns": case_cols}
    return (RawTable(events, np.asarray(raw.source_rows, dtype="int64")[row_of], raw.fmt,
                     raw.encoding, notes, sorted(bad_rows, key=lambda b: b[0]), extra),
            out_cols)


def _case_table_columns(df: pd.DataFrame, columns: Mapping[str, str] | None, source: str
                        ) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Columns of a case-level table: case columns, the core columns given, the event mapping.

    A table without a case id or an opening time is unusable (one line naming the option).
    """
    names = [str(c) for c in df.columns]
    case_cols = _guess_case_columns(names, columns)
    core_given = {k: v for k, v in (columns or {}).items() if k in COLUMN_ALIASES}
    mapping, _ = guess_columns([n for n in names if n not in case_cols.values()], core_given)
    if "case_id" not in mapping:
        raise FileUnusableError(f"{source}: case-level table without a case id column; "
                                f"expected the case id ({hint_option('columns', 'case_id')})")
    if "opened_at" not in case_cols:
        raise FileUnusableError(f"{source}: case-level table without an opening time column; "
                                "expected e.g. created_date / 受理时间 "
                                f"({hint_option('columns', 'opened_at')})")
    return case_cols, core_given, mapping


def _case_event_rows(keep: np.ndarray, exit_act: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Case row and kind (0 register, 1 assign, 2 exit) of each event, in case-row order."""
    rows_kept = np.flatnonzero(keep)
    exits = rows_kept[np.asarray([exit_act[r] is not None for r in rows_kept], dtype=bool)] \
        if len(rows_kept) else rows_kept
    row_of = np.concatenate([rows_kept, rows_kept, exits])
    kind = np.concatenate([np.zeros(len(rows_kept), np.int8), np.ones(len(rows_kept), np.int8),
                           np.full(len(exits), 2, np.int8)])
    order = np.lexsort((kind, row_of))
    return row_of[order], kind[order]


def _apply_shape(raw: RawTable, shape: str | None, columns: Mapping[str, str] | None,
                 timezone: str | None, dayfirst: bool | None,
                 source: str) -> tuple[RawTable, Mapping[str, str] | None]:
    """Detect or apply ``shape``; case-level tables become events."""
    if shape not in (None, "events", "cases"):
        raise CasekitError(f"shape={shape!r}: expected 'events' or 'cases'")
    if shape == "events" or (shape is None and not _looks_like_cases(raw, columns)):
        if columns:
            extra = [k for k in columns if k in CASE_COLUMN_ALIASES]
            if extra:
                raise CasekitError(f"columns: {extra[0]!r} only applies to case-level tables; "
                                   f"expected {hint_option('shape')}")
        return raw, columns
    return cases_to_events(raw, columns, source)


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def read_table(
    path: str | os.PathLike[str],
    *,
    sheet: str | int | None = None,
    encoding: str | None = None,
    progress: bool | None = None,
    max_unpacked: int | None = None,
) -> RawTable:
    r"""Read a file's columns as they are (no mapping, no validation).

    Parameters
    ----------
    path : str or path-like
        A ``.csv``/``.tsv``/``.txt`` (optionally ``.gz``), ``.xlsx``, ``.parquet`` or
        ``.xes``/``.xes.gz``/``.xes.zip`` file.
    sheet : str or int, optional
        Excel sheet name or 0-based number (default the active sheet, or the first visible
        one when the active sheet is hidden; which sheet was read is noted).
    encoding : str, optional
        CSV encoding; detected when omitted (UTF-8, BOMs, GB18030).
    progress : bool, optional
        Show a tqdm progress bar (default: for large files when stderr is a terminal).
    max_unpacked : int, optional
        Bytes an archive (gzip, zip, xlsx) may unpack to (see :class:`UnpackLimits`).

    Returns
    -------
    RawTable
        ``.data`` (DataFrame), ``.source_rows``, ``.fmt``, ``.encoding``, ``.notes``,
        ``.bad_rows`` (rows that could not be split into the header's columns).

    Raises
    ------
    FileUnusableError
        The file is missing, empty, unreadable or not the format its name says.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = p.write_bytes("信访件编号,办理时间\nA1,2023/4/25 9:32\n".encode("gb18030"))
    >>> raw = ck.io.read_table(p)
    >>> raw.encoding, list(raw.data.columns), raw.source_rows.tolist()
    ('gb18030', ['信访件编号', '办理时间'], [2])
    """
    return _read_any(Path(path), sheet, encoding, progress, max_unpacked, categories=False)


def _read_any(path: Path, sheet: str | int | None, encoding: str | None, progress: bool | None,
              max_unpacked: int | None, *, categories: bool) -> RawTable:
    """:func:`read_table`; ``categories``: Parquet text with few distinct values stays
    ``category`` (what validation wants; ``read_table`` gives text as the file holds it)."""
    fmt = _detect_format(path)
    check_input_path(path)
    limits = UnpackLimits.resolve(max_unpacked)
    if fmt == "zip":
        fmt = _zip_kind(path)
    try:
        if fmt == "csv":
            return _read_csv(path, encoding, progress, limits, categories=categories)
        if fmt == "excel":
            return _read_excel(path, sheet, limits)
        if fmt == "parquet":
            return _read_parquet(path, categories=categories)
        if fmt == "xes":
            return _read_xes(path, progress, limits)
        if _is_encrypted_office(path):
            raise _password_error(path.name)
    except PermissionError:
        raise FileUnusableError(f"{path.name}: permission denied; expected a readable file")\
            from None
    raise FileUnusableError(f"{path.name}: old binary Excel .xls files are not supported; "
                            "expected .xlsx (save the sheet as .xlsx or .csv)")


def read_events_report(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    observation_end: Any = None,
    timezone: str | None = AUTO_TIMEZONE,
    label_map: Any = None,
    key: str | bytes | None = None,
    progress: bool | None = None,
    drop_duplicates: bool = True,
    shape: str | None = None,
    dayfirst: bool | None = None,
    plausible_from: Any = "1990-01-01",
    plausible_days_after: float | None = 365.0,
    max_unpacked: int | None = None,
) -> ReadResult:
    r"""Read and validate an event log; return events, quarantine, metadata and problems.

    Same parameters as :func:`read_events`. This is what ``casekit validate`` uses.

    Returns
    -------
    casekit.validate.ReadResult
        ``.events`` (canonical events), ``.quarantine`` (``source_row, column, value, reason``;
        values PII-masked), ``.metadata`` (dict), ``.problems`` (list of
        :class:`casekit.validate.Problem`), ``.exit_code`` (0 all rows valid, 1 some
        quarantined).

    Raises
    ------
    FileUnusableError
        The file is unusable (unreadable, empty, wrong format, a required column missing).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = p.write_text("case_id,timestamp,activity,agency\n"
    ...                  "A,2023-04-25 09:00,登记,区信访局\n,2023-04-26,办结,区信访局\n",
    ...                  encoding="utf-8")
    >>> res = ck.io.read_events_report(p)
    >>> res.n_read, res.n_accepted, res.n_quarantined, res.exit_code
    (2, 1, 1, 1)
    >>> res.quarantine[["source_row", "column", "reason"]].to_dict("records")
    [{'source_row': 3, 'column': 'case_id', 'reason': 'empty case id'}]
    """
    from casekit.validate import release_arrow_memory, validate_table

    path = Path(path)
    raw = _read_any(path, sheet, encoding, progress, max_unpacked, categories=True)
    release_arrow_memory()  # the decoding's temporaries
    held = list(_apply_shape(raw, shape, columns, timezone, dayfirst, path.name))
    del raw
    columns = held.pop()
    result = validate_table(
        held.pop(),  # handed over: validation frees the columns as read once it is done with them
        source=path.name,
        columns=columns,
        observation_end=observation_end,
        timezone=timezone,
        label_map=label_map,
        key=key,
        path=str(path),
        drop_duplicates=drop_duplicates,
        dayfirst=dayfirst,
        plausible_from=plausible_from,
        plausible_days_after=plausible_days_after,
    )
    release_arrow_memory()  # what the read and validation freed, back to the system
    return result


def read_events(
    path: str | os.PathLike[str],
    *,
    columns: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    observation_end: Any = None,
    timezone: str | None = AUTO_TIMEZONE,
    label_map: Any = None,
    key: str | bytes | None = None,
    progress: bool | None = None,
    drop_duplicates: bool = True,
    shape: str | None = None,
    dayfirst: bool | None = None,
    plausible_from: Any = "1990-01-01",
    plausible_days_after: float | None = 365.0,
    max_unpacked: int | None = None,
) -> pd.DataFrame:
    r"""Read an event log (CSV, Excel, Parquet, XES) into the canonical events table.

    Columns are mapped to the canonical names (explicitly with ``columns=`` or by recognising
    canonical, common English and Chinese headers and XES keys), timestamps parsed to naive local
    time, Chinese activity and agency-type labels mapped to identifiers, petitioner name / ID
    number / phone replaced by a keyed-hash ``petitioner_id``, and bad rows quarantined (see
    :func:`read_events_report` for the quarantine itself). Events come back sorted by
    ``(case_id, timestamp)``, ties in source order.

    Parameters
    ----------
    path : str or path-like
        The file; its format follows the extension (``.csv``, ``.tsv``, ``.xlsx``,
        ``.parquet``, ``.xes``, ``.xes.gz``, ``.xes.zip``).
    columns : mapping, optional
        ``{canonical: file column}``, e.g. ``{"case_id": "信访件编号", "timestamp": "办理时间"}``.
    sheet : str or int, optional
        Excel sheet (default the first).
    encoding : str, optional
        CSV encoding (default: detected).
    observation_end : datetime-like, optional
        End of the observation window; events after it are quarantined. Default: the last
        accepted timestamp (recorded in the metadata).
    timezone : str or None
        Zone that timestamps with a UTC offset are converted to, e.g. ``"Asia/Shanghai"``.
        Default ``"auto"``: the zone comes from the data (each value keeps the wall clock of its
        own offset, and the offsets seen are reported); without offsets in the data no zone is
        assumed (reported as such). ``None`` keeps each value's wall clock, offsets dropped.
    label_map : mapping or path, optional
        Extra label mappings ``{column: {label: identifier}}``, or a CSV (columns ``column,label,
        identifier``) or JSON file of the same; applied before the built-in vocabularies.
    key : str or bytes, optional
        Pseudonymisation key for ``petitioner_id`` (see :func:`casekit.privacy.pseudonymise`).
    progress : bool, optional
        tqdm progress bar; default on for large files when stderr is a terminal.
    drop_duplicates : bool
        Quarantine exact duplicate events (every column equal; default). ``False`` keeps them,
        as event-counting tools such as PM4Py do: ``casekit network`` uses that so its counts
        are those of the events as recorded.
    shape : {None, "events", "cases"}
        ``"events"``: one row per event. ``"cases"``: one row per case with an opening and a
        closing time, a handling agency and a status (hotline and ledger exports), turned into
        canonical events (see :func:`cases_to_events`). Default: detected (a table without an
        activity column but with opening and closing times is read as cases).
    dayfirst : bool, optional
        Order of dates such as ``05/03/2023`` (``True`` day first); required when a column's
        values do not decide it.
    plausible_from : date-like or None
        Events before it are quarantined as implausible (default 1990-01-01).
    plausible_days_after : float or None
        Events more than this many days after the log's last plausible date are quarantined
        (default 365); they never become the observation end.
    max_unpacked : int, optional
        Bytes an archive may unpack to (default ``CASEKIT_MAX_UNPACKED`` or 8 GiB).

    Returns
    -------
    pandas.DataFrame
        Canonical events: ``activity``, ``agency``, ``agency_type``, ``channel``, ``category``,
        ``outcome``, ``level``, ``handling_mode`` and ``street`` as ``category`` (sorted text
        categories), ids and other text as ``str``, ``timestamp`` as ``datetime64[ns]``
        (data/README.md, "Validated events"). ``df.attrs["casekit"]`` holds the metadata:
        ``source``, ``format``,
        ``encoding``, ``observation_end``, ``timezone``, ``n_read``, ``n_accepted``,
        ``n_quarantined``, ``n_duplicates``, ``unknown_labels``, ``column_mapping``, ``notes``.

    Raises
    ------
    FileUnusableError
        If the file cannot be used (message names the file and what was expected).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "台账.csv"
    >>> text = ("信访件编号,办理时间,办理环节,办理单位,单位类型\n"
    ...         "X1,2023/4/25 9:32,登记,区信访局,信访局\n"
    ...         "X1,2023年5月6日,办结,东湖街道办事处,街道办事处\n")
    >>> _ = p.write_bytes(text.encode("gb18030"))
    >>> ev = ck.read_events(p)
    >>> ev[["case_id", "activity", "agency_type"]].to_dict("list")
    {'case_id': ['X1', 'X1'], 'activity': ['register', 'close'], 'agency_type': ['petition_bureau', 'street_office']}
    >>> meta = ev.attrs["casekit"]
    >>> meta["n_read"], meta["n_accepted"], meta["encoding"]
    (2, 2, 'gb18030')
    """
    result = read_events_report(
        path,
        columns=columns,
        sheet=sheet,
        encoding=encoding,
        observation_end=observation_end,
        timezone=timezone,
        label_map=label_map,
        key=key,
        progress=progress,
        drop_duplicates=drop_duplicates,
        shape=shape,
        dayfirst=dayfirst,
        plausible_from=plausible_from,
        plausible_days_after=plausible_days_after,
        max_unpacked=max_unpacked,
    )
    if result.n_accepted == 0:
        first = next((p.line() for p in result.problems if p.level == "row"), "")
        raise FileUnusableError(
            f"{Path(path).name}: no usable rows (all {result.n_read} quarantined; first: "
            f"{first}); expected at least one valid event"
        )
    return result.events


def write_events(events: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write events to ``.csv`` (UTF-8 with BOM, so Excel shows Chinese), ``.xlsx`` or ``.parquet``.

    CSV and Excel cells starting with ``=``, ``+``, ``-`` or ``@`` are neutralised
    (:func:`casekit.privacy.spreadsheet_safe`) so a spreadsheet never runs them as formulas.

    Parameters
    ----------
    events : pandas.DataFrame
    path : str or path-like

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> ev = pd.DataFrame({"case_id": ["A"], "timestamp": pd.to_datetime(["2023-04-25"]),
    ...                    "activity": ["register"], "agency": ["=HYPERLINK()"],
    ...                    "agency_type": ["unknown"]})
    >>> p = ck.io.write_events(ev, pathlib.Path(tempfile.mkdtemp()) / "ev.parquet")
    >>> ck.read_events(p)["agency"].tolist()
    ['=HYPERLINK()']
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        from casekit.validate import _category_text, _is_text

        cats = [c for c in events.columns if isinstance(events[c].dtype, pd.CategoricalDtype)
                and _is_text(events[c])]
        if cats:  # category columns written as the text they hold (the file as before)
            events = events.assign(**{c: _category_text(events[c]) for c in cats})
        events.to_parquet(path, index=False)
        return path
    from casekit.privacy import spreadsheet_safe

    safe = spreadsheet_safe(events)
    if name.endswith((".csv", ".txt")):
        safe.to_csv(path, index=False, encoding="utf-8-sig")
    elif name.endswith(".tsv"):
        safe.to_csv(path, index=False, sep="\t", encoding="utf-8-sig")
    elif name.endswith(".xlsx"):
        safe.to_excel(path, index=False)
    else:
        raise CasekitError(f"{path.name}: cannot write this file type; expected .csv, .tsv, "
                           ".xlsx or .parquet")
    return path
