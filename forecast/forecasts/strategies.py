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

from dataclasses import dataclass

import numpy as np

from forecast.model.build import SHOCK_SCALE_CAP
from forecast.model.dynamics import draw_shock_scales, simulate
from forecast.posterior.draws import Draws
from forecast.progress import Advance, no_advance
from forecast.scenario.domain import Cap, LeverSetting, Node, Scenario, Strategy
from forecast.scenario.graph import graph_of
from forecast.streams import RandomStreams


@dataclass(frozen=True)
class FutureShocks:
    """The forecast years' randomness, drawn once per run from its seed and shared by every
    strategy (common random numbers): each node's transitory shocks and level shifts already
    scaled by their heavy-tailed variances (years, D, nodes), and the indicators' noise
    (years, D, indicators)."""

    eps: np.ndarray
    xi: np.ndarray
    indicator_noise: np.ndarray


def shocks(scenario: Scenario, n_draws: int, seed: int) -> FutureShocks:
    """The run's :class:`FutureShocks` for ``n_draws`` draws."""
    rng = RandomStreams(seed).future()
    h, n = len(scenario.forecast_years), len(scenario.nodes)
    eps, xi = rng.standard_normal((h, n_draws, n)), rng.standard_normal((h, n_draws, n))
    noise = rng.standard_normal((h, n_draws, len(scenario.indicators)))
    root = np.sqrt(draw_shock_scales(rng, (h, n_draws, 2 * n), scenario.shock_df, SHOCK_SCALE_CAP))
    return FutureShocks(root[..., :n] * eps, root[..., n:] * xi, noise)


def intervention(scenario: Scenario, strategy: Strategy, draws: Draws) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The do-operator's inputs: which nodes are held (0/1), and their target deviations from
    baseline in each forecast year, draw by draw (years, D, nodes)."""
    if not strategy.interventions:
        return None, None
    ids = scenario.node_ids
    held = np.zeros(len(ids))
    target = np.zeros((len(scenario.forecast_years),) + draws.mu.shape)
    for lever, setting in strategy.interventions.items():
        i = ids.index(lever)
        held[i] = 1.0
        target[:, :, i] = lever_path(scenario.nodes[lever], setting, draws.level[:, -1, i]) - draws.mu[None, :, i]
    return held, target


def lever_path(node: Node, setting: LeverSetting, last: np.ndarray) -> np.ndarray:
    """A lever's latent level in each forecast year under ``setting``, for each draw's last
    history level ``last`` (D,): (years, D). Relative settings move on the display scale (a move
    ``by`` index points stays within :data:`~forecast.scenario.domain.INDEX_BOUNDS`, and the
    setting's description says where it is capped: :meth:`LeverSetting.caps`), or in latent units."""
    if setting.kind == "values":
        latent = np.array([node.to_latent(v) for v in setting.values])
        return np.broadcast_to(latent[:, None], (latent.size, last.size)).copy()
    if setting.kind == "hold":
        return np.broadcast_to(last, (len(setting.steps), last.size)).copy()
    steps = np.asarray(setting.steps)[:, None]
    if setting.kind == "by_sd":
        return last[None, :] + setting.amount * steps
    return node.to_latent(setting.shown_path(node, node.to_display(last)))


def lever_caps(node: Node, setting: LeverSetting, last: np.ndarray, start_year: int) -> tuple[Cap, ...]:
    """Where :func:`lever_path` holds a lever at an index's bound instead of where ``setting``
    would take it, from each draw's last history level ``last`` (D,): the bound, the year it
    first binds and in what share of the draws (none when it never does)."""
    return setting.caps(node, node.to_display(np.asarray(last, dtype=float)), start_year)


def forecast_levels(scenario: Scenario, draws: Draws, seed: int, advance: Advance = no_advance,
                    future: FutureShocks | None = None) -> np.ndarray:
    """Latent levels for every strategy: (strategies, forecast years, D, nodes); ``advance(1)``
    after each strategy (a progress bar's). ``future``: the run's :func:`shocks` when already
    drawn (the sensitivity analyses forecast many times)."""
    graph = graph_of(scenario)
    future = future or shocks(scenario, draws.mu.shape[0], seed)
    last = draws.last_state()
    out = np.empty((len(scenario.strategies),) + future.eps.shape)
    for s, strategy in enumerate(scenario.strategies):
        held, target = intervention(scenario, strategy, draws)
        out[s] = draws.mu[None] + simulate(last, future.eps, future.xi, draws.params, graph, held, target)[0]
        advance(1)
    return out
