"""numba keeps the compiled modules' kernels in forecast's own cache folder (``NUMBA_CACHE_DIR``,
set when :mod:`forecast` is imported), never beside their sources: in an installed package that
would write into site-packages, and a stale copy there would be loaded in place of the cache
the project manages (docs/performance.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

# numba imported before forecast, as by a script that imports nutpie (which imports numba)
# first, bench/run.py among them: numba has then read its environment before forecast set the
# cache folder. One small kernel is compiled; every cached kernel's folder is printed.
_SCRIPT = """
import json, os, sys
import numba
import numpy as np
import forecast
from forecast.compiled import c_entry, forward, kalman
from numba.core.dispatcher import Dispatcher

kalman.last_year(np.ones(3), np.arange(3))
folders = {f"{m.__name__}.{name}": getattr(f._cache, "cache_path", None)
           for m in (kalman, c_entry, forward) for name, f in vars(m).items() if isinstance(f, Dispatcher)}
print(json.dumps({"package": forecast.__file__, "cache": os.environ["NUMBA_CACHE_DIR"], "folders": folders}))
"""


def test_numba_caches_the_kernels_in_forecasts_folder_even_when_imported_first(tmp_path: Path) -> None:
    """A copy of the package, so that a kernel cached beside its source lands in the copy (and a
    stale cache beside the real sources cannot be loaded instead), with an empty cache folder."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "forecast", copy / "forecast", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "PYTENSOR_FLAGS")}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(copy))
    done = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=copy, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert Path(found["package"]).is_relative_to(copy), "the copy was not the package imported"
    cache = Path(found["cache"])
    assert cache.is_relative_to(tmp_path / "cache" / "forecast" / "numba")

    beside = sorted(str(p.relative_to(copy)) for p in copy.rglob("*.nb[ic]"))
    assert beside == [], f"numba cached kernels beside their sources: {beside[:4]}"
    assert list(cache.rglob("kalman.last_year-*.nbi")), "the compiled kernel is not in forecast's cache folder"
    assert "forecast.compiled.kalman.filter_kernel" in found["folders"]
    elsewhere = {k: v for k, v in found["folders"].items() if v is None or not Path(v).is_relative_to(cache)}
    assert elsewhere == {}, "kernels cached outside forecast's cache folder"
