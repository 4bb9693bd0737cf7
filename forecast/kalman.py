"""The likelihood of the indicators with the history integrated out: a Kalman filter, compiled
as one PyTensor Op with its gradient written by hand.

Given the parameters, the latent deviations ``d[t]`` (a row vector over the state) follow the
linear Gaussian recursion of :func:`forecast.dynamics.state_dynamics`, and each
standardised indicator observes one of them with noise::

    d[0] ~ Normal(0, diag(s0))
    d[t] = d[t-1] A + shock[t],   shock[t] ~ Normal(0, Q)
    z[a] - mean[a] = scale[a] d[year[a], node[a]] + noise[a],   noise[a] ~ Normal(0, noise_var[a])

so the indicators are jointly Gaussian, with the covariance that
:func:`forecast.dynamics.observation_covariance` spells out (the readable reference the
tests hold this Op to). Their density is computed here by the prediction-error
decomposition, year by year and one observation at a time (scalar updates, no matrix
inverse)::

    predict:  m <- A^T m,   P <- A^T P A + Q
    update:   p = P[:, k],  S = c^2 p[k] + r,  v = z - c m[k]
              log p += -(log 2 pi + log S + v^2 / S) / 2
              m <- m + (c v / S) p,   P <- P - (c^2 / S) p p^T

for an observation of node ``k`` with scale ``c`` and noise variance ``r``. With ``A``
sparse (persistence and claims: products with it run over its support only) this costs
``years x state x support + observations x state^2``, linear in years, where the dense
multivariate normal it replaced cost ``observations^3``. The reverse pass (latest observation first)
needs only each update's column ``p`` and scalars, and each year's filtered moments.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from forecast.kernels import jit as _jit
from forecast.kernels import register_numba

LOG_2PI = float(np.log(2.0 * np.pi))


def evidence_logp(z: Any, mean: Any, scale: Any, noise_var: Any, A: Any, s0: Any, Q: Any,
                  year: np.ndarray, node: np.ndarray, support: np.ndarray) -> Any:
    """Log density of the observations ``z`` (a scalar tensor); see the module docstring.
    ``support`` (state x state, boolean): where ``A`` can be non-zero
    (:func:`forecast.dynamics.transition_support`); ``A`` must be zero elsewhere."""
    support = np.asarray(support, dtype=bool)
    op = KalmanEvidence(tuple(int(y) for y in year), tuple(int(k) for k in node),
                        tuple(int(i) for i in np.flatnonzero(support)), support.shape[0])
    return op(A, s0, Q, scale, noise_var, z - mean)[0]


# The kernels are module-level (see forecast.kernels) and use plain loops: for the state sizes
# the integrated-out model takes (model.MARGINAL_BUDGET) a BLAS call costs about as much, and
# lengthens the cold compile. ``A`` is sparse (persistence and claims): its support comes in
# compressed rows, ``A[k, col[start[k]:start[k + 1]]]``, and products with it cost
# ``nodes x support`` instead of ``nodes^3``.

@_jit
def predict(A, start, col, P, Q, out, AP):
    """``out = A^T P A + Q`` (``AP``: work space)."""
    n = A.shape[0]
    for i in range(n):  # AP = A^T P
        for j in range(n):
            AP[i, j] = 0.0
    for k in range(n):
        for e in range(start[k], start[k + 1]):
            i = col[e]
            a = A[k, i]
            for j in range(n):
                AP[i, j] += a * P[k, j]
    for i in range(n):
        for j in range(n):
            out[i, j] = Q[i, j]
    for i in range(n):
        for k in range(n):
            x = AP[i, k]
            for e in range(start[k], start[k + 1]):
                out[i, col[e]] += x * A[k, col[e]]


@_jit
def predict_grad(A, start, col, P, G, A_bar, out, PA, AG):
    """Pull ``G = d loss / d (A^T P A)`` back, both symmetric (``P`` a filtered covariance):
    ``A_bar += 2 P A G`` on ``A``'s support and ``out = A G A^T``, the cotangent of ``P``
    (``PA``, ``AG``: work space)."""
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            PA[i, j] = 0.0
            AG[i, j] = 0.0
    for i in range(n):
        for k in range(n):
            x = P[i, k]
            for e in range(start[k], start[k + 1]):
                PA[i, col[e]] += x * A[k, col[e]]
    for i in range(n):
        for e in range(start[i], start[i + 1]):
            k = col[e]
            a = A[i, k]
            acc = 0.0
            for j in range(n):
                AG[i, j] += a * G[k, j]
                acc += PA[i, j] * G[k, j]
            A_bar[i, k] += 2.0 * acc
    for i in range(n):
        for j in range(i + 1):
            acc = 0.0
            for e in range(start[j], start[j + 1]):
                acc += AG[i, col[e]] * A[j, col[e]]
            out[i, j] = acc
            out[j, i] = acc


@_jit
def no_density(A, s0, Q, scale, noise_var, resid):
    """-inf and a zero gradient: where the covariance is not positive definite there is no
    direction to follow, and the sampler rejects the point."""
    return (-np.inf, np.zeros_like(A), np.zeros_like(s0), np.zeros_like(Q), np.zeros_like(scale),
            np.zeros_like(noise_var), np.zeros_like(resid))


@_jit
def kalman_kernel(A, s0, Q, scale, noise_var, resid, start, col, order, year, node):
    """The log density and its gradient with respect to each input, in one pass (the sampler
    always asks for both). ``start, col``: ``A``'s support (the gradient of ``A`` is given
    there, zero elsewhere); ``order``: the observations sorted by year."""
    n, n_obs = A.shape[0], resid.shape[0]
    last = year[order[n_obs - 1]] + 1 if n_obs else 1  # years after the last observation add nothing
    filtered_P = np.empty((last, n, n))  # moments after each year's updates, before the next predict
    filtered_m = np.empty((last, n))
    column = np.empty((n_obs, n))  # p of each update
    S_of = np.empty(n_obs)
    v_of = np.empty(n_obs)
    mk_of = np.empty(n_obs)  # m[k] before the update
    P = np.zeros((n, n))
    m, m_next = np.zeros(n), np.empty(n)
    work, work2, work3 = np.empty((n, n)), np.empty((n, n)), np.empty((n, n))
    for i in range(n):
        P[i, i] = s0[i]
    logp = 0.0
    j = 0
    for t in range(last):
        if t > 0:
            for i in range(n):
                m_next[i] = 0.0
            for k in range(n):
                for e in range(start[k], start[k + 1]):
                    m_next[col[e]] += A[k, col[e]] * m[k]
            for i in range(n):
                m[i] = m_next[i]
            predict(A, start, col, filtered_P[t - 1], Q, P, work)
        while j < n_obs and year[order[j]] == t:
            a = order[j]
            k, c = node[a], scale[a]
            p = column[j]  # P[:, k], kept for the reverse pass
            for i in range(n):
                p[i] = P[i, k]
            S = c * c * p[k] + noise_var[a]
            if not S > 0.0:
                return no_density(A, s0, Q, scale, noise_var, resid)
            v = resid[a] - c * m[k]
            logp -= 0.5 * (LOG_2PI + np.log(S) + v * v / S)
            S_of[j], v_of[j], mk_of[j] = S, v, m[k]
            g, h = c * v / S, c * c / S
            for i in range(n):
                m[i] += g * p[i]
                hp = h * p[i]
                for l in range(n):
                    P[i, l] -= hp * p[l]
            j += 1
        for i in range(n):
            filtered_m[t, i] = m[i]
            for l in range(n):
                filtered_P[t, i, l] = P[i, l]
    if not np.isfinite(logp):
        return no_density(A, s0, Q, scale, noise_var, resid)

    A_bar, Q_bar = np.zeros((n, n)), np.zeros((n, n))
    scale_bar, noise_var_bar, resid_bar = np.zeros(n_obs), np.zeros(n_obs), np.zeros(n_obs)
    # P's cotangent is kept symmetric (P is), so that its products run along rows; the
    # gradient of Q is then its symmetric part, which is all a covariance needs.
    m_bar, P_bar = np.zeros(n), np.zeros((n, n))
    Pp = np.empty(n)  # P_bar p
    for t in range(last - 1, -1, -1):
        while j > 0 and year[order[j - 1]] == t:
            j -= 1
            a = order[j]
            k, c = node[a], scale[a]
            p, S, v = column[j], S_of[j], v_of[j]
            g, h = c * v / S, c * c / S
            g_bar = 0.0  # d loss / d (c v / S), through m
            h_bar = 0.0  # d loss / d (c^2 / S), through P
            for i in range(n):
                g_bar += m_bar[i] * p[i]
                acc = 0.0
                for l in range(n):
                    acc += P_bar[i, l] * p[l]
                Pp[i] = acc
                h_bar -= p[i] * acc
            v_bar = -v / S + g_bar * c / S
            S_bar = -0.5 * (1.0 / S - v * v / (S * S)) - (g_bar * c * v + h_bar * c * c) / (S * S)
            c_bar = g_bar * v / S + h_bar * 2.0 * c / S + S_bar * 2.0 * c * p[k] - v_bar * mk_of[j]
            for i in range(n):  # p = P[:, k] = P[k, :]: half its cotangent to each
                half = 0.5 * g * m_bar[i] - h * Pp[i]
                P_bar[i, k] += half
                P_bar[k, i] += half
            P_bar[k, k] += S_bar * c * c
            m_bar[k] -= c * v_bar
            scale_bar[a], noise_var_bar[a], resid_bar[a] = c_bar, S_bar, v_bar
        if t > 0:  # m = A^T m_prev, P = A^T P_prev A + Q
            Q_bar += P_bar
            m_prev = filtered_m[t - 1]
            for i in range(n):  # m_next: m_bar of the previous year
                m_next[i] = 0.0
            for i in range(n):
                for e in range(start[i], start[i + 1]):
                    l = col[e]
                    A_bar[i, l] += m_prev[i] * m_bar[l]
                    m_next[i] += A[i, l] * m_bar[l]
            predict_grad(A, start, col, filtered_P[t - 1], P_bar, A_bar, work, work2, work3)
            for i in range(n):
                m_bar[i] = m_next[i]
                for l in range(n):
                    P_bar[i, l] = work[i, l]
    s0_bar = np.empty(n)
    for i in range(n):
        s0_bar[i] = P_bar[i, i]
    return logp, A_bar, s0_bar, Q_bar, scale_bar, noise_var_bar, resid_bar


def _layout(support: np.ndarray, n_state: int, year, node) -> tuple:
    """``A``'s support (flat indices) in compressed rows, the observations' order by year,
    their years and nodes, as the kernel takes them: read-only, as numba types the Op's
    constants, so that a call from NumPy (:func:`solve_evidence`) finds the kernel the model
    compiled in the same process instead of compiling it again."""
    row, col = np.divmod(support, n_state)
    start = np.searchsorted(row, np.arange(n_state + 1))
    year = np.asarray(year)
    arrays = start, col, np.argsort(year, kind="stable"), year, np.asarray(node)
    out = tuple(np.array(a, dtype=np.int64) for a in arrays)
    for a in out:
        a.flags.writeable = False
    return out


def _static(op: KalmanEvidence) -> tuple:
    return _layout(np.array(op.support, dtype=np.int64), op.n_state, op.year, op.node)


def solve_evidence(A: np.ndarray, s0: np.ndarray, Q: np.ndarray, scale: np.ndarray, noise_var: np.ndarray,
                   resid: np.ndarray, year: np.ndarray, node: np.ndarray, support: np.ndarray) -> np.ndarray:
    """``S^-1 resid`` for each parameter set (leading axis of every argument), ``S`` the
    indicators' covariance: minus the gradient of the log density with respect to the
    residuals, which the filter's reverse pass gives at the cost of one evaluation (no
    ``observations^3`` solve). :mod:`forecast.history` conditions the history with it."""
    layout = _layout(np.flatnonzero(support), support.shape[0], year, node)
    A, s0, Q, scale, noise_var, resid = (np.ascontiguousarray(x, dtype=float)
                                         for x in (A, s0, Q, scale, noise_var, resid))
    out = np.empty_like(resid)
    for i in range(resid.shape[0]):
        logp, *grads = kalman_kernel(A[i], s0[i], Q[i], scale[i], noise_var[i], resid[i], *layout)
        if not np.isfinite(logp):
            raise FloatingPointError(f"parameter set {i}: the indicators' covariance is not positive definite")
        out[i] = -grads[-1]
    return out


class KalmanEvidence(Op):
    """``(A, s0, Q, scale, noise_var, resid) -> (log density, its gradient by input)`` for the
    residuals ``z - mean``, at fixed observation years and nodes and a fixed support of ``A``
    (flat indices into the ``n_state x n_state`` matrix): the Op's props.

    The gradient is an output, not a second Op, so that one kernel call serves the sampler's
    request for both; the pullback scales it by the cotangent of the log density. Second
    derivatives are not available.
    """

    __props__ = ("year", "node", "support", "n_state")

    def __init__(self, year: tuple[int, ...], node: tuple[int, ...], support: tuple[int, ...], n_state: int):
        self.year, self.node, self.support, self.n_state = year, node, support, n_state

    def make_node(self, *inputs) -> Apply:
        inputs = [pt.as_tensor_variable(v).astype("float64") for v in inputs]
        return Apply(self, inputs, [pt.scalar(dtype="float64"), *(v.type() for v in inputs)])

    def perform(self, node, inputs, output_storage) -> None:
        args = (np.asarray(v, dtype=float) for v in inputs)
        logp, *grads = kalman_kernel(*args, *_static(self))
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


def _numba_kalman_evidence(op: KalmanEvidence, node) -> Any:
    from pytensor.link.numba.dispatch.basic import numba_njit

    start, col, order, year, where = _static(op)

    @numba_njit
    def kalman_evidence(A, s0, Q, scale, noise_var, resid):
        logp, A_bar, s0_bar, Q_bar, scale_bar, noise_var_bar, resid_bar = kalman_kernel(
            A, s0, Q, scale, noise_var, resid, start, col, order, year, where)
        out = np.empty(())
        out[()] = logp
        return out, A_bar, s0_bar, Q_bar, scale_bar, noise_var_bar, resid_bar

    return kalman_evidence


register_numba(KalmanEvidence, __file__, _numba_kalman_evidence)
