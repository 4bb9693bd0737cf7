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
