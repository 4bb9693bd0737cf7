"""The hand-written kernels (forecast.compiled) hold to readable references: the state space of
forecast.model.dynamics, SciPy's multivariate normal with the reference covariance
(tests/reference.py), the Gaussian conditional for predictions, and finite differences for
every gradient."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from forecast.compiled import kalman
from forecast.model.build import build_model
from forecast.model.dynamics import Params, State, initial_variance, simulate, state_space, step
from forecast.scenario import load_scenario
from forecast.scenario.graph import Graph, effects_first, same_year_grouped, same_year_reach, transition_support

from .conftest import DEFAULT_SCENARIO
from .reference import observation_covariance, random_params

EVIDENCE_EDGES = [(3, 2, 0), (1, 2, 1), (0, 3, 0), (0, 1, 0), (2, 0, 1)]
DOWNSTREAM = [(2, 4, 0), (4, 5, 1), (1, 5, 0)]
#: Where _case puts nodes 0-5 with ``downstream``: the unmeasured ones (4, 5) between the
#: others, so that the filter's nodes are not the first ones.
RELABEL = np.array([0, 2, 3, 5, 1, 4])
YEARS = 7


def _case(seed: int = 3, downstream: bool = False):
    """A small graph with lagged and same-year claims (one chain two deep, listed effect first)
    and 11 observations over 7 years of three indicators, one of them reversed, on nodes 0-3;
    with ``downstream``, two more nodes that only those nodes drive, the six relabelled by
    RELABEL. Every parameter and shock scale at random."""
    rng = np.random.default_rng(seed)
    edges, relabel = (EVIDENCE_EDGES + DOWNSTREAM, RELABEL) if downstream else (EVIDENCE_EDGES, np.arange(4))
    graph = Graph.from_edges(relabel.size, [(int(relabel[c]), int(relabel[e]), lag) for c, e, lag in edges])
    p = random_params(rng, graph)
    year, node = rng.integers(0, YEARS, 11), relabel[rng.integers(0, 4, 11)]
    n = graph.n_nodes
    x = {"indicator": rng.integers(0, 3, 11), "direction": np.array([1.0, -1.0, 1.0]),
         "intercept": rng.normal(size=3), "loading": rng.uniform(0.5, 2, 3), "noise": rng.uniform(0.2, 0.6, 3),
         "mu": rng.normal(size=n), "z": rng.normal(size=11), "initial_sd": rng.uniform(0.5, 1.4, n),
         "drift_sd": rng.uniform(0.1, 0.5, n), "lam": rng.gamma(2.0, 0.5, (YEARS - 1, 2 * n)),
         "observed": np.ones(11)}
    return rng, graph, p, year, node, x


def _kept_lam(graph: Graph, node: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """The shock scales of the nodes the filter keeps, as the Op takes them (flat)."""
    kept, _ = kalman.filtered_block(transition_support(graph), node)
    n = graph.n_nodes
    return lam[:, np.concatenate([kept, kept + n])].ravel()


def _op_inputs(p: Params, x: dict, graph: Graph, node: np.ndarray) -> dict:
    return {"phi": p.phi, "sigma": p.sigma, "omega": p.omega, "beta": p.beta, "s0": x["initial_sd"] ** 2,
            "drift_var": x["drift_sd"] ** 2, "mu": x["mu"], "intercept": x["intercept"], "loading": x["loading"],
            "noise": x["noise"], "lam": _kept_lam(graph, node, x["lam"]), "z": x["z"], "observed": x["observed"]}


def _op(graph: Graph, x: dict, year: np.ndarray, node: np.ndarray):
    from forecast.compiled.evidence_op import KalmanEvidence

    return KalmanEvidence.of(graph, x["indicator"], x["direction"], year, node)


def _reference_logp(graph: Graph, p: Params, x: dict, year: np.ndarray, node: np.ndarray) -> float:
    """SciPy's multivariate normal with the reference covariance and the measurement model's
    mean, scale and noise: z = intercept + direction * loading * (mu + d) + noise * e."""
    use = x["observed"] > 0
    k = x["indicator"][use]
    scale = x["direction"][k] * x["loading"][k]
    C = observation_covariance(p, graph, x["initial_sd"], x["drift_sd"], x["lam"], year[use], node[use])
    S = scale[:, None] * C * scale[None, :] + np.diag(x["noise"][k] ** 2)
    return stats.multivariate_normal(x["intercept"][k] + scale * x["mu"][node[use]], S).logpdf(x["z"][use])


def _compiled_logp(graph, p, x, year, node, mode: str) -> float:
    import pytensor

    from forecast.compiled.evidence_op import evidence_logp

    return float(pytensor.function([], evidence_logp(_op(graph, x, year, node), **_op_inputs(p, x, graph, node)),
                                   mode=mode)())


@pytest.mark.parametrize("downstream", [False, True], ids=["all measured or upstream", "unmeasured downstream"])
def test_the_compiled_evidence_density_is_the_gaussian_of_the_reference_covariance(downstream: bool) -> None:
    _, graph, p, year, node, x = _case(downstream=downstream)
    expected = _reference_logp(graph, p, x, year, node)
    for mode in ("NUMBA", "FAST_COMPILE"):
        assert _compiled_logp(graph, p, x, year, node, mode) == pytest.approx(expected, rel=1e-10)


def test_observations_held_back_are_left_out() -> None:
    """A 0 in ``observed`` is the same density as the observation not being there at all."""
    _, graph, p, year, node, x = _case()
    x["observed"] = (np.arange(11) % 3 != 0).astype(float)
    got = _compiled_logp(graph, p, x, year, node, "NUMBA")
    assert got == pytest.approx(_reference_logp(graph, p, x, year, node), rel=1e-10)
    keep = x["observed"] > 0
    fewer = {**x, "indicator": x["indicator"][keep], "z": x["z"][keep], "observed": x["observed"][keep]}
    assert _compiled_logp(graph, p, fewer, year[keep], node[keep], "NUMBA") == pytest.approx(got, rel=1e-12)


def test_the_filter_takes_observations_in_any_order_and_years_without_any() -> None:
    _, graph, p, _, _, x = _case()
    year, node = np.array([5, 2, 5, 2, 5, 2, 5, 2, 5, 2, 5]), np.array([1, 3, 1, 0, 2, 3, 1, 2, 0, 3, 3])
    assert _compiled_logp(graph, p, x, year, node, "NUMBA") == pytest.approx(
        _reference_logp(graph, p, x, year, node), rel=1e-10)


FAN_EDGES = [(0, 1, 0), (2, 3, 1), (0, 2, 0), (3, 0, 1), (1, 2, 0), (3, 3, 1)]


@pytest.mark.parametrize("edges", [EVIDENCE_EDGES, FAN_EDGES, EVIDENCE_EDGES + DOWNSTREAM],
                         ids=["chain", "fan", "downstream"])
def test_the_kernel_builds_the_state_space_of_the_equations(edges) -> None:
    """structure() and state_space() (numba, claim by claim) give dynamics.state_space's A and V
    (dense NumPy), every non-zero within state_supports."""
    rng = np.random.default_rng(1)
    n = 1 + max(max(c, e) for c, e, _ in edges)
    graph = Graph.from_edges(n, edges)
    p = random_params(rng, graph)
    order = effects_first(graph)
    cause = np.concatenate(graph.cause).astype(np.int64)
    effect = np.concatenate(graph.effect).astype(np.int64)
    lag = np.concatenate([np.zeros(len(graph.slot[0])), np.ones(len(graph.slot[1]))]).astype(np.int64)
    beta = p.beta[np.concatenate(graph.slot)]
    first, by_cause = same_year_grouped(cause, lag, n)
    G, FG = np.empty((n, n)), np.empty((n, n))
    kalman.structure(p.phi, beta, cause, effect, lag, order, first, by_cause, G, FG)
    A, V = np.zeros((3 * n, 3 * n)), np.zeros((2 * n, 3 * n))
    kalman.state_space(p.phi, p.sigma, p.omega, G, FG, A, V)
    A_ref, V_ref = state_space(p, graph)
    np.testing.assert_allclose(A, A_ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(V, V_ref, rtol=1e-12, atol=1e-14)
    A_support, V_support = kalman.state_supports(transition_support(graph), same_year_reach(graph))
    assert not np.any((A_ref != 0) & ~A_support) and not np.any((V_ref != 0) & ~V_support)


def test_the_state_space_is_the_equations_a_year_at_a_time() -> None:
    """x_t = x_{t-1} A + e V reproduces dynamics.step, year after year."""
    rng, graph, p, *_ = _case(downstream=True)
    n = graph.n_nodes
    A, V = state_space(p, graph)
    state = State(rng.normal(size=n), rng.normal(size=n), rng.normal(size=n))
    x = np.concatenate([state.d, state.m, state.g])
    for _ in range(4):
        e = rng.normal(size=2 * n)
        state = step(state, e[:n], e[n:], p, graph)
        x = x @ A + e @ V
        np.testing.assert_allclose(x, np.concatenate([state.d, state.m, state.g]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("edges", [EVIDENCE_EDGES + DOWNSTREAM, [(0, 1, 1), (1, 2, 1)], [(2, 1, 0), (1, 0, 0)], []],
                         ids=["chains of both kinds", "lagged claims only", "same-year claims only", "no claims"])
@pytest.mark.parametrize("intervened", [False, True], ids=["observational", "a lever held"])
def test_the_compiled_forecast_is_the_equations_a_year_at_a_time(edges, intervened: bool) -> None:
    """dynamics.simulate (compiled, each node once per year in causal order) gives what
    dynamics.step gives year after year, draw by draw, with levers held at their targets."""
    rng = np.random.default_rng(5)
    n = max((max(c, e) for c, e, _ in edges), default=2) + 1
    graph = Graph.from_edges(n, edges)
    draws, years = 6, 5
    p = random_params(rng, graph, (draws,))
    last = State(rng.normal(size=(draws, n)), rng.normal(size=(draws, n)), rng.normal(size=(draws, n)))
    eps, xi = rng.normal(size=(years, draws, n)), rng.normal(size=(years, draws, n))
    held = target = None
    if intervened:
        held = np.zeros(n)
        held[[0, n - 1]] = 1.0
        target = rng.normal(size=(years, draws, n))
    out, final = simulate(last, eps, xi, p, graph, held, target)
    state = last
    for h in range(years):
        state = step(state, eps[h], xi[h], p, graph, held, None if target is None else target[h])
        np.testing.assert_allclose(out[h], state.d, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(final.m, state.m, rtol=1e-12, atol=1e-12)
    if intervened:
        np.testing.assert_array_equal(out[:, :, [0, n - 1]], target[:, :, [0, n - 1]])


@pytest.mark.parametrize("edges", [[(0, 1, 1), (1, 2, 1)], [(0, 1, 0), (1, 2, 0)], []],
                         ids=["lagged claims only", "same-year claims only", "no claims"])
def test_the_state_space_of_a_batch_of_draws_is_each_draws_own(edges) -> None:
    """Batched parameters (draws) give one A and V per draw, whatever kinds of claims the
    graph lacks."""
    rng = np.random.default_rng(2)
    graph = Graph.from_edges(3, edges)
    p = random_params(rng, graph, (4,))
    A, V = state_space(p, graph)
    assert A.shape == (4, 9, 9) and V.shape == (4, 6, 9)
    one = state_space(Params(p.phi[2], p.sigma[2], p.omega[2], p.beta[2]), graph)
    np.testing.assert_allclose(A[2], one[0], rtol=1e-14)
    np.testing.assert_allclose(V[2], one[1], rtol=1e-14)


@pytest.mark.parametrize("downstream", [False, True], ids=["all measured or upstream", "unmeasured downstream"])
def test_the_hand_written_gradient_of_the_evidence_matches_finite_differences(downstream: bool) -> None:
    """With respect to every input: persistence, volatilities and effects through the state
    space, the initial variances, baselines, each indicator's intercept, loading and noise
    (scattered over its observations), the shock scales and the observations."""
    from pytensor.gradient import verify_grad

    from forecast.compiled.evidence_op import INPUTS, evidence_logp

    rng, graph, p, year, node, x = _case(downstream=downstream)
    op = _op(graph, x, year, node)
    inputs = _op_inputs(p, x, graph, node)
    names = [k for k in INPUTS if k != "observed"]

    def logp(*values):
        return evidence_logp(op, **dict(zip(names, values)), observed=inputs["observed"])

    for mode in ("NUMBA", "FAST_COMPILE"):
        verify_grad(logp, [inputs[k] for k in names], rng=rng, mode=mode)


def test_the_filter_keeps_only_the_nodes_upstream_of_an_indicator() -> None:
    """Nodes no chain of claims leads from to a measured node cannot move an indicator: the
    filter leaves them out, and the evidence gives their parameters no gradient."""
    import pytensor

    from forecast.compiled.evidence_op import INPUTS, evidence_logp

    _, graph, p, year, node, x = _case(downstream=True)
    op = _op(graph, x, year, node)
    assert sorted(op.kept) == sorted(RELABEL[:4].tolist())
    inputs = _op_inputs(p, x, graph, node)
    tensors = {k: pytensor.shared(v) for k, v in inputs.items()}
    grads = pytensor.grad(evidence_logp(op, **tensors), [tensors[k] for k in INPUTS])
    values = dict(zip(INPUTS, pytensor.function([], grads, mode="NUMBA")()))
    downstream = RELABEL[4:]
    for name in ("phi", "sigma", "omega", "s0", "drift_var", "mu"):
        assert np.all(values[name][downstream] == 0.0), name


def test_an_impossible_covariance_gives_minus_infinity_not_an_error() -> None:
    _, graph, p, year, node, x = _case()
    x = {**x, "noise": np.zeros(3), "initial_sd": np.zeros(graph.n_nodes), "drift_sd": np.zeros(graph.n_nodes),
         "lam": np.zeros_like(x["lam"])}
    assert _compiled_logp(graph, p, x, year, node, "NUMBA") == -np.inf


def _dense_inputs(p: Params, x: dict, graph: Graph, node: np.ndarray):
    """solve_evidence's and predictions' arguments for one parameter set (a batch of one)."""
    A, V = state_space(p, graph)
    k = x["indicator"]
    scale = x["direction"][k] * x["loading"][k]
    resid = x["z"] - x["intercept"][k] - scale * x["mu"][node]
    s0 = initial_variance(x["initial_sd"], x["drift_sd"])
    return (A[None], s0[None], V[None], x["lam"][None], scale[None], (x["noise"][k] ** 2)[None], resid[None], scale,
            resid)


@pytest.mark.parametrize("downstream", [False, True], ids=["all measured or upstream", "unmeasured downstream"])
def test_the_filter_solves_the_indicators_covariance_for_the_history(downstream: bool) -> None:
    """solve_evidence (what restore_history conditions on) is ``S^-1 r`` with the reference
    covariance, and its log density the reference's."""
    _, graph, p, year, node, x = _case(downstream=downstream)
    A, s0, V, lam, scale_b, noise_b, resid_b, scale, resid = _dense_inputs(p, x, graph, node)
    got, logp = kalman.solve_evidence(A, s0, V, lam, scale_b, noise_b, resid_b, year, node,
                                      transition_support(graph), same_year_reach(graph))
    C = observation_covariance(p, graph, x["initial_sd"], x["drift_sd"], x["lam"], year, node)
    S = scale[:, None] * C * scale[None, :] + np.diag(x["noise"][x["indicator"]] ** 2)
    np.testing.assert_allclose(got[0], np.linalg.solve(S, resid), rtol=1e-9, atol=1e-12)
    assert logp[0] == pytest.approx(stats.multivariate_normal(np.zeros(len(resid)), S).logpdf(resid), rel=1e-10)


def test_predictions_are_the_gaussian_conditional_on_the_earlier_years() -> None:
    """For every observation, in use or held back, the filter's prediction from the observations
    in use of strictly earlier years is the conditional mean and variance that the reference
    covariance gives."""
    _, graph, p, year, node, x = _case()
    observed = (year < 4).astype(float)  # held back from year 4: a backtest origin
    A, s0, V, lam, scale_b, noise_b, resid_b, scale, resid = _dense_inputs(p, x, graph, node)
    mean, var = kalman.predictions(A, s0, V, lam, scale_b, noise_b, resid_b, observed, year, node,
                                   transition_support(graph), same_year_reach(graph), until=YEARS)
    C = observation_covariance(p, graph, x["initial_sd"], x["drift_sd"], x["lam"], year, node)
    S = scale[:, None] * C * scale[None, :] + np.diag(x["noise"][x["indicator"]] ** 2)
    for a in range(len(resid)):
        known = (observed > 0) & (year < year[a])
        if known.any():
            w = np.linalg.solve(S[np.ix_(known, known)], S[known, a])
            cond_mean, cond_var = w @ resid[known], S[a, a] - w @ S[known, a]
        else:
            cond_mean, cond_var = 0.0, S[a, a]
        assert mean[0, a] == pytest.approx(cond_mean, rel=1e-9, abs=1e-12)
        assert var[0, a] == pytest.approx(cond_var, rel=1e-9)


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
