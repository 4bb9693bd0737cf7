"""Plain-text views for the terminal: what a scenario declares, a run's answers, and its
scored questions with the ledger."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from forecast.scenario.domain import Scenario

if TYPE_CHECKING:  # the scoring package reads run directories (xarray): only for `forecast score`
    from forecast.scoring import Ledger, Scored


def describe_scenario(s: Scenario) -> str:
    """What ``forecast validate`` prints: counts, the graph's edges with their priors, data."""
    lines = [
        f"{s.path}: OK",
        f"scenario  {s.name}",
        f"years     history {s.history_start}-{s.start_year - 1}, strategies from {s.start_year}, horizon {s.horizon}",
        f"counts    {len(s.nodes)} nodes ({len(s.levers)} levers, {len(s.outcomes)} outcomes), "
        f"{len(s.claims)} claims, {len(s.indicators)} indicators, {len(s.strategies)} strategies, "
        f"{len(s.questions)} questions",
        "",
        "claims (cause -> effect, lag: prior on the long-run effect)",
    ]
    for c in s.claims:
        lines.append(f"  {c.id}: {c.cause} -> {c.effect}, lag {c.lag}")
        if c.hypotheses:
            for h in c.hypotheses:
                lines.append(f"      hypothesis {h.id} (weight {h.weight:.2f}): {h.prior.describe()}")
        else:
            lines.append(f"      {c.prior.describe()}")
    if s.indicators:
        lines += ["", "indicators (node <- data)"]
        for iid, ind in s.indicators.items():
            lines.append(f"  {iid}: {ind.node} <- {ind.file.name}:{ind.column} ({ind.transform}, "
                         f"{len(ind.years)} years {ind.years.min()}-{ind.years.max()})")
    lines += ["", "strategies"]
    for st in s.strategies:
        sets = ", ".join(f"{k} {v.describe(s.nodes[k].unit, s.start_year - 1, s.start_year)}"
                         for k, v in st.interventions.items())
        lines.append(f"  {st.id}{' (baseline)' if st.baseline else ''}: {sets or 'no intervention'}")
    lines += ["", "questions"]
    for q in s.questions:
        lines.append(f"  {q.id}: {q.describe_rule()}")
        if q.resolution:
            lines.append(f"      resolution: {q.resolution}")
    return "\n".join(lines)


def results_table(summary: dict) -> str:
    """Questions x strategies: probability ± MCSE, then the diagnostics verdict."""
    strategies = [s["id"] for s in summary["strategies"]]
    width = max([len("question")] + [len(q["id"]) for q in summary["questions"]])
    cols = [max(len(s), 13) for s in strategies]
    head = "question".ljust(width) + "  " + "  ".join(s.rjust(c) for s, c in zip(strategies, cols))
    lines = [head, "-" * len(head)]
    for q in summary["questions"]:
        cells = []
        for s, c in zip(strategies, cols):
            r = q["by_strategy"][s]
            cells.append(f"{_num(r['probability'], '.2f')} ± {_num(r['mcse'], '.3f')}".rjust(c))
        lines.append(q["id"].ljust(width) + "  " + "  ".join(cells))
    d = summary["diagnostics"]
    lines += ["", f"diagnostics: {d['verdict'].upper()}  (max R-hat {_num(d['max_rhat'], '.3f')}, min ESS bulk "
              f"{_num(d['min_ess_bulk'], '.0f')}, tail {_num(d['min_ess_tail'], '.0f')}, divergences {d['divergences']})"]
    if d["verdict"] != "ok":
        lines += [f"  ! {m}" for m in d["messages"]]
    return "\n".join(lines)


def _num(x: float | None, spec: str) -> str:
    """A number for the table; None (not computable, e.g. R-hat of one chain) shows as n/a."""
    return "n/a" if x is None else format(x, spec)


# --- Scored questions (forecast score, forecast ledger) ------------------------------------------


def scored_table(scored: Scored) -> str:
    """What ``forecast score`` scored: each question's forecast, outcome and scores."""
    run, entries = scored.run, scored.entries
    base = " (the baseline)" if entries and entries[0]["baseline"] else ""
    lines = [f"run {run.path} (scenario {run.summary['scenario']['name']}, created {run.manifest.get('created')})",
             f"enacted strategy: {scored.strategy}{base}", ""]
    lines += _forecast_rows(entries, [("question", lambda e: e["question"]["id"])])
    lines += ["", f"{len(entries)} question{'s' if len(entries) != 1 else ''} scored; "
              f"ledger: {scored.ledger.path} ({len(scored.ledger.entries)} scored forecasts)"]
    return "\n".join(lines)


def ledger_view(ledger: Ledger) -> str:
    """Every question in the ledger with its forecasts over time, then the reliability table
    (or how many more scored forecasts it needs)."""
    by_question = ledger.by_question()
    lines = [f"ledger {ledger.path}: {len(ledger.entries)} scored forecasts of {len(by_question)} "
             f"question{'s' if len(by_question) != 1 else ''}"]
    for qid, entries in by_question.items():
        q = entries[-1]["question"]
        lines += ["", f"{qid}: {q['text']}"]
        if q.get("rule"):
            lines.append(f"  rule        {q['rule']}")
        if q.get("resolution"):
            lines.append(f"  resolution  {q['resolution']}")
        seen = []
        for e in entries:
            said = (e.get("resolved_value"), e.get("resolution_date"), e.get("source"))
            if said not in seen:
                seen.append(said)
                lines.append(f"  resolved    {_resolved(e)} on {said[1]} ({said[2]})")
        runs = [("run created", lambda e: e["run"].get("created") or "?"),
                ("run", lambda e: Path(e["run"].get("path") or "?").name)]
        lines += ["  " + row for row in _forecast_rows(entries, runs)]
    lines += [""] + reliability_table(ledger)
    return "\n".join(lines)


def reliability_table(ledger: Ledger) -> list[str]:
    from forecast.scoring.scores import RELIABILITY_MIN

    table = ledger.reliability()
    if table is None:
        return [f"reliability: {len(ledger.entries)} scored forecast{'s' if len(ledger.entries) != 1 else ''}; "
                f"the table needs at least {RELIABILITY_MIN}"]
    lines = [f"reliability ({table.count} scored forecasts, binned by their probability)",
             f"  {'forecast':<9}  {'count':>5}  {'mean forecast':>13}  {'observed frequency':>18}"]
    for b in table.bins:
        lines.append(f"  {b.low:.1f}-{b.high:.1f}    {b.count:>5}  {_num(b.mean_forecast, '.2f'):>13}  "
                     f"{_num(b.observed_frequency, '.2f'):>18}")
    lines.append(f"  mean Brier score {table.brier:.3f}, mean log score {table.log_score:.3f} "
                 "(lower is better; always 0.5 would score 0.250 and 0.693)")
    return lines


def _forecast_rows(entries: list[dict], lead: list[tuple[str, Callable[[dict], str]]]) -> list[str]:
    """A table of scored forecasts: the ``lead`` columns (a header and how to read each entry),
    then the strategy, probability ± MCSE, outcome, Brier and log scores."""
    columns = [*lead, ("strategy", lambda e: e["strategy"])]
    widths = [max([len(h)] + [len(read(e)) for e in entries]) for h, read in columns]
    head = "  ".join(f"{h:<{w}}" for (h, _), w in zip(columns, widths))
    head += f"  {'forecast':>14}  {'outcome':<7}  {'Brier':>6}  {'log':>6}"
    rows = [head, "-" * len(head)]
    for e in entries:
        p = f"{e['probability']:.2f} ± {_num(e.get('mcse'), '.3f')}"
        rows.append("  ".join(f"{read(e):<{w}}" for (_, read), w in zip(columns, widths))
                    + f"  {p:>14}  {'yes' if e['outcome'] else 'no':<7}  {e['brier']:>6.3f}  {e['log_score']:>6.3f}")
    return rows


def _resolved(entry: dict) -> str:
    value = entry.get("resolved_value")
    outcome = "yes" if entry["outcome"] else "no"
    return outcome if value in ("yes", "no") else f"{value:g} ({outcome})"
