"""The report's figures, drawn from the default scenario's golden summary (no sampling): the
causal graph's geometry read back from its SVG, and tick labels a reader can read."""

from __future__ import annotations

import json
import re
import textwrap
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from forecast.report import context, graph
from forecast.report import figures as plots
from forecast.sensitivity.analysis import hinges_under

from .conftest import ROOT

GOLDEN = json.loads((ROOT / "tests" / "golden" / "article_summary.json").read_text(encoding="utf-8"))
SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(graph.dot_binary() is None, reason="needs Graphviz's dot (apt-get install graphviz)")


# --- Reading an SVG back ----------------------------------------------------------------------


def path_points(d: str, samples: int = 24) -> np.ndarray:
    """Points along an SVG path of absolute M, L, Q, C and Z commands (as matplotlib writes them)."""
    tokens = re.findall(r"[MLQCZz]|-?\d+(?:\.\d+)?(?:e-?\d+)?", d)
    points, cur, start, i = [], None, None, 0
    ts = np.linspace(0, 1, samples)[:, None]
    while i < len(tokens):
        cmd = tokens[i]
        i += 1
        need = {"M": 1, "L": 1, "Q": 2, "C": 3}.get(cmd, 0)
        pts = [np.array([float(tokens[i + 2 * k]), float(tokens[i + 2 * k + 1])]) for k in range(need)]
        i += 2 * need
        if cmd == "M":
            cur = start = pts[0]
            points.append(cur[None])
        elif cmd == "L":
            points.append(cur + ts * (pts[0] - cur))
            cur = pts[0]
        elif cmd == "Q":
            c, e = pts
            points.append((1 - ts) ** 2 * cur + 2 * (1 - ts) * ts * c + ts ** 2 * e)
            cur = e
        elif cmd == "C":
            c1, c2, e = pts
            points.append((1 - ts) ** 3 * cur + 3 * (1 - ts) ** 2 * ts * c1 + 3 * (1 - ts) * ts ** 2 * c2 + ts ** 3 * e)
            cur = e
        elif cmd in "Zz" and start is not None:
            cur = start
    return np.vstack(points)


def shapes(svg: str, prefix: str) -> dict[str, np.ndarray]:
    """Points of every path inside the groups whose id contains ``prefix--`` (id -> points)."""
    root = ET.fromstring(str(svg))
    out = {}
    for g in root.iter(f"{SVG}g"):
        gid = g.get("id", "")
        if f"{prefix}--" in gid:
            key = gid[gid.index(f"{prefix}--"):]
            out[key] = np.vstack([path_points(p.get("d", "")) for p in g.iter(f"{SVG}path")])
    return out


def texts(svg: str) -> list[str]:
    root = ET.fromstring(str(svg))
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def crossings(svg: str) -> list[tuple[str, str]]:
    """(edge, node) pairs where an edge's path enters a node box other than its own ends."""
    boxes = {k.split("--", 1)[1]: (pts.min(axis=0) + 1.0, pts.max(axis=0) - 1.0) for k, pts in shapes(svg, "node").items()}
    found = []
    for key, pts in shapes(svg, "edge").items():
        _, cause, effect, _ = key.split("--")
        for nid, (lo, hi) in boxes.items():
            if nid in (cause, effect):
                continue
            if np.any(np.all((pts > lo) & (pts < hi), axis=1)):
                found.append((key, nid))
    return found


# --- The causal graph ---------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["overview", "strategy"])
def graph_svg(request) -> str:
    """The default scenario's graph as the overview draws it, and as a strategy's page does."""
    strategy = context.strategy_list(GOLDEN)[-1] if request.param == "strategy" else None
    fig = context.graph_context(GOLDEN, request.param, strategy)["figure"]
    assert fig["error"] is None, fig["error"]
    return str(fig["svg"])


@needs_dot
def test_no_arrow_runs_through_a_box_other_than_its_own_ends(graph_svg):
    assert len(shapes(graph_svg, "edge")) == len(GOLDEN["claims"])
    assert len(shapes(graph_svg, "node")) == len(GOLDEN["nodes"])
    assert crossings(graph_svg) == []


def test_the_crossing_check_can_fail():
    """Control: a straight arrow drawn through a third box is caught."""
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><g id="x-node--a"><path d="M 0 0 L 10 0 L 10 10 L 0 10 Z"/></g>'
           '<g id="x-node--b"><path d="M 40 0 L 50 0 L 50 10 L 40 10 Z"/></g>'
           '<g id="x-node--c"><path d="M 80 0 L 90 0 L 90 10 L 80 10 Z"/></g>'
           '<g id="x-edge--a--c--0"><path d="M 10 5 C 30 5 60 5 80 5"/></g></svg>')
    assert crossings(svg) == [("edge--a--c--0", "b")]


@needs_dot
def test_parallel_claims_are_drawn_apart(graph_svg):
    edges = shapes(graph_svg, "edge")
    by_ends: dict[tuple[str, str], list[np.ndarray]] = {}
    for key, pts in edges.items():
        _, cause, effect, _ = key.split("--")
        by_ends.setdefault((cause, effect), []).append(pts)
    parallel = [v for v in by_ends.values() if len(v) > 1]
    assert parallel, "the default scenario has two claims from the partnership to the US position"
    for paths in parallel:
        mids = [p[len(p) // 2] for p in paths]
        gaps = [np.hypot(*(a - b)) for k, a in enumerate(mids) for b in mids[k + 1:]]
        assert min(gaps) > 10, gaps


@needs_dot
def test_every_arrow_carries_its_claims_label_and_mixtures_are_double_lines(graph_svg):
    shown = " ".join(texts(graph_svg))
    for c in GOLDEN["claims"].values():
        for line in textwrap.wrap(c["label"], graph.EDGE_WRAP):
            assert line.replace("'", "&#x27;") in shown or line in shown, line
    mixtures = {k.split("--")[1:3] and tuple(k.split("--")[1:3]) for k in shapes(graph_svg, "mixture")}
    expected = {(c["cause"], c["effect"]) for c in GOLDEN["claims"].values() if c.get("hypotheses")}
    assert mixtures == expected and expected


def test_colour_in_the_graph_means_the_sign_of_an_effect_only(graph_svg):
    """Boxes, their text and outlines are greys; the only hues are the two signs."""
    colours = {c.upper() for c in re.findall(r"#[0-9a-fA-F]{6}\b", graph_svg)}
    hues = {c for c in colours if len({c[1:3], c[3:5], c[5:7]}) > 1}
    assert hues <= {plots.RAISES, plots.LOWERS}, hues
    assert plots.LOWERS in hues and plots.RAISES in hues


def test_without_graphviz_the_graph_is_still_drawn_and_says_so(monkeypatch):
    monkeypatch.setattr(graph, "dot_binary", lambda: None)
    ctx = context.graph_context(GOLDEN, "nodot")
    assert ctx["engine"] == "layered" and "Graphviz" in ctx["note"]
    assert ctx["figure"]["error"] is None and "<svg" in str(ctx["figure"]["svg"])
    assert ctx["numbered"] == [c["label"] for c in GOLDEN["claims"].values()]  # the key to the numbered arrows


def test_unmeasured_nodes_are_marked_in_the_graph(graph_svg):
    measured = {i["node"] for i in GOLDEN["indicators"].values()}
    shown = texts(graph_svg)
    tags = [t for t in shown if t.isupper() or "no data" in t]
    assert sum("no data" in t for t in tags) == len(set(GOLDEN["nodes"]) - measured)


# --- Ticks -----------------------------------------------------------------------------------------


def test_log_ticks_are_plain_numbers_several_per_axis():
    assert plots.log_ticks(60, 250) == [60, 80, 100, 150, 200]
    assert plots.log_ticks(1.5, 120) == [2, 5, 10, 20, 50, 100]
    for lo, hi in ((0.02, 0.9), (3, 4), (80, 130), (1, 1e6)):
        ticks = plots.log_ticks(lo, hi)
        assert 3 <= len(ticks) <= 7 and all(lo <= t <= hi for t in ticks), (lo, hi, ticks)
    assert [plots.plain(v) for v in (100, 1500, 0.2, -3, 2e6)] == ["100", "1,500", "0.2", "\u22123", "2,000,000"]
    # a tester's log axis read "0" at 1e-11, and a data table 9.72842e+11
    assert [plots.plain(v) for v in (1e-11, 972842000000.4, 0.00012, 999999.5, 99999.5)] == [
        "1e\u221211", "972,842,000,000", "0.00012", "1,000,000", "99999.5"]


def test_year_ticks_run_through_the_horizon():
    assert plots.year_ticks(2012, 2029) == [2015, 2020, 2025, 2029]
    assert plots.year_ticks(2016, 2024) == [2016, 2018, 2020, 2022, 2024]
    assert plots.year_ticks(2012, 2026)[-1] == 2026
    for first, last in ((2000, 2010), (1990, 2050), (2020, 2022)):
        assert plots.year_ticks(first, last)[-1] == last


@pytest.mark.parametrize("iid", list(GOLDEN["indicators"]))
def test_evidence_charts_label_their_axes_in_plain_numbers(iid):
    """The log axes read 50, 100, 200 (never 2×10², and no lone unlabelled minor ticks), and
    the years run to the horizon."""
    s = GOLDEN
    svg = str(plots.evidence_chart(indicator=s["indicators"][iid], strategies=context.strategy_list(s),
                                   start_year=s["scenario"]["start_year"], banded="status_quo", salt=iid))
    labels = texts(svg)
    assert not any("\u00d7" in t or "10^" in t for t in labels), labels
    assert str(s["scenario"]["horizon"]) in labels
    if s["indicators"][iid]["transform"] == "log":
        numbers = [t for t in labels if re.fullmatch(r"[\d,.]+", t)]
        assert len(numbers) >= 3 + 4  # at least three on the log axis, besides the four years


def test_an_evidence_chart_never_draws_a_series_first_one_step_prediction():
    """A summary written before the first observation was left out holds its interval (US imports
    from Russia's 2020 read 0.0008 to 46,000): the chart leaves it out, so it cannot stretch the
    y-axis over eight decades; the same interval a year later does stretch it."""
    s = GOLDEN
    ind = s["indicators"]["us_imports_from_russia"]
    first = ind["observed"]["years"][0]
    assert first not in ind["one_step"]["years"] and ind["one_step"]["years"]

    def drawn(ahead: dict) -> list[str]:
        return texts(str(plots.evidence_chart(indicator={**ind, "one_step": ahead}, strategies=context.strategy_list(s),
                                              start_year=s["scenario"]["start_year"], banded="status_quo", salt="f")))

    def widened(year: int) -> dict:
        ahead = {k: list(v) if isinstance(v, list) else v for k, v in ind["one_step"].items()}
        if year not in ahead["years"]:
            for key, value in (("years", year), ("q05", 0.0008), ("q25", 0.1), ("q50", 5.9), ("q75", 300.0),
                               ("q95", 45650.0)):
                ahead[key].insert(0, value)
        else:
            i = ahead["years"].index(year)
            ahead["q05"][i], ahead["q95"][i] = 0.0008, 45650.0
        return ahead

    assert drawn(widened(first)) == drawn(ind["one_step"])
    assert drawn(widened(ind["one_step"]["years"][0])) != drawn(ind["one_step"])


def rotated_lines(svg: str) -> list[tuple[float, float, float, str]]:
    """The SVG's text turned a quarter (a y axis's label): (x, y, font size, line) of each line,
    whose baseline runs up from (x, y). matplotlib writes one line centred on its point, and
    each of several lines from its start."""
    out = []
    for t in ET.fromstring(svg).iter(f"{SVG}text"):
        style, transform, line = t.get("style", ""), t.get("transform", ""), "".join(t.itertext())
        size = float(re.search(r"font-size: ([\d.]+)px", style)[1])
        if m := re.fullmatch(r"translate\(([-\d.]+) ([-\d.]+)\) rotate\(-90\)", transform):
            out.append((float(m[1]), float(m[2]), size, line))
        elif re.fullmatch(r"rotate\(-90 [-\d.]+ [-\d.]+\)", transform):
            assert "text-anchor: middle" in style, style
            out.append((float(t.get("x")), float(t.get("y")) + measure(line, size)[0] / 2, size, line))
    return out


def upright_left_edges(svg: str) -> list[float]:
    """Where each right-aligned upright text (a y axis's tick label) begins, by the font's widths."""
    out = []
    for t in ET.fromstring(svg).iter(f"{SVG}text"):
        style = t.get("style", "")
        if "text-anchor: end" in style and t.get("transform", "").startswith("rotate(-0 "):
            size = float(re.search(r"font-size: ([\d.]+)px", style)[1])
            out.append(float(t.get("x")) - measure("".join(t.itertext()), size)[0])
    return out


def measure(line: str, size: float) -> tuple[float, float, float]:
    """A line's width, ascent and descent in points in the report's first font (DejaVu Sans)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    w, h, d = TextToPath().get_text_width_height_descent(line, FontProperties(family="DejaVu Sans", size=size), False)
    return w, h - d, d


@pytest.mark.parametrize("unit", ["%", "per 100,000", "packs per person", "thousand tonnes of CO2 equivalent per year",
                                  "W" * 34, "a unit someone wrote out as a whole sentence on how it was measured"])
@pytest.mark.parametrize("figure", ["evidence", "fan"])
def test_a_y_axis_label_lies_whole_inside_its_figure_beside_the_tick_labels(figure, unit):
    """A unit of ~15 characters or more wraps to two lines or three (an evidence chart adds ", log
    scale"): every line lies inside the SVG's viewBox (the first was cut off at its left edge),
    clear of the tick labels, and says the unit whole when it fits in three lines."""
    s = GOLDEN
    if figure == "evidence":
        indicator = {**s["indicators"]["china_russia_trade"], "unit": unit}  # a log axis
        svg = str(plots.evidence_chart(indicator=indicator, strategies=context.strategy_list(s),
                                       start_year=s["scenario"]["start_year"], banded="status_quo", salt="u"))
        label = f"{unit}, log scale"
    else:
        node = {**s["trajectories"]["partnership"], "unit": unit}
        svg = str(plots.fan_panel(node=node, strategy=context.strategy_list(s)[1], start_year=2025,
                                  ylim=(0, 100), salt="u"))
        label = unit
    _, _, width, height = (float(v) for v in re.search(r'viewBox="([^"]+)"', svg)[1].split())
    lines = rotated_lines(svg)
    assert lines, svg
    ticks = upright_left_edges(svg)
    for x, y, size, line in lines:
        long, ascent, descent = measure(line, size)
        assert x - ascent >= 0 and y - long >= 0 and y + descent <= height, (line, x, y)
        assert x + descent <= min(ticks), (line, x, min(ticks))
    words = " ".join(line for *_, line in lines)
    if words.endswith(" \u2026"):  # cut short: only a label longer than three lines can hold
        assert len(label) > 60 and label.startswith(words[:-2]), words
    else:  # a word longer than a line is broken across lines
        assert words == label or words.replace(" ", "") == label.replace(" ", ""), words
    if len(label) <= 12:
        assert len(lines) == 1


@pytest.mark.parametrize("name", ["fan", "graph", "tornado"])
def test_figures_keep_their_text_readable_when_shrunk(name):
    """A figure's minimum width keeps its smallest text at 10 CSS pixels (an SVG point is
    4/3 pixel at its own size, so text of f points at width w shows at f * w / width_pt px)."""
    s = GOLDEN
    if name == "fan":
        svg = str(plots.fan_panel(node=s["trajectories"]["partnership"], strategy=context.strategy_list(s)[1],
                                  start_year=2025, ylim=(0, 100), salt="t"))
    elif name == "tornado":  # the question with the most claims, their labels wrapped
        svg = str(max(context.hinges_context(s, context.strategy_list(s))["questions"],
                      key=lambda q: len(q["bars"]))["figure"]["svg"])
    else:
        svg = str(context.graph_context(s, "readable")["figure"]["svg"])
    width_pt = float(re.search(r'width="([\d.]+)pt"', svg)[1])
    least = float(re.search(r"min-width: (\d+)px", svg)[1])
    smallest = min(float(x) for x in re.findall(r"font-size: ([\d.]+)px", svg))
    assert smallest >= 8.5
    assert smallest * least / width_pt >= 9.9
    if name in ("fan", "tornado"):  # small enough to fit a phone (390 px less the page's margins) at that size
        assert least <= 360


# --- Tornado charts ----------------------------------------------------------------------------------


def test_the_default_scenario_s_tornadoes_draw_its_top_claims_and_name_the_rest():
    """At most six bars, the summary's numbers ranked under the strategy shown (clear swings
    first), every label drawn and the answer written over its line; the alt text gives the
    numbers to a screen reader."""
    s = GOLDEN
    h = context.hinges_context(s, context.strategy_list(s))
    assert [q["id"] for q in h["questions"]] == [q["id"] for q in s["questions"]]
    for q in h["questions"]:
        entry = s["sensitivity"]["questions"][q["id"]]
        best = entry["decision"]["best"]
        assert [b["claim"] for b in q["bars"]] == hinges_under(entry, best)[:context.MAX_TORNADO]
        assert sorted(hinges_under(entry, best)) == sorted(
            c for c in entry["ranking"] if entry["claims"][c]["on_path"])
        assert len(q["left_out"]) == max(0, len(entry["ranking"]) - context.MAX_TORNADO)
        svg = str(q["figure"]["svg"])
        drawn = " ".join(texts(svg)).replace("\n", " ")
        assert f"{entry['posterior'][best]:.2f}" in texts(svg)
        for b in q["bars"]:
            assert b["label"].split()[0] in drawn
            assert f"{b['at_low']:.2f} with its effect at its 5th percentile" in svg.replace("&#x27;", "'")
    assert any(q["left_out"] for q in h["questions"]), "the US-position question has more than six claims"
