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

import numpy as np
from scipy import linalg, stats

from .._domains import check
from ..errors import check_memory
from ..report import LocalConstants
from .base import ExponentialFamily
from .data import GaussianMixture, Moments, as_sample, is_scipy_distribution
from .wasserstein import w1_cdf_quadrature, w1_pot, w1_sample_continuous

__all__ = ["Gaussian", "GaussianDiag"]

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
    numerical_twin = "Gaussian"

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
