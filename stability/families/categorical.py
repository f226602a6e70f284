r"""The categorical family on :math:`\{0, \dots, k-1\}` (docs/theory.md §3).

:math:`\theta_j = \log(p_j/p_0)` for :math:`j = 1..k-1`, :math:`T(x) = (1\{x=1\}, \dots, 1\{x=k-1\})`,
:math:`A = \log(1 + \sum_j e^{\theta_j})`, :math:`\mu = (p_1..p_{k-1})`, Fisher
:math:`\mathrm{diag}(\mu) - \mu\mu^\top`; the simulator's counts are multinomial.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special

from .._domains import check
from ..errors import check_memory
from ._simulation import FamilySpec, simplex, support_kl
from .base import ExponentialFamily
from .data import Moments, float_array, is_scipy_distribution
from .discrete import _discrete_dist, _integer_sample

if TYPE_CHECKING:  # torch is imported where a torch hook runs, never by this module
    import torch

__all__ = ["Categorical"]


class Categorical(ExponentialFamily):
    """Categorical family on {0, ..., k-1} (``k >= 2``).

    >>> c = Categorical(k=3)
    >>> np.round(c.mean(c.fixed_point(np.array([0, 1, 1, 2]))), 12).tolist()  # p_1, p_2
    [0.5, 0.25]
    """

    name = "categorical"
    size_option = "k"
    defaults = {"probs": [0.5, 0.3, 0.2]}
    numerical = True
    numerical_options = ("k",)
    numerical_defaults = {"k": 3}  # "categorical-numerical" without k: three classes

    @property
    def model_support(self) -> tuple:
        return tuple(float(i) for i in range(self.k))

    # --- the torch hooks: T_j = 1{x = j} (j = 1..k-1), A = log(1 + sum_j e^theta_j)
    def torch_statistic(self, x) -> torch.Tensor:
        import torch

        return (x[:, :1] == torch.arange(1, self.k, dtype=x.dtype)).to(x.dtype)

    def torch_log_partition(self, theta) -> torch.Tensor:
        import torch

        return torch.logsumexp(torch.cat([theta.new_zeros(1), theta]), 0)

    def initial_theta(self, x, w) -> np.ndarray:
        return np.zeros(self.k - 1)

    @classmethod
    def infer_size(cls, data) -> int:
        if isinstance(data, Moments):
            return int(np.atleast_1d(data.mean).size)
        if is_scipy_distribution(data):
            return int(data.support()[1]) + 1
        x = float_array(data)
        if x is None or x.size == 0 or not np.all(np.isfinite(x)):
            return 2  # the family's own validation then names the problem
        return max(2, int(x.max()) + 1)

    # --- the simulator's hooks. The simulator stores the k class probabilities (the mean of the
    # one-hot statistic over all k classes; the mean parameters above are the last k - 1 of them):
    # V(eta) = diag(eta) - eta eta^T, counts are multinomial.
    @classmethod
    def parse_params(cls, params: dict) -> FamilySpec:
        q = np.asarray(params.get("probs", cls.defaults["probs"]), dtype=float)
        if q.ndim != 1 or q.size < 2 or np.any(~(q > 0)) or abs(q.sum() - 1.0) > 1e-12 * q.size:
            # 1e-12 * K: the rounding of a sum of K probabilities given in decimal
            raise ValueError(f"data['probs'] must be a vector of >= 2 positive probabilities summing to 1, got {q}")
        return FamilySpec(cls, q / q.sum())

    @classmethod
    def params_from_mean(cls, eta, shape) -> dict:
        return {"probs": eta}

    @classmethod
    def params_from_statistic(cls, fam, mu) -> dict:
        return {"probs": np.concatenate([[1.0 - mu.sum()], mu])}

    @staticmethod
    def sum_exact(rng, eta, m, shape) -> np.ndarray:
        return rng.multinomial(m, simplex(eta)).astype(float)

    @staticmethod
    def sum_points(rng, e, m, shape) -> np.ndarray:
        b, p = e.shape
        cum = np.cumsum(simplex(e), axis=1)[:, :-1]  # inverse-CDF draw of each point's category
        idx = (rng.random((b, m))[:, :, None] >= cum[:, None, :]).sum(axis=2)
        flat = (idx + p * np.arange(b)[:, None]).ravel()
        return np.bincount(flat, minlength=b * p).reshape(b, p)

    @staticmethod
    def floats_per_point(p) -> int:
        return p

    @staticmethod
    def free_parameters(p) -> int:
        return p - 1

    @staticmethod
    def sum_kl(eta_data, eta, shape) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return support_kl(eta_data, eta)

    @staticmethod
    def variance_function(eta_mean, eta_second, shape) -> np.ndarray:
        return np.diag(eta_mean) - eta_second

    def __init__(self, k: int = 2, seed: int = 0, w1_points: int = 1000):
        super().__init__(seed=seed, w1_points=w1_points)
        self.k = int(check("k", k))
        # the Fisher information and the W1 sums are (k - 1) x (k - 1) and k-long arrays
        check_memory(
            8.0 * 4 * self.k**2,
            f"a categorical family with k = {self.k} classes",
            "use fewer classes (k, or data's labels)",
        )

    @property
    def dim(self) -> int:
        return self.k - 1

    def check_natural(self, theta) -> np.ndarray:
        theta = np.asarray(theta, dtype=float).reshape(-1)
        if theta.shape != (self.dim,):
            raise ValueError(f"theta must have shape ({self.dim},) for k = {self.k}, got {theta.shape}")
        if not np.all(np.isfinite(theta)):
            raise ValueError("theta must be finite, got NaN or inf")
        return theta

    def natural_from(self, probs) -> np.ndarray:
        """Natural parameters of the categorical distribution ``probs`` (shape ``(k,)``, in (0, 1))."""
        p = np.asarray(probs, dtype=float)
        if p.shape != (self.k,):
            raise ValueError(f"probs must have shape ({self.k},), got {p.shape}")
        check("probs", p)
        if abs(p.sum() - 1.0) > 1e-12 * self.k:  # rounding of a user-typed sum
            raise ValueError(f"probs must sum to 1, got {p.sum()!r}")
        return np.log(p[1:]) - np.log(p[0])

    def reference_point(self) -> np.ndarray:
        return np.zeros(self.dim)

    def check_sample(self, x) -> np.ndarray:
        return _integer_sample(x, 0, self.k - 1, f"integer labels in {{0, ..., {self.k - 1}}}")

    def statistic(self, x) -> np.ndarray:
        x = self.check_sample(x)
        return (x[:, None] == np.arange(1, self.k)).astype(float)

    def _probs(self, theta) -> np.ndarray:
        return special.softmax(np.concatenate([[0.0], self.check_natural(theta)]))

    def log_partition(self, theta) -> float:
        return float(special.logsumexp(np.concatenate([[0.0], self.check_natural(theta)])))

    def mean(self, theta) -> np.ndarray:
        return self._probs(theta)[1:]

    def natural(self, mu) -> np.ndarray:
        mu = np.asarray(mu, dtype=float).reshape(-1)
        if mu.shape != (self.dim,) or not np.all(np.isfinite(mu)):
            raise ValueError(f"mean parameters must be finite with shape ({self.dim},), got {mu.shape}")
        p = np.concatenate([[1.0 - mu.sum()], mu])
        # p_0 = 1 - sum is computed, so it may be off by rounding (~k * 1e-16)
        if np.any(p < -1e-12) or np.any(p > 1 + 1e-12):
            raise ValueError(f"probabilities must be in [0, 1], got {p.tolist()}")
        if np.any(p <= 1e-15):
            j = int(np.argmin(p))
            raise ValueError(
                f"data are degenerate: class {j} has probability {p[j]:.3g} (never observed), so the MLE lies "
                "on the boundary of the simplex"
            )
        return np.log(p[1:]) - np.log(p[0])

    def fisher(self, theta) -> np.ndarray:
        mu = self.mean(theta)
        return np.diag(mu) - np.outer(mu, mu)

    def sample(self, theta, size: int, seed=None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return rng.choice(self.k, size=int(size), p=self._probs(theta)).astype(float)

    def params(self, theta) -> dict:
        return {"probs": self._probs(theta)}

    def _data_probs(self, data) -> np.ndarray:
        if isinstance(data, Moments):
            p = np.atleast_1d(data.mean)
            if p.shape != (self.k,):
                raise ValueError(f"Moments.mean must be the {self.k} class probabilities, got shape {p.shape}")
            if np.any(p < 0) or np.any(p > 1):
                raise ValueError(f"probabilities must be in [0, 1], got {p.tolist()}")
            if abs(p.sum() - 1.0) > 1e-12 * self.k:
                raise ValueError(f"probabilities must sum to 1, got {p.sum()!r}")
            return p
        if is_scipy_distribution(data):
            dist = _discrete_dist(data, 0, self.k - 1, f"{{0, ..., {self.k - 1}}}")
            return dist.pmf(np.arange(self.k))
        x = self.check_sample(data)
        return np.bincount(x.astype(int), minlength=self.k) / x.size

    def expected_statistic(self, data) -> np.ndarray:
        return self._data_probs(data)[1:]

    def _integrate_statistic(self, dist) -> np.ndarray:
        dist = _discrete_dist(dist, 0, self.k - 1, f"{{0, ..., {self.k - 1}}}")
        return np.array([dist.expect(lambda x, j=j: np.asarray(x == j, dtype=float)) for j in range(1, self.k)])

    def w1(self, theta, data) -> tuple[float, str]:
        if isinstance(data, Moments):
            return float("nan"), "undefined: data given by moments only"
        tv = 0.5 * float(np.abs(self._data_probs(data) - self._probs(theta)).sum())
        return tv, "exact: total variation (W1 for the discrete metric on the labels)"
