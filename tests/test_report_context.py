"""The report's page contexts, from summaries written by hand: no sampling needed."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from forecast.report import answers, context, downloads
from forecast.report.formatting import decimals, links, quantity

from .conftest import ROOT


def test_statement_reads_thresholds_with_units():
    s = {"nodes": {"a": {"label": "Alliance", "unit": "index 0-100"}},
         "indicators": {"t": {"label": "Trade", "unit": "USD bn"}, "g": {"label": "Germans", "unit": "%"}}}

    def q(subject, year, comparison, threshold=None, reference_year=None, change=0.0):
        return {"subject": subject, "year": year, "comparison": comparison, "threshold": threshold,
                "reference_year": reference_year, "change": change}

    assert context.statement(s, q("a", 2029, "above", 60)) == "Alliance in 2029 will be above 60 (index 0-100)"
    assert context.statement(s, q("t", 2026, "below", 240)) == "Trade in 2026 will be below 240 USD bn"
    assert context.statement(s, q("g", 2027, "above", 50)) == "Germans in 2027 will be above 50%"
    assert context.statement(s, q("a", 2029, "below", reference_year=2024, change=-5)) == \
        "Alliance in 2029 will be below the 2024 level minus 5 index points"
    # a change in a percentage is in points: "minus 2%" would read as a relative fall
    assert context.statement(s, q("g", 2028, "below", reference_year=2024, change=-2)) == \
        "Germans in 2028 will be below the 2024 level minus 2 percentage points"
    assert context.statement(s, q("t", 2028, "above", reference_year=2024, change=10)) == \
        "Trade in 2028 will be above the 2024 level plus 10 USD bn"


def test_beyond_the_must_show_nodes_a_strategy_page_draws_those_it_moves_most(monkeypatch):
    """Ranked by the final-year shift of the median from the baseline's, in units of the
    baseline's 90% interval; shown in scenario order; the baseline's page keeps that order."""
    def band(median: float, width: float) -> dict:
        return {"median": [0.0, median], "q05": [0.0, median - width / 2], "q95": [0.0, median + width / 2]}

    shifts = {"a": (1.0, 10.0), "b": (3.0, 1.0), "c": (0.5, 0.1), "d": (2.0, 100.0)}  # b: 3, c: 5, a: 0.1, d: 0.02
    s = {"nodes": {n: {"role": "factor"} for n in shifts}, "questions": [],
         "strategies": [{"id": "base", "interventions": {}}, {"id": "act", "interventions": {}}],
         "trajectories": {n: {"by_strategy": {"base": band(0.0, w), "act": band(m, w)}} for n, (m, w) in shifts.items()}}
    monkeypatch.setattr(context, "MAX_PANELS", 2)
    assert context.panel_nodes(s, "act", "base") == (["b", "c"], ["a", "d"])
    assert context.panel_nodes(s, "base", "base") == (["a", "b"], ["c", "d"])




def test_the_headline_shows_each_question_s_resolution_criteria_escaped():
    """The criteria stand next to their question; text from the scenario is escaped."""
    from forecast.report.render import environment

    s = {"nodes": {"a": {"label": "A", "unit": ""}}, "questions": [
        {"id": "q1", "text": "Is A above 1?", "subject": "a", "year": 2030, "comparison": "above", "threshold": 1.0,
         "reference_year": None, "change": 0.0, "rule": "a[2030] > 1", "resolution": "Table <b>4</b> of the yearbook",
         "by_strategy": {"base": {"probability": 0.25, "mcse": 0.01}}},
        {"id": "q2", "text": "Is A below 1?", "subject": "a", "year": 2030, "comparison": "below", "threshold": 1.0,
         "reference_year": None, "change": 0.0, "rule": "a[2030] < 1",
         "by_strategy": {"base": {"probability": 0.75, "mcse": 0.01}}}]}
    columns = [{"id": "base", "label": "Base", "href": "strategy-base.html", "baseline": True}]
    h = context.headline_context(s, columns, columns[0])
    assert [r["resolution"] for r in h["rows"]] == ["Table <b>4</b> of the yearbook", ""]  # q2: an older summary
    html = environment().from_string('{% import "macros.html" as m %}{{ m.headline(h, b) }}').render(h=h, b=columns[0])
    assert 'class="resolution" data-question="q1">Resolution: Table &lt;b&gt;4&lt;/b&gt; of the yearbook' in html
    assert html.count('class="resolution"') == 1


# --- The summary: words, the answer sought, the best strategy --------------------------------------

GOLDEN = json.loads((ROOT / "tests" / "golden" / "article_summary.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("p", "word"), [
    (0.995, "virtually certain"), (0.96, "extremely likely"), (0.9, "very likely"), (0.82, "likely"),
    (0.66, "likely"), (0.65, "about as likely as not"), (0.34, "about as likely as not"), (0.33, "unlikely"),
    (0.2, "unlikely"), (0.1, "very unlikely"), (0.04, "extremely unlikely"), (0.005, "exceptionally unlikely"),
    (None, "not available"),
])
def test_probabilities_get_the_ipcc_likelihood_words(p, word):
    assert answers.likelihood(p) == word


def test_the_likelihood_scale_is_symmetric():
    for p in np.linspace(0.0, 0.33, 67):
        low, high = answers.likelihood(p), answers.likelihood(1 - p)
        assert answers.MIRROR[high] == low, (p, high, low)


def _question(subject, comparison, **kw):
    return {"subject": subject, "comparison": comparison, "threshold": 50, "reference_year": None, **kw}


def test_the_answer_sought_follows_the_desirable_direction():
    s = {"nodes": {"good": {"label": "Good", "desirable": "higher"}, "bad": {"label": "Bad", "desirable": "lower"},
                   "plain": {"label": "Plain", "desirable": "neither"}},
         "indicators": {"bad_up": {"node": "bad", "direction": "+"}, "bad_down": {"node": "bad", "direction": "-"}}}
    assert answers.sought(s, _question("good", "above"))["answer"] == "yes"
    assert answers.sought(s, _question("good", "below"))["answer"] == "no"
    assert answers.sought(s, _question("bad", "below"))["answer"] == "yes"
    assert answers.sought(s, _question("bad_up", "below"))["answer"] == "yes"  # an indicator takes its node's
    assert answers.sought(s, _question("bad_down", "below"))["answer"] == "no"  # reversed when it falls as it rises
    # the reason is in the node's words: its own direction beside its label, whichever way the indicator runs
    assert answers.sought(s, _question("bad_down", "above"))["why"] == "lower is better for Bad"
    assert answers.sought(s, _question("bad_up", "below"))["why"] == "lower is better for Bad"


def test_the_question_s_own_desirable_answer_wins_and_without_one_none_is_sought():
    """The summary carries the scenario's resolved rule (``desirable_answer``): the report
    follows it, even against the subject's direction, and a question with none has no answer
    sought (older summaries without the key fall back on the direction)."""
    s = {"nodes": {"good": {"label": "Good", "desirable": "higher"}, "plain": {"label": "Plain", "desirable": "neither"}}}
    marked = answers.sought(s, _question("good", "above", desirable_answer="no"))
    assert marked == {"answer": "no", "why": "the question marks it"}
    assert answers.sought(s, _question("good", "above", desirable_answer="yes"))["why"] == "higher is better"
    unmarked = answers.sought(s, _question("plain", "below", desirable_answer=None))
    assert unmarked["answer"] is None and "no strategy is best" in unmarked["why"]
    assert answers.p_sought(0.3, None) is None
    declined = answers.sought(s, _question("good", "above", desirable_answer=None))  # desirable = "neither"
    assert declined["answer"] is None and "the question marks neither answer" in declined["why"]
    assert "nor Good marks" not in declined["why"]  # Good does mark one: higher is better


def _decided(best: str, tied: list[str]) -> dict:
    return {"desirable": "no", "best": best, "tied": tied, "utilities": {}, "clear": not tied, "gap_mcse": {}}


def test_the_summary_names_the_run_s_best_strategy_and_its_ties():
    """The best strategy and the ties are the run's own decision (paired Monte Carlo errors,
    :mod:`forecast.forecasts.questions`), not re-derived from the rounded probabilities."""
    s = {"nodes": {"bad": {"label": "Bad", "desirable": "lower"}, "plain": {"label": "Plain", "desirable": "neither"}},
         "questions": [
             {"id": "q1", "text": "Bad above 50?", **_question("bad", "above", desirable_answer="no"),
              "by_strategy": {"a": {"probability": 0.30, "mcse": 0.01}, "d": {"probability": 0.29, "mcse": 0.01}},
              "decision": _decided("d", ["a"])},
             {"id": "q2", "text": "Plain below 50?", **_question("plain", "below", desirable_answer=None),
              "by_strategy": {"a": {"probability": 0.40, "mcse": 0.01}, "d": {"probability": 0.70, "mcse": 0.01}},
              "decision": None}]}
    strategies = [{"id": "a", "label": "A", "href": "a.html", "baseline": True},
                  {"id": "d", "label": "D", "href": "d.html", "baseline": False}]
    rows = {r["id"]: r["cells"] for r in context.summary_context(s, strategies, strategies[0])["rows"]}
    assert rows["q1"]["best"]["text"] == "D" and rows["q1"]["best"]["note"] == (
        "no clear best: tied within Monte Carlo error with A")
    assert rows["q1"]["chance"]["data"]["chance"] == pytest.approx(0.71)
    assert rows["q2"]["best"]["text"] == "none" and rows["q2"]["sought"]["text"] == "None marked"
    assert rows["q2"]["baseline"]["text"].startswith("yes: about as likely as not (0.40)")
    s["questions"][0]["decision"] = _decided("d", [])
    assert context.summary_context(s, strategies, strategies[0])["rows"][0]["cells"]["best"]["note"] is None
    s["questions"][0]["decision"].update(equivalent=["a"], identical=[["a", "d"]])  # one option: the choice is clear
    assert context.summary_context(s, strategies, strategies[0])["rows"][0]["cells"]["best"]["note"] == (
        "identical for this question to A (the same answer in every draw: what sets them apart changes no draw's "
        "answer to this question)")


def test_the_summary_of_the_default_scenario_reads_from_its_numbers():
    strategies = context.strategy_list(GOLDEN)
    base = next(x for x in strategies if x["baseline"])
    sm = context.summary_context(GOLDEN, strategies, base)
    assert [k for k, _ in sm["columns"]] == ["question", "sought", "best", "chance", "baseline", "spread"]
    rows = {r["id"]: r["cells"] for r in sm["rows"]}
    assert set(rows) == {q["id"] for q in GOLDEN["questions"]}
    for q in GOLDEN["questions"]:
        cells = rows[q["id"]]
        want = answers.sought(GOLDEN, q)["answer"]
        best = cells["best"]["data"]["strategy"]
        p = {sid: answers.p_sought(r["probability"], want) for sid, r in q["by_strategy"].items()}
        assert p[best] == max(p.values())
        assert cells["chance"]["text"] == f"{answers.likelihood(p[best])} ({p[best]:.2f})"
        assert cells["baseline"]["data"]["chance"] == p[base["id"]]
        spread = q["by_strategy"][best]["quantity"]
        d = decimals(spread["q05"], spread["median"], spread["q95"])  # the best strategy's, not another's
        assert quantity(spread["median"], d, sign=q["reference_year"] is not None) in cells["spread"]["text"]
        assert quantity(spread["q05"], d, sign=q["reference_year"] is not None) in cells["spread"]["note"]
    # the partnership question seeks "below" (lower is better) and the cohesion one "no" to a fall
    assert rows["partnership_weaker_2029"]["sought"]["text"] == "Yes"
    assert rows["cohesion_falls_2029"]["sought"]["text"] == "No"


def test_the_spread_is_the_quantity_compared_not_the_monte_carlo_error():
    q = {"subject": "a", "comparison": "below", "reference_year": 2024, "change": 0.0, "year": 2029,
         "threshold": None}
    s = {"nodes": {"a": {"label": "A", "unit": "index 0-100"}}}
    out = context.spread(s, q, {"quantity": {"median": -14.2, "q05": -51.0, "q95": 8.4}})
    assert out == {"text": "change 2024\u21922029: \u221214 index points",
                   "note": "90% interval \u221251 to +8; yes if below 0"}
    q.update(reference_year=None, threshold=240, comparison="below")
    s["nodes"]["a"]["unit"] = "USD bn"
    out = context.spread(s, q, {"quantity": {"median": 203.4, "q05": 118.0, "q95": 351.0}})
    assert out["text"] == "value in 2029: 203 USD bn" and out["note"] == "90% interval 118 to 351; yes if below 240"


def test_a_log_scale_interval_never_reads_0_and_large_values_are_grouped():
    """The tester's case: a series with a unit slip read "90% interval 0 to 996639878" (a value
    on a log scale is never 0) and "1740903677952 USD"."""
    q = {"subject": "a", "comparison": "below", "reference_year": None, "threshold": 2e12, "year": 2029}
    s = {"nodes": {"a": {"label": "A", "unit": "USD bn"}}}
    out = context.spread(s, q, {"quantity": {"median": 1740903677952.0, "q05": 1e-11, "q95": 996639878.0}})
    assert out["text"] == "value in 2029: 1,740,903,677,952 USD bn"
    assert out["note"].startswith("90% interval <1 to 996,639,878")
    assert quantity(0.004, 2) == "<0.01" and quantity(-0.004, 2) == "0.00" and quantity(0.0, 1) == "0.0"
    assert quantity(-12345.6, 0, sign=True) == "\u221212,346"


def test_a_run_from_before_the_spread_was_kept_says_so():
    q = {"subject": "a", "comparison": "below", "reference_year": 2024, "change": 0.0, "year": 2029, "threshold": None}
    out = context.spread({"nodes": {"a": {"label": "A", "unit": "index 0-100"}}}, q, {"probability": 0.5})
    assert out["text"] == "n/a" and "re-run" in out["note"]


def test_the_index_scale_is_explained_with_numbers_from_its_definition():
    scale = context.index_scale(GOLDEN)
    assert scale == {"one_up": "73", "one_down": "27", "step_near_50": "0.41", "step_80_90": "0.81"}
    assert context.index_scale({"nodes": {"x": {"unit": "USD bn"}}}) is None


# --- Sources and downloads ---------------------------------------------------------------------------


def test_each_url_in_a_source_cell_is_its_own_link():
    parts = links("https://a.example/x ; https://b.example/y (2024).")
    assert [p["url"] for p in parts if p["url"]] == ["https://a.example/x", "https://b.example/y"]
    assert "".join(p["text"] for p in parts) == "https://a.example/x ; https://b.example/y (2024)."
    assert links("javascript:alert(1)") == [{"text": "javascript:alert(1)", "url": None}]
    assert links("customs yearbook") == [{"text": "customs yearbook", "url": None}]


def test_the_default_scenarios_joined_sources_become_separate_links():
    cells = [src for ind in GOLDEN["indicators"].values() for src in ind["observed"]["sources"] if " ; " in src]
    assert cells, "the default scenario has rows with two sources"
    for src in cells:
        urls = [p["url"] for p in links(src) if p["url"]]
        assert len(urls) == src.count("http") and all(" " not in u and ";" not in u for u in urls)


def test_the_answers_csv_has_a_row_per_question_and_strategy():
    rows = list(csv.DictReader(io.StringIO(downloads.answers_csv(GOLDEN))))
    assert len(rows) == len(GOLDEN["questions"]) * len(GOLDEN["strategies"])
    q = GOLDEN["questions"][0]
    row = next(r for r in rows if r["question"] == q["id"] and r["strategy"] == "status_quo")
    r = q["by_strategy"]["status_quo"]
    assert float(row["probability_yes"]) == r["probability"] and float(row["mcse"]) == r["mcse"]
    assert float(row["quantity_median"]) == r["quantity"]["median"] and row["quantity"] == "change"
    # the rule in its own columns: "change from when" was only in the question's text
    assert (row["comparison"], row["reference_year"], row["threshold"]) == (q["comparison"], str(q["reference_year"]), "")
    above = next(r for r in rows if r["threshold"])
    assert above["reference_year"] == "" and above["change"] == "" and above["quantity"] == "value"
    assert row["answer_sought"] == "yes" and row["likelihood_yes"] == answers.likelihood(r["probability"])
    sought_no = next(r for r in rows if r["answer_sought"] == "no")
    assert len(sought_no["probability_sought"]) <= 14  # 1 - p written as the number, not its binary residue
    assert float(sought_no["probability_sought"]) == pytest.approx(1 - float(sought_no["probability_yes"]), abs=1e-12)


def test_csv_text_cannot_become_a_spreadsheet_formula():
    s = {"nodes": {"a": {"label": "A"}}, "strategies": [{"id": "s", "label": "=HYPERLINK(1)"}],
         "questions": [{"id": "q", "text": "@SUM(A1)", "year": 2029, "subject": "a", "comparison": "above",
                        "threshold": 1, "reference_year": None,
                        "by_strategy": {"s": {"probability": 0.5, "mcse": 0.01}}}]}
    row = next(csv.DictReader(io.StringIO(downloads.answers_csv(s))))
    assert row["question_text"] == "'@SUM(A1)" and row["strategy_label"] == "'=HYPERLINK(1)"
    assert row["probability_yes"] == "0.5"


def test_with_many_strategies_the_overview_draws_the_baseline_and_those_that_move_a_node_most(monkeypatch):
    def band(median: float) -> dict:
        return {"median": [0.0, median], "q05": [0.0, median - 1.0], "q95": [0.0, median + 1.0]}

    moves = {"base": 0.0, "a": 0.1, "b": 3.0, "c": -5.0, "d": 0.2}
    node = {"by_strategy": {k: band(v) for k, v in moves.items()}}
    strategies = [{"id": k, "label": k.upper()} for k in moves]
    monkeypatch.setattr(context, "MAX_STRATEGY_PANELS", 3)
    shown = context.panel_strategies(node, strategies, strategies[0])
    assert [x["id"] for x in shown] == ["base", "b", "c"]  # file order; the baseline always
    monkeypatch.setattr(context, "MAX_STRATEGY_PANELS", 8)
    assert context.panel_strategies(node, strategies, strategies[0]) == strategies


# --- What the evidence did to a claim, what an answer hinges on, how the fits ran ------------------


def _claim(prior: dict, posterior: dict, informed: bool = True) -> dict:
    return {"informed": informed, "prior": {"sd": 0.3, "q05": 0.1, "q50": 0.6, "q95": 1.1, **prior},
            "posterior": {"p_sign_mcse": 0.01, "q05": 0.1, "median": 0.6, "q95": 1.1, **posterior}}


def test_a_claim_no_data_can_reach_reads_as_its_prior_whatever_its_draws_did():
    """Its effect is measured by no indicator, directly or through what it drives: a move of
    P(sign) is sampling noise, not evidence."""
    said = context.claim_verdict(_claim({"p_sign": 0.69}, {"p_sign": 0.63}, informed=False), "Power price", True)
    assert said.startswith("No data bear on this claim: no indicator measures Power price")


def test_a_move_of_the_claimed_sign_counts_beyond_its_monte_carlo_error():
    assert "weighs against" in context.claim_verdict(_claim({"p_sign": 0.69}, {"p_sign": 0.60}), "E", True)
    noisy = _claim({"p_sign": 0.69}, {"p_sign": 0.60, "p_sign_mcse": 0.05})  # 0.09 < twice 0.05
    assert "says little" in context.claim_verdict(noisy, "E", True)
    assert "supports" in context.claim_verdict(_claim({"p_sign": 0.5}, {"p_sign": 0.7}), "E", True)


def test_evidence_that_moves_a_settled_claim_s_size_says_so():
    """P(sign) was 0.98 before and cannot move much; the median moved by more than a prior sd."""
    moved = _claim({"p_sign": 0.98}, {"p_sign": 1.0, "q05": 0.5, "median": 1.0, "q95": 1.33})
    said = context.claim_verdict(moved, "E", True)
    assert said.startswith("The evidence moved the effect's size rather than its sign: median 0.60 \u2192 1.00")
    narrowed = _claim({"p_sign": 0.98}, {"p_sign": 0.98, "q05": 0.4, "median": 0.62, "q95": 0.8})
    assert "moved the effect's size" in context.claim_verdict(narrowed, "E", True)
    assert "says little" in context.claim_verdict(_claim({"p_sign": 0.98}, {"p_sign": 0.98}), "E", True)


def _hinged(swing: tuple[float, float], error: float, clear: bool) -> dict:
    found = {"on_path": True, "tornado": {"a": list(swing)}, "tornado_mcse": {"a": [error, error]},
             "tornado_clear": {"a": clear}, "variance_share": {"a": 0.1}}
    return {"posterior": {"a": 0.5}, "prior_only": {"a": 0.4}, "ranking": ["c"], "claims": {"c": found},
            "decision": {"desirable": "yes", "best": "a", "tied": [], "utilities": {"a": 0.5}}}


def test_a_tornado_whose_swings_are_within_monte_carlo_error_says_no_claim_moves_the_answer():
    s = {"claims": {"c": {"label": "Claim C"}}, "sensitivity": {"settings": {"tornado_quantiles": [0.05, 0.95]}}}
    q = {"id": "q", "text": "Q?"}
    by_id = {"a": {"id": "a", "label": "A", "href": "a.html"}}
    clear = context.hinge_question(s, q, _hinged((0.3, 0.7), 0.02, True), by_id)
    assert clear["sentence"].startswith("The answer hinges most on \u201cClaim C\u201d: from 0.30 to 0.70 (Monte Carlo error "
                                        "about 0.020 each)")
    noisy = context.hinge_question(s, q, _hinged((0.45, 0.52), 0.06, False), by_id)
    assert noisy["sentence"].startswith("No claim moves this answer beyond Monte Carlo error: the widest swing "
                                        "(\u201cClaim C\u201d: from 0.45 to 0.52")
    assert noisy["bars"][0]["clear"] is False and noisy["bars"][0]["mcse_low"] == 0.06


def test_the_diagnostics_name_the_reference_fit_and_group_divergences_fit_by_fit():
    d = {"verdict": "ok", "chains": 2, "draws": 200, "tune": 200, "fits": 3, "reference_fit": True,
         "divergences": 1, "divergences_per_chain": [0, 0, 1, 0, 0, 0]}
    rows = dict(context.diagnostics_context(d)["rows"])
    assert rows["Chains \u00d7 draws (tuning steps)"] == ("2 \u00d7 200 (200), in each of 3 fits: one per combination of "
                                                         "competing hypotheses (2), and a reference fit under broad "
                                                         "priors that weighs them")
    assert rows["Divergent transitions"] == "1 (per chain, fit by fit: 0, 0; 1, 0; 0, 0)"


def test_the_backtest_headline_says_when_its_90_percent_intervals_are_too_narrow():
    from forecast.report.backtest import headline

    summary = {"points": 40, "origins": [2016, 2017], "horizon": 3, "coverage": {"model": {"90": 0.77, "50": 0.4}},
               "skill": {"best_baseline": "rw_t", "skill": 0.08}}
    assert "held 77% of what happened (too narrow: calibrated 90% intervals would hold 80%–97%)" in headline(summary)
    summary["coverage"]["model"]["90"] = 0.9
    assert "held 90% of what happened and the 50%" in headline(summary)


@pytest.mark.parametrize(("points", "held", "words"), [
    (4, 1.0, "(on 4 points, as a calibrated 90% interval might)"),  # 0.9^4 = 0.66: no evidence of "too wide"
    (52, 1.0, "(too wide: calibrated 90% intervals would hold 80%–97%)"),
    (10, 0.7, "(on 10 points, as a calibrated 90% interval might)"),  # P(<= 7 of 10) = 0.07
    (50, 0.7, "(too narrow: calibrated 90% intervals would hold 80%–97%)"),
])
def test_the_backtest_headline_judges_its_coverage_only_where_the_points_can_tell(points, held, words):
    from forecast.report.backtest import headline

    summary = {"points": points, "origins": [2016], "horizon": 1, "coverage": {"model": {"90": held, "50": 0.5}},
               "skill": {"best_baseline": "rw_t", "skill": 0.08}}
    text = headline(summary)
    assert words in text and "(1 origin, 1 year ahead)" in text


def test_the_backtest_notes_name_one_origin_s_failed_fit_in_the_singular():
    from forecast.report.backtest import quality_notes

    notes = quality_notes({"fits": {"2019": {"verdict": "fail"}}})
    assert notes == ["The only origin's fit failed on its diagnostics (2019): its scores are not to be trusted; "
                     "the backtest's page says why."]
    notes = quality_notes({"fits": {"2019": {"verdict": "fail"}, "2020": {"verdict": "ok"}}})
    assert notes[0].startswith("The fits of 1 of 2 origins failed on their diagnostics (2019): their scores")


def test_a_probability_s_word_is_that_of_the_number_shown():
    """0.9875 is shown as 0.99: it gets 0.99's word, never another beside the same number."""
    assert answers.likelihood(0.9875) == answers.likelihood(0.99) == "virtually certain"
    assert answers.likelihood(0.0125) == answers.likelihood(0.01) == "exceptionally unlikely"
    assert context.chance(0.6549) == "about as likely as not (0.65)" and context.chance(0.655) == "likely (0.66)"


def test_a_claim_whose_hypotheses_the_data_reweighed_follows_the_data_between_them():
    """Power-scaling a narrow mixture prior says "prior" even when the data chose the
    hypothesis: the words say both, with the weights."""
    found = {"contraction": 0.4, "prior_sensitivity": 0.132, "driven_by": "prior"}
    claim = {"hypotheses": {"inelastic": {"label": "Inelastic", "prior_weight": 0.5, "posterior_weight": 0.95,
                                          "posterior_weight_mcse": 0.01},
                            "none": {"label": "", "prior_weight": 0.5, "posterior_weight": 0.05,
                                     "posterior_weight_mcse": 0.01}}}
    word, note = answers.learned_text(found, claim)
    assert word == "the data, between its hypotheses; its prior, within them"
    assert note.endswith("hypothesis weights Inelastic 0.50 \u2192 0.95, none 0.50 \u2192 0.05")
    unmoved = {h: {**v, "posterior_weight": 0.52} for h, v in claim["hypotheses"].items()}
    assert answers.learned_text(found, {"hypotheses": unmoved})[0] == "its prior"
    assert answers.learned_text({**found, "driven_by": "data"})[0] == "the data"


def test_a_claim_the_data_moved_and_its_prior_still_shapes_follows_both():
    """The claims section read "the evidence supports the claimed sign more than the prior did"
    while the value-of-information table read "its prior" (a high prior sensitivity): both
    hold, and the words now say so; a claim the data did not move follows its prior."""
    found = {"contraction": 0.39, "prior_sensitivity": 0.08, "driven_by": "prior"}
    word, note = answers.learned_text(found, _claim({"p_sign": 0.84}, {"p_sign": 0.97}))
    assert word == "both the data and its prior" and note.endswith(
        "the data made its claimed sign more likely, and scaling its prior still moves it")  # not "moved its sign"
    assert answers.learned_text(found, _claim({"p_sign": 0.84}, {"p_sign": 0.85}))[0] == "its prior"


def test_a_claim_no_data_bear_on_follows_its_prior_alone_whatever_its_draws_show():
    """As the claims section says: no indicator measures its effect or anything it drives, so a
    narrowed variance or a moved sign in its draws is sampling noise, not learning."""
    found = {"contraction": 0.08, "contraction_noise": 0.05, "prior_sensitivity": 0.01, "driven_by": "data"}
    unreached = _claim({"p_sign": 0.84}, {"p_sign": 0.97}, informed=False)
    word, note = answers.learned_text(found, unreached)
    assert word == "its prior alone" and note.startswith("no data bear on it") and "narrowed" not in note


@pytest.mark.parametrize(("contraction", "words"), [
    (0.4, "prior variance narrowed by 40%"), (-0.05, "prior variance not narrowed beyond sampling noise (0%, noise 12%)"),
    (0.08, "prior variance not narrowed beyond sampling noise (8%, noise 12%)"),
    (None, "the prior has no finite variance to narrow")])  # a Student-t prior with df <= 2
def test_how_far_the_data_narrowed_a_prior_is_said_only_where_its_variance_exists_and_beyond_noise(contraction,
                                                                                                   words):
    """One phrase for a prior not narrowed (a tester read two for the same case), and the prior
    sensitivity beside the line it is read against."""
    note = answers.learned_text({"contraction": contraction, "contraction_noise": 0.12, "prior_sensitivity": 0.01,
                                 "driven_by": "data"})[1]
    assert note == f"prior sensitivity 0.010 (below 0.05: the data drive it); {words}"
    older = answers.learned_text({"contraction": -0.05, "prior_sensitivity": 0.2, "driven_by": "prior"}, None, 0.1)[1]
    assert older == "prior sensitivity 0.200 (0.10 or above: its prior still shapes it); prior variance not narrowed"


def test_with_no_indicator_data_the_prior_only_answer_is_not_set_beside_the_posterior():
    """The posterior is the prior: two Monte Carlo estimates of one number, whose gap would
    read as the data's doing."""
    s = {"indicators": {}, "sensitivity": {"questions": {"q": {"prior_only": {"a": 0.51}}}}}
    assert context.prior_only(s, "q", "a") is None and context.prior_note(s, "q", "a") == ""
    s["indicators"] = {"x": {"node": "n"}}
    assert context.prior_only(s, "q", "a") == 0.51 and context.prior_note(s, "q", "a") == "prior only 0.51"


def test_a_scenario_with_one_strategy_says_there_is_no_choice():
    s = {"nodes": {"bad": {"label": "Bad", "desirable": "lower"}}, "indicators": {},
         "questions": [{"id": "q", "text": "Bad above 50?", **_question("bad", "above", desirable_answer="no"),
                        "by_strategy": {"a": {"probability": 0.47, "mcse": 0.01}},
                        "decision": _decided("a", [])}],
         "contrasts": {}}
    only = [{"id": "a", "label": "A", "href": "a.html", "baseline": True}]
    row = context.summary_context(s, only, only[0])["rows"][0]["cells"]
    assert row["best"]["text"] == "A" and row["best"]["note"] == context.ONLY_STRATEGY
    assert context.contrasts_context(s, only, "index")["only_baseline"] is True


def test_the_tornado_its_sentence_and_the_summary_rank_claims_under_the_strategy_shown():
    """Claim W swings widely under another strategy; under the one shown only V moves the
    answer beyond Monte Carlo error: the chart leads with V, and the sentence and the summary
    name V."""
    def found(swing_a, clear_a, swing_b, clear_b):
        return {"on_path": True, "tornado": {"a": list(swing_a), "b": list(swing_b)},
                "tornado_mcse": {"a": [0.01, 0.01], "b": [0.01, 0.01]},
                "tornado_clear": {"a": clear_a, "b": clear_b}, "variance_share": {"a": 0.1, "b": 0.1}}

    entry = {"posterior": {"a": 0.5, "b": 0.4}, "prior_only": {"a": 0.5, "b": 0.4}, "ranking": ["w", "v"],
             "claims": {"w": found((0.49, 0.51), False, (0.1, 0.9), True),
                        "v": found((0.40, 0.60), True, (0.39, 0.41), False)},
             "decision": {"desirable": "yes", "best": "a", "tied": [], "utilities": {"a": 0.5, "b": 0.4}}}
    s = {"claims": {"w": {"label": "W"}, "v": {"label": "V"}}, "indicators": {"x": {}},
         "sensitivity": {"settings": {"tornado_quantiles": [0.05, 0.95]}, "questions": {"q": entry}}}
    by_id = {"a": {"id": "a", "label": "A", "href": "a.html"}, "b": {"id": "b", "label": "B", "href": "b.html"}}
    card = context.hinge_question(s, {"id": "q", "text": "Q?"}, entry, by_id)
    assert [b["claim"] for b in card["bars"]] == ["v", "w"]
    assert card["sentence"].startswith("The answer hinges most on \u201cV\u201d:")
    assert context.rests_on(s, {"id": "q"}, by_id["a"], "yes")["text"].startswith("Hinges most on \u201cV\u201d.")


def test_strategies_that_give_the_same_answer_in_every_draw_are_named_as_one_option_not_as_tied():
    """Their paired difference is 0 in every draw: more draws would never separate them."""
    by_id = {"a": {"label": "A"}, "b": {"label": "B"}, "c": {"label": "C"}, "d": {"label": "D"}}
    decision = {"best": "a", "tied": ["c"], "gap_mcse": {"b": 0.0, "c": 0.012}, "equivalent": ["b"],
                "identical": [["a", "b"], ["c", "d"]]}
    assert answers.tie_phrase(decision, by_id) == "tied within Monte Carlo error with C"
    assert answers.same_phrase(decision, by_id) == (
        "identical for this question to B (the same answer in every draw: what sets them apart changes no draw's "
        "answer to this question)")
    assert answers.option_label(decision, by_id, "c") == "C = D" and answers.option_label(decision, by_id, "a") == "A = B"
    assert answers.tie_phrase({"tied": []}, by_id) == "" and answers.same_phrase({"best": "a", "tied": []}, by_id) == ""
    older = {"best": "a", "tied": ["b", "c"], "gap_mcse": {"b": 0.0, "c": 0.012}}  # a summary from before
    assert answers.tie_phrase(older, by_id) == "tied within Monte Carlo error with C"
    assert answers.same_phrase(older, by_id).startswith("identical for this question to B (")


def test_a_strategy_that_moves_nothing_reads_the_same_not_worse():
    """Common random numbers give a strategy whose levers do not reach an outcome the baseline's
    draws exactly: better in no draw, and worse in none. "Exceptionally unlikely (0.00)" would
    read as worse."""
    zero = {"median": [0.0], "q05": [0.0], "q25": [0.0], "q75": [0.0], "q95": [0.0]}
    row = context.contrast_row("s", {**zero, "p_better": [0.0], "p_same": [1.0]}, {})
    assert row["p_better_text"] == "the same in every draw"
    assert context.contrast_row("s", {**zero, "p_same": [1.0]}, {})["p_better_text"] == "the same in every draw"
    some = context.contrast_row("s", {**zero, "p_better": [0.3], "p_same": [0.4]}, {})["p_better_text"]
    assert some.startswith("unlikely (0.30)") and some.endswith("the same in 0.40 of draws")
    rare = context.contrast_row("s", {**zero, "p_better": [0.3], "p_same": [0.001]}, {})["p_better_text"]
    assert rare == "unlikely (0.30)", "a share that rounds to 0.00 is not worth a clause"
    older = context.contrast_row("s", {**zero, "p_better": [0.3]}, {})  # a summary from before p_same
    assert older["p_better_text"] == "unlikely (0.30)"


def test_a_lever_a_strategy_sets_is_shown_beside_where_the_baseline_would_take_it():
    """The tester's case: dual containment sets pressure on Russia to 75, "which was 78 in
    2024"; under the status quo it rises to 86 by 2029, so the strategy lowers it against doing
    nothing, which only the overview's note on the baseline said."""
    strategies = {x["id"]: x for x in context.strategy_list(GOLDEN)}
    horizon = GOLDEN["trajectories"]["us_pressure_russia"]["by_strategy"]["status_quo"]
    expected = f"{context.fmt(horizon['median'][-1], 0)} {context.fmt_interval(horizon['q05'][-1], horizon['q95'][-1], 0)}"
    [pressure] = [i for i in strategies["dual_containment"]["interventions"] if i["lever"] == "us_pressure_russia"]
    assert pressure["under_baseline"] == expected
    assert all(i["under_baseline"] is None for i in strategies["status_quo"]["interventions"])  # the baseline itself


def test_the_index_is_explained_beside_settings_only_for_levers_shown_as_an_index():
    """A lever in its own units (a charge in GBP/day) is set in those units: the note on the
    0-100 index belongs beside a strategy only when it sets an index lever."""
    import copy

    s = copy.deepcopy(GOLDEN)
    strategies = {x["id"]: x for x in context.strategy_list(s)}
    assert all(x["sets_index"] == bool(x["interventions"]) for x in strategies.values())  # every lever an index
    for lever, node in s["nodes"].items():
        if node["role"] == "lever":
            node["unit"] = "GBP/day"
    relabelled = context.strategy_list(s)
    assert not any(x["sets_index"] for x in relabelled)
    assert all(f["unit"] == "GBP/day" for x in relabelled for f in x["free"])
    for x in relabelled:  # a lever left to its own course shows its last level as a set one does: with its interval
        for f in x["free"]:
            lever = next(n for n, v in s["nodes"].items() if v["label"] == f["label"])
            assert f["last"] == context.last_level(s, lever)[1] and "[" in f["last"]


def test_the_sensitivity_command_says_the_decision_in_the_report_s_words_and_numbers():
    """P(no) from P(yes) = 0.535 is 0.46 in the report; the command line printed 0.47 from the
    decision's own mean. A strategy with the same answer in every draw is named as identical to
    the best for the question, not as tied with it."""
    from forecast.describe import sensitivity_view

    decision = {"desirable": "no", "best": "a", "tied": ["b"], "utilities": {"a": 0.46500000000000002, "b": 0.465},
                "gap_mcse": {"b": 0.0}, "clear": False}
    found = {"questions": {"q": {"decision": decision, "posterior": {"a": 0.535, "b": 0.535},
                                 "prior_only": {"a": 0.5, "b": 0.5}, "ranking": [], "claims": {}}},
             "worth_researching": [], "claims": {}}
    text = sensitivity_view({"claims": {}, "questions": [{"id": "q", "text": "Q?"}]}, found)
    assert f"best strategy: a (P(no) {context.fmt(1 - 0.535)}), identical for this question to b (the same" in text


def test_the_sensitivity_command_marks_swings_within_noise_and_sets_values_apart_from_their_noise():
    """A swing the regression cannot tell from noise ("0.65 to 0.66" beside an answer of 0.51)
    says so; a value of information above its noise does not print as equal to it."""
    from forecast.describe import sensitivity_view

    claim = {"on_path": True, "tornado": {"a": [0.65, 0.66]}, "tornado_mcse": {"a": [0.066, 0.064]},
             "tornado_clear": {"a": False},
             "variance_share": {"a": 0.03}, "evppi": 0.0024, "evppi_noise": 0.0016}
    found = {"questions": {"q": {"posterior": {"a": 0.51}, "prior_only": {"a": 0.5}, "ranking": ["c"],
                                 "claims": {"c": claim}}},
             "worth_researching": [{"claim": "c", "question": "q", "evppi": 0.0024, "evppi_noise": 0.0016}],
             "claims": {}}
    text = sensitivity_view({"claims": {"c": {"label": "C"}}, "questions": [{"id": "q", "text": "Q?"}]}, found)
    assert "under a 0.65 to 0.66 (within Monte Carlo error, ± 0.07)" in text
    assert "value of information 0.0024 (noise 0.0016)" in text and "c for q: 0.0024 (noise 0.0016)" in text
    claim["tornado_clear"] = {"a": True}
    assert "within Monte Carlo error" not in sensitivity_view({"claims": {}, "questions": [{"id": "q", "text": "Q?"}]},
                                                                found)


def test_the_sensitivity_command_ranks_and_measures_claims_under_the_strategy_it_shows_as_the_report_does():
    """Claim w swings the answer widely only under b, the strategy not shown: ranked first by
    its widest swing under any strategy it was printed first with a swing of 0.40 to 0.41
    under a, above claim n's clear 0.30 to 0.60, and with b's variance share beside it."""
    from forecast.describe import sensitivity_view

    def claim(a: list[float], b: list[float], clear_a: bool, share: dict) -> dict:
        return {"on_path": True, "tornado": {"a": a, "b": b}, "tornado_mcse": {"a": [0.01, 0.01], "b": [0.01, 0.01]},
                "tornado_clear": {"a": clear_a, "b": True}, "variance_share": share}

    found = {"questions": {"q": {"posterior": {"a": 0.5, "b": 0.3}, "prior_only": {"a": 0.5, "b": 0.5},
                                 "ranking": ["w", "n"],
                                 "claims": {"w": claim([0.40, 0.41], [0.0, 0.9], False, {"a": 0.01, "b": 0.7}),
                                            "n": claim([0.30, 0.60], [0.3, 0.35], True, {"a": 0.2, "b": 0.02})}}},
             "worth_researching": [], "claims": {}}
    lines = [line.strip() for line in sensitivity_view({"claims": {}, "questions": [{"id": "q", "text": "Q?"}]},
                                                       found).splitlines() if line.startswith("    ")]
    assert lines[0] == "n: under a 0.30 to 0.60; variance share 0.20"
    assert lines[1].startswith("w: under a 0.40 to 0.41 (within Monte Carlo error") and lines[1].endswith("share 0.01")


def test_two_numbers_get_the_decimals_that_set_them_apart():
    from forecast.report.formatting import apart

    assert apart(0.0024, 0.0016) == ("0.0024", "0.0016")
    assert apart(0.0123, 0.0021) == ("0.012", "0.002")
    assert apart(0.002, 0.002) == ("0.002", "0.002") and apart(None, 0.1) == ("n/a", "0.100")


def test_the_answer_sought_shown_adds_to_one_with_the_probability_of_yes_shown():
    """P(yes) 0.085 is shown as 0.09 in the answers table and the terminal; P(no) beside it was
    0.92 (0.915 rounded), and the two read 1.01."""
    r = {"probability": 0.085, "mcse": 0.01}  # 0.09 as the answers table and the terminal show it
    assert "(0.91)" in context.sought_cell(r, "no")["text"]
    assert answers.p_sought_shown(0.085, "yes") == 0.085 and answers.p_sought_shown(0.3, None) is None


def test_a_number_that_rounds_to_zero_shows_no_sign():
    """A median difference of -0.04 shown as "-0.0" reads as a fall."""
    from forecast.report.formatting import fmt, quantity, signed

    assert fmt(-0.004) == "0.00" and fmt(-0.04, 1) == "0.0" and fmt(-0.06, 1) == "-0.1"
    assert signed(-0.04) == "0.0" and signed(0.04) == "0.0" and signed(0.06) == "+0.1"
    assert quantity(-0.04, 1, sign=True) == "0.0" and quantity(-1.2, 1) == "\u22121.2"


def test_an_index_value_that_rounds_to_an_end_of_the_scale_reads_as_beyond_the_last_step():
    """0.30 to 99.77 shown as "0 to 100" reads as the scale itself, not as a forecast."""
    assert context.on_index(0.30, 0) == "<1" and context.on_index(99.77, 0) == ">99"
    assert context.on_index(42.4, 0) == "42" and context.on_index(0.03, 1) == "<0.1"
    q = {"subject": "a", "comparison": "above", "threshold": 60.0, "year": 2029, "reference_year": None}
    s = {"nodes": {"a": {"label": "A", "unit": "index 0-100"}}, "indicators": {}}
    note = context.spread(s, q, {"quantity": {"q05": 0.30, "median": 45.0, "q95": 99.77}})["note"]
    assert note == "90% interval <1 to >99; yes if above 60"
    s["nodes"]["a"]["unit"] = "%"
    assert context.spread(s, q, {"quantity": {"q05": 8.0, "median": 44.0, "q95": 90.0}})["note"] == \
        "90% interval 8% to 90%; yes if above 60"
