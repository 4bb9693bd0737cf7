"""Plain-text views for the terminal: what a scenario declares, a run's answers, and its
scored questions with the ledger."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from forecast.scenario.domain import Scenario

if TYPE_CHECKING:  # the scoring package reads run directories (xarray): only for `forecast score`
    from forecast.scoring import Ledger, Scored
    from forecast.sensitivity.diff import RunDiff


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
            early = ind.before_history
            span = f"{early[0]}" if early and early[0] == early[-1] else f"{early[0]}-{early[-1]}" if early else ""
            left_out = (f"; {len(early)} earlier row{'s' if len(early) != 1 else ''} ({span}) left out, before "
                        f"history_start {s.history_start}" if early else "")
            lines.append(f"  {iid}: {ind.node} <- {ind.file.name}:{ind.column} ({ind.transform}, "
                         f"{len(ind.years)} years {ind.years.min()}-{ind.years.max()}, values "
                         f"{_exact(ind.values.min())} to {_exact(ind.values.max())}{unit}{read_as}{left_out})")
    lines += ["", "strategies"]
    for st in s.strategies:
        sets = ", ".join(f"{k} {s.describe_setting(k, v)}" for k, v in st.interventions.items())
        lines.append(f"  {st.id}{' (baseline)' if st.baseline else ''}: {sets or 'no intervention'}")
    lines += ["", "questions"]
    for q in s.questions:
        sought = f"answer sought: {q.desirable}" if q.desirable else "no answer sought: no best strategy"
        lines.append(f"  {q.id}: {q.describe_rule()}  ({sought})")
        if q.resolution:
            lines.append(f"      resolution: {q.resolution}")
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
    lines = [head, "-" * len(head)] if summary["questions"] else [
        "the scenario asks no questions: the report has every node's forecast under each strategy"]
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


# --- Backtests (forecast backtest) ------------------------------------------------------------------


def backtest_table(summary: dict) -> str:
    """What ``forecast backtest`` found: coverage and CRPS per forecaster, the skill, the
    indicators per row, the skipped ones and any origin whose sampling was not clean."""
    from forecast.backtest.evaluate import BASELINE_LABELS
    from forecast.report.backtest import headline

    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{100 * x:.0f}%"

    names = {"model": "model", **BASELINE_LABELS}
    width = max(len(n) for n in names.values())
    lines = [headline(summary), "", f"{'forecaster'.ljust(width)}  50% held  80% held  90% held  mean CRPS "
             "(in each indicator's typical yearly step)"]
    for f, cov in summary["coverage"].items():
        lines.append(f"{names[f].ljust(width)}  {pct(cov['50']):>8}  {pct(cov['80']):>8}  {pct(cov['90']):>8}  "
                     f"{_num(summary['skill']['crps'].get(f), '.3f'):>9}")
    width = max(len("indicator"), *(len(i) for i in summary["by_indicator"]))
    lines += ["", f"{'indicator'.ljust(width)}  points  90% held  skill (90% interval over origins)"]
    for iid, row in summary["by_indicator"].items():
        sk = row["skill"]
        interval = sk.get("interval")
        lines.append(f"{iid.ljust(width)}  {sk['points']:>6}  {pct(row['coverage']['90']):>8}  "
                     f"{_num(sk['skill'], '+.2f'):>5}"
                     + (f" ({interval[0]:+.2f} to {interval[1]:+.2f})" if interval else ""))
    if summary["skipped"]:
        left_out: dict[str, list[str]] = {}
        for s in summary["skipped"]:
            left_out.setdefault(s["indicator"], []).append(str(s["origin"]))
        lines += ["", "left out where their history before the origin was too short or did not vary (from these "
                  "origins):"]
        lines += [f"  {iid}: {', '.join(origins)}" for iid, origins in left_out.items()]
    unclean = {o: f for o, f in summary["fits"].items() if f["verdict"] not in ("ok", "not fitted")}
    if unclean:
        lines += ["", "origins whose sampling was not clean (the page's last section gives the same numbers):"]
        for o, f in unclean.items():  # the page's numbers, then every problem its diagnostics found
            numbers = [f"max R-hat {_num(f['max_rhat'], '.3f')}" if "max_rhat" in f else "",
                       f"min ESS bulk {_num(f['min_ess_bulk'], '.0f')}" if "min_ess_bulk" in f else "",
                       f"tail {_num(f['min_ess_tail'], '.0f')}" if "min_ess_tail" in f else "",
                       f"divergences {f['divergences']}" if "divergences" in f else ""]
            shown = ", ".join(n for n in numbers if n)
            lines.append(f"  {o}: {f['verdict'].upper()}" + (f"  ({shown})" if shown else ""))
            lines += [f"    ! {m}" for m in f.get("messages") or []]
    return "\n".join(lines)


#: Up to this many variants (the scenario as written included), ``forecast sweep`` prints each
#: one's answers side by side; beyond, each strategy's range over them (``sweep.nc`` has all).
SIDE_BY_SIDE = 6


def sweep_table(ds) -> str:
    """What ``forecast sweep`` found: per question, each strategy's probability under each
    variant (a few) or as written and its range over the variants (many); the variants that
    flip a best strategy or failed."""
    from forecast.sweeps.results import flips, kind_of_flip

    lines = []
    names = [str(v) for v in ds["variant"].values]
    width = max(len(str(s)) for s in ds["strategy"].values) + 2
    for q in ds["question"].values:
        p = ds["probability"].sel(question=q)
        lines.append(f"{q}:")
        if len(names) <= SIDE_BY_SIDE:
            cols = [max(len(n), 4) + 2 for n in names]
            lines.append(f"  {'':<{width}}" + "".join(f"{n:>{c}}" for n, c in zip(names, cols)))
            for s in ds["strategy"].values:
                cells = (f"{_num(_finite(x), '.2f'):>{c}}" for x, c in zip(p.sel(strategy=s).values, cols))
                lines.append(f"  {str(s):<{width}}" + "".join(cells))
        else:
            for s in ds["strategy"].values:
                v = p.sel(strategy=s).values
                lines.append(f"  {str(s):<32} as written {_num(_finite(v[0]), '.2f')}, over the variants "
                             f"{_num(_finite(np.nanmin(v)), '.2f')} to {_num(_finite(np.nanmax(v)), '.2f')}")
        changed = [f for f in flips(ds) if f["question"] == str(q)]
        flipped = [f for f in changed if kind_of_flip(f) == "flip"]
        unchosen = [f for f in changed if kind_of_flip(f) == "unchosen"]
        if flipped:
            lines.append(f"  best as written {changed[0]['reference']}; another is best under: "
                         + "; ".join(f"{f['variant']} ({f['best']})" for f in flipped))
        if unchosen:
            lines.append(f"  as written no strategy is clearly best ({changed[0]['reference']} tied with "
                         f"{', '.join(changed[0]['reference_tied'])}), so there is no choice to flip; another leads "
                         "it beyond Monte Carlo error under: " + "; ".join(f"{f['variant']} ({f['best']})"
                                                                           for f in unchosen))
        ties = [f for f in changed if kind_of_flip(f) == "tie"]
        if ties:
            lines.append(f"  (under {', '.join(f['variant'] for f in ties)} another strategy is best, tied within "
                         "Monte Carlo error with the one best as written)")
    failed = [f"{v}: {e}" for v, e in zip(ds["variant"].values, ds["error"].values) if str(e)]
    unclean = [str(v) for v, d in zip(ds["variant"].values, ds["verdict"].values) if str(d) not in ("ok", "failed")]
    if failed:
        lines += ["", "failed variants:"] + [f"  {f}" for f in failed]
    if unclean:
        lines += ["", "variants whose sampling diagnostics are not clean:"] + [f"  {v}" for v in unclean]
    return "\n".join(lines)


def _finite(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def calibration_table(summary: dict) -> str:
    """What ``forecast calibrate`` found: per parameter the uniformity test of its ranks, the
    flagged ones, and how the fits went."""
    from forecast.calibration.sbc import caveats

    u = summary["uniformity"]
    width = max([len("parameter"), *(len(p) for p in u["parameters"])])
    lines = [f"{summary['completed']} of {summary['sims']} simulations fitted; ranks among {summary['L']} draws; "
             f"{u['method']}, family-wise alpha {u['alpha']}", "",
             f"{'parameter'.ljust(width)}  p-value  Holm p  mean rank  outer tenths  uniform?"]
    for label, p in u["parameters"].items():
        lines.append(f"{label.ljust(width)}  {p['p_value']:7.3f}  {p['p_holm']:6.3f}  {p['mean_rank']:9.2f}  "
                     f"{p['tails']:12.2f}  {'NO (flagged)' if p['flagged'] else 'yes'}")
    limits = caveats(summary)
    verdict = "every parameter's ranks are uniform" + (", with these limits:" if limits else "")
    lines += ["", f"flagged: {', '.join(u['flagged'])}" if u["flagged"] else verdict]
    lines += [f"  ! {text}" for text in limits]
    v = summary["verdicts"]
    lines.append(f"fits: {v['ok']} ok, {v['warn']} warn, {v['fail']} fail; {len(summary['errors'])} errors")
    return "\n".join(lines)


# --- Scored questions (forecast score, forecast ledger) ------------------------------------------


def scored_table(scored: Scored) -> str:
    """What ``forecast score`` scored: each question's forecast, outcome and scores."""
    run, entries = scored.run, scored.entries
    base = " (the baseline)" if entries and entries[0]["baseline"] else ""
    lines = [f"run {run.path} (scenario {run.summary['scenario']['name']}, created {run.manifest.get('created')})",
             f"enacted strategy: {scored.strategy}{base}", ""]
    lines += _forecast_rows(entries, [("question", lambda e: e["question"]["id"])])
    lines += ["", f"{len(entries)} question{'s' if len(entries) != 1 else ''} scored; "
              f"ledger: {scored.ledger.path} ({len(scored.ledger.entries)} scored forecast"
              f"{'s' if len(scored.ledger.entries) != 1 else ''})"]
    return "\n".join(lines)


def ledger_view(ledger: Ledger) -> str:
    """Every question in the ledger with its forecasts over time, then the reliability table
    (or how many more scored forecasts it needs)."""
    by_question = ledger.by_question()
    lines = [f"ledger {ledger.path}: {len(ledger.entries)} scored forecast{'s' if len(ledger.entries) != 1 else ''} "
             f"of {len(by_question)} "
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


def against_noise(value: float, noise: float) -> str:
    """"0.0024 (noise 0.0016)": a value beside its noise level, apart when they are apart."""
    from forecast.report.formatting import apart

    shown, level = apart(value, noise)
    return f"{shown} (noise {level})"


def sensitivity_view(summary: dict, found: dict) -> str:
    """``forecast sensitivity``: per question, the decision and the claims it hinges on (their
    swing under the best strategy); then the claims most worth researching and what the data
    taught about each claim. ``--json`` has every strategy and every contrast."""
    from forecast.forecasts.questions import as_recorded
    from forecast.report.answers import learned_text, option_label, p_sought_shown, same_phrase, tie_phrase
    from forecast.report.formatting import fmt
    from forecast.sensitivity.analysis import clear_under, hinge_strategy, hinges_under, prior_sensitive

    labels = {c: v["label"] for c, v in summary["claims"].items()}
    lines = [] if summary["questions"] else ["the scenario asks no questions: no answer hinges on anything", ""]
    for q in summary["questions"]:
        entry = found["questions"].get(q["id"])
        if entry is None:
            continue
        lines.append(f"{q['id']}: {q['text']}")
        dec = as_recorded(entry.get("decision"))
        shown = hinge_strategy(entry)
        if dec:  # the probability of the answer sought as the report shows it, from P(yes)
            p = f"P({dec['desirable']}) {fmt(p_sought_shown(entry['posterior'][dec['best']], dec['desirable']))}"
            same = same_phrase(dec, {})
        if dec and dec.get("tied"):
            lines.append(f"  no clear best strategy: {dec['best']} ({p}) is {tie_phrase(dec, {})}"
                         + (f"; {same}" if same else ""))
        elif dec:
            lines.append(f"  best strategy: {dec['best']} ({p})" + (f", {same}" if same else ""))
        else:
            lines.append("  no desirable answer: no strategy is best for this question")
        lines.append("  answers, posterior (prior only): " + ", ".join(
            f"{s} {p:.2f} ({entry['prior_only'][s]:.2f})" for s, p in entry["posterior"].items()))
        for cid in hinges_under(entry, shown)[:5]:  # as the report's tornado ranks them, under the strategy shown
            c = entry["claims"][cid]
            lo, hi = c["tornado"][shown]
            swing = f"under {shown} {lo:.2f} to {hi:.2f}"
            if not clear_under(c, shown):
                swing += f" (within Monte Carlo error, ± {max(c['tornado_mcse'][shown]):.2f})"
            parts = [swing, f"variance share {c['variance_share'][shown]:.2f}"]
            if c.get("evppi"):
                parts.append("value of information " + against_noise(c["evppi"], c.get("evppi_noise", 0.0)))
            flip = c.get("flip")
            if flip:
                parts.append(f"{option_label(dec, {}, flip['becomes_best'])} becomes best at {flip['value']:+.2f}"
                             + ("" if flip["within_posterior_90"] else " (outside its posterior 90%)"))
            named = f" ({labels[cid]})" if labels.get(cid, cid) != cid else ""  # a claim with no label of its own
            lines.append(f"    {cid}{named}: " + "; ".join(parts))
        errors = entry.get("by_hypothesis_mcse") or {}
        for label, answers in (entry.get("by_hypothesis") or {}).items():
            weight = (found.get("combination_weights") or {}).get(label)
            lines.append(f"  if {label}" + (f" (weight {weight:.2f})" if weight is not None else "") + ": "
                         + ", ".join(f"{s} {p:.2f}" + (f" ± {errors[label][s]:.3f}" if label in errors else "")
                                     for s, p in answers.items()))
        lines.append("")
    worth = found.get("worth_researching") or []
    if worth:
        lines.append("most worth researching (expected value of perfect information on the choice of strategy, "
                     "above its noise):")
        lines += [f"  {w['claim']} for {w['question']}: {against_noise(w['evppi'], w.get('evppi_noise', 0.0))}"
                  for w in worth[:10]]
        lines.append("")
    lines.append("what the data taught (power-scaling prior sensitivity; 1 - posterior/prior variance):")
    for cid, c in found["claims"].items():
        word, note = learned_text(c, (summary.get("claims") or {}).get(cid), prior_sensitive(found))
        lines.append(f"  {cid}: {note} -> the posterior follows {word}")
    lines += ["", "(every strategy and every contrast with the baseline: --json)"]
    return "\n".join(lines)


def diff_view(found: "RunDiff") -> str:
    """``forecast diff``: the decisions that changed (what a decision-maker reads first), the
    changes, then the answers that moved and what explains them."""
    from forecast.report.answers import p_sought_shown
    from forecast.report.formatting import plain

    labels = found.strategy_labels
    how = {"sought_appeared": "now has an answer sought", "sought_gone": "no answer sought any more",
           "sought_reversed": "the answer sought is reversed", "became_clear": "now a clear best strategy",
           "became_tied": "no clear best strategy any more", "best_changed": "best strategy changed",
           "tie_changed": "other strategies tied for best"}  # diff.decision_change's kinds

    def state(d: dict | None) -> str:
        if d is None:
            return "no answer sought, so no best strategy"
        best = " = ".join(labels.get(s, s) for s in (d["best"], *d.get("equivalent", [])))
        want, p_best = d["desirable"], d["p_best"]
        if p_best is None:
            p = f"for {want}"
        else:  # as the report shows it: P(no) is 1 minus P(yes) as rounded
            p = f"P({want}) {p_sought_shown(1 - p_best if want == 'no' else p_best, want):.2f}"
        if d["clear"]:
            return f"clear best {best} ({p})"
        return f"no clear best: {best} ({p}) tied with {', '.join(labels.get(t, t) for t in d['tied'])}"

    changed = [d for d in found.decisions if not d.get("margin_only")]
    margins = [d for d in found.decisions if d.get("margin_only")]
    lines = [f"{len(changed)} decision{'s' if len(changed) != 1 else ''} changed (best strategy, ties, answer sought):"]
    lines += [f"  {d['question']}: {how.get(d['kind'], d['kind'])}: {state(d['a'])} -> {state(d['b'])}"
              for d in changed] or ["  none"]
    reasons: dict[str, list[str]] = {}
    for n in found.decisions_not_compared:
        reasons.setdefault(n["why"], []).append(n["question"])
    lines += [f"  (not compared, {why}: {', '.join(questions)})" for why, questions in reasons.items()]
    if margins:
        moved = {m["question"] for m in found.moved}
        one = len(margins) == 1
        lines.append(f"{len(margins)} question{'' if one else 's'} kept {'its' if one else 'their'} best strategy, "
                     "whose lead over the others crossed the Monte Carlo threshold (clear <-> tied):")
        lines += [f"  {d['question']}: {state(d['a'])} -> {state(d['b'])}"
                  + ("" if d["question"] in moved else "; no answer to it moved beyond its Monte Carlo error: "
                     "sampling noise can do this")
                  for d in margins]
    lines.append("")
    lines.append(f"{len(found.changes)} change{'s' if len(found.changes) != 1 else ''}:")

    def shown(value) -> str:  # observations (a list of numbers, None for a year without one) written out
        return ", ".join("none" if v is None else plain(v) for v in value) if isinstance(value, list) else str(value)

    lines += [f"  {c['kind']} {c['id']}" + (f": {c['what']}" if c["what"] else "")
              + ("" if c["what"] in ("added", "removed") else f": {shown(c['a'])} -> {shown(c['b'])}")
              for c in found.changes] or ["  none"]
    lines.append("")
    one = len(found.moved) == 1
    if not found.moved:
        lines.append(f"no answer moved beyond its Monte Carlo error ({found.unchanged_answers} compared)")
    else:
        lines.append(f"{len(found.moved)} answer{'' if one else 's'} moved beyond {'its' if one else 'their'} "
                     f"Monte Carlo error ({found.unchanged_answers} did not):")
    for m in found.moved:
        why = ", ".join(m["explained_by"])
        lines.append(f"  {m['question']} under {m['strategy']}: {m['a']:.2f} -> {m['b']:.2f} ({m['z']:.1f} errors); "
                     f"explained by: {why}")
    return "\n".join(lines)