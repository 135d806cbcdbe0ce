import pandas as pd
import pytest

import casekit as ck
from casekit import schema

GLOSSARY_AGENCY_TYPES = [  # the 17 of petition-work.md §a4
    "petition_bureau", "street_office", "town_government", "residents_committee",
    "villagers_committee", "court", "housing_construction_bureau", "justice_office",
    "justice_bureau", "mediation_committee", "political_legal_committee", "police",
    "human_resources_social_security_bureau", "natural_resources_bureau",
    "urban_management_bureau", "market_regulation_bureau", "discipline_inspection_commission",
    "hotline_center",
]

PROCEDURE_AND_INTERVENTIONS = [
    "register", "transfer", "assign_with_report", "accept", "notify_receipt", "investigate",
    "hearing", "mediate", "extend", "close", "review", "re_review", "supervise",
    "follow_up_visit", "cessation_pledge", "risk_alert", "leader_reception",
    "leader_field_visit", "leader_case_ownership", "joint_conference", "joint_reception",
    "special_fund_application", "advance_funding", "lawyer_participation",
    "mediator_participation", "psychologist_participation",
]


def test_glossary_agency_types_are_all_present():
    assert set(GLOSSARY_AGENCY_TYPES) <= set(schema.AGENCY_TYPES)


def test_glossary_activities_are_all_present():
    assert set(PROCEDURE_AND_INTERVENTIONS) <= set(schema.ACTIVITIES)


@pytest.mark.parametrize("vocabulary", sorted(schema.VOCABULARIES))
def test_every_term_round_trips_through_its_labels(vocabulary):
    for ident, term in schema.VOCABULARIES[vocabulary].items():
        assert ck.to_identifier(ident, vocabulary) == ident
        assert ck.to_identifier(term.zh, vocabulary) == ident
        assert ck.to_identifier(term.en, vocabulary) == ident
        assert ck.label_of(ident, vocabulary, lang="zh") == term.zh
        assert ck.to_identifier(ck.label_of(ident, vocabulary, lang="en"), vocabulary) == ident


@pytest.mark.parametrize("vocabulary", sorted(schema.VOCABULARIES))
def test_no_label_or_alias_is_claimed_by_two_terms(vocabulary):
    seen = {}
    for ident, term in schema.VOCABULARIES[vocabulary].items():
        for label in (term.zh, term.en, *term.aliases):
            key = schema._norm(label)
            assert seen.setdefault(key, ident) == ident, (label, seen[key], ident)


@pytest.mark.parametrize(
    ("label", "vocabulary", "expected"),
    [
        ("信访局", "agency_type", "petition_bureau"),
        ("街道办事处", "agency_type", "street_office"),
        ("镇人民政府", "agency_type", "town_government"),
        ("社区居民委员会", "agency_type", "residents_committee"),
        ("村民委员会", "agency_type", "villagers_committee"),
        ("人民法院", "agency_type", "court"),
        ("住房和城乡建设局", "agency_type", "housing_construction_bureau"),
        ("司法所", "agency_type", "justice_office"),
        ("人力资源和社会保障局", "agency_type", "human_resources_social_security_bureau"),
        ("自然资源局", "agency_type", "natural_resources_bureau"),
        ("城市管理和综合执法局", "agency_type", "urban_management_bureau"),
        ("登记", "activity", "register"),
        ("转送", "activity", "transfer"),
        ("交办", "activity", "assign_with_report"),
        ("受理", "activity", "accept"),
        ("告知", "activity", "notify_receipt"),
        ("调查核实", "activity", "investigate"),
        ("听证", "activity", "hearing"),
        ("联席会议", "activity", "joint_conference"),
        ("调解", "activity", "mediate"),
        ("延期", "activity", "extend"),
        ("办结", "activity", "close"),
        ("回访", "activity", "follow_up_visit"),
        ("息诉罢访", "activity", "ceased_petitioning"),
        ("复查", "activity", "review"),
        ("复核", "activity", "re_review"),
        ("督办", "activity", "supervise"),
        ("领导包案", "activity", "leader_case_ownership"),
        ("  联席会议 ", "activity", "joint_conference"),  # stray spaces
        ("ＣＬＯＳＥ", "activity", "close"),  # full-width
        ("来访", "channel", "visit"),
        ("自然资源", "category", "natural_resources"),
        ("解决问题到位", "handling_mode", "solve"),
    ],
)
def test_chinese_labels_map_to_identifiers(label, vocabulary, expected):
    assert ck.to_identifier(label, vocabulary) == expected


def test_unknown_label_gives_default():
    assert ck.to_identifier("茶话会", "activity") is None
    assert ck.to_identifier("茶话会", "activity", default="x") == "x"
    assert ck.to_identifier(float("nan"), "activity") is None


def test_unknown_vocabulary_is_an_error():
    with pytest.raises(KeyError, match="unknown vocabulary"):
        ck.to_identifier("x", "colour")


def test_map_labels_keeps_unknown_and_missing_and_index():
    s = pd.Series(["办结", "茶话会", None, "登记", "办结"], index=[10, 11, 12, 13, 14])
    mapped, unknown = schema.map_labels(s, "activity")
    assert list(mapped.index) == [10, 11, 12, 13, 14]
    assert mapped.iloc[0] == "close" and mapped.iloc[1] == "茶话会" and pd.isna(mapped.iloc[2])
    assert unknown == ["茶话会"]


def test_category_shares_are_the_published_ones_and_sum_to_one():
    s = schema.category_shares()
    assert s.sum() == pytest.approx(1.0)
    assert s["natural_resources"] == pytest.approx(0.1543, abs=1e-9)
    assert s.idxmin() == "market_regulation"


def test_deadlines_follow_the_2022_regulation():
    d = schema.DEADLINES
    assert (d["route"], d["notify"], d["handle"], d["extension"]) == (15, 15, 60, 30)
    assert d["review_request"] == d["review_decide"] == d["re_review_request"] == 30


def test_validate_events_names_missing_column_and_lists_found():
    ev = pd.DataFrame({"case_id": ["a"], "timestamp": [pd.Timestamp("2023-01-01")]})
    with pytest.raises(ValueError, match=r"'activity'.*columns found: case_id, timestamp"):
        ck.validate_events(ev)
