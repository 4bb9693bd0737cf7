"""Exploring a scenario's posterior: one fit, or one per combination of competing hypotheses.

A scenario without competing hypotheses is sampled once. With them, sampling the mixture
prior as such would leave each chain in the mode it starts in, so each combination of
hypotheses is fitted on its own and weighed by its evidence
(:mod:`forecast.posterior.hypotheses`); the forecasts then draw from each fit in proportion
to its weight. Either way the run gets one posterior sample and one verdict on the sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

from forecast.posterior.diagnostics import PARAMETERS, Diagnostics, diagnose
from forecast.posterior.hypotheses import Weighing, weigh_hypotheses
from forecast.posterior.sampling import CompiledModel
from forecast.progress import StageProgress
from forecast.scenario import Scenario
from forecast.settings import SamplerSettings


@dataclass
class Explored:
    """The posterior sample a run analyses, and what the sampling cost and how it went."""

    tree: object  # xarray.DataTree: posterior, sample_stats
    diagnostics: Diagnostics
    sampling_seconds: float
    weighing: Weighing | None = None  # competing hypotheses: their fits and weights


def explore(scenario: Scenario, compiled: CompiledModel, settings: SamplerSettings,
            progress: StageProgress | None = None, *, budget: float | None = None,
            informed_until: int | None = None) -> Explored:
    """Sample ``scenario``'s posterior with the compiled model (``settings`` as run; competing
    hypotheses' fits each as long as a run, or sharing ``budget`` runs' iterations:
    :func:`forecast.posterior.hypotheses.plan`). The diagnostics judge the shock scales of the
    years up to ``informed_until``, the last with evidence in use (by default the scenario's
    last with data; a backtest's origin holds later years back)."""
    informed_until = scenario.last_evidence_year if informed_until is None else informed_until
    if any(c.hypotheses for c in scenario.claims):
        weighing = weigh_hypotheses(scenario, compiled, settings, budget=budget, progress=progress,
                                    informed_until=informed_until)
        tree = weighing.assemble(settings.chains, settings.draws, settings.seed)
        diagnostics = weighing.combined_diagnostics()
        return Explored(tree, diagnostics, diagnostics.sampling_seconds, weighing)
    sampled = compiled.sample(settings, progress=progress)
    post, stats = sampled.tree["posterior"].dataset, sampled.tree["sample_stats"].dataset
    explored = [v for v in PARAMETERS if v in post]
    diagnostics = diagnose(post, stats, explored, settings, sampled.sampling_seconds, sampled.leapfrog_steps,
                           informed_until=informed_until)
    return Explored(sampled.tree, diagnostics, sampled.sampling_seconds)
