"""What-if simulator: one district-year of petition handling under the seed article's levers.

A pure, vectorised model (numpy, common random numbers) calibrated from a case table, fast
enough for sliders (a 20,000-filing district-year with 10 replications re-runs in about 50 ms,
and in under 100 ms with a new seed: first filings are drawn up front, repeat filings only for
the matters a scenario re-files). Every lever is a keyword of :func:`simulate_year` whose
default (``None``) means "as observed"; how each lever acts and how strongly is written down in
one table, :data:`ASSUMPTIONS`, which callers may edit and which every result carries.

The model in one paragraph
--------------------------
First filings of matters arrive as a Poisson process over a warm-up year and the simulated
year (so that repeat filings of last year's matters are present, as in a steady state). Each
filing draws a category, a collaboration pattern (given the category) and a core time to close
from a lognormal fitted per pattern with censoring (open cases are right-censored at the
observation end, never dropped). Repeat filings (ordinal >= 2) take longer by a fitted factor.
Levers then act on each filing: a leader owning a repeat matter shortens it and makes re-filing
and escalation rarer; multi-department filings that need the joint conference wait for its next
meeting (uniform phase times the interval); a one-stop centre answers single-department matters
on the spot and cross-department ones within 7 days for the share handled there; mediation
(capacity-limited, an M/M/c queue solved with Erlang C) may close a filing earlier; after
closure a matter is re-filed with a probability (estimated from the data with censoring) that
follow-up visits, mediation, leader ownership and the special fund lower; a filing escalates
(goes over the head of the district) with a probability that grows with its time open.

Notes
-----
The core durations, the escalation rate and the repeat factor are adjusted by a short fixed-point
iteration so that the *baseline run* (all levers at their observed values) reproduces the observed
Kaplan-Meier medians of first and repeat filings and the observed escalation share. Lever effect
sizes are assumptions, not estimates: most are "assumed"; the one-stop centre figures come from
Jiande's published service tiers (SRC:JIANDE), mediator throughput from the national mediation
statistics (SRC:MEDIATION) and the special-fund cost per case from the seed article.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from casekit._utils import CasekitError

__all__ = [
    "ASSUMPTIONS",
    "LEVERS",
    "METRICS",
    "Baseline",
    "calibrate_baseline",
    "check_lever",
    "simulate_year",
    "sweep",
]

# --------------------------------------------------------------------------------------------
# levers, assumptions, metrics
# --------------------------------------------------------------------------------------------

#: The levers: name -> (Chinese label, English label, unit, min, max, step, integer?).
_LEVER_SPECS: dict[str, tuple[str, str, str, float, float, float, bool]] = {
    "leader_ownership_share": ("领导包案比例", "leader ownership share", "share of repeat filings",
                               0.0, 1.0, 0.05, False),
    "joint_conference_interval_days": ("联席会议间隔", "joint conference interval", "days",
                                       1.0, 365.0, 1.0, False),
    "one_stop_center": ("信访超市覆盖", "one-stop centre coverage", "share of filings (0/1)",
                        0.0, 1.0, 0.1, False),
    "mediators": ("专职调解员", "mediators", "full-time mediators", 0.0, 2000.0, 1.0, True),
    "follow_up_visit_share": ("回访比例", "follow-up visit share", "share of closed filings",
                              0.0, 1.0, 0.05, False),
    "special_fund_yuan": ("专项资金", "special fund", "yuan per year", 0.0, 1.0e9, 10000.0, False),
    "cadre_field_visits_per_month": ("干部下访次数", "cadre field visits", "visits per month",
                                     0.0, 1000.0, 1.0, False),
}

#: Public table of the levers (one row per lever): labels, unit and valid range.
LEVERS: pd.DataFrame = pd.DataFrame(
    [
        {"lever": k, "label_zh": v[0], "label_en": v[1], "unit": v[2], "min": v[3], "max": v[4],
         "step": v[5], "integer": v[6]}
        for k, v in _LEVER_SPECS.items()
    ]
)

_ASSUMPTION_ROWS: list[dict[str, Any]] = [
    # lever, parameter, value, unit, min, max, mechanism, source
    {"lever": "leader_ownership_share", "parameter": "duration_factor", "value": 0.70,
         "unit": "x time to close", "min": 0.1, "max": 1.5,
         "mechanism": "a named leader owns a repeat matter (领导包案, REG2022 Art.18); "
         "owned repeat filings close faster", "source": "assumed"},
    {"lever": "leader_ownership_share", "parameter": "refile_factor", "value": 0.75,
         "unit": "x re-filing probability", "min": 0.0, "max": 1.5,
         "mechanism": "owned matters are settled more durably, so fewer are filed again",
         "source": "assumed"},
    {"lever": "leader_ownership_share", "parameter": "escalation_factor", "value": 0.5,
         "unit": "x escalation probability", "min": 0.0, "max": 1.5,
         "mechanism": "petitioners whose matter a leader owns rarely go over the district's head",
         "source": "assumed"},
    {"lever": "leader_ownership_share", "parameter": "staff_days_per_case", "value": 2.0,
         "unit": "staff days per owned filing", "min": 0.0, "max": 60.0,
         "mechanism": "leader and aide time per owned filing", "source": "assumed"},
    {"lever": "joint_conference_interval_days", "parameter": "need_share", "value": 0.5,
         "unit": "share of multi-department filings", "min": 0.0, "max": 1.0,
         "mechanism": "multi-department filings whose jurisdiction or joint plan needs the joint "
         "conference (REG2022 Arts.12, 24) wait for its next meeting: wait = phase x interval",
         "source": "assumed"},
    {"lever": "joint_conference_interval_days", "parameter": "staff_days_per_meeting", "value": 3.0,
         "unit": "staff days per meeting per level-unit", "min": 0.0, "max": 50.0,
         "mechanism": "about six agencies send someone for half a day; district + each street or "
         "town holds meetings (区、镇(街道)二级, seed article)", "source": "assumed"},
    {"lever": "one_stop_center", "parameter": "uptake", "value": 0.2,
         "unit": "share of covered filings taken to the centre", "min": 0.0, "max": 1.0,
         "mechanism": "only part of the filings in a covered area go through the centre",
         "source": "assumed"},
    {"lever": "one_stop_center", "parameter": "on_site_share", "value": 0.792,
         "unit": "share handled on site", "min": 0.0, "max": 1.0,
         "mechanism": "of the filings taken to the centre, the share handled there (on-site "
         "handling 79.2%)", "source": "SRC:JIANDE"},
    {"lever": "one_stop_center", "parameter": "single_department_cap_days", "value": 1.0,
         "unit": "days", "min": 0.0, "max": 60.0,
         "mechanism": "single-department matters handled at the centre are answered on the spot",
         "source": "SRC:JIANDE"},
    {"lever": "one_stop_center", "parameter": "cross_department_cap_days", "value": 7.0,
         "unit": "days", "min": 0.0, "max": 90.0,
         "mechanism": "cross-department matters handled at the centre close within 7 days",
         "source": "SRC:JIANDE"},
    {"lever": "one_stop_center", "parameter": "staff", "value": 34.0,
         "unit": "staff per centre", "min": 0.0, "max": 500.0,
         "mechanism": "11 windows staffed by 34 people, full time", "source": "SRC:JIANDE"},
    {"lever": "mediators", "parameter": "eligible_share", "value": 0.35,
         "unit": "share of filings suited to mediation", "min": 0.0, "max": 1.0,
         "mechanism": "civil disputes (neighbours, property, wages) can go to people's mediation "
         "(REG2022 Art.37)", "source": "assumed"},
    {"lever": "mediators", "parameter": "cases_per_mediator_year", "value": 36.0,
         "unit": "cases per full-time mediator per year", "min": 1.0, "max": 1000.0,
         "mechanism": "mediator throughput; service time is exponential with mean 365/this days "
         "(14.94 M disputes over 412k full-time mediators, a rough upper figure)",
         "source": "SRC:MEDIATION"},
    {"lever": "mediators", "parameter": "max_utilisation", "value": 0.9,
         "unit": "share of mediator capacity", "min": 0.1, "max": 0.99,
         "mechanism": "eligible filings are rationed so the mediation queue stays stable; the "
         "wait is the M/M/c (Erlang C) wait at that load", "source": "assumed"},
    {"lever": "mediators", "parameter": "success_rate", "value": 0.9,
         "unit": "share of mediations that succeed", "min": 0.0, "max": 1.0,
         "mechanism": "successful mediations settle the matter at street level (official >96%, "
         "discounted)", "source": "SRC:MED2018"},
    {"lever": "mediators", "parameter": "refile_factor", "value": 0.5,
         "unit": "x re-filing probability", "min": 0.0, "max": 1.5,
         "mechanism": "a mediated agreement makes re-filing rarer", "source": "assumed"},
    {"lever": "follow_up_visit_share", "parameter": "refile_factor", "value": 0.6,
         "unit": "x re-filing probability", "min": 0.0, "max": 1.5,
         "mechanism": "a follow-up visit after closure (回访) catches remaining grievances and "
         "often ends in a cessation pledge (seed article)", "source": "assumed"},
    {"lever": "follow_up_visit_share", "parameter": "staff_days_per_visit", "value": 0.5,
         "unit": "staff days per visit", "min": 0.0, "max": 10.0,
         "mechanism": "staff time per follow-up visit", "source": "assumed"},
    {"lever": "special_fund_yuan", "parameter": "cost_per_case_yuan", "value": 160000.0,
         "unit": "yuan per funded matter", "min": 1000.0, "max": 1.0e8,
         "mechanism": "the fund pays remedies for repeat matters (the seed case: 160,000 yuan "
         "for one building's repairs)", "source": "seed article"},
    {"lever": "special_fund_yuan", "parameter": "refile_factor", "value": 0.3,
         "unit": "x re-filing probability", "min": 0.0, "max": 1.5,
         "mechanism": "a funded remedy settles the substance (事心双解), so funded matters "
         "are rarely filed again", "source": "assumed"},
    {"lever": "cadre_field_visits_per_month", "parameter": "prevented_per_visit", "value": 0.3,
         "unit": "first filings prevented per visit", "min": 0.0, "max": 20.0,
         "mechanism": "cadres visiting towns (千镇行) settle disputes before they are filed",
         "source": "assumed"},
    {"lever": "cadre_field_visits_per_month", "parameter": "max_prevented_share", "value": 0.15,
         "unit": "share of first filings", "min": 0.0, "max": 0.9,
         "mechanism": "visits cannot prevent more than this share of first filings",
         "source": "assumed"},
    {"lever": "cadre_field_visits_per_month", "parameter": "staff_days_per_visit", "value": 1.0,
         "unit": "staff days per visit", "min": 0.0, "max": 30.0,
         "mechanism": "staff time per field visit", "source": "assumed"},
    {"lever": "all", "parameter": "escalation_time_elasticity", "value": 0.5,
         "unit": "elasticity", "min": 0.0, "max": 3.0,
         "mechanism": "the longer a filing stays open, the likelier the petitioner goes up a "
         "level: p = rate x (days / reference days)^elasticity", "source": "assumed"},
    {"lever": "all", "parameter": "staff_days_per_department", "value": 1.5,
         "unit": "staff days per department per filing", "min": 0.0, "max": 30.0,
         "mechanism": "ordinary handling effort per department involved", "source": "assumed"},
]
for _row in _ASSUMPTION_ROWS:
    _spec = _LEVER_SPECS.get(_row["lever"])
    _row["lever_min"] = _spec[3] if _spec else np.nan
    _row["lever_max"] = _spec[4] if _spec else np.nan
    _row["editable"] = True

_ASSUMPTION_COLUMNS = ["lever", "parameter", "value", "unit", "min", "max", "lever_min",
                       "lever_max", "mechanism", "source", "editable"]

#: The assumptions behind every lever: one row per (lever, parameter). Copy, edit ``value`` and
#: pass as ``simulate_year(..., assumptions=table)``; every result carries the table it used.
ASSUMPTIONS: pd.DataFrame = pd.DataFrame(_ASSUMPTION_ROWS, columns=_ASSUMPTION_COLUMNS)

#: Output metrics: name -> (unit, description).
METRICS: dict[str, tuple[str, str]] = {
    "median_days_to_close": ("days", "median time to close of the year's filings"),
    "median_days_to_close_repeat": ("days", "median time to close of the year's repeat filings"),
    "repeat_rate": ("share", "share of the year's filings that are repeat filings (ordinal >= 2)"),
    "on_time_rate": ("share", "share of the year's filings closed within 60 days (REG2022 Art.34)"),
    "share_settled_at_street_level": (
        "share", "share of the year's filings closed, not escalated and not filed again (Fengqiao)"
    ),
    "escalations": ("filings", "filings of the year that went over the district's head"),
    "backlog_end": ("filings", "filings still open at the end of the year"),
    "staff_days": ("staff days", "handling plus lever staff time over the year"),
    "funds_yuan": ("yuan", "special-fund money spent over the year"),
    "n_filings": ("filings", "filings opened during the year"),
}

_ON_TIME_DAYS = 60.0  # REG2022 Art.34
_WARMUP_DAYS = 365.0
_YEAR = 365.0
_GENERATIONS = 6  # filings per matter followed in one run (ordinals 1..6)
_U = 65536.0  # uniforms are stored as uint16 (resolution 1/65536)
_INTAKE_TYPES = frozenset({"petition_bureau", "hotline_center", "unknown"})


def check_lever(name: str, value: Any) -> float:
    """Validate one lever value; return it as a float.

    Parameters
    ----------
    name : str
        A lever name (a keyword of :func:`simulate_year`).
    value : float
        The value to check against the lever's range in :data:`LEVERS`.

    Returns
    -------
    float

    Raises
    ------
    CasekitError
        For an unknown lever (the message lists the valid ones) or a value out of range (the
        message gives the range).

    Examples
    --------
    >>> check_lever("leader_ownership_share", "0.9")
    0.9
    >>> check_lever("follow_up_visit_share", 2)
    Traceback (most recent call last):
    ...
    casekit._utils.CasekitError: follow_up_visit_share=2 is out of range: expected 0 to 1 (share of closed filings)
    """
    if name not in _LEVER_SPECS:
        raise CasekitError(
            f"unknown lever {name!r}; valid levers: {', '.join(_LEVER_SPECS)}"
        )
    _zh, _en, unit, lo, hi, _step, _integer = _LEVER_SPECS[name]
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise CasekitError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(x) or x < lo or x > hi:
        raise CasekitError(
            f"{name}={value} is out of range: expected {lo:g} to {hi:g} ({unit})"
        )
    return x


def _assumption_dict(assumptions: Any) -> tuple[dict[tuple[str, str], float], pd.DataFrame]:
    """Validate an assumptions table (DataFrame or records); return {(lever, param): value}."""
    if assumptions is None:
        return _default_assumptions()
    given_key = _assumptions_key(assumptions)
    if given_key is not None and given_key in _ASSUMPTION_CACHE:
        return _ASSUMPTION_CACHE[given_key]
    result = _assumption_dict_uncached(assumptions)
    if given_key is not None:
        if len(_ASSUMPTION_CACHE) > 32:
            _ASSUMPTION_CACHE.clear()
        _ASSUMPTION_CACHE[given_key] = result
    return result


_ASSUMPTION_CACHE: dict[tuple, tuple[dict[tuple[str, str], float], pd.DataFrame]] = {}


def _assumptions_key(assumptions: Any) -> tuple | None:
    try:
        given = assumptions if isinstance(assumptions, pd.DataFrame) else pd.DataFrame(assumptions)
        return tuple(zip(given["lever"].astype(str), given["parameter"].astype(str),
                         given["value"].tolist(), strict=True))
    except (KeyError, TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=1)
def _default_assumptions() -> tuple[dict[tuple[str, str], float], pd.DataFrame]:
    table = ASSUMPTIONS.copy()
    return {(r.lever, r.parameter): float(r.value) for r in table.itertuples()}, table


def _assumption_dict_uncached(
    assumptions: Any,
) -> tuple[dict[tuple[str, str], float], pd.DataFrame]:
    table = ASSUMPTIONS.copy()
    given = assumptions if isinstance(assumptions, pd.DataFrame) else pd.DataFrame(assumptions)
    for col in ("lever", "parameter", "value"):
        if col not in given:
            raise CasekitError(
                f"assumptions: missing column {col!r} (found: {', '.join(map(str, given.columns))})"
            )
    index = {(r.lever, r.parameter): i for i, r in enumerate(table.itertuples())}
    for pos, (lever, param, value) in enumerate(
        zip(given["lever"], given["parameter"], given["value"], strict=True)
    ):
        key = (str(lever), str(param))
        if key not in index:
            raise CasekitError(
                f"assumptions row {pos}: unknown (lever, parameter) {key}; see casekit.simulate."
                "ASSUMPTIONS for the valid ones"
            )
        i = index[key]
        try:
            x = float(value)
        except (TypeError, ValueError):
            raise CasekitError(
                f"assumptions row {pos} ({key[0]}.{key[1]}): expected a number, got {value!r}"
            ) from None
        lo, hi = float(table.loc[i, "min"]), float(table.loc[i, "max"])
        if not (math.isfinite(x) and lo <= x <= hi):
            raise CasekitError(
                f"assumptions row {pos} ({key[0]}.{key[1]}={x:g}): expected {lo:g} to {hi:g}"
            )
        table.loc[i, "value"] = x
    return {(r.lever, r.parameter): float(r.value) for r in table.itertuples()}, table


# --------------------------------------------------------------------------------------------
# baseline and calibration
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class Baseline:
    """A calibrated district: everything :func:`simulate_year` needs besides the levers.

    Attributes
    ----------
    filings_per_year : float
        Observed filings per year (first and repeat).
    first_filings_per_year : float
        Observed first filings (new matters) per year.
    categories, category_share : tuple of str, ndarray
        Category mix of new matters.
    streets, street_share : tuple of str, ndarray
        Arrivals by street or town (used for the number of joint-conference units).
    groups : tuple of str
        Collaboration patterns (rare ones pooled as ``other (k departments)``).
    group_given_category : ndarray (categories x groups)
        Pattern mix per category.
    group_departments : ndarray of int
        Departments per pattern (agency types other than the petition bureau / hotline).
    mu, sigma : ndarray
        Lognormal core time to close (log days) per pattern, first filings.
    repeat_shift : float
        Added to ``mu`` for repeat filings (log days).
    refile_p : tuple of float
        Probability that a closed first / later filing is filed again.
    gap_mu, gap_sigma : float
        Lognormal gap (log days) from closure to the next filing of the matter.
    escalation_rate, reference_days : float
        Escalation probability at ``reference_days`` open.
    observed : dict
        Observed lever values (the defaults of :func:`simulate_year`).
    targets : dict
        Observed figures the baseline run reproduces (KM medians, escalation share, ...).
    source : str
        Where the calibration came from.
    notes : tuple of str
        What could not be estimated from the data and was assumed instead.
    """

    filings_per_year: float
    first_filings_per_year: float
    categories: tuple[str, ...]
    category_share: np.ndarray
    streets: tuple[str, ...]
    street_share: np.ndarray
    groups: tuple[str, ...]
    group_given_category: np.ndarray
    group_departments: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    repeat_shift: float
    refile_p: tuple[float, float]
    gap_mu: float
    gap_sigma: float
    escalation_rate: float
    reference_days: float
    observed: dict[str, float]
    targets: dict[str, float]
    source: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python summary (JSON-friendly) of the calibration."""
        out: dict[str, Any] = {
            "source": self.source,
            "filings_per_year": float(self.filings_per_year),
            "first_filings_per_year": float(self.first_filings_per_year),
            "patterns": {
                g: {"departments": int(d), "median_days_first": float(np.exp(m)),
                    "sigma_log": float(s)}
                for g, d, m, s in zip(self.groups, self.group_departments, self.mu, self.sigma,
                                      strict=True)
            },
            "repeat_duration_factor": float(np.exp(self.repeat_shift)),
            "refile_probability_first": float(self.refile_p[0]),
            "refile_probability_later": float(self.refile_p[1]),
            "refile_gap_median_days": float(np.exp(self.gap_mu)),
            "escalation_rate": float(self.escalation_rate),
            "observed_levers": {k: float(v) for k, v in self.observed.items()},
            "targets": {k: float(v) for k, v in self.targets.items()},
            "notes": list(self.notes),
        }
        return out


def _km_median(t: np.ndarray, observed: np.ndarray) -> float:
    """Kaplan-Meier median (lifelines' convention: first time S(t) <= 0.5); nan if not reached."""
    t = np.asarray(t, dtype=float)
    e = np.asarray(observed, dtype=bool)
    if len(t) == 0:
        return float("nan")
    times, inv = np.unique(t, return_inverse=True)
    d = np.bincount(inv, weights=e, minlength=len(times))
    n_at = np.bincount(inv, minlength=len(times))
    at_risk = len(t) - np.r_[0, np.cumsum(n_at)[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.cumsum(np.log(at_risk - d) - np.log(at_risk))
    s = np.exp(log_s)
    hit = np.flatnonzero(s <= 0.5)
    return float(times[hit[0]]) if len(hit) else float("nan")


def _fit_censored_lognormal(
    y: np.ndarray, observed: np.ndarray, groups: np.ndarray, n_groups: int, repeat: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Censored normal regression of log durations: mu_g + shift*repeat, sigma per group."""
    from scipy.optimize import minimize
    from scipy.special import log_ndtr

    y = np.asarray(y, dtype=float)
    e = np.asarray(observed, dtype=bool)
    x_rep = np.asarray(repeat, dtype=float)
    g = np.asarray(groups, dtype=np.int64)

    mu0 = np.zeros(n_groups)
    ls0 = np.zeros(n_groups)
    for k in range(n_groups):
        sel = (g == k) & e
        if sel.sum() >= 2:
            mu0[k] = y[sel].mean()
            ls0[k] = math.log(max(y[sel].std(), 0.3))
        else:
            mu0[k] = y[g == k].mean() if (g == k).any() else y.mean()
    theta0 = np.r_[mu0, 0.0, ls0]

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        mu = theta[:n_groups][g] + theta[n_groups] * x_rep
        log_sig = np.clip(theta[n_groups + 1:], -5, 5)[g]
        sig = np.exp(log_sig)
        z = (y - mu) / sig
        log_sf = log_ndtr(-z)
        ll = np.where(e, -log_sig - 0.5 * z * z, log_sf)
        mills = np.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - log_sf)
        dmu = np.where(e, z / sig, mills / sig)  # d ll / d mu
        dls = np.where(e, -1.0 + z * z, mills * z)  # d ll / d log sigma
        grad = np.r_[
            np.bincount(g, weights=dmu, minlength=n_groups),
            (dmu * x_rep).sum(),
            np.bincount(g, weights=dls, minlength=n_groups),
        ]
        return -float(ll.sum()), -grad

    res = minimize(nll, theta0, jac=True, method="L-BFGS-B")
    theta = res.x
    sigma = np.exp(np.clip(theta[n_groups + 1:], -5, 5))
    return theta[:n_groups], np.clip(sigma, 0.2, 3.0), float(theta[n_groups])


def _fit_truncated_lognormal(gaps: np.ndarray, limits: np.ndarray) -> tuple[float, float]:
    """Lognormal MLE for gaps observed only when below a per-row limit (right truncation)."""
    from scipy.optimize import minimize
    from scipy.special import log_ndtr

    lg = np.log(np.maximum(gaps, 0.5))
    ll_lim = np.log(np.maximum(limits, 0.5))

    def nll(theta: np.ndarray) -> float:
        mu, log_s = theta
        s = math.exp(min(max(log_s, -3.0), 3.0))
        z = (lg - mu) / s
        return float(np.sum(math.log(s) + 0.5 * z * z - log_ndtr((ll_lim - mu) / s)))

    theta0 = np.array([lg.mean(), math.log(max(lg.std(), 0.3))])
    res = minimize(nll, theta0, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6})
    mu, log_s = res.x
    return float(mu), float(math.exp(min(max(log_s, -3.0), 3.0)))


def _lognormal_cdf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    from scipy.special import ndtr

    return ndtr((np.log(np.maximum(x, 1e-9)) - mu) / sigma)


def _departments(pattern: str) -> int:
    parts = [p for p in str(pattern).split("+") if p and p not in _INTAKE_TYPES]
    return max(len(parts), 1)


def _shares(values: pd.Series, default: str = "unknown") -> tuple[tuple[str, ...], np.ndarray]:
    vc = values.astype("str").fillna(default).value_counts(sort=True)
    if vc.empty:
        return (default,), np.ones(1)
    return tuple(map(str, vc.index)), (vc.to_numpy(dtype=float) / vc.sum())


def _observed_levers_from_events(
    events: pd.DataFrame, cases: pd.DataFrame, years: float, notes: list[str]
) -> dict[str, float]:
    """Observed lever values from the activities in an event log."""
    out: dict[str, float] = {}
    act = events["activity"].astype("str")
    cid = events["case_id"].astype("str")

    def cases_with(*names: str) -> set[str]:
        return set(cid[act.isin(names)].unique())

    repeat_ids = set(cases.loc[cases["repeat_ordinal"] > 1, "case_id"].astype("str"))
    owned = cases_with("leader_case_ownership")
    if repeat_ids:
        out["leader_ownership_share"] = len(owned & repeat_ids) / len(repeat_ids)
    closed_ids = set(cases.loc[cases["closed"].astype(bool), "case_id"].astype("str"))
    if closed_ids:
        out["follow_up_visit_share"] = len(cases_with("follow_up_visit") & closed_ids) / len(
            closed_ids
        )
    mediated = cases_with("mediator_participation", "mediate")
    out["_mediated_share"] = len(mediated) / max(len(cases), 1)
    fields = act == "leader_field_visit"
    out["cadre_field_visits_per_month"] = float(fields.sum()) / max(years * 12.0, 1e-9)
    if "amount_yuan" in events:
        amt = pd.to_numeric(events.loc[act == "special_fund_application", "amount_yuan"],
                            errors="coerce").fillna(0.0)
        out["special_fund_yuan"] = float(amt.sum()) / max(years, 1e-9)
    else:
        out["special_fund_yuan"] = 0.0
    conf = events.loc[act == "joint_conference", ["agency", "timestamp"]]
    if len(conf) >= 3:
        days = pd.to_datetime(conf["timestamp"]).dt.normalize()
        gaps = (
            pd.DataFrame({"agency": conf["agency"].astype("str").to_numpy(), "day": days.to_numpy()})
            .drop_duplicates()
            .sort_values(["agency", "day"])
            .groupby("agency")["day"]
            .diff()
            .dt.total_seconds()
            .div(86400.0)
            .dropna()
        )
        if len(gaps) >= 2:
            out["joint_conference_interval_days"] = float(np.clip(gaps.median(), 1.0, 365.0))
    if "joint_conference_interval_days" not in out:
        notes.append("joint conference interval not observable: assumed 30 days")
    if "channel" in events:
        ch = events["channel"].astype("str").str.lower()
        hit = ch.str.contains("one_stop|信访超市|综合服务中心|矛调", regex=True, na=False)
        if hit.any():
            out["one_stop_center"] = len(set(cid[hit])) / max(len(cases), 1)
    return out


def _default_observed() -> dict[str, float]:
    return {
        "leader_ownership_share": 0.3,
        "joint_conference_interval_days": 30.0,
        "one_stop_center": 0.0,
        "mediators": 0.0,
        "follow_up_visit_share": 0.3,
        "special_fund_yuan": 0.0,
        "cadre_field_visits_per_month": 4.0,
    }


def calibrate_baseline(
    cases: pd.DataFrame | None = None,
    *,
    events: pd.DataFrame | None = None,
    min_cases: int = 30,
    assumptions: Any = None,
) -> Baseline:
    """Calibrate the simulator's baseline district from a case table.

    Parameters
    ----------
    cases : DataFrame, optional
        A case table from :func:`casekit.build_case_table` (``opened_at, duration_days, closed,
        pattern, repeat_ordinal, matter_id, category, street, closed_at``; ``level`` and
        ``repeat_kind`` used when present). ``None``: casekit's synthetic district
        (``ck.load_sample_events()``), or documented priors if that is not available.
    events : DataFrame, optional
        The event log behind ``cases``; when given, observed lever values (share of repeat
        filings a leader owns, follow-up visit share, mediation, joint-conference interval,
        special-fund money, field visits per month) are read from its activities.
    min_cases : int, default 30
        Patterns with fewer cases are pooled as ``other (k departments)``.
    assumptions : DataFrame or list of dict, optional
        An edited :data:`ASSUMPTIONS` table (used while matching the observed medians).

    Returns
    -------
    Baseline

    Notes
    -----
    Durations are fitted with censoring: a censored normal regression of log time to close on
    the pattern (one ``mu`` and ``sigma`` per pattern) plus a repeat-filing shift; open cases
    contribute their survival probability at the observation end, they are not dropped. The
    re-filing probability is ``filings with a successor / sum over closed filings of F(time
    left before the observation end)``, with F the gap distribution fitted with right
    truncation, so recent closures are not counted as "never re-filed". Finally a short
    fixed-point iteration shifts the core durations and the escalation rate so that the
    baseline run (observed lever values) reproduces the observed Kaplan-Meier medians and
    escalation share.

    Examples
    --------
    >>> cases = ck.build_case_table(ck.load_sample_events())
    >>> base = ck.calibrate_baseline(cases)
    >>> base.filings_per_year > 0 and 0 <= base.refile_p[0] < 1
    True
    """
    if cases is None:
        return _sample_baseline()
    need = ["opened_at", "duration_days", "closed", "pattern"]
    missing = [c for c in need if c not in cases]
    if missing:
        raise CasekitError(
            f"cases: missing column {missing[0]!r} (found: {', '.join(map(str, cases.columns))});"
            " build it with casekit.build_case_table"
        )
    if len(cases) < 10:
        raise CasekitError(f"cases: {len(cases)} cases are too few to calibrate (need >= 10)")
    notes: list[str] = []
    cases = cases.reset_index(drop=True)
    opened = pd.to_datetime(cases["opened_at"])
    obs_end = cases.attrs.get("observation_end")
    if obs_end is None and "observation_end" in cases:
        obs_end = pd.to_datetime(cases["observation_end"]).max()
    if obs_end is None:
        obs_end = opened.max()
    obs_end = pd.Timestamp(obs_end)
    span_days = max((obs_end - opened.min()).total_seconds() / 86400.0, 30.0)
    years = span_days / 365.25
    n = len(cases)
    filings_per_year = n / years

    ordinal = (
        pd.to_numeric(cases["repeat_ordinal"], errors="coerce").fillna(1).to_numpy(dtype=np.int64)
        if "repeat_ordinal" in cases
        else np.ones(n, dtype=np.int64)
    )
    if "repeat_ordinal" not in cases:
        notes.append("no repeat_ordinal column: every filing treated as a first filing")
    is_rep = ordinal > 1
    first_per_year = float((~is_rep).sum()) / years

    categories, category_share = _shares(
        cases["category"] if "category" in cases else pd.Series(["unknown"] * n)
    )
    streets, street_share = _shares(
        cases["street"] if "street" in cases else pd.Series(["unknown"] * n)
    )

    # patterns -> groups (rare patterns pooled by number of departments)
    pattern = cases["pattern"].astype("str").fillna("unknown")
    counts = pattern.value_counts()
    keep = set(counts.index[counts >= min_cases])
    dept = pattern.map(_departments)
    group_name = pattern.where(pattern.isin(keep),
                               dept.clip(upper=3).map(lambda k: f"other ({k}{'+' if k >= 3 else ''}"
                                                      " departments)"))
    g_codes, g_uniques = pd.factorize(group_name, sort=True)
    groups = tuple(map(str, g_uniques))
    n_groups = len(groups)
    group_departments = np.array(
        [int(dept[g_codes == k].mode().iloc[0]) for k in range(n_groups)], dtype=np.int64
    )
    cat = (cases["category"] if "category" in cases else pd.Series(["unknown"] * n)).astype(
        "str").fillna("unknown")
    c_codes = pd.Categorical(cat, categories=list(categories)).codes
    overall = np.bincount(g_codes, minlength=n_groups).astype(float)
    overall /= overall.sum()
    mix = np.zeros((len(categories), n_groups))
    np.add.at(mix, (c_codes, g_codes), 1.0)
    mix = mix + 2.0 * overall  # shrink small categories toward the overall mix
    mix /= mix.sum(axis=1, keepdims=True)

    # censored lognormal durations
    dur = np.maximum(pd.to_numeric(cases["duration_days"], errors="coerce").fillna(0.0)
                     .to_numpy(dtype=float), 0.05)
    closed = cases["closed"].astype(bool).to_numpy()
    mu, sigma, shift = _fit_censored_lognormal(np.log(dur), closed, g_codes, n_groups, is_rep)

    targets: dict[str, float] = {}
    med_first = _km_median(dur[~is_rep], closed[~is_rep])
    med_rep = _km_median(dur[is_rep], closed[is_rep]) if is_rep.sum() >= 10 else float("nan")
    targets["km_median_days_first"] = med_first
    if math.isfinite(med_rep):
        targets["km_median_days_repeat"] = med_rep
    targets["repeat_share"] = float(is_rep.mean())
    targets["filings_per_year"] = float(filings_per_year)

    # re-filing probability and gap, with censoring
    refile_p, gap_mu, gap_sigma = _estimate_refiling(cases, ordinal, obs_end, notes)

    # escalation share
    esc = None
    if "level" in cases and cases["level"].notna().any():
        lvl = cases["level"].astype("str")
        esc = lvl.isin(["city", "province", "national"]).to_numpy()
    if "repeat_kind" in cases:
        skip = (cases["repeat_kind"].astype("str") == "skip_level_repeat").to_numpy()
        esc = skip if esc is None else (esc | skip)
    if esc is None or not esc.any():
        notes.append("escalation not observable (no level / skip-level repeats): assumed 5%")
        targets["escalation_share"] = 0.05
    else:
        targets["escalation_share"] = float(esc.mean())

    observed = _default_observed()
    if events is not None:
        obs_ev = _observed_levers_from_events(events, cases.assign(repeat_ordinal=ordinal),
                                              years, notes)
    else:
        obs_ev = {}
        if "leader_involved" in cases and is_rep.any():
            observed["leader_ownership_share"] = float(
                cases["leader_involved"].astype(bool).to_numpy()[is_rep].mean())
            notes.append("leader ownership share read from leader_involved (any leader activity)")
        notes.append("no event log given: follow-up, mediation, fund and visit levels assumed")
    mediated_share = obs_ev.pop("_mediated_share", None)
    observed.update({k: v for k, v in obs_ev.items() if k in observed})
    a, _ = _assumption_dict(assumptions)
    if mediated_share is not None and mediated_share > a[("mediators", "eligible_share")]:
        notes.append(f"observed mediation share {mediated_share:.2f} exceeds the assumed "
                     "eligible share: mediators sized for all eligible filings")
        mediated_share = a[("mediators", "eligible_share")]
    if mediated_share is not None and mediated_share > 0:
        k = a[("mediators", "cases_per_mediator_year")]
        observed["mediators"] = float(
            math.ceil(mediated_share * filings_per_year / (k * a[("mediators", "max_utilisation")]))
        )
    else:
        # no mediation observed: assume enough mediators for about half the eligible filings
        demand = filings_per_year * a[("mediators", "eligible_share")]
        observed["mediators"] = float(
            math.ceil(0.5 * demand / a[("mediators", "cases_per_mediator_year")]))
        notes.append("mediator numbers not observable: assumed capacity for half the eligible "
                     "filings")

    base = Baseline(
        filings_per_year=float(filings_per_year),
        first_filings_per_year=float(first_per_year),
        categories=categories,
        category_share=category_share,
        streets=streets,
        street_share=street_share,
        groups=groups,
        group_given_category=mix,
        group_departments=group_departments,
        mu=mu,
        sigma=sigma,
        repeat_shift=shift if is_rep.sum() >= 10 else 0.4,
        refile_p=refile_p,
        gap_mu=gap_mu,
        gap_sigma=gap_sigma,
        escalation_rate=targets["escalation_share"],
        reference_days=float(med_first) if math.isfinite(med_first) else float(np.exp(mu.mean())),
        observed=observed,
        targets=targets,
        source=f"case table ({n} cases, {years:.2f} years to {obs_end.date()})",
        notes=tuple(notes),
    )
    return _match_targets(_core_refiling(base, assumptions), assumptions)


def _refile_multipliers(base: Baseline, levers: Mapping[str, float], a: Mapping,
                        scale: float = 1.0, *, served: float | None = None
                        ) -> tuple[float, float]:
    """Mean factor on the re-filing probability (first, later filings) under ``levers``."""
    fu = 1.0 - levers["follow_up_visit_share"] * (1.0 - a[("follow_up_visit_share",
                                                           "refile_factor")])
    if served is None:
        served = _mediation_queue(base, levers, a, scale)["served"]
    med = 1.0 - (a[("mediators", "eligible_share")] * served
                 * a[("mediators", "success_rate")] * (1.0 - a[("mediators", "refile_factor")]))
    lead = 1.0 - levers["leader_ownership_share"] * (
        1.0 - a[("leader_ownership_share", "refile_factor")])
    cost = a[("special_fund_yuan", "cost_per_case_yuan")]
    expected_repeats = max((base.filings_per_year - base.first_filings_per_year) * scale, 1.0)
    fund_share = min(1.0, levers["special_fund_yuan"] / cost / expected_repeats)
    fund = 1.0 - fund_share * (1.0 - a[("special_fund_yuan", "refile_factor")])
    return fu * med, fu * med * lead * fund


def _core_refiling(base: Baseline, assumptions: Any) -> Baseline:
    """Turn observed re-filing probabilities into core ones (before the observed levers act)."""
    a, _ = _assumption_dict(assumptions)
    served = _mediation_queue(base, base.observed, a, 1.0, volume=base.filings_per_year)
    m1, m2 = _refile_multipliers(base, base.observed, a, served=served["served"])
    p1 = float(min(base.refile_p[0] / max(m1, 1e-9), 0.95))
    p2 = float(min(base.refile_p[1] / max(m2, 1e-9), 0.95))
    targets = dict(base.targets, refile_p_first=base.refile_p[0],
                   refile_p_later=base.refile_p[1])
    return dataclasses.replace(base, refile_p=(p1, p2), targets=targets)


def _estimate_refiling(
    cases: pd.DataFrame, ordinal: np.ndarray, obs_end: pd.Timestamp, notes: list[str]
) -> tuple[tuple[float, float], float, float]:
    default = ((0.25, 0.35), math.log(45.0), 1.0)
    if "matter_id" not in cases or (ordinal > 1).sum() < 5:
        notes.append("too few linked repeat filings: re-filing probabilities assumed 25% / 35%")
        return default
    df = pd.DataFrame({
        "matter": cases["matter_id"].astype("str").to_numpy(),
        "ordinal": ordinal,
        "opened": pd.to_datetime(cases["opened_at"]).to_numpy(),
        "closed_at": pd.to_datetime(cases["closed_at"]).to_numpy()
        if "closed_at" in cases else pd.NaT,
    }).sort_values(["matter", "ordinal", "opened"], kind="stable").reset_index(drop=True)
    same_next = np.r_[df["matter"].to_numpy()[1:] == df["matter"].to_numpy()[:-1], False]
    next_open = np.r_[df["opened"].to_numpy()[1:], np.datetime64("NaT")]
    closed_at = df["closed_at"].to_numpy()
    is_closed = ~pd.isna(closed_at)
    day = np.timedelta64(1, "D")
    gap = np.where(same_next & is_closed, (next_open - closed_at) / day, np.nan)
    left = np.where(is_closed, (np.datetime64(obs_end) - closed_at) / day, np.nan)
    ok = same_next & is_closed & np.isfinite(gap)
    if ok.sum() < 5:
        notes.append("too few observed re-filing gaps: re-filing assumed 25% / 35%")
        return default
    after = ok & (gap >= 1.0)  # repeats while open or on the day of closure: not a "gap"
    if after.sum() < 5:
        after = ok
    g = np.maximum(gap[after], 0.5)
    lim = np.maximum(np.maximum(left[after], g), 0.5)
    gap_mu, gap_sigma = _fit_truncated_lognormal(g, lim)
    expo = np.where(is_closed, _lognormal_cdf(np.nan_to_num(left, nan=0.0), gap_mu, gap_sigma), 0.0)
    first = df["ordinal"].to_numpy() == 1
    succ_first = (same_next & first & is_closed).sum()
    succ_later = (same_next & ~first & is_closed).sum()
    p1 = succ_first / max(expo[first].sum(), 1e-9)
    p2 = succ_later / max(expo[~first].sum(), 1e-9) if (~first).sum() >= 10 else p1
    return (float(np.clip(p1, 0.0, 0.95)), float(np.clip(p2, 0.0, 0.95))), gap_mu, gap_sigma


def _match_targets(base: Baseline, assumptions: Any, iterations: int = 4) -> Baseline:
    """Shift core durations and the escalation rate so the baseline run matches the data."""
    mu, shift, esc = base.mu.copy(), base.repeat_shift, base.escalation_rate
    t_first = base.targets.get("km_median_days_first", float("nan"))
    t_rep = base.targets.get("km_median_days_repeat", float("nan"))
    t_esc = base.targets.get("escalation_share", float("nan"))
    for _ in range(iterations):
        trial = dataclasses.replace(base, mu=mu, repeat_shift=shift, escalation_rate=esc)
        stats = _baseline_stats(trial, assumptions)
        if math.isfinite(t_first) and stats["median_first"] > 0:
            mu = mu + math.log(t_first / stats["median_first"])
        if math.isfinite(t_rep) and stats["median_repeat"] > 0:
            shift = shift + math.log(t_rep / stats["median_repeat"]) - (
                math.log(t_first / stats["median_first"]) if math.isfinite(t_first) else 0.0)
        if math.isfinite(t_esc) and stats["escalation_share"] > 0:
            esc = float(min(esc * t_esc / stats["escalation_share"], 1.0))
    return dataclasses.replace(base, mu=mu, repeat_shift=shift, escalation_rate=esc)


def _baseline_stats(base: Baseline, assumptions: Any) -> dict[str, float]:
    a, _ = _assumption_dict(assumptions)
    levers = dict(base.observed)
    crn = _crn(base, n_cases=None, replications=4, seed=20261127)
    recs = _simulate(base, levers, a, crn, keep_filings=True)
    f = recs["filings"]
    year = f["in_year"]
    first = year & (f["ordinal"] == 1)
    rep = year & (f["ordinal"] > 1)
    return {
        "median_first": float(np.median(f["T"][first])) if first.any() else float("nan"),
        "median_repeat": float(np.median(f["T"][rep])) if rep.sum() >= 10 else float("nan"),
        "escalation_share": float(f["esc"][year].mean()) if year.any() else float("nan"),
    }


def _default_baseline() -> Baseline:
    """Documented priors (petition-work.md §c5) for when no data are available."""
    from casekit.schema import category_shares

    shares = category_shares()
    categories = tuple(map(str, shares.index))
    category_share = shares.to_numpy(dtype=float) / shares.sum()
    # Chaoyang district: 4 streets + 9 towns (SRC:CY-MJ)
    streets = ("文光街道", "城南街道", "棉北街道", "金浦街道", "海门镇", "和平镇", "西胪镇",
               "关埠镇", "金灶镇", "谷饶镇", "贵屿镇", "铜盂镇", "河溪镇")
    street_share = np.full(len(streets), 1.0 / len(streets))
    groups = ("petition_bureau+street_office", "residents_committee+street_office",
              "housing_construction_bureau+petition_bureau+street_office",
              "court+petition_bureau+street_office", "other (3+ departments)")
    departments = np.array([1, 2, 2, 2, 3])
    group_share = np.array([0.40, 0.20, 0.15, 0.10, 0.15])
    median_days = np.array([8.0, 12.0, 20.0, 25.0, 30.0])  # c5: formal petitions ~6-15 days
    mix = np.tile(group_share, (len(categories), 1))
    targets = {"km_median_days_first": 12.0, "km_median_days_repeat": 20.0,
               "escalation_share": 0.05, "repeat_share": 0.3, "filings_per_year": 2000.0}
    base = Baseline(
        filings_per_year=2000.0,
        first_filings_per_year=1400.0,
        categories=categories,
        category_share=category_share,
        streets=streets,
        street_share=street_share,
        groups=groups,
        group_given_category=mix,
        group_departments=departments,
        mu=np.log(median_days),
        sigma=np.full(len(groups), 0.9),
        repeat_shift=math.log(1.5),
        refile_p=(0.25, 0.35),
        gap_mu=math.log(45.0),
        gap_sigma=1.0,
        escalation_rate=0.05,
        reference_days=12.0,
        observed=_default_observed() | {"mediators": 10.0},
        targets=targets,
        source="priors (petition-work.md §c5; no data)",
        notes=("no data: every parameter is a documented prior",),
    )
    return _match_targets(_core_refiling(base, None), None)


@functools.lru_cache(maxsize=1)
def _sample_baseline() -> Baseline:
    try:
        from casekit.cases import build_case_table
        from casekit.datasets import load_sample_events

        events = load_sample_events()
    except (ImportError, AttributeError, FileNotFoundError):
        return _default_baseline()
    cases = build_case_table(events)
    base = calibrate_baseline(cases, events=events)
    return dataclasses.replace(base, source="casekit synthetic district: " + base.source)


# --------------------------------------------------------------------------------------------
# common random numbers and the vectorised core
# --------------------------------------------------------------------------------------------

_VARS = ("lead", "os", "med", "succ", "fu", "fund")
#: uint16 lanes of one filing's draws: what each lane is used for
_LANES = {"pattern": 0, "z": 1, "z_gap": 2, "refile": 3, "esc": 4, "conf": 5, "session": 6,
          **{v: 7 + i for i, v in enumerate(_VARS)}, "keep": 13, "cover": 14, "category": 15}
_N_LANES = 16  # = four 64-bit words per filing
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64 constants
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@functools.lru_cache(maxsize=1)
def _quantile_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mid-point uniforms, standard normal and unit exponential quantiles of the 65,536 cells."""
    from scipy.special import ndtri

    u = (np.arange(65536) + 0.5) / 65536.0
    normal = ndtri(u).astype(np.float32)
    expo = (-np.log1p(-u)).astype(np.float32)
    for t in (u, normal, expo):
        t.setflags(write=False)
    return u, normal, expo


@dataclasses.dataclass(eq=False)
class _Draws:
    """Derived random inputs of a set of filings (one generation), ready for the model."""

    dept: np.ndarray  # int8 departments of the filing's pattern
    tcore: np.ndarray  # float32 core time to close (before lever effects)
    gap: np.ndarray  # float32 gap from closure to the next filing
    refile: np.ndarray  # float32 uniform for re-filing
    esc: np.ndarray  # float32 uniform for escalation
    conf: np.ndarray  # float32 uniform for the joint-conference need and phase
    session: np.ndarray  # float32 unit-exponential mediation session
    u: dict[str, np.ndarray]  # name -> uint16 uniforms


def _uniform32(lane: np.ndarray) -> np.ndarray:
    out = lane.astype(np.float32)
    out += np.float32(0.5)
    out *= np.float32(1.0 / _U)
    return out


def _derive(base: Baseline, lanes: Any, g: int, cat: np.ndarray,
            pattern_table: np.ndarray) -> _Draws:
    """Model inputs from the uint16 lanes (``lanes(name)``) of generation ``g``'s filings."""
    _, normal, expo = _quantile_tables()
    grp = pattern_table[cat, lanes("pattern")]
    mu = (base.mu + (base.repeat_shift if g >= 1 else 0.0)).astype(np.float32)
    tcore = normal[lanes("z")] * base.sigma.astype(np.float32)[grp]
    tcore += mu[grp]
    gap = normal[lanes("z_gap")] * np.float32(base.gap_sigma)
    gap += np.float32(base.gap_mu)
    return _Draws(
        dept=base.group_departments.astype(np.int8)[grp], tcore=np.exp(tcore), gap=np.exp(gap),
        refile=_uniform32(lanes("refile")), esc=_uniform32(lanes("esc")),
        conf=_uniform32(lanes("conf")), session=expo[lanes("session")],
        u={v: lanes(v) for v in _VARS},
    )


@dataclasses.dataclass(eq=False)
class _CRN:
    """Random inputs for one (baseline, volume, replications, seed): common random numbers.

    Slot ``r * slots + i`` is matter ``i`` of replication ``r``; a filing is (generation ``g``,
    slot), ``g + 1`` its ordinal. Every filing owns 16 uint16 uniforms (:data:`_LANES`), so every
    scenario sees the same draws for the same filing. First filings (``g = 0``, every slot) are
    drawn up front from the seed's PCG64 stream and kept, derived (``first``); the filings of
    later generations exist only for the matters a scenario re-files, so their lanes are a
    counter-based hash (SplitMix64) of (``key``, generation, slot), computed for those filings
    when a run reaches them (:func:`_generation`). Within a replication, matters are sorted by
    the arrival of their first filing (used slots first).
    """

    replications: int
    slots: int  # gen-0 slots per replication
    scale: float  # simulated volume / observed volume
    rate: float  # first-filing candidates per year drawn (before field-visit prevention)
    counts: np.ndarray  # used slots per replication
    arrive: np.ndarray  # arrival day of the first filing, float32 (inf for unused slots)
    keep: np.ndarray  # uint16: prevented by field visits when above the keep threshold
    cover: np.ndarray  # uint16, matter-level: area covered by a one-stop centre
    category: np.ndarray  # int8 category of the matter (fixed over its filings)
    key: np.uint64  # key of the hash that draws the filings of generations >= 1
    first: _Draws  # the first filings' inputs, one per slot
    pattern_table: np.ndarray  # (categories, 65536) int8: pattern of a uniform given category
    base: Baseline | None = None  # held so the cache key id(base) cannot be reused


_CRN_CACHE: dict[tuple, _CRN] = {}


_CELL_TABLES: dict[bytes, np.ndarray] = {}


def _cell_table(cum: np.ndarray) -> np.ndarray:
    """Cell of each of the 65,536 mid-point uniforms: how many ``cum`` (ascending) lie below.

    Rows of a 2-D ``cum`` are tables of their own (cached: they depend on the baseline only).
    """
    hit = _CELL_TABLES.get(cum.tobytes() + str(cum.shape).encode())
    if hit is None:
        u = _quantile_tables()[0]
        rows = np.atleast_2d(cum)
        hit = np.stack([np.searchsorted(c, u, side="left") for c in rows]).astype(np.int8)
        hit = hit[0] if cum.ndim == 1 else hit
        if len(_CELL_TABLES) > 64:
            _CELL_TABLES.clear()
        _CELL_TABLES[cum.tobytes() + str(cum.shape).encode()] = hit
    return hit


def _crn(base: Baseline, *, n_cases: float | None, replications: int, seed: Any) -> _CRN:
    scale = 1.0 if n_cases is None else float(n_cases) / base.filings_per_year
    key = (id(base), round(scale, 9), int(replications), seed)
    cacheable = isinstance(seed, int | np.integer)
    if cacheable and key in _CRN_CACHE and _CRN_CACHE[key].base is base:
        return _CRN_CACHE[key]
    rng = np.random.default_rng(seed)
    R = int(replications)
    a, _ = _assumption_dict(None)
    latent = _latent_rate(base, a, scale)
    horizon = _WARMUP_DAYS + _YEAR
    counts = rng.poisson(latent * horizon / _YEAR, size=R)
    slots = int(max(counts.max(), 1))
    draw = -_WARMUP_DAYS + horizon * rng.random((R, slots))
    draw[np.arange(slots)[None, :] >= counts[:, None]] = np.inf
    arrive = np.sort(draw, axis=1).astype(np.float32).ravel()
    total = R * slots
    lanes = rng.bit_generator.random_raw(_N_LANES // 4 * total).view("<u2").reshape(
        _N_LANES, total)
    hash_key = np.uint64(rng.bit_generator.random_raw())
    # category per matter (its first filing's), pattern per filing given the category
    cat_cum = np.cumsum(base.category_share)[:-1]
    cat = _cell_table(cat_cum)[lanes[_LANES["category"]]]
    cum = np.cumsum(base.group_given_category, axis=1)[:, :-1]
    pattern_table = _cell_table(cum)
    first = _derive(base, lambda name: lanes[_LANES[name]], 0, cat, pattern_table)
    out = _CRN(R, slots, scale, latent, counts, arrive, lanes[_LANES["keep"]].copy(),
               lanes[_LANES["cover"]].copy(), cat, hash_key, first, pattern_table, base)
    if cacheable:
        if len(_CRN_CACHE) >= 4:  # an entry for 20,000 filings x 10 replications is ~12 MB
            _CRN_CACHE.pop(next(iter(_CRN_CACHE)))
        _CRN_CACHE[key] = out
    return out


def _generation(base: Baseline, crn: _CRN, g: int, pos: np.ndarray) -> _Draws:
    """Inputs of the generation-``g`` filings (g >= 1) of the matters in slots ``pos``.

    Four SplitMix64 words per filing from the counter ((g * total + slot) * 4 + word): the same
    filing gets the same draws in every scenario, whichever other matters are re-filed.
    """
    total = crn.replications * crn.slots
    ctr = (np.uint64(g * total) + pos.astype(np.uint64)) * np.uint64(4)
    x = ctr[None, :] + np.arange(4, dtype=np.uint64)[:, None]
    x *= _GOLDEN
    x += crn.key
    t = np.empty_like(x)
    for shift, mul in ((30, _MIX1), (27, _MIX2), (31, None)):
        np.right_shift(x, np.uint64(shift), out=t)
        x ^= t
        if mul is not None:
            x *= mul
    words = x.astype("<u8", copy=False).view("<u2")  # (4, 4 n): lane 4 w + q at [w, q::4]

    def lane(name: str) -> np.ndarray:
        w, q = divmod(_LANES[name], 4)
        return words[w, q::4]

    return _derive(base, lane, g, crn.category[pos], crn.pattern_table)

def _thr(p: float) -> int:
    """Integer threshold on a uint16 uniform for probability ``p`` (0 and 1 exact)."""
    return int(min(max(round(p * _U), 0), 65536))


def _latent_rate(base: Baseline, a: Mapping, scale: float) -> float:
    """First filings per year there would be without any field visits."""
    return scale * (base.first_filings_per_year + 12.0 * base.observed.get(
        "cadre_field_visits_per_month", 0.0) * a[("cadre_field_visits_per_month",
                                                   "prevented_per_visit")])


def _erlang_c(c: int, a: float) -> float:
    """Probability of waiting in an M/M/c queue with offered load ``a`` (< c) erlangs."""
    if c <= 0:
        return 1.0
    b = 1.0
    for k in range(1, c + 1):  # Erlang B by the stable recursion
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def _mediation_queue(base: Baseline, levers: Mapping[str, float], a: Mapping, scale: float,
                     volume: float | None = None) -> dict[str, float]:
    """Compute served share, waiting probability and decay rate of the mediation queue.

    ``volume`` is the model's filings per year (default: its expected steady-state volume
    under ``levers``); eligible filings arrive at ``volume * eligible_share / 365`` a day.
    """
    c = round(levers["mediators"])
    mu = a[("mediators", "cases_per_mediator_year")] / _YEAR  # per mediator per day
    if volume is None:
        volume = _expected_volume(base, levers, a, scale)
    lam = volume * a[("mediators", "eligible_share")] / _YEAR
    if c <= 0 or lam <= 0:
        return {"served": 0.0, "p_wait": 0.0, "rate": 1.0, "mu": mu, "lam": 0.0, "c": c}
    lam_eff = min(lam, a[("mediators", "max_utilisation")] * c * mu)
    p_wait = _erlang_c(c, lam_eff / mu)
    return {"served": lam_eff / lam, "p_wait": p_wait, "rate": c * mu - lam_eff, "mu": mu,
            "lam": lam_eff, "c": c}


def _first_rate(base: Baseline, levers: Mapping[str, float], a: Mapping, scale: float) -> float:
    """First filings per year after cadre field visits prevented some."""
    latent = _latent_rate(base, a, scale)
    prevented = 12.0 * levers["cadre_field_visits_per_month"] * a[
        ("cadre_field_visits_per_month", "prevented_per_visit")]
    return max(latent - prevented,
               latent * (1.0 - a[("cadre_field_visits_per_month", "max_prevented_share")]))


def _expected_volume(base: Baseline, levers: Mapping[str, float], a: Mapping,
                     scale: float) -> float:
    """Steady-state filings per year: new matters times expected filings per matter.

    Mediation capacity and re-filing depend on each other, so this is a short fixed point.
    """
    first = _first_rate(base, levers, a, scale)
    volume = base.filings_per_year * scale
    for _ in range(4):
        mq = _mediation_queue(base, levers, a, scale, volume=volume)
        m1, m2 = _refile_multipliers(base, levers, a, scale, served=mq["served"])
        q1 = min(base.refile_p[0] * m1, 0.95)
        q2 = min(base.refile_p[1] * m2, 0.95)
        per_matter = 1.0 + q1 * sum(q2**k for k in range(_GENERATIONS - 1))
        volume = first * per_matter
    return volume


def _simulate(base: Baseline, levers: Mapping[str, float], a: Mapping, crn: _CRN,
              *, keep_filings: bool = False) -> dict[str, Any]:
    """Run the vectorised model; return per-replication metric arrays (and filings if asked)."""
    R, S = crn.replications, crn.slots
    scale = crn.scale
    # field visits thin the latent first filings (drawn at crn.rate per year)
    rate = _first_rate(base, levers, a, scale)
    keep_thr = _thr(min(1.0, rate / max(crn.rate, 1e-9)))
    used = np.arange(S)[None, :] < crn.counts[:, None]
    pos = np.flatnonzero(used.ravel() & (crn.keep < keep_thr))
    arr = crn.arrive[pos]

    # lever constants
    lead_thr = _thr(levers["leader_ownership_share"])
    f_lead_dur = a[("leader_ownership_share", "duration_factor")]
    f_lead_ref = a[("leader_ownership_share", "refile_factor")]
    f_lead_esc = a[("leader_ownership_share", "escalation_factor")]
    need_share = a[("joint_conference_interval_days", "need_share")]
    interval = levers["joint_conference_interval_days"]
    os_thr = _thr(a[("one_stop_center", "uptake")] * a[("one_stop_center", "on_site_share")])
    cover_thr = _thr(levers["one_stop_center"])
    cap1 = a[("one_stop_center", "single_department_cap_days")]
    cap2 = a[("one_stop_center", "cross_department_cap_days")]
    mq = _mediation_queue(base, levers, a, scale)
    med_share = a[("mediators", "eligible_share")] * mq["served"]
    med_thr = _thr(med_share)
    succ_thr = _thr(a[("mediators", "success_rate")])
    f_med_ref = a[("mediators", "refile_factor")]
    fu_thr = _thr(levers["follow_up_visit_share"])
    f_fu = a[("follow_up_visit_share", "refile_factor")]
    cost = a[("special_fund_yuan", "cost_per_case_yuan")]
    expected_repeats = max((base.filings_per_year - base.first_filings_per_year) * scale, 1.0)
    fund_thr = _thr(min(1.0, levers["special_fund_yuan"] / cost / expected_repeats))
    f_fund = a[("special_fund_yuan", "refile_factor")]
    elasticity = a[("all", "escalation_time_elasticity")]
    esc_coef = base.escalation_rate / base.reference_days**elasticity
    p1, p2 = base.refile_p
    sd_dept = a[("all", "staff_days_per_department")]
    sd_lead = a[("leader_ownership_share", "staff_days_per_case")]
    sd_fu = a[("follow_up_visit_share", "staff_days_per_visit")]
    pw = mq["p_wait"]

    names = ("n", "rep", "ontime", "settled", "esc", "backlog", "dept", "owned", "fu", "fund")
    tot = {k: np.zeros(R) for k in names}
    t_all: list[list[np.ndarray]] = [[] for _ in range(R)]
    t_rep: list[list[np.ndarray]] = [[] for _ in range(R)]
    kept: dict[str, list[np.ndarray]] = {k: [] for k in ("rep", "arr", "T", "ordinal", "esc")}
    starts = np.arange(R + 1) * S
    cnt = np.count_nonzero

    for g in range(_GENERATIONS):
        n = len(pos)
        if n == 0:
            break
        # first filings: the kept inputs of their slots; later ones: drawn for these filings
        D, ix = (crn.first, pos) if g == 0 else (_generation(base, crn, g, pos), slice(None))
        T = D.tcore[ix].copy()  # float32, changed in place below
        ndep = D.dept[ix]
        multi = ndep >= 2
        owned = None
        if g >= 1 and lead_thr > 0:
            owned = D.u["lead"][ix] < lead_thr
            T *= np.where(owned, np.float32(f_lead_dur), np.float32(1.0))
        # joint conference: multi-department filings that need it wait for the next meeting
        if need_share > 0:
            uc = D.conf[ix]  # need if below need_share; then uc / need_share is the phase
            T += np.where(multi & (uc < need_share), uc * np.float32(interval / need_share),
                          np.float32(0.0))
        # one-stop centre: on the spot / within 7 days for filings handled there
        if cover_thr > 0 and os_thr > 0:
            onsite = (D.u["os"][ix] < os_thr) & (crn.cover[pos] < cover_thr)
            T = np.where(onsite, np.minimum(T, np.where(multi, np.float32(cap2),
                                                        np.float32(cap1))), T)
        # mediation (capacity-limited): Erlang-C wait + exponential session, whichever first
        succ = None
        if med_thr > 0:
            u_med = D.u["med"][ix]
            med = np.flatnonzero(u_med < med_thr)
            pm = pos[med] if g == 0 else med  # the mediated filings in D
            v = (u_med[med] + 0.5) / (med_share * _U)  # conditional uniform in (0, 1)
            wait = np.where(v < pw, -np.log(np.maximum(v / max(pw, 1e-12), 1e-12)) / mq["rate"],
                            0.0)
            session = D.session[pm] / np.float32(mq["mu"])
            T[med] = np.minimum(T[med], wait + session)
            succ = np.zeros(n, dtype=bool)
            succ[med] = D.u["succ"][pm] < succ_thr
        fu = D.u["fu"][ix] < fu_thr
        fund = (D.u["fund"][ix] < fund_thr) if (g >= 1 and fund_thr > 0) else None
        p = np.where(fu, np.float32((p1 if g == 0 else p2) * f_fu),
                     np.float32(p1 if g == 0 else p2))
        pe = np.sqrt(T) if elasticity == 0.5 else T**np.float32(elasticity)
        pe *= np.float32(esc_coef)
        if owned is not None:
            p *= np.where(owned, np.float32(f_lead_ref), np.float32(1.0))
            pe *= np.where(owned, np.float32(f_lead_esc), np.float32(1.0))
        if fund is not None:
            p *= np.where(fund, np.float32(f_fund), np.float32(1.0))
        if succ is not None:
            p *= np.where(succ, np.float32(f_med_ref), np.float32(1.0))
            pe *= ~succ  # a successful mediation settles the matter locally
        refiled = D.refile[ix] < np.minimum(p, np.float32(0.95))
        esc = D.esc[ix] < pe

        # per-replication aggregates: pos is sorted, so replications are contiguous; at g = 0
        # arrivals are sorted within a replication, so the year is a suffix of each segment
        b = np.searchsorted(pos, starts)
        end = arr + T
        late = end > _YEAR
        if g == 0:
            ys = np.array([lo + np.searchsorted(arr[lo:hi], 0.0) for lo, hi in
                           itertools.pairwise(b)], dtype=np.int64)
            iy = None
        else:
            ys = b[:-1]
            iy = arr >= 0.0
        ok = T <= _ON_TIME_DAYS
        settled = ~(late | esc | refiled)
        for r in range(R):
            lo, hi = int(ys[r]), int(b[r + 1])
            tot["backlog"][r] += cnt(late[int(b[r]):hi])
            if hi <= lo:
                continue
            if iy is None:
                sl = slice(lo, hi)
                tr = T[sl]
                tot["n"][r] += hi - lo
                tot["ontime"][r] += cnt(ok[sl])
                tot["settled"][r] += cnt(settled[sl])
                tot["esc"][r] += cnt(esc[sl])
                tot["dept"][r] += int(ndep[sl].sum(dtype=np.int64))
                tot["fu"][r] += cnt(fu[sl])
            else:
                m = iy[lo:hi]
                tr = T[lo:hi][m]
                k = cnt(m)
                tot["n"][r] += k
                tot["rep"][r] += k
                tot["ontime"][r] += cnt(ok[lo:hi] & m)
                tot["settled"][r] += cnt(settled[lo:hi] & m)
                tot["esc"][r] += cnt(esc[lo:hi] & m)
                tot["dept"][r] += int(ndep[lo:hi][m].sum(dtype=np.int64))
                tot["fu"][r] += cnt(fu[lo:hi] & m)
                if owned is not None:
                    tot["owned"][r] += cnt(owned[lo:hi] & m)
                if fund is not None:
                    tot["fund"][r] += cnt(fund[lo:hi] & m)
            t_all[r].append(tr)
            if g >= 1:
                t_rep[r].append(tr)
        if keep_filings:
            kept["rep"].append(pos // S)
            kept["arr"].append(arr)
            kept["T"].append(T)
            kept["ordinal"].append(np.full(n, g + 1, dtype=np.int16))
            kept["esc"].append(esc)
        child = end + D.gap[ix]
        nxt = np.flatnonzero(refiled & (child < _YEAR))
        pos, arr = pos[nxt], child[nxt]

    def medians(chunks: list[list[np.ndarray]]) -> np.ndarray:
        out = np.full(R, np.nan)
        for r, parts in enumerate(chunks):
            x = np.concatenate(parts) if parts else np.array([])
            if len(x):
                out[r] = float(np.median(x))
        return out

    out: dict[str, Any] = {}
    n_year = tot["n"]
    out["median_days_to_close"] = medians(t_all)
    out["median_days_to_close_repeat"] = medians(t_rep)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["repeat_rate"] = tot["rep"] / n_year
        out["on_time_rate"] = tot["ontime"] / n_year
        out["share_settled_at_street_level"] = tot["settled"] / n_year
    out["escalations"] = tot["esc"]
    out["backlog_end"] = tot["backlog"]
    n_units = len(base.streets) + 1
    fixed = (
        _YEAR / max(interval, 1.0) * n_units
        * a[("joint_conference_interval_days", "staff_days_per_meeting")]
        + levers["one_stop_center"] * a[("one_stop_center", "staff")] * 250.0
        + levers["mediators"] * 250.0
        + 12.0 * levers["cadre_field_visits_per_month"]
        * a[("cadre_field_visits_per_month", "staff_days_per_visit")]
    )
    out["staff_days"] = sd_dept * tot["dept"] + sd_lead * tot["owned"] + sd_fu * tot["fu"] + fixed
    out["funds_yuan"] = tot["fund"] * cost
    out["n_filings"] = n_year
    if keep_filings:
        f = {k: np.concatenate(v) for k, v in kept.items()}
        f["in_year"] = f["arr"] >= 0.0
        out["filings"] = f
    return out


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def _resolve_levers(base: Baseline, given: Mapping[str, Any], scale: float = 1.0
                    ) -> dict[str, float]:
    levers: dict[str, float] = {}
    for name in _LEVER_SPECS:
        value = given.get(name)
        if value is not None:
            levers[name] = check_lever(name, value)
        elif name in _SCALED_LEVERS:  # counts and money grow with the district's volume
            levers[name] = float(round(base.observed[name] * scale, 6))
            if name == "mediators":
                levers[name] = float(round(levers[name]))
        else:
            levers[name] = float(base.observed[name])
    return levers


#: levers whose observed value is a count or amount for the observed volume; with ``n_cases``
#: the default ("as observed") scales with the volume
_SCALED_LEVERS = ("mediators", "special_fund_yuan", "cadre_field_visits_per_month")


def simulate_year(
    baseline: Baseline | None = None,
    *,
    leader_ownership_share: float | None = None,
    joint_conference_interval_days: float | None = None,
    one_stop_center: float | None = None,
    mediators: float | None = None,
    follow_up_visit_share: float | None = None,
    special_fund_yuan: float | None = None,
    cadre_field_visits_per_month: float | None = None,
    n_cases: int | None = None,
    replications: int = 10,
    seed: int | None = None,
    assumptions: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Simulate one district-year under a scenario; tidy metrics with a 90% band.

    Parameters
    ----------
    baseline : Baseline, optional
        From :func:`calibrate_baseline`; default: casekit's synthetic district.
    leader_ownership_share : float, optional
        Share of repeat filings owned by a named leader (领导包案), 0-1.
    joint_conference_interval_days : float, optional
        Days between joint conference meetings (联席会议), 1-365.
    one_stop_center : float, optional
        One-stop centre (信访超市) coverage: 0 none, 1 the whole district (fractions allowed).
    mediators : int, optional
        Full-time people's mediators (调解员) available to petition matters, 0-2000.
    follow_up_visit_share : float, optional
        Share of closed filings that get a follow-up visit (回访), 0-1.
    special_fund_yuan : float, optional
        Special fund for remedies per year (专项资金), yuan.
    cadre_field_visits_per_month : float, optional
        Cadre field visits to towns and streets per month (干部下访).
    n_cases : int, optional
        Filings per year to simulate (scales arrivals); default: the baseline's volume.
    replications : int, default 10
        Independent replications; the band is their 5%-95% range.
    seed : int, optional
        Seed for the common random numbers: the same seed gives the same draws for every
        scenario, so scenario-vs-baseline differences are not noise.
    assumptions : DataFrame or list of dict, optional
        An edited copy of :data:`ASSUMPTIONS` (``lever, parameter, value`` are read).

    Every lever left at ``None`` takes its observed value (``baseline.observed``).

    Returns
    -------
    DataFrame
        One row per metric of :data:`METRICS`: ``metric, value`` (median over replications),
        ``low, high`` (5% and 95% over replications), ``unit``. ``attrs`` holds ``levers``
        (the values used), ``assumptions`` (records of the table used), ``seed``,
        ``replications``, ``n_cases``, ``baseline_source``.

    Raises
    ------
    CasekitError
        For a lever value out of range or an invalid assumptions table.

    See Also
    --------
    sweep : the same over a grid of scenarios.

    Notes
    -----
    The simulated year follows a warm-up year, so repeat filings of earlier matters are present
    (a steady state; an observed log that starts empty, or that cuts matters begun before it,
    shows a lower repeat share than the baseline run). Medians are over all filings opened in
    the year (their simulated times are known, not censored); ``backlog_end`` counts filings
    still open on day 365.

    How the levers act (effect sizes in :data:`ASSUMPTIONS`):

    - ``leader_ownership_share``: owned repeat filings take ``duration_factor`` times as long,
      are re-filed ``refile_factor`` times as often, escalate ``escalation_factor`` as often.
    - ``joint_conference_interval_days``: a share (``need_share``) of multi-department filings
      waits for the next meeting, a uniform fraction of the interval.
    - ``one_stop_center``: in covered areas ``uptake x on_site_share`` of the filings are
      handled at the centre: single-department ones close within a day, cross-department ones
      within 7 days (SRC:JIANDE).
    - ``mediators``: eligible filings are rationed to ``max_utilisation`` of the mediators'
      capacity; a mediated filing closes at the earlier of its ordinary handling and the
      mediation (Erlang-C wait plus an exponential session); a success settles it locally.
    - ``follow_up_visit_share``, ``special_fund_yuan``: lower the re-filing probability of the
      visited / funded filings (the fund pays ``cost_per_case_yuan`` per repeat matter).
    - ``cadre_field_visits_per_month``: each visit prevents ``prevented_per_visit`` new matters
      (at most ``max_prevented_share``).

    With ``n_cases``, the default values of the count-like levers (mediators, fund, visits)
    scale with the volume, so "as observed" keeps the observed intensity per filing.

    Examples
    --------
    >>> base = ck.simulate_year(seed=1)
    >>> more = ck.simulate_year(seed=1, follow_up_visit_share=0.9)
    >>> list(base.columns)
    ['metric', 'value', 'low', 'high', 'unit']
    >>> rr = lambda r: r.set_index("metric").at["repeat_rate", "value"]
    >>> bool(rr(more) < rr(base))
    True
    """
    base = _sample_baseline() if baseline is None else baseline
    if not isinstance(base, Baseline):
        raise CasekitError(
            f"baseline: expected a casekit.simulate.Baseline, got {type(base).__name__}; "
            "use calibrate_baseline(cases)"
        )
    scale = 1.0 if n_cases is None else float(n_cases) / base.filings_per_year
    levers = _resolve_levers(base, {
        "leader_ownership_share": leader_ownership_share,
        "joint_conference_interval_days": joint_conference_interval_days,
        "one_stop_center": one_stop_center,
        "mediators": mediators,
        "follow_up_visit_share": follow_up_visit_share,
        "special_fund_yuan": special_fund_yuan,
        "cadre_field_visits_per_month": cadre_field_visits_per_month,
    }, scale)
    if replications < 1 or int(replications) != replications:
        raise CasekitError(f"replications: expected a positive integer, got {replications!r}")
    if n_cases is not None and not (10 <= float(n_cases) <= 5_000_000):
        raise CasekitError(f"n_cases={n_cases} is out of range: expected 10 to 5000000")
    a, table = _assumption_dict(assumptions)
    crn = _crn(base, n_cases=n_cases, replications=int(replications), seed=seed)
    res = _simulate(base, levers, a, crn)
    out = _summarise(res)
    out.attrs = {
        "levers": levers,
        "assumptions": _records(table),
        "seed": seed,
        "replications": int(replications),
        "n_cases": float(base.filings_per_year if n_cases is None else n_cases),
        "baseline_source": base.source,
    }
    return out


_METRIC_NAMES = list(METRICS)
_METRIC_UNITS = [u for u, _d in METRICS.values()]
_RECORDS: dict[int, tuple[pd.DataFrame, list[dict[str, Any]]]] = {}


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """``table.to_dict('records')``, cached per table object (copies, so callers may edit)."""
    hit = _RECORDS.get(id(table))
    if hit is None or hit[0] is not table:
        if len(_RECORDS) > 32:
            _RECORDS.clear()
        hit = (table, table.to_dict(orient="records"))
        _RECORDS[id(table)] = hit
    return [dict(r) for r in hit[1]]


def _summarise(res: Mapping[str, Any]) -> pd.DataFrame:
    """Median and 5%-95% band over replications, one row per metric."""
    m = np.vstack([np.asarray(res[k], dtype=float) for k in _METRIC_NAMES])
    finite = np.isfinite(m)
    with np.errstate(all="ignore"):
        if finite.all():
            q = np.quantile(m, [0.5, 0.05, 0.95], axis=1)
        else:
            q = np.full((3, len(m)), np.nan)
            for i, row in enumerate(m):
                if finite[i].any():
                    q[:, i] = np.quantile(row[finite[i]], [0.5, 0.05, 0.95])
    return pd.DataFrame({"metric": _METRIC_NAMES, "value": q[0], "low": q[1], "high": q[2],
                         "unit": _METRIC_UNITS})


def _grid_scenarios(grid: Mapping[str, Iterable[Any]] | Iterable[Mapping[str, Any]]
                    ) -> list[dict[str, Any]]:
    if isinstance(grid, Mapping):
        names = list(grid)
        values = [list(grid[k]) if not isinstance(grid[k], str) else [grid[k]] for k in names]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*values)]
    return [dict(s) for s in grid]


def sweep(
    grid: Mapping[str, Iterable[Any]] | Iterable[Mapping[str, Any]],
    *,
    baseline: Baseline | None = None,
    replications: int = 20,
    seed: int | None = 0,
    n_cases: int | None = None,
    assumptions: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Run :func:`simulate_year` over a grid of scenarios; one tidy DataFrame.

    Parameters
    ----------
    grid : dict of lever -> values, or list of dict
        A dict is expanded to its Cartesian product (like Mesa's ``batch_run``); a list of
        dicts gives the scenarios as they are.
    baseline, replications, seed, n_cases, assumptions
        As in :func:`simulate_year`; every scenario uses the same seed (common random numbers).
    progress : bool, optional
        Show a tqdm progress bar; default: only for more than 20 scenarios.

    Returns
    -------
    DataFrame
        ``scenario`` (0-based), one column per lever in the grid, then ``metric, value, low,
        high, unit``.

    Examples
    --------
    >>> res = ck.sweep({"follow_up_visit_share": [0.0, 0.9]}, replications=4, seed=2)
    >>> rr = res[res.metric == "repeat_rate"].set_index("follow_up_visit_share")["value"]
    >>> bool(rr[0.9] < rr[0.0])
    True
    """
    scenarios = _grid_scenarios(grid)
    for s in scenarios:
        for k, v in s.items():
            check_lever(k, v)
    base = _sample_baseline() if baseline is None else baseline
    show = len(scenarios) > 20 if progress is None else bool(progress)
    iterator: Iterable[dict[str, Any]] = scenarios
    if show:
        from tqdm.auto import tqdm

        iterator = tqdm(scenarios, desc="casekit sweep", unit="scenario")
    lever_cols = list(dict.fromkeys(k for s in scenarios for k in s))
    frames = []
    for i, s in enumerate(iterator):
        res = simulate_year(base, replications=replications, seed=seed, n_cases=n_cases,
                            assumptions=assumptions, **s)
        res = res.assign(scenario=i, **{k: s.get(k, np.nan) for k in lever_cols})
        res.attrs = {}
        frames.append(res)
    out = pd.concat(frames, ignore_index=True)
    return out[["scenario", *lever_cols, "metric", "value", "low", "high", "unit"]]
