"""The latent history, restored after sampling a model that integrated it out.

When the history is integrated out (:func:`forecast.model.build.choose_history`), NUTS samples
the parameters only. Given one draw of the parameters, the history's standard-normal
drivers ``eta`` and the standardised indicators ``z`` are jointly Gaussian
(``z = mean + J eta + noise``, ``tests/reference.py``'s ``observation_jacobian``), so the
history can be drawn *exactly* from its conditional distribution by pathwise conditioning
(Matheron's rule): draw ``eta`` and the noise from their priors, simulate ``z``, and move
``eta`` by ``J^T S^{-1} (z_observed - z_simulated)`` with ``S = J J^T + diag(noise^2)``.
Paired with the parameters' draws this is a draw from the joint posterior, as if the
history had been sampled along with them, and it costs no extra MCMC.

Neither ``J`` nor ``S`` is formed: ``S^{-1} r`` comes from the model's Kalman filter
(:func:`forecast.compiled.kalman.solve_evidence`) and ``J^T`` is the history's recursion run
backwards (:func:`drivers_adjoint`), so a draw costs what one gradient of the model does,
linear in years.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from forecast.compiled.kalman import solve_evidence
from forecast.model.build import Evidence
from forecast.model.dynamics import Params, history_from_drivers, shock_covariance, transition_matrices
from forecast.posterior.draws import Draws
from forecast.scenario.domain import Scenario
from forecast.scenario.graph import graph_of, transition_support
from forecast.streams import RandomStreams

#: Draws conditioned per batch: bounds memory at about chunk x nodes^2 x 3 floats.
CHUNK = 256


def drivers_adjoint(weight: np.ndarray, A: np.ndarray, G: np.ndarray, sigma: np.ndarray,
                    init_sd: np.ndarray) -> np.ndarray:
    """``J^T`` applied to ``weight[..., year, node]`` (a weight on each deviation): the history
    ``d[0] = init_sd eta[0]``, ``d[t] = d[t-1] A + (sigma eta[t]) G`` run backwards,
    ``lam[t] = weight[t] + lam[t+1] A^T``, gives ``init_sd lam[0]`` and ``sigma (lam[t] G^T)``."""
    lam = np.zeros_like(weight[..., 0, :])
    out = np.empty_like(weight)
    for t in range(weight.shape[-2] - 1, -1, -1):
        lam = weight[..., t, :] + (lam[..., None, :] @ A.mT)[..., 0, :]
        out[..., t, :] = sigma * (lam[..., None, :] @ G.mT)[..., 0, :] if t else init_sd * lam
    return out


def restore_history(scenario: Scenario, posterior: xr.Dataset, seed: int) -> xr.Dataset:
    """``posterior`` with ``level[chain, draw, year, node]`` drawn given each draw's parameters."""
    draws = Draws.from_posterior(posterior)
    size = draws.mu.shape[0]
    graph = graph_of(scenario)
    n_years, n_nodes = len(scenario.history_years), len(scenario.nodes)
    init_sd = scenario.initial_sd
    params = draws.params
    rng = RandomStreams(seed).history()
    eta = rng.standard_normal((size, n_years, n_nodes))

    evidence = Evidence.from_scenario(scenario)
    if evidence.z.size:
        k, year, node = evidence.indicator, evidence.year_index, evidence.node
        direction = np.array([i.direction for i in scenario.indicators.values()])[k]
        intercept, loading, noise = draws.intercept[:, k], draws.loading[:, k], draws.noise[:, k]
        support = transition_support(graph)
        for start in range(0, size, CHUNK):
            c = slice(start, min(start + CHUNK, size))
            part = Params(params.phi[c], params.sigma[c], params.beta[c])
            F, G = transition_matrices(part, graph)
            A, Q = F @ G, shock_covariance(G, part.sigma)  # as dynamics.state_dynamics
            d = history_from_drivers(graph, part, init_sd, eta[c, 0], eta[c, 1:].transpose(1, 0, 2))
            scale = direction * loading[c]
            simulated = (intercept[c] + scale * (draws.mu[c][:, node] + d[:, year, node])
                         + noise[c] * rng.standard_normal(scale.shape))
            s0 = np.broadcast_to(init_sd ** 2, (A.shape[0], n_nodes))
            w = scale * solve_evidence(A, s0, Q, scale, noise[c] ** 2, evidence.z - simulated, year, node, support)
            weight = np.zeros((A.shape[0], n_years, n_nodes))
            np.add.at(weight, (slice(None), year, node), w)
            eta[c] += drivers_adjoint(weight, A, G, part.sigma, init_sd)

    level = draws.mu[:, None, :] + history_from_drivers(graph, params, init_sd, eta[:, 0], eta[:, 1:].transpose(1, 0, 2))
    return posterior.assign(level=xr.DataArray(
        level.reshape(draws.chains, draws.draws, n_years, n_nodes), dims=("chain", "draw", "year", "node"),
        coords={"chain": posterior["chain"], "draw": posterior["draw"],
                "year": [int(y) for y in scenario.history_years], "node": scenario.node_ids}))
