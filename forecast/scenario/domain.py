"""The resolved scenario: what the model, the forecasts, the results and the report use.

Frozen dataclasses built by :func:`forecast.scenario.load.load_scenario` once every check has
passed: priors are :class:`~forecast.scenario.priors.Distribution` s, indicator data are
loaded and standardised, strategies hold a value per forecast year.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from forecast.scenario.priors import Distribution, Hypothesis
from forecast.scenario.schema import DisplaySpec


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    role: str
    description: str
    display: DisplaySpec
    desirable: str
    baseline: Distribution
    persistence: Distribution
    volatility: Distribution
    initial_sd: float

    def to_display(self, latent):
        """Latent level -> the node's display scale (works on numpy arrays)."""
        if self.display.kind == "index":
            return 100.0 / (1.0 + np.exp(-np.asarray(latent)))
        return self.display.offset + self.display.scale * np.asarray(latent)

    def to_latent(self, shown: float) -> float:
        if self.display.kind == "index":
            return float(math.log(shown / (100.0 - shown)))
        return float((shown - self.display.offset) / self.display.scale)

    @property
    def unit(self) -> str:
        return self.display.unit or ("index 0-100" if self.display.kind == "index" else "")


@dataclass(frozen=True)
class Claim:
    id: str
    cause: str
    effect: str
    lag: int
    label: str
    quote: str
    prior: Distribution | None
    hypotheses: tuple[Hypothesis, ...]

    def prior_distribution(self):
        """The effect's prior (frozen SciPy): the claim's prior, or the mixture of its hypotheses."""
        from forecast.scenario.priors import mixture

        return mixture(list(self.hypotheses)) if self.hypotheses else self.prior.scipy()

    @property
    def sign(self) -> float:
        """The claimed sign: of the prior's mean (weighted over hypotheses)."""
        return 1.0 if self.prior_distribution().mean() >= 0 else -1.0


@dataclass(frozen=True)
class Indicator:
    id: str
    label: str
    node: str
    transform: str
    direction: float
    unit: str
    source: str
    url: str
    file: Path
    column: str
    years: np.ndarray  # years with an observation
    values: np.ndarray  # raw values, in the indicator's own units
    sources: tuple[str, ...]  # the source cell of each row used
    intercept: Distribution
    loading: Distribution
    noise: Distribution
    center: float = 0.0  # mean of the transformed values (the standardisation)
    spread: float = 1.0  # sd of the transformed values
    anchor: bool = False  # the node's first indicator: intercept 0, loading 1 (sets the node's scale)

    def transformed(self, raw):
        raw = np.asarray(raw, dtype=float)
        if self.transform == "log":
            return np.log(raw)
        if self.transform == "logit_percent":
            p = raw / 100.0
            return np.log(p / (1.0 - p))
        return raw

    def untransformed(self, t):
        t = np.asarray(t, dtype=float)
        if self.transform == "log":
            return np.exp(t)
        if self.transform == "logit_percent":
            return 100.0 / (1.0 + np.exp(-t))
        return t

    def standardized(self) -> np.ndarray:
        return (self.transformed(self.values) - self.center) / self.spread

    def to_units(self, z):
        """Standardised measurement scale -> the indicator's own units."""
        return self.untransformed(self.center + self.spread * np.asarray(z))


@dataclass(frozen=True)
class Strategy:
    id: str
    label: str
    description: str
    baseline: bool
    interventions: dict[str, tuple[float, ...]]  # lever -> display value per forecast year


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    subject: str
    subject_kind: Literal["node", "indicator"]
    year: int
    comparison: str
    threshold: float | None
    reference_year: int | None
    change: float

    def describe_rule(self) -> str:
        op = "<" if self.comparison == "below" else ">"
        if self.threshold is not None:
            return f"{self.subject}[{self.year}] {op} {self.threshold:g}"
        shift = f" {'+' if self.change >= 0 else '-'} {abs(self.change):g}" if self.change else ""
        return f"{self.subject}[{self.year}] {op} {self.subject}[{self.reference_year}]{shift}"


@dataclass(frozen=True)
class Scenario:
    """A validated scenario, ready to build a model from."""

    path: Path
    name: str
    description: str
    source: str
    source_url: str
    history_start: int
    start_year: int
    horizon: int
    seed: int
    nodes: dict[str, Node]
    claims: tuple[Claim, ...]
    indicators: dict[str, Indicator]
    strategies: tuple[Strategy, ...]
    questions: tuple[Question, ...]
    text: str = ""
    files: dict[str, Path] = field(default_factory=dict)  # name in the run dir -> file read

    @property
    def history_years(self) -> np.ndarray:
        return np.arange(self.history_start, self.start_year)

    @property
    def forecast_years(self) -> np.ndarray:
        return np.arange(self.start_year, self.horizon + 1)

    @property
    def years(self) -> np.ndarray:
        return np.arange(self.history_start, self.horizon + 1)

    @property
    def node_ids(self) -> list[str]:
        return list(self.nodes)

    @property
    def initial_sd(self) -> np.ndarray:
        """Each node's spread in the first history year (latent standard units)."""
        return np.array([n.initial_sd for n in self.nodes.values()])

    @property
    def levers(self) -> list[str]:
        return [n for n, node in self.nodes.items() if node.role == "lever"]

    @property
    def outcomes(self) -> list[str]:
        return [n for n, node in self.nodes.items() if node.role == "outcome"]

    @property
    def baseline_strategy(self) -> Strategy | None:
        return next((s for s in self.strategies if s.baseline), None)

    def descendants(self, nodes: set[str]) -> set[str]:
        """Every node reachable from ``nodes`` along claims (any lag), the nodes included."""
        out = set(nodes)
        frontier = list(nodes)
        while frontier:
            cur = frontier.pop()
            for c in self.claims:
                if c.cause == cur and c.effect not in out:
                    out.add(c.effect)
                    frontier.append(c.effect)
        return out

    def sha256(self) -> dict[str, str]:
        return {name: file_sha256(p) for name, p in self.files.items()}


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    h.update(Path(path).read_bytes())
    return h.hexdigest()
