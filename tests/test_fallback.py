"""A run never fails because the fast path cannot be set up: should starting the background
compile, compiling with the lean nutpie callbacks or registering the likelihood's kernel fail
with the library versions in range, the run says so once ("fast path unavailable: <reason>;
using the plain PyMC/nutpie path"), takes the plain path for the rest of the process, and gives
the plain path's numbers."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import pytest

from forecast.compiled import c_entry, callbacks, precompile, runtime

from .conftest import summary_values, write_scenario

UNAVAILABLE = "fast path unavailable"

#: X (measured for eight years) drives Y a year later; one strategy, one question.
TINY = {
    "scenario": {"name": "tiny", "history_start": 2010, "start_year": 2018, "horizon": 2020, "seed": 3},
    "nodes": {"X": {"label": "X", "role": "lever"},
              "Y": {"label": "Y", "role": "outcome", "desirable": "higher"}},
    "claims": [{"id": "x_to_y", "cause": "X", "effect": "Y", "lag": 1, "quote": "X drives Y",
                "prior": {"dist": "Normal", "mu": 0.5, "sigma": 0.2}}],
    "indicators": {"x_obs": {"label": "X observed", "node": "X", "file": "x.csv", "column": "value",
                             "source": "test"}},
    "strategies": [{"id": "as_is", "label": "As is", "baseline": True}],
    "questions": [{"id": "y_high", "text": "Is Y above 50 in 2020?", "subject": "Y", "year": 2020,
                   "comparison": "above", "threshold": 50}],
}
X_VALUES = [1.0, 1.4, 1.1, 1.9, 2.2, 2.0, 2.6, 2.9]


def tiny_scenario(directory: Path) -> Path:
    """The tiny scenario, its history integrated out (the likelihood's kernel is used)."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{year},{value},test\n" for year, value in zip(range(2010, 2018), X_VALUES))
    (directory / "x.csv").write_text("year,value,source\n" + rows, encoding="utf-8")
    return write_scenario(directory, TINY)


@pytest.fixture
def fresh_path(monkeypatch):
    """This process's path decided anew for the test (the fast one, with the installed
    versions), and its own path back after it."""
    monkeypatch.delenv(runtime.ENVIRONMENT, raising=False)
    monkeypatch.setattr(runtime, "_unavailable", None)
    monkeypatch.setattr(runtime, "_told", False)
    runtime.path.cache_clear()
    yield
    runtime.path.cache_clear()


@contextmanager
def said():
    """The warnings given in the block, as text (every one recorded, none raised)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        told: list[str] = []
        yield told
    told.extend(str(w.message) for w in caught)


def run_tiny(directory: Path):
    from forecast import SamplerSettings, run_scenario

    settings = SamplerSettings(draws=50, tune=50, chains=1, seed=1, progress=False)
    return run_scenario(tiny_scenario(directory), settings, out=directory / "run", report=False)


def kernel_registration_fails() -> None:
    raise RuntimeError("the kernel's C entry did not compile")


def lean_callbacks_fail(nutpie_own):
    def make(*args, **kwargs):  # as with a nutpie whose private callback builders moved
        raise AttributeError("module 'nutpie.compile_pymc' has no attribute '_make_c_logp_func'")

    return make


# --- Said once, at the step that failed, without sampling -----------------------------------


def test_a_kernel_that_cannot_be_registered_before_pymcs_sampler_means_the_plain_path(
        fresh_path, monkeypatch, tmp_path) -> None:
    from forecast.model.build import build_model
    from forecast.scenario import load_scenario

    monkeypatch.setattr(c_entry, "register_kernel", kernel_registration_fails)
    model = build_model(load_scenario(tiny_scenario(tmp_path)))
    assert runtime.path().fast
    with said() as told:
        runtime.prepare_for_pymc(model)
        runtime.prepare_for_pymc(model)
    assert told == ["forecast: fast path unavailable: RuntimeError: the kernel's C entry did not compile; "
                    "using the plain PyMC/nutpie path (same results, slower compile)"]
    assert runtime.path() == runtime.Path(False, "RuntimeError: the kernel's C entry did not compile")


def test_a_background_compile_that_cannot_start_means_the_plain_path(fresh_path, monkeypatch) -> None:
    def no_process(*args, **kwargs):
        raise OSError("cannot allocate memory for a new process")

    monkeypatch.setattr(precompile, "BACKGROUND", precompile.BackgroundCompile())  # none started yet
    monkeypatch.setattr(precompile.subprocess, "Popen", no_process)
    with said() as told:
        runtime.start_background_compile()
        runtime.start_background_compile()
    assert [t for t in told if UNAVAILABLE in t] == [
        "forecast: fast path unavailable: OSError: cannot allocate memory for a new process; "
        "using the plain PyMC/nutpie path (same results, slower compile)"]
    assert not runtime.path().fast


# --- End to end: the run completes with the plain path's numbers ------------------------------


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    """The tiny scenario run on the plain path, asked for by the environment: the numbers a
    fallen-back run must give."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(runtime.ENVIRONMENT, "plain")
        mp.setattr(runtime, "_unavailable", None)
        mp.setattr(runtime, "_told", False)
        runtime.path.cache_clear()
        try:
            with said():
                run = run_tiny(tmp_path_factory.mktemp("plain"))
        finally:
            runtime.path.cache_clear()
    return summary_values(run.path / "summary.json")


@pytest.mark.slow
@pytest.mark.parametrize("failure", ["kernel registration", "lean callbacks"])
def test_a_run_whose_fast_path_fails_completes_on_the_plain_path_and_says_so_once(
        failure, fresh_path, monkeypatch, tmp_path, plain_run) -> None:
    if failure == "kernel registration":
        monkeypatch.setattr(c_entry, "register_kernel", kernel_registration_fails)
        reason = "RuntimeError: the kernel's C entry did not compile"
    else:
        monkeypatch.setattr(callbacks, "_logp_callback", lean_callbacks_fail)
        reason = "AttributeError: module 'nutpie.compile_pymc' has no attribute '_make_c_logp_func'"
    assert runtime.path().fast
    with said() as told:
        run = run_tiny(tmp_path)
    assert [t for t in told if UNAVAILABLE in t or "fast path off" in t] == [
        f"forecast: fast path unavailable: {reason}; using the plain PyMC/nutpie path (same results, slower compile)"]
    assert summary_values(run.path / "summary.json") == plain_run
