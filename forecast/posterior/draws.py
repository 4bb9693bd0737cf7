"""The posterior as the forecasts take it: every draw's parameters and last history state,
flattened over chains and draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from forecast.model.dynamics import Params


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
