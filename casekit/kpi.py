"""Statutory deadlines of the 2022 regulation (信访工作条例) and on-time rates.

The clocks (calendar days, ``casekit.schema.DEADLINES``; ``domain/petition-work.md`` §b1):

* ``route``: the petition bureau routes (transfer / assign / accept) within 15 days of receipt
  (Art.22), measured from ``opened_at`` to the first ``transfer``, ``assign_with_report``,
  ``accept``, ``decline_intake`` or ``close``;
* ``notify``: the petitioner is told within 15 days (Art.23), from acceptance (else receipt) to
  the first ``notify_receipt``;
* ``handle``: handled within 60 days of acceptance (Art.34), 90 with an ``extend`` recorded
  before the 60 days ran out (at most 30 more days), from the first ``accept`` (else receipt)
  to the first ``close``;
* ``review_request`` / ``re_review_request``: a review is asked for within 30 days of the
  written reply (the close), a re-review within 30 days of the review (Arts.35-36); reported as
  facts about the petitioner's requests, not as agency delays.

Each clock is ``met``, ``missed`` or ``pending`` *as of the observation end*: a case whose
deadline has not yet come and whose step has not happened is pending, never late. A clock whose
activity never occurs anywhere in the log is ``not_recorded`` (the source does not log it),
never counted as missed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd

from casekit._utils import CasekitError

__all__ = ["build_deadline_table", "on_time_rates", "overdue_cases"]

_DAY = pd.Timedelta(days=1)
ROUTE_ACTIVITIES = ("transfer", "assign_with_report", "accept", "decline_intake", "close")
CLOCKS = ("route", "notify", "handle")


def _deadlines() -> dict[str, int]:
    from casekit.schema import DEADLINES

    return dict(DEADLINES)


def _status(done_at: pd.Series, due: pd.Series, obs_end: pd.Timestamp) -> pd.Series:
    """Met / missed / pending, vectorised."""
    met = done_at.notna() & (done_at <= due)
    missed = (done_at.notna() & (done_at > due)) | (done_at.isna() & (due < obs_end))
    out = np.where(met, "met", np.where(missed, "missed", "pending"))
    return pd.Series(out, index=done_at.index, dtype="str")


def build_deadline_table(
    events: pd.DataFrame,
    cases: pd.DataFrame | None = None,
    *,
    observation_end: Any = None,
) -> pd.DataFrame:
    """Per case: the statutory due dates, when each step happened and met / missed / pending.

    Parameters
    ----------
    events : DataFrame
        Canonical events (activity identifiers or Chinese labels).
    cases : DataFrame, optional
        The case table (:func:`casekit.cases.build_case_table`); built (without repeat
        linkage) when not given. Supplies ``opened_at``, ``pattern``, ``street``.
    observation_end : date-like, optional
        As-of date; default the case table's (the log's last timestamp).

    Returns
    -------
    DataFrame
        One row per case: ``case_id, opened_at, accepted_at, handling_agency, pattern, street``,
        for each clock in ``route, notify, handle``: ``<clock>_due``, ``<clock>_at``,
        ``<clock>_status`` (``met / missed / pending / not_recorded``) and
        ``<clock>_days_late`` (days past due: at the step, or at the observation end while
        still not done; 0 when met); ``extended`` (an ``extend`` before day 60),
        ``review_requested_at``, ``review_request_days`` (from the close),
        ``re_review_requested_at``, ``re_review_request_days``; ``observation_end``.

    Examples
    --------
    >>> ev = pd.DataFrame({
    ...     "case_id": ["a", "a", "a", "b", "b"],
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-03-20",
    ...                                  "2024-03-01", "2024-03-03"]),
    ...     "activity": ["register", "accept", "close", "register", "accept"],
    ...     "agency": ["bureau", "street", "street", "bureau", "court"],
    ...     "agency_type": ["petition_bureau", "street_office", "street_office",
    ...                     "petition_bureau", "court"],
    ... })
    >>> d = ck.build_deadline_table(ev, observation_end="2024-04-01")
    >>> d[["case_id", "route_status", "handle_due", "handle_status", "handle_days_late"]]
      case_id route_status handle_due handle_status  handle_days_late
    0       a          met 2024-03-05        missed              15.0
    1       b          met 2024-05-02       pending               0.0
    """
    from casekit.cases import _resolve_observation_end, build_case_table, parse_observation_end

    for col in ("case_id", "timestamp", "activity"):
        if col not in events:
            raise CasekitError(
                f"events: missing column {col!r} (found: {', '.join(map(str, events.columns))})"
            )
    if cases is None:
        cases = build_case_table(events, observation_end=observation_end, link=False)
    obs_end = cases.attrs.get("observation_end") if observation_end is None else None
    obs_end = (parse_observation_end(obs_end) if obs_end is not None
               else _resolve_observation_end(events, observation_end))
    days = _deadlines()
    ev = _deadline_events(events, obs_end)
    present = set(ev["activity"].unique())
    col = _first_times(ev, cases)
    cid = cases["case_id"].astype("str")
    opened = pd.Series(pd.to_datetime(cases["opened_at"]).to_numpy(), dtype="datetime64[ns]")
    accepted = col("accept")
    start_handle = accepted.where(accepted.notna(), opened)
    out = pd.DataFrame({
        "case_id": cid.to_numpy(),
        "opened_at": opened,
        "accepted_at": accepted,
        "handling_agency": _handling_agency(ev, cases).astype("str").to_numpy(),
        "pattern": cases["pattern"].to_numpy() if "pattern" in cases else "unknown",
        "street": cases["street"].to_numpy() if "street" in cases else pd.NA,
    })
    route_at = pd.concat([col(a) for a in ROUTE_ACTIVITIES], axis=1).min(axis=1)
    extend_at = col("extend")
    base_due = start_handle + days["handle"] * _DAY
    extended = extend_at.notna() & (extend_at <= base_due)
    clocks = {
        "route": (opened + days["route"] * _DAY, route_at, True),
        "notify": (start_handle + days["notify"] * _DAY, col("notify_receipt"),
                   "notify_receipt" in present),
        "handle": (base_due + np.where(extended, days["extension"], 0) * _DAY, col("close"),
                   "close" in present),
    }
    for name, (due, done, recorded) in clocks.items():
        _add_clock(out, name, due, done, recorded, obs_end)
    out["extended"] = extended.to_numpy()
    _add_reviews(out, col, days["review_request"])
    out["observation_end"] = obs_end
    out.attrs["observation_end"] = obs_end
    out.attrs["deadlines"] = days
    return out


def _deadline_events(events: pd.DataFrame, obs_end: pd.Timestamp) -> pd.DataFrame:
    """``case_id, timestamp, activity`` (identifiers), ``agency`` of the events up to the end."""
    from casekit._utils import encoding_flags
    from casekit.cases import _to_identifiers

    activity = events["activity"].reset_index(drop=True)
    if encoding_flags(events).get("vocabulary") != "identifiers":  # validate mapped them already
        activity = _to_identifiers(activity, "activity")
    ev = pd.DataFrame({
        "case_id": events["case_id"].astype("str").to_numpy(),
        "timestamp": pd.to_datetime(events["timestamp"]).to_numpy(),
        "activity": activity.astype("str").to_numpy(),
        "agency": (events["agency"].astype("str").to_numpy() if "agency" in events
                   else np.full(len(events), "unknown")),
    })
    return ev[ev["timestamp"] <= obs_end]


def _first_times(ev: pd.DataFrame, cases: pd.DataFrame) -> Callable[[str], pd.Series]:
    """``col(activity)``: each case's first time of that activity (NaT if none), in case order."""
    wanted = {*ROUTE_ACTIVITIES, "notify_receipt", "extend", "review", "re_review"}
    sub = ev[ev["activity"].isin(wanted)]
    first = sub.pivot_table(index="case_id", columns="activity", values="timestamp",
                            aggfunc="min", observed=True)
    first = first.reindex(index=cases["case_id"].astype("str").to_numpy())

    def col(name: str) -> pd.Series:
        if name in first:
            return pd.Series(first[name].to_numpy(), dtype="datetime64[ns]")
        return pd.Series(pd.NaT, index=range(len(first)), dtype="datetime64[ns]")

    return col


def _handling_agency(ev: pd.DataFrame, cases: pd.DataFrame) -> pd.Series:
    """Name the agency that accepted each case, else closed it, else its first agency."""
    acc = ev[ev["activity"] == "accept"].drop_duplicates("case_id").set_index("case_id")["agency"]
    clo = ev[ev["activity"] == "close"].drop_duplicates("case_id").set_index("case_id")["agency"]
    cid = cases["case_id"].astype("str")
    handling = cid.map(acc)
    handling = handling.where(handling.notna(), cid.map(clo))
    if "first_agency" in cases:
        handling = handling.where(handling.notna(), cases["first_agency"])
    return handling


def _add_clock(out: pd.DataFrame, name: str, due: pd.Series, done: pd.Series, recorded: bool,
               obs_end: pd.Timestamp) -> None:
    """Add ``<name>_due, _at, _status, _days_late`` (in place); not_recorded without the step."""
    out[f"{name}_due"] = due
    out[f"{name}_at"] = done
    if recorded:
        status = _status(done, due, obs_end)
        late_until = done.where(done.notna(), obs_end)
        late = ((late_until - due) / _DAY).clip(lower=0).where(status == "missed", 0.0)
    else:
        status = pd.Series("not_recorded", index=out.index, dtype="str")
        late = pd.Series(np.nan, index=out.index)
    out[f"{name}_status"] = status
    out[f"{name}_days_late"] = late.astype(float)


def _add_reviews(out: pd.DataFrame, col: Callable[[str], pd.Series],
                 window_days: float) -> None:
    """Add the review and re-review request columns (in place)."""
    close_at, review_at, re_review_at = col("close"), col("review"), col("re_review")
    out["review_requested_at"] = review_at
    out["review_request_days"] = (review_at - close_at) / _DAY
    out["review_request_within_window"] = (
        out["review_request_days"] <= window_days).where(review_at.notna())
    out["re_review_requested_at"] = re_review_at
    out["re_review_request_days"] = (re_review_at - review_at) / _DAY


def on_time_rates(
    deadlines: pd.DataFrame,
    *,
    by: Literal["agency", "street", "pattern"] | str = "agency",
    clock: Literal["route", "notify", "handle"] = "handle",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """On-time rate of one statutory clock per agency, street or pattern.

    Parameters
    ----------
    deadlines : DataFrame
        From :func:`build_deadline_table`.
    by : {"agency", "street", "pattern"} or a column name
        ``"agency"`` is the handling agency (the one that accepted, else closed the case).
    clock : {"route", "notify", "handle"}
        Which deadline.
    alpha : float, default 0.05
        Wilson interval level.

    Returns
    -------
    DataFrame
        ``<by>, n_cases, n_due, n_met, n_missed, n_pending, on_time_rate, rate_ci_low,
        rate_ci_high, observation_end``, worst rate first. ``n_due = n_met + n_missed``: cases
        still pending (not yet due, step not done) are not counted as late.

    Examples
    --------
    >>> d = pd.DataFrame({"handling_agency": ["s", "s", "s", "c"],
    ...                   "handle_status": ["met", "missed", "pending", "met"]})
    >>> ck.on_time_rates(d)[["agency", "n_due", "n_met", "n_pending", "on_time_rate"]]
      agency  n_due  n_met  n_pending  on_time_rate
    0      s      2      1          1           0.5
    1      c      1      1          0           1.0
    """
    column = {"agency": "handling_agency"}.get(by, by)
    status_col = f"{clock}_status"
    for c in (column, status_col):
        if c not in deadlines:
            raise CasekitError(f"deadlines: missing column {c!r} (build_deadline_table makes it)")
    s = deadlines[status_col].astype("str")
    frame = pd.DataFrame({
        by: deadlines[column].astype("str").fillna("unknown").to_numpy(),
        "met": (s == "met").to_numpy(),
        "missed": (s == "missed").to_numpy(),
        "pending": (s == "pending").to_numpy(),
    })
    g = frame.groupby(by, sort=False)
    out = pd.DataFrame({
        "n_cases": g.size(),
        "n_met": g["met"].sum(),
        "n_missed": g["missed"].sum(),
        "n_pending": g["pending"].sum(),
    })
    out.insert(1, "n_due", out["n_met"] + out["n_missed"])
    n = out["n_due"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = out["n_met"].to_numpy(float) / n
        from statistics import NormalDist

        z = NormalDist().inv_cdf(1 - alpha / 2)
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    out["on_time_rate"] = p
    out["rate_ci_low"] = centre - half
    out["rate_ci_high"] = centre + half
    out = out.reset_index().sort_values(["on_time_rate", "n_due"], ascending=[True, False],
                                        kind="stable", na_position="last")
    obs = deadlines.attrs.get("observation_end")
    out["observation_end"] = obs
    out = out.reset_index(drop=True)
    out.attrs["observation_end"] = obs
    out.attrs["clock"] = clock
    return out


def overdue_cases(deadlines: pd.DataFrame, *, clock: str | None = None) -> pd.DataFrame:
    """List the overdue cases: those that missed a statutory clock, most days late first.

    Parameters
    ----------
    deadlines : DataFrame
        From :func:`build_deadline_table`.
    clock : str, optional
        Only this clock (``route``, ``notify``, ``handle``); default all.

    Returns
    -------
    DataFrame
        One row per (case, missed clock): ``case_id, clock, due, done_at, still_open,
        days_late, handling_agency, pattern, street, observation_end``. ``still_open`` means the
        step had not happened by the observation end (late and counting).

    Examples
    --------
    >>> d = pd.DataFrame({"case_id": ["a", "b"], "handling_agency": ["s", "c"],
    ...                   "pattern": ["p", "q"], "street": ["x", "y"],
    ...                   "handle_due": pd.to_datetime(["2024-01-01", "2024-02-01"]),
    ...                   "handle_at": pd.to_datetime(["2024-01-05", None]),
    ...                   "handle_status": ["missed", "missed"],
    ...                   "handle_days_late": [4.0, 10.0]})
    >>> ck.overdue_cases(d)[["case_id", "clock", "still_open", "days_late"]]
      case_id   clock  still_open  days_late
    0       b  handle        True       10.0
    1       a  handle       False        4.0
    """
    names = [clock] if clock else [c for c in CLOCKS if f"{c}_status" in deadlines]
    parts = []
    for name in names:
        if f"{name}_status" not in deadlines:
            raise CasekitError(f"deadlines: missing column '{name}_status'")
        sel = deadlines[deadlines[f"{name}_status"] == "missed"]
        parts.append(pd.DataFrame({
            "case_id": sel["case_id"].to_numpy(),
            "clock": name,
            "due": sel[f"{name}_due"].to_numpy(),
            "done_at": sel[f"{name}_at"].to_numpy(),
            "still_open": sel[f"{name}_at"].isna().to_numpy(),
            "days_late": sel[f"{name}_days_late"].to_numpy(float),
            "handling_agency": sel["handling_agency"].to_numpy(),
            "pattern": sel["pattern"].to_numpy() if "pattern" in sel else pd.NA,
            "street": sel["street"].to_numpy() if "street" in sel else pd.NA,
        }))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["case_id", "clock", "due", "done_at", "still_open", "days_late"])
    out = out.sort_values("days_late", ascending=False, kind="stable").reset_index(drop=True)
    obs = deadlines.attrs.get("observation_end")
    out["observation_end"] = obs
    out.attrs["observation_end"] = obs
    return out
