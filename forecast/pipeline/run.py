"""The whole flow as one Python call: scenario file -> posterior -> forecasts -> run directory.

Orchestration only: each stage is a call into its own package (:mod:`forecast.scenario`,
:mod:`forecast.model`, :mod:`forecast.posterior`, :mod:`forecast.forecasts`,
:mod:`forecast.results`, :mod:`forecast.report`), timed and shown as it runs. The command line
is a thin shell over :func:`run_scenario`; a notebook calls it the same way::

    from forecast import run_scenario, SamplerSettings
    run = run_scenario("priors/article.toml", SamplerSettings(draws=500))
    run.summary["questions"]
"""

from __future__ import annotations

import gc
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import xarray as xr

from forecast import interrupts
from forecast.backtest.hindcast import one_step_ahead
from forecast.compiled import runtime
from forecast.errors import SamplerWarning, ScenarioWarning
from forecast.model.build import build_model
from forecast.posterior.draws import Draws
from forecast.posterior.explore import Explored, explore
from forecast.posterior.history import restore_history
from forecast.posterior.sampling import CompiledModel
from forecast.progress import Advance, StageProgress, shown
from forecast.results import store
from forecast.results.summary import build_summary, jsonable
from forecast.results.tree import results_tree, thin_forecasts, with_group
from forecast.scenario import Scenario, load_scenario, select_strategies
from forecast.sensitivity.analysis import analyse_sensitivity
from forecast.settings import SamplerSettings, SettingsError, check_keep_draws


@dataclass
class Timings:
    """Wall seconds per stage, for the progress lines and the benchmark."""

    stages: dict[str, float | None] = field(default_factory=dict)

    @contextmanager
    def timed(self, name: str, progress: StageProgress | None, total: int | None = None) -> Iterator[Advance]:
        """Time the block as stage ``name``, shown by ``progress`` if given (a bar of ``total``
        steps, which the block moves on with the ``advance`` it gets)."""
        interrupts.check()
        start = time.perf_counter()
        with shown(progress, name, total) as advance:
            yield advance
        self.stages[name] = time.perf_counter() - start
        interrupts.check()  # a signal whose raise was swallowed during the stage stops the run here


@contextmanager
def frozen_heap():
    """Keep the garbage collector off what already lives (compiled model, posterior).

    After sampling the process holds a large graph of long-lived objects (PyTensor, numba);
    every full collection triggered by the many small objects of plotting and summarising
    walks all of it again (measured: the report took 6.2 s instead of 5.0). Frozen objects
    are handed back to the collector on exit.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_scenario(
    path: str | Path | Scenario,
    settings: SamplerSettings | Mapping[str, Any] | None = None,
    *,
    strategies: list[str] | None = None,
    out: str | Path | None = None,
    reports_root: str | Path = "reports",
    keep_draws: int | None = None,
    report: bool = True,
    command: list[str] | None = None,
    progress: StageProgress | None = None,
    timings: Timings | None = None,
    warn: Callable[[str], None] | None = None,
) -> store.Run:
    """Validate, sample once, forecast every strategy, write the run directory (and report).

    ``path``: a scenario file, or a :class:`Scenario` already loaded. ``settings``: the
    sampler's (:class:`SamplerSettings`, or a dict of its fields). ``strategies``: ids to
    forecast (and the baseline), all by default. ``out``: the run directory to create, by
    default ``reports_root/<scenario>-<UTC time>``. ``keep_draws``: draws per chain kept in the
    stored forecasts (all by default). ``report``: render ``report/``. ``progress``: a
    :class:`~forecast.progress.StageProgress` shows each stage (``StageProgress(print)`` in a
    notebook). The scenario's warnings (:meth:`Scenario.warnings`) come before anything
    samples: to ``warn`` when given (the CLI prints them), else as
    :class:`~forecast.errors.ScenarioWarning` s; a sampler verdict that is not OK comes as a
    :class:`~forecast.errors.SamplerWarning` once the run is written. Both are Python warnings
    that ``warnings.simplefilter`` can silence or turn into errors. Refusals are
    :class:`~forecast.errors.ForecastError` s, raised before anything samples where they can be."""
    keep_draws = check_keep_draws(keep_draws)
    if isinstance(settings, Mapping):
        unknown = sorted(set(settings) - {f.name for f in fields(SamplerSettings)})
        if unknown:
            raise SettingsError(f"settings: no setting {', '.join(map(repr, unknown))}; the settings are "
                                f"{', '.join(f.name for f in fields(SamplerSettings))}")
        settings = SamplerSettings(**settings)
    settings = settings or SamplerSettings()
    if not isinstance(settings, SamplerSettings):
        raise SettingsError(f"settings must be SamplerSettings(...) or a dict of its fields, got {settings!r}")
    runtime.start_background_compile()  # the likelihood's kernel, in a child process, meanwhile
    timings = timings or Timings()
    with timings.timed("validate", progress):
        scenario = select_strategies(path if isinstance(path, Scenario) else load_scenario(path), strategies)
    for warning in scenario.warnings():
        if warn is not None:
            warn(warning)
        else:
            warnings.warn(warning, ScenarioWarning, stacklevel=2)
    settings = replace(settings, seed=scenario.seed if settings.seed is None else settings.seed)
    target = Path(out) if out else store.default_run_dir(scenario, Path(reports_root))
    with store.claim(target):  # no other process writes it meanwhile; refused now, not after sampling
        store.check_target(target)
        with timings.timed("build", progress):
            model = build_model(scenario)
        compiled = CompiledModel.compile(model, settings.sampler, progress)
        timings.stages["compile"] = compiled.compile_seconds
        explored = explore(scenario, compiled, settings, progress)
        timings.stages["sample"] = explored.sampling_seconds
        with frozen_heap():
            tree, summary = analyse(scenario, explored, settings, keep_draws=keep_draws, timings=timings,
                                    progress=progress)
            manifest = store.manifest(scenario, settings, keep_draws=keep_draws,
                                      strategies=strategies, command=command)
            with store.staging(target) as tmp:
                with timings.timed("write", progress):
                    store.write_files(tmp, scenario, tree, summary, manifest)
                if report:
                    from forecast.report import render_report

                    with timings.timed("report", progress):
                        render_report(store.load_run(tmp), tmp / "report")
    run = store.load_run(target)
    verdict = summary["diagnostics"].get("verdict")
    if verdict not in (None, "ok"):
        said = "; ".join(summary["diagnostics"].get("messages") or [])
        warnings.warn(f"the sampler's verdict for {target} is {verdict.upper()}: {said} (run.summary['diagnostics'])",
                      SamplerWarning, stacklevel=2)
    return run


def analyse(scenario: Scenario, explored: Explored, settings: SamplerSettings, *, keep_draws: int | None = None,
            timings: Timings | None = None, progress: StageProgress | None = None,
            sensitivity: bool = True) -> tuple[xr.DataTree, dict]:
    """From the explored posterior to the results tree and the summary, in stages: the history
    (when integrated out), the forecasts (a bar over the strategies), the summaries, and
    (``sensitivity``) what each answer hinges on."""
    timings = timings or Timings()
    idata = explored.tree
    post = idata["posterior"].dataset
    # A history integrated out is drawn afterwards, exactly, given each draw (no chain of its own).
    if "level" not in post:
        with timings.timed("history", progress):
            post = restore_history(scenario, post, settings.seed)
        idata = with_group(idata, "posterior", post)
    draws = Draws.from_posterior(post)
    with timings.timed("forecast", progress, total=len(scenario.strategies)) as advance:
        tree = results_tree(scenario, idata, draws, settings.seed, advance)
    with timings.timed("summarise", progress):
        one_step = one_step_ahead(scenario, post, settings.seed)  # the evidence fit that can miss
        summary = build_summary(scenario, tree, explored.diagnostics, settings.seed, one_step)
    if sensitivity:
        with timings.timed("sensitivity", progress):
            summary["sensitivity"] = jsonable(analyse_sensitivity(scenario, tree, settings.seed))
    if keep_draws:
        tree = thin_forecasts(tree, keep_draws)
    return tree, summary
