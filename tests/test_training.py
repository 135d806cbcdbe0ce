"""Tests for casekit.training: the seed-case trace, the state machine, exercises, the game score."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from casekit import training


def test_builtin_trace_walks_the_procedure_to_settled_without_illegal_steps():
    walk = training.build_state_walk(training.build_nanpoyuan_trace())
    assert walk["allowed"].all()
    assert walk["state_after"].iloc[-1] == "SETTLED"
    # the second filing starts again at REGISTERED after the first round was CLOSED
    second = walk[walk["filing"] == 2].iloc[0]
    assert (second["state_before"], second["state_after"]) == ("CLOSED", "REGISTERED")


def test_builtin_trace_has_the_articles_mechanisms():
    acts = set(training.build_nanpoyuan_trace()["activity"])
    assert {"leader_case_ownership", "leader_field_visit", "joint_conference", "advance_funding",
            "special_fund_application", "follow_up_visit", "cessation_pledge"} <= acts


def test_state_walk_flags_a_step_the_machine_does_not_allow():
    trace = pd.DataFrame({"activity": ["register", "cessation_pledge", "accept"]})
    walk = training.build_state_walk(trace)
    assert walk["allowed"].tolist() == [True, False, True]
    assert walk["state_after"].tolist() == ["REGISTERED", "REGISTERED", "ACCEPTED"]


def test_trace_is_taken_from_events_holding_the_seed_matter():
    events = pd.DataFrame({
        "case_id": ["b", "a", "a", "x"],
        "timestamp": pd.to_datetime(["2023-03-01", "2023-01-01", "2023-01-05", "2023-01-02"]),
        "activity": ["register", "register", "close", "register"],
        "agency": ["p", "p", "s", "p"],
        "agency_type": ["petition_bureau", "petition_bureau", "street_office", "petition_bureau"],
        "matter_id": [training.NANPOYUAN_MATTER_ID] * 3 + ["M-other"],
    })
    trace = training.build_nanpoyuan_trace(events)
    assert trace.attrs["source"] == "sample"
    assert trace["case_id"].tolist() == ["a", "a", "b"]
    assert trace["filing"].tolist() == [1, 1, 2]


def test_events_without_the_seed_matter_fall_back_to_the_builtin_table():
    events = pd.DataFrame({"case_id": ["x"], "matter_id": ["M-1"], "activity": ["register"],
                           "timestamp": pd.to_datetime(["2023-01-01"])})
    assert training.build_nanpoyuan_trace(events).attrs["source"] == "built-in"


@pytest.mark.parametrize(("accepted", "extended", "expected"), [
    ("2023-01-31", False, dt.date(2023, 4, 1)),
    ("2023-01-31", True, dt.date(2023, 5, 1)),
    ("2024-02-01", False, dt.date(2024, 4, 1)),  # leap year: 60 calendar days
])
def test_handling_deadline_counts_60_calendar_days_plus_30_when_extended(accepted, extended, expected):
    assert training.handling_deadline(accepted, extended=extended) == expected


@pytest.mark.parametrize("exercise_id", sorted(training.EXERCISES))
def test_every_exercise_accepts_its_answer_and_rejects_a_wrong_one(exercise_id):
    spec = training.EXERCISES[exercise_id]
    assert training.check_answer(exercise_id, spec["answer"])[0]
    wrong = next(v for v, _ in spec["options"] if v not in spec["answer"])
    ok, feedback = training.check_answer(exercise_id, {wrong})
    assert not ok
    assert "Try again" in feedback


def test_check_answer_rejects_an_unknown_option():
    with pytest.raises(ValueError, match="unknown option"):
        training.check_answer("second_filing", {"bribe"})


def test_exercise_widget_checks_a_multi_select_headless():
    pytest.importorskip("ipywidgets")
    box = training.exercise_widget("joint_conference")
    box.choice.value = ("court",)
    box.check.click()
    assert box.correct is False
    box.choice.value = tuple(sorted(training.EXERCISES["joint_conference"]["answer"]))
    box.check.click()
    assert box.correct is True
    assert "正确" in box.feedback.value


def test_four_downward_shifts_are_marked_as_the_articles_term():
    table = training.FOUR_DOWNWARD_SHIFTS
    assert list(table["zh"]) == ["领导下沉", "制度下沉", "资源下沉", "服务下沉"]
    assert "未见其他来源" in table.attrs["note"]


def test_score_whatif_game_zeroes_teams_over_budget():
    teams = pd.DataFrame({
        "team": ["A", "B", "C"], "repeat_rate": [0.1, 0.2, 0.3],
        "median_days_to_close_repeat": [20.0, 30.0, 40.0],
        "share_settled_at_street_level": [0.9, 0.8, 0.7], "cost_yuan": [9e6, 1e5, 1e5],
    })
    scored = training.score_whatif_game(teams, budget_yuan=1e6)
    assert scored["team"].tolist() == ["B", "C", "A"]
    assert scored.set_index("team").loc["A", "over_budget"]
    # scaled among the teams within budget (changed on purpose, issue 12: the over-budget team
    # no longer takes the top ranks from the others): B best on all three, C worst, A zeroed
    assert scored["points"].tolist() == [100.0, 0.0, 0.0]
    assert scored.columns[:4].tolist() == ["team", "points", "cost_yuan", "over_budget"]


def test_score_whatif_game_scales_by_value_and_breaks_ties_by_cost():
    teams = pd.DataFrame({
        "team": ["A", "B", "C", "D"], "repeat_rate": [0.20, 0.30, 0.21, 0.20],
        "median_days_to_close_repeat": [30.0, 40.0, 31.0, 30.0],
        "share_settled_at_street_level": [0.8, 0.7, 0.79, 0.8],
        "cost_yuan": [5e5, 1e5, 1e5, 2e5],
    })
    scored = training.score_whatif_game(teams, budget_yuan=1e6).set_index("team")
    assert scored.loc["C", "points"] == pytest.approx(90.0)  # close to the best, not mid-rank
    assert scored.index.tolist() == ["D", "A", "C", "B"]  # D and A equal: the cheaper first


@pytest.fixture(scope="module")
def default_game() -> pd.DataFrame:
    return training.play_whatif_game(replications=4, seed=7)


def test_default_game_has_a_winner_within_budget(default_game):
    winner = default_game.iloc[0]
    assert not winner["over_budget"]
    assert winner["points"] > default_game["points"].iloc[1]  # one winner, not a tie
    assert (~default_game["over_budget"]).sum() >= 2  # a real contest, not a walkover


def test_game_budget_and_costs_follow_the_district(default_game):
    import casekit as ck

    attrs = default_game.attrs
    observed = ck.simulate_year(replications=4, seed=7)
    assert attrs["baseline_cost_yuan"] == pytest.approx(training.whatif_cost_yuan(observed))
    assert attrs["budget_yuan"] == pytest.approx(0.10 * attrs["baseline_cost_yuan"], abs=1)
    # costs are extra costs over the district as observed: the same levers cost nothing extra
    same = training.play_whatif_game({"as observed": {}}, replications=4, seed=7)
    assert same["cost_yuan"].iloc[0] == pytest.approx(0.0)
    # a smaller district (half of the sample's streets) gets a smaller budget
    cases = ck.build_case_table(ck.load_sample_events())
    streets = sorted(cases["street"].dropna().unique())
    small = ck.simulate.calibrate_baseline(cases[cases["street"].isin(streets[::2])])
    half = training.play_whatif_game({"x": {}}, baseline=small, replications=4, seed=7)
    assert 0 < half.attrs["budget_yuan"] < 0.8 * attrs["budget_yuan"]


def test_different_choices_give_different_scores(default_game):
    assert default_game["points"].nunique() == len(default_game)
    assert default_game["cost_yuan"].nunique() == len(default_game)


def test_game_table_shows_points_first_and_rounds_for_people(default_game):
    table = training.whatif_game_table(default_game)
    assert table.columns[:2].tolist() == ["组 team", "得分 points"]
    assert table["得分 points"].dtype.kind == "i"
    text = table.to_string()
    assert "e+" not in text
    assert "e-" not in text
    assert all(len(f"{v}".split(".")[-1]) <= 1 for v in table.iloc[:, 2])
