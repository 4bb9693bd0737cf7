"""A question's decision: the best strategy for its desirable answer, and the strategies tied
with it by the paired Monte Carlo error of their difference (one rule for the summary, the
report, the sensitivity analysis and sweeps)."""

from __future__ import annotations

import numpy as np
import pytest

from forecast.forecasts.questions import decide


def test_strategies_within_the_paired_monte_carlo_error_of_the_best_are_tied() -> None:
    rng = np.random.default_rng(5)
    base = (rng.uniform(size=4000) < 0.4).astype(float)
    nudged = base.copy()
    nudged[:3] = 1.0  # three draws more: within the error
    better = np.maximum(base, (rng.uniform(size=4000) < 0.1).astype(float))
    tied = decide(np.stack([base, nudged]), "yes", ["a", "b"], chains=2)
    assert tied.best == "b" and tied.tied == ("a",) and not tied.clear
    clear = decide(np.stack([base, better]), "yes", ["a", "b"], chains=2)
    assert clear.best == "b" and clear.clear
    assert decide(np.stack([base, better]), "no", ["a", "b"], chains=2).best == "a"


def test_a_difference_far_smaller_than_either_answers_error_is_still_clear_when_paired() -> None:
    """Two strategies whose answers differ in 60 of 4000 draws, always the same way: each
    answer's own error (about 0.008) would call a gap of 0.015 a tie; the paired error does not."""
    rng = np.random.default_rng(7)
    base = (rng.uniform(size=4000) < 0.5).astype(float)
    lifted = base.copy()
    lifted[rng.choice(np.flatnonzero(base == 0), 60, replace=False)] = 1.0
    found = decide(np.stack([base, lifted]), "yes", ["base", "lifted"], chains=4)
    assert found.best == "lifted" and found.clear
    assert found.gap_mcse["base"] < 0.005 < np.sqrt(0.25 / 4000) * 2


def test_strategies_that_give_the_same_draws_are_one_option_not_a_tie() -> None:
    """Their levers differ where the question's subject cannot feel it: more draws would never
    separate them, so the choice between them is made elsewhere, and the choice against the
    others can still be clear (a tester saw a "tie" switch off every flip of such questions)."""
    rng = np.random.default_rng(3)
    same = (rng.uniform(size=1000) < 0.3).astype(float)
    worse = np.maximum(same, (rng.uniform(size=1000) < 0.3).astype(float))  # yes more often: worse for "no"
    found = decide(np.stack([worse, same, same, worse]), "no", ["a", "b", "c", "d"], chains=2)
    assert (found.best, found.equivalent, found.tied, found.clear) == ("b", ("c",), (), True)
    assert found.identical == (("a", "d"), ("b", "c")) and found.gap_mcse["c"] == 0.0
    assert found.to_dict()["equivalent"] == ["c"] and found.to_dict()["identical"] == [["a", "d"], ["b", "c"]]
    close = decide(np.stack([same, same, np.roll(same, 1)]), "no", ["a", "b", "c"], chains=2)
    assert close.equivalent == ("b",) and close.tied == ("c",) and not close.clear


def test_a_summary_written_before_identical_strategies_were_told_apart_reads_them_as_such() -> None:
    from forecast.forecasts.questions import as_recorded

    older = {"desirable": "yes", "best": "a", "utilities": {}, "tied": ["b", "c"], "clear": False,
             "gap_mcse": {"b": 0.0, "c": 0.01}}
    assert as_recorded(older) | {"utilities": {}} == {**older, "tied": ["c"], "clear": False, "equivalent": ["b"],
                                                      "identical": [["a", "b"]]}
    assert as_recorded({**older, "tied": ["b"]})["clear"] is True and as_recorded(None) is None


def test_a_share_of_0_or_1_from_few_draws_is_not_exact() -> None:
    """10 draws that all say yes give 1.00, with an error of about 0.07; many draws give the
    binomial error as it is."""
    from forecast.forecasts.questions import proportion_error

    assert 0.05 < float(proportion_error(1.0, 10)) < 0.08
    assert float(proportion_error(0.0, 4000)) < 0.001
    assert float(proportion_error(0.3, 4000)) == pytest.approx(np.sqrt(0.3 * 0.7 / 4000), rel=1e-3)
