"""The scenario's numbers as inputs of the model's graph, and its priors as PyMC variables.

Numbers written into a PyTensor graph as constants are compiled into its kernels, so every
edit of a prior would compile the model anew. As inputs, packed into one shared vector, they
leave the compiled graph as it was: a re-run after an edit finds it in the compile cache.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from forecast.scenario.priors import Distribution

#: The name of the shared vector that holds a model's scenario numbers.
NUMBERS = "scenario_numbers"


class GraphInputs:
    """The scenario's numbers that enter the model graph, packed into one shared vector.

    Numbers written into the graph as constants are compiled into its kernels: every edit
    of a prior would mean compiling anew (measured: 43 s instead of 19 s on the default
    scenario). As inputs they leave the compiled graph unchanged, and packing them into one
    vector keeps the sampler's per-input glue code small (one input instead of dozens).
    :func:`forecast.model.build.build_model` builds twice: once recording the numbers in the order
    they are used (``values=None``), then with the packed vector, slicing it in that order.

    Numbers taken with a ``label`` (a claim's hypothesis weights, the evidence) are recorded
    with their place in the vector (:attr:`slots`, also on the shared variable's ``tag``), so
    that a run can swap them without building or compiling anything
    (:class:`forecast.posterior.sampling.CompiledModel`).
    """

    def __init__(self, values: np.ndarray | None = None):
        import pytensor

        self.recorded: list[np.ndarray] = []
        self.slots: dict[str, slice] = {}
        self.vector = None if values is None else pytensor.shared(values, name=NUMBERS, shape=values.shape)
        if self.vector is not None:
            self.vector.tag.slots = self.slots
        self._values, self._at = values, 0

    def take(self, value: Any, label: str | None = None):
        arr = np.asarray(value, dtype=float)
        start = self._at if self.vector is not None else sum(r.size for r in self.recorded)
        if label is not None:
            self.slots[label] = slice(start, start + arr.size)
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


def graph_input(value: Any, label: str | None = None):
    """A number or array from the scenario as an input of the PyTensor graph, not a constant
    (see :class:`GraphInputs`; ``label`` records where it sits in the vector); outside
    :func:`graph_inputs`, a shared variable of its own."""
    inputs = _INPUTS.get()
    if inputs is not None:
        return inputs.take(value, label)
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


@dataclass(frozen=True)
class ScenarioNumbers:
    """A built model's vector of scenario numbers: the shared variable, its values, and where
    the labelled parts sit in it."""

    variable: Any  # the PyTensor shared variable
    values: np.ndarray
    slots: dict[str, slice]

    def with_parts(self, parts: dict[str, np.ndarray]) -> np.ndarray:
        """A copy of the values with labelled parts replaced (``{"weights:CLAIM": ...}``)."""
        out = np.array(self.values, dtype=float, copy=True)
        for label, value in parts.items():
            where = self.slots[label]
            value = np.asarray(value, dtype=float).ravel()
            if value.size != where.stop - where.start:
                raise ValueError(f"{label}: {value.size} numbers for a slot of {where.stop - where.start}")
            out[where] = value
        return out


def scenario_numbers(model) -> ScenarioNumbers:
    """The vector of scenario numbers of a model built by :func:`forecast.model.build.build_model`."""
    from pytensor.graph.traversal import ancestors

    outputs = list(model.free_RVs) + list(model.potentials) + list(model.observed_RVs) + list(model.deterministics)
    found = {v for v in ancestors(outputs) if getattr(v, "name", None) == NUMBERS}
    if len(found) != 1:
        raise RuntimeError(f"expected one shared {NUMBERS!r} vector in the model, found {len(found)}")
    variable = found.pop()
    return ScenarioNumbers(variable, np.asarray(variable.get_value()), dict(getattr(variable.tag, "slots", {})))
