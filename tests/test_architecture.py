"""The layout shows the flow: each package imports only from the layers before it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "forecast"

#: docs/architecture.md's layers: a module may import from its own layer and those before it.
LAYERS = {
    "settings": 0, "streams": 0, "progress": 0, "files": 0, "interrupts": 0, "errors": 0,
    "scenario": 1, "compiled": 2, "model": 3, "posterior": 4, "forecasts": 5, "results": 6, "scoring": 7,
    "sensitivity": 7, "backtest": 7, "sweeps": 7, "calibration": 7,
    "report": 8, "pipeline": 9, "describe": 9, "cli": 10, "__main__": 11,
}


def _unit(module: str) -> str:
    """The layer unit of ``forecast.x.y``: ``x``."""
    return module.split(".")[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("forecast."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("forecast.")}
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.name != "__init__.py")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_one_way(path: Path) -> None:
    rel = path.relative_to(PACKAGE).with_suffix("")
    unit = rel.parts[0]
    assert unit in LAYERS, f"{rel} is in no layer of docs/architecture.md"
    backwards = sorted(m for m in _imports(path) if LAYERS[_unit(m)] > LAYERS[unit])
    assert not backwards, f"{rel} (layer {LAYERS[unit]}) imports from later layers: {backwards}"


def test_the_architecture_document_lists_every_package() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for unit in LAYERS:
        assert f"forecast/{unit}" in text, unit


# --- One entrance to the compiled machinery ---------------------------------------------------

COMPILED, ENTRANCE = "forecast.compiled", "forecast.compiled.runtime"


def compiled_imports(source: str, module: str) -> list[str]:
    """What the module ``module`` (its source) imports of :mod:`forecast.compiled`, anywhere in
    it (inside functions too): each module named, a name imported from a package counted as
    its submodule, relative imports resolved."""
    package = module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            if base in ("forecast", COMPILED):
                found += [f"{base}.{a.name}" for a in node.names]
            else:
                found.append(base)
    return [m for m in found if m == COMPILED or m.startswith(COMPILED + ".")]


def test_the_entrance_check_sees_every_form_of_import() -> None:
    source = """
import forecast.compiled.kalman
from forecast.compiled import runtime, join
from forecast import compiled

def late():
    from forecast.compiled.forward import forward
    from .. import compiled
    from ..compiled.runtime import forward
"""
    assert compiled_imports(source, "forecast.model.dynamics") == [
        "forecast.compiled.kalman", "forecast.compiled.runtime", "forecast.compiled.join", "forecast.compiled",
        "forecast.compiled.forward", "forecast.compiled", "forecast.compiled.runtime"]


OUTSIDE = [p for p in MODULES if p.relative_to(PACKAGE).parts[0] != "compiled"]


@pytest.mark.parametrize("path", OUTSIDE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_the_rest_of_the_package_enters_the_compiled_machinery_through_runtime_only(path: Path) -> None:
    """docs/architecture.md: compiled.runtime is the only entrance (it re-exports the Ops and
    kernels that models and forecasts are built with)."""
    module = ".".join(("forecast", *path.relative_to(PACKAGE).with_suffix("").parts))
    other = [m for m in compiled_imports(path.read_text(encoding="utf-8"), module) if m != ENTRANCE]
    assert not other, f"{module} imports {other}: take them from {ENTRANCE}"


def test_what_runtime_re_exports_is_the_compiled_modules_own() -> None:
    """The names themselves, not wrappers: no cost per call in the forecasts' loops."""
    import importlib

    from forecast.compiled import runtime

    assert set(runtime.EXPORTED) <= set(runtime.__all__)
    for name, module in runtime.EXPORTED.items():
        assert getattr(runtime, name) is getattr(importlib.import_module(f"{COMPILED}.{module}"), name), name


def test_importing_the_entrance_imports_no_compiler() -> None:
    """The command line imports runtime first, to start the background compile before its own
    heavy imports: the re-exported modules are imported on first use only."""
    import subprocess
    import sys

    code = ("import sys; from forecast.compiled import runtime; "
            "print(sorted(m for m in ('numba', 'llvmlite', 'pytensor', 'pymc', 'nutpie') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- What the package depends on is declared --------------------------------------------------

#: Libraries whose internal modules the package imports, besides those of the compiled fast path
#: (runtime.TESTED: bounded too, with a fallback; tests/test_compiled.py): with no fallback, each
#: is bounded in pyproject.toml to the minor version it was tested with.
INTERNALS = {"arviz-stats": "forecast/calibration/sbc.py: arviz_stats.validate"}


def _requirements() -> dict:
    import tomllib

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}


def test_every_library_the_package_imports_is_declared_in_pyproject() -> None:
    import sys
    from importlib import metadata

    from packaging.utils import canonicalize_name

    provided = metadata.packages_distributions()
    imported = set()
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    declared = _requirements()
    undeclared = sorted(m for m in imported - set(sys.stdlib_module_names) - {"forecast"}
                        if not any(canonicalize_name(d) in declared for d in provided.get(m, [])))
    assert not undeclared, f"imported but not in pyproject.toml's dependencies: {undeclared}"


@pytest.mark.parametrize("library", sorted(INTERNALS))
def test_a_library_whose_internals_are_used_is_bounded_to_the_tested_minor_version(library: str) -> None:
    from importlib import metadata

    major, minor = (int(x) for x in metadata.version(library).split(".")[:2])
    requirement = _requirements().get(library)
    assert requirement is not None, f"{library} is not declared in pyproject.toml ({INTERNALS[library]})"
    assert {str(s) for s in requirement.specifier} == {f">={major}.{minor}", f"<{major}.{minor + 1}"}, requirement


def test_every_random_number_comes_from_the_run_seed_through_a_named_stream() -> None:
    """No module seeds a generator of its own with a bare key: each use has its own entry in
    streams.Key, all different (only the calibration test's fixed null table is no run's)."""
    import ast

    from forecast.streams import Key

    assert len({int(k) for k in Key}) == len(Key)
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "streams.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("default_rng", "SeedSequence") \
                    and node.args and isinstance(node.args[0], ast.List):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert len(found) == 1 and found[0].startswith("calibration/sbc.py:"), found


def test_every_refusal_the_cli_turns_into_exit_1_is_a_forecast_error_a_notebook_can_catch() -> None:
    from forecast import ForecastError
    from forecast.backtest.hindcast import OriginsError
    from forecast.calibration.sbc import CalibrationError
    from forecast.results.store import RunError
    from forecast.scenario import ScenarioError
    from forecast.scoring.errors import LedgerError, ResolutionError, ScoringError
    from forecast.settings import SettingsError
    from forecast.sweeps.engine import ClusterError
    from forecast.sweeps.variants import SweepError

    for refusal in (ScenarioError, RunError, ScoringError, ResolutionError, LedgerError, SweepError, ClusterError,
                    OriginsError, CalibrationError, SettingsError):
        assert issubclass(refusal, ForecastError), refusal
    assert not issubclass(RuntimeError, ForecastError)  # a sampler's failure is not a refusal of input (exit 3)
