"""Sampling the posterior once.

nutpie (Rust NUTS over a numba-compiled PyTensor graph) is the default: on models of this
kind it gives many times the effective samples per second of PyMC's own NUTS. PyMC's
sampler stays available (``sampler="pymc"``) as a cross-check. The settings
(:class:`forecast.settings.SamplerSettings`) say how.
"""

from __future__ import annotations

from dataclasses import dataclass

from forecast.compiled import runtime
from forecast.model.build import history_of
from forecast.progress import StageProgress, shown
from forecast.settings import SamplerSettings


@dataclass
class Sampled:
    """A posterior sample and what it cost: sampling seconds (tuning and draws, by the clock
    that stops when the chains do) and the rest of the call, mostly compilation, then the
    draws' conversion to a DataTree (``None`` when the sampler does not report its own time);
    and the leapfrog steps of all chains, tuning included (``None`` when not reported)."""

    tree: object  # xarray.DataTree with posterior and sample_stats
    compile_seconds: float | None
    sampling_seconds: float
    leapfrog_steps: int | None = None


def sample_posterior(model, settings: SamplerSettings, progress: StageProgress | None = None) -> Sampled:
    """Sample the model's posterior once (compiling its log density first); ``progress`` shows
    the compile and the sampling as stages (the sampler draws its own bars when
    ``settings.progress``)."""
    import sys
    import time

    from threadpoolctl import threadpool_limits

    mode = history_of(model)
    settings = settings.for_history(mode)
    draws = f"{settings.chains} chains x {settings.draws} draws after {settings.tune} tuning"

    if settings.sampler == "nutpie":
        import nutpie

        t0 = time.perf_counter()
        compiled = runtime.compile_for_nutpie(model, progress)
        t1 = time.perf_counter()
        # The chains' last progress report counts their leapfrog steps, tuning included,
        # whose draws are not kept.
        chains: list = []
        # One BLAS thread per chain: chains already fill the cores, and a multithreaded BLAS
        # under each of them oversubscribes the machine (seen: sampling 10x slower).
        with shown(progress, f"sample ({draws})", live=False), threadpool_limits(limits=1):
            sampler = nutpie.sample(
                compiled, draws=settings.draws, tune=settings.tune, chains=settings.chains,
                cores=settings.chains, seed=settings.seed, progress_bar=settings.progress,
                target_accept=settings.target_accept, save_warmup=False, blocking=False,
                progress_callback=lambda progress: chains.__setitem__(slice(None), progress),
            )
            try:
                t2 = _sampler_done(sampler)
                tree = sampler.wait()
            except BaseException:
                sampler.cancel()
                raise
            if settings.progress and sys.stderr.isatty():  # its terminal bars end mid-line
                sys.stderr.write("\n")
        # The sampler's clock stops when its chains do, as PyMC's does: turning the draws into
        # a DataTree (0.15-0.4 s) is counted with the compile, the rest of the call.
        return Sampled(tree, t1 - t0 + time.perf_counter() - t2, t2 - t1, _nutpie_steps(chains, settings))

    import pymc as pm
    import xarray as xr

    t0 = time.perf_counter()
    runtime.prepare_for_pymc(model)
    with shown(progress, f"compile+sample ({draws})", live=False), threadpool_limits(limits=1):
        tree = pm.sample(
            draws=settings.draws, tune=settings.tune, chains=settings.chains, random_seed=settings.seed,
            progressbar=settings.progress, target_accept=settings.target_accept, model=model,
            nuts_sampler="pymc", cores=parallel_chains(settings), compute_convergence_checks=False,
            discard_tuned_samples=False,  # for the tuning's leapfrog steps; its draws are dropped here
        )
    total = time.perf_counter() - t0
    steps = sum(int(tree[group].dataset["n_steps"].sum()) for group in ("warmup_sample_stats", "sample_stats")
                if group in tree.children)
    tree = xr.DataTree.from_dict({name: tree[name] for name in tree.children if not name.startswith("warmup_")})
    sampling = tree["sample_stats"].attrs.get("sampling_time")  # PyMC's own clock: tuning + draws
    if sampling is None:
        return Sampled(tree, None, total, steps)
    return Sampled(tree, total - float(sampling), float(sampling), steps)


def parallel_chains(settings: SamplerSettings) -> int:
    """How many chains sample at once: one per core (nutpie runs a thread per chain, PyMC a
    process per core). Sampling seconds x this / leapfrog steps is a step's cost on one core."""
    import os

    return min(settings.chains, os.cpu_count() or 1)


def _nutpie_steps(chains: list, settings: SamplerSettings) -> int | None:
    """Leapfrog steps over tuning and draws from nutpie's last report of each chain, if that
    report came after every chain's last draw."""
    done = len(chains) == settings.chains and all(c.finished_draws == c.total_draws for c in chains)
    return sum(int(c.total_num_steps) for c in chains) if done else None


def _sampler_done(sampler, poll: float = 0.001) -> float:
    """Wait for nutpie's background sampler to finish its chains; the time it did."""
    import time

    while True:
        try:
            if sampler.is_finished:
                return time.perf_counter()
        except TimeoutError:  # nutpie 0.16's answer while the chains still run
            pass
        time.sleep(poll)


