"""The likelihood's kernel is compiled once, apart from the model's graph, whose code calls it
through an address (forecast.compiled.c_entry, forecast.compiled.precompile): a run can compile the kernel in a
child process while it compiles the rest, and must then give the same density as ever."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

# In a fresh interpreter, so that this test process's kernel (registered by earlier tests) is
# not the one found. A sleeping process stands for a child still compiling the kernel.
_SCRIPT = """
import json, subprocess, sys
from contextlib import nullcontext
import numpy as np
import pytensor, pytensor.tensor as pt
from forecast.compiled.precompile import BACKGROUND
from forecast.scenario.graph import Graph
from forecast.compiled.c_entry import register_kernel
from forecast.compiled.evidence_op import INPUTS, KalmanEvidence, evidence_logp
from forecast.compiled.kalman import filtered_block
from forecast.scenario.graph import transition_support

deferring, child_seconds = sys.argv[1] == "deferring", float(sys.argv[2])
BACKGROUND._child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({child_seconds})"])
rng = np.random.default_rng(3)
graph = Graph.from_edges(4, [(3, 2, 0), (1, 2, 1), (0, 3, 0), (0, 1, 0), (2, 0, 1)])
year, node = rng.integers(0, 7, 11), rng.integers(0, 4, 11)
op = KalmanEvidence.of(graph, rng.integers(0, 3, 11), np.array([1.0, -1.0, 1.0]), year, node)
kept, _ = filtered_block(transition_support(graph), node)
numbers = {"phi": rng.uniform(0.2, 0.9, 4), "sigma": rng.uniform(0.1, 1, 4), "omega": rng.uniform(0.05, 0.5, 4),
           "beta": rng.normal(0, 0.7, 5), "s0": rng.uniform(0.3, 2, 4), "drift_var": rng.uniform(0.01, 0.2, 4),
           "mu": rng.normal(size=4), "intercept": rng.normal(size=3), "loading": rng.uniform(0.5, 2, 3),
           "noise": rng.uniform(0.2, 0.6, 3), "lam": rng.gamma(2.0, 0.5, 6 * 2 * len(kept)),
           "z": rng.normal(size=11), "observed": np.ones(11)}
v = [pt.vector(k) for k in INPUTS]
logp = evidence_logp(op, **dict(zip(INPUTS, v)))
vals = [numbers[k] for k in INPUTS]
with BACKGROUND.deferring() if deferring else nullcontext():
    compiled = pytensor.function(v, logp, mode="NUMBA")
before = float(compiled(*vals))
BACKGROUND._child.kill()
register_kernel()
after = float(compiled(*vals))
python = float(pytensor.function(v, logp, mode="FAST_COMPILE")(*vals))
print(json.dumps([before, after, python]))
"""


def _run(mode: str, child_seconds: float) -> tuple[float, float, float]:
    done = subprocess.run([sys.executable, "-c", _SCRIPT, mode, str(child_seconds)], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return tuple(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.slow
def test_a_graph_the_sampler_compiles_before_its_kernel_has_no_density_until_it_is_registered() -> None:
    before, after, python = _run("deferring", 120)
    assert np.isnan(before), "a call before the kernel is registered must not reach an empty address"
    assert after == pytest.approx(python, rel=1e-12)


@pytest.mark.slow
def test_any_other_compile_waits_for_the_child_and_registers_the_kernel_first() -> None:
    before, after, python = _run("plain", 2)
    assert before == after == pytest.approx(python, rel=1e-12)


# A fresh interpreter, whose imports alone must leave LLVM's symbol table as it was.
_IMPORT_THEN_COMPILE = """
import json
import llvmlite.binding as llvm
import numpy as np, pytensor, pytensor.tensor as pt
from forecast.compiled.c_entry import SLOT
from forecast.compiled.evidence_op import INPUTS, KalmanEvidence, evidence_logp
from forecast.compiled.kalman import filtered_block
from forecast.scenario.graph import Graph, transition_support

after_imports = llvm.address_of_symbol(SLOT.name)
graph = Graph.from_edges(2, [(0, 1, 0)])
year, node = np.array([0, 1, 2, 2]), np.array([0, 0, 1, 0])
op = KalmanEvidence.of(graph, np.array([0, 0, 1, 0]), np.array([1.0, -1.0]), year, node)
kept, _ = filtered_block(transition_support(graph), node)
numbers = {"phi": [0.5, 0.7], "sigma": [0.4, 0.3], "omega": [0.1, 0.2], "beta": [0.6], "s0": [1.0, 0.8],
           "drift_var": [0.05, 0.1], "mu": [0.1, -0.2], "intercept": [0.0, 0.3], "loading": [1.0, 1.2],
           "noise": [0.3, 0.4], "lam": np.linspace(0.5, 1.5, 2 * 2 * len(kept)), "z": [0.2, -0.1, 0.5, 0.4],
           "observed": np.ones(4)}
v = [pt.vector(k) for k in INPUTS]
logp = evidence_logp(op, **dict(zip(INPUTS, v)))
vals = [np.asarray(numbers[k], dtype=float) for k in INPUTS]
fast = float(pytensor.function(v, logp, mode="NUMBA")(*vals))
python = float(pytensor.function(v, logp, mode="FAST_COMPILE")(*vals))
print(json.dumps([after_imports, llvm.address_of_symbol(SLOT.name) is not None, fast, python]))
"""


@pytest.mark.slow
def test_importing_the_compiled_machinery_adds_no_llvm_symbol_and_a_cached_graph_still_finds_its_kernel() -> None:
    """The kernel's slot is made known to LLVM when the fast path is set up, not on import: the
    Op's fast-path code adds it before PyTensor compiles a graph or loads one from its cache
    (the second process here loads the first one's)."""
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", _IMPORT_THEN_COMPILE], capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr
        after_imports, known, fast, python = json.loads(done.stdout.splitlines()[-1])
        assert after_imports is None, "importing added the kernel's LLVM symbol"
        assert known and fast == pytest.approx(python, rel=1e-12)


def _processes_with(marker: str) -> list[int]:
    """Processes whose environment holds ``marker`` (Linux: /proc/<pid>/environ)."""
    from pathlib import Path

    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes():
                found.append(int(environ.parent.name))
        except OSError:  # gone, or not ours to read
            continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_command_that_fails_leaves_no_child_compiling_behind(tmp_path) -> None:
    """With an empty cache the child would compile for ~20 s; the command stops it on exit."""
    cache = tmp_path / "empty-cache"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache / "numba"),
               PYTENSOR_FLAGS=f"base_compiledir={cache / 'pytensor'}")
    done = subprocess.run([sys.executable, "-m", "forecast.cli", "run", str(tmp_path / "missing.toml")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 1 and "missing.toml" in done.stderr
    assert _processes_with(str(cache)) == []


def test_kernels_compiled_with_other_flags_are_never_loaded_from_the_cache(tmp_path) -> None:
    """numba keys a cached kernel by its own file and bytecode, not by the flags it was compiled
    with (set in forecast.compiled.numba_ops): numba's cache folder is named after that file,
    so a change of flags starts a new folder instead of loading kernels compiled the old way."""
    from hashlib import sha256
    from pathlib import Path

    import forecast.compiled.numba_ops as numba_ops

    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTENSOR_FLAGS")}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", "import os, forecast; print(os.environ['NUMBA_CACHE_DIR'])"],
                          capture_output=True, text=True, check=True, env=env)
    flags_file = sha256(Path(numba_ops.__file__).read_bytes()).hexdigest()[:12]
    assert done.stdout.strip() == str(tmp_path / "forecast" / "numba" / flags_file)


_FORECAST = """
import numpy as np
from forecast.compiled.forward import forward
from forecast.model.dynamics import Params, State, simulate
from forecast.scenario.graph import Graph

graph = Graph.from_edges(3, [(0, 1, 0), (1, 2, 1)])
rng = np.random.default_rng(0)
p = Params(rng.uniform(0.2, 0.9, (4, 3)), np.ones(3), np.ones(3), rng.normal(size=(4, 2)))
last = State(np.zeros((4, 3)), np.zeros(3), np.zeros((4, 3)))
simulate(last, rng.normal(size=(5, 4, 3)), rng.normal(size=(5, 4, 3)), p, graph)
simulate(last, rng.normal(size=(5, 4, 3)), rng.normal(size=(5, 4, 3)), p, graph, np.array([1.0, 0, 0]),
         np.zeros((5, 4, 3)))
print(len(forward.signatures), sum(forward.stats.cache_misses.values()), sum(forward.stats.cache_hits.values()))
"""


def test_the_forecasts_kernel_compiled_ahead_is_the_one_every_forecast_loads(tmp_path) -> None:
    """The background child compiles the forecasts' kernel (compile_ahead) for the arguments
    forecasts pass, broadcast and read-only parameters included: a forecast then loads it from
    numba's cache, one version, and compiles nothing."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    subprocess.run([sys.executable, "-c", "from forecast.compiled.forward import compile_ahead; compile_ahead()"],
                   check=True, env=env)
    done = subprocess.run([sys.executable, "-c", _FORECAST], capture_output=True, text=True, check=True, env=env)
    versions, compiled, loaded = done.stdout.split()
    assert (versions, compiled, loaded) == ("1", "0", "1"), "one version, loaded from the cache, nothing compiled"
