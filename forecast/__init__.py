"""forecast: Bayesian scenario forecasting from causal claims.

The flow, one package per stage: :mod:`forecast.scenario` (scenario file -> validated
scenario) -> :mod:`forecast.model` (PyMC model of the history; its Ops and kernels in
:mod:`forecast.compiled`) -> :mod:`forecast.posterior` (sampling, diagnostics, the history) ->
:mod:`forecast.forecasts` (counterfactual forecasts per strategy, the questions' answers) ->
:mod:`forecast.results` (run directory) -> :mod:`forecast.report` (HTML), orchestrated by
:mod:`forecast.pipeline` and driven by :mod:`forecast.cli`. Once questions resolve,
:mod:`forecast.scoring` scores a run against what happened and keeps a ledger.
``docs/architecture.md`` maps the modules.
"""

from __future__ import annotations

import os
from hashlib import sha256
from pathlib import Path

from platformdirs import user_cache_dir


def _compile_settings() -> None:
    """How PyTensor and numba compile, set when this package is imported (a user's own setting
    of each wins). Import it before PyTensor (PyMC) or numba (nutpie): PyTensor reads its flags
    once, when it is imported; numba's cache folder is read again when
    :mod:`forecast.compiled.numba_ops` loads, so the kernels' caches land here either way.

    * the compile caches are shared across runs, in the user's cache dir: PyTensor's (its
      numba kernels included) and numba's own (the kernels of :mod:`forecast.compiled`).
      numba keys a cached kernel by its own file and bytecode, not by the flags it was
      compiled with, which :mod:`forecast.compiled.numba_ops` sets: numba's folder is named
      after that file's hash, so that a change of flags (a ``git pull``) never runs kernels
      compiled with the old ones;
    * PyTensor's numba code is compiled without fast-math. With it, a graph compiled anew and
      the same graph loaded from the cache could differ in the last bit of the log density
      (LLVM may reassociate sums differently across inlined and cached functions), enough for
      a chain to take another path: the same seed then gave other numbers with a cold cache
      than with a warm one. Without it they agree exactly, at no measured cost. The kernels
      of :mod:`forecast.compiled` are compiled without it too, for the same reason
      (:data:`forecast.compiled.numba_ops.FASTMATH`).
    """
    root = user_cache_dir("forecast")
    flags_version = sha256((Path(__file__).parent / "compiled" / "numba_ops.py").read_bytes()).hexdigest()[:12]
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    ours = [f"base_compiledir={root}/pytensor" if "base_compiledir" not in flags else "",
            "numba__fastmath=False" if "numba__fastmath" not in flags else ""]
    os.environ["PYTENSOR_FLAGS"] = ",".join(x for x in (flags, *ours) if x)
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(root, "numba", flags_version))


_compile_settings()

__all__ = ["ForecastError", "ScenarioWarning", "SamplerWarning", "Scenario", "ScenarioError", "load_scenario",
           "SamplerSettings", "run_scenario", "load_run", "score_run"]

#: Where each name of the package's API lives. Imported when first used (PEP 562), so that
#: ``import forecast`` stays light: the executable puts its signal handlers in place before
#: NumPy or PyMC load (:mod:`forecast.__main__`).
_API = {"ForecastError": "forecast.errors", "ScenarioWarning": "forecast.errors", "SamplerWarning": "forecast.errors",
        "Scenario": "forecast.scenario", "ScenarioError": "forecast.scenario", "load_scenario": "forecast.scenario",
        "SamplerSettings": "forecast.settings", "run_scenario": "forecast.pipeline",
        "load_run": "forecast.results.store", "score_run": "forecast.scoring.score"}


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'forecast' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(_API[name]), name)


def __dir__() -> list[str]:
    """The API (its names load lazily, so ``globals()`` alone would miss them) for
    ``dir(forecast)`` and a notebook's completion, without the helpers this module imports."""
    return sorted(set(__all__) | {n for n in globals() if n.startswith("__")})
