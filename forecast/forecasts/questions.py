"""Answering the scenario's questions: a probability per strategy, with its Monte Carlo error.

A question compares a subject (a node on its display scale, or an indicator in its own
units) in a forecast year with a threshold or with its own level in a reference year. Each
posterior draw answers yes or no; the probability is the share of yes, and its Monte Carlo
standard error comes from ArviZ's MCSE of that 0/1 series (which accounts for the
autocorrelation of MCMC draws, unlike the binomial formula).

**The decision.** A question with a desirable answer (:attr:`Question.desirable`: as the
question says, or from its subject's desirable direction) has a best strategy: the one most
likely to give that answer. Another strategy is *tied* with it when their difference is within
:data:`CLEAR_AT` Monte Carlo errors of that difference, paired draw by draw: every strategy is
forecast from the same draws and shocks, so the difference is far more precise than either
answer. With a tie there is no clear best. Strategies that give the same answer in every draw
are not tied but *identical for the question* (the levers that set them apart do not reach its
subject, or never far enough to cross its line): more draws would never separate them, so they
are one option, named together ("A = B"); the choice is between options, and is clear when the
best option is ahead of every other beyond that error. A question with no desirable answer has
no best strategy. The summary, the report, the sensitivity analysis, diffs and sweeps all use
this one rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from forecast.scenario.domain import Question


def subject_path(tree: xr.DataTree, subject: str, kind: str) -> xr.DataArray:
    """The subject over all years (history then forecast): (chain, draw, strategy, year).

    History comes from the posterior (nodes) or from the observed data (indicators; years
    without an observation are NaN there).
    """
    fc = tree["forecast"].dataset
    if kind == "node":
        past = tree["posterior"].dataset["node_value"].sel(node=subject, drop=True)
        future = fc["node_value"].sel(node=subject, drop=True)
    else:
        past = tree["observed_data"].dataset["indicator_value"].sel(indicator=subject, drop=True)
        future = fc["indicator_value"].sel(indicator=subject, drop=True)
    past = past.expand_dims(strategy=fc["strategy"].values)
    past, future = xr.broadcast(past, future, exclude=["year"])
    return xr.concat([past, future.astype(float)], dim="year").transpose("chain", "draw", "strategy", "year")


def outcome(question: Question, path: xr.DataArray) -> xr.DataArray:
    """The 0/1 answer per draw and strategy: (chain, draw, strategy)."""
    value = path.sel(year=question.year)
    if question.threshold is not None:
        ref = question.threshold
    else:
        ref = path.sel(year=question.reference_year) + question.change
    hit = value < ref if question.comparison == "below" else value > ref
    return hit.astype(float)


def quantity(question: Question, path: xr.DataArray) -> xr.DataArray:
    """What the question compares, per draw and strategy: the subject's value in the year
    (a threshold question) or its change since the reference year (the question's line is
    then ``change``). Its spread is the uncertainty of the answer itself, which the
    probability's Monte Carlo error is not."""
    value = path.sel(year=question.year)
    return value if question.threshold is not None else value - path.sel(year=question.reference_year)


QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def answer(tree: xr.DataTree, question: Question) -> tuple[dict[str, dict], Decision | None]:
    """``{strategy: {"probability": p, "mcse": m, "quantity": {"q05", "q25", "median", "q75",
    "q95"}}}`` for one question (``quantity``: see :func:`quantity`), and its decision (None
    when it has no desirable answer), from one reading of its subject's path."""
    import arviz as az

    path = subject_path(tree, question.subject, question.subject_kind)
    hits = outcome(question, path)
    compared = quantity(question, path)
    out: dict[str, dict] = {}
    for sid in hits["strategy"].values:
        h = hits.sel(strategy=sid, drop=True)
        p = float(h.mean())
        mcse = float(az.mcse(h)) if 0.0 < p < 1.0 else float(proportion_error(p, h.size))
        q = np.nanquantile(compared.sel(strategy=sid).values.astype(float).ravel(), QUANTILES)
        out[str(sid)] = {"probability": p, "mcse": mcse if np.isfinite(mcse) else float("nan"),
                         "quantity": {"q05": q[0], "q25": q[1], "median": q[2], "q75": q[3], "q95": q[4]}}
    return out, decision(question, hits)


#: A difference counts (a tie broken, a decision flipped) beyond this many Monte Carlo errors.
CLEAR_AT = 2.0


@dataclass(frozen=True)
class Decision:
    """A question's decision: its desirable answer, the strategy most likely to give it, the
    probability of that answer under each strategy (``utilities``), the Monte Carlo error of
    each strategy's paired difference from the best (``gap_mcse``), the strategies tied with
    the best (within :data:`CLEAR_AT` of those errors: with any, there is no clear best), and
    the groups of strategies identical for the question (``identical``: the same answer in
    every draw; the best's own group is one option with it, see the module)."""

    desirable: str
    best: str
    utilities: dict[str, float]
    tied: tuple[str, ...] = ()
    gap_mcse: dict[str, float] | None = None
    identical: tuple[tuple[str, ...], ...] = ()

    @property
    def clear(self) -> bool:
        return not self.tied

    @property
    def equivalent(self) -> tuple[str, ...]:
        """The strategies identical to the best for this question (its option, the best aside)."""
        return same_as(self.identical, self.best)

    def to_dict(self) -> dict:
        return {"desirable": self.desirable, "best": self.best, "utilities": self.utilities, "tied": list(self.tied),
                "clear": self.clear, "gap_mcse": self.gap_mcse or {}, "equivalent": list(self.equivalent),
                "identical": [list(g) for g in self.identical]}


def decide(outcomes: np.ndarray, desirable: str, strategies: list[str], chains: int = 1) -> Decision:
    """The decision from a question's per-draw 0/1 answers, (strategies, draws) with the draws
    flattened chain by chain (see the module)."""
    u = utility(outcomes, desirable)
    means = u.mean(axis=1)
    b = int(np.argmax(means))
    groups = identical_groups(u, strategies)
    equivalent = same_as(groups, strategies[b])
    errors = {sid: mcse_of_mean(u[b] - u[i], chains) for i, sid in enumerate(strategies) if i != b}
    tied = tuple(sid for i, sid in enumerate(strategies)
                 if i != b and sid not in equivalent and means[b] - means[i] <= CLEAR_AT * errors[sid])
    return Decision(desirable, strategies[b], {s: float(m) for s, m in zip(strategies, means)}, tied, errors, groups)


def identical_groups(u: np.ndarray, strategies: list[str]) -> tuple[tuple[str, ...], ...]:
    """The groups (two or more, in the strategies' order) of strategies whose rows of ``u``
    (strategies, draws) are equal in every draw."""
    groups: list[list[int]] = []
    for i in range(len(strategies)):
        home = next((g for g in groups if np.array_equal(u[g[0]], u[i])), None)
        if home is None:
            groups.append([i])
        else:
            home.append(i)
    return tuple(tuple(strategies[i] for i in g) for g in groups if len(g) > 1)


def same_option(before: str, best: str, equivalent) -> bool:
    """Whether a decision whose best was ``before`` stands where the best is now ``best``, with
    ``equivalent`` identical to it: the same strategy, or one identical to it for the question
    now (which of identical strategies is named first is arbitrary). A best that was identical
    to ``before`` then and is ahead of it now is a change: who chose ``before`` holds a worse
    strategy. The one rule of ``forecast diff`` and of sweeps' flips."""
    return before == best or before in equivalent


def same_as(identical, sid: str) -> tuple[str, ...]:
    """The strategies of ``sid``'s group in ``identical`` (groups of strategy ids), ``sid`` aside."""
    return next((tuple(s for s in g if s != sid) for g in identical if sid in g), ())


def decision(question: Question, hits: xr.DataArray) -> Decision | None:
    """A question's decision from its 0/1 answers (:func:`outcome`), or None when it has no
    desirable answer."""
    if not question.desirable:
        return None
    arr = hits.transpose("strategy", "chain", "draw").values.astype(float)
    return decide(arr.reshape(arr.shape[0], -1), question.desirable, [str(s) for s in hits["strategy"].values],
                  arr.shape[1])


def recorded_decision(summary: dict, question: dict, default=None):
    """A question's decision as a run's summary records it (:meth:`Decision.to_dict`, or None
    when the question has no desirable answer; :func:`as_recorded`): the question's own, or, in
    a summary older than that, its sensitivity analysis's; ``default`` when the summary records
    neither."""
    if "decision" in question:
        return as_recorded(question["decision"])
    found = (((summary.get("sensitivity") or {}).get("questions") or {}).get(question["id"]) or {}).get("decision")
    return default if found is None else as_recorded(found)


def as_recorded(decision: dict | None) -> dict | None:
    """A summary's decision with ``equivalent`` and ``identical`` (:meth:`Decision.to_dict`).
    A summary written before strategies identical for a question were told apart from ties
    counted them as tied with a Monte Carlo error of 0 (their paired difference is 0 in every
    draw): those are the best's equivalents, and the rest decide whether the choice is clear.
    A choice clear only now says so (``flips_sought`` false): its run never looked for flips."""
    if decision is None or "equivalent" in decision:
        return decision
    gaps = decision.get("gap_mcse") or {}
    equivalent = [t for t in decision.get("tied") or [] if gaps.get(t) == 0.0]
    tied = [t for t in decision.get("tied") or [] if t not in equivalent]
    # a choice that is clear only now was not clear when the run's analysis looked for its flips
    flips = {"flips_sought": False} if equivalent and not tied else {}
    return {**decision, "tied": tied, "clear": not tied, "equivalent": equivalent,
            "identical": [[decision["best"], *equivalent]] if equivalent else [], **flips}


def utility(outcomes: np.ndarray, desirable: str) -> np.ndarray:
    """1 when the answer is the desirable one (per draw), or its probability (from P(yes))."""
    return outcomes if desirable == "yes" else 1.0 - outcomes


def proportion_error(p: np.ndarray | float, n: np.ndarray | int) -> np.ndarray:
    """The binomial standard error of a share ``p`` of ``n`` independent draws, with half a draw
    added to each side (``(k + 1/2) / (n + 1)``) so that a share of 0 or 1 from few draws does
    not claim to be exact: 10 draws that all say yes give 1.00 with an error of about 0.07,
    4,000 give an error below 0.001."""
    p, n = np.asarray(p, dtype=float), np.asarray(n, dtype=float)
    smoothed = (p * n + 0.5) / (n + 1.0)
    return np.sqrt(smoothed * (1.0 - smoothed) / n)


def mcse_of_mean(series: np.ndarray, chains: int) -> float:
    """The Monte Carlo error of the mean of a per-draw series flattened chain by chain (0 for a
    constant series: strategies that do not move the subject give the same draws)."""
    import arviz as az

    if series.std() == 0:
        return 0.0
    error = float(az.mcse(series.reshape(chains, -1)))
    return error if np.isfinite(error) else 0.0
