"""Every strategy forecast from a run's prior draws: the answers before any evidence.

The forecasts are a vectorised simulation from each draw's last history state
(:mod:`forecast.forecasts.strategies`), so the prior's answers cost one simulation, not a new
fit. From the posterior draws the same simulation gives the run's own answers, draw for draw
(the same equations and random streams); the analyses read those from the results tree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from forecast.forecasts.strategies import FutureShocks, forecast_levels, shocks
from forecast.model.measurement import measure, to_display
from forecast.posterior.draws import Draws
from forecast.scenario.domain import Question, Scenario


@dataclass
class Reforecaster:
    """The draws of a run (posterior or prior), ready to be forecast again. From the posterior,
    the answers are the run's own, draw for draw: the same equations and the same random
    streams (:class:`forecast.streams.RandomStreams`)."""

    scenario: Scenario
    draws: Draws
    past: np.ndarray  # (D, history years, nodes): each draw's history on the display scale
    seed: int
    future: FutureShocks  # the future's shocks and the indicators' noise, as the run's forecasts draw them

    @classmethod
    def of(cls, scenario: Scenario, posterior: xr.Dataset, seed: int) -> "Reforecaster":
        draws = Draws.from_posterior(posterior)
        return cls(scenario, draws, to_display(scenario, draws.level), seed, shocks(scenario, draws.mu.shape[0], seed))

    def outcomes(self, questions: tuple[Question, ...]) -> np.ndarray:
        """0/1 answers, (questions, strategies, draws)."""
        draws = self.draws
        levels = forecast_levels(self.scenario, draws, self.seed, future=self.future)  # (S, H, D, N)
        future_nodes = _display_of(self.scenario, levels, {q.subject for q in questions if q.subject_kind == "node"})
        future_ind = None
        if any(q.subject_kind == "indicator" for q in questions):
            noise = self.future.indicator_noise
            future_ind = measure(self.scenario, draws.intercept, draws.loading, draws.noise, levels,
                                 np.broadcast_to(noise, levels.shape[:3] + noise.shape[2:]))
        return np.stack([question_outcomes(self.scenario, q, self.past, future_nodes, future_ind)
                         for q in questions])


def _display_of(scenario: Scenario, levels: np.ndarray, nodes: set[str]) -> np.ndarray:
    """The display values of ``nodes`` only (the others stay latent: no question reads them)."""
    out = levels.copy()
    for i, (nid, node) in enumerate(scenario.nodes.items()):
        if nid in nodes:
            out[..., i] = node.to_display(levels[..., i])
    return out


def question_outcomes(scenario: Scenario, question: Question, past: np.ndarray, future_nodes: np.ndarray,
                      future_indicators: np.ndarray | None) -> np.ndarray:
    """A question's 0/1 answer per strategy and draw, (strategies, draws), from the history on
    the display scale ``past`` (D, history years, nodes) and the forecasts ``future_nodes``
    (S, forecast years, D, nodes) and ``future_indicators`` (S, forecast years, D, indicators),
    as :func:`forecast.forecasts.questions.outcome` reads them from a results tree."""
    start = scenario.start_year
    n_strategies = future_nodes.shape[0]

    def value(year: int) -> np.ndarray:  # (S, D)
        if question.subject_kind == "node":
            i = scenario.node_ids.index(question.subject)
            if year < start:
                return np.broadcast_to(past[:, year - scenario.history_start, i], (n_strategies, past.shape[0]))
            return future_nodes[:, year - start, :, i]
        k = list(scenario.indicators).index(question.subject)
        if year < start:
            ind = scenario.indicators[question.subject]
            observed = dict(zip(ind.years.tolist(), ind.values.tolist()))
            return np.full((n_strategies, future_nodes.shape[2]), observed.get(year, np.nan))
        return future_indicators[:, year - start, :, k]

    ref = question.threshold if question.threshold is not None else value(question.reference_year) + question.change
    now = value(question.year)
    hit = now < ref if question.comparison == "below" else now > ref
    return hit.astype(float)
