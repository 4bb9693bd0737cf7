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
from markupsafe import Markup, escape
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

#: Okabe-Ito, black first for the baseline-free case and dark colours before light ones.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2)), (0, (3, 2, 1, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HISTORY = "#595959"
POSITIVE, NEGATIVE = "#0072B2", "#D55E00"
HIGHLIGHT = "#E69F00"

RC = {
    "svg.fonttype": "none",  # text stays text: small files, selectable, escaped by matplotlib
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
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(alt)}" ', 1)
    return Markup(svg.strip())


def figure(width: float, height: float) -> Figure:
    """A new figure with the report's style (call inside :func:`styled`)."""
    return Figure(figsize=(width, height), layout="constrained")


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


def _pick(stats: dict, key: str, idx: list[int]) -> list[float]:
    values = stats[key]
    return [float("nan") if values[i] is None else values[i] for i in idx]


def _fan(ax, years: Sequence[int], stats: dict, idx: list[int], *, color: str, linestyle: Any, marker: str | None,
         label: str, bands: bool = True, alpha: float = 1.0) -> None:
    """Median line with 50% (q25-q75) and 90% (q05-q95) bands over the years ``idx``."""
    xs = [years[i] for i in idx]
    if bands:
        ax.fill_between(xs, _pick(stats, "q05", idx), _pick(stats, "q95", idx), color=color, alpha=0.10 * alpha,
                        linewidth=0)
        ax.fill_between(xs, _pick(stats, "q25", idx), _pick(stats, "q75", idx), color=color, alpha=0.22 * alpha,
                        linewidth=0)
        for key in ("q05", "q95"):
            ax.plot(xs, _pick(stats, key, idx), color=color, linestyle=linestyle, linewidth=0.6, alpha=0.7 * alpha)
    ax.plot(xs, _pick(stats, "median", idx), color=color, linestyle=linestyle, marker=marker, markersize=4,
            linewidth=1.8, label=label)


def _mark_start(ax, start_year: int, first_year: int) -> None:
    """Shade the history and draw a line where strategies start acting."""
    ax.axvspan(first_year - 0.5, start_year - 0.5, color="#f2f2f2", zorder=0, linewidth=0)
    ax.axvline(start_year - 0.5, color="#444444", linewidth=0.9, linestyle=(0, (2, 2)))
    ax.annotate(f"strategies act from {start_year}", xy=(start_year - 0.5, 1.0), xycoords=("data", "axes fraction"),
                xytext=(3, -3), textcoords="offset points", ha="left", va="top", fontsize=7.5, color="#444444")


def _legend_below(fig: Figure, ax, ncol: int = 3) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(ncol, len(handles)), fontsize=8)


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
        _fan(ax, years, node["by_strategy"][s["id"]], fut, label=s["label"], alpha=1.0 if single else 0.7, **style)
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
    fig = figure(6.4 * ncols, 3.1 * nrows + 0.5)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, node in zip(axes, nodes):
        _fan_panel(ax, node, strategies, start_year, reference)
    for ax in axes[len(nodes):]:
        ax.set_visible(False)
    _legend_below(fig, axes[0], ncol=4)
    names = ", ".join(f"{n['label']} ({n['unit']})" for n in nodes)
    alt = f"Fan charts of {names}: median with 50% and 90% bands, history then " \
          f"{', '.join(s['label'] for s in strategies)}"
    return to_svg(fig, salt=salt, alt=alt)


def _contrast_panel(ax, contrast: dict, rows: list[dict], baseline_label: str, with_labels: bool) -> None:
    year = contrast["years"][-1]
    ax.axvline(0, color="black", linewidth=0.9)
    for k, r in enumerate(rows):
        y = len(rows) - 1 - k
        style = strategy_style(r["index"])
        ax.plot([r["q05"], r["q95"]], [y, y], color=style["color"], linewidth=1.4, solid_capstyle="butt")
        ax.plot([r["q25"], r["q75"]], [y, y], color=style["color"], linewidth=5, solid_capstyle="butt")
        ax.plot([r["median"]], [y], marker=style["marker"], color="white", markeredgecolor=style["color"],
                markeredgewidth=1.6, markersize=7, linestyle="none")
    ax.set_yticks(range(len(rows)), [text(r["label"], 28) for r in reversed(rows)] if with_labels else [])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.grid(axis="y", visible=False)
    ax.set_title(text(contrast["label"], 70), loc="left")
    ax.set_xlabel(text(f"difference from {baseline_label} in {year} ({contrast['unit'] or 'value'})", 80))
    if contrast["desirable"] in ("higher", "lower"):
        higher = contrast["desirable"] == "higher"
        ax.annotate("better \u2192" if higher else "\u2190 better", xy=(1.0 if higher else 0.0, 1.0),
                    xycoords="axes fraction", xytext=(0, 2), textcoords="offset points",
                    ha="right" if higher else "left", va="bottom", fontsize=8, color="#444444")


@styled
def contrast_chart(*, panels: list[dict], baseline_label: str, salt: str) -> Markup:
    """Strategy minus baseline in the final forecast year: one panel per outcome (each in its
    own units), one interval per strategy.

    ``panels`` are ``{"contrast": <summary contrasts entry>, "rows": [...]}``; rows are
    ``{"label", "index", "q05", "q25", "median", "q75", "q95"}`` in the order shown.
    """
    heights = [0.5 * len(p["rows"]) + 0.9 for p in panels]
    fig = figure(6.4, sum(heights) + 0.5)
    axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights).ravel()
    for ax, p in zip(axes, panels):
        _contrast_panel(ax, p["contrast"], p["rows"], baseline_label, with_labels=True)
    handles = [Line2D([], [], color="#444444", linewidth=1.4, label="90% interval"),
               Line2D([], [], color="#444444", linewidth=5, label="50% interval"),
               Line2D([], [], color="#444444", marker="o", markerfacecolor="white", linestyle="none", label="median")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8)
    alt = f"Difference from {baseline_label} in the final year: " + ", ".join(p["contrast"]["label"] for p in panels)
    return to_svg(fig, salt=salt, alt=alt)


@styled
def evidence_chart(*, indicator: dict, strategies: list[dict], start_year: int, salt: str) -> Markup:
    """Observed values against the posterior predictive band, then the forecast per strategy."""
    hist = indicator["history"]
    fc = indicator["forecast"]
    years = list(hist["years"]) + list(fc["years"])
    fig = figure(6.4, 3.5)
    ax = fig.add_subplot()
    _mark_start(ax, start_year, years[0])
    hidx = list(range(len(hist["years"])))
    _fan(ax, hist["years"], hist, hidx, color=HISTORY, linestyle="-", marker=None, label="posterior predictive")
    for s in strategies:
        per = fc["by_strategy"][s["id"]]
        stats = {k: [hist[k][-1]] + list(per[k]) for k in ("median", "q05", "q25", "q75", "q95")} if hidx else per
        xs = ([hist["years"][-1]] if hidx else []) + list(fc["years"])
        _fan(ax, xs, stats, list(range(len(xs))), label=s["label"], alpha=0.7 if len(strategies) > 1 else 1.0,
             **strategy_style(s["index"]))
    obs = indicator["observed"]
    ax.plot(obs["years"], obs["values"], linestyle="none", marker="o", markersize=5, markerfacecolor="black",
            markeredgecolor="white", markeredgewidth=0.8, color="black", label="observed", zorder=5)
    ax.set_title(text(indicator["label"], 70), loc="left")
    ax.set_xlabel("year")
    ax.set_ylabel(text(indicator["unit"] or "value", 30))
    ax.set_xlim(years[0] - 0.5, years[-1] + 0.5)
    _legend_below(fig, ax)
    alt = f"Observed {indicator['label']} ({indicator['unit']}) against the model's predictive band and forecasts"
    return to_svg(fig, salt=salt, alt=alt)


@styled
def claims_chart(*, claims: list[dict], salt: str) -> Markup:
    """Prior vs posterior of every claim's effect: a forest plot, prior above posterior."""
    n = len(claims)
    fig = figure(7.2, 0.62 * n + 1.4)
    ax = fig.add_subplot()
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
    ax.set_yticks(range(n), [text(c["label"], 38) for c in reversed(claims)], fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("effect of cause on effect node (latent standard units; long run, per unit of the cause)")
    ax.set_title("Claims: prior (grey, above) and posterior (blue, below)", loc="left")
    handles = [Line2D([], [], color="#888888", marker="o", markerfacecolor="white", label="prior: median, 90% interval"),
               Line2D([], [], color=POSITIVE, marker="s", label="posterior: median, 90% interval"),
               Line2D([], [], color=POSITIVE, linewidth=4.5, label="posterior 50% interval")]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8)
    return to_svg(fig, salt=salt, alt="Forest plot of each claim's effect, prior against posterior")


# --- The causal graph --------------------------------------------------------------------------

_ROLE_ORDER = ("lever", "factor", "outcome")
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


@styled
def causal_graph(*, nodes: dict[str, dict], claims: list[dict], highlight: dict[str, str] | None = None,
                 salt: str) -> Markup:
    """Nodes in layers (levers left, outcomes right), one arrow per claim.

    Arrow colour and dash show the sign of the posterior median effect, width its size.
    ``highlight`` maps the levers a strategy sets to a short note ("set to 75").
    """
    highlight = highlight or {}
    edges = [(c["cause"], c["effect"]) for c in claims]
    pos = graph_layout(nodes, edges)
    ncol = int(max(x for x, _ in pos.values())) + 1
    nrow = max(sum(1 for x, _ in pos.values() if x == col) for col in range(ncol))
    fig = Figure(figsize=(max(6.0, 2.3 * ncol), max(3.0, 1.05 * nrow + 1.2)), layout="constrained")
    ax = fig.add_subplot()
    ax.set_axis_off()
    w, h = 0.8, 0.62
    boxes = {}
    for nid, (x, y) in pos.items():
        node = nodes[nid]
        lit = nid in highlight
        box = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.06",
                             facecolor=_ROLE_FILL.get(node["role"], "white"),
                             edgecolor=HIGHLIGHT if lit else "#333333", linewidth=3.2 if lit else 1.0,
                             linestyle="-" if node["role"] != "factor" else (0, (3, 1.5)), zorder=3)
        ax.add_patch(box)
        boxes[nid] = box
        tag = node["role"].upper() + (f" \u2013 {highlight[nid]}" if lit else "")
        ax.text(x, y + h / 2 - 0.07, text(tag), ha="center", va="top", fontsize=6.5, color="#333333",
                fontweight="bold", zorder=4)
        ax.text(x, y - 0.06, text(node["label"], 22), ha="center", va="center", fontsize=8, zorder=4,
                linespacing=1.1)
    seen: dict[tuple[str, str], int] = {}
    for c in claims:
        a, b = c["cause"], c["effect"]
        if a not in pos or b not in pos:
            continue
        k = seen.get((a, b), 0)
        seen[(a, b)] = k + 1
        if pos[a][0] >= pos[b][0]:  # a back edge (a lagged loop): bow it out of the way
            rad = 0.45 + 0.1 * k
        else:  # parallel claims between the same nodes fan out alternately
            rad = 0.2 * ((k + 1) // 2) * (1 if k % 2 else -1)
        median = c.get("median") or 0.0
        positive = median >= 0
        arrow = FancyArrowPatch(
            pos[a], pos[b], patchA=boxes[a], patchB=boxes[b], shrinkA=2, shrinkB=4,
            connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>", mutation_scale=12,
            color=POSITIVE if positive else NEGATIVE, linestyle="-" if positive else (0, (4, 2)),
            linewidth=0.8 + 3.2 * min(abs(median), 1.0), alpha=0.9, zorder=2,
        )
        ax.add_patch(arrow)
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.set_xlim(min(xs) - 0.55, max(xs) + 0.55)
    ax.set_ylim(min(ys) - 0.55, max(ys) + 0.55)
    handles = [Line2D([], [], color=POSITIVE, linewidth=2, label="raises (posterior median > 0)"),
               Line2D([], [], color=NEGATIVE, linewidth=2, linestyle=(0, (4, 2)), label="lowers (posterior median < 0)"),
               Line2D([], [], color="#777777", linewidth=4, label="thicker = larger |median|"),
               Patch(facecolor=_ROLE_FILL["lever"], edgecolor="#333333", label="lever (set by strategies)"),
               Patch(facecolor=_ROLE_FILL["outcome"], edgecolor="#333333", label="outcome")]
    if highlight:
        handles.append(Patch(facecolor="white", edgecolor=HIGHLIGHT, linewidth=3, label="lever this strategy sets"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8)
    alt = "Causal graph of the scenario: " + "; ".join(
        f"{nodes[c['cause']]['label']} to {nodes[c['effect']]['label']}" for c in claims if c["cause"] in nodes
        and c["effect"] in nodes)
    return to_svg(fig, salt=salt, alt=alt)
