"""Compile the likelihood's kernel in a child process while this one goes on.

On an empty compile cache, the Kalman kernel's C entry (:func:`forecast.kalman.register_kernel`)
is ~15 s of numba and LLVM work that depends on nothing in the scenario. A run
(:func:`forecast.pipeline.run_scenario`; ``forecast run`` starts it before its own imports)
starts a child process that compiles the kernel into numba's disk cache, on the second core,
while the run imports PyMC, validates the scenario and compiles the rest of the model, whose
code calls the kernel through an address filled in later. Before sampling, the run waits for
the child and loads the kernel from the cache. With a warm cache the child only loads it
(about 2 s, mostly imports). If the child fails, the run compiles the kernel itself.
"""

from __future__ import annotations

import atexit
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_CODE = "from forecast.kalman import register_kernel; register_kernel()"
_child: subprocess.Popen | None = None
_registered = False  # this process has the kernel (forecast.kalman.register_kernel)
_deferring = False


def start() -> None:
    """Start the child, unless one was started or this process has the kernel already."""
    global _child
    if _child is None and not _registered:
        _child = subprocess.Popen([sys.executable, "-c", _CODE], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        atexit.register(stop)


def pending() -> bool:
    """Whether a child is still compiling."""
    return _child is not None and _child.poll() is None


@contextmanager
def deferring() -> Iterator[None]:
    """While active, a model compiled while the child still runs leaves the kernel's address
    empty: the caller (:func:`forecast.inference.sample_posterior`) registers the kernel
    before the model runs. Anywhere else a compile registers it first (waiting for the
    child), so no compiled model is ever called with the address empty."""
    global _deferring
    _deferring = True
    try:
        yield
    finally:
        _deferring = False


def may_defer() -> bool:
    """Whether a compile now may leave the kernel for later (see :func:`deferring`)."""
    return _deferring and pending()


def wait() -> None:
    """Wait for the child, if one was started, so that the kernel is in the cache."""
    if _child is not None:
        _child.wait()  # at once when it has finished


def registered() -> None:
    """Note that this process has the kernel: a later run needs no child."""
    global _registered
    _registered = True


def stop() -> None:
    """At exit (a bad scenario, a run whose history is sampled), a child still compiling is
    not needed any more. numba writes its cache files whole, so stopping it is safe."""
    if _child is not None and _child.poll() is None:
        _child.terminate()
        _child.wait()
