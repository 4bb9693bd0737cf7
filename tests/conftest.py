"""Shared fixtures: tiny scenarios written as TOML, and tiny sampler settings.

Tests never depend on the working directory: paths are built from this file's location.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import tomli_w

ROOT = Path(__file__).resolve().parents[1]
PRIORS = ROOT / "priors"
DEFAULT_SCENARIO = PRIORS / "article.toml"

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
