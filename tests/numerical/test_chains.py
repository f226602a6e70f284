"""retrain_chains: exact samplers, batched Newton refits, and the stationary law of docs/theory.md §9."""

import math

import numpy as np
import pytest
import torch
from scipy import linalg, stats

from stability import stationary
from stability.numerical import ConvergenceError
from stability.numerical.chains import check_stationary, default_burn_in, retrain_chains, theorem2_radius
from stability.numerical.models import (
    FunctionModel,
    Gaussian,
    GaussianMixture,
    Laplace,
    Logistic,
    StudentT,
)
from stability.numerical.operator import maximize

from ..torch_models import unit_gaussian

RNG = np.random.default_rng(3)
NORMAL_300 = RNG.standard_normal(300)


# --- exact samplers ---------------------------------------------------------------------------------


def _mixture_cdf(theta):
    a, m1, m2, l1, l2 = theta
    p = 1 / (1 + math.exp(-a))
    return lambda x: p * stats.norm.cdf(x, m1, math.exp(l1)) + (1 - p) * stats.norm.cdf(x, m2, math.exp(l2))


def _gauss_nat(mu, sd):  # natural (eta, Lambda) = (mu / sd^2, 1 / sd^2)
    return [mu / sd**2, 1 / sd**2]


SAMPLERS = {
    "student-t(3)": (StudentT(3.0), [[0.5, 0.2], [-1.0, -0.7]], lambda th: stats.t(3.0, th[0], math.exp(th[1])).cdf),
    "logistic": (Logistic(), [[0.5, 0.2], [-1.0, -0.7]], lambda th: stats.logistic(th[0], math.exp(th[1])).cdf),
    "laplace": (Laplace(), [[0.5, 0.2], [-1.0, -0.7]], lambda th: stats.laplace(th[0], math.exp(th[1])).cdf),
    "mixture": (GaussianMixture(1), [[0.4, -2.0, 1.5, -0.3, 0.1], [-1.0, 0.0, 3.0, 0.2, -0.5]], _mixture_cdf),
    "gaussian-numerical": (
        Gaussian(),
        [_gauss_nat(0.5, 2.0), _gauss_nat(-1.0, 0.3)],
        lambda th: stats.norm(th[0] / th[1], math.sqrt(1 / th[1])).cdf,
    ),
}


@pytest.mark.parametrize("name", SAMPLERS)
def test_batched_sampler_is_exact(name):
    model, thetas, cdf = SAMPLERS[name]
    m = 4000
    y = model.sample(torch.tensor(thetas, dtype=torch.float64), m, torch.Generator().manual_seed(0))
    assert y.shape == (len(thetas), m, 1) and y.dtype == torch.float64
    for th, row in zip(thetas, y, strict=True):
        # Kolmogorov-Smirnov against the exact CDF: the 0.1% critical value of D is 1.95/sqrt(m)
        d = stats.kstest(row[:, 0].numpy(), cdf(th)).statistic
        assert d < 1.95 / math.sqrt(m), (name, th, d)
    one = model.sample(torch.tensor(thetas[0], dtype=torch.float64), 7, torch.Generator().manual_seed(5))
    again = model.sample(torch.tensor(thetas[0], dtype=torch.float64), 7, torch.Generator().manual_seed(5))
    assert one.shape == (7, 1) and torch.equal(one, again)


# --- the refits ---------------------------------------------------------------------------------------


def _draws(model, result, seed):
    """The synthetic points of every generation, redrawn in the documented order."""
    gen = torch.Generator().manual_seed(seed)
    return [model.sample(torch.as_tensor(result.theta[t]), result.k, gen) for t in range(result.generations)]


def test_gaussian_refit_is_moment_matching():
    # exponential family: the maximiser of (1/(1+lam))(mean log p(x) + lam mean log p(y)) matches the
    # mixed moments m1 = a mean(x) + b mean(y), m2 = a mean(x^2) + b mean(y^2), a = 1/(1+lam), b = lam/(1+lam)
    x = RNG.normal(1.0, 2.0, 50)
    lam, seed = 0.6, 11
    r = retrain_chains(Gaussian(), x, lam, generations=3, chains=5, seed=seed)
    assert r.k == 30
    v = x.var()
    np.testing.assert_allclose(r.theta_star, [x.mean() / v, 1 / v], rtol=1e-9)
    a, b = 1 / (1 + lam), lam / (1 + lam)
    for t, y in enumerate(_draws(Gaussian(), r, seed)):
        y = y[..., 0].numpy()
        m1 = a * x.mean() + b * y.mean(1)
        m2 = a * (x**2).mean() + b * (y**2).mean(1)
        var = m2 - m1**2
        # |grad| <= 1e-10 at the refit: the natural parameters are then right to ~1e-10 / curvature
        np.testing.assert_allclose(r.theta[t + 1], np.stack([m1 / var, 1 / var], 1), rtol=1e-8)
    assert r.converged.all() and r.max_grad_norm.max() <= 1e-10


def test_batched_refit_matches_library_newton_per_chain():
    model, lam, seed = StudentT(3.0), 1.5, 4
    r = retrain_chains(model, NORMAL_300, lam, generations=2, chains=4, seed=seed)
    x = torch.as_tensor(NORMAL_300[:, None])
    for t, y in enumerate(_draws(model, r, seed)):
        for c in range(r.chains):  # the reference: one scalar maximize() per chain
            f = lambda th, yc=y[c]: (model.log_prob(th, x).mean() + lam * model.log_prob(th, yc).mean()) / (1 + lam)  # noqa: E731
            ref = maximize(f, r.theta[t, c]).raise_if_failed("reference refit")
            # both stop at |grad|_inf <= 1e-10 and the curvature is >= 0.5 here: |difference| <~ 4e-10
            np.testing.assert_allclose(r.theta[t + 1, c], ref.theta, rtol=0, atol=1e-8)


def test_same_seed_same_numbers_and_start_at_theta_star():
    kw = dict(generations=3, chains=6)
    a = retrain_chains("logistic", NORMAL_300, 1.0, seed=7, **kw)
    b = retrain_chains("logistic", NORMAL_300, 1.0, seed=7, **kw)
    c = retrain_chains("logistic", NORMAL_300, 1.0, seed=8, **kw)
    assert np.array_equal(a.theta, b.theta) and np.array_equal(a.excess_nll, b.excess_nll)
    assert not np.array_equal(a.theta[1:], c.theta[1:])
    assert np.array_equal(a.theta[0], np.broadcast_to(a.theta_star, (6, 2)))
    assert np.all(a.excess_nll[0] == 0) and np.all(a.excess_nll >= 0)
    assert a.theta.shape == (4, 6, 2) and a.grad_norm.shape == a.iterations.shape == (3, 6)


def test_lambda_zero_stays_at_theta_star():
    r = retrain_chains(StudentT(3.0), NORMAL_300, 0.0, generations=2, chains=3, seed=0)
    assert r.k == 0
    np.testing.assert_allclose(r.theta, np.broadcast_to(r.theta_star, r.theta.shape), rtol=0, atol=1e-12)


def test_theta0_and_unbatched_user_sampler():
    # a user Gaussian in (mu, log sigma) with a one-parameter-vector sampler: the draws go chain by chain
    def log_prob(th, x):
        return -0.5 * ((x[:, 0] - th[0]) * torch.exp(-th[1])) ** 2 - th[1] - 0.5 * math.log(2 * math.pi)

    def sample(th, m, gen):
        return (th[0] + torch.exp(th[1]) * torch.randn(m, generator=gen, dtype=torch.float64))[:, None]

    model = FunctionModel(log_prob, [0.0, 0.0], sample=sample)
    x, lam, seed = NORMAL_300[:40], 2.0, 3
    start = np.array([[0.3, 0.1], [-0.2, -0.1]])
    r = retrain_chains(model, x, lam, generations=2, chains=2, seed=seed, theta0=start)
    assert np.array_equal(r.theta[0], start)
    gen = torch.Generator().manual_seed(seed)
    a, b = 1 / (1 + lam), lam / (1 + lam)
    for t in range(2):
        y = np.stack([sample(torch.as_tensor(th), r.k, gen)[:, 0].numpy() for th in r.theta[t]])
        m1 = a * x.mean() + b * y.mean(1)
        var = a * (x**2).mean() + b * (y**2).mean(1) - m1**2
        np.testing.assert_allclose(r.theta[t + 1], np.stack([m1, 0.5 * np.log(var)], 1), rtol=0, atol=1e-8)


def test_errors():
    x = NORMAL_300
    with pytest.raises(ValueError, match="lambda_ must be finite"):
        retrain_chains("student-t", x, math.inf, generations=1, chains=1)
    with pytest.raises(ValueError, match="lambda_ must be >= 0"):
        retrain_chains("student-t", x, -1.0, generations=1, chains=1)
    with pytest.raises(ValueError, match="not twice differentiable"):
        retrain_chains(Laplace(), x, 1.0, generations=1, chains=1)
    with pytest.raises(ValueError, match="no exact sampler"):
        retrain_chains(FunctionModel(lambda th, z: -((z[:, 0] - th[0]) ** 2), [0.0]), x, 1.0, generations=1, chains=1)
    with pytest.raises(ValueError, match="k must be >= 1"):
        retrain_chains("student-t", x[:10], 0.05, generations=1, chains=1)
    with pytest.raises(ValueError, match="theta0 must be finite with shape"):
        retrain_chains("student-t", x, 1.0, generations=1, chains=3, theta0=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="real_sample must have dimension 2"):
        retrain_chains(GaussianMixture(2), x, 1.0, generations=1, chains=1)
    with pytest.raises(ValueError, match="model must be one of"):
        retrain_chains("no-such-model", x, 1.0, generations=1, chains=1)
    with pytest.raises(ValueError, match="chains must be an integer >= 1"):
        retrain_chains("student-t", x, 1.0, generations=1, chains=0)
    bad = FunctionModel(StudentT().log_prob, [0.0, 0.0], sample=lambda th, m, gen: torch.zeros(m))
    with pytest.raises(ValueError, match="model.sample must return shape"):
        retrain_chains(bad, x, 1.0, generations=1, chains=1)


def test_failed_refit_is_reported_or_raised():
    kw = dict(generations=1, chains=2, seed=0, max_iter=1, gtol=1e-14)
    with pytest.raises(ConvergenceError, match="refits did not reach"):
        retrain_chains("student-t", NORMAL_300, 1.0, **kw)
    r = retrain_chains("student-t", NORMAL_300, 1.0, allow_failure=True, **kw)
    assert not r.converged.all() and np.all(r.iterations <= 1)


# --- the stationary law (docs/theory.md §9) ----------------------------------------------------------------


def _stationary_comparison(model, x, lam, chains, after, seed=0):
    """Observed vs predicted stationary excess NLL and covariance; tolerances from the predicted law.

    N = chains x (generations after the burn-in) pooled observations. To first order the error is
    e = V u with independent AR(1) modes u_i (coefficients d_i <= rho = rho_exact, variances c_i), so
    the integrated autocorrelation of any quadratic statistic is at most tau = (1 + rho^2)/(1 - rho^2)
    (its lag-h autocovariance is a non-negative combination of (d_i d_j)^h). Hence
    SE(excess) <= sqrt(1/2 tr((AC)^2) tau / N) (Var of 1/2 e'Ae under N(0, C) is 1/2 tr((AC)^2)) and
    SE(C_ab) <= sqrt((C_aa C_bb + C_ab^2) tau / N). Tolerance: 4 SE (a false alarm below 1e-4 per
    comparison). The first-order prediction has a relative bias O(1/n): at these n it was measured
    below the SE (benchmarks/table_stationary.py: |z| < 2 at n = 1000 with 4x the samples).
    """
    consts = model.local_constants(x)
    law = stationary(consts.A, consts.B, lam, x.size)
    b = default_burn_in(law.rate)
    r = retrain_chains(model, x, lam, generations=b + after, chains=chains, seed=seed)
    N = chains * (after + 1)
    tau = (1 + law.rate**2) / (1 - law.rate**2)
    C = law.cov
    AC = consts.A @ C
    se = math.sqrt(0.5 * np.trace(AC @ AC) * tau / N)
    observed = r.excess_nll[b:].mean()
    assert abs(observed - law.excess_loss) <= 4 * se, (observed, law.excess_loss, se)
    e = r.theta[b:] - r.theta_star
    cov = np.einsum("tci,tcj->ij", e, e) / N
    se_c = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C**2) * tau / N)
    assert np.all(np.abs(cov - C) <= 4 * se_c), (cov, C, se_c)
    # the modes of the generalised eigenbasis (B V = A V Gamma, V'AV = I) are uncorrelated with
    # variances c_i = lam^2 gamma_i / (k (1 + 2 lam gamma_i)): an independent route to C's form
    gam, V = linalg.eigh(consts.B, consts.A)
    u = e @ (consts.A @ V)
    c = lam**2 * gam / (r.k * (1 + 2 * lam * gam))
    d_i = lam * gam / (1 + lam * gam)
    var = (u**2).reshape(-1, gam.size).mean(0)
    np.testing.assert_array_less(np.abs(var - c), 4 * c * np.sqrt(2 * (1 + d_i**2) / (1 - d_i**2) / N))
    return r, law


def test_stationary_law_student_t_fast():
    # Student-t(3) fitted to a N(0, 1) sample (docs/theory.md §9), lambda = 1, n = 300: rho_exact ~ 0.51,
    # 100 chains x 31 generations after the burn-in (~2 s)
    r, law = _stationary_comparison(StudentT(3.0), NORMAL_300, 1.0, chains=100, after=30)
    assert r.converged.all()


@pytest.mark.slow
@pytest.mark.parametrize("lam", [0.25, 1.0, 4.0])
@pytest.mark.parametrize(
    "name",
    ["student-t(3)/normal", "logistic/uniform", "mixture/two-uniforms"],
)
def test_stationary_law_non_exponential(name, lam):
    rng = np.random.default_rng(1)
    n = 500
    x = {
        "student-t(3)/normal": rng.standard_normal(n),
        "logistic/uniform": rng.uniform(-math.sqrt(3), math.sqrt(3), n),
        "mixture/two-uniforms": np.where(rng.random(n) < 0.4, rng.uniform(-3, -1, n), rng.uniform(0.5, 3.5, n)),
    }[name]
    model = {"student-t(3)/normal": StudentT(3.0), "logistic/uniform": Logistic(), "mixture/two-uniforms": None}[name]
    model = model or GaussianMixture(1)
    _stationary_comparison(model, x, lam, chains=60, after=30, seed=2)


def test_check_stationary_and_theorem2_radius():
    c = check_stationary(StudentT(3.0), NORMAL_300[:100], 0.25, generations=6, chains=8, seed=0)
    assert c.observed.burn_in == default_burn_in(c.predicted.rate) and c.observed.samples == 8 * (
        7 - c.observed.burn_in
    )
    AC = c.constants.A @ c.predicted.cov
    tau = (1 + c.predicted.rate**2) / (1 - c.predicted.rate**2)
    assert c.se_predicted == pytest.approx(math.sqrt(0.5 * np.trace(AC @ AC) * tau / c.observed.samples), rel=1e-12)
    assert c.theorem2.rho == pytest.approx(
        0.25
        * (c.constants.alpha + c.constants.eps * c.constants.L)
        / (c.constants.alpha - 0.25 * (c.constants.alpha + c.constants.eps * c.constants.L)),
        rel=1e-12,
    )


def test_theorem2_radius_closed_form():
    # A = B = 1 (d = 1), eps = 0: Q = lam^2/k/(1+lam)^2, the A4 term is z_{0.975} sqrt(Q) (|N(0, Q)|),
    # rho = lam/(1 - lam), radius = e/(1 - rho), in NLL units 1/2 * 1 * r^2
    lam, n = 0.2, 500
    k = 100
    r = theorem2_radius(np.eye(1), np.eye(1), lam, n, eps=0.0, alpha=1.0, L=0.0)
    e = stats.norm.ppf(0.975) * math.sqrt(lam**2 / k) / (1 + lam)
    rho = lam / (1 - lam)
    # Monte Carlo quantile with 2^20 draws: relative error ~ 1e-3 (binomial SE of the 97.5% level / density)
    assert r.stat_err == pytest.approx(e, rel=5e-3)
    assert r.rho == pytest.approx(rho, rel=1e-12)
    assert r.radius == pytest.approx(r.stat_err / (1 - rho), rel=1e-12)
    assert r.excess_loss == pytest.approx(0.5 * r.radius**2, rel=1e-12)
    assert math.isinf(theorem2_radius(np.eye(1), np.eye(1), 0.5, n, eps=0.0, alpha=1.0, L=0.0).excess_loss)
    assert math.isinf(theorem2_radius(np.eye(1), np.eye(1), 0.2, n, eps=math.nan, alpha=1.0, L=1.0).radius)


# --- the exponential-family reference: simulate's excess NLL on each chain's fixed real sample -------


def test_simulate_excess_nll_closed_form_and_stationary_value():
    import stability

    n, lam = 200, 1.0
    r = stability.simulate("gaussian", n=n, lambda_=lam, generations=30, chains=1500, seed=0)
    m, s2 = r.real_mean[:, 0], r.real_cov[:, 0, 0]
    mu, v = r.mean[..., 0], r.cov[..., 0, 0]
    # 1-D: mean NLL of the sample at N(mu, v) minus at its MLE N(m, s2), by hand
    by_hand = 0.5 * np.log(v / s2) + (s2 + (mu - m) ** 2) / (2 * v) - 0.5
    np.testing.assert_allclose(r.excess_nll, by_hand, rtol=1e-9, atol=1e-15)
    # docs/theory.md §9, exponential family with d = 2 parameters and k = lam n: lam / (n (1 + 2 lam));
    # burn-in 10 generations (rho = 1/2: deficit 4^-10), SE from the independent chains' averages, 4 SE
    per_chain = r.excess_nll[10:].mean(axis=0)
    se = per_chain.std(ddof=1) / math.sqrt(per_chain.size)
    assert abs(per_chain.mean() - lam / (n * (1 + 2 * lam))) <= 4 * se
    with pytest.raises(ValueError, match="excess_nll needs the gaussian family"):
        _ = stability.simulate("gaussian", n=50, lambda_=1.0, generations=2, chains=2, scheme="fresh-real").excess_nll
    with pytest.raises(ValueError, match="excess_nll needs the gaussian family"):
        _ = stability.simulate("poisson", n=50, lambda_=1.0, generations=2, chains=2).excess_nll


# --- prior_precision: the penalised real-data term ----------------------------------------------------


def test_prior_precision_gaussian_mean_closed_form():
    r"""N(theta, 1), real term mean log p - (beta/2) theta^2: theta* = xbar/(1+beta), A = 1 + beta, B = 1.

    One round solves a(xbar - (1+beta) theta) + b(ybar - theta) = 0 exactly, so
    e' = rho e + lambda/(1+beta+lambda) (ybar - theta_t), rho = lambda/(1+beta+lambda), ybar - theta_t ~ N(0, 1/k):
    the stationary variance is (lambda/(1+beta+lambda))^2 / (k (1 - rho^2)), by hand; with beta = 1, lambda = 1,
    k = n = 100 it is 1/(8k) (without the prior, 1/(3k): ~45 standard errors apart with 500 chains x 4 generations).
    stationary(A + beta I, B) must give the same number, and the excess of the penalised term is exactly
    (1+beta)/2 e^2 (the objective is quadratic)."""
    model, beta, lam = unit_gaussian(), 1.0, 1.0
    x = NORMAL_300[:100]
    n = k = x.size
    C, G, burn = 500, 8, 4  # start at theta*: the deficit rho^(2 burn) = 3^-8 ~ 2e-4 of the variance
    r = retrain_chains(model, x, lam, generations=G, chains=C, seed=11, prior_precision=beta)
    th_star = x.mean() / (1 + beta)
    assert r.prior_precision == beta and r.k == k
    assert abs(r.theta_star[0] - th_star) <= 1e-10
    e = r.theta[burn:, :, 0] - th_star  # (T, C)
    np.testing.assert_allclose(r.excess_nll[burn:], 0.5 * (1 + beta) * e**2, rtol=1e-8, atol=1e-13)
    rho = lam / (1 + beta + lam)
    var = (lam / (1 + beta + lam)) ** 2 / (k * (1 - rho**2))
    law = stationary(np.array([[1.0 + beta]]), np.eye(1), lam, n, k=k)
    assert abs(law.cov[0, 0] - var) <= 1e-12 * var and abs(law.rate - rho) <= 1e-12
    per_chain = (e**2).mean(0)  # chains are independent: the SE of the mean of chain averages is exact
    se = per_chain.std(ddof=1) / math.sqrt(C)
    assert abs(per_chain.mean() - var) <= 4 * se, (per_chain.mean(), var, se)


def test_prior_precision_errors():
    model = unit_gaussian()
    for bad in (-1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="prior_precision must be >= 0"):
            retrain_chains(model, NORMAL_300[:50], 1.0, generations=1, chains=1, prior_precision=bad)
    with pytest.raises(ValueError, match="prior_precision must be 0 in check_stationary"):
        check_stationary("student-t", NORMAL_300, 1.0, generations=1, chains=1, prior_precision=0.5)


# --- every scheme through the one loop: the torch chains against the exact simulator -----------------

SCHEME_N, SCHEME_C, SCHEME_G = 30, 300, 2
SCHEME_X = np.random.default_rng(12).normal(0.5, 1.5, SCHEME_N)


def _mean_var(theta):
    """(mu, sigma^2) of the numerical Gaussian's natural parameters (eta, Lambda) = (mu/s^2, 1/s^2)
    (stability.families.gaussian, d = 1)."""
    var = 1.0 / theta[..., 1]
    return theta[..., 0] * var, var


def _summary(mu, var, centre):
    """Per-chain statistics whose means are compared: mu, sigma^2, (mu - centre)^2."""
    return np.stack([mu, var, (mu - centre) ** 2], axis=1)


def _z(a, b):
    """Largest two-sample z statistic of the column means of a and b (independent chains)."""
    se = np.sqrt(a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b))
    return float(np.max(np.abs(a.mean(axis=0) - b.mean(axis=0)) / se))


def _reference_pool(scheme, lam, seed):
    """An independent numpy run of a scheme that keeps the fixed real sample SCHEME_X: the pool's points.

    Gaussian MLE (mean and variance, ddof 0) of the training set: the real points plus every batch
    (accumulate), or n of them drawn uniformly without replacement (accumulate-subsample)."""
    rng = np.random.default_rng(seed)
    n, C, k = SCHEME_N, SCHEME_C, int(round(lam * SCHEME_N))
    pool = np.broadcast_to(SCHEME_X, (C, n))
    mu, var = np.full(C, SCHEME_X.mean()), np.full(C, SCHEME_X.var())
    for _ in range(SCHEME_G):
        pool = np.concatenate([pool, mu[:, None] + np.sqrt(var)[:, None] * rng.standard_normal((C, k))], axis=1)
        fit = pool
        if scheme == "accumulate-subsample":
            idx = np.argsort(rng.random(pool.shape), axis=1)[:, :n]
            fit = np.take_along_axis(pool, idx, axis=1)
        mu, var = fit.mean(axis=1), fit.var(axis=1)
    return mu, var


# Each case: retrain_chains (torch, Newton refits of the numerical Gaussian) against an independent
# run of the same scheme: stability.simulate's exact method (data N(theta*), the law fresh real data
# are drawn from) where no fixed sample enters, a numpy pooling of points given the fixed sample
# otherwise. Compared: the means over chains of mu_G, sigma^2_G and (mu_G - mean(x))^2, two-sample
# z < 4.5 (Monte Carlo SE of both runs; 3 statistics per case, 7 cases: a false alarm has
# probability < 1e-4). A scheme run as another fails: fixed-real's second moment about mean(x) is
# about 3x smaller than fresh-real's here (power check in test_wrong_scheme_is_detected: z ~ 8), and
# accumulate and accumulate-subsample told apart from each other give z ~ 7-9.
SCHEME_CASES = [
    ("fresh-real", 1.0, {}),
    ("fresh-real", 1.0, {"synthetic_weight": 0.9}),  # unweighted (w = 0.5) chains give z ~ 7 here
    ("replace", math.inf, {}),
    ("fresh-fraction", None, {"real_fraction": 0.4}),
    ("accumulate", 1.0, {}),
    ("accumulate-subsample", 1.0, {}),
]


@pytest.mark.parametrize(("scheme", "lam", "options"), SCHEME_CASES)
def test_every_scheme_matches_an_independent_run(scheme, lam, options):
    from stability import simulate

    r = retrain_chains(Gaussian(), SCHEME_X, lam, generations=SCHEME_G, chains=SCHEME_C, seed=5, scheme=scheme,
                       **options)  # fmt: skip
    assert r.scheme == scheme and r.converged.all()
    centre = SCHEME_X.mean()
    mu, var = _mean_var(r.theta[-1])
    ours = _summary(mu, var, centre)
    if scheme.startswith("accumulate"):
        ref = _summary(*_reference_pool(scheme, lam, 6), centre)
    else:
        data = {"mean": [centre], "cov": [[SCHEME_X.var()]]}
        s = simulate("gaussian", n=SCHEME_N, lambda_=lam, generations=SCHEME_G, chains=4 * SCHEME_C, scheme=scheme,
                     data=data, seed=6, **options)  # fmt: skip
        ref = _summary(s.mean[-1, :, 0], s.cov[-1, :, 0, 0], centre)
    assert _z(ours, ref) < 4.5, (scheme, ours.mean(axis=0), ref.mean(axis=0))


def test_wrong_scheme_is_detected():
    # power of the comparison above: fixed-real chains (the fixed sample kept) against fresh-real's law
    from stability import simulate

    r = retrain_chains(Gaussian(), SCHEME_X, 1.0, generations=SCHEME_G, chains=SCHEME_C, seed=5)
    data = {"mean": [SCHEME_X.mean()], "cov": [[SCHEME_X.var()]]}
    s = simulate("gaussian", n=SCHEME_N, lambda_=1.0, generations=SCHEME_G, chains=4 * SCHEME_C,
                 scheme="fresh-real", data=data, seed=6)  # fmt: skip
    ref = _summary(s.mean[-1, :, 0], s.cov[-1, :, 0, 0], SCHEME_X.mean())
    assert _z(_summary(*_mean_var(r.theta[-1]), SCHEME_X.mean()), ref) > 6  # far beyond the 4.5 above


def test_scheme_options_and_errors():
    x = NORMAL_300[:40]
    r = retrain_chains(unit_gaussian(), x, None, generations=1, chains=2, scheme="replace")
    assert (r.k, r.lambda_, r.scheme) == (40, math.inf, "replace")
    r = retrain_chains(unit_gaussian(), x, None, generations=1, chains=2, scheme="fresh-fraction", real_fraction=0.25)
    assert (r.k, r.lambda_, r.real_fraction) == (30, 3.0, 0.25)
    with pytest.raises(ValueError, match="lambda_ must be finite.*scheme='replace'"):
        retrain_chains(unit_gaussian(), x, math.inf, generations=1, chains=1, scheme="accumulate")
    with pytest.raises(ValueError, match="k must be None under scheme 'replace'"):
        retrain_chains(unit_gaussian(), x, None, generations=1, chains=1, scheme="replace", k=3)
    with pytest.raises(ValueError, match="synthetic_weight is supported under schemes"):
        retrain_chains(unit_gaussian(), x, 1.0, generations=1, chains=1, scheme="accumulate-subsample",
                       synthetic_weight=0.5)  # fmt: skip
    with pytest.raises(ValueError, match="prior_precision must be 0 under scheme 'fresh-real'"):
        retrain_chains(unit_gaussian(), x, 1.0, generations=1, chains=1, scheme="fresh-real", prior_precision=1.0)
    with pytest.raises(ValueError, match="correction must be 0 for scheme 'accumulate-subsample'"):
        retrain_chains(unit_gaussian(), x, 1.0, generations=1, chains=1, scheme="accumulate-subsample",
                       correction=1.0)  # fmt: skip
    with pytest.raises(ValueError, match="real_fraction must be given only for the fraction schemes"):
        retrain_chains(unit_gaussian(), x, 1.0, generations=1, chains=1, real_fraction=0.5)


def test_check_stationary_refuses_a_scheme_without_that_law():
    with pytest.raises(ValueError, match="scheme must be one of 'fixed-real' in check_stationary"):
        check_stationary(unit_gaussian(), NORMAL_300[:40], 1.0, generations=2, chains=2, scheme="fresh-real")
