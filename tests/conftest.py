"""Shared fixtures: tiny scenarios written as TOML, and tiny sampler settings.

Tests never depend on the working directory: paths are built from this file's location.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import tomli_w

ROOT = Path(__file__).resolve().parents[1]
PRIORS = ROOT / "priors"
DEFAULT_SCENARIO = PRIORS / "article.toml"

#: Not results of a run: how long sampling took on this machine.
TIMINGS = {"sampling_seconds"}


def summary_values(summary: Path) -> dict[str, object]:
    """Every value of a summary.json file by its key path, timings left out."""

    def walk(value, path: str = ""):
        if isinstance(value, dict):
            for k, v in value.items():
                if k not in TIMINGS:
                    yield from walk(v, f"{path}.{k}")
        elif isinstance(value, list):
            for i, v in enumerate(value):
                yield from walk(v, f"{path}[{i}]")
        else:
            yield path, value

    return dict(walk(json.loads(summary.read_text(encoding="utf-8"))))


def differences(expected: dict[str, object], got: dict[str, object], rel_tol: float = 0.0) -> str:
    """How two summaries' values differ, in a few lines ('' when they are equal). An assert on
    the dicts themselves would have pytest diff thousands of lines on CI, for an hour. Numbers
    within ``rel_tol`` of each other are equal (0: exactly)."""
    def same(a, b) -> bool:
        if rel_tol and isinstance(a, float) and isinstance(b, float):
            return math.isclose(a, b, rel_tol=rel_tol, abs_tol=rel_tol)
        return a == b

    missing, extra = sorted(expected.keys() - got.keys()), sorted(got.keys() - expected.keys())
    moved = {k: (expected[k], got[k]) for k in expected.keys() & got.keys() if not same(expected[k], got[k])}
    parts = [f"{len(missing)} values missing, e.g. {missing[:3]}" if missing else "",
             f"{len(extra)} values extra, e.g. {extra[:3]}" if extra else "",
             f"{len(moved)} values moved, e.g. {dict(sorted(moved.items())[:4])}" if moved else ""]
    return "; ".join(p for p in parts if p)


#: Lever L drives A (same year), A drives B (same year); C is outside the chain.
CHAIN = {
    "schema_version": 1,
    "scenario": {"name": "chain", "history_start": 2000, "start_year": 2006, "horizon": 2010, "seed": 7},
    "nodes": {
        "L": {"label": "Lever", "role": "lever", "display": {"kind": "linear", "unit": "units"}},
        "A": {"label": "Middle", "role": "factor", "display": {"kind": "linear"}},
        "B": {"label": "Outcome", "role": "outcome", "desirable": "higher", "display": {"kind": "linear"}},
        "C": {"label": "Bystander", "role": "outcome", "desirable": "higher"},
    },
    "claims": [
        {"id": "l_to_a", "cause": "L", "effect": "A", "lag": 0, "quote": "L moves A",
         "prior": {"dist": "Normal", "mu": 0.5, "sigma": 0.001}},
        {"id": "a_to_b", "cause": "A", "effect": "B", "lag": 0, "quote": "A moves B",
         "prior": {"dist": "Normal", "mu": 0.8, "sigma": 0.001}},
        {"id": "c_to_l", "cause": "C", "effect": "L", "lag": 1, "quote": "C moves L",
         "prior": {"direction": "+", "strength": "moderate", "confidence": "low"}},
    ],
    "strategies": [
        {"id": "hold_low", "label": "Hold low", "baseline": True, "set": {"L": -1.0}},
        {"id": "hold_high", "label": "Hold high", "set": {"L": 1.0}},
        {"id": "natural", "label": "Natural course"},
    ],
    "questions": [
        {"id": "b_up", "text": "Is B in 2010 above its 2005 level?", "subject": "B", "year": 2010,
         "comparison": "above", "reference_year": 2005},
        {"id": "c_high", "text": "Is C in 2008 above 50?", "subject": "C", "year": 2008,
         "comparison": "above", "threshold": 50},
    ],
}


def tight_chain() -> dict:
    """The chain with persistence pinned near 0.5 for A and B, for analytic checks."""
    s = copy.deepcopy(CHAIN)
    for n in ("A", "B"):
        s["nodes"][n]["persistence"] = {"dist": "Beta", "alpha": 5000, "beta": 5000}
    return s


def write_scenario(directory: Path, data: dict, name: str = "scenario.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(tomli_w.dumps(data).encode())
    return path


@pytest.fixture
def chain_file(tmp_path: Path) -> Path:
    return write_scenario(tmp_path, CHAIN)


@pytest.fixture(scope="session")
def tiny_settings():
    from forecast.settings import SamplerSettings

    return SamplerSettings(draws=400, tune=400, chains=2, seed=11, progress=False)
