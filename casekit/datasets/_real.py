"""Loaders for the real public case-handling logs kept in ``../shared/data/real`` (never copied).

None of these logs is a Chinese petition (信访) log: no such log is public. They are the closest
real relatives (public-sector or service casework where several units handle one case) and are
used to test casekit on files nobody on the team wrote. Each loader keeps its column mapping in
code, reads the file with :mod:`casekit.io`, and returns canonical events validated exactly as
:func:`casekit.read_events` does (quarantine, pseudonymisation, free-text masking, sorting), with
``df.attrs["casekit"]`` holding the read metadata plus a ``dataset`` entry (citation, DOI,
licence, mapping notes).

The data folder is ``$CASEKIT_REAL_DATA`` if set, else ``../shared/data/real`` next to the
repository (found relative to this package, then relative to the working directory).

Case-only sources (NYC council casework, NYC 311, TipDM messages) have no events: each case
becomes a ``register`` event at opening and, when the source has a closing time, a ``close``
event at closing, so the case table and right-censoring work on them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from casekit._utils import CasekitError

__all__ = [
    "REAL_DATASETS",
    "RealDataNotFoundError",
    "RealDataset",
    "list_real_datasets",
    "load_bpic14",
    "load_bpic15",
    "load_nyc311_sample",
    "load_nyc_council_casework",
    "load_receipt",
    "load_road_traffic",
    "load_tipdm_messages",
    "real_data_root",
]

REAL_DATA_ENV = "CASEKIT_REAL_DATA"


class RealDataNotFoundError(CasekitError, FileNotFoundError):
    """The real public logs (or one of their files) are not where casekit looks for them."""


@dataclass(frozen=True)
class RealDataset:
    """Where one real log lives and how to cite it."""

    name: str
    loader: str
    folder: str
    files: tuple[str, ...]
    citation: str
    doi: str | None
    licence: str
    n_events: int
    n_cases: int


REAL_DATASETS: dict[str, RealDataset] = {
    "receipt": RealDataset(
        "receipt",
        "load_receipt",
        "receipt",
        ("receipt.xes.gz",),
        "Buijs, J.C.A.M. (2014). Receipt phase of an environmental permit application process "
        "('WABO'), CoSeLoG project. 4TU.ResearchData.",
        "10.4121/uuid:a07386a5-7be3-4367-9535-70bc9e77dbe6",
        "4TU.ResearchData terms; cite the author.",
        8_577,
        1_434,
    ),
    "road_traffic": RealDataset(
        "road_traffic",
        "load_road_traffic",
        "road-traffic-fines",
        ("Road_Traffic_Fine_Management_Process.xes.zip", "roadtraffic100traces.xes"),
        "de Leoni, M. & Mannhardt, F. (2015). Road Traffic Fine Management Process. "
        "4TU.ResearchData.",
        "10.4121/uuid:270fd440-1057-4fb9-89a9-b699b47990f5",
        "4TU.ResearchData terms; cite the authors.",
        561_470,
        150_370,
    ),
    "bpic14": RealDataset(
        "bpic14",
        "load_bpic14",
        "bpic14-incidents",
        ("BPIC14_incident_log.csv", "BPIC14_incident_case_attributes.csv"),
        "van Dongen, B.F. (2014). BPI Challenge 2014 (Rabobank Nederland ICT service "
        "management), 4,000-incident subset as distributed in the eventdataR R package "
        "(MIT). 4TU.ResearchData.",
        "10.4121/uuid:c3e5d162-0cfd-4bb0-bd82-af5268819c35",
        "4TU.ResearchData terms (cite); eventdataR packaging MIT.",
        39_911,
        4_000,
    ),
    "bpic15": RealDataset(
        "bpic15",
        "load_bpic15",
        "bpic15-municipality-1",
        ("BPIC15_1.csv.gz",),
        "van Dongen, B.F. (2015). BPI Challenge 2015, Municipality 1 (building permit "
        "applications), as distributed in the eventdataR R package (MIT). 4TU.ResearchData.",
        "10.4121/uuid:a0addfda-2044-4541-a450-fdcc9fe16d17",
        "4TU.ResearchData terms (cite); eventdataR packaging MIT.",
        52_217,
        1_199,
    ),
    "nyc_council_casework": RealDataset(
        "nyc_council_casework",
        "load_nyc_council_casework",
        "nyc-council-casework",
        ("nycomplaints.csv.gz",),
        "New York City Council, Constituent Services cases (NYC Open Data), extract of "
        "2025-11-12 as packaged by the nycomplaints package (MIT).",
        None,
        "NYC Open Data terms of use.",
        668_249,
        341_194,
    ),
    "nyc311_sample": RealDataset(
        "nyc311_sample",
        "load_nyc311_sample",
        "nyc-311-sample",
        ("nyc311_sample_2024-04_YangziXinJas.csv",),
        "NYC 311 Service Requests (NYC Open Data), 1,000 requests of 2024-04-15/16.",
        None,
        "NYC Open Data terms of use.",
        1_292,
        1_000,
    ),
    "tipdm_messages": RealDataset(
        "tipdm_messages",
        "load_tipdm_messages",
        "tipdm2020-gov-messages",
        ("tipdm2020C_attachment4_messages_replies.xlsx", "tipdm2020C_attachment3_messages.xlsx"),
        "TipDM Cup 2020, problem C (智慧政务中的文本挖掘应用), attachments 3 and 4: messages "
        "to a Chinese city's online government message board and official replies.",
        None,
        "Competition data, no stated licence: use for testing only, do not redistribute.",
        5_632,
        2_816,
    ),
}


# ---------------------------------------------------------------------------------------------
# locating the data
# ---------------------------------------------------------------------------------------------


def real_data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Find the folder of real public logs.

    Parameters
    ----------
    root : path-like, optional
        Use this folder. Default: ``$CASEKIT_REAL_DATA``, else ``../shared/data/real``
        relative to the repository root (found from this package), else relative to the
        working directory.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    RealDataNotFoundError
        (a ``CasekitError`` and ``FileNotFoundError``) naming the places looked at.

    Examples
    --------
    >>> from casekit.datasets._real import real_data_root
    >>> try:
    ...     found = real_data_root().is_dir()
    ... except FileNotFoundError:
    ...     found = True  # not available on this machine
    >>> found
    True
    """
    if root is not None:
        candidates = [Path(root).expanduser()]
    elif os.environ.get(REAL_DATA_ENV):
        candidates = [Path(os.environ[REAL_DATA_ENV]).expanduser()]
    else:
        repo = Path(__file__).resolve().parents[2]
        candidates = [
            repo.parent / "shared" / "data" / "real",
            Path.cwd().parent / "shared" / "data" / "real",
            Path.cwd() / "shared" / "data" / "real",
        ]
    for cand in candidates:
        if cand.is_dir():
            return cand
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise RealDataNotFoundError(
        f"real public logs not found (looked in {looked}); expected the folder of "
        f"../shared/data/real/SOURCES.md, or set {REAL_DATA_ENV}=/path/to/real"
    )


def _path(dataset: str, filename: str, root: str | os.PathLike[str] | None) -> Path:
    path = real_data_root(root) / REAL_DATASETS[dataset].folder / filename
    if not path.is_file():
        raise RealDataNotFoundError(
            f"{path}: no such file; expected the {dataset!r} log described in SOURCES.md"
        )
    return path


def list_real_datasets(root: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Table of the real logs casekit can load, with citation and whether each is present.

    Parameters
    ----------
    root : path-like, optional
        As in :func:`real_data_root`.

    Returns
    -------
    pandas.DataFrame
        One row per log: ``name, loader, n_events, n_cases, doi, licence, citation, present``.

    Examples
    --------
    >>> t = ck.datasets.list_real_datasets()
    >>> t["loader"].tolist()[:2]
    ['load_receipt', 'load_road_traffic']
    """
    try:
        base: Path | None = real_data_root(root)
    except RealDataNotFoundError:
        base = None
    rows = []
    for d in REAL_DATASETS.values():
        present = base is not None and (base / d.folder / d.files[0]).is_file()
        rows.append(
            {
                "name": d.name,
                "loader": d.loader,
                "n_events": d.n_events,
                "n_cases": d.n_cases,
                "doi": d.doi,
                "licence": d.licence,
                "citation": d.citation,
                "present": present,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# shared machinery: read with casekit.io, reshape, validate like read_events
# ---------------------------------------------------------------------------------------------


def _finish(
    raw: Any,
    *,
    dataset: str,
    path: Path,
    columns: Mapping[str, str],
    timezone: str | None,
    observation_end: Any,
    key: str | bytes | None,
    notes: list[str],
) -> pd.DataFrame:
    from casekit.validate import validate_table

    result = validate_table(
        raw,
        source=path.name,
        columns=dict(columns),
        observation_end=observation_end,
        timezone=timezone,
        key=key,
        path=str(path),
    )
    events = result.events
    d = REAL_DATASETS[dataset]
    meta = dict(events.attrs.get("casekit", {}))
    meta["dataset"] = {
        "name": d.name,
        "citation": d.citation,
        "doi": d.doi,
        "licence": d.licence,
        "mapping": dict(columns),
        "notes": notes,
    }
    events.attrs["casekit"] = meta
    return events


def _raw(data: pd.DataFrame, rows: np.ndarray, fmt: str, like: Any = None) -> Any:
    from casekit.validate import RawTable

    if like is None:
        return RawTable(data.reset_index(drop=True), np.asarray(rows, dtype="int64"), fmt)
    return RawTable(
        data.reset_index(drop=True),
        np.asarray(rows, dtype="int64"),
        fmt,
        like.encoding,
        list(like.notes),
        list(like.bad_rows),
        dict(like.extra),
    )


def _as_utc(values: pd.Series) -> pd.Series:
    """Mark naive UTC timestamps (as eventdataR stores them) so they convert to local time."""
    text = values.astype("str")
    return text.where(text.isna(), text.str.strip() + "+00:00")


def _cases_to_events(
    cases: pd.DataFrame,
    rows: np.ndarray,
    *,
    opened: str,
    closed: str | None,
    extra_register: Mapping[str, Any] | None = None,
    extra_close: Mapping[str, Any] | None = None,
    register_only: list[str] | None = None,
    close_only: list[str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """One ``register`` event per case at ``opened``, one ``close`` at ``closed`` when present.

    Register rows come first so that, on a same-time tie, the stable sort keeps register
    before close. Columns in ``register_only`` / ``close_only`` are kept on that event only.
    """
    register_only = register_only or []
    close_only = close_only or []
    reg = cases.drop(columns=[c for c in close_only if c in cases.columns]).copy()
    reg["timestamp"] = cases[opened]
    reg["activity"] = "register"
    for k, v in (extra_register or {}).items():
        reg[k] = v
    parts, part_rows = [reg], [rows]
    if closed is not None:
        has_close = cases[closed].notna() & (cases[closed].astype("str").str.strip() != "")
        clo = (
            cases.loc[has_close]
            .drop(columns=[c for c in register_only if c in cases.columns])
            .copy()
        )
        clo["timestamp"] = cases.loc[has_close, closed]
        clo["activity"] = "close"
        for k, v in (extra_close or {}).items():
            clo[k] = v.loc[has_close] if isinstance(v, pd.Series) else v
        parts.append(clo)
        part_rows.append(rows[has_close.to_numpy()])
    events = pd.concat(parts, ignore_index=True)
    drop = [c for c in (opened, closed) if c is not None and c in events.columns]
    return events.drop(columns=drop), np.concatenate(part_rows)


# ---------------------------------------------------------------------------------------------
# the loaders
# ---------------------------------------------------------------------------------------------

_XES_COLUMNS = {
    "case_id": "case:concept:name",
    "timestamp": "time:timestamp",
    "activity": "concept:name",
    "agency": "org:group",
}


def load_receipt(
    *,
    root: str | os.PathLike[str] | None = None,
    observation_end: Any = None,
) -> pd.DataFrame:
    """Load the WABO *receipt phase* log (Dutch municipality, environmental permits).

    1,434 cases and 8,577 events (2010-10 to 2012-01). Mapping: trace ``concept:name`` ->
    ``case_id``, event ``concept:name`` -> ``activity`` (labels kept: ``Confirmation of
    receipt``, ``T02 Check confirmation of receipt``, ...), ``time:timestamp`` -> ``timestamp``
    (converted to Europe/Amsterdam local time), ``org:group`` -> ``agency`` (the literal group
    ``EMPTY`` kept as PM4Py sees it, and used for any missing group), ``agency_type`` =
    ``unknown``. Other attributes (``org:resource``, ``case:channel``, ``case:department``,
    ...) are kept as columns.

    Parameters
    ----------
    root : path-like, optional
        Folder of the real logs (see :func:`real_data_root`).
    observation_end : datetime-like, optional
        Default: the last timestamp.

    Returns
    -------
    pandas.DataFrame
        Canonical events; ``attrs["casekit"]["dataset"]`` has the citation.

    Raises
    ------
    RealDataNotFoundError
        When the file is not there.

    Notes
    -----
    Can answer: the coordination network among municipal groups (87% of cases touch two or
    more), hand-over and working-together counts (the reference for comparing with PM4Py's
    ``org:group`` networks, ``../shared/data/reference``), waiting between hand-overs.
    Cannot answer: time to close or settle (the log is only the receipt phase, no closure
    event), repeat filings (no applicant id), anything about petitioners.

    References
    ----------
    Buijs, J.C.A.M. (2014). Receipt phase of an environmental permit application process
    ('WABO'). 4TU.ResearchData. https://doi.org/10.4121/uuid:a07386a5-7be3-4367-9535-70bc9e77dbe6

    Examples
    --------
    >>> try:
    ...     ev = ck.load_receipt()
    ... except FileNotFoundError:  # the real logs are not on this machine
    ...     ev = None
    >>> ev is None or (len(ev), ev["case_id"].nunique()) == (8577, 1434)
    True
    """
    from casekit.io import read_table

    path = _path("receipt", "receipt.xes.gz", root)
    raw = read_table(path)
    data = raw.data.copy()
    data["org:group"] = data["org:group"].fillna("EMPTY")
    data["agency_type"] = "unknown"
    return _finish(
        _raw(data, raw.source_rows, raw.fmt, raw),
        dataset="receipt",
        path=path,
        columns={**_XES_COLUMNS, "agency_type": "agency_type"},
        timezone="Europe/Amsterdam",
        observation_end=observation_end,
        key=None,
        notes=["agency = org:group; missing groups as the literal 'EMPTY' (as PM4Py)"],
    )


#: Road traffic fines: the organisation acting, derived from the activity (SOURCES.md).
ROAD_TRAFFIC_AGENCIES: dict[str, tuple[str, str]] = {
    "Create Fine": ("police", "police"),
    "Send Fine": ("police", "police"),
    "Insert Fine Notification": ("police", "police"),
    "Add penalty": ("police", "police"),
    "Insert Date Appeal to Prefecture": ("prefecture", "prefecture"),
    "Send Appeal to Prefecture": ("prefecture", "prefecture"),
    "Receive Result Appeal from Prefecture": ("prefecture", "prefecture"),
    "Notify Result Appeal to Offender": ("prefecture", "prefecture"),
    "Appeal to Judge": ("judge", "court"),
    "Send for Credit Collection": ("credit collection", "credit_collection"),
    "Payment": ("offender", "offender"),
}


def load_road_traffic(
    *,
    sample: bool = False,
    root: str | os.PathLike[str] | None = None,
    observation_end: Any = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Load the Road Traffic Fine Management log (Italian local police).

    150,370 fines and 561,470 events (2000-2013), or with ``sample=True`` the 100-trace slice
    ``roadtraffic100traces.xes``. The full log is a 185 MB XES in a zip, streamed by
    :func:`casekit.io.read_table` (tens of seconds).

    Mapping: trace ``concept:name`` -> ``case_id``; event ``concept:name`` -> ``activity``
    (labels kept, except ``Create Fine`` -> ``register``; the original label is in
    ``source_activity``); ``time:timestamp`` (dates only) -> ``timestamp`` in Europe/Rome
    local time. There is no unit column: ``agency`` follows from the activity
    (:data:`ROAD_TRAFFIC_AGENCIES`): police (create / send fine, notification, penalty),
    prefecture (the appeal to the prefecture and its result), judge (appeal to a judge,
    ``agency_type`` ``court``), credit collection, and the offender (payments; not an agency,
    kept so payments stay visible in hand-overs).

    Parameters
    ----------
    sample : bool, default False
        Load the 100-trace slice instead of the full log.
    root : path-like, optional
    observation_end : datetime-like, optional
    progress : bool, optional
        Progress bar while streaming the XES.

    Returns
    -------
    pandas.DataFrame

    Notes
    -----
    Can answer: multi-organisation hand-overs at scale (police -> prefecture -> judge), how
    appeals lengthen a case (appeals behave like review / re-opened matters), reader speed on a
    large XES. Cannot answer: time to close without a closure rule of your own (a fine ends by
    full payment, dismissal or credit collection; none is a single ``close`` event), anything
    about who the offender is (no person id), petition-specific deadlines.

    References
    ----------
    de Leoni, M. & Mannhardt, F. (2015). Road Traffic Fine Management Process.
    4TU.ResearchData. https://doi.org/10.4121/uuid:270fd440-1057-4fb9-89a9-b699b47990f5

    Examples
    --------
    >>> try:
    ...     ev = ck.load_road_traffic(sample=True)
    ... except FileNotFoundError:  # the real logs are not on this machine
    ...     ev = None
    >>> ev is None or set(ev["agency"]) == {"police", "prefecture", "credit collection", "offender"}
    True
    """
    from casekit.io import read_table

    name = "roadtraffic100traces.xes" if sample else "Road_Traffic_Fine_Management_Process.xes.zip"
    path = _path("road_traffic", name, root)
    raw = read_table(path, progress=progress)
    data = raw.data
    activity = data["concept:name"].astype("str")
    codes, uniques = pd.factorize(activity)
    agency_u = [ROAD_TRAFFIC_AGENCIES.get(str(u), ("police", "police"))[0] for u in uniques]
    type_u = [ROAD_TRAFFIC_AGENCIES.get(str(u), ("police", "police"))[1] for u in uniques]
    data = data.assign(
        agency=pd.Series(np.array(agency_u, dtype=object)[codes], dtype="str"),
        agency_type=pd.Series(np.array(type_u, dtype=object)[codes], dtype="str"),
        source_activity=activity,
    )
    data["concept:name"] = activity.where(activity != "Create Fine", "register")
    return _finish(
        _raw(data, raw.source_rows, raw.fmt, raw),
        dataset="road_traffic",
        path=path,
        columns={
            **{k: v for k, v in _XES_COLUMNS.items() if k != "agency"},
            "agency": "agency",
            "agency_type": "agency_type",
        },
        timezone="Europe/Rome",
        observation_end=observation_end,
        key=None,
        notes=[
            "agency derived from the activity (ROAD_TRAFFIC_AGENCIES)",
            "'Create Fine' mapped to 'register'; original labels in source_activity",
        ],
    )


#: BPIC14 incident activities that have a casekit identifier.
BPIC14_ACTIVITIES = {"Open": "register", "Closed": "close", "Reassignment": "transfer"}


def load_bpic14(
    *,
    root: str | os.PathLike[str] | None = None,
    observation_end: Any = None,
) -> pd.DataFrame:
    """Load BPI Challenge 2014 (Rabobank ICT incidents), the 4,000-incident subset.

    4,000 incidents and 39,911 events (2013). Mapping: ``incident_id`` -> ``case_id``,
    ``incident_activity_type`` -> ``activity`` (``Open`` -> ``register``, ``Closed`` ->
    ``close``, ``Reassignment`` -> ``transfer``, others kept; the original in
    ``source_activity``), ``data_stamp`` -> ``timestamp`` (local, naive), ``assignment_group``
    -> ``agency`` (``TEAM0001`` ...), ``agency_type`` = ``unknown``. From the case attribute
    table: ``category``, ``priority``, ``x_reassignments``, ``reopen_time`` and
    ``closure_code`` are joined onto every event.

    Parameters
    ----------
    root : path-like, optional
    observation_end : datetime-like, optional

    Returns
    -------
    pandas.DataFrame

    Notes
    -----
    Can answer: explicit re-opening (``Reopen``, 4.3% of incidents; the closest real structure
    to a repeat filing while a matter is not settled), re-assignment between teams (hand-offs,
    ``x_reassignments``), closed vs. re-closed (a second ``close`` after a re-open). Cannot
    answer: anything about citizens (internal IT service desk), statutory deadlines; nearly
    every incident is closed (37 have a ``close_time`` in the case table but no ``Closed``
    event in the log; they look open here), so it barely exercises censoring.

    References
    ----------
    van Dongen, B.F. (2014). BPI Challenge 2014. 4TU.ResearchData.
    https://doi.org/10.4121/uuid:c3e5d162-0cfd-4bb0-bd82-af5268819c35 (subset from the
    eventdataR package).

    Examples
    --------
    >>> ev = ck.datasets.load_bpic14()  # doctest: +SKIP
    >>> (ev["activity"] == "register").sum()  # doctest: +SKIP
    4000
    """
    from casekit.io import read_table

    path = _path("bpic14", "BPIC14_incident_log.csv", root)
    attr_path = _path("bpic14", "BPIC14_incident_case_attributes.csv", root)
    raw = read_table(path)
    attrs = read_table(attr_path).data
    keep = ["incident_id", "category", "priority", "x_reassignments", "reopen_time", "closure_code"]
    attrs = attrs[[c for c in keep if c in attrs.columns]].drop_duplicates("incident_id")
    data = raw.data.copy()
    data["source_activity"] = data["incident_activity_type"]
    data["incident_activity_type"] = data["incident_activity_type"].replace(BPIC14_ACTIVITIES)
    data["agency_type"] = "unknown"
    merged = data.merge(attrs, on="incident_id", how="left", validate="many_to_one")
    return _finish(
        _raw(merged, raw.source_rows, raw.fmt, raw),
        dataset="bpic14",
        path=path,
        columns={
            "case_id": "incident_id",
            "timestamp": "data_stamp",
            "activity": "incident_activity_type",
            "agency": "assignment_group",
            "agency_type": "agency_type",
            "category": "category",
        },
        timezone=None,
        observation_end=observation_end,
        key=None,
        notes=[
            "Open/Closed/Reassignment mapped to register/close/transfer",
            "case attributes joined from BPIC14_incident_case_attributes.csv",
        ],
    )


def load_bpic15(
    *,
    root: str | os.PathLike[str] | None = None,
    observation_end: Any = None,
) -> pd.DataFrame:
    """Load BPI Challenge 2015, municipality 1 (Dutch building-permit applications).

    1,199 cases and 52,217 events (2010-2015), 398 distinct activity codes. Mapping:
    ``case_concept.name`` -> ``case_id``, ``event_concept.name`` -> ``activity`` (codes such
    as ``01_HOOFD_010`` kept; the English name is in ``event_activityNameEN``),
    ``event_time.timestamp`` -> ``timestamp`` (stored in UTC by eventdataR, converted back to
    Europe/Amsterdam local time), ``event_org.resource`` -> ``agency`` (an employee number,
    not a department), ``agency_type`` = ``unknown``.

    Parameters
    ----------
    root : path-like, optional
    observation_end : datetime-like, optional

    Returns
    -------
    pandas.DataFrame

    Notes
    -----
    Can answer: rework and loops (a third of the cases repeat a step), long-running public
    casework with open cases at the end of the extract, hand-overs between employees. Cannot
    answer: coordination between *agencies* (the resource is a person inside one
    municipality), anything about applicants, time to close (no explicit closure activity).

    References
    ----------
    van Dongen, B.F. (2015). BPI Challenge 2015. 4TU.ResearchData.
    https://doi.org/10.4121/uuid:a0addfda-2044-4541-a450-fdcc9fe16d17 (municipality 1, from
    the eventdataR package).

    Examples
    --------
    >>> ev = ck.datasets.load_bpic15()  # doctest: +SKIP
    >>> ev["case_id"].nunique()  # doctest: +SKIP
    1199
    """
    from casekit.io import read_table

    path = _path("bpic15", "BPIC15_1.csv.gz", root)
    raw = read_table(path)
    data = raw.data.copy()
    data["event_time.timestamp"] = _as_utc(data["event_time.timestamp"])
    data["agency_type"] = "unknown"
    return _finish(
        _raw(data, raw.source_rows, raw.fmt, raw),
        dataset="bpic15",
        path=path,
        columns={
            "case_id": "case_concept.name",
            "timestamp": "event_time.timestamp",
            "activity": "event_concept.name",
            "agency": "event_org.resource",
            "agency_type": "agency_type",
        },
        timezone="Europe/Amsterdam",
        observation_end=observation_end,
        key=None,
        notes=["timestamps read as UTC (eventdataR) and converted to Europe/Amsterdam"],
    )


def load_nyc_council_casework(
    *,
    root: str | os.PathLike[str] | None = None,
    observation_end: Any = None,
) -> pd.DataFrame:
    """Load NYC Council constituent-services cases as synthetic register / close events.

    341,299 case rows, 341,194 distinct ``unique_key`` (105 keys appear twice, the second copy
    lacking borough and district: the fuller row is kept), 2015-01 to 2025-01, 51 council
    offices.
    The source has one row per case and no events: each case becomes a ``register`` event at
    ``opendate`` and, when closed, a ``close`` event at ``closedate`` (dates only), both with
    ``agency`` = ``account`` (the council office, e.g. ``NYCC34``) and ``agency_type`` =
    ``council_office``. ``complaint_type`` -> ``category``; ``descriptor``, ``zip``,
    ``borough``, ``city``, ``council_dist``, ``community_board`` kept.

    Parameters
    ----------
    root : path-like, optional
    observation_end : datetime-like, optional
        Default: the last date in the extract (2025-01-09); cases open then are censored.

    Returns
    -------
    pandas.DataFrame

    Notes
    -----
    Can answer: exactly our domain's shape (elected offices doing casework for residents):
    time to close with right-censoring at scale (4% of cases still open), differences by
    office and by complaint type, seasonality. Cannot answer: coordination between agencies
    (one office per case, the agencies it contacts are not recorded), repeat petitions (no
    constituent id), anything within a case (only two time points).

    References
    ----------
    New York City Council, Constituent Services (NYC Open Data), extract of 2025-11-12,
    packaged by the MIT-licensed nycomplaints package.

    Examples
    --------
    >>> ev = ck.datasets.load_nyc_council_casework()  # doctest: +SKIP
    >>> ev["activity"].value_counts().to_dict()  # doctest: +SKIP
    {'register': 341194, 'close': 327055}
    """
    from casekit.io import read_table

    path = _path("nyc_council_casework", "nycomplaints.csv.gz", root)
    raw = read_table(path)
    data = raw.data
    # 105 keys appear twice, the second copy without borough / district: keep the fuller row
    filled = data.notna().sum(axis=1).to_numpy()
    order = np.lexsort((np.arange(len(data)), -filled))
    keep = np.sort(order[~data["unique_key"].iloc[order].duplicated().to_numpy()])
    n_dropped = len(data) - len(keep)
    cases = data.iloc[keep].rename(columns={"complaint_type": "category"})
    events, rows = _cases_to_events(
        cases,
        np.asarray(raw.source_rows)[keep],
        opened="opendate",
        closed="closedate",
        extra_register={"agency_type": "council_office"},
        extra_close={"agency_type": "council_office"},
    )
    return _finish(
        _raw(events, rows, raw.fmt, raw),
        dataset="nyc_council_casework",
        path=path,
        columns={
            "case_id": "unique_key",
            "timestamp": "timestamp",
            "activity": "activity",
            "agency": "account",
            "agency_type": "agency_type",
            "category": "category",
        },
        timezone=None,
        observation_end=observation_end,
        key=None,
        notes=[
            "case-only source: register event at opendate, close event at closedate",
            f"{n_dropped} repeated unique_key rows dropped (the fuller copy kept)",
        ],
    )


#: NYC agencies with a close counterpart in the casekit agency-type vocabulary.
NYC311_AGENCY_TYPES = {
    "NYPD": "police",
    "HPD": "housing_construction_bureau",
    "DSNY": "urban_management_bureau",
}


def load_nyc311_sample(
    *,
    root: str | os.PathLike[str] | None = None,
    observation_end: Any = None,
) -> pd.DataFrame:
    """Load 1,000 NYC 311 service requests (one night of April 2024) as register / close events.

    Each request becomes a ``register`` event at ``created_date`` and, for the 292 closed
    ones, a ``close`` event at ``closed_date`` (local New York time), with ``agency`` = the
    311 ``agency`` code (``NYPD``, ``HPD``, ...). ``agency_type``: NYPD -> ``police``, HPD ->
    ``housing_construction_bureau``, DSNY -> ``urban_management_bureau``
    (:data:`NYC311_AGENCY_TYPES`), others ``unknown``. ``complaint_type`` -> ``category``,
    ``open_data_channel_type`` -> ``channel``, ``incident_address`` -> ``address``; the other
    311 columns are kept.

    Parameters
    ----------
    root : path-like, optional
    observation_end : datetime-like, optional
        Default: the last timestamp (2024-04-16 03:03); 70% of requests are still open then.

    Returns
    -------
    pandas.DataFrame

    Notes
    -----
    Can answer: the standard 311 columns read without a mapping file, heavy censoring (most
    requests open at the end of the extract), intake channels. Cannot answer: durations (a
    few hours of data), coordination (one agency per request), repeat requests.

    Examples
    --------
    >>> try:
    ...     ev = ck.load_nyc311_sample()
    ... except FileNotFoundError:  # the real logs are not on this machine
    ...     ev = None
    >>> ev is None or ev["activity"].value_counts().to_dict() == {"register": 1000, "close": 292}
    True
    """
    from casekit.io import read_table

    path = _path("nyc311_sample", "nyc311_sample_2024-04_YangziXinJas.csv", root)
    raw = read_table(path)
    cases = raw.data.rename(
        columns={
            "complaint_type": "category",
            "open_data_channel_type": "channel",
            "incident_address": "address",
            "agency": "agency_code",
        }
    )
    cases["agency_type"] = cases["agency_code"].map(NYC311_AGENCY_TYPES).fillna("unknown")
    events, rows = _cases_to_events(
        cases, raw.source_rows, opened="created_date", closed="closed_date"
    )
    return _finish(
        _raw(events, rows, raw.fmt, raw),
        dataset="nyc311_sample",
        path=path,
        columns={
            "case_id": "unique_key",
            "timestamp": "timestamp",
            "activity": "activity",
            "agency": "agency_code",
            "agency_type": "agency_type",
            "category": "category",
            "channel": "channel",
            "address": "address",
        },
        timezone=None,
        observation_end=observation_end,
        key=None,
        notes=["case-only source: register event at created_date, close event at closed_date"],
    )


_REPLY_UNIT = re.compile(
    r"(?:转交|转至|转|交由|责成)([\w\u4e00-\u9fff]{2,20}?(?:局|办公室|委员会|委|办事处|政府|中心|"
    r"公司|所|院|队|处|厅))(?:办理|处理|调查|核实|进行)"
)


def _reply_unit(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    m = _REPLY_UNIT.search(text)
    return m.group(1) if m else None


def load_tipdm_messages(
    *,
    which: Literal["replies", "all"] = "replies",
    root: str | os.PathLike[str] | None = None,
    observation_end: Any = None,
    key: str | bytes | None = None,
) -> pd.DataFrame:
    """Load the TipDM 2020 (problem C) messages to a Chinese city's online message board.

    ``which="replies"`` (default): the 2,816 messages with an official reply (attachment 4),
    each a ``register`` event at ``留言时间`` and a ``close`` event at ``答复时间``.
    ``which="all"`` adds the 4,326 messages of attachment 3, which come without replies:
    they get a ``register`` event only and so look open (censored) - the data set simply
    does not include their replies, so do not read them as unanswered.

    Mapping: ``留言编号`` -> ``case_id``; ``留言用户`` (the poster's account) is the
    petitioner identity -> keyed-hash ``petitioner_id`` (raw column dropped, see
    :func:`casekit.privacy.pseudonymise`); ``留言主题`` kept; ``留言详情`` (on the register
    event) and ``答复意见`` (on the close event) are free text, masked for ID numbers, phone
    numbers and known names at ingest. ``agency``: ``网络问政平台`` (the board) for
    ``register``; for ``close`` the unit named in the reply where it says it passed the case
    on (``转交XX局办理``), else ``答复单位未标明``. ``channel`` = ``online``. Times are
    naive local (Chinese) time.

    Parameters
    ----------
    which : {"replies", "all"}, default "replies"
    root : path-like, optional
    observation_end : datetime-like, optional
    key : str or bytes, optional
        Pseudonymisation key (default: ``CASEKIT_PSEUDONYM_KEY`` / key file, else a per-run
        key with a warning).

    Returns
    -------
    pandas.DataFrame

    Notes
    -----
    Can answer: the only public Chinese government-complaint data found: Excel files with
    Chinese headers and dates, reply time (message to official reply), repeat posters (15%
    of accounts post more than once: a proxy for repeat petitions), text categories. Cannot
    answer: which agencies worked together (the handling unit is only sometimes named in the
    reply text), the internal steps, outcomes or satisfaction; place names are masked
    (``A市``, ``A2区``).

    References
    ----------
    TipDM Cup 2020 (第八届“泰迪杯”数据挖掘挑战赛), problem C 智慧政务中的文本挖掘应用,
    attachments 3 and 4. Competition data without a stated licence: testing only.

    Examples
    --------
    >>> ev = ck.datasets.load_tipdm_messages(key="k")  # doctest: +SKIP
    >>> ev["case_id"].nunique(), "留言用户" in ev.columns  # doctest: +SKIP
    (2816, False)
    """
    from casekit.io import read_table

    if which not in ("replies", "all"):
        raise CasekitError(f"load_tipdm_messages: which must be 'replies' or 'all', got {which!r}")
    path = _path("tipdm_messages", "tipdm2020C_attachment4_messages_replies.xlsx", root)
    raw = read_table(path)
    frames = [raw.data]
    rows = [np.asarray(raw.source_rows, dtype="int64")]
    if which == "all":
        path3 = _path("tipdm_messages", "tipdm2020C_attachment3_messages.xlsx", root)
        raw3 = read_table(path3)
        frames.append(raw3.data)
        # attachment-3 rows numbered after attachment 4's so source rows stay unique
        rows.append(np.asarray(raw3.source_rows, dtype="int64") + int(rows[0].max()) + 1)
    cases = pd.concat(frames, ignore_index=True)
    cases["留言编号"] = cases["留言编号"].astype("str")
    for col in ("留言时间", "答复时间"):
        if col in cases.columns:
            cases[col] = _text_times(cases[col])
    close_unit = cases["答复意见"].map(_reply_unit) if "答复意见" in cases.columns else None
    extra_close: dict[str, Any] = {"agency": "答复单位未标明"}
    if close_unit is not None:
        extra_close["agency"] = close_unit.fillna("答复单位未标明").astype("str")
    events, ev_rows = _cases_to_events(
        cases,
        np.concatenate(rows),
        opened="留言时间",
        closed="答复时间" if "答复时间" in cases.columns else None,
        extra_register={"agency": "网络问政平台", "channel": "online"},
        extra_close={**extra_close, "channel": "online"},
        register_only=["留言详情"],
        close_only=["答复意见"],
    )
    return _finish(
        _raw(events, ev_rows, raw.fmt),
        dataset="tipdm_messages",
        path=path,
        columns={
            "case_id": "留言编号",
            "timestamp": "timestamp",
            "activity": "activity",
            "agency": "agency",
            "channel": "channel",
            "petitioner_name": "留言用户",
        },
        timezone=None,
        observation_end=observation_end,
        key=key,
        notes=[
            "case-only source: register at 留言时间, close at 答复时间",
            "留言用户 pseudonymised as the petitioner identity; 留言详情 / 答复意见 masked",
        ],
    )


def _text_times(values: pd.Series) -> pd.Series:
    """Excel cells may hold datetimes or text; give the parser text in one style."""

    def one(v: Any) -> Any:
        if isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "strftime"):
            return pd.Timestamp(v).strftime("%Y-%m-%d %H:%M:%S")
        return v

    if values.dtype == object:
        return values.map(one).astype("str")
    return values


_LOADERS: dict[str, Callable[..., pd.DataFrame]] = {
    "receipt": load_receipt,
    "road_traffic": load_road_traffic,
    "bpic14": load_bpic14,
    "bpic15": load_bpic15,
    "nyc_council_casework": load_nyc_council_casework,
    "nyc311_sample": load_nyc311_sample,
    "tipdm_messages": load_tipdm_messages,
}
