"""Which collaborations close cases fastest: the ranking, honest about time.

A case's collaboration pattern forms while the case is open: the court or the housing bureau is
drawn in when a case drags on. Classifying each case by the pattern of its whole life gives
every multi-agency pattern "immortal" time and reverses cause and effect (a case closed on day 3
cannot have five agencies). The default method here is therefore **time-varying**: a pattern
counts from the moment its last agency type joins, and nothing after the case's exit defines it.

Three methods share one pipeline (rows -> Cox model -> honest ranks):

``"time-varying"`` (default)
    Counting-process rows from :func:`casekit.cases.build_case_intervals`, one per case and
    stretch of constant pattern; Cox model (Efron, start-stop) with the pattern *in force* as a
    categorical, adjusted for the case covariates, cluster-robust (sandwich) errors by matter.
``"landmark"``
    Cases still open at day ``L`` (default 30), classified by their pattern at ``L`` and followed
    from ``L``. Simple to explain; loses the cases closed before ``L``.
``"whole-case"``
    The pattern of the case's whole life (the old answer). Biased whenever agencies join during
    the case; kept for comparison and for logs where every agency acts at the start, and it warns.

Competing exits (declined intake, routing to a legal procedure, termination, withdrawal,
transfer out) end follow-up: the hazard ratios are cause-specific, and the cumulative incidence of
closing (Aalen-Johansen, ``cif_30/60/90``) treats the other exits as competing. Every result
states the method, the estimand, the observation end and the counts behind it, and says how sure
the rank is: Holm-adjusted p against the reference, the probability of being fastest, a rank
interval, and a 90% confidence set for the fastest pattern (multiple comparisons with the best).
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from casekit import engine
from casekit._utils import CasekitError
from casekit.survival import (
    DEFAULT_COVARIATES,
    ProportionalHazardsWarning,
    _design,
    _km,
    _norm_sf,
    _observation_end,
    _z,
)

__all__ = [
    "RANKING_COLUMNS",
    "NothingToRankError",
    "WholeCasePatternWarning",
    "describe_ranking",
    "excluded_patterns",
    "fit_time_varying_cox",
    "rank_collaborations",
]

Method = Literal["time-varying", "landmark", "whole-case"]
Outcome = Literal["close", "settle", "any-exit"]
Cluster = Literal["matter", "petitioner", "none"]

#: The columns of a ranking, in order (the CLI contract's RANKING.csv).
RANKING_COLUMNS: tuple[str, ...] = (
    "rank", "pattern", "n_cases", "n_closed", "median_days", "median_ci_low", "median_ci_high",
    "hazard_ratio", "hr_ci_low", "hr_ci_high", "p_value",
    "method", "p_holm", "p_best", "in_best_set", "rank_low", "rank_high",
    "cif_30", "cif_60", "cif_90",
    "ranked_by", "rmst_days", "rmst_horizon_days", "is_reference", "reference_pattern",
    "ph_p_value", "outcome", "repeat_only", "estimand", "observation_end",
)
CIF_DAYS: tuple[int, ...] = (30, 60, 90)


class NothingToRankError(CasekitError):
    """No pattern could be ranked (no closures recognised, or none with enough support)."""


class WholeCasePatternWarning(UserWarning):
    """The whole-case pattern ranking is biased when agencies join while a case is open."""


# ---------------------------------------------------------------------------------------------
# rows: what each method hands to the model
# ---------------------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Counting-process rows of one method: (start, stop], cause and group per row."""

    start: np.ndarray
    stop: np.ndarray
    cause: np.ndarray  # 0 censored, 1 the outcome, 2 a competing exit
    group: Any  # str label per row (ndarray or a pandas string array)
    case: Any  # case id per row (ndarray or a pandas string array)
    frame: pd.DataFrame  # covariates and cluster keys, aligned with the rows
    duration: np.ndarray  # descriptive clock: time in the group (from formation / landmark)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def event(self) -> np.ndarray:
        return self.cause == 1

    @functools.cached_property
    def group_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """Codes of ``group`` in order of appearance (missing -1) and the labels."""
        codes, labels = pd.factorize(self.group)
        return codes, np.asarray(labels, dtype=object)

    @functools.cached_property
    def case_codes(self) -> tuple[np.ndarray, int]:
        """Codes of ``case`` and the number of distinct cases."""
        if _strictly_increasing(self.case):  # a case table's ids: distinct, no hashing
            return np.arange(len(self.case), dtype=np.int64), len(self.case)
        codes, labels = pd.factorize(self.case)
        return codes, len(labels)

    def in_groups(self, groups: Sequence[str]) -> np.ndarray:
        """Whether each row's group is one of ``groups`` (``np.isin`` on the codes)."""
        codes, labels = self.group_codes
        wanted = np.isin(labels, np.asarray(list(groups), dtype=object))
        return np.r_[wanted, False][codes]

    def n_distinct_cases(self, mask: np.ndarray | None = None) -> int:
        """Distinct cases among the rows (``mask``: only those rows)."""
        codes, n = self.case_codes
        if mask is None:
            return n
        return int(np.count_nonzero(np.bincount(codes[mask], minlength=n)))


def _strictly_increasing(values: Any) -> bool:
    """Whether an arrow-backed string array is strictly increasing (so its values are distinct).

    One vectorised comparison of neighbours; False for other arrays (they get factorised).

    Examples
    --------
    >>> _strictly_increasing(pd.array(["a", "b", "c"], dtype="string[pyarrow]"))
    True
    >>> _strictly_increasing(pd.array(["a", "c", "b"], dtype="string[pyarrow]"))
    False
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from casekit.cases import _arrow_column

    if not isinstance(values, pd.api.extensions.ExtensionArray):
        return False
    arr = _arrow_column(pd.Series(values, copy=False))
    if arr is None or arr.null_count or pa.types.is_dictionary(arr.type):
        return False
    return len(arr) < 2 or bool(pc.all(pc.greater(arr[1:], arr[:-1])).as_py())


def _cause(exit_type: pd.Series, event: np.ndarray, outcome: str) -> np.ndarray:
    """0 censored, 1 outcome, 2 competing exit (per row)."""
    codes, labels = pd.factorize(exit_type.fillna("").astype("str"))  # few distinct labels
    et = np.asarray(labels, dtype=object)
    competing = np.r_[(et != "") & (et != "close") & (et != "censored"), False][codes]
    if outcome == "any-exit":
        return np.where(event | competing, 1, 0).astype(np.int8)
    return np.where(event, 1, np.where(competing, 2, 0)).astype(np.int8)


def _repeat_mask(frame: pd.DataFrame, repeat_only: bool) -> np.ndarray:
    if not repeat_only:
        return np.ones(len(frame), dtype=bool)
    if "repeat_ordinal" not in frame:
        raise CasekitError(
            "missing column 'repeat_ordinal' for repeat_only=True (build the case table with "
            "link=True, or rank all filings: repeat_only=False / --all-filings)"
        )
    keep = pd.to_numeric(frame["repeat_ordinal"], errors="coerce").fillna(1).to_numpy() >= 2
    if not keep.any():
        raise CasekitError(
            "no repeat filings (repeat_ordinal >= 2) to rank: check the repeat linkage, or rank "
            "all filings (repeat_only=False / --all-filings)"
        )
    return keep


def _settle_rows(iv: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """Intervals re-cut for time to settle: each case ends at its settle time."""
    need = [c for c in ("settle_days", "settle_observed") if c not in cases]
    if need:
        raise CasekitError(f"cases: missing column {need[0]!r} for outcome='settle'")
    per = cases.set_index("case_id")[["settle_days", "settle_observed"]]
    t_s = iv["case_id"].map(per["settle_days"]).to_numpy(float)
    obs = iv["case_id"].map(per["settle_observed"]).fillna(False).to_numpy(bool)
    keep = iv["start"].to_numpy(float) < t_s
    iv = iv.loc[keep].copy()
    t_s, obs = t_s[keep], obs[keep]
    last = ~iv["case_id"].duplicated(keep="last").to_numpy()
    stop = iv["stop"].to_numpy(float)
    iv["stop"] = np.where(last, t_s, np.minimum(stop, t_s))
    iv["event"] = np.where(last, obs, False)
    iv["exit_type"] = np.where(last, np.where(obs, "close", "censored"), "")
    return iv


def _time_varying_rows(iv: pd.DataFrame, cases: pd.DataFrame | None, outcome: str,
                       repeat_only: bool) -> _Rows:
    if outcome == "settle":
        if cases is None:
            raise CasekitError("outcome='settle' needs the case table (pass cases=)")
        iv = _settle_rows(iv, cases)
    iv = iv.loc[_repeat_mask(iv, repeat_only)]
    start = iv["start"].to_numpy(float)
    stop = iv["stop"].to_numpy(float)
    cause = _cause(iv["exit_type"], iv["event"].to_numpy(bool), outcome)
    return _Rows(start, stop, cause, iv["pattern"].astype("str").to_numpy(),
                 iv["case_id"].astype("str").to_numpy(), iv.reset_index(drop=True), stop - start)


def _landmark_rows(iv: pd.DataFrame, cases: pd.DataFrame | None, outcome: str,
                   repeat_only: bool, landmark: float) -> _Rows:
    if outcome == "settle":
        if cases is None:
            raise CasekitError("outcome='settle' needs the case table (pass cases=)")
        iv = _settle_rows(iv, cases)
    iv = iv.loc[_repeat_mask(iv, repeat_only)]
    case = iv["case_id"].astype("str").to_numpy()
    start = iv["start"].to_numpy(float)
    stop = iv["stop"].to_numpy(float)
    first = ~iv["case_id"].duplicated(keep="first").to_numpy()
    last = ~iv["case_id"].duplicated(keep="last").to_numpy()
    entry = pd.Series(start[first], index=case[first])
    exit_ = pd.Series(stop[last], index=case[last])
    at_risk = (entry.reindex(case).to_numpy() <= landmark) & (exit_.reindex(case).to_numpy()
                                                              > landmark)
    covering = at_risk & (start <= landmark) & (stop > landmark)
    rows = iv.loc[covering].reset_index(drop=True)
    last_rows = iv.loc[last].set_index("case_id")
    ids = rows["case_id"]
    dur = ids.map(last_rows["stop"]).to_numpy(float) - landmark
    event = ids.map(last_rows["event"]).fillna(False).to_numpy(bool)
    cause = _cause(ids.map(last_rows["exit_type"]), event, outcome)
    n_closed_before = int(((exit_.to_numpy() <= landmark)).sum())
    return _Rows(np.zeros(len(rows)), dur, cause, rows["pattern"].astype("str").to_numpy(),
                 ids.astype("str").to_numpy(), rows, dur,
                 counts={"n_exited_before_landmark": n_closed_before})


def _whole_case_rows(cases: pd.DataFrame, by: str, outcome: str, repeat_only: bool) -> _Rows:
    if by not in cases:
        raise CasekitError(f"cases: missing column {by!r}")
    keep = _repeat_mask(cases, repeat_only)
    data = cases if keep.all() else cases.loc[keep]  # copy the table only to filter it
    counts = {}
    if "duration_known" in data:
        known = data["duration_known"].fillna(True).to_numpy(bool)
        counts["n_prevalent_excluded"] = int((~known).sum())
        if not known.all():
            data = data.loc[known]
    dcol, ecol = ("settle_days", "settle_observed") if outcome == "settle" else (
        "duration_days", "closed")
    for col in (dcol, ecol):
        if col not in data:
            raise CasekitError(f"cases: missing column {col!r} for outcome={outcome!r}; "
                               "build it with build_case_table")
    stop = pd.to_numeric(data[dcol]).to_numpy(float)
    bad = ~np.isfinite(stop) | (stop < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CasekitError(f"cases: row {i}, column {dcol!r}: expected a finite duration >= 0, "
                           f"got {stop[i]!r}")
    start = (pd.to_numeric(data["entry_days"]).fillna(0).to_numpy(float)
             if "entry_days" in data else np.zeros(len(data)))
    start = np.minimum(start, stop)
    event = data[ecol].fillna(False).to_numpy(bool)
    exit_type = (data["exit_type"] if "exit_type" in data and outcome != "settle"
                 else pd.Series(np.where(event, "close", "censored"), index=data.index))
    cause = _cause(exit_type, event, outcome)
    # string arrays, not object arrays: no Python string per row
    ids = (data["case_id"].astype("str").array if "case_id" in data
           else np.arange(len(data)).astype("str"))
    return _Rows(start, stop, cause, data[by].astype("str").fillna("(none)").array, ids,
                 data.reset_index(drop=True), stop, counts=counts)


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------


def _cluster_codes(frame: pd.DataFrame, case: np.ndarray, cluster: str) -> np.ndarray | None:
    """Integer cluster labels per row; rows of one case always share a cluster."""
    if cluster == "none":
        return None
    col = {"matter": "matter_id", "petitioner": "petitioner_id"}.get(cluster)
    if col is None:
        raise CasekitError(f"cluster: expected 'matter', 'petitioner' or 'none', got {cluster!r}")
    keys = pd.Series(case, dtype="object")
    if col in frame:
        own = frame[col].astype("object").to_numpy()
        has = pd.notna(own) & (pd.Series(own).astype("str").str.len().to_numpy() > 0)
        keys = pd.Series(np.where(has, "k:" + pd.Series(own).astype("str"), "c:" + keys))
    return pd.factorize(keys)[0]


def _strata_codes(frame: pd.DataFrame, stratify: str | None) -> np.ndarray | None:
    if stratify is None:
        return None
    col = {"matter": "matter_id", "petitioner": "petitioner_id"}.get(stratify, stratify)
    if col not in frame:
        raise CasekitError(f"stratify: no column {col!r} in the data")
    return pd.factorize(frame[col].astype("str"))[0]


@dataclass
class _Fit:
    coef: np.ndarray
    var: np.ndarray  # the variance used for inference (robust when clustered)
    se_model: np.ndarray
    converged: bool
    n_clusters: int
    ph_p: np.ndarray


def _fit(start: np.ndarray, stop: np.ndarray, event: np.ndarray, X: np.ndarray,
         cluster: np.ndarray | None, strata: np.ndarray | None, check_ph: bool) -> _Fit:
    res, ph = engine.cox_fit_ph(start, stop, event, X, strata=strata, cluster=cluster,
                                rank="average")
    var = res.var if res.robust_var is None else _floored(res.robust_var, res.var)
    ph = ph if check_ph else np.full(len(res.beta), np.nan)
    return _Fit(np.asarray(res.beta), np.asarray(var), np.asarray(res.se), bool(res.converged),
                int(res.n_clusters or 0), ph)


def _floored(robust: np.ndarray, model: np.ndarray) -> np.ndarray:
    """The sandwich variance with each standard error floored at its model-based value.

    For a level with few events the sandwich is itself a noisy estimate and now and then far too
    small, which makes a null pattern look significant; the floor (scaling rows and columns, so
    the matrix stays positive semi-definite and keeps the sandwich's correlations) guards
    against that, and changes nothing where clustering widens the intervals, as it usually does.
    """
    r = np.sqrt(np.clip(np.diag(robust), 1e-300, None))
    m = np.sqrt(np.clip(np.diag(model), 0, None))
    d = np.maximum(1.0, m / r)
    return robust * d[:, None] * d[None, :]


# ---------------------------------------------------------------------------------------------
# the ranking
# ---------------------------------------------------------------------------------------------


def _support(rows: _Rows) -> pd.DataFrame:
    g, labels = rows.group_codes
    c, n_case = rows.case_codes
    ok = g >= 0
    n_closed = np.bincount(g[ok & rows.event], minlength=len(labels))
    if n_case == len(c):  # one row per case (a case table): every (group, case) is distinct
        n_cases = np.bincount(g[ok], minlength=len(labels))
    else:
        pairs = engine.distinct(g[ok].astype(np.int64) * n_case + c[ok])  # (group, case)
        n_cases = (np.bincount(pairs // n_case, minlength=len(labels)) if n_case
                   else n_closed * 0)
    out = pd.DataFrame({"n_cases": n_cases.astype(np.int64), "n_closed": n_closed.astype(
        np.int64)}, index=pd.Index(labels, name="g"))
    return out.sort_values(["n_closed", "n_cases"], ascending=False, kind="stable")


def _no_pattern_error(rows: _Rows, support: pd.DataFrame, min_cases: int, min_events: int,
                      outcome: str) -> NothingToRankError:
    n_cases = rows.n_distinct_cases()
    n_ev = int(rows.event.sum())
    if n_ev == 0:
        what = {"close": "close events recognised", "settle": "settlements observed",
                "any-exit": "exits recognised"}[outcome]
        return NothingToRankError(
            f"nothing to rank: no {what} (0 of {n_cases:,} cases); if the log names its "
            "closing step differently, map it to 'close' with a label map (--labels FILE / "
            "label_map=)")
    top = support.iloc[0]
    return NothingToRankError(
        f"nothing to rank: no pattern has at least {min_cases} cases and {min_events} "
        f"closures (largest: {support.index[0]} with {int(top.n_cases)} cases, "
        f"{int(top.n_closed)} closures); lower the minimum (--min-cases / min_cases=) or "
        "rank all filings")


def _descriptive(rows: _Rows, groups: Sequence[str], alpha: float,
                 horizon: float | None) -> tuple[pd.DataFrame, float]:
    """KM median (with CI), RMST and Aalen-Johansen CIF per group, on the descriptive clock."""
    codes, labels = rows.group_codes
    # one sort for every group: by time (unstable: the KM and the CIF group tied times, so
    # the order among ties does not matter), then stably by group (a radix sort of small ints)
    slot = np.full(len(labels) + 1, -1, dtype=np.int16 if len(groups) < 2**15 else np.int64)
    code_of = {lab: k for k, lab in enumerate(labels)}
    slot[[code_of[g] for g in groups]] = np.arange(len(groups))
    g_of = slot[codes]  # code -1 (no group) -> the last entry, -1
    rows_in = np.flatnonzero(g_of >= 0)
    o = rows_in[np.argsort(rows.duration[rows_in])]
    o = o[np.argsort(g_of[o], kind="stable")]
    bounds = np.searchsorted(g_of[o], np.arange(len(groups) + 1))
    dur_all, cause_all = rows.duration[o], rows.cause[o]
    kms, by_time = {}, {}
    for j, g in enumerate(groups):
        dur, cause = dur_all[bounds[j]:bounds[j + 1]], cause_all[bounds[j]:bounds[j + 1]]
        by_time[g] = dur, cause
        kms[g] = _km(dur, cause == 1, alpha, presorted=True)
    if horizon is None and kms:
        horizon = float(min(km.timeline[-1] for km in kms.values()))
    out = []
    for g in groups:
        km, (dur, cause) = kms[g], by_time[g]
        lo, hi = km.median_ci
        cif = engine._aj_presorted(dur, cause, times=np.asarray(CIF_DAYS, float),
                                   cause_of_interest=1, interval=False)[0]
        out.append((g, km.median, lo, hi, km.rmst(horizon), *np.asarray(cif, float)))
    cols = ["pattern", "median_days", "median_ci_low", "median_ci_high", "rmst_days",
            *[f"cif_{d}" for d in CIF_DAYS]]
    return pd.DataFrame(out, columns=cols), float(horizon) if horizon is not None else np.nan


def _cox_terms(rows: _Rows, included: list[str], reference: str, covariates: Sequence[str],
               cluster: str, stratify: str | None, check_ph: bool,
               notes: list[str]) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray, _Fit]:
    """Fit the pattern Cox model; return pattern levels, coefs, their covariance, PH p.

    Rows of patterns that are not ranked leave the model: the risk sets then hold the cases
    while they are in a ranked pattern (a selection on the exposure history, which keeps the
    partial likelihood valid), and no unstable nuisance level is estimated.
    """
    keep = rows.in_groups(included)
    data = rows.frame.loc[keep].assign(_level=rows.group[keep])
    X, terms, dnotes = _design(data, by="_level", reference=reference, covariates=covariates,
                               min_level_cases=20)
    notes.extend(dnotes)
    cl = _cluster_codes(data, rows.case[keep], cluster)
    st = _strata_codes(data, stratify)
    fit = _fit(rows.start[keep], rows.stop[keep], rows.event[keep], X, cl, st, check_ph)
    pos = [j for j, t in enumerate(terms) if t[1] == "_level"]
    levels = pd.Index([terms[j][2] for j in pos])
    return levels, fit.coef[pos], fit.var[np.ix_(pos, pos)], fit.ph_p[pos], fit


def rank_collaborations(
    data: pd.DataFrame,
    *,
    intervals: pd.DataFrame | None = None,
    method: str = "time-varying",
    landmark_days: float = 30,
    repeat_only: bool = True,
    outcome: Outcome = "close",
    min_cases: int = 30,
    min_events: int = 5,
    adjust: bool = True,
    by: str = "pattern",
    covariates: Sequence[str] | None = None,
    reference: str | None = None,
    cluster: Cluster = "matter",
    stratify: str | None = None,
    alpha: float = 0.05,
    best_alpha: float = 0.10,
    n_draws: int = 4000,
    seed: int = 0,
    horizon_days: float | None = None,
    check_ph: bool = True,
) -> pd.DataFrame:
    """Rank collaboration patterns by how fast they close (or settle) cases, fastest first.

    Parameters
    ----------
    data : DataFrame
        The events (canonical columns) or a case table from
        :func:`casekit.cases.build_case_table`. The time-varying and landmark methods need the
        events or ``intervals=`` (when in doubt, pass the events).
    intervals : DataFrame, optional
        Counting-process rows from :func:`casekit.cases.build_case_intervals` (built from the
        events when not given).
    method : {"time-varying", "landmark", "whole-case"} or "landmark-L"
        See the module docstring. ``"landmark-14"`` is ``method="landmark", landmark_days=14``.
    landmark_days : float, default 30
        The landmark day ``L`` of ``method="landmark"``.
    repeat_only : bool, default True
        Only repeat filings (``repeat_ordinal >= 2``): "which collaborations close repeat
        cases fastest". ``False`` ranks all filings.
    outcome : {"close", "settle", "any-exit"}
        Time to first close (competing exits censored: cause-specific), to settlement, or to
        any exit.
    min_cases, min_events : int, default 30 and 5
        A pattern is ranked when at least ``min_cases`` cases were in it and it saw at least
        ``min_events`` closures while in force; the others are not ranked
        and listed by :func:`excluded_patterns` with their reason; their rows leave the model.
    adjust : bool, default True
        Rank by the adjusted hazard ratio; ``False`` (or a model that cannot be fitted) ranks
        by the descriptive median.
    by : str, default "pattern"
        The grouping column (``method="whole-case"`` only; the time-varying pattern is always
        the pattern in force).
    covariates : sequence of str, optional
        Default: ``category, street, repeat_ordinal, channel, year`` where present and varying.
    reference : str, optional
        Reference pattern (default: the ranked pattern with the most closures).
    cluster : {"matter", "petitioner", "none"}, default "matter"
        Cluster-robust (sandwich) errors by matter (filings of one matter share unmeasured
        difficulty), by petitioner, or model-based errors.
    stratify : str, optional
        ``"matter"`` stratifies the baseline hazard by matter: a within-matter effect (needs
        several filings per matter). Default: none (a population-average effect).
    alpha : float, default 0.05
        Confidence level of the intervals.
    best_alpha : float, default 0.10
        ``in_best_set`` is a ``1 - best_alpha`` confidence set for the fastest pattern.
    n_draws : int, default 4000
        Draws from the joint sampling distribution for ``p_best`` and the rank interval.
    seed : int, default 0
        Seed of those draws.
    horizon_days : float, optional
        RMST horizon (default: the shortest longest-follow-up among ranked patterns).
    check_ph : bool, default True
        Test proportional hazards for the pattern terms; a failure is warned
        (:class:`~casekit.survival.ProportionalHazardsWarning`) and stated in the notes.

    Returns
    -------
    DataFrame
        One row per ranked pattern, fastest first, columns :data:`RANKING_COLUMNS`:

        * ``hazard_ratio`` (CI, ``p_value``): adjusted cause-specific hazard ratio of the
          outcome against the reference (above 1 = closes sooner), with clustered errors;
        * ``p_holm``: Holm-adjusted ``p_value`` over the ranked patterns;
        * ``p_best``: probability of being the fastest (draws from the joint sampling
          distribution of the estimates), ``rank_low``/``rank_high`` its 90% rank interval,
          ``in_best_set``: member of the confidence set for the fastest pattern;
        * ``n_cases``, ``n_closed``, ``median_days`` (CI), ``rmst_days`` and
          ``cif_30/60/90`` (Aalen-Johansen cumulative incidence of closing, competing exits
          competing) are descriptive, on the clock of the method: time *in the pattern* from
          its formation (time-varying), from the landmark, or from the opening (whole-case).

        ``attrs`` (scalars and strings only): ``method``, ``estimand``, ``ranked_by``,
        ``reference``, ``observation_end``, ``n_cases_used`` (cases in a ranked pattern),
        ``n_cases_considered``, ``n_rows``, ``n_competing_exits``,
        ``n_prevalent``, ``n_prevalent_excluded``, ``cluster``, ``n_clusters``, ``notes``
        (one string) and ``ph_warning`` (empty when none).

    Raises
    ------
    NothingToRankError
        When nothing can be ranked, with the real reason (no closures recognised, or no pattern
        with enough support).

    Warns
    -----
    WholeCasePatternWarning
        With ``method="whole-case"``.
    ProportionalHazardsWarning
        When a pattern term fails the proportional-hazards check.

    See Also
    --------
    describe_ranking : the headline sentence (names the confidence set when unsure).
    fit_time_varying_cox : "the court joining multiplies the closing hazard by X".

    Examples
    --------
    On a synthetic district where agencies join open cases over time:

    >>> ev = ck.generate_district(3000, seed=2)[0]
    >>> ranking = ck.rank_collaborations(ev, repeat_only=False, min_cases=100, check_ph=False)
    >>> ranking.attrs["method"]
    'time-varying'
    >>> bool(ranking["in_best_set"].iloc[0])
    True
    >>> list(ranking.columns[:4])
    ['rank', 'pattern', 'n_cases', 'n_closed']
    """
    method, landmark_days = _parse_method(method, landmark_days)
    if outcome not in ("close", "settle", "any-exit"):
        raise CasekitError(f"outcome: expected 'close', 'settle' or 'any-exit', got {outcome!r}")
    cases, intervals = _inputs(data, intervals, method)
    notes: list[str] = []
    if method == "whole-case":
        warnings.warn(
            "whole-case patterns: each case is classified by the agencies of its whole life, "
            "which makes multi-agency patterns look slow when agencies join while the case is "
            "open (immortal time); use method='time-varying'", WholeCasePatternWarning,
            stacklevel=2)
        rows = _whole_case_rows(cases, by, outcome, repeat_only)
    elif method == "landmark":
        rows = _landmark_rows(intervals, cases, outcome, repeat_only, landmark_days)
        notes.append(f"{rows.counts['n_exited_before_landmark']:,} cases left before day "
                     f"{landmark_days:g} and are not in a landmark-{landmark_days:g} ranking")
    else:
        rows = _time_varying_rows(intervals, cases, outcome, repeat_only)
    table = _rank_rows(rows, method=method, landmark_days=landmark_days, cases=cases,
                      intervals=intervals, repeat_only=repeat_only, outcome=outcome,
                      min_cases=min_cases, min_events=min_events, adjust=adjust,
                      covariates=covariates, reference=reference, cluster=cluster,
                      stratify=stratify, alpha=alpha, best_alpha=best_alpha, n_draws=n_draws,
                      seed=seed, horizon_days=horizon_days, check_ph=check_ph, notes=notes)
    if method == "whole-case" and by != "pattern":  # the grouping keeps its own name
        table = table.rename(columns={"pattern": by})
    return table


def _parse_method(method: str, landmark_days: float) -> tuple[str, float]:
    m = re.fullmatch(r"landmark-(\d+(?:\.\d+)?)", str(method))
    if m:
        return "landmark", float(m.group(1))
    if method not in ("time-varying", "landmark", "whole-case"):
        raise CasekitError(
            f"method: expected 'time-varying', 'landmark', 'landmark-DAYS' or 'whole-case', "
            f"got {method!r}")
    if method == "landmark" and not (np.isfinite(landmark_days) and landmark_days > 0):
        raise CasekitError(f"landmark_days: expected a positive number, got {landmark_days!r}")
    return method, float(landmark_days)


def _is_events(df: pd.DataFrame) -> bool:
    return "activity" in df and "timestamp" in df and "duration_days" not in df


def _inputs(data: pd.DataFrame, intervals: pd.DataFrame | None,
            method: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    from casekit.cases import build_case_intervals, build_case_table

    if _is_events(data):
        cases = build_case_table(data)
        if method != "whole-case" and intervals is None:
            intervals = build_case_intervals(data, cases=cases)
        return cases, intervals
    if method != "whole-case" and intervals is None:
        raise CasekitError(
            f"method={method!r} needs to know when each agency joined: pass the events "
            "(rank_collaborations(events)) or intervals=build_case_intervals(events); "
            "method='whole-case' ranks a case table alone (biased when agencies join late)")
    return data, intervals


def _rank_rows(rows: _Rows, *, method: str, landmark_days: float, cases: pd.DataFrame,
               intervals: pd.DataFrame | None, repeat_only: bool, outcome: str,
               min_cases: int, min_events: int, adjust: bool, covariates: Sequence[str] | None,
               reference: str | None, cluster: str, stratify: str | None, alpha: float,
               best_alpha: float, n_draws: int, seed: int, horizon_days: float | None,
               check_ph: bool, notes: list[str]) -> pd.DataFrame:
    support = _support(rows)
    ok = (support["n_cases"] >= min_cases) & (support["n_closed"] >= min_events)
    included = [str(g) for g in support.index[ok]]
    excluded = _excluded_record(support[~ok], min_cases, min_events)
    if not included:
        raise _no_pattern_error(rows, support, min_cases, min_events, outcome)
    if reference is None:
        reference = included[0]
    elif reference not in included:
        raise CasekitError(f"reference: {reference!r} is not a ranked pattern "
                           f"(ranked: {', '.join(included[:5])} ...)")
    table, horizon = _descriptive(rows, included, alpha, horizon_days)
    table = table.merge(support.loc[included].rename_axis("pattern").reset_index(),
                        on="pattern", how="left")
    for col in ("hazard_ratio", "hr_ci_low", "hr_ci_high", "p_value", "p_holm", "p_best",
                "ph_p_value"):
        table[col] = np.nan
    table["in_best_set"] = False
    table["rank_low"] = np.nan
    table["rank_high"] = np.nan
    ranked_by, n_clusters, ph_warning = "median", 0, ""
    if adjust and len(included) >= 2:
        covs = DEFAULT_COVARIATES if covariates is None else tuple(covariates)
        try:
            levels, coef, cov, ph, fit = _cox_terms(rows, included, reference, covs, cluster,
                                                    stratify, check_ph, notes)
        except (CasekitError, np.linalg.LinAlgError, FloatingPointError) as exc:
            notes.append(f"Cox model not fitted ({exc}); ranked by the median")
            fit = None
        if fit is not None and fit.converged and set(levels) == set(included) - {reference}:
            ranked_by = "adjusted_hazard_ratio"
            n_clusters = fit.n_clusters
            ph_warning = _fill_hazard_ratios(table, levels, coef, cov, ph, reference, alpha,
                                             best_alpha, n_draws, seed)
        elif fit is not None:
            notes.append("the Cox model did not converge or lost pattern terms (collinear "
                          "with covariates); ranked by the median")
    table = _order(table, ranked_by, reference)
    if ph_warning:
        notes.append(ph_warning)
        warnings.warn(ph_warning, ProportionalHazardsWarning, stacklevel=3)
    label = f"landmark-{landmark_days:g}" if method == "landmark" else method
    estimand = _estimand(method, stratify, cluster, outcome)
    obs = _observation_end(cases)
    table["method"] = label
    table["ranked_by"] = ranked_by
    table["rmst_horizon_days"] = horizon
    table["is_reference"] = table["pattern"] == reference
    table["reference_pattern"] = reference
    table["outcome"] = outcome
    table["repeat_only"] = repeat_only
    table["estimand"] = estimand
    table["observation_end"] = obs
    table = table[list(RANKING_COLUMNS)]
    n_comp = int((rows.cause == 2).sum())
    table.attrs.update(
        method=label, estimand=estimand, ranked_by=ranked_by, reference=reference,
        observation_end=obs, outcome=outcome, repeat_only=repeat_only,
        n_cases_used=rows.n_distinct_cases(rows.in_groups(included)),
        n_cases_considered=rows.n_distinct_cases(), n_rows=len(rows.case),
        n_competing_exits=n_comp, n_prevalent=_attr(cases, intervals, "n_prevalent"),
        n_prevalent_excluded=_attr(cases, intervals, "n_prevalent_excluded"),
        cluster=cluster, n_clusters=n_clusters, notes="; ".join(notes), ph_warning=ph_warning,
        excluded=excluded,
    )
    return table


def _excluded_record(ex: pd.DataFrame, min_cases: int, min_events: int) -> str:
    """The left-out patterns as JSON text (attrs hold strings: they merge and pickle cleanly)."""
    reasons = [
        f"fewer than {min_cases} cases" if n < min_cases
        else f"fewer than {min_events} closures while in force"
        for n in ex["n_cases"]
    ]
    return json.dumps({
        "pattern": [str(g) for g in ex.index],
        "n_cases": [int(n) for n in ex["n_cases"]],
        "n_closed": [int(n) for n in ex["n_closed"]],
        "reason": reasons,
    }, ensure_ascii=False)


def _attr(cases: pd.DataFrame, intervals: pd.DataFrame | None, key: str) -> int:
    for df in (intervals, cases):
        if df is not None and key in df.attrs:
            return int(df.attrs[key])
    return 0


def _estimand(method: str, stratify: str | None, cluster: str, outcome: str) -> str:
    what = {"close": "cause-specific hazard of closing", "settle": "hazard of settling",
            "any-exit": "hazard of any exit"}[outcome]
    scope = ("within-matter (stratified by matter)" if stratify == "matter"
             else f"within-{stratify} (stratified)" if stratify
             else "population-average")
    err = "model-based errors" if cluster == "none" else f"errors clustered by {cluster}"
    clock = {"time-varying": "pattern in force", "landmark": "pattern at the landmark",
             "whole-case": "pattern of the whole case"}[method]
    return f"{scope} {what}, {clock}, {err}"


def _fill_hazard_ratios(table: pd.DataFrame, levels: pd.Index, coef: np.ndarray,
                        cov: np.ndarray, ph: np.ndarray, reference: str, alpha: float,
                        best_alpha: float, n_draws: int, seed: int) -> str:
    """Hazard ratios, Holm p, p_best, rank intervals, best set; returns a PH warning or ''."""
    z = _z(alpha)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p = 2 * _norm_sf(np.abs(coef / se))
    p_holm = engine.holm(p)
    names = [reference, *levels]
    theta = np.r_[0.0, coef]
    full = np.zeros((len(names), len(names)))
    full[1:, 1:] = cov
    best = engine.best_set(theta, full, alpha=best_alpha, n_draws=n_draws, seed=seed)
    pos = table["pattern"].map({g: i for i, g in enumerate(names)}).to_numpy()
    th = theta[pos]
    s = np.r_[0.0, se][pos]
    table["hazard_ratio"] = np.exp(th)
    table["hr_ci_low"] = np.exp(th - z * s)
    table["hr_ci_high"] = np.exp(th + z * s)
    table["p_value"] = np.r_[np.nan, p][pos]
    table["p_holm"] = np.r_[np.nan, p_holm][pos]
    table["ph_p_value"] = np.r_[np.nan, ph][pos]
    for col in ("p_best", "rank_low", "rank_high", "in_best_set"):
        table[col] = np.asarray(best[col])[pos]
    bad = [g for g, q in zip(levels, ph, strict=True) if np.isfinite(q) and q < 0.01]
    if not bad:
        return ""
    return ("proportional hazards look violated (p < 0.01) for " + ", ".join(bad[:6])
            + (" ..." if len(bad) > 6 else "") + ": their hazard ratios are averages over time; "
            "check a landmark ranking (method='landmark-30' / --method landmark-30) or model a "
            "time-varying effect")


def _order(table: pd.DataFrame, ranked_by: str, reference: str) -> pd.DataFrame:
    if ranked_by == "adjusted_hazard_ratio":
        table = table.sort_values(["hazard_ratio", "median_days", "rmst_days"],
                                  ascending=[False, True, True], kind="stable")
    else:
        table = table.sort_values(["median_days", "rmst_days"], kind="stable")
    table = table.reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table


def excluded_patterns(ranking: pd.DataFrame) -> pd.DataFrame:
    """The patterns a ranking (or :func:`casekit.fit_cox`) left out, with their support.

    Read from the JSON text in ``attrs["excluded"]``: a ranking lists ``pattern, n_cases,
    n_closed, reason``; a Cox table lists its grouping column and ``n_cases``.

    Examples
    --------
    >>> ev = ck.generate_district(2000, seed=1)[0]
    >>> ranking = ck.rank_collaborations(ev, repeat_only=False, min_cases=200, check_ph=False)
    >>> list(ck.excluded_patterns(ranking).columns)
    ['pattern', 'n_cases', 'n_closed', 'reason']
    """
    return _excluded_frame(ranking, {"pattern": [], "n_cases": [], "n_closed": [],
                                     "reason": []})


def _excluded_frame(result: pd.DataFrame, empty: dict[str, list[Any]]) -> pd.DataFrame:
    """The JSON text in ``result.attrs["excluded"]`` as a table (integer counts as int64)."""
    text = result.attrs.get("excluded")
    ex = json.loads(text) if isinstance(text, str) and text else empty
    out = pd.DataFrame(ex)
    return out.astype({c: "int64" for c in ("n_cases", "n_closed") if c in out})


def describe_ranking(ranking: pd.DataFrame, *, sure: float = 0.8,
                     planted_fastest: str | None = None) -> str:
    """One sentence naming the fastest pattern, or the confidence set when the rank is unsure.

    Parameters
    ----------
    ranking : DataFrame
        From :func:`rank_collaborations`.
    sure : float, default 0.8
        Below this probability of being fastest, the sentence names the 90% confidence set.
    planted_fastest : str, optional
        The truly fastest pattern where it is known (a synthetic district's truth): a second
        sentence says where it stands and, when it is not first, why (support, interval, set).

    Examples
    --------
    >>> r = pd.DataFrame({"pattern": ["a", "b", "c"], "p_best": [0.46, 0.4, 0.14],
    ...                   "in_best_set": [True, True, False], "hazard_ratio": [1.5, 1.4, 1.0],
    ...                   "hr_ci_low": [1.1, 1.0, 1.0], "hr_ci_high": [2.0, 1.9, 1.0],
    ...                   "n_cases": [40, 300, 900], "rank": [1, 2, 3],
    ...                   "ranked_by": "adjusted_hazard_ratio"})
    >>> describe_ranking(r)
    'fastest: a or b (90% confidence set); P(a fastest) = 0.46'
    >>> print(describe_ranking(r, planted_fastest="b").split("; ", 1)[1])
    P(a fastest) = 0.46. The planted fastest, b, is ranked 2 (hazard ratio 1.40, 95% CI 1.00-1.90, 300 cases) and is in the 90% confidence set; rank 1 rests on 40 cases (CI 1.10-2.00).
    """
    if len(ranking) == 0:
        return "nothing ranked"
    top = ranking.iloc[0]
    if ranking["ranked_by"].iloc[0] != "adjusted_hazard_ratio" or not np.isfinite(
            float(top["p_best"])):
        head = f"fastest by median: {top['pattern']} (no adjusted model: no confidence set)"
    elif float(top["p_best"]) >= sure:
        head = f"fastest: {top['pattern']}; P(fastest) = {float(top['p_best']):.2f}"
    else:
        members = ranking.loc[ranking["in_best_set"].astype(bool), "pattern"].astype(str).tolist()
        shown = members[:6]
        names = (", ".join(shown[:-1]) + " or " + shown[-1]) if len(shown) > 1 else shown[0]
        more = f" (+{len(members) - 6} more)" if len(members) > 6 else ""
        head = (f"fastest: {names}{more} (90% confidence set); "
                f"P({top['pattern']} fastest) = {float(top['p_best']):.2f}")
    if planted_fastest is None:
        return head
    return f"{head}. {_against_truth(ranking, planted_fastest)}"


def _against_truth(ranking: pd.DataFrame, planted: str) -> str:
    top = ranking.iloc[0]
    if str(top["pattern"]) == planted:
        return "The planted fastest pattern is ranked first."
    hit = ranking[ranking["pattern"].astype(str) == planted]
    if hit.empty:
        ex = excluded_patterns(ranking).set_index("pattern")
        why = (f"{ex.at[planted, 'reason']} ({int(ex.at[planted, 'n_cases'])} cases)"
               if planted in ex.index else "it does not occur in this log")
        return f"The planted fastest, {planted}, is not ranked: {why}."
    row = hit.iloc[0]
    in_set = bool(row.get("in_best_set", False))
    return (f"The planted fastest, {planted}, is ranked {int(row['rank'])} (hazard ratio "
            f"{float(row['hazard_ratio']):.2f}, 95% CI {float(row['hr_ci_low']):.2f}-"
            f"{float(row['hr_ci_high']):.2f}, {int(row['n_cases'])} cases) and is "
            f"{'in' if in_set else 'not in'} the 90% confidence set; rank 1 rests on "
            f"{int(top['n_cases'])} cases (CI {float(top['hr_ci_low']):.2f}-"
            f"{float(top['hr_ci_high']):.2f}).")


# ---------------------------------------------------------------------------------------------
# per agency type: "the court joining multiplies the closing hazard by X"
# ---------------------------------------------------------------------------------------------


def _drop_eventless_patterns(rows: _Rows) -> _Rows:
    """Leave out the stretches in patterns that never close a case (e.g. before the first
    line joins: a case cannot close while only registered). Such a structural zero would give
    an infinite coefficient; leaving the rows out keeps the risk sets of the patterns that can
    close (a selection on the exposure history, valid for the partial likelihood)."""
    closes = pd.Series(rows.event).groupby(rows.group).transform("sum").to_numpy()
    keep = closes > 0
    if keep.all():
        return rows
    return _Rows(rows.start[keep], rows.stop[keep], rows.cause[keep], rows.group[keep],
                 rows.case[keep], rows.frame.loc[keep].reset_index(drop=True),
                 rows.duration[keep], rows.counts)


def fit_time_varying_cox(
    intervals: pd.DataFrame,
    *,
    terms: Literal["agency_type", "pattern"] = "agency_type",
    repeat_only: bool = False,
    outcome: Outcome = "close",
    covariates: Sequence[str] | None = None,
    reference: str | None = None,
    cluster: Cluster = "matter",
    stratify: str | None = None,
    alpha: float = 0.05,
    check_ph: bool = True,
) -> pd.DataFrame:
    """Time-varying Cox model on counting-process rows, with clustered errors.

    Parameters
    ----------
    intervals : DataFrame
        Rows from :func:`casekit.cases.build_case_intervals`.
    terms : {"agency_type", "pattern"}, default "agency_type"
        ``"agency_type"``: one indicator per agency type that has joined (``at_<type>``),
        read as "drawing in this agency type multiplies the closing hazard by X" (types present
        from the start in every case are not identifiable and are dropped with a note);
        ``"pattern"``: the pattern in force as a categorical.
    repeat_only, outcome, covariates, reference, cluster, stratify, alpha, check_ph
        As in :func:`rank_collaborations` (``outcome`` ``"close"`` or ``"any-exit"``).

    Returns
    -------
    DataFrame
        One row per term: ``term, variable, level, coef, se, se_model, hazard_ratio,
        hr_ci_low, hr_ci_high, p_value, ph_p_value`` (``se`` robust when clustered).
        ``attrs``: ``estimand``, ``n_cases``, ``n_rows``, ``n_events``, ``n_clusters``,
        ``converged``, ``notes``.

    Examples
    --------
    >>> ev = ck.generate_district(3000, seed=3)[0]
    >>> iv = ck.build_case_intervals(ev)
    >>> res = ck.fit_time_varying_cox(iv, check_ph=False)
    >>> bool((res["variable"] == "agency_type").any())
    True
    """
    if outcome == "settle":
        raise CasekitError("fit_time_varying_cox: outcome 'settle' needs rank_collaborations")
    rows = _drop_eventless_patterns(_time_varying_rows(intervals, None, outcome, repeat_only))
    covs = DEFAULT_COVARIATES if covariates is None else tuple(covariates)
    notes: list[str] = []
    frame = rows.frame
    if terms == "agency_type":
        at = [c for c in frame.columns if c.startswith("at_")]
        if not at:
            raise CasekitError("intervals: no at_<agency_type> columns (build them with "
                               "build_case_intervals)")
        lead = [(frame[c].to_numpy(float), (c, "agency_type", c[3:])) for c in at]
        X, tm, dn = _design(frame.assign(_none="x"), by="_none", reference="x", covariates=covs,
                            min_level_cases=20, leading=lead)
    elif terms == "pattern":
        ref = reference or str(_support(rows).index[0])
        X, tm, dn = _design(frame.assign(_level=rows.group), by="_level", reference=ref,
                            covariates=covs, min_level_cases=20)
        tm = [(t.replace("_level", "pattern"), "pattern" if v == "_level" else v, lv)
              for t, v, lv in tm]
    else:
        raise CasekitError(f"terms: expected 'agency_type' or 'pattern', got {terms!r}")
    notes.extend(dn)
    cl = _cluster_codes(frame, rows.case, cluster)
    fit = _fit(rows.start, rows.stop, rows.event, X, cl, _strata_codes(frame, stratify),
               check_ph)
    z = _z(alpha)
    se = np.sqrt(np.clip(np.diag(fit.var), 0, None))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        zval = fit.coef / se
        out = pd.DataFrame({
            "term": [t[0] for t in tm], "variable": [t[1] for t in tm],
            "level": [t[2] for t in tm], "coef": fit.coef, "se": se, "se_model": fit.se_model,
            "hazard_ratio": np.exp(fit.coef), "hr_ci_low": np.exp(fit.coef - z * se),
            "hr_ci_high": np.exp(fit.coef + z * se), "p_value": 2 * _norm_sf(np.abs(zval)),
            "ph_p_value": fit.ph_p,
        })
    out.attrs.update(
        estimand=_estimand("time-varying", stratify, cluster, outcome),
        n_cases=rows.n_distinct_cases(), n_rows=len(rows.case),
        n_events=int(rows.event.sum()), n_clusters=fit.n_clusters,
        converged=fit.converged, notes="; ".join(notes),
    )
    return out
