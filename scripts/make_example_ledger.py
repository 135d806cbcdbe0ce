"""Write ``data/信访台账示例.xlsx``: the small example ledger of the README (fake people only).

A 34-row petition ledger as a street's petition office keeps it in Excel: one row per step of a
case, Chinese headers exactly as the README lists them, 12 cases in two collaboration patterns
(petition bureau + street office; the same with the court or the housing bureau drawn in), two
cases still open, and repeat filings (one petitioner files the same matter again). The names,
ID numbers (valid check digit, invented) and mobile numbers are **fake**; they are there so that
the README's commands show that casekit masks them (no output may contain them).

Run ``python scripts/make_example_ledger.py`` (optionally ``--out PATH``); the same code writes
the same bytes (:func:`casekit.synth._write_events_deterministic` fixes the workbook's dates).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

HEADERS = ["信访件编号", "办理时间", "办理环节", "办理单位", "单位类型", "信访人姓名", "身份证号",
           "联系电话", "问题类别", "问题发生地址", "所属街道"]

#: (name, birth date, phone, category, address, street) of the fake petitioners
PEOPLE = [
    ("林晓峰", "19720314", "13902710001", "住房城建", "文光街道棉城社区3栋", "文光街道"),
    ("陈美玲", "19850722", "13902710002", "劳动社保", "城南街道新华路18号", "城南街道"),
    ("郑国强", "19630105", "13902710003", "城乡建设", "金浦街道南坡园小区", "金浦街道"),
    ("黄丽娟", "19901130", "13902710004", "住房城建", "棉北街道平和东路6号", "棉北街道"),
    ("吴志明", "19580918", "13902710005", "农村农业", "城南街道东仓村", "城南街道"),
    ("许秀英", "19770402", "13902710006", "城乡建设", "文光街道中华路22号", "文光街道"),
    ("蔡建华", "19690627", "13902710007", "劳动社保", "金浦街道梅花社区", "金浦街道"),
]

BUREAU = ("潮阳区信访局", "信访局")
STREETS = {s: (f"{s}办事处", "街道办事处") for s in ("文光街道", "城南街道", "金浦街道", "棉北街道")}
COURT = ("潮阳区人民法院", "人民法院")
HOUSING = ("潮阳区住房和城乡建设局", "住房和城乡建设局")

#: (case number, person index, registration day, helper agency or None, days to close or None)
CASES = [
    ("XF2024-001", 0, "2024-01-08 09:10", None, 12),
    ("XF2024-002", 1, "2024-01-15 10:30", None, 9),
    ("XF2024-003", 2, "2024-01-22 14:00", COURT, 41),
    ("XF2024-004", 3, "2024-02-05 09:45", HOUSING, 33),
    ("XF2024-005", 4, "2024-02-19 11:20", None, 15),
    ("XF2024-006", 5, "2024-03-04 15:05", HOUSING, 27),
    ("XF2024-007", 0, "2024-03-18 09:00", HOUSING, 36),  # 林晓峰 files the same matter again
    ("XF2024-008", 6, "2024-04-01 10:15", None, 11),
    ("XF2024-009", 2, "2024-04-22 08:50", COURT, 48),  # 郑国强 again
    ("XF2024-010", 1, "2024-05-13 16:40", None, 8),  # 陈美玲 again
    ("XF2024-011", 3, "2024-06-03 09:30", HOUSING, None),  # still open
    ("XF2024-012", 4, "2024-06-17 14:25", None, None),  # still open
]


def id_number(region: str, birth: str, seq: int) -> str:
    """A fake 18-digit resident ID with a valid check digit (GB 11643).

    Examples
    --------
    >>> from casekit.privacy import is_valid_id_number
    >>> id_number("440513", "19720314", 1)
    '440513197203140015'
    >>> bool(is_valid_id_number(id_number("440513", "19720314", 1)))
    True
    """
    body = f"{region}{birth}{seq:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def ledger() -> pd.DataFrame:
    """The example ledger as a table (one row per step, the README's Chinese headers)."""
    rows = []
    for number, who, registered, helper, days in CASES:
        name, birth, phone, category, address, street = PEOPLE[who]
        person = [name, id_number("440513", birth, who + 1), phone, category, address, street]
        t0 = pd.Timestamp(registered)
        office = STREETS[street]
        steps = [(t0, "登记", BUREAU)]
        steps.append((t0 + pd.Timedelta(hours=26), "转送", office) if helper is None else
                     (t0 + pd.Timedelta(days=6), "联席会议", helper))
        if days is not None:
            steps.append((t0 + pd.Timedelta(days=days, hours=3), "办结", office))
        rows += [[number, t, act, unit, kind, *person] for t, act, (unit, kind) in steps]
    return pd.DataFrame(rows, columns=HEADERS)


def main(argv: list[str] | None = None) -> Path:
    """Write the ledger (default ``data/信访台账示例.xlsx`` next to this script's checkout)."""
    from casekit.synth import _write_events_deterministic

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).resolve().parents[1] / "data" / "信访台账示例.xlsx"
    parser.add_argument("--out", type=Path, default=default)
    args = parser.parse_args(argv)
    return _write_events_deterministic(ledger(), args.out)


if __name__ == "__main__":
    print(main())
