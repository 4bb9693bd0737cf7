"""A sweep as one Python call: variants -> one fit each (on Dask or here) -> a directory.

::

    from forecast.pipeline import run_sweep
    from forecast.sweeps.variants import grid
    sweep = run_sweep("priors/article.toml", grid({"claims.x.prior.strength": ["weak", "strong"]}), workers=2)
    sweep.dataset["probability"].sel(question="partnership_weaker_2029")

Every variant is resolved (validated) before anything samples. The scenario as written is
always one of the variants ("as written"), the reference against which the report names the
variants that flip a question's best strategy. Each variant is fitted as a run fits it
(competing hypotheses weighed, the history restored, every strategy forecast), with the
sweep's sampler settings and seed; its answers and diagnostics are kept, its draws are not
(``keep_runs``: each variant's run directory as well).

The sweep directory is written as it goes: ``sweep.json`` (the plan), ``variants/NNNN.json``
(one per finished variant, written atomically), then ``sweep.nc`` (dims variant, question,
strategy), ``variants.csv`` and ``report/index.html``. Interrupted, it keeps what finished;
run again with the same ``--out`` and the same plan, it fits only the rest (and the variants
that failed, so that a fixed cause can be retried).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import xarray as xr

from forecast.files import FileProblem, JsonProblem, MiB, atomic_file, parse_json, read_text, write_atomically
from forecast.model.build import numbers_of
from forecast.pipeline.run import analyse
from forecast.posterior.explore import explore
from forecast.results import store
from forecast.results.summary import jsonable
from forecast.scenario import Scenario
from forecast.settings import SamplerSettings
from forecast.sweeps.engine import Cluster, compiled_for, run_tasks
from forecast.sweeps.results import finished_record, to_dataset, variant_table, with_reference
from forecast.sweeps.variants import SweepError, Variant, resolve, resolve_all, structure

PLAN, RESULTS_NC, TABLE = "sweep.json", "sweep.nc", "variants.csv"


@dataclass(frozen=True)
class VariantTask:
    """What a worker needs to fit one variant (small and picklable)."""

    index: int
    variant: Variant
    base: Path
    settings: SamplerSettings
    keep_run: Path | None = None


@dataclass
class Sweep:
    """A sweep directory and what it holds."""

    path: Path
    dataset: xr.Dataset
    results: list[dict]


def fit_variant(task: VariantTask) -> dict:
    """Fit one variant on this process's compiled model for its structure; its answers per
    question and strategy, best strategies, hypothesis weights and diagnostics."""
    scenario = resolve(task.variant, task.base)
    compiled, fresh = compiled_for(scenario, structure(scenario), task.settings.sampler)
    values, slots = numbers_of(scenario)
    if values.size != compiled.numbers.values.size or slots != compiled.numbers.slots:
        raise RuntimeError("the variant's numbers do not fit the compiled model of its structure (a bug)")
    explored = explore(scenario, compiled.with_numbers(values), task.settings)
    tree, summary = analyse(scenario, explored, task.settings, sensitivity=False)
    if task.keep_run is not None:
        with store.staging(task.keep_run, final=False) as tmp:
            store.write_files(tmp, scenario, tree, summary, store.manifest(
                scenario, task.settings, keep_draws=None, strategies=None,
                command=["forecast", "sweep", f"variant {task.variant.name}"]))
    strategies = [s["id"] for s in summary["strategies"]]
    answers, best, tied, equivalent = {}, {}, {}, {}
    for q in summary["questions"]:
        per = q["by_strategy"]
        answers[q["id"]] = {s: {"probability": per[s]["probability"], "mcse": per[s]["mcse"],
                                **{k: per[s]["quantity"][k] for k in ("q05", "median", "q95")}} for s in strategies}
        if q["decision"]:
            d = q["decision"]
            best[q["id"]], tied[q["id"]], equivalent[q["id"]] = d["best"], d["tied"], d["equivalent"]
    d = summary["diagnostics"]
    weights = {c: {h: v["posterior_weight"] for h, v in e["hypotheses"].items()}
               for c, e in summary["claims"].items() if e.get("hypotheses")}
    return {"answers": answers, "best": best, "tied": tied, "equivalent": equivalent, "weights": weights,
            "compiled": fresh,
            "diagnostics": {k: d[k] for k in ("verdict", "max_rhat", "min_ess_bulk", "divergences", "messages")}}


def run_sweep(path: str | Path, variants: list[Variant], settings: SamplerSettings | None = None, *,
              cluster: Cluster = Cluster(), out: str | Path | None = None, reports_root: str | Path = "reports",
              keep_runs: bool = False, report: bool = True, say: Callable[[str], None] | None = None) -> Sweep:
    """Validate every variant, fit those not already finished in ``out``, and write the sweep;
    ``say`` gets a line per finished variant."""
    base = Path(path)
    variants = with_reference(variants)
    scenarios = resolve_all(variants, base)
    first = scenarios[0]
    settings = settings or SamplerSettings()
    settings = replace(settings, seed=first.seed if settings.seed is None else settings.seed, progress=False)
    target = Path(out) if out else store.default_run_dir(first, Path(reports_root), "sweep")
    plan = {"forecast_sweep": 1, "scenario": str(base), "inputs": first.sha256(),
            "settings": asdict(settings), "variants": [_plan_entry(v) for v in variants]}
    with store.claim(target):  # one process per sweep folder: a second sweep of it is refused, by pid
        done, existed = _start(target, plan)
        tasks = [VariantTask(i, v.resolved(), base.resolve(), settings,
                             target / "runs" / f"{i:04d}" if keep_runs else None)
                 for i, v in enumerate(variants) if i not in done]
        if say is not None:
            say(f"{len(variants)} variants: {len(done)} already done, {len(tasks)} to fit ({_where(cluster)})")
        results = dict(done)

        def finished(task: VariantTask, result: dict) -> None:
            results[task.index] = jsonable({"name": task.variant.name, **result})  # NaN (one chain's R-hat) as null
            write_atomically(target / "variants" / f"{task.index:04d}.json",
                             json.dumps(results[task.index], allow_nan=False))
            if say is not None:
                state = f"failed: {result['error']}" if "error" in result else result["diagnostics"]["verdict"]
                say(f"variant {task.index + 1}/{len(variants)} {task.variant.name}: {state}")

        try:
            run_tasks(fit_variant, tasks, cluster, finished)
        except BaseException:  # a cluster that never started, an interrupt: a new sweep with nothing finished
            if existed is not None and len(results) == len(done):  # leaves nothing behind
                _unstart(target, existed)
            raise
        ordered = [results[i] for i in range(len(variants))]
        ds = to_dataset(variants, ordered, scenarios)
        _write_outputs(target, variants, ordered, ds, scenarios, report)
        if all("error" in r for r in ordered):
            raise SweepError(f"every variant failed, the first with: {ordered[0]['error']} (each variant's error is in "
                             f"{target / TABLE}; the same --out fits them again)")
        return Sweep(target, ds, ordered)


def _plan_entry(v: Variant) -> dict:
    return {"name": v.name, "changes": v.changes, "scenario": str(v.base) if v.base else None,
            "describe": v.describe()}


def _where(cluster: Cluster) -> str:
    if cluster.scheduler:
        return f"on the Dask cluster at {cluster.scheduler}"
    if not cluster.workers:
        return "in this process"
    return f"on {cluster.workers} local Dask worker{'s' if cluster.workers != 1 else ''}"


def _start(target: Path, plan: dict) -> tuple[dict[int, dict], bool | None]:
    """Create the sweep directory, or resume the one there: the finished variants' results
    (failed ones are fitted again), and for a new sweep whether its folder existed before (None
    when resumed: :func:`_unstart` undoes only a new one). A directory holding anything else is
    refused."""
    found = target / PLAN
    try:
        resumed = found.is_file()
    except OSError as exc:  # a folder on the way that cannot be searched
        raise SweepError(f"{target} cannot be checked: {exc.strerror}; choose another --out") from None
    if resumed:
        try:
            earlier = json.loads(found.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise SweepError(f"{target}: its {PLAN} cannot be read; choose another --out") from None
        if earlier != json.loads(json.dumps(plan)):
            raise SweepError(f"{target} holds another sweep (other variants, settings or inputs); choose another --out "
                             "or run the same sweep to resume it")
        folder = target / "variants"
        if not folder.is_dir():
            raise SweepError(f"{target}: its variants folder is not a folder; choose another --out")
        names = [v["name"] for v in plan["variants"]]
        done = {}
        for f in sorted(folder.glob("[0-9][0-9][0-9][0-9].json")):
            i = int(f.stem)
            try:
                result = parse_json(read_text(f, what="a variant's results", limit=MiB).text)
            except (FileProblem, JsonProblem):
                continue  # a damaged result is fitted again
            if i < len(names) and finished_record(result, names[i]):
                done[i] = result
        return done, None
    try:
        existed = target.exists()
        if existed and not target.is_dir():
            raise SweepError(f"{target} is a file, not a folder: choose another --out")
        if existed and any(target.iterdir()):
            raise SweepError(f"{target} already exists and is not a sweep; choose another --out")
        (target / "variants").mkdir(parents=True, exist_ok=True)
        write_atomically(target / PLAN, json.dumps(plan, indent=2))
    except OSError as exc:  # a file on the way (afile/sub), a read-only place, a full disk
        raise SweepError(f"cannot create the sweep folder {target}: {exc.strerror}; choose a place you can write "
                         "to with --out") from None
    return {}, existed


def _unstart(target: Path, existed: bool) -> None:
    """Undo :func:`_start` of a new sweep: its plan, its empty variants folder, and the folder
    itself when it did not exist before."""
    (target / PLAN).unlink(missing_ok=True)
    for folder in (target / "variants", *(() if existed else (target,))):
        try:
            folder.rmdir()
        except OSError:
            return


def _write_outputs(target: Path, variants: list[Variant], results: list[dict], ds: xr.Dataset,
                   scenarios: list[Scenario], report: bool) -> None:
    with atomic_file(target / RESULTS_NC) as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")
    write_atomically(target / TABLE, variant_table(variants, results))
    write_atomically(target / "summary.json", json.dumps(
        {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "variants": len(variants),
         "failed": [r["name"] for r in results if "error" in r],
         "compiles": sum(1 for r in results if r.get("compiled")),
         "seconds": sum(r.get("seconds", 0) for r in results)},
        indent=2))
    if report:
        from forecast.report.sweep import render_sweep

        render_sweep(target, scenarios[0], ds)
