"""Running many fits at once: one task per variant (or simulation), on Dask or in this process.

Where it runs:

* ``workers=0``: in this process, one task after the other (what the tests compare against);
* ``workers=N``: a Dask ``LocalCluster`` of N worker processes, one thread each (each fit
  already runs its chains in threads of its own);
* ``scheduler="tcp://HOST:PORT"``: an existing Dask cluster (``dask scheduler`` and ``dask
  worker`` on each machine, or any of dask's deployers); the workers need this package
  installed and the scenario files at the same paths.

The compiled model does not travel: **each worker compiles once per model structure** and
keeps it (:func:`compiled_for`); variants that change only numbers swap them into that model
(:class:`forecast.posterior.sampling.CompiledModel`), with no recompile. On one machine the
workers also share PyTensor's and numba's on-disk caches, so a worker's first compile is a
warm one after the first run. A task returns a small dict (its answers and diagnostics), so
the scheduler moves kilobytes, not draws.

Tasks are seeded, not scheduled: a variant's numbers depend on its seed only, so they are the
same on one worker, many workers, or none.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forecast.errors import ForecastError

#: Per process: structure key -> compiled model (see the module docstring).
_COMPILED: dict[Any, Any] = {}


def compiled_for(scenario, key: Any, sampler: str) -> tuple[Any, bool]:
    """This process's compiled model for ``key`` (a model structure), compiling it the first
    time; and whether it was compiled now."""
    from forecast.model.build import build_model
    from forecast.posterior.sampling import CompiledModel

    found = _COMPILED.get((key, sampler))
    if found is not None:
        return found, False
    compiled = CompiledModel.compile(build_model(scenario), sampler)
    _COMPILED[(key, sampler)] = compiled
    return compiled, True


@dataclass(frozen=True)
class Cluster:
    """Where tasks run: ``workers`` local processes (0: this process) or a ``scheduler``;
    ``processes=False`` makes the local cluster's workers threads of this process (the tests'
    in-process ``LocalCluster``)."""

    workers: int = 0
    scheduler: str | None = None
    processes: bool = True

    @property
    def local(self) -> bool:
        return self.workers == 0 and self.scheduler is None


def run_tasks(fn: Callable[[Any], dict], tasks: list[Any], cluster: Cluster,
              on_done: Callable[[Any, dict], None]) -> None:
    """Run ``fn`` on every task; ``on_done(task, result)`` in this process as each finishes
    (in completion order), so that finished results are kept even if the rest is interrupted.
    A task that raises yields ``{"error": ...}`` instead of stopping the others."""
    if cluster.local:
        for task in tasks:
            on_done(task, guarded(fn, task))
        return
    with _client(cluster) as client:
        from distributed import as_completed

        futures = {client.submit(guarded, fn, task, key=f"forecast-{_key(task)}-{os.getpid()}", pure=False): task
                   for task in tasks}
        try:
            for future in as_completed(futures):
                on_done(futures[future], future.result())
        finally:
            client.cancel(list(futures))


def guarded(fn: Callable[[Any], dict], task: Any) -> dict:
    """``fn(task)``, or the error it raised as a result (a failed variant is recorded and the
    sweep goes on); a keyboard interrupt still stops everything."""
    start = time.perf_counter()
    try:
        out = fn(task)
    except Exception as exc:  # noqa: BLE001 - recorded with its type and message, never swallowed silently
        from forecast.posterior.sampling import failure_text

        out = {"error": failure_text(exc)}
    out.setdefault("seconds", round(time.perf_counter() - start, 2))
    out.setdefault("worker", os.getpid())
    return out


def _key(task: Any) -> str:
    return str(getattr(task, "index", id(task)))


class ClusterError(ForecastError, RuntimeError):
    """The cluster cannot be reached or started: a bad input of the command (exit 1), said
    with what to do, never a traceback."""


#: The protocols of a --scheduler address this command connects with: plain ones, without the
#: security configuration tls needs (and the extra packages ucx does).
PROTOCOLS = ("tcp", "ws", "wss")
#: How long a client waits for the scheduler at --scheduler before it gives up.
CONNECT_TIMEOUT = "20s"


def scheduler_problem(address: str) -> str | None:
    """What is wrong with a --scheduler address, or None: Dask reads ``PROTOCOL://HOST:PORT``
    (``HOST:PORT`` means tcp), and a bad one fails deep inside its client."""
    from distributed.comm import parse_address, parse_host_port

    try:
        protocol, rest = parse_address(address)
        if protocol not in PROTOCOLS:
            raise ValueError(f"the protocol {protocol!r} is not one this command connects with "
                             f"({', '.join(PROTOCOLS)}; tls needs a security configuration it does not take)")
        if protocol == "tcp":
            parse_host_port(rest)
    except ValueError as exc:
        return f"--scheduler {address!r}: {exc}; give the scheduler's address, tcp://HOST:PORT, as `dask scheduler` " \
               "prints it"
    return None


class _client:
    """A Dask client for the cluster, closed (with its local cluster) on exit."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.local_cluster = None
        self.client = None

    def __enter__(self):
        from distributed import Client, LocalCluster

        if self.cluster.scheduler:
            try:
                self.client = Client(self.cluster.scheduler, timeout=CONNECT_TIMEOUT)
            except Exception as exc:  # noqa: BLE001 - any failure to connect is the address's, said without a trace
                raise ClusterError(f"cannot reach the Dask scheduler at {self.cluster.scheduler} "
                                   f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'}); "
                                   "start it (`dask scheduler`, then `dask worker ADDRESS` on each machine) or leave "
                                   "out --scheduler to run on local workers") from None
        else:
            # dashboard_address=":0": a free port. None still serves the scheduler's HTTP routes on
            # 8787, and a second sweep, or an analyst's own Dask dashboard, then made distributed
            # warn "Port 8787 is already in use" (an error under the tests' warnings-as-errors).
            self.local_cluster = LocalCluster(n_workers=self.cluster.workers, threads_per_worker=1,
                                              processes=self.cluster.processes,
                                              dashboard_address=":0", silence_logs=40,
                                              preload=["forecast.sweeps.worker"])  # Ctrl-C is the command's
            self.client = Client(self.local_cluster)
        return self.client

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        if self.local_cluster is not None:
            self.local_cluster.close()

