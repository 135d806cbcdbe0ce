"""Seeded synthetic district with planted, recorded effects (ground truth).

The district is modelled on 潮阳区 (Chaoyang, Shantou): 4 streets (文光, 城南, 金浦, 棉北) and
9 towns (海门, 和平, 西胪, 关埠, 金灶, 谷饶, 贵屿, 铜盂, 河溪) with 272 residents' and villagers'
committees, the district petition bureau, the court, the housing and construction, human
resources and social security, natural resources, urban management and market regulation bureaus,
the police, one justice office and one people's mediation committee per street or town.
Cases (信访件) follow the 2022 procedure (信访工作条例): ``register`` by a petition bureau,
``transfer`` / ``assign_with_report``, ``accept`` + ``notify_receipt`` within 15 days, handling
events (``investigate``, ``mediate``, ``joint_conference``, ``leader_*``, ...), an ``extend``
when handling runs past 60 days after acceptance, ``supervise`` when it runs past 90 (overdue),
``close``, then ``follow_up_visit``, ``cessation_pledge``, ``review`` / ``re_review`` for some.
The seed article's own case is planted as matter ``M-NANPOYUAN`` (two filings).

Two modes: ``mode="dynamic"`` (the default) lets agencies join open cases over time, as in real
petition work; ``mode="upfront"`` is the older district in which every agency of a case acts
within hours of acceptance (kept byte-identical for the existing tests and the sample).

Dynamic mode (default): collaboration forms during the case
-----------------------------------------------------------
Each case starts with the first line of its area: ``petition_bureau`` registers it, the
``street_office`` (streets) or ``town_government`` (towns) accepts it at the intake decision and
the ``residents_committee`` / ``villagers_committee`` acts within the next day. Eight other agency
types *join while the case is open* (``_JOINERS``: court, mediation_committee (towns only),
urban_management_bureau (streets only), human_resources_social_security_bureau,
housing_construction_bureau, natural_resources_bureau, political_legal_committee (its first
action is a ``joint_conference`` it convenes) and police). Each joins at a random time whose
hazard rises with the time open and is larger in the hard categories, which also close slower
by themselves (confounding by indication and immortal time). A join after the exit does not
happen. The closing hazard (cause-specific) is::

    h(t) = h0(t) * c[category] * r^is_repeat * frailty[matter]
           * prod_{types joined before t} m[type]^(k^is_repeat)

so a collaboration's effect applies only from when it forms; ``effect_scale`` multiplies every
``log m`` (0 = the null district), ``k = pattern_exponent_repeat``. ``T_close`` is drawn exactly by
inverting the piecewise-linear cumulative hazard segment by segment (between the baseline breaks
and the case's join times). Filings of one matter share a gamma frailty (mean 1, variance
``frailty_variance``, default 0.5) on the closing hazard only. Competing exits
(``casekit.schema.COMPETING_EXITS``: ``decline_intake`` at intake, ``route_to_legal_procedure``
(six times likelier once the court has joined), ``terminated`` after day 60, ``withdraw``,
``transfer_out`` in the first month) have their own cause-specific hazards; the exit is the
earliest latent time (about 13% of cases leave by a competing exit). Events: register ->
transfer/assign -> accept + notify (unless declined) -> the committee -> each joiner's first action
at its join time (and a later one for some) -> handling by the first line -> ``close`` or the
competing exit at the exit -> after a close: follow-up visits (the petition bureau; the
``justice_office`` for 20% of closed cases: an agency acting after the exit, never part of the
pattern), pledge, review. The *pattern in force* at ``t`` is the set of agency types that have
acted before ``t``; its causal multiplier is the product of the type multipliers.
Mechanisms with planted effects (``truth["mechanism_effects"]``, ``mechanism_scale`` multiplies
their logs): ``leader_case_ownership`` (about 20% of repeat filings, shortly after the intake
decision) multiplies the closing hazard by 1.5 from its event on, the probability that the
matter is filed again by 0.6 and the chance that that re-filing skips a level by 0.5; the
committee's ``mediate`` with social forces: closing hazard x1.3 from then on, re-filing x0.7;
the bureau's ``follow_up_visit`` after a close: re-filing after the close x0.6. The other
leader, money and review events are markers only. ``policy_change={"date": DATE,
"leader_ownership_share": 0.6}`` sets the owned share of the repeat filings registered from
DATE on (``truth["policy_change"]``). ``write_district(DIR, N, partitions=P, chunk_cases=K)``
writes a case-hash-partitioned Parquet dataset (``casekit partition``'s layout) chunk by chunk.
``start_cut=DATE`` writes an extract that starts mid-stream: only events at/after DATE, with an
``opened_at`` column (the registration, constant within a case) for delayed entry; cases
registered before the cut are prevalent (``truth["n_prevalent"]``); the seed matter is not
planted in an extract.

The up-front model (``mode="upfront"``; exact; what a Cox model should recover)
-------------------------------------------------------------------------------
Time to close ``T`` of a case is measured in days from its ``register`` event to its first
``close`` event. It is drawn from a proportional-hazards model::

    h(t | case) = h0(t) * c[category] * r^(is_repeat) * m[pattern]^(k^is_repeat)

- ``h0`` is a piecewise-constant baseline hazard per day (breaks and rates in the truth file,
  ``hazard_model.baseline``): slow first days, a bump before the 60-day handling deadline and the
  90-day extended deadline (the statutory deadlines shape the times);
- ``c`` is the category multiplier (reference category ``other`` = 1);
- ``r`` (``repeat_multiplier``) multiplies the hazard of repeat filings (``repeat_ordinal >= 2``);
- ``m[pattern]`` is the pattern multiplier for first filings (reference pattern = 1) and
  ``m[pattern] ** k`` for repeat filings (``k = pattern_exponent_repeat`` > 1: collaboration
  matters more for repeats). ``pattern`` is the set of agency types acting on the case, sorted and
  joined by ``+`` (the ``casekit.cases`` definition); every agency type of the planted pattern acts
  before the case closes, so the observed pattern of a closed case equals the planted one.

``T = H0^{-1}(E / multiplier)`` with ``E ~ Exp(1)`` (inverse cumulative hazard, exact).
Nothing else (channel, street, leader events, level, ordinal beyond 2) changes the hazard.
Cases open at ``observation_end`` (``register + T >= observation_end``) are right-censored there:
their events after ``observation_end`` are not in the log. Censoring is administrative and
independent of ``T`` given the covariates. Timestamps are rounded to the second.

Confounding, as in real data: the pattern is drawn from a distribution that depends on the
category (and on first vs repeat filing, and street vs town), and the harder categories
(``natural_resources``, ``political_legal``, ``urban_rural_construction``) both draw the
multi-agency patterns and close slower by themselves. The raw per-pattern median among repeat
filings therefore does not put the true fastest repeat pattern first; a Cox model with the
category as a covariate does. The truth file records all of it.

The two filings of ``M-NANPOYUAN`` are hand-placed (not drawn from the model); drop that matter
for exact model checks. Open cases registered in the last few days before ``observation_end`` may
show only part of their pattern (agencies that have not acted yet), as in real logs.

Truth (``generate_district(...)[1]``; ``<stem>.truth.json`` beside a written file)
---------------------------------------------------------------------------------
``generator``, ``generator_version``, ``casekit_version``, ``seed``, ``n_cases``, ``n_events``,
``n_matters``, ``start``, ``observation_end``, ``share_open``, ``share_repeat_filings``,
``repeat_kind_counts``, ``time_to_close`` (definition), ``hazard_model`` (``form``, ``sampling``,
``baseline`` {``breaks_days``, ``hazard_per_day``, ``median_days``, ``survival_at``},
``reference_category``, ``category_multiplier``, ``repeat_multiplier``,
``pattern_exponent_repeat``, ``other_covariates``), ``reference_pattern``,
``pattern_hazard_multiplier`` {``first``, ``repeat``: pattern -> multiplier},
``main_patterns``, ``fastest_repeat_pattern``, ``fastest_first_pattern``,
``planted_order_repeat``, ``category_shares``, ``channel_shares``, ``confounding``
(``pattern_probability_by_category``, ``street_probability_by_category``,
``realised_pattern_share_by_category``, ``raw_by_pattern``), ``repeats`` (re-filing
probabilities, kinds, gaps), ``seed_matter``, ``observed`` (``raw_fastest_repeat_pattern_by_median``,
``raw_median_order_repeat``, ...). Data dictionary: ``data/README.md``.

Dynamic mode keeps these keys where they apply, with these meanings: ``share_open`` = no exit of
any kind by ``observation_end``; ``reference_pattern`` = the most common first-line pattern;
``pattern_hazard_multiplier`` {``first``, ``repeat``} = the causal multiplier of every pattern
in force in the draw, relative to the reference; ``main_patterns`` = ``planted_order_repeat`` =
the patterns in force for >= 30 repeat filings, by planted repeat multiplier (ties: more
support first); ``fastest_repeat_pattern`` / ``fastest_first_pattern`` = their first;
``confounding`` = a description; ``observed`` = ``exit_counts_observed``,
``share_competing_exit``, ``share_with_a_joiner``, ``share_joins_after_day_3``,
``median_join_day``, ``joined_share_by_type``. It adds ``mode``, ``start_cut``, ``n_prevalent``,
``n_cases_generated``, ``effect_scale``, ``type_hazard_multiplier`` {``first``: type -> m,
``repeat``: type -> m^k}, ``frailty`` {``distribution``, ``mean``, ``variance``, ``level``,
``applies_to``, ``realised_variance``}, ``exit_model`` (cause-specific hazards),
``joining_model`` (first line, joiners, hazard, shape) and ``pattern_support`` {``first``,
``repeat``: pattern -> number of cases in which it was in force within the log's window}.
``n_cases`` is the number of cases in the written log (fewer than requested with
``start_cut``).
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from casekit._utils import CasekitError, as_generator
from casekit.schema import COMPETING_EXITS

__all__ = [
    "GENERATOR_VERSION",
    "SEED_MATTER_ID",
    "build_agency_table",
    "generate_district",
    "truth_path_for",
    "write_district",
]

#: Version of the generator's model; recorded in the truth file. Bump when output changes.
GENERATOR_VERSION = "1.0.0"

DISTRICT_ZH = "潮阳区"
_DAY_NS = 86_400 * 10**9

# ---------------------------------------------------------------------------------------------
# The district (fixed; not random)
# ---------------------------------------------------------------------------------------------

# (name, kind, residents' committees, villagers' committees): 4 streets + 9 towns, 272 committees
_AREAS: tuple[tuple[str, str, int, int], ...] = (
    ("文光", "street", 20, 0),
    ("城南", "street", 18, 4),
    ("金浦", "street", 16, 8),
    ("棉北", "street", 17, 3),
    ("海门", "town", 3, 22),
    ("和平", "town", 2, 20),
    ("西胪", "town", 2, 18),
    ("关埠", "town", 2, 19),
    ("金灶", "town", 1, 17),
    ("谷饶", "town", 2, 21),
    ("贵屿", "town", 2, 20),
    ("铜盂", "town", 1, 16),
    ("河溪", "town", 1, 17),
)

_NAME_FIRST = "东西南北中新上下前后大小老长仙玉金石凤龙华兴美和林桥"
_NAME_SECOND = "门园坑溪埔山湖塘田厝寮港头围墩洲岭堤埕浦乡光兴美安宁"

# district-level units: (name, agency_type)
_DISTRICT_UNITS: dict[str, str] = {
    "petition_bureau": "潮阳区信访局",
    "court": "潮阳区人民法院",
    "housing_construction_bureau": "潮阳区住房和城乡建设局",
    "human_resources_social_security_bureau": "潮阳区人力资源和社会保障局",
    "natural_resources_bureau": "潮阳区自然资源局",
    "urban_management_bureau": "潮阳区城市管理和综合执法局",
    "market_regulation_bureau": "潮阳区市场监督管理局",
    "police": "汕头市公安局潮阳分局",
    "political_legal_committee": "中共汕头市潮阳区委政法委员会",
    "discipline_inspection_commission": "潮阳区纪委监委",
    "hotline_center": "汕头市12345热线潮阳分中心",
    "justice_bureau": "潮阳区司法局",
    "finance_bureau": "潮阳区财政局",
    "party_committee": "中共汕头市潮阳区委员会",
}
_UPPER_BUREAUS: dict[str, str] = {
    "city": "汕头市信访局",
    "province": "广东省信访局",
    "national": "国家信访局",
}

# ---------------------------------------------------------------------------------------------
# Categories, channels, patterns and the planted effects
# ---------------------------------------------------------------------------------------------

_CATEGORY_IDS = (
    "natural_resources", "political_legal", "labour_social_security", "urban_rural_construction",
    "agriculture_rural", "civil_affairs_emergency", "military_affairs", "health",
    "market_regulation", "other",
)
# fallback only; the shares come from casekit.schema.category_shares() (published county shares)
_CATEGORY_SHARES_FALLBACK = {
    "natural_resources": 0.1543, "political_legal": 0.1543, "labour_social_security": 0.1486,
    "urban_rural_construction": 0.1429, "agriculture_rural": 0.1143,
    "civil_affairs_emergency": 0.0629, "military_affairs": 0.0457, "health": 0.0343,
    "market_regulation": 0.0286, "other": 0.1141,
}
#: planted hazard multiplier per category (reference: other = 1); hard categories < 1
_CATEGORY_HR = {
    "natural_resources": 0.50, "political_legal": 0.55, "labour_social_security": 1.10,
    "urban_rural_construction": 0.70, "agriculture_rural": 0.80, "civil_affairs_emergency": 1.30,
    "military_affairs": 0.90, "health": 1.20, "market_regulation": 1.60, "other": 1.00,
}
#: probability that a matter of the category lies in a street (else in a town)
_P_STREET = {
    "natural_resources": 0.35, "political_legal": 0.50, "labour_social_security": 0.50,
    "urban_rural_construction": 0.60, "agriculture_rural": 0.10, "civil_affairs_emergency": 0.40,
    "military_affairs": 0.40, "health": 0.45, "market_regulation": 0.60, "other": 0.45,
}
_CHANNELS = {"online": 0.40, "visit": 0.28, "letter": 0.15, "phone": 0.13, "collective_visit": 0.04}


@dataclass(frozen=True)
class _Pattern:
    key: str  # short name used in the truth file's notes
    types: tuple[str, ...]
    area: str  # "street", "town" or "any"
    lead: str  # accepts, notifies, closes
    mediator: str  # who mediates
    hr_first: float  # planted hazard multiplier for first filings (reference = 1)
    main: bool  # one of the common planted patterns (vs the rare tail)

    @property
    def name(self) -> str:
        return "+".join(sorted(self.types))


_PATTERNS: tuple[_Pattern, ...] = (
    _Pattern("street_alone", ("petition_bureau", "street_office"), "street", "street_office",
             "street_office", 0.85, True),
    _Pattern("street_community", ("petition_bureau", "street_office", "residents_committee"),
             "street", "street_office", "residents_committee", 1.00, True),
    _Pattern("town_village", ("petition_bureau", "town_government", "villagers_committee"),
             "town", "town_government", "villagers_committee", 0.95, True),
    _Pattern("labour_justice", ("petition_bureau", "human_resources_social_security_bureau",
                                "justice_office"), "any",
             "human_resources_social_security_bureau", "justice_office", 1.10, True),
    _Pattern("land_town_village", ("petition_bureau", "natural_resources_bureau",
                                   "town_government", "villagers_committee"), "town",
             "town_government", "villagers_committee", 1.15, True),
    _Pattern("joint_court_housing", ("petition_bureau", "street_office", "residents_committee",
                                     "court", "housing_construction_bureau"), "street",
             "street_office", "residents_committee", 1.30, True),
    _Pattern("court_mediation", ("petition_bureau", "court", "justice_office",
                                 "mediation_committee"), "any", "justice_office",
             "mediation_committee", 1.20, True),
    _Pattern("urban_management", ("petition_bureau", "street_office", "urban_management_bureau"),
             "street", "urban_management_bureau", "street_office", 1.05, True),
    # the rare tail (realistic variety; effects planted and recorded too)
    _Pattern("market", ("petition_bureau", "market_regulation_bureau"), "any",
             "market_regulation_bureau", "market_regulation_bureau", 1.20, False),
    _Pattern("police_town", ("petition_bureau", "police", "town_government"), "town",
             "town_government", "town_government", 0.90, False),
    _Pattern("political_legal", ("petition_bureau", "court", "political_legal_committee"), "any",
             "political_legal_committee", "court", 0.80, False),
    _Pattern("discipline", ("petition_bureau", "discipline_inspection_commission"), "any",
             "discipline_inspection_commission", "discipline_inspection_commission", 0.70, False),
    _Pattern("housing_town", ("petition_bureau", "housing_construction_bureau",
                              "town_government", "villagers_committee"), "town",
             "town_government", "villagers_committee", 1.10, False),
    _Pattern("hotline_street", ("petition_bureau", "hotline_center", "street_office"), "street",
             "street_office", "street_office", 1.00, False),
)
_REFERENCE_PATTERN = "street_community"
_PATTERN_EXPONENT_REPEAT = 2.0  # m_repeat = m_first ** k
_REPEAT_MULTIPLIER = 0.75  # hazard multiplier of any repeat filing (vs a first filing)

# pattern weights by category (first filings); zero where not listed
_MIX: dict[str, dict[str, float]] = {
    "natural_resources": {"street_alone": 1, "street_community": 2, "joint_court_housing": 3,
                          "court_mediation": 1, "urban_management": 1, "town_village": 2,
                          "land_town_village": 5, "housing_town": 0.5},
    "political_legal": {"street_alone": 1, "street_community": 1, "joint_court_housing": 2,
                        "court_mediation": 5, "town_village": 1.5, "political_legal": 0.8,
                        "police_town": 0.8},
    "labour_social_security": {"labour_justice": 6, "street_alone": 1, "street_community": 1,
                               "town_village": 1, "court_mediation": 0.8},
    "urban_rural_construction": {"street_community": 3, "street_alone": 1,
                                 "joint_court_housing": 3, "urban_management": 3,
                                 "town_village": 2, "housing_town": 1.5,
                                 "land_town_village": 0.5},
    "agriculture_rural": {"town_village": 5, "land_town_village": 2, "street_community": 1,
                          "street_alone": 0.5},
    "civil_affairs_emergency": {"street_alone": 3, "street_community": 3, "town_village": 3},
    "military_affairs": {"street_alone": 2, "street_community": 2, "town_village": 2,
                         "labour_justice": 1},
    "health": {"street_alone": 2, "street_community": 2, "town_village": 2, "market": 0.5},
    "market_regulation": {"market": 4, "urban_management": 2, "street_alone": 2,
                          "town_village": 1},
    "other": {"street_alone": 2, "street_community": 2, "town_village": 2, "urban_management": 2,
              "discipline": 1, "hotline_street": 1},
}
# repeat filings draw more agencies: weights multiplied by these factors
_REPEAT_SHIFT = {"joint_court_housing": 2.5, "court_mediation": 2.5, "land_town_village": 2.5,
                 "street_alone": 0.6}

# piecewise-constant baseline hazard per day (reference category, reference pattern, first filing)
_BASE_BREAKS = (0.0, 3.0, 14.0, 45.0, 55.0, 62.0, 80.0, 90.0, 100.0)
_BASE_RATES = (0.030, 0.050, 0.040, 0.070, 0.040, 0.020, 0.060, 0.030, 0.010)

# repeats
_P_REFILE_FIRST = 0.30  # probability that a first filing is followed by another filing
_P_REFILE_LATER = 0.40  # same for a repeat filing
#: dynamic mode: the same before the mechanisms' re-filing multipliers, which lower the mean
#: probability by about a third (the share of repeat filings stays about as before)
_P_REFILE_DYNAMIC = (0.40, 0.54)
_MAX_ORDINAL = 8
_KIND_P = {"repeat_after_close": 0.72, "repeat_while_open": 0.15, "skip_level_repeat": 0.13}
_SKIP_LEVEL_P = {"city": 0.6, "province": 0.3, "national": 0.1}
_GAP_MEDIAN_DAYS = 25.0  # re-filing after close: lognormal gap
_GAP_SIGMA = 0.9

# ---------------------------------------------------------------------------------------------
# Dynamic mode: agencies join open cases over time (the default)
# ---------------------------------------------------------------------------------------------

_MODES = ("dynamic", "upfront")


@dataclass(frozen=True)
class _Joiner:
    type: str  # agency type that joins an open case
    m_repeat: float  # planted closing-hazard multiplier on repeat filings once joined
    activity: str  # its first action, at the join time
    area: str  # "any", "street" or "town": where it can join
    affinity: dict[str, float]  # join-rate weight per category (missing: 0.02)


#: the agency types that join open cases; m_first = m_repeat ** (1 / k)
_JOINERS: tuple[_Joiner, ...] = (
    _Joiner("court", 1.6, "investigate", "any",
            {"political_legal": 3.0, "natural_resources": 2.0, "urban_rural_construction": 0.4,
             "agriculture_rural": 1.2, "labour_social_security": 0.2}),
    _Joiner("mediation_committee", 1.6, "mediate", "town",
            {"political_legal": 3.0, "natural_resources": 2.5, "agriculture_rural": 2.5,
             "civil_affairs_emergency": 0.5, "urban_rural_construction": 0.5,
             "labour_social_security": 0.3}),
    _Joiner("urban_management_bureau", 1.2, "investigate", "street",
            {"urban_rural_construction": 1.0, "market_regulation": 2.0, "other": 1.0}),
    _Joiner("human_resources_social_security_bureau", 1.3, "investigate", "any",
            {"labour_social_security": 3.0, "military_affairs": 1.0}),
    _Joiner("housing_construction_bureau", 0.8, "investigate", "any",
            {"urban_rural_construction": 2.0, "civil_affairs_emergency": 0.3}),
    _Joiner("natural_resources_bureau", 0.7, "investigate", "any",
            {"natural_resources": 0.5, "agriculture_rural": 0.5}),
    _Joiner("political_legal_committee", 0.6, "joint_conference", "any",
            {"political_legal": 0.6}),
    _Joiner("police", 0.5, "investigate", "any",
            {"political_legal": 0.3, "other": 0.6, "market_regulation": 0.4}),
)
#: join hazard per day = _JOIN_RATE * affinity * repeat boost * shape(t), t = days open,
#: zero until one day after the intake decision
_JOIN_RATE = 0.003
_JOIN_REPEAT_BOOST = 1.5
_JOIN_BREAKS = (0.0, 7.0, 14.0, 30.0, 60.0, 90.0)
_JOIN_SHAPE = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)  # rises with time open
_JOIN_DELAY = 1.0  # days after the intake decision before anyone can be drawn in
_FRAILTY_VARIANCE = 0.5

#: competing exits (cause-specific hazards per day; "close" is the outcome)
_EXIT_CODES = ("close", *COMPETING_EXITS)
_DECLINE_RATE = 0.02  # on [0, intake decision]
_ROUTE_RATE = 0.0004  # from the intake decision
_ROUTE_COURT_MULT = 6.0  # ... times this once the court has joined
_ROUTE_CATEGORY = {"political_legal": 3.0, "natural_resources": 1.5}
_TERMINATE_RATE = 0.002  # after day 60
_TERMINATE_FROM = 60.0
_WITHDRAW_RATE = 0.0006  # from the intake decision
_TRANSFER_OUT_RATE = 0.001  # within 30 days of the intake decision
_TRANSFER_OUT_DAYS = 30.0
_BIG = 1e7  # "never" inside the samplers (days)


#: Mechanisms with planted effects (dynamic mode), each acting from the time it happens:
#: ``close`` multiplies the closing hazard of the filing from the mechanism's event on,
#: ``refile`` the probability that the matter is filed again after this filing, ``escalation``
#: the probability that such a re-filing goes over the district's head (skip_level_repeat).
#: ``mechanism_scale`` multiplies every log (0 = markers only).
_MECHANISMS: dict[str, dict[str, float]] = {
    "leader_case_ownership": {"close": 1.5, "refile": 0.6, "escalation": 0.5},
    "mediate": {"close": 1.3, "refile": 0.7, "escalation": 1.0},
    "follow_up_visit": {"close": 1.0, "refile": 0.6, "escalation": 1.0},
}
_OWN_SHARE_REPEAT = 0.2  # share of repeat filings a leader owns (observed in the log)
#: measured share of the repeat filings still open at their planned ownership time (20k cases,
#: 20 seeds); ownership is planned with probability share / reach so the logged share ~ share
_OWN_REACH = 0.865
_OWN_P_FIRST = 0.02  # ... a first filing, times (1 + 1.5 hard)
_OWN_DELAY = (0.5, 3.0)  # days after the intake decision (uniform)
_MED_P = (0.25, 0.35)  # committee mediation with social forces (first, repeat filings)
_MED_DELAY_MEAN = 10.0  # days after the intake decision (exponential)
_FOLLOW_P = 0.7  # the bureau's follow-up visit of a closed filing
_FOLLOW_DAYS = (2.0, 20.0)  # days after the close (uniform)
#: levers a planted policy change can set (simulate's lever names)
_POLICY_LEVERS = ("leader_ownership_share",)


@dataclass(frozen=True)
class _Dynamic:
    effect_scale: float
    frailty_variance: float
    mechanism_scale: float = 1.0
    change_day: float = np.inf  # policy change (days from start); inf = none
    own_share_after: float = _OWN_SHARE_REPEAT

    def mech(self, name: str, what: str) -> float:
        """Planted multiplier of a mechanism, log scaled by ``mechanism_scale``."""
        return float(np.exp(self.mechanism_scale * np.log(_MECHANISMS[name][what])))


def _joiner_m(scale: float, repeat: bool) -> np.ndarray:
    """Planted multiplier per joiner (first or repeat filings), log scaled by ``scale``."""
    log_rep = np.log([j.m_repeat for j in _JOINERS])
    k = _PATTERN_EXPONENT_REPEAT
    return np.exp(scale * (log_rep if repeat else log_rep / k))


def _join_rates(cat: np.ndarray, street: np.ndarray, rep: int) -> np.ndarray:
    """Per-case, per-joiner join-rate factor (n, n_joiners), before the time shape."""
    aff = np.array([[j.affinity.get(c, 0.02) for j in _JOINERS] for c in _CATEGORY_IDS])
    r = aff[cat] * _JOIN_RATE * (_JOIN_REPEAT_BOOST if rep else 1.0)
    for jj, j in enumerate(_JOINERS):
        if j.area != "any":
            r[:, jj] *= street == (j.area == "street")
    return r


def _draw_joins(rng: np.random.Generator, a0: np.ndarray, rate: np.ndarray) -> np.ndarray:
    """Join times (days open) with hazard ``rate * shape(t)`` from ``a0 + delay``; BIG = never."""
    s = a0 + _JOIN_DELAY
    e = rng.exponential(size=rate.shape)
    g0 = _pw_cum(s, _JOIN_BREAKS, _JOIN_SHAPE)[:, None]
    with np.errstate(divide="ignore"):
        x = g0 + np.where(rate > 0, e / np.where(rate > 0, rate, 1.0), np.inf)
    t = _pw_inv(np.minimum(x, _BIG), _JOIN_BREAKS, _JOIN_SHAPE)
    return np.where(np.isfinite(x), t, _BIG)


def _draw_close(e: np.ndarray, base: np.ndarray, join: np.ndarray, logm: np.ndarray
                ) -> np.ndarray:
    """Exact time to close: ``H(T) = e`` for ``h = h0(t) * base * prod_{join_j <= t} m_j``.

    The cumulative hazard is inverted segment by segment between the sorted join times.
    """
    n = join.shape[0]
    order = np.argsort(join, axis=1, kind="stable")
    js = np.take_along_axis(join, order, axis=1)
    lm = np.take_along_axis(logm, order, axis=1)
    bounds = np.concatenate([np.zeros((n, 1)), js, np.full((n, 1), 2 * _BIG)], axis=1)
    mult = base[:, None] * np.exp(np.concatenate([np.zeros((n, 1)), np.cumsum(lm, axis=1)],
                                                 axis=1))  # (n, k + 1): in force on segment i
    h0 = _pw_cum(bounds, _BASE_BREAKS, _BASE_RATES)
    inc = mult * np.diff(h0, axis=1)
    before = np.concatenate([np.zeros((n, 1)), np.cumsum(inc, axis=1)[:, :-1]], axis=1)
    seg = np.maximum((before <= e[:, None]).sum(axis=1) - 1, 0)[:, None]
    x = (np.take_along_axis(h0, seg, axis=1) + (e[:, None] - np.take_along_axis(before, seg, 1))
         / np.take_along_axis(mult, seg, axis=1))
    return _pw_inv(x[:, 0], _BASE_BREAKS, _BASE_RATES)


def _draw_exits(rng: np.random.Generator, a0: np.ndarray, court_join: np.ndarray,
                cat: np.ndarray) -> np.ndarray:
    """Latent times of the competing exits (n, 5), in the order of ``_EXIT_CODES[1:]``."""
    n = a0.size
    e = rng.exponential(size=(n, 5))
    decline = np.where(e[:, 0] / _DECLINE_RATE < a0, e[:, 0] / _DECLINE_RATE, np.inf)
    rho = _ROUTE_RATE * np.array([_ROUTE_CATEGORY.get(c, 1.0) for c in _CATEGORY_IDS])[cat]
    until_court = rho * (court_join - a0)
    route = np.where(e[:, 1] < until_court, a0 + e[:, 1] / rho,
                     court_join + (e[:, 1] - until_court) / (rho * _ROUTE_COURT_MULT))
    terminate = _TERMINATE_FROM + e[:, 2] / _TERMINATE_RATE
    withdraw = a0 + e[:, 3] / _WITHDRAW_RATE
    out = e[:, 4] / _TRANSFER_OUT_RATE
    transfer = np.where(out < _TRANSFER_OUT_DAYS, a0 + out, np.inf)
    return np.stack([decline, route, terminate, withdraw, transfer], axis=1)


def _draw_frailty(rng: np.random.Generator, n: int, variance: float) -> np.ndarray:
    if variance <= 0:
        return np.ones(n)
    return rng.gamma(1.0 / variance, variance, n)


_HARD = ("natural_resources", "political_legal", "urban_rural_construction")


def _draw_mechanisms(rng: np.random.Generator, dyn: _Dynamic, cat: np.ndarray, rep: int,
                     t0: np.ndarray, a0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Planned times (days open) of leader ownership and mediation; ``_BIG`` = none."""
    n = cat.size
    hard = np.isin(cat, [_CATEGORY_IDS.index(c) for c in _HARD])
    if rep:  # the share of repeat filings a leader owns (the policy lever), by registration
        p_own = np.minimum(np.where(t0 >= dyn.change_day, dyn.own_share_after,
                                    _OWN_SHARE_REPEAT) / _OWN_REACH, 1.0)
    else:
        p_own = _OWN_P_FIRST * (1 + 1.5 * hard)
    own = np.where(rng.random(n) < p_own, a0 + rng.uniform(*_OWN_DELAY, n), _BIG)
    p_med = _MED_P[rep]  # independent of the category: it must not confound the patterns
    med = np.where(rng.random(n) < p_med, a0 + rng.exponential(_MED_DELAY_MEAN, n), _BIG)
    return own, med


def _draw_dynamic(rng: np.random.Generator, dyn: _Dynamic, cat: np.ndarray, street: np.ndarray,
                  rep: int, frailty: np.ndarray, t0: np.ndarray) -> dict[str, np.ndarray]:
    """One round of filings in dynamic mode: joins, mechanisms, exit time and kind, intake."""
    n = cat.size
    a0 = np.minimum(rng.gamma(1.5, 1.2, n), 14.0)  # the intake decision (accept or decline)
    join = _draw_joins(rng, a0, _join_rates(cat, street, rep))
    own, med = _draw_mechanisms(rng, dyn, cat, rep, t0, a0)
    logm = np.concatenate([
        np.broadcast_to(np.log(_joiner_m(dyn.effect_scale, bool(rep))), join.shape),
        np.broadcast_to(np.log([dyn.mech("leader_case_ownership", "close"),
                                dyn.mech("mediate", "close")]), (n, 2))], axis=1)
    base = (np.array([_CATEGORY_HR[c] for c in _CATEGORY_IDS])[cat] * frailty
            * (_REPEAT_MULTIPLIER if rep else 1.0))
    t_close = _draw_close(rng.exponential(size=n), base,
                          np.concatenate([join, own[:, None], med[:, None]], axis=1), logm)
    latent = np.concatenate([t_close[:, None], _draw_exits(rng, a0, join[:, 0], cat)], axis=1)
    exit_code = np.argmin(latent, axis=1).astype(np.int8)
    T = latent[np.arange(n), exit_code]
    join = np.where(join < T[:, None], join, np.inf)  # a join after the exit does not happen
    acc = np.minimum(a0, 0.3 * T)
    com = acc + np.minimum(np.minimum(rng.exponential(0.1, n), 0.3 * (T - acc)), 0.9)
    follow = np.where((exit_code == 0) & (rng.random(n) < _FOLLOW_P),
                      T + rng.uniform(*_FOLLOW_DAYS, n), np.inf)
    return {"T": T, "exit": exit_code, "join": join, "acc": acc, "com_t": com,
            "frailty": frailty, "own_t": np.where(own < T, own, np.inf),
            "med_t": np.where(med < T, med, np.inf), "follow_t": follow}


def _refile_factors(dyn: _Dynamic, x: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Per filing: re-filing multiplier (while open, after close) and escalation multiplier."""
    own, med = np.isfinite(x["own_t"]), np.isfinite(x["med_t"])
    fu = np.isfinite(x["follow_t"])
    during = (np.where(own, dyn.mech("leader_case_ownership", "refile"), 1.0)
              * np.where(med, dyn.mech("mediate", "refile"), 1.0))
    after = during * np.where(fu, dyn.mech("follow_up_visit", "refile"), 1.0)
    esc = np.where(own, dyn.mech("leader_case_ownership", "escalation"), 1.0)
    return during, after, esc


_ACTIVITY_CODES = (
    "register", "transfer", "assign_with_report", "accept", "notify_receipt", "investigate",
    "mediate", "joint_conference", "leader_reception", "leader_field_visit",
    "leader_case_ownership", "risk_alert", "hearing", "special_fund_application",
    "advance_funding", "extend", "supervise", "written_decision", "close", "follow_up_visit",
    "cessation_pledge", "review", "re_review", "terminated",
    # dynamic mode's competing exits (appended: the codes above keep their values)
    "decline_intake", "route_to_legal_procedure", "withdraw", "transfer_out",
)
_OUTCOME_CODES = (
    "supported", "explained", "not_supported", "mediated_agreement", "ceased_petitioning",
    "upheld", "sent_back",
)
_MEDIATION_ROLES = ("律师", "人民调解员", "心理咨询师")
_LEADER_ROLES = {
    "leader_reception": ("区领导", "区信访局局长"),
    "leader_field_visit": ("区领导", "区委副书记（包案领导）", "街道（镇）党（工）委书记"),
    "leader_case_ownership": ("区领导", "区委副书记（包案领导）", "街道（镇）党（工）委书记"),
}


def _category_shares() -> dict[str, float]:
    try:
        from casekit.schema import category_shares

        s = category_shares()
        shares = {k: float(s[k]) for k in _CATEGORY_IDS}
    except (ImportError, KeyError):  # pragma: no cover - schema always present in the package
        shares = dict(_CATEGORY_SHARES_FALLBACK)
    total = sum(shares.values())
    return {k: v / total for k, v in shares.items()}


# ---------------------------------------------------------------------------------------------
# District tables
# ---------------------------------------------------------------------------------------------


def _committee_names() -> list[str]:
    """272 distinct two-character place names; fixed (independent of the seed)."""
    combos = [a + b for a in _NAME_FIRST for b in _NAME_SECOND if a != b]
    order = np.random.default_rng(20231016).permutation(len(combos))
    names = [combos[i] for i in order if combos[i] != "西门"]
    return ["西门", *names]  # 西门社区 (文光街道) is the seed case's community


@dataclass(frozen=True)
class _District:
    agency_names: list[str]
    agency_types: list[str]
    area_names: list[str]  # "文光街道" / "和平镇"
    area_is_street: np.ndarray  # bool per area
    area_unit: np.ndarray  # agency code of the street office / town government per area
    area_justice: np.ndarray
    area_mediation: np.ndarray
    committee_area: np.ndarray  # area index per committee
    committee_agency: np.ndarray  # agency code per committee
    committee_short: list[str]  # "西门社区" / "上林村"
    committee_is_residents: list[bool]
    district_unit: dict[str, int]  # agency_type -> agency code (district level)
    upper_bureau: dict[str, int]  # level -> agency code


def _build_district() -> _District:
    names: list[str] = []
    types: list[str] = []

    def add(name: str, typ: str) -> int:
        names.append(name)
        types.append(typ)
        return len(names) - 1

    district_unit = {t: add(n, t) for t, n in _DISTRICT_UNITS.items()}
    upper = {lvl: add(n, "petition_bureau") for lvl, n in _UPPER_BUREAUS.items()}
    place = iter(_committee_names())
    area_names, is_street, unit, justice, mediation = [], [], [], [], []
    c_area, c_agency, c_short = [], [], []
    for i, (area, kind, n_res, n_vil) in enumerate(_AREAS):
        suffix = "街道" if kind == "street" else "镇"
        area_names.append(area + suffix)
        is_street.append(kind == "street")
        unit.append(add(area + ("街道办事处" if kind == "street" else "镇人民政府"),
                        "street_office" if kind == "street" else "town_government"))
        justice.append(add(area + "司法所", "justice_office"))
        mediation.append(add(area + suffix + "人民调解委员会", "mediation_committee"))
        for j in range(n_res + n_vil):
            p = next(place)
            if j < n_res:
                c_short.append(p + "社区")
                c_agency.append(add(p + "社区居民委员会", "residents_committee"))
            else:
                c_short.append(p + "村")
                c_agency.append(add(p + "村民委员会", "villagers_committee"))
            c_area.append(i)
    return _District(
        agency_names=names, agency_types=types, area_names=area_names,
        area_is_street=np.array(is_street), area_unit=np.array(unit),
        area_justice=np.array(justice), area_mediation=np.array(mediation),
        committee_area=np.array(c_area), committee_agency=np.array(c_agency),
        committee_short=c_short, committee_is_residents=[x.endswith("社区") for x in c_short],
        district_unit=district_unit, upper_bureau=upper,
    )


def build_agency_table() -> pd.DataFrame:
    """Return the synthetic district's agencies: one row per unit.

    Returns
    -------
    pandas.DataFrame
        Columns ``agency`` (Chinese name), ``agency_type`` (canonical identifier) and ``street``
        (the street or town it belongs to; missing for district and upper-level units).

    Examples
    --------
    >>> from casekit.synth import build_agency_table
    >>> agencies = build_agency_table()
    >>> int(agencies["agency_type"].isin(["residents_committee", "villagers_committee"]).sum())
    272
    >>> sorted(agencies.loc[agencies["agency_type"] == "street_office", "agency"])
    ['城南街道办事处', '文光街道办事处', '棉北街道办事处', '金浦街道办事处']
    """
    d = _build_district()
    street: list[str | None] = [None] * len(d.agency_names)
    for i, area in enumerate(d.area_names):
        for code in (d.area_unit[i], d.area_justice[i], d.area_mediation[i]):
            street[code] = area
    for c, a in zip(d.committee_agency, d.committee_area, strict=True):
        street[c] = d.area_names[a]
    return pd.DataFrame({
        "agency": pd.array(d.agency_names, dtype="str"),
        "agency_type": pd.array(d.agency_types, dtype="str"),
        "street": pd.array(street, dtype="str"),
    })


# ---------------------------------------------------------------------------------------------
# Planted model
# ---------------------------------------------------------------------------------------------


def _pattern_mix(shares: dict[str, float]) -> np.ndarray:
    """P[category, area_is_street, is_repeat, pattern]."""
    n_p = len(_PATTERNS)
    out = np.zeros((len(_CATEGORY_IDS), 2, 2, n_p))
    for ci, cat in enumerate(_CATEGORY_IDS):
        for street in (0, 1):
            for rep in (0, 1):
                w = np.zeros(n_p)
                for pi, p in enumerate(_PATTERNS):
                    ok = p.area == "any" or (p.area == "street") == bool(street)
                    if ok:
                        w[pi] = _MIX[cat].get(p.key, 0.0)
                        if rep:
                            w[pi] *= _REPEAT_SHIFT.get(p.key, 1.0)
                if w.sum() == 0:  # pragma: no cover - every category has patterns in both areas
                    raise AssertionError(f"no pattern for {cat} street={street}")
                out[ci, street, rep] = w / w.sum()
    return out


def _pw_knots(breaks: tuple[float, ...], rates: tuple[float, ...]
              ) -> tuple[np.ndarray, np.ndarray]:
    """Knots of the piecewise-linear cumulative of a piecewise-constant rate (from 0)."""
    b = np.asarray(breaks)
    cum = np.concatenate([[0.0], np.cumsum(np.diff(b) * np.asarray(rates)[:-1])])
    return b, cum


def _pw_cum(t: np.ndarray, breaks: tuple[float, ...], rates: tuple[float, ...]) -> np.ndarray:
    """Cumulative of the rate ``rates[i]`` on ``[breaks[i], breaks[i+1])`` (last one beyond)."""
    b, cum = _pw_knots(breaks, rates)
    t = np.asarray(t, dtype=float)
    h = np.interp(t.ravel(), b, cum)
    flat = t.ravel()
    beyond = flat > b[-1]
    h[beyond] = cum[-1] + (flat[beyond] - b[-1]) * rates[-1]
    return h.reshape(t.shape)


def _pw_inv(x: np.ndarray, breaks: tuple[float, ...], rates: tuple[float, ...]) -> np.ndarray:
    """Exact inverse of :func:`_pw_cum` (all rates > 0)."""
    b, cum = _pw_knots(breaks, rates)
    x = np.asarray(x, dtype=float)
    flat = x.ravel()
    t = np.interp(flat, cum, b)
    beyond = flat > cum[-1]
    t[beyond] = b[-1] + (flat[beyond] - cum[-1]) / rates[-1]
    return t.reshape(x.shape)


def _inverse_cum_hazard(x: np.ndarray) -> np.ndarray:
    """Exact inverse of the piecewise-linear baseline cumulative hazard."""
    return _pw_inv(x, _BASE_BREAKS, _BASE_RATES)


def _baseline_survival(t: np.ndarray) -> np.ndarray:
    return np.exp(-_pw_cum(t, _BASE_BREAKS, _BASE_RATES))


def _pattern_multipliers() -> tuple[np.ndarray, np.ndarray]:
    ref = next(p for p in _PATTERNS if p.key == _REFERENCE_PATTERN).hr_first
    first = np.array([p.hr_first / ref for p in _PATTERNS])
    return first, first**_PATTERN_EXPONENT_REPEAT


def _categorical(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """Vectorised draws: one per row of ``cum`` (row-wise cumulative probabilities)."""
    u = np.asarray(rng.random(cum.shape[0]))
    return np.minimum((u[:, None] >= cum).sum(axis=1), cum.shape[1] - 1)


def _choice(rng: np.random.Generator, probs: dict[str, float], n: int) -> np.ndarray:
    p = np.asarray(list(probs.values()), dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


# ---------------------------------------------------------------------------------------------
# Filings (case level), vectorised over matters, one round per repeat ordinal
# ---------------------------------------------------------------------------------------------


def _refile_round(rng: np.random.Generator, alive: np.ndarray, p: float,
                  prev: tuple[np.ndarray, ...], n_m: int) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic mode: kind of the next filing, then whether it happens (updates ``alive``).

    ``prev`` = the previous filing's re-filing multipliers (while open, after close), its
    escalation multiplier and its follow-up time: an owned filing halves the chance that the
    next one goes skip-level (those become re-filings after close), a follow-up visit only
    lowers re-filings after the close.
    """
    kind = (_choice(rng, _KIND_P, n_m) + 1).astype(np.int8)
    skip_open = (kind == 3) & (rng.random(n_m) < 0.5)
    demote = (kind == 3) & (rng.random(n_m) >= prev[2])
    kind = np.where(demote, np.int8(1), kind).astype(np.int8)
    skip_open &= ~demote
    after_close = (kind == 1) | ((kind == 3) & ~skip_open)
    alive &= rng.random(n_m) < p * np.where(after_close, prev[1], prev[0])
    return kind, skip_open


@dataclass(frozen=True)
class _FilingModel:
    """The planted model of the filings, as arrays indexed by category / pattern code."""

    cat_p: np.ndarray  # category shares
    p_street: np.ndarray  # probability that a category's matter is in a street
    mix_cum: np.ndarray  # cumulative pattern mix by category, street-vs-town, repeat
    cat_hr: np.ndarray  # category hazard multipliers
    m_first: np.ndarray  # pattern multipliers, first filings
    m_repeat: np.ndarray  # pattern multipliers, repeat filings
    com_by_kind: dict[int, np.ndarray]  # committees of towns (0) and of streets (1)


def _filing_model(district: _District) -> _FilingModel:
    """Collect the planted filing model of the district.

    Matters in streets concern a community (社区), in towns a village (村): the committee type
    then matches the patterns' (residents' committees in streets, villagers' in towns).
    """
    shares = _category_shares()
    m_first, m_repeat = _pattern_multipliers()
    is_res = np.asarray(district.committee_is_residents)
    in_street = district.area_is_street[district.committee_area]
    return _FilingModel(
        cat_p=np.array([shares[c] for c in _CATEGORY_IDS]),
        p_street=np.array([_P_STREET[c] for c in _CATEGORY_IDS]),
        mix_cum=np.cumsum(_pattern_mix(shares), axis=-1),
        cat_hr=np.array([_CATEGORY_HR[c] for c in _CATEGORY_IDS]),
        m_first=m_first, m_repeat=m_repeat,
        com_by_kind={0: np.flatnonzero(~in_street & ~is_res),
                     1: np.flatnonzero(in_street & is_res)})


def _draw_matters(rng: np.random.Generator, n_m: int, span: float, model: _FilingModel,
                  dynamic: _Dynamic | None) -> dict[str, np.ndarray]:
    """Draw ``n_m`` matters: category, street, committee, lane, house, first filing time.

    First filings fall on a day in the window, 70% in office hours and the rest (online) at
    any time; in dynamic mode each matter also draws one frailty, shared by its filings.
    """
    cat = rng.choice(len(_CATEGORY_IDS), size=n_m, p=model.cat_p)
    street = rng.random(n_m) < model.p_street[cat]
    com = np.empty(n_m, dtype=np.int64)
    for s in (0, 1):
        sel = street == s
        com[sel] = rng.choice(model.com_by_kind[s], size=int(sel.sum()))
    m = {"cat": cat, "street": street, "com": com, "lane": rng.integers(1, 40, n_m),
         "house": rng.integers(1, 120, n_m)}
    office = rng.random(n_m) < 0.7
    tod = np.where(office, rng.uniform(8.5 / 24, 17.5 / 24, n_m), rng.random(n_m))
    m["t_start"] = np.floor(rng.random(n_m) * span) + tod
    if dynamic is not None:
        m["frailty"] = _draw_frailty(rng, n_m, dynamic.frailty_variance)
    return m


def _refile_times(rng: np.random.Generator, k: int, alive: np.ndarray,
                  dynamic: _Dynamic | None, prev: tuple[np.ndarray, np.ndarray, np.ndarray],
                  prev_fac: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Draw whether, when and of which kind each matter files its ``k``-th filing (k >= 2).

    Updates ``alive`` in place. ``prev`` = the previous filing's registration, time to close
    and close time. Kinds: 1 after close, 2 while open, 3 skip-level (half while the previous
    filing is open, half after it closed). Returns ``(t0, kind)``.
    """
    n_m = alive.size
    prev_t0, prev_T, prev_close = prev
    p = _P_REFILE_FIRST if k == 2 else _P_REFILE_LATER
    if dynamic is not None:
        p = _P_REFILE_DYNAMIC[k > 2]
    if dynamic is None:
        alive &= rng.random(n_m) < p
        kind = (_choice(rng, _KIND_P, n_m) + 1).astype(np.int8)
        skip_open = (kind == 3) & (rng.random(n_m) < 0.5)
    else:
        kind, skip_open = _refile_round(rng, alive, p, prev_fac, n_m)
    gap = np.exp(np.log(_GAP_MEDIAN_DAYS) + _GAP_SIGMA * rng.standard_normal(n_m))
    gap = np.clip(gap, 1.0, 365.0)
    after = np.floor(prev_close) + np.ceil(gap) + rng.uniform(0.35, 0.73, n_m)
    # a re-filing after a follow-up visit comes after the visit
    after = np.where(np.isfinite(prev_fac[3]), np.maximum(after, prev_fac[3] + 0.5), after)
    during = prev_t0 + prev_T * rng.uniform(0.1, 0.9, n_m)
    return np.where((kind == 2) | skip_open, during, after), kind


def _draw_exit_times(rng: np.random.Generator, model: _FilingModel, dynamic: _Dynamic | None,
                     m: dict[str, np.ndarray], idx: np.ndarray, rep: int, t0: np.ndarray
                     ) -> tuple[np.ndarray, dict[str, np.ndarray], tuple[np.ndarray, ...] | None]:
    """Draw the pattern (upfront) or the dynamic state, and the time to exit of filings ``idx``.

    Returns ``(T, extra, fac)``: ``extra`` = the per-filing state columns, ``fac`` = the
    re-filing factors of :func:`_refile_factors` (dynamic mode; None upfront).
    """
    cat = m["cat"][idx]
    if dynamic is None:
        pat = _categorical(rng, model.mix_cum[cat, m["street"][idx].astype(int), rep])
        mult = model.cat_hr[cat] * (model.m_repeat[pat] * _REPEAT_MULTIPLIER if rep
                                    else model.m_first[pat])
        return _inverse_cum_hazard(rng.exponential(size=idx.size) / mult), {"pattern": pat}, None
    extra = _draw_dynamic(rng, dynamic, cat, m["street"][idx], rep, m["frailty"][idx], t0[idx])
    T = extra.pop("T")
    return T, extra, _refile_factors(dynamic, extra)


def _filing_rows(rng: np.random.Generator, m: dict[str, np.ndarray], idx: np.ndarray, k: int,
                 kind: np.ndarray, t0: np.ndarray, T: np.ndarray, extra: dict[str, np.ndarray],
                 matter_offset: int) -> dict[str, np.ndarray]:
    """Draw channel and level of the ``k``-th filings ``idx`` and collect their columns."""
    chan = _choice(rng, _CHANNELS, idx.size)
    lvl = np.zeros(idx.size, dtype=np.int8)  # 0 county, 1 city, 2 province, 3 national
    sk = kind[idx] == 3
    lvl[sk] = _choice(rng, _SKIP_LEVEL_P, int(sk.sum())) + 1
    return {
        "matter": idx + matter_offset, "ordinal": np.full(idx.size, k, np.int64),
        "kind": kind[idx], "t0": t0[idx], "T": T, **extra,
        "category": m["cat"][idx], "committee": m["com"][idx], "lane": m["lane"][idx],
        "house": m["house"][idx], "channel": chan, "level": lvl,
    }


def _simulate_batch(rng: np.random.Generator, n_m: int, span: float, model: _FilingModel,
                    dynamic: _Dynamic | None, matter_offset: int) -> list[dict[str, np.ndarray]]:
    """Simulate ``n_m`` matters filing by filing (ordinal 1, 2, ...) inside the window."""
    m = _draw_matters(rng, n_m, span, model, dynamic)
    alive = np.ones(n_m, dtype=bool)
    prev = (np.full(n_m, np.nan), np.full(n_m, np.nan), np.full(n_m, np.nan))
    prev_fac = (np.ones(n_m), np.ones(n_m), np.ones(n_m), np.full(n_m, np.inf))
    parts = []
    for k in range(1, _MAX_ORDINAL + 1):
        if k == 1:
            t0 = m["t_start"].copy()
            kind = np.zeros(n_m, dtype=np.int8)  # 0 first, 1 after close, 2 while open, 3 skip
        else:
            t0, kind = _refile_times(rng, k, alive, dynamic, prev, prev_fac)
        alive &= t0 < span
        idx = np.flatnonzero(alive)
        if idx.size == 0:
            break
        T, extra, fac = _draw_exit_times(rng, model, dynamic, m, idx, int(k > 1), t0)
        if fac is not None:
            prev_fac = (*(np.ones(n_m) for _ in range(3)), np.full(n_m, np.inf))
            for i in range(3):
                prev_fac[i][idx] = fac[i]
            prev_fac[3][idx] = t0[idx] + extra["follow_t"]
        parts.append(_filing_rows(rng, m, idx, k, kind, t0, T, extra, matter_offset))
        prev = (np.full(n_m, np.nan), np.full(n_m, np.nan), np.full(n_m, np.nan))
        prev[0][idx], prev[1][idx], prev[2][idx] = t0[idx], T, t0[idx] + T
    return parts


def _keep_whole_matters(rng: np.random.Generator, f: dict[str, np.ndarray], n_cases: int
                        ) -> dict[str, np.ndarray]:
    """Keep whole matters in a random order until ``n_cases`` filings; trim the last one's tail."""
    order = np.lexsort((f["ordinal"], f["matter"]))
    f = {k: v[order] for k, v in f.items()}
    matters, counts = np.unique(f["matter"], return_counts=True)
    perm = rng.permutation(matters.size)
    cum = np.cumsum(counts[perm])
    n_keep = int(np.searchsorted(cum, n_cases) + 1)
    keep_m = perm[:n_keep]
    quota = np.zeros(matters.size, dtype=np.int64)
    quota[keep_m] = counts[keep_m]
    quota[keep_m[-1]] -= int(cum[n_keep - 1] - n_cases)
    mpos = np.searchsorted(matters, f["matter"])
    keep = f["ordinal"] <= quota[mpos]
    return {k: v[keep] for k, v in f.items()}


def _simulate_filings(rng: np.random.Generator, n_cases: int, span: float,
                      district: _District, dynamic: _Dynamic | None = None
                      ) -> dict[str, np.ndarray]:
    """Draw ``n_cases`` filings (first and repeat) of whole matters: the per-filing state.

    Matters are drawn in batches (about ``n_cases / 1.25`` at a time) until enough filings
    fall inside the window, then whole matters are kept in a random order.
    """
    model = _filing_model(district)
    parts: list[dict[str, np.ndarray]] = []
    total = 0
    matter_offset = 0
    while total < n_cases:
        n_m = max(64, int((n_cases - total) / 1.25) + 32)
        batch = _simulate_batch(rng, n_m, span, model, dynamic, matter_offset)
        parts += batch
        total += sum(p["t0"].size for p in batch)
        matter_offset += n_m
    f = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return _keep_whole_matters(rng, f, n_cases)


# ---------------------------------------------------------------------------------------------
# Events, vectorised per event slot
# ---------------------------------------------------------------------------------------------


class _Slots:
    """Collects event rows as arrays of codes (one append per slot, never per event)."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {
            k: [] for k in ("case", "t", "slot", "act", "agency", "part", "amount", "outcome")
        }
        self.part_strings: list[str] = []
        self.part_index: dict[str, int] = {}

    def part_table(self, strings: list[str]) -> np.ndarray:
        """Register a few distinct participant texts; return their codes (index them per event)."""
        out = np.empty(len(strings), dtype=np.int64)
        for i, u in enumerate(strings):
            if u not in self.part_index:
                self.part_index[u] = len(self.part_strings)
                self.part_strings.append(u)
            out[i] = self.part_index[u]
        return out

    def add(self, case: np.ndarray, t: np.ndarray, act: str | np.ndarray,
            agency: np.ndarray | int, *, part: np.ndarray | None = None,
            amount: np.ndarray | None = None, outcome: np.ndarray | int | None = None) -> None:
        n = case.size
        if n == 0:
            return
        slot = len(self.cols["slot"])
        self.cols["case"].append(case.astype(np.int64))
        self.cols["t"].append(np.broadcast_to(np.asarray(t, dtype=float), n))
        self.cols["slot"].append(np.full(n, slot, np.int32))
        a = (np.full(n, _ACTIVITY_CODES.index(act), np.int32) if isinstance(act, str)
             else act.astype(np.int32))
        self.cols["act"].append(a)
        self.cols["agency"].append(np.broadcast_to(agency, n).astype(np.int32))
        self.cols["part"].append(np.full(n, -1, np.int64) if part is None
                                 else np.broadcast_to(part, n).astype(np.int64))
        self.cols["amount"].append(np.full(n, np.nan) if amount is None
                                   else np.broadcast_to(amount, n).astype(float))
        self.cols["outcome"].append(np.full(n, -1, np.int32) if outcome is None
                                    else np.broadcast_to(outcome, n).astype(np.int32))

    def concat(self) -> dict[str, np.ndarray]:
        return {k: np.concatenate(v) for k, v in self.cols.items()}


def _agency_of_type(d: _District, typ: str, area: np.ndarray, committee: np.ndarray
                    ) -> np.ndarray:
    if typ in ("street_office", "town_government"):
        return d.area_unit[area]
    if typ in ("residents_committee", "villagers_committee"):
        return d.committee_agency[committee]
    if typ == "justice_office":
        return d.area_justice[area]
    if typ == "mediation_committee":
        return d.area_mediation[area]
    return np.full(area.size, d.district_unit[typ])


def _hard_categories(cat: np.ndarray) -> np.ndarray:
    """Flag the hard categories (natural resources, political-legal, urban-rural construction)."""
    return np.isin(cat, [_CATEGORY_IDS.index(c) for c in
                         ("natural_resources", "political_legal", "urban_rural_construction")])


def _registration_agency(f: dict[str, np.ndarray], d: _District) -> np.ndarray:
    """Return the bureau that registers each filing: the district's, or the upper level's."""
    reg_agency = np.where(f["level"] == 0, d.district_unit["petition_bureau"], 0)
    for lvl, code in ((1, "city"), (2, "province"), (3, "national")):
        reg_agency = np.where(f["level"] == lvl, d.upper_bureau[code], reg_agency)
    return reg_agency


def _add_register_and_route(rng: np.random.Generator, ev: _Slots, f: dict[str, np.ndarray],
                            d: _District, acc: np.ndarray) -> np.ndarray:
    """Add every filing's register and its routing (assign with report, or transfer).

    ``acc`` = days from registration to acceptance. Returns the days to the receipt notice
    (after acceptance, within 15 days and before the exit).
    """
    n, T = f["t0"].size, f["T"]
    route = acc * rng.uniform(0.05, 0.5, n)
    notify = acc + np.minimum(np.minimum(rng.exponential(0.4, n), 0.1 * (T - acc)),
                              np.maximum(15.0 - acc, 0.0) * 0.99)
    reg_agency = _registration_agency(f, d)
    all_cases = np.arange(n)
    ev.add(all_cases, f["t0"], "register", reg_agency)
    assign = (f["ordinal"] >= 2) | (rng.random(n) < 0.4)
    ev.add(all_cases, f["t0"] + route,
           np.where(assign, _ACTIVITY_CODES.index("assign_with_report"),
                    _ACTIVITY_CODES.index("transfer")), reg_agency)
    return notify


def _make_within(rng: np.random.Generator, t0: np.ndarray, acc: np.ndarray, handle: np.ndarray
                 ) -> _Within:
    """Return ``within(mask, lo, hi)``: the cases of ``mask`` and a time in their handling.

    The time is uniform in ``[lo, hi]`` of the handling interval (acceptance to the exit).
    """

    def within(mask: np.ndarray, lo: float = 0.05, hi: float = 0.95) -> tuple[np.ndarray, ...]:
        idx = np.flatnonzero(mask)
        return idx, t0[idx] + acc[idx] + handle[idx] * rng.uniform(lo, hi, idx.size)

    return within


def _add_lead_investigations(rng: np.random.Generator, ev: _Slots, within: _Within,
                             f: dict[str, np.ndarray], lead: np.ndarray, eligible: np.ndarray
                             ) -> None:
    """Add the lead unit's 0-3 investigations (more on repeat filings)."""
    n_inv = np.minimum(rng.poisson(np.where(f["ordinal"] >= 2, 1.2, 0.8)), 3)
    for k in range(3):
        idx, t = within(eligible & (n_inv > k))
        ev.add(idx, t, "investigate", lead[idx])


def _add_social_mediation(rng: np.random.Generator, ev: _Slots, idx: np.ndarray, t: np.ndarray,
                          agency: np.ndarray) -> None:
    """Add mediation with social forces (lawyers, mediators, psychologists) as participants."""
    roles = rng.random((idx.size, 3)) < np.array([0.35, 0.75, 0.15])
    roles[~roles.any(axis=1), 1] = True
    combos = ev.part_table([";".join(r for j, r in enumerate(_MEDIATION_ROLES) if m >> j & 1)
                            for m in range(8)])
    ev.add(idx, t, "mediate", agency, part=combos[roles @ (1 << np.arange(len(_MEDIATION_ROLES)))])


def _pattern_roles(f: dict[str, np.ndarray], d: _District) -> tuple[np.ndarray, np.ndarray]:
    """Return the lead and the mediating agency of each filing (upfront: set by its pattern)."""
    pat, com = f["pattern"], f["committee"]
    area = d.committee_area[com]
    lead = np.empty(pat.size, np.int64)
    mediator = np.empty(pat.size, np.int64)
    for pi, p in enumerate(_PATTERNS):
        sel = pat == pi
        if sel.any():
            lead[sel] = _agency_of_type(d, p.lead, area[sel], com[sel])
            mediator[sel] = _agency_of_type(d, p.mediator, area[sel], com[sel])
    return lead, mediator


def _add_intake_upfront(rng: np.random.Generator, ev: _Slots, f: dict[str, np.ndarray],
                        d: _District, lead: np.ndarray) -> np.ndarray:
    """Add register, route, accept, notify (<= 15 days, before close); return days to accept."""
    n = f["t0"].size
    acc = np.minimum(np.minimum(rng.gamma(1.5, 1.2, n), 14.0), 0.3 * f["T"])
    notify = _add_register_and_route(rng, ev, f, d, acc)
    all_cases = np.arange(n)
    ev.add(all_cases, f["t0"] + acc, "accept", lead)
    ev.add(all_cases, f["t0"] + notify, "notify_receipt", lead)
    return acc


def _add_pattern_units(rng: np.random.Generator, ev: _Slots, f: dict[str, np.ndarray],
                       d: _District, acc: np.ndarray) -> None:
    """Add the other agency types of the pattern, acting within hours of acceptance.

    Joint assignment: they investigate (the mediation committee mediates), so that the observed
    pattern of a case is complete from then on.
    """
    t0, pat, com = f["t0"], f["pattern"], f["committee"]
    area = d.committee_area[com]
    handle = f["T"] - acc
    for pi, p in enumerate(_PATTERNS):
        sel = np.flatnonzero(pat == pi)
        if sel.size == 0:
            continue
        for typ in p.types:
            if typ in ("petition_bureau", p.lead):
                continue
            t = t0[sel] + acc[sel] + np.minimum(rng.exponential(0.1, sel.size),
                                                0.3 * handle[sel])
            act = "mediate" if typ == "mediation_committee" else "investigate"
            part = ev.part_table(["人民调解员"])[0] if act == "mediate" else None
            ev.add(sel, t, act, _agency_of_type(d, typ, area[sel], com[sel]), part=part)


def _add_mediation_upfront(rng: np.random.Generator, ev: _Slots, within: _Within,
                           f: dict[str, np.ndarray], mediator: np.ndarray) -> np.ndarray:
    """Add mediation with social forces (likelier in court / labour patterns); return who has it."""
    pat = f["pattern"]
    p_med = np.full(len(_PATTERNS), 0.2)
    for pi, p in enumerate(_PATTERNS):
        if p.key == "court_mediation":
            p_med[pi] = 0.9
        elif p.key in ("labour_justice", "joint_court_housing", "political_legal"):
            p_med[pi] = 0.5
    rep = f["ordinal"] >= 2
    has_med = rng.random(pat.size) < np.minimum(p_med[pat] * np.where(rep, 1.3, 1.0), 1.0)
    idx, t = within(has_med, 0.1, 0.9)
    _add_social_mediation(rng, ev, idx, t, mediator[idx])
    return has_med


def _add_joint_conferences_upfront(rng: np.random.Generator, ev: _Slots, f: dict[str, np.ndarray],
                                   d: _District, acc: np.ndarray, lead: np.ndarray) -> None:
    """Add joint conferences (联席会议), likelier the more units; participants: the pattern's."""
    t0, pat, com = f["t0"], f["pattern"], f["committee"]
    handle = f["T"] - acc
    p_joint = np.zeros(len(_PATTERNS))
    for pi, p in enumerate(_PATTERNS):
        n_units = len(p.types) - 1
        p_joint[pi] = 0.8 if n_units >= 4 else 0.5 if n_units == 3 else 0.03
    has_joint = rng.random(pat.size) < p_joint[pat]
    for pi, p in enumerate(_PATTERNS):
        sel = np.flatnonzero(has_joint & (pat == pi))
        if sel.size == 0:
            continue
        # the units present depend only on the committee (and so the street/town): build the
        # text once per distinct committee
        ucom, inv = np.unique(com[sel], return_inverse=True)
        uarea = d.committee_area[ucom]
        texts = [";".join(d.agency_names[int(_agency_of_type(d, typ, uarea[i:i + 1],
                                                              ucom[i:i + 1])[0])]
                          for typ in p.types) for i in range(ucom.size)]
        t = t0[sel] + acc[sel] + handle[sel] * rng.uniform(0.15, 0.85, sel.size)
        ev.add(sel, t, "joint_conference", lead[sel], part=ev.part_table(texts)[inv])


def _territorial_units(f: dict[str, np.ndarray], d: _District, lead: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Return the hosting unit (the pattern's street/town, else the lead) and committee flags."""
    pat = f["pattern"]
    area = d.committee_area[f["committee"]]
    territorial = lead.copy()
    has_com = np.zeros(pat.size, dtype=bool)
    for pi, p in enumerate(_PATTERNS):
        terr = [t for t in p.types if t in ("street_office", "town_government")]
        sel = pat == pi
        if terr and sel.any():
            territorial[sel] = d.area_unit[area[sel]]
        if {"residents_committee", "villagers_committee"} & set(p.types):
            has_com |= sel
    return territorial, has_com


def _build_events(rng: np.random.Generator, f: dict[str, np.ndarray], d: _District
                  ) -> tuple[dict[str, np.ndarray], _Slots]:
    """Build the events of upfront mode: every agency of the pattern acts at intake.

    Stages, in the order of their random draws (the order fixes the bytes of a seed): intake,
    the pattern's other units, the lead's investigations, mediation, joint conferences,
    leaders (reception, field visit, ownership; hosted by the territorial unit or the lead,
    the leader's role in ``participants``), money, deadlines, the decision and close, and what
    follows a close. Returns the event columns and the slots (participant strings).
    """
    t0, T = f["t0"], f["T"]
    ev = _Slots()
    bureau = d.district_unit["petition_bureau"]
    lead, mediator = _pattern_roles(f, d)
    acc = _add_intake_upfront(rng, ev, f, d, lead)
    handle = T - acc  # handling interval length (from acceptance)
    _add_pattern_units(rng, ev, f, d, acc)
    within = _make_within(rng, t0, acc, handle)
    everyone = np.ones(t0.size, dtype=bool)
    _add_lead_investigations(rng, ev, within, f, lead, everyone)
    has_med = _add_mediation_upfront(rng, ev, within, f, mediator)
    _add_joint_conferences_upfront(rng, ev, f, d, acc, lead)
    territorial, has_com = _territorial_units(f, d, lead)
    _add_leaders(rng, ev, within, f, _hard_categories(f["category"]), territorial, lead, bureau,
                 everyone)
    _add_money(rng, ev, within, f, territorial, has_com, d.committee_agency[f["committee"]],
               everyone)
    _add_deadlines(rng, ev, t0, acc, handle, lead, bureau)
    outcome = _add_decision(rng, ev, t0 + T, handle, lead, has_med, everyone)
    ev.add(np.arange(t0.size), t0 + T, "close", lead, outcome=outcome)
    _add_after_close(rng, ev, f, t0 + T, territorial, bureau, d, everyone)
    return ev.concat(), ev


def _add_intake_dynamic(rng: np.random.Generator, ev: _Slots, f: dict[str, np.ndarray],
                        d: _District, lead: np.ndarray, committee: np.ndarray,
                        accepted: np.ndarray) -> None:
    """Add register, route, accept + notify (or decline), the committee within the day."""
    t0, acc = f["t0"], f["acc"]
    notify = _add_register_and_route(rng, ev, f, d, acc)
    idx = np.flatnonzero(accepted)
    ev.add(idx, t0[idx] + acc[idx], "accept", lead[idx])
    ev.add(idx, t0[idx] + notify[idx], "notify_receipt", lead[idx])
    ev.add(idx, t0[idx] + f["com_t"][idx], "investigate", committee[idx])


def _add_joiners(rng: np.random.Generator, ev: _Slots, f: dict[str, np.ndarray], d: _District
                 ) -> None:
    """Add each joiner's first action at its join time, and maybe a later one before the exit."""
    t0, T, join, com = f["t0"], f["T"], f["join"], f["committee"]
    area = d.committee_area[com]
    for jj, j in enumerate(_JOINERS):
        idx = np.flatnonzero(np.isfinite(join[:, jj]))
        if idx.size == 0:
            continue
        who = _agency_of_type(d, j.type, area[idx], com[idx])
        part = None
        if j.activity == "mediate":
            part = ev.part_table(["人民调解员"])[0]
        elif j.activity == "joint_conference":
            part = _conference_text(ev, d, f, idx, join[idx, jj], who)
        ev.add(idx, t0[idx] + join[idx, jj], j.activity, who, part=part)
        again = rng.random(idx.size) < 0.4
        t_again = join[idx, jj] + (T[idx] - join[idx, jj]) * rng.uniform(0.2, 0.95, idx.size)
        sel = idx[again]
        ev.add(sel, t0[sel] + t_again[again], j.activity, who[again],
               part=None if part is None else np.broadcast_to(part, idx.size)[again])


def _add_exits_dynamic(rng: np.random.Generator, ev: _Slots, f: dict[str, np.ndarray],
                       d: _District, lead: np.ndarray, has_med: np.ndarray) -> None:
    """Add the exit: close (with a written decision) or a competing exit, by its agency."""
    n, t0, T, exit_code = f["t0"].size, f["t0"], f["T"], f["exit"]
    bureau = d.district_unit["petition_bureau"]
    closed = exit_code == 0
    outcome = _add_decision(rng, ev, t0 + T, T - f["acc"], lead, has_med, closed)
    idx = np.flatnonzero(closed)
    ev.add(idx, t0[idx] + T[idx], "close", lead[idx], outcome=outcome[idx])
    court = d.district_unit["court"]
    exit_agency = {"decline_intake": lead, "route_to_legal_procedure":
                   np.where(np.isfinite(f["join"][:, 0]), court, lead),
                   "terminated": np.full(n, bureau), "withdraw": np.full(n, bureau),
                   "transfer_out": np.full(n, bureau)}
    for code, name in enumerate(_EXIT_CODES[1:], start=1):
        idx = np.flatnonzero(exit_code == code)
        ev.add(idx, t0[idx] + T[idx], name, exit_agency[name][idx])


def _build_events_dynamic(rng: np.random.Generator, f: dict[str, np.ndarray], d: _District
                          ) -> tuple[dict[str, np.ndarray], _Slots]:
    """Build the events of dynamic mode: the first line at intake, each joiner at its join time.

    After the joiners the first line handles: the lead investigates (0-3 times), the committee
    mediates with social forces, leaders, money, deadlines; none of them changes the pattern.
    Mediation and leader ownership come at their planned times (they change the closing
    hazard). Then the exit; after a close the bureau's follow-up, pledge and review, and the
    justice office visits some closed cases (an agency acting after the exit: it must not enter
    the pattern).
    """
    n, t0, T = f["t0"].size, f["t0"], f["T"]
    area = d.committee_area[f["committee"]]
    ev = _Slots()
    bureau = d.district_unit["petition_bureau"]
    lead = d.area_unit[area]  # street office / town government
    committee = d.committee_agency[f["committee"]]
    accepted = f["exit"] != _EXIT_CODES.index("decline_intake")
    closed = f["exit"] == 0
    acc = f["acc"]
    handle = T - acc
    _add_intake_dynamic(rng, ev, f, d, lead, committee, accepted)
    _add_joiners(rng, ev, f, d)
    within = _make_within(rng, t0, acc, handle)
    _add_lead_investigations(rng, ev, within, f, lead, accepted)
    has_med = np.isfinite(f["med_t"])
    idx = np.flatnonzero(has_med)
    _add_social_mediation(rng, ev, idx, t0[idx] + f["med_t"][idx], committee[idx])
    owned = np.flatnonzero(np.isfinite(f["own_t"]))
    _add_leaders(rng, ev, within, f, _hard_categories(f["category"]), lead, lead, bureau,
                 accepted, ownership=(owned, t0[owned] + f["own_t"][owned]))
    _add_money(rng, ev, within, f, lead, accepted, committee, accepted)
    _add_deadlines(rng, ev, t0, acc, np.where(accepted, handle, 0.0), lead, bureau)
    _add_exits_dynamic(rng, ev, f, d, lead, has_med)
    _add_after_close(rng, ev, f, t0 + T, lead, bureau, d, closed,
                     follow=(np.isfinite(f["follow_t"]), t0 + f["follow_t"]))
    idx = np.flatnonzero(closed & (rng.random(n) < 0.2))
    ev.add(idx, t0[idx] + T[idx] + rng.uniform(3, 25, idx.size), "follow_up_visit",
           d.area_justice[area[idx]])
    return ev.concat(), ev


def _conference_text(ev: _Slots, d: _District, f: dict[str, np.ndarray], idx: np.ndarray,
                     t: np.ndarray, host: np.ndarray) -> np.ndarray:
    """Participants of a joint conference: the first line, the joiners so far and the host."""
    com = f["committee"][idx]
    joined = f["join"][idx] < t[:, None]
    bits = joined @ (1 << np.arange(len(_JOINERS)))
    key = com * (1 << len(_JOINERS)) + bits
    ukey, inv = np.unique(key, return_inverse=True)
    texts = []
    for u in ukey.tolist():
        c, b = divmod(u, 1 << len(_JOINERS))
        a = int(d.committee_area[c])
        units = [d.district_unit["petition_bureau"], int(d.area_unit[a]),
                 int(d.committee_agency[c])]
        units += [int(_agency_of_type(d, j.type, np.array([a]), np.array([c]))[0])
                  for jj, j in enumerate(_JOINERS) if b >> jj & 1]
        units.append(int(host[0]))
        texts.append(";".join(d.agency_names[x] for x in units))
    return ev.part_table(texts)[inv]


_Within = Any  # callable(mask, lo, hi) -> (idx, t): times within a case's handling interval


def _add_leaders(rng: np.random.Generator, ev: _Slots, within: _Within, f: dict[str, np.ndarray],
                 hard: np.ndarray, territorial: np.ndarray, lead: np.ndarray, bureau: int,
                 eligible: np.ndarray,
                 ownership: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Leader reception / field visit / case ownership, risk alerts and hearings.

    ``ownership`` = (filings, times) of planned leader ownership (dynamic mode); without it
    ownership is drawn like the other leader events, within the handling interval.
    """
    n = eligible.size
    rep = f["ordinal"] >= 2
    boost = np.where(rep, 1.0, 0.0) + np.where(f["ordinal"] >= 3, 1.0, 0.0) + hard * 0.5
    for act, base, where in (("leader_reception", 0.04, "bureau"),
                             ("leader_field_visit", 0.03, "terr"),
                             ("leader_case_ownership", 0.02, "terr")):
        if act == "leader_case_ownership" and ownership is not None:
            idx, t = ownership
        else:
            idx, t = within(eligible & (rng.random(n) < base * (1 + 3 * boost)), 0.05, 0.9)
        who = bureau if where == "bureau" else territorial[idx]
        roles = np.asarray(_LEADER_ROLES[act], dtype=object)
        codes = ev.part_table(list(roles))
        ev.add(idx, t, act, who, part=codes[rng.integers(0, roles.size, idx.size)])
    idx, t = within(eligible & (rng.random(n) < 0.02 * (1 + 3 * boost)))
    ev.add(idx, t, "risk_alert", bureau)
    idx, t = within(eligible & (rng.random(n) < 0.02))
    ev.add(idx, t, "hearing", lead[idx])


def _add_money(rng: np.random.Generator, ev: _Slots, within: _Within, f: dict[str, np.ndarray],
               territorial: np.ndarray, has_com: np.ndarray, committee: np.ndarray,
               eligible: np.ndarray) -> None:
    """Money remedies: special funds (territorial unit) and advance funding (committee)."""
    n = eligible.size
    rep = f["ordinal"] >= 2
    money_cat = eligible & np.isin(f["category"], [_CATEGORY_IDS.index(c) for c in (
        "urban_rural_construction", "civil_affairs_emergency", "natural_resources")])
    idx, t = within(money_cat & (rng.random(n) < np.where(rep, 0.05, 0.012)), 0.3, 0.9)
    amount = np.round(np.exp(rng.normal(np.log(60_000), 0.8, idx.size)), -3)
    ev.add(idx, t, "special_fund_application", territorial[idx], amount=np.maximum(amount, 5000))
    idx, t = within(has_com & money_cat & (rng.random(n) < np.where(rep, 0.03, 0.008)),
                    0.2, 0.8)
    amount = np.round(np.exp(rng.normal(np.log(15_000), 0.6, idx.size)), -2)
    ev.add(idx, t, "advance_funding", committee[idx], amount=amount)


def _add_deadlines(rng: np.random.Generator, ev: _Slots, t0: np.ndarray, acc: np.ndarray,
                   handle: np.ndarray, lead: np.ndarray, bureau: int) -> None:
    """Extend past 60 days after acceptance, supervise (overdue) past 90."""
    idx = np.flatnonzero(handle > 60)
    ev.add(idx, t0[idx] + acc[idx] + rng.uniform(45, 60, idx.size), "extend", lead[idx])
    idx = np.flatnonzero(handle > 90)
    ev.add(idx, t0[idx] + acc[idx] + 90 + np.minimum(rng.uniform(0.5, 10, idx.size),
                                                     0.5 * (handle[idx] - 90)),
           "supervise", bureau)


def _add_decision(rng: np.random.Generator, ev: _Slots, close_t: np.ndarray, handle: np.ndarray,
                  lead: np.ndarray, has_med: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Written decision just before closing; returns the outcome code of each close."""
    n = eligible.size
    out_p = np.array([0.35, 0.45, 0.20])
    decision = rng.choice(3, size=n, p=out_p)
    idx = np.flatnonzero(eligible & (rng.random(n) < 0.6))
    ev.add(idx, close_t[idx] - np.minimum(rng.uniform(0.1, 2.0, idx.size), 0.05 * handle[idx]),
           "written_decision", lead[idx], outcome=decision[idx])
    return np.where(has_med & (rng.random(n) < 0.6), _OUTCOME_CODES.index("mediated_agreement"),
                    decision)


def _add_after_close(rng: np.random.Generator, ev: _Slots, f: dict[str, np.ndarray],
                     close_t: np.ndarray, territorial: np.ndarray, bureau: int, d: _District,
                     eligible: np.ndarray,
                     follow: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Follow-up visit, pledge (only the last filing of a matter), review, re-review.

    ``follow`` = (mask, times) of planned follow-up visits (dynamic mode); else drawn here.
    """
    n = eligible.size
    rep = f["ordinal"] >= 2
    last = f["is_last"]
    if follow is None:
        follow = eligible & (rng.random(n) < 0.7)
        t_follow = close_t + rng.uniform(2, 20, n)
    else:
        follow, t_follow = follow
        follow = follow & eligible
        t_follow = np.where(follow, t_follow, close_t)
    idx = np.flatnonzero(follow)
    ev.add(idx, t_follow[idx], "follow_up_visit", bureau)
    pledge = follow & last & (rng.random(n) < np.where(rep, 0.4, 0.2))
    idx = np.flatnonzero(pledge)
    ev.add(idx, t_follow[idx] + 1 / 1440, "cessation_pledge", territorial[idx],
           outcome=_OUTCOME_CODES.index("ceased_petitioning"))
    review = eligible & last & ~pledge & (rng.random(n) < np.where(rep, 0.08, 0.03))
    t_review = close_t + rng.uniform(3, 30, n) + rng.uniform(5, 30, n)
    upheld = rng.random(n) < 0.8
    idx = np.flatnonzero(review)
    ev.add(idx, t_review[idx], "review", bureau,
           outcome=np.where(upheld[idx], _OUTCOME_CODES.index("upheld"),
                            _OUTCOME_CODES.index("sent_back")))
    re_rev = review & upheld & (rng.random(n) < 0.25)
    t_re = t_review + rng.uniform(3, 30, n) + rng.uniform(5, 30, n)
    idx = np.flatnonzero(re_rev)
    city = d.upper_bureau["city"]
    ev.add(idx, t_re[idx], "re_review", city, outcome=_OUTCOME_CODES.index("upheld"))
    ev.add(idx, t_re[idx] + 1 / 1440, "terminated", city)


# ---------------------------------------------------------------------------------------------
# The seed case (南坡园), hand-placed; paraphrased from the 2023 article, not quoted
# ---------------------------------------------------------------------------------------------

SEED_MATTER_ID = "M-NANPOYUAN"
_SEED_PETITIONER = "P5EED0C0FFEE"
_SEED_START = "2023-01-09 09:30:00"
# (filing, day offset, activity, agency name, participants, amount_yuan, outcome)
_SEED_EVENTS: tuple[tuple[int, float, str, str, str | None, float | None, str | None], ...] = (
    (1, 0.0, "register", "潮阳区信访局", None, None, None),
    (1, 3.0, "transfer", "潮阳区信访局", None, None, None),
    (1, 6.0, "accept", "文光街道办事处", None, None, None),
    (1, 6.1, "notify_receipt", "文光街道办事处", None, None, None),
    (1, 10.0, "leader_case_ownership", "文光街道办事处", "区委副书记（包案领导）", None, None),
    (1, 12.0, "leader_field_visit", "文光街道办事处", "区委副书记（包案领导）;西门社区居民委员会",
     None, None),
    (1, 13.0, "investigate", "潮阳区住房和城乡建设局", None, None, None),
    (1, 14.0, "investigate", "潮阳区人民法院", None, None, None),
    (1, 15.0, "joint_conference", "文光街道办事处",
     "潮阳区信访局;文光街道办事处;西门社区居民委员会;潮阳区人民法院;潮阳区住房和城乡建设局",
     None, None),
    (1, 25.0, "advance_funding", "西门社区居民委员会", None, None, None),
    (1, 40.0, "close", "文光街道办事处", None, None, "supported"),
    (2, 70.0, "register", "潮阳区信访局", None, None, None),
    (2, 70.2, "assign_with_report", "潮阳区信访局", None, None, None),
    (2, 72.0, "accept", "文光街道办事处", None, None, None),
    (2, 72.1, "notify_receipt", "文光街道办事处", None, None, None),
    (2, 74.0, "investigate", "西门社区居民委员会", None, None, None),
    (2, 76.0, "mediate", "西门社区居民委员会", "律师;人民调解员;心理咨询师", None, None),
    (2, 80.0, "special_fund_application", "文光街道办事处", None, 160_000.0, None),
    (2, 110.0, "close", "文光街道办事处", None, None, "supported"),
    (2, 125.0, "follow_up_visit", "潮阳区信访局", None, None, None),
    (2, 125.01, "cessation_pledge", "潮阳区信访局", None, None, "ceased_petitioning"),
)
_SEED_ADDRESS = "西门社区南坡园"


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------


def _hex_ids(rng: np.random.Generator, n: int, prefix: str, width: int = 11) -> np.ndarray:
    """``n`` distinct pseudonymous ids like ``P3FA09C21B7E`` (vectorised)."""
    vals = rng.integers(0, 16**width, n, dtype=np.int64)
    while np.unique(vals).size < n:  # astronomically rare; redraw deterministically
        _, first = np.unique(vals, return_index=True)
        dup = np.setdiff1d(np.arange(n), first)
        vals[dup] = rng.integers(0, 16**width, dup.size, dtype=np.int64)
    digits = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
    shifts = 4 * np.arange(width - 1, -1, -1, dtype=np.int64)
    chars = digits[(vals[:, None] >> shifts) & 0xF]
    out = np.empty((n, width + len(prefix)), dtype=np.uint8)
    out[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    out[:, len(prefix):] = chars
    return out.view(f"S{width + len(prefix)}").ravel().astype(str)


def _mixed_ids(index: np.ndarray, salt: int, prefix: str, width: int = 11) -> np.ndarray:
    """Pseudonymous ids like ``P3FA09C21B7E`` from distinct integers, distinct by construction.

    A bijection of the ``4 * width``-bit integers (add a salt, multiply by an odd constant,
    xor-shift, multiply again), so ids of different chunks of one district never collide.
    """
    bits = 4 * width
    mask = np.uint64((1 << bits) - 1)
    x = (np.asarray(index, dtype=np.uint64) + np.uint64(salt)) & mask
    for mult in (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9):
        x = (x * np.full(x.shape, mult, np.uint64)) & mask
        x ^= x >> np.uint64(bits // 2)
    digits = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
    shifts = (4 * np.arange(width - 1, -1, -1)).astype(np.uint64)
    chars = digits[((x[:, None] >> shifts) & np.uint64(0xF)).astype(np.int64)]
    out = np.empty((x.size, width + len(prefix)), dtype=np.uint8)
    out[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    out[:, len(prefix):] = chars
    return out.view(f"S{width + len(prefix)}").ravel().astype(str)


def _serial_ids(prefix: str, n: int, width: int, first: int = 1) -> np.ndarray:
    """``prefix`` + zero-padded first..first+n-1 (vectorised), e.g. ``XF000001``."""
    vals = np.arange(first, first + n, dtype=np.int64)
    digits = (vals[:, None] // 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)) % 10
    out = np.empty((n, width + len(prefix)), dtype=np.uint8)
    out[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    out[:, len(prefix):] = (digits + ord("0")).astype(np.uint8)
    return out.view(f"S{width + len(prefix)}").ravel().astype(str)


def _to_str(codes: np.ndarray, categories: list[str] | np.ndarray) -> pd.Series:
    """Codes (-1 = missing) into a pandas ``str`` Series, fast (Arrow ``take``)."""
    import pyarrow as pa

    dictionary = pa.array(list(categories), pa.large_string())
    idx = pa.array(codes.astype(np.int64), mask=codes < 0)
    return pd.Series(dictionary.take(idx), dtype=pd.StringDtype("pyarrow", na_value=np.nan))


@dataclass(frozen=True)
class _ChunkIds:
    """Numbering of one chunk of a district generated chunk by chunk (ids unique overall)."""

    case_start: int  # cases before this chunk (its first case is XF<case_start + 1>)
    matter_start: int  # matters before this chunk
    width: int  # digits of case and matter ids (from the district's total number of cases)
    salt: int  # petitioner-id salt of the district (from its seed)


def generate_district(
    n_cases: int = 2000,
    *,
    seed: int | np.random.Generator | None = 0,
    start: str | pd.Timestamp = "2023-01-01",
    observation_end: str | pd.Timestamp | None = None,
    include_seed_matter: bool = True,
    mode: str = "dynamic",
    effect_scale: float = 1.0,
    start_cut: str | pd.Timestamp | None = None,
    frailty_variance: float = _FRAILTY_VARIANCE,
    mechanism_scale: float = 1.0,
    policy_change: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Generate the synthetic Chaoyang-like district: canonical events and the planted truth.

    Parameters
    ----------
    n_cases : int, default 2000
        Number of cases (filings, 信访件) in the log, first and repeat filings together.
    seed : int, numpy Generator or None, default 0
        Seed; the same seed gives the same events (and byte-identical files).
    start : str or Timestamp, default "2023-01-01"
        First day on which matters are filed.
    observation_end : str, Timestamp or None
        The end of observation (censoring time); events after it are not in the log. Default:
        ``start`` + 365 days. Recorded in ``truth["observation_end"]``.
    include_seed_matter : bool, default True
        Plant the seed article's 南坡园 matter (``M-NANPOYUAN``, two filings) when the window
        covers it (``_SEED_START`` shifted to ``start`` + 8 days; needs >= 140 days; never in
        an extract with ``start_cut``).
    mode : {"dynamic", "upfront"}, default "dynamic"
        ``"dynamic"``: agencies join open cases over time, a collaboration's effect starts when
        it forms, filings of a matter share a frailty, competing exits. ``"upfront"``: the older
        district (every agency acts within hours of acceptance), byte-identical to casekit
        1.0's generator for the same seed.
    effect_scale : float, default 1.0
        Dynamic mode: multiplies the log of every agency type's planted multiplier; 0 gives the
        null district (collaboration has no effect).
    start_cut : str, Timestamp or None
        Write an extract that starts mid-stream: keep only events at/after this time and add
        an ``opened_at`` column (the case's registration). Must lie between ``start`` and
        ``observation_end``.
    frailty_variance : float, default 0.5
        Dynamic mode: variance of the matter-level gamma frailty (mean 1) on the closing hazard;
        0 = no frailty.
    mechanism_scale : float, default 1.0
        Dynamic mode: multiplies the log of every planted mechanism effect (leader ownership,
        mediation, follow-up visits; ``truth["mechanism_effects"]``); 0 = markers only.
    policy_change : dict, optional
        Dynamic mode: a planted policy change, ``{"date": "2024-01-01",
        "leader_ownership_share": 0.6}``: from ``date`` on (by registration) the share of
        repeat filings a leader owns is the new value instead of about 0.2 (the meaning of
        :func:`casekit.simulate_year`'s lever). Recorded in ``truth["policy_change"]`` with the
        true effects and the realised shares before and after.

    Returns
    -------
    events : pandas.DataFrame
        One row per event, sorted by ``case_id`` then ``timestamp`` (ties in procedure order).
        Columns: ``case_id, timestamp, activity, agency, agency_type, petitioner_id, matter_id,
        repeat_ordinal, repeat_kind, category, channel, level, street, address, participants,
        amount_yuan, outcome`` (data dictionary: ``data/README.md``), plus ``opened_at``
        with ``start_cut``.
        ``events.attrs["casekit"]`` holds ``source`` and ``observation_end``.
    truth : dict
        The planted effects and the facts of this draw (JSON-serialisable). Keys are listed in
        the module docstring of ``casekit.synth`` and in ``data/README.md``.

    Raises
    ------
    CasekitError
        If ``n_cases`` < 1, ``observation_end`` is not after ``start``, ``mode`` is unknown,
        ``effect_scale`` / ``frailty_variance`` / ``mechanism_scale`` is negative (or set in
        up-front mode), ``start_cut`` is not inside the window or ``policy_change`` is not a
        date inside the window with known levers in [0, 1].

    See Also
    --------
    write_district : the same, written to .csv / .csv.gz / .parquet / .xlsx with a truth file.

    Notes
    -----
    Time to close (``register`` -> first ``close``, days) follows the proportional-hazards model
    of the mode described in the module docstring (time-varying in dynamic mode, with competing
    exits); open cases are right-censored at ``observation_end``.
    Generation is vectorised (one numpy pass per event kind and per repeat ordinal).

    Examples
    --------
    >>> events, truth = ck.synth.generate_district(300, seed=1)
    >>> events["case_id"].nunique()
    300
    >>> bool(events.groupby("case_id")["activity"].first().eq("register").all())
    True
    >>> truth["mode"], truth["type_hazard_multiplier"]["repeat"]["court"]
    ('dynamic', 1.6)
    >>> null = ck.synth.generate_district(300, seed=1, effect_scale=0)[1]
    >>> set(null["pattern_hazard_multiplier"]["repeat"].values())
    {1.0}
    >>> _, old = ck.synth.generate_district(300, seed=1, mode="upfront")
    >>> old["fastest_repeat_pattern"]
    'court+housing_construction_bureau+petition_bureau+residents_committee+street_office'
    """
    events, truth, _ = _generate(
        n_cases, seed=seed, start=start, observation_end=observation_end,
        include_seed_matter=include_seed_matter, mode=mode, effect_scale=effect_scale,
        start_cut=start_cut, frailty_variance=frailty_variance,
        mechanism_scale=mechanism_scale, policy_change=policy_change)
    return events, truth


def _window(start: str | pd.Timestamp, observation_end: str | pd.Timestamp | None
            ) -> tuple[pd.Timestamp, pd.Timestamp, float]:
    """Return the first filing day, the observation end (default +365 days) and the span."""
    start_ts = pd.Timestamp(start).normalize()
    end_ts = (start_ts + pd.Timedelta(days=365) if observation_end is None
              else pd.Timestamp(observation_end))
    if end_ts <= start_ts:
        raise CasekitError(
            f"observation_end ({end_ts}) must be after start ({start_ts})")
    return start_ts, end_ts, (end_ts - start_ts) / pd.Timedelta(days=1)


def _order_by_matter(f: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sort the filings by matter and ordinal, mark each matter's last filing (``is_last``).

    A re-filing while *any* earlier filing of the matter is still open becomes a
    repeat_while_open (skip-level repeats keep their kind).
    """
    order = np.lexsort((f["ordinal"], f["matter"]))
    f = {k: v[order] for k, v in f.items()}
    last = np.ones(f["t0"].size, dtype=bool)
    last[:-1] = f["matter"][1:] != f["matter"][:-1]
    f["is_last"] = last
    earlier_close = (pd.Series(f["t0"] + f["T"]).groupby(f["matter"]).cummax()
                     .groupby(f["matter"]).shift().to_numpy())
    still_open = (f["kind"] == 1) & (earlier_close > f["t0"])
    f["kind"] = np.where(still_open, np.int8(2), f["kind"]).astype(np.int8)
    return f


def _registration_rank(f: dict[str, np.ndarray] | None, seed_t0: list[float]) -> np.ndarray:
    """Rank of every filing (generated ones, then the seed filings) in order of registration."""
    t0_all = np.concatenate([f["t0"] if f is not None else np.empty(0), seed_t0])
    reg_order = np.argsort(t0_all, kind="stable")
    case_rank = np.empty_like(reg_order)
    case_rank[reg_order] = np.arange(reg_order.size)
    return case_rank


def _matter_ids(rng: np.random.Generator, f: dict[str, np.ndarray], ids: _ChunkIds | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Matter ids by first filing time and pseudonymous petitioner ids (one per matter).

    Returns ``(m_inv, petitioners, case_matter, matter_ids)``: each filing's matter code, the
    petitioner id per matter code, each filing's matter rank and the matter id per rank.
    """
    m_codes, m_inv = np.unique(f["matter"], return_inverse=True)
    first_t = np.full(m_codes.size, np.inf)
    np.minimum.at(first_t, m_inv, f["t0"])
    m_rank = np.empty(m_codes.size, dtype=np.int64)
    m_rank[np.argsort(first_t, kind="stable")] = np.arange(m_codes.size)
    if ids is None:
        matter_ids = _serial_ids("M", m_codes.size, max(6, len(str(m_codes.size))))
        petitioners = _hex_ids(rng, m_codes.size, "P")
    else:
        matter_ids = _serial_ids("M", m_codes.size, ids.width, ids.matter_start + 1)
        petitioners = _mixed_ids(ids.matter_start + np.arange(m_codes.size), ids.salt, "P")
    return m_inv, petitioners, m_rank[m_inv], matter_ids


def _addresses(f: dict[str, np.ndarray], district: _District) -> tuple[np.ndarray, list[str]]:
    """Return each filing's address code and the address text per code (committee, lane, house)."""
    addr_key = (f["committee"] * 1000 + f["lane"]) * 1000 + f["house"]
    addr_codes, addr_uniques = pd.factorize(addr_key)
    addr_text = [f"{district.committee_short[k // 1_000_000]}{k // 1000 % 1000}巷{k % 1000}号"
                 for k in np.asarray(addr_uniques).tolist()]
    return addr_codes, addr_text


def _events_frame(rng: np.random.Generator, f: dict[str, np.ndarray], ev: dict[str, np.ndarray],
                  slots: _Slots, district: _District, ids: _ChunkIds | None,
                  start_ts: pd.Timestamp, span: float, case_rank: np.ndarray,
                  case_ids: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Build the canonical events of the generated filings, censored at the span, in case order.

    Returns the frame and each row's case rank (to insert the seed filings in place).
    """
    m_inv, petitioners, case_matter, matter_ids = _matter_ids(rng, f, ids)
    keep = np.flatnonzero(ev["t"] < span)  # censoring: nothing after observation_end
    t_ns = start_ts.value + np.round(ev["t"][keep] * 86_400).astype(np.int64) * 10**9
    order = np.lexsort((ev["slot"][keep], t_ns, case_rank[ev["case"][keep]]))
    t_ns = t_ns[order]
    ev = {k: v[keep[order]] for k, v in ev.items()}
    c = ev["case"]
    kinds = ("first", "repeat_after_close", "repeat_while_open", "skip_level_repeat")
    levels = ("county", "city", "province", "national")
    type_list = sorted(set(district.agency_types))
    type_code = np.array([type_list.index(t) for t in district.agency_types])
    area = district.committee_area[f["committee"]]
    addr_codes, addr_text = _addresses(f, district)
    frame = pd.DataFrame({
        "case_id": _to_str(case_rank[c], case_ids),
        "timestamp": pd.to_datetime(t_ns, unit="ns"),
        "activity": _to_str(ev["act"], list(_ACTIVITY_CODES)),
        "agency": _to_str(ev["agency"], district.agency_names),
        "agency_type": _to_str(type_code[ev["agency"]], type_list),
        "petitioner_id": _to_str(m_inv[c], petitioners),
        "matter_id": _to_str(case_matter[c], matter_ids),
        "repeat_ordinal": f["ordinal"][c].astype(np.int64),
        "repeat_kind": _to_str(f["kind"][c].astype(np.int64), list(kinds)),
        "category": _to_str(f["category"][c].astype(np.int64), list(_CATEGORY_IDS)),
        "channel": _to_str(f["channel"][c].astype(np.int64), list(_CHANNELS)),
        "level": _to_str(f["level"][c].astype(np.int64), list(levels)),
        "street": _to_str(area[c], district.area_names),
        "address": _to_str(addr_codes[c], addr_text),
        "participants": _to_str(ev["part"], slots.part_strings),
        "amount_yuan": ev["amount"],
        "outcome": _to_str(ev["outcome"].astype(np.int64), list(_OUTCOME_CODES)),
    })
    return frame, case_rank[c]


def _insert_seed(gen: pd.DataFrame, rows_rank: np.ndarray, seed_frame: pd.DataFrame,
                 seed_ids: np.ndarray, seed_rank: np.ndarray) -> pd.DataFrame:
    """Insert the two seed filings at their place in case order (no full re-sort)."""
    cut = np.searchsorted(rows_rank, seed_rank)
    pieces = [gen.iloc[: cut[0]], seed_frame[seed_frame["case_id"] == seed_ids[0]],
              gen.iloc[cut[0]: cut[1]], seed_frame[seed_frame["case_id"] == seed_ids[1]],
              gen.iloc[cut[1]:]]
    return pd.concat(pieces, ignore_index=True)


def _generate(n_cases: int, *, seed: int | np.random.Generator | None, start: str | pd.Timestamp,
              observation_end: str | pd.Timestamp | None, include_seed_matter: bool, mode: str,
              effect_scale: float, start_cut: str | pd.Timestamp | None,
              frailty_variance: float, mechanism_scale: float = 1.0,
              policy_change: dict[str, Any] | None = None, ids: _ChunkIds | None = None
              ) -> tuple[pd.DataFrame, dict[str, Any], dict[str, np.ndarray] | None]:
    """:func:`generate_district` plus the generator's per-filing state (tests, debugging).

    The state holds, per generated filing (seed matter excluded), ``t0`` (registration, days
    from ``start``), ``T`` (days to the exit), ``ordinal``, ``matter``, ``category``, ... and in
    dynamic mode ``exit`` (index into ``_EXIT_CODES``), ``join`` (days from registration to each
    joiner's first action, ``inf`` if it never joined before the exit; columns in ``_JOINERS``
    order), ``acc``, ``com_t`` and ``frailty``; rows in the order of the events' ``case_rank``.
    ``ids`` numbers the cases and matters of one chunk of a larger district (see
    :class:`_ChunkIds`); without it they are numbered from 1 and petitioner ids drawn from
    ``rng``.
    """
    if not isinstance(n_cases, (int, np.integer)) or n_cases < 1:
        raise CasekitError(f"n_cases must be a positive integer, got {n_cases!r}")
    n_cases = int(n_cases)
    seed_value = seed if isinstance(seed, (int, np.integer)) else None
    rng = as_generator(seed)
    start_ts, end_ts, span = _window(start, observation_end)
    cut_ts = _check_dynamic_arguments(mode, effect_scale, frailty_variance, start_cut, start_ts,
                                      end_ts)
    policy = _check_policy(policy_change, mode, mechanism_scale, start_ts, end_ts)
    dynamic = (_Dynamic(float(effect_scale), float(frailty_variance), float(mechanism_scale),
                        **policy) if mode == "dynamic" else None)
    district = _build_district()

    seed_start = start_ts + (pd.Timestamp(_SEED_START) - pd.Timestamp("2023-01-01"))
    seed_days = (seed_start - start_ts) / pd.Timedelta(days=1)
    plant_seed = (include_seed_matter and n_cases >= 2 and seed_days + 140 < span
                  and cut_ts is None)
    n_gen = n_cases - 2 if plant_seed else n_cases

    f = _simulate_filings(rng, n_gen, span, district, dynamic) if n_gen > 0 else None
    if f is not None:
        f = _order_by_matter(f)
        build = _build_events if dynamic is None else _build_events_dynamic
        ev, slots = build(rng, f, district)
    n_f = 0 if f is None else f["t0"].size
    case_rank = _registration_rank(f, [seed_days, seed_days + 70.0] if plant_seed else [])
    width = max(6, len(str(n_cases))) if ids is None else ids.width
    case_ids = _serial_ids("XF", n_cases, width, 1 if ids is None else ids.case_start + 1)
    frames = []  # the generated events and/or the seed matter's (n_cases >= 1)
    if f is not None:
        gen, rows_rank = _events_frame(rng, f, ev, slots, district, ids, start_ts, span,
                                       case_rank, case_ids)
        frames.append(gen)
    seed_case_ids = None
    if plant_seed:
        seed_ids = case_ids[case_rank[n_f:]]
        seed_frame = _seed_frame(seed_start, seed_ids, district)
        frames = [_insert_seed(frames[0], rows_rank, seed_frame, seed_ids, case_rank[n_f:])
                  if frames else seed_frame]
        seed_case_ids = list(seed_ids)
    events = frames[0]
    events["timestamp"] = events["timestamp"].astype("datetime64[ns]")
    if f is not None:
        f["case_id"] = case_ids[case_rank[:n_f]]
    n_prevalent = None
    if cut_ts is not None:
        events, n_prevalent = _extract_from(events, cut_ts)
        if events.empty:
            raise CasekitError(f"start_cut ({cut_ts}) leaves no events of the {n_cases} cases; "
                               "choose an earlier cut or more cases")
    events.attrs["casekit"] = {"source": f"casekit.synth {GENERATOR_VERSION}",
                               "observation_end": end_ts.isoformat()}
    if cut_ts is not None:
        events.attrs["casekit"]["start_cut"] = cut_ts.isoformat()
    if dynamic is None and cut_ts is None:
        truth = _truth(len(events), f, span, start_ts, end_ts, n_cases, seed_value,
                       seed_case_ids)
    else:
        in_log = (None if f is None else
                  pd.Index(events["case_id"].unique()).get_indexer(f["case_id"]) >= 0)
        truth = _truth_dynamic(events, f, in_log, district, dynamic, span, start_ts, end_ts,
                               cut_ts, n_prevalent, seed_value, seed_case_ids)
    return events, truth, f


def _check_policy(policy: dict[str, Any] | None, mode: str, mechanism_scale: float,
                  start: pd.Timestamp, end: pd.Timestamp) -> dict[str, float]:
    """Validate ``policy_change`` and ``mechanism_scale``; return the _Dynamic fields."""
    if (not isinstance(mechanism_scale, (int, float, np.number))
            or not np.isfinite(mechanism_scale) or mechanism_scale < 0):
        raise CasekitError(f"mechanism_scale must be a finite number >= 0, got "
                           f"{mechanism_scale!r}")
    if mode != "dynamic" and (policy is not None or mechanism_scale != 1.0):
        raise CasekitError("policy_change and mechanism_scale apply to mode='dynamic' only")
    if policy is None:
        return {}
    if not isinstance(policy, dict) or "date" not in policy or len(policy) < 2:
        raise CasekitError("policy_change: expected {'date': DATE, LEVER: VALUE}, e.g. "
                           "{'date': '2024-01-01', 'leader_ownership_share': 0.6}")
    try:
        date = pd.Timestamp(policy["date"])
    except (TypeError, ValueError):
        raise CasekitError(f"policy_change: not a date: {policy['date']!r}") from None
    if not start < date < end:
        raise CasekitError(f"policy_change: date {date.date()} must lie after start "
                           f"({start.date()}) and before observation_end ({end})")
    out = {"change_day": (date - start) / pd.Timedelta(days=1)}
    for lever, value in policy.items():
        if lever == "date":
            continue
        if lever not in _POLICY_LEVERS:
            raise CasekitError(f"policy_change: unknown lever {lever!r}; the synth can plant "
                               f"{', '.join(_POLICY_LEVERS)}")
        if not isinstance(value, (int, float, np.number)) or not 0 <= value <= 1:
            raise CasekitError(f"policy_change: {lever} must be a share in [0, 1], got "
                               f"{value!r}")
        out["own_share_after"] = float(value)
    return out


def _check_dynamic_arguments(mode: str, effect_scale: float, frailty_variance: float,
                             start_cut: str | pd.Timestamp | None, start: pd.Timestamp,
                             end: pd.Timestamp) -> pd.Timestamp | None:
    """Validate the mode options; return the start cut as a Timestamp (or None)."""
    if mode not in _MODES:
        raise CasekitError(f"mode must be one of {', '.join(_MODES)}; got {mode!r}")
    for name, value in (("effect_scale", effect_scale), ("frailty_variance", frailty_variance)):
        if not isinstance(value, (int, float, np.number)) or not np.isfinite(value) or value < 0:
            raise CasekitError(f"{name} must be a finite number >= 0, got {value!r}")
    if mode == "upfront" and (effect_scale != 1.0 or frailty_variance != _FRAILTY_VARIANCE):
        raise CasekitError("effect_scale and frailty_variance apply to mode='dynamic' only")
    if start_cut is None:
        return None
    try:
        cut = pd.Timestamp(start_cut)
    except (TypeError, ValueError):
        raise CasekitError(f"start_cut: not a date: {start_cut!r}") from None
    if not start < cut < end:
        raise CasekitError(f"start_cut ({cut}) must lie after start ({start}) and before "
                           f"observation_end ({end})")
    return cut


def _extract_from(events: pd.DataFrame, cut: pd.Timestamp) -> tuple[pd.DataFrame, int]:
    """Keep the events at/after ``cut``; add ``opened_at`` (registration). Count prevalent cases.

    Every case's first row is its ``register`` event (events are sorted by case then time).
    """
    cid = events["case_id"].to_numpy()
    first = np.ones(cid.size, dtype=bool)
    first[1:] = cid[1:] != cid[:-1]
    starts = np.flatnonzero(first)
    ts = events["timestamp"].to_numpy()
    opened = np.repeat(ts[starts], np.diff(np.append(starts, cid.size)))
    keep = ts >= cut.to_datetime64()
    out = events.loc[keep].reset_index(drop=True)
    out["opened_at"] = opened[keep]
    prevalent = opened[keep] < cut.to_datetime64()
    n_prevalent = int(pd.unique(out["case_id"].to_numpy()[prevalent]).size)
    return out, n_prevalent


def _seed_frame(seed_start: pd.Timestamp, ids: np.ndarray, d: _District) -> pd.DataFrame:
    types = dict(zip(d.agency_names, d.agency_types, strict=True))
    rows = []
    for filing, day, act, agency, part, amount, outcome in _SEED_EVENTS:
        rows.append({
            "case_id": ids[filing - 1],
            "timestamp": (seed_start + pd.Timedelta(days=day)).round("s"),
            "activity": act, "agency": agency, "agency_type": types[agency],
            "petitioner_id": _SEED_PETITIONER, "matter_id": SEED_MATTER_ID,
            "repeat_ordinal": filing,
            "repeat_kind": "first" if filing == 1 else "repeat_after_close",
            "category": "urban_rural_construction",
            "channel": "visit" if filing == 1 else "online", "level": "county",
            "street": "文光街道", "address": _SEED_ADDRESS, "participants": part,
            "amount_yuan": np.nan if amount is None else amount, "outcome": outcome,
        })
    out = pd.DataFrame(rows)
    for col in out.columns:
        if col not in ("timestamp", "repeat_ordinal", "amount_yuan"):
            out[col] = out[col].astype(pd.StringDtype("pyarrow", na_value=np.nan))
    out["repeat_ordinal"] = out["repeat_ordinal"].astype(np.int64)
    out["amount_yuan"] = out["amount_yuan"].astype(float)
    return out


def _r(x: float, nd: int = 6) -> float:
    return float(round(float(x), nd))


def _draw_counts(f: dict[str, np.ndarray] | None, span: float,
                 seed_case_ids: list[str] | None) -> tuple[dict[str, int], int, int, int]:
    """Repeat-kind counts, open, repeat and matter counts of the draw (seed matter included)."""
    kind_names = ("first", "repeat_after_close", "repeat_while_open", "skip_level_repeat")
    kind_counts = dict.fromkeys(kind_names, 0)
    n_open, n_repeat, n_matters = 0, 0, 0
    if f is not None:
        n_open = int((f["t0"] + f["T"] >= span).sum())
        n_repeat = int((f["ordinal"] >= 2).sum())
        n_matters = int(np.unique(f["matter"]).size)
        for i, k in enumerate(kind_names):
            kind_counts[k] = int((f["kind"] == i).sum())
    if seed_case_ids is not None:
        kind_counts["first"] += 1
        kind_counts["repeat_after_close"] += 1
        n_repeat += 1
        n_matters += 1
    return kind_counts, n_open, n_repeat, n_matters


def _observed_by_pattern(f: dict[str, np.ndarray], span: float, names: list[str]
                         ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Summarise raw per-pattern outcomes, the realised pattern mix and the observed shares.

    Returns ``(raw, realised_mix, observed)`` for the truth's ``confounding`` and ``observed``
    entries, computed on the generated filings (before the observation window cuts events).
    """
    closed = f["t0"] + f["T"] < span
    dur = np.where(closed, f["T"], span - f["t0"])
    rep = f["ordinal"] >= 2
    pat, cat = f["pattern"], f["category"]
    n_p, n_c = len(names), len(_CATEGORY_IDS)
    raw: dict[str, Any] = {}
    realised_mix: dict[str, Any] = {}
    for label, m in (("first", ~rep), ("repeat", rep)):
        cnt = np.bincount(pat[m], minlength=n_p)
        raw[label] = {}
        for pi, name in enumerate(names):
            if cnt[pi] == 0:
                continue
            sel = m & closed & (pat == pi)
            n_cl = int(sel.sum())
            raw[label][name] = {
                "n_cases": int(cnt[pi]), "n_closed": n_cl,
                "median_days_closed": _r(np.median(dur[sel]), 3) if n_cl else None}
        tab = np.bincount(cat[m] * n_p + pat[m], minlength=n_c * n_p).reshape(n_c, n_p)
        realised_mix[label] = {
            c: {names[pi]: _r(tab[ci, pi] / tab[ci].sum(), 4)
                for pi in range(n_p) if tab[ci, pi] > 0}
            for ci, c in enumerate(_CATEGORY_IDS) if tab[ci].sum() > 0}
    order_raw = sorted(
        (p for p in names if p in raw["repeat"] and raw["repeat"][p]["n_closed"] >= 30
         and _PATTERNS[names.index(p)].main),
        key=lambda p: raw["repeat"][p]["median_days_closed"])
    observed = {
        "n_generated_cases": int(closed.size),
        "share_open_generated": _r(1 - closed.mean(), 4),
        "share_repeat_generated": _r(rep.mean(), 4),
        "raw_fastest_repeat_pattern_by_median": order_raw[0] if order_raw else None,
        "raw_median_order_repeat": order_raw,
    }
    return raw, realised_mix, observed


def _hazard_model_truth() -> dict[str, Any]:
    """Describe the truth's ``hazard_model`` entry: the upfront proportional-hazards model."""
    return {
        "form": "h(t) = h0(t) * category_multiplier[category] * repeat_multiplier^is_repeat "
                "* pattern_multiplier_first[pattern]^(k^is_repeat); is_repeat = "
                "repeat_ordinal >= 2; k = pattern_exponent_repeat; proportional hazards",
        "sampling": "T = H0^-1(E / multiplier), E ~ Exp(1), exact inverse of the "
                    "piecewise-linear cumulative baseline hazard",
        "baseline": {
            "kind": "piecewise_constant_hazard_per_day",
            "breaks_days": list(_BASE_BREAKS),
            "hazard_per_day": list(_BASE_RATES),
            "note": "rate i applies on [breaks[i], breaks[i+1]); the last rate beyond the "
                    "last break; applies to reference category, reference pattern, first "
                    "filing",
            "median_days": _r(_inverse_cum_hazard(np.array([np.log(2)]))[0], 3),
            "survival_at": {str(t): _r(s, 4) for t, s in zip(
                (7, 15, 30, 60, 90), _baseline_survival(np.array([7., 15, 30, 60, 90])),
                strict=True)},
        },
        "reference_category": "other",
        "category_multiplier": {c: _CATEGORY_HR[c] for c in _CATEGORY_IDS},
        "repeat_multiplier": _REPEAT_MULTIPLIER,
        "pattern_exponent_repeat": _PATTERN_EXPONENT_REPEAT,
        "other_covariates": "none: channel, street, level, leader events, ordinal > 2 "
                            "do not change the hazard",
    }


def _confounding_truth(names: list[str], shares: dict[str, float], raw: dict[str, Any],
                       realised_mix: dict[str, Any]) -> dict[str, Any]:
    """Describe the truth's ``confounding`` entry: planted and realised pattern mix by category."""
    mix = _pattern_mix(shares)
    return {
        "description": "the pattern is drawn given category, street-vs-town and first-vs-"
                       "repeat; hard categories (natural_resources, political_legal, "
                       "urban_rural_construction) draw the multi-agency patterns and have "
                       "category multipliers < 1, so raw per-pattern medians are confounded; "
                       "adjust for category",
        "pattern_probability_by_category": {
            kind: {area: {c: {names[p]: _r(mix[ci, s, r, p], 4)
                              for p in range(len(names)) if mix[ci, s, r, p] > 0}
                          for ci, c in enumerate(_CATEGORY_IDS)}
                   for area, s in (("street", 1), ("town", 0))}
            for kind, r in (("first", 0), ("repeat", 1))},
        "street_probability_by_category": dict(_P_STREET),
        "realised_pattern_share_by_category": realised_mix,
        "raw_by_pattern": raw,
    }


def _repeats_truth() -> dict[str, Any]:
    """Describe the truth's ``repeats`` entry: how repeat filings are drawn."""
    return {
        "p_refile_after_first": _P_REFILE_FIRST,
        "p_refile_after_repeat": _P_REFILE_LATER,
        "max_ordinal": _MAX_ORDINAL,
        "kind_probability": dict(_KIND_P),
        "skip_level_probability": dict(_SKIP_LEVEL_P),
        "gap_after_close_days": {"distribution": "lognormal", "median": _GAP_MEDIAN_DAYS,
                                 "sigma": _GAP_SIGMA, "clip": [1, 365]},
        "repeat_while_open": "registered at a uniform 10-90% point of the previous "
                             "filing's time to close",
        "shared_fields": ["petitioner_id", "matter_id", "category", "address", "street"],
    }


def _seed_matter_truth(seed_case_ids: list[str] | None) -> dict[str, Any] | None:
    """Describe the truth's ``seed_matter`` entry (None when the seed matter is not planted)."""
    if not seed_case_ids:
        return None
    return {"matter_id": SEED_MATTER_ID, "petitioner_id": _SEED_PETITIONER,
            "case_ids": [str(x) for x in seed_case_ids],
            "address": _SEED_ADDRESS,
            "note": "hand-placed after the 2023 Chaoyang article (unsafe facade of "
                    "an unfinished building; second filing about falling bricks; "
                    "160,000-yuan special fund); not drawn from the hazard model"}


def _truth(n_events: int, f: dict[str, np.ndarray] | None, span: float,
           start: pd.Timestamp, end: pd.Timestamp, n_cases: int, seed: int | None,
           seed_case_ids: list[str] | None) -> dict[str, Any]:
    """Build the upfront district's truth dict (also the base of the dynamic one, with ``f=None``).

    The key order is the truth file's order: each entry's builder is called in place.
    """
    from casekit import __version__

    shares = _category_shares()
    m_first, m_repeat = _pattern_multipliers()
    names = [p.name for p in _PATTERNS]
    ref = next(p.name for p in _PATTERNS if p.key == _REFERENCE_PATTERN)
    main = [i for i, p in enumerate(_PATTERNS) if p.main]
    raw: dict[str, Any] = {}
    realised_mix: dict[str, Any] = {}
    observed: dict[str, Any] = {}
    if f is not None:
        raw, realised_mix, observed = _observed_by_pattern(f, span, names)
    kind_counts, n_open, n_repeat, n_matters = _draw_counts(f, span, seed_case_ids)
    return {
        "generator": "casekit.synth.generate_district",
        "generator_version": GENERATOR_VERSION,
        "casekit_version": __version__,
        "seed": seed,
        "n_cases": n_cases,
        "n_events": int(n_events),
        "n_matters": n_matters,
        "start": start.isoformat(),
        "observation_end": end.isoformat(),
        "share_open": _r(n_open / n_cases, 4),
        "share_repeat_filings": _r(n_repeat / n_cases, 4),
        "repeat_kind_counts": kind_counts,
        "time_to_close": {
            "origin": "register event of the case",
            "event": "first close event of the case",
            "unit": "days",
            "censoring": "right-censored at observation_end (administrative); events after "
                         "observation_end are absent from the log",
        },
        "hazard_model": _hazard_model_truth(),
        "reference_pattern": ref,
        "pattern_hazard_multiplier": {
            "first": {n: _r(m, 6) for n, m in zip(names, m_first, strict=True)},
            "repeat": {n: _r(m, 6) for n, m in zip(names, m_repeat, strict=True)},
            "note": "relative to reference_pattern within the same filing kind (first filings / "
                    "repeat filings); a Cox model on repeat filings with category covariates "
                    "should recover the 'repeat' values",
        },
        "main_patterns": [names[i] for i in main],
        "fastest_repeat_pattern": names[max(main, key=lambda i: m_repeat[i])],
        "fastest_first_pattern": names[max(main, key=lambda i: m_first[i])],
        "planted_order_repeat": [names[i] for i in sorted(main, key=lambda i: -m_repeat[i])],
        "category_shares": {c: _r(shares[c], 6) for c in _CATEGORY_IDS},
        "channel_shares": dict(_CHANNELS),
        "confounding": _confounding_truth(names, shares, raw, realised_mix),
        "repeats": _repeats_truth(),
        "seed_matter": _seed_matter_truth(seed_case_ids),
        "observed": observed,
    }


def _first_actions(f: dict[str, np.ndarray], d: _District
                   ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return the times (days open) and type bits of each agency type's first action.

    Columns: petition bureau (registration), lead (acceptance), committee, then the joiners;
    ``inf`` where the type never acts before the exit. Returns ``(times, bits, type_names)``.
    """
    type_list = sorted(set(d.agency_types) | {j.type for j in _JOINERS})
    bit = {t: 1 << i for i, t in enumerate(type_list)}
    code_bit = np.array([bit[t] for t in d.agency_types], dtype=np.int64)
    area = d.committee_area[f["committee"]]
    accepted = f["exit"] != _EXIT_CODES.index("decline_intake")
    n = accepted.size
    times = np.column_stack([np.zeros(n), np.where(accepted, f["acc"], np.inf),
                             np.where(accepted, f["com_t"], np.inf), f["join"]])
    bits = np.column_stack([np.full(n, bit["petition_bureau"]), code_bit[d.area_unit[area]],
                            code_bit[d.committee_agency[f["committee"]]],
                            np.tile([bit[j.type] for j in _JOINERS], (n, 1))])
    return times, bits, type_list


def _patterns_in_force(f: dict[str, np.ndarray], d: _District, lo: np.ndarray, hi: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every (filing, pattern) in force for a positive time within ``(lo, min(exit, hi))``.

    Returns ``(filing_index, pattern_mask, type_names)``; a mask has one bit per agency type.
    """
    times, bits, type_list = _first_actions(f, d)
    end = np.minimum(f["T"], hi)
    times = np.where(times < end[:, None], times, np.inf)
    order = np.argsort(times, axis=1, kind="stable")
    ts = np.take_along_axis(times, order, axis=1)
    masks = np.cumsum(np.where(np.isfinite(ts), np.take_along_axis(bits, order, axis=1), 0),
                      axis=1)
    nxt = np.minimum(np.concatenate([ts[:, 1:], np.full((ts.shape[0], 1), np.inf)], axis=1),
                     end[:, None])
    ok = np.isfinite(ts) & (nxt > ts) & (nxt > lo[:, None]) & (ts < end[:, None])
    rows, cols = np.nonzero(ok)
    return rows, masks[rows, cols], type_list


def _mask_names(masks: np.ndarray, type_list: list[str]) -> dict[int, str]:
    return {int(m): "+".join(t for i, t in enumerate(type_list) if int(m) >> i & 1)
            for m in np.unique(masks)}


def _mask_multiplier(masks: np.ndarray, type_list: list[str], scale: float, repeat: bool
                     ) -> np.ndarray:
    m = _joiner_m(scale, repeat)
    out = np.ones(masks.size)
    for jj, j in enumerate(_JOINERS):
        out *= np.where(masks >> type_list.index(j.type) & 1, m[jj], 1.0)
    return out


def _pattern_truth(f: dict[str, np.ndarray], d: _District, dyn: _Dynamic, lo: np.ndarray,
                   hi: np.ndarray) -> dict[str, Any]:
    """Describe the patterns: reference, causal multipliers, support, fastest, planted order."""
    rows, masks, type_list = _patterns_in_force(f, d, lo, hi)
    names = _mask_names(masks, type_list)
    rep = f["ordinal"][rows] >= 2
    support: dict[str, dict[str, int]] = {}
    for label, sel in (("first", ~rep), ("repeat", rep)):
        u, cnt = np.unique(masks[sel], return_counts=True)
        support[label] = {names[int(m)]: int(c) for m, c in
                          sorted(zip(u.tolist(), cnt.tolist(), strict=True),
                                 key=lambda x: (-x[1], names[x[0]]))}
    u = np.unique(masks)
    mult = {label: dict(zip([names[int(m)] for m in u],
                            _mask_multiplier(u, type_list, dyn.effect_scale, label == "repeat"),
                            strict=True)) for label in ("first", "repeat")}
    return _rank_patterns(support, mult)


def _rank_patterns(support: dict[str, dict[str, int]], mult: dict[str, dict[str, float]]
                   ) -> dict[str, Any]:
    """Compute the pattern keys of the truth from support counts and multipliers."""
    first_line = {"+".join(sorted(("petition_bureau", a, b))) for a, b in (
        ("street_office", "residents_committee"), ("town_government", "villagers_committee"))}
    total = {p: support["first"].get(p, 0) + support["repeat"].get(p, 0) for p in first_line}
    reference = max(sorted(total), key=lambda p: total[p])

    def order(label: str) -> list[str]:
        big = [p for p, c in support[label].items() if c >= 30]
        return sorted(big, key=lambda p: (-round(mult[label][p], 9), -support[label][p], p))

    return {
        "reference_pattern": reference,
        "pattern_hazard_multiplier": {
            "first": {p: _r(m) for p, m in sorted(mult["first"].items())},
            "repeat": {p: _r(m) for p, m in sorted(mult["repeat"].items())},
            "note": "causal multiplier of the closing hazard while the pattern is in force "
                    "(the agency types that have acted so far), relative to reference_pattern, "
                    "within first / repeat filings; the product of type_hazard_multiplier over "
                    "the joined types (first-line types: 1); every pattern in force in the draw",
        },
        "pattern_support": support,
        "main_patterns": order("repeat"),
        "fastest_repeat_pattern": (order("repeat") or [None])[0],
        "fastest_first_pattern": (order("first") or [None])[0],
        "planted_order_repeat": order("repeat"),
    }


def _dynamic_observed(f: dict[str, np.ndarray], span: float) -> dict[str, Any]:
    """Realised joining and exits of the draw (model filings only)."""
    join = f["join"]
    exit_counts = {name: int((f["exit"] == i).sum()) for i, name in enumerate(_EXIT_CODES)}
    seen = f["t0"] + f["T"] < span
    for name in exit_counts:
        exit_counts[name] = int(((f["exit"] == _EXIT_CODES.index(name)) & seen).sum())
    joined = np.isfinite(join)
    return {
        "exit_counts_observed": exit_counts,
        "share_competing_exit": _r(sum(v for k, v in exit_counts.items() if k != "close")
                                   / f["t0"].size, 4),
        "share_with_a_joiner": _r(joined.any(axis=1).mean(), 4),
        "share_joins_after_day_3": _r((join[joined] > 3).mean(), 4) if joined.any() else None,
        "median_join_day": _r(np.median(join[joined]), 3) if joined.any() else None,
        "joined_share_by_type": {j.type: _r(joined[:, jj].mean(), 4)
                                 for jj, j in enumerate(_JOINERS)},
    }


def _dynamic_time_to_close() -> dict[str, Any]:
    """Describe the dynamic truth's ``time_to_close``: the outcome, competing exits, entry."""
    return {
        "origin": "register event of the case",
        "event": "first close event of the case (the outcome)",
        "competing_exits": list(_EXIT_CODES[1:]),
        "unit": "days",
        "censoring": "a competing exit ends the case (censor it there for the cause-specific "
                     "hazard of closing); right-censored at observation_end (administrative)",
        "delayed_entry": "with start_cut, cases registered before the cut enter the extract "
                         "at their first logged event; opened_at holds their registration",
    }


def _dynamic_hazard_text() -> dict[str, str]:
    """Describe the dynamic closing hazard: the ``hazard_model`` entries that differ upfront."""
    return {
        "form": ("h(t) = h0(t) * category_multiplier[category] * repeat_multiplier^is_repeat "
                 "* frailty[matter] * prod_{agency types joined before t} "
                 "type_multiplier_first[type]^(k^is_repeat); is_repeat = repeat_ordinal >= 2; "
                 "k = pattern_exponent_repeat; cause-specific hazard of close"),
        "sampling": ("exact: the cumulative hazard is piecewise linear between the baseline "
                     "breaks and the case's join times; T_close = H^-1(E), E ~ Exp(1), "
                     "inverted segment by segment; each competing exit has its own latent "
                     "time; the exit is the earliest"),
        "other_covariates": ("none: channel, street, level, leader events, ordinal > 2 do not "
                             "change the hazard; frailty is unobserved"),
    }


def _dynamic_patterns(g: dict[str, np.ndarray] | None, d: _District, dyn: _Dynamic,
                      span: float, cut_days: float | None
                      ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the pattern entries (counted while in force) and the observed shares of the log."""
    if g is None or g["t0"].size == 0:  # only the hand-placed seed matter
        patterns: dict[str, Any] = {
            "reference_pattern": None, "pattern_hazard_multiplier": {"first": {}, "repeat": {}},
            "pattern_support": {"first": {}, "repeat": {}}, "main_patterns": [],
            "fastest_repeat_pattern": None, "fastest_first_pattern": None,
            "planted_order_repeat": []}
        return patterns, {}
    lo = np.full(g["t0"].size, -np.inf) if cut_days is None else cut_days - g["t0"]
    return _pattern_truth(g, d, dyn, lo, span - g["t0"]), _dynamic_observed(g, span)


def _dynamic_model_truth(dyn: _Dynamic, g: dict[str, np.ndarray] | None, span: float,
                         start: pd.Timestamp) -> dict[str, Any]:
    """Describe the dynamic model: type multipliers, frailty, exits, joining, mechanisms, policy."""
    k = _PATTERN_EXPONENT_REPEAT
    m_first, m_rep = _joiner_m(dyn.effect_scale, False), _joiner_m(dyn.effect_scale, True)
    return {
        "type_hazard_multiplier": {
            "first": {j.type: _r(m) for j, m in zip(_JOINERS, m_first, strict=True)},
            "repeat": {j.type: _r(m) for j, m in zip(_JOINERS, m_rep, strict=True)},
            "note": f"multiplies the closing hazard from the type's first action on the case; "
                    f"repeat = first^{k:g}; first-line types (petition_bureau, street_office / "
                    f"town_government, residents_committee / villagers_committee) are 1; "
                    f"effect_scale multiplies the log",
        },
        "frailty": {"distribution": "gamma" if dyn.frailty_variance > 0 else "none",
                    "mean": 1.0, "variance": dyn.frailty_variance, "level": "matter",
                    "applies_to": "the closing hazard only (not joining, not competing exits)",
                    "realised_variance": (_r(np.var(g["frailty"]), 4)
                                          if g is not None and g["t0"].size else None)},
        "exit_model": _exit_model(),
        "joining_model": _joining_model(),
        "mechanism_effects": _mechanism_truth(dyn),
        "policy_change": _policy_truth(dyn, g, span, start),
    }


def _dynamic_repeats(repeats: dict[str, Any]) -> None:
    """Update the ``repeats`` entry with the dynamic re-filing probabilities (in place)."""
    repeats.update({
        "p_refile_after_first": _P_REFILE_DYNAMIC[0], "p_refile_after_repeat": _P_REFILE_DYNAMIC[1],
        "p_refile_note": "before the mechanisms' refile_probability_multiplier "
                         "(mechanism_effects): p = p_refile_after_* x the multipliers of the "
                         "previous filing's mechanisms"})


def _insert_after(d: dict[str, Any], key: str, extra: dict[str, Any]) -> dict[str, Any]:
    """Return ``d`` with the items of ``extra`` inserted right after ``key`` (key order kept)."""
    pos = list(d).index(key)
    items = list(d.items())
    return dict(items[:pos + 1] + list(extra.items()) + items[pos + 1:])


def _truth_dynamic(events: pd.DataFrame, f: dict[str, np.ndarray] | None,
                   in_log: np.ndarray | None, d: _District, dyn: _Dynamic | None, span: float,
                   start: pd.Timestamp, end: pd.Timestamp, cut: pd.Timestamp | None,
                   n_prevalent: int | None, seed: int | None,
                   seed_case_ids: list[str] | None) -> dict[str, Any]:
    """Build the truth of a dynamic district (or of an upfront one cut at ``start_cut``).

    Starts from the upfront truth of the cases in the log and replaces what the dynamic model
    changes; its own entries go right after ``hazard_model``.
    """
    g = None if f is None else {k: v[in_log] for k, v in f.items()}
    base = _truth(len(events), None, span, start, end, int(events["case_id"].nunique()), seed,
                  seed_case_ids)
    kinds, n_open, n_repeat, n_matters = _draw_counts(g, span, seed_case_ids)
    n = base["n_cases"]
    base.update({"n_matters": n_matters, "share_open": _r(n_open / n, 4),
                 "share_repeat_filings": _r(n_repeat / n, 4), "repeat_kind_counts": kinds})
    extra: dict[str, Any] = {
        "mode": "upfront" if dyn is None else "dynamic",
        "start_cut": None if cut is None else cut.isoformat(),
        "n_prevalent": n_prevalent or 0,
        "n_cases_generated": 0 if f is None else int(f["t0"].size) + len(seed_case_ids or []),
    }
    if dyn is None:  # an upfront district cut at start_cut: the planted model is unchanged
        return {**base, **extra}
    extra["effect_scale"] = dyn.effect_scale
    base["time_to_close"] = _dynamic_time_to_close()
    base["hazard_model"].update(_dynamic_hazard_text())
    cut_days = None if cut is None else (cut - start) / pd.Timedelta(days=1)
    patterns, observed = _dynamic_patterns(g, d, dyn, span, cut_days)
    extra.update(_dynamic_model_truth(dyn, g, span, start))
    base.update(patterns)
    _dynamic_repeats(base["repeats"])
    base.pop("confounding")
    base["confounding"] = {
        "description": "by indication and immortal time: joins become more likely the longer a "
                       "case is open and in the hard categories (natural_resources, "
                       "political_legal, urban_rural_construction), which also close slower by "
                       "themselves; a pattern taken from the whole life of a case is therefore "
                       "biased; count a pattern only while it is in force",
    }
    base["observed"] = observed
    return _insert_after(base, "hazard_model", extra)


def _mechanism_truth(dyn: _Dynamic) -> dict[str, Any]:
    """Describe the planted mechanism effects (dynamic mode) with units and definitions."""
    eff = {name: {"close_hazard_multiplier": _r(dyn.mech(name, "close")),
                  "refile_probability_multiplier": _r(dyn.mech(name, "refile")),
                  "escalation_probability_multiplier": _r(dyn.mech(name, "escalation"))}
           for name in _MECHANISMS}
    eff["leader_case_ownership"]["happens"] = (
        f"repeat filings: planned with probability share / {_OWN_REACH} (share "
        f"{_OWN_SHARE_REPEAT} unless a policy change sets it), first filings: "
        f"{_OWN_P_FIRST} x (1 + 1.5 hard); at the intake decision + U{_OWN_DELAY} days, "
        "logged only if the filing is still open then (so the logged share of repeat filings "
        "is about share); independent of the category for repeats")
    eff["mediate"]["happens"] = (f"the committee mediates with social forces: probability "
                                 f"{_MED_P[0]} (first) / {_MED_P[1]} (repeat), at "
                                 f"the intake decision + Exp(mean {_MED_DELAY_MEAN}) days, if "
                                 "still open")
    eff["follow_up_visit"]["happens"] = (f"the petition bureau visits {_FOLLOW_P:.0%} of the "
                                         f"closed filings, close + U{_FOLLOW_DAYS} days; a "
                                         "re-filing after the close comes after the visit")
    return {
        **eff,
        "definitions": {
            "close_hazard_multiplier": "x the cause-specific hazard of close of the filing, "
                                       "from the time of the mechanism's first event to its "
                                       "exit (time-varying; 1 before)",
            "refile_probability_multiplier": "x the probability that the matter is filed again "
                                             "after this filing (repeats.p_refile_after_*); a "
                                             "follow-up visit lowers only re-filings after the "
                                             "close",
            "escalation_probability_multiplier": "x the probability that this filing's "
                                                 "re-filing is a skip_level_repeat (the others "
                                                 "become repeat_after_close)",
            "hard": "category in " + ", ".join(_HARD),
            "mechanism_scale": dyn.mechanism_scale,
        },
        "markers_only": ["leader_reception", "leader_field_visit", "risk_alert", "hearing",
                         "special_fund_application", "advance_funding", "cessation_pledge",
                         "review", "re_review", "written_decision",
                         ("joint_conference (its effect is the political_legal_committee's "
                          "type_hazard_multiplier)")],
    }


def _policy_truth(dyn: _Dynamic, g: dict[str, np.ndarray] | None, span: float,
                  start: pd.Timestamp) -> dict[str, Any] | None:
    """Describe the planted policy change and the realised share of owned repeat filings."""
    realised: dict[str, Any] = {}
    if g is not None and g["t0"].size:
        rep = g["ordinal"] >= 2
        owned = np.isfinite(g["own_t"]) & (g["t0"] + g["own_t"] < span)
        after = g["t0"] >= dyn.change_day
        for label, sel in (("before", rep & ~after), ("after", rep & after)):
            realised[label] = _r(owned[sel].mean(), 4) if sel.any() else None
            realised[f"n_repeat_{label}"] = int(sel.sum())
    if not np.isfinite(dyn.change_day):
        return None if not realised else {"date": None, "realised_share_owned": realised}
    date = start + pd.Timedelta(days=dyn.change_day)
    return {
        "date": date.isoformat(),
        "lever": "leader_ownership_share",
        "before": _OWN_SHARE_REPEAT,
        "after": dyn.own_share_after,
        "definition": "share of repeat filings (repeat_ordinal >= 2) a leader owns (a "
                      "leader_case_ownership event), by registration before / from the date; "
                      "casekit.simulate_year's leader_ownership_share",
        "true_effects": {k: v for k, v in _mechanism_truth(dyn)["leader_case_ownership"].items()
                         if k.endswith("multiplier")},
        "realised_share_owned": realised,
    }


def _exit_model() -> dict[str, Any]:
    return {
        "outcome": "close",
        "competing": list(_EXIT_CODES[1:]),
        "cause_specific_hazard_per_day": {
            "decline_intake": {"rate": _DECLINE_RATE, "window": "[0, intake decision]"},
            "route_to_legal_procedure": {
                "rate": _ROUTE_RATE, "from": "intake decision",
                "category_multiplier": dict(_ROUTE_CATEGORY),
                "after_court_joined_multiplier": _ROUTE_COURT_MULT,
                "agency": "the court if it has joined, else the lead unit"},
            "terminated": {"rate": _TERMINATE_RATE, "from_day": _TERMINATE_FROM},
            "withdraw": {"rate": _WITHDRAW_RATE, "from": "intake decision"},
            "transfer_out": {"rate": _TRANSFER_OUT_RATE,
                             "window_days_after_intake": _TRANSFER_OUT_DAYS},
        },
        "independent_of": "frailty and the joined agencies (except the court for routing)",
        "intake_decision": "min(Gamma(1.5, scale 1.2), 14) days after registration; the case "
                           "is accepted then unless declined before",
    }


def _joining_model() -> dict[str, Any]:
    return {
        "first_line": {"street": ["petition_bureau", "street_office", "residents_committee"],
                       "town": ["petition_bureau", "town_government", "villagers_committee"],
                       "timing": "register at 0, accept by the lead at the intake decision "
                                 "(capped at 0.3 x time to exit), the committee within the "
                                 "next day"},
        "joiners": {j.type: {"first_action": j.activity, "area": j.area,
                             "category_weight": {c: j.affinity.get(c, 0.02)
                                                 for c in _CATEGORY_IDS}}
                    for j in _JOINERS},
        "hazard": "rate_per_day * category_weight * repeat_boost^is_repeat * shape(t) from "
                  "delay_days after the intake decision; t = days open; independent of the "
                  "frailty; a join after the exit does not happen",
        "rate_per_day": _JOIN_RATE,
        "repeat_boost": _JOIN_REPEAT_BOOST,
        "delay_days": _JOIN_DELAY,
        "shape": {"breaks_days": list(_JOIN_BREAKS), "value": list(_JOIN_SHAPE)},
        "later_actions": "each joined agency acts again with probability 0.4 before the exit",
        "after_exit": "follow_up_visit (petition bureau; the justice office for 20% of closed "
                      "cases), cessation_pledge, review, re_review: after the exit, never part "
                      "of a pattern",
    }


# ---------------------------------------------------------------------------------------------
# Writing files (byte-identical for the same seed)
# ---------------------------------------------------------------------------------------------

_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".xlsx")
_FIXED_DATE = (2000, 1, 1, 0, 0, 0)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in sorted(_SUFFIXES, key=len, reverse=True):
        if name.endswith(s):
            return s
    raise CasekitError(
        f"{path}: unsupported extension {''.join(path.suffixes) or '(none)'!r}; "
        "expected .csv, .csv.gz, .parquet or .xlsx")


def truth_path_for(path: str | Path, *, dataset: bool = False) -> Path:
    """Return the truth file written beside an events file: ``<stem>.truth.json``.

    With ``dataset=True`` ``path`` is a partitioned dataset folder and the truth is
    ``<folder>.truth.json`` beside it.

    Examples
    --------
    >>> from casekit.synth import truth_path_for
    >>> truth_path_for("data/district.csv").as_posix()
    'data/district.truth.json'
    >>> truth_path_for("d.csv.gz").name
    'd.truth.json'
    >>> truth_path_for("out/parts", dataset=True).as_posix()
    'out/parts.truth.json'
    """
    path = Path(path)
    if dataset:
        return path.with_name(path.name + ".truth.json")
    s = _suffix(path)
    return path.with_name(path.name[: -len(s)] + ".truth.json")


def _csv_bytes(events: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    events.to_csv(buf, index=False, date_format="%Y-%m-%d %H:%M:%S", float_format="%.2f",
                  lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def _write_xlsx(events: pd.DataFrame, path: Path) -> None:
    if len(events) >= 1_048_576:
        raise CasekitError(
            f"{path}: {len(events)} events do not fit in one Excel sheet (max 1,048,575 rows); "
            "use .csv or .parquet")
    import datetime as dt

    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    fixed = dt.datetime(*_FIXED_DATE)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "casekit.synth"
    ws = wb.create_sheet("events")
    ws.append(list(events.columns))
    cols = []
    for name in events.columns:
        s = events[name]
        if name == "timestamp":
            cols.append(s.dt.to_pydatetime().tolist())
        else:
            cols.append(s.astype(object).where(s.notna(), None).tolist())
    for row in zip(*cols, strict=True):
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    # normalise the zip: fixed entry times and core properties -> byte-identical files
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    stamp = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = stamp.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", data)
            zi = zipfile.ZipInfo(info.filename, date_time=_FIXED_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, data)
    path.write_bytes(out.getvalue())


def _write_events_deterministic(events: pd.DataFrame, path: str | Path) -> Path:
    """Write events to .csv / .csv.gz / .parquet / .xlsx deterministically (same data, same bytes).

    Timestamps as ``YYYY-MM-DD HH:MM:SS``, floats with 2 decimals, UTF-8, LF line ends;
    gzip without a modification time; xlsx with fixed document dates.

    Private on purpose: the one public writer is :func:`casekit.io.write_events`
    (``ck.write_events``), which writes what a user opens in a spreadsheet (CSV with a BOM,
    formula-like cells neutralised). This one serves the generator, the bundled sample, the
    example ledger and the benchmark cache, whose files must be byte-identical for the same
    seed: no BOM, no cell rewriting, fixed float and time formats, no gzip/xlsx timestamps.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> ev, _ = ck.synth.generate_district(50, seed=3)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     p = _write_events_deterministic(ev, pathlib.Path(tmp) / "e.csv")
    ...     p.read_bytes()[:28]
    b'case_id,timestamp,activity,a'
    """
    path = Path(path)
    s = _suffix(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if s == ".csv":
        path.write_bytes(_csv_bytes(events))
    elif s == ".csv.gz":
        with open(path, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0,
                                                   filename="", compresslevel=9) as gz:
            gz.write(_csv_bytes(events))
    elif s == ".parquet":
        events.to_parquet(path, index=False, compression="zstd")
    else:
        _write_xlsx(events, path)
    return path


def write_district(
    path: str | Path,
    n_cases: int = 2000,
    *,
    seed: int = 0,
    partitions: int | None = None,
    chunk_cases: int | None = None,
    **kwargs: Any,
) -> tuple[Path, Path]:
    """Generate the district and write its events to ``path`` and the truth beside it.

    Parameters
    ----------
    path : str or Path
        Output file; the extension picks the format: ``.csv``, ``.csv.gz``, ``.parquet`` or
        ``.xlsx``. The truth goes to ``<stem>.truth.json`` in the same folder
        (:func:`truth_path_for`). With ``partitions``: a folder to create (must not exist),
        written as a case-hash-partitioned Parquet dataset, and the truth goes to
        ``<folder>.truth.json`` beside it.
    n_cases : int, default 2000
    seed : int, default 0
    partitions : int, optional
        Write the partitioned dataset of :func:`casekit.scale.partition_events` (files
        ``part.NNNNN.parquet`` + ``_casekit.json`` + ``_quarantine.csv``; every case whole in
        the partition of its case-id hash, rows sorted by case and time) generated chunk by
        chunk, so memory holds one chunk (and then one partition) at a time.
    chunk_cases : int, optional
        Cases per chunk with ``partitions`` (default 250,000). The chunks form one district:
        the same agencies and planted model, case and matter ids numbered on across chunks,
        petitioner ids distinct across chunks, chunk ``i`` drawn from
        ``numpy.random.SeedSequence(seed).spawn(n_chunks)[i]``, the seed matter in the first
        chunk only. A single chunk (``chunk_cases >= n_cases``) draws exactly
        :func:`generate_district`'s events, so the dataset equals ``casekit partition`` of the
        file written without ``partitions``.
    **kwargs
        Passed to :func:`generate_district` (``start``, ``observation_end``, ...).

    Returns
    -------
    (events_path, truth_path) : tuple of Path

    Raises
    ------
    CasekitError
        On an unsupported extension (checked before any work is done), ``chunk_cases``
        without ``partitions``, a non-positive ``partitions`` / ``chunk_cases`` or an existing
        output folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     ev_path, truth_path = ck.synth.write_district(pathlib.Path(tmp) / "d.csv", 100, seed=2)
    ...     (ev_path.name, truth_path.name, truth_path.exists())
    ('d.csv', 'd.truth.json', True)
    """
    path = Path(path)
    if partitions is not None:
        return _write_partitioned(path, n_cases, seed=seed, partitions=partitions,
                                  chunk_cases=_CHUNK_CASES if chunk_cases is None
                                  else chunk_cases, **kwargs)
    if chunk_cases is not None:
        raise CasekitError("chunk_cases applies to a partitioned dataset only (give "
                           "partitions)")
    tpath = truth_path_for(path)  # validates the extension first
    events, truth = generate_district(n_cases, seed=seed, **kwargs)
    _write_events_deterministic(events, path)
    tpath.write_text(json.dumps(truth, ensure_ascii=False, indent=2, sort_keys=False) + "\n",
                     encoding="utf-8")
    return path, tpath


# ---------------------------------------------------------------------------------------------
# A partitioned dataset, generated chunk by chunk (bounded memory)
# ---------------------------------------------------------------------------------------------

#: Default cases per chunk of a partitioned synth (about 2.3M events, ~2 GB peak).
_CHUNK_CASES = 250_000


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n",
                    encoding="utf-8")


def _chunk_sizes(n_cases: int, chunk_cases: int) -> list[int]:
    """Cases per chunk: full chunks, the remainder in the last one."""
    n_full, rest = divmod(n_cases, chunk_cases)
    return [chunk_cases] * n_full + ([rest] if rest else [])


def _write_partitioned(out: Path, n_cases: int, *, seed: int, partitions: int, chunk_cases: int,
                       **kwargs: Any) -> tuple[Path, Path]:
    """:func:`write_district` with ``partitions``: chunks -> spilled buckets -> partitions."""
    from casekit.scale import _SEQ, METADATA_FILE, _case_bucket, _finish_partition

    for name, v in (("partitions", partitions), ("chunk_cases", chunk_cases),
                    ("n_cases", n_cases)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise CasekitError(f"{name}: expected a positive integer, got {v!r}")
    if out.exists():
        raise CasekitError(f"{out}: already exists; choose a new folder for the dataset")
    sizes = _chunk_sizes(int(n_cases), int(chunk_cases))
    spill = out / "_spill"
    spill.mkdir(parents=True)
    q_path = out / "_quarantine.csv"
    pd.DataFrame(columns=["source_row", "column", "value", "reason"]).to_csv(q_path, index=False)
    state: dict[str, Any] = {"seq": 0, "dtypes": None, "vocab": {"agency_type": set(),
                                                                 "activity": set()},
                             "n_quarantined": 0, "first": None, "last": None}
    truths = []
    try:
        for c, chunk in enumerate(_chunks(sizes, seed, kwargs)):
            truths.append(chunk[1])
            _spill_chunk(chunk[0], c, spill, q_path, partitions, state, _SEQ, _case_bucket)
            del chunk
        n_dup = n_cases_written = 0
        for k in range(partitions):
            files = sorted((spill / f"{k:05d}").glob("*.parquet"))
            target = out / f"part.{k:05d}.parquet"
            _, dups = _finish_partition(files, target, state["dtypes"])
            n_dup += dups
            n_cases_written += int(pd.read_parquet(target, columns=["case_id"])["case_id"]
                                   .nunique())
            shutil.rmtree(spill / f"{k:05d}", ignore_errors=True)
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    truth = _merge_chunk_truths(truths, sizes, seed)
    _write_json(out / METADATA_FILE, _dataset_metadata(state, truth, partitions, n_dup,
                                                       n_cases_written))
    tpath = truth_path_for(out, dataset=True)
    _write_json(tpath, truth)
    return out, tpath


def _chunks(sizes: list[int], seed: int, kwargs: dict[str, Any]
            ) -> Any:
    """Yield ``(events, truth)`` of each chunk of one district (see :func:`write_district`)."""
    if len(sizes) == 1:
        events, truth, _ = _generate(sizes[0], seed=seed, **_generate_defaults(kwargs))
        yield events, truth
        return
    ss = np.random.SeedSequence(seed)
    children = ss.spawn(len(sizes))
    salt = int(ss.generate_state(1, np.uint64)[0] >> np.uint64(20))
    width = max(6, len(str(sum(sizes))))
    case_start = matter_start = 0
    opts = _generate_defaults(kwargs)
    for c, size in enumerate(sizes):
        ids = _ChunkIds(case_start, matter_start, width, salt)
        events, truth, f = _generate(
            size, seed=np.random.default_rng(children[c]), ids=ids,
            **{**opts, "include_seed_matter": opts["include_seed_matter"] and c == 0})
        case_start += size
        matter_start += 0 if f is None else int(np.unique(f["matter"]).size)
        del f
        yield events, truth


def _generate_defaults(kwargs: dict[str, Any]) -> dict[str, Any]:
    """:func:`generate_district`'s keyword defaults, updated by ``kwargs`` (names checked)."""
    import inspect

    params = inspect.signature(generate_district).parameters
    opts = {k: p.default for k, p in params.items() if k not in ("n_cases", "seed")}
    unknown = sorted(set(kwargs) - set(opts))
    if unknown:
        raise CasekitError(f"unknown option(s) for generate_district: {', '.join(unknown)}")
    return {**opts, **kwargs}


def _spill_chunk(events: pd.DataFrame, c: int, spill: Path, q_path: Path, partitions: int,
                 state: dict[str, Any], seq_col: str, bucket_of: Any) -> None:
    """Validate one chunk as ``casekit partition`` does and spill it to its case buckets."""
    from casekit.scale import _as_text
    from casekit.validate import RawTable, validate_table

    end = events.attrs["casekit"]["observation_end"]
    n, seq = len(events), state["seq"]
    raw = RawTable(events, np.arange(seq + 1, seq + n + 1, dtype="int64"), "parquet")
    raw.data[seq_col] = np.arange(seq, seq + n, dtype="int64")
    state["seq"] = seq + n
    res = validate_table(raw, source="casekit.synth", observation_end=end,
                         timezone="Asia/Shanghai", drop_duplicates=False)
    del raw, events
    m = res.metadata
    state["n_quarantined"] += int(m["n_quarantined"])
    if len(res.quarantine):
        res.quarantine.to_csv(q_path, mode="a", header=False, index=False)
    ev = _as_text(res.events)
    if state["dtypes"] is None:
        state["dtypes"] = {col: ev[col].dtype for col in ev.columns}
        state["column_mapping"] = m["column_mapping"]
    for key, pick in (("first", min), ("last", max)):
        t = pd.Timestamp(m[f"{key}_timestamp"])
        state[key] = t if state[key] is None else pick(state[key], t)
    for col, seen in state["vocab"].items():
        seen.update(ev[col].dropna().astype("str").unique().tolist())
    bucket = bucket_of(ev["case_id"], partitions)
    for k in np.unique(bucket).tolist():
        d = spill / f"{k:05d}"
        d.mkdir(exist_ok=True)
        ev.loc[bucket == k].to_parquet(d / f"{c:06d}.parquet", index=False, compression=None)


def _dataset_metadata(state: dict[str, Any], truth: dict[str, Any], partitions: int,
                      n_dup: int, n_cases: int) -> dict[str, Any]:
    """``_casekit.json`` with the keys :func:`casekit.scale.partition_events` writes."""
    return {
        "source": f"casekit.synth {GENERATOR_VERSION} (seed {truth['seed']}, "
                  f"{truth['n_cases']} cases)",
        "format": "synth",
        "encoding": None,
        "column_mapping": state["column_mapping"],
        "timezone": "Asia/Shanghai",
        "observation_end": str(pd.Timestamp(truth["observation_end"])),
        "observation_end_explicit": True,
        "first_timestamp": str(state["first"]),
        "last_timestamp": str(state["last"]),
        "n_read": state["seq"],
        "n_accepted": state["seq"] - state["n_quarantined"] - n_dup,
        "n_quarantined": state["n_quarantined"] + n_dup,
        "n_duplicates": n_dup,
        "n_cases": n_cases,
        "partitions": partitions,
        "partitioned_by": "hash of case_id; sorted by case_id, timestamp (ties in source order)",
        "unknown_labels": {},
        "vocabulary": {c: sorted(v) for c, v in state["vocab"].items()},
        "pseudonymisation": {},
        "notes": [],
    }


def _merge_chunk_truths(truths: list[dict[str, Any]], sizes: list[int], seed: int
                        ) -> dict[str, Any]:
    """One truth for the chunks of a district: counts summed, pattern keys from summed support.

    The planted model is the same in every chunk; a few observed figures that cannot be
    merged exactly (``median_join_day``, upfront mode's ``observed`` and raw confounding
    tables) are the first chunk's and said so in ``truth["chunks"]``.
    """
    out = json.loads(json.dumps(truths[0]))  # a deep copy
    if len(truths) == 1:
        return out
    n = [t["n_cases"] for t in truths]
    tot = sum(n)
    for key in ("n_cases", "n_events", "n_matters", "n_prevalent", "n_cases_generated"):
        if key in out:
            out[key] = int(sum(t[key] for t in truths))
    for key in ("share_open", "share_repeat_filings"):
        out[key] = _r(sum(t[key] * w for t, w in zip(truths, n, strict=True)) / tot, 4)
    out["repeat_kind_counts"] = {k: int(sum(t["repeat_kind_counts"][k] for t in truths))
                                 for k in out["repeat_kind_counts"]}
    first_only = ["observed.median_join_day"]
    if out.get("mode") == "dynamic":
        _merge_dynamic(out, truths)
    else:
        first_only = ["observed", "confounding"]
    out["seed"] = seed
    out["chunks"] = {
        "n_chunks": len(sizes), "cases_per_chunk": sizes[0], "cases_last_chunk": sizes[-1],
        "seeds": "chunk i is drawn from numpy.random.SeedSequence(seed).spawn(n_chunks)[i]",
        "ids": "case and matter ids numbered on across chunks; petitioner ids distinct "
               "(a bijection of the matter number); the seed matter in the first chunk only",
        "merged": "counts summed, shares weighted by cases, pattern_support summed (and the "
                  "pattern keys recomputed from it)",
        "first_chunk_only": first_only,
    }
    return out


def _merge_dynamic(out: dict[str, Any], truths: list[dict[str, Any]]) -> None:
    support: dict[str, dict[str, int]] = {"first": {}, "repeat": {}}
    mult: dict[str, dict[str, float]] = {"first": {}, "repeat": {}}
    for t in truths:
        for label, counts in support.items():
            for p, c in t["pattern_support"][label].items():
                counts[p] = counts.get(p, 0) + c
            mult[label].update(t["pattern_hazard_multiplier"][label])
    support = {label: dict(sorted(counts.items(), key=lambda x: (-x[1], x[0])))
               for label, counts in support.items()}
    note = out["pattern_hazard_multiplier"]["note"]
    out.update(_rank_patterns(support, mult))
    out["pattern_hazard_multiplier"]["note"] = note
    g = [t["n_cases_generated"] - len((t.get("seed_matter") or {}).get("case_ids", []))
         for t in truths]
    obs = out["observed"]
    if not obs:
        return
    obs["exit_counts_observed"] = {k: int(sum(t["observed"]["exit_counts_observed"][k]
                                              for t in truths))
                                   for k in obs["exit_counts_observed"]}
    for key in ("share_competing_exit", "share_with_a_joiner", "share_joins_after_day_3"):
        vals = [(t["observed"].get(key), w) for t, w in zip(truths, g, strict=True)]
        vals = [(v, w) for v, w in vals if v is not None]
        obs[key] = _r(sum(v * w for v, w in vals) / sum(w for _, w in vals), 4) if vals else None
    obs["joined_share_by_type"] = {
        k: _r(sum(t["observed"]["joined_share_by_type"][k] * w
                  for t, w in zip(truths, g, strict=True)) / sum(g), 4)
        for k in obs["joined_share_by_type"]}
    fr = out["frailty"]
    if fr.get("realised_variance") is not None:
        fr["realised_variance"] = _r(sum(t["frailty"]["realised_variance"] * w
                                         for t, w in zip(truths, g, strict=True)) / sum(g), 4)
