"""What each answer hinges on: the claims' influence, what flips the decision, the value of
information, and the answers before any evidence.

For every question under every strategy (and every contrast with the baseline):

* **tornado**: the answer with one claim's effect fixed at its posterior 5th and 95th
  percentiles, the rest of each draw as the posterior has it (a forecast again,
  :class:`~forecast.sensitivity.reforecast.Reforecaster`; no sampling);
* **variance share**: the first-order sensitivity index ``Var(E[y | beta_j]) / Var(y)`` of
  the per-draw answer ``y``, from the posterior draws, with ``E[y | beta_j]`` a regression
  spline on the effect (cubic B-splines with knots at its quantiles: the regression
  estimator of Strong et al. 2014, who use a GAM);
* **what flips the decision**: the best strategy is the one most likely to give the question's
  desirable answer (:attr:`forecast.scenario.domain.Question.desirable`); for each claim, the
  effect value nearest its posterior median, within its prior's 90% range, at which another
  strategy becomes best;
* **value of information**: the expected value of partial perfect information about a claim's
  effect for the choice of strategy, with the probability of the desirable answer as the
  utility: ``E_beta[max_s E[u_s | beta]] - max_s E[u_s]``, by the same regression. It is zero
  when knowing the effect could not change the best strategy;
* **prior only**: the answers under the prior predictive (the run's prior draws forecast the
  same way), beside the posterior ones, to show how far the data moved each answer.

A claim on no path to a question's subject (its effect is not the subject's node or one of
its ancestors) cannot move the answer: its influence is exactly zero, not estimated.

Each claim also gets what the data taught about it: the contraction of its effect's
prior variance, and its power-scaling prior sensitivity (Kallioinen et al. 2024, ArviZ's
``psense``): below 0.05 the posterior barely moves when the prior is strengthened or weakened,
so the data drive it; above, the prior does.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import xarray as xr

from forecast.scenario.domain import Scenario
from forecast.sensitivity.reforecast import Reforecaster

#: Where a claim's effect is fixed for the tornado: its posterior 5th and 95th percentiles.
TORNADO = (0.05, 0.95)
#: Effect values tried across a claim's prior 90% range when looking for a decision flip, and
#: the posterior draws each try forecasts (fewer than a run's: common random numbers keep the
#: strategies' differences precise).
SCAN_POINTS, SCAN_DRAWS, BISECTIONS = 9, 1000, 4
#: The regression of answers on an effect (variance share, EVPPI): cubic B-splines with this
#: many interior knots at the effect's quantiles. Flexible enough for an answer that switches
#: at some effect value, few enough parameters that noise adds little.
DEGREE, KNOTS = 3, 6
#: Prior power-scaling sensitivity above which a claim's posterior is said to follow its prior.
PRIOR_SENSITIVE = 0.05


@dataclass(frozen=True)
class Decision:
    """A question's decision: its desirable answer and the strategy most likely to give it."""

    desirable: str
    best: str
    utilities: dict[str, float]


def claims_upstream(scenario: Scenario) -> dict[str, set[int]]:
    """Per question, the claims on a path to its subject: those whose effect is the subject's
    node or an ancestor of it (any lag). Every other claim cannot move the answer."""
    out = {}
    for q in scenario.questions:
        node = q.subject if q.subject_kind == "node" else scenario.indicators[q.subject].node
        ancestors = {node}
        grown = True
        while grown:
            before = len(ancestors)
            ancestors |= {c.cause for c in scenario.claims if c.effect in ancestors}
            grown = len(ancestors) > before
        out[q.id] = {j for j, c in enumerate(scenario.claims) if c.effect in ancestors}
    return out


def regression_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``E[y | x]`` at each draw, by least squares on cubic B-splines of ``x`` with knots at
    its quantiles (``y``: (..., draws)). The B-splines sum to one, so the fit has an intercept
    and the fitted values average to ``y``'s mean exactly."""
    basis = _spline_basis(x)  # (D, basis functions)
    flat = y.reshape(-1, y.shape[-1]).T  # (D, rows)
    coef, *_ = np.linalg.lstsq(basis, flat, rcond=None)
    return (basis @ coef).T.reshape(y.shape)


def _spline_basis(x: np.ndarray) -> np.ndarray:
    """The cubic B-spline basis at ``x``: interior knots at quantiles (repeated values merged),
    boundary knots at the extremes; a constant when ``x`` does not vary."""
    from scipy.interpolate import BSpline

    lo, hi = float(x.min()), float(x.max())
    if not hi > lo:
        return np.ones((x.size, 1))
    inner = np.unique(np.quantile(x, np.linspace(0, 1, KNOTS + 2)[1:-1]))
    inner = inner[(inner > lo) & (inner < hi)]
    knots = np.concatenate([[lo] * (DEGREE + 1), inner, [hi] * (DEGREE + 1)])
    return BSpline.design_matrix(np.clip(x, lo, hi), knots, DEGREE).toarray()


def variance_share(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """First-order sensitivity index of ``y`` (..., draws) to ``x`` (draws), in [0, 1]."""
    fitted = regression_fit(x, y)
    total = y.var(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, fitted.var(axis=-1) / total, 0.0)
    return np.clip(share, 0.0, 1.0)


def evppi(x: np.ndarray, utility: np.ndarray) -> float:
    """Expected value of partial perfect information about ``x`` for choosing among the rows
    of ``utility`` (strategies, draws): 0 when the best row is the same whatever ``x``."""
    fitted = regression_fit(x, utility)
    best_now = float(utility.mean(axis=1).max())
    return max(0.0, float(fitted.max(axis=0).mean()) - best_now)


def decision(probabilities: np.ndarray, desirable: str, strategies: list[str]) -> Decision:
    """The best strategy for one question from its P(yes) per strategy."""
    utilities = probabilities if desirable == "yes" else 1.0 - probabilities
    best = strategies[int(np.argmax(utilities))]
    return Decision(desirable, best, {s: float(u) for s, u in zip(strategies, utilities)})


def utility(outcomes: np.ndarray, desirable: str) -> np.ndarray:
    """Per draw, 1 when the answer is the desirable one."""
    return outcomes if desirable == "yes" else 1.0 - outcomes


def learning(scenario: Scenario, posterior: xr.Dataset) -> dict[str, dict]:
    """Per claim: how much the data narrowed its prior (1 - posterior variance / prior
    variance) and how much its posterior follows its prior (power-scaling sensitivity)."""
    from arviz_stats import psense

    out = {}
    for c in scenario.claims:
        draws = posterior["effect"].sel(claim=c.id).transpose("chain", "draw").values
        prior = c.prior_distribution()
        contraction = 1.0 - float(draws.var()) / float(prior.std()) ** 2
        tree = xr.DataTree.from_dict({
            "posterior": xr.Dataset({"effect": (("chain", "draw"), draws)}),
            "log_prior": xr.Dataset({"effect": (("chain", "draw"), np.asarray(prior.logpdf(draws), dtype=float))})})
        with warnings.catch_warnings():  # few draws: PSIS notes that it uses fewer tail draws
            warnings.simplefilter("ignore", UserWarning)
            sensitivity = float(psense(tree, var_names=["effect"], group="prior")["effect"])
        out[c.id] = {"contraction": contraction, "prior_sensitivity": sensitivity,
                     "driven_by": "prior" if sensitivity >= PRIOR_SENSITIVE else "data"}
    return out


def analyse_sensitivity(scenario: Scenario, tree: xr.DataTree, seed: int) -> dict:
    """Everything the report and ``forecast sensitivity`` show, JSON-ready (see the module)."""
    posterior, prior = tree["posterior"].dataset, tree["prior"].dataset
    strategies = [s.id for s in scenario.strategies]
    base = scenario.baseline_strategy
    b = strategies.index(base.id) if base else None
    questions = scenario.questions
    upstream = claims_upstream(scenario)

    full = Reforecaster.of(scenario, posterior, seed)
    outcomes = full.outcomes(questions)  # (Q, S, D)
    answers = outcomes.mean(axis=2)
    prior_answers = Reforecaster.of(scenario, prior, seed).outcomes(questions).mean(axis=2)
    effect = posterior["effect"].transpose("chain", "draw", "claim").values.reshape(-1, len(scenario.claims))
    relevant = sorted(set().union(*upstream.values())) if upstream else []

    tornado = {j: [full.outcomes(questions, {j: float(np.quantile(effect[:, j], q))}).mean(axis=2) for q in TORNADO]
               for j in relevant}
    scan = Reforecaster.of(scenario, posterior, seed, draws=SCAN_DRAWS)
    scan_now = scan.outcomes(questions).mean(axis=2)
    asked = [qi for qi, q in enumerate(questions) if q.desirable]
    flips = {j: _flips(scan, scenario, j, [qi for qi in asked if j in upstream[questions[qi].id]], strategies,
                       scan_now, effect[:, j]) for j in relevant}

    out_questions = {}
    for qi, q in enumerate(questions):
        entry: dict = {"posterior": dict(zip(strategies, answers[qi].tolist())),
                       "prior_only": dict(zip(strategies, prior_answers[qi].tolist())), "claims": {}}
        dec = decision(answers[qi], q.desirable, strategies) if q.desirable else None
        if dec:
            entry["decision"] = {"desirable": dec.desirable, "best": dec.best, "utilities": dec.utilities}
        for j, c in enumerate(scenario.claims):
            on_path = j in upstream[q.id]
            claim_entry: dict = {"on_path": on_path}
            y = outcomes[qi]  # (S, D)
            if on_path:
                low, high = (tornado[j][k][qi] for k in range(2))
                claim_entry["tornado"] = {s: [float(low[i]), float(high[i])] for i, s in enumerate(strategies)}
                claim_entry["variance_share"] = dict(zip(strategies, variance_share(effect[:, j], y).tolist()))
                if b is not None:
                    diffs = y - y[b]
                    claim_entry["contrast_tornado"] = {s: [float(low[i] - low[b]), float(high[i] - high[b])]
                                                       for i, s in enumerate(strategies) if i != b}
                    shares = variance_share(effect[:, j], diffs)
                    claim_entry["contrast_variance_share"] = {s: float(shares[i]) for i, s in enumerate(strategies)
                                                              if i != b}
                if dec:
                    claim_entry["evppi"] = evppi(effect[:, j], utility(y, q.desirable))
                    claim_entry["flip"] = flips[j][qi]
            else:
                zeros = dict.fromkeys(strategies, 0.0)
                claim_entry.update(tornado={s: [float(answers[qi][i])] * 2 for i, s in enumerate(strategies)},
                                   variance_share=zeros)
                if b is not None:
                    claim_entry.update(contrast_tornado={s: [0.0, 0.0] for s in strategies if s != base.id},
                                       contrast_variance_share={s: 0.0 for s in strategies if s != base.id})
                if dec:
                    claim_entry.update(evppi=0.0, flip=None)
            entry["claims"][c.id] = claim_entry
        entry["ranking"] = _ranking(entry["claims"])
        if "combination" in posterior:
            entry["by_hypothesis"] = _by_hypothesis(posterior, outcomes[qi], strategies)
        out_questions[q.id] = entry

    worth = sorted(((c, q, e["evppi"]) for q, v in out_questions.items() for c, e in v["claims"].items()
                    if e.get("evppi")), key=lambda t: -t[2])
    return {"questions": out_questions, "claims": learning(scenario, posterior),
            "worth_researching": [{"claim": c, "question": q, "evppi": v} for c, q, v in worth],
            "settings": {"tornado_quantiles": list(TORNADO), "scan_points": SCAN_POINTS, "scan_draws": SCAN_DRAWS,
                         "spline_degree": DEGREE, "spline_knots": KNOTS, "prior_sensitive": PRIOR_SENSITIVE}}


def _ranking(claims: dict[str, dict]) -> list[str]:
    """The claims by their largest influence on the question under any strategy: the widest
    tornado swing, ties broken by the variance share."""
    def weight(e: dict) -> tuple[float, float]:
        swing = max((abs(hi - lo) for lo, hi in e["tornado"].values()), default=0.0)
        return swing, max(e["variance_share"].values(), default=0.0)

    return [c for c, e in sorted(claims.items(), key=lambda kv: weight(kv[1]), reverse=True)
            if weight(e) > (0.0, 0.0)]


def _flips(scan: Reforecaster, scenario: Scenario, j: int, asked: list[int], strategies: list[str],
           now: np.ndarray, effect: np.ndarray) -> dict[int, dict | None]:
    """For claim ``j`` and each question index in ``asked`` (those with a desirable answer):
    the effect value nearest the claim's posterior median, within its prior 90% range, at
    which another strategy becomes best (between scan points, by bisection), or None. ``now``:
    P(yes) per question and strategy from the scan's draws with nothing fixed."""
    questions = scenario.questions
    lo, hi = (float(x) for x in np.atleast_1d(scenario.claims[j].prior_distribution().ppf([0.05, 0.95])))
    median = float(np.median(effect))
    q05, q95 = np.quantile(effect, [0.05, 0.95])
    grid = np.linspace(lo, hi, SCAN_POINTS)
    answers = {float(g): scan.outcomes(questions, {j: float(g)}).mean(axis=2) for g in grid}  # (Q, S) each

    def best(p: np.ndarray, qi: int) -> int:
        return int(np.argmax(utility(p, questions[qi].desirable)))

    out: dict[int, dict | None] = {}
    for qi in asked:
        chosen = best(now[qi], qi)
        found = None
        sides = ([g for g in grid if g >= median], [g for g in grid[::-1] if g <= median])
        for side in sorted(sides, key=lambda s: abs(s[0] - median) if s else np.inf):
            previous = median
            for value in side:
                if best(answers[float(value)][qi], qi) != chosen:
                    inside, outside = previous, float(value)
                    for _ in range(BISECTIONS):
                        middle = 0.5 * (inside + outside)
                        p = scan.outcomes((questions[qi],), {j: middle})[0].mean(axis=1)
                        if best(p, qi) == chosen:
                            inside = middle
                        else:
                            outside = middle
                    p = scan.outcomes((questions[qi],), {j: outside})[0].mean(axis=1)
                    u = utility(p, questions[qi].desirable)
                    winner = int(np.argmax(u))
                    found = {"value": outside, "becomes_best": strategies[winner],
                             "margin": float(u[winner] - u[chosen]),
                             "within_posterior_90": bool(q05 <= outside <= q95)}
                    break
                previous = float(value)
            if found:
                break
        out[qi] = found
    return out


def _by_hypothesis(posterior: xr.Dataset, outcomes: np.ndarray, strategies: list[str]) -> dict[str, dict]:
    """The answers from each combination of competing hypotheses' draws alone."""
    combination = posterior["combination"].transpose("chain", "draw").values.ravel()
    labels = list(np.atleast_1d(posterior.attrs.get("combinations", [])))
    out = {}
    for k, label in enumerate(labels):
        picked = combination == k
        if picked.any():
            out[str(label)] = dict(zip(strategies, outcomes[:, picked].mean(axis=1).tolist()))
    return out
