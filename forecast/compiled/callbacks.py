"""Lean, disk-cached C callbacks for nutpie: most of the compile of every warm run.

nutpie hands its Rust sampler two numba ``cfunc`` callbacks around the model's compiled
PyTensor function (log density with gradient, and the draws' values). PyTensor caches that
function on disk, but nutpie builds the callbacks anew in every process: numba types them
and LLVM optimises and links them with the function they call, about 5 s of the default
scenario's 7 s warm compile. nutpie's generic versions also read shared variables through
a record of pointers and copy arrays with broadcasting assignments, both of which bring in
numba's error formatting (another ~4 s before this module existed).

A forecast model has one shared variable, the scenario's numbers
(:class:`forecast.model.inputs.GraphInputs`). The callbacks here are generated as source with the
model's sizes written in, read the numbers through nutpie's user data (where nutpie keeps
their address, so editing a prior changes no compiled code), copy results element by
element and return nutpie's status codes. They are registered with PyTensor's numba cache
under a key made of their source and the cache key of the PyTensor function they call, and
compiled with ``cache=True``: the next run of the same model loads them from disk.

The replacement is made only while :func:`lean_callbacks` is active and only for the nutpie
versions whose internals were checked (:data:`CHECKED`); otherwise nutpie's own callbacks
are used. Tests check that both give the same posterior, draw for draw, and that a second
compile (an edited prior included) loads the callbacks from the cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from hashlib import sha256

import numba
import numpy as np
from numba.core import types

from forecast.compiled.numba_ops import address_as_void_pointer

#: nutpie versions (major.minor) whose ``_make_c_logp_func``/``_make_c_expand_func`` these
#: functions replace with the same signature and the same return codes.
CHECKED = ("0.16",)

_DOUBLE_PTR = types.CPointer(types.double)
LOGP_SIGNATURE = types.int64(types.uint64, _DOUBLE_PTR, _DOUBLE_PTR, _DOUBLE_PTR, types.voidptr)
EXPAND_SIGNATURE = types.int64(types.uint64, types.uint64, _DOUBLE_PTR, _DOUBLE_PTR, types.voidptr)


@contextmanager
def lean_callbacks() -> Iterator[dict]:
    """While active, ``nutpie.compile_pymc_model`` builds the lean callbacks. Yields the
    keyword arguments to pass it (``cache=True`` for numba's ``cfunc``), empty when an
    unchecked nutpie version keeps its own callbacks."""
    import nutpie
    from nutpie import compile_pymc

    names = ("_make_c_logp_func", "_make_c_expand_func")
    version = ".".join(nutpie.__version__.split(".")[:2])
    if version not in CHECKED or not all(hasattr(compile_pymc, n) for n in names):
        yield {}
        return
    original = {n: getattr(compile_pymc, n) for n in names}
    compile_pymc._make_c_logp_func = _logp_callback(original["_make_c_logp_func"])
    compile_pymc._make_c_expand_func = _expand_callback(original["_make_c_expand_func"])
    try:
        yield {"cache": True}
    finally:
        for name, fn in original.items():
            setattr(compile_pymc, name, fn)


_LOGP = """
def logp_callback(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_dim},))
        value, grad = inner(x{numbers})
        logp_[0] = value[()]
        finite = True
        for i in range({n_dim}):
            out[i] = grad[i]
            finite = finite and np.isfinite(grad[i])
        if not finite:
            return 3
        if not np.isfinite(value[()]):
            return 4
    except Exception:  # nutpie's code for a failed evaluation
        return 1
    return 0
"""

_EXPAND = """
def expand_callback(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim} or expanded != {n_expanded}:
        return -1
    try:
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_expanded},))
        (values,) = inner(x{numbers})
        for i in range({n_expanded}):
            out[i] = values[i]
    except Exception:
        return -2
    return 0
"""

#: Reading the numbers: nutpie's user data is a record whose words include the numbers'
#: address; ``word`` is its index, ``size`` their count (both fixed for a model).
_NUMBERS = (", numba.carray(address_as_void_pointer(numba.carray(user_data_, ({words},), np.uint64)[{word}]), "
            "({size},), np.float64)")


def _numbers_argument(user_data: np.ndarray, shared_keys: list, shared_data: dict) -> str | None:
    """Source for the inner function's extra argument: '' without shared variables, the
    read of the numbers with one float vector, None otherwise (nutpie's own callbacks)."""
    if not shared_keys:
        return ""
    if len(shared_keys) > 1:
        return None
    (key,) = shared_keys
    value = shared_data[key]
    if value.dtype != np.float64 or value.ndim != 1:
        return None
    record = user_data.dtype
    shared = record["shared"]
    offset = record.fields["shared"][1] + shared.fields["data"][1] + shared["data"].fields[key][1]
    if offset % 8 or record.itemsize % 8:
        return None
    return _NUMBERS.format(words=record.itemsize // 8, word=offset // 8, size=value.size)


def _compile(template: str, name: str, inner, numbers: str, **sizes):
    """The callback's Python function from its source, registered with PyTensor's numba cache
    under its source and the inner function's key (None when the inner one is not cached)."""
    from pytensor.link.numba.cache import (
        CACHED_SRC_FUNCTIONS,
        compile_numba_function_src,
    )

    inner_key = CACHED_SRC_FUNCTIONS.get(getattr(inner, "py_func", None))
    if inner_key is None:
        return None
    src = template.format(numbers=numbers, **sizes)
    key = sha256(f"{__name__}\n{src}\n{inner_key}".encode()).hexdigest()  # the module keys it: the cache imports it
    env = {"__name__": __name__, "numba": numba, "np": np, "inner": inner,
           "address_as_void_pointer": address_as_void_pointer}
    return compile_numba_function_src(src, name, global_env=env, cache_key=f"forecast-callback-{key}")


def _logp_callback(nutpie_own):
    def make(n_dim, logp_fn, user_data, shared_keys, shared_data):
        numbers = _numbers_argument(user_data, shared_keys, shared_data)
        fn = None if numbers is None else _compile(_LOGP, "logp_callback", logp_fn, numbers, n_dim=n_dim)
        if fn is None:
            return nutpie_own(n_dim, logp_fn, user_data, shared_keys, shared_data)
        return fn, LOGP_SIGNATURE

    return make


def _expand_callback(nutpie_own):
    def make(n_dim, n_expanded, expand_fn, user_data, shared_keys, shared_data):
        numbers = _numbers_argument(user_data, shared_keys, shared_data)
        fn = None if numbers is None else _compile(_EXPAND, "expand_callback", expand_fn, numbers,
                                                   n_dim=n_dim, n_expanded=n_expanded)
        if fn is None:
            return nutpie_own(n_dim, n_expanded, expand_fn, user_data, shared_keys, shared_data)
        return fn, EXPAND_SIGNATURE

    return make
