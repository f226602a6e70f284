r"""Theorem 2 of Bertrand et al. (2024) checked against exact simulation (docs/theory.md §5).

Model: the Gaussian family :math:`N(\mu, \sigma^2 I_d)` with known :math:`\sigma`, fitted by
maximum likelihood, retrained with the data :math:`N(\mu^*, \sigma^2 I_d)` (well specified, so
:math:`\varepsilon = 0`, :math:`L = 0`, :math:`A = B = I/\sigma^2`). With
:math:`k = \lfloor\lambda n\rfloor` and :math:`w = k/(n+k)`, one round is
:math:`\mu_{t+1} = (1-w)\hat m + w\bar y` with :math:`\hat m \sim N(\mu^*, \sigma^2 I/n)` and
:math:`\bar y \sim N(\mu_t, \sigma^2 I/k)`, while :math:`G_\lambda(\mu) = (1-w)\mu^* + w\mu`. Hence,
for every :math:`\mu`, *exactly*

.. math:: G^n_\lambda(\mu) - G_\lambda(\mu) = (1-w)(\hat m-\mu^*) + w(\bar y-\mu)
    \sim N\Big(0, \sigma^2\big(\tfrac{(1-w)^2}{n} + \tfrac{w^2}{k}\big) I_d\Big),

so assumption A4 holds with :math:`\varepsilon_{OPT} = 0` and the statistical term at level
:math:`\delta` is the :math:`1-\delta` quantile of a scaled :math:`\chi_d`:
:math:`a(\delta)/\sqrt n = \sigma\sqrt{((1-w)^2/n + w^2/k)\,\chi^2_{d,1-\delta}}`. The bound is
:func:`stability.bounds.finite_sample_bound` with :math:`\rho = \rho_{paper}(k/n, 0)`, and the
violation frequency of the simulated chains is compared with :math:`1-(1-\delta)^t`.

Caveat (a doubt about docs/theory.md §5): the factor :math:`(1-\delta)^t` needs the A4 events of
successive rounds to hold with conditional probability :math:`\ge 1-\delta` given the past. That is
true under ``fresh-real`` (a new real sample each round), but under ``fixed-real`` the real-sample
term :math:`(1-w)(\hat m-\mu^*)` is the same in every round, so the events are dependent and only
the union bound :math:`1 - t\delta` follows. Both schemes are offered; the check reports the
observed frequency either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaincinv

from .._domains import check, check_choice
from ..bounds import bound, finite_sample_bound
from ..retraining import run
from ..schemes import Scheme, as_scheme, names_where, synthetic_count
from .simulator import _rng

__all__ = ["Theorem2Check", "gaussian_stat_err", "theorem2_check"]


def _finite_synthetic_count(n: int, lambda_) -> int:
    """k = floor(lambda_ n) synthetic points per round; Theorem 2 needs a finite lambda_."""
    k = synthetic_count(n, lambda_)
    if k is None:
        raise ValueError("lambda_ must be finite for Theorem 2 (rho_paper < 1 needs lambda_ < 1/2), got inf")
    return k


def gaussian_stat_err(*, n, lambda_, delta, dim=1, sigma=1.0) -> float:
    r"""The A4 one-step error :math:`a(\delta)/\sqrt n` of the known-variance Gaussian (module docstring).

    Examples
    --------
    >>> round(gaussian_stat_err(n=100, lambda_=0.0, delta=0.05), 6)  # 1.959964 / sqrt(100)
    0.195996
    """
    n = int(check("n", n))
    dlt = float(check("delta", delta))
    d = int(check("dim", dim))
    s = float(check("sigma", sigma))
    k = _finite_synthetic_count(n, lambda_)
    w = k / (n + k)
    var = (1 - w) ** 2 / n + (w**2 / k if k else 0.0)
    q = 2.0 * gammaincinv(d / 2.0, 1.0 - dlt)  # chi^2_d quantile: P(chi^2_d <= x) = P(d/2, x/2)
    return s * math.sqrt(var * q)


class _KnownVarianceMean:
    r"""The kernel of :func:`theorem2_check` for :func:`stability.retraining.run`: data ``(N, mean)``.

    Real data: the mean of ``m`` points of :math:`N(\mu^*, \sigma^2 I)`, :math:`\mu^* = 0`; a synthetic
    batch: that of ``m`` points of :math:`N(\mu_t, \sigma^2 I)`; the fit (known variance) is the mean of
    the training set, :math:`(1-w)\hat m + w\bar y`. Stores the current mean and every generation's
    distance :math:`\|\mu_t-\mu^*\|` (memory :math:`O(\text{chains}\cdot d)` besides the distances).
    """

    def __init__(self, mu0: np.ndarray, sigma: float, G: int):
        self.mu, self.sigma = mu0, sigma
        self.dist = np.empty((G + 1, mu0.shape[0]))
        self.dist[0] = np.linalg.norm(mu0, axis=1)

    def real(self, rng, m):
        return m, self.sigma * rng.standard_normal(self.mu.shape) / math.sqrt(m)

    def synthetic(self, rng, t, m):
        return m, self.mu + self.sigma * rng.standard_normal(self.mu.shape) / math.sqrt(m)

    @staticmethod
    def join(a, b):
        (N1, M1), (N2, M2) = a, b
        N = N1 + N2
        w = N2 / N
        return N, (1 - w) * M1 + w * M2

    def fit(self, t, data):
        self.mu = data[1]
        self.dist[t] = np.linalg.norm(self.mu, axis=1)

    @staticmethod
    def real_fit(data):
        return data[1]


@dataclass(frozen=True, eq=False)
class Theorem2Check:
    r"""Theorem 2 against simulation, per generation :math:`t = 0..G`.

    ``bound[t]``: the bound on :math:`\|\mu_t-\mu^*\|`; ``violation[t]``: fraction of chains above it;
    ``allowed[t] = 1-(1-\delta)^t``; ``holds``: ``violation <= allowed`` at every t;
    ``std_err[t]``: binomial standard error of ``violation[t]``.
    """

    rho: float
    stat_err: float
    init_err: float
    delta: float
    scheme: str
    bound: np.ndarray
    violation: np.ndarray
    allowed: np.ndarray
    std_err: np.ndarray
    distance: np.ndarray

    @property
    def holds(self) -> bool:
        return bool(np.all(self.violation <= self.allowed))


def theorem2_check(
    *,
    n: int,
    lambda_: float,
    delta: float,
    generations: int,
    chains: int,
    dim: int = 1,
    sigma: float = 1.0,
    init_err: float = 1.0,
    scheme: str | Scheme = "fixed-real",
    stat_err: float | None = None,
    seed: int | np.random.Generator | None = None,
) -> Theorem2Check:
    r"""Simulate the known-variance Gaussian chains and count violations of Theorem 2.

    A run of :func:`stability.retraining.run` with the known-variance Gaussian kernel. Memory is
    :math:`O(\text{chains}\cdot d)` plus the (generations + 1, chains) distances.

    Parameters
    ----------
    n : integer ``>= 2``
    lambda_ : ``>= 0`` with :math:`\rho_{paper}(k/n, 0) < 1`, i.e. :math:`k/n < 1/2`
    delta : in (0, 1)
    generations : integer ``>= 0``
    chains : integer ``>= 1``
    dim : integer ``>= 1``
    sigma : ``> 0``, the known standard deviation
    init_err : ``>= 0``, :math:`\|\mu_0-\mu^*\|` (the offset is along the first axis)
    scheme : a scheme whose rounds mix the ``n`` real points with ``k`` synthetic ones
        (:attr:`~stability.schemes.Scheme.lambda_mixing`): ``"fixed-real"`` or ``"fresh-real"``
    stat_err : override of the one-step error (default :func:`gaussian_stat_err`), e.g. to show that
        a too small value is caught
    seed : int or ``numpy.random.Generator``

    Examples
    --------
    >>> c = theorem2_check(n=50, lambda_=0.2, delta=0.1, generations=5, chains=2000, seed=0)
    >>> c.holds, round(c.rho, 4)
    (True, 0.25)
    """
    declared = as_scheme(scheme)
    check_choice("scheme", declared.name, names_where(lambda x: x.lambda_mixing))
    n = int(check("n", n))
    G = int(check("generations", generations))
    C = int(check("chains", chains))
    d = int(check("dim", dim))
    s = float(check("sigma", sigma))
    i0 = float(check("init_err", init_err))
    dlt = float(check("delta", delta))
    k = _finite_synthetic_count(n, lambda_)
    rho = float(bound(k / n, 0.0))
    if not rho < 1:
        raise ValueError(f"Theorem 2 needs rho_paper < 1, i.e. floor(lambda_ n)/n < 1/2, got {k / n:g}")
    e = gaussian_stat_err(n=n, lambda_=lambda_, delta=dlt, dim=d, sigma=s) if stat_err is None else stat_err
    e = float(check("stat_err", e))
    mu0 = np.zeros((C, d))
    mu0[:, 0] = i0  # mu* = 0
    kernel = _KnownVarianceMean(mu0, s, G)
    run(kernel, declared.resolve(lambda_), _rng(seed), n, k, G)
    dist = kernel.dist
    t = np.arange(G + 1)
    b = np.asarray(finite_sample_bound(t, k / n, 0.0, e, i0))
    viol = np.mean(dist > b[:, None], axis=1)
    allowed = 1.0 - (1.0 - dlt) ** t
    se = np.sqrt(viol * (1 - viol) / C)
    return Theorem2Check(rho, e, i0, dlt, declared.name, b, viol, allowed, se, dist)
