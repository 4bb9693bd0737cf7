"""From a validated scenario to a PyMC model of its history.

The sampled model covers the history years only (``history_start .. start_year - 1``):
that is where the evidence is. Forecasts under each strategy are simulated afterwards from
the posterior with the same equations (:mod:`forecast.dynamics`, :mod:`forecast.strategies`),
so one sampled posterior and no recompilation serve every strategy.

Variables (all with named dims):

* ``baseline[node]``, ``persistence[node]``, ``volatility[node]``: each node's equation;
* ``effect[claim]``: the long-run effect of each claim (a mixture for competing hypotheses);
* ``level[year, node]``: latent levels, non-centred: ``shock[year, node] ~ Normal(0, 1)``
  drives the equations, so the sampler sees a well-conditioned geometry;
* ``intercept, loading, noise [indicator]``: the measurement model,
  ``z = intercept + direction * loading * level[node] + noise * e`` where ``z`` is the
  indicator's transformed value standardised over its observed years;
* ``evidence[observation]``: the observed ``z`` values (absent when there is no indicator,
  and then the posterior is the prior).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forecast.config import Scenario
from forecast.dynamics import Graph, Params, history
from forecast.priors import Distribution


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


def graph_of(scenario: Scenario) -> Graph:
    index = {n: i for i, n in enumerate(scenario.node_ids)}
    return Graph.from_edges(len(index), [(index[c.cause], index[c.effect], c.lag) for c in scenario.claims])


def coords_of(scenario: Scenario) -> dict[str, list]:
    return {
        "node": scenario.node_ids,
        "claim": [c.id for c in scenario.claims],
        "indicator": list(scenario.indicators),
        "year": [int(y) for y in scenario.history_years],
    }


def build_model(scenario: Scenario):
    """The PyMC model of the scenario's history, conditioned on its indicators."""
    import pymc as pm
    import pytensor.tensor as pt

    coords = coords_of(scenario)
    nodes = [scenario.nodes[n] for n in scenario.node_ids]
    graph = graph_of(scenario)
    evidence = Evidence.from_scenario(scenario)
    if evidence.z.size:
        coords["observation"] = evidence.labels

    with pm.Model(coords=coords) as model:
        mu = vector_prior("baseline", [n.baseline for n in nodes], "node")
        phi = vector_prior("persistence", [n.persistence for n in nodes], "node")
        sigma = vector_prior("volatility", [n.volatility for n in nodes], "node")
        beta = _effects(scenario)

        # Non-centred latent states: the standardised shocks are the free variables.
        shock = pm.Normal("shock", 0.0, 1.0, dims=("year", "node"))
        d0 = np.array([n.initial_sd for n in nodes]) * shock[0]
        deviations = history(d0, shock[1:], Params(phi=phi, sigma=sigma, beta=beta), graph, len(coords["year"]), pt.concatenate)
        level = pm.Deterministic("level", mu + deviations, dims=("year", "node"))

        if scenario.indicators:
            inds = list(scenario.indicators.values())
            intercept = vector_prior("intercept", [i.intercept for i in inds], "indicator")
            loading = vector_prior("loading", [i.loading for i in inds], "indicator")
            noise = vector_prior("noise", [i.noise for i in inds], "indicator")
            direction = np.array([i.direction for i in inds])
            k = evidence.indicator
            mean = intercept[k] + direction[k] * loading[k] * level[evidence.year_index, evidence.node]
            pm.Normal("evidence", mu=mean, sigma=noise[k], observed=evidence.z, dims="observation")
    return model


def _effects(scenario: Scenario):
    """``effect[claim]``: one vector from the claims' priors; hypotheses become mixtures."""
    import pymc as pm
    import pytensor.tensor as pt

    claims = list(scenario.claims)
    if not claims:
        return pm.Deterministic("effect", pt.zeros((0,)), dims="claim")
    simple = [i for i, c in enumerate(claims) if not c.hypotheses]
    parts, order = [], []
    if simple:
        parts.append(_grouped("_effect", [claims[i].prior for i in simple]))
        order += simple
    for i, c in enumerate(claims):
        if c.hypotheses:
            weights = np.array([h.weight for h in c.hypotheses])
            comps = [h.prior.pymc() for h in c.hypotheses]
            parts.append(pm.Mixture(f"_effect_{c.id}", w=weights, comp_dists=comps).reshape((1,)))
            order.append(i)
    joined = pt.concatenate(parts) if len(parts) > 1 else parts[0]
    return pm.Deterministic("effect", joined[np.argsort(order)], dims="claim")


def vector_prior(name: str, dists: list[Distribution], dim: str):
    """One variable over ``dim`` whose elements have their own priors.

    Elements that share a family become one vectorised random variable (one node in the
    graph, not one per element), which keeps compile time flat as scenarios grow.
    """
    import pymc as pm

    families = {d.name for d in dists}
    if len(families) == 1 and all(d.params.keys() == dists[0].params.keys() for d in dists):
        params = {k: np.array([d.params[k] for d in dists]) for k in dists[0].params}
        return Distribution(dists[0].name, params).pymc(name, dims=dim)  # type: ignore[arg-type]
    return pm.Deterministic(name, _grouped(f"_{name}", dists), dims=dim)


def _grouped(prefix: str, dists: list[Distribution]):
    import pytensor.tensor as pt

    groups: dict[tuple, list[int]] = {}
    for i, d in enumerate(dists):
        groups.setdefault((d.name, tuple(d.params)), []).append(i)
    parts, order = [], []
    for j, ((family, keys), idx) in enumerate(groups.items()):
        params = {k: np.array([dists[i].params[k] for i in idx]) for k in keys}
        name = prefix if len(groups) == 1 else f"{prefix}_{j}_{family}"
        rv = Distribution(family, params).pymc(name, shape=len(idx))  # type: ignore[arg-type]
        parts.append(rv)
        order += idx
    joined = pt.concatenate(parts) if len(parts) > 1 else parts[0]
    return joined[np.argsort(order)]
