"""The run's random numbers: one named stream per use, all derived from its seed.

Each use draws from its own stream (``numpy.random.default_rng([seed, k])``), so that adding
draws to one (more strategies, more prior draws) never shifts another's numbers, and a run
with the same seed gives the same numbers whatever it was asked to compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Key(IntEnum):
    """What each stream or derived seed is for: the second entry of its seed sequence. Every
    random number of a run, a backtest, a sweep or a calibration comes from its seed through
    one of these, so no two uses share numbers."""

    PRIOR = 1
    FUTURE = 2
    REPLICATED = 3
    HISTORY = 4
    HYPOTHESIS_FIT = 7919  # each combination's fit and the reference fit (posterior.hypotheses)
    MIXTURE = 10_000  # which fit's draws make up the mixture posterior (posterior.hypotheses)
    CALIBRATION_PLAN = 8191  # each simulation's seed, and its draw from the prior (calibration.sbc)
    CALIBRATION_FIT = 15485863  # each simulation's fit
    CALIBRATION_TIES = 104723  # where a hypothesis's rank falls within its weight
    BACKTEST_ORIGIN = 104729  # each origin's fit (backtest.hindcast)


def derived_seed(seed: int, *keys: int) -> int:
    """A seed of its own for one of several related uses (a fit per hypothesis, per origin, per
    simulation), derived from ``seed`` and ``keys`` (a :class:`Key` first)."""
    return int(np.random.SeedSequence([int(seed), *map(int, keys)]).generate_state(1)[0])


@dataclass(frozen=True)
class RandomStreams:
    """The streams of one seed, by what they drive."""

    seed: int

    def _stream(self, k: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(k)])

    def mixture(self) -> np.random.Generator:
        """Which conditional fit's draws make up the mixture posterior of competing hypotheses."""
        return self._stream(Key.MIXTURE)

    def calibration_plan(self) -> np.random.Generator:
        """A calibration simulation's draw of every parameter from the prior."""
        return self._stream(Key.CALIBRATION_PLAN)

    def calibration_ties(self) -> np.random.Generator:
        """Where a hypothesis's rank falls within its weight (a randomised rank)."""
        return self._stream(Key.CALIBRATION_TIES)

    def prior(self) -> np.random.Generator:
        """Forward draws of the prior (:mod:`forecast.model.prior`)."""
        return self._stream(Key.PRIOR)

    def future(self) -> np.random.Generator:
        """The forecast years' shocks, shared by every strategy (common random numbers)."""
        return self._stream(Key.FUTURE)

    def replicated(self) -> np.random.Generator:
        """Measurement noise of the replicated history (the posterior predictive)."""
        return self._stream(Key.REPLICATED)

    def history(self) -> np.random.Generator:
        """The drivers of the history drawn after sampling (:mod:`forecast.posterior.history`)."""
        return self._stream(Key.HISTORY)
