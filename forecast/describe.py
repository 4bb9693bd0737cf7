"""Plain-text views for the terminal: what a scenario declares, and a run's answers."""

from __future__ import annotations

from forecast.scenario.domain import Scenario


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
            unit = f" {ind.unit}" if ind.unit else ""
            read_as = f"; read as {ind.read_as}" if ind.read_as else ""
            lines.append(f"  {iid}: {ind.node} <- {ind.file.name}:{ind.column} ({ind.transform}, "
                         f"{len(ind.years)} years {ind.years.min()}-{ind.years.max()}, values "
                         f"{_exact(ind.values.min())} to {_exact(ind.values.max())}{unit}{read_as})")
    lines += ["", "strategies"]
    for st in s.strategies:
        sets = ", ".join(f"{k} {v.describe(s.nodes[k].unit, s.start_year - 1, s.start_year)}"
                         for k, v in st.interventions.items())
        lines.append(f"  {st.id}{' (baseline)' if st.baseline else ''}: {sets or 'no intervention'}")
    lines += ["", "questions"]
    for q in s.questions:
        lines.append(f"  {q.id}: {q.describe_rule()}")
    return "\n".join(lines)


def _exact(value: float) -> str:
    """A number exactly as the model has it (the shortest text that reads back as it)."""
    text = repr(float(value))
    return text.removesuffix(".0")


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
