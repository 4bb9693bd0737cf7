"""The hand-written kernels (forecast.compiled) hold to readable references: the equations as
the forecasts step them, SciPy's multivariate normal with the reference covariance, and finite
differences for every gradient."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from forecast.model.build import build_model
from forecast.model.dynamics import Params, step
from forecast.scenario import load_scenario
from forecast.scenario.graph import Graph, transition_support

from .conftest import DEFAULT_SCENARIO
from .reference import observation_covariance, observation_jacobian, random_params


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
    p = random_params(rng, graph)
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
        p = random_params(rng, graph)
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
    A, _ = state_dynamics(random_params(rng, graph, (200,)), graph)
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
    p = random_params(rng, graph, (3,))
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
    p = random_params(rng, graph, (3,))
    weight = rng.normal(size=(3, T, n))
    F, G = transition_matrices(p, graph)
    got = drivers_adjoint(weight, F @ G, G, p.sigma, init_sd)
    year, node = np.repeat(np.arange(T), n), np.tile(np.arange(n), T)
    for i in range(3):
        one = Params(p.phi[i], p.sigma[i], p.beta[i])
        J = observation_jacobian(one, graph, init_sd, year, node, T, np.concatenate).reshape(T * n, T * n)
        np.testing.assert_allclose(got[i].ravel(), J.T @ weight[i].ravel(), rtol=1e-10, atol=1e-12)


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

    model = build_model(load_scenario(DEFAULT_SCENARIO))
    grads = pytensor.grad(model.logp(), model.value_vars)
    ops = [v.owner.op for v in ancestors(grads) if v.owner is not None]
    assert any(type(op).__name__ == "JoinVectors" for op in ops)
    assert not any(isinstance(op, Split) for op in ops)


