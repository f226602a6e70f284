r"""The exponential family with rate :math:`b` (docs/theory.md §3): :math:`\theta = -b < 0`, :math:`T(x) = x`,
:math:`A = -\log(-\theta)`, :math:`\mu = 1/b`, Fisher :math:`1/b^2`; the sum of :math:`m` points is
Gamma(:math:`m`, scale :math:`\mu`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special, stats

from .._domains import DOMAINS, check
from .base import ExponentialFamily
from .data import Moments, is_scipy_distribution
from .positive import GammaSums, _continuous_positive, _positive_sample
from .wasserstein import w1_cdf_quadrature, w1_sample_continuous

if TYPE_CHECKING:  # torch is imported where a torch hook runs, never by this module
    import torch

__all__ = ["Exponential"]


class Exponential(GammaSums, ExponentialFamily):
    """Exponential family with rate ``b`` on [0, inf).

    >>> e = Exponential()
    >>> e.params(e.fixed_point(np.array([0.5, 1.5])))
    {'rate': 1.0}
    """

    name = "exponential"
    defaults = {"mean": 1.0}
    domains = {"mean": DOMAINS["rate"]}  # > 0, finite
    numerical = True
    model_support = "positive"

    # --- the torch hooks: T = x, A = -log(-theta) (NaN for theta >= 0)
    def torch_statistic(self, x) -> torch.Tensor:
        return x[:, :1]

    def torch_log_partition(self, theta) -> torch.Tensor:
        import torch

        return -torch.log(-theta[0])

    def initial_theta(self, x, w) -> np.ndarray:
        return np.array([-1.0 / max((w * x[:, 0]).sum(), 1e-300)])

    # the simulator's hooks are the gamma's (GammaSums) with shape a = 1: eta = mean, V(eta) = eta^2

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
