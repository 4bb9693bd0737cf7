"""From a validated scenario to a PyMC model of its history.

The sampled model covers the history years only (``history_start .. start_year - 1``):
that is where the evidence is. Forecasts under each strategy are simulated afterwards from
the posterior with the same equations (:mod:`forecast.model.dynamics`, :mod:`forecast.forecasts.strategies`),
so one sampled posterior and no recompilation serve every strategy.

Variables (all with named dims):

* ``baseline[node]``, ``persistence[node]``, ``volatility[node]``: each node's equation;
* ``effect[claim]``: the long-run effect of each claim (a mixture for competing hypotheses);
* ``intercept, loading, noise [indicator]``: the measurement model,
  ``z = intercept + direction * loading * level[node] + noise * e`` where ``z`` is the
  indicator's transformed value standardised over its observed years; each node's first
  indicator anchors its scale (intercept 0, loading 1);
* ``evidence``: the observed ``z`` values, one per (indicator, year) with data (absent when
  there is no indicator, and then the posterior is the prior).

The latent history ``level[year, node]`` is linear-Gaussian given the parameters, so by
default (:func:`choose_history`) it is integrated out: the observations are one multivariate
normal whose covariance follows from the parameters, and ``evidence`` is its log density (a
potential: one Op, a Kalman filter, from the parameters to the density), NUTS explores only
the parameters, and the history is drawn exactly afterwards (:mod:`forecast.posterior.history`).
Large scenarios, where the filter is too costly, sample the history instead: unmeasured
nodes non-centred (``shock[year, free_node] ~ Normal(0, 1)`` drives their equations),
measured nodes centred (``state[year, measured_node]`` are their deviations, and their
equations enter as the density of the implied shocks, the ``centred_states`` potential).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.model.dynamics import Params
from forecast.model.inputs import GraphInputs, graph_input, graph_inputs, pymc_variable
from forecast.scenario.domain import Scenario
from forecast.scenario.graph import Graph, filtered_block, graph_of, transition_support
from forecast.scenario.priors import Distribution
from forecast.settings import HISTORY_CHOICES, HistoryMode


@dataclass(frozen=True)
class Evidence:
    """Every indicator observation, flattened: one row per (indicator, year) with data."""

    indicator: np.ndarray  # index into scenario.indicators
    year_index: np.ndarray  # index into history years
    node: np.ndarray  # index into nodes
    z: np.ndarray  # standardised transformed value
    years: np.ndarray
    labels: list[str]

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


def coords_of(scenario: Scenario) -> dict[str, list]:
    return {
        "node": scenario.node_ids,
        "claim": [c.id for c in scenario.claims],
        "indicator": list(scenario.indicators),
        "year": [int(y) for y in scenario.history_years],
    }


def measured_nodes(scenario: Scenario) -> list[str]:
    return [n for n in scenario.node_ids if any(i.node == n for i in scenario.indicators.values())]


#: Multiply-adds per evaluation of the integrated density (see :func:`integration_cost`) up to
#: which the history is integrated out rather than sampled. Near the budget (a generated
#: 100-node, 30-year scenario costs 3.5 million) sampling takes about 2.5 minutes on these
#: machines, with 0 divergences and R-hat 1.02 where sampling its history gave 10 divergences
#: and R-hat 1.07; above it, sampling the history is cheaper per step, at the price of a
#: harder geometry.
INTEGRATION_BUDGET = 4e6


def integration_cost(scenario: Scenario) -> float:
    """Leading multiply-adds of one evaluation of the integrated density (the Kalman filter of
    :mod:`forecast.compiled.kalman`, over the nodes upstream of an indicator): each year's
    covariance prediction (nodes x the transition's non-zeros) and each observation's update
    (nodes^2). Its gradient costs a small multiple."""
    evidence = Evidence.from_scenario(scenario)
    kept, support = filtered_block(transition_support(graph_of(scenario)), evidence.node)
    n_years, n_kept = len(scenario.history_years), kept.size
    return n_years * n_kept * int(support.sum()) + evidence.z.size * n_kept ** 2


def choose_history(scenario: Scenario, requested: str = "auto") -> HistoryMode:
    """How the model handles the latent history: as ``requested``, or for "auto" integrated
    out when affordable.

    Given the parameters the history and the indicators are jointly Gaussian, so the
    evidence has a closed-form density and NUTS need only explore the few dozen parameters,
    whose geometry is benign; the history is then drawn exactly from its conditional
    distribution, draw by draw (:mod:`forecast.posterior.history`). That density costs
    :func:`integration_cost` per evaluation, so large scenarios sample the history instead
    (cheap per step, harder geometry).
    """
    if requested not in HISTORY_CHOICES:
        raise ValueError(f"history must be one of {', '.join(HISTORY_CHOICES)}, got {requested!r}")
    if requested != "auto":
        return requested  # type: ignore[return-value]
    return "integrated" if integration_cost(scenario) <= INTEGRATION_BUDGET else "sampled"


def history_of(model) -> HistoryMode:
    """How a built model handles the history: sampled models have the ``level`` variable."""
    return "sampled" if "level" in model.named_vars else "integrated"


def build_model(scenario: Scenario, history: HistoryMode | None = None, centred: list[str] | None = None):
    """The PyMC model of the scenario's history, conditioned on its indicators.

    The scenario's numbers (prior parameters, initial spreads, hypothesis weights) are graph
    inputs packed into one vector (:class:`forecast.model.inputs.GraphInputs`): editing them keeps
    the compiled model in the cache.

    ``history`` (default: :func:`choose_history`) "integrated" integrates the latent history out: the
    evidence is one multivariate normal whose covariance comes from the parameters, with its
    log density a Kalman filter compiled as one Op that starts from the parameters
    (:mod:`forecast.compiled.kalman`), and ``level`` is not a model variable.

    Otherwise latent levels are non-centred (the shocks are sampled) except for ``centred``
    nodes, by default those an indicator measures: the data pin their levels down, and
    sampling the levels themselves avoids the funnel that non-centring makes in that case.
    A centred node's equation then enters as the density of its implied shocks (its levels
    are fed to the rest of the graph like an intervention's values, so the history stays
    one recurrence, compiled as one Op: :mod:`forecast.compiled.recurrence`).
    """
    with graph_inputs(GraphInputs()) as first:
        _build(scenario, history or choose_history(scenario), centred)
    with graph_inputs(GraphInputs(first.packed())):
        return _build(scenario, history or choose_history(scenario), centred)


def _build(scenario: Scenario, history: HistoryMode, centred: list[str] | None):
    import pymc as pm

    from forecast.compiled.evidence_op import KalmanEvidence, evidence_logp

    coords = coords_of(scenario)
    nodes = [scenario.nodes[n] for n in scenario.node_ids]
    graph = graph_of(scenario)
    evidence = Evidence.from_scenario(scenario)
    if evidence.z.size:
        coords["observation"] = evidence.labels

    # Prior parameters are validated when the scenario loads (config, priors), and enter the
    # graph as inputs, so PyMC could not fold its checks on them away: without them the
    # log density has a dozen fewer operations to compile and run.
    with pm.Model(coords=coords, check_bounds=False) as model:
        mu = vector_prior("baseline", [n.baseline for n in nodes], "node")
        phi = vector_prior("persistence", [n.persistence for n in nodes], "node")
        sigma = vector_prior("volatility", [n.volatility for n in nodes], "node")
        effect, effect_as_drawn, claim_of = _effects(scenario)
        params = Params(phi=phi, sigma=sigma, beta=effect)
        init_sd = graph_input([n.initial_sd for n in nodes])
        if history == "sampled":
            level = _sampled_history(scenario, graph, params, mu, init_sd, centred)

        if scenario.indicators:
            inds = list(scenario.indicators.values())
            intercept, loading = _measurement_scale(inds)
            noise = vector_prior("noise", [i.noise for i in inds], "indicator")
            k = evidence.indicator
            direction = np.array([i.direction for i in inds])
            if history == "integrated":
                # One multivariate normal over every observation, as one Op: a potential, since
                # PyMC would need the observations' count from the parameters' shapes.
                op = KalmanEvidence.of(graph, k, direction, evidence.year_index, evidence.node, claim_of)
                pm.Potential("evidence", evidence_logp(op, evidence.z, params.phi, params.sigma, effect_as_drawn,
                                                       init_sd ** 2, mu, intercept, loading, noise))
            else:
                mean = intercept[k] + direction[k] * loading[k] * level[evidence.year_index, evidence.node]
                pm.Normal("evidence", mu=mean, sigma=noise[k], observed=evidence.z, dims="observation")
    return model


def _sampled_history(scenario: Scenario, graph: Graph, params: Params, mu, init_sd, centred: list[str] | None):
    """``level[year, node]`` as model variables (the history is sampled, not integrated out),
    computed claim by claim by one compiled Op (:mod:`forecast.compiled.recurrence`)."""
    import pymc as pm
    import pytensor.tensor as pt

    from forecast.compiled.recurrence import sampled_history

    model = pm.modelcontext(None)
    ids = scenario.node_ids
    n_years = len(scenario.history_years)
    centred = measured_nodes(scenario) if centred is None else centred
    free, measured = [n for n in ids if n not in centred], [n for n in ids if n in centred]
    model.add_coord("free_node", free)
    model.add_coord("measured_node", measured)
    held = np.array([1.0 if n in centred else 0.0 for n in ids])
    phi, sigma = params.phi, params.sigma

    shock = pm.Normal("shock", 0.0, 1.0, dims=("year", "free_node"))
    parts = [shock]
    if centred:
        parts.append(pm.Flat("state", dims=("year", "measured_node")))
    columns = np.argsort([ids.index(n) for n in free + measured])  # node order
    drive = (pt.concatenate(parts, axis=1) if len(parts) > 1 else shock)[:, columns]
    d, e = sampled_history(phi, sigma, params.beta, init_sd, drive, graph, held)
    if centred:
        c = np.flatnonzero(held)
        implied = (d[1:, c] - phi[c] * d[:-1, c] - (1.0 - phi[c]) * e[1:, c]) / sigma[c]
        pm.Potential("centred_states", pm.logp(pm.Normal.dist(0.0, init_sd[c]), d[0, c]).sum()
                     + pm.logp(pm.Normal.dist(0.0, 1.0), implied).sum()
                     - (n_years - 1) * pt.log(sigma[c]).sum())
    return pm.Deterministic("level", mu + d, dims=("year", "node"))


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

    from forecast.compiled.join import join_vectors

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
            weights = graph_input([h.weight for h in c.hypotheses], label=weights_label(c.id))
            comps = [pymc_variable(h.prior) for h in c.hypotheses]
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
    from forecast.compiled.join import join_vectors

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
