"""Censoring-aware time to close / to settle by collaboration pattern, and the ranking.

Built on lifelines (R5): :func:`fit_time_to_close` returns one ``KaplanMeierFitter`` per pattern
(the groupby loop of the lifelines quickstart), so users keep ``plot_survival_function``,
``median_survival_time_`` and ``print_summary``. For speed on large logs, the summaries
(:func:`median_table`, :func:`compare_patterns`, :func:`fit_cox`; the ranking lives in
:mod:`casekit.ranking`) use numpy implementations of exactly the same statistics from
:mod:`casekit.engine` (the one numpy survival engine), tested for equality against lifelines:

* Kaplan-Meier: product-limit through cumulative sums of ``log(n - d) - log(n)`` (lifelines'
  formula, so a plateau at exactly S(t) = 0.5 resolves to the same step), Greenwood variance,
  exponential-Greenwood ("log-log") confidence bands, medians and their confidence interval as
  the first time each band is at or below one half (``lifelines.utils.median_survival_times``
  on ``confidence_interval_``), restricted mean survival time at a horizon.
* log-rank: two-sample and multivariate (chi-square with K - 1 df), pairwise with Holm's
  correction.
* Cox proportional hazards: Newton-Raphson on the Efron partial likelihood (lifelines' ties
  method); same coefficients, standard errors, Wald tests and confidence intervals as
  ``lifelines.CoxPHFitter`` (coefficients within 5e-6, at least as high a partial
  likelihood; ``benchmarks/rank.py`` measures the speed-up).

Every result records the observation end it was computed at (``attrs["observation_end"]`` and a
column), because a censored estimate means nothing without it. Cases whose duration is not known
(``duration_known`` False: open before the log starts, with no opening time) are left out of
every estimate here, as the ranking leaves them out. These functions start every case's clock at
its opening; for late entries (``entry_days`` > 0) and agencies that join while a case is open,
use :func:`casekit.rank_collaborations`, whose risk sets account for both.
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # lifelines is imported where it is used: it costs seconds to import
    from lifelines import KaplanMeierFitter

from casekit._utils import CasekitError
from casekit.engine import (
    _KM,
    _chi2_sf,
    _km,
    _logrank_multi,
    _logrank_two,
    _norm_sf,
    _z,
    blas_single_thread,
    cox_fit_ph,
)
from casekit.engine import holm as _holm

__all__ = [
    "ProportionalHazardsWarning",
    "compare_patterns",
    "fit_cox",
    "fit_time_to_close",
    "median_table",
]

Outcome = Literal["close", "settle"]
DEFAULT_COVARIATES: tuple[str, ...] = ("category", "street", "repeat_ordinal", "channel", "year")


class ProportionalHazardsWarning(UserWarning):
    """The proportional-hazards assumption looks violated for some term of a Cox model."""


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _outcome_columns(outcome: str) -> tuple[str, str]:
    if outcome == "close":
        return "duration_days", "closed"
    if outcome == "settle":
        return "settle_days", "settle_observed"
    raise CasekitError(f"outcome: expected 'close' or 'settle', got {outcome!r}")


def _known(cases: pd.DataFrame) -> pd.DataFrame:
    """The cases whose duration is known (``duration_known``, when the table has it).

    A case open before the log starts, with no opening time, has no known duration: duration
    estimates leave it out, as the ranking does and the case table's warning says.
    """
    if "duration_known" not in cases:
        return cases
    known = cases["duration_known"].fillna(True).to_numpy(bool)
    return cases if known.all() else cases[known]


def _durations_events(cases: pd.DataFrame, outcome: str) -> tuple[np.ndarray, np.ndarray]:
    dcol, ecol = _outcome_columns(outcome)
    for col in (dcol, ecol):
        if col not in cases:
            raise CasekitError(
                f"cases: missing column {col!r} for outcome={outcome!r} "
                f"(found: {', '.join(map(str, cases.columns))}); build it with build_case_table"
            )
    d = pd.to_numeric(cases[dcol]).to_numpy(dtype=float)
    e = cases[ecol].to_numpy(dtype=bool)
    bad = ~np.isfinite(d) | (d < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CasekitError(
            f"cases: row {i}, column {dcol!r}: expected a finite duration >= 0, got {d[i]!r}"
        )
    return d, e


def _observation_end(cases: pd.DataFrame) -> pd.Timestamp | None:
    """The observation end a case table was built at (``attrs``, else its column), or None.

    Read with the one parser, :func:`casekit.cases.parse_observation_end`.
    """
    from casekit.cases import parse_observation_end

    obs = cases.attrs.get("observation_end")
    if obs is None and "observation_end" in cases and len(cases):
        obs = cases["observation_end"].max()
    if obs is None or isinstance(obs, pd.Timestamp) or obs is pd.NaT:  # as stored
        return obs
    return parse_observation_end(obs)


# ---------------------------------------------------------------------------------------------
# Kaplan-Meier groups (the estimator itself is casekit.engine._km)
# ---------------------------------------------------------------------------------------------


class _Groups:
    """Integer codes of a grouping column with per-group row indices (one stable argsort)."""

    def __init__(self, values: pd.Series) -> None:
        codes, uniques = pd.factorize(values.astype("str").fillna("(none)"), sort=False)
        self.codes = codes.astype(np.int16) if len(uniques) < 2**15 else codes  # radix sorts
        self.labels = [str(u) for u in uniques]
        self.sizes = np.bincount(codes, minlength=len(uniques))
        self.bounds = np.r_[0, np.cumsum(self.sizes)]
        self.code_of = {g: j for j, g in enumerate(self.labels)}

    @functools.cached_property
    def order(self) -> np.ndarray:
        """Row indices grouped by code (first use only: the multivariate test needs none)."""
        return np.argsort(self.codes, kind="stable")

    def rows(self, label: str) -> np.ndarray:
        j = self.code_of[label]
        return self.order[self.bounds[j] : self.bounds[j + 1]]


def _km_for(groups: _Groups, labels: Sequence[str], d: np.ndarray, e: np.ndarray,
            alpha: float) -> dict[str, _KM]:
    out = {}
    for g in labels:
        idx = groups.rows(g)
        o = np.argsort(d[idx], kind="stable")
        out[g] = _km(d[idx][o], e[idx][o], alpha, presorted=True)
    return out


# ---------------------------------------------------------------------------------------------
# public: KM per pattern, medians, comparisons
# ---------------------------------------------------------------------------------------------


def fit_time_to_close(
    cases: pd.DataFrame,
    *,
    by: str = "pattern",
    outcome: Outcome = "close",
    min_cases: int = 1,
    alpha: float = 0.05,
) -> dict[str, KaplanMeierFitter]:
    """Fit one lifelines ``KaplanMeierFitter`` per group (pattern) of the case table.

    Parameters
    ----------
    cases : DataFrame
        A case table (:func:`casekit.cases.build_case_table`).
    by : str, default "pattern"
        Column to group by.
    outcome : {"close", "settle"}
        Time to first close (``duration_days`` / ``closed``) or to settlement
        (``settle_days`` / ``settle_observed``).
    min_cases : int, default 1
        Groups with fewer cases are skipped (see :func:`median_table` for the counts).
    alpha : float, default 0.05
        The fitters' confidence level is ``1 - alpha``.

    Returns
    -------
    dict of str to KaplanMeierFitter
        Keyed by group label, largest group first; each fitter's ``label`` is the group label.

    Notes
    -----
    Cases not closed (settled) by the observation end are right-censored at it; the
    observation end is ``cases.attrs["observation_end"]``.

    Examples
    --------
    >>> cases = pd.DataFrame({"pattern": ["a", "a", "a", "b", "b"],
    ...                       "duration_days": [2.0, 4.0, 6.0, 3.0, 9.0],
    ...                       "closed": [True, True, False, True, True]})
    >>> fitters = ck.fit_time_to_close(cases)
    >>> {k: float(f.median_survival_time_) for k, f in fitters.items()}
    {'a': 4.0, 'b': 3.0}
    """
    from lifelines import KaplanMeierFitter

    cases = _known(cases)
    d, e = _durations_events(cases, outcome)
    if by not in cases:
        raise CasekitError(f"cases: missing column {by!r} to group by")
    frame = pd.DataFrame({"d": d, "e": e, "g": cases[by].astype("str").to_numpy()})
    sizes = frame["g"].value_counts()
    fitters: dict[str, KaplanMeierFitter] = {}
    for name, grp in frame.groupby("g", sort=False):
        if len(grp) < min_cases:
            continue
        kmf = KaplanMeierFitter(alpha=alpha)
        kmf.fit(grp["d"], event_observed=grp["e"], label=str(name))
        fitters[str(name)] = kmf
    return {k: fitters[k] for k in sizes.index if k in fitters}


def median_table(
    cases: pd.DataFrame,
    *,
    by: str = "pattern",
    outcome: Outcome = "close",
    alpha: float = 0.05,
    horizon_days: float | None = None,
    min_cases: int = 1,
) -> pd.DataFrame:
    """Median time to close (or settle) per group with its confidence interval, and the RMST.

    Parameters
    ----------
    cases : DataFrame
        A case table.
    by : str, default "pattern"
        Grouping column.
    outcome : {"close", "settle"}
        Which time.
    alpha : float, default 0.05
        Confidence level ``1 - alpha`` of the median's interval.
    horizon_days : float, optional
        Horizon of the restricted mean survival time. Default: the shortest of the groups'
        longest follow-up, so every group's RMST is estimable at the same horizon.
    min_cases : int, default 1
        Groups with fewer cases get no estimate (a row with ``estimated=False``).

    Returns
    -------
    DataFrame
        ``group, n_cases, n_events, median_days, median_ci_low, median_ci_high, rmst_days,
        rmst_horizon_days, estimated, observation_end``, largest group first. A median that is
        never reached is ``inf`` (the curve never falls to one half): use ``rmst_days`` then.

    Notes
    -----
    Identical to ``kmf.median_survival_time_`` and
    ``lifelines.utils.median_survival_times(kmf.confidence_interval_)`` (exponential Greenwood
    bands), computed in numpy for all groups at once.

    Examples
    --------
    >>> cases = pd.DataFrame({"pattern": ["a"] * 4 + ["b"] * 2,
    ...                       "duration_days": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
    ...                       "closed": [True, True, True, False, True, True]})
    >>> ck.median_table(cases)[["group", "n_cases", "median_days", "rmst_days"]]
      group  n_cases  median_days  rmst_days
    0     a        4          2.0        2.5
    1     b        2          5.0        4.0
    """
    cases = _known(cases)
    d, e = _durations_events(cases, outcome)
    grp = _Groups(cases[by])
    by_size = np.argsort(-grp.sizes, kind="stable")
    sizes = pd.Series(grp.sizes[by_size], index=[grp.labels[j] for j in by_size])
    keep_groups = [g for g in sizes.index if sizes[g] >= min_cases]
    kms = _km_for(grp, keep_groups, d, e, alpha)
    if horizon_days is None and kms:
        horizon_days = float(min(km.timeline[-1] for km in kms.values()))
    rows = []
    for g, n in sizes.items():
        km = kms.get(g)
        if km is None:
            n_ev = int(e[grp.rows(g)].sum())
            rows.append((g, int(n), n_ev, np.nan, np.nan, np.nan, np.nan, False))
            continue
        lo, hi = km.median_ci
        rows.append((g, int(n), km.n_events, km.median, lo, hi, km.rmst(horizon_days), True))
    out = pd.DataFrame(
        rows,
        columns=["group", "n_cases", "n_events", "median_days", "median_ci_low",
                 "median_ci_high", "rmst_days", "estimated"],
    )
    out.insert(len(out.columns) - 1, "rmst_horizon_days", horizon_days)
    obs = _observation_end(cases)
    out["observation_end"] = obs
    out.attrs["observation_end"] = obs
    out.attrs["outcome"] = outcome
    return out


def compare_patterns(
    cases: pd.DataFrame,
    *,
    by: str = "pattern",
    outcome: Outcome = "close",
    min_cases: int = 1,
    pairwise: bool = True,
) -> pd.DataFrame:
    """Log-rank tests between groups: one multivariate test and all pairs, Holm-corrected.

    Parameters
    ----------
    cases : DataFrame
        A case table.
    by : str, default "pattern"
        Grouping column.
    outcome : {"close", "settle"}
        Which time.
    min_cases : int, default 1
        Groups with fewer cases are left out of the tests.
    pairwise : bool, default True
        Add one row per pair of groups.

    Returns
    -------
    DataFrame
        Tidy: ``test`` ("multivariate" or "pairwise"), ``group_a``, ``group_b``,
        ``test_statistic`` (chi-square), ``df``, ``p_value``, ``p_value_holm`` (Holm over the
        pairwise rows; equal to ``p_value`` for the multivariate row), ``observation_end``.

    Notes
    -----
    Same statistics as ``lifelines.statistics.multivariate_logrank_test`` and
    ``logrank_test``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cases = pd.DataFrame({"pattern": ["a"] * 50 + ["b"] * 50,
    ...                       "duration_days": np.r_[rng.exponential(10, 50),
    ...                                              rng.exponential(30, 50)],
    ...                       "closed": True})
    >>> res = ck.compare_patterns(cases)
    >>> res[["test", "group_a", "group_b", "df"]]
               test group_a group_b  df
    0  multivariate     all     all   1
    1      pairwise       a       b   1
    >>> bool(res["p_value"].iloc[0] < 0.05)
    True
    """
    cases = _known(cases)
    d, e = _durations_events(cases, outcome)
    grp = _Groups(cases[by])
    by_size = np.argsort(-grp.sizes, kind="stable")
    names = [grp.labels[j] for j in by_size if grp.sizes[j] >= min_cases]
    keep = np.zeros(len(grp.labels), dtype=bool)
    keep[[grp.code_of[g] for g in names]] = True
    mask = keep[grp.codes]
    chi2, df, p = _logrank_multi(d[mask], e[mask], grp.codes[mask])
    rows = [("multivariate", "all", "all", chi2, df, p)]
    if pairwise:
        idx = {g: grp.rows(g) for g in names}
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                ia, ib = idx[a], idx[b]
                c2, pp = _logrank_two(d[ia], e[ia], d[ib], e[ib])
                rows.append(("pairwise", a, b, c2, 1, pp))
    out = pd.DataFrame(rows, columns=["test", "group_a", "group_b", "test_statistic", "df", "p_value"])
    out["p_value_holm"] = out["p_value"]
    pw = out["test"] == "pairwise"
    if pw.any():
        out.loc[pw, "p_value_holm"] = _holm(out.loc[pw, "p_value"].to_numpy())
    obs = _observation_end(cases)
    out["observation_end"] = obs
    out.attrs["observation_end"] = obs
    return out


# ---------------------------------------------------------------------------------------------
# Cox proportional hazards (Efron ties) in numpy
# ---------------------------------------------------------------------------------------------


@dataclass
class _CoxFit:
    params: np.ndarray
    se: np.ndarray
    variance: np.ndarray
    log_likelihood: float
    log_likelihood_null: float
    converged: bool
    n_iter: int
    ph_p_values: np.ndarray | None
    fitter: Any = None  # the CoxResult (numpy) or lifelines' CoxPHFitter


def _cox_efron(
    X: np.ndarray,
    durations: np.ndarray,
    events: np.ndarray,
    *,
    max_iter: int = 60,
    tol: float = 1e-10,
    ph_test: bool = True,
) -> _CoxFit:
    """Time-fixed Efron Cox fit through :func:`casekit.engine.cox_fit`, plus the PH test.

    Every case is at risk from time 0 on (``start = 0`` includes time 0 in the engine, so zero
    durations count as in lifelines' ``CoxPHFitter``).
    """
    start = np.zeros(len(durations))
    fit, ph = cox_fit_ph(start, durations, events, X, max_iter=max_iter, tol=tol, rank="ordinal")
    ph = ph if ph_test and fit.n_events > 2 else None
    return _CoxFit(fit.beta, fit.se, fit.var, fit.loglik, fit.loglik_null, fit.converged,
                   fit.n_iter, ph, fit)


def _design(
    data: pd.DataFrame,
    *,
    by: str,
    reference: str,
    covariates: Sequence[str],
    min_level_cases: int,
    leading: Sequence[tuple[np.ndarray, tuple[str, str, str]]] = (),
) -> tuple[np.ndarray, list[tuple[str, str, str]], list[str]]:
    """Dummy-coded design matrix: pattern levels first, then covariates; collinear columns dropped.

    ``leading`` columns (with their ``(term, variable, level)``) come before the pattern levels
    and, like them, are kept in preference to later columns they are collinear with.
    """
    cols: list[np.ndarray] = [np.asarray(c) for c, _ in leading]
    terms: list[tuple[str, str, str]] = [t for _, t in leading]  # (term, variable, level)
    keys: list[np.ndarray] = [pd.factorize(c)[0] for c in cols]  # codes of each variable
    notes: list[str] = []
    codes, levels = _ordered_codes(data[by].astype("str"))
    keys.append(codes)
    for j, level in enumerate(levels):
        if level != reference:
            cols.append(codes == j)
            terms.append((f"{by}[{level}]", by, level))
    n_pattern_cols = len(cols)
    for cov in covariates:
        if cov not in data or data[cov].isna().all():
            notes.append(f"covariate {cov!r} not in the data: not adjusted for")
            continue
        _covariate_columns(data[cov], cov, min_level_cases, cols, terms, keys)
    if not cols:
        return np.zeros((len(data), 0)), [], notes
    X = np.empty((len(data), len(cols)), order="F")  # column by column: contiguous writes
    for j, c in enumerate(cols):
        X[:, j] = c
    ok = _independent(X, keys)
    dropped = [terms[i][0] for i in np.flatnonzero(~ok)]
    if any(len(leading) <= i < n_pattern_cols for i in np.flatnonzero(~ok)):
        notes.append("some pattern terms are collinear with covariates")
    if dropped:
        notes.append("dropped collinear terms: " + ", ".join(dropped))
    if not ok.all():
        X = X[:, ok]
    terms = [t for t, k in zip(terms, ok, strict=True) if k]
    return X, terms, notes


def _ordered_codes(labels: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes of the levels in ``value_counts`` order (most common first); missing is -1."""
    counts = labels.value_counts()
    codes, uniq = pd.factorize(labels)
    remap = np.full(len(uniq) + 1, -1, dtype=np.int64)
    remap[pd.Index(uniq).get_indexer(counts.index)] = np.arange(len(counts))
    return remap[codes], counts.index


def _covariate_columns(s: pd.Series, cov: str, min_level_cases: int, cols: list[np.ndarray],
                       terms: list[tuple[str, str, str]], keys: list[np.ndarray]) -> None:
    """Append one covariate's columns: ``repeat_ordinal`` numeric (capped at 10), else dummies.

    Levels with fewer than ``min_level_cases`` cases are pooled into ``_other``; the most common
    level is the reference.
    """
    if cov == "repeat_ordinal":
        x = pd.to_numeric(s, errors="coerce").fillna(1).clip(upper=10).to_numpy(float)
        if np.ptp(x) > 0:
            cols.append(x)
            terms.append((cov, cov, ""))
            keys.append(pd.factorize(x)[0])
        return
    lab = s.astype("str").fillna("missing")
    codes, levels = _ordered_codes(lab)
    counts = np.bincount(codes, minlength=len(levels))
    rare = counts < min_level_cases
    if rare.any():
        pooled = np.where(rare, "_other", np.asarray(levels, dtype=object))
        codes, levels = _ordered_codes(pd.Series(pooled[codes], dtype="str"))
    if len(levels) < 2:
        return
    keys.append(codes)
    for j, level in enumerate(levels[1:], start=1):
        cols.append(codes == j)
        terms.append((f"{cov}[{level}]", cov, str(level)))


def _independent(X: np.ndarray, keys: list[np.ndarray]) -> np.ndarray:
    """Columns not linearly dependent on earlier ones (QR of the centred design).

    The design has few distinct rows (it is built from the codes in ``keys``), so the QR runs
    on the distinct rows weighted by the square root of their counts: the same ``R'R`` (the
    centred cross-product) at a fraction of the cost. Falls back to all rows when the codes do
    not fit one integer key.
    """
    mean = X.mean(axis=0)
    sizes = [int(k.max()) + 2 if len(k) else 1 for k in keys]
    if len(X) > 4096 and float(np.prod(np.asarray(sizes, dtype=float))) < 2.0**62:
        key = np.zeros(len(X), dtype=np.int64)
        for k, size in zip(keys, sizes, strict=True):
            key = key * size + (k + 1)
        _, first, count = np.unique(key, return_index=True, return_counts=True)
        Xc = (X[first] - mean) * np.sqrt(count)[:, None]
    else:
        Xc = X - mean
    with blas_single_thread():
        r = np.linalg.qr(Xc, mode="r")
    diag = np.abs(np.diag(r))
    scale = np.sqrt((Xc**2).sum(axis=0))
    return (diag > 1e-8 * np.maximum(scale, 1e-12)) & (scale > 0)


def fit_cox(
    cases: pd.DataFrame,
    *,
    by: str = "pattern",
    outcome: Outcome = "close",
    reference: str | None = None,
    covariates: Sequence[str] = DEFAULT_COVARIATES,
    min_cases: int = 30,
    min_events: int = 1,
    min_level_cases: int = 20,
    alpha: float = 0.05,
    engine: Literal["numpy", "lifelines"] = "numpy",
    check_ph: bool = True,
    ph_alpha: float = 0.01,
    return_fit: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, Any]:
    """Cox proportional-hazards model of time to close (settle) with pattern as a categorical.

    Parameters
    ----------
    cases : DataFrame
        A case table.
    by : str, default "pattern"
        The categorical of interest.
    outcome : {"close", "settle"}
        Which time.
    reference : str, optional
        Reference level of ``by``. Default: the most common level (among supported ones).
    covariates : sequence of str
        Adjustment columns; ``repeat_ordinal`` is numeric (capped at 10), the others
        categorical (reference: their most common level). Missing columns are skipped with a
        note in ``attrs["notes"]``.
    min_cases : int, default 30
        Levels of ``by`` with fewer cases are left out of the model (listed by
        :func:`casekit.excluded_patterns`).
    min_events : int, default 1
        Levels of ``by`` with fewer observed events are left out too (their hazard ratio
        would be zero or undefined).
    min_level_cases : int, default 20
        Covariate levels with fewer cases are pooled into ``_other``.
    alpha : float, default 0.05
        Confidence level of the hazard-ratio intervals.
    engine : {"numpy", "lifelines"}
        ``"numpy"``: Newton-Raphson on the Efron partial likelihood (fast, same estimates);
        ``"lifelines"``: ``lifelines.CoxPHFitter``.
    check_ph : bool, default True
        Test proportional hazards (scaled Schoenfeld residuals vs rank of time) and emit a
        :class:`ProportionalHazardsWarning` when a pattern term has ``p < ph_alpha``.
    ph_alpha : float, default 0.01
        Threshold of that warning.
    return_fit : bool, default False
        Also return the fit: a ``lifelines.CoxPHFitter`` (``engine="lifelines"``) or a
        :class:`casekit.engine.CoxResult` (``engine="numpy"``).

    Returns
    -------
    DataFrame
        One row per term: ``term, variable, level, coef, se, hazard_ratio, hr_ci_low,
        hr_ci_high, z, p_value, ph_p_value``. ``attrs`` (scalars and strings only, so results
        merge and pickle cleanly): ``reference``, ``n_cases``, ``n_events``,
        ``log_likelihood``, ``lr_test_p_value``, ``converged``, ``notes`` (``"; "``-joined),
        ``excluded`` (JSON text; :func:`casekit.excluded_patterns` reads it as a table),
        ``observation_end``. With ``return_fit`` a tuple ``(table, fit)``. A hazard ratio above 1 means cases close sooner
        than under the reference pattern.

    Notes
    -----
    Ties are handled with Efron's method as in lifelines; estimates, standard errors, Wald
    tests and intervals of the numpy engine equal lifelines' (tests: coefficients within
    5e-6, standard errors within 1e-5 relative; lifelines stops at a looser tolerance).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> n = 400
    >>> pattern = rng.choice(["fast", "slow"], n)
    >>> t = rng.exponential(np.where(pattern == "fast", 5.0, 10.0))
    >>> cases = pd.DataFrame({"pattern": pattern, "duration_days": t, "closed": True})
    >>> res = ck.fit_cox(cases, covariates=(), reference="slow")
    >>> res[["term", "hazard_ratio"]].round(1)
                term  hazard_ratio
    0  pattern[fast]           2.0
    """
    with blas_single_thread():
        used = list(dict.fromkeys([by, *(c for c in covariates if c in cases)]))
        data, reference, excluded = _cox_levels(cases, by, outcome, reference, min_cases,
                                                min_events, used)
        X, terms, notes = _design(data, by=by, reference=reference, covariates=covariates,
                                  min_level_cases=min_level_cases)
        dd = data["_d"].to_numpy(float)
        ee = data["_e"].to_numpy(bool)
        fit = _cox_engine(X, dd, ee, engine=engine, alpha=alpha, check_ph=check_ph)
    out = _cox_table(terms, fit, _z(alpha))
    converged = fit.converged
    bad = ~np.isfinite(out["coef"]) | ~np.isfinite(out["se"]) | (out["se"] > 50)
    if bad.any():
        converged = False
        notes.append("non-finite or huge estimates (no events in some level?): " +
                     ", ".join(out.loc[bad, "term"]))
    ll, ll0 = fit.log_likelihood, fit.log_likelihood_null
    lr = 2 * (ll - ll0) if np.isfinite(ll0) else np.nan
    out.attrs.update(
        reference=reference, by=by, outcome=outcome, n_cases=len(data), n_events=int(ee.sum()),
        log_likelihood=ll,
        lr_test_p_value=float(_chi2_sf(lr, max(1, X.shape[1]))) if np.isfinite(lr) else np.nan,
        converged=bool(converged), notes="; ".join(notes), excluded=json.dumps(
            {by: [str(g) for g in excluded.index], "n_cases": [int(n) for n in excluded]},
            ensure_ascii=False),
        observation_end=_observation_end(cases),
    )
    if check_ph and fit.ph_p_values is not None:
        _warn_ph(out, by, ph_alpha)
    return (out, fit.fitter) if return_fit else out


def _cox_levels(cases: pd.DataFrame, by: str, outcome: str, reference: str | None,
                min_cases: int, min_events: int,
                columns: Sequence[str] | None = None) -> tuple[pd.DataFrame, str, pd.Series]:
    """Rows of the supported levels of ``by`` (with ``_d``, ``_e``), the reference, the rest.

    Only ``columns`` (default: all) of the case table are kept (the fit needs no more).
    """
    cases = _known(cases)
    d, e = _durations_events(cases, outcome)
    data = (cases if columns is None else cases[list(columns)]).assign(_d=d, _e=e)
    sizes = data[by].astype("str").value_counts()
    n_ev = data["_e"].astype(np.int64).groupby(data[by].astype("str")).sum().reindex(sizes.index)
    ok_level = (sizes >= min_cases) & (n_ev >= min_events)
    supported = sizes.index[ok_level]
    data = data[data[by].astype("str").isin(supported)]
    if len(supported) < 1 or len(data) == 0:
        raise CasekitError(f"fit_cox: no {by} level has at least {min_cases} cases")
    if reference is None:
        reference = str(supported[0])
    elif reference not in set(supported):
        raise CasekitError(
            f"reference: {reference!r} is not a {by} with at least {min_cases} cases"
        )
    return data, reference, sizes[~ok_level]


def _cox_engine(X: np.ndarray, dd: np.ndarray, ee: np.ndarray, *, engine: str, alpha: float,
                check_ph: bool) -> _CoxFit:
    """The fit by the numpy engine (Efron, with the PH test) or by lifelines' CoxPHFitter."""
    if engine == "numpy":
        return _cox_efron(X, dd, ee, ph_test=check_ph)
    if engine != "lifelines":
        raise CasekitError(f"engine: expected 'numpy' or 'lifelines', got {engine!r}")
    from lifelines import CoxPHFitter

    names = [f"x{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=names).assign(T=dd, E=ee)
    fitter = CoxPHFitter(alpha=alpha).fit(df, duration_col="T", event_col="E")
    ll0 = float(fitter._ll_null) if hasattr(fitter, "_ll_null") else np.nan
    return _CoxFit(fitter.params_[names].to_numpy(), fitter.standard_errors_[names].to_numpy(),
                   np.asarray(fitter.variance_matrix_), float(fitter.log_likelihood_), ll0, True,
                   0, None, fitter)


def _cox_table(terms: list[tuple[str, str, str]], fit: _CoxFit, z: float) -> pd.DataFrame:
    """One row per term: coefficient, hazard ratio with its interval, Wald test, PH p."""
    coef, se = fit.params, fit.se
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        zval = coef / se
        hr, lo_, hi_ = np.exp(coef), np.exp(coef - z * se), np.exp(coef + z * se)
    return pd.DataFrame(
        {
            "term": [t[0] for t in terms],
            "variable": [t[1] for t in terms],
            "level": [t[2] for t in terms],
            "coef": coef,
            "se": se,
            "hazard_ratio": hr,
            "hr_ci_low": lo_,
            "hr_ci_high": hi_,
            "z": zval,
            "p_value": 2 * _norm_sf(np.abs(zval)),
            "ph_p_value": fit.ph_p_values if fit.ph_p_values is not None else np.nan,
        }
    )


def _warn_ph(out: pd.DataFrame, by: str, ph_alpha: float) -> None:
    """Record (``attrs["ph_warning"]``) and warn when a term of ``by`` fails the PH test."""
    viol = out[(out["variable"] == by) & (out["ph_p_value"] < ph_alpha)]
    if len(viol):
        msg = (
            f"proportional hazards look violated (p < {ph_alpha}) for "
            + ", ".join(viol["term"])
            + "; hazard ratios are then averages over time"
        )
        out.attrs["ph_warning"] = msg
        warnings.warn(msg, ProportionalHazardsWarning, stacklevel=3)
