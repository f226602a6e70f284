r"""Small diffusion and flow-matching models on 2-D data as loss models (docs/theory.md §13).

Two :class:`~.losses.PointDrawsLoss` models with a one-hidden-layer tanh MLP of a point and a time,
:math:`f_\theta(y, \tau) = W_2\tanh(W_1(y, \tau) + b_1) + b_2` (:func:`mlp`), each point's loss the
mean over m fixed draws attached to it, and an optional prior :math:`(\beta/2)\|\theta\|^2` added to
every point's loss (so the real-data objective, the synthetic one and the mixed one all carry it once;
A and H then include :math:`\beta I`):

- :class:`MLPDDPM`: the DDPM of Ho, Jain & Abbeel (2020) with an ε-prediction network
  :math:`\varepsilon_\theta(x_t, t/T)`, a schedule :math:`\beta_1..\beta_T`,
  :math:`\bar\alpha_t = \prod_{s\le t}(1-\beta_s)`; per draw :math:`(t, \varepsilon)` the denoising
  loss :math:`\|\varepsilon_\theta(\sqrt{\bar\alpha_t}x + \sqrt{1-\bar\alpha_t}\varepsilon, t/T) -
  \varepsilon\|^2` (:func:`ddpm_loss`); the ancestral sampler with all its noises taken from the base
  noise (:func:`ddpm_sample`), hence reparameterised and differentiable in θ.
- :class:`MLPFlowMatching`: OT conditional flow matching (Lipman et al. 2023; Tong et al. 2024):
  per draw :math:`(s, x_0)`, :math:`x_s = (1-s)x_0 + s x`, the loss
  :math:`\|v_\theta(x_s, s) - (x - x_0)\|^2` (:func:`cfm_loss`); the sampler integrates
  :math:`\dot y = v_\theta(y, s)` from :math:`y(0) = z \sim N(0, I)` to s = 1 with K fixed Heun
  (or midpoint) steps (:func:`cfm_sample`).

The draws are standard normal (so that the analysis bank is moment-matched): a time is read off a
normal u through :math:`\Phi(u)` (uniform on (0, 1)); for the DDPM the step is
:math:`t = \lceil T\Phi(u)\rceil`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from .._domains import Interval, check
from .._domains import count as _count
from ..errors import InputError
from .losses import PointDrawsLoss
from .optim import DTYPE

__all__ = [
    "MLPDDPM",
    "MLPFlowMatching",
    "cfm_loss",
    "cfm_sample",
    "ddpm_loss",
    "ddpm_sample",
    "default_betas",
    "mlp",
    "mlp_size",
]

_BETA_PRIOR = Interval(0.0)  # the prior precision: >= 0
_SCHEDULE = Interval(0.0, 1.0, low_closed=False)  # one step of the noise schedule: in (0, 1)


def mlp_size(hidden: int, dim: int = 2) -> int:
    """Number of parameters of :func:`mlp` with input (dim + 1), ``hidden`` units, output dim."""
    return (dim + 1) * hidden + hidden + hidden * dim + dim


def mlp(theta: torch.Tensor, y: torch.Tensor, tau: torch.Tensor, hidden: int) -> torch.Tensor:
    r""":math:`W_2\tanh(W_1(y, \tau) + b_1) + b_2`; ``theta`` flat (W1, b1, W2, b2), ``y`` (N, D), ``tau`` (N,)."""
    D = y.shape[-1]
    i = 0
    W1 = theta[i : i + (D + 1) * hidden].reshape(hidden, D + 1)
    i += (D + 1) * hidden
    b1 = theta[i : i + hidden]
    i += hidden
    W2 = theta[i : i + hidden * D].reshape(D, hidden)
    i += hidden * D
    b2 = theta[i : i + D]
    inp = torch.cat([y, tau[:, None]], dim=-1)
    return torch.tanh(inp @ W1.T + b1) @ W2.T + b2


def default_betas(T: int) -> np.ndarray:
    r"""The schedule of ``T`` steps: β linear from 0.01 to min(0.5, 6/T) (:math:`\sum_t\beta_t \approx 3`, so
    :math:`\bar\alpha_T \approx 0.03`-0.05 and :math:`x_T` is close to N(0, I) for standardised data)."""
    T = _count("T", T)
    top = min(0.5, 6.0 / T)
    return np.linspace(min(0.01, top / 2), top, T)


def _onehot_table(idx: torch.Tensor, table: np.ndarray) -> torch.Tensor:
    """``table[idx]`` as a one-hot product (vmap- and autograd-friendly)."""
    tab = torch.as_tensor(table, dtype=DTYPE)
    oh = (idx[:, None] == torch.arange(tab.shape[0])[None, :]).to(DTYPE)
    return oh @ tab


def ddpm_loss(eps_fn: Callable, x: torch.Tensor, u: torch.Tensor, betas: np.ndarray) -> torch.Tensor:
    r"""Denoising loss of one draw per point, (N,).

    ``u`` (N, 1 + D): the step :math:`t = \lceil T\Phi(u_0)\rceil` and the noise :math:`\varepsilon = u_{1:}`;
    :math:`\|\varepsilon_\theta(x_t, t/T) - \varepsilon\|^2`, ``eps_fn(y, tau) -> (N, D)``.
    """
    T = len(betas)
    ab = np.cumprod(1.0 - np.asarray(betas, dtype=float))
    t = torch.clamp(torch.ceil(T * torch.special.ndtr(u[:, 0])), 1, T).long()  # 1..T
    a = _onehot_table(t - 1, ab)
    eps = u[:, 1:]
    xt = torch.sqrt(a)[:, None] * x + torch.sqrt(1.0 - a)[:, None] * eps
    return ((eps_fn(xt, t.to(DTYPE) / T) - eps) ** 2).sum(-1)


def ddpm_sample(eps_fn: Callable, z: torch.Tensor, betas: np.ndarray, D: int = 2) -> torch.Tensor:
    r"""The ancestral sampler (Ho et al. 2020, Algorithm 2, :math:`\sigma_t^2 = \beta_t`), (N, D).

    ``z`` (N, D(T + 1)): ``z[:, :D]`` is :math:`x_T`, ``z[:, Dt : D(t+1)]`` the noise of the step
    :math:`x_t \to x_{t-1}` (t = 1..T; the last step, t = 1, adds none):
    :math:`x_{t-1} = (x_t - \beta_t\varepsilon_\theta(x_t, t/T)/\sqrt{1-\bar\alpha_t})/\sqrt{1-\beta_t}
    + \sigma_t z_t`. Coordinate by coordinate, the layout of :func:`~.linear_ddpm.linear_ddpm_sample`.
    """
    b = np.asarray(betas, dtype=float)
    T = b.size
    ab = np.cumprod(1.0 - b)
    if z.ndim != 2 or z.shape[1] != D * (T + 1):
        raise InputError(f"z must have shape (N, D(T + 1)) = (N, {D * (T + 1)}), got {tuple(z.shape)}")
    x = z[:, :D]
    N = z.shape[0]
    for t in range(T, 0, -1):
        i = t - 1
        tau = torch.full((N,), t / T, dtype=z.dtype)
        eps = eps_fn(x, tau)
        x = (x - float(b[i] / math.sqrt(1.0 - ab[i])) * eps) / math.sqrt(1.0 - b[i])
        if t > 1:
            x = x + math.sqrt(b[i]) * z[:, D * t : D * (t + 1)]
    return x


def cfm_loss(v_fn: Callable, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    r"""OT conditional flow-matching loss of one draw per point, (N,).

    ``u`` (N, 1 + D): :math:`s = \Phi(u_0)`, :math:`x_0 = u_{1:}`; :math:`\|v_\theta((1-s)x_0 + sx, s) - (x - x_0)\|^2`.
    """
    s = torch.special.ndtr(u[:, 0])
    x0 = u[:, 1:]
    xs = (1.0 - s)[:, None] * x0 + s[:, None] * x
    return ((v_fn(xs, s) - (x - x0)) ** 2).sum(-1)


def cfm_sample(v_fn: Callable, z: torch.Tensor, K: int, method: str = "heun") -> torch.Tensor:
    r"""Integrate :math:`\dot y = v(y, s)` from :math:`y(0) = z` to s = 1 in K fixed steps (Heun or midpoint)."""
    h = 1.0 / K
    y = z
    N = z.shape[0]
    for k in range(K):
        s0 = torch.full((N,), k * h, dtype=z.dtype)
        k1 = v_fn(y, s0)
        if method == "heun":
            k2 = v_fn(y + h * k1, s0 + h)
            y = y + 0.5 * h * (k1 + k2)
        else:
            y = y + h * v_fn(y + 0.5 * h * k1, s0 + 0.5 * h)
    return y


def _theta0(d: int, hidden: int, D: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    th = rng.standard_normal(d)
    th[: (D + 1) * hidden] /= math.sqrt(D + 1)
    th[(D + 1) * hidden + hidden : (D + 1) * hidden + hidden + hidden * D] /= math.sqrt(hidden)
    return 0.5 * th


class _MLPLoss(PointDrawsLoss):
    def __init__(self, point_loss, sampler, *, hidden, draws, beta, noise_dim, seed, name):
        self.hidden = _count("hidden", hidden)
        self.beta = float(check("beta", beta, _BETA_PRIOR))
        D = 2
        d = mlp_size(self.hidden, D)
        b = self.beta

        def loss(theta, x, u):
            val = point_loss(lambda y, tau: mlp(theta, y, tau, self.hidden), x, u)
            return val + 0.5 * b * (theta * theta).sum() if b > 0 else val

        def sample(theta, z):
            return sampler(lambda y, tau: mlp(theta, y, tau, self.hidden), z)

        super().__init__(
            loss, sample, _theta0(d, self.hidden, D, seed), noise_dim=noise_dim, draws=draws, draw_dim=1 + D,
            data_dim=D, name=name,
        )  # fmt: skip


class MLPDDPM(_MLPLoss):
    r"""DDPM on 2-D data with an ε-prediction tanh MLP (module docstring), d = :func:`mlp_size` (hidden).

    ``hidden`` units, ``T`` steps (schedule ``betas``, default :func:`default_betas`), ``draws`` m
    fixed (t, ε) draws per point, prior precision ``beta`` (0: none), ``seed`` of ``theta0``.

    >>> m = MLPDDPM(hidden=4, T=10, draws=2)
    >>> m.n_params, m.noise_dim, m.point_dim
    (26, 28, 8)
    """

    def __init__(self, *, hidden: int = 8, T: int = 20, draws: int = 8, beta: float = 0.0, betas=None, seed: int = 0):
        T = _count("T", T)
        b = (
            default_betas(T)
            if betas is None
            else np.asarray(check("betas", betas, Interval(0.0, 1.0, low_closed=False)))
        )
        if b.shape != (T,):
            raise InputError(f"betas must have shape (T,) = ({T},), got {b.shape}")
        self.betas, self.T = b, T
        super().__init__(
            lambda f, x, u: ddpm_loss(f, x, u, b), lambda f, z: ddpm_sample(f, z, b), hidden=hidden, draws=draws,
            beta=beta, noise_dim=2 * (T + 1), seed=seed, name=f"ddpm-mlp(h={hidden}, T={T}, m={draws}, beta={beta:g})",
        )  # fmt: skip


class MLPFlowMatching(_MLPLoss):
    r"""OT conditional flow matching on 2-D data with a velocity tanh MLP (module docstring).

    ``hidden`` units, sampler of ``K`` fixed ``method`` ("heun" or "midpoint") steps, ``draws`` m
    fixed (s, x₀) draws per point, prior precision ``beta``, ``seed`` of ``theta0``.

    >>> m = MLPFlowMatching(hidden=4, K=10, draws=2)
    >>> m.n_params, m.noise_dim, m.point_dim
    (26, 8, 8)
    """

    def __init__(
        self, *, hidden: int = 8, K: int = 10, draws: int = 8, beta: float = 0.0, method: str = "heun", seed: int = 0
    ):
        K = _count("K", K)
        if method not in ("heun", "midpoint"):
            raise InputError(f"method must be 'heun' or 'midpoint', got {method!r}")
        self.K, self.method = K, method
        super().__init__(
            cfm_loss, lambda f, z: cfm_sample(f, z, K, method), hidden=hidden, draws=draws, beta=beta, noise_dim=2,
            seed=seed, name=f"cfm-mlp(h={hidden}, K={K}, m={draws}, beta={beta:g})",
        )  # fmt: skip
