"""The report's page contexts, from summaries written by hand: no sampling needed."""

from __future__ import annotations

from forecast.report import context


def test_statement_reads_thresholds_with_units():
    s = {"nodes": {"a": {"label": "Alliance", "unit": "index 0-100"}},
         "indicators": {"t": {"label": "Trade", "unit": "USD bn"}, "g": {"label": "Germans", "unit": "%"}}}

    def q(subject, year, comparison, threshold=None, reference_year=None, change=0.0):
        return {"subject": subject, "year": year, "comparison": comparison, "threshold": threshold,
                "reference_year": reference_year, "change": change}

    assert context.statement(s, q("a", 2029, "above", 60)) == "Alliance in 2029 is above 60 (index 0-100)"
    assert context.statement(s, q("t", 2026, "below", 240)) == "Trade in 2026 is below 240 USD bn"
    assert context.statement(s, q("g", 2027, "above", 50)) == "Germans in 2027 is above 50%"
    assert context.statement(s, q("a", 2029, "below", reference_year=2024, change=-5)) == \
        "Alliance in 2029 is below its 2024 level minus 5 (index 0-100)"


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
