"""Tests of the dynamic synthetic district (casekit.synth, mode="dynamic"): agencies join open
cases over time, effects start when collaboration forms, competing exits, frailty, extracts."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

import casekit as ck
from casekit import synth
from casekit.cli import main

JOINERS = [j.type for j in synth._JOINERS]
FIRST_LINE = {"petition_bureau", "street_office", "town_government", "residents_committee",
              "villagers_committee"}


def _state(n: int, seed: int, **kwargs):
    """Events, truth and the generator's per-filing state (join times, exits, frailty)."""
    opts = {"start": "2023-01-01", "observation_end": None, "include_seed_matter": False,
            "mode": "dynamic", "effect_scale": 1.0, "start_cut": None,
            "frailty_variance": synth._FRAILTY_VARIANCE, **kwargs}
    return synth._generate(n, seed=seed, **opts)


@pytest.fixture(scope="module")
def world():
    return _state(6000, seed=3)


def _exit_times(events: pd.DataFrame) -> pd.Series:
    exits = events["activity"].isin(["close", *ck.schema.COMPETING_EXITS])
    return events[exits].groupby("case_id")["timestamp"].min()


# ------------------------------------------------------------------------------------------
# Determinism; the up-front mode is unchanged
# ------------------------------------------------------------------------------------------


def test_same_seed_same_bytes_in_dynamic_mode(tmp_path):
    out = []
    for name, seed in (("a", 4), ("b", 4), ("c", 5)):
        ev, tr = synth.write_district(tmp_path / f"{name}.csv", 600, seed=seed,
                                      start_cut="2023-03-01", effect_scale=0.5)
        out.append((ev.read_bytes(), tr.read_bytes()))
    assert out[0] == out[1]
    assert out[0][0] != out[2][0]


def test_upfront_mode_reproduces_the_old_generator_byte_for_byte(tmp_path):
    # digests of the files written by the generator before the dynamic mode existed
    path, tpath = synth.write_district(tmp_path / "d.csv", 500, seed=7, mode="upfront",
                                       include_seed_matter=False)
    assert hashlib.md5(path.read_bytes()).hexdigest() == "35f5ac5b131125535abcf22f2eab01ee"
    assert hashlib.md5(tpath.read_bytes()).hexdigest() == "600bdb56cb55f8a49b434780a0a5ad80"


def test_dynamic_is_the_default_and_differs_from_upfront():
    dyn, t_dyn = synth.generate_district(300, seed=1)
    up, t_up = synth.generate_district(300, seed=1, mode="upfront")
    assert t_dyn["mode"] == "dynamic"
    assert "mode" not in t_up  # the old truth file, key for key
    assert len(dyn) != len(up) or not dyn.equals(up)
    assert list(dyn.columns) == list(up.columns)


def test_bad_mode_options_raise_readable_errors():
    with pytest.raises(ck.CasekitError, match="mode must be one of"):
        synth.generate_district(10, mode="later")
    with pytest.raises(ck.CasekitError, match="effect_scale"):
        synth.generate_district(10, effect_scale=-1)
    with pytest.raises(ck.CasekitError, match="dynamic"):
        synth.generate_district(10, mode="upfront", effect_scale=0)
    with pytest.raises(ck.CasekitError, match="start_cut"):
        synth.generate_district(10, start_cut="2022-01-01")
    with pytest.raises(ck.CasekitError, match="not a date"):
        synth.generate_district(10, start_cut="someday")


# ------------------------------------------------------------------------------------------
# Agencies join over time, only while the case is open
# ------------------------------------------------------------------------------------------


def test_joiners_act_late_and_only_before_the_exit(world):
    events, truth, f = world
    joined = np.isfinite(f["join"])
    assert 0.2 < joined.any(axis=1).mean() < 0.5
    assert (f["join"][joined] > 3).mean() > 0.9  # nobody joins in the first days
    assert (f["join"] < f["T"][:, None])[joined].all()  # a join after the exit does not happen
    ev = events.assign(opened=events.groupby("case_id")["timestamp"].transform("min"),
                       exit_t=events["case_id"].map(_exit_times(events)))
    first = ev[ev["agency_type"].isin(JOINERS)].groupby(["case_id", "agency_type"]).first()
    days = (first["timestamp"] - first["opened"]) / pd.Timedelta(days=1)
    assert (days > 3).mean() > 0.9
    ended = first["exit_t"].notna()
    assert (first.loc[ended, "timestamp"] < first.loc[ended, "exit_t"]).all()
    assert truth["observed"]["share_joins_after_day_3"] > 0.9


def test_first_line_acts_first_and_the_lead_handles(world):
    events, _, _ = world
    g = events.groupby("case_id")
    assert (g["activity"].first() == "register").all()
    assert (g["agency_type"].first() == "petition_bureau").all()
    accepted = events[events["activity"] == "accept"]
    assert set(accepted["agency_type"]) == {"street_office", "town_government"}
    street = events.groupby("case_id")["street"].first()
    lead_street = accepted.set_index("case_id")["agency"].str.endswith("街道办事处")
    assert (lead_street == street.reindex(lead_street.index).str.endswith("街道")).all()


def test_agencies_acting_after_the_exit_are_not_part_of_the_pattern(world):
    events, truth, _ = world
    exit_t = events["case_id"].map(_exit_times(events))
    justice = events[events["agency_type"] == "justice_office"]
    assert len(justice) > 50
    assert (justice["timestamp"] > exit_t[justice.index]).all()
    assert set(justice["activity"]) == {"follow_up_visit"}
    planted = set(truth["pattern_hazard_multiplier"]["repeat"])
    assert not any("justice_office" in p for p in planted)


def test_pattern_support_agrees_with_an_independent_count_from_the_events(world):
    """Patterns in force, from the log alone: types' first actions strictly before the exit."""
    events, truth, _ = world
    ev = events.assign(exit_t=events["case_id"].map(_exit_times(events)))
    end = pd.Timestamp(truth["observation_end"])
    ev = ev[ev["timestamp"] < ev["exit_t"].fillna(end)]
    first = ev.groupby(["case_id", "agency_type"])["timestamp"].min().reset_index()
    types = sorted(set(first["agency_type"]))
    first["bit"] = first["agency_type"].map({t: 1 << i for i, t in enumerate(types)})
    # same-second first actions join together; the pattern after each step is in force
    steps = first.groupby(["case_id", "timestamp"], sort=True)["bit"].sum().reset_index()
    steps["mask"] = steps.groupby("case_id")["bit"].cumsum()
    rep = events.groupby("case_id")["repeat_ordinal"].first() >= 2
    steps["label"] = np.where(steps["case_id"].map(rep), "repeat", "first")
    tally = steps.groupby(["label", "mask"]).size()
    counts = {(lab, "+".join(t for i, t in enumerate(types) if m >> i & 1)): int(n)
              for (lab, m), n in tally.items()}
    for label in ("first", "repeat"):
        for pattern, n in truth["pattern_support"][label].items():
            if pattern.count("+") >= 2:  # full first line or more (no sub-second ties there)
                assert counts.get((label, pattern), 0) == pytest.approx(n, abs=2), pattern


# ------------------------------------------------------------------------------------------
# Frailty, competing exits, the extract
# ------------------------------------------------------------------------------------------


def test_filings_of_a_matter_share_a_frailty_and_it_correlates_their_durations():
    def pair_corr(variance: float) -> float:
        _, _, f = _state(20_000, seed=8, frailty_variance=variance)
        df = pd.DataFrame({"m": f["matter"], "k": f["ordinal"], "T": f["T"], "e": f["exit"],
                           "fr": f["frailty"]})
        assert (df.groupby("m")["fr"].nunique() == 1).all()  # noqa: PD101
        done = df[df["e"] == 0]
        w = done.pivot_table(index="m", columns="k", values="T").dropna(subset=[1, 2])
        return float(w[1].rank().corr(w[2].rank()))

    _, truth, f = _state(20_000, seed=8)
    assert truth["frailty"]["variance"] == 0.5
    assert np.var(np.unique(f["frailty"])) == pytest.approx(0.5, rel=0.15)
    assert pair_corr(0.5) > pair_corr(0.0) + 0.08


def test_competing_exits_are_present_with_chinese_labels(world):
    events, truth, f = world
    acts = set(events["activity"])
    assert set(ck.schema.COMPETING_EXITS) <= acts
    for ident in ck.schema.COMPETING_EXITS:
        assert ck.to_identifier(ck.label_of(ident, "activity"), "activity") == ident
    assert ck.to_identifier("撤回", "activity") == "withdraw"
    assert ck.to_identifier("转出", "activity") == "transfer_out"
    assert ck.to_identifier("移出", "activity") == "transfer_out"
    seen = f["t0"] + f["T"] < (pd.Timestamp(truth["observation_end"])
                               - pd.Timestamp(truth["start"])).days
    share = ((f["exit"] != 0) & seen).mean()
    assert 0.10 <= share <= 0.16
    assert truth["observed"]["share_competing_exit"] == pytest.approx(share, abs=1e-4)
    # exactly one exit per ended case; a competing exit is never followed by a close
    first_exit = events[events["activity"].isin(["close", *ck.schema.COMPETING_EXITS])]
    first_exit = first_exit.groupby("case_id")["activity"].first()
    competing = first_exit[first_exit != "close"].index
    closes = events[(events["activity"] == "close") & events["case_id"].isin(competing)]
    assert closes.empty
    # declined cases were never accepted; routing is more likely once the court has joined
    declined = first_exit[first_exit == "decline_intake"].index
    assert not events[(events["activity"] == "accept") & events["case_id"].isin(declined)].size
    court = np.isfinite(f["join"][:, 0])
    route = f["exit"] == synth._EXIT_CODES.index("route_to_legal_procedure")
    assert route[court].mean() > 3 * route[~court].mean()
    assert truth["exit_model"]["competing"] == list(ck.schema.COMPETING_EXITS)


def test_start_cut_gives_prevalent_cases_and_opened_at():
    events, truth = synth.generate_district(3000, seed=2, start_cut="2023-04-01")
    cut = pd.Timestamp("2023-04-01")
    assert events["timestamp"].min() >= cut
    assert (events.groupby("case_id")["opened_at"].nunique() == 1).all()  # noqa: PD101
    opened = events.groupby("case_id")["opened_at"].first()
    prevalent = opened < cut
    assert truth["n_prevalent"] == int(prevalent.sum()) > 100
    assert truth["start_cut"] == "2023-04-01T00:00:00"
    assert truth["n_cases"] == events["case_id"].nunique() < 3000
    first = events.groupby("case_id")["activity"].first()
    assert (first[prevalent] != "register").mean() > 0.95
    assert (first[~prevalent] == "register").all()
    assert truth["seed_matter"] is None
    assert list(events.columns)[-1] == "opened_at"


def test_no_start_cut_no_opened_at_column(world):
    events, truth, _ = world
    assert "opened_at" not in events.columns
    assert truth["start_cut"] is None and truth["n_prevalent"] == 0


# ------------------------------------------------------------------------------------------
# The truth
# ------------------------------------------------------------------------------------------


def test_truth_keys_and_pattern_multipliers_are_products_of_type_multipliers(world):
    _, truth, _ = world
    for key in ("mode", "effect_scale", "type_hazard_multiplier", "pattern_support", "frailty",
                "exit_model", "joining_model", "start_cut", "n_prevalent", "reference_pattern",
                "pattern_hazard_multiplier", "fastest_repeat_pattern", "planted_order_repeat",
                "hazard_model", "observation_end", "share_open", "share_repeat_filings"):
        assert key in truth, key
    types = truth["type_hazard_multiplier"]
    k = truth["hazard_model"]["pattern_exponent_repeat"]
    for t in JOINERS:
        assert types["repeat"][t] == pytest.approx(types["first"][t] ** k, rel=1e-5)
        assert 0.5 <= types["repeat"][t] <= 2.5
    hr = truth["pattern_hazard_multiplier"]
    for label in ("first", "repeat"):
        for pattern, m in hr[label].items():
            parts = pattern.split("+")
            assert set(parts) <= FIRST_LINE | set(JOINERS)
            expected = np.prod([types[label].get(p, 1.0) for p in parts])
            assert m == pytest.approx(expected, rel=1e-5)
        assert hr[label][truth["reference_pattern"]] == 1.0
        assert set(truth["pattern_support"][label]) <= set(hr[label])
    sup = truth["pattern_support"]["repeat"]
    eligible = {p: hr["repeat"][p] for p, n in sup.items() if n >= 30}
    assert truth["fastest_repeat_pattern"] == max(eligible, key=eligible.get)
    assert truth["planted_order_repeat"][0] == truth["fastest_repeat_pattern"]
    assert set(truth["planted_order_repeat"]) == set(eligible)
    json.dumps(truth)


def test_null_district_has_all_multipliers_one():
    _, truth = synth.generate_district(2000, seed=6, effect_scale=0)
    assert truth["effect_scale"] == 0
    for label in ("first", "repeat"):
        assert set(truth["type_hazard_multiplier"][label].values()) == {1.0}
        assert set(truth["pattern_hazard_multiplier"][label].values()) == {1.0}


@pytest.mark.parametrize("seed", [1, 2])
def test_sizes_at_20000_cases(seed):
    _, truth, f = _state(20_000, seed=seed)
    assert 0.24 <= truth["share_repeat_filings"] <= 0.31
    assert 0.10 <= truth["observed"]["share_competing_exit"] <= 0.16
    sup = truth["pattern_support"]["repeat"]
    full = [p for p, n in sup.items() if n >= 30 and p.count("+") >= 3]  # with a joiner
    assert 8 <= len(full) <= 25
    top = truth["fastest_repeat_pattern"]
    assert sup[top] >= 100
    hr = truth["pattern_hazard_multiplier"]["repeat"]
    second = hr[truth["planted_order_repeat"][1]]
    assert hr[top] / second >= 1.2  # the fastest is clearly the fastest


def test_whole_case_patterns_look_slow_even_when_collaboration_does_nothing():
    """The trap the district is built to show: with no effect at all, cases that acquired a
    joiner have long raw durations (they had to stay open to acquire it)."""
    _, _, f = _state(20_000, seed=4, effect_scale=0.0, frailty_variance=0.0)
    closed = f["exit"] == 0
    with_joiner = np.isfinite(f["join"]).any(axis=1)
    slow = np.median(f["T"][closed & with_joiner])
    fast = np.median(f["T"][closed & ~with_joiner])
    assert slow > 1.5 * fast


# ------------------------------------------------------------------------------------------
# The planted type multipliers are recoverable (piecewise-exponential Poisson model)
# ------------------------------------------------------------------------------------------


def _counting_rows(f: dict, span: float, sel: np.ndarray) -> dict[str, np.ndarray]:
    """(start, stop] rows split at the join times and the baseline breaks; censored at the
    observation end and at competing exits."""
    stop_all = np.minimum(f["T"], span - f["t0"])[sel]
    event = ((f["exit"] == 0) & (f["T"] < span - f["t0"]))[sel]
    join = f["join"][sel]
    n = stop_all.size
    breaks = np.broadcast_to(np.asarray(synth._BASE_BREAKS[1:]), (n, len(synth._BASE_BREAKS) - 1))
    cuts = np.concatenate([np.zeros((n, 1)), join, breaks, stop_all[:, None]], axis=1)
    cuts = np.sort(np.minimum(cuts, stop_all[:, None]), axis=1)
    lo, hi = cuts[:, :-1], cuts[:, 1:]
    row, col = np.nonzero(hi > lo)
    start, stop = lo[row, col], hi[row, col]
    return {"case": row, "start": start, "stop": stop,
            "event": event[row] & (stop == stop_all[row]),
            "segment": np.searchsorted(np.asarray(synth._BASE_BREAKS), start, side="right") - 1,
            "joined": join[row] <= start[:, None],
            "category": f["category"][sel][row]}


def _poisson_fit(y: np.ndarray, exposure: np.ndarray, x: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood Poisson regression with log(exposure) offset (Newton)."""
    beta = np.zeros(x.shape[1])
    beta[0] = np.log(y.sum() / exposure.sum())
    for _ in range(50):
        mu = exposure * np.exp(x @ beta)
        info = x.T @ (x * mu[:, None])
        step = np.linalg.solve(info, x.T @ (y - mu))
        beta += step
        if np.abs(step).max() < 1e-10:
            break
    mu = exposure * np.exp(x @ beta)
    se = np.sqrt(np.diag(np.linalg.inv(x.T @ (x * mu[:, None]))))
    return beta, se


@pytest.mark.parametrize("label", ["first", "repeat"])
def test_planted_type_multipliers_are_recovered(label):
    _, truth, f = _state(30_000, seed=5, frailty_variance=0.0)
    span = (pd.Timestamp(truth["observation_end"]) - pd.Timestamp(truth["start"])).days
    sel = (f["ordinal"] >= 2) if label == "repeat" else (f["ordinal"] == 1)
    r = _counting_rows(f, float(span), sel)
    n_seg = len(synth._BASE_BREAKS)
    seg = np.eye(n_seg)[r["segment"]]
    cat = np.eye(len(synth._CATEGORY_IDS))[r["category"]][:, :-1]  # reference: other
    x = np.column_stack([seg, cat, r["joined"]])
    beta, se = _poisson_fit(r["event"].astype(float), r["stop"] - r["start"], x)
    est, se = beta[-len(JOINERS):], se[-len(JOINERS):]
    planted = np.log([truth["type_hazard_multiplier"][label][t] for t in JOINERS])
    z = (est - planted) / se
    assert np.abs(z).max() < 3.5, dict(zip(JOINERS, np.round(np.exp(est), 3), strict=True))
    assert (np.abs(z) < 2).mean() >= 0.75
    # the category multipliers too (relative to "other")
    cat_hr = np.log([truth["hazard_model"]["category_multiplier"][c]
                     for c in synth._CATEGORY_IDS[:-1]])
    z_cat = (beta[n_seg:n_seg + cat_hr.size] - cat_hr) / np.sqrt(
        np.diag(np.linalg.inv(x.T @ (x * ((r["stop"] - r["start"]) * np.exp(x @ beta))[:, None])
                              ))[n_seg:n_seg + cat_hr.size])
    assert np.abs(z_cat).max() < 3.5


# ------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------


def test_cli_mode_effect_scale_and_start_cut(tmp_path, capsys):
    out = tmp_path / "n.csv"
    assert main(["synth", "--cases", "800", "--seed", "2", "--effect-scale", "0",
                 "--start-cut", "2023-05-01", "--out", str(out)]) == 0
    truth = json.loads((tmp_path / "n.truth.json").read_text(encoding="utf-8"))
    assert truth["mode"] == "dynamic" and truth["effect_scale"] == 0
    assert truth["start_cut"] == "2023-05-01T00:00:00"
    text = capsys.readouterr().out
    assert "prevalent" in text and "dynamic mode" in text
    head = pd.read_csv(out, nrows=5)
    assert "opened_at" in head.columns
    up = tmp_path / "u.csv"
    assert main(["synth", "--cases", "300", "--seed", "2", "--mode", "upfront",
                 "--out", str(up)]) == 0
    ref, _ = synth.write_district(tmp_path / "r.csv", 300, seed=2, mode="upfront")
    assert up.read_bytes() == ref.read_bytes()


def test_cli_rejects_a_negative_effect_scale(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--cases", "10", "--effect-scale", "-1", "--out", str(tmp_path / "a.csv")])
    assert exc.value.code == 2
    assert "--effect-scale" in capsys.readouterr().err


def test_tiny_districts_and_an_empty_extract():
    for n in (1, 2, 3):
        events, truth = synth.generate_district(n, seed=n)
        assert events["case_id"].nunique() == truth["n_cases"] == n
        json.dumps(truth)
    _, truth = synth.generate_district(2, seed=2)  # the seed matter alone: nothing planted
    assert truth["fastest_repeat_pattern"] is None
    with pytest.raises(ck.CasekitError, match="leaves no events"):
        synth.generate_district(5, seed=1, start_cut="2023-12-30")
    events, truth = synth.generate_district(200, seed=1, mode="upfront", start_cut="2023-06-01")
    assert truth["mode"] == "upfront" and truth["n_prevalent"] > 0
    assert events.attrs["casekit"]["start_cut"] == "2023-06-01T00:00:00"


# ------------------------------------------------------------------------------------------
# Mechanisms with planted effects; a planted policy change (issue #13 item 4)
# ------------------------------------------------------------------------------------------


def test_mechanism_events_happen_at_their_planned_times_before_the_exit(world):
    events, truth, f = world
    eff = truth["mechanism_effects"]
    assert eff["leader_case_ownership"]["close_hazard_multiplier"] == 1.5
    assert eff["follow_up_visit"]["refile_probability_multiplier"] == 0.6
    assert "leader_field_visit" in eff["markers_only"]
    start = pd.Timestamp(truth["start"])
    exits = _exit_times(events)
    for act, col in (("leader_case_ownership", "own_t"), ("mediate", "med_t")):
        logged = events[(events["activity"] == act) & events["case_id"].isin(f["case_id"])
                        & ~events["agency_type"].isin(JOINERS)]  # not a joiner's mediation
        planned = pd.Series(f[col], index=f["case_id"])
        planned = planned[np.isfinite(planned)]
        first = logged.groupby("case_id")["timestamp"].min()
        assert set(first.index) <= set(planned.index)
        days = (first - start) / pd.Timedelta(days=1)
        t0 = pd.Series(f["t0"], index=f["case_id"])[first.index]
        np.testing.assert_allclose(days - t0, planned[first.index], atol=1e-4)
        assert (first < exits.reindex(first.index).fillna(pd.Timestamp.max)).all()


def _refile_ratio(events: pd.DataFrame) -> float:
    """P(the matter is filed again | repeat filing owned) / P(... | not owned)."""
    cases = events.drop_duplicates("case_id")[["case_id", "matter_id", "repeat_ordinal"]]
    owned = set(events.loc[events["activity"] == "leader_case_ownership", "case_id"])
    last = cases.groupby("matter_id")["repeat_ordinal"].transform("max")
    rep = cases[cases["repeat_ordinal"] >= 2]
    again = rep["repeat_ordinal"] < last[rep.index]
    is_owned = rep["case_id"].isin(owned)
    return float(again[is_owned].mean() / again[~is_owned].mean())


def test_leader_ownership_lowers_re_filing_and_scale_zero_removes_it():
    planted = ck.generate_district(20_000, seed=11, include_seed_matter=False)[0]
    markers = ck.generate_district(20_000, seed=11, include_seed_matter=False,
                                   mechanism_scale=0)[0]
    assert 0.4 <= _refile_ratio(planted) <= 0.8  # planted 0.6 (x mediation, censoring)
    assert 0.8 <= _refile_ratio(markers) <= 1.25


def test_policy_change_raises_the_owned_share_of_repeat_filings(tmp_path):
    events, truth = ck.generate_district(
        12_000, seed=2, observation_end="2025-01-01", include_seed_matter=False,
        policy_change={"date": "2024-01-01", "leader_ownership_share": 0.6})
    pc = truth["policy_change"]
    assert (pc["date"], pc["before"], pc["after"]) == ("2024-01-01T00:00:00", 0.2, 0.6)
    assert pc["true_effects"]["refile_probability_multiplier"] == 0.6
    cases = ck.build_case_table(events)
    rep = cases[cases["repeat_ordinal"] >= 2]
    owned = rep["case_id"].isin(events.loc[events["activity"] == "leader_case_ownership",
                                           "case_id"])
    after = pd.to_datetime(rep["opened_at"]) >= pd.Timestamp("2024-01-01")
    shares = owned.groupby(after).mean()
    assert 0.16 <= shares[False] <= 0.24
    assert 0.55 <= shares[True] <= 0.65
    assert shares[True] == pytest.approx(pc["realised_share_owned"]["after"], abs=0.01)
    # the simulator reads the same lever value from the log
    base = ck.calibrate_baseline(cases, events=events)
    assert base.observed["leader_ownership_share"] == pytest.approx(owned.mean(), abs=1e-9)


def test_no_policy_change_keeps_the_share_and_records_none(world):
    _, truth, _ = world
    pc = truth["policy_change"]
    assert pc["date"] is None
    assert 0.15 <= pc["realised_share_owned"]["before"] <= 0.25


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"policy_change": {"date": "2024-06-01", "leader_ownership_share": 0.6}},
     "must lie after start"),
    ({"policy_change": {"date": "2023-06-01", "one_stop_center": 1.0}}, "unknown lever"),
    ({"policy_change": {"date": "2023-06-01", "leader_ownership_share": 1.5}}, r"in \[0, 1\]"),
    ({"policy_change": {"leader_ownership_share": 0.5}}, "expected"),
    ({"policy_change": {"date": "2023-06-01", "leader_ownership_share": 0.5},
      "mode": "upfront"}, "mode='dynamic' only"),
    ({"mechanism_scale": -1}, "mechanism_scale must be"),
])
def test_bad_policy_changes_raise_one_line_errors(kwargs, message):
    with pytest.raises(ck.CasekitError, match=message):
        ck.generate_district(100, seed=1, **kwargs)


def test_cli_policy_change(tmp_path, capsys):
    out = tmp_path / "d.csv"
    assert main(["synth", "--cases", "800", "--out", str(out), "--observation-end",
                 "2025-01-01", "--policy-change", "2024-01-01:leader_ownership_share=0.6"]) == 0
    assert "policy change on 2024-01-01" in capsys.readouterr().out
    truth = json.loads(synth.truth_path_for(out).read_text(encoding="utf-8"))
    assert truth["policy_change"]["after"] == 0.6
    with pytest.raises(SystemExit) as exc:
        main(["synth", "--cases", "80", "--out", str(tmp_path / "e.csv"),
              "--policy-change", "2024-01-01"])
    assert exc.value.code == 2
    assert "DATE:LEVER=VALUE" in capsys.readouterr().err
