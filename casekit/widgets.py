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
import time
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
import pandas as pd

from casekit import simulate as sm

__all__ = ["LEVER_CONTROLS", "NetworkExplorer", "WhatIfPanel", "check_lever_controls"]

#: Declarative spec of the what-if controls: lever keyword of ``simulate_year`` -> control.
#: ``min``/``max`` are the slider's range (within the lever's valid range in
#: ``casekit.simulate.LEVERS``; widened to include the observed value), ``kind`` the widget.
LEVER_CONTROLS: dict[str, dict[str, Any]] = {
    "leader_ownership_share": {"kind": "float", "min": 0.0, "max": 1.0, "step": 0.05,
                               "format": ".2f"},
    "joint_conference_interval_days": {"kind": "float", "min": 1.0, "max": 180.0, "step": 1.0,
                                       "format": ".0f"},
    "one_stop_center": {"kind": "float", "min": 0.0, "max": 1.0, "step": 0.1, "format": ".1f"},
    "mediators": {"kind": "int", "min": 0, "max": 400, "step": 1},
    "follow_up_visit_share": {"kind": "float", "min": 0.0, "max": 1.0, "step": 0.05,
                              "format": ".2f"},
    "special_fund_yuan": {"kind": "float", "min": 0.0, "max": 10_000_000.0, "step": 80_000.0,
                          "format": ",.0f"},
    "cadre_field_visits_per_month": {"kind": "float", "min": 0.0, "max": 120.0, "step": 1.0,
                                     "format": ".0f"},
}

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
    if not np.isfinite(value):
        return "–"
    if unit == "share":
        return f"{value:.3f}"
    if unit == "days":
        return f"{value:.1f}"
    return f"{value:,.0f}"


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
    seed : int, default 0
        Common random numbers: baseline and every scenario use the same draws.
    replications : int, default 10
        Replications behind each 90% band.
    n_cases : int, optional
        Filings per year to simulate (default: the baseline's volume).
    metrics : sequence of str
        Metrics drawn as bar charts (all metrics are listed in the table).
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
    assumption_inputs : dict
        ``(lever, parameter)`` -> ``BoundedFloatText`` holding the effect size.
    figure : matplotlib.figure.Figure
        Created once; its artists are updated in place on every run.
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
        seed: int = 0,
        replications: int = 10,
        n_cases: int | None = None,
        metrics: Sequence[str] = PLOT_METRICS,
        dpi: int = 80,
    ) -> None:
        check_lever_controls()
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from casekit.plotting import use_cjk_font

        use_cjk_font()
        self.base = sm.calibrate_baseline() if baseline is None else baseline
        self.seed = seed
        self.replications = replications
        self.n_cases = n_cases
        self.metrics = tuple(metrics)
        self.dpi = dpi
        self._hold = False
        self.runs = 0
        scale = 1.0 if n_cases is None else n_cases / self.base.filings_per_year
        self.defaults = sm._resolve_levers(self.base, {}, scale)
        self._last_change = "baseline"

        title = widgets.HTML(
            "<b>情景推演 What-if</b>: 拖动滑块，松开后更新 (move a slider; results update on "
            "release). Every lever's mechanism and effect size is an assumption, editable below."
        )
        self.sliders: dict[str, widgets.Widget] = {}
        rows = []
        for lever, spec in LEVER_CONTROLS.items():
            default = self.defaults[lever]
            lo = min(spec["min"], default)
            hi = max(spec["max"], default)
            common = {"min": lo, "max": hi, "step": spec["step"], "value": default,
                      "continuous_update": False, "description": "",
                      "layout": widgets.Layout(width="420px")}
            if spec["kind"] == "int":
                slider = widgets.IntSlider(**{**common, "value": round(default),
                                              "min": round(lo), "max": round(hi)})
            else:
                slider = widgets.FloatSlider(**common, readout_format=spec.get("format", ".2f"))
            slider.add_class("ck-slider")
            slider.observe(self._on_change, names="value")
            self.sliders[lever] = slider
            label = widgets.HTML(_lever_label(lever), layout=widgets.Layout(width="340px"))
            rows.append(widgets.HBox([label, slider]))

        # assumptions: one accordion section per lever (+ the general ones), editable
        self.assumption_inputs: dict[tuple[str, str], widgets.BoundedFloatText] = {}
        sections, titles = [], []
        table = sm.ASSUMPTIONS
        for lever in [*LEVER_CONTROLS, "all"]:
            sub = table[table["lever"] == lever]
            items = []
            for r in sub.itertuples(index=False):
                box = widgets.BoundedFloatText(
                    value=float(r.value), min=float(r.min), max=float(r.max),
                    step=abs(float(r.value)) / 10 or 0.05, description=str(r.parameter),
                    style={"description_width": "210px"}, layout=widgets.Layout(width="360px"),
                )
                box.add_class("ck-assumption")
                box.observe(self._on_assumption, names="value")
                self.assumption_inputs[(lever, str(r.parameter))] = box
                items.append(widgets.HBox([box, widgets.HTML(
                    f"<small>{r.unit}; {r.mechanism} <i>[{r.source}]</i></small>",
                    layout=widgets.Layout(width="520px"))]))
            sections.append(widgets.VBox(items))
            titles.append("general 通用" if lever == "all" else _lever_label(lever))
        self.assumptions_box = widgets.Accordion(children=sections, titles=tuple(titles))
        self.assumptions_box.add_class("ck-assumptions")

        self.reset_button = widgets.Button(description="重置 reset", icon="undo",
                                           tooltip="levers back to observed values, "
                                           "assumptions back to the defaults")
        self.reset_button.add_class("ck-reset")
        self.reset_button.on_click(self._on_reset)
        self.status = widgets.HTML("")
        self.status.add_class("ck-status")
        self.table = widgets.HTML("")
        self.table.add_class("ck-table")

        # the figure: created once, outside pyplot (no duplicate inline display), Agg canvas
        n = len(self.metrics)
        self.figure = Figure(figsize=(2.6 * n, 2.7))
        FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.05, right=0.99, top=0.88, bottom=0.12, wspace=0.35)
        self.axes = self.figure.subplots(1, n, squeeze=False)[0]
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.image.add_class("ck-figure")

        self._assumptions = sm.ASSUMPTIONS.copy()
        self.baseline_result = sm.simulate_year(self.base, seed=seed, replications=replications,
                                                n_cases=n_cases, assumptions=self._assumptions)
        self.result = self._simulate()
        self._artists = [self._draw_axes(ax, m) for ax, m in zip(self.axes, self.metrics,
                                                                  strict=True)]
        self._update_artists()
        self._render(time.perf_counter())

        super().__init__(children=[
            title, *rows, widgets.HBox([self.reset_button, self.status]), self.image,
            self.table, widgets.HTML("<b>假设 Assumptions</b> (edit to re-run):"),
            self.assumptions_box,
        ])
        self.add_class("ck-whatif")

    # --- running ---------------------------------------------------------------------------

    def levers(self) -> dict[str, float]:
        """Return the current lever values from the sliders."""
        return {k: float(s.value) for k, s in self.sliders.items()}

    def _simulate(self) -> pd.DataFrame:
        levers: dict[str, Any] = self.levers()
        return sm.simulate_year(self.base, seed=self.seed, replications=self.replications,
                                n_cases=self.n_cases, assumptions=self._assumptions, **levers)

    def _on_change(self, change: Mapping[str, Any]) -> None:
        if self._hold:
            return
        owner = change.get("owner")
        lever = next((k for k, s in self.sliders.items() if s is owner), "lever")
        self._last_change = f"{_lever_label(lever)} = {change.get('new')}"
        self.run()

    def _on_assumption(self, change: Mapping[str, Any]) -> None:
        if self._hold:
            return
        owner = change.get("owner")
        key = next((k for k, b in self.assumption_inputs.items() if b is owner), None)
        self._last_change = f"assumption {key[0]}.{key[1]} = {change.get('new')}" if key else (
            "assumption")
        self._update_assumptions()
        self.baseline_result = sm.simulate_year(
            self.base, seed=self.seed, replications=self.replications, n_cases=self.n_cases,
            assumptions=self._assumptions)
        self.run()

    def _update_assumptions(self) -> None:
        table = sm.ASSUMPTIONS.copy()
        for (lever, param), box in self.assumption_inputs.items():
            table.loc[(table["lever"] == lever) & (table["parameter"] == param), "value"] = float(
                box.value)
        self._assumptions = table

    def run(self) -> pd.DataFrame:
        """Re-run the scenario with the current controls; update the figure in place."""
        t0 = time.perf_counter()
        self.result = self._simulate()
        self._update_artists()
        self._render(t0)
        return self.result

    def _draw_axes(self, ax: Any, metric: str) -> dict[str, Any]:
        """Two bars (baseline, scenario) with 90% band lines and value labels; kept for updates."""
        bars = ax.bar([0, 1], [0.0, 0.0], width=0.6, color=["#8c8c8c", "#d62728"], alpha=0.85)
        bands = [ax.plot([i, i], [0.0, 0.0], color="black", linewidth=2)[0] for i in (0, 1)]
        texts = [ax.text(i + 0.05, 0.0, "", fontsize=8, ha="left", va="bottom") for i in (0, 1)]
        ax.set_xticks([0, 1], ["现状 baseline", "情景 scenario"], fontsize=8)
        ax.set_title(_METRIC_LABELS.get(metric, metric), fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_xlim(-0.5, 1.5)
        ax.spines[["top", "right"]].set_visible(False)
        return {"metric": metric, "bars": bars, "bands": bands, "texts": texts, "top": 0.0}

    def _update_artists(self) -> None:
        """Set bar heights, band ends and labels; rescale y only when the bars outgrow it."""
        base = self.baseline_result.set_index("metric")
        scen = self.result.set_index("metric")
        for ax, art in zip(self.axes, self._artists, strict=True):
            m = art["metric"]
            top = 0.0
            for i, res in enumerate((base, scen)):
                v, lo, hi = (float(res.loc[m, c]) for c in ("value", "low", "high"))
                v = v if np.isfinite(v) else 0.0
                art["bars"][i].set_height(v)
                art["bands"][i].set_data([i, i], [lo, hi])
                art["texts"][i].set_text(_fmt(v, str(res.loc[m, "unit"])))
                art["texts"][i].set_y(v)
                top = max(top, v, hi if np.isfinite(hi) else 0.0)
            if top > art["top"] or top < 0.5 * art["top"]:  # keep the ticks still otherwise
                art["top"] = top * 1.2 if top > 0 else 1.0
                ax.set_ylim(0.0, art["top"])

    def _render(self, t0: float) -> None:
        self.runs += 1
        self.image.value = _png(self.figure, self.dpi)
        base = self.baseline_result.set_index("metric")
        scen = self.result.set_index("metric")
        ms = (time.perf_counter() - t0) * 1000
        d_s, d_b = scen.loc["median_days_to_close", "value"], base.loc["median_days_to_close",
                                                                     "value"]
        r_s, r_b = scen.loc["repeat_rate", "value"], base.loc["repeat_rate", "value"]
        self.status.value = (
            f"run {self.runs} ({self._last_change}): scenario {d_s:.1f} days to close "
            f"(baseline {d_b:.1f}); repeat rate {r_s:.3f} (baseline {r_b:.3f}) · {ms:.0f} ms"
        )
        rows = "".join(
            f"<tr><td>{_METRIC_LABELS.get(m, m)}</td>"
            f"<td>{_fmt(base.loc[m, 'value'], base.loc[m, 'unit'])} "
            f"<small>[{_fmt(base.loc[m, 'low'], base.loc[m, 'unit'])}, "
            f"{_fmt(base.loc[m, 'high'], base.loc[m, 'unit'])}]</small></td>"
            f"<td>{_fmt(scen.loc[m, 'value'], scen.loc[m, 'unit'])} "
            f"<small>[{_fmt(scen.loc[m, 'low'], scen.loc[m, 'unit'])}, "
            f"{_fmt(scen.loc[m, 'high'], scen.loc[m, 'unit'])}]</small></td></tr>"
            for m in base.index
        )
        self.table.value = (
            "<table><tr><th>metric</th><th>baseline 现状 [90%]</th><th>scenario 情景 [90%]"
            f"</th></tr>{rows}</table>"
        )

    def _on_reset(self, _button: Any = None) -> None:
        self.reset()

    def reset(self) -> pd.DataFrame:
        """Put every lever back to its observed value and every assumption to its default."""
        self._hold = True
        try:
            for lever, slider in self.sliders.items():
                slider.value = self.defaults[lever]
            for (lever, param), box in self.assumption_inputs.items():
                row = sm.ASSUMPTIONS[(sm.ASSUMPTIONS["lever"] == lever)
                                     & (sm.ASSUMPTIONS["parameter"] == param)]
                box.value = float(row["value"].iloc[0])
        finally:
            self._hold = False
        self._assumptions = sm.ASSUMPTIONS.copy()
        self.baseline_result = sm.simulate_year(
            self.base, seed=self.seed, replications=self.replications, n_cases=self.n_cases,
            assumptions=self._assumptions)
        self._last_change = "reset"
        return self.run()


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
        n_cases = self._by_period().attrs["n_cases"]
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
            n_cases = int(table.attrs["n_cases"].get(self.period.value, 0))
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
