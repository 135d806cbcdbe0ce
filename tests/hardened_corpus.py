"""Deterministic hostile inputs for the hardening classes of issue 11 (made at test time).

``build(folder)`` writes several files per class and returns ``{name: Expect}``: the exit code of
``casekit validate``, a fragment of its output and the (read, accepted, quarantined) counts on
the *physical* records of the file (or ``None`` when the file is refused). Nothing here is
random: the same call writes the same bytes. All personal data is invented.

Run ``python tests/hardened_corpus.py DIR`` to look at the files.
"""

from __future__ import annotations

import csv
import gzip
import io
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

HEADER = ["信访件编号", "登记时间", "办理环节", "办理单位"]


@dataclass(frozen=True)
class Expect:
    """What ``casekit validate FILE`` must answer."""

    code: int
    fragment: str
    counts: tuple[int, int, int] | None = None
    args: tuple[str, ...] = ()


def rows(n: int, start_day: int = 1, prefix: str = "XF") -> list[list[str]]:
    """``n`` valid events of ``n // 2 + 1`` cases in 2023 (register, then close)."""
    out = []
    for i in range(n):
        case = f"{prefix}{i // 2:05d}"
        day = start_day + i // 2 % 27
        act = "登记" if i % 2 == 0 else "办结"
        out.append([case, f"2023-03-{day:02d} {9 + i % 2}:00", act, "金平区信访局"])
    return out


def to_csv(body: list[list[str]], header: list[str] = HEADER) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(body)
    return buf.getvalue()


def _xes(traces: list[list[str]]) -> str:
    """A log of traces, each a list of raw <event> XML snippets."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0">']
    for k, events in enumerate(traces):
        parts.append(f'<trace><string key="concept:name" value="T{k}"/>')
        parts.extend(events)
        parts.append("</trace>")
    parts.append("</log>\n")
    return "\n".join(parts)


def _ev(act: str, day: int, group: str = "A") -> str:
    return (f'<event><string key="concept:name" value="{act}"/>'
            f'<string key="org:group" value="{group}"/>'
            f'<date key="time:timestamp" value="2023-01-{day:02d}T10:00:00+08:00"/></event>')


def _xlsx(path: Path, sheets: list[tuple[str, list[list[object]], str]], active: int) -> None:
    """Workbook with ``(title, rows, state)`` sheets and the given active sheet."""
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    wb.properties.created = wb.properties.modified = dt.datetime(2024, 1, 1)
    wb.remove(wb.active)
    for title, body, state in sheets:
        ws = wb.create_sheet(title)
        for r in body:
            ws.append(r)
        ws.sheet_state = state
    wb.active = active
    wb.save(path)


def _events_sheet(n: int = 4) -> list[list[object]]:
    return [HEADER, *rows(n)]


def _zi(name: str) -> zipfile.ZipInfo:
    """A zip member with a fixed date (so the archive bytes are the same on every run)."""
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _encrypted_flag_zip(path: Path, members: dict[str, bytes]) -> None:
    """A zip whose members carry the 'encrypted' flag bit (enough for a reader to refuse)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(_zi(name), data)
    raw = bytearray(buf.getvalue())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers
        pos = raw.find(sig)
        while pos >= 0:
            raw[pos + off] |= 0x1
            pos = raw.find(sig, pos + 4)
    path.write_bytes(bytes(raw))


def build(out: Path) -> dict[str, Expect]:  # noqa: PLR0915 - one block per class, on purpose
    """Write the corpus into ``out``; return the expected answers by file name."""
    out.mkdir(parents=True, exist_ok=True)
    exp: dict[str, Expect] = {}

    def put(name: str, data: str | bytes, expect: Expect) -> None:
        (out / name).write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        exp[name] = expect

    # --- unclosed quotes: the rows after the stray quote are read, the line is quarantined --
    body = rows(20)
    lines = to_csv(body).splitlines(keepends=True)
    q1 = lines.copy()
    q1[5] = q1[5].replace("金平区信访局", '"金平区信访局')  # last field: quote never closed
    put("unclosed_quote_last_field.csv", "".join(q1),
        Expect(1, "opens a quote that is not closed", (20, 19, 1)))
    q2 = lines.copy()
    q2[3] = q2[3].replace(",登记,", ',"登记,')  # middle field
    put("unclosed_quote_middle_field.csv", "".join(q2),
        Expect(1, "opens a quote that is not closed", (20, 19, 1)))
    big = to_csv(rows(285)).splitlines(keepends=True)
    big[11] = big[11].replace("XF", '"XF', 1)  # 275 rows after it (the reported case)
    put("unclosed_quote_285_rows.csv", "".join(big),
        Expect(1, "opens a quote that is not closed", (285, 284, 1)))
    q3 = lines.copy()
    q3[20] = q3[20].replace("金平区信访局", '"金平区信访局')  # last line: nothing to swallow
    put("unclosed_quote_last_line.csv", "".join(q3), Expect(0, "read 20 rows", (20, 20, 0)))
    q4 = lines.copy()
    q4[2] = q4[2].replace("XF", '"XF', 1)
    q4[15] = q4[15].replace("金平区信访局", '"金平区信访局')
    put("two_unclosed_quotes.csv", "".join(q4),
        Expect(1, "2 line(s) open a quote", (20, 18, 2)))

    # --- lines of NUL bytes are records ---------------------------------------------------
    n1 = lines.copy()
    n1[4] = "\x00" * 40 + "\n"
    put("nul_line.csv", "".join(n1), Expect(1, "NUL byte", (20, 19, 1)))
    n2 = lines.copy()
    n2[2] = "\x00" * 10 + "\r\n"
    n2[9] = "\x00\x00\x00\n"
    put("two_nul_lines.csv", "".join(n2), Expect(1, "row 10: line of 3 NUL", (20, 18, 2)))
    n3 = lines.copy()
    n3[5] = n3[5].replace("登记", "登\x00记")
    put("nul_inside_row.csv", "".join(n3), Expect(0, "NUL byte(s) inside rows", (20, 20, 0)))

    # --- mixed encodings: quarantined by row, never U+FFFD with exit 0 -----------------------
    head = to_csv(rows(10)).encode("utf-8")
    gb_rows = to_csv(rows(4, prefix="GB"), header=[]).lstrip("\n").encode("gb18030")
    put("mixed_utf8_majority.csv", head + gb_rows,
        Expect(1, "encoded in GB18030 while the file is UTF-8", (14, 10, 4)))
    gb_file = to_csv(rows(10)).encode("gb18030")
    utf_rows = to_csv(rows(3, prefix="U"), header=[]).lstrip("\n").encode("utf-8")
    put("mixed_gb18030_majority.csv", gb_file + utf_rows,
        Expect(1, "encoded in UTF-8 while the file is GB18030", (13, 10, 3)))
    garbage = gb_file + "XF09999,2023-03-05 09:00,登记,".encode("gb18030") + b"\xff\xfe\xff\n"
    put("gb18030_with_garbage_line.csv", garbage,
        Expect(1, "neither UTF-8 nor GB18030", (11, 10, 1)))

    # --- multi-member archives ---------------------------------------------------------------
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_zi("part1.xes"), _xes([[_ev("register", 1), _ev("close", 2)]]))
        zf.writestr(_zi("part2.xes"), _xes([[_ev("register", 3)], [_ev("register", 4),
                                                               _ev("close", 5)]]))
    put("two_logs.xes.zip", buf.getvalue(), Expect(0, "read 2 event logs", (5, 5, 0)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k in range(3):
            zf.writestr(_zi(f"log{k}.xes"), _xes([[_ev("register", k + 1)]]))
        zf.writestr(_zi("readme.txt"), "not a log")
    put("three_logs.zip", buf.getvalue(), Expect(0, "read 3 event logs", (3, 3, 0)))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_zi("a.csv"), to_csv(rows(4)))
        zf.writestr(_zi("b.csv"), to_csv(rows(4)))
    put("two_tables.csv.zip", buf.getvalue(), Expect(2, "holds 2 table files (a.csv, b.csv)"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_zi("only.csv"), to_csv(rows(4)))
    put("one_table.zip", buf.getvalue(), Expect(0, "read member 'only.csv'", (4, 4, 0)))
    _encrypted_flag_zip(out / "encrypted_member.xes.zip", {"log.xes": b"<log/>"})
    exp["encrypted_member.xes.zip"] = Expect(2, "is encrypted")
    _encrypted_flag_zip(out / "encrypted_member.zip", {"t.csv": b"a,b\n1,2\n"})
    exp["encrypted_member.zip"] = Expect(2, "is encrypted")

    # --- XES nesting: quarantined, never dropped ---------------------------------------------
    nested_ev = _ev("register", 1).replace("</event>", _ev("transfer", 2) + "</event>")
    put("nested_event.xes", _xes([[nested_ev, _ev("close", 3)]]),
        Expect(1, "nested inside event 1", (3, 1, 2)))
    nested_tr = ("<trace><string key=\"concept:name\" value=\"inner\"/>" + _ev("register", 5)
                 + "</trace>")
    put("nested_trace.xes", _xes([[_ev("register", 1), nested_tr, _ev("close", 2)]]),
        Expect(1, "nested inside a trace", (3, 2, 1)))
    put("deeply_nested_events.xes",
        _xes([[_ev("a", 1).replace("</event>", _ev("b", 2).replace(
            "</event>", _ev("c", 3) + "</event>") + "</event>")], [_ev("register", 4)]]),
        Expect(1, "holds a nested <event>", (4, 1, 3)))

    # --- implausible dates: quarantined, never the observation end ---------------------------
    body = rows(100)
    body[50][1] = "2100-01-01 00:00"
    put("year_2100.csv", to_csv(body), Expect(1, "implausible date", (100, 99, 1)))
    body = rows(100)
    body[7][1] = "1970-01-01 08:00"
    body[8][1] = "1899-12-31"
    put("before_1990.csv", to_csv(body), Expect(1, "before 1990-01-01", (100, 98, 2)))
    body = rows(60)
    body[0][1] = "2031-06-01 00:00"
    body[1][1] = "2040-06-01 00:00"
    put("two_far_future.csv", to_csv(body), Expect(1, "more than 365 days after", (60, 58, 2)))

    # --- ambiguous day/month order -----------------------------------------------------------
    body = [[f"A{i}", f"0{1 + i % 9}/0{1 + (i + 3) % 9}/2023", "登记", "区信访局"]
            for i in range(8)]
    put("ambiguous_day_month.csv", to_csv(body), Expect(2, "--dayfirst or --monthfirst"))
    put("ambiguous_day_month_dayfirst.csv", to_csv(body),
        Expect(0, "read 8 rows", (8, 8, 0), ("--dayfirst",)))
    body2 = [*body, ["A9", "25/03/2023", "登记", "区信访局"]]
    put("day_first_evident.csv", to_csv(body2), Expect(0, "read 9 rows", (9, 9, 0)))
    body3 = [*body2, ["A10", "03/25/2023", "登记", "区信访局"]]
    put("both_orders.csv", to_csv(body3), Expect(2, "both day/month"))

    # --- identifiers -------------------------------------------------------------------------
    ids = [["00123", "2023-03-01 09:00", "登记", "区信访局"],
           ["123", "2023-03-01 09:00", "登记", "区信访局"],
           ["0123", "2023-03-02 09:00", "登记", "区信访局"]]
    put("leading_zeros.csv", to_csv(ids), Expect(0, "3 cases", (3, 3, 0)))
    inv = [["\ufeffXF1", "2023-03-01 09:00", "登记", "区信访局"],
           ["XF1\u200b", "2023-03-02 09:00", "办结", "区信访局"],
           [" XF2 ", "2023-03-01 09:00", "登记", "区信访局"],
           ["XF2\u3000", "2023-03-01 09:00", "登记", "区信访局"]]
    put("invisible_in_ids.csv", to_csv(inv),
        Expect(0, "byte-order mark, zero-width character or surrounding space", (4, 4, 0)))
    _xlsx(out / "float_ids.xlsx", [("events", [
        HEADER, [440507198001011234.0, "2023-03-01 09:00", "登记", "区信访局"],
        [440507198001011235.0, "2023-03-01 09:00", "登记", "区信访局"],
        ["XF3", "2023-03-01 09:00", "登记", "区信访局"]], "visible")], 0)
    exp["float_ids.xlsx"] = Expect(1, "lost digits", (3, 1, 2))
    _xlsx(out / "int_ids_excel.xlsx", [("events", [
        HEADER, [9007199254740993, "2023-03-01 09:00", "登记", "区信访局"],
        [12345, "2023-03-01 09:00", "登记", "区信访局"]], "visible")], 0)
    exp["int_ids_excel.xlsx"] = Expect(1, "lost digits", (2, 1, 1))

    # --- Excel sheets ------------------------------------------------------------------------
    _xlsx(out / "active_second_sheet.xlsx", [("说明", [["填表说明"]], "visible"),
                                             ("台账", _events_sheet(4), "visible")], 1)
    exp["active_second_sheet.xlsx"] = Expect(0, "read sheet '台账' (the active visible sheet)",
                                             (4, 4, 0))
    _xlsx(out / "hidden_active_sheet.xlsx", [("secret", _events_sheet(6), "hidden"),
                                             ("visible", _events_sheet(2), "visible")], 0)
    exp["hidden_active_sheet.xlsx"] = Expect(0, "'secret' (hidden)", (2, 2, 0))
    _xlsx(out / "hidden_sheet_asked.xlsx", [("visible", _events_sheet(2), "visible"),
                                            ("secret", _events_sheet(6), "hidden")], 0)
    exp["hidden_sheet_asked.xlsx"] = Expect(0, "it is hidden", (6, 6, 0), ("--sheet", "secret"))
    _xlsx(out / "instructions_then_data.xlsx", [("说明", [["请在第二页填写"], ["备注"]], "visible"),
                                                ("data", _events_sheet(2), "visible")], 0)
    exp["instructions_then_data.xlsx"] = Expect(2, "choose one with --sheet NAME")
    ole = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    ole += "EncryptionInfo".encode("utf-16-le") + b"\x00" * 50
    ole += "EncryptedPackage".encode("utf-16-le") + b"\x00" * 1000
    put("password_protected.xlsx", bytes(ole), Expect(2, "password-protected"))
    put("password_protected_named.xls", bytes(ole), Expect(2, "password-protected"))
    _xlsx(out / "uncached_formulas.xlsx", [("events", [
        HEADER, ["XF1", "2023-03-01 09:00", "登记", "=CONCAT(\"区\",\"信访局\")"],
        ["XF1", "=TEXT(TODAY(),\"yyyy-mm-dd\")", "办结", "区信访局"]], "visible")], 0)
    exp["uncached_formulas.xlsx"] = Expect(1, "formula cell(s) have no saved value", (2, 1, 1))

    # --- case-level tables (one row per case) ------------------------------------------------
    ledger = ("信访件编号,受理时间,办结时间,承办单位,办理状态\n"
              "L1,2023-03-01 09:00,2023-03-10 17:00,东墩街道办事处,已办结\n"
              "L2,2023-03-02 09:00,,区人社局,办理中\n"
              "L3,2023-03-03 09:00,2023-03-05 09:00,区信访局,不予受理\n"
              "L4,2023-03-06 09:00,,区信访局,已办结\n")
    put("ledger_cases.csv", ledger, Expect(1, "case-level table", (4, 3, 1)))
    put("ledger_cases.csv.gz", gzip.compress(ledger.encode("gb18030"), mtime=0),
        Expect(1, "status '已办结' ends the case", (4, 3, 1)))
    hotline = ("unique_key,created_date,closed_date,agency,status\n"
               "1,2024-04-01T10:00:00.000,2024-04-02T10:00:00.000,DOT,Closed\n"
               "2,2024-04-01T11:00:00.000,,HPD,In Progress\n"
               "3,2024-04-01T12:00:00.000,2024-04-03T12:00:00.000,HPD,Closed\n")
    put("hotline_cases.csv", hotline, Expect(0, "register at opening", (3, 3, 0)))
    council = ("unique_key,account,opendate,closedate,complaint_type\n"
               "C1,NYCC34,2025-01-09,,Housing\nC2,NYCC34,2025-01-06,2025-01-08,Utilities\n")
    put("council_cases.csv", council, Expect(0, "status=None", (2, 2, 0)))

    # --- decompression limits ----------------------------------------------------------------
    bomb = io.BytesIO()
    with gzip.GzipFile(fileobj=bomb, mode="wb", mtime=0) as gz:
        gz.write(("case_id,timestamp,activity\n").encode())
        chunk = b"A" * (1 << 20)
        for _ in range(300):  # 300 MB of one letter: ~300 KB packed
            gz.write(chunk)
    put("gzip_bomb.csv.gz", bomb.getvalue(), Expect(2, "decompression bomb"))
    return exp


if __name__ == "__main__":  # pragma: no cover
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "bad_corpus")
    for name, e in build(folder).items():
        print(f"{name}: exit {e.code}, {e.fragment!r}, {e.counts}")
