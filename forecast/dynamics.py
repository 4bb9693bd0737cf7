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
uses (:mod:`forecast.kalman`, :mod:`forecast.recurrence`) are tested against them.
Leading axes are batch axes (posterior draws) in NumPy; the node axis is last.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Graph:
    """The claims as index arrays, split by lag, with the depth of same-year chains."""

    n_nodes: int
    cause: tuple[np.ndarray, np.ndarray]  # per lag (0, 1): cause node of each claim
    slot: tuple[np.ndarray, np.ndarray]  # per lag: position of the claim in the effect vector
    to_effect: tuple[np.ndarray, np.ndarray]  # per lag: one-hot (claims x nodes) onto the effect
    depth: int  # longest chain of same-year claims (fixed-point iterations needed)

    @classmethod
    def from_edges(cls, n_nodes: int, edges: list[tuple[int, int, int]]) -> "Graph":
        """``edges``: (cause index, effect index, lag) per claim, in claim order."""
        causes, slots, onto = [], [], []
        for lag in (0, 1):
            idx = [k for k, e in enumerate(edges) if e[2] == lag]
            causes.append(np.array([edges[k][0] for k in idx], dtype=int))
            slots.append(np.array(idx, dtype=int))
            m = np.zeros((len(idx), n_nodes))
            for row, k in enumerate(idx):
                m[row, edges[k][1]] = 1.0
            onto.append(m)
        return cls(n_nodes, tuple(causes), tuple(slots), tuple(onto), _longest_path(n_nodes, edges))

    @property
    def effect(self) -> tuple[np.ndarray, np.ndarray]:
        """Per lag: the effect node of each claim (the index ``to_effect`` is one-hot on)."""
        return tuple(m.argmax(axis=1) for m in self.to_effect)  # type: ignore[return-value]


def _longest_path(n: int, edges: list[tuple[int, int, int]]) -> int:
    """Edges in the longest same-year path (the graph is acyclic: validated)."""
    children: dict[int, list[int]] = {}
    for c, e, lag in edges:
        if lag == 0:
            children.setdefault(c, []).append(e)
    memo: dict[int, int] = {}

    def longest(i: int) -> int:
        if i not in memo:
            memo[i] = max((1 + longest(j) for j in children.get(i, [])), default=0)
        return memo[i]

    return max((longest(i) for i in range(n)), default=0)


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


def expected(d_prev: Any, d: Any, p: Params, graph: Graph) -> Any:
    """Each node's conditional mean given its own past and its causes (the equation without
    its shock); leading axes (years, draws) broadcast. The reference for the causes' pull
    that :mod:`forecast.recurrence` returns."""
    pull = 1.0 - p.phi
    return p.phi * d_prev + pull * (_effects(d_prev, p.beta, graph, 1) + _effects(d, p.beta, graph, 0))


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


def transition_support(graph: Graph) -> np.ndarray:
    """Where the yearly transition ``A`` can be non-zero, whatever the parameters: ``A`` at
    persistence 1/2 and every effect 1, where each entry is a sum of positive terms, so
    nothing cancels and the zeros are exactly the structural ones."""
    n = graph.n_nodes
    n_claims = sum(len(s) for s in graph.slot)
    A, _ = state_dynamics(Params(phi=np.full(n, 0.5), sigma=np.ones(n), beta=np.ones(n_claims)), graph)
    return A != 0.0


def upstream_of(support: np.ndarray, nodes: Any) -> np.ndarray:
    """``nodes`` and every node that moves one of them in some year, in index order: the
    closure of ``nodes`` under the transition's ``support`` (:func:`transition_support`;
    ``support[i, j]``: node ``i``'s deviation reaches node ``j``'s a year later, through a
    lagged claim or a same-year chain). These nodes evolve on their own, with their block of
    the transition and of the shocks' covariance, so the indicators of ``nodes`` say nothing
    of the others: :mod:`forecast.kalman` filters only this set."""
    keep = np.zeros(support.shape[0], dtype=bool)
    keep[np.asarray(nodes, dtype=np.int64)] = True
    while True:
        grown = keep | support[:, keep].any(axis=1)
        if np.array_equal(grown, keep):
            return np.flatnonzero(keep).astype(np.int64)
        keep = grown


def filtered_block(support: np.ndarray, nodes: Any) -> tuple[np.ndarray, np.ndarray]:
    """The nodes the Kalman filter keeps for indicators of ``nodes`` (:func:`upstream_of`) and
    the transition's support among them: what the model's likelihood, its cost estimate and
    the history's conditioning all filter over."""
    kept = upstream_of(support, nodes)
    return kept, support[np.ix_(kept, kept)]


def matrix_powers(A: Any, n: int, size: int, concat) -> Any:
    """``A^0 .. A^(n-1)`` (``A``: size x size) stacked on axis -3, in ``ceil(log2(n))``
    batched products."""
    powers = (np.eye(size) + 0.0 * A)[..., None, :, :]
    square, have = A, 1
    while have < n:
        powers = concat([powers, powers @ square[..., None, :, :]], axis=-3)
        square, have = square @ square, 2 * have
    return powers[..., :n, :, :]


def observation_jacobian(p: Params, graph: Graph, init_sd: np.ndarray, year: np.ndarray, node: np.ndarray,
                         n_years: int, concat) -> Any:
    """How each observed deviation depends on the standard-normal drivers of the history.

    The history is linear in its drivers ``eta`` (``eta[0] = d[0] / init_sd``, ``eta[s]`` the
    shocks of year ``s``): with ``A = F G``, ``d[t] = sum_{s<=t} eta[s] @ C[s] @ A^(t-s)``,
    ``C[0] = diag(init_sd)`` and ``C[s] = diag(sigma) G``. Returns ``J`` of shape
    ``(..., observations, years, nodes)`` with ``d[year[i], node[i]] = sum J[i] * eta``:
    the marginal covariance of the observed deviations is ``J J^T`` (flattened), which is
    what lets the model integrate the latent history out exactly.
    """
    F, G = transition_matrices(p, graph)
    powers = matrix_powers(F @ G, n_years, graph.n_nodes, concat)  # (..., years, nodes, nodes)
    first = (init_sd[:, None] * powers).mT  # C[0] A^k, transposed: [k, effect, driver]
    later = ((p.sigma[..., :, None] * G)[..., None, :, :] @ powers).mT
    lag = year[:, None] - np.arange(1, n_years)[None, :]  # (observations, years - 1)
    valid = (lag >= 0).astype(float)[:, :, None]
    at_start = first[..., year, node, :][..., None, :]  # (..., observations, 1, nodes)
    after = later[..., np.maximum(lag, 0), node[:, None], :] * valid
    return concat([at_start, after], axis=-2)


def observation_covariance(p: Params, graph: Graph, init_sd: Any, year: np.ndarray, node: np.ndarray,
                           n_years: int, concat) -> Any:
    """Covariance of the deviations ``d[year[i], node[i]]`` over the history's randomness.

    Equal to ``J J^T`` with ``J`` from :func:`observation_jacobian` (a test checks it) but
    built from the yearly state covariances, at a fraction of the cost: with ``A = F G``
    and ``Q = G^T diag(sigma^2) G`` the covariance of each year's shocks,
    ``V[s] = (A^s)^T V[0] A^s + sum_{k<s} (A^k)^T Q A^k`` is the covariance of ``d[s]`` and
    ``cov(d[t], d[s]) = (A^(t-s))^T V[s]`` for ``t >= s``. One parameter set (no batch axes).
    The model computes the same Gaussian's density with a Kalman filter compiled as one Op
    (:mod:`forecast.kalman`), which tests check against this.
    """
    n = graph.n_nodes
    A, Q = state_dynamics(p, graph)
    powers = matrix_powers(A, n_years, n, concat)  # (years, nodes, nodes)
    spread = (powers.mT @ Q @ powers).reshape((n_years, n * n))
    before = np.tri(n_years, k=-1)  # before[s, k] = 1 when k < s
    V = powers.mT @ ((init_sd ** 2)[:, None] * powers) + (before @ spread).reshape((n_years, n, n))
    lag = year[:, None] - year[None, :]
    X = (powers.mT[np.maximum(lag, 0), node[:, None]] * V[year, node][None, :, :]).sum(axis=-1)
    later = (lag >= 0).astype(float)
    return later * X + (1.0 - later) * X.T


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
