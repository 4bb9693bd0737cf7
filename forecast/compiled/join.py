"""Joining vectors in the model's graph, without PyTensor's ``Split`` in its gradient.

The priors' variables are joined into one vector per kind (the claims' effects, or a node
parameter whose priors differ in family). With ``pt.concatenate`` the gradient of the join
is a ``Split``, whose numba implementation formats an error message: compiling it took
~3.7 s, and without it the default scenario's graph compiles cold in ~19.5 s instead of ~26.
:func:`join_vectors` gives the same values, and as gradient a slice of the cotangent per
part: ``Subtensor``, which the graph already compiles many times over at next to no cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from forecast.compiled.numba_ops import register_numba


def join_vectors(parts: list[Any]) -> Any:
    """The float vectors ``parts``, one after another (``parts[0]`` itself when alone)."""
    return parts[0] if len(parts) == 1 else JoinVectors(len(parts))(*parts)


class JoinVectors(Op):
    """``concatenate(parts)`` of ``n_parts`` float64 vectors; its pullback slices the cotangent."""

    __props__ = ("n_parts",)

    def __init__(self, n_parts: int):
        self.n_parts = n_parts

    def make_node(self, *parts) -> Apply:
        parts = [pt.as_tensor_variable(p).astype("float64") for p in parts]
        if len(parts) != self.n_parts or any(p.type.ndim != 1 for p in parts):
            raise TypeError(f"JoinVectors({self.n_parts}) joins {self.n_parts} vectors")
        sizes = [p.type.shape[0] for p in parts]
        total = None if None in sizes else sum(sizes)
        return Apply(self, parts, [pt.vector(dtype="float64", shape=(total,))])

    def perform(self, node, inputs, output_storage) -> None:
        output_storage[0][0] = np.concatenate(inputs)

    def infer_shape(self, node, shapes):
        total = shapes[0][0]
        for shape in shapes[1:]:
            total = total + shape[0]
        return [(total,)]

    def pullback(self, inputs, outputs, cotangents):
        (g,) = cotangents
        grads, start = [], 0
        for p in inputs:
            size = p.type.shape[0] if p.type.shape[0] is not None else p.shape[0]
            grads.append(g[start:start + size])
            start = start + size
        return grads


def _numba_join(op: JoinVectors, node) -> Any:
    """A copy loop per part, written out for the Op's number of parts."""
    from pytensor.link.numba.cache import compile_numba_function_src
    from pytensor.link.numba.dispatch.basic import numba_njit

    names = [f"p{i}" for i in range(op.n_parts)]
    lines = [f"def join_vectors({', '.join(names)}):",
             f"    out = np.empty({' + '.join(f'{p}.shape[0]' for p in names)})",
             "    k = 0"]
    for p in names:
        lines += [f"    for i in range({p}.shape[0]):", f"        out[k + i] = {p}[i]", f"    k += {p}.shape[0]"]
    lines.append("    return out")
    fn = compile_numba_function_src("\n".join(lines) + "\n", "join_vectors", {"np": np})
    return numba_njit(fn)


register_numba(JoinVectors, __file__, _numba_join)
