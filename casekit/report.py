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
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from casekit._utils import CasekitError, FileUnusableError

__all__ = [
    "RANKING_COLUMNS",
    "REPORT_TEMPLATE",
    "build_report",
    "describe_log",
    "execute_notebook",
    "export_html",
    "find_pii_in_html",
    "pattern_counts",
    "read_parameters",
]

#: Ranking columns shown in the report (the contract's columns, plus how it was ranked).
RANKING_COLUMNS = (
    "rank", "pattern", "n_cases", "n_closed", "median_days", "median_ci_low", "median_ci_high",
    "hazard_ratio", "hr_ci_low", "hr_ci_high", "p_value", "ranked_by",
)

#: Name of the report template inside the package (``casekit/templates/``).
REPORT_TEMPLATE = "report.ipynb"

_DATA_URI = re.compile(r"data:[a-z]+/[a-z0-9.+-]+;base64,[A-Za-z0-9+/=\s]+", re.IGNORECASE)


def _template_path() -> Path:
    return Path(str(resources.files("casekit") / "templates" / REPORT_TEMPLATE))


def describe_log(events: Any, cases: Any) -> str:
    """One bilingual Markdown paragraph describing a log and its case table.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events (``attrs["casekit"]["source"]`` is named when present).
    cases : pandas.DataFrame
        Its case table (:func:`casekit.build_case_table`).

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
    Source 来源: `log.xlsx`. **2 cases, ... Rows read 4, accepted 3, quarantined 1 ...
    """
    meta = events.attrs.get("casekit", {}) if hasattr(events, "attrs") else {}
    n_cases, n_events = len(cases), len(events)
    n_agencies = events["agency"].nunique() if "agency" in events.columns else 0
    text = (f"**{n_cases:,} cases, {n_events:,} events, {n_agencies} agencies** "
            f"({n_cases:,} 件, {n_events:,} 条记录, {n_agencies} 个单位).")
    source = meta.get("source")
    if source:
        text = f"Source 来源: `{Path(str(source)).name}`. " + text
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
        text += f" open (censored) 未办结: {1 - cases['closed'].astype(bool).mean():.1%};"
    if "repeat_ordinal" in cases.columns and n_cases:
        text += f" repeat filings 重复信访: {(cases['repeat_ordinal'] > 1).mean():.1%}."
    return text.rstrip(";")


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


def find_pii_in_html(html: str) -> list[Any]:
    """Scan HTML text for ID numbers and mobile numbers (embedded images are skipped).

    Examples
    --------
    >>> from casekit.report import find_pii_in_html
    >>> find_pii_in_html("<p>已办结</p><img src='data:image/png;base64,13812345678AAAA'>")
    []
    >>> [f.kind for f in find_pii_in_html("<td>13812345678</td>")]
    ['mobile']
    """
    from casekit.privacy import find_pii

    return find_pii(_DATA_URI.sub("data:,", html))


def build_report(
    path: str | os.PathLike[str] | None,
    *,
    out: str | os.PathLike[str],
    columns: Mapping[str, str] | str | None = None,
    observation_end: str | None = None,
    min_cases: int = 30,
    k: int = 5,
    timeout: float = 300,
) -> Path:
    """Run the report template on a case log and write ``out`` as HTML with no code cells.

    Parameters
    ----------
    path : path or None
        The case log (any format :func:`casekit.read_events` reads); None = the bundled sample.
    out : path
        The HTML file to write.
    columns : mapping or str, optional
        Column mapping (``{"case_id": "信访件编号", ...}`` or the CLI's ``a=b,c=d`` text).
    observation_end : str, optional
        Censoring date (default: the log's last timestamp, stated in the report).
    min_cases : int, default 30
        Minimum cases for a pattern to be ranked.
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
        (then no file is written).
    """
    if path is not None and not Path(path).is_file():
        raise FileUnusableError(f"{path}: no such file")
    if isinstance(columns, str):
        from casekit.cli._common import parse_columns

        columns = parse_columns(columns)
    params = {
        "EVENTS_PATH": None if path is None else str(Path(path).resolve()),
        "COLUMNS": dict(columns) if columns else None,
        "OBSERVATION_END": observation_end,
        "MIN_CASES": int(min_cases),
        "K": int(k),
    }
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="casekit-report-") as tmp:
        nb = execute_notebook(_template_path(), parameters=params, cwd=tmp, timeout=timeout)
    name = "sample" if path is None else Path(path).name
    html = export_html(nb, title=f"casekit report: {name}")
    found = find_pii_in_html(html)
    if found:
        kinds = sorted({f.kind for f in found})
        raise CasekitError(
            f"report on {name}: the HTML would contain raw PII ({', '.join(kinds)}; "
            f"{len(found)} finding(s)); nothing written"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
