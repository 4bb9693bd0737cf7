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
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import xarray as xr

from forecast.scenario.domain import Scenario, file_sha256

RESULTS = "results.nc"
SUMMARY = "summary.json"
MANIFEST = "manifest.json"
PACKAGES = ("forecast", "pymc", "pytensor", "nutpie", "arviz", "xarray", "numpy", "preliz", "pydantic")


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


def manifest(scenario: Scenario, settings, *, history: str, keep_draws: int | None,
             strategies: list[str] | None, command: list[str] | None) -> dict:
    """What a run was: its scenario and inputs' sha256, seed, settings, versions and command
    (the outputs' sha256 are added as they are written, :func:`write_files`)."""
    return {
        "forecast_run": 1,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scenario": str(scenario.path),
        "scenario_name": scenario.name,
        "inputs": scenario.sha256(),
        "seed": settings.seed,
        "settings": asdict(settings) | {"keep_draws": keep_draws, "strategies": strategies or "all",
                                        "history": history},
        "versions": versions(),
        "code": code_version(),
        "command": command if command is not None else list(sys.argv),
    }


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def code_version() -> dict[str, str | bool | None]:
    """The version of forecast that ran, and its git commit when it runs from a checkout
    (``modified``: the checkout had uncommitted changes to tracked files). A run is then
    traceable to the exact code, not only to a version number that many commits share."""
    out: dict[str, str | bool | None] = {"version": versions()["forecast"], "commit": None, "modified": None}
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists() or not shutil.which("git"):
        return out
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return out
    out.update(commit=head or None, modified=bool(status.strip()))
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
