"""Plots of casekit results, and Chinese text in matplotlib without any system CJK font.

Every ``plot_*`` function draws results already computed by the analysis modules (networks from
:mod:`casekit.network`, Kaplan-Meier fitters and hazard-ratio tables from :mod:`casekit.survival`,
what-if tables from :mod:`casekit.simulate`), takes ``ax=None`` (current axes when omitted) and
returns the :class:`matplotlib.axes.Axes` it drew on, so several calls compose on one axis as
lifelines' plots do. matplotlib is imported inside the functions only, and nothing here calls
``plt.show()``.

Chinese labels: :func:`use_cjk_font` registers the bundled font "Casekit CJK SC" (a renamed subset
of Noto Sans CJK SC, SIL Open Font License 1.1, see ``casekit/fonts/README.md``) and makes it the
first sans-serif family. Every ``plot_*`` function calls it first (it is idempotent and cheap),
because the kit's labels are Chinese-first.

Vocabulary identifiers (``street_office``, ``court+street_office``) are shown as Chinese (``lang=
"zh"``), English (``"en"``), both (``"both"``) or as given (``None``), using
:func:`casekit.schema.label_of`; anything not in the vocabulary is shown unchanged.
"""

from __future__ import annotations

import math
import weakref
import zlib
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    import networkx as nx
    import pandas as pd
    from matplotlib.axes import Axes

__all__ = [
    "AGENCY_TYPE_COLOURS",
    "CJK_FONT_FAMILY",
    "agency_type_colour",
    "locate_cjk_font",
    "plot_edge_trend",
    "plot_forecast_check",
    "plot_forest",
    "plot_method_comparison",
    "plot_handover_matrix",
    "plot_kpi_on_time",
    "plot_naive_vs_censored",
    "plot_network",
    "plot_referral_loops",
    "plot_time_to_close",
    "plot_whatif",
    "update_whatif",
    "use_cjk_font",
]

#: Family name of the bundled font (renamed subset of Noto Sans CJK SC, OFL 1.1).
CJK_FONT_FAMILY = "Casekit CJK SC"
_FONT_FILE = "CasekitCJKSC-Regular.otf"
_FONT_STATE: dict[str, Any] = {"path": None}

#: Fixed colour per agency type, so a type keeps its colour across figures and notebooks.
AGENCY_TYPE_COLOURS: dict[str, str] = {
    "petition_bureau": "#d62728",
    "street_office": "#1f77b4",
    "town_government": "#aec7e8",
    "residents_committee": "#17becf",
    "villagers_committee": "#9edae5",
    "court": "#9467bd",
    "housing_construction_bureau": "#ff7f0e",
    "justice_office": "#8c564b",
    "justice_bureau": "#c49c94",
    "mediation_committee": "#2ca02c",
    "political_legal_committee": "#98df8a",
    "police": "#393b79",
    "human_resources_social_security_bureau": "#e377c2",
    "natural_resources_bureau": "#bcbd22",
    "urban_management_bureau": "#ffbb78",
    "market_regulation_bureau": "#dbdb8d",
    "discipline_inspection_commission": "#843c39",
    "hotline_center": "#f7b6d2",
    "finance_bureau": "#637939",
    "party_committee": "#ad494a",
    "unknown": "#7f7f7f",
    "conference": "#222222",
}
_EXTRA_COLOURS = (
    "#5254a3",
    "#8ca252",
    "#bd9e39",
    "#a55194",
    "#6b6ecf",
    "#b5cf6b",
    "#e7ba52",
    "#d6616b",
    "#ce6dbd",
    "#de9ed6",
    "#3182bd",
    "#e6550d",
)

_WHATIF_ARTISTS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------------------------------------
# Fonts
# ---------------------------------------------------------------------------------------------


def locate_cjk_font() -> Path:
    """Return the path of the bundled CJK font file (``casekit/fonts/CasekitCJKSC-Regular.otf``).

    Use it where a file is needed rather than a matplotlib family, e.g. to give headless
    Chromium a font directory (``XDG_DATA_HOME=DIR`` with the file in ``DIR/fonts/``).

    Examples
    --------
    >>> from casekit.plotting import locate_cjk_font
    >>> locate_cjk_font().name
    'CasekitCJKSC-Regular.otf'
    """
    path = Path(str(resources.files("casekit").joinpath("fonts", _FONT_FILE)))
    if not path.is_file():  # pragma: no cover - broken installation
        raise FileNotFoundError(f"{path}: bundled font missing; reinstall casekit")
    return path


def use_cjk_font() -> str:
    """Make matplotlib draw Chinese text with the bundled font, and return its family name.

    Registers ``casekit/fonts/CasekitCJKSC-Regular.otf`` with matplotlib's font manager (once per
    process), puts its family first in ``rcParams["font.sans-serif"]`` (keeping the rest of the
    list after it) and sets ``rcParams["font.family"]`` to ``["sans-serif", "DejaVu Sans", ...]``:
    the generic family first, then fallbacks for characters outside the subset (DejaVu Sans,
    shipped with matplotlib, for symbols; then any full CJK font matplotlib already knows, such
    as Noto Sans CJK SC, for rare hanzi). Works on machines with no CJK font installed; safe to
    call many times (later calls only re-check rcParams).

    Returns
    -------
    str
        The family name, ``"Casekit CJK SC"``.

    Notes
    -----
    The family must be first in ``font.sans-serif``, not only in ``font.family``: networkx draws
    labels with ``font_family="sans-serif"``, which matplotlib resolves through that list to one
    font. The later entries of ``font.family`` are used by matplotlib's per-glyph font fallback
    (matplotlib 3.6 or later) only for glyphs the bundled font lacks. The minus sign: the subset
    keeps U+2212 MINUS SIGN, so ``axes.unicode_minus`` stays at its default (True) and negative
    tick labels render with the proper minus. Text objects created *before* the call keep the
    font they were created with.

    The font is a renamed subset of Noto Sans CJK SC 2.004 (SIL Open Font License 1.1): ASCII,
    Latin-1, general and CJK punctuation, full-width forms, all of GB 2312 (6,763 hanzi) and every
    character of casekit's vocabularies. See ``casekit/fonts/README.md``.

    Examples
    --------
    >>> from casekit.plotting import use_cjk_font
    >>> use_cjk_font()
    'Casekit CJK SC'
    >>> import matplotlib
    >>> matplotlib.rcParams["font.sans-serif"][0]
    'Casekit CJK SC'
    >>> matplotlib.rcParams["font.family"][:2]
    ['sans-serif', 'DejaVu Sans']
    """
    import matplotlib
    from matplotlib import font_manager

    manager = font_manager.fontManager
    path = _FONT_STATE["path"]
    if path is None:
        path = _FONT_STATE["path"] = str(locate_cjk_font())
    if not any(entry.fname == path for entry in manager.ttflist):  # a few µs; survives resets
        manager.addfont(path)
    rc = matplotlib.rcParams
    sans = list(rc["font.sans-serif"])
    if not sans or sans[0] != CJK_FONT_FAMILY:
        rc["font.sans-serif"] = [CJK_FONT_FAMILY, *(f for f in sans if f != CJK_FONT_FAMILY)]
    family = ["sans-serif", *_fallback_families(manager)]
    if list(rc["font.family"]) != family:
        rc["font.family"] = family
    return CJK_FONT_FAMILY


#: Full CJK fonts used as fallbacks for glyphs outside the subset, when matplotlib knows them.
_SYSTEM_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Noto Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
)


def _fallback_families(manager: Any) -> list[str]:
    key = (id(manager), len(manager.ttflist))
    if _FONT_STATE.get("fallback_key") != key:
        known = {entry.name for entry in manager.ttflist}
        found = [f for f in _SYSTEM_CJK_FAMILIES if f in known]
        _FONT_STATE["fallback"] = ["DejaVu Sans", *found[:1]]
        _FONT_STATE["fallback_key"] = key
    return list(_FONT_STATE["fallback"])


# ---------------------------------------------------------------------------------------------
# Labels and colours
# ---------------------------------------------------------------------------------------------


def _label(identifier: object, vocabulary: str, lang: str | None) -> str:
    """Vocabulary label of ``identifier`` (unchanged when unknown or ``lang`` is None)."""
    text = str(identifier)
    if lang is None:
        return text
    from casekit.schema import label_of

    return label_of(text, vocabulary, lang=lang)


def _pattern_label(pattern: object, lang: str | None) -> str:
    """Label a collaboration pattern ``a+b+c`` part by part (agency-type vocabulary)."""
    text = str(pattern)
    if lang is None:
        return text
    return "+".join(_label(part, "agency_type", lang) for part in text.split("+"))


def agency_type_colour(agency_type: object) -> str:
    """Return the fixed colour of an agency type (a stable extra colour for types not listed).

    Examples
    --------
    >>> from casekit.plotting import agency_type_colour
    >>> agency_type_colour("court")
    '#9467bd'
    >>> agency_type_colour("sea_bureau") == agency_type_colour("sea_bureau")
    True
    """
    key = str(agency_type)
    if key in AGENCY_TYPE_COLOURS:
        return AGENCY_TYPE_COLOURS[key]
    return _EXTRA_COLOURS[zlib.crc32(key.encode("utf-8")) % len(_EXTRA_COLOURS)]


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.gca()


def _empty(ax: Axes, message: str) -> Axes:
    """Say on the axes that there is nothing to draw (instead of an empty or broken frame)."""
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _pick(columns: Iterable[str], candidates: Iterable[str], what: str) -> str:
    cols = list(columns)
    for name in candidates:
        if name in cols:
            return name
    from casekit._utils import CasekitError

    raise CasekitError(f"table needs a {what} column (one of {list(candidates)}); found {cols}")


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------


def plot_network(
    G: nx.Graph,
    *,
    ax: Axes | None = None,
    seed: int = 0,
    labels: str | None = "zh",
    pos: Mapping[Any, Any] | None = None,
    weight: str = "count",
    size: str | None = None,
    legend: bool = True,
    min_node_size: float = 150.0,
    max_node_size: float = 1500.0,
    max_width: float = 6.0,
    font_size: float = 9.0,
    max_labels: int | None = 30,
    max_arrows: int = 150,
    k: float | None = None,
) -> Axes:
    """Draw an agency network: colour by agency type, edge width by count, node size by cases.

    Parameters
    ----------
    G : networkx.Graph or networkx.DiGraph
        A network from :mod:`casekit.network` (working together, hand-over, conference
        projection), at agency or agency-type level. Node attributes used when present:
        ``agency_type`` (colour; for type-level graphs the node itself is the type), ``n_cases``
        or ``n_conferences`` (size), ``label`` (shown instead of the node name), ``kind`` (nodes
        of kind ``"conference"`` in the bipartite conference graph are drawn dark and not
        labelled). Edge attribute ``count`` (width). Directed graphs are drawn with arrows;
        reciprocal hand-overs are drawn as two arcs.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: the current axes).
    seed : int
        Seed of the spring layout, so the same graph is drawn the same way every time.
    labels : {"zh", "en", "both"} or None
        Node labels: vocabulary identifiers are translated (agency names are shown as they are);
        ``None`` draws no labels.
    pos : mapping, optional
        Node positions to use instead of the spring layout (e.g. to keep nodes in place across
        time slices: compute once with ``nx.spring_layout`` and pass to every call).
    weight : str
        Edge attribute for width and layout weight.
    size : str, optional
        Node attribute for size; default the first of ``n_cases``, ``n_conferences``,
        ``n_events`` that the nodes have (all nodes the same size when none).
    legend : bool
        Add a legend of the agency types present, with Chinese and English labels.
    min_node_size, max_node_size, max_width, font_size : float
        Scales: node areas in points², edge width of the largest count, label size.
    max_labels : int or None
        Label at most this many nodes, the largest by ``size`` (agency-level networks of a
        whole district have hundreds of nodes); ``None`` labels every node.
    max_arrows : int
        Directed graphs with more edges than this are drawn the fast way: straight lines in one
        collection and small arrowheads in one quiver (curved arrow patches, one per edge, take
        seconds to draw for a district's ~1,000 hand-over edges).
    k : float, optional
        Optimal node distance of :func:`networkx.spring_layout` (default ``1.5/sqrt(n)``).

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Layout: :func:`networkx.spring_layout` with ``seed``, on the undirected graph with weights
    ``log(1 + weight)`` (both directions of a hand-over summed), so that a few very heavy edges
    do not collapse the picture. Node positions are the offsets of the first collection on the
    axes. The legend sits outside the axes, on the right. Sizes scale with the square root of
    ``n_cases`` (area proportional to cases); widths scale linearly with the count.

    Examples
    --------
    >>> import networkx as nx
    >>> from casekit.plotting import plot_network
    >>> import matplotlib.pyplot as plt
    >>> G = nx.Graph()
    >>> G.add_node("street_office", agency_type="street_office", n_cases=10)
    >>> G.add_node("court", agency_type="court", n_cases=4)
    >>> G.add_edge("street_office", "court", count=3)
    >>> ax = plot_network(G, seed=1, ax=plt.figure().gca())
    >>> sorted(t.get_text() for t in ax.texts)
    ['人民法院', '街道办事处']
    >>> plt.close("all")
    """
    import networkx as nx

    family = use_cjk_font()
    ax = _axes(ax)
    nodes = list(G.nodes)
    edges = list(G.edges(data=True))
    counts = np.array([float(d.get(weight, 1.0) or 0.0) for _, _, d in edges])
    if pos is None:
        pos = _spring_layout(G, edges, counts, seed=seed, k=k)
    types = [_node_type(n, G.nodes[n]) for n in nodes]
    colours = [agency_type_colour(t) for t in types]
    if size is None:
        size = next((a for a in _SIZE_ATTRIBUTES if any(a in G.nodes[n] for n in nodes)), "n_cases")
    raw_sizes = np.array([float(G.nodes[n].get(size, 1.0) or 0.0) for n in nodes])
    top = raw_sizes.max() if len(raw_sizes) and raw_sizes.max() > 0 else 1.0
    sizes = min_node_size + (max_node_size - min_node_size) * np.sqrt(
        np.clip(raw_sizes, 0, None) / top
    )
    nx.draw_networkx_nodes(
        G,
        pos,
        nodelist=nodes,
        node_color=colours,
        node_size=sizes,
        ax=ax,
        linewidths=0.8,
        edgecolors="white",
    )
    if edges:
        widths = 0.5 + (max_width - 0.5) * counts / (counts.max() if counts.max() > 0 else 1.0)
        _draw_edges(G, ax, pos, [(u, v) for u, v, _ in edges], widths, sizes,
                    max_arrows=max_arrows)
    if labels is not None and nodes:
        ranks = _labelled_nodes(G, nodes, types, raw_sizes, weight=weight, max_labels=max_labels)
        text = {n: str(G.nodes[n].get("label", _label(n, "agency_type", labels))) for n in ranks}
        import matplotlib

        fonts = [family, *list(matplotlib.rcParams["font.family"])[1:]]  # keep glyph fallbacks
        nx.draw_networkx_labels(G, pos, labels=text, font_size=font_size, font_family=fonts, ax=ax)
    if legend and nodes:
        _type_legend(ax, types)
    ax.set_axis_off()
    return ax


def _draw_edges(G: nx.Graph, ax: Axes, pos: Mapping[Any, Any], edgelist: list[tuple[Any, Any]],
                widths: np.ndarray, sizes: np.ndarray, *, max_arrows: int) -> None:
    """Draw the edges of :func:`plot_network`: lines, arrows, or fast arrows for many edges."""
    import networkx as nx

    alpha = 0.6 if len(edgelist) <= 100 else 0.35
    if G.is_directed() and len(edgelist) > max_arrows:
        _draw_fast_arrows(ax, pos, edgelist, widths, alpha)
    elif G.is_directed():
        # reciprocal hand-overs are drawn as two arcs so that both arrows stay visible
        reciprocal = [u != v and G.has_edge(v, u) for u, v in edgelist]
        for flag, rad in ((False, 0.0), (True, 0.15)):
            idx = [i for i, r in enumerate(reciprocal) if r == flag]
            if not idx:
                continue
            nx.draw_networkx_edges(
                G,
                pos,
                edgelist=[edgelist[i] for i in idx],
                width=[widths[i] for i in idx],
                ax=ax,
                arrows=True,
                arrowstyle="-|>",
                arrowsize=12,
                edge_color="#555555",
                alpha=alpha,
                nodelist=list(G.nodes),
                node_size=list(sizes),
                connectionstyle=f"arc3,rad={rad}",
            )
    else:
        nx.draw_networkx_edges(
            G,
            pos,
            edgelist=edgelist,
            width=list(widths),
            ax=ax,
            edge_color="#555555",
            alpha=alpha,
        )


def _labelled_nodes(G: nx.Graph, nodes: list[Any], types: list[str], raw_sizes: np.ndarray, *,
                    weight: str, max_labels: int | None) -> list[Any]:
    """Pick the nodes :func:`plot_network` labels: no conferences; the largest ``max_labels``."""
    shown = [n for n, t in zip(nodes, types, strict=True) if t != "conference"]
    if max_labels is None or len(shown) <= max_labels:
        return shown
    degree = dict(G.degree(weight=weight))
    ranked = sorted(
        range(len(nodes)), key=lambda i: (-raw_sizes[i], -degree.get(nodes[i], 0), i)
    )
    ranked = [i for i in ranked if types[i] != "conference"]
    return [nodes[i] for i in sorted(ranked[:max_labels])]


def _type_legend(ax: Axes, types: list[str]) -> None:
    """Legend of the agency types present (Chinese and English), outside the axes on the right."""
    from matplotlib.lines import Line2D

    present = list(dict.fromkeys(types))
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=8,
            color=agency_type_colour(t),
            label="联席会议 joint conference"
            if t == "conference"
            else _label(t, "agency_type", "both"),
        )
        for t in present
    ]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize="small",
        frameon=False,
        title="机构类型 agency type",
        title_fontsize="small",
    )


def _draw_fast_arrows(
    ax: Axes,
    pos: Mapping[Any, Any],
    edgelist: list[tuple[Any, Any]],
    widths: np.ndarray,
    alpha: float,
) -> None:
    """Many directed edges: one LineCollection plus one quiver of arrowheads (fast to draw)."""
    from matplotlib.collections import LineCollection

    pairs = [(u, v) for u, v in edgelist if u != v]
    keep = [i for i, (u, v) in enumerate(edgelist) if u != v]
    if not pairs:
        return
    start = np.array([pos[u] for u, _ in pairs], dtype=float)
    end = np.array([pos[v] for _, v in pairs], dtype=float)
    lines = LineCollection(
        list(np.stack([start, end], axis=1)),
        linewidths=widths[keep],
        colors="#555555",
        alpha=alpha,
        zorder=1,
    )
    ax.add_collection(lines)
    delta = end - start
    length = np.hypot(delta[:, 0], delta[:, 1])
    unit = delta / np.where(length > 0, length, 1.0)[:, None]
    span = float(np.ptp(np.vstack([start, end]), axis=0).max()) or 1.0
    tips = end - unit * 0.03 * span  # stop short of the target node's centre
    ax.quiver(
        tips[:, 0],
        tips[:, 1],
        unit[:, 0],
        unit[:, 1],
        angles="xy",
        pivot="tip",
        scale=45,
        width=0.002,
        headwidth=5,
        headlength=6,
        headaxislength=5,
        color="#333333",
        alpha=min(1.0, alpha + 0.3),
        zorder=3,
    )
    ax.autoscale_view()


def _spring_layout(
    G: nx.Graph,
    edges: list[tuple[Any, Any, dict]],
    counts: np.ndarray,
    *,
    seed: int,
    k: float | None,
) -> dict[Any, np.ndarray]:
    """Seeded spring layout weighted by log(1 + count), so a few heavy edges do not collapse it."""
    import networkx as nx

    H = nx.Graph()
    H.add_nodes_from(G.nodes)
    for (u, v, _), c in zip(edges, counts, strict=True):
        if u == v:
            continue
        w = math.log1p(max(c, 0.0))
        if H.has_edge(u, v):  # both directions of a hand-over pull together
            H[u][v]["w"] += w
        else:
            H.add_edge(u, v, w=w)
    if k is None and len(H) > 1:
        k = 1.5 / math.sqrt(len(H))
    return nx.spring_layout(H, seed=seed, weight="w" if H.number_of_edges() else None, k=k)


_SIZE_ATTRIBUTES = ("n_cases", "n_conferences", "n_events")


def _node_type(node: object, data: Mapping[str, Any]) -> str:
    """Agency type of a node; conference nodes of the bipartite conference graph are their own."""
    if data.get("kind") == "conference":
        return "conference"
    if "agency_type" in data:
        return str(data["agency_type"])
    return str(node) if _is_agency_type(node) else "unknown"


def _is_agency_type(node: object) -> bool:
    from casekit.schema import AGENCY_TYPES

    return str(node) in AGENCY_TYPES


def _edge_table(G_or_edges: Any, weight: str) -> pd.DataFrame:
    """Return columns source, target, count from a graph or an edge table."""
    import pandas as pd

    if isinstance(G_or_edges, pd.DataFrame):
        df = G_or_edges
        src = _pick(df.columns, ("source", "from", "agency_a", "u", "src"), "source")
        dst = _pick(df.columns, ("target", "to", "agency_b", "v", "dst"), "target")
        cnt = _pick(df.columns, (weight, "count", "n_cases", "weight"), "count")
        return pd.DataFrame(
            {
                "source": df[src].astype(str),
                "target": df[dst].astype(str),
                "count": df[cnt].astype(float),
            }
        )
    rows = [(str(u), str(v), float(d.get(weight, 1.0))) for u, v, d in G_or_edges.edges(data=True)]
    out = pd.DataFrame(rows, columns=["source", "target", "count"])
    if not G_or_edges.is_directed():  # symmetric matrix for working-together graphs
        swapped = out.rename(columns={"source": "target", "target": "source"})
        out = pd.concat([out, swapped[swapped["source"] != swapped["target"]]], ignore_index=True)
    return out


def plot_handover_matrix(
    G_or_edges: nx.Graph | pd.DataFrame,
    *,
    ax: Axes | None = None,
    order: Iterable[str] | None = None,
    normalise: str | None = None,
    weight: str = "count",
    lang: str | None = "zh",
    annotate: bool | None = None,
    colorbar: bool = True,
    cmap: str = "Blues",
    top: int | None = 30,
) -> Axes:
    """Heatmap of hand-over counts, source agency (rows) by target agency (columns).

    Parameters
    ----------
    G_or_edges : networkx.DiGraph, networkx.Graph or DataFrame
        A hand-over network (edge attribute ``count``) or its edge table with source/target and
        count columns (``source, target, count``; ``from``/``to`` or ``agency_a``/``agency_b``
        also accepted). An undirected graph is shown as a symmetric matrix.
    ax : matplotlib.axes.Axes, optional
    order : iterable of str, optional
        Row and column order (default: by total count, largest first). Agencies not in ``order``
        are left out.
    normalise : {None, "row", "column", "all"}
        Show counts (None), shares of each source's hand-overs ("row"), of each target's
        ("column") or of all hand-overs ("all").
    weight : str
        Edge attribute holding the counts.
    lang : {"zh", "en", "both"} or None
        Tick labels for vocabulary identifiers.
    annotate : bool, optional
        Write the value in each cell (default: when there are at most 15 agencies).
    colorbar : bool
    cmap : str
    top : int or None
        Without ``order``, show only the ``top`` agencies with the most hand-overs (in or out),
        so an agency-level matrix of a whole district stays readable; the title then says how
        many are shown. ``None`` shows all. Shares (``normalise``) are computed on the shown
        agencies.

    Returns
    -------
    matplotlib.axes.Axes
        The image is ``ax.images[0]``; its array holds the plotted values.

    Examples
    --------
    >>> import networkx as nx
    >>> from casekit.plotting import plot_handover_matrix
    >>> import matplotlib.pyplot as plt
    >>> G = nx.DiGraph()
    >>> G.add_edge("petition_bureau", "street_office", count=5)
    >>> G.add_edge("street_office", "court", count=2)
    >>> ax = plot_handover_matrix(G, lang=None, colorbar=False, ax=plt.figure().gca())
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['street_office', 'petition_bureau', 'court']
    >>> ax.images[0].get_array().data[1, 0]
    np.float64(5.0)
    >>> plt.close("all")
    """
    use_cjk_font()
    ax = _axes(ax)
    edges = _edge_table(G_or_edges, weight)
    if order is None:
        totals = (
            edges.groupby("source")["count"]
            .sum()
            .add(edges.groupby("target")["count"].sum(), fill_value=0)
        )
        order = sorted(totals.index, key=lambda a: (-totals[a], a))
        if top is not None and len(order) > top:
            ax.set_title(f"top {top} of {len(order)} agencies 前{top}个机构", fontsize="small")
            order = order[:top]
    names = [str(a) for a in order]
    if not names:
        return _empty(ax, "no hand-overs 无移交")
    matrix = (
        edges.pivot_table(index="source", columns="target", values="count", aggfunc="sum")
        .reindex(index=names, columns=names)
        .fillna(0.0)
    )
    values = matrix.to_numpy(dtype=float)
    label = "hand-overs 交接次数"
    if normalise is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            if normalise == "row":
                values = values / values.sum(axis=1, keepdims=True)
            elif normalise == "column":
                values = values / values.sum(axis=0, keepdims=True)
            elif normalise == "all":
                values = values / values.sum()
            else:
                raise ValueError(
                    f"normalise must be None, 'row', 'column' or 'all', got {normalise!r}"
                )
        values = np.nan_to_num(values)
        label = f"share ({normalise}) 占比"
    image = ax.imshow(values, cmap=cmap, aspect="auto", interpolation="nearest")
    ticks = [_label(a, "agency_type", lang) for a in names]
    ax.set_xticks(range(len(names)), ticks, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), ticks)
    ax.set_xlabel("to 接收方")
    ax.set_ylabel("from 移交方")
    if annotate is None:
        annotate = len(names) <= 15
    if annotate and values.size:
        vmax = values.max() if values.max() > 0 else 1.0
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                v = values[i, j]
                if v == 0:
                    continue
                text = f"{v:.0f}" if normalise is None else f"{v:.2f}"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize="small",
                    color="white" if v > 0.6 * vmax else "black",
                )
    if colorbar:
        ax.figure.colorbar(image, ax=ax, label=label)
    return ax


def plot_referral_loops(
    loops: pd.DataFrame,
    *,
    ax: Axes | None = None,
    top: int = 10,
    count: str | None = None,
    lang: str | None = "zh",
    color: str = "#d62728",
) -> Axes:
    """Horizontal bar chart of the most frequent referral loops A → B → A.

    Parameters
    ----------
    loops : DataFrame
        Referral loops from :func:`casekit.network.find_referral_loops`: one row per loop with
        the two agencies (``origin, via``; ``agency_a``/``agency_b``, ``source``/``target`` or
        ``from``/``to`` also accepted, or a single ``loop`` column already written out) and a
        count (default ``n_cases``, the cases with the loop, else ``count``, the loop
        occurrences; or name it with ``count``).
    ax : matplotlib.axes.Axes, optional
    top : int
        Number of loops shown, most frequent at the top.
    count : str, optional
        Count column to use.
    lang : {"zh", "en", "both"} or None
        Labels for vocabulary identifiers.
    color : str

    Returns
    -------
    matplotlib.axes.Axes
        One bar (patch) per loop shown; y tick labels read ``A → B → A``.

    Examples
    --------
    >>> from casekit.plotting import plot_referral_loops
    >>> import matplotlib.pyplot as plt
    >>> loops = pd.DataFrame(
    ...     {
    ...         "agency_a": ["street_office", "court"],
    ...         "agency_b": ["petition_bureau", "street_office"],
    ...         "n_cases": [3, 7],
    ...     }
    ... )
    >>> ax = plot_referral_loops(loops, lang="en", ax=plt.figure().gca())
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['court → street office → court', 'street office → petition bureau → street office']
    >>> plt.close("all")
    """
    import pandas as pd

    use_cjk_font()
    ax = _axes(ax)
    cnt = count or _pick(loops.columns, ("n_cases", "count", "n_loops", "n", "cases"), "count")
    if "loop" in loops.columns:
        names = loops["loop"].astype(str).tolist()
    else:
        a = _pick(loops.columns, ("origin", "agency_a", "source", "from", "a"), "first agency")
        b = _pick(loops.columns, ("via", "agency_b", "target", "to", "b"), "second agency")
        names = [
            f"{_label(x, 'agency_type', lang)} → {_label(y, 'agency_type', lang)} → "
            f"{_label(x, 'agency_type', lang)}"
            for x, y in zip(loops[a], loops[b], strict=True)
        ]
    table = pd.DataFrame({"name": names, "n": loops[cnt].to_numpy(dtype=float)})
    table = table.sort_values("n", ascending=False, kind="stable").head(top)
    y = np.arange(len(table))
    ax.barh(y, table["n"], color=color)
    ax.set_yticks(y, table["name"].tolist())
    ax.invert_yaxis()
    xlabels = {"n_cases": "cases with the loop 案件数", "count": "loops 次数"}
    ax.set_xlabel(xlabels.get(cnt, cnt))
    ax.set_title("referral loops 来回推诿 (A → B → A)")
    return ax


def plot_edge_trend(
    by_period: pd.DataFrame,
    *,
    ax: Axes | None = None,
    top: int = 6,
    value: str = "share",
    directed: bool | None = None,
    lang: str | None = "zh",
) -> Axes:
    """Lines of the strongest ties across time slices: how collaboration changes over time.

    Parameters
    ----------
    by_period : DataFrame
        Long edge table per period from :func:`casekit.network.build_network_by_period`
        (``period, source, target, count, share``).
    ax : matplotlib.axes.Axes, optional
    top : int
        Number of ties drawn: the largest by total ``count`` over all periods.
    value : {"share", "count"}
        What the y axis shows. Shares are relative to each period's cases (or hand-over pairs),
        so they stay comparable when the volume changes.
    directed : bool, optional
        Label ties as ``A → B`` (hand-overs) or ``A – B`` (working together); default: directed
        when the table has both (a, b) and (b, a) rows.
    lang : {"zh", "en", "both"} or None

    Returns
    -------
    matplotlib.axes.Axes
        One line per tie, periods in time order on the x axis; a period where a tie is absent
        counts as 0.

    Examples
    --------
    >>> from casekit.plotting import plot_edge_trend
    >>> import matplotlib.pyplot as plt
    >>> t = pd.DataFrame(
    ...     {
    ...         "period": ["2023", "2024", "2023"],
    ...         "source": ["court", "court", "police"],
    ...         "target": ["street_office", "street_office", "street_office"],
    ...         "count": [4, 9, 2],
    ...         "share": [0.2, 0.3, 0.1],
    ...     }
    ... )
    >>> ax = plot_edge_trend(t, value="count", lang="en", ax=plt.figure().gca())
    >>> [(line.get_label(), line.get_ydata().tolist()) for line in ax.lines]
    [('court – street office', [4.0, 9.0]), ('police – street office', [2.0, 0.0])]
    >>> plt.close("all")
    """
    use_cjk_font()
    ax = _axes(ax)
    if by_period.empty:
        return _empty(ax, "no ties 无协同")
    column = _pick(by_period.columns, (value, "count"), value)
    table = by_period.assign(
        period=by_period["period"].astype(str),
        source=by_period["source"].astype(str),
        target=by_period["target"].astype(str),
    )
    if directed is None:
        pairs = set(zip(table["source"], table["target"], strict=True))
        directed = any((b, a) in pairs for a, b in pairs if a != b)
    totals = table.groupby(["source", "target"], sort=False)["count"].sum()
    ties = sorted(totals.index, key=lambda k: (-totals[k], k))[:top]
    periods = sorted(table["period"].unique())
    wide = table.pivot_table(
        index="period", columns=["source", "target"], values=column, aggfunc="sum"
    ).reindex(index=periods)
    arrow = " → " if directed else " – "
    x = np.arange(len(periods))
    for source, target in ties:
        series = wide[(source, target)] if (source, target) in wide.columns else None
        y = np.zeros(len(periods)) if series is None else series.fillna(0.0).to_numpy(float)
        label = _label(source, "agency_type", lang) + arrow + _label(target, "agency_type", lang)
        ax.plot(x, y, marker="o", label=label)
    ax.set_xticks(x, periods, rotation=45 if len(periods) > 6 else 0)
    ax.set_xlabel("period 时段")
    ax.set_ylabel({"share": "share of cases 案件占比", "count": "cases 案件数"}.get(column, column))
    if ties:
        ax.legend(fontsize="small")
    return ax


# ---------------------------------------------------------------------------------------------
# Time to close
# ---------------------------------------------------------------------------------------------


def _km_frames(fitter: Any) -> tuple[pd.Series, pd.DataFrame | None]:
    import pandas as pd

    sf = fitter.survival_function_
    curve = sf.iloc[:, 0] if isinstance(sf, pd.DataFrame) else sf
    ci = getattr(fitter, "confidence_interval_", None)
    if ci is not None and (not isinstance(ci, pd.DataFrame) or ci.shape[1] < 2):
        ci = None
    return curve, ci


def plot_time_to_close(
    fitters: Mapping[str, Any] | Any,
    *,
    ax: Axes | None = None,
    ci: bool = True,
    lang: str | None = "zh",
    show_n: bool = True,
    colours: Mapping[str, str] | None = None,
    xlabel: str = "days since registration 登记后天数",
    ylabel: str = "share still open 未办结比例",
    median_line: bool = True,
) -> Axes:
    """Overlay Kaplan-Meier curves of time to close, one per collaboration pattern.

    Parameters
    ----------
    fitters : dict of str -> lifelines.KaplanMeierFitter, or one fitter
        Fitted estimators, e.g. from :mod:`casekit.survival` (one per pattern); keys label the
        curves (collaboration patterns ``a+b`` are translated part by part with ``lang``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; pass the same axes to compose several calls.
    ci : bool
        Shade each fitter's ``confidence_interval_`` (step-wise).
    lang : {"zh", "en", "both"} or None
    show_n : bool
        Add the number of cases to each legend entry.
    colours : mapping, optional
        Colour per key (default: matplotlib's colour cycle).
    xlabel, ylabel : str
    median_line : bool
        Draw a dotted line at one half, where the median is read.

    Returns
    -------
    matplotlib.axes.Axes
        One step line per fitter (``ax.lines``, plus the median guide), one shaded band per
        fitter when ``ci``.

    Notes
    -----
    Curves are the fitters' ``survival_function_`` drawn as right-continuous steps; open cases
    were censored by the fitter, not here.

    Examples
    --------
    >>> from lifelines import KaplanMeierFitter
    >>> from casekit.plotting import plot_time_to_close
    >>> import matplotlib.pyplot as plt
    >>> a = KaplanMeierFitter().fit([5, 8, 12, 20], [1, 1, 0, 1], label="street_office")
    >>> b = KaplanMeierFitter().fit([3, 4, 9], [1, 1, 1], label="court+street_office")
    >>> fig, ax = plt.subplots()
    >>> ax = plot_time_to_close({"street_office": a, "court+street_office": b}, ax=ax)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['街道办事处 (n=4)', '人民法院+街道办事处 (n=3)']
    >>> plt.close("all")
    """
    use_cjk_font()
    ax = _axes(ax)
    if not isinstance(fitters, Mapping):
        fitters = {str(getattr(fitters, "label", "KM_estimate")): fitters}
    for key, fitter in fitters.items():
        curve, band = _km_frames(fitter)
        label = _pattern_label(key, lang)
        if show_n and getattr(fitter, "event_observed", None) is not None:
            label = f"{label} (n={len(fitter.event_observed)})"
        (line,) = ax.step(
            curve.index.to_numpy(dtype=float),
            curve.to_numpy(dtype=float),
            where="post",
            label=label,
            color=colours[key] if colours and key in colours else None,
        )
        if ci and band is not None:
            ax.fill_between(
                band.index.to_numpy(dtype=float),
                band.iloc[:, 0].to_numpy(dtype=float),
                band.iloc[:, 1].to_numpy(dtype=float),
                step="post",
                alpha=0.2,
                color=line.get_color(),
                linewidth=0,
            )
    if median_line and not any(getattr(l, "_casekit_median", False) for l in ax.lines):
        guide = ax.axhline(0.5, color="grey", linestyle=":", linewidth=0.8)
        guide._casekit_median = True  # type: ignore[attr-defined]
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if any(not str(line.get_label()).startswith("_") for line in ax.lines):
        ax.legend(fontsize="small")
    return ax


def plot_naive_vs_censored(
    naive: Any,
    censored: Any,
    *,
    ax: Axes | None = None,
    labels: tuple[str, str] = (
        "naive: closed cases only 仅已办结",
        "Kaplan-Meier, open cases censored 含未办结(删失)",
    ),
    xlabel: str = "days since registration 登记后天数",
) -> Axes:
    """Show the naive closed-cases-only estimate beside the censoring-aware one.

    Parameters
    ----------
    naive, censored : lifelines.KaplanMeierFitter, float, or Mapping
        Two precomputed results. Fitters are drawn as step curves with their medians marked
        (the naive fitter is a Kaplan-Meier fit on the closed cases only, all observed, i.e.
        the empirical distribution that ignores open cases). Numbers (median days), or mappings
        with ``median`` and optionally ``low``/``high`` (or ``median_days``, ``median_ci_low``,
        ``median_ci_high``), are drawn as two points with interval bars.
    ax : matplotlib.axes.Axes, optional
    labels : (str, str)
        Legend or tick labels of the naive and the censored estimate.
    xlabel : str

    Returns
    -------
    matplotlib.axes.Axes
        Curves: two step lines and two vertical median lines, legend with both labels.
        Points: one errorbar container per estimate, y tick labels from ``labels``.

    Notes
    -----
    Dropping open cases keeps only the cases that closed early enough to be seen closed, so
    the naive median is biased low when many cases are still open at the observation end.

    Examples
    --------
    >>> from casekit.plotting import plot_naive_vs_censored
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> ax = plot_naive_vs_censored(
    ...     {"median": 21.0}, {"median": 34.0, "low": 30.0, "high": 41.0}, ax=ax
    ... )
    >>> len(ax.containers)
    2
    >>> plt.close("all")
    """
    use_cjk_font()
    ax = _axes(ax)
    if hasattr(naive, "survival_function_") and hasattr(censored, "survival_function_"):
        colours = ("#7f7f7f", "#1f77b4")
        for fitter, label, colour, style, y_text in zip(
            (naive, censored), labels, colours, ("--", "-"), (0.62, 0.38), strict=True
        ):
            curve, _ = _km_frames(fitter)
            ax.step(
                curve.index.to_numpy(dtype=float),
                curve.to_numpy(dtype=float),
                where="post",
                color=colour,
                linestyle=style,
                label=label,
            )
            median = float(getattr(fitter, "median_survival_time_", np.nan))
            if math.isfinite(median):
                ax.axvline(median, color=colour, linestyle=":", linewidth=1.0)
                ax.annotate(
                    f"median 中位数 {median:.0f}",
                    (median, y_text),
                    xytext=(4, 0),
                    textcoords="offset points",
                    color=colour,
                    fontsize="small",
                    va="center",
                )
        ax.axhline(0.5, color="grey", linewidth=0.5)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("share still open 未办结比例")
        ax.legend(fontsize="small")
        return ax
    points = [_median_point(naive), _median_point(censored)]
    colours = ("#7f7f7f", "#1f77b4")
    for y, ((median, low, high), colour) in enumerate(zip(points, colours, strict=True)):
        err = None
        if math.isfinite(low) and math.isfinite(high):
            err = [[median - low], [high - median]]
        ax.errorbar([median], [y], xerr=err, fmt="o", color=colour, capsize=4)
        ax.annotate(
            f"{median:.0f}",
            (median, y),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            fontsize="small",
            color=colour,
        )
    ax.set_yticks([0, 1], list(labels))
    ax.set_ylim(-0.6, 1.6)
    ax.set_xlabel("median days to close 办结天数中位数")
    return ax


def _median_point(result: Any) -> tuple[float, float, float]:
    import pandas as pd

    if hasattr(result, "median_survival_time_"):
        return float(result.median_survival_time_), np.nan, np.nan
    if isinstance(result, Mapping | pd.Series):
        get = result.get
        median = get("median", get("median_days", np.nan))
        low = get("low", get("median_ci_low", np.nan))
        high = get("high", get("median_ci_high", np.nan))
        return float(median), float(low), float(high)
    return float(result), np.nan, np.nan


def plot_forest(
    hr_table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    label: str = "pattern",
    lang: str | None = "zh",
    reference: str | None = None,
    color: str = "#1f77b4",
) -> Axes:
    """Forest plot of hazard ratios with confidence intervals (log scale, line at 1).

    Parameters
    ----------
    hr_table : DataFrame
        Columns ``hazard_ratio, hr_ci_low, hr_ci_high`` and a label column (``pattern``), e.g. the
        ranking from :func:`casekit.ranking.rank_collaborations`. Rows are drawn top to bottom
        in the table's order. Rows without a hazard ratio (patterns reported separately or not
        in the model) are left out; the reference pattern (named by ``reference``, else flagged
        by an ``is_reference`` column, else the row with hazard ratio 1 and no interval) is drawn
        as a hollow marker at 1.
    ax : matplotlib.axes.Axes, optional
    label : str
        Label column.
    lang : {"zh", "en", "both"} or None
        Labels for patterns of agency-type identifiers.
    reference : str, optional
        Pattern to mark as the Cox model's reference.
    color : str

    Returns
    -------
    matplotlib.axes.Axes
        One errorbar container per row with an interval; x axis logarithmic.

    Notes
    -----
    A hazard ratio above 1 means cases close *faster* than under the reference pattern (the
    event is closing).

    Examples
    --------
    >>> from casekit.plotting import plot_forest
    >>> import matplotlib.pyplot as plt
    >>> hr = pd.DataFrame(
    ...     {
    ...         "pattern": ["court+street_office", "street_office"],
    ...         "hazard_ratio": [1.8, 1.0],
    ...         "hr_ci_low": [1.3, np.nan],
    ...         "hr_ci_high": [2.5, np.nan],
    ...     }
    ... )
    >>> ax = plot_forest(hr, lang="en", ax=plt.figure().gca())
    >>> ax.get_xscale(), [t.get_text() for t in ax.get_yticklabels()]
    ('log', ['court+street office', 'street office (reference)'])
    >>> plt.close("all")
    """
    use_cjk_font()
    ax = _axes(ax)
    table = hr_table.loc[hr_table["hazard_ratio"].notna()].reset_index(drop=True)
    if table.empty:
        return _empty(ax, "no hazard ratios 无风险比")
    names: list[str] = []
    for y, row in table.iterrows():
        hr = float(row["hazard_ratio"])
        low = float(row.get("hr_ci_low", np.nan))
        high = float(row.get("hr_ci_high", np.nan))
        name = _pattern_label(row[label], lang) if label in table.columns else str(y)
        if reference is not None:
            is_ref = str(row.get(label)) == reference
        elif "is_reference" in table.columns:
            is_ref = bool(row["is_reference"])
        else:
            is_ref = hr == 1.0 and not (math.isfinite(low) and math.isfinite(high))
        if is_ref:
            ax.plot([hr], [y], marker="o", markerfacecolor="white", color=color, linestyle="")
            name = f"{name} (reference)" if lang in (None, "en") else f"{name} (参照)"
        else:
            err = None
            if math.isfinite(low) and math.isfinite(high):
                err = [[hr - low], [high - hr]]
            ax.errorbar([hr], [y], xerr=err, fmt="s", color=color, capsize=3)
        names.append(name)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)
    return _hazard_ratio_axis(ax)


def _hazard_ratio_axis(ax: Axes) -> Axes:
    """Log x axis with readable ticks, a line at 1 and the hazard-ratio label."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.axvline(1.0, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    low, high = ax.get_xlim()
    narrow = low > 0 and high / low < 5  # less than a decade: label the minor ticks too
    ax.xaxis.set_minor_formatter(
        FuncFormatter(lambda v, _: f"{v:g}") if narrow else NullFormatter()
    )
    ax.set_xlabel("hazard ratio of closing 办结风险比 (>1 faster 更快)")
    return ax


def plot_method_comparison(
    rankings: Mapping[str, pd.DataFrame],
    *,
    planted: Mapping[str, float] | None = None,
    ax: Axes | None = None,
    lang: str | None = "zh",
    max_patterns: int = 12,
) -> Axes:
    """The same log ranked by several methods: hazard ratios side by side, with the truth.

    Parameters
    ----------
    rankings : mapping of str to DataFrame
        Method name -> ranking from :func:`casekit.ranking.rank_collaborations` (e.g.
        ``{"whole-case": ..., "time-varying": ...}``). Patterns are ordered as in the first.
    planted : mapping of str to float, optional
        Planted hazard ratio per pattern *relative to the first ranking's reference* (drawn as a
        black cross), e.g. from a synthetic district's truth file.
    ax : matplotlib.axes.Axes, optional
    lang : {"zh", "en", "both"} or None
    max_patterns : int, default 12
        Patterns shown (the first ranking's top).

    Returns
    -------
    matplotlib.axes.Axes
        One errorbar container per (method, pattern) with an interval; a legend.

    Examples
    --------
    >>> from casekit.plotting import plot_method_comparison
    >>> import matplotlib.pyplot as plt
    >>> a = pd.DataFrame({"pattern": ["x", "y"], "hazard_ratio": [2.0, 1.0],
    ...                   "hr_ci_low": [1.5, 1.0], "hr_ci_high": [2.6, 1.0]})
    >>> b = a.assign(hazard_ratio=[0.5, 1.0], hr_ci_low=[0.4, 1.0], hr_ci_high=[0.6, 1.0])
    >>> ax = plot_method_comparison({"time-varying": a, "whole-case": b}, planted={"x": 2.0},
    ...                             ax=plt.figure().gca(), lang="en")
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['planted 预设', 'time-varying', 'whole-case']
    >>> plt.close("all")
    """
    use_cjk_font()
    ax = _axes(ax)
    names = list(rankings)
    if not names:
        return _empty(ax, "no rankings 无排名")
    order = [str(p) for p in rankings[names[0]]["pattern"].head(max_patterns)]
    if not order:
        return _empty(ax, "no ranked pattern 无可排名模式")
    step = 0.7 / max(1, len(names))
    for k, name in enumerate(names):
        table = rankings[name].set_index("pattern")
        colour = _WHATIF_CYCLE[k % len(_WHATIF_CYCLE)]
        ys, hrs, lows, highs = [], [], [], []
        for y, pat in enumerate(order):
            if pat not in table.index or not np.isfinite(float(table.at[pat, "hazard_ratio"])):
                continue
            row = table.loc[pat]
            ys.append(y - 0.35 + step * (k + 0.5))
            hrs.append(float(row["hazard_ratio"]))
            lows.append(float(row["hr_ci_low"]))
            highs.append(float(row["hr_ci_high"]))
        hr = np.asarray(hrs)
        err = np.vstack([hr - np.asarray(lows), np.asarray(highs) - hr]) if len(hr) else None
        ax.errorbar(hr, ys, xerr=err, fmt="s", color=colour, capsize=2, label=name)
    if planted:
        pts = [(float(planted[p]), y) for y, p in enumerate(order) if p in planted]
        if pts:
            ax.plot(*zip(*pts, strict=True), "kx", markersize=8, label="planted 预设")
    ax.set_yticks(range(len(order)), [_pattern_label(p, lang) for p in order])
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.legend(loc="best", fontsize="small")
    return _hazard_ratio_axis(ax)


# ---------------------------------------------------------------------------------------------
# What-if
# ---------------------------------------------------------------------------------------------

_X_CANDIDATES = ("day", "days", "t", "time", "timeline", "x")
_MID_COLUMNS = ("median", "value", "mean", "estimate")
_LOW_COLUMNS = ("low", "lower", "q05", "ci_low")
_HIGH_COLUMNS = ("high", "upper", "q95", "ci_high")
_WHATIF_KNOWN = frozenset(
    {"metric", "scenario", "unit", "sim_low", "sim_high", *_MID_COLUMNS, *_LOW_COLUMNS,
     *_HIGH_COLUMNS}
)
_WHATIF_COLOURS = {"baseline": "#7f7f7f"}
_WHATIF_CYCLE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def _scenario_label(name: str) -> str:
    return {"baseline": "baseline 现状", "scenario": "scenario 情景"}.get(name, name)


def _whatif_prepare(
    result_table: pd.DataFrame,
    *,
    baseline: pd.DataFrame | None,
    metric: str | None,
    x: str | None,
) -> dict[str, Any]:
    """Normalise the accepted what-if layouts into series of (name, rows)."""
    import pandas as pd

    from casekit._utils import CasekitError

    table = result_table
    if baseline is not None:
        scenario = table if "scenario" in table.columns else table.assign(scenario="scenario")
        table = pd.concat([baseline.assign(scenario="baseline"), scenario], ignore_index=True)
    metric_name = metric or ""
    if "metric" in table.columns:
        metrics = list(dict.fromkeys(table["metric"].astype(str)))
        if not metrics:
            raise CasekitError("what-if result table is empty")
        metric_name = metric if metric is not None else metrics[0]
        if metric_name not in metrics:
            raise CasekitError(f"metric {metric_name!r} not in the result table; found {metrics}")
        table = table.loc[table["metric"].astype(str) == metric_name]
    mid = _pick(table.columns, _MID_COLUMNS, "median (or value)")
    low = next((c for c in _LOW_COLUMNS if c in table.columns), None)
    high = next((c for c in _HIGH_COLUMNS if c in table.columns), None)
    unit = str(table["unit"].iloc[0]) if "unit" in table.columns and len(table) else ""
    if x is None:
        x = next((c for c in _X_CANDIDATES if c in table.columns), None)
    levers = [c for c in table.columns if c not in _WHATIF_KNOWN and c != x]
    is_sweep = (
        "scenario" in table.columns
        and pd.api.types.is_numeric_dtype(table["scenario"])
        and bool(levers)
    )
    if is_sweep and x is None:
        x, levers = levers[0], levers[1:]
    series: list[tuple[str, pd.DataFrame]] = []
    if is_sweep and levers:
        for key, rows in table.groupby(levers, sort=True, dropna=False):
            values = key if isinstance(key, tuple) else (key,)
            name = ", ".join(
                f"{c}={v:g}" if isinstance(v, float) else f"{c}={v}"
                for c, v in zip(levers, values, strict=True)
            )
            series.append((name, rows))
    elif "scenario" in table.columns and not is_sweep:
        names = list(dict.fromkeys(table["scenario"].astype(str)))
        names = sorted(names, key=lambda s: s != "baseline")  # stable: baseline first
        series = [(n, table.loc[table["scenario"].astype(str) == n]) for n in names]
    else:
        series = [(mid if x is None else metric_name or mid, table)]
    if x is not None:
        series = [(n, rows.sort_values(x)) for n, rows in series]
    return {
        "x": x,
        "mid": mid,
        "low": low,
        "high": high,
        "unit": unit,
        "metric": metric_name,
        "series": series,
        "form": "bar" if x is None else "curve",
    }


def _bar_values(rows: pd.DataFrame, spec: Mapping[str, Any]) -> tuple[float, float, float]:
    if not len(rows):
        return np.nan, np.nan, np.nan
    first = rows.iloc[0]
    value = float(first[spec["mid"]])
    low = float(first[spec["low"]]) if spec["low"] else np.nan
    high = float(first[spec["high"]]) if spec["high"] else np.nan
    return value, low, high


def _format_value(value: float) -> str:
    if not math.isfinite(value):
        return ""
    return f"{value:.2f}" if abs(value) < 10 else f"{value:,.0f}"


def plot_forecast_check(check: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Predicted 90% band against what happened, one row per metric (a forecast check).

    Each metric is drawn relative to its forecast (the median over replications, at 0): the
    grey bar is the 90% band, the dark inner bar its simulation-noise part (``sim_low,
    sim_high``), the diamond what the log showed (green inside the band, red outside). The
    numbers are written next to each row.

    Parameters
    ----------
    check : DataFrame
        :func:`casekit.simulate.forecast_check` output (``metric, observed, value, low, high``;
        ``sim_low, sim_high, covered, unit`` used when present).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from casekit.plotting import plot_forecast_check
    >>> import matplotlib.pyplot as plt
    >>> chk = pd.DataFrame({"metric": ["repeat_rate", "on_time_rate"],
    ...     "observed": [0.31, 0.70], "value": [0.30, 0.74], "low": [0.28, 0.73],
    ...     "high": [0.32, 0.75], "unit": ["share", "share"]})
    >>> ax = plot_forecast_check(chk, ax=plt.figure().gca())
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['repeat_rate', 'on_time_rate']
    >>> plt.close("all")
    """
    use_cjk_font()
    ax = _axes(ax)
    if len(check) == 0:
        return _empty(ax, "no forecast check")
    rows = list(check.itertuples(index=False))
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        ref = float(r.value) if float(r.value) != 0 else 1.0

        def rel(v: float, ref: float = ref) -> float:
            return 100.0 * (float(v) / ref - 1.0)

        ax.plot([rel(r.low), rel(r.high)], [y, y], color="#bbbbbb", linewidth=9,
                solid_capstyle="butt", label="90% band" if i == 0 else None)
        if hasattr(r, "sim_low") and np.isfinite(float(r.sim_low)):
            ax.plot([rel(r.sim_low), rel(r.sim_high)], [y, y], color="#555555", linewidth=3,
                    solid_capstyle="butt", label="simulation noise alone" if i == 0 else None)
        ax.plot([0.0], [y], "o", color="black", markersize=4,
                label="forecast (median)" if i == 0 else None)
        covered = bool(getattr(r, "covered", float(r.low) <= float(r.observed) <= float(r.high)))
        ax.plot([rel(r.observed)], [y], "D", markersize=8,
                color="#2ca02c" if covered else "#d62728",
                label=("observed (in band)" if covered else "observed (outside)"))
        ax.annotate(f"observed {_format_value(float(r.observed))}, forecast "
                    f"{_format_value(float(r.value))} [{_format_value(float(r.low))}, "
                    f"{_format_value(float(r.high))}]", (0.0, y), xytext=(0, 9),
                    textcoords="offset points", ha="center", fontsize="small")
    ax.axvline(0.0, color="black", linewidth=0.5)
    ax.set_yticks(range(len(rows) - 1, -1, -1), [str(r.metric) for r in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel("% of the forecast (0 = the forecast's median)")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize="small", loc="lower right")
    return ax


def plot_whatif(
    result_table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    metric: str | None = None,
    baseline: pd.DataFrame | None = None,
    x: str | None = None,
    ylabel: str | None = None,
) -> Axes:
    """Baseline against scenario(s) with their simulation bands, from tidy what-if results.

    Accepted layouts (all tidy, one row per metric and scenario):

    - :func:`casekit.simulate.simulate_year` output (``metric, value, low, high, unit``) for the
      scenario, with the baseline run passed as ``baseline=`` (same columns);
    - one table with a ``scenario`` column (``baseline`` plus one or more named scenarios) and
      ``median`` or ``value``, ``low``, ``high``;
    - :func:`casekit.simulate.sweep` output (integer ``scenario`` plus one column per lever):
      the first lever becomes the x axis, further levers split the lines;
    - any of these with an x column (``day``, ``days``, ``t``, ``time``, ``timeline``, ``x``).

    Without an x column each scenario is a bar (height: the median over replications) with a
    black line for its band (``low`` to ``high``, the 5%-95% range of :mod:`casekit.simulate`);
    with one, each series is a line with a shaded band.

    Parameters
    ----------
    result_table : DataFrame
        What-if results in one of the layouts above.
    ax : matplotlib.axes.Axes, optional
    metric : str, optional
        Metric to draw when the table has a ``metric`` column (default: its first metric).
    baseline : DataFrame, optional
        The baseline run, when ``result_table`` holds the scenario only.
    x : str, optional
        Column for the x axis (default: detected as described above).
    ylabel : str, optional
        Axis label (default: the metric and its unit).

    Returns
    -------
    matplotlib.axes.Axes
        Its artists are remembered so that :func:`update_whatif` can change them in place.

    See Also
    --------
    update_whatif : put new results on the same artists (no flicker in widgets).

    Examples
    --------
    >>> from casekit.plotting import plot_whatif
    >>> import matplotlib.pyplot as plt
    >>> base = pd.DataFrame(
    ...     {
    ...         "metric": ["median_days_to_close"],
    ...         "value": [40.0],
    ...         "low": [36.0],
    ...         "high": [44.0],
    ...         "unit": ["days"],
    ...     }
    ... )
    >>> scen = base.assign(value=31.0, low=27.0, high=35.0)
    >>> ax = plot_whatif(scen, baseline=base, ax=plt.figure().gca())
    >>> [round(p.get_height()) for p in ax.patches], ax.get_ylabel()
    ([40, 31], 'median_days_to_close (days)')
    >>> plt.close("all")
    """
    use_cjk_font()
    ax = _axes(ax)
    spec = _whatif_prepare(result_table, baseline=baseline, metric=metric, x=x)
    state: dict[str, Any] = {
        "form": spec["form"],
        "names": [n for n, _ in spec["series"]],
        "metric": metric,
        "x": x,
        "artists": [],
    }
    for i, (name, rows) in enumerate(spec["series"]):
        colour = _WHATIF_COLOURS.get(name, _WHATIF_CYCLE[i % len(_WHATIF_CYCLE)])
        if spec["form"] == "curve":
            xs = rows[spec["x"]].to_numpy(dtype=float)
            (line,) = ax.plot(
                xs,
                rows[spec["mid"]].to_numpy(dtype=float),
                color=colour,
                marker="o" if len(xs) <= 12 else None,
                label=_scenario_label(name),
            )
            band = None
            if spec["low"] and spec["high"]:
                band = ax.fill_between(
                    xs,
                    rows[spec["low"]].to_numpy(dtype=float),
                    rows[spec["high"]].to_numpy(dtype=float),
                    color=colour,
                    alpha=0.2,
                    linewidth=0,
                )
            state["artists"].append({"line": line, "band": band})
        else:
            value, low, high = _bar_values(rows, spec)
            (bar,) = ax.bar(
                [i], [value], color=colour, alpha=0.85, width=0.6, label=_scenario_label(name)
            )
            (interval,) = ax.plot(
                [i, i], [low, high], color="black", linewidth=2, solid_capstyle="butt"
            )
            text = ax.annotate(
                _format_value(value),
                (i, value),
                xytext=(4, 3),
                textcoords="offset points",
                ha="left",
                va="bottom",
                fontsize="small",
            )
            state["artists"].append({"bar": bar, "band": interval, "text": text})
    if spec["form"] == "bar":
        ax.set_xticks(range(len(state["names"])), [_scenario_label(n) for n in state["names"]])
    else:
        ax.set_xlabel(spec["x"])
        if len(state["names"]) > 1:
            ax.legend(fontsize="small")
    unit = f" ({spec['unit']})" if spec["unit"] else ""
    ax.set_ylabel(ylabel or f"{spec['metric'] or spec['mid']}{unit}")
    _WHATIF_ARTISTS[ax] = state
    return ax


def update_whatif(
    ax: Axes,
    result_table: pd.DataFrame,
    *,
    baseline: pd.DataFrame | None = None,
    redraw: bool = True,
) -> Axes:
    """Put new what-if results on the artists of a :func:`plot_whatif` axes, in place.

    Only the data of the existing artists change (bar heights, band lines, value labels, curves,
    shaded bands); the view is rescaled and ``draw_idle`` requested, so a widget's figure does
    not flicker. The metric and x column of the first call are kept. If the series or the form
    changed, the axes are cleared and drawn again.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes returned by :func:`plot_whatif`.
    result_table : DataFrame
        New results in the same layout.
    baseline : DataFrame, optional
        As in :func:`plot_whatif`.
    redraw : bool, default True
        Request ``draw_idle``; a caller that renders the figure itself (a widget updating
        several axes, then saving one PNG) passes False so the figure is drawn once.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from casekit.plotting import plot_whatif, update_whatif
    >>> import matplotlib.pyplot as plt
    >>> t = pd.DataFrame(
    ...     {
    ...         "scenario": ["baseline", "scenario"],
    ...         "median": [40.0, 31.0],
    ...         "low": [36.0, 27.0],
    ...         "high": [44.0, 35.0],
    ...     }
    ... )
    >>> ax = plot_whatif(t, ax=plt.figure().gca())
    >>> bar = ax.patches[1]
    >>> ax = update_whatif(ax, t.assign(median=[40.0, 22.0]))
    >>> ax.patches[1] is bar, float(bar.get_height())
    (True, 22.0)
    >>> plt.close("all")
    """
    state = _WHATIF_ARTISTS.get(ax)
    metric = state["metric"] if state else None
    x = state["x"] if state else None
    spec = _whatif_prepare(result_table, baseline=baseline, metric=metric, x=x)
    names = [n for n, _ in spec["series"]]
    if state is None or state["names"] != names or state["form"] != spec["form"]:
        ax.clear()
        return plot_whatif(result_table, ax=ax, metric=metric, baseline=baseline, x=x)
    for i, ((_, rows), artists) in enumerate(zip(spec["series"], state["artists"], strict=True)):
        if spec["form"] == "curve":
            xs = rows[spec["x"]].to_numpy(dtype=float)
            artists["line"].set_data(xs, rows[spec["mid"]].to_numpy(dtype=float))
            band = artists["band"]
            if band is not None and spec["low"] and spec["high"]:
                lo = rows[spec["low"]].to_numpy(dtype=float)
                hi = rows[spec["high"]].to_numpy(dtype=float)
                if hasattr(band, "set_data"):  # matplotlib >= 3.10
                    band.set_data(xs, lo, hi)
                else:  # pragma: no cover - older matplotlib: rebuild the polygon
                    band.set_verts(
                        [
                            np.concatenate(
                                [np.column_stack([xs, lo]), np.column_stack([xs[::-1], hi[::-1]])]
                            )
                        ]
                    )
        else:
            value, low, high = _bar_values(rows, spec)
            artists["bar"].set_height(value)
            artists["band"].set_data([i, i], [low, high])
            artists["text"].set_text(_format_value(value))
            artists["text"].xy = (i, value)
    ax.relim()
    ax.autoscale_view()
    if redraw:
        ax.figure.canvas.draw_idle()
    return ax


# ---------------------------------------------------------------------------------------------
# KPI
# ---------------------------------------------------------------------------------------------


def plot_kpi_on_time(
    kpi_table: pd.DataFrame,
    *,
    ax: Axes | None = None,
    by: str | None = None,
    rate: str | None = None,
    lang: str | None = "zh",
    target: float | None = None,
    top: int | None = 20,
) -> Axes:
    """Horizontal bars of on-time rates (share of cases within a statutory deadline).

    Parameters
    ----------
    kpi_table : DataFrame
        On-time rates from :func:`casekit.kpi.on_time_rates`: a group column (``by``; default
        the first column that is text), a rate in [0, 1] (``rate``; default ``on_time_rate``),
        and when present the interval ``rate_ci_low``/``rate_ci_high`` (or ``ci_low``/
        ``ci_high``; drawn as black lines) and the denominator ``n_due`` (or ``n_cases``; shown
        in the labels). Groups with no rate (nothing due yet) are left out.
    ax : matplotlib.axes.Axes, optional
    by, rate : str, optional
        Group and rate columns.
    lang : {"zh", "en", "both"} or None
        Labels for agency-type identifiers and patterns.
    target : float, optional
        Draw a target line (e.g. 0.95) and colour the bars below it red.
    top : int, optional
        Show at most this many groups, lowest rates first (the ones needing attention).

    Returns
    -------
    matplotlib.axes.Axes
        One bar (patch) per group, lowest rate at the top.

    Examples
    --------
    >>> from casekit.plotting import plot_kpi_on_time
    >>> import matplotlib.pyplot as plt
    >>> kpi = pd.DataFrame(
    ...     {
    ...         "agency_type": ["court", "street_office"],
    ...         "on_time_rate": [0.9, 0.6],
    ...         "n_due": [10, 20],
    ...     }
    ... )
    >>> ax = plot_kpi_on_time(kpi, lang="en", ax=plt.figure().gca())
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['street office (n=20)', 'court (n=10)']
    >>> plt.close("all")
    """
    import pandas as pd

    use_cjk_font()
    ax = _axes(ax)
    rate = rate or _pick(kpi_table.columns, ("on_time_rate", "rate", "share_on_time"), "rate")
    if by is None:
        text_cols = [
            c
            for c in kpi_table.columns
            if c != rate
            and (pd.api.types.is_string_dtype(kpi_table[c]) or kpi_table[c].dtype == object)
        ]
        if not text_cols:
            from casekit._utils import CasekitError

            raise CasekitError(f"kpi table needs a group column; found {list(kpi_table.columns)}")
        by = text_cols[0]
    table = kpi_table.loc[kpi_table[rate].notna()].sort_values(rate, kind="stable")
    if top is not None:
        table = table.head(top)
    names = [_pattern_label(v, lang) for v in table[by]]
    n_col = next((c for c in ("n_due", "n_cases") if c in table.columns), None)
    if n_col is not None:
        names = [f"{n} (n={int(k)})" for n, k in zip(names, table[n_col], strict=True)]
    y = np.arange(len(table))
    values = table[rate].to_numpy(dtype=float)
    ax.barh(
        y,
        values,
        color=["#d62728" if target is not None and v < target else "#1f77b4" for v in values],
    )
    low = next((c for c in ("rate_ci_low", "ci_low") if c in table.columns), None)
    high = next((c for c in ("rate_ci_high", "ci_high") if c in table.columns), None)
    if low and high:
        for yi, lo, hi in zip(y, table[low], table[high], strict=True):
            ax.plot([lo, hi], [yi, yi], color="black", linewidth=1.5)
    if target is not None:
        ax.axvline(target, color="grey", linestyle="--", linewidth=0.8)
    ax.set_yticks(y, names)
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlim(0, 1)
    clock = kpi_table.attrs.get("clock")
    clock_zh = {"route": "转送时限", "notify": "告知时限", "handle": "办理时限"}.get(str(clock), "")
    ax.set_xlabel("on-time rate 按期率" + (f" ({clock} clock {clock_zh})" if clock else ""))
    return ax
