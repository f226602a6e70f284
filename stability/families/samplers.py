r"""Exact samplers of sufficient statistics (docs/theory.md §6): one draw per chain, whatever the sample size.

For :math:`m` i.i.d. points of a model, the fitted parameters depend on the points only through
sufficient statistics whose laws are known in closed form:

- Gaussian :math:`N(\mu, \Sigma)`: sample mean :math:`\bar y \sim N(\mu, \Sigma/m)` and, independent
  of it, the scatter matrix :math:`\sum_i (y_i-\bar y)(y_i-\bar y)^\top \sim W_d(\Sigma, m-1)`
  (Cochran's theorem). The Wishart is drawn by the Bartlett decomposition
  :math:`W = (LA)(LA)^\top`, :math:`\Sigma = LL^\top`, :math:`A` lower triangular with
  :math:`A_{ii}^2 \sim \chi^2_{m-i}` and :math:`A_{ij} \sim N(0,1)` below the diagonal
  (Bartlett 1933; Anderson, *An Introduction to Multivariate Statistical Analysis*, Thm 7.2.1),
  so a draw costs :math:`O(d^3)` whatever :math:`m`. For :math:`m - 1 < d` (a singular Wishart)
  it is drawn as :math:`Z^\top Z`, :math:`Z` of shape :math:`(m-1, d)`, which costs
  :math:`O(m d^2) \le O(d^3)`.
- Bernoulli / categorical: counts are binomial / multinomial; Poisson: the sum is
  :math:`\mathrm{Poisson}(m\mu)`; gamma with known shape :math:`a` and mean :math:`\mu`: the sum is
  :math:`\mathrm{Gamma}(ma, \text{scale } \mu/a)` (the exponential is :math:`a = 1`).

All functions are vectorised over a leading ``chains`` axis and take a ``numpy.random.Generator``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["gamma_sum", "gaussian_stats", "poisson_sum", "sqrt_factor", "wishart_factor"]


def sqrt_factor(cov: np.ndarray, floor: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    r"""A square root :math:`L` with :math:`LL^\top = \Sigma` for a stack of PSD matrices, and a singular flag.

    Cholesky when every matrix is numerically positive definite; otherwise (a collapsed chain) the
    symmetric square root :math:`V\,\mathrm{diag}(\sqrt{\max(e, 0)})` from ``eigh`` for the whole
    stack. A matrix is flagged *singular* (collapsed) when Cholesky fails or its smallest pivot
    :math:`L_{ii}^2` is at most :math:`d\,\epsilon_{mach}` times its largest diagonal entry
    (every pivot is :math:`\ge \lambda_{min}`, so a tiny pivot means :math:`\Sigma` is singular
    to working precision), or at most :math:`d\,\epsilon_{mach}` times ``floor`` (the simulator
    passes the data's smallest variance, so a model whose spread in some direction fell below the
    rounding level of the data's scale counts as collapsed; in one dimension this is the only way
    a positive variance is flagged).

    Parameters
    ----------
    cov : array (..., d, d), symmetric positive semi-definite
    floor : ``>= 0``, an absolute variance scale (see above)

    Returns
    -------
    L : array (..., d, d); singular : bool array (...)
    """
    d = cov.shape[-1]
    tol = d * np.finfo(float).eps
    diag = np.diagonal(cov, axis1=-2, axis2=-1)
    scale = np.maximum(diag.max(axis=-1), floor)
    try:
        L = np.linalg.cholesky(cov)
        piv = np.diagonal(L, axis1=-2, axis2=-1) ** 2
        singular = ~(piv.min(axis=-1) > tol * scale)
        if not np.all(np.isfinite(L)):
            raise np.linalg.LinAlgError
        return L, singular
    except np.linalg.LinAlgError:
        e, V = np.linalg.eigh(cov)
        singular = ~(e.min(axis=-1) > tol * scale)
        return V * np.sqrt(np.maximum(e, 0.0))[..., None, :], singular


def wishart_factor(rng: np.random.Generator, df: int, d: int, chains: int) -> np.ndarray:
    r"""A factor :math:`F` with :math:`FF^\top \sim W_d(I, \mathrm{df})`, one per chain.

    ``df >= d``: the Bartlett factor (lower triangular, shape (chains, d, d)). ``df < d``: the
    data factor :math:`Z^\top`, shape (chains, d, df), :math:`Z_{ij} \sim N(0,1)`. ``df = 0``
    gives an empty factor (the zero matrix).

    Examples
    --------
    >>> F = wishart_factor(np.random.default_rng(0), 10, 3, 2)
    >>> F.shape, bool(np.all(np.triu(F, 1) == 0))
    ((2, 3, 3), True)
    """
    if df >= d:
        A = np.zeros((chains, d, d))
        i = np.arange(d)
        A[:, i, i] = np.sqrt(rng.chisquare(df - i, size=(chains, d)))
        rows, cols = np.tril_indices(d, -1)
        A[:, rows, cols] = rng.standard_normal((chains, rows.size))
        return A
    return rng.standard_normal((chains, df, d)).transpose(0, 2, 1)


def gaussian_stats(rng: np.random.Generator, mean: np.ndarray, L: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Sample mean and scatter matrix of ``m`` points of :math:`N(\mu, LL^\top)`, drawn exactly.

    :math:`\bar y = \mu + L z/\sqrt m`, :math:`Q = (LF)(LF)^\top` with :math:`F` from
    :func:`wishart_factor` with ``m - 1`` degrees of freedom.

    Parameters
    ----------
    mean : array (chains, d); L : array (chains, d, d) or (d, d); m : integer ``>= 1``

    Returns
    -------
    ybar : (chains, d); Q : (chains, d, d), symmetric PSD

    Examples
    --------
    >>> ybar, Q = gaussian_stats(np.random.default_rng(1), np.zeros((5, 2)), np.eye(2), 4)
    >>> ybar.shape, Q.shape, bool(np.allclose(Q, Q.transpose(0, 2, 1)))
    ((5, 2), (5, 2, 2), True)
    """
    chains, d = mean.shape
    z = rng.standard_normal((chains, d))
    ybar = mean + np.einsum("...ij,...j->...i", L, z) / np.sqrt(m)
    B = L @ wishart_factor(rng, m - 1, d, chains)
    Q = B @ B.transpose(0, 2, 1)
    return ybar, Q


def poisson_sum(rng: np.random.Generator, rate: np.ndarray, m: int) -> np.ndarray:
    r"""Sum of ``m`` Poisson(rate) points: :math:`\mathrm{Poisson}(m\,\mathrm{rate})`."""
    return rng.poisson(m * rate).astype(float)


def gamma_sum(rng: np.random.Generator, mean: np.ndarray, shape: float, m: int) -> np.ndarray:
    r"""Sum of ``m`` Gamma(shape, scale = mean/shape) points: :math:`\mathrm{Gamma}(m a, \mu/a)`."""
    return rng.gamma(m * shape, mean / shape)
