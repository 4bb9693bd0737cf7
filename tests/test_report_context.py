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


