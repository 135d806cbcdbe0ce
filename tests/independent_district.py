"""An independent synthetic petition log, written without casekit's generator (tests only).

It mimics an export from a Chinese case system: GB18030 CSV, Chinese headers and labels, raw
petitioner names, 18-digit ID numbers and mobile numbers, and no matter id: a repeat filing is
only recognisable as the same petitioner + same category + same address. Time to close follows
a proportional-hazards model with a planted multiplier per collaboration pattern (stronger for
repeat filings) and confounding: hard categories draw the slow-looking patterns and are slower
by themselves.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红燕建国志")
STREETS = ["文光街道", "城南街道", "金浦街道", "棉北街道", "和平镇", "谷饶镇"]
CATEGORIES = ["城乡建设", "劳动社保", "自然资源", "政法", "民政与应急"]
# difficulty: hazard multiplier of the category itself (harder = smaller)
CATEGORY_HAZARD = np.array([1.0, 1.1, 0.3, 0.35, 1.2])

# patterns as sets of Chinese agency-type labels (the petition bureau registers every case)
PATTERNS = [
    ("信访局", "街道办事处"),
    ("信访局", "街道办事处", "社区居民委员会"),
    ("信访局", "人民法院", "街道办事处"),
    ("信访局", "住房和城乡建设局", "街道办事处"),
    ("信访局", "人民法院", "住房和城乡建设局", "社区居民委员会", "街道办事处"),
]
CANONICAL = {
    "信访局": "petition_bureau",
    "街道办事处": "street_office",
    "社区居民委员会": "residents_committee",
    "人民法院": "court",
    "住房和城乡建设局": "housing_construction_bureau",
}
# planted log hazard ratios for repeat filings (reference: pattern 0); the joint
# court+housing+community+street pattern is truly fastest for repeat filings, but it is drawn mostly
# by the hard categories, so its raw median looks slow.
LOG_HR_REPEAT = np.log(np.array([1.0, 1.15, 0.8, 1.05, 1.6]))
LOG_HR_FIRST = LOG_HR_REPEAT * 0.4
# P(pattern | category): hard categories (自然资源, 政法) mostly draw the multi-agency patterns
PATTERN_GIVEN_CATEGORY = np.array([
    [0.30, 0.30, 0.05, 0.30, 0.05],
    [0.45, 0.35, 0.10, 0.05, 0.05],
    [0.06, 0.10, 0.22, 0.14, 0.48],
    [0.06, 0.08, 0.40, 0.04, 0.42],
    [0.45, 0.40, 0.05, 0.05, 0.05],
])


def _id_number(rng: np.random.Generator) -> str:
    area = rng.choice(["440513", "440514", "440507"])
    birth = pd.Timestamp("1950-01-01") + pd.Timedelta(days=int(rng.integers(0, 18000)))
    body = f"{area}{birth:%Y%m%d}{int(rng.integers(0, 1000)):03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(c) * w for c, w in zip(body, weights, strict=True)) % 11]
    return body + check


def make_independent_district(
    path: Path, *, n_petitioners: int = 5000, seed: int = 0, base_rate: float = 1 / 40
) -> dict:
    """Write the log to ``path`` (GB18030 CSV) and return the planted truth."""
    rng = np.random.default_rng(seed)
    rows: list[tuple] = []
    start = pd.Timestamp("2022-06-01")
    obs_end = pd.Timestamp("2024-06-30 23:59:59")
    case_no = 0
    for p in range(n_petitioners):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN, size=int(rng.integers(1, 3))))
        idn = _id_number(rng)
        phone = "1" + str(rng.choice([3, 5, 8])) + "".join(map(str, rng.integers(0, 10, 9)))
        cat = int(rng.choice(len(CATEGORIES), p=[0.25, 0.2, 0.2, 0.15, 0.2]))
        street = STREETS[int(rng.integers(len(STREETS)))]
        address = f"汕头市潮阳区{street}{int(rng.integers(1, 300))}号"
        t = start + pd.Timedelta(days=float(rng.uniform(0, 600)))
        ordinal = 1
        while t < obs_end:
            case_no += 1
            cid = f"XF{case_no:07d}"
            pat = int(rng.choice(len(PATTERNS), p=PATTERN_GIVEN_CATEGORY[cat]))
            log_hr = (LOG_HR_REPEAT if ordinal > 1 else LOG_HR_FIRST)[pat]
            rate = base_rate * CATEGORY_HAZARD[cat] * np.exp(log_hr)
            duration = float(rng.exponential(1 / rate))  # days from registration to close
            close_at = t + pd.Timedelta(days=duration)
            agencies = PATTERNS[pat]
            lead = agencies[-1]

            def add(ts, activity, agency_type, _cid=cid):
                if ts <= obs_end:
                    unit = "潮阳区" + agency_type if agency_type != "街道办事处" else street + "办事处"
                    rows.append((_cid, ts, activity, unit, agency_type, name, idn, phone,
                                 CATEGORIES[cat], address, street))

            add(t, "登记", "信访局")
            add(t + pd.Timedelta(hours=2), "转送", "信访局")
            # handling events spread inside the case, never after the close
            span = max(min(duration, 200.0), 0.01)
            for k, ag in enumerate(agencies[1:]):
                frac = (k + 1) / (len(agencies) + 1)
                act = {"人民法院": "调解", "住房和城乡建设局": "调查核实"}.get(ag, "受理")
                add(t + pd.Timedelta(days=span * frac * 0.9), act, ag)
            add(close_at, "办结", lead)
            if close_at >= obs_end:
                break
            # re-filing of the same matter after closure (more likely when handled slowly)
            if rng.random() < (0.45 if duration > 30 else 0.3) and ordinal < 4:
                ordinal += 1
                t = close_at + pd.Timedelta(days=float(rng.uniform(5, 90)))
            else:
                break
    df = pd.DataFrame(rows, columns=["信访件编号", "办理时间", "办理环节", "办理单位", "单位类型",
                                     "信访人姓名", "身份证号", "联系电话", "问题类别",
                                     "问题发生地址", "所属街道"])
    df["办理时间"] = df["办理时间"].dt.strftime("%Y/%-m/%-d %-H:%M:%S")
    df = df.sample(frac=1.0, random_state=seed)  # exports are not sorted
    df.to_csv(path, index=False, encoding="gb18030")
    fastest = int(np.argmax(LOG_HR_REPEAT))
    return {
        "fastest_repeat_pattern": "+".join(sorted(CANONICAL[a] for a in PATTERNS[fastest])),
        "hazard_ratio_repeat": {
            "+".join(sorted(CANONICAL[a] for a in pat)): float(np.exp(h))
            for pat, h in zip(PATTERNS, LOG_HR_REPEAT, strict=True)
        },
        "observation_end": str(obs_end),
        "n_rows": len(df),
    }


COLUMNS = (
    "case_id=信访件编号,timestamp=办理时间,activity=办理环节,agency=办理单位,agency_type=单位类型,"
    "petitioner_name=信访人姓名,petitioner_id_number=身份证号,petitioner_phone=联系电话,"
    "category=问题类别,address=问题发生地址,street=所属街道"
)
