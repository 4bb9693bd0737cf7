"""A backtest as one Python call: scenario file -> hindcast per origin -> scores -> directory.

::

    from forecast.backtest.runner import run_backtest
    bt = run_backtest("priors/article.toml", origins=range(2016, 2024), horizon=3)
    bt.summary["skill"], bt.dataset["crps"].sel(forecaster="model")

The model is built and compiled once; each origin is a fit of the same compiled model with
the evidence as it stood then (:mod:`forecast.backtest.hindcast`), competing hypotheses
weighed per origin as in a run. Origins are fitted one after the other: each fit already runs
its chains in parallel.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xarray as xr

from forecast.backtest.evaluate import Target, score_target, summarise, to_dataset
from forecast.backtest.hindcast import MIN_HISTORY, origin_evidence, origin_numbers, predictive, thinned
from forecast.model.build import Evidence, build_model
from forecast.posterior.explore import explore
from forecast.posterior.sampling import CompiledModel, reseed
from forecast.progress import StageProgress
from forecast.results import store
from forecast.scenario import Scenario, ScenarioError, load_scenario
from forecast.scenario.errors import Problem
from forecast.settings import SamplerSettings

#: Posterior draws kept per origin for the predictive mixture (its exact CRPS is quadratic in them).
MAX_COMPONENTS = 1000
#: Origins when none are given: the last eight years with data, each forecast from the years before.
DEFAULT_ORIGINS = 8
BACKTEST_JSON, BACKTEST_NC = "backtest.json", "backtest.nc"


@dataclass
class Backtest:
    """A written backtest directory and what it holds."""

    path: Path
    dataset: xr.Dataset
    summary: dict


def default_origins(scenario: Scenario) -> list[int]:
    """The :data:`DEFAULT_ORIGINS` years before the last year with data (data through 2024:
    2016-2023), so that the last origin still has a year to forecast after its first."""
    last = max(int(i.years.max()) for i in scenario.indicators.values())
    return list(range(last - DEFAULT_ORIGINS, last))


class OriginsError(ValueError):
    """Origins or a horizon that the scenario's data cannot back-test (a usage error)."""


def check_origins(scenario: Scenario, origins: list[int], horizon: int) -> list[int]:
    """The origins, sorted; :class:`OriginsError` when one leaves too little history before it
    or no data after it, :class:`ScenarioError` when the scenario has no indicator at all."""
    if not scenario.indicators:
        raise ScenarioError(scenario.path, [Problem("indicators", "none declared: a backtest scores forecasts of "
                                                                  "indicator data; add an indicator to backtest")])
    if horizon < 1:
        raise OriginsError(f"--horizon {horizon}: give 1 or more years")
    first, last = scenario.history_start, int(scenario.history_years[-1])
    bad = [o for o in origins if not first + MIN_HISTORY <= o <= last]
    if bad:
        raise OriginsError(f"--origins {', '.join(map(str, bad))}: an origin must leave at least {MIN_HISTORY} years "
                           f"of history before it and data after it: give years between {first + MIN_HISTORY} "
                           f"and {last} for {scenario.path.name}")
    return sorted(set(origins))


def run_backtest(path: str | Path, settings: SamplerSettings | None = None, *, origins: list[int] | None = None,
                 horizon: int = 3, out: str | Path | None = None, reports_root: str | Path = "reports",
                 report: bool = True, command: list[str] | None = None,
                 progress: StageProgress | None = None) -> Backtest:
    """Hindcast every origin, score the held-back years against the naive baselines, and write
    the backtest directory (``backtest.nc``, ``backtest.json``, ``report/index.html``)."""
    from forecast.pipeline import Timings

    timings = Timings()
    with timings.timed("validate", progress):
        scenario = load_scenario(path)
        origins = check_origins(scenario, list(origins) if origins else default_origins(scenario), horizon)
    settings = settings or SamplerSettings()
    settings = replace(settings, seed=scenario.seed if settings.seed is None else settings.seed)
    target = Path(out) if out else store.default_run_dir(scenario, Path(reports_root), "backtest")
    started = time.perf_counter()
    with store.claim(target):
        store.check_target(target)
        evidence = Evidence.from_scenario(scenario)
        with timings.timed("build", progress):
            model = build_model(scenario, evidence)
        compiled = CompiledModel.compile(model, settings.sampler, progress)
        targets, scored, skipped, fits = [], [], {}, {}
        with timings.timed("hindcast", progress, total=len(origins)) as advance:
            for year in origins:
                found, origin_skipped, diagnostics = hindcast(scenario, compiled, evidence, year, horizon, settings)
                targets += [t for t, _ in found]
                scored += [s for _, s in found]
                skipped[year], fits[year] = origin_skipped, diagnostics
                advance()
        ds = to_dataset(targets, scored, origins, horizon, list(scenario.indicators), skipped)
        summary = summarise(ds) | about(scenario, settings, origins, horizon, skipped, fits,
                                        time.perf_counter() - started)
        summary["command"] = command if command is not None else None
        with store.staging(target) as tmp:
            with timings.timed("write", progress):
                write_backtest(tmp, ds, summary)
            if report:
                from forecast.report.backtest import render_backtest

                with timings.timed("report", progress):
                    render_backtest(tmp, scenario, ds, summary)
    return Backtest(target, ds, summary)


def hindcast(scenario: Scenario, compiled: CompiledModel, evidence: Evidence, year: int, horizon: int,
             settings: SamplerSettings) -> tuple[list[tuple[Target, dict]], dict[str, str], dict]:
    """One origin: fit on the years before ``year``, score the next ``horizon`` years. Returns
    the scored targets, the indicators skipped there, and the fit's diagnostics."""
    origin = origin_evidence(scenario, evidence, year)
    ids = list(scenario.indicators)
    due = np.flatnonzero((origin.observed == 0) & (evidence.years >= year) & (evidence.years < year + horizon)
                         & np.isfinite(origin.center[evidence.indicator]))
    if not due.size or not origin.observed.any():
        return [], origin.skipped, {"verdict": "not fitted", "messages": ["nothing to forecast from this origin"]}
    own = reseed(replace(settings, progress=False), 104729, year)
    explored = explore(scenario, compiled.with_numbers(origin_numbers(compiled, origin)), own)
    post = thinned(explored.tree["posterior"].dataset, MAX_COMPONENTS)
    until = int(evidence.year_index[due].max()) + 1
    mean_z, sd_z = predictive(scenario, post, evidence, origin.z, origin.observed, until, own.seed)
    out = []
    for j in due:
        k = int(evidence.indicator[j])
        ind = scenario.indicators[ids[k]]
        before = ind.years < year
        c, s = origin.center[k], origin.spread[k]
        t = Target(year, int(evidence.years[j]) - year + 1, ids[k], int(evidence.years[j]),
                   float(c + s * origin.z[j]), float(ind.values[ind.years == evidence.years[j]][0]),
                   ind.years[before], ind.transformed(ind.values[before]))
        out.append((t, score_target(t, c + s * mean_z[:, j], s * sd_z[:, j])))
    d = explored.diagnostics
    return out, origin.skipped, {"verdict": d.verdict, "max_rhat": d.max_rhat, "min_ess_bulk": d.min_ess_bulk,
                                 "divergences": d.divergences, "messages": list(d.messages)}


def about(scenario: Scenario, settings: SamplerSettings, origins: list[int], horizon: int,
          skipped: dict[int, dict[str, str]], fits: dict[int, dict], seconds: float) -> dict:
    """What the backtest was, for ``backtest.json``: scenario, settings, origins, the skipped
    indicators with why, and each origin's sampling diagnostics."""
    from dataclasses import asdict

    return {
        "scenario": {"name": scenario.name, "path": str(scenario.path),
                     "inputs": scenario.sha256()},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "origins": origins, "horizon": horizon, "settings": asdict(settings),
        "skipped": [{"origin": o, "indicator": i, "reason": r} for o in origins for i, r in skipped[o].items()],
        "fits": {str(o): fits[o] for o in origins},
        "seconds": round(seconds, 1),
        "indicators": {iid: {"label": ind.label, "transform": ind.transform}
                       for iid, ind in scenario.indicators.items()},
    }


def write_backtest(directory: Path, ds: xr.Dataset, summary: dict) -> None:
    ds.to_netcdf(directory / BACKTEST_NC, engine="h5netcdf")
    store.write_json(directory / BACKTEST_JSON, summary)


