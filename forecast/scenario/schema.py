"""The scenario file's schema: one pydantic model per table, unknown keys refused.

These models describe the file as written (priors still as the user's tables); resolving
them into the scenario the model uses is :mod:`forecast.scenario.load`'s job.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"


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


class LeverSettingSpec(_Strict):
    """A lever set from its own last history level: ``{ hold = true }``, ``{ to = 30 }``,
    ``{ by = -10 }`` (display units, e.g. index points), ``{ by_sd = -0.5 }`` (latent standard
    units), the last three optionally reached in equal steps ``over`` so many years."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    hold: bool = False
    to: float | None = None
    by: float | None = None
    by_sd: float | None = None
    over: int | None = Field(default=None, ge=1)


class StrategySpec(_Strict):
    """``[[strategies]]``: do-interventions on levers, from the start year on."""

    id: str = Field(pattern=ID_PATTERN)
    label: str = ""
    description: str = ""
    baseline: bool = False
    #: lever -> a number or one per forecast year (display scale), "hold", or a
    #: :class:`LeverSettingSpec` table; checked one lever at a time by the loader, which says
    #: what each form means when a value is none of them.
    set: dict[str, Any] = Field(default_factory=dict)


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
    resolution: str = ""
    #: Which answer a decision-maker hopes for; by default the one that moves the subject in
    #: its node's desirable direction ("neither": no strategy is better for this question).
    desirable: Literal["yes", "no", "neither"] | None = None


class ScenarioFile(_Strict):
    """The whole file."""

    schema_version: Literal[1] = 1
    scenario: ScenarioInfo
    nodes: dict[str, NodeSpec]
    claims: list[ClaimSpec] = Field(default_factory=list)
    indicators: dict[str, IndicatorSpec] = Field(default_factory=dict)
    strategies: list[StrategySpec] = Field(default_factory=list)
    questions: list[QuestionSpec] = Field(default_factory=list)


#: The table models by key, for the "did you mean" hint on an unknown key.
FIELDS: dict[str, type[BaseModel]] = {
    "scenario": ScenarioInfo,
    "nodes": NodeSpec,
    "claims": ClaimSpec,
    "indicators": IndicatorSpec,
    "strategies": StrategySpec,
    "questions": QuestionSpec,
    "hypotheses": HypothesisSpec,
    "display": DisplaySpec,
    "set": LeverSettingSpec,
}
