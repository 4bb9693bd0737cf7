"""Competing hypotheses are weighed by their evidence, not by how the chains mix.

Sampled as one mixture, hypotheses N(-0.5, 0.1) and N(+0.5, 0.1) left each chain in the mode
it started in, so the reported weights were shares of chains (0.25/0.5/0.75 whatever the data;
0.18 for a 0.25 hypothesis with no data). Each combination is now fitted on its own and weighed
by bridge sampling. These tests hold that to: the prior weights exactly without data; a
reference computed another way (a broad-prior fit, reweighted) with data, for 2 and 4 chains;
bridge sampling to normalising constants known in closed form; the collapsed mixture to its
chosen component.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from forecast.model.build import build_model, weights_label
from forecast.posterior import hypotheses as H
from forecast.posterior.diagnostics import Diagnostics
from forecast.posterior.sampling import CompiledModel, sample_posterior
from forecast.scenario import load_scenario
from forecast.settings import SamplerSettings

from . import simulated

TINY = SamplerSettings(draws=400, tune=300, chains=2, seed=11, progress=False)


def compiled_for(path) -> tuple:
    scenario = load_scenario(path)
    return scenario, CompiledModel.compile(build_model(scenario))


# --- Combinations --------------------------------------------------------------------------------


def test_combinations_are_every_choice_of_one_hypothesis_per_claim_with_product_weights(tmp_path) -> None:
    sc = load_scenario(simulated.two_claims_scenario(tmp_path, 0, data=False))
    combos = H.combinations(sc)
    assert [c.hypotheses for c in combos] == [("negative", "negative"), ("negative", "positive"),
                                             ("positive", "negative"), ("positive", "positive")]
    np.testing.assert_allclose([c.prior_weight for c in combos], [0.15, 0.35, 0.15, 0.35])


def test_too_many_combinations_is_a_clear_error(tmp_path) -> None:
    sc = load_scenario(simulated.two_claims_scenario(tmp_path, 0, data=False))
    with pytest.raises(H.TooManyCombinations, match=r"4 combinations .*2 \(x_to_y\) x 2 \(x_to_w\).*limit of 3"):
        H.combinations(sc, limit=3)


def test_plan_shares_the_budget_between_the_fits() -> None:
    run = SamplerSettings(draws=1000, tune=500)
    assert H.plan(run, 1).draws == 1000
    assert H.plan(run, 2).draws == 1000  # 2 x (500 + 1000) = 2 runs
    assert H.plan(run, 4).draws == 250  # 4 x (500 + 250) = 2 runs
    assert H.plan(run, 16).draws == 200  # the floor bridge sampling needs
    assert H.plan(run, 4, budget=None).draws == 1000


def test_each_claims_weights_are_labelled_among_the_scenario_numbers(tmp_path) -> None:
    sc = load_scenario(simulated.issue_scenario(tmp_path, 0))
    numbers = CompiledModel(build_model(sc), "pymc", None, None, 0.0)  # type: ignore[arg-type]
    from forecast.model.inputs import scenario_numbers

    numbers = scenario_numbers(numbers.model)
    np.testing.assert_allclose(numbers.values[numbers.slots[weights_label("x_to_y")]], [0.5, 0.5])


# --- Bridge sampling on a normalising constant known in closed form --------------------------------


@pytest.mark.parametrize("method", ["normal", "warp3"])
def test_bridge_sampling_recovers_a_known_normalising_constant(method: str) -> None:
    """exp(logp) = C x (a correlated Gaussian in 3 dims, times a log-Gamma(2) in a 4th): its
    integral is C; the draws are exact, as 4 'chains'."""
    rng = np.random.default_rng(0)
    cov = np.array([[1.0, 0.6, 0.0], [0.6, 2.0, 0.3], [0.0, 0.3, 0.5]])
    gauss = stats.multivariate_normal(np.array([1.0, -2.0, 0.5]), cov)
    shape, log_c = 2.0, 7.3

    def logp(x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x)
        y = x[:, 3]  # log of a Gamma(shape) variable: density exp(shape y - e^y) / Gamma(shape)
        return log_c + gauss.logpdf(x[:, :3]) + shape * y - np.exp(y) - math.lgamma(shape)

    n = 4000
    draws = np.column_stack([gauss.rvs(n, random_state=rng), np.log(rng.gamma(shape, size=n))]).reshape(4, 1000, 4)
    b = H.bridge_sampling(draws, logp, np.random.default_rng(1), method=method)
    assert b.converged
    assert abs(b.log_marginal - log_c) < 4 * b.relative_error + 1e-3
    assert b.relative_error < 0.05


# --- Judging ------------------------------------------------------------------------------------------


def _fake_fit(combo: H.Combination, log_z: float, se: float, verdict: str = "ok") -> H.ConditionalFit:
    d = Diagnostics("nutpie", 2, 100, 100, 0, [0, 0], 1.0, 400.0, 400.0, {"rhat": "", "ess_bulk": "", "ess_tail": ""},
                    1.0, verdict=verdict, messages=["R-hat 1.2: chains disagree."] if verdict == "fail" else [])
    bridge = H.BridgeEstimate(log_z, se, 5, True, 100, 100, 100.0)
    return H.ConditionalFit(combo, None, np.zeros((2, 100, 1)), bridge, d, 1.0, 0.1, None)


def test_a_fit_that_did_not_mix_or_imprecise_evidence_fails_the_weighing_loudly(tmp_path) -> None:
    sc = load_scenario(simulated.issue_scenario(tmp_path, 0))
    combos = H.combinations(sc)
    good = H.Weighing(sc, combos, [_fake_fit(combos[0], -3.0, 0.01), _fake_fit(combos[1], -2.0, 0.01)], False, 0.0,
                      SamplerSettings())
    assert good.diagnostics()[0] == "ok"
    np.testing.assert_allclose(good.weights, [1 / (1 + math.e), math.e / (1 + math.e)])
    stuck = replace(good, fits=[_fake_fit(combos[0], -3.0, 0.01, "fail"), good.fits[1]])
    verdict, messages = stuck.diagnostics()
    assert verdict == "fail" and any("x_to_y=negative" in m and "R-hat" in m for m in messages)
    assert stuck.combined_diagnostics().verdict == "fail"
    vague = replace(good, fits=[_fake_fit(combos[0], -2.0, 0.3), _fake_fit(combos[1], -2.0, 0.3)])
    verdict, messages = vague.diagnostics()
    assert verdict == "fail" and any("Monte Carlo error" in m for m in messages)


def test_the_weights_error_follows_the_evidence_errors_by_the_delta_method(tmp_path) -> None:
    sc = load_scenario(simulated.issue_scenario(tmp_path, 0))
    combos = H.combinations(sc)
    w = H.Weighing(sc, combos, [_fake_fit(combos[0], 0.0, 0.03), _fake_fit(combos[1], 0.0, 0.04)], False, 0.0,
                   SamplerSettings())
    # w = 1/2 each: dw/dlogZ = +-1/4, so se = sqrt(0.03^2 + 0.04^2) / 4
    np.testing.assert_allclose(w.weights_mcse, [0.05 / 4, 0.05 / 4])
    rng = np.random.default_rng(0)
    sims = [1 / (1 + np.exp(rng.normal(0, 0.04) - rng.normal(0, 0.03))) for _ in range(20000)]
    assert np.std(sims) == pytest.approx(0.05 / 4, rel=0.05)


# --- With the sampler ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def issue(tmp_path_factory):
    """The issue's scenario (seed 0: the data favour +0.5, reference weight about 0.9), compiled once."""
    return compiled_for(simulated.issue_scenario(tmp_path_factory.mktemp("issue"), 0))


@pytest.mark.slow
def test_a_weight_of_exactly_zero_leaves_the_chosen_components_density(issue) -> None:
    """PyMC's mixture is logsumexp(log w + log f): with w = (1, 0) it must be log f_1 exactly,
    as the sampler's own callback evaluates it, far in the tails too."""
    sc, compiled = issue
    neg, pos = (compiled.log_density(H.conditional_numbers(compiled, c)) for c in H.combinations(sc))
    names, slices = compiled.nutpie_model.shape_info[0], compiled.nutpie_model.shape_info[1]
    at = slices[names.index("_effect_x_to_y")].start
    x = np.zeros(compiled.nutpie_model.n_dim)
    for effect in (-3.0, -0.5, 0.0, 0.3, 5.0, 40.0):
        x[at] = effect
        expected = stats.norm(-0.5, 0.1).logpdf(effect) - stats.norm(0.5, 0.1).logpdf(effect)
        assert np.isfinite(neg(x)[0]) and np.isfinite(pos(x)[0])
        assert neg(x)[0] - pos(x)[0] == pytest.approx(expected, rel=1e-9, abs=1e-8)


@pytest.mark.slow
def test_the_log_density_is_the_samplers_own_at_every_draw_and_the_numbers_come_back(issue) -> None:
    sc, compiled = issue
    numbers = H.conditional_numbers(compiled, H.combinations(sc)[1])
    sampled = compiled.sample(replace(TINY, draws=50, tune=50), numbers=numbers, unconstrained=True)
    ss = sampled.tree["sample_stats"].dataset
    mine = compiled.log_density(numbers)(ss["unconstrained_draw"].values.reshape(-1, compiled.nutpie_model.n_dim))
    np.testing.assert_allclose(mine, ss["logp"].values.ravel(), rtol=0, atol=1e-9)
    assert sampled.tree["posterior"].dataset["effect"].values.min() > 0.0, "the positive hypothesis's fit stays in it"
    np.testing.assert_array_equal(compiled.numbers.variable.get_value(), compiled.numbers.values)


@pytest.mark.slow
def test_without_data_the_weights_are_the_prior_weights_exactly(tmp_path) -> None:
    """The issue saw 0.18 for a 0.25 hypothesis. Without evidence Z = 1 for every combination:
    the weights are exact, and the assembled posterior holds them draw for draw, each
    combination's draws from its own component."""
    sc, compiled = compiled_for(simulated.issue_scenario(tmp_path, 0, data=False, weights=(0.75, 0.25)))
    w = H.weigh_hypotheses(sc, compiled, TINY)
    assert w.exact
    np.testing.assert_allclose(w.weights, [0.75, 0.25], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(w.weights_mcse, [0.0, 0.0])
    tree = w.assemble(TINY.chains, TINY.draws, 1)
    post = tree["posterior"].dataset
    assert float((post["combination"] == 1).mean()) == 0.25
    effect = post["effect"].values[..., 0]
    for k, comp in enumerate((stats.norm(-0.5, 0.1), stats.norm(0.5, 0.1))):
        assert stats.kstest(effect[post["combination"].values == k], comp.cdf).pvalue > 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("chains", [2, 4])
@pytest.mark.parametrize("seed", [0, 4])
def test_far_apart_hypotheses_get_the_weight_of_a_reweighted_broad_prior_fit(tmp_path, seed: int,
                                                                             chains: int) -> None:
    """The issue's setup (seed 0: the data favour +0.5 about 9:1; seed 4: they favour -0.5
    3:1) against the reference of reweighting a Normal(0, 1)-prior fit by f_k / b."""
    sc, compiled = compiled_for(simulated.issue_scenario(tmp_path / "hyp", seed))
    broad = load_scenario(simulated.issue_scenario(tmp_path / "broad", seed, broad=1.0))
    fit = sample_posterior(build_model(broad), replace(TINY, draws=2000, tune=500, chains=4, seed=seed))
    ref = simulated.reweighted({"x_to_y": fit.tree["posterior"].dataset["effect"].sel(claim="x_to_y").values}, sc,
                               1.0)
    w = H.weigh_hypotheses(sc, compiled, replace(TINY, chains=chains, seed=seed + 20))
    assert abs(w.weights[1] - ref["weights"][1]) < 0.05
    assert abs(w.weights[1] - ref["weights"][1]) < 4 * math.hypot(w.weights_mcse[1], ref["mcse"][1]) + 0.01
    verdict, messages = w.diagnostics()
    assert verdict != "fail", messages  # tiny draws may warn (R-hat > 1.01)
    share = float((w.assemble(chains, TINY.draws, seed)["posterior"]["hypothesis"].sel(hypothesis_claim="x_to_y")
                   == 1).mean())
    assert abs(share - w.weights[1]) <= 1.0 / (chains * TINY.draws)


@pytest.mark.slow
def test_a_run_reports_the_weighed_hypotheses_and_forecasts_from_their_mixture(tmp_path) -> None:
    """End to end: the summary gives each hypothesis's weight with its Monte Carlo error, as the
    weighing computed it, and the forecasts come from each fit in proportion."""
    from forecast.pipeline import run_scenario

    run = run_scenario(simulated.issue_scenario(tmp_path / "s", 0), replace(TINY, draws=300), out=tmp_path / "run",
                       report=False)
    hyp = run.summary["claims"]["x_to_y"]["hypotheses"]
    assert hyp["positive"]["posterior_weight"] + hyp["negative"]["posterior_weight"] == pytest.approx(1.0)
    assert hyp["positive"]["posterior_weight"] > 0.75  # reference about 0.9 for seed 0
    assert 0 < hyp["positive"]["posterior_weight_mcse"] < 0.05
    post = run.tree["posterior"].dataset
    effect = post["effect"].sel(claim="x_to_y").values
    assert float((effect > 0).mean()) == pytest.approx(hyp["positive"]["posterior_weight"], abs=0.01)
    assert run.summary["diagnostics"]["verdict"] in ("ok", "warn")
