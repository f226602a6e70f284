"""Issue 20 (a new audit of inputs): the silent wrong results it found, each checked against an
independent reference, and the time estimates' refusals and override."""

from __future__ import annotations

import os
import warnings

import mpmath
import numpy as np
import pytest

import stability
from stability.cli import main
from stability.dynamics import family_moments, simulate
from stability.errors import TIME_LIMIT_S, ConvergenceError, TimeEstimateError, time_limit


@pytest.mark.parametrize("lam", [1e-300, 1e-20, 1e-9, 1e-3, 0.5, 1.0, 1e6, 1e300])
def test_optimal_synthetic_weight_has_no_cancellation(lam):
    # reference: (sqrt(1 + 4 l) - 1) / (sqrt(1 + 4 l) + 1) in 60-digit arithmetic
    mpmath.mp.dps = 60
    r = mpmath.sqrt(1 + 4 * mpmath.mpf(lam))
    want = float((r - 1) / (r + 1))
    # the closed form 4 l / (1 + sqrt(1 + 4 l))^2 has a few roundings: relative error a few eps
    assert stability.optimal_synthetic_weight(lam) == pytest.approx(want, rel=8e-16)


@pytest.mark.parametrize("shift", [0.0, 1e6, 1e12, 1e15])
def test_exponential_family_jacobian_is_exact_far_from_the_origin(shift):
    # A = B for an exponential family: J = lambda/(1 + lambda) I in every parametrisation, so the
    # spectral norm is 1/3 at lambda = 1/2 whatever the location of the data (was 523 at 1e12)
    x = shift + np.random.default_rng(0).standard_normal(200) * max(1.0, shift * 1e-12)
    for model in ("gaussian", "gaussian-diag"):
        r = stability.analyze(model, x, 0.5)
        assert r.norm2 == pytest.approx(1 / 3, rel=1e-12)
        assert r.rate_exact == pytest.approx(1 / 3, rel=1e-12)


def test_uint64_data_near_2_64():
    x = np.uint64(2**64 - 2**20) + np.random.default_rng(0).integers(0, 2**16, 200).astype(np.uint64)
    assert stability.analyze("gaussian", x, 0.5).norm2 == pytest.approx(1 / 3, rel=1e-12)
    with pytest.raises(ValueError, match=r"integers <= 2\*\*53"):  # counts no longer exact in float64
        stability.analyze("poisson", x, 0.5)
    ok = np.arange(200, dtype=np.uint64) % np.uint64(7) + np.uint64(2**30)  # large but exact counts
    assert stability.analyze("poisson", ok, 0.5).rate_exact == pytest.approx(1 / 3, rel=1e-12)


def test_time_estimates_refuse_and_the_limit_can_be_raised(monkeypatch):
    assert time_limit() == TIME_LIMIT_S == 1800.0
    with pytest.raises(TimeEstimateError, match=r"simulate with chains=3, generations=100000000 would take about"):
        simulate("gaussian", n=10, lambda_=0.5, generations=10**8, chains=3)
    # 2e6 generations: ~60 s estimated; refused under a 10 s limit, accepted (not run here) under the default
    monkeypatch.setenv("STABILITY_TIME_LIMIT", "10")
    with pytest.raises(TimeEstimateError, match=r"more than the limit of 10 s.*STABILITY_TIME_LIMIT"):
        family_moments("bernoulli", n=10, lambda_=0.5, generations=2 * 10**6)
    monkeypatch.setenv("STABILITY_TIME_LIMIT", "soon")
    with pytest.raises(ValueError, match="STABILITY_TIME_LIMIT must be a number of seconds > 0"):
        time_limit()
    monkeypatch.setenv("STABILITY_TIME_LIMIT", "inf")
    assert family_moments("bernoulli", n=10, lambda_=0.5, generations=10).mean.shape == (11, 1)


def test_family_moments_accepts_a_valid_init():
    # Poisson under 'replace': E[eta_t] = eta_0 (a martingale), Var(eta_t) = t eta_0 / n
    p = family_moments("poisson", n=10, lambda_=float("inf"), generations=3, scheme="replace", init=2.0)
    np.testing.assert_allclose(p.mean[:, 0], 2.0, rtol=1e-15)
    np.testing.assert_allclose(p.cov_mean[:, 0, 0], [0.0, 0.2, 0.4, 0.6], rtol=1e-12)


@pytest.mark.torch
def test_theta_star_that_is_not_the_maximum_is_reported():
    x = np.random.default_rng(0).standard_normal(60)  # a two-component mixture on unimodal data
    with pytest.raises(ConvergenceError, match=r"theta\* is not the maximum"):
        stability.retrain_chains("gaussian-mixture", x, 1.0, generations=5, chains=8, seed=0)
    with pytest.warns(RuntimeWarning, match=r"theta\* is not the maximum"):
        r = stability.retrain_chains("gaussian-mixture", x, 1.0, generations=5, chains=8, seed=0, allow_failure=True)
    assert r.excess_nll.min() < 0  # what the warning is about
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an identifiable model: no warning, excess >= 0
        r = stability.retrain_chains("student-t", x, 1.0, generations=3, chains=4, seed=0)
    assert (r.excess_nll >= 0).all()


def test_simulate_out_writes_every_field_with_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        args = ["simulate", "gaussian", "--n", "10", "--lambda", "0.5", "--generations", "2", "--chains", "3"]
        assert main([*args, "--seed", "5", "--out", str(tmp_path / "a.npz"), "--quiet"]) == 0
        frac = ["--scheme", "fresh-fraction", "--real-fraction", "0.5"]
        assert main([*args, *frac, "--out", str(tmp_path / "b.npz"), "--quiet"]) == 0
    finally:
        os.umask(old)
    for name in ("a.npz", "b.npz"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644  # 0o666 & ~umask, as open() gives
    r = simulate("gaussian", n=10, lambda_=0.5, generations=2, chains=3, seed=5)
    with np.load(tmp_path / "a.npz") as z:
        assert int(z["seed"]) == 5
        np.testing.assert_array_equal(z["real_mean"], r.real_mean)
        np.testing.assert_array_equal(z["real_cov"], r.real_cov)
    with np.load(tmp_path / "b.npz") as z:
        assert float(z["real_fraction"]) == 0.5 and int(z["n_real"]) == 5 and int(z["seed"]) == 0
