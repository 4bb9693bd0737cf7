"""Sampling the posterior: a model compiled once, sampled as often as a run needs.

nutpie (Rust NUTS over a numba-compiled PyTensor graph) is the default: on models of this
kind it gives many times the effective samples per second of PyMC's own NUTS. PyMC's
sampler stays available (``sampler="pymc"``) as a cross-check. The settings
(:class:`forecast.settings.SamplerSettings`) say how.

A :class:`CompiledModel` keeps the compiled log density and can sample it again with other
scenario numbers (:mod:`forecast.model.inputs`): each competing hypothesis on its own
(:mod:`forecast.posterior.hypotheses`), the evidence as of a past year (a backtest), an
edited prior. Nothing is built or compiled again for those: the sampler is pointed at the new
vector of numbers.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from forecast.compiled import runtime
from forecast.model.inputs import ScenarioNumbers, scenario_numbers
from forecast.progress import StageProgress, shown
from forecast.settings import SamplerSettings
from forecast.streams import derived_seed


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


@dataclass
class CompiledModel:
    """A model ready to sample: nutpie's compiled log density (``None`` for PyMC's sampler,
    which compiles inside ``pm.sample``), and the model's scenario numbers."""

    model: Any
    sampler: str
    nutpie_model: Any
    numbers: ScenarioNumbers
    compile_seconds: float

    @classmethod
    def compile(cls, model, sampler: str = "nutpie", progress: StageProgress | None = None) -> "CompiledModel":
        t0 = time.perf_counter()
        compiled = runtime.compile_for_nutpie(model, progress) if sampler == "nutpie" else None
        return cls(model, sampler, compiled, scenario_numbers(model), time.perf_counter() - t0)

    def with_numbers(self, values: np.ndarray) -> "CompiledModel":
        """The same compiled model with ``values`` as its own scenario numbers: every fit of it
        (a backtest's origin, a sweep's variant, hypotheses' fits included) starts from them."""
        values = np.asarray(values, dtype=float)
        if values.shape != self.numbers.values.shape:
            raise ValueError(f"{values.size} scenario numbers for a model compiled with {self.numbers.values.size}")
        return replace(self, numbers=replace(self.numbers, values=values))

    @contextmanager
    def numbers_set(self, values: np.ndarray | None) -> Iterator[Any]:
        """While active, the model runs with ``values`` as its scenario numbers (``None``: its
        own, :attr:`numbers`); yields nutpie's compiled model pointed at them. The PyTensor
        variable is set too, because the chains' initial points come from PyMC's function, which
        reads it (and PyMC's own sampler runs on it); it is put back afterwards."""
        values = self.numbers.values if values is None else np.asarray(values, dtype=float)
        if values.shape != self.numbers.values.shape:
            raise ValueError(f"{values.size} scenario numbers for a model compiled with {self.numbers.values.size}")
        before = self.numbers.variable.get_value()
        self.numbers.variable.set_value(values)
        try:
            yield None if self.nutpie_model is None else self.nutpie_model.with_data(scenario_numbers=values)
        finally:
            self.numbers.variable.set_value(before)

    def sample(self, settings: SamplerSettings, *, numbers: np.ndarray | None = None,
               progress: StageProgress | None = None, unconstrained: bool = False, fit: str = "") -> Sampled:
        """Sample once with ``numbers`` (default: the model's own); ``unconstrained`` keeps the
        sampler's own coordinates of every draw (``sample_stats.unconstrained_draw``, nutpie);
        ``fit`` names this fit in the progress line when a run makes several."""
        with self.numbers_set(numbers) as compiled:
            if self.sampler == "nutpie":
                return _sample_nutpie(compiled, settings, progress, unconstrained, self.compile_seconds, fit)
            return _sample_pymc(self.model, settings, progress, fit)

    def log_density(self, numbers: np.ndarray | None = None) -> Callable[[np.ndarray], np.ndarray]:
        """The log density on the sampler's unconstrained space (Jacobians included), for rows
        of points, with ``numbers`` (default: its own): the sampler's own compiled function
        (nutpie only)."""
        if self.nutpie_model is None:
            raise RuntimeError("the log density is read from nutpie's compiled model; sample with nutpie")
        values = self.numbers.values if numbers is None else np.asarray(numbers, dtype=float)
        return runtime.log_density(self.nutpie_model.with_data(scenario_numbers=values))


def sample_posterior(model, settings: SamplerSettings, progress: StageProgress | None = None) -> Sampled:
    """Compile the model's log density and sample its posterior once; ``progress`` shows the
    compile and the sampling as stages (the sampler draws its own bars when
    ``settings.progress``)."""
    return CompiledModel.compile(model, settings.sampler, progress).sample(settings, progress=progress)


def _what(settings: SamplerSettings, fit: str) -> str:
    """The progress line's account of a sampling: "(fit 2 of 3: ...; 4 chains x 1000 draws ...)"."""
    draws = f"{settings.chains} chains x {settings.draws} draws after {settings.tune} tuning"
    return f"({fit}; {draws})" if fit else f"({draws})"


def _sample_nutpie(compiled, settings: SamplerSettings, progress: StageProgress | None, unconstrained: bool,
                   compile_seconds: float, fit: str = "") -> Sampled:
    import nutpie
    from threadpoolctl import threadpool_limits

    # The chains' last progress report counts their leapfrog steps, tuning included, whose
    # draws are not kept.
    chains: list = []
    t1 = time.perf_counter()
    # One BLAS thread per chain: chains already fill the cores, and a multithreaded BLAS
    # under each of them oversubscribes the machine (seen: sampling 10x slower).
    with shown(progress, f"sample {_what(settings, fit)}", live=False), threadpool_limits(limits=1):
        sampler = nutpie.sample(
            compiled, draws=settings.draws, tune=settings.tune, chains=settings.chains,
            cores=settings.chains, seed=settings.seed, progress_bar=settings.progress,
            target_accept=settings.target_accept, save_warmup=False, blocking=False,
            store_unconstrained=unconstrained,
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
    # The sampler's clock stops when its chains do, as PyMC's does: turning the draws into a
    # DataTree (0.15-0.4 s) is counted with the compile, the rest of the call.
    return Sampled(tree, compile_seconds + time.perf_counter() - t2, t2 - t1, _nutpie_steps(chains, settings))


def _sample_pymc(model, settings: SamplerSettings, progress: StageProgress | None, fit: str = "") -> Sampled:
    import pymc as pm
    import xarray as xr
    from threadpoolctl import threadpool_limits

    t0 = time.perf_counter()
    runtime.prepare_for_pymc(model)
    with shown(progress, f"compile+sample {_what(settings, fit)}", live=False), threadpool_limits(limits=1):
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
    while True:
        try:
            if sampler.is_finished:
                return time.perf_counter()
        except TimeoutError:  # nutpie 0.16's answer while the chains still run
            pass
        time.sleep(poll)


def reseed(settings: SamplerSettings, *keys: int) -> SamplerSettings:
    """The settings with a seed of their own for one of several related samplings (each
    conditional fit, each backtest origin): derived from the run's seed and ``keys``."""
    return replace(settings, seed=derived_seed(settings.seed or 0, *keys))


#: What nutpie and PyMC say when no starting point has a finite log density.
NO_START = ("All initialization points failed", "Initial evaluation of model at starting point failed")


def could_not_start(exc: BaseException) -> str | None:
    """What to say when the sampler could not start, or None for another failure. It comes from
    the scenario (priors or data of extreme size, which a model cannot start from), so it is
    said as a bad input, with the likely cause, instead of the sampler's backtrace."""
    if not isinstance(exc, RuntimeError) or not any(words in str(exc) for words in NO_START):
        return None
    return ("the sampler could not start: the model's log density is not finite at any starting point. "
            "The likely cause is a prior or data value of extreme size (a prior's location far from 0, a scale "
            "near 0, a series in tiny units); check them in `forecast validate`'s listing of the priors and data, "
            "and give values of order 1 on the standardised scale")


def failure_text(exc: BaseException) -> str:
    """How a fit that failed is recorded where others go on (a sweep's variant, a calibration's
    simulation): a sampler that could not start as its likely cause, anything else as its type
    and message."""
    return could_not_start(exc) or f"{type(exc).__name__}: {exc}"
