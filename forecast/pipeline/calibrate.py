"""Simulation-based calibration as one Python call: prior draws -> simulated data -> one fit
each (on Dask or here) -> ranks, uniformity tests and a page.

::

    from forecast.pipeline import run_calibration
    cal = run_calibration("priors/article.toml", sims=200)
    cal.summary["uniformity"]["flagged"]

The simulations are tasks of :mod:`forecast.sweeps.engine` (each worker compiles the model
once); what a simulation is, and the tests, are :mod:`forecast.calibration.sbc`'s. The
directory is written whole: ``calibration.json``, ``ranks.nc`` (dims simulation, parameter)
and ``report/index.html``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import xarray as xr

from forecast.calibration import sbc
from forecast.results import store
from forecast.results.summary import jsonable
from forecast.scenario import load_scenario
from forecast.settings import SamplerSettings
from forecast.sweeps.engine import Cluster, run_tasks

CALIBRATION_JSON, RANKS_NC = "calibration.json", "ranks.nc"
#: Sampler settings of each simulation's fit unless given: short fits (see the sbc module on L).
SETTINGS = SamplerSettings(draws=200, tune=200, chains=2, progress=False)


@dataclass
class Calibration:
    """A written calibration directory and what it holds."""

    path: Path
    summary: dict
    ranks: dict[str, np.ndarray]


def run_calibration(path: str | Path, sims: int, settings: SamplerSettings | None = None, *,
                    cluster: Cluster = Cluster(), out: str | Path | None = None,
                    reports_root: str | Path = "reports", say: Callable[[str], None] | None = None) -> Calibration:
    """Simulate ``sims`` datasets from the prior, refit each, test each parameter's ranks;
    :class:`~forecast.calibration.sbc.CalibrationError` before sampling when the fits cannot
    keep enough draws, and when no simulation fitted."""
    scenario = load_scenario(path)  # every problem reported before anything samples
    settings = settings or SETTINGS
    sbc.check_draws(settings)
    seed = scenario.seed if settings.seed is None else settings.seed
    settings = replace(settings, seed=seed, progress=False)
    target = Path(out) if out else store.default_run_dir(scenario, Path(reports_root), "calibrate")
    start = time.perf_counter()
    with store.claim(target):
        store.check_target(target)
        results: list[dict] = []

        def done(simulation: sbc.Simulation, result: dict) -> None:
            results.append({"index": simulation.index, **result})
            if say is not None:
                state = f"failed: {result['error']}" if "error" in result else result.get("verdict", "")
                say(f"simulation {len(results)}/{sims}: {state}")

        run_tasks(partial(sbc.run, settings=settings), sbc.plan(path, sims, seed), cluster, done)
        results.sort(key=lambda r: r["index"])
        if all("error" in r for r in results):  # no ranks: "uniform" would be said of nothing
            raise sbc.CalibrationError(f"every simulation failed, the first with: {results[0]['error']}; nothing "
                                       "was written")
        summary = jsonable(sbc.summarise(results, scenario=scenario, seed=seed, settings=settings,
                                         seconds=time.perf_counter() - start))
        ranks = sbc.ranks_of(results)
        with store.staging(target) as tmp:
            store.write_json(tmp / CALIBRATION_JSON, summary)
            ranks_dataset(ranks).to_netcdf(tmp / RANKS_NC, engine="h5netcdf")
            from forecast.report.calibration import render_calibration

            render_calibration(tmp, summary, ranks)
    return Calibration(target, summary, ranks)


def ranks_dataset(ranks: dict[str, np.ndarray]) -> xr.Dataset:
    """The ranks as a dataset: ``rank[simulation, parameter]``."""
    names = list(ranks)
    n = max((len(v) for v in ranks.values()), default=0)
    table = np.full((n, len(names)), -1, dtype=np.int32)
    for j, name in enumerate(names):
        table[: len(ranks[name]), j] = ranks[name]
    return xr.Dataset({"rank": (("simulation", "parameter"), table)},
                      coords={"simulation": np.arange(n), "parameter": names},
                      attrs={"description": "each parameter's true value's rank among its thinned posterior draws "
                                            "(0..L), per completed simulation"})
