"""A backtest as one Python call: scenario file -> hindcast per origin -> scores -> directory.

::

    from forecast.pipeline import run_backtest
    bt = run_backtest("priors/article.toml", origins=range(2016, 2024), horizon=3)
    bt.summary["skill"], bt.dataset["crps"].sel(forecaster="model")

The model is built and compiled once; each origin is a fit of the same compiled model with
the evidence as it stood then (:mod:`forecast.backtest.hindcast`), competing hypotheses
weighed per origin as in a run. Origins are fitted one after the other: each fit already runs
its chains in parallel.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import xarray as xr

from forecast.backtest.evaluate import summarise, to_dataset
from forecast.backtest.hindcast import Skip, check_origins, default_origins, hindcast_origin
from forecast.model.build import Evidence, build_model
from forecast.pipeline.run import Timings
from forecast.posterior.sampling import CompiledModel
from forecast.progress import StageProgress
from forecast.results import store
from forecast.results.summary import jsonable
from forecast.scenario import Scenario, load_scenario
from forecast.settings import SamplerSettings

BACKTEST_JSON, BACKTEST_NC = "backtest.json", "backtest.nc"


@dataclass
class Backtest:
    """A written backtest directory and what it holds."""

    path: Path
    dataset: xr.Dataset
    summary: dict


def run_backtest(path: str | Path, settings: SamplerSettings | None = None, *, origins: list[int] | None = None,
                 horizon: int = 3, out: str | Path | None = None, reports_root: str | Path = "reports",
                 report: bool = True, command: list[str] | None = None,
                 progress: StageProgress | None = None) -> Backtest:
    """Hindcast every origin, score the held-back years against the naive baselines, and write
    the backtest directory (``backtest.nc``, ``backtest.json``, ``report/index.html``)."""
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
                found, origin_skipped, diagnostics = hindcast_origin(scenario, compiled, evidence, year, horizon, settings)
                targets += [t for t, _ in found]
                scored += [s for _, s in found]
                skipped[year], fits[year] = origin_skipped, diagnostics
                advance()
        ds = to_dataset(targets, scored, origins, horizon, list(scenario.indicators), skipped)
        summary = summarise(ds) | about(scenario, settings, origins, horizon, skipped, fits,
                                        time.perf_counter() - started)
        summary["command"] = command
        with store.staging(target) as tmp:
            with timings.timed("write", progress):
                write_backtest(tmp, ds, summary)
            if report:
                from forecast.report.backtest import render_backtest

                with timings.timed("report", progress):
                    render_backtest(tmp, scenario, ds, summary)
    return Backtest(target, ds, summary)


def about(scenario: Scenario, settings: SamplerSettings, origins: list[int], horizon: int,
          skipped: dict[int, dict[str, Skip]], fits: dict[int, dict], seconds: float) -> dict:
    """What the backtest was, for ``backtest.json``: scenario, settings, origins, the skipped
    indicators with why, and each origin's sampling diagnostics."""
    return {
        "scenario": {"name": scenario.name, "path": str(scenario.path),
                     "inputs": scenario.sha256()},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "origins": origins, "horizon": horizon, "settings": asdict(settings),
        "skipped": [{"origin": o, "indicator": i, "kind": s.kind, "reason": s.reason}
                    for o in origins for i, s in skipped[o].items()],
        "fits": {str(o): fits[o] for o in origins},
        "seconds": round(seconds, 1),
        "indicators": {iid: {"label": ind.label, "transform": ind.transform}
                       for iid, ind in scenario.indicators.items()},
    }


def write_backtest(directory: Path, ds: xr.Dataset, summary: dict) -> None:
    """The dataset and the summary (non-finite numbers, e.g. an R-hat of one chain, as null)."""
    ds.to_netcdf(directory / BACKTEST_NC, engine="h5netcdf")
    store.write_json(directory / BACKTEST_JSON, jsonable(summary))


