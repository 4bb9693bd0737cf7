"""Fuzzing the scenario file and its data: whatever a file holds, validation answers with the
scenario or with a :class:`ScenarioError` (a clean message), never another exception.

Hypothesis writes scenarios from the schema (each table with its keys, holding values of the
right type or any value TOML can hold) and mutates the shipped scenario and the tests'
chain: wrong types, missing keys, unknown keys and nodes, same-year cycles, extreme numbers,
bytes of the text; and it writes data files (CSV) of every shape.

Two profiles. ``ci`` (the default) is derandomized, so CI is repeatable, and takes some 20 s.
``long`` searches afresh each time, a hundred times as many examples (about half an hour)::

    FORECAST_FUZZ=long .venv/bin/python -m pytest tests/test_fuzz.py -p no:cacheprovider

A failure prints the smallest example Hypothesis found and a ``@reproduce_failure`` line.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import os
import shutil
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from forecast.scenario import ScenarioError, load_scenario, schema
from forecast.scenario.load import scenario_from_document
from forecast.scenario.priors import REGISTRY, resolve

from .conftest import CHAIN, DEFAULT_SCENARIO, PRIORS

settings.register_profile("ci", max_examples=120, derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("long", max_examples=6000, derandomize=False, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FUZZ = settings.get_profile(os.environ.get("FORECAST_FUZZ", "ci"))

# A first fit imports PreliZ and PyTensor, which raises the recursion limit; Hypothesis warns
# when the limit changes during an example, so that happens here.
resolve({"between": [0.0, 1.0]})

#: Where generated scenarios live: beside the shipped one, so that its data files resolve.
HERE = PRIORS / "fuzzed.toml"
ARTICLE = tomllib.loads(DEFAULT_SCENARIO.read_text(encoding="utf-8"))


def validates_or_says_why(document: dict, path: Path = HERE) -> None:
    """The property: a scenario, or a ScenarioError whose every problem has a message. (The
    events show, with --hypothesis-show-statistics, how deep the examples reach.)"""
    try:
        scenario_from_document(document, path)
        event("validates")
    except ScenarioError as exc:
        assert exc.problems and all(p.message for p in exc.problems)
        assert str(path) in str(exc)
        try:
            schema.ScenarioFile.model_validate(document)
            event("refused by the checks after the schema")
        except ValueError:
            event("refused by the schema")


# --- Values TOML can hold ---------------------------------------------------------------------

EXTREMES = [0, -0.0, 1, -1, 0.5, 2024, 10**6, 2**63 - 1, -(2**63), 1e308, -1e308, 5e-324, 1e-300,
            math.nan, math.inf, -math.inf]
numbers = st.one_of(st.sampled_from(EXTREMES), st.integers(-(10**6), 10**6), st.floats(allow_nan=True))
scalars = st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=12),
                    st.dates(), st.times(), st.datetimes(min_value=dt.datetime(1, 1, 2)))
toml_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)

#: Ids, mostly the ones the generated scenario declares, so that references often resolve.
IDS = ["a", "b", "c", "lever", "outcome", "poll", "base", "q", "x1"]
ids = st.one_of(st.sampled_from(IDS), st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,6}", fullmatch=True), st.text(max_size=6))
years = st.one_of(st.integers(1990, 2035), numbers)
DATA = {"data/china_russia_trade_usd_bn.csv": "trade_usd_bn", "data/pew_us_favorability_europe.csv": "Germany",
        "data/pew_confidence_us_president.csv": "confidence", "data/nope.csv": "value"}

#: Priors in each form; expert statements with numbers from a few, so PreliZ fits each once.
fit_numbers = st.sampled_from([-1.0, -0.5, 0.0, 0.1, 0.3, 0.5, 1.0, 1e308, -1e308])
priors = st.one_of(
    st.fixed_dictionaries({}, optional={"direction": st.sampled_from(["+", "-", "up"]) | toml_values,
                                        "strength": st.sampled_from(["weak", "moderate", "strong"]) | toml_values,
                                        "confidence": st.sampled_from(["low", "medium", "high"]) | toml_values}),
    st.sampled_from(sorted(REGISTRY)).flatmap(lambda name: st.fixed_dictionaries(
        {"dist": st.just(name)}, optional={p: numbers for p in [*REGISTRY[name].params, "sd"]})),
    st.fixed_dictionaries({"between": st.lists(fit_numbers, min_size=2, max_size=2) | toml_values},
                          optional={"probability": st.sampled_from([0.5, 0.9, 0.0, 1.0]) | toml_values,
                                    "family": st.just("Normal") | toml_values}),
    st.fixed_dictionaries({"quartiles": st.lists(fit_numbers, min_size=3, max_size=3).map(sorted) | toml_values}),
    toml_values,
)
settings_of_levers = st.one_of(numbers, st.lists(numbers, max_size=6), st.just("hold"),
                               st.fixed_dictionaries({}, optional={k: numbers | toml_values for k in
                                                                   ("hold", "to", "by", "by_sd", "over")}),
                               toml_values)

#: Priors that resolve (mostly), for documents meant to pass the schema and the priors.
good_priors = st.one_of(
    st.fixed_dictionaries({"direction": st.sampled_from(["+", "-"])},
                          optional={"strength": st.sampled_from(["weak", "moderate", "strong"]),
                                    "confidence": st.sampled_from(["low", "medium", "high"])}),
    st.builds(lambda mu, sigma: {"dist": "Normal", "mu": mu, "sigma": sigma}, st.floats(-2, 2), st.floats(0.01, 2)),
    st.builds(lambda a, b: {"dist": "Beta", "alpha": a, "beta": b}, st.floats(0.5, 20), st.floats(0.5, 20)),
    st.builds(lambda a, b: {"dist": "Gamma", "alpha": a, "beta": b}, st.floats(0.5, 20), st.floats(0.5, 20)),
    st.sampled_from([{"between": [-0.5, 0.5]}, {"quartiles": [-0.5, 0.0, 0.5]}]),
)


def by_name(name: str, typed: bool) -> st.SearchStrategy | None:
    """Values for fields drawn from the scenario's own world rather than by their type."""
    year = st.integers(1995, 2032) if typed else years
    ref = st.sampled_from(IDS) if typed else ids
    return {
        "cause": ref, "effect": ref, "node": ref, "subject": ref, "id": ref, "file": st.sampled_from(sorted(DATA)),
        "column": st.sampled_from(sorted(set(DATA.values()))), "history_start": year, "start_year": year,
        "horizon": year, "year": year, "reference_year": year, "seed": st.integers(0, 2**63 - 1) if typed else None,
        "prior": good_priors if typed else priors, "baseline": None, "set": st.dictionaries(ref, settings_of_levers,
                                                                                          max_size=3),
        "persistence": good_priors if typed else None, "volatility": good_priors if typed else None,
        "weight": st.floats(0.1, 10) if typed else None, "initial_sd": st.floats(0.1, 5) if typed else None,
        "lag": st.integers(0, 1) if typed else None, "schema_version": st.just(1) if typed else None,
    }.get(name)


finite = st.one_of(st.integers(-5, 5), st.floats(-100, 100), st.sampled_from([1e308, -1e308, 5e-324, 2**63 - 1]))


def by_type(annotation: Any, name: str, typed: bool) -> st.SearchStrategy:
    """Values for a field of the schema: of its type, or (unless ``typed``) now and then anything
    TOML holds. Typed documents pass the schema often and reach the checks after it."""
    named = by_name(name, typed)
    if named is not None:
        right = named
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        right = table(annotation, typed)
    else:
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if annotation is bool:
            right = st.booleans()
        elif annotation is int:
            right = st.integers(-2, 5) if typed else st.integers(-5, 5) | numbers
        elif annotation is float:
            right = finite if typed else numbers
        elif annotation is str:
            right = st.text(min_size=1 if typed else 0, max_size=20)
        elif origin is Literal:
            right = st.sampled_from(args)
        elif origin in (typing.Union, types.UnionType):
            right = st.one_of(*(by_type(a, name, typed) for a in args if a is not type(None)))
        elif origin is dict and len(args) == 2 and isinstance(args[1], type) and issubclass(args[1], BaseModel):
            right = st.dictionaries(st.sampled_from(IDS) if typed else ids, table(args[1], typed), max_size=4)
        elif origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            right = st.lists(table(args[0], typed), max_size=4)
        elif origin is dict:  # a prior table
            right = good_priors if typed else priors
        else:
            right = toml_values
    return right if typed else st.one_of(right, right, right, toml_values)


def table(model: type[BaseModel], typed: bool) -> st.SearchStrategy:
    """A table of ``model``: its required keys (always when ``typed``, mostly otherwise), any of
    its optional keys, and (unless ``typed``) now and then a key it does not have."""
    fields = model.model_fields
    value = {n: st.deferred(lambda n=n, f=f: by_type(f.annotation, n, typed)) for n, f in fields.items()}
    required = {n: v for n, v in value.items() if fields[n].is_required()}
    optional = {n: v for n, v in value.items() if not fields[n].is_required()}
    if typed:
        return st.fixed_dictionaries(required, optional=optional)
    return st.fixed_dictionaries(required, optional={**optional, "typo": toml_values}) | st.fixed_dictionaries(
        {}, optional={**required, **optional})


scenario_documents = st.deferred(lambda: table(schema.ScenarioFile, typed=True) | table(schema.ScenarioFile,
                                                                                          typed=False))


# --- Mutations of real scenarios ---------------------------------------------------------------


def _paths(value: Any, at: tuple = ()) -> list[tuple]:
    """Every key path in a document."""
    out = [at] if at else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*at, i))
    return out


def _set(document: dict, path: tuple, value: Any) -> None:
    for part in path[:-1]:
        document = document[part]
    document[path[-1]] = value


def _delete(document: dict, path: tuple) -> None:
    for part in path[:-1]:
        document = document[part]
    del document[path[-1]]


@st.composite
def mutated(draw, base: dict) -> dict:
    """``base`` with one to four mutations."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(document)
        kind = draw(st.sampled_from(["type", "delete", "extreme", "unknown node", "cycle", "unknown key"]))
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        if kind == "type":
            _set(document, path, draw(toml_values))
        elif kind == "delete":
            _delete(document, path)
        elif kind == "extreme":
            numeric = [p for p in paths if isinstance(_get(document, p), int | float)]
            if numeric:
                _set(document, draw(st.sampled_from(numeric)), draw(st.sampled_from(EXTREMES)))
        elif kind == "unknown node":
            refs = [p for p in paths if p[-1] in ("cause", "effect", "node", "subject")]
            if refs:
                _set(document, draw(st.sampled_from(refs)), draw(st.sampled_from(["nope", "", "Partnership"])))
        elif kind == "cycle" and isinstance(document.get("nodes"), dict) and len(document["nodes"]) >= 2:
            a, b = draw(st.permutations(list(document["nodes"])))[:2]
            claims = document.setdefault("claims", [])
            if isinstance(claims, list):
                claims += [{"id": "fwd", "cause": a, "effect": b, "lag": 0, "prior": {"direction": "+"}},
                           {"id": "back", "cause": b, "effect": a, "lag": 0, "prior": {"direction": "-"}}]
        elif kind == "unknown key" and isinstance(_get(document, path), dict):
            _get(document, path)["unknwon"] = draw(toml_values)
    return document


def _get(document: Any, path: tuple) -> Any:
    for part in path:
        document = document[part]
    return document


# --- The properties ------------------------------------------------------------------------------


@FUZZ
@given(scenario_documents)
def test_any_scenario_the_schema_allows_validates_or_says_why(document) -> None:
    validates_or_says_why(document)


@FUZZ
@given(mutated(ARTICLE))
def test_any_mutation_of_the_shipped_scenario_validates_or_says_why(document) -> None:
    validates_or_says_why(document)


@FUZZ
@given(mutated(CHAIN))
def test_any_mutation_of_the_chain_validates_or_says_why(document) -> None:
    validates_or_says_why(document, Path("/nonexistent/chain.toml"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A folder with a copy of the default scenario's data (module-scoped: Hypothesis runs each
    example in the same test call)."""
    here = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(PRIORS / "data", here / "data")
    return here


@FUZZ
@given(text=st.binary(max_size=200) | st.text(max_size=200).map(str.encode),
       cut=st.integers(0, 12000), encoding=st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
def test_any_bytes_in_a_scenario_file_validate_or_say_why(folder, text, cut, encoding) -> None:
    """The shipped file cut at some point, with bytes spliced in, in some encoding."""
    original = DEFAULT_SCENARIO.read_text(encoding="utf-8")
    raw = original[:cut].encode(encoding, errors="replace") + text + original[cut:].encode(encoding, errors="replace")
    path = folder / "scenario.toml"
    path.write_bytes(raw)
    try:
        load_scenario(path)
    except ScenarioError as exc:
        assert exc.problems


cells = st.one_of(st.sampled_from(["", "40", "4,5", "4.5", "1.234,5", "nan", "inf", "1e999", "2013", "-", '"',
                                   "a;b", "４５", " 7 ", "\t"]), st.text(max_size=8))
rows = st.lists(st.lists(cells, min_size=0, max_size=5), max_size=8)


@FUZZ
@given(header=st.sampled_from(["year,share,source", "year;share;source", "\ufeffyear,share,source",
                               "year\tshare\tsource", "Year,Share", "year,share,share,source", ""]),
       rows=rows, separator=st.sampled_from([",", ";", "\t"]), ending=st.sampled_from(["\n", "\r\n", "\r"]),
       encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]))
def test_any_data_file_is_read_exactly_or_refused_with_its_line(folder, header, rows, separator, ending,
                                                                encoding) -> None:
    csv_text = header + ending + "".join(separator.join(r) + ending for r in rows)
    (folder / "poll.csv").write_bytes(csv_text.encode(encoding, errors="replace"))
    document = {**CHAIN, "indicators": {"poll": {"label": "Poll", "node": "B", "file": "poll.csv",
                                                 "column": "share", "source": "fuzz"}}}
    try:
        scenario = scenario_from_document(document, folder / "scenario.toml")
    except ScenarioError as exc:
        assert exc.problems and all(p.path and p.message for p in exc.problems)
        return
    values = scenario.indicators["poll"].values
    assert all(math.isfinite(v) for v in values), "a value the model uses is a number"

