"""Set-up of each local Dask worker process (a Dask preload: Dask calls :func:`dask_setup`).

Ctrl-C in a terminal signals the whole foreground process group, the local workers too. The
command itself stops on it (exit 130, :mod:`forecast.interrupts`) and closes its cluster; a
worker that also took the signal printed two tracebacks of its own (asyncio's
``CancelledError`` and ``KeyboardInterrupt``) over the command's one-line message. So a local
worker process leaves SIGINT to the command. SIGTERM still stops it, as the cluster's close
does.
"""

from __future__ import annotations

import signal
import threading


def dask_setup(worker) -> None:
    """Ignore SIGINT in a worker that runs in its own process (its main thread); a worker
    running in a thread of the command's own process (the tests' in-process cluster) is left
    alone: the command's handler is the one there."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
