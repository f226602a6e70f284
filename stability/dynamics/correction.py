r"""Self-correcting retraining (Gillman et al. 2024, arXiv 2402.07087; docs/theory.md §14).

A corrector of strength :math:`\gamma \ge 0` acts on every synthetic point: the point is replaced,
independently with probability :math:`p = \gamma/(1+\gamma)`, by a draw from the corrector's target
:math:`p_T`, so the synthetic batch is drawn from the mixture

.. math:: \pi_\gamma p_{\theta_t} = \tfrac{1}{1+\gamma}\,p_{\theta_t} + \tfrac{\gamma}{1+\gamma}\,p_T .

``correction=0`` is retraining without a corrector (the simulator then runs its uncorrected code).

**Target** (``correction_target=None``): the idealised corrector of Gillman et al. pulls towards
the family's fit to the real data, here

- ``fixed-real`` and ``accumulate`` (one real sample per chain, kept): the maximum-likelihood fit
  of each chain's own real sample (Gaussian: its mean and covariance :math:`R/n`), which is the
  fixed point :math:`\hat\theta` of the uncorrected chain, so the corrector does not move it;
- ``fresh-real``, ``fresh-fraction`` (a new real sample every round, none kept) and ``replace``
  (no real data): the data distribution itself (the population fit). Pulling towards each round's
  own fresh sample would correlate the corrected points with that round's real data; the
  data distribution is the idealised corrector's target when no real sample is kept.

``correction_target=`` takes any data as ``data=`` does (a sample, a frozen ``scipy.stats``
distribution, :class:`~stability.families.Moments` or a dict of parameters) and uses the family's fit
to it, the same for every chain (gamma: the target's mean with the model's known shape).
``accumulate-subsample`` (a pool of points) and the ``linear-regression`` family are refused.

**Exact sampler.** The number of corrected points of a batch of :math:`k` is
:math:`K_c \sim \mathrm{Bin}(k, p)`; given :math:`K_c`, the :math:`K_c` target points and the
:math:`k - K_c` model points are independent samples, so each part's sufficient statistics are
drawn exactly from their law (with per-chain counts: :func:`wishart_factor_counts`, binomial,
multinomial, Poisson and gamma sums of :math:`m` points) and pooled with the family's pooling
identity. The naive route draws each point of the mixture (a uniform per point decides its
component) and adds the points up.
"""

from __future__ import annotations

import numpy as np

from .._corrector import check_correction, replaced_probability
from ..families import samplers

__all__ = [
    "check_correction",
    "correct_kernel",
    "gaussian_stats_counts",
    "replaced_probability",
    "wishart_factor_counts",
]


# ------------------------------------------------------------------ exact samplers with per-chain counts


def wishart_factor_counts(rng: np.random.Generator, df: np.ndarray, d: int) -> np.ndarray:
    r"""A lower-triangular factor :math:`F` with :math:`FF^\top \sim W_d(I, \mathrm{df}_c)`, one per chain.

    ``df`` (chains,) integers :math:`\ge 0`, possibly below :math:`d` (a singular Wishart).
    Gram–Schmidt on the columns :math:`z_1, \dots, z_d \in \mathbb{R}^{m}` of a Gaussian matrix
    (:math:`m` = df) gives :math:`F_{ii}^2 \sim \chi^2_{m-i}` for :math:`i < m` (0-based) and 0 beyond,
    :math:`F_{ij} \sim N(0, 1)` for :math:`j < \min(i, m)` and 0 otherwise, all independent: for
    :math:`m \ge d` this is Bartlett's decomposition; for :math:`m < d` the columns after the
    :math:`m`-th lie in the span of the first :math:`m` orthonormal directions, with independent
    standard normal coordinates (rotation invariance).
    """
    df = np.asarray(df)
    C = df.shape[0]
    F = np.zeros((C, d, d))
    i = np.arange(d)
    chi = rng.chisquare(np.maximum(df[:, None] - i, 1), size=(C, d))
    F[:, i, i] = np.sqrt(chi) * (df[:, None] > i)
    rows, cols = np.tril_indices(d, -1)
    F[:, rows, cols] = rng.standard_normal((C, rows.size)) * (df[:, None] > cols)
    return F


def gaussian_stats_counts(rng, mean: np.ndarray, L: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Sample mean and scatter of :math:`m_c` points of :math:`N(\mu_c, L_cL_c^\top)` per chain, drawn exactly.

    As :func:`~stability.families.samplers.gaussian_stats` with a count per chain (``m`` (chains,)
    integers :math:`\ge 0`); a chain with :math:`m_c = 0` gets the mean :math:`\mu_c` and a zero
    scatter (its weight in any pooling is 0).
    """
    C, d = mean.shape
    z = rng.standard_normal((C, d))
    L = np.broadcast_to(L, (C, d, d))
    ybar = mean + np.einsum("cij,cj->ci", L, z) / np.sqrt(np.maximum(m, 1))[:, None] * (m > 0)[:, None]
    B = L @ wishart_factor_counts(rng, np.maximum(m - 1, 0), d)
    return ybar, B @ B.transpose(0, 2, 1)


# ------------------------------------------------------------------ the corrected kernel


def correct_kernel(
    kernel: object,
    correction: float,
    scheme,
    method: str,
    data_params,
    correction_target=None,
    spec=None,
    parse_gaussian=None,
) -> object:
    r"""``kernel`` with every synthetic batch drawn from :math:`\pi_\gamma p_{\theta_t}` (module docstring).

    The target is ``correction_target``'s fit when given, else :func:`default_target`: each chain's
    fixed real sample's fit (set when the real sample is drawn) or the data distribution
    ``data_params`` (Gaussian ``(mean (d,), cov (d, d))``, other families the mean parameter (p,)).
    ``spec`` is the non-Gaussian family (``None``: Gaussian, whose target data are read by
    ``parse_gaussian(data, dim, name)``, the simulator's parser). ``correction = 0`` returns ``kernel``
    itself (the uncorrected code path).
    """
    if correction == 0.0:
        return kernel
    if correction_target is None:
        target = default_target(scheme, data_params)
    elif spec is None:
        target = parse_gaussian(correction_target, np.size(data_params[0]), "correction_target")
    else:
        target = correction_target_params(spec.name, correction_target, spec=spec)
    cls = _CorrectedGaussian if spec is None else _CorrectedFamily
    return cls(kernel, replaced_probability(correction), target, method, spec)


class _Corrected:
    """Delegates to the wrapped kernel; only ``real`` (to read a real-fit target) and ``synthetic`` change."""

    def __init__(self, inner, p, target, method, spec):
        self.inner, self.p, self.method, self.spec = inner, p, method, spec
        self.pending = isinstance(target, str)  # "real": the target is read from the first real draw
        if not self.pending:
            self._set_target(*((target,) if spec is not None else target))

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def real(self, rng, m):
        stats = self.inner.real(rng, m)
        if self.pending:
            self._set_target(*self.inner.real_fit(stats)[: 1 if self.spec is not None else 2])
            self.pending = False
        return stats

    def _split(self, rng, m):
        """Per chain, the number of target points :math:`K_c \\sim \\mathrm{Bin}(m, p)` of a batch of ``m``."""
        kc = rng.binomial(m, self.p, size=self.chains)
        return kc, m - kc

    @property
    def chains(self) -> int:
        return self.inner.mean.shape[1]


class _CorrectedGaussian(_Corrected):
    def _set_target(self, mean, cov):
        C = self.chains
        self.t_mean = np.broadcast_to(np.asarray(mean, dtype=float), (C, np.shape(mean)[-1]))
        self.t_L = samplers.sqrt_factor(np.asarray(cov, dtype=float))[0]

    def synthetic(self, rng, t, m):
        model_mean, model_L = self.inner.mean[t], self.inner.L
        if self.method == "exact":  # binomial split, each part's (mean, scatter) exactly, pooled
            kc, km = self._split(rng, m)
            y1, Q1 = gaussian_stats_counts(rng, model_mean, model_L, km)
            y2, Q2 = gaussian_stats_counts(rng, self.t_mean, self.t_L, kc)
            delta = y2 - y1
            M = y1 + (kc / m)[:, None] * delta
            T = Q1 + Q2 + (km * kc / m)[:, None, None] * (delta[:, :, None] * delta[:, None, :])
            return m, M, T
        return (m, *self._naive_sums(rng, model_mean, model_L, m))

    def _naive_sums(self, rng, mean, L, m):
        """Raw sums of ``m`` mixture points per chain centred at the data mean (chains in blocks)."""
        C, d = mean.shape
        S1, S2 = np.zeros((C, d)), np.zeros((C, d, d))
        L = np.broadcast_to(L, (C, d, d))
        LT = np.broadcast_to(self.t_L, (C, d, d))
        shift = self.inner.mu_d
        block = max(1, 2**22 // max(1, m * d))
        for lo in range(0, C, block):
            sl = slice(lo, lo + block)
            b = mean[sl].shape[0]
            z = rng.standard_normal((b, m, d))
            use_target = rng.random((b, m)) < self.p
            x_model = mean[sl][:, None, :] + z @ L[sl].transpose(0, 2, 1)
            x_target = self.t_mean[sl][:, None, :] + z @ LT[sl].transpose(0, 2, 1)
            x = np.where(use_target[:, :, None], x_target, x_model) - shift
            S1[sl] = x.sum(axis=1)
            S2[sl] = np.einsum("cmi,cmj->cij", x, x)
        return S1, S2


class _CorrectedFamily(_Corrected):
    def _set_target(self, eta):
        self.t_eta = np.broadcast_to(np.asarray(eta, dtype=float), (self.chains, self.spec.p))

    def synthetic(self, rng, t, m):
        eta = self.inner.mean[t]
        if self.method == "exact":  # binomial split, each part's sum exactly (counts per chain)
            kc, km = self._split(rng, m)
            return m, self._sum(rng, eta, km) + self._sum(rng, self.t_eta, kc)
        return m, self._naive_sum(rng, eta, m)

    def _sum(self, rng, eta, counts):
        return self.spec.exact_sum(rng, eta, counts)  # the family's exact sum, one count per chain

    def _naive_sum(self, rng, eta, m):
        """Draw each of the ``m`` points from the mixture (one point per row of repeated parameters)."""
        C, p = eta.shape
        out = np.empty((C, p))
        block = max(1, 2**22 // max(1, m * self.spec.points_per_chain(1)))
        for lo in range(0, C, block):
            b = eta[lo : lo + block].shape[0]
            use_target = rng.random((b, m)) < self.p
            e = np.where(use_target[:, :, None], self.t_eta[lo : lo + b, None, :], eta[lo : lo + b, None, :])
            pts = self.spec._naive_block(rng, e.reshape(b * m, p), 1)
            out[lo : lo + b] = pts.reshape(b, m, p).sum(axis=1)
        return out


def correction_target_params(family: str, correction_target, *, spec) -> np.ndarray:
    """The mean parameter (p,) of a non-Gaussian family's fit to ``correction_target`` (gamma: the
    model's known shape)."""
    params = spec.family.parse_dict(correction_target, "correction_target")
    return spec.with_params(spec.target_params(params)).eta_data  # known parameters (gamma's shape): the model's


def default_target(scheme, data_params):
    """``"real"`` under a scheme that keeps one real sample, else the data distribution's parameters."""
    return "real" if scheme.keeps_real else data_params
