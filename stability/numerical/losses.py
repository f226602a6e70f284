r"""Models fitted by minimising any per-point loss and sampled by a reparameterised sampler (docs/theory.md §13).

A :class:`LossModel` is

- ``loss(theta, x) -> (N,)``: the per-point loss :math:`\ell(\theta, x_i)` (torch float64, ``theta``
  of shape (d,), ``x`` of shape (N, data_dim)), minimised, twice differentiable in θ;
- ``sample(theta, z) -> (N, data_dim)``: the sampler :math:`y = T_\theta(z)` pushed through base
  noise ``z`` (N, noise_dim); reparameterised (differentiable in θ) and written with torch
  operations only, so that it can be vmapped over chains and differentiated for M;
- ``noise(N, generator) -> (N, noise_dim)``: the base noise (``generator`` a ``torch.Generator``);
  default standard normal;
- ``theta0``: the start of the fit of :math:`\hat\theta = \mathrm{argmin}\,R_n`.

Built-ins: :class:`HyvarinenScoreMatching` (Hyvärinen 2005) of a built-in likelihood model with an
exact reparameterised sampler, :class:`LinearGaussianDDPM` (the closed-form anchor of
docs/theory.md §13, :mod:`.linear_ddpm`) and :class:`PointDrawsLoss`, the helper for a loss with its
own randomness (diffusion time, noise): every point carries a fixed set of m draws, real points keep
theirs and synthetic points get fresh ones with their base noise, so that each round's objective is
deterministic given its points.

:func:`analyze_loss` (``stability.analyze(loss_model, data, lambda_)``) computes the fixed point
:math:`\theta^*_\lambda` of the expected retraining operator, the constants A, H, M, S there, the
general Jacobian :math:`J = -\lambda(A+\lambda H)^{-1}M` and the stationary law with the sandwich
noise :math:`Q = (\lambda^2/k)(A+\lambda H)^{-1}S(A+\lambda H)^{-1}` (:class:`LossReport`).

**The expectation over the sampler.** :math:`g(\theta, \theta') = E_z\,\ell(\theta, T_{\theta'}(z))`
is the mean over one bank of ``n_noise`` base-noise draws used for every θ, θ' (common random
numbers: the fixed-point equation is then a smooth deterministic equation). With the default
standard-normal noise the bank is moment-matched (antithetic pairs :math:`\pm z`, then whitened so
that its empirical mean is 0 and its empirical covariance exactly I; Glasserman 2004, §4.5): for a
sampler affine in z and a loss quadratic in the sample (the linear DDPM) the bank's g, H and M are
then exact; in general it removes the bank's error in the first two moments of z. The report's
``theta_star_se`` is the standard error :math:`\sqrt{\mathrm{diag}(\lambda^2KSK^\top/N)}`,
:math:`K = (A+\lambda(H+M))^{-1}`, that an i.i.d. bank of the same size would leave in
:math:`\theta^*_\lambda` (the linearised effect of the bank's error in :math:`\nabla_\theta g`).
:data:`DEFAULT_N_NOISE` = 2**14 draws: a relative standard error of about
:math:`1/\sqrt{N} \approx 0.8\,\%` on S, hence on the predicted stationary covariance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from .._domains import Interval, check, check_scalar
from .._domains import count as _count
from ..errors import ConvergenceError, InputError
from .expectations import _samples, as_generator
from .optim import DTYPE, GTOL, OptimResult, maximize, newton_root

__all__ = [
    "DEFAULT_N_NOISE",
    "HyvarinenScoreMatching",
    "LinearGaussianDDPM",
    "LossModel",
    "LossReport",
    "PointDrawsLoss",
    "analyze_loss",
    "noise_bank",
]

DEFAULT_N_NOISE = 2**14
_CHUNK_POINTS = 4096  # per-sample gradients (for S) are computed in chunks of this many points
_FIXED_POINT_ITER = 100  # Newton steps on the fixed-point equation
_N_NOISE = Interval(2.0, integer=True)


def _callable(name: str, f) -> None:
    if not callable(f):
        raise InputError(f"{name} must be callable, got {type(f).__name__}")


class LossModel:
    r"""A model fitted by minimising a per-point loss and sampled by a reparameterised sampler (module docstring).

    Parameters
    ----------
    loss : ``loss(theta, x) -> (N,)``, minimised; twice differentiable in θ.
    sample : ``sample(theta, z) -> (N, data_dim)``, differentiable in θ, torch operations only.
    theta0 : (d,) finite, the start of the fit of :math:`\hat\theta`.
    noise_dim : integer ``>= 1``, the width of the base noise z.
    noise : ``noise(N, generator) -> (N, noise_dim)``; default standard normal (``torch.randn``).
    data_dim : integer ``>= 1``, the dimension of a data point.
    name : a label for reports.

    Examples
    --------
    The Gaussian location model fitted by least squares, sampled exactly: self-consistent.

    >>> lm = LossModel(lambda th, x: (x[:, 0] - th[0]) ** 2, lambda th, z: th[0] + z, [0.0], noise_dim=1)
    >>> r = analyze_loss(lm, np.linspace(-1.0, 1.0, 11) + 0.5, 1.0)
    >>> round(float(r.theta_star[0]), 8), round(r.rate_exact, 8), round(r.self_consistency, 8)
    (0.5, 0.5, 0.0)
    """

    def __init__(
        self,
        loss: Callable,
        sample: Callable,
        theta0,
        *,
        noise_dim: int,
        noise: Callable | None = None,
        data_dim: int = 1,
        name: str = "user",
    ):
        _callable("loss", loss)
        _callable("sample", sample)
        if noise is not None:
            _callable("noise", noise)
        t0 = np.asarray(theta0, dtype=float)
        if t0.ndim != 1 or t0.size == 0 or not np.all(np.isfinite(t0)):
            raise InputError(f"theta0 must be a finite non-empty 1-D array, got shape {t0.shape}")
        self.loss, self.sample, self._noise = loss, sample, noise
        self.theta0 = t0
        self.n_params = t0.size
        self.noise_dim = _count("noise_dim", noise_dim)
        self.data_dim = _count("data_dim", data_dim)
        self.name = str(name)

    #: the base noise is symmetric (z and -z equally likely): the bank is then antithetic
    symmetric_noise: bool | None = None
    #: the options of :func:`analyze_loss` (``stability.analyze(loss_model, data, lambda_, **options)``)
    loss_options = ("gtol", "max_iter", "n_noise", "seed", "synthetic_weight")

    @property
    def gaussian_noise(self) -> bool:
        """True when the base noise is the default standard normal (the bank is then moment-matched)."""
        return self._noise is None

    @property
    def antithetic(self) -> bool:
        """Whether the bank pairs every draw z with -z: standard-normal noise, or ``symmetric_noise`` set."""
        return self.gaussian_noise or bool(self.symmetric_noise)

    @property
    def point_dim(self) -> int:
        """Width of a point as the loss sees it (``data_dim``, plus attached draws in :class:`PointDrawsLoss`)."""
        return self.data_dim

    def noise(self, N: int, generator: torch.Generator) -> torch.Tensor:
        """``N`` base-noise draws, shape (N, noise_dim), float64."""
        if self._noise is None:
            return torch.randn((int(N), self.noise_dim), generator=generator, dtype=DTYPE)
        z = torch.as_tensor(self._noise(int(N), generator), dtype=DTYPE)
        if z.shape != (int(N), self.noise_dim):
            raise InputError(
                f"noise(N, generator) must return shape ({int(N)}, {self.noise_dim}), got {tuple(z.shape)}"
            )
        return z

    def bank(self, N: int, generator: torch.Generator) -> torch.Tensor:
        """The common-random-number bank of the analysis, (N, noise_dim): :func:`noise_bank`."""
        return noise_bank(self, N, generator)

    def prepare(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The real points as the loss sees them (here unchanged; :class:`PointDrawsLoss` attaches draws)."""
        return x

    def initial_theta(self, x: np.ndarray) -> np.ndarray:
        """Start of the fit of :math:`\\hat\\theta` for real points ``x`` (n, data_dim): ``theta0``."""
        return self.theta0

    def loss_report(self, data, lambda_: float, **options: Any) -> LossReport:
        """:func:`analyze_loss` of this model (what ``stability.analyze(loss_model, ...)`` calls)."""
        return analyze_loss(self, data, lambda_, **options)

    def __repr__(self) -> str:
        return f"LossModel({self.name!r}, d={self.n_params})"


class PointDrawsLoss(LossModel):
    r"""A loss with its own randomness: each point carries a fixed set of ``draws`` draws (docs/theory.md §13).

    ``loss(theta, x, u) -> (N,)`` is the loss of points ``x`` (N, data_dim) at one draw each,
    ``u`` (N, draw_dim) (e.g. a diffusion time and a noise); the per-point loss is the mean over the
    m = ``draws`` draws attached to the point, :math:`\ell(\theta, x) = \frac1m\sum_r
    \mathrm{loss}(\theta, x, u_r)`. The draws ride along with the point: a real point gets its m draws
    once (:meth:`prepare`, from the seed of the analysis or of the chains) and keeps them every round;
    a synthetic point gets fresh ones with its base noise (the base noise of this model is the
    sampler's noise followed by the m draws). ``draw_noise(N, generator) -> (N, draw_dim)``
    defaults to standard normal. The other parameters are :class:`LossModel`'s.

    >>> def loss(th, x, u):  # least squares with a random offset u, mean 0 over the draws
    ...     return (x[:, 0] + 0.1 * u[:, 0] - th[0]) ** 2
    >>> lm = PointDrawsLoss(loss, lambda th, z: th[0] + z, [0.0], noise_dim=1, draws=4)
    >>> lm.noise(3, torch.Generator().manual_seed(0)).shape, lm.point_dim
    (torch.Size([3, 5]), 5)
    """

    def __init__(
        self,
        loss: Callable,
        sample: Callable,
        theta0,
        *,
        noise_dim: int,
        draws: int,
        draw_dim: int = 1,
        draw_noise: Callable | None = None,
        noise: Callable | None = None,
        data_dim: int = 1,
        name: str = "user",
    ):
        _callable("loss", loss)
        _callable("sample", sample)
        if draw_noise is not None:
            _callable("draw_noise", draw_noise)
        m = _count("draws", draws)
        r = _count("draw_dim", draw_dim)
        D = _count("data_dim", data_dim)
        nd = _count("noise_dim", noise_dim)

        def point_loss(theta, xa):
            N = xa.shape[0]
            x = xa[:, :D].repeat_interleave(m, dim=0)
            u = xa[:, D:].reshape(N * m, r)
            return loss(theta, x, u).reshape(N, m).mean(-1)

        def point_sample(theta, za):
            y = sample(theta, za[:, :nd])
            return torch.cat([y, za[:, nd:]], dim=-1)

        super().__init__(point_loss, point_sample, theta0, noise_dim=nd, noise=noise, data_dim=D, name=name)
        self.draws, self.draw_dim, self._draw_noise, self._sampler_noise_dim = m, r, draw_noise, nd
        self.noise_dim = nd + m * r

    @property
    def gaussian_noise(self) -> bool:
        return self._noise is None and self._draw_noise is None

    @property
    def point_dim(self) -> int:
        return self.data_dim + self.draws * self.draw_dim

    def _draws(self, N: int, generator: torch.Generator) -> torch.Tensor:
        m, r = self.draws, self.draw_dim
        if self._draw_noise is None:
            u = torch.randn((N * m, r), generator=generator, dtype=DTYPE)
        else:
            u = torch.as_tensor(self._draw_noise(N * m, generator), dtype=DTYPE)
            if u.shape != (N * m, r):
                raise InputError(f"draw_noise(N, generator) must return shape ({N * m}, {r}), got {tuple(u.shape)}")
        return u.reshape(N, m * r)

    def noise(self, N: int, generator: torch.Generator) -> torch.Tensor:
        nd = self._sampler_noise_dim
        if self._noise is None:
            z = torch.randn((int(N), nd), generator=generator, dtype=DTYPE)
        else:
            z = torch.as_tensor(self._noise(int(N), generator), dtype=DTYPE)
            if z.shape != (int(N), nd):
                raise InputError(f"noise(N, generator) must return shape ({int(N)}, {nd}), got {tuple(z.shape)}")
        return torch.cat([z, self._draws(int(N), generator)], dim=-1)

    def prepare(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Attach m fresh draws to every real point: (n, data_dim + m draw_dim)."""
        return torch.cat([x, self._draws(x.shape[0], generator)], dim=-1)


# ---------------------------------------------------------------------------------------------
# Hyvärinen score matching of the built-in likelihood models


def _hyvarinen(model) -> Callable:
    r""":math:`\ell(\theta, x) = \tfrac12\|\nabla_x\log p_\theta(x)\|^2 + \Delta_x\log p_\theta(x)` by autograd in x.

    The log-density of N points is a sum of per-point terms, so the gradient of the sum in x is
    the per-point score, and the gradient in x of the sum of the score's k-th coordinate gives the
    per-point :math:`\partial_k s_k` (no vmap over points needed).
    """
    D = model.data_dim

    def loss(theta, x):
        def logp_sum(xx):
            return model.log_prob(theta, xx).sum()

        score = torch.func.grad(logp_sum)
        s = score(x)
        lap = 0.0
        for i in range(D):
            lap = lap + torch.func.grad(lambda xx, i=i: score(xx)[:, i].sum())(x)[:, i]
        return 0.5 * (s * s).sum(-1) + lap

    return loss


def _standard_ppf(model) -> Callable[[np.ndarray], np.ndarray]:
    """The quantile function of the standard variable of a location-scale model (or N(0, 1))."""
    from scipy import stats

    from . import models

    if isinstance(model, models.StudentT):
        return lambda u: stats.t.ppf(u, model.df)
    if isinstance(model, models.Logistic):
        return lambda u: np.log(u) - np.log1p(-u)
    if isinstance(model, models.Gaussian):
        return stats.norm.ppf
    raise InputError(f"model must be StudentT, Logistic or Gaussian for a quantile bank, got {model!r}")


def _location_scale_derivatives(model) -> Callable | None:
    """(f'(z), f''(z)) of the standard log-density f of a built-in location-scale model, in closed form."""
    from . import models

    if isinstance(model, models.StudentT):
        nu = model.df

        def fd(z):
            q = nu + z * z
            return -(nu + 1.0) * z / q, -(nu + 1.0) * (nu - z * z) / (q * q)

        return fd
    if isinstance(model, models.Logistic):

        def fd(z):
            t = torch.tanh(z / 2.0)
            return -t, -0.5 * (1.0 - t * t)

        return fd
    return None


def _hyvarinen_closed(model) -> Callable | None:
    r"""The score-matching loss in closed form where the model allows (much faster than autograd in x).

    Location-scale, :math:`z = (x-\mu)e^{-\log s}`: :math:`\partial_x\log p = f'(z)/s`,
    :math:`\partial_x^2\log p = f''(z)/s^2`; coordinatewise for ``ProductStudentT``; Gaussian in
    natural parameters: :math:`\partial_x\log p = \eta_1 + 2\eta_2x`, :math:`\partial_x^2\log p = 2\eta_2`.
    """
    from . import models

    if isinstance(model, models.StudentT):
        # (f'^2/2 + f'')(z)/s^2 = (nu+1)((nu+3)z^2/2 - nu)/(s^2 (nu+z^2)^2); with r = x - mu, v = s^2:
        # (nu+1)((nu+3) r^2/2 - nu v)/(nu v + r^2)^2 (seven elementwise operations: the chains' cost)
        nu = model.df
        c1, c2 = 0.5 * (nu + 1.0) * (nu + 3.0), (nu + 1.0) * nu

        def loss(theta, x):
            v = torch.exp(2.0 * theta[1])
            r2 = (x[:, 0] - theta[0]) ** 2
            w = nu * v + r2
            return (c1 * r2 - c2 * v) / (w * w)

        return loss
    if isinstance(model, models._LocationScale):
        fd = _location_scale_derivatives(model)
        if fd is None:
            return None

        def loss(theta, x):
            inv = torch.exp(-theta[1])
            d1, d2 = fd((x[:, 0] - theta[0]) * inv)
            return (0.5 * d1 * d1 + d2) * inv * inv

        return loss
    if isinstance(model, models.ProductStudentT):
        fd, k = _location_scale_derivatives(model._t), model.data_dim

        def loss(theta, x):
            inv = torch.exp(-theta[k:])
            d1, d2 = fd((x - theta[:k]) * inv)
            return ((0.5 * d1 * d1 + d2) * inv * inv).sum(-1)

        return loss
    if isinstance(model, models.Gaussian):

        def loss(theta, x):  # natural (eta, Lambda): psi = eta - Lambda x, psi' = -Lambda
            s = theta[0] - theta[1] * x[:, 0]
            return 0.5 * s * s - theta[1]

        return loss
    return None


class HyvarinenScoreMatching(LossModel):
    r"""A built-in likelihood model fitted by Hyvärinen score matching and sampled exactly (docs/theory.md §13).

    :math:`\ell(\theta, x) = \tfrac12\|\nabla_x\log p_\theta(x)\|^2 + \Delta_x\log p_\theta(x)`
    (Hyvärinen 2005, Thm 1: the expected loss equals, up to a constant in θ, the Fisher divergence
    :math:`\tfrac12E\|\nabla_x\log p_\theta - \nabla_x\log p_{data}\|^2`), with the model's exact
    sampler written as a reparameterisation. With the exact sampler the loss is self-consistent
    (the Fisher divergence from :math:`p_{\theta'}` is smallest at :math:`\theta = \theta'`), so
    :math:`\theta^*_\lambda = \hat\theta` and :math:`H + M = 0`; but S is not H, so the stationary
    law is the sandwich one, not the likelihood's.

    The loss is written in closed form (f' and f'' of the standard density) for the models below;
    :func:`_hyvarinen`, autograd in x, is the general form the tests compare it with.

    Supported: the smooth location-scale models with an exact standard sampler (``StudentT``,
    ``Logistic``: :math:`y = \mu + e^{\log s}z`, z the standard variable), ``ProductStudentT``
    (coordinatewise) and ``Gaussian`` (natural parameters: :math:`y = \mu + \sigma z`,
    :math:`\sigma^2 = -1/(2\eta_2)`, :math:`\mu = \eta_1\sigma^2`, z standard normal).
    """

    def __init__(self, model):
        from . import models

        if isinstance(model, models.Laplace):
            raise InputError(
                "model must have a log-density twice differentiable in x for score matching; Laplace has not"
            )
        if isinstance(model, models._LocationScale):
            noise_dim = 1

            def sample(theta, z):
                return theta[0] + torch.exp(theta[1]) * z

            def noise(N, generator):
                return model.standard_sample((int(N),), generator)[:, None]

            theta0 = np.array([0.0, 0.0])
            ppf = _standard_ppf(model)
        elif isinstance(model, models.ProductStudentT):
            noise_dim, k = model.data_dim, model.data_dim

            def sample(theta, z):
                return theta[:k] + torch.exp(theta[k:]) * z

            def noise(N, generator):
                return model._t.standard_sample((int(N), k), generator)

            theta0 = np.zeros(2 * k)
            ppf = _standard_ppf(model._t)
        elif isinstance(model, models.Gaussian):
            noise_dim, noise = 1, None

            def sample(theta, z):  # natural (eta, Lambda): variance 1 / Lambda, mean eta / Lambda
                var = 1.0 / theta[1]
                return theta[0] * var + torch.sqrt(var) * z

            theta0 = np.array([0.0, 1.0])
            ppf = _standard_ppf(model)
        else:
            raise InputError(
                "model must be one of StudentT, Logistic, ProductStudentT or Gaussian (a built-in likelihood model "
                f"with an exact reparameterised sampler and a smooth density), got {model!r}"
            )
        loss = _hyvarinen_closed(model) or _hyvarinen(model)
        super().__init__(
            loss, sample, theta0, noise_dim=noise_dim, noise=noise, data_dim=model.data_dim,
            name=f"hyvarinen({model!r})",
        )  # fmt: skip
        self.model = model
        self.symmetric_noise = True  # standard t, logistic and normal variables are symmetric
        self._ppf = ppf

    def bank(self, N: int, generator: torch.Generator) -> torch.Tensor:
        r"""A Latin-hypercube bank of the standard variable (McKay, Beckman & Conover 1979): in every
        coordinate the N midpoint quantiles :math:`F^{-1}((i - \tfrac12)/N)`, i = 1..N, in an
        independent random order per coordinate. Every marginal is stratified (its moments are those
        of the distribution up to the truncation of the tails) and symmetric. Standard-normal noise
        (the Gaussian model) gets :func:`noise_bank`'s moment-matched bank instead (exact there)."""
        if self.gaussian_noise:
            return noise_bank(self, N, generator)
        N = int(N)
        u = (np.arange(N) + 0.5) / N
        cols = [u[torch.randperm(N, generator=generator).numpy()] for _ in range(self.noise_dim)]
        return torch.as_tensor(self._ppf(np.stack(cols, axis=1)), dtype=DTYPE)

    def initial_theta(self, x: np.ndarray) -> np.ndarray:
        """The likelihood model's own starting point (moments of the sample)."""
        return np.asarray(self.model.initial_theta(x, np.full(x.shape[0], 1.0 / x.shape[0])), dtype=float)

    def __repr__(self) -> str:
        return f"HyvarinenScoreMatching({self.model!r})"


# ---------------------------------------------------------------------------------------------
# The linear DDPM anchor


class LinearGaussianDDPM(LossModel):
    r"""The DDPM with a linear ε-predictor per step on 1-D data (docs/theory.md §13; :mod:`.linear_ddpm`).

    :math:`\theta = (a_1..a_T, b_1..b_T)`, loss :func:`~.linear_ddpm.linear_ddpm_loss`, ancestral
    sampler :func:`~.linear_ddpm.linear_ddpm_sample` with base noise z (N, T + 1) standard normal.
    The closed forms of :mod:`.linear_ddpm` are methods: :meth:`moment_map`, :meth:`fixed_point`,
    :meth:`optimal_params`, :meth:`sampler_moments` and :meth:`fitted_moments` (the (m, v) a θ of
    the form :meth:`optimal_params` is fitted to).

    >>> ddpm = LinearGaussianDDPM(np.linspace(1e-3, 0.3, 10))
    >>> ddpm.n_params, ddpm.noise_dim
    (20, 11)
    >>> [round(x, 4) for x in ddpm.fixed_point(1.0, 0.3, 1.7)[:2]]
    [0.237, 1.6108]
    """

    def __init__(self, betas):
        from . import linear_ddpm as ld

        b = ld.validate_betas(betas)
        self.betas = b
        self.T = b.size
        self._abar = np.cumprod(1.0 - b)

        def loss(theta, x):
            return ld.linear_ddpm_loss(theta, x, b)

        def sample(theta, z):
            return ld.linear_ddpm_sample(theta, z, b)

        super().__init__(
            loss, sample, ld.linear_ddpm_optimal_params(0.0, 1.0, b), noise_dim=ld.linear_ddpm_noise_dim(self.T),
            name=f"linear-ddpm(T={self.T})",
        )  # fmt: skip

    def initial_theta(self, x: np.ndarray) -> np.ndarray:
        """The loss minimiser for the sample's mean and variance (closed form)."""
        return self.optimal_params(float(x[:, 0].mean()), float(x[:, 0].var()))

    def optimal_params(self, m: float, v: float) -> np.ndarray:
        """:func:`~.linear_ddpm.linear_ddpm_optimal_params`."""
        from .linear_ddpm import linear_ddpm_optimal_params

        return linear_ddpm_optimal_params(m, v, self.betas)

    def sampler_moments(self, theta) -> tuple[float, float]:
        """:func:`~.linear_ddpm.linear_ddpm_sampler_moments`."""
        from .linear_ddpm import linear_ddpm_sampler_moments

        return linear_ddpm_sampler_moments(theta, self.betas)

    def moment_map(self, m: float, v: float, lambda_: float, m_hat: float, v_hat: float) -> tuple[float, float]:
        """:func:`~.linear_ddpm.linear_ddpm_moment_map`: one retraining round on (m, v)."""
        from .linear_ddpm import linear_ddpm_moment_map

        return linear_ddpm_moment_map(m, v, lambda_, m_hat, v_hat, self.betas)

    def fixed_point(self, lambda_: float, m_hat: float, v_hat: float) -> tuple[float, float, np.ndarray]:
        """The moment map's fixed point: (m*, v*, the moduli of its Jacobian's eigenvalues, ascending); see
        :func:`~.linear_ddpm.linear_ddpm_fixed_point` for the full result."""
        from .linear_ddpm import linear_ddpm_fixed_point

        fp = linear_ddpm_fixed_point(lambda_, m_hat, v_hat, self.betas)
        return fp.m, fp.v, fp.rate

    def fitted_moments(self, theta) -> tuple[float, float]:
        r"""(m, v) with ``theta`` = :meth:`optimal_params` (m, v), read off the first step:
        :math:`v = (\sqrt{1-\bar\alpha_1}/a_1 - (1-\bar\alpha_1))/\bar\alpha_1`,
        :math:`m = -b_1/(a_1\sqrt{\bar\alpha_1})`."""
        th = np.asarray(theta, dtype=float)
        ab, a, b = self._abar[0], th[0], th[self.T]
        return float(-b / (a * math.sqrt(ab))), float((math.sqrt(1.0 - ab) / a - (1.0 - ab)) / ab)

    def __repr__(self) -> str:
        return f"LinearGaussianDDPM(T={self.T})"


# ---------------------------------------------------------------------------------------------
# The analysis


def noise_bank(loss_model: LossModel, n_noise: int, generator: torch.Generator) -> torch.Tensor:
    r"""The common-random-number bank of ``n_noise`` base-noise draws, (n_noise, noise_dim).

    Symmetric noise (``loss_model.antithetic``): antithetic pairs :math:`\pm z` (a zero row completes
    an odd count), so every odd moment of the bank is 0. Standard-normal noise
    (``loss_model.gaussian_noise``) is moreover whitened by the Cholesky factor of the pairs'
    empirical second moment, so the bank's second moment is exactly I (moment matching; needs
    ``n_noise >= 2 noise_dim``). Other noise: i.i.d. draws.
    """
    N = int(n_noise)
    if not loss_model.antithetic:
        return loss_model.noise(N, generator)
    D = loss_model.noise_dim
    half = loss_model.noise(N // 2, generator)
    parts = [half, -half] + ([torch.zeros(1, D, dtype=DTYPE)] if N % 2 else [])
    z = torch.cat(parts)
    if loss_model.gaussian_noise and N >= 2 * D:
        L = torch.linalg.cholesky(z.T @ z / N)
        z = torch.linalg.solve_triangular(L, z.T, upper=False).T
    return z


@dataclass(frozen=True, eq=False)
class LossReport:
    r"""Retraining with a loss at its fixed point :math:`\theta^*_\lambda` (docs/theory.md §13).

    ``theta_star``: :math:`\theta^*_\lambda`; ``theta_hat``: the minimiser of the real-data loss
    :math:`R_n` (λ = 0); ``bias_loss``: :math:`R_n(\theta^*_\lambda) - R_n(\hat\theta) \ge 0`;
    ``self_consistency``: :math:`\|H+M\|_F/\|H\|_F` (Frobenius; 0 for a self-consistent loss);
    ``rate_exact``: the spectral radius of ``jacobian`` :math:`J = -\lambda(A+\lambda H)^{-1}M`;
    ``eigenvalues``: J's spectrum (by modulus); ``A, H, M, S``: the constants at
    :math:`\theta^*_\lambda`; ``theta_star_se``: the standard error an i.i.d. bank of ``n_noise``
    draws leaves in :math:`\theta^*_\lambda` (module docstring); ``details``: how each was obtained.
    With a ``synthetic_weight`` w, λ is replaced by w/(1−w) in every formula.
    """

    model: str
    lambda_: float
    theta_star: np.ndarray
    theta_hat: np.ndarray
    bias_loss: float
    self_consistency: float
    rate_exact: float
    jacobian: np.ndarray
    eigenvalues: np.ndarray
    A: np.ndarray
    H: np.ndarray
    M: np.ndarray
    S: np.ndarray
    n_noise: int
    theta_star_se: np.ndarray
    synthetic_weight: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def stationary(self, n: int, k: int | None = None) -> Any:
        r"""The first-order stationary law about :math:`\theta^*_\lambda`: :func:`stability.stationary`
        with :math:`B = H` and this report's S and M (the sandwich Q; Lyapunov solve unless H + M = 0)."""
        from ..stationary import stationary

        return stationary(
            self.A, self.H, self.lambda_, n, k=k, synthetic_weight=self.synthetic_weight, S=self.S, M=self.M
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        def arr(a):
            return np.array2string(np.asarray(a), precision=5, separator=", ", threshold=8)

        rows = [
            ("model", self.model),
            ("lambda", f"{self.lambda_:.6g}"),
            ("theta*_lambda", arr(self.theta_star)),
            ("theta_hat (lambda = 0)", arr(self.theta_hat)),
            ("bias_loss R_n(theta*) - R_n(theta_hat)", f"{self.bias_loss:.6g}"),
            ("self_consistency ||H+M||/||H||", f"{self.self_consistency:.6g}"),
            ("rate_exact (spectral radius of J)", f"{self.rate_exact:.6g}"),
            ("lambda/(1+lambda)", f"{self.lambda_ / (1 + self.lambda_):.6g}"),
            ("n_noise (bank)", str(self.n_noise)),
            ("max se(theta*) of the bank", f"{float(np.max(self.theta_star_se)):.3g}"),
        ]
        width = max(len(a) for a, _ in rows)
        return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)

    def summary(self) -> str:
        return "\n".join([str(self), *(f"  {key}: {value}" for key, value in self.details.items())])


def _bank_kind(loss_model: LossModel) -> str:
    if isinstance(loss_model, HyvarinenScoreMatching) and not loss_model.gaussian_noise:
        return "Latin hypercube of the standard variable's midpoint quantiles"
    if loss_model.gaussian_noise:
        return "moment-matched standard normal (antithetic, whitened)"
    return "antithetic draws of the model's noise" if loss_model.antithetic else "i.i.d. draws of the model's noise"


def _as_points(loss_model: LossModel, data) -> torch.Tensor:
    x = _samples(data)
    if x.shape[1] != loss_model.data_dim:
        raise InputError(f"data must have dimension {loss_model.data_dim} (the model's data_dim), got {x.shape[1]}")
    return torch.as_tensor(x, dtype=DTYPE)


def _fit_theta_hat(loss_model: LossModel, xp: torch.Tensor, x_raw: np.ndarray, gtol: float, max_iter: int):
    """The minimiser of the real-data loss R_n (the library's optimiser on -R_n)."""
    x0 = np.asarray(loss_model.initial_theta(x_raw), dtype=float)
    if x0.shape != (loss_model.n_params,):
        raise InputError(f"initial_theta must return shape ({loss_model.n_params},), got {x0.shape}")
    fit = maximize(lambda th: -loss_model.loss(th, xp).mean(), x0, gtol=gtol, max_iter=max_iter)
    return fit.raise_if_failed(f"minimisation of the real-data loss of {loss_model.name}")


def analyze_loss(
    loss_model: LossModel,
    data,
    lambda_: float,
    *,
    n_noise: int = DEFAULT_N_NOISE,
    seed: int | np.random.Generator | torch.Generator = 0,
    synthetic_weight: float | None = None,
    gtol: float = GTOL,
    max_iter: int = 100,
) -> LossReport:
    r"""The fixed point of retraining with a loss, its Jacobian and constants (docs/theory.md §13).

    1. :math:`\hat\theta = \mathrm{argmin}\,R_n`, :math:`R_n(\theta) = \frac1n\sum_i\ell(\theta, x_i)`;
    2. :math:`\theta^*_\lambda` solves
       :math:`F(\theta) = \nabla R_n(\theta) + \lambda\nabla_\theta g(\theta, \theta) = 0` on the branch of fixed
       points that starts at :math:`\hat\theta`: continuation in λ from 0 (steps of at most 0.5, an Euler
       predictor along :math:`d\theta^*/d\lambda`, Newton's method with Jacobian :math:`A + \lambda(H + M)` as
       corrector; ``_continuation``), to :math:`\|F\|_\infty/(1+\lambda) \le` ``gtol`` (the scale of the
       chains' mixed objective); g over the bank of :meth:`LossModel.bank` (``n_noise`` draws from ``seed``).
       Every accepted point must have :math:`A + \lambda H \succ 0` (a round has a strict minimum there);
       A itself need not be positive definite at :math:`\theta^*_\lambda` (docs/theory.md §13). Where the
       branch folds (J reaches the eigenvalue 1) there is no fixed point beyond, and a
       :class:`~stability.errors.ConvergenceError` names the last λ reached and J's spectral radius there;
    3. at :math:`\theta^*_\lambda`: :math:`A = \nabla^2R_n`, :math:`H = \partial^2_{\theta\theta}g`,
       :math:`M = \partial^2_{\theta\theta'}g` (autograd through the sampler),
       :math:`S = \mathrm{Cov}_z\nabla_\theta\ell(\theta^*, T_{\theta^*}(z))` over the bank, and
       :func:`~stability.jacobian.loss_jacobian`.

    ``data``: the real sample, (n,) or (n, data_dim), n >= 2. ``lambda_`` finite, ``>= 0``;
    ``synthetic_weight`` w in [0, 1) replaces λ by w/(1−w) (docs/theory.md §10). Raises
    :class:`~stability.errors.ConvergenceError` when a solve does not converge.
    """
    if not isinstance(loss_model, LossModel):
        raise InputError(f"loss_model must be a LossModel, got {type(loss_model).__name__}")
    lam = float(check("lambda_", lambda_))
    if math.isinf(lam):
        raise InputError("lambda_ must be finite for a loss model's fixed point, got inf")
    N = int(check("n_noise", n_noise, _N_NOISE))
    if synthetic_weight is None:
        rho = lam
    else:
        w = check_scalar("synthetic_weight", synthetic_weight, Interval(0.0, 1.0))
        rho, synthetic_weight = w / (1.0 - w), w
    gtol = float(check("gtol", gtol, Interval(0.0, low_closed=False)))
    max_iter = _count("max_iter", max_iter)
    gen = as_generator(seed)
    x_raw = _samples(data)
    x = _as_points(loss_model, data)
    xp = loss_model.prepare(x, gen)
    return _analyze(loss_model, x_raw, xp, lam, rho, synthetic_weight, N, gen, gtol, max_iter)[0]


_CONT_MAX_STEP = 0.5  # continuation: the largest step in lambda (so the branch is followed, not jumped)
_CONT_MIN_STEP = 2.0**-10  # continuation: give up below this step in lambda
_CONT_ITER = 25  # continuation: Newton steps allowed per intermediate lambda before the step is halved


def _continuation(F, JF, round_hessian, theta_hat: np.ndarray, rho: float, tol: float):
    r"""The fixed point :math:`\theta^*_\rho` on the branch that starts at :math:`\hat\theta` (λ = 0).

    Natural-parameter continuation with an Euler predictor (docs/theory.md §13): from the fixed point
    :math:`\theta_j` at :math:`\lambda_j`, predict :math:`\theta_j + \Delta\,d\theta/d\lambda` with
    :math:`(A + \lambda_j(H+M))\,d\theta/d\lambda = -\nabla_\theta g(\theta_j, \theta_j)` (the derivative of
    the fixed-point equation in λ), correct by backtracking Newton (:func:`~.optim.newton_root`) at
    :math:`\lambda_j + \Delta`, and accept when it converges within ``_CONT_ITER`` steps with the round's
    Hessian :math:`A + \lambda H` positive definite at the root (a retraining round has a strict minimum
    there; A alone need not be positive definite). A failed step is halved, an accepted one doubles
    the next (at most ``_CONT_MAX_STEP``). Returns (the final Newton result, the accepted λ path).
    ``F(theta, lam)``, ``JF(theta, lam)`` and ``round_hessian(theta, lam)`` take numpy arrays.
    """
    th, lam_j = np.array(theta_hat, dtype=float), 0.0
    step = min(rho, _CONT_MAX_STEP)
    path = [0.0]
    tangent = None
    while True:
        target = min(rho, lam_j + step)
        final = target == rho
        if tangent is None:  # d theta / d lambda at (th, lam_j); F is affine in lambda: dF/dlambda = F(., 1) - F(., 0)
            try:
                tangent = -np.linalg.solve(JF(th, lam_j), F(th, 1.0) - F(th, 0.0))
            except np.linalg.LinAlgError:
                tangent = np.zeros_like(th)
        pred = th + (target - lam_j) * tangent
        sol = newton_root(
            lambda t, lam=target: F(t, lam),
            lambda t, lam=target: JF(t, lam),
            pred,
            tol,
            _FIXED_POINT_ITER if final else _CONT_ITER,
            what="fixed-point equation",
            method="continuation in lambda from theta_hat (Euler predictor, Newton corrector on grad R_n + "
            "lambda grad_theta g = 0, autograd Jacobian A + lambda (H + M) reused while it contracts)",
            reuse_jacobian=True,
        )
        ok = sol.converged and np.linalg.eigvalsh(_sym(round_hessian(sol.theta, target)))[0] > 0.0
        if ok:
            th, lam_j, tangent = sol.theta, target, None
            path.append(target)
            if final:
                return sol, "0 -> " + " -> ".join(f"{v:.4g}" for v in path[1:])
            step = min(2.0 * step, _CONT_MAX_STEP)
        else:
            step /= 2.0
            if step < _CONT_MIN_STEP:
                why = sol.message if not sol.converged else "A + lambda H is not positive definite at the root"
                if lam_j > 0.0:  # J = I - (A + lam H)^{-1}(A + lam (H + M)) at the last fixed point: near 1 at a fold
                    J = np.eye(th.size) - np.linalg.solve(_sym(round_hessian(th, lam_j)), JF(th, lam_j))
                    why += f"; there the spectral radius of J is {np.abs(np.linalg.eigvals(J)).max():.4g}"
                return (
                    OptimResult(sol.theta, math.nan, sol.grad_norm, sol.iterations, False, sol.method,
                                f"continuation stalled at lambda = {lam_j:.4g} (step to {target:.4g}: {why})"),
                    " -> ".join(f"{v:.4g}" for v in path),
                )  # fmt: skip


def _sym(a: np.ndarray) -> np.ndarray:
    return (a + a.T) / 2


def _analyze(loss_model, x_raw, xp, lam, rho, synthetic_weight, N, gen, gtol, max_iter):
    """analyze_loss on validated inputs and prepared real points xp: (LossReport, fit of theta_hat)."""
    from ..jacobian import loss_jacobian

    fit = _fit_theta_hat(loss_model, xp, x_raw, gtol, max_iter)
    theta_hat = torch.as_tensor(fit.theta, dtype=DTYPE)
    z = loss_model.bank(N, gen)
    loss, sample = loss_model.loss, loss_model.sample

    def R(th):
        return loss(th, xp).mean()

    def g(th, thp):
        return loss(th, sample(thp, z)).mean()

    grad_R = torch.func.grad(R)
    grad_g = torch.func.grad(g, argnums=0)

    def F(th):
        return grad_R(th) + rho * grad_g(th, th)

    def F_at(th, r):
        th = torch.as_tensor(th, dtype=DTYPE)
        return (grad_R(th) + r * grad_g(th, th)).detach().numpy()

    def JF_at(th, r):
        th = torch.as_tensor(th, dtype=DTYPE)
        return torch.func.jacrev(lambda t: grad_R(t) + r * grad_g(t, t))(th).detach().numpy()

    def round_hessian(th, r):  # A + r H at (th, th): the Hessian in theta of a round's objective
        th = torch.as_tensor(th, dtype=DTYPE)
        return torch.func.hessian(lambda t: R(t) + r * g(t, th))(th).detach().numpy()

    if rho == 0.0:
        theta_star, solve = theta_hat, "lambda = 0: theta_hat"
    else:
        sol, path = _continuation(F_at, JF_at, round_hessian, fit.theta, rho, gtol * (1.0 + rho))
        if not sol.converged:
            raise ConvergenceError(
                f"the fixed point theta*_lambda of {loss_model.name} at lambda = {rho:g} was not found: {sol.message} "
                f"(|F|_inf = {sol.grad_norm:.3g} after {sol.iterations} Newton steps)"
            )
        theta_star = torch.as_tensor(sol.theta, dtype=DTYPE)
        solve = f"{sol.method}: |F|_inf = {sol.grad_norm:.3g} after {sol.iterations} steps; lambda path {path}"
    ts = theta_star.detach()
    A = torch.func.hessian(R)(ts).detach().numpy()
    H = torch.func.hessian(lambda th: g(th, ts))(ts).detach().numpy()
    M = torch.func.jacrev(lambda thp: grad_g(ts, thp))(ts).detach().numpy()
    with torch.no_grad():
        y = sample(ts, z)
    per_point = torch.func.vmap(torch.func.grad(lambda th, yi: loss(th, yi[None]).sum()), in_dims=(None, 0))
    G = torch.cat([per_point(ts, y[i : i + _CHUNK_POINTS]).detach() for i in range(0, N, _CHUNK_POINTS)]).numpy()
    Gc = G - G.mean(0)
    S = Gc.T @ Gc / N
    A, H = (A + A.T) / 2, (H + H.T) / 2
    jac = loss_jacobian(A, H, M, rho)
    K = np.linalg.inv(A + rho * (H + M))
    se = np.sqrt(np.clip(np.diag(rho**2 * K @ S @ K.T / N), 0.0, None))
    with torch.no_grad():
        bias = float(R(ts) - R(theta_hat))
    details = {
        "theta_hat": f"{fit.method}: {fit.message} (|grad|_inf = {fit.grad_norm:.3g}, {fit.iterations} iterations)",
        "theta_star": solve,
        "bank": f"{_bank_kind(loss_model)}, n_noise = {N}",
        "A, H, M": "autograd at theta*_lambda (H, M through the sampler over the bank)",
        "S": "covariance of the per-sample loss gradients over the bank",
    }
    report = LossReport(
        model=loss_model.name,
        lambda_=lam,
        theta_star=ts.numpy().copy(),
        theta_hat=fit.theta,
        bias_loss=bias,
        self_consistency=jac.self_consistency,
        rate_exact=jac.rate_exact,
        jacobian=jac.jacobian,
        eigenvalues=jac.eigenvalues,
        A=A,
        H=H,
        M=M,
        S=S,
        n_noise=N,
        theta_star_se=se,
        synthetic_weight=synthetic_weight,
        details=details,
    )
    return report, fit
