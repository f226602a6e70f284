"""W1 routes of stability.families.wasserstein against independent computations."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, optimize, special, stats

from stability.families import Exponential, Gamma, Gaussian, Poisson
from stability.families.wasserstein import w1_cdf_quadrature, w1_integer, w1_pot, w1_sample_continuous


def quad_w1(x, cdf, lo, hi, extra=()):
    """Independent route: integral of |F_n - G| with quad, split at every sample point (and at the
    ``extra`` points, so that no piece is so wide that quad misses where the model's mass is)."""
    xs = np.sort(x)
    edges = np.unique(np.concatenate([[lo], xs, np.clip(extra, lo, hi), [hi]]))
    total = 0.0
    for a, b in zip(edges[:-1], edges[1:], strict=True):  # n + 1 pieces on which F_n is constant
        fn = np.searchsorted(xs, (a + b) / 2, side="right") / xs.size
        total += integrate.quad(lambda t, fn=fn: abs(fn - cdf(t)), a, b, epsabs=1e-13, limit=200)[0]
    return total


@pytest.mark.slow
@settings(max_examples=20)  # each example runs ~n + 30 adaptive quadratures
@given(st.integers(0, 2**32 - 1), st.integers(1, 15))
def test_exact_sample_formula_matches_quadrature(seed, n):
    rng = np.random.default_rng(seed)
    m, sd = rng.normal(), rng.uniform(0.3, 3)
    x = rng.normal(m + 0.5, sd * 1.3, size=n)
    g = stats.norm(m, sd)
    exact = w1_sample_continuous(x, g.cdf, g.ppf, lambda q: m * g.cdf(q) - sd**2 * g.pdf(q), m)
    lo, hi = min(x.min(), m) - 40 * sd, max(x.max(), m) + 40 * sd  # normal tails beyond 40 sd: < 1e-300
    # quad pieces with epsabs 1e-13 each, <= 2n + 22 pieces: error <= 6e-12; rounding ~1e-14
    # split also where G crosses the levels i/n (kinks of |F_n - G|) and every sd around m
    extra = np.concatenate([g.ppf(np.arange(1, n) / n), m + sd * np.arange(-10, 11)])
    assert exact == pytest.approx(quad_w1(x, g.cdf, lo, hi, extra), abs=1e-9)


@pytest.mark.parametrize("which", ["exponential", "gamma"])
def test_exact_sample_formula_for_positive_families(which):
    rng = np.random.default_rng(1)
    x = rng.lognormal(0, 0.6, size=40)
    fam = Exponential() if which == "exponential" else Gamma()
    theta = fam.fixed_point(x)
    eps, how = fam.w1(theta, x)
    p = fam.params(theta)
    g = stats.expon(scale=1 / p["rate"]) if which == "exponential" else stats.gamma(p["shape"], scale=1 / p["rate"])
    assert "exact" in how
    hi = g.isf(1e-300)
    extra = np.concatenate([g.ppf(np.arange(1, x.size) / x.size), g.ppf(np.linspace(0.01, 0.99, 20))])
    assert eps == pytest.approx(quad_w1(x, g.cdf, 0.0, hi, extra), abs=1e-9)


def test_partial_means_match_quadrature():
    # the closed-form partial means E[Y 1{Y <= q}] behind the exact formula
    a, b, q = 2.7, 1.3, 1.9
    ref = integrate.quad(lambda y: y * stats.gamma(a, scale=1 / b).pdf(y), 0, q, epsabs=1e-14)[0]
    assert a / b * special.gammainc(a + 1, b * q) == pytest.approx(ref, rel=1e-10)
    m, s = 0.4, 1.7
    ref = integrate.quad(lambda y: y * stats.norm(m, s).pdf(y), -np.inf, q, epsabs=1e-14)[0]
    assert m * stats.norm(m, s).cdf(q) - s**2 * stats.norm(m, s).pdf(q) == pytest.approx(ref, rel=1e-10)


def test_quadrature_route_on_known_values():
    # comonotone scale change: W1(N(0, 1), N(0, s^2)) = |1 - s| E|Z| = |1 - s| sqrt(2 / pi)
    v, err = w1_cdf_quadrature(stats.norm(0, 1).cdf, stats.norm(0, 2.5).cdf, [0.0])
    assert v == pytest.approx(1.5 * np.sqrt(2 / np.pi), abs=10 * err + 1e-12)
    # exponential rates 1 and 2: quantiles -log(1-u) and -log(1-u)/2, W1 = E[Y]/2 = 1/2
    v, err = w1_cdf_quadrature(stats.expon().cdf, stats.expon(scale=0.5).cdf, [1.0])
    assert v == pytest.approx(0.5, abs=10 * err + 1e-12)


def test_integer_route_and_poisson_family():
    # stochastically ordered: W1 = difference of means (nbinom(3, 0.4) has mean 4.5)
    v, tail = w1_integer(stats.poisson(2).cdf, stats.poisson(4.5).cdf, 0, 200)
    assert v == pytest.approx(2.5, abs=1e-12) and tail == 0
    fam = Poisson()
    x = np.array([0.0, 0.0, 1.0, 7.0])
    eps, how = fam.w1(fam.fixed_point(x), x)
    # reference by hand-free route: sum over the whole support, cdfs from scipy and numpy
    k = np.arange(200)
    ref = np.abs((x[:, None] <= k).mean(axis=0) - stats.poisson(2.0).cdf(k)).sum()
    assert eps == pytest.approx(ref, abs=1e-12)
    assert "omitted tail" in how


@settings(max_examples=20)  # the first call pays POT's import
@given(st.integers(0, 2**32 - 1), st.integers(2, 40), st.integers(1, 3))
@pytest.mark.pot
def test_pot_matches_assignment_problem(seed, n, d):
    # equal-size uniform empirical measures: OT = optimal assignment (Birkhoff), an independent solver
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(1.0, 2.0, size=(n, d))
    cost = np.linalg.norm(x[:, None] - y[None], axis=-1)
    i, j = optimize.linear_sum_assignment(cost)
    assert w1_pot(x, y) == pytest.approx(cost[i, j].mean(), rel=1e-9, abs=1e-12)


@pytest.mark.pot
def test_pot_in_one_dimension_matches_scipy():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=300), rng.exponential(size=200)
    assert w1_pot(x[:, None], y[:, None]) == pytest.approx(stats.wasserstein_distance(x, y), rel=1e-9)


@pytest.mark.pot
def test_gaussian_family_uses_pot_in_two_dimensions_with_stated_sizes():
    rng = np.random.default_rng(4)
    x = rng.standard_t(4, size=(150, 2))
    g = Gaussian(2, seed=1, w1_points=100)
    eps, how = g.w1(g.fixed_point(x), x)
    assert "100 data points and 100 model samples" in how and eps > 0
    assert eps == g.w1(g.fixed_point(x), x)[0]  # same seed, same number


def test_quadrature_failure_is_reported_not_hidden():
    # a Cauchy distribution has no first moment: W1 to any normal is infinite
    with pytest.raises(ValueError, match=r"^W1 quadrature did not converge"):
        w1_cdf_quadrature(stats.cauchy().cdf, stats.norm().cdf, [0.0])
