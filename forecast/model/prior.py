"""Draws from the model's prior, without MCMC: exact forward simulation of the parameters
(SciPy) and of the history (the equations of :mod:`forecast.model.dynamics`).

The results keep them as the ``prior`` group, next to the posterior; a test checks that NUTS
on a model without indicators reproduces them.
"""

from __future__ import annotations

import numpy as np

from forecast.model.build import SHOCK_SCALE_CAP
from forecast.model.dynamics import Params, draw_shock_scales, history_from_drivers
from forecast.scenario.domain import Scenario
from forecast.scenario.graph import graph_of
from forecast.scenario.priors import Distribution
from forecast.streams import RandomStreams


def _rvs(dist: Distribution, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.asarray(dist.scipy().rvs(n, random_state=rng), dtype=float)


def prior_draws(scenario: Scenario, n: int, seed: int) -> dict[str, np.ndarray]:
    """Draws from the prior of every parameter and of the history, by forward simulation.

    Uses the same equations as the model (:func:`forecast.model.dynamics.step`); a test
    checks that NUTS on a model without indicators reproduces this distribution.
    """
    rng = RandomStreams(seed).prior()
    nodes = list(scenario.nodes.values())
    col = lambda dists: np.stack([_rvs(d, n, rng) for d in dists], axis=-1) if dists else np.zeros((n, 0))  # noqa: E731
    out = {
        "baseline": col([v.baseline for v in nodes]),
        "persistence": col([v.persistence for v in nodes]),
        "volatility": col([v.volatility for v in nodes]),
        "shift": col([v.shift for v in nodes]),
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
    params = Params(out["persistence"], out["volatility"], out["shift"], beta)
    d, out["trend"], out["drift"] = simulate_history(scenario, params, n, rng)
    out["level"] = out["baseline"][:, None, :] + d
    return out


def simulate_history(scenario: Scenario, params: Params, n: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The history by stepping the equations year by year from prior draws of its drivers and
    shock scales: deviations and moving levels (D, years, nodes), drifts (D, nodes)."""
    n_years, n_nodes = len(scenario.history_years), len(scenario.nodes)
    first, drift = rng.standard_normal((n, n_nodes)), rng.standard_normal((n, n_nodes))
    eps, xi = rng.standard_normal((n_years - 1, n, n_nodes)), rng.standard_normal((n_years - 1, n, n_nodes))
    scale = draw_shock_scales(rng, (n_years - 1, n, 2 * n_nodes), scenario.shock_df, SHOCK_SCALE_CAP)
    return history_from_drivers(graph_of(scenario), params, scenario.initial_sd, scenario.drift_sd, first, drift,
                                eps, xi, scale)
