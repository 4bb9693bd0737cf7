"""Where the causal graph's boxes and arrows go: Graphviz's ``dot`` when it is installed, a
simpler layered layout otherwise.

``dot`` (Sugiyama-style layering, then splines routed around the boxes) keeps every arrow out
of the boxes other than its own ends, draws parallel claims apart and places each arrow's
label beside it. Every size is measured here (with matplotlib's own font metrics) and handed
to ``dot`` as fixed, so the layout fits the text exactly as it is drawn, whatever fonts the
machine's Graphviz would use. Without ``dot`` (``apt-get install graphviz``; scripts/setup
installs it) the layered layout below is used: arrows bend around boxes where they can, and
the report says that the graph is drawn without a layout engine.

Coordinates are points (1/72 inch), y upwards, as ``dot`` gives them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from dataclasses import dataclass, field
from functools import cache

import numpy as np

#: Font sizes (points) of a box's role tag, its label, and an arrow's label.
TAG_SIZE, LABEL_SIZE, EDGE_SIZE = 8.5, 9.5, 9.0
#: Characters per line of a box's label and of an arrow's label.
LABEL_WRAP, EDGE_WRAP = 20, 24
PAD = 5.0  # points of room around the text in a box

NO_ENGINE = ("Graphviz's dot is not installed, so this graph is drawn with a simple layered layout: arrows "
             "may cross boxes or each other, and carry the claim's number in the list below instead of its "
             "label. Install Graphviz (apt-get install graphviz; scripts/setup does it) and re-render with "
             "forecast report RUN_DIR.")


@dataclass(frozen=True)
class Box:
    """A node's box: centre and size (points), its text as drawn (lines)."""

    id: str
    x: float
    y: float
    w: float
    h: float
    tag: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Arrow:
    """A claim's arrow: a cubic Bezier path (points p0, c1, c2, p1, c1, c2, p2, ...), the tip
    of its arrowhead, and where its label's centre goes."""

    index: int  # the claim's position in the input
    cause: str
    effect: str
    path: np.ndarray
    tip: tuple[float, float]
    label_at: tuple[float, float]
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Layout:
    boxes: dict[str, Box]
    arrows: list[Arrow]
    width: float
    height: float
    engine: str  # "dot" or "layered"
    note: str = ""
    label_sizes: dict[int, tuple[float, float]] = field(default_factory=dict)


# --- Text measurement -------------------------------------------------------------------------


@cache
def _font():
    from matplotlib.font_manager import FontProperties

    return FontProperties(family=["DejaVu Sans"])


def text_size(lines: tuple[str, ...], size: float, *, bold: bool = False) -> tuple[float, float]:
    """Width and height (points) of lines of text as matplotlib draws them (line spacing 1.2)."""
    from matplotlib.textpath import TextToPath

    font = _font().copy()
    font.set_size(size)
    font.set_weight("bold" if bold else "normal")
    ttp = TextToPath()
    widths = [ttp.get_text_width_height_descent(line.replace("$", r"\$"), font, ismath=False)[0] for line in lines]
    return max(widths, default=0.0), size * 1.2 * len(lines)


def wrap(text: str, width: int) -> tuple[str, ...]:
    return tuple(textwrap.wrap(str(text), width)) or ("",)


def box_text(node: dict, note: str) -> tuple[str, tuple[str, ...]]:
    """A box's tag line (its role, and what a strategy sets) and its label's lines."""
    tag = node["role"].upper() + (f": {note}" if note else "") + ("" if node.get("measured", True) else " \u00b7 no data")
    return tag, wrap(node["label"], LABEL_WRAP)


def box_size(tag: str, lines: tuple[str, ...]) -> tuple[float, float]:
    tw, th = text_size((tag,), TAG_SIZE, bold=True)
    lw, lh = text_size(lines, LABEL_SIZE)
    return max(tw, lw) + 2 * PAD + 4, th + lh + 2 * PAD


# --- Graphviz ---------------------------------------------------------------------------------


def dot_binary() -> str | None:
    """The ``dot`` executable, if installed."""
    return shutil.which("dot")


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot_source(nodes: dict[str, dict], claims: list[dict], sizes: dict[str, tuple[float, float]],
               label_sizes: dict[int, tuple[float, float]]) -> str:
    """The graph in the DOT language, every size fixed (inches for boxes, points for labels).

    Labels are fixed-size empty tables: ``dot`` reserves exactly the room the text takes
    when drawn, and never sees the text (nothing from the scenario reaches its parser
    but ids, which are letters, digits and underscores)."""
    ids = {nid: f"n{i}" for i, nid in enumerate(nodes)}
    lines = ["digraph causal {",
             "  graph [rankdir=LR, nodesep=0.3, ranksep=0.55, splines=true, newrank=true, pad=0.1];",
             "  node [shape=box, fixedsize=true, label=\"\"];",
             "  edge [arrowsize=0.8];"]
    for nid, (w, h) in sizes.items():
        lines.append(f"  {ids[nid]} [width={w / 72:.4f}, height={h / 72:.4f}];")
    levers = [ids[n] for n, v in nodes.items() if v["role"] == "lever"]
    if levers:
        lines.append("  { rank=min; " + "; ".join(levers) + "; }")
    for i, c in enumerate(claims):
        w, h = label_sizes[i]
        table = (f'<<TABLE BORDER="0" CELLBORDER="0" CELLPADDING="0" CELLSPACING="0" FIXEDSIZE="TRUE" '
                 f'WIDTH="{w:.0f}" HEIGHT="{h:.0f}"><TR><TD></TD></TR></TABLE>>')
        lines.append(f"  {ids[c['cause']]} -> {ids[c['effect']]} [label={table}, id={_quote(str(i))}];")
    lines.append("}")
    return "\n".join(lines)


def _points(text: str) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in p.split(",")) for p in text.split()]  # type: ignore[misc]


def dot_layout(nodes: dict[str, dict], claims: list[dict], texts: dict[str, tuple[str, tuple[str, ...]]],
               labels: list[tuple[str, ...]], binary: str) -> Layout:
    """Run ``dot`` on the graph and read its layout (JSON output)."""
    sizes = {nid: box_size(*texts[nid]) for nid in nodes}
    label_sizes = {i: tuple(v + 4 for v in text_size(lines, EDGE_SIZE)) for i, lines in enumerate(labels)}
    src = dot_source(nodes, claims, sizes, label_sizes)  # type: ignore[arg-type]
    done = subprocess.run([binary, "-Tjson0"], input=src, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.strip()[:300]}")
    out = json.loads(done.stdout)
    x0, y0, x1, y1 = (float(v) for v in out["bb"].split(","))
    names = {f"n{i}": nid for i, nid in enumerate(nodes)}
    boxes = {}
    for obj in out.get("objects", []):
        nid = names.get(obj.get("name"))
        if nid is None:
            continue
        x, y = (float(v) for v in obj["pos"].split(","))
        w, h = sizes[nid]
        boxes[nid] = Box(nid, x, y, w, h, texts[nid][0], texts[nid][1])
    arrows = []
    for e in out.get("edges", []):
        i = int(e["id"])
        c = claims[i]
        parts = e["pos"].split()
        tip = None
        rest = []
        for p in parts:
            if p.startswith("e,"):
                tip = tuple(float(v) for v in p[2:].split(","))
            elif p.startswith("s,"):
                continue  # no arrowhead at the start
            else:
                rest.append(p)
        path = np.array(_points(" ".join(rest)))
        lx, ly = (float(v) for v in e["lp"].split(","))
        arrows.append(Arrow(i, c["cause"], c["effect"], path, tip or tuple(path[-1]), (lx, ly), labels[i]))
    arrows.sort(key=lambda a: a.index)
    return Layout(boxes, arrows, x1 - x0, y1 - y0, "dot", label_sizes=label_sizes)  # type: ignore[arg-type]


# --- The layered layout (no Graphviz) ---------------------------------------------------------

_ROLE_ORDER = ("lever", "factor", "outcome")


def layered_positions(nodes: dict[str, dict], edges: list[tuple[str, str]]) -> dict[str, tuple[float, float]]:
    """Columns by role (levers, factors, outcomes), split further so that within a role an
    effect sits right of its cause; rows ordered by the mean row of each node's causes.
    Cycles (possible through lagged claims) are cut by bounding the relaxation."""
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
    """Where the ray from a box's centre towards a point leaves the box (w x h)."""
    dx, dy = towards[0] - centre[0], towards[1] - centre[1]
    if dx == 0 and dy == 0:
        return centre
    t = min((w / 2) / abs(dx) if dx else float("inf"), (h / 2) / abs(dy) if dy else float("inf"))
    return centre[0] + t * dx, centre[1] + t * dy


def _control(p: tuple[float, float], q: tuple[float, float], rad: float) -> tuple[float, float]:
    """The control point of a quadratic bow from p to q (``rad``: its bend, as matplotlib's arc3)."""
    dx, dy = q[0] - p[0], q[1] - p[1]
    return (p[0] + q[0]) / 2 + rad * dy, (p[1] + q[1]) / 2 - rad * dx


def _crossings(p, q, rad: float, others: list[tuple[float, float, float, float]]) -> int:
    """How many of the ``others`` boxes (x, y, half width, half height) the bow p -> q enters."""
    if not others:
        return 0
    c = _control(p, q, rad)
    ts = np.linspace(0.05, 0.95, 37)[:, None]
    pts = (1 - ts) ** 2 * np.array(p) + 2 * (1 - ts) * ts * np.array(c) + ts ** 2 * np.array(q)
    boxes = np.asarray(others, dtype=float)
    inside = ((np.abs(pts[:, None, 0] - boxes[None, :, 0]) < boxes[None, :, 2])
              & (np.abs(pts[:, None, 1] - boxes[None, :, 1]) < boxes[None, :, 3]))
    return int(inside.any(axis=0).sum())


def layered_layout(nodes: dict[str, dict], claims: list[dict], texts: dict[str, tuple[str, tuple[str, ...]]],
                   labels: list[tuple[str, ...]]) -> Layout:
    """Columns by role, arrows as bows that avoid other boxes where they can."""
    pos = layered_positions(nodes, [(c["cause"], c["effect"]) for c in claims])
    sizes = {nid: box_size(*texts[nid]) for nid in nodes}
    bw = max(w for w, _ in sizes.values())
    bh = max(h for _, h in sizes.values())
    sx, sy = bw + 120.0, bh + 50.0  # points per column and per row
    centre = {n: (x * sx, y * sy) for n, (x, y) in pos.items()}
    boxes = {n: Box(n, *centre[n], *sizes[n], *texts[n]) for n in nodes}
    arrows, taken = [], {}
    for i, c in enumerate(claims):
        a, b = centre[c["cause"]], centre[c["effect"]]
        others = [(bx.x, bx.y, bx.w / 2 + 4, bx.h / 2 + 4) for n, bx in boxes.items() if n not in (c["cause"], c["effect"])]
        used = taken.setdefault(frozenset((c["cause"], c["effect"])), set())
        length = float(np.hypot(b[0] - a[0], b[1] - a[1])) or 1.0
        best = None
        for bow in (0.0, 16, -16, 30, -30, 45, -45, 62, -62, 80, -80, 100, -100, 130, -130):
            rad = round(2 * bow / length, 4)
            if rad in used:
                continue
            hits = _crossings(a, b, rad, others)
            if best is None or hits < best[0]:
                best = (hits, rad)
            if hits == 0:
                break
        rad = best[1] if best else 0.5
        used.add(rad)
        ctrl = _control(a, b, rad)
        p0 = _box_edge(a, ctrl, boxes[c["cause"]].w + 4, boxes[c["cause"]].h + 4)
        p1 = _box_edge(b, ctrl, boxes[c["effect"]].w + 8, boxes[c["effect"]].h + 8)
        tip = _box_edge(b, ctrl, boxes[c["effect"]].w, boxes[c["effect"]].h)
        q = np.array(ctrl)
        path = np.array([p0, np.array(p0) + 2 / 3 * (q - p0), np.array(p1) + 2 / 3 * (q - p1), p1])
        mid = 0.25 * np.array(p0) + 0.5 * q + 0.25 * np.array(p1)
        arrows.append(Arrow(i, c["cause"], c["effect"], path, tip, (float(mid[0]), float(mid[1])), labels[i]))
    xs = [v for bx in boxes.values() for v in (bx.x - bx.w / 2, bx.x + bx.w / 2)] + [p[0] for ar in arrows for p in ar.path]
    ys = [v for bx in boxes.values() for v in (bx.y - bx.h / 2, bx.y + bx.h / 2)] + [p[1] for ar in arrows for p in ar.path]
    dx, dy = min(xs) - 20, min(ys) - 20
    boxes = {n: Box(n, bx.x - dx, bx.y - dy, bx.w, bx.h, bx.tag, bx.lines) for n, bx in boxes.items()}
    arrows = [Arrow(ar.index, ar.cause, ar.effect, ar.path - [dx, dy], (ar.tip[0] - dx, ar.tip[1] - dy),
                    (ar.label_at[0] - dx, ar.label_at[1] - dy), ar.lines) for ar in arrows]
    label_sizes = {i: tuple(v + 4 for v in text_size(lines, EDGE_SIZE)) for i, lines in enumerate(labels)}
    return Layout(boxes, arrows, max(xs) - dx + 20, max(ys) - dy + 20, "layered", NO_ENGINE,
                  label_sizes=label_sizes)  # type: ignore[arg-type]


# --- The layout of a graph ---------------------------------------------------------------------


def edge_label(claim: dict) -> tuple[str, ...]:
    """An arrow's label: the claim's own words, with its competing hypotheses counted."""
    text = claim["label"]
    if claim.get("hypotheses"):
        text += f" [{claim['hypotheses']} competing hypotheses]"
    return wrap(text, EDGE_WRAP)


def layout(nodes: dict[str, dict], claims: list[dict], highlight: dict[str, str] | None = None,
           *, engine: str | None = "auto") -> Layout:
    """Where everything goes. ``nodes``: id -> {"label", "role", "measured"}; ``claims``:
    {"cause", "effect", "label", "hypotheses" (how many, 0 for none)}, between known nodes;
    ``highlight``: lever ->
    what a strategy sets it to. ``engine="layered"`` forces the layout without Graphviz."""
    highlight = highlight or {}
    texts = {nid: box_text(n, highlight.get(nid, "")) for nid, n in nodes.items()}
    binary = dot_binary() if engine == "auto" else None
    if binary:
        return dot_layout(nodes, claims, texts, [edge_label(c) for c in claims], binary)
    # without dot, labels would pile up: each arrow carries its claim's number instead
    return layered_layout(nodes, claims, texts, [(str(i + 1),) for i in range(len(claims))])
