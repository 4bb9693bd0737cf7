"""The likelihood of the indicators with the history integrated out: a Kalman filter with its
gradient written by hand. The numba kernels, and their NumPy entries for the history and the
backtest's predictions.

Given the parameters (and the yearly scale of every shock, see below), the latent state
``x[t]`` (a row vector) follows the linear Gaussian recursion of
:func:`forecast.model.dynamics.state_space`::

    x[0] ~ Normal(0, diag(s0))
    x[t] = x[t-1] A + sum_k sqrt(lam[t, k]) e[t, k] v_k,    e ~ Normal(0, 1)
    z[a] - mean[a] = scale[a] x[year[a], node[a]] + noise[a],   noise[a] ~ Normal(0, noise_var[a])

each shock ``k`` loading the state along ``v_k`` with variance ``lam[t, k]`` that year, so the
indicators are jointly Gaussian. Their density is the prediction-error decomposition, year by
year and one observation at a time (scalar updates, no matrix inverse)::

    predict:  m <- A^T m,   P <- A^T P A + sum_k lam[t, k] v_k v_k^T
    update:   p = P[:, k],  S = c^2 p[k] + r,  v = z - c m[k]
              log p += -(log 2 pi + log S + v^2 / S) / 2
              m <- m + (c v / S) p,   P <- P - (c^2 / S) p p^T

for an observation of state ``k`` with scale ``c`` and noise variance ``r``. ``A`` and every
``v_k`` are sparse (their supports come in compressed rows, fixed by the claims), so this costs
``years x state x (support of A + support of the shocks) + observations x state^2``, linear in
years. The reverse pass (latest observation first) needs only each update's column ``p`` and
scalars, and each year's filtered moments. An observation whose ``observed`` flag is 0 is left
out (the backtest's held-back data: one compiled model serves every origin).

The Op starts from the model's parameters, not from ``A`` and the shocks: it builds them from
the claims (:func:`structure`, :func:`state_space`) and each observation's mean, scale and noise
from its indicator, and pulls the gradient back through both by hand. The whole likelihood is
then one node of the model's graph, where building it from PyTensor operations took about fifty
more, each compiled by numba on a cold start and each adding per-call overhead to every
gradient the sampler asks for.
"""

from __future__ import annotations

import numpy as np

from forecast.compiled.numba_ops import jit as _jit
from forecast.scenario.graph import filtered_block, same_year_grouped

LOG_2PI = float(np.log(2.0 * np.pi))

#: Blocks of the state per kept node: its deviation ``d``, its moving level ``m``, its drift ``g``.
BLOCKS = 3
#: Shocks per kept node: a transitory one (``eps``, into ``d``) and a level shift (``xi``).
SHOCKS = 2


# The kernels are module-level (see forecast.compiled.numba_ops) and use plain loops: for the
# state sizes of these models a BLAS call costs about as much, and lengthens the cold compile.
# ``A`` is sparse: its support comes in compressed rows, ``A[k, col[start[k]:start[k + 1]]]``,
# and products with it cost ``state x support`` instead of ``state^3``.

@_jit
def add_transposed_product(A, start, col, X, out):
    """``out += A^T X``, by rows: row ``k`` of ``X`` times ``A[k, i]`` into row ``i``, for
    each nonzero. Whole contiguous rows vectorise where a scatter into ``A``'s columns did
    not: with it, :func:`predict` and :func:`predict_grad` made the likelihood 1.4x faster
    at 8 nodes and 2.4x at 100."""
    n = A.shape[0]
    for k in range(n):
        for e in range(start[k], start[k + 1]):
            i = col[e]
            a = A[k, i]
            for j in range(n):
                out[i, j] += a * X[k, j]


@_jit
def predict_mean(A, start, col, m, m_next):
    """The state mean one year on, in place: ``m <- m A`` over the transition's support
    (``m_next`` is scratch space)."""
    n = m.shape[0]
    for i in range(n):
        m_next[i] = 0.0
    for k in range(n):
        for e in range(start[k], start[k + 1]):
            m_next[col[e]] += A[k, col[e]] * m[k]
    for i in range(n):
        m[i] = m_next[i]


@_jit
def predict(A, start, col, P, out, AP):
    """``out = A^T P A`` (``AP``: work space) as ``A^T (A^T P)^T`` (``P`` symmetric)."""
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            out[i, j] = 0.0
    add_transposed_product(A, start, col, P, out)
    for i in range(n):
        for j in range(n):
            AP[j, i] = out[i, j]
            out[i, j] = 0.0
    add_transposed_product(A, start, col, AP, out)


@_jit
def add_shocks(V, vstart, vcol, lam, t, P):
    """``P += sum_k lam[t-1, k] v_k v_k^T`` over each shock's support (``lam`` flat, one row
    of shocks per year after the first)."""
    K = V.shape[0]
    for k in range(K):
        c = lam[(t - 1) * K + k]
        for e in range(vstart[k], vstart[k + 1]):
            a = vcol[e]
            ca = c * V[k, a]
            for f in range(vstart[k], vstart[k + 1]):
                b = vcol[f]
                P[a, b] += ca * V[k, b]


@_jit
def predict_grad(A, start, col, P, G, A_bar, out, AG, AGt):
    """Pull ``G = d loss / d (A^T P A)`` back, both symmetric (``P`` a filtered covariance):
    ``A_bar += 2 P (A G)`` on ``A``'s support and ``out = A G A^T = A (A G)^T``, the
    cotangent of ``P`` (``AG``, ``AGt``: work space). By rows, as :func:`predict`."""
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            AG[i, j] = 0.0
    for i in range(n):
        for e in range(start[i], start[i + 1]):
            k = col[e]
            a = A[i, k]
            for j in range(n):
                AG[i, j] += a * G[k, j]
    for i in range(n):
        for j in range(n):
            AGt[j, i] = AG[i, j]
            out[i, j] = 0.0
    for i in range(n):
        for e in range(start[i], start[i + 1]):
            k = col[e]
            a = A[i, k]
            acc = 0.0
            for j in range(n):
                out[i, j] += a * AGt[k, j]
                acc += P[i, j] * AGt[k, j]
            A_bar[i, k] += 2.0 * acc


@_jit
def shocks_grad(V, vstart, vcol, lam, t, P_bar, V_bar, lam_bar):
    """Pull the cotangent ``P_bar`` (symmetric) of ``sum_k lam[t-1, k] v_k v_k^T`` back:
    ``lam_bar[t-1, k] = v_k^T P_bar v_k`` and ``V_bar[k] += 2 lam[t-1, k] P_bar v_k``."""
    K = V.shape[0]
    for k in range(K):
        c = lam[(t - 1) * K + k]
        quad = 0.0
        for e in range(vstart[k], vstart[k + 1]):
            a = vcol[e]
            acc = 0.0
            for f in range(vstart[k], vstart[k + 1]):
                acc += P_bar[a, vcol[f]] * V[k, vcol[f]]
            quad += V[k, a] * acc
            V_bar[k, a] += 2.0 * c * acc
        lam_bar[(t - 1) * K + k] += quad


@_jit
def last_year(observed, year):
    """One past the last year with an observation in use (years after it add nothing)."""
    last = 1
    for a in range(year.shape[0]):
        if observed[a] > 0.0 and year[a] + 1 > last:
            last = year[a] + 1
    return last


@_jit
def filter_kernel(A, start, col, s0, V, vstart, vcol, lam, scale, noise_var, resid, observed, order, year, node):
    """The log density and its gradient with respect to each input, in one pass (the sampler
    always asks for both): ``(logp, A_bar, s0_bar, V_bar, lam_bar, scale_bar, noise_var_bar,
    resid_bar)``; ``logp`` is -inf with zero cotangents where a variance is not positive.
    ``start, col`` and ``vstart, vcol``: the supports of ``A`` and of the shocks (gradients
    are given there, zero elsewhere); ``order``: the observations sorted by year."""
    n, n_obs = A.shape[0], resid.shape[0]
    last = last_year(observed, year)
    filtered_P = np.empty((last, n, n))  # moments after each year's updates, before the next predict
    filtered_m = np.empty((last, n))
    column = np.empty((n_obs, n))  # p of each update
    S_of, v_of, mk_of = np.empty(n_obs), np.empty(n_obs), np.empty(n_obs)  # mk: m[k] before the update
    P = np.zeros((n, n))
    m, m_next = np.zeros(n), np.empty(n)
    work, work2, work3 = np.empty((n, n)), np.empty((n, n)), np.empty((n, n))
    A_bar, V_bar, lam_bar = np.zeros((n, n)), np.zeros(V.shape), np.zeros(lam.shape)
    s0_bar = np.zeros(n)
    scale_bar, noise_var_bar, resid_bar = np.zeros(n_obs), np.zeros(n_obs), np.zeros(n_obs)
    for i in range(n):
        P[i, i] = s0[i]
    logp = 0.0
    j = 0
    for t in range(last):
        if t > 0:
            predict_mean(A, start, col, m, m_next)
            predict(A, start, col, filtered_P[t - 1], P, work)
            add_shocks(V, vstart, vcol, lam, t, P)
        while j < n_obs and year[order[j]] == t:
            a = order[j]
            if observed[a] > 0.0:
                k, c = node[a], scale[a]
                p = column[j]  # P[:, k], kept for the reverse pass, from P's lower triangle
                for i in range(k):
                    p[i] = P[k, i]
                for i in range(k, n):
                    p[i] = P[i, k]
                S = c * c * p[k] + noise_var[a]
                if not S > 0.0:
                    return -np.inf, A_bar, s0_bar, V_bar, lam_bar, scale_bar, noise_var_bar, resid_bar
                v = resid[a] - c * m[k]
                logp -= 0.5 * (LOG_2PI + np.log(S) + v * v / S)
                S_of[j], v_of[j], mk_of[j] = S, v, m[k]
                g, h = c * v / S, c * c / S
                for i in range(n):  # P is symmetric: the updates keep its lower triangle only
                    m[i] += g * p[i]
                    hp = h * p[i]
                    for l in range(i + 1):
                        P[i, l] -= hp * p[l]
            j += 1
        for i in range(n):  # the whole of P, which the predictions take
            filtered_m[t, i] = m[i]
            for l in range(i + 1):
                filtered_P[t, i, l] = filtered_P[t, l, i] = P[i, l]
    if not np.isfinite(logp):
        return -np.inf, A_bar, s0_bar, V_bar, lam_bar, scale_bar, noise_var_bar, resid_bar

    # P's cotangent is kept symmetric (P is), so that its products run along rows.
    m_bar, P_bar = np.zeros(n), np.zeros((n, n))
    Pp = np.empty(n)  # P_bar p
    for t in range(last - 1, -1, -1):
        while j > 0 and year[order[j - 1]] == t:
            j -= 1
            a = order[j]
            if observed[a] <= 0.0:
                continue
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
        if t > 0:  # m = A^T m_prev, P = A^T P_prev A + sum_k lam v_k v_k^T
            shocks_grad(V, vstart, vcol, lam, t, P_bar, V_bar, lam_bar)
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
    for i in range(n):
        s0_bar[i] = P_bar[i, i]
    return logp, A_bar, s0_bar, V_bar, lam_bar, scale_bar, noise_var_bar, resid_bar


@_jit
def filter_predictions(A, start, col, s0, V, vstart, vcol, lam, scale, noise_var, observed, resid, order, year,
                       node, until):
    """Each observation's prediction from the observations in use of strictly earlier years:
    the mean and variance of its residual ``resid[a]`` (the scale times the state, plus noise),
    for every observation, in use or not, through year ``until - 1`` (the backtest's held-back
    years, and the one-step-ahead fit of the history)."""
    n, n_obs = A.shape[0], resid.shape[0]
    mean, var = np.full(n_obs, np.nan), np.full(n_obs, np.nan)
    P, P_prev = np.zeros((n, n)), np.empty((n, n))
    m, m_next = np.zeros(n), np.empty(n)
    work = np.empty((n, n))
    for i in range(n):
        P[i, i] = s0[i]
    j = 0
    for t in range(until):
        if t > 0:
            predict_mean(A, start, col, m, m_next)
            for i in range(n):
                for l in range(i + 1):
                    P_prev[i, l] = P_prev[l, i] = P[i, l]
            predict(A, start, col, P_prev, P, work)
            add_shocks(V, vstart, vcol, lam, t, P)
        first = j
        while j < n_obs and year[order[j]] == t:  # predictions before any of this year's updates
            a = order[j]
            k, c = node[a], scale[a]
            mean[a] = c * m[k]
            var[a] = c * c * P[k, k] + noise_var[a]
            j += 1
        for q in range(first, j):
            a = order[q]
            if observed[a] <= 0.0:
                continue
            k, c = node[a], scale[a]
            p = np.empty(n)
            for i in range(k):
                p[i] = P[k, i]
            for i in range(k, n):
                p[i] = P[i, k]
            S = c * c * p[k] + noise_var[a]
            v = resid[a] - c * m[k]
            g, h = c * v / S, c * c / S
            for i in range(n):
                m[i] += g * p[i]
                hp = h * p[i]
                for l in range(i + 1):
                    P[i, l] -= hp * p[l]
    return mean, var


# --- The model's structure: the claims, and the state space they make ---------------------------


@_jit
def structure(phi, beta, cause, effect, lag, order, first, by_cause, G, FG):
    """``G = (I - M)^-1`` (the same-year claims ``M`` solved) and ``F G`` (``F``: persistence and
    lagged claims), as :func:`forecast.model.dynamics.transition_matrices` defines them, built
    claim by claim: ``G = I + M G`` row by row with each same-year claim's effect before its
    cause (``order``), so no matrix product or inverse. ``first, by_cause``: the same-year
    claims grouped by cause (:func:`forecast.scenario.graph.same_year_grouped`)."""
    n, n_claims = phi.shape[0], beta.shape[0]
    for i in range(n):
        for l in range(n):
            G[i, l] = 0.0
    for c in order:
        G[c, c] = 1.0
        for q in range(first[c], first[c + 1]):
            j = by_cause[q]
            e = effect[j]
            w = beta[j] * (1.0 - phi[e])
            for l in range(n):
                G[c, l] += w * G[e, l]
    for i in range(n):
        for l in range(n):
            FG[i, l] = phi[i] * G[i, l]
    for j in range(n_claims):
        if lag[j] == 1:
            c, e = cause[j], effect[j]
            w = beta[j] * (1.0 - phi[e])
            for l in range(n):
                FG[c, l] += w * G[e, l]


@_jit
def structure_grad(phi, beta, cause, effect, lag, G, FG_bar, G_bar, phi_bar, beta_bar):
    """Pull the cotangents of ``F G`` (``FG_bar``) and of ``G`` (``G_bar``, from the rest of the
    state space; updated here) back onto ``phi`` and ``beta``: ``F G`` gives ``F_bar = FG_bar
    G^T`` and ``G_bar += F^T FG_bar``; ``G = (I - M)^-1`` gives ``M_bar = G^T G_bar G^T``,
    needed only where a same-year claim puts ``beta (1 - phi[effect])`` into ``M``."""
    n, n_claims = phi.shape[0], beta.shape[0]
    Y = np.zeros((n, n))
    for i in range(n):  # F's diagonal, and its share of G_bar
        acc = 0.0
        for l in range(n):
            acc += FG_bar[i, l] * G[i, l]
            G_bar[i, l] += phi[i] * FG_bar[i, l]
        phi_bar[i] += acc
    for j in range(n_claims):  # F's lagged claims
        if lag[j] == 1:
            c, e = cause[j], effect[j]
            w, acc = beta[j] * (1.0 - phi[e]), 0.0
            for l in range(n):
                acc += FG_bar[c, l] * G[e, l]
                G_bar[e, l] += w * FG_bar[c, l]
            beta_bar[j] += acc * (1.0 - phi[e])
            phi_bar[e] -= acc * beta[j]
    for a in range(n):  # Y = G^T G_bar
        for c in range(n):
            g = G[a, c]
            if g != 0.0:
                for l in range(n):
                    Y[c, l] += g * G_bar[a, l]
    for j in range(n_claims):  # M's same-year claims: M_bar[c, e] = Y[c] . G[e]
        if lag[j] == 0:
            c, e = cause[j], effect[j]
            acc = 0.0
            for l in range(n):
                acc += Y[c, l] * G[e, l]
            beta_bar[j] += acc * (1.0 - phi[e])
            phi_bar[e] -= acc * beta[j]


@_jit
def state_space(phi, sigma, omega, G, FG, A, V):
    """The state space of :func:`forecast.model.dynamics.state_space` over ``n`` nodes into the
    given arrays: ``A`` (3n x 3n, rows from ``[d, m, g]``, columns to them) and the shocks'
    loadings ``V`` (2n x 3n: each node's transitory shock, then its level shift)::

        A = | F G          0  0 |      V = | D_sigma G  0        0 |
            | D_(1-phi) G  I  0 |          | D_omega G  D_omega  0 |
            | G            I  I |

    Entries off the structure are left as they were (zero, from the caller)."""
    n = phi.shape[0]
    for i in range(n):
        for l in range(n):
            g = G[i, l]
            A[i, l] = FG[i, l]
            A[n + i, l] = (1.0 - phi[i]) * g
            A[2 * n + i, l] = g
            V[i, l] = sigma[i] * g
            V[n + i, l] = omega[i] * g
        A[n + i, n + i] = 1.0
        A[2 * n + i, n + i] = 1.0
        A[2 * n + i, 2 * n + i] = 1.0
        V[n + i, n + i] = omega[i]


@_jit
def state_space_grad(phi, sigma, omega, G, A_bar, V_bar, FG_bar, G_bar, phi_bar, sigma_bar, omega_bar):
    """Pull the cotangents of :func:`state_space`'s ``A`` and ``V`` back: into ``FG_bar`` and
    ``G_bar`` (for :func:`structure_grad`) and onto ``phi``, ``sigma`` and ``omega``."""
    n = phi.shape[0]
    for i in range(n):
        s_acc, o_acc, p_acc = 0.0, 0.0, 0.0
        for l in range(n):
            g = G[i, l]
            FG_bar[i, l] = A_bar[i, l]
            G_bar[i, l] += ((1.0 - phi[i]) * A_bar[n + i, l] + A_bar[2 * n + i, l] + sigma[i] * V_bar[i, l]
                            + omega[i] * V_bar[n + i, l])
            p_acc -= A_bar[n + i, l] * g
            s_acc += V_bar[i, l] * g
            o_acc += V_bar[n + i, l] * g
        phi_bar[i] += p_acc
        sigma_bar[i] += s_acc
        omega_bar[i] += o_acc + V_bar[n + i, n + i]


@_jit
def evidence_kernel(phi, sigma, omega, beta, s0, drift_var, mu, intercept, loading, noise, lam, z, observed,
                    claim, cause, effect, lag, order, first, by_cause, indicator, kept, direction, start, col,
                    vstart, vcol, obs_order, year, node):
    """The log density of the observations given the parameters (a 0-d array), and its gradient
    with respect to each input: the structure (:func:`structure`) and state space
    (:func:`state_space`), each observation's mean, scale and noise variance from its
    indicator, the filter (:func:`filter_kernel`), then the reverse.

    Everything runs over the ``kept`` nodes only, those upstream of an indicator
    (:func:`forecast.scenario.graph.upstream_of`), and the ``claim``s into them: these nodes
    evolve on their own, so the state space their claims give is their block of the whole, and
    the other nodes' and claims' parameters get no gradient from the evidence. ``s0`` and
    ``drift_var`` are each node's initial variance of its deviation and of its drift; ``lam``
    (flat: years after the first x 2 kept nodes) the scales of the kept nodes' shocks; the
    claims' ``cause, effect, lag``, the solving ``order``, ``first, by_cause``, the supports
    ``start, col`` and ``vstart, vcol`` and ``node`` index into ``kept`` and ``claim``
    (:meth:`forecast.compiled.evidence_op.KalmanEvidence.constants`)."""
    n, n_obs, n_kept, n_in = phi.shape[0], z.shape[0], kept.shape[0], claim.shape[0]
    size = BLOCKS * n_kept
    phi_k, sigma_k, omega_k = np.empty(n_kept), np.empty(n_kept), np.empty(n_kept)
    beta_k, x0 = np.empty(n_in), np.zeros(size)
    for i in range(n_kept):
        phi_k[i], sigma_k[i], omega_k[i] = phi[kept[i]], sigma[kept[i]], omega[kept[i]]
        x0[i], x0[2 * n_kept + i] = s0[kept[i]], drift_var[kept[i]]
    for q in range(n_in):
        beta_k[q] = beta[claim[q]]
    G, FG = np.empty((n_kept, n_kept)), np.empty((n_kept, n_kept))
    structure(phi_k, beta_k, cause, effect, lag, order, first, by_cause, G, FG)
    A, V = np.zeros((size, size)), np.zeros((SHOCKS * n_kept, size))
    state_space(phi_k, sigma_k, omega_k, G, FG, A, V)
    scale, noise_var, resid = np.empty(n_obs), np.empty(n_obs), np.empty(n_obs)
    for a in range(n_obs):
        k = indicator[a]
        c = direction[k] * loading[k]
        scale[a] = c
        noise_var[a] = noise[k] * noise[k]
        resid[a] = z[a] - intercept[k] - c * mu[kept[node[a]]]
    logp, A_bar, x0_bar, V_bar, lam_bar, scale_bar, noise_var_bar, resid_bar = filter_kernel(
        A, start, col, x0, V, vstart, vcol, lam, scale, noise_var, resid, observed, obs_order, year, node)
    phi_bar, sigma_bar, omega_bar, beta_bar = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros_like(beta)
    s0_bar, drift_var_bar, mu_bar = np.zeros(n), np.zeros(n), np.zeros(n)
    intercept_bar, loading_bar, noise_bar = np.zeros_like(intercept), np.zeros_like(loading), np.zeros_like(noise)
    z_bar, observed_bar = np.zeros(n_obs), np.zeros(n_obs)
    if np.isfinite(logp):  # otherwise every cotangent is zero: no direction to follow
        phi_bk, sigma_bk, omega_bk, beta_bk = np.zeros(n_kept), np.zeros(n_kept), np.zeros(n_kept), np.zeros(n_in)
        FG_bar, G_bar = np.empty((n_kept, n_kept)), np.zeros((n_kept, n_kept))
        state_space_grad(phi_k, sigma_k, omega_k, G, A_bar, V_bar, FG_bar, G_bar, phi_bk, sigma_bk, omega_bk)
        structure_grad(phi_k, beta_k, cause, effect, lag, G, FG_bar, G_bar, phi_bk, beta_bk)
        for i in range(n_kept):
            phi_bar[kept[i]], sigma_bar[kept[i]], omega_bar[kept[i]] = phi_bk[i], sigma_bk[i], omega_bk[i]
            s0_bar[kept[i]], drift_var_bar[kept[i]] = x0_bar[i], x0_bar[2 * n_kept + i]
        for q in range(n_in):
            beta_bar[claim[q]] = beta_bk[q]
        for a in range(n_obs):
            k, r, i = indicator[a], resid_bar[a], kept[node[a]]
            intercept_bar[k] -= r
            mu_bar[i] -= r * scale[a]
            loading_bar[k] += direction[k] * (scale_bar[a] - r * mu[i])
            noise_bar[k] += 2.0 * noise[k] * noise_var_bar[a]
            z_bar[a] = r
    out = np.empty(())  # a 0-d array, as PyTensor holds a scalar
    out[()] = logp
    return (out, phi_bar, sigma_bar, omega_bar, beta_bar, s0_bar, drift_var_bar, mu_bar, intercept_bar, loading_bar,
            noise_bar, lam_bar, z_bar, observed_bar)


# --- The structure as the kernels take it --------------------------------------------------------


def claims_into(n_state: int, kept: np.ndarray, cause: np.ndarray, effect: np.ndarray, lag: np.ndarray,
                order: np.ndarray) -> tuple:
    """The claims into the ``kept`` nodes, as :func:`evidence_kernel` takes them: their indices,
    then their causes, effects and lags, the solving ``order`` restricted to ``kept``, all
    as places among ``kept``, and the same-year ones by cause
    (:func:`forecast.scenario.graph.same_year_grouped`).
    A claim from a kept node to one not kept moves nothing kept (``kept`` holds everything
    upstream of its nodes), and a claim into a kept node comes from one."""
    place = np.full(n_state, -1)
    place[kept] = np.arange(kept.size)
    claim = np.flatnonzero(place[effect] >= 0)
    cause, effect, lag = place[cause[claim]], place[effect[claim]], lag[claim]
    assert np.all(cause >= 0), "kept is not closed upstream"
    order = place[order][place[order] >= 0]
    return (claim, cause, effect, lag, order, *same_year_grouped(cause, lag, kept.size))


def state_supports(transition: np.ndarray, reach: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where :func:`state_space`'s ``A`` and ``V`` can be non-zero, whatever the parameters,
    from the kept nodes' yearly ``transition`` support (``F G``) and same-year ``reach`` (``G``)."""
    n = transition.shape[0]
    eye, zero = np.eye(n, dtype=bool), np.zeros((n, n), dtype=bool)
    A = np.block([[transition, zero, zero], [reach, eye, zero], [reach, eye, eye]])
    V = np.block([[reach, zero, zero], [reach, eye, zero]])
    return A, V


def compressed(support: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A boolean matrix's non-zeros as compressed rows ``start, col`` (int64)."""
    rows, cols = np.nonzero(support)
    start = np.searchsorted(rows, np.arange(support.shape[0] + 1))
    return start.astype(np.int64), cols.astype(np.int64)


def layout(transition: np.ndarray, reach: np.ndarray, kept: np.ndarray, year, node) -> tuple:
    """The kernels' layout for the ``kept`` nodes: ``A``'s and ``V``'s supports in compressed
    rows, the observations' order by year, their years and their nodes' places among ``kept``:
    writable C arrays of int64, the types of the C entry's, so that a call from NumPy finds the
    specialisation compiled with it, in this process or in numba's disk cache."""
    A, V = state_supports(transition, reach)
    year = np.asarray(year)
    arrays = (*compressed(A), *compressed(V), np.argsort(year, kind="stable"), year, np.searchsorted(kept, node))
    return tuple(np.array(a, dtype=np.int64) for a in arrays)


# --- NumPy entries: the history's conditioning and the backtest's predictions -----------------------


def _filter_layout(transition: np.ndarray, reach: np.ndarray, year: np.ndarray, node: np.ndarray) -> tuple:
    """The kept nodes for observations of ``node``, and the kernels' layout over them."""
    kept, block = filtered_block(transition, node)
    return kept, layout(block, reach[np.ix_(kept, kept)], kept, year, node)


def solve_evidence(A: np.ndarray, s0: np.ndarray, V: np.ndarray, lam: np.ndarray, scale: np.ndarray,
                   noise_var: np.ndarray, resid: np.ndarray, year: np.ndarray, node: np.ndarray,
                   transition: np.ndarray, reach: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``S^-1 resid`` for each parameter set (leading axis of every argument), ``S`` the
    indicators' covariance, and the log density of ``resid``: minus the gradient of the log
    density with respect to the residuals, which the filter's reverse pass gives at the cost
    of one evaluation (no ``observations^3`` solve). :mod:`forecast.posterior.history`
    conditions the history with it. ``A`` (size 3 x nodes), ``s0`` and ``V`` (2 x nodes shocks)
    are the whole state space of :func:`forecast.model.dynamics.state_space`, ``lam`` (years - 1,
    2 x nodes) the shocks' scales; as in the model, the filter keeps only the nodes upstream of
    an observation."""
    n = transition.shape[0]
    kept, lay = _filter_layout(transition, reach, year, node)
    states = np.concatenate([kept + b * n for b in range(BLOCKS)])
    shocks = np.concatenate([kept + b * n for b in range(SHOCKS)])
    out, logp = np.empty_like(resid), np.empty(resid.shape[0])
    observed = np.ones(resid.shape[1])
    for i in range(resid.shape[0]):
        Ai = np.ascontiguousarray(A[i][np.ix_(states, states)])
        Vi = np.ascontiguousarray(V[i][np.ix_(shocks, states)])
        lam_i = np.ascontiguousarray(lam[i][:, shocks]).ravel()
        value, *grads = filter_kernel(Ai, lay[0], lay[1], np.ascontiguousarray(s0[i][states]), Vi, lay[2], lay[3],
                                      lam_i, np.ascontiguousarray(scale[i]), np.ascontiguousarray(noise_var[i]),
                                      np.ascontiguousarray(resid[i]), observed, lay[4], lay[5], lay[6])
        if not np.isfinite(value):
            raise FloatingPointError(f"parameter set {i}: the indicators' covariance is not positive definite")
        out[i], logp[i] = -grads[-1], value
    return out, logp


def predictions(A: np.ndarray, s0: np.ndarray, V: np.ndarray, lam: np.ndarray, scale: np.ndarray,
                noise_var: np.ndarray, resid: np.ndarray, observed: np.ndarray, year: np.ndarray, node: np.ndarray,
                transition: np.ndarray, reach: np.ndarray, until: int) -> tuple[np.ndarray, np.ndarray]:
    """For each parameter set and observation, the mean and variance of its residual predicted
    from the observations in use of strictly earlier years (:func:`filter_predictions`), through
    year ``until - 1``; arguments as :func:`solve_evidence`'s."""
    n = transition.shape[0]
    kept, lay = _filter_layout(transition, reach, year, node)
    states = np.concatenate([kept + b * n for b in range(BLOCKS)])
    shocks = np.concatenate([kept + b * n for b in range(SHOCKS)])
    mean, var = np.empty(resid.shape), np.empty(resid.shape)
    observed = np.ascontiguousarray(observed, dtype=float)
    for i in range(resid.shape[0]):
        mean[i], var[i] = filter_predictions(
            np.ascontiguousarray(A[i][np.ix_(states, states)]), lay[0], lay[1], np.ascontiguousarray(s0[i][states]),
            np.ascontiguousarray(V[i][np.ix_(shocks, states)]), lay[2], lay[3],
            np.ascontiguousarray(lam[i][:, shocks]).ravel(), np.ascontiguousarray(scale[i]),
            np.ascontiguousarray(noise_var[i]), observed, np.ascontiguousarray(resid[i]), lay[4], lay[5], lay[6], until)
    return mean, var
