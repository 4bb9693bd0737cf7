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

A run is built in a staging folder beside it and renamed into place in one step
(:mod:`forecast.results.staging`), so a failed or interrupted run leaves nothing behind and
never replaces an earlier run. Reading one checks every file against the manifest, and a
damaged or foreign folder is refused with what is wrong, never a traceback.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

import xarray as xr

from forecast.files import FileProblem, JsonProblem, MiB, Unreadable, parse_json, read_text
from forecast.results.shapes import MANIFEST, SUMMARY, Manifest, Summary, shape_problems
from forecast.results.staging import RunError, check_target, claim, claimed, staging
from forecast.scenario.domain import Scenario, file_sha256
from forecast.scenario.load import MAX_SCENARIO_BYTES

__all__ = ["MANIFEST", "RESULTS", "SUMMARY", "Run", "RunError", "check_target", "claim", "default_run_dir",
           "load_run", "manifest", "staging", "write_files"]

RESULTS = "results.nc"
SCENARIO_COPY = "scenario/scenario.toml"
PACKAGES = ("forecast", "pymc", "pytensor", "nutpie", "arviz", "xarray", "numpy", "preliz", "pydantic")


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

    def __repr__(self) -> str:
        """What a notebook shows for a run: where it is and what it holds, not the whole tree
        (``run.tree``, ``run.summary``)."""
        s = self.summary
        sizes = self.tree["posterior"].sizes if "posterior" in self.tree.children else {}
        verdict = s["diagnostics"].get("verdict")
        return (f"Run({str(self.path)!r}: {s['scenario']['name']!r}, {len(s['strategies'])} strategies, "
                f"{len(s['questions'])} questions"
                + (f", {sizes['chain']} chains x {sizes['draw']} draws" if {"chain", "draw"} <= set(sizes) else "")
                + (f", sampler: {str(verdict).upper()}" if verdict else "") + ")")


def manifest(scenario: Scenario, settings, *, keep_draws: int | None,
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
        "settings": asdict(settings) | {"keep_draws": keep_draws, "strategies": strategies or "all"},
        "versions": versions(),
        "code": code_version(),
        "command": command if command is not None else list(sys.argv),
    }


def setting_shown(key: str, value: Any) -> str:
    """A run's setting as a reader reads it (the report's provenance, ``forecast diff``): no
    Python words (``None``, ``False``, ``['a', 'b']``); ``keep_draws`` unset keeps all draws."""
    if value is None:
        return "all" if key == "keep_draws" else "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


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
    for name in scenario.files:
        (inputs / name).write_bytes(scenario.content(name))  # the bytes the run's numbers come from
    tree.to_netcdf(directory / RESULTS, engine="h5netcdf", encoding=storage_encoding(tree))
    write_json(directory / SUMMARY, summary)
    manifest = dict(manifest)
    manifest["files"] = {
        str(p.relative_to(directory)): file_sha256(p)
        for p in sorted(directory.rglob("*")) if p.is_file() and p.name != MANIFEST
    }
    write_json(directory / MANIFEST, manifest)


#: The largest JSON file of a run that is read (a 100-node, 20-strategy run's summary is ~20 MB).
MAX_JSON_BYTES = 512 * MiB
#: What a summary holds at its top level (the report reads each).
SUMMARY_KEYS = ("scenario", "nodes", "strategies", "questions", "trajectories", "contrasts", "claims",
                "indicators", "diagnostics")
_SHA256 = re.compile(r"[0-9a-f]{64}")


def load_run(path: str | Path, *, verify: bool = True) -> Run:
    """Open a run directory; with ``verify``, check every file against the manifest's sha256.
    Raises :class:`RunError` saying what is wrong and what to do."""
    path = Path(path)
    _check_folder(path)
    manifest = _read_json(path, MANIFEST)
    files = _listed_files(path, manifest)
    _check_shape(path, MANIFEST, Manifest, manifest)
    if verify:
        for rel, digest in files.items():
            f = path / rel
            if _linked(path, rel):  # a run writes files only: a link would read whatever it points to
                raise RunError(f"{path}: {rel} is a symbolic link, which a run never writes; it was edited: re-run "
                               "the scenario")
            if not f.is_file():
                raise RunError(f"{path}: {rel} is missing; the run is incomplete. Re-run the scenario")
            if rel.startswith("report/"):
                continue  # the report may be re-rendered in place
            try:
                same = file_sha256(f) == digest
            except OSError as exc:
                raise RunError(f"{path}: {rel} cannot be read ({exc.strerror}); check its permissions") from None
            if not same:
                raise RunError(f"{path}: {rel} was modified after the run (sha256 differs from "
                               f"{MANIFEST}); re-run the scenario rather than editing results")
        if SCENARIO_COPY in files:
            _check_scenario_copy(path)
    summary = _read_json(path, SUMMARY)
    missing = [k for k in SUMMARY_KEYS if k not in summary]
    if missing:
        raise RunError(f"{path}: {SUMMARY} lacks {', '.join(missing)}: it was not written by this version of "
                       "forecast, or was edited; re-run the scenario")
    _check_shape(path, SUMMARY, Summary, summary)
    try:
        tree = xr.open_datatree(path / RESULTS, engine="h5netcdf")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunError(f"{path}: {RESULTS} cannot be read as results ({type(exc).__name__}: {exc}); it was "
                       "damaged: re-run the scenario") from None
    return Run(path=path, tree=tree, summary=summary, manifest=manifest)


def _check_folder(path: Path) -> None:
    """A folder that could be a run directory: it exists, is a folder, and has a manifest."""
    try:
        if not path.exists():
            raise RunError(f"{path}: no such directory; give a run directory written by `forecast run`")
        if not path.is_dir():
            raise RunError(f"{path} is a file, not a run directory; give the folder `forecast run` wrote")
        if not (path / MANIFEST).exists():
            empty = not any(path.iterdir())
            raise RunError(f"{path} is {'an empty folder' if empty else 'not a run directory'} (no {MANIFEST}); "
                           "give a directory written by `forecast run`")
    except PermissionError:
        raise RunError(f"{path} cannot be read: permission denied; check its permissions") from None


def _read_json(path: Path, name: str) -> dict:
    """A JSON object from a run's file, read as :func:`forecast.files.parse_json` reads JSON
    (NaN, infinity, numbers beyond range and nesting beyond reason refused: a run never
    writes them)."""
    try:
        text = read_text(path / name, what=f"a run's {name}", limit=MAX_JSON_BYTES).text
    except Unreadable as exc:
        raise RunError(f"{path}: {name} {exc}") from None
    except FileProblem as exc:
        raise RunError(f"{path}: {name} {exc.reason}; it was damaged or is not a run's: re-run the scenario") from None
    try:
        data = parse_json(text)
    except JsonProblem as exc:
        what = "valid JSON" if exc.syntax else "a run's JSON"
        raise RunError(f"{path}: {name} is not {what} ({exc}); it was damaged: re-run the scenario") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: {name} holds a JSON {type(data).__name__}, not an object: it was not written by "
                       "`forecast run`; re-run the scenario")
    return data


def _check_shape(path: Path, name: str, model, data: dict) -> None:
    """Refuse a run file whose keys hold values of the wrong kind, naming each key path."""
    found = shape_problems(model, data)
    if found:
        raise RunError(f"{path}: {name} does not hold what `forecast run` writes ({'; '.join(found)}): it was "
                       "edited or damaged: re-run the scenario")


def _check_scenario_copy(path: Path) -> None:
    """The run's copy of its scenario file is UTF-8 text, as the file it was read from was
    (the report shows it, ``diff`` and ``sensitivity`` load it again)."""
    try:
        read_text(path / SCENARIO_COPY, what="a run's copy of its scenario", limit=MAX_SCENARIO_BYTES)
    except FileProblem as exc:
        raise RunError(f"{path}: {SCENARIO_COPY} {exc.reason}; it was damaged: re-run the scenario") from None


def _linked(path: Path, rel: str) -> bool:
    """Whether ``rel`` or a folder on its way inside the run ``path`` is a symbolic link."""
    here = path
    for part in PurePosixPath(rel).parts:
        here = here / part
        if here.is_symlink():
            return True
    return False


def _listed_files(path: Path, manifest: dict) -> dict[str, str]:
    """The manifest's files and their sha256, each a path inside the run."""
    files = manifest.get("files")
    if manifest.get("forecast_run") != 1 or not isinstance(files, dict):
        raise RunError(f"{path}: {MANIFEST} is not a manifest written by `forecast run` (no forecast_run = 1 "
                       "and files); give a run directory, or re-run the scenario")
    for rel, digest in files.items():
        parts = PurePosixPath(rel).parts
        if not rel or PurePosixPath(rel).is_absolute() or ".." in parts or "\\" in rel:
            raise RunError(f"{path}: {MANIFEST} names {rel!r}, a file outside the run; it was edited: re-run the "
                           "scenario")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise RunError(f"{path}: {MANIFEST} gives {rel} no sha256; it was edited: re-run the scenario")
    for needed in (RESULTS, SUMMARY):
        if needed not in files:
            raise RunError(f"{path}: {MANIFEST} does not list {needed}; the run is incomplete: re-run the scenario")
    return files


def default_run_dir(scenario: Scenario, root: Path, kind: str = "") -> Path:
    """``reports/<scenario file stem>[-<kind>]-<UTC timestamp>``, made unique if two runs share
    a second (``kind``: ``backtest``, ...)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = root / "-".join([scenario.path.stem, *([kind] if kind else []), stamp])
    candidate, n = base, 1
    while candidate.exists() or claimed(candidate):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate
