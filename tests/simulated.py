"""Tiny scenarios with simulated data, written as TOML with a CSV, for the hypothesis tests.

The issue's setup: X -> Y (same year), two competing hypotheses N(-0.5, 0.1) and N(+0.5, 0.1)
at equal weight, 25 years of both nodes measured, data simulated with the effect at +0.5 on
the model's standardised scale (the latent effect is rescaled until the standardised one,
beta * sd(x_obs) / sd(y_obs), is 0.5 for the realised data).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tomli_w
from scipy import stats

from forecast.scenario import Scenario

PHI = {"X": 0.6, "Y": 0.5, "W": 0.5}
SIGMA = {"X": 0.6, "Y": 0.3, "W": 0.3}
NOISE_SD = 0.15


def simulate(claims: list[tuple[str, str, float]], nodes: list[str], years: int, seed: int) -> dict[str, np.ndarray]:
    """Observed series per node from the model's equations (all claims same-year, ``nodes`` in
    causal order), each claim's effect given on the standardised scale of the observations."""
    rng = np.random.default_rng(seed)
    first = rng.normal(size=len(nodes))
    shocks = rng.normal(size=(years, len(nodes)))
    noise = rng.normal(size=(years, len(nodes)))
    latent = {f"{a}>{e}": b for a, e, b in claims}
    for _ in range(50):  # fixed point: standardised effect = latent * sd(cause) / sd(effect)
        d = np.zeros((years, len(nodes)))
        d[0] = first
        for t in range(years):
            for i, n in enumerate(nodes):
                prev = d[t - 1, i] if t else 0.0
                pull = sum(latent[f"{a}>{e}"] * d[t, nodes.index(a)] for a, e, _ in claims if e == n)
                if t == 0:
                    d[t, i] = first[i] + (1 - PHI[n]) * pull
                else:
                    d[t, i] = PHI[n] * prev + (1 - PHI[n]) * pull + SIGMA[n] * shocks[t, i]
        obs = d + NOISE_SD * noise
        sd = obs.std(axis=0, ddof=1)
        for a, e, b in claims:
            latent[f"{a}>{e}"] = b * sd[nodes.index(e)] / sd[nodes.index(a)]
    return {n: obs[:, i] for i, n in enumerate(nodes)}


def _node(n: str) -> dict:
    return {"label": n, "role": "lever" if n == "X" else "outcome", "display": {"kind": "linear"}}


def scenario_dict(claims: list[dict], nodes: list[str], data: bool, years: int = 25) -> dict:
    """A scenario over ``nodes`` with ``claims`` (TOML dicts); each node measured by one
    indicator of ``data/sim.csv`` when ``data``."""
    start = 1990
    ind = {"file": "data/sim.csv", "source": "simulation", "noise": {"dist": "Gamma", "alpha": 20, "beta": 100}}
    out = {
        "schema_version": 1,
        "scenario": {"name": "hypotheses", "history_start": start, "start_year": start + years,
                     "horizon": start + years + 2, "seed": 1},
        "nodes": {n: _node(n) for n in nodes},
        "claims": claims,
        "strategies": [{"id": "base", "label": "Base", "baseline": True}],
        "questions": [{"id": "q", "text": "Y up?", "subject": "Y", "year": start + years + 2,
                       "comparison": "above", "threshold": 0}],
    }
    if data:
        out["indicators"] = {f"{n.lower()}_obs": {"label": f"{n} observed", "node": n,
                                                  "column": f"{n.lower()}_obs", **ind} for n in nodes}
    return out


def hypotheses(mu: float, sigma: float = 0.1, weights: tuple[float, float] = (0.5, 0.5)) -> list[dict]:
    return [{"id": "negative", "weight": weights[0], "prior": {"dist": "Normal", "mu": -mu, "sigma": sigma}},
            {"id": "positive", "weight": weights[1], "prior": {"dist": "Normal", "mu": mu, "sigma": sigma}}]


def write(directory: Path, data: dict, series: dict[str, np.ndarray] | None, start: int = 1990) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if series is not None:
        (directory / "data").mkdir(exist_ok=True)
        names = list(series)
        rows = ["year," + ",".join(f"{n.lower()}_obs" for n in names) + ",source"]
        for t in range(len(series[names[0]])):
            rows.append(f"{start + t}," + ",".join(f"{series[n][t]:.6f}" for n in names) + ",simulated (seeded)")
        (directory / "data" / "sim.csv").write_text("\n".join(rows) + "\n")
    path = directory / "scenario.toml"
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


def issue_scenario(directory: Path, seed: int, *, data: bool = True, weights=(0.5, 0.5),
                   broad: float | None = None, years: int = 25) -> Path:
    """The issue's setup (``broad``: one Normal(0, broad) prior instead of the hypotheses,
    for the reweighting reference)."""
    claim = {"id": "x_to_y", "cause": "X", "effect": "Y", "lag": 0, "quote": "X drives Y"}
    if broad is None:
        claim["hypotheses"] = hypotheses(0.5, 0.1, weights)
    else:
        claim["prior"] = {"dist": "Normal", "mu": 0.0, "sigma": broad}
    series = simulate([("X", "Y", 0.5)], ["X", "Y"], years, seed) if data else None
    return write(directory, scenario_dict([claim], ["X", "Y"], data, years), series)


def two_claims_scenario(directory: Path, seed: int, *, broad: float | None = None, data: bool = True) -> Path:
    """X -> Y (hypotheses +-0.5) and X -> W (hypotheses +-0.3, weights 0.7/0.3): four
    combinations; data simulated with +0.5 and -0.3."""
    claims = []
    for cid, effect, mu, w in (("x_to_y", "Y", 0.5, (0.5, 0.5)), ("x_to_w", "W", 0.3, (0.3, 0.7))):
        c = {"id": cid, "cause": "X", "effect": effect, "lag": 0, "quote": f"X drives {effect}"}
        if broad is None:
            c["hypotheses"] = hypotheses(mu, 0.1, w)
        else:
            c["prior"] = {"dist": "Normal", "mu": 0.0, "sigma": broad}
        claims.append(c)
    series = simulate([("X", "Y", 0.5), ("X", "W", -0.3)], ["X", "Y", "W"], 25, seed) if data else None
    return write(directory, scenario_dict(claims, ["X", "Y", "W"], data), series)


def reweighted(effect: dict[str, np.ndarray], hyp_scenario: Scenario, broad_sd: float) -> dict:
    """The reference weights, computed another way than the package does: one fit with a broad
    Normal prior on each claim's effect instead of its hypotheses, reweighted by importance
    sampling (the hypotheses' density over the broad one; bounded ratios, so finite variance).

    Posterior weight of each combination (the order of :func:`hypotheses.combinations`)
    from draws ``effect[claim]`` (chain, draw) of a broad-prior Normal(0, broad_sd) fit."""
    import arviz as az
    from arviz_stats.base.array import array_stats

    from forecast.posterior.hypotheses import combinations

    combos = combinations(hyp_scenario)
    claims = {c.id: c for c in hyp_scenario.claims if c.hypotheses}
    logr = []
    for combo in combos:
        total = 0.0
        for cid, k in zip(combo.claims, combo.choice):
            beta = effect[cid]
            total = total + claims[cid].hypotheses[k].prior.scipy().logpdf(beta) - stats.norm(0, broad_sd).logpdf(beta)
        logr.append(total)
    logr = np.stack(logr)  # (combos, chain, draw)
    prior = np.array([c.prior_weight for c in combos])
    shift = logr.max()
    r = np.exp(logr - shift)
    a = r.mean(axis=(1, 2))
    w = prior * a / (prior * a).sum()
    denom = (prior * a).sum()
    mix = (prior[:, None, None] * r).sum(axis=0)
    mcse = []
    for c in range(len(combos)):
        h = (prior[c] * r[c] - w[c] * mix) / denom
        mcse.append(float(az.mcse(h)))
    khat = [float(array_stats.pareto_khat(lr, log_weights=True, tail="right")) for lr in logr]
    kish = [float(rc.sum() ** 2 / (rc ** 2).sum()) for rc in r]
    return {"weights": w.tolist(), "mcse": mcse, "khat": khat, "kish_ess": kish, "draws": int(r[0].size)}
