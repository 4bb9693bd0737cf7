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
conditional posterior has one hypothesis per claim, so it has no mode to get stuck in. The
forecasts are made from draws of each conditional fit in proportion to ``P(c | y)``
(:meth:`Weighing.assemble`).

**The evidence of each combination.** Only ratios ``Z_c / Z_d`` matter. The model given ``c``
and the model given any other prior ``b`` on the same claims differ in that prior alone, so
their unnormalised posterior densities have the exactly known ratio

    l_c(beta) = prod_j f_{c_j}(beta_j) / b_j(beta_j)

in the effects ``beta_j`` of the claims with hypotheses: a handful of numbers, however many
parameters the model has. Bridge sampling between two such fits (:func:`bridge`, Meng & Wong
1996) estimates ``Z_c / Z_b`` from their draws of those few effects. The second fit is a
**reference**: the same model with a broad, single-mode prior on each claim with hypotheses
(:func:`forecast.scenario.priors.reference_prior`, a Student-t spanning every hypothesis). Its
posterior overlaps each hypothesis's, however far apart the hypotheses are from each other,
which two hypotheses' own fits need not do. (A bridge with a normal proposal over all the
model's parameters, the textbook route, had an error of 0.17 in ``log Z`` on the default
scenario's ~200 dimensions: far too much.) Claims the evidence cannot reach (no indicator
downstream) leave ``Z_c`` unchanged and are left out of ``l_c``; without any such claim, or
without evidence, every ``Z_c`` is equal and the weights are the prior weights, exactly, with
no reference fit.

**Errors.** Each estimate's error (Frühwirth-Schnatter 2004) has a part from the
combination's own draws and a part from the reference's, which every estimate shares; both
are estimated from each draw's influence on the estimate, by batch means over the chains
(autocorrelation included), and the shared part gives the estimates' covariance
(:attr:`Weighing.evidence_covariance`). The weights' Monte Carlo errors follow by the delta
method.

Nothing is recompiled per combination. The weights of every mixture are entries of the one
shared vector of the scenario's numbers (``scenario_numbers``,
:class:`forecast.model.inputs.GraphInputs`, where each claim's weights are recorded by label),
and each mixture has the reference as one more component, of weight 0 in the scenario's own
numbers. A combination sets its hypotheses' weights to 1 and the others to 0 (the reference
fit sets the reference's to 1): PyMC's mixture density is ``logsumexp(log w + log f_k)``, so
with a one-hot ``w`` it is exactly the chosen component's (``log 0 = -inf`` drops out of the
sum and of its gradient), and :class:`forecast.posterior.sampling.CompiledModel` samples it
with the new numbers.

Cost: one NUTS run per combination and one for the reference, each as long as a run, or
sharing a budget of runs' iterations where one is given (:func:`plan`; a backtest's origins);
the bridges take milliseconds.

What the diagnostics judge: every fit, the reference's included (R-hat, ESS, divergences, as
a run's), each bridge iteration's convergence, and the weights' Monte Carlo error. The mixture
itself is never sampled, so no mode can go unvisited unnoticed: each hypothesis has its own fit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from forecast.model.build import Evidence, kept_nodes, weights_label
from forecast.posterior.diagnostics import PARAMETERS, Diagnostics, diagnose, judge, judge_ess
from forecast.posterior.sampling import CompiledModel, reseed
from forecast.scenario import Scenario
from forecast.scenario.priors import reference_prior
from forecast.scenario.schema import LIMITS
from forecast.settings import SamplerSettings
from forecast.streams import Key, RandomStreams

#: At most this many combinations of hypotheses are fitted (one NUTS run each). Beyond it the
#: cost grows past any budget (it multiplies with every claim given hypotheses): the scenario
#: should merge hypotheses or state fewer claims as competing.
MAX_COMBINATIONS = LIMITS["combinations"]

#: Monte Carlo standard error of a posterior weight (from the bridge estimates' errors) above
#: which the verdict is "warn", and above which it is "fail" (the weights must be right to
#: within about 0.05).
WEIGHT_MCSE_WARN, WEIGHT_MCSE_FAIL = 0.02, 0.05


#: Said in the posterior's and sample_stats' attributes of a run that weighed competing
#: hypotheses, where ArviZ users look: R-hat over these chains read 1.00 where a fit's was 1.05.
RESAMPLED_CHAINS = (
    "chain and draw index a weighted resample of one fit per combination of competing hypotheses, "
    "shuffled: they are not Markov chains, so R-hat, ESS, rank and energy plots over them say nothing "
    "about the sampling; summary.json's diagnostics judge each fit (combination, source_chain and "
    "source_draw say where each draw came from)")


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


def reference_combination(scenario: Scenario) -> Combination:
    """The reference "combination": each claim with hypotheses given its reference prior, the
    mixture's last component (:func:`forecast.scenario.priors.reference_prior`)."""
    claims = [c for c in scenario.claims if c.hypotheses]
    return Combination(-1, tuple(c.id for c in claims), tuple(len(c.hypotheses) for c in claims),
                       ("reference",) * len(claims), 0.0)


def evidence_claims(scenario: Scenario) -> list[str]:
    """The claims with hypotheses whose effect the evidence depends on: those into a node
    upstream of an indicator. The others leave every combination's evidence the same."""
    kept = {scenario.node_ids[i] for i in kept_nodes(scenario)}
    return [c.id for c in scenario.claims if c.hypotheses and c.effect in kept]


def log_density_ratio(scenario: Scenario, combination: Combination, effects: dict[str, np.ndarray],
                      claims: list[str]) -> np.ndarray:
    """``log l_c = sum_j log f_{c_j}(beta_j) - log b_j(beta_j)`` over ``claims``, at draws of
    their effects (``effects[claim]``: (chains, draws)): the log ratio of the posterior
    densities given ``combination`` and given the reference priors, up to constants."""
    by_id = {c.id: c for c in scenario.claims}
    out = 0.0
    for claim, k in zip(combination.claims, combination.choice):
        if claim not in claims:
            continue
        hypotheses = by_id[claim].hypotheses
        x = np.asarray(effects[claim], dtype=float)
        out = out + hypotheses[k].prior.scipy().logpdf(x) - reference_prior(list(hypotheses)).scipy().logpdf(x)
    return np.broadcast_to(np.asarray(out, dtype=float), next(iter(effects.values())).shape)


# --- The numbers of each combination --------------------------------------------------------------


def conditional_numbers(compiled: CompiledModel, combination: Combination) -> np.ndarray:
    """The scenario's numbers with each mixture collapsed onto the combination's hypothesis
    (or the reference prior, the mixture's last component): weight 1 for it, exactly 0 for the
    others (PyMC's mixture density is then exactly the chosen component's, and so is its
    gradient)."""
    parts = {}
    for claim, k in zip(combination.claims, combination.choice):
        where = compiled.numbers.slots[weights_label(claim)]
        one_hot = np.zeros(where.stop - where.start)
        one_hot[k] = 1.0
        parts[weights_label(claim)] = one_hot
    return compiled.numbers.with_parts(parts)


# --- Bridge sampling between two fits -----------------------------------------------------------


@dataclass(frozen=True)
class BridgeEstimate:
    """``log(Z_target / Z_reference)`` with its approximate relative mean-squared error
    (Frühwirth-Schnatter 2004): ``relative_error = sqrt(re2)`` is the relative error of the
    ratio, i.e. about the standard error of its log."""

    log_ratio: float
    relative_error: float
    iterations: int
    converged: bool
    ess_target: float
    ess_reference: float


def batch_mean_covariance(values: np.ndarray) -> np.ndarray:
    """The covariance of the means of ``values`` (chains, draws, k) over all chains and draws,
    autocorrelation included, by batch means: each chain cut into batches of about
    ``sqrt(draws)`` draws, whose means are nearly independent (Flegal & Jones 2010; Vats,
    Flegal & Jones 2019 for the multivariate case)."""
    values = np.asarray(values, dtype=float)
    chains, draws, k = values.shape
    size = max(1, int(math.sqrt(draws)))
    per_chain = draws // size
    means = values[:, draws - per_chain * size:].reshape(chains, per_chain, size, k).mean(axis=2).reshape(-1, k)
    if means.shape[0] < 2:
        return np.full((k, k), np.inf)
    return np.atleast_2d(np.cov(means, rowvar=False)) / means.shape[0]


def _logmeanexp(a: np.ndarray) -> float:
    from scipy.special import logsumexp

    return float(logsumexp(a) - math.log(a.size))


def bridge(log_l_target: np.ndarray, log_l_reference: np.ndarray, ess_target: float, ess_reference: float, *,
           tol: float = 1e-10, maxiter: int = 1000) -> tuple[BridgeEstimate, np.ndarray]:
    """``log(Z_1 / Z_2)`` for two densities ``q_1, q_2`` whose ratio ``l = q_1 / q_2`` is known,
    from MCMC draws of each: ``log_l_target`` is ``log l`` at the draws of ``p_1 = q_1 / Z_1``
    and ``log_l_reference`` at those of ``p_2`` (chains, draws), with the draws' effective
    sizes. Meng & Wong's optimal bridge, by their fixed-point iteration

        r <- mean_2[ l / (s1 l + s2 r) ] / mean_1[ 1 / (s1 l + s2 r) ],

    ``s1, s2`` the shares of the effective sizes, run in log space (no overflow however far
    ``l`` is from 1). Also returns each reference draw's influence on ``log r``, (chains,
    draws): estimates that share the reference draws share that part of their errors
    (:func:`evidence_covariance`). The relative error is Frühwirth-Schnatter's: the variance
    of the means of ``f1 = p1 / (s1 p1 + s2 p2)`` over the reference draws and of
    ``f2 = p2 / (s1 p1 + s2 p2)`` over the target draws, relative to their squared means,
    by batch means."""
    l1 = np.asarray(log_l_target, dtype=float)
    l2 = np.asarray(log_l_reference, dtype=float)
    if not np.all(np.isfinite(l1)):
        raise ValueError("the density ratio is not finite at some of the target's draws")
    lstar = float(np.median(l1))
    a1, a2 = (l1 - lstar).ravel(), (l2 - lstar).ravel()
    n1, n2 = min(ess_target, a1.size), min(ess_reference, a2.size)
    log_s1, log_s2 = math.log(n1 / (n1 + n2)), math.log(n2 / (n1 + n2))
    log_r, converged, iterations = 0.0, False, 0
    for iterations in range(1, maxiter + 1):
        num = a2 - np.logaddexp(log_s1 + a2, log_s2 + log_r)
        den = -np.logaddexp(log_s1 + a1, log_s2 + log_r)
        new = _logmeanexp(num) - _logmeanexp(den)
        done = abs(new - log_r) < tol
        log_r = new
        if done or not math.isfinite(new):
            converged = done and math.isfinite(new)
            break
    if not converged:
        nan = np.full(l2.shape, np.nan)
        return BridgeEstimate(log_r + lstar, math.inf, iterations, False, n1, n2), nan
    # p1 / p2 = l / r at any point: f1 = (l / r) / (s1 l / r + s2) at the reference's draws,
    # f2 = 1 / (s1 l / r + s2) at the target's.
    log_f1 = (l2 - lstar - log_r) - np.logaddexp(log_s1 + l2 - lstar - log_r, log_s2)
    log_f2 = -np.logaddexp(log_s1 + l1 - lstar - log_r, log_s2)
    influence_reference = np.exp(log_f1 - _logmeanexp(log_f1)) - 1.0
    influence_target = np.exp(log_f2 - _logmeanexp(log_f2)) - 1.0
    re2 = (float(batch_mean_covariance(influence_reference[..., None])[0, 0])
           + float(batch_mean_covariance(influence_target[..., None])[0, 0]))
    return BridgeEstimate(log_r + lstar, math.sqrt(re2), iterations, True, n1, n2), influence_reference


def evidence_covariance(estimates: list[BridgeEstimate], reference_influence: list[np.ndarray]) -> np.ndarray:
    """The covariance of several ``log(Z_c / Z_ref)`` estimates against one reference fit:
    each its own relative error squared on the diagonal; off it, the covariance of the means of
    their reference draws' influences (the part of their errors they share)."""
    se = np.array([e.relative_error for e in estimates])
    cov = np.diag(se ** 2)
    if len(estimates) > 1 and all(np.all(np.isfinite(i)) for i in reference_influence):
        shared = batch_mean_covariance(np.stack(reference_influence, axis=-1))
        off = ~np.eye(len(estimates), dtype=bool)
        cov[off] = shared[off]
    return cov


# --- The conditional fits ---------------------------------------------------------------------------


@dataclass
class ConditionalFit:
    """The posterior given one combination of hypotheses (or the reference priors), with its
    evidence against the reference's and its diagnostics."""

    combination: Combination
    tree: object  # xarray.DataTree: posterior, sample_stats (nutpie's)
    bridge: BridgeEstimate | None  # None: weights exact (no evidence reaches the hypotheses), or the reference
    diagnostics: Diagnostics
    sampling_seconds: float
    leapfrog_steps: int | None

    @property
    def log_evidence(self) -> float:
        """``log(Z_c / Z_reference)``; 0 when the weights are exact."""
        return 0.0 if self.bridge is None else self.bridge.log_ratio

    @property
    def log_evidence_se(self) -> float:
        return 0.0 if self.bridge is None else self.bridge.relative_error


def plan(settings: SamplerSettings, n_combinations: int, reference: bool, budget: float | None,
         min_draws: int = 200) -> tuple[SamplerSettings, SamplerSettings]:
    """Settings of each combination's fit and of the reference fit. ``budget``: total sampling
    iterations of all fits as a multiple of one run's (tuning included). Every fit keeps the
    run's tuning and the fits share the rest equally, at least ``min_draws`` and at most the
    run's draws each: the reference's draws are one side of every bridge, and its share of
    a weight's Monte Carlo error, common to all of them, shrinks only with them (with 200
    draws per chain against the combinations' 650 it dominated, and the weights missed a
    reference computed another way by up to 0.05). ``None``: every fit as long as the run."""
    if budget is None or n_combinations + reference <= 1:
        return settings, settings
    per_fit = budget * (settings.tune + settings.draws) / (n_combinations + reference) - settings.tune
    per = replace(settings, draws=int(max(min(min_draws, settings.draws), min(settings.draws, math.floor(per_fit)))))
    return per, per


def has_evidence(scenario: Scenario) -> bool:
    """Whether any indicator has an observation: without one the model has no likelihood,
    every ``Z_c`` is 1 and the posterior weights are the prior weights, exactly."""
    return Evidence.from_scenario(scenario).z.size > 0


# --- Weighing, and the mixture posterior -------------------------------------------------------------


@dataclass
class Weighing:
    """The combinations, their conditional fits, the reference fit, and the posterior weights."""

    scenario: Scenario
    combinations: list[Combination]
    fits: list[ConditionalFit]
    exact: bool  # no evidence reaches the hypotheses: weights are the prior weights exactly
    compile_seconds: float
    settings: SamplerSettings  # of each fit
    reference: ConditionalFit | None = None  # the fit under the reference priors (None when exact)
    covariance: np.ndarray | None = None  # of the log evidence estimates; None: independent
    messages: list[str] = field(default_factory=list)

    @property
    def prior_weights(self) -> np.ndarray:
        return np.array([c.prior_weight for c in self.combinations])

    @property
    def log_evidence(self) -> np.ndarray:
        """``log(Z_c / Z_reference)`` per combination (0 for all when exact)."""
        return np.array([f.log_evidence for f in self.fits])

    @property
    def evidence_covariance(self) -> np.ndarray:
        """The covariance of the :attr:`log_evidence` estimates' errors: the shared reference
        correlates them (:func:`evidence_covariance`)."""
        if self.covariance is not None:
            return self.covariance
        return np.diag(np.array([f.log_evidence_se for f in self.fits]) ** 2)

    @property
    def weights(self) -> np.ndarray:
        """``P(c | y) = pi_c Z_c / sum_d pi_d Z_d``."""
        logw = np.log(self.prior_weights) + self.log_evidence
        w = np.exp(logw - logw.max())
        return w / w.sum()

    def _weights_covariance(self) -> np.ndarray:
        """Delta method: ``d w_c / d log Z_d = w_c (delta_cd - w_d)``."""
        w = self.weights
        jac = np.diag(w) - np.outer(w, w)
        return jac @ self.evidence_covariance @ jac.T

    @property
    def weights_mcse(self) -> np.ndarray:
        """Monte Carlo standard errors of :attr:`weights`, from the evidence estimates' errors."""
        return np.sqrt(np.clip(np.diag(self._weights_covariance()), 0.0, None))

    def hypothesis_weights(self) -> dict[str, dict[str, tuple[float, float]]]:
        """Per claim, per hypothesis: posterior weight and its MCSE (sums over combinations)."""
        w, cov = self.weights, self._weights_covariance()
        out: dict[str, dict[str, tuple[float, float]]] = {}
        for j, claim in enumerate(c for c in self.scenario.claims if c.hypotheses):
            out[claim.id] = {}
            for k, h in enumerate(claim.hypotheses):
                member = np.array([c.choice[j] == k for c in self.combinations], dtype=float)
                out[claim.id][h.id] = (float(member @ w), float(np.sqrt(max(member @ cov @ member, 0.0))))
        return out

    @property
    def all_fits(self) -> list[ConditionalFit]:
        """The combinations' fits and the reference's: every fit the weights rest on."""
        return self.fits + ([self.reference] if self.reference is not None else [])

    def mixture_ess(self) -> tuple[float, float]:
        """The effective sample size of the forecasts' draws, bulk and tail: of a weighted mean
        of independent fits' means, ``1 / sum_c w_c^2 / ESS_c``, from each fit's smallest."""
        w = self.weights

        def mix(ess: list[float]) -> float:
            terms = [wc ** 2 / e if e > 0 else np.inf for wc, e in zip(w, ess) if wc > 0]
            return float(1.0 / sum(terms)) if all(np.isfinite(terms)) else float("nan")

        return (mix([f.diagnostics.min_ess_bulk for f in self.fits]),
                mix([f.diagnostics.min_ess_tail for f in self.fits]))

    def diagnostics(self) -> tuple[str, list[str]]:
        """One verdict over all fits: the worst fit's R-hat and divergences (each fit enters
        the weights through its evidence), the effective size of the mixture the forecasts draw
        from (:meth:`mixture_ess`), made worse when the weights' Monte Carlo error is large or a
        bridge did not converge. Loud by design: a fit that did not mix, or evidence that
        bridge sampling could not pin down, fails the run."""
        order = ["ok", "warn", "fail"]
        verdict, messages = "ok", list(self.messages)
        for f in self.all_fits:
            fit_verdict, fit_messages = judge(f.diagnostics, ess=False)
            if fit_verdict != "ok":
                verdict = max(verdict, fit_verdict, key=order.index)
                messages += [f"[{f.combination.label}] {m}" if f.combination.claims else m for m in fit_messages]
            if f.bridge is not None and not f.bridge.converged:
                verdict = "fail"
                messages.append(f"[{f.combination.label}] its evidence could not be estimated: the bridge to the "
                                "reference fit did not converge (their draws of the claims' effects do not overlap).")
        ess_verdict, ess_message = judge_ess(*self.mixture_ess(), self.settings.chains)
        if ess_message:
            verdict = max(verdict, ess_verdict, key=order.index)
            messages.append(ess_message)
        worst = float(self.weights_mcse.max()) if self.fits else 0.0
        if worst > WEIGHT_MCSE_FAIL or not np.isfinite(worst):
            verdict = "fail"
            messages.append(f"a hypothesis weight has Monte Carlo error {worst:.3f}: run more draws.")
        elif worst > WEIGHT_MCSE_WARN:
            verdict = max(verdict, "warn", key=order.index)
            messages.append(f"a hypothesis weight has Monte Carlo error {worst:.4f}, above {WEIGHT_MCSE_WARN}: run "
                            "more draws.")
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
        rng = RandomStreams(0 if seed is None else seed).mixture()
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
            "chains_note": RESAMPLED_CHAINS,
        })
        sample_stats = shaped(sample_stats)
        sample_stats.attrs["chains_note"] = RESAMPLED_CHAINS
        return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": sample_stats})

    def combined_diagnostics(self) -> Diagnostics:
        """One :class:`~forecast.posterior.diagnostics.Diagnostics` for the run: the fits'
        (the reference's included) worst R-hat and smallest ESS, each named with its
        combination, their divergences and sampling cost summed, and :meth:`diagnostics`'
        verdict and messages."""
        fits = self.all_fits
        label = lambda f, where: f"{where} ({f.combination.label})" if f.combination.claims else where  # noqa: E731
        worst_rhat = max(fits, key=lambda f: f.diagnostics.max_rhat)
        worst_bulk = min(self.fits, key=lambda f: f.diagnostics.min_ess_bulk)
        worst_tail = min(self.fits, key=lambda f: f.diagnostics.min_ess_tail)
        bulk, tail = self.mixture_ess()
        def mixed(fit: ConditionalFit, kind: str) -> str:  # the mixture's is the number; the one fit's is named
            if len(self.fits) == 1:
                return ""
            one = fit.diagnostics.min_ess_bulk if kind == "bulk" else fit.diagnostics.min_ess_tail
            return f"the mixture of the fits; smallest in one fit, {one:.0f}, at "

        steps = [f.leapfrog_steps for f in fits]
        d = replace(
            fits[0].diagnostics,
            divergences=sum(f.diagnostics.divergences for f in fits),
            divergences_per_chain=[x for f in fits for x in f.diagnostics.divergences_per_chain],
            max_rhat=worst_rhat.diagnostics.max_rhat, min_ess_bulk=bulk, min_ess_tail=tail,
            worst={"rhat": label(worst_rhat, worst_rhat.diagnostics.worst["rhat"]),
                   "ess_bulk": mixed(worst_bulk, "bulk") + label(worst_bulk, worst_bulk.diagnostics.worst["ess_bulk"]),
                   "ess_tail": mixed(worst_tail, "tail") + label(worst_tail, worst_tail.diagnostics.worst["ess_tail"])},
            sampling_seconds=sum(f.sampling_seconds for f in fits),
            leapfrog_steps=None if None in steps else sum(steps),
            steps_per_iteration=None if None in steps else sum(steps) / sum(
                f.diagnostics.chains * (f.diagnostics.draws + f.diagnostics.tune) for f in fits),
            fits=len(fits), reference_fit=self.reference is not None,
        )
        d.verdict, d.messages = self.diagnostics()
        if d.verdict == "ok" and len(self.fits) > 1:
            reference = " and the reference fit" if self.reference is not None else ""
            d.messages = [f"Each of the {len(self.fits)} combinations of competing hypotheses{reference} was fitted "
                          "on its own; R-hat, effective sample sizes and divergences are within the usual thresholds "
                          "in every fit, and the hypotheses' weights are precise."]
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
        jac = np.diag(w) - np.outer(w, w)
        along = jac @ means_a  # d E / d log Z
        weight_part = max(float(along @ self.evidence_covariance @ along), 0.0)
        return float(w @ means_a), float(np.sqrt((w ** 2) @ mcses_a ** 2 + weight_part))


def weigh_hypotheses(scenario: Scenario, compiled: CompiledModel, settings: SamplerSettings, *,
                     budget: float | None = None, limit: int = MAX_COMBINATIONS, progress=None,
                     informed_until: int | None = None) -> Weighing:
    """Fit the model once per combination of hypotheses and once under the reference priors
    (one compiled model, new numbers per fit), estimate each combination's evidence against
    the reference's by bridge sampling on the hypotheses' effects, and weigh them by Bayes'
    rule. Without evidence that reaches the hypotheses the weights are the prior weights,
    exactly, and there is no reference fit. Each fit is as long as a run (the draws asked for:
    with half of them per fit, the default scenario's fits ended at R-hat 1.011 and half the
    effective draws), unless ``budget`` caps the fits' total sampling iterations as a multiple
    of one run's (:func:`plan`; a backtest's many origins do)."""
    combos = combinations(scenario, limit)
    tested = evidence_claims(scenario) if has_evidence(scenario) else []
    exact = not tested or len(combos) == 1
    per_fit, per_reference = plan(settings, len(combos), not exact, budget)

    total = len(combos) + (0 if exact else 1)

    def fit(combo: Combination, key: int, own: SamplerSettings) -> ConditionalFit:
        fit_settings = reseed(own, Key.HYPOTHESIS_FIT, key)
        name = "the reference fit under broad priors" if combo.index < 0 else combo.label
        sampled = compiled.sample(fit_settings, numbers=conditional_numbers(compiled, combo), progress=progress,
                                  fit=f"fit {key + 1} of {total}: {name}" if total > 1 else "")
        post, stats = sampled.tree["posterior"].dataset, sampled.tree["sample_stats"].dataset
        explored = [v for v in PARAMETERS if v in post]
        if combo.index < 0:  # the reference: only its draws of the tested effects are used (and its divergences)
            post, explored = post[["effect"]].sel(claim=tested), ["effect"]
        diag = diagnose(post, stats, explored, fit_settings, sampled.sampling_seconds, sampled.leapfrog_steps,
                        informed_until=informed_until)
        return ConditionalFit(combo, sampled.tree, None, diag, sampled.sampling_seconds, sampled.leapfrog_steps)

    fits = [fit(combo, combo.index, per_fit) for combo in combos]
    if exact:
        return Weighing(scenario, combos, fits, True, compiled.compile_seconds, per_fit)
    reference = fit(reference_combination(scenario), len(combos), per_reference)
    ref_effects = _effects_of(reference, tested)
    ess_reference = _ess_of(ref_effects)
    estimates, influence = [], []
    for f in fits:
        effects = _effects_of(f, tested)
        estimate, shared = bridge(log_density_ratio(scenario, f.combination, effects, tested),
                                  log_density_ratio(scenario, f.combination, ref_effects, tested),
                                  _ess_of(effects), ess_reference)
        f.bridge = estimate
        estimates.append(estimate)
        influence.append(shared)
    return Weighing(scenario, combos, fits, False, compiled.compile_seconds, per_fit, reference,
                    evidence_covariance(estimates, influence))


def _effects_of(fit: ConditionalFit, claims: list[str]) -> dict[str, np.ndarray]:
    """A fit's draws (chain, draw) of the effects of ``claims``."""
    effect = fit.tree["posterior"].dataset["effect"]
    return {c: np.asarray(effect.sel(claim=c).values, dtype=float) for c in claims}


def _ess_of(effects: dict[str, np.ndarray]) -> float:
    """The draws' effective size for bridge sampling: the median over the effects of their
    ESS (as the R package bridgesampling takes it)."""
    import arviz as az

    ess = [float(az.ess(v, method="mean")) if np.ptp(v) > 0 else float(v.size) for v in effects.values()]
    return float(np.median(ess))
