"""The likelihood of the indicators with the history integrated out, as one PyTensor Op.

``(parameters, observations) -> (log density, its gradient by input)``: the kernel of
:mod:`forecast.compiled.kalman` from the model's parameters to the density, with its
gradient as further outputs so that one kernel call serves the sampler's request for both.
In PyTensor's numba backend the Op's code calls the kernel directly (the plain path), or
through the address of its C entry (the fast path, :mod:`forecast.compiled.c_entry`), as
:mod:`forecast.compiled.runtime` decides.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from forecast.compiled import runtime
from forecast.compiled.kalman import claims_into, evidence_kernel, layout
from forecast.compiled.numba_ops import register_numba, source_version
from forecast.scenario.graph import (
    Graph,
    effects_first,
    filtered_block,
    same_year_reach,
    transition_support,
)

#: The Op's inputs, in order: per node persistence, transitory volatility, level volatility
#: (``omega``); per claim its effect; per node the initial variances of its deviation and of
#: its drift, and its baseline; per indicator intercept, loading and noise (sd); the kept
#: nodes' shock scales (flat: years after the first x 2 kept nodes); the observations and
#: whether each is in use (1) or held back (0).
INPUTS = ("phi", "sigma", "omega", "beta", "s0", "drift_var", "mu", "intercept", "loading", "noise", "lam", "z",
          "observed")


def evidence_logp(op: "KalmanEvidence", **inputs: Any) -> Any:
    """Log density of the observations (a scalar tensor) given the parameters, by name
    (:data:`INPUTS`). ``op`` (:meth:`KalmanEvidence.of`) holds the structure: the claims, which
    indicator and node each observation measures, and in which year."""
    missing = [k for k in INPUTS if k not in inputs]
    if missing:
        raise TypeError(f"evidence_logp needs {', '.join(missing)}")
    return op(*(inputs[k] for k in INPUTS))[0]


class KalmanEvidence(Op):
    """``(inputs of INPUTS) -> (log density, its gradient by input)`` (see :func:`evidence_logp`).
    The props are the structure, fixed by the scenario's claims and indicators: the claims'
    causes, effects and lags, the order that solves the same-year claims, the nodes the filter
    keeps (those upstream of an indicator), the yearly transition's and the same-year reach's
    supports among them (flat indices into the ``kept x kept`` block), and each observation's
    indicator, year and node, with each indicator's direction. The numbers (priors, data) are
    inputs, so editing them changes no compiled code.

    The gradient is an output, not a second Op, so that one kernel call serves the sampler's
    request for both; the pullback scales it by the cotangent of the log density. Second
    derivatives are not available.
    """

    __props__ = ("n_state", "cause", "effect", "lag", "order", "kept", "support", "reach", "indicator", "direction",
                 "year", "node")

    def __init__(self, n_state: int, cause: tuple[int, ...], effect: tuple[int, ...], lag: tuple[int, ...],
                 order: tuple[int, ...], kept: tuple[int, ...], support: tuple[int, ...], reach: tuple[int, ...],
                 indicator: tuple[int, ...], direction: tuple[float, ...], year: tuple[int, ...],
                 node: tuple[int, ...]):
        self.n_state, self.cause, self.effect, self.lag, self.order = n_state, cause, effect, lag, order
        self.kept, self.support, self.reach = kept, support, reach
        self.indicator, self.direction, self.year, self.node = indicator, direction, year, node
        self._constants: tuple | None = None

    @classmethod
    def of(cls, graph: Graph, indicator: np.ndarray, direction: np.ndarray, year: np.ndarray,
           node: np.ndarray, claim_of: np.ndarray | None = None) -> "KalmanEvidence":
        """The Op for the claims of ``graph`` and observations of ``indicator`` (index into
        ``direction``, +1 or -1 per indicator) in history year ``year`` of node ``node``.
        ``claim_of``: the claim of each element of the Op's effects input (default: claim
        order)."""
        n_claims = sum(len(s) for s in graph.slot)
        cause, effect, lag = (np.zeros(n_claims, dtype=int) for _ in range(3))
        for k in (0, 1):
            cause[graph.slot[k]], effect[graph.slot[k]], lag[graph.slot[k]] = graph.cause[k], graph.effect[k], k
        if claim_of is not None:
            cause, effect, lag = cause[claim_of], effect[claim_of], lag[claim_of]
        ints = lambda a: tuple(int(x) for x in a)  # noqa: E731
        kept, support = filtered_block(transition_support(graph), node)
        reach = same_year_reach(graph)[np.ix_(kept, kept)]
        return cls(graph.n_nodes, ints(cause), ints(effect), ints(lag), ints(effects_first(graph)), ints(kept),
                   ints(np.flatnonzero(support)), ints(np.flatnonzero(reach)), ints(indicator),
                   tuple(float(x) for x in direction), ints(year), ints(node))

    def block(self, flat: tuple[int, ...]) -> np.ndarray:
        """A ``kept x kept`` boolean matrix from its flat non-zeros (a prop)."""
        n = len(self.kept)
        out = np.zeros(n * n, dtype=bool)
        out[np.array(flat, dtype=np.int64)] = True
        return out.reshape(n, n)

    def constants(self) -> tuple:
        """The structure as :func:`evidence_kernel` takes it, after its inputs: the claims into
        the kept nodes (:func:`claims_into`), each observation's indicator, the kept nodes, each
        indicator's direction, then the filter's layout (:func:`layout`). Built once: the
        Python-mode :meth:`perform` needs it at every call."""
        if self._constants is None:
            kept = np.array(self.kept, dtype=np.int64)
            claims = claims_into(self.n_state, kept, *(np.array(a, dtype=np.int64)
                                                       for a in (self.cause, self.effect, self.lag, self.order)))
            claims = tuple(np.array(a, dtype=np.int64) for a in claims)
            observed = (np.array(self.indicator, dtype=np.int64), kept, np.array(self.direction, dtype=np.float64))
            self._constants = claims + observed + layout(self.block(self.support), self.block(self.reach), kept,
                                                         self.year, self.node)
        return self._constants

    def make_node(self, *inputs) -> Apply:
        if len(inputs) != len(INPUTS):
            raise TypeError(f"KalmanEvidence takes {len(INPUTS)} inputs ({', '.join(INPUTS)})")
        inputs = [pt.as_tensor_variable(v).astype("float64") for v in inputs]
        if any(v.type.ndim != 1 for v in inputs):
            raise TypeError("KalmanEvidence takes vectors (flatten the shock scales)")
        return Apply(self, inputs, [pt.scalar(dtype="float64"), *(v.type() for v in inputs)])

    def perform(self, node, inputs, output_storage) -> None:
        args = (np.ascontiguousarray(v, dtype=float) for v in inputs)
        for storage, value in zip(output_storage, evidence_kernel(*args, *self.constants())):
            storage[0] = value

    def infer_shape(self, node, shapes):
        return [(), *shapes]

    def pullback(self, inputs, outputs, cotangents):
        from pytensor.gradient import DisconnectedType, grad_not_implemented

        if any(not isinstance(c.type, DisconnectedType) for c in cotangents[1:]):
            return [grad_not_implemented(self, i, v, "second derivatives") for i, v in enumerate(inputs)]
        if isinstance(cotangents[0].type, DisconnectedType):
            return [DisconnectedType()() for _ in inputs]
        return [cotangents[0] * g for g in outputs[1:]]

    def connection_pattern(self, node):
        return [[True] * len(node.outputs) for _ in node.inputs]


def _numba_kalman_evidence(op: KalmanEvidence, node) -> Any:
    """The Op's numba code: through the C entry's address on the fast path, else a direct call."""
    if runtime.path().fast:
        from forecast.compiled.c_entry import slot_caller

        return slot_caller(op)
    from pytensor.link.numba.dispatch.basic import numba_njit

    structure = op.constants()

    @numba_njit
    def kalman_evidence(phi, sigma, omega, beta, s0, drift_var, mu, intercept, loading, noise, lam, z, observed):
        return evidence_kernel(np.ascontiguousarray(phi), np.ascontiguousarray(sigma), np.ascontiguousarray(omega),
                               np.ascontiguousarray(beta), np.ascontiguousarray(s0), np.ascontiguousarray(drift_var),
                               np.ascontiguousarray(mu), np.ascontiguousarray(intercept),
                               np.ascontiguousarray(loading), np.ascontiguousarray(noise), np.ascontiguousarray(lam),
                               np.ascontiguousarray(z), np.ascontiguousarray(observed), *structure)

    return kalman_evidence


#: The kernels' sources, which the Op's numba code embeds (PyTensor's cache is keyed by them).
_SOURCES = source_version(__file__) ^ source_version(evidence_kernel.py_func.__code__.co_filename)


def _cache_version() -> int:
    """The key of the Op's numba code in PyTensor's cache: the kernels' sources and the path, as
    it is when a graph compiles (the code differs by both; a process that gave up the fast
    path compiles the plain code under the plain key)."""
    return _SOURCES ^ int(runtime.path().fast)


# The Op's numba code, known to PyTensor's numba backend. Nothing else happens at import: the
# path is decided when a graph first compiles, and the kernel's LLVM symbol is added by the fast
# path's setup (forecast.compiled.runtime) and by the fast-path code itself (c_entry.slot_caller),
# before any code that calls through it is compiled or loaded from a cache.
register_numba(KalmanEvidence, _cache_version, _numba_kalman_evidence)
