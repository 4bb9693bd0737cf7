"""A sweep's results: every variant's answers gathered over (variant, question, strategy),
the variants that flip a question's best strategy, and the table of what each changed."""

from __future__ import annotations

import csv
import io

import numpy as np
import xarray as xr
from pydantic import Field

from forecast.forecasts.questions import same_option
from forecast.results.shapes import JsonShape, shape_problems
from forecast.scenario import Scenario
from forecast.sweeps.variants import AS_WRITTEN, Variant


class AnswerRecord(JsonShape):
    probability: float | None = Field(ge=0.0, le=1.0)
    mcse: float | None = Field(ge=0.0)
    q05: float | None
    median: float | None
    q95: float | None


class VerdictRecord(JsonShape):
    verdict: str


class VariantRecord(JsonShape):
    """A finished variant's ``variants/NNNN.json`` (:func:`forecast.pipeline.sweep.fit_variant`),
    as a resumed sweep reads it back into ``sweep.nc``."""

    name: str
    answers: dict[str, dict[str, AnswerRecord]]
    best: dict[str, str]
    tied: dict[str, list[str]]
    equivalent: dict[str, list[str]]  # required: older records counted identical strategies as tied
    diagnostics: VerdictRecord


def finished_record(record: object, name: str) -> bool:
    """Whether ``record`` is a finished variant named ``name`` as this version writes it: a
    resumed sweep fits any other again (text where a number belongs, an emptied record, another
    variant's name), rather than reading it into its results."""
    return (isinstance(record, dict) and "error" not in record and record.get("name") == name
            and not shape_problems(VariantRecord, record))


def with_reference(variants: list[Variant]) -> list[Variant]:
    """The variants with the scenario as written first (unless one of them is it already)."""
    if any(not v.changes and v.base is None for v in variants):
        return variants
    return [Variant(AS_WRITTEN), *variants]


def to_dataset(variants: list[Variant], results: list[dict], scenarios: list[Scenario]) -> xr.Dataset:
    """Answers over (variant, question, strategy), NaN where a variant failed or lacks the
    question or strategy (a whole alternative scenario may have others); diagnostics per variant."""
    questions = list(dict.fromkeys(q.id for s in scenarios for q in s.questions))
    strategies = list(dict.fromkeys(st.id for s in scenarios for st in s.strategies))
    shape = (len(variants), len(questions), len(strategies))
    data = {k: np.full(shape, np.nan) for k in ("probability", "mcse", "q05", "median", "q95")}
    best = np.full((len(variants), len(questions)), "", dtype=object)
    tied, equivalent = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    for v, r in enumerate(results):
        for q, per in r.get("answers", {}).items():
            for s, cell in per.items():
                for k in data:
                    data[k][v, questions.index(q), strategies.index(s)] = np.nan if cell[k] is None else cell[k]
        for q, s in r.get("best", {}).items():
            best[v, questions.index(q)] = s
        for kind, marks in (("tied", tied), ("equivalent", equivalent)):
            for q, others in r.get(kind, {}).items():
                for s in others:
                    marks[v, questions.index(q), strategies.index(s)] = True
    diag = [r.get("diagnostics", {}) for r in results]
    dims = ("variant", "question", "strategy")
    ds = xr.Dataset(
        {**{k: (dims, a) for k, a in data.items()},
         "best": (("variant", "question"), best.astype(str)),
         "tied": (dims, tied),
         "equivalent": (dims, equivalent),
         "verdict": ("variant", [d.get("verdict", "failed") for d in diag]),
         "max_rhat": ("variant", [_number(d.get("max_rhat")) for d in diag]),
         "min_ess_bulk": ("variant", [_number(d.get("min_ess_bulk")) for d in diag]),
         "divergences": ("variant", [_number(d.get("divergences")) for d in diag]),
         "error": ("variant", [r.get("error", "") for r in results]),
         "changes": ("variant", [v.describe() for v in variants]),
         "changed_keys": ("variant", ["; ".join(v.keys) for v in variants]),
         "desirable": ("question", [_desirable(scenarios, q) for q in questions])},
        coords={"variant": [v.name for v in variants], "question": questions, "strategy": strategies})
    ds["probability"].attrs["description"] = "probability of the question's yes under each strategy"
    ds["mcse"].attrs["description"] = "its Monte Carlo standard error"
    ds["changed_keys"].attrs["description"] = ("the key paths the variant changes, separated by '; ' ('scenario' "
                                               "for a whole alternative scenario file)")
    ds["best"].attrs["description"] = "the strategy most likely to give the question's desirable answer"
    ds["equivalent"].attrs["description"] = ("a strategy that gives the best's answer in every draw: identical to it "
                                             "for the question, one option with it")
    ds["tied"].attrs["description"] = ("a strategy within twice the Monte Carlo error of its paired difference from "
                                       "the best: the draws cannot order the two")
    ds.attrs["description"] = ("A sweep: each variant of the scenario (its priors, weights, strategies or whole file) "
                               "fitted and forecast on its own")
    return ds


def _desirable(scenarios: list[Scenario], question: str) -> str:
    """The question's desirable answer ("yes", "no", or "" when none), as the first scenario
    that asks it says."""
    for s in scenarios:
        for q in s.questions:
            if q.id == question:
                return q.desirable or ""
    return ""


def flips(ds: xr.Dataset) -> list[dict]:
    """Per question, the variants under which another strategy than the one best as written
    (variant 0) is best, with the gap between the two under that variant (in probability of
    the desirable answer), whether it is beyond Monte Carlo error (under that variant the best
    as written is not tied with the new best: the paired rule of
    :mod:`forecast.forecasts.questions`), and whether the best as written was clear (no strategy
    tied with it as written). Only a change beyond error of a clear choice is a flip
    (:func:`is_flip`): within error it is a tie, and where no strategy was clearly best as
    written there was no choice to flip, as the run's sensitivity analysis says too."""
    out = []
    for q in ds["question"].values:
        sign = {"yes": 1.0, "no": -1.0}.get(str(ds["desirable"].sel(question=q).values))
        reference = str(ds["best"].sel(question=q).values[0])
        if sign is None or not reference:
            continue
        tied_as_written = [str(s) for s, t in zip(ds["strategy"].values, ds["tied"].sel(question=q).values[0]) if t]
        for v in ds["variant"].values[1:]:
            cell = ds.sel(variant=v, question=q)
            best = str(cell["best"].values)
            identical = ([str(s) for s, e in zip(ds["strategy"].values, cell["equivalent"].values) if e]
                         if "equivalent" in ds else [])  # none in a sweep.nc from before they were told apart
            if not best or same_option(reference, best, identical):
                continue  # the best as written stands: still best, or identical to the best under the variant
            p = cell["probability"]
            gap = sign * float(p.sel(strategy=best) - p.sel(strategy=reference))
            out.append({"question": str(q), "variant": str(v), "best": best, "reference": reference,
                        "gap": gap, "beyond_error": not bool(cell["tied"].sel(strategy=reference)),
                        "reference_tied": tied_as_written})
    return out


def kind_of_flip(found: dict) -> str:
    """What a variant's other best strategy (an entry of :func:`flips`) is: ``"flip"`` (beyond
    Monte Carlo error, of a choice that was clear as written), ``"unchosen"`` (beyond error,
    but no strategy was clearly best as written: no choice to flip) or ``"tie"`` (within error
    under the variant)."""
    if not found["beyond_error"]:
        return "tie"
    return "unchosen" if found["reference_tied"] else "flip"


def is_flip(found: dict) -> bool:
    """A variant flips a question's best strategy (:func:`kind_of_flip`)."""
    return kind_of_flip(found) == "flip"


def _number(x) -> float:
    return float("nan") if x is None else float(x)


def variant_table(variants: list[Variant], results: list[dict]) -> str:
    """``variants.csv``: what each variant changed, and how its fit went."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["variant", "changes", "verdict", "seconds", "error"])
    for v, r in zip(variants, results):
        w.writerow([v.name, v.describe(), r.get("diagnostics", {}).get("verdict", "failed"), r.get("seconds", ""),
                    r.get("error", "")])
    return buf.getvalue()
