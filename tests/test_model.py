"""The model's promises: the same equations everywhere, posterior = prior without evidence,
interventions that move only descendants, analytic effects, and data that inform."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from forecast.model.build import Evidence, build_model, kept_nodes, kept_shocks
from forecast.model.dynamics import Params, State, history_from_drivers, state_space, step
from forecast.pipeline import analyse
from forecast.posterior.explore import explore
from forecast.posterior.history import drivers_adjoint, restore_history
from forecast.posterior.sampling import CompiledModel
from forecast.scenario import load_scenario
from forecast.scenario.graph import Graph, graph_of
from forecast.settings import SamplerSettings

from .conftest import DEFAULT_SCENARIO, tight_chain, write_scenario
from .reference import observation_covariance, random_params


def test_same_year_effects_are_solved_exactly() -> None:
    """d_t satisfies its own equation, same-year causes included (the fixed point is exact), and
    the level moves by the drift and its shift."""
    rng = np.random.default_rng(1)
    edges = [(0, 1, 0), (1, 2, 0), (0, 2, 0)]
    graph = Graph.from_edges(3, edges)
    p = Params(phi=np.array([0.5, 0.3, 0.7]), sigma=np.ones(3), omega=np.array([0.2, 0.4, 0.1]),
               beta=np.array([0.4, -0.6, 0.9]))
    prev = State(*rng.normal(size=(3, 3)))
    eps, xi = rng.normal(size=(2, 3))
    new = step(prev, eps, xi, p, graph)
    pull = 1 - p.phi
    moved = prev.g + p.omega * xi
    expected = p.phi * prev.d + pull * prev.m + moved + p.sigma * eps
    expected = expected + pull * np.array([0.0, 0.4 * new.d[0], -0.6 * new.d[1] + 0.9 * new.d[0]])
    np.testing.assert_allclose(new.d, expected)
    np.testing.assert_allclose(new.m, prev.m + moved)
    np.testing.assert_array_equal(new.g, prev.g)


def _random_history(rng, graph: Graph, draws: int, n_years: int):
    """Parameters, spreads, shock scales and drivers of a random history (D = draws)."""
    n = graph.n_nodes
    p = random_params(rng, graph, (draws,))
    init_sd, drift_sd = rng.uniform(0.5, 2, n), rng.uniform(0.1, 0.8, n)
    lam = rng.uniform(0.3, 5.0, (draws, n_years - 1, 2 * n))
    first, drift = rng.standard_normal((2, draws, n))
    eps, xi = rng.standard_normal((2, n_years - 1, draws, n))
    return p, init_sd, drift_sd, lam, (first, drift, eps, xi)


def _history(graph, p, init_sd, drift_sd, lam, drivers) -> np.ndarray:
    """The state ``[d, m, g]`` of every year (D, years, 3n) stepped from the drivers."""
    d, m, g = history_from_drivers(graph, p, init_sd, drift_sd, *drivers, lam.transpose(1, 0, 2))
    return np.concatenate([d, m, np.broadcast_to(g[:, None], d.shape)], axis=-1)


GRAPH_WITH_LAGS = [(0, 1, 0), (1, 2, 1), (0, 3, 0), (3, 2, 0), (2, 4, 1), (4, 0, 1)]


def test_restoring_the_history_uses_the_exact_adjoint_of_the_equations() -> None:
    """The history is linear in its drivers, and drivers_adjoint is its transpose:
    <w, history(eta)> = <J^T w, eta> for any weights w on the states of every year."""
    rng = np.random.default_rng(5)
    graph = Graph.from_edges(5, GRAPH_WITH_LAGS)
    p, init_sd, drift_sd, lam, drivers = _random_history(rng, graph, 3, 9)
    states = _history(graph, p, init_sd, drift_sd, lam, drivers)
    weight = rng.standard_normal(states.shape)
    A, V = state_space(p, graph)
    g_first, g_drift, g_shocks = drivers_adjoint(weight, A, V, np.sqrt(lam), init_sd, drift_sd)
    first, drift, eps, xi = drivers
    shocks = np.concatenate([eps, xi], axis=-1).transpose(1, 0, 2)
    got = (g_first * first).sum(-1) + (g_drift * drift).sum(-1) + (g_shocks * shocks).sum((-2, -1))
    np.testing.assert_allclose(got, (weight * states).sum((-2, -1)), rtol=1e-10)


def test_the_stepped_history_has_the_covariance_of_the_state_space_reference() -> None:
    """J J^T, with J's rows read off the adjoint, is the reference covariance of the deviations
    (the state space written as matrices, tests/reference.py), for given shock scales."""
    rng = np.random.default_rng(6)
    graph = Graph.from_edges(5, GRAPH_WITH_LAGS)
    n_years, n = 8, 5
    p, init_sd, drift_sd, lam, _ = _random_history(rng, graph, 1, n_years)
    one = Params(p.phi[0], p.sigma[0], p.omega[0], p.beta[0])
    year, node = rng.integers(0, n_years, 11), rng.integers(0, n, 11)
    weight = np.zeros((year.size, n_years, 3 * n))
    weight[np.arange(year.size), year, node] = 1.0
    A, V = state_space(one, graph)
    rows = drivers_adjoint(weight, A, V, np.sqrt(lam[0]), init_sd, drift_sd)
    J = np.concatenate([rows[0], rows[1], rows[2].reshape(year.size, -1)], axis=-1)
    np.testing.assert_allclose(J @ J.T, observation_covariance(one, graph, init_sd, drift_sd, lam[0], year, node),
                               atol=1e-10)


#: The parameters the exact-conditional test fixes, and their dims.
FIXED = {"baseline": ([0.3, -0.2], "node"), "persistence": ([0.6, 0.5], "node"),
         "volatility": ([0.6, 0.3], "node"), "shift": ([0.2, 0.1], "node"), "effect": ([0.8], "claim"),
         "intercept": ([0.0, 0.0], "indicator"), "loading": ([1.0, 1.0], "indicator"),
         "noise": ([0.2, 0.25], "indicator")}


@pytest.mark.slow
def test_restored_history_is_the_exact_conditional_given_the_parameters(tmp_path) -> None:
    """For one fixed draw of the parameters and shock scales (one year's shocks large, as in a
    break), the restored levels have the Gaussian conditional's mean and covariance given the
    evidence (computed here by direct conditioning on the reference covariance)."""
    path, _ = _recovery_scenario(tmp_path, np.random.default_rng(7))
    scenario = load_scenario(path)
    n, graph, ev = 4000, graph_of(scenario), Evidence.from_scenario(scenario)
    T = len(scenario.history_years)
    lam = np.ones((T - 1, 4))
    lam[10] = [9.0, 1.0, 4.0, 25.0]  # a break in year 11: X's transitory shock, both levels
    assert kept_shocks(scenario, kept_nodes(scenario)) == ["X:transitory", "Y:transitory", "X:level", "Y:level"]
    data = {k: (("chain", "draw", dim), np.broadcast_to(np.array(v), (1, n, len(v)))) for k, (v, dim) in FIXED.items()}
    data["_shock_scale"] = (("chain", "draw", "shock_year", "kept_shock"), np.broadcast_to(lam, (1, n) + lam.shape))
    level = restore_history(scenario, xr.Dataset(data), seed=1)["level"].values[0]  # (draws, years, nodes)

    p = Params(*(np.array(FIXED[k][0]) for k in ("persistence", "volatility", "shift", "effect")))
    every_year, every_node = np.repeat(np.arange(T), 2), np.tile(np.arange(2), T)
    year, node = np.concatenate([every_year, ev.year_index]), np.concatenate([every_node, ev.node])
    C = observation_covariance(p, graph, scenario.initial_sd, scenario.drift_sd, lam, year, node)
    k = 2 * T
    S = C[k:, k:] + np.diag(np.array(FIXED["noise"][0])[ev.indicator] ** 2)
    gain = C[:k, k:] @ np.linalg.inv(S)
    mu = np.array(FIXED["baseline"][0])
    mean = mu[every_node] + gain @ (ev.z - mu[ev.node])
    cov = C[:k, :k] - gain @ C[k:, :k]
    got = level.reshape(n, -1)
    sd = np.sqrt(np.diag(cov))
    assert np.all(np.abs(got.mean(0) - mean) < 4.5 * sd / np.sqrt(n))
    np.testing.assert_allclose(got.std(0), sd, rtol=0.06)
    # the evidence matters: the conditional sd is far below the prior's
    assert np.all(sd < 0.5 * np.sqrt(np.diag(C[:k, :k])))


def test_the_models_evidence_is_the_gaussian_of_the_reference_covariance() -> None:
    """On the default scenario (a claim with competing hypotheses among simple ones, so the
    effects are drawn out of claim order; several indicators per node; nodes the evidence
    cannot see), the model's evidence term at a random parameter point is SciPy's multivariate
    normal with the reference covariance given the point's shock scales, and the measurement
    model's mean, scale and noise."""
    scenario = load_scenario(DEFAULT_SCENARIO)
    model = build_model(scenario)
    names = ("baseline", "persistence", "volatility", "shift", "effect", "intercept", "loading", "noise",
             "_shock_scale")
    outputs = model.replace_rvs_by_values([model["evidence"], *(model[n] for n in names)])
    values = model.compile_fn(outputs, inputs=model.value_vars,
                              on_unused_input="ignore", point_fn=True)
    rng = np.random.default_rng(2)
    point = {k: v + 0.3 * rng.standard_normal(v.shape) for k, v in model.initial_point().items()}
    got, mu, phi, sigma, omega, beta, intercept, loading, noise, kept_lam = values(point)

    graph, ev = graph_of(scenario), Evidence.from_scenario(scenario)
    assert any(c.hypotheses for c in scenario.claims[:-1])
    kept, n = kept_nodes(scenario), len(scenario.nodes)
    assert 0 < kept.size < n
    lam = np.full((len(scenario.history_years) - 1, 2 * n), 1e6)  # shocks the evidence cannot see: any size
    lam[:, np.concatenate([kept, kept + n])] = kept_lam
    C = observation_covariance(Params(phi, sigma, omega, beta), graph, scenario.initial_sd, scenario.drift_sd, lam,
                               ev.year_index, ev.node)
    k = ev.indicator
    scale = np.array([i.direction for i in scenario.indicators.values()])[k] * loading[k]
    S = scale[:, None] * C * scale[None, :] + np.diag(noise[k] ** 2)
    expected = stats.multivariate_normal(intercept[k] + scale * mu[ev.node], S).logpdf(ev.z)
    assert float(got) == pytest.approx(expected, rel=1e-9)


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


def test_claims_carry_influence_down_to_descendants_and_up_to_ancestors(chain_file) -> None:
    """C -> L (lag 1) -> A -> B: every lag counts, a node is its own ancestor and descendant,
    and a node off every path (none here above C) is in neither set."""
    scenario = load_scenario(chain_file)
    assert scenario.descendants({"L"}) == {"L", "A", "B"}
    assert scenario.descendants(["C"]) == {"C", "L", "A", "B"}
    assert scenario.ancestors(["A"]) == {"A", "L", "C"}
    assert scenario.ancestors(n for n in ("C",)) == {"C"}  # any iterable, a generator included
    assert scenario.ancestors([]) == set()


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
def test_indicator_data_pull_the_latent_toward_the_data_and_recover_the_effect(tmp_path) -> None:
    """Data simulated from known equations: the latent follows them and the effect is recovered."""
    path, truth = _recovery_scenario(tmp_path, np.random.default_rng(42))
    scenario = load_scenario(path)
    # standardisation of the data: compare on the standardised scale of each indicator
    settings = SamplerSettings(draws=400, tune=400, chains=2, seed=2, progress=False)
    model = build_model(scenario)
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