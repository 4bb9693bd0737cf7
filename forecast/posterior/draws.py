"""The posterior as the forecasts take it: every draw's parameters and history, flattened over
chains and draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from forecast.model.dynamics import Params, State


@dataclass
class Draws:
    """Parameters and history, flattened over (chain, draw)."""

    chains: int
    draws: int
    mu: np.ndarray  # (D, nodes)
    params: Params  # phi, sigma, omega (D, nodes); beta (D, claims)
    level: np.ndarray  # (D, history years, nodes): mu + d
    trend: np.ndarray  # (D, history years, nodes): the moving level m
    drift: np.ndarray  # (D, nodes)
    intercept: np.ndarray  # (D, indicators)
    loading: np.ndarray
    noise: np.ndarray

    @classmethod
    def from_posterior(cls, post: xr.Dataset) -> "Draws":
        chains, draws = post.sizes["chain"], post.sizes["draw"]

        def flat(name: str, like: str | None = None) -> np.ndarray:
            if name not in post:
                if like is not None and like in post:  # a history without its parts: no level shifts
                    return np.zeros((chains * draws,) + post[like].shape[2:])
                return np.zeros((chains * draws, 0))
            arr = post[name].values
            return arr.reshape((chains * draws,) + arr.shape[2:])

        return cls(
            chains=chains, draws=draws, mu=flat("baseline"),
            params=Params(phi=flat("persistence"), sigma=flat("volatility"), omega=flat("shift", "volatility"),
                          beta=flat("effect")),
            level=flat("level"), trend=flat("trend", "level"), drift=flat("drift", "baseline"),
            intercept=flat("intercept"), loading=flat("loading"), noise=flat("noise"),
        )

    def last_state(self) -> State:
        """Each draw's state in the last history year: deviation, moving level, drift."""
        return State(self.level[:, -1, :] - self.mu, self.trend[:, -1, :], self.drift)
