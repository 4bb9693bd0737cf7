"""Readable references the tests hold the compiled kernels and the model to.

They spell out what the fast code computes in another way (dense matrices, powers of the
transition, the full covariance of the observations), at a cost no run should pay.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from forecast.model.dynamics import Params, _effects, state_dynamics, transition_matrices
from forecast.scenario.graph import Graph


def expected(d_prev: Any, d: Any, p: Params, graph: Graph) -> Any:
    """Each node's conditional mean given its own past and its causes (the equation without
    its shock); leading axes (years, draws) broadcast. The reference for the causes' pull
    that :mod:`forecast.recurrence` returns."""
    pull = 1.0 - p.phi
    return p.phi * d_prev + pull * (_effects(d_prev, p.beta, graph, 1) + _effects(d, p.beta, graph, 0))


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


def random_params(rng, graph: Graph, batch: tuple = ()) -> Params:
    n, k = graph.n_nodes, sum(len(s) for s in graph.slot)
    return Params(phi=rng.uniform(0.2, 0.95, batch + (n,)), sigma=rng.uniform(0.1, 1, batch + (n,)),
                  beta=rng.normal(0, 0.7, batch + (k,)))
