r"""The gamma family with shape :math:`a` and rate :math:`b` (docs/theory.md §3); see :mod:`.positive`.

The simulator runs the gamma with a *known* shape :math:`a` (only the mean is fitted): with both
parameters free the sufficient statistic includes :math:`\sum\log x_i`, whose law has no closed
form, so no exact sampler exists for it. The sum of :math:`m` points is Gamma(:math:`ma`, scale
:math:`\mu/a`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special, stats

from .._domains import DOMAINS, check
from ._simulation import FamilySpec
from .base import ExponentialFamily, MeanMapSolve
from .data import Moments, is_scipy_distribution
from .positive import _MEAN_LOG, S_FLOOR, GammaSums, _continuous_positive, _positive_sample, solve_gamma_shape
from .wasserstein import w1_cdf_quadrature, w1_sample_continuous

if TYPE_CHECKING:  # torch is imported where a torch hook runs, never by this module
    import torch

__all__ = ["Gamma"]


class Gamma(GammaSums, ExponentialFamily):
    """Gamma family with shape ``a`` and rate ``b`` on (0, inf); theta = (a - 1, -b).

    >>> g = Gamma()
    >>> p = g.params(g.fixed_point(stats.gamma(3.0, scale=0.5)))  # well-specified: a = 3, b = 2
    >>> round(p["shape"], 10), round(p["rate"], 10)
    (3.0, 2.0)
    """

    name = "gamma"
    defaults = {"shape": 2.0, "mean": 1.0}
    domains = {"shape": DOMAINS["rate"], "mean": DOMAINS["rate"]}  # > 0, finite
    known = ("shape",)
    numerical = True
    model_support = "positive"

    # --- the torch hooks: T = (log x, x), A = log Gamma(theta_1 + 1) - (theta_1 + 1) log(-theta_2)
    def torch_statistic(self, x) -> torch.Tensor:
        import torch

        return torch.stack([torch.log(x[:, 0]), x[:, 0]], 1)

    def torch_log_partition(self, theta) -> torch.Tensor:
        import torch

        return torch.lgamma(theta[0] + 1) - (theta[0] + 1) * torch.log(-theta[1])

    def initial_theta(self, x, w) -> np.ndarray:
        m = (w * x[:, 0]).sum()
        s = np.sqrt((w * (x[:, 0] - m) ** 2).sum())
        a = m**2 / max(s**2, 1e-300)  # the moment estimate of the shape
        return np.array([a - 1, -a / m])

    # --- the simulator's hooks: known shape a, eta = mean, V(eta) = eta^2 / a, the sum of m points
    # is Gamma(m a, scale mean / a)
    @classmethod
    def parse_params(cls, params: dict) -> FamilySpec:
        mean = cls.check_param("mean", params.get("mean", cls.defaults["mean"]))
        return FamilySpec(
            cls, np.array([mean]), shape=cls.check_param("shape", params.get("shape", cls.defaults["shape"]))
        )

    @classmethod
    def params_from_mean(cls, eta, shape) -> dict:
        return {"shape": shape, "mean": float(eta[0])}

    @classmethod
    def params_from_statistic(cls, fam, mu) -> dict:
        return {"shape": float(fam.params(fam.natural(mu))["shape"]), "mean": float(mu[1])}

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
