"""(Re)create the hostile-input corpus in ``tests/data/bad/`` deterministically.

Run ``python tests/data/make_bad_corpus.py``. Every file is small; the 10 MB cell file is made at
test time (``tests/test_bad_corpus.py``) instead of being committed. The expected outcome of each
file (exit code, message fragment, row counts) is the table in ``tests/test_bad_corpus.py``.

All personal data in these files is invented: the ID numbers are checksum-valid but made up, the
phone numbers are made up.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import re
import zipfile
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parent / "bad"
FIXED = dt.datetime(2024, 1, 1, 0, 0, 0)

HEADER = ["信访件编号", "登记时间", "办理环节", "办理单位", "单位类型", "信访人姓名", "身份证号",
          "联系电话", "问题类别"]


def id_number(body17: str) -> str:
    """Append the GB 11643 check character to 17 digits."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(body17, weights, strict=True))
    return body17 + "10X98765432"[total % 11]


PEOPLE = [
    ("张伟", id_number("44050719800101123"), "13812345678"),
    ("王芳", id_number("44050719851212234"), "13987654321"),
    ("李娜", id_number("44051119900315345"), "15011112222"),
]


def base_rows() -> list[list[str]]:
    """Six events of three cases, Chinese labels, raw PII."""
    p = PEOPLE
    return [
        ["XF2023001", "2023/4/25 9:32:09", "登记", "金平区信访局", "信访局", *p[0], "城乡建设"],
        ["XF2023001", "2023/4/26 10:00:00", "转送", "东墩街道办事处", "街道办事处", *p[0], "城乡建设"],
        ["XF2023001", "2023/5/20 16:45:00", "办结", "东墩街道办事处", "街道办事处", *p[0], "城乡建设"],
        ["XF2023002", "2023/5/02 08:15:00", "登记", "金平区信访局", "信访局", *p[1], "劳动社保"],
        ["XF2023002", "2023/5/03 11:20:00", "交办", "金平区人力资源和社会保障局",
         "人力资源和社会保障局", *p[1], "劳动社保"],
        ["XF2023003", "2023/6/01 14:00:00", "登记", "金平区信访局", "信访局", *p[2], "自然资源"],
    ]


def to_csv(rows: list[list[str]], header: list[str] = HEADER, sep: str = ",",
           newline: str = "\n") -> str:
    buf = io.StringIO()
    import csv

    w = csv.writer(buf, delimiter=sep, lineterminator=newline)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def write(name: str, data: bytes | str, encoding: str = "utf-8") -> None:
    path = OUT / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))


def xlsx(name: str, rows: list[list[object]], merges: tuple[str, ...] = (),
         sheets: dict[str, list[list[object]]] | None = None) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.properties.created = FIXED
    wb.properties.modified = FIXED
    ws = wb.active
    ws.title = "台账"
    for r in rows:
        ws.append(r)
    for m in merges:
        ws.merge_cells(m)
    for title, extra in (sheets or {}).items():
        s2 = wb.create_sheet(title)
        for r in extra:
            s2.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    # re-pack with fixed entry dates so the file is byte-for-byte reproducible
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                data = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*",
                              rb"\g<1>2024-01-01T00:00:00Z", data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0)),
                         data, compress_type=zipfile.ZIP_DEFLATED)
    (OUT / name).write_bytes(out.getvalue())


XES_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0">\n'


def xes_trace(case: str | None, events: list[tuple[str | None, str, str | None]]) -> str:
    parts = ["  <trace>\n"]
    if case is not None:
        parts.append(f'    <string key="concept:name" value="{case}"/>\n')
    for ts, act, group in events:
        parts.append("    <event>\n")
        parts.append(f'      <string key="concept:name" value="{act}"/>\n')
        if group is not None:
            parts.append(f'      <string key="org:group" value="{group}"/>\n')
        if ts is not None:
            parts.append(f'      <date key="time:timestamp" value="{ts}"/>\n')
        parts.append("    </event>\n")
    parts.append("  </trace>\n")
    return "".join(parts)


def good_xes(missing_ts: bool = False) -> str:
    t1 = xes_trace("case-1", [("2011-10-11T13:45:40.276+02:00", "Confirmation of receipt", "Group 1"),
                              ("2011-10-12T08:26:25.398+02:00", "T02 Check", "Group 4")])
    t2 = xes_trace("case-2", [("2011-11-01T09:00:00.000+01:00", "Confirmation of receipt", "Group 1"),
                              (None if missing_ts else "2011-11-02T10:00:00.000+01:00", "T02 Check",
                               "Group 2")])
    return XES_HEAD + t1 + t2 + "</log>\n"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    rows = base_rows()
    good = to_csv(rows)

    # --- encodings and separators -----------------------------------------------------------
    write("gb18030_chinese.csv", good, "gb18030")
    write("gbk_chinese.csv", good, "gbk")
    write("utf8_bom.csv", "\ufeff" + good)
    write("utf16_bom.csv", good, "utf-16")
    write("semicolon_separated.csv", to_csv(rows, sep=";"))
    write("tab_separated.tsv", to_csv(rows, sep="\t"))
    write("crlf_line_endings.csv", to_csv(rows, newline="\r\n"), "gb18030")
    bad_bytes = good.encode("utf-8").replace("城乡建设".encode(), b"caf\xff\xfe", 1)
    write("undecodable_bytes.csv", bad_bytes)
    write("nul_bytes.csv", good.encode("utf-8").replace(b"XF2023002", b"XF2023\x00002"))

    # --- file-level problems ----------------------------------------------------------------
    write("empty.csv", b"")
    write("whitespace_only.csv", "\n  \n\t\n")
    write("header_only.csv", to_csv([]))
    write("header_only_bom_crlf.csv", "\ufeff" + to_csv([], newline="\r\n"))
    write("missing_time_column.csv", to_csv([r[:1] + r[2:] for r in rows],
                                            header=HEADER[:1] + HEADER[2:]))
    write("missing_case_column.csv", to_csv([r[1:] for r in rows], header=HEADER[1:]))
    write("xlsx_named_csv.csv", b"PK\x03\x04" + b"\x00" * 60)
    write("unknown_extension.dat", good)
    write("old_excel.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    write("binary_garbage.csv", bytes((i * 73 + 41) % 256 for i in range(2000)))

    # --- row-level problems -----------------------------------------------------------------
    r = [list(x) for x in rows]
    r[2][1] = "2023/13/45 25:61"
    write("unparseable_date.csv", to_csv(r), "gb18030")
    r = [list(x) for x in rows]
    r[4][0] = ""
    write("empty_case_id.csv", to_csv(r), "gb18030")
    r = [list(x) for x in rows]
    r[1][1] = "下周二"
    r[3][0] = "  "
    write("bad_date_and_empty_id.csv", to_csv(r), "gb18030")
    write("all_case_ids_empty.csv", to_csv([["", *x[1:]] for x in rows]), "gb18030")
    write("all_timestamps_bad.csv", to_csv([[x[0], "unknown", *x[2:]] for x in rows]), "gb18030")
    r = [list(x) for x in rows]
    r[3][1] = ""
    write("missing_timestamp.csv", to_csv(r), "gb18030")
    write("duplicate_events.csv", to_csv([*rows, rows[0], rows[3]]), "gb18030")
    text = good.splitlines()
    text[2] = text[2].rsplit(",", 2)[0]  # too few fields
    text[4] = text[4] + ",多余,字段"  # too many fields
    write("ragged_rows.csv", "\n".join(text) + "\n", "gb18030")
    r = [list(x) for x in rows]
    r[1][1] = PEOPLE[0][1]  # an ID number where the time should be
    r[4][0] = ""
    r[4][3] = f"{PEOPLE[1][0]} {PEOPLE[1][2]}"
    write("pii_in_bad_rows.csv", to_csv(r), "gb18030")
    r = [list(x) for x in rows]
    r[0][3] = "=HYPERLINK(\"http://evil.example\",\"点击\")"
    r[1][1] = "=cmd|' /C calc'!A0"
    r[5][3] = "@SUM(A1:A9)"
    write("formula_injection.csv", to_csv(r), "gb18030")

    # --- tricky but valid -------------------------------------------------------------------
    write("duplicated_column_names.csv",
          to_csv([[*x, x[3]] for x in rows], header=[*HEADER, "办理单位"]), "gb18030")
    mixed = [list(x) for x in rows]
    for row, ts in zip(mixed, ["2023-04-25T09:32:09+08:00", "2023/4/26 10:00", "2023年5月20日",
                               "45048.34375", "2023-05-03", "20230601"], strict=True):
        row[1] = ts
    write("mixed_date_formats.csv", to_csv(mixed), "gb18030")
    r = [list(x) for x in rows]
    r[2][1] = "2023/4/20 16:45:00"  # close before register
    write("close_before_register.csv", to_csv(r), "gb18030")
    hdr = [*HEADER, "留言详情"]
    r = [[*x, "第一行\n第二行，联系人" + x[7]] for x in rows]
    write("quoted_newlines.csv", to_csv(r, header=hdr), "gb18030")
    lines = good.splitlines()
    write("blank_lines.csv", "\n".join([lines[0], lines[1], "", lines[2], lines[3], "", "",
                                        *lines[4:]]) + "\n", "gb18030")
    canon = "case_id,timestamp,activity,agency\nA1,2023-01-02 09:00,register,Petition Bureau\n"\
            "A1,2023-01-03 10:00,close,Street Office\n"
    write("canonical_english.csv", canon)
    write("no_trailing_newline.csv", good.rstrip("\n"), "gb18030")
    write("title_line_above_header.csv", "金平区信访件办理台账（2023年）,,,,,,,,\n" + good, "gb18030")
    r = [list(x) for x in rows]
    r[3][1] = "2023/2/30 10:00"  # no such day: unparseable, not rolled over to March
    write("impossible_date.csv", to_csv(r), "gb18030")
    unknown = [list(x) for x in rows]
    unknown[1][2] = "茶话会"
    unknown[1][4] = "老年协会"
    write("unknown_labels.csv", to_csv(unknown), "gb18030")

    # --- Excel ------------------------------------------------------------------------------
    xlsx("chinese.xlsx", [HEADER, *rows])
    xlsx("merged_title.xlsx", [["金平区信访件办理台账（2023年）"], HEADER, *rows],
         merges=("A1:I1",))
    two_level = [["案件信息", None, "办理情况", None, None, "信访人", None, None, None],
                 [None, None, "环节", "单位", None, None, None, None, None], *rows]
    xlsx("merged_header.xlsx", two_level, merges=("A1:B1", "C1:E1", "F1:I1", "A2:B2"))
    xlsx("empty_sheet.xlsx", [])
    xlsx("header_only.xlsx", [HEADER])
    write("not_excel.xlsx", good, "gb18030")
    typed = [[20230001, dt.datetime(2023, 4, 25, 9, 32), "登记", "金平区信访局", "信访局"],
             [20230001, 45048.5, "办结", "东墩街道办事处", "街道办事处"],
             [20230002.0, "2023年5月2日", "登记", "金平区信访局", "信访局"]]
    xlsx("typed_cells.xlsx", [HEADER[:5], *typed])
    xlsx("instructions_first_sheet.xlsx", [["填表说明"], ["请在第二个工作表填写"]],
         sheets={"数据": [HEADER, *rows]})
    xlsx("formula_cells.xlsx", [HEADER[:5], ["X1", "2023/4/25 9:32", "登记", "=1+1", "信访局"]])

    # --- Parquet ----------------------------------------------------------------------------
    canon_df = pd.DataFrame({
        "case_id": ["A1", "A1", "A2"],
        "timestamp": pd.to_datetime(["2023-01-02 09:00", "2023-01-05 10:00", "2023-01-03 08:00"]),
        "activity": ["register", "close", "register"],
        "agency": ["区信访局", "东墩街道办事处", "区信访局"],
        "agency_type": ["petition_bureau", "street_office", "petition_bureau"],
    })
    canon_df.to_parquet(OUT / "canonical.parquet", index=False)
    tz = canon_df.assign(timestamp=canon_df["timestamp"].dt.tz_localize("UTC"))
    tz.to_parquet(OUT / "tz_aware.parquet", index=False)
    whole = (OUT / "canonical.parquet").read_bytes()
    write("truncated.parquet", whole[: len(whole) // 2])
    write("csv_named_parquet.parquet", canon)
    canon_df.drop(columns="timestamp").to_parquet(OUT / "parquet_no_time.parquet", index=False)

    # --- XES --------------------------------------------------------------------------------
    x = good_xes()
    write("minimal.xes", x)
    write("namespaced.xes", x.replace('<log xes.version="1.0">',
                                      '<log xes.version="1.0" xmlns="http://www.xes-standard.org/">'))
    write("truncated.xes", x[: len(x) * 2 // 3])
    write("malformed.xes", x.replace("</event>", "</evnt>", 1))
    write("no_timestamps.xes", "".join(line for line in x.splitlines(keepends=True)
                                       if "time:timestamp" not in line))
    write("some_missing_timestamps.xes", good_xes(missing_ts=True))
    write("not_xml.xes", "case,time\n1,2\n")
    write("no_log_element.xes", '<?xml version="1.0"?>\n<foo><bar/></foo>\n')
    write("empty_log.xes", XES_HEAD + "</log>\n")
    write("trace_without_case_id.xes", XES_HEAD + xes_trace(None, [
        ("2011-10-11T13:45:40+02:00", "A", "G1")]) + xes_trace("c2", [
            ("2011-10-11T13:45:40+02:00", "A", "G1")]) + "</log>\n")
    write("minimal.xes.gz", gzip.compress(x.encode(), mtime=0))
    write("plain_text_named.xes.gz", x)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("log.xes", date_time=(2024, 1, 1, 0, 0, 0)), x)
        zf.writestr(zipfile.ZipInfo("__MACOSX/._log.xes", date_time=(2024, 1, 1, 0, 0, 0)), "x")
    write("minimal.xes.zip", buf.getvalue())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("readme.txt", date_time=(2024, 1, 1, 0, 0, 0)), "no log here")
    write("zip_without_xes.xes.zip", buf.getvalue())
    print(f"wrote {len(list(OUT.iterdir()))} files to {OUT}")


if __name__ == "__main__":
    main()
