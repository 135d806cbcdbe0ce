"""Every file of the hostile corpus through ``casekit validate``, in process.

The corpus is made by ``tests/data/make_bad_corpus.py`` (committed output in ``tests/data/bad``);
the 10 MB cell file is generated here in ``tmp_path``. For each file: the exit code, a message
fragment, no traceback, one line per problem, and ``read = accepted + quarantined``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from casekit.cli import main

BAD = Path(__file__).parent / "data" / "bad"

# file, exit code, fragment expected in the output, (read, accepted, quarantined) or None
CASES: list[tuple[str, int, str, tuple[int, int, int] | None]] = [
    # encodings and separators
    ("gb18030_chinese.csv", 0, "read 6 rows", (6, 6, 0)),
    ("gbk_chinese.csv", 0, "read 6 rows", (6, 6, 0)),
    ("utf8_bom.csv", 0, "read 6 rows", (6, 6, 0)),
    ("utf16_bom.csv", 0, "read 6 rows", (6, 6, 0)),
    ("semicolon_separated.csv", 0, "read 6 rows", (6, 6, 0)),
    ("tab_separated.tsv", 0, "read 6 rows", (6, 6, 0)),
    ("crlf_line_endings.csv", 0, "read 6 rows", (6, 6, 0)),
    ("undecodable_bytes.csv", 1, "neither UTF-8 nor GB18030", (6, 5, 1)),  # quarantined, not U+FFFD
    ("nul_bytes.csv", 0, "NUL byte", (6, 6, 0)),
    # file-level problems
    ("empty.csv", 2, "empty", None),
    ("whitespace_only.csv", 2, "empty", None),
    ("header_only.csv", 2, "no data rows", None),
    ("header_only_bom_crlf.csv", 2, "no data rows", None),
    ("missing_time_column.csv", 2, "required column 'timestamp'", None),
    ("missing_case_column.csv", 2, "required column 'case_id'", None),
    ("xlsx_named_csv.csv", 2, "not a CSV", None),
    ("unknown_extension.dat", 2, "unknown file type", None),
    ("old_excel.xls", 2, ".xls", None),
    ("binary_garbage.csv", 2, "binary", None),
    # row-level problems
    ("unparseable_date.csv", 1, "unparseable timestamp", (6, 5, 1)),
    ("empty_case_id.csv", 1, "empty case id", (6, 5, 1)),
    ("bad_date_and_empty_id.csv", 1, "row 5, column '信访件编号'", (6, 4, 2)),
    ("all_case_ids_empty.csv", 2, "no usable rows", (6, 0, 6)),
    ("all_timestamps_bad.csv", 2, "no usable rows", (6, 0, 6)),
    ("missing_timestamp.csv", 1, "missing timestamp", (6, 5, 1)),
    ("duplicate_events.csv", 1, "exact duplicate of row 2", (8, 6, 2)),
    ("ragged_rows.csv", 1, "has 7 fields; expected 9", (6, 4, 2)),
    ("pii_in_bad_rows.csv", 1, "unparseable timestamp", (6, 4, 2)),
    ("formula_injection.csv", 1, "unparseable timestamp", (6, 5, 1)),
    # tricky but valid
    ("duplicated_column_names.csv", 0, "duplicated column name", (6, 6, 0)),
    ("mixed_date_formats.csv", 0, "read 6 rows", (6, 6, 0)),
    ("close_before_register.csv", 0, "flagged case", (6, 6, 0)),
    ("quoted_newlines.csv", 0, "read 6 rows", (6, 6, 0)),
    ("blank_lines.csv", 0, "read 6 rows", (6, 6, 0)),
    ("canonical_english.csv", 0, "read 2 rows", (2, 2, 0)),
    ("no_trailing_newline.csv", 0, "read 6 rows", (6, 6, 0)),
    ("title_line_above_header.csv", 0, "header found on line 2", (6, 6, 0)),
    ("impossible_date.csv", 1, "row 5, column '登记时间': unparseable timestamp", (6, 5, 1)),
    ("unknown_labels.csv", 0, "茶话会", (6, 6, 0)),
    # Excel
    ("chinese.xlsx", 0, "read 6 rows", (6, 6, 0)),
    ("merged_title.xlsx", 0, "header found on row 2", (6, 6, 0)),
    ("merged_header.xlsx", 2, "merged header cells", None),
    ("empty_sheet.xlsx", 2, "is empty", None),
    ("header_only.xlsx", 2, "no data rows", None),
    ("not_excel.xlsx", 2, "not a zip archive", None),
    ("typed_cells.xlsx", 0, "read 3 rows", (3, 3, 0)),
    ("instructions_first_sheet.xlsx", 2, "required column 'case_id'", None),
    ("formula_cells.xlsx", 0, "without an agency", (1, 1, 0)),
    # Parquet
    ("canonical.parquet", 0, "read 3 rows", (3, 3, 0)),
    ("tz_aware.parquet", 0, "read 3 rows", (3, 3, 0)),
    ("truncated.parquet", 2, "Parquet", None),
    ("csv_named_parquet.parquet", 2, "not Parquet", None),
    ("parquet_no_time.parquet", 2, "required column 'timestamp'", None),
    # XES
    ("minimal.xes", 0, "read 4 rows", (4, 4, 0)),
    ("namespaced.xes", 0, "read 4 rows", (4, 4, 0)),
    ("minimal.xes.gz", 0, "read 4 rows", (4, 4, 0)),
    ("minimal.xes.zip", 0, "read 4 rows", (4, 4, 0)),
    ("truncated.xes", 2, "malformed XML", None),
    ("malformed.xes", 2, "mismatched tag", None),
    ("no_timestamps.xes", 2, "required column 'timestamp'", None),
    ("some_missing_timestamps.xes", 1, "missing timestamp", (4, 3, 1)),
    ("not_xml.xes", 2, "malformed XML", None),
    ("no_log_element.xes", 2, "no <log> element", None),
    ("empty_log.xes", 2, "no events", None),
    ("trace_without_case_id.xes", 1, "empty case id", (2, 1, 1)),
    ("plain_text_named.xes.gz", 2, "not a gzip file", None),
    ("zip_without_xes.xes.zip", 2, "no .xes file", None),
]

_COUNTS = re.compile(r"read (\d+) rows, accepted (\d+), quarantined (\d+)")


@pytest.fixture(autouse=True)
def _stable_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEKIT_PSEUDONYM_KEY", "test-corpus-key")


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["validate", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_corpus_has_at_least_40_files_and_all_are_in_the_table() -> None:
    files = sorted(p.name for p in BAD.iterdir())
    assert len(files) >= 40
    assert sorted(c[0] for c in CASES) == files


@pytest.mark.parametrize(("name", "code", "fragment", "counts"), CASES, ids=[c[0] for c in CASES])
def test_validate_on_hostile_file(
    name: str,
    code: int,
    fragment: str,
    counts: tuple[int, int, int] | None,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    qfile = tmp_path / "q.csv"
    exit_code, out, err = _run(capsys, str(BAD / name), "--quarantine", str(qfile))
    text = out + err
    assert exit_code == code, text
    assert "Traceback" not in text
    assert fragment in text
    for line in err.splitlines():  # one problem per line, each naming the file
        assert line.startswith((name, f"casekit validate: error: {name}")), line
    if counts is None:
        return
    m = _COUNTS.search(out)
    assert m is not None, out
    read, accepted, quarantined = map(int, m.groups())
    assert (read, accepted, quarantined) == counts
    assert read == accepted + quarantined
    q = pd.read_csv(qfile, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(q) == quarantined
    shown = qfile.read_text(encoding="utf-8-sig") + text  # never a raw ID number or mobile
    assert not re.search(r"\d{17}[\dXx]", shown)
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", shown)
    assert list(q.columns) == ["source_row", "column", "value", "reason"]
    row_lines = [ln for ln in err.splitlines() if re.match(rf"{re.escape(name)}: row \d+", ln)]
    assert len({ln.split(":")[1] for ln in row_lines}) == quarantined


def test_quarantine_holds_no_id_number_or_mobile(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    qfile = tmp_path / "q.csv"
    code, out, err = _run(capsys, str(BAD / "pii_in_bad_rows.csv"), "--quarantine", str(qfile))
    assert code == 1
    text = qfile.read_text(encoding="utf-8-sig") + out + err
    assert not re.search(r"\d{17}[\dXx]", text)
    assert not re.search(r"1[3-9]\d{9}", text)
    assert "[身份证号]" in qfile.read_text(encoding="utf-8-sig")


def test_quarantine_file_neutralises_formulas(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    qfile = tmp_path / "q.csv"
    assert _run(capsys, str(BAD / "formula_injection.csv"), "--quarantine", str(qfile))[0] == 1
    q = pd.read_csv(qfile, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert q["value"].tolist() == ["'=cmd|' /C calc'!A0"]
    assert q["source_row"].tolist() == ["3"]


@pytest.mark.slow  # masking 10 MB of free text takes a few seconds
def test_ten_megabyte_cell_is_read_without_crash(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    path = tmp_path / "huge_cell.csv"
    big = "长" * (10 * 1024 * 1024 // 3 + 1)  # 10 MB of UTF-8
    path.write_text("case_id,timestamp,activity,note\nA,2023-01-01,登记,short\n"
                    f'B,2023-01-02,登记,"{big}"\n', encoding="utf-8")
    assert path.stat().st_size > 10 * 1024 * 1024
    code, out, err = _run(capsys, str(path))
    assert code == 0, err
    assert "read 2 rows, accepted 2, quarantined 0" in out
    assert len(out + err) < 10_000  # the cell is never echoed


def test_ten_megabyte_cell_in_a_bad_row_is_not_echoed(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    path = tmp_path / "huge_bad_cell.csv"
    big = "9" * (10 * 1024 * 1024 + 5)
    path.write_text(f"case_id,timestamp,activity\nA,2023-01-01,登记\nB,{big},登记\n",
                    encoding="utf-8")
    qfile = tmp_path / "q.csv"
    code, _out, err = _run(capsys, str(path), "--quarantine", str(qfile))
    assert code == 1
    assert "unparseable timestamp" in err
    assert len(err) < 20_000
