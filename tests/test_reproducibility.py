"""The same seed gives the same numbers: with an empty compile cache as with a full one, in a
new process as in this one.

A compile cache could break this: code compiled anew and the same code loaded from the cache
may round differently if the compiler may reorder sums (fast-math), and a chain then takes
another path. forecast/__init__.py compiles PyTensor's numba code without fast-math for that
reason. This test holds every number of summary.json (the run's timings aside) equal, to
the last bit, across three runs of the default scenario: a child process with an empty cache
(everything compiled, the likelihood's kernel in its own child process), a child process
with that cache now full, and this process with the user's cache. (With fast-math back on,
thousands of its numbers differ between the first two; the tests' tiny chain scenario does
not show it, so it is not the one used.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from forecast.cli import cli

from .conftest import DEFAULT_SCENARIO, ROOT

#: Not numbers of the posterior: how long sampling took on this machine.
TIMINGS = {"sampling_seconds"}


def numbers(value, path: str = ""):
    """Every number of a summary with its key path, timings left out."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k not in TIMINGS:
                yield from numbers(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from numbers(v, f"{path}[{i}]")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield path, value


def summary_numbers(run: Path) -> dict[str, float]:
    return dict(numbers(json.loads((run / "summary.json").read_text(encoding="utf-8"))))


@pytest.mark.slow
def test_the_same_seed_gives_the_same_numbers_with_a_cold_or_warm_cache_in_any_process(tmp_path) -> None:
    cache = tmp_path / "cache"
    env = os.environ | {"PYTHONPATH": str(ROOT), "PYTENSOR_FLAGS": f"base_compiledir={cache}/pytensor",
                        "NUMBA_CACHE_DIR": str(cache / "numba")}
    args = ["run", str(DEFAULT_SCENARIO), "--draws", "150", "--tune", "150", "--chains", "2", "--seed", "3", "--no-report",
            "-q"]
    for name in ("cold", "warm"):
        done = subprocess.run([sys.executable, "-m", "forecast.cli", *args, "--out", str(tmp_path / name)],
                              capture_output=True, text=True, check=False, env=env, timeout=900)
        assert done.returncode == 0, done.stderr
        assert (cache / "numba").is_dir() and any((cache / "pytensor").iterdir()), "the cache was used"
    here = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "here")])
    assert here.exit_code == 0, here.output

    cold, warm, this = (summary_numbers(tmp_path / n) for n in ("cold", "warm", "here"))
    assert len(cold) > 100 and cold.keys() == warm.keys() == this.keys()
    for other, name in ((warm, "a warm cache"), (this, "this process")):
        moved = {k: (cold[k], other[k]) for k in cold if cold[k] != other[k]}
        assert not moved, f"{len(moved)} numbers differ with {name}, e.g. {dict(list(moved.items())[:4])}"
