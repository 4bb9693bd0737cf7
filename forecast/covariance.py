"""The likelihood of the indicators with the history integrated out: one compiled PyTensor Op.

Given the parameters, the standardised indicators are jointly Gaussian,
``z ~ Normal(mean, diag(scale) C diag(scale) + diag(noise_var))``, where ``C[a, b]`` is the
covariance of the latent deviations ``d[year[a], node[a]]`` and ``d[year[b], node[b]]``
(:func:`forecast.dynamics.observation_covariance` writes ``C`` with tensor operations and is
the reference the kernels are tested against). Written with tensor operations, this density
and its gradient take about 120 small PyTensor operations: each costs numba typing and LLVM
optimisation when the model compiles and a few microseconds per gradient. Here it is one numba kernel, cached on disk, with its
gradient written by hand (reverse mode through the Cholesky factor and the two recursions
below), which cuts both the compile and the time per gradient.

With ``A`` the yearly transition matrix, ``Q`` the covariance of a year's shocks and
``s0`` the variances of the first year's deviations (row-vector form, see
:func:`forecast.dynamics.state_dynamics`)::

    P[k] = A^k                            V[0] = diag(s0)
    V[s] = A^T V[s-1] A + Q               covariance of d[s]
    C[a, b] = sum_k P[t-s][k, i] V[s][k, j]    for d[t, i], d[s, j] and t >= s
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from forecast.kernels import jit as _jit
from forecast.kernels import register_numba


def evidence_logp(z: Any, mean: Any, scale: Any, noise_var: Any, A: Any, s0: Any, Q: Any,
                  year: np.ndarray, node: np.ndarray, n_years: int) -> Any:
    """Log density of the observations ``z`` (a scalar tensor); see the module docstring."""
    op = GaussianEvidence(tuple(int(y) for y in year), tuple(int(n) for n in node), int(n_years))
    return op(A, s0, Q, scale, noise_var, z - mean)[0]


# The kernels (module-level: see forecast.kernels). They keep transposes,
# ``PT[k] = (A^k)^T`` and ``W[s] = V[s]^T``, so that inner loops run along contiguous rows.


# Plain loops: for matrices of the sizes the integrated-out model takes (model.MARGINAL_BUDGET)
# a BLAS call costs about as much, and makes the cold compile half as long again.
@_jit
def add_product(out, X, Y):
    """out += X @ Y"""
    for i in range(X.shape[0]):
        for k in range(X.shape[1]):
            x = X[i, k]
            for j in range(Y.shape[1]):
                out[i, j] += x * Y[k, j]


@_jit
def add_product_tn(out, X, Y):
    """out += X^T @ Y"""
    for k in range(X.shape[0]):
        for i in range(X.shape[1]):
            x = X[k, i]
            for j in range(Y.shape[1]):
                out[i, j] += x * Y[k, j]


@_jit
def add_product_nt(out, X, Y):
    """out += X @ Y^T"""
    for i in range(X.shape[0]):
        for j in range(Y.shape[0]):
            acc = 0.0
            for k in range(X.shape[1]):
                acc += X[i, k] * Y[j, k]
            out[i, j] += acc


@_jit
def recursions(A, s0, Q, n_years):
    """``PT[k] = (A^k)^T`` and ``W[s] = V[s]^T`` for every year."""
    n = A.shape[0]
    PT = np.zeros((n_years, n, n))  # (A^k)^T
    W = np.zeros((n_years, n, n))  # V[s]^T
    AW = np.empty((n, n))
    for i in range(n):
        PT[0, i, i] = 1.0
        W[0, i, i] = s0[i]
    for s in range(1, n_years):
        add_product_tn(PT[s], A, PT[s - 1])
        AW[:] = 0.0
        add_product_tn(AW, A, W[s - 1])
        W[s] = Q.T
        add_product(W[s], AW, A)
    return PT, W


@_jit
def covariance(PT, W, year, node):
    """``C[a, b]`` for every pair of observations (see the module docstring)."""
    n_obs, n = year.shape[0], PT.shape[1]
    C = np.empty((n_obs, n_obs))
    for a in range(n_obs):
        for b in range(n_obs):
            if year[a] >= year[b]:
                p, w = PT[year[a] - year[b], node[a]], W[year[b], node[b]]
                acc = 0.0
                for k in range(n):
                    acc += p[k] * w[k]
                C[a, b] = acc
    for a in range(n_obs):
        for b in range(n_obs):
            if year[a] < year[b]:
                C[a, b] = C[b, a]
    return C


@_jit
def covariance_grad(A, PT, W, year, node, C_bar):
    """``d loss / d (A, s0, Q)`` from ``C_bar = d loss / d C``: reverse mode through the pairs,
    then through the two recursions (``PT, W`` from :func:`recursions`), latest year first."""
    n_years, n_obs, n = PT.shape[0], year.shape[0], A.shape[0]
    PT_bar = np.zeros_like(PT)
    W_bar = np.zeros_like(W)
    for a in range(n_obs):
        for b in range(n_obs):
            if year[a] >= year[b]:
                g = C_bar[a, b]
                if year[a] > year[b]:
                    g += C_bar[b, a]  # the mirrored entry is the same number
                lag, i, j, s = year[a] - year[b], node[a], node[b], year[b]
                for k in range(n):
                    PT_bar[lag, i, k] += g * W[s, j, k]
                    W_bar[s, j, k] += g * PT[lag, i, k]
    A_bar = np.zeros((n, n))
    Q_bar = np.zeros((n, n))
    T1 = np.empty((n, n))
    for s in range(n_years - 1, 0, -1):  # W[s] = A^T W[s-1] A + Q^T
        Q_bar += W_bar[s].T
        T1[:] = 0.0
        add_product(T1, W[s - 1], A)
        add_product_nt(A_bar, T1, W_bar[s])
        T1[:] = 0.0
        add_product_tn(T1, W[s - 1], A)
        add_product(A_bar, T1, W_bar[s])
        T1[:] = 0.0
        add_product(T1, A, W_bar[s])
        add_product_nt(W_bar[s - 1], T1, A)
    for k in range(n_years - 1, 0, -1):  # PT[k] = A^T PT[k-1]
        add_product_nt(A_bar, PT[k - 1], PT_bar[k])
        add_product(PT_bar[k - 1], A, PT_bar[k])
    s0_bar = np.empty(n)
    for i in range(n):
        s0_bar[i] = W_bar[0, i, i]
    return A_bar, s0_bar, Q_bar


@_jit
def cholesky(S):
    """Lower factor of S, and whether S is positive definite."""
    n = S.shape[0]
    L = np.zeros_like(S)
    for j in range(n):
        d = S[j, j]
        for k in range(j):
            d -= L[j, k] * L[j, k]
        if not d > 0.0:
            return L, False
        L[j, j] = np.sqrt(d)
        for i in range(j + 1, n):
            acc = S[i, j]
            for k in range(j):
                acc -= L[i, k] * L[j, k]
            L[i, j] = acc / L[j, j]
    return L, True


@_jit
def forward_solve(L, r):
    """L^-1 r for lower-triangular L."""
    y = np.empty_like(r)
    for i in range(r.shape[0]):
        acc = r[i]
        for k in range(i):
            acc -= L[i, k] * y[k]
        y[i] = acc / L[i, i]
    return y


@_jit
def total_covariance(PT, W, scale, noise_var, year, node):
    """``C`` and the indicators' covariance ``S = diag(scale) C diag(scale) + diag(noise_var)``."""
    C = covariance(PT, W, year, node)
    S = np.empty_like(C)
    for a in range(C.shape[0]):
        for b in range(C.shape[0]):
            S[a, b] = scale[a] * scale[b] * C[a, b]
        S[a, a] += noise_var[a]
    return C, S


@_jit
def evidence_kernel(A, s0, Q, scale, noise_var, resid, year, node, n_years):
    """The log density and its gradient with respect to each input, in one pass (the sampler
    always asks for both)."""
    n_obs = resid.shape[0]
    PT, W = recursions(A, s0, Q, n_years)  # once, for the density and for its gradient
    C, S = total_covariance(PT, W, scale, noise_var, year, node)
    L, ok = cholesky(S)
    if not ok:  # the density is -inf here: no direction to follow
        return (-np.inf, np.zeros_like(A), np.zeros_like(s0), np.zeros_like(Q), np.zeros_like(scale),
                np.zeros_like(noise_var), np.zeros_like(resid))
    y = forward_solve(L, resid)
    logp = -0.5 * n_obs * np.log(2.0 * np.pi)
    for i in range(n_obs):
        logp -= 0.5 * y[i] * y[i] + np.log(L[i, i])
    alpha = np.empty(n_obs)  # S^-1 resid = L^-T y
    for i in range(n_obs - 1, -1, -1):
        acc = y[i]
        for k in range(i + 1, n_obs):
            acc -= L[k, i] * alpha[k]
        alpha[i] = acc / L[i, i]
    U = np.zeros_like(L)  # (L^-1)^T, upper triangular, so every inner loop runs along rows
    for i in range(n_obs):
        U[i, i] = 1.0 / L[i, i]
        for j in range(i):
            acc = 0.0
            for k in range(j, i):
                acc -= L[i, k] * U[j, k]
            U[j, i] = acc / L[i, i]
    S_inv = np.empty_like(S)  # S^-1 = U U^T
    for a in range(n_obs):
        for b in range(a + 1):
            acc = 0.0
            for k in range(a, n_obs):
                acc += U[a, k] * U[b, k]
            S_inv[a, b] = acc
            S_inv[b, a] = acc
    S_bar = np.empty_like(S)  # d logp / d S = (alpha alpha^T - S^-1) / 2
    for a in range(n_obs):
        for b in range(n_obs):
            S_bar[a, b] = 0.5 * (alpha[a] * alpha[b] - S_inv[a, b])
    C_bar = np.empty_like(C)
    scale_bar = np.zeros(n_obs)
    noise_var_bar = np.empty(n_obs)
    for a in range(n_obs):
        noise_var_bar[a] = S_bar[a, a]
        for b in range(n_obs):
            C_bar[a, b] = S_bar[a, b] * scale[a] * scale[b]
            scale_bar[a] += 2.0 * S_bar[a, b] * scale[b] * C[a, b]
    A_bar, s0_bar, Q_bar = covariance_grad(A, PT, W, year, node, C_bar)
    return logp, A_bar, s0_bar, Q_bar, scale_bar, noise_var_bar, -alpha


def _static(op: GaussianEvidence) -> tuple[np.ndarray, np.ndarray, int]:
    """The observations' years and nodes as the kernels take them."""
    return np.array(op.year, dtype=np.int64), np.array(op.node, dtype=np.int64), op.n_years


class GaussianEvidence(Op):
    """``(A, s0, Q, scale, noise_var, resid) -> (log density, its gradient by input)`` for the
    residuals ``z - mean``, at fixed observation years and nodes (the Op's props).

    The gradient is an output, not a second Op, so that one kernel call serves the sampler's
    request for both; the pullback scales it by the cotangent of the log density. Second
    derivatives are not available.
    """

    __props__ = ("year", "node", "n_years")

    def __init__(self, year: tuple[int, ...], node: tuple[int, ...], n_years: int):
        self.year, self.node, self.n_years = year, node, n_years

    def make_node(self, *inputs) -> Apply:
        inputs = [pt.as_tensor_variable(v).astype("float64") for v in inputs]
        return Apply(self, inputs, [pt.scalar(dtype="float64"), *(v.type() for v in inputs)])

    def perform(self, node, inputs, output_storage) -> None:
        args = (np.asarray(v, dtype=float) for v in inputs)
        logp, *grads = evidence_kernel(*args, *_static(self))
        output_storage[0][0] = np.asarray(logp)
        for storage, value in zip(output_storage[1:], grads):
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


def _numba_gaussian_evidence(op: GaussianEvidence, node) -> Any:
    from pytensor.link.numba.dispatch.basic import numba_njit

    year, where, n_years = _static(op)

    @numba_njit
    def gaussian_evidence(A, s0, Q, scale, noise_var, resid):
        logp, A_bar, s0_bar, Q_bar, scale_bar, noise_var_bar, resid_bar = evidence_kernel(
            A, s0, Q, scale, noise_var, resid, year, where, n_years)
        out = np.empty(())
        out[()] = logp
        return out, A_bar, s0_bar, Q_bar, scale_bar, noise_var_bar, resid_bar

    return gaussian_evidence


register_numba(GaussianEvidence, __file__, _numba_gaussian_evidence)
