r"""Families on :math:`(0, \infty)`: exponential and gamma (shape and rate).

- **Exponential** with rate :math:`b`: :math:`\theta = -b < 0`, :math:`T(x) = x`,
  :math:`A = -\log(-\theta)`, :math:`\mu = 1/b`, Fisher :math:`1/\theta^2 = 1/b^2`.
- **Gamma** with shape :math:`a` and rate :math:`b`,
  :math:`p(x) = b^a x^{a-1} e^{-bx}/\Gamma(a)`: :math:`\theta = (a - 1, -b)`,
  :math:`T(x) = (\log x, x)`, :math:`A = \log\Gamma(a) - a\log b`,
  :math:`\mu = (\psi(a) - \log b,\ a/b)`, Fisher
  :math:`\begin{pmatrix}\psi'(a) & 1/b\\ 1/b & a/b^2\end{pmatrix}`.
  The mean map has no closed-form inverse: with :math:`s = \log E[x] - E[\log x] > 0` (Jensen),
  the shape solves :math:`\log a - \psi(a) = s` (:func:`solve_gamma_shape`, Newton's method in
  :math:`\log a` from Minka's 2002 initial guess) and then :math:`b = a / E[x]`.

:math:`W_1` in one dimension is exact for a sample (quantile formula with the partial means
:math:`E[Y 1\{Y\le q\}] = (a/b)\,P(a+1, bq)`, :math:`P` the regularised incomplete gamma function)
and by quadrature of :math:`|F_{data} - F_{model}|` for a distribution.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from .._domains import check
from .base import ExponentialFamily, MeanMapSolve
from .data import Moments, as_sample, is_scipy_distribution
from .wasserstein import w1_cdf_quadrature, w1_sample_continuous

__all__ = ["Exponential", "Gamma", "solve_gamma_shape"]

# s = log E[x] - E[log x] is computed from quantities of size |log x|; below 64 ulps of rounding
# it cannot be told from zero, which happens exactly when all points are equal.
S_FLOOR = 64 * np.finfo(float).eps


def _positive_sample(x, what: str) -> np.ndarray:
    x = as_sample(x)
    if x.ndim == 2:
        if x.shape[1] != 1:
            raise ValueError(f"data must have shape (n,) or (n, 1), got {x.shape}")
        x = x[:, 0]
    if np.any(x <= 0) if what == "> 0" else np.any(x < 0):
        raise ValueError(f"data must be {what} for this family, got min {float(x.min())!r}")
    return x


def _continuous_positive(dist):
    if not isinstance(dist.dist, stats.rv_continuous):
        raise ValueError(f"data distribution must be continuous on (0, inf), got {dist.dist.name}")
    if dist.support()[0] < 0:
        raise ValueError(f"data distribution must have support in [0, inf), got lower end {dist.support()[0]:g}")
    return dist


def solve_gamma_shape(s: float, tol: float = 4 * np.finfo(float).eps, max_iter: int = 100) -> MeanMapSolve:
    r"""Solve :math:`\log a - \psi(a) = s` for the gamma shape :math:`a > 0` (``s > 0``).

    :math:`f(a) = \log a - \psi(a)` decreases from :math:`\infty` to 0, so the root is unique.
    Newton's method on :math:`u = \log a`, :math:`f'(a)\,a = 1 - a\psi'(a)`, started at Minka's
    approximation :math:`a_0 = (3 - s + \sqrt{(s-3)^2 + 24 s})/(12 s)`; stops when the step in
    :math:`u` is below ``tol`` or when :math:`|f(a) - s|` is at the rounding level of its
    evaluation, :math:`4\epsilon(|\log a| + |\psi(a)| + s)` (for large :math:`a`,
    :math:`\log a - \psi(a) \approx 1/(2a)` is a difference of nearly equal numbers, so smaller
    steps are noise). The residual is :math:`|\log a - \psi(a) - s|`.

    >>> r = solve_gamma_shape(float(np.log(2.0) - special.digamma(2.0)))
    >>> round(r.value, 12), r.converged
    (2.0, True)
    """
    s = float(s)
    if not (np.isfinite(s) and s > 0):
        raise ValueError(f"s = log E[x] - E[log x] must be > 0, got {s!r}")
    u = math.log((3.0 - s + math.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s))
    for it in range(1, max_iter + 1):  # Newton is a recursion
        a = math.exp(u)
        psi = float(special.digamma(a))
        f = math.log(a) - psi - s
        noise = 4 * np.finfo(float).eps * (abs(math.log(a)) + abs(psi) + s)
        g = 1.0 - a * float(special.polygamma(1, a))  # d f / d u < 0
        step = f / g
        u -= step
        if abs(step) <= tol or abs(f) <= noise:
            a = math.exp(u)
            return MeanMapSolve(a, it, abs(math.log(a) - special.digamma(a) - s), True)
    a = math.exp(u)
    return MeanMapSolve(a, max_iter, abs(math.log(a) - special.digamma(a) - s), False)


class Exponential(ExponentialFamily):
    """Exponential family with rate ``b`` on [0, inf).

    >>> e = Exponential()
    >>> e.params(e.fixed_point(np.array([0.5, 1.5])))
    {'rate': 1.0}
    """

    name = "exponential"
    numerical_twin = "Exponential"
    dim = 1

    def check_natural(self, theta) -> np.ndarray:
        theta = np.asarray(theta, dtype=float).reshape(-1)
        if theta.shape != (1,):
            raise ValueError(f"theta must have shape (1,) for the exponential family, got {np.shape(theta)}")
        if not (np.isfinite(theta[0]) and theta[0] < 0):
            raise ValueError(f"theta = -rate must be < 0, got {theta[0]!r}")
        return theta

    def natural_from(self, rate) -> np.ndarray:
        return np.array([-float(check("rate", rate))])

    def reference_point(self) -> np.ndarray:
        return np.array([-1.0])

    def check_sample(self, x) -> np.ndarray:
        return _positive_sample(x, ">= 0")

    def statistic(self, x) -> np.ndarray:
        return self.check_sample(x)[:, None]

    def log_partition(self, theta) -> float:
        return float(-np.log(-self.check_natural(theta)[0]))

    def mean(self, theta) -> np.ndarray:
        return -1.0 / self.check_natural(theta)

    def natural(self, mu) -> np.ndarray:
        m = float(np.asarray(mu, dtype=float).reshape(-1)[0])
        if not np.isfinite(m) or m < 0:
            raise ValueError(f"the data mean must be > 0 for an exponential fit, got {m!r}")
        if m == 0:
            raise ValueError("data are degenerate: all points equal 0, so the MLE rate is infinite")
        return np.array([-1.0 / m])

    def fisher(self, theta) -> np.ndarray:
        return np.array([[1.0 / self.check_natural(theta)[0] ** 2]])

    def sample(self, theta, size: int, seed=None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.exponential(self.mean(theta)[0], size=int(size))

    def params(self, theta) -> dict:
        return {"rate": float(-self.check_natural(theta)[0])}

    def expected_statistic(self, data) -> np.ndarray:
        if isinstance(data, Moments):
            return np.atleast_1d(data.mean).astype(float).reshape(1)
        if is_scipy_distribution(data):
            m = float(_continuous_positive(data).mean())
            if not np.isfinite(m):
                raise ValueError("data distribution must have a finite mean")
            return np.array([m])
        return np.array([self.check_sample(data).mean()])

    def _integrate_statistic(self, dist) -> np.ndarray:
        return np.array([_continuous_positive(dist).expect(lambda x: x)])

    def w1(self, theta, data) -> tuple[float, str]:
        if isinstance(data, Moments):
            return float("nan"), "undefined: data given by moments only"
        b = -self.check_natural(theta)[0]
        g = stats.expon(scale=1.0 / b)
        if is_scipy_distribution(data):
            v, err = w1_cdf_quadrature(data.cdf, g.cdf, [1.0 / b, float(data.mean())])
            return v, f"integral of |F_data - F_model| by scipy.integrate.quad (abs. error estimate {err:.1e})"
        x = self.check_sample(data)
        v = w1_sample_continuous(x, g.cdf, g.ppf, lambda q: special.gammainc(2.0, b * q) / b, 1.0 / b)
        return v, f"exact W1 between the {x.size}-point empirical measure and the model (quantile formula)"


# Closed forms of E[log X] for scipy distributions with loc = 0 (name -> (shapes, scale) -> value).
_MEAN_LOG = {
    "gamma": lambda sh, scale: special.digamma(sh[0]) + np.log(scale),
    "expon": lambda sh, scale: special.digamma(1.0) + np.log(scale),
    "lognorm": lambda sh, scale: np.log(scale),
    "chi2": lambda sh, scale: special.digamma(sh[0] / 2) + np.log(2.0) + np.log(scale),
    "weibull_min": lambda sh, scale: np.log(scale) - np.euler_gamma / sh[0],
}


class Gamma(ExponentialFamily):
    """Gamma family with shape ``a`` and rate ``b`` on (0, inf); theta = (a - 1, -b).

    >>> g = Gamma()
    >>> p = g.params(g.fixed_point(stats.gamma(3.0, scale=0.5)))  # well-specified: a = 3, b = 2
    >>> round(p["shape"], 10), round(p["rate"], 10)
    (3.0, 2.0)
    """

    name = "gamma"
    numerical_twin = "Gamma"
    dim = 2

    def check_natural(self, theta) -> np.ndarray:
        theta = np.asarray(theta, dtype=float).reshape(-1)
        if theta.shape != (2,):
            raise ValueError(f"theta must have shape (2,) for the gamma family, got {np.shape(theta)}")
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta must be finite, got NaN or inf")
        if theta[0] <= -1 or theta[1] >= 0:
            raise ValueError(f"theta = (shape - 1, -rate) needs shape > 0 and rate > 0, got {theta.tolist()}")
        return theta

    def natural_from(self, shape, rate) -> np.ndarray:
        return np.array([float(check("shape", shape)) - 1.0, -float(check("rate", rate))])

    def reference_point(self) -> np.ndarray:
        return np.array([0.0, -1.0])

    def check_sample(self, x) -> np.ndarray:
        return _positive_sample(x, "> 0")

    def statistic(self, x) -> np.ndarray:
        x = self.check_sample(x)
        return np.stack([np.log(x), x], axis=1)

    def _ab(self, theta):
        theta = self.check_natural(theta)
        return theta[0] + 1.0, -theta[1]

    def log_partition(self, theta) -> float:
        a, b = self._ab(theta)
        return float(special.gammaln(a) - a * np.log(b))

    def mean(self, theta) -> np.ndarray:
        a, b = self._ab(theta)
        return np.array([special.digamma(a) - np.log(b), a / b])

    def shape_solve(self, mu) -> MeanMapSolve:
        """The numerical inversion behind :meth:`natural` (iterations, residual, convergence)."""
        mu = np.asarray(mu, dtype=float).reshape(-1)
        if mu.shape != (2,) or not np.all(np.isfinite(mu)):
            raise ValueError(f"mean parameters (E[log x], E[x]) must be finite with shape (2,), got {mu.shape}")
        if mu[1] <= 0:
            raise ValueError(f"the data mean E[x] must be > 0 for a gamma fit, got {mu[1]!r}")
        s = np.log(mu[1]) - mu[0]
        if s < -S_FLOOR:
            raise ValueError(f"log E[x] - E[log x] must be >= 0 (Jensen), got {s!r}: inconsistent moments")
        if s <= S_FLOOR * max(1.0, abs(mu[0])):
            raise ValueError("data are degenerate: all points equal (log E[x] = E[log x]), the MLE shape is infinite")
        return solve_gamma_shape(s)

    def natural(self, mu) -> np.ndarray:
        r = self.shape_solve(mu)
        if not r.converged:
            raise ValueError(f"gamma shape solve did not converge ({r.iterations} iterations, residual {r.residual})")
        mean_x = float(np.asarray(mu, dtype=float).reshape(-1)[1])
        return np.array([r.value - 1.0, -r.value / mean_x])

    def fisher(self, theta) -> np.ndarray:
        a, b = self._ab(theta)
        return np.array([[special.polygamma(1, a), 1.0 / b], [1.0 / b, a / b**2]])

    def sample(self, theta, size: int, seed=None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        a, b = self._ab(theta)
        return rng.gamma(a, 1.0 / b, size=int(size))

    def params(self, theta) -> dict:
        a, b = self._ab(theta)
        return {"shape": float(a), "rate": float(b)}

    def expected_statistic(self, data) -> np.ndarray:
        if isinstance(data, Moments):
            if data.mean_log is None:
                raise ValueError("Moments for a gamma fit need mean (E[x]) and mean_log (E[log x])")
            return np.array([float(data.mean_log), float(data.mean)])
        if is_scipy_distribution(data):
            dist = _continuous_positive(data)
            shapes, loc, scale = dist.dist._parse_args(*dist.args, **dist.kwds)
            if loc != 0 or dist.dist.name not in _MEAN_LOG:
                raise NotImplementedError(f"no closed form for E[log x] under {dist.dist.name} with loc {loc}")
            return np.array([float(_MEAN_LOG[dist.dist.name](shapes, scale)), float(dist.mean())])
        x = self.check_sample(data)
        return np.array([np.log(x).mean(), x.mean()])

    def _integrate_statistic(self, dist) -> np.ndarray:
        dist = _continuous_positive(dist)
        return np.array([dist.expect(np.log), dist.expect(lambda x: x)])

    def w1(self, theta, data) -> tuple[float, str]:
        if isinstance(data, Moments):
            return float("nan"), "undefined: data given by moments only"
        a, b = self._ab(theta)
        g = stats.gamma(a, scale=1.0 / b)
        if is_scipy_distribution(data):
            v, err = w1_cdf_quadrature(data.cdf, g.cdf, [a / b, float(data.mean())])
            return v, f"integral of |F_data - F_model| by scipy.integrate.quad (abs. error estimate {err:.1e})"
        x = self.check_sample(data)
        v = w1_sample_continuous(x, g.cdf, g.ppf, lambda q: a / b * special.gammainc(a + 1.0, b * q), a / b)
        return v, f"exact W1 between the {x.size}-point empirical measure and the model (quantile formula)"
