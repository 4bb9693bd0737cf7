"""The scenario's numbers as inputs of the model's graph, and its priors as PyMC variables.

Numbers written into a PyTensor graph as constants are compiled into its kernels, so every
edit of a prior would compile the model anew. As inputs, packed into one shared vector, they
leave the compiled graph as it was: a re-run after an edit finds it in the compile cache.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from forecast.scenario.priors import Distribution


class GraphInputs:
    """The scenario's numbers that enter the model graph, packed into one shared vector.

    Numbers written into the graph as constants are compiled into its kernels: every edit
    of a prior would mean compiling anew (measured: 43 s instead of 19 s on the default
    scenario). As inputs they leave the compiled graph unchanged, and packing them into one
    vector keeps the sampler's per-input glue code small (one input instead of dozens).
    :func:`forecast.model.build_model` builds twice: once recording the numbers in the order
    they are used (``values=None``), then with the packed vector, slicing it in that order.
    """

    def __init__(self, values: np.ndarray | None = None):
        import pytensor

        self.recorded: list[np.ndarray] = []
        self.vector = None if values is None else pytensor.shared(values, name="scenario_numbers",
                                                                 shape=values.shape)
        self._values, self._at = values, 0

    def take(self, value: Any):
        arr = np.asarray(value, dtype=float)
        if self.vector is None:
            self.recorded.append(arr.ravel())
            return arr
        end = self._at + arr.size
        if not np.array_equal(self._values[self._at:end], arr.ravel()):  # a bug in the model code, not the input
            raise RuntimeError("the model used the scenario's numbers in another order on its second build")
        part = self.vector[self._at:end].reshape(arr.shape)
        self._at = end
        return part

    def packed(self) -> np.ndarray:
        return np.concatenate(self.recorded) if self.recorded else np.zeros(0)


_INPUTS: ContextVar[GraphInputs | None] = ContextVar("forecast_graph_inputs", default=None)


@contextmanager
def graph_inputs(inputs: GraphInputs):
    """Route :func:`graph_input` through ``inputs`` while building a model."""
    token = _INPUTS.set(inputs)
    try:
        yield inputs
    finally:
        _INPUTS.reset(token)


def graph_input(value: Any):
    """A number or array from the scenario as an input of the PyTensor graph, not a constant
    (see :class:`GraphInputs`); outside :func:`graph_inputs`, a shared variable of its own."""
    inputs = _INPUTS.get()
    if inputs is not None:
        return inputs.take(value)
    import pytensor

    arr = np.asarray(value, dtype=float)
    return pytensor.shared(arr, shape=arr.shape)


def pymc_variable(dist: Distribution, name: str | None = None, **kwargs: Any):
    """A PyMC variable (``name`` given, inside a model) or a ``.dist`` (no name).

    The parameters enter the graph as inputs (:func:`graph_input`), not as constants, so
    that editing a prior's numbers leaves the compiled model as it was and a re-run finds
    it in the compile cache.
    """
    import pymc as pm

    cls = getattr(pm, dist.name)  # name checked against REGISTRY, never user code
    params = {k: graph_input(v) for k, v in dist.params.items()}
    if name is None:
        return cls.dist(**params, **kwargs)
    return cls(name, **params, **kwargs)
