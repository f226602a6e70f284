r"""docs/theory.md §13: retraining with any training loss (M-estimators, reparameterised samplers).

Steps checked: a self-consistent loss has :math:`H + M = 0` (the Gaussian fitted by maximum
likelihood and by Hyvärinen score matching with its exact sampler, symbolically; the likelihood's
:math:`H = B`, :math:`M = -B`, :math:`S = B`, while score matching has :math:`S \ne H`); the
Jacobian :math:`J = -\lambda(A+\lambda H)^{-1}M` from differentiating the first-order condition
(against the explicit operator of a biased sampler); the sandwich eigenbasis solution of
:math:`C = JCJ^\top + Q` (against the dense Kronecker solve at 50 digits); the excess loss
:math:`\tfrac12\operatorname{tr}(AC)` in the eigenbasis and in the matrix-free form; and the
linear DDPM's closed-form moment map (:mod:`stability.numerical.linear_ddpm`) against the general
:math:`J` built with autograd in the 2T-dimensional parameter space.
"""

from __future__ import annotations

import importlib

import mpmath as mp
import numpy as np
import sympy as sp
from scipy import linalg

from ._random import random_pair
from ._util import DPS, expect_true, expect_zero, lyapunov_mp, worst_case
from .registry import Outcome, check, combine

__all__ = [
    "check_jacobian_ift",
    "check_linear_ddpm_moment_map",
    "check_sandwich_eigenbasis",
    "check_sandwich_excess_loss",
    "check_self_consistent",
    "excess_loss_eigenbasis",
    "excess_loss_matrix_free",
    "gaussian_losses",
    "jacobian_formula",
    "sandwich_covariance",
]

RESULT = "losses"

# the toolkit module, looked up at call time so that a test can plant an error in it
toolkit_ddpm = importlib.import_module("stability.numerical.linear_ddpm")

x, z = sp.symbols("x z", real=True)
mu, mu1 = sp.symbols("mu mu1", real=True)  # θ = (μ, τ), θ' = (μ', τ'); τ is the variance
tau, tau1 = sp.symbols("tau tau1", positive=True)
lam, k = sp.symbols("lambda k", positive=True)
THETA, THETA1 = (mu, tau), (mu1, tau1)
AT_SELF = {mu1: mu, tau1: tau}

# sandwich C from double-precision factors (eigh, products) of matrices with condition number
# <= 1e2 (random_pair) and a random S: relative error ~ cond * d * 1e-16 <= 1e-13; 1e-10 leaves room
TOL_C = 1e-10
# the linear DDPM: autograd Hessians in double precision (entries O(1..1e2)) and a 20x20 solve with
# condition number ~1e4: the eigenvalues of J carry ~1e-12; the moment map's are Newton-exact
TOL_DDPM = 1e-9


def _normal_expectation(expr: sp.Expr, w: sp.Symbol) -> sp.Expr:
    r""":math:`E\,expr` for :math:`w \sim N(0, 1)` and ``expr`` polynomial in w: each :math:`w^j` is
    replaced by its moment (0 for odd j, :math:`(j-1)!!` for even j)."""
    poly = sp.Poly(sp.expand(expr), w)
    return sp.Add(*[c * (sp.factorial2(j - 1) if j % 2 == 0 else 0) for (j,), c in poly.terms()])


def gaussian_losses() -> dict[str, tuple[sp.Expr, sp.Expr]]:
    r"""Per-point losses of :math:`N(\mu, \tau)` and the sampler :math:`y = \mu' + \sqrt{\tau'}z`.

    ``"likelihood"``: :math:`-\log p_\theta(x)`; ``"hyvarinen"``: Hyvärinen (2005) score matching
    :math:`\tfrac12\psi^2 + \partial_x\psi` with :math:`\psi = \partial_x\log p_\theta(x)`.
    Returns name -> (loss in x, θ; sampler in z, θ').
    """
    logp = -((x - mu) ** 2) / (2 * tau) - sp.log(2 * sp.pi * tau) / 2
    psi = sp.diff(logp, x)
    sampler = mu1 + sp.sqrt(tau1) * z
    return {"likelihood": (-logp, sampler), "hyvarinen": (psi**2 / 2 + sp.diff(psi, x), sampler)}


def _g(loss: sp.Expr, sampler: sp.Expr) -> sp.Expr:
    r""":math:`g(\theta, \theta') = E_z\,\ell(\theta, T_{\theta'}(z))` (the loss is polynomial in x)."""
    return sp.simplify(_normal_expectation(loss.subs(x, sampler), z))


def _grad(f: sp.Expr, args) -> sp.Matrix:
    return sp.Matrix([sp.diff(f, a) for a in args])


def _blocks(g: sp.Expr) -> tuple[sp.Matrix, sp.Matrix]:
    r""":math:`H = \partial^2_{\theta\theta}g`, :math:`M = \partial^2_{\theta\theta'}g` (rows θ, columns θ')."""
    gr = _grad(g, THETA)
    return gr.jacobian(THETA), gr.jacobian(THETA1)


@check(
    RESULT,
    "§13: self-consistent loss ⇒ H + M = 0 (Gaussian ML and Hyvärinen score matching); ML: H = B = S = -M",
    "symbolic",
)
def check_self_consistent() -> Outcome:
    r"""§13: "self-consistent: ∇_θ g(θ', θ') = 0 for all θ'; differentiating in θ' gives H + M = 0.
    Likelihood: H = B, M = −B, S = B; score matching: S ≠ H in general".

    For :math:`N(\mu, \tau)` and its exact sampler :math:`y = \mu' + \sqrt{\tau'}z`, with
    :math:`g = E_z\ell(\theta, y)` in closed form (:math:`z^j` replaced by its moments), for the
    negative log-likelihood and for Hyvärinen score matching: the self-consistency
    :math:`\nabla_\theta g(\theta, \theta) = 0`; the chain rule
    :math:`\tfrac{d}{d\theta}[\nabla_\theta g(\theta, \theta)] = (H + M)|_{\theta'=\theta}` (the
    proof's step; it holds for any sampler and is also checked with a biased one,
    :math:`y = \mu' + \tfrac32\sqrt{\tau'}z`, where :math:`H + M \ne 0`); :math:`H + M = 0`;
    for the likelihood :math:`H` equals the Fisher information :math:`B = E[\nabla\ell\nabla\ell^\top]`
    and :math:`S = \operatorname{Cov}_z\nabla_\theta\ell(\theta, T_\theta(z)) = B`; for score matching
    :math:`S \ne H` (so the stationary noise is a sandwich), while its :math:`H^{-1}SH^{-1}` equals
    the likelihood's :math:`B^{-1}` (for a Gaussian both losses fit the sample moments).
    """
    out, sandwich = [], {}
    for name, (loss, sampler) in gaussian_losses().items():
        g = _g(loss, sampler)
        H, M = _blocks(g)
        at = AT_SELF
        self_grad = _grad(g, THETA).subs(at)
        chain = _grad(g, THETA).subs(at).jacobian(THETA) - (H + M).subs(at)
        out += [
            expect_zero(self_grad, f"{name}: ∇_θ g(θ, θ)"),
            expect_zero(chain, f"{name}: d/dθ ∇_θ g(θ, θ) - (H+M)"),
            expect_zero((H + M).subs(at), f"{name}: H + M at θ' = θ"),
        ]
        score = _grad(loss, THETA).subs(x, sampler).subs(at)  # per-point gradient at a model sample
        mean = score.applyfunc(lambda e: _normal_expectation(e, z))
        second = (score * score.T).applyfunc(lambda e: _normal_expectation(e, z))
        S = sp.simplify(second - mean * mean.T)
        Hinv = H.subs(at).inv()
        sandwich[name] = sp.simplify(Hinv * S * Hinv)
        if name == "likelihood":
            B = second  # Fisher information: the score has mean 0
            out += [
                expect_zero(mean, "likelihood: E score = 0"),
                expect_zero(H.subs(at) - B, "likelihood: H - B"),
                expect_zero(M.subs(at) + B, "likelihood: M + B"),
                expect_zero(S - B, "likelihood: S - B"),
            ]
        else:
            out.append(expect_true(sp.simplify(S - H.subs(at)) != sp.zeros(2, 2), f"{name}: S ≠ H (S = {S.tolist()})"))
        # the chain rule does not need self-consistency: a biased sampler, where H + M ≠ 0
        gb = _g(loss, mu1 + sp.Rational(3, 2) * sp.sqrt(tau1) * z)
        Hb, Mb = _blocks(gb)
        chain_b = _grad(gb, THETA).subs(at).jacobian(THETA) - (Hb + Mb).subs(at)
        out += [
            expect_zero(chain_b, f"{name}, biased sampler: d/dθ ∇_θ g(θ, θ) - (H+M)"),
            expect_true(sp.simplify((Hb + Mb).subs(at)) != sp.zeros(2, 2), f"{name}, biased sampler: H + M ≠ 0"),
        ]
    if set(sandwich) == {"likelihood", "hyvarinen"}:
        # both fit a Gaussian by its moments, so their noise H⁻¹SH⁻¹ (= B⁻¹ for the likelihood) agrees
        out.append(expect_zero(sandwich["hyvarinen"] - sandwich["likelihood"], "score matching H⁻¹SH⁻¹ - B⁻¹"))
    return combine(*out)


def jacobian_formula(A: sp.Matrix, H: sp.Matrix, M: sp.Matrix, lam_) -> sp.Matrix:
    r"""The claimed Jacobian of the operator: :math:`J = -\lambda(A+\lambda H)^{-1}M` (docs/theory.md §13)."""
    return -lam_ * (A + lam_ * H).inv() * M


@check(RESULT, "§13: differentiating ∇R_n(θ) + λ∇_θ g(θ, θ') = 0 gives J = -λ(A+λH)⁻¹M", "symbolic")
def check_jacobian_ift() -> Outcome:
    r"""§13: "G_λ(θ') = argmin R_n(θ) + λ g(θ, θ'); differentiating its first-order condition in θ'
    gives (A + λH) dθ + λ M dθ' = 0, so J = −λ(A + λH)^{-1}M".

    An operator that is not self-consistent and has an explicit minimiser: Hyvärinen score matching
    for :math:`N(\mu, \tau)` with the biased sampler :math:`y = \mu' + \delta + c\sqrt{\tau'}z` and
    real data of mean :math:`\hat m` and variance :math:`\hat v`
    (:math:`R_n = E\,\ell(\theta, \hat m + \sqrt{\hat v}w)`). The explicit
    :math:`G_\lambda(\theta') = (\mu_G, \tau_G)`, :math:`\mu_G = (\hat m + \lambda(\mu'+\delta))/(1+\lambda)`,
    :math:`\tau_G = K/(1+\lambda)` with K the pooled second moment about :math:`\mu_G`, is shown to
    solve the first-order condition with a positive definite Hessian; its Jacobian
    :math:`\partial G/\partial\theta'` (sympy) equals :math:`-\lambda(A+\lambda H)^{-1}M` evaluated
    at :math:`(G_\lambda(\theta'), \theta')`, for every :math:`\theta'` (so at :math:`\theta^*_\lambda` too);
    and with :math:`c = 1, \delta = 0` the formula reduces to §3's :math:`\lambda(A+\lambda H)^{-1}H`.
    """
    m_hat, v_hat, c, t_G = sp.symbols("m_hat v_hat c t_G", positive=True)
    delta, w = sp.symbols("delta w", real=True)
    loss = gaussian_losses()["hyvarinen"][0]
    R = sp.simplify(_normal_expectation(loss.subs(x, m_hat + sp.sqrt(v_hat) * w), w))
    g = _g(loss, mu1 + delta + c * sp.sqrt(tau1) * z)
    F = R + lam * g
    mu_G = (m_hat + lam * (mu1 + delta)) / (1 + lam)
    K = (m_hat - mu_G) ** 2 + v_hat + lam * ((mu1 + delta - mu_G) ** 2 + c**2 * tau1)
    tau_G = K / (1 + lam)

    # evaluate at θ = G_λ(θ') in the coordinates (μ', t_G) of θ', t_G = τ_G(θ') > 0: τ' is a
    # polynomial in them, so every expression stays a small rational function (fast for sympy)
    tau1_of_t = sp.solve(sp.Eq(tau_G, t_G), tau1)[0]

    def at_G(expr: sp.Matrix) -> sp.Matrix:
        return expr.subs({mu: mu_G, tau: t_G}).subs(tau1, tau1_of_t).applyfunc(sp.cancel)

    foc = at_G(_grad(F, THETA))
    hess = at_G(_grad(F, THETA).jacobian(THETA)).applyfunc(sp.factor)
    A = _grad(R, THETA).jacobian(THETA)
    H, M = _blocks(g)
    J = at_G(jacobian_formula(*(X.applyfunc(sp.factor) for X in (A, H, M)), lam))
    J_direct = sp.Matrix([mu_G, tau_G]).jacobian(THETA1).subs(tau1, tau1_of_t)
    consistent = {c: 1, delta: 0, mu1: mu, tau1: tau}  # exact sampler, on the diagonal θ' = θ
    J_self = jacobian_formula(A, H, M, lam).subs(consistent)
    J_like = (lam * (A + lam * H).inv() * H).subs(consistent)
    dom = {delta: (-2, 2), mu1: (-2, 2)}
    return combine(
        expect_zero(foc, "∇(R_n + λg) at G_λ(θ')", dom),
        expect_true(
            bool(sp.simplify(hess[0, 0]).is_positive) and bool(sp.simplify(hess.det()).is_positive),
            "Hessian of R_n + λg at G_λ(θ') positive definite",
        ),
        expect_zero((J - J_direct).applyfunc(sp.cancel), "∂G_λ/∂θ' - (-λ(A+λH)⁻¹M)", dom),
        expect_zero((J_self - J_like).applyfunc(sp.cancel), "c = 1, δ = 0: -λ(A+λH)⁻¹M - λ(A+λH)⁻¹H", dom),
    )


def sandwich_covariance(A: np.ndarray, H: np.ndarray, S: np.ndarray, lam_: float, k_: float) -> np.ndarray:
    r"""The claimed self-consistent stationary covariance (docs/theory.md §13):
    :math:`C = V[\lambda^2\tilde S_{ij}/(k(1+\lambda\gamma_i)(1+\lambda\gamma_j) - k\lambda^2\gamma_i\gamma_j)]V^\top`
    with :math:`HV = AV\Gamma`, :math:`V^\top AV = I`, :math:`\tilde S = V^\top SV`."""
    gamma, V = linalg.eigh(H, A)
    St = V.T @ S @ V
    gi, gj = gamma[:, None], gamma[None, :]
    Ct = lam_**2 * St / (k_ * (1 + lam_ * gi) * (1 + lam_ * gj) - k_ * lam_**2 * gi * gj)
    return V @ Ct @ V.T


def excess_loss_eigenbasis(A: np.ndarray, H: np.ndarray, S: np.ndarray, lam_: float, k_: float) -> float:
    r"""The claimed :math:`\tfrac12\operatorname{tr}(AC) = \sum_i\lambda^2\tilde S_{ii}/(2k(1+2\lambda\gamma_i))`."""
    gamma, V = linalg.eigh(H, A)
    St = V.T @ S @ V
    return float(np.sum(lam_**2 * np.diag(St) / (2 * k_ * (1 + 2 * lam_ * gamma))))


def excess_loss_matrix_free(A: np.ndarray, H: np.ndarray, S: np.ndarray, lam_: float, k_: float) -> float:
    r"""The claimed matrix-free form
    :math:`\tfrac12\operatorname{tr}(AC) = (\lambda^2/2k)\operatorname{tr}((A+2\lambda H)^{-1}S)`."""
    return float(lam_**2 / (2 * k_) * np.trace(np.linalg.solve(A + 2 * lam_ * H, S)))


def _instances(seed: int, count: int = 30):
    """Seeded (A, H, S, λ, k): ``random_pair`` (dimension 1–5), S = RRᵀ (rank-deficient one time in five)."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        d = int(rng.integers(1, 6))
        A, H = random_pair(rng, d)
        R = rng.normal(size=(d, d))
        if rng.uniform() < 0.2 and d > 1:
            R[:, -1] = 0.0
        S = R @ R.T
        yield A, H, (S + S.T) / 2, float(10 ** rng.uniform(-1, 1)), int(rng.integers(1, 501))


def _reference(A, H, S, lam_, k_) -> np.ndarray:
    """C from J = λ(A+λH)⁻¹H (M = -H), Q = (λ²/k)(A+λH)⁻¹S(A+λH)⁻¹, built and solved at :data:`DPS` digits."""
    with mp.workdps(DPS):
        Am, Hm, Sm = (mp.matrix(np.asarray(X, float).tolist()) for X in (A, H, S))
        lm = mp.mpf(lam_)
        P = mp.inverse(Am + lm * Hm)
        return lyapunov_mp(lm * P * Hm, (lm**2 / k_) * P * Sm * P)


@check(
    RESULT, "§13: sandwich eigenbasis C = V[λ²S̃_ij/(k(1+λγ_i)(1+λγ_j) - kλ²γ_iγ_j)]Vᵀ solves C = JCJᵀ + Q", "randomized"
)
def check_sandwich_eigenbasis() -> Outcome:
    r"""§13: "self-consistent case, basis VᵀAV = I, VᵀHV = Γ, S̃ = VᵀSV:
    C = V[λ²S̃_ij/(k(1+λγ_i)(1+λγ_j) − kλ²γ_iγ_j)]Vᵀ solves C = JCJᵀ + Q with
    Q = (λ²/k)(A+λH)^{-1}S(A+λH)^{-1}".

    At 30 seeded instances (``random_pair`` A, H of dimension 1–5, a random S, λ in [0.1, 10], k in
    1..500) the formula is compared with the dense Kronecker solve
    :math:`\mathrm{vec}\,C = (I - J\otimes J)^{-1}\mathrm{vec}\,Q` of :func:`._util.lyapunov_mp`, J and Q
    built from their definitions in mpmath at 50 digits. Worst max-entry error relative to :math:`\max|C|`.
    """
    errs, where = [], []
    for i, (A, H, S, lam_, k_) in enumerate(_instances(2113)):
        ref = _reference(A, H, S, lam_, k_)
        C = sandwich_covariance(A, H, S, lam_, k_)
        errs.append(np.max(np.abs(C - ref)) / np.max(np.abs(ref)))
        where.append(f"#{i} (d={A.shape[0]}, λ={lam_:.3g}, k={k_})")
    return worst_case(errs, TOL_C, "sandwich C vs Kronecker solve at 50 digits", where)


@check(RESULT, "§13: ½tr(AC) = Σ λ²S̃_ii/(2k(1+2λγ_i)) = (λ²/2k) tr((A+2λH)⁻¹S); S = H gives §9", "randomized")
def check_sandwich_excess_loss() -> Outcome:
    r"""§13: "½ tr(AC) = Σ_i λ²S̃_ii/(2k(1+2λγ_i)), matrix-free (λ²/2k) tr((A+2λH)^{-1}S); §9 is S = H".

    The eigenbasis sum and the matrix-free trace against :math:`\tfrac12\operatorname{tr}(AC)` with
    C the 50-digit Kronecker solve, at the 30 seeded instances of ``sandwich_eigenbasis``; and,
    symbolically, on one eigen-direction (:math:`A = a`, :math:`H = h`, :math:`S = s`, 1×1):
    :math:`(\lambda^2/2k)\,s/(a+2\lambda h)` equals the eigenbasis term with :math:`\gamma = h/a`,
    :math:`\tilde S = s/a`, and :math:`s = h` gives §9's :math:`\lambda^2\gamma/(2k(1+2\lambda\gamma))`.
    """
    e_eig, e_mf, where = [], [], []
    for i, (A, H, S, lam_, k_) in enumerate(_instances(2113)):
        ref = 0.5 * float(np.trace(A @ _reference(A, H, S, lam_, k_)))
        e_eig.append(abs(excess_loss_eigenbasis(A, H, S, lam_, k_) - ref) / ref)
        e_mf.append(abs(excess_loss_matrix_free(A, H, S, lam_, k_) - ref) / ref)
        where.append(f"#{i} (d={A.shape[0]}, λ={lam_:.3g}, k={k_})")
    a, h, s = sp.symbols("a h s", positive=True)
    gam = h / a
    term = lam**2 * (s / a) / (2 * k * (1 + 2 * lam * gam))
    return combine(
        worst_case(e_eig, TOL_C, "Σ λ²S̃_ii/(2k(1+2λγ_i)) vs ½tr(AC) at 50 digits", where),
        worst_case(e_mf, TOL_C, "(λ²/2k) tr((A+2λH)⁻¹S) vs ½tr(AC) at 50 digits", where),
        expect_zero(lam**2 / (2 * k) * s / (a + 2 * lam * h) - term, "1×1: matrix-free - eigenbasis"),
        expect_zero(term.subs(s, h) - lam**2 * gam / (2 * k * (1 + 2 * lam * gam)), "S = H: - §9's term"),
    )


def _ddpm_general(lambda_: float, m_hat: float, v_hat: float, betas: np.ndarray):
    r"""At the closed form's :math:`\theta^*_\lambda`: the first-order residual and A, H, M by autograd.

    :math:`R_n` averages the loss over the two points :math:`\hat m \pm \sqrt{\hat v}` (mean
    :math:`\hat m`, variance :math:`\hat v`); :math:`g(\theta, \theta')` averages
    :math:`\ell(\theta, T_{\theta'}(z))` over the 2(T+1) points :math:`z = \pm\sqrt{T+1}\,e_j` (mean 0,
    covariance I). Both are exact: the loss is quadratic in x and the sampler affine in z.
    """
    import torch

    fp = toolkit_ddpm.linear_ddpm_fixed_point(lambda_, m_hat, v_hat, betas)
    T = betas.size
    xs = torch.tensor([m_hat - np.sqrt(v_hat), m_hat + np.sqrt(v_hat)], dtype=torch.float64)
    eye = np.sqrt(T + 1) * np.eye(T + 1)
    Z = torch.as_tensor(np.concatenate([eye, -eye]))

    def R(th):
        return toolkit_ddpm.linear_ddpm_loss(th, xs, betas).mean()

    def g(th, th1):
        return toolkit_ddpm.linear_ddpm_loss(th, toolkit_ddpm.linear_ddpm_sample(th1, Z, betas), betas).mean()

    theta = torch.as_tensor(fp.theta, dtype=torch.float64)
    resid = torch.func.grad(lambda th: R(th) + lambda_ * g(th, theta))(theta).numpy()
    scale = torch.func.grad(R)(theta).abs().max().item()
    A = torch.func.hessian(R)(theta).numpy()
    full = torch.func.hessian(lambda p: g(p[: 2 * T], p[2 * T :]))(torch.cat([theta, theta])).numpy()
    return fp, resid, scale, A, full[: 2 * T, : 2 * T], full[: 2 * T, 2 * T :]


@check(
    RESULT,
    "§13: linear DDPM: the (m, v) moment map's fixed point and eigenvalues = θ*_λ and the non-zero spectrum of J",
    "high-precision numeric",
)
def check_linear_ddpm_moment_map() -> Outcome:
    r"""§13: "the loss minimiser depends on the training law only through (m, v) and the sampler output
    is Gaussian, so retraining is a 2-D map on (m, v); its fixed point and Jacobian are the truth for
    θ*_λ and the non-zero spectrum of J = −λ(A+λH)^{-1}M (rank 2); ‖H+M‖/‖H‖ ≈ 0.95".

    T = 10, β linear from 1e-3 to 0.3, :math:`\hat m = 0.3`, :math:`\hat v = 1.7`, λ ∈ {0.5, 1, 4}:
    the toolkit's :func:`~stability.numerical.linear_ddpm.linear_ddpm_fixed_point` gives
    :math:`\theta^*_\lambda` and the 2×2 Jacobian; independently, with autograd on the toolkit's
    torch loss and sampler (exact expectations, see ``_ddpm_general``): the first-order condition
    :math:`\nabla R_n + \lambda\nabla_\theta g = 0` holds at :math:`\theta^*_\lambda` (relative to
    :math:`|\nabla R_n|`); :math:`M` has rank 2 (third singular value :math:`< 10^{-10}` of the first);
    the two largest eigenvalues of the 20×20 :math:`J = -\lambda(A+\lambda H)^{-1}M` equal the moment
    map's (sorted by modulus, tolerance 1e-9) and the others vanish; and
    :math:`\|H+M\|_F/\|H\|_F` lies in [0.9, 1] (far from self-consistent).
    """
    betas = np.linspace(1e-3, 0.3, 10)
    out = []
    for lam_ in (0.5, 1.0, 4.0):
        fp, resid, scale, A, H, M = _ddpm_general(lam_, 0.3, 1.7, betas)
        J = -lam_ * np.linalg.solve(A + lam_ * H, M)
        ev = np.linalg.eigvals(J)
        ev = ev[np.argsort(-np.abs(ev))]
        mm = np.asarray(fp.eigenvalues)[np.argsort(-np.abs(fp.eigenvalues))]
        sv = np.linalg.svd(M, compute_uv=False)
        sc = np.linalg.norm(H + M) / np.linalg.norm(H)
        out += [
            worst_case([np.abs(resid).max() / scale], 1e-12, f"λ={lam_}: |∇R_n + λ∇_θ g| at θ*_λ / |∇R_n|"),
            worst_case([sv[2] / sv[0]], 1e-10, f"λ={lam_}: σ_3(M)/σ_1(M) (rank 2)"),
            worst_case(
                np.abs(ev[:2] - mm), TOL_DDPM, f"λ={lam_}: eig J (top 2) - moment-map eigenvalues {mm.real.round(4)}"
            ),
            worst_case(np.abs(ev[2:]), TOL_DDPM, f"λ={lam_}: remaining eigenvalues of J"),
            expect_true(0.9 <= sc <= 1.0, f"λ={lam_}: ‖H+M‖/‖H‖ = {sc:.4f} in [0.9, 1]"),
        ]
    return combine(*out)
