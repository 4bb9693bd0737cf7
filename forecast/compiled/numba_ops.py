"""What the compiled kernels and Ops (:mod:`forecast.compiled.evidence_op`,
:mod:`forecast.compiled.forward`, :mod:`forecast.compiled.join`) share.

Their kernels are module-level ``numba.njit(cache=True)`` functions, so numba's disk cache
finds them again in the next process (nested ones recompile every time), and each Op is
registered with PyTensor's numba backend under a cache key salted with its module's source,
so that a changed kernel is never served from an old compiled graph, which embeds it.

numba caches them in the folder :mod:`forecast` sets (``NUMBA_CACHE_DIR``), which it takes
here (:func:`_take_forecasts_cache_folder`) before any kernel is defined.
"""

from __future__ import annotations

from hashlib import sha256
from pathlib import Path
from typing import Callable

import numba
from numba.core import cgutils, types
from numba.extending import intrinsic

#: No fast-math: the kernels are plain IEEE arithmetic, so that a kernel compiled anew in this
#: process and the same kernel loaded from numba's cache give the same bits, and the same seed
#: the same numbers, whichever process compiled it. With reassociation allowed, LLVM
#: vectorised sums differently in the two (measured on the default scenario: the gradient
#: differed in its last bits, the chains took other paths, and a test run after another test
#: had compiled the kernel in-process missed the golden numbers). Allowing it was 15-20% faster
#: per gradient; reproducibility is worth more. (No "no NaN / no inf" either: a density that
#: is not finite must give -inf, which the sampler then rejects.)
FASTMATH = False


def _take_forecasts_cache_folder() -> None:
    """numba's settings read again from the environment, where :mod:`forecast` has put its cache
    folder (``NUMBA_CACHE_DIR``) by now: every kernel of :mod:`forecast.compiled` (each defined
    with :data:`jit`, or with :data:`FASTMATH` as the C entry is) is cached there.

    numba reads its settings when it is imported, and again before each compile, but a kernel
    defined with ``cache=True`` takes its cache folder when it is defined. In a process that
    imported numba before :mod:`forecast` (a script that imports nutpie, which imports numba,
    first; ``bench/run.py`` among them), no folder was set yet when the kernels were defined,
    and numba cached them beside their sources (``forecast/compiled/__pycache__``, in an
    installed package inside site-packages), where a stale copy would also be loaded. Reading
    the settings here is what numba's next compile does anyway: nothing else changes."""
    reload = getattr(numba.config, "reload_config", None)  # numba's since 0.2x; public API it is not
    if reload is not None:
        reload()


_take_forecasts_cache_folder()

jit = numba.njit(cache=True, fastmath=FASTMATH)


def source_version(source: str) -> int:
    """A number that changes with the file ``source`` (the kernels' module)."""
    return int(sha256(Path(source).read_bytes()).hexdigest()[:15], 16)


@intrinsic
def address_as_void_pointer(typingctx, address):
    """An integer address as a ``void*`` (for ``numba.carray``)."""

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(address), codegen


def register_numba(op_class: type, version: int | str | Callable[[], int], build: Callable) -> None:
    """Compile instances of ``op_class`` in PyTensor's numba backend (nutpie's and PyMC's
    default) with ``build(op, node)``, which returns a numba function of the Op's inputs
    returning its outputs. ``version``: a number, the file holding the kernels (its hash), or a
    function giving the number when a graph compiles (for code that depends on the process's
    state), that keys PyTensor's cache together with this file (the flags the kernels are
    compiled with, which a compiled graph embeds). Should PyTensor's numba dispatch have moved,
    nothing is registered and PyTensor runs the Op's ``perform`` instead: slow, but correct."""
    try:
        from pytensor.link.numba.dispatch.basic import (
            register_funcify_default_op_cache_key,
        )
    except ImportError:
        return

    if isinstance(version, str):
        version = source_version(version)
    flags = source_version(__file__)

    @register_funcify_default_op_cache_key(op_class)
    def _funcify(op, node, **kwargs):
        key = (version() if callable(version) else version) ^ flags
        return build(op, node), key
