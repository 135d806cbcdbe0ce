"""HTML reports from notebooks: execute with papermill, export without code, check for PII.

:func:`build_report` runs the bundled report template (``casekit/templates/report.ipynb``) on a
case log and writes one self-contained HTML file: figures embedded as ``data:`` images, no code
cells, no prompts, small cells suppressed inside the template (k=5, via
:func:`casekit.privacy.suppress_small_cells`), and the finished HTML scanned for ID numbers and
mobile numbers (:func:`casekit.privacy.find_pii`): a hit deletes the file and raises.

:func:`execute_notebook` and :func:`export_html` are also used by ``casekit demo`` and the notebook
tests. Every execution has a finite per-cell timeout and loads the nbclient polling workaround
(:mod:`casekit._jupyter_patch`), so a stalled cell fails loudly instead of hanging.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from casekit._utils import CasekitError, FileUnusableError

__all__ = [
    "RANKING_COLUMNS",
    "ReportInputs",
    "method_footer",
    "rank_for_report",
    "report_inputs",
    "REPORT_TEMPLATE",
    "build_report",
    "describe_log",
    "execute_notebook",
    "export_html",
    "find_pii_in_html",
    "identity_values",
    "markdown_text",
    "merge_small_patterns",
    "network_note",
    "curves_note",
    "pattern_counts",
    "printed_patterns",
    "publish_tables",
    "read_parameters",
]

#: Ranking columns shown in the report (the contract's columns, plus how it was ranked).
RANKING_COLUMNS = (
    "rank", "pattern", "n_cases", "n_closed", "median_days", "median_ci_low", "median_ci_high",
    "hazard_ratio", "hr_ci_low", "hr_ci_high", "p_holm", "p_best", "in_best_set", "ranked_by",
)

#: Name of the report template inside the package (``casekit/templates/``).
REPORT_TEMPLATE = "report.ipynb"

_DATA_URI = re.compile(r"data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+", re.IGNORECASE)
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>])")


def markdown_text(value: Any, *, max_chars: int = 300) -> str:
    r"""Any text (a file name, a label) made safe to put into the report's Markdown.

    PII is masked and control characters escaped (:func:`casekit.privacy.scrub_message`), then
    HTML is escaped and Markdown punctuation backslash-escaped, so the text renders as itself:
    no tag, link or code span can come out of it.

    Examples
    --------
    >>> from casekit.report import markdown_text
    >>> markdown_text("<img src=x onerror=alert(1)>.csv")
    '&lt;img src=x onerror=alert\\(1\\)&gt;\\.csv'
    >>> markdown_text("张三_13812345678.csv")
    '张三\\_\\[手机号\\]\\.csv'
    """
    import html

    from casekit.privacy import scrub_message

    escaped = html.escape(scrub_message(value, max_chars=max_chars), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", escaped)


def _template_path() -> Path:
    return Path(str(resources.files("casekit") / "templates" / REPORT_TEMPLATE))


def describe_log(
    events: Any, cases: Any, *, k: int | None = None, source: str | None = None
) -> str:
    """One bilingual Markdown paragraph describing a log and its case table.

    Parameters
    ----------
    events : pandas.DataFrame or mapping
        Canonical events (``attrs["casekit"]["source"]`` is named when present; the name is
        shown through :func:`markdown_text`), or for a partitioned folder the mapping
        ``{"n_events", "n_agencies", "meta"}`` (:attr:`ReportInputs.facts`).
    cases : pandas.DataFrame
        Its case table (:func:`casekit.build_case_table`).
    k : int, optional
        Small-cell threshold: a share of open or repeat cases that counts 1 to ``k - 1`` cases
        is given as "fewer than k cases" (a share of a known total is that count).
    source : str, optional
        The source name to show instead of ``attrs["casekit"]["source"]`` (e.g. one already
        scrubbed of the log's known names, as :func:`build_report` passes it).

    Examples
    --------
    >>> from casekit.report import describe_log
    >>> ev = pd.DataFrame({"case_id": ["a", "a", "b"], "agency": ["x", "y", "x"]})
    >>> cs = pd.DataFrame({"case_id": ["a", "b"], "closed": [True, False],
    ...                    "repeat_ordinal": [1, 2], "observation_end": pd.to_datetime(["2024-01-01"] * 2)})
    >>> print(describe_log(ev, cs))  # doctest: +NORMALIZE_WHITESPACE
    **2 cases, 3 events, 2 agencies** (2 件, 3 条记录, 2 个单位). Observation end 观察截止:
    2024-01-01; open (censored) 未办结: 50.0%; repeat filings 重复信访: 50.0%.
    >>> ev.attrs["casekit"] = {"source": "/data/log.xlsx", "n_read": 4, "n_accepted": 3,
    ...                        "n_quarantined": 1}
    >>> print(describe_log(ev, cs))  # doctest: +ELLIPSIS
    Source 来源: log\\.xlsx. **2 cases, ... Rows read 4, accepted 3, quarantined 1 ...
    """
    n_events, n_agencies, meta = _log_facts(events)
    n_cases = len(cases)
    text = (f"**{n_cases:,} cases, {n_events:,} events, {n_agencies} agencies** "
            f"({n_cases:,} 件, {n_events:,} 条记录, {n_agencies} 个单位).")
    source = source if source is not None else meta.get("source")
    if source:
        text = f"Source 来源: {markdown_text(Path(str(source)).name)}. " + text
    if "n_read" in meta and "n_quarantined" in meta:
        text += (f" Rows read {meta['n_read']:,}, accepted {meta.get('n_accepted', 0):,}, "
                 f"quarantined {meta['n_quarantined']:,} (读入 / 接受 / 隔离; the quarantined rows "
                 "are listed by `casekit validate --quarantine`).")
    obs = cases.attrs.get("observation_end")
    if obs is None and "observation_end" in cases.columns and len(cases):
        obs = cases["observation_end"].iloc[0]
    if obs is not None:
        text += f" Observation end 观察截止: {pd_timestamp(obs):%Y-%m-%d};"
    if "closed" in cases.columns and n_cases:
        n_open = int((~cases["closed"].astype(bool)).sum())
        text += f" open (censored) 未办结: {_share(n_open, n_cases, k)};"
    if "repeat_ordinal" in cases.columns and n_cases:
        n_repeat = int((cases["repeat_ordinal"] > 1).sum())
        text += f" repeat filings 重复信访: {_share(n_repeat, n_cases, k)}."
    return text.rstrip(";")


def _log_facts(events: Any) -> tuple[int, int, Mapping[str, Any]]:
    """Return ``(n_events, n_agencies, reader metadata)`` of events or of a facts mapping.

    The mapping is :attr:`ReportInputs.facts` (a partitioned folder, never gathered).
    """
    if isinstance(events, Mapping):
        return (int(events.get("n_events", 0)), int(events.get("n_agencies", 0)),
                events.get("meta", {}))
    meta = events.attrs.get("casekit", {}) if hasattr(events, "attrs") else {}
    n_agencies = events["agency"].nunique() if "agency" in events.columns else 0
    return len(events), int(n_agencies), meta


def _share(count: int, total: int, k: int | None) -> str:
    if k is not None and 1 <= count < k:
        return f"fewer than {k} cases 少于 {k} 件"
    return f"{count / total:.1%}"


def pd_timestamp(value: Any) -> Any:
    """``pandas.Timestamp(value)`` (kept tiny so this module imports pandas lazily)."""
    import pandas as pd

    return pd.Timestamp(value)


def pattern_counts(cases: Any) -> Any:
    """Cases per collaboration pattern: ``pattern, n_cases, n_closed, n_open, n_repeat``.

    Publish it through :func:`casekit.privacy.suppress_small_cells`.

    Examples
    --------
    >>> from casekit.report import pattern_counts
    >>> cs = pd.DataFrame({"pattern": ["a", "a", "b"], "closed": [True, False, True],
    ...                    "repeat_ordinal": [1, 2, 1]})
    >>> pattern_counts(cs).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'pattern': 'a', 'n_cases': 2, 'n_closed': 1, 'n_open': 1, 'n_repeat': 1},
     {'pattern': 'b', 'n_cases': 1, 'n_closed': 1, 'n_open': 0, 'n_repeat': 0}]
    """
    df = cases.assign(
        _closed=cases["closed"].astype(bool).astype(int),
        _repeat=(cases["repeat_ordinal"] > 1).astype(int) if "repeat_ordinal" in cases else 0,
    )
    g = df.groupby("pattern", sort=False)
    out = g.agg(n_cases=("_closed", "size"), n_closed=("_closed", "sum"),
                n_repeat=("_repeat", "sum")).reset_index()
    out["n_open"] = out["n_cases"] - out["n_closed"]
    out = out[["pattern", "n_cases", "n_closed", "n_open", "n_repeat"]]
    return out.sort_values(["n_cases", "pattern"], ascending=[False, True]).reset_index(drop=True)


def merge_small_patterns(counts: Any, *, k: int = 5, keep: Any = ()) -> Any:
    """Patterns with fewer than ``k`` cases pooled into one row, ``other patterns (m)``.

    The smallest patterns are pooled until the pooled row has at least ``k`` cases (taking in
    the next smallest patterns of fewer than ``2 * k`` cases if need be); patterns in ``keep`` (those ranked or drawn
    elsewhere) are never pooled. A table of counts from :func:`pattern_counts`. Pooling the
    rare tail is what statistical offices do first: it leaves far fewer small cells to hide.

    Examples
    --------
    >>> from casekit.report import merge_small_patterns
    >>> t = pd.DataFrame({"pattern": ["a", "b", "c", "d"], "n_cases": [40, 12, 3, 1],
    ...                   "n_closed": [30, 9, 3, 0], "n_open": [10, 3, 0, 1],
    ...                   "n_repeat": [0, 0, 0, 0]})
    >>> merge_small_patterns(t)[["pattern", "n_cases"]].to_dict("list")
    {'pattern': ['a', 'b', 'other patterns (2)'], 'n_cases': [40, 12, 4]}
    >>> t.loc[1, "n_cases"] = 7
    >>> merge_small_patterns(t)[["pattern", "n_cases"]].to_dict("list")
    {'pattern': ['a', 'other patterns (3)'], 'n_cases': [40, 11]}
    """
    import pandas as pd

    keep = {str(p) for p in keep}
    small = counts[(counts["n_cases"] < k) & ~counts["pattern"].astype(str).isin(keep)]
    if small.empty:
        return counts.reset_index(drop=True)
    pool = small.sort_values("n_cases", kind="stable")
    rest = counts.drop(pool.index).sort_values("n_cases", kind="stable")
    rest = rest[~rest["pattern"].astype(str).isin(keep) & (rest["n_cases"] < 2 * k)]
    while pool["n_cases"].sum() < k and len(rest):
        pool, rest = pd.concat([pool, rest.iloc[:1]]), rest.iloc[1:]
    if len(pool) < 2 and pool["n_cases"].sum() < k:
        return counts.reset_index(drop=True)  # nothing to pool with: suppression protects it
    row = pool.drop(columns="pattern").sum().to_frame().T.astype(int)
    row.insert(0, "pattern", f"other patterns ({len(pool)})")
    out = pd.concat([counts.drop(pool.index), row], ignore_index=True)
    return out.sort_values("n_cases", ascending=False, kind="stable").reset_index(drop=True)


def _totals(counts: Any) -> Any:
    """The column totals :func:`describe_log` prints (cases) or lets a reader work out (shares
    of open and repeat cases), as a one-row table; a small one is a small cell itself."""
    import pandas as pd

    return pd.DataFrame({c: [int(counts[c].sum())] for c in _TOTALS}, index=["all"])


_TOTALS = ("n_cases", "n_open", "n_repeat")


def publish_tables(
    cases: Any,
    *,
    ranking: Any = None,
    k: int = 5,
    shown_n: Any = (),
) -> dict[str, Any]:
    """The report's count tables, suppressed together so that no small cell can be worked out.

    The cases-by-pattern table (:func:`pattern_counts`) and the ranking are published with
    complementary suppression (:func:`casekit.privacy.suppress_tables`) under what a reader of
    the report knows: ``n_cases = n_closed + n_open`` and ``n_cases >= n_repeat`` in each row,
    the column totals (printed or implied by the description's shares), the ranking's
    ``n_cases`` being the same cases as a column of the pattern table (repeat filings or all
    filings, whichever it equals), ``n_closed <= n_cases`` there, and the ``n=`` of the
    patterns drawn in the time-to-close figure, and the number of filings in the ranked
    patterns (``ranking.attrs["n_cases_used"]``, printed by :func:`rank_for_report` when it is
    the sum of the ranking's ``n_cases``). The totals of cases, open and repeat cases
    (printed by :func:`describe_log`, as counts or shares) are known to the reader, except a
    small one: ``describe_log(..., k=k)`` prints it as "fewer than k cases".

    Parameters
    ----------
    cases : pandas.DataFrame
        The case table.
    ranking : pandas.DataFrame, optional
        The ranking as shown (``pattern, n_cases, n_closed, ...``).
    k : int, default 5
    shown_n : iterable of str
        Patterns whose case count is printed elsewhere (figure legends): never hidden.

    Returns
    -------
    dict
        ``"patterns"`` and, with a ranking, ``"ranking"``: display-ready tables (counts as
        text, ``<k`` for small cells, ``[c]`` for cells hidden to protect them). A table no
        suppression can protect (a very small log) is withheld: it comes back empty, with the
        sentence saying why in ``attrs["withheld"]`` (the pattern table is dropped first, then
        the ranking's counts).

    Examples
    --------
    >>> from casekit.report import publish_tables
    >>> cs = pd.DataFrame({"pattern": ["a"] * 40 + ["b"] * 12 + ["c"] * 9 + ["d"] * 3,
    ...                    "closed": [True] * 30 + [False] * 10 + [True] * 9 + [False] * 3
    ...                              + [True] * 12,
    ...                    "repeat_ordinal": [1] * 64})
    >>> publish_tables(cs)["patterns"].to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'pattern': ['a', 'b', 'other patterns (2)'], 'n_cases': ['[c]', '[c]', '[c]'],
     'n_closed': ['30', '[c]', '[c]'], 'n_open': ['[c]', '<5', '0']}

    ``d`` (3 cases) is pooled with ``c``; the repeat column (all zero) is left out. ``b``'s 3
    open cases would be the printed open total (13) minus ``a``'s 10, so ``a``'s open count is
    hidden too, and then the case counts that would give them back.
    """
    from casekit.privacy import Relation, column_relations, row_relations, suppress_tables

    ranked_names = set() if ranking is None else set(ranking["pattern"].astype(str))
    counts = merge_small_patterns(pattern_counts(cases), k=k, keep=ranked_names | set(shown_n))
    counts = counts.set_index("pattern", drop=False)
    totals = _totals(counts)
    # without any repeat filing (the text prints 0%) the column is all zeros: left out
    cols = ["n_cases", "n_closed", "n_open"] + (["n_repeat"] if totals.loc["all", "n_repeat"]
                                                  else [])
    tables = {"patterns": counts[["pattern", *cols]]}
    count_cols = {"patterns": cols}
    rel = row_relations("patterns", counts, total="n_cases", parts=["n_closed", "n_open"])
    rel += [Relation(("patterns", p, "n_cases"), (("patterns", p, "n_repeat"),), "ge")
            for p in counts.index if "n_repeat" in cols]
    text_cols = [c for c in _TOTALS if c in cols]
    tables["text"] = totals
    count_cols["text"] = text_cols
    rel += column_relations("patterns", counts, totals={c: ("text", "all", c) for c in text_cols})
    fixed = [("patterns", p, "n_cases") for p in shown_n if p in counts.index]
    fixed += [("text", "all", c) for c in text_cols if not 1 <= totals.loc["all", c] < k]
    if ranking is not None and len(ranking):
        ranked = ranking.set_index("pattern", drop=False)
        rank_cols = [c for c in ("n_cases", "n_closed") if c in ranked.columns]
        tables["ranking"] = ranked
        count_cols["ranking"] = rank_cols
        if "n_cases" in rank_cols:
            same = next((c for c in ("n_repeat", "n_cases") if
                         all(ranked["n_cases"] == counts[c].reindex(ranked.index))), None)
            if same is not None:
                rel += [Relation(("ranking", p, "n_cases"), (("patterns", p, same),))
                        for p in ranked.index]
            if "n_closed" in rank_cols:
                rel += [Relation(("ranking", p, "n_cases"), (("ranking", p, "n_closed"),), "ge")
                        for p in ranked.index]
            used = ranking.attrs.get("n_cases_used")
            if used is not None and int(used) == _ranked_sum(ranked):  # printed by the text
                totals.loc["all", "ranked"] = int(used)
                count_cols["text"].append("ranked")
                fixed.append(("text", "all", "ranked"))
                rel += column_relations("ranking", ranked,
                                        totals={"n_cases": ("text", "all", "ranked")})
    for drop in ([], ["patterns"], ["patterns", "ranking"]):
        keep = [t for t in tables if t not in drop]
        try:
            out = suppress_tables(
                {t: tables[t] for t in keep},
                [r for r in rel if all(c[0] in keep for c in (r.total, *r.parts))],
                k=k, count_cols={t: count_cols[t] for t in keep},
                fixed=[c for c in fixed if c[0] in keep])
            break
        except CasekitError:  # no arrangement of hidden cells protects every small count
            continue
    else:  # pragma: no cover - without tables there is nothing left to protect
        out = {}
    result = {name: table.reset_index(drop=True) for name, table in out.items() if name != "text"}
    for name in ("patterns", "ranking"):
        if name in tables and name not in result:
            empty = tables[name].iloc[:0].reset_index(drop=True)
            empty.attrs["withheld"] = (
                f"Table withheld: with {int(totals.loc['all', 'n_cases']):,} cases, no choice of "
                f"hidden cells keeps every count under {k} from being worked out from the other "
                "numbers of this report; a log with more cases per pattern would allow it. "
                "为保护少于 5 件的单元格，本表未公布。")
            result[name] = empty
    return result


_OUTCOME_WORDS = {"close": "closing", "settle": "settling (no re-filing within the settle "
                  "window after closure)", "any-exit": "any exit (closing or a competing exit)"}


def _has_repeats(cases: Any) -> bool:
    import pandas as pd

    rep = pd.to_numeric(cases.get("repeat_ordinal", pd.Series(dtype=float)), errors="coerce")
    return bool((rep.fillna(1) >= 2).any())


def rank_for_report(
    events: Any,
    cases: Any,
    *,
    min_cases: int = 30,
    repeat_only: bool | None = None,
    outcome: str = "close",
    intervals: Any = None,
    k: int = 5,
) -> tuple[Any, str]:
    """The report's ranking and the sentence that says what was done (or why nothing was).

    Parameters
    ----------
    events : pandas.DataFrame or None
        The events; None for a partitioned folder (then ``cases`` and ``intervals`` are ranked).
    cases : pandas.DataFrame
        The case table.
    min_cases : int, default 30
    repeat_only : bool, optional
        Rank repeat filings only (True), all filings (False), or (None, the default) repeat
        filings when the log has any and all filings otherwise (said so).
    outcome : {"close", "settle", "any-exit"}, default "close"
    intervals : pandas.DataFrame, optional
        Counting-process rows (needed with ``events=None``).
    k : int, default 5
        Small-cell threshold: a count of 1 to ``k - 1`` in the reason for no ranking is given
        as "fewer than k".

    Returns
    -------
    (ranking or None, str)
        The ranking (``attrs["report_scope"]`` says ``"repeat"`` or ``"all"``), and one
        paragraph: the scope, the method, the estimand, the headline (the confidence set when
        unsure) and what the numbers rest on; without a ranking, the reason and what would make
        one possible.

    Examples
    --------
    >>> ev = ck.load_sample_events()
    >>> ranking, text = rank_for_report(ev, ck.build_case_table(ev))
    >>> text.startswith("Repeat filings ranked by the time-varying method")
    True
    >>> _, text = rank_for_report(ev, ck.build_case_table(ev), min_cases=5000)
    >>> text.split(":")[0]
    'No ranking'
    """
    import warnings

    from casekit.ranking import NothingToRankError, describe_ranking, rank_collaborations

    auto = repeat_only is None
    repeat_only = _has_repeats(cases) if auto else bool(repeat_only)
    scope = ("Repeat filings" if repeat_only else
             "No repeat filings in this log, so all filings are" if auto else "All filings")
    data = events if events is not None else cases
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ranking = rank_collaborations(data, intervals=intervals, repeat_only=repeat_only,
                                          outcome=outcome, min_cases=min_cases)
    except NothingToRankError as exc:
        hint = "ranking all filings (--all-filings), " if repeat_only else ""
        return None, (f"No ranking: {_small_counts_hidden(str(exc).rstrip('.'), k)}. A longer "
                      f"log, {hint}a lower --min-cases (now {min_cases}) or mapping the closing "
                      "label (--labels) would make one possible.")
    ranking.attrs["report_scope"] = "repeat" if repeat_only else "all"
    a = ranking.attrs
    how = ("adjusted hazard ratios (Cox model, clustered by matter)"
           if a["ranked_by"] == "adjusted_hazard_ratio"
           else "Kaplan-Meier medians (the adjusted model could not be fitted, so no hazard "
                "ratios and no confidence set)")
    ph = " Proportional hazards look violated for some patterns: read the hazard ratios as " \
         "averages over time." if any("proportional" in str(w.message) for w in caught) else ""
    used = int(a["n_cases_used"])
    rests = (f"{used:,} filings in the ranked patterns" if used == _ranked_sum(ranking)
             else "the filings counted in each pattern while it was in force")
    return ranking, (
        f"{scope} ranked by the {a['method']} method ({a['estimand']}) on {how}; outcome: "
        f"time to {_OUTCOME_WORDS.get(outcome, outcome)}; {rests}, patterns with at least "
        f"{min_cases} cases; observation end {a['observation_end']}. "
        f"{describe_ranking(ranking)}.{ph}")


_COUNT = re.compile(r"\b(\d[\d,]*) (cases?|closures?|filings?|closed)\b")


def _small_counts_hidden(text: str, k: int) -> str:
    """``"2 cases, 1 closures"`` -> ``"fewer than 5 cases, fewer than 5 closures"`` (k=5).

    Examples
    --------
    >>> _small_counts_hidden("largest: a with 2 cases, 1 closures; 0 of 1,000 cases closed", 5)
    'largest: a with fewer than 5 cases, fewer than 5 closures; 0 of 1,000 cases closed'
    """
    def repl(m: re.Match[str]) -> str:
        n = int(m.group(1).replace(",", ""))
        return f"fewer than {k} {m.group(2)}" if 1 <= n < k else m.group(0)

    return _COUNT.sub(repl, text)


def _ranked_sum(ranking: Any) -> int:
    return int(ranking["n_cases"].sum()) if "n_cases" in ranking else -1


def method_footer(ranking: Any, *, repeat_only: bool | None = None,
                  outcome: str = "close") -> str:
    """The report's closing note: what was actually done, in English and Chinese.

    States the method (time-varying Cox with adjustment, or the fall-back to Kaplan-Meier
    medians, or no ranking), the scope (repeat filings or all filings) and the outcome, then
    that the analysis is observational.

    Examples
    --------
    >>> r = pd.DataFrame({"pattern": ["a"], "n_cases": [40]})
    >>> r.attrs.update(ranked_by="median", method="time-varying", report_scope="all")
    >>> print(method_footer(r))  # doctest: +ELLIPSIS
    Closed is not settled. ... All filings ... by Kaplan-Meier median time to closing, unadjusted...
    >>> "No ranking could be made (see section 4), so nothing here is adjusted" in method_footer(None)
    True
    """
    head = "Closed is not settled. 办结不等于化解（息诉罢访）。"
    tail = (" The analysis is observational: it describes how cases went, it does not prove "
            "that a collaboration caused the difference. 观察性分析，不能证明因果。")
    if ranking is None:
        return (f"{head} No ranking could be made (see section 4), so nothing here is adjusted; "
                "the figures describe the log as recorded. 未能排名，以上均为描述性结果。" + tail)
    a = ranking.attrs
    scope = ("Repeat filings (repeat_ordinal >= 2) were ranked" if
             a.get("report_scope", "repeat" if repeat_only else "all") == "repeat" else
             "All filings (first and repeat) were ranked")
    what = _OUTCOME_WORDS.get(outcome, outcome)
    if a.get("ranked_by") == "adjusted_hazard_ratio":
        how = (f"by a {a.get('method', 'time-varying')} Cox model of the time to {what}: a "
               "pattern counts from the moment its last agency type joins, adjusted for the "
               "covariates the log has (category, street, repeat ordinal, channel, year), errors "
               "clustered by matter. 时变 Cox 模型，已调整问题类别、街道等因素。")
    else:
        how = (f"by Kaplan-Meier median time to {what}, unadjusted: the Cox model could not be "
               "fitted on this log, so the order can reflect differences in category or street "
               "rather than in collaboration. 未能拟合调整模型，按中位数排序，未作调整。")
    zh = "仅重复信访。" if scope.startswith("Repeat") else "全部信访件。"
    return f"{head} {scope} {how} {zh}{tail}"


@dataclass
class ReportInputs:
    """What the report template works on (:func:`report_inputs`).

    ``events`` is None for a partitioned folder (its events are never gathered); ``facts``
    then gives what :func:`describe_log` prints. ``intervals`` are the counting-process rows of
    a folder (None in memory: the ranking builds them from the events).
    """

    events: Any
    cases: Any
    network: Any
    intervals: Any = None
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def log(self) -> Any:
        """The events, or the facts of a folder: the first argument of :func:`describe_log`."""
        return self.events if self.events is not None else self.facts


def report_inputs(
    path: str | os.PathLike[str] | None,
    *,
    columns: Mapping[str, str] | None = None,
    observation_end: Any = None,
    scheduler: str | None = None,
) -> ReportInputs:
    """Read a log (or the bundled sample, or a partitioned folder) for the report.

    A file is read with :func:`casekit.read_events`; a folder written by ``casekit partition``
    is processed on Dask by :mod:`casekit.scale` (case table, counting-process rows and the
    agency-type network gathered; ``scheduler`` is the address of a Dask scheduler, default a
    local cluster).

    Examples
    --------
    >>> from casekit.report import report_inputs
    >>> data = report_inputs(None)
    >>> len(data.cases), data.network.number_of_nodes() > 3, data.intervals is None
    (2000, True, True)
    """
    from casekit.timestamps import parse_date

    obs = None if observation_end is None else parse_date(observation_end)
    if path is not None and Path(path).is_dir():
        from casekit import scale

        meta = scale.read_metadata(path)
        with scale.cluster(scheduler):
            cases = scale.build_case_table(path, observation_end=obs)
            intervals = scale.build_case_intervals(path, observation_end=obs)
            network = scale.build_working_together_network(path, level="agency_type")
        facts = {"n_events": meta.get("n_accepted", 0),
                 "n_agencies": cases["agencies"].astype(str).str.split("+").explode().nunique()
                 if "agencies" in cases else 0, "meta": meta}
        return ReportInputs(None, cases, network, intervals, facts)
    import casekit as ck

    events = (ck.load_sample_events() if path is None
              else ck.read_events(path, columns=columns, observation_end=obs))
    cases = ck.build_case_table(events, observation_end=obs)
    network = ck.build_working_together_network(events, level="agency_type")
    return ReportInputs(events, cases, network)


def network_note(graph: Any) -> str | None:
    """Why the working-together network cannot be drawn, in one sentence (None when it can).

    Examples
    --------
    >>> import networkx as nx
    >>> from casekit.report import network_note
    >>> network_note(nx.Graph([("a", "b")])) is None
    True
    >>> print(network_note(nx.empty_graph(["unknown"])))  # doctest: +ELLIPSIS
    No network: no case in this log was handled by two or more agency types (1 agency type ...
    """
    if graph.number_of_edges() > 0:
        return None
    n = graph.number_of_nodes()
    return (f"No network: no case in this log was handled by two or more agency types ({n} "
            f"agency type{'s' if n != 1 else ''} in all). A log that records every agency acting "
            "on a case (an agency or agency_type column on each event, or --columns "
            "agency=...) would show who works with whom. 无协同网络：没有案件由两类以上单位共同办理。")


def curves_note(top: Sequence[str], cases: Any, *, k: int = 5) -> str | None:
    """Why the time-to-close figure is not drawn, in one sentence (None when it is).

    Examples
    --------
    >>> from casekit.report import curves_note
    >>> cs = pd.DataFrame({"closed": [False, False]})
    >>> print(curves_note([], cs))  # doctest: +ELLIPSIS
    No curves: no case in this log is closed ...
    """
    n_closed = int(cases["closed"].astype(bool).sum()) if "closed" in cases else 0
    if n_closed == 0:
        return ("No curves: no case in this log is closed (or its closing label is not "
                "recognised); map the closing label with --labels, or a later observation end "
                "would show closures. 无办结案件，无法绘制办结曲线。")
    if not top:
        return (f"No curves: no collaboration pattern has a case count the table can print "
                f"(at least {k} cases, not hidden to protect a small cell); a larger log would "
                f"show them. 没有可公布的协同模式（每种至少 {k} 件）。")
    return None


def printed_patterns(table: Any, *, k: int = 5, limit: int = 6) -> list[str]:
    """Patterns of a published pattern table whose case count is printed and at least ``k``.

    Figures that label patterns with their ``n`` (the time-to-close curves) draw only these, so
    they print no number the suppressed table hides. Largest first, at most ``limit``.

    Examples
    --------
    >>> from casekit.report import printed_patterns
    >>> t = pd.DataFrame({"pattern": ["a", "b", "c", "d"], "n_cases": ["40", "[c]", "<5", "7"]})
    >>> printed_patterns(t)
    ['a', 'd']
    """
    import pandas as pd

    n = pd.to_numeric(table["n_cases"], errors="coerce")
    keep = table.assign(_n=n)[n >= k].sort_values("_n", ascending=False, kind="stable")
    return [str(p) for p in keep["pattern"].head(limit)]


def identity_values(
    path: str | os.PathLike[str], *, columns: Mapping[str, str] | None = None
) -> list[str]:
    r"""The raw petitioner names, ID numbers and phones of a log (to check outputs against).

    Reads the file's identity columns (those :func:`casekit.schema.guess_columns` maps to
    ``petitioner_name`` / ``petitioner_id_number`` / ``petitioner_phone``, and headers such as
    ``姓名``, ``身份证号``, ``联系电话``) and returns their distinct values, for
    :func:`find_pii_in_html`. Placeholders (``无``, ``不详``, ``nan``) and values too short to
    identify anyone are left out. Keep the result in memory only.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from casekit.report import identity_values
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = p.write_text("case_id,姓名,联系电话\nA,张三,13812345678\nB,无,\n", encoding="utf-8")
    >>> identity_values(p)
    ['13812345678', '张三']
    """
    from casekit.io import read_table
    from casekit.schema import guess_columns
    from casekit.privacy import identity_column_kind

    raw = read_table(path).data
    mapping, _ = guess_columns(raw.columns, columns)
    wanted = {mapping[c] for c in ("petitioner_name", "petitioner_id_number", "petitioner_phone")
              if c in mapping}
    wanted |= {c for c in raw.columns if identity_column_kind(str(c)) is not None}
    found: set[str] = set()
    for col in wanted:
        for v in pd_unique(raw[col]):
            text = f"{v:.0f}" if isinstance(v, float) and v.is_integer() else str(v).strip()
            if len(text) >= 2 and text.casefold() not in _PLACEHOLDERS:
                found.add(text)
    return sorted(found)


_PLACEHOLDERS = frozenset(["none", "nan", "null", "n/a", "na", "无", "不详", "未知", "匿名", "空",
                           "-", "--", "/"])


def pd_unique(values: Any) -> list[Any]:
    """Distinct non-missing values of a column (pandas imported lazily)."""
    import pandas as pd

    return [v for v in pd.unique(values.dropna())]


def read_parameters(notebook: str | os.PathLike[str]) -> dict[str, str]:
    """Return the assignments of a notebook's ``parameters``-tagged cell as ``{name: source}``.

    Examples
    --------
    >>> from casekit.report import read_parameters, _template_path
    >>> sorted(read_parameters(_template_path()))[:3]
    ['COLUMNS', 'EVENTS_PATH', 'K']
    """
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            src = "".join(cell["source"])
            return {
                m.group(1): m.group(2).split("#")[0].strip()
                for m in re.finditer(r"^([A-Za-z_]\w*)\s*=\s*(.+)$", src, re.MULTILINE)
            }
    return {}


def execute_notebook(
    notebook: str | os.PathLike[str],
    *,
    parameters: Mapping[str, Any] | None = None,
    output: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 120,
    kernel_name: str = "python3",
) -> Any:
    """Execute a notebook with papermill (parameters injected) and return the executed notebook.

    Parameters
    ----------
    notebook : path
        The notebook; it needs a ``parameters``-tagged cell if ``parameters`` are given.
    parameters : mapping, optional
        Values for the parameters cell (papermill injects a cell after it).
    output : path, optional
        Where to write the executed notebook (default: a temporary file, then removed).
    cwd : path, optional
        Working directory of the kernel (default: the notebook's folder).
    timeout : float, default 120
        Per-cell timeout in seconds; a stalled cell raises instead of hanging.
    kernel_name : str, default "python3"

    Returns
    -------
    nbformat.NotebookNode

    Raises
    ------
    CasekitError
        If a cell fails or times out (the message names the cell and the error).
    """
    import papermill as pm

    from casekit import _jupyter_patch

    _jupyter_patch.apply()
    notebook = Path(notebook)
    cwd = Path(cwd) if cwd is not None else notebook.parent
    with tempfile.TemporaryDirectory(prefix="casekit-nb-") as tmp:
        out = Path(output) if output is not None else Path(tmp) / notebook.name
        try:
            nb = pm.execute_notebook(
                str(notebook), str(out), parameters=dict(parameters or {}), cwd=str(cwd),
                kernel_name=kernel_name, execution_timeout=timeout, progress_bar=False,
                log_output=False, request_save_on_cell_execute=False,
            )
        except pm.PapermillExecutionError as exc:
            raise CasekitError(
                f"{notebook.name}: cell {exc.exec_count} failed: {exc.ename}: {exc.evalue}"
            ) from exc
        except TimeoutError as exc:  # nbclient's CellTimeoutError is a TimeoutError
            raise CasekitError(f"{notebook.name}: a cell ran longer than {timeout:g} s") from exc
    return nb


def export_html(nb: Any, *, exclude_input: bool = True, title: str | None = None) -> str:
    """Export an executed notebook to one self-contained HTML string.

    Figures are embedded as ``data:`` images. With ``exclude_input`` (the default) code cells and
    the In/Out prompts are left out, so readers see prose, tables and figures only.

    Examples
    --------
    >>> import nbformat
    >>> from casekit.report import export_html
    >>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 报告"),
    ...                                      nbformat.v4.new_code_cell("x_secret_code = 1")])
    >>> html = export_html(nb)
    >>> "报告" in html, "x_secret_code" in html
    (True, False)
    """
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        exclude_input=exclude_input, exclude_input_prompt=True, exclude_output_prompt=True,
    )
    if title is not None:
        nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb)
    return body


def _import_exporter() -> None:
    import nbconvert.exporters.html  # noqa: F401 - warms the import for export_html


def find_pii_in_html(html: str, *, known_values: Any = None) -> list[Any]:
    """Scan HTML text for ID numbers, mobile numbers and known identities (images skipped).

    Parameters
    ----------
    html : str
    known_values : iterable of str, optional
        The raw names, ID numbers and phones of the log the report was made from
        (:func:`identity_values`): any of them in the text is a finding, whatever its shape.

    Examples
    --------
    >>> from casekit.report import find_pii_in_html
    >>> find_pii_in_html("<p>已办结</p><img src='data:image/png;base64,13812345678AAAA'>")
    []
    >>> [f.kind for f in find_pii_in_html("<td>13812345678</td>")]
    ['mobile']
    >>> [f.kind for f in find_pii_in_html("<td>鞠翊鸢</td>", known_values=["鞠翊鸢"])]
    ['name']
    """
    from casekit.privacy import find_pii

    return find_pii(_DATA_URI.sub("data:,", html), known_names=known_values)


def build_report(
    path: str | os.PathLike[str] | None,
    *,
    out: str | os.PathLike[str],
    columns: Mapping[str, str] | str | None = None,
    observation_end: str | None = None,
    min_cases: int = 30,
    repeat_only: bool | None = None,
    outcome: str = "close",
    scheduler: str | None = None,
    k: int = 5,
    timeout: float = 300,
) -> Path:
    """Run the report template on a case log and write ``out`` as HTML with no code cells.

    Parameters
    ----------
    path : path or None
        The case log (any format :func:`casekit.read_events` reads), a folder written by
        ``casekit partition`` (processed on Dask), or None for the bundled sample.
    out : path
        The HTML file to write.
    columns : mapping or str, optional
        Column mapping (``{"case_id": "信访件编号", ...}`` or the CLI's ``a=b,c=d`` text).
    observation_end : str, optional
        Censoring date (default: the log's last timestamp, stated in the report).
    min_cases : int, default 30
        Minimum cases for a pattern to be ranked.
    repeat_only : bool, optional
        Rank repeat filings only (True) or all filings (False); default: repeat filings when the
        log has any, else all filings (the report says which).
    outcome : {"close", "settle", "any-exit"}, default "close"
        The event the ranking times (as ``casekit rank --outcome``).
    scheduler : str, optional
        Dask scheduler address for a partitioned folder (default: a local cluster).
    k : int, default 5
        Small-cell threshold: counts under ``k`` are suppressed in every table.
    timeout : float, default 300
        Per-cell timeout in seconds.

    Returns
    -------
    pathlib.Path
        ``out``.

    Raises
    ------
    FileUnusableError
        If ``path`` does not exist.
    CasekitError
        If the template fails on the data, or if the HTML would contain an ID or mobile number
        or any raw name, ID number or phone of the log's identity columns
        (:func:`identity_values`; then no file is written).
    """
    if path is not None and not Path(path).exists():
        raise FileUnusableError(f"{path}: no such file")
    if outcome not in _OUTCOME_WORDS:
        raise CasekitError(f"outcome: expected one of {', '.join(_OUTCOME_WORDS)}, got "
                           f"{outcome!r}")
    if isinstance(columns, str):
        from casekit.cli._common import parse_columns

        columns = parse_columns(columns)
    from casekit.privacy import scrub_message

    # the raw identities are read here, kept in memory, and used to scrub the name shown and to
    # check the HTML; the notebook never sees them
    folder = path is not None and Path(path).is_dir()
    known = None if path is None or folder else identity_values(path, columns=columns)
    name = "sample" if path is None else scrub_message(Path(path).name, known_names=known)
    params = {
        "EVENTS_PATH": None if path is None else str(Path(path).resolve()),
        "SOURCE_NAME": None if path is None else name,
        "COLUMNS": dict(columns) if columns else None,
        "OBSERVATION_END": observation_end,
        "MIN_CASES": int(min_cases),
        "REPEAT_ONLY": repeat_only,
        "OUTCOME": outcome,
        "SCHEDULER": scheduler,
        "K": int(k),
    }
    out = Path(out)
    # the kernel does the work in its own process: meanwhile this one imports the exporter
    warm = threading.Thread(target=_import_exporter, daemon=True)
    warm.start()
    with tempfile.TemporaryDirectory(prefix="casekit-report-") as tmp:
        nb = execute_notebook(_template_path(), parameters=params, cwd=tmp, timeout=timeout)
    warm.join()
    html = export_html(nb, title=f"casekit report: {name}")
    found = find_pii_in_html(html, known_values=known)
    if found:
        kinds = sorted({f.kind for f in found})
        raise CasekitError(
            f"report on {name}: the HTML would contain raw PII ({', '.join(kinds)}; "
            f"{len(found)} finding(s)); nothing written"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:  # a failed or concurrent run never leaves a torn report
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(html)
        os.replace(tmp_name, out)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return out
