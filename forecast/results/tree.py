"""The results tree: an ArviZ-readable ``xarray.DataTree`` of a run.

Groups: ``posterior`` (parameters and the history, also on each node's display scale),
``prior`` (exact forward draws), ``sample_stats``, ``observed_data``, ``posterior_predictive``
(the indicators replicated over the history) and ``forecast`` (every strategy's forecast,
dims ``chain, draw, strategy, year, node|indicator``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from forecast.forecasts.strategies import forecast_levels, shocks
from forecast.model.build import Evidence, coords_of
from forecast.model.measurement import measure, to_display
from forecast.model.prior import prior_draws
from forecast.posterior.draws import Draws
from forecast.progress import Advance, no_advance
from forecast.scenario.domain import Scenario
from forecast.streams import RandomStreams

#: What each variable of ``results.nc`` is, kept in its ``description`` attribute (the symbols are
#: docs/model.md's equations; "standard units" are the latent scale of the levels).
DESCRIPTIONS = {
    "baseline": "mu: a node's baseline level, standard units",
    "persistence": "phi: how much of a node's deviation from its moving level lasts a year (1: a unit root)",
    "volatility": "sigma: the scale of a node's transitory yearly shocks, standard units",
    "shift": "omega: the scale of a node's lasting shifts of its moving level, standard units",
    "drift": "g: a node's drift of its moving level per year, standard units",
    "effect": "beta: each claim's long-run effect of its cause on its effect, standard units per standard unit",
    "intercept": "a: an indicator's intercept on its standardised scale (0 for a node's anchor indicator)",
    "loading": "b: how far an indicator moves per standard unit of its node (1 for a node's anchor indicator)",
    "noise": "tau: an indicator's measurement noise on its standardised scale",
    "level": "x: a node's latent level, standard units",
    "trend": "m: a node's moving level (its lasting shifts and drift), standard units",
    "node_value": "a node's level on its display scale (the 0-100 index, or its linear unit)",
    "shock_scale": "lambda: each year's shock scale (Student-t as a scale mixture); a year's large value is a break",
    "indicator_value": "an indicator's value in its own unit",
    "evidence": "the observations the model conditions on, each indicator's transformed value standardised",
    "combination": "the fit (combination of competing hypotheses) a draw comes from",
    "hypothesis": "the hypothesis a draw has for each claim with competing hypotheses",
    "source_chain": "the chain of its fit a draw comes from",
    "source_draw": "the draw of its fit's chain a draw comes from",
}
#: Variables starting with "_" are the sampler's own parametrisation of the ones above.
INTERNAL = ("the sampler's own parametrisation of a parameter (effect, intercept, loading): read that "
            "variable, named without the leading underscore, instead")


def described(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with each variable's ``description`` (:data:`DESCRIPTIONS`), where it has none."""
    for name, var in ds.data_vars.items():
        text = DESCRIPTIONS.get(name) or (INTERNAL if name.startswith("_") else None)
        if text and "description" not in var.attrs:
            var.attrs["description"] = text
    return ds


def results_tree(scenario: Scenario, idata: xr.DataTree, draws: Draws, seed: int,
                 advance: Advance = no_advance) -> xr.DataTree:
    """posterior, prior, sample_stats, observed_data, posterior_predictive and forecast groups
    (``advance`` is called once per strategy forecast)."""
    post = idata["posterior"].dataset
    # The sampled shock scales of the kept nodes are in shock_scale, with every other node's.
    keep = [v for v in post.data_vars if not v.startswith("_shock_scale")]
    posterior = post[keep]
    # single precision, as the forecasts are and as both are stored (storage_encoding): the
    # questions compare the two, and must read the same numbers in a run as from its files
    posterior["node_value"] = xr.DataArray(to_display(scenario, post["level"].values).astype(np.float32),
                                           dims=post["level"].dims, coords=post["level"].coords)
    chains, n = draws.chains, draws.draws
    D = chains * n
    coords = coords_of(scenario)
    fyears = [int(y) for y in scenario.forecast_years]
    sids = [s.id for s in scenario.strategies]

    levels = forecast_levels(scenario, draws, seed, advance)  # (S, H, D, N)
    ind_noise = shocks(scenario, D, seed).indicator_noise
    ind_future = measure(scenario, draws.intercept, draws.loading, draws.noise, levels,
                         np.broadcast_to(ind_noise, levels.shape[:3] + ind_noise.shape[2:]))

    def cd(arr: np.ndarray) -> np.ndarray:  # (S, H, D, X) -> (chain, draw, S, H, X)
        arr = np.moveaxis(arr, 2, 0)
        return arr.reshape((chains, n) + arr.shape[1:]).astype(np.float32)

    base_coords = {"chain": post["chain"].values, "draw": post["draw"].values, "strategy": sids, "year": fyears}
    forecast = xr.Dataset(
        {
            "level": (("chain", "draw", "strategy", "year", "node"), cd(levels)),
            "node_value": (("chain", "draw", "strategy", "year", "node"), cd(to_display(scenario, levels))),
            "indicator_value": (("chain", "draw", "strategy", "year", "indicator"), cd(ind_future)),
        },
        coords={**base_coords, "node": coords["node"], "indicator": coords["indicator"]},
        attrs={"description": "Forecasts per strategy (do-interventions from the start year), common random numbers",
               "start_year": scenario.start_year},
    )

    rng = RandomStreams(seed).replicated()
    hist_noise = rng.standard_normal((len(coords["year"]), D, len(coords["indicator"])))
    rep = np.moveaxis(measure(scenario, draws.intercept, draws.loading, draws.noise, np.moveaxis(draws.level, 1, 0),
                              hist_noise), 0, 1)
    ppc = xr.Dataset(
        {"indicator_value": (("chain", "draw", "year", "indicator"), rep.reshape((chains, n) + rep.shape[1:]))},
        coords={"chain": post["chain"].values, "draw": post["draw"].values, "year": coords["year"],
                "indicator": coords["indicator"]},
    )

    observed = np.full((len(coords["year"]), len(coords["indicator"])), np.nan)
    for k, ind in enumerate(scenario.indicators.values()):
        observed[ind.years - scenario.history_start, k] = ind.values
    evidence = Evidence.from_scenario(scenario)
    obs = xr.Dataset({"indicator_value": (("year", "indicator"), observed)},
                     coords={"year": coords["year"], "indicator": coords["indicator"]})
    if evidence.z.size:
        obs["evidence"] = xr.DataArray(evidence.z, dims="observation", coords={"observation": evidence.labels})

    prior = prior_draws(scenario, min(D, 4000), seed)
    prior_ds = xr.Dataset(
        {name: (_prior_dims(name), v[None]) for name, v in prior.items()},
        coords={"chain": [0], "draw": np.arange(len(prior["baseline"])), **coords},
    )
    prior_ds["node_value"] = (("chain", "draw", "year", "node"), to_display(scenario, prior["level"])[None])

    return xr.DataTree.from_dict({
        "posterior": described(posterior),
        "prior": described(prior_ds),
        "sample_stats": idata["sample_stats"].dataset,
        "observed_data": described(obs),
        "posterior_predictive": described(ppc),
        "forecast": described(forecast),
    })


def _prior_dims(name: str) -> tuple[str, ...]:
    return {
        "baseline": ("chain", "draw", "node"), "persistence": ("chain", "draw", "node"),
        "volatility": ("chain", "draw", "node"), "shift": ("chain", "draw", "node"),
        "effect": ("chain", "draw", "claim"), "drift": ("chain", "draw", "node"),
        "trend": ("chain", "draw", "year", "node"),
        "intercept": ("chain", "draw", "indicator"), "loading": ("chain", "draw", "indicator"),
        "noise": ("chain", "draw", "indicator"), "level": ("chain", "draw", "year", "node"),
    }[name]


def thin_forecasts(tree: xr.DataTree, keep: int) -> xr.DataTree:
    """Store at most ``keep`` forecast draws, evenly spaced within chains (asked for with
    --keep-draws; summaries were computed from every draw before this)."""
    fc = tree["forecast"].dataset
    chains, draws = fc.sizes["chain"], fc.sizes["draw"]
    if keep >= chains * draws:
        return tree
    n_chains = min(chains, keep)
    per_chain = max(1, keep // n_chains)
    index = np.unique(np.linspace(0, draws - 1, per_chain).round().astype(int))
    thinned = fc.isel(chain=slice(0, n_chains), draw=index)
    thinned.attrs["thinned"] = (f"{thinned.sizes['chain'] * thinned.sizes['draw']} of {chains * draws} "
                                "draws kept (--keep-draws)")
    return with_group(tree, "forecast", thinned)


def with_group(tree: xr.DataTree, name: str, dataset: xr.Dataset) -> xr.DataTree:
    """A copy of ``tree`` whose group ``name`` is ``dataset`` (the other groups as they are)."""
    return xr.DataTree.from_dict({**{k: tree[k].dataset for k in tree.children}, name: dataset})
