"""What each answer hinges on: the claims' influence, what flips the decision, the value of
information, and the answers before any evidence.

Every number here is a property of the posterior as it is: an answer "if a claim's effect
were x" is the answer among the posterior draws whose effect is near x, ``E[y | beta_j = x]``,
estimated by a regression spline on the draws (cubic B-splines with knots at the effect's
quantiles: the regression estimator of Strong et al. 2014, who use a GAM). Fixing the effect
in every draw and forecasting again would not do: the posterior ties each effect to the
history it inferred (an unmeasured cause's path is read off its effects' data through the
claim), so a draw with its effect replaced pairs that effect with a history it would not have
had, and the answers move for no reason the reader could see.

For every question under every strategy (and every contrast with the baseline):

* **tornado**: the answer given the claim's effect at its posterior 5th and 95th percentiles,
  each with its Monte Carlo error (the regression's, scaled to the draws' effective size), and
  whether the swing between them is beyond twice the error of that difference; claims whose
  swing is rank first, then by the swing;
* **contrast tornado**: the same for each strategy's difference from the baseline (the
  lead a decision rests on: a claim can leave an answer in place and still decide whether a
  strategy beats doing nothing), with the paired error of that difference;
* **variance share**: the first-order sensitivity index ``Var(E[r | beta_j]) / Var(r)``, with
  ``r`` the ranks of what the question compares (its subject's value, or its change since
  the reference year): ranks, because the shocks' tails are heavy and a few extreme draws
  would otherwise decide the variances; the 0/1 answer itself would hide the claim behind
  its coin-flip noise;
* **decision**: the best strategy and the strategies tied with it, by the one rule of
  :mod:`forecast.forecasts.questions` (paired Monte Carlo errors);
* **what flips the decision** (clear decisions only): for each claim, the effect value
  nearest its posterior median, within its prior's 90% range and where the posterior has
  draws, at which another strategy is ahead of the best by more than twice the error of
  that estimate;
* **value of information**: the expected value of partial perfect information about a claim's
  effect for the choice of strategy, with the probability of the desirable answer as the
  utility: ``E_beta[max_s E[u_s | beta]] - max_s E[u_s]``, by the same regression. The
  regression's noise alone makes it positive, so each value comes with its noise level: the
  largest of the values with the effect shifted against the answers (circular shifts keep
  each series' autocorrelation and break their link); only values above it are ranked
  "worth researching";
* **prior only**: the answers under the prior predictive (the run's prior draws forecast the
  same way), beside the posterior ones, to show how far the data moved each answer.

A claim on no path to a question's subject (its effect is not the subject's node or one of
its ancestors) cannot move the answer: its influence is exactly zero, not estimated.

Each claim also gets what the data taught about it: the contraction of its effect's
prior variance (with its sampling noise: twice its standard error from the draws' kurtosis and
effective size), and its power-scaling prior sensitivity (Kallioinen et al. 2024, ArviZ's
``psense``): below 0.05 the posterior barely moves when the prior is strengthened or weakened,
so the data drive it; above, the prior does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np
import xarray as xr

from forecast.forecasts.questions import (
    CLEAR_AT,
    Decision,
    decide,
    mcse_of_mean,
    outcome,
    proportion_error,
    quantity,
    subject_path,
    utility,
)
from forecast.scenario.domain import Scenario
from forecast.sensitivity.reforecast import Reforecaster

#: Where the tornado puts a claim's effect: its posterior 5th and 95th percentiles.
TORNADO = (0.05, 0.95)
#: The regression of answers on an effect: cubic B-splines with this many interior knots at
#: the effect's quantiles. Flexible enough for an answer that switches at some effect value,
#: few enough parameters that noise adds little.
DEGREE, KNOTS = 3, 6
#: Effect values searched for a flip, evenly across the searched range; the range is the
#: prior's 90% and, within it, the posterior's 1st to 99th percentiles (the spline has draws
#: there to stand on).
FLIP_GRID, FLIP_RANGE = 101, (0.01, 0.99)
#: Circular shifts of the effect against the answers that set the value of information's noise
#: level (the largest of these values: about their 95th percentile).
NOISE_SHIFTS = 19
#: Prior power-scaling sensitivity above which a claim's posterior is said to follow its prior.
PRIOR_SENSITIVE = 0.05


class HasQuantiles(Protocol):
    """A claim's effect prior as :meth:`~forecast.scenario.domain.Claim.prior_distribution`
    gives it (a frozen SciPy distribution, or the hypotheses' mixture)."""

    def ppf(self, q: object) -> np.ndarray: ...


def claims_upstream(scenario: Scenario) -> dict[str, set[int]]:
    """Per question, the claims on a path to its subject: those whose effect is the subject's
    node or an ancestor of it (any lag). Every other claim cannot move the answer."""
    out = {}
    for q in scenario.questions:
        node = q.subject if q.subject_kind == "node" else scenario.indicators[q.subject].node
        ancestors = scenario.ancestors([node])
        out[q.id] = {j for j, c in enumerate(scenario.claims) if c.effect in ancestors}
    return out


@dataclass
class EffectRegression:
    """``E[y | x]`` from MCMC draws: least squares on cubic B-splines of ``x`` with knots at its
    quantiles. The B-splines sum to one, so the fit has an intercept and its fitted values
    average to ``y``'s mean exactly. ``x`` is flattened chain by chain, ``chains`` of them,
    which the standard errors need (draws are autocorrelated)."""

    x: np.ndarray
    chains: int = 1
    knots: np.ndarray | None = field(init=False)

    def __post_init__(self) -> None:
        lo, hi = float(self.x.min()), float(self.x.max())
        if not hi > lo:
            self.knots = None
            return
        inner = np.unique(np.quantile(self.x, np.linspace(0, 1, KNOTS + 2)[1:-1]))
        inner = inner[(inner > lo) & (inner < hi)]
        self.knots = np.concatenate([[lo] * (DEGREE + 1), inner, [hi] * (DEGREE + 1)])

    def design(self, at: np.ndarray) -> np.ndarray:
        """The basis at the points ``at``: (points, basis functions); a constant when ``x``
        does not vary."""
        from scipy.interpolate import BSpline

        at = np.asarray(at, dtype=float)
        if self.knots is None:
            return np.ones((at.size, 1))
        return BSpline.design_matrix(np.clip(at, self.knots[0], self.knots[-1]), self.knots, DEGREE).toarray()

    @cached_property
    def basis(self) -> np.ndarray:
        return self.design(self.x)

    @cached_property
    def solver(self) -> np.ndarray:
        """Least squares in one product: the basis' pseudo-inverse, (basis functions, draws)."""
        return np.linalg.pinv(self.basis)

    @cached_property
    def gram_inverse(self) -> np.ndarray:
        """``(B^T B)^-1``, which scales each prediction's variance (its leverage)."""
        return np.linalg.pinv(self.basis.T @ self.basis)

    def coefficients(self, y: np.ndarray) -> np.ndarray:
        """(basis functions, rows) for ``y`` (..., draws) flattened to rows."""
        return self.solver @ y.reshape(-1, y.shape[-1]).T

    def fitted(self, y: np.ndarray) -> np.ndarray:
        """``E[y | x]`` at each draw, shaped like ``y``."""
        return (self.basis @ self.coefficients(y)).T.reshape(y.shape)

    def predict(self, y: np.ndarray, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``E[y | x = at]`` and its standard error, each (..., points). The error is the
        regression's, with the residuals' variance scaled up by draws / effective draws."""
        flat = y.reshape(-1, y.shape[-1])
        coef = self.coefficients(flat)  # (K, rows)
        points = self.design(at)
        mean = (points @ coef).T
        residual = flat - (self.basis @ coef).T  # (rows, D)
        dof = max(flat.shape[1] - self.basis.shape[1], 1)
        variance = (residual ** 2).sum(axis=1) / dof * _autocorrelation_factor(residual, self.chains)
        leverage = np.einsum("pk,kl,pl->p", points, self.gram_inverse, points)
        se = np.sqrt(np.maximum(variance[:, None] * leverage[None, :], 0.0))
        shape = y.shape[:-1] + (points.shape[0],)
        return mean.reshape(shape), se.reshape(shape)


def _autocorrelation_factor(series: np.ndarray, chains: int) -> np.ndarray:
    """Draws per effective draw of each row of ``series`` (rows, draws), at least 1 (1 for a
    constant row, whose error is zero anyway)."""
    from arviz_stats.base import array_stats

    rows, total = series.shape
    if chains < 1 or total % chains or total // chains < 4:
        return np.ones(rows)
    with np.errstate(invalid="ignore", divide="ignore"):
        ess = np.asarray(array_stats.ess(series.reshape(rows, chains, total // chains), chain_axis=-2,
                                         draw_axis=-1), dtype=float)
    factor = np.where(np.isfinite(ess) & (ess > 0), total / np.where(ess > 0, ess, 1.0), 1.0)
    return np.maximum(factor, 1.0)


def variance_share(x: np.ndarray, y: np.ndarray, regression: EffectRegression | None = None) -> np.ndarray:
    """First-order sensitivity index of ``y`` (..., draws) to ``x`` (draws), in [0, 1]."""
    fitted = (regression or EffectRegression(x)).fitted(y)
    total = y.var(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, fitted.var(axis=-1) / total, 0.0)
    return np.clip(share, 0.0, 1.0)


def evppi(x: np.ndarray, utility: np.ndarray, regression: EffectRegression | None = None) -> float:
    """Expected value of partial perfect information about ``x`` for choosing among the rows
    of ``utility`` (strategies, draws): 0 when the best row is the same whatever ``x``."""
    fitted = (regression or EffectRegression(x)).fitted(utility)
    best_now = float(utility.mean(axis=1).max())
    return max(0.0, float(fitted.max(axis=0).mean()) - best_now)


def evppi_noise(regression: EffectRegression, utility: np.ndarray) -> float:
    """What :func:`evppi` gives when the effect has no link to the answers: its largest value
    over :data:`NOISE_SHIFTS` circular shifts of the answers against the effect, each by a
    different share of the draws."""
    n = utility.shape[-1]
    shifts = (n * np.arange(1, NOISE_SHIFTS + 1)) // (NOISE_SHIFTS + 1)
    return max((evppi(regression.x, np.roll(utility, int(k), axis=-1), regression) for k in shifts if k),
               default=0.0)


def ranks(y: np.ndarray) -> np.ndarray:
    """Each row's ranks scaled to (0, 1), ties averaged (a constant row stays constant);
    non-finite values rank last."""
    from scipy.stats import rankdata

    finite = np.where(np.isfinite(y), y, np.inf)
    return rankdata(finite, axis=-1) / (y.shape[-1] + 1)


def learning(scenario: Scenario, posterior: xr.Dataset) -> dict[str, dict]:
    """Per claim: how much the data narrowed its prior (1 - posterior variance / prior
    variance) and how much its posterior follows its prior (power-scaling sensitivity)."""
    from arviz_stats import psense

    out = {}
    for c in scenario.claims:
        draws = posterior["effect"].sel(claim=c.id).transpose("chain", "draw").values
        prior = c.prior_distribution()
        prior_sd = float(prior.std())  # infinite or undefined for a Student-t with df <= 2: nothing to narrow
        contraction = 1.0 - float(draws.var()) / prior_sd ** 2 if np.isfinite(prior_sd) else None
        noise = 2.0 * float(draws.var()) / prior_sd ** 2 * variance_error(draws) if np.isfinite(prior_sd) else None
        tree = xr.DataTree.from_dict({
            "posterior": xr.Dataset({"effect": (("chain", "draw"), draws)}),
            "log_prior": xr.Dataset({"effect": (("chain", "draw"), np.asarray(prior.logpdf(draws), dtype=float))})})
        with warnings.catch_warnings():  # few draws: PSIS notes that it uses fewer tail draws
            warnings.simplefilter("ignore", UserWarning)
            sensitivity = float(psense(tree, var_names=["effect"], group="prior")["effect"])
        out[c.id] = {"contraction": contraction, "contraction_noise": noise, "prior_sensitivity": sensitivity,
                     "driven_by": "prior" if sensitivity >= PRIOR_SENSITIVE else "data"}
    return out


def variance_error(draws: np.ndarray) -> float:
    """The relative standard error of the variance of MCMC ``draws`` (chain, draw):
    ``sqrt((kurtosis - 1) / ESS)``, the sampling noise in a contraction: a claim no data bear on
    still shows its posterior variance a few percent off its prior's in a short run."""
    from arviz_stats.base import array_stats

    centred = draws - draws.mean()
    m2 = float(np.mean(centred ** 2))
    if not m2 > 0:
        return 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        ess = float(array_stats.ess(draws, chain_axis=-2, draw_axis=-1))
    ess = ess if np.isfinite(ess) and ess > 0 else float(draws.size)
    return float(np.sqrt(max(float(np.mean(centred ** 4)) / m2 ** 2 - 1.0, 0.0) / ess))


def posterior_answers(scenario: Scenario, tree: xr.DataTree) -> tuple[np.ndarray, np.ndarray]:
    """Each question's 0/1 answer and what it compares, per strategy and draw (questions,
    strategies, draws), read from the run's forecasts exactly as its summary reads them
    (draws flattened chain by chain)."""
    strategies = [s.id for s in scenario.strategies]
    hits, compared = [], []
    for q in scenario.questions:
        path = subject_path(tree, q.subject, q.subject_kind).sel(strategy=strategies)
        for out, values in ((hits, outcome(q, path)), (compared, quantity(q, path))):
            arr = values.transpose("strategy", "chain", "draw").values.astype(float)
            out.append(arr.reshape(arr.shape[0], -1))
    return np.stack(hits), np.stack(compared)


def analyse_sensitivity(scenario: Scenario, tree: xr.DataTree, seed: int) -> dict:
    """Everything the report and ``forecast sensitivity`` show, JSON-ready (see the module)."""
    posterior, prior = tree["posterior"].dataset, tree["prior"].dataset
    chains = posterior.sizes["chain"]
    strategies = [s.id for s in scenario.strategies]
    base = scenario.baseline_strategy
    b = strategies.index(base.id) if base else None
    questions = scenario.questions
    upstream = claims_upstream(scenario)

    if not questions:  # nothing hinges on anything; what the data taught each claim still stands
        return {"questions": {}, "claims": learning(scenario, posterior), "combination_weights": {},
                "worth_researching": [], "settings": settings_used()}
    outcomes, compared = posterior_answers(scenario, tree)  # (Q, S, D) each
    answers = outcomes.mean(axis=2)
    prior_answers = Reforecaster.of(scenario, prior, seed).outcomes(questions).mean(axis=2)
    draws = posterior.sizes["chain"] * posterior.sizes["draw"]
    effect = posterior["effect"].transpose("chain", "draw", "claim").values.reshape(draws, len(scenario.claims))
    regressions = {j: EffectRegression(effect[:, j], chains) for j in sorted(set().union(*upstream.values()))}
    hypothesis_claims = {j for j, c in enumerate(scenario.claims) if c.hypotheses}

    out_questions = {}
    for qi, q in enumerate(questions):
        y = outcomes[qi]  # (S, D)
        dec = decide(y, q.desirable, strategies, chains) if q.desirable else None
        entry: dict = {"posterior": dict(zip(strategies, answers[qi].tolist())),
                       "prior_only": dict(zip(strategies, prior_answers[qi].tolist())), "claims": {}}
        if dec:
            entry["decision"] = dec.to_dict()
        ranked = ranks(compared[qi])
        contrast_ranks = ranks(compared[qi] - compared[qi][b]) if b is not None else None
        for j, c in enumerate(scenario.claims):
            if j in upstream[q.id]:
                entry["claims"][c.id] = claim_influence(regressions[j], y, ranked, contrast_ranks, b, strategies,
                                                        dec, c.prior_distribution())
            else:
                entry["claims"][c.id] = no_influence(answers[qi], strategies, b, dec)
        entry["ranking"] = _ranking(entry["claims"])
        if "combination" in posterior and hypothesis_claims & upstream[q.id]:
            entry["by_hypothesis"], entry["by_hypothesis_mcse"] = _by_hypothesis(posterior, y, strategies, chains)
        out_questions[q.id] = entry

    worth = sorted(((c, q, e["evppi"], e["evppi_noise"]) for q, v in out_questions.items()
                    for c, e in v["claims"].items() if e.get("evppi", 0.0) > e.get("evppi_noise", 0.0)),
                   key=lambda t: -t[2])
    combinations = [str(c) for c in np.atleast_1d(posterior.attrs.get("combinations", []))]
    weights = np.atleast_1d(posterior.attrs.get("combination_weights", [])).tolist()
    return {"questions": out_questions, "claims": learning(scenario, posterior),
            "combination_weights": dict(zip(combinations, weights)) if len(weights) == len(combinations) else {},
            "worth_researching": [{"claim": c, "question": q, "evppi": v, "evppi_noise": n} for c, q, v, n in worth],
            "settings": settings_used()}


def settings_used() -> dict:
    """The analysis's own settings, recorded with its results."""
    return {"tornado_quantiles": list(TORNADO), "spline_degree": DEGREE, "spline_knots": KNOTS, "clear_at": CLEAR_AT,
            "flip_grid": FLIP_GRID, "flip_range": list(FLIP_RANGE), "noise_shifts": NOISE_SHIFTS,
            "prior_sensitive": PRIOR_SENSITIVE}


def claim_influence(regression: EffectRegression, y: np.ndarray, ranked: np.ndarray, contrast_ranks: np.ndarray | None,
                    b: int | None, strategies: list[str], dec: Decision | None, prior: HasQuantiles) -> dict:
    """One claim on the question's path: its tornado (with errors), variance shares, and for a
    question with a desirable answer its value of information and decision flip."""
    at = np.quantile(regression.x, TORNADO)
    ends, errors = regression.predict(y, at)  # (S, 2) each
    ends = np.clip(ends, 0.0, 1.0)  # probabilities: a spline's end can overshoot [0, 1] by its noise
    entry: dict = {"on_path": True, "tornado_at": at.tolist(),
                   "tornado": {s: ends[i].tolist() for i, s in enumerate(strategies)},
                   "tornado_mcse": {s: errors[i].tolist() for i, s in enumerate(strategies)},
                   "tornado_clear": {s: swing_is_clear(ends[i], errors[i]) for i, s in enumerate(strategies)},
                   "variance_share": dict(zip(strategies, variance_share(regression.x, ranked, regression).tolist()))}
    if b is not None:
        shares = variance_share(regression.x, contrast_ranks, regression)
        _, gap_errors = regression.predict(y - y[b], at)  # paired: far smaller than either end's error
        others = [(i, s) for i, s in enumerate(strategies) if i != b]
        entry["contrast_tornado"] = {s: (ends[i] - ends[b]).tolist() for i, s in others}
        entry["contrast_tornado_mcse"] = {s: gap_errors[i].tolist() for i, s in others}
        entry["contrast_tornado_clear"] = {s: swing_is_clear(ends[i] - ends[b], gap_errors[i]) for i, s in others}
        entry["contrast_variance_share"] = {s: float(shares[i]) for i, s in others}
    if dec:
        u = utility(y, dec.desirable)
        entry["evppi"] = evppi(regression.x, u, regression)
        entry["evppi_noise"] = evppi_noise(regression, u)
        entry["flip"] = flip(regression, u, strategies, dec, prior) if dec.clear else None
    return entry


def swing_is_clear(ends: np.ndarray, errors: np.ndarray) -> bool:
    """Whether a tornado's swing (the answer at the effect's high percentile minus that at its
    low one) is beyond :data:`CLEAR_AT` Monte Carlo errors of that difference: a narrower swing
    is the regression's noise as much as the claim's influence."""
    return bool(abs(ends[1] - ends[0]) > CLEAR_AT * float(np.hypot(errors[0], errors[1])))


def no_influence(answers: np.ndarray, strategies: list[str], b: int | None, dec: Decision | None) -> dict:
    """A claim on no path to the question's subject: exactly no influence."""
    entry: dict = {"on_path": False, "tornado": {s: [float(answers[i])] * 2 for i, s in enumerate(strategies)},
                   "variance_share": dict.fromkeys(strategies, 0.0)}
    if b is not None:
        others = [s for i, s in enumerate(strategies) if i != b]
        entry.update(contrast_tornado={s: [0.0, 0.0] for s in others},
                     contrast_tornado_mcse={s: [0.0, 0.0] for s in others},
                     contrast_tornado_clear=dict.fromkeys(others, False),
                     contrast_variance_share=dict.fromkeys(others, 0.0))
    if dec:
        entry.update(evppi=0.0, evppi_noise=0.0, flip=None)
    return entry


def _ranking(claims: dict[str, dict]) -> list[str]:
    """The claims by their largest influence on the question under any strategy: first those
    whose tornado swing is beyond Monte Carlo error under some strategy, then by the widest
    swing, ties broken by the variance share."""
    def weight(e: dict) -> tuple[bool, float, float]:
        swing = max((abs(hi - lo) for lo, hi in e["tornado"].values()), default=0.0)
        return any(e.get("tornado_clear", {}).values()), swing, max(e["variance_share"].values(), default=0.0)

    return [c for c, e in sorted(claims.items(), key=lambda kv: weight(kv[1]), reverse=True)
            if weight(e)[1:] > (0.0, 0.0)]


def prior_sensitive(found: dict) -> float:
    """The prior sensitivity from which a claim's prior still shapes it, as the analysis
    ``found`` (a summary's ``sensitivity``) recorded it; this version's for older ones."""
    return float((found.get("settings") or {}).get("prior_sensitive", PRIOR_SENSITIVE))


def hinge_strategy(entry: dict) -> str:
    """The strategy whose answer the tornado shows: the best for the question's desirable
    answer; with no desirable answer (no strategy is best), the one under which yes is most
    probable, since a tornado shows one strategy's answer."""
    decision = entry.get("decision")
    if decision:
        return decision["best"]
    return max(entry["posterior"], key=lambda sid: entry["posterior"][sid])


def hinges_under(entry: dict, sid: str) -> list[str]:
    """The claims on the question's path by their influence on its answer under ``sid``: those
    whose swing there is beyond Monte Carlo error first, then by the width of the swing there
    (the chart, its sentence and the summary all judge one strategy's answer by its own bars)."""
    def weight(cid: str) -> tuple[bool, float]:
        found = entry["claims"][cid]
        low, high = found["tornado"][sid]
        return clear_under(found, sid), abs(high - low)

    on_path = [cid for cid in entry.get("ranking", []) if entry["claims"].get(cid, {}).get("on_path")]
    return sorted(on_path, key=weight, reverse=True)


def clear_under(found: dict, sid: str) -> bool:
    """Whether a claim's tornado swing under ``sid`` is beyond Monte Carlo error (a run from
    before the errors were kept: taken as it is)."""
    return bool((found.get("tornado_clear") or {}).get(sid, True))


def flip(regression: EffectRegression, u: np.ndarray, strategies: list[str], dec: Decision,
         prior: HasQuantiles) -> dict | None:
    """The effect value nearest the claim's posterior median, within its prior's 90% range and
    the posterior's :data:`FLIP_RANGE`, at which another strategy is ahead of the best by more
    than :data:`CLEAR_AT` standard errors of that lead (``u``: utilities, (strategies, draws));
    None when there is none."""
    x = regression.x
    prior_lo, prior_hi = (float(v) for v in np.atleast_1d(prior.ppf([0.05, 0.95])))
    post_lo, post_hi = (float(v) for v in np.quantile(x, FLIP_RANGE))
    lo, hi = max(prior_lo, post_lo), min(prior_hi, post_hi)
    if not hi > lo:
        return None
    chosen = strategies.index(dec.best)
    grid = np.linspace(lo, hi, FLIP_GRID)
    lead, se = regression.predict(u - u[chosen], grid)  # (S, points): each strategy's lead over the best
    ahead = lead > CLEAR_AT * se
    ahead[chosen] = False
    median = float(np.median(x))
    for k in np.argsort(np.abs(grid - median), kind="stable"):
        if ahead[:, k].any():
            winner = int(np.argmax(np.where(ahead[:, k], lead[:, k], -np.inf)))
            q05, q95 = np.quantile(x, [0.05, 0.95])
            return {"value": float(grid[k]), "becomes_best": strategies[winner], "margin": float(lead[winner, k]),
                    "margin_se": float(se[winner, k]), "within_posterior_90": bool(q05 <= grid[k] <= q95),
                    "searched": [lo, hi]}
    return None


def _by_hypothesis(posterior: xr.Dataset, outcomes: np.ndarray, strategies: list[str],
                   chains: int) -> tuple[dict[str, dict], dict[str, dict]]:
    """The answers from each combination of competing hypotheses' draws alone, and their Monte
    Carlo errors: the binomial error of the combination's share of the draws (never 0 for a
    share of 0 or 1 from few draws: :func:`~forecast.forecasts.questions.proportion_error`),
    scaled as the whole answer's MCMC error is to its binomial one (the draws' autocorrelation)."""
    combination = posterior["combination"].transpose("chain", "draw").values.ravel()
    labels = list(np.atleast_1d(posterior.attrs.get("combinations", [])))
    total = outcomes.shape[1]
    whole = outcomes.mean(axis=1)
    mcse = np.array([mcse_of_mean(row, chains) for row in outcomes])
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(whole * (1 - whole) > 0, mcse / np.sqrt(whole * (1 - whole) / total), 1.0)
    answers, errors = {}, {}
    for k, label in enumerate(labels):
        picked = combination == k
        if picked.any():
            p = outcomes[:, picked].mean(axis=1)
            answers[str(label)] = dict(zip(strategies, p.tolist()))
            errors[str(label)] = dict(zip(strategies, (proportion_error(p, picked.sum()) * scale).tolist()))
    return answers, errors

