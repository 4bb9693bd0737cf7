"""Stopping a command on SIGINT (Ctrl-C) or SIGTERM: at once, with nothing left behind.

While :func:`handled` is active (the ``forecast`` executable, never a notebook's process),
each of the two signals raises :class:`Interrupted` in the main thread. It is a
``BaseException`` but not a ``KeyboardInterrupt``: the code that cleans up (a run's staging
folder, the sampler's threads, the background compile, the report's drawing processes)
runs on ``BaseException``, while libraries that catch ``KeyboardInterrupt`` to stop early and
go on with what they have (PyMC's sampler returns the draws so far) let it pass.

A raise can still be swallowed: when the signal lands in a finaliser or a C callback (h5py
while writing), Python prints "Exception ignored ..." and goes on. So the signal is also
recorded: :func:`check` raises it again at the next safe point (each stage's end, and
before a run is renamed into place), the command's exit code is the signal's all the same,
and such a swallowed raise is not printed. Exit codes follow the shell's convention: 128 +
the signal's number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: The signals that stop a command.
SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: The first signal received while :func:`handled` was active (None: none).
_received: int | None = None
#: Whether :func:`handled` is active, whether the command's output is in place
#: (:func:`committed`), and the first signal received after that.
_handling = False
_committed = False
_after_commit: int | None = None


class Interrupted(BaseException):
    """The command was stopped by a signal; ``exit_code`` is the shell's 128 + its number."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"interrupted by {signal.Signals(signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def received() -> int | None:
    """The signal received since :func:`handled` started, if any."""
    return _received


def check() -> None:
    """Raise :class:`Interrupted` if a signal was received (and its raise swallowed)."""
    if _received is not None:
        raise Interrupted(_received)


def interrupted_by(exc: BaseException) -> Interrupted | None:
    """The :class:`Interrupted` that ``exc`` stands for, or None: ``exc`` itself, or any
    exception at all once a signal was received. The raise lands wherever the main thread
    is, and compiled code can turn it into an error of its own (numba's dispatcher gives
    "SystemError: CPUDispatcher(...) returned a result with an exception set"); that error is
    the signal's doing, and the command stops as the signal asks."""
    if isinstance(exc, Interrupted):
        return exc
    if _received is not None and isinstance(exc, Exception):
        return Interrupted(_received)
    return None


def _on_signal(signum: int, frame) -> None:
    global _received
    if _received is None:
        _received = signum
    raise Interrupted(signum)


def _quiet_unraisable(previous):
    """``sys.unraisablehook`` that says nothing of a swallowed :class:`Interrupted`
    (:func:`check` raises it again) and passes everything else on."""

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, Interrupted):
            return
        previous(unraisable)

    return hook


@contextmanager
def handled() -> Iterator[None]:
    """Turn SIGINT and SIGTERM into :class:`Interrupted` while active (main thread only;
    elsewhere a no-op). On exit the previous handlers are put back and the record of a signal
    is cleared (:func:`received` is read before)."""
    global _received, _handling, _committed, _after_commit
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received, _handling, _committed, _after_commit = None, True, False, None
    before = {s: signal.signal(s, _on_signal) for s in SIGNALS}
    hook = sys.unraisablehook
    sys.unraisablehook = _quiet_unraisable(hook)
    try:
        yield
    finally:
        for s, h in before.items():
            signal.signal(s, h)
        sys.unraisablehook = hook
        _received, _handling, _committed, _after_commit = None, False, False, None


def _record(signum: int, frame) -> None:
    global _received
    if _received is None:
        _received = signum


def record_only() -> None:
    """From now on (while :func:`handled` is active) a signal is only recorded: for a command
    that has finished and is exiting anyway, with the signal's exit code (unless its output
    was already in place: :func:`committed`)."""
    if threading.current_thread() is threading.main_thread():
        for s in SIGNALS:
            signal.signal(s, _record_after if _committed else _record)


def _record_after(signum: int, frame) -> None:
    global _after_commit
    if _after_commit is None:
        _after_commit = signum


def committed() -> None:
    """The command's output is complete and in place (a run renamed into place, a ledger's
    lines appended). From here a signal no longer stops the command, which has only to print
    what it wrote: it is recorded (:func:`after_commit`), and the exit code stays the
    command's; 130 would say "nothing written" of output that was. A no-op outside
    :func:`handled` (a notebook)."""
    global _committed
    if _handling and threading.current_thread() is threading.main_thread():
        _committed = True
        for s in SIGNALS:
            signal.signal(s, _record_after)


def after_commit() -> int | None:
    """The signal received once the output was in place (:func:`committed`), if any."""
    return _after_commit


def ignore_in_child() -> None:
    """For a worker process forked from a command: leave SIGINT to the parent (a Ctrl-C reaches
    the whole process group; the parent stops its workers itself) and take SIGTERM's default."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
