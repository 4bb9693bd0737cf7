"""Reading data files (CSV) exactly: every row has the header's fields, every number is read
as written or refused, and every value the model uses comes from a row that says where it
comes from (a file without a ``source`` column is refused).

Spreadsheets export CSV in two ways, and both are read:

* comma-separated, with a decimal point (``2010,9.4,IMF``);
* semicolon-separated, as spreadsheets set to many European locales write it, with a decimal
  comma or a decimal point (``2010;9,4;IMF``). A file whose numbers use both marks is refused
  (``1.234`` could be a thousand or one point two), and so are thousands separators, and a
  semicolon-separated file whose every number with a point has three digits after it
  (``89.210``: no number says which the point is).

The separator is the one the header line uses (tabs are read too); a separator ending every
line (``2010;9,4;IMF;``) is read as none. A UTF-8 byte-order mark is dropped. A row with more or fewer fields than the header is an error with its line
number, never a silent shift of the cells: a decimal comma in a comma-separated file
(``2010,9,4``) would otherwise be read as 9 with "4" as its source. The same reader serves any
table a user gives (:func:`read_table`); :func:`read_series` reads an indicator's series.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forecast.files import FileProblem, MiB, MissingFile, read_text
from forecast.scenario.errors import Problem, closest, did_you_mean
from forecast.scenario.schema import YEARS, IndicatorSpec

#: The largest data file read (a yearly series takes a few kB).
MAX_DATA_BYTES = 16 * MiB
#: The most rows a data file may have, and the most characters in one cell.
MAX_ROWS = 100_000
MAX_CELL = 10_000
#: The largest magnitude of a data value, as written and after its indicator's transform:
#: beyond any series in sensible units (world GDP in dollars is 1e14), and far within what
#: the model's standardisation and single-precision forecasts take.
DATA_LIMIT = 1e15

SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}
_DIGITS = r"(?:\d+(?:{d}\d*)?|{d}\d+)(?:[eE][+-]?\d+)?"
_NUMBER = {d: re.compile(rf"[+-]?{_DIGITS.format(d=re.escape(d))}", re.ASCII) for d in ".,"}
_YEAR = re.compile(r"[+-]?\d+", re.ASCII)
#: A number whose point or comma may separate thousands: one to three digits, the first not 0,
#: then groups of three after the mark (89,210; 1,234,567; 89.210; not 0,500).
_GROUPED = {m: re.compile(rf"[+-]?(?:[1-9]\d{{0,2}})(?:{re.escape(m)}\d{{3}})+", re.ASCII) for m in ".,"}


def between_thousands(text: str, mark: str) -> bool:
    """Whether ``mark`` in ``text`` may separate thousands (1,234 or 89.210): then the number
    reads two ways, and only its writer knows which."""
    return bool(_GROUPED[mark].fullmatch(text))


#: The same with any mark a locale writes between thousands (a space, an apostrophe, ...) and
#: a fraction after them: a number no file of this tool's may hold.
_ANY_GROUPED = re.compile(r"[+-]?\d{1,3}(?:[ ,.'\u00a0\u202f]\d{3})+(?:[.,]\d+)?", re.ASCII)


class TableError(Exception):
    """A data file that cannot be read; the message names the line and the fix (the caller
    names the file and the key that gave it)."""


@dataclass(frozen=True)
class Table:
    """A CSV file read exactly: its columns, its rows (each with its line number in the file)
    and how it is written (separator, decimal mark, byte-order mark)."""

    file: Path
    columns: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    separator: str = ","
    decimal: str = "."
    bom: bool = False
    data: bytes = b""  # the file's bytes as read

    def how_read(self) -> str:
        """How the file is written, when it is not the plain comma-and-point form ('' if it is)."""
        notes = []
        if self.separator != ",":
            notes.append(f"{SEPARATORS[self.separator]}-separated")
        if self.decimal != ".":
            notes.append("decimal comma")
        return ", ".join(notes)

    def number(self, line: int, column: str, cell: str) -> float:
        """A cell as the number written there (the file's decimal mark); :class:`TableError` if
        it is not one, with the fix."""
        text = cell.strip()
        value = as_number(text, self.decimal)
        if value is not None:
            if not math.isfinite(value):
                raise TableError(f"line {line}: {column} = {text} is too large for a number; check the cell")
            return value
        raise TableError(f"line {line}: {column} = {cell!r} is not a number; {self._number_fix(text)}")

    def _number_fix(self, text: str) -> str:
        lowered = text.lower()
        if lowered in ("nan", "na", "n/a", "-", "--", "..", "null", "none", "missing"):
            return "leave the cell empty for a year without a value (a gap)"
        if lowered.lstrip("+-") in ("inf", "infinity"):
            return "give a finite number, or leave the cell empty for a gap"
        other = "," if self.decimal == "." else "."
        if self.separator == "," and _GROUPED[","].fullmatch(text):  # 89,210 (quoted): which is it?
            whole, decimal = text.replace(",", ""), text.replace(",", ".")
            if text.count(",") > 1:
                return f"write it without thousands separators ({whole})"
            return (f"it reads as {whole} if the comma separates thousands, or as {float(decimal):g} if it is a "
                    f"decimal comma; write the number without separators ({whole}) or with a decimal point "
                    f"({decimal})")
        if _NUMBER[other].fullmatch(text):
            if self.separator == ",":
                return (f"a decimal comma in a comma-separated file; write {text.replace(',', '.')}, or export "
                        "the file with semicolons between fields")
            return (f"this file's numbers use a decimal {'point' if self.decimal == '.' else 'comma'}; "
                    f"write {text.replace(other, self.decimal)}")
        if _ANY_GROUPED.fullmatch(text):
            return "write it without thousands separators"
        return "fix the cell, or leave it empty for a gap"

    def year(self, line: int, column: str, cell: str) -> int:
        """A cell as a calendar year (a whole number from 1 to 9999)."""
        text = cell.strip()
        if not _YEAR.fullmatch(text):
            raise TableError(f"line {line}: {column} = {cell!r} is not a year; write the year as a whole number "
                             "such as 2024")
        year = int(text)
        if not YEARS[0] <= year <= YEARS[1]:
            raise TableError(f"line {line}: {column} = {text} is not a year from {YEARS[0]} to {YEARS[1]}; "
                             "fix the cell")
        return year


def as_number(text: str, decimal: str = ".") -> float | None:
    """``text`` as the number written there with ``decimal`` as its decimal mark, or None when
    it is not one: digits 0-9 only (``float`` would read full-width or Arabic-Indic digits,
    which no spreadsheet writes as a number), no thousands separators, no words such as
    "nan" or "inf". Infinity comes back only for a number too large (1e400)."""
    text = text.strip()
    return float(text.replace(",", ".")) if _NUMBER[decimal].fullmatch(text) else None


#: What a data file holds, for the message that refuses an empty one.
DATA_LAYOUT = "a data file has a header line (such as year,value,source) and a row per year"


def read_table(file: Path, *, what: str = "a CSV data file", layout: str = DATA_LAYOUT) -> Table:
    """Read a CSV file exactly (see the module's docstring). :class:`TableError` says why not
    with the line, :class:`~forecast.files.FileProblem` when the file itself cannot be read
    (``what`` names what the file should be, ``layout`` what it holds: for the messages)."""
    read = read_text(file, what=what, limit=MAX_DATA_BYTES)
    lines = read.text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    empty = f"is empty; {layout}"
    if first is None:
        raise TableError(empty)
    separator = _separator(lines[first])
    reader = csv.reader(io.StringIO(read.text, newline=""), delimiter=separator, strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, tuple[str, ...]]] = []
    start = 1  # the line the next row starts on (a quoted cell may span lines)
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue  # a blank line, or a row of empty cells
            if header is None:
                trailing = len(cells) - len(_named(cells))  # a separator ending each line, as some exports write
                header = _header(cells[:len(cells) - trailing], line)
                continue
            if trailing and len(cells) == len(header) + trailing and not any(c.strip() for c in cells[-trailing:]):
                cells = cells[:-trailing]
            if len(cells) != len(header):
                raise TableError(_field_count(line, cells, header, separator))
            if max(map(len, cells)) > MAX_CELL:
                raise TableError(f"line {line}: a cell of more than the limit of {MAX_CELL} characters (an unclosed "
                                 "quote?); check the quotes")
            rows.append((line, tuple(cells)))
            if len(rows) > MAX_ROWS:
                raise TableError(f"has more than the limit of {MAX_ROWS} rows; check that this is the file you meant")
    except csv.Error as exc:  # an unclosed quote, a quote inside an unquoted cell, a cell beyond csv's limit
        what = str(exc)
        if "unexpected end of data" in what:
            what = "a quote opened there is never closed"
        elif "field larger than field limit" in what:
            what = f"a cell of more than the limit of {MAX_CELL} characters (an unclosed quote?)"
        raise TableError(f"line {start}: {what}; check the quotes on that line") from None
    if header is None:  # separators and spaces only
        raise TableError(empty.replace("is empty", "has no header (its lines hold empty cells only)"))
    return Table(file, tuple(header), tuple(rows), separator, _decimal(rows, separator), read.bom, read.data)


def _separator(header: str) -> str:
    """The separator the header line uses most (a comma when none)."""
    counts = {s: header.count(s) for s in SEPARATORS}
    best = max(counts, key=lambda s: counts[s])
    return best if counts[best] else ","


def _named(cells: list[str]) -> list[str]:
    """The header's cells without the empty ones at its end."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


def _header(cells: list[str], line: int) -> list[str]:
    names = [c.strip() for c in cells]
    if "" in names:
        raise TableError(f"line {line} (the header): column {names.index('') + 1} has no name; name every column")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise TableError(f"line {line} (the header): column {repeated[0]!r} appears twice; give each column its "
                         "own name")
    return names


def _field_count(line: int, cells: list[str], header: list[str], separator: str) -> str:
    word = SEPARATORS[separator]
    counts = f"line {line} has {len(cells)} fields where the header has {len(header)} ({', '.join(header)})"
    if len(cells) < len(header):
        return f"{counts}; give every row each column, with an empty cell for a gap"
    hint = "a text with a " + word + " needs quotes (\"a" + separator + " b\")"
    if separator == ",":
        hint = ("a decimal comma splits a number in two in a comma-separated file (write 9.4, not 9,4, or "
                "export with semicolons between fields), and " + hint)
    return f"{counts}; {hint}"


def _decimal(rows: list[tuple[int, tuple[str, ...]]], separator: str) -> str:
    """The decimal mark of a table's numbers: a point, or in a semicolon- or tab-separated file
    a comma if its numbers use one. Both marks in one file are refused (ambiguous), and so is a
    semicolon-separated file whose every number with a point has three digits after it
    (89.210): such files are most often written where the point separates thousands, and a
    value read 1000 times too small, without a word, is worse than a question. One number with
    other than three (40.5; 1.2345) shows the point is a decimal point."""
    if separator == ",":
        return "."
    seen: dict[str, tuple[int, str]] = {}
    point_is_decimal = False
    for line, cells in rows:
        for cell in cells:
            text = cell.strip()
            for mark in ".,":
                if mark in text and _NUMBER[mark].fullmatch(text):
                    seen.setdefault(mark, (line, text))
                    point_is_decimal = point_is_decimal or (mark == "." and not _GROUPED["."].fullmatch(text))
    if len(seen) == 2:
        (lp, p), (lc, c) = seen["."], seen[","]
        raise TableError(f"numbers use both a decimal point (line {lp}: {p}) and a decimal comma (line {lc}: {c}); "
                         "use one mark throughout (1.234 could be a thousand or one point two)")
    if separator == ";" and "." in seen and not point_is_decimal:
        line, text = seen["."]
        whole = text.replace(".", "")
        raise TableError(f"line {line}: {text} reads as {float(text):g} with a decimal point, or as {whole} with a "
                         "point between thousands (as semicolon-separated files are often written), and every number "
                         "with a point in this file has three digits after it, so none tells which; write the "
                         f"numbers without thousands separators ({whole}), or with a decimal comma "
                         f"({text.replace('.', ',')} for {float(text):g})")
    return "," if "," in seen else "."


#: Where each indicator transform is defined, both ends excluded, and that range in words (a
#: data value, and a number a resolution gives for the indicator, must lie inside).
TRANSFORM_DOMAINS = {"log": (0.0, math.inf, "a positive number: the indicator is on a log scale"),
                     "logit_percent": (0.0, 100.0, "a percentage, strictly between 0 and 100")}
#: The same for a node's display scale: an index lies strictly between 0 and 100 (a linear
#: display takes any number). A question's threshold must lie inside its subject's domain.
DISPLAY_DOMAINS = {"index": (0.0, 100.0, "an index, strictly between 0 and 100")}


#: When a value outside a transform's domain may be right after all: the series is then not
#: for that transform (the fix besides correcting the cell).
TRANSFORM_UNLESS = {"log": "if the series can be zero or negative",
                    "logit_percent": "if the series is not a percentage, or can be 0 or 100"}


def outside_domain(values: np.ndarray, transform: str) -> int | None:
    """The index of the first of ``values`` outside its indicator's transform's domain, or None."""
    if transform not in TRANSFORM_DOMAINS:
        return None
    low, high, _ = TRANSFORM_DOMAINS[transform]
    bad = np.flatnonzero((values <= low) | (values >= high))
    return int(bad[0]) if len(bad) else None


def _one_row_per_year(table: Table, y: int) -> None:
    """Refuse a year on two rows, whichever columns they fill: a row typed with last year's
    year (2016 for 2017) and a gap in the column read would otherwise lose its year without a
    word. Rows whose year cell is no year (a footnote) are left to the reading."""
    seen: dict[int, int] = {}
    for line, cells in table.rows:
        text = cells[y].strip()
        if not _YEAR.fullmatch(text):
            continue
        year = int(text)
        if year in seen:
            raise TableError(f"line {line}: year {year} appears twice (also line {seen[year]}); keep one row per year")
        seen[year] = line


def read_series(file: Path, ind: IndicatorSpec, p: str, problems: list[Problem]):
    """Years, values, the source and the line of each row, how the file was read
    (``Table.how_read``) and its bytes; gaps (empty cells) are skipped, never filled. ``None``
    after adding a problem at ``p``."""
    try:
        table = read_table(file)
    except MissingFile as exc:
        problems.append(Problem(p, f"data file {file}: {exc} (paths are relative to the scenario file)"))
        return None
    except FileProblem as exc:
        problems.append(Problem(p, f"data file {file}: {exc}"))
        return None
    except TableError as exc:
        problems.append(Problem(p, f"{file.name} {exc}"))
        return None
    cols = list(table.columns)
    for col, key in ((ind.year_column, "year_column"), (ind.column, "column")):
        if col not in cols:  # the mistake is in the key naming the column, not in the file's
            problems.append(Problem(f"{p.removesuffix('.file')}.{key}", f"{file.name} has no column {col!r}."
                                    f"{did_you_mean(col, cols)} Columns: {', '.join(cols)}"))
            return None
    if "source" not in cols:
        close = closest("source", cols)
        rename = f" (column names are matched exactly): rename {close!r} to source" if close else ""
        problems.append(Problem(p, f"{file.name} has no 'source' column{rename}; every data row must say where it "
                                "comes from (a URL or a publication)"))
        return None
    y, v, s = cols.index(ind.year_column), cols.index(ind.column), cols.index("source")
    years: list[int] = []
    values: list[float] = []
    sources: list[str] = []
    lines: list[int] = []
    try:
        _one_row_per_year(table, y)
        for line, cells in table.rows:
            if not cells[v].strip():
                continue  # a gap
            if not cells[y].strip():
                raise TableError(f"line {line}: {ind.column} has a value but {ind.year_column} is empty; give its year")
            year = table.year(line, ind.year_column, cells[y])
            value = table.number(line, ind.column, cells[v])
            if not cells[s].strip():
                raise TableError(f"line {line}: {ind.column} has a value but source is empty; every data row must say "
                                 "where it comes from (a URL or a publication)")
            lines.append(line)
            years.append(year)
            values.append(value)
            sources.append(cells[s].strip())
    except TableError as exc:
        problems.append(Problem(p, f"{file.name} {exc}"))
        return None
    if not years:
        problems.append(Problem(p, f"{file.name} column {ind.column!r} has no values"))
        return None
    return (np.array(years, dtype=int), np.array(values, dtype=float), sources, np.array(lines, dtype=int),
            table.how_read(), table.data)

