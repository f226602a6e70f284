"""Theorem 1 / sharp / Theorem 2 bounds against independent computations (docs/theory.md §4–5)."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import stability
from stability import bound, finite_sample_bound, max_lambda, sharp_bound

from .strategies import invalid, valid

# Relative floating-point slack for comparisons of closed forms evaluated in double precision:
# each formula is a handful of flops, so its relative rounding error is a few ulps; 1e-12 is
# far above that and far below any real discrepancy.
RTOL_FLOAT = 1e-12


def _paper_exact(lam, eps, alpha, L):
    """Theorem 1's factor in exact rational arithmetic (independent of numpy)."""
    s = lam * (alpha + eps * L)
    return None if s >= alpha else s / (alpha - s)


rationals = st.fractions(min_value=0, max_value=10, max_denominator=1000)


@given(rationals, rationals, rationals.filter(lambda a: a > 0), rationals)
def test_paper_bound_matches_exact_rational_arithmetic(lam, eps, alpha, L):
    expected = _paper_exact(lam, eps, alpha, L)
    got = bound(float(lam), float(eps), float(alpha), float(L))
    if expected is None:
        # s >= alpha exactly; floats of the inputs may land on the other side only at the boundary
        assume(lam * (alpha + eps * L) != alpha)
        assert got == math.inf
    else:
        assume(alpha - lam * (alpha + eps * L) > Fraction(1, 10**6))
        assert got == pytest.approx(float(expected), rel=1e-9)


@given(rationals, rationals, rationals.filter(lambda a: a > 0), rationals)
def test_bound_below_one_iff_condition(lam, eps, alpha, L):
    lhs = lam * (1 + L * eps / alpha)
    assume(abs(lhs - Fraction(1, 2)) > Fraction(1, 10**9))  # away from the boundary's rounding
    assert (bound(float(lam), float(eps), float(alpha), float(L)) < 1) == (lhs < Fraction(1, 2))


@given(valid("lambda_", 1e3), valid("eps", 10), valid("alpha", 10).filter(lambda a: a > 1e-3), valid("L", 10))
def test_max_lambda_is_the_contraction_threshold(lam, eps, alpha, L):
    for form, f in [("paper", bound), ("sharp", sharp_bound)]:
        m = max_lambda(eps, alpha, L, form=form)
        assume(m == 0 or m == math.inf or abs(lam - m) > 1e-9 * m)
        assert (f(lam, eps, alpha, L) < 1) == (lam < m or (lam == 0 and m == 0)), form


@given(st.floats(0, 1e4))
def test_sharp_at_zero_eps_is_well_specified_rate(lam):
    assert sharp_bound(lam, 0.0) == pytest.approx(lam / (1 + lam), rel=RTOL_FLOAT)


@given(valid("eps", 10), valid("alpha", 10).filter(lambda a: a > 1e-3), valid("L", 10))
def test_sharp_never_exceeds_paper(eps, alpha, L):
    lam = np.linspace(0, 2, 201)
    p = bound(lam, eps, alpha, L)
    s = sharp_bound(lam, eps, alpha, L)
    both = np.isfinite(p) & np.isfinite(s)
    assert np.all(s[both] <= p[both] * (1 + RTOL_FLOAT))


@given(valid("eps", 10), valid("alpha", 10).filter(lambda a: a > 1e-3), valid("L", 10))
def test_monotone_in_lambda_and_eps(eps, alpha, L):
    grid = np.linspace(0, 3, 301)
    for f in (bound, sharp_bound):
        r = f(grid, eps, alpha, L)
        assert np.all(r[1:] >= r[:-1] * (1 - RTOL_FLOAT)), f.__name__
        r_eps = f(0.3, grid, alpha, L)
        assert np.all(r_eps[1:] >= r_eps[:-1] * (1 - RTOL_FLOAT)), f.__name__


def _random_pair(rng, d, alpha, leps):
    """A with smallest eigenvalue alpha (condition number up to 1e3), B = A + E, ||E||_2 = leps."""
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    ev = alpha * np.exp(rng.uniform(0, np.log(1e3), size=d))
    ev[0] = alpha
    a = (q * ev) @ q.T
    e = rng.normal(size=(d, d))
    e = e + e.T
    e *= leps / np.linalg.norm(e, 2)
    return a, a + e


@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 6),
    st.floats(0.1, 10),
    st.floats(0, 0.99),
    st.floats(0, 1),
)
def test_neumann_bound_dominates_true_jacobian_norm(seed, d, alpha, leps_frac, lam_frac):
    """Random A >= alpha I and B with ||B - A|| <= L eps: ||lambda (A + lambda B)^-1 B||_2 <= sharp <= paper.

    L = 1 and eps = ||B - A||_2, so Kantorovich-Rubinstein's ||B - A|| <= L eps holds with equality.
    lambda ranges over the sharp bound's contraction region (lam_frac of alpha / (2 L eps)).
    """
    rng = np.random.default_rng(seed)
    leps = leps_frac * alpha
    a, b = _random_pair(rng, d, alpha, leps)
    assume(np.linalg.eigvalsh(b).min() > 0)  # B is a Fisher information: PSD
    lam = lam_frac * (alpha / (2 * leps) if leps > 0 else 10.0)
    jac = lam * np.linalg.solve(a + lam * b, b)
    norm2 = np.linalg.norm(jac, 2)
    sharp = sharp_bound(lam, leps, alpha, 1.0)
    paper = bound(lam, leps, alpha, 1.0)
    tol = 1e-9  # solve + SVD in double precision on matrices with condition number <= 1e3
    assert norm2 <= sharp * (1 + tol) + tol
    if np.isfinite(paper):
        assert sharp <= paper * (1 + RTOL_FLOAT)
        # the Neumann series itself: ||A^-1 B|| <= 1 + kappa and the bound is lam m / (1 - lam m)
        m = np.linalg.norm(np.linalg.solve(a, b), 2)
        assert m <= 1 + leps / alpha + tol
        if lam * m < 1:
            assert norm2 <= lam * m / (1 - lam * m) * (1 + tol) + tol


def test_known_values():
    # lambda (alpha + eps L) = 0.3 * 1.05 = 0.315 -> 0.315 / 0.685
    assert bound(0.3, 0.05) == pytest.approx(0.315 / 0.685, rel=RTOL_FLOAT)
    assert bound(0.0, 5.0) == 0.0
    assert bound(math.inf, 0.0) == math.inf
    assert bound(0.75, 0.0) == pytest.approx(3.0)  # finite but >= 1: no guarantee
    assert sharp_bound(math.inf, 0.0) == 1.0
    assert sharp_bound(math.inf, 0.5) == pytest.approx(1.5 / 0.5)
    assert sharp_bound(0.0, 2.0) == 0.0
    assert max_lambda(0.25, alpha=2.0, L=4.0) == pytest.approx(2.0 / (2 * 3.0))
    assert max_lambda(0.25, alpha=2.0, L=4.0, form="sharp") == pytest.approx(1.0)
    assert max_lambda(1.0, form="sharp") == 0.0


def test_broadcasting_and_return_types():
    assert isinstance(bound(0.1, 0.1), float)
    lam = np.linspace(0, 1, 5)[:, None]
    eps = np.linspace(0, 1, 3)[None, :]
    out = bound(lam, eps, alpha=np.ones((1, 3)), L=0.5)
    assert out.shape == (5, 3)
    assert out[2, 1] == bound(0.5, 0.5, 1.0, 0.5)
    assert finite_sample_bound(np.arange(4), 0.1, 0.0, 0.1, 1.0).shape == (4,)
    assert max_lambda(np.zeros(2)).shape == (2,)
    with pytest.raises(ValueError, match=r"shapes do not broadcast"):
        bound(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("f", [bound, sharp_bound])
@pytest.mark.parametrize("name", ["lambda_", "eps", "alpha", "L"])
def test_invalid_inputs_name_the_parameter(f, name):
    args = {"lambda_": 0.1, "eps": 0.1, "alpha": 1.0, "L": 1.0}

    @given(invalid(name))
    def run(x):
        with pytest.raises(ValueError, match=rf"^{name} must be "):
            f(**{**args, name: x})

    run()


def test_invalid_inputs_of_other_functions():
    with pytest.raises(ValueError, match=r"^t must be an integer >= 0"):
        finite_sample_bound(-1, 0.1, 0.1, 0.1, 1.0)
    with pytest.raises(ValueError, match=r"^t must be an integer >= 0"):
        finite_sample_bound(2.5, 0.1, 0.1, 0.1, 1.0)
    with pytest.raises(ValueError, match=r"^stat_err must be >= 0"):
        finite_sample_bound(1, 0.1, 0.1, -0.1, 1.0)
    with pytest.raises(ValueError, match=r"^init_err must be >= 0"):
        finite_sample_bound(1, 0.1, 0.1, 0.1, math.nan)
    with pytest.raises(ValueError, match=r"^form must be one of"):
        max_lambda(0.1, form="exact")
    with pytest.raises(ValueError, match=r"^alpha must be > 0"):
        max_lambda(0.1, alpha=-1.0)


@given(st.integers(0, 60), valid("lambda_", 0.49), st.floats(0, 1), st.floats(0, 10))
def test_finite_sample_bound_is_the_unrolled_recursion(t, lam, stat_err, init_err):
    """Theorem 2 is the recursion b_{t+1} = e + rho b_t, b_0 = ||theta_0 - theta*||, unrolled."""
    rho = bound(lam, 0.0)
    assume(rho < 1)
    b = init_err
    for _ in range(t):
        b = stat_err + rho * b
    assert finite_sample_bound(t, lam, 0.0, stat_err, init_err) == pytest.approx(b, rel=1e-9, abs=1e-12)
    radius = finite_sample_bound(math.inf, lam, 0.0, stat_err, init_err)
    assert radius == pytest.approx(stat_err / (1 - rho), rel=1e-12, abs=1e-300)


def test_finite_sample_bound_without_guarantee_is_inf():
    assert finite_sample_bound(3, 0.6, 0.0, 0.1, 1.0) == math.inf  # rho_paper(0.6, 0) = 1.5
    assert finite_sample_bound(3, 0.6, 0.0, 0.1, 1.0, form="sharp") < math.inf


def test_public_api_reexports():
    for name in ["bound", "sharp_bound", "max_lambda", "finite_sample_bound", "c4"]:
        assert name in stability.__all__
