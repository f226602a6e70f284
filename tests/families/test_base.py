"""Exponential families (docs/theory.md §3): closed forms against their numerical twins, against scipy,
and the properties the theory states (fixed point, spectrum of J, ordering of the rates, contraction)."""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats

import stability
from stability.families import (
    FAMILIES,
    Bernoulli,
    Categorical,
    Exponential,
    Gamma,
    Gaussian,
    GaussianDiag,
    GaussianMixture,
    Moments,
    Poisson,
    analytic_families,
    family,
    solve_gamma_shape,
)
from stability.jacobian import analyze_jacobian, generalized_eigenvalues
from stability.report import MODELS

# ---------------------------------------------------------------------------------- tolerances
# Central differences with step 1e-5 (stability.families.base.FD_STEP): truncation ~ h^2 * f''' ~ 1e-10,
# rounding ~ 1e-16 * |f| / h ~ 1e-11, times the size of the entries (<= ~1e2 here): 1e-6 is safe.
FD_TOL = 1e-6
# scipy's ``expect`` integrates with quad's default absolute tolerance 1.49e-8 per moment.
QUAD_TOL = 1e-7
# Pure rounding in O(1)-conditioned closed forms (a few hundred flops): 1e-9 leaves a wide margin.
ROUND_TOL = 1e-9

MIX2 = GaussianMixture([0.3, 0.7], [[0.0, 0.0], [2.0, 1.0]], [[[1.0, 0.3], [0.3, 0.5]], np.eye(2)])
MIX3 = GaussianMixture(
    [0.5, 0.5], [[0.0, 1.0, -1.0], [1.0, -1.0, 0.5]], [np.diag([1.0, 0.5, 2.0]), np.diag([0.3, 1.0, 1.0])]
)

# (id, family, a misspecified data distribution with both a closed-form and a quadrature route)
CASES = [
    ("gaussian-1d", Gaussian(1), stats.t(6, loc=0.5, scale=2.0)),
    ("gaussian-2d", Gaussian(2), MIX2),
    ("gaussian-diag-3d", GaussianDiag(3), MIX3),
    ("bernoulli", Bernoulli(), stats.bernoulli(0.3)),
    ("categorical", Categorical(4), stats.binom(3, 0.4)),
    ("poisson", Poisson(), stats.nbinom(3, 0.4)),
    ("exponential", Exponential(), stats.gamma(2.5, scale=0.7)),
    ("gamma", Gamma(), stats.lognorm(0.6, scale=1.5)),
]
IDS = [c[0] for c in CASES]


def draw(fam, dist, n, seed):
    if isinstance(dist, GaussianMixture):
        return dist.sample(n, seed)
    return dist.rvs(size=n, random_state=np.random.default_rng(seed)).astype(float)


# ---------------------------------------------------------------------------------- the twins
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_closed_form_agrees_with_its_numerical_twin(case):
    _, fam, dist = case
    # moments: the distribution's closed-form moments vs quadrature / Gauss-Hermite / summation
    assert np.allclose(fam.expected_statistic(dist), fam.expected_statistic_numeric(dist), rtol=QUAD_TOL, atol=QUAD_TOL)
    # moments of a sample: moment formulas vs the average of T(x) over the points
    x = draw(fam, dist, 200, seed=1)
    assert np.allclose(fam.expected_statistic(x), fam.expected_statistic_numeric(x), rtol=ROUND_TOL, atol=ROUND_TOL)
    theta = fam.fixed_point(dist)
    # mean map = gradient of the log-partition; Fisher = Jacobian of the mean map
    assert np.allclose(fam.mean(theta), fam.mean_numeric(theta), rtol=FD_TOL, atol=FD_TOL)
    assert np.allclose(fam.fisher(theta), fam.fisher_numeric(theta), rtol=FD_TOL, atol=FD_TOL)
    # operator (moment matching through the inverse mean map) vs the argmax of §1 by Newton's method
    # on the objective, polished to a gradient at rounding level (1e-10): theta agrees to ~cond * 1e-10
    theta_mid = fam.natural(0.5 * fam.mean(fam.reference_point()) + 0.5 * fam.mean(theta))
    for lam in (0.0, 0.4, 3.0):
        assert np.allclose(fam.operator(theta_mid, dist, lam), fam.operator_numeric(theta_mid, dist, lam), atol=1e-8)
        # Jacobian lambda/(1+lambda) I vs finite differences of the closed-form operator
        assert np.allclose(fam.jacobian(dist, lam), fam.jacobian_numeric(dist, lam), atol=FD_TOL)
    # fixed point (moment matching) vs iterating G_lambda: the loop stops when a step is below
    # 1e-13 |theta|; with contraction 1/2 the remaining error is at most one more step.
    r = fam.fixed_point_numeric(dist, 1.0)
    assert r.converged and r.residual <= 1e-12 * max(1.0, np.linalg.norm(theta))
    assert np.allclose(r.value, theta, rtol=ROUND_TOL, atol=ROUND_TOL)


# ---------------------------------------------------------------------------------- vs scipy
def scipy_logpdf(name, fam, theta, x):
    p = fam.params(theta)
    if name.startswith("gaussian"):
        return stats.multivariate_normal(p["mean"], p["cov"]).logpdf(x.reshape(len(x), -1)).reshape(-1)
    return {
        "bernoulli": lambda: stats.bernoulli(p.get("p")).logpmf(x),
        "categorical": lambda: np.log(p.get("probs"))[x.astype(int)],
        "poisson": lambda: stats.poisson(p.get("rate")).logpmf(x),
        "exponential": lambda: stats.expon(scale=1 / p.get("rate")).logpdf(x),
        "gamma": lambda: stats.gamma(p.get("shape"), scale=1 / p.get("rate")).logpdf(x),
    }[name.split("-")[0] if name != "gaussian-diag-3d" else "gaussian"]()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_log_density_matches_scipy_and_fixed_point_maximises_likelihood(case):
    name, fam, dist = case
    x = draw(fam, dist, 300, seed=2)
    theta = fam.fixed_point(x)
    # independent reference: scipy's own log densities of the same parameters
    assert np.allclose(fam.logpdf(theta, x), scipy_logpdf(name, fam, theta, x), rtol=ROUND_TOL, atol=ROUND_TOL)
    # theta* maximises the average log-likelihood (docs/theory.md §1): every perturbation lowers it
    rng = np.random.default_rng(3)
    best = fam.logpdf(theta, x).mean()
    for _ in range(5):  # five random directions
        v = rng.normal(size=theta.size)
        moved = theta + 1e-3 * v / np.linalg.norm(v)
        assert fam.logpdf(moved, x).mean() < best


def test_fixed_points_equal_scipy_maximum_likelihood_fits():
    rng = np.random.default_rng(4)
    x = rng.lognormal(0.3, 0.7, size=400)  # misspecified for all three families
    m, s = stats.norm.fit(x)  # closed-form MLE in scipy
    g = Gaussian(1).params(Gaussian(1).fixed_point(x))
    assert g["mean"][0] == pytest.approx(m, rel=ROUND_TOL) and g["cov"][0, 0] == pytest.approx(s**2, rel=ROUND_TOL)
    _, scale = stats.expon.fit(x, floc=0)
    assert Exponential().params(Exponential().fixed_point(x))["rate"] == pytest.approx(1 / scale, rel=ROUND_TOL)
    a, _, scale = stats.gamma.fit(x, floc=0)
    p = Gamma().params(Gamma().fixed_point(x))
    # scipy solves the same shape equation with a bracketing root finder (xtol ~ 1e-12 relative)
    assert p["shape"] == pytest.approx(a, rel=1e-8) and p["rate"] == pytest.approx(1 / scale, rel=1e-8)


def test_gamma_shape_solve_reports_and_matches_mpmath():
    import mpmath

    mpmath.mp.dps = 40
    for a in (1e-3, 0.5, 2.0, 50.0, 1e4):
        s = float(mpmath.log(a) - mpmath.digamma(a))  # reference at 40 digits
        r = solve_gamma_shape(s)
        # f'(a) ~ -1/(2a^2) for large a: a relative error 1e-16 in s gives ~2e-16 * a * s ... <= 1e-9
        assert r.converged and r.iterations < 20 and r.value == pytest.approx(a, rel=1e-9)
    with pytest.raises(ValueError, match=r"^s = log E\[x\] - E\[log x\] must be > 0"):
        solve_gamma_shape(0.0)


def test_gamma_without_closed_form_log_moment_falls_back_to_quadrature():
    c = stability.analyze("gamma", stats.uniform(1, 2), 0.5)
    assert "quadrature" in c.details["fixed_point"]
    with pytest.raises(NotImplementedError):
        Gamma().expected_statistic(stats.uniform(1, 2))


def test_mixture_moments_match_monte_carlo():
    x = MIX2.sample(200_000, seed=5)
    se = x.std(axis=0) / np.sqrt(len(x))
    assert np.all(np.abs(x.mean(axis=0) - MIX2.mean()) < 5 * se)  # 5 standard errors
    # covariance entries: standard error of a product moment ~ sd(x_i x_j) / sqrt(n)
    c = x - MIX2.mean()
    prod = c[:, :, None] * c[:, None, :]
    se2 = prod.std(axis=0) / np.sqrt(len(x))
    assert np.all(np.abs(prod.mean(axis=0) - MIX2.cov()) < 5 * se2)


@pytest.mark.torch
def test_registry_names_and_size_inference():
    for name in analytic_families():  # the registry's exponential families, each a report model
        assert name in MODELS
    r = stability.analyze("gaussian", MIX2, 0.5, w1_points=100)
    assert r.theta_star.shape == (5,)
    assert stability.analyze("categorical", np.array([0, 1, 2, 2]), 1.0).theta_star.shape == (2,)
    assert stability.analyze("categorical", Moments(mean=[0.2, 0.3, 0.5]), 1.0, k=3).rate_exact == pytest.approx(0.5)
    assert family("gaussian-diag", np.zeros((3, 4))).dim == 8
    with pytest.raises(ValueError, match=r"^family must be one of"):
        family("beta")


def test_well_specified_report_values_from_closed_forms():
    # N(1, 4) data as a distribution: theta* = (m / v, 1 / v), Fisher from the module formulas
    r = stability.analyze("gaussian", stats.norm(1.0, 2.0), 0.25)
    assert np.allclose(r.theta_star, [0.25, 0.25], rtol=ROUND_TOL)
    assert r.eps == pytest.approx(0.0, abs=1e-7)  # quad's error estimate is ~1e-8
    assert r.rate_exact == pytest.approx(0.2) and r.rate_sharp == pytest.approx(0.2)
    assert r.rate_paper == pytest.approx(0.25 / 0.75)
    # Fisher of N(m, v) in (eta, Lambda): Cov(x, -x^2/2) = -m v, Var(-x^2/2) = v^2/2 + m^2 v
    assert np.allclose(r.A, [[4.0, -4.0], [-4.0, 8.0 + 4.0]], rtol=ROUND_TOL)


# ---------------------------------------------------------------------------------- properties
@st.composite
def family_and_sample(draw_, max_n=60):
    name = draw_(st.sampled_from(sorted(analytic_families())))
    seed = draw_(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    d = draw_(st.integers(1, 3))
    n = draw_(st.integers(3 * d + 3, max_n))  # well-posed fits; degenerate data is tested apart
    if name in ("gaussian", "gaussian-diag"):
        mix = rng.normal(size=(d, d)) + 2 * np.eye(d)
        x = rng.standard_t(5, size=(n, d)) @ mix + rng.normal(size=d)
        fam = (Gaussian if name == "gaussian" else GaussianDiag)(d)
    elif name == "bernoulli":
        x = (rng.random(n) < rng.uniform(0.1, 0.9)).astype(float)
        x[:2] = [0, 1]
        fam = Bernoulli()
    elif name == "categorical":
        k = d + 1
        x = rng.integers(0, k, size=n).astype(float)
        x[:k] = np.arange(k)
        fam = Categorical(k)
    elif name == "poisson":
        x = rng.negative_binomial(3, 0.4, size=n).astype(float)
        x[0] = 1
        fam = Poisson()
    elif name == "exponential":
        x = rng.gamma(2.0, size=n)
        fam = Exponential()
    else:
        x = rng.lognormal(0.0, rng.uniform(0.2, 1.0), size=n)
        fam = Gamma()
    return fam, x


lambdas = st.one_of(st.floats(0, 100), st.just(math.inf))


@given(family_and_sample(), lambdas)
def test_fixed_point_is_fixed(fs, lam):
    fam, x = fs
    theta = fam.fixed_point(x)
    # one round trip natural -> mean -> natural; the gamma shape solve is accurate to ~1e-15
    # relative, amplified by the conditioning of the mean map (<= 1e3 for these samples)
    assert np.allclose(fam.operator(theta, x, lam), theta, rtol=1e-10, atol=1e-10)


@given(family_and_sample(max_n=30), st.floats(0, 20))
@pytest.mark.torch
def test_jacobian_eigenvalues_are_lambda_gamma_over_one_plus_lambda_gamma(fs, lam):
    fam, x = fs
    c = fam.local_constants(x)
    gam = generalized_eigenvalues(c.A, c.B)
    eig = np.sort(np.linalg.eigvals(fam.jacobian_numeric(x, lam)).real)
    assert np.allclose(eig, np.sort(lam * gam / (1 + lam * gam)), atol=FD_TOL)
    assert np.allclose(gam, 1.0, rtol=ROUND_TOL)  # A = B for an exponential family


@given(family_and_sample(max_n=30), st.floats(0, 20))
@pytest.mark.torch
def test_rates_are_ordered_for_families(fs, lam):
    fam, x = fs
    c = fam.local_constants(x)
    r = stability.build_report(c, lam)
    # The rates are lambda/(1+lambda) computed along different routes; ||J||_2 comes from a
    # Cholesky solve with A + lambda B, whose rounding error is ~ cond(A) * 1e-16.
    slack = 1e-12 + 1e-14 * np.linalg.cond(c.A)
    assert r.rate_exact <= r.norm2 + slack
    assert r.norm2 <= r.rate_sharp + slack
    assert r.rate_sharp <= r.rate_paper + slack
    assert r.rate_exact == pytest.approx(fam.rate(lam), abs=1e-12)


@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.floats(0, 10), st.floats(0.05, 5))
def test_rates_are_ordered_when_eps_bounds_the_hessian_gap(seed, d, lam, L):
    # A general (non-exponential) case: B - A = E with ||E|| = L eps (Kantorovich-Rubinstein, §4)
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    A = (q * np.exp(rng.uniform(-1, 1, d))) @ q.T
    E = rng.normal(size=(d, d)) * rng.uniform(0, 0.5)
    E = (E + E.T) / 2
    B = A + E
    assume(np.linalg.eigvalsh(B)[0] >= 0)  # B is a Fisher information
    alpha = np.linalg.eigvalsh(A)[0]
    eps = np.linalg.norm(E, 2) / L
    r = analyze_jacobian(A, B, lam)
    sharp, paper = stability.sharp_bound(lam, eps, alpha, L), stability.bound(lam, eps, alpha, L)
    slack = 1e-9  # eigen-solver rounding for condition numbers <= e^2
    assert r.rate_exact <= r.norm2 + slack
    if math.isfinite(sharp):
        assert r.norm2 <= sharp + slack
        if math.isfinite(paper):
            assert sharp <= paper + slack


@given(family_and_sample(max_n=30), st.floats(0.05, 3.0))
def test_trajectories_contract_at_the_exact_rate(fs, lam):
    fam, x = fs
    theta_star = fam.fixed_point(x)
    rho = fam.rate(lam)
    # start at a perturbation of theta* in mean parameters (always a valid point)
    mu_star = fam.mean(theta_star)
    theta0 = fam.natural(0.5 * mu_star + 0.5 * fam.mean(fam.reference_point()))
    assume(np.linalg.norm(theta0 - theta_star) >= 1e-6)  # else the reference point is theta* already
    steps = int(np.ceil(np.log(1e-7) / np.log(rho)))  # error shrinks ~1e7-fold
    traj = fam.trajectory(theta0, x, lam, steps)
    err = np.linalg.norm(traj - theta_star, axis=1)
    ratio = err[-1] / err[-2]
    # in natural parameters the map is smooth with J = rho I at theta*, so the per-step ratio is
    # rho + O(|theta_t - theta*| / |theta_0 - theta*|) = rho + O(1e-6); rounding of err (~1e-16 |theta|)
    # over err ~ 1e-7 |theta_0 - theta*| adds ~1e-8.
    assert ratio == pytest.approx(rho, abs=1e-4)
    # in mean parameters the map is affine: every step contracts by exactly rho
    em = np.linalg.norm(np.array([fam.mean(t) for t in traj[:5]]) - mu_star, axis=1)
    assert np.allclose(em[1:] / em[:-1], rho, rtol=1e-6)


def test_lambda_zero_and_infinity():
    fam, x = Poisson(), np.array([0.0, 2.0, 3.0, 7.0])
    theta0 = np.array([0.0])
    assert np.allclose(fam.operator(theta0, x, 0.0), fam.fixed_point(x))  # real data only: one step
    assert np.array_equal(fam.operator(theta0, x, math.inf), theta0)  # purely synthetic: no move
    assert fam.rate(math.inf) == 1.0 and np.array_equal(fam.jacobian(x, math.inf), np.eye(1))
    r = stability.analyze("poisson", x, math.inf)
    assert r.rate_exact == 1.0
    with pytest.raises(ValueError, match=r"^lambda_ must be finite to iterate"):
        fam.fixed_point_numeric(x, math.inf)


def test_fixed_point_iteration_reports_non_convergence():
    r = Gamma().fixed_point_numeric(stats.lognorm(0.5), 50.0, max_iter=3)
    assert not r.converged and r.iterations == 3 and r.residual > 0


def test_sampling_is_seeded():
    for name, fam, dist in CASES:
        theta = fam.fixed_point(dist)
        a = fam.sample(theta, 50, seed=7)
        b = fam.sample(theta, 50, seed=np.random.default_rng(7))
        assert np.array_equal(a, b), name
        assert not np.array_equal(a, fam.sample(theta, 50, seed=8)), name


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_sampling_matches_the_mean_parameters(case):
    # Monte Carlo: E_theta[T] from 20000 draws within 5 standard errors of mean(theta)
    _, fam, dist = case
    theta = fam.fixed_point(dist)
    t = fam.statistic(fam.sample(theta, 20_000, seed=11))
    se = t.std(axis=0) / np.sqrt(len(t))
    assert np.all(np.abs(t.mean(axis=0) - fam.mean(theta)) <= 5 * se + 1e-12)


@pytest.mark.torch
def test_each_family_declares_its_numerical_twin_once():
    """The '<name>-numerical' models are the twins the families declare, and each twin names itself so."""
    import stability.numerical as numerical
    from stability.numerical import models

    twins = {f"{name}-numerical": cls for name, cls in FAMILIES.items() if cls.numerical}
    assert set(twins) == {k for k in numerical.BUILTIN_MODELS if k.endswith("-numerical")}
    assert len(twins) == 6  # every family but gaussian-diag (and linear regression)
    for k, cls in twins.items():
        model = numerical.BUILTIN_MODELS[k]()()
        assert isinstance(model, models.FamilyModel) and model.name == k and isinstance(model.family, cls)
