"""The causal graph's structure: what each claim connects, in what order, and what reaches what.

Nothing here depends on the numbers of a scenario (priors, data): only on which claims exist
and their lags. The model, the compiled kernels and the forecasts all index the claims the
same way through :class:`Graph`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from graphlib import TopologicalSorter
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from forecast.scenario.domain import Scenario


@dataclass(frozen=True)
class Graph:
    """The claims as index arrays, split by lag, with the depth of same-year chains."""

    n_nodes: int
    cause: tuple[np.ndarray, np.ndarray]  # per lag (0, 1): cause node of each claim
    slot: tuple[np.ndarray, np.ndarray]  # per lag: position of the claim in the effect vector
    to_effect: tuple[np.ndarray, np.ndarray]  # per lag: one-hot (claims x nodes) onto the effect
    depth: int  # longest chain of same-year claims (fixed-point iterations needed)

    @classmethod
    def from_edges(cls, n_nodes: int, edges: list[tuple[int, int, int]]) -> "Graph":
        """``edges``: (cause index, effect index, lag) per claim, in claim order."""
        causes, slots, onto = [], [], []
        for lag in (0, 1):
            idx = [k for k, e in enumerate(edges) if e[2] == lag]
            causes.append(np.array([edges[k][0] for k in idx], dtype=int))
            slots.append(np.array(idx, dtype=int))
            m = np.zeros((len(idx), n_nodes))
            for row, k in enumerate(idx):
                m[row, edges[k][1]] = 1.0
            onto.append(m)
        return cls(n_nodes, tuple(causes), tuple(slots), tuple(onto), _longest_path(n_nodes, edges))

    @property
    def effect(self) -> tuple[np.ndarray, np.ndarray]:
        """Per lag: the effect node of each claim (the index ``to_effect`` is one-hot on)."""
        return tuple(m.argmax(axis=1) for m in self.to_effect)  # type: ignore[return-value]

    @cached_property
    def same_year_by_effect(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The same-year claims grouped by effect node, as compressed rows: node ``i``'s causes
        and slots are ``causes[first[i]:first[i + 1]]`` and ``slots[...]``; then the nodes in
        causal order. What the forecasts' compiled step reads (:func:`forecast.model.dynamics.simulate`),
        derived once per graph: ``(causes, slots, first, order)``."""
        first, at = same_year_grouped(self.effect[0], np.zeros(self.slot[0].size, dtype=int), self.n_nodes)
        return (self.cause[0][at].astype(np.int64), self.slot[0][at].astype(np.int64), first.astype(np.int64),
                np.array(causal_order(self), dtype=np.int64))


def same_year_grouped(node: np.ndarray, lag: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The same-year claims grouped by ``node`` (each claim's cause, or its effect), as
    compressed rows: node ``i``'s are ``claims[first[i]:first[i + 1]]`` (claim indices, in
    their order). Returns ``(first, claims)``."""
    same_year = np.flatnonzero(lag == 0)
    claims = same_year[np.argsort(node[same_year], kind="stable")]
    return np.searchsorted(node[claims], np.arange(n + 1)), claims


def _longest_path(n: int, edges: list[tuple[int, int, int]]) -> int:
    """Edges in the longest same-year path (the graph is acyclic: validated)."""
    children: dict[int, list[int]] = {}
    for c, e, lag in edges:
        if lag == 0:
            children.setdefault(c, []).append(e)
    memo: dict[int, int] = {}

    def longest(i: int) -> int:
        if i not in memo:
            memo[i] = max((1 + longest(j) for j in children.get(i, [])), default=0)
        return memo[i]

    return max((longest(i) for i in range(n)), default=0)


def graph_of(scenario: "Scenario") -> Graph:
    """The scenario's claims as a :class:`Graph` over its nodes, in declaration order."""
    index = {n: i for i, n in enumerate(scenario.node_ids)}
    return Graph.from_edges(len(index), [(index[c.cause], index[c.effect], c.lag) for c in scenario.claims])


def causal_order(graph: Graph) -> list[int]:
    """Nodes with every same-year cause before its effects (the graph is acyclic: validated)."""
    sorter = TopologicalSorter({i: set() for i in range(graph.n_nodes)})
    for cause, effect in zip(graph.cause[0], graph.effect[0]):
        sorter.add(int(effect), int(cause))
    return list(sorter.static_order())


def effects_first(graph: Graph) -> np.ndarray:
    """The nodes with each same-year claim's effect before its cause (the order in which the
    transition's same-year series ``G = I + M G`` is solved row by row)."""
    return np.array(causal_order(graph)[::-1], dtype=np.int64)


def same_year_reach(graph: Graph) -> np.ndarray:
    """``reach[i, j]`` when node ``i``'s deviation reaches node ``j``'s in the same year, through a
    chain of same-year claims (every node reaches itself): where ``G = (I - M)^-1`` can be
    non-zero."""
    n = graph.n_nodes
    same_year = np.zeros((n, n), dtype=bool)
    same_year[graph.cause[0], graph.effect[0]] = True
    reach = np.eye(n, dtype=bool)
    for _ in range(graph.depth):
        reach = reach | ((reach.astype(int) @ same_year.astype(int)) > 0)
    return reach


def transition_support(graph: Graph) -> np.ndarray:
    """Where the yearly transition ``A = F G`` can be non-zero, whatever the parameters:
    ``support[i, j]`` when node ``i``'s deviation reaches node ``j``'s a year later, through its
    own persistence or a lagged claim (``F``) followed by any chain of same-year claims
    (``G``). Boolean products of the claims' patterns, so the zeros are exactly the
    structural ones (:mod:`forecast.model.dynamics` builds the numbers)."""
    n = graph.n_nodes
    lagged = np.eye(n, dtype=bool)
    lagged[graph.cause[1], graph.effect[1]] = True
    return (lagged.astype(int) @ same_year_reach(graph).astype(int)) > 0


def upstream_of(support: np.ndarray, nodes: Any) -> np.ndarray:
    """``nodes`` and every node that moves one of them in some year, in index order: the
    closure of ``nodes`` under the transition's ``support`` (:func:`transition_support`;
    ``support[i, j]``: node ``i``'s deviation reaches node ``j``'s a year later, through a
    lagged claim or a same-year chain). These nodes evolve on their own, with their block of
    the transition and of the shocks' covariance, so the indicators of ``nodes`` say nothing
    of the others: :mod:`forecast.compiled.kalman` filters only this set."""
    keep = np.zeros(support.shape[0], dtype=bool)
    keep[np.asarray(nodes, dtype=np.int64)] = True
    while True:
        grown = keep | support[:, keep].any(axis=1)
        if np.array_equal(grown, keep):
            return np.flatnonzero(keep).astype(np.int64)
        keep = grown


def filtered_block(support: np.ndarray, nodes: Any) -> tuple[np.ndarray, np.ndarray]:
    """The nodes the Kalman filter keeps for indicators of ``nodes`` (:func:`upstream_of`) and
    the transition's support among them: what the model's likelihood, its cost estimate and
    the history's conditioning all filter over."""
    kept = upstream_of(support, nodes)
    return kept, support[np.ix_(kept, kept)]


def find_cycle(edges: list[tuple[str, str]]) -> list[str] | None:
    """A cycle in a directed graph as a node list (first node repeated), or None."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in list(graph):
        if n not in state and (found := visit(n)):
            return found
    return None
