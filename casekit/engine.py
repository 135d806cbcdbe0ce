"""The numpy survival engine: Kaplan-Meier, log-rank, Cox, Aalen-Johansen, ranking confidence.

Arrays in, arrays (or small frozen dataclasses) out; no pandas needed. :mod:`casekit.survival`
and the ranking build their tables on these functions, and the tests compare every estimate with
lifelines.

* Kaplan-Meier (:func:`_km`): product-limit through cumulative sums of ``log(n - d) - log(n)``
  (lifelines' formula), Greenwood variance, exponential-Greenwood ("log-log") bands.
* log-rank (:func:`_logrank_two`, :func:`_logrank_multi`) and Holm's step-down adjustment
  (:func:`holm`).
* Cox proportional hazards on counting-process ``(start, stop]`` rows (:func:`cox_fit`), Efron
  or Breslow ties, strata, case weights, and a cluster-robust (sandwich) variance;
  :func:`schoenfeld_residuals`; the Breslow baseline (:func:`breslow_cumhaz`) and the median it
  implies under a hazard ratio (:func:`median_time`).
* Aalen-Johansen cumulative incidence with competing exits and delayed entry
  (:func:`aalen_johansen`).
* How sure a ranking is (:func:`best_set`): probability of being best, rank intervals and Hsu's
  confidence set for the best.

Cox model, in the notation of Therneau & Grambsch (2000). Row ``i`` (a case, or a stretch of a
case with constant covariates) is at risk at time ``t`` when ``start_i < t <= stop_i`` and
carries ``r_i = w_i exp(x_i' beta)``. For each stratum and each distinct event time ``t_k`` with
``d_k`` tied events, risk-set sums ``S0_k = sum r_i`` and ``S1_k = sum r_i x_i`` and their parts
over the tied events ``S0d_k, S1d_k``, Efron's approximation uses, for ``l = 0 .. d_k - 1`` and
``f_l = l / d_k`` (``f_l = 0`` for Breslow),

    phi_kl = S0_k - f_l S0d_k,   m_kl = (S1_k - f_l S1d_k) / phi_kl,
    loglik = sum_events w_i x_i' beta - sum_k wbar_k sum_l log(phi_kl),

with ``wbar_k`` the mean weight of the tied events (R's convention). The gradient is
``sum_events w_i x_i - sum_kl wbar_k m_kl``; the information ``sum_kl wbar_k ((S2_k - f_l S2d_k) /
phi_kl - m_kl m_kl')`` is computed without any ``n x p x p`` array: its first part is
``X' diag(c) X`` with ``c_i = r_i sum_{k: i at risk} sum_l wbar_k (1 - f_l [i dies at k]) / phi_kl``
and its second part is ``S1' A S1 - S1' B S1d - S1d' B S1 + S1d' C S1d`` with diagonal ``A, B,
C`` over event times (``S1d`` only on tied groups).

How it is computed (the cost per iteration is a few passes over the rows, linear in their
number): the design of a case table has few distinct rows (thousands for a million cases), so
``X beta``, ``X' c`` and ``X' diag(c) X`` run on the distinct rows with ``c`` summed per row
pattern. The rows are sorted once by the event group of their ``stop`` (and of their ``start``);
a risk-set sum is then a prefix sum over the sorted rows read at each group's count, from the
latest time backwards. ``S1`` is built in cache-sized blocks of rows, and ``S1' A S1`` is
accumulated block by block. Newton's method starts, on large data, from the estimate on a
systematic tenth of the rows, and near the optimum keeps the information of its last full
step while the steps shrink fast (a chord method); every estimate is still the full-data
optimum within ``tol``, and the variance is the inverse information at the estimate.

Cluster-robust variance (Lin & Wei 1989; R's ``coxph(..., cluster=)``): with score residuals
``U_i = delta_i (x_i - mbar_i) - sum_{k: i at risk} sum_l wbar_k (1 - f_l [i dies at k]) e_i
(x_i - m_kl) / phi_kl`` (``e_i = exp(x_i' beta)``, ``mbar_i`` the mean of ``m_kl`` over ``l``),
weighted by ``w_i`` and summed within each cluster, ``D = U_c V`` (the dfbeta residuals) and
``robust_var = D' D``.

References
----------
Therneau, T. M. & Grambsch, P. M. (2000). Modeling Survival Data: Extending the Cox Model.
Springer. https://doi.org/10.1007/978-1-4757-3294-8
Lin, D. Y. & Wei, L. J. (1989). The robust inference for the Cox proportional hazards model.
JASA 84(408), 1074-1078. https://doi.org/10.1080/01621459.1989.10478874
Efron, B. (1977). The efficiency of Cox's likelihood function for censored data. JASA 72(359),
557-565. https://doi.org/10.1080/01621459.1977.10480613
Hsu, J. C. (1996). Multiple Comparisons: Theory and Methods. Chapman & Hall, ch. 4 (multiple
comparisons with the best). https://doi.org/10.1201/b15074
Aalen, O. O. & Johansen, S. (1978). An empirical transition matrix for non-homogeneous Markov
chains based on censored observations. Scand. J. Statist. 5, 141-150.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from casekit._utils import CasekitError, as_generator

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CoxResult",
    "aalen_johansen",
    "best_set",
    "blas_single_thread",
    "breslow_cumhaz",
    "cox_fit",
    "cox_fit_ph",
    "cox_fit_schoenfeld",
    "distinct",
    "holm",
    "median_time",
    "schoenfeld_residuals",
]

_ROW_BLOCK = 4096  # rows per block of the risk-set sums of r x (a block stays in cache)
_CHORD_START = 0.1  # Newton steps below this keep the information of the last full step
_CHORD_RATE = 0.1  # ... while each step shrinks at least this much
_START_ROWS = 100_000  # above twice this many rows, Newton starts from a fit on a subsample
_PROJECTION_SEED = 20_170_509  # fixed: the projection only groups equal rows (checked exactly)


# ---------------------------------------------------------------------------------------------
# small distributions
# ---------------------------------------------------------------------------------------------


def _z(alpha: float) -> float:
    """Two-sided normal quantile ``z_{1 - alpha/2}``."""
    from scipy.special import ndtri

    return float(ndtri(1 - alpha / 2))


def _chi2_sf(x: Any, df: Any) -> Any:
    from scipy.special import chdtrc

    return chdtrc(df, x)


def _norm_sf(x: Any) -> Any:
    from scipy.special import ndtr

    return ndtr(-np.asarray(x, dtype=float))


# ---------------------------------------------------------------------------------------------
# Kaplan-Meier (lifelines' exact formulas)
# ---------------------------------------------------------------------------------------------


@dataclass
class _KM:
    timeline: np.ndarray
    survival: np.ndarray
    n: int
    n_events: int
    cum_sq: np.ndarray  # Greenwood sums, for the bands
    z: float

    def band(self, rows: Any, sign: float) -> np.ndarray:
        """The exponential Greenwood band (``sign`` -1 lower, +1 upper) at ``rows`` only.

        Element by element the arithmetic of the whole band, so the values are the same.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.log(self.survival[rows])
            out = np.exp(-np.exp(np.log(-v) + sign * (self.z * np.sqrt(self.cum_sq[rows]) / v)))
        return np.where(np.isnan(out), 1.0, out)

    @functools.cached_property
    def lower(self) -> np.ndarray:
        return self.band(slice(None), -1.0)

    @functools.cached_property
    def upper(self) -> np.ndarray:
        return self.band(slice(None), 1.0)

    @staticmethod
    def _qth(values: np.ndarray, timeline: np.ndarray, q: float = 0.5) -> float:
        # lifelines.utils.qth_survival_time: first index where -S >= -q (binary search, as there)
        if values[-1] > q:
            return math.inf
        return float(timeline[np.searchsorted(-values, -q, side="left")])

    def _qth_band(self, sign: float, q: float = 0.5) -> float:
        """:meth:`_qth` of a band, evaluating it only where the binary search looks."""
        n = len(self.timeline)
        if self.band(np.array([n - 1]), sign)[0] > q:
            return math.inf
        lo, hi = 0, n  # numpy's searchsorted(-values, -q, "left"): -v < -q is v > q
        while lo < hi:
            mid = lo + ((hi - lo) >> 1)
            if self.band(np.array([mid]), sign)[0] > q:
                lo = mid + 1
            else:
                hi = mid
        return float(self.timeline[lo])

    @property
    def median(self) -> float:
        return self._qth(self.survival, self.timeline)

    @property
    def median_ci(self) -> tuple[float, float]:
        return self._qth_band(-1.0), self._qth_band(1.0)

    def rmst(self, horizon: float) -> float:
        """Area under the step function S on [0, horizon]."""
        t = self.timeline
        right = np.minimum(np.r_[t[1:], horizon], horizon)
        width = np.clip(right - np.minimum(t, horizon), 0, None)
        return float(np.sum(self.survival * width))


def _km(durations: np.ndarray, events: np.ndarray, alpha: float = 0.05, presorted: bool = False) -> _KM:
    """Kaplan-Meier estimate with lifelines' arithmetic (see module notes)."""
    if presorted:
        d, e = durations, events
    else:
        order = np.argsort(durations, kind="stable")
        d, e = durations[order], events[order]
    n = len(d)
    new = np.r_[True, d[1:] != d[:-1]] if n else np.zeros(0, dtype=bool)
    starts = np.flatnonzero(new)
    times = d[starts]
    removed = np.diff(np.r_[starts, n])
    deaths = np.add.reduceat(e.astype(np.float64), starts) if n else np.zeros(0)
    at_risk = n - np.r_[0, np.cumsum(removed)[:-1]]
    # lifelines' table starts at min(0, first duration) with a birth row
    if n and times[0] > 0:
        times = np.r_[0.0, times]
        deaths = np.r_[0.0, deaths]
        at_risk = np.r_[n, at_risk]
    pop = at_risk.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.cumsum(np.log(pop - deaths) - np.log(pop))
        var_terms = deaths / (pop * (pop - deaths))
    var_terms[np.isinf(var_terms)] = 0.0
    cum_sq = np.cumsum(var_terms)
    s = np.exp(log_s)
    return _KM(times, s, n, int(e.sum()), cum_sq, _z(alpha))


# ---------------------------------------------------------------------------------------------
# log-rank tests and Holm
# ---------------------------------------------------------------------------------------------


def _logrank_two(d1: np.ndarray, e1: np.ndarray, d2: np.ndarray, e2: np.ndarray) -> tuple[float, float]:
    """Two-sample log-rank chi-square (1 df) and its p-value (as lifelines.logrank_test)."""
    d = np.r_[d1, d2]
    e = np.r_[e1, e2].astype(np.float64)
    g = np.r_[np.ones(len(d1)), np.zeros(len(d2))]
    order = np.argsort(d, kind="stable")
    d, e, g = d[order], e[order], g[order]
    n = len(d)
    starts = np.flatnonzero(np.r_[True, d[1:] != d[:-1]])
    deaths = np.add.reduceat(e, starts)
    deaths1 = np.add.reduceat(e * g, starts)
    removed = np.diff(np.r_[starts, n])
    removed1 = np.add.reduceat(g, starts)
    n_t = n - np.r_[0, np.cumsum(removed)[:-1]]
    n1_t = len(d1) - np.r_[0, np.cumsum(removed1)[:-1]]
    keep = deaths > 0
    dt, nt, n1, d1t = deaths[keep], n_t[keep].astype(float), n1_t[keep], deaths1[keep]
    expected = dt * n1 / nt
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.where(nt > 1, dt * (n1 / nt) * (1 - n1 / nt) * (nt - dt) / (nt - 1), 0.0)
    v = var.sum()
    if v <= 0:
        return 0.0, 1.0
    chi2 = (d1t.sum() - expected.sum()) ** 2 / v
    return float(chi2), float(_chi2_sf(chi2, 1))


def _logrank_multi(durations: np.ndarray, events: np.ndarray, groups: np.ndarray) -> tuple[float, int, float]:
    """Multivariate log-rank chi-square (K - 1 df) as lifelines.multivariate_logrank_test."""
    codes, k = _group_codes(np.asarray(groups))
    if k < 2:
        return 0.0, 0, 1.0
    # longest first: the at-risk set of a time is a prefix of the rows (a tie: all of it), so
    # the at-risk counts per group are cumulative counts; the order among tied rows is free
    order = np.argsort(-durations)
    d, e, c = durations[order], events[order].astype(np.float64), codes[order].astype(np.intp)
    n = len(d)
    new = np.r_[True, d[1:] != d[:-1]]
    gid = np.cumsum(new) - 1
    gend = np.r_[np.flatnonzero(new)[1:], n] - 1
    deaths = np.bincount(gid, weights=e)
    keep = deaths > 0
    ends, dt = gend[keep], deaths[keep]
    nt = (ends + 1).astype(float)
    observed = np.bincount(c, weights=e, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(nt > 1, dt * (nt - dt) / (nt - 1), 0.0)
    expected, w_diag, cross = _logrank_sums(c, ends, dt / nt, w / nt, np.sqrt(w) / nt, k)
    v = np.diag(w_diag) - cross
    oe = observed - expected
    try:
        chi2 = float(oe[:-1] @ np.linalg.solve(v[:-1, :-1], oe[:-1]))
    except np.linalg.LinAlgError:
        chi2 = float(oe[:-1] @ np.linalg.pinv(v[:-1, :-1]) @ oe[:-1])
    df = k - 1
    return chi2, df, float(_chi2_sf(chi2, df))


#: At-risk counts held at once by the multivariate log-rank (blocks of death times).
_LOGRANK_BLOCK = 2_000_000


def _group_codes(groups: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes ``0..k-1`` of the groups and ``k`` (small non-negative integers: no sort).

    Examples
    --------
    >>> codes, k = _group_codes(np.array([5, 2, 5]))
    >>> codes.tolist(), k
    ([1, 0, 1], 2)
    """
    if groups.dtype.kind in "iu" and len(groups) and groups.min() >= 0 \
            and groups.max() < 4 * len(groups) + 64:
        present = np.bincount(groups) > 0
        return (np.cumsum(present) - 1)[groups], int(present.sum())
    uniques, codes = np.unique(groups, return_inverse=True)
    return codes.reshape(-1), len(uniques)


def _logrank_sums(c: np.ndarray, ends: np.ndarray, a: np.ndarray, b: np.ndarray,
                  f: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``sum_t a_t N_t``, ``sum_t b_t N_t`` and ``sum_t (f_t N_t)(f_t N_t)'`` over death times.

    ``N_t`` is the vector of at-risk counts per group at death time ``t``: the rows (groups
    ``c``, longest first) up to ``ends[t]``. The rows of each stretch between death times are
    counted per group by one ``bincount``, blocks of death times at a time (at most about two
    million counts), and accumulated into ``N_t``; single-threaded BLAS does the sums.
    """
    n_t = len(ends)
    mark = np.zeros(len(c) + 1, dtype=np.int64)
    mark[ends + 1] = 1
    stretch = np.cumsum(mark[:-1])  # row -> the first death time it is at risk at
    expected, w_diag, cross = np.zeros(k), np.zeros(k), np.zeros((k, k))
    carry = np.zeros(k)
    step = max(1, _LOGRANK_BLOCK // k)
    with blas_single_thread():
        for t0 in range(0, n_t, step):
            t1 = min(t0 + step, n_t)
            r0, r1 = (ends[t0 - 1] + 1 if t0 else 0), ends[t1 - 1] + 1
            m = t1 - t0  # group-major: the running sums go along contiguous memory
            counts = np.bincount(c[r0:r1] * m + (stretch[r0:r1] - t0), minlength=k * m)
            at_risk = np.cumsum(counts.reshape(k, m), axis=1, dtype=np.float64)
            at_risk += carry[:, None]
            carry = at_risk[:, -1].copy()
            expected += at_risk @ a[t0:t1]
            w_diag += at_risk @ b[t0:t1]
            at_risk *= f[None, t0:t1]
            cross += at_risk @ at_risk.T
    return expected, w_diag, cross


def holm(p: Any) -> np.ndarray:
    """Holm's step-down adjusted p-values.

    Parameters
    ----------
    p : array-like of float
        Unadjusted p-values of ``m`` tests.

    Returns
    -------
    ndarray
        ``p_(i) * (m - i + 1)`` in increasing order of ``p``, made monotone and capped at 1,
        returned in the input order. Controls the family-wise error rate (Holm 1979).

    Examples
    --------
    >>> from casekit.engine import holm
    >>> holm([0.01, 0.04, 0.03, 0.5]).round(2).tolist()
    [0.04, 0.09, 0.09, 0.5]
    """
    p = np.asarray(p, dtype=float)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adj
    return out


# ---------------------------------------------------------------------------------------------
# Cox: data preparation (sorting and indexing, done once per fit)
# ---------------------------------------------------------------------------------------------


def _one_blas_thread(fn: Any) -> Any:
    """Run ``fn`` inside :func:`blas_single_thread` (for public entry points)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with blas_single_thread():
            return fn(*args, **kwargs)

    return wrapper


def distinct(values: Any) -> np.ndarray:
    """Sorted distinct values by sort + adjacent difference (``np.unique`` without hashing).

    ``np.unique`` without ``return_*`` uses a hash table in numpy 2.3+, 50-70x slower on
    millions of keys once there are more than a few dozen distinct values; a sort is
    O(n log n) with a small constant. NaNs collapse into one, last, as in ``np.unique``.

    Examples
    --------
    >>> from casekit.engine import distinct
    >>> distinct(np.array([3, 1, 3, 2, 1])).tolist()
    [1, 2, 3]
    >>> distinct(np.array([2.0, np.nan, 1.0, np.nan])).tolist()
    [1.0, 2.0, nan]
    """
    out = np.sort(np.asarray(values).ravel())
    if len(out) < 2:
        return out
    keep = np.empty(len(out), dtype=bool)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    if out.dtype.kind in "fc" and np.isnan(out[-1]):
        keep &= ~np.isnan(out)
        keep[np.argmax(np.isnan(out))] = True
    return out[keep]


def _vector(name: str, values: Any, n: int | None, dtype: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise CasekitError(f"{name}: expected a 1-d array, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise CasekitError(f"{name}: expected {n} values, got {len(arr)}")
    return arr.astype(dtype, copy=False) if dtype is not None else arr


def _codes(name: str, values: Any, n: int) -> tuple[np.ndarray, int]:
    """Integer codes 0..g-1 of a label array (sort-based, stable over runs)."""
    arr = _vector(name, values, n, None)
    if arr.dtype.kind == "O":
        arr = arr.astype(str)
    uniques, inv = np.unique(arr, return_inverse=True)
    return inv.reshape(-1).astype(np.int64), len(uniques)


class _GroupSum:
    """Sums of rows of a dense matrix by an integer group index (a sparse matrix, built once).

    ``index[j]`` is the group of item ``j``; a call with ``columns`` sums ``weights_j
    M[columns_j]`` per group. The sort by group is done once and shared by every call, so one
    instance serves several item-to-row maps of the same items.

    Examples
    --------
    >>> gs = _GroupSum(np.array([1, 0, 1]), 2)
    >>> gs(np.array([1.0, 2.0, 3.0]), np.eye(3)).tolist()
    [[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]]
    """

    def __init__(self, index: np.ndarray, n_groups: int) -> None:
        self.order = np.argsort(index, kind="stable")
        self.indptr = np.r_[0, np.cumsum(np.bincount(index, minlength=n_groups))]
        self.n_groups = n_groups

    def __call__(self, weights: np.ndarray, M: np.ndarray,
                 columns: np.ndarray | None = None) -> np.ndarray:
        """``sum_{item j in group g} weights_j M[columns_j]`` (default ``columns_j = j``)."""
        from scipy.sparse import csr_array

        cols = self.order if columns is None else columns[self.order]
        m = csr_array((weights[self.order], cols, self.indptr), shape=(self.n_groups, len(M)))
        return np.asarray(m @ np.ascontiguousarray(M))


def _distinct_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows ``Xu`` of ``X`` and the row index ``u`` with ``X == Xu[u]`` exactly.

    A design built from categorical codes has few distinct rows (thousands for a million
    cases), and every product with ``X`` in the fit (linear predictor, gradient, ``X' diag(c)
    X``) then runs on them. Rows are grouped by the sort of a fixed random projection and the
    grouping is checked element by element: identical rows that project apart only make an
    extra group, and a collision of different rows (or mostly distinct rows) makes every row its
    own group, so the result is always exact.

    Examples
    --------
    >>> Xu, u = _distinct_rows(np.array([[1.0, 0], [0, 1], [1, 0], [0, 1], [1, 0]]))
    >>> len(Xu), bool((Xu[u] == np.array([[1.0, 0], [0, 1], [1, 0], [0, 1], [1, 0]])).all())
    (2, True)
    """
    n, p = X.shape
    if p == 0:
        return np.zeros((min(n, 1), 0)), np.zeros(n, np.int64)
    h = X @ np.random.default_rng(_PROJECTION_SEED).standard_normal(p)
    order = np.argsort(h, kind="stable")
    hs = h[order]
    new = np.ones(n, dtype=bool)
    np.not_equal(hs[1:], hs[:-1], out=new[1:])
    if 2 * int(new.sum()) > n:
        return X, np.arange(n)
    u = np.empty(n, dtype=np.int64)
    u[order] = np.cumsum(new) - 1
    Xu = X[order[new]]
    for j in range(p):
        if not np.array_equal(Xu[:, j][u], X[:, j]):
            return X, np.arange(n)
    return Xu, u


@dataclass
class _CoxData:
    """The centred distinct design rows and the event-time indexing of counting-process rows.

    Row ``i`` is at risk at event groups ``k_start_i <= k < k_stop_i``. The risk-set sums of a
    group ``k`` are sums over the first ``stop_cnt[k]`` rows of ``stop_rows`` (rows by
    decreasing ``k_stop``) minus the first ``start_cnt[k]`` rows of ``start_rows`` (rows with
    ``k_start > 0`` by decreasing ``k_start``).
    """

    Xu: np.ndarray  # distinct rows of the centred design, D x p, C-contiguous
    XuT: np.ndarray  # its transpose, p x D, C-contiguous
    u: np.ndarray  # distinct row of every row
    x_mean: np.ndarray
    w: np.ndarray
    event: np.ndarray  # bool
    k_start: np.ndarray
    k_stop: np.ndarray
    n_groups: int
    death: np.ndarray  # event rows ordered by (stratum, time, row)
    dk: np.ndarray  # event group of each death
    frac: np.ndarray  # Efron's l / d_k of each death (0 for Breslow)
    d_count: np.ndarray  # events per group
    wbar: np.ndarray  # mean weight of the tied events per group
    group_time: np.ndarray
    group_stratum: np.ndarray
    stop_rows: np.ndarray
    stop_cnt: np.ndarray
    start_rows: np.ndarray
    start_cnt: np.ndarray
    tied: np.ndarray  # groups with Efron terms (two or more deaths; none for Breslow)
    tied_pos: np.ndarray  # deaths of those groups (positions in ``death``), grouped
    tied_local: np.ndarray  # tied group (0 .. len(tied) - 1) of each of those deaths
    by_tied: _GroupSum  # sums over the deaths of each tied group
    xw_events: np.ndarray  # sum over events of w_i x_i (centred)
    # gathered once, so that every iteration reads the rows in order and gathers only from
    # the short per-distinct-row arrays: u, w and k of stop_rows, start_rows and death
    stop_u: np.ndarray
    stop_w: np.ndarray
    stop_k: np.ndarray
    start_u: np.ndarray
    start_w: np.ndarray
    start_k: np.ndarray
    death_u: np.ndarray
    death_w: np.ndarray

    def sorted_r(self, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row values ``r`` in the orders of ``stop_rows`` and ``start_rows``."""
        return r[self.stop_rows], r[self.start_rows]


def _entry_times(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Starts adjusted for the two same-time conventions (then ``start < t <= stop`` exactly).

    A start of exactly 0 includes time 0 (a case closed on the day it opened is at risk then,
    with every other case, as in lifelines); a row that starts and stops at one time is at risk
    at that time. Both become a start just below the stated one.
    """
    tiny_before = (start == 0) | (start == stop)
    if not tiny_before.any():
        return start
    return np.where(tiny_before, np.nextafter(start, -np.inf), start)


def _check_times(start: np.ndarray, stop: np.ndarray) -> None:
    bad = ~np.isfinite(stop) | np.isnan(start) | (start == np.inf) | ~(start < stop)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CasekitError(
            f"row {i}: expected start < stop with a finite stop, got ({start[i]!r}, {stop[i]!r}]"
        )


def _by_time(s: np.ndarray | None, t: np.ndarray) -> np.ndarray:
    """Rows in order of (stratum, time), ties in row order."""
    return np.argsort(t, kind="stable") if s is None else np.lexsort((t, s))


def _groups_up_to(g_stratum: np.ndarray, g_time: np.ndarray, s: np.ndarray | None,
                  t: np.ndarray, order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the number of event groups ``(stratum, time) <= (s_i, t_i)``; rows in its order.

    Groups are sorted by (stratum, time). The rows are sorted first (one sort, then binary
    searches with increasing keys, which stay in cache); the second result is that order, in
    which the count never decreases (``order``: that order, when known).
    """
    order = _by_time(s, t) if order is None else order
    ts = t[order]
    if s is None:
        k_sorted = np.searchsorted(g_time, ts, side="right")
    else:
        u = distinct(g_time)
        span = len(u) + 1
        gkey = g_stratum * span + np.searchsorted(u, g_time, side="right")
        k_sorted = np.searchsorted(gkey, s[order] * span + np.searchsorted(u, ts, side="right"),
                                   side="right")
    k = np.empty(len(t), dtype=np.int64)
    k[order] = k_sorted
    return k, order


def _prepare(
    start: Any,
    stop: Any,
    event: Any,
    X: Any,
    *,
    strata: Any = None,
    weights: Any = None,
    ties: str = "efron",
) -> _CoxData:
    stop = _vector("stop", stop, None, np.float64)
    n = len(stop)
    start = _vector("start", start, n, np.float64)
    event = _vector("event", event, n, bool)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] != n:
        raise CasekitError(f"X: expected {n} rows (one per start/stop), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise CasekitError("X: non-finite values (NaN or inf) in the design")
    if ties not in ("efron", "breslow"):
        raise CasekitError(f"ties: expected 'efron' or 'breslow', got {ties!r}")
    start = _entry_times(start, stop)
    _check_times(start, stop)
    w = np.ones(n) if weights is None else _vector("weights", weights, n, np.float64)
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise CasekitError("weights: expected finite values > 0")
    s = _codes("strata", strata, n)[0] if strata is not None else None
    # distinct (stratum, event time) groups of the deaths sorted by (stratum, time, row)
    by_stop_time = _by_time(s, stop)
    death = by_stop_time[event[by_stop_time]]
    sd = np.zeros(len(death), dtype=np.int64) if s is None else s[death]
    td = stop[death]
    new = np.ones(len(death), dtype=bool)
    new[1:] = (td[1:] != td[:-1]) | (sd[1:] != sd[:-1])
    first = np.flatnonzero(new)
    n_groups = len(first)
    dk = np.cumsum(new) - 1
    k_stop, by_stop = _groups_up_to(sd[first], td[first], s, stop, by_stop_time)
    k_start, by_start = _groups_up_to(sd[first], td[first], s, start)
    start_cnt = n - np.cumsum(np.bincount(k_start, minlength=n_groups + 1))[:n_groups]
    d_count = np.bincount(dk, minlength=n_groups).astype(np.float64)
    ell = np.arange(len(death)) - first[dk]
    frac = ell / d_count[dk] if ties == "efron" else np.zeros(len(death))
    wbar = np.bincount(dk, weights=w[death], minlength=n_groups) / np.maximum(d_count, 1)
    tied_pos = np.flatnonzero(d_count[dk] > 1) if ties == "efron" else np.zeros(0, np.int64)
    tnew = np.ones(len(tied_pos), dtype=bool)
    tnew[1:] = dk[tied_pos][1:] != dk[tied_pos][:-1]
    x_mean = X.mean(axis=0) if n else np.zeros(X.shape[1])
    Xu, u = _distinct_rows(X)
    Xu = np.ascontiguousarray(Xu - x_mean)
    stop_rows = np.ascontiguousarray(by_stop[::-1])
    start_rows = np.ascontiguousarray(by_start[::-1][: int(start_cnt[0]) if n_groups else 0])
    du, dw = u[death], w[death]
    return _CoxData(
        Xu=Xu, XuT=np.ascontiguousarray(Xu.T), u=u, x_mean=x_mean, w=w, event=event,
        k_start=k_start, k_stop=k_stop, n_groups=n_groups, death=death, dk=dk, frac=frac,
        d_count=d_count, wbar=wbar, group_time=td[first], group_stratum=sd[first],
        stop_rows=stop_rows,
        stop_cnt=n - np.cumsum(np.bincount(k_stop, minlength=n_groups + 1))[:n_groups],
        start_rows=start_rows, start_cnt=start_cnt, tied=np.unique(dk[tied_pos]),
        tied_pos=tied_pos, tied_local=np.cumsum(tnew) - 1,
        by_tied=_GroupSum(np.cumsum(tnew) - 1, int(tnew.sum())),
        xw_events=Xu.T @ np.bincount(du, weights=dw, minlength=len(Xu)),
        stop_u=u[stop_rows], stop_w=w[stop_rows], stop_k=k_stop[stop_rows],
        start_u=u[start_rows], start_w=w[start_rows], start_k=k_start[start_rows],
        death_u=du, death_w=dw,
    )


# ---------------------------------------------------------------------------------------------
# Cox: likelihood, gradient, information, score residuals
# ---------------------------------------------------------------------------------------------


def _prefix_sums(r: np.ndarray, cnt: np.ndarray) -> np.ndarray:
    """Sum the first ``cnt[k]`` values of ``r``, for every ``k``."""
    c0 = np.empty(len(r) + 1)
    c0[0] = 0.0
    np.cumsum(r, out=c0[1:])
    return c0[cnt]


class _RowPrefix:
    """Running sums of ``r_j x_j`` over rows in a fixed order, read at non-decreasing counts.

    Each read extends the sums over the next rows only (one cache-sized block: gather the
    distinct design rows, scale, cumulative sum), so no ``n x p`` array is ever formed.
    """

    def __init__(self, r: np.ndarray, rows_u: np.ndarray, Xu: np.ndarray) -> None:
        self.r, self.rows_u, self.Xu = r, rows_u, Xu
        self.done = 0
        self.carry = np.zeros(Xu.shape[1])

    def at(self, cnt: np.ndarray) -> np.ndarray:
        """``sum_{first cnt[k] rows} r_j x_j`` for each ``k`` (``len(cnt) x p``)."""
        need = int(cnt[-1])
        z = np.empty((need - self.done + 1, self.Xu.shape[1]))
        z[0] = self.carry
        np.take(self.Xu, self.rows_u[self.done : need], axis=0, out=z[1:])
        z[1:] *= self.r[self.done : need, None]
        np.cumsum(z, axis=0, out=z)
        out = z[cnt - self.done]
        self.carry, self.done = z[-1].copy(), need
        return out


def _risk_sum(data: _CoxData, r_stop: np.ndarray, r_start: np.ndarray) -> np.ndarray:
    """``sum_{i at risk at k} r_i`` for every event group.

    ``r_stop, r_start`` are :meth:`_CoxData.sorted_r` of ``r``. Rows whose stop index exceeds ``k`` minus rows whose start index exceeds ``k``: both sums run
    from the latest time backwards, so they add positive numbers without cancellation against
    the whole data set. Rows with start index 0 never enter the second sum (time-fixed data:
    none do).
    """
    out = _prefix_sums(r_stop, data.stop_cnt)
    if len(data.start_rows):
        out -= _prefix_sums(r_start, data.start_cnt)
    return out


def _risk_sum_x(data: _CoxData, r_stop: np.ndarray, r_start: np.ndarray,
                alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``S1_k = sum_{i at risk at k} r_i x_i`` (``groups x p``) and ``sum_k alpha_k S1_k S1_k'``.

    As :func:`_risk_sum`, group blocks from the latest time backwards, each reading the next
    few thousand rows; the weighted cross-product is accumulated while a block is in cache.
    """
    g, p = data.n_groups, data.Xu.shape[1]
    S1 = np.empty((g, p))
    mm = np.zeros((p, p))
    by_stop = _RowPrefix(r_stop, data.stop_u, data.Xu)
    by_start = _RowPrefix(r_start, data.start_u, data.Xu) if len(r_start) else None
    cs, ct, ar = data.stop_cnt[::-1], data.start_cnt[::-1], alpha[::-1]
    cuts = np.searchsorted(cs, np.arange(_ROW_BLOCK, len(r_stop), _ROW_BLOCK), side="right")
    edges = distinct(np.r_[0, cuts, g])
    for j0, j1 in itertools.pairwise(edges):
        block = by_stop.at(cs[j0:j1])
        if by_start is not None:
            block -= by_start.at(ct[j0:j1])
        mm += block.T @ (block * ar[j0:j1, None])
        S1[g - j1 : g - j0] = block[::-1]
    return S1, mm


def _cumsum_rows(a: np.ndarray) -> np.ndarray:
    """``np.cumsum(a, axis=0, out=a)`` for a C-ordered 2-d array, in blocks of rows.

    The blocks stay in cache (numpy's own loop walks each column down the whole array in turn).

    Examples
    --------
    >>> a = np.arange(12.0).reshape(6, 2)
    >>> bool((_cumsum_rows(a.copy()) == np.cumsum(a, axis=0)).all())
    True
    """
    step = _ROW_BLOCK // 16
    np.cumsum(a[:step], axis=0, out=a[:step])
    for s0 in range(step, len(a), step):
        block = a[s0 : s0 + step]
        block[0] += a[s0 - 1]
        np.cumsum(block, axis=0, out=block)
    return a


@dataclass
class _State:
    """Everything computed at one beta (kept for the residuals)."""

    ll: float
    grad: np.ndarray
    info: np.ndarray | None
    e_u: np.ndarray  # exp(eta - shift) per distinct design row
    inv: np.ndarray  # 1 / phi_kl per death (scaled by exp(shift))
    phi: np.ndarray  # phi_kl per death: the Efron risk-set sum of each death
    acum: np.ndarray  # cumulative sums over groups of wbar_k sum_l 1 / phi_kl (leading 0)
    b: np.ndarray  # wbar_k sum_l f_l / phi_kl per group
    S1: np.ndarray | None  # risk-set sums of r x, groups x p
    S1d: np.ndarray | None  # their parts over the deaths, tied groups x p (zero elsewhere)
    abc: tuple[np.ndarray, np.ndarray, np.ndarray] | None


def _evaluate(data: _CoxData, beta: np.ndarray, need_info: bool = True) -> _State:
    dk, f, g = data.dk, data.frac, data.n_groups
    eta_u = data.Xu @ beta
    shift = float(eta_u.max()) if len(eta_u) else 0.0
    e_u = np.exp(eta_u - shift)
    r_stop, r_start = data.stop_w * e_u[data.stop_u], data.start_w * e_u[data.start_u]
    S0 = _risk_sum(data, r_stop, r_start)
    rd = data.death_w * e_u[data.death_u]
    S0d = np.bincount(dk, weights=rd, minlength=g)
    phi = S0[dk] - f * S0d[dk]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / phi
        ll = float(data.death_w @ eta_u[data.death_u] - data.wbar[dk] @ (np.log(phi) + shift))
    if not np.isfinite(ll):  # a step too far (a risk set underflowed): rejected by the caller
        nan = np.full(len(beta), np.nan)
        return _State(ll, nan, None, e_u, inv, phi, np.zeros(g + 1), np.zeros(g), None, None,
                      None)
    a = data.wbar * np.bincount(dk, weights=inv, minlength=g)
    b = data.wbar * np.bincount(dk, weights=f * inv, minlength=g)
    acum = np.r_[0.0, np.cumsum(a)]
    # c_i = r_i (acum[k_stop_i] - acum[k_start_i] - [i dies] b_k), summed per distinct row
    n_u = len(e_u)
    cu = np.bincount(data.stop_u, weights=r_stop * acum[data.stop_k], minlength=n_u)
    if len(r_start):
        cu -= np.bincount(data.start_u, weights=r_start * acum[data.start_k], minlength=n_u)
    cu -= np.bincount(data.death_u, weights=rd * b[dk], minlength=n_u)
    grad = data.xw_events - data.XuT @ cu
    if not need_info:
        return _State(ll, grad, None, e_u, inv, phi, acum, b, None, None, None)
    inv2 = inv * inv
    alpha_ = data.wbar * np.bincount(dk, weights=inv2, minlength=g)
    beta_ = data.wbar * np.bincount(dk, weights=f * inv2, minlength=g)
    gamma_ = data.wbar * np.bincount(dk, weights=f * f * inv2, minlength=g)
    S1, mm = _risk_sum_x(data, r_stop, r_start, alpha_)
    tp = data.tied_pos
    S1d = data.by_tied(rd[tp], data.Xu, data.death_u[tp])
    if len(tp):  # Efron's terms in S1d: tied groups only (their f is 0 elsewhere)
        t = data.tied
        cross = S1[t].T @ (beta_[t, None] * S1d)
        mm += S1d.T @ (gamma_[t, None] * S1d) - cross - cross.T
    info = (data.XuT * cu) @ data.Xu - mm
    return _State(ll, grad, info, e_u, inv, phi, acum, b, S1, S1d, (alpha_, beta_, gamma_))


def _solve(info: np.ndarray, grad: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(info, grad)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(info, grad, rcond=None)[0]


def _newton(
    data: _CoxData, max_iter: int, tol: float, init: np.ndarray | None = None
) -> tuple[np.ndarray, _State, float, int, bool]:
    """Newton-Raphson with step halving; returns beta, the state there, null loglik, iterations.

    Near the optimum (steps below ``_CHORD_START``) the steps keep the last information
    (a chord method: the evaluations then need no risk-set sums of ``r x``, a tenth of the
    cost) as long as each step is at most ``_CHORD_RATE`` times the previous one; otherwise
    the information is recomputed. The returned state carries the information at the
    estimate: recomputed there when the last evaluations skipped it, or the one of the last
    evaluation when the final Newton step is below ``tol`` (it moves by O(tol) relative).
    """
    p = data.Xu.shape[1]
    beta = np.zeros(p) if init is None else np.asarray(init, dtype=float).copy()
    state = _evaluate(data, beta)
    ll_null = state.ll if init is None else _evaluate(data, np.zeros(p), False).ll
    if p == 0:
        return beta, state, ll_null, 0, True
    n_ev = max(1.0, float(len(data.death)))
    info = state.info
    converged, it, prev = False, 0, np.inf
    for it in range(1, max_iter + 1):  # noqa: B007
        step = _solve(info, state.grad)
        size = float(np.max(np.abs(step)))
        if state.info is None and size > _CHORD_RATE * prev:  # slow: refresh the information
            state = _evaluate(data, beta)
            info = state.info
            step = _solve(info, state.grad)
            size = float(np.max(np.abs(step)))
        if size < tol:
            beta = beta + step
            converged = True
            break
        cheap = size < _CHORD_START
        scale = 1.0
        while True:
            cand = beta + scale * step
            new = _evaluate(data, cand, need_info=not cheap)
            if np.isfinite(new.ll) and new.ll >= state.ll - 1e-12 * max(1.0, abs(state.ll)):
                break
            scale /= 2
            if scale < 1e-8:
                break
        if not np.isfinite(new.ll):  # no finite step left: stop where we are, not converged
            break
        beta, state, prev = cand, new, size * scale
        if state.info is None:
            continue
        info = state.info
        if float(np.max(np.abs(state.grad))) < 1e-9 * n_ev:
            converged = True
            break
    if state.info is None:
        state = _evaluate(data, beta)
    return beta, state, ll_null, it, converged


def _death_means(data: _CoxData, st: _State) -> np.ndarray:
    """Efron's risk-set mean ``m_kl`` of every death, ``deaths x p``."""
    assert st.S1 is not None
    assert st.S1d is not None
    m = st.S1[data.dk] * st.inv[:, None]
    tp = data.tied_pos
    if len(tp):
        m[tp] -= st.S1d[data.tied_local] * (data.frac[tp] * st.inv[tp])[:, None]
    return m


def _score_sums(data: _CoxData, st: _State, codes: np.ndarray, n_codes: int,
                weights: np.ndarray) -> np.ndarray:
    """``sum_{i: codes_i = c} weights_i U_i`` of the score residuals (``n_codes x p``).

    ``U_i = e_i (G[k_stop_i] - G[k_start_i] - x_i H_i) + [i dies] (x_i - mbar_i - e_i h_k)``
    with ``G`` the cumulative sums over event groups of ``alpha_k S1_k - beta_k S1d_k``,
    ``h_k = beta_k S1_k - gamma_k S1d_k`` and ``mbar_i`` the mean of the Efron means of the
    death's group (see the module notes); no ``n x p`` array is formed: every term is a sparse
    group sum of rows of a groups x p (or distinct rows x p) matrix.
    """
    assert st.S1 is not None
    assert st.S1d is not None
    assert st.abc is not None
    alpha_, beta_, gamma_ = st.abc
    dk, g, p, t = data.dk, data.n_groups, data.Xu.shape[1], data.tied
    we = weights * st.e_u[data.u]
    gcum = np.empty((g + 1, p))
    gcum[0] = 0.0
    np.multiply(st.S1, alpha_[:, None], out=gcum[1:])
    if len(t):
        gcum[1 + t] -= st.S1d * beta_[t, None]
    _cumsum_rows(gcum[1:])
    by_row = _GroupSum(codes, n_codes)
    out = by_row(we, gcum, data.k_stop)
    out -= by_row(we, gcum, data.k_start)
    del gcum
    H = st.acum[data.k_stop] - st.acum[data.k_start]
    H[data.death] -= st.b[dk]
    out += by_row(weights * data.event - we * H, data.Xu, data.u)
    by_death = _GroupSum(codes[data.death], n_codes)
    e1 = np.bincount(dk, weights=st.inv, minlength=g)
    with np.errstate(divide="ignore", invalid="ignore"):
        mbar = st.S1 * (e1 / data.d_count)[:, None]
        if len(t):
            ef = np.bincount(dk, weights=data.frac * st.inv, minlength=g)
            mbar[t] -= st.S1d * (ef[t] / data.d_count[t])[:, None]
    out -= by_death(weights[data.death], mbar, dk)
    if len(t):
        hk = st.S1[t] * beta_[t, None] - st.S1d * gamma_[t, None]
        tied_rows = data.death[data.tied_pos]
        out -= _GroupSum(codes[tied_rows], n_codes)(we[tied_rows], hk, data.tied_local)
    return out


def _score_residuals(data: _CoxData, st: _State) -> np.ndarray:
    """Unweighted score residuals ``U_i`` (n x p, see the module notes); ``sum w_i U_i = grad``."""
    n = len(data.w)
    return _score_sums(data, st, np.arange(n), n, np.ones(n))


def _rank_scores(data: _CoxData, stop: np.ndarray, rank: str) -> np.ndarray:
    """Centred rank of every death's time.

    ``"average"``: tied times share their average rank; ``"ordinal"``: distinct ranks in
    lifelines' order (latest first, tied events in row order), counted from the earliest.
    """
    n_d = len(data.death)
    if rank not in ("average", "ordinal"):
        raise CasekitError(f"rank: expected 'average' or 'ordinal', got {rank!r}")
    if not data.group_stratum.any():  # deaths by (time, row), groups = distinct times
        first = np.flatnonzero(np.r_[True, data.dk[1:] != data.dk[:-1]])[data.dk]
        size = data.d_count[data.dk]
        if rank == "average":
            return first + (size + 1) / 2 - (n_d + 1) / 2
        return 2.0 * first + size - np.arange(n_d) - (n_d + 1) / 2
    times = stop[data.death]
    ranks = np.empty(n_d)
    if rank == "average":
        order = np.argsort(times, kind="stable")
        ts = times[order]
        new = np.ones(n_d, dtype=bool)
        new[1:] = ts[1:] != ts[:-1]
        first = np.flatnonzero(new)
        size = np.diff(np.r_[first, n_d])
        ranks[order] = np.repeat(first + (size + 1) / 2, size)
    else:
        order = np.lexsort((data.death, -times))
        ranks[order] = np.arange(n_d, 0, -1, dtype=float)
    return ranks - (n_d + 1) / 2


def _ph_p_values(data: _CoxData, st: _State, var: np.ndarray, stop: np.ndarray,
                 rank: str) -> np.ndarray:
    """Grambsch-Therneau test per coefficient (see :func:`cox_fit_ph`).

    Scaled Schoenfeld residuals against the rank of the event time, from the risk-set sums of
    the fit (no residual matrix is formed).
    """
    p, n_d = len(var), len(data.death)
    if n_d < 3 or p == 0:
        return np.full(p, np.nan)
    assert st.S1 is not None
    assert st.S1d is not None
    gs = _rank_scores(data, stop, rank)
    # sum_i g_i (x_i - m_i): x through the distinct rows, m through the groups
    gi = gs * st.inv
    gr = data.XuT @ np.bincount(data.death_u, weights=gs, minlength=len(data.Xu))
    gr -= st.S1.T @ np.bincount(data.dk, weights=gi, minlength=data.n_groups)
    if len(data.tied):
        tp = data.tied_pos
        gr += st.S1d.T @ np.bincount(data.tied_local, weights=data.frac[tp] * gi[tp],
                                   minlength=len(data.tied))
    se2 = np.clip(np.diag(var), 1e-300, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = n_d * (var @ gr) ** 2 / (se2 * (gs**2).sum())
    return np.asarray(_chi2_sf(stat, 1), dtype=float)


# ---------------------------------------------------------------------------------------------
# Cox: public
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model (see :func:`cox_fit`).

    Attributes
    ----------
    beta : ndarray
        Log hazard ratios, one per column of ``X``.
    var : ndarray
        Model-based variance: the inverse of the observed information at ``beta``.
    robust_var : ndarray or None
        Cluster-robust (sandwich) variance ``D' D``; None when no ``cluster`` was given.
    se, robust_se : ndarray, ndarray or None
        Square roots of the diagonals.
    loglik, loglik_null : float
        Partial log-likelihood at ``beta`` and at zero.
    n_obs, n_events, n_clusters : int
        Rows, events (rows with ``event`` true), clusters (0 without ``cluster``).
    n_iter : int
        Iterations (Newton-Raphson steps, and near the optimum chord steps that keep the last
        information; see the module notes).
    converged : bool
        Whether the step fell below ``tol``.
    ties : str
        ``"efron"`` or ``"breslow"``.
    """

    beta: np.ndarray
    var: np.ndarray
    robust_var: np.ndarray | None
    se: np.ndarray
    robust_se: np.ndarray | None
    loglik: float
    loglik_null: float
    n_obs: int
    n_events: int
    n_clusters: int
    n_iter: int
    converged: bool
    ties: str = "efron"

    def summary(self, names: Any = None, *, alpha: float = 0.05) -> pd.DataFrame:
        """One row per coefficient: coef, se, robust_se, hazard ratio with its interval, z, p.

        Columns ``coef, se, robust_se, hazard_ratio, hr_ci_low, hr_ci_high, z, p``.

        The intervals, ``z`` and ``p`` use ``robust_se`` when it exists, otherwise ``se``.

        Examples
        --------
        >>> from casekit.engine import cox_fit
        >>> res = cox_fit(np.zeros(6), [1.0, 2, 3, 4, 5, 6], [1, 1, 1, 1, 0, 1],
        ...               np.array([[1.0], [0], [1], [0], [1], [0]]))
        >>> list(res.summary(["x"]).columns[:3])
        ['coef', 'se', 'robust_se']
        """
        import pandas as pd

        se = self.robust_se if self.robust_se is not None else self.se
        z = _z(alpha)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            zval = self.beta / se
            frame = pd.DataFrame(
                {
                    "coef": self.beta,
                    "se": self.se,
                    "robust_se": np.nan if self.robust_se is None else self.robust_se,
                    "hazard_ratio": np.exp(self.beta),
                    "hr_ci_low": np.exp(self.beta - z * se),
                    "hr_ci_high": np.exp(self.beta + z * se),
                    "z": zval,
                    "p": 2 * _norm_sf(np.abs(zval)),
                },
                index=None if names is None else list(names),
            )
        return frame


def cox_fit(
    start: Any,
    stop: Any,
    event: Any,
    X: Any,
    *,
    strata: Any = None,
    cluster: Any = None,
    weights: Any = None,
    ties: Literal["efron", "breslow"] = "efron",
    max_iter: int = 50,
    tol: float = 1e-9,
) -> CoxResult:
    """Cox proportional-hazards model on counting-process ``(start, stop]`` rows.

    Parameters
    ----------
    start, stop : array-like of float
        Each row covers ``(start, stop]``: it is at risk at time ``t`` when
        ``start < t <= stop``, with two same-time conventions: a start of exactly 0 includes
        time 0 (so time-fixed data are ``start = 0`` and a zero duration is at risk at time 0
        with every case, as in lifelines' ``CoxPHFitter``), and a row starting and stopping at
        one time is at risk at that time. A case with
        time-varying covariates has one row per stretch of constant covariates. **Delayed
        entry** (left truncation, a case observed only from time ``a``) is simply ``start = a``
        on the case's first row.
    event : array-like of bool
        Whether the row ends with the event (only a case's last row can).
    X : array-like, shape (n, p)
        Covariates in force during the row.
    strata : array-like, optional
        Separate baseline hazard per stratum (e.g. per matter for a within-matter effect).
    cluster : array-like, optional
        Cluster labels (case, matter, petitioner) for the sandwich variance ``robust_var``;
        a case's rows must share its cluster.
    weights : array-like of float, optional
        Case weights (> 0); tied events use their mean weight (R's convention).
    ties : {"efron", "breslow"}
        Tie handling.
    max_iter : int, default 50
    tol : float, default 1e-9
        Convergence when the largest coefficient step is below ``tol``.

    Returns
    -------
    CoxResult

    Raises
    ------
    CasekitError
        Mismatched lengths, ``start >= stop``, non-finite covariates, bad weights, or no
        events at all.

    Notes
    -----
    Newton-Raphson with step halving on the partial likelihood described in the module notes
    (Therneau & Grambsch 2000, ch. 3); the information is computed from risk-set sums over
    event times, never from ``n x p x p`` arrays. BLAS runs on one thread during the fit
    (``threadpoolctl``): the products are small and threaded BLAS stalls on busy machines.
    The robust variance is Lin & Wei's (1989) sandwich with score residuals summed within
    clusters, as R's ``coxph(..., cluster=)`` and lifelines' ``CoxPHFitter(cluster_col=)``
    (which handles time-fixed data without ties only).

    Examples
    --------
    Cases 1 and 4 gain an agency mid-way (two rows each, ``x`` turns 1); case 3 enters late
    (delayed entry at time 1); the estimate equals lifelines' ``CoxTimeVaryingFitter``:

    >>> from casekit.engine import cox_fit
    >>> res = cox_fit(start=[0, 2, 0, 1, 0, 3, 0, 0], stop=[2, 5, 3, 4, 3, 7, 8, 6],
    ...               event=[0, 1, 0, 1, 0, 1, 0, 1],
    ...               X=np.array([[0.0], [1], [0], [1], [0], [1], [0], [0]]),
    ...               cluster=[1, 1, 2, 3, 4, 4, 5, 6])
    >>> bool(res.converged), res.n_obs, res.n_events, res.n_clusters
    (True, 8, 4, 6)
    >>> res.beta.round(4).tolist(), res.se.round(3).tolist(), res.robust_se.round(3).tolist()
    ([1.2084], [1.173], [0.924])
    """
    return _cox_fit_state(start, stop, event, X, strata=strata, cluster=cluster,
                          weights=weights, ties=ties, max_iter=max_iter, tol=tol)[0]


def _cox_fit_state(start: Any, stop: Any, event: Any, X: Any, *, strata: Any = None,
                   cluster: Any = None, weights: Any = None, ties: str = "efron",
                   max_iter: int = 50, tol: float = 1e-9) -> tuple[CoxResult, _CoxData, _State]:
    """:func:`cox_fit`, plus the prepared rows and the state at the estimate (for residuals)."""
    with blas_single_thread():
        data = _prepare(start, stop, event, X, strata=strata, weights=weights, ties=ties)
        if len(data.death) == 0:
            raise CasekitError("cox_fit: no events (every row is censored): nothing to estimate")
        init = _start_value(start, stop, event, X, strata, weights, ties)
        beta, state, ll_null, it, converged = _newton(data, max_iter, tol, init)
        var = _inverse(state.info)
        se = np.sqrt(np.clip(np.diag(var), 0, None))
        robust_var = robust_se = None
        n_clusters = 0
        if cluster is not None:
            codes, n_clusters = _codes("cluster", cluster, len(data.w))
            D = _score_sums(data, state, codes, n_clusters, data.w) @ var
            robust_var = D.T @ D
            robust_se = np.sqrt(np.clip(np.diag(robust_var), 0, None))
    res = CoxResult(
        beta=beta, var=var, robust_var=robust_var, se=se, robust_se=robust_se,
        loglik=state.ll, loglik_null=ll_null, n_obs=len(data.w), n_events=len(data.death),
        n_clusters=n_clusters, n_iter=it, converged=converged, ties=ties,
    )
    return res, data, state


def _start_value(start: Any, stop: Any, event: Any, X: Any, strata: Any, weights: Any,
                 ties: str) -> np.ndarray | None:
    """Newton's starting point on many rows, or None (start from 0).

    The estimate on every k-th row (about ``_START_ROWS`` rows, at most a tenth of them);
    None on small data or when that fit fails. The full-data iterations then begin near the optimum, where they keep the information of
    their first step (see :func:`_newton`); the estimate itself is the full-data one.
    """
    stop_a = np.asarray(stop)
    n = len(stop_a)
    if n < 2 * _START_ROWS:
        return None
    take = slice(None, None, max(10, n // _START_ROWS))

    def sub(v: Any) -> Any:
        return None if v is None else np.asarray(v)[take]

    data = _prepare(sub(start), stop_a[take], sub(event), np.asarray(X, dtype=np.float64)[take],
                    strata=sub(strata), weights=sub(weights), ties=ties)
    p = data.Xu.shape[1]
    if p == 0 or len(data.death) < 10 * p:
        return None
    beta, _, _, _, converged = _newton(data, 30, 1e-6)
    return beta if converged and np.isfinite(beta).all() and np.abs(beta).max() < 20 else None


def cox_fit_schoenfeld(start: Any, stop: Any, event: Any, X: Any, *, strata: Any = None,
                       cluster: Any = None, weights: Any = None,
                       ties: Literal["efron", "breslow"] = "efron", max_iter: int = 50,
                       tol: float = 1e-9) -> tuple[CoxResult, tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray]]:
    """:func:`cox_fit` and :func:`schoenfeld_residuals` at its estimate, from one preparation.

    The same numbers as calling the two in turn, up to the convergence tolerance (the
    residuals reuse the risk-set sums of the last Newton evaluation instead of sorting and
    summing the rows again).

    Examples
    --------
    >>> from casekit.engine import cox_fit_schoenfeld, schoenfeld_residuals
    >>> args = (np.zeros(6), [1.0, 2, 3, 4, 5, 6], [1, 1, 1, 1, 0, 1],
    ...         np.array([[1.0], [0], [1], [0], [1], [0]]))
    >>> res, (rows, times, resid) = cox_fit_schoenfeld(*args)
    >>> bool(np.allclose(resid, schoenfeld_residuals(res, *args)[2], rtol=0, atol=1e-8))
    True
    """
    res, data, st = _cox_fit_state(start, stop, event, X, strata=strata, cluster=cluster,
                                   weights=weights, ties=ties, max_iter=max_iter, tol=tol)
    return res, _schoenfeld(data, st, stop)


def _schoenfeld(data: _CoxData, st: _State, stop: Any) -> tuple[np.ndarray, np.ndarray,
                                                                np.ndarray]:
    """Event rows, their times and their Schoenfeld residuals ``x_i - m_kl`` at a state."""
    resid = data.Xu[data.death_u] - _death_means(data, st)
    return data.death, np.asarray(stop, dtype=float)[data.death], resid


def cox_fit_ph(start: Any, stop: Any, event: Any, X: Any, *, strata: Any = None,
               cluster: Any = None, weights: Any = None,
               ties: Literal["efron", "breslow"] = "efron", max_iter: int = 50,
               tol: float = 1e-9,
               rank: Literal["average", "ordinal"] = "average") -> tuple[CoxResult, np.ndarray]:
    """:func:`cox_fit` and the proportional-hazards test of each coefficient.

    Parameters
    ----------
    start, stop, event, X, strata, cluster, weights, ties, max_iter, tol
        As in :func:`cox_fit`.
    rank : {"average", "ordinal"}, default "average"
        The time scale of the test: the rank of the event time with tied times sharing their
        average rank, or ``"ordinal"``: distinct ranks in lifelines' order (latest first, tied
        events in row order), as ``lifelines.statistics.proportional_hazard_test(...,
        time_transform="rank")``.

    Returns
    -------
    result : CoxResult
    p_values : ndarray
        One per coefficient (NaN for all with fewer than 3 events).

    Notes
    -----
    The Grambsch-Therneau (1994) approximation: scaled Schoenfeld residuals ``r*_i = n_d V r_i +
    beta`` against the centred rank ``g_i``, ``chi2_j = (sum_i g_i r*_ij)^2 / (n_d V_jj sum_i
    g_i^2)`` on 1 df (``V`` the model-based variance, ``V_jj`` floored at 1e-300). As ``sum_i g_i
    = 0`` it needs only ``sum_i g_i r_i``, which comes from the risk-set sums of the last Newton
    step: the same numbers as :func:`schoenfeld_residuals`, without the ``n_events x p`` matrix.

    Examples
    --------
    >>> from casekit.engine import cox_fit_ph
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 2, 300).astype(float)
    >>> res, p = cox_fit_ph(np.zeros(300), rng.exponential(1 / np.exp(0.7 * x)), np.ones(300), x)
    >>> bool(0.5 < res.beta[0] < 0.9), bool(p[0] > 0.01)
    (True, True)
    """
    res, data, st = _cox_fit_state(start, stop, event, X, strata=strata, cluster=cluster,
                                   weights=weights, ties=ties, max_iter=max_iter, tol=tol)
    with blas_single_thread():
        p = _ph_p_values(data, st, res.var, np.asarray(stop, dtype=float), rank)
    return res, p


def blas_single_thread() -> Any:
    """A context in which BLAS runs on one thread (``threadpoolctl``).

    Every casekit entry point that does linear algebra on long arrays runs inside it: the
    products are thin (``n x p`` with small ``p``) and threaded BLAS stalls on a busy machine
    (measured: 2.1 s with one thread, 21 s with OpenBLAS' default on a loaded 2-core machine).

    Examples
    --------
    >>> with blas_single_thread():
    ...     float(np.ones(3) @ np.ones(3))
    3.0
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _inverse(info: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(info)


def _beta_of(result_or_beta: CoxResult | Any) -> np.ndarray:
    if isinstance(result_or_beta, CoxResult):
        return result_or_beta.beta
    return np.atleast_1d(np.asarray(result_or_beta, dtype=float))


@_one_blas_thread
def schoenfeld_residuals(
    result_or_beta: CoxResult | Any,
    start: Any,
    stop: Any,
    event: Any,
    X: Any,
    *,
    strata: Any = None,
    weights: Any = None,
    ties: Literal["efron", "breslow"] = "efron",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Schoenfeld residuals ``x_i - m_kl`` of every event at the fitted coefficients.

    Parameters
    ----------
    result_or_beta : CoxResult or array-like
        The fit (or its coefficients).
    start, stop, event, X, strata, weights, ties
        The rows the model was fitted on (see :func:`cox_fit`).

    Returns
    -------
    rows, times, residuals : ndarray, ndarray, ndarray
        Event rows ordered by stratum, time and row number; their times; residuals
        (``n_events x p``). With Efron ties the ``l``-th tied event (in row order) is compared
        with the ``l``-th Efron mean.

    Examples
    --------
    >>> from casekit.engine import schoenfeld_residuals
    >>> rows, times, res = schoenfeld_residuals([0.0], np.zeros(3), [1.0, 2, 3], [1, 1, 0],
    ...                                         np.array([[1.0], [0], [1]]))
    >>> rows.tolist(), res.ravel().round(3).tolist()
    ([0, 1], [0.333, -0.5])
    """
    data = _prepare(start, stop, event, X, strata=strata, weights=weights, ties=ties)
    beta = _beta_of(result_or_beta)
    return _schoenfeld(data, _evaluate(data, beta), stop)


@_one_blas_thread
def breslow_cumhaz(
    result_or_beta: CoxResult | Any,
    start: Any,
    stop: Any,
    event: Any,
    X: Any,
    *,
    strata: Any = None,
    weights: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Breslow estimate of the baseline cumulative hazard ``H0(t)`` at ``X = 0``.

    Parameters
    ----------
    result_or_beta : CoxResult or array-like
        The fit (or its coefficients).
    start, stop, event, X, strata, weights
        The rows the model was fitted on (see :func:`cox_fit`).

    Returns
    -------
    times : ndarray
        Distinct event times (all strata together), increasing.
    cumhaz : ndarray
        ``H0(t) = sum_{t_k <= t} (sum of event weights at t_k) / sum_{i at risk} w_i
        exp(x_i' beta)``; shape ``(len(times),)``, or ``(len(times), n_strata)`` with strata
        (columns in sorted order of the stratum labels).

    Notes
    -----
    The baseline is at ``X = 0``, i.e. every indicator at its reference level: a covariate
    pattern with linear predictor ``x' beta`` has survival ``exp(-H0(t)) ** exp(x' beta)``
    (see :func:`median_time`). lifelines' ``baseline_cumulative_hazard_`` is at the column
    means instead: multiply ours by ``exp(mean(X) @ beta)`` to compare.

    Examples
    --------
    >>> from casekit.engine import breslow_cumhaz
    >>> t, h = breslow_cumhaz([0.0], np.zeros(4), [1.0, 2, 3, 4], [1, 1, 0, 1], np.zeros((4, 1)))
    >>> t.tolist(), h.round(3).tolist()
    ([1.0, 2.0, 4.0], [0.25, 0.583, 1.583])
    """
    beta = _beta_of(result_or_beta)
    Xa = np.asarray(X, dtype=float)
    Xa = Xa[:, None] if Xa.ndim == 1 else Xa
    data = _prepare(start, stop, event, np.zeros((len(Xa), 0)), strata=strata, weights=weights)
    eta = Xa @ beta if Xa.shape[1] else np.zeros(len(Xa))
    shift = float(eta.max()) if len(eta) else 0.0
    S0 = _risk_sum(data, *data.sorted_r(data.w * np.exp(eta - shift)))
    dw = np.bincount(data.dk, weights=data.w[data.death], minlength=data.n_groups)
    dh = np.exp(np.log(dw) - np.log(S0) - shift)
    if strata is None:
        return data.group_time, np.cumsum(dh)
    times = distinct(data.group_time)
    n_strata = _codes("strata", strata, len(Xa))[1]
    inc = np.zeros((len(times), n_strata))
    inc[np.searchsorted(times, data.group_time), data.group_stratum] = dh
    return times, np.cumsum(inc, axis=0)


def median_time(times: Any, cumhaz: Any, *, hazard_ratio: Any = 1.0) -> Any:
    """Median of ``S(t) = exp(-H0(t)) ** hazard_ratio``: the first time ``S(t) <= 1/2``.

    Parameters
    ----------
    times, cumhaz : array-like
        A baseline cumulative hazard step function (:func:`breslow_cumhaz`, one stratum).
    hazard_ratio : float or array-like, default 1
        ``exp(x' beta)`` of the covariate pattern, e.g. "this pattern in force from the start".

    Returns
    -------
    float or ndarray
        ``inf`` where the curve never reaches one half within the data.

    Examples
    --------
    >>> from casekit.engine import median_time
    >>> median_time([1.0, 2.0, 4.0], [0.25, 0.58, 1.58], hazard_ratio=[1.0, 2.0, 0.1]).tolist()
    [4.0, 2.0, inf]
    """
    t = np.asarray(times, dtype=float)
    h = np.asarray(cumhaz, dtype=float)
    hr = np.asarray(hazard_ratio, dtype=float)
    # S(t) <= 1/2  <=>  hazard_ratio * H0(t) >= log 2; H0 is non-decreasing
    with np.errstate(divide="ignore", over="ignore"):
        target = np.log(2.0) / hr
    idx = np.searchsorted(h, target, side="left")
    out = np.where(idx < len(t), t[np.minimum(idx, len(t) - 1)], np.inf)
    return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------------------------------------
# Aalen-Johansen cumulative incidence
# ---------------------------------------------------------------------------------------------


def aalen_johansen(
    entry: Any,
    exit: Any,
    cause: Any,
    *,
    times: Any,
    cause_of_interest: int,
    alpha: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative incidence of one exit cause with competing causes and delayed entry.

    Parameters
    ----------
    entry : array-like of float, or None
        Time each case enters observation (None: every case from the start). A case is at
        risk at ``t`` when ``entry < t <= exit``, with the same-time conventions of
        :func:`cox_fit`: entry 0 includes time 0 (zero durations count at time 0, as in
        lifelines), and a stay entering and exiting at one time is at risk then.
    exit : array-like of float
        Time of exit (or of censoring).
    cause : array-like of int
        0 = censored, otherwise the exit cause.
    times : array-like of float
        Where to evaluate.
    cause_of_interest : int
        The cause whose incidence is wanted (e.g. closing); every other non-zero cause competes.
    alpha : float, default 0.05
        Pointwise ``1 - alpha`` intervals.

    Returns
    -------
    cif, ci_low, ci_high : ndarray
        ``F(t) = sum_{t_i <= t} S(t_i-) d1_i / n_i`` with ``S`` the all-cause Kaplan-Meier and
        ``n_i`` the number at risk; intervals on the ``log(-log F)`` scale with the delta-method
        variance of lifelines' ``AalenJohansenFitter`` (SAS PROC LIFETEST's formula). Where
        ``F = 0`` the bounds are 0; beyond the last exit everything is NaN (nobody observed).

    Notes
    -----
    Censoring competing exits instead (1 - Kaplan-Meier of the cause) overstates the
    incidence: a case that left by another route can no longer close. Unlike lifelines,
    tied times need no jitter: ties are grouped exactly.

    Examples
    --------
    >>> from casekit.engine import aalen_johansen
    >>> cif, lo, hi = aalen_johansen(None, [1.0, 2, 3, 4, 5], [1, 2, 1, 0, 1],
    ...                              times=[2.5, 5], cause_of_interest=1)
    >>> cif.round(3).tolist()
    [0.2, 0.8]
    """
    t_exit = _vector("exit", exit, None, np.float64)
    n = len(t_exit)
    t_entry = np.full(n, -np.inf) if entry is None else _vector("entry", entry, n, np.float64)
    c = _vector("cause", cause, n, np.int64)
    t_entry = _entry_times(t_entry, t_exit)
    _check_times(t_entry, t_exit)
    ev = c != 0
    u = distinct(t_exit[ev])
    d = np.bincount(np.searchsorted(u, t_exit[ev]), minlength=len(u)).astype(float)
    hit = c == cause_of_interest
    d1 = np.bincount(np.searchsorted(u, t_exit[hit]), minlength=len(u)).astype(float)
    # at risk at u: exit >= u minus entry >= u
    at_risk = (n - np.searchsorted(np.sort(t_exit), u, side="left")) - (
        n - np.searchsorted(np.sort(t_entry), u, side="left")
    )
    return _aj_curve(u, d, d1, at_risk.astype(float), times, alpha,
                     float(t_exit.max()) if n else None)


def _aj_presorted(exit_sorted: np.ndarray, cause_sorted: np.ndarray, *, times: Any,
                  cause_of_interest: int, alpha: float = 0.05, interval: bool = True
                  ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """:func:`aalen_johansen` of cases at risk from time 0, with exits already sorted ascending.

    That is ``aalen_johansen(np.zeros(n), exit, cause, ...)``. The causes are aligned with the exits (their order among tied exits does not matter). The
    counts come from one pass over the sorted rows instead of sorts and searches of every row;
    the result is the same, bit for bit (tested). Anything the general function would reject
    (a negative, infinite or NaN exit) goes through it, so the error is the same too. With
    ``interval=False`` only the estimate is computed (the bounds are None).

    Examples
    --------
    >>> from casekit.engine import _aj_presorted, aalen_johansen
    >>> exit, cause = np.array([1.0, 2, 3, 4, 5]), np.array([1, 2, 1, 0, 1])
    >>> a = _aj_presorted(exit, cause, times=[2.5, 5], cause_of_interest=1)
    >>> b = aalen_johansen(np.zeros(5), exit, cause, times=[2.5, 5], cause_of_interest=1)
    >>> all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))
    True
    """
    n = len(exit_sorted)
    if not n or not (exit_sorted[0] >= 0 and np.isfinite(exit_sorted[-1])):
        return aalen_johansen(np.zeros(n), exit_sorted, cause_sorted, times=times,
                              cause_of_interest=cause_of_interest, alpha=alpha)
    ev = cause_sorted != 0
    t_ev = exit_sorted[ev]
    starts = np.flatnonzero(np.r_[True, t_ev[1:] != t_ev[:-1]]) if len(t_ev) else \
        np.zeros(0, dtype=np.int64)
    u = t_ev[starts]
    d = np.diff(np.r_[starts, len(t_ev)]).astype(float)
    hit = (cause_sorted[ev] == cause_of_interest).astype(float)
    d1 = np.add.reduceat(hit, starts) if len(starts) else np.zeros(0)
    nr = (n - np.searchsorted(exit_sorted, u, side="left")).astype(float)
    return _aj_curve(u, d, d1, nr, times, alpha, float(exit_sorted[-1]), interval)


def _aj_curve(u: np.ndarray, d: np.ndarray, d1: np.ndarray, nr: np.ndarray, times: Any,
              alpha: float, last_exit: float | None, interval: bool = True
              ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The Aalen-Johansen estimate and its interval from the counts at the exit times ``u``.

    ``d`` exits of any cause, ``d1`` of the cause of interest and ``nr`` at risk at each time;
    evaluated at ``times`` (NaN beyond ``last_exit``, None: no rows). Every term is a running
    sum or product, so the times after the last one asked for are left out: the same numbers.
    """
    tq = np.atleast_1d(np.asarray(times, dtype=float))
    if len(tq) and not np.isnan(tq).any():
        cut = int(np.searchsorted(u, tq.max(), side="right"))
        u, d, d1, nr = u[:cut], d[:cut], d1[:cut], nr[:cut]
    S = np.cumprod(1 - d / nr)
    lag = np.r_[1.0, S[:-1]]
    F = np.cumsum(lag * d1 / nr)
    idx = np.searchsorted(u, tq, side="right") - 1
    beyond = tq > last_exit if last_exit is not None else np.ones(len(tq), bool)

    def at(values: np.ndarray) -> np.ndarray:
        out = np.where(idx >= 0, values[np.maximum(idx, 0)] if len(values) else 0.0, 0.0)
        return np.where(beyond, np.nan, out)

    if not interval:
        return at(F), None, None
    with np.errstate(divide="ignore", invalid="ignore"):
        A = np.where(nr > d, d / (nr * (nr - d)), 0.0)
    B = lag**2 * d1 * (nr - d1) / nr**3
    C = lag * d1 / nr**2
    var = (F**2 * np.cumsum(A) - 2 * F * np.cumsum(F * A) + np.cumsum(F * F * A) + np.cumsum(B)
           - 2 * F * np.cumsum(C) + 2 * np.cumsum(F * C))
    var = np.clip(var, 0, None)
    z = _z(alpha)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        y = np.log(-np.log(F))
        se = np.sqrt(var) / (F * np.abs(np.log(F)))
        low = np.exp(-np.exp(y + z * se))
        high = np.exp(-np.exp(y - z * se))
    low = np.where(F > 0, low, 0.0)
    high = np.where(F > 0, high, 0.0)
    return at(F), at(low), at(high)


# ---------------------------------------------------------------------------------------------
# how sure is the ranking
# ---------------------------------------------------------------------------------------------


def _draws(cov: np.ndarray, n_draws: int, seed: Any) -> np.ndarray:
    """``n_draws`` from N(0, cov) through a symmetric square root (singular cov allowed)."""
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    root = vecs * np.sqrt(np.clip(vals, 0, None))
    return as_generator(seed).standard_normal((n_draws, len(cov))) @ root.T


def _standardised(diff: np.ndarray, se: np.ndarray) -> np.ndarray:
    """``diff / se``; where ``se == 0`` a positive difference is ``inf``, others ``-inf``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = diff / se
    zero = se == 0
    if zero.any():
        out = np.where(zero, np.where(diff > 0, np.inf, -np.inf), out)
    return out


def best_set(
    theta: Any,
    cov: Any,
    *,
    alpha: float = 0.10,
    n_draws: int = 4000,
    seed: int | np.random.Generator | None = 0,
    rank_coverage: float = 0.90,
) -> dict[str, np.ndarray]:
    """Probability of being best, rank intervals and a confidence set for the best candidate.

    Parameters
    ----------
    theta : array-like, shape (K,)
        Estimates, larger is better (e.g. log hazard ratios of closing; a reference candidate
        enters as 0 with a zero row and column in ``cov``).
    cov : array-like, shape (K, K)
        Their joint sampling covariance (e.g. ``CoxResult.robust_var`` padded with the
        reference).
    alpha : float, default 0.10
        The set covers the truly best candidate with probability at least ``1 - alpha``.
    n_draws : int, default 4000
        Draws from the normal approximation.
    seed : int, Generator or None, default 0
    rank_coverage : float, default 0.90
        Central coverage of the rank interval (0.90: 5th to 95th percentile).

    Returns
    -------
    dict of str to ndarray
        ``p_best``: share of draws from ``N(theta, cov)`` in which each candidate is the
        largest; ``rank_low``, ``rank_high``: percentiles of its rank over those draws (rank 1 =
        best); ``in_best_set``: membership of the ``1 - alpha`` confidence set for the best.

    Notes
    -----
    Multiple comparisons with the best (Hsu 1996, ch. 4): candidate ``j`` is left out of the set
    when some ``k`` beats it clearly, ``(theta_k - theta_j) / se_jk > c_j`` with ``se_jk^2 =
    var_j + var_k - 2 cov_jk``, where ``c_j`` is the ``1 - alpha`` quantile of
    ``max_{k != j} (Z_k - Z_j) / se_jk`` for ``Z ~ N(0, cov)`` (estimated from the draws). If
    ``j`` is truly best, every ``theta_k - theta_j - (true difference)`` is at least the
    observed one, so ``j`` is excluded with probability at most ``alpha``. The set is about
    the best, not a ranking of the rest; ``p_best`` and the rank interval describe the
    uncertainty of the normal approximation and are not themselves confidence statements.

    Examples
    --------
    >>> from casekit.engine import best_set
    >>> out = best_set([0.0, 1.0, 0.95, -2.0], np.diag([0.0, 0.01, 0.01, 0.01]), seed=1)
    >>> out["in_best_set"].tolist()
    [False, True, True, False]
    >>> out["rank_low"].tolist(), out["rank_high"].tolist()
    ([3, 1, 1, 4], [3, 2, 2, 4])
    """
    th = np.asarray(theta, dtype=float).ravel()
    V = np.asarray(cov, dtype=float)
    k = len(th)
    if V.shape != (k, k):
        raise CasekitError(f"cov: expected shape ({k}, {k}), got {V.shape}")
    if not (np.isfinite(th).all() and np.isfinite(V).all()):
        raise CasekitError("best_set: non-finite estimates or covariance")
    if not 0 < alpha < 1:
        raise CasekitError(f"alpha: expected a value in (0, 1), got {alpha!r}")
    if k == 0:
        empty = np.zeros(0)
        return {"p_best": empty, "rank_low": empty.astype(int), "rank_high": empty.astype(int),
                "in_best_set": empty.astype(bool)}
    Z = _draws(V, n_draws, seed)
    sim = th + Z
    p_best = np.bincount(np.argmax(sim, axis=1), minlength=k) / n_draws
    ranks = k - np.argsort(np.argsort(sim, axis=1), axis=1)
    q = (1 - rank_coverage) / 2
    rank_low = np.quantile(ranks, q, axis=0, method="inverted_cdf").astype(int)
    rank_high = np.quantile(ranks, 1 - q, axis=0, method="inverted_cdf").astype(int)
    dv = np.diag(V)
    se = np.sqrt(np.clip(dv[:, None] + dv[None, :] - 2 * V, 0, None))
    keep = np.ones(k, dtype=bool)
    for j in range(k):
        others = np.arange(k) != j
        if not others.any():
            break
        null = _standardised(Z[:, others] - Z[:, [j]], se[j, others]).max(axis=1)
        c_j = np.quantile(null, 1 - alpha)
        obs = _standardised(th[others] - th[j], se[j, others])
        keep[j] = not (obs > c_j).any()
    return {"p_best": p_best, "rank_low": rank_low, "rank_high": rank_high, "in_best_set": keep}
