"""The structural equations: how each node moves from year to year, in NumPy (the forecasts step
them compiled, :mod:`forecast.compiled.forward`, held to :func:`step` by the tests).

Each node ``i`` has a latent level ``x[i, t] = mu[i] + d[i, t]`` per year: a baseline ``mu``
and a deviation ``d``, made of a **moving level** ``m`` (where the node settles, which drifts
and shifts) and a **transitory part** ``u = d - m`` that the claims pull on (an
unobserved-components model)::

    m[i, t] = m[i, t-1] + g[i] + omega[i] xi[i, t]
    d[i, t] = phi[i] d[i, t-1] + (1 - phi[i]) ( sum_{claims j->i, lag 0} beta d[j, t]
                                              + sum_{claims j->i, lag 1} beta d[j, t-1] + m[i, t-1] )
              + g[i] + omega[i] xi[i, t] + sigma[i] eps[i, t]

so that ``u[i, t] = phi u[i, t-1] + (1 - phi) (causes' pull) + sigma eps``: the transitory part
reverts, at rate ``1 - phi``, towards what the claims say, while the level keeps any trend
(``g``, the node's drift) and any lasting shift (``omega xi``). ``beta`` is the *long-run*
effect: a cause held one unit above its baseline moves the effect ``beta`` units above its own
moving level once persistence has played out.

Shocks are heavy-tailed: ``eps[i, t]`` and ``xi[i, t]`` are Normal(0, lambda) with a variance
``lambda`` of their own, drawn from InverseGamma(nu/2, nu/2): marginally Student-t with ``nu``
degrees of freedom. A break (2014, 2022) is then a large ``lambda`` that year, not a wider
spread every year, and the forecasts keep the chance of another.

A do-intervention on lever ``i`` replaces its equation by ``x[i, t] = v[i, t]``: its deviation
is set, everything downstream sees ``v``; its own level and drift then feed nothing.

Given every ``lambda`` the model is linear and Gaussian: :func:`state_space` writes it in
matrix form over the state ``[d, m, g]``, which the compiled likelihood
(:mod:`forecast.compiled.kalman`) builds the same way and tests hold to. Leading axes are batch
axes (posterior draws); the node axis is last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from forecast.compiled import runtime  # cheap: the kernels' modules load at first use
from forecast.scenario.graph import Graph


@dataclass
class Params:
    """Parameters of the equations (NumPy, with leading batch axes)."""

    phi: Any  # (..., nodes) persistence of the transitory part
    sigma: Any  # (..., nodes) sd of the transitory shocks
    omega: Any  # (..., nodes) sd of the level's shifts
    beta: Any  # (..., claims) long-run effects


@dataclass
class State:
    """The state in one year: deviation ``d``, moving level ``m`` and drift ``g``, (..., nodes)."""

    d: np.ndarray
    m: np.ndarray
    g: np.ndarray


def _effects(d: Any, beta: Any, graph: Graph, lag: int) -> Any:
    """Sum over the claims of one lag of beta * deviation of the cause, onto each effect."""
    if len(graph.slot[lag]) == 0:
        return 0.0
    return (d[..., graph.cause[lag]] * beta[..., graph.slot[lag]]) @ graph.to_effect[lag]


def step(prev: State, eps: np.ndarray, xi: np.ndarray, p: Params, graph: Graph, held: Any = None,
         target: Any = None) -> State:
    """One year of the equations from the year before, with the year's shocks ``eps`` and
    ``xi`` already scaled to their variances (``sqrt(lambda) e``).

    ``held`` (0/1 per node) marks levers under intervention and ``target`` their deviation
    from baseline that year; ``None`` is the observational regime.
    """
    pull = 1.0 - p.phi
    moved = prev.g + p.omega * xi
    r = (p.phi * prev.d + pull * (_effects(prev.d, p.beta, graph, 1) + prev.m) + moved + p.sigma * eps)
    free = pull
    if held is not None:
        r = (1.0 - held) * r + held * target
        free = (1.0 - held) * pull
    d = r
    # Same-year effects: the graph is acyclic, so iterating `depth` times solves them exactly.
    for _ in range(graph.depth):
        d = r + free * _effects(d, p.beta, graph, 0)
    return State(d, prev.m + moved, prev.g)


def transition_matrices(p: Params, graph: Graph, held: np.ndarray | None = None) -> tuple[Any, Any]:
    """The claims in matrix form; leading axes of the parameters are batch axes.

    ``F`` holds persistence and lagged effects and ``G = (I - M)^{-1}`` solves the same-year
    effects ``M`` (nilpotent: the graph is acyclic, so the series stops after ``depth``
    terms): without levels, drifts and level shifts, ``d_t = (d_{t-1} F + sigma eps_t) G``.
    Columns are effects: for ``held`` nodes they are zero (their equation is replaced).
    """
    n = graph.n_nodes
    eye = np.eye(n)
    pull = 1.0 - p.phi

    def effect_matrix(lag: int):
        if len(graph.slot[lag]) == 0:
            return np.zeros(np.shape(p.phi)[:-1] + (n, n))
        causes = eye[graph.cause[lag]]  # (claims, nodes) one-hot
        return (causes.T * p.beta[..., None, graph.slot[lag]]) @ (graph.to_effect[lag] * pull[..., None, :])

    F = eye * p.phi[..., None, :] + effect_matrix(1)
    M = effect_matrix(0)
    if held is not None:
        F, M = F * (1.0 - held), M * (1.0 - held)
    G, power = eye + 0.0 * M, eye
    for _ in range(graph.depth):
        power = power @ M
        G = G + power
    return F, G


def state_space(p: Params, graph: Graph) -> tuple[np.ndarray, np.ndarray]:
    """The equations as a linear state space over ``x = [d, m, g]`` (size 3 x nodes), in
    row-vector form: ``x_t = x_{t-1} A + sum_k sqrt(lambda_tk) e_tk V[k]`` with the shocks
    ``[eps, xi]`` (2 x nodes) loading the state along the rows of ``V``::

            | F G          0  0 |          | D_sigma G  0        0 |
        A = | D_(1-phi) G  I  0 |      V = | D_omega G  D_omega  0 |
            | G            I  I |

    (``D_v`` the diagonal matrix of ``v``). Leading axes of the parameters are batch axes."""
    F, G = transition_matrices(p, graph)
    n = graph.n_nodes
    batch = G.shape[:-2]
    eye = np.broadcast_to(np.eye(n), batch + (n, n))
    zero = np.zeros(batch + (n, n))
    A = np.concatenate([
        np.concatenate([F @ G, zero, zero], axis=-1),
        np.concatenate([(1.0 - p.phi)[..., :, None] * G, eye, zero], axis=-1),
        np.concatenate([G, eye, eye], axis=-1),
    ], axis=-2)
    V = np.concatenate([
        np.concatenate([p.sigma[..., :, None] * G, zero, zero], axis=-1),
        np.concatenate([p.omega[..., :, None] * G, eye * p.omega[..., :, None], zero], axis=-1),
    ], axis=-2)
    return A, V


def initial_variance(initial_sd: np.ndarray, drift_sd: np.ndarray) -> np.ndarray:
    """The state's variance in the first history year, ``[d, m, g]``: the deviation's spread,
    no level shift yet (``mu`` is where the level starts), the drift's prior spread."""
    return np.concatenate([initial_sd ** 2, np.zeros_like(initial_sd), drift_sd ** 2], axis=-1)


def simulate(last: State, eps: np.ndarray, xi: np.ndarray, p: Params, graph: Graph,
             held: np.ndarray | None = None, target: np.ndarray | None = None) -> tuple[np.ndarray, State]:
    """Future deviations for each year, batched over draws, and the last year's state: the
    equations of :func:`step`, year after year, compiled (:mod:`forecast.compiled.forward`:
    each claim summed once per year, the nodes in causal order).

    ``last``: the state in the last year before, (draws, nodes); ``eps``, ``xi``: (years,
    draws, nodes) shocks already scaled to their variances; ``held``: (nodes,) 0/1;
    ``target``: (years, draws, nodes) deviations. Returns the deviations (years, draws, nodes).
    """
    forward, as_argument = runtime.forward, runtime.as_argument  # two lookups, no import machinery per call

    draws, n = eps.shape[1], eps.shape[2]

    def rows(x: Any, width: int) -> np.ndarray:
        return as_argument(np.broadcast_to(x, (draws, width)))

    lag_effect = graph.effect[1]
    held = as_argument(np.zeros(0) if held is None else held)
    target = as_argument(np.zeros((0, 0, 0)) if target is None else target)
    out, m = forward(rows(last.d, n), rows(last.m, n), rows(last.g, n), as_argument(eps), as_argument(xi),
                     rows(p.phi, n), rows(p.sigma, n), rows(p.omega, n), rows(p.beta, np.shape(p.beta)[-1]),
                     graph.cause[1].astype(np.int64), graph.slot[1].astype(np.int64), lag_effect.astype(np.int64),
                     *graph.same_year_by_effect, held, target)
    return out, State(out[-1] if len(out) else rows(last.d, n), m, rows(last.g, n))


def history_from_drivers(graph: Graph, params: Params, initial_sd: np.ndarray, drift_sd: np.ndarray,
                         first: np.ndarray, drift: np.ndarray, eps: np.ndarray, xi: np.ndarray,
                         scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The history from standard-normal drivers: the first year's deviation ``first`` (D, nodes)
    times ``initial_sd``, the drift ``drift`` (D, nodes) times ``drift_sd``, then the
    equations stepped with the shocks ``eps`` and ``xi`` (years - 1, D, nodes) scaled by the
    square roots of their variances ``scale`` (years - 1, D, 2 x nodes: ``eps``'s, then
    ``xi``'s). Returns the deviations and moving levels (D, years, nodes) and the drifts (D, nodes)."""
    n = graph.n_nodes
    d0 = initial_sd * first
    start = State(d0, np.zeros_like(d0), drift_sd * drift)
    root = np.sqrt(scale)
    ds, ms = [d0], [start.m]
    state = start
    for t in range(eps.shape[0]):
        state = step(state, root[t, :, :n] * eps[t], root[t, :, n:] * xi[t], params, graph)
        ds.append(state.d)
        ms.append(state.m)
    return np.stack(ds, axis=1), np.stack(ms, axis=1), start.g


def draw_shock_scales(rng: np.random.Generator, shape: tuple[int, ...], shock_df: float, cap: float) -> np.ndarray:
    """Shocks' variance multipliers drawn from their prior, InverseGamma(nu/2, nu/2) truncated at
    ``cap`` (by its inverse CDF below the cap's mass): the forecast years', and the history's of
    nodes the evidence cannot see."""
    from scipy import stats

    a = shock_df / 2.0
    law = stats.invgamma(a, scale=a)
    return law.ppf(rng.uniform(0.0, law.cdf(cap), size=shape))
