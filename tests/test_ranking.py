"""The ranking (casekit.ranking): methods, exits, honest ranks, the CLI."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import casekit as ck
from casekit.cli import main
from casekit.ranking import NothingToRankError, WholeCasePatternWarning

T0 = pd.Timestamp("2024-01-01")


def _late_court_log(n: int = 1500, *, court_effect: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """Cases close at a constant hazard; the court joins open cases at its own constant rate.

    With ``court_effect=1`` the court changes nothing, yet whole-case patterns make
    ``court+...`` look slow (only long cases live long enough to draw the court in).
    """
    rng = np.random.default_rng(seed)
    join = rng.exponential(20.0, n)
    e1 = rng.exponential(1.0, n)
    rate = 1 / 15.0
    # closing time with the hazard multiplied by court_effect after the court joins
    t_close = np.where(e1 < rate * join, e1 / rate, join + (e1 - rate * join) / (rate * court_effect))
    end = 120.0
    rows = []
    for i in range(n):
        cid = f"c{i:05d}"
        rows.append((cid, T0, "register", "bureau", "petition_bureau"))
        rows.append((cid, T0 + pd.Timedelta(hours=1), "transfer", "street 1", "street_office"))
        if join[i] < min(t_close[i], end):
            rows.append((cid, T0 + pd.Timedelta(days=join[i]), "investigate", "court 1", "court"))
        if t_close[i] < end:
            rows.append((cid, T0 + pd.Timedelta(days=t_close[i]), "close", "street 1",
                         "street_office"))
    ev = pd.DataFrame(rows, columns=["case_id", "timestamp", "activity", "agency", "agency_type"])
    ev.attrs["casekit"] = {"observation_end": str(T0 + pd.Timedelta(days=end))}
    return ev


def _rank(ev: pd.DataFrame, **kw) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WholeCasePatternWarning)
        warnings.simplefilter("ignore", ck.survival.ProportionalHazardsWarning)
        return ck.rank_collaborations(ev, repeat_only=False, min_cases=20, cluster="none", **kw)


def test_time_varying_removes_the_immortal_time_bias() -> None:
    ev = _late_court_log()
    tv = _rank(ev).set_index("pattern")
    wc = _rank(ev, method="whole-case").set_index("pattern")
    court = "court+petition_bureau+street_office"
    # the court does nothing: the time-varying interval covers 1, the whole-case one does not
    assert tv.loc[court, "hr_ci_low"] <= 1.0 <= tv.loc[court, "hr_ci_high"]
    assert wc.loc[court, "hr_ci_high"] < 0.8


def test_time_varying_finds_a_real_effect() -> None:
    tv = _rank(_late_court_log(court_effect=2.0, seed=1)).set_index("pattern")
    court = "court+petition_bureau+street_office"
    assert tv.loc[court, "hr_ci_low"] <= 2.0 <= tv.loc[court, "hr_ci_high"]
    assert tv.loc[court, "hr_ci_low"] > 1.2
    assert tv.index[0] == court
    assert bool(tv.loc[court, "in_best_set"])


def test_ranking_columns_and_attrs_are_plain() -> None:
    r = _rank(_late_court_log(600, seed=2))
    assert list(r.columns) == list(ck.ranking.RANKING_COLUMNS)
    assert r["method"].eq("time-varying").all()
    for key, value in r.attrs.items():  # scalars and strings only
        assert isinstance(value, (str, int, float, bool, pd.Timestamp, type(None))), key
    # two rankings merge on pattern (DataFrames in attrs used to break this under pandas 3)
    merged = r.merge(_rank(_late_court_log(600, seed=2), method="landmark-10"), on="pattern")
    assert len(merged) >= 1
    back = pickle.loads(pickle.dumps(r))
    pd.testing.assert_frame_equal(back, r)
    assert back.attrs == r.attrs
    pd.testing.assert_frame_equal(ck.excluded_patterns(back), ck.excluded_patterns(r))
    assert r["p_best"].sum() == pytest.approx(1.0, abs=1e-9)
    assert (r["rank_low"] <= r["rank_high"]).all()
    assert r["in_best_set"].any()


def test_competing_exit_is_not_a_close() -> None:
    ev = pd.DataFrame({
        "case_id": ["a", "a", "b", "b", "c", "c"],
        "timestamp": [T0, T0 + pd.Timedelta(days=5), T0, T0 + pd.Timedelta(days=3), T0,
                      T0 + pd.Timedelta(days=8)],
        "activity": ["register", "close", "register", "decline_intake", "register", "close"],
        "agency": ["x", "x", "x", "x", "x", "x"],
        "agency_type": ["petition_bureau"] * 6,
    })
    iv = ck.build_case_intervals(ev, observation_end=T0 + pd.Timedelta(days=30))
    b = iv[iv["case_id"] == "b"].iloc[-1]
    assert b["event"] == 0 and b["exit_type"] == "declined" and b["stop"] == 3.0


def test_nothing_to_rank_names_the_label_map() -> None:
    ev = _late_court_log(200)
    ev = ev[ev["activity"] != "close"]
    with pytest.raises(NothingToRankError, match="label"):
        _rank(ev)


def test_landmark_counts_the_cases_it_loses() -> None:
    ev = _late_court_log(800, seed=3)
    r = _rank(ev, method="landmark", landmark_days=10)
    assert r["method"].iloc[0] == "landmark-10"
    assert "left before day 10" in r.attrs["notes"]
    with pytest.raises(ck.CasekitError, match="method"):
        _rank(ev, method="sideways")


def test_whole_case_warns() -> None:
    cases = ck.build_case_table(_late_court_log(300))
    with pytest.warns(WholeCasePatternWarning):
        ck.rank_collaborations(cases, method="whole-case", repeat_only=False, min_cases=20)
    with pytest.raises(ck.CasekitError, match="intervals"):
        ck.rank_collaborations(cases, repeat_only=False)


def test_excluded_patterns_have_their_reason() -> None:
    # every case spends its first hour with the petition bureau alone: many cases, no closure
    r = _rank(_late_court_log(400, seed=4))
    ex = ck.excluded_patterns(r).set_index("pattern")
    assert ex.loc["petition_bureau", "n_cases"] == 400
    assert ex.loc["petition_bureau", "reason"] == "fewer than 5 closures while in force"
    assert "petition_bureau" not in set(r["pattern"])


def test_describe_ranking_names_the_set_when_unsure() -> None:
    sure = pd.DataFrame({"pattern": ["a", "b"], "p_best": [0.93, 0.07],
                         "in_best_set": [True, False], "ranked_by": "adjusted_hazard_ratio"})
    assert ck.describe_ranking(sure) == "fastest: a; P(fastest) = 0.93"
    unsure = sure.assign(p_best=[0.5, 0.5], in_best_set=[True, True])
    assert "a or b" in ck.describe_ranking(unsure)


def test_agency_type_model_reads_per_type() -> None:
    ev = _late_court_log(1500, court_effect=2.0, seed=5)
    iv = ck.build_case_intervals(ev)
    res = ck.fit_time_varying_cox(iv, cluster="none").set_index("level")
    assert res.loc["court", "hr_ci_low"] <= 2.0 <= res.loc["court", "hr_ci_high"]


def test_cli_rank_writes_the_honest_columns(tmp_path, capsys) -> None:
    path = tmp_path / "log.csv"
    _late_court_log(800, court_effect=2.0, seed=6).to_csv(path, index=False)
    out = tmp_path / "r.csv"
    code = main(["rank", str(path), "--all-filings", "--min-cases", "20", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "method: time-varying" in printed and "fastest" in printed
    r = pd.read_csv(out)
    for col in ("method", "p_holm", "p_best", "in_best_set", "rank_low", "rank_high",
                "cif_30", "cif_60", "cif_90"):
        assert col in r
    assert (tmp_path / "r.excluded.csv").exists()


def test_cli_rank_exits_1_without_closures(tmp_path, capsys) -> None:
    ev = _late_court_log(100)
    path = tmp_path / "log.csv"
    ev[ev["activity"] != "close"].to_csv(path, index=False)
    code = main(["rank", str(path), "--all-filings", "--out", str(tmp_path / "r.csv")])
    assert code == 1
    assert "--labels" in capsys.readouterr().err


def test_cli_rank_on_the_sample_equals_the_in_memory_ranking(tmp_path) -> None:
    """``casekit rank --method whole-case --all-filings`` writes the library's ranking."""
    from pathlib import Path

    from casekit.cli import main

    src = Path(ck.__file__).parent / "datasets" / "sample_events.csv.gz"
    out = tmp_path / "ranking.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["rank", str(src), "--method", "whole-case", "--all-filings",
                     "--out", str(out)]) == 0
        ref = ck.rank_collaborations(ck.build_case_table(ck.read_events(src)),
                                     method="whole-case", repeat_only=False)
    got = pd.read_csv(out)
    assert got["pattern"].tolist() == ref["pattern"].tolist()
    assert got["n_cases"].tolist() == ref["n_cases"].tolist()
    for col in ("median_days", "hazard_ratio", "p_best"):
        np.testing.assert_allclose(got[col].to_numpy(float), ref[col].to_numpy(float),
                                   rtol=1e-5, equal_nan=True)
    ex = pd.read_csv(out.with_name("ranking.excluded.csv"))
    assert ex["pattern"].tolist() == ck.excluded_patterns(ref)["pattern"].tolist()
