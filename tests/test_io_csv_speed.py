"""The fast CSV read (issue 15): Arrow streams a plain UTF-8 file itself and dictionary-encodes
the columns whose values repeat; every file must read exactly as the bytes path reads it.

The bytes path is the reference: the whole file decoded (:func:`casekit.io._decode`), then
Arrow's parse or the exact reader. Each test reads the same file both ways (the streamed path
switched off by monkeypatching) and compares everything a caller sees.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pandas as pd
import pytest

import casekit.io as cio

sys.path.insert(0, str(Path(__file__).parent))
import hardened_corpus

HEADER = "case_id,timestamp,activity,agency,agency_type,address\n"


def _events(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    acts = ["登记", "受理", "办结"]
    agencies = ["金平区信访局", "东湖街道办事处", "区住建局"]
    lines = []
    for i in range(n):
        case = f"XF{i // 3:05d}"
        phone = f"，电话1380013{rng.randrange(10000):04d}" if rng.random() < 0.1 else ""
        lines.append(f"{case},2023-03-{1 + i % 27:02d} 09:{i % 60:02d}:00,{acts[i % 3]},"
                     f"{rng.choice(agencies)},信访局,南乡村{i // 3}号{phone}\n")
    return HEADER + "".join(lines)


def _bytes_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cio, "_read_csv_streamed", lambda path, src: None)


def _both(path: Path, monkeypatch: pytest.MonkeyPatch, fn):
    fast = fn(path)
    with monkeypatch.context() as m:
        _bytes_path(m)
        slow = fn(path)
    return fast, slow


def _report(path: Path):
    return cio.read_events_report(path, key="test-key")


def _read(path: Path) -> object:
    """The report, or the refusal's message."""
    try:
        return _report(path)
    except cio.FileUnusableError as exc:
        return str(exc)


def _same_report(a, b) -> None:
    if isinstance(a, str) or isinstance(b, str):
        assert a == b
        return
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.quarantine, b.quarantine)
    assert a.metadata == b.metadata
    assert [p.line() for p in a.problems] == [p.line() for p in b.problems]
    assert (a.n_read, a.n_accepted, a.n_quarantined) == (b.n_read, b.n_accepted,
                                                         b.n_quarantined)


def _same_table(a, b) -> None:
    pd.testing.assert_frame_equal(a.data, b.data)
    assert a.source_rows.tolist() == b.source_rows.tolist()
    assert (a.encoding, a.notes, a.bad_rows, a.extra) == (b.encoding, b.notes, b.bad_rows,
                                                          b.extra)


def test_plain_file_is_streamed_with_dictionaries(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    p.write_text(_events(300), encoding="utf-8")
    raw = cio._read_csv_streamed(p, cio._CsvSource(p.name, None, True))
    assert raw is not None
    # labels repeat: parsed dictionary-encoded, handed to validation, kept as category
    assert {"activity", "agency", "agency_type"} <= set(raw.dictionaries)
    assert isinstance(raw.data["activity"].dtype, pd.CategoricalDtype)
    # ids and times are (nearly) unique: plain text
    assert raw.data["timestamp"].dtype == "str"
    assert "timestamp" not in raw.dictionaries
    for name, enc in raw.dictionaries.items():
        assert enc.to_pylist() == raw.data[name].astype(object).tolist()
    # read_table gives the file's text as text
    assert all(dt == "str" for dt in cio.read_table(p).data.dtypes)


@pytest.mark.parametrize("block", [256, 1 << 20])
@pytest.mark.parametrize("variant", ["plain", "bom", "crlf", "title", "tsv", "no-final-newline"])
def test_streamed_equals_bytes_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                    variant: str, block: int) -> None:
    """Many small blocks (one dictionary per chunk, unified) and one block read the same."""
    monkeypatch.setattr(cio, "_CSV_BLOCK", block)
    text = _events(200, seed=3)
    name = "log.csv"
    if variant == "crlf":
        text = text.replace("\n", "\r\n")
    elif variant == "title":
        text = "金平区信访件台账（2023年）\n" + text
    elif variant == "tsv":
        text, name = text.replace(",", "\t"), "log.tsv"
    elif variant == "no-final-newline":
        text = text.rstrip("\n")
    data = text.encode("utf-8")
    if variant == "bom":
        data = b"\xef\xbb\xbf" + data
    p = tmp_path / name
    p.write_bytes(data)
    assert cio._read_csv_streamed(p, cio._CsvSource(p.name, None, True)) is not None
    _same_report(*_both(p, monkeypatch, _report))
    _same_table(*_both(p, monkeypatch, cio.read_table))


@pytest.mark.parametrize("change", [
    ("row 5 quoted", lambda t: t.replace("\nXF00001,", '\n"XF00001",', 1)),
    ("quote inside a cell", lambda t: t.replace("南乡村7号", '南乡村"7号', 1)),
    ("multi-line cell", lambda t: t.replace("南乡村7号", '"南乡村\n7号"', 1)),
    ("NUL inside a row", lambda t: t.replace("南乡村7号", "南乡村\x007号", 1)),
    ("NUL line", lambda t: t.replace("\nXF00003,", "\n\x00\x00\x00\nXF00003,", 1)),
    ("blank line", lambda t: t.replace("\nXF00003,", "\n\nXF00003,", 1)),
    ("row of empty cells", lambda t: t.replace("\nXF00003,", "\n,,,,,\nXF00003,", 1)),
    ("ragged row", lambda t: t.replace("\nXF00003,", "\nXF00003,x\nXF00003,", 1)),
    ("empty case id", lambda t: t.replace("\nXF00003,", "\n,", 1)),
])
@pytest.mark.parametrize("head", [300, 1 << 20])
def test_what_the_stream_cannot_settle_reads_as_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change, head: int) -> None:
    """Also with the change past the head read first (only the parse can see it there)."""
    monkeypatch.setattr(cio, "_CSV_HEAD", head)
    _label, fn = change
    p = tmp_path / "log.csv"
    p.write_text(fn(_events(60)), encoding="utf-8")
    _same_report(*_both(p, monkeypatch, _read))
    _same_table(*_both(p, monkeypatch, cio.read_table))


@pytest.mark.parametrize("where", ["cell", "header", "last line"])
def test_bytes_that_are_not_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 where: str) -> None:
    """GB18030 lines (or bytes of neither encoding) anywhere: Arrow's UTF-8 check or the header
    check sends the file to the line-by-line decoding, which reports them by line."""
    text = _events(60)
    lines = [ln.encode("utf-8") for ln in text.splitlines(keepends=True)]
    k = {"cell": 5, "header": 0, "last line": len(lines) - 1}[where]
    if where == "header":
        lines[0] = "信访件编号,办理时间,办理环节,办理单位,单位类型,地址\n".encode()
    lines[k] = lines[k].decode("utf-8").encode("gb18030")
    p = tmp_path / "log.csv"
    p.write_bytes(b"".join(lines))
    assert cio._read_csv_streamed(p, cio._CsvSource(p.name, None, True)) is None
    _same_report(*_both(p, monkeypatch, _read))
    p.write_bytes(b"".join(lines[:3]) + b"\xff\xfe\xfa,x\n" + b"".join(lines[3:]))
    _same_report(*_both(p, monkeypatch, _read))


def test_a_row_longer_than_a_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cio, "_CSV_BLOCK", 256)
    text = _events(40).replace("南乡村5号", "南乡村5号" + "很长的地址" * 100, 1)
    p = tmp_path / "log.csv"
    p.write_text(text, encoding="utf-8")
    fast, slow = _both(p, monkeypatch, _report)
    _same_report(fast, slow)
    assert fast.n_read == 40


def test_hardened_corpus_reads_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every hostile CSV of the hardening corpus: same events, quarantine and problems, or the
    same refusal."""
    files = hardened_corpus.build(tmp_path)
    seen = 0
    for name in files:
        p = tmp_path / name
        if not name.lower().endswith((".csv", ".tsv", ".txt")):
            continue
        seen += 1
        _same_report(*_both(p, monkeypatch, _read))
    assert seen >= 10


def test_random_hostile_files_conserve_rows(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Random files with quotes, NULs, separators, blank lines, bad bytes and long cells:
    streamed or not, the same result, and read = accepted + quarantined."""
    rng = random.Random(15)
    pieces = ["XF1", "XF2", "2023-03-01 09:00:00", "登记", "办结", "区信访局", "", '"', '""',
              "\x00", ",", "\t", "南乡村1号", "电话13800138000", "\u200b"]
    monkeypatch.setattr(cio, "_CSV_BLOCK", 128)
    for k in range(40):
        lines = [HEADER.encode()]
        for _ in range(rng.randrange(1, 30)):
            cells = ["".join(rng.choice(pieces) for _ in range(rng.randrange(1, 3)))
                     for _ in range(rng.choice([6, 6, 6, 5, 7]))]
            line = ",".join(cells).encode("utf-8")
            if rng.random() < 0.05:
                line += b"\xff"
            lines.append(line + rng.choice([b"\n", b"\r\n", b"\n\n"]))
        p = tmp_path / f"r{k}.csv"
        p.write_bytes(b"".join(lines))
        fast, slow = _both(p, monkeypatch, _read)
        _same_report(fast, slow)
        if not isinstance(fast, str):
            assert fast.n_read == fast.n_accepted + fast.n_quarantined


def test_address_masking_through_the_parsers_dictionary(tmp_path: Path) -> None:
    """Phone numbers in a free-text column are masked whether the column arrives as text or
    dictionary-encoded; addresses without any PII stay as they are."""
    p = tmp_path / "log.csv"
    p.write_text(_events(300, seed=1), encoding="utf-8")
    ev = cio.read_events(p, key="test-key")
    text = ev["address"].astype(str)
    assert not text.str.contains(r"1380013\d{4}").any()
    assert text.str.contains("[手机号]", regex=False).any()
    raw = pd.read_csv(p, dtype=str, keep_default_na=False)
    plain = ~raw["address"].str.contains("电话")
    assert set(raw.loc[plain, "address"]) <= set(text)


def test_cells_hold_and_empty_rows_on_chunked_tables() -> None:
    import pyarrow as pa

    t = pa.table({"a": pa.chunked_array([["x", ""], ["", "y"]]),
                  "b": pa.chunked_array([pa.array(["", ""]).dictionary_encode(),
                                         pa.array(["z", "\x00"]).dictionary_encode()])})
    assert cio._has_empty_row(t)  # row 1
    assert not cio._has_empty_row(t.slice(2))
    assert cio._cells_hold(t, b"\x00")
    assert not cio._cells_hold(t, b'"')


@pytest.mark.parametrize("data", [
    b"PK\x03\x04" + b"x" * 100,                                   # a zip named .csv
    bytes(range(1, 32)) * 40 + b"\nA,B\n",                        # control bytes: binary
    b" \n" * 10 + b"case_id,activity\nA1,x\n",                    # blank lines first
])
def test_refusals_and_odd_heads_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          data: bytes) -> None:
    p = tmp_path / "log.csv"
    p.write_bytes(data)
    _same_report(*_both(p, monkeypatch, _read))
