r"""The Bernoulli family (docs/theory.md §3): :math:`\theta = \log\frac{p}{1-p}`, :math:`T(x) = x`,
:math:`A = \log(1+e^\theta)`, :math:`\mu = p`, Fisher :math:`p(1-p)`; the simulator's counts are binomial.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from .._domains import DOMAINS, check
from ._simulation import per_chain, support_kl
from .base import ExponentialFamily
from .data import Moments, is_scipy_distribution
from .discrete import _discrete_dist, _integer_sample, _scalar_theta

if TYPE_CHECKING:  # torch is imported where a torch hook runs, never by this module
    import torch

__all__ = ["Bernoulli"]


class Bernoulli(ExponentialFamily):
    """Bernoulli family on {0, 1}.

    >>> b = Bernoulli()
    >>> round(float(b.fixed_point(np.array([0, 1, 1, 1]))[0]), 12)  # logit(3/4) = log 3
    1.098612288668
    """

    name = "bernoulli"
    dim = 1
    defaults = {"p": 0.3}
    domains = {"p": DOMAINS["p"]}
    numerical = True
    model_support = (0.0, 1.0)

    # --- the torch hooks: T = x, A = log(1 + e^theta)
    def torch_statistic(self, x) -> torch.Tensor:
        return x[:, :1]

    def torch_log_partition(self, theta) -> torch.Tensor:
        import torch

        return torch.nn.functional.softplus(theta[0])

    def initial_theta(self, x, w) -> np.ndarray:
        return np.zeros(1)

    # --- the simulator's hooks: eta = p, V(eta) = eta (1 - eta), counts are binomial
    @staticmethod
    def sum_exact(rng, eta, m, shape) -> np.ndarray:
        return rng.binomial(per_chain(m), np.clip(eta, 0.0, 1.0)).astype(float)

    @staticmethod
    def sum_points(rng, e, m, shape) -> np.ndarray:
        return (rng.random((e.shape[0], m)) < e).sum(axis=1, keepdims=True)

    @staticmethod
    def sum_kl(eta_data, eta, shape) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return support_kl(Bernoulli.edge(eta_data), Bernoulli.edge(eta))

    @staticmethod
    def variance_function(eta_mean, eta_second, shape) -> np.ndarray:
        return np.diag(eta_mean) - eta_second

    @staticmethod
    def edge(eta) -> np.ndarray:
        """Both probabilities :math:`(p, 1-p)`: either at 0 is collapse."""
        return np.concatenate([eta, 1.0 - eta], axis=-1)

    def check_natural(self, theta) -> np.ndarray:
        return _scalar_theta(theta, self.name)

    def natural_from(self, p) -> np.ndarray:
        p = float(check("p", p))
        return np.array([np.log(p) - np.log1p(-p)])

    def reference_point(self) -> np.ndarray:
        return np.zeros(1)

    def check_sample(self, x) -> np.ndarray:
        return _integer_sample(x, 0, 1, "0 or 1 (Bernoulli outcomes)")

    def statistic(self, x) -> np.ndarray:
        return self.check_sample(x)[:, None]

    def log_partition(self, theta) -> float:
        return float(np.logaddexp(0.0, self.check_natural(theta)[0]))

    def mean(self, theta) -> np.ndarray:
        return special.expit(self.check_natural(theta))

    def natural(self, mu) -> np.ndarray:
        p = float(np.asarray(mu, dtype=float).reshape(-1)[0])
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"probabilities must be in [0, 1], got mean {p!r}")
        if p in (0.0, 1.0):
            raise ValueError(f"data are degenerate: all points equal {int(p)}, the MLE p = {p:g} is on the boundary")
        return np.array([np.log(p) - np.log1p(-p)])

    def fisher(self, theta) -> np.ndarray:
        p = self.mean(theta)[0]
        return np.array([[p * (1.0 - p)]])

    def sample(self, theta, size: int, seed=None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return (rng.random(int(size)) < self.mean(theta)[0]).astype(float)

    def params(self, theta) -> dict:
        return {"p": float(self.mean(theta)[0])}

    def expected_statistic(self, data) -> np.ndarray:
        if isinstance(data, Moments):
            return np.atleast_1d(data.mean).astype(float).reshape(1)
        if is_scipy_distribution(data):
            return np.array([float(_discrete_dist(data, 0, 1, "{0, 1}").mean())])
        return np.array([self.check_sample(data).mean()])

    def _integrate_statistic(self, dist) -> np.ndarray:
        dist = _discrete_dist(dist, 0, 1, "{0, 1}")
        return np.array([float(np.sum(np.arange(2) * dist.pmf(np.arange(2))))])

    def w1(self, theta, data) -> tuple[float, str]:
        if isinstance(data, Moments):
            return float("nan"), "undefined: data given by moments only"
        p_data = self.expected_statistic(data)[0]
        return abs(p_data - self.mean(theta)[0]), "exact: |p_data - p*| (W1 on {0, 1} with |x - y|)"
