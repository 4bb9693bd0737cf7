"""The scenario file's schema: one pydantic model per table, unknown keys refused, values
taken as written.

These models describe the file as written (priors still as the user's tables); resolving
them into the scenario the model uses is :mod:`forecast.scenario.load`'s job.

Validation is strict, as in pydantic's strict mode: text is never read as a number or a
boolean, a boolean never as a number, a decimal never as a whole number, and NaN or infinity
is no number at all (``"+1.5"`` is a typo to report, not the value 1.5). The limits below
bound what a file may declare: far beyond any real scenario, low enough that a mistake (a
generated file gone wrong, a year typed with an extra digit) is refused with its name
instead of exhausting the machine.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from forecast.settings import MAX_SEED

SCHEMA_VERSION = 1
#: Ids (of nodes, claims, indicators, strategies, questions, hypotheses): a letter, then
#: letters, digits and _; at most 64 characters.
ID_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"

#: What a scenario file may declare at most: each is named in the message that refuses it.
LIMITS: dict[str, int] = {
    "nodes": 500,
    "claims": 5000,
    "indicators": 1000,
    "strategies": 200,
    "questions": 1000,
    "hypotheses": 20,  # per claim
    "combinations": 16,  # of competing hypotheses, one per claim that has them: each is one sampling run
    "set": 500,  # levers a strategy sets
    "text": 20_000,  # characters of any text (a label, a quote, a description)
    "years": 500,  # from history_start to horizon
    "depth": 12,  # tables and lists within each other (a scenario needs 5)
}
#: A hypothesis's weight: at most this (weights are relative; 1e308 overflowed their sum), and
#: after normalising at least its reciprocal: a hypothesis with less weight is never weighed.
WEIGHT_LIMIT = 1e6
#: Calendar years a scenario and its data may name.
YEARS = (1, 9999)
#: The largest magnitude of a number in latent standard units (a drift's or a start's spread, a
#: lever moved ``by_sd``): values are of order 1 there, and 1e300 overflows the forecasts.
STANDARD_LIMIT = 100.0
#: The largest magnitude of a number on a node's display scale (a lever's setting, a
#: question's threshold or change, the display's offset and scale): a data value's limit.
DISPLAY_LIMIT = 1e15
#: A linear display's scale is at least this share of its offset: below it, offset + scale x
#: level cannot tell a thousandth of a standard unit apart in single precision (a relative step
#: of about 1.2e-7), in which display values are stored and questions on them answered.
SCALE_PRECISION = 2e-4


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False,
                              str_max_length=LIMITS["text"])


PriorSpec = dict[str, Any]


def _not_blank(text: str) -> str:
    if text and not text.strip():
        raise ValueError("is only spaces; give the words")
    return text


def _blank_or_words(text: str) -> str:
    if text and not text.strip():
        raise ValueError("is only spaces; give the words, or leave the key out")
    return text


#: Text that a page shows in place of an id or a number: given, and more than spaces ("   "
#: passed where "" was refused, and left a blank where a label belongs).
Shown = Annotated[str, Field(min_length=1), AfterValidator(_not_blank)]
#: The same for text that may be left out ("" uses the id).
MaybeShown = Annotated[str, AfterValidator(_blank_or_words)]


class ScenarioInfo(_Strict):
    """``[scenario]``: what the file is about and the years it covers."""

    name: Shown
    description: str = ""
    source: str = ""
    source_url: str = ""
    history_start: int = Field(ge=YEARS[0], le=YEARS[1], description="first year of the latent history")
    start_year: int = Field(ge=YEARS[0], le=YEARS[1], description="first year strategies act; evidence predates it")
    horizon: int = Field(ge=YEARS[0], le=YEARS[1], description="last forecast year")
    seed: int = Field(default=20250302, ge=0, le=MAX_SEED)
    #: Degrees of freedom of every shock's Student-t (a scale mixture of normals): 2 lets a
    #: break such as 2014 or 2022 be one large shock rather than a wider spread every year.
    shock_df: float = Field(default=2.0, ge=1.0, le=1000.0)


class DisplaySpec(_Strict):
    """How a node's latent level is shown: an index 0-100 (logistic) or a linear scale."""

    kind: Literal["index", "linear"] = "index"
    unit: str = ""
    offset: float = Field(default=0.0, ge=-DISPLAY_LIMIT, le=DISPLAY_LIMIT)
    scale: float = Field(default=1.0, ge=-DISPLAY_LIMIT, le=DISPLAY_LIMIT)

    @field_validator("scale")
    @classmethod
    def _scale_nonzero(cls, v: float) -> float:
        if abs(v) < 1 / DISPLAY_LIMIT:
            raise ValueError("scale must not be 0" if v == 0 else f"scale {v:g} is nearly 0: every value would read "
                             "as the offset; give the size of one standard unit in the display's unit")
        return v

    @model_validator(mode="after")
    def _scale_representable(self) -> "DisplaySpec":
        """offset + scale x level must tell levels apart in the single precision display values are
        kept in: with scale 1 beside an offset of 1e9 every level rounded to the same value, and
        every question on the node read the same."""
        if self.kind == "linear" and abs(self.scale) < SCALE_PRECISION * abs(self.offset):
            raise ValueError(f"scale {self.scale:g} is too small beside offset {self.offset:g}: offset + scale x level "
                             "rounds to the same few values, so questions on the node cannot tell levels apart; "
                             f"give a scale of at least {SCALE_PRECISION:g} x the offset (a larger scale, or a "
                             "smaller offset with thresholds in the same units)")
        return self


#: A node no indicator measures keeps no drift and no lasting shifts unless its file gives
#: them (``shift``, ``drift_sd``): with no data they cannot be learned, and the measured nodes'
#: defaults alone (drift 0.6 a year, shifts of about 1 with heavy tails) would carry its level
#: ±13 to ±23 standard units over a 13-year history (90%), pinning its index at 0 or 100 and
#: contradicting what the index means (50 at its average level). Without them it varies around
#: its baseline at its persistence and volatility, as the analyst's priors say.
UNMEASURED_SHIFT = {"dist": "Gamma", "alpha": 20.0, "beta": 400.0}
UNMEASURED_DRIFT_SD = 0.02


class NodeSpec(_Strict):
    """``[nodes.ID]``: a factor of the argument."""

    label: Shown
    role: Literal["lever", "factor", "outcome"] = "factor"
    description: str = ""
    display: DisplaySpec = DisplaySpec()
    desirable: Literal["higher", "lower", "neither"] = "neither"
    baseline: PriorSpec = Field(default_factory=lambda: {"dist": "Normal", "mu": 0.0, "sigma": 0.5})
    persistence: PriorSpec = Field(default_factory=lambda: {"dist": "Beta", "alpha": 8.0, "beta": 2.0})
    volatility: PriorSpec = Field(default_factory=lambda: {"dist": "Gamma", "alpha": 2.0, "beta": 4.0})
    shift: PriorSpec = Field(default_factory=lambda: {"dist": "Gamma", "alpha": 2.0, "beta": 2.0})
    drift_sd: float = Field(default=0.6, gt=0, le=STANDARD_LIMIT)
    initial_sd: float = Field(default=1.0, gt=0, le=STANDARD_LIMIT)


class HypothesisSpec(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    label: MaybeShown = ""
    weight: float = Field(gt=0, le=WEIGHT_LIMIT)
    quote: str = ""
    prior: PriorSpec


class ClaimSpec(_Strict):
    """``[[claims]]``: a causal edge ``cause -> effect`` with its prior and its quote."""

    id: str = Field(pattern=ID_PATTERN)
    cause: str
    effect: str
    lag: int = Field(default=1, ge=0, le=1)  # an int, not Literal[0, 1]: a Literal takes false for 0
    label: MaybeShown = ""
    quote: str = ""
    prior: PriorSpec | None = None
    hypotheses: list[HypothesisSpec] = Field(default_factory=list, max_length=LIMITS["hypotheses"])


class IndicatorSpec(_Strict):
    """``[indicators.ID]``: a data series that measures a node."""

    label: Shown
    node: str
    file: str
    column: str
    year_column: str = "year"
    transform: Literal["identity", "log", "logit_percent"] = "identity"
    direction: Literal["+", "-"] = "+"
    unit: str = ""
    source: Shown
    url: str = ""
    intercept: PriorSpec = Field(default_factory=lambda: {"dist": "Normal", "mu": 0.0, "sigma": 0.5})
    loading: PriorSpec = Field(default_factory=lambda: {"dist": "LogNormal", "mu": 0.0, "sigma": 0.3})
    noise: PriorSpec = Field(default_factory=lambda: {"dist": "Gamma", "alpha": 2.0, "beta": 10.0})


class LeverSettingSpec(_Strict):
    """A lever set from its own last history level: ``{ hold = true }``, ``{ to = 30 }``,
    ``{ by = -10 }`` (display units, e.g. index points), ``{ by_sd = -0.5 }`` (latent standard
    units), the last three optionally reached in equal steps ``over`` so many years."""

    hold: bool = False
    to: float | None = Field(default=None, ge=-DISPLAY_LIMIT, le=DISPLAY_LIMIT)
    by: float | None = Field(default=None, ge=-DISPLAY_LIMIT, le=DISPLAY_LIMIT)
    by_sd: float | None = Field(default=None, ge=-STANDARD_LIMIT, le=STANDARD_LIMIT)
    over: int | None = Field(default=None, ge=1)


class StrategySpec(_Strict):
    """``[[strategies]]``: do-interventions on levers, from the start year on."""

    id: str = Field(pattern=ID_PATTERN)
    label: MaybeShown = ""
    description: str = ""
    baseline: bool = False
    #: lever -> a number or one per forecast year (display scale), "hold", or a
    #: :class:`LeverSettingSpec` table; checked one lever at a time by the loader, which says
    #: what each form means when a value is none of them.
    set: dict[str, Any] = Field(default_factory=dict, max_length=LIMITS["set"])


class QuestionSpec(_Strict):
    """``[[questions]]``: is SUBJECT in YEAR below/above a threshold or its level in another year?"""

    id: str = Field(pattern=ID_PATTERN)
    text: Shown
    subject: str
    year: int = Field(ge=YEARS[0], le=YEARS[1])
    comparison: Literal["below", "above"]
    threshold: float | None = Field(default=None, ge=-DISPLAY_LIMIT, le=DISPLAY_LIMIT)
    reference_year: int | None = Field(default=None, ge=YEARS[0], le=YEARS[1])
    change: float = Field(default=0.0, ge=-DISPLAY_LIMIT, le=DISPLAY_LIMIT)
    resolution: str = ""
    #: Which answer a decision-maker hopes for; by default the one that moves the subject in
    #: its node's desirable direction ("neither": no strategy is better for this question).
    desirable: Literal["yes", "no", "neither"] | None = None


class ScenarioFile(_Strict):
    """The whole file."""

    schema_version: int = Field(default=SCHEMA_VERSION, ge=SCHEMA_VERSION, le=SCHEMA_VERSION)
    scenario: ScenarioInfo
    nodes: dict[str, NodeSpec] = Field(max_length=LIMITS["nodes"])
    claims: list[ClaimSpec] = Field(default_factory=list, max_length=LIMITS["claims"])
    indicators: dict[str, IndicatorSpec] = Field(default_factory=dict, max_length=LIMITS["indicators"])
    strategies: list[StrategySpec] = Field(default_factory=list, max_length=LIMITS["strategies"])
    questions: list[QuestionSpec] = Field(default_factory=list, max_length=LIMITS["questions"])


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
