"""Closed-form moment recursions and stationary values against exact simulation (docs/theory.md §6)."""

import numpy as np
import pytest

from stability import expected_sigma, expected_variance, log_det_drift
from stability.dynamics import (
    family_moments,
    family_stationary,
    gaussian_moments,
    gaussian_stationary,
    simulate,
)

# Every Monte Carlo comparison: |simulated mean - prediction| <= Z standard errors of the simulated
# mean (fixed seeds, so deterministic; a correct prediction fails one check with probability 6e-7).
Z = 5.0
DATA = {"mean": [0.5, -1.0], "cov": [[1.5, 0.4], [0.4, 0.8]]}


def _z(samples, predicted):
    """Largest |z|-score of per-chain samples (chains, ...) against predicted means."""
    se = samples.std(axis=0) / np.sqrt(samples.shape[0])
    diff = np.abs(samples.mean(axis=0) - predicted)
    # deterministic components (generation 0, a known entry): equal up to rounding of O(1) values
    exact = np.where(diff <= 1e-12 * np.maximum(1.0, np.abs(predicted)), 0.0, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.max(np.where(se > 0, diff / np.where(se > 0, se, 1.0), exact))


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real", "replace"])
def test_gaussian_moments_match_simulation(scheme, estimator):
    G, C = 6, 20000
    init = {"mean": [1.5, -0.5], "cov": [[1.0, 0.0], [0.0, 2.0]]}
    kw = dict(n=8, lambda_=0.75, generations=G, scheme=scheme, estimator=estimator, data=DATA, init=init)
    r = simulate("gaussian", chains=C, seed=21, **kw)
    p = gaussian_moments(**kw)
    mu_d = np.asarray(DATA["mean"])
    for g in (1, 3, G):
        e = r.mean[g] - mu_d
        P = p.cov_mean[g] + np.outer(p.mean[g] - mu_d, p.mean[g] - mu_d)  # E[e e^T], non-centred
        assert _z(e, p.mean[g] - mu_d) < Z
        assert _z(e[:, :, None] * e[:, None, :], P) < Z
        assert _z(r.cov[g], p.expected_cov[g]) < Z


@pytest.mark.slow
def test_stationary_variance_of_the_mean_fixed_real():
    """After 40 rounds with w = 1/2 the moments are stationary to ~w^40; compare with the linear solve."""
    kw = dict(n=10, lambda_=1.0, data=DATA)
    r = simulate("gaussian", generations=40, chains=20000, seed=5, **kw)
    st = gaussian_stationary(**kw)
    e = r.mean[-1] - np.asarray(DATA["mean"])
    assert _z(e[:, :, None] * e[:, None, :], st.cov_mean) < Z
    assert _z(r.cov[-1], st.expected_cov) < Z
    # and it is not the fresh-real value (a planted wrong law: the fixed real sample's correlation dropped)
    wrong = gaussian_stationary(scheme="fresh-real", **kw)
    assert _z(e[:, :, None] * e[:, None, :], wrong.cov_mean) > Z


@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real"])
@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_stationary_is_the_limit_of_the_recursion(scheme, estimator):
    """Two routes: the 3x3 linear solve and 400 iterations of the recursion (w^400 ~ 1e-70)."""
    kw = dict(n=7, lambda_=1.3, scheme=scheme, estimator=estimator, data=DATA)
    st = gaussian_stationary(**kw)
    it = gaussian_moments(generations=400, **kw)
    np.testing.assert_allclose(it.cov_mean[-1], st.cov_mean, rtol=1e-12)  # rounding of 400 steps
    np.testing.assert_allclose(it.expected_cov[-1], st.expected_cov, rtol=1e-12)


def test_real_data_only_closed_forms():
    """lambda = 0: the fit to n real points, Cov(mu) = Sigma/n, E[Sigma] = (n-1)/n Sigma (textbook)."""
    S = np.asarray(DATA["cov"])
    st = gaussian_stationary(n=20, lambda_=0.0, data=DATA)
    np.testing.assert_allclose(st.cov_mean, S / 20, rtol=1e-14)
    np.testing.assert_allclose(st.expected_cov, 19 / 20 * S, rtol=1e-14)
    ub = gaussian_stationary(n=20, lambda_=0.0, data=DATA, estimator="unbiased")
    np.testing.assert_allclose(ub.expected_cov, S, rtol=1e-14)


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_replace_collapse_laws_one_dimension(estimator):
    """Purely synthetic 1-D: E[sigma_t], E[sigma_t^2] from stability.collapse (c4 laws)."""
    n, G, C = 5, 8, 40000
    r = simulate("gaussian", n=n, lambda_=0.0, scheme="replace", estimator=estimator, generations=G, chains=C, seed=9)
    var = r.cov[:, :, 0, 0]
    sigma = np.sqrt(var)
    t = np.arange(G + 1)
    assert _z(sigma.T, expected_sigma(t, n, 1.0, "unbiased" if estimator == "unbiased" else "mle")) < Z
    # E[sigma^2_t] has a heavy right tail at t = 8 (a product of 8 chi^2_4 / n); its SE is estimated from
    # the same 40,000 chains, which is accurate to ~10% here, so 5 SE remains a safe margin.
    assert _z(var.T, expected_variance(t, n, 1.0, "unbiased" if estimator == "unbiased" else "mle")) < Z
    p = gaussian_moments(n=n, lambda_=0.0, scheme="replace", estimator=estimator, generations=G)
    np.testing.assert_allclose(p.expected_cov[:, 0, 0], expected_variance(t, n, 1.0, estimator), rtol=1e-12)


def test_replace_collapse_law_is_not_the_unbiased_one_for_the_mle():
    """Planted wrong factor: the MLE chain does not follow the unbiased law E[sigma^2_t] = 1."""
    n, G = 5, 8
    r = simulate("gaussian", n=n, lambda_=0.0, scheme="replace", generations=G, chains=40000, seed=9)
    assert _z(r.cov[:, :, 0, 0].T, expected_variance(np.arange(G + 1), n, 1.0, "unbiased")) > Z


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_replace_log_det_drift(estimator):
    """d dimensions: log det Sigma_t is a random walk with drift stability.log_det_drift(n, d)."""
    n, d, G, C = 6, 3, 5, 20000
    r = simulate("gaussian", dim=d, n=n, lambda_=0.0, scheme="replace", estimator=estimator, generations=G, chains=C)
    ld = np.linalg.slogdet(r.cov)[1]  # log det Sigma_0 = 0
    assert _z(ld[G] / G, log_det_drift(n, d, estimator)) < Z
    assert np.mean(ld[G] < 0) > 0.5  # most chains already lose volume


@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real", "replace"])
@pytest.mark.parametrize(
    "family, data, init",
    [
        ("bernoulli", {"p": 0.3}, [0.6]),
        ("categorical", {"probs": [0.5, 0.3, 0.2]}, [0.2, 0.3, 0.5]),
        ("poisson", {"rate": 3.0}, [1.0]),
        ("exponential", {"mean": 2.0}, [1.0]),
        ("gamma", {"shape": 3.0, "mean": 1.0}, [2.0]),
    ],
)
def test_family_moments_match_simulation(family, data, init, scheme):
    G, C, n = 5, 20000, 10
    init_kw = {"bernoulli": "p", "categorical": "probs", "poisson": "rate", "exponential": "mean", "gamma": "mean"}
    start = {init_kw[family]: init if family == "categorical" else init[0]}
    r = simulate(family, n=n, lambda_=1.5, generations=G, chains=C, scheme=scheme, data=data, init=start, seed=3)
    p = family_moments(family, n=n, lambda_=1.5, generations=G, scheme=scheme, data=data, init=init)
    eta_d = r.data_mean
    for g in (1, G):
        e = r.mean[g] - eta_d
        m = p.mean[g] - eta_d
        assert _z(e, m) < Z
        assert _z(e[:, :, None] * e[:, None, :], p.cov_mean[g] + np.outer(m, m)) < Z


def test_wright_fisher_heterozygosity():
    """Independent closed form (population genetics): under replace, E[p_t(1-p_t)] = (1-1/n)^t p(1-p)."""
    n, p0, G = 10, 0.3, 12
    pred = family_moments("bernoulli", n=n, lambda_=0.0, generations=G, scheme="replace", data={"p": p0})
    het = pred.mean[:, 0] * (1 - pred.mean[:, 0]) - pred.cov_mean[:, 0, 0]
    np.testing.assert_allclose(het, (1 - 1 / n) ** np.arange(G + 1) * p0 * (1 - p0), rtol=1e-13)


@pytest.mark.parametrize("family", ["bernoulli", "categorical", "poisson", "exponential", "gamma"])
@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real"])
def test_family_stationary_is_the_limit_and_matches_simulation(family, scheme):
    kw = dict(n=12, lambda_=1.0, scheme=scheme)
    st = family_stationary(family, **kw)
    it = family_moments(family, generations=300, **kw)  # w^2 = 1/4 per step: converged to rounding
    np.testing.assert_allclose(it.cov_mean[-1], st.cov_mean, rtol=1e-10, atol=1e-15)  # rounding (300 steps)
    r = simulate(family, generations=30, chains=20000, seed=17, **kw)
    e = r.mean[-1] - r.data_mean
    assert _z(e[:, :, None] * e[:, None, :], st.cov_mean) < Z


def test_no_closed_form_errors():
    # (accumulate has an exact pool recursion since docs/theory.md §11: tests/system/test_setups.py checks it)
    with pytest.raises(ValueError, match="'replace' .* has no stationary law"):
        gaussian_stationary(n=10, lambda_=1.0, scheme="replace")
    with pytest.raises(ValueError, match="'replace' .* has no stationary law"):
        family_stationary("poisson", n=10, lambda_=float("inf"))
    with pytest.raises(ValueError, match=r"init must have shape \(1,\)"):
        family_moments("poisson", n=10, lambda_=1.0, generations=1, init=[1.0, 2.0])
