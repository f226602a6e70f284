r"""The constants of Theorem 1 for a numerical model: :math:`\alpha`, :math:`L`, :math:`\varepsilon`.

- :math:`\alpha = \lambda_{min}(A)` (assumption A2), from the dense :math:`A`.
- :math:`L` (A1): a Lipschitz constant of :math:`x \mapsto \nabla^2_\theta \log p_{\theta^*}(x)` in
  operator norm. Method: the maximum over a grid of :math:`\|\partial_x \nabla^2_\theta \log
  p_{\theta^*}(x)\|` (autograd; in two dimensions the bound
  :math:`(\sum_k \|\partial_{x_k} H\|_2^2)^{1/2} \ge \sup_{|u|=1}\|\sum_k u_k\partial_{x_k}H\|_2`),
  the grid spanning the box that holds all but ``LIP_QUANTILE`` of the mass of both
  :math:`p_{data}` and :math:`p_{\theta^*}` per coordinate (``LIP_GRID`` points per coordinate);
  on a discrete support the largest slope between consecutive support points. By the mean-value
  inequality the grid maximum bounds the Lipschitz constant on the box up to the grid resolution.
  The Kantorovich–Rubinstein step :math:`\|A - B\| \le L\,W_1` needs it where the two CDFs differ,
  which is (up to that mass) the box.
- :math:`\varepsilon = W_1(p_{\theta^*}, p_{data})` (A3): in 1-D exactly
  :math:`\int |F_{\theta^*} - F_{data}|\,dx`, the CDFs from cumulative sums of a fine quadrature rule
  (a sample's empirical CDF as is), summed by the trapezoidal rule; in 2-D the optimal-transport
  cost (POT, ``ot.emd2``, Euclidean ground cost) between the data (at most ``W1_POINTS`` samples, or
  a grid discretisation of its density) and a grid discretisation of :math:`p_{\theta^*}` on the
  box above. Not computed (NaN, reported) in more than two dimensions.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import InputError
from ..report import LocalConstants
from .curvature import dense_curvature
from .expectations import _density_log, _samples, _sinh_rule, _tensor, data_kind
from .operator import Retraining
from .optim import DTYPE

__all__ = [
    "LIP_GRID",
    "LIP_LOCAL",
    "LIP_QUANTILE",
    "LIP_REFINE",
    "W1_POINTS",
    "lipschitz",
    "local_constants",
    "wasserstein",
]

LIP_QUANTILE = 1e-6  # mass left outside the box where L is estimated, per side and coordinate
LIP_GRID = {1: 801, 2: 61}  # grid points per coordinate
LIP_LOCAL, LIP_REFINE = 21, 3  # zoom: points per coordinate over +-1 cell around the maximum, rounds
W1_POINTS = 1500  # cap on sample points for 2-D optimal transport (exact LP, O(n^3))
W1_GRID = 40  # grid per coordinate discretising 2-D densities for W1 (cell size ~ box/40)


def _wquantile(x: np.ndarray, w: np.ndarray, qs) -> np.ndarray:
    order = np.argsort(x)
    c = np.cumsum(w[order])
    c /= c[-1]
    return np.interp(qs, c, x[order])


def _measures(problem):
    ex, model = problem.expectations, problem.model
    th = torch.as_tensor(problem.theta_star, dtype=DTYPE)
    with torch.no_grad():
        wm = ex.model_weights(model, th).numpy()
    return (ex.x_data.numpy(), ex.w_data.numpy()), (ex.x_model.numpy(), wm)


def _box(problem, q: float) -> tuple[np.ndarray, np.ndarray]:
    (xd, wd), (xm, wm) = _measures(problem)
    lo, hi = [], []
    for k in range(xd.shape[1]):
        a = _wquantile(xd[:, k], wd, [q, 1 - q])
        b = _wquantile(xm[:, k], wm, [q, 1 - q])
        lo.append(min(a[0], b[0]))
        hi.append(max(a[1], b[1]))
    return np.array(lo), np.array(hi)


def lipschitz(problem, congruence=None, scale: float = 1.0) -> tuple[float, str]:
    r"""Estimate of L for a :class:`~.operator.Retraining` problem, and the method used.

    ``congruence`` (``M^{-1}``) and ``scale`` (``s``): the problem is fitted on standardised data
    ``z = (x - c) / s`` with parameters ``theta_z = M^{-1}(theta_x - o)``; L is then returned in
    the original units, :math:`\sup_z \|M^{-T}\partial_z H_z M^{-1}\| / s`.
    """
    model = problem.model
    th = torch.as_tensor(problem.theta_star, dtype=DTYPE)
    if getattr(model, "smooth", True) is False:
        return math.nan, f"undefined: {type(model).__name__}'s log-density is not twice differentiable in theta"
    dim = model.data_dim
    if dim > 2:
        return math.nan, "not estimated for data_dim > 2"
    lo, hi = _box(problem, LIP_QUANTILE)
    hess = torch.func.hessian(lambda t, x: model.log_prob(t, x[None])[0], argnums=0)
    if isinstance(model.support, tuple) or model.support == "count":
        pts = problem.expectations.x_model.numpy()[:, 0]
        pts = np.sort(pts[(pts >= lo[0]) & (pts <= hi[0])])
        if pts.size < 2:
            return 0.0, "single support point in the box: L = 0"
        H = torch.vmap(hess, in_dims=(None, 0))(th, _tensor(pts[:, None])).numpy()
        if congruence is not None:
            H = np.einsum("ai,gab,bj->gij", congruence, H, congruence) / scale
        slopes = np.linalg.norm(np.diff(H, axis=0), ord=2, axis=(1, 2)) / np.diff(pts)
        return float(slopes.max()), (
            f"max slope ||H(x_(k+1)) - H(x_k)||_2 / (x_(k+1) - x_k) over {pts.size} support points in "
            f"[{lo[0]:.4g}, {hi[0]:.4g}] (mass outside <= {LIP_QUANTILE:g} per side)"
        )
    m = LIP_GRID[dim]
    jac = torch.vmap(torch.func.jacfwd(hess, argnums=1), in_dims=(None, 0))

    def norm_dH(points: np.ndarray) -> np.ndarray:
        dH = jac(th, _tensor(points))  # (G, d, d, dim)
        if congruence is not None:
            Mi = torch.as_tensor(congruence, dtype=DTYPE)
            dH = torch.einsum("ai,gabk,bj->gijk", Mi, dH, Mi) / scale
        return torch.linalg.matrix_norm(dH.permute(0, 3, 1, 2), ord=2).pow(2).sum(1).sqrt().numpy()

    axes = [np.linspace(lo[k], hi[k], m) for k in range(dim)]
    step = (hi - lo) / (m - 1)
    grid = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], 1)
    vals = norm_dH(grid)
    if not np.all(np.isfinite(vals)):
        return math.nan, "x-derivative of the Hessian is NaN or infinite on the grid"
    best, where = float(vals.max()), grid[np.argmax(vals)]
    for _ in range(LIP_REFINE):  # zoom on the maximum: one grid cell either side, finer grid
        local = [np.linspace(where[k] - step[k], where[k] + step[k], LIP_LOCAL) for k in range(dim)]
        step = 2 * step / (LIP_LOCAL - 1)
        pts = np.stack([g.ravel() for g in np.meshgrid(*local, indexing="ij")], 1)
        pts = np.clip(pts, lo, hi)
        v = norm_dH(pts)
        if np.all(np.isfinite(v)) and v.max() > best:
            best, where = float(v.max()), pts[np.argmax(v)]
    box = " x ".join(f"[{a:.4g}, {b:.4g}]" for a, b in zip(lo, hi, strict=True))
    return best, (
        f"max over a {'x'.join([str(m)] * dim)} grid on {box}, refined {LIP_REFINE} times around the maximum, "
        f"of the autograd x-derivative of the theta-Hessian (operator norm"
        f"{', combined over coordinates as sqrt(sum_k ||d_k H||^2)' if dim == 2 else ''}); "
        f"the box holds all but {LIP_QUANTILE:g} of data and model mass per side"
    )


def _cdf(w: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """CDF (survival function where ``upper``) at the nodes of a trapezoidal rule with weights ``w``.

    The cumulative trapezoidal sum with the Euler-Maclaurin end correction -h^2/12 f'(t_i), f' by
    central differences: error O(h^4) instead of O(h^2).
    """
    slope = np.zeros_like(w)
    slope[1:-1] = (w[2:] - w[:-2]) / 24
    cdf = np.cumsum(w) - w / 2 - slope
    sf = np.cumsum(w[::-1])[::-1] - w / 2 + slope
    return np.where(upper, sf, cdf)


def _w1_1d(problem) -> tuple[float, str]:
    model, data = problem.model, problem.data
    ex = problem.expectations
    th = torch.as_tensor(problem.theta_star, dtype=DTYPE)
    kind = data_kind(data)
    if isinstance(model.support, tuple) or model.support == "count":
        x = ex.x_model.numpy()
        with torch.no_grad():
            pm = ex.model_weights(model, th).numpy()
        if kind == "samples":
            xs = ex.x_data.numpy()[:, 0]
            pd = np.array([(xs == v).mean() for v in x[:, 0]])
        else:
            pd = np.exp(_density_log(data, kind, x))
            pd /= pd.sum()
        diff = np.abs(np.cumsum(pm) - np.cumsum(pd))[:-1]
        return float((diff * np.diff(x[:, 0])).sum()), "exact: sum_k |F_theta*(k) - F_data(k)| (x_(k+1) - x_k)"
    # a rule 32x finer than the expectation rule, same centre, scale and range
    c, s, h, T, log = ex.grid
    h = h / 32
    x, logv = _sinh_rule(c, s, h, T, log)
    x = x[:, 0]
    with torch.no_grad():
        lp = model.log_prob(th, _tensor(x[:, None])).numpy() + logv
    wm = np.exp(lp - np.logaddexp.reduce(lp))
    # CDFs below the median, survival functions above it: no cancellation of 1 - 1 in the tails
    upper = np.arange(x.size) >= x.size // 2
    Fm = _cdf(wm, upper)
    if kind == "samples":
        xs = np.sort(ex.x_data.numpy()[:, 0])
        below = np.searchsorted(xs, x, side="right")
        Fd = np.where(upper, (xs.size - below) / xs.size, below / xs.size)
        how = "empirical CDF of the sample"
    else:
        ld = _density_log(data, kind, x[:, None]) + logv
        wd = np.exp(ld - np.logaddexp.reduce(ld[np.isfinite(ld)]))
        Fd = _cdf(wd, upper)
        how = "CDF of the data density by cumulative quadrature"
    g = np.abs(Fm - Fd)
    # trapezoidal rule in t (weights v = x'(t) h): geometric convergence away from the crossings of
    # the two CDFs, where the kinks of |F - G| cost O(h^2)
    w1 = float(np.sum(g * np.exp(logv)))
    return w1, f"1-D: integral of |F_theta* - F_data| (trapezoidal rule in t on {x.size} points, h={h:g}; {how})"


def _w1_2d(problem, seed) -> tuple[float, str]:
    from .._optional import require

    ot = require("ot", "W1 of a 2-D numerical model")

    model, data = problem.model, problem.data
    th = torch.as_tensor(problem.theta_star, dtype=DTYPE)
    lo, hi = _box(problem, 1e-4)
    axes = [np.linspace(lo[k], hi[k], W1_GRID) for k in range(2)]
    grid = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], 1)
    with torch.no_grad():
        lp = model.log_prob(th, _tensor(grid)).numpy()
    wm = np.exp(lp - np.logaddexp.reduce(lp))
    kind = data_kind(data)
    if kind == "samples":
        xs = problem.expectations.x_data.numpy()
        if xs.shape[0] > W1_POINTS:
            xs = xs[np.random.default_rng(seed).choice(xs.shape[0], W1_POINTS, replace=False)]
        wd = np.full(xs.shape[0], 1.0 / xs.shape[0])
        how = f"{xs.shape[0]} data samples"
    else:
        xs = grid
        ld = _density_log(data, kind, grid)
        wd = np.exp(ld - np.logaddexp.reduce(ld))
        how = "the data density on the same grid"
    M = ot.dist(xs, grid, metric="euclidean")
    w1 = float(ot.emd2(wd, wm, M, numItermax=10**7))
    return w1, (
        f"2-D: exact optimal transport (POT emd2) between {how} and p_theta* on a {W1_GRID}x{W1_GRID} grid over "
        f"the box holding all but 1e-4 of both masses per side (discretisation error ~ cell size)"
    )


def wasserstein(problem, *, seed: int = 0) -> tuple[float, str]:
    r""":math:`\varepsilon = W_1(p_{\theta^*}, p_{data})` and the method used (see module docstring)."""
    dim = problem.model.data_dim
    if dim == 1:
        return _w1_1d(problem)
    if dim == 2:
        return _w1_2d(problem, seed)
    return math.nan, "not estimated for data_dim > 2"


# A is declared singular when its smallest eigenvalue is below this fraction of its largest:
# rounding in autograd Hessians is ~1e-14 relative, so 1e-10 separates it from real curvature.
SINGULAR_RTOL = 1e-10


def as_numerical_data(data):
    """A :class:`~stability.families.data.GaussianMixture` as the equivalent torch mixture (which the
    expectations integrate); any other data unchanged."""
    from ..families.data import GaussianMixture

    if not isinstance(data, GaussianMixture):
        return data
    D = torch.distributions
    w, m, c = (torch.as_tensor(np.asarray(a, dtype=float), dtype=DTYPE) for a in (data.weights, data.means, data.covs))
    if data.d == 1:
        comp = D.Normal(m.reshape(-1), c.reshape(-1).sqrt())
    else:
        comp = D.MultivariateNormal(m, covariance_matrix=c)
    return D.MixtureSameFamily(D.Categorical(probs=w), comp)


def local_constants(model, data, *, seed: int = 0, n_mc: int = 4096) -> LocalConstants:
    """θ*, A, B, α, L, ε of ``model`` on ``data`` (see :mod:`.constants` for each method).

    Raises :class:`~.operator.ConvergenceError` if the fit of θ* fails and ``ValueError`` if
    :math:`A` is singular (θ* is then not a strict local maximum: the parameters are not
    identifiable); a singular Fisher information B is reported in ``details["fisher"]``.
    """
    data = as_numerical_data(data)
    std = _standardization(model, data)
    fit_data = data if std is None else (std[2] - std[0]) / std[1]
    if getattr(model, "smooth", True) is False:
        from .nonsmooth import NonSmoothRetraining, curvature_nonsmooth

        problem = NonSmoothRetraining(model, fit_data, seed=seed)
        A, B, how = curvature_nonsmooth(problem)
    else:
        problem = Retraining(model, fit_data, seed=seed, n_mc=n_mc)
        A, B = dense_curvature(problem)
        how = "autograd Hessians of the weighted log-likelihood sums"
    ev = np.linalg.eigvalsh(A)  # identifiability is judged in the standardised coordinates (scale-free)
    top = max(abs(ev).max(), np.finfo(float).tiny)
    if not np.all(np.isfinite(ev)) or ev[0] <= SINGULAR_RTOL * top:
        raise InputError(
            f"A must be positive definite at theta* (a strict local maximum), got smallest eigenvalue {ev[0]:.3g} "
            f"(largest {ev[-1]:.3g}): the parameters of {model!r} are not identifiable from these data"
        )
    theta_star, Minv, s, M, A_std, B_std = problem.theta_star, None, 1.0, None, None, None
    if std is not None:
        c, s, _ = std
        o, M = model.standardize(c, s)
        Minv = np.linalg.inv(M)
        theta_star = o + M @ theta_star
        A_std, B_std = A, B
        A, B = Minv.T @ A @ Minv, Minv.T @ B @ Minv
        # alpha = 1 / lambda_max(M A_std^-1 M^T): the largest eigenvalue is accurate where the smallest
        # of a badly scaled A is not
        ev = np.array([1.0 / np.linalg.eigvalsh(M @ np.linalg.inv(A_std) @ M.T)[-1]])
    evb = np.linalg.eigvalsh(B if B_std is None else B_std)
    rank = int((evb > SINGULAR_RTOL * max(abs(evb).max(), np.finfo(float).tiny)).sum())
    L, L_how = lipschitz(problem, congruence=Minv, scale=s)
    eps, eps_how = wasserstein(problem, seed=seed)
    eps *= s  # W1 scales with the data
    details = {
        "theta_star": (
            f"{problem.fit.method}: {problem.fit.iterations} iterations, |grad|_inf = {problem.fit.grad_norm:.2e}"
        ),
        "expectations": dict(problem.expectations.method),
        "A, B": how,
        "alpha": "smallest eigenvalue of A (numpy eigvalsh)",
        "L": L_how,
        "eps": eps_how,
        "fisher": "positive definite" if rank == B.shape[0] else f"singular (rank {rank} of {B.shape[0]})",
    }
    if std is not None:
        details["standardized"] = (
            f"fitted on z = (x - c) / s, c = {np.array2string(std[0], precision=6)}, s = {s:.6g} (the mean and "
            f"root-mean-square spread of the sample); theta*, A, B, alpha, L and eps are in the original units"
        )
    name = getattr(model, "name", type(model).__name__)
    return LocalConstants(name, theta_star, A, B, float(ev[0]), L, eps, details, M, A_std, B_std)


def _standardization(model, data):
    """``(c, s, x)`` to fit ``model`` on the standardised sample ``z = (x - c) / s``, or ``None``.

    Only for a sample (not a density) and a model that declares how its parameters follow an affine
    change of the data (``model.standardize(c, s) -> (o, M)`` with :math:`\theta_x = o + M\theta_z`).
    The fit, its stopping test and the identifiability test are then the same whatever the units
    of the data. Raises :class:`~stability.errors.InputError` for a sample whose points are all equal
    (for any model on a continuous support).
    """
    if data_kind(data) != "samples":
        return None
    x = _samples(data)
    continuous = model.support in ("real", "positive")
    c = x.mean(axis=0)
    s = float(np.sqrt(np.mean((x - c) ** 2)))
    if continuous and not s > 0:
        raise InputError(
            f"data are degenerate: all {x.shape[0]} points are equal, so {model!r} has no maximum-likelihood fit"
        )
    if not hasattr(model, "standardize") or not (np.isfinite(s) and s > 0):
        return None
    return c, s, x
