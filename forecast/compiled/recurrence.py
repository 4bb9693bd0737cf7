"""The sampled history as one compiled PyTensor Op, claim by claim.

When the history is sampled rather than integrated out (large scenarios, see
:func:`forecast.model.build.choose_history`), every gradient runs the equations of
:mod:`forecast.model.dynamics` over all years. Written with tensor operations they are dense
``nodes x nodes`` products (about 2 ms per gradient at 100 nodes and 30 years), although
each node has only a few causes. Here they run claim by claim in a numba kernel
(``years x (nodes + claims)`` multiply-adds), with the gradient written by hand in reverse
time and reverse causal order: tens of microseconds.

Per year ``t >= 1``, nodes in causal order (same-year causes first)::

    e[t, i] = sum_{claims k: j -> i} beta[k] * d[t - lag[k], j]      (the causes' pull)
    d[t, i] = phi[i] d[t-1, i] + (1 - phi[i]) e[t, i] + sigma[i] drive[t, i]   free node
    d[t, i] = drive[t, i]                                                   held node

and ``d[0, i] = init_sd[i] drive[0, i]`` (free) or ``drive[0, i]`` (held). For free nodes
``drive`` holds the standard-normal shocks; for held nodes (those whose levels the model
samples directly, or a strategy's levers) their deviations. ``e`` is an output too: the
model needs it for the density of the held nodes' implied shocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from forecast.compiled.numba_ops import jit, register_numba
from forecast.scenario.graph import Graph, causal_order


@jit
def recurrence(phi, sigma, beta, init_sd, drive, held, order, start, claim, cause, lag):
    """``(d, e)`` (years x nodes) from the equations in the module docstring. Claims are
    grouped by effect: those of node ``i`` are ``start[i] .. start[i+1]`` of ``claim``
    (index into ``beta``), ``cause`` and ``lag``; ``order`` lists nodes causes first."""
    n_years, n = drive.shape
    d = np.zeros((n_years, n))
    e = np.zeros((n_years, n))
    for i in range(n):
        d[0, i] = drive[0, i] if held[i] else init_sd[i] * drive[0, i]
    for t in range(1, n_years):
        for q in range(n):
            i = order[q]
            acc = 0.0
            for k in range(start[i], start[i + 1]):
                acc += beta[claim[k]] * d[t - lag[k], cause[k]]
            e[t, i] = acc
            if held[i]:
                d[t, i] = drive[t, i]
            else:
                d[t, i] = phi[i] * d[t - 1, i] + (1.0 - phi[i]) * acc + sigma[i] * drive[t, i]
    return d, e


@jit
def recurrence_grad(phi, sigma, beta, init_sd, drive, d, e, d_bar, e_bar, held, order, start, claim, cause, lag):
    """Reverse mode of :func:`recurrence`: the gradient of ``sum(d_bar * d + e_bar * e)``
    with respect to ``phi, sigma, beta, init_sd, drive``. Latest year first and, within a
    year, effects before their causes, so each adjoint is complete before it is used."""
    n_years, n = drive.shape
    a = d_bar.copy()  # adjoint of d, accumulated
    phi_bar, sigma_bar, init_sd_bar = np.zeros(n), np.zeros(n), np.zeros(n)
    beta_bar = np.zeros(beta.shape[0])
    drive_bar = np.zeros((n_years, n))
    for t in range(n_years - 1, 0, -1):
        for q in range(n - 1, -1, -1):
            i = order[q]
            ai = a[t, i]
            if held[i]:
                drive_bar[t, i] = ai
                ae = e_bar[t, i]
            else:
                phi_bar[i] += ai * (d[t - 1, i] - e[t, i])
                sigma_bar[i] += ai * drive[t, i]
                drive_bar[t, i] = ai * sigma[i]
                a[t - 1, i] += ai * phi[i]
                ae = e_bar[t, i] + ai * (1.0 - phi[i])
            for k in range(start[i], start[i + 1]):
                j, s = cause[k], t - lag[k]
                beta_bar[claim[k]] += ae * d[s, j]
                a[s, j] += ae * beta[claim[k]]
    for i in range(n):
        if held[i]:
            drive_bar[0, i] = a[0, i]
        else:
            init_sd_bar[i] = a[0, i] * drive[0, i]
            drive_bar[0, i] = a[0, i] * init_sd[i]
    return phi_bar, sigma_bar, beta_bar, init_sd_bar, drive_bar


def sampled_history(phi: Any, sigma: Any, beta: Any, init_sd: Any, drive: Any, graph: Graph,
                    held: np.ndarray) -> tuple[Any, Any]:
    """``(d, e)`` as tensors: the deviations over the history years and the causes' pull."""
    return HistoryRecurrence.of(graph, held)(phi, sigma, beta, init_sd, drive)


class _Claims(Op):
    """The graph as an Op's props (tuples, hashable): claims grouped by effect, the causal
    order of nodes and which nodes are held."""

    __props__ = ("held", "order", "start", "claim", "cause", "lag")

    def __init__(self, held, order, start, claim, cause, lag):
        self.held, self.order, self.start, self.claim, self.cause, self.lag = held, order, start, claim, cause, lag

    @classmethod
    def of(cls, graph: Graph, held: np.ndarray):
        edges = sorted(((int(e), int(c), lag, int(k))
                        for lag in (0, 1)
                        for k, c, e in zip(graph.slot[lag], graph.cause[lag], graph.effect[lag])),
                       key=lambda edge: edge[0])
        counts = np.bincount(np.array([e for e, *_ in edges], dtype=int), minlength=graph.n_nodes)
        start = np.concatenate([[0], np.cumsum(counts)])
        as_tuple = lambda v: tuple(int(x) for x in v)  # noqa: E731
        return cls(as_tuple(np.asarray(held) > 0), as_tuple(causal_order(graph)), as_tuple(start),
                   as_tuple(k for *_, k in edges), as_tuple(c for _, c, *_ in edges),
                   as_tuple(lag for _, _, lag, _ in edges))

    def static(self) -> tuple[np.ndarray, ...]:
        """The props as the kernels take them."""
        return (np.array(self.held, dtype=np.bool_), *(np.array(v, dtype=np.int64) for v in
                (self.order, self.start, self.claim, self.cause, self.lag)))


class HistoryRecurrence(_Claims):
    """``(phi, sigma, beta, init_sd, drive) -> (d, e)``; see the module docstring."""

    def make_node(self, *inputs) -> Apply:
        inputs = [pt.as_tensor_variable(v).astype("float64") for v in inputs]
        drive = inputs[-1]
        return Apply(self, inputs, [drive.type(), drive.type()])

    def perform(self, node, inputs, output_storage) -> None:
        d, e = recurrence(*(np.asarray(v, dtype=float) for v in inputs), *self.static())
        output_storage[0][0], output_storage[1][0] = d, e

    def infer_shape(self, node, shapes):
        return [shapes[-1], shapes[-1]]

    def pullback(self, inputs, outputs, cotangents):
        from pytensor.gradient import DisconnectedType

        bars = [pt.zeros_like(out) if isinstance(c.type, DisconnectedType) else c
                for out, c in zip(outputs, cotangents)]
        grad = HistoryRecurrenceGrad(self.held, self.order, self.start, self.claim, self.cause, self.lag)
        return grad(*inputs, *outputs, *bars)


class HistoryRecurrenceGrad(_Claims):
    """``(phi, sigma, beta, init_sd, drive, d, e, d_bar, e_bar) -> gradients of the first five``."""

    def make_node(self, *inputs) -> Apply:
        inputs = [pt.as_tensor_variable(v).astype("float64") for v in inputs]
        return Apply(self, inputs, [v.type() for v in inputs[:5]])

    def perform(self, node, inputs, output_storage) -> None:
        grads = recurrence_grad(*(np.asarray(v, dtype=float) for v in inputs), *self.static())
        for storage, value in zip(output_storage, grads):
            storage[0] = value

    def infer_shape(self, node, shapes):
        return shapes[:5]


def _numba_recurrence(op: HistoryRecurrence, node) -> Any:
    from pytensor.link.numba.dispatch.basic import numba_njit

    held, order, start, claim, cause, lag = op.static()

    @numba_njit
    def history_recurrence(phi, sigma, beta, init_sd, drive):
        return recurrence(phi, sigma, beta, init_sd, drive, held, order, start, claim, cause, lag)

    return history_recurrence


def _numba_recurrence_grad(op: HistoryRecurrenceGrad, node) -> Any:
    from pytensor.link.numba.dispatch.basic import numba_njit

    held, order, start, claim, cause, lag = op.static()

    @numba_njit
    def history_recurrence_grad(phi, sigma, beta, init_sd, drive, d, e, d_bar, e_bar):
        return recurrence_grad(phi, sigma, beta, init_sd, drive, d, e, d_bar, e_bar,
                               held, order, start, claim, cause, lag)

    return history_recurrence_grad


register_numba(HistoryRecurrence, __file__, _numba_recurrence)
register_numba(HistoryRecurrenceGrad, __file__, _numba_recurrence_grad)
