"""Compile the likelihood's kernel in a child process while this one goes on (the fast path).

On an empty compile cache, the kernel's C entry (:func:`forecast.compiled.c_entry.register_kernel`)
is ~15 s of numba and LLVM work that depends on nothing in the scenario. A run
(:func:`forecast.compiled.runtime.start_background_compile`, which ``forecast run`` calls
before its own imports) starts a child process that compiles the kernel into numba's disk
cache, on the second core, while the run imports PyMC, validates the scenario and compiles
the rest of the model, whose code calls the kernel through an address filled in later.
Before sampling, the run waits for the child and loads the kernel from the cache. With a warm
cache the child only loads it (about 2 s, mostly imports). If the child fails, the run
compiles the kernel itself. The child then compiles the forecasts' kernel
(:func:`forecast.compiled.forward.compile_ahead`, about 3.5 s on an empty cache).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_CODE = "from forecast.compiled.precompile import child; child({parent})"


def child(parent: int) -> None:
    """The child's work: compile the kernel into the cache. It ends with its parent: a Ctrl-C is
    left to the parent, which stops the child itself, and on Linux the kernel ends the child
    if the parent is killed outright (SIGKILL), instead of leaving it to compile for no one."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the line above
        return
    from forecast.compiled.c_entry import register_kernel
    from forecast.compiled.forward import compile_ahead

    register_kernel()
    compile_ahead()  # the forecasts' kernel too: the run loads it after sampling


class BackgroundCompile:
    """The child compiling the kernel, and whether this process has the kernel already."""

    def __init__(self) -> None:
        self._child: subprocess.Popen | None = None
        self._registered = False
        self._deferring = False

    def start(self) -> None:
        """Start the child, unless one was started or this process has the kernel already."""
        if self._child is None and not self._registered:
            self._child = subprocess.Popen([sys.executable, "-c", _CODE.format(parent=os.getpid())],
                                           stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            atexit.register(self.stop)

    def pending(self) -> bool:
        """Whether a child is still compiling."""
        return self._child is not None and self._child.poll() is None

    @contextmanager
    def deferring(self) -> Iterator[None]:
        """While active, a model compiled while the child still runs leaves the kernel's address
        empty: the caller (:func:`forecast.compiled.runtime.compile_for_nutpie`) registers the
        kernel before the model runs. Anywhere else a compile registers it first (waiting for
        the child), so no compiled model is ever called with the address empty."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False

    def may_defer(self) -> bool:
        """Whether a compile now may leave the kernel for later (see :meth:`deferring`)."""
        return self._deferring and self.pending()

    def wait(self) -> None:
        """Wait for the child, if one was started, so that the kernel is in the cache."""
        if self._child is not None:
            self._child.wait()  # at once when it has finished

    def registered(self) -> None:
        """Note that this process has the kernel: a later run needs no child."""
        self._registered = True

    def stop(self) -> None:
        """At exit (a bad scenario, a run whose history is sampled), a child still compiling is
        not needed any more. numba writes its cache files whole, so stopping it is safe."""
        if self._child is not None and self._child.poll() is None:
            self._child.terminate()
            self._child.wait()


#: This process's background compile (one kernel, one child at most).
BACKGROUND = BackgroundCompile()
