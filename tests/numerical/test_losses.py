"""Any training loss (docs/theory.md §13): objectives, optimiser, LossModel, analyze, the general law.

References are closed forms (least squares, the Gaussian, the linear DDPM moment map of
:mod:`stability.numerical.linear_ddpm`), independent computations (Kronecker solves of the Lyapunov
equation, autograd in x for the score-matching loss, a scalar Newton per chain) or published
numbers (docs/theory.md §13); tolerances are stated where they are set.
"""

import math

import numpy as np
import pytest
import torch
from scipy import linalg

import stability
from stability.jacobian import fixed_point_jacobian, loss_jacobian
from stability.numerical import (
    HyvarinenScoreMatching,
    LinearGaussianDDPM,
    LossModel,
    PointDrawsLoss,
    analyze_loss,
)
from stability.numerical import models as M
from stability.numerical.losses import _hyvarinen, _hyvarinen_closed, noise_bank
from stability.numerical.objectives import negative_log_likelihood, objective_weights
from stability.numerical.optim import batched_newton, maximize
from stability.stationary import loss_stationary

BETAS = np.linspace(1e-3, 0.3, 10)


def _least_squares():
    """ℓ = (x - θ)², exact sampler θ + z: self-consistent, A = H = 2, M = -2, S = Var(2(θ - y)) = 4."""
    return LossModel(lambda th, x: (x[:, 0] - th[0]) ** 2, lambda th, z: th[0] + z, [0.0], noise_dim=1, name="ls")


def _lyapunov_kron(J, Q):
    """C = J C J^T + Q by the d² x d² linear system (independent of scipy's solver)."""
    d = J.shape[0]
    return np.linalg.solve(np.eye(d * d) - np.kron(J, J), Q.reshape(-1)).reshape(d, d)


# --- objectives and optimiser ---------------------------------------------------------------


def test_objective_weights_and_nll():
    assert objective_weights(3.0) == (0.25, 0.75)
    assert objective_weights(3.0, 0.5) == (0.5, 0.5)
    model = M.StudentT(5.0)
    th = torch.tensor([0.1, -0.2], dtype=torch.float64)
    x = torch.linspace(-2, 2, 7, dtype=torch.float64)[:, None]
    assert torch.equal(negative_log_likelihood(model)(th, x), -model.log_prob(th, x))


def test_batched_newton_matches_scalar_newton():
    # the batched refit and the scalar optimiser apply the same step rule: same maximiser per chain
    model = M.StudentT(3.0)
    x = torch.as_tensor(np.random.default_rng(0).standard_normal((60, 1)))
    y = torch.as_tensor(np.random.default_rng(1).standard_normal((4, 30, 1)) * 1.5)
    from stability.numerical.objectives import MixedObjective

    obj = MixedObjective(model.log_prob, 2, x, 1.0, 30)
    th0 = torch.zeros(4, 2, dtype=torch.float64)
    th, gnorm, its, ok = batched_newton(obj, th0, y, 1e-10, 50)
    assert bool(ok.all()) and float(gnorm.max()) <= 1e-10
    for c in range(4):
        r = maximize(lambda t, c=c: 0.5 * model.log_prob(t, x).mean() + 0.5 * model.log_prob(t, y[c]).mean(), [0, 0])
        # both stop at |grad| <= 1e-10 with curvature >= ~0.5: maximisers agree to ~1e-10
        np.testing.assert_allclose(th[c].numpy(), r.theta, atol=1e-8)


# --- the general Jacobian and stationary law ---------------------------------------------------


def test_loss_jacobian_likelihood_case_is_section_3():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 3))
    A = X @ X.T + np.eye(3)
    Y = rng.standard_normal((3, 3))
    B = Y @ Y.T
    r = loss_jacobian(A, B, -B, 0.7)
    np.testing.assert_allclose(r.jacobian, fixed_point_jacobian(A, B, 0.7), rtol=1e-12, atol=1e-14)
    assert r.self_consistency == 0.0
    assert r.rate_exact == pytest.approx(stability.rate_exact(A, B, 0.7), rel=1e-12)


def test_loss_jacobian_complex_spectrum():
    # A = H = I, M = [[0, -1], [1, 0]] * 2: J = -(λ/(1+λ)) M has eigenvalues ±2iλ/(1+λ)
    Mm = 2.0 * np.array([[0.0, -1.0], [1.0, 0.0]])
    r = loss_jacobian(np.eye(2), np.eye(2), Mm * 0.2, 1.0)
    assert np.iscomplexobj(r.eigenvalues)
    assert r.rate_exact == pytest.approx(0.2, rel=1e-12)


def test_stationary_defaults_are_todays_law():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 4))
    A = X @ X.T + np.eye(4)
    Y = rng.standard_normal((4, 4))
    B = Y @ Y.T
    old = stability.stationary(A, B, 1.3, 200)
    new = stability.stationary(A, B, 1.3, 200, S=B, M=-B)
    assert new.method == "eigenbasis"
    np.testing.assert_allclose(new.cov, old.cov, rtol=1e-10, atol=1e-14)
    assert new.excess_loss == pytest.approx(old.excess_loss, rel=1e-10)
    assert new.rate == pytest.approx(old.rate, rel=1e-12)


@pytest.mark.parametrize("lam", [0.3, 2.0])
def test_sandwich_eigenbasis_and_lyapunov(lam):
    rng = np.random.default_rng(2)
    d, n = 3, 150
    X, Y, Z = (rng.standard_normal((d, d)) for _ in range(3))
    A, H, S = X @ X.T + np.eye(d), Y @ Y.T, Z @ Z.T
    k = math.floor(lam * n)
    K = np.linalg.inv(A + lam * H)
    Q = lam**2 / k * K @ S @ K
    # self-consistent (M = -H): the eigenbasis formula against the Kronecker solve
    law = stability.stationary(A, H, lam, n, S=S)
    assert law.method == "eigenbasis"
    C = _lyapunov_kron(lam * K @ H, Q)
    np.testing.assert_allclose(law.cov, C, rtol=1e-9, atol=1e-14)
    assert law.excess_loss == pytest.approx(0.5 * np.trace(A @ C), rel=1e-9)
    # not self-consistent: the Lyapunov solve, non-symmetric J
    Mm = -H + 0.3 * rng.standard_normal((d, d))
    law = loss_stationary(A, H, lam, n, S=S, M=Mm)
    J = -lam * K @ Mm
    assert law.method == "lyapunov"
    np.testing.assert_allclose(law.cov, _lyapunov_kron(J, Q), rtol=1e-8, atol=1e-14)
    assert law.rate == pytest.approx(np.abs(np.linalg.eigvals(J)).max(), rel=1e-12)


def test_stationary_refuses_planted_error():
    # the eigenbasis formula with S replaced by H (the likelihood law) is not the sandwich law
    A, H, S = np.eye(2), np.diag([1.0, 2.0]), np.diag([3.0, 1.0])
    right = stability.stationary(A, H, 1.0, 100, S=S).cov
    wrong = stability.stationary(A, H, 1.0, 100).cov
    assert not np.allclose(right, wrong, rtol=0.1)


# --- LossModel on closed forms ----------------------------------------------------------------


def test_least_squares_closed_form():
    # θ* = mean, γ = 1, S̃ = 2: C = λ/(n(1+2λ)) (the Gaussian mean of docs/theory.md §9, σ² = 1)
    x = np.random.default_rng(3).standard_normal(100)
    for lam in (0.5, 2.0):
        r = stability.analyze(_least_squares(), x, lam, n_noise=256)
        assert r.theta_star[0] == pytest.approx(x.mean(), abs=1e-12)
        np.testing.assert_allclose([r.A[0, 0], r.H[0, 0], r.M[0, 0]], [2.0, 2.0, -2.0], rtol=1e-12)
        # moment-matched bank: Var of 2(θ - y) is exactly 4 (bank mean 0, second moment 1)
        assert r.S[0, 0] == pytest.approx(4.0, rel=1e-12)
        assert r.rate_exact == pytest.approx(lam / (1 + lam), rel=1e-12)
        assert r.self_consistency == pytest.approx(0.0, abs=1e-12)
        law = r.stationary(100)
        assert law.cov[0, 0] == pytest.approx(lam / (100 * (1 + 2 * lam)), rel=1e-9)


def _double_well(means=(1.0, 4.0), n=200, seed=11):
    """ℓ(θ, x) = Σ_i θ_i⁴/4 - x_i θ_i²/2 with the sign-flipping sampler y = -θ' + z (2-D), and real points
    with column means exactly ``means`` (the loss is linear in x: only the means matter).

    Closed forms per coordinate (mean m, c = -1): R_n = θ⁴/4 - mθ²/2 (θ̂ = √m, A(θ̂) = 2m > 0);
    g(θ, θ') = θ⁴/4 + θ'θ²/2 + const; the fixed point solves (1+λ)θ² + λθ - m = 0 (the root on the
    branch from θ̂); A = 3θ² - m, H = 3θ² + θ, M = θ, S = Var(θ³ - yθ) = θ² (the bank is whitened);
    A + λH = (1+λ)(3θ²) + λθ - m + ... > 0 while A < 0 once θ² < m/3."""
    x = np.random.default_rng(seed).standard_normal((n, 2))
    x = x - x.mean(0) + np.asarray(means)
    lm = LossModel(
        lambda th, x: (th**4).sum() / 4 - (x * th**2).sum(-1) / 2, lambda th, z: -th + z, np.sqrt(means),
        noise_dim=2, data_dim=2, name="double-well",
    )  # fmt: skip
    return lm, x


def _double_well_closed(lam, means=(1.0, 4.0)):
    m = np.asarray(means)
    th = (-lam + np.sqrt(lam**2 + 4 * (1 + lam) * m)) / (2 * (1 + lam))
    A, H, Mm, S = 3 * th**2 - m, 3 * th**2 + th, th, th**2
    return th, A, H, Mm, S


@pytest.mark.parametrize("lam", [1.0, 1.5])
def test_fixed_point_with_indefinite_A(lam):
    # docs/theory.md §13: a round needs A + λH > 0, not A > 0. At λ = 1 A = diag(-0.25, 0.22) (indefinite),
    # at λ = 1.5 A = diag(-0.52, -1) (negative definite): θ*_λ is a saddle / maximum of R_n, yet the
    # round's objective has a strict minimum there. Everything against the closed forms (_double_well);
    # the bank is moment-matched and the loss linear in y, so g, H, M, S are exact up to rounding.
    lm, x = _double_well()
    th, A, H, Mm, S = _double_well_closed(lam)
    assert A.min() < 0 < (A + lam * H).min()
    r = analyze_loss(lm, x, lam, n_noise=256)
    np.testing.assert_allclose(r.theta_star, th, rtol=1e-9)
    np.testing.assert_allclose(np.diag(r.A), A, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(np.diag(r.H), H, rtol=1e-9)
    np.testing.assert_allclose(np.diag(r.M), Mm, rtol=1e-9)
    np.testing.assert_allclose(np.diag(r.S), S, rtol=1e-9)
    J = -lam * Mm / (A + lam * H)  # diagonal
    assert r.rate_exact == pytest.approx(np.abs(J).max(), rel=1e-9)
    assert r.bias_loss == pytest.approx(((th**2 - np.array([1.0, 4.0])) ** 2).sum() / 4, rel=1e-9)
    assert "lambda path 0 ->" in r.details["theta_star"]
    # the law: C = Q / (1 - J²) per coordinate, Q = λ²S/(k(A + λH)²); 1/2 tr(AC) is negative here
    # (θ*_λ is solved to |F| <= 1e-10(1+λ), and 1/(1 - J²) <= 2.3 amplifies its error: 1e-7 relative)
    law = r.stationary(200)
    k = math.floor(lam * 200)
    C = lam**2 * S / (k * (A + lam * H) ** 2) / (1 - J**2)
    np.testing.assert_allclose(np.diag(law.cov), C, rtol=1e-7)
    assert law.excess_loss == pytest.approx(0.5 * (A * C).sum(), rel=1e-7)
    gam = H / A  # H v = γ A v, diagonal
    np.testing.assert_allclose(np.sort(law.gammas), np.sort(gam), rtol=1e-7)


def test_loss_jacobian_needs_the_rounds_hessian_positive():
    # A indefinite but A + λH > 0: accepted, J = -λ(A+λH)^{-1}M by hand
    A, H, Mm = np.diag([-0.5, 1.0]), np.diag([1.0, 1.0]), np.diag([-0.25, -0.5])
    r = loss_jacobian(A, H, Mm, 1.0)
    np.testing.assert_allclose(np.diag(r.jacobian), [0.5, 0.25], rtol=1e-14)
    with pytest.raises(ValueError, match="A \\+ lambda_ H must be positive definite"):
        loss_jacobian(A, H, Mm, 0.4)  # -0.5 + 0.4 < 0
    with pytest.raises(ValueError, match="A \\+ lambda_ H must be positive definite"):
        loss_jacobian(A, H, Mm, 0.0)  # λ = 0: A itself must be positive definite


def test_chains_follow_the_law_where_A_is_indefinite():
    # the refit chains at λ = 1 (A = diag(-0.25, 0.22)) against the closed-form stationary law about θ*_λ:
    # 400 chains, three covariance entries, |z| <= 4 (the SE is itself estimated from 400 chains)
    from stability.numerical.chains import default_burn_in, retrain_loss_chains

    lm, x = _double_well()
    res = retrain_loss_chains(lm, x, 1.0, generations=16, chains=400, seed=2, n_noise=256)
    assert bool(res.converged.all())
    th, A, H, Mm, S = _double_well_closed(1.0)
    J = -Mm / (A + H)
    C = np.diag(S / (200 * (A + H) ** 2) / (1 - J**2))
    obs = res.observed(default_burn_in(float(np.abs(J).max())))
    z = (obs.cov - C) / np.maximum(obs.cov_se, 1e-300)
    assert np.abs(z).max() <= 4.0, z


def test_noise_bank_is_moment_matched():
    lm = LinearGaussianDDPM(BETAS)
    z = noise_bank(lm, 1001, torch.Generator().manual_seed(0))
    assert z.shape == (1001, 11)
    np.testing.assert_allclose(z.mean(0).numpy(), 0.0, atol=1e-14)
    np.testing.assert_allclose((z.T @ z / 1001).numpy(), np.eye(11), atol=1e-12)


SLOW = pytest.mark.slow


@pytest.mark.parametrize("lam", [pytest.param(0.5, marks=SLOW), 1.0, pytest.param(4.0, marks=SLOW)])
def test_linear_ddpm_matches_moment_map(lam):
    # Done when (issue 21): analyze's θ*_λ as moments to 1e-3 and rate_exact to 1 %, default n_noise,
    # against the closed-form moment map (numbers published in docs/theory.md §13 for λ = 1 and 4)
    ddpm = LinearGaussianDDPM(BETAS)
    x = np.random.default_rng(4).standard_normal(400)
    x = 0.3 + math.sqrt(1.7) * (x - x.mean()) / x.std()
    r = stability.analyze(ddpm, x, lam)
    m, v, rate = ddpm.fixed_point(lam, 0.3, 1.7)
    mm, vv = ddpm.fitted_moments(r.theta_star)
    assert abs(mm - m) < 1e-3 and abs(vv - v) < 1e-3
    np.testing.assert_allclose(r.theta_star, ddpm.optimal_params(m, v), atol=1e-6)
    assert r.rate_exact == pytest.approx(rate[-1], rel=0.01)
    ev = np.sort(np.abs(r.eigenvalues))
    np.testing.assert_allclose(ev[-2:], rate, rtol=0.01)
    assert ev[-3] < 1e-8  # rank 2
    published = {1.0: (0.2370, 1.6108, 0.3533, 0.4153), 4.0: (0.1510, 1.4564, 0.5921, 0.6685)}
    if lam in published:
        pm, pv, r1, r2 = published[lam]
        assert abs(mm - pm) < 1e-4 and abs(vv - pv) < 1e-4  # 4 published decimals
        np.testing.assert_allclose(ev[-2:], [r1, r2], atol=1e-4)
    assert r.self_consistency == pytest.approx(0.95, abs=0.01)  # docs/theory.md §13: ≈ 0.95
    assert r.bias_loss > 0 and r.rate_exact < lam / (1 + lam)


def test_hyvarinen_closed_forms_match_autograd():
    rng = np.random.default_rng(5)
    x1 = torch.as_tensor(rng.standard_normal((40, 1)) * 2)
    x2 = torch.as_tensor(rng.standard_normal((40, 2)))
    cases = [
        (M.StudentT(5.0), x1, [0.3, -0.2]),
        (M.Logistic(), x1, [0.3, 0.4]),
        (M.Gaussian(), x1, [0.3, 1.4]),  # natural (eta, Lambda)
        (M.ProductStudentT(2, 4.0), x2, [0.1, 0.2, -0.3, 0.1]),
    ]
    for model, x, th in cases:
        th = torch.tensor(th, dtype=torch.float64)
        np.testing.assert_allclose(_hyvarinen_closed(model)(th, x), _hyvarinen(model)(th, x), rtol=1e-12, atol=1e-13)


def test_hyvarinen_gaussian_is_moment_matching():
    # score matching of the Gaussian: E[ψ² /2 + ψ'] is minimised at the sample mean and variance
    x = np.random.default_rng(6).standard_normal(200) * 1.5 + 0.4
    r = analyze_loss(HyvarinenScoreMatching(M.Gaussian()), x, 1.0, n_noise=512)
    v = x.var()
    np.testing.assert_allclose(r.theta_hat, [x.mean() / v, 1 / v], rtol=1e-9)  # natural (eta, Lambda)
    np.testing.assert_allclose(r.theta_star, r.theta_hat, rtol=1e-9)  # exact sampler: self-consistent
    assert r.self_consistency < 1e-9 and r.rate_exact == pytest.approx(0.5, rel=1e-9)


def test_hyvarinen_student_t_self_consistent_but_sandwich():
    x = np.random.default_rng(7).standard_normal(400)
    r = stability.analyze(HyvarinenScoreMatching(M.StudentT(5.0)), x, 1.0, n_noise=4096)
    # the quantile bank leaves θ*_λ within far less than its i.i.d.-bank standard error of θ̂
    assert np.abs(r.theta_star - r.theta_hat).max() < 0.05 * r.theta_star_se.max()
    assert r.self_consistency < 1e-4 and r.bias_loss < 1e-10
    gam = linalg.eigh(r.H, r.A, eigvals_only=True)
    assert r.rate_exact == pytest.approx(gam.max() / (1 + gam.max()), rel=1e-4)
    assert not np.allclose(r.S, r.H, rtol=0.2)  # S ≠ H: the sandwich matters


def test_point_draws_loss():
    # ℓ(θ, x) = mean over the point's 3 draws u of (x + u - θ)²: θ̂ is the mean of x + ū over the
    # real points with the draws analyze attaches (first use of the seed's generator)
    def loss(th, x, u):
        return (x[:, 0] + u[:, 0] - th[0]) ** 2

    lm = PointDrawsLoss(loss, lambda th, z: th[0] + z, [0.0], noise_dim=1, draws=3)
    x = np.random.default_rng(8).standard_normal(50)
    r = analyze_loss(lm, x, 1.0, n_noise=256, seed=11)
    xp = lm.prepare(torch.as_tensor(x[:, None]), torch.Generator().manual_seed(11)).numpy()
    assert xp.shape == (50, 4)
    assert r.theta_hat[0] == pytest.approx((xp[:, 0] + xp[:, 1:].mean(1)).mean(), abs=1e-12)
    # synthetic draws are fresh, so retraining is self-consistent here: θ*_λ = θ̂
    assert r.theta_star[0] == pytest.approx(r.theta_hat[0], abs=1e-10)
    r2 = analyze_loss(lm, x, 1.0, n_noise=256, seed=11)
    np.testing.assert_array_equal(r.theta_star, r2.theta_star)


def test_likelihood_report_fields():
    from scipy import stats

    r = stability.analyze("poisson", stats.poisson(3.0), 1.0)
    assert r.bias_loss == 0.0 and r.self_consistency == 0.0 and r.theta_hat is r.theta_star


def test_loss_chains_basics():
    x = np.random.default_rng(9).standard_normal(100)
    lm = HyvarinenScoreMatching(M.StudentT(5.0))
    r = stability.retrain_chains(lm, x, 1.0, generations=2, chains=5, seed=3, n_noise=1024)
    assert r.theta.shape == (3, 5, 2) and r.k == 100
    assert bool(r.converged.all()) and float(r.grad_norm.max()) <= r.gtol
    np.testing.assert_array_equal(r.theta[0], np.broadcast_to(r.theta_star, (5, 2)))
    assert (r.iterations >= 1).all()
    r2 = stability.retrain_chains(lm, x, 1.0, generations=2, chains=5, seed=3)  # the generic entry point
    r3 = stability.retrain_chains(lm, x, 1.0, generations=2, chains=5, seed=3)
    np.testing.assert_array_equal(r2.theta, r3.theta)  # same seed, same numbers
    obs = r2.observed(1)
    assert obs.cov.shape == (2, 2)


# --- Done when (issue 21) ---------------------------------------------------------------------


@pytest.mark.slow
def test_done_when_hyvarinen_student_t_chains():
    # Student-t(5) by score matching, N(0, 1) data, n = 400, λ = 1: 600 chains x 30 generations
    # against the sandwich law, entrywise within Monte Carlo error (|z| <= 4: three entries, and the
    # standard error itself is estimated from 600 chains, ~3 % relative), and the likelihood form
    # of the law (S = H) rejected (its variances are ~40-60 % off: |z| > 6).
    from stability.numerical.chains import default_burn_in

    x = np.random.default_rng(0).standard_normal(400)
    lm = HyvarinenScoreMatching(M.StudentT(5.0))
    rep = stability.analyze(lm, x, 1.0)
    law = rep.stationary(400)
    fisher = stability.stationary(rep.A, rep.H, 1.0, 400)
    res = stability.retrain_chains(lm, x, 1.0, generations=30, chains=600, seed=0)
    np.testing.assert_allclose(res.theta_star, rep.theta_star, rtol=1e-12)
    obs = res.observed(default_burn_in(law.rate))
    z = (obs.cov - law.cov) / obs.cov_se
    zf = (obs.cov - fisher.cov) / obs.cov_se
    assert np.abs(z).max() <= 4.0, z
    assert np.abs(np.diag(zf)).min() > 6.0, zf


@pytest.mark.slow
def test_linear_ddpm_chains_follow_lyapunov_law():
    # not self-consistent: the chains' stationary covariance (about θ*_λ) against the Lyapunov law;
    # 210 entries, so the largest |z| of independent-ish normals is ~3: bound 4.5
    from stability.numerical.chains import default_burn_in

    ddpm = LinearGaussianDDPM(BETAS)
    x = np.random.default_rng(1).standard_normal(400)
    x = 0.3 + math.sqrt(1.7) * (x - x.mean()) / x.std()
    rep = stability.analyze(ddpm, x, 1.0)
    law = rep.stationary(400)
    assert law.method == "lyapunov"
    res = stability.retrain_chains(ddpm, x, 1.0, generations=20, chains=100, seed=1)
    obs = res.observed(default_burn_in(law.rate))
    z = (obs.cov - law.cov) / np.maximum(obs.cov_se, 1e-300)
    assert np.abs(z).max() <= 4.5
    assert np.trace(obs.cov) == pytest.approx(np.trace(law.cov), rel=0.1)


def test_likelihood_as_a_loss_matches_the_likelihood_path():
    # the negative log-likelihood is one loss: the general code (bank, autograd through the sampler)
    # against local_constants' A, B (quadrature on the sample). Gaussian in natural parameters: the
    # Hessian of -log p does not depend on x and the moment-matched bank has exact first and second
    # moments, so H = B and M = -B hold to rounding; S = Cov(T(y)) involves E z^4 of the bank: S = B
    # only to Monte Carlo accuracy (relative se ~ sqrt(2/N) ~ 1 % for N = 2**14).
    model = M.Gaussian()
    lm = LossModel(
        negative_log_likelihood(model),
        lambda th, z: th[0] * (1 / th[1]) + torch.sqrt(1 / th[1]) * z,  # natural (eta, Lambda)
        [0.0, 1.0],
        noise_dim=1,
    )
    x = np.random.default_rng(10).standard_normal(300) * 0.8 + 0.2
    r = stability.analyze(lm, x, 1.5)
    lc = model.local_constants(x)
    ref = stability.build_report(lc, 1.5)
    np.testing.assert_allclose(r.theta_star, lc.theta_star, rtol=1e-8)
    np.testing.assert_allclose(r.A, lc.A, rtol=1e-8)
    np.testing.assert_allclose(r.H, lc.B, rtol=1e-8)
    np.testing.assert_allclose(r.M, -lc.B, rtol=1e-8, atol=1e-10 * np.abs(lc.B).max())
    assert r.rate_exact == pytest.approx(ref.rate_exact, rel=1e-8)
    np.testing.assert_allclose(r.S, lc.B, rtol=0.05)
