"""Counterfactual forecasts: every strategy from one posterior, with common random numbers.

Evidence conditions the parameters and the history once. Each strategy then replaces the
equations of the levers it sets from the start year on (the do-operator: the lever's row
keeps only its set value, see :func:`forecast.dynamics.step`) and the equations run forward
from each posterior draw's last history state. Nothing is rebuilt or recompiled per
strategy: the simulation is vectorised NumPy over draws.

Every strategy sees the same future shocks (drawn once from the run's seed), so differences
between strategies come from the policy alone: contrasts are paired, draw for draw, and a
node that does not descend from a strategy's levers has exactly the same forecast under it
as under any other strategy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from forecast.config import Scenario
from forecast.dynamics import Graph, Params, simulate
from forecast.model import graph_of
from forecast.priors import Distribution
from forecast.progress import Advance, no_advance


@dataclass
class Draws:
    """Parameters and last history state, flattened over (chain, draw)."""

    chains: int
    draws: int
    mu: np.ndarray  # (D, nodes)
    params: Params  # phi, sigma (D, nodes); beta (D, claims)
    level: np.ndarray  # (D, history years, nodes)
    intercept: np.ndarray  # (D, indicators)
    loading: np.ndarray
    noise: np.ndarray

    @classmethod
    def from_posterior(cls, post: xr.Dataset) -> "Draws":
        chains, draws = post.sizes["chain"], post.sizes["draw"]

        def flat(name: str) -> np.ndarray:
            if name not in post:
                return np.zeros((chains * draws, 0))
            arr = post[name].values
            return arr.reshape((chains * draws,) + arr.shape[2:])

        return cls(
            chains=chains, draws=draws, mu=flat("baseline"),
            params=Params(phi=flat("persistence"), sigma=flat("volatility"), beta=flat("effect")),
            level=flat("level"), intercept=flat("intercept"), loading=flat("loading"), noise=flat("noise"),
        )


def shocks(scenario: Scenario, n_draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Future shocks to the nodes (years, D, nodes) and to the indicators (years, D, indicators).

    Drawn once per run from its seed and shared by all strategies (common random numbers).
    """
    rng = np.random.default_rng([seed, 2])
    h = len(scenario.forecast_years)
    return (rng.standard_normal((h, n_draws, len(scenario.nodes))),
            rng.standard_normal((h, n_draws, len(scenario.indicators))))


def intervention(scenario: Scenario, strategy, mu: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The do-operator's inputs: which nodes are held (0/1) and their target deviations."""
    if not strategy.interventions:
        return None, None
    ids = scenario.node_ids
    held = np.zeros(len(ids))
    target = np.zeros((len(scenario.forecast_years),) + mu.shape)
    for lever, values in strategy.interventions.items():
        i = ids.index(lever)
        held[i] = 1.0
        latent = np.array([scenario.nodes[lever].to_latent(v) for v in values])
        target[:, :, i] = latent[:, None] - mu[None, :, i]
    return held, target


def forecast_levels(scenario: Scenario, draws: Draws, seed: int, advance: Advance = no_advance) -> np.ndarray:
    """Latent levels for every strategy: (strategies, forecast years, D, nodes); ``advance(1)``
    after each strategy (a progress bar's)."""
    graph = graph_of(scenario)
    node_shocks, _ = shocks(scenario, draws.mu.shape[0], seed)
    d_last = draws.level[:, -1, :] - draws.mu
    out = np.empty((len(scenario.strategies),) + node_shocks.shape)
    for s, strategy in enumerate(scenario.strategies):
        held, target = intervention(scenario, strategy, draws.mu)
        out[s] = draws.mu[None] + simulate(d_last, node_shocks, draws.params, graph, held, target)
        advance(1)
    return out


def measure(scenario: Scenario, draws: Draws, level: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Indicators in their own units from latent levels (..., D, nodes) and standard-normal noise
    (..., D, indicators): the measurement model, noise included (posterior predictive).
    The draw axis D is second to last in both."""
    ids = scenario.node_ids
    out = np.empty(noise.shape)
    for k, ind in enumerate(scenario.indicators.values()):
        x = level[..., ids.index(ind.node)]
        z = draws.intercept[:, k] + ind.direction * draws.loading[:, k] * x + draws.noise[:, k] * noise[..., k]
        out[..., k] = ind.to_units(z)
    return out


def to_display(scenario: Scenario, level: np.ndarray) -> np.ndarray:
    """Latent levels (..., nodes) on each node's display scale."""
    out = np.empty_like(level)
    for i, node in enumerate(scenario.nodes.values()):
        out[..., i] = node.to_display(level[..., i])
    return out


# --- Prior draws, without MCMC (exact forward sampling) ------------------------------------


def _rvs(dist: Distribution, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(dist.scipy().rvs(n, random_state=rng), dtype=float)


def prior_draws(scenario: Scenario, n: int, seed: int) -> dict[str, np.ndarray]:
    """Draws from the prior of every parameter and of the history, by forward simulation.

    Uses the same equations as the model (:func:`forecast.dynamics.step`); a test checks
    that NUTS on a model without indicators reproduces this distribution.
    """
    rng = np.random.default_rng([seed, 1])
    nodes = list(scenario.nodes.values())
    col = lambda dists: np.stack([_rvs(d, n, rng) for d in dists], axis=-1) if dists else np.zeros((n, 0))  # noqa: E731
    out = {
        "baseline": col([v.baseline for v in nodes]),
        "persistence": col([v.persistence for v in nodes]),
        "volatility": col([v.volatility for v in nodes]),
    }
    beta = np.zeros((n, len(scenario.claims)))
    for j, c in enumerate(scenario.claims):
        if c.hypotheses:
            pick = rng.choice(len(c.hypotheses), size=n, p=[h.weight for h in c.hypotheses])
            comps = np.stack([_rvs(h.prior, n, rng) for h in c.hypotheses], axis=-1)
            beta[:, j] = comps[np.arange(n), pick]
        else:
            beta[:, j] = _rvs(c.prior, n, rng)
    out["effect"] = beta
    inds = list(scenario.indicators.values())
    if inds:
        anchor = np.array([i.anchor for i in inds])
        out["intercept"] = np.where(anchor, 0.0, col([i.intercept for i in inds]))
        out["loading"] = np.where(anchor, 1.0, col([i.loading for i in inds]))
        out["noise"] = col([i.noise for i in inds])
    params = Params(out["persistence"], out["volatility"], beta)
    out["level"] = out["baseline"][:, None, :] + simulate_history(scenario, params, n, rng)
    return out


def simulate_history(scenario: Scenario, params: Params, n: int, rng: np.random.Generator) -> np.ndarray:
    """History deviations (D, years, nodes) by stepping the equations year by year."""
    n_years, n_nodes = len(scenario.history_years), len(scenario.nodes)
    return history_from_drivers(scenario, params, rng.standard_normal((n, n_nodes)),
                                rng.standard_normal((n_years - 1, n, n_nodes)))


def history_from_drivers(scenario: Scenario, params: Params, first: np.ndarray, shocks: np.ndarray) -> np.ndarray:
    """History deviations (D, years, nodes) from standard-normal drivers: ``first`` (D, nodes)
    scaled by each node's initial spread, then the equations stepped with ``shocks``
    (years - 1, D, nodes)."""
    graph: Graph = graph_of(scenario)
    d0 = np.array([v.initial_sd for v in scenario.nodes.values()]) * first
    rest = simulate(d0, shocks, params, graph)
    return np.concatenate([d0[None], rest]).transpose(1, 0, 2)
