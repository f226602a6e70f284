r"""The families the simulator knows: data parsing, exact and naive sums, KL, variance, one class each.

Each class is the simulator's side of the family registered under the same name in
:data:`stability.families.FAMILIES` (its ``analytic`` attribute), which parses data given as a
sample, a frozen ``scipy.stats`` distribution or :class:`~stability.families.Moments`; parameters
given as a dict are validated through :func:`stability._domains.check`.

Every non-Gaussian family is a one-parameter (categorical: :math:`K-1`) natural exponential family
fitted by maximum likelihood, i.e. by moment matching of its mean parameter
:math:`\eta = E[T(x)]` (docs/theory.md §3), so a fit depends on the points only through
:math:`\sum_i T(x_i)`:

- ``bernoulli``: data key ``p`` (default 0.3); :math:`\eta = p`, :math:`V(\eta) = \eta(1-\eta)`.
- ``categorical``: ``probs`` (default [0.5, 0.3, 0.2]); :math:`\eta` = the probabilities,
  :math:`V(\eta) = \mathrm{diag}(\eta) - \eta\eta^\top`.
- ``poisson``: ``rate`` (default 3.0); :math:`\eta` = rate, :math:`V(\eta) = \eta`.
- ``exponential``: ``mean`` (default 1.0); :math:`\eta` = mean, :math:`V(\eta) = \eta^2`.
- ``gamma``: ``shape`` :math:`a` (default 2.0, known) and ``mean`` (default 1.0); :math:`\eta` = mean,
  :math:`V(\eta) = \eta^2/a`.

The gamma family has a *known* shape :math:`a` (only the scale is fitted): with both parameters
free the sufficient statistic includes :math:`\sum\log x_i`, whose law has no closed form, so no
exact sampler exists for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import xlogy

from .._domains import DOMAINS, check
from ..families import FAMILIES as _ANALYTIC
from ..families import family as _analytic_family
from . import samplers

__all__ = ["COLLAPSE_KL", "COLLAPSE_RTOL", "FAMILIES", "SIMULATED", "FamilySpec", "family_spec"]

# Numerical collapse (see FamilySpec.degenerate). A fitted mean parameter within COLLAPSE_RTOL of
# the edge of its domain, relative to the data's own value, is at the edge to working precision;
# COLLAPSE_KL = 1 / (2 eps_mach) ~ 2.3e15 nats is the KL of a 1-D Gaussian whose variance has shrunk
# to eps_mach times the data's (the Gaussian collapse floor of samplers.sqrt_factor).
COLLAPSE_RTOL = float(np.finfo(float).eps)
COLLAPSE_KL = 1.0 / (2.0 * COLLAPSE_RTOL)
_DRAW_FLOATS = 2**23  # floats per random draw of naive_sum (64 MiB), as simulator.NAIVE_BLOCK_FLOATS


@dataclass(frozen=True)
class FamilySpec:
    """A non-Gaussian family with its data-distribution mean parameter ``eta_data`` (shape (p,)).

    Subclasses supply the family's sufficient-statistics step: :meth:`exact_sum` (the sum's exact
    law), :meth:`_naive_block` (draw the points and add them up), and the closed forms
    :meth:`kl` and :meth:`variance`; :meth:`parse` reads its parameters.
    """

    eta_data: np.ndarray
    shape: float = 1.0  # gamma / exponential: the known shape a

    analytic: ClassVar[type]  # the family class registered in stability.families.FAMILIES
    keys: ClassVar[tuple[str, ...]]  # the parameter names of a dict

    @property
    def name(self) -> str:
        return self.analytic.name

    @property
    def p(self) -> int:
        return self.eta_data.size

    # --- the reference: draw the m points and add them up (chains in blocks) --------------------
    def naive_sum(self, rng: np.random.Generator, eta: np.ndarray, m: int, block: int) -> np.ndarray:
        out = np.zeros_like(eta, dtype=float)
        for lo in range(0, eta.shape[0], block):
            e = eta[lo : lo + block]
            # points per draw: all m unless one chain alone exceeds the block (then in chunks: bounded memory)
            chunk = max(1, _DRAW_FLOATS // (e.shape[0] * self.points_per_chain(1)))
            for start in range(0, m, chunk):
                out[lo : lo + block] += self._naive_block(rng, e, min(chunk, m - start))
        return out

    def points_per_chain(self, m: int) -> int:
        """Floats drawn per chain by :meth:`naive_sum` (to size blocks)."""
        return m

    def degenerate(self, eta: np.ndarray) -> np.ndarray:
        r"""Collapse: the fitted model lost part of the data's support, numerically or exactly.

        A chain is collapsed when :math:`KL(p_{data}\|p_\eta)` is infinite or above
        :data:`COLLAPSE_KL`, or when a fitted mean parameter is at the edge of its domain to working
        precision: a probability (Bernoulli :math:`p` or :math:`1-p`, a categorical :math:`p_j`) or a
        positive mean (Poisson rate, exponential / gamma mean) below :data:`COLLAPSE_RTOL` times the
        data's value (where the data's is positive).
        """
        d = self.eta_data
        with np.errstate(invalid="ignore"):
            kl = self.kl(eta)
            if self.name == "bernoulli":
                q = np.concatenate([eta, 1.0 - eta], axis=-1)
                p = np.concatenate([d, 1.0 - d])
            else:
                q, p = eta, d
            edge = np.any((p > 0) & (q <= COLLAPSE_RTOL * p), axis=-1)
        return ~(kl <= COLLAPSE_KL) | edge

    # --- parameters -------------------------------------------------------------------------------
    @classmethod
    def parse(cls, params: dict) -> FamilySpec:
        """The family with the distribution parameters ``params`` (keys :attr:`keys`, defaults filled)."""
        raise NotImplementedError(f"{cls.__name__} must define parse() (abstract in FamilySpec)")

    def params(self) -> dict:
        """The parameters as a dict that :meth:`parse` reads back."""
        raise NotImplementedError(f"{type(self).__name__} must define params() (abstract in FamilySpec)")

    @classmethod
    def from_data(cls, data) -> dict:
        """Parameters of the family fitted to ``data`` (a sample, a frozen scipy distribution or Moments).

        The mean parameter :math:`E_{data}[T(x)]` is read by the analytic family
        (:meth:`~stability.families.ExponentialFamily.expected_statistic`); a distribution of the
        family is therefore itself, and a sample its maximum-likelihood fit.
        """
        fam = _analytic_family(cls.analytic.name, data)
        return cls._from_statistic(fam, fam.expected_statistic(data), data)


def _simplex(eta: np.ndarray) -> np.ndarray:
    """Probabilities clipped to [0, 1] and renormalised against rounding (sums of counts / N)."""
    q = np.clip(eta, 0.0, 1.0)
    return q / q.sum(axis=-1, keepdims=True)


def _positive(name: str, x) -> float:
    try:
        return float(check(f"data[{name!r}]", x, DOMAINS["rate"]))
    except ValueError:
        raise ValueError(f"data[{name!r}] must be a finite number > 0, got {x!r}") from None


def _support_kl(d: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL between probability vectors (last axis); ``inf`` where ``q`` lost mass that ``d`` has."""
    lost = np.any((q <= 0) & (d > 0), axis=-1)
    val = np.sum(xlogy(d, d) - xlogy(d, np.where(q > 0, q, 1.0)), axis=-1)
    return np.where(lost, np.inf, np.maximum(val, 0.0))


class _OneParameter(FamilySpec):
    """A family given by one positive scalar ``key`` that is its mean parameter (``keys = (key,)``)."""

    key: ClassVar[str]
    default: ClassVar[float]

    @classmethod
    def _check(cls, value) -> float:
        return _positive(cls.key, value)

    @classmethod
    def parse(cls, params: dict) -> FamilySpec:
        return cls(np.array([cls._check(params.get(cls.key, cls.default))]))

    def params(self) -> dict:
        return {self.key: self.eta_data[0]}

    @classmethod
    def _from_statistic(cls, fam, mu: np.ndarray, data) -> dict:
        return {cls.key: float(mu[-1])}  # E[T] is (E[x],) for these families


class Bernoulli(_OneParameter):
    r""":math:`\eta = p`, :math:`V(\eta) = \eta(1-\eta)`; counts are binomial."""

    analytic = _ANALYTIC["bernoulli"]
    keys, key, default = ("p",), "p", 0.3

    def exact_sum(self, rng, eta, m) -> np.ndarray:
        return rng.binomial(m, np.clip(eta, 0.0, 1.0)).astype(float)

    def _naive_block(self, rng, e, m) -> np.ndarray:
        return (rng.random((e.shape[0], m)) < e).sum(axis=1, keepdims=True)

    def kl(self, eta) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            d = self.eta_data
            return _support_kl(np.concatenate([d, 1.0 - d]), np.concatenate([eta, 1.0 - eta], axis=-1))

    def variance(self, eta_mean, eta_second) -> np.ndarray:
        return np.diag(eta_mean) - eta_second

    @classmethod
    def _check(cls, value) -> float:
        return float(check("data['p']", value, DOMAINS["p"]))


class Categorical(FamilySpec):
    r""":math:`\eta` = the probabilities, :math:`V(\eta) = \mathrm{diag}(\eta) - \eta\eta^\top`; multinomial counts."""

    analytic = _ANALYTIC["categorical"]
    keys = ("probs",)

    def exact_sum(self, rng, eta, m) -> np.ndarray:
        return rng.multinomial(m, _simplex(eta)).astype(float)

    def _naive_block(self, rng, e, m) -> np.ndarray:
        b = e.shape[0]
        cum = np.cumsum(_simplex(e), axis=1)[:, :-1]  # inverse-CDF draw of each point's category
        idx = (rng.random((b, m))[:, :, None] >= cum[:, None, :]).sum(axis=2)
        flat = (idx + self.p * np.arange(b)[:, None]).ravel()
        return np.bincount(flat, minlength=b * self.p).reshape(b, self.p)

    def points_per_chain(self, m) -> int:
        return m * self.p

    def kl(self, eta) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return _support_kl(self.eta_data, eta)

    def variance(self, eta_mean, eta_second) -> np.ndarray:
        return np.diag(eta_mean) - eta_second

    @classmethod
    def parse(cls, params: dict) -> FamilySpec:
        q = np.asarray(params.get("probs", [0.5, 0.3, 0.2]), dtype=float)
        if q.ndim != 1 or q.size < 2 or np.any(~(q > 0)) or abs(q.sum() - 1.0) > 1e-12 * q.size:
            # 1e-12 * K: the rounding of a sum of K probabilities given in decimal
            raise ValueError(f"data['probs'] must be a vector of >= 2 positive probabilities summing to 1, got {q}")
        return cls(q / q.sum())

    def params(self) -> dict:
        return {"probs": self.eta_data}

    @classmethod
    def _from_statistic(cls, fam, mu: np.ndarray, data) -> dict:
        return {"probs": np.concatenate([[1.0 - mu.sum()], mu])}


class Poisson(_OneParameter):
    r""":math:`\eta` = rate, :math:`V(\eta) = \eta`; the sum of m points is Poisson(m rate)."""

    analytic = _ANALYTIC["poisson"]
    keys, key, default = ("rate",), "rate", 3.0

    def exact_sum(self, rng, eta, m) -> np.ndarray:
        return samplers.poisson_sum(rng, eta, m)

    def _naive_block(self, rng, e, m) -> np.ndarray:
        return rng.poisson(e, (e.shape[0], m)).sum(axis=1, keepdims=True)

    def kl(self, eta) -> np.ndarray:
        d, e = self.eta_data, eta[..., 0]
        ok = e > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            val = xlogy(d[0], d[0]) - xlogy(d[0], np.where(ok, e, 1.0)) - d[0] + e
        return np.where(ok | (d[0] == 0), np.maximum(val, 0.0), np.inf)

    def variance(self, eta_mean, eta_second) -> np.ndarray:
        return np.diag(eta_mean)


class _GammaSums:
    r"""Known shape :math:`a`, :math:`\eta` = mean, :math:`V(\eta) = \eta^2/a`; the sum is Gamma(m a, mean/a)."""

    def exact_sum(self, rng, eta, m) -> np.ndarray:
        return samplers.gamma_sum(rng, eta, self.shape, m)

    def _naive_block(self, rng, e, m) -> np.ndarray:
        return rng.gamma(self.shape, e / self.shape, (e.shape[0], m)).sum(axis=1, keepdims=True)

    def kl(self, eta) -> np.ndarray:
        e = eta[..., 0]
        ok = e > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            r = self.eta_data[0] / np.where(ok, e, 1.0)
            return np.where(ok, self.shape * (r - 1.0 - np.log(r)), np.inf)

    def variance(self, eta_mean, eta_second) -> np.ndarray:
        return eta_second / self.shape


class Gamma(_GammaSums, FamilySpec):
    """Gamma with a known shape (``shape``, default 2) and its mean (``mean``, default 1) as parameters."""

    analytic = _ANALYTIC["gamma"]
    keys = ("shape", "mean")

    @classmethod
    def parse(cls, params: dict) -> FamilySpec:
        mean = _positive("mean", params.get("mean", 1.0))
        return cls(np.array([mean]), shape=_positive("shape", params.get("shape", 2.0)))

    def params(self) -> dict:
        return {"shape": self.shape, "mean": self.eta_data[0]}

    @classmethod
    def _from_statistic(cls, fam, mu: np.ndarray, data) -> dict:
        return {"shape": float(fam.params(fam.natural(mu))["shape"]), "mean": float(mu[1])}


class Exponential(_GammaSums, _OneParameter):
    """The gamma family with shape :math:`a = 1`, parameter ``mean`` (default 1)."""

    analytic = _ANALYTIC["exponential"]
    keys, key, default = ("mean",), "mean", 1.0


SIMULATED: dict[str, type[FamilySpec]] = {
    cls.analytic.name: cls for cls in (Bernoulli, Categorical, Poisson, Exponential, Gamma)
}
FAMILIES = ("gaussian", *SIMULATED)


def family_params(family: str, params, name: str = "data") -> dict:
    """``params`` as a dict of distribution parameters: a dict is returned as is (keys checked),
    a sample, a frozen scipy distribution or Moments is read by the analytic family."""
    cls = SIMULATED[family]
    if params is None:
        return {}
    if not isinstance(params, dict):
        return cls.from_data(params)
    unknown = set(params) - set(cls.keys)
    if unknown:
        raise ValueError(f"{name} for family {family!r} takes keys {sorted(cls.keys)}, got {sorted(unknown)}")
    return dict(params)


def family_spec(family: str, params=None) -> FamilySpec:
    """Parse a non-Gaussian family's distribution parameters (``data`` or ``init``), with defaults."""
    return SIMULATED[family].parse(family_params(family, params))
