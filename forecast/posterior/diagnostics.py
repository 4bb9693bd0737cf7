"""Whether the sampler can be trusted: R-hat, effective sample sizes and divergences over the
sampled parameters, with a verdict (``ok``, ``warn``, ``fail``) and what to do about it.

The verdict is about the sampler only; whether the forecasts themselves hold up is what a
backtest measures.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from forecast.settings import SamplerSettings

#: Sampled parameters judged by the diagnostics (anchored intercepts and loadings are constants).
PARAMETERS = ("baseline", "persistence", "volatility", "shift", "effect", "_intercept", "_loading", "noise",
              "_shock_scale")

#: Thresholds of the diagnostics verdict (Vehtari et al. 2021 for R-hat and ESS).
RHAT_OK, RHAT_WARN = 1.01, 1.05
ESS_PER_CHAIN_OK, ESS_WARN = 100, 100



@dataclass
class Diagnostics:
    """What the sampler did and whether to trust it: ``ok``, ``warn`` or ``fail``."""

    sampler: str
    chains: int
    draws: int
    tune: int
    divergences: int
    divergences_per_chain: list[int]
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    worst: dict[str, str]
    sampling_seconds: float
    #: Leapfrog steps of all chains, tuning included: one gradient of the log density each, so
    #: sampling seconds per step is the cost of a gradient (None: the sampler did not say).
    leapfrog_steps: int | None = None
    #: Leapfrog steps per iteration, tuning included: what a draw cost in gradients.
    steps_per_iteration: float | None = None
    #: Sampling runs behind these numbers: one, or one per combination of competing hypotheses
    #: and a reference fit (``reference_fit``), each with these chains, draws and tuning steps;
    #: ``divergences_per_chain`` lists their chains fit by fit.
    fits: int = 1
    reference_fit: bool = False
    verdict: str = "ok"
    messages: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def steps_per_iteration(leapfrog_steps: int, chains: int, draws: int, tune: int) -> float:
    """Leapfrog steps per iteration, tuning included: what a draw cost in gradients."""
    return leapfrog_steps / (chains * (draws + tune))


def diagnose(posterior, sample_stats, var_names: list[str], settings: SamplerSettings,
             seconds: float, leapfrog_steps: int | None = None, *, informed_until: int | None = None) -> Diagnostics:
    """R-hat, bulk/tail ESS and divergences over ``var_names``, with a verdict and advice;
    the sampling seconds and leapfrog steps are recorded with them. Shock scales of years after
    ``informed_until`` (the last year with evidence in use) are left out: no data meets them,
    their draws are replaced by exact prior draws wherever they are used
    (:func:`forecast.posterior.history.shock_scales`), and their heavy-tailed prior mixes slowly
    (a backtest's origins failed on years they held back)."""
    import arviz as az

    ds = posterior[var_names]
    if informed_until is not None and "_shock_scale" in ds:
        years = ds["shock_year"].values
        ds = ds.isel(shock_year=np.flatnonzero(years <= informed_until)) if (years > informed_until).any() else ds
        if not ds.sizes.get("shock_year", 1):
            ds, var_names = ds.drop_vars("_shock_scale"), [v for v in var_names if v != "_shock_scale"]
    rhat = az.rhat(_halves(ds) if ds.sizes["chain"] == 1 else ds)
    ess_bulk = az.ess(ds, method="bulk")
    ess_tail = az.ess(ds, method="tail")

    def extreme(tree, largest: bool) -> tuple[float, str]:
        """The largest (or smallest) value over all variables, NaN ignored, and where it is."""
        sign = 1.0 if largest else -1.0
        best, where = float("nan"), ""
        for name in var_names:
            arr = np.asarray(tree[name], dtype=float)
            if np.isnan(arr).all():
                continue
            i = int(np.argmax(np.where(np.isnan(arr), -np.inf, sign * arr)))
            val = float(arr.flat[i])
            if np.isnan(best) or sign * val > sign * best:
                best, where = val, _label(tree[name], i, name)
        return best, where

    max_rhat, at_rhat = extreme(rhat, largest=True)
    min_bulk, at_bulk = extreme(ess_bulk, largest=False)
    min_tail, at_tail = extreme(ess_tail, largest=False)
    div = np.asarray(sample_stats["diverging"]).astype(bool)
    per_chain = [int(x) for x in div.sum(axis=1)]
    d = Diagnostics(
        sampler=settings.sampler, chains=settings.chains, draws=settings.draws, tune=settings.tune,
        divergences=int(div.sum()), divergences_per_chain=per_chain, max_rhat=max_rhat,
        min_ess_bulk=min_bulk, min_ess_tail=min_tail,
        worst={"rhat": at_rhat, "ess_bulk": at_bulk, "ess_tail": at_tail},
        sampling_seconds=seconds, leapfrog_steps=leapfrog_steps,
        steps_per_iteration=(None if not leapfrog_steps
                             else steps_per_iteration(leapfrog_steps, settings.chains, settings.draws, settings.tune)),
    )
    d.verdict, d.messages = judge(d)
    return d


def _halves(ds):
    """One chain as its two halves: R-hat compares chains, and with one (``--chains 1``) ArviZ
    gives NaN. The halves of a chain are what split-R-hat compares within each chain anyway, so
    a drift or a stuck stretch still shows; chains started apart would also show separated modes."""
    import xarray as xr

    half = ds.sizes["draw"] // 2
    first = ds.isel(chain=0, draw=slice(0, half))
    second = ds.isel(chain=0, draw=slice(half, 2 * half)).assign_coords(draw=first["draw"])
    return xr.concat([first, second], dim="chain")


def _label(da, flat_index: int, name: str) -> str:
    """Where a value is, by the name a reader finds in the results (``shock_scale``, not the
    model's internal ``_shock_scale``)."""
    name = name.lstrip("_")
    if not da.dims:
        return name
    idx = np.unravel_index(flat_index, da.shape)
    parts = [str(da[dim].values[i]) if dim in da.coords else str(i) for dim, i in zip(da.dims, idx)]
    return f"{name}[{', '.join(parts)}]"


def judge(d: Diagnostics, ess: bool = True) -> tuple[str, list[str]]:
    """Green/amber/red with what to do. Thresholds: R-hat <= 1.01, ESS >= 100 per chain, no
    divergences. ``ess=False`` leaves the effective sample size to be judged elsewhere (a
    mixture of fits is judged on the mixture's, :func:`judge_ess`)."""
    messages: list[str] = []
    verdict = "ok"

    def worse(level: str) -> None:
        nonlocal verdict
        order = ["ok", "warn", "fail"]
        verdict = max(verdict, level, key=order.index)

    total = d.chains * d.draws
    if d.divergences:
        share = d.divergences / max(total, 1)
        worse("fail" if share > 0.01 else "warn")
        messages.append(
            f"{d.divergences} divergent transitions ({share:.1%} of draws; per chain {d.divergences_per_chain}): "
            "the sampler missed part of the posterior. Results may be biased. Check for priors that conflict "
            "with the data (an indicator the model cannot fit), or tighten weakly identified priors."
        )
    if not np.isfinite(d.max_rhat) or d.max_rhat > RHAT_WARN:
        worse("fail")
        who = "the two halves of the one chain disagree" if d.chains == 1 else "chains disagree"
        messages.append(f"R-hat {d.max_rhat:.3f} at {d.worst['rhat']}: {who}. Run longer "
                        "(--tune, --draws) and check for competing hypotheses with separated modes.")
    elif d.max_rhat > RHAT_OK:
        worse("warn")
        messages.append(f"R-hat {d.max_rhat:.3f} at {d.worst['rhat']} is above {RHAT_OK}: run more draws.")
    if ess:
        level, message = judge_ess(d.min_ess_bulk, d.min_ess_tail, d.chains)
        if message:
            worse(level)
            messages.append(message)
    if verdict == "ok":
        messages.append("R-hat, effective sample sizes and divergences are all within the usual thresholds.")
    return verdict, messages


def judge_ess(bulk: float, tail: float, chains: int) -> tuple[str, str | None]:
    """The verdict on the smallest bulk and tail effective sample sizes, and its message."""
    need = ESS_PER_CHAIN_OK * chains
    low = float(min(bulk, tail)) if np.isfinite(bulk) and np.isfinite(tail) else float("nan")  # min() skips NaN
    which = "tail" if np.isfinite(low) and tail <= bulk else "bulk"
    if not np.isfinite(low) or low < ESS_WARN:
        return "fail", f"effective sample size ({which}) {low:.0f} is too low for stable intervals: increase --draws."
    if low < need:
        return "warn", (f"effective sample size ({which}) {low:.0f} < {need} ({ESS_PER_CHAIN_OK} per chain): "
                        "tail probabilities are imprecise; increase --draws.")
    return "ok", None
