"""What a run's JSON files must hold, checked when a run is loaded.

A run's ``manifest.json`` and ``summary.json`` are read by the report, ``diff``,
``sensitivity`` and ``score``, each of which indexes into them. A file that has the right keys
with values of the wrong kind (``"settings": "x"``, ``"versions": null``, ``"questions":
"oops"``) would otherwise fail deep inside one of them with a traceback. These strict models
(pydantic's strict mode: no text read as a number, no boolean as a number) describe what those
readers rely on, and no more: a key they do not read may hold anything, and keys a later
version adds are let through. A refusal names the file, the key path, what it holds and what
it should hold.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class JsonShape(BaseModel):
    """Strict values; other keys allowed (a later version may add some)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)


#: The names of a run's two JSON files: the manifest's presence makes a folder a run directory.
MANIFEST = "manifest.json"
SUMMARY = "summary.json"


# --- manifest.json ---------------------------------------------------------------------------


class Code(JsonShape):
    version: str | None = None
    commit: str | None = None
    modified: bool | None = None


class Manifest(JsonShape):
    """What ``results.store.manifest`` writes; all but ``forecast_run`` and ``files`` may be
    absent (runs of earlier versions lack some), none may be of another kind."""

    forecast_run: int
    files: dict[str, str]
    created: str | None = None
    scenario: str | None = None
    scenario_name: str | None = None
    inputs: dict[str, str] = {}
    seed: int | None = None
    settings: dict[str, Any] = {}
    versions: dict[str, str] = {}
    code: Code | None = None
    command: list[str] | None = None


# --- summary.json ----------------------------------------------------------------------------


class ScenarioPart(JsonShape):
    name: str


class NodePart(JsonShape):
    label: str
    role: str


class StrategyPart(JsonShape):
    id: str
    label: str
    baseline: bool


class Answer(JsonShape):
    probability: float | None = Field(ge=0.0, le=1.0)
    mcse: float | None = Field(default=None, ge=0.0)


class QuestionPart(JsonShape):
    id: str
    text: str
    subject: str
    year: int
    comparison: str
    threshold: float | None = None
    reference_year: int | None = None
    change: float | None = None
    by_strategy: dict[str, Answer]


class ClaimPart(JsonShape):
    label: str
    cause: str
    effect: str


class IndicatorPart(JsonShape):
    node: str


class SensitivityPart(JsonShape):
    questions: dict[str, dict]
    claims: dict[str, dict]


class Summary(JsonShape):
    """What ``results.summary.build_summary`` writes, as far as its readers index into it, and
    the cross-references they follow: every question answered under every strategy, with a
    threshold or a reference year, every node with a trajectory, every claim and indicator
    naming nodes (a summary edited and rehashed failed deep in the report with a KeyError)."""

    scenario: ScenarioPart
    nodes: dict[str, NodePart]
    strategies: list[StrategyPart]
    questions: list[QuestionPart]
    trajectories: dict[str, dict]
    contrasts: dict[str, dict]
    claims: dict[str, ClaimPart]
    indicators: dict[str, IndicatorPart]
    diagnostics: dict
    sensitivity: SensitivityPart | None = None

    @model_validator(mode="after")
    def _references(self) -> "Summary":
        ids = [s.id for s in self.strategies]
        for q in self.questions:
            if sorted(q.by_strategy) != sorted(ids):
                raise ValueError(f"question {q.id!r} is answered under {sorted(q.by_strategy)}, not under the "
                                 f"strategies {ids}")
            if q.threshold is None and q.reference_year is None:
                raise ValueError(f"question {q.id!r} has neither a threshold nor a reference year")
        if self.questions and not self.strategies:
            raise ValueError("it asks questions under no strategy")
        missing = [n for n in self.nodes if n not in self.trajectories]
        if missing:
            raise ValueError(f"node {missing[0]!r} has no trajectory")
        for cid, c in self.claims.items():
            if c.cause not in self.nodes or c.effect not in self.nodes:
                raise ValueError(f"claim {cid!r} links nodes the summary does not have")
        for iid, i in self.indicators.items():
            if i.node not in self.nodes:
                raise ValueError(f"indicator {iid!r} measures a node the summary does not have")
        return self


# --- Refusals in JSON's words ----------------------------------------------------------------

#: What each of pydantic's error types asked for, in JSON's words.
EXPECTED = {
    "dict_type": "an object { ... }",
    "model_type": "an object { ... }",
    "model_attributes_type": "an object { ... }",
    "list_type": "a list [ ... ]",
    "string_type": "text in quotes",
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "finite_number": "a finite number",
}


def json_kind(value: Any) -> str:
    """A JSON value as written, and what kind of value it is: ``"x" is text``, ``null``."""
    if value is None:
        return "null"
    written = json.dumps(value, ensure_ascii=False, default=str)
    written = written if len(written) <= 40 else written[:39] + "…"
    kinds = {bool: "a boolean", int: "a whole number", float: "a number", str: "text", list: "a list",
             dict: "an object"}
    return f"{written} is {kinds.get(type(value), type(value).__name__)}"


#: Bounds, in words.
BOUNDS = {"greater_than": "more than", "greater_than_equal": "at least", "less_than": "less than",
          "less_than_equal": "at most"}


def problem(err: dict) -> str:
    """One of pydantic's errors as ``key.path: what it holds; what it should hold``."""
    where = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in err["loc"]).replace(".[", "[")
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing":
        return f"{where}: the key is missing"
    if kind in EXPECTED:
        expected = EXPECTED[kind]
    elif kind in BOUNDS:
        expected = f"{BOUNDS[kind]} {next(iter(ctx.values()))}"
    elif kind == "literal_error":
        expected = f"one of {ctx.get('expected')}"
    else:
        message = str(err["msg"]).removeprefix("Value error, ")  # a cross-reference: says its own keys
        return f"{where}: {message}" if where else message
    return f"{where}: {json_kind(err.get('input'))}; it should be {expected}"


def shape_problems(model: type[BaseModel], data: dict, most: int = 3) -> list[str]:
    """What in ``data`` does not have ``model``'s shape (the first ``most`` problems, and how
    many more), or nothing."""
    try:
        model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        found = [problem(e) for e in errors[:most]]
        if len(errors) > most:
            found.append(f"and {len(errors) - most} more")
        return found
    return []
