"""Sampling the posterior once, and judging whether the sampler can be trusted.

nutpie (Rust NUTS over a numba-compiled PyTensor graph) is the default: on models of this
kind it gives many times the effective samples per second of PyMC's own NUTS. PyMC's
sampler stays available (``sampler="pymc"``) as a cross-check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import numpy as np

from forecast.progress import StageProgress, shown

Sampler = Literal["nutpie", "pymc"]
SAMPLERS: tuple[str, ...] = ("nutpie", "pymc")
#: How the latent history is handled: "integrated" out exactly (Kalman filter; NUTS explores
#: the parameters only), "sampled" with the parameters, or "auto": integrated out when its
#: cost per evaluation is within :data:`forecast.model.MARGINAL_BUDGET`.
History = Literal["auto", "integrated", "sampled"]

#: Thresholds of the diagnostics verdict (Vehtari et al. 2021 for R-hat and ESS).
RHAT_OK, RHAT_WARN = 1.01, 1.05
ESS_PER_CHAIN_OK, ESS_WARN = 100, 100


#: NUTS target acceptance when not set. The marginalised model (parameters only) has an easy
#: geometry and takes nutpie's and Stan's default; a sampled history (large scenarios) keeps
#: latent levels with funnel-like corners and gets smaller steps.
TARGET_ACCEPT = {True: 0.8, False: 0.95}  # keyed by "history integrated out"


@dataclass
class SamplerSettings:
    draws: int = 1000
    tune: int = 500
    chains: int = 4
    seed: int | None = None  # None: the scenario's seed
    sampler: Sampler = "nutpie"
    target_accept: float | None = None  # None: TARGET_ACCEPT for the model's kind
    progress: bool = True
    history: History = "auto"

    def for_model(self, marginal: bool) -> "SamplerSettings":
        """These settings with the default target acceptance for the model's kind filled in."""
        if self.target_accept is not None:
            return self
        return replace(self, target_accept=TARGET_ACCEPT[marginal])


@dataclass
class Diagnostics:
    """What the sampler did and whether to trust it: ``ok``, ``warn`` or ``fail``."""

    sampler: str
    chains: int
    draws: int
    tune: int
    divergences: int
    divergences_per_chain: list[int]
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    worst: dict[str, str]
    sampling_seconds: float
    #: Leapfrog steps of all chains, tuning included: one gradient of the log density each, so
    #: sampling seconds per step is the cost of a gradient (None: the sampler did not say).
    leapfrog_steps: int | None = None
    verdict: str = "ok"
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


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

    marginal = integrates_history(model)
    settings = settings.for_model(marginal)
    draws = f"{settings.chains} chains x {settings.draws} draws after {settings.tune} tuning"

    if settings.sampler == "nutpie":
        import nutpie

        t0 = time.perf_counter()
        compiled = compile_for_nutpie(model, progress)
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
    if marginal:
        _register_kernel()
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


def compile_for_nutpie(model, progress: StageProgress | None = None):
    """The model's log density and gradient compiled for nutpie (numba), as a run compiles it:
    with the lean callbacks (:mod:`forecast.callbacks`), and, when the history is integrated
    out, the Kalman kernel registered (its code calls the kernel at an address filled in
    here, after the child compiling it, :mod:`forecast.precompile`)."""
    import nutpie

    from forecast import precompile
    from forecast.callbacks import lean_callbacks

    with shown(progress, "compile"), lean_callbacks() as options, precompile.deferring():
        compiled = nutpie.compile_pymc_model(model, backend="numba", **options)
        if integrates_history(model):
            _register_kernel()
    return compiled


def integrates_history(model) -> bool:
    """Whether the model integrates the history out (no ``level`` variable; the evidence is the
    Kalman filter's density, :func:`forecast.model.build_model`)."""
    return "level" not in model.named_vars


def parallel_chains(settings: SamplerSettings) -> int:
    """How many chains sample at once: one per core (nutpie runs a thread per chain, PyMC a
    process per core). Sampling seconds x this / leapfrog steps is a step's cost on one core."""
    import os

    return min(settings.chains, os.cpu_count() or 1)


def steps_per_iteration(leapfrog_steps: int, chains: int, draws: int, tune: int) -> float:
    """Leapfrog steps per iteration, tuning included: what a draw cost in gradients."""
    return leapfrog_steps / (chains * (draws + tune))


def _register_kernel() -> None:
    from forecast.kalman import register_kernel

    register_kernel()


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


def diagnose(posterior, sample_stats, var_names: list[str], settings: SamplerSettings,
             seconds: float, leapfrog_steps: int | None = None) -> Diagnostics:
    """R-hat, bulk/tail ESS and divergences over ``var_names``, with a verdict and advice;
    the sampling seconds and leapfrog steps are recorded with them."""
    import arviz as az

    ds = posterior[var_names]
    rhat = az.rhat(ds)
    ess_bulk = az.ess(ds, method="bulk")
    ess_tail = az.ess(ds, method="tail")

    def extreme(tree, largest: bool) -> tuple[float, str]:
        """The largest (or smallest) value over all variables, NaN ignored, and where it is."""
        sign = 1.0 if largest else -1.0
        best, where = float("nan"), ""
        for name in var_names:
            arr = np.asarray(tree[name], dtype=float)
            if np.isnan(arr).all():
                continue
            i = int(np.argmax(np.where(np.isnan(arr), -np.inf, sign * arr)))
            val = float(arr.flat[i])
            if np.isnan(best) or sign * val > sign * best:
                best, where = val, _label(tree[name], i, name)
        return best, where

    max_rhat, at_rhat = extreme(rhat, largest=True)
    min_bulk, at_bulk = extreme(ess_bulk, largest=False)
    min_tail, at_tail = extreme(ess_tail, largest=False)
    div = np.asarray(sample_stats["diverging"]).astype(bool)
    per_chain = [int(x) for x in div.sum(axis=1)]
    d = Diagnostics(
        sampler=settings.sampler, chains=settings.chains, draws=settings.draws, tune=settings.tune,
        divergences=int(div.sum()), divergences_per_chain=per_chain, max_rhat=max_rhat,
        min_ess_bulk=min_bulk, min_ess_tail=min_tail,
        worst={"rhat": at_rhat, "ess_bulk": at_bulk, "ess_tail": at_tail},
        sampling_seconds=seconds, leapfrog_steps=leapfrog_steps,
    )
    d.verdict, d.messages = _verdict(d)
    return d


def _label(da, flat_index: int, name: str) -> str:
    if not da.dims:
        return name
    idx = np.unravel_index(flat_index, da.shape)
    parts = [str(da[dim].values[i]) if dim in da.coords else str(i) for dim, i in zip(da.dims, idx)]
    return f"{name}[{', '.join(parts)}]"


def _verdict(d: Diagnostics) -> tuple[str, list[str]]:
    """Green/amber/red with what to do. Thresholds: R-hat <= 1.01, ESS >= 100 per chain, no divergences."""
    messages: list[str] = []
    verdict = "ok"

    def worse(level: str) -> None:
        nonlocal verdict
        order = ["ok", "warn", "fail"]
        verdict = max(verdict, level, key=order.index)

    total = d.chains * d.draws
    if d.divergences:
        share = d.divergences / max(total, 1)
        worse("fail" if share > 0.01 else "warn")
        messages.append(
            f"{d.divergences} divergent transitions ({share:.1%} of draws; per chain {d.divergences_per_chain}): "
            "the sampler missed part of the posterior. Results may be biased. Check for priors that conflict "
            "with the data (an indicator the model cannot fit), or tighten weakly identified priors."
        )
    if not np.isfinite(d.max_rhat) or d.max_rhat > RHAT_WARN:
        worse("fail")
        messages.append(f"R-hat {d.max_rhat:.3f} at {d.worst['rhat']}: chains disagree. Run longer "
                        "(--tune, --draws) and check for competing hypotheses with separated modes.")
    elif d.max_rhat > RHAT_OK:
        worse("warn")
        messages.append(f"R-hat {d.max_rhat:.3f} at {d.worst['rhat']} is above {RHAT_OK}: run more draws.")
    need = ESS_PER_CHAIN_OK * d.chains
    low = min(d.min_ess_bulk, d.min_ess_tail)
    if not np.isfinite(low) or low < ESS_WARN:
        worse("fail")
        messages.append(f"effective sample size {low:.0f} is too low for stable intervals: increase --draws.")
    elif low < need:
        worse("warn")
        messages.append(f"effective sample size {low:.0f} < {need} ({ESS_PER_CHAIN_OK} per chain): "
                        "tail probabilities are imprecise; increase --draws.")
    if verdict == "ok":
        messages.append("R-hat, effective sample sizes and divergences are all within the usual thresholds.")
    return verdict, messages
