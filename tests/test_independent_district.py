"""End-to-end: `casekit rank` on a log made by an independent generator (tests/independent_district.py).

The file is what a Chinese case system exports (GB18030, Chinese headers and labels, raw PII, no
matter id); repeats are only recognisable as same petitioner + category + address. Its planted
fastest pattern for repeat filings looks slow by raw median (confounded by category), so only an
adjusted, censoring-aware ranking puts it first.
"""

import re

import pandas as pd
import pytest

from casekit.cli import main
from independent_district import COLUMNS, make_independent_district

pytestmark = pytest.mark.slow

ID_NUMBER = re.compile(r"(?<![\d.])\d{17}[\dXx](?![\d.])")
MOBILE = re.compile(r"(?<![\d.])1[3-9]\d{9}(?![\d.])")
CONTRACT = ["rank", "pattern", "n_cases", "n_closed", "median_days", "median_ci_low",
            "median_ci_high", "hazard_ratio", "hr_ci_low", "hr_ci_high", "p_value"]


@pytest.fixture(scope="module", params=[0, 1])
def district(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("indep") / f"district-{request.param}.csv"
    truth = make_independent_district(path, seed=request.param)
    return path, truth


def test_rank_puts_the_planted_fastest_repeat_pattern_first(district, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CASEKIT_PSEUDONYM_KEY", "test-key-not-secret")
    path, truth = district
    out = tmp_path / "r.csv"
    code = main(["rank", str(path), "--columns", COLUMNS, "--repeat-only", "--min-cases", "100",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    text = out.read_text(encoding="utf-8") + (tmp_path / "r.excluded.csv").read_text(encoding="utf-8")
    text += capsys.readouterr().out
    raw = pd.read_csv(path, encoding="gb18030", dtype=str)
    leaked = [v for col in ("身份证号", "联系电话", "信访人姓名") for v in raw[col].unique() if v in text]
    assert leaked == []
    assert not ID_NUMBER.search(text) and not MOBILE.search(text)
    ranking = pd.read_csv(out, comment="#")
    assert list(ranking.columns[: len(CONTRACT)]) == CONTRACT
    assert ranking["rank"].tolist() == list(range(1, len(ranking) + 1))
    assert ranking["pattern"].iloc[0] == truth["fastest_repeat_pattern"]
    assert (ranking["n_cases"] >= 100).all()


def test_naive_closed_only_median_gets_this_log_wrong(district):
    """Guards the fixture: without adjustment the planted winner is not first."""
    path, truth = district
    df = pd.read_csv(path, encoding="gb18030")
    df["t"] = pd.to_datetime(df["办理时间"], format="%Y/%m/%d %H:%M:%S")
    canon = {"信访局": "petition_bureau", "街道办事处": "street_office",
             "社区居民委员会": "residents_committee", "人民法院": "court",
             "住房和城乡建设局": "housing_construction_bureau"}
    df["type"] = df["单位类型"].map(canon)
    g = df.groupby("信访件编号")
    cases = pd.DataFrame({
        "opened": g["t"].min(),
        "closed": df[df["办理环节"] == "办结"].groupby("信访件编号")["t"].min(),
        "pattern": g["type"].agg(lambda s: "+".join(sorted(set(s)))),
        "key": g["身份证号"].first() + g["问题类别"].first() + g["问题发生地址"].first(),
    }).sort_values("opened")
    cases["ordinal"] = cases.groupby("key").cumcount() + 1
    rep = cases[(cases["ordinal"] > 1) & cases["closed"].notna()]
    med = (rep["closed"] - rep["opened"]).groupby(rep["pattern"]).median()
    med = med[rep["pattern"].value_counts().reindex(med.index) >= 100]
    assert med.idxmin() != truth["fastest_repeat_pattern"]
