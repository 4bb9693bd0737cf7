"""Drawing the report's figures: listed while the pages' contexts are built, then drawn together,
in worker processes forked from this one where the machine has more than one core."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from markupsafe import Markup

from forecast import interrupts

#: Figures listed while :func:`deferred_figures` is active: (entry, draw, kwargs).
_PENDING: list[tuple[dict[str, Any], Callable[..., Markup], dict[str, Any]]] | None = None
#: The figures being drawn by :func:`draw_figures` (forked workers inherit them).
_DRAWING: list = []
#: Worker processes for drawing figures at most (the machines this runs on have 2 cores).
MAX_WORKERS = 4


def figure(name: str, draw: Callable[..., Markup], **kwargs: Any) -> dict[str, Any]:
    """The page entry of one figure: drawn now, or later by :func:`draw_figures` when
    figures are deferred. A figure that fails becomes a visible placeholder and a warning,
    never a silent gap."""
    entry: dict[str, Any] = {"name": name, "svg": None, "error": None}
    if _PENDING is not None:
        _PENDING.append((entry, draw, kwargs))
    else:
        draw_figures([(entry, draw, kwargs)])
    return entry


@contextmanager
def deferred_figures() -> Iterator[list]:
    """While active, :func:`figure` lists figures instead of drawing them."""
    global _PENDING
    _PENDING = pending = []
    try:
        yield pending
    finally:
        _PENDING = None


def _draw_one(index: int) -> tuple[str | None, str | None]:
    """Draw the index-th figure of ``_DRAWING``: (svg, None) or (None, error)."""
    entry, draw, kwargs = _DRAWING[index]
    try:
        return str(draw(salt=entry["name"], **kwargs)), None
    except Exception as exc:  # noqa: BLE001  (a broken plot must not cost the whole report)
        return None, f"{type(exc).__name__}: {exc}"


def draw_figures(pending: list) -> None:
    """Fill each entry's ``svg`` (or ``error``).

    Matplotlib draws on one core; a report has some 25 figures. On Linux with more than one
    core they are drawn by worker processes forked from this one, which already holds every
    module and the run's data, so nothing is imported or pickled but the figures' index and
    their SVG text (measured: the default report in 2.7 s instead of 4.2 s on 2 cores).
    The workers leave SIGINT to this process, which stops them when it is interrupted (a
    Ctrl-C reaches the whole process group: without this each worker would print its own
    traceback).
    """
    global _DRAWING
    _DRAWING = pending
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    workers = min(cores, len(pending), MAX_WORKERS)
    try:
        if workers > 1 and sys.platform.startswith("linux"):
            import multiprocessing

            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*use of fork\\(\\) may lead to deadlocks",
                                        category=DeprecationWarning)
                with multiprocessing.get_context("fork").Pool(workers, initializer=interrupts.ignore_in_child) as pool:
                    results = pool.map(_draw_one, range(len(pending)), chunksize=1)
        else:
            results = [_draw_one(i) for i in range(len(pending))]
    finally:
        _DRAWING = []
    for (entry, _, _), (svg, error) in zip(pending, results):
        entry["svg"], entry["error"] = (Markup(svg) if svg is not None else None), error
        if error:
            warnings.warn(f"report: the figure {entry['name']!r} could not be drawn ({error}); "
                          "the page shows a placeholder", RuntimeWarning, stacklevel=3)
