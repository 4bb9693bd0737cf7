"""Answering the scenario's questions: a probability per strategy, with its Monte Carlo error.

A question compares a subject (a node on its display scale, or an indicator in its own
units) in a forecast year with a threshold or with its own level in a reference year. Each
posterior draw answers yes or no; the probability is the share of yes, and its Monte Carlo
standard error comes from ArviZ's MCSE of that 0/1 series (which accounts for the
autocorrelation of MCMC draws, unlike the binomial formula).
"""

from __future__ import annotations

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


def answer(tree: xr.DataTree, question: Question) -> dict[str, dict]:
    """``{strategy: {"probability": p, "mcse": m, "quantity": {"q05", "q25", "median", "q75",
    "q95"}}}`` for one question (``quantity``: see :func:`quantity`)."""
    import arviz as az

    path = subject_path(tree, question.subject, question.subject_kind)
    hits = outcome(question, path)
    compared = quantity(question, path)
    out: dict[str, dict] = {}
    for sid in hits["strategy"].values:
        h = hits.sel(strategy=sid, drop=True)
        p = float(h.mean())
        mcse = float(az.mcse(h)) if 0.0 < p < 1.0 else 0.0
        q = np.nanquantile(compared.sel(strategy=sid).values.astype(float).ravel(), QUANTILES)
        out[str(sid)] = {"probability": p, "mcse": mcse if np.isfinite(mcse) else float("nan"),
                         "quantity": {"q05": q[0], "q25": q[1], "median": q[2], "q75": q[3], "q95": q[4]}}
    return out
