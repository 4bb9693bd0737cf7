"""What changed between two runs, which answers moved beyond their Monte Carlo error, and which
changes explain the moves.

Two runs of a scenario differ in what the analyst changed (claims, priors, data, strategies,
questions, sampler settings) and, through those, in their answers and decisions. Every field of
the resolved scenario is compared (:func:`scenario_changes`) but those that only name, describe
or locate (:data:`NOT_COMPARED`), so a field added to the scenario is compared unless it is
declared words. An answer "moved" when the
two probabilities differ by more than twice the Monte Carlo error of their difference
(``sqrt(mcse_a^2 + mcse_b^2)``): less than that is what rerunning with another seed does.

The changed claims are ranked, for each moved answer, by how much of the move each explains
to first order: the answer's slope in the claim's effect (its tornado's swing over the
effect's 5th-95th percentile range, :mod:`forecast.sensitivity.analysis`) times how far the
change moved the effect's posterior median, the larger of the two runs' slopes. A claim the
answer hinges on but that was barely changed explains little; one flipped explains much. A
changed claim on no path to the question's subject cannot explain it. The other changes that
can move the answer follow, unranked, as the diff lists them ("indicator sales: noise prior",
"data sales", "setting seed"): through the posterior, a change to any node, indicator, data,
setting or the scenario's years can move any answer; a strategy's only its own answers, a
question's only its own. A change that can only change a decision (a desirable direction or
answer, which strategy is the baseline) explains no move. An answer that moved with nothing on
its path changed moved by chance (:data:`CHANCE`): one answer in 20 does.

A question's *decision* changed when its best strategy did, when it went from a clear best to
a tie or back, when the strategies tied for best are others, or when its desirable answer
appeared, disappeared or was reversed (each run's decision by the one rule of
:mod:`forecast.forecasts.questions`, paired Monte Carlo errors). Strategies tied for best are
compared as a set: which of them the draws put first is noise. Strategies identical for the
question (the same answer in every draw) are one option: a best that is still identical to the
new best is no change, and a best that changes to a pair of them is a change of best, not a new
tie (:func:`forecast.forecasts.questions.same_option`, as sweeps judge a flip). A question that
only one run asks is a change of the scenario, not of a decision; one whose decision a run's
summary does not record (older than decisions) is not compared, and is named as such.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from forecast.forecasts.questions import as_recorded, recorded_decision, same_option
from forecast.results.store import Run, load_run, setting_shown
from forecast.scenario import Claim, Indicator, Node, Question, Scenario, Strategy, load_scenario
from forecast.scenario.priors import Distribution, Hypothesis
from forecast.scenario.schema import DisplaySpec

#: An answer moved when the difference exceeds this many Monte Carlo errors of the difference.
MOVED_AT = 2.0
#: What explains a moved answer that no change reaches: one answer in 20 moves this far by chance.
CHANCE = "no change on its path: chance (Monte Carlo noise)"


@dataclass
class RunDiff:
    """The changes from run A to run B and what they did to the answers."""

    changes: list[dict] = field(default_factory=list)  # {"kind", "id", "what", "a", "b"}
    moved: list[dict] = field(default_factory=list)  # {"question", "strategy", "a", "b", "z", "explained_by"}
    unchanged_answers: int = 0
    decisions: list[dict] = field(default_factory=list)  # {"question", "kind", "a", "b"}: see decision_change
    #: {"question", "why"}: a summary records no decision for it, or the runs chose among different strategies
    decisions_not_compared: list[dict] = field(default_factory=list)
    strategy_labels: dict[str, str] = field(default_factory=dict)  # both runs' (run B's where they differ)

    def to_dict(self) -> dict:
        return {"decisions": self.decisions, "decisions_not_compared": self.decisions_not_compared,
                "changes": self.changes, "moved": self.moved, "unchanged_answers": self.unchanged_answers,
                "moved_at": MOVED_AT, "strategy_labels": self.strategy_labels}


def run_scenario_of(run: Run) -> Scenario:
    """The scenario exactly as the run read it (its copy in the run directory)."""
    return load_scenario(run.scenario_file)


def diff_runs(a: Run | str | Path, b: Run | str | Path) -> RunDiff:
    """What changed from run ``a`` to run ``b`` (runs, or their directories), and which answers
    moved (see the module); :func:`forecast.describe.diff_view` says it as ``forecast diff`` does."""
    a, b = (run if isinstance(run, Run) else load_run(run) for run in (a, b))
    sa, sb = run_scenario_of(a), run_scenario_of(b)
    out = RunDiff(changes=scenario_changes(sa, sb) + setting_changes(a, b))
    changed_claims = {c["id"] for c in out.changes if c["kind"] == "claim"}
    answers_a = {q["id"]: q["by_strategy"] for q in a.summary["questions"]}
    shifts = {cid: _median_shift(a.summary, b.summary, cid) for cid in changed_claims}
    influence = [(run.summary.get("sensitivity") or {}).get("questions", {}) for run in (a, b)]
    for q in b.summary["questions"]:
        before = answers_a.get(q["id"])
        if before is None:
            continue
        for sid, now in q["by_strategy"].items():
            then = before.get(sid)
            if then is None or now["probability"] is None or then["probability"] is None:
                continue
            error = math.hypot(now.get("mcse") or 0.0, then.get("mcse") or 0.0)
            delta = now["probability"] - then["probability"]
            z = abs(delta) / error if error > 0 else (math.inf if delta else 0.0)
            if z <= MOVED_AT:
                out.unchanged_answers += 1
                continue
            claims = [found.get(q["id"], {}).get("claims", {}) for found in influence]
            out.moved.append({"question": q["id"], "strategy": sid, "a": then["probability"],
                              "b": now["probability"], "z": z,
                              "explained_by": _explaining(changed_claims, claims, sid, shifts)
                              + _other_changes(out.changes, q["id"], sid) or [CHANCE]})
    out.moved.sort(key=lambda m: -abs(m["b"] - m["a"]))
    restricted = any((run.manifest.get("settings") or {}).get("strategies", "all") != "all" for run in (a, b))
    out.decisions, out.decisions_not_compared = decision_changes(a.summary, b.summary, restricted)
    out.strategy_labels = {s["id"]: s.get("label") or s["id"]
                           for run in (a, b) for s in run.summary.get("strategies") or []}
    return out


#: What :func:`decision_changes` finds when a summary records no decision for a question.
_UNRECORDED = object()


def decision_changes(a: dict, b: dict, restricted: bool = False) -> tuple[list[dict], list[dict]]:
    """The questions both summaries ask whose decision changed from ``a`` to ``b``, in run
    ``b``'s order (see :func:`decision_change`), and those not compared, with why: a summary
    records no decision for them, or a run forecast some strategies only (``restricted``:
    ``--strategy``; a strategy it left out is no change of decision) and the runs chose among
    different ones. A strategy added to or removed from the scenario file is compared: that a
    new strategy is best is a changed decision."""
    questions_a = {q["id"]: q for q in a["questions"]}
    changed, not_compared = [], []
    for q in b["questions"]:
        if q["id"] not in questions_a:
            continue
        then = recorded_decision(a, questions_a[q["id"]], _UNRECORDED)
        now = recorded_decision(b, q, _UNRECORDED)
        if then is _UNRECORDED or now is _UNRECORDED:
            not_compared.append({"question": q["id"], "why": "a run's summary records no decision"})
            continue
        among = [list((d or {}).get("utilities") or {}) for d in (then, now)]
        if restricted and then and now and set(among[0]) != set(among[1]):
            not_compared.append({"question": q["id"], "why": f"the runs chose among different strategies (A: "
                                 f"{', '.join(among[0])}; B: {', '.join(among[1])})"})
            continue
        found = decision_change(then, now)
        if found:
            changed.append({"question": q["id"], **found})
    return changed, not_compared


def decision_change(a: dict | None, b: dict | None) -> dict | None:
    """How a question's decision changed from ``a`` to ``b`` (each a summary's decision, None
    when the question has no desirable answer), or None when it did not: ``{"kind", "a",
    "b"}``, each side ``{"desirable", "best", "equivalent", "tied", "clear", "p_best"}`` or
    None. The kind, the first that applies: ``"sought_appeared"``, ``"sought_gone"``,
    ``"sought_reversed"`` (the desirable answer), ``"became_clear"``, ``"became_tied"``,
    ``"best_changed"`` (both clear), ``"tie_changed"`` (both tied, other strategies tied for
    best)."""
    x, y = _state(a), _state(b)
    if x is None and y is None:
        return None
    if x is None or y is None:
        kind = "sought_appeared" if x is None else "sought_gone"
    elif x["desirable"] != y["desirable"]:
        kind = "sought_reversed"
    elif x["clear"] and y["clear"] and _same_option(x, y):
        return None
    elif x["clear"] != y["clear"]:
        kind = "became_clear" if y["clear"] else "became_tied"
    elif x["clear"]:
        kind = "best_changed"
    elif {x["best"], *x["equivalent"], *x["tied"]} == {y["best"], *y["equivalent"], *y["tied"]}:
        return None
    else:
        kind = "tie_changed"
    return {"kind": kind, "a": x, "b": y, "margin_only": margin_only(kind, x, y)}


def _same_option(x: dict, y: dict) -> bool:
    """Whether decision ``x``'s best stands in ``y`` (:func:`forecast.forecasts.questions.same_option`)."""
    return same_option(x["best"], y["best"], y["equivalent"])


def margin_only(kind: str, a: dict | None, b: dict | None) -> bool:
    """Whether a change leaves the strategy to choose as it was and moves only its margin across
    the Monte Carlo threshold: the same best, once clear and once tied with others (or the
    reverse). A margin near that threshold crosses it from sampling noise alone."""
    return kind in ("became_clear", "became_tied") and a is not None and b is not None and _same_option(a, b)


def _state(d: dict | None) -> dict | None:
    """What a decision says to a decision-maker: the answer sought, the best strategy and those
    identical to it for the question (one option), those tied with it, and the probability of
    the answer sought under the best."""
    d = as_recorded(d)
    if d is None:
        return None
    tied = list(d.get("tied") or [])
    return {"desirable": d["desirable"], "best": d["best"], "equivalent": list(d.get("equivalent") or []),
            "tied": tied, "clear": not tied, "p_best": (d.get("utilities") or {}).get(d["best"])}


def _explaining(changed: set[str], runs: list[dict[str, dict]], strategy: str,
               shifts: dict[str, float | None]) -> list[str]:
    """The changed claims on a path to the answer, by the share of the move each explains to
    first order (see the module): the answer's slope in the effect under the strategy, the
    larger of the two runs' (a change can pin an answer in one run, where no claim moves it
    any more), times the shift of the effect's posterior median. Claims whose shift or slope
    is unknown (a claim in one run only) follow, by their slope."""
    def slope(cid: str) -> float:
        best = 0.0
        for claims in runs:
            e = claims.get(cid)
            if e and e.get("on_path"):
                lo, hi = e["tornado"].get(strategy, [0.0, 0.0])
                at = e.get("tornado_at") or [0.0, 1.0]  # older summaries: the swing itself
                best = max(best, abs(hi - lo) / max(at[1] - at[0], 1e-12))
        return best

    def weight(cid: str) -> tuple[bool, float, float]:
        shift, steep = shifts.get(cid), slope(cid)
        return shift is not None, abs(shift or 0.0) * steep, steep

    on_path = [c for c in changed if any(claims.get(c, {}).get("on_path") for claims in runs)]
    unknown = sorted(c for c in changed if all(c not in claims for claims in runs))  # no influence measured
    return sorted(on_path, key=weight, reverse=True) + unknown


def _other_changes(changes: list[dict], question: str, strategy: str) -> list[str]:
    """The changes other than claims' that can move a question's answer under a strategy, as
    the diff lists them ("indicator sales: noise prior"), in its order (see the module)."""
    out = []
    for c in changes:
        if c["kind"] == "claim" or (c["kind"], c["what"]) in DECISIONS_ONLY:
            continue
        if (c["kind"] == "strategy" and c["id"] != strategy) or (c["kind"] == "question" and c["id"] != question):
            continue
        out.append(f"{c['kind']} {c['id']}" + (f": {c['what']}" if c["what"] not in ("", c["id"]) else ""))
    return out


def _median_shift(a: dict, b: dict, cid: str) -> float | None:
    """How far a claim's effect's posterior median moved from run ``a`` to run ``b``, or None
    when either run's summary lacks it."""
    medians = [((s.get("claims") or {}).get(cid, {}).get("posterior") or {}).get("median") for s in (a, b)]
    return None if None in medians else float(medians[1] - medians[0])


#: Fields that only name, describe or locate (words, labels, sources, files): they cannot move
#: an answer or a decision, so they are not compared. Every other field of the resolved
#: scenario (:mod:`forecast.scenario.domain`) is, a field added later included, unless listed
#: here. An indicator's observations are compared year by year (kind "data"); ``center`` and
#: ``spread``, their standardisation, follow from them.
NOT_COMPARED: dict[type, frozenset[str]] = {
    Scenario: frozenset({"path", "name", "description", "source", "source_url", "text", "files", "contents",
                         "nodes", "claims", "indicators", "strategies", "questions"}),  # the last five: by item
    Node: frozenset({"id", "label", "description"}),
    Claim: frozenset({"id", "label", "quote"}),
    Indicator: frozenset({"id", "label", "unit", "source", "url", "file", "column", "sources", "read_as",
                          "years", "values", "center", "spread"}),
    Strategy: frozenset({"id", "label", "description", "interventions"}),  # the last: lever by lever
    Question: frozenset({"id", "text", "resolution"}),
}

#: Fields compared together, as one change: the fields, its id (for the scenario's own) or name,
#: and how it reads.
_TOGETHER: dict[type, list[tuple[tuple[str, ...], str, Callable]]] = {
    Scenario: [(("history_start", "start_year", "horizon"), "years",
                lambda s: f"history from {s.history_start}, forecasts {s.start_year}-{s.horizon}")],
    Claim: [(("cause", "effect", "lag"), "cause -> effect (lag)", lambda c: f"{c.cause} -> {c.effect} ({c.lag})"),
            (("prior", "hypotheses"), "prior", lambda c: _prior_text(c))],
    Indicator: [(("node", "transform", "direction"), "node, transform, direction",
                 lambda i: (i.node, i.transform, i.direction))],
    Question: [(("subject", "subject_kind", "year", "comparison", "threshold", "reference_year", "change"), "rule",
                lambda q: q.describe_rule())],
}

#: What a field is called in a change, where its name alone would not say.
_NAMES = {"shock_df": "shocks' degrees of freedom", "years": "history, start and horizon",
          "anchor": "anchor (intercept 0, loading 1)",
          (Node, "desirable"): "desirable direction", (Question, "desirable"): "desirable answer",
          (Strategy, "baseline"): "baseline (the strategy others are compared with)"}

#: Changes that can change a decision or a comparison but no answer (a probability): (kind, what).
DECISIONS_ONLY = {("node", _NAMES[Node, "desirable"]), ("question", _NAMES[Question, "desirable"]),
                  ("strategy", _NAMES[Strategy, "baseline"])}


def scenario_changes(a: Scenario, b: Scenario) -> list[dict]:
    """Every difference between two scenarios that can move an answer or a decision, one entry
    each: every field of the resolved scenario but those in :data:`NOT_COMPARED`, item by item
    (nodes, claims, indicators, strategies, questions by id; those only one scenario has are
    added or removed), and each indicator's observations year by year."""
    changes: list[dict] = []

    def compare(kind: str, ident: str | None, x, y) -> None:
        for (key, what, (raw_x, shown_x)), (_, _, (raw_y, shown_y)) in zip(_parts(x), _parts(y)):
            if not _same(raw_x, raw_y):
                if shown_x == shown_y:  # the same in words (3 significant digits): show them in full
                    shown_x, shown_y = _exact(raw_x), _exact(raw_y)
                changes.append({"kind": kind, "id": ident or key, "what": what, "a": shown_x, "b": shown_y})

    def pairs(kind: str, xs: dict, ys: dict):
        """The items both scenarios have, by id; those only one has are noted as added or removed."""
        for ident in sorted(set(xs) | set(ys)):
            x, y = xs.get(ident), ys.get(ident)
            if x is None or y is None:
                changes.append({"kind": kind, "id": ident, "what": "added" if x is None else "removed",
                                "a": x is not None, "b": y is not None})
            else:
                yield ident, x, y

    compare("scenario", None, a, b)
    for nid, x, y in pairs("node", a.nodes, b.nodes):
        compare("node", nid, x, y)
    for cid, x, y in pairs("claim", {c.id: c for c in a.claims}, {c.id: c for c in b.claims}):
        compare("claim", cid, x, y)
    for iid, x, y in pairs("indicator", a.indicators, b.indicators):
        compare("indicator", iid, x, y)
        data_x = dict(zip(x.years.tolist(), x.values.tolist()))
        data_y = dict(zip(y.years.tolist(), y.values.tolist()))
        differ = sorted(yr for yr in set(data_x) | set(data_y) if data_x.get(yr) != data_y.get(yr))
        if differ:
            changes.append({"kind": "data", "id": iid, "what": f"values in {_years(differ)}",
                            "a": [data_x.get(yr) for yr in differ], "b": [data_y.get(yr) for yr in differ]})
    for sid, x, y in pairs("strategy", {s.id: s for s in a.strategies}, {s.id: s for s in b.strategies}):
        compare("strategy", sid, x, y)
        for lever in sorted(set(x.interventions) | set(y.interventions)):
            set_x, set_y = x.interventions.get(lever), y.interventions.get(lever)
            if _meaning(set_x) != _meaning(set_y):
                changes.append({"kind": "strategy", "id": sid, "what": f"setting of {lever}",
                                "a": _setting(a, lever, set_x), "b": _setting(b, lever, set_y)})
    for qid, x, y in pairs("question", {q.id: q for q in a.questions}, {q.id: q for q in b.questions}):
        compare("question", qid, x, y)
    return changes


def _meaning(setting) -> tuple | None:
    """What a setting says, without its yearly steps: those follow the forecast years, so a
    horizon moved (a change of its own) leaves "held at the 2022 level" or "to 30" as it was."""
    if setting is None:
        return None
    values = setting.values[:1] if len(set(setting.values)) == 1 else setting.values  # one value, every year
    return (setting.kind, values, setting.amount, setting.over)


def _setting(scenario: Scenario, lever: str, setting) -> str:
    """A strategy's setting of a lever as validate words it, or that it does not set it."""
    return "not set (it follows its own course)" if setting is None else scenario.describe_setting(lever, setting)


def _parts(item) -> list[tuple[str, str, tuple]]:
    """What of a scenario's item is compared, in its fields' order: ``(key, what, (raw, shown))``
    for each field not in :data:`NOT_COMPARED` and each group of :data:`_TOGETHER`, the raw value
    compared and its reading shown."""
    skip, together = NOT_COMPARED[type(item)], _TOGETHER.get(type(item), [])
    grouped = {name: (names, key, show) for names, key, show in together for name in names}
    out, done = [], set()
    for f in fields(item):
        if f.name in skip or f.name in done:
            continue
        if f.name in grouped:
            names, key, show = grouped[f.name]
            done.update(names)
            raw = tuple(_raw(getattr(item, n)) for n in names)
            out.append((key, _NAMES.get(key, key), (raw, show(item))))
        else:
            value = getattr(item, f.name)
            what = f"{f.name} prior" if isinstance(value, Distribution) else \
                _NAMES.get((type(item), f.name)) or _NAMES.get(f.name, f.name)
            out.append((f.name, what, (_raw(value), _shown(value))))
    return out


def _raw(value):
    """A value as compared: exactly (a prior's parameters in full, not as described)."""
    if isinstance(value, np.ndarray):
        return tuple(value.tolist())
    if isinstance(value, Hypothesis):
        return (value.id, value.weight, value.prior)  # its quote and label are words
    if isinstance(value, tuple):
        return tuple(_raw(v) for v in value)
    if isinstance(value, dict):
        return {k: _raw(v) for k, v in value.items()}
    if isinstance(value, DisplaySpec):
        return (value.kind, value.offset, value.scale)  # its unit is a word
    return value


def _shown(value):
    """A value as a diff shows it."""
    if isinstance(value, Distribution):
        return value.describe()
    if isinstance(value, DisplaySpec):
        return f"{value.kind}, offset {value.offset:g}, scale {value.scale:g}"
    if isinstance(value, dict):
        return {k: repr(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    return "none" if value is None else value  # (a question's desirable answer, unset)


def _exact(raw) -> str:
    """A value in full, where its reading rounds (a prior's parameters to 3 significant digits)."""
    if isinstance(raw, Distribution):
        return f"{raw.name}({', '.join(f'{k}={v!r}' for k, v in raw.params.items())})"
    if isinstance(raw, tuple):
        return "(" + ", ".join(_exact(v) for v in raw) + ")"
    return repr(raw)


def _same(x, y) -> bool:
    try:
        return bool(x == y)
    except (TypeError, ValueError):  # values that do not compare as a whole
        return repr(x) == repr(y)


def setting_changes(a: Run, b: Run) -> list[dict]:
    """The runs' own settings (seed, draws, sampler, ...) and library versions."""
    out = []
    for kind, x, y in (("setting", a.manifest.get("settings", {}), b.manifest.get("settings", {})),
                       ("version", a.manifest.get("versions", {}), b.manifest.get("versions", {}))):
        for key in sorted(set(x) | set(y)):
            if key == "progress" or x.get(key) == y.get(key):
                continue
            shown = setting_shown if kind == "setting" else (lambda _, v: "none" if v is None else str(v))
            out.append({"kind": kind, "id": key, "what": "", "a": shown(key, x.get(key)), "b": shown(key, y.get(key))})
    return out


def _prior_text(claim) -> str:
    if claim.hypotheses:
        return "; ".join(f"{h.id} ({h.weight:g}): {h.prior.describe()}" for h in claim.hypotheses)
    return claim.prior.describe()


def _years(years: list[int]) -> str:
    return ", ".join(str(y) for y in years[:6]) + (f" and {len(years) - 6} more" if len(years) > 6 else "")
