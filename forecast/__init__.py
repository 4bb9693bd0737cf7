"""forecast: Bayesian scenario forecasting from causal claims.

The flow, one package per stage: :mod:`forecast.scenario` (scenario file -> validated
scenario) -> :mod:`forecast.model` (PyMC model of the history; its Ops and kernels in
:mod:`forecast.compiled`) -> :mod:`forecast.posterior` (sampling, diagnostics, the history) ->
:mod:`forecast.forecasts` (counterfactual forecasts per strategy, the questions' answers) ->
:mod:`forecast.results` (run directory) -> :mod:`forecast.report` (HTML), orchestrated by
:mod:`forecast.pipeline` and driven by :mod:`forecast.cli`. ``docs/architecture.md`` maps the
modules.
"""

from __future__ import annotations

import os

from platformdirs import user_cache_dir


def _compile_cache() -> None:
    """Share the compile caches across runs, in the user's cache dir: PyTensor's (its numba
    kernels included) and numba's own (the kernels of :mod:`forecast.compiled`).

    Set before PyTensor or numba is imported; a user's own ``base_compiledir`` or
    ``NUMBA_CACHE_DIR`` wins.
    """
    root = user_cache_dir("forecast")
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    if "base_compiledir" not in flags:
        os.environ["PYTENSOR_FLAGS"] = ",".join(x for x in (flags, f"base_compiledir={root}/pytensor") if x)
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(root, "numba"))


_compile_cache()

from forecast.scenario import Scenario, ScenarioError, load_scenario  # noqa: E402
from forecast.settings import SamplerSettings  # noqa: E402

__all__ = ["Scenario", "ScenarioError", "load_scenario", "SamplerSettings", "run_scenario", "load_run"]


def __getattr__(name: str):
    # Heavy imports (PyMC) only when the pipeline is used.
    if name == "run_scenario":
        from forecast.pipeline import run_scenario

        return run_scenario
    if name == "load_run":
        from forecast.results.store import load_run

        return load_run
    raise AttributeError(name)
