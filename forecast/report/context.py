"""What each page of the report shows: plain dicts from ``summary.json`` and the manifest.

Every number shown comes from the summary, formatted here, never recomputed; the templates
only loop and branch. Figures are listed with :func:`forecast.report.drawing.figure` and
drawn together later.
"""

from __future__ import annotations

import re
import shlex
import warnings
from importlib import resources
from typing import Any

from markupsafe import Markup

from forecast.report import figures as plots
from forecast.report.drawing import figure
from forecast.results.store import Run

INDEX = "index.html"
GENERATOR = "forecast report"  # marks a directory this module wrote, so replace=True never deletes anything else
SECTIONS = (
    ("headline", "Answers"),
    ("contrasts", "Strategy contrasts"),
    ("trajectories", "Trajectories"),
    ("graph", "Causal graph"),
    ("claims", "Claims"),
    ("evidence", "Evidence fit"),
    ("diagnostics", "Diagnostics"),
    ("provenance", "Provenance"),
)
VERDICTS = {
    "ok": ("OK", "The sampler shows no sign of trouble; the numbers can be read as they are."),
    "warn": ("Warning", "Read the numbers with care: they may move when the run is repeated with more draws."),
    "fail": ("Fail", "Do not rely on these numbers yet: the sampler did not explore the posterior reliably."),
}
ADVICE = (
    "Re-run with more draws and tuning steps, e.g. forecast run SCENARIO --draws 2000 --tune 2000.",
    "For divergences, raise --target-accept (e.g. 0.95) and look for a prior that conflicts with an indicator.",
    "If R-hat stays high, look at claims with competing hypotheses: separated modes make chains disagree.",
    "In scripts, use forecast run --strict so that an unclean run exits with code 3.",
)


def stylesheet() -> Markup:
    """The CSS, inlined into each page (our own file, so it is trusted markup)."""
    return Markup(resources.files("forecast.report").joinpath("templates", "report.css").read_text(encoding="utf-8"))


# --- Formatting (numbers are formatted here, never in templates) ---------------------------


def fmt(x: float | None, digits: int = 2) -> str:
    """A number for display; missing values (NaN is stored as null) show as "n/a"."""
    return "n/a" if x is None else f"{x:.{digits}f}"


def fmt_interval(lo: float | None, hi: float | None, digits: int = 2) -> str:
    return f"[{fmt(lo, digits)}, {fmt(hi, digits)}]"


def signed(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{x:+.{digits}f}"


def safe_url(url: str | None) -> str | None:
    """Only http(s) links reach an href: a ``javascript:`` URL in a data file is shown as text."""
    return url if url and re.match(r"^https?://", url.strip(), re.I) else None


def last_level(s: dict, node: str) -> str:
    """A node's posterior median in the last history year, with its 90% interval (the level a
    strategy's setting starts from)."""
    traj = s["trajectories"].get(node)
    if not traj:
        return "n/a"
    stats = next(iter(traj["by_strategy"].values()))
    i = traj["years"].index(s["scenario"]["start_year"] - 1)
    return f"{fmt(stats['median'][i], 0)} {fmt_interval(stats['q05'][i], stats['q95'][i], 0)}"


# --- Context shared by all pages -------------------------------------------------------------


def shared_context(run: Run) -> dict[str, Any]:
    """What every page shows the same way: strategies, claims, diagnostics, provenance."""
    s = run.summary
    strategies = strategy_list(s)
    return {
        "css": stylesheet(),
        "scenario": scenario_info(s),
        "strategies": strategies,
        "baseline": next((x for x in strategies if x["baseline"]), None),
        "claims": claims_context(s),
        "diagnostics": diagnostics_context(s["diagnostics"]),
        "provenance": provenance_context(run),
        "has_evidence": bool(s.get("indicators")),
        # the fit is the same on every page: drawn once with every strategy's forecast
        "evidence": evidence_context(s, strategies, "all"),
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
    out = []
    for i, st in enumerate(s["strategies"]):
        sets = [{"lever": lever, "label": nodes.get(lever, {}).get("label", lever), "value": v["setting"],
                 "unit": nodes.get(lever, {}).get("unit", ""), "last": last_level(s, lever)}
                for lever, v in st["interventions"].items()]
        out.append({"id": st["id"], "label": st["label"] or st["id"], "description": st.get("description", ""),
                    "baseline": bool(st.get("baseline")), "index": i, "href": f"strategy-{st['id']}.html",
                    "interventions": sets})
    return out


def nav(shared: dict, current: str) -> list[dict[str, Any]]:
    pages = [{"href": INDEX, "label": "Overview", "current": current == INDEX}]
    pages += [{"href": x["href"], "label": x["label"] + (" (baseline)" if x["baseline"] else ""),
               "current": current == x["href"]} for x in shared["strategies"]]
    return pages


# --- Headline: questions x strategies ----------------------------------------------------------

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
    """The question as a statement, e.g. "Sino-Russian partnership depth in 2029 is below its
    2024 level", from the question's structured fields in the summary."""
    label, unit = subject_info(s, question["subject"])
    if question.get("reference_year") is not None:
        target = f"its {question['reference_year']} level"
        change = question.get("change") or 0
        if change:
            target += f" {'plus' if change > 0 else 'minus'} {with_unit(f'{abs(change):g}', unit)}"
    else:
        target = with_unit(f"{question['threshold']:g}", unit)
    return f"{label} in {question['year']} is {question['comparison']} {target}"


def reading(text: str, strategy: dict, cell: dict, base: dict | None, base_cell: dict | None) -> str:
    """One plain sentence per question and strategy, with the baseline's probability for scale."""
    p = f"{fmt(cell['probability'])} \u00b1 {fmt(cell['mcse'], 3)}"
    if base is None:
        tail = ""
    elif strategy["id"] == base["id"]:
        return f"Under {strategy['label']} (the baseline), {text} with probability {p}."
    else:
        tail = f" (baseline {base['label']}: {fmt(base_cell['probability'])})"
    return f"Under {strategy['label']}, {text} with probability {p}{tail}."


def headline_context(s: dict, columns: list[dict], baseline: dict | None,
                     read: list[str] | None = None) -> dict[str, Any]:
    """Rows of questions, one cell per strategy column, and a plain-language reading for each
    strategy in ``read`` (default: every column)."""
    rows = []
    for q in s["questions"]:
        text = statement(s, q)
        cells, readings = [], []
        base_cell = q["by_strategy"].get(baseline["id"]) if baseline else None
        for st in columns:
            r = q["by_strategy"][st["id"]]
            p = r["probability"]
            cells.append({"strategy": st["id"], "probability": p, "mcse": r["mcse"], "p": fmt(p),
                          "mcse_text": fmt(r["mcse"], 3), "bar": 0 if p is None else round(100 * p, 1)})
            if read is None or st["id"] in read:
                readings.append(reading(text, st, r, baseline, base_cell))
        rows.append({"id": q["id"], "text": q["text"], "rule": q.get("rule", ""), "year": q["year"],
                     "resolution": q.get("resolution") or "", "cells": cells, "readings": readings})
    return {"columns": columns, "rows": rows, "open": read is not None}


# --- Contrasts ----------------------------------------------------------------------------------


def contrasts_context(s: dict, strategies: list[dict], page: str, only: str | None = None) -> dict[str, Any]:
    """Per outcome: strategy minus baseline in the final forecast year, as a table and plots.

    The overview draws one figure per outcome (every strategy); a strategy page draws one
    figure with a panel per outcome (that strategy only).
    """
    by_id = {x["id"]: x for x in strategies}
    outcomes = []
    for nid, c in s.get("contrasts", {}).items():
        base = by_id.get(c["baseline"], {"label": c["baseline"]})
        rows = [contrast_row(sid, e, by_id) for sid, e in c["by_strategy"].items() if only is None or sid == only]
        if rows:
            outcomes.append({"id": nid, "label": c["label"], "unit": c["unit"], "desirable": c["desirable"],
                             "year": c["years"][-1], "baseline_label": base["label"], "rows": rows, "summary": c})
    if not outcomes:
        return {"outcomes": [], "figures": []}
    base_label = outcomes[0]["baseline_label"]
    groups = [[o] for o in outcomes] if only is None else [outcomes]
    figures = [figure(f"contrast-{page}-{'-'.join(o['id'] for o in g) if only is None else 'all'}",
                      plots.contrast_chart, panels=[{"contrast": o["summary"], "rows": o["rows"]} for o in g],
                      baseline_label=base_label) for g in groups]
    return {"outcomes": outcomes, "figures": figures}


def contrast_row(sid: str, e: dict, by_id: dict[str, dict]) -> dict[str, Any]:
    """One strategy's difference from the baseline in the final forecast year (the last entry)."""
    st = by_id.get(sid, {"label": sid, "index": 0, "href": ""})
    p_better = e.get("p_better")
    return {
        "strategy": sid, "label": st["label"], "index": st["index"], "href": st["href"],
        "median": e["median"][-1], "q05": e["q05"][-1], "q25": e["q25"][-1], "q75": e["q75"][-1],
        "q95": e["q95"][-1], "median_text": signed(e["median"][-1]),
        "interval_text": f"[{signed(e['q05'][-1])}, {signed(e['q95'][-1])}]",
        "p_better": None if p_better is None else p_better[-1],
        "p_better_text": "n/a (no desirable direction)" if p_better is None else fmt(p_better[-1]),
    }


# --- Trajectories, graph, evidence --------------------------------------------------------------


def trajectories_context(s: dict, strategies: list[dict], node_ids: list[str], reference: dict | None,
                         page: str, *, grid: bool) -> list[dict[str, Any]]:
    """Fan charts, the given strategies overlaid (history drawn once): one figure per node,
    or with ``grid`` one figure of small multiples (far quicker to draw than many figures)."""
    start = s["scenario"]["start_year"]
    nodes = [s["trajectories"][nid] for nid in node_ids]
    groups = [nodes] if grid else [[n] for n in nodes]
    names = [page] if grid else [f"{page}-{nid}" for nid in node_ids]
    return [figure(f"traj-{name}", plots.fan_chart, nodes=g, strategies=strategies, start_year=start,
                   reference=reference, ncols=2 if grid else 1) for name, g in zip(names, groups)]


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


def graph_context(s: dict, page: str, strategy: dict | None = None) -> dict[str, Any]:
    """The causal graph; on a strategy page the levers it sets are highlighted."""
    nodes = {nid: {"label": n["label"], "role": n["role"]} for nid, n in s["nodes"].items()}
    claims = [{"cause": c["cause"], "effect": c["effect"], "median": c["posterior"]["median"]}
              for c in s["claims"].values()]
    highlight = {i["lever"]: f"set {i['value']}" for i in strategy["interventions"]} if strategy else {}
    roles = {role: [n["label"] for n in nodes.values() if n["role"] == role] for role in ("lever", "factor", "outcome")}
    return {"figure": figure(f"graph-{page}", plots.causal_graph, nodes=nodes, claims=claims, highlight=highlight),
            "roles": roles, "highlight": [s["nodes"][k]["label"] for k in highlight if k in s["nodes"]]}


def evidence_context(s: dict, strategies: list[dict], page: str) -> list[dict[str, Any]]:
    """Per indicator: where its data come from, each observation with its source, and the fit plot."""
    start = s["scenario"]["start_year"]
    out = []
    for iid, ind in s.get("indicators", {}).items():
        obs = ind["observed"]
        rows = [{"year": y, "value": f"{v:g}", "source": src, "url": safe_url(src)}
                for y, v, src in zip(obs["years"], obs["values"], obs.get("sources") or [""] * len(obs["years"]))]
        node = s["nodes"].get(ind["node"], {})
        out.append({
            "id": iid, "label": ind["label"], "node": ind["node"], "node_label": node.get("label", ind["node"]),
            "unit": ind["unit"], "source": ind["source"], "url": safe_url(ind.get("url")),
            "transform": ind.get("transform", ""), "direction": ind.get("direction", "+"),
            "file": ind.get("file", ""), "column": ind.get("column", ""), "observations": rows,
            "figure": figure(f"evidence-{page}-{iid}", plots.evidence_chart, indicator=ind, strategies=strategies,
                             start_year=start),
        })
    return out


# --- Claims ------------------------------------------------------------------------------------


def claim_verdict(prior_p: float | None, post_p: float | None, has_evidence: bool) -> str:
    """A plain reading of how P(sign as claimed) moved, from the two stored probabilities."""
    if not has_evidence:
        return "No indicator data in this scenario: the posterior is the prior (up to sampling noise)."
    if prior_p is None or post_p is None:
        return "The probability of the claimed sign is not available."
    if post_p > prior_p + 0.05:
        return "The evidence supports the claimed sign more than the prior did."
    if post_p < prior_p - 0.05:
        return "The evidence weighs against the claimed sign, compared with the prior."
    return "The evidence says little about this claim: P(sign as claimed) barely moved."


def claims_context(s: dict) -> dict[str, Any]:
    """Every claim with its quote, prior vs posterior, and competing hypotheses' weights."""
    nodes = s["nodes"]
    has_evidence = bool(s.get("indicators"))
    items = []
    for cid, c in s["claims"].items():
        pr, po = c["prior"], c["posterior"]
        hyps = [{"id": hid, "label": h["label"] or hid, "quote": h.get("quote", ""), "prior": h["prior"],
                 "prior_weight": fmt(h["prior_weight"]), "posterior_weight": fmt(h["posterior_weight"])}
                for hid, h in (c.get("hypotheses") or {}).items()]
        items.append({
            "id": cid, "label": c["label"], "quote": c.get("quote", ""),
            "cause": nodes.get(c["cause"], {}).get("label", c["cause"]),
            "effect": nodes.get(c["effect"], {}).get("label", c["effect"]),
            "lag": "the next year" if c["lag"] == 1 else "the same year",
            "sign": "raise" if c["sign"] == "+" else "lower",
            "prior_dist": pr.get("dist") or "mixture of the competing hypotheses below",
            "prior_median": fmt(pr["q50"]), "prior_interval": fmt_interval(pr["q05"], pr["q95"]),
            "posterior_median": fmt(po["median"]), "posterior_interval": fmt_interval(po["q05"], po["q95"]),
            "prior_p_sign": fmt(pr["p_sign"]), "posterior_p_sign": fmt(po["p_sign"]),
            "verdict": claim_verdict(pr["p_sign"], po["p_sign"], has_evidence),
            "hypotheses": hyps,
        })
    plot_input = [{"label": c["label"], "prior": c["prior"], "posterior": c["posterior"]} for c in s["claims"].values()]
    fig = figure("claims", plots.claims_chart, claims=plot_input) if plot_input else None
    return {"entries": items, "figure": fig, "has_evidence": has_evidence}


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
        ("Divergent transitions", f"{d.get('divergences', 'n/a')}"
                                  + (f" (per chain: {', '.join(str(x) for x in per_chain)})" if per_chain else "")),
        ("Sampler", str(d.get("sampler", "n/a"))),
        ("Chains \u00d7 draws (tuning steps)", f"{d.get('chains')} \u00d7 {d.get('draws')} ({d.get('tune')})"
         + (f", in each of {d['fits']} fits (one per combination of competing hypotheses)" if d.get("fits", 1) > 1
            else "")),
        ("Sampling time", f"{fmt(d.get('sampling_seconds'), 1)} s"),
        ("Leapfrog steps, tuning included (one gradient each)", _steps(d)),
    ]
    return {"verdict": verdict, "label": label, "meaning": meaning, "rows": rows,
            "messages": list(d.get("messages") or []), "advice": list(ADVICE) if verdict != "ok" else []}


def _steps(d: dict) -> str:
    """The leapfrog steps and their mean per iteration (what a draw cost in gradients)."""
    steps, per = d.get("leapfrog_steps"), d.get("steps_per_iteration")
    if not steps or per is None:
        return "n/a"
    return f"{steps:,} ({per:.1f} per iteration)"


def provenance_context(run: Run) -> dict[str, Any]:
    """Where the numbers come from: the exact scenario file, seed, versions, command, date."""
    m = run.manifest
    try:
        scenario_text = run.scenario_file.read_text(encoding="utf-8")
    except OSError as exc:
        warnings.warn(f"report: cannot read the run's scenario file ({exc})", RuntimeWarning, stacklevel=2)
        scenario_text = f"(the scenario file could not be read: {exc})"
    command = m.get("command")
    settings = m.get("settings") or {}
    return {
        "scenario_path": m.get("scenario", ""),
        "scenario_text": scenario_text,
        "seed": m.get("seed", "n/a"),
        "created": m.get("created", "n/a"),
        "command": shlex.join(command) if isinstance(command, list) else str(command or "n/a"),
        "settings": [(k, str(v)) for k, v in settings.items()],
        "versions": list((m.get("versions") or {}).items()),
        "inputs": list((m.get("inputs") or {}).items()),
    }


# --- Pages ---------------------------------------------------------------------------------------


def overview_context(run: Run, shared: dict) -> dict[str, Any]:
    """index.html: every strategy side by side."""
    s = run.summary
    strategies = shared["strategies"]
    outcomes = [n for n, v in s["nodes"].items() if v["role"] == "outcome"] or list(s["nodes"])
    return {
        **shared,
        "page": "overview",
        "title": "Overview",
        "nav": nav(shared, INDEX),
        "sections": SECTIONS,
        "headline": headline_context(s, strategies, shared["baseline"]),
        "contrasts": contrasts_context(s, strategies, "overview"),
        "trajectories": trajectories_context(s, strategies, outcomes, None, "overview", grid=False),
        "graph": graph_context(s, "overview"),
    }


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
        "sections": SECTIONS,
        "headline": headline_context(s, columns, base, read=[sid]),
        "contrasts": contrasts_context(s, shared["strategies"], sid, only=sid),
        "trajectories": trajectories_context(s, [strategy], shown, reference, sid, grid=True),
        "left_out": [s["nodes"][n]["label"] for n in left_out], "node_count": len(s["nodes"]),
        "graph": graph_context(s, sid, strategy),
    }
