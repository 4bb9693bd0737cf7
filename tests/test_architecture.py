"""The layout shows the flow: each package imports only from the layers before it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import ROOT

PACKAGE = ROOT / "forecast"

#: docs/architecture.md's layers: a module may import from its own layer and those before it.
LAYERS = {
    "settings": 0, "streams": 0, "progress": 0, "files": 0, "interrupts": 0,
    "scenario": 1, "compiled": 2, "model": 3, "posterior": 4, "forecasts": 5, "results": 6, "scoring": 7,
    "sensitivity": 7, "backtest": 7, "sweeps": 7, "calibration": 7,
    "report": 8, "pipeline": 9, "describe": 9, "cli": 10,
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
