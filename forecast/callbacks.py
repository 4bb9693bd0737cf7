"""Leaner C callbacks for nutpie: a third of the compile of every run.

nutpie hands its Rust sampler two numba ``cfunc`` callbacks around the model's compiled
PyTensor function (log density with gradient, and the draws' values). Unlike the PyTensor
function, these callbacks cannot be cached, so numba types them and LLVM optimises them in
every process. nutpie's generic versions read shared variables through a record of pointers
and copy arrays with broadcasting assignments; both bring in numba's error formatting
(integer-to-string, string concatenation, shape messages), which costs about 4 s of the
12 s compile of the default scenario, every run.

A forecast model has one shared variable, the scenario's numbers
(:class:`forecast.priors.GraphInputs`), whose value is fixed for the run. These callbacks
bind it as a constant and copy results element by element; they return the same status
codes as nutpie's. The PyTensor function they call is unchanged and stays cached, and the
scenario's numbers remain inputs of it, so editing a prior still reuses the compiled model.

The replacement is made only while :func:`lean_callbacks` is active and only for the nutpie
versions whose internals were checked (:data:`CHECKED`); otherwise nutpie's own callbacks
are used. A test checks that both give the same posterior, draw for draw.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

#: nutpie versions (major.minor) whose ``_make_c_logp_func``/``_make_c_expand_func`` these
#: functions replace with the same signature and the same return codes.
CHECKED = ("0.16",)


@contextmanager
def lean_callbacks() -> Iterator[bool]:
    """While active, ``nutpie.compile_pymc_model`` builds the lean callbacks; yields whether
    they are in use (False: an unchecked nutpie version, which keeps its own)."""
    import nutpie
    from nutpie import compile_pymc

    names = ("_make_c_logp_func", "_make_c_expand_func")
    version = ".".join(nutpie.__version__.split(".")[:2])
    if version not in CHECKED or not all(hasattr(compile_pymc, n) for n in names):
        yield False
        return
    original = {n: getattr(compile_pymc, n) for n in names}
    compile_pymc._make_c_logp_func = _logp_callback(original["_make_c_logp_func"])
    compile_pymc._make_c_expand_func = _expand_callback(original["_make_c_expand_func"])
    try:
        yield True
    finally:
        for name, fn in original.items():
            setattr(compile_pymc, name, fn)


def _bind(inner, shared_data: dict, keys: list):
    """``inner(x, *shared values)`` as a function of ``x`` alone (values bound as constants);
    None when there is more than one shared variable (not a forecast model)."""
    import numba

    values = [shared_data[k] for k in keys]
    if not values:
        @numba.njit(inline="always")
        def call(x):
            return inner(x)
        return call
    if len(values) == 1:
        (bound,) = values

        @numba.njit(inline="always")
        def call_bound(x):
            return inner(x, bound)
        return call_bound
    return None


def _logp_callback(nutpie_own):
    def make(n_dim, logp_fn, user_data, shared_keys, shared_data):
        import numba
        import numpy as np

        call = _bind(logp_fn, shared_data, shared_keys)
        if call is None:
            return nutpie_own(n_dim, logp_fn, user_data, shared_keys, shared_data)
        double_ptr = numba.types.CPointer(numba.types.double)
        signature = numba.types.int64(numba.types.uint64, double_ptr, double_ptr, double_ptr, numba.types.voidptr)

        def logp_numba(dim, x_, out_, logp_, user_data_):
            if dim != n_dim:
                return -1
            try:
                x = numba.carray(x_, (n_dim,))
                out = numba.carray(out_, (n_dim,))
                value, grad = call(x)
                logp_[0] = value[()]
                finite = True
                for i in range(n_dim):
                    out[i] = grad[i]
                    finite = finite and np.isfinite(grad[i])
                if not finite:
                    return 3
                if not np.isfinite(value[()]):
                    return 4
            except Exception:  # noqa: BLE001  (nutpie's code for a failed evaluation)
                return 1
            return 0

        return logp_numba, signature

    return make


def _expand_callback(nutpie_own):
    def make(n_dim, n_expanded, expand_fn, user_data, shared_keys, shared_data):
        import numba

        call = _bind(expand_fn, shared_data, shared_keys)
        if call is None:
            return nutpie_own(n_dim, n_expanded, expand_fn, user_data, shared_keys, shared_data)
        double_ptr = numba.types.CPointer(numba.types.double)
        signature = numba.types.int64(numba.types.uint64, numba.types.uint64, double_ptr, double_ptr,
                                      numba.types.voidptr)

        def expand_numba(dim, expanded, x_, out_, user_data_):
            if dim != n_dim or expanded != n_expanded:
                return -1
            try:
                x = numba.carray(x_, (n_dim,))
                out = numba.carray(out_, (n_expanded,))
                (values,) = call(x)
                for i in range(n_expanded):
                    out[i] = values[i]
            except Exception:  # noqa: BLE001
                return -2
            return 0

        return expand_numba, signature

    return make
