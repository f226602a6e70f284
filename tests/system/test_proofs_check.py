"""proofs_check: the runner and CLI, and that every result's checks FAIL when an error is planted.

Each planted error is a monkeypatch of the toolkit function (or of the derivation) a check relies
on: a wrong factor, a flipped inequality or a missing term. A check that still passed would be a
check that cannot fail.
"""

import numpy as np
import pytest
import sympy as sp

import proofs_check
from proofs_check import REGISTRY, Outcome, collapse, fixed_point, gaussian_recursions, jacobian, run, theorem1
from proofs_check.__main__ import main
from proofs_check.registry import check as register
from stability import bounds
from stability import collapse as tk_collapse
from stability import jacobian as tk_jacobian


def status(name: str) -> Outcome:
    return run([REGISTRY[name]])[0].outcome


# ---------------------------------------------------------------- runner and command line


def test_every_result_module_registers_checks_with_docstrings():
    results = {c.result for c in REGISTRY.values()}
    assert results == set(proofs_check.RESULTS)
    for c in REGISTRY.values():
        assert c.doc, c.name
        assert "§" in c.step, c.name


def test_list_prints_every_check(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in REGISTRY:
        assert name in out
    assert f"{len(REGISTRY)} of {len(REGISTRY)} checks" in out


def test_only_runs_one_check_and_markdown_writes_a_table(tmp_path, capsys):
    md = tmp_path / "report.md"
    assert main(["--only", "theorem2.toolkit_finite_sample_bound", "--markdown", str(md)]) == 0
    assert "[PASS] theorem2.toolkit_finite_sample_bound" in capsys.readouterr().out
    lines = md.read_text().splitlines()
    assert lines[0].startswith("| result | check | step | method | status |")
    assert len(lines) == 3 and "| PASS |" in lines[2]


def test_only_accepts_a_result_prefix():
    chosen = proofs_check.select("theorem2")
    assert {c.name for c in chosen} == {n for n in REGISTRY if n.startswith("theorem2.")}
    assert "theorem2.unrolled_recursion" in {c.name for c in chosen} and len(chosen) >= 2


def test_unknown_only_exits_2(capsys):
    assert main(["--only", "no_such_check"]) == 2
    assert "only must name a check or a result" in capsys.readouterr().err


def test_failing_check_makes_the_run_exit_1(monkeypatch, capsys):
    monkeypatch.setattr(bounds, "finite_sample_bound", lambda *a, **k: np.zeros(7))
    assert main(["--only", "theorem2.toolkit_finite_sample_bound"]) == 1
    assert "FAIL theorem2.toolkit_finite_sample_bound" in capsys.readouterr().err


def test_a_crashing_check_is_a_failure(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("planted crash")

    monkeypatch.setattr(bounds, "finite_sample_bound", boom)
    out = status("theorem2.toolkit_finite_sample_bound")
    assert not out.passed and "RuntimeError: planted crash" in out.detail


def test_register_rejects_bad_declarations():
    with pytest.raises(ValueError, match="method must be one of"):
        register("x", "§0", "guesswork")
    with pytest.raises(ValueError, match="must quote the step"):
        register("x", "§0", "symbolic")(lambda: Outcome(True, ""))


@pytest.mark.slow
def test_expect_zero_falls_back_visibly_and_can_fail():
    from proofs_check._util import expect_zero

    x = sp.Symbol("x", positive=True)
    # Euler's reflection formula for the dilogarithm: sympy does not simplify it, so the numeric
    # fallback decides, and the outcome says so.
    euler = sp.polylog(2, x) + sp.polylog(2, 1 - x) - (sp.pi**2 / 6 - sp.log(x) * sp.log(1 - x))
    ok = expect_zero(euler, "reflection", {x: (0.05, 0.95)})
    assert ok.passed and ok.fallback and "did not simplify" in ok.detail
    bad = expect_zero(euler + x / 10**6, "off by x/1e6", {x: (0.05, 0.95)})
    assert not bad.passed


# ---------------------------------------------------------------- planted errors, per result


@pytest.mark.slow
def test_fixed_point_fails_on_a_wrong_map(monkeypatch):
    obj, G = fixed_point.gaussian_map()
    lam = proofs_check.models.syms.lam
    monkeypatch.setattr(fixed_point, "gaussian_map", lambda: (obj, [G[0] * (1 + lam) / (1 + 2 * lam), G[1]]))
    assert not status("fixed_point.gaussian_fixed_point").passed


@pytest.mark.slow
def test_fixed_point_fails_on_a_wrong_log_partition(monkeypatch):
    fams = fixed_point._families()
    name, th, A, mean = fams[0]
    monkeypatch.setattr(fixed_point, "_families", lambda: [(name, th, 2 * A, mean)] + fams[1:])
    out = status("fixed_point.expfam_mean_parameter")
    assert not out.passed and "Poisson: E_θ[T] - A'(θ)" in out.detail.split(";")[0]


@pytest.mark.slow
def test_jacobian_checks_fail_on_a_wrong_factor(monkeypatch):
    real = tk_jacobian.fixed_point_jacobian
    monkeypatch.setattr(tk_jacobian, "fixed_point_jacobian", lambda A, B, lam: 0.99 * real(A, B, lam))
    for name in ("jacobian.toolkit_gaussian", "jacobian.toolkit_expfam", "jacobian.cauchy_numeric_ift"):
        assert not status(name).passed, name


@pytest.mark.slow
def test_symbolic_ift_fails_on_a_wrong_fisher_matrix(monkeypatch):
    DG, dF_new, dF_old, A, B = jacobian._gaussian_jacobians()
    monkeypatch.setattr(jacobian, "_gaussian_jacobians", lambda: (DG, dF_new, dF_old, A, 2 * B))
    assert not status("jacobian.gaussian_ift").passed


def test_spectrum_checks_fail_on_a_wrong_rate(monkeypatch):
    monkeypatch.setattr(tk_jacobian, "_rate", lambda g, lam: lam * g / (1.0 + 2 * lam * g))
    assert not status("spectrum.toolkit_spectrum").passed
    assert not status("spectrum.self_adjoint").passed


def test_spectrum_fails_on_wrong_generalized_eigenvalues(monkeypatch):
    real = tk_jacobian.generalized_eigenvalues
    monkeypatch.setattr(tk_jacobian, "generalized_eigenvalues", lambda A, B: 1.001 * real(A, B))
    assert not status("spectrum.toolkit_spectrum").passed


def _paper_wrong_factor(lambda_, eps, alpha=1.0, L=1.0):
    s = lambda_ * (alpha + 2 * eps * L)  # planted: 2 eps L
    return np.where(s < alpha, s / (alpha - s), np.inf) if np.ndim(s) else (s / (alpha - s) if s < alpha else np.inf)


def test_theorem1_paper_check_fails_on_a_wrong_factor(monkeypatch):
    monkeypatch.setattr(bounds, "bound", _paper_wrong_factor)
    assert not status("theorem1.toolkit_paper").passed


def test_theorem1_paper_check_fails_on_a_flipped_inequality(monkeypatch):
    def flipped(lambda_, eps, alpha=1.0, L=1.0):
        s = lambda_ * (alpha + eps * L)
        with np.errstate(divide="ignore"):
            return s / (alpha - s) if s > alpha else np.inf  # planted: '>' where the theorem has '<'

    monkeypatch.setattr(bounds, "bound", flipped)
    assert not status("theorem1.toolkit_paper").passed


def test_theorem1_paper_threshold_fails_on_a_missing_factor(monkeypatch):
    real = bounds.max_lambda

    def wrong(eps, alpha=1.0, L=1.0, form="paper"):
        return alpha / (alpha + eps * L) if form == "paper" else real(eps, alpha, L, form)  # planted: no 2

    monkeypatch.setattr(bounds, "max_lambda", wrong)
    out = status("theorem1.toolkit_paper")
    assert not out.passed and "max_lambda" in out.detail.split(";")[0]


def test_theorem1_sharp_check_fails_on_a_flipped_sign(monkeypatch):
    def wrong(lambda_, eps, alpha=1.0, L=1.0):
        leps = eps * L
        if leps >= alpha and lambda_ > 0:
            return np.inf
        return lambda_ * (alpha + leps) / (alpha + lambda_ * (alpha + leps))  # planted: + instead of -

    monkeypatch.setattr(bounds, "sharp_bound", wrong)
    assert not status("theorem1.toolkit_sharp").passed


def test_theorem1_sharp_threshold_fails_on_a_missing_factor(monkeypatch):
    real = bounds.max_lambda

    def wrong(eps, alpha=1.0, L=1.0, form="paper"):
        if form == "sharp" and 0 < eps * L < alpha:
            return alpha / (eps * L)  # planted: missing 2
        return real(eps, alpha, L, form)

    monkeypatch.setattr(bounds, "max_lambda", wrong)
    assert not status("theorem1.toolkit_sharp").passed


@pytest.mark.slow
def test_theorem1_ordering_and_kr_chain_fail_on_a_too_small_sharp_bound(monkeypatch):
    real = bounds.sharp_bound
    monkeypatch.setattr(bounds, "sharp_bound", lambda *a, **k: 0.6 * real(*a, **k))
    assert not status("theorem1.norm_ordering").passed
    assert not status("theorem1.kantorovich_rubinstein").passed


def test_kantorovich_rubinstein_fails_when_w1_is_underestimated(monkeypatch):
    real = theorem1._logistic_model

    def half_w1(*args):
        theta, A, W1 = real(*args)
        return theta, A, W1 / 2

    monkeypatch.setattr(theorem1, "_logistic_model", half_w1)
    out = status("theorem1.kantorovich_rubinstein")
    assert not out.passed and "|A - B|/(L·W1)" in out.detail.split(";")[0]


def test_theorem2_fails_on_a_missing_term(monkeypatch):
    def wrong(t, lambda_, eps, stat_err, init_err, alpha=1.0, L=1.0, form="paper"):
        rho = bounds.bound(lambda_, eps, alpha, L) if form == "paper" else bounds.sharp_bound(lambda_, eps, alpha, L)
        t = np.asarray(t, dtype=float)
        with np.errstate(invalid="ignore"):
            out = np.where(np.isinf(t), stat_err / (1 - rho), stat_err * (1 - rho**t) / (1 - rho))  # no ρ^t e0
        return np.where(rho < 1, out, np.inf)

    monkeypatch.setattr(bounds, "finite_sample_bound", wrong)
    assert not status("theorem2.toolkit_finite_sample_bound").passed


def test_collapse_fails_on_a_wrong_c4(monkeypatch):
    real = tk_collapse.c4
    monkeypatch.setattr(tk_collapse, "c4", lambda n: real(n) * np.sqrt(np.asarray(n, float) / (np.asarray(n) + 1.0)))
    assert not status("collapse.toolkit_c4_sigma").passed


def test_collapse_fails_when_c4_reaches_one(monkeypatch):
    real = tk_collapse.c4
    monkeypatch.setattr(tk_collapse, "c4", lambda n: np.where(np.asarray(n) > 100, 1.0, real(n)))
    assert not status("collapse.c4_below_one").passed


def test_collapse_fails_on_a_wrong_mle_ratio(monkeypatch):
    real = tk_collapse.expected_variance

    def wrong(t, n, sigma0=1.0, estimator="unbiased"):
        if estimator == "mle" and np.isfinite(t):
            return sigma0**2 * (n / (n + 1.0)) ** t  # planted: n/(n+1) instead of (n-1)/n
        return real(t, n, sigma0, estimator)

    monkeypatch.setattr(tk_collapse, "expected_variance", wrong)
    assert not status("collapse.toolkit_variance").passed


def test_collapse_fails_on_a_missing_log2_term(monkeypatch):
    real = tk_collapse.log_det_drift
    monkeypatch.setattr(
        tk_collapse, "log_det_drift", lambda n, d=1, estimator="unbiased": real(n, d, estimator) - d * np.log(2)
    )
    assert not status("collapse.toolkit_log_det_drift").passed
    assert not status("collapse.bartlett_monte_carlo").passed


@pytest.mark.slow
def test_collapse_symbolic_fails_on_a_wrong_chi2_moment(monkeypatch):
    m = collapse._chi2_moments()
    monkeypatch.setattr(collapse, "_chi2_moments", lambda: (m[0], m[1], m[2] + sp.log(2)))
    assert not status("collapse.log_det_drift").passed


@pytest.mark.slow
def test_gaussian_recursions_fail_on_a_missing_term(monkeypatch):
    def update(m_hat, S_hat, ybar, S_y, w=gaussian_recursions.W):
        return (1 - w) * m_hat + w * ybar, (1 - w) * S_hat + w * S_y  # planted: no w(1-w)(ȳ-m̂)(ȳ-m̂)ᵀ

    monkeypatch.setattr(gaussian_recursions, "update", update)
    assert not status("gaussian_recursions.pooled_update").passed
    assert not status("gaussian_recursions.conditional_moments").passed


def test_gaussian_recursions_monte_carlo_fails_on_a_missing_term(monkeypatch):
    real = gaussian_recursions.conditional_moments

    def wrong(m_hat, S_hat, mu_t, Sig_t, n_real, k_syn):
        E_mu, E_Sig = real(m_hat, S_hat, mu_t, Sig_t, n_real, k_syn)
        w = k_syn / (n_real + k_syn)
        return E_mu, E_Sig - w * (1 - w) * Sig_t / k_syn  # planted: drop the Σ_t/k term

    monkeypatch.setattr(gaussian_recursions, "conditional_moments", wrong)
    assert not status("gaussian_recursions.naive_refit_monte_carlo").passed


@pytest.mark.slow
def test_families_fail_on_a_wrong_fisher(monkeypatch):
    from stability.families import Poisson

    real = Poisson.fisher
    monkeypatch.setattr(Poisson, "fisher", lambda self, theta: 1.01 * real(self, theta))
    out = status("families.log_partition")
    assert not out.passed and "poisson" in out.detail


@pytest.mark.slow
def test_families_fail_on_a_wrong_mean_map_inverse(monkeypatch):
    from stability.families import Gamma

    real = Gamma.natural
    monkeypatch.setattr(Gamma, "natural", lambda self, mu: real(self, mu) + np.array([1e-6, 0.0]))
    assert not status("families.fixed_point_operator").passed


@pytest.mark.slow
def test_families_fail_on_a_wrong_rate(monkeypatch):
    from stability.families import ExponentialFamily

    monkeypatch.setattr(ExponentialFamily, "rate", lambda self, lambda_: lambda_ / (1.0 + 2.0 * lambda_))
    assert not status("families.jacobian_constants").passed


@pytest.mark.slow
def test_simulator_recursion_check_fails_on_a_missing_term(monkeypatch):
    real = gaussian_recursions.unconditional_recursion

    def wrong(scheme):
        S, P, C, m = real(scheme)
        return S, P - gaussian_recursions._w**2 * gaussian_recursions._S / gaussian_recursions.k, C, m

    monkeypatch.setattr(gaussian_recursions, "unconditional_recursion", wrong)
    assert not status("gaussian_recursions.unconditional_recursion").passed


@pytest.mark.slow
def test_simulator_moments_fail_on_a_missing_term(monkeypatch):
    from stability.dynamics import moments

    real = moments._gaussian_step

    def wrong(S, P, C, m, **kw):
        S1, P1, C1, m1 = real(S, P, C, m, **kw)
        k = kw["k"]
        return S1, P1 - (kw["w"] ** 2 * S / k if k and kw["scheme"] != "replace" else 0), C1, m1  # no w² S_t/k

    monkeypatch.setattr(moments, "_gaussian_step", wrong)
    out = status("gaussian_recursions.toolkit_moments")
    assert not out.passed and "gaussian_moments" in out.detail.split(";")[0]


@pytest.mark.slow
def test_simulator_stationary_fails_on_a_wrong_factor(monkeypatch):
    from stability.dynamics import moments

    real = moments.gaussian_stationary

    def wrong(**kw):
        st = real(**kw)
        return moments.MomentPrediction(st.mean, st.cov_mean, 1.01 * st.expected_cov)

    monkeypatch.setattr(moments, "gaussian_stationary", wrong)
    out = status("gaussian_recursions.toolkit_moments")
    assert not out.passed and "gaussian_stationary" in out.detail.split(";")[0]


def test_theorem2_a4_term_fails_on_a_wrong_quantile(monkeypatch):
    from stability.dynamics import theorem2 as tk_theorem2

    real = tk_theorem2.gammaincinv
    monkeypatch.setattr(tk_theorem2, "gammaincinv", lambda a, p: real(a, (1 + p) / 2))  # two-sided level
    assert not status("theorem2.gaussian_a4_term").passed


@pytest.mark.slow
def test_stationary_diagonal_solution_fails_without_lambda_squared_in_q(monkeypatch):
    from proofs_check import stationary as pc_stationary

    def wrong(A, B, lam_, k_):
        Minv = (A + lam_ * B).inv()
        return lam_ * Minv * B, 1 / k_ * Minv * B * Minv  # planted: Q without λ²

    monkeypatch.setattr(pc_stationary, "jacobian_and_noise", wrong)
    assert not status("stationary.diagonal_solution").passed


@pytest.mark.slow
def test_stationary_checks_fail_on_a_wrong_closed_form(monkeypatch):
    from proofs_check import stationary as pc_stationary

    # planted: q_i in place of c_i (the Lyapunov sum dropped)
    monkeypatch.setattr(pc_stationary, "stationary_c", lambda lam_, g, k_: lam_**2 * g / (k_ * (1 + lam_ * g) ** 2))
    out = status("stationary.expfam_reduction")
    assert not out.passed and "c(γ=1, k=λn)" in out.detail.split(";")[0]


@pytest.mark.slow
def test_stationary_toolkit_checks_fail_on_a_wrong_toolkit(monkeypatch):
    import dataclasses

    from proofs_check import stationary as pc_stationary

    real = pc_stationary.toolkit.stationary

    def a_for_b(A, B, lambda_, n, *, k=None):  # planted: the score covariance taken as A, not B
        law = real(A, B, lambda_, n, k=k)
        Minv = np.linalg.inv(A + lambda_ * B)
        J = lambda_ * Minv @ B
        from scipy.linalg import solve_discrete_lyapunov

        return dataclasses.replace(law, cov=solve_discrete_lyapunov(J, lambda_**2 / law.k * Minv @ A @ Minv))

    monkeypatch.setattr(pc_stationary.toolkit, "stationary", a_for_b)
    assert not status("stationary.toolkit_lyapunov").passed

    def half_missing(A, B, lambda_, n, *, k=None):  # planted: tr(AC) without the ½
        law = real(A, B, lambda_, n, k=k)
        return dataclasses.replace(law, excess_loss=2 * law.excess_loss)

    monkeypatch.setattr(pc_stationary.toolkit, "stationary", half_missing)
    assert not status("stationary.excess_loss").passed


# ---------------------------------------------------------------- self-correction (docs/theory.md §14)


def test_correction_jacobian_check_fails_on_a_target_that_depends_on_theta(monkeypatch):
    from proofs_check import correction as pc_correction

    real = pc_correction._gaussian_round

    def wrong(theta_new, theta, target, real_, rho_, p_):  # planted: the target follows the model
        return real(theta_new, theta, theta, real_, rho_, p_)

    monkeypatch.setattr(pc_correction, "_gaussian_round", wrong)
    out = status("correction.implicit_jacobian")
    assert not out.passed and "J - J₀/(1+γ)" in out.detail.split(";")[0]


def test_correction_toolkit_checks_fail_on_an_uncorrected_law(monkeypatch):
    from proofs_check import correction as pc_correction

    real = pc_correction.toolkit_stationary.stationary

    def ignores(A, B, lambda_, n, *, k=None, synthetic_weight=None, correction=0.0):  # planted: γ dropped
        if np.isinf(lambda_):
            return real(A, B, lambda_, n, k=k, correction=correction)
        return real(A, B, lambda_, n, k=k, synthetic_weight=synthetic_weight)

    monkeypatch.setattr(pc_correction.toolkit_stationary, "stationary", ignores)
    assert not status("correction.toolkit_stationary").passed

    real_fs = pc_correction.toolkit_moments.family_stationary

    def no_between_term(*a, **kw):  # planted: the mixture's between-component variance dropped (p(1-p) -> 0)
        from stability.dynamics import moments

        orig = moments._mixture_moments

        def mm(S, P, C, m, *, p, beta, b, ST, A):
            Sq, Pq, Cq, mq = orig(S, P, C, m, p=p, beta=beta, b=b, ST=ST, A=A)
            X = beta * C + np.outer(m, b)
            return Sq - p * (1 - p) * (P - X - X.T + beta * A + np.outer(b, b)), Pq, Cq, mq

        monkeypatch.setattr(moments, "_mixture_moments", mm)
        try:
            return real_fs(*a, **kw)
        finally:
            monkeypatch.setattr(moments, "_mixture_moments", orig)

    monkeypatch.setattr(pc_correction.toolkit_stationary, "stationary", real)
    monkeypatch.setattr(pc_correction.toolkit_moments, "family_stationary", no_between_term)
    out = status("correction.toolkit_moments")
    assert not out.passed and "family_stationary replace" in out.detail.split(";")[0]


def test_correction_symbolic_checks_fail_on_planted_errors(monkeypatch):
    from proofs_check import correction as pc_correction

    # planted: the replacement probability taken as γ/(1+2γ) in the derivations
    monkeypatch.setattr(pc_correction, "p", pc_correction.g / (1 + 2 * pc_correction.g))
    assert not status("correction.expfam_variances").passed
    assert not status("correction.implicit_jacobian").passed


# ---------------------------------------------------------------- curation (docs/theory.md §15): planted errors


@pytest.mark.slow  # ~7 s (sympy)
def test_curation_symbolic_checks_fail_on_a_wrong_tilt(monkeypatch):
    """A tilt whose variance misses the 1/(1+βv) factor breaks the tilt, replace and reward checks."""
    from proofs_check import curation as pc

    monkeypatch.setattr(pc, "tilted", lambda m_, v_, a_, beta_: ((m_ + beta_ * v_ * a_) / (1 + beta_ * v_), v_))
    for name in ("curation.tilt", "curation.replace_closed_form", "curation.reward_increases"):
        assert not status(name).passed, name
    real_map = pc.mixed_map

    def no_between_term(m_, v_, md_, vd_, a_, beta_, lam_):  # planted: the mixture's between-means term dropped
        mt, vt = (m_ + beta_ * v_ * a_) / (1 + beta_ * v_), v_ / (1 + beta_ * v_)
        w = lam_ / (1 + lam_)
        return (1 - w) * md_ + w * mt, (1 - w) * vd_ + w * vt

    monkeypatch.setattr(pc, "mixed_map", no_between_term)
    assert not status("curation.mixed_fixed_point").passed
    assert not status("curation.toolkit_fixed_point").passed
    monkeypatch.setattr(pc, "mixed_map", real_map)


def test_curation_toolkit_checks_fail_on_a_wrong_toolkit(monkeypatch):
    """Planted errors in stability.dynamics.curation: each is caught by the check that evaluates it."""
    import math

    from proofs_check import curation as pc

    tk = pc.toolkit
    real_tilt, real_replace, real_moments, real_quartic = (
        tk.tilt, tk.curated_replace, tk.curated_point_moments, tk.quartic_coefficients,
    )  # fmt: skip

    monkeypatch.setattr(tk, "tilt", lambda mean, cov, reward: (real_tilt(mean, cov, reward)[0], cov))
    assert not status("curation.toolkit_tilt").passed
    monkeypatch.setattr(tk, "tilt", real_tilt)

    def off_by_one(mean0, cov0, reward, generations):  # planted: t + 1 rounds of tilt at generation t
        m, S = real_replace(mean0, cov0, reward, generations + 1)
        return m[1:], S[1:]

    monkeypatch.setattr(tk, "curated_replace", off_by_one)
    assert not status("curation.replace_closed_form").passed
    monkeypatch.setattr(tk, "curated_replace", real_replace)

    def tilt_for_any_k(mean, var, reward, K):  # planted: the K = inf law used for every K
        return real_moments(mean, var, reward, math.inf)

    monkeypatch.setattr(tk, "curated_point_moments", tilt_for_any_k)
    assert not status("curation.kept_law_limit").passed
    monkeypatch.setattr(tk, "curated_point_moments", real_moments)

    monkeypatch.setattr(tk, "quartic_coefficients", lambda c, lam, kappa: real_quartic(c, lam, 1.01 * kappa))
    assert not status("curation.mixed_fixed_point").passed
    monkeypatch.setattr(tk, "quartic_coefficients", real_quartic)

    def linear_wrong(md, Sd, b, lam):  # planted: the larger root of the linear reward's quadratic
        c = float(b @ Sd @ b)
        A = lam * (1 + lam)
        q = (1 + math.sqrt(1 - 4 * A * c)) / (2 * A)
        u = Sd @ b / (1 - A * q) if abs(1 - A * q) > 1e-12 else Sd @ b
        return md + lam * u, Sd + A * np.outer(u, u)

    monkeypatch.setattr(tk, "_linear_fixed_point", linear_wrong)
    assert not status("curation.linear_fixed_point").passed


# ---------------------------------------------------------------- §13: any training loss


def test_losses_self_consistency_fails_on_a_biased_sampler(monkeypatch):
    from proofs_check import losses

    real = losses.gaussian_losses()

    def biased():  # planted: the score-matching sampler's scale is off by 10 %
        loss, _ = real["hyvarinen"]
        return {"hyvarinen": (loss, losses.mu1 + sp.Rational(11, 10) * sp.sqrt(losses.tau1) * losses.z)}

    monkeypatch.setattr(losses, "gaussian_losses", biased)
    out = status("losses.self_consistent")
    assert not out.passed and "hyvarinen: H + M at θ' = θ" in out.detail


def test_losses_likelihood_identities_fail_on_a_scaled_loss(monkeypatch):
    from proofs_check import losses

    real = losses.gaussian_losses()

    def doubled():  # planted: twice the negative log-likelihood (self-consistent, but H = 2B_true, B = 4B_true)
        loss, sampler = real["likelihood"]
        return {"likelihood": (2 * loss, sampler)}

    monkeypatch.setattr(losses, "gaussian_losses", doubled)
    out = status("losses.self_consistent")
    failed = [part for part in out.detail.split("; ") if part.startswith("FAILED")]
    assert not out.passed and any("likelihood: H - B" in part for part in failed)


@pytest.mark.slow
def test_losses_jacobian_fails_on_the_likelihood_formula(monkeypatch):
    from proofs_check import losses

    # planted: J = λ(A+λH)⁻¹H, right only for self-consistent losses (M = -H)
    monkeypatch.setattr(losses, "jacobian_formula", lambda A, H, M, lam_: lam_ * (A + lam_ * H).inv() * H)
    out = status("losses.jacobian_ift")
    assert not out.passed and out.detail.startswith("FAILED: ∂G_λ/∂θ'")


def test_losses_sandwich_fails_on_a_missing_cross_term(monkeypatch):
    from scipy import linalg

    from proofs_check import losses

    def no_cross(A, H, S, lam_, k_):  # planted: denominators k(1+λγ_i)(1+λγ_j), without - kλ²γ_iγ_j
        gamma, V = linalg.eigh(H, A)
        gi, gj = gamma[:, None], gamma[None, :]
        return V @ (lam_**2 * (V.T @ S @ V) / (k_ * (1 + lam_ * gi) * (1 + lam_ * gj))) @ V.T

    monkeypatch.setattr(losses, "sandwich_covariance", no_cross)
    assert not status("losses.sandwich_eigenbasis").passed

    monkeypatch.undo()
    # planted: §9's law (S taken as H) for a loss whose gradient covariance is not H
    real = losses.sandwich_covariance
    monkeypatch.setattr(losses, "sandwich_covariance", lambda A, H, S, lam_, k_: real(A, H, H, lam_, k_))
    assert not status("losses.sandwich_eigenbasis").passed


def test_losses_excess_loss_fails_on_wrong_forms(monkeypatch):
    from proofs_check import losses

    real_mf, real_eig = losses.excess_loss_matrix_free, losses.excess_loss_eigenbasis
    # planted: (A + λH) for (A + 2λH) in the matrix-free form
    monkeypatch.setattr(losses, "excess_loss_matrix_free", lambda A, H, S, lam_, k_: real_mf(A, H / 2, S, lam_, k_))
    out = status("losses.sandwich_excess_loss")
    assert not out.passed and out.detail.startswith("FAILED: (λ²/2k) tr")
    monkeypatch.undo()
    # planted: the eigenbasis sum with S̃ replaced by Γ (§9's likelihood term)
    monkeypatch.setattr(losses, "excess_loss_eigenbasis", lambda A, H, S, lam_, k_: real_eig(A, H, H, lam_, k_))
    out = status("losses.sandwich_excess_loss")
    assert not out.passed and out.detail.startswith("FAILED: Σ λ²S̃_ii")


def test_losses_linear_ddpm_fails_on_a_wrong_moment_map(monkeypatch):
    from proofs_check import losses

    tk = losses.toolkit_ddpm
    real = tk._map_and_jacobian

    def no_between_means(m, v, w, m_hat, v_hat, b, ab):  # planted: the mixture variance without λ(m̂-m_s)²/(1+λ)²
        out, jac, (mu, s) = real(m, v, w, m_hat, v_hat, b, ab)
        out = out - np.array([0.0, w * (1 - w) * (m_hat - mu) ** 2])
        jac = jac.copy()
        jac[1] += 2.0 * w * (1.0 - w) * (m_hat - mu) * jac[0] / w
        return out, jac, (mu, s)

    monkeypatch.setattr(tk, "_map_and_jacobian", no_between_means)
    out = status("losses.linear_ddpm_moment_map")
    assert not out.passed and "|∇R_n + λ∇_θ g| at θ*_λ" in out.detail.split(";")[0]
    monkeypatch.undo()

    real_fp = tk.linear_ddpm_fixed_point

    def wrong_eigs(*a, **kw):  # planted: the moment map's eigenvalues 1 % too large
        import dataclasses

        fp = real_fp(*a, **kw)
        return dataclasses.replace(fp, eigenvalues=1.01 * fp.eigenvalues)

    monkeypatch.setattr(tk, "linear_ddpm_fixed_point", wrong_eigs)
    out = status("losses.linear_ddpm_moment_map")
    assert not out.passed and "eig J (top 2)" in out.detail.split(";")[0]
