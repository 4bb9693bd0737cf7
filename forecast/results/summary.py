"""``summary.json``: the numbers a reader needs, from the results tree.

Each question's probability per strategy (with its Monte Carlo error, and the quantiles of the
quantity it compares) and its decision (the best strategy, and those tied with it), every node's trajectory, the contrasts against the baseline, each
claim's prior (as stated and as fitted) against its posterior, the indicators' fit and the
sampler's diagnostics, all JSON-ready. The report and the command line show these numbers and no other.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from forecast.forecasts.questions import answer, mcse_of_mean
from forecast.forecasts.strategies import lever_caps
from forecast.posterior.diagnostics import Diagnostics
from forecast.scenario.domain import LeverSetting, Scenario
from forecast.scenario.priors import summarize

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def build_summary(scenario: Scenario, tree: xr.DataTree, diagnostics: Diagnostics, seed: int,
                  one_step: dict | None = None) -> dict:
    """What the report and the command line show: the scenario, each question's answer by
    strategy, trajectories, contrasts, claims, the indicators' fit and the diagnostics."""
    return {
        "scenario": {
            "name": scenario.name, "description": scenario.description, "source": scenario.source,
            "source_url": scenario.source_url, "history_start": scenario.history_start,
            "start_year": scenario.start_year, "horizon": scenario.horizon, "seed": seed,
        },
        "nodes": {nid: {"label": n.label, "role": n.role, "unit": n.unit, "desirable": n.desirable,
                        "description": n.description} for nid, n in scenario.nodes.items()},
        "strategies": [{"id": s.id, "label": s.label, "description": s.description, "baseline": s.baseline,
                        "interventions": {k: _setting(scenario, k, v, _last_levels(tree, k))
                                          for k, v in s.interventions.items()}}
                       for s in scenario.strategies],
        "questions": [
            {"id": q.id, "text": q.text, "subject": q.subject, "subject_kind": q.subject_kind, "year": q.year,
             "comparison": q.comparison, "threshold": q.threshold, "reference_year": q.reference_year,
             "change": q.change, "desirable_answer": q.desirable, "rule": q.describe_rule(), "resolution": q.resolution,
             **_answers(tree, q)}
            for q in scenario.questions
        ],
        "trajectories": trajectories(scenario, tree),
        "contrasts": contrasts(scenario, tree),
        "claims": claim_summaries(scenario, tree),
        "indicators": indicator_fit(scenario, tree, one_step),
        "diagnostics": jsonable(diagnostics.to_dict()),
    }


def _answers(tree: xr.DataTree, question) -> dict:
    """The question's answer per strategy (``by_strategy``) and its ``decision``: the best
    strategy and those tied with it (paired), or None when it has no desirable answer."""
    by_strategy, found = answer(tree, question)
    return {"by_strategy": jsonable(by_strategy), "decision": None if found is None else jsonable(found.to_dict())}


def quantile_summary(x: np.ndarray, axis: int = 0, *, mean: bool = True) -> dict[str, list | float]:
    """mean, median and the 5/25/50/75/95% quantiles along ``axis`` (draws), JSON-ready; the
    mean None (null) where it is not a number to read (``mean=False``, see :func:`indicator_fit`)."""
    out = {k: jsonable(v) for k, v in _quantile_arrays(np.moveaxis(x, axis, 0)).items()}
    if not mean:
        out["mean"] = jsonable(np.full_like(np.asarray(out["median"], dtype=float), np.nan))
    return out


def _quantile_arrays(x: np.ndarray) -> dict[str, np.ndarray]:
    """mean, median and quantiles over axis 0 (draws), as arrays."""
    qs = np.quantile(x, QUANTILES, axis=0)
    out = {"mean": np.mean(x, axis=0), "median": qs[2]}
    out.update({f"q{int(q * 100):02d}": qs[i] for i, q in enumerate(QUANTILES)})
    return out


def jsonable(v):
    """JSON-ready: numpy to Python, non-finite floats to None (JSON has no NaN)."""
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return [jsonable(x) for x in v.tolist()] if v.ndim else jsonable(v.item())
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    if isinstance(v, (float, np.floating)):
        return None if not np.isfinite(v) else round(float(v), 6)
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


def trajectories(scenario: Scenario, tree: xr.DataTree) -> dict:
    """Per node and strategy, over all years: mean, median and quantiles on the display scale.

    Quantiles are taken for all nodes at once, the history's once for every strategy (it is
    the same posterior): a 100-node, 20-strategy scenario took 16 s node by node."""
    past = tree["posterior"].dataset["node_value"].transpose("chain", "draw", "year", "node")
    future = tree["forecast"].dataset["node_value"].transpose("chain", "draw", "strategy", "year", "node")
    years = [int(y) for y in scenario.years]
    flat = lambda a: a.reshape((-1,) + a.shape[2:])  # noqa: E731  (chain, draw) -> draws
    history = _quantile_arrays(flat(past.values.astype(float)))
    per = {}
    for k, sid in enumerate(future["strategy"].values):
        ahead = _quantile_arrays(flat(future.values[:, :, k].astype(float)))
        per[str(sid)] = {name: np.concatenate([history[name], ahead[name]], axis=0) for name in history}
    out = {}
    for i, (nid, node) in enumerate(scenario.nodes.items()):
        out[nid] = {"label": node.label, "role": node.role, "unit": node.unit, "desirable": node.desirable,
                    "years": years,
                    "by_strategy": {sid: {name: jsonable(v[:, i]) for name, v in stats.items()}
                                    for sid, stats in per.items()}}
    return out


def indicator_fit(scenario: Scenario, tree: xr.DataTree, one_step: dict | None = None) -> dict:
    """Per indicator: observations, posterior predictive over history, forecasts per strategy,
    and (``one_step``) each observation's in-sample prediction from the years before it, every
    observation but the first of its series (:func:`forecast.backtest.hindcast.one_step_ahead`).
    An indicator on a log scale has no mean (null): its shocks are heavy-tailed, and the
    exponential of a heavy-tailed draw makes the draws' average a matter of a few extreme draws
    (a tester's read 10,500 USD bn against a median of 2.9); its median and quantiles are what
    to read."""
    rep = tree["posterior_predictive"].dataset["indicator_value"]
    fc = tree["forecast"].dataset["indicator_value"]
    out = {}
    for iid, ind in scenario.indicators.items():
        r = rep.sel(indicator=iid).values.reshape(-1, rep.sizes["year"])
        per = {}
        for sid in fc["strategy"].values:
            f = fc.sel(indicator=iid, strategy=sid).values.reshape(-1, fc.sizes["year"]).astype(float)
            per[str(sid)] = quantile_summary(f, mean=ind.transform != "log")
        out[iid] = {
            "label": ind.label, "node": ind.node, "unit": ind.unit, "source": ind.source, "url": ind.url,
            "transform": ind.transform, "direction": "+" if ind.direction > 0 else "-",
            "file": ind.file.name, "column": ind.column,
            "observed": {"years": [int(y) for y in ind.years], "values": jsonable(ind.values),
                         "sources": list(ind.sources)},
            "history": {"years": [int(y) for y in scenario.history_years],
                        **quantile_summary(r, mean=ind.transform != "log")},
            "forecast": {"years": [int(y) for y in scenario.forecast_years], "by_strategy": per},
            "one_step": (one_step or {}).get(iid),
        }
    return out


def claim_summaries(scenario: Scenario, tree: xr.DataTree) -> dict:
    """Per claim: exact prior summary vs posterior draws, P(sign as claimed) with its Monte Carlo
    error, whether any data can bear on it (``informed``), hypothesis weights."""
    post = tree["posterior"].dataset
    reach = measured_or_upstream(scenario)
    out = {}
    for c in scenario.claims:
        by_chain = post["effect"].sel(claim=c.id).transpose("chain", "draw").values
        draws = by_chain.ravel()
        prior = c.prior_distribution()
        sign = c.sign
        right = (np.sign(draws) == sign).astype(float)
        entry = {
            "cause": c.cause, "effect": c.effect, "lag": c.lag, "label": c.label or c.id, "quote": c.quote,
            "sign": "+" if sign > 0 else "-", "contested_sign": c.contested_sign, "informed": c.effect in reach,
            "prior": {"dist": None if c.hypotheses else c.prior.describe(),
                      "stated": None if c.hypotheses else c.prior.stated, **jsonable(summarize(prior, sign))},
            "posterior": {**quantile_summary(draws), "sd": jsonable(float(np.std(draws))),
                          "p_sign": jsonable(float(right.mean())),
                          "p_sign_mcse": jsonable(mcse_of_mean(right, by_chain.shape[0]))},
        }
        entry["prior"]["p_sign"] = entry["prior"].pop("p_sign")
        if c.hypotheses:
            weighed = hypothesis_weights(post)
            entry["hypotheses"] = {
                h.id: {"label": h.label, "quote": h.quote, "prior": h.prior.describe(), "stated": h.prior.stated,
                       "prior_weight": jsonable(h.weight),
                       "posterior_weight": jsonable(weighed[f"{c.id}/{h.id}"][0]),
                       "posterior_weight_mcse": jsonable(weighed[f"{c.id}/{h.id}"][1])}
                for h in c.hypotheses
            }
        out[c.id] = entry
    return out


def measured_or_upstream(scenario: Scenario) -> set[str]:
    """The nodes an indicator measures, and every node with a claim path to one of them: a
    claim's effect outside this set moves nothing the data see, so no data can bear on it
    (its posterior is its prior)."""
    return scenario.ancestors(i.node for i in scenario.indicators.values())


def hypothesis_weights(posterior: xr.Dataset) -> dict[str, tuple[float, float]]:
    """``"claim/hypothesis" -> (posterior weight, its Monte Carlo error)``, as the weighing of
    the hypotheses recorded them with the posterior (:mod:`forecast.posterior.hypotheses`)."""
    attrs = posterior.attrs
    labels = list(np.atleast_1d(attrs.get("hypothesis_labels", [])))
    weights = np.atleast_1d(attrs.get("hypothesis_weights", []))
    mcse = np.atleast_1d(attrs.get("hypothesis_weights_mcse", []))
    return {str(k): (float(w), float(m)) for k, w, m in zip(labels, weights, mcse)}


def contrasts(scenario: Scenario, tree: xr.DataTree) -> dict:
    """Per outcome and strategy: strategy minus baseline, draw for draw, in each forecast year,
    and P(better than baseline) in the direction the scenario marks desirable."""
    base = scenario.baseline_strategy
    if base is None:
        return {}
    fc = tree["forecast"].dataset["node_value"]
    out = {}
    for nid in scenario.outcomes:
        node = scenario.nodes[nid]
        b = fc.sel(node=nid, strategy=base.id).values.astype(float)
        per = {}
        for s in scenario.strategies:
            if s.id == base.id:
                continue
            diff = (fc.sel(node=nid, strategy=s.id).values.astype(float) - b).reshape(-1, fc.sizes["year"])
            entry = quantile_summary(diff)
            entry["p_same"] = jsonable((diff == 0).mean(axis=0))  # its levers do not reach the node: 1
            if node.desirable != "neither":
                better = diff > 0 if node.desirable == "higher" else diff < 0
                entry["p_better"] = jsonable(better.mean(axis=0))
            per[s.id] = entry
        out[nid] = {"label": node.label, "unit": node.unit, "desirable": node.desirable,
                    "baseline": base.id, "years": [int(y) for y in scenario.forecast_years], "by_strategy": per}
    return out


def _setting(scenario: Scenario, lever: str, setting: LeverSetting, last: np.ndarray | None = None) -> dict:
    """A lever's setting as the report and other tools read it: in words, and as data.

    ``last``: the lever's latent level in the last history year, draw by draw, which a relative
    setting starts from. Where the setting would take an index past its bounds the forecast
    holds it there (:func:`~forecast.forecasts.strategies.lever_caps`), and the words say so
    with how often: "up 20 points from the 2024 level by 2029 in equal steps; capped at 99 from
    2029: an index stays below 100"; ``capped`` lists each such bound, the first year it binds
    (earliest and latest over the draws) and the share of draws it binds in."""
    node = scenario.nodes[lever]
    caps = () if last is None else lever_caps(node, setting, last, scenario.start_year)
    words = scenario.describe_setting(lever, setting)
    return {"kind": setting.kind,
            "setting": "; ".join([words] + [c.describe() for c in caps]),
            "values": list(setting.values) if setting.kind == "values" else None,
            "amount": setting.amount if setting.kind in ("to", "by", "by_sd") else None,
            "steps": list(setting.steps) if setting.kind != "values" else None,
            "capped": [c.to_dict() for c in caps]}


def _last_levels(tree: xr.DataTree, lever: str) -> np.ndarray | None:
    """``lever``'s latent level in the last history year, one per posterior draw (chains
    flattened as the forecasts take them: :class:`~forecast.posterior.draws.Draws`); None
    for a posterior without its history."""
    post = tree["posterior"].dataset
    if "level" not in post:
        return None
    level = post["level"].sel(node=lever).isel(year=-1)
    return level.transpose("chain", "draw").values.reshape(-1).astype(float)
