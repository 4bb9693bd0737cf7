"""``forecast diff`` names a change of a question's decision: its best strategy, a clear best
becoming a tie or back, other strategies tied for best, its answer sought appearing,
disappearing or reversed. On small hand-built summaries (no sampling); the end-to-end diff of
two runs is in tests/test_sensitivity.py."""

from __future__ import annotations

import copy

import pytest

from forecast.describe import diff_view
from forecast.report.answers import decision as report_decision
from forecast.sensitivity.diff import RunDiff, decision_change, decision_changes

STRATEGIES = [{"id": "status_quo", "label": "Status quo"}, {"id": "subsidy", "label": "Subsidy push"},
              {"id": "tax", "label": "Tax cut"}]


def made(best: str, tied: tuple[str, ...] = (), desirable: str = "yes", p: float = 0.7) -> dict:
    """A decision as summary.json records it (Decision.to_dict)."""
    return {"desirable": desirable, "best": best, "utilities": {best: p, **{t: p - 0.01 for t in tied}},
            "tied": list(tied), "clear": not tied, "gap_mcse": {t: 0.02 for t in tied}}


def summary(**decisions) -> dict:
    """A summary whose questions (by id) have these decisions."""
    return {"strategies": STRATEGIES,
            "questions": [{"id": qid, "by_strategy": {}, "decision": d} for qid, d in decisions.items()]}


def test_the_same_decisions_are_no_change() -> None:
    s = summary(q1=made("subsidy"), q2=made("subsidy", ("tax",)), q3=None)
    assert decision_changes(s, copy.deepcopy(s)) == ([], [])


def test_which_tied_strategy_the_draws_put_first_is_no_change() -> None:
    assert decision_change(made("subsidy", ("tax",)), made("tax", ("subsidy",), p=0.71)) is None


def test_a_tie_resolved_into_a_clear_best_is_named_with_the_strategies_that_were_tied() -> None:
    """The tester's case: a claim's direction flipped, and a question went from no clear best
    to a clear best, Subsidy push."""
    a = summary(q1=made("status_quo", ("subsidy", "tax")), q2=made("tax"))
    b = summary(q1=made("subsidy", p=0.81), q2=made("tax"))
    changed, not_compared = decision_changes(a, b)
    assert not_compared == []
    assert [(c["question"], c["kind"]) for c in changed] == [("q1", "became_clear")]
    assert changed[0]["a"]["tied"] == ["subsidy", "tax"] and changed[0]["b"]["best"] == "subsidy"
    text = diff_view(RunDiff(decisions=changed, strategy_labels={s["id"]: s["label"] for s in STRATEGIES}))
    assert text.startswith("1 decision changed")
    assert ("q1: now a clear best strategy: no clear best: Status quo (P(yes) 0.70) tied with Subsidy push, Tax cut "
            "-> clear best Subsidy push (P(yes) 0.81)") in text


@pytest.mark.parametrize(("a", "b", "kind"), [
    (made("subsidy"), made("tax"), "best_changed"),
    (made("subsidy"), made("subsidy", ("tax",)), "became_tied"),
    (made("subsidy", ("tax",)), made("subsidy"), "became_clear"),
    (made("subsidy", ("tax",)), made("subsidy", ("status_quo",)), "tie_changed"),
    (made("subsidy", ("tax",)), made("subsidy", ("tax", "status_quo")), "tie_changed"),
    (None, made("subsidy"), "sought_appeared"),
    (made("subsidy"), None, "sought_gone"),
    (made("subsidy"), made("subsidy", desirable="no"), "sought_reversed"),
])
def test_each_kind_of_decision_change_is_named(a, b, kind) -> None:
    found = decision_change(a, b)
    assert found and found["kind"] == kind
    assert decision_change(None, None) is None and decision_change(a, copy.deepcopy(a)) is None


def test_every_kind_reads_in_words() -> None:
    kinds = ["best_changed", "became_tied", "became_clear", "tie_changed", "sought_appeared", "sought_gone",
             "sought_reversed"]
    found = RunDiff(decisions=[{"question": "q", "kind": k, "a": None, "b": None} for k in kinds])
    assert not any(k in diff_view(found) for k in kinds)


def test_a_question_in_one_run_only_is_a_change_of_the_scenario_not_of_a_decision() -> None:
    assert decision_changes(summary(q1=made("subsidy")), summary(q2=made("tax"))) == ([], [])


def test_an_older_summary_gives_its_sensitivity_analysis_decision_or_is_not_compared() -> None:
    """Summaries older than a question's own decision: its sensitivity analysis's, the same
    fallback the report reads (forecast.forecasts.questions.recorded_decision); with neither,
    the question is named as not compared rather than taken as having no answer sought."""
    old = {"strategies": STRATEGIES, "nodes": {},
           "questions": [{"id": "q1", "by_strategy": {}}, {"id": "q2", "by_strategy": {}}],
           "sensitivity": {"questions": {"q1": {"decision": made("status_quo", ("subsidy",))}}}}
    new = summary(q1=made("subsidy"), q2=made("tax"))
    changed, not_compared = decision_changes(old, new)
    assert [(c["question"], c["kind"]) for c in changed] == [("q1", "became_clear")] and not_compared == ["q2"]
    assert report_decision(old, old["questions"][0]) == made("status_quo", ("subsidy",))
    assert "not compared, a run's summary records no decision: q2" in diff_view(
        RunDiff(decisions=changed, decisions_not_compared=not_compared))


def test_the_diffs_json_carries_the_decisions() -> None:
    changed, _ = decision_changes(summary(q1=made("subsidy")), summary(q1=made("tax")))
    out = RunDiff(decisions=changed).to_dict()
    assert out["decisions"][0]["kind"] == "best_changed" and list(out)[0] == "decisions"


def test_nothing_changed_reads_as_none() -> None:
    assert diff_view(RunDiff()).startswith("0 decisions changed (best strategy, ties, answer sought):\n  none")
