"""The structural equations stepped forward, compiled: what every forecast runs.

:func:`forecast.model.dynamics.step` is the equations in NumPy, the readable reference (the
history's simulation uses it). Its same-year effects are solved by repeating the claims' sum
once per level of same-year chains, over every draw at once: on a 25-node scenario with 53
claims, that sum was most of a forecast's time (measured when the sensitivity analyses still
forecast every strategy again per claim: 135 s of 190). Here each draw's year visits the
nodes once, in causal order (every same-year
cause before its effects), so each claim is summed once: the same equations, the same
arithmetic per claim, summed in claim order (NumPy's matrix product may sum in another order:
the two agree to rounding, which ``tests/test_kernels.py`` holds them to).
"""

from __future__ import annotations

import numpy as np

from forecast.compiled.numba_ops import jit


@jit
def forward(d0, m0, g, eps, xi, phi, sigma, omega, beta, lag_cause, lag_slot, lag_effect,
            same_cause, same_slot, same_start, order, held, target):
    """Deviations (years, draws, nodes) and the last year's moving levels (draws, nodes).

    ``d0``, ``m0``, ``g``: the state before the first year (draws, nodes); ``eps``, ``xi``:
    the shocks, scaled (years, draws, nodes); ``phi``, ``sigma``, ``omega`` (draws, nodes) and
    ``beta`` (draws, claims): the parameters. Lagged claims: cause, slot in ``beta`` and effect
    of each. Same-year claims grouped by effect node: ``same_start[i]:same_start[i + 1]`` are
    node ``i``'s, with their causes and slots; ``order`` is the nodes in causal order.
    ``held`` (nodes,) and ``target`` (years, draws, nodes) the do-intervention, or empty."""
    years, draws, n = eps.shape
    out = np.empty((years, draws, n))
    m_last = np.empty((draws, n))
    intervened = held.size > 0
    prev, m, d = np.empty(n), np.empty(n), np.empty(n)
    lagged, r, free = np.empty(n), np.empty(n), np.empty(n)
    for k in range(draws):
        prev[:] = d0[k]
        m[:] = m0[k]
        for h in range(years):
            lagged[:] = 0.0
            for c in range(lag_cause.size):
                lagged[lag_effect[c]] += prev[lag_cause[c]] * beta[k, lag_slot[c]]
            for i in range(n):
                pull = 1.0 - phi[k, i]
                moved = g[k, i] + omega[k, i] * xi[h, k, i]
                ri = phi[k, i] * prev[i] + pull * (lagged[i] + m[i]) + moved + sigma[k, i] * eps[h, k, i]
                fi = pull
                if intervened:
                    ri = (1.0 - held[i]) * ri + held[i] * target[h, k, i]
                    fi = (1.0 - held[i]) * pull
                r[i] = ri
                free[i] = fi
                m[i] += moved
            for i in order:
                s = 0.0
                for q in range(same_start[i], same_start[i + 1]):
                    s += d[same_cause[q]] * beta[k, same_slot[q]]
                d[i] = r[i] + free[i] * s
            out[h, k] = d
            prev[:] = d
        m_last[k] = m
    return out, m_last


def as_argument(x) -> np.ndarray:
    """``x`` as :func:`forward` takes every float array: float64, C-contiguous and writable
    (a copy only where needed). numba compiles one version per kind of array it is given, a
    read-only view (``np.broadcast_to``'s) being another kind: every forecast passes the same
    kinds, so the kernel is compiled, or loaded from the cache, once."""
    return np.require(x, np.float64, ("C", "W"))


def compile_ahead() -> None:
    """Compile :func:`forward` into numba's cache for the arguments every forecast passes, on a
    one-node example. The background compile's child calls it after the likelihood's kernel,
    so that a run on a cold cache loads it at its first forecast instead of compiling it then
    (about 3.5 s)."""
    rows, years, index = as_argument(np.zeros((1, 1))), as_argument(np.zeros((1, 1, 1))), np.zeros(0, dtype=np.int64)
    forward(rows, rows, rows, years, years, rows, rows, rows, rows, index, index, index, index, index,
            np.zeros(2, dtype=np.int64), np.zeros(1, dtype=np.int64), as_argument(np.zeros(0)),
            as_argument(np.zeros((0, 0, 0))))
