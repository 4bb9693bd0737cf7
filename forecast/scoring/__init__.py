"""Scored questions: once the world has answered a run's questions, how good were its
probabilities? ``resolutions`` reads what happened, ``scores`` holds the Brier and log scores
and the reliability table, ``ledger`` keeps every scored forecast over time, and ``score``
ties them to a run directory. See docs/scoring.md.

The names below are imported on first use, so that the light modules (``scores``) can be
read without loading a run's machinery (xarray).
"""

from __future__ import annotations

from importlib import import_module

_WHERE = {
    "Ledger": "ledger", "LedgerError": "errors", "ResolutionError": "errors", "RowProblem": "errors",
    "ScoringError": "errors", "Scored": "score", "default_ledger": "score", "score_run": "score",
}

__all__ = ["Ledger", "LedgerError", "ResolutionError", "RowProblem", "Scored", "ScoringError", "default_ledger",
           "score_run"]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f"forecast.scoring.{_WHERE[name]}"), name)
    raise AttributeError(name)
