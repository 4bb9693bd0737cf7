"""What happened: the resolutions file, read row by row, and each question's outcome under
its own rule.

A resolutions file is a CSV with one row per resolved question and exactly these columns
(in any order)::

    question,value,date,source
    trade_below_240_2026,228.4,2027-01-13,https://english.customs.gov.cn/...
    cohesion_above_60_2029,no,2030-03-02,Analyst panel minutes 2030-03

* ``question``: the question's id in the run;
* ``value``: ``yes`` or ``no``, or the number observed, in the subject's units (a node on
  its display scale, an indicator in its own units);
* ``date``: when the answer was known (published), as YYYY-MM-DD;
* ``source``: where the value comes from (a URL or a publication); every row carries its
  own, as the scenario's data rows do.

It is read as the scenario's data files are (:func:`forecast.scenario.data.read_table`): a
regular file within the size limit, UTF-8 with an optional byte-order mark, commas, or
semicolons with decimal commas as spreadsheets in many locales export them; every row has the
header's fields, and a number is written with the digits 0-9. Row numbers count the header as
row 1, as a spreadsheet does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import NamedTuple

from forecast.files import FileProblem
from forecast.scenario.data import TRANSFORM_DOMAINS, TableError, as_number, between_thousands, read_table
from forecast.scenario.errors import did_you_mean
from forecast.scoring.errors import ResolutionError, RowProblem, ScoringError

COLUMNS = ("question", "value", "date", "source")
YES, NO = "yes", "no"
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass(frozen=True)
class Resolution:
    """One row of a resolutions file, parsed: the value is ``True``/``False`` (yes/no) or a number."""

    row: int
    question: str
    value: bool | float
    date: date
    source: str

    @property
    def value_text(self) -> str:
        if isinstance(self.value, bool):
            return YES if self.value else NO
        return f"{self.value:g}"


@dataclass(frozen=True)
class Rule:
    """A question's rule as a resolution reads it: yes/no is taken as it is; a number is
    compared with ``level`` (the threshold, or the observed reference level plus the change).
    Without a level (``why_not`` says why) only yes/no resolves the question."""

    question: str
    comparison: str  # "below" | "above"
    level: float | None
    why_not: str = ""

    def outcome(self, value: bool | float) -> bool:
        """Did the question resolve yes? A number equal to the level is neither below nor
        above it (the forecast's own comparison is strict too)."""
        if isinstance(value, bool):
            return value
        if self.level is None:
            raise ValueError(self.refusal())
        return value < self.level if self.comparison == "below" else value > self.level

    def refusal(self) -> str:
        return f"question {self.question!r} cannot be resolved by a number: {self.why_not}; give yes or no"


def question_rule(question: Mapping, observed: Mapping[tuple[str, int], float]) -> Rule:
    """The rule of ``question`` (an entry of summary.json's ``questions``).

    ``observed`` holds the run's observed indicator values by (indicator, year): a question
    that compares an indicator with its own level in a year the run observed compares a
    resolved number with that observation (plus ``change``). A node's level is latent, and a
    level in a forecast year was not observed, so such questions take yes or no only.
    """
    qid, comparison = question["id"], question["comparison"]
    if question.get("threshold") is not None:
        return Rule(qid, comparison, float(question["threshold"]))
    subject, year = question["subject"], int(question["reference_year"])
    change = float(question.get("change") or 0.0)
    if question.get("subject_kind") == "indicator":
        value = observed.get((subject, year))
        if value is not None and math.isfinite(value):
            return Rule(qid, comparison, value + change)
        why = f"it compares {subject} with its {year} level, which the run did not observe"
    else:
        why = f"it compares the node {subject} with its own {year} level, a latent level that was never observed"
    return Rule(qid, comparison, None, why)


def parse_value(text: str, decimal: str = ".") -> bool | float:
    """``yes``/``no`` (any case) or a finite number as written, with the file's ``decimal``
    mark (:func:`forecast.scenario.data.as_number`: digits 0-9 only); ``ValueError`` with the
    fix otherwise."""
    word = text.strip()
    if not word:
        raise ValueError("no value: give yes, no or the number observed")
    if word.lower() in (YES, NO):
        return word.lower() == YES
    number = as_number(word, decimal)
    if number is None or not math.isfinite(number):
        raise ValueError(_not_a_value(word, decimal))
    return number


def _not_a_value(word: str, decimal: str) -> str:
    """Why a value is refused, and the fix."""
    if word.lower().lstrip("+-") in ("inf", "infinity", "nan") or as_number(word, decimal) is not None:
        return f"value {word!r} is not a finite number"
    if any(c.isdigit() and not c.isascii() for c in word):
        return f"value {word!r} is not a number as written: write it with the digits 0-9"
    other = "," if decimal == "." else "."
    if as_number(word, other) is not None:
        mark = "point" if decimal == "." else "comma"
        if between_thousands(word, other):  # 1,234: a thousand and more, or one and a bit?
            whole = word.replace(other, "")
            return (f"value {word!r} reads as {whole} if the {'comma' if other == ',' else 'point'} separates "
                    f"thousands, or as {word.replace(other, '.')} if it is a decimal mark; write {whole} or "
                    f"{word.replace(other, decimal)} (this file's numbers use a decimal {mark}), whichever was meant")
        return f"value {word!r}: this file's numbers use a decimal {mark}; write {word.replace(other, decimal)}"
    return f"value {word!r} is neither yes/no nor a number"


def parse_date(text: str) -> date:
    word = text.strip()
    try:
        if not ISO_DATE.fullmatch(word):
            raise ValueError
        return date.fromisoformat(word)
    except ValueError:
        raise ValueError(f"date {word!r} is not a date as YYYY-MM-DD (e.g. 2027-01-15)") from None


class Range(NamedTuple):
    """The numbers a subject can be observed at, and how to say so."""

    low: float
    high: float
    inclusive: bool  # the ends themselves (an index's 0 and 100) can be observed
    words: str

    def holds(self, value: float) -> bool:
        return self.low <= value <= self.high if self.inclusive else self.low < value < self.high


def subject_ranges(summary: Mapping) -> dict[str, Range]:
    """What a number observed for each subject can be, from a run's summary: a node shown as an
    index from 0 to 100; an indicator in percent (logit transform) strictly between 0 and 100;
    a logged indicator above 0. Subjects not listed take any number."""
    out: dict[str, Range] = {}
    for nid, node in (summary.get("nodes") or {}).items():
        if str(node.get("unit", "")).startswith("index"):
            out[nid] = Range(0.0, 100.0, True, "an index from 0 to 100")
    for iid, ind in (summary.get("indicators") or {}).items():
        domain = TRANSFORM_DOMAINS.get(ind.get("transform"))
        if domain is not None:
            out[iid] = Range(domain[0], domain[1], False, domain[2])
    return out


def read_resolutions(path: str | Path, questions: Mapping[str, Mapping],
                     observed: Mapping[tuple[str, int], float], *, today: date | None = None,
                     scored: Mapping[str, str] | None = None,
                     ranges: Mapping[str, Range] | None = None) -> list[Resolution]:
    """Every row of the resolutions file at ``path``, checked against the run's
    ``questions`` (summary.json's entries by id) and ``observed`` values.

    Each row is checked in full and every problem is collected: an unknown question, a value
    that is not yes/no or a number (or a number the question's rule cannot compare), a
    question resolved twice, a date that is not a date (or before the question's year, or
    after ``today``), a missing source, a number its subject cannot take (``ranges``:
    :func:`subject_ranges`), and a question already ``scored`` for this run
    (question id -> where, e.g. "ledger line 4"). One problem or more raises
    :class:`ResolutionError` with them all, so that nothing is scored from a bad file.
    """
    path = Path(path)
    today = today or date.today()
    scored = scored or {}
    rows, decimal = _rows(path)
    problems: list[RowProblem] = []
    out: list[Resolution] = []
    first_row: dict[str, int] = {}
    for row, cells in rows:
        found = _check_row(row, cells, questions, observed, today, scored, first_row, decimal, ranges)
        if isinstance(found, Resolution):
            out.append(found)
        else:
            problems += found
    if not problems and not out:
        problems.append(RowProblem(1, "no resolutions below the header: add one row per resolved question"))
    if problems:
        raise ResolutionError(path, problems)
    return out


#: What a resolutions file holds, for the message that refuses an empty one.
LAYOUT = f"a resolutions file has the header {','.join(COLUMNS)} and a row per resolved question"


def _rows(path: Path) -> tuple[list[tuple[int, dict[str, str]]], str]:
    """The data rows as (row number, {column: cell}), and the file's decimal mark. The file is
    read as data files are (:func:`forecast.scenario.data.read_table`: a regular file within the
    size limit, UTF-8, commas, semicolons or tabs, a row with the header's fields); anything
    wrong with the file or its header ends the reading."""
    try:
        table = read_table(path, what="a resolutions CSV file (docs/scoring.md)", layout=LAYOUT)
    except FileProblem as exc:
        raise ScoringError(f"{path}: {exc}; nothing was scored") from None
    except TableError as exc:
        raise ScoringError(f"{path} {exc}; nothing was scored") from None
    header = list(table.columns)
    problems = []
    for h in (h for h in header if h not in COLUMNS):
        problems.append(RowProblem(1, f"unknown column {h!r}.{did_you_mean(h, COLUMNS)} "
                                      f"The columns are {','.join(COLUMNS)}"))
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        problems.append(RowProblem(1, f"missing column{'s' if len(missing) > 1 else ''} "
                                      f"{', '.join(map(repr, missing))}; the columns are {','.join(COLUMNS)}"))
    if problems:
        raise ResolutionError(path, problems)
    return [(line, dict(zip(header, cells))) for line, cells in table.rows], table.decimal


def _check_row(row: int, cells: dict[str, str], questions: Mapping[str, Mapping],
               observed: Mapping[tuple[str, int], float], today: date, scored: Mapping[str, str],
               first_row: dict[str, int], decimal: str = ".",
               ranges: Mapping[str, Range] | None = None) -> Resolution | list[RowProblem]:
    """One row parsed, or every problem it has."""
    problems: list[str] = []
    qid = cells["question"].strip()
    question = questions.get(qid)
    if not qid:
        problems.append("no question id")
    elif question is None:
        problems.append(f"unknown question {qid!r}.{did_you_mean(qid, list(questions))} "
                        f"The run's questions: {', '.join(questions)}")
    else:
        if qid in first_row:
            problems.append(f"question {qid!r} is already resolved in row {first_row[qid]}; "
                            "give one row per question")
        else:
            first_row[qid] = row
        if qid in scored:
            problems.append(f"question {qid!r} was already scored for this run ({scored[qid]}); "
                            "a run's forecast of a question is scored once")
    value = when = None
    try:
        value = parse_value(cells["value"], decimal)
    except ValueError as exc:
        problems.append(str(exc))
    if question is not None and value is not None and not isinstance(value, bool):
        rule = question_rule(question, observed)
        if rule.level is None:
            problems.append(rule.refusal())
        allowed = (ranges or {}).get(str(question.get("subject")))
        if allowed is not None and not allowed.holds(value):
            problems.append(f"value {value:g} is outside what {question['subject']} can be ({allowed.words}): give "
                            "the value observed in its own units")
    try:
        when = parse_date(cells["date"])
    except ValueError as exc:
        problems.append(str(exc))
    if when is not None:
        if when > today:
            problems.append(f"date {when.isoformat()} is after today ({today.isoformat()}): give the date "
                            "the answer was published")
        elif question is not None and when.year < int(question["year"]):
            problems.append(f"date {when.isoformat()} is before {question['year']}, the year question {qid!r} "
                            "asks about: its answer cannot be known yet")
    source = cells["source"].strip()
    if not source:
        problems.append("no source: every row names where its value comes from (a URL or a publication)")
    if problems:
        return [RowProblem(row, m) for m in problems]
    return Resolution(row=row, question=qid, value=value, date=when, source=source)
