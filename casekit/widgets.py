"""Interactive panels (ipywidgets) over casekit's analysis functions; UI only, no analysis here.

- :class:`WhatIfPanel`: one slider per lever of :func:`casekit.simulate.simulate_year`, built
  from a declarative spec (:data:`LEVER_CONTROLS`) that is checked against the function's
  signature, so a renamed knob fails loudly; the assumptions behind each lever are shown and
  editable; baseline and scenario side by side with their 90% bands.
- :class:`NetworkExplorer`: the agency network (working together / hand-over, agency / agency
  type, all or repeat filings, a period), drawn with :func:`casekit.plotting.plot_network`.

Reach them explicitly (``from casekit.widgets import WhatIfPanel``); ``import casekit`` never
imports ipywidgets or matplotlib. Panels never call ``display()`` themselves: the notebook shows
the object. The figure is created once (a :class:`matplotlib.figure.Figure` outside pyplot, so the
inline backend never shows a second copy) and updated in place; each update is rendered to PNG
bytes in an ``ipywidgets.Image``, which Voila and JupyterLab swap without flicker.

CSS classes for browser tests: ``ck-slider`` (sliders), ``ck-status`` (status line),
``ck-reset`` (reset button), ``ck-figure`` (the image), ``ck-dropdown`` (network choices).
"""

from __future__ import annotations

import inspect
import io
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from casekit import simulate as sm

__all__ = ["LEVER_CONTROLS", "NetworkExplorer", "WhatIfPanel", "check_lever_controls"]

def _controls() -> dict[str, dict[str, Any]]:
    """Build the slider spec from :data:`casekit.simulate.LEVERS` (the one range table)."""
    return {
        r.lever: {"kind": "int" if r.integer else "float", "min": float(r.min),
                  "max": float(r.max), "step": float(r.step), "format": str(r.format),
                  "unit": str(r.unit)}
        for r in sm.LEVERS.itertuples(index=False)
    }


#: Declarative spec of the what-if controls: lever keyword of ``simulate_year`` -> control,
#: derived from ``casekit.simulate.LEVERS`` (range, step, unit, display format), so the
#: sliders and the simulator's valid ranges cannot disagree.
LEVER_CONTROLS: dict[str, dict[str, Any]] = _controls()

#: Metrics drawn (one small bar chart each); every metric is in the table below the figure.
PLOT_METRICS: tuple[str, ...] = (
    "median_days_to_close",
    "median_days_to_close_repeat",
    "repeat_rate",
    "share_settled_at_street_level",
)

_METRIC_LABELS = {
    "median_days_to_close": "办结天数中位数 median days to close",
    "median_days_to_close_repeat": "重复件办结天数 median days (repeat)",
    "repeat_rate": "重复信访占比 repeat rate",
    "on_time_rate": "按期办结率 on-time rate (60 d)",
    "share_settled_at_street_level": "就地化解占比 settled locally",
    "escalations": "越级上访 escalations",
    "backlog_end": "年末积案 backlog at year end",
    "staff_days": "人力(人日) staff days",
    "funds_yuan": "专项资金(元) funds (yuan)",
    "n_filings": "信访件数 filings",
}


def check_lever_controls(
    spec: Mapping[str, Mapping[str, Any]] | None = None, func: Any = None
) -> None:
    """Check a control spec against ``simulate_year``'s keyword-only levers.

    Raises
    ------
    TypeError
        When a control names no keyword of the function (a renamed knob) or a lever of
        :data:`casekit.simulate.LEVERS` has no control.

    Examples
    --------
    >>> check_lever_controls()  # the shipped spec matches
    >>> check_lever_controls({"leader_share": {}})
    Traceback (most recent call last):
    ...
    TypeError: what-if controls do not match simulate_year: no keyword 'leader_share' ...
    """
    spec = LEVER_CONTROLS if spec is None else spec
    func = sm.simulate_year if func is None else func
    params = inspect.signature(func).parameters
    keywords = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    unknown = [k for k in spec if k not in keywords]
    if unknown:
        raise TypeError(
            f"what-if controls do not match {func.__name__}: no keyword {unknown[0]!r} "
            f"(keywords: {', '.join(sorted(keywords))})"
        )
    missing = [k for k in sm.LEVERS["lever"] if k not in spec]
    if missing:
        raise TypeError(f"what-if controls do not match {func.__name__}: lever {missing[0]!r} "
                        "has no control")


def _lever_label(lever: str) -> str:
    row = sm.LEVERS.set_index("lever").loc[lever]
    return f"{row['label_zh']} {row['label_en']}"


def _fmt(value: float, unit: str) -> str:
    """Format a number for people: shares as percentages, days to one decimal, commas.

    Examples
    --------
    >>> _fmt(0.31667, "share"), _fmt(18.2749, "days"), _fmt(1.6e6, "yuan"), _fmt(1.5, "x")
    ('31.7%', '18.3', '1,600,000', '1.5')
    """
    if not np.isfinite(value):
        return "–"
    if unit == "share":
        return f"{100 * value:.1f}%"
    if unit == "days" or abs(value) < 10:
        return f"{value:.1f}" if abs(value) >= 1 or value == 0 else f"{value:.2g}"
    return f"{value:,.0f}"


def _badge(table: pd.DataFrame, lever: str) -> str:
    """Return an HTML badge: is this lever's effect estimated from the log, edited or assumed."""
    rows = table[table["lever"] == lever]
    est = rows[rows["source"].astype("str").str.startswith("estimated")]
    if len(est):
        parts = [f"{r.parameter} ×{r.value:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}], "
                 f"n={int(r.n_cases):,}" for r in est.itertuples()]
        return ('<span class="ck-badge" style="background:#2ca02c;color:white;padding:0 4px">'
                f'estimated 估计</span> <small>{"; ".join(parts)}</small>')
    if (rows["source"].astype("str") == "edited").any():
        return ('<span class="ck-badge" style="background:#ff7f0e;color:white;padding:0 4px">'
                "edited 已改</span>")
    reason = next((str(r) for r in rows.get("reason", []) if str(r)), "")
    return ('<span class="ck-badge" style="background:#8c8c8c;color:white;padding:0 4px">'
            f'assumed 假设</span> <small>{reason}</small>')


def _png(fig: Any, dpi: int) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


class WhatIfPanel(widgets.VBox):
    """What-if panel: a slider per lever, editable assumptions, baseline vs scenario with bands.

    Parameters
    ----------
    baseline : casekit.simulate.Baseline, optional
        From :func:`casekit.simulate.calibrate_baseline` (default: the synthetic district).
    seed : int, default casekit.simulate.DEFAULT_SEED
        Common random numbers: baseline and every scenario use the same draws.
    replications : int, default casekit.simulate.DEFAULT_REPLICATIONS
        Replications behind each 90% band.
    n_cases : int, optional
        Filings per year to simulate (default: the baseline's volume).
    metrics : sequence of str
        Metrics drawn as bar charts (all metrics are listed in the table).
    ranking : DataFrame, optional
        A :func:`casekit.rank_collaborations` table: its top patterns are the choices of the
        route dropdown (default: :func:`casekit.simulate.route_choices` of the baseline).
    dpi : int, default 80
        Resolution of the rendered figure.

    Attributes
    ----------
    result : DataFrame
        The current scenario (:func:`casekit.simulate.simulate_year` output, with ``attrs``).
    baseline_result : DataFrame
        The baseline run (levers as observed, same seed and assumptions).
    sliders : dict
        Lever name -> slider (``panel.sliders["mediators"].value = 40`` re-runs).
    badges : dict
        Lever name -> HTML badge: effect estimated from the log (with interval and n),
        edited or assumed (with the reason).
    route : ipywidgets.Dropdown
        The collaboration repeat filings are routed through (``route_share`` slider).
    assumption_inputs : dict
        ``(lever, parameter)`` -> ``BoundedFloatText`` holding the effect size.
    figure : matplotlib.figure.Figure
        Created once; its artists are updated in place on every run
        (:func:`casekit.plotting.plot_whatif` / :func:`casekit.plotting.update_whatif`).
    image, status, reset_button, table
        The image widget showing the figure, the status line, the reset button and the HTML
        table of all metrics.

    Examples
    --------
    >>> from casekit.widgets import WhatIfPanel
    >>> panel = WhatIfPanel(seed=1, replications=3)
    >>> before = panel.result.set_index("metric").loc["repeat_rate", "value"]
    >>> panel.sliders["follow_up_visit_share"].value = 0.95
    >>> bool(panel.result.set_index("metric").loc["repeat_rate", "value"] < before)
    True
    """

    def __init__(
        self,
        baseline: sm.Baseline | None = None,
        *,
        seed: int = sm.DEFAULT_SEED,
        replications: int = sm.DEFAULT_REPLICATIONS,
        n_cases: int | None = None,
        metrics: Sequence[str] = PLOT_METRICS,
        ranking: pd.DataFrame | None = None,
        dpi: int = 80,
    ) -> None:
        check_lever_controls()
        from casekit.plotting import use_cjk_font

        use_cjk_font()
        self.base = sm.calibrate_baseline() if baseline is None else baseline
        self.seed, self.replications, self.n_cases = seed, replications, n_cases
        self.metrics, self.dpi = tuple(metrics), dpi
        self._hold = False
        self.runs = 0
        self.defaults = sm.default_levers(self.base, n_cases=n_cases)
        self._reference = (self.base.assumptions if self.base.assumptions is not None
                           else sm.ASSUMPTIONS)
        self._assumptions = self._reference.copy()
        self._last_change = "baseline"
        rows = self._build_sliders(ranking)
        self.assumptions_box = self._build_assumptions()
        self.reset_button = widgets.Button(description="重置 reset", icon="undo",
                                           tooltip="levers back to observed values, "
                                           "assumptions back to the baseline's")
        self.reset_button.add_class("ck-reset")
        self.reset_button.on_click(self._on_reset)
        self.status = widgets.HTML("")
        self.status.add_class("ck-status")
        self.table = widgets.HTML("")
        self.table.add_class("ck-table")
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.image.add_class("ck-figure")
        self.baseline_result = self._simulate(baseline_run=True)
        self.result = self._simulate()
        self._build_figure()
        self._render(time.perf_counter())
        title = widgets.HTML(
            "<b>情景推演 What-if</b>: 拖动滑块，松开后更新 (move a slider; results update on "
            "release). Each lever says whether its effect is estimated from the log or assumed; "
            "effect sizes are editable below."
        )
        super().__init__(children=[
            title, *rows, widgets.HBox([self.reset_button, self.status]), self.image,
            self.table, widgets.HTML("<b>假设 Assumptions</b> (edit to re-run):"),
            self.assumptions_box,
        ])
        self.add_class("ck-whatif")

    # --- building ----------------------------------------------------------------------------

    def _build_sliders(self, ranking: pd.DataFrame | None) -> list[widgets.Widget]:
        """One labelled slider (with its unit and evidence badge) per lever; the route choice."""
        self.sliders: dict[str, widgets.Widget] = {}
        self.badges: dict[str, widgets.HTML] = {}
        rows = []
        for lever, spec in LEVER_CONTROLS.items():
            default = self.defaults[lever]
            common = {"min": min(spec["min"], default), "max": max(spec["max"], default),
                      "step": spec["step"], "continuous_update": False, "description": "",
                      "layout": widgets.Layout(width="360px")}
            if spec["kind"] == "int":
                slider = widgets.IntSlider(**{**common, "value": round(default),
                                              "min": round(common["min"]),
                                              "max": round(common["max"])})
            else:
                slider = widgets.FloatSlider(**common, value=default,
                                             readout_format=spec["format"])
            slider.add_class("ck-slider")
            slider.observe(self._on_change, names="value")
            self.sliders[lever] = slider
            self.badges[lever] = widgets.HTML(_badge(self._assumptions, lever),
                                              layout=widgets.Layout(width="auto"))
            label = widgets.HTML(f"{_lever_label(lever)} <small>({spec['unit']})</small>",
                                 layout=widgets.Layout(width="330px"))
            rows.append(widgets.HBox([label, slider, self.badges[lever]]))
        choices = sm.route_choices(self.base, ranking)
        self.route = widgets.Dropdown(
            options=choices or ["(needs a baseline calibrated from an event log)"],
            description="分流至 route repeat filings to", disabled=not choices,
            style={"description_width": "initial"}, layout=widgets.Layout(width="640px"))
        self.route.add_class("ck-dropdown")
        self.route.observe(self._on_change, names="value")
        self.sliders["route_share"].disabled = not choices
        rows.append(self.route)
        return rows

    def _build_assumptions(self) -> widgets.Accordion:
        """One accordion section per lever (+ the general ones); values rounded for people."""
        self.assumption_inputs: dict[tuple[str, str], widgets.BoundedFloatText] = {}
        self._shown: dict[tuple[str, str], float] = {}
        sections, titles = [], []
        table = self._reference
        for lever in [*LEVER_CONTROLS, "all"]:
            items = []
            for r in table[table["lever"] == lever].itertuples(index=False):
                shown = float(f"{float(r.value):.3g}")
                box = widgets.BoundedFloatText(
                    value=shown, min=float(r.min), max=float(r.max),
                    step=abs(shown) / 10 or 0.05, description=str(r.parameter),
                    style={"description_width": "210px"}, layout=widgets.Layout(width="360px"),
                )
                box.add_class("ck-assumption")
                box.observe(self._on_assumption, names="value")
                self.assumption_inputs[(lever, str(r.parameter))] = box
                self._shown[(lever, str(r.parameter))] = shown
                items.append(widgets.HBox([box, widgets.HTML(
                    f"<small>{r.unit}; {r.mechanism} <i>[{r.source}]</i></small>",
                    layout=widgets.Layout(width="520px"))]))
            sections.append(widgets.VBox(items))
            titles.append("general 通用" if lever == "all" else _lever_label(lever))
        box = widgets.Accordion(children=sections, titles=tuple(titles))
        box.add_class("ck-assumptions")
        return box

    def _build_figure(self) -> None:
        """Create the figure once, outside pyplot (no duplicate inline display), on an Agg canvas."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from casekit.plotting import plot_whatif

        n = len(self.metrics)
        self.figure = Figure(figsize=(2.6 * n, 2.7))
        FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.08, right=0.99, top=0.86, bottom=0.12, wspace=0.45)
        self.axes = self.figure.subplots(1, n, squeeze=False)[0]
        scen, base = _plain(self.result), _plain(self.baseline_result)
        for ax, m in zip(self.axes, self.metrics, strict=True):
            plot_whatif(scen, baseline=base, metric=m, ax=ax,
                        ylabel=sm.METRICS[m][0])
            ax.set_title(_METRIC_LABELS.get(m, m), fontsize=8)
            ax.tick_params(labelsize=7)
            ax.yaxis.label.set_fontsize(7)
            ax.spines[["top", "right"]].set_visible(False)

    # --- running ---------------------------------------------------------------------------

    def levers(self) -> dict[str, float]:
        """Return the current lever values from the sliders."""
        return {k: float(s.value) for k, s in self.sliders.items()}

    def _simulate(self, baseline_run: bool = False) -> pd.DataFrame:
        levers: dict[str, Any] = {} if baseline_run else self.levers()
        route = None if self.route.disabled or baseline_run else self.route.value
        return sm.simulate_year(self.base, seed=self.seed, replications=self.replications,
                                n_cases=self.n_cases, assumptions=self._assumptions,
                                route_repeat_to=route, **levers)

    def _on_change(self, change: Mapping[str, Any]) -> None:
        if self._hold:
            return
        owner = change.get("owner")
        lever = next((k for k, s in self.sliders.items() if s is owner), "route")
        label = _lever_label(lever) if lever in self.sliders else "route"
        self._last_change = f"{label} = {change.get('new')}"
        self.run()

    def _on_assumption(self, change: Mapping[str, Any]) -> None:
        if self._hold:
            return
        owner = change.get("owner")
        key = next((k for k, b in self.assumption_inputs.items() if b is owner), None)
        self._last_change = f"assumption {key[0]}.{key[1]} = {change.get('new')}" if key else (
            "assumption")
        self._update_assumptions()
        self.baseline_result = self._simulate(baseline_run=True)
        self.run()

    def _update_assumptions(self) -> None:
        """Edited boxes (value unlike the rounded one shown) become the table's values."""
        edits = [{"lever": lv, "parameter": p, "value": float(box.value)}
                 for (lv, p), box in self.assumption_inputs.items()
                 if float(box.value) != self._shown[(lv, p)]]
        self._assumptions = sm.edit_assumptions(edits, reference=self._reference)
        for lever, badge in self.badges.items():
            badge.value = _badge(self._assumptions, lever)

    def run(self) -> pd.DataFrame:
        """Re-run the scenario with the current controls; update the figure in place."""
        t0 = time.perf_counter()
        self.result = self._simulate()
        self._update_artists()
        self._render(t0)
        return self.result

    def _update_artists(self) -> None:
        """Put new results on the same artists (:func:`casekit.plotting.update_whatif`)."""
        from casekit.plotting import update_whatif

        scen, base = _plain(self.result), _plain(self.baseline_result)
        for ax in self.axes:
            update_whatif(ax, scen, baseline=base, redraw=False)
            ax.set_ylim(bottom=0.0)

    def _render(self, t0: float) -> None:
        self.runs += 1
        self.image.value = _png(self.figure, self.dpi)
        base = _plain(self.baseline_result).set_index("metric")
        scen = _plain(self.result).set_index("metric")
        ms = (time.perf_counter() - t0) * 1000
        m1, m2 = "median_days_to_close", "repeat_rate"
        self.status.value = (
            f"run {self.runs} ({self._last_change}): scenario "
            f"{_fmt(scen.loc[m1, 'value'], 'days')} days to close (baseline "
            f"{_fmt(base.loc[m1, 'value'], 'days')}); repeat rate "
            f"{_fmt(scen.loc[m2, 'value'], 'share')} (baseline {_fmt(base.loc[m2, 'value'], 'share')})"
            f" · {ms:.0f} ms"
        )
        self.table.value = _metrics_table(base, scen) + (
            f"<small>{self.result.attrs.get('band', '')}</small>")

    def _on_reset(self, _button: Any = None) -> None:
        self.reset()

    def reset(self) -> pd.DataFrame:
        """Put every lever back to its observed value and every assumption to the baseline's."""
        self._hold = True
        try:
            for lever, slider in self.sliders.items():
                slider.value = self.defaults[lever]
            for key, box in self.assumption_inputs.items():
                box.value = self._shown[key]
        finally:
            self._hold = False
        self._update_assumptions()
        self.baseline_result = self._simulate(baseline_run=True)
        self._last_change = "reset"
        return self.run()


def _plain(res: pd.DataFrame) -> pd.DataFrame:
    """Return the result without its ``attrs`` (pandas deep-copies them on every operation)."""
    out = pd.DataFrame(res, copy=False)
    out.attrs = {}
    return out


def _band(res: pd.DataFrame, m: str, lo: str, hi: str) -> str:
    unit = str(res.loc[m, "unit"])
    return f"[{_fmt(res.loc[m, lo], unit)}, {_fmt(res.loc[m, hi], unit)}]"


def _metrics_table(base: pd.DataFrame, scen: pd.DataFrame) -> str:
    """HTML table: baseline and scenario per metric, total band and simulation-only band."""
    rows = "".join(
        f"<tr><td>{_METRIC_LABELS.get(m, m)}</td>"
        f"<td>{_fmt(base.loc[m, 'value'], base.loc[m, 'unit'])} "
        f"<small>{_band(base, m, 'low', 'high')}</small></td>"
        f"<td>{_fmt(scen.loc[m, 'value'], scen.loc[m, 'unit'])} "
        f"<small>{_band(scen, m, 'low', 'high')}</small></td>"
        f"<td><small>{_band(scen, m, 'sim_low', 'sim_high')}</small></td></tr>"
        for m in base.index
    )
    return ("<table><tr><th>metric</th><th>baseline 现状 [90%]</th><th>scenario 情景 [90%]"
            f"</th><th>scenario, simulation noise only</th></tr>{rows}</table>")


class NetworkExplorer(widgets.VBox):
    """Agency network explorer: kind, level, subset and period; the edge table on ``result``.

    The periods and each period's network come from :func:`casekit.build_network_by_period`
    (a case belongs to the period it opened in); "all" periods use the network builders
    directly. Node size is a node's links (the sum of its edge counts), the same in every view;
    the ten strongest links are listed under the figure, rounded for people.

    Parameters
    ----------
    events : DataFrame, optional
        Canonical events (default: ``casekit.load_sample_events()``).
    by : {"quarter", "year", "month"}, default "quarter"
        Period length offered in the period dropdown.
    seed : int, default 0
        Layout seed of :func:`casekit.plotting.plot_network`.
    dpi : int, default 80

    Attributes
    ----------
    result : DataFrame
        Edge table (``source, target, count, share``) of the current choice.
    graph : networkx.Graph or networkx.DiGraph
        The current network.
    kind, level, subset, period : ipywidgets.Dropdown
    figure, image, status, table

    Examples
    --------
    >>> from casekit.widgets import NetworkExplorer
    >>> events = ck.load_sample_events()
    >>> events = events[events["case_id"].isin(events["case_id"].unique()[:300])]
    >>> ex = NetworkExplorer(events, by="year")
    >>> n_all = int(ex.result["count"].sum())
    >>> ex.subset.value = "repeat"
    >>> int(ex.result["count"].sum()) < n_all
    True
    >>> ex.subset.value, ex.period.value = "all", ex.period.options[1][1]
    >>> by_year = ck.build_network_by_period(events, by="year", level="agency_type")
    >>> same = by_year[by_year["period"] == ex.period.value]
    >>> int(ex.result["count"].sum()) == int(same["count"].sum())
    True
    """

    def __init__(
        self,
        events: pd.DataFrame | None = None,
        *,
        by: str = "quarter",
        seed: int = 0,
        dpi: int = 80,
    ) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from casekit import network
        from casekit.plotting import use_cjk_font

        use_cjk_font()
        if events is None:
            from casekit.datasets import load_sample_events

            events = load_sample_events()
        if by not in ("quarter", "year", "month"):
            raise ValueError(f"by: expected 'quarter', 'year' or 'month', got {by!r}")
        self.events, self.by, self.seed, self.dpi = events, by, seed, dpi
        self._network = network
        self._cache: dict[tuple[str, ...], Any] = {}
        self.kind = self._dropdown([("协同办理 working together", "working_together"),
                                    ("流转 handover", "handover")], "网络 network")
        self.level = self._dropdown([("单位类型 agency type", "agency_type"),
                                     ("单位 agency", "agency")], "层级 level")
        self.subset = self._dropdown([("全部 all filings", "all"),
                                      ("重复信访 repeat filings", "repeat")], "范围 subset")
        n_cases = json.loads(self._by_period().attrs["n_cases"])
        self.period = self._dropdown(
            [("全部 all", "all"), *[(f"{p} ({n:,} 件 cases)", p) for p, n in sorted(n_cases.items())]],
            "时段 period")
        self.status = widgets.HTML("")
        self.status.add_class("ck-status")
        self.table = widgets.HTML("")
        self.table.add_class("ck-table")
        self.figure = Figure(figsize=(10.5, 6.0))
        FigureCanvasAgg(self.figure)
        self.ax = self.figure.subplots()
        # the legend sits right of the axes: room for the longest agency-type label
        self.figure.subplots_adjust(left=0.02, right=0.55, top=0.98, bottom=0.02)
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.image.add_class("ck-figure")
        self.runs = 0
        self.run()
        super().__init__(children=[
            widgets.HTML("<b>协同网络 Agency network</b>: 选择网络、层级、范围和时段 "
                         "(choose kind, level, subset and period)."),
            widgets.HBox([self.kind, self.level], layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self.subset, self.period], layout=widgets.Layout(flex_flow="row wrap")),
            self.status, self.image, self.table,
        ])
        self.add_class("ck-network")

    def _dropdown(self, options: list[tuple[str, str]], description: str) -> widgets.Dropdown:
        """Make a dropdown wide enough for its longest label (CJK characters count double)."""
        longest = max(sum(2 if ord(ch) > 0x2E80 else 1 for ch in label) for label, _ in options)
        d = widgets.Dropdown(options=options, value=options[0][1], description=description,
                             style={"description_width": "110px"},
                             layout=widgets.Layout(width=f"{110 + 8 * longest + 48}px"))
        d.add_class("ck-dropdown")
        d.observe(self._on_change, names="value")
        return d

    def _cached(self, key: tuple[str, ...], make: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _events(self) -> pd.DataFrame:
        """Return the events of the chosen subset (repeat filings: ``repeat_ordinal`` > 1)."""
        if self.subset.value == "all":
            return self.events

        def repeat() -> pd.DataFrame:
            ev = self.events
            if "repeat_ordinal" in ev:
                ordinal = pd.to_numeric(ev["repeat_ordinal"], errors="coerce")
                return ev[(ordinal > 1).to_numpy()]
            from casekit.cases import build_case_table

            cases = build_case_table(ev)
            keep = set(cases.loc[cases["repeat_ordinal"] > 1, "case_id"].astype(str))
            return ev[ev["case_id"].astype(str).isin(keep).to_numpy()]

        return self._cached(("events", "repeat"), repeat)

    def _by_period(self) -> pd.DataFrame:
        key = ("by_period", self.kind.value, self.level.value, self.subset.value)
        return self._cached(key, lambda: self._network.build_network_by_period(
            self._events(), kind=self.kind.value, by=self.by, level=self.level.value))

    def _whole(self) -> Any:
        key = ("whole", self.kind.value, self.level.value, self.subset.value)
        build = (self._network.build_working_together_network if self.kind.value ==
                 "working_together" else self._network.build_handover_network)
        return self._cached(key, lambda: build(self._events(), level=self.level.value))

    def _graph(self) -> tuple[Any, int]:
        """Return the network of the current choice and its number of cases."""
        import networkx as nx

        whole = self._whole()
        if self.period.value == "all":
            G = whole.copy()
            n_cases = int(whole.graph.get("n_cases", 0))
        else:
            table = self._by_period()
            rows = table[table["period"] == self.period.value]
            G = nx.DiGraph() if whole.is_directed() else nx.Graph()
            for r in rows.itertuples(index=False):
                G.add_edge(r.source, r.target, count=int(r.count), share=float(r.share))
            for node in G:
                if node in whole:
                    G.nodes[node]["agency_type"] = whole.nodes[node].get("agency_type", node)
            n_cases = int(json.loads(table.attrs["n_cases"]).get(self.period.value, 0))
        for node in G:
            G.nodes[node]["links"] = sum(w for *_e, w in G.edges(node, data="count", default=1))
        return G, n_cases

    def _on_change(self, _change: Any) -> None:
        if getattr(self, "_ready", False):
            self.run()

    def _table_html(self) -> str:
        """List the ten strongest links, rounded for people (shares as percentages)."""
        top = self.result.sort_values("count", ascending=False, kind="stable").head(10)
        if not len(top):
            return ""
        from html import escape

        from casekit.schema import label_of

        arrow = "→" if self.graph.is_directed() else "–"

        def name(node: Any) -> str:
            return escape(label_of(str(node), "agency_type", lang="both")
                          if self.level.value == "agency_type" else str(node))

        body = "".join(
            f"<tr><td>{name(r.source)} {arrow} {name(r.target)}</td><td style='text-align:right'>"
            f"{int(r.count):,}</td><td style='text-align:right'>{100 * float(r.share):.1f}%</td></tr>"
            for r in top.itertuples(index=False))
        return ("<table class='ck-edges'><tr><th>最强的连线 strongest links</th><th>次数 count</th>"
                f"<th>占比 share</th></tr>{body}</table>")

    def run(self) -> pd.DataFrame:
        """Rebuild the network for the current choices and redraw it."""
        from casekit.plotting import plot_network

        t0 = time.perf_counter()
        self.graph, n_cases = self._graph()
        self.result = self._network.edges_to_frame(self.graph)
        self.ax.clear()  # a new graph needs a new layout; the figure itself is kept
        if self.graph.number_of_edges():
            plot_network(self.graph, ax=self.ax, seed=self.seed, size="links",
                         max_labels=25 if self.level.value == "agency" else None)
        else:
            self.ax.text(0.5, 0.5, "no edges 无连线", ha="center", va="center",
                         transform=self.ax.transAxes)
            self.ax.set_axis_off()
        self.image.value = _png(self.figure, self.dpi)
        self.table.value = self._table_html()
        self.runs += 1
        self.status.value = (
            f"run {self.runs}: {self.kind.label}, {self.level.label}, {self.subset.label}, "
            f"{self.period.label}: {n_cases:,} cases, {self.graph.number_of_nodes():,} nodes, "
            f"{self.graph.number_of_edges():,} edges (node size: links) · "
            f"{(time.perf_counter() - t0) * 1000:.0f} ms"
        )
        self._ready = True
        return self.result
