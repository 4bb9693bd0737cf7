"""The resolved scenario: what the model, the forecasts, the results and the report use.

Frozen dataclasses built by :func:`forecast.scenario.load.load_scenario` once every check has
passed: priors are :class:`~forecast.scenario.priors.Distribution` s, indicator data are
loaded and standardised, strategies hold a value per forecast year.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
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
    volatility: Distribution  # sd of the transitory shocks
    shift: Distribution  # sd of the moving level's yearly shifts
    drift_sd: float  # prior sd of the node's drift (per year), integrated out
    initial_sd: float

    def to_display(self, latent):
        """Latent level -> the node's display scale (works on numpy arrays)."""
        if self.display.kind == "index":
            return 100.0 / (1.0 + np.exp(-np.asarray(latent)))
        return self.display.offset + self.display.scale * np.asarray(latent)

    def to_latent(self, shown):
        """The node's display scale -> latent level (a number, or an array of them)."""
        shown = np.asarray(shown, dtype=float)
        if self.display.kind == "index":
            out = np.log(shown / (100.0 - shown))
        else:
            out = (shown - self.display.offset) / self.display.scale
        return float(out) if out.ndim == 0 else out

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

    @property
    def contested_sign(self) -> bool:
        """Whether its competing hypotheses disagree on the sign (one raises, another lowers):
        then no single sign is claimed, and :attr:`sign` is only the weighted mean's."""
        signs = {np.sign(h.prior.scipy().mean()) for h in self.hypotheses}
        return {1.0, -1.0} <= signs


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
    read_as: str = ""  # how its file is written when not comma-separated with decimal points
    #: The years of its file's rows before history_start, left out (validate says so).
    before_history: tuple[int, ...] = ()

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


#: How far an index setting may go: a move ``by`` index points that would leave the index is
#: kept within these bounds, draw by draw (an index of exactly 0 or 100 is infinitely far away),
#: and the setting says so (:meth:`LeverSetting.caps`). Other settings cannot leave it: values
#: lie strictly between 0 and 100, and a move ``to`` one stays between its start and its goal.
INDEX_BOUNDS = (1.0, 99.0)


@dataclass(frozen=True)
class Cap:
    """Where a lever's setting would take its index past one of :data:`INDEX_BOUNDS`, so that
    the lever is held at that bound instead: the bound (``at``), the first forecast year in
    which it holds the lever (the earliest and the latest over the draws it holds), and the
    share of the draws in which it does by the horizon. A relative setting starts from each
    draw's own last level, so the cap may bind in some draws and not in others."""

    at: float
    first: tuple[int, int]
    share: float

    def describe(self) -> str:
        """In words, e.g. "capped at 99 from 2029: an index stays below 100", "capped at 99 in
        40% of draws, first in 2028 to 2030 by draw: ..."."""
        start, end = self.first
        share = f" in {_percent(self.share)} of draws" if self.share < 1.0 else ""
        when = f"from {start}{share}" if start == end else f"{share.lstrip()}{', ' if share else ''}first in {start} " \
            f"to {end} by draw"
        return f"capped at {self.at:g} {when}: an index stays {self.side}"

    @property
    def side(self) -> str:
        """Which side of its bound an index stays: "below 100" or "above 0"."""
        return "below 100" if self.at > 50 else "above 0"

    def to_dict(self) -> dict:
        return {"at": self.at, "from": list(self.first), "share": round(float(self.share), 6)}


def _percent(share: float) -> str:
    """A share of draws in words: "40%", "under 1%", "over 99%" (never "0%" or "100%" for a
    share that is neither)."""
    p = 100.0 * share
    return "under 1%" if p < 1 else "over 99%" if p > 99 else f"{p:.0f}%"


@dataclass(frozen=True)
class LeverSetting:
    """What a strategy does to one lever in each forecast year (the do-operator's value).

    ``kind`` is one of:

    * ``"values"``: the display value in each year (``values``), the same for every draw;
    * ``"hold"``: the lever's own last history level, draw by draw (``steps`` all 1);
    * ``"to"``: from the last level to the display value ``amount``;
    * ``"by"``: from the last level by ``amount`` on the display scale (index points);
    * ``"by_sd"``: from the last level by ``amount`` latent standard units;

    the last three with ``steps``, the share of the way reached in each forecast year: all 1
    (at once), or equal steps of ``1 / over`` (``{ over = YEARS }``). A ramp may run past the
    horizon (a policy phased in over 20 years, forecast for 11): its steps then stop short of 1,
    at the share of the way it has gone by the horizon.
    Relative settings are draw by draw: each posterior draw moves its own last level.
    """

    kind: Literal["values", "hold", "to", "by", "by_sd"]
    values: tuple[float, ...] = ()
    amount: float = 0.0
    steps: tuple[float, ...] = ()

    def bounded(self, node: Node) -> bool:
        """Whether the setting is kept within :data:`INDEX_BOUNDS`: a move ``by`` points on an
        index, the one setting that can take an index past them."""
        return self.kind == "by" and node.display.kind == "index"

    def shown_path(self, node: Node, shown_last: np.ndarray, *, bounded: bool = True) -> np.ndarray:
        """A ``"to"`` or ``"by"`` setting's level on ``node``'s display scale in each forecast
        year, from each draw's last display level ``shown_last`` (D,): (years, D); kept within
        :data:`INDEX_BOUNDS` where :meth:`bounded` (unless ``bounded`` is false)."""
        shown = np.asarray(shown_last, dtype=float)[None, :]
        steps = np.asarray(self.steps)[:, None]
        goal = self.amount if self.kind == "to" else shown + self.amount
        path = shown + (goal - shown) * steps
        return np.clip(path, *INDEX_BOUNDS) if bounded and self.bounded(node) else path

    def caps(self, node: Node, shown_last: np.ndarray, start_year: int) -> tuple[Cap, ...]:
        """Where :data:`INDEX_BOUNDS` hold the lever, from each draw's last display level
        ``shown_last`` (D,): a :class:`Cap` per bound that binds in some draw by the horizon
        (none for a setting that is not :meth:`bounded`)."""
        if not self.bounded(node) or not np.size(shown_last):
            return ()
        path = self.shown_path(node, shown_last, bounded=False)
        out = []
        for bound, past in ((INDEX_BOUNDS[1], path > INDEX_BOUNDS[1]), (INDEX_BOUNDS[0], path < INDEX_BOUNDS[0])):
            hit = past.any(axis=0)
            if hit.any():
                first = start_year + np.argmax(past[:, hit], axis=0)
                out.append(Cap(bound, (int(first.min()), int(first.max())), float(hit.mean())))
        return tuple(out)

    @property
    def over(self) -> int:
        """The years the setting takes to reach its goal: 1 at once, else the ``over`` of its equal
        steps (which may be more than the forecast years its ``steps`` cover)."""
        if not self.steps or self.steps[0] >= 1.0:
            return 1
        return max(1, round(1.0 / self.steps[0]))

    def describe(self, unit: str, last_year: int, start_year: int) -> str:
        """The setting in words, e.g. "from the 2024 level to 30 by 2027 in equal steps", "held at the 2024
        level"; a ramp past the horizon says how far it has got by then: "..., 55% of the way by the horizon 2035".
        A level carries its unit ("to 1.5%"), a move on a percent scale is in percentage points."""
        suffix = "%" if unit == "%" else "" if not unit or unit.startswith("index") else f" {unit}"
        at = lambda x: f"{x:g}{suffix}"  # noqa: E731  (a level with its unit: "1.5%", "30", "2 USD bn")
        if self.kind == "values":
            v = self.values
            return f"to {at(v[0])}" if len(set(v)) == 1 else f"to {at(v[0])} in {start_year}, ..., {at(v[-1])} in " \
                f"{start_year + len(v) - 1}"
        if self.kind == "hold":
            return f"held at the {last_year} level"
        over = self.over
        when = f" by {start_year + over - 1} in equal steps" if over > 1 else ""
        if self.steps and over > len(self.steps):  # partly reached by the horizon
            when += f", {100 * self.steps[-1]:.3g}% of the way by the horizon {start_year + len(self.steps) - 1}"
        if self.kind == "to":
            return f"from the {last_year} level to {at(self.amount)}{when}"
        size = ("sd" if self.kind == "by_sd" else "points" if unit.startswith("index")
                else "percentage points" if unit == "%" else unit)
        direction = "up" if self.amount > 0 else "down"
        return f"{direction} {abs(self.amount):g} {size} from the {last_year} level{when}".replace("  ", " ")


#: A value lies far from an indicator's others beyond this many robust standard deviations
#: (1.4826 median absolute deviations) from their median, on the transformed scale. The shipped
#: series, with their breaks, stay under 3; a typo of a few orders of magnitude is in the tens.
OUTLIER_AT = 10.0
#: Fewer values than this say too little about their own spread to call one far from them.
OUTLIER_MIN_VALUES = 5


def outlying(transformed: np.ndarray) -> np.ndarray:
    """Which values lie over :data:`OUTLIER_AT` robust standard deviations from the median
    (none in a series shorter than :data:`OUTLIER_MIN_VALUES`, or with most values equal)."""
    t = np.asarray(transformed, dtype=float)
    if len(t) < OUTLIER_MIN_VALUES:
        return np.zeros(len(t), dtype=bool)
    spread = 1.4826 * np.median(np.abs(t - np.median(t)))
    return np.abs(t - np.median(t)) > OUTLIER_AT * spread if spread > 0 else np.zeros(len(t), dtype=bool)


@dataclass(frozen=True)
class Strategy:
    id: str
    label: str
    description: str
    baseline: bool
    interventions: dict[str, LeverSetting]  # lever -> its setting from start_year on


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
    resolution: str = ""  # how the answer will be settled: the source and reading that decide it
    #: The answer a decision-maker hopes for ("yes" or "no"), or None: the question then ranks
    #: no strategy (the "best strategy" and the value of information are about this answer).
    desirable: str | None = None

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
    #: name in the run dir -> the bytes read from it (a run keeps these, not the file as it may
    #: be by the time the run writes its copy)
    contents: dict[str, bytes] = field(default_factory=dict, repr=False)
    shock_df: float = 2.0  # degrees of freedom of every shock's Student-t

    def __repr__(self) -> str:
        """One line for a notebook (the dataclass's own ran to 40,000 characters of data and
        quotes); ``forecast.describe.describe_scenario`` says it all."""
        return (f"Scenario({str(self.path)!r}: {self.name!r}, {self.history_start}-{self.horizon}, "
                f"{len(self.nodes)} nodes, {len(self.claims)} claims, {len(self.indicators)} indicators, "
                f"{len(self.strategies)} strategies, {len(self.questions)} questions)")

    def claim(self, cid: str) -> Claim:
        """The claim with id ``cid`` (``KeyError`` naming the ids when there is none)."""
        found = next((c for c in self.claims if c.id == cid), None)
        if found is None:
            raise KeyError(f"no claim {cid!r}; the claims are {', '.join(c.id for c in self.claims)}")
        return found

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
    def drift_sd(self) -> np.ndarray:
        """Each node's prior spread of its drift per year (latent standard units)."""
        return np.array([n.drift_sd for n in self.nodes.values()])

    @property
    def levers(self) -> list[str]:
        return [n for n, node in self.nodes.items() if node.role == "lever"]

    @property
    def outcomes(self) -> list[str]:
        return [n for n, node in self.nodes.items() if node.role == "outcome"]

    @property
    def baseline_strategy(self) -> Strategy | None:
        return next((s for s in self.strategies if s.baseline), None)

    def descendants(self, nodes: Iterable[str]) -> set[str]:
        """Every node reachable from ``nodes`` along claims (any lag), the nodes included."""
        return _reach(nodes, {(c.cause, c.effect) for c in self.claims})

    def ancestors(self, nodes: Iterable[str]) -> set[str]:
        """Every node with a claim path (any lag) to one of ``nodes``, the nodes included: the
        nodes whose claims can move them."""
        return _reach(nodes, {(c.effect, c.cause) for c in self.claims})

    @property
    def last_evidence_year(self) -> int | None:
        """The last year any indicator has an observation (None without indicators): the shock
        scales of later history years meet no data, so their posterior is their prior."""
        return max((int(i.years.max()) for i in self.indicators.values() if len(i.years)), default=None)

    def last_observed(self, node: str) -> tuple[int, str, float] | None:
        """Where the data last saw ``node``, before any sampling: the year of its anchor
        indicator's last observation, that indicator, and the node's level it reads as on the
        display scale (the anchor measures the node in standard units, intercept 0 and loading
        1, so this is the level less that year's measurement noise); None for a node no
        indicator measures."""
        anchor = next((i for i in self.indicators.values() if i.node == node and i.anchor), None)
        if anchor is None or not len(anchor.years):
            return None
        k = int(np.argmax(anchor.years))
        latent = anchor.direction * anchor.standardized()[k]
        return int(anchor.years[k]), anchor.id, float(self.nodes[node].to_display(latent))

    def describe_setting(self, lever: str, setting: LeverSetting) -> str:
        """A strategy's setting of ``lever`` in words, from the last history year, in the lever's
        unit (:meth:`LeverSetting.describe`)."""
        return setting.describe(self.nodes[lever].unit, self.start_year - 1, self.start_year)

    def warnings(self) -> list[str]:
        """What ``forecast validate`` and ``forecast run`` warn of: what a file may well mean but
        more likely got wrong, said with the fix. A prior that falls short of its statement
        (:meth:`prior_warnings`), a percentage series written as fractions (a real series may
        lie below 1%) or a value far from the rest of its series (:meth:`data_warnings`), a
        strategy that sets what another sets (its forecasts are that one's), a lever that a
        strategy sets and no claim carries anywhere (:meth:`lever_warnings`), a forecast too
        short for any lever's claims to act (:meth:`reach_warnings`), and where a lever's move
        is capped (:meth:`cap_warnings`)."""
        return (self.prior_warnings() + self.data_warnings() + self.strategy_warnings() + self.lever_warnings()
                + self.reach_warnings() + self.cap_warnings())

    def prior_warnings(self) -> list[str]:
        """Each prior whose fitted distribution falls short of the analyst's statement
        (:attr:`~forecast.scenario.priors.Distribution.shortfall`: quartiles its family cannot
        match), by its key path."""
        found = []
        for i, c in enumerate(self.claims):
            where = f"claims[{i}] (id {c.id})"
            found.append((f"{where}.prior", c.prior))
            found += [(f"{where}.hypotheses[{j}] (id {h.id}).prior", h.prior) for j, h in enumerate(c.hypotheses)]
        for nid, n in self.nodes.items():
            found += [(f"nodes.{nid}.{k}", getattr(n, k)) for k in ("baseline", "persistence", "volatility", "shift")]
        for iid, ind in self.indicators.items():
            found += [(f"indicators.{iid}.{k}", getattr(ind, k)) for k in ("intercept", "loading", "noise")]
        return [f"{where}: {d.shortfall}" for where, d in found if d is not None and d.shortfall]

    def lever_warnings(self) -> list[str]:
        """Each lever a strategy sets that no claim leaves: setting it moves nothing else, so the
        strategy's forecasts of every other node are its baseline's (often a claim forgotten, or
        one drawn the wrong way round)."""
        out = []
        for lever in dict.fromkeys(lv for st in self.strategies for lv in st.interventions):
            if self.descendants([lever]) == {lever}:
                setters = ", ".join(st.id for st in self.strategies if lever in st.interventions)
                out.append(f"lever {lever} is set by {setters} but no claim has it as its cause: setting it moves no "
                           f"other node; add the claims it acts through (cause = \"{lever}\"), or check their "
                           "direction")
        return out

    def reach_warnings(self) -> list[str]:
        """A forecast too short for any strategy to matter: every claim path from a lever a
        strategy sets takes longer (its claims' lags added up) than the forecast years, so every
        strategy forecasts every other node as the others do."""
        levers = {lv for st in self.strategies for lv in st.interventions}
        room = self.horizon - self.start_year  # a lag of k first acts in start_year + k
        lags = [lag for lever in levers for n, lag in self.lag_from(lever).items() if n not in levers]
        if not lags or min(lags) <= room:  # (no claim leaves the levers at all: lever_warnings says so)
            return []
        soonest = min(lags)
        years = f"{self.start_year}" if room == 0 else f"{self.start_year}-{self.horizon}"
        return [f"scenario.horizon: the forecast covers {years}, and the claims from the levers the strategies set "
                f"act after {soonest} year{'s' if soonest != 1 else ''} at the soonest (their lags): every strategy "
                f"forecasts every other node as the others do; set horizon to {self.start_year + soonest} or later"]

    def lag_from(self, node: str) -> dict[str, int]:
        """Each node a claim path leads to from ``node``, with the least total lag along one."""
        best = {node: 0}
        frontier = [node]
        while frontier:  # lags are small whole numbers: relax until nothing improves
            nxt = []
            for cause in frontier:
                for c in self.claims:
                    if c.cause == cause and best[cause] + c.lag < best.get(c.effect, 1 << 30):
                        best[c.effect] = best[cause] + c.lag
                        nxt.append(c.effect)
            frontier = nxt
        return best

    def data_warnings(self) -> list[str]:
        """Each indicator whose values look like a mistake: a percentage whose every value lies
        between 0 and 1 (fractions, 100 times too small, would read as a share near 0%), and
        values far from all the others (:func:`outlying`: a typo or a unit slip, which the model
        would take as a break). (A series whose every value is the same is refused by the
        loader: it cannot be standardised.)"""
        out = []
        for ind in self.indicators.values():
            where = f"indicator {ind.id} ({ind.file.name}, column {ind.column})"
            low, high = float(np.min(ind.values)), float(np.max(ind.values))
            if ind.transform == "logit_percent" and high < 1.0:  # a fraction is below 1 (1 would be 100%)
                out.append(f"{where}: every value lies between 0 and 1 ({low:g} to {high:g}); a percentage is "
                           "written 0-100 (26.5 for 26.5%): if these are fractions, multiply them by 100")
                continue
            far = outlying(ind.transformed(ind.values))
            if far.any():
                scale = {"identity": "", "log": " on a log scale", "logit_percent": " on a logit scale"}[ind.transform]
                values = ", ".join(f"{v:g} in {int(y)}" for v, y in zip(ind.values[far], ind.years[far]))
                out.append(f"{where}: {values} lie{'s' if far.sum() == 1 else ''} far from the other values (over "
                           f"{OUTLIER_AT:g} robust standard deviations from their median{scale}); check "
                           f"{'it' if far.sum() == 1 else 'them'} for a typo or a unit slip: the model would read "
                           "a break")
        return out

    def strategy_warnings(self) -> list[str]:
        """Each strategy that sets exactly what an earlier one sets (often ``set = {}`` next to a
        baseline that sets nothing): its forecasts are that strategy's, and a comparison of the
        two says nothing."""
        out = []
        for i, st in enumerate(self.strategies):
            same = next((o for o in self.strategies[:i] if o.interventions == st.interventions), None)
            if same is None:
                continue
            what = "sets no lever, as" if not st.interventions else "sets its levers as"
            other = f"{same.id}{' (the baseline)' if same.baseline else ''}"
            out.append(f"strategy {st.id} {what} {other} does: its forecasts are {same.id}'s; give it the levers "
                       "it sets (set = { LEVER = ... }) or leave it out")
        return out

    def cap_warnings(self) -> list[str]:
        """What ``forecast validate`` should warn of before a run: each strategy whose move
        ``by`` index points would take a lever past :data:`INDEX_BOUNDS` from the level its data
        last saw (:meth:`last_observed`), or from its baseline prior's median when no indicator
        measures it (50 on an index when that median is 0), where it will be capped. The run decides draw by draw, from each draw's own last level,
        and its summary says how often the cap binds."""
        out = []
        for st in self.strategies:
            for lever, setting in st.interventions.items():
                node = self.nodes[lever]
                if not setting.bounded(node):
                    continue
                seen = self.last_observed(lever)
                if seen is None:
                    level = float(node.to_display(node.baseline.scipy().median()))
                    source = f"its baseline: no indicator measures {lever}, so its {self.start_year - 1} level is " \
                             "uncertain"
                else:
                    year, indicator, level = seen
                    source = f"its level in {year} by {indicator}"
                for cap in setting.caps(node, np.array([level]), self.start_year):
                    move = (f", a move of about {cap.at - level:+.3g} points instead of {setting.amount:+g}"
                            if setting.kind == "by" else "")
                    out.append(f"strategy {st.id}: {lever} {self.describe_setting(lever, setting)} would pass "
                               f"{cap.at:g} in {cap.first[0]} from about {level:.3g} ({source}): from that level "
                               f"it is held at {cap.at:g} from {cap.first[0]}{move} (an index stays {cap.side}); "
                               "the run says in what share of its draws")
        return out

    def content(self, name: str) -> bytes:
        """The bytes of input ``name`` as the scenario read them (read now if it was not from a file)."""
        return self.contents[name] if name in self.contents else Path(self.files[name]).read_bytes()

    def sha256(self) -> dict[str, str]:
        return {name: hashlib.sha256(self.content(name)).hexdigest() for name in self.files}


def _reach(start: Iterable[str], edges: set[tuple[str, str]]) -> set[str]:
    """The nodes reachable from ``start`` along ``edges`` (from, to), ``start`` included."""
    following: dict[str, list[str]] = {}
    for a, b in edges:
        following.setdefault(a, []).append(b)
    out = set(start)
    frontier = list(out)
    while frontier:
        for nxt in following.get(frontier.pop(), ()):
            if nxt not in out:
                out.add(nxt)
                frontier.append(nxt)
    return out


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    h.update(Path(path).read_bytes())
    return h.hexdigest()
