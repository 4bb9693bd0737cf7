"""From a validated scenario to a PyMC model of its history.

The sampled model covers the history years only (``history_start .. start_year - 1``):
that is where the evidence is. Forecasts under each strategy are simulated afterwards from
the posterior with the same equations (:mod:`forecast.model.dynamics`,
:mod:`forecast.forecasts.strategies`), so one sampled posterior and no recompilation serve
every strategy.

Variables (all with named dims):

* ``baseline[node]``, ``persistence[node]``, ``volatility[node]``, ``shift[node]``: each node's
  equation (its baseline, how fast its transitory part reverts, the sd of its transitory
  shocks and of its level's shifts);
* ``effect[claim]``: the long-run effect of each claim (one prior per fit: competing
  hypotheses are fitted one combination at a time, :mod:`forecast.posterior.hypotheses`);
* ``_shock_scale[shock_year, kept_shock]``: the variance multiplier of each shock of each node
  the evidence can see, in each year after the first (a Student-t's scale mixture), through an
  unconstrained ``_shock_scale_logit``;
* ``intercept, loading, noise [indicator]``: the measurement model,
  ``z = intercept + direction * loading * level[node] + noise * e`` where ``z`` is the
  indicator's transformed value standardised over its observed years; each node's first
  indicator anchors its scale (intercept 0, loading 1);
* ``evidence``: the log density of the observed ``z`` values (absent when there is no
  indicator, and then the posterior is the prior).

Given the parameters and shock scales the latent history is linear-Gaussian, so it is
integrated out: the observations are one multivariate normal whose covariance follows from the
parameters, and ``evidence`` is its log density (a potential: one Op, a Kalman filter, from the
parameters to the density, :mod:`forecast.compiled.kalman`). NUTS explores only the parameters;
the history is drawn exactly afterwards (:mod:`forecast.posterior.history`). Each drift is
integrated out with the history (a state with its prior's spread).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from forecast.model.inputs import GraphInputs, graph_input, graph_inputs, pymc_variable
from forecast.scenario.domain import Scenario
from forecast.scenario.graph import filtered_block, graph_of, transition_support
from forecast.scenario.priors import Distribution, reference_prior

#: The largest variance multiplier of one year's shock: a shock at most 10 times its usual
#: size. The Student-t's scale mixture is truncated there, in the model and in the forecasts
#: alike: with 2 degrees of freedom a draw now and then would otherwise be thousands of times
#: the usual size, and a forecast level overflow.
SHOCK_SCALE_CAP = 100.0
#: Labels of the evidence among the scenario numbers (a backtest swaps them per origin).
EVIDENCE_Z, EVIDENCE_OBSERVED = "evidence:z", "evidence:observed"
#: The two shocks of each node, in the order the state space takes them.
SHOCK_KINDS = ("transitory", "level")


@dataclass(frozen=True)
class Evidence:
    """Every indicator observation, flattened: one row per (indicator, year) with data, and
    whether each is in use (``observed`` 1) or held back (0, a backtest's future)."""

    indicator: np.ndarray  # index into scenario.indicators
    year_index: np.ndarray  # index into history years
    node: np.ndarray  # index into nodes
    z: np.ndarray  # standardised transformed value
    years: np.ndarray
    labels: list[str]
    observed: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.observed is None:
            object.__setattr__(self, "observed", np.ones(self.z.size))

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> "Evidence":
        nodes = scenario.node_ids
        ind, ti, nd, z, yrs, labels = [], [], [], [], [], []
        for k, (iid, indicator) in enumerate(scenario.indicators.items()):
            for year, value in zip(indicator.years, indicator.standardized()):
                ind.append(k)
                ti.append(int(year) - scenario.history_start)
                nd.append(nodes.index(indicator.node))
                z.append(float(value))
                yrs.append(int(year))
                labels.append(f"{iid}:{int(year)}")
        as_int = lambda v: np.array(v, dtype=int)  # noqa: E731
        return cls(as_int(ind), as_int(ti), as_int(nd), np.array(z, dtype=float), as_int(yrs), labels)

    def with_values(self, z: np.ndarray, observed: np.ndarray) -> "Evidence":
        """The same observations with other values and another choice of those in use."""
        return replace(self, z=np.asarray(z, dtype=float), observed=np.asarray(observed, dtype=float))

    @property
    def used(self) -> np.ndarray:
        return self.observed > 0


def coords_of(scenario: Scenario) -> dict[str, list]:
    return {
        "node": scenario.node_ids,
        "claim": [c.id for c in scenario.claims],
        "indicator": list(scenario.indicators),
        "year": [int(y) for y in scenario.history_years],
    }


def measured_nodes(scenario: Scenario) -> list[str]:
    return [n for n in scenario.node_ids if any(i.node == n for i in scenario.indicators.values())]


def kept_nodes(scenario: Scenario, evidence: Evidence | None = None) -> np.ndarray:
    """The nodes the evidence can see (those upstream of an indicator), in index order: the
    filter's, and those whose shock scales the model samples."""
    evidence = evidence or Evidence.from_scenario(scenario)
    if not evidence.z.size:
        return np.zeros(0, dtype=np.int64)
    return filtered_block(transition_support(graph_of(scenario)), evidence.node)[0]


def kept_shocks(scenario: Scenario, kept: np.ndarray) -> list[str]:
    """The labels of the kept nodes' shocks, as the model's ``kept_shock`` dim orders them."""
    ids = scenario.node_ids
    return [f"{ids[i]}:{kind}" for kind in SHOCK_KINDS for i in kept]


def build_model(scenario: Scenario, evidence: Evidence | None = None):
    """The PyMC model of the scenario's history, conditioned on its indicators (``evidence``:
    by default every observation; a backtest holds the later ones back).

    The scenario's numbers (prior parameters, initial spreads, hypothesis weights, the
    evidence itself) are graph inputs packed into one vector
    (:class:`forecast.model.inputs.GraphInputs`): editing them keeps the compiled model in the
    cache, and a backtest's origins share one compiled model.
    """
    evidence = evidence or Evidence.from_scenario(scenario)
    with graph_inputs(GraphInputs()) as first:
        _build(scenario, evidence)
    with graph_inputs(GraphInputs(first.packed())):
        return _build(scenario, evidence)


def numbers_of(scenario: Scenario, evidence: Evidence | None = None) -> tuple[np.ndarray, dict[str, slice]]:
    """The scenario's numbers as :func:`build_model` packs them, and their labelled slots,
    without building the graph that uses them (the recording pass alone, a few hundredths of
    a second): a variant that differs only in numbers runs on another's compiled model."""
    with graph_inputs(GraphInputs()) as first:
        _build(scenario, evidence or Evidence.from_scenario(scenario))
    return first.packed(), dict(first.slots)


def _build(scenario: Scenario, evidence: Evidence):
    import pymc as pm

    from forecast.compiled.runtime import KalmanEvidence, evidence_logp

    coords = coords_of(scenario)
    nodes = [scenario.nodes[n] for n in scenario.node_ids]
    graph = graph_of(scenario)
    if evidence.z.size:
        coords["observation"] = evidence.labels

    # Prior parameters are validated when the scenario loads (config, priors), and enter the
    # graph as inputs, so PyMC could not fold its checks on them away: without them the
    # log density has a dozen fewer operations to compile and run.
    with pm.Model(coords=coords, check_bounds=False) as model:
        mu = vector_prior("baseline", [n.baseline for n in nodes], "node")
        phi = vector_prior("persistence", [n.persistence for n in nodes], "node")
        sigma = vector_prior("volatility", [n.volatility for n in nodes], "node")
        omega = vector_prior("shift", [n.shift for n in nodes], "node")
        effect, effect_as_drawn, claim_of = _effects(scenario)
        init_sd = graph_input([n.initial_sd for n in nodes])
        drift_sd = graph_input([n.drift_sd for n in nodes])

        if scenario.indicators and evidence.z.size:
            inds = list(scenario.indicators.values())
            intercept, loading = _measurement_scale(inds)
            noise = vector_prior("noise", [i.noise for i in inds], "indicator")
            kept = kept_nodes(scenario, evidence)
            lam = _shock_scales(scenario, kept)
            z = graph_input(evidence.z, label=EVIDENCE_Z)
            observed = graph_input(evidence.observed, label=EVIDENCE_OBSERVED)
            direction = np.array([i.direction for i in inds])
            # One multivariate normal over every observation, as one Op: a potential, since
            # PyMC would need the observations' count from the parameters' shapes.
            op = KalmanEvidence.of(graph, evidence.indicator, direction, evidence.year_index, evidence.node, claim_of)
            pm.Potential("evidence", evidence_logp(
                op, phi=phi, sigma=sigma, omega=omega, beta=effect_as_drawn, s0=init_sd ** 2,
                drift_var=drift_sd ** 2, mu=mu, intercept=intercept, loading=loading, noise=noise,
                lam=lam.ravel(), z=z, observed=observed))
    return model


def _shock_scales(scenario: Scenario, kept: np.ndarray):
    """``_shock_scale[shock_year, kept_shock]``: each kept node's two shocks' variance
    multipliers in each year after the first, InverseGamma(nu/2, nu/2) truncated at
    :data:`SHOCK_SCALE_CAP` (a Student-t with ``nu`` degrees of freedom, marginally). Sampled
    on the log-odds of their share of the cap, with the density written out (PyMC's own
    truncation warns while it builds its draws, which this model never uses)."""
    import pymc as pm
    import pytensor.tensor as pt
    from scipy import special, stats

    model = pm.modelcontext(None)
    model.add_coord("shock_year", [int(y) for y in scenario.history_years[1:]])
    model.add_coord("kept_shock", kept_shocks(scenario, kept))
    a = scenario.shock_df / 2.0
    log_norm = float(stats.invgamma(a, scale=a).logcdf(SHOCK_SCALE_CAP))  # the truncation's mass
    half_df, constant = graph_input(a), graph_input(a * np.log(a) - float(special.gammaln(a)) - log_norm)
    shape = (len(scenario.history_years) - 1, 2 * kept.size)
    start = np.full(shape, float(np.log(1.0 / (SHOCK_SCALE_CAP - 1.0))))  # a scale of 1
    logit = pm.Flat("_shock_scale_logit", dims=("shock_year", "kept_shock"), initval=start)
    share = pm.math.sigmoid(logit)
    lam = SHOCK_SCALE_CAP * share
    # InverseGamma(a, a) density at lam, times |d lam / d logit| = lam (1 - share).
    log_density = constant - (half_df + 1.0) * pt.log(lam) - half_df / lam + pt.log(lam) + pt.log1p(-share)
    pm.Potential("shock_scale_prior", log_density.sum())
    return pm.Deterministic("_shock_scale", lam, dims=("shock_year", "kept_shock"))


def _measurement_scale(inds: list) -> tuple:
    """``intercept[indicator]`` and ``loading[indicator]``: 0 and 1 for each node's anchor
    indicator (which sets the node's latent scale: without it, the node's level, the
    intercept and the loading would trade off along a ridge the data cannot resolve),
    sampled from their priors for further indicators of the same node."""
    import pymc as pm

    free = [i for i in inds if not i.anchor]
    anchor = np.array([1.0 if i.anchor else 0.0 for i in inds])
    if not free:
        return (pm.Deterministic("intercept", pm.math.constant(np.zeros(len(inds))), dims="indicator"),
                pm.Deterministic("loading", pm.math.constant(anchor), dims="indicator"))
    ids = [i.id for i in inds]
    names = [i.id for i in free]
    model = pm.modelcontext(None)
    model.add_coord("free_indicator", names)
    a = _scatter(vector_prior("_intercept", [i.intercept for i in free], "free_indicator"), names, ids)
    b = _scatter(vector_prior("_loading", [i.loading for i in free], "free_indicator"), names, ids)
    return (pm.Deterministic("intercept", a, dims="indicator"),
            pm.Deterministic("loading", anchor + b, dims="indicator"))


def _scatter(values, names: list[str], ids: list[str]):
    """(years, len(names)) -> (years, len(ids)), zeros for the nodes not in ``names``."""
    onto = np.zeros((len(names), len(ids)))
    for row, n in enumerate(names):
        onto[row, ids.index(n)] = 1.0
    return values @ onto


def _effects(scenario: Scenario) -> tuple:
    """``effect[claim]``: one vector from the claims' priors; hypotheses become mixtures.

    Also returns the same effects before they are put in claim order, and the claim of each
    (the order in which the priors' variables come): the likelihood takes them so, which
    keeps a permutation and its scatter out of the gradient the sampler evaluates."""
    import pymc as pm
    import pytensor.tensor as pt

    from forecast.compiled.runtime import join_vectors

    claims = list(scenario.claims)
    if not claims:
        return pm.Deterministic("effect", pt.zeros((0,)), dims="claim"), pt.zeros((0,)), np.zeros(0, dtype=int)
    simple = [i for i, c in enumerate(claims) if not c.hypotheses]
    parts, order = [], []
    if simple:
        values, within = _grouped("_effect", [claims[i].prior for i in simple], ordered=False)
        parts.append(values)
        order += [simple[i] for i in within]
    for i, c in enumerate(claims):
        if c.hypotheses:
            # The hypotheses, and their reference prior as one more component of weight 0: a
            # fit under it measures each hypothesis's evidence (posterior.hypotheses).
            weights = graph_input([h.weight for h in c.hypotheses] + [0.0], label=weights_label(c.id))
            comps = [pymc_variable(h.prior) for h in c.hypotheses] + [pymc_variable(reference_prior(c.hypotheses))]
            parts.append(pm.Mixture(f"_effect_{c.id}", w=weights, comp_dists=comps).reshape((1,)))
            order.append(i)
    joined = join_vectors(parts)
    order = np.array(order)
    return pm.Deterministic("effect", joined[np.argsort(order)], dims="claim"), joined, order


def weights_label(claim: str) -> str:
    """The label of a claim's hypothesis weights among the scenario numbers."""
    return f"weights:{claim}"


def vector_prior(name: str, dists: list[Distribution], dim: str):
    """One variable over ``dim`` whose elements have their own priors.

    Elements that share a family become one vectorised random variable (one node in the
    graph, not one per element), which keeps compile time flat as scenarios grow.
    """
    import pymc as pm

    families = {d.name for d in dists}
    if len(families) == 1 and all(d.params.keys() == dists[0].params.keys() for d in dists):
        params = {k: np.array([d.params[k] for d in dists]) for k in dists[0].params}
        return pymc_variable(Distribution(dists[0].name, params), name, dims=dim)  # type: ignore[arg-type]
    return pm.Deterministic(name, _grouped(f"_{name}", dists), dims=dim)


def _grouped(prefix: str, dists: list[Distribution], ordered: bool = True):
    """One variable per family (and parameter names) among ``dists``, joined: in the order of
    ``dists``, or (``ordered=False``) as they come, with the index into ``dists`` of each."""
    from forecast.compiled.runtime import join_vectors

    groups: dict[tuple, list[int]] = {}
    for i, d in enumerate(dists):
        groups.setdefault((d.name, tuple(d.params)), []).append(i)
    parts, order = [], []
    for j, ((family, keys), idx) in enumerate(groups.items()):
        params = {k: np.array([dists[i].params[k] for i in idx]) for k in keys}
        name = prefix if len(groups) == 1 else f"{prefix}_{j}_{family}"
        rv = pymc_variable(Distribution(family, params), name, shape=len(idx))  # type: ignore[arg-type]
        parts.append(rv)
        order += idx
    joined = join_vectors(parts)
    if not ordered:
        return joined, order
    return joined[np.argsort(order)] if order != sorted(order) else joined
