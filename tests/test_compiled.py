"""The one door to the compiled machinery: the fast path only for the library versions it was
tested with, the plain path otherwise, with the same density and gradient, said once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest

from forecast.compiled import runtime

from .conftest import DEFAULT_SCENARIO, ROOT


@pytest.fixture
def fresh_path(monkeypatch):
    """runtime.path() decided anew under the test's environment, and again after it."""
    runtime.path.cache_clear()
    yield
    runtime.path.cache_clear()


def test_the_installed_versions_are_the_tested_ones(fresh_path) -> None:
    """The upper bounds in pyproject.toml keep a fresh install on the fast path."""
    assert runtime.path().fast, runtime.path().reason


def test_an_untested_version_takes_the_plain_path_and_says_which(fresh_path, monkeypatch) -> None:
    real = metadata.version
    monkeypatch.setattr(runtime.metadata, "version", lambda p: "0.99.1" if p == "nutpie" else real(p))
    path = runtime.path()
    assert not path.fast
    assert "nutpie 0.99 outside the tested versions" in path.reason


def test_the_environment_can_ask_for_the_plain_path(fresh_path, monkeypatch) -> None:
    monkeypatch.setenv(runtime.ENVIRONMENT, "plain")
    assert runtime.path() == runtime.Path(False, "FORECAST_COMPILED=plain")


def test_the_plain_path_is_said_once(fresh_path, monkeypatch) -> None:
    monkeypatch.setenv(runtime.ENVIRONMENT, "plain")
    monkeypatch.setattr(runtime, "_told", False)
    with pytest.warns(RuntimeWarning, match="plain path"):
        runtime.tell_once()
    runtime.tell_once()  # no second warning (warnings are errors in these tests)


def test_every_library_the_fast_path_relies_on_is_bounded_in_pyproject() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for package, tested in runtime.TESTED.items():
        major, minor = tested[-1].split(".")
        assert f'"{package}>=' in text and f"<{major}.{int(minor) + 1}" in text, package


# Run in fresh interpreters: the path is decided once per process, when the Ops register.
_DENSITY = """
import json, sys
import numpy as np
import numba
from forecast.compiled import runtime
from forecast.model.build import build_model
from forecast.scenario import load_scenario

model = build_model(load_scenario(sys.argv[1]))
compiled = runtime.compile_for_nutpie(model)
callback = compiled.compiled_logp_func

@numba.njit
def evaluate(x, grad, logp, user_data):
    return callback(np.uint64(x.size), x.ctypes, grad.ctypes, logp.ctypes, user_data.ctypes)

out = []
for seed in range(3):
    x = np.ascontiguousarray(compiled.initial_point_func(seed), dtype=np.float64)
    grad, logp = np.empty_like(x), np.empty(1)
    assert evaluate(x, grad, logp, compiled.user_data) == 0
    out.append([float(logp[0]), *grad.tolist()])
print(json.dumps({"fast": runtime.path().fast, "values": out}))
"""


def _density(plain: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k != runtime.ENVIRONMENT}
    if plain:
        env[runtime.ENVIRONMENT] = "plain"
    done = subprocess.run([sys.executable, "-W", "ignore::RuntimeWarning", "-c", _DENSITY, str(DEFAULT_SCENARIO)],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
def test_the_plain_path_gives_the_fast_paths_density_and_gradient() -> None:
    fast, plain = _density(plain=False), _density(plain=True)
    assert fast["fast"] and not plain["fast"]
    np.testing.assert_allclose(plain["values"], fast["values"], rtol=1e-12, atol=1e-12)
