"""What each page of the report shows: plain dicts from ``summary.json`` and the manifest.

Every number shown comes from the summary, formatted here, never recomputed; the templates
only loop and branch. Figures are listed with :func:`forecast.report.drawing.figure` and
drawn together later.

The overview (index.html) holds everything that is the same for every strategy: the
summary, the answers side by side, the claims, the evidence, the diagnostics and the
provenance. A strategy's page holds what is its own (its answers, its contrasts with the
baseline, every node's trajectory under it, the graph with its levers marked) and links to
the overview for the rest.
"""

from __future__ import annotations

import math
import os
import shlex
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

from markupsafe import Markup

from forecast.forecasts.questions import CLEAR_AT, as_recorded
from forecast.report import answers, graph
from forecast.report import figures as plots
from forecast.report.downloads import ANSWERS_CSV, SUMMARY_JSON
from forecast.report.drawing import figure
from forecast.report.formatting import (
    apart,
    decimals,
    fmt,
    fmt_interval,
    links,
    plain,
    quantity,
    safe_url,
    signed,
)
from forecast.results.store import Run, code_version, setting_shown
from forecast.sensitivity.analysis import clear_under, hinge_strategy, hinges_under, prior_sensitive

INDEX = "index.html"
GENERATOR = "forecast report"  # marks a directory this module wrote, so replace=True never deletes anything else
OVERVIEW_SECTIONS = (
    ("summary", "Summary"),
    ("quality", "Forecast quality"),
    ("strategies", "Strategies"),
    ("headline", "Answers"),
    ("contrasts", "Strategy contrasts"),
    ("hinges", "What each answer hinges on"),
    ("trajectories", "Trajectories"),
    ("graph", "Causal graph"),
    ("claims", "Claims"),
    ("evidence", "Evidence fit"),
    ("diagnostics", "Diagnostics"),
    ("provenance", "Provenance"),
)
STRATEGY_SECTIONS = (
    ("headline", "Answers"),
    ("contrasts", "Against the baseline"),
    ("trajectories", "Trajectories"),
    ("graph", "Causal graph"),
)
#: Sections that are the same for every strategy: on a strategy's page, links to the overview.
SHARED_SECTIONS = (("claims", "Claims"), ("evidence", "Evidence fit"), ("diagnostics", "Diagnostics"),
                   ("provenance", "Provenance"))
VERDICTS = {
    "ok": ("OK", "The sampler explored the posterior reliably (R-hat, effective sample sizes and divergences "
                 "are clean): the numbers are what the model implies, up to their Monte Carlo error."),
    "warn": ("Warning", "Read the numbers with care: they may move when the run is repeated with more draws."),
    "fail": ("Fail", "Do not rely on these numbers yet: the sampler did not explore the posterior reliably."),
}
#: What the sampler's verdict is not: shown beside it wherever it appears.
SAMPLER_SCOPE = "It checks the computation, not how good the forecasts are."
ADVICE = (
    "Re-run with more draws and tuning steps, e.g. forecast run SCENARIO --draws 2000 --tune 2000.",
    "For divergences, raise --target-accept (e.g. 0.95) and look for a prior that conflicts with an indicator.",
    "If R-hat stays high, look at claims with competing hypotheses: separated modes make chains disagree.",
    "In scripts, use forecast run --strict so that an unclean run exits with code 3.",
)


def stylesheet() -> Markup:
    """The CSS, inlined into each page (our own file, so it is trusted markup)."""
    return Markup(resources.files("forecast.report").joinpath("templates", "report.css").read_text(encoding="utf-8"))


# --- Scales --------------------------------------------------------------------------------------


def is_index(unit: str) -> bool:
    return (unit or "").startswith("index")


def index_scale(s: dict) -> dict[str, Any] | None:
    """What the 0-100 index means, in numbers computed from its definition
    (``100 / (1 + exp(-level))``, the level in latent standard units); None when no node
    is shown on it."""
    if not any(is_index(n.get("unit", "")) for n in s["nodes"].values()):
        return None

    def level(index: float) -> float:
        return math.log(index / (100 - index))

    return {"one_up": f"{100 / (1 + math.exp(-1)):.0f}", "one_down": f"{100 / (1 + math.exp(1)):.0f}",
            "step_near_50": f"{level(60):.2f}", "step_80_90": f"{level(90) - level(80):.2f}"}


def measured_nodes(s: dict) -> set[str]:
    """Nodes an indicator measures; the others' history is the prior carried through the claims."""
    return {ind["node"] for ind in (s.get("indicators") or {}).values()}


def change_unit(unit: str) -> str:
    """The unit of a difference: index points, percentage points, or the unit itself."""
    if is_index(unit):
        return "index points"
    return "percentage points" if unit == "%" else unit


def last_level(s: dict, node: str) -> tuple[str, str]:
    """A node's posterior median in the last history year, alone and with its 90% interval
    (the level a strategy's setting starts from). A node no indicator measures has no known
    level, only its prior's spread carried through the claims: both say so ("an unmeasured 50
    [3, 97]"), the median and interval given as the measured ones are."""
    traj = s["trajectories"].get(node)
    if not traj:
        return "n/a", "n/a"
    stats = next(iter(traj["by_strategy"].values()))
    i = traj["years"].index(s["scenario"]["start_year"] - 1)
    median, interval = fmt(stats["median"][i], 0), fmt_interval(stats["q05"][i], stats["q95"][i], 0)
    if node not in measured_nodes(s):  # "which was an unmeasured 50 [3, 97] in 2024"
        return f"an unmeasured {median}", f"an unmeasured {median} {interval}"
    return median, f"{median} {interval}"


def short_setting(v: dict) -> str:
    """A lever's setting in a few words, for the graph's boxes: "set to 75", "held"."""
    values = v.get("values") or []
    if v.get("kind") == "values" and values and len(set(values)) == 1:
        return f"set to {values[0]:g}"
    return "held" if v.get("kind") == "hold" else "set (see its page)"


# --- Context shared by all pages -------------------------------------------------------------


def shared_context(run: Run) -> dict[str, Any]:
    """What every page shows the same way."""
    s = run.summary
    strategies = strategy_list(s)
    return {
        "css": stylesheet(),
        "scenario": scenario_info(s),
        "strategies": strategies,
        "baseline": next((x for x in strategies if x["baseline"]), None),
        "diagnostics": diagnostics_context(s["diagnostics"]),
        "provenance": provenance_context(run),
        "index_scale": index_scale(s),
        "downloads": {"csv": ANSWERS_CSV, "json": SUMMARY_JSON},
    }


def scenario_info(s: dict) -> dict[str, Any]:
    info = s["scenario"]
    return {
        "name": info["name"], "description": info.get("description", ""), "source": info.get("source", ""),
        "source_url": safe_url(info.get("source_url")), "history_start": info["history_start"],
        "start_year": info["start_year"], "horizon": info["horizon"], "seed": info.get("seed"),
        "history_end": info["start_year"] - 1,
    }


def strategy_list(s: dict) -> list[dict[str, Any]]:
    """Strategies in file order; ``index`` fixes each one's colour and line style in every plot."""
    nodes = s["nodes"]
    base = next((st["id"] for st in s["strategies"] if st.get("baseline")), None)
    out = []
    for i, st in enumerate(s["strategies"]):
        sets = []
        for lever, v in st["interventions"].items():
            _, with_interval = last_level(s, lever)
            course = own_course(s, lever, base) if base and base != st["id"] else None
            sets.append({"lever": lever, "label": nodes.get(lever, {}).get("label", lever), "value": v["setting"],
                         "short": short_setting(v), "unit": nodes.get(lever, {}).get("unit", ""),
                         "last": with_interval,  # where it starts, and where the baseline takes it instead
                         "under_baseline": f"{course['median']} {course['interval']}" if course else None})
        free = [own_course(s, lever, st["id"]) for lever, n in nodes.items()
                if n.get("role") == "lever" and lever not in st["interventions"]]
        out.append({"id": st["id"], "label": st["label"] or st["id"], "description": st.get("description", ""),
                    "baseline": bool(st.get("baseline")), "index": i, "href": f"strategy-{st['id']}.html",
                    "color": plots.strategy_style(i)["color"], "interventions": sets,
                    "sets_index": any(is_index(x["unit"]) for x in sets),
                    "free": [f for f in free if f is not None]})
    return out


def own_course(s: dict, lever: str, sid: str) -> dict[str, str] | None:
    """Where strategy ``sid`` takes a lever by the horizon, from its last history level: for a
    lever it does not set, its own equation's course (with no new policy a lever still moves: it
    keeps its drift, and its deviations fade at its persistence, as in its history)."""
    traj = s["trajectories"].get(lever)
    if not traj or sid not in traj["by_strategy"]:
        return None
    stats = traj["by_strategy"][sid]
    end = len(traj["years"]) - 1
    unit = s["nodes"][lever].get("unit", "")
    return {"label": s["nodes"][lever].get("label", lever), "unit": "" if is_index(unit) else unit,  # the index: below
            "last": last_level(s, lever)[1],  # with its interval, as the levers strategies set show theirs
            "year": str(traj["years"][end]), "median": fmt(stats["median"][end], 0),
            "interval": fmt_interval(stats["q05"][end], stats["q95"][end], 0)}


def nav(shared: dict, current: str) -> list[dict[str, Any]]:
    pages = [{"href": INDEX, "label": "Overview", "current": current == INDEX}]
    pages += [{"href": x["href"], "label": x["label"] + (" (baseline)" if x["baseline"] else ""),
               "current": current == x["href"]} for x in shared["strategies"]]
    return pages


def section_links(page: str) -> list[dict[str, Any]]:
    """The page's table of contents; a strategy page's shared sections link to the overview."""
    if page == "overview":
        return [{"href": f"#{i}", "label": label, "away": False} for i, label in OVERVIEW_SECTIONS]
    return ([{"href": f"#{i}", "label": label, "away": False} for i, label in STRATEGY_SECTIONS]
            + [{"href": f"{INDEX}#{i}", "label": label, "away": True} for i, label in SHARED_SECTIONS])


# --- Questions ---------------------------------------------------------------------------------


def subject_info(s: dict, subject: str) -> tuple[str, str]:
    """Label and unit of a question's subject (a node or an indicator)."""
    entry = s["nodes"].get(subject) or s.get("indicators", {}).get(subject) or {}
    return entry.get("label", subject), entry.get("unit", "")


def with_unit(value: str, unit: str) -> str:
    if not unit:
        return value
    if unit == "%":
        return f"{value}%"
    if unit.startswith("index"):
        return f"{value} ({unit})"
    return f"{value} {unit}"


def statement(s: dict, question: dict) -> str:
    """The question as a statement, e.g. "Sino-Russian partnership depth in 2029 will be below
    the 2024 level", from the question's structured fields in the summary ("will be" and "the
    2024 level" read right after a plural label too: "Real wages in 2028 will be above the 2024
    level", "Germans with a favourable view ... will be above 50%")."""
    label, unit = subject_info(s, question["subject"])
    if question.get("reference_year") is not None:
        target = f"the {question['reference_year']} level"
        change = question.get("change") or 0
        if change:
            target += f" {'plus' if change > 0 else 'minus'} {abs(change):g} {change_unit(unit)}".rstrip()
    else:
        target = with_unit(f"{question['threshold']:g}", unit)
    return f"{label} in {question['year']} will be {question['comparison']} {target}"


def cell(text: str, note: str | None = None, href: str | None = None, extra: dict | None = None,
         **data: Any) -> dict[str, Any]:
    """One cell of the summary: its text, an optional second line and link, an optional third
    line (``extra``: text, link and ``prior_only``, what the answer rests on), and data attributes."""
    return {"text": text, "note": note, "href": href, "extra": extra, "data": data}


def chance(p: float | None) -> str:
    """A probability with its word: "likely (0.82)"."""
    return f"{answers.likelihood(p)} ({fmt(p)})"


def spread(s: dict, question: dict, cell: dict) -> dict[str, str]:
    """The quantity a question compares, under one strategy: its median and 90% interval,
    and the line it is compared with (the uncertainty of the answer itself)."""
    _, unit = subject_info(s, question["subject"])
    q = cell.get("quantity")
    if not q:  # a run from before the summary kept it
        return {"text": "n/a", "note": "not in this run's summary.json; re-run the scenario to see it"}
    d = decimals(q.get("q05"), q.get("median"), q.get("q95"))
    op = "below" if question["comparison"] == "below" else "above"
    if question.get("reference_year") is not None:
        what = f"change {question['reference_year']}\u2192{question['year']}"
        change = question.get("change") or 0.0
        line = quantity(change, d, sign=True) if change else "0"
        u = change_unit(unit)
        values = [quantity(q.get(k), d, sign=True) for k in ("median", "q05", "q95")]
    else:
        what = f"value in {question['year']}"
        line = quantity(question["threshold"], d)
        u = unit
        values = [on_index(q.get(k), d) if is_index(unit) else quantity(q.get(k), d) for k in ("median", "q05", "q95")]
    shown = with_unit(values[0], u) if question.get("reference_year") is None else f"{values[0]} {u}".strip()
    lo, hi = (f"{values[1]}%", f"{values[2]}%") if u == "%" else values[1:]  # "8% to 90%": a percentage is no index
    return {"text": f"{what}: {shown}",
            "note": f"90% interval {lo} to {hi}; yes if {op} {line}"}


def on_index(x: float | None, digits: int) -> str:
    """A value on the 0-100 index as rounded, except that one rounding to an end of the scale
    reads "<1" or ">99": the index never reaches 0 or 100, and "0 to 100" reads as the scale,
    not as a forecast."""
    text = quantity(x, digits)  # (a value rounding to 0 reads "<1" already)
    if x is not None and x < 100 and text == quantity(100.0, digits):
        return f">{100 - 10.0 ** -digits:g}"
    return text


def reading(text: str, strategy: dict, cell: dict, base: dict | None, base_cell: dict | None) -> str:
    """One plain sentence per question and strategy, with the baseline's probability for scale."""
    p = f"{chance(cell['probability'])}, Monte Carlo error {fmt(cell['mcse'], 3)}"
    if base is None:
        tail = ""
    elif strategy["id"] == base["id"]:
        return f"Under {strategy['label']} (the baseline), that {text} is {p}."
    else:
        tail = f" (baseline {base['label']}: {fmt(base_cell['probability'])})"
    return f"Under {strategy['label']}, that {text} is {p}{tail}."


def headline_context(s: dict, columns: list[dict], baseline: dict | None,
                     read: list[str] | None = None) -> dict[str, Any]:
    """Rows of questions, one cell per strategy column (the probability of yes, its word and
    its Monte Carlo error), and a sentence for each strategy in ``read`` (default: every column)."""
    rows = []
    for q in s["questions"]:
        text = statement(s, q)
        cells, readings = [], []
        base_cell = q["by_strategy"].get(baseline["id"]) if baseline else None
        for st in columns:
            r = q["by_strategy"][st["id"]]
            p = r["probability"]
            prior = prior_only(s, q["id"], st["id"])
            cells.append({"strategy": st["id"], "probability": p, "mcse": r["mcse"], "p": fmt(p),
                          "words": answers.likelihood(p), "mcse_text": fmt(r["mcse"], 3),
                          "bar": 0 if p is None else round(100 * p, 1), "prior_only": prior,
                          "prior_text": None if prior is None else fmt(prior)})
            if read is None or st["id"] in read:
                readings.append(reading(text, st, r, baseline, base_cell))
        rows.append({"id": q["id"], "text": q["text"], "rule": q.get("rule", ""), "year": q["year"],
                     "resolution": q.get("resolution") or "",
                     "sought": answers.sought(s, q), "cells": cells, "readings": readings})
    return {"columns": columns, "rows": rows, "open": read is not None,
            "has_prior": any(c["prior_only"] is not None for r in rows for c in r["cells"])}


#: What the summary says beside the best strategy of a scenario with one strategy.
ONLY_STRATEGY = "the scenario's only strategy: there is no choice to make"


def summary_context(s: dict, strategies: list[dict], baseline: dict | None) -> dict[str, Any]:
    """Per question: the answer sought, the best strategy for it and how likely the answer is
    under it (a word and the number), the baseline's, and the spread of the quantity behind it.

    Columns are (key, heading) pairs and every row has a cell per key (``text``, optional
    ``href``, ``note`` and ``data`` attributes), so a column is added in one place."""
    by_id = {x["id"]: x for x in strategies}
    columns = [("question", "Question"), ("sought", "Answer sought"), ("best", "Best strategy for it"),
               ("chance", "How likely under it")]
    if baseline:
        columns.append(("baseline", f"How likely under {baseline['label']} (baseline)"))
    columns.append(("spread", "The forecast behind it (best strategy)"))
    rows, undirected = [], False
    for q in s["questions"]:
        sought = answers.sought(s, q)
        want = sought["answer"]
        undirected |= want is None
        decided = answers.decision(s, q)
        if decided is None:
            rows.append({"id": q["id"], "cells": undecided_cells(s, q, sought["why"], baseline, by_id, columns)})
            continue
        top = by_id[decided["best"]]
        best = q["by_strategy"][top["id"]]
        tied, same = answers.tie_phrase(decided, by_id), answers.same_phrase(decided, by_id)
        note = "; ".join(([f"no clear best: {tied}"] if tied else []) + ([same] if same else []))
        cells = {
            "question": cell(q["text"], extra=rests_on(s, q, top, want, by_id)),
            "sought": cell(want.capitalize(), sought["why"]),
            "best": cell(top["label"], note or (ONLY_STRATEGY if len(by_id) < 2 else None), top["href"],
                         strategy=top["id"]),
            "chance": sought_cell(best, want),
            "spread": cell(**spread(s, q, best)),
        }
        if baseline:
            cells["baseline"] = sought_cell(q["by_strategy"][baseline["id"]], want)
        rows.append({"id": q["id"], "cells": cells})
    return {"columns": columns, "rows": rows, "scale": answers.likelihood_key(),
            "any_undirected": undirected}


def sought_cell(r: dict, want: str | None) -> dict[str, Any]:
    """How likely the answer sought is under one strategy (``r``: its entry in ``by_strategy``),
    in words and as a number, with its Monte Carlo error; the probability of yes when none is sought."""
    p = answers.p_sought(r["probability"], want) if want else r["probability"]
    shown = answers.p_sought_shown(r["probability"], want) if want else p
    return cell(chance(shown) if want else f"yes: {chance(p)}", f"Monte Carlo error {fmt(r['mcse'], 3)}", chance=p)


def undecided_cells(s: dict, q: dict, why: str, baseline: dict | None, by_id: dict[str, dict],
                    columns: list[tuple[str, str]]) -> dict[str, dict]:
    """A question with no answer sought (``why``: the reason) has no best strategy: its row says
    so and shows the chance of yes (and the forecast behind it) under the baseline, or the
    first strategy."""
    shown = baseline or next(iter(by_id.values()))
    r = q["by_strategy"][shown["id"]]
    cells = {"question": cell(q["text"]), "sought": cell("None marked", why),
             "best": cell("none", "no answer is sought, so no strategy is best for it"),
             "chance": cell("n/a", "no answer is sought"),
             "spread": cell(**spread(s, q, r))}
    cells["spread"]["note"] += f" (under {shown['label']})"
    if baseline:
        cells["baseline"] = sought_cell(r, None)
    else:
        cells["chance"] = sought_cell(r, None)
    return {k: cells[k] for k, _ in columns}


# --- Contrasts ----------------------------------------------------------------------------------


def contrasts_context(s: dict, strategies: list[dict], page: str, only: str | None = None) -> dict[str, Any]:
    """Per outcome: strategy minus baseline in the final forecast year, as a table and one
    figure per outcome (every strategy on the overview, ``only`` one on its page)."""
    by_id = {x["id"]: x for x in strategies}
    outcomes = []
    for nid, c in s.get("contrasts", {}).items():
        base = by_id.get(c["baseline"], {"label": c["baseline"]})
        rows = [contrast_row(sid, e, by_id) for sid, e in c["by_strategy"].items() if only is None or sid == only]
        if rows:
            outcomes.append({"id": nid, "label": c["label"], "unit": c["unit"], "change_unit": change_unit(c["unit"]),
                             "desirable": c["desirable"], "year": c["years"][-1], "baseline_label": base["label"],
                             "rows": rows,
                             "figure": figure(f"contrast-{page}-{nid}", plots.contrast_chart, contrast=c, rows=rows,
                                              baseline_label=base["label"])})
    return {"outcomes": outcomes, "only_baseline": len(strategies) < 2}


def contrast_row(sid: str, e: dict, by_id: dict[str, dict]) -> dict[str, Any]:
    """One strategy's difference from the baseline in the final forecast year (the last entry)."""
    st = by_id.get(sid, {"label": sid, "index": 0, "href": ""})
    p_better = e.get("p_better")
    pb = None if p_better is None else p_better[-1]
    same = (e.get("p_same") or [0.0])[-1] or 0.0
    if same >= 1.0:  # strictly better in no draw, and worse in none: not "exceptionally unlikely"
        better_text = "the same in every draw"
    elif pb is None:
        better_text = "n/a (no desirable direction)"
    else:
        better_text = chance(pb) + (f"; the same in {fmt(same)} of draws" if fmt(same) != fmt(0.0) else "")
    return {
        "strategy": sid, "label": st["label"], "index": st["index"], "href": st["href"],
        "median": e["median"][-1], "q05": e["q05"][-1], "q25": e["q25"][-1], "q75": e["q75"][-1],
        "q95": e["q95"][-1], "median_text": signed(e["median"][-1]),
        "interval_text": f"[{signed(e['q05'][-1])}, {signed(e['q95'][-1])}]",
        "p_better": pb,
        "p_better_text": better_text,
    }


# --- Trajectories ---------------------------------------------------------------------------------


#: Strategy panels per node on the overview at most: beyond it, the baseline and the strategies
#: that move the node most (each strategy's own page shows every node under it).
MAX_STRATEGY_PANELS = 8


def panel_strategies(node: dict, strategies: list[dict], baseline: dict | None) -> list[dict]:
    """The strategies the overview draws for one node, in file order: all of them when they fit
    in :data:`MAX_STRATEGY_PANELS`, else the baseline and those whose final-year median moves
    furthest from the baseline's, in units of its 90% interval."""
    if len(strategies) <= MAX_STRATEGY_PANELS:
        return strategies
    by = node["by_strategy"]
    ref = by[baseline["id"]] if baseline else None

    def moved(st: dict) -> float:
        if ref is None:
            return 0.0
        spread = max((ref["q95"][-1] or 0.0) - (ref["q05"][-1] or 0.0), 1e-12)
        return abs((by[st["id"]]["median"][-1] or 0.0) - (ref["median"][-1] or 0.0)) / spread

    first = [baseline] if baseline else []
    ranked = sorted((x for x in strategies if x not in first), key=moved, reverse=True)  # stable: ties keep file order
    chosen = {x["id"] for x in (first + ranked)[:MAX_STRATEGY_PANELS]}
    return [x for x in strategies if x["id"] in chosen]


def overview_trajectories(s: dict, strategies: list[dict], baseline: dict | None, node_ids: list[str]) -> list[dict]:
    """Small multiples: per node, one panel per strategy on a shared axis, each with the
    baseline's median dotted for comparison (bands of several strategies on one panel blur)."""
    start = s["scenario"]["start_year"]
    measured = measured_nodes(s)
    groups = []
    for nid in node_ids:
        node = s["trajectories"][nid]
        shown = panel_strategies(node, strategies, baseline)
        ylim = plots.value_range(node, [x["id"] for x in shown])
        panels = [{"caption": st["label"] + (" (baseline)" if st["baseline"] else ""), "strategy": st,
                   "figure": figure(f"traj-overview-{nid}-{st['id']}", plots.fan_panel, node=node, strategy=st,
                                    start_year=start, ylim=ylim, measured=nid in measured, reference=baseline)}
                  for st in shown]
        groups.append({"id": nid, "label": node["label"], "unit": node["unit"], "measured": nid in measured,
                       "panels": panels, "left_out": [x["label"] for x in strategies if x not in shown]})
    return groups


def strategy_trajectories(s: dict, strategy: dict, reference: dict | None, node_ids: list[str]) -> list[dict]:
    """A strategy's page: one panel per node, the baseline's median dotted."""
    start = s["scenario"]["start_year"]
    measured = measured_nodes(s)
    ids = [strategy["id"]] + ([reference["id"]] if reference else [])
    out = []
    for nid in node_ids:
        node = s["trajectories"][nid]
        out.append({"caption": node["label"], "unit": node["unit"], "measured": nid in measured,
                    "figure": figure(f"traj-{strategy['id']}-{nid}", plots.fan_panel, node=node, strategy=strategy,
                                     start_year=start, ylim=plots.value_range(node, ids), measured=nid in measured,
                                     reference=reference)})
    return out


#: Trajectory panels on a strategy page at most. A grid of a hundred panels is no reading aid
#: (and seconds of drawing per page); :func:`panel_nodes` picks what the page shows.
MAX_PANELS = 24


def panel_nodes(s: dict, sid: str, baseline_id: str | None) -> tuple[list[str], list[str]]:
    """The nodes a strategy page draws, in scenario order, and those it leaves out.

    Every node when they fit in :data:`MAX_PANELS`. Otherwise first the strategy's levers,
    the questions' subjects and the outcomes, then the nodes the strategy moves most from the
    baseline: the final-year difference of medians, in units of the baseline's 90% interval
    (none moves on the baseline's own page, which keeps scenario order)."""
    order = list(s["nodes"])
    if len(order) <= MAX_PANELS:
        return order, []
    strategy = next(x for x in s["strategies"] if x["id"] == sid)
    first = [*strategy["interventions"], *(q["subject"] for q in s["questions"]),
             *(n for n, v in s["nodes"].items() if v["role"] == "outcome")]

    def moved(nid: str) -> float:
        by = s["trajectories"][nid]["by_strategy"]
        base = by[baseline_id]
        spread = max(base["q95"][-1] - base["q05"][-1], 1e-12)
        return abs(by[sid]["median"][-1] - base["median"][-1]) / spread

    # stable sort: ties keep scenario order
    ranked = order if baseline_id in (None, sid) else sorted(order, key=moved, reverse=True)
    chosen: list[str] = []
    for nid in (*first, *ranked):
        if nid in s["nodes"] and nid not in chosen and len(chosen) < MAX_PANELS:
            chosen.append(nid)
    return [n for n in order if n in chosen], [n for n in order if n not in chosen]


# --- Graph and evidence ---------------------------------------------------------------------------


def graph_context(s: dict, page: str, strategy: dict | None = None) -> dict[str, Any]:
    """The causal graph; on a strategy page the levers it sets are outlined."""
    measured = measured_nodes(s)
    nodes = {nid: {"label": n["label"], "role": n["role"], "measured": nid in measured}
             for nid, n in s["nodes"].items()}
    claims = [{"cause": c["cause"], "effect": c["effect"], "label": c["label"], "median": c["posterior"]["median"],
               "hypotheses": len(c.get("hypotheses") or {})}
              for c in s["claims"].values() if c["cause"] in nodes and c["effect"] in nodes]
    highlight = {i["lever"]: i["short"] for i in strategy["interventions"]} if strategy else {}
    roles = {role: [n["label"] for n in nodes.values() if n["role"] == role] for role in ("lever", "factor", "outcome")}
    engine = "dot" if graph.dot_binary() else "layered"
    return {"figure": figure(f"graph-{page}", plots.causal_graph, nodes=nodes, claims=claims, highlight=highlight),
            "roles": roles, "highlight": [s["nodes"][k]["label"] for k in highlight if k in s["nodes"]],
            "engine": engine, "note": graph.NO_ENGINE if engine == "layered" else "",
            "numbered": [c["label"] for c in claims] if engine == "layered" else [],
            "unmeasured": [n["label"] for nid, n in nodes.items() if not n["measured"]]}


def evidence_context(s: dict, strategies: list[dict], baseline: dict | None) -> list[dict[str, Any]]:
    """Per indicator: where its data come from, each observation with its source (one link
    per URL), and the fit plot."""
    start = s["scenario"]["start_year"]
    banded = baseline["id"] if baseline else (strategies[0]["id"] if strategies else None)
    out = []
    for iid, ind in s.get("indicators", {}).items():
        obs = ind["observed"]
        rows = [{"year": y, "value": plain(v), "source": links(src)}
                for y, v, src in zip(obs["years"], obs["values"], obs.get("sources") or [""] * len(obs["years"]))]
        node = s["nodes"].get(ind["node"], {})
        out.append({
            "id": iid, "label": ind["label"], "node": ind["node"], "node_label": node.get("label", ind["node"]),
            "unit": ind["unit"], "source": links(ind["source"]), "url": safe_url(ind.get("url")),
            "transform": ind.get("transform", ""), "direction": ind.get("direction", "+"),
            "file": ind.get("file", ""), "column": ind.get("column", ""), "observations": rows,
            "one_step": ind.get("one_step"),
            "figure": figure(f"evidence-{iid}", plots.evidence_chart, indicator=ind, strategies=strategies,
                             start_year=start, banded=banded),
        })
    return out


# --- Claims ------------------------------------------------------------------------------------


def claim_verdict(claim: dict, effect_label: str, has_evidence: bool) -> str:
    """A plain reading of what the evidence did to a claim (``claim``: its entry in the
    summary): nothing when no data can bear on it (no indicator measures its effect or anything
    that effect drives); else whether it moved the claimed sign beyond Monte Carlo error; else
    whether it moved the effect's size (its median, or the width of its 90% interval), by
    :func:`~forecast.report.answers.evidence_moved`."""
    if not has_evidence:
        return "No indicator data in this scenario: the posterior is the prior (up to sampling noise)."
    if claim.get("informed") is False:
        return (f"No data bear on this claim: no indicator measures {effect_label} or anything it drives, so the "
                "posterior is the prior, and any difference between them is sampling noise.")
    pr, po = claim["prior"], claim["posterior"]
    if pr.get("p_sign") is None or po.get("p_sign") is None:
        return "The probability of the claimed sign is not available."
    moved = answers.evidence_moved(claim)
    if moved == "sign up":
        return "The evidence supports the claimed sign more than the prior did."
    if moved == "sign down":
        return "The evidence weighs against the claimed sign, compared with the prior."
    if moved == "size":
        return (f"The evidence moved the effect's size rather than its sign: median {fmt(pr['q50'])} \u2192 "
                f"{fmt(po['median'])}, 90% interval {fmt_interval(pr['q05'], pr['q95'])} \u2192 "
                f"{fmt_interval(po['q05'], po['q95'])}; P(sign as claimed) {fmt(pr['p_sign'])} \u2192 "
                f"{fmt(po['p_sign'])}.")
    return "The evidence says little about this claim: its sign and its size barely moved."


def claims_context(s: dict) -> dict[str, Any]:
    """Every claim with its quote, its prior as the analyst stated it and as fitted, the
    posterior, and competing hypotheses' weights."""
    nodes = s["nodes"]
    has_evidence = bool(s.get("indicators"))
    items = []
    for cid, c in s["claims"].items():
        pr, po = c["prior"], c["posterior"]
        hyps = [{"id": hid, "label": h["label"] or hid, "quote": h.get("quote", ""), "prior": h["prior"],
                 "stated": h.get("stated") or h["prior"], "prior_weight": fmt(h["prior_weight"]),
                 "posterior_weight": fmt(h["posterior_weight"]),
                 "posterior_weight_mcse": fmt(h.get("posterior_weight_mcse"), 3)}
                for hid, h in (c.get("hypotheses") or {}).items()]
        items.append({
            "id": cid, "label": c["label"], "quote": c.get("quote", ""),
            "cause": nodes.get(c["cause"], {}).get("label", c["cause"]),
            "effect": nodes.get(c["effect"], {}).get("label", c["effect"]),
            "lag": "the next year" if c["lag"] == 1 else "the same year",
            "sign": "raise" if c["sign"] == "+" else "lower", "contested": bool(c.get("contested_sign")),
            "prior_dist": pr.get("dist") or "a mixture of the competing hypotheses below",
            "prior_stated": pr.get("stated") or (pr.get("dist") or ""),
            "prior_median": fmt(pr["q50"]), "prior_interval": fmt_interval(pr["q05"], pr["q95"]),
            "posterior_median": fmt(po["median"]), "posterior_interval": fmt_interval(po["q05"], po["q95"]),
            "prior_p_sign": fmt(pr["p_sign"]), "posterior_p_sign": fmt(po["p_sign"]),
            "verdict": claim_verdict(c, nodes.get(c["effect"], {}).get("label", c["effect"]), has_evidence),
            "hypotheses": hyps,
        })
    plot_input = [{"label": c["label"], "prior": c["prior"], "posterior": c["posterior"]} for c in s["claims"].values()]
    fig = figure("claims", plots.claims_chart, claims=plot_input) if plot_input else None
    return {"entries": items, "figure": fig, "has_evidence": has_evidence}


# --- What each answer hinges on ----------------------------------------------------------------

#: Claims drawn in a question's tornado at most: beyond six bars the chart stops being read
#: at a glance; the rest are counted and named under it.
MAX_TORNADO = 6
#: Entries of the value-of-information ranking shown at most (the rest are counted).
MAX_WORTH = 10
#: What the report says when the summary has no sensitivity analysis (an older run).
NO_SENSITIVITY = ("This run has no sensitivity analysis: its summary.json was written before forecast analysed "
                  "what each answer hinges on. Re-run the scenario to see it.")
#: ... and when there is nothing to analyse.
NO_QUESTIONS = "This run has no sensitivity analysis: the scenario asks no questions, so no answer hinges on anything."


def sensitivity_of(s: dict, qid: str) -> dict | None:
    """A question's sensitivity entry, or None for a run without one (older summaries)."""
    return ((s.get("sensitivity") or {}).get("questions") or {}).get(qid)


def claim_label(s: dict, cid: str) -> str:
    """A claim's label as the scenario writes it (its id when the summary lacks the claim)."""
    return (s.get("claims") or {}).get(cid, {}).get("label") or cid


def prior_only(s: dict, qid: str, sid: str) -> float | None:
    """P(yes) for a question under a strategy from the prior alone (before any data), or None:
    for a run without a sensitivity analysis, and for a scenario with no indicator data, whose
    posterior is its prior (the two answers are then two Monte Carlo estimates of one number,
    and their gap would read as the data's doing)."""
    entry = sensitivity_of(s, qid)
    if entry is None or not s.get("indicators"):
        return None
    return entry.get("prior_only", {}).get(sid)


def prior_note(s: dict, qid: str, sid: str) -> str:
    """"prior only 0.41" to go beside an answer, or "" when there is no separate prior answer."""
    p = prior_only(s, qid, sid)
    return "" if p is None else f"prior only {fmt(p)}"


def percentile_words(s: dict) -> tuple[str, str]:
    """Where the tornado fixes a claim's effect, in words ("5th", "95th"), from the summary's settings."""
    quantiles = ((s.get("sensitivity") or {}).get("settings") or {}).get("tornado_quantiles") or [0.05, 0.95]
    return tuple(ordinal(round(100 * q)) for q in quantiles[:2])  # type: ignore[return-value]


def ordinal(n: int) -> str:
    """5 -> "5th", 1 -> "1st", 22 -> "22nd"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def tornado_bars(s: dict, entry: dict, sid: str) -> tuple[list[dict], list[str]]:
    """The claims on the question's path by their influence under ``sid`` (:func:`hinges_under`),
    at most :data:`MAX_TORNADO`, each with the answer under ``sid`` at its effect's low and high
    percentile; and the labels left out."""
    ranked = hinges_under(entry, sid)
    bars = [tornado_bar(s, cid, entry["claims"][cid], sid) for cid in ranked[:MAX_TORNADO]]
    return bars, [claim_label(s, cid) for cid in ranked[MAX_TORNADO:]]


def tornado_bar(s: dict, cid: str, found: dict, sid: str) -> dict[str, Any]:
    """One claim's bar under ``sid``: the answer at its effect's low and high percentiles, each
    end's Monte Carlo error, and whether the swing is beyond that error (``clear``; a run from
    before the errors were kept has none, and its bars are taken as they are)."""
    low, high = found["tornado"][sid]
    errors = (found.get("tornado_mcse") or {}).get(sid)
    clear = clear_under(found, sid)
    return {"claim": cid, "label": claim_label(s, cid), "at_low": low, "at_high": high,
            "mcse_low": errors[0] if errors else None, "mcse_high": errors[1] if errors else None, "clear": clear}


def rival_of(entry: dict, by_id: dict[str, dict]) -> tuple[str, str] | None:
    """The strategy a question's best is weighed against in its lead tornado, and the baseline:
    the baseline itself, or, when the best is the baseline (or identical to it for the
    question), the runner-up (the likeliest to give the answer sought among the rest). None
    without a decision, a baseline, contrasts in the analysis (older runs) or another option."""
    decision = as_recorded(entry.get("decision"))
    base = next((sid for sid, st in by_id.items() if st.get("baseline")), None)
    if not decision or base is None or not any("contrast_tornado" in c for c in entry["claims"].values()):
        return None
    option = {decision["best"], *decision.get("equivalent", [])}
    if base not in option:
        return base, base
    others = {sid: u for sid, u in (decision.get("utilities") or {}).items() if sid not in option and u is not None}
    return (max(others, key=lambda sid: others[sid]), base) if others else None


def lead_of(s: dict, entry: dict, best: str, by_id: dict[str, dict]) -> dict[str, Any] | None:
    """The best's lead over its rival (:func:`rival_of`) in the probability of the answer
    sought, and the claims on the question's path by their influence on it (from the contrasts
    with the baseline, which is one of the two or identical to one): those beyond Monte Carlo
    error first, then the widest; at most :data:`MAX_TORNADO` bars, and the labels left out.
    None when there is no rival."""
    found = rival_of(entry, by_id)
    if found is None:
        return None
    rival, base = found
    sign = 1.0 if entry["decision"]["desirable"] == "yes" else -1.0
    key = best if rival == base else rival  # the one whose contrast with the baseline is not 0

    def bar(cid: str) -> dict[str, Any]:
        claim = entry["claims"][cid]
        at = claim["contrast_tornado"]
        ends = [sign * ((at[best][k] if best in at else 0.0) - (at[rival][k] if rival in at else 0.0))
                for k in (0, 1)]
        errors = (claim.get("contrast_tornado_mcse") or {}).get(key)
        return {"claim": cid, "label": claim_label(s, cid), "at_low": ends[0], "at_high": ends[1],
                "mcse_low": errors[0] if errors else None, "mcse_high": errors[1] if errors else None,
                "clear": bool((claim.get("contrast_tornado_clear") or {}).get(key, True))}

    on_path = [cid for cid in entry.get("ranking", []) if entry["claims"].get(cid, {}).get("on_path")]
    ranked = sorted((bar(cid) for cid in on_path), key=lambda b: (b["clear"], abs(b["at_high"] - b["at_low"])),
                    reverse=True)
    return {"rival": rival, "label": by_id.get(rival, {"label": rival})["label"],
            "lead": sign * (entry["posterior"][best] - entry["posterior"][rival]),
            "bars": ranked[:MAX_TORNADO], "left_out": [b["label"] for b in ranked[MAX_TORNADO:]]}


def lead_view(s: dict, q: dict, entry: dict, by_id: dict[str, dict], best: dict) -> dict[str, Any] | None:
    """The question's second tornado, the one its decision rests on: how each claim moves the
    best's lead over the baseline (or, when the best is the baseline, over the runner-up), in
    the probability of the answer sought, with a sentence naming the claim it hinges on most
    and saying when that claim would put the other ahead. None when there is no such lead."""
    found = lead_of(s, entry, best["id"], by_id)
    if found is None or not found["bars"]:
        return None
    rival, other, lead, bars = found["rival"], found["label"], found["lead"], found["bars"]
    want = entry["decision"]["desirable"]
    lead_text = f"{quantity(lead, 2, sign=True)} in the probability of {want}"
    low, high = percentile_words(s)
    top = bars[0]
    swing = f"from {quantity(top['at_low'], 2, sign=True)} to {quantity(top['at_high'], 2, sign=True)}{error_text(top)}"
    if top["clear"]:
        ends = [(pct, top[f"at_{end}"], CLEAR_AT * (top[f"mcse_{end}"] or 0.0))
                for pct, end in ((low, "low"), (high, "high"))]
        behind = next((pct for pct, v, e in ends if v < -e), None)
        gone = next((pct for pct, v, e in ends if v <= e), None)
        sentence = (f"Its lead over {other} ({lead_text}) hinges most on \u201c{top['label']}\u201d: {swing} as its "
                    f"effect goes from its {low} to its {high} percentile"
                    + (f"; at its {behind} percentile {other} would do better." if behind else
                       f"; at its {gone} percentile the lead is gone (within Monte Carlo error of 0)." if gone else
                       "."))
    else:
        sentence = (f"No claim moves its lead over {other} ({lead_text}) beyond Monte Carlo error: the widest swing "
                    f"(\u201c{top['label']}\u201d: {swing}) is within it.")
    fig = figure(f"lead-{q['id']}", plots.tornado_chart, bars=bars, answer=lead, strategy_label=best["label"],
                 question=q["text"], percentiles=(low, high), lead={"over": other, "sought": want})
    return {"rival": rival, "rival_label": other, "lead": lead, "bars": bars, "left_out": found["left_out"],
            "sentence": sentence, "figure": fig, "top": top["label"] if top["clear"] else None}


def error_text(bar: dict) -> str:
    """A tornado end's Monte Carlo error, as the sentence gives it (nothing for older runs)."""
    errors = [e for e in (bar.get("mcse_low"), bar.get("mcse_high")) if e is not None]
    return f" (Monte Carlo error about {fmt(max(errors), 3)} each)" if errors else ""


def hinge_question(s: dict, q: dict, entry: dict, by_id: dict[str, dict]) -> dict[str, Any]:
    """One question's card: which strategy, its answer with and without the data, the tornado
    and a sentence naming the claim the answer hinges on most."""
    sid = hinge_strategy(entry)
    st = by_id.get(sid, {"id": sid, "label": sid, "href": INDEX})
    low, high = percentile_words(s)
    bars, left_out = tornado_bars(s, entry, sid)
    answer = entry["posterior"][sid]
    decision = as_recorded(entry.get("decision"))
    prior = prior_note(s, q["id"], sid)
    shown = fmt(answer) + (f" ({prior})" if prior else "")
    same = answers.same_phrase(decision, by_id) if decision else ""
    if len(by_id) < 2:
        lead = f"{st['label']} is the scenario's only strategy: the probability of yes under it is {shown}."
    elif decision and decision.get("tied"):
        lead = (f"No clear best strategy for the answer sought ({decision['desirable']}): {st['label']} is "
                f"{answers.tie_phrase(decision, by_id)}{'; ' + same if same else ''}. Shown is {st['label']}, under "
                f"which the probability of yes is {shown}.")
    elif decision:
        lead = (f"Best strategy for the answer sought ({decision['desirable']}): {st['label']}"
                f"{', ' + same if same else ''}, under which the probability of yes is {shown}.")
    else:
        lead = (f"This question has no desirable answer, so no strategy is best for it: shown is {st['label']}, under "
                f"which yes is most probable ({fmt(answer)}{'; ' + prior if prior else ''}).")
    if bars:
        top = bars[0]
        swing = f"from {fmt(top['at_low'])} to {fmt(top['at_high'])}{error_text(top)}"
        if top["clear"]:
            sentence = (f"The answer hinges most on \u201c{top['label']}\u201d: {swing} as its effect goes from its "
                        f"{low} to its {high} percentile.")
        else:
            sentence = (f"No claim moves this answer beyond Monte Carlo error: the widest swing (\u201c{top['label']}"
                        f"\u201d: {swing}) is within it. The bars are drawn pale.")
        fig = figure(f"tornado-{q['id']}", plots.tornado_chart, bars=bars, answer=answer, strategy_label=st["label"],
                     question=q["text"], percentiles=(low, high))
    else:
        sentence, fig = "No claim on its path moves this answer.", None
    return {"id": q["id"], "text": q["text"], "strategy": st, "answer": answer, "lead": lead, "sentence": sentence,
            "bars": bars, "left_out": left_out, "figure": fig,
            "versus": lead_view(s, q, entry, by_id, st) if decision and len(by_id) > 1 else None}


def flip_rows(s: dict, entry: dict, by_id: dict[str, dict]) -> list[dict[str, Any]]:
    """Each claim whose effect, within its prior's 90% range, would make another strategy best
    for the question: the effect value nearest its posterior median where that happens (from
    ``flip`` in the summary), beside that median, in ``ranking`` order."""
    order = entry.get("ranking", []) + [c for c in entry["claims"] if c not in entry.get("ranking", [])]
    rows = []
    for cid in order:
        flip = entry["claims"].get(cid, {}).get("flip")
        if not flip:
            continue
        other = by_id.get(flip["becomes_best"], {"label": flip["becomes_best"], "href": INDEX})
        posterior = (s.get("claims") or {}).get(cid, {}).get("posterior") or {}
        rows.append({"claim": cid, "label": claim_label(s, cid), "value": flip["value"],
                     "value_text": quantity(flip["value"], 2, sign=True),
                     "median_text": quantity(posterior.get("median"), 2, sign=True),
                     "becomes_best": flip["becomes_best"], "href": other["href"],
                     "becomes_label": answers.option_label(entry.get("decision"), by_id, flip["becomes_best"]),
                     "margin_text": margin_text(flip.get("margin"), flip.get("margin_se")),
                     "inside": "yes" if flip.get("within_posterior_90") else "no: beyond it"})
    return rows


def margin_text(margin: float | None, error: float | None = None) -> str:
    """How far ahead the new best strategy is at the flip, with the error of that lead."""
    if not margin:
        return "level with it there"
    return f"ahead by {fmt(margin, 3)} there" + (f" (Monte Carlo error {fmt(error, 3)})" if error else "")


def flips_context(s: dict, hinged: list[dict], by_id: dict[str, dict]) -> list[dict[str, Any]]:
    """Per question: its best strategy and the claims that would flip it, or why none does."""
    out = []
    for h in hinged:
        entry = sensitivity_of(s, h["id"]) or {}
        rows = flip_rows(s, entry, by_id) if entry.get("decision") else []
        decision = as_recorded(entry.get("decision"))
        if len(by_id) < 2:
            none = "The scenario has only one strategy, so there is no choice to flip."
        elif not decision:
            none = "No desirable answer is set for this question, so there is no choice of strategy to flip."
        elif decision.get("tied"):
            none = (f"No clear best strategy: it is {answers.tie_phrase(decision, by_id)}, so there is no choice to "
                    "flip.")
        elif decision.get("flips_sought") is False:
            none = ("Not looked for: this run's analysis counted strategies identical for the question as tied, so it "
                    "saw no clear choice to flip. Run the scenario again to see what flips it.")
        else:
            none = "No claim within its prior's 90% range flips the choice."
        best = ({**h["strategy"], "label": answers.option_label(decision, by_id, h["strategy"]["id"])} if decision
                else None)
        out.append({"id": h["id"], "text": h["text"], "best": best,
                    "rows": rows, "none": none})
    return out


def worth_context(s: dict) -> dict[str, Any]:
    """The claims most worth researching: the value of information about each claim's effect
    for the choice of strategy on a question, largest first (``worth_researching``)."""
    sens = s.get("sensitivity") or {}
    texts = {q["id"]: q["text"] for q in s["questions"]}
    worth = sens.get("worth_researching") or []
    rows = []
    for w in worth[:MAX_WORTH]:
        word, note = answers.learned_text((sens.get("claims") or {}).get(w["claim"]),
                                          (s.get("claims") or {}).get(w["claim"]), prior_sensitive(sens))
        evppi_text, noise_text = apart(w["evppi"], w.get("evppi_noise"))
        rows.append({"claim": w["claim"], "label": claim_label(s, w["claim"]), "question": w["question"],
                     "question_text": texts.get(w["question"], w["question"]), "evppi": w["evppi"],
                     "evppi_text": evppi_text, "noise_text": noise_text,
                     "learned": word, "learned_note": note})
    decided = any(e.get("decision") for e in (sens.get("questions") or {}).values())
    return {"rows": rows, "left_out": len(worth) - len(rows), "decided": decided}


def hypothesis_label(s: dict, combination: str) -> str:
    """A combination of competing hypotheses ("claim=hypothesis, ...") in the scenario's words."""
    parts = []
    for part in combination.split(", "):
        cid, _, hid = part.partition("=")
        hyps = (s.get("claims") or {}).get(cid, {}).get("hypotheses") or {}
        parts.append(f"{claim_label(s, cid)}: {hyps[hid].get('label') or hid}" if hid in hyps else part)
    return "; ".join(parts)


def combination_weight(s: dict, combination: str) -> str | None:
    """A combination's posterior weight as text ("weight 0.59"), or None when the summary
    lacks it (an older run)."""
    w = ((s.get("sensitivity") or {}).get("combination_weights") or {}).get(combination)
    return None if w is None else f"weight {fmt(w)}"


def hypotheses_context(s: dict, strategies: list[dict]) -> list[dict[str, Any]]:
    """Per question with competing hypotheses: P(yes) per strategy from each combination of
    hypotheses' draws alone, under the answer with them weighed as the posterior weighs them."""
    out = []
    for q in s["questions"]:
        entry = sensitivity_of(s, q["id"]) or {}
        combos = {k: v for k, v in (entry.get("by_hypothesis") or {}).items() if k}
        if not combos:
            continue
        errors = entry.get("by_hypothesis_mcse") or {}
        rows = [{"label": hypothesis_label(s, k), "weight": combination_weight(s, k),
                 "cells": [fmt(v.get(st["id"])) for st in strategies],
                 "errors": [fmt(errors.get(k, {}).get(st["id"]), 3) if k in errors else "" for st in strategies],
                 "total": False}
                for k, v in combos.items()]
        rows.append({"label": "All weighed as the posterior weighs them", "weight": None,
                     "cells": [fmt(entry["posterior"].get(st["id"])) for st in strategies],
                     "errors": ["" for _ in strategies], "total": True})
        out.append({"id": q["id"], "text": q["text"], "rows": rows})
    return out


def hinges_context(s: dict, strategies: list[dict]) -> dict[str, Any]:
    """"What each answer hinges on": per question a tornado of its best strategy's answer, what
    would flip the choice, the value of information, and the answers under each hypothesis
    alone; all from the summary's ``sensitivity`` (:mod:`forecast.sensitivity.analysis`)."""
    by_id = {x["id"]: x for x in strategies}
    hinged = [hinge_question(s, q, entry, by_id) for q in s["questions"] if (entry := sensitivity_of(s, q["id"]))]
    if not hinged:
        return {"present": False, "absent": NO_SENSITIVITY if s["questions"] else NO_QUESTIONS}
    low, high = percentile_words(s)
    return {"present": True, "questions": hinged, "flips": flips_context(s, hinged, by_id),
            "worth": worth_context(s), "hypotheses": hypotheses_context(s, strategies),
            "strategies": strategies, "low": low, "high": high, "max_bars": MAX_TORNADO,
            "has_evidence": bool(s.get("indicators"))}


def rests_on(s: dict, q: dict, best: dict, want: str, by_id: dict[str, dict] | None = None) -> dict[str, Any] | None:
    """The summary's line on what an answer rests on: the top one or two claims under the
    ``best`` strategy (as its tornado ranks them, those beyond Monte Carlo error only), the
    claim its lead over the baseline (or runner-up) hinges on most (:func:`lead_of`), and the
    answer sought under it from the prior alone (how far the data moved it)."""
    entry = sensitivity_of(s, q["id"])
    if entry is None:
        return None
    clear = [c for c in hinges_under(entry, best["id"]) if clear_under(entry["claims"][c], best["id"])]
    top = [f"\u201c{claim_label(s, c)}\u201d" for c in clear[:2]]  # quoted: labels may hold "and"
    p = answers.p_sought(prior_only(s, q["id"], best["id"]), want)
    shown = answers.p_sought_shown(prior_only(s, q["id"], best["id"]), want)
    claims = (f"Hinges most on {' and '.join(top)}." if top else
              "No claim on its path moves it beyond Monte Carlo error." if entry.get("ranking") else
              "No claim on its path moves it.")
    lead = lead_of(s, entry, best["id"], by_id or {})
    if lead and lead["bars"] and lead["bars"][0]["clear"]:
        first = lead["bars"][0]
        claims += (f" So does its lead over {lead['label']}." if clear[:1] == [first["claim"]] else
                   f" Its lead over {lead['label']} hinges most on \u201c{first['label']}\u201d.")
    before = (f"Before any data (prior only), the answer sought ({want}) under {best['label']} was {chance(shown)}."
              if p is not None else "The scenario has no indicator data: the answer is the prior's.")
    return {"text": f"{claims} {before}", "prior_only": p, "href": f"#hinge-{q['id']}"}


# --- Diagnostics and provenance ------------------------------------------------------------------


def diagnostics_context(d: dict) -> dict[str, Any]:
    """The verdict as a badge with a word (not colour alone), the numbers, and what to do."""
    verdict = d.get("verdict", "fail")
    label, meaning = VERDICTS.get(verdict, ("Unknown", "The verdict is missing; treat the run as failed."))
    worst = d.get("worst") or {}
    per_chain = d.get("divergences_per_chain") or []
    rows = [
        ("Verdict", label),
        ("Largest R-hat (want \u2264 1.01)", f"{fmt(d.get('max_rhat'), 3)} at {worst.get('rhat') or 'n/a'}"),
        ("Smallest bulk ESS", f"{fmt(d.get('min_ess_bulk'), 0)} at {worst.get('ess_bulk') or 'n/a'}"),
        ("Smallest tail ESS", f"{fmt(d.get('min_ess_tail'), 0)} at {worst.get('ess_tail') or 'n/a'}"),
        ("Divergent transitions", f"{d.get('divergences', 'n/a')}{per_chain_text(per_chain, d)}"),
        ("Sampler", str(d.get("sampler", "n/a"))),
        ("Chains \u00d7 draws (tuning steps)", f"{d.get('chains')} \u00d7 {d.get('draws')} ({d.get('tune')})"
         + fits_text(d)),
        ("Sampling time", f"{fmt(d.get('sampling_seconds'), 1)} s"),
        ("Leapfrog steps, tuning included (one gradient each)", _steps(d)),
    ]
    return {"verdict": verdict, "label": label, "meaning": meaning, "scope": SAMPLER_SCOPE, "rows": rows,
            "messages": list(d.get("messages") or []), "advice": list(ADVICE) if verdict != "ok" else []}


def fits_text(d: dict) -> str:
    """What sampling runs the numbers come from, when there are several."""
    fits = d.get("fits", 1)
    if fits <= 1:
        return ""
    reference = d.get("reference_fit")
    combinations = fits - 1 if reference else fits
    return (f", in each of {fits} fits: one per combination of competing hypotheses ({combinations})"
            + (", and a reference fit under broad priors that weighs them" if reference else ""))


def per_chain_text(per_chain: list[int], d: dict) -> str:
    """The divergences chain by chain, grouped fit by fit when there are several fits."""
    if not per_chain:
        return ""
    chains, fits = d.get("chains") or len(per_chain), d.get("fits", 1)
    if fits > 1 and len(per_chain) == chains * fits:
        groups = "; ".join(", ".join(str(x) for x in per_chain[i:i + chains]) for i in range(0, len(per_chain), chains))
        return f" (per chain, fit by fit: {groups})"
    return f" (per chain: {', '.join(str(x) for x in per_chain)})"


def _steps(d: dict) -> str:
    """The leapfrog steps and their mean per iteration (what a draw cost in gradients)."""
    steps, per = d.get("leapfrog_steps"), d.get("steps_per_iteration")
    if not steps or per is None:
        return "n/a"
    return f"{steps:,} ({per:.1f} per iteration)"


def code_text(code: dict | None) -> str:
    """forecast's version, with its git commit when it ran from a checkout."""
    if not code:
        return "n/a (not recorded by this run's version)"
    text = f"forecast {code.get('version', 'n/a')}"
    if code.get("commit"):
        text += f", git commit {code['commit']}" + (" with uncommitted changes" if code.get("modified") else "")
    return text


def provenance_context(run: Run) -> dict[str, Any]:
    """Where the numbers come from: the exact scenario file, seed, the code's version and
    commit, the versions of the libraries, the command, the date, and every file's sha256."""
    m = run.manifest
    try:
        scenario_text = run.scenario_file.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:  # unreadable, or not UTF-8 (the loader refuses such a copy too)
        warnings.warn(f"report: cannot read the run's scenario file ({exc})", RuntimeWarning, stacklevel=2)
        scenario_text = f"(the scenario file could not be read: {exc})"
    command = m.get("command")
    settings = m.get("settings") or {}
    files = m.get("files") or {}
    return {
        "scenario_path": m.get("scenario", ""),
        "scenario_text": scenario_text,
        "seed": m.get("seed", "n/a"),
        "created": m.get("created", "n/a"),
        "command": shlex.join(command) if isinstance(command, list) else str(command or "n/a"),
        "code": code_text(m.get("code") or ({"version": m["versions"]["forecast"]} if "forecast" in
                                            (m.get("versions") or {}) else None)),
        "renderer": code_text(code_version()),
        "settings": [(k, setting_shown(k, v)) for k, v in settings.items()],
        "versions": list((m.get("versions") or {}).items()),
        "inputs": list((m.get("inputs") or {}).items()),
        "outputs": [(name, digest) for name, digest in files.items()
                    if not name.startswith(("report/", "scenario/"))],
    }


# --- Pages ---------------------------------------------------------------------------------------


def overview_context(run: Run, shared: dict, out: Path) -> dict[str, Any]:
    """index.html, written into ``out``: the summary, every strategy side by side, and the
    shared sections."""
    s = run.summary
    strategies = shared["strategies"]
    outcomes = [n for n, v in s["nodes"].items() if v["role"] == "outcome"] or list(s["nodes"])
    return {
        **shared,
        "page": "overview",
        "title": "Overview",
        "nav": nav(shared, INDEX),
        "sections": section_links("overview"),
        "summary": summary_context(s, strategies, shared["baseline"]),
        "headline": headline_context(s, strategies, shared["baseline"]),
        "contrasts": contrasts_context(s, strategies, "overview"),
        "hinges": hinges_context(s, strategies),
        "trajectories": overview_trajectories(s, strategies, shared["baseline"], outcomes),
        "graph": graph_context(s, "overview"),
        "claims": claims_context(s),
        "has_evidence": bool(s.get("indicators")),
        "evidence": evidence_context(s, strategies, shared["baseline"]),
        "quality": quality_context(run, out),
    }


def quality_context(run: Run, out: Path) -> dict[str, Any]:
    """"How good are these forecasts?": the newest backtest of this scenario among the run's
    sibling folders (:func:`forecast.report.backtest.quality_panel`), linked from the report's
    folder ``out`` (a report rendered elsewhere with ``--out`` links to the same backtest)."""
    from forecast.report.backtest import quality_panel

    if not run.summary.get("indicators"):
        return {"found": False, "command": None}
    found = quality_panel(run.path.parent, run.summary["scenario"]["name"], run.manifest.get("inputs", {}),
                          str(run.manifest.get("scenario", "SCENARIO")))
    if found["found"]:
        page = run.path.parent.resolve() / found["folder"] / "report" / "index.html"
        found["href"] = Path(os.path.relpath(page, Path(out).resolve())).as_posix()
    return found


def strategy_context(run: Run, shared: dict, sid: str) -> dict[str, Any]:
    """strategy-<id>.html: one strategy against the baseline, every node's trajectory."""
    s = run.summary
    strategy = next(x for x in shared["strategies"] if x["id"] == sid)
    base = shared["baseline"]
    columns = [strategy] + ([base] if base and base["id"] != sid else [])
    reference = base if base and base["id"] != sid else None
    shown, left_out = panel_nodes(s, sid, base["id"] if base else None)
    return {
        **shared,
        "page": "strategy",
        "title": strategy["label"],
        "strategy": strategy,
        "nav": nav(shared, strategy["href"]),
        "sections": section_links("strategy"),
        "shared_sections": SHARED_SECTIONS,
        "headline": headline_context(s, columns, base, read=[sid]),
        "contrasts": contrasts_context(s, shared["strategies"], sid, only=sid),
        "trajectories": strategy_trajectories(s, strategy, reference, shown),
        "left_out": [s["nodes"][n]["label"] for n in left_out], "node_count": len(s["nodes"]),
        "graph": graph_context(s, sid, strategy),
    }
