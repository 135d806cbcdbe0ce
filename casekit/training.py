"""Teaching material as data: the Chaoyang 南坡园 case, the procedure state machine, exercises.

Used by the notebooks in ``notebooks/training/`` (no logic lives in the notebooks). Everything here
is plain data plus small pure functions; the self-checking exercise widgets import ipywidgets
inside :func:`exercise_widget` only, so ``import casekit.training`` stays light.

Source of the case (paraphrased, never quoted at length): 欧汉华、方楚群、郑望凡,
《广东汕头潮阳：服务群众零距离 把信访工作做到群众心坎上》, 中国法事网, 2023-10-16
(:data:`SEED_SOURCE`). The mapping of the story onto the 2022 procedure follows
``domain/petition-work.md`` §b3 and is our reading of the article, not an official record.
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from casekit._utils import CasekitError, as_generator

__all__ = [
    "DEFAULT_GAME_TEAMS",
    "EXERCISES",
    "FOUR_DOWNWARD_SHIFTS",
    "HANDLING_MODES_TABLE",
    "NANPOYUAN_MATTER_ID",
    "SEED_SOURCE",
    "STATES",
    "TRANSITIONS",
    "build_nanpoyuan_trace",
    "build_state_walk",
    "check_answer",
    "exercise_widget",
    "handling_deadline",
    "next_state",
    "play_whatif_game",
    "score_whatif_game",
    "whatif_cost_yuan",
    "whatif_game_budget",
    "whatif_game_row",
    "whatif_game_table",
    "write_practice_export",
]

#: Bibliographic record of the seed article (cite it whenever the case is shown).
SEED_SOURCE: dict[str, str] = {
    "title_zh": "广东汕头潮阳：服务群众零距离 把信访工作做到群众心坎上",
    "outlet_zh": "中国法事网",
    "authors_zh": "欧汉华、方楚群、郑望凡",
    "date": "2023-10-16",
    "citation_zh": "欧汉华、方楚群、郑望凡：《广东汕头潮阳：服务群众零距离 把信访工作做到群众心坎上》，"
    "中国法事网，2023年10月16日。",
    "citation_en": "Ou Hanhua, Fang Chuqun and Zheng Wangfan, 'Chaoyang, Shantou, Guangdong: serving the "
    "people at zero distance', China Fashi Net (中国法事网), 16 October 2023.",
    "note_en": "Paraphrased; the mapping onto the procedure is casekit's reading of the article.",
}

#: ``matter_id`` of the seed case in the synthetic sample (when the generator plants it).
NANPOYUAN_MATTER_ID = "M-NANPOYUAN"

# --------------------------------------------------------------------------------------------
# The procedure state machine (domain/petition-work.md §b2, 信访工作条例 2022)
# --------------------------------------------------------------------------------------------

#: States of a petition matter: identifier -> (中文, English).
STATES: dict[str, tuple[str, str]] = {
    "RECEIVED": ("收到", "received"),
    "REGISTERED": ("已登记", "registered"),
    "TRANSFERRED": ("已转送/交办", "transferred or assigned"),
    "NOT_ACCEPTED": ("不予受理", "not accepted"),
    "ACCEPTED": ("已受理", "accepted"),
    "UNDER_HANDLING": ("办理中", "under handling"),
    "CLOSED": ("已办结", "closed"),
    "REVIEW": ("复查中", "under review"),
    "RE_REVIEW": ("复核中", "under re-review"),
    "TERMINATED": ("不再受理", "terminated (no longer accepted)"),
    "SETTLED": ("息诉罢访", "settled (petitioning ceased)"),
}

_HANDLING_ACTIVITIES = (
    "investigate", "hearing", "joint_conference", "joint_reception", "leader_reception",
    "leader_field_visit", "leader_case_ownership", "mediate", "settle", "lawyer_participation",
    "mediator_participation", "psychologist_participation", "advance_funding",
    "special_fund_application", "extend", "supervise", "risk_alert", "written_decision",
)

#: Allowed transitions: (state, activity) -> next state. Activities not listed for a state leave
#: it unchanged only when they are handling activities inside ``UNDER_HANDLING``.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("RECEIVED", "register"): "REGISTERED",
    ("REGISTERED", "transfer"): "TRANSFERRED",
    ("REGISTERED", "assign_with_report"): "TRANSFERRED",
    ("REGISTERED", "accept"): "ACCEPTED",
    ("REGISTERED", "decline_intake"): "NOT_ACCEPTED",
    ("TRANSFERRED", "accept"): "ACCEPTED",
    ("TRANSFERRED", "decline_intake"): "NOT_ACCEPTED",
    ("ACCEPTED", "close"): "CLOSED",
    ("UNDER_HANDLING", "close"): "CLOSED",
    ("CLOSED", "follow_up_visit"): "CLOSED",
    ("CLOSED", "satisfaction_rating"): "CLOSED",
    ("CLOSED", "cessation_pledge"): "SETTLED",
    ("CLOSED", "review"): "REVIEW",
    ("REVIEW", "close"): "CLOSED",
    ("REVIEW", "re_review"): "RE_REVIEW",
    ("RE_REVIEW", "close"): "CLOSED",
    ("RE_REVIEW", "terminated"): "TERMINATED",
    ("CLOSED", "re_review"): "RE_REVIEW",
    ("SETTLED", "follow_up_visit"): "SETTLED",
    ("SETTLED", "satisfaction_rating"): "SETTLED",
}
for _s in ("REGISTERED", "TRANSFERRED", "ACCEPTED", "UNDER_HANDLING"):  # telling keeps the state
    TRANSITIONS[(_s, "notify_receipt")] = _s
for _a in _HANDLING_ACTIVITIES:
    TRANSITIONS[("ACCEPTED", _a)] = "UNDER_HANDLING"
    TRANSITIONS[("UNDER_HANDLING", _a)] = "UNDER_HANDLING"


def next_state(state: str, activity: str) -> str | None:
    """Return the state after ``activity`` in ``state``, or None if the step is not allowed.

    A ``register`` always starts a new filing (a repeat petition starts again at REGISTERED).

    Examples
    --------
    >>> from casekit.training import next_state
    >>> next_state("REGISTERED", "transfer")
    'TRANSFERRED'
    >>> next_state("ACCEPTED", "joint_conference")
    'UNDER_HANDLING'
    >>> next_state("CLOSED", "cessation_pledge")
    'SETTLED'
    >>> next_state("ACCEPTED", "notify_receipt")
    'ACCEPTED'
    >>> next_state("RECEIVED", "close") is None
    True
    """
    if activity == "register":
        return "REGISTERED"
    return TRANSITIONS.get((state, activity))


def build_state_walk(trace: pd.DataFrame, *, activity_col: str = "activity") -> pd.DataFrame:
    """Walk a trace through the state machine and add ``state_before``, ``state_after``, ``allowed``.

    Parameters
    ----------
    trace : pandas.DataFrame
        Events of one matter in time order (e.g. from :func:`build_nanpoyuan_trace`).
    activity_col : str, default "activity"
        Column holding the activity identifiers.

    Returns
    -------
    pandas.DataFrame
        A copy of ``trace`` with the three columns added; a step that the machine does not allow
        keeps the state and is flagged ``allowed=False`` (a finding to discuss, not an error).

    Examples
    --------
    >>> from casekit.training import build_nanpoyuan_trace, build_state_walk
    >>> walk = build_state_walk(build_nanpoyuan_trace())
    >>> walk["state_after"].iloc[-1], bool(walk["allowed"].all())
    ('SETTLED', True)
    """
    state = "RECEIVED"
    before, after, allowed = [], [], []
    for activity in trace[activity_col].astype(str):
        new = next_state(state, activity)
        before.append(state)
        allowed.append(new is not None)
        state = state if new is None else new
        after.append(state)
    out = trace.copy()
    out["state_before"] = before
    out["state_after"] = after
    out["allowed"] = allowed
    return out


# --------------------------------------------------------------------------------------------
# The seed case as a trace (§b3), paraphrased from the 2023 article
# --------------------------------------------------------------------------------------------

_TRACE_ROWS: list[tuple[int, int, str, str, str, str, str]] = [
    # (filing, day, activity, agency_type, actor_zh, note_zh, note_en)
    (1, 0, "register", "petition_bureau", "区信访局",
     "吴某反映南坡园烂尾楼外墙存在安全隐患", "Mr Wu reports the unsafe facade of the unfinished Nanpoyuan building"),
    (1, 3, "transfer", "petition_bureau", "区信访局",
     "按属地管理转送文光街道", "transferred to Wenguang street office (territorial responsibility)"),
    (1, 6, "accept", "street_office", "文光街道办事处",
     "街道受理并告知信访人", "street office accepts and informs the petitioner"),
    (1, 10, "leader_case_ownership", "street_office", "区委副书记（包案领导）",
     "区领导包案", "a district deputy Party secretary takes ownership of the case"),
    (1, 12, "leader_field_visit", "street_office", "区委副书记（包案领导）",
     "带案下访到西门社区，察看建筑", "field visit to Ximen community to inspect the building"),
    (1, 15, "joint_conference", "street_office", "街道、社区、法院、住建",
     "信访部门牵头，多部门现场核实、会商", "petition bureau leads; street, community, court and housing verify and confer"),
    (1, 25, "advance_funding", "residents_committee", "西门社区居委会",
     "社区垫资请专业队伍修缮外墙", "the community advances funds for a professional facade repair"),
    (1, 40, "close", "street_office", "文光街道办事处",
     "第一轮办结", "first round closed"),
    (2, 70, "register", "petition_bureau", "区信访局",
     "再次反映：主体砖块仍可能掉落", "second filing: bricks of the main structure may still fall"),
    (2, 72, "accept", "street_office", "文光街道办事处",
     "同人同事，关联为重复信访", "same person, same matter: linked as a repeat petition"),
    (2, 80, "special_fund_application", "street_office", "文光街道办事处",
     "协调街道向上级申请专项资金16万元", "the street applies upward for a 160,000-yuan special fund"),
    (2, 110, "close", "street_office", "文光街道办事处",
     "修缮直至信访人满意，办结", "repairs until the petitioner is satisfied; closed"),
    (2, 125, "follow_up_visit", "petition_bureau", "区信访局",
     "回访信访人", "follow-up visit to the petitioner"),
    (2, 125, "cessation_pledge", "residents_committee", "西门社区",
     "当场签下息诉罢访承诺书", "the petitioner signs a pledge to cease petitioning"),
]


def build_nanpoyuan_trace(events: pd.DataFrame | None = None, *,
                          start: str = "2023-01-09") -> pd.DataFrame:
    """Return the 南坡园 case as a trace: one row per procedure step.

    Parameters
    ----------
    events : pandas.DataFrame, optional
        Canonical events (e.g. ``ck.load_sample_events()``). If they hold the matter
        ``M-NANPOYUAN`` its events are returned (sorted, with a ``filing`` number); otherwise the
        built-in table paraphrased from the 2023 article (§b3 of the domain notes) is used.
    start : str, default "2023-01-09"
        Date of the first registration for the built-in table. The article gives no dates, so the
        day offsets are illustrative.

    Returns
    -------
    pandas.DataFrame
        Columns ``filing, timestamp, activity, agency_type, actor_zh, note_zh, note_en`` for the
        built-in table; the sample's own columns plus ``filing`` otherwise. ``attrs["source"]``
        says which.

    Examples
    --------
    >>> from casekit.training import build_nanpoyuan_trace
    >>> trace = build_nanpoyuan_trace()
    >>> trace.attrs["source"], len(trace), int(trace["filing"].max())
    ('built-in', 14, 2)
    """
    if events is not None and "matter_id" in events.columns:
        sub = events[events["matter_id"].astype(str) == NANPOYUAN_MATTER_ID]
        if len(sub):
            sub = sub.sort_values(["timestamp", "case_id"], kind="stable").reset_index(drop=True)
            order = {cid: i + 1 for i, cid in enumerate(dict.fromkeys(sub["case_id"]))}
            sub.insert(0, "filing", sub["case_id"].map(order).astype(int))
            sub.attrs["source"] = "sample"
            return sub
    t0 = pd.Timestamp(start)
    rows = [
        {"filing": f, "timestamp": t0 + pd.Timedelta(days=d), "activity": a, "agency_type": t,
         "actor_zh": actor, "note_zh": zh, "note_en": en}
        for f, d, a, t, actor, zh, en in _TRACE_ROWS
    ]
    out = pd.DataFrame(rows)
    out.attrs["source"] = "built-in"
    return out


# --------------------------------------------------------------------------------------------
# Principles: 三到位一处理 and 四下沉
# --------------------------------------------------------------------------------------------

#: 三到位一处理 (信访工作条例 2022 第二十七条) as handling modes.
HANDLING_MODES_TABLE = pd.DataFrame(
    [
        ("solve", "诉求合理的解决问题到位", "a reasonable demand is solved",
         "外墙修缮、专项资金：合理诉求，解决到位", "facade repair and special fund: the demand was reasonable and solved"),
        ("educate", "诉求无理的思想教育到位", "an unreasonable demand gets persuasion and education",
         "（本案未涉及）", "(not part of this case)"),
        ("assist", "生活困难的帮扶救助到位", "hardship gets assistance",
         "（本案未涉及）", "(not part of this case)"),
        ("by_law", "行为违法的依法处理", "unlawful conduct is dealt with by law",
         "（本案未涉及）", "(not part of this case)"),
    ],
    columns=["mode", "zh", "en", "nanpoyuan_zh", "nanpoyuan_en"],
)
HANDLING_MODES_TABLE.attrs["source"] = "信访工作条例 (2022) Art. 27"

#: 四下沉 as the seed article uses it. The term is the article's own: no other source we read
#: defines it (domain notes §b4), so the notebooks mark it as such.
FOUR_DOWNWARD_SHIFTS = pd.DataFrame(
    [
        ("leaders", "领导下沉", "leaders go down",
         "区领导包案、带案下访（浦江经验）", "a district leader owns the case and visits the site",
         "leader_field_visit, leader_case_ownership"),
        ("systems", "制度下沉", "systems go down",
         "区、镇（街道）两级联席会议，工作台账", "joint conferences at district and street level, work ledgers",
         "joint_conference"),
        ("resources", "资源下沉", "resources go down",
         "多部门联动；律师、调解员、心理咨询师参与", "agencies act together; lawyers, mediators, psychologists join",
         "mediate, lawyer_participation, special_fund_application"),
        ("services", "服务下沉", "services go down",
         "信访超市，“最多跑一地”", "one-stop petition centre: at most one place to go",
         "joint_reception, follow_up_visit"),
    ],
    columns=["shift", "zh", "en", "example_zh", "example_en", "activities"],
)
FOUR_DOWNWARD_SHIFTS.attrs["note"] = (
    "“四下沉”为该文用语，未见其他来源定义。 The term is the 2023 article's; no other source defines it."
)

# --------------------------------------------------------------------------------------------
# Deadlines and exercises
# --------------------------------------------------------------------------------------------


def _statutory_days() -> tuple[int, int]:
    try:
        from casekit.schema import DEADLINES

        return int(DEADLINES["handle"]), int(DEADLINES["extension"])
    except (ImportError, KeyError):  # schema not there yet: the statute's numbers
        return 60, 30


def handling_deadline(accepted_on: str | _dt.date | pd.Timestamp, *,
                      extended: bool = False) -> _dt.date:
    """Last day to close a matter: 60 days from acceptance, +30 with an approved extension.

    信访工作条例 (2022) Art. 34; "日" is read as calendar days.

    Parameters
    ----------
    accepted_on : date-like
        Day the matter was accepted (受理).
    extended : bool, default False
        Whether an extension (延期, at most 30 days, head's approval) was granted.

    Examples
    --------
    >>> from casekit.training import handling_deadline
    >>> handling_deadline("2023-01-15")
    datetime.date(2023, 3, 16)
    >>> handling_deadline("2023-01-15", extended=True)
    datetime.date(2023, 4, 15)
    """
    handle, extension = _statutory_days()
    days = handle + (extension if extended else 0)
    return (pd.Timestamp(accepted_on) + pd.Timedelta(days=days)).date()


_ACCEPT_DAY = build_nanpoyuan_trace().query("activity == 'accept'")["timestamp"].iloc[0].date()

#: Self-checking exercises: id -> spec (question, options as (value, label) pairs, answer set).
EXERCISES: dict[str, dict[str, Any]] = {
    "joint_conference": {
        "question_zh": "信访局牵头召开联席会议处理南坡园外墙问题。应请哪些单位参加？（多选）",
        "question_en": "The petition bureau convenes a joint conference on the Nanpoyuan facade. "
        "Which units should it bring in? (choose all that apply)",
        "multiple": True,
        "options": [
            ("street_office", "街道办事处 street office"),
            ("residents_committee", "社区居委会 residents' committee"),
            ("court", "人民法院 court"),
            ("housing_construction_bureau", "住房和城乡建设局 housing & construction"),
            ("market_regulation_bureau", "市场监督管理局 market regulation"),
            ("discipline_inspection_commission", "纪委监委 discipline inspection"),
            ("human_resources_social_security_bureau", "人社局 human resources & social security"),
        ],
        "answer": {"street_office", "residents_committee", "court", "housing_construction_bureau"},
        "explain_zh": "文中：信访部门牵头，街道、社区、法院、住建等部门联动（属地+房屋安全+产权问题）。",
        "explain_en": "The article: the petition bureau led, with the street, the community, the court "
        "and the housing bureau (territory, building safety, title questions).",
    },
    "deadline": {
        "question_zh": f"街道于 {_ACCEPT_DAY:%Y-%m-%d} 受理（日期为示例）。不延期时，最迟哪天办结？",
        "question_en": f"The street accepted the matter on {_ACCEPT_DAY:%Y-%m-%d} (illustrative date). "
        "Without an extension, what is the last day to close it?",
        "multiple": False,
        "options": [
            (str(_ACCEPT_DAY + _dt.timedelta(days=15)), f"{_ACCEPT_DAY + _dt.timedelta(days=15)}"),
            (str(_ACCEPT_DAY + _dt.timedelta(days=30)), f"{_ACCEPT_DAY + _dt.timedelta(days=30)}"),
            (str(handling_deadline(_ACCEPT_DAY)), f"{handling_deadline(_ACCEPT_DAY)}"),
            (str(handling_deadline(_ACCEPT_DAY, extended=True)),
             f"{handling_deadline(_ACCEPT_DAY, extended=True)}"),
        ],
        "answer": {str(handling_deadline(_ACCEPT_DAY))},
        "explain_zh": "《信访工作条例》第三十四条：自受理之日起60日内办结；经批准可延长不超过30日，并告知理由。",
        "explain_en": "Regulation (2022) Art. 34: 60 days from acceptance; an approved extension adds "
        "at most 30 days, and the petitioner must be told why.",
    },
    "second_filing": {
        "question_zh": "什么最可能避免第二次信访（砖块掉落）？（多选）",
        "question_en": "What would most likely have prevented the second filing (falling bricks)? "
        "(choose all that apply)",
        "multiple": True,
        "options": [
            ("inspect_whole", "办结前核查整栋建筑而非只处理外墙 inspect the whole structure before closing"),
            ("follow_up", "办结前回访，确认信访人的全部顾虑 follow up before closing to confirm all concerns"),
            ("close_faster", "更快办结 close faster"),
            ("decline", "以重复信访为由不予受理 decline the second filing as a repeat"),
            ("pledge_first", "先让信访人签息诉罢访承诺书 have the petitioner sign a pledge first"),
        ],
        "answer": {"inspect_whole", "follow_up"},
        "explain_zh": "第二次信访来自第一轮未解决的根本问题；案结事了要求“事心双解”，而非尽快结案或拒收。",
        "explain_en": "The second filing came from the root problem left by round one; settling means "
        "resolving both the matter and the concern, not closing faster or refusing the filing.",
    },
}


def check_answer(exercise_id: str, answer: str | set[str] | list[str] | tuple[str, ...]
                 ) -> tuple[bool, str]:
    """Check an answer to one of :data:`EXERCISES`; return ``(correct, feedback)``.

    Examples
    --------
    >>> from casekit.training import check_answer
    >>> check_answer("second_filing", {"follow_up", "inspect_whole"})[0]
    True
    >>> ok, feedback = check_answer("joint_conference", ["court"])
    >>> ok, feedback.startswith("还差")
    (False, True)
    """
    spec = EXERCISES[exercise_id]
    given = {answer} if isinstance(answer, str) else set(answer)
    valid = {value for value, _ in spec["options"]}
    if not given <= valid:
        raise ValueError(f"unknown option(s) {sorted(given - valid)}; valid: {sorted(valid)}")
    right = set(spec["answer"])
    if given == right:
        return True, f"正确！Correct. {spec['explain_zh']} {spec['explain_en']}"
    missing, extra = len(right - given), len(given - right)
    return False, (f"还差 {missing} 项、多选 {extra} 项，再想想。"
                   f"Not yet: {missing} missing, {extra} extra. Try again.")


def exercise_widget(exercise_id: str) -> Any:
    """Return a self-checking ipywidgets box for one exercise (question, choices, check button).

    The box has ``.choice`` (the selection widget), ``.check`` (a Button), ``.feedback`` (an HTML
    widget) and ``.correct`` (None until checked, then True or False).

    Examples
    --------
    >>> from casekit.training import exercise_widget
    >>> box = exercise_widget("deadline")
    >>> box.choice.value = box.choice.options[2][1]
    >>> box.check.click()
    >>> box.correct
    True
    """
    import ipywidgets as widgets

    spec = EXERCISES[exercise_id]
    question = widgets.HTML(f"<b>{spec['question_zh']}</b><br><i>{spec['question_en']}</i>")
    options = [(label, value) for value, label in spec["options"]]
    layout = widgets.Layout(width="auto")
    if spec["multiple"]:
        choice = widgets.SelectMultiple(options=options, rows=len(options), layout=layout)
    else:
        choice = widgets.RadioButtons(options=options, value=None, layout=layout)
    check = widgets.Button(description="检查 Check", button_style="primary")
    feedback = widgets.HTML("")
    box = widgets.VBox([question, choice, check, feedback])
    box.add_class(f"ck-exercise-{exercise_id}")
    box.choice, box.check, box.feedback, box.correct = choice, check, feedback, None

    def _on_check(_button: Any) -> None:
        value = choice.value
        if value is None or value == ():
            feedback.value = "请先选择。Choose first."
            return
        ok, text = check_answer(exercise_id, value)
        box.correct = ok
        colour = "#1a7f37" if ok else "#b35900"
        feedback.value = f"<span style='color:{colour}'>{text}</span>"

    check.on_click(_on_check)
    return box


# --------------------------------------------------------------------------------------------
# Classroom what-if game
# --------------------------------------------------------------------------------------------


#: Teams of the default classroom game (training notebook 02): one lever each, as a class would.
DEFAULT_GAME_TEAMS: dict[str, dict[str, float]] = {
    "A 领导包案": {"leader_ownership_share": 0.9},
    "B 联席会议每周": {"joint_conference_interval_days": 7},
    "C 回访全覆盖": {"follow_up_visit_share": 0.9},
    "D 信访超市": {"one_stop_center": 1},
}

#: The three scored metrics: column -> lower is better.
_GAME_SCORED: dict[str, bool] = {"repeat_rate": True, "median_days_to_close_repeat": True,
                                 "share_settled_at_street_level": False}
_GAME_METRICS = ("repeat_rate", "median_days_to_close_repeat", "share_settled_at_street_level",
                 "on_time_rate", "escalations")


def whatif_cost_yuan(result: pd.DataFrame, *, staff_day_yuan: float = 600.0) -> float:
    """Yearly cost of a ``simulate_year`` result in yuan: special-fund money plus staff days.

    Staff days come from the simulator's cost rows (``staff_days_per_*`` in
    ``ck.simulate.ASSUMPTIONS``, which also cover ordinary handling); ``staff_day_yuan`` turns
    them into money.

    Parameters
    ----------
    result : pandas.DataFrame
        Long what-if result with ``metric`` and ``value`` columns (``ck.simulate_year``).
    staff_day_yuan : float, default 600
        Cost of one staff day in yuan (a classroom assumption, not a published figure).

    Examples
    --------
    >>> from casekit.training import whatif_cost_yuan
    >>> r = pd.DataFrame({"metric": ["staff_days", "funds_yuan"], "value": [100.0, 5000.0]})
    >>> whatif_cost_yuan(r)
    65000.0
    """
    values = result.set_index("metric")["value"].astype(float)
    return (float(values.get("funds_yuan", 0.0))
            + float(values.get("staff_days", 0.0)) * float(staff_day_yuan))


def whatif_game_row(team: str, result: pd.DataFrame, *, baseline: pd.DataFrame | None = None,
                    staff_day_yuan: float = 600.0) -> dict[str, Any]:
    """One team's row for :func:`score_whatif_game` from a ``simulate_year`` result.

    Parameters
    ----------
    team : str
        Team name.
    result : pandas.DataFrame
        Long what-if result with ``metric`` and ``value`` columns (``ck.simulate_year``).
    baseline : pandas.DataFrame, optional
        The district as observed (``ck.simulate_year`` with no lever set, same seed). When
        given, ``cost_yuan`` is the team's *extra* yearly cost over it (negative: a saving);
        otherwise the team's whole yearly cost (:func:`whatif_cost_yuan`).
    staff_day_yuan : float, default 600
        Cost of one staff day in yuan (a classroom assumption, not a published figure).

    Examples
    --------
    >>> from casekit.training import whatif_game_row
    >>> r = pd.DataFrame({"metric": ["repeat_rate", "staff_days", "funds_yuan"],
    ...                   "value": [0.25, 100.0, 5000.0]})
    >>> row = whatif_game_row("A", r)
    >>> row["team"], row["repeat_rate"], row["cost_yuan"]
    ('A', 0.25, 65000.0)
    >>> base = r.assign(value=[0.3, 90.0, 5000.0])
    >>> whatif_game_row("A", r, baseline=base)["cost_yuan"]
    6000.0
    """
    values = result.set_index("metric")["value"].astype(float)
    row: dict[str, Any] = {"team": team}
    for metric in _GAME_METRICS:
        if metric in values.index:
            row[metric] = float(values[metric])
    cost = whatif_cost_yuan(result, staff_day_yuan=staff_day_yuan)
    if baseline is not None:
        cost -= whatif_cost_yuan(baseline, staff_day_yuan=staff_day_yuan)
    row["cost_yuan"] = cost
    return row


def whatif_game_budget(baseline: pd.DataFrame, *, share: float = 0.10,
                       staff_day_yuan: float = 600.0) -> float:
    """Return the budget for extra spending: ``share`` of the district's yearly cost as observed.

    Parameters
    ----------
    baseline : pandas.DataFrame
        ``ck.simulate_year`` result with no lever set (the district as observed).
    share : float, default 0.10
        Extra money the district could find, as a share of what handling costs it now.
    staff_day_yuan : float, default 600
        As in :func:`whatif_cost_yuan`.

    Examples
    --------
    >>> from casekit.training import whatif_game_budget
    >>> base = pd.DataFrame({"metric": ["staff_days", "funds_yuan"], "value": [1000.0, 4e5]})
    >>> whatif_game_budget(base)
    100000.0
    """
    if not share > 0:
        raise CasekitError(f"budget share: expected a positive number, got {share!r}")
    return round(float(share) * whatif_cost_yuan(baseline, staff_day_yuan=staff_day_yuan), 0)


def play_whatif_game(
    teams: Mapping[str, Mapping[str, float]] | None = None,
    *,
    baseline: Any = None,
    replications: int = 10,
    seed: int = 7,
    budget_share: float = 0.10,
    staff_day_yuan: float = 600.0,
) -> pd.DataFrame:
    """Run the classroom game: simulate every team's levers and the district as observed; score.

    Each team's cost is its extra yearly cost over the district as observed (same seed, so the
    difference is not noise), and the budget is ``budget_share`` of the observed yearly cost
    (:func:`whatif_game_budget`): both follow the district, whatever its size.

    Parameters
    ----------
    teams : mapping, optional
        Team name -> lever values for ``ck.simulate_year`` (default :data:`DEFAULT_GAME_TEAMS`).
    baseline : casekit.simulate.Baseline, optional
        From ``ck.simulate.calibrate_baseline(cases)``; default casekit's synthetic district.
    replications : int, default 10
    seed : int, default 7
        Seed of the common random numbers (the same for every team).
    budget_share : float, default 0.10
    staff_day_yuan : float, default 600

    Returns
    -------
    pandas.DataFrame
        :func:`score_whatif_game` of the teams; ``attrs`` holds ``budget_yuan``,
        ``baseline_cost_yuan``, ``staff_day_yuan``, ``seed`` and ``evidence``: per lever,
        whether its effect is estimated from the district's log or assumed
        (:func:`casekit.simulate.lever_evidence`), so the class knows what the points rest on.

    Examples
    --------
    >>> from casekit.training import play_whatif_game
    >>> scored = play_whatif_game({"follow-up": {"follow_up_visit_share": 0.9},
    ...                            "weekly": {"joint_conference_interval_days": 7}},
    ...                           replications=2, seed=1)
    >>> scored.columns[:4].tolist()
    ['team', 'points', 'cost_yuan', 'over_budget']
    >>> scored.attrs["budget_yuan"] > 0
    True
    >>> int(scored.attrs["evidence"]["estimated"].sum())  # the sample: every effect assumed
    0
    """
    from casekit.simulate import lever_evidence, simulate_year

    teams = DEFAULT_GAME_TEAMS if teams is None else teams
    run = {"baseline": baseline, "replications": replications, "seed": seed}
    observed = simulate_year(**run)
    rows = [whatif_game_row(team, simulate_year(**run, **dict(levers)), baseline=observed,
                            staff_day_yuan=staff_day_yuan) for team, levers in teams.items()]
    budget = whatif_game_budget(observed, share=budget_share, staff_day_yuan=staff_day_yuan)
    scored = score_whatif_game(pd.DataFrame(rows), budget_yuan=budget)
    scored.attrs = {"budget_yuan": budget, "staff_day_yuan": float(staff_day_yuan), "seed": seed,
                    "baseline_cost_yuan": whatif_cost_yuan(observed, staff_day_yuan=staff_day_yuan),
                    "evidence": lever_evidence(baseline)}
    return scored


def score_whatif_game(results: pd.DataFrame, *, budget_yuan: float | None = None) -> pd.DataFrame:
    """Score teams' what-if scenarios: fewer repeats, faster repeat closure, more settled locally.

    Parameters
    ----------
    results : pandas.DataFrame
        One row per team with the what-if metrics (``repeat_rate``,
        ``median_days_to_close_repeat``, ``share_settled_at_street_level`` and optionally a cost
        column ``cost_yuan``), e.g. built from ``ck.simulate.simulate_year`` outputs.
    budget_yuan : float, optional
        Teams whose ``cost_yuan`` exceeds the budget score zero (and are flagged); they do not
        take part in the scaling of the others.

    Returns
    -------
    pandas.DataFrame
        ``results`` with ``points`` (0-100) and ``over_budget`` first after ``team``, sorted best
        first (teams over budget last; equal points: the cheaper team first). Each of the three
        metrics counts a third: among the teams within budget, the best value earns the whole
        third, the worst none, the others in proportion (so close results score close; a metric
        on which all teams are equal gives every team its third).

    Examples
    --------
    >>> from casekit.training import score_whatif_game
    >>> teams = pd.DataFrame({"team": ["A", "B", "C"], "repeat_rate": [0.2, 0.3, 0.25],
    ...                       "median_days_to_close_repeat": [30.0, 40.0, 40.0],
    ...                       "share_settled_at_street_level": [0.8, 0.7, 0.8]})
    >>> score_whatif_game(teams)[["team", "points"]].to_dict("records")
    [{'team': 'A', 'points': 100.0}, {'team': 'C', 'points': 50.0}, {'team': 'B', 'points': 0.0}]
    """
    out = results.copy()
    over = pd.Series(False, index=out.index)
    if budget_yuan is not None and "cost_yuan" in out.columns:
        over = out["cost_yuan"] > budget_yuan
    inside = out[~over]
    parts = []
    for col, lower_is_better in _GAME_SCORED.items():
        v = inside[col].astype(float)
        best, worst = (v.min(), v.max()) if lower_is_better else (v.max(), v.min())
        parts.append(pd.Series(1.0, index=v.index) if best == worst else (v - worst) / (best - worst))
    points = (sum(parts) / len(parts) * 100) if len(inside) else pd.Series(dtype=float)
    out["points"] = points.reindex(out.index).fillna(0.0).round(1)
    out["over_budget"] = over
    cost = out["cost_yuan"] if "cost_yuan" in out.columns else pd.Series(0.0, index=out.index)
    order = np.lexsort((cost.to_numpy(), -out["points"].to_numpy(), over.to_numpy()))
    out = out.iloc[order]
    first = [c for c in ("team", "points", "cost_yuan", "over_budget") if c in out.columns]
    out = out[first + [c for c in out.columns if c not in first]]
    return out.reset_index(drop=True)


#: Column headings of :func:`whatif_game_table`: column -> (heading, how to round).
_GAME_TABLE_COLUMNS: dict[str, tuple[str, str]] = {
    "team": ("组 team", "text"),
    "points": ("得分 points", "int"),
    "cost_yuan": ("额外成本 extra cost (万元 10k yuan)", "wan"),
    "over_budget": ("超预算 over budget", "yesno"),
    "repeat_rate": ("重复信访率 repeat rate (%)", "percent"),
    "median_days_to_close_repeat": ("重复件办结 repeat closed in (days)", "days"),
    "share_settled_at_street_level": ("街道化解 settled locally (%)", "percent"),
}


def whatif_game_table(scored: pd.DataFrame) -> pd.DataFrame:
    """Show the scored game to a class: points first, bilingual headings, rounded numbers.

    Shares become whole percentages, days one decimal, money 万元 (10,000 yuan) with one decimal,
    points whole numbers; columns other than those of :func:`score_whatif_game`'s core are left
    out.

    Examples
    --------
    >>> from casekit.training import score_whatif_game, whatif_game_table
    >>> teams = pd.DataFrame({"team": ["A", "B"], "repeat_rate": [0.2012, 0.3],
    ...                       "median_days_to_close_repeat": [30.04, 40.0],
    ...                       "share_settled_at_street_level": [0.8, 0.7],
    ...                       "cost_yuan": [123456.0, 9e6]})
    >>> table = whatif_game_table(score_whatif_game(teams, budget_yuan=1e6))
    >>> table.iloc[:, :5].to_dict("records")[0]
    {'组 team': 'A', '得分 points': 100, '额外成本 extra cost (万元 10k yuan)': 12.3, '超预算 over budget': '否 no', '重复信访率 repeat rate (%)': 20}
    """
    out = pd.DataFrame(index=scored.index)
    for col, (heading, how) in _GAME_TABLE_COLUMNS.items():
        if col not in scored.columns:
            continue
        v = scored[col]
        if how == "int":
            v = v.round(0).astype(int)
        elif how == "wan":
            v = (v / 1e4).round(1)
        elif how == "yesno":
            v = v.map({True: "是 yes", False: "否 no"})
        elif how == "percent":
            v = (v * 100).round(0).astype(int)
        elif how == "days":
            v = v.round(1)
        out[heading] = v
    return out


# --------------------------------------------------------------------------------------------
# A practice export: what a Chinese case system hands a researcher
# --------------------------------------------------------------------------------------------

_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蔡")
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红燕建国志")
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])


def _fake_id_numbers(n: int, rng: np.random.Generator) -> list[str]:
    """Checksum-valid 18-digit ID numbers with Shantou area codes and plausible birth dates."""
    area = rng.choice(["440513", "440514", "440507"], size=n)
    births = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 18000, n), unit="D")
    seq = rng.integers(0, 1000, n)
    bodies = [f"{a}{b:%Y%m%d}{s:03d}" for a, b, s in zip(area, births, seq, strict=True)]
    digits = np.array([[int(c) for c in b] for b in bodies]).reshape(n, 17)
    checks = ["10X98765432"[v] for v in (digits @ _ID_WEIGHTS) % 11]
    return [b + c for b, c in zip(bodies, checks, strict=True)]


def write_practice_export(
    events: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    n_cases: int = 300,
    n_broken: int = 2,
    seed: int | np.random.Generator | None = 0,
) -> Path:
    """Write events as a Chinese case-system export with fake PII and a few broken rows.

    For teaching ingest, quarantine and privacy: Chinese headers (``schema.COLUMN_LABELS_ZH``),
    Chinese activity and agency-type labels, **fake** petitioner names, checksum-valid ID numbers
    and mobile numbers (one identity per petitioner), timestamps as ``2023/4/25 9:32:09``, and
    ``n_broken`` rows spoiled on purpose (an unparseable date, an empty case number, ...).

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events (e.g. ``ck.load_sample_events()``).
    path : path
        ``.xlsx`` or ``.csv`` (written as GB18030, as many Chinese systems do).
    n_cases : int, default 300
        Cases kept (the first ones by case id), so the file stays small.
    n_broken : int, default 2
        Rows spoiled: alternately an unparseable time (``"2023-13-45"``) and an empty case id.
    seed : int or Generator, optional
        Seed for the fake identities and the spoiled rows.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from casekit.training import write_practice_export
    >>> ev = pd.DataFrame({"case_id": ["C1", "C1"], "timestamp": pd.to_datetime(["2023-01-02",
    ...     "2023-02-01"]), "activity": ["register", "close"], "agency": ["区信访局", "文光街道"],
    ...     "agency_type": ["petition_bureau", "street_office"], "petitioner_id": ["P1", "P1"]})
    >>> p = write_practice_export(ev, pathlib.Path(tempfile.mkdtemp()) / "x.csv", n_broken=0)
    >>> df = pd.read_csv(p, encoding="gb18030", dtype=str)
    >>> list(df.columns[:5]), df["办理环节"].tolist()
    (['信访件编号', '办理时间', '办理环节', '办理单位', '单位类型'], ['登记', '办结'])
    """
    from casekit.schema import COLUMN_LABELS_ZH, label_of

    rng = as_generator(seed)
    path = Path(path)
    keep = pd.unique(events["case_id"].astype(str))[:n_cases]
    ev = events[events["case_id"].astype(str).isin(set(keep))].reset_index(drop=True)
    out = pd.DataFrame({"case_id": ev["case_id"].astype(str)})
    out["timestamp"] = [f"{t.year}/{t.month}/{t.day} {t.hour}:{t.minute:02d}:{t.second:02d}"
                        for t in pd.to_datetime(ev["timestamp"])]
    for col, vocab in (("activity", "activity"), ("agency_type", "agency_type"),
                       ("category", "category"), ("channel", "channel")):
        if col in ev.columns:
            out[col] = [label_of(str(v), vocab) for v in ev[col].astype(str)]
    out.insert(3, "agency", ev["agency"].astype(str))
    for col in ("street", "address"):
        if col in ev.columns:
            out[col] = ev[col].astype(str)
    who = ev["petitioner_id"].astype(str) if "petitioner_id" in ev.columns else out["case_id"]
    people = pd.unique(who)
    n = len(people)
    names = [rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN, size=int(rng.integers(1, 3))))
             for _ in range(n)]
    phones = ["1" + str(rng.choice([3, 5, 8])) + "".join(map(str, rng.integers(0, 10, 9)))
              for _ in range(n)]
    ident = pd.DataFrame({"petitioner_name": names, "petitioner_id_number":
                          _fake_id_numbers(n, rng), "petitioner_phone": phones}, index=people)
    for col in ident.columns:
        out[col] = who.map(ident[col]).to_numpy()
    broken = rng.choice(len(out), size=min(n_broken, len(out)), replace=False)
    for i, row in enumerate(sorted(broken)):
        out.loc[row, "timestamp" if i % 2 == 0 else "case_id"] = "2023-13-45" if i % 2 == 0 else ""
    out = out.rename(columns=COLUMN_LABELS_ZH)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".xlsx":
        out.to_excel(path, index=False, sheet_name="信访件")
    else:
        out.to_csv(path, index=False, encoding="gb18030")
    return path
