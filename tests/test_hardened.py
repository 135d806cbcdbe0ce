"""Issue 11: nothing lost or merged silently, bounded inputs, refusals in one line.

The hostile files are generated deterministically by ``tests/hardened_corpus.py`` (several per
class); each goes through ``casekit validate`` and must give the expected exit code, message and
read / accepted / quarantined counts on the physical records of the file.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import casekit as ck
from casekit.cli import main

sys.path.insert(0, str(Path(__file__).parent))
from hardened_corpus import Expect, build, rows, to_csv  # noqa: E402

_COUNTS = re.compile(r"read (\d+) rows, accepted (\d+), quarantined (\d+)")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Expect]]:
    folder = tmp_path_factory.mktemp("hardened")
    return folder, build(folder)


def _names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return sorted(build(Path(d)))


@pytest.fixture(autouse=True)
def _stable_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASEKIT_PSEUDONYM_KEY", "test-corpus-key")


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    got = capsys.readouterr()
    return code, got.out, got.err


def test_corpus_is_deterministic_and_has_several_files_per_class(tmp_path: Path) -> None:
    a, b = build(tmp_path / "a"), build(tmp_path / "b")
    assert a == b
    for name in a:
        if name.endswith(".xlsx"):
            continue  # openpyxl stamps the zip members with the current time
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert len(a) >= 40


@pytest.mark.parametrize("name", _names())
def test_hostile_file(name: str, corpus: tuple[Path, dict[str, Expect]], tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    folder, expect = corpus
    e = expect[name]
    qfile = tmp_path / "q.csv"
    t0 = time.perf_counter()
    code, out, err = _cli(capsys, "validate", str(folder / name), "--quarantine", str(qfile),
                          *e.args)
    text = out + err
    assert time.perf_counter() - t0 < 30
    assert code == e.code, text
    assert e.fragment in text, text
    assert "Traceback" not in text and "\ufffd" not in text
    assert all(len(line) < 2000 for line in err.splitlines())
    if e.counts is None:
        assert not qfile.exists()
        return
    m = _COUNTS.search(out)
    assert m is not None, out
    read, accepted, quarantined = map(int, m.groups())
    assert (read, accepted, quarantined) == e.counts, text
    q = pd.read_csv(qfile, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert len(q) == quarantined
    assert q["source_row"].is_unique


def test_unclosed_quote_keeps_the_rows_after_it(corpus: tuple[Path, dict[str, Expect]]) -> None:
    folder, _ = corpus
    res = ck.io.read_events_report(folder / "unclosed_quote_285_rows.csv")
    assert res.quarantine["source_row"].tolist() == [12]  # the physical line of the stray quote
    assert res.events["case_id"].nunique() == 143


def test_year_2100_never_becomes_the_observation_end(corpus: tuple[Path, dict[str, Expect]]
                                                    ) -> None:
    folder, _ = corpus
    ev = ck.read_events(folder / "year_2100.csv")
    assert pd.Timestamp(ev.attrs["casekit"]["observation_end"]).year == 2023
    assert ev["timestamp"].max().year == 2023
    loose = ck.read_events(folder / "year_2100.csv", plausible_days_after=None)
    assert loose["timestamp"].max().year == 2100  # configurable


def test_padded_ids_are_one_case_and_not_exact_duplicates(
        corpus: tuple[Path, dict[str, Expect]]) -> None:
    folder, _ = corpus
    res = ck.io.read_events_report(folder / "invisible_in_ids.csv")
    assert sorted(res.events["case_id"].unique()) == ["XF1", "XF2"]
    assert res.metadata["n_duplicates"] == 0  # the source rows differ
    lead = ck.read_events(folder / "leading_zeros.csv")
    assert sorted(lead["case_id"]) == ["00123", "0123", "123"]


def test_two_rounded_18_digit_ids_are_not_merged(corpus: tuple[Path, dict[str, Expect]]) -> None:
    folder, _ = corpus
    res = ck.io.read_events_report(folder / "float_ids.xlsx")
    assert res.events["case_id"].tolist() == ["XF3"]
    assert "lost digits" in " ".join(res.quarantine["reason"])
    assert not res.quarantine["value"].str.contains(r"\d{15}").any()


def test_multi_member_archive_keeps_the_member(corpus: tuple[Path, dict[str, Expect]]) -> None:
    folder, _ = corpus
    ev = ck.read_events(folder / "two_logs.xes.zip")
    assert ev.groupby("source_member").size().to_dict() == {"part1.xes": 2, "part2.xes": 3}


def test_dayfirst_and_monthfirst_read_the_same_strings_differently(
        corpus: tuple[Path, dict[str, Expect]]) -> None:
    folder, _ = corpus
    p = folder / "ambiguous_day_month.csv"
    d = ck.read_events(p, dayfirst=True)
    m = ck.read_events(p, dayfirst=False)
    row = d[d["case_id"] == "A0"]["timestamp"].iloc[0]
    assert (row.month, row.day) == (4, 1)
    row = m[m["case_id"] == "A0"]["timestamp"].iloc[0]
    assert (row.month, row.day) == (1, 4)


# --- outputs over inputs --------------------------------------------------------------------


def _log(tmp_path: Path) -> Path:
    p = tmp_path / "log.csv"
    p.write_text(to_csv(rows(40)), encoding="utf-8")
    return p


@pytest.mark.parametrize("argv", [
    ["validate", "{log}", "--quarantine", "{out}"],
    ["network", "{log}", "--kind", "handover", "--out", "{out}"],
    ["network", "{log}", "--kind", "working-together", "--out", "{out}"],
    ["rank", "{log}", "--out", "{out}"],
    ["whatif", "--data", "{log}", "--out", "{out}"],
    ["report", "{log}", "--out", "{out}"],
])
@pytest.mark.parametrize("how", ["same", "link", "relative"])
def test_output_over_an_input_is_refused_and_the_input_unchanged(
        argv: list[str], how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    log = _log(tmp_path)
    before = log.read_bytes()
    out: str | Path = log
    if how == "link":
        out = tmp_path / "alias.csv"
        os.symlink(log, out)
    elif how == "relative":
        monkeypatch.chdir(tmp_path)
        out = "./sub/../log.csv"
        (tmp_path / "sub").mkdir()
    args = [a.format(log=log, out=out) for a in argv]
    code, _out, err = _cli(capsys, *args)
    assert code == 2
    assert "is one of the inputs" in err and len(err.splitlines()) == 1
    assert log.read_bytes() == before


def test_synth_refuses_events_and_truth_on_the_same_file(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, _o, err = _cli(capsys, "synth", "--cases", "10", "--out", str(tmp_path / "x.xlsx"),
                         "--start", "not-a-date")
    assert code == 2 and "--start" in err


def test_outputs_are_atomic_no_temporary_left(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    log = _log(tmp_path)
    out = tmp_path / "new" / "edges.csv"  # a missing folder is created, as by every command
    assert _cli(capsys, "network", str(log), "--kind", "handover", "--out", str(out))[0] == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["edges.csv"]
    assert _cli(capsys, "validate", str(log), "--quarantine", str(tmp_path / "q.csv"))[0] == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failed_write_leaves_the_old_output(tmp_path: Path) -> None:
    from casekit.cli._common import atomic_write

    target = tmp_path / "out.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


# --- bounded inputs -------------------------------------------------------------------------


def test_gzip_bomb_is_refused_within_seconds(corpus: tuple[Path, dict[str, Expect]],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = corpus
    t0 = time.perf_counter()
    code, _o, err = _cli(capsys, "validate", str(folder / "gzip_bomb.csv.gz"))
    assert code == 2 and "times its packed size" in err
    assert time.perf_counter() - t0 < 10


def test_absolute_unpack_limit_by_option_and_environment(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    p = tmp_path / "log.csv.gz"
    p.write_bytes(gzip.compress(to_csv(rows(2000)).encode(), mtime=0))
    assert _cli(capsys, "validate", str(p))[0] == 0
    code, _o, err = _cli(capsys, "validate", str(p), "--max-unpacked", "10K")
    assert code == 2 and "unpacks to more than 10.0 KB" in err
    monkeypatch.setenv("CASEKIT_MAX_UNPACKED", "20K")
    code, _o, err = _cli(capsys, "validate", str(p))
    assert code == 2 and "20.0 KB" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_named_pipe_is_refused_at_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    result: list[tuple[int, str, str]] = []
    t = threading.Thread(target=lambda: result.append(_cli(capsys, "validate", str(fifo))),
                         daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # unblock the reader before failing
        with open(fifo, "wb"):
            pass
        pytest.fail("reading a FIFO blocked")
    code, _o, err = result[0]
    assert code == 2 and "named pipe" in err


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/null"])
def test_device_and_link_to_device_are_refused(target: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    if not Path(target).exists():
        pytest.skip(f"{target} missing")
    link = tmp_path / "data.csv"
    os.symlink(target, link)
    code, _o, err = _cli(capsys, "validate", str(link))
    assert code == 2 and "is a device" in err
    assert stat.S_ISCHR(os.stat(link).st_mode)


def test_directory_named_like_a_log_is_refused(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "folder.csv"
    d.mkdir()
    code, _o, err = _cli(capsys, "network", str(d), "--kind", "handover", "--out",
                         str(tmp_path / "e.csv"))
    assert code == 2 and "is a directory" in err


def test_very_wide_header_is_refused_quickly(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "wide.csv"
    p.write_text(",".join(f"c{i}" for i in range(100_000)) + "\n" + "1," * 99_999 + "1\n")
    t0 = time.perf_counter()
    code, _o, err = _cli(capsys, "validate", str(p))
    assert code == 2 and "100000 columns" in err
    assert time.perf_counter() - t0 < 60


def test_xes_attribute_caps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hardened_corpus import _ev, _xes

    import casekit.io as cio

    big = _ev("register", 1).replace("</event>",
                                     f'<string key="note" value="{"x" * 5000}"/></event>')
    p = tmp_path / "big.xes"
    p.write_text(_xes([[big, _ev("close", 2)]]), encoding="utf-8")
    monkeypatch.setattr(cio, "XES_MAX_VALUE_CHARS", 1000)
    res = ck.io.read_events_report(p)
    assert (res.n_read, res.n_accepted, res.n_quarantined) == (2, 1, 1)
    assert "holds 5,000 characters" in res.quarantine["reason"].iloc[0]
    keys = "".join(f'<string key="k{i}" value="v"/>' for i in range(60))
    p.write_text(_xes([[_ev("register", 1).replace("</event>", keys + "</event>")]]),
                 encoding="utf-8")
    monkeypatch.setattr(cio, "XES_MAX_KEYS", 50)
    with pytest.raises(ck.FileUnusableError, match="more than 50 distinct attribute keys"):
        ck.read_events(p)


@pytest.mark.slow
def test_cell_larger_than_the_arrow_block_is_read(tmp_path: Path) -> None:
    p = tmp_path / "huge.csv"
    body = to_csv(rows(4)).rstrip("\n").split("\n")
    body[2] = body[2] + "," + "长" * (6 * 1024 * 1024)  # 18 MB cell in a fifth column
    text = "\n".join([body[0] + ",note", *[b + ",x" for b in body[1:2]], body[2],
                      *[b + ",y" for b in body[3:]]]) + "\n"
    p.write_text(text, encoding="utf-8")
    res = ck.io.read_events_report(p)
    assert (res.n_read, res.n_accepted) == (4, 4)


# --- options --------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "fragment"), [
    (["validate", "{log}", "--timezone", "Mars/Base"], "--timezone: unknown time zone"),
    (["validate", "{log}", "--observation-end", "soon"], "--observation-end: cannot read"),
    (["network", "{log}", "--kind", "handover", "--out", "{tmp}/e.csv", "--observation-end",
      "2023-13-45"], "--observation-end: cannot read"),
    (["rank", "{log}", "--out", "{tmp}/r.csv", "--observation-end", "x"],
     "--observation-end: cannot read"),
    (["whatif", "--data", "{log}", "--out", "{tmp}/w.json", "--observation-end", "x"],
     "--observation-end: cannot read"),
    (["report", "{log}", "--out", "{tmp}/r.html", "--observation-end", "x"],
     "--observation-end: cannot read"),
    (["synth", "--cases", "10", "--out", "{tmp}/s.csv", "--observation-end", "x"],
     "--observation-end: cannot read"),
    (["whatif", "--seed", "-1", "--out", "{tmp}/w.json"], "--seed: expected a non-negative"),
    (["synth", "--cases", "10", "--seed", "-3", "--out", "{tmp}/s.csv"], "--seed"),
    (["validate", "{log}", "--columns", "caseid=信访件编号"], "unknown canonical name 'caseid'"),
    (["validate", "{log}", "--columns", "case_id=信访件编号,matter_id=信访件编号"],
     "mapped twice"),
    (["validate", "{log}", "--labels", "{tmp}/labels.csv"], "label map"),
    (["validate", "{log}", "--labels", "{tmp}/none.csv"], "--labels"),
    (["synth", "--cases", "100000000000", "--out", "{tmp}/s.csv"], "GB of memory"),
    (["whatif", "--n-cases", "5000000", "--replications", "100000", "--out", "{tmp}/w.json"],
     "GB of memory"),
    (["validate", "{log}", "--max-unpacked", "lots"], "--max-unpacked: cannot read"),
])
def test_every_option_is_checked_in_one_line(argv: list[str], fragment: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    log = _log(tmp_path)
    (tmp_path / "labels.csv").write_bytes(b"column,label,identifier\nactivity,\xff\xfe\x00,x\n")
    code, _out, err = _cli(capsys, *[a.format(log=log, tmp=tmp_path) for a in argv])
    assert code == 2, err
    assert fragment in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "Warning:" not in err


# --- case-level tables ----------------------------------------------------------------------


def _ledger(tmp_path: Path) -> Path:
    p = tmp_path / "台账.csv"
    body = [
        ["信访件编号", "受理时间", "办结时间", "承办单位", "办理状态"],
        ["L1", "2023-03-01 09:00", "2023-03-10 17:00", "东墩街道办事处", "已办结"],
        ["L2", "2023-03-02 09:00", "", "区人社局", "办理中"],
        ["L3", "2023-03-03 09:00", "2023-03-05 09:00", "区信访局", "不予受理"],
        ["L4", "2023-03-04 09:00", "2023-03-20 09:00", "区法院", "导入法定程序"],
        ["L5", "2023-03-05 09:00", "2023-04-01 09:00", "区信访局", "已撤回"],
        ["L6", "2023-03-06 09:00", "", "区信访局", "已办结"],  # closed without a time
        ["L7", "2023-03-07 09:00", "2023-05-01 09:00", "区信访局", "终结"],
        ["L8", "2023-03-08 09:00", "2023-03-09 09:00", "区信访局", "已转出"],
    ]
    p.write_text("\n".join(",".join(r) for r in body) + "\n", encoding="utf-8")
    return p


def test_case_level_ledger_becomes_canonical_events(tmp_path: Path) -> None:
    res = ck.io.read_events_report(_ledger(tmp_path))
    assert (res.n_read, res.n_accepted, res.n_quarantined) == (8, 7, 1)
    assert res.quarantine["source_row"].tolist() == [7]
    last = res.events.groupby("case_id")["activity"].last().to_dict()
    assert last == {"L1": "close", "L2": "assign_with_report", "L3": "decline_intake",
                    "L4": "route_to_legal_procedure", "L5": "withdraw", "L7": "terminated",
                    "L8": "transfer_out"}
    assert (res.events.groupby("case_id").size() >= 2).all()
    assert any(n.startswith("case-level table") for n in res.metadata["notes"])


def test_shape_option_forces_and_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = _ledger(tmp_path)
    code, out, err = _cli(capsys, "validate", str(p), "--shape", "cases")
    assert code == 1 and "case-level table" in err and "read 8 rows" in out
    code, _out, err = _cli(capsys, "validate", str(p), "--shape", "events")
    assert code == 2 and "required column 'activity'" in err
    log = _log(tmp_path)
    ev = ck.read_events(log, shape="events")
    assert "case-level" not in " ".join(ev.attrs["casekit"]["notes"])


def test_network_and_rank_run_on_a_case_level_table(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    p = _ledger(tmp_path)
    code, _o, err = _cli(capsys, "network", str(p), "--kind", "working-together", "--out",
                         str(tmp_path / "e.csv"))
    assert code == 0 and "case-level table" in err


NYC = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "nyc-311-sample"


@pytest.mark.real
@pytest.mark.skipif(not NYC.is_dir(), reason="../shared/data/real/nyc-311-sample is absent")
def test_nyc_311_sample_is_read_as_cases() -> None:
    path = next(NYC.glob("*.csv"))
    res = ck.io.read_events_report(path)
    assert res.n_read == 1000 == res.n_accepted + res.n_quarantined
    assert res.n_quarantined == 1  # one 'Closed' request without a closed date
    acts = res.events["activity"].value_counts().to_dict()
    assert acts["register"] == 999 and acts["close"] == 292


# --- property: read = accepted + quarantined on physical records ----------------------------

_CORRUPT = st.sampled_from(["quote", "nul", "gb18030", "ragged", "bad_date", "empty_id",
                            "duplicate", "blank", "bom_id", "far_future", "crlf"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(n=st.integers(3, 80), edits=st.lists(st.tuples(_CORRUPT, st.integers(0, 10**6)),
                                            max_size=6), data=st.data())
def test_physical_records_are_conserved_under_corruption(
        n: int, edits: list[tuple[str, int]], data: st.DataObject, tmp_path: Path) -> None:
    lines = [to_csv(rows(n)).splitlines()[0].encode("utf-8")]
    body = [ln.encode("utf-8") for ln in to_csv(rows(n)).splitlines()[1:]]
    # at most one stray quote, put in last: two stray quotes can pair up into a legal cell
    quotes = [pos for kind, pos in edits if kind == "quote"][:1]
    for kind, pos in [e for e in edits if e[0] != "quote"] + [("quote", p) for p in quotes]:
        i = pos % len(body)
        line = body[i]
        if kind == "quote":
            fields = line.split(b",")
            j = data.draw(st.integers(0, len(fields) - 1))
            fields[j] = b'"' + fields[j]
            body[i] = b",".join(fields)
        elif kind == "nul":
            body[i] = b"\x00" * (1 + pos % 30)
        elif kind == "gb18030" and line.isascii() is False:
            try:
                body[i] = line.decode("utf-8").encode("gb18030")
            except UnicodeDecodeError:  # already re-encoded
                pass
        elif kind == "ragged":
            body[i] = line.rsplit(b",", 1)[0]
        elif kind == "bad_date":
            body[i] = line.replace(b"2023-03", b"2023-13")
        elif kind == "empty_id" and b"," in line:
            body[i] = b"," + line.split(b",", 1)[1]
        elif kind == "duplicate":
            body.insert(i, line)
        elif kind == "blank":
            body.insert(i, b"")
        elif kind == "bom_id":
            body[i] = "\ufeff".encode() + line
        elif kind == "far_future":
            body[i] = line.replace(b"2023-03", b"2099-03")
        elif kind == "crlf":
            body[i] = line + b"\r"
    p = tmp_path / "corrupt.csv"
    p.write_bytes(b"\n".join(lines + body) + b"\n")
    physical = sum(1 for ln in body if ln.strip(b"\r \t"))
    try:
        res = ck.io.read_events_report(p)
    except ck.FileUnusableError:
        return  # e.g. every row bad in one way: refused in one line, nothing silently lost
    assert res.n_read == physical
    assert res.n_read == res.n_accepted + res.n_quarantined
    assert res.quarantine["source_row"].is_unique
    assert "\ufffd" not in "".join(res.events["case_id"]) + "".join(res.events["agency"])
    assert all(2 <= r <= len(body) + 1 for r in res.quarantine["source_row"])


def test_masked_names_never_merge_two_agencies(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    p.write_text("信访件编号,登记时间,办理环节,办理单位,信访人姓名\n"
                 "A,2023-03-01 09:00,登记,张伟调解室,张伟\n"
                 "B,2023-03-01 09:00,登记,李娜调解室,李娜\n"
                 "C,2023-03-01 09:00,登记,区信访局,王芳\n", encoding="utf-8")
    ev = ck.read_events(p)
    assert ev["agency"].nunique() == 3
    assert not ev["agency"].str.contains("张伟|李娜").any()
    assert any("numbered" in n for n in ev.attrs["casekit"]["notes"])


def test_full_excel_sheet_is_refused_at_once(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["case_id", "timestamp", "activity"])
    ws.append(["A", "2023-01-01", "登记"])
    ws.cell(row=1_048_576, column=1, value="last row Excel holds")
    p = tmp_path / "full.xlsx"
    wb.save(p)
    t0 = time.perf_counter()
    code, _o, err = _cli(capsys, "validate", str(p))
    assert code == 2 and "row limit" in err
    assert time.perf_counter() - t0 < 60


def test_report_checks_the_shared_reading_options_before_running(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = _log(tmp_path)
    code, _o, err = _cli(capsys, "report", str(log), "--sheet", "x", "--labels",
                         str(tmp_path / "missing.json"), "--out", str(tmp_path / "r2.html"))
    assert code == 2 and "--labels" in err and not (tmp_path / "r2.html").exists()
    with pytest.raises(SystemExit) as exc:
        main(["report", str(log), "--dayfirst", "--monthfirst", "--out", str(tmp_path / "r.html")])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_quote_never_closed_on_the_second_last_row_loses_nothing(tmp_path: Path) -> None:
    """Found by the property test: a stray quote in the last field of the second-last row used to
    swallow the last row into one cell (read 2 of 3 rows)."""
    lines = to_csv(rows(3)).splitlines()
    fields = lines[2].split(",")
    fields[-1] = '"' + fields[-1]
    lines[2] = ",".join(fields)
    p = tmp_path / "q.csv"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = ck.io.read_events_report(p)
    assert (res.n_read, res.n_accepted, res.n_quarantined) == (3, 2, 1)
    assert res.quarantine["source_row"].tolist() == [3]
