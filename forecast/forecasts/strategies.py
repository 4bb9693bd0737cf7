"""Counterfactual forecasts: every strategy from one posterior, with common random numbers.

Evidence conditions the parameters and the history once. Each strategy then replaces the
equations of the levers it sets from the start year on (the do-operator: the lever's row
keeps only its set value, see :func:`forecast.model.dynamics.step`) and the equations run forward
from each posterior draw's last history state. Nothing is rebuilt or recompiled per
strategy: the simulation is vectorised NumPy over draws.

Every strategy sees the same future shocks (drawn once from the run's seed), so differences
between strategies come from the policy alone: contrasts are paired, draw for draw, and a
node that does not descend from a strategy's levers has exactly the same forecast under it
as under any other strategy.
"""

from __future__ import annotations

import numpy as np

from forecast.model.dynamics import simulate
from forecast.posterior.draws import Draws
from forecast.progress import Advance, no_advance
from forecast.scenario.domain import Scenario, Strategy
from forecast.scenario.graph import graph_of
from forecast.streams import RandomStreams


def shocks(scenario: Scenario, n_draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Future shocks to the nodes (years, D, nodes) and to the indicators (years, D, indicators).

    Drawn once per run from its seed and shared by all strategies (common random numbers).
    """
    rng = RandomStreams(seed).future()
    h = len(scenario.forecast_years)
    return (rng.standard_normal((h, n_draws, len(scenario.nodes))),
            rng.standard_normal((h, n_draws, len(scenario.indicators))))


def intervention(scenario: Scenario, strategy: Strategy, mu: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
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
