"""The likelihood of the indicators with the history integrated out: a Kalman filter, with its
gradient written by hand: the numba kernels, and their NumPy entry for the history.

Given the parameters, the latent deviations ``d[t]`` (a row vector over the state) follow the
linear Gaussian recursion of :func:`forecast.model.dynamics.state_dynamics`, and each
standardised indicator observes one of them with noise::

    d[0] ~ Normal(0, diag(s0))
    d[t] = d[t-1] A + shock[t],   shock[t] ~ Normal(0, Q)
    z[a] - mean[a] = scale[a] d[year[a], node[a]] + noise[a],   noise[a] ~ Normal(0, noise_var[a])

so the indicators are jointly Gaussian, with the covariance that
``observation_covariance`` in tests/reference.py spells out (the readable reference the
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

The Op starts from the model's parameters, not from ``A`` and ``Q``: it builds the transition
from the claims (:func:`transition`, the equations of :mod:`forecast.model.dynamics`) and each
observation's mean, scale and noise from its indicator, and pulls the gradient back through
both by hand. The whole likelihood is then one node of the model's graph, where building it
from PyTensor operations took about fifty more (matrix products, the same-year series, the
indicators' gathers and their scatters in the gradient), each compiled by numba on a cold
start and each adding per-call overhead to every gradient the sampler asks for.
"""

from __future__ import annotations

import numpy as np

from forecast.compiled.numba_ops import jit as _jit
from forecast.scenario.graph import filtered_block

LOG_2PI = float(np.log(2.0 * np.pi))


# The kernels are module-level (see forecast.compiled.numba_ops) and use plain loops: for the state sizes
# the integrated-out model takes (model.build.INTEGRATION_BUDGET) a BLAS call costs about as much, and
# lengthens the cold compile. ``A`` is sparse (persistence and claims): its support comes in
# compressed rows, ``A[k, col[start[k]:start[k + 1]]]``, and products with it cost
# ``nodes x support`` instead of ``nodes^3``.

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
def predict(A, start, col, P, Q, out, AP):
    """``out = A^T P A + Q`` (``AP``: work space) as ``A^T (A^T P)^T`` (``P`` symmetric)."""
    n = A.shape[0]
    for i in range(n):
        for j in range(n):
            out[i, j] = 0.0
    add_transposed_product(A, start, col, P, out)
    for i in range(n):
        for j in range(n):
            AP[j, i] = out[i, j]
            out[i, j] = Q[i, j]
    add_transposed_product(A, start, col, AP, out)


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
            p = column[j]  # P[:, k], kept for the reverse pass, from P's lower triangle
            for i in range(k):
                p[i] = P[k, i]
            for i in range(k, n):
                p[i] = P[i, k]
            S = c * c * p[k] + noise_var[a]
            if not S > 0.0:
                return no_density(A, s0, Q, scale, noise_var, resid)
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


@_jit
def transition(phi, sigma, beta, cause, effect, lag, order, first, by_cause, G, A, Q):
    """``G``, ``A = F G`` and ``Q = G^T diag(sigma^2) G`` into the given arrays, as
    :func:`forecast.model.dynamics.transition_matrices` and :func:`forecast.model.dynamics.state_dynamics`
    define them, built claim by claim: ``G = I + M G`` row by row with each same-year claim's
    effect before its cause (``order``), so no matrix product or inverse. ``first, by_cause``:
    the same-year claims grouped by cause (:func:`same_year_by_cause`), as scanning every
    claim for every node took ~80 µs of a ~700 µs gradient at 100 nodes."""
    n, n_claims = phi.shape[0], beta.shape[0]
    for i in range(n):
        for l in range(n):
            G[i, l] = 0.0
            Q[i, l] = 0.0
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
            A[i, l] = phi[i] * G[i, l]
    for j in range(n_claims):
        if lag[j] == 1:
            c, e = cause[j], effect[j]
            w = beta[j] * (1.0 - phi[e])
            for l in range(n):
                A[c, l] += w * G[e, l]
    for k in range(n):
        s2 = sigma[k] * sigma[k]
        for i in range(n):
            x = s2 * G[k, i]
            if x != 0.0:
                for l in range(n):
                    Q[i, l] += x * G[k, l]


@_jit
def transition_grad(phi, sigma, beta, cause, effect, lag, G, A_bar, Q_bar, phi_bar, sigma_bar, beta_bar):
    """Pull the cotangents of ``A`` and ``Q`` (symmetric) back onto the parameters, adding to
    ``phi_bar``, ``sigma_bar`` and ``beta_bar``: ``Q = G^T D G`` gives ``G_bar = 2 D G Q_bar``
    and ``D_bar = diag(G Q_bar G^T)``; ``A = F G`` gives ``F_bar = A_bar G^T`` and
    ``G_bar += F^T A_bar``; ``G = (I - M)^-1`` gives ``M_bar = G^T G_bar G^T``, needed only
    where a same-year claim puts ``beta (1 - phi[effect])`` into ``M``."""
    n, n_claims = phi.shape[0], beta.shape[0]
    G_bar, Y, u = np.empty((n, n)), np.zeros((n, n)), np.empty(n)
    for k in range(n):
        for l in range(n):
            u[l] = 0.0
        for i in range(n):
            g = G[k, i]
            if g != 0.0:
                for l in range(n):
                    u[l] += g * Q_bar[i, l]
        s, acc = sigma[k], 0.0
        for l in range(n):
            acc += u[l] * G[k, l]
            G_bar[k, l] = 2.0 * s * s * u[l] + phi[k] * A_bar[k, l]
        sigma_bar[k] += 2.0 * s * acc
    for i in range(n):  # F's diagonal
        acc = 0.0
        for l in range(n):
            acc += A_bar[i, l] * G[i, l]
        phi_bar[i] += acc
    for j in range(n_claims):  # F's lagged claims
        if lag[j] == 1:
            c, e = cause[j], effect[j]
            w, acc = beta[j] * (1.0 - phi[e]), 0.0
            for l in range(n):
                acc += A_bar[c, l] * G[e, l]
                G_bar[e, l] += w * A_bar[c, l]
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
def evidence_kernel(phi, sigma, beta, s0, mu, intercept, loading, noise, z, claim, cause, effect, lag, order,
                    first, by_cause, indicator, kept, direction, start, col, obs_order, year, node):
    """The log density of the observations given the parameters (a 0-d array), and its gradient
    with respect to each input: the transition (:func:`transition`), each observation's mean, scale and
    noise variance from its indicator, the filter (:func:`kalman_kernel`), then the reverse.

    Everything runs over the ``kept`` nodes only, those upstream of an indicator
    (:func:`forecast.scenario.graph.upstream_of`), and the ``claim``s into them: these nodes evolve
    on their own, so the transition their claims give is their block of ``A`` and ``Q``, and
    the other nodes' and claims' parameters get no gradient from the evidence. The claims'
    ``cause, effect, lag``, the solving ``order``, ``first, by_cause`` (:func:`transition`),
    ``start, col`` (the block's support) and ``node`` index into ``kept`` and ``claim``
    (:meth:`KalmanEvidence.constants`)."""
    n, n_obs, n_kept, n_in = phi.shape[0], z.shape[0], kept.shape[0], claim.shape[0]
    phi_kept, sigma_kept, s0_kept, beta_kept = np.empty(n_kept), np.empty(n_kept), np.empty(n_kept), np.empty(n_in)
    for i in range(n_kept):
        phi_kept[i], sigma_kept[i], s0_kept[i] = phi[kept[i]], sigma[kept[i]], s0[kept[i]]
    for q in range(n_in):
        beta_kept[q] = beta[claim[q]]
    G, A, Q = np.empty((n_kept, n_kept)), np.empty((n_kept, n_kept)), np.empty((n_kept, n_kept))
    transition(phi_kept, sigma_kept, beta_kept, cause, effect, lag, order, first, by_cause, G, A, Q)
    scale, noise_var, resid = np.empty(n_obs), np.empty(n_obs), np.empty(n_obs)
    for a in range(n_obs):
        k = indicator[a]
        c = direction[k] * loading[k]
        scale[a] = c
        noise_var[a] = noise[k] * noise[k]
        resid[a] = z[a] - intercept[k] - c * mu[kept[node[a]]]
    logp, A_bar, s0_bar_kept, Q_bar, scale_bar, noise_var_bar, resid_bar = kalman_kernel(
        A, s0_kept, Q, scale, noise_var, resid, start, col, obs_order, year, node)
    phi_bar, sigma_bar, beta_bar, mu_bar = np.zeros(n), np.zeros(n), np.zeros_like(beta), np.zeros(n)
    intercept_bar, loading_bar, noise_bar = np.zeros_like(intercept), np.zeros_like(loading), np.zeros_like(noise)
    s0_bar = np.zeros(n)
    if np.isfinite(logp):  # otherwise every cotangent is zero: no direction to follow
        phi_bar_kept, sigma_bar_kept, beta_bar_kept = np.zeros(n_kept), np.zeros(n_kept), np.zeros(n_in)
        transition_grad(phi_kept, sigma_kept, beta_kept, cause, effect, lag, G, A_bar, Q_bar,
                        phi_bar_kept, sigma_bar_kept, beta_bar_kept)
        for i in range(n_kept):
            phi_bar[kept[i]], sigma_bar[kept[i]], s0_bar[kept[i]] = phi_bar_kept[i], sigma_bar_kept[i], s0_bar_kept[i]
        for q in range(n_in):
            beta_bar[claim[q]] = beta_bar_kept[q]
        for a in range(n_obs):
            k, r, i = indicator[a], resid_bar[a], kept[node[a]]
            intercept_bar[k] -= r
            mu_bar[i] -= r * scale[a]
            loading_bar[k] += direction[k] * (scale_bar[a] - r * mu[i])
            noise_bar[k] += 2.0 * noise[k] * noise_var_bar[a]
    out = np.empty(())  # a 0-d array, as PyTensor holds a scalar
    out[()] = logp
    return out, phi_bar, sigma_bar, beta_bar, s0_bar, mu_bar, intercept_bar, loading_bar, noise_bar, resid_bar


def claims_into(n_state: int, kept: np.ndarray, cause: np.ndarray, effect: np.ndarray, lag: np.ndarray,
                order: np.ndarray) -> tuple:
    """The claims into the ``kept`` nodes, as :func:`evidence_kernel` takes them: their indices,
    then their causes, effects and lags, the solving ``order`` restricted to ``kept``, all
    as places among ``kept``, and the same-year ones by cause (:func:`same_year_by_cause`).
    A claim from a kept node to one not kept moves nothing kept (``kept`` holds everything
    upstream of its nodes), and a claim into a kept node comes from one."""
    place = np.full(n_state, -1)
    place[kept] = np.arange(kept.size)
    claim = np.flatnonzero(place[effect] >= 0)
    cause, effect, lag = place[cause[claim]], place[effect[claim]], lag[claim]
    assert np.all(cause >= 0), "kept is not closed upstream"
    order = place[order][place[order] >= 0]
    return (claim, cause, effect, lag, order, *same_year_by_cause(cause, lag, kept.size))


def same_year_by_cause(cause: np.ndarray, lag: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The same-year claims grouped by cause, as compressed rows: node ``c``'s are
    ``by_cause[first[c]:first[c + 1]]`` (claim indices, in their order)."""
    same_year = np.flatnonzero(lag == 0)
    by_cause = same_year[np.argsort(cause[same_year], kind="stable")]
    return np.searchsorted(cause[by_cause], np.arange(n + 1)), by_cause


def _layout(support: np.ndarray, kept: np.ndarray, year, node) -> tuple:
    """The support of ``A``'s block over the ``kept`` nodes (flat indices into it) in
    compressed rows, the observations' order by year, their years and their nodes' places
    among ``kept``, as the kernel takes them: writable C arrays, the types of the C entry's
    (:func:`forecast.compiled.c_entry.register_kernel`), so that a call from NumPy (:func:`solve_evidence`) finds the
    specialisation compiled with it, in this process or in numba's disk cache."""
    n_state = kept.size
    row, col = np.divmod(support, n_state)
    start = np.searchsorted(row, np.arange(n_state + 1))
    year = np.asarray(year)
    arrays = start, col, np.argsort(year, kind="stable"), year, np.searchsorted(kept, node)
    return tuple(np.array(a, dtype=np.int64) for a in arrays)


def solve_evidence(A: np.ndarray, s0: np.ndarray, Q: np.ndarray, scale: np.ndarray, noise_var: np.ndarray,
                   resid: np.ndarray, year: np.ndarray, node: np.ndarray, support: np.ndarray) -> np.ndarray:
    """``S^-1 resid`` for each parameter set (leading axis of every argument), ``S`` the
    indicators' covariance: minus the gradient of the log density with respect to the
    residuals, which the filter's reverse pass gives at the cost of one evaluation (no
    ``observations^3`` solve). :mod:`forecast.posterior.history` conditions the history with it. As in
    the model, the filter keeps only the nodes upstream of an observation."""
    kept, block_support = filtered_block(support, node)
    layout = _layout(np.flatnonzero(block_support), kept, year, node)
    block = np.ix_(np.arange(A.shape[0]), kept, kept)
    A, s0, Q, scale, noise_var, resid = (np.ascontiguousarray(x, dtype=float)
                                         for x in (A[block], s0[:, kept], Q[block], scale, noise_var, resid))
    out = np.empty_like(resid)
    for i in range(resid.shape[0]):
        logp, *grads = kalman_kernel(A[i], s0[i], Q[i], scale[i], noise_var[i], resid[i], *layout)
        if not np.isfinite(logp):
            raise FloatingPointError(f"parameter set {i}: the indicators' covariance is not positive definite")
        out[i] = -grads[-1]
    return out
