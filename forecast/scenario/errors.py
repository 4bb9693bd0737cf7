"""What is wrong with a scenario file, said so that a user can fix it.

Every check collects :class:`Problem` s (a key path and the fix) instead of stopping at the
first, and :class:`ScenarioError` lists them all with the file's name. Pydantic's errors are
translated here into the same form, with a "did you mean" for unknown keys.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from forecast.errors import ForecastError
from forecast.scenario.schema import DISPLAY_LIMIT, STANDARD_LIMIT, YEARS

#: What an id may be (:data:`~forecast.scenario.schema.ID_PATTERN`) in words: "cohésion" is refused for its é.
ID_RULE = "starts with a letter and uses only ASCII letters (a-z, A-Z), digits and _ (at most 64 characters)"


def id_rule(value, what: str = "an id") -> str:
    """What is wrong with an id, with the rule: ``"cohésion" is text; a node id starts with ...
    ('é' is not an ASCII letter)``."""
    outside = next((c for c in value if not c.isascii()), None) if isinstance(value, str) else None
    return f"{shown(value)}; {what} {ID_RULE}" + (f" ({outside!r} is not an ASCII letter)" if outside else "")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where (a key path) and what to do."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ScenarioError(ForecastError):
    """A scenario file that cannot be used. ``str()`` lists every problem with its key path."""

    def __init__(self, file: Path | str, problems: list[Problem]):
        self.file = Path(file)
        self.problems = problems
        lines = [f"{self.file}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


def closest(word: str, choices: list[str] | tuple[str, ...] | set[str] | dict) -> str | None:
    """The one of ``choices`` a user most likely meant by ``word``, or None: one that differs
    only in case first ("NO2" for no2), else the closest spelling, case aside."""
    word, choices = str(word), [str(c) for c in choices]
    same = next((c for c in choices if c.lower() == word.lower()), None)
    if same is not None:
        return same
    lowered = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[close[0]] if close else None


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str] | dict) -> str:
    """The hint " Did you mean 'x'?" for the :func:`closest` of ``choices``, or ''."""
    found = closest(word, choices)
    return f" Did you mean {found!r}?" if found is not None else ""


def keypath(loc: tuple) -> str:
    """pydantic's location tuple as the key path a user sees: ``claims[2].prior``."""
    out = ""
    for part in loc:
        if part == "[key]":  # pydantic's mark of a problem with a table's key rather than its value
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


# --- Values as a user wrote them, and pydantic's errors in those words ---------------------

#: Keys that hold a year, and keys that hold a prior table (for the hint of what to give).
YEAR_KEYS = {"history_start", "start_year", "horizon", "year", "reference_year"}
PRIOR_KEYS = {"baseline", "persistence", "volatility", "shift", "intercept", "loading", "noise", "prior"}
PRIOR_EXAMPLE = '{ dist = "Normal", mu = 0, sigma = 1 }'
#: An example prior on the support each key needs (its default's family), where it is not the
#: whole line: persistence lies in (0, 1), scales are positive.
PRIOR_EXAMPLES = {"persistence": '{ dist = "Beta", alpha = 8, beta = 2 }',
                  "volatility": '{ dist = "Gamma", alpha = 2, beta = 4 }',
                  "shift": '{ dist = "Gamma", alpha = 2, beta = 2 }',
                  "loading": '{ dist = "LogNormal", mu = 0, sigma = 0.3 }',
                  "noise": '{ dist = "Gamma", alpha = 2, beta = 10 }'}

#: What each kind of value is called, by the pydantic error that asked for it.
EXPECTED = {
    "int_type": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false (without quotes)",
    "string_type": "text in quotes",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "list_type": "a list [ ... ]",
}

#: How many entries of each key a file may hold, named for the message that refuses more.
LIMIT_NAMES = {"set": "levers per strategy", "hypotheses": "hypotheses per claim"}


def limit_text(limit: float) -> str:
    """A limit on a number's size as the docs write it: 1e6, 1e-6, 1e15."""
    mantissa, exponent = f"{limit:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def shown(value) -> str:
    """A value as the user wrote it, and what kind of value it is: ``"+1.5" is text``,
    ``false is a boolean``, ``2030.0 is a decimal number``."""
    import datetime as dt
    import json
    import math

    if isinstance(value, bool):
        return f"{'true' if value else 'false'} is a boolean"
    if isinstance(value, str):
        return f"{_short(json.dumps(value, ensure_ascii=False))} is text"
    if isinstance(value, int):
        return f"{_short(str(value))} is a whole number"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan is not a number"
        if math.isinf(value):
            return (f"{'-' if value < 0 else ''}inf is not a finite number (a number too large, such as 1e400, "
                    "reads as inf)")
        return f"{value!r} is a decimal number"
    if isinstance(value, list):
        return f"{_short(repr(value))} is a list"
    if isinstance(value, dict):
        return f"{_short('{ ' + ', '.join(map(str, value)) + ' = ... }')} is a table"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        kind = "a date" if type(value) is dt.date else "a time" if isinstance(value, dt.time) else "a date and time"
        return f"{value.isoformat()} is {kind}"
    return f"{_short(repr(value))} is a {type(value).__name__}"


def _expected(kind: str, key: str) -> str:
    """What to give instead, in the key's own terms where it has some."""
    if key in YEAR_KEYS and kind in ("int_type", "greater_than_equal", "less_than_equal"):
        return "a year as a whole number, such as 2024"
    if key == "lag":
        return "0 (the cause acts in the same year) or 1 (the next year)"
    if key in PRIOR_KEYS and kind in ("dict_type", "model_type"):
        return f"a prior table such as {PRIOR_EXAMPLES.get(key, PRIOR_EXAMPLE)}"
    if key in ("nodes", "indicators") and kind == "dict_type":
        return f"a table: one [{key}.ID] section for each"
    if key in ("claims", "strategies", "questions", "hypotheses") and kind == "list_type":
        return f"a list: one [[{'claims.hypotheses' if key == 'hypotheses' else key}]] section for each"
    if key == "display" and kind in ("dict_type", "model_type"):
        return 'a table such as { kind = "linear", offset = 0, scale = 1, unit = "..." }'
    return EXPECTED.get(kind, "")


def beyond_display(value: float, key: str = "") -> str:
    """Why a number on a display scale is refused (beyond :data:`~forecast.scenario.schema.DISPLAY_LIMIT`),
    and the fix: the display's own ``scale`` and ``offset`` are to be checked, any other number
    given in larger units."""
    fix = "check the number" if key in ("scale", "offset") else "give the node's values in larger units (its display.scale)"
    given = f"{value:g}" if abs(float(f"{value:g}")) > DISPLAY_LIMIT else repr(value)  # 1e15 + 0.5 read as 1e+15
    return f"{given} is beyond the limit of ±{limit_text(DISPLAY_LIMIT)} on a display scale; {fix}"


def problem_from_pydantic(err: dict, allowed: set[str] | None = None) -> Problem:
    """One of pydantic's errors as a :class:`Problem`: what was given and what to give.
    ``allowed``: the keys allowed where an unknown key was found (for "did you mean")."""
    import re

    loc = tuple(err["loc"])
    path = keypath(loc)
    kind = err["type"]
    keys = [p for p in loc if isinstance(p, str) and p != "[key]"]
    key = keys[-1] if keys else ""
    value = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        unknown = str(loc[-1])
        hint = did_you_mean(unknown, allowed) if allowed else ""
        listing = f" Allowed here: {', '.join(sorted(allowed))}." if allowed else ""
        return Problem(path, f"unknown key {unknown!r}.{hint}{listing}")
    if kind == "missing":
        return Problem(path, "required key is missing; add it")
    if kind == "string_pattern_mismatch":
        return Problem(path, id_rule(value))
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        given = f"{shown(value).removesuffix(' is text')} is not one of" if isinstance(value, str) else \
            f"{shown(value)}; give one of"
        return Problem(path, f"{given} {ctx.get('expected')}.{hint}".rstrip("."))
    if kind in EXPECTED:
        return Problem(path, f"{shown(value)}; give {_expected(kind, key)}")
    if kind == "finite_number":
        return Problem(path, f"{shown(value)}; give a finite number")
    if kind in ("too_long", "string_too_long"):
        limit = ctx.get("max_length")
        if kind == "string_too_long":
            what = "for an id" if loc and loc[-1] == "[key]" else "for a text"
            return Problem(path, f"{len(value)} characters, more than the limit of {limit} {what}; shorten it")
        actual = ctx.get("actual_length") or (len(value) if hasattr(value, "__len__") else "too many")
        return Problem(path, f"{actual} entries, more than the limit of {limit} {LIMIT_NAMES.get(key, key)}")
    if kind in ("string_too_short", "too_short"):
        return Problem(path, "is empty; give a value")
    if kind in ("greater_than_equal", "less_than_equal") and key in YEAR_KEYS:
        return Problem(path, f"{value} is not a year from {YEARS[0]} to {YEARS[1]}; give {_expected(kind, key)}")
    if kind in ("greater_than_equal", "less_than_equal") and key == "lag":
        return Problem(path, f"{value} is neither 0 nor 1; give {_expected(kind, key)}")
    if kind in ("greater_than_equal", "less_than_equal") and key == "schema_version":
        return Problem(path, f"{value} is not a schema this version of forecast reads; give schema_version = 1 "
                       "or leave it out")
    bounds = {"greater_than": "greater than", "greater_than_equal": "at least", "less_than": "less than",
              "less_than_equal": "at most"}
    if kind in bounds:
        limit = next(iter(ctx.values()), "")
        magnitude = abs(limit) if isinstance(limit, float) and kind in ("less_than_equal", "greater_than_equal") else None
        if magnitude == STANDARD_LIMIT:
            return Problem(path, f"{value:g} is beyond the limit of ±{STANDARD_LIMIT:g} standard units; {key} is in "
                                 "standard units, where values are of order 1: check the number")
        if magnitude == DISPLAY_LIMIT:
            return Problem(path, beyond_display(value, key))
        if isinstance(limit, float) and limit.is_integer() and abs(limit) < 1e16:
            limit = f"{int(limit):,}"  # "at most 1,000,000", not 1000000.0
        return Problem(path, f"must be {bounds[kind]} {limit}; got {value!r}")
    message = str(err.get("msg", "")).removeprefix("Value error, ")
    if isinstance(value, (dict, list)):  # a table's own check: its message names its keys, a repr would not help
        return Problem(path, message)
    return Problem(path, f"{message}; got {_short(repr(value))}")
