"""Readable references the tests hold the compiled kernels and the model to.

They spell out what the fast code computes in another way (dense matrices, the full
covariance of the observations), at a cost no run should pay.
"""

from __future__ import annotations

import numpy as np

from forecast.model.dynamics import Params, initial_variance, state_space
from forecast.scenario.graph import Graph


def random_params(rng, graph: Graph, batch: tuple = ()) -> Params:
    n, k = graph.n_nodes, sum(len(s) for s in graph.slot)
    return Params(phi=rng.uniform(0.2, 0.95, batch + (n,)), sigma=rng.uniform(0.1, 1, batch + (n,)),
                  omega=rng.uniform(0.05, 0.6, batch + (n,)), beta=rng.normal(0, 0.7, batch + (k,)))


def state_covariances(p: Params, graph: Graph, initial_sd: np.ndarray, drift_sd: np.ndarray,
                      lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The state's covariance each year, ``V[t] = A^T V[t-1] A + sum_k lam[t-1, k] v_k v_k^T``
    (years, 3n, 3n), and ``A``: one parameter set, ``lam`` (years - 1, 2n)."""
    A, Vload = state_space(p, graph)
    n_years = lam.shape[0] + 1
    cov = [np.diag(initial_variance(initial_sd, drift_sd))]
    for t in range(1, n_years):
        cov.append(A.T @ cov[-1] @ A + Vload.T @ (lam[t - 1][:, None] * Vload))
    return np.stack(cov), A


def observation_covariance(p: Params, graph: Graph, initial_sd: np.ndarray, drift_sd: np.ndarray,
                           lam: np.ndarray, year: np.ndarray, node: np.ndarray) -> np.ndarray:
    """Covariance of the deviations ``d[year[i], node[i]]`` over the history's randomness:
    ``cov(x[t], x[s]) = (A^(t-s))^T V[s]`` for ``t >= s``, read at the deviations' places."""
    V, A = state_covariances(p, graph, initial_sd, drift_sd, lam)
    out = np.empty((year.size, year.size))
    for i, (t, a) in enumerate(zip(year, node)):
        for j, (s, b) in enumerate(zip(year, node)):
            if t >= s:
                out[i, j] = (np.linalg.matrix_power(A, t - s).T @ V[s])[a, b]
            else:
                out[i, j] = (V[t] @ np.linalg.matrix_power(A, s - t))[a, b]
    return out


def observation_mean_variance(p: Params, graph: Graph, initial_sd: np.ndarray, drift_sd: np.ndarray,
                              lam: np.ndarray, years: np.ndarray, node: np.ndarray) -> np.ndarray:
    """The prior variance of each ``d[year, node]``: the diagonal of the covariance above."""
    V, _ = state_covariances(p, graph, initial_sd, drift_sd, lam)
    return V[years, node, node]
