"""Simulation-based calibration (SBC; Talts et al. 2018): does the fit recover what the prior drew?

Draw every parameter from the prior, simulate the indicators from the model at the scenario's
own observation pattern, fit the model to them exactly as a run would, and record where each
true value falls among the posterior draws (its rank). If the sampler, the weighing of
competing hypotheses and the model's code are right, each parameter's ranks are uniform over
the simulations, whatever the prior: a rank histogram that is U-shaped says the posterior is too
narrow, a hump too wide, a slope biased. :func:`uniformity` tests each parameter, with the
multiplicity of many parameters handled (Holm).

The work is split into plain, picklable functions so that a scheduler (Dask's ``client.map``)
can spread the simulations over processes::

    sims = plan("priors/article.toml", sims=200, seed=1)
    results = [run(s, settings) for s in sims]            # or client.map(run, sims, settings=...),
                                                          # or forecast.sweeps.engine.run_tasks
    summary = summarise(results, scenario="priors/article.toml", seed=1, settings=settings)
    render_calibration(out, summary, ranks_of(results))    # forecast.report.calibration

* :func:`simulate`: one draw of the parameters from the prior and of the history from the
  equations (:func:`forecast.model.prior.prior_draws`, the exact forward simulation), then the
  indicators from the measurement equation, ``z = intercept + direction * loading * level +
  noise * e``, at every (indicator, year) the scenario has data for. ``z`` is on the model's
  standardised scale and is **not** standardised again: the model takes ``z`` as given, so a
  draw of it from the prior predictive is what SBC needs (re-standardising would make the data
  no longer a draw from the model). A claim with competing hypotheses first gets its hypothesis
  from the prior weights, then its effect from that hypothesis; the choice is kept.
* :func:`fit`: the one compiled model of the process (cached per scenario inputs), pointed at
  the simulated ``z`` (a scenario number, :data:`forecast.model.build.EVIDENCE_Z`; with
  :meth:`CompiledModel.with_numbers`, nothing recompiled), explored as
  a run explores it (:func:`forecast.posterior.explore.explore`: one fit, or one per combination
  of hypotheses weighed by bridge sampling); the draws are thinned to ``L`` and each parameter's
  rank is the number of them below its true value, 0..L.
* :func:`uniformity`: per parameter, the ECDF simultaneous-band test of Säilynoja, Bürkner and
  Vehtari (2022) for discrete ranks, as a p-value, then Holm's adjustment over the parameters.

**What is ranked.** Every scalar parameter the model samples: ``baseline``, ``persistence``,
``volatility``, ``shift`` per node, ``effect`` per claim, ``intercept`` and ``loading`` per
indicator that is not its node's anchor (the anchors' are fixed at 0 and 1), ``noise`` per
indicator. Left out: the per-year shock scales ``_shock_scale`` (one per kept shock and year,
hundreds of heavy-tailed numbers each barely informed by one year's data: their ranks would
swamp the table, and any miscalibration of theirs shows in the volatilities and shifts they
scale). With competing hypotheses, each claim's choice of hypothesis is ranked too
(``hypothesis[claim]``): its posterior weights give a randomised PIT, ``u = sum of the weights
of the hypotheses before the true one + U x the true one's``, uniform when the weights are
calibrated, put on the same 0..L scale as ``floor(u (L + 1))``.

**Why L = 99 by default** (:data:`KEPT`): 100 possible ranks, so ranks are fine-grained enough
for the ECDF test on a few hundred simulations, and 99 near-independent draws are within reach
of a short fit: 2 chains x 200 draws leave a thinning step of about 4, and the draws are near
independent when the parameter's effective sample size is at least ``L`` (then consecutive kept
draws are at least one autocorrelation time apart). Each result says, per parameter, how many
independent draws the fit had (its ESS, per fit and weighed by each fit's share of the kept
draws when hypotheses compete); :func:`summarise` counts the simulations where that was below
``L``, whose ranks come from autocorrelated draws (they bunch at the extremes). 199 would need
an ESS of 199 out of 400 draws: too often not there.

**Determinism.** A simulation's truth and ranks depend on its :class:`Simulation` only (path,
index, seed; :func:`plan` derives each seed from the run's seed and the index) and on the
sampler settings other than their seed: the fit's seed is derived from the simulation's
(:func:`forecast.posterior.sampling.reseed`). A simulation whose fit raises is recorded as an
error by :func:`run` and left out of the ranks (its index and message are kept); fits the
diagnostics judge ``fail`` are kept, and counted: leaving them out would bias the ranks.

Within one process the fits share one compiled model, and a fit points the model's shared
vector of numbers at its own data: fits are serialised by a lock. Run one task at a time per
process (Dask: ``nthreads=1`` per worker); each fit's chains already run in parallel threads.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from forecast.errors import ForecastError
from forecast.model.build import EVIDENCE_Z, Evidence
from forecast.model.prior import prior_draws
from forecast.posterior.explore import Explored, explore
from forecast.posterior.sampling import CompiledModel, failure_text, reseed
from forecast.scenario import Scenario, load_scenario
from forecast.settings import SamplerSettings
from forecast.streams import Key, RandomStreams, derived_seed
from forecast.sweeps.engine import compiled_for

#: Posterior draws kept per simulation: ranks run 0..KEPT (see the module's docstring).
KEPT = 99


class CalibrationError(ForecastError):
    """A calibration that cannot give ranks: too few draws to keep, or no simulation fitted."""


def check_draws(settings: SamplerSettings, L: int = KEPT) -> None:
    """Refuse, before anything samples, settings whose fits cannot keep ``L`` draws each (every
    simulation would fail alike)."""
    if settings.chains * settings.draws < L:
        raise CalibrationError(f"--chains {settings.chains} x --draws {settings.draws} keep "
                               f"{settings.chains * settings.draws} draws a fit; a calibration ranks each true value "
                               f"among {L}: give chains x draws of at least {L} (the default is 2 x 200)")
#: The family-wise error rate of the uniformity tests (Holm over the parameters).
ALPHA = 0.05
#: Draws from the null (uniform ranks) behind each p-value and band: p-values down to
#: 1 / (NULL_DRAWS + 1), enough for Holm over a few hundred parameters at 0.05.
NULL_DRAWS = 20_000
#: The ranked parameters: name in the posterior, and the dim it runs over.
PARAMETERS = (("baseline", "node"), ("persistence", "node"), ("volatility", "node"), ("shift", "node"),
              ("effect", "claim"), ("intercept", "indicator"), ("loading", "indicator"), ("noise", "indicator"))
#: What is left out, in words (for the summary and the page).
EXCLUDED = ("the per-year shock scales (shock_scale in a run's results): hundreds of heavy-tailed variance "
            "multipliers, each barely informed by one year's data; a miscalibration of theirs shows in the "
            "volatilities and shifts they scale")



# --- Tasks and truths --------------------------------------------------------------------------


@dataclass(frozen=True)
class Simulation:
    """One simulation to run: the scenario file, its index in the plan, and its own seed."""

    path: str
    index: int
    seed: int


@dataclass(frozen=True)
class Truth:
    """One draw from the model: every ranked parameter's value (``parameters``, by label such as
    ``baseline[partnership]``), the hypothesis each claim with competing ones was drawn under,
    and the simulated evidence ``z`` (in :class:`forecast.model.build.Evidence`'s order, on the
    model's standardised scale), with the labels of its rows (``indicator:year``)."""

    path: str
    index: int
    seed: int
    parameters: dict[str, float]
    z: np.ndarray
    labels: tuple[str, ...]
    hypotheses: dict[str, str] = field(default_factory=dict)


def plan(path: str | Path, sims: int, seed: int) -> list[Simulation]:
    """``sims`` simulations of the scenario at ``path``, each with a seed derived from ``seed``
    and its index (adding simulations never changes the first ones). Loads the scenario once,
    so that a file that does not load fails here and not in every task."""
    if isinstance(sims, bool) or not isinstance(sims, int) or sims < 1:
        raise ValueError(f"sims must be a whole number of 1 or more, got {sims!r}")
    resolved = str(Path(path).resolve())
    load_scenario(resolved)
    return [Simulation(resolved, i, derived_seed(seed, Key.CALIBRATION_PLAN, i)) for i in range(sims)]


def labels_of(scenario: Scenario) -> list[str]:
    """The labels of the ranked parameters, in order: per node its equation's four, per claim
    its effect, per indicator its intercept and loading (unless it is its node's anchor) and
    its noise; then ``hypothesis[claim]`` for each claim with competing hypotheses."""
    return [label for label, _, _, _ in _parameters(scenario)] + [
        f"hypothesis[{c.id}]" for c in scenario.claims if c.hypotheses]


def _parameters(scenario: Scenario) -> list[tuple[str, str, str, str]]:
    """(label, name, dim, coordinate) of each ranked scalar parameter."""
    coords = {"node": scenario.node_ids, "claim": [c.id for c in scenario.claims], "indicator": list(scenario.indicators)}
    free = {iid for iid, ind in scenario.indicators.items() if not ind.anchor}
    out = []
    for name, dim in PARAMETERS:
        for coord in coords[dim]:
            if name in ("intercept", "loading") and coord not in free:
                continue
            out.append((f"{name}[{coord}]", name, dim, coord))
    return out


def simulate(scenario: Scenario | str | Path, index: int, seed: int) -> Truth:
    """One draw of every parameter from the prior, and the indicators simulated from the model at
    exactly the scenario's observation pattern (its indicators and years), on the model's
    standardised scale. Claims with competing hypotheses: the hypothesis is drawn from the prior
    weights, then the effect from it."""
    scenario = scenario if isinstance(scenario, Scenario) else _scenario(scenario)
    rng = RandomStreams(int(seed)).calibration_plan()
    chosen: dict[str, str] = {}
    claims = []
    for c in scenario.claims:
        if c.hypotheses:
            h = c.hypotheses[int(rng.choice(len(c.hypotheses), p=_normalised([h.weight for h in c.hypotheses])))]
            chosen[c.id] = h.id
            c = replace(c, prior=h.prior, hypotheses=())
        claims.append(c)
    draws = prior_draws(replace(scenario, claims=tuple(claims)), 1, seed)
    evidence = Evidence.from_scenario(scenario)
    z = np.zeros(0)
    if evidence.z.size:
        k, t, node = evidence.indicator, evidence.year_index, evidence.node
        direction = np.array([i.direction for i in scenario.indicators.values()])[k]
        e = RandomStreams(seed).replicated().standard_normal(evidence.z.size)
        level = draws["level"][0, t, node]
        z = draws["intercept"][0, k] + direction * draws["loading"][0, k] * level + draws["noise"][0, k] * e
    index_of = {"node": scenario.node_ids, "claim": [c.id for c in scenario.claims],
                "indicator": list(scenario.indicators)}
    parameters = {label: float(draws[name][0, index_of[dim].index(coord)])
                  for label, name, dim, coord in _parameters(scenario)}
    return Truth(str(scenario.path), int(index), int(seed), parameters, np.asarray(z, dtype=float),
                 tuple(evidence.labels), chosen)


def _normalised(weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


# --- The compiled model of each process ---------------------------------------------------------------

_SCENARIOS: dict[tuple[str, str], Scenario] = {}
#: Fits in one process share the compiled model's vector of numbers: one at a time.
_FITTING = threading.Lock()


def _digest(path: str) -> str:
    """The sha256 of the scenario file (a change of its data files changes the scenario's
    inputs too: :func:`_scenario` checks them)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _scenario(path: str | Path) -> Scenario:
    """The scenario at ``path``, loaded once per process and version of its inputs."""
    path = str(Path(path).resolve())
    key = (path, _digest(path))
    found = _SCENARIOS.get(key)
    if found is not None and all(hashlib.sha256(Path(f).read_bytes()).hexdigest() == h
                                 for f, h in zip(found.files.values(), found.sha256().values())):
        return found
    _SCENARIOS[key] = scenario = load_scenario(path)
    return scenario


def inputs_digest(scenario: Scenario) -> str:
    """One sha256 over the scenario's inputs (its file and its data files)."""
    return hashlib.sha256("".join(f"{k}={v};" for k, v in sorted(scenario.sha256().items())).encode()).hexdigest()


def compiled_model(path: str | Path, sampler: str = "nutpie") -> CompiledModel:
    """The process's compiled model of the scenario at ``path`` (compiled on first use; again
    only when the scenario's inputs change), built with its own evidence: the simulations swap
    the evidence's values, never its pattern."""
    scenario = _scenario(path)
    return compiled_for(scenario, (str(scenario.path), inputs_digest(scenario)), sampler)[0]


# --- One fit -------------------------------------------------------------------------------------


def fit(truth: Truth, settings: SamplerSettings, compiled: CompiledModel | None = None, *, L: int = KEPT) -> dict:
    """Fit the model to ``truth``'s simulated evidence as a run would, and rank each parameter's
    true value among ``L`` posterior draws (thinned evenly within each fit): ranks 0..L.

    Returns a JSON-ready dict: ``index``, ``seed``, ``L``, ``ranks`` (label -> rank),
    ``independent`` (label -> the fit's effective sample size for it, relative to the kept
    draws: below ``L`` the kept draws are autocorrelated), ``verdict`` and ``diagnostics`` (the
    fit's, as a run judges it), ``weights`` (claims with hypotheses: the posterior weights),
    ``seconds``. ``compiled``: the compiled model to use (default: the process's, cached)."""
    if L < 1 or L > settings.chains * settings.draws:
        raise ValueError(f"L = {L} draws cannot be kept from {settings.chains} chains x {settings.draws} draws")
    scenario = _scenario(truth.path)
    compiled = compiled if compiled is not None else compiled_model(truth.path, settings.sampler)
    own = reseed(replace(settings, seed=truth.seed, progress=False), Key.CALIBRATION_FIT)
    values = compiled.numbers.values
    if EVIDENCE_Z in compiled.numbers.slots:
        values = compiled.numbers.with_parts({EVIDENCE_Z: truth.z})
    started = time.perf_counter()
    with _FITTING:
        explored = explore(scenario, compiled.with_numbers(values), own)
    params = _parameters(scenario)
    draws, independent = _thinned(explored, params, L, own.seed)
    ranks = {label: int(np.sum(draws[label] < truth.parameters[label])) for label, _, _, _ in params}
    weights: dict[str, dict[str, float]] = {}
    if explored.weighing is not None:
        pit = RandomStreams(truth.seed).calibration_ties()
        for claim, per in explored.weighing.hypothesis_weights().items():
            weights[claim] = {h: float(w) for h, (w, _) in per.items()}
            ranks[f"hypothesis[{claim}]"] = hypothesis_rank(list(weights[claim].values()),
                                                            list(weights[claim]).index(truth.hypotheses[claim]),
                                                            L, pit.uniform())
    d = explored.diagnostics
    return {
        "index": truth.index, "seed": truth.seed, "L": L, "ranks": ranks, "independent": independent,
        "verdict": d.verdict,
        "diagnostics": {"max_rhat": _num(d.max_rhat), "min_ess_bulk": _num(d.min_ess_bulk),
                        "min_ess_tail": _num(d.min_ess_tail), "divergences": d.divergences, "fits": d.fits,
                        "worst_rhat": d.worst.get("rhat", ""),
                        "sampling_seconds": round(d.sampling_seconds, 3),
                        "messages": list(d.messages)},
        "weights": weights, "seconds": round(time.perf_counter() - started, 3),
    }


def hypothesis_rank(weights: list[float], true: int, L: int, u: float) -> int:
    """The rank (0..L) of the true hypothesis given the posterior weights: the randomised PIT
    ``sum(weights[:true]) + u * weights[true]`` (``u`` uniform on [0, 1)), uniform when the
    weights are calibrated, binned as ``floor(PIT (L + 1))``."""
    w = np.asarray(weights, dtype=float)
    pit = float(w[:true].sum() + u * w[true]) / float(w.sum())
    return int(min(L, math.floor(pit * (L + 1))))


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _thinned(explored: Explored, params: list[tuple[str, str, str, str]], L: int,
             seed: int) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """``L`` posterior draws of each parameter, and per parameter the number of independent
    draws the fits hold for that many kept draws (``min`` over fits of ``ESS / share``).

    One fit: ``L`` draws evenly spaced over its chains. Competing hypotheses: the mixture
    posterior as a run assembles it (:meth:`Weighing.assemble` with ``L`` draws: from each
    combination's fit its share ``P(c | y) L``, evenly spaced within the fit)."""
    if explored.weighing is None:
        post = explored.tree["posterior"].dataset
        n = post.sizes["chain"] * post.sizes["draw"]
        pick = np.round(np.linspace(0, n - 1, L)).astype(int)
        draws = {label: _flat(post, name, dim, coord)[pick] for label, name, dim, coord in params}
        return draws, {label: e for label, e in _ess(post, params).items()}
    weighing = explored.weighing
    post = weighing.assemble(1, L, seed)["posterior"].dataset
    draws = {label: _flat(post, name, dim, coord) for label, name, dim, coord in params}
    counts = np.bincount(np.asarray(post["combination"].values, dtype=int).ravel(), minlength=len(weighing.fits))
    independent = {label: math.inf for label, _, _, _ in params}
    for f, m in zip(weighing.fits, counts):
        if m == 0:
            continue
        for label, e in _ess(f.tree["posterior"].dataset, params).items():
            independent[label] = min(independent[label], e * L / m)
    return draws, independent


def _flat(post, name: str, dim: str, coord: str) -> np.ndarray:
    return np.asarray(post[name].sel({dim: coord}).values, dtype=float).ravel()


def _ess(post, params: list[tuple[str, str, str, str]]) -> dict[str, float]:
    """Each parameter's smaller of bulk and tail effective sample size in one fit's draws (as
    :func:`arviz.ess` gives them; all parameters in one array, which is several times faster)."""
    from arviz_stats.base import array_stats  # arviz-stats' documented array interface
    from arviz_stats.validate import validate_ci_prob  # internal: arviz-stats is bounded in pyproject.toml

    stacked = np.stack([np.asarray(post[name].sel({dim: coord}).values, dtype=float)
                        for _, name, dim, coord in params], axis=-1)  # (chain, draw, parameter)
    bulk = array_stats.ess(stacked, chain_axis=0, draw_axis=1, method="bulk")
    tail = array_stats.ess(stacked, chain_axis=0, draw_axis=1, method="tail", prob=validate_ci_prob(None))
    smaller = np.fmin(bulk, tail)
    return {label: round(float(e), 1) if np.isfinite(e) else 0.0 for (label, _, _, _), e in zip(params, smaller)}


def run(simulation: Simulation, settings: SamplerSettings, *, L: int = KEPT) -> dict:
    """One simulation, end to end: :func:`simulate`, then :func:`fit` with the process's compiled
    model. An exception is returned as ``{"index", "seed", "error"}`` (so that one bad fit does
    not end a run of hundreds), not raised."""
    try:
        truth = simulate(simulation.path, simulation.index, simulation.seed)
        return fit(truth, settings, L=L)
    except Exception as exc:  # noqa: BLE001 - recorded and reported, see the docstring
        return {"index": simulation.index, "seed": simulation.seed, "error": failure_text(exc)}


# --- Uniformity --------------------------------------------------------------------------------


def _pointwise_table(n: int, L: int) -> np.ndarray:
    """``table[c, i]``: the two-sided binomial tail probability of ``c`` of ``n`` ranks at most
    ``i`` when ranks are uniform on 0..L (``c ~ Binomial(n, (i + 1) / (L + 1))``), i = 0..L-1."""
    from scipy import stats

    z = np.arange(1, L + 1) / (L + 1)
    c = np.arange(n + 1)[:, None]
    lower = stats.binom.cdf(c, n, z)
    upper = stats.binom.sf(c - 1, n, z)
    return np.minimum(1.0, 2.0 * np.minimum(lower, upper))


@lru_cache(maxsize=16)
def _null(n: int, L: int, draws: int = NULL_DRAWS) -> tuple[np.ndarray, np.ndarray]:
    """The pointwise table, and the sorted smallest pointwise tail probabilities of ``draws``
    samples of ``n`` uniform ranks on 0..L (the test statistic's null distribution)."""
    table = _pointwise_table(n, L)
    rng = np.random.default_rng([20220114, n, L])  # a fixed table, the same for every run: no run seed
    counts = np.cumsum(rng.multinomial(n, np.full(L + 1, 1.0 / (L + 1)), size=draws), axis=1)[:, :L]
    smallest = table[counts, np.arange(L)].min(axis=1)
    return table, np.sort(smallest)


def ecdf_counts(ranks: np.ndarray, L: int) -> np.ndarray:
    """How many ranks are at most ``i``, for i = 0..L-1."""
    return np.cumsum(np.bincount(np.asarray(ranks, dtype=int), minlength=L + 1))[:L]


def ecdf_band(n: int, L: int, prob: float = 1 - ALPHA) -> dict[str, list[float]]:
    """The simultaneous ``prob`` band of the ECDF of ``n`` uniform ranks on 0..L (Säilynoja et
    al. 2022), at the fractional ranks ``x = (i + 1) / (L + 1)``, i = 0..L-1, with 0 and 1 at
    the ends: ``lower`` and ``upper`` ECDF values, between which the ECDF of uniform ranks stays
    at every point at once with probability about ``prob``."""
    table, null = _null(n, L)
    gamma = float(np.quantile(null, 1.0 - prob))
    inside = table > gamma
    c = np.arange(n + 1)[:, None]
    lower = np.where(inside, c, n + 1).min(axis=0) / n
    upper = np.where(inside, c, -1).max(axis=0) / n
    x = np.arange(1, L + 1) / (L + 1)
    return {"x": [0.0, *x.tolist(), 1.0], "lower": [0.0, *lower.tolist(), 1.0], "upper": [0.0, *upper.tolist(), 1.0]}


def ecdf_test(ranks: np.ndarray, L: int) -> tuple[float, float]:
    """The ECDF test of ``ranks`` (0..L) for uniformity: the smallest pointwise two-sided
    binomial tail probability of the ECDF over the fractional ranks (the statistic of
    Säilynoja et al.'s simultaneous band), and its p-value under uniform ranks (by simulation,
    :data:`NULL_DRAWS` draws)."""
    r = np.asarray(ranks)
    table, null = _null(int(r.size), int(L))
    statistic = float(table[ecdf_counts(r, L), np.arange(L)].min())
    p = (1 + int(np.searchsorted(null, statistic, side="right"))) / (1 + null.size)
    return statistic, float(p)


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment: the adjusted p-values, in the given order."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for step, i in enumerate(order):
        running = max(running, min(1.0, (m - step) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def uniformity(ranks: dict[str, np.ndarray], L: int, *, alpha: float = ALPHA) -> dict:
    """Per parameter, whether its ranks (0..L, one per simulation) are uniform: the ECDF
    simultaneous-band test's p-value (:func:`ecdf_test`), Holm-adjusted over the parameters so
    that the chance of flagging any parameter whose ranks are in fact uniform is at most
    ``alpha``; ``flagged``: the parameters whose adjusted p-value is at most ``alpha``.

    Also per parameter: ``n`` ranks, the mean fractional rank ``mean_rank`` (rank / L; about
    0.5 when unbiased, above it when the posterior sits below the truth) and the share of ranks
    in the outer tenth on either side ``tails`` (about 0.2; more: the posterior is too narrow)."""
    labels, stats_, ps = [], [], []
    for label, r in ranks.items():
        r = np.asarray(r)
        if r.size == 0:
            continue
        if np.any(r != np.round(r)) or r.min() < 0 or r.max() > L:
            raise ValueError(f"{label}: ranks must be whole numbers from 0 to {L}")
        statistic, p = ecdf_test(r.astype(int), L)
        labels.append(label)
        stats_.append((r.astype(int), statistic))
        ps.append(p)
    adjusted = holm(ps)
    out: dict[str, Any] = {"method": "ECDF simultaneous band (Säilynoja, Bürkner & Vehtari 2022), Holm-adjusted",
                           "alpha": alpha, "L": L, "null_draws": NULL_DRAWS, "parameters": {}, "flagged": []}
    for label, (r, statistic), p, q in zip(labels, stats_, ps, adjusted):
        frac = r / L
        out["parameters"][label] = {
            "n": int(r.size), "statistic": statistic, "p_value": p, "p_holm": q, "flagged": bool(q <= alpha),
            "mean_rank": float(frac.mean()), "tails": float(np.mean((frac < 0.1) | (frac > 0.9))),
        }
        if q <= alpha:
            out["flagged"].append(label)
    return out


#: Simulations below which uniform ranks rule out only gross miscalibration: the ECDF band of
#: n ranks is about ±1.4/sqrt(n) wide, so with 50 a posterior 30% too narrow usually passes.
FEW_SIMULATIONS = 100


def caveats(summary: dict) -> list[str]:
    """What limits a calibration's verdict, in sentences: too few simulations for the test to
    see moderate miscalibration, fits that did not pass their diagnostics (their ranks can hide
    a miscalibration or fake one), simulations that ended in an error. Empty when none does."""
    out = []
    n, v = summary["completed"], summary["verdicts"]
    if 0 < n < FEW_SIMULATIONS:
        out.append(f"Only {n} simulations: uniform ranks here rule out gross miscalibration only; "
                   f"use --sims {FEW_SIMULATIONS} or more before calling the model calibrated.")
    unclean = v.get("warn", 0) + v.get("fail", 0)
    if unclean:
        at_scales = summary.get("unclean_at_shock_scales")
        where = (f"; in {at_scales} of them the largest R-hat is at a per-year shock scale, which the ranks leave out"
                 if at_scales else "")
        out.append(f"{unclean} of {n} fits did not pass their diagnostics ({v.get('fail', 0)} fail, "
                   f"{v.get('warn', 0)} warn{where}): their ranks can hide a miscalibration or fake one; rerun with "
                   "more --draws and --tune.")
    if summary["errors"]:
        out.append(f"{len(summary['errors'])} of {summary['sims']} simulations ended in an error and have no ranks.")
    return out


# --- Collecting results --------------------------------------------------------------------------


def ranks_of(results: list[dict]) -> dict[str, np.ndarray]:
    """Each parameter's ranks over the results without errors, in the order of the simulations."""
    done = sorted((r for r in results if "error" not in r), key=lambda r: r["index"])
    labels = list(done[0]["ranks"]) if done else []
    return {label: np.array([r["ranks"][label] for r in done], dtype=int) for label in labels}


def summarise(results: list[dict], *, scenario: Scenario | str | Path, seed: int, settings: SamplerSettings,
              alpha: float = ALPHA, seconds: float | None = None) -> dict:
    """What a calibration found, JSON-ready: the scenario, the settings, the simulations done and
    failed, the fits' verdicts, the uniformity tests (:func:`uniformity`), and per parameter how
    many simulations kept autocorrelated draws (``independent`` below ``L``)."""
    scenario = scenario if isinstance(scenario, Scenario) else _scenario(scenario)
    done = [r for r in results if "error" not in r]
    errors = sorted(({"index": r.get("index"), "error": r["error"]} for r in results if "error" in r),
                    key=lambda e: (e["index"] is None, e["index"] or 0))
    kept = {r["L"] for r in done}
    if len(kept) > 1:
        raise ValueError(f"the results kept different numbers of draws: {sorted(kept)}")
    L = kept.pop() if kept else KEPT
    ranks = ranks_of(results)
    verdicts = {v: sum(r["verdict"] == v for r in done) for v in ("ok", "warn", "fail")}
    at_scales = sum(r["verdict"] != "ok" and str(r["diagnostics"].get("worst_rhat", "")).startswith("shock_scale[")
                    for r in done)
    autocorrelated = {label: sum(r["independent"][label] < L for r in done)
                      for label in (done[0]["independent"] if done else {})}
    return {
        "scenario": {"name": scenario.name, "path": str(scenario.path), "inputs": scenario.sha256()},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seed": seed, "sims": len(results), "completed": len(done), "errors": errors, "L": L,
        "settings": asdict(settings), "verdicts": verdicts, "unclean_at_shock_scales": at_scales,
        "uniformity": uniformity(ranks, L, alpha=alpha),
        "autocorrelated": autocorrelated,
        "fit_seconds": {"mean": float(np.mean([r["seconds"] for r in done])) if done else None,
                        "total": float(np.sum([r["seconds"] for r in done]))},
        "seconds": None if seconds is None else round(seconds, 1),
        "parameters": labels_of(scenario), "excluded": EXCLUDED,
    }
