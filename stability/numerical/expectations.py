r"""Expectations under the data and under the model, as weighted sums over fixed points.

Every expectation is :math:`E[f] \approx \sum_i w_i f(x_i)` with points fixed once, so the mixed
objective is a smooth function of :math:`\theta` that autograd differentiates exactly:

- **data** given as samples: the empirical measure (``w_i = 1/n``), which *is* the data measure of
  the finite-sample objective;
- **data** given as a density (a scipy frozen distribution, or a ``torch.distributions``
  distribution) in one or two dimensions: a quadrature rule :math:`w_i \propto v_i q(x_i)`;
- **model** :math:`p_\theta` in one or two dimensions: the same quadrature rule,
  :math:`w_i(\theta) \propto v_i p_\theta(x_i)`; in more dimensions, Monte Carlo with common
  random numbers: draws :math:`x_j \sim p_{\theta^*}` made once, reweighted
  :math:`w_j(\theta) \propto p_\theta(x_j)/p_{\theta^*}(x_j)` (self-normalised importance
  sampling; at :math:`\theta = \theta^*` plain Monte Carlo). With Monte Carlo the mean score under
  :math:`p_{\theta^*}` is zero only up to its Monte Carlo error, so :math:`G_\lambda(\theta^*)`
  differs from :math:`\theta^*` by :math:`O(\lambda/\sqrt{n_{mc}})`, and B carries the same error.

Quadrature (per coordinate, tensor product in 2-D): the trapezoidal rule in :math:`t` after
:math:`x = c + s\sinh t` on the real line, :math:`x = \exp(c + s\sinh t)` on :math:`(0,\infty)`,
(with ``c, s`` a robust centre and scale of the data), plain sums over the support for counts and
finite supports. For integrands analytic in a strip and decaying, the trapezoidal rule converges
geometrically in :math:`1/h` (Trefethen & Weideman, SIAM Review 56, 2014, §5). The rule's
accuracy is checked by its total mass under the data and under :math:`p_{\theta^*}`; the step is
halved (and the range widened) until both masses are within ``MASS_TOL`` of one, else an error is
raised. Which rule was used is reported in ``Expectations.method``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .optim import DTYPE

__all__ = ["MASS_TOL", "Expectations", "as_generator", "build_expectations", "data_kind", "fisher_diagonal"]


# A quadrature rule whose total mass misses 1 by more than this is refined: 1e-9 keeps quadrature
# errors in A, B and G_lambda far below the finite-difference and Monte Carlo tolerances of tests.
MASS_TOL = 1e-9
_STEPS = {1: (0.02, 9.0), 2: (0.08, 6.0)}  # (h, T) of the sinh rule per data dimension
_REFINE = 3
# Per-sample gradients are computed in chunks of at most this many numbers (N_chunk x d), 32 MiB
_CHUNK = 4 * 2**20


def as_generator(seed) -> torch.Generator:
    """A ``torch.Generator`` from an int, a numpy ``Generator`` or a ``torch.Generator``."""
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**62))
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return torch.Generator().manual_seed(int(seed))
    raise ValueError(f"seed must be an int, numpy Generator or torch Generator, got {type(seed).__name__}")


def data_kind(data) -> str:
    """``"torch"``, ``"scipy"`` or ``"samples"``."""
    if isinstance(data, torch.distributions.Distribution):
        return "torch"
    if hasattr(data, "dist") and (hasattr(data, "pdf") or hasattr(data, "pmf")):
        return "scipy"
    return "samples"


def _samples(data) -> np.ndarray:
    from ..families.data import float_array

    x = float_array(data.detach().numpy() if isinstance(data, torch.Tensor) else data)
    if x is None:
        raise ValueError(f"data must be an array of numbers, got {type(data).__name__}")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"data must be a sample array of shape (n,) or (n, dim) with n >= 2, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("data must be finite, got NaN or inf in the sample")
    return x


def _density_dim(data, kind: str) -> int:
    if kind == "torch":
        return int(np.prod(data.event_shape)) if len(data.event_shape) else 1
    mean = getattr(data, "mean", None)
    m = np.atleast_1d(mean() if callable(mean) else mean)
    return m.size


def _density_log(data, kind: str, x: np.ndarray) -> np.ndarray:
    """log q(x) for points x (N, dim)."""
    if kind == "torch":
        xt = torch.as_tensor(x if len(data.event_shape) else x[:, 0], dtype=DTYPE)
        with torch.no_grad():
            return data.log_prob(xt).double().numpy()
    arg = x[:, 0] if x.shape[1] == 1 else x
    with np.errstate(divide="ignore"):
        if hasattr(data, "logpdf"):
            return np.asarray(data.logpdf(arg), dtype=float).reshape(-1)
        return np.asarray(data.logpmf(arg), dtype=float).reshape(-1)


def _centre_scale(data, kind: str, x_samples: np.ndarray | None, log: bool) -> tuple[np.ndarray, np.ndarray]:
    """Robust per-coordinate centre (median) and scale (IQR/1.349) of the data (of log x if ``log``)."""
    if x_samples is None and kind == "scipy" and hasattr(data, "ppf"):
        q = np.asarray(data.ppf([0.25, 0.5, 0.75]), dtype=float)[:, None]
    else:
        if x_samples is None:  # a density without quantiles: a fixed-seed sample for the grid only
            if kind == "torch":
                with torch.random.fork_rng():
                    torch.manual_seed(0)
                    x_samples = data.sample((4096,)).double().reshape(4096, -1).numpy()
            else:
                x_samples = np.asarray(data.rvs(size=4096, random_state=0), dtype=float).reshape(4096, -1)
        q = np.quantile(x_samples, [0.25, 0.5, 0.75], axis=0)
    if log:
        q = np.log(np.clip(q, 1e-300, None))
    scale = (q[2] - q[0]) / 1.349
    return q[1], np.where(scale > 0, scale, 1.0)


# On (0, inf) the rule spans log x in c +- LOG_SPAN: e^50 times the median either way is beyond the
# mass of any distribution the mass check accepts, and keeps x far from floating-point overflow.
LOG_SPAN = 50.0


def _sinh_rule(c: np.ndarray, s: np.ndarray, h: float, T: float, log: bool) -> tuple[np.ndarray, np.ndarray]:
    axes, vols = [], []
    for ck, sk in zip(c, s, strict=True):
        Tk = min(T, float(np.arcsinh(LOG_SPAN / sk))) if log else T
        t = np.arange(-Tk, Tk + h / 2, h)
        u = ck + sk * np.sinh(t)
        dv = sk * np.cosh(t) * h
        if log:
            with np.errstate(over="ignore"):
                x = np.exp(u)
            keep = np.isfinite(x) & (x > 0)
            u, dv, x = u[keep], dv[keep] * x[keep], x[keep]
        else:
            x = u
        axes.append(x)
        vols.append(dv)
    grids = np.meshgrid(*axes, indexing="ij")
    x = np.stack([g.ravel() for g in grids], 1)
    v = np.prod(np.stack([g.ravel() for g in np.meshgrid(*vols, indexing="ij")], 1), 1)
    return x, np.log(v)


@dataclass(frozen=True)
class Expectations:
    """Fixed points and weights for data and model expectations (see module docstring).

    ``x_data`` (n, dim) with probability weights ``w_data`` (n,); ``x_model`` (m, dim) with
    ``log_base`` (m,) so that :math:`w(\\theta) = \\mathrm{softmax}(\\text{log\\_base} + \\log p_\\theta(x))`.
    """

    x_data: torch.Tensor
    w_data: torch.Tensor
    x_model: torch.Tensor | None
    log_base: torch.Tensor | None
    method: dict
    data: object
    grid: tuple | None = None  # (centre, scale, h, T, log) of the sinh rule, when one is used

    def data_mean(self, model, theta: torch.Tensor) -> torch.Tensor:
        r""":math:`E_{data}[\log p_\theta(x)]` as a differentiable scalar."""
        return (self.w_data * model.log_prob(theta, self.x_data)).sum()

    def model_weights(self, model, theta: torch.Tensor) -> torch.Tensor:
        """Normalised weights of :math:`p_\\theta` on ``x_model``."""
        return torch.softmax(self.log_base + model.log_prob(theta, self.x_model), 0)

    def model_mean(self, model, weights: torch.Tensor, theta_prime: torch.Tensor) -> torch.Tensor:
        r""":math:`\sum_i w_i \log p_{\theta'}(x_i)` (points of zero weight are skipped)."""
        keep = weights > 0
        return (weights[keep] * model.log_prob(theta_prime, self.x_model[keep])).sum()


def _tensor(x) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x), dtype=DTYPE)


def _support_rule(model, data, kind, xs, h, T) -> tuple[np.ndarray, np.ndarray, str, tuple | None]:
    support = model.support
    if isinstance(support, tuple):
        return np.asarray(support, dtype=float)[:, None], np.zeros(len(support)), "sum over the finite support", None
    if support == "count":
        if xs is not None:
            top = xs.max()
            mean = xs.mean()
        elif kind == "scipy":
            top = data.ppf(1 - 1e-16)
            mean = data.mean()
        else:
            mean = float(data.mean)
            top = mean
        M = int(math.ceil(max(top, mean + 40 * math.sqrt(mean + 1) + 40) * (2 if T > _STEPS[1][1] else 1)))
        return np.arange(M + 1, dtype=float)[:, None], np.zeros(M + 1), f"sum over the counts 0..{M}", None
    log = support == "positive"
    c, s = _centre_scale(data, kind, xs, log)
    x, logv = _sinh_rule(c, s, h, T, log)
    where = "log x = " if log else "x = "
    how = f"trapezoidal rule in t, {where}c + s sinh(t), h={h:g}, |t|<={T:g}, {x.shape[0]} points"
    return x, logv, how, (c, s, h, T, log)


def build_expectations(
    model, data, theta_star=None, *, n_mc: int = 4096, seed=0, mass_tol: float = MASS_TOL
) -> Expectations:
    """Points and weights for ``data`` and for the model (quadrature if ``data_dim <= 2``).

    With ``data_dim > 2`` the model's Monte Carlo points are drawn from ``model.sample`` at
    ``theta_star`` (so call again once :math:`\\theta^*` is known); ``n_mc`` draws with ``seed``.
    """
    kind = data_kind(data)
    dim = model.data_dim
    xs = _samples(data) if kind == "samples" else None
    ddim = xs.shape[1] if xs is not None else _density_dim(data, kind)
    if ddim != dim:
        raise ValueError(f"data must have dimension {dim} (the model's data_dim), got {ddim}")
    method = {}
    if dim > 2:
        if xs is None:
            gen = as_generator(seed)
            if kind == "torch":
                with torch.random.fork_rng():
                    torch.manual_seed(int(torch.randint(2**62, (1,), generator=gen)))
                    xs = data.sample((n_mc,)).double().reshape(n_mc, -1).numpy()
            else:
                xs = np.asarray(data.rvs(size=n_mc, random_state=int(torch.randint(2**31, (1,), generator=gen))))
                xs = xs.reshape(n_mc, -1)
            method["data"] = f"Monte Carlo, {n_mc} draws from the data distribution"
        else:
            method["data"] = f"empirical measure of {xs.shape[0]} samples"
        x_model = log_base = None
        if theta_star is not None:
            if not hasattr(model, "sample"):
                raise ValueError("model must have sample(theta, n, generator) for data_dim > 2 (Monte Carlo)")
            th = _tensor(theta_star)
            with torch.no_grad():
                x_model = model.sample(th, n_mc, as_generator(seed)).to(DTYPE)
                log_base = -model.log_prob(th, x_model)
            method["model"] = (
                f"Monte Carlo with common random numbers: {n_mc} draws from p_theta* reweighted by p_theta/p_theta*"
            )
        w = np.full(xs.shape[0], 1.0 / xs.shape[0])
        return Expectations(_tensor(xs), _tensor(w), x_model, log_base, method, data)

    h, T = _STEPS[dim]
    for _ in range(_REFINE + 1):
        x, logv, how, grid = _support_rule(model, data, kind, xs, h, T)
        xt = _tensor(x)
        lb = _tensor(logv)
        errors = {}
        if xs is None:
            lq = _density_log(data, kind, x) + logv
            with np.errstate(under="ignore"):
                mass = float(np.exp(lq).sum())
            errors["data"] = abs(mass - 1.0)
        if theta_star is not None:
            with torch.no_grad():
                lp = model.log_prob(_tensor(theta_star), xt) + lb
            mass_m = float(torch.logsumexp(lp, 0).exp())
            errors["model"] = abs(mass_m - 1.0) if math.isfinite(mass_m) else math.inf
        if all(e <= mass_tol for e in errors.values()):
            break
        h, T = h / 2, T + 2
    else:
        raise ValueError(
            f"data/model mass not resolved by the quadrature rule ({how}): mass errors {errors}; "
            "the distribution may be too heavy-tailed or too narrow for a grid centred on the data"
        )
    method["model"] = f"quadrature: {how}; mass error {errors.get('model', float('nan')):.1e}"
    if xs is None:
        lq = _density_log(data, kind, x) + logv
        w = np.exp(lq - np.logaddexp.reduce(lq[np.isfinite(lq)]))
        keep = w > 0  # points without data mass do not enter data expectations
        x_data, w_data = x[keep], w[keep]
        method["data"] = f"quadrature on the same points; mass error {errors['data']:.1e}"
    else:
        x_data, w_data = xs, np.full(xs.shape[0], 1.0 / xs.shape[0])
        method["data"] = f"empirical measure of {xs.shape[0]} samples"
    return Expectations(_tensor(x_data), _tensor(w_data), xt, lb, method, data, grid)


def fisher_diagonal(model, x: torch.Tensor, w: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    r""":math:`\sum_i w_i (\partial_j \log p_\theta(x_i))^2` for every parameter j, shape ``(d,)``.

    The diagonal of the empirical Fisher matrix :math:`\sum_i w_i g_i g_i^T`, :math:`g_i =
    \nabla_\theta \log p_\theta(x_i)` (Martens, JMLR 21, 2020, §11): at a maximum of a
    well-specified likelihood it estimates ``diag`` of :math:`-E[\nabla^2 \log p]` (the information
    identity), so it is used as a positive diagonal scaling / Jacobi preconditioner. Per-point
    gradients by ``torch.func.vmap(torch.func.grad(...))`` (one vectorised backward pass per chunk
    of points, never a loop over points). ``x`` (N, data_dim), ``w`` (N,) weights, ``theta`` (d,);
    ``model.log_prob`` must be transformable by ``torch.func`` (else this raises).

    >>> from stability.numerical.models import ProductStudentT
    >>> x = torch.tensor([[0.0, 1.0], [2.0, -1.0]], dtype=torch.float64)
    >>> w, th = torch.full((2,), 0.5, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)
    >>> # at mu=0, s=1, nu=5: mu-score 6x/(5+x^2), log-s-score 6x^2/(5+x^2) - 1, so by hand
    >>> # (0^2 + (4/3)^2)/2 = 8/9, (1 + 1)/2 = 1, (1 + (5/3)^2)/2 = 17/9, (0 + 0)/2 = 0
    >>> fisher_diagonal(ProductStudentT(2), x, w, th)
    tensor([0.8889, 1.0000, 1.8889, 0.0000], dtype=torch.float64)
    """

    def one(th, xi):
        return model.log_prob(th, xi[None])[0]

    per_point = torch.func.vmap(torch.func.grad(one), in_dims=(None, 0))
    step = max(1, _CHUNK // max(theta.numel(), 1))
    out = torch.zeros_like(theta)
    for i in range(0, x.shape[0], step):  # chunks bound memory; each chunk is vectorised
        g = per_point(theta, x[i : i + step])
        out += (w[i : i + step, None] * g * g).sum(0)
    return out
