"""The run's random numbers: one named stream per use, all derived from its seed.

Each use draws from its own stream (``numpy.random.default_rng([seed, k])``), so that adding
draws to one (more strategies, more prior draws) never shifts another's numbers, and a run
with the same seed gives the same numbers whatever it was asked to compute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RandomStreams:
    """The streams of one seed, by what they drive."""

    seed: int

    def _stream(self, k: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, k])

    def prior(self) -> np.random.Generator:
        """Forward draws of the prior (:mod:`forecast.model.prior`)."""
        return self._stream(1)

    def future(self) -> np.random.Generator:
        """The forecast years' shocks, shared by every strategy (common random numbers)."""
        return self._stream(2)

    def replicated(self) -> np.random.Generator:
        """Measurement noise of the replicated history (the posterior predictive)."""
        return self._stream(3)

    def history(self) -> np.random.Generator:
        """The drivers of the history drawn after sampling (:mod:`forecast.posterior.history`)."""
        return self._stream(4)
