"""The scenario file: its schema, loading, and every check that runs before sampling.

One pydantic model describes a scenario file; :func:`load_scenario` reads the TOML, checks
the schema (unknown keys are errors, with a "did you mean"), resolves every prior, loads the
indicator data, and checks the cross-references (claims name known nodes, same-year effects
form no cycle, strategies set only levers, questions ask about known nodes and years).
Everything that can be wrong with a file is found here, so that a run never fails after
minutes of sampling for a typo. Problems come back together, each with the file, the key
path and the fix, as a :class:`ScenarioError`.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from forecast.priors import (
    Distribution,
    Hypothesis,
    PriorError,
    did_you_mean,
    require_support,
    resolve,
)

SCHEMA_VERSION = 1
ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"


# --- Errors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where (a key path) and what to do."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ScenarioError(Exception):
    """A scenario file that cannot be used. ``str()`` lists every problem with its key path."""

    def __init__(self, file: Path | str, problems: list[Problem]):
        self.file = Path(file)
        self.problems = problems
        lines = [f"{self.file}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


# --- Schema ---------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PriorSpec = dict[str, Any]


class ScenarioInfo(_Strict):
    """``[scenario]``: what the file is about and the years it covers."""

    name: str = Field(min_length=1)
    description: str = ""
    source: str = ""
    source_url: str = ""
    history_start: int = Field(description="first year of the latent history")
    start_year: int = Field(description="first year strategies act; evidence predates it")
    horizon: int = Field(description="last forecast year")
    seed: int = Field(default=20250302, ge=0)


class DisplaySpec(_Strict):
    """How a node's latent level is shown: an index 0-100 (logistic) or a linear scale."""

    kind: Literal["index", "linear"] = "index"
    unit: str = ""
    offset: float = 0.0
    scale: float = 1.0

    @field_validator("scale")
    @classmethod
    def _scale_nonzero(cls, v: float) -> float:
        if v == 0:
            raise ValueError("scale must not be 0")
        return v


class NodeSpec(_Strict):
    """``[nodes.ID]``: a factor of the argument."""

    label: str = Field(min_length=1)
    role: Literal["lever", "factor", "outcome"] = "factor"
    description: str = ""
    display: DisplaySpec = DisplaySpec()
    desirable: Literal["higher", "lower", "neither"] = "neither"
    baseline: PriorSpec = Field(default_factory=lambda: {"dist": "Normal", "mu": 0.0, "sigma": 0.5})
    persistence: PriorSpec = Field(default_factory=lambda: {"dist": "Beta", "alpha": 8.0, "beta": 2.0})
    volatility: PriorSpec = Field(default_factory=lambda: {"dist": "Gamma", "alpha": 4.0, "beta": 12.0})
    initial_sd: float = Field(default=1.0, gt=0)


class HypothesisSpec(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    label: str = ""
    weight: float = Field(gt=0)
    quote: str = ""
    prior: PriorSpec


class ClaimSpec(_Strict):
    """``[[claims]]``: a causal edge ``cause -> effect`` with its prior and its quote."""

    id: str = Field(pattern=ID_PATTERN)
    cause: str
    effect: str
    lag: Literal[0, 1] = 1
    label: str = ""
    quote: str = ""
    prior: PriorSpec | None = None
    hypotheses: list[HypothesisSpec] = Field(default_factory=list)


class IndicatorSpec(_Strict):
    """``[indicators.ID]``: a data series that measures a node."""

    label: str = Field(min_length=1)
    node: str
    file: str
    column: str
    year_column: str = "year"
    transform: Literal["identity", "log", "logit_percent"] = "identity"
    direction: Literal["+", "-"] = "+"
    unit: str = ""
    source: str = Field(min_length=1)
    url: str = ""
    intercept: PriorSpec = Field(default_factory=lambda: {"dist": "Normal", "mu": 0.0, "sigma": 0.5})
    loading: PriorSpec = Field(default_factory=lambda: {"dist": "LogNormal", "mu": 0.0, "sigma": 0.3})
    noise: PriorSpec = Field(default_factory=lambda: {"dist": "Gamma", "alpha": 10.0, "beta": 25.0})


class StrategySpec(_Strict):
    """``[[strategies]]``: do-interventions on levers, from the start year on."""

    id: str = Field(pattern=ID_PATTERN)
    label: str = ""
    description: str = ""
    baseline: bool = False
    set: dict[str, float | list[float]] = Field(default_factory=dict)


class QuestionSpec(_Strict):
    """``[[questions]]``: is SUBJECT in YEAR below/above a threshold or its level in another year?"""

    id: str = Field(pattern=ID_PATTERN)
    text: str = Field(min_length=1)
    subject: str
    year: int
    comparison: Literal["below", "above"]
    threshold: float | None = None
    reference_year: int | None = None
    change: float = 0.0


class ScenarioFile(_Strict):
    """The whole file."""

    schema_version: Literal[1] = 1
    scenario: ScenarioInfo
    nodes: dict[str, NodeSpec]
    claims: list[ClaimSpec] = Field(default_factory=list)
    indicators: dict[str, IndicatorSpec] = Field(default_factory=dict)
    strategies: list[StrategySpec] = Field(default_factory=list)
    questions: list[QuestionSpec] = Field(default_factory=list)


# --- The resolved scenario (what the model, results and report use) ----------------------


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
        from forecast.priors import mixture

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


# --- Loading --------------------------------------------------------------------------------


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and resolve a scenario file. Raises :class:`ScenarioError`."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(path, [Problem("", "no such file; give the path of a scenario .toml file (see priors/)")])
    text = path.read_text(encoding="utf-8")
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [Problem("", f"not valid TOML: {exc}; fix the syntax at that line")]) from None
    try:
        spec = ScenarioFile.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(path, [_problem_from_pydantic(e, raw) for e in exc.errors()]) from None
    problems: list[Problem] = []
    scenario = _resolve(path, text, spec, problems)
    if problems:
        raise ScenarioError(path, problems)
    return scenario


_FIELDS = {
    "scenario": ScenarioInfo,
    "nodes": NodeSpec,
    "claims": ClaimSpec,
    "indicators": IndicatorSpec,
    "strategies": StrategySpec,
    "questions": QuestionSpec,
    "hypotheses": HypothesisSpec,
    "display": DisplaySpec,
}


def _keypath(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _problem_from_pydantic(err: dict, raw: dict) -> Problem:
    loc = tuple(err["loc"])
    path = _keypath(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(loc[:-1])
        hint = did_you_mean(key, allowed) if allowed else ""
        listing = f" Allowed here: {', '.join(sorted(allowed))}." if allowed else ""
        return Problem(path, f"unknown key {key!r}.{hint}{listing}")
    if kind == "missing":
        return Problem(path, "required key is missing; add it")
    if kind == "string_pattern_mismatch":
        return Problem(path, "an id must start with a letter and use only letters, digits and _")
    if kind == "literal_error":
        return Problem(path, f"{err['msg']}; got {err.get('input')!r}")
    return Problem(path, f"{err['msg']}; got {err.get('input')!r}")


def _allowed_keys(loc: tuple) -> set[str]:
    """Keys allowed at a location, for the "did you mean" hint."""
    if not loc:
        return set(ScenarioFile.model_fields)
    for part in reversed(loc):
        if isinstance(part, str) and part in _FIELDS:
            return set(_FIELDS[part].model_fields)
    return set()


def _prior(problems: list[Problem], path: str, spec: PriorSpec, *, signed=False, support=None) -> Distribution | None:
    try:
        dist = resolve(spec, signed=signed)
        if support:
            require_support(dist, support, path.rsplit(".", 1)[-1])
        return dist
    except PriorError as exc:
        problems.append(Problem(path, str(exc)))
        return None


def _resolve(path: Path, text: str, spec: ScenarioFile, problems: list[Problem]) -> Scenario:
    info = spec.scenario
    if not info.history_start < info.start_year <= info.horizon:
        problems.append(
            Problem("scenario", "years must satisfy history_start < start_year <= horizon "
                    f"(got {info.history_start}, {info.start_year}, {info.horizon})")
        )
    if info.start_year - info.history_start < 2:
        problems.append(Problem("scenario.history_start", "give at least two years of history before start_year"))

    nodes: dict[str, Node] = {}
    for nid, n in spec.nodes.items():
        p = f"nodes.{nid}"
        if not re.match(ID_PATTERN, nid):
            problems.append(Problem(p, "a node id must start with a letter and use only letters, digits and _"))
        nodes[nid] = Node(
            id=nid, label=n.label, role=n.role, description=n.description, display=n.display,
            desirable=n.desirable,
            baseline=_prior(problems, f"{p}.baseline", n.baseline),
            persistence=_prior(problems, f"{p}.persistence", n.persistence, support="unit"),
            volatility=_prior(problems, f"{p}.volatility", n.volatility, support="positive"),
            initial_sd=n.initial_sd,
        )
    if not nodes:
        problems.append(Problem("nodes", "declare at least one node"))

    claims = _claims(spec, nodes, problems)
    indicators = _indicators(path, spec, nodes, problems)
    strategies = _strategies(spec, nodes, problems)
    questions = _questions(spec, nodes, indicators, problems)

    files = {"scenario.toml": path}
    for ind in indicators.values():
        files[f"data/{ind.file.name}"] = ind.file
    return Scenario(
        path=path, name=info.name, description=info.description, source=info.source,
        source_url=info.source_url, history_start=info.history_start, start_year=info.start_year,
        horizon=info.horizon, seed=info.seed, nodes=nodes, claims=tuple(claims),
        indicators=indicators, strategies=tuple(strategies), questions=tuple(questions),
        text=text, files=files,
    )


def _duplicate_ids(items: list, key: str, what: str, problems: list[Problem]) -> None:
    """One problem per repeated id in a list of tables (claims, strategies, questions, ...)."""
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item.id in seen:
            problems.append(Problem(f"{key}[{i}].id", f"duplicate {what} id {item.id!r}; ids must be unique"))
        seen.add(item.id)


def _claims(spec: ScenarioFile, nodes: dict[str, Node], problems: list[Problem]) -> list[Claim]:
    out: list[Claim] = []
    _duplicate_ids(spec.claims, "claims", "claim", problems)
    for i, c in enumerate(spec.claims):
        p = f"claims[{i}]"
        for end in ("cause", "effect"):
            name = getattr(c, end)
            if name not in nodes:
                problems.append(Problem(f"{p}.{end}", f"unknown node {name!r}.{did_you_mean(name, nodes)} "
                                        "Declare it under [nodes] or fix the name"))
        if c.cause == c.effect:
            problems.append(Problem(p, "a claim cannot link a node to itself; persistence models that"))
        prior = None
        hyps: list[Hypothesis] = []
        if c.hypotheses and c.prior is not None:
            problems.append(Problem(p, "give either prior or hypotheses, not both"))
        elif c.hypotheses:
            if len(c.hypotheses) < 2:
                problems.append(Problem(f"{p}.hypotheses", "competing hypotheses need at least two entries"))
            total = sum(h.weight for h in c.hypotheses)
            _duplicate_ids(c.hypotheses, f"{p}.hypotheses", "hypothesis", problems)
            for j, h in enumerate(c.hypotheses):
                d = _prior(problems, f"{p}.hypotheses[{j}].prior", h.prior, signed=True)
                if d is not None:
                    hyps.append(Hypothesis(h.id, h.weight / total, d, h.quote, h.label or h.id))
        elif c.prior is not None:
            prior = _prior(problems, f"{p}.prior", c.prior, signed=True)
        else:
            problems.append(Problem(p, "a claim needs a prior (words, a distribution or quantiles) or hypotheses"))
        if prior is None and len(hyps) < 2:
            continue
        out.append(Claim(c.id, c.cause, c.effect, c.lag, c.label, c.quote, prior, tuple(hyps)))
    cycle = find_cycle([(c.cause, c.effect) for c in spec.claims if c.lag == 0])
    if cycle:
        problems.append(Problem("claims", "same-year (lag = 0) effects form a cycle "
                                f"{' -> '.join(cycle)}; give one of these claims lag = 1"))
    return out


def find_cycle(edges: list[tuple[str, str]]) -> list[str] | None:
    """A cycle in a directed graph as a node list (first node repeated), or None."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in list(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def _indicators(path: Path, spec: ScenarioFile, nodes: dict[str, Node], problems: list[Problem]) -> dict[str, Indicator]:
    out: dict[str, Indicator] = {}
    info = spec.scenario
    for iid, ind in spec.indicators.items():
        p = f"indicators.{iid}"
        if iid in nodes:
            problems.append(Problem(p, f"id {iid!r} is also a node id; questions need them distinct"))
        if ind.node not in nodes:
            problems.append(Problem(f"{p}.node", f"unknown node {ind.node!r}.{did_you_mean(ind.node, nodes)}"))
        file = (path.parent / ind.file).resolve()
        priors = {
            "intercept": _prior(problems, f"{p}.intercept", ind.intercept),
            "loading": _prior(problems, f"{p}.loading", ind.loading, support="positive"),
            "noise": _prior(problems, f"{p}.noise", ind.noise, support="positive"),
        }
        data = _read_series(file, ind, f"{p}.file", problems)
        if data is None or None in priors.values():
            continue
        years, values, sources = data
        keep = years >= info.history_start
        if np.any(years >= info.start_year):
            late = sorted(set(int(y) for y in years[years >= info.start_year]))
            problems.append(Problem(p, f"{file.name} has data for {late}, at or after start_year "
                                    f"{info.start_year}; evidence must predate the strategies: raise "
                                    "start_year or leave those rows out with a separate file"))
            continue
        years, values, sources = years[keep], values[keep], [s for s, k in zip(sources, keep) if k]
        if len(years) < 2:
            problems.append(Problem(p, f"{file.name} column {ind.column!r} has fewer than two values "
                                    f"from {info.history_start} on; an indicator needs at least two"))
            continue
        bad = _outside_domain(values, ind.transform)
        if bad is not None:
            problems.append(Problem(f"{p}.transform", f"transform {ind.transform!r} cannot take the value "
                                    f"{bad:g} in column {ind.column!r}; choose another transform"))
            continue
        proto = Indicator(
            id=iid, label=ind.label, node=ind.node, transform=ind.transform,
            direction=1.0 if ind.direction == "+" else -1.0, unit=ind.unit, source=ind.source, url=ind.url,
            file=file, column=ind.column, years=years, values=values, sources=tuple(sources),
            **priors,
        )
        anchor = not any(o.node == ind.node for o in out.values())
        if anchor and {"intercept", "loading"} & ind.model_fields_set:
            problems.append(Problem(p, f"{iid} is the first indicator of {ind.node!r} and anchors its scale "
                                    "(intercept 0, loading 1); remove its intercept/loading priors or list "
                                    "another indicator of that node first"))
            continue
        t = proto.transformed(values)
        spread = float(np.std(t, ddof=1)) if len(t) > 1 else 1.0
        out[iid] = replace(proto, center=float(np.mean(t)), spread=spread or 1.0, anchor=anchor)
    return out


def _outside_domain(values: np.ndarray, transform: str) -> float | None:
    if transform == "log" and np.any(values <= 0):
        return float(values[values <= 0][0])
    if transform == "logit_percent" and np.any((values <= 0) | (values >= 100)):
        return float(values[(values <= 0) | (values >= 100)][0])
    return None


def _read_series(file: Path, ind: IndicatorSpec, p: str, problems: list[Problem]):
    """Years, values and the source of each row; gaps (empty cells) are skipped, never filled."""
    if not file.is_file():
        problems.append(Problem(p, f"data file {file} not found; put the CSV there (paths are relative "
                                "to the scenario file) or fix the path"))
        return None
    with file.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        for col in (ind.year_column, ind.column):
            if col not in cols:
                problems.append(Problem(p, f"{file.name} has no column {col!r}.{did_you_mean(col, cols)} "
                                        f"Columns: {', '.join(cols)}"))
                return None
        has_source = "source" in cols
        years, values, sources = [], [], []
        for line, row in enumerate(reader, start=2):
            cell = (row.get(ind.column) or "").strip()
            if not cell:
                continue
            try:
                year = int(row[ind.year_column])
                value = float(cell)
            except (TypeError, ValueError):
                problems.append(Problem(p, f"{file.name} line {line}: {ind.column}={cell!r} "
                                        f"(year {row.get(ind.year_column)!r}) is not a number; fix the cell "
                                        "or choose a numeric column"))
                return None
            if not math.isfinite(value):
                problems.append(Problem(p, f"{file.name} line {line}: {ind.column} is not finite"))
                return None
            if year in years:
                problems.append(Problem(p, f"{file.name} line {line}: year {year} appears twice"))
                return None
            years.append(year)
            values.append(value)
            sources.append((row.get("source") or "").strip() if has_source else "")
    if not has_source:
        problems.append(Problem(p, f"{file.name} has no 'source' column; every data row must say where it "
                                "comes from"))
        return None
    if not years:
        problems.append(Problem(p, f"{file.name} column {ind.column!r} has no values"))
        return None
    return np.array(years, dtype=int), np.array(values, dtype=float), sources


def _strategies(spec: ScenarioFile, nodes: dict[str, Node], problems: list[Problem]) -> list[Strategy]:
    info = spec.scenario
    n_years = info.horizon - info.start_year + 1
    out: list[Strategy] = []
    _duplicate_ids(spec.strategies, "strategies", "strategy", problems)
    for i, s in enumerate(spec.strategies):
        p = f"strategies[{i}]"
        interventions: dict[str, tuple[float, ...]] = {}
        for lever, value in s.set.items():
            q = f"{p}.set.{lever}"
            node = nodes.get(lever)
            if node is None:
                problems.append(Problem(q, f"unknown node {lever!r}.{did_you_mean(lever, nodes)}"))
                continue
            if node.role != "lever":
                article = "an" if node.role[0] in "aeiou" else "a"
                problems.append(Problem(q, f"{lever!r} is {article} {node.role}, not a lever; strategies set levers only "
                                        f"(levers: {', '.join(n for n, v in nodes.items() if v.role == 'lever') or 'none'})"))
                continue
            values = value if isinstance(value, list) else [value] * n_years
            if len(values) != n_years:
                problems.append(Problem(q, f"give one value, or one per forecast year ({n_years} for "
                                        f"{info.start_year}-{info.horizon}); got {len(values)}"))
                continue
            if node.display.kind == "index" and not all(0 < v < 100 for v in values):
                problems.append(Problem(q, "values are on the node's index scale and must lie strictly "
                                        "between 0 and 100"))
                continue
            interventions[lever] = tuple(float(v) for v in values)
        out.append(Strategy(s.id, s.label or s.id, s.description, s.baseline, interventions))
    if not spec.strategies:
        problems.append(Problem("strategies", "declare at least one strategy (a baseline may set nothing)"))
    if sum(s.baseline for s in spec.strategies) > 1:
        problems.append(Problem("strategies", "at most one strategy can have baseline = true"))
    return out


def _questions(spec: ScenarioFile, nodes: dict[str, Node], indicators: dict[str, Indicator],
               problems: list[Problem]) -> list[Question]:
    info = spec.scenario
    out: list[Question] = []
    names = set(nodes) | set(spec.indicators)
    _duplicate_ids(spec.questions, "questions", "question", problems)
    for i, q in enumerate(spec.questions):
        p = f"questions[{i}]"
        if q.subject in nodes:
            kind = "node"
        elif q.subject in spec.indicators:
            kind = "indicator"
        else:
            problems.append(Problem(f"{p}.subject", f"unknown node or indicator {q.subject!r}."
                                    f"{did_you_mean(q.subject, names)}"))
            continue
        if not info.start_year <= q.year <= info.horizon:
            problems.append(Problem(f"{p}.year", f"{q.year} is not a forecast year; questions ask about "
                                    f"{info.start_year}-{info.horizon}"))
            continue
        if (q.threshold is None) == (q.reference_year is None):
            problems.append(Problem(p, "give exactly one of threshold (a value in the subject's units) "
                                    "or reference_year (compare with its own level that year)"))
            continue
        if q.reference_year is not None:
            if not info.history_start <= q.reference_year <= info.horizon:
                problems.append(Problem(f"{p}.reference_year", f"{q.reference_year} is outside "
                                        f"{info.history_start}-{info.horizon}"))
                continue
            if kind == "indicator" and q.reference_year < info.start_year:
                ind = indicators.get(q.subject)
                if ind is not None and q.reference_year not in set(ind.years.tolist()):
                    problems.append(Problem(f"{p}.reference_year", f"{q.subject} has no observation in "
                                            f"{q.reference_year}; pick a year with data or a threshold"))
                    continue
        if q.change and q.reference_year is None:
            problems.append(Problem(f"{p}.change", "change goes with reference_year"))
            continue
        if kind == "node" and q.threshold is not None and nodes[q.subject].display.kind == "index" \
                and not 0 < q.threshold < 100:
            problems.append(Problem(f"{p}.threshold", "an index threshold lies between 0 and 100"))
            continue
        out.append(Question(q.id, q.text, q.subject, kind, q.year, q.comparison, q.threshold,
                            q.reference_year, q.change))
    return out
