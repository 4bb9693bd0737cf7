"""What each answer hinges on: influence comes from the claims on the question's path and is
exactly zero off it; the value of information is zero when a claim cannot change the best
strategy; a run against itself moves nothing; a flipped claim is named first, and the best
strategy it changes too."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from click.testing import CliRunner

from forecast.cli import cli
from forecast.errors import ScenarioWarning
from forecast.forecasts.questions import Decision
from forecast.pipeline import run_scenario
from forecast.results.store import load_run
from forecast.scenario import load_scenario
from forecast.sensitivity.analysis import (
    EffectRegression,
    claims_upstream,
    evppi,
    evppi_noise,
    flip,
    variance_share,
)
from forecast.sensitivity.diff import diff_runs
from forecast.settings import SamplerSettings

from .conftest import CHAIN, write_scenario

SETTINGS = SamplerSettings(draws=300, tune=300, chains=2, seed=5, progress=False)


def hinge_scenario() -> dict:
    """L (lever) -> A -> B in the same year, C -> B: l_to_a pinned near 0.5, a_to_b uncertain
    around 0.8, c_to_b uncertain around 0; strategies hold L low or high. Every node nearly
    still (tiny volatility, level shifts and drift, Gaussian shocks, baselines and persistence pinned),
    so the question on B depends on a_to_b (l_to_a is pinned, and C stays near 0 whatever c_to_b
    is)."""
    s = copy.deepcopy(CHAIN)
    s["scenario"]["shock_df"] = 1000.0
    still = {"baseline": {"dist": "Normal", "mu": 0.0, "sigma": 0.01},
             "persistence": {"dist": "Beta", "alpha": 5000, "beta": 5000},
             "volatility": {"dist": "Gamma", "alpha": 100, "beta": 20000},
             "shift": {"dist": "Gamma", "alpha": 100, "beta": 20000}, "drift_sd": 0.001, "initial_sd": 0.01}
    for node in s["nodes"].values():
        node.update(still, display={"kind": "linear"})
    s["claims"] = [
        {"id": "l_to_a", "cause": "L", "effect": "A", "lag": 0, "prior": {"dist": "Normal", "mu": 0.5, "sigma": 0.001}},
        {"id": "a_to_b", "cause": "A", "effect": "B", "lag": 0, "prior": {"dist": "Normal", "mu": 0.8, "sigma": 0.4}},
        {"id": "c_to_b", "cause": "C", "effect": "B", "lag": 1, "prior": {"dist": "Normal", "mu": 0.0, "sigma": 0.3}},
    ]
    s["strategies"] = [{"id": "hold_low", "label": "Hold low", "baseline": True, "set": {"L": -2.0}},
                       {"id": "hold_high", "label": "Hold high", "set": {"L": 2.0}}]
    s["questions"] = [
        {"id": "b_high", "text": "Is B in 2010 above 0.7?", "subject": "B", "year": 2010, "comparison": "above",
         "threshold": 0.7},
        {"id": "c_high", "text": "Is C in 2010 above 0?", "subject": "C", "year": 2010, "comparison": "above",
         "threshold": 0.0, "desirable": "yes"},
    ]
    return s


@pytest.fixture(scope="module")
def hinge_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hinge")
    return run_scenario(write_scenario(root, hinge_scenario()), SETTINGS, out=root / "run", report=False)


def test_claims_on_no_path_to_a_subject_are_found_from_the_graph(tmp_path) -> None:
    scenario = load_scenario(write_scenario(tmp_path, hinge_scenario()))
    upstream = claims_upstream(scenario)
    assert upstream == {"b_high": {0, 1, 2}, "c_high": set()}


def test_regression_estimates_recover_a_known_first_order_index() -> None:
    """y = x + e with Var(x) = Var(e): half the variance is x's."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=20000)
    y = x + rng.normal(size=20000)
    assert variance_share(x, y[None])[0] == pytest.approx(0.5, abs=0.02)
    fitted = EffectRegression(x).fitted(y[None])[0]
    assert fitted.mean() == pytest.approx(y.mean(), abs=1e-12)


def test_the_value_of_information_is_zero_when_the_best_choice_never_changes() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=4000)
    always_better = np.stack([rng.uniform(0, 0.3, 4000), rng.uniform(0.7, 1.0, 4000) + 0.1 * x])
    assert evppi(x, always_better) == pytest.approx(0.0, abs=1e-12)
    crossing = np.stack([0.5 - 0.4 * x, 0.5 + 0.4 * x])  # which is better depends on the sign of x
    assert evppi(x, crossing) > 0.2


def test_an_answer_given_an_effect_is_read_from_the_draws_that_have_it() -> None:
    """The tornado's answer "if the effect were x" is E[y | x] over the posterior, with what the
    posterior ties to the effect: here the answer hinges on a hidden state that the effect
    predicts, so fixing the effect and keeping each draw's state would leave the answer flat."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=8000)
    state = x + rng.normal(size=8000)  # what the posterior inferred alongside the effect
    y = (state > 0).astype(float)
    at = np.array([-1.645, 0.0, 1.645])
    mean, se = EffectRegression(x).predict(y[None], at)
    from scipy.stats import norm

    truth = norm.cdf(at)  # P(x + e > 0 | x)
    assert np.all(np.abs(mean[0] - truth) < 4 * se[0] + 0.01)
    assert np.all(se[0] > 0) and np.all(se[0] < 0.05)


def test_standard_errors_count_the_draws_autocorrelation() -> None:
    """Draws that repeat each value ten times carry a tenth of the information."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=1000)
    y = x + rng.normal(size=1000)
    _, independent = EffectRegression(x).predict(y[None], np.array([0.0]))
    _, repeated = EffectRegression(np.repeat(x, 10), chains=2).predict(np.repeat(y, 10)[None], np.array([0.0]))
    assert repeated[0, 0] == pytest.approx(independent[0, 0], rel=0.35)


def test_a_claim_unrelated_to_the_answers_is_within_the_value_of_informations_noise() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=4000)
    close = (rng.uniform(size=(2, 4000)) < np.array([[0.45], [0.47]])).astype(float)
    unrelated = EffectRegression(x)
    assert 0.0 < evppi(x, close, unrelated) <= evppi_noise(unrelated, close)
    crossing = (rng.uniform(size=(2, 4000)) < np.stack([0.5 - 0.3 * np.tanh(x), 0.5 + 0.3 * np.tanh(x)])).astype(float)
    related = EffectRegression(x)
    assert evppi(x, crossing, related) > 3 * evppi_noise(related, crossing)


def test_a_flip_is_where_another_strategy_is_clearly_ahead_nearest_the_median() -> None:
    """Strategy b is better when the effect is above 0.5, a below; the median is 0: the flip is
    reported a little above 0.5 (where b's lead clears its error), and none when the lead never
    does."""
    from scipy.stats import norm

    rng = np.random.default_rng(6)
    x = rng.normal(size=8000)
    a = (rng.uniform(size=8000) < 0.5).astype(float)
    b = (rng.uniform(size=8000) < np.clip(0.5 + 0.4 * (x - 0.5), 0, 1)).astype(float)
    u = np.stack([a, b])
    found = flip(EffectRegression(x), u, ["a", "b"], Decision("yes", "a", {}), norm(0, 1))
    assert found is not None and found["becomes_best"] == "b"
    assert 0.5 < found["value"] < 1.2 and found["margin"] > 2 * found["margin_se"]
    never = np.stack([a, (rng.uniform(size=8000) < 0.3).astype(float)])
    assert flip(EffectRegression(x), never, ["a", "b"], Decision("yes", "a", {}), norm(0, 1)) is None


@pytest.mark.slow
def test_a_question_that_depends_on_one_claim_gets_its_influence_from_it(hinge_run) -> None:
    found = hinge_run.summary["sensitivity"]["questions"]["b_high"]
    claims = found["claims"]
    assert found["ranking"][0] == "a_to_b"
    share = claims["a_to_b"]["variance_share"]["hold_high"]
    assert share > 0.8
    assert share > 20 * max(claims[c]["variance_share"]["hold_high"] for c in ("l_to_a", "c_to_b"))
    assert claims["a_to_b"]["contrast_variance_share"]["hold_high"] > 0.8
    low, high = claims["a_to_b"]["tornado"]["hold_high"]
    assert low < 0.1 and high > 0.9  # a weak A -> B keeps B below 0.7, a strong one above
    # its lead over the baseline (which holds L low) swings with it too, beyond its paired error
    lead_low, lead_high = claims["a_to_b"]["contrast_tornado"]["hold_high"]
    assert lead_high - lead_low > 0.5 and claims["a_to_b"]["contrast_tornado_clear"]["hold_high"] is True
    assert max(claims["a_to_b"]["contrast_tornado_mcse"]["hold_high"]) < 0.5 * (lead_high - lead_low)


@pytest.mark.slow
def test_a_claim_on_no_path_has_exactly_no_influence(hinge_run) -> None:
    found = hinge_run.summary["sensitivity"]["questions"]["c_high"]
    for claim in found["claims"].values():
        assert not claim["on_path"]
        assert set(claim["variance_share"].values()) == {0.0}
        assert claim["evppi"] == 0.0 and claim["flip"] is None
    assert found["ranking"] == []


@pytest.mark.slow
def test_the_value_of_information_of_a_claim_that_cannot_change_the_decision_is_zero(hinge_run) -> None:
    """Holding L high makes B above 0 far likelier whatever c_to_b is: knowing it is worth nothing."""
    found = hinge_run.summary["sensitivity"]["questions"]["b_high"]
    assert found["decision"]["best"] == "hold_high"
    assert found["claims"]["c_to_b"]["evppi"] == pytest.approx(0.0, abs=1e-12)
    assert found["claims"]["c_to_b"]["flip"] is None


@pytest.mark.slow
def test_prior_only_answers_stand_beside_the_posterior_ones(hinge_run) -> None:
    """Without indicators the posterior is the prior: both answers agree within their error."""
    found = hinge_run.summary["sensitivity"]["questions"]["b_high"]
    for s, p in found["posterior"].items():
        assert found["prior_only"][s] == pytest.approx(p, abs=0.06)


@pytest.mark.slow
def test_a_run_against_itself_moves_nothing(hinge_run) -> None:
    found = diff_runs(hinge_run, hinge_run)
    assert found.changes == [] and found.moved == [] and found.decisions == [] and found.decisions_not_compared == []
    assert diff_runs(hinge_run.path, str(hinge_run.path)) == found  # run directories do, as in forecast diff
    result = CliRunner().invoke(cli, ["diff", str(hinge_run.path), str(hinge_run.path)])
    assert result.exit_code == 0 and "no answer moved beyond its Monte Carlo error" in result.output
    assert result.output.startswith("0 decisions changed")


@pytest.mark.slow
def test_after_a_claims_direction_is_flipped_that_claim_is_named_first(hinge_run, tmp_path) -> None:
    flipped = hinge_scenario()
    flipped["claims"][1]["prior"] = {"dist": "Normal", "mu": -0.8, "sigma": 0.4}
    flipped["claims"][2]["prior"] = {"dist": "Normal", "mu": 0.05, "sigma": 0.3}  # a small change too
    other = run_scenario(write_scenario(tmp_path, flipped), SETTINGS, out=tmp_path / "run", report=False)
    found = diff_runs(hinge_run, other)
    assert {c["id"] for c in found.changes if c["kind"] == "claim"} == {"a_to_b", "c_to_b"}
    moved = [m for m in found.moved if m["question"] == "b_high" and m["strategy"] == "hold_high"]
    assert moved and moved[0]["explained_by"][0] == "a_to_b"
    result = CliRunner().invoke(cli, ["diff", str(hinge_run.path), str(other.path)])
    assert result.exit_code == 0 and "explained by: a_to_b" in result.output
    # B rising is desirable: with a_to_b flipped, holding L low is best for b_high instead; c_high
    # (C does not hang on L: both strategies tied, in both runs) is no change
    assert [(d["question"], d["kind"], d["a"]["best"], d["b"]["best"]) for d in found.decisions] == [
        ("b_high", "best_changed", "hold_high", "hold_low")]
    assert "b_high: best strategy changed: clear best Hold high" in result.output
    assert result.output.index("decision") < result.output.index("answers moved")
    as_json = CliRunner().invoke(cli, ["diff", str(hinge_run.path), str(other.path), "--json"])
    assert '"best_changed"' in as_json.output


@pytest.mark.slow
def test_the_sensitivity_command_reads_the_run(hinge_run) -> None:
    result = CliRunner().invoke(cli, ["sensitivity", str(hinge_run.path)])
    assert result.exit_code == 0, result.output
    assert "best strategy: hold_high" in result.output and "a_to_b" in result.output
    as_json = CliRunner().invoke(cli, ["sensitivity", str(hinge_run.path), "--json"])
    assert '"worth_researching"' in as_json.output
    assert load_run(hinge_run.path).summary["sensitivity"]["questions"].keys() == {"b_high", "c_high"}


def test_a_diff_names_a_change_to_the_dynamics_priors(tmp_path) -> None:
    """The level's shifts, the drift's spread and the shocks' tails move forecasts too."""
    from forecast.sensitivity.diff import scenario_changes

    edited = copy.deepcopy(CHAIN)
    edited["scenario"]["shock_df"] = 5.0
    edited["nodes"]["A"]["shift"] = {"dist": "Gamma", "alpha": 3, "beta": 3}
    edited["nodes"]["A"]["drift_sd"] = 0.2
    a = load_scenario(write_scenario(tmp_path / "a", CHAIN))
    b = load_scenario(write_scenario(tmp_path / "b", edited))
    found = {(c["kind"], c["id"], c["what"]) for c in scenario_changes(a, b)}
    assert found == {("scenario", "shock_df", "shocks' degrees of freedom"), ("node", "A", "shift prior"),
                     ("node", "A", "drift_sd")}


@pytest.mark.slow
def test_a_claim_barely_changed_explains_less_than_one_flipped_however_much_the_answer_hinges_on_it(
        hinge_run, tmp_path) -> None:
    """The answer hinges on a_to_b, nudged from 0.8 to 0.82; l_to_a is flipped from +0.5 to
    -0.5: the flip explains the move."""
    changed = hinge_scenario()
    changed["claims"][0]["prior"] = {"dist": "Normal", "mu": -0.5, "sigma": 0.001}
    changed["claims"][1]["prior"] = {"dist": "Normal", "mu": 0.82, "sigma": 0.4}
    other = run_scenario(write_scenario(tmp_path, changed), SETTINGS, out=tmp_path / "run", report=False)
    moved = [m for m in diff_runs(hinge_run, other).moved if m["question"] == "b_high"]
    assert moved and all(m["explained_by"][0] == "l_to_a" for m in moved)


def test_a_tornado_end_is_a_probability_even_where_the_spline_overshoots() -> None:
    """Answers that switch from no to yes at an effect value: a spline rings at the step, so
    its ends overshoot (here about -0.004 and 1.10); the tornado says at least 0 and at most 1."""
    from scipy.stats import norm

    from forecast.sensitivity.analysis import TORNADO, claim_influence, ranks

    x = np.random.default_rng(11).normal(size=800)
    y = (x > 1.0).astype(float)[None]
    regression = EffectRegression(x)
    raw, _ = regression.predict(y, np.quantile(x, TORNADO))
    assert raw.min() < 0.0 and raw.max() > 1.0  # the case this guards against
    found = claim_influence(regression, y, ranks(y), None, None, ["a"], None, norm(0, 1))
    assert found["tornado"]["a"] == [0.0, 1.0]


@pytest.mark.slow
def test_a_scenario_without_questions_runs_and_says_nothing_hinges(tmp_path) -> None:
    """Questions are optional: the run, its summary and its report stand without them, with what
    the data taught each claim, and the report's sensitivity section says why it is empty."""
    s = hinge_scenario()
    del s["questions"]
    run = run_scenario(write_scenario(tmp_path, s), SamplerSettings(draws=50, tune=50, chains=2, seed=5,
                                                                    progress=False), out=tmp_path / "run")
    sens = run.summary["sensitivity"]
    assert sens["questions"] == {} and sens["worth_researching"] == []
    assert set(sens["claims"]) == {"l_to_a", "a_to_b", "c_to_b"}
    page = (tmp_path / "run" / "report" / "index.html").read_text(encoding="utf-8")
    assert "the scenario asks no questions" in page  # the sensitivity section
    assert page.count("The scenario asks no questions, so there are no answers") == 2  # the summary, the answers
    assert "<table class=\"summary\">" not in page and "<table class=\"headline\">" not in page
    from forecast.describe import results_table

    assert results_table(run.summary).startswith("the scenario asks no questions")
    shown = CliRunner().invoke(cli, ["sensitivity", str(tmp_path / "run")])
    assert shown.exit_code == 0 and "Traceback" not in shown.output, shown.output
    assert shown.output.startswith("the scenario asks no questions: no answer hinges on anything")


@pytest.mark.slow
def test_a_scenario_without_claims_runs_and_nothing_hinges_on_a_claim(tmp_path) -> None:
    """Claims are optional too (nodes that follow their own course, measured): a tester's run
    crashed in the sensitivity analysis after sampling, where validate had said OK."""
    s = hinge_scenario()
    s["claims"] = []
    with pytest.warns(ScenarioWarning, match="no claim has it as its cause"):  # said, and the run goes on
        run = run_scenario(write_scenario(tmp_path, s), SamplerSettings(draws=50, tune=50, chains=2, seed=5,
                                                                        progress=False), out=tmp_path / "run")
    sens = run.summary["sensitivity"]
    assert sens["claims"] == {} and sens["worth_researching"] == []
    assert all(q["ranking"] == [] and q["claims"] == {} for q in sens["questions"].values())
    assert (tmp_path / "run" / "report" / "index.html").is_file()
    shown = CliRunner().invoke(cli, ["sensitivity", str(tmp_path / "run")])
    assert shown.exit_code == 0 and "Traceback" not in shown.output, shown.output


def test_a_posterior_that_is_its_prior_narrows_it_only_within_the_sampling_noise_said() -> None:
    """Draws of the prior itself: the contraction's noise is twice the variance's relative
    standard error, sqrt((kurtosis - 1) / ESS), and covers the sample contraction about 95% of
    the time."""
    from forecast.sensitivity.analysis import variance_error

    rng = np.random.default_rng(3)
    assert variance_error(rng.normal(size=(2, 2000))) == pytest.approx(np.sqrt(2 / 4000), rel=0.1)
    assert variance_error(rng.standard_t(5, size=(2, 2000))) > 1.5 * np.sqrt(2 / 4000)  # heavy tails: noisier
    draws = rng.normal(size=(400, 2, 300))
    contraction = 1 - draws.var(axis=(1, 2))
    noise = np.array([2 * d.var() * variance_error(d) for d in draws])
    assert 0.9 < np.mean(np.abs(contraction) <= noise) < 0.99
