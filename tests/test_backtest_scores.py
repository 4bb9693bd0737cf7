"""The backtest's proper scores and naive baselines against their definitions, Monte Carlo
and SciPy references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from forecast.backtest import baselines
from forecast.backtest.scores import (
    NormalMixture,
    StudentT,
    mixture_cdf,
    mixture_crps,
    mixture_interval,
    mixture_interval_covers,
    mixture_logpdf,
    mixture_quantile,
    normal_crps,
    score,
    student_t_crps,
)


def crps_by_integral(cdf, y, lo, hi):
    """CRPS = int (F(x) - 1{x >= y})^2 dx, by quadrature (the definition)."""
    left = integrate.quad(lambda x: cdf(x) ** 2, lo, y, limit=400)[0]
    right = integrate.quad(lambda x: (1.0 - cdf(x)) ** 2, y, hi, limit=400)[0]
    return left + right


def crps_monte_carlo(draws, y):
    """E|X - y| - E|X - X'| / 2 from draws (the energy form)."""
    x = np.sort(draws)
    n = x.size
    pair = 2.0 * np.sum((2 * np.arange(1, n + 1) - n - 1) * x) / n ** 2  # E|X - X'| over the empirical law
    return np.mean(np.abs(x - y)) - 0.5 * pair


@pytest.fixture
def mixture():
    rng = np.random.default_rng(1)
    k = 7
    return rng.normal(0, 2, k), rng.gamma(2, 0.5, k), rng.dirichlet(np.ones(k))


@pytest.mark.parametrize("y", [-3.0, 0.1, 2.5, 15.0])
def test_normal_crps_matches_definition(y):
    d = stats.norm(0.4, 1.7)
    assert normal_crps(y, 0.4, 1.7) == pytest.approx(crps_by_integral(d.cdf, y, -40, 40), rel=1e-7)


@pytest.mark.parametrize("df", [1.5, 2.0, 3.0, 10.0])
@pytest.mark.parametrize("y", [-2.0, 0.3, 6.0])
def test_student_t_crps_matches_definition(df, y):
    d = stats.t(df, 0.5, 1.3)
    assert student_t_crps(y, df, 0.5, 1.3) == pytest.approx(crps_by_integral(d.cdf, y, -np.inf, np.inf), rel=1e-6)


def test_student_t_crps_tends_to_normal():
    assert student_t_crps(0.7, 1e7, 0.1, 2.0) == pytest.approx(normal_crps(0.7, 0.1, 2.0), rel=1e-5)


@pytest.mark.parametrize("y", [-4.0, 0.0, 1.3, 9.0])
def test_mixture_crps_matches_quadrature(mixture, y):
    m, s, w = mixture
    exact = mixture_crps(y, m, s, w)
    assert exact == pytest.approx(crps_by_integral(lambda x: mixture_cdf(x, m, s, w), y, -60, 60), rel=1e-7)


def test_mixture_crps_matches_monte_carlo(mixture):
    m, s, w = mixture
    rng = np.random.default_rng(2)
    comp = rng.choice(m.size, size=400_000, p=w)
    draws = rng.normal(m[comp], s[comp])
    mc = crps_monte_carlo(draws, 0.8)
    assert mixture_crps(0.8, m, s, w) == pytest.approx(mc, rel=5e-3)


def test_mixture_crps_blocks_agree_and_single_component_is_normal(mixture):
    m, s, w = mixture
    assert mixture_crps(0.3, m, s, w, block=2) == pytest.approx(mixture_crps(0.3, m, s, w), rel=1e-12)
    assert mixture_crps(0.3, [1.0], [2.0]) == pytest.approx(float(normal_crps(0.3, 1.0, 2.0)), rel=1e-12)
    assert NormalMixture(np.array([1.0]), np.array([2.0])).crps(0.3) == pytest.approx(float(normal_crps(0.3, 1, 2)))


def test_mixture_cdf_and_logpdf_match_scipy(mixture):
    m, s, w = mixture
    for y in (-5.0, 0.2, 3.0):
        assert mixture_cdf(y, m, s, w) == pytest.approx(float(np.dot(w, stats.norm.cdf(y, m, s))), rel=1e-12)
        assert mixture_logpdf(y, m, s, w) == pytest.approx(np.log(np.dot(w, stats.norm.pdf(y, m, s))), rel=1e-12)
    # far in the tail the log score stays finite
    assert np.isfinite(mixture_logpdf(1e3, m, s, w))


def test_equal_weights_by_default():
    m, s = np.array([0.0, 1.0, 3.0]), np.array([1.0, 0.5, 2.0])
    w = np.full(3, 1 / 3)
    assert mixture_crps(0.5, m, s) == pytest.approx(mixture_crps(0.5, m, s, w))
    assert mixture_cdf(0.5, m, s) == pytest.approx(mixture_cdf(0.5, m, s, w))


def test_quantiles_invert_the_cdf_and_match_monte_carlo(mixture):
    m, s, w = mixture
    rng = np.random.default_rng(3)
    comp = rng.choice(m.size, size=1_000_000, p=w)
    draws = rng.normal(m[comp], s[comp])
    for p in (0.05, 0.25, 0.5, 0.9, 0.999):
        q = mixture_quantile(p, m, s, w)
        assert mixture_cdf(q, m, s, w) == pytest.approx(p, abs=1e-9)
        assert q == pytest.approx(np.quantile(draws, p), abs=0.03 * (1 + abs(q)))


def test_single_normal_interval_is_scipys():
    lo, hi = mixture_interval(0.9, [1.0], [2.0])
    assert (lo, hi) == pytest.approx(stats.norm(1, 2).interval(0.9), abs=1e-8)


def test_coverage_agrees_with_pit(mixture):
    m, s, w = mixture
    for y in np.linspace(-8, 8, 41):
        pit = mixture_cdf(y, m, s, w)
        for level in (0.5, 0.8, 0.9):
            assert mixture_interval_covers(y, level, m, s, w) == ((1 - level) / 2 <= pit <= (1 + level) / 2)


def test_pit_is_uniform_under_the_forecast(mixture):
    """Calibration: PIT of draws from the forecast itself is uniform; coverage is nominal."""
    m, s, w = mixture
    rng = np.random.default_rng(4)
    comp = rng.choice(m.size, size=4000, p=w)
    ys = rng.normal(m[comp], s[comp])
    pits = np.array([mixture_cdf(y, m, s, w) for y in ys])
    assert stats.kstest(pits, "uniform").pvalue > 0.01
    assert np.mean(np.abs(pits - 0.5) <= 0.45) == pytest.approx(0.9, abs=0.02)


def test_score_of_student_t_uses_its_closed_forms():
    t = StudentT(4.0, 1.0, 0.5)
    out = score(t, 1.7)
    assert out["crps"] == pytest.approx(float(student_t_crps(1.7, 4.0, 1.0, 0.5)))
    assert out["pit"] == pytest.approx(stats.t.cdf(1.7, 4, 1, 0.5))
    assert out["logpdf"] == pytest.approx(stats.t.logpdf(1.7, 4, 1, 0.5))
    assert out["cover_90"] == 1.0 and out["cover_50"] == 0.0


def test_baselines():
    years, values = np.array([2010, 2011, 2013]), np.array([1.0, 2.0, 5.0])
    rw = baselines.random_walk(years, values, 2015)
    s2 = (1.0 + 9.0 / 2) / 2  # changes 1 over 1 year and 3 over 2 years
    assert rw.mean[0] == 5.0 and rw.sd[0] == pytest.approx(np.sqrt(s2 * 2))
    t = baselines.random_walk_t(years, values, 2015)
    assert (t.df, t.loc, t.scale) == pytest.approx((2.0, 5.0, np.sqrt(s2 * 2)))
    dr = baselines.random_walk_drift(years, values, 2015)
    drift = 4.0 / 3
    resid2 = (1 - drift) ** 2 / 1 + (3 - 2 * drift) ** 2 / 2
    assert dr.mean[0] == pytest.approx(5.0 + 2 * drift)
    assert dr.sd[0] == pytest.approx(np.sqrt(resid2 / 1 * (2 + 4 / 3)))
    one = baselines.random_walk_drift([2020, 2021], [0.0, 1.0], 2022)
    assert one.mean[0] == 2.0 and one.sd[0] == pytest.approx(np.sqrt(1.0 * (1 + 1 / 1)))


def test_a_straight_line_of_a_past_still_gives_the_drift_forecast_a_spread():
    """Equal changes (an interpolated or rounded series) leave no variance around the drift's
    line: the forecast keeps a floor of the random walk's, so it can be scored (it crashed the
    backtest, or scored 1e30)."""
    line = baselines.random_walk_drift([2010, 2011, 2012, 2013], [10.0, 20.0, 30.0, 40.0], 2014)
    assert line.mean[0] == pytest.approx(50.0)
    assert line.sd[0] == pytest.approx(np.sqrt(baselines.DRIFT_VARIANCE_FLOOR * 100.0 * (1 + 1 / 3)))
    out = score(line, 52.0)
    assert np.isfinite(out["logpdf"]) and np.isfinite(out["crps"])


@pytest.mark.parametrize("name", sorted(baselines.BASELINES))
def test_a_baseline_is_the_same_forecast_on_rescaled_values(name):
    """Scoring on the standardised scale changes no baseline's forecast: on a + b * values it
    is a + b * its forecast (so its PIT is the same and its CRPS b times)."""
    years, values = np.array([2010, 2011, 2013, 2014]), np.array([1.0, 2.0, 5.0, 4.5])
    a, b = -3.0, 0.01
    make = baselines.BASELINES[name]
    plain, scaled = make(years, values, 2016), make(years, a + b * values, 2016)
    for y in (2.0, 4.0, 7.5):
        assert scaled.cdf(a + b * y) == pytest.approx(plain.cdf(y), rel=1e-12)
        assert scaled.crps(a + b * y) == pytest.approx(b * plain.crps(y), rel=1e-9)
