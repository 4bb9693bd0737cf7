"""The measurement equation in NumPy: indicators in their own units from latent levels, and
latent levels on each node's display scale."""

from __future__ import annotations

import numpy as np

from forecast.scenario.domain import Scenario


def measure(scenario: Scenario, intercept: np.ndarray, loading: np.ndarray, noise_sd: np.ndarray,
            level: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Indicators in their own units from latent levels (..., D, nodes) and standard-normal noise
    (..., D, indicators): the measurement model, noise included (posterior predictive), with
    each draw's ``intercept``, ``loading`` and ``noise_sd`` (D, indicators). The draw axis D is
    second to last in ``level`` and ``noise``."""
    ids = scenario.node_ids
    out = np.empty(noise.shape)
    for k, ind in enumerate(scenario.indicators.values()):
        x = level[..., ids.index(ind.node)]
        z = intercept[:, k] + ind.direction * loading[:, k] * x + noise_sd[:, k] * noise[..., k]
        out[..., k] = ind.to_units(z)
    return out


def to_display(scenario: Scenario, level: np.ndarray) -> np.ndarray:
    """Latent levels (..., nodes) on each node's display scale."""
    out = np.empty_like(level)
    for i, node in enumerate(scenario.nodes.values()):
        out[..., i] = node.to_display(level[..., i])
    return out
