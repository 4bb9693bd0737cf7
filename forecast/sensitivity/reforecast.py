"""Every strategy forecast again from the posterior draws, with chosen claims' effects fixed.

The sensitivity analyses ask "what would the answers be if this claim's effect were x?". The
forecasts are a vectorised simulation from each posterior draw's last history state
(:mod:`forecast.forecasts.strategies`), so answering that costs one simulation, not a new
posterior: the effect is fixed in every draw, the rest of each draw is as the posterior has
it, and the future shocks are the run's own (common random numbers), so an answer moves only
because the effect did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import xarray as xr

from forecast.forecasts.strategies import FutureShocks, forecast_levels, shocks
from forecast.model.dynamics import Params
from forecast.model.measurement import measure, to_display
from forecast.posterior.draws import Draws
from forecast.scenario.domain import Question, Scenario


@dataclass
class Reforecaster:
    """The posterior draws of a run, ready to be forecast again (at most ``draws`` of them,
    evenly spaced, for scans that need many forecasts). With every draw and no effect fixed,
    the answers are the run's own, draw for draw: the same equations and the same random
    streams (:class:`forecast.streams.RandomStreams`)."""

    scenario: Scenario
    draws: Draws
    past: np.ndarray  # (D, history years, nodes): each draw's history on the display scale
    seed: int
    future: FutureShocks  # the future's shocks and the indicators' noise, as the run's forecasts draw them

    @classmethod
    def of(cls, scenario: Scenario, posterior: xr.Dataset, seed: int, draws: int | None = None) -> "Reforecaster":
        full = Draws.from_posterior(posterior)
        total = full.mu.shape[0]
        index = np.arange(total) if draws is None or draws >= total else np.unique(
            np.linspace(0, total - 1, draws).round().astype(int))
        picked = _take(full, index)
        return cls(scenario, picked, to_display(scenario, picked.level), seed, shocks(scenario, index.size, seed))

    def outcomes(self, questions: tuple[Question, ...], effects: dict[int, float] | None = None) -> np.ndarray:
        """0/1 answers, (questions, strategies, draws), with each claim ``j`` of ``effects``
        fixed at its value in every draw."""
        draws = self.draws
        if effects:
            beta = draws.params.beta.copy()
            for j, value in effects.items():
                beta[:, j] = value
            draws = replace(draws, params=replace(draws.params, beta=beta))
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


def _take(draws: Draws, index: np.ndarray) -> Draws:
    p = draws.params
    return replace(draws, chains=1, draws=index.size, mu=draws.mu[index],
                   params=Params(p.phi[index], p.sigma[index], p.omega[index], p.beta[index]),
                   level=draws.level[index], trend=draws.trend[index], drift=draws.drift[index],
                   intercept=draws.intercept[index], loading=draws.loading[index], noise=draws.noise[index])


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
