"""Invalid input and degenerate data give a ValueError that says what is wrong (never a LinAlgError)."""

import math

import numpy as np
import pytest
from scipy import stats

import stability
from stability.families import (
    Bernoulli,
    Categorical,
    Exponential,
    Gamma,
    Gaussian,
    GaussianDiag,
    GaussianMixture,
    Moments,
    Poisson,
)

BAD_PARAMETERS = [
    (lambda: Gaussian(2).natural_from([0, 0], [[1.0, 2.0], [2.0, 1.0]]), r"^cov must be positive definite"),
    (lambda: Gaussian(2).natural_from([0, 0], [[1.0, 0.5], [0.0, 1.0]]), r"^cov must be symmetric"),
    (lambda: Gaussian(2).natural_from([0, math.nan], np.eye(2)), r"^mean must be finite"),
    (lambda: Gaussian(2).natural_from([0, 0, 0], np.eye(2)), r"^mean must have shape \(2,\)"),
    (lambda: Gaussian(2).check_natural(np.zeros(5)), r"^precision \(natural parameter\) must be positive definite"),
    (lambda: Gaussian(2).check_natural(np.zeros(4)), r"^theta must have shape \(5,\)"),
    (lambda: Gaussian(0), r"^d must be an integer >= 1"),
    (lambda: GaussianDiag(2).natural_from([0, 0], [1.0, -1.0]), r"^var must be > 0"),
    (lambda: Poisson().natural_from(-1.0), r"^rate must be > 0, got -1.0"),
    (lambda: Poisson().natural(np.array([-2.0])), r"^rate must be > 0 \(a Poisson mean\)"),
    (lambda: Exponential().natural_from(0.0), r"^rate must be > 0"),
    (lambda: Gamma().natural_from(-1.0, 1.0), r"^shape must be > 0"),
    (lambda: Gamma().check_natural([-2.0, -1.0]), r"needs shape > 0 and rate > 0"),
    (lambda: Bernoulli().natural_from(1.5), r"^p must be in \(0, 1\), got 1.5"),
    (lambda: Bernoulli().natural_from(math.nan), r"^p must be in \(0, 1\), got nan"),
    (lambda: Categorical(3).natural_from([0.5, 0.6, -0.1]), r"^probs must be in \(0, 1\)"),
    (lambda: Categorical(3).natural_from([0.5, 0.3, 0.3]), r"^probs must sum to 1"),
    (lambda: Categorical(1), r"^k must be an integer >= 2"),
    (lambda: GaussianMixture([0.5, 0.6], [0.0, 1.0], [1.0, 1.0]), r"^weights must be > 0 and sum to 1"),
    (lambda: GaussianMixture([1.0], [0.0], [-1.0]), r"^covs\[0\] must be positive definite"),
    (lambda: Moments(mean=[0.0, math.nan]), r"^Moments.mean must be finite"),
]


@pytest.mark.parametrize("call,message", BAD_PARAMETERS)
def test_bad_parameters(call, message):
    with pytest.raises(ValueError, match=message):
        call()


BAD_DATA = [
    ("gaussian", Moments(mean=[0.0, 0.0], cov=[[1.0, 2.0], [2.0, 1.0]]), r"^data covariance must be positive definite"),
    ("gaussian", np.array([[0.0, 1.0], [math.nan, 2.0], [1.0, 1.0]]), r"^data must be finite"),
    ("poisson", Moments(mean=-3.0), r"^rate must be > 0"),
    ("poisson", np.array([1.0, 2.5]), r"^data must be non-negative integers"),
    ("poisson", np.array([1.0, -2.0]), r"^data must be non-negative integers"),
    ("poisson", stats.norm(), r"^data distribution must be discrete"),
    ("bernoulli", Moments(mean=1.2), r"^probabilities must be in \[0, 1\]"),
    ("bernoulli", np.array([0.0, 1.0, 2.0]), r"^data must be 0 or 1"),
    ("bernoulli", stats.binom(3, 0.5), r"^data distribution must have support in \{0, 1\}"),
    ("categorical", Moments(mean=[0.5, 0.7, -0.2]), r"^probabilities must be in \[0, 1\]"),
    ("gamma", np.array([1.0, 0.0, 2.0]), r"^data must be > 0"),
    ("gamma", Moments(mean=2.0), r"need mean \(E\[x\]\) and mean_log"),
    ("gamma", Moments(mean=1.0, mean_log=0.5), r"must be >= 0 \(Jensen\)"),
    ("exponential", stats.norm(), r"^data distribution must have support in \[0, inf\)"),
    ("gaussian", np.ones((3, 2, 2)), r"^data must have shape \(n,\) or \(n, d\)"),
    ("gaussian", "abc", r"^data must be an array of numbers"),
]


@pytest.mark.parametrize("name,data,message", BAD_DATA)
def test_bad_data(name, data, message):
    with pytest.raises(ValueError, match=message):
        stability.analyze(name, data, 0.5)


def test_wrong_dimensions():
    with pytest.raises(ValueError, match=r"^data must have shape \(n, 2\) for a 2-dimensional Gaussian, got \(10, 3\)"):
        Gaussian(2).fixed_point(np.zeros((10, 3)))
    with pytest.raises(ValueError, match=r"^Moments must have mean shape \(2,\) and cov \(2, 2\)"):
        Gaussian(2).fixed_point(Moments(mean=[0.0, 0.0, 0.0], cov=np.eye(3)))
    with pytest.raises(ValueError, match=r"^data must be 2-dimensional, got a mixture in d = 1"):
        Gaussian(2).fixed_point(GaussianMixture([1.0], [0.0], [1.0]))
    with pytest.raises(ValueError, match=r"^a scipy distribution is one-dimensional"):
        Gaussian(2).fixed_point(stats.norm())
    with pytest.raises(ValueError, match=r"^data must be integer labels in \{0, ..., 2\}"):
        Categorical(3).fixed_point(np.array([0.0, 1.0, 3.0]))


def test_negative_or_nan_lambda():
    fam, x = Poisson(), np.array([1.0, 2.0])
    for lam in (-0.1, math.nan):
        with pytest.raises(ValueError, match=r"^lambda_ must be >= 0"):
            fam.operator(np.zeros(1), x, lam)
        with pytest.raises(ValueError, match=r"^lambda_ must be >= 0"):
            fam.trajectory(np.zeros(1), x, lam, 3)
        with pytest.raises(ValueError, match=r"^lambda_ must be >= 0"):
            stability.analyze("poisson", x, lam)


DEGENERATE = [
    ("gaussian", np.full((10, 2), 3.0), r"^data are degenerate: the sample covariance is singular \(all points equal"),
    ("gaussian", np.random.default_rng(0).normal(size=(3, 4)), r"^data are degenerate: 3 points in d = 4 dimensions"),
    ("gaussian", np.random.default_rng(0).normal(size=(4, 4)), r"^data are degenerate: 4 points in d = 4 dimensions"),
    ("gaussian", np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), r"^data are degenerate: the sample covariance"),
    ("gaussian", np.array([[5.0]]), r"^data are degenerate: 1 points in d = 1"),
    ("gaussian-diag", np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 4.0]]), r"^data are degenerate: the variance of coord"),
    ("gaussian-diag", np.array([[1.0, 2.0]]), r"^data are degenerate: 1 point cannot fit a variance"),
    ("bernoulli", np.ones(5), r"^data are degenerate: all points equal 1"),
    ("poisson", np.zeros(5), r"^data are degenerate: all points equal 0"),
    ("exponential", np.zeros(5), r"^data are degenerate: all points equal 0"),
    ("gamma", np.full(5, 2.5), r"^data are degenerate: all points equal"),
    ("categorical", np.array([0.0, 2.0, 2.0]), r"^data are degenerate: class 1 has probability 0"),
    ("gaussian", Moments(mean=[0.0, 0.0], cov=np.zeros((2, 2))), r"data are degenerate"),
]


@pytest.mark.parametrize("name,data,message", DEGENERATE)
def test_degenerate_data_says_so(name, data, message):
    with pytest.raises(ValueError, match=message):
        stability.analyze(name, data, 0.5)


def test_trajectory_steps():
    fam, x = Poisson(), np.array([1.0, 2.0])
    assert fam.trajectory(np.zeros(1), x, 0.5, 0).shape == (1, 1)
    with pytest.raises(ValueError, match=r"^steps must be an integer >= 0, got inf"):
        fam.trajectory(np.zeros(1), x, 0.5, math.inf)
    with pytest.raises(ValueError, match=r"^steps must be an integer >= 0, got 2.5"):
        fam.trajectory(np.zeros(1), x, 0.5, 2.5)
