"""A run's results: the ArviZ-readable tree (:mod:`~forecast.results.tree`), ``summary.json``
(:mod:`~forecast.results.summary`) and the run directory, written atomically and checked when
read (:mod:`~forecast.results.store`)."""

from forecast.results.store import Run, RunError, load_run

__all__ = ["Run", "RunError", "load_run"]
