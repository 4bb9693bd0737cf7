"""The structural equations, written once for both PyMC (symbolic) and NumPy (forecasts).

Each node ``i`` has a latent level ``x[i, t]`` per year. With ``d = x - mu`` its deviation
from its baseline level::

    d[i, t] = phi[i] * d[i, t-1]
              + (1 - phi[i]) * ( sum_{claims j->i, lag 0} beta * d[j, t]
                                 + sum_{claims j->i, lag 1} beta * d[j, t-1] )
              + sigma[i] * eps[i, t],          eps ~ Normal(0, 1)

so ``beta`` is the *long-run* effect: a cause held one unit above its baseline moves the
effect by ``beta`` units once persistence has played out, and ``phi`` sets how fast.

A do-intervention on lever ``i`` replaces its equation by ``x[i, t] = v[i, t]``: its row's
persistence, causes and noise are cut, everything downstream sees ``v``.

The functions here use only ``*``, ``+``, ``@`` and integer indexing, which mean the same on
NumPy arrays and PyTensor tensors: the model that is sampled and the forecasts that are
simulated from its posterior run the very same equations. The two compiled Ops the model
uses (:mod:`forecast.compiled.kalman`, :mod:`forecast.compiled.recurrence`) are tested against them.
Leading axes are batch axes (posterior draws) in NumPy; the node axis is last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from forecast.scenario.graph import Graph


@dataclass
class Params:
    """Parameters of the equations; arrays (NumPy, with batch axes) or tensors (PyTensor)."""

    phi: Any  # (..., nodes) persistence
    sigma: Any  # (..., nodes) innovation sd
    beta: Any  # (..., claims) long-run effects


def _effects(d: Any, beta: Any, graph: Graph, lag: int) -> Any:
    """Sum over the claims of one lag of beta * deviation of the cause, onto each effect."""
    if len(graph.slot[lag]) == 0:
        return 0.0
    return (d[..., graph.cause[lag]] * beta[..., graph.slot[lag]]) @ graph.to_effect[lag]


def step(d_prev: Any, shock: Any, p: Params, graph: Graph, held: Any = None, target: Any = None) -> Any:
    """One year of the equations: deviations at t from deviations at t-1 and the shocks at t.

    ``held`` (0/1 per node) marks levers under intervention and ``target`` their deviation
    from baseline that year; ``None`` is the observational regime.
    """
    pull = 1.0 - p.phi
    r = p.phi * d_prev + pull * _effects(d_prev, p.beta, graph, 1) + p.sigma * shock
    free = pull
    if held is not None:
        r = (1.0 - held) * r + held * target
        free = (1.0 - held) * pull
    d = r
    # Same-year effects: the graph is acyclic, so iterating `depth` times solves them exactly.
    for _ in range(graph.depth):
        d = r + free * _effects(d, p.beta, graph, 0)
    return d


def transition_matrices(p: Params, graph: Graph, held: np.ndarray | None = None) -> tuple[Any, Any]:
    """The equations in matrix form; leading axes of the parameters are batch axes.

    In row-vector form ``d_t = (d_{t-1} @ F + shock_t * sigma) @ G`` where ``F`` holds
    persistence and lagged effects and ``G = (I - M)^{-1}`` solves the same-year effects
    ``M`` (nilpotent: the graph is acyclic, so the series stops after ``depth`` terms).
    Columns are effects: for ``held`` nodes they are zero (their equation is replaced).
    """
    n = graph.n_nodes
    eye = np.eye(n)
    pull = 1.0 - p.phi

    def effect_matrix(lag: int):
        if len(graph.slot[lag]) == 0:
            return 0.0 * eye
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


def state_dynamics(p: Params, graph: Graph) -> tuple[Any, Any]:
    """``A = F G``, the yearly transition (``d_t = d_{t-1} @ A + shock_t``), and ``Q``, the
    covariance of a year's shocks ``G^T diag(sigma^2) G``; leading axes are batch axes."""
    F, G = transition_matrices(p, graph)
    return F @ G, shock_covariance(G, p.sigma)


def shock_covariance(G: Any, sigma: Any) -> Any:
    """``Q = G^T diag(sigma^2) G``: the covariance of a year's shocks once the same-year
    effects ``G`` have spread them; leading axes are batch axes."""
    return G.mT @ ((sigma ** 2)[..., :, None] * G)


def simulate(d_last: np.ndarray, shocks: np.ndarray, p: Params, graph: Graph,
             held: np.ndarray | None = None, target: np.ndarray | None = None) -> np.ndarray:
    """Forecast deviations for each future year, batched over draws.

    ``d_last``: (draws, nodes) deviations in the last history year; ``shocks``:
    (years, draws, nodes); ``held``: (nodes,) 0/1; ``target``: (years, draws, nodes) deviations.
    Returns (years, draws, nodes).
    """
    out = np.empty_like(shocks)
    d = d_last
    for h in range(shocks.shape[0]):
        d = step(d, shocks[h], p, graph, held, None if target is None else target[h])
        out[h] = d
    return out


def history_from_drivers(graph: Graph, params: Params, initial_sd: np.ndarray, first: np.ndarray,
                         shocks: np.ndarray) -> np.ndarray:
    """History deviations (D, years, nodes) from standard-normal drivers: ``first`` (D, nodes)
    scaled by each node's ``initial_sd``, then the equations stepped with ``shocks``
    (years - 1, D, nodes)."""
    d0 = initial_sd * first
    rest = simulate(d0, shocks, params, graph)
    return np.concatenate([d0[None], rest]).transpose(1, 0, 2)
