"""Jacobian at the fixed point (docs/theory.md §3) against independent computations."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stability.jacobian import (
    analyze_jacobian,
    energy_norm,
    fixed_point_jacobian,
    generalized_eigenvalues,
    rate_exact,
)

# Double-precision solves / eigen-decompositions of matrices with condition number <= 1e4:
# relative errors ~ cond * 1e-16 = 1e-12; 1e-9 leaves a wide margin.
TOL = 1e-9


def random_spd(rng, d, cond=1e2, shift=0.0):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    ev = np.exp(rng.uniform(0, np.log(cond), size=d)) + shift
    return (q * ev) @ q.T


@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.floats(0, 50))
def test_jacobian_matches_explicit_inverse_and_spectrum(seed, d, lam):
    rng = np.random.default_rng(seed)
    A, B = random_spd(rng, d), random_spd(rng, d)
    J = fixed_point_jacobian(A, B, lam)
    ref = lam * np.linalg.inv(A + lam * B) @ B  # independent route: explicit inverse
    assert np.allclose(J, ref, rtol=TOL, atol=TOL)
    gam = np.sort(np.linalg.eigvals(np.linalg.solve(A, B)).real)  # independent: eig of A^-1 B
    eig_J = np.sort(np.linalg.eigvals(J).real)
    assert np.allclose(eig_J, lam * gam / (1 + lam * gam), atol=TOL)
    r = analyze_jacobian(A, B, lam)
    assert r.rate_exact == pytest.approx(lam * gam[-1] / (1 + lam * gam[-1]), abs=TOL)
    assert r.rate_exact < 1
    # self-adjoint in the (A + lam B) inner product: norm there = spectral radius
    assert r.norm_energy == pytest.approx(r.rate_exact, abs=TOL)
    assert r.rate_exact <= r.norm2 * (1 + TOL) + TOL
    M = A + lam * B
    assert np.allclose(M @ J, (M @ J).T, atol=TOL * np.abs(M @ J).max() + 1e-300)


def test_well_specified_is_scalar():
    A = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert np.allclose(fixed_point_jacobian(A, A, 3.0), 0.75 * np.eye(2))
    assert rate_exact(A, A, 3.0) == pytest.approx(0.75)


def test_euclidean_norm_can_exceed_one():
    """Non-commuting A and B: ||J||_2 > 1 although rate_exact < 1 (docs/theory.md §3)."""
    A = np.diag([1.0, 1e4])
    c, s = np.cos(0.3), np.sin(0.3)
    R = np.array([[c, -s], [s, c]])
    B = R @ np.diag([1.0, 1e4]) @ R.T
    r = analyze_jacobian(A, B, 10.0)
    assert r.rate_exact < 1 < r.norm2


def test_lambda_limits():
    A, B = np.diag([1.0, 2.0]), np.diag([3.0, 0.0])
    assert np.all(fixed_point_jacobian(A, B, 0.0) == 0)
    J = fixed_point_jacobian(A, B, math.inf)
    assert np.allclose(J, np.diag([1.0, 0.0]))  # singular B: the projection onto its range
    assert rate_exact(A, B, math.inf) == 1.0
    assert np.allclose(fixed_point_jacobian(A, B, 1e12), J, atol=1e-10)
    assert analyze_jacobian(A, np.eye(2), math.inf).norm_energy == pytest.approx(1.0)


def test_energy_norm_identity_metric_is_euclidean():
    J = np.array([[0.0, 2.0], [0.0, 0.0]])
    assert energy_norm(J, np.eye(2)) == pytest.approx(2.0)


@pytest.mark.parametrize(
    "A,B,match",
    [
        (np.array([[1.0, 2.0], [0.0, 1.0]]), np.eye(2), r"^A must be symmetric"),
        (np.diag([1.0, -1.0]), np.eye(2), r"^A must be positive definite, got smallest eigenvalue -1"),
        (np.eye(2), np.diag([1.0, -1.0]), r"^B must be positive semi-definite"),
        (np.eye(2), np.eye(3), r"^A and B must have the same shape"),
        (np.array([[np.nan]]), np.eye(1), r"^A must be finite"),
        (np.ones(3), np.eye(3), r"^A must be a non-empty square matrix"),
    ],
)
def test_invalid_matrices(A, B, match):
    with pytest.raises(ValueError, match=match):
        analyze_jacobian(A, B, 0.5)


def test_invalid_lambda():
    with pytest.raises(ValueError, match=r"^lambda_ must be >= 0"):
        rate_exact(np.eye(2), np.eye(2), -1.0)


def test_generalized_eigenvalues_sorted_nonnegative():
    g = generalized_eigenvalues(np.diag([2.0, 1.0]), np.diag([1.0, 0.0]))
    assert np.all(g >= 0) and np.all(np.diff(g) >= 0)
    assert g == pytest.approx([0.0, 0.5])
