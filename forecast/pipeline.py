"""The whole flow as one Python call: scenario file -> posterior -> forecasts -> run directory.

The command line is a thin shell over :func:`run_scenario`; a notebook calls it the same
way::

    from forecast import run_scenario, SamplerSettings
    run = run_scenario("priors/article.toml", SamplerSettings(draws=500))
    run.summary["questions"]
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import xarray as xr

from forecast import precompile
from forecast import results as R
from forecast.config import Scenario, load_scenario
from forecast.history import restore_history
from forecast.inference import Diagnostics, SamplerSettings, diagnose, sample_posterior
from forecast.model import Evidence, build_model, coords_of, marginalises
from forecast.progress import Advance, StageProgress, no_advance, shown
from forecast.questions import answer
from forecast.strategies import Draws, forecast_levels, measure, prior_draws, shocks, to_display

#: Sampled parameters judged by the diagnostics (anchored intercepts and loadings are constants).
PARAMETERS = ("baseline", "persistence", "volatility", "effect", "_intercept", "_loading", "noise")


@dataclass
class Timings:
    """Wall seconds per stage, for the progress lines and the benchmark."""

    stages: dict[str, float | None] = field(default_factory=dict)

    @contextmanager
    def timed(self, name: str, progress: StageProgress | None, total: int | None = None) -> Iterator[Advance]:
        """Time the block as stage ``name``, shown by ``progress`` if given (a bar of ``total``
        steps, which the block moves on with the ``advance`` it gets)."""
        start = time.perf_counter()
        with shown(progress, name, total) as advance:
            yield advance
        self.stages[name] = time.perf_counter() - start


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


def select_strategies(scenario: Scenario, names: list[str] | None) -> Scenario:
    """Keep the named strategies (and the baseline, which contrasts need)."""
    if not names:
        return scenario
    known = {s.id for s in scenario.strategies}
    unknown = [n for n in names if n not in known]
    if unknown:
        from forecast.config import Problem, ScenarioError

        raise ScenarioError(scenario.path, [Problem("strategies", f"no strategy {u!r}; known: {', '.join(sorted(known))}")
                                            for u in unknown])
    keep = tuple(s for s in scenario.strategies if s.id in names or s.baseline)
    return replace(scenario, strategies=keep)


def run_scenario(
    path: str | Path,
    settings: SamplerSettings | None = None,
    *,
    strategies: list[str] | None = None,
    out: str | Path | None = None,
    reports_root: str | Path = "reports",
    keep_draws: int | None = None,
    report: bool = True,
    command: list[str] | None = None,
    progress: StageProgress | None = None,
    timings: Timings | None = None,
) -> R.Run:
    """Validate, sample once, forecast every strategy, write the run directory (and report);
    ``progress`` shows each stage (:mod:`forecast.progress`)."""
    precompile.start()  # the likelihood's kernel, in a child process, while this one goes on
    timings = timings or Timings()
    with timings.timed("validate", progress):
        scenario = select_strategies(load_scenario(path), strategies)
    settings = replace(settings or SamplerSettings(), seed=scenario.seed if settings is None or settings.seed is None
                       else settings.seed)
    marginal = marginalises(scenario) if settings.history == "auto" else settings.history == "integrated"
    settings = settings.for_model(marginal)
    target = Path(out) if out else R.default_run_dir(scenario, Path(reports_root))
    R.check_target(target)
    with timings.timed("build", progress):
        model = build_model(scenario, marginal=marginal)
    sampled = sample_posterior(model, settings, progress)
    timings.stages["compile"] = sampled.compile_seconds
    timings.stages["sample"] = sampled.sampling_seconds
    with frozen_heap():
        tree, summary = analyse(scenario, sampled.tree, settings, sampled.sampling_seconds, keep_draws=keep_draws,
                                timings=timings, leapfrog_steps=sampled.leapfrog_steps, progress=progress)
        manifest = {
            "forecast_run": 1,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "scenario": str(scenario.path),
            "scenario_name": scenario.name,
            "inputs": scenario.sha256(),
            "seed": settings.seed,
            "settings": asdict(settings) | {"keep_draws": keep_draws, "strategies": strategies or "all",
                                            "history": "integrated out" if marginal else "sampled"},
            "versions": R.versions(),
            "command": command if command is not None else list(sys.argv),
        }
        with R.staging(target) as tmp:
            with timings.timed("write", progress):
                R.write_files(tmp, scenario, tree, summary, manifest)
            if report:
                from forecast.report import render_report

                with timings.timed("report", progress):
                    render_report(R.load_run(tmp), tmp / "report")
    return R.load_run(target)


def analyse(scenario: Scenario, idata: xr.DataTree, settings: SamplerSettings, sampling_seconds: float,
            *, keep_draws: int | None = None, timings: Timings | None = None,
            leapfrog_steps: int | None = None, progress: StageProgress | None = None) -> tuple[xr.DataTree, dict]:
    """From the sampled posterior to the results tree and the summary, in stages: the history
    (when integrated out), the forecasts (a bar over the strategies), the summaries."""
    timings = timings or Timings()
    post = idata["posterior"].dataset
    # What MCMC explored: the parameters, and the history when it was sampled with them. A
    # history integrated out is drawn afterwards, exactly, given each draw (no chain of its own).
    explored = [v for v in (*PARAMETERS, "level") if v in post]
    if "level" not in post:
        with timings.timed("history", progress):
            post = restore_history(scenario, post, settings.seed)
        idata = with_group(idata, "posterior", post)
    draws = Draws.from_posterior(post)
    with timings.timed("forecast", progress, total=len(scenario.strategies)) as advance:
        tree = results_tree(scenario, idata, draws, settings.seed, advance)
    with timings.timed("summarise", progress):
        diagnostics = diagnose(post, idata["sample_stats"].dataset, explored, settings, sampling_seconds,
                               leapfrog_steps)
        if "level" in explored and diagnostics.verdict != "ok":
            diagnostics.messages.append(
                "The history was sampled with the parameters (a large scenario, or --history sampled). "
                "--history integrated integrates it out exactly: NUTS then explores the parameters only, "
                "an easier geometry, at more cost per step.")
        summary = _summary(scenario, tree, diagnostics, settings.seed)
    if keep_draws:
        tree = thin_forecasts(tree, keep_draws)
    return tree, summary


def _summary(scenario: Scenario, tree: xr.DataTree, diagnostics: Diagnostics, seed: int) -> dict:
    """What the report and the command line show: the scenario, each question's answer by
    strategy, trajectories, contrasts, claims, the indicators' fit and the diagnostics."""
    return {
        "scenario": {
            "name": scenario.name, "description": scenario.description, "source": scenario.source,
            "source_url": scenario.source_url, "history_start": scenario.history_start,
            "start_year": scenario.start_year, "horizon": scenario.horizon, "seed": seed,
        },
        "nodes": {nid: {"label": n.label, "role": n.role, "unit": n.unit, "desirable": n.desirable,
                        "description": n.description} for nid, n in scenario.nodes.items()},
        "strategies": [{"id": s.id, "label": s.label, "description": s.description, "baseline": s.baseline,
                        "interventions": {k: list(v) for k, v in s.interventions.items()}}
                       for s in scenario.strategies],
        "questions": [
            {"id": q.id, "text": q.text, "subject": q.subject, "subject_kind": q.subject_kind, "year": q.year,
             "comparison": q.comparison, "threshold": q.threshold, "reference_year": q.reference_year,
             "change": q.change, "rule": q.describe_rule(), "by_strategy": R.jsonable(answer(tree, q))}
            for q in scenario.questions
        ],
        "trajectories": R.trajectories(scenario, tree),
        "contrasts": R.contrasts(scenario, tree),
        "claims": R.claim_summaries(scenario, tree),
        "indicators": R.indicator_fit(scenario, tree),
        "diagnostics": R.jsonable(diagnostics.to_dict()),
    }


def results_tree(scenario: Scenario, idata: xr.DataTree, draws: Draws, seed: int,
                 advance: Advance = no_advance) -> xr.DataTree:
    """posterior, prior, sample_stats, observed_data, posterior_predictive and forecast groups
    (``advance`` is called once per strategy forecast)."""
    post = idata["posterior"].dataset
    keep = [v for v in post.data_vars if v != "shock"]  # raw shocks: internal, large
    posterior = post[keep]
    posterior["node_value"] = xr.DataArray(to_display(scenario, post["level"].values), dims=post["level"].dims,
                                           coords=post["level"].coords)
    chains, n = draws.chains, draws.draws
    D = chains * n
    coords = coords_of(scenario)
    fyears = [int(y) for y in scenario.forecast_years]
    sids = [s.id for s in scenario.strategies]

    levels = forecast_levels(scenario, draws, seed, advance)  # (S, H, D, N)
    _, ind_noise = shocks(scenario, D, seed)
    ind_future = measure(scenario, draws, levels, np.broadcast_to(ind_noise, levels.shape[:3] + ind_noise.shape[2:]))

    def cd(arr: np.ndarray) -> np.ndarray:  # (S, H, D, X) -> (chain, draw, S, H, X)
        arr = np.moveaxis(arr, 2, 0)
        return arr.reshape((chains, n) + arr.shape[1:]).astype(np.float32)

    base_coords = {"chain": post["chain"].values, "draw": post["draw"].values, "strategy": sids, "year": fyears}
    forecast = xr.Dataset(
        {
            "level": (("chain", "draw", "strategy", "year", "node"), cd(levels)),
            "node_value": (("chain", "draw", "strategy", "year", "node"), cd(to_display(scenario, levels))),
            "indicator_value": (("chain", "draw", "strategy", "year", "indicator"), cd(ind_future)),
        },
        coords={**base_coords, "node": coords["node"], "indicator": coords["indicator"]},
        attrs={"description": "Forecasts per strategy (do-interventions from the start year), common random numbers",
               "start_year": scenario.start_year},
    )

    rng = np.random.default_rng([seed, 3])
    hist_noise = rng.standard_normal((len(coords["year"]), D, len(coords["indicator"])))
    rep = np.moveaxis(measure(scenario, draws, np.moveaxis(draws.level, 1, 0), hist_noise), 0, 1)
    ppc = xr.Dataset(
        {"indicator_value": (("chain", "draw", "year", "indicator"), rep.reshape((chains, n) + rep.shape[1:]))},
        coords={"chain": post["chain"].values, "draw": post["draw"].values, "year": coords["year"],
                "indicator": coords["indicator"]},
    )

    observed = np.full((len(coords["year"]), len(coords["indicator"])), np.nan)
    for k, ind in enumerate(scenario.indicators.values()):
        observed[ind.years - scenario.history_start, k] = ind.values
    evidence = Evidence.from_scenario(scenario)
    obs = xr.Dataset({"indicator_value": (("year", "indicator"), observed)},
                     coords={"year": coords["year"], "indicator": coords["indicator"]})
    if evidence.z.size:
        obs["evidence"] = xr.DataArray(evidence.z, dims="observation", coords={"observation": evidence.labels})

    prior = prior_draws(scenario, min(D, 4000), seed)
    prior_ds = xr.Dataset(
        {name: (_prior_dims(name), v[None]) for name, v in prior.items()},
        coords={"chain": [0], "draw": np.arange(len(prior["baseline"])), **coords},
    )
    prior_ds["node_value"] = (("chain", "draw", "year", "node"), to_display(scenario, prior["level"])[None])

    return xr.DataTree.from_dict({
        "posterior": posterior,
        "prior": prior_ds,
        "sample_stats": idata["sample_stats"].dataset,
        "observed_data": obs,
        "posterior_predictive": ppc,
        "forecast": forecast,
    })


def _prior_dims(name: str) -> tuple[str, ...]:
    return {
        "baseline": ("chain", "draw", "node"), "persistence": ("chain", "draw", "node"),
        "volatility": ("chain", "draw", "node"), "effect": ("chain", "draw", "claim"),
        "intercept": ("chain", "draw", "indicator"), "loading": ("chain", "draw", "indicator"),
        "noise": ("chain", "draw", "indicator"), "level": ("chain", "draw", "year", "node"),
    }[name]


def thin_forecasts(tree: xr.DataTree, keep: int) -> xr.DataTree:
    """Store at most ``keep`` forecast draws, evenly spaced within chains (asked for with
    --keep-draws; summaries were computed from every draw before this)."""
    fc = tree["forecast"].dataset
    chains, draws = fc.sizes["chain"], fc.sizes["draw"]
    if keep >= chains * draws:
        return tree
    n_chains = min(chains, keep)
    per_chain = max(1, keep // n_chains)
    index = np.unique(np.linspace(0, draws - 1, per_chain).round().astype(int))
    thinned = fc.isel(chain=slice(0, n_chains), draw=index)
    thinned.attrs["thinned"] = (f"{thinned.sizes['chain'] * thinned.sizes['draw']} of {chains * draws} "
                                "draws kept (--keep-draws)")
    return with_group(tree, "forecast", thinned)


def with_group(tree: xr.DataTree, name: str, dataset: xr.Dataset) -> xr.DataTree:
    """A copy of ``tree`` whose group ``name`` is ``dataset`` (the other groups as they are)."""
    return xr.DataTree.from_dict({**{k: tree[k].dataset for k in tree.children}, name: dataset})
