r"""Curated retraining (docs/theory.md §15): rewards, the Luce choice among K samples, the tilt, population laws.

Ferbach, Bertrand, Bose & Gidel 2024 (arXiv 2407.09499) model a human curator: each kept synthetic
point is chosen among :math:`K` independent samples :math:`x_1, \dots, x_K` of the current model with
probability :math:`e^{r(x_i)}/\sum_j e^{r(x_j)}` (a Luce / Bradley–Terry choice with reward :math:`r`).
A kept point has the density :math:`p(x)H_K(x)`,

.. math:: H_K(x) = K\,E\Big[\frac{e^{r(x)}}{e^{r(x)} + \sum_{i=2}^K e^{r(X_i)}}\Big],

and as :math:`K\to\infty`, :math:`H_K \to e^{r}/E_p e^{r}`: the kept point follows the *exponential
tilt* :math:`p\,e^r/E_pe^r`. For a Gaussian :math:`N(\mu, \Sigma)` the tilt is Gaussian for the two
rewards this module declares:

- :class:`QuadraticReward` :math:`r(x) = -\tfrac\beta2\|x-a\|^2`: precision :math:`\Sigma^{-1} + \beta I`,
  mean :math:`(I+\beta\Sigma)^{-1}(\mu + \beta\Sigma a)`;
- :class:`LinearReward` :math:`r(x) = b^\top x`: the mean moves to :math:`\mu + \Sigma b`, the
  covariance stays.

What is here:

- the reward and curation declarations (:func:`as_reward`, :func:`as_curation`; dicts accepted),
  :func:`tilt` and :func:`curated_points` (finite :math:`K`, the Gumbel-max trick, vectorised over
  chains and points), used by :func:`stability.simulate` (``curation=``);
- :func:`curated_point_moments`: mean and variance of a kept point for finite :math:`K` in one
  dimension, by quadrature through the Laplace identity
  :math:`1/(e^r+S) = \int_0^\infty e^{-u(e^r+S)}\,du`;
- :func:`curated_gaussian`: the population recursion of a Gaussian refit on real data mixed with
  curated synthetic data (weights :math:`1/(1+\lambda)`, :math:`\lambda/(1+\lambda)`), its fixed
  point, Jacobian and rate; :func:`curated_replace`: the closed-form trajectory without real data
  (:math:`\lambda = \infty`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

import numpy as np

from .._domains import Interval, check, check_scalar
from ..errors import InputError, check_memory
from ..families import samplers

__all__ = [
    "Curation",
    "CuratedGaussian",
    "LinearReward",
    "QuadraticReward",
    "as_curation",
    "as_reward",
    "curated_gaussian",
    "curated_point_moments",
    "curated_points",
    "curated_replace",
    "check_curation",
    "tilt",
]

_POSITIVE = Interval(0.0, low_closed=False)
_K = Interval(1.0, math.inf, high_closed=True, integer=True)


def _vector(name: str, value) -> np.ndarray:
    if np.iscomplexobj(value):
        raise InputError(f"{name} must be a finite real vector, got a complex value")
    try:
        x = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a finite real vector, got {value!r}") from None
    if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
        raise InputError(f"{name} must be a finite real number or vector (shape (d,)), got {value!r}")
    return x


@dataclass(frozen=True)
class QuadraticReward:
    r"""The reward :math:`r(x) = -\tfrac{\beta}{2}\|x - a\|^2` (``center`` :math:`a`, ``strength`` :math:`\beta > 0`).

    >>> r = QuadraticReward(center=1.0, strength=2.0)
    >>> float(r(np.array([[0.0]]))[0]), r.dim
    (-1.0, 1)
    """

    center: np.ndarray
    strength: float
    kind: ClassVar[str] = "quadratic"

    def __post_init__(self):
        object.__setattr__(self, "center", _vector("reward center", self.center))
        object.__setattr__(self, "strength", check_scalar("reward strength", self.strength, _POSITIVE))
        if not math.isfinite(self.strength):
            raise InputError(f"reward strength must be a finite number > 0, got {self.strength!r}")

    @property
    def dim(self) -> int:
        return self.center.size

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """:math:`r(x)` for points ``x`` of shape (..., d)."""
        return -0.5 * self.strength * np.sum((x - self.center) ** 2, axis=-1)

    def expected(self, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
        r""":math:`E_{N(\mu,\Sigma)} r = -\tfrac\beta2(\|\mu-a\|^2 + \mathrm{tr}\,\Sigma)` (stacks)."""
        spread = np.trace(cov, axis1=-2, axis2=-1)
        return -0.5 * self.strength * (np.sum((mean - self.center) ** 2, axis=-1) + spread)


@dataclass(frozen=True)
class LinearReward:
    r"""The reward :math:`r(x) = b^\top x` (``direction`` :math:`b`).

    >>> LinearReward(direction=[1.0, -2.0])(np.array([1.0, 1.0])).item()
    -1.0
    """

    direction: np.ndarray
    kind: ClassVar[str] = "linear"

    def __post_init__(self):
        object.__setattr__(self, "direction", _vector("reward direction", self.direction))

    @property
    def dim(self) -> int:
        return self.direction.size

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x @ self.direction

    def expected(self, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
        r""":math:`E_{N(\mu,\Sigma)} r = b^\top\mu`."""
        return mean @ self.direction


_KINDS = {"quadratic": QuadraticReward, "linear": LinearReward}


def as_reward(spec) -> QuadraticReward | LinearReward:
    """A reward from a :class:`QuadraticReward` / :class:`LinearReward` or a dict.

    Dicts: ``{"kind": "quadratic", "center": a, "strength": beta}`` or ``{"kind": "linear",
    "direction": b}``; ``kind`` may be left out when the keys say it.

    >>> as_reward({"center": 0.0, "strength": 1.0}).kind, as_reward({"direction": [1.0]}).kind
    ('quadratic', 'linear')
    """
    if isinstance(spec, (QuadraticReward, LinearReward)):
        return spec
    if not isinstance(spec, dict):
        raise InputError(
            f"reward must be a QuadraticReward, a LinearReward or a dict ({{'kind': 'quadratic', 'center', "
            f"'strength'}} or {{'kind': 'linear', 'direction'}}), got {spec!r}"
        )
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind is None:
        kind = "linear" if "direction" in spec else "quadratic"
    if kind not in _KINDS:
        raise InputError(f"reward kind must be one of 'quadratic', 'linear', got {kind!r}")
    keys = {"quadratic": {"center", "strength"}, "linear": {"direction"}}[kind]
    if set(spec) != keys:
        raise InputError(f"a {kind} reward takes the keys {sorted(keys)}, got {sorted(spec)}")
    return _KINDS[kind](**spec)


@dataclass(frozen=True)
class Curation:
    r"""Each kept synthetic point is the Luce choice among ``K`` model samples under ``reward``.

    ``K``: an integer >= 1 (1: no curation) or ``math.inf`` (the exact tilt :math:`p\,e^r/E_pe^r`).
    """

    K: float
    reward: QuadraticReward | LinearReward = field(repr=True)

    def __post_init__(self):
        if self.K is None or isinstance(self.K, bool):
            raise InputError(f"curation K must be an integer >= 1 or math.inf (the tilt), got {self.K!r}")
        K = check_scalar("curation K", self.K, _K)
        object.__setattr__(self, "K", K if math.isinf(K) else int(K))
        object.__setattr__(self, "reward", as_reward(self.reward))

    @property
    def infinite(self) -> bool:
        return math.isinf(self.K)


def as_curation(spec) -> Curation | None:
    """``None``, a :class:`Curation`, or a dict ``{"K": ..., "reward": ...}`` as a :class:`Curation`."""
    if spec is None or isinstance(spec, Curation):
        return spec
    if not isinstance(spec, dict) or set(spec) != {"K", "reward"}:
        got = sorted(spec) if isinstance(spec, dict) else repr(spec)
        raise InputError(f"curation must be None, a Curation or a dict with the keys ['K', 'reward'], got {got}")
    return Curation(spec["K"], spec["reward"])


def check_curation(spec, family, method: str, dim: int | None = None) -> Curation | None:
    """The curation :func:`stability.simulate` runs, or a clear error: Gaussian family only, the reward's
    dimension that of the data, finite ``K > 1`` with ``method="naive"`` only (the kept points are not
    Gaussian, so no exact sampler of their statistics exists; ``K = inf`` and ``K = 1`` run with both)."""
    cur = as_curation(spec)
    if cur is None:
        return None
    if not family.curates:  # the family class (stability.families.FAMILIES)
        raise InputError(f"curation is implemented for the gaussian family only, got family {family.name!r}")
    if dim is not None and cur.reward.dim != dim:
        raise InputError(f"the curation reward has dimension {cur.reward.dim}, the data dimension {dim}")
    if method == "exact" and not cur.infinite and cur.K > 1:
        raise InputError(
            f"curation with finite K = {cur.K} needs method 'naive' (the kept points are not Gaussian: no exact "
            "sampler of their statistics); method 'exact' takes K = inf (the tilt) or K = 1"
        )
    return cur


def tilt(mean: np.ndarray, cov: np.ndarray, reward) -> tuple[np.ndarray, np.ndarray]:
    r"""The tilt :math:`p\,e^r/E_pe^r` of :math:`p = N(\mu, \Sigma)`, a Gaussian: its mean and covariance.

    Stacks: ``mean`` (..., d), ``cov`` (..., d, d). Quadratic reward: :math:`\Sigma' = (I+\beta\Sigma)^{-1}\Sigma`
    (the precision :math:`\Sigma^{-1}+\beta I`, computed without inverting :math:`\Sigma`, so a
    singular :math:`\Sigma` is fine), :math:`\mu' = (I+\beta\Sigma)^{-1}(\mu+\beta\Sigma a)`. Linear:
    :math:`\mu' = \mu + \Sigma b`, :math:`\Sigma' = \Sigma`.

    >>> m, S = tilt(np.array([0.0]), np.array([[1.0]]), QuadraticReward(2.0, 1.0))
    >>> float(m[0]), float(S[0, 0])
    (1.0, 0.5)
    """
    reward = as_reward(reward)
    mean, cov = np.asarray(mean) + 0.0, np.asarray(cov) + 0.0  # floats (complex kept: complex-step derivatives)
    if isinstance(reward, LinearReward):
        return mean + cov @ reward.direction, cov
    beta, a = reward.strength, reward.center
    M = np.eye(cov.shape[-1]) + beta * cov
    S = np.linalg.solve(M, cov)
    m = np.linalg.solve(M, (mean + beta * (cov @ a))[..., None])[..., 0]
    return m, 0.5 * (S + np.swapaxes(S, -1, -2))


def curated_points(rng: np.random.Generator, mean: np.ndarray, L: np.ndarray, m: int, curation) -> np.ndarray:
    r"""``m`` kept points per chain, each the Luce choice among ``K`` draws of :math:`N(\mu_c, L_cL_c^\top)`.

    ``mean`` (C, d), ``L`` (C, d, d) or (d, d); returns (C, m, d). The choice uses the Gumbel-max
    trick: :math:`\arg\max_i (r(x_i) + G_i)`, :math:`G_i` i.i.d. standard Gumbel, picks :math:`i` with
    probability :math:`e^{r(x_i)}/\sum_j e^{r(x_j)}`. ``K = inf`` draws from the tilt; ``K = 1`` is
    plain sampling. Memory: C m K d floats (the caller blocks the chains).
    """
    cur = as_curation(curation)
    C, d = mean.shape
    L = np.broadcast_to(L, (C, d, d))
    if cur.infinite:
        mt, St = tilt(mean, L @ np.swapaxes(L, -1, -2), cur.reward)
        e, V = np.linalg.eigh(St)
        L, mean = V * np.sqrt(np.maximum(e, 0.0))[..., None, :], mt
    K = 1 if cur.infinite else cur.K
    z = rng.standard_normal((C, m, K, d))
    x = mean[:, None, None, :] + np.einsum("cmkj,cij->cmki", z, L)
    if K == 1:
        return x[:, :, 0]
    pick = np.argmax(cur.reward(x) + rng.gumbel(size=(C, m, K)), axis=-1)
    return np.take_along_axis(x, pick[:, :, None, None], axis=2)[:, :, 0]


# ---------------------------------------------------------------- the law of a kept point (finite K)


def curated_point_moments(mean: float, var: float, reward, K) -> tuple[float, float]:
    r"""Mean and variance of a kept point (law :math:`p\,H_K`, :math:`p = N(\text{mean}, \text{var})`), one dimension.

    With :math:`R = e^{r(X)}`, :math:`X \sim p`, the Laplace identity :math:`1/(e^{r}+S) = \int_0^\infty
    e^{-u(e^r+S)}du` and the independence of the :math:`K-1` other draws give

    .. math:: E_{pH_K}[g] = K\int_0^\infty \varphi(u)^{K-1}\,E_p\big[g(X)\,R\,e^{-uR}\big]\,du,
       \qquad \varphi(u) = E_p e^{-uR}

    (:math:`g = 1` integrates to :math:`1 - \varphi(\infty)^K = 1`). The expectations over :math:`X`
    are trapezoid sums on a uniform grid of :math:`\pm 14` standard deviations (spectrally accurate for
    these smooth, Gaussian-decaying integrands; the step resolves :math:`\sqrt{\text{var}}`,
    :math:`1/\sqrt\beta` and the Gaussian's curvature); the :math:`u`-integral is taken in
    :math:`s = \log u` by :func:`scipy.integrate.quad_vec`, adaptive, over the range where
    :math:`uR` crosses 1 on the grid (outside it the integrand is below :math:`e^{-40}` relative).
    The three moments :math:`g = 1, x, x^2` come from one vector integral, and the mean and
    variance are normalised by the computed mass. ``K = inf``: the tilt's moments; ``K = 1``: :math:`p`'s.

    >>> m, v = curated_point_moments(0.0, 1.0, QuadraticReward(0.0, 1.0), 10**6)
    >>> round(m, 6), round(v, 4)   # close to the tilt N(0, 1/2)
    (0.0, 0.5)
    """
    from scipy.integrate import quad_vec

    mean = float(check_scalar("mean", mean, Interval(-math.inf)))
    var = float(check_scalar("var", var, _POSITIVE))
    if not (math.isfinite(mean) and math.isfinite(var)):
        raise InputError(f"mean and var must be finite, got {mean!r}, {var!r}")
    reward = as_reward(reward)
    if reward.dim != 1:
        raise InputError(f"curated_point_moments is one-dimensional: the reward has dimension {reward.dim}")
    K = Curation(K, reward).K
    if math.isinf(K):
        m, S = tilt(np.array([mean]), np.array([[var]]), reward)
        return float(m[0]), float(S[0, 0])
    if K == 1:
        return mean, var
    sd = math.sqrt(var)
    lo, hi = mean - 14 * sd, mean + 14 * sd
    scale = sd if isinstance(reward, LinearReward) else min(sd, 1 / math.sqrt(reward.strength))
    if isinstance(reward, LinearReward):
        scale = min(scale, 1 / max(abs(float(reward.direction[0])), 1e-300))
    h = min(scale / 24, (hi - lo) / 400)
    x = np.linspace(lo, hi, int(math.ceil((hi - lo) / h)) + 1)
    w = np.exp(-0.5 * ((x - mean) / sd) ** 2)
    w *= np.gradient(x) / (sd * math.sqrt(2 * math.pi))  # trapezoid weights (uniform grid, tails ~ 0)
    w /= w.sum()
    r = reward(x[:, None])
    top = r.max()
    R = np.exp(r - top)  # rescaled: u is then in units of e^{-top}; the law of the choice is unchanged
    alive = w > 1e-300
    s_lo = -40.0
    s_hi = float(-np.log(np.maximum(R[alive].min(), 1e-300))) + 40.0
    g = np.stack([np.ones_like(x), x, x * x]) * (w * R)

    def integrand(s):
        u = math.exp(s)
        E = np.exp(-u * R)
        phi = float(w @ E)
        return u * K * phi ** (K - 1) * (g @ E)

    val, _ = quad_vec(integrand, s_lo, s_hi, epsrel=1e-11, epsabs=0.0, limit=2000)
    mass, m1, m2 = val
    mu = m1 / mass
    return float(mu), float(m2 / mass - mu * mu)


# ---------------------------------------------------------------- population recursion (Gaussian refit)


def _vech_index(d: int):
    return np.triu_indices(d)


@dataclass(frozen=True, eq=False)
class CuratedGaussian:
    r"""The population recursion of a Gaussian refit on real data and curated synthetic data (docs/theory.md §15).

    One round: the kept points follow the tilt (``K = inf``; any dimension) or :math:`pH_K`
    (finite ``K``; one dimension, moments by :func:`curated_point_moments`) of the current
    :math:`N(\mu, \Sigma)`; the refit is the maximum-likelihood Gaussian of the mixture with weights
    :math:`1/(1+\lambda)` on the data :math:`N(m_d, \Sigma_d)` and :math:`\lambda/(1+\lambda)` on the
    kept law: the mixture's mean and covariance, including the between-means term
    :math:`\tfrac{\lambda}{(1+\lambda)^2}(\tilde\mu - m_d)(\tilde\mu - m_d)^\top`. ``lambda_ = inf``:
    no real data (``replace``).

    Attributes: :meth:`step`, :meth:`trajectory`, :meth:`expected_reward`, the fixed point
    ``mean`` / ``var`` (floats in one dimension, else a vector and a matrix), ``fixed_points`` (every
    fixed point, one dimension), ``jacobian`` of the map on :math:`(\mu, \mathrm{vech}\,\Sigma)` at
    the fixed point and its spectral radius ``rate``.
    """

    data_mean: np.ndarray
    data_cov: np.ndarray
    reward: QuadraticReward | LinearReward
    lambda_: float
    K: float = math.inf

    @property
    def dim(self) -> int:
        return self.data_mean.size

    def _kept(self, mean, cov):
        if math.isinf(self.K):
            return tilt(mean, cov, self.reward)
        m, v = curated_point_moments(float(mean[0]), float(cov[0, 0]), self.reward, self.K)
        return np.array([m]), np.array([[v]])

    def step(self, mean, cov) -> tuple[np.ndarray, np.ndarray]:
        r"""One round of the population map: :math:`(\mu, \Sigma) \mapsto (\mu', \Sigma')` (arrays (d,), (d, d))."""
        mean = np.atleast_1d(np.asarray(mean))
        cov = np.atleast_2d(np.asarray(cov))
        km, kS = self._kept(mean, cov)
        if math.isinf(self.lambda_):
            return km, kS
        w = self.lambda_ / (1 + self.lambda_)
        delta = km - self.data_mean
        cov = (1 - w) * self.data_cov + w * kS + w * (1 - w) * np.outer(delta, delta)
        return (1 - w) * self.data_mean + w * km, cov

    def trajectory(self, generations: int, mean0=None, cov0=None) -> tuple[np.ndarray, np.ndarray]:
        """Means (generations + 1, d) and covariances (generations + 1, d, d) from ``(mean0, cov0)`` (default: data).

        Under ``lambda_ = inf`` with ``K = inf`` this is :func:`curated_replace`'s closed form.
        """
        G = int(check_scalar("generations", generations))
        m = self.data_mean if mean0 is None else np.atleast_1d(np.asarray(mean0, dtype=float))
        S = self.data_cov if cov0 is None else np.atleast_2d(np.asarray(cov0, dtype=float))
        if math.isinf(self.lambda_) and math.isinf(self.K):
            return curated_replace(m, S, self.reward, G)
        means, covs = [m], [S]
        for _ in range(G):
            m, S = self.step(m, S)
            means.append(m)
            covs.append(S)
        return np.array(means), np.array(covs)

    def expected_reward(self, mean, cov) -> np.ndarray:
        r""":math:`E_{N(\mu,\Sigma)} r` (stacks (..., d), (..., d, d))."""
        return self.reward.expected(np.asarray(mean), np.asarray(cov))

    # -- fixed point ----------------------------------------------------------------------------

    def _no_fixed_point(self):
        if math.isinf(self.lambda_) and isinstance(self.reward, LinearReward):
            raise InputError(
                "a linear reward without real data (lambda_ = inf) has no fixed point: the mean drifts by "
                "Sigma b every round and the covariance stays (use curated_replace / .trajectory)"
            )
        if isinstance(self.reward, LinearReward) and math.isinf(self.K):
            c = float(self.reward.direction @ self.data_cov @ self.reward.direction)
            lam = self.lambda_
            if 4 * lam * (1 + lam) * c > 1:
                raise InputError(
                    f"a linear reward with lambda_ = {lam:g} has no fixed point: it needs "
                    f"4 lambda_ (1 + lambda_) b'Sigma_d b <= 1, got {4 * lam * (1 + lam) * c:.4g} "
                    "(the variance grows without bound; docs/theory.md §15)"
                )

    @cached_property
    def fixed_points(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every fixed point :math:`(\\mu, \\Sigma)` (one dimension, K = inf: the positive roots of a
        quartic; otherwise the one :attr:`mean` / :attr:`var` report)."""
        self._no_fixed_point()
        if math.isinf(self.lambda_):  # quadratic reward, replace: p_t -> the point mass at a
            return [(self.reward.center.copy(), np.zeros((self.dim, self.dim)))]
        if isinstance(self.reward, LinearReward) and math.isinf(self.K):
            return [_linear_fixed_point(self.data_mean, self.data_cov, self.reward.direction, self.lambda_)]
        if self.dim == 1 and math.isinf(self.K):
            return _quadratic_fixed_points_1d(
                float(self.data_mean[0]), float(self.data_cov[0, 0]), float(self.reward.center[0]),
                self.reward.strength, self.lambda_,
            )  # fmt: skip
        return [self._solve()]

    def _solve(self):
        """The fixed point reached from the data: the iterated map, then Newton on the residual."""
        m, S = self.data_mean, self.data_cov
        for _ in range(300):
            m2, S2 = self.step(m, S)
            if np.max(np.abs(m2 - m)) + np.max(np.abs(S2 - S)) < 1e-13 * (1 + np.max(np.abs(S))):
                return m2, S2
            m, S = m2, S2
        x = self._pack(m, S)
        for _ in range(60):
            F = self._pack(*self.step(*self._unpack(x))) - x
            if np.max(np.abs(F)) < 1e-13 * (1 + np.max(np.abs(x))):
                break
            J = self._jacobian_at(x) - np.eye(x.size)
            x = x - np.linalg.solve(J, F)
        return self._unpack(x)

    def _reached(self):
        pts = self.fixed_points
        if len(pts) == 1:
            return pts[0]
        m, S = self.data_mean, self.data_cov  # iterate from the data, then take the nearest root
        for _ in range(5000):
            m, S = self.step(m, S)
        return min(pts, key=lambda p: float(np.sum((p[0] - m) ** 2) + np.sum((p[1] - S) ** 2)))

    @property
    def mean(self) -> float | np.ndarray:
        """The fixed point's mean (a float in one dimension; with several fixed points, the one the
        recursion reaches from the data)."""
        m = self._reached()[0]
        return float(m[0]) if self.dim == 1 else m

    @property
    def var(self) -> float | np.ndarray:
        """The fixed point's variance (a float in one dimension) or covariance matrix."""
        S = self._reached()[1]
        return float(S[0, 0]) if self.dim == 1 else S

    def _pack(self, m, S):
        return np.concatenate([m, S[_vech_index(self.dim)]])

    def _unpack(self, x):
        d = self.dim
        S = np.zeros((d, d), dtype=x.dtype)
        S[_vech_index(d)] = x[d:]
        S = S + np.triu(S, 1).T
        return x[:d], S

    def _jacobian_at(self, x):
        n = x.size
        J = np.empty((n, n))
        if math.isinf(self.K):  # complex step: exact to rounding (the map is analytic in its arguments)
            h = 1e-30
            for j in range(n):
                e = np.zeros(n, dtype=complex)
                e[j] = 1j * h
                J[:, j] = self._pack(*self.step(*self._unpack(x + e))).imag / h
            return J
        for j in range(n):  # finite K (quadrature): central differences, relative step 1e-5
            h = 1e-5 * max(1.0, abs(x[j]))
            e = np.zeros(n)
            e[j] = h
            J[:, j] = (self._pack(*self.step(*self._unpack(x + e))) - self._pack(*self.step(*self._unpack(x - e)))) / (
                2 * h
            )
        return J

    @property
    def jacobian(self) -> np.ndarray:
        r"""Jacobian of the map on :math:`(\mu, \mathrm{vech}\,\Sigma)` (upper triangle, row-major) at the fixed point.

        ``K = inf``: complex-step derivatives (exact to rounding); finite ``K``: central differences
        of the quadrature map (about 1e-8 accurate).
        """
        if math.isinf(self.lambda_):
            raise InputError(
                "without real data (lambda_ = inf) the curated recursion has no fixed point with a positive "
                "variance: p_t approaches the reward's maximiser like 1/t, not geometrically (use .trajectory)"
            )
        m, S = self._reached()
        return self._jacobian_at(self._pack(m, S))

    @property
    def rate(self) -> float:
        """Spectral radius of :attr:`jacobian` (local contraction factor per round)."""
        return float(np.max(np.abs(np.linalg.eigvals(self.jacobian))))


def _linear_fixed_point(md, Sd, b, lam):
    r"""Linear reward, fixed real data: :math:`q(1 - \lambda(1+\lambda)q) = b^\top\Sigma_d b` (smaller root),
    :math:`u = \Sigma b = \Sigma_d b/(1-\lambda(1+\lambda)q)`, :math:`\Sigma = \Sigma_d + \lambda(1+\lambda)uu^\top`,
    :math:`\mu = m_d + \lambda u`."""
    c = float(b @ Sd @ b)
    A = lam * (1 + lam)
    q = c if A == 0 else 2 * c / (1 + math.sqrt(max(1 - 4 * A * c, 0.0)))  # stable form of the smaller root
    u = Sd @ b / (1 - A * q)
    return md + lam * u, Sd + A * np.outer(u, u)


def quartic_coefficients(c: float, lam: float, kappa: float) -> np.ndarray:
    r"""Coefficients (highest first) of the quartic in :math:`s = \beta v` whose positive roots are the
    fixed points (docs/theory.md §15): with :math:`c = \beta v_d`, :math:`\kappa = \beta(a-m_d)^2`,

    .. math:: [(1+\lambda)s - c](1+s)(1+(1+\lambda)s)^2 - \lambda s(1+(1+\lambda)s)^2
       - \lambda(1+\lambda)\kappa s^2(1+s) = 0.
    """
    P = np.polynomial.Polynomial
    s = P([0.0, 1.0])
    q = 1 + (1 + lam) * s
    poly = ((1 + lam) * s - c) * (1 + s) * q * q - lam * s * q * q - lam * (1 + lam) * kappa * s * s * (1 + s)
    return poly.coef[::-1]


def _quadratic_fixed_points_1d(md, vd, a, beta, lam):
    """The fixed points in one dimension: positive roots s of the quartic, v = s/beta and
    m - m_d = lam s (a - m_d)/(1 + (1 + lam) s); each root polished by Newton on the quartic."""
    coef = quartic_coefficients(beta * vd, lam, beta * (a - md) ** 2)
    roots = np.roots(coef)
    out = []
    p = np.poly1d(coef)
    dp = p.deriv()
    for z in roots:
        if abs(z.imag) > 1e-8 * max(1.0, abs(z)) or z.real <= 0:
            continue
        s = float(z.real)
        for _ in range(3):
            ds = dp(s)
            if ds != 0:
                s -= p(s) / ds
        m = md + lam * s * (a - md) / (1 + (1 + lam) * s)
        out.append((np.array([m]), np.array([[s / beta]])))
    out.sort(key=lambda t: float(t[1][0, 0]))
    return out


def curated_gaussian(
    data_mean, data_var, reward_center=None, reward_strength=None, lambda_: float = 1.0, *, reward=None, K=math.inf
) -> CuratedGaussian:
    r"""The curated population recursion of a Gaussian refit with fixed real data (docs/theory.md §15).

    Parameters
    ----------
    data_mean : float or (d,), the real data's mean :math:`m_d`
    data_var : float (one dimension) or (d, d) SPD, the real data's covariance :math:`\Sigma_d`
    reward_center, reward_strength : :math:`a` and :math:`\beta > 0` of the quadratic reward
        :math:`r(x) = -\tfrac\beta2\|x-a\|^2` (or give ``reward=`` instead)
    lambda_ : ``>= 0`` (``inf``: no real data, ``replace``), the synthetic-to-real ratio; the refit
        weighs the data :math:`1/(1+\lambda)` and the kept points :math:`\lambda/(1+\lambda)`
    reward : a :class:`QuadraticReward`, :class:`LinearReward` or dict (:func:`as_reward`)
    K : ``inf`` (default, the tilt) or an integer >= 1 (one dimension: quadrature)

    Examples
    --------
    >>> g = curated_gaussian(0.0, 1.0, 0.0, 1.0, 1.0)  # a = m_d: 2 s^2 - 1 = 0, s = 1/sqrt(2)
    >>> round(g.var, 12) == round(2 ** -0.5, 12), round(g.mean, 12), round(g.rate, 6)
    (True, 0.0, 0.292893)
    """
    if reward is None:
        if reward_center is None or reward_strength is None:
            raise InputError("curated_gaussian needs reward_center and reward_strength, or reward=")
        reward = QuadraticReward(reward_center, check_scalar("reward_strength", reward_strength, _POSITIVE))
    elif reward_center is not None or reward_strength is not None:
        raise InputError("give either reward_center and reward_strength, or reward=, not both")
    reward = as_reward(reward)
    lam = float(check_scalar("lambda_", lambda_))
    md = _vector("data_mean", data_mean)
    d = md.size
    Sd = np.atleast_2d(np.asarray(check("data_var", data_var, _POSITIVE) if np.ndim(data_var) == 0 else data_var))
    Sd = np.asarray(Sd, dtype=float)
    if Sd.shape != (d, d):
        raise InputError(f"data_var must be a number (d = 1) or a ({d}, {d}) matrix, got shape {Sd.shape}")
    from ..jacobian import check_spd

    Sd = check_spd("data_var", Sd)
    if reward.dim != d:
        raise InputError(f"the reward has dimension {reward.dim}, data_mean dimension {d}")
    K = Curation(K, reward).K
    if not math.isinf(K) and d != 1:
        raise InputError(
            f"finite K (the quadrature law of a kept point) is one-dimensional, got data_mean of dimension {d}"
        )
    return CuratedGaussian(md, Sd, reward, lam, K)


def curated_replace(mean0, cov0, reward, generations: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Closed-form curated retraining without real data, ``K = inf`` (docs/theory.md §15).

    Quadratic reward: :math:`\Sigma_t^{-1} = \Sigma_0^{-1} + t\beta I`,
    :math:`\mu_t = \Sigma_t(\Sigma_0^{-1}\mu_0 + t\beta a)` (in one dimension
    :math:`p_t = N\big(\tfrac{m_0/v_0 + t\beta a}{1/v_0 + t\beta}, \tfrac{1}{1/v_0 + t\beta}\big)`:
    :math:`p_t \propto p_0e^{tr}`, converging to the point mass at :math:`a` like :math:`1/t`).
    Linear reward: :math:`\mu_t = \mu_0 + t\Sigma_0b`, :math:`\Sigma_t = \Sigma_0`, an unbounded drift.
    Returns means (generations + 1, d) and covariances (generations + 1, d, d).

    >>> m, v = curated_replace(0.0, 1.0, QuadraticReward(1.0, 1.0), 3)
    >>> m[:, 0].tolist(), v[:, 0, 0].tolist()
    ([0.0, 0.5, 0.6666666666666666, 0.75], [1.0, 0.5, 0.3333333333333333, 0.25])
    """
    reward = as_reward(reward)
    G = int(check_scalar("generations", generations))
    m0 = np.atleast_1d(np.asarray(mean0, dtype=float))
    S0 = np.atleast_2d(np.asarray(cov0, dtype=float))
    t = np.arange(G + 1, dtype=float)
    if isinstance(reward, LinearReward):
        return m0 + t[:, None] * (S0 @ reward.direction), np.broadcast_to(S0, (G + 1, *S0.shape)).copy()
    M = np.eye(m0.size) + reward.strength * t[:, None, None] * S0  # I + t beta Sigma_0
    S = np.linalg.solve(M, np.broadcast_to(S0, M.shape))
    m = np.linalg.solve(M, (m0 + reward.strength * t[:, None] * (S0 @ reward.center))[..., None])[..., 0]
    return m, 0.5 * (S + np.swapaxes(S, -1, -2))


class CuratedKernel:
    """A Gaussian kernel whose synthetic points are curated (docs/theory.md §15); everything else delegated.

    ``K = inf``: the kernel's own sampler (exact statistics or points) on the tilt of the current
    model. Finite ``K``: the kept points (:func:`~stability.dynamics.curation.curated_points`, chains
    and points in blocks of at most ``block_floats`` candidate numbers) reduced to the kernel's
    statistics (its ``points_stats``).
    """

    def __init__(self, kernel, curation, block_floats: int):
        self.kernel, self.curation, self.block_floats = kernel, curation, block_floats

    def __getattr__(self, name):
        return getattr(self.kernel, name)

    def synthetic(self, rng, t, m):
        kern, cur = self.kernel, self.curation
        if cur.infinite:
            mean, cov = tilt(kern.mean[t], kern.cov[t], cur.reward)
            return kern.draw(rng, mean, samplers.sqrt_factor(cov)[0], m)
        if cur.K == 1:
            return kern.synthetic(rng, t, m)
        C, d = kern.mean[t].shape
        L = np.broadcast_to(kern.L, (C, d, d))
        check_memory(8.0 * C * m * d, f"the kept points of {C} chains ({m} of dimension {d})", "lower chains")
        x = np.empty((C, m, d))
        chunk = max(1, self.block_floats // (cur.K * d))  # kept points per draw of one chain's candidates
        block = max(1, self.block_floats // (min(m, chunk) * cur.K * d))
        for lo in range(0, C, block):
            sl = slice(lo, lo + block)
            for start in range(0, m, chunk):
                c = min(chunk, m - start)
                x[sl, start : start + c] = curated_points(rng, kern.mean[t][sl], L[sl], c, cur)
        return kern.points_stats(x)
