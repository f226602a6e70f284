r"""Gaussian families in :math:`d` dimensions: full covariance and diagonal covariance.

**Full** (:class:`Gaussian`): :math:`p_\theta(x) \propto \exp(\eta\cdot x - \tfrac12 x^\top\Lambda x)`
with precision :math:`\Lambda = \Sigma^{-1}` and :math:`\eta = \Lambda m`. The natural parameter
vector is :math:`\theta = (\eta_1..\eta_d, \Lambda_{ij}\ (i\le j))` (upper triangle, row major),
with sufficient statistic :math:`T = (x_i, -c_{ij} x_i x_j)`, :math:`c_{ii} = 1/2`,
:math:`c_{ij} = 1` otherwise, so :math:`\theta\cdot T(x) = \eta\cdot x - \tfrac12 x^\top\Lambda x`.
Log-partition :math:`A(\theta) = \tfrac12\eta^\top\Lambda^{-1}\eta - \tfrac12\log\det\Lambda
+ \tfrac d2\log 2\pi`; mean parameters :math:`\mu = (m, -c_{ij} S_{ij})`, :math:`S = \Sigma + m m^\top`.
Fisher information :math:`\mathrm{Cov}(T)` from Isserlis' theorem:
:math:`\mathrm{Cov}(x_i, x_k x_l) = m_k\Sigma_{il} + m_l\Sigma_{ik}` and
:math:`\mathrm{Cov}(x_i x_j, x_k x_l) = \Sigma_{ik}\Sigma_{jl} + \Sigma_{il}\Sigma_{jk} + m_i m_k\Sigma_{jl}
+ m_i m_l\Sigma_{jk} + m_j m_k\Sigma_{il} + m_j m_l\Sigma_{ik}`.

**Diagonal** (:class:`GaussianDiag`): :math:`\theta = (\eta_1..\eta_d, \Lambda_{11}..\Lambda_{dd})`,
:math:`T = (x_i, -x_i^2/2)`; per coordinate the Fisher block is
:math:`\begin{pmatrix} s^2 & -m s^2 \\ -m s^2 & s^4/2 + m^2 s^2\end{pmatrix}`.

The fixed point is the Gaussian with the data's mean and (maximum-likelihood) covariance, whatever
the data are (a mixture, a sample, ...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import linalg, stats

from .._domains import check, check_scalar
from ..errors import InputError, check_memory
from ..jacobian import check_spd
from ..report import LocalConstants
from . import samplers
from ._simulation import NAIVE_BLOCK_FLOATS, Points
from .base import ExponentialFamily
from .data import GaussianMixture, Moments, as_sample, check_real, is_scipy_distribution
from .wasserstein import w1_cdf_quadrature, w1_pot, w1_sample_continuous

if TYPE_CHECKING:  # torch is imported where a torch hook runs, never by this module
    import torch

__all__ = ["Gaussian", "GaussianDiag", "GaussianSimulation", "gaussian_params"]

# A covariance whose condition number exceeds 1e13 has lost all but ~3 significant digits in
# double precision; such data are treated as degenerate rather than fitted.
COND_MAX = 1e13
# Rounding in the sample covariance of points of magnitude s is ~ (1e-16 s)^2; a variance below
# (1e-12 s)^2 cannot come from genuinely spread data.
VAR_FLOOR = 1e-12

DEGENERATE = "all points equal, or fewer than d + 1 points in d dimensions"


def _check_spd_cov(name: str, cov: np.ndarray, what: str) -> np.ndarray:
    cov = np.asarray(cov, dtype=float)
    if not np.all(np.isfinite(cov)):
        raise ValueError(f"{name} must be finite, got NaN or inf")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=0):  # rounding in a user-built matrix
        raise ValueError(f"{name} must be symmetric")
    ev = np.linalg.eigvalsh(cov)
    if ev[0] <= 0 or ev[0] <= ev[-1] / COND_MAX:
        raise ValueError(f"{name} must be positive definite, got smallest eigenvalue {ev[0]:.3g}{what}")
    return (cov + cov.T) / 2


class _GaussianBase(ExponentialFamily):
    _full_covariance = True
    size_option = "d"

    @classmethod
    def infer_size(cls, data) -> int:
        if isinstance(data, GaussianMixture):
            return data.d
        if isinstance(data, Moments):
            return int(np.atleast_1d(data.mean).size)
        if is_scipy_distribution(data):
            return 1
        try:
            shape = np.shape(data)
        except ValueError:  # ragged: the family's own validation names the problem
            return 1
        return 1 if len(shape) <= 1 else int(shape[1])

    def __init__(self, d: int = 1, seed: int = 0, w1_points: int = 1000):
        super().__init__(seed=seed, w1_points=w1_points)
        self.d = int(check("d", d))
        p = self.d + self.d * (self.d + 1) // 2 if self._full_covariance else 2 * self.d
        # the Fisher information is p x p; a few such matrices live at once
        check_memory(8.0 * 4 * p * p, f"a {self.name} family in d = {self.d} ({p} parameters)", "lower d (--dim)")

    def _finite_natural(self, theta) -> np.ndarray:
        """``theta`` as a finite float vector of length :attr:`dim` (the checks both Gaussians share)."""
        theta = np.asarray(theta, dtype=float)
        if theta.shape != (self.dim,):
            raise ValueError(f"theta must have shape ({self.dim},) for d = {self.d}, got {theta.shape}")
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta must be finite, got NaN or inf")
        return theta

    # ---- data
    def check_sample(self, x) -> np.ndarray:
        x = as_sample(x)
        if x.ndim == 1:
            x = x[:, None]
        if x.shape[1] != self.d:
            raise ValueError(f"data must have shape (n, {self.d}) for a {self.d}-dimensional Gaussian, got {x.shape}")
        return x

    def _data_mean_cov(self, data) -> tuple[np.ndarray, np.ndarray]:
        """Mean (d,) and covariance (d, d) of the data, closed form."""
        d = self.d
        if isinstance(data, Moments):
            m = np.atleast_1d(data.mean)
            if data.cov is None:
                raise ValueError("Moments for a Gaussian need cov")
            c = np.asarray(data.cov, dtype=float)
            c = np.diag(c) if (c.ndim == 1 and d > 1) else c.reshape(d, d) if c.size == d * d else c
            if m.shape != (d,) or c.shape != (d, d):
                raise ValueError(f"Moments must have mean shape ({d},) and cov ({d}, {d}), got {m.shape}, {c.shape}")
            return m, c
        if isinstance(data, GaussianMixture):
            if data.d != d:
                raise ValueError(f"data must be {d}-dimensional, got a mixture in d = {data.d}")
            return data.mean(), data.cov()
        if is_scipy_distribution(data):
            if d != 1:
                raise ValueError(f"a scipy distribution is one-dimensional, the Gaussian has d = {d}")
            m, v = float(data.mean()), float(data.var())
            if not (np.isfinite(m) and np.isfinite(v)):
                raise ValueError("data distribution must have a finite mean and variance")
            return np.array([m]), np.array([[v]])
        x = self.check_sample(data)
        n = x.shape[0]
        if n < d + 1:
            raise ValueError(
                f"data are degenerate: {n} points in d = {d} dimensions cannot fit a covariance "
                f"(need at least d + 1 = {d + 1})"
            )
        m = x.mean(axis=0)
        c = np.atleast_2d(np.cov(x, rowvar=False, bias=True))
        scale = float(np.abs(x - m).max())  # the spread, not the location: shifting data changes nothing
        if np.linalg.eigvalsh(c)[0] <= (VAR_FLOOR * scale) ** 2:
            raise ValueError(f"data are degenerate: the sample covariance is singular ({DEGENERATE})")
        return m, c

    def local_constants(self, data) -> LocalConstants:
        """As :meth:`ExponentialFamily.local_constants`, computed on standardised data for a sample.

        For a sample, :math:`\theta^*`, the Fisher information and :math:`W_1` are computed on
        :math:`z = (x - c)/s` (``c`` the mean, ``s`` the root-mean-square spread) and mapped back to
        the original units by the linear map :math:`\theta_x = M\theta_z` of natural parameters, so
        shifting or rescaling the data does not change whether it is accepted; the Jacobian is
        computed in the standardised coordinates (``basis``, ``A_std``, ``B_std``).
        """
        if isinstance(data, Moments) or isinstance(data, GaussianMixture) or is_scipy_distribution(data):
            return super().local_constants(data)
        x = self.check_sample(data)
        c = x.mean(axis=0)
        s = float(np.sqrt(np.mean((x - c) ** 2)))
        if not s > 0:  # all points equal: the unstandardised path says why the data are degenerate
            return super().local_constants(data)
        z = super().local_constants((x - c) / s)
        M = np.stack([self._natural_to_x(e, c, s) for e in np.eye(self.dim)], axis=1)
        Minv = np.linalg.inv(M)
        F = Minv.T @ z.A @ Minv
        alpha = 1.0 / np.linalg.eigvalsh(M @ np.linalg.inv(z.A) @ M.T)[-1]
        theta = self._natural_to_x(z.theta_star, c, s)
        details = dict(z.details)
        details["params"] = {k: np.asarray(v).tolist() for k, v in self.params(theta).items()}
        details["standardized"] = (
            f"computed on z = (x - c) / s, c = {np.array2string(c, precision=6)}, s = {s:.6g}; theta*, A = B, "
            f"alpha and eps in the original units (alpha = 1 / lambda_max(A^-1))"
        )
        return LocalConstants(self.name, theta, F, F, float(alpha), 0.0, s * z.eps, details, M, z.A, z.B)

    def _natural_to_x(self, theta_z, c, s) -> np.ndarray:
        r"""Natural parameters for ``x = c + s z`` from those for ``z`` (a linear map): precision
        :math:`P_x = P_z/s^2`, :math:`\eta_x = \eta_z/s + P_z c/s^2`."""
        d = self.d
        eta, rest = theta_z[:d], theta_z[d:]
        P = self._precision_matrix(rest)
        return np.concatenate([eta / s + P @ c / s**2, rest / s**2])

    def _quad_mean_second(self, dist) -> tuple[np.ndarray, np.ndarray]:
        """E[x] and E[x x^T] by quadrature: scipy ``expect`` or Gauss-Hermite for a mixture."""
        if isinstance(dist, GaussianMixture):
            if dist.d != self.d:
                raise ValueError(f"data must be {self.d}-dimensional, got a mixture in d = {dist.d}")
            nodes, w = dist.gauss_hermite(order=8 if self.d > 2 else 20)  # exact for degree <= 2
            return w @ nodes, np.einsum("n,ni,nj->ij", w, nodes, nodes)
        if self.d != 1:
            raise ValueError(f"a scipy distribution is one-dimensional, the Gaussian has d = {self.d}")
        m1 = dist.expect(lambda t: t)
        m2 = dist.expect(lambda t: t * t)
        return np.array([m1]), np.array([[m2]])

    # ---- W1
    def w1(self, theta, data) -> tuple[float, str]:
        p = self.params(theta)
        m, cov = p["mean"], np.atleast_2d(p["cov"])
        if isinstance(data, Moments):
            return float("nan"), "undefined: data given by moments only"
        if self.d == 1:
            g = stats.norm(m[0], np.sqrt(cov[0, 0]))
            if isinstance(data, GaussianMixture) or is_scipy_distribution(data):
                v, err = w1_cdf_quadrature(data.cdf, g.cdf, [m[0], float(np.ravel(data.mean())[0])])
                return v, f"integral of |F_data - F_model| by scipy.integrate.quad (abs. error estimate {err:.1e})"
            x = self.check_sample(data)[:, 0]
            sd = float(np.sqrt(cov[0, 0]))
            v = w1_sample_continuous(x, g.cdf, g.ppf, lambda q: m[0] * g.cdf(q) - sd**2 * g.pdf(q), float(m[0]))
            return v, f"exact W1 between the {x.size}-point empirical measure and the model (quantile formula)"
        rng = np.random.default_rng(self.seed)
        if isinstance(data, GaussianMixture):
            x = data.sample(self.w1_points, rng)
        elif is_scipy_distribution(data):  # pragma: no cover - rejected earlier for d > 1
            raise ValueError("a scipy distribution is one-dimensional")
        else:
            x = self.check_sample(data)
            if x.shape[0] > self.w1_points:
                x = x[rng.choice(x.shape[0], self.w1_points, replace=False)]
        y = self.sample(theta, x.shape[0], rng)
        v = w1_pot(x, y)
        return v, (
            f"POT ot.emd2 between {x.shape[0]} data points and {y.shape[0]} model samples (seed {self.seed}): "
            f"exact OT between empirical measures, a plug-in estimate of W1 with bias of order n^(-1/d)"
        )


class Gaussian(_GaussianBase):
    """Gaussian with full covariance in ``d`` dimensions (see the module docstring).

    >>> g = Gaussian(d=2)
    >>> theta = g.natural_from(mean=[1.0, -1.0], cov=[[2.0, 0.5], [0.5, 1.0]])
    >>> np.round(g.params(g.natural(g.mean(theta)))["cov"], 12).tolist()
    [[2.0, 0.5], [0.5, 1.0]]
    """

    name = "gaussian"
    defaults = {"mean": None, "cov": None}  # N(0, I_d)
    curates = True
    sum_statistic = False  # mean and scatter matrix (GaussianSimulation)
    numerical = True

    # --- the torch hooks: T = (x_i, -c_ij x_i x_j), A = eta^T Lambda^-1 eta / 2 - log det Lambda / 2
    # + d log(2 pi) / 2; NaN where Lambda is not positive definite
    def torch_statistic(self, x) -> torch.Tensor:
        return torch_cat(x, -torch_as(self._c, x) * x[:, self._I] * x[:, self._J])

    def torch_log_partition(self, theta) -> torch.Tensor:
        import torch

        d = self.d
        eta, rest = theta[:d], theta[d:]
        if d == 1:  # Lambda is the scalar theta_2 (log of a negative: NaN)
            return eta[0] ** 2 / (2 * rest[0]) - 0.5 * torch.log(rest[0]) + 0.5 * np.log(2 * np.pi)
        idx = (torch.as_tensor(self._I), torch.as_tensor(self._J))
        P = theta.new_zeros((d, d)).index_put(idx, rest).index_put(idx[::-1], rest)
        L, info = torch.linalg.cholesky_ex(P)
        if int(info) != 0:
            return theta.new_tensor(float("nan"))
        y = torch.linalg.solve_triangular(L, eta[:, None], upper=False)[:, 0]
        return 0.5 * y @ y - torch.log(torch.diagonal(L)).sum() + 0.5 * d * np.log(2 * np.pi)

    def torch_sample(self, theta, n: int, generator) -> torch.Tensor:
        r"""Exact draws :math:`x = \Lambda^{-1}\eta + \Lambda^{-1/2}z` (d = 1).

        ``theta`` (2,) or (..., 2); returns (..., n, 1).
        """
        import torch

        if self.d != 1:
            raise NotImplementedError("the torch Gaussian samples in d = 1 only")
        var = 1.0 / theta[..., 1]
        z = torch.randn((*theta.shape[:-1], int(n)), generator=generator, dtype=theta.dtype)
        return (theta[..., 0, None] * var[..., None] + torch.sqrt(var)[..., None] * z)[..., None]

    def initial_theta(self, x, w) -> np.ndarray:
        m = (w[:, None] * x).sum(0)
        if self.d == 1:  # the weighted moments, the variance floored (all points equal: huge, finite)
            v = max(np.sqrt((w * (x[:, 0] - m[0]) ** 2).sum()) ** 2, 1e-300)
            return np.array([m[0] / v, 1.0 / v])
        C = (w[:, None, None] * (x - m)[:, :, None] * (x - m)[:, None, :]).sum(0)
        return self.natural_from(m, C)

    @classmethod
    def simulation(cls, params=None, dim: int | None = None) -> GaussianSimulation:
        """The simulator's Gaussian: mean and covariance of ``params`` (``data=`` of :func:`stability.simulate`)."""
        return GaussianSimulation(*gaussian_params(params, dim, "data"))

    def __init__(self, d: int = 1, seed: int = 0, w1_points: int = 1000):
        super().__init__(d=d, seed=seed, w1_points=w1_points)
        self._I, self._J = np.triu_indices(self.d)
        self._c = np.where(self._I == self._J, 0.5, 1.0)

    @property
    def dim(self) -> int:
        return self.d + self.d * (self.d + 1) // 2

    def _precision_matrix(self, rest: np.ndarray) -> np.ndarray:
        return self._sym(rest)

    def _sym(self, v: np.ndarray) -> np.ndarray:
        M = np.zeros((self.d, self.d))
        M[self._I, self._J] = v
        M[self._J, self._I] = v
        return M

    def _split(self, theta):
        return theta[: self.d], self._sym(theta[self.d :])

    def check_natural(self, theta) -> np.ndarray:
        theta = self._finite_natural(theta)
        _check_spd_cov("precision (natural parameter)", self._sym(theta[self.d :]), "")
        return theta

    def natural_from(self, mean, cov) -> np.ndarray:
        """Natural parameters of :math:`N(m, \\Sigma)`; ``cov`` must be positive definite."""
        m = np.asarray(mean, dtype=float).reshape(-1)
        c = np.atleast_2d(np.asarray(cov, dtype=float))
        if m.shape != (self.d,) or c.shape != (self.d, self.d):
            raise ValueError(f"mean must have shape ({self.d},) and cov ({self.d}, {self.d}), got {m.shape}, {c.shape}")
        if not np.all(np.isfinite(m)):
            raise ValueError("mean must be finite, got NaN or inf")
        c = _check_spd_cov("cov", c, "")
        prec = linalg.cho_solve(linalg.cho_factor(c), np.eye(self.d))
        prec = (prec + prec.T) / 2
        return np.concatenate([prec @ m, prec[self._I, self._J]])

    def reference_point(self) -> np.ndarray:
        return self.natural_from(np.zeros(self.d), np.eye(self.d))

    def statistic(self, x) -> np.ndarray:
        x = self.check_sample(x)
        return np.concatenate([x, -self._c * x[:, self._I] * x[:, self._J]], axis=1)

    def _cov(self, theta) -> tuple[np.ndarray, np.ndarray]:
        eta, prec = self._split(theta)
        fac = linalg.cho_factor(prec)
        cov = linalg.cho_solve(fac, np.eye(self.d))
        return linalg.cho_solve(fac, eta), (cov + cov.T) / 2

    def log_partition(self, theta) -> float:
        eta, prec = self._split(self.check_natural(theta))
        fac = linalg.cho_factor(prec)
        logdet = 2.0 * np.sum(np.log(np.diag(fac[0])))
        return float(0.5 * eta @ linalg.cho_solve(fac, eta) - 0.5 * logdet + 0.5 * self.d * np.log(2 * np.pi))

    def mean(self, theta) -> np.ndarray:
        m, cov = self._cov(self.check_natural(theta))
        S = cov + np.outer(m, m)
        return np.concatenate([m, -self._c * S[self._I, self._J]])

    def natural(self, mu) -> np.ndarray:
        mu = np.asarray(mu, dtype=float)
        if mu.shape != (self.dim,) or not np.all(np.isfinite(mu)):
            raise ValueError(f"mean parameters must be finite with shape ({self.dim},), got {mu.shape}")
        m = mu[: self.d]
        cov = self._sym(-mu[self.d :] / self._c) - np.outer(m, m)
        cov = _check_spd_cov("data covariance", cov, f": data are degenerate ({DEGENERATE})")
        return self.natural_from(m, cov)

    def fisher(self, theta) -> np.ndarray:
        m, S = self._cov(self.check_natural(theta))
        d, I, J, c = self.d, self._I, self._J, self._c
        F = np.empty((self.dim, self.dim))
        F[:d, :d] = S
        k = np.arange(d)[:, None]
        cross = -c * (m[J] * S[k, I] + m[I] * S[k, J])  # Cov(x_k, -c_ij x_i x_j)
        F[:d, d:] = cross
        F[d:, :d] = cross.T
        i, j = I[:, None], J[:, None]
        kk, ll = I[None, :], J[None, :]
        quad = (
            S[i, kk] * S[j, ll]
            + S[i, ll] * S[j, kk]
            + m[i] * m[kk] * S[j, ll]
            + m[i] * m[ll] * S[j, kk]
            + m[j] * m[kk] * S[i, ll]
            + m[j] * m[ll] * S[i, kk]
        )
        F[d:, d:] = c[:, None] * c[None, :] * quad
        return F

    def sample(self, theta, size: int, seed=None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        m, cov = self._cov(self.check_natural(theta))
        return m + rng.standard_normal((int(size), self.d)) @ np.linalg.cholesky(cov).T

    def params(self, theta) -> dict:
        m, cov = self._cov(self.check_natural(theta))
        return {"mean": m, "cov": cov}

    def expected_statistic(self, data) -> np.ndarray:
        m, cov = self._data_mean_cov(data)
        S = cov + np.outer(m, m)
        return np.concatenate([m, -self._c * S[self._I, self._J]])

    def _integrate_statistic(self, dist) -> np.ndarray:
        m, S = self._quad_mean_second(dist)
        return np.concatenate([m, -self._c * S[self._I, self._J]])


class GaussianDiag(_GaussianBase):
    """Gaussian with diagonal covariance in ``d`` dimensions (see the module docstring).

    >>> g = GaussianDiag(d=2)
    >>> theta = g.natural_from(mean=[0.0, 1.0], var=[1.0, 4.0])
    >>> theta.tolist()  # (eta, precisions)
    [0.0, 0.25, 1.0, 0.25]
    """

    name = "gaussian-diag"
    _full_covariance = False

    @property
    def dim(self) -> int:
        return 2 * self.d

    def check_natural(self, theta) -> np.ndarray:
        theta = self._finite_natural(theta)
        if np.any(theta[self.d :] <= 0):
            raise ValueError("precisions (natural parameters theta[d:]) must be > 0")
        return theta

    def _precision_matrix(self, rest: np.ndarray) -> np.ndarray:
        return np.diag(rest)

    def natural_from(self, mean, var) -> np.ndarray:
        """Natural parameters of :math:`N(m, \\mathrm{diag}(v))`; variances must be > 0."""
        m = np.asarray(mean, dtype=float).reshape(-1)
        v = np.asarray(var, dtype=float).reshape(-1)
        if m.shape != (self.d,) or v.shape != (self.d,):
            raise ValueError(f"mean and var must have shape ({self.d},), got {m.shape}, {v.shape}")
        if not (np.all(np.isfinite(m)) and np.all(np.isfinite(v))):
            raise ValueError("mean and var must be finite, got NaN or inf")
        if np.any(v <= 0):
            raise ValueError(f"var must be > 0, got {v.min()!r}")
        return np.concatenate([m / v, 1.0 / v])

    def reference_point(self) -> np.ndarray:
        return self.natural_from(np.zeros(self.d), np.ones(self.d))

    def statistic(self, x) -> np.ndarray:
        x = self.check_sample(x)
        return np.concatenate([x, -0.5 * x * x], axis=1)

    def _mv(self, theta):
        theta = self.check_natural(theta)
        v = 1.0 / theta[self.d :]
        return theta[: self.d] * v, v

    def log_partition(self, theta) -> float:
        theta = self.check_natural(theta)
        eta, prec = theta[: self.d], theta[self.d :]
        return float(np.sum(0.5 * eta**2 / prec - 0.5 * np.log(prec) + 0.5 * np.log(2 * np.pi)))

    def mean(self, theta) -> np.ndarray:
        m, v = self._mv(theta)
        return np.concatenate([m, -0.5 * (v + m * m)])

    def natural(self, mu) -> np.ndarray:
        mu = np.asarray(mu, dtype=float)
        if mu.shape != (self.dim,) or not np.all(np.isfinite(mu)):
            raise ValueError(f"mean parameters must be finite with shape ({self.dim},), got {mu.shape}")
        m = mu[: self.d]
        v = -2.0 * mu[self.d :] - m * m
        scale = np.maximum(np.abs(m), np.sqrt(np.abs(-2.0 * mu[self.d :])))
        bad = v <= (VAR_FLOOR * scale) ** 2
        if np.any(bad):
            i = int(np.argmax(bad))
            raise ValueError(f"data are degenerate: the variance of coordinate {i} is {v[i]:.3g} (all values equal)")
        return self.natural_from(m, v)

    def fisher(self, theta) -> np.ndarray:
        m, v = self._mv(theta)
        d = self.d
        F = np.zeros((2 * d, 2 * d))
        idx = np.arange(d)
        F[idx, idx] = v
        F[idx, d + idx] = F[d + idx, idx] = -m * v
        F[d + idx, d + idx] = 0.5 * v * v + m * m * v
        return F

    def sample(self, theta, size: int, seed=None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        m, v = self._mv(theta)
        return m + np.sqrt(v) * rng.standard_normal((int(size), self.d))

    def params(self, theta) -> dict:
        m, v = self._mv(theta)
        return {"mean": m, "cov": np.diag(v)}

    def _data_mean_var(self, data):
        if isinstance(data, Moments) and data.cov is not None and np.ndim(data.cov) == 1:
            data = Moments(mean=data.mean, cov=np.diag(data.cov))
        if isinstance(data, Moments) or isinstance(data, GaussianMixture) or is_scipy_distribution(data):
            m, c = self._data_mean_cov(data)
            return m, np.diag(c).copy()
        x = self.check_sample(data)
        if x.shape[0] < 2:
            raise ValueError(f"data are degenerate: {x.shape[0]} point cannot fit a variance (need at least 2)")
        return x.mean(axis=0), x.var(axis=0)

    def expected_statistic(self, data) -> np.ndarray:
        m, v = self._data_mean_var(data)
        return np.concatenate([m, -0.5 * (v + m * m)])

    def _integrate_statistic(self, dist) -> np.ndarray:
        m, S = self._quad_mean_second(dist)
        return np.concatenate([m, -0.5 * np.diag(S)])


def torch_cat(a, b):
    import torch

    return torch.cat([a, b], 1)


def torch_as(v: np.ndarray, like):
    import torch

    return torch.as_tensor(v, dtype=like.dtype)


# ---------------------------------------------------------------- the simulator's Gaussian (docs/theory.md §6)


def gaussian_params(params, dim, name) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of ``params``: a dict ``{"mean", "cov"}`` (defaults :math:`N(0, I_d)`),
    a sample, a frozen scipy distribution or :class:`~stability.families.Moments` (its Gaussian fit)."""
    if params is not None and not isinstance(params, dict):  # a sample, a frozen scipy distribution, Moments
        fam = Gaussian.for_data(params)
        params = fam.params(fam.fixed_point(params))
    params = dict(params or {})
    unknown = set(params) - {"mean", "cov"}
    if unknown:
        raise ValueError(f"{name} for family 'gaussian' takes keys ['cov', 'mean'], got {sorted(unknown)}")
    mean = params.get("mean")
    cov = params.get("cov")
    if dim is None:
        dim = np.size(mean) if mean is not None else (np.shape(cov)[0] if cov is not None else 1)
    d = int(check_scalar("dim", dim))
    check_memory(8.0 * 4 * d * d, f"a Gaussian of dimension dim = {d}", "lower dim", param="dim")
    for key, value in (("mean", mean), ("cov", cov)):
        check_real(value, f"{name}[{key!r}]")
        try:
            np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"{name}[{key!r}] must be an array of numbers, got {value!r}") from None
    mean = np.zeros(d) if mean is None else np.asarray(mean, dtype=float).reshape(-1)
    if mean.shape != (d,) or not np.all(np.isfinite(mean)):
        raise ValueError(f"{name}['mean'] must be a finite vector of length dim={d}, got shape {mean.shape}")
    cov = np.eye(d) if cov is None else check_spd(f"{name}['cov']", np.atleast_2d(np.asarray(cov, dtype=float)))
    if cov.shape != (d, d):
        raise ValueError(f"{name}['cov'] must have shape ({d}, {d}), got {cov.shape}")
    return mean, cov


class GaussianSimulation:
    r"""The data distribution :math:`N(\mu_d, \Sigma_d)` as :func:`stability.simulate` runs it.

    Statistics: the count, the mean and the scatter matrix (exact: drawn from their law,
    :func:`~stability.families.samplers.gaussian_stats`; naive: raw sums of drawn points).
    """

    family = Gaussian
    name = Gaussian.name

    def __init__(self, mean: np.ndarray, cov: np.ndarray):
        self.data_mean, self.data_cov = mean, cov

    @property
    def dim(self) -> int:
        return self.data_mean.size

    def initial(self, init, dim=None) -> tuple[np.ndarray, np.ndarray]:
        """The model of generation 0: ``init`` (a dict of parameters or data) or the data distribution."""
        if init is not None and not isinstance(init, dict):
            mean, cov = gaussian_params(init, None, "init")
            init = {"mean": mean, "cov": cov}
        return gaussian_params({"mean": self.data_mean, "cov": self.data_cov} | dict(init or {}), self.dim, "init")

    def check_round(self, per_round: int, what: str, scheme: str, param: str = "n") -> None:
        """Every round fits a full covariance: at least :math:`d + 1` points (``param``: the parameter to blame)."""
        d = self.dim
        if per_round < d + 1:
            raise InputError(
                f"{what} must be >= dim + 1 = {d + 1} to fit a full covariance (scheme {scheme!r}), got {per_round}",
                param=param,
            )

    def cost(self, K: int = 1) -> tuple[int, int]:
        """Floats drawn per point (``K`` candidates per kept point) and stored per chain and generation."""
        d = self.dim
        return d * K, d * d + d + 3

    def kernel(self, start, method: str, subsample: bool, G: int, C: int, estimator: str, n: int, k: int) -> object:
        """The retraining loop's kernel: exact statistics, drawn points' raw sums, or a pool of points."""
        mu0, cov0 = start
        if subsample:
            return _GaussianPoints(self.data_mean, self.data_cov, mu0, cov0, G, C, estimator, n, k)
        cls = _GaussianExact if method == "exact" else _GaussianNaive
        return cls(self.data_mean, self.data_cov, mu0, cov0, G, C, estimator, n, k)

    def stationary_variance(self) -> tuple[np.ndarray, int]:
        r"""Covariance of one point's statistics :math:`(x, x_ix_j)_{i\le j}` (Isserlis, centred at the
        mean) and the number of free parameters :math:`d + d(d+1)/2`."""
        S = self.data_cov
        i, j = np.triu_indices(self.dim)
        cov_block = (
            S[i[:, None], i[None, :]] * S[j[:, None], j[None, :]]
            + S[i[:, None], j[None, :]] * S[j[:, None], i[None, :]]
        )
        return linalg.block_diag(S, cov_block), self.dim + i.size

    def correction(self) -> dict:
        """The arguments of :func:`~stability.dynamics.correction.correct_kernel` for the Gaussian."""
        return dict(data_params=(self.data_mean, self.data_cov), spec=None, parse_gaussian=gaussian_params)

    def result(self, kernel, real) -> dict:
        """The fields of :class:`~stability.dynamics.SimulationResult` the Gaussian fills."""
        real_mean, real_cov = (None, None) if real is None else kernel.real_fit(real)
        return dict(
            cov=kernel.cov,
            collapsed=kernel.collapsed,
            data_mean=self.data_mean,
            data_cov=self.data_cov,
            spec=None,
            real_mean=real_mean,
            real_cov=real_cov,
        )


def _divisor(N, estimator):
    return N if estimator == "mle" else N - 1


def _outer(v):
    return v[:, :, None] * v[:, None, :]


def _sym(T):
    return 0.5 * (T + T.transpose(0, 2, 1))


class _Gaussian:
    """Per-generation Gaussian arrays, the data's Cholesky factor and the collapse floor (the data's
    smallest variance); each fitted covariance is factored once, for the next draw and the collapse flag."""

    def __init__(self, mu_d, cov_d, mu0, cov0, G, C, estimator, n, k):
        d = mu_d.size
        self.mean = np.empty((G + 1, C, d))
        self.cov = np.empty((G + 1, C, d, d))
        self.collapsed = np.zeros((G + 1, C), dtype=bool)
        self.mean[0], self.cov[0] = mu0, cov0
        self.mu_d, self.estimator = mu_d, estimator
        self.Ld = np.linalg.cholesky(cov_d)
        self.floor = float(np.linalg.eigvalsh(cov_d)[0])
        self.mu_dc = np.broadcast_to(mu_d, (C, d))
        self.L, self.collapsed[0] = samplers.sqrt_factor(self.cov[0], self.floor)

    def _store(self, t, mean, T, N):
        self.mean[t] = mean
        self.cov[t] = _sym(T) / _divisor(N, self.estimator)
        self.L, self.collapsed[t] = samplers.sqrt_factor(self.cov[t], self.floor)


class _GaussianExact(_Gaussian):
    r"""Statistics ``(N, mean, scatter)`` drawn from their law; pooled by the centred identity
    :math:`M = M_1 + \tfrac{N_2}{N}\delta`, :math:`T = T_1 + T_2 + \tfrac{N_1N_2}{N}\delta\delta^\top`."""

    def real(self, rng, m):
        return (m, *samplers.gaussian_stats(rng, self.mu_dc, self.Ld, m))

    def synthetic(self, rng, t, m):
        return self.draw(rng, self.mean[t], self.L, m)

    @staticmethod
    def draw(rng, mean, L, m):
        return (m, *samplers.gaussian_stats(rng, mean, L, m))

    @staticmethod
    def scale(a, c):
        """The statistics with every point's weight multiplied by ``c`` (count and scatter scale)."""
        return a[0] * c, a[1], a[2] * c

    @staticmethod
    def join(a, b):
        (N1, M1, T1), (N2, M2, T2) = a, b
        N = N1 + N2
        delta = M2 - M1
        return N, M1 + (N2 / N) * delta, T1 + T2 + (N1 * N2 / N) * _outer(delta)

    def fit(self, t, stats):
        N, M, T = stats
        self._store(t, M, T, N)

    def real_fit(self, stats):
        N, M, T = stats
        return M, _sym(T) / N


def _raw_sums(rng, mean, L, m, shift, block):
    """Draw ``m`` points per chain of N(mean, LL^T), in blocks of chains: sum of x - shift and of its outer product.

    When one chain's ``m`` points exceed :data:`NAIVE_BLOCK_FLOATS` numbers, each chain's points are
    drawn in chunks of that size (memory bounded whatever ``m``).
    """
    C, d = mean.shape
    S1 = np.zeros((C, d))
    S2 = np.zeros((C, d, d))
    L = np.broadcast_to(L, (C, d, d))
    chunk = max(1, NAIVE_BLOCK_FLOATS // d)
    for lo in range(0, C, block):
        sl = slice(lo, lo + block)
        for start in range(0, m, chunk):
            z = rng.standard_normal((mean[sl].shape[0], min(chunk, m - start), d))
            x = (mean[sl] - shift)[:, None, :] + z @ L[sl].transpose(0, 2, 1)
            S1[sl] += x.sum(axis=1)
            S2[sl] += np.einsum("cmi,cmj->cij", x, x)
    return S1, S2


class _GaussianNaive(_Gaussian):
    """Statistics ``(N, sum x, sum x x^T)`` of drawn points centred at the data mean; pooled by addition."""

    def __init__(self, mu_d, cov_d, mu0, cov0, G, C, estimator, n, k):
        super().__init__(mu_d, cov_d, mu0, cov0, G, C, estimator, n, k)
        self.block = max(1, NAIVE_BLOCK_FLOATS // (max(n, k) * mu_d.size))

    def real(self, rng, m):
        return (m, *_raw_sums(rng, self.mu_dc, self.Ld, m, self.mu_d, self.block))

    def synthetic(self, rng, t, m):
        return self.draw(rng, self.mean[t], self.L, m)

    def draw(self, rng, mean, L, m):
        return (m, *_raw_sums(rng, mean, L, m, self.mu_d, self.block))

    def points_stats(self, x):
        """The statistics of given points ``x`` (C, m, d)."""
        x = x - self.mu_d
        return x.shape[1], x.sum(axis=1), np.einsum("cmi,cmj->cij", x, x)

    @staticmethod
    def scale(a, c):
        """The statistics with every point's weight multiplied by ``c`` (sums scale)."""
        return a[0] * c, a[1] * c, a[2] * c

    @staticmethod
    def join(a, b):
        return a[0] + b[0], a[1] + b[1], a[2] + b[2]

    def fit(self, t, stats):
        N, S1, S2 = stats
        self._store(t, self.mu_d + S1 / N, S2 - _outer(S1) / N, N)

    def real_fit(self, stats):
        N, S1, S2 = stats
        return self.mu_d + S1 / N, _sym(S2 - _outer(S1) / N) / N


class _GaussianPoints(Points, _Gaussian):
    """Gaussian points; generation ``t`` is the mean and scatter of the subsample."""

    def _draw(self, rng, t, m):
        mean, L = (self.mu_dc, self.Ld) if t is None else (self.mean[t], self.L)
        return self.draw(rng, mean, L, m)

    @staticmethod
    def draw(rng, mean, L, m):
        L = np.broadcast_to(L, (mean.shape[0], *L.shape[-2:]))
        z = rng.standard_normal((mean.shape[0], m, mean.shape[1]))
        return mean[:, None, :] + z @ L.transpose(0, 2, 1)

    def fit(self, t, x):
        M = x.mean(axis=1)
        r = x - M[:, None, :]
        self._store(t, M, np.einsum("cmi,cmj->cij", r, r), x.shape[1])

    @staticmethod
    def points_stats(x):
        return x

    def real_fit(self, x):
        M = x.mean(axis=1)
        r = x - M[:, None, :]
        return M, np.einsum("cmi,cmj->cij", r, r) / x.shape[1]
