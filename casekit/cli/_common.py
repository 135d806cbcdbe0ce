"""Helpers shared by the ``casekit`` sub-commands (private).

One home for what every command does the same way: the reading options (``--columns``,
``--sheet``, ``--labels``, ``--shape``, ``--observation-end``, ``--timezone``, ``--dayfirst`` /
``--monthfirst``, ``--max-unpacked``), their validation (one line naming the option and the
expected form), the output checks (folder exists, never over an input) and atomic writes (a
temporary file in the same folder, renamed when complete).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casekit._utils import CasekitError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "add_columns_option",
    "add_read_options",
    "add_scope_options",
    "atomic_write",
    "check_memory",
    "check_options",
    "check_outputs",
    "parse_columns",
    "parse_observation_end",
    "parse_timezone",
    "read_kwargs",
    "read_log",
    "safe_table",
    "write_csv",
]


def parse_columns(text: str | None) -> dict[str, str] | None:
    """Parse ``case_id=信访件编号,timestamp=登记时间`` into ``{canonical: file column}``.

    Unknown canonical names and a file column mapped twice are errors.

    Examples
    --------
    >>> parse_columns("case_id=信访件编号, timestamp=登记时间")
    {'case_id': '信访件编号', 'timestamp': '登记时间'}
    >>> parse_columns(None) is None
    True
    >>> parse_columns("caseid=A")
    Traceback (most recent call last):
    ...
    casekit._utils.CasekitError: --columns: unknown canonical name 'caseid'; expected one of case_id, timestamp, activity, agency, agency_type, ...
    """
    if text is None or not text.strip():
        return None
    from casekit.io import CANONICAL_NAMES

    mapping: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise CasekitError(
                f"--columns: expected CANONICAL=FILE_COLUMN pairs separated by commas, got {part!r}"
            )
        key, value = (s.strip() for s in part.split("=", 1))
        if not key or not value:
            raise CasekitError(f"--columns: empty name in {part!r}")
        if key not in CANONICAL_NAMES:
            raise CasekitError(f"--columns: unknown canonical name {key!r}; expected one of "
                               f"{', '.join(CANONICAL_NAMES[:5])}, ...")
        if key in mapping:
            raise CasekitError(f"--columns: {key!r} is given twice; expected each canonical "
                               "name once")
        twice = next((k for k, v in mapping.items() if v == value), None)
        if twice is not None:
            raise CasekitError(f"--columns: file column {value!r} is mapped twice ({twice} and "
                               f"{key}); expected each file column once")
        mapping[key] = value
    return mapping


def add_columns_option(parser: argparse.ArgumentParser) -> None:
    """Add the shared ``--columns MAP`` option."""
    parser.add_argument(
        "--columns",
        metavar="MAP",
        help="map canonical names to the file's columns, e.g. "
        "case_id=信访件编号,timestamp=登记时间,activity=环节,agency=办理单位",
    )


def add_scope_options(parser: argparse.ArgumentParser) -> None:
    """Add what ``rank`` and ``report`` rank: ``--repeat-only/--all-filings`` and ``--outcome``.

    ``repeat_only`` stays ``None`` unless given: repeat filings when the log has them, else all
    filings with a note (the library's default).

    Examples
    --------
    >>> p = argparse.ArgumentParser()
    >>> add_scope_options(p)
    >>> vars(p.parse_args(["--all-filings", "--outcome", "settle"]))
    {'repeat_only': False, 'outcome': 'settle'}
    """
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--repeat-only", dest="repeat_only", action="store_true", default=None,
                       help="rank repeat filings only (repeat_ordinal >= 2; the default, "
                       "falling back to all filings with a note when the log has none)")
    scope.add_argument("--all-filings", dest="repeat_only", action="store_false",
                       help="rank all filings, first and repeat")
    parser.add_argument("--outcome", choices=["close", "settle", "any-exit"], default="close",
                        help="time to first close (default; other exits censored), to "
                        "settlement, or to any exit")


def add_read_options(parser: argparse.ArgumentParser, *, observation_end: bool = True) -> None:
    """Add the options of every command that reads a log (``--columns`` included)."""
    add_columns_option(parser)
    parser.add_argument("--sheet", metavar="NAME",
                        help="Excel sheet name or 0-based number (default: the active visible "
                        "sheet)")
    parser.add_argument("--labels", metavar="FILE",
                        help="extra label mappings: CSV with column,label,identifier or JSON")
    parser.add_argument("--shape", choices=["auto", "events", "cases"], default="auto",
                        help="events: one row per event; cases: one row per case with opening "
                        "and closing times (hotline / ledger exports); default: detected")
    parser.add_argument("--timezone", default="auto",
                        help="zone that timestamps with offsets are converted to (default "
                        "'auto': the zone of the data's offsets, wall clock as recorded; "
                        "'none' keeps the recorded wall clock)")
    order = parser.add_mutually_exclusive_group()
    order.add_argument("--dayfirst", action="store_true",
                       help="dates such as 05/03/2023 are day/month/year")
    order.add_argument("--monthfirst", action="store_true",
                       help="dates such as 05/03/2023 are month/day/year")
    parser.add_argument("--max-unpacked", metavar="SIZE",
                        help="refuse archives (gzip, zip, xlsx) unpacking to more than SIZE "
                        "(e.g. 4G; default CASEKIT_MAX_UNPACKED or 8G) or more than "
                        "CASEKIT_MAX_RATIO (default 200) times their packed size")
    if observation_end:
        parser.add_argument("--observation-end", metavar="DATETIME",
                            help="end of observation (censoring); default: the last plausible "
                            "timestamp of the log")


def parse_timezone(text: str | None) -> str | None:
    """Validate ``--timezone``: an IANA zone name, ``auto`` (from the data) or ``none``.

    Examples
    --------
    >>> parse_timezone("Asia/Shanghai"), parse_timezone("none")
    ('Asia/Shanghai', None)
    >>> parse_timezone("Mars/Base")
    Traceback (most recent call last):
    ...
    casekit._utils.CasekitError: --timezone: unknown time zone 'Mars/Base'; expected an IANA name such as Asia/Shanghai or UTC, 'auto' or 'none'
    """
    if text is None or str(text).strip().lower() in ("none", ""):
        return None
    if str(text).strip().lower() == "auto":
        return "auto"
    import zoneinfo

    name = str(text).strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise CasekitError(f"--timezone: unknown time zone {name!r}; expected an IANA name such "
                           "as Asia/Shanghai or UTC, 'auto' or 'none'") from None
    return name


def parse_observation_end(text: str | None, option: str = "--observation-end") -> Any:
    """Validate a date option once for every command: ``None`` or a ``pandas.Timestamp``.

    The command-line side of the one date parser, :func:`casekit.timestamps.parse_date`
    (imported here, so ``casekit --version`` does not load pandas).

    Examples
    --------
    >>> str(parse_observation_end("2023-12-31"))
    '2023-12-31 00:00:00'
    >>> parse_observation_end("31.13.2023")
    Traceback (most recent call last):
    ...
    casekit._utils.CasekitError: --observation-end: cannot read '31.13.2023'; expected a date such as 2023-12-31 or 2023-12-31 18:00
    """
    if text is None:
        return None
    from casekit.timestamps import parse_date

    return parse_date(text, option=option)


#: Numeric options checked the same way for every command that has them: argparse ``dest`` ->
#: (smallest allowed value, whether that value itself is allowed, expected form).
NUMBER_RULES: dict[str, tuple[float, bool, str]] = {
    "seed": (0, True, "a non-negative integer"),
    "cases": (1, True, "a positive integer"),
    "replications": (1, True, "a positive integer"),
    "min_cases": (1, True, "a positive integer"),
    "partitions": (1, True, "a positive integer"),
    "block_rows": (1, True, "a positive integer"),
    "jobs": (1, True, "a positive integer"),
    "max_lines": (0, True, "a non-negative integer"),
    "timeout": (0, False, "a positive number of seconds"),
    "settle_window_days": (0, False, "a positive number of days"),
}

#: Date options read by :func:`parse_observation_end` for every command that has them.
DATE_OPTIONS: tuple[str, ...] = ("observation_end", "start", "start_cut")


def check_options(args: argparse.Namespace) -> None:
    """Check the shared numeric and date options of any command before it runs (one line each).

    The rules are the same whichever command has the option (:data:`NUMBER_RULES`,
    :data:`DATE_OPTIONS`); ``args`` is not changed. Called by :func:`casekit.cli.main` after
    parsing, so a bad value fails before any file is read.

    Examples
    --------
    >>> check_options(argparse.Namespace(seed=0, timeout=30.0, observation_end="2024-01-31"))
    >>> check_options(argparse.Namespace(seed=-1))
    Traceback (most recent call last):
    ...
    casekit._utils.CasekitError: --seed: expected a non-negative integer, got -1
    >>> check_options(argparse.Namespace(start_cut="soon"))
    Traceback (most recent call last):
    ...
    casekit._utils.CasekitError: --start-cut: cannot read 'soon'; expected a date such as 2023-12-31 or 2023-12-31 18:00
    """
    given = vars(args)
    for dest, (low, inclusive, form) in NUMBER_RULES.items():
        value = given.get(dest)
        if value is None or isinstance(value, bool):
            continue
        if not (value >= low if inclusive else value > low):
            raise CasekitError(f"--{dest.replace('_', '-')}: expected {form}, got {value:g}")
    for dest in DATE_OPTIONS:
        if given.get(dest) is not None:
            parse_observation_end(given[dest], f"--{dest.replace('_', '-')}")


def _parse_size(text: str | None, option: str) -> int | None:
    """``4G``, ``500M``, ``123456`` -> bytes.

    Examples
    --------
    >>> _parse_size("4G", "--max-unpacked"), _parse_size("512k", "x"), _parse_size(None, "x")
    (4294967296, 524288, None)
    """
    if text is None:
        return None
    t = str(text).strip().upper().removesuffix("B").removesuffix("I")
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    mult = units.get(t[-1:], 1)
    num = t[:-1] if t[-1:] in units else t
    try:
        value = float(num)
    except ValueError:
        value = -1
    if value <= 0:
        raise CasekitError(f"{option}: cannot read {text!r}; expected a size such as 4G or 500M")
    return int(value * mult)


def read_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Build the keyword arguments of :func:`casekit.read_events` from the reading options.

    Every option is validated here (one line naming the option) before any file is read.
    """
    from casekit.validate import load_label_map

    sheet = getattr(args, "sheet", None)
    labels = getattr(args, "labels", None)
    if labels is not None:
        lp = Path(labels)
        if not lp.is_file():
            raise CasekitError(f"--labels {labels}: no such file; expected a CSV "
                               "(column,label,identifier) or JSON label map")
        labels = load_label_map(lp)  # undecodable or malformed -> one-line CasekitError
    dayfirst = True if getattr(args, "dayfirst", False) else (
        False if getattr(args, "monthfirst", False) else None)
    shape = getattr(args, "shape", "auto")
    out: dict[str, Any] = {
        "columns": parse_columns(getattr(args, "columns", None)),
        "sheet": int(sheet) if sheet and str(sheet).isdigit() else sheet,
        "label_map": labels,
        "timezone": parse_timezone(getattr(args, "timezone", "auto")),
        "observation_end": parse_observation_end(getattr(args, "observation_end", None)),
        "dayfirst": dayfirst,
        "shape": None if shape in (None, "auto") else shape,
        "max_unpacked": _parse_size(getattr(args, "max_unpacked", None), "--max-unpacked"),
    }
    return out


# ---------------------------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------------------------


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(outputs: Iterable[tuple[str, str | os.PathLike[str] | None]],
                  inputs: Iterable[str | os.PathLike[str] | None]) -> list[Path]:
    """Check every output before anything is read or written.

    ``outputs`` are ``(option, path)`` pairs. Refused with one line: an output that is a folder,
    an output whose folder is a file, and an output equal to (or the same file as, through a
    link) any input or any other output. Only when every check has passed are missing output
    folders created (the same for every command).

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "in.csv").write_text("x")
    >>> check_outputs([("--out", d / "edges.csv")], [d / "in.csv"])[0].name
    'edges.csv'
    >>> check_outputs([("--out", d / "in.csv")], [d / "in.csv"])
    Traceback (most recent call last):
    ...
    casekit._utils.CasekitError: --out in.csv: is one of the inputs; expected a new file name (the input is left unchanged)
    """
    ins = [Path(p) for p in inputs if p is not None]
    seen: list[tuple[str, Path]] = []
    result = []
    for option, raw in outputs:
        if raw is None:
            continue
        out = Path(raw)
        folder = out.parent if str(out.parent) else Path(".")
        blocking = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise CasekitError(f"{option} {out.name}: {str(blocking)!r} is a file, not a folder; "
                               "expected a folder for the output")
        if out.is_dir():
            raise CasekitError(f"{option} {out.name}: is a folder; expected a file name")
        for inp in ins:
            if _same_file(out, inp):
                raise CasekitError(f"{option} {out.name}: is one of the inputs; expected a new "
                                   "file name (the input is left unchanged)")
        for other_opt, other in seen:
            if _same_file(out, other):
                raise CasekitError(f"{option} {out.name}: is also the file of {other_opt}; "
                                   "expected different files")
        seen.append((option, out))
        result.append(out)
    for out in result:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CasekitError(f"{out.name}: cannot create the folder {str(out.parent)!r} "
                               f"({exc.strerror or exc})") from None
    return result


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], option: str = "--out") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` when the block succeeds.

    A failed or interrupted run leaves no torn file (the temporary file is removed); a reader
    never sees a half-written output.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_write(p) as tmp:
    ...     _ = tmp.write_text("done")
    >>> p.read_text(), sorted(x.name for x in p.parent.iterdir())
    ('done', ['out.txt'])
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    suffix = "".join(target.suffixes[-2:]) or ".tmp"
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.stem[:40]}.", suffix=suffix, dir=folder)
    except OSError as exc:
        raise CasekitError(f"{option} {target.name}: cannot write ({exc.strerror or exc})") \
            from None
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        raise CasekitError(f"{option} {target.name}: cannot write ({exc.strerror or exc})") \
            from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_csv(df: pd.DataFrame, path: str | os.PathLike[str], option: str = "--out",
              **kwargs: Any) -> Path:
    """Write a CSV atomically (``kwargs`` go to ``DataFrame.to_csv``)."""
    with atomic_write(path, option) as tmp:
        df.to_csv(tmp, index=False, **kwargs)
    return Path(path)


def check_memory(need_bytes: float, what: str) -> None:
    """Refuse a size that would not fit in the memory available now (``/proc/meminfo``).

    Examples
    --------
    >>> check_memory(1e3, "--cases 10")
    >>> try:
    ...     check_memory(1e18, "--cases 10**15")
    ... except CasekitError as exc:
    ...     print(str(exc).split(" but ")[0])
    --cases 10**15: needs about 1000000000.0 GB of memory
    """
    avail = _available_memory()
    if avail is not None and need_bytes > avail:
        raise CasekitError(f"{what}: needs about {need_bytes / 1e9:.1f} GB of memory but "
                           f"{avail / 1e9:.1f} GB are available; expected a smaller size")


def _available_memory() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def safe_table(df: pd.DataFrame, label_columns: Sequence[str]) -> pd.DataFrame:
    """Mask PII in the label columns and neutralise spreadsheet formulas, for a CSV output."""
    from casekit.privacy import mask_free_text, spreadsheet_safe

    out = df.copy()
    for col in label_columns:
        if col in out:
            out[col] = mask_free_text(out[col].astype("str"))
    return spreadsheet_safe(out)


def read_log(args: argparse.Namespace, path: str | os.PathLike[str], *, report: bool = False,
             **extra: Any) -> Any:
    """Read the log of a command with the shared options; print what was decided on stderr.

    The sheet read (and the others), the case-level mapping and the reader's quarantine count
    are printed as ``casekit CMD: note: ...`` lines. ``report=True`` returns the
    :class:`casekit.validate.ReadResult` (``casekit validate``), else the events.
    """
    import sys

    from casekit.io import read_events, read_events_report
    from casekit.validate import hint_style

    kwargs = {**read_kwargs(args), **extra}
    with hint_style("cli"):  # hints name this command's options, not Python arguments
        if report:
            return read_events_report(path, **kwargs)
        events = read_events(path, **kwargs)
    meta = events.attrs.get("casekit") or {}
    cmd = getattr(args, "command", "casekit")
    for note in meta.get("notes", []):
        if note.startswith(("read sheet", "case-level table", "read member", "read ")):
            print(f"casekit {cmd}: note: {note}", file=sys.stderr)
    return events
