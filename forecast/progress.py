"""What a run shows while it works: one line per stage when it ends, and on a terminal a live
indicator while it runs.

A run's stages differ in what can be known of their length. Compiling, validating and
writing cannot say how far along they are, so on a terminal they show a spinner with the
seconds so far; forecasting counts its strategies, so it shows a bar; sampling is nutpie's
(or PyMC's) own bar per chain. Off a terminal (a log, a pipe, CI) nothing is redrawn: each
stage writes a line when it starts and when it ends. ``--quiet`` passes no progress at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

#: Moves a stage's bar on by that many of its ``total`` steps.
Advance = Callable[[int], None]


def no_advance(steps: int = 1) -> None:
    """The ``advance`` of a stage that shows no bar."""


def shown(progress: StageProgress | None, name: str, total: int | None = None, *,
          live: bool = True) -> AbstractContextManager[Advance]:
    """``progress.stage(name, ...)``, or a stage shown nowhere when there is no ``progress``."""
    return progress.stage(name, total, live=live) if progress else nullcontext(no_advance)


class StageProgress:
    """Shows a run's stages: ``write`` gets each line (a stage's start and end); ``live`` (an
    interactive terminal) shows a transient spinner or bar while a stage runs instead of its
    start line, on ``console`` (a rich Console; default: standard error)."""

    def __init__(self, write: Callable[[str], None], *, live: bool = False, console: Any = None):
        self.write = write
        self.live = live
        self.console = console

    @contextmanager
    def stage(self, name: str, total: int | None = None, *, live: bool = True) -> Iterator[Advance]:
        """Show the stage ``name`` while the block runs; the block gets an ``advance`` for a
        bar of ``total`` steps (ignored without one). ``live=False``: lines only, for a stage
        that draws its own progress (a sampler's bars)."""
        start = time.perf_counter()
        if self.live and live:
            with _indicator(name, total, self.console) as advance:
                yield advance
        else:
            self.write(f"{name} ...")
            yield no_advance
        self.write(f"{name} done in {time.perf_counter() - start:.1f}s")


@contextmanager
def _indicator(name: str, total: int | None, console: Any = None) -> Iterator[Advance]:
    """A transient rich display on ``console`` (default: standard error): spinner, name, bar
    and count when the stage has a ``total``, and the seconds so far. It is gone when the
    stage ends, so the terminal keeps only the stage's end line."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("[forecast] {task.description}", markup=False)]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, TimeElapsedColumn(), console=console or Console(stderr=True), transient=True) as bar:
        task = bar.add_task(name, total=total)
        yield lambda steps=1: bar.advance(task, steps)
