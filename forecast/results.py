"""A run's results: the DataTree, ``summary.json`` and the manifest, written atomically.

The run directory is the contract between ``forecast run`` and everything after it (the
report, later comparisons and scoring)::

    RUN/
      results.nc        xarray DataTree (ArviZ reads it): posterior, prior, sample_stats,
                        observed_data, posterior_predictive, forecast
      summary.json      the numbers: questions x strategies, trajectories, contrasts,
                        claims prior vs posterior, diagnostics
      manifest.json     seed, settings, sha256 of every input and output file, versions, command
      scenario/         exact copies of the scenario file and its data files
      report/           HTML (when rendered)

A run is built in a temporary sibling directory and renamed into place in one step, so a
failed run leaves nothing behind and never replaces an earlier run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import xarray as xr

from forecast.config import Scenario, file_sha256
from forecast.priors import hypothesis_responsibilities, summarize

RESULTS = "results.nc"
SUMMARY = "summary.json"
MANIFEST = "manifest.json"
PACKAGES = ("forecast", "pymc", "pytensor", "nutpie", "arviz", "xarray", "numpy", "preliz", "pydantic")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class RunError(Exception):
    """A run directory that cannot be used (missing, incomplete, or modified since written)."""


@dataclass
class Run:
    """A finished run: where it lives and what it holds."""

    path: Path
    tree: xr.DataTree
    summary: dict
    manifest: dict

    @property
    def scenario_file(self) -> Path:
        return self.path / "scenario" / "scenario.toml"


# --- Summaries -----------------------------------------------------------------------------


def quantile_summary(x: np.ndarray, axis: int = 0) -> dict[str, list | float]:
    """mean, median and the 5/25/50/75/95% quantiles along ``axis`` (draws), JSON-ready."""
    return {k: jsonable(v) for k, v in _quantile_arrays(np.moveaxis(x, axis, 0)).items()}


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


def indicator_fit(scenario: Scenario, tree: xr.DataTree) -> dict:
    """Per indicator: observations, posterior predictive over history, forecasts per strategy."""
    rep = tree["posterior_predictive"].dataset["indicator_value"]
    fc = tree["forecast"].dataset["indicator_value"]
    out = {}
    for iid, ind in scenario.indicators.items():
        r = rep.sel(indicator=iid).values.reshape(-1, rep.sizes["year"])
        per = {}
        for sid in fc["strategy"].values:
            f = fc.sel(indicator=iid, strategy=sid).values.reshape(-1, fc.sizes["year"]).astype(float)
            per[str(sid)] = quantile_summary(f)
        out[iid] = {
            "label": ind.label, "node": ind.node, "unit": ind.unit, "source": ind.source, "url": ind.url,
            "transform": ind.transform, "direction": "+" if ind.direction > 0 else "-",
            "file": ind.file.name, "column": ind.column,
            "observed": {"years": [int(y) for y in ind.years], "values": jsonable(ind.values),
                         "sources": list(ind.sources)},
            "history": {"years": [int(y) for y in scenario.history_years], **quantile_summary(r)},
            "forecast": {"years": [int(y) for y in scenario.forecast_years], "by_strategy": per},
        }
    return out


def claim_summaries(scenario: Scenario, tree: xr.DataTree) -> dict:
    """Per claim: exact prior summary vs posterior draws, P(sign as claimed), hypothesis weights."""
    post = tree["posterior"].dataset
    out = {}
    for c in scenario.claims:
        draws = post["effect"].sel(claim=c.id).values.ravel()
        prior = c.prior_distribution()
        sign = c.sign
        entry = {
            "cause": c.cause, "effect": c.effect, "lag": c.lag, "label": c.label or c.id, "quote": c.quote,
            "sign": "+" if sign > 0 else "-",
            "prior": {"dist": None if c.hypotheses else c.prior.describe(), **jsonable(summarize(prior, sign))},
            "posterior": {**quantile_summary(draws), "sd": jsonable(float(np.std(draws))),
                          "p_sign": jsonable(float(np.mean(np.sign(draws) == sign)))},
        }
        entry["prior"]["p_sign"] = entry["prior"].pop("p_sign")
        if c.hypotheses:
            weights = hypothesis_responsibilities(draws, list(c.hypotheses)).mean(axis=0)
            entry["hypotheses"] = {
                h.id: {"label": h.label, "quote": h.quote, "prior": h.prior.describe(),
                       "prior_weight": jsonable(h.weight), "posterior_weight": jsonable(float(w))}
                for h, w in zip(c.hypotheses, weights)
            }
        out[c.id] = entry
    return out


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
            if node.desirable != "neither":
                better = diff > 0 if node.desirable == "higher" else diff < 0
                entry["p_better"] = jsonable(better.mean(axis=0))
            per[s.id] = entry
        out[nid] = {"label": node.label, "unit": node.unit, "desirable": node.desirable,
                    "baseline": base.id, "years": [int(y) for y in scenario.forecast_years], "by_strategy": per}
    return out


# --- Writing and reading ---------------------------------------------------------------------


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def check_target(out: Path) -> None:
    """Refuse an existing, non-empty run directory (before any expensive work)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"{out} already exists and is not empty; runs are never overwritten: "
                       "choose another --out or remove it")


def sibling_dir(out: Path, suffix: str = ".partial") -> Path:
    """A new hidden directory beside ``out`` (same file system, so renaming it is atomic)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=suffix, dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; outputs are ordinary directories
    return tmp


@contextmanager
def staging(out: Path):
    """A temporary directory beside ``out``, renamed to ``out`` on success, removed on failure."""
    out = Path(out)
    check_target(out)
    tmp = sibling_dir(out)
    try:
        yield tmp
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


#: Results larger than this in memory (MB) are also compressed on disk (zlib, lossless, with
#: byte shuffling): about a quarter smaller, at ~20 ms per MB of writing that small runs skip.
COMPRESS_ABOVE_MB = 200


def storage_encoding(tree: xr.DataTree) -> dict[str, dict]:
    """How each variable is stored. Draws over years or strategies (four or more dims: the
    histories, forecasts and predictions) are kept in single precision, seven significant
    digits, far finer than their Monte Carlo error: half the disk (a 100-node, 20-strategy
    scenario's results took 850 MB in double precision). Parameters keep double precision."""
    compress = sum(tree[g].dataset.nbytes for g in tree.children) > COMPRESS_ABOVE_MB * 1e6
    encoding: dict[str, dict] = {}
    for group in tree.children:
        ds = tree[group].dataset
        per = {}
        for name, var in ds.data_vars.items():
            e = {}
            if var.dtype.kind == "f" and var.ndim >= 4 and "draw" in var.dims:
                e["dtype"] = "float32"
            if compress and var.dtype.kind == "f" and var.ndim >= 2:
                e.update(zlib=True, complevel=1, shuffle=True)
            if e:
                per[name] = e
        encoding[f"/{group}"] = per
    return encoding


def write_files(directory: Path, scenario: Scenario, tree: xr.DataTree, summary: dict, manifest: dict) -> None:
    """Everything of a run into ``directory`` (a staging directory), manifest last."""
    inputs = directory / "scenario"
    (inputs / "data").mkdir(parents=True)
    for name, src in scenario.files.items():
        shutil.copyfile(src, inputs / name)
    tree.to_netcdf(directory / RESULTS, engine="h5netcdf", encoding=storage_encoding(tree))
    write_json(directory / SUMMARY, summary)
    manifest = dict(manifest)
    manifest["files"] = {
        str(p.relative_to(directory)): file_sha256(p)
        for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST
    }
    write_json(directory / MANIFEST, manifest)


def load_run(path: str | Path, *, verify: bool = True) -> Run:
    """Open a run directory; with ``verify``, check every file against the manifest's sha256."""
    path = Path(path)
    manifest_file = path / MANIFEST
    if not manifest_file.is_file():
        raise RunError(f"{path} is not a run directory (no {MANIFEST}); give a directory written by "
                       "`forecast run`")
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    if verify:
        for rel, digest in manifest.get("files", {}).items():
            f = path / rel
            if not f.is_file():
                raise RunError(f"{path}: {rel} is missing; the run is incomplete. Re-run the scenario")
            if rel.startswith("report/"):
                continue  # the report may be re-rendered in place
            if file_sha256(f) != digest:
                raise RunError(f"{path}: {rel} was modified after the run (sha256 differs from "
                               f"{MANIFEST}); re-run the scenario rather than editing results")
    summary = json.loads((path / SUMMARY).read_text(encoding="utf-8"))
    tree = xr.open_datatree(path / RESULTS, engine="h5netcdf")
    return Run(path=path, tree=tree, summary=summary, manifest=manifest)


def default_run_dir(scenario: Scenario, root: Path) -> Path:
    """``reports/<scenario file stem>-<UTC timestamp>``, made unique if two runs share a second."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = root / f"{scenario.path.stem}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate
