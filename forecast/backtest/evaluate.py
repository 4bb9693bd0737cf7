"""Scoring the hindcasts: every held-back observation against the model's predictive and the
naive baselines', gathered into a dataset with dims (origin, horizon, indicator) and a summary.

Scores are on each indicator's own scale: its transformed values (log, logit or as is, where
the baselines are random walks) in units of the sd of its year-on-year changes over its whole
record (:func:`score_scale`). The model and every baseline are scored on the same scale, so a
CRPS is in the same units for all of them, and scores of different indicators pool whatever
their units: an indicator recorded in millions instead of billions scores the same (on the
transformed scale itself a CRPS is in the indicator's units and the log score shifts by the
log of its scale, so the pooled numbers would follow whichever series has the largest
numbers). Every score is the same for any shift of the scale. The unit is one number per
indicator, the same at every origin, so within an indicator every point weighs the same and
its skill is the one on its transformed scale; it uses the whole record, since it is a
yardstick for the scores, not an input to any forecast. The map changes no forecaster's PIT
or coverage, and at each point multiplies every CRPS by the same number.

The skill of a set of points is ``1 - mean CRPS / mean CRPS of the best baseline`` on those
points, the best being the baseline with the lowest mean CRPS there (so skill >= 0 means the
model beats every naive forecast on average). Coverage of a central interval is the share of
points it holds; a calibrated forecast's 90% intervals hold about 90%, and its PIT values are
uniform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from forecast.backtest.baselines import BASELINES, yearly_changes
from forecast.backtest.scores import NormalMixture, mixture_quantile, score

LEVELS = (0.5, 0.8, 0.9)
#: Quantiles kept of each predictive, for the fan charts.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
SCORES = ("crps", "log_score", "pit", *(f"cover_{round(100 * lv)}" for lv in LEVELS))
#: The verbal names of the baselines, as the report and the summary print them.
BASELINE_LABELS = {"rw_normal": "random walk (normal)", "rw_t": "random walk (Student-t)",
                   "rw_drift": "random walk with drift"}


@dataclass(frozen=True)
class Target:
    """One held-back observation of one origin."""

    origin: int
    horizon: int
    indicator: str
    year: int
    actual: float  # transformed scale
    actual_value: float  # the indicator's own units
    past_years: np.ndarray  # the indicator's years before the origin
    past: np.ndarray  # and their transformed values
    unit: float  # the indicator's unit of scoring (:func:`score_scale`)


def score_scale(values: np.ndarray, years: np.ndarray) -> float:
    """The unit an indicator's scores are in: the sd of its year-on-year changes over its whole
    record (transformed scale), the typical step a random walk takes; the sd of its values when
    it has fewer than three consecutive years, and 1 when it does not vary at all."""
    v = np.asarray(values, dtype=float)
    gap, change = yearly_changes(years, v) if v.size >= 2 else (np.zeros(0), np.zeros(0))
    steps = change[gap == 1]
    for spread in (np.std(steps, ddof=1) if steps.size >= 2 else 0.0, np.std(v, ddof=1) if v.size >= 2 else 0.0):
        if np.isfinite(spread) and spread > 0:
            return float(spread)
    return 1.0


def score_target(target: Target, mean: np.ndarray, sd: np.ndarray) -> dict[str, float]:
    """Every score of the model's predictive (a normal per draw, given on the transformed
    scale) and of each baseline at the target, all on the indicator's scoring scale ``x / unit``
    (every score is the same for any shift of ``x``); keys ``model:crps``, ``rw_t:pit``, ... and
    the model's quantiles ``q05`` ... ``q95`` (transformed scale)."""
    u = target.unit
    if not (np.isfinite(u) and u > 0):
        raise ValueError(f"{target.indicator} at {target.origin}: scoring needs a positive unit, not {u}")
    actual = target.actual / u
    model = NormalMixture(np.asarray(mean, dtype=float) / u, np.asarray(sd, dtype=float) / u)
    out = {f"model:{k}": v for k, v in _renamed(score(model, actual, LEVELS)).items()}
    for q in QUANTILES:
        out[f"q{round(100 * q):02d}"] = mixture_quantile(q, np.asarray(mean, dtype=float), np.asarray(sd, dtype=float))
    past = np.asarray(target.past, dtype=float) / u
    for name, make in BASELINES.items():
        predictive = make(target.past_years, past, target.year)
        out.update({f"{name}:{k}": v for k, v in _renamed(score(predictive, actual, LEVELS)).items()})
    return out


def _renamed(scores: dict[str, float]) -> dict[str, float]:
    """The scores as the backtest keeps them: the log score as ``-ln`` of the predictive density
    at the actual, lower is better, as for CRPS and for a scored question's ``-ln p``."""
    return {("log_score" if k == "logpdf" else k): (-float(v) if k == "logpdf" else float(v)) for k, v in scores.items()}


def to_dataset(targets: list[Target], scored: list[dict[str, float]], origins: list[int], horizon: int,
               indicators: list[str], skipped: dict[int, dict]) -> xr.Dataset:
    """The scores as a dataset over (origin, horizon, indicator), NaN where there is no target;
    the baselines' along a ``forecaster`` dim (``model`` first)."""
    forecasters = ["model", *BASELINES]
    shape = (len(origins), horizon, len(indicators))
    grid = {k: np.full(shape, np.nan) for k in ("actual", "actual_value", "year", *(f"q{round(100 * q):02d}" for q in QUANTILES))}
    per = {s: np.full((len(forecasters),) + shape, np.nan) for s in SCORES}
    unit = np.full(len(indicators), np.nan)
    for t, s in zip(targets, scored):
        at = (origins.index(t.origin), t.horizon - 1, indicators.index(t.indicator))
        grid["actual"][at], grid["actual_value"][at], grid["year"][at] = t.actual, t.actual_value, t.year
        unit[at[2]] = t.unit
        for q in QUANTILES:
            key = f"q{round(100 * q):02d}"
            grid[key][at] = s[key]
        for f, name in enumerate(forecasters):
            for k in SCORES:
                per[k][(f,) + at] = s[f"{name}:{k}"]
    dims = ("origin", "horizon", "indicator")
    skip = np.array([[i in skipped.get(o, {}) for i in indicators] for o in origins])
    data = {k: (dims, v) for k, v in grid.items()}
    data.update({k: (("forecaster",) + dims, v) for k, v in per.items()})
    data["skipped"] = (("origin", "indicator"), skip)
    data["scoring_unit"] = ("indicator", unit)
    ds = xr.Dataset(data, coords={"origin": origins, "horizon": np.arange(1, horizon + 1), "indicator": indicators,
                                  "forecaster": forecasters})
    ds["actual"].attrs["description"] = "the held-back observation, on the indicator's transformed scale"
    ds["pit"].attrs["description"] = "probability integral transform: the predictive CDF at the actual"
    standardised = "on the indicator's scoring scale, transformed / scoring_unit"
    ds["crps"].attrs["description"] = f"continuous ranked probability score {standardised} (lower is better)"
    ds["log_score"].attrs["description"] = (f"log score: -ln of the predictive density at the actual {standardised} "
                                            "(lower is better)")
    ds["scoring_unit"].attrs["description"] = ("the indicator's unit of scoring: the sd of its year-on-year changes "
                                               "over its whole record, transformed scale (a CRPS times it is on the "
                                               "transformed scale)")
    for k in QUANTILES:
        ds[f"q{round(100 * k):02d}"].attrs["description"] = f"the model's {k:g} quantile, transformed scale"
    ds["skipped"].attrs["description"] = ("left out at the origin (too little history before it, or constant there): "
                                          "not used there, not scored")
    ds.attrs["description"] = ("Rolling-origin hindcasts: the model conditioned on the years before each origin, "
                               "its predictive of each indicator 1..horizon years ahead, scored with naive baselines "
                               "on each indicator's scoring scale (scoring_unit), so that scores of indicators in "
                               "different units pool")
    return ds


#: Resamples of the origins behind a skill's interval, and its level.
SKILL_RESAMPLES, SKILL_LEVEL = 2000, 0.9


def skill(crps: xr.DataArray) -> dict:
    """Mean CRPS per forecaster over the points every forecaster scored, the best baseline,
    the model's skill against it (``None`` without points), and that skill's 90% interval
    over origins (:func:`skill_interval`)."""
    have = crps.notnull().all("forecaster")
    n = int(have.sum())
    if not n:
        return {"points": 0, "crps": {}, "best_baseline": None, "skill": None, "interval": None}
    means = {str(f): float(crps.sel(forecaster=f).where(have).mean()) for f in crps["forecaster"].values}
    baselines = {k: v for k, v in means.items() if k != "model"}
    best = min(baselines, key=baselines.get)
    value = 1.0 - means["model"] / baselines[best] if baselines[best] > 0 else None
    return {"points": n, "crps": means, "best_baseline": best, "skill": value,
            "interval": skill_interval(crps.where(have), best) if value is not None else None}


def skill_interval(crps: xr.DataArray, best: str, *, resamples: int = SKILL_RESAMPLES,
                   level: float = SKILL_LEVEL) -> list[float] | None:
    """How far a skill could be from chance in which years were backtested: the 90% interval of
    the skill over the origins resampled with replacement (a bootstrap whose blocks are
    origins, since one origin's points share its fit and its year's surprises), against the
    same best baseline. ``None`` with fewer than two origins with points. A skill of +0.01
    whose interval spans 0 is no evidence that the model beats the naive forecasts."""
    if "origin" not in crps.dims:
        return None
    within = [d for d in crps.dims if d not in ("origin", "forecaster")]
    model = crps.sel(forecaster="model").sum(within).values
    naive = crps.sel(forecaster=best).sum(within).values
    scored = crps.sel(forecaster="model").notnull().sum(within).values > 0
    model, naive = model[scored], naive[scored]
    if model.size < 2:
        return None
    rng = np.random.default_rng(0)  # a summary of fixed scores: the same interval on every reading
    pick = rng.integers(0, model.size, size=(resamples, model.size))
    m, b = model[pick].sum(axis=1), naive[pick].sum(axis=1)
    values = 1.0 - m[b > 0] / b[b > 0]  # ratio of sums: the same points for both
    lo, hi = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return [float(lo), float(hi)]


def coverage(ds: xr.Dataset, forecaster: str) -> dict[str, float | None]:
    """Share of the scored points each central interval holds."""
    out = {}
    for level in LEVELS:
        key = f"cover_{round(100 * level)}"
        v = ds[key].sel(forecaster=forecaster)
        out[key.removeprefix("cover_")] = float(v.mean()) if int(v.notnull().sum()) else None
    return out


def reliability(pit: np.ndarray, levels: np.ndarray | None = None) -> dict[str, list]:
    """Empirical coverage of central intervals at each nominal level, from PIT values: the
    interval of level ``a`` holds the actual when ``|PIT - 1/2| <= a/2``."""
    levels = np.linspace(0.1, 0.9, 9) if levels is None else levels
    pit = pit[np.isfinite(pit)]
    got = [float(np.mean(np.abs(pit - 0.5) <= a / 2)) if pit.size else None for a in levels]
    return {"nominal": [float(a) for a in levels], "empirical": got}


def summarise(ds: xr.Dataset) -> dict:
    """``backtest.json``'s scores: coverage and skill overall, per indicator and per horizon,
    the baselines' alongside, the PIT histogram and the reliability curve."""
    forecasters = [str(f) for f in ds["forecaster"].values]
    pit = ds["pit"].sel(forecaster="model").values.ravel()
    finite = pit[np.isfinite(pit)]
    counts, _ = np.histogram(finite, bins=10, range=(0.0, 1.0))
    out = {
        "points": int(np.isfinite(ds["crps"].sel(forecaster="model").values).sum()),
        "coverage": {f: coverage(ds, f) for f in forecasters},
        "skill": skill(ds["crps"]),
        "log_score": {f: _mean(ds["log_score"].sel(forecaster=f)) for f in forecasters},
        "pit_histogram": [int(c) for c in counts],
        "reliability": {f: reliability(ds["pit"].sel(forecaster=f).values.ravel()) for f in forecasters},
        "by_indicator": {}, "by_horizon": {},
    }
    for ind in ds["indicator"].values:
        part = ds.sel(indicator=ind)
        out["by_indicator"][str(ind)] = {"coverage": coverage(part, "model"), "skill": skill(part["crps"])}
    for h in ds["horizon"].values:
        part = ds.sel(horizon=h)
        out["by_horizon"][str(int(h))] = {"coverage": coverage(part, "model"), "skill": skill(part["crps"])}
    return out


def _mean(v: xr.DataArray) -> float | None:
    return float(v.mean()) if int(v.notnull().sum()) else None
