"""The one door to the compiled machinery: what the rest of the package calls to compile and
run a model, and the choice between the fast path and the plain one.

The rest of the package imports nothing else from :mod:`forecast.compiled`: the Ops and kernels
it builds models and forecasts with are re-exported here (:data:`EXPORTED`), each module
imported on first use, so that importing this module stays cheap (the command line imports it
first, to start the background compile before its own heavy imports). A name taken from here
is the kernel itself, not a wrapper: no cost per call.

The fast path leans on other libraries' internals, each checked for the versions in
:data:`TESTED`:

* the likelihood's kernel is a C entry called through an address that an LLVM symbol holds
  (:mod:`forecast.compiled.c_entry`), compiled in a child process while the run goes on
  (:mod:`forecast.compiled.precompile`);
* nutpie's C callbacks are replaced by lean ones cached on disk, built with nutpie's private
  ``_make_c_*`` functions, its user-data layout and PyTensor's numba cache
  (:mod:`forecast.compiled.callbacks`).

The plain path uses public interfaces only: the same numba kernels, called directly from the
Ops' numba code, and nutpie's own callbacks. It computes the same density and gradient (tests
hold both paths to each other), with a slower cold compile. A run takes it, and says so once:

* when an installed version is outside :data:`TESTED`, or ``FORECAST_COMPILED=plain`` asks for
  it (decided once, before anything compiles);
* when setting up the fast path fails in this process (starting the child, compiling with the
  lean callbacks, registering the kernel): the failure is caught there, the model compiled
  again on the plain path, and the rest of the process stays on it.

Should PyTensor's numba dispatch itself be missing, the Ops fall back to their Python
``perform`` (slow, but a run still works).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import import_module, metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forecast.compiled.evidence_op import KalmanEvidence, evidence_logp
    from forecast.compiled.forward import as_argument, forward
    from forecast.compiled.join import join_vectors
    from forecast.compiled.kalman import predictions, solve_evidence

#: What the rest of the package takes from the compiled modules, through this door: name ->
#: the module under :mod:`forecast.compiled` that defines it.
EXPORTED: dict[str, str] = {
    "KalmanEvidence": "evidence_op",  # the likelihood's Op (model.build)
    "evidence_logp": "evidence_op",
    "join_vectors": "join",  # the priors' join (model.build)
    "forward": "forward",  # the forecasts' yearly step (model.dynamics)
    "as_argument": "forward",
    "solve_evidence": "kalman",  # the filter's NumPy entries (posterior.history, backtest.hindcast)
    "predictions": "kalman",
}

__all__ = ["TESTED", "ENVIRONMENT", "EXPORTED", "Path", "path", "tell_once", "start_background_compile",
           "stop_background_compile", "compile_for_nutpie", "prepare_for_pymc", "uses_kalman_evidence",
           "log_density", "KalmanEvidence", "evidence_logp", "join_vectors", "forward", "as_argument",
           "solve_evidence", "predictions"]


def __getattr__(name: str) -> Any:
    """A name of :data:`EXPORTED`, its module imported now; kept here, so that the next lookup
    is an ordinary module attribute."""
    module = EXPORTED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"forecast.compiled.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(EXPORTED))


#: Library versions (major.minor) whose internals the fast path was checked against. The
#: upper bounds in pyproject.toml match.
TESTED: dict[str, tuple[str, ...]] = {
    "nutpie": ("0.16",),
    "pytensor": ("3.3",),
    "numba": ("0.68",),
    "llvmlite": ("0.50",),
}

#: Set to "plain" to take the plain path whatever the versions (for comparison or debugging).
ENVIRONMENT = "FORECAST_COMPILED"


@dataclass(frozen=True)
class Path:
    """Which path this process takes, and why."""

    fast: bool
    reason: str


def _minor(package: str) -> str | None:
    try:
        return ".".join(metadata.version(package).split(".")[:2])
    except metadata.PackageNotFoundError:
        return None


#: Why setting up the fast path failed in this process (None while it has not).
_unavailable: str | None = None


@cache
def path() -> Path:
    """The path this process takes: decided at its first use, and changed once at most, to the
    plain path, should setting up the fast one fail."""
    if _unavailable is not None:
        return Path(False, _unavailable)
    if os.environ.get(ENVIRONMENT, "").strip().lower() == "plain":
        return Path(False, f"{ENVIRONMENT}=plain")
    untested = [f"{p} {v}" for p, tested in TESTED.items() if (v := _minor(p)) not in tested]
    if untested:
        return Path(False, f"{', '.join(untested)} outside the tested versions "
                           f"({', '.join(f'{p} {t[-1]}' for p, t in TESTED.items())})")
    return Path(True, "")


_told = False


def tell_once() -> None:
    """Say once per process that the plain path is taken, and why (a warning: the numbers are
    the same, only the compile is slower)."""
    global _told
    if not path().fast and not _told:
        _told = True
        warnings.warn(f"forecast: compiled fast path off ({path().reason}); using the plain path: "
                      "same results, slower compile", RuntimeWarning, stacklevel=2)


def _fall_back(error: Exception) -> None:
    """Setting up the fast path failed: the plain path for the rest of this process, said once.
    A child still compiling the kernel is stopped (the plain path does not call it)."""
    global _unavailable, _told
    _unavailable = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    path.cache_clear()
    stop_background_compile()
    if not _told:
        _told = True
        warnings.warn(f"forecast: fast path unavailable: {_unavailable}; using the plain PyMC/nutpie path "
                      "(same results, slower compile)", RuntimeWarning, stacklevel=3)


def start_background_compile() -> None:
    """On the fast path, start compiling the likelihood's kernel in a child process now, so
    that it overlaps imports, validation and the rest of the model's compile."""
    if path().fast:
        from forecast.compiled.precompile import BACKGROUND

        try:
            BACKGROUND.start()
        except Exception as error:  # noqa: BLE001 - the plain path needs no child
            _fall_back(error)


def stop_background_compile() -> None:
    """Stop a child still compiling (the command is done, or the fast path was given up; numba
    writes whole cache files)."""
    from forecast.compiled.precompile import BACKGROUND

    BACKGROUND.stop()


def compile_for_nutpie(model, progress=None):
    """The model's log density and gradient compiled for nutpie (numba), as a run compiles it:
    on the fast path with the lean callbacks, and, when the history is integrated out, the
    likelihood's kernel registered (its code calls the kernel at an address filled in here,
    after the child compiling it). Should that fail, compiled again on the plain path."""
    import nutpie

    from forecast.progress import shown

    tell_once()
    with shown(progress, "compile"):
        if path().fast:
            try:
                return _compile_fast(model)
            except Exception as error:  # noqa: BLE001 - the plain path below, said once
                _fall_back(error)
        return nutpie.compile_pymc_model(model, backend="numba")


def _compile_fast(model):
    import nutpie

    from forecast.compiled.callbacks import lean_callbacks
    from forecast.compiled.precompile import BACKGROUND

    kernel = uses_kalman_evidence(model)
    if kernel:
        _kernel_symbol()
    with lean_callbacks() as options, BACKGROUND.deferring():
        compiled = nutpie.compile_pymc_model(model, backend="numba", **options)
        if kernel:
            _register_kernel()
    return compiled


def prepare_for_pymc(model) -> None:
    """Before PyMC's own sampler compiles and runs ``model``: on the fast path, the kernel's
    address in place (or, should that fail, the plain path for the compile to come)."""
    tell_once()
    if path().fast and uses_kalman_evidence(model):
        try:
            _kernel_symbol()
            _register_kernel()
        except Exception as error:  # noqa: BLE001 - PyMC then compiles the plain path
            _fall_back(error)


def _kernel_symbol() -> None:
    """Make the kernel's slot known to LLVM, before any code that calls through it is compiled
    or loaded from a cache (idempotent; the Op's fast-path code does it too, for compiles that
    do not come through here)."""
    from forecast.compiled.c_entry import SLOT

    SLOT.add_symbol()


def _register_kernel() -> None:
    from forecast.compiled import c_entry

    c_entry.register_kernel()


def uses_kalman_evidence(model) -> bool:
    """Whether the model's density calls the likelihood's kernel (its history integrated out)."""
    from pytensor.graph.traversal import ancestors

    from forecast.compiled.evidence_op import KalmanEvidence

    outputs = list(model.potentials) + list(model.observed_RVs)
    return any(v.owner is not None and isinstance(v.owner.op, KalmanEvidence) for v in ancestors(outputs))


def log_density(compiled) -> Callable:
    """The sampler's log density on its unconstrained space (Jacobians of the transforms
    included) for rows of points, with ``compiled``'s scenario numbers: nutpie's own C
    callback, called through ctypes at its address with the model's user data (what each
    leapfrog step calls; no compile). A point where the callback fails or the value is not
    finite gets -inf. nutpie's compiled model keeps the callback and the user data on both
    paths (its versions are bounded, :data:`TESTED`)."""
    import ctypes

    import numpy as np

    fn = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                          ctypes.c_void_p)(compiled.compiled_logp_func.address)
    dim = int(compiled.n_dim)

    def evaluate(points: np.ndarray) -> np.ndarray:
        points = np.ascontiguousarray(np.atleast_2d(points), dtype=np.float64)
        if points.shape[1] != dim:
            raise ValueError(f"points of dimension {points.shape[1]}, the model has {dim}")
        grad, value = np.empty(dim), np.empty(1)
        base, step = points.ctypes.data, 8 * dim
        g, v, user = grad.ctypes.data, value.ctypes.data, compiled.user_data.ctypes.data
        out = np.empty(len(points))
        for i in range(len(points)):
            ok = fn(dim, base + step * i, g, v, user) == 0
            out[i] = value[0] if ok and np.isfinite(value[0]) else -np.inf
        return out

    return evaluate
