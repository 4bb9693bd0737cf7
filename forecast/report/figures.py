"""The report's figures, drawn with matplotlib and returned as inline SVG markup.

Every function here takes plain values from ``summary.json`` (never the draws) and returns
an SVG string ready to be placed in the HTML page, so the report stays one self-contained
file per page. Figures are built with :class:`matplotlib.figure.Figure` directly rather than
through ``pyplot``: no GUI backend, no global figure registry to leak, and the user's own
backend (in a notebook, say) is left alone. Style settings are applied with
``rc_context`` for the same reason.

Figures are small (about 4 inches wide) with 9-point text or larger, so that shrunk to a
phone's width their text stays at least 10 CSS pixels high; a figure that cannot be that
small (the causal graph) carries a minimum width and scrolls inside its own box
(:func:`to_svg`). Keys are written in the page's HTML, beside the figures.

Colours are Okabe-Ito (safe for the common colour-vision deficiencies); each strategy also
gets its own line style and marker, so the plots still read when printed in greyscale.
"""

from __future__ import annotations

import functools
import io
import math
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib
import numpy as np
from markupsafe import Markup, escape
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, PathPatch, Polygon
from matplotlib.path import Path as MplPath
from matplotlib.text import Text
from matplotlib.ticker import (
    FixedLocator,
    FuncFormatter,
    MaxNLocator,
    NullFormatter,
    NullLocator,
)

from forecast.report import graph
from forecast.report.formatting import plain

#: Okabe-Ito, black first for the baseline-free case and dark colours before light ones.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2)), (0, (3, 2, 1, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HISTORY = "#595959"
#: The causal graph's two colours: the sign of a claim's effect, and nothing else.
RAISES, LOWERS = "#0072B2", "#D55E00"
PRIOR_GREY = "#777777"
#: The one-step-ahead predictions in the evidence charts (Okabe-Ito vermillion, apart from the bands' grey).
ONE_STEP = "#D55E00"
POSTERIOR = "#0072B2"
REFERENCE = "#000000"
#: Box fills by role: greys, so that colour in the graph means the sign of an effect only.
ROLE_FILL = {"lever": "#E8E8E8", "factor": "#FFFFFF", "outcome": "#FFFFFF"}
ROLE_EDGE_WIDTH = {"lever": 1.0, "factor": 1.0, "outcome": 2.0}

#: Smallest text a figure should show on a page, in CSS pixels (see :func:`to_svg`).
READABLE_PX = 10.0
#: Points of text per CSS pixel when an SVG is shown at its own size (1 pt = 4/3 px).
PX_PER_PT = 4 / 3

RC = {
    "svg.fonttype": "none",  # text stays text: small files, selectable, escaped by matplotlib
    # margins are fixed in inches (see frame); libraries imported alongside (ArviZ, PreliZ) set
    # "tight", which would crop differently and draw every figure twice
    "savefig.bbox": "standard",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
    "font.size": 9.5,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9.5,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "axes.formatter.useoffset": False,
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


def smallest_text(fig: Figure) -> float:
    """The smallest font size (points) of any visible text in the figure."""
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes, default=10.0)


def to_svg(fig: Figure, *, salt: str, alt: str) -> Markup:
    """The figure as inline SVG markup.

    ``salt`` makes the ids matplotlib gives clip paths and markers unique per figure, so
    several SVGs can share one HTML document; the XML header and the metadata block (a
    date, which would make pages differ run to run) are dropped. ``alt`` becomes the
    accessible name of the image. matplotlib escapes all text it writes, so user labels
    cannot inject markup; ``alt`` is escaped here.

    The SVG gets a minimum width at which its smallest text is :data:`READABLE_PX` high:
    it shrinks with the page down to that width, and below it scrolls in its box.
    """
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _HEADER.sub("", buf.getvalue(), count=1), count=1)
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", salt)
    svg = _IDS.sub(lambda m: f"{m[1]}{prefix}-{m[2]}{m[3]}", svg)  # "figure_1", "axes_1"... are per figure
    natural = fig.get_figwidth() * 72 * PX_PER_PT
    least = natural * READABLE_PX / (smallest_text(fig) * PX_PER_PT)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(alt)}" style="min-width: {least:.0f}px" ', 1)
    return Markup(svg.strip())


def styled(draw: Callable[..., Markup]) -> Callable[..., Markup]:
    """Run a drawing function with the report's rc settings, without touching global state."""

    def wrapper(*args, **kwargs) -> Markup:
        with matplotlib.rc_context(RC):
            return draw(*args, **kwargs)

    wrapper.__name__ = draw.__name__
    wrapper.__doc__ = draw.__doc__
    return wrapper


# --- Axes and ticks ----------------------------------------------------------------------------


def year_ticks(first: int, last: int) -> list[int]:
    """Round years through ``last``, which is always labelled (the horizon)."""
    span = last - first
    step = 1 if span <= 6 else 2 if span <= 12 else 5 if span <= 35 else 10
    ticks = [y for y in range(first, last + 1) if y % step == 0]
    if ticks and ticks[-1] != last:
        if last - ticks[-1] <= step / 2:  # too close to share the axis: the horizon replaces it
            ticks[-1] = last
        else:
            ticks.append(last)
    return ticks or [last]


def log_ticks(lo: float, hi: float) -> list[float]:
    """Three to seven plain values between ``lo`` and ``hi`` on a log axis: 1-2-5 steps,
    finer where the range is narrow (60, 80, 100, 150, 200), round values where even those
    are too coarse."""
    lo, hi = max(lo, 1e-12), max(hi, lo * 1.0001)
    decades = range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
    ticks: list[float] = []
    for mantissas in ((1,), (1, 2, 5), (1, 2, 3, 5), (1, 1.5, 2, 3, 4, 5, 6, 8), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9)):
        ticks = sorted(float(f"{m * 10.0 ** e:.6g}") for e in decades for m in mantissas if lo <= m * 10.0 ** e <= hi)
        if len(ticks) >= 3:
            break
    else:  # a range too narrow for round ratios: round values, as on a linear axis
        ticks = [float(t) for t in MaxNLocator(4, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi) if lo <= t <= hi]
    while len(ticks) > 7:
        ticks = ticks[::2]
    return ticks


def plain_axes(ax, *, years: tuple[int, int] | None = None, log: bool = False, y: bool = True) -> None:
    """Plain tick labels on both axes (``y=False`` leaves a y axis of names alone); years
    through the horizon on x; on a log y axis, 1-2-5 values written out (no powers of ten,
    no unlabelled minor ticks)."""
    if years is not None:
        ax.xaxis.set_major_locator(FixedLocator(year_ticks(*years)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{int(round(v))}"))
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(plain))
    if log:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(FixedLocator(log_ticks(*ax.get_ylim())))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_minor_formatter(NullFormatter())
    if y:
        ax.yaxis.set_major_formatter(FuncFormatter(plain))


#: Least room (points) between a figure's edge and the y axis's label.
EDGE_PT = 2.0
#: Most lines a y axis's label wraps to; a longer one ends in an ellipsis (the page's text and
#: the figure's alt text give the unit whole).
LABEL_LINES = 3


@functools.cache
def _measuring(dpi: float) -> RendererAgg:
    """A renderer to measure text with before a figure is drawn, one per resolution and shared
    (it draws nothing, and its measurements are cached: the same tick labels recur)."""
    return RendererAgg(1, 1, dpi)


def y_label(ax, label: str, width: int) -> None:
    """``label`` as the y axis's label, wrapped at ``width`` characters, whole inside the figure.

    Call it once the axis has its ticks. The margins are fixed (:func:`frame`), and a label that
    wraps to two lines or more (a unit of ~15 characters with ", log scale") would run past the
    figure's left edge and be cut off: the axes' left edge moves right as far as the label and
    the tick labels need (the figure keeps its size), and a label longer than the figure is high
    (about the axes' middle) wraps narrower."""
    fig = ax.get_figure()
    renderer = _measuring(fig.dpi)
    edge = EDGE_PT * fig.dpi / 72
    for chars in range(width, 7, -2):
        lines = textwrap.wrap(text(label), chars, max_lines=LABEL_LINES, placeholder=" \u2026")
        ax.set_ylabel("\n".join(lines))
        box = ax.yaxis.get_tightbbox(renderer)  # places the label beside the tick labels
        extent = ax.yaxis.label.get_window_extent(renderer)
        if extent.y0 >= edge and extent.y1 <= fig.bbox.height - edge:
            break
    short = edge - box.x0
    if short > 0:
        x0, y0, w, h = ax.get_position().bounds
        move = short / fig.bbox.width
        ax.set_position((x0 + move, y0, w - move, h))


def frame(width: float, height: float, *, left: float = 0.62, right: float = 0.15, top: float = 0.12,
          bottom: float = 0.42) -> tuple[Figure, Any]:
    """One panel of ``width`` x ``height`` inches (axes and margins), margins fixed in inches.

    Fixed margins instead of constrained layout: the layout engine drew each figure several
    times and made the report take half a minute."""
    fig = Figure(figsize=(width, height))
    ax = fig.add_axes((left / width, bottom / height, 1 - (left + right) / width, 1 - (top + bottom) / height))
    ax.xaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_locator(MaxNLocator(5, steps=[1, 2, 2.5, 5, 10]))
    return fig, ax


# --- Trajectories ------------------------------------------------------------------------------


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


def _fan(ax, years: Sequence[int], stats: dict, idx: list[int], *, color: str, linestyle: Any = "-",
         marker: str | None = None, hatch: str | None = None) -> None:
    """Median line with 50% (q25-q75) and 90% (q05-q95) bands over the years ``idx``;
    ``hatch`` marks bands that the data did not inform (a history with no indicator)."""
    xs = np.array([years[i] for i in idx], dtype=float)
    extra = {"hatch": hatch, "edgecolor": color, "facecolor": "none"} if hatch else {"color": color}
    ax.fill_between(xs, _pick(stats, "q05", idx), _pick(stats, "q95", idx), alpha=0.16 if not hatch else 0.45,
                    linewidth=0, **extra)
    ax.fill_between(xs, _pick(stats, "q25", idx), _pick(stats, "q75", idx), alpha=0.34 if not hatch else 0.7,
                    linewidth=0, **extra)
    ax.plot(xs, _pick(stats, "median", idx), color=color, linestyle=linestyle, marker=marker, markersize=3.5,
            linewidth=1.8)


def _mark_start(ax, start_year: int, first_year: int) -> None:
    """Shade the history and draw a line where strategies start acting."""
    ax.axvspan(first_year - 0.5, start_year - 0.5, color="#f2f2f2", zorder=0, linewidth=0)
    ax.axvline(start_year - 0.5, color="#444444", linewidth=0.9, linestyle=(0, (2, 2)))


def value_range(node: dict, strategy_ids: Sequence[str]) -> tuple[float, float]:
    """The y range that holds a node's history and the 90% bands of the given strategies, so
    that small multiples of one node share their axis."""
    values = [v for sid in strategy_ids for key in ("q05", "q95") for v in node["by_strategy"][sid][key] if v is not None]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    pad = 0.05 * (hi - lo or 1.0)
    return lo - pad, hi + pad


@styled
def fan_panel(*, node: dict, strategy: dict, start_year: int, ylim: tuple[float, float], measured: bool = True,
              reference: dict | None = None, salt: str) -> Markup:
    """One node under one strategy: the history (the model's reconstruction, the same under
    every strategy; hatched when no indicator measures the node, so that it is the prior
    carried through the claims), then the strategy's median with its 50% and 90% bands,
    and ``reference``'s median (the baseline) as a dotted black line."""
    years = node["years"]
    hist, fut = _split(years, start_year)
    fig, ax = frame(3.3, 2.3, left=0.58)
    _mark_start(ax, start_year, years[0])
    stats = node["by_strategy"][strategy["id"]]
    if hist:
        _fan(ax, years, stats, hist, color=HISTORY, hatch=None if measured else "////")
    _fan(ax, years, stats, fut, **strategy_style(strategy["index"]))
    if reference is not None and reference["id"] != strategy["id"]:
        ref = node["by_strategy"][reference["id"]]
        ax.plot([years[i] for i in fut], _pick(ref, "median", fut), color=REFERENCE, linewidth=1.3,
                linestyle=(0, (1, 1.5)))
    ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)
    ax.set_ylim(*ylim)
    plain_axes(ax, years=(years[0], years[-1]))
    y_label(ax, node["unit"] or "value", 24)
    alt = (f"{node['label']} ({node['unit'] or 'value'}) under {strategy['label']}: median with 50% and 90% bands, "
           f"history {years[0]}-{start_year - 1}{'' if measured else ' (no indicator: inferred only through its claims)'}, forecast to "
           f"{years[-1]}" + (f", the median under {reference['label']} dotted" if reference and reference['id'] != strategy['id'] else ""))
    return to_svg(fig, salt=salt, alt=alt)


# --- Contrasts ---------------------------------------------------------------------------------


@styled
def contrast_chart(*, contrast: dict, rows: list[dict], baseline_label: str, salt: str) -> Markup:
    """Strategy minus baseline in the final forecast year for one outcome: one interval per
    strategy (90% thin, 50% thick, the median a marker).

    ``rows`` are ``{"label", "index", "q05", "q25", "median", "q75", "q95"}`` in the order shown.
    """
    year = contrast["years"][-1]
    fig, ax = frame(3.3, 0.45 * len(rows) + 1.05, left=1.2, right=0.15, top=0.3, bottom=0.72)
    ax.axvline(0, color="black", linewidth=0.9)
    for k, r in enumerate(rows):
        y = len(rows) - 1 - k
        style = strategy_style(r["index"])
        ax.plot([r["q05"], r["q95"]], [y, y], color=style["color"], linewidth=1.4, solid_capstyle="butt")
        ax.plot([r["q25"], r["q75"]], [y, y], color=style["color"], linewidth=5, solid_capstyle="butt")
        ax.plot([r["median"]], [y], marker=style["marker"], color="white", markeredgecolor=style["color"],
                markeredgewidth=1.6, markersize=7, linestyle="none")
    ax.set_yticks(range(len(rows)), [text(r["label"], 14) for r in reversed(rows)])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(text(f"difference from {baseline_label} in {year}", 26))
    plain_axes(ax, y=False)
    if contrast["desirable"] in ("higher", "lower"):
        note = "higher is better \u2192" if contrast["desirable"] == "higher" else "\u2190 lower is better"
        ax.annotate(note, xy=(1.0, 1.0), xycoords="axes fraction", xytext=(0, 3), textcoords="offset points",
                    ha="right", va="bottom", fontsize=9, color="#444444", fontweight="bold")
    alt = f"{contrast['label']}: difference from {baseline_label} in {year}, " + ", ".join(
        f"{r['label']} median {r['median']:+.1f}" for r in rows)
    return to_svg(fig, salt=salt, alt=alt)


# --- Evidence ----------------------------------------------------------------------------------


@styled
def evidence_chart(*, indicator: dict, strategies: list[dict], start_year: int, banded: str | None,
                   salt: str) -> Markup:
    """Observed values against the posterior predictive band, then the forecasts: the
    ``banded`` strategy's (the baseline) with its bands, the others' medians as lines (bands
    of several strategies on one panel blur into one)."""
    hist = indicator["history"]
    fc = indicator["forecast"]
    years = list(hist["years"]) + list(fc["years"])
    fig, ax = frame(3.6, 2.5, left=0.62)
    _mark_start(ax, start_year, years[0])
    hidx = list(range(len(hist["years"])))
    if hidx:
        _fan(ax, hist["years"], hist, hidx, color=HISTORY)
    for s in strategies:
        per = fc["by_strategy"][s["id"]]
        keys = ("median", "q05", "q25", "q75", "q95")
        stats = {k: [hist[k][-1]] + list(per[k]) for k in keys} if hidx else per
        xs = ([hist["years"][-1]] if hidx else []) + list(fc["years"])
        style = strategy_style(s["index"])
        if s["id"] == banded:
            _fan(ax, xs, stats, list(range(len(xs))), **style)
        else:
            ax.plot(np.asarray(xs, dtype=float), _pick(stats, "median", list(range(len(xs)))), linewidth=1.5,
                    markersize=3.5, **style)
    obs = indicator["observed"]
    ahead = indicator.get("one_step") or {"years": []}
    # each observation's prediction from the years before it, offset so as not to hide the dots; never
    # a series' first (nothing earlier predicts it: its prior-wide interval would set the y-axis), which
    # summaries written before it was left out still hold
    idx = [i for i, y in enumerate(ahead["years"]) if obs["years"] and y > min(obs["years"])]
    if idx:
        xs = np.asarray([ahead["years"][i] for i in idx], dtype=float) + 0.22
        ax.vlines(xs, _pick(ahead, "q05", idx), _pick(ahead, "q95", idx), color=ONE_STEP, linewidth=1.1, zorder=4)
        ax.plot(xs, _pick(ahead, "q50", idx), linestyle="none", marker="_", markersize=6, color=ONE_STEP, zorder=4)
    ax.plot(np.asarray(obs["years"], dtype=float), np.asarray(obs["values"], dtype=float), linestyle="none",
            marker="o", markersize=5, markerfacecolor="black", markeredgecolor="white", markeredgewidth=0.8,
            color="black", zorder=5)
    ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)
    unit = indicator["unit"] or "value"
    log = indicator.get("transform") == "log"  # the model's own scale: equal steps are equal ratios
    plain_axes(ax, years=(years[0], years[-1]), log=log)
    y_label(ax, unit + (", log scale" if log else ""), 26)
    alt = f"Observed {indicator['label']} ({indicator['unit']}) against the model's predictive band and forecasts"
    return to_svg(fig, salt=salt, alt=alt)


# --- Claims ------------------------------------------------------------------------------------


@styled
def claims_chart(*, claims: list[dict], salt: str) -> Markup:
    """Prior vs posterior of every claim's effect: a forest plot, prior above posterior."""
    n = len(claims)
    fig, ax = frame(4.4, 0.5 * n + 0.75, left=2.05, right=0.15, top=0.1, bottom=0.62)
    ax.axvline(0, color="black", linewidth=0.9)
    for k, c in enumerate(claims):
        y = n - 1 - k
        pr, po = c["prior"], c["posterior"]
        ax.plot([pr["q05"], pr["q95"]], [y + 0.17] * 2, color=PRIOR_GREY, linewidth=1.4)
        ax.plot([pr["q50"]], [y + 0.17], marker="o", markerfacecolor="white", markeredgecolor=PRIOR_GREY,
                linestyle="none", markersize=5)
        ax.plot([po["q05"], po["q95"]], [y - 0.17] * 2, color=POSTERIOR, linewidth=1.4)
        ax.plot([po["q25"], po["q75"]], [y - 0.17] * 2, color=POSTERIOR, linewidth=4.5, solid_capstyle="butt")
        ax.plot([po["median"]], [y - 0.17], marker="s", color=POSTERIOR, linestyle="none", markersize=4.5)
    ax.set_yticks(range(n), [text(c["label"], 27) for c in reversed(claims)], fontsize=9)
    ax.set_ylim(-0.6, n - 0.4)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("long-run effect (latent standard units\nper standard unit of the cause)")
    plain_axes(ax, y=False)
    return to_svg(fig, salt=salt, alt="Forest plot of each claim's effect, prior against posterior")


# --- The causal graph --------------------------------------------------------------------------


def _arrowhead(ax, end: np.ndarray, tip: tuple[float, float], color: str, gid: str) -> None:
    """A filled triangle from the end of an arrow's path to its tip."""
    d = np.array(tip) - end
    length = float(np.hypot(*d))
    if length < 1e-6:
        return
    u = d / length
    n = np.array([-u[1], u[0]])
    half = max(3.2, 0.45 * length)
    pts = [tip, end + n * half, end - n * half]
    ax.add_patch(Polygon(pts, closed=True, facecolor=color, edgecolor=color, linewidth=0.5, zorder=3, gid=gid))


@styled
def causal_graph(*, nodes: dict[str, dict], claims: list[dict], highlight: dict[str, str] | None = None,
                 salt: str, engine: str = "auto") -> Markup:
    """The claims as arrows between the nodes' boxes, laid out by :mod:`forecast.report.graph`.

    Each arrow carries its claim's label; its colour is the sign of the posterior median
    effect (blue raises, vermilion dashed lowers) and its width the effect's size; a claim
    with competing hypotheses is a double line. Boxes are grey for levers, white for
    factors, white with a heavy border for outcomes; a dashed border marks a node no
    indicator measures; a black outline marks a lever the strategy sets.

    ``nodes``: id -> {"label", "role", "measured"}; ``claims``: {"cause", "effect", "label",
    "median", "hypotheses" (a count)}; ``highlight``: lever -> what the strategy sets.
    SVG ids (``node--ID``, ``edge--CAUSE--EFFECT--K``) let a test check the geometry.
    """
    highlight = highlight or {}
    claims = [c for c in claims if c["cause"] in nodes and c["effect"] in nodes]
    lay = graph.layout(nodes, claims, highlight, engine=engine)
    margin = 6.0
    W, H = lay.width + 2 * margin, lay.height + 2 * margin
    fig = Figure(figsize=(W / 72, H / 72))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(-margin, lay.width + margin)
    ax.set_ylim(-margin, lay.height + margin)
    for ar in lay.arrows:
        c = claims[ar.index]
        median = c.get("median") or 0.0
        color = RAISES if median >= 0 else LOWERS
        width = 1.0 + 3.0 * min(abs(median), 1.0)
        codes = [MplPath.MOVETO] + [MplPath.CURVE4] * (len(ar.path) - 1)
        gid = f"edge--{ar.cause}--{ar.effect}--{ar.index}"
        style = "-" if median >= 0 else (0, (4, 2))
        ax.add_patch(PathPatch(MplPath(ar.path, codes), fill=False, edgecolor=color, linewidth=width + (2.4 if c.get(
            "hypotheses") else 0), linestyle=style, capstyle="butt", zorder=2, gid=gid))
        if c.get("hypotheses"):  # a double line: the claim is a mixture of competing hypotheses
            ax.add_patch(PathPatch(MplPath(ar.path, codes), fill=False, edgecolor="white", linewidth=max(1.2, width - 0.6),
                                   capstyle="butt", zorder=2.1, gid=f"mixture--{ar.cause}--{ar.effect}--{ar.index}"))
        _arrowhead(ax, ar.path[-1], ar.tip, color, f"head--{ar.cause}--{ar.effect}--{ar.index}")
        lw, lh = lay.label_sizes.get(ar.index, (0, 0))
        ax.text(*ar.label_at, text("\n".join(ar.lines)), ha="center", va="center", fontsize=graph.EDGE_SIZE,
                color="#222222", linespacing=1.2, zorder=4,
                bbox={"boxstyle": "round,pad=0.12,rounding_size=0.2", "facecolor": "white", "edgecolor": "none",
                      "alpha": 0.9})
    for nid, b in lay.boxes.items():
        node = nodes[nid]
        lit = nid in highlight
        measured = node.get("measured", True)
        ax.add_patch(FancyBboxPatch(
            (b.x - b.w / 2, b.y - b.h / 2), b.w, b.h, boxstyle="round,pad=0,rounding_size=4",
            facecolor=ROLE_FILL.get(node["role"], "white"), edgecolor="#000000" if lit else "#333333",
            linewidth=3.2 if lit else ROLE_EDGE_WIDTH.get(node["role"], 1.0),
            linestyle="-" if measured else (0, (3, 2)), zorder=5, gid=f"node--{nid}"))
        top = b.y + b.h / 2 - graph.PAD
        ax.text(b.x, top, text(b.tag), ha="center", va="top", fontsize=graph.TAG_SIZE, fontweight="bold",
                color="#333333", zorder=6)
        ax.text(b.x, top - graph.TAG_SIZE * 1.25, text("\n".join(b.lines)), ha="center", va="top",
                fontsize=graph.LABEL_SIZE, linespacing=1.2, zorder=6)
    alt = "Causal graph of the scenario: " + "; ".join(
        f"{c['label']} ({nodes[c['cause']]['label']} to {nodes[c['effect']]['label']})" for c in claims)
    return to_svg(fig, salt=salt, alt=alt)


# --- What an answer hinges on ------------------------------------------------------------------

#: The tornado's two ends: the claim's effect at its low percentile (an open circle, Okabe-Ito
#: vermilion) and at its high one (a filled square, blue); shape tells them apart in greyscale.
AT_LOW, AT_HIGH = "#D55E00", "#0072B2"
TORNADO_BAR = "#C8C8C8"
#: How a tornado bar whose swing is within Monte Carlo error is drawn: pale.
PALE = 0.35


def _claim_label(label: str) -> str:
    """A claim's label on at most three lines, so that a bar's label never runs into the next."""
    lines = textwrap.wrap(text(label), 24, max_lines=3, placeholder=" \u2026")
    return "\n".join(lines) or " "


@styled
def tornado_chart(*, bars: list[dict], answer: float, strategy_label: str, question: str,
                  percentiles: tuple[str, str] = ("5th", "95th"), salt: str, lead: dict | None = None) -> Markup:
    """How far one question's answer under one strategy moves with each claim: per claim a bar
    from the probability of yes with the claim's effect at its low percentile (open circle) to
    that at its high one (filled square), the rest of the model as fitted; a vertical line at
    the answer with every claim as fitted. The widest bars are what the answer hinges on.

    With ``lead`` (``{"over": label, "sought": "yes" or "no"}``) the bars are instead the lead
    of the strategy over another in the probability of the answer sought, from -1 to 1, with a
    dashed line at 0: a bar that crosses it is a claim that decides which of the two is better.

    Each end carries a whisker of twice its Monte Carlo error; a bar whose swing is within
    Monte Carlo error (``clear`` false) is drawn pale, ends and all.

    ``bars`` are ``{"label", "at_low", "at_high"}`` in the order shown, top first, with
    optional ``mcse_low``, ``mcse_high`` and ``clear``.
    """
    n = len(bars)
    what = (f"P({lead['sought']}) under {strategy_label} minus under {lead['over']}" if lead else
            f"probability of yes under {strategy_label}")
    label = text(what, 34)
    lines = label.count("\n") + 1  # room below the axis for every line of its label
    fig, ax = frame(4.4, 0.5 * n + 0.66 + 0.17 * lines, left=1.9, right=0.3, top=0.3, bottom=0.28 + 0.17 * lines)
    for k, b in enumerate(bars):
        y = n - 1 - k
        alpha = 1.0 if b.get("clear", True) else PALE
        ax.plot([b["at_low"], b["at_high"]], [y, y], color=TORNADO_BAR, linewidth=8, solid_capstyle="butt", zorder=2,
                alpha=alpha)
        for end, colour in (("low", AT_LOW), ("high", AT_HIGH)):
            error = b.get(f"mcse_{end}")
            if error:
                ax.plot([b[f"at_{end}"] - 2 * error, b[f"at_{end}"] + 2 * error], [y, y], color=colour, linewidth=1.0,
                        zorder=3, alpha=alpha)
        ax.plot([b["at_low"]], [y], marker="o", markerfacecolor="white", markeredgecolor=AT_LOW, markeredgewidth=1.6,
                markersize=7, linestyle="none", zorder=4, alpha=alpha)
        ax.plot([b["at_high"]], [y], marker="s", color=AT_HIGH, markersize=6, linestyle="none", zorder=3, alpha=alpha)
    ax.axvline(answer, color=REFERENCE, linewidth=1.2, zorder=3)
    shown = (lambda v: f"{v:+.2f}") if lead else (lambda v: f"{v:.2f}")  # noqa: E731
    ax.annotate(shown(answer), xy=(answer, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 2),
                textcoords="offset points", ha="center", va="bottom", fontsize=9)
    values = [answer, *([0.0] if lead else [])] + [b[f"at_{end}"] + sign * 2 * (b.get(f"mcse_{end}") or 0.0)
                                                   for b in bars for end in ("low", "high") for sign in (-1, 1)]
    lo, hi = min(values), max(values)
    pad = max(0.1 * (hi - lo), 0.02)
    floor = -1.0 if lead else 0.0
    ax.set_xlim(max(floor, lo - pad), min(1.0, hi + pad))
    if lead:
        ax.axvline(0.0, color=REFERENCE, linewidth=0.9, linestyle=(0, (4, 3)), zorder=1)
    ax.set_yticks(range(n), [_claim_label(b["label"]) for b in reversed(bars)], fontsize=9)
    ax.set_ylim(-0.6, n - 0.4)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(label)
    plain_axes(ax, y=False)
    said = (f"lead of {strategy_label} over {lead['over']} in the probability of {lead['sought']}" if lead else what)
    alt = (f"Tornado chart for \u201c{question}\u201d: the {said} is {shown(answer)}; "
           + "; ".join(f"{b['label']}: {shown(b['at_low'])} with its effect at its {percentiles[0]} percentile, "
                       f"{shown(b['at_high'])} at its {percentiles[1]}"
                       + ("" if b.get("clear", True) else " (within Monte Carlo error)") for b in bars))
    return to_svg(fig, salt=salt, alt=alt)
