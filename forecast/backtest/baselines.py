"""Naive forecasts an indicator's model must beat: random walks of its transformed values.

Each takes the series observed before the forecast origin (years, values; gaps allowed) and
the year to forecast, and returns a predictive (:mod:`forecast.backtest.scores`). Each is the
same forecast on any affine rescaling of the values, so the backtest gives them the values it
scores on, standardised as of the origin (:mod:`forecast.backtest.evaluate`). Changes over
a gap of ``g`` years count as ``g`` yearly changes: their variance is ``g`` times a year's.

* :func:`random_walk`: ``Normal(last, s^2 h)``, ``s^2 = mean(change^2 / gap)`` (the random
  walk's maximum-likelihood variance), ``h`` the years since the last observation
  (Hyndman & Athanasopoulos, FPP3, 5.5: the naive method).
* :func:`random_walk_t`: the same centre and scale with a Student-t: the posterior
  predictive of a random walk whose variance is unknown under the Jeffreys prior
  ``p(s^2) ~ 1/s^2``, which is ``t_n(last, s^2 h)`` with ``n`` the number of past changes
  (Gelman et al., BDA3, 3.2). ``df`` is floored at 2, because the CRPS of a t needs
  ``df > 1`` (two points of the backtest have a single past change).
* :func:`random_walk_drift`: ``Normal(last + b h, s^2 (h + h^2 / span))`` with ``b`` the
  mean yearly change (first to last observation over their span of years) and ``s^2`` the
  variance of the yearly changes around it (``n - 1`` in the denominator; the random walk's
  when there is a single change; at least :data:`DRIFT_VARIANCE_FLOOR` of it), the second
  term the drift's estimation error (FPP3 5.5, ``sigma_h = sigma sqrt(h (1 + h / T))``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from forecast.backtest.scores import NormalMixture, StudentT


def yearly_changes(years: ArrayLike, values: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The gaps in years between consecutive observations, and the changes over them."""
    years, values = np.asarray(years), np.asarray(values, dtype=float)
    order = np.argsort(years)
    years, values = years[order], values[order]
    if years.size < 2:
        raise ValueError("a naive forecast needs at least two past observations")
    return np.diff(years).astype(float), np.diff(values)


def _rw_variance(gap: np.ndarray, change: np.ndarray) -> float:
    return float(np.mean(change ** 2 / gap))


#: The drift forecast's variance is at least this share of the random walk's: a past of equal
#: changes (an interpolated or rounded series) leaves no variance around its line, and a
#: predictive with none could not be scored (its density at any other value is 0). With a
#: single change the random walk's variance itself is taken.
DRIFT_VARIANCE_FLOOR = 0.01


def random_walk(years: ArrayLike, values: ArrayLike, target_year: int) -> NormalMixture:
    """No-change forecast with a normal spread of the past yearly changes."""
    gap, change = yearly_changes(years, values)
    h = target_year - int(np.max(years))
    last = float(np.asarray(values)[np.argmax(years)])
    return NormalMixture(np.array([last]), np.array([np.sqrt(_rw_variance(gap, change) * h)]))


def random_walk_t(years: ArrayLike, values: ArrayLike, target_year: int, min_df: float = 2.0) -> StudentT:
    """No-change forecast with a Student-t spread: ``df`` = number of past changes (>= ``min_df``)."""
    gap, change = yearly_changes(years, values)
    h = target_year - int(np.max(years))
    last = float(np.asarray(values)[np.argmax(years)])
    return StudentT(max(float(change.size), min_df), last, float(np.sqrt(_rw_variance(gap, change) * h)))


def random_walk_drift(years: ArrayLike, values: ArrayLike, target_year: int) -> NormalMixture:
    """Forecast continuing the mean past yearly change, with its estimation error."""
    gap, change = yearly_changes(years, values)
    span = float(gap.sum())
    drift = float(change.sum() / span)
    rw = _rw_variance(gap, change)
    s2 = float(np.sum((change - drift * gap) ** 2 / gap) / (change.size - 1)) if change.size >= 2 else rw
    s2 = max(s2, DRIFT_VARIANCE_FLOOR * rw)
    h = target_year - int(np.max(years))
    last = float(np.asarray(values)[np.argmax(years)])
    return NormalMixture(np.array([last + drift * h]), np.array([np.sqrt(s2 * (h + h * h / span))]))


BASELINES = {"rw_normal": random_walk, "rw_t": random_walk_t, "rw_drift": random_walk_drift}
