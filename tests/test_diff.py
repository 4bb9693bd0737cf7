"""``forecast diff`` names a change of a question's decision: its best strategy, a clear best
becoming a tie or back, other strategies tied for best, its answer sought appearing,
disappearing or reversed. On small hand-built summaries (no sampling); the end-to-end diff of
two runs is in tests/test_sensitivity.py."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest

from forecast.describe import diff_view
from forecast.report.answers import decision as report_decision
from forecast.results.store import Run
from forecast.scenario import Claim, Indicator, Node, Question, Scenario, Strategy, load_scenario
from forecast.scenario.domain import LeverSetting
from forecast.scenario.priors import Distribution, Hypothesis
from forecast.scenario.schema import DisplaySpec
from forecast.sensitivity.diff import (
    CHANCE,
    NOT_COMPARED,
    RunDiff,
    decision_change,
    decision_changes,
    diff_runs,
    scenario_changes,
)

from .conftest import CHAIN, write_scenario

STRATEGIES = [{"id": "status_quo", "label": "Status quo"}, {"id": "subsidy", "label": "Subsidy push"},
              {"id": "tax", "label": "Tax cut"}]


def made(best: str, tied: tuple[str, ...] = (), desirable: str = "yes", p: float = 0.7) -> dict:
    """A decision as summary.json records it (Decision.to_dict): a utility for every strategy."""
    utilities = {s["id"]: p if s["id"] == best else p - 0.01 if s["id"] in tied else p - 0.3 for s in STRATEGIES}
    return {"desirable": desirable, "best": best, "utilities": utilities,
            "tied": list(tied), "clear": not tied, "gap_mcse": {t: 0.02 for t in tied}, "equivalent": [], "identical": []}


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
    assert [(c["question"], c["kind"]) for c in changed] == [("q1", "became_clear")]
    assert not_compared == [{"question": "q2", "why": "a run's summary records no decision"}]
    assert report_decision(old, old["questions"][0]) == made("status_quo", ("subsidy",))
    assert "not compared, a run's summary records no decision: q2" in diff_view(
        RunDiff(decisions=changed, decisions_not_compared=not_compared))


def test_a_best_that_becomes_a_pair_of_strategies_identical_for_the_question_is_a_change_of_best_not_a_tie() -> None:
    """The tester's case: dual containment was best; after a prior changed, conciliatory
    engagement and engage-Russia-contain-China gave the same answer in every draw and led. The
    diff said "no clear best strategy any more ... tied with"; the recommendation had moved."""
    pair = {**made("subsidy"), "equivalent": ["tax"], "identical": [["subsidy", "tax"]]}
    pair["utilities"]["tax"] = pair["utilities"]["subsidy"]
    changed, _ = decision_changes(summary(q1=made("status_quo")), summary(q1=pair))
    assert [c["kind"] for c in changed] == ["best_changed"]
    assert "best strategy changed: clear best status_quo (P(yes) 0.70) -> clear best subsidy = tax (P(yes) 0.70)" \
        in diff_view(RunDiff(decisions=changed))
    swapped = {**pair, "best": "tax", "equivalent": ["subsidy"]}  # which of the two the draws name first is arbitrary
    assert decision_changes(summary(q1=pair), summary(q1=swapped)) == ([], [])
    apart = {**made("tax"), "equivalent": []}  # tax, identical to subsidy before, is now clearly ahead of it
    changed, _ = decision_changes(summary(q1=pair), summary(q1=apart))
    assert [c["kind"] for c in changed] == ["best_changed"]  # who chose subsidy holds a worse strategy now
    older = {k: v for k, v in made("subsidy", ("tax",)).items() if k not in ("equivalent", "identical")}
    older["gap_mcse"] = {"tax": 0.0}  # a summary from before identical strategies were told apart from ties
    assert decision_changes(summary(q1=older), summary(q1=pair)) == ([], [])


def test_a_strategy_left_out_of_a_run_is_no_change_of_decision() -> None:
    """The tester's case: run B forecast one strategy only (``--strategy``), and the diff called
    two decisions changed; the runs chose among different strategies, so they are not compared."""
    only_tax = made("tax")
    only_tax["utilities"] = {"tax": 0.7}
    changed, not_compared = decision_changes(summary(q1=made("subsidy", ("tax",))), summary(q1=only_tax), True)
    why = "the runs chose among different strategies (A: status_quo, subsidy, tax; B: tax)"
    assert changed == [] and not_compared == [{"question": "q1", "why": why}]
    assert f"(not compared, {why}: q1)" in diff_view(RunDiff(decisions_not_compared=not_compared))
    # a strategy the scenario file dropped (both runs of all its strategies) is a changed decision
    changed, not_compared = decision_changes(summary(q1=made("subsidy", ("tax",))), summary(q1=only_tax))
    assert [c["kind"] for c in changed] == ["became_clear"] and not_compared == []


def test_the_diffs_json_carries_the_decisions() -> None:
    changed, _ = decision_changes(summary(q1=made("subsidy")), summary(q1=made("tax")))
    out = RunDiff(decisions=changed).to_dict()
    assert out["decisions"][0]["kind"] == "best_changed" and list(out)[0] == "decisions"


def test_nothing_changed_reads_as_none() -> None:
    assert diff_view(RunDiff()).startswith("0 decisions changed (best strategy, ties, answer sought):\n  none")


# What changed in the scenario: every field of the resolved scenario that can move an answer or
# a decision, on small scenarios loaded from files (tests/conftest.py's chain, B measured twice).

def measured_chain() -> dict:
    """The chain with B measured by two indicators (the first anchors B's scale)."""
    s = copy.deepcopy(CHAIN)
    s["indicators"] = {
        "b_obs": {"label": "B observed", "node": "B", "file": "data/obs.csv", "column": "b_obs", "source": "test"},
        "b_survey": {"label": "B surveyed", "node": "B", "file": "data/obs.csv", "column": "b_survey",
                     "source": "test"}}
    return s


def loaded(directory: Path, data: dict) -> Scenario:
    """The scenario as a run keeps it: RUN/scenario/scenario.toml and its data."""
    (directory / "scenario" / "data").mkdir(parents=True, exist_ok=True)
    (directory / "scenario" / "data" / "obs.csv").write_text(
        "year,b_obs,b_survey,source\n" + "".join(f"{y},{y - 1999}.5,{y - 1990},made up\n" for y in range(2000, 2006)))
    return load_scenario(write_scenario(directory / "scenario", data))


def changes_between(tmp_path: Path, edit) -> set[tuple[str, str, str]]:
    edited = measured_chain()
    edit(edited)
    a, b = loaded(tmp_path / "a", measured_chain()), loaded(tmp_path / "b", edited)
    return {(c["kind"], c["id"], c["what"]) for c in scenario_changes(a, b)}


def test_a_strategys_setting_reads_as_validate_words_it_lever_by_lever(tmp_path) -> None:
    """The tester's case: a changed setting showed as ``LeverSetting(kind='by', ...)`` for every
    lever the strategy sets; now only the changed lever, in words, with its unit."""
    edited = measured_chain()
    edited["strategies"][1]["set"] = {"L": {"by": 2, "over": 2}}
    edited["strategies"][2]["set"] = {"L": "hold"}
    a, b = loaded(tmp_path / "a", measured_chain()), loaded(tmp_path / "b", edited)
    assert [(c["id"], c["what"], c["a"], c["b"]) for c in scenario_changes(a, b)] == [
        ("hold_high", "setting of L", "to 1 units", "up 2 units from the 2005 level by 2007 in equal steps"),
        ("natural", "setting of L", "not set (it follows its own course)", "held at the 2005 level")]


def test_a_moved_horizon_is_one_change_and_data_read_as_numbers(tmp_path) -> None:
    """The tester's case: moving the horizon listed every held or ramped setting as changed
    ("held at the 2005 level -> held at the 2005 level": their yearly steps follow the years),
    and the years and data showed as Python tuples and lists."""
    edited = measured_chain()
    edited["scenario"]["horizon"] = 2011
    edited["strategies"][1]["set"] = {"L": "hold"}
    base = measured_chain()
    base["strategies"][1]["set"] = {"L": "hold"}
    a, b = loaded(tmp_path / "a", base), loaded(tmp_path / "b", edited)
    assert [(c["kind"], c["what"], c["a"], c["b"]) for c in scenario_changes(a, b)] == [
        ("scenario", "history, start and horizon", "history from 2000, forecasts 2006-2010",
         "history from 2000, forecasts 2006-2011")]
    (tmp_path / "b" / "scenario" / "data" / "obs.csv").write_text(
        "year,b_obs,b_survey,source\n" + "".join(f"{y},{y - 1999}.5,{1e12 if y == 2003 else y - 1990},made up\n"
                                                 for y in range(2000, 2006)))
    (data,) = [c for c in scenario_changes(a, load_scenario(tmp_path / "b" / "scenario" / "scenario.toml"))
               if c["kind"] == "data"]
    assert (data["what"], data["a"], data["b"]) == ("values in 2003", [13.0], [1e12])
    assert "data b_survey: values in 2003: 13 -> 1,000,000,000,000" in diff_view(RunDiff(changes=[data]))


def test_an_indicators_measurement_priors_are_changes(tmp_path) -> None:
    """The tester's case: only an indicator's loading and noise priors changed, and the diff
    said "0 changes"."""
    def edit(s):
        s["indicators"]["b_survey"]["loading"] = {"dist": "LogNormal", "mu": 1.0, "sigma": 0.3}
        s["indicators"]["b_survey"]["noise"] = {"dist": "Gamma", "alpha": 2, "beta": 2}
        s["indicators"]["b_survey"]["intercept"] = {"dist": "Normal", "mu": 1.0, "sigma": 0.5}

    assert changes_between(tmp_path, edit) == {("indicator", "b_survey", "loading prior"),
                                               ("indicator", "b_survey", "noise prior"),
                                               ("indicator", "b_survey", "intercept prior")}


def test_a_removed_desirable_direction_is_a_change_of_the_node_and_of_the_questions_that_followed_it(
        tmp_path) -> None:
    """The tester's other case: removing desirable from the nodes flipped decisions, and the
    diff said "0 changes"."""
    def edit(s):
        del s["nodes"]["B"]["desirable"]

    assert changes_between(tmp_path, edit) == {("node", "B", "desirable direction"),
                                               ("question", "b_up", "desirable answer")}


def test_a_nodes_display_and_initial_spread_a_questions_answer_sought_and_the_baseline_are_changes(
        tmp_path) -> None:
    def edit(s):
        s["nodes"]["A"]["display"] = {"kind": "linear", "offset": 10.0, "scale": 2.0}
        s["nodes"]["A"]["initial_sd"] = 3.0
        s["questions"][1]["desirable"] = "no"
        s["strategies"][0]["baseline"], s["strategies"][2]["baseline"] = False, True

    assert changes_between(tmp_path, edit) == {
        ("node", "A", "display"), ("node", "A", "initial_sd"), ("question", "c_high", "desirable answer"),
        ("strategy", "hold_low", "baseline (the strategy others are compared with)"),
        ("strategy", "natural", "baseline (the strategy others are compared with)")}


def test_words_are_no_change(tmp_path) -> None:
    """Names, labels, descriptions, quotes, sources and units cannot move an answer."""
    def edit(s):
        s["scenario"]["name"] = "renamed"
        s["nodes"]["A"]["label"] = "Another label"
        s["nodes"]["L"]["display"]["unit"] = "dollars"
        s["claims"][0]["quote"] = "someone else said so"
        s["indicators"]["b_obs"].update(label="Relabelled", source="elsewhere", unit="people")
        s["strategies"][1]["label"] = "High"
        s["questions"][0]["text"] = "Asked otherwise?"

    assert changes_between(tmp_path, edit) == set()


def test_a_prior_changed_within_its_rounding_is_a_change_shown_in_full(tmp_path) -> None:
    edited = measured_chain()
    edited["claims"][1]["prior"]["mu"] = 0.8001
    a, b = loaded(tmp_path / "a", measured_chain()), loaded(tmp_path / "b", edited)
    [found] = scenario_changes(a, b)
    assert (found["kind"], found["id"], found["what"]) == ("claim", "a_to_b", "prior")
    assert "0.8001" in found["b"] and found["a"] != found["b"]


def other_value(value):
    """A value of the same kind that differs."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value + "_other"
    if isinstance(value, Distribution):
        return dataclasses.replace(value, params={k: v + 1 for k, v in value.params.items()})
    if isinstance(value, DisplaySpec):
        return value.model_copy(update={"scale": value.scale + 1})
    if isinstance(value, tuple):  # a claim's hypotheses
        return value + (Hypothesis("other", 1.0, Distribution("Normal", {"mu": 0.0, "sigma": 1.0})),)
    if isinstance(value, dict):  # a strategy's settings
        return {**value, "A": LeverSetting("values", values=(1.0,) * 5)}
    if value is None:
        return 1
    raise AssertionError(f"no other value for {value!r}")


def test_every_field_of_the_resolved_scenario_is_compared_but_its_words(tmp_path) -> None:
    """Each field the scenario carries, changed alone, is a change, unless it is one of the
    words (or an indicator's observations, compared year by year): so a field added to the
    scenario later is compared unless declared words here."""
    assert NOT_COMPARED == {
        Scenario: {"path", "name", "description", "source", "source_url", "text", "files", "contents",
                   "nodes", "claims", "indicators", "strategies", "questions"},
        Node: {"id", "label", "description"}, Claim: {"id", "label", "quote"},
        Indicator: {"id", "label", "unit", "source", "url", "file", "column", "sources", "read_as",
                    "years", "values", "center", "spread"},
        Strategy: {"id", "label", "description", "interventions"},  # the last compared lever by lever
        Question: {"id", "text", "resolution"}}
    lever_by_lever = {"interventions"}
    a = loaded(tmp_path, measured_chain())
    items = [("scenario", None, a, lambda new: new), ("node", "A", a.nodes["A"],
                                                       lambda new: dataclasses.replace(a, nodes={**a.nodes, "A": new})),
             ("claim", "a_to_b", a.claims[1], lambda new: dataclasses.replace(a, claims=(*a.claims[:1], new,
                                                                                       *a.claims[2:]))),
             ("indicator", "b_survey", a.indicators["b_survey"],
              lambda new: dataclasses.replace(a, indicators={**a.indicators, "b_survey": new})),
             ("strategy", "hold_high", a.strategies[1],
              lambda new: dataclasses.replace(a, strategies=(a.strategies[0], new, *a.strategies[2:]))),
             ("question", "c_high", a.questions[1], lambda new: dataclasses.replace(a, questions=(a.questions[0], new)))]
    for kind, ident, item, put in items:
        for f in dataclasses.fields(item):
            if f.name in NOT_COMPARED[type(item)] and f.name not in lever_by_lever:
                continue
            b = put(dataclasses.replace(item, **{f.name: other_value(getattr(item, f.name))}))
            found = [(c["kind"], c["id"]) for c in scenario_changes(a, b)]
            assert len(found) == 1 and found[0][0] == kind and (ident is None or found[0][1] == ident), \
                (kind, f.name, found)


# What explains a moved answer when no changed claim does.

def run_of(directory: Path, data: dict, answers: dict[str, dict[str, float]], seed: int = 1) -> Run:
    """A run of ``data`` whose summary gives these answers (question -> strategy -> probability,
    each with Monte Carlo error 0.01) and no sensitivity analysis; only its settings' seed."""
    loaded(directory, data)
    questions = [{"id": qid, "decision": None,
                  "by_strategy": {sid: {"probability": p, "mcse": 0.01} for sid, p in by.items()}}
                 for qid, by in answers.items()]
    return Run(path=directory, tree=None, summary={"questions": questions, "strategies": STRATEGIES},
               manifest={"settings": {"seed": seed}, "versions": {}})


BEFORE = {"b_up": {"hold_low": 0.5, "hold_high": 0.6}, "c_high": {"hold_low": 0.5, "hold_high": 0.5}}
AFTER = {"b_up": {"hold_low": 0.7, "hold_high": 0.8}, "c_high": {"hold_low": 0.5, "hold_high": 0.7}}


def explained(tmp_path: Path, edit, seed: int = 1) -> dict[tuple[str, str], list[str]]:
    """What explains each moved answer (question, strategy) after ``edit`` to the scenario."""
    edited = measured_chain()
    edit(edited)
    found = diff_runs(run_of(tmp_path / "a", measured_chain(), BEFORE), run_of(tmp_path / "b", edited, AFTER, seed))
    assert "no changed claim on its path" not in diff_view(found)
    return {(m["question"], m["strategy"]): m["explained_by"] for m in found.moved}


def test_an_answer_moved_by_an_indicators_measurement_prior_is_explained_by_it(tmp_path) -> None:
    """The tester's case: the diff said "no changed claim on its path (data or settings)"
    though neither had changed."""
    def edit(s):
        s["indicators"]["b_survey"]["noise"] = {"dist": "Gamma", "alpha": 2, "beta": 2}

    moved = explained(tmp_path, edit)
    assert moved == {key: ["indicator b_survey: noise prior"]
                     for key in [("b_up", "hold_low"), ("b_up", "hold_high"), ("c_high", "hold_high")]}


def test_a_strategys_or_a_questions_change_explains_only_its_own_answers_and_a_desirable_answer_none(
        tmp_path) -> None:
    def edit(s):
        s["strategies"][1]["set"] = {"L": 2.0}
        s["questions"][0]["threshold"] = 1.0
        del s["questions"][0]["reference_year"]
        s["questions"][1]["desirable"] = "no"

    assert explained(tmp_path, edit) == {("b_up", "hold_low"): ["question b_up: rule"],
                                         ("b_up", "hold_high"): ["strategy hold_high: setting of L",
                                                                 "question b_up: rule"],
                                         ("c_high", "hold_high"): ["strategy hold_high: setting of L"]}


def test_an_answer_moved_with_nothing_on_its_path_changed_moved_by_chance_or_by_the_seed(tmp_path) -> None:
    def edit(s):
        del s["nodes"]["B"]["desirable"]

    assert all(v == [CHANCE] for v in explained(tmp_path / "one", edit).values())
    assert all(v == ["setting seed"] for v in explained(tmp_path / "two", edit, seed=2).values())


def test_the_same_best_strategy_losing_or_gaining_its_clear_lead_is_not_a_changed_decision() -> None:
    """The tester's case: a claim off the question's path flipped, Tighten led 0.400 to 0.388 and
    then tied: which strategy to choose did not change, and no answer moved beyond its error."""
    changed, _ = decision_changes(summary(q1=made("subsidy"), q2=made("tax")),
                                  summary(q1=made("subsidy", ("tax",)), q2=made("subsidy")))
    assert [(c["question"], c["kind"], c["margin_only"]) for c in changed] == [
        ("q1", "became_tied", True), ("q2", "best_changed", False)]
    text = diff_view(RunDiff(decisions=changed, strategy_labels={s["id"]: s["label"] for s in STRATEGIES}))
    assert text.startswith("1 decision changed") and "  q2: best strategy changed" in text
    assert ("1 question kept its best strategy, whose lead over the others crossed the Monte Carlo threshold (clear <-> tied):\n"
            "  q1: clear best Subsidy push (P(yes) 0.70) -> no clear best: Subsidy push (P(yes) 0.70) tied with Tax "
            "cut; no answer to it moved beyond its Monte Carlo error: sampling noise can do this") in text
    assert "no answer moved beyond its Monte Carlo error (0 compared)" in text
    moved = [{"question": "q1", "strategy": "tax", "a": 0.6, "b": 0.7, "z": 3.0, "explained_by": []}]
    text = diff_view(RunDiff(decisions=changed, moved=moved))
    assert "sampling noise can do this" not in text and "1 answer moved beyond its Monte Carlo error" in text


def test_an_unset_desirable_direction_reads_none_not_python(tmp_path) -> None:
    edited = measured_chain()
    del edited["nodes"]["B"]["desirable"]
    a, b = loaded(tmp_path / "a", measured_chain()), loaded(tmp_path / "b", edited)
    found = [(c["id"], c["a"], c["b"]) for c in scenario_changes(a, b) if c["what"] == "desirable answer"]
    assert found == [("b_up", "yes", "none")]  # the tester's diff read "yes -> None"
