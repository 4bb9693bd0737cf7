"""The report's figures, drawn with matplotlib and returned as inline SVG markup.

Every function here takes plain values from ``summary.json`` (never the draws) and returns
an SVG string ready to be placed in the HTML page, so the report stays one self-contained
file per page. Figures are built with :class:`matplotlib.figure.Figure` directly rather than
through ``pyplot``: no GUI backend, no global figure registry to leak, and the user's own
backend (in a notebook, say) is left alone. Style settings are applied with
``rc_context`` for the same reason.

Colours are Okabe-Ito (safe for the common colour-vision deficiencies); each strategy also
gets its own line style and marker, so the plots still read when printed in greyscale.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib
import numpy as np
from markupsafe import Markup, escape
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch
from matplotlib.ticker import MaxNLocator

#: Okabe-Ito, black first for the baseline-free case and dark colours before light ones.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2)), (0, (3, 2, 1, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HISTORY = "#595959"
POSITIVE, NEGATIVE = "#0072B2", "#D55E00"
HIGHLIGHT = "#E69F00"
_INTERVALS = ("90% interval", "50% interval", "median")
_PRIOR_POSTERIOR = ("prior: median, 90%", "posterior: median, 90%", "posterior 50%")

RC = {
    "svg.fonttype": "none",  # text stays text: small files, selectable, escaped by matplotlib
    # margins are fixed in inches (see frame); libraries imported alongside (ArviZ, PreliZ) set
    # "tight", which would crop differently and draw every figure twice
    "savefig.bbox": "standard",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
}

_HEADER = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)
_IDS = re.compile(r'(\bid="|xlink:href="#|url\(#)([^")]+)([")])')


def strategy_style(index: int) -> dict[str, Any]:
    """Colour, line style and marker of the ``index``-th strategy, fixed across all plots."""
    return {
        "color": PALETTE[index % len(PALETTE)],
        "linestyle": LINESTYLES[index % len(LINESTYLES)],
        "marker": MARKERS[index % len(MARKERS)],
    }


def text(s: str, width: int | None = None) -> str:
    """User text made safe for matplotlib: ``$`` would start mathtext (and can fail to parse)."""
    s = str(s).replace("$", r"\$")
    return "\n".join(textwrap.wrap(s, width)) if width else s


def to_svg(fig: Figure, *, salt: str, alt: str) -> Markup:
    """The figure as inline SVG markup.

    ``salt`` makes the ids matplotlib gives clip paths and markers unique per figure, so
    several SVGs can share one HTML document; the XML header and the metadata block (a
    date, which would make pages differ run to run) are dropped. ``alt`` becomes the
    accessible name of the image. matplotlib escapes all text it writes, so user labels
    cannot inject markup; ``alt`` is escaped here.
    """
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _HEADER.sub("", buf.getvalue(), count=1), count=1)
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", salt)
    svg = _IDS.sub(lambda m: f"{m[1]}{prefix}-{m[2]}{m[3]}", svg)  # "figure_1", "axes_1"... are per figure
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(alt)}" ', 1)
    return Markup(svg.strip())


def frame(ncols: int, heights: Sequence[float], *, width: float = 4.7, left: float = 0.8, right: float = 0.25,
          top: float = 0.45, bottom: float = 0.55, gap_w: float = 0.95, gap_h: float = 0.95,
          legend: Sequence[str] = ()) -> tuple[Figure, list]:
    """A figure of ``len(heights)`` rows x ``ncols`` panels, every margin fixed in inches.

    Fixed margins instead of constrained layout: the layout engine drew each figure
    several times and made the report take half a minute. Room is left below for a
    figure legend with the labels ``legend`` (see :func:`legend_below`).
    """
    nrows = len(heights)
    W = left + ncols * width + (ncols - 1) * gap_w + right
    rows = legend_shape(legend, W)[1]
    room = 0.2 * rows + 0.14 if rows else 0.0
    H = top + sum(heights) + (nrows - 1) * gap_h + bottom + room
    fig = Figure(figsize=(W, H))
    mean_h = sum(heights) / nrows
    gs = fig.add_gridspec(nrows, ncols, left=left / W, right=1 - right / W, top=1 - top / H,
                          bottom=(bottom + room) / H, wspace=gap_w / width, hspace=gap_h / mean_h,
                          height_ratios=list(heights))
    axes = [fig.add_subplot(gs[r, c]) for r in range(nrows) for c in range(ncols)]
    for ax in axes:  # a few round ticks: easier to read, and tick objects are most of the drawing time
        ax.xaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]))
        ax.yaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]))
    return fig, axes


def legend_shape(labels: Sequence[str], width: float) -> tuple[int, int]:
    """Columns and rows of a legend of ``labels`` (8 pt) across a figure ``width`` inches wide."""
    if not labels:
        return 0, 0
    entry = 0.55 + 0.064 * max(len(label) for label in labels)
    ncol = max(1, min(len(labels), int((width - 0.3) // entry)))
    return ncol, -(-len(labels) // ncol)


def legend_below(fig: Figure, handles: list, labels: Sequence[str] | None = None) -> None:
    """The legend under the panels, in the room :func:`frame` left for it."""
    if not handles:
        return
    labels = list(labels) if labels is not None else [h.get_label() for h in handles]
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.06 / fig.get_figheight()),
               ncol=legend_shape(labels, fig.get_figwidth())[0], fontsize=8)


def styled(draw: Callable[..., Markup]) -> Callable[..., Markup]:
    """Run a drawing function with the report's rc settings, without touching global state."""

    def wrapper(*args, **kwargs) -> Markup:
        with matplotlib.rc_context(RC):
            return draw(*args, **kwargs)

    wrapper.__name__ = draw.__name__
    wrapper.__doc__ = draw.__doc__
    return wrapper


def _split(years: Sequence[int], start_year: int) -> tuple[list[int], list[int]]:
    """Indices of history years, and of forecast years plus the last history year (to join the lines)."""
    hist = [i for i, y in enumerate(years) if y < start_year]
    fut = [i for i, y in enumerate(years) if y >= start_year]
    if hist and fut:
        fut = [hist[-1]] + fut
    return hist, fut


def _pick(stats: dict, key: str, idx: list[int]) -> np.ndarray:
    """Values at ``idx`` as a float array (null becomes NaN, a gap in the line); arrays, not
    lists, spare matplotlib a slow unit-conversion scan of every list it is given."""
    values = stats[key]
    return np.array([np.nan if values[i] is None else values[i] for i in idx], dtype=float)


def _fan(ax, years: Sequence[int], stats: dict, idx: list[int], *, color: str, linestyle: Any, marker: str | None,
         label: str, bands: bool = True, alpha: float = 1.0, edges: bool = True) -> None:
    """Median line with 50% (q25-q75) and 90% (q05-q95) bands over the years ``idx``; ``edges``
    outlines the 90% band (left out when several strategies overlap, where it is clutter)."""
    xs = np.array([years[i] for i in idx], dtype=float)
    if bands:
        ax.fill_between(xs, _pick(stats, "q05", idx), _pick(stats, "q95", idx), color=color, alpha=0.10 * alpha,
                        linewidth=0)
        ax.fill_between(xs, _pick(stats, "q25", idx), _pick(stats, "q75", idx), color=color, alpha=0.22 * alpha,
                        linewidth=0)
        for key in ("q05", "q95") if edges else ():
            ax.plot(xs, _pick(stats, key, idx), color=color, linestyle=linestyle, linewidth=0.6, alpha=0.7 * alpha)
    ax.plot(xs, _pick(stats, "median", idx), color=color, linestyle=linestyle, marker=marker, markersize=4,
            linewidth=1.8, label=label)


def _mark_start(ax, start_year: int, first_year: int) -> None:
    """Shade the history and draw a line where strategies start acting."""
    ax.axvspan(first_year - 0.5, start_year - 0.5, color="#f2f2f2", zorder=0, linewidth=0)
    ax.axvline(start_year - 0.5, color="#444444", linewidth=0.9, linestyle=(0, (2, 2)))
    ax.annotate(f"strategies act from {start_year}", xy=(start_year - 0.5, 1.0), xycoords=("data", "axes fraction"),
                xytext=(3, -3), textcoords="offset points", ha="left", va="top", fontsize=7.5, color="#444444",
                bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8})


def _fan_panel(ax, node: dict, strategies: list[dict], start_year: int, reference: dict | None) -> None:
    years = node["years"]
    hist, fut = _split(years, start_year)
    _mark_start(ax, start_year, years[0])
    first = node["by_strategy"][strategies[0]["id"]]
    if hist:
        _fan(ax, years, first, hist, color=HISTORY, linestyle="-", marker=None, label="history (posterior)")
    single = len(strategies) == 1
    for s in strategies:
        style = strategy_style(s["index"])
        _fan(ax, years, node["by_strategy"][s["id"]], fut, label=s["label"], alpha=1.0 if single else 0.7,
             edges=single, **style)
    if reference is not None:
        ref = node["by_strategy"][reference["id"]]
        ax.plot([years[i] for i in fut], _pick(ref, "median", fut), color="black", linewidth=1.2,
                linestyle=(0, (1, 1.5)), label=f"{reference['label']} (median)")
    ax.set_title(text(node["label"], 60), loc="left")
    ax.set_xlabel("year")
    ax.set_ylabel(text(node["unit"] or "value", 30))
    ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)


@styled
def fan_chart(*, nodes: list[dict], strategies: list[dict], start_year: int, reference: dict | None = None,
              salt: str, ncols: int = 1) -> Markup:
    """Nodes through the horizon, one panel each: history once (it is shared by all
    strategies), then each strategy's median with its 50% and 90% bands.

    ``strategies`` are ``{"id", "label", "index"}`` dicts (the index fixes the style);
    ``reference``, when given, is a strategy whose median is drawn as a dotted black line
    for comparison (the baseline on a strategy page).
    """
    ncols = min(ncols, len(nodes))
    nrows = -(-len(nodes) // ncols)
    legend = ["history (posterior)"] + [s["label"] for s in strategies]
    legend += [f"{reference['label']} (median)"] if reference is not None else []
    fig, axes = frame(ncols, [2.3] * nrows, legend=legend)
    for ax, node in zip(axes, nodes):
        _fan_panel(ax, node, strategies, start_year, reference)
    for ax in axes[len(nodes):]:
        ax.set_visible(False)
    legend_below(fig, *axes[0].get_legend_handles_labels())
    names = ", ".join(f"{n['label']} ({n['unit']})" for n in nodes)
    alt = f"Fan charts of {names}: median with 50% and 90% bands, history then " \
          f"{', '.join(s['label'] for s in strategies)}"
    return to_svg(fig, salt=salt, alt=alt)


def _contrast_panel(ax, contrast: dict, rows: list[dict], baseline_label: str) -> None:
    year = contrast["years"][-1]
    ax.axvline(0, color="black", linewidth=0.9)
    for k, r in enumerate(rows):
        y = len(rows) - 1 - k
        style = strategy_style(r["index"])
        ax.plot([r["q05"], r["q95"]], [y, y], color=style["color"], linewidth=1.4, solid_capstyle="butt")
        ax.plot([r["q25"], r["q75"]], [y, y], color=style["color"], linewidth=5, solid_capstyle="butt")
        ax.plot([r["median"]], [y], marker=style["marker"], color="white", markeredgecolor=style["color"],
                markeredgewidth=1.6, markersize=7, linestyle="none")
    ax.set_yticks(range(len(rows)), [text(r["label"], 26) for r in reversed(rows)])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", visible=False)
    ax.set_title(text(contrast["label"], 60), loc="left")
    ax.set_xlabel(text(f"difference from {baseline_label} in {year} ({contrast['unit'] or 'value'})", 70))
    if contrast["desirable"] in ("higher", "lower"):
        note = "higher is better \u2192" if contrast["desirable"] == "higher" else "\u2190 lower is better"
        ax.annotate(note, xy=(1.0, 1.0), xycoords="axes fraction", xytext=(0, 3), textcoords="offset points",
                    ha="right", va="bottom", fontsize=8, color="#444444", fontweight="bold")


@styled
def contrast_chart(*, panels: list[dict], baseline_label: str, salt: str) -> Markup:
    """Strategy minus baseline in the final forecast year: one panel per outcome (each in its
    own units), one interval per strategy.

    ``panels`` are ``{"contrast": <summary contrasts entry>, "rows": [...]}``; rows are
    ``{"label", "index", "q05", "q25", "median", "q75", "q95"}`` in the order shown.
    """
    heights = [0.42 * len(p["rows"]) + 0.2 for p in panels]
    fig, axes = frame(1, heights, width=3.6, left=1.85, gap_h=1.0, legend=_INTERVALS)
    for ax, p in zip(axes, panels):
        _contrast_panel(ax, p["contrast"], p["rows"], baseline_label)
    handles = [Line2D([], [], color="#444444", linewidth=1.4), Line2D([], [], color="#444444", linewidth=5),
               Line2D([], [], color="#444444", marker="o", markerfacecolor="white", linestyle="none")]
    legend_below(fig, handles, _INTERVALS)
    alt = f"Difference from {baseline_label} in the final year: " + ", ".join(p["contrast"]["label"] for p in panels)
    return to_svg(fig, salt=salt, alt=alt)


@styled
def evidence_chart(*, indicator: dict, strategies: list[dict], start_year: int, salt: str) -> Markup:
    """Observed values against the posterior predictive band, then the forecast per strategy."""
    hist = indicator["history"]
    fc = indicator["forecast"]
    years = list(hist["years"]) + list(fc["years"])
    fig, (ax,) = frame(1, [2.3], legend=["posterior predictive", *(s["label"] for s in strategies), "observed"])
    _mark_start(ax, start_year, years[0])
    hidx = list(range(len(hist["years"])))
    _fan(ax, hist["years"], hist, hidx, color=HISTORY, linestyle="-", marker=None, label="posterior predictive")
    for s in strategies:
        per = fc["by_strategy"][s["id"]]
        keys = ("median", "q05", "q25", "q75", "q95")
        stats = {k: [hist[k][-1]] + list(per[k]) for k in keys} if hidx else per
        xs = ([hist["years"][-1]] if hidx else []) + list(fc["years"])
        single = len(strategies) == 1
        _fan(ax, xs, stats, list(range(len(xs))), label=s["label"], alpha=1.0 if single else 0.7, edges=single,
             **strategy_style(s["index"]))
    obs = indicator["observed"]
    ax.plot(np.asarray(obs["years"], dtype=float), np.asarray(obs["values"], dtype=float), linestyle="none",
            marker="o", markersize=5, markerfacecolor="black", markeredgecolor="white", markeredgewidth=0.8,
            color="black", label="observed", zorder=5)
    ax.set_title(text(indicator["label"], 60), loc="left")
    ax.set_xlabel("year")
    unit = indicator["unit"] or "value"
    if indicator.get("transform") == "log":  # the model's own scale: equal steps are equal ratios
        ax.set_yscale("log")
        unit += ", log scale"
    ax.set_ylabel(text(unit, 30))
    ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)
    legend_below(fig, *ax.get_legend_handles_labels())
    alt = f"Observed {indicator['label']} ({indicator['unit']}) against the model's predictive band and forecasts"
    return to_svg(fig, salt=salt, alt=alt)


@styled
def claims_chart(*, claims: list[dict], salt: str) -> Markup:
    """Prior vs posterior of every claim's effect: a forest plot, prior above posterior."""
    n = len(claims)
    fig, (ax,) = frame(1, [0.5 * n], width=4.6, left=2.6, top=0.5, legend=_PRIOR_POSTERIOR)
    ax.axvline(0, color="black", linewidth=0.9)
    for k, c in enumerate(claims):
        y = n - 1 - k
        pr, po = c["prior"], c["posterior"]
        ax.plot([pr["q05"], pr["q95"]], [y + 0.17] * 2, color="#888888", linewidth=1.4)
        ax.plot([pr["q50"]], [y + 0.17], marker="o", markerfacecolor="white", markeredgecolor="#666666",
                linestyle="none", markersize=5)
        ax.plot([po["q05"], po["q95"]], [y - 0.17] * 2, color=POSITIVE, linewidth=1.4)
        ax.plot([po["q25"], po["q75"]], [y - 0.17] * 2, color=POSITIVE, linewidth=4.5, solid_capstyle="butt")
        ax.plot([po["median"]], [y - 0.17], marker="s", color=POSITIVE, linestyle="none", markersize=4.5)
    ax.set_yticks(range(n), [text(c["label"], 40) for c in reversed(claims)], fontsize=8)
    ax.set_ylim(-0.6, n - 0.4)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("effect (latent standard units, long run, per unit of the cause)")
    ax.set_title("Prior (grey) and posterior (blue) of each effect", loc="left")
    handles = [Line2D([], [], color="#888888", marker="o", markerfacecolor="white"),
               Line2D([], [], color=POSITIVE, marker="s"), Line2D([], [], color=POSITIVE, linewidth=4.5)]
    legend_below(fig, handles, _PRIOR_POSTERIOR)
    return to_svg(fig, salt=salt, alt="Forest plot of each claim's effect, prior against posterior")


# --- The causal graph --------------------------------------------------------------------------

_ROLE_ORDER = ("lever", "factor", "outcome")
_GRAPH_KEY = ("raises (posterior median > 0)", "lowers (posterior median < 0)", "thicker = larger |median|",
              "lever (set by strategies)", "outcome", "lever this strategy sets")
_ROLE_FILL = {"lever": "#FCE9C7", "factor": "#FFFFFF", "outcome": "#DCEAF6"}


def graph_layout(nodes: dict[str, dict], edges: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """Columns by role (levers, factors, outcomes), split further so that within a role an
    effect sits right of its cause; rows ordered by the mean row of each node's causes.

    Cycles (possible through lagged claims) are cut by bounding the relaxation.
    """
    depth = {n: 0 for n in nodes}
    same_role = [(a, b) for a, b in edges if a in nodes and b in nodes and nodes[a]["role"] == nodes[b]["role"]]
    for _ in range(len(nodes)):
        changed = False
        for a, b in same_role:
            if depth[b] < depth[a] + 1 < len(nodes):
                depth[b] = depth[a] + 1
                changed = True
        if not changed:
            break
    column: dict[str, int] = {}
    base = 0
    for role in _ROLE_ORDER:
        members = [n for n in nodes if nodes[n]["role"] == role]
        if not members:
            continue
        for n in members:
            column[n] = base + depth[n]
        base += max(depth[n] for n in members) + 1
    pos: dict[str, tuple[float, float]] = {}
    for col in sorted(set(column.values())):
        members = [n for n in nodes if column[n] == col]

        def barycentre(n: str) -> float:
            ys = [pos[a][1] for a, b in edges if b == n and a in pos]
            return sum(ys) / len(ys) if ys else 0.0

        members.sort(key=barycentre, reverse=True)
        k = len(members)
        for i, n in enumerate(members):
            pos[n] = (float(col), (k - 1) / 2 - i)
    return pos


def _box_edge(centre: tuple[float, float], towards: tuple[float, float], w: float, h: float) -> tuple[float, float]:
    """Where the ray from a box's centre towards a point leaves the box (w x h).

    Computed directly rather than by letting matplotlib clip arrows to patches, which
    costs a bezier search per arrow and made the graph the slowest figure.
    """
    dx, dy = towards[0] - centre[0], towards[1] - centre[1]
    if dx == 0 and dy == 0:
        return centre
    t = min((w / 2) / abs(dx) if dx else float("inf"), (h / 2) / abs(dy) if dy else float("inf"))
    return centre[0] + t * dx, centre[1] + t * dy


def _control(p: tuple[float, float], q: tuple[float, float], rad: float) -> tuple[float, float]:
    """The control point matplotlib's ``arc3`` connection uses (in the same units as p, q)."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    return (p[0] + q[0]) / 2 + rad * dy, (p[1] + q[1]) / 2 - rad * dx


def _crossings(p: tuple[float, float], q: tuple[float, float], rad: float, others: list[tuple[float, float]],
               half: tuple[float, float]) -> int:
    """How many of the ``others`` boxes (centres, half sizes, in inches) the curve p -> q enters."""
    c = _control(p, q, rad)
    ts = np.linspace(0.05, 0.95, 37)[:, None]
    pts = (1 - ts) ** 2 * np.array(p) + 2 * (1 - ts) * ts * np.array(c) + ts ** 2 * np.array(q)
    if not others:
        return 0
    boxes = np.asarray(others, dtype=float)  # all boxes at once: (points, boxes) inside tests
    inside = ((np.abs(pts[:, None, 0] - boxes[None, :, 0]) < half[0])
              & (np.abs(pts[:, None, 1] - boxes[None, :, 1]) < half[1]))
    return int(inside.any(axis=0).sum())


def _route(a: str, b: str, inch: dict[str, tuple[float, float]], half: tuple[float, float],
           taken: set[float]) -> tuple[float, int]:
    """The arc3 curvature for the arrow a -> b: the straightest that crosses no other box
    (or the fewest), and not one already used between the same two nodes; and how many
    boxes it still crosses.

    Candidates are bows of a fixed size in inches, so long arrows bend no more than short ones.
    """
    others = [v for n, v in inch.items() if n not in (a, b)]
    length = float(np.hypot(inch[b][0] - inch[a][0], inch[b][1] - inch[a][1])) or 1.0
    best: tuple[int, float] | None = None
    for bow in (0.0, 0.22, -0.22, 0.4, -0.4, 0.6, -0.6, 0.85, -0.85, 1.1, -1.1, 1.4, -1.4, 1.8, -1.8, 2.3, -2.3):
        rad = round(2 * bow / length, 4)
        if rad in taken:
            continue
        hits = _crossings(inch[a], inch[b], rad, others, half)
        if best is None or hits < best[0]:
            best = (hits, rad)
        if hits == 0:
            break
    return (best[1], best[0]) if best else (round(2.2 / length, 4), 0)


def _curve(p: tuple[float, float], q: tuple[float, float], rad: float) -> np.ndarray:
    """Points along the arc3 curve p -> q (inches), to size the figure around every arrow."""
    c = np.array(_control(p, q, rad))
    ts = np.linspace(0, 1, 21)[:, None]
    return (1 - ts) ** 2 * np.array(p) + 2 * (1 - ts) * ts * c + ts ** 2 * np.array(q)


@styled
def causal_graph(*, nodes: dict[str, dict], claims: list[dict], highlight: dict[str, str] | None = None,
                 salt: str) -> Markup:
    """Nodes in layers (levers left, outcomes right), one arrow per claim.

    Arrow colour and dash show the sign of the posterior median effect, width its size;
    arrows bend around boxes they would otherwise cross. ``highlight`` maps the levers a
    strategy sets to a short note ("set to 75").
    """
    highlight = highlight or {}
    claims = [c for c in claims if c["cause"] in nodes and c["effect"] in nodes]
    pos = graph_layout(nodes, [(c["cause"], c["effect"]) for c in claims])
    sx, sy = 2.1, 1.15  # inches per column and per row
    w, h = 0.8, 0.6  # box size in columns and rows
    inch = {n: (x * sx, y * sy) for n, (x, y) in pos.items()}
    half = (w / 2 * sx + 0.05, h / 2 * sy + 0.05)
    taken: dict[frozenset, set[float]] = {}
    routes = []
    for c in claims:
        used = taken.setdefault(frozenset((c["cause"], c["effect"])), set())
        rad, hits = _route(c["cause"], c["effect"], inch, half, used)
        used.add(rad)
        routes.append((rad, hits))
    # the drawing area holds every box and every curve
    pts = np.vstack([np.array([[x - half[0], y - half[1]], [x + half[0], y + half[1]]]) for x, y in inch.values()]
                    + [_curve(inch[c["cause"]], inch[c["effect"]], r) for c, (r, _) in zip(claims, routes)])
    (x0, y0), (x1, y1) = pts.min(axis=0) - 0.25, pts.max(axis=0) + 0.25
    width = max(6.0, x1 - x0)
    x0, x1 = (x0 + x1) / 2 - width / 2, (x0 + x1) / 2 + width / 2
    fig, (ax,) = frame(1, [y1 - y0], width=width, left=0.1, right=0.1, top=0.1, bottom=0.1,
                       legend=_GRAPH_KEY[:6 if highlight else 5])
    ax.set_axis_off()
    ax.set_xlim(x0 / sx, x1 / sx)
    ax.set_ylim(y0 / sy, y1 / sy)
    for nid, (x, y) in pos.items():
        node = nodes[nid]
        lit = nid in highlight
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.06",
                                    facecolor=_ROLE_FILL.get(node["role"], "white"),
                                    edgecolor=HIGHLIGHT if lit else "#333333", linewidth=3.2 if lit else 1.0,
                                    linestyle="-" if node["role"] != "factor" else (0, (3, 1.5)), zorder=3))
        tag = node["role"].upper() + (f" \u2013 {highlight[nid]}" if lit else "")
        ax.text(x, y + h / 2 - 0.07, text(tag), ha="center", va="top", fontsize=6.5, color="#333333",
                fontweight="bold", zorder=4)
        ax.text(x, y - 0.06, text(node["label"], 22), ha="center", va="center", fontsize=8, zorder=4,
                linespacing=1.1)
    for c, (rad, hits) in zip(claims, routes):
        a, b = c["cause"], c["effect"]
        # arc3 bends in display space: its control point in inches, then back in data units
        cx, cy = _control(inch[a], inch[b], rad)
        ctrl = (cx / sx, cy / sy)
        median = c.get("median") or 0.0
        positive = median >= 0
        ax.add_patch(FancyArrowPatch(
            _box_edge(pos[a], ctrl, w, h), _box_edge(pos[b], ctrl, w, h), shrinkA=1, shrinkB=2,
            connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>", mutation_scale=12,
            color=POSITIVE if positive else NEGATIVE, linestyle="-" if positive else (0, (4, 2)),
            linewidth=0.8 + 3.2 * min(abs(median), 1.0), alpha=0.9,
            # an arrow that cannot avoid a box is drawn over it, never hidden behind it
            zorder=5 if hits else 2, clip_on=False,
        ))
    handles = [Line2D([], [], color=POSITIVE, linewidth=2),
               Line2D([], [], color=NEGATIVE, linewidth=2, linestyle=(0, (4, 2))),
               Line2D([], [], color="#777777", linewidth=4),
               Patch(facecolor=_ROLE_FILL["lever"], edgecolor="#333333"),
               Patch(facecolor=_ROLE_FILL["outcome"], edgecolor="#333333")]
    if highlight:
        handles.append(Patch(facecolor="white", edgecolor=HIGHLIGHT, linewidth=3))
    legend_below(fig, handles, _GRAPH_KEY[:len(handles)])
    alt = "Causal graph of the scenario: " + "; ".join(
        f"{nodes[c['cause']]['label']} to {nodes[c['effect']]['label']}" for c in claims)
    return to_svg(fig, salt=salt, alt=alt)
