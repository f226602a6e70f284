r"""A DDPM with a linear ε-predictor on 1-D data: the closed-form anchor of docs/theory.md §13.

The model (Ho, Jain & Abbeel 2020, with a network that is linear in x at every step):

- a schedule :math:`\beta_1, \dots, \beta_T \in (0, 1)`, :math:`\bar\alpha_t = \prod_{s\le t}(1-\beta_s)`;
- the ε-predictor :math:`\varepsilon_\theta(x, t) = a_t x + b_t`, parameters
  :math:`\theta = (a_1, \dots, a_T, b_1, \dots, b_T) \in \mathbb{R}^{2T}` (all slopes, then all
  intercepts);
- the per-point loss, the denoising loss summed over the steps with the expectation over the
  noise :math:`\varepsilon \sim N(0, 1)` taken in closed form: with
  :math:`x_t = \sqrt{\bar\alpha_t}\,x + \sqrt{1-\bar\alpha_t}\,\varepsilon`,

  .. math:: \ell(\theta, x) = \sum_t E_\varepsilon (a_t x_t + b_t - \varepsilon)^2
            = \sum_t (a_t\sqrt{\bar\alpha_t}\,x + b_t)^2 + (a_t\sqrt{1-\bar\alpha_t} - 1)^2;

- the ancestral sampler (Ho et al. 2020, Algorithm 2, with :math:`\sigma_t^2 = \beta_t`): start at
  :math:`x_T \sim N(0, 1)` and for :math:`t = T, \dots, 1`

  .. math:: x_{t-1} = \frac{1}{\sqrt{1-\beta_t}}\Big(x_t
            - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\varepsilon_\theta(x_t, t)\Big) + \sigma_t z_t,
            \qquad \sigma_t = \sqrt{\beta_t}\ (t \ge 2),\ \sigma_1 = 0,

  so the last step adds no noise; the output is :math:`x_0`.

Why it is an anchor. The expected loss under any training law depends on it only through its mean
m and variance v, and its minimiser is

.. math:: a_t = \frac{\sqrt{1-\bar\alpha_t}}{\bar\alpha_t v + 1 - \bar\alpha_t},
          \qquad b_t = -a_t\sqrt{\bar\alpha_t}\,m;

every sampler step is affine in :math:`x_t` plus independent Gaussian noise, so the output is
Gaussian with moments given by a linear recursion. A retraining round (real data of moments
:math:`(\hat m, \hat v)`, weight :math:`1/(1+\lambda)`; samples of the current model, weight
:math:`\lambda/(1+\lambda)`) is therefore a map of the plane (m, v) onto itself, the mixture's
moments:

.. math:: m' = \frac{\hat m + \lambda m_s}{1+\lambda}, \qquad
          v' = \frac{\hat v + \lambda v_s}{1+\lambda} + \frac{\lambda(\hat m - m_s)^2}{(1+\lambda)^2},

with :math:`(m_s, v_s)` the sampler's output moments at the parameters fitted to (m, v). Its fixed
point gives :math:`\theta^*_\lambda` and its Jacobian the non-zero spectrum of the general Jacobian
:math:`J = -\lambda(A+\lambda H)^{-1}M` of the 2T-dimensional parameter (docs/theory.md §13): the
truth the general loss code is checked against. The sampler is not exact for this model (T steps of
a linear predictor do not reproduce the training law), so the loss is not self-consistent and
:math:`\theta^*_\lambda` moves away from the loss minimiser :math:`\hat\theta` as λ grows.

Torch functions (float64, differentiable in θ, built from torch operations only so that
``torch.func`` can vmap and differentiate them): :func:`linear_ddpm_loss`,
:func:`linear_ddpm_sample`, :func:`linear_ddpm_noise_dim`. Numpy closed forms:
:func:`linear_ddpm_optimal_params`, :func:`linear_ddpm_sampler_moments`,
:func:`linear_ddpm_moment_map`, :func:`linear_ddpm_fixed_point`.

>>> betas = np.linspace(1e-3, 0.3, 10)
>>> fp = linear_ddpm_fixed_point(1.0, 0.3, 1.7, betas)
>>> round(fp.m, 4), round(fp.v, 4)
(0.237, 1.6108)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .._domains import Interval, check, check_scalar
from ..errors import ConvergenceError, InputError

__all__ = [
    "LinearDDPMFixedPoint",
    "linear_ddpm_fixed_point",
    "linear_ddpm_loss",
    "linear_ddpm_moment_map",
    "linear_ddpm_noise_dim",
    "linear_ddpm_optimal_params",
    "linear_ddpm_sample",
    "linear_ddpm_sampler_moments",
    "validate_betas",
]

_REAL = Interval(-math.inf, math.inf, low_closed=False)  # any finite number
_VARIANCE = Interval(0.0)  # a variance: >= 0
_POSITIVE = Interval(0.0, low_closed=False)  # the real data's variance: > 0
_BETA = Interval(0.0, 1.0, low_closed=False)  # one step of the schedule: in (0, 1)
# the fixed point: iterate the map until the residual is below _ITER_TOL, then polish with Newton to
# _NEWTON_TOL (both relative to 1 + |m|, 1 + v); at most _MAX_ROUNDS iterations (a rate of 0.999 needs ~2e4)
_ITER_TOL = 1e-8
_NEWTON_TOL = 1e-13
_MAX_ROUNDS = 100_000


def validate_betas(betas) -> np.ndarray:
    """The noise schedule as a 1-D float array, each :math:`\\beta_t` in (0, 1), at least one step.

    >>> validate_betas([0.1, 0.2])
    array([0.1, 0.2])
    >>> validate_betas([0.1, 1.0])
    Traceback (most recent call last):
    ...
    stability.errors.InputError: betas must be in (0, 1), got 1.0 (at index (1,))
    """
    if isinstance(betas, torch.Tensor):
        betas = betas.detach().cpu().numpy()
    b = check("betas", betas, _BETA)
    if b.ndim != 1 or b.size == 0:
        raise InputError(f"betas must be a non-empty 1-D sequence of numbers in (0, 1), got shape {b.shape}")
    return b


def _schedule(betas) -> tuple[np.ndarray, np.ndarray]:
    """(β, ᾱ) of a validated schedule."""
    b = validate_betas(betas)
    return b, np.cumprod(1.0 - b)


def linear_ddpm_noise_dim(T) -> int:
    """Base-noise dimension of the sampler with ``T`` steps: T + 1 (the start :math:`x_T` and one
    noise per step; see :func:`linear_ddpm_sample` for the layout)."""
    if isinstance(T, (bool, np.bool_)) or not isinstance(T, (int, np.integer)) or T < 1:
        raise InputError(f"T must be an integer >= 1, got {T!r}")
    return int(T) + 1


def _split(theta: torch.Tensor, T: int) -> tuple[torch.Tensor, torch.Tensor]:
    if theta.shape[-1:] != (2 * T,):
        raise InputError(
            f"theta must have shape (2T,) = ({2 * T},) for a schedule of T = {T} steps, got {tuple(theta.shape)}"
        )
    return theta[..., :T], theta[..., T:]


def linear_ddpm_loss(theta: torch.Tensor, x: torch.Tensor, betas) -> torch.Tensor:
    r"""Per-point denoising loss :math:`\ell(\theta, x)` (expectation over ε in closed form), shape (N,).

    ``theta``: (2T,) = (a_1..a_T, b_1..b_T); ``x``: (N,) or (N, 1); both float64 torch tensors.
    :math:`\ell(\theta, x) = \sum_t (a_t\sqrt{\bar\alpha_t}x + b_t)^2 + (a_t\sqrt{1-\bar\alpha_t} - 1)^2`.
    """
    b, ab = _schedule(betas)
    a_, b_ = _split(theta, b.size)
    if x.ndim == 2:
        if x.shape[1] != 1:
            raise InputError(f"x must have shape (N,) or (N, 1), got {tuple(x.shape)}")
        x = x[:, 0]
    elif x.ndim != 1:
        raise InputError(f"x must have shape (N,) or (N, 1), got {tuple(x.shape)}")
    sab = torch.as_tensor(np.sqrt(ab), dtype=theta.dtype, device=theta.device)
    s1ab = torch.as_tensor(np.sqrt(1.0 - ab), dtype=theta.dtype, device=theta.device)
    signal = (x[:, None] * (a_ * sab) + b_) ** 2  # (N, T)
    noise = ((a_ * s1ab - 1.0) ** 2).sum()
    return signal.sum(-1) + noise


def linear_ddpm_sample(theta: torch.Tensor, z: torch.Tensor, betas) -> torch.Tensor:
    r"""The ancestral sampler's output :math:`x_0 = T_\theta(z)`, shape (N, 1); differentiable in θ.

    ``z``: (N, T + 1) standard normal draws. Layout: ``z[:, 0]`` is the start :math:`x_T`;
    ``z[:, t]`` for t = 1..T is the noise :math:`z_t` of the step :math:`x_t \to x_{t-1}`, so the
    columns are used in the order T, T-1, ..., 1. ``z[:, 1]`` is multiplied by :math:`\sigma_1 = 0`
    (the last step adds no noise); it is kept so the layout is indexed by t.
    """
    b, ab = _schedule(betas)
    T = b.size
    a_, b_ = _split(theta, T)
    if z.ndim != 2 or z.shape[1] != T + 1:
        raise InputError(f"z must have shape (N, T + 1) = (N, {T + 1}), got {tuple(z.shape)}")
    # x_{t-1} = c_t x_t + d_t + sigma_t z_t with c_t = (1 - k_t a_t)/sqrt(1-beta_t), d_t = -k_t b_t/sqrt(1-beta_t)
    kt = b / np.sqrt(1.0 - ab)  # beta_t / sqrt(1 - abar_t)
    r = 1.0 / np.sqrt(1.0 - b)
    sigma = np.sqrt(b)
    sigma[0] = 0.0
    x = z[:, 0]
    for t in range(T, 0, -1):
        i = t - 1
        eps = a_[..., i] * x + b_[..., i]
        x = float(r[i]) * (x - float(kt[i]) * eps) + float(sigma[i]) * z[:, t]
    return x[:, None]


def _step_coefficients(theta: np.ndarray, b: np.ndarray, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(c_t, d_t, σ_t²) of the sampler step x_{t-1} = c_t x_t + d_t + σ_t z_t."""
    T = b.size
    a_, b_ = theta[:T], theta[T:]
    k = b / np.sqrt(1.0 - ab) / np.sqrt(1.0 - b)
    c = 1.0 / np.sqrt(1.0 - b) - k * a_
    d = -k * b_
    s2 = b.copy()
    s2[0] = 0.0
    return c, d, s2


def linear_ddpm_optimal_params(m, v, betas) -> np.ndarray:
    r"""The loss minimiser for a training law of mean ``m`` and variance ``v``, shape (2T,).

    :math:`a_t = \sqrt{1-\bar\alpha_t}/(\bar\alpha_t v + 1 - \bar\alpha_t)`,
    :math:`b_t = -a_t\sqrt{\bar\alpha_t}\,m` (set the derivatives of
    :math:`E\,\ell = \sum_t (a_t\sqrt{\bar\alpha_t}m + b_t)^2 + a_t^2\bar\alpha_t v
    + (a_t\sqrt{1-\bar\alpha_t}-1)^2` to zero).
    """
    m = check_scalar("m", m, _REAL)
    v = check_scalar("v", v, _VARIANCE)
    _, ab = _schedule(betas)
    a = np.sqrt(1.0 - ab) / (ab * v + 1.0 - ab)
    return np.concatenate([a, -a * np.sqrt(ab) * m])


def linear_ddpm_sampler_moments(theta, betas) -> tuple[float, float]:
    r"""Mean and variance of the sampler's (Gaussian) output at ``theta`` (2T,), by the recursion
    :math:`\mu_{t-1} = c_t\mu_t + d_t`, :math:`s_{t-1} = c_t^2 s_t + \sigma_t^2` from
    :math:`(\mu_T, s_T) = (0, 1)`."""
    b, ab = _schedule(betas)
    theta = check("theta", theta, _REAL)
    if theta.shape != (2 * b.size,):
        raise InputError(f"theta must have shape (2T,) = ({2 * b.size},), got {theta.shape}")
    c, d, s2 = _step_coefficients(theta, b, ab)
    mu, s = 0.0, 1.0
    for i in range(b.size - 1, -1, -1):
        mu, s = c[i] * mu + d[i], c[i] ** 2 * s + s2[i]
    return float(mu), float(s)


def _map_and_jacobian(m: float, v: float, w: float, m_hat: float, v_hat: float, b, ab):
    """The moment map at (m, v) with synthetic share w = λ/(1+λ), its 2x2 Jacobian, and (m_s, v_s).

    Forward-mode derivatives through a_t(v), b_t(m, v) and the sampler recursion.
    """
    T = b.size
    sab, s1ab = np.sqrt(ab), np.sqrt(1.0 - ab)
    den = ab * v + 1.0 - ab
    a = s1ab / den
    da_dv = -ab * a / den
    bb = -a * sab * m
    db = np.stack([-a * sab, -da_dv * sab * m], axis=-1)  # (T, 2): d b_t / d(m, v)
    da = np.stack([np.zeros(T), da_dv], axis=-1)
    k = b / s1ab / np.sqrt(1.0 - b)
    c, d = 1.0 / np.sqrt(1.0 - b) - k * a, -k * bb
    dc, dd = -k[:, None] * da, -k[:, None] * db
    s2 = b.copy()
    s2[0] = 0.0
    mu, s = 0.0, 1.0
    dmu, ds = np.zeros(2), np.zeros(2)
    for i in range(T - 1, -1, -1):
        dmu, ds = dc[i] * mu + c[i] * dmu + dd[i], 2.0 * c[i] * dc[i] * s + c[i] ** 2 * ds
        mu, s = c[i] * mu + d[i], c[i] ** 2 * s + s2[i]
    out = np.array([(1.0 - w) * m_hat + w * mu, (1.0 - w) * v_hat + w * s + w * (1.0 - w) * (m_hat - mu) ** 2])
    jac = np.stack([w * dmu, w * ds - 2.0 * w * (1.0 - w) * (m_hat - mu) * dmu])
    return out, jac, (mu, s)


def _share(lambda_: float) -> float:
    return 1.0 if math.isinf(lambda_) else lambda_ / (1.0 + lambda_)


def linear_ddpm_moment_map(m, v, lambda_, m_hat, v_hat, betas) -> tuple[float, float]:
    r"""One retraining round on the moments: fit to (m, v), sample, mix with the real (m̂, v̂).

    :math:`m' = (\hat m + \lambda m_s)/(1+\lambda)`,
    :math:`v' = (\hat v + \lambda v_s)/(1+\lambda) + \lambda(\hat m - m_s)^2/(1+\lambda)^2` with
    :math:`(m_s, v_s)` the sampler moments at :func:`linear_ddpm_optimal_params` (m, v).
    ``lambda_ = inf`` is the purely synthetic round :math:`(m', v') = (m_s, v_s)`.
    """
    m = check_scalar("m", m, _REAL)
    v = check_scalar("v", v, _VARIANCE)
    lam = check_scalar("lambda_", lambda_)
    m_hat = check_scalar("m_hat", m_hat, _REAL)
    v_hat = check_scalar("v_hat", v_hat, _POSITIVE)
    b, ab = _schedule(betas)
    out, _, _ = _map_and_jacobian(m, v, _share(lam), m_hat, v_hat, b, ab)
    return float(out[0]), float(out[1])


@dataclass(frozen=True)
class LinearDDPMFixedPoint:
    r"""The fixed point of the moment map (docs/theory.md §13) and what follows from it.

    ``m``, ``v``: the moments :math:`\theta^*_\lambda` is fitted to (the fixed point);
    ``sampler_mean``, ``sampler_var``: the sampler's output moments at :math:`\theta^*_\lambda`;
    ``theta``: :math:`\theta^*_\lambda` (2T,); ``jacobian``: the 2x2 Jacobian of the moment map at
    the fixed point; ``eigenvalues``: its eigenvalues (complex in general) and ``rate`` their moduli
    in increasing order, the non-zero spectrum of the general J; ``iterations``: rounds of the map
    iterated before Newton's polish.
    """

    lambda_: float
    m: float
    v: float
    sampler_mean: float
    sampler_var: float
    theta: np.ndarray
    jacobian: np.ndarray
    eigenvalues: np.ndarray
    rate: np.ndarray
    iterations: int

    @property
    def spectral_radius(self) -> float:
        """The largest modulus: the local contraction rate of retraining."""
        return float(self.rate.max())


def linear_ddpm_fixed_point(lambda_, m_hat, v_hat, betas) -> LinearDDPMFixedPoint:
    r"""The fixed point of the moment map :math:`F` of :func:`linear_ddpm_moment_map` that retraining
    reaches from the real data.

    The map can have several fixed points (for a large λ a collapsed one, v near 0, besides the one
    retraining converges to); this is the limit of the iteration :math:`p_{t+1} = F(p_t)` from
    :math:`p_0 = (\hat m, \hat v)` (the model fitted to the real data, where the chains of
    docs/theory.md §13 start): iterated until the residual is below 1e-8, then polished by Newton's
    method on :math:`F(p) - p` with the exact (forward-mode) Jacobian to 1e-13 (relative to
    :math:`1 + |m|`, :math:`1 + v`). ``lambda_ = 0`` returns :math:`(\hat m, \hat v)`. Raises
    :class:`~stability.errors.ConvergenceError` when the iteration has not settled in 100,000 rounds
    (a spectral radius at or near 1, e.g. ``lambda_ = inf`` with a sampler that keeps the mean).
    """
    lam = check_scalar("lambda_", lambda_)
    m_hat = check_scalar("m_hat", m_hat, _REAL)
    v_hat = check_scalar("v_hat", v_hat, _POSITIVE)
    b, ab = _schedule(betas)
    w = _share(lam)
    p = np.array([m_hat, v_hat])
    iterations = 0
    while True:
        out, jac, _ = _map_and_jacobian(p[0], p[1], w, m_hat, v_hat, b, ab)
        resid = out - p
        if np.all(np.abs(resid) <= _ITER_TOL * (1.0 + np.abs(p))):
            break
        if iterations == _MAX_ROUNDS:
            rate = np.abs(np.linalg.eigvals(jac)).max()
            raise ConvergenceError(
                f"retraining's moment map did not settle in {_MAX_ROUNDS} rounds from (m_hat, v_hat) "
                f"(lambda_={lam}, last residual {resid}, spectral radius of its Jacobian there {rate:.6f})"
            )
        p = out
        iterations += 1
    for _ in range(200):  # Newton near an attracting fixed point: quadratic convergence
        try:
            step = np.linalg.solve(np.eye(2) - jac, resid)
        except np.linalg.LinAlgError:
            step = resid
        if not p[1] + step[1] > 0.0:  # towards v = 0 (a collapsing chain): a plain round instead
            step = resid
        p = p + step
        out, jac, _ = _map_and_jacobian(p[0], p[1], w, m_hat, v_hat, b, ab)
        resid = out - p
        if np.all(np.abs(step) <= _NEWTON_TOL * (1.0 + np.abs(p))):
            break
    if not np.all(np.abs(resid) <= 1e3 * _NEWTON_TOL * (1.0 + np.abs(p))):
        raise ConvergenceError(
            f"Newton's polish of the moment map's fixed point failed (lambda_={lam}, residual {resid})"
        )
    out, jac, (mu, s) = _map_and_jacobian(p[0], p[1], w, m_hat, v_hat, b, ab)
    eig = np.linalg.eigvals(jac)
    return LinearDDPMFixedPoint(
        lambda_=lam,
        m=float(p[0]),
        v=float(p[1]),
        sampler_mean=float(mu),
        sampler_var=float(s),
        theta=linear_ddpm_optimal_params(p[0], p[1], b),
        jacobian=jac,
        eigenvalues=eig,
        rate=np.sort(np.abs(eig)),
        iterations=iterations,
    )
