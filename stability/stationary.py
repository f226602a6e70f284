r"""The stationary law of finite-sample retraining, to first order around :math:`\theta^*` (docs/theory.md §9).

With a fixed real sample of size :math:`n` and :math:`k` fresh model samples per round (by default
:math:`k = \lfloor\lambda n\rfloor`), refitting to the maximum of the mixed objective gives, to
first order,

.. math:: \theta_{t+1} - \theta^* \approx J(\theta_t - \theta^*) + \xi_t, \qquad
          J = \lambda(A+\lambda B)^{-1}B, \qquad
          \xi_t = (A+\lambda B)^{-1}\,\frac{\lambda}{k}\sum_{j=1}^k \nabla_\theta\log p_{\theta^*}(y_j),

with :math:`y_j \sim p_{\theta^*}` drawn afresh each round. The score has mean 0 and covariance
:math:`B` (the Fisher information) under :math:`p_{\theta^*}`, so the :math:`\xi_t` are independent,
mean 0, with covariance :math:`Q = (\lambda^2/k)(A+\lambda B)^{-1}B(A+\lambda B)^{-1}`. The
stationary covariance :math:`C` of :math:`\theta_t - \theta^*` solves the discrete Lyapunov
equation :math:`C = JCJ^\top + Q`.

**Diagonal form (no** :math:`d^2\times d^2` **system).** Let :math:`V` hold the generalised
eigenvectors of :math:`(B, A)`: :math:`BV = AV\Gamma`, :math:`V^\top AV = I`. Then
:math:`(A+\lambda B)^{-1} = V(I+\lambda\Gamma)^{-1}V^\top`, hence :math:`J = VDV^{-1}` with
:math:`D = \mathrm{diag}(\lambda\gamma_i/(1+\lambda\gamma_i))` and
:math:`Q = V\,\mathrm{diag}(q_i)\,V^\top`, :math:`q_i = \lambda^2\gamma_i/(k(1+\lambda\gamma_i)^2)`.
Writing :math:`C = V\tilde C V^\top` the equation becomes :math:`\tilde C = D\tilde CD + \mathrm{diag}(q)`,
solved by the diagonal :math:`\tilde c_i = q_i/(1-d_i^2)`:

.. math:: C = V\,\mathrm{diag}\!\left(\frac{\lambda^2\gamma_i}{k(1+2\lambda\gamma_i)}\right)V^\top .

The expected excess negative log-likelihood on the real sample is, to second order,
:math:`\tfrac12\operatorname{tr}(AC) = \tfrac12\sum_i \lambda^2\gamma_i/(k(1+2\lambda\gamma_i))`
(because :math:`V^\top AV = I`); with :math:`k = \lambda n` it is below :math:`d/(4n)` for every
:math:`\lambda`. For exponential families :math:`A = B` (all :math:`\gamma_i = 1`) and
:math:`C = \lambda/(n(1+2\lambda))\,A^{-1}`.

**Weighted mixing** (``synthetic_weight`` :math:`w`, docs/theory.md §10): with the objective
:math:`(1-w)\cdot` mean over the real points :math:`+\,w\cdot` mean over the synthetic ones, divide the
first-order condition by :math:`1-w`: everything above holds with :math:`\rho = w/(1-w)` in place of
:math:`\lambda`, :math:`C = V\,\mathrm{diag}(\rho^2\gamma_i/(k(1+2\rho\gamma_i)))\,V^\top`. The default
(``None``) is :math:`\rho = \lambda`, i.e. :math:`w = \lambda/(1+\lambda)`, the weights of
:func:`~stability.numerical.chains.retrain_chains`'s default objective; it is the natural share
:math:`k/(n+k)` of pooled maximum likelihood (:func:`~stability.dynamics.simulate`'s default) when
:math:`k = \lambda n` exactly. ``synthetic_weight = 1`` (no real data) is refused as ``lambda_ = inf`` is.

Where :math:`V` is ill-conditioned (its condition number above :data:`BASIS_COND_MAX`), :math:`C`
is obtained instead from :func:`scipy.linalg.solve_discrete_lyapunov` on :math:`J` and :math:`Q`; the
excess loss is :math:`\tfrac12\sum_i\tilde c_i` in both cases (the eigenvalues are accurate where
:math:`\tfrac12\operatorname{tr}(AC)` from an ill-conditioned :math:`C` is not).

Source: derived in this project (docs/theory.md §9) from the implicit-function linearisation of the
retraining map of Bertrand et al. (ICLR 2024, §3); checked symbolically by ``proofs_check``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg

from ._domains import check, check_scalar
from ._domains import count as _count
from .jacobian import _square, check_psd, check_spd, loss_jacobian

__all__ = ["BASIS_COND_MAX", "StationaryLaw", "loss_stationary", "stationary"]

# Above this condition number of the generalised eigenvector basis V, rounding in V diag(c) V^T
# can exceed the 1e-10 relative accuracy promised for C; the Lyapunov solver is used instead.
BASIS_COND_MAX = 1e6


@dataclass(frozen=True)
class StationaryLaw:
    r"""First-order stationary law of :math:`\theta_t - \theta^*` under finite-sample retraining.

    ``cov`` is :math:`C` (d×d), ``excess_loss`` is :math:`\tfrac12\operatorname{tr}(AC)` (expected
    excess negative log-likelihood per real point at stationarity), ``rate`` the exact local rate
    :math:`\rho\gamma_{max}/(1+\rho\gamma_{max})` (:math:`\rho = \lambda`, or :math:`w/(1-w)` with a
    ``synthetic_weight`` :math:`w`) and ``relaxation_time``
    :math:`-1/\log(\text{rate})` (generations for the error autocorrelation to fall by :math:`e`;
    0 when rate = 0). ``method`` is ``"eigenbasis"`` or ``"lyapunov"``.
    """

    lambda_: float
    n: int
    k: int
    cov: np.ndarray
    excess_loss: float
    rate: float
    relaxation_time: float
    gammas: np.ndarray
    method: str
    synthetic_weight: float | None = None
    correction: float = 0.0

    def summary(self) -> str:
        rows = [
            ("lambda", f"{self.lambda_:.6g}"),
            *([("synthetic weight w", f"{self.synthetic_weight:.6g}")] if self.synthetic_weight is not None else []),
            *([("correction gamma", f"{self.correction:.6g}")] if self.correction else []),
            ("n (real points)", str(self.n)),
            ("k (synthetic points per round)", str(self.k)),
            ("stationary excess NLL 1/2 tr(A C)", f"{self.excess_loss:.6g}"),
            ("tr C", f"{float(np.trace(self.cov)):.6g}"),
            ("rate (exact local)", f"{self.rate:.6g}"),
            ("relaxation time (generations)", f"{self.relaxation_time:.6g}"),
        ]
        width = max(len(a) for a, _ in rows)
        return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)


def stationary(
    A: ArrayLike,
    B: ArrayLike,
    lambda_: float,
    n: int,
    *,
    k: int | None = None,
    synthetic_weight: float | None = None,
    correction: float = 0.0,
    S: ArrayLike | None = None,
    M: ArrayLike | None = None,
) -> StationaryLaw:
    r"""Stationary law of finite-sample retraining around :math:`\theta^*` (docs/theory.md §9).

    :math:`C = V\,\mathrm{diag}(\lambda^2\gamma_i/(k(1+2\lambda\gamma_i)))\,V^\top` solves
    :math:`C = JCJ^\top + Q` with :math:`J = \lambda(A+\lambda B)^{-1}B` and
    :math:`Q = (\lambda^2/k)(A+\lambda B)^{-1}B(A+\lambda B)^{-1}`; see the module docstring for the
    derivation.

    Parameters
    ----------
    A : (d, d) array, symmetric positive definite
        Curvature of the real-data negative log-likelihood at :math:`\theta^*` (empirical sample).
    B : (d, d) array, symmetric positive semi-definite
        Fisher information of :math:`p_{\theta^*}`.
    lambda_ : float, ``>= 0`` and finite
        Synthetic-to-real ratio. ``0`` gives :math:`C = 0`; ``inf`` is an error (no real data:
        the process has no stationary law, it collapses).
    n : int, ``>= 1``
        Size of the fixed real sample.
    k : int, ``>= 1``, optional
        Synthetic points per round; default :math:`\lfloor\lambda n\rfloor` (as ``simulate``).
    synthetic_weight : float in [0, 1), optional
        Weight :math:`w` of the synthetic term (docs/theory.md §10): :math:`\lambda` is replaced by
        :math:`\rho = w/(1-w)` in :math:`J, Q, C`. Default: :math:`\rho = \lambda`
        (:math:`w = \lambda/(1+\lambda)`). 1 is an error (no real data).
    correction : float, ``>= 0`` and finite
        Self-correction strength :math:`\gamma` with the idealised target :math:`p_{\theta^*}`
        (docs/theory.md §14): :math:`J = \frac{\rho}{1+\gamma}(A+\rho B)^{-1}B`, :math:`Q` unchanged,
        :math:`C = V\,\mathrm{diag}(\rho^2\gamma_i/(k[(1+\rho\gamma_i)^2 - \rho^2\gamma_i^2/(1+\gamma)^2]))V^\top`.
        With :math:`\gamma > 0`, ``lambda_ = inf`` (purely synthetic, ``k`` default ``n``) has the
        stationary law :math:`C = \frac{(1+\gamma)^2}{k\gamma(2+\gamma)}B^{-1}` (B positive definite).
    S : (d, d) array, symmetric positive semi-definite, optional
        Any training loss (docs/theory.md §13; ``B`` then plays :math:`H = \partial^2_{\theta\theta}g`):
        the covariance of the per-point loss gradient under the model, so that
        :math:`Q = (\lambda^2/k)(A+\lambda H)^{-1}S(A+\lambda H)^{-1}` (a sandwich). Default ``B``
        (the likelihood: the score's covariance is the Fisher information).
    M : (d, d) array, optional
        The cross derivative through the sampler, :math:`J = -\lambda(A+\lambda H)^{-1}M`. Default
        :math:`-B` (a self-consistent loss, e.g. the likelihood). With ``S`` or ``M`` given the law is
        :func:`loss_stationary`'s: the eigenbasis formula when :math:`H + M = 0`, else the Lyapunov solve.

    Examples
    --------
    Exponential family (A = B): :math:`C = \lambda/(n(1+2\lambda))A^{-1}`.

    >>> law = stationary(np.eye(2), np.eye(2), 1.0, 100)
    >>> law.cov
    array([[0.00333333, 0.        ],
           [0.        , 0.00333333]])
    >>> round(law.excess_loss, 8), law.rate
    (0.00333333, 0.5)

    A weight :math:`w = 1/3` is :math:`\rho = 1/2`: :math:`C = \rho^2/(k(1+2\rho)) = 1/(8k)`.

    >>> float(stationary(np.eye(1), np.eye(1), 1.0, 100, synthetic_weight=1 / 3).cov[0, 0])  # 1/800
    0.00125

    Errors name the parameter and its valid range:

    >>> stationary(np.eye(2), np.eye(2), float("inf"), 100)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: lambda_ must be finite for a stationary law, got inf: purely synthetic ... (it collapses)
    >>> stationary(-np.eye(2), np.eye(2), 1.0, 100)
    Traceback (most recent call last):
    ...
    ValueError: A must be positive definite, got smallest eigenvalue -1
    >>> stationary(np.eye(2), np.eye(2), 1.0, 0)
    Traceback (most recent call last):
    ...
    stability.errors.InputError: n must be an integer >= 1, got 0
    """
    g = _check_correction(correction)
    if S is not None or M is not None:  # any training loss (docs/theory.md §13)
        if g > 0.0:
            raise ValueError(f"correction must be 0 with S or M (a general loss, docs/theory.md §13), got {g:g}")
        return loss_stationary(A, B, lambda_, n, k=k, synthetic_weight=synthetic_weight, S=S, M=M)
    if g > 0.0 and _purely_synthetic(lambda_, synthetic_weight):
        return _replace_law(A, B, n, k, g, synthetic_weight)
    lam, n_int, k_int = _ratio_and_counts(lambda_, n, k)
    rho = _weight_ratio(lam, k_int, synthetic_weight)
    A = check_spd("A", A)
    B = check_psd("B", B)
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape, got {A.shape} and {B.shape}")
    d = A.shape[0]
    gammas, V = linalg.eigh(B, A)
    gammas = np.clip(gammas, 0.0, None)
    shrink = 1.0 / (1.0 + g)  # the corrector scales the cross-derivative, hence J (docs/theory.md §14)
    rate = float(shrink * rho * gammas[-1] / (1.0 + rho * gammas[-1]))
    relax = 0.0 if rate == 0.0 else float(-1.0 / math.log(rate))
    w = None if synthetic_weight is None else float(synthetic_weight)
    if rho == 0.0:
        return StationaryLaw(lam, n_int, k_int, np.zeros((d, d)), 0.0, rate, relax, gammas, "eigenbasis", w, g)
    # (1+x)^2 - x^2/(1+g)^2 = 1 + 2x + x^2 g(2+g)/(1+g)^2, x = rho gamma_i: exactly §9's 1 + 2x at g = 0
    extra = g * (2.0 + g) / (1.0 + g) ** 2
    c = rho**2 * gammas / (k_int * (1.0 + 2.0 * rho * gammas + extra * (rho * gammas) ** 2))
    # 1/2 tr(AC) = 1/2 sum(c) since V^T A V = I: from the eigenvalues it stays accurate when V (and so
    # C) is ill-conditioned, where 1/2 tr(A C) would lose digits in proportion to cond(A)
    excess = 0.5 * float(c.sum())
    if np.linalg.cond(V) <= BASIS_COND_MAX:
        C = (V * c) @ V.T
        method = "eigenbasis"
    else:
        M = linalg.cho_factor(A + rho * B, lower=True)
        J = linalg.cho_solve(M, shrink * rho * B)
        S = linalg.cho_solve(M, B)
        Q = (rho**2 / k_int) * linalg.cho_solve(M, S.T)
        C = linalg.solve_discrete_lyapunov(J, Q)
        method = "lyapunov"
    C = (C + C.T) / 2
    return StationaryLaw(lam, n_int, k_int, C, excess, rate, relax, gammas, method, w, g)


def _check_correction(correction) -> float:
    from ._corrector import check_correction

    return check_correction(correction, None, "")


def _purely_synthetic(lambda_, synthetic_weight) -> bool:
    """``lambda_ = inf`` or ``synthetic_weight = 1`` (validated later by the regular path otherwise)."""
    try:
        return math.isinf(float(lambda_)) or (synthetic_weight is not None and float(synthetic_weight) == 1.0)
    except (TypeError, ValueError):
        return False


def _replace_law(A, B, n, k, g: float, synthetic_weight) -> StationaryLaw:
    r"""Purely synthetic retraining with a corrector (docs/theory.md §14): :math:`J = I/(1+\gamma)`,
    :math:`Q = B^{-1}/k`, :math:`C = \frac{(1+\gamma)^2}{k\gamma(2+\gamma)}B^{-1}` (``k`` default ``n``)."""
    n_int = _count("n", n)
    k_int = n_int if k is None else _count("k", k)
    A = check_spd("A", A)
    B = check_spd("B", B)  # the synthetic points alone must identify every direction
    if A.shape != B.shape:
        raise ValueError(f"A and B must have the same shape, got {A.shape} and {B.shape}")
    gammas = np.clip(linalg.eigh(B, A, eigvals_only=True), 0.0, None)
    C = (1.0 + g) ** 2 / (k_int * g * (2.0 + g)) * np.linalg.inv(B)
    C = (C + C.T) / 2
    rate = 1.0 / (1.0 + g)
    w = None if synthetic_weight is None else float(synthetic_weight)
    excess = 0.5 * float(np.trace(A @ C))
    relax = float(-1.0 / math.log(rate))
    return StationaryLaw(math.inf, n_int, k_int, C, excess, rate, relax, gammas, "closed form", w, g)


def _weight_ratio(lam: float, k: int, synthetic_weight: float | None, what: str = "a stationary law") -> float:
    r""":math:`\rho`, the ratio that replaces :math:`\lambda` in the law: :math:`\lambda` by default,
    else :math:`w/(1-w)` (``synthetic_weight`` in [0, 1); > 0 only when ``k >= 1``)."""
    if synthetic_weight is None:
        return lam
    w = check_scalar("synthetic_weight", synthetic_weight)
    if w == 1.0:
        raise ValueError(
            f"synthetic_weight must be in [0, 1) for {what}, got 1: with no weight on the real data retraining "
            "is purely synthetic (as lambda_ = inf), which has no stationary law"
        )
    if k == 0 and w > 0.0:
        raise ValueError(f"synthetic_weight must be 0 when no synthetic point is drawn (k = 0), got {w:g}")
    return w / (1.0 - w)


def _ratio_and_counts(lambda_: float, n: int, k: int | None) -> tuple[float, int, int]:
    """Validated ``lambda_`` (finite), ``n`` and ``k`` (default floor(lambda_ n); >= 1 unless lambda_ = 0)."""
    lam = float(check("lambda_", lambda_))
    if math.isinf(lam):
        raise ValueError(
            "lambda_ must be finite for a stationary law, got inf: purely synthetic retraining has no real "
            "data to pull it back, so it has no stationary law (it collapses)"
        )
    n_int = _count("n", n)
    if k is None:
        from .schemes import synthetic_count

        k_int = synthetic_count(n_int, lam)
    else:
        k_int = _count("k", k)
    if lam > 0.0 and k_int < 1:
        raise ValueError(
            f"k must be >= 1 (synthetic points per round), got k = floor(lambda_ * n) = {k_int} "
            f"for lambda_ = {lam:g}, n = {n_int}; pass k explicitly or use lambda_ = 0"
        )
    return lam, n_int, k_int


def loss_stationary(
    A: ArrayLike,
    H: ArrayLike,
    lambda_: float,
    n: int,
    *,
    k: int | None = None,
    synthetic_weight: float | None = None,
    S: ArrayLike | None = None,
    M: ArrayLike | None = None,
) -> StationaryLaw:
    r"""Stationary law of retraining with any per-point loss and sampler (docs/theory.md §13).

    :math:`C = JCJ^\top + Q` with :math:`J = -\rho(A+\rho H)^{-1}M` and the sandwich
    :math:`Q = (\rho^2/k)(A+\rho H)^{-1}S(A+\rho H)^{-1}` (:math:`\rho = \lambda`, or
    :math:`w/(1-w)`). ``S`` defaults to ``H`` and ``M`` to :math:`-H`.

    - :math:`M = -H` (``M`` omitted, or :math:`\|H+M\| \le 10^{-12}\|H\|`: a self-consistent
      loss): in the basis :math:`V^\top AV = I`, :math:`V^\top HV = \Gamma`, with
      :math:`\tilde S = V^\top SV`, the equation is entrywise
      :math:`\tilde C_{ij} = d_id_j\tilde C_{ij} + \tilde Q_{ij}` with :math:`d_i = \rho\gamma_i/(1+\rho\gamma_i)`,
      :math:`\tilde Q_{ij} = \rho^2\tilde S_{ij}/(k(1+\rho\gamma_i)(1+\rho\gamma_j))`, so
      :math:`C = V[\rho^2\tilde S_{ij}/(k(1+\rho\gamma_i)(1+\rho\gamma_j) - k\rho^2\gamma_i\gamma_j)]V^\top`
      and :math:`\tfrac12\operatorname{tr}(AC) = \sum_i\rho^2\tilde S_{ii}/(2k(1+2\rho\gamma_i))`
      (``method = "eigenbasis"``; with :math:`S = H` it is :func:`stationary`'s diagonal form);
    - otherwise J is not symmetric in any inner product and may have complex eigenvalues: ``C`` from
      :func:`scipy.linalg.solve_discrete_lyapunov` (``method = "lyapunov"``).

    ``rate`` is the spectral radius of J (a law exists only below 1); ``gammas`` the generalised
    eigenvalues of :math:`(H, A)` (:math:`Hv = \gamma Av`; from the definite pencil :math:`(H, A+\rho H)`,
    so they are real, and ``inf`` where A is singular, when ``M`` is given and A is indefinite);
    ``excess_loss`` is :math:`\tfrac12\operatorname{tr}(AC)`, the expected excess real-data loss at
    stationarity (second order, about :math:`\theta^*_\lambda`). With ``M`` given, A need only be
    symmetric: :math:`A + \rho H` (a round's Hessian) is what must be positive definite (docs/theory.md §13).

    >>> law = loss_stationary(np.eye(1), np.eye(1), 1.0, 100, S=3 * np.eye(1))  # 3 x (1/300)
    >>> law.method, round(float(law.cov[0, 0]), 8)
    ('eigenbasis', 0.01)
    >>> law = loss_stationary(np.eye(1), np.eye(1), 1.0, 100, M=-0.5 * np.eye(1))  # J = 1/4, Q = 1/400
    >>> law.method, round(float(law.cov[0, 0]) * 1500, 8), law.rate  # (1/400)/(1 - 1/16) = 1/375
    ('lyapunov', 4.0, 0.25)
    """
    lam, n_int, k_int = _ratio_and_counts(lambda_, n, k)
    rho = _weight_ratio(lam, k_int, synthetic_weight)
    # off self-consistency only A + rho H (the round's Hessian) must be positive definite (loss_jacobian)
    A = check_spd("A", A) if M is None else _square("A", A)
    H = check_psd("H", H) if M is None else np.asarray(H, dtype=float)
    if H.shape != A.shape:
        raise ValueError(f"A and H (B) must have the same shape, got {A.shape} and {H.shape}")
    H = (H + H.T) / 2
    S = H if S is None else check_psd("S", S)
    if S.shape != A.shape:
        raise ValueError(f"S must have the shape of A {A.shape}, got {S.shape}")
    Mm = -H if M is None else np.asarray(M, dtype=float)
    jac = loss_jacobian(A, H, Mm, rho)
    d = A.shape[0]
    w = None if synthetic_weight is None else float(synthetic_weight)
    gammas = _loss_gammas(A, H, rho)
    if jac.rate_exact >= 1.0:
        raise ValueError(
            f"the spectral radius of J must be < 1 for a stationary law, got {jac.rate_exact:.6g}: retraining "
            "with this loss and sampler does not contract at this lambda_"
        )
    relax = 0.0 if jac.rate_exact == 0.0 else float(-1.0 / math.log(jac.rate_exact))
    if rho == 0.0:
        return StationaryLaw(lam, n_int, k_int, np.zeros((d, d)), 0.0, 0.0, 0.0, gammas, "eigenbasis", w)
    hn = float(np.linalg.norm(H, 2))
    consistent = M is None or float(np.linalg.norm(H + Mm, 2)) <= 1e-12 * hn
    a_pd = np.linalg.eigvalsh(A)[0] > 0.0
    g, V = linalg.eigh(H, A) if a_pd else (gammas, None)
    if consistent and a_pd and np.linalg.cond(V) <= BASIS_COND_MAX:
        St = V.T @ S @ V
        denom = k_int * (1.0 + rho * (g[:, None] + g[None, :]))
        Ct = rho**2 * St / denom
        C = V @ Ct @ V.T
        excess = 0.5 * float(np.trace(Ct))
        method = "eigenbasis"
    else:
        K = linalg.cho_factor(A + rho * H, lower=True)
        KS = linalg.cho_solve(K, S)
        Q = (rho**2 / k_int) * linalg.cho_solve(K, KS.T)
        C = linalg.solve_discrete_lyapunov(jac.jacobian, (Q + Q.T) / 2)
        excess = 0.5 * float(np.trace(A @ C))
        method = "lyapunov"
    C = (C + C.T) / 2
    return StationaryLaw(lam, n_int, k_int, C, excess, jac.rate_exact, relax, gammas, method, w)


def _loss_gammas(A: np.ndarray, H: np.ndarray, rho: float) -> np.ndarray:
    r"""Generalised eigenvalues of :math:`Hv = \gamma Av`, ascending. With A positive definite, ``eigh(H, A)``;
    otherwise (A indefinite, :math:`A + \rho H \succ 0` checked by :func:`loss_jacobian`) from the definite
    pencil :math:`Hv = \mu(A+\rho H)v`: :math:`\gamma = \mu/(1-\rho\mu)` (``inf`` where :math:`\rho\mu = 1`)."""
    if np.linalg.eigvalsh(A)[0] > 0.0:
        return linalg.eigh(H, A, eigvals_only=True)
    mu = linalg.eigh(H, A + rho * H, eigvals_only=True)
    with np.errstate(divide="ignore"):
        gam = np.where(np.isclose(rho * mu, 1.0, rtol=1e-12, atol=0.0), np.inf, mu / (1.0 - rho * mu))
    return np.sort(gam)
