"""Competing hypotheses weighed by their evidence, not by how the chains mix.

A claim with competing hypotheses has a mixture prior, ``sum_k w_k f_k(beta)``. Sampled as
one mixture, hypotheses that are far apart make separate modes: NUTS cannot cross the
low-density valley between them, each chain stays where it starts, and the hypotheses'
"posterior weights" are the share of chains in each mode (the issue: 0.25/0.5/0.75 whatever
the data; even with no data, 0.18 instead of 0.25). No amount of tuning fixes that.

Instead, by Bayes' rule over a discrete choice, the mixture posterior *is* a mixture of the
posteriors conditional on each hypothesis:

    p(theta | y) = sum_c P(c | y) p(theta | y, c),    P(c | y) = pi_c Z_c / sum_d pi_d Z_d,

where ``c`` runs over the combinations of one hypothesis per claim (the prior weight ``pi_c``
is the product of the chosen hypotheses' weights) and ``Z_c = p(y | c)`` is the marginal
likelihood of the model with each of those mixtures collapsed to its chosen component. Each
conditional posterior has one hypothesis per claim, so it has no mode to get stuck in; each
``Z_c`` is estimated from that fit's own draws by bridge sampling (:func:`bridge_sampling`,
Meng & Wong 1996 with the normal proposal of Gronau et al. 2017, R package bridgesampling),
with its relative error. The forecasts are then made from draws of each conditional fit in
proportion to ``P(c | y)`` (:meth:`Weighing.assemble`). Without evidence ``Z_c = 1`` exactly
(every density in the model is normalised), and the weights are the prior weights, exactly.

Nothing is recompiled per combination. The weights of every mixture are entries of the one
shared vector of the scenario's numbers (``scenario_numbers``,
:class:`forecast.model.inputs.GraphInputs`, where each claim's weights are recorded by label); a
combination sets its hypotheses' weights to 1 and the others to 0. PyMC's mixture density is ``logsumexp(log w + log f_k)``: with ``w = (1, 0)``
it is exactly ``log f_1`` (``log 0 = -inf`` drops out of the sum and of its gradient): the
compiled model needs no change: :class:`forecast.posterior.sampling.CompiledModel` samples it
with the new numbers. Bridge sampling evaluates the log density with the sampler's own compiled
function (:func:`forecast.compiled.runtime.log_density`): Jacobians of the transforms included,
and no compile.

Cost (measured, see the report): one NUTS run per combination plus, per fit, one density
evaluation per proposal point. With two hypotheses and the run's draws, the leapfrog steps
of both fits were 1.8x those of one run with one prior per claim; bridge sampling adds
~0.05x in density evaluations ("normal"). More combinations share a budget of draws
(:func:`plan`).

What the diagnostics judge: every conditional fit (R-hat, ESS, divergences, as a run's),
each bridge iteration's convergence, and the weights' Monte Carlo error. The mixture itself
is never sampled, so no mode can go unvisited unnoticed: each hypothesis has its own fit.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from forecast.model.build import Evidence, weights_label
from forecast.posterior.diagnostics import PARAMETERS, Diagnostics, diagnose
from forecast.posterior.sampling import CompiledModel, reseed
from forecast.scenario import Scenario
from forecast.settings import SamplerSettings

#: At most this many combinations of hypotheses are fitted (one NUTS run each). Beyond it the
#: cost grows past any budget (it multiplies with every claim given hypotheses): the scenario
#: should merge hypotheses or state fewer claims as competing.
MAX_COMBINATIONS = 16

#: Monte Carlo standard error of a posterior weight (from the bridge estimates' errors) above
#: which the verdict is "warn", and above which it is "fail" (the weights must be right to
#: within about 0.05).
WEIGHT_MCSE_WARN, WEIGHT_MCSE_FAIL = 0.02, 0.05

class TooManyCombinations(ValueError):
    """The claims' hypotheses make more combinations than :data:`MAX_COMBINATIONS`."""


# --- The combinations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Combination:
    """One hypothesis for each claim that has competing hypotheses.

    ``choice[j]`` is the index of the hypothesis chosen for ``claims[j]``; ``prior_weight``
    is the product of the chosen hypotheses' (normalised) weights."""

    index: int
    claims: tuple[str, ...]
    choice: tuple[int, ...]
    hypotheses: tuple[str, ...]
    prior_weight: float

    @property
    def label(self) -> str:
        return ", ".join(f"{c}={h}" for c, h in zip(self.claims, self.hypotheses))


def combinations(scenario: Scenario, limit: int = MAX_COMBINATIONS) -> list[Combination]:
    """Every combination of one hypothesis per claim with competing hypotheses, in the
    claims' order (the last claim's hypothesis varying fastest); one empty combination when
    no claim has hypotheses. Raises :class:`TooManyCombinations` above ``limit``: each
    combination costs one sampling run."""
    claims = [c for c in scenario.claims if c.hypotheses]
    count = math.prod(len(c.hypotheses) for c in claims)
    if count > limit:
        sizes = " x ".join(f"{len(c.hypotheses)} ({c.id})" for c in claims)
        raise TooManyCombinations(
            f"{count} combinations of competing hypotheses ({sizes}) exceed the limit of {limit}: each "
            "combination is one sampling run. Merge hypotheses, or give fewer claims competing hypotheses.")
    out = []
    for i, choice in enumerate(itertools.product(*(range(len(c.hypotheses)) for c in claims))):
        chosen = [c.hypotheses[k] for c, k in zip(claims, choice)]
        out.append(Combination(i, tuple(c.id for c in claims), tuple(choice), tuple(h.id for h in chosen),
                               float(math.prod(h.weight for h in chosen))))
    return out


# --- The numbers of each combination --------------------------------------------------------------


def conditional_numbers(compiled: CompiledModel, combination: Combination) -> np.ndarray:
    """The scenario's numbers with each mixture collapsed onto the combination's hypothesis:
    weight 1 for it, exactly 0 for the others (PyMC's mixture density is then exactly the
    chosen component's, and so is its gradient)."""
    parts = {}
    for claim, k in zip(combination.claims, combination.choice):
        where = compiled.numbers.slots[weights_label(claim)]
        one_hot = np.zeros(where.stop - where.start)
        one_hot[k] = 1.0
        parts[weights_label(claim)] = one_hot
    return compiled.numbers.with_parts(parts)


# --- Bridge sampling ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BridgeEstimate:
    """``log Z`` with its approximate relative mean-squared error (Frühwirth-Schnatter 2004):
    ``relative_error = sqrt(re2)`` is the relative error of ``Z``, i.e. about the standard
    error of ``log Z``."""

    log_marginal: float
    relative_error: float
    iterations: int
    converged: bool
    n_posterior: int
    n_proposal: int
    ess_posterior: float

    @property
    def log_marginal_se(self) -> float:
        return self.relative_error


def _ess(chains_draws: np.ndarray) -> float:
    import arviz as az

    if chains_draws.shape[1] < 4 or not np.all(np.isfinite(chains_draws)) or np.ptp(chains_draws) == 0:
        return float(chains_draws.size)
    return float(az.ess(chains_draws, method="mean"))


def _logmeanexp(a: np.ndarray) -> float:
    from scipy.special import logsumexp

    return float(logsumexp(a) - math.log(a.size))


def bridge_sampling(draws: np.ndarray, logp: Callable[[np.ndarray], np.ndarray], rng: np.random.Generator, *,
                    logp_draws: np.ndarray | None = None, method: str = "normal", tol: float = 1e-10,
                    maxiter: int = 1000) -> BridgeEstimate:
    """``log`` of the normalising constant of ``exp(logp)`` from MCMC ``draws`` of it,
    shaped (chains, draws, dim) on the unconstrained space.

    As the R package bridgesampling (``use_neff = TRUE``): the first half of each chain fits
    a multivariate normal (mean ``m``, covariance ``L L^T``), as many proposal points as there
    are draws in the second halves are drawn from it, and Meng & Wong's optimal bridge
    function is found by their fixed-point iteration

        r <- mean_j[ l2_j / (s1 l2_j + s2 r) ] / mean_i[ 1 / (s1 l1_i + s2 r) ],

    with ``l = q / g`` at the second-half draws (``l1``) and at the proposal points (``l2``),
    ``s1, s2`` the shares of the draws' effective size and of the proposals. It is run in
    log space (no overflow however far ``log q`` is from 0). Splitting keeps the proposal
    independent of the draws the estimate uses.

    ``method="normal"``: ``g`` is that normal. ``method="warp3"`` (Meng & Schilling 2002, the
    package's "warp3"): the posterior is standardised by ``m, L`` and symmetrised,
    ``q~(x) = |L| (q(m + L x) + q(m - L x)) / 2``, which has the same normalising constant
    and matches the normal ``g = N(0, I)`` in its first three moments: a smaller error for
    skewed posteriors (transformed scales, variances) at three density evaluations per
    point instead of one.

    The relative error is Frühwirth-Schnatter's (2004), as bridgesampling's ``error_measures``:
    a proposal term (independent points) plus a posterior term whose autocorrelation enters
    through the effective size of ``f2 = g / (s1 p + s2 g)`` over the chains (where the R
    package uses coda's ``spectrum0.ar``). Over 10 repeated fits it matched the actual spread
    of ``log Z`` (default scenario, 4 chains: 0.030 measured vs 0.031 reported with "normal",
    0.019 vs 0.026 with "warp3"; the issue's model: 0.011 vs 0.010).

    ``logp_draws`` (chains, draws): ``logp`` at ``draws`` if already known (nutpie records it
    for every draw, ``sample_stats.logp``), which saves those evaluations.
    """
    from scipy.special import logsumexp

    if method not in ("normal", "warp3"):
        raise ValueError(f"unknown bridge sampling method {method!r}")
    draws = np.asarray(draws, dtype=float)
    _, n, dim = draws.shape
    if n < 8:
        raise ValueError("bridge sampling needs at least 8 draws per chain")
    half = n // 2
    fit = draws[:, :half].reshape(-1, dim)
    post = draws[:, half:]
    n1 = post.shape[0] * post.shape[1]
    n2 = n1
    mean = fit.mean(axis=0)
    cov = np.atleast_2d(np.cov(fit, rowvar=False))
    cov = cov + 1e-12 * np.diag(np.maximum(np.diag(cov), 1e-300))
    chol = np.linalg.cholesky(cov)
    log_det = float(np.log(np.diag(chol)).sum())  # log |L|
    log_norm_const = -0.5 * dim * math.log(2 * math.pi)

    flat_post = post.reshape(-1, dim)
    lq_post = logp(flat_post) if logp_draws is None else np.asarray(logp_draws, dtype=float)[:, half:].ravel()
    if not np.all(np.isfinite(lq_post)):
        raise ValueError("the log density is not finite at some posterior draws")
    z_post = np.linalg.solve(chol, (flat_post - mean).T).T  # standardised draws
    z_prop = rng.standard_normal((n2, dim))
    log_n01 = lambda z: -0.5 * (z * z).sum(axis=1) + log_norm_const
    if method == "normal":
        q11, q12 = lq_post, log_n01(z_post) - log_det
        q21, q22 = logp(mean + z_prop @ chol.T), log_n01(z_prop) - log_det
    else:
        mirrored = logp(2 * mean - flat_post)
        q11 = log_det + np.logaddexp(lq_post, mirrored) - math.log(2)
        q12 = log_n01(z_post)
        shift = z_prop @ chol.T
        q21 = log_det + np.logaddexp(logp(mean + shift), logp(mean - shift)) - math.log(2)
        q22 = log_n01(z_prop)

    neff = min(float(np.median([_ess(post[..., d]) for d in range(dim)])), float(n1))
    l1, l2 = q11 - q12, q21 - q22
    lstar = float(np.median(l1))
    l1, l2 = l1 - lstar, l2 - lstar
    log_s1, log_s2 = math.log(neff / (neff + n2)), math.log(n2 / (neff + n2))
    log_r, converged, iterations = 0.0, False, 0
    for iterations in range(1, maxiter + 1):
        num = l2 - np.logaddexp(log_s1 + l2, log_s2 + log_r)
        den = -np.logaddexp(log_s1 + l1, log_s2 + log_r)
        new = _logmeanexp(num) - _logmeanexp(den)
        done = abs(new - log_r) < tol
        log_r = new
        if done:
            converged = True
            break
    log_z = log_r + lstar

    # Frühwirth-Schnatter's relative mean-squared error, s1 and s2 by the plain counts as
    # bridgesampling's error_measures does.
    s1, s2 = n1 / (n1 + n2), n2 / (n1 + n2)
    lp_p, lp_g = q11 - log_z, q21 - log_z  # normalised posterior density at draws / proposals
    log_f1 = lp_g - np.logaddexp(math.log(s1) + lp_g, math.log(s2) + q22)
    log_f2 = q12 - np.logaddexp(math.log(s1) + lp_p, math.log(s2) + q12)

    def relative(log_f: np.ndarray) -> np.ndarray:  # f / mean(f)
        return np.exp(log_f - logsumexp(log_f) + math.log(log_f.size))

    f2 = relative(log_f2).reshape(post.shape[:2])
    ess_f2 = min(_ess(f2), float(n1))
    re2 = float(np.var(relative(log_f1), ddof=1)) / n2 + float(np.var(f2, ddof=1)) / ess_f2
    return BridgeEstimate(log_z, math.sqrt(re2), iterations, converged, n1, n2, neff)


# --- The conditional fits ---------------------------------------------------------------------------


@dataclass
class ConditionalFit:
    """The posterior given one combination of hypotheses, with its evidence and diagnostics."""

    combination: Combination
    tree: object  # xarray.DataTree: posterior, sample_stats (nutpie's)
    unconstrained: np.ndarray  # (chain, draw, dim): the sampler's own coordinates
    bridge: BridgeEstimate | None  # None: no evidence (log Z = 0 exactly) or a single combination
    diagnostics: Diagnostics
    sampling_seconds: float
    bridge_seconds: float
    leapfrog_steps: int | None

    @property
    def log_evidence(self) -> float:
        return 0.0 if self.bridge is None else self.bridge.log_marginal

    @property
    def log_evidence_se(self) -> float:
        return 0.0 if self.bridge is None else self.bridge.relative_error


def plan(settings: SamplerSettings, n_combinations: int, budget: float | None = 2.0,
         min_draws: int = 200) -> SamplerSettings:
    """Settings of each conditional fit. ``budget``: total sampling iterations of all fits
    as a multiple of one run's (tuning included); each fit keeps the run's tuning and gets
    an equal share of the draws, at least ``min_draws`` per chain (bridge sampling splits
    them in halves). ``None``: every fit as long as the run."""
    if budget is None or n_combinations <= 1:
        return settings
    per_fit = budget * (settings.tune + settings.draws) / n_combinations - settings.tune
    return replace(settings, draws=int(max(min_draws, min(settings.draws, math.floor(per_fit)))))


def has_evidence(scenario: Scenario) -> bool:
    """Whether any indicator has an observation: without one the model has no likelihood,
    every ``Z_c`` is 1 and the posterior weights are the prior weights, exactly."""
    return Evidence.from_scenario(scenario).z.size > 0


# --- Weighing, and the mixture posterior -------------------------------------------------------------


@dataclass
class Weighing:
    """The combinations, their conditional fits, and their posterior weights."""

    scenario: Scenario
    combinations: list[Combination]
    fits: list[ConditionalFit]
    exact: bool  # no evidence: weights are the prior weights exactly
    compile_seconds: float
    settings: SamplerSettings  # of each conditional fit
    messages: list[str] = field(default_factory=list)

    @property
    def prior_weights(self) -> np.ndarray:
        return np.array([c.prior_weight for c in self.combinations])

    @property
    def log_evidence(self) -> np.ndarray:
        return np.array([f.log_evidence for f in self.fits])

    @property
    def weights(self) -> np.ndarray:
        """``P(c | y) = pi_c Z_c / sum_d pi_d Z_d``."""
        logw = np.log(self.prior_weights) + self.log_evidence
        w = np.exp(logw - logw.max())
        return w / w.sum()

    @property
    def weights_mcse(self) -> np.ndarray:
        """Monte Carlo standard errors of :attr:`weights` from the bridge estimates' errors
        (independent fits; delta method: d w_c / d log Z_d = w_c (delta_cd - w_d))."""
        w = self.weights
        se = np.array([f.log_evidence_se for f in self.fits])
        jac = np.diag(w) - np.outer(w, w)
        return np.sqrt((jac ** 2) @ (se ** 2))

    def hypothesis_weights(self) -> dict[str, dict[str, tuple[float, float]]]:
        """Per claim, per hypothesis: posterior weight and its MCSE (sums over combinations)."""
        w, fits = self.weights, self.fits
        se = np.array([f.log_evidence_se for f in fits])
        jac = np.diag(w) - np.outer(w, w)
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for j, claim in enumerate(c for c in self.scenario.claims if c.hypotheses):
            out[claim.id] = {}
            for k, h in enumerate(claim.hypotheses):
                member = np.array([c.choice[j] == k for c in self.combinations], dtype=float)
                out[claim.id][h.id] = (float(member @ w), float(np.sqrt(((member @ jac) ** 2) @ se ** 2)))
        return out

    def diagnostics(self) -> tuple[str, list[str]]:
        """One verdict over all fits: the worst fit's (each enters the weights through its
        evidence), made worse when the weights' Monte Carlo error is large or a bridge
        iteration did not converge. Loud by design: a fit that did not mix, or evidence that
        bridge sampling could not pin down, fails the run."""
        order = ["ok", "warn", "fail"]
        verdict, messages = "ok", list(self.messages)
        for f in self.fits:
            d = f.diagnostics
            if d.verdict != "ok":
                verdict = max(verdict, d.verdict, key=order.index)
                messages += [f"[{f.combination.label}] {m}" if f.combination.claims else m for m in d.messages]
            if f.bridge is not None and not f.bridge.converged:
                verdict = "fail"
                messages.append(f"[{f.combination.label}] bridge sampling did not converge.")
        worst = float(self.weights_mcse.max()) if self.fits else 0.0
        if worst > WEIGHT_MCSE_FAIL or not np.isfinite(worst):
            verdict = "fail"
            messages.append(f"a hypothesis weight has Monte Carlo error {worst:.3f}: run more draws.")
        elif worst > WEIGHT_MCSE_WARN:
            verdict = max(verdict, "warn", key=order.index)
            messages.append(f"a hypothesis weight has Monte Carlo error {worst:.3f} > {WEIGHT_MCSE_WARN}.")
        return verdict, messages

    def assemble(self, chains: int, draws: int, seed: int | None = None):
        """The mixture posterior as one (chain, draw) sample for the forecasts: from fit
        ``c``, ``round(P(c | y) x chains x draws)`` draws (largest remainders; evenly spaced
        within the fit, repeated only when a fit has fewer draws than its share), shuffled.
        Each draw keeps where it came from (``combination``, ``hypothesis[hypothesis_claim]``,
        ``source_chain``, ``source_draw``); ``sample_stats`` follows the same draws. The
        chains of this sample are not Markov chains: judge the sampling by :meth:`diagnostics`
        (per fit), not by R-hat over these."""
        import xarray as xr

        total = chains * draws
        w = self.weights
        counts = np.floor(w * total).astype(int)
        rest = total - counts.sum()
        counts[np.argsort(-(w * total - counts), kind="stable")[:rest]] += 1
        rng = np.random.default_rng([0 if seed is None else seed, 10_000])
        pieces, stats, origin = [], [], []
        for f, m in zip(self.fits, counts):
            if m == 0:
                continue
            post, ss = f.tree["posterior"].dataset, f.tree["sample_stats"].dataset
            nc, nd = post.sizes["chain"], post.sizes["draw"]
            n = nc * nd
            idx = np.concatenate([np.tile(np.arange(n), m // n),
                                  np.round(np.linspace(0, n - 1, m % n)).astype(int) if m % n else []]).astype(int)
            ci, di = idx // nd, idx % nd
            sel = {"chain": xr.DataArray(post["chain"].values[ci], dims="sample"),
                   "draw": xr.DataArray(post["draw"].values[di], dims="sample")}
            pieces.append(post.sel(sel).drop_vars(["chain", "draw"]))
            keep = [v for v in ss.data_vars if ss[v].dims[:2] == ("chain", "draw")]
            stats.append(ss[keep].sel(sel).drop_vars(["chain", "draw"]))
            origin.append(np.stack([np.full(m, f.combination.index), ci, di], axis=1))
        posterior = xr.concat(pieces, dim="sample", data_vars="all", coords="minimal", compat="override",
                              join="override")
        sample_stats = xr.concat(stats, dim="sample", data_vars="all", coords="minimal", compat="override",
                                 join="override")
        origin_arr = np.concatenate(origin)
        order = rng.permutation(total)
        claims = [c for c in self.scenario.claims if c.hypotheses]
        choice = np.array([self.combinations[k].choice for k in origin_arr[:, 0]]).reshape(total, len(claims))

        def shaped(ds):
            """(sample, ...) in the shuffled order -> (chain, draw, ...)."""
            out = xr.Dataset(coords={"chain": np.arange(chains), "draw": np.arange(draws)})
            for name, var in ds.data_vars.items():
                values = var.values[order]
                out[name] = (("chain", "draw") + var.dims[1:], values.reshape((chains, draws) + values.shape[1:]))
            for name, coord in ds.coords.items():
                if "sample" not in coord.dims:
                    out = out.assign_coords({name: coord})
            out.attrs = dict(ds.attrs)
            return out

        posterior = shaped(posterior.assign(
            combination=("sample", origin_arr[:, 0]), source_chain=("sample", origin_arr[:, 1]),
            source_draw=("sample", origin_arr[:, 2]),
            hypothesis=(("sample", "hypothesis_claim"), choice)).assign_coords(
                hypothesis_claim=[c.id for c in claims]))
        per_claim = self.hypothesis_weights()
        posterior.attrs.update({
            "hypothesis_labels": [f"{c}/{h}" for c, hs in per_claim.items() for h in hs],
            "hypothesis_weights": [w for hs in per_claim.values() for w, _ in hs.values()],
            "hypothesis_weights_mcse": [m for hs in per_claim.values() for _, m in hs.values()],
            "combinations": [c.label for c in self.combinations],
            "combination_weights": [float(x) for x in w],
            "combination_weights_mcse": [float(x) for x in self.weights_mcse],
            "combination_log_evidence": [float(x) for x in self.log_evidence],
            "exact_weights": int(self.exact),
        })
        sample_stats = shaped(sample_stats)
        return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": sample_stats})

    def combined_diagnostics(self) -> Diagnostics:
        """One :class:`~forecast.posterior.diagnostics.Diagnostics` for the run: the fits'
        worst R-hat and smallest ESS (each named with its combination), their divergences and
        sampling cost summed, and :meth:`diagnostics`' verdict and messages."""
        fits = self.fits
        label = lambda f, where: f"{where} ({f.combination.label})" if f.combination.claims else where  # noqa: E731
        worst_rhat = max(fits, key=lambda f: f.diagnostics.max_rhat)
        worst_bulk = min(fits, key=lambda f: f.diagnostics.min_ess_bulk)
        worst_tail = min(fits, key=lambda f: f.diagnostics.min_ess_tail)
        steps = [f.leapfrog_steps for f in fits]
        d = replace(
            fits[0].diagnostics,
            divergences=sum(f.diagnostics.divergences for f in fits),
            divergences_per_chain=[x for f in fits for x in f.diagnostics.divergences_per_chain],
            max_rhat=worst_rhat.diagnostics.max_rhat, min_ess_bulk=worst_bulk.diagnostics.min_ess_bulk,
            min_ess_tail=worst_tail.diagnostics.min_ess_tail,
            worst={"rhat": label(worst_rhat, worst_rhat.diagnostics.worst["rhat"]),
                   "ess_bulk": label(worst_bulk, worst_bulk.diagnostics.worst["ess_bulk"]),
                   "ess_tail": label(worst_tail, worst_tail.diagnostics.worst["ess_tail"])},
            sampling_seconds=sum(f.sampling_seconds + f.bridge_seconds for f in fits),
            leapfrog_steps=None if None in steps else sum(steps),
            steps_per_iteration=None if None in steps else sum(steps) / sum(
                f.diagnostics.chains * (f.diagnostics.draws + f.diagnostics.tune) for f in fits),
            fits=len(fits),
        )
        d.verdict, d.messages = self.diagnostics()
        if d.verdict == "ok" and len(fits) > 1:
            d.messages = [f"Each of the {len(fits)} combinations of competing hypotheses was fitted on its own; "
                          "R-hat, effective sample sizes and divergences are within the usual thresholds in every "
                          "fit, and the hypotheses' weights are precise."]
        return d

    def expectation(self, fn: Callable[[object], np.ndarray]) -> tuple[float, float]:
        """``E[fn]`` under the mixture posterior, as ``sum_c P(c|y) E_c[fn]`` from every draw
        of every fit (no resampling), with its MCSE: each fit's own MCSE (ArviZ, over its
        chains) and the weights' error, ``sum_c w_c^2 mcse_c^2 + Var(sum_c w_c m_c)``.
        ``fn`` maps a fit's posterior dataset to an array (chain, draw)."""
        import arviz as az

        w = self.weights
        means, mcses = [], []
        for f in self.fits:
            v = np.asarray(fn(f.tree["posterior"].dataset), dtype=float)
            means.append(float(v.mean()))
            mcses.append(float(az.mcse(v)) if np.ptp(v) > 0 else 0.0)
        means_a, mcses_a = np.array(means), np.array(mcses)
        se = np.array([f.log_evidence_se for f in self.fits])
        jac = np.diag(w) - np.outer(w, w)
        weight_part = ((jac @ means_a) ** 2) @ se ** 2
        return float(w @ means_a), float(np.sqrt((w ** 2) @ mcses_a ** 2 + weight_part))


def weigh_hypotheses(scenario: Scenario, compiled: CompiledModel, settings: SamplerSettings, *,
                     budget: float | None = 2.0, limit: int = MAX_COMBINATIONS, method: str = "normal",
                     progress=None) -> Weighing:
    """Fit the model once per combination of hypotheses (one compiled model, new numbers per
    fit), estimate each combination's evidence by bridge sampling (exactly 1 without data),
    and weigh them by Bayes' rule. ``budget`` caps the fits' total sampling iterations as a
    multiple of one run's (:func:`plan`); ``method`` is bridge sampling's ("normal": one
    density evaluation per proposal point; "warp3": three, and about 2.5x less variance)."""
    combos = combinations(scenario, limit)
    exact = not has_evidence(scenario)
    per_fit = plan(settings, len(combos), budget)
    fits = []
    for combo in combos:
        numbers = conditional_numbers(compiled, combo)
        fit_settings = reseed(per_fit, 7919, combo.index)
        sampled = compiled.sample(fit_settings, numbers=numbers, progress=progress, unconstrained=True)
        stats = sampled.tree["sample_stats"].dataset
        unconstrained = np.asarray(stats["unconstrained_draw"].values, dtype=float)
        t1 = time.perf_counter()
        bridge = None
        if not exact and len(combos) > 1:
            bridge = bridge_sampling(unconstrained, compiled.log_density(numbers),
                                     np.random.default_rng(fit_settings.seed), logp_draws=stats["logp"].values,
                                     method=method)
        bridge_seconds = time.perf_counter() - t1
        post = sampled.tree["posterior"].dataset
        explored = [v for v in PARAMETERS if v in post]
        diag = diagnose(post, stats, explored, fit_settings, sampled.sampling_seconds, sampled.leapfrog_steps)
        fits.append(ConditionalFit(combo, sampled.tree, unconstrained, bridge, diag, sampled.sampling_seconds,
                                   bridge_seconds, sampled.leapfrog_steps))
    return Weighing(scenario, combos, fits, exact, compiled.compile_seconds, per_fit)
