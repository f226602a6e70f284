r"""The Poisson family (docs/theory.md §3): :math:`\theta = \log r`, :math:`T(x) = x`, :math:`h(x) = 1/x!`,
:math:`A = e^\theta`, :math:`\mu = r`, Fisher :math:`r`; the sum of :math:`m` points is Poisson(:math:`mr`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special, stats

from .._domains import DOMAINS, check
from . import samplers
from ._simulation import per_chain
from .base import ExponentialFamily
from .data import Moments, is_scipy_distribution
from .discrete import TAIL, _discrete_dist, _integer_sample, _or_normal, _scalar_theta
from .wasserstein import w1_integer

if TYPE_CHECKING:  # torch is imported where a torch hook runs, never by this module
    import torch

__all__ = ["Poisson"]


class Poisson(ExponentialFamily):
    """Poisson family on {0, 1, 2, ...}.

    >>> p = Poisson()
    >>> round(float(p.params(p.fixed_point(np.array([1, 2, 6])))["rate"]), 12)
    3.0
    """

    name = "poisson"
    defaults = {"rate": 3.0}
    domains = {"rate": DOMAINS["rate"]}
    numerical = True
    model_support = "count"

    # --- the torch hooks: T = x, A = e^theta, log h = -log x!
    def torch_statistic(self, x) -> torch.Tensor:
        return x[:, :1]

    def torch_log_partition(self, theta) -> torch.Tensor:
        import torch

        return torch.exp(theta[0])

    def torch_log_base(self, x) -> torch.Tensor:
        import torch

        return -torch.lgamma(x[:, 0] + 1)

    def initial_theta(self, x, w) -> np.ndarray:
        return np.zeros(1)

    # --- the simulator's hooks: eta = rate, V(eta) = eta, the sum of m points is Poisson(m rate)
    @staticmethod
    def sum_exact(rng, eta, m, shape) -> np.ndarray:
        return samplers.poisson_sum(rng, eta, per_chain(m))

    @staticmethod
    def sum_points(rng, e, m, shape) -> np.ndarray:
        return rng.poisson(e, (e.shape[0], m)).sum(axis=1, keepdims=True)

    @staticmethod
    def sum_kl(eta_data, eta, shape) -> np.ndarray:
        d, e = eta_data, eta[..., 0]
        ok = e > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            val = special.xlogy(d[0], d[0]) - special.xlogy(d[0], np.where(ok, e, 1.0)) - d[0] + e
        return np.where(ok | (d[0] == 0), np.maximum(val, 0.0), np.inf)

    @staticmethod
    def variance_function(eta_mean, eta_second, shape) -> np.ndarray:
        return np.diag(eta_mean)

    dim = 1

    def check_natural(self, theta) -> np.ndarray:
        return _scalar_theta(theta, self.name)

    def natural_from(self, rate) -> np.ndarray:
        return np.array([np.log(float(check("rate", rate)))])

    def reference_point(self) -> np.ndarray:
        return np.zeros(1)

    def check_sample(self, x) -> np.ndarray:
        return _integer_sample(x, 0, np.inf, "non-negative integers (Poisson counts)")

    def statistic(self, x) -> np.ndarray:
        return self.check_sample(x)[:, None]

    def log_base_measure(self, x) -> np.ndarray:
        return -special.gammaln(self.check_sample(x) + 1.0)  # h(x) = 1 / x!

    def log_partition(self, theta) -> float:
        return float(np.exp(self.check_natural(theta)[0]))

    def mean(self, theta) -> np.ndarray:
        return np.exp(self.check_natural(theta))

    def natural(self, mu) -> np.ndarray:
        r = float(np.asarray(mu, dtype=float).reshape(-1)[0])
        if not np.isfinite(r) or r < 0:
            raise ValueError(f"rate must be > 0 (a Poisson mean), got {r!r}")
        if r == 0:
            raise ValueError("data are degenerate: all points equal 0, so the MLE rate 0 lies on the boundary")
        return np.array([np.log(r)])

    def fisher(self, theta) -> np.ndarray:
        return np.array([[self.mean(theta)[0]]])

    def sample(self, theta, size: int, seed=None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.poisson(self.mean(theta)[0], size=int(size)).astype(float)

    def params(self, theta) -> dict:
        return {"rate": float(self.mean(theta)[0])}

    def expected_statistic(self, data) -> np.ndarray:
        if isinstance(data, Moments):
            return np.atleast_1d(data.mean).astype(float).reshape(1)
        if is_scipy_distribution(data):
            m = float(_discrete_dist(data, 0, np.inf, "{0, 1, 2, ...}").mean())
            if not np.isfinite(m):
                raise ValueError("data distribution must have a finite mean")
            return np.array([m])
        return np.array([self.check_sample(data).mean()])

    def _integrate_statistic(self, dist) -> np.ndarray:
        dist = _discrete_dist(dist, 0, np.inf, "{0, 1, 2, ...}")
        return np.array([dist.expect(lambda x: x)])

    def w1(self, theta, data) -> tuple[float, str]:
        if isinstance(data, Moments):
            return float("nan"), "undefined: data given by moments only"
        r = self.mean(theta)[0]
        model = stats.poisson(r)
        lo, low_part = 0, 0.0
        if is_scipy_distribution(data):
            K = int(max(model.isf(TAIL), data.isf(TAIL))) + 1
            data_tail = float(data.expect(lambda x: x - K, lb=K + 1)) if data.sf(K) > 0 else 0.0
            cdf_data = data.cdf
        else:
            x = self.check_sample(data)
            K = int(max(_or_normal(model.isf(TAIL), r, 10.0), x.max())) + 1
            data_tail = 0.0
            xs = np.sort(x)
            # below the sample's minimum F_data = 0: sum_{k < lo} F_model(k) = E[(lo - Y)_+] exactly,
            # = lo P(Y <= lo - 1) - r P(Y <= lo - 2), so the sum starts where the masses are
            lo = int(max(0.0, min(_or_normal(model.ppf(TAIL), r, -10.0) - 1, xs[0])))
            if lo > 0:
                low_part = max(0.0, lo * model.cdf(lo - 1) - r * model.cdf(lo - 2))

            def cdf_data(k):
                return np.searchsorted(xs, k, side="right") / xs.size

        # E[(Y - K)_+] = r P(Y >= K) - K P(Y > K) for Y ~ Poisson(r)
        model_tail = max(0.0, r * model.sf(K - 1) - K * model.sf(K))
        v, bound = w1_integer(cdf_data, model.cdf, lo, K, data_tail + model_tail)
        return v + low_part, f"exact sum of |F_data(k) - F_model(k)| over k < {K}; omitted tail <= {bound:.1e}"
