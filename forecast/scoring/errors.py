"""What is wrong with a scoring request, said so that a user can fix it.

A resolutions file is checked whole before anything is written: every bad row becomes a
:class:`RowProblem` (the CSV's row number and the fix), and :class:`ResolutionError` lists
them all with the file's name, as a scenario's problems are listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from forecast.errors import ForecastError


class ScoringError(ForecastError):
    """A run cannot be scored as asked (an unknown strategy, a bad ledger, bad resolutions).
    Nothing has been written when it is raised."""


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with a resolutions file: its row (the header is row 1) and what to do."""

    row: int
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


class ResolutionError(ScoringError):
    """A resolutions file that cannot be used. ``str()`` lists every problem with its row."""

    def __init__(self, file: Path | str, problems: list[RowProblem]):
        self.file = Path(file)
        self.problems = sorted(problems, key=lambda p: p.row)
        lines = [f"{self.file}: {len(problems)} problem{'s' if len(problems) != 1 else ''}; nothing was scored"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class LedgerError(ScoringError):
    """A ledger file that cannot be read or written."""


class MissingLedger(LedgerError):
    """No ledger where one was asked for: the caller may point to ledgers found elsewhere, which
    would be noise beside a ledger that exists but is broken."""
