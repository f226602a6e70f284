"""Exact samplers: Bartlett Wishart against scipy's Wishart and its moments; square roots and collapse flags."""

import numpy as np
import pytest
from scipy import stats

from stability.families import samplers

# Two-sample KS level: with fixed seeds each test is deterministic; 1e-4 makes a false failure of a
# correct sampler a 1-in-10,000 event per statistic, while a wrong degree of freedom is still
# rejected at 4,000 draws (test_wrong_degrees_of_freedom_is_rejected).
KS_LEVEL = 1e-4


def _bartlett_draws(df, Sigma, draws, seed):
    rng = np.random.default_rng(seed)
    L = np.linalg.cholesky(Sigma)
    F = samplers.wishart_factor(rng, df, Sigma.shape[0], draws)
    B = L @ F
    return B @ B.transpose(0, 2, 1)


SIGMA = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])


@pytest.mark.parametrize("df", [3, 7, 40])
def test_bartlett_matches_scipy_wishart_in_law(df):
    W = _bartlett_draws(df, SIGMA, 4000, seed=df)
    ref = stats.wishart(df=df, scale=SIGMA).rvs(size=4000, random_state=100 + df)
    for stat in (lambda M: np.trace(M, axis1=1, axis2=2), lambda M: M[:, 0, 1], lambda M: np.linalg.slogdet(M)[1]):
        assert stats.ks_2samp(stat(W), stat(ref)).pvalue > KS_LEVEL


def test_wrong_degrees_of_freedom_is_rejected():
    """The KS level above has power: df + 5 instead of df is caught (the planted-error check)."""
    W = _bartlett_draws(12, SIGMA, 4000, seed=1)
    ref = stats.wishart(df=7, scale=SIGMA).rvs(size=4000, random_state=2)
    assert stats.ks_2samp(np.trace(W, axis1=1, axis2=2), np.trace(ref, axis1=1, axis2=2)).pvalue < KS_LEVEL


@pytest.mark.parametrize("df", [2, 10])  # df = 2 < d = 3: the singular Wishart Z^T Z branch
def test_wishart_moments(df):
    draws = 20000
    W = _bartlett_draws(df, SIGMA, draws, seed=7)
    mean = W.mean(axis=0)
    # Var(W_ij) = df (Sigma_ij^2 + Sigma_ii Sigma_jj) (the standard Wishart variance, e.g. Muirhead 1982, §3.2)
    var = df * (SIGMA**2 + np.outer(np.diag(SIGMA), np.diag(SIGMA)))
    se = np.sqrt(var / draws)
    np.testing.assert_array_less(np.abs(mean - df * SIGMA), 5 * se)  # 5 Monte Carlo standard errors
    np.testing.assert_allclose(W.var(axis=0), var, rtol=0.15)  # 4th moments: SE of a variance ~ 2-7% here


def test_gaussian_stats_mean_and_scatter_law():
    rng = np.random.default_rng(3)
    draws, m = 20000, 6
    L = np.linalg.cholesky(SIGMA)
    mu = np.array([1.0, -2.0, 0.5])
    ybar, Q = samplers.gaussian_stats(rng, np.broadcast_to(mu, (draws, 3)), L, m)
    se = np.sqrt(np.diag(SIGMA) / m / draws)
    np.testing.assert_array_less(np.abs(ybar.mean(0) - mu), 5 * se)
    np.testing.assert_allclose(np.cov(ybar.T), SIGMA / m, atol=5 * np.sqrt(2 / draws) * np.max(SIGMA) / m)
    assert np.allclose(Q, Q.transpose(0, 2, 1))
    se_q = np.sqrt((m - 1) * (SIGMA**2 + np.outer(np.diag(SIGMA), np.diag(SIGMA))) / draws)
    np.testing.assert_array_less(np.abs(Q.mean(0) - (m - 1) * SIGMA), 5 * se_q)


def test_sqrt_factor_pd_and_singular():
    covs = np.stack([SIGMA, np.eye(3)])
    L, sing = samplers.sqrt_factor(covs)
    np.testing.assert_allclose(L @ L.transpose(0, 2, 1), covs, rtol=1e-12, atol=1e-14)
    assert not sing.any()
    v = np.array([1.0, 2.0, -1.0])
    rank1 = np.outer(v, v)  # singular: Cholesky fails, eigh fallback
    L, sing = samplers.sqrt_factor(np.stack([SIGMA, rank1]))
    assert sing.tolist() == [False, True]
    np.testing.assert_allclose(L[1] @ L[1].T, rank1, atol=1e-12)  # rounding of eigh on O(1) entries
    # in one dimension a variance is "collapsed" only relative to the floor (the data's variance)
    assert samplers.sqrt_factor(np.array([[[1e-300]]]), floor=1.0)[1].tolist() == [True]
    assert samplers.sqrt_factor(np.array([[[1e-10]]]), floor=1.0)[1].tolist() == [False]
