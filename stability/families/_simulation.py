r"""The simulator's side of a family (docs/theory.md §6): parsed data, exact and naive sums, kernels.

:func:`stability.simulate` asks the family registered in :data:`stability.families.FAMILIES` for a
*simulation* (:meth:`~stability.families.ExponentialFamily.simulation`): an object that knows the
data distribution's parameters and builds the retraining loop's kernel (draw the real data's
statistics, draw a synthetic batch's, pool, fit). Two kinds exist:

- :class:`FamilySpec` (this module), for a family fitted by moment matching of a mean parameter
  :math:`\eta = E[T(x)]` whose sum :math:`\sum_i T(x_i)` has a known law: the family class supplies
  the hooks (``sum_exact``, ``sum_points``, ``sum_kl``, ``variance_function``, ``edge``,
  ``parse_params``, ...), this class runs them for every chain;
- the Gaussian's :class:`~stability.families.gaussian.GaussianSimulation` (mean and scatter matrix,
  Wishart statistics).

A family adds itself by defining the hooks; nothing here names a family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import xlogy

from .._domains import DOMAINS, check
from ..errors import check_memory

__all__ = ["COLLAPSE_KL", "COLLAPSE_RTOL", "NAIVE_BLOCK_FLOATS", "FamilySpec"]

# Numerical collapse (see FamilySpec.degenerate). A fitted mean parameter within COLLAPSE_RTOL of
# the edge of its domain, relative to the data's own value, is at the edge to working precision;
# COLLAPSE_KL = 1 / (2 eps_mach) ~ 2.3e15 nats is the KL of a 1-D Gaussian whose variance has shrunk
# to eps_mach times the data's (the Gaussian collapse floor of samplers.sqrt_factor).
COLLAPSE_RTOL = float(np.finfo(float).eps)
COLLAPSE_KL = 1.0 / (2.0 * COLLAPSE_RTOL)
# naive method: at most this many random floats drawn per block of chains (64 MiB of float64); a
# chain whose round needs more is drawn in chunks of points, so memory stays bounded whatever n and k
NAIVE_BLOCK_FLOATS = 2**23


def simplex(eta: np.ndarray) -> np.ndarray:
    """Probabilities clipped to [0, 1] and renormalised against rounding (sums of counts / N)."""
    q = np.clip(eta, 0.0, 1.0)
    return q / q.sum(axis=-1, keepdims=True)


def positive(name: str, x) -> float:
    """``x`` as a finite number > 0, the error naming ``data[name]``."""
    try:
        return float(check(f"data[{name!r}]", x, DOMAINS["rate"]))
    except ValueError:
        raise ValueError(f"data[{name!r}] must be a finite number > 0, got {x!r}") from None


def support_kl(d: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL between probability vectors (last axis); ``inf`` where ``q`` lost mass that ``d`` has."""
    lost = np.any((q <= 0) & (d > 0), axis=-1)
    val = np.sum(xlogy(d, d) - xlogy(d, np.where(q > 0, q, 1.0)), axis=-1)
    return np.where(lost, np.inf, np.maximum(val, 0.0))


def per_chain(m):
    """A count ``m`` (an int, or one per chain, shape (chains,)) broadcastable against (chains, 1)."""
    return m if np.ndim(m) == 0 else np.asarray(m)[:, None]


@dataclass(frozen=True, eq=False)
class FamilySpec:
    r"""A family fitted by moment matching, with its data distribution's mean parameter ``eta_data`` (p,).

    ``family`` is the family class (a subclass of :class:`~stability.families.ExponentialFamily`)
    whose hooks this object runs; ``shape`` is a parameter held fixed (the gamma's known shape
    :math:`a`; 1 otherwise).
    """

    family: Any
    eta_data: np.ndarray
    shape: float = 1.0

    @property
    def name(self) -> str:
        return self.family.name

    @property
    def p(self) -> int:
        return self.eta_data.size

    @property
    def free(self) -> int:
        """Number of free mean parameters (the categorical's probabilities sum to 1: ``p - 1``)."""
        return self.family.free_parameters(self.p)

    # --- the family's hooks, at this data distribution ---------------------------------------------
    def exact_sum(self, rng: np.random.Generator, eta: np.ndarray, m) -> np.ndarray:
        """:math:`\\sum_{i\\le m} T(x_i)` for every chain, drawn from its law (``m`` an int or one per chain)."""
        return self.family.sum_exact(rng, eta, m, self.shape)

    def _naive_block(self, rng: np.random.Generator, e: np.ndarray, m: int) -> np.ndarray:
        """Draw ``m`` points per row of ``e`` and add up their statistics."""
        return self.family.sum_points(rng, e, m, self.shape)

    def points_per_chain(self, m: int) -> int:
        """Floats drawn per chain by :meth:`naive_sum` (to size blocks)."""
        return m * self.family.floats_per_point(self.p)

    def kl(self, eta) -> np.ndarray:
        r""":math:`KL(p_{data}\|p_\eta)` in closed form over the last axis."""
        return self.family.sum_kl(self.eta_data, eta, self.shape)

    def variance(self, eta_mean, eta_second) -> np.ndarray:
        r""":math:`E[V(\eta)]` from :math:`E\eta` and :math:`E\eta\eta^\top` (:math:`V` is at most quadratic)."""
        return self.family.variance_function(eta_mean, eta_second, self.shape)

    def naive_sum(self, rng: np.random.Generator, eta: np.ndarray, m: int, block: int) -> np.ndarray:
        """The reference: draw the ``m`` points and add them up (chains in blocks, points in chunks)."""
        out = np.zeros_like(eta, dtype=float)
        for lo in range(0, eta.shape[0], block):
            e = eta[lo : lo + block]
            # points per draw: all m unless one chain alone exceeds the block (then in chunks: bounded memory)
            chunk = max(1, NAIVE_BLOCK_FLOATS // (e.shape[0] * self.points_per_chain(1)))
            for start in range(0, m, chunk):
                out[lo : lo + block] += self._naive_block(rng, e, min(chunk, m - start))
        return out

    def degenerate(self, eta: np.ndarray) -> np.ndarray:
        r"""Collapse: the fitted model lost part of the data's support, numerically or exactly.

        A chain is collapsed when :math:`KL(p_{data}\|p_\eta)` is infinite or above
        :data:`COLLAPSE_KL`, or when a fitted mean parameter is at the edge of its domain to working
        precision: one of the family's :meth:`~stability.families.ExponentialFamily.edge` values
        (a probability, Bernoulli :math:`p` and :math:`1-p`; a positive mean) below
        :data:`COLLAPSE_RTOL` times the data's value (where the data's is positive).
        """
        with np.errstate(invalid="ignore"):
            kl = self.kl(eta)
            q, p = self.family.edge(eta), self.family.edge(self.eta_data)
            edge = np.any((p > 0) & (q <= COLLAPSE_RTOL * p), axis=-1)
        return ~(kl <= COLLAPSE_KL) | edge

    # --- parameters -------------------------------------------------------------------------------
    def params(self) -> dict:
        """The parameters as a dict that :meth:`with_params` reads back."""
        return self.family.params_from_mean(self.eta_data, self.shape)

    def with_params(self, params: dict) -> FamilySpec:
        """The same family at the distribution parameters ``params`` (keys checked, defaults filled)."""
        return self.family.simulation(params)

    def target_params(self, params: dict) -> dict:
        """``params`` with the parameters this family holds fixed (``known``) taken from this one."""
        return self.params() | {k: v for k, v in params.items() if k not in self.family.known}

    # --- the simulator's protocol ---------------------------------------------------------------
    @property
    def data_mean(self) -> np.ndarray:
        return self.eta_data

    data_cov = None

    def initial(self, init, dim=None) -> np.ndarray:
        """The model of generation 0: ``init`` (a dict of parameters or data) or the data distribution."""
        if init is not None and self.family.known and not (isinstance(init, dict) and set(init) <= self._fitted):
            keys = " and ".join(map(repr, sorted(self._fitted)))
            raise ValueError(
                f"init for family {self.name!r} takes key {keys} only "
                f"(the {' and '.join(self.family.known)} is known and fixed)"
            )
        init_params = self.family.parse_dict(init, "init")
        return self.eta_data if not init_params else self.with_params(self.params() | init_params).eta_data

    @property
    def _fitted(self) -> set:
        return set(self.family.keys()) - set(self.family.known)

    def check_round(self, per_round: int, what: str, scheme: str, param: str = "n") -> None:
        """Every round fits a mean: any number of points will do."""

    def cost(self, K: int = 1) -> tuple[int, int]:
        """Floats drawn per point and floats stored per chain and generation (for the cost check)."""
        return self.points_per_chain(1), self.p + 3

    def kernel(self, start, method: str, subsample: bool, G: int, C: int, estimator: str, n: int, k: int) -> object:
        """The retraining loop's kernel for this family (statistics ``(N, sum T(x))`` or points)."""
        return (_FamilyPoints if subsample else _FamilyKernel)(self, start, G, C, method, n, k)

    def stationary_variance(self) -> tuple[np.ndarray, int]:
        r""":math:`V(\eta_{data})` and the number of free mean parameters."""
        eta = self.eta_data
        return self.variance(eta, np.outer(eta, eta)), self.free

    def correction(self) -> dict:
        """The arguments of :func:`~stability.dynamics.correction.correct_kernel` for this family."""
        return dict(data_params=self.eta_data, spec=self)

    def collapsed(self, kernel) -> np.ndarray:
        return self.degenerate(kernel.mean)

    def result(self, kernel, real) -> dict:
        """The fields of :class:`~stability.dynamics.SimulationResult` this family fills."""
        return dict(
            cov=None,
            collapsed=self.degenerate(kernel.mean),
            data_mean=self.eta_data,
            data_cov=None,
            spec=self,
            real_mean=None if real is None else kernel.real_fit(real)[0],
        )


# ---------------------------------------------------------------- kernels of the retraining loop


class _FamilyKernel:
    """Statistics ``(N, sum T(x))`` of a family, drawn exactly or as points; pooled by addition."""

    def __init__(self, spec: FamilySpec, eta0, G, C, method, n, k):
        self.mean = np.empty((G + 1, C, spec.p))
        self.mean[0] = eta0
        self.eta_d = np.broadcast_to(spec.eta_data, (C, spec.p))
        if method == "exact":
            self.draw = spec.exact_sum
        else:
            block = max(1, NAIVE_BLOCK_FLOATS // spec.points_per_chain(max(n, k)))
            self.draw = lambda rng, eta, m: spec.naive_sum(rng, eta, m, block)

    def real(self, rng, m):
        return m, self.draw(rng, self.eta_d, m)

    def synthetic(self, rng, t, m):
        return m, self.draw(rng, self.mean[t], m)

    @staticmethod
    def scale(a, c):
        """The statistics with every point's weight multiplied by ``c`` (sums scale)."""
        return a[0] * c, a[1] * c

    @staticmethod
    def join(a, b):
        return a[0] + b[0], a[1] + b[1]

    def fit(self, t, stats):
        N, s = stats
        self.mean[t] = s / N

    def real_fit(self, stats):
        N, s = stats
        return s / N, None


# ---------------------------------------------------------------- pools of points (subsampling schemes)


def _distinct_indices(rng, N: int, m: int, C: int) -> np.ndarray:
    r"""``m`` distinct indices in ``[0, N)`` per chain, uniform over m-subsets, (C, m): the ``exact`` route.

    Draws ``min(m, N - m)`` indices with replacement and redraws the repeats until every row is
    distinct (each redraw keeps the set uniform: rejection sampling of the ordered draw); when
    ``m > N/2`` the drawn set is the complement. Cost :math:`O(C m \log m)` per pass; a pass leaves
    a repeat with probability at most about 1/2 per entry, so a few passes suffice.
    """
    if m == N:
        return np.broadcast_to(np.arange(N), (C, N))
    q = min(m, N - m)
    idx = rng.integers(0, N, size=(C, q))
    while True:
        order = np.argsort(idx, axis=1, kind="stable")
        s = np.take_along_axis(idx, order, axis=1)
        dup_sorted = np.zeros_like(s, dtype=bool)
        dup_sorted[:, 1:] = s[:, 1:] == s[:, :-1]
        if not dup_sorted.any():
            break
        dup = np.zeros_like(dup_sorted)
        np.put_along_axis(dup, order, dup_sorted, axis=1)  # later copies of a repeated index
        idx[dup] = rng.integers(0, N, size=int(dup.sum()))
    if q == m:
        return idx
    keep = np.ones((C, N), dtype=bool)
    np.put_along_axis(keep, idx, False, axis=1)
    return np.nonzero(keep)[1].reshape(C, m)


def _ranked_indices(rng, N: int, m: int, C: int) -> np.ndarray:
    """``m`` distinct indices per chain: the ``m`` smallest of ``N`` uniform keys (the ``naive`` route)."""
    if m == N:
        return np.broadcast_to(np.arange(N), (C, N))
    return np.argpartition(rng.random((C, N)), m - 1, axis=1)[:, :m]


class Points:
    """A pool of points per chain in one preallocated array (C, capacity, q); data are prefix views of it.

    ``join(a, b)`` writes ``b`` right after ``a`` (``a`` is always the pool so far, a prefix), so the
    pool grows without copies; :meth:`subsample` gathers ``m`` of its points per chain.
    """

    def allocate(self, capacity: int, q: int, method: str) -> None:
        C = self.mean.shape[1]
        check_memory(
            8.0 * C * capacity * q,
            f"the pool of points of {C} chains ({capacity} points of dimension {q}; a subsampling scheme keeps them)",
            "lower chains (--chains), generations (--generations) or lambda_",
        )
        self.buf = np.empty((C, capacity, q))
        self.pick = _distinct_indices if method == "exact" else _ranked_indices

    def join(self, a, b):
        N = a.shape[1]
        self.buf[:, N : N + b.shape[1]] = b
        return self.buf[:, : N + b.shape[1]]

    def real(self, rng, m):
        self.buf[:, :m] = self._draw(rng, None, m)
        return self.buf[:, :m]

    def synthetic(self, rng, t, m):
        return self._draw(rng, t, m)

    def subsample(self, rng, pool, m):
        C, N, _ = pool.shape
        return np.take_along_axis(pool, self.pick(rng, N, m, C)[:, :, None], axis=1)


class _FamilyPoints(Points, _FamilyKernel):
    """Points of a family as their statistic :math:`T(x)` (p numbers each); fit: the mean."""

    def __init__(self, spec, eta0, G, C, method, n, k):
        super().__init__(spec, eta0, G, C, method, n, k)
        self.spec = spec

    def _draw(self, rng, t, m):
        eta = self.eta_d if t is None else self.mean[t]
        C, p = eta.shape
        out = np.empty((C, m, p))
        block = max(1, NAIVE_BLOCK_FLOATS // (m * self.spec.points_per_chain(1)))
        for lo in range(0, C, block):  # one point per row of the repeated mean parameters
            e = np.repeat(eta[lo : lo + block], m, axis=0)
            out[lo : lo + block] = self.spec._naive_block(rng, e, 1).reshape(-1, m, p)
        return out

    def fit(self, t, x):
        self.mean[t] = x.mean(axis=1)

    def real_fit(self, x):
        return x.mean(axis=1), None
