"""Reading an indicator's data file: years, values and the source of every row.

Every value the model uses comes from a row that says where it comes from; a file without a
``source`` column is refused.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from forecast.scenario.errors import Problem, did_you_mean
from forecast.scenario.schema import IndicatorSpec


def outside_domain(values: np.ndarray, transform: str) -> float | None:
    if transform == "log" and np.any(values <= 0):
        return float(values[values <= 0][0])
    if transform == "logit_percent" and np.any((values <= 0) | (values >= 100)):
        return float(values[(values <= 0) | (values >= 100)][0])
    return None


def read_series(file: Path, ind: IndicatorSpec, p: str, problems: list[Problem]):
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
