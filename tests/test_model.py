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
from forecast.posterior.history import restore_history
from forecast.posterior.sampling import sample_posterior
from forecast.scenario import load_scenario
from forecast.scenario.graph import Graph, graph_of, transition_support
from forecast.settings import SamplerSettings

from .conftest import DEFAULT_SCENARIO, tight_chain, write_scenario
from .reference import observation_covariance, observation_jacobian


def _recurrence_case():
    """A graph with a same-year chain three claims deep (listed out of causal order), lagged
    feedback, and parameters and drivers at random."""
    rng = np.random.default_rng(0)
    n = 6
    edges = [(2, 3, 0), (0, 1, 0), (1, 2, 0), (0, 3, 1), (4, 0, 1), (3, 5, 1), (5, 4, 1), (4, 4, 1)]
    graph = Graph.from_edges(n, edges)
    assert graph.depth == 3
    p = Params(phi=rng.uniform(0.2, 0.95, n), sigma=rng.uniform(0.1, 1, n), beta=rng.normal(0, 0.7, len(edges)))
    return rng, graph, p, rng.uniform(0.5, 2, n), rng.normal(size=(12, n))


@pytest.mark.parametrize("held", [np.zeros(6), np.array([0, 1, 0, 1, 0, 0.0])], ids=["all free", "two held"])
def test_the_sampled_history_op_runs_the_same_equations_as_the_forecasts(held: np.ndarray) -> None:
    """The Op the sampled model uses (claim by claim, numba and Python) equals stepping the
    equations year by year as forecasts do, held nodes taking their drive as the deviation;
    its second output is each node's pull from its causes, as dynamics.expected defines it."""
    import pytensor

    from forecast.compiled.recurrence import sampled_history

    from .reference import expected

    _, graph, p, init_sd, drive = _recurrence_case()
    d0 = np.where(held > 0, drive[0], init_sd * drive[0])
    slow = [d0]
    for t in range(1, 12):
        slow.append(step(slow[-1], drive[t], p, graph, held, drive[t]))
    slow = np.stack(slow)
    for mode in ("NUMBA", "FAST_COMPILE"):
        d, e = pytensor.function([], sampled_history(p.phi, p.sigma, p.beta, init_sd, drive, graph, held), mode=mode)()
        np.testing.assert_allclose(d, slow, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(p.phi * d[:-1] + (1 - p.phi) * e[1:], expected(d[:-1], d[1:], p, graph),
                                   rtol=1e-10, atol=1e-12)


def test_the_sampled_history_op_takes_a_graph_without_claims() -> None:
    """Nodes without causes follow their own persistence and shocks (nothing to sum)."""
    import pytensor

    from forecast.compiled.recurrence import sampled_history

    graph = Graph.from_edges(3, [])
    p = Params(phi=np.array([0.5, 0.6, 0.7]), sigma=np.array([1.0, 0.5, 2.0]), beta=np.zeros(0))
    drive = np.random.default_rng(0).normal(size=(5, 3))
    d, e = pytensor.function([], sampled_history(p.phi, p.sigma, p.beta, np.ones(3), drive, graph, np.zeros(3)))()
    for t in range(1, 5):
        np.testing.assert_allclose(d[t], p.phi * d[t - 1] + p.sigma * drive[t])
    assert not e.any()


@pytest.mark.parametrize("held", [np.zeros(6), np.array([0, 1, 0, 1, 0, 0.0])], ids=["all free", "two held"])
def test_the_hand_written_gradient_of_the_sampled_history_matches_finite_differences(held: np.ndarray) -> None:
    from pytensor.gradient import verify_grad

    from forecast.compiled.recurrence import sampled_history

    rng, graph, p, init_sd, drive = _recurrence_case()
    w = rng.normal(size=drive.shape)  # weights, so both outputs reach the checked scalar

    def both(phi, sigma, beta, init_sd, drive):
        d, e = sampled_history(phi, sigma, beta, init_sd, drive, graph, held)
        return d + w * e

    for mode in ("NUMBA", "FAST_COMPILE"):
        verify_grad(both, [p.phi, p.sigma, p.beta, init_sd, drive], rng=rng, mode=mode)


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


def _random_params(rng, graph: Graph, batch: tuple = ()) -> Params:
    n, k = graph.n_nodes, sum(len(s) for s in graph.slot)
    return Params(phi=rng.uniform(0.2, 0.95, batch + (n,)), sigma=rng.uniform(0.1, 1, batch + (n,)),
                  beta=rng.normal(0, 0.7, batch + (k,)))


def test_the_history_is_linear_in_its_drivers_with_the_jacobian_the_model_uses() -> None:
    """d[t, node] = J . eta (batched over draws), and J J^T is the covariance the marginal
    model builds without forming J."""
    rng = np.random.default_rng(5)
    graph = Graph.from_edges(5, [(0, 1, 0), (1, 2, 1), (0, 3, 0), (3, 2, 0), (2, 4, 1), (4, 0, 1)])
    p = _random_params(rng, graph, (3,))
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
EVIDENCE_EDGES = [(3, 2, 0), (1, 2, 1), (0, 3, 0), (0, 1, 0), (2, 0, 1)]
DOWNSTREAM = [(2, 4, 0), (4, 5, 1), (1, 5, 0)]
#: Where _evidence_case puts nodes 0-5 with ``downstream``: the unmeasured ones (4, 5) between
#: the others, so that the filter's nodes are not the first ones.
RELABEL = np.array([0, 2, 3, 5, 1, 4])


def _evidence_case(seed: int = 3, downstream: bool = False):
    """A small graph with lagged and same-year claims (one chain two deep, listed effect
    first) and 11 observations over 7 years of three indicators, one of them reversed, on
    nodes 0-3; with ``downstream``, two more nodes that only those nodes drive, and the six
    relabelled by RELABEL."""
    rng = np.random.default_rng(seed)
    edges, relabel = (EVIDENCE_EDGES + DOWNSTREAM, RELABEL) if downstream else (EVIDENCE_EDGES, np.arange(4))
    graph = Graph.from_edges(relabel.size, [(int(relabel[c]), int(relabel[e]), lag) for c, e, lag in edges])
    p = _random_params(rng, graph)
    year, node = rng.integers(0, 7, 11), relabel[rng.integers(0, 4, 11)]
    n = graph.n_nodes
    inputs = {"indicator": rng.integers(0, 3, 11), "direction": np.array([1.0, -1.0, 1.0]),
              "intercept": rng.normal(size=3), "loading": rng.uniform(0.5, 2, 3), "noise": rng.uniform(0.2, 0.6, 3),
              "mu": rng.normal(size=n), "z": rng.normal(size=11), "s0": rng.uniform(0.3, 2, n)}
    return rng, graph, p, year, node, inputs


#: The Op's inputs after persistence, volatility and effects, as _evidence_case names them.
MEASUREMENT = ("s0", "mu", "intercept", "loading", "noise")


def _evidence(graph: Graph, x: dict, year: np.ndarray, node: np.ndarray):
    """The log density of ``x["z"]`` by the model's Op, as a function of the parameters."""
    from forecast.compiled.evidence_op import KalmanEvidence, evidence_logp

    op = KalmanEvidence.of(graph, x["indicator"], x["direction"], year, node)

    def logp(phi, sigma, beta, s0, mu, intercept, loading, noise):
        return evidence_logp(op, x["z"], phi, sigma, beta, s0, mu, intercept, loading, noise)

    return logp


def _filter_and_reference(graph: Graph, p: Params, x: dict, year: np.ndarray, node: np.ndarray, n_years: int):
    """The filter's log density (a tensor) and SciPy's multivariate normal one with the
    covariance that dynamics.observation_covariance spells out and the measurement model's
    mean, scale and noise: z = intercept + direction * loading * (mu + d) + noise * e."""
    logp = _evidence(graph, x, year, node)
    k = x["indicator"]
    scale = x["direction"][k] * x["loading"][k]
    C = observation_covariance(p, graph, np.sqrt(x["s0"]), year, node, n_years, np.concatenate)
    S = scale[:, None] * C * scale[None, :] + np.diag(x["noise"][k] ** 2)
    expected = stats.multivariate_normal(x["intercept"][k] + scale * x["mu"][node], S).logpdf(x["z"])
    return logp(p.phi, p.sigma, p.beta, *(x[n] for n in MEASUREMENT)), expected


@pytest.mark.parametrize("downstream", [False, True], ids=["all measured or upstream", "unmeasured downstream"])
def test_the_compiled_evidence_density_is_the_gaussian_of_the_reference_covariance(downstream: bool) -> None:
    """The Op the model samples (numba kernel, and the Python fallback) gives the multivariate
    normal log density with the covariance that dynamics.observation_covariance spells out,
    also when it filters only the nodes upstream of an indicator."""
    import pytensor

    _, graph, p, year, node, x = _evidence_case(downstream=downstream)
    logp, expected = _filter_and_reference(graph, p, x, year, node, 7)
    for mode in ("NUMBA", "FAST_COMPILE"):
        assert pytensor.function([], logp, mode=mode)() == pytest.approx(expected, rel=1e-10)


#: Two same-year claims out of node 0 and two into node 2, listed apart, with lagged feedback.
FAN_EDGES = [(0, 1, 0), (2, 3, 1), (0, 2, 0), (3, 0, 1), (1, 2, 0), (3, 3, 1)]


@pytest.mark.parametrize("case", ["recurrence", "fan", "downstream"],
                         ids=["recurrence case", "claims sharing a cause", "unmeasured downstream"])
def test_the_op_builds_the_transition_of_the_equations(case: str) -> None:
    """The kernel builds A and Q from the claims (same-year chains solved effect first) as
    dynamics.state_dynamics does from its matrices, for effects of either sign: over the
    nodes upstream of an indicator, from the claims into them alone, their block exactly."""
    from forecast.compiled.evidence_op import KalmanEvidence
    from forecast.compiled.kalman import transition
    from forecast.model.dynamics import state_dynamics

    rng, graph, *_ = _recurrence_case()
    node = np.zeros(1, int)
    if case == "fan":
        graph = Graph.from_edges(4, FAN_EDGES)
    elif case == "downstream":
        _, graph, _, _, node, _ = _evidence_case(downstream=True)
    op = KalmanEvidence.of(graph, np.zeros(node.size, int), np.ones(1), np.zeros(node.size, int), node)
    claim, cause, effect, lag, order, first, by_cause, _, kept, *_ = op.constants()
    assert (case == "downstream") == (kept.size < graph.n_nodes)
    n = kept.size
    for _ in range(20):
        p = _random_params(rng, graph)
        G, A, Q = np.empty((n, n)), np.empty((n, n)), np.empty((n, n))
        transition(p.phi[kept], p.sigma[kept], p.beta[claim], cause, effect, lag, order, first, by_cause, G, A, Q)
        A_ref, Q_ref = state_dynamics(p, graph)
        block = np.ix_(kept, kept)
        np.testing.assert_allclose(A, A_ref[block], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(Q, Q_ref[block], rtol=1e-12, atol=1e-14)


def test_the_transition_support_holds_every_non_zero_of_the_transition() -> None:
    """The filter skips A outside its support, so no parameters (effects of either sign) may
    put a non-zero there; inside it, random parameters leave no zero."""
    from forecast.model.dynamics import state_dynamics

    rng, graph, *_ = _evidence_case()
    support = transition_support(graph)
    assert 0 < support.sum() < support.size
    A, _ = state_dynamics(_random_params(rng, graph, (200,)), graph)
    assert np.all(A[:, ~support] == 0.0)
    assert np.all(A[:, support] != 0.0)


def test_the_filter_takes_observations_in_any_order_and_years_without_any() -> None:
    """The Kalman filter takes the observations in any order, several of one node in one year,
    and years without any (before, between and after the observed ones): its density is
    still the Gaussian of the reference covariance."""
    import pytensor

    _, graph, p, _, _, x = _evidence_case()
    year, node = np.array([5, 2, 5, 2, 5, 2, 5, 2, 5, 2, 5]), np.array([1, 3, 1, 0, 2, 3, 1, 2, 0, 3, 3])
    logp, expected = _filter_and_reference(graph, p, x, year, node, 9)
    assert pytensor.function([], logp, mode="NUMBA")() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("downstream", [False, True], ids=["all measured or upstream", "unmeasured downstream"])
def test_the_hand_written_gradient_of_the_evidence_matches_finite_differences(downstream: bool) -> None:
    """With respect to every parameter: persistence, volatility and effects through the
    transition, initial spreads, baselines, and each indicator's intercept, loading and noise
    (scattered over its observations); zero for the nodes downstream of every indicator."""
    from pytensor.gradient import verify_grad

    rng, graph, p, year, node, x = _evidence_case(downstream=downstream)
    logp = _evidence(graph, x, year, node)
    point = [p.phi, p.sigma, p.beta, *(x[n] for n in MEASUREMENT)]
    for mode in ("NUMBA", "FAST_COMPILE"):
        verify_grad(logp, point, rng=rng, mode=mode)


def test_the_filter_keeps_only_the_nodes_upstream_of_an_indicator() -> None:
    """Nodes that no chain of claims leads from to a measured node cannot move an indicator:
    the filter leaves them out (its cost is nodes^2 per observation), and the evidence gives
    their persistence, volatility, effects, spread and baseline no gradient."""
    import pytensor
    import pytensor.tensor as pt

    from forecast.compiled.evidence_op import KalmanEvidence
    from forecast.scenario.graph import upstream_of

    _, graph, p, year, node, x = _evidence_case(downstream=True)
    measured, downstream = RELABEL[:4], RELABEL[4:]  # nodes 0, 2, 3, 5 and 1, 4
    assert set(node) == set(measured)
    support = transition_support(graph)
    assert upstream_of(support, node).tolist() == [0, 2, 3, 5]
    assert upstream_of(support, [1]).tolist() == [0, 1, 2, 3, 5]  # not 4, which 1 drives
    assert KalmanEvidence.of(graph, x["indicator"], x["direction"], year, node).kept == (0, 2, 3, 5)

    args = [pt.vector(n) for n in ("phi", "sigma", "beta", *MEASUREMENT)]
    value = _evidence(graph, x, year, node)(*args)
    grads = pytensor.function(args, pytensor.grad(value, args), mode="NUMBA")(
        p.phi, p.sigma, p.beta, *(x[n] for n in MEASUREMENT))
    phi, sigma, beta, s0, mu = grads[:5]
    into_downstream = [k for k, (_, e, _) in enumerate(EVIDENCE_EDGES + DOWNSTREAM) if e >= 4]  # labels before RELABEL
    for g in (phi, sigma, s0, mu):
        assert np.all(g[downstream] == 0.0) and np.all(g[measured] != 0.0)
    assert np.all(beta[into_downstream] == 0.0)
    assert np.all(np.delete(beta, into_downstream) != 0.0)


def test_an_impossible_covariance_gives_minus_infinity_not_an_error() -> None:
    """A negative initial variance makes the covariance indefinite: the sampler must see -inf
    (a rejected proposal) and a finite gradient, never an exception inside the compiled
    callback."""
    import pytensor
    import pytensor.tensor as pt

    _, graph, p, year, node, x = _evidence_case()
    logp = _evidence(graph, x, year, node)
    mu = pt.vector("mu")
    value = logp(p.phi, p.sigma, p.beta, -10.0 * x["s0"], mu, x["intercept"], x["loading"], x["noise"])
    got, grad = pytensor.function([mu], [value, pytensor.grad(value, mu)], mode="NUMBA")(x["mu"])
    assert got == -np.inf
    assert np.all(np.isfinite(grad))


@pytest.mark.parametrize("downstream", [False, True], ids=["all measured or upstream", "unmeasured downstream"])
def test_the_filter_solves_the_indicators_covariance_for_the_history(downstream: bool) -> None:
    """kalman.solve_evidence (what restore_history conditions on) is ``S^-1 r`` with the
    reference covariance, for a batch of parameter sets, when nodes downstream of every
    indicator are left out of the filter too."""
    from forecast.compiled.kalman import solve_evidence
    from forecast.model.dynamics import state_dynamics

    rng, graph, _, year, node, x = _evidence_case(downstream=downstream)
    p = _random_params(rng, graph, (3,))
    A, Q = state_dynamics(p, graph)
    s0 = np.broadcast_to(x["s0"], (3, graph.n_nodes))
    scale = x["direction"][x["indicator"]] * x["loading"][x["indicator"]]
    noise_var = x["noise"][x["indicator"]] ** 2
    resid = rng.normal(size=(3, year.size))
    got = solve_evidence(A, s0, Q, np.broadcast_to(scale, resid.shape), np.broadcast_to(noise_var, resid.shape),
                         resid, year, node, transition_support(graph))
    for b in range(3):
        one = Params(p.phi[b], p.sigma[b], p.beta[b])
        C = observation_covariance(one, graph, np.sqrt(x["s0"]), year, node, 7, np.concatenate)
        S = scale[:, None] * C * scale[None, :] + np.diag(noise_var)
        np.testing.assert_allclose(got[b], np.linalg.solve(S, resid[b]), rtol=1e-9)


def test_the_backward_recursion_is_the_transpose_of_the_history_jacobian() -> None:
    """history.drivers_adjoint(w) = J^T w for weights on every deviation, J from
    dynamics.observation_jacobian, for a batch of parameter sets."""
    from forecast.model.dynamics import transition_matrices
    from forecast.posterior.history import drivers_adjoint

    rng, graph, *_ = _evidence_case()
    T, n, init_sd = 7, graph.n_nodes, rng.uniform(0.3, 2, 4)
    p = _random_params(rng, graph, (3,))
    weight = rng.normal(size=(3, T, n))
    F, G = transition_matrices(p, graph)
    got = drivers_adjoint(weight, F @ G, G, p.sigma, init_sd)
    year, node = np.repeat(np.arange(T), n), np.tile(np.arange(n), T)
    for i in range(3):
        one = Params(p.phi[i], p.sigma[i], p.beta[i])
        J = observation_jacobian(one, graph, init_sd, year, node, T, np.concatenate).reshape(T * n, T * n)
        np.testing.assert_allclose(got[i].ravel(), J.T @ weight[i].ravel(), rtol=1e-10, atol=1e-12)


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
    scenario = load_scenario("priors/article.toml")
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


def test_joined_priors_are_concatenate_in_value_and_gradient() -> None:
    import pytensor
    import pytensor.tensor as pt
    from pytensor.gradient import verify_grad

    from forecast.compiled.join import join_vectors

    rng = np.random.default_rng(0)
    parts = [rng.normal(size=k) for k in (3, 1, 2)]
    xs = [pt.vector(f"x{i}", shape=(len(p),)) for i, p in enumerate(parts)]
    for mode in ("NUMBA", "FAST_COMPILE"):
        np.testing.assert_array_equal(pytensor.function(xs, join_vectors(xs), mode=mode)(*parts),
                                      np.concatenate(parts))
        verify_grad(lambda *v: join_vectors(list(v)), parts, rng=rng, mode=mode)


def test_the_models_gradient_has_no_split() -> None:
    """The default scenario joins its claims' priors (a mixture among them). PyTensor's
    ``Split``, concatenate's gradient, alone took ~4 s of its cold numba compile."""
    import pytensor
    from pytensor.graph.traversal import ancestors
    from pytensor.tensor.basic import Split

    model = build_model(load_scenario("priors/article.toml"))
    grads = pytensor.grad(model.logp(), model.value_vars)
    ops = [v.owner.op for v in ancestors(grads) if v.owner is not None]
    assert any(type(op).__name__ == "JoinVectors" for op in ops)
    assert not any(isinstance(op, Split) for op in ops)


def test_the_default_scenario_integrates_its_history_out() -> None:
    assert choose_history(load_scenario(DEFAULT_SCENARIO)) == "integrated"


@pytest.fixture(scope="module")
def chain_run(tmp_path_factory):
    """The L -> A -> B chain, no indicators, sampled once with NUTS and analysed."""
    path = write_scenario(tmp_path_factory.mktemp("chain"), tight_chain())
    scenario = load_scenario(path)
    settings = SamplerSettings(draws=500, tune=500, chains=2, seed=3, progress=False)
    idata = sample_posterior(build_model(scenario), settings).tree
    tree, summary = analyse(scenario, idata, settings, 1.0)
    return scenario, tree, summary


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


def test_forecasting_moves_the_progress_bar_once_per_strategy(chain_run) -> None:
    from forecast.forecasts.strategies import forecast_levels
    from forecast.posterior.draws import Draws

    scenario, tree, _ = chain_run
    steps: list[int] = []
    levels = forecast_levels(scenario, Draws.from_posterior(tree["posterior"].dataset), 3, steps.append)
    assert steps == [1] * len(scenario.strategies) == [1] * levels.shape[0]


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


@pytest.mark.parametrize("marginal", [True, False], ids=["history integrated out", "history sampled"])
def test_indicator_data_pull_the_latent_toward_the_data_and_recover_the_effect(tmp_path, marginal: bool) -> None:
    """Both ways of handling the history (the default and the large-scenario one) learn the same."""
    path, truth = _recovery_scenario(tmp_path, np.random.default_rng(42))
    scenario = load_scenario(path)
    # standardisation of the data: compare on the standardised scale of each indicator
    settings = SamplerSettings(draws=400, tune=400, chains=2, seed=2, progress=False)
    idata = sample_posterior(build_model(scenario, "integrated" if marginal else "sampled"), settings).tree
    tree, summary = analyse(scenario, idata, settings, 1.0)
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