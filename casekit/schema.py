"""Canonical columns and vocabularies of casekit, with Chinese and English labels.

Every reader produces the canonical event columns; every analysis consumes them. The
vocabularies (agency types, activities, channels, complaint categories, handling modes, outcomes,
repeat kinds, levels) use the English identifiers of ``shared/domain/petition-work.md`` in code
and keep the Chinese terms as labels. :func:`to_identifier` and :func:`map_labels` look labels up
both ways (Chinese label, alias, English label or identifier -> identifier).

Sources: the glossary and deadline table of ``petition-work.md`` (信访工作条例 2022; see there for
article numbers). Category shares are the published county field shares (grade C source,
SRC:COUNTY2024), used only as defaults for synthetic data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache

import pandas as pd

from casekit._utils import FileUnusableError

__all__ = [
    "ACTIVITIES",
    "CANONICAL_NAMES",
    "CASE_COLUMN_ALIASES",
    "COLUMN_ALIASES",
    "REQUIRED_COLUMNS",
    "guess_columns",
    "AGENCY_TYPES",
    "CASE_COLUMNS",
    "CATEGORIES",
    "CHANNELS",
    "COMPETING_EXITS",
    "DEADLINES",
    "EVENT_COLUMNS",
    "EXIT_TYPES",
    "HANDLING_MODES",
    "LEVELS",
    "OPTIONAL_EVENT_COLUMNS",
    "OUTCOMES",
    "PII_COLUMNS",
    "REPEAT_KINDS",
    "VOCABULARIES",
    "Term",
    "category_shares",
    "label_of",
    "map_labels",
    "to_identifier",
    "validate_events",
]

# ---------------------------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------------------------

#: Required event columns, in canonical order.
EVENT_COLUMNS: tuple[str, ...] = ("case_id", "timestamp", "activity", "agency", "agency_type")

#: Optional event columns, kept when present (any other source column is kept too).
OPTIONAL_EVENT_COLUMNS: tuple[str, ...] = (
    "petitioner_id",
    "matter_id",
    "category",
    "channel",
    "street",
    "address",
    "outcome",
    "level",
    "participants",
    "amount_yuan",
    "handling_mode",
)

#: Raw identity columns a reader may be given; consumed at ingest (-> keyed-hash petitioner_id).
PII_COLUMNS: tuple[str, ...] = ("petitioner_name", "petitioner_id_number", "petitioner_phone")

#: Case table columns (one row per case), see ``casekit.cases.build_case_table``.
CASE_COLUMNS: tuple[str, ...] = (
    "case_id",
    "opened_at",
    "closed_at",
    "settled_at",
    "observation_end",
    "duration_days",
    "closed",
    "agencies",
    "n_agencies",
    "pattern",
    "repeat_ordinal",
    "repeat_kind",
    "matter_id",
    "petitioner_id",
    "category",
    "street",
)

#: Column labels for display and for recognising Chinese headers (canonical -> Chinese).
COLUMN_LABELS_ZH: dict[str, str] = {
    "case_id": "信访件编号",
    "timestamp": "办理时间",
    "activity": "办理环节",
    "agency": "办理单位",
    "agency_type": "单位类型",
    "petitioner_id": "信访人代码",
    "matter_id": "事项代码",
    "category": "问题类别",
    "channel": "信访渠道",
    "street": "所属街道",
    "address": "问题发生地址",
    "outcome": "办理结果",
    "level": "信访层级",
    "participants": "参与单位",
    "amount_yuan": "金额(元)",
    "handling_mode": "处理方式",
    "petitioner_name": "信访人姓名",
    "petitioner_id_number": "身份证号",
    "petitioner_phone": "联系电话",
}


# ---------------------------------------------------------------------------------------------
# Vocabularies
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One vocabulary entry: an English identifier with its Chinese and English labels.

    Parameters
    ----------
    identifier : str
        The snake_case identifier used in code and data.
    zh : str
        The Chinese label (the term used in Chinese case systems).
    en : str
        A short English label.
    aliases : tuple of str
        Other labels that mean the same (Chinese variants, abbreviations, English synonyms).
    share : float or None
        For categories: the default share used by synthetic data.
    basis : str
        Where the meaning comes from (article of the 2022 regulation, source key, or "practice").
    """

    identifier: str
    zh: str
    en: str
    aliases: tuple[str, ...] = ()
    share: float | None = None
    basis: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)


def _vocab(*terms: Term) -> dict[str, Term]:
    out = {t.identifier: t for t in terms}
    assert len(out) == len(terms), "duplicate identifier"
    return out


#: Agency types (§a4 of petition-work.md), plus ``unknown``.
AGENCY_TYPES: dict[str, Term] = _vocab(
    Term("petition_bureau", "信访局", "petition bureau",
         ("信访办", "信访办公室", "信访部门", "党委和政府信访部门", "区信访局", "县信访局", "市信访局",
          "国家信访局", "信访接待中心"), basis="REG2022 Art.14"),
    Term("street_office", "街道办事处", "street office",
         ("街道", "街道办", "街道党工委", "街道办事处党工委"), basis="REG2022 Art.15(3)"),
    Term("town_government", "镇人民政府", "town government",
         ("镇政府", "乡镇人民政府", "乡人民政府", "乡镇政府", "镇", "乡镇"), basis="REG2022 Art.15(3)"),
    Term("residents_committee", "社区居民委员会", "residents' committee",
         ("居民委员会", "居委会", "社区居委会", "社区"), basis="REG2022 Art.15(3)"),
    Term("villagers_committee", "村民委员会", "villagers' committee",
         ("村委会", "村", "村两委"), basis="REG2022 Art.15(3)"),
    Term("court", "人民法院", "court", ("法院", "区人民法院", "基层人民法院", "人民法庭"),
         basis="REG2022 Art.31(1)"),
    Term("housing_construction_bureau", "住房和城乡建设局", "housing and construction bureau",
         ("住建局", "住房城乡建设局", "城乡建设局", "住房和城乡建设部门"), basis="seed case"),
    Term("justice_office", "司法所", "justice office", ("基层司法所",), basis="REG2022 Art.37"),
    Term("justice_bureau", "司法局", "justice bureau", ("司法行政机关", "区司法局"),
         basis="REG2022 Art.37"),
    Term("mediation_committee", "人民调解委员会", "people's mediation committee",
         ("调解委员会", "调委会", "人民调解组织"), basis="SRC:MEDIATION"),
    Term("political_legal_committee", "政法委", "political-legal committee",
         ("党委政法委", "政法委员会"), basis="REG2022 Art.28"),
    Term("police", "公安局", "police", ("公安", "派出所", "公安机关", "公安分局"),
         basis="REG2022 Art.47"),
    Term("human_resources_social_security_bureau", "人力资源和社会保障局",
         "human resources and social security bureau",
         ("人社局", "人力资源社会保障局", "劳动保障局", "劳动监察大队"), basis="practice"),
    Term("natural_resources_bureau", "自然资源局", "natural resources bureau",
         ("自然资源和规划局", "国土资源局", "规划和自然资源局", "国土局"), basis="practice"),
    Term("urban_management_bureau", "城市管理和综合执法局", "urban management bureau",
         ("城管局", "城市管理局", "综合执法局", "城市管理综合执法局"), basis="practice"),
    Term("market_regulation_bureau", "市场监督管理局", "market regulation bureau",
         ("市场监管局", "市监局"), basis="practice"),
    Term("discipline_inspection_commission", "纪委监委", "discipline inspection commission",
         ("纪委", "监委", "纪律检查委员会", "监察委员会"), basis="REG2022 Art.30"),
    Term("hotline_center", "12345热线中心", "12345 hotline centre",
         ("12345", "热线中心", "政务服务热线", "12345政务服务便民热线"), basis="BJ-JSJB Arts.10-13"),
    Term("finance_bureau", "财政局", "finance bureau", ("区财政局",), basis="seed case"),
    Term("party_committee", "党委", "Party committee (leaders)",
         ("区委", "县委", "党委领导", "区领导"), basis="REG2022 Art.18"),
    Term("unknown", "未知", "unknown", ("不详", "其他", "other", "n/a", "na"), basis="casekit"),
)

#: Activities: procedure events (§a2) and interventions (§a3).
ACTIVITIES: dict[str, Term] = _vocab(
    # procedure (state machine) --------------------------------------------------------------
    Term("register", "登记", "register", ("登记受理", "录入", "来访登记", "来信登记", "创建"),
         basis="REG2022 Arts.22-23"),
    Term("transfer", "转送", "transfer", ("转办", "转交"), basis="REG2022 Art.22"),
    Term("assign_with_report", "交办", "assign with report", ("交办督办", "派单", "分派"),
         basis="REG2022 Art.22(3)"),
    Term("accept", "受理", "accept", ("签收", "接收"), basis="REG2022 Art.23"),
    Term("notify_receipt", "告知", "notify receipt", ("书面告知", "受理告知"), basis="REG2022 Art.23"),
    Term("decline_intake", "不予受理", "decline intake", ("不受理",), basis="REG2005 Art.21(1)"),
    Term("object_jurisdiction", "提出异议", "object to jurisdiction", ("管辖异议",),
         basis="REG2022 Art.23(3)"),
    Term("route_to_legal_procedure", "导入法定程序", "route to legal procedure",
         ("诉访分离", "导入诉讼程序"), basis="REG2022 Art.31(1)-(5)"),
    Term("investigate", "调查核实", "investigate", ("调查", "核实", "调查处理", "现场核查"),
         basis="REG2022 Art.31(6)"),
    Term("hearing", "听证", "hearing", ("听证会",), basis="REG2022 Arts.31(6), 36"),
    Term("mediate", "调解", "mediate", ("人民调解", "行政调解", "司法调解", "诉前调解"),
         basis="REG2022 Art.33"),
    Term("settle", "和解", "settle", ("达成和解",), basis="REG2022 Art.33"),
    Term("written_decision", "出具信访处理意见书", "written decision", ("处理意见书", "答复意见"),
         basis="REG2022 Art.32"),
    Term("extend", "延期", "extend", ("延期办理", "申请延期"), basis="REG2022 Art.34"),
    Term("close", "办结", "close", ("结案", "已办结", "办理完毕"), basis="REG2022 Art.34"),
    Term("review", "复查", "review", ("申请复查",), basis="REG2022 Art.35"),
    Term("re_review", "复核", "re-review", ("申请复核",), basis="REG2022 Art.36"),
    Term("terminated", "不再受理", "terminated", ("终结",), basis="REG2022 Art.36(3)"),
    Term("withdraw", "撤回", "withdraw",
         ("撤回信访", "申请撤回", "撤回信访事项", "撤销信访事项", "撤回申请", "主动撤回"),
         basis="practice"),
    Term("transfer_out", "转出", "transfer out", ("移出", "转出本辖区", "移交外地", "移出本辖区"),
         basis="practice"),
    Term("supervise", "督办", "supervise", ("督查", "督促办理"), basis="REG2022 Art.40"),
    Term("summon_talk", "约谈", "summon for a talk", (), basis="REG2022 Art.39"),
    Term("circulate_notice", "通报", "circulate notice", ("通报批评",), basis="REG2022 Art.39"),
    Term("flagged_supervision", "挂牌督办", "flagged supervision", (), basis="REG2022 Art.39"),
    Term("follow_up_visit", "回访", "follow-up visit", ("电话回访", "上门回访"),
         basis="practice; BJ-JSJB Art.23"),
    Term("satisfaction_rating", "满意度评价", "satisfaction rating", ("评价", "满意度测评"),
         basis="SRC:HAIZHU"),
    Term("resolve", "化解", "resolve", ("化解矛盾", "案结事了"), basis="practice"),
    Term("ceased_petitioning", "息诉罢访", "ceased petitioning", ("息诉息访", "停访息诉"),
         basis="practice"),
    Term("cessation_pledge", "签订息诉罢访承诺书", "cessation pledge",
         ("息诉罢访承诺书", "息访协议", "签订息访协议", "承诺书"), basis="seed article"),
    Term("risk_alert", "风险预警", "risk alert", ("预警",), basis="REG2022 Art.25"),
    Term("containment", "稳控", "containment", ("重点管控",), basis="practice"),
    # interventions and mechanisms -----------------------------------------------------------
    Term("leader_reception", "领导接访", "leader reception", ("领导接待日", "接访"),
         basis="REG2022 Art.18"),
    Term("leader_field_visit", "领导下访", "leader field visit", ("下访", "领导走访"),
         basis="REG2022 Art.18"),
    Term("leader_case_ownership", "领导包案", "leader case ownership", ("包案", "包案化解"),
         basis="REG2022 Art.18"),
    Term("joint_reception", "联合接访", "joint reception", (), basis="REG2022 Art.18(3)"),
    Term("joint_conference", "联席会议", "joint conference",
         ("信访工作联席会议", "召开联席会议", "联席会商", "协调会"), basis="REG2022 Arts.11-13, 24"),
    Term("lawyer_participation", "律师参与", "lawyer participation", ("律师参与接访",),
         basis="REG2022 Art.15(2)"),
    Term("mediator_participation", "调解员参与", "mediator participation", (),
         basis="REG2022 Art.15(2)"),
    Term("psychologist_participation", "心理咨询师参与", "psychologist participation",
         ("心理疏导",), basis="REG2022 Art.15(2)"),
    Term("social_assistance", "社会救助", "social assistance", (), basis="REG2022 Art.37"),
    Term("judicial_aid", "司法救助", "judicial aid", (), basis="REG2022 Art.37"),
    Term("hardship_support", "帮扶", "hardship support", ("帮扶救助", "困难帮扶"),
         basis="REG2022 Art.37"),
    Term("special_fund_application", "申请专项资金", "special fund application",
         ("专项资金", "专项资金申请"), basis="seed article"),
    Term("advance_funding", "垫资", "advance funding", ("先行垫资", "垫付资金"), basis="seed article"),
)

# --- exits that compete with ``close`` (the case table's ``exit_type``) ------------------------
#: Exit activities other than ``close`` -> exit type. The first of ``close`` and these ends a
#: case's follow-up for time to close: a competing exit censors the closing (cause-specific).
EXIT_TYPES: dict[str, str] = {
    "decline_intake": "declined",  # 不予受理
    "route_to_legal_procedure": "routed_to_legal_procedure",  # 导入法定程序
    "terminated": "terminated",  # 终结 / 不再受理
    "withdraw": "withdrawn",  # 撤回 / 撤销信访事项
    "transfer_out": "transferred_out",  # 转出 / 移出本辖区
}

#: Activities that end a case other than ``close`` (competing exits of the time to close).
COMPETING_EXITS: tuple[str, ...] = tuple(EXIT_TYPES)

#: Intake channels (REG2022 Art.17).
CHANNELS: dict[str, Term] = _vocab(
    Term("online", "网上信访", "online", ("网信", "网上", "网络", "channel_online", "留言"),
         basis="REG2022 Art.17"),
    Term("letter", "来信", "letter", ("信件", "channel_letter"), basis="REG2022 Art.17"),
    Term("visit", "来访", "visit", ("走访", "上访", "channel_visit"), basis="REG2022 Art.17"),
    Term("phone", "来电", "phone", ("电话", "channel_phone", "12345热线"), basis="REG2022 Art.17"),
    Term("collective_visit", "集体访", "collective visit", ("集体上访",), basis="REG2022 Art.20"),
)

#: Complaint categories with the published county field shares as defaults (SRC:COUNTY2024, C).
CATEGORIES: dict[str, Term] = _vocab(
    Term("natural_resources", "自然资源", "land and natural resources",
         ("国土资源", "土地", "征地拆迁", "国土"), share=0.1543),
    Term("political_legal", "政法", "political-legal (litigation-related)",
         ("涉法涉诉", "政法类", "公安司法"), share=0.1543),
    Term("labour_social_security", "劳动社保", "labour and social security",
         ("劳动保障", "劳动和社会保障", "人社", "欠薪"), share=0.1486),
    Term("urban_rural_construction", "城乡建设", "urban and rural construction",
         ("住房城乡建设", "城建", "住建", "城乡规划建设"), share=0.1429),
    Term("agriculture_rural", "农业农村", "agriculture and rural affairs",
         ("农村农业", "农业", "三农"), share=0.1143),
    Term("civil_affairs_emergency", "民政与应急", "civil affairs and emergencies",
         ("民政", "应急管理"), share=0.0629),
    Term("military_affairs", "军队事务", "military and veterans' affairs",
         ("退役军人事务", "涉军"), share=0.0457),
    Term("health", "卫生健康", "health", ("卫生", "医疗卫生", "卫健"), share=0.0343),
    Term("market_regulation", "市场监管", "market regulation", ("市场监督", "消费维权"), share=0.0286),
    Term("other", "其他", "other", ("其它",), share=0.1141),
)

#: Handling modes: 三到位一处理 (REG2022 Art.27).
HANDLING_MODES: dict[str, Term] = _vocab(
    Term("solve", "解决问题到位", "problem solved", ("诉求合理的解决问题到位",), basis="REG2022 Art.27"),
    Term("educate", "思想教育到位", "persuasion and education", ("诉求无理的思想教育到位",),
         basis="REG2022 Art.27"),
    Term("assist", "帮扶救助到位", "hardship assistance", ("生活困难的帮扶救助到位",),
         basis="REG2022 Art.27"),
    Term("handle_by_law", "依法处理", "dealt with by law", ("行为违法的依法处理",),
         basis="REG2022 Art.27"),
)

#: Outcomes of handling (REG2022 Art.32 written decisions, plus practice labels).
OUTCOMES: dict[str, Term] = _vocab(
    Term("supported", "支持", "supported", ("予以支持",), basis="REG2022 Art.32"),
    Term("explained", "解释说明", "explained", ("做好解释说明",), basis="REG2022 Art.32"),
    Term("not_supported", "不予支持", "not supported", (), basis="REG2022 Art.32"),
    Term("mediated_agreement", "达成调解协议", "mediated agreement", ("调解成功", "和解协议"),
         basis="REG2022 Art.33"),
    Term("resolved", "已化解", "resolved", ("化解",), basis="practice"),
    Term("ceased_petitioning", "息诉罢访", "ceased petitioning", ("息访",), basis="practice"),
    Term("upheld", "维持", "upheld (review)", (), basis="SRC:163-REVIEW"),
    Term("rejected", "驳回", "rejected (review)", (), basis="SRC:163-REVIEW"),
    Term("sent_back", "发回重办", "sent back", (), basis="SRC:163-REVIEW"),
)

#: Repeat petition kinds (§b5 of petition-work.md; casekit flags).
REPEAT_KINDS: dict[str, Term] = _vocab(
    Term("first", "初信初访", "first filing", ("first_petition",), basis="SRC:JIANGSU"),
    Term("repeat_while_open", "办理中重复信访", "repeat while open", (), basis="REG2022 Art.19(3)"),
    Term("repeat_after_close", "办结后重复信访", "repeat after close", (), basis="practice"),
    Term("repeat_after_termination", "终结后重复信访", "repeat after termination", (),
         basis="REG2022 Art.36(3)"),
    Term("skip_level_repeat", "越级重复信访", "skip-level repeat", ("越级访",), basis="REG2022 Art.19"),
)

#: Administrative levels at which a petition is filed.
LEVELS: dict[str, Term] = _vocab(
    Term("village", "村(社区)", "village / community", ("社区", "村级")),
    Term("town", "乡镇(街道)", "town / street", ("镇级", "街道级", "乡镇")),
    Term("county", "县(区)", "county / district", ("区级", "县级", "区", "县")),
    Term("city", "市", "city", ("市级", "地级市")),
    Term("province", "省", "province", ("省级",)),
    Term("national", "国家", "national", ("国家信访局", "进京", "中央")),
)

#: Rank of each level (for skip-level detection).
LEVEL_ORDER: dict[str, int] = {k: i for i, k in enumerate(LEVELS)}

VOCABULARIES: dict[str, dict[str, Term]] = {
    "agency_type": AGENCY_TYPES,
    "activity": ACTIVITIES,
    "channel": CHANNELS,
    "category": CATEGORIES,
    "handling_mode": HANDLING_MODES,
    "outcome": OUTCOMES,
    "repeat_kind": REPEAT_KINDS,
    "level": LEVELS,
}

# ---------------------------------------------------------------------------------------------
# Deadlines (信访工作条例 2022; calendar days, see petition-work.md §b1)
# ---------------------------------------------------------------------------------------------

#: Statutory deadlines in calendar days (REG2022 article in the comment).
DEADLINES: dict[str, int] = {
    "route": 15,  # Art.22: petition bureau routes (transfer / assign) within 15 days of receipt
    "notify": 15,  # Art.23: the organ tells the petitioner within 15 days
    "handle": 60,  # Art.34: handle within 60 days of acceptance
    "extension": 30,  # Art.34: at most 30 more days, head's approval
    "review_request": 30,  # Art.35: ask for review within 30 days of the written reply
    "review_decide": 30,  # Art.35: decide the review within 30 days
    "re_review_request": 30,  # Art.36: ask for re-review within 30 days of the review reply
    "re_review_decide": 30,  # Art.36: decide within 30 days (hearing time excluded)
}


# ---------------------------------------------------------------------------------------------
# Look-ups
# ---------------------------------------------------------------------------------------------

_SPACE = re.compile(r"[\s\u3000]+")


def _norm(label: object) -> str:
    """Normalise a label for look-up: NFKC (full-width -> half-width), trim, lower-case."""
    text = unicodedata.normalize("NFKC", str(label))
    return _SPACE.sub(" ", text).strip().lower()


@cache
def _index(vocabulary: str) -> dict[str, str]:
    try:
        vocab = VOCABULARIES[vocabulary]
    except KeyError:
        raise KeyError(
            f"unknown vocabulary {vocabulary!r}; expected one of {sorted(VOCABULARIES)}"
        ) from None
    index: dict[str, str] = {}
    # precedence: identifier, zh, en, then aliases (first come first served)
    for term in vocab.values():
        index.setdefault(_norm(term.identifier), term.identifier)
    for term in vocab.values():
        index.setdefault(_norm(term.zh), term.identifier)
        index.setdefault(_norm(term.en), term.identifier)
        index.setdefault(_norm(term.identifier.replace("_", " ")), term.identifier)
    for term in vocab.values():
        for alias in term.aliases:
            index.setdefault(_norm(alias), term.identifier)
    return index


def to_identifier(label: object, vocabulary: str, *, default: str | None = None) -> str | None:
    """Return the identifier for a Chinese label, alias, English label or identifier.

    Parameters
    ----------
    label : object
        The label to look up. Full-width characters, surrounding spaces and case are ignored.
    vocabulary : str
        One of the keys of :data:`VOCABULARIES` (``"agency_type"``, ``"activity"``, ...).
    default : str or None
        Returned when the label is not known.

    Returns
    -------
    str or None

    Raises
    ------
    KeyError
        If ``vocabulary`` is not a known vocabulary.

    Examples
    --------
    >>> ck.to_identifier("住房和城乡建设局", "agency_type")
    'housing_construction_bureau'
    >>> ck.to_identifier("住建局", "agency_type")
    'housing_construction_bureau'
    >>> ck.to_identifier("联席会议", "activity")
    'joint_conference'
    >>> ck.to_identifier("close", "activity")
    'close'
    >>> ck.to_identifier("Joint Conference", "activity")
    'joint_conference'
    >>> ck.to_identifier("某某", "activity") is None
    True
    """
    if label is None or (isinstance(label, float) and label != label):
        return default
    return _index(vocabulary).get(_norm(label), default)


def map_labels(values: pd.Series, vocabulary: str) -> tuple[pd.Series, list[str]]:
    """Map a column of labels to identifiers, keeping unknown labels as they are.

    Vectorised over the unique values, so it is fast on millions of rows.

    Parameters
    ----------
    values : pandas.Series
        Labels (Chinese, English, aliases or identifiers). Missing values stay missing.
    vocabulary : str
        A key of :data:`VOCABULARIES`.

    Returns
    -------
    mapped : pandas.Series
        Same index as ``values``; known labels replaced by identifiers, unknown kept.
    unknown : list of str
        The distinct labels that were not recognised, sorted.

    Examples
    --------
    >>> s = pd.Series(["登记", "转送", "办结", "茶话会", None])
    >>> mapped, unknown = ck.schema.map_labels(s, "activity")
    >>> mapped.tolist()
    ['register', 'transfer', 'close', '茶话会', nan]
    >>> unknown
    ['茶话会']
    """
    index = _index(vocabulary)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped_uniques = []
    unknown = []
    for u in uniques:
        ident = index.get(_norm(u))
        if ident is None:
            unknown.append(str(u))
            mapped_uniques.append(str(u))
        else:
            mapped_uniques.append(ident)
    lookup = pd.array([*mapped_uniques, None], dtype="object")
    out = pd.Series(lookup[codes], index=values.index, name=values.name, dtype="object")
    out = out.where(codes >= 0)
    return out, sorted(unknown)


def label_of(identifier: str, vocabulary: str, *, lang: str = "zh") -> str:
    """Return the Chinese (``lang="zh"``), English (``"en"``) or bilingual (``"both"``) label.

    Unknown identifiers are returned unchanged, so labels from a source file still display.

    Examples
    --------
    >>> ck.label_of("street_office", "agency_type")
    '街道办事处'
    >>> ck.label_of("joint_conference", "activity", lang="both")
    '联席会议 joint conference'
    >>> ck.label_of("tea_party", "activity")
    'tea_party'
    """
    term = VOCABULARIES[vocabulary].get(identifier)
    if term is None:
        return identifier
    if lang == "zh":
        return term.zh
    if lang == "en":
        return term.en
    if lang == "both":
        return f"{term.zh} {term.en}"
    raise ValueError(f"lang must be 'zh', 'en' or 'both', got {lang!r}")


def category_shares() -> pd.Series:
    """Default complaint-category shares (published county field shares; sum to 1).

    Source: SRC:COUNTY2024 (grade C) in ``petition-work.md`` §c1; "other" is the remainder.
    Used only to calibrate synthetic data, never as a statement about a real district.

    Examples
    --------
    >>> s = ck.schema.category_shares()
    >>> round(float(s.sum()), 6)
    1.0
    >>> s.index[0]
    'natural_resources'
    """
    s = pd.Series({k: t.share for k, t in CATEGORIES.items()}, name="share", dtype="float64")
    return s / s.sum()


def validate_events(events: pd.DataFrame, *, required: Iterable[str] = EVENT_COLUMNS) -> None:
    """Check that ``events`` has the required canonical columns.

    Parameters
    ----------
    events : pandas.DataFrame
    required : iterable of str
        Canonical column names that must be present.

    Raises
    ------
    ValueError
        Naming the first missing column and listing the columns that were found.

    Examples
    --------
    >>> ev = pd.DataFrame({"case_id": ["a"], "activity": ["register"]})
    >>> ck.validate_events(ev, required=["case_id", "activity"])
    >>> ck.validate_events(ev)
    Traceback (most recent call last):
    ...
    ValueError: missing canonical column 'timestamp' (when the event happened); columns found: case_id, activity
    """
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame of events, got {type(events).__name__}")
    meanings = {
        "case_id": "the case / petition id",
        "timestamp": "when the event happened",
        "activity": "what was done",
        "agency": "the unit that acted",
        "agency_type": "the kind of unit",
    }
    for col in required:
        if col not in events.columns:
            found = ", ".join(map(str, events.columns)) or "(none)"
            hint = f" ({meanings[col]})" if col in meanings else ""
            raise ValueError(f"missing canonical column {col!r}{hint}; columns found: {found}")


# ---------------------------------------------------------------------------------------------
# Column recognition (the vocabulary of file headers; readers map them to canonical names)
# ---------------------------------------------------------------------------------------------

#: Header names recognised for each canonical column, in order of preference (the first one
#: found in a file wins). Matching ignores case, surrounding spaces, full-width forms and the
#: separators ``_``, ``-``, ``.``, `` `` (so ``Case ID`` matches ``case_id``).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "case_id": (
        "case_id", "case:concept:name", "case_concept.name", "case:id", "caseid", "case",
        "信访件编号", "事项编号", "案件编号", "留言编号", "工单编号", "信访编号", "受理编号", "件号",
        "信访件号", "信访事项编号", "登记编号", "案件号", "工单号", "事项号", "编号",
        "incident_id", "ticket_id", "unique_key", "id",
    ),
    "timestamp": (
        "timestamp", "time:timestamp", "event_time.timestamp", "event_time:timestamp",
        "datetime", "date_time", "time", "event_time", "date",
        "办理时间", "处理时间", "登记时间", "留言时间", "发生时间", "操作时间", "办理日期",
        "处理日期", "登记日期", "受理时间", "受理日期", "来访时间", "来信时间", "留言日期",
        "创建时间", "提交时间", "时间", "日期",
        "data_stamp", "created_date", "opendate",
    ),
    "activity": (
        "activity", "concept:name", "event_concept.name", "event_concept:name", "activity_name",
        "event", "action", "办理环节", "环节", "处理环节", "环节名称", "办理环节名称", "办理步骤",
        "处理步骤", "办理动作", "操作类型", "事件类型", "操作", "活动", "事件", "步骤",
        "incident_activity_type",
    ),
    "agency": (
        "agency", "org:group", "event_org:group", "unit", "department", "organisation",
        "organization", "office", "办理单位", "承办单位", "处理单位", "责任单位", "单位名称",
        "办理部门", "承办部门", "处理部门", "责任部门", "经办单位", "办理机构", "承办机构",
        "单位", "部门", "assignment_group", "account",
    ),
    "agency_type": (
        "agency_type", "unit_type", "agency_kind", "单位类型", "部门类型", "机构类型", "单位性质",
        "单位类别", "部门类别", "机构类别",
    ),
    "petitioner_name": (
        "petitioner_name", "name", "信访人姓名", "姓名", "信访人", "反映人", "来访人",
        "来访人姓名", "当事人", "当事人姓名", "投诉人", "留言用户",
    ),
    "petitioner_id_number": (
        "petitioner_id_number", "id_number", "id_card", "身份证号", "身份证号码", "证件号码",
        "证件号", "公民身份号码", "身份证", "身份证件号码",
    ),
    "petitioner_phone": (
        "petitioner_phone", "phone", "mobile", "telephone", "联系电话", "手机号", "手机号码",
        "电话", "电话号码", "联系手机", "手机", "联系方式",
    ),
    "petitioner_id": ("petitioner_id", "信访人代码"),
    "matter_id": ("matter_id", "事项代码"),
    "category": (
        "category", "complaint_type", "问题类别", "问题分类", "诉求类别", "内容分类", "问题类型",
        "事项类别", "诉求类型", "诉求分类", "内容类别", "类别",
    ),
    "channel": ("channel", "信访渠道", "信访方式", "诉求渠道", "渠道", "来源"),
    "street": ("street", "所属街道", "街道", "乡镇街道", "街镇", "所属镇街", "镇街", "所在街道"),
    "address": ("address", "问题发生地址", "发生地址", "详细地址", "事发地址", "事发地点",
                "问题发生地", "发生地点", "地址", "问题属地"),
    "outcome": ("outcome", "办理结果", "处理结果", "结果"),
    "level": ("level", "信访层级", "层级", "级别"),
    "participants": ("participants", "参与单位", "参与人员"),
    "amount_yuan": ("amount_yuan", "金额(元)", "金额", "涉及金额"),
    "handling_mode": ("handling_mode", "处理方式", "办理方式"),
}

REQUIRED_COLUMNS: tuple[str, ...] = ("case_id", "timestamp", "activity")

#: Header names of the columns of a case-level table (one row per case; ``shape="cases"``).
CASE_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "opened_at": ("opened_at", "created_date", "opendate", "open_date", "created_at",
                  "creation_date", "date_opened", "opened", "start_date", "受理时间", "登记时间",
                  "来访时间", "来信时间", "创建时间", "提交时间", "留言时间", "受理日期", "登记日期",
                  "立案时间", "开始时间"),
    "closed_at": ("closed_at", "closed_date", "closedate", "close_date", "date_closed",
                  "closed", "resolved_date", "resolution_date", "end_date", "办结时间",
                  "办结日期", "结案时间", "结案日期", "完成时间", "答复时间", "回复时间",
                  "办理完成时间", "关闭时间", "截止办结时间"),
    "status": ("status", "case_status", "state", "办理状态", "状态", "处理状态", "办结状态",
               "事项状态", "工单状态"),
    "intake_agency": ("intake_agency", "受理单位", "登记单位", "接收单位"),
}

#: Every canonical name ``columns=`` / ``--columns`` accepts.
CANONICAL_NAMES: tuple[str, ...] = (*COLUMN_ALIASES, *CASE_COLUMN_ALIASES)

_FUZZY_TOKENS: dict[str, tuple[str, ...]] = {
    # identity first, so that e.g. 身份证编号 is never taken for a case id
    "petitioner_name": ("姓名", "人名"),
    "petitioner_id_number": ("身份证", "证件号"),
    "petitioner_phone": ("电话", "手机"),
    "case_id": ("编号", "件号", "单号"),
    "timestamp": ("时间", "日期"),
    "activity": ("环节", "步骤"),
    "agency": ("单位", "部门", "机构"),
}
_PII_TOKENS = ("姓名", "身份证", "证件", "电话", "手机", "类型", "类别")

_SEP_RE = re.compile(r"[\s_\-.\u3000]+")


def _norm_header(name: object) -> str:
    text = unicodedata.normalize("NFKC", str(name)).strip().lower()
    text = text.replace("（", "(").replace("）", ")")
    return _SEP_RE.sub("", text)


def guess_columns(
    found: Iterable[object], columns: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """Map canonical names to a file's columns: explicit mapping first, then recognised headers.

    Parameters
    ----------
    found : iterable
        The column names of the file, in file order.
    columns : mapping, optional
        Explicit ``{canonical: file column}`` pairs; they win over recognition.

    Returns
    -------
    mapping : dict
        ``{canonical: file column}`` for every canonical column that was found.
    notes : list of str
        Human-readable notes (e.g. which of two candidate columns was used).

    Raises
    ------
    FileUnusableError
        If an explicitly mapped column is not in the file (naming it and listing the columns).

    Examples
    --------
    >>> m, notes = ck.io.guess_columns(["信访件编号", "办理时间", "办理环节", "办理单位", "姓名"])
    >>> m["case_id"], m["timestamp"], m["petitioner_name"]
    ('信访件编号', '办理时间', '姓名')
    >>> ck.io.guess_columns(["case:concept:name", "concept:name", "time:timestamp"])[0]
    {'case_id': 'case:concept:name', 'timestamp': 'time:timestamp', 'activity': 'concept:name'}
    """
    names = [str(c) for c in found]
    mapping: dict[str, str] = {}
    notes: list[str] = []
    used: set[str] = set()
    for canonical, col in (columns or {}).items():
        if col not in names:
            raise FileUnusableError(
                f"column {col!r} given for {canonical!r} is not in the file; "
                f"columns found: {', '.join(names) or '(none)'}"
            )
        mapping[str(canonical)] = col
        used.add(col)
    by_norm: dict[str, str] = {}
    for name in names:
        by_norm.setdefault(_norm_header(name), name)
    for canonical, aliases in COLUMN_ALIASES.items():
        if canonical in mapping:
            continue
        hits: list[str] = []
        for alias in aliases:
            hit = by_norm.get(_norm_header(alias))
            if hit is not None and hit not in used and hit not in hits:
                hits.append(hit)
        if hits:
            mapping[canonical] = hits[0]
            used.add(hits[0])
            if len(hits) > 1:
                notes.append(
                    f"{canonical}: used column {hits[0]!r}; also recognised "
                    f"{', '.join(repr(h) for h in hits[1:])} (pass columns= to choose)"
                )
    # last resort for the core columns: a header containing a telling word (登记时间(年月日))
    for canonical, tokens in _FUZZY_TOKENS.items():
        if canonical in mapping:
            continue
        pii = canonical.startswith("petitioner_")
        cands = [c for c in names if c not in used and any(t in _norm_header(c) for t in tokens)
                 and (pii or not any(t in c for t in _PII_TOKENS))]
        if cands:
            mapping[canonical] = cands[0]
            used.add(cands[0])
            notes.append(f"{canonical}: guessed column {cands[0]!r} from its name "
                         f"(pass columns= if that is wrong)")
    ordered = {k: mapping[k] for k in [*(columns or {}), *COLUMN_ALIASES] if k in mapping}
    ordered.update({k: v for k, v in mapping.items() if k not in ordered})
    return ordered, notes
