"""A run's results: the ArviZ-readable tree (:mod:`~forecast.results.tree`), ``summary.json``
(:mod:`~forecast.results.summary`) and the run directory, written atomically and checked when
read (:mod:`~forecast.results.store`, with the shapes of its JSON files in
:mod:`~forecast.results.shapes`).

The names below are imported on first use, so that the light module ``shapes`` (which the
ledger's reader shares) can be read without loading a run's machinery (xarray).
"""

from __future__ import annotations

from importlib import import_module

__all__ = ["Run", "RunError", "load_run"]


def __getattr__(name: str):
    if name in __all__:
        return getattr(import_module("forecast.results.store"), name)
    raise AttributeError(name)
