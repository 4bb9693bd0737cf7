"""The same seed gives the same numbers: with an empty compile cache as with a full one, in a
new process as in this one.

A compile cache could break this: code compiled anew and the same code loaded from the cache
may round differently if the compiler may reorder sums (fast-math), and a chain then takes
another path. forecast/__init__.py compiles PyTensor's numba code without fast-math for that
reason, and forecast.compiled its kernels. This test holds every number of summary.json (the
run's timings aside) equal, to the last bit, across four runs of the default scenario:

* a child process with an empty cache (everything compiled, the likelihood's kernel in its
  own child process, then loaded from the cache);
* a child process with another empty cache that compiles the kernel itself first, as a
  notebook or a test that compiled another model does, and then runs the command;
* a child process with the first cache now full;
* this process with the user's cache.

(With fast-math back on, thousands of numbers differ between the first two; the tests' tiny
chain scenario does not show it, so it is not the one used.)
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from forecast.cli import cli

from .conftest import DEFAULT_SCENARIO, ROOT, differences, summary_values

#: A process that compiles the likelihood's kernel itself (no child compiling it), then runs the
#: command with the arguments it is given.
KERNEL_HERE = ("from forecast.compiled.c_entry import register_kernel; register_kernel(); "
               "from forecast.cli import main; main()")


@pytest.mark.slow
def test_the_same_seed_gives_the_same_numbers_with_a_cold_or_warm_cache_in_any_process(tmp_path) -> None:
    args = ["run", str(DEFAULT_SCENARIO), "--draws", "150", "--tune", "150", "--chains", "2", "--seed", "3", "--no-report",
            "-q"]
    command = {"cold": ["-m", "forecast.cli"], "warm": ["-m", "forecast.cli"], "kernel_here": ["-c", KERNEL_HERE]}
    for name, cache in (("cold", "cache"), ("kernel_here", "other_cache"), ("warm", "cache")):
        cache = tmp_path / cache
        env = os.environ | {"PYTHONPATH": str(ROOT), "PYTENSOR_FLAGS": f"base_compiledir={cache}/pytensor",
                            "NUMBA_CACHE_DIR": str(cache / "numba")}
        done = subprocess.run([sys.executable, *command[name], *args, "--out", str(tmp_path / name)],
                              capture_output=True, text=True, check=False, env=env, timeout=900)
        assert done.returncode == 0, done.stderr
        assert (cache / "numba").is_dir() and any((cache / "pytensor").iterdir()), "the cache was used"
    here = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "here")])
    assert here.exit_code == 0, here.output

    cold = summary_values(tmp_path / "cold" / "summary.json")
    assert len(cold) > 100
    for name, what in (("kernel_here", "the kernel compiled in-process"), ("warm", "a warm cache"),
                       ("here", "this process")):
        differ = differences(cold, summary_values(tmp_path / name / "summary.json"))
        assert not differ, f"with {what}: {differ}"
