"""The model's promises: the same equations everywhere, posterior = prior without evidence,
interventions that move only descendants, analytic effects, and data that inform."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from forecast.model.build import Evidence, build_model, choose_history
from forecast.model.dynamics import Params, simulate, step
from forecast.model.prior import prior_draws
from forecast.pipeline import analyse
from forecast.posterior.explore import explore
from forecast.posterior.history import restore_history
from forecast.posterior.sampling import CompiledModel, sample_posterior
from forecast.scenario import load_scenario
from forecast.scenario.graph import Graph, graph_of
from forecast.settings import SamplerSettings

from .conftest import DEFAULT_SCENARIO, tight_chain, write_scenario
from .reference import observation_covariance, observation_jacobian, random_params


def test_same_year_effects_are_solved_exactly() -> None:
    """x_t satisfies its own equation, same-year causes included (the fixed point is exact)."""
    rng = np.random.default_rng(1)
    edges = [(0, 1, 0), (1, 2, 0), (0, 2, 0)]
    graph = Graph.from_edges(3, edges)
    p = Params(phi=np.array([0.5, 0.3, 0.7]), sigma=np.ones(3), beta=np.array([0.4, -0.6, 0.9]))
    prev, shock = rng.normal(size=3), rng.normal(size=3)
    d = step(prev, shock, p, graph)
    pull = 1 - p.phi
    expected = p.phi * prev + shock
    expected = expected + pull * np.array([0.0, 0.4 * d[0], -0.6 * d[1] + 0.9 * d[0]])
    np.testing.assert_allclose(d, expected)


def test_the_history_is_linear_in_its_drivers_with_the_jacobian_the_model_uses() -> None:
    """d[t, node] = J . eta (batched over draws), and J J^T is the covariance the marginal
    model builds without forming J."""
    rng = np.random.default_rng(5)
    graph = Graph.from_edges(5, [(0, 1, 0), (1, 2, 1), (0, 3, 0), (3, 2, 0), (2, 4, 1), (4, 0, 1)])
    p = random_params(rng, graph, (3,))
    n_years, init_sd = 9, rng.uniform(0.5, 2, 5)
    eta = rng.standard_normal((3, n_years, 5))
    d0 = init_sd * eta[:, 0]
    d = np.concatenate([d0[None], simulate(d0, eta[:, 1:].transpose(1, 0, 2), p, graph)]).transpose(1, 0, 2)
    year, node = rng.integers(0, n_years, 17), rng.integers(0, 5, 17)
    J = observation_jacobian(p, graph, init_sd, year, node, n_years, np.concatenate)
    np.testing.assert_allclose(np.einsum("bitn,btn->bi", J, eta), d[:, year, node], atol=1e-12)
    for b in range(3):
        one = Params(p.phi[b], p.sigma[b], p.beta[b])
        flat = J[b].reshape(17, -1)
        np.testing.assert_allclose(observation_covariance(one, graph, init_sd, year, node, n_years, np.concatenate),
                                   flat @ flat.T, atol=1e-12)


#: The claims of _evidence_case, and two more onto nodes downstream of the measured ones, with
#: no indicator: one a same-year effect, one lagged.
@pytest.mark.slow
def test_restored_history_is_the_exact_conditional_given_the_parameters(tmp_path) -> None:
    """For one fixed parameter draw, the restored levels have the Gaussian conditional's mean
    and covariance given the evidence (computed here by direct conditioning)."""
    path, _ = _recovery_scenario(tmp_path, np.random.default_rng(7))
    scenario = load_scenario(path)
    n, graph, ev = 4000, graph_of(scenario), Evidence.from_scenario(scenario)
    values = {"baseline": [0.3, -0.2], "persistence": [0.6, 0.5], "volatility": [0.6, 0.3], "effect": [0.8],
              "intercept": [0.0, 0.0], "loading": [1.0, 1.0], "noise": [0.2, 0.25]}
    dims = {"baseline": "node", "persistence": "node", "volatility": "node", "effect": "claim",
            "intercept": "indicator", "loading": "indicator", "noise": "indicator"}
    post = xr.Dataset({k: (("chain", "draw", dims[k]), np.broadcast_to(np.array(v), (1, n, len(v))))
                       for k, v in values.items()})
    level = restore_history(scenario, post, seed=1)["level"].values[0]  # (draws, years, nodes)

    p = Params(*(np.array(values[k]) for k in ("persistence", "volatility", "effect")))
    init_sd = np.array([v.initial_sd for v in scenario.nodes.values()])
    T = len(scenario.history_years)
    every_year, every_node = np.repeat(np.arange(T), 2), np.tile(np.arange(2), T)
    L = observation_jacobian(p, graph, init_sd, every_year, every_node, T, np.concatenate).reshape(2 * T, -1)
    J = observation_jacobian(p, graph, init_sd, ev.year_index, ev.node, T, np.concatenate).reshape(ev.z.size, -1)
    S = J @ J.T + np.diag(np.array(values["noise"])[ev.indicator] ** 2)
    gain = L @ J.T @ np.linalg.inv(S)
    mean = np.array(values["baseline"])[every_node] + gain @ (ev.z - np.array(values["baseline"])[ev.node])
    cov = L @ L.T - gain @ J @ L.T
    got = level.reshape(n, -1)
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(got.mean(0) - mean) < 4.5 * sd / np.sqrt(n))
    np.testing.assert_allclose(got.std(0), sd, rtol=0.06)
    # the evidence matters: the conditional sd is far below the prior's
    assert np.all(sd < 0.5 * np.sqrt(np.diag(L @ L.T)))


def test_the_models_evidence_is_the_gaussian_of_the_reference_covariance() -> None:
    """On the default scenario (a claim with competing hypotheses among simple ones, so the
    effects are drawn out of claim order; several indicators per node), the model's evidence
    term at a random parameter point is SciPy's multivariate normal with the covariance of
    dynamics.observation_covariance and the measurement model's mean, scale and noise."""
    scenario = load_scenario(DEFAULT_SCENARIO)
    model = build_model(scenario, history="integrated")
    names = ("baseline", "persistence", "volatility", "effect", "intercept", "loading", "noise")
    values = model.compile_fn([model.potentials[0], *(model[n] for n in names)], inputs=model.value_vars,
                              on_unused_input="ignore", point_fn=True)
    rng = np.random.default_rng(2)
    point = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in model.initial_point().items()}
    got, mu, phi, sigma, beta, intercept, loading, noise = values(point)

    graph, ev = graph_of(scenario), Evidence.from_scenario(scenario)
    assert any(c.hypotheses for c in scenario.claims[:-1])
    init_sd = np.array([n.initial_sd for n in scenario.nodes.values()])
    C = observation_covariance(Params(phi, sigma, beta), graph, init_sd, ev.year_index, ev.node,
                               len(scenario.history_years), np.concatenate)
    k = ev.indicator
    scale = np.array([i.direction for i in scenario.indicators.values()])[k] * loading[k]
    S = scale[:, None] * C * scale[None, :] + np.diag(noise[k] ** 2)
    expected = stats.multivariate_normal(intercept[k] + scale * mu[ev.node], S).logpdf(ev.z)
    assert float(got) == pytest.approx(expected, rel=1e-10)


def test_the_default_scenario_integrates_its_history_out() -> None:
    assert choose_history(load_scenario(DEFAULT_SCENARIO)) == "integrated"


@pytest.fixture(scope="module")
def chain_run(tmp_path_factory):
    """The L -> A -> B chain, no indicators, sampled once with NUTS and analysed."""
    path = write_scenario(tmp_path_factory.mktemp("chain"), tight_chain())
    scenario = load_scenario(path)
    settings = SamplerSettings(draws=500, tune=500, chains=2, seed=3, progress=False)
    explored = explore(scenario, CompiledModel.compile(build_model(scenario)), settings)
    tree, summary = analyse(scenario, explored, settings)
    return scenario, tree, summary


@pytest.mark.slow
def test_without_indicators_the_posterior_is_the_prior(chain_run) -> None:
    scenario, tree, _ = chain_run
    post, prior = tree["posterior"].dataset, tree["prior"].dataset
    checks = [("baseline", {"node": "C"}), ("volatility", {"node": "L"}), ("persistence", {"node": "C"}),
              ("effect", {"claim": "c_to_l"}), ("level", {"node": "B", "year": 2005}),
              ("level", {"node": "L", "year": 2003})]
    for name, sel in checks:
        a = post[name].sel(sel).values.ravel()
        b = prior[name].sel(sel).values.ravel()
        # thin NUTS draws to roughly independent ones for the KS test
        result = stats.ks_2samp(a[::4], b[:2000])
        assert result.pvalue > 0.001, (name, sel, result)


@pytest.mark.slow
def test_centred_states_leave_the_prior_unchanged(tmp_path) -> None:
    """Sampling some levels directly (centred, as for measured nodes) is a reparameterisation:
    without data the posterior is still the prior, so the implied-shock density is right.

    Centred levels without data make a funnel (which is why only measured nodes are centred):
    a cautious sampler (target_accept 0.99) lets this test check the density, not the sampler."""
    scenario = load_scenario(write_scenario(tmp_path, tight_chain()))
    settings = SamplerSettings(draws=1000, tune=600, chains=2, seed=4, progress=False, target_accept=0.99)
    idata = sample_posterior(build_model(scenario, centred=["A", "C"], history="sampled"), settings).tree
    post = idata["posterior"].dataset
    prior = prior_draws(scenario, 4000, seed=9)
    for node in ("A", "C", "B"):
        i = scenario.node_ids.index(node)
        for year in (0, 5):
            r = stats.ks_2samp(post["level"].sel(node=node).values[..., year].ravel()[::4], prior["level"][:2000, year, i])
            assert r.pvalue > 0.001, (node, year, r)
    r = stats.ks_2samp(post["volatility"].sel(node="C").values.ravel()[::4], prior["volatility"][:2000, 3])
    assert r.pvalue > 0.001


@pytest.mark.slow
def test_an_intervention_changes_only_descendants_of_its_levers(chain_run) -> None:
    scenario, tree, _ = chain_run
    fc = tree["forecast"].dataset["level"]
    lo, hi, nat = (fc.sel(strategy=s) for s in ("hold_low", "hold_high", "natural"))
    # C does not descend from L: identical draw for draw under every strategy
    np.testing.assert_array_equal(lo.sel(node="C").values, hi.sel(node="C").values)
    np.testing.assert_array_equal(lo.sel(node="C").values, nat.sel(node="C").values)
    # L, A and B do
    for node in ("L", "A", "B"):
        assert np.abs(hi.sel(node=node).values - lo.sel(node=node).values).min() > 1e-3
    assert scenario.descendants({"L"}) == {"L", "A", "B"}
    # the lever holds its set value, in every draw and year
    np.testing.assert_allclose(hi.sel(node="L").values, 1.0, rtol=1e-6)


@pytest.mark.slow
def test_forecasting_moves_the_progress_bar_once_per_strategy(chain_run) -> None:
    from forecast.forecasts.strategies import forecast_levels
    from forecast.posterior.draws import Draws

    scenario, tree, _ = chain_run
    steps: list[int] = []
    levels = forecast_levels(scenario, Draws.from_posterior(tree["posterior"].dataset), 3, steps.append)
    assert steps == [1] * len(scenario.strategies) == [1] * levels.shape[0]


@pytest.mark.slow
def test_a_chain_of_known_effects_reproduces_the_analytic_intervention_effect(chain_run) -> None:
    """do(L=+1) vs do(L=-1): A moves by (1-phi) * 0.5 * 2 per year toward 0.5 * 2, B follows."""
    _, tree, _ = chain_run
    fc = tree["forecast"].dataset["level"]
    diff = (fc.sel(strategy="hold_high") - fc.sel(strategy="hold_low")).mean(("chain", "draw"))
    phi, b1, b2, delta = 0.5, 0.5, 0.8, 2.0
    a, b, expect_a, expect_b = 0.0, 0.0, [], []
    # the history ends identical for both strategies: the difference starts at zero
    for _ in fc["year"].values:
        a = phi * a + (1 - phi) * b1 * delta
        b = phi * b + (1 - phi) * b2 * a
        expect_a.append(a)
        expect_b.append(b)
    np.testing.assert_allclose(diff.sel(node="A").values, expect_a, atol=0.01)
    np.testing.assert_allclose(diff.sel(node="B").values, expect_b, atol=0.01)


@pytest.mark.slow
def test_questions_get_a_probability_and_mcse_per_strategy(chain_run) -> None:
    _, tree, summary = chain_run
    q = {x["id"]: x for x in summary["questions"]}["b_up"]
    assert set(q["by_strategy"]) == {"hold_low", "hold_high", "natural"}
    high, low = q["by_strategy"]["hold_high"], q["by_strategy"]["hold_low"]
    assert high["probability"] > low["probability"]
    for r in q["by_strategy"].values():
        assert 0 <= r["probability"] <= 1 and 0 <= r["mcse"] < 0.05
    # recomputed from the stored forecasts: the summary is the DataTree's answer
    fc = tree["forecast"].dataset["node_value"].sel(node="B", year=2010)
    past = tree["posterior"].dataset["node_value"].sel(node="B", year=2005)
    assert float((fc.sel(strategy="hold_high") > past).mean()) == pytest.approx(high["probability"])
    # the spread of the answer itself: the change 2005 -> 2010, whose share above 0 is the probability
    change = (fc.sel(strategy="hold_high") - past).values.ravel()
    assert high["quantity"]["median"] == pytest.approx(np.median(change), abs=1e-6)
    assert high["quantity"]["q05"] == pytest.approx(np.quantile(change, 0.05), abs=1e-6)


@pytest.mark.slow
def test_prior_forward_sampling_matches_the_model_graph() -> None:
    """Our exact prior sampler and PyMC's own forward sampling agree (same equations, same priors)."""
    import pymc as pm

    scenario = load_scenario(write_scenario_tmp(tight_chain()))
    model = build_model(scenario, history="sampled")
    ours = prior_draws(scenario, 3000, seed=5)
    theirs = pm.draw([model["level"], model["effect"]], draws=3000, random_seed=5)
    for node in range(4):
        r = stats.ks_2samp(ours["level"][:, -1, node], theirs[0][:, -1, node])
        assert r.pvalue > 0.001, (node, r)
    r = stats.ks_2samp(ours["effect"][:, 2], theirs[1][:, 2])
    assert r.pvalue > 0.001


def write_scenario_tmp(data: dict):
    import tempfile
    from pathlib import Path

    return write_scenario(Path(tempfile.mkdtemp()), data)


# --- Evidence: simulated data from known parameters are recovered --------------------------


def _recovery_scenario(tmp_path, rng):
    """X -> Y with a true long-run effect of 0.8; both measured for 25 years."""
    years = np.arange(1990, 2015)
    phi, sigma, beta = np.array([0.6, 0.5]), np.array([0.6, 0.3]), 0.8
    d = np.zeros((len(years), 2))
    d[0] = rng.normal(size=2)
    for t in range(1, len(years)):
        shock = rng.normal(size=2)
        d[t, 0] = phi[0] * d[t - 1, 0] + sigma[0] * shock[0]
        d[t, 1] = phi[1] * d[t - 1, 1] + (1 - phi[1]) * beta * d[t, 0] + sigma[1] * shock[1]
    rows = ["year,x_obs,y_obs,source"]
    for t, y in enumerate(years):
        x_obs = d[t, 0] + 0.15 * rng.normal()
        y_obs = d[t, 1] + 0.15 * rng.normal()
        rows.append(f"{y},{x_obs:.5f},{y_obs:.5f},simulated by tests/test_model.py (seeded)")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sim.csv").write_text("\n".join(rows) + "\n")
    # each indicator is its node's first, so it anchors the node's scale (intercept 0, loading 1)
    ind = {"file": "data/sim.csv", "source": "simulation", "noise": {"dist": "Gamma", "alpha": 20, "beta": 100}}
    data = {
        "scenario": {"name": "recovery", "history_start": 1990, "start_year": 2015, "horizon": 2016, "seed": 1},
        "nodes": {"X": {"label": "X", "role": "lever", "display": {"kind": "linear"}},
                  "Y": {"label": "Y", "role": "outcome", "display": {"kind": "linear"}}},
        "claims": [{"id": "x_to_y", "cause": "X", "effect": "Y", "lag": 0, "quote": "X drives Y",
                    "prior": {"dist": "Normal", "mu": 0, "sigma": 1}}],
        "indicators": {"x_obs": {"label": "X observed", "node": "X", "column": "x_obs", **ind},
                       "y_obs": {"label": "Y observed", "node": "Y", "column": "y_obs", **ind}},
        "strategies": [{"id": "base", "baseline": True}],
        "questions": [{"id": "q", "text": "Y up?", "subject": "Y", "year": 2016, "comparison": "above",
                       "threshold": 0}],
    }
    return write_scenario(tmp_path, data), d


@pytest.mark.slow
@pytest.mark.parametrize("marginal", [True, False], ids=["history integrated out", "history sampled"])
def test_indicator_data_pull_the_latent_toward_the_data_and_recover_the_effect(tmp_path, marginal: bool) -> None:
    """Both ways of handling the history (the default and the large-scenario one) learn the same."""
    path, truth = _recovery_scenario(tmp_path, np.random.default_rng(42))
    scenario = load_scenario(path)
    # standardisation of the data: compare on the standardised scale of each indicator
    settings = SamplerSettings(draws=400, tune=400, chains=2, seed=2, progress=False)
    model = build_model(scenario, "integrated" if marginal else "sampled")
    tree, summary = analyse(scenario, explore(scenario, CompiledModel.compile(model), settings), settings)
    post, prior = tree["posterior"].dataset, tree["prior"].dataset
    level = post["level"].mean(("chain", "draw"))
    for node in ("X", "Y"):
        ind = scenario.indicators[f"{node.lower()}_obs"]
        z = ind.standardized()
        assert np.corrcoef(level.sel(node=node).values, z)[0, 1] > 0.9
        # the data shrink the latent's uncertainty far below the prior's
        assert float(post["level"].sel(node=node).std(("chain", "draw")).mean()) < \
            0.5 * float(prior["level"].sel(node=node).std(("chain", "draw")).mean())
    # the effect is recovered in standard units: true 0.8 times the ratio of the data's scales
    ratio = scenario.indicators["x_obs"].spread / scenario.indicators["y_obs"].spread
    claim = summary["claims"]["x_to_y"]["posterior"]
    assert claim["q05"] < 0.8 * ratio < claim["q95"]
    assert claim["q05"] > 0, "the data rule out no effect"


def test_editing_a_prior_changes_the_inputs_not_the_compiled_graph(tmp_path) -> None:
    """An analyst's edit of a prior's numbers must find the compiled model in the cache: the
    numbers are inputs of the graph (one packed vector), never constants inside it."""
    import copy

    import pytensor
    from pytensor.graph.traversal import ancestors

    edited = copy.deepcopy(tight_chain())
    edited["claims"][0]["prior"] = {"dist": "Normal", "mu": -0.3, "sigma": 0.2}
    edited["nodes"]["C"]["volatility"] = {"dist": "Gamma", "alpha": 7, "beta": 9}
    models = [build_model(load_scenario(write_scenario(tmp_path / name, data)))
              for name, data in (("original", tight_chain()), ("edited", edited))]
    graphs = [pytensor.printing.debugprint(m.logp(), file="str", id_type="", print_type=True) for m in models]
    assert graphs[0] == graphs[1]
    numbers = [next(v for v in ancestors([m.logp()]) if v.name == "scenario_numbers").get_value() for m in models]
    assert numbers[0].shape == numbers[1].shape and not np.array_equal(numbers[0], numbers[1])
    assert -0.3 in numbers[1] and 7.0 in numbers[1]


@pytest.mark.slow
def test_lean_nutpie_callbacks_load_from_the_cache_and_give_nutpies_own_posterior_draw_for_draw(tmp_path) -> None:
    """forecast.callbacks replaces nutpie's C callbacks to save compile time: a second compile
    of the model, with a prior edited, loads them from the disk cache (the numbers are read
    at run time, not compiled in), and the sampler cannot tell them from nutpie's own (same
    seed, same draws, same log densities) on the edited model."""
    import nutpie

    from forecast.compiled.callbacks import lean_callbacks

    path, _ = _recovery_scenario(tmp_path, np.random.default_rng(2))
    data = tomllib.loads(path.read_text())
    data["claims"][0]["prior"] = {"dist": "Normal", "mu": 0.5, "sigma": 0.3}
    edited = write_scenario(tmp_path, data, name="edited.toml")
    compiled = []
    for scenario_file in (path, edited):
        with lean_callbacks() as options:
            compiled.append(nutpie.compile_pymc_model(build_model(load_scenario(scenario_file)), backend="numba",
                                                      **options))
        assert options, "the installed nutpie is not one the lean callbacks were checked against"
    ours = compiled[1]
    assert (ours.compiled_logp_func.cache_hits, ours.compiled_expand_func.cache_hits) == (1, 1)
    theirs = nutpie.compile_pymc_model(build_model(load_scenario(edited)), backend="numba")
    settings = {"draws": 40, "tune": 40, "chains": 1, "seed": 3, "progress_bar": False}
    a, b = nutpie.sample(ours, **settings), nutpie.sample(theirs, **settings)
    for name in ("baseline", "persistence", "effect", "noise"):
        np.testing.assert_array_equal(a.posterior[name].values, b.posterior[name].values)
    np.testing.assert_array_equal(a.sample_stats["logp"].values, b.sample_stats["logp"].values)