"""The benchmark: stage timings, sampling efficiency, memory and disk, in one invocation.

    .venv/bin/python bench/run.py                # everything (12-17 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick        # default scenario only, warm cache
    .venv/bin/python bench/run.py --limit 300    # seconds allowed per generated scenario
    .venv/bin/python bench/run.py --parts backtest,sweep,calibrate   # the many-runs measurements only

It measures, for the default scenario and for generated scenarios of growing size:
wall time of each stage (import, validate, build, compile, sample, forecast, summaries,
writing, report), cold vs warm compile cache, min bulk/tail ESS and ESS per second of
sampling and of the whole run, leapfrog steps per iteration and µs per step (a gradient's
cost), divergences, max R-hat, peak RSS and results size on disk, and the default scenario
under each sampler (nutpie, PyMC's NUTS) side by side (one run each, then one model over
:data:`COMPARISON_SEEDS`), and the wall clock of the README's main command with a warm and
a cold cache. Generated scenarios run in child processes with a time limit. What weighing competing
hypotheses costs: the default run against the same scenario with one hypothesis per claim.
Then the commands that run many fits: ``forecast backtest`` against a warm run's time, ``forecast
sweep`` on 1 and 2 Dask workers (variants per second, compiles, a task's scheduling cost), and
``forecast calibrate`` (its time and whether every parameter's ranks are uniform).
Prints a Markdown table and writes ``bench/results/<UTC time>.json`` (and ``latest.json``,
``latest.md``, and the cost curve of the generated sizes, ``scaling.svg``).

Generated scenarios use indicator data simulated from their own model (the history by its
equations, parameters drawn from their priors), written to a temporary directory and
labelled as such in their ``source`` column; they are benchmark fixtures, not evidence.
The cold-cache runs have an empty compile directory (a process cannot forget what it has
compiled): the default scenario in a child process of this one, for its stages, and the
README's main command, for the wall clock a user waits. These and the warm command line are
repeated (:data:`REPEATS`) and reported by their median, as this machine kind's speed drifts.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

T_IMPORT0 = time.perf_counter()
# isort: off
import forecast  # noqa: E402,F401  (first: it sets PyTensor's and numba's compile settings before they load)
import arviz  # noqa: E402,F401
import numpy as np  # noqa: E402
import nutpie  # noqa: E402,F401
import pymc  # noqa: E402,F401
# isort: on

from forecast.pipeline import Timings, run_scenario  # noqa: E402
from forecast.posterior.diagnostics import steps_per_iteration  # noqa: E402
from forecast.posterior.sampling import parallel_chains  # noqa: E402
from forecast.settings import SamplerSettings  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - T_IMPORT0
ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "priors" / "article.toml"


# --- Memory ----------------------------------------------------------------------------------


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) of this process."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def dir_size_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


# --- Generated scenarios -----------------------------------------------------------------------


def generate_scenario(directory: Path, n_nodes: int, n_strategies: int, n_years: int, seed: int = 0) -> Path:
    """A random causal scenario of the given size, with indicators on a quarter of the nodes
    simulated from the scenario's own model (:func:`simulated_indicators`)."""
    import tomli_w

    rng = np.random.default_rng(seed)
    n_levers = max(2, n_nodes // 10)
    n_outcomes = max(2, n_nodes // 5)
    roles = ["lever"] * n_levers + ["factor"] * (n_nodes - n_levers - n_outcomes) + ["outcome"] * n_outcomes
    ids = [f"n{i:03d}" for i in range(n_nodes)]
    nodes = {nid: {"label": f"Node {nid}", "role": role, "desirable": "higher" if role == "outcome" else "neither"}
             for nid, role in zip(ids, roles)}
    claims = []
    for i in range(n_levers, n_nodes):
        for j in rng.choice(i, size=min(i, int(rng.integers(1, 4))), replace=False):
            lag = 0 if rng.random() < 0.3 else 1
            claims.append({"id": f"c{len(claims):04d}", "cause": ids[j], "effect": ids[i], "lag": lag,
                           "quote": "generated", "prior": {"direction": "+" if rng.random() < 0.6 else "-",
                                                          "strength": str(rng.choice(["weak", "moderate", "strong"])),
                                                          "confidence": str(rng.choice(["low", "medium", "high"]))}})
    measured = sorted(rng.choice(n_nodes, size=max(2, n_nodes // 4), replace=False))
    levers = ids[:n_levers]
    strategies = [{"id": "baseline", "baseline": True}]
    for s in range(n_strategies - 1):
        strategies.append({"id": f"s{s:02d}", "set": {lv: float(rng.uniform(20, 80)) for lv in levers[: 1 + s % n_levers]}})
    start = 2025
    outcomes = [nid for nid, r in zip(ids, roles) if r == "outcome"]
    questions = [{"id": f"q{i}", "text": f"Is {o} in {start + 4} above its {start - 1} level?", "subject": o,
                  "year": start + 4, "comparison": "above", "reference_year": start - 1} for i, o in enumerate(outcomes[:5])]
    data = {"scenario": {"name": f"generated {n_nodes} nodes", "history_start": start - n_years, "start_year": start,
                         "horizon": start + 4, "seed": seed},
            "nodes": nodes, "claims": claims, "strategies": strategies, "questions": questions}
    path = directory / f"generated_{n_nodes}n_{n_strategies}s_{n_years}y.toml"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tomli_w.dumps(data).encode())
    data["indicators"] = simulated_indicators(path, [ids[i] for i in measured], seed)
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


def simulated_indicators(path: Path, measured: list[str], seed: int) -> dict:
    """One indicator per ``measured`` node of the scenario at ``path`` (written without
    indicators), simulated from its model: the history by its equations with the parameters
    drawn from their priors (:func:`forecast.strategies.prior_draws`, the prior predictive
    check's draws), measured with noise of a third of each series' spread, a fifth of the
    years missing. Data the model could have produced, so that the benchmark measures the
    sampler on a posterior of the kind the model describes: independent random walks, which
    the claims contradict, made the 100-node posterior bimodal. The draws depend on the
    nodes, claims, years and ``seed`` only, so scenarios that differ in their strategies
    alone have the same data."""
    import tomllib

    from forecast.model.prior import prior_draws
    from forecast.scenario.load import scenario_from_document
    from forecast.scenario.schema import NodeSpec

    # the measured nodes' dynamics as the scenario with its indicators will have them (a node
    # no indicator measures defaults to no drift and no lasting shifts)
    document = tomllib.loads(path.read_text())
    for node in measured:
        document["nodes"][node].setdefault("shift", NodeSpec.model_fields["shift"].default_factory())
        document["nodes"][node].setdefault("drift_sd", NodeSpec.model_fields["drift_sd"].default)
    scenario = scenario_from_document(document, path)
    level = prior_draws(scenario, 1, seed)["level"][0]  # (years, nodes)
    rng = np.random.default_rng([seed, 2])  # not prior_draws' stream
    years = scenario.history_years
    (path.parent / "data").mkdir(exist_ok=True)
    indicators = {}
    for k, node in enumerate(measured):
        truth = level[:, scenario.node_ids.index(node)]
        values = truth + rng.normal(0.0, truth.std() / 3, size=truth.size)
        keep = rng.random(truth.size) > 0.2
        keep[:2] = True
        rows = ["year,value,source"] + [f"{y},{v:.6g},simulated from the scenario's prior by bench/run.py (seed {seed})"
                                        for y, v, ok in zip(years, values, keep) if ok]
        (path.parent / "data" / f"ind{k:03d}.csv").write_text("\n".join(rows) + "\n")
        indicators[f"ind{k:03d}"] = {"label": f"Indicator {k}", "node": node, "file": f"data/ind{k:03d}.csv",
                                     "column": "value", "source": "simulated (benchmark fixture)"}
    return indicators


# --- Backtests, sweeps and calibration ---------------------------------------------------------


def backtest_speed(out_root: Path, settings: SamplerSettings, warm_run_seconds: float) -> dict:
    """``forecast backtest`` of the default scenario (8 origins, 3 years ahead, the run's
    sampler settings) against one warm run's total (the issue's target: under 3x)."""
    from forecast.pipeline import run_backtest

    t0 = time.perf_counter()
    bt = run_backtest(DEFAULT, settings, out=Path(tempfile.mkdtemp(prefix="bt-", dir=out_root)) / "bt")
    seconds = time.perf_counter() - t0
    s = bt.summary
    cov, sk = s["coverage"]["model"], s["skill"]
    note = (f"{seconds:.1f} s, {seconds / warm_run_seconds:.1f}x a warm run ({warm_run_seconds:.1f} s); "
            f"{s['points']} points: 90% intervals held {cov['90']:.0%}, 50% {cov['50']:.0%}, "
            f"skill {sk['skill']:+.2f} against {sk['best_baseline']}")
    print(f"  backtest: {note}", file=sys.stderr)
    return {"label": "default, `forecast backtest` (origins 2016-2023, horizon 3)", "seconds": round(seconds, 1),
            "ratio_to_warm_run": round(seconds / warm_run_seconds, 2), "coverage": cov, "skill": sk, "note": note}


def one_hypothesis_scenario(directory: Path) -> Path:
    """The default scenario with each claim's competing hypotheses replaced by its most weighted
    one alone (the prior that hypothesis states), its data files beside it: the run that
    weighing hypotheses is measured against."""
    import shutil
    import tomllib

    import tomli_w

    doc = tomllib.loads(DEFAULT.read_text(encoding="utf-8"))
    for claim in doc.get("claims", []):
        hypotheses = claim.pop("hypotheses", None)
        if hypotheses:
            claim["prior"] = max(hypotheses, key=lambda h: h.get("weight", 1.0))["prior"]
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copytree(DEFAULT.parent / "data", directory / "data", dirs_exist_ok=True)
    path = directory / "one_hypothesis.toml"
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


def hypotheses_cost(out_root: Path, settings: SamplerSettings, default: dict) -> dict:
    """What weighing the competing hypotheses costs: the default run against the same scenario
    with one hypothesis per claim (the issue's target: at most 2x), by sampling stage and by
    the whole run, each with a warm compile cache."""
    path = one_hypothesis_scenario(out_root / "one_hypothesis")
    measure("warm-up, one hypothesis per claim", path, settings, out_root, report=False)  # its own compile cached
    single = measure("default, one hypothesis per claim", path, settings, out_root)
    sample = default["stages"]["sample"] / single["stages"]["sample"]
    total = default["total_seconds"] / single["total_seconds"]
    note = (f"weighing the competing hypotheses: sampling {default['stages']['sample']:.1f} s against "
            f"{single['stages']['sample']:.1f} s with one hypothesis per claim ({sample:.1f}x), the whole run "
            f"{default['total_seconds']:.1f} s against {single['total_seconds']:.1f} s ({total:.1f}x)")
    print(f"  {note}", file=sys.stderr)
    return {**single, "ratio_sample": round(sample, 2), "ratio_total": round(total, 2), "note": note}


#: Variants of the sweep measurement: numbers only (a hypothesis weight), so one compile per worker.
SWEEP_KEY = "claims.engagement_and_partnership.hypotheses.breaks.weight"


def sweep_speed(out_root: Path, settings: SamplerSettings, n_variants: int, workers: tuple[int, ...] = (1, 2)) -> dict:
    """``n_variants`` numbers-only variants of the default scenario (plus the scenario as
    written) on 1 and 2 local Dask workers: variants per second, compiles, and the cost of
    scheduling one task and moving its result (a no-op task's round trip), from which the
    README's estimate for 64 workers is computed."""
    from distributed import Client, LocalCluster

    from forecast.pipeline import run_sweep
    from forecast.sweeps.engine import Cluster
    from forecast.sweeps.variants import grid

    variants = grid({SWEEP_KEY: [round(float(w), 3) for w in np.linspace(0.2, 0.8, n_variants)]})
    per: dict[str, dict] = {}
    for w in workers:
        out = Path(tempfile.mkdtemp(prefix="sweep-", dir=out_root)) / "sweep"
        t0 = time.perf_counter()
        found = run_sweep(DEFAULT, variants, settings, cluster=Cluster(workers=w), out=out, report=False)
        seconds = time.perf_counter() - t0
        fits = [r["seconds"] for r in found.results]
        per[str(w)] = {"seconds": round(seconds, 1), "variants_per_second": round(len(fits) / seconds, 3),
                       "compiles": sum(bool(r.get("compiled")) for r in found.results),
                       "median_variant_seconds": round(float(np.median(fits)), 2),
                       "result_bytes": int(np.mean([len(json.dumps(r)) for r in found.results]))}
        print(f"  sweep on {w} worker(s): {per[str(w)]}", file=sys.stderr)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster) as client:
        client.gather(client.map(abs, range(20)))  # warm
        t0 = time.perf_counter()
        client.gather(client.map(abs, range(1000, 1500)))
        overhead = (time.perf_counter() - t0) / 500
    total = n_variants + 1
    one = per[str(workers[0])]["median_variant_seconds"]
    # 64 workers like this machine's one: 100 variants take two rounds of fits, each worker
    # compiles once (the first round's extra), and the scheduler handles every task in turn.
    first_round = per[str(workers[0])]["seconds"] - (total - 1) * one  # the compile and the cluster's start
    estimate_64 = first_round + math.ceil(100 / 64) * one + overhead * 100
    note = (f"{total} variants x ({settings.chains} chains x {settings.draws} draws): "
            + "; ".join(f"{w} worker(s) {per[str(w)]['seconds']:.0f} s ({per[str(w)]['variants_per_second']:.2f}/s, "
                        f"{per[str(w)]['compiles']} compiles)" for w in workers)
            + f"; a variant's fit {one:.1f} s; scheduling a task {1e3 * overhead:.1f} ms, a result "
              f"{per[str(workers[0])]['result_bytes'] / 1e3:.1f} kB; 100 variants on 64 workers like this machine's "
              f"one, on paper: {estimate_64:.0f} s (a compile and start, two rounds of fits, the scheduling)")
    return {"label": "default, `forecast sweep`", "variants": total, "per_workers": per,
            "task_overhead_seconds": round(overhead, 5), "estimate_100_on_64_workers_seconds": round(estimate_64, 1),
            "note": note}


def calibration_speed(out_root: Path, sims: int, workers: int = 2) -> dict:
    """``forecast calibrate`` of the default scenario (its default short fits) on ``workers``
    local Dask workers: wall time against the issue's 10 minutes, and whether every
    parameter's ranks pass the uniformity test."""
    from forecast.pipeline import run_calibration
    from forecast.sweeps.engine import Cluster

    t0 = time.perf_counter()
    cal = run_calibration(DEFAULT, sims, cluster=Cluster(workers=workers),
                          out=Path(tempfile.mkdtemp(prefix="cal-", dir=out_root)) / "cal")
    seconds = time.perf_counter() - t0
    u, s = cal.summary["uniformity"], cal.summary
    lowest = min(u["parameters"].items(), key=lambda kv: kv[1]["p_value"])
    note = (f"{sims} simulations on {workers} workers: {seconds / 60:.1f} min; {len(u['parameters'])} parameters, "
            f"flagged: {', '.join(u['flagged']) or 'none'} (lowest raw p {lowest[1]['p_value']:.3f} at {lowest[0]}, "
            f"Holm {lowest[1]['p_holm']:.3f}); fits {s['verdicts']}, {len(s['errors'])} errors")
    print(f"  calibrate: {note}", file=sys.stderr)
    return {"label": "default, `forecast calibrate`", "seconds": round(seconds, 1), "sims": sims,
            "flagged": u["flagged"], "lowest_p": {lowest[0]: lowest[1]["p_value"]}, "verdicts": s["verdicts"],
            "note": note}


# --- One measured run ----------------------------------------------------------------------------


def measure(label: str, path: Path, settings: SamplerSettings, out_root: Path, *, report: bool = True) -> dict:
    reset_peak_rss()
    timings = Timings()
    t0 = time.perf_counter()
    out = Path(tempfile.mkdtemp(prefix="run-", dir=out_root)) / "run"
    run = run_scenario(path, settings, out=out, report=report, timings=timings, command=["bench/run.py", label])
    total = time.perf_counter() - t0
    d = run.summary["diagnostics"]
    stages = {k: round(v, 3) for k, v in timings.stages.items() if v is not None}
    n_strategies = len(run.summary["strategies"])
    sampling, steps = d["sampling_seconds"], d.get("leapfrog_steps")
    scenario = run.summary["scenario"]
    row = {
        "label": label, "sampler": settings.sampler, "chains": settings.chains, "draws": settings.draws,
        "tune": settings.tune, "nodes": len(run.summary["nodes"]), "claims": len(run.summary["claims"]),
        "strategies": n_strategies, "years": len(next(iter(run.summary["trajectories"].values()))["years"]),
        "history_years": scenario["start_year"] - scenario["history_start"],
        "stages": stages, "total_seconds": round(total, 2),
        "import_seconds": round(IMPORT_SECONDS, 2),  # this process's (shared by the rows it runs)
        "forecast_seconds_per_strategy": round(stages.get("forecast", float("nan")) / n_strategies, 4),
        "min_ess_bulk": d["min_ess_bulk"], "min_ess_tail": d["min_ess_tail"],
        "ess_bulk_per_sampling_second": round(d["min_ess_bulk"] / sampling, 1) if sampling else None,
        "ess_bulk_per_run_second": round(d["min_ess_bulk"] / total, 1),
        **step_costs(sampling, steps, settings),
        "divergences": d["divergences"], "max_rhat": d["max_rhat"], "verdict": d["verdict"],
        "peak_rss_mb": round(peak_rss_mb(), 1), "results_mb": round(dir_size_mb(run.path), 2),
    }
    print(f"  {label}: {total:.1f}s, ESS {d['min_ess_bulk']:.0f}, divergences {d['divergences']}", file=sys.stderr)
    return row


def step_costs(sampling_seconds: float, steps: int | None, settings: SamplerSettings) -> dict:
    """Leapfrog steps, their mean per iteration, and a step's cost on one core in µs (None when
    the sampler did not count its steps)."""
    if not steps:
        return {"leapfrog_steps": None, "steps_per_iteration": None, "us_per_step": None}
    return {"leapfrog_steps": steps,
            "steps_per_iteration": round(steps_per_iteration(steps, settings.chains, settings.draws, settings.tune), 2),
            "us_per_step": round(sampling_seconds * parallel_chains(settings) / steps * 1e6, 1)}


def in_child(label: str, path: Path, out_root: Path, *, settings: dict | None = None, env: dict | None = None,
             report: bool = True, timeout: float | None = None) -> dict:
    """One measured run in a child process: a fresh interpreter (for the cold cache) or a time
    limit (for the largest scenarios). A run over the limit is recorded as such, not dropped."""
    out = out_root / f"child-{abs(hash(label))}.json"
    job = {"label": label, "path": str(path), "settings": settings or {}, "report": report}
    t0 = time.perf_counter()
    try:
        subprocess.run([sys.executable, __file__, "--child", str(out), json.dumps(job)],
                       env=env, check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"label": label, "timed_out_after_s": timeout, "stages": {}}
    row = json.loads(out.read_text())
    row["process_seconds"] = round(time.perf_counter() - t0, 2)
    return row


#: Runs of each whole-process measurement (cold cache, command line), of which the median is
#: reported: this machine kind's speed drifts by 20-30% within an hour, and a single run can
#: land anywhere in that range.
REPEATS = 3


@contextmanager
def empty_compile_cache() -> Iterator[dict]:
    """An environment whose PyTensor and numba caches are a new empty directory (removed after)."""
    with tempfile.TemporaryDirectory() as cache:
        yield dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={cache}/pytensor", NUMBA_CACHE_DIR=f"{cache}/numba")


def cold_run(out_root: Path, repeats: int = REPEATS) -> dict:
    """The default scenario in a child process with an empty compile cache, ``repeats`` times
    (a new empty cache each time), for its stages: the run with the median process time, and
    every time."""
    runs = []
    for _ in range(repeats):
        with empty_compile_cache() as env:
            runs.append(in_child("default (cold cache)", DEFAULT, out_root, env=env))
    runs.sort(key=lambda r: r["process_seconds"])
    return {**runs[len(runs) // 2], "process_seconds_runs": [r["process_seconds"] for r in runs]}


def cli_run(out_root: Path, repeats: int = REPEATS, *, cold: bool = False) -> dict:
    """README's main command on the default scenario, wall clock from the shell: interpreter
    start, imports, every stage and the report; the median of ``repeats`` runs, each with a
    warm cache, or with a new empty one (``cold``)."""
    exe = Path(sys.executable).with_name("forecast")
    times = []
    for _ in range(repeats):
        out = Path(tempfile.mkdtemp(prefix="cli-", dir=out_root)) / "run"
        with empty_compile_cache() if cold else nullcontext(None) as env:
            t0 = time.perf_counter()
            subprocess.run([str(exe), "run", str(DEFAULT), "--out", str(out), "--quiet"], check=True,
                           stdout=subprocess.DEVNULL, env=env)
            times.append(round(time.perf_counter() - t0, 2))
    label = "default, `forecast run` wall clock" + (", cold cache" if cold else "")
    return {"label": label, "wall_seconds": sorted(times)[len(times) // 2], "wall_seconds_runs": times}


#: Seeds of the samplers' side-by-side comparison on one model. Each sampler's min bulk ESS
#: moves by about +-25% from one seed (or one compiled artefact) to the next, so a single pair
#: of runs gave ratios from 5.8x to 10.7x on the same day; the median over seeds reproduces.
COMPARISON_SEEDS = (1, 2, 3, 4, 5)


def sampler_comparison(seeds: tuple[int, ...] = COMPARISON_SEEDS) -> dict:
    """Min bulk ESS per second of sampling of each sampler on the default scenario's model
    (built once, each sampler compiling it as a run does), for each seed: their medians."""
    from forecast.compiled.runtime import compile_for_nutpie
    from forecast.model.build import build_model
    from forecast.posterior.diagnostics import PARAMETERS, diagnose
    from forecast.posterior.sampling import sample_posterior
    from forecast.scenario import load_scenario
    from forecast.settings import SAMPLERS

    model = build_model(load_scenario(DEFAULT))
    runs: dict[str, list[dict]] = {}
    for sampler in SAMPLERS:
        for seed in seeds:
            settings = SamplerSettings(seed=seed, sampler=sampler, progress=False)
            sampled = sample_posterior(model, settings)
            post = sampled.tree["posterior"].dataset
            d = diagnose(post, sampled.tree["sample_stats"].dataset, [v for v in PARAMETERS if v in post],
                         settings, sampled.sampling_seconds)
            runs.setdefault(sampler, []).append({
                "seed": seed, "min_ess_bulk": round(d.min_ess_bulk, 1), "sampling_seconds": round(d.sampling_seconds, 3),
                "ess_bulk_per_sampling_second": round(d.min_ess_bulk / d.sampling_seconds, 1),
                **step_costs(d.sampling_seconds, sampled.leapfrog_steps, settings), "divergences": d.divergences})

    def median(key: str) -> dict[str, float | None]:
        return {s: float(np.median(v)) if (v := [r[key] for r in rs if r[key] is not None]) else None
                for s, rs in runs.items()}

    ess = median("ess_bulk_per_sampling_second")
    gradient = gradient_cost(compile_for_nutpie(model))["us_per_gradient"]
    print(f"  sampler comparison over seeds {list(seeds)}: {ess}; a gradient alone {gradient} µs", file=sys.stderr)
    return {"label": "default, sampler comparison", "seeds": list(seeds), "runs": runs,
            "median_ess_bulk_per_sampling_second": ess, "median_us_per_step": median("us_per_step"),
            "us_per_gradient": gradient}


def gradient_cost(compiled, evaluations: int = 20_000, repeats: int = 3, seed: int = 1) -> dict:
    """µs per evaluation of the log density and its gradient alone: nutpie's own callback for
    ``compiled`` (what each leapfrog step calls, :func:`forecast.inference.compile_for_nutpie`),
    at nutpie's initial point for ``seed``, called ``evaluations`` times in a compiled loop on
    one core, without the sampler; the median of ``repeats`` loops. A sampler's µs per step
    minus this is what the sampler itself costs per step. (nutpie's own ``benchmark_logp``
    calls a method its 0.16 compiled model lacks.)"""
    import numba

    callback = compiled.compiled_logp_func
    x = np.ascontiguousarray(compiled.initial_point_func(seed), dtype=np.float64)
    grad, logp, user_data = np.empty_like(x), np.empty(1), compiled.user_data

    @numba.njit
    def evaluate(x, grad, logp, user_data, n):
        failed = 0
        for _ in range(n):
            failed += callback(np.uint64(x.size), x.ctypes, grad.ctypes, logp.ctypes, user_data.ctypes) != 0
        return failed

    if evaluate(x, grad, logp, user_data, 1) or not np.isfinite(logp[0]):
        raise RuntimeError(f"the log density is not finite at the initial point (seed {seed})")
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        evaluate(x, grad, logp, user_data, evaluations)
        seconds.append(time.perf_counter() - t0)
    return {"us_per_gradient": round(float(np.median(seconds)) / evaluations * 1e6, 2), "logp": float(logp[0]),
            "gradient": grad}


def child(out: Path, job: dict) -> None:
    settings = SamplerSettings(**{"seed": 20250302, "progress": False, **job["settings"]})
    with tempfile.TemporaryDirectory() as tmp:
        row = measure(job["label"], Path(job["path"]), settings, Path(tmp), report=job["report"])
    out.write_text(json.dumps(row))


# --- Table -------------------------------------------------------------------------------------------

COLUMNS = [
    ("run", lambda r: r["label"]), ("sampler", lambda r: r["sampler"]),
    ("nodes", lambda r: r["nodes"]), ("strat.", lambda r: r["strategies"]), ("years", lambda r: r["years"]),
    ("import s", lambda r: _f(r["import_seconds"])), ("validate s", lambda r: _f(r["stages"].get("validate"))),
    ("build s", lambda r: _f(r["stages"].get("build"))), ("compile s", lambda r: _f(r["stages"].get("compile"))),
    ("sample s", lambda r: _f(r["stages"].get("sample"))),
    ("forecast s", lambda r: _f(r["stages"].get("forecast"))), ("write s", lambda r: _f(r["stages"].get("write"))),
    ("report s", lambda r: _f(r["stages"].get("report"))), ("total s", lambda r: _f(r["total_seconds"])),
    ("min ESS bulk/tail", lambda r: f"{_f(r['min_ess_bulk'], 0)}/{_f(r['min_ess_tail'], 0)}"),
    ("ESS/s sampling", lambda r: _f(r["ess_bulk_per_sampling_second"])),
    ("ESS/s run", lambda r: _f(r["ess_bulk_per_run_second"])),
    ("steps/iter.", lambda r: _f(r["steps_per_iteration"])), ("µs/step", lambda r: _f(r["us_per_step"])),
    ("diverg.", lambda r: r["divergences"]), ("max R-hat", lambda r: _f(r["max_rhat"], 3)),
    ("peak RSS MB", lambda r: _f(r["peak_rss_mb"], 0)), ("results MB", lambda r: _f(r["results_mb"], 1)),
]


def _cell(fn, r: dict) -> str:
    """A value a row does not have (an older row without a column, say) shows as n/a."""
    try:
        return str(fn(r))
    except KeyError:
        return "n/a"


def _f(x, digits: int = 1) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not np.isfinite(x)) else f"{x:.{digits}f}"


def _spread(runs: list[float] | None) -> str:
    """The runs of a repeated measurement, sorted, as a note after its median ("" for one run)."""
    if not runs or len(runs) < 2:
        return ""
    return f" (median of {len(runs)} runs: {', '.join(f'{t:.1f}' for t in sorted(runs))} s)"


def dated(stamp: str, complete: bool) -> str:
    """The table's first line: the day of the run (``stamp`` as ``20261204T001905Z``), and
    whether it ran to the end."""
    day = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}"
    return f"Benchmark of {day}" + ("" if complete else " (stopped before its end: the rows it finished)") + ".\n\n"


def table(rows: list[dict]) -> str:
    head = "| " + " | ".join(c for c, _ in COLUMNS) + " |"
    sep = "|" + "|".join("---" for _ in COLUMNS) + "|"
    body = ["| " + " | ".join(_cell(fn, r) for _, fn in COLUMNS) + " |" for r in rows if "stages" in r
            and "timed_out_after_s" not in r]
    notes = [f"- {r['label']}: did not finish within {r['timed_out_after_s']:.0f} s" for r in rows
             if "timed_out_after_s" in r]
    notes += [f"- {r['label']}: {r['wall_seconds']:.1f} s{_spread(r.get('wall_seconds_runs'))}" for r in rows
              if "wall_seconds" in r]
    notes += [f"- {r['label']}, whole process: {r['process_seconds']:.1f} s{_spread(r['process_seconds_runs'])}"
              for r in rows if "process_seconds_runs" in r]
    notes += [f"- {r['label']}: {r['note']}" for r in rows if "note" in r]
    nut = next((r for r in rows if r.get("label") == "default" and r.get("sampler") == "nutpie"), None)
    pym = next((r for r in rows if r.get("label") == "default" and r.get("sampler") == "pymc"), None)
    if nut and pym and pym.get("ess_bulk_per_sampling_second"):
        ratio = nut["ess_bulk_per_sampling_second"] / pym["ess_bulk_per_sampling_second"]
        notes.append(f"- default, min bulk ESS/s of sampling, nutpie / PyMC NUTS: {ratio:.1f}x (the rows above)")
    for r in rows:
        if "median_ess_bulk_per_sampling_second" in r:
            m = r["median_ess_bulk_per_sampling_second"]
            spread = {s: ", ".join(f"{x['ess_bulk_per_sampling_second']:.0f}" for x in rs) for s, rs in r["runs"].items()}
            notes.append(f"- default, min bulk ESS/s of sampling over seeds {', '.join(map(str, r['seeds']))}, "
                         f"medians: nutpie {m['nutpie']:.0f} ({spread['nutpie']}), PyMC NUTS {m['pymc']:.0f} "
                         f"({spread['pymc']}): {m['nutpie'] / m['pymc']:.1f}x")
            step = r.get("median_us_per_step") or {}
            if step.get("nutpie") and step.get("pymc"):
                notes.append(f"- default, µs per leapfrog step on one core, medians over the same seeds: nutpie "
                             f"{step['nutpie']:.1f}, PyMC NUTS {step['pymc']:.1f} ({step['pymc'] / step['nutpie']:.1f}x)")
                if r.get("us_per_gradient"):
                    notes.append(gradient_note(r["us_per_gradient"], step["nutpie"], m["nutpie"] / m["pymc"]))
    return "\n".join([head, sep, *body, "", *notes])


def gradient_note(us_per_gradient: float, us_per_nutpie_step: float, ratio: float) -> str:
    """The gradient alone against a nutpie step, and the ESS/s ratio over PyMC's NUTS nutpie
    would reach if its steps cost the gradient alone (the same steps per iteration and ESS per
    draw; sampling time is proportional to a step's cost): a bound on what a cheaper sampler
    could give on this model."""
    bound = ratio * us_per_nutpie_step / us_per_gradient
    return (f"- default, µs per gradient of the log density alone (nutpie's callback in a compiled loop, one core): "
            f"{us_per_gradient:.1f}, so nutpie's own work is {us_per_nutpie_step - us_per_gradient:.1f} µs of its "
            f"{us_per_nutpie_step:.1f} µs step; with steps that cost the gradient alone, the ratio above would be "
            f"{bound:.1f}x")


def scaling_figure(rows: list[dict], path: Path) -> bool:
    """The cost curve: each generated size's µs per leapfrog step (the cost of a gradient) and
    its sampling seconds against nodes x history years, on log-log axes, with a line of slope 1
    (cost proportional to nodes x years) through the smallest size. Sampling time is the step's
    cost times the steps, so the two panels separate the model's cost from the sampler's path.
    Written atomically as SVG; False when fewer than two sizes have both numbers."""
    sizes: dict[tuple[int, int], dict] = {}
    for r in rows:
        if str(r.get("label", "")).startswith("generated") and r.get("us_per_step") and r.get("history_years"):
            key = (r["nodes"], r["history_years"])
            if key not in sizes or r["strategies"] < sizes[key]["strategies"]:  # strategies do not sample
                sizes[key] = r
    if len(sizes) < 2:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x0 = min(n * y for n, y in sizes)
    series = [("nodes grow, 10 years", lambda n, y: y == 10, "o-"), ("years grow, 25 nodes", lambda n, y: n == 25, "s-"),
              ("other sizes", lambda n, y: y != 10 and n != 25, "^")]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    panels = [("µs per leapfrog step (one core)", lambda r: r["us_per_step"]),
              ("sampling seconds (tuning and draws)", lambda r: r["stages"]["sample"])]
    for ax, (title, value) in zip(axes, panels):
        for label, member, style in series:
            keys = sorted((k for k in sizes if member(*k)), key=lambda k: k[0] * k[1])
            if keys:
                ax.plot([n * y for n, y in keys], [value(sizes[k]) for k in keys], style, label=label)
        for n, y in sizes:
            ax.annotate(f"{n}×{y}", (n * y, value(sizes[(n, y)])), textcoords="offset points", xytext=(4, -10),
                        fontsize=8)
        first = sizes[min(sizes, key=lambda k: k[0] * k[1])]
        xs = np.array([x0, max(n * y for n, y in sizes)], dtype=float)
        ax.plot(xs, value(first) * xs / x0, "k--", lw=0.8, label="linear in nodes × years")
        ax.set(xscale="log", yscale="log", xlabel="nodes × history years", title=title)
        ax.grid(True, which="both", lw=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Generated scenarios: cost against size (bench/run.py)", fontsize=10)
    tmp = path.with_suffix(".svg.partial")
    fig.savefig(tmp, format="svg", metadata={"Date": None})
    plt.close(fig)
    tmp.replace(path)
    return True


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "versions": {p: __import__(p).__version__ for p in ("pymc", "pytensor", "nutpie", "arviz", "numpy")}}


#: Generated sizes (nodes, strategies, history years), smallest first: one factor at a time
#: from 25 nodes / 3 strategies / 10 years, then the largest.
SIZES = [(10, 3, 10), (25, 3, 10), (25, 10, 10), (25, 20, 10), (25, 3, 30), (50, 3, 10), (100, 3, 10),
         (100, 20, 30)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="default scenario only, warm cache, nutpie")
    ap.add_argument("--limit", type=float, default=600, help="seconds allowed per generated scenario (default 600)")
    ap.add_argument("--parts", default=None,
                    help="which measurements: runs (the table), hypotheses, backtest, sweep, calibrate "
                         "(default: all; with --quick, runs)")
    ap.add_argument("--sweep-variants", type=int, default=10, help="numbers-only variants of the sweep measurement")
    ap.add_argument("--sims", type=int, default=200, help="simulations of the calibration measurement")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(Path(args.child[0]), json.loads(args.child[1]))
        return

    rows: list[dict] = []
    settings = SamplerSettings(seed=20250302, progress=False)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    result = {"created": stamp, "machine": machine(), "import_seconds": round(IMPORT_SECONDS, 2),
              "command": " ".join(["bench/run.py", *sys.argv[1:]]), "complete": False, "rows": rows}

    def save(complete: bool = False) -> None:
        """After every row: a long benchmark that is stopped keeps what it measured."""
        result["complete"] = complete
        results = ROOT / "bench" / "results"
        results.mkdir(exist_ok=True)
        text = json.dumps(result, indent=2)
        (results / f"{stamp}.json").write_text(text)
        (results / "latest.json").write_text(text)
        (results / "latest.md").write_text(dated(stamp, complete) + table(rows) + "\n")
        scaling_figure(rows, results / "scaling.svg")

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        print("warming the compile cache on the default scenario ...", file=sys.stderr)
        measure("warm-up", DEFAULT, settings, out, report=False)
        default = measure("default", DEFAULT, settings, out)
        rows.append(default)
        save()
        parts = set((args.parts or ("runs" if args.quick else "runs,hypotheses,backtest,sweep,calibrate")).split(","))
        if "hypotheses" in parts:
            rows.append(hypotheses_cost(out, settings, default))
            save()
        if "backtest" in parts:
            rows.append(backtest_speed(out, settings, default["total_seconds"]))
            save()
        if "sweep" in parts:
            rows.append(sweep_speed(out, settings, args.sweep_variants))
            save()
        if "calibrate" in parts:
            rows.append(calibration_speed(out, args.sims))
            save()
        if "runs" in parts:
            rows.append(cli_run(out))
            save()
        if not args.quick and "runs" in parts:
            rows.append(measure("default", DEFAULT, SamplerSettings(seed=20250302, sampler="pymc", progress=False), out))
            save()
            rows.append(sampler_comparison())
            save()
            rows.append(cold_run(out))
            save()
            rows.append(cli_run(out, cold=True))
            save()
            gen = out / "generated"
            for n, s, y in SIZES:
                path = generate_scenario(gen / f"{n}_{s}_{y}", n, s, y)
                rows.append(in_child(f"generated {n}n/{s}s/{y}y", path, out, report=False, timeout=args.limit))
                save()
    save(complete=True)
    print(f"import {IMPORT_SECONDS:.1f}s; machine: {result['machine']['platform']}, {result['machine']['cpus']} CPUs")
    print(table(rows))


if __name__ == "__main__":
    main()
