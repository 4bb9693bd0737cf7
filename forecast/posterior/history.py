"""The latent history, restored after sampling a model that integrated it out.

When the history is integrated out (:func:`forecast.model.build.choose_history`), NUTS samples
the parameters only. Given one draw of the parameters, the history's standard-normal
drivers ``eta`` and the standardised indicators ``z`` are jointly Gaussian
(``z = mean + J eta + noise``, ``tests/reference.py``'s ``observation_jacobian``), so the
history can be drawn *exactly* from its conditional distribution by pathwise conditioning
(Matheron's rule): draw ``eta`` and the noise from their priors, simulate ``z``, and move
``eta`` by ``J^T S^{-1} (z_observed - z_simulated)`` with ``S = J J^T + diag(noise^2)``.
Paired with the parameters' draws this is a draw from the joint posterior, as if the
history had been sampled along with them, and it costs no extra MCMC. The drivers are the first
year's deviation, each node's drift, and every year's transitory shock and level shift, scaled
by the square root of that shock's variance multiplier: sampled with the parameters for the
nodes the evidence can see, drawn from their prior for the others.

Neither ``J`` nor ``S`` is formed: ``S^{-1} r`` comes from the model's Kalman filter
(:func:`forecast.compiled.kalman.solve_evidence`) and ``J^T`` is the history's recursion run
backwards (:func:`drivers_adjoint`), so a draw costs what one gradient of the model does,
linear in years.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from forecast.compiled.runtime import solve_evidence
from forecast.model.build import SHOCK_KINDS, SHOCK_SCALE_CAP, Evidence, kept_nodes
from forecast.model.dynamics import Params, draw_shock_scales, history_from_drivers, initial_variance, state_space
from forecast.posterior.draws import Draws
from forecast.scenario.domain import Scenario
from forecast.scenario.graph import graph_of, same_year_reach, transition_support
from forecast.streams import RandomStreams

#: Bounds the memory of conditioning: draws per batch times the state space's size.
BATCH_FLOATS = 2_000_000


def drivers_adjoint(weight: np.ndarray, A: np.ndarray, V: np.ndarray, root: np.ndarray, initial_sd: np.ndarray,
                    drift_sd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``J^T`` applied to ``weight[..., year, state]`` (a weight on each state of each year): the
    history ``x[0] = [initial_sd eta_d, 0, drift_sd eta_g]``, ``x[t] = x[t-1] A + (root[t] e[t]) V``
    run backwards, ``lam[t] = weight[t] + lam[t+1] A^T``. Returns the gradients of the first
    year's deviation drivers, of the drifts' (..., nodes) and of each year's shocks
    (..., years - 1, 2 x nodes)."""
    n = initial_sd.shape[-1]
    lam = np.zeros_like(weight[..., 0, :])
    shocks = np.empty(weight.shape[:-2] + (weight.shape[-2] - 1, V.shape[-2]))
    for t in range(weight.shape[-2] - 1, -1, -1):
        lam = weight[..., t, :] + (lam[..., None, :] @ A.mT)[..., 0, :]
        if t:
            shocks[..., t - 1, :] = root[..., t - 1, :] * (lam[..., None, :] @ V.mT)[..., 0, :]
    return initial_sd * lam[..., :n], drift_sd * lam[..., 2 * n:], shocks


def shock_scales(scenario: Scenario, posterior: xr.Dataset, rng: np.random.Generator,
                 informed_until: int | None = None) -> np.ndarray:
    """Every node's shock scales in every year after the first, (D, years - 1, 2 x nodes):
    the sampled ones of the nodes the evidence can see, in the years up to ``informed_until``
    (the last with evidence in use; by default the scenario's last with data), and exact prior
    draws for the others: no data meets a later year's, so its posterior is its prior, which
    an exact draw gives better than a sampler's slowly mixing one (a backtest's held-back years)."""
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    n, n_years = len(scenario.nodes), len(scenario.history_years)
    out = draw_shock_scales(rng, (chains * draws, n_years - 1, 2 * n), scenario.shock_df, SHOCK_SCALE_CAP)
    if "_shock_scale" in posterior:
        kept = kept_nodes(scenario)
        sampled = posterior["_shock_scale"].values.reshape(chains * draws, n_years - 1, 2 * kept.size)
        until = scenario.last_evidence_year if informed_until is None else informed_until
        informed = np.asarray(scenario.history_years[1:]) <= (until if until is not None else scenario.start_year)
        columns = np.concatenate([kept, kept + n])
        block = out[:, :, columns]
        block[:, informed] = sampled[:, informed]
        out[:, :, columns] = block
    return out


def restore_history(scenario: Scenario, posterior: xr.Dataset, seed: int) -> xr.Dataset:
    """``posterior`` with the history drawn given each draw's parameters and shock scales:
    ``level[chain, draw, year, node]`` (baseline plus deviation), ``trend`` (the moving level),
    ``drift[chain, draw, node]`` and ``shock_scale[chain, draw, shock_year, node, shock]``."""
    draws = Draws.from_posterior(posterior)
    size = draws.mu.shape[0]
    graph = graph_of(scenario)
    n_years, n = len(scenario.history_years), len(scenario.nodes)
    init_sd, drift_sd = scenario.initial_sd, scenario.drift_sd
    params = draws.params
    rng = RandomStreams(seed).history()
    lam = shock_scales(scenario, posterior, rng)
    root = np.sqrt(lam)
    first, drift = rng.standard_normal((size, n)), rng.standard_normal((size, n))
    eps, xi = rng.standard_normal((n_years - 1, size, n)), rng.standard_normal((n_years - 1, size, n))

    def history(c: slice, part: Params):
        return history_from_drivers(graph, part, init_sd, drift_sd, first[c], drift[c], eps[:, c], xi[:, c],
                                    lam[c].transpose(1, 0, 2))

    evidence = Evidence.from_scenario(scenario)
    if evidence.z.size:
        k, year, node = evidence.indicator, evidence.year_index, evidence.node
        direction = np.array([i.direction for i in scenario.indicators.values()])[k]
        intercept, loading, noise = draws.intercept[:, k], draws.loading[:, k], draws.noise[:, k]
        transition, reach = transition_support(graph), same_year_reach(graph)
        s0 = initial_variance(init_sd, drift_sd)
        batch = max(1, int(BATCH_FLOATS // (9 * n * n + n_years * 3 * n)))
        for start in range(0, size, batch):
            c = slice(start, min(start + batch, size))
            part = Params(params.phi[c], params.sigma[c], params.omega[c], params.beta[c])
            A, V = state_space(part, graph)
            d, _, _ = history(c, part)
            scale = direction * loading[c]
            simulated = (intercept[c] + scale * (draws.mu[c][:, node] + d[:, year, node])
                         + noise[c] * rng.standard_normal(scale.shape))
            solved, _ = solve_evidence(A, np.broadcast_to(s0, (A.shape[0], s0.size)), V, lam[c], scale, noise[c] ** 2,
                                       evidence.z - simulated, year, node, transition, reach)
            weight = np.zeros((A.shape[0], n_years, 3 * n))
            np.add.at(weight, (slice(None), year, node), scale * solved)
            g_first, g_drift, g_shocks = drivers_adjoint(weight, A, V, root[c], init_sd, drift_sd)
            first[c] += g_first
            drift[c] += g_drift
            eps[:, c] += g_shocks[..., :n].transpose(1, 0, 2)
            xi[:, c] += g_shocks[..., n:].transpose(1, 0, 2)

    d, m, g = history(slice(None), params)
    years = [int(y) for y in scenario.history_years]
    base = {"chain": posterior["chain"], "draw": posterior["draw"]}
    shape = (draws.chains, draws.draws)
    return posterior.assign(
        level=xr.DataArray((draws.mu[:, None, :] + d).reshape(shape + (n_years, n)),
                           dims=("chain", "draw", "year", "node"), coords={**base, "year": years,
                                                                           "node": scenario.node_ids}),
        trend=xr.DataArray(m.reshape(shape + (n_years, n)), dims=("chain", "draw", "year", "node"),
                           coords={**base, "year": years, "node": scenario.node_ids}),
        drift=xr.DataArray(g.reshape(shape + (n,)), dims=("chain", "draw", "node"),
                           coords={**base, "node": scenario.node_ids}),
        shock_scale=xr.DataArray(lam.reshape(shape + (n_years - 1, 2, n)).transpose(0, 1, 2, 4, 3),
                                 dims=("chain", "draw", "shock_year", "node", "shock"),
                                 coords={**base, "shock_year": years[1:], "node": scenario.node_ids,
                                         "shock": list(SHOCK_KINDS)}))
