"""Hindcasts: the model fitted as if it were an earlier year, and its forecasts of what followed.

For an origin year ``o`` the model is conditioned on the observations of years before ``o``
only: the same scenario, priors and structure, no intervention (levers follow their own
equations, as they did). Each indicator is standardised on its own pre-origin values, so that
nothing from ``o`` on leaks in through the standardisation either. Every origin reuses the one
compiled model: the evidence (values and which are in use) is part of the scenario's numbers
(:data:`forecast.model.build.EVIDENCE_Z`), so an origin costs its sampling only.

The predictive of a held-back observation is exact given each posterior draw: with the
draw's parameters and shock scales the model is linear-Gaussian, so the Kalman filter run
over the observations in use and carried forward (:func:`forecast.compiled.kalman.predictions`)
gives its mean and variance. The shock scales of the held-back years carry no information
from the data, so their posterior is their heavy-tailed prior: they are drawn from it exactly
(not taken from the sampler, whose draws of them mix slowly, and which the diagnostics
therefore leave out), and the chance of a break is in the predictive. Over draws the predictive is the equal-weight mixture
of these normals, scored exactly by :mod:`forecast.backtest.scores` on the indicator's scoring
scale (:mod:`forecast.backtest.evaluate`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import xarray as xr

from forecast.backtest.evaluate import Target, score_scale, score_target
from forecast.backtest.scores import mixture_quantile
from forecast.compiled.runtime import predictions
from forecast.errors import ForecastError
from forecast.model.build import EVIDENCE_OBSERVED, EVIDENCE_Z, Evidence
from forecast.model.dynamics import initial_variance, state_space
from forecast.posterior.draws import Draws
from forecast.posterior.explore import explore
from forecast.posterior.history import shock_scales
from forecast.posterior.sampling import CompiledModel, reseed
from forecast.scenario import ScenarioError
from forecast.scenario.domain import Scenario
from forecast.scenario.errors import Problem
from forecast.scenario.graph import graph_of, same_year_reach, transition_support
from forecast.settings import SamplerSettings
from forecast.streams import Key, RandomStreams

#: Observations an indicator needs before an origin to be used and scored there: three yearly
#: changes give the naive baselines a spread, and the standardisation a mean and an sd.
MIN_HISTORY = 4
#: Posterior draws kept per origin for the predictive mixture (its exact CRPS is quadratic in them).
MAX_COMPONENTS = 1000
#: Origins when none are given: the eight years before the last with data.
DEFAULT_ORIGINS = 8


@dataclass(frozen=True)
class Skip:
    """Why an indicator is left out at an origin: ``kind`` for a reader that groups them
    (:data:`SHORT` or :data:`CONSTANT`), ``reason`` in words."""

    kind: str
    reason: str


#: The kinds of :class:`Skip`: too few observations before the origin (:data:`MIN_HISTORY`),
#: or all of them equal (nothing to standardise by).
SHORT, CONSTANT = "short", "constant"


@dataclass(frozen=True)
class Origin:
    """The evidence as it stood before ``year``: each indicator's pre-origin standardisation,
    the observations in use, and the indicators left out there (with why)."""

    year: int
    z: np.ndarray  # every observation, standardised on its indicator's pre-origin values
    observed: np.ndarray  # 1: before the origin and its indicator kept; 0 otherwise
    center: np.ndarray  # per indicator (NaN where skipped)
    spread: np.ndarray
    skipped: dict[str, Skip] = field(default_factory=dict)  # indicator -> why


def origin_evidence(scenario: Scenario, evidence: Evidence, year: int, min_history: int = MIN_HISTORY) -> Origin:
    """The evidence as of ``year``: see :class:`Origin`."""
    ids = list(scenario.indicators)
    z = np.zeros(evidence.z.size)
    observed = np.zeros(evidence.z.size)
    center, spread = np.full(len(ids), np.nan), np.full(len(ids), np.nan)
    skipped: dict[str, Skip] = {}
    for k, (iid, ind) in enumerate(scenario.indicators.items()):
        rows = np.flatnonzero(evidence.indicator == k)
        t = ind.transformed(ind.values)
        before = ind.years < year
        if before.sum() < min_history:
            skipped[iid] = Skip(SHORT, f"{int(before.sum())} observations before {year}; {min_history} needed")
            continue
        sd = float(np.std(t[before], ddof=1))
        if not sd > 0:
            skipped[iid] = Skip(CONSTANT, f"constant before {year}")
            continue
        center[k], spread[k] = float(np.mean(t[before])), sd
        z[rows] = (t - center[k]) / sd  # rows are in the indicator's year order (Evidence.from_scenario)
        observed[rows] = before.astype(float)
    return Origin(year, z, observed, center, spread, skipped)


def origin_numbers(compiled, origin: Origin) -> np.ndarray:
    """The compiled model's scenario numbers with the evidence as of the origin."""
    return compiled.numbers.with_parts({EVIDENCE_Z: origin.z, EVIDENCE_OBSERVED: origin.observed})


def with_numbers(compiled, values: np.ndarray):
    """The compiled model (shared) with ``values`` as its own numbers
    (:meth:`~forecast.posterior.sampling.CompiledModel.with_numbers`)."""
    return compiled.with_numbers(values)


def thinned(post: xr.Dataset, most: int) -> xr.Dataset:
    """At most about ``most`` draws, evenly spaced within each chain (the exact mixture CRPS
    is quadratic in the number of components)."""
    step = int(np.ceil(post.sizes["chain"] * post.sizes["draw"] / most))
    return post.isel(draw=slice(None, None, step)) if step > 1 else post


def predictive(scenario: Scenario, post: xr.Dataset, evidence: Evidence, z: np.ndarray, observed: np.ndarray,
               until: int, seed: int, informed_until: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each draw's predictive mean and sd of every observation (draws, observations) on the
    standardised scale of ``z``, from the observations in use (``observed``) of strictly
    earlier years, for the years before history index ``until`` (NaN after); the shock scales
    of years after ``informed_until`` (an origin's held-back years) exact prior draws."""
    draws = Draws.from_posterior(post)
    graph = graph_of(scenario)
    lam = shock_scales(scenario, post, RandomStreams(seed).history(), informed_until)
    A, V = state_space(draws.params, graph)
    s0 = np.broadcast_to(initial_variance(scenario.initial_sd, scenario.drift_sd), (A.shape[0], 3 * len(scenario.nodes)))
    k, node = evidence.indicator, evidence.node
    direction = np.array([i.direction for i in scenario.indicators.values()])[k]
    scale = direction * draws.loading[:, k]
    fixed = draws.intercept[:, k] + scale * draws.mu[:, node]
    mean, var = predictions(A, s0, V, lam, scale, draws.noise[:, k] ** 2, z - fixed, observed,
                            evidence.year_index, node, transition_support(graph), same_year_reach(graph), until)
    return fixed + mean, np.sqrt(var)


def one_step_ahead(scenario: Scenario, post: xr.Dataset, seed: int, most: int = 400) -> dict[str, dict]:
    """Per indicator, each observation's prediction from the observations of the years before
    it (the filter's one-step-ahead predictive): quantiles in the indicator's units and how
    many of the actuals its 90% interval held.

    In-sample, not a test: the parameters, noise and shock scales are the run's posterior, fitted
    on every observation, the predicted one included (the backtest,
    :func:`hindcast_origin`, is the out-of-sample check). Unlike the posterior predictive over
    history, it can still miss: a series the model cannot follow from one year to the next falls
    outside. An observation with no earlier observation of its indicator (the first of each
    series) is left out: nothing before it predicts it, so its interval is the prior's."""
    evidence = Evidence.from_scenario(scenario)
    if not evidence.z.size:
        return {}
    mean, sd = predictive(scenario, thinned(post, most), evidence, evidence.z, evidence.observed,
                          len(scenario.history_years), seed)
    out: dict[str, dict] = {}
    for k, (iid, ind) in enumerate(scenario.indicators.items()):
        mine = np.flatnonzero(evidence.indicator == k)  # in the order of ind.years (Evidence.from_scenario)
        later = np.flatnonzero(evidence.years[mine] > evidence.years[mine].min())  # an earlier one to go on
        rows = mine[later]
        qs = {f"q{round(100 * q):02d}": [] for q in (0.05, 0.25, 0.5, 0.75, 0.95)}
        for j in rows:
            for key in qs:
                qs[key].append(float(ind.to_units(mixture_quantile(int(key[1:]) / 100, mean[:, j], sd[:, j]))))
        lo, hi = np.array(qs["q05"]), np.array(qs["q95"])
        actual = np.asarray(ind.values, dtype=float)[later]
        out[iid] = {"years": [int(y) for y in evidence.years[rows]], **qs,
                    "inside_90": int(np.sum((lo <= actual) & (actual <= hi))), "observations": int(rows.size)}
    return out


def check_indicators(scenario: Scenario) -> None:
    """:class:`ScenarioError` when the scenario has no indicator: there is nothing to backtest."""
    if not scenario.indicators:
        raise ScenarioError(scenario.path, [Problem("indicators", "none declared: a backtest scores forecasts of "
                                                                  "indicator data; add an indicator to backtest")])


def default_origins(scenario: Scenario) -> list[int]:
    """The :data:`DEFAULT_ORIGINS` years before the last year with data (data through 2024:
    2016-2023), so that the last origin still has a year to forecast after its first, and none
    with less than :data:`MIN_HISTORY` years of history before it (a shorter history has fewer
    origins); :class:`ScenarioError` without an indicator (as :func:`check_origins`) or without
    room for one origin."""
    check_indicators(scenario)
    last = scenario.last_evidence_year
    earliest = scenario.history_start + MIN_HISTORY
    origins = list(range(max(last - DEFAULT_ORIGINS, earliest), last))
    if not origins:
        alone = (f", or give --origins {earliest} to forecast {last} alone" if earliest == last else "")
        raise ScenarioError(scenario.path, [Problem("scenario.history_start", (
            f"the data run from {scenario.history_start} to {last}: a default origin needs {MIN_HISTORY} years of "
            f"history before it and data for it and the year after, so the first would be {earliest}, with data "
            f"through {earliest + 1}; start the history earlier, with data from then, to backtest{alone}"))])
    return origins


class OriginsError(ForecastError, ValueError):
    """Origins or a horizon that the scenario's data cannot back-test (a usage error)."""


def check_origins(scenario: Scenario, origins: list[int], horizon: int) -> list[int]:
    """The origins, sorted; :class:`OriginsError` when one leaves too little history before it
    or no data from it on (after the last year any indicator has data), :class:`ScenarioError` when the scenario has no indicator at all."""
    check_indicators(scenario)
    if horizon < 1:
        raise OriginsError(f"--horizon {horizon}: give 1 or more years")
    first, last = scenario.history_start, scenario.last_evidence_year  # the last year with data, not of history
    bad = [o for o in origins if not first + MIN_HISTORY <= o <= last]
    if bad:
        named = ", ".join(map(str, bad[:5])) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise OriginsError(f"--origins {named}: an origin must leave at least {MIN_HISTORY} years "
                           f"of history before it and data for it (the data run to {last}): give years between "
                           f"{first + MIN_HISTORY} and {last} for {scenario.path.name}")
    return sorted(set(origins))


#: An origin's competing hypotheses share twice a run's iterations (:func:`forecast.posterior.hypotheses.plan`):
#: a backtest fits every origin, and fewer draws per fit add Monte Carlo noise to its scores, not
#: bias; its page reports each origin's diagnostics.
ORIGIN_BUDGET = 2.0


def hindcast_origin(scenario: Scenario, compiled: CompiledModel, evidence: Evidence, year: int, horizon: int,
                    settings: SamplerSettings) -> tuple[list[tuple[Target, dict]], dict[str, Skip], dict]:
    """One origin: fit on the years before ``year``, score the next ``horizon`` years. Returns
    the scored targets, the indicators skipped there, and the fit's diagnostics."""
    origin = origin_evidence(scenario, evidence, year)
    ids = list(scenario.indicators)
    due = np.flatnonzero((origin.observed == 0) & (evidence.years >= year) & (evidence.years < year + horizon)
                         & np.isfinite(origin.center[evidence.indicator]))
    if not due.size or not origin.observed.any():
        return [], origin.skipped, {"verdict": "not fitted", "messages": ["nothing to forecast from this origin"]}
    own = reseed(replace(settings, progress=False), Key.BACKTEST_ORIGIN, year)
    informed = int(evidence.years[origin.observed > 0].max())  # the last year with an observation in use
    explored = explore(scenario, compiled.with_numbers(origin_numbers(compiled, origin)), own, budget=ORIGIN_BUDGET,
                       informed_until=informed)
    post = thinned(explored.tree["posterior"].dataset, MAX_COMPONENTS)
    until = int(evidence.year_index[due].max()) + 1
    mean_z, sd_z = predictive(scenario, post, evidence, origin.z, origin.observed, until, own.seed, informed)
    scales = {k: score_scale(ind.transformed(ind.values), ind.years)  # one per indicator, as the scores say
              for k, ind in enumerate(scenario.indicators.values()) if k in set(evidence.indicator[due].tolist())}
    out = []
    for j in due:
        k = int(evidence.indicator[j])
        ind = scenario.indicators[ids[k]]
        before = ind.years < year
        c, s = origin.center[k], origin.spread[k]
        t = Target(year, int(evidence.years[j]) - year + 1, ids[k], int(evidence.years[j]),
                   float(c + s * origin.z[j]), float(ind.values[ind.years == evidence.years[j]][0]),
                   ind.years[before], ind.transformed(ind.values[before]), scales[k])
        out.append((t, score_target(t, c + s * mean_z[:, j], s * sd_z[:, j])))
    d = explored.diagnostics
    return out, origin.skipped, {"verdict": d.verdict, "max_rhat": d.max_rhat, "min_ess_bulk": d.min_ess_bulk,
                                 "min_ess_tail": d.min_ess_tail, "divergences": d.divergences,
                                 "messages": list(d.messages)}
