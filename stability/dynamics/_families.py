r"""The families the simulator knows, as small specs: data parsing, exact and naive sums, KL, variance.

Every non-Gaussian family is a one-parameter (categorical: :math:`K-1`) natural exponential family
fitted by maximum likelihood, i.e. by moment matching of its mean parameter
:math:`\eta = E[T(x)]` (THEORY.md §3), so a fit depends on the points only through
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

import numpy as np
from scipy.special import xlogy

from . import samplers

__all__ = ["COLLAPSE_KL", "COLLAPSE_RTOL", "FAMILIES", "FamilySpec", "family_spec"]

# Numerical collapse (see FamilySpec.degenerate). A fitted mean parameter within COLLAPSE_RTOL of
# the edge of its domain, relative to the data's own value, is at the edge to working precision;
# COLLAPSE_KL = 1 / (2 eps_mach) ~ 2.3e15 nats is the KL of a 1-D Gaussian whose variance has shrunk
# to eps_mach times the data's (the Gaussian collapse floor of samplers.sqrt_factor).
COLLAPSE_RTOL = float(np.finfo(float).eps)
COLLAPSE_KL = 1.0 / (2.0 * COLLAPSE_RTOL)

FAMILIES = ("gaussian", "bernoulli", "categorical", "poisson", "exponential", "gamma")


@dataclass(frozen=True)
class FamilySpec:
    """A non-Gaussian family with its data-distribution mean parameter ``eta_data`` (shape (p,))."""

    name: str
    eta_data: np.ndarray
    shape: float = 1.0  # gamma / exponential: the known shape a

    @property
    def p(self) -> int:
        return self.eta_data.size

    # --- exact law of sum_i T(x_i) over m points, per chain -------------------------------------
    def exact_sum(self, rng: np.random.Generator, eta: np.ndarray, m: int) -> np.ndarray:
        if self.name == "bernoulli":
            return rng.binomial(m, np.clip(eta, 0.0, 1.0)).astype(float)
        if self.name == "categorical":
            return rng.multinomial(m, _simplex(eta)).astype(float)
        if self.name == "poisson":
            return samplers.poisson_sum(rng, eta, m)
        return samplers.gamma_sum(rng, eta, self.shape, m)

    # --- the reference: draw the m points and add them up (chains in blocks) --------------------
    def naive_sum(self, rng: np.random.Generator, eta: np.ndarray, m: int, block: int) -> np.ndarray:
        out = np.zeros_like(eta, dtype=float)
        for lo in range(0, eta.shape[0], block):
            e = eta[lo : lo + block]
            b = e.shape[0]
            chunk = max(1, _DRAW_FLOATS // (b * self.points_per_chain(1)))  # >= m unless one chain alone is too big
            for start in range(0, m, chunk):  # one chunk unless a chain alone exceeds the block
                mc = min(chunk, m - start)
                if self.name == "bernoulli":
                    out[lo : lo + block] += (rng.random((b, mc)) < e).sum(axis=1, keepdims=True)
                elif self.name == "categorical":
                    cum = np.cumsum(_simplex(e), axis=1)[:, :-1]  # inverse-CDF draw of each point's category
                    idx = (rng.random((b, mc))[:, :, None] >= cum[:, None, :]).sum(axis=2)
                    flat = (idx + self.p * np.arange(b)[:, None]).ravel()
                    out[lo : lo + block] += np.bincount(flat, minlength=b * self.p).reshape(b, self.p)
                elif self.name == "poisson":
                    out[lo : lo + block] += rng.poisson(e, (b, mc)).sum(axis=1, keepdims=True)
                else:
                    out[lo : lo + block] += rng.gamma(self.shape, e / self.shape, (b, mc)).sum(axis=1, keepdims=True)
        return out

    def points_per_chain(self, m: int) -> int:
        """Floats drawn per chain by :meth:`naive_sum` (to size blocks)."""
        return m * (self.p if self.name == "categorical" else 1)

    # --- closed forms ---------------------------------------------------------------------------
    def kl(self, eta: np.ndarray) -> np.ndarray:
        r""":math:`KL(p_{data}\,\|\,p_\eta)` over the last axis; ``inf`` where the model lost support."""
        d = self.eta_data
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.name in ("bernoulli", "categorical"):
                q = eta if self.name == "categorical" else np.concatenate([eta, 1.0 - eta], axis=-1)
                p = d if self.name == "categorical" else np.concatenate([d, 1.0 - d])
                lost = np.any((q <= 0) & (p > 0), axis=-1)
                val = np.sum(xlogy(p, p) - xlogy(p, np.where(q > 0, q, 1.0)), axis=-1)
                return np.where(lost, np.inf, np.maximum(val, 0.0))
            e = eta[..., 0]
            if self.name == "poisson":
                ok = e > 0
                val = xlogy(d[0], d[0]) - xlogy(d[0], np.where(ok, e, 1.0)) - d[0] + e
                return np.where(ok | (d[0] == 0), np.maximum(val, 0.0), np.inf)
            ok = e > 0
            r = d[0] / np.where(ok, e, 1.0)
            return np.where(ok, self.shape * (r - 1.0 - np.log(r)), np.inf)

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

    def variance(self, eta_mean: np.ndarray, eta_second: np.ndarray) -> np.ndarray:
        r""":math:`E[V(\eta)]` from :math:`E[\eta]` (p,) and :math:`E[\eta\eta^\top]` (p, p); V is at most quadratic."""
        if self.name in ("bernoulli", "categorical"):
            return np.diag(eta_mean) - eta_second
        if self.name == "poisson":
            return np.diag(eta_mean)
        return eta_second / self.shape


_DRAW_FLOATS = 2**23  # floats per random draw of naive_sum (64 MiB), as simulate.NAIVE_BLOCK_FLOATS


def _simplex(eta: np.ndarray) -> np.ndarray:
    """Probabilities clipped to [0, 1] and renormalised against rounding (sums of counts / N)."""
    q = np.clip(eta, 0.0, 1.0)
    return q / q.sum(axis=-1, keepdims=True)


def _positive(name: str, x) -> float:
    v = float(x)
    if not (v > 0 and np.isfinite(v)):
        raise ValueError(f"data[{name!r}] must be a finite number > 0, got {x!r}")
    return v


def family_spec(family: str, params: dict | None) -> FamilySpec:
    """Parse a non-Gaussian family's distribution parameters (``data`` or ``init``), with defaults."""
    params = dict(params or {})
    allowed = {
        "bernoulli": {"p"},
        "categorical": {"probs"},
        "poisson": {"rate"},
        "exponential": {"mean"},
        "gamma": {"shape", "mean"},
    }[family]
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"data for family {family!r} takes keys {sorted(allowed)}, got {sorted(unknown)}")
    if family == "bernoulli":
        p = float(params.get("p", 0.3))
        if not 0.0 < p < 1.0:
            raise ValueError(f"data['p'] must be in (0, 1), got {p!r}")
        return FamilySpec(family, np.array([p]))
    if family == "categorical":
        q = np.asarray(params.get("probs", [0.5, 0.3, 0.2]), dtype=float)
        if q.ndim != 1 or q.size < 2 or np.any(~(q > 0)) or abs(q.sum() - 1.0) > 1e-12 * q.size:
            # 1e-12 * K: the rounding of a sum of K probabilities given in decimal
            raise ValueError(f"data['probs'] must be a vector of >= 2 positive probabilities summing to 1, got {q}")
        return FamilySpec(family, q / q.sum())
    if family == "poisson":
        return FamilySpec(family, np.array([_positive("rate", params.get("rate", 3.0))]))
    shape = 1.0 if family == "exponential" else _positive("shape", params.get("shape", 2.0))
    return FamilySpec(family, np.array([_positive("mean", params.get("mean", 1.0))]), shape=shape)
