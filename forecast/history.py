"""The latent history, restored after sampling a model that integrated it out.

When the model marginalises the history (:func:`forecast.model.marginalises`), NUTS samples
the parameters only. Given one draw of the parameters, the history's standard-normal
drivers ``eta`` and the standardised indicators ``z`` are jointly Gaussian
(``z = mean + J eta + noise``, :func:`forecast.dynamics.observation_jacobian`), so the
history can be drawn *exactly* from its conditional distribution by pathwise conditioning
(Matheron's rule): draw ``eta`` and the noise from their priors, simulate ``z``, and move
``eta`` by ``J^T S^{-1} (z_observed - z_simulated)`` with ``S = J J^T + diag(noise^2)``.
Paired with the parameters' draws this is a draw from the joint posterior, as if the
history had been sampled along with them, and it costs no extra MCMC.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from forecast.config import Scenario
from forecast.dynamics import Params, observation_jacobian
from forecast.model import Evidence, graph_of
from forecast.strategies import Draws, history_from_drivers

#: Draws conditioned per batch: bounds memory at about chunk x observations x years x nodes floats.
CHUNK = 256


def restore_history(scenario: Scenario, posterior: xr.Dataset, seed: int) -> xr.Dataset:
    """``posterior`` with ``level[chain, draw, year, node]`` drawn given each draw's parameters."""
    draws = Draws.from_posterior(posterior)
    size = draws.mu.shape[0]
    graph = graph_of(scenario)
    n_years, n_nodes = len(scenario.history_years), len(scenario.nodes)
    init_sd = np.array([n.initial_sd for n in scenario.nodes.values()])
    params = draws.params
    rng = np.random.default_rng([seed, 4])
    eta = rng.standard_normal((size, n_years * n_nodes))

    evidence = Evidence.from_scenario(scenario)
    if evidence.z.size:
        k = evidence.indicator
        direction = np.array([i.direction for i in scenario.indicators.values()])[k]
        intercept, loading, noise = draws.intercept[:, k], draws.loading[:, k], draws.noise[:, k]
        for start in range(0, size, CHUNK):
            c = slice(start, min(start + CHUNK, size))
            part = Params(params.phi[c], params.sigma[c], params.beta[c])
            J = observation_jacobian(part, graph, init_sd, evidence.year_index, evidence.node, n_years,
                                     np.concatenate)
            scale = direction * loading[c]
            J = scale[..., None] * J.reshape(J.shape[:2] + (-1,))
            simulated = (intercept[c] + scale * draws.mu[c][:, evidence.node] + (J @ eta[c][..., None])[..., 0]
                         + noise[c] * rng.standard_normal(scale.shape))
            S = J @ J.mT + noise[c][:, :, None] ** 2 * np.eye(evidence.z.size)
            eta[c] += (J.mT @ np.linalg.solve(S, (evidence.z - simulated)[..., None]))[..., 0]

    eta = eta.reshape(size, n_years, n_nodes)
    level = draws.mu[:, None, :] + history_from_drivers(scenario, params, eta[:, 0], eta[:, 1:].transpose(1, 0, 2))
    return posterior.assign(level=xr.DataArray(
        level.reshape(draws.chains, draws.draws, n_years, n_nodes), dims=("chain", "draw", "year", "node"),
        coords={"chain": posterior["chain"], "draw": posterior["draw"],
                "year": [int(y) for y in scenario.history_years], "node": scenario.node_ids}))
