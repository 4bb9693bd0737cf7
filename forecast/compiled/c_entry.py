"""The fast path's C entry: the likelihood's kernel compiled once, called through an address.

numba links a function's callees into it and optimises the result again, so code called
from the model's graph is optimised once per level above it: for this kernel, the Op's
function, PyTensor's wrapper, the graph's two functions and nutpie's callback (~10 s of a
cold compile). Instead the kernel is compiled once as a C function (a ``cfunc``, in numba's
disk cache) whose address goes into a slot; the graph's code loads the address from the
slot and calls it, so each level above links two instructions, not the kernel. The slot is
a symbol LLVM resolves when compiled code is linked or loaded from a cache, named after this
file's contents (a changed kernel never meets code compiled for the old one), and filled
by :func:`register_kernel` before sampling. That lets a run compile the kernel in a child
process (:mod:`forecast.compiled.precompile`) while it compiles the rest of the graph.
Arrays cross as two tables, of addresses and of lengths (every array here is a vector), in
three groups of one array type each, so that filling them compiles three small loops: the
float arrays the Op passes and gets back (inputs, log density, gradients), then the
structure's integer arrays, then its direction per indicator.
"""

from __future__ import annotations

import ctypes
from typing import Any

import llvmlite.binding as llvm_binding
import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, register_jitable

from forecast.compiled.kalman import evidence_kernel
from forecast.compiled.numba_ops import address_as_void_pointer, source_version
from forecast.compiled.numba_ops import jit as _jit

N_INPUTS, N_STRUCTURE, N_OUTPUTS = 13, 17, 14
N_ARRAYS = N_INPUTS + N_STRUCTURE + N_OUTPUTS
#: Where the groups start in the tables: the inputs at 0 and the outputs after them, then the
#: structure's integer arrays, then the direction (the last array).
OUTPUTS_AT, INTS_AT, DIRECTION_AT = N_INPUTS, N_INPUTS + N_OUTPUTS, N_ARRAYS - 1


class KernelSlot:
    """The address the compiled models call the kernel at: an LLVM symbol named after the
    kernels' sources (so code compiled for an older kernel never calls a newer one), added
    to LLVM's symbol table the first time a model compiles against it, and filled by
    :func:`register_kernel`. One per process, as LLVM's symbol table is."""

    def __init__(self, *sources: str):
        version = 0
        for source in sources:
            version ^= source_version(source)
        self.name = f"forecast_kalman_evidence_{version:x}"
        self._address = ctypes.c_uint64(0)
        self._added = False
        self._entry: Any = None  # the compiled C entry, kept alive while its address is in the slot

    def add_symbol(self) -> None:
        """Make the symbol known to LLVM (before code that loads it is linked or loaded)."""
        if not self._added:
            llvm_binding.add_symbol(self.name, ctypes.addressof(self._address))
            self._added = True

    @property
    def filled(self) -> bool:
        return self._entry is not None

    def fill(self, entry: Any) -> None:
        self.add_symbol()
        self._entry = entry
        self._address.value = entry.address


SLOT = KernelSlot(__file__, evidence_kernel.py_func.__code__.co_filename)


# Inlined where called, typed with ``i`` an integer rather than each literal index: as jitted
# functions they compiled once per index (31 times, ~4 s of the kernel's cold compile).
@register_jitable
def _floats(addresses, lengths, i):
    return numba.carray(address_as_void_pointer(addresses[i]), lengths[i], np.float64)


@register_jitable
def _ints(addresses, lengths, i):
    return numba.carray(address_as_void_pointer(addresses[i]), lengths[i], np.int64)


@_jit
def _copy(src, dst):
    for i in range(src.size):
        dst[i] = src[i]


def _evidence_entry(addresses_, lengths_):
    """The C entry: the kernel's arrays from the tables (the inputs, the log density and the
    gradients, then the structure's integer arrays, then the direction, each group in
    :func:`evidence_kernel`'s order), its outputs copied into the caller's."""
    a = numba.carray(addresses_, (N_ARRAYS,), np.int64)
    n = numba.carray(lengths_, (N_ARRAYS,), np.int64)
    s, o = INTS_AT, OUTPUTS_AT
    out = evidence_kernel(
        _floats(a, n, 0), _floats(a, n, 1), _floats(a, n, 2), _floats(a, n, 3), _floats(a, n, 4),
        _floats(a, n, 5), _floats(a, n, 6), _floats(a, n, 7), _floats(a, n, 8), _floats(a, n, 9),
        _floats(a, n, 10), _floats(a, n, 11), _floats(a, n, 12),
        _ints(a, n, s), _ints(a, n, s + 1), _ints(a, n, s + 2), _ints(a, n, s + 3), _ints(a, n, s + 4),
        _ints(a, n, s + 5), _ints(a, n, s + 6), _ints(a, n, s + 7), _ints(a, n, s + 8),
        _floats(a, n, DIRECTION_AT), _ints(a, n, s + 9), _ints(a, n, s + 10), _ints(a, n, s + 11),
        _ints(a, n, s + 12), _ints(a, n, s + 13), _ints(a, n, s + 14), _ints(a, n, s + 15))
    _floats(a, n, o)[0] = out[0][()]
    _copy(out[1], _floats(a, n, o + 1))
    _copy(out[2], _floats(a, n, o + 2))
    _copy(out[3], _floats(a, n, o + 3))
    _copy(out[4], _floats(a, n, o + 4))
    _copy(out[5], _floats(a, n, o + 5))
    _copy(out[6], _floats(a, n, o + 6))
    _copy(out[7], _floats(a, n, o + 7))
    _copy(out[8], _floats(a, n, o + 8))
    _copy(out[9], _floats(a, n, o + 9))
    _copy(out[10], _floats(a, n, o + 10))
    _copy(out[11], _floats(a, n, o + 11))
    _copy(out[12], _floats(a, n, o + 12))
    _copy(out[13], _floats(a, n, o + 13))
    return 0


def register_kernel() -> None:
    """Compile the kernel's C entry, or load it from numba's cache (after the child compiling
    it, if one runs), and put its address in the slot. Call before the compiled model runs."""
    from forecast.compiled.numba_ops import FASTMATH
    from forecast.compiled.precompile import BACKGROUND

    if SLOT.filled:
        return
    BACKGROUND.wait()
    entry = numba.cfunc(types.int64(types.voidptr, types.voidptr), cache=True, fastmath=FASTMATH)(_evidence_entry)
    SLOT.fill(entry)
    BACKGROUND.registered()


@_jit
def _table(addresses, lengths, first, arrays):
    """Each array's address and length into the tables, from position ``first`` on."""
    for k in range(len(arrays)):
        addresses[first + k], lengths[first + k] = arrays[k].ctypes.data, arrays[k].size


@intrinsic
def _kernel_address(typingctx):
    """The address in the slot (0 until :func:`register_kernel`)."""

    def codegen(context, builder, signature, args):
        slot = builder.module.globals.get(SLOT.name)
        if slot is None:
            slot = ir.GlobalVariable(builder.module, ir.IntType(64), name=SLOT.name)
        return builder.load(slot)

    return types.int64(), codegen


@intrinsic
def _call_kernel(typingctx, address, addresses, lengths):
    """Call the C entry at ``address`` with the two tables' data."""

    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.IntType(64), [cgutils.voidptr_t, cgutils.voidptr_t])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        data = [builder.bitcast(context.make_array(t)(context, builder, v).data, cgutils.voidptr_t)
                for t, v in zip(signature.args[1:], args[1:])]
        return builder.call(fn, data)

    return types.int64(address, addresses, lengths), codegen


def slot_caller(op) -> Any:
    """The numba code of a :class:`~forecast.compiled.evidence_op.KalmanEvidence` Op on the fast
    path: the kernel's arrays into two tables, then a call through the slot's address (no
    density while the slot is empty, rather than a call to nowhere)."""
    from pytensor.link.numba.dispatch.basic import numba_njit

    from forecast.compiled.precompile import BACKGROUND

    SLOT.add_symbol()
    if not BACKGROUND.may_defer():  # otherwise the sampler registers it, after the child
        register_kernel()
    (claim, cause, effect, lag, order, first, by_cause, indicator, kept, direction, start, col, vstart, vcol,
     obs_order, year, where) = op.constants()
    n = N_ARRAYS

    @numba_njit
    def kalman_evidence(phi, sigma, omega, beta, s0, drift_var, mu, intercept, loading, noise, lam, z, observed):
        inputs = (np.ascontiguousarray(phi), np.ascontiguousarray(sigma), np.ascontiguousarray(omega),
                  np.ascontiguousarray(beta), np.ascontiguousarray(s0), np.ascontiguousarray(drift_var),
                  np.ascontiguousarray(mu), np.ascontiguousarray(intercept), np.ascontiguousarray(loading),
                  np.ascontiguousarray(noise), np.ascontiguousarray(lam), np.ascontiguousarray(z),
                  np.ascontiguousarray(observed))
        logp = np.empty(1)
        grads = (np.empty(phi.size), np.empty(sigma.size), np.empty(omega.size), np.empty(beta.size),
                 np.empty(s0.size), np.empty(drift_var.size), np.empty(mu.size), np.empty(intercept.size),
                 np.empty(loading.size), np.empty(noise.size), np.empty(lam.size), np.empty(z.size),
                 np.empty(observed.size))
        addresses, lengths = np.empty(n, np.int64), np.empty(n, np.int64)
        _table(addresses, lengths, 0, inputs + (logp,) + grads)
        _table(addresses, lengths, INTS_AT, (claim, cause, effect, lag, order, first, by_cause, indicator, kept,
                                             start, col, vstart, vcol, obs_order, year, where))
        _table(addresses, lengths, DIRECTION_AT, (direction,))
        address = _kernel_address()
        if address == 0:  # not registered: no density rather than a call to nowhere
            logp[0] = np.nan
            for g in grads:
                g[:] = 0.0
        else:
            _call_kernel(address, addresses, lengths)
        out = np.empty(())
        out[()] = logp[0]
        return (out, grads[0], grads[1], grads[2], grads[3], grads[4], grads[5], grads[6], grads[7], grads[8],
                grads[9], grads[10], grads[11], grads[12])

    return kalman_evidence
