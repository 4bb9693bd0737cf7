"""How good a probability was, once the answer is known: the Brier score, the log score,
and the reliability table over many scored forecasts.

Both scores are losses (lower is better, 0 is a certain forecast that came true):

* the Brier score ``(p - o)^2``, with ``o`` 1 for yes and 0 for no, between 0 and 1;
  always saying 0.5 scores 0.25;
* the log score ``-ln q``, with ``q`` the probability the forecast gave to what happened
  (``p`` for yes, ``1 - p`` for no), in nats; always saying 0.5 scores ln 2 = 0.693.

A probability estimated from N draws can be exactly 0 or 1, and its log score would then be
infinite for a single surprise. The log score therefore takes the probability bounded to
[0.5/N, 1 - 0.5/N]: half a draw, the resolution of the estimate. The Brier score, finite
everywhere, takes the probability as it is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: The reliability table is shown once the ledger holds this many scored forecasts: with
#: fewer, most bins hold one forecast or none and the observed frequencies say nothing.
RELIABILITY_MIN = 10

#: Bins of the forecast probability in the reliability table: [0, 0.1), [0.1, 0.2), ..., [0.9, 1].
RELIABILITY_BINS = 10


def brier(probability: float, outcome: bool) -> float:
    """``(p - o)^2``: the squared distance between the forecast and what happened."""
    return (probability - float(outcome)) ** 2


def bounded(probability: float, draws: int) -> float:
    """``probability`` kept within [0.5/draws, 1 - 0.5/draws]: an estimate from ``draws``
    draws cannot tell 0 from less than half a draw."""
    if draws < 1:
        raise ValueError(f"draws must be at least 1, not {draws}")
    floor = 0.5 / draws
    return min(max(probability, floor), 1.0 - floor)


def log_score(probability: float, outcome: bool, draws: int) -> float:
    """``-ln q``, with ``q`` the (bounded) probability the forecast gave to what happened."""
    p = bounded(probability, draws)
    return -math.log(p if outcome else 1.0 - p)


@dataclass(frozen=True)
class Bin:
    """One bin of the reliability table: forecasts with ``low <= p < high`` (the last bin
    includes 1) and how often their questions resolved yes."""

    low: float
    high: float
    count: int
    mean_forecast: float | None  # None when the bin is empty
    observed_frequency: float | None


@dataclass(frozen=True)
class Reliability:
    """Scored forecasts binned by their probability: a calibrated forecaster's 0.7s come
    true about 70% of the time. With the mean scores over every forecast."""

    bins: tuple[Bin, ...]
    count: int
    brier: float
    log_score: float


def bin_index(probability: float, bins: int = RELIABILITY_BINS) -> int:
    """Which bin a probability falls in. A probability on a boundary (0.3) belongs to the bin
    it opens ([0.3, 0.4)), also when floating point puts it a hair below; 1 is in the last."""
    return min(math.floor(probability * bins + 1e-9), bins - 1)


def reliability(probabilities: Sequence[float], outcomes: Sequence[bool], log_scores: Sequence[float],
                *, bins: int = RELIABILITY_BINS) -> Reliability:
    """The reliability table of scored forecasts (every bin, empty ones included), with the
    mean Brier and log scores. ``log_scores`` are those recorded (each bounded by its own
    run's number of draws)."""
    if not len(probabilities) == len(outcomes) == len(log_scores):
        raise ValueError("one outcome and one log score per probability")
    if not probabilities:
        raise ValueError("no scored forecasts")
    members: list[list[int]] = [[] for _ in range(bins)]
    for i, p in enumerate(probabilities):
        members[bin_index(p, bins)].append(i)
    table = []
    for k, idx in enumerate(members):
        n = len(idx)
        table.append(Bin(low=k / bins, high=(k + 1) / bins, count=n,
                         mean_forecast=sum(probabilities[i] for i in idx) / n if n else None,
                         observed_frequency=sum(bool(outcomes[i]) for i in idx) / n if n else None))
    n = len(probabilities)
    return Reliability(bins=tuple(table), count=n,
                       brier=sum(brier(p, o) for p, o in zip(probabilities, outcomes)) / n,
                       log_score=sum(log_scores) / n)
