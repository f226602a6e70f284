r"""Weighted mixing of real and synthetic data (docs/theory.md §10).

A round fits the maximiser of

.. math:: (1-w)\,\frac1n\sum_{i=1}^n \log p_\theta(x_i) + w\,\frac1k\sum_{j=1}^k \log p_\theta(y_j),

:math:`w \in [0, 1]` the **synthetic weight** (``synthetic_weight``). Pooling the :math:`n+k` points
with equal weights is :math:`w = k/(n+k)` (the *natural* share, the default everywhere); in the
linearised law :math:`w` enters through :math:`\rho = w/(1-w)`, which replaces :math:`\lambda`
(:math:`\rho = k/n` at the natural share, :math:`= \lambda` when :math:`\lambda n` is an integer).

For the mean parameter of an exponential family (exactly: a Gaussian mean with known variance) one
round is :math:`\eta_{t+1} = (1-w)\hat\eta + w\bar y`, and the stationary variance of
:math:`e_t = \eta_t - \eta_{data}`, per unit of :math:`V = \mathrm{Cov}(T(x))`, is
(:func:`stationary_mean_variance`)

.. math::
    \text{fixed-real: } \frac1n + \frac{w^2}{k(1-w^2)}, \qquad
    \text{fresh-real: } \frac{(1-w)^2/n + w^2/k}{1-w^2}.

The fresh-real variance is minimised at the real weight :math:`a^*(\kappa) = (\sqrt{\kappa^2+4\kappa}-\kappa)/2`,
:math:`\kappa = n/k` (He, Xu & Cheng 2025, arXiv:2502.18049; :func:`optimal_synthetic_weight`
returns :math:`1-a^*`); the fixed-real one at :math:`w = 0`.
"""

from __future__ import annotations

import math

from ._domains import Interval, check, check_scalar
from .errors import InputError
from .schemes import Scheme, as_scheme, names_where, synthetic_count

__all__ = [
    "WEIGHTED_SCHEMES",
    "check_synthetic_weight",
    "kish_weights",
    "optimal_synthetic_weight",
    "stationary_mean_variance",
]

# The schemes whose rounds have a real part and a synthetic part to weigh (Scheme.weighted; replace has
# no real part: it accepts only synthetic_weight None or 1, the process it runs anyway).
WEIGHTED_SCHEMES = names_where(lambda s: s.weighted)
_COUNT = Interval(0.0, integer=True)  # k >= 0 (k = 0: real data only)


def check_synthetic_weight(synthetic_weight: float | None, scheme: str | Scheme, k: int) -> float | None:
    """Validated synthetic weight for ``scheme`` (already resolved) with ``k`` synthetic points per round.

    Returns ``None`` when the round is the unweighted one: ``synthetic_weight`` is ``None``, or it
    is 1 under ``replace`` (purely synthetic anyway). Raises ``ValueError`` naming
    ``synthetic_weight`` and its valid range otherwise: outside [0, 1] or NaN; other than 1 under
    ``replace``; above 0 when no synthetic point is drawn (``k = 0``); any value under a scheme
    that is not :attr:`~stability.schemes.Scheme.weighted` (:data:`WEIGHTED_SCHEMES`).
    """
    if synthetic_weight is None:
        return None
    w = check_scalar("synthetic_weight", synthetic_weight)
    s = as_scheme(scheme)
    if s.synthetic_only:
        if w != 1.0:
            raise InputError(
                f"synthetic_weight must be None or 1 under scheme {s.name!r} (no real data to weigh against; "
                f"lambda_ = inf runs it), got {w:g}",
                param="synthetic_weight",
            )
        return None
    if not s.weighted:
        raise ValueError(
            f"synthetic_weight is supported under schemes {', '.join(map(repr, WEIGHTED_SCHEMES))}, "
            f"got scheme {s.name!r}"
        )
    if k == 0 and w > 0.0:
        raise InputError(
            f"synthetic_weight must be 0 when no synthetic point is drawn (k = 0), got {w:g}", param="synthetic_weight"
        )
    return w


def kish_weights(w: float, n: float, k: float) -> tuple[float, float]:
    r"""Per-point weights :math:`(c_{real}, c_{synth})` that realise the objective weight ``w`` (docs/theory.md §10).

    The objective :math:`(1-w)\frac1n\sum_{real} + w\frac1k\sum_{synth}` is pooled maximum likelihood
    with each real point counted :math:`c_{real} = (1-w)N_e/n` times and each synthetic one
    :math:`c_{synth} = wN_e/k` times, :math:`N_e = 1/((1-w)^2/n + w^2/k)` the Kish effective sample
    size (:math:`c_{real}n + c_{synth}k = N_e`). The natural share :math:`w = k/(n+k)` gives
    :math:`(1, 1)`. Needs :math:`n, k > 0`.

    >>> kish_weights(0.5, 100, 100)
    (1.0, 1.0)
    """
    n_eff = 1.0 / ((1.0 - w) ** 2 / n + w * w / k)
    return (1.0 - w) * n_eff / n, w * n_eff / k


def optimal_synthetic_weight(lambda_: float) -> float:
    r"""Variance-optimal synthetic weight with fresh real data each round (He, Xu & Cheng 2025).

    For the Gaussian mean (or any exponential family's mean parameter, to first order) retrained
    each round on :math:`n` fresh real points and :math:`k = \lambda n` points of the current
    model, the stationary variance :math:`[(1-w)^2/n + w^2/k]/(1-w^2)` (docs/theory.md §10) is
    minimised at the real weight

    .. math:: a^*(\kappa) = \frac{\sqrt{\kappa^2+4\kappa}-\kappa}{2} = \frac{2}{1+\sqrt{1+4\lambda}},
              \qquad \kappa = n/k = 1/\lambda,

    so the synthetic weight is :math:`1 - a^* = (\sqrt{1+4\lambda}-1)/(\sqrt{1+4\lambda}+1)`;
    :math:`\lambda = 1` gives :math:`a^* = 1/\varphi` (the golden ratio). Source: H. He, S. Xu and
    G. Cheng, "Golden Ratio Mixing of Real and Synthetic Data for Stabilizing Generative Model
    Training" (later versions: "Recursive Learning Without Collapse: A Weighting-Based Stabilization
    Framework"), arXiv:2502.18049; re-derived and checked in docs/theory.md §10.

    Parameters
    ----------
    lambda_ : float, ``>= 0`` and finite
        Synthetic-to-real ratio :math:`k/n` (pass ``k / n`` when :math:`\lambda n` is not an integer).
        ``0`` gives 0 (no synthetic data); ``inf`` is an error (no real data: the optimum is the
        degenerate limit :math:`w \to 1`, which has no stationary law).

    Examples
    --------
    >>> round(optimal_synthetic_weight(1.0), 6), round(1 - optimal_synthetic_weight(1.0), 6)  # 1 - 1/phi, 1/phi
    (0.381966, 0.618034)
    >>> optimal_synthetic_weight(0.0)
    0.0
    """
    lam = float(check("lambda_", lambda_))
    if math.isinf(lam):
        raise ValueError(
            "lambda_ must be finite for an optimal synthetic weight, got inf: with no real data the variance "
            "decreases towards w = 1, a chain with no stationary law"
        )
    r = math.sqrt(1.0 + 4.0 * lam)
    # (r - 1)/(r + 1) = 4 lambda/(r + 1)^2 (multiply by r + 1): no cancellation of r - 1 at small lambda
    return 4.0 * lam / (r + 1.0) ** 2


def stationary_mean_variance(
    n: int,
    lambda_: float,
    *,
    scheme: str | Scheme = "fixed-real",
    synthetic_weight: float | None = None,
    k: int | None = None,
) -> float:
    r"""Stationary :math:`\mathrm{Var}(\eta_\infty - \eta_{data})` per unit variance (docs/theory.md §10).

    Exact for a Gaussian mean with known variance (one round:
    :math:`e_{t+1} = w e_t + (1-w)\varepsilon + w\eta_t`, :math:`\varepsilon` the real sample's error,
    variance :math:`1/n`, drawn once or every round, :math:`\eta_t` the synthetic batch's,
    variance :math:`1/k`); first order for an exponential family's mean parameter (multiply by its
    variance function at the data):

    - ``fixed-real`` (the real sample kept): :math:`1/n + w^2/(k(1-w^2)) = 1/n + \rho^2/(k(1+2\rho))`;
    - ``fresh-real`` (redrawn): :math:`((1-w)^2/n + w^2/k)/(1-w^2) = (1/n + \rho^2/k)/(1+2\rho)`,

    :math:`\rho = w/(1-w)`. ``synthetic_weight`` defaults to the natural share :math:`k/(n+k)`
    (as :func:`stability.simulate`), ``k`` to :func:`~stability.schemes.synthetic_count`. ``scheme``:
    one whose rounds mix the ``n`` real points with ``k`` synthetic ones
    (:attr:`~stability.schemes.Scheme.lambda_mixing`: ``fixed-real``, ``fresh-real``).

    Examples
    --------
    >>> stationary_mean_variance(100, 1.0)  # 1/n + 1/(3n)
    0.013333333333333334
    >>> round(stationary_mean_variance(100, 1.0, scheme="fresh-real"), 10)  # (1/4 + 1/4)/(3/4)/n
    0.0066666667
    """
    s = as_scheme(scheme)
    if not s.lambda_mixing:
        names = " or ".join(map(repr, names_where(lambda x: x.lambda_mixing)))
        raise ValueError(f"scheme must be {names}, got {s.name!r}")
    n = int(check_scalar("n", n))
    lam = float(check("lambda_", lambda_))
    if math.isinf(lam):
        raise ValueError("lambda_ must be finite for a stationary variance, got inf: purely synthetic chains drift")
    k = synthetic_count(n, lam) if k is None else int(check_scalar("k", k, _COUNT))
    w = check_synthetic_weight(synthetic_weight, s, k)
    if w is None:
        w = k / (n + k)
    if w == 1.0:
        raise ValueError("synthetic_weight must be < 1 for a stationary variance (no real data: the chain drifts)")
    syn = w * w / k if k else 0.0
    if s.keeps_real:  # the real sample's error is the same every round
        return 1.0 / n + syn / (1.0 - w * w)
    return ((1.0 - w) ** 2 / n + syn) / (1.0 - w * w)
