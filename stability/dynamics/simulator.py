r"""Finite-sample retraining chains, simulated exactly and fast (docs/theory.md §6–7).

:func:`simulate` runs many independent retraining chains of an exponential family for many
generations, vectorised over chains. Generation :math:`t+1` fits the model by maximum likelihood
(moment matching) to a training set built by the mixing ``scheme`` from the model of generation
:math:`t`; generation 0 is the data distribution itself (or ``init``).

Mixing schemes (declared in :mod:`stability.schemes`; :math:`k` synthetic points from
:func:`~stability.schemes.synthetic_count`, :math:`\lfloor\lambda n\rfloor` up to binary rounding,
:math:`w = k/(n+k)`):

- ``fixed-real`` (Bertrand et al. 2024): each chain has one real sample of size :math:`n`, drawn
  once; every round adds :math:`k` fresh points of the current model.
- ``fresh-real``: a new real sample of size :math:`n` every round, plus :math:`k` synthetic points.
- ``replace`` (Shumailov et al. 2024; Alemohammad et al. 2024): purely synthetic, :math:`n`
  points of the current model per round (:math:`w = 1`); ``lambda_`` is not used. ``lambda_ = inf``
  under ``fixed-real`` / ``fresh-real`` is the same process.
- ``accumulate`` (Gerstgrasser et al. 2024): the training set of round :math:`t+1` is the fixed
  real sample plus *all* synthetic batches so far, :math:`k` points drawn from each model
  :math:`\theta_0, \dots, \theta_t` (Gerstgrasser et al. use :math:`k = n`, i.e. ``lambda_ = 1``);
  it has :math:`n + (t+1)k` points.
- ``fresh-fraction`` (real-data anchoring; docs/theory.md §11): every round fits :math:`n` points,
  :math:`n_r = \lfloor a n\rfloor` of them a new real sample and :math:`n - n_r` synthetic, with
  :math:`a` = ``real_fraction`` in (0, 1]; ``lambda_`` is not used (``None`` allowed; the result's
  ``lambda_`` is the implied ratio :math:`(n-n_r)/n_r`). It is ``fresh-real`` with :math:`n_r` real
  points and :math:`k = n - n_r`, and runs through the same kernels.
- ``accumulate-subsample`` (Kazdan, Schaeffer et al. 2024, arXiv 2410.16713; docs/theory.md §11):
  the pool of ``accumulate`` (the fixed real sample and every synthetic batch, :math:`k` points per
  round), from which each round fits a uniform subsample without replacement of :math:`n` points.
  A subsample of the pool depends on the pool's *points* (the same points are reused by later
  rounds), and no sampler of its sufficient statistics from the batches' statistics alone is exact,
  so both methods keep the pool's points in a preallocated array (chains × (n + G k) × d, Gaussian;
  × p for the mean statistic :math:`T(x)` of the other families). ``exact`` draws each chain's
  subsample indices by rejecting repeats (:math:`O(\text{chains}\cdot n)` per round), ``naive`` by
  ranking uniform keys over the whole pool (:math:`O(\text{chains}\cdot N_t)`); the two agree in law.

The retraining loop is written once (:func:`stability.retraining.run`): each round's training set is built as the
scheme declares (:meth:`~stability.schemes.Scheme.training_set`) from sufficient statistics, which
each family and method supplies (draw the real data's, draw the synthetic batch's, pool, fit):
the family registered in :data:`stability.families.FAMILIES` gives its *simulation*
(``family.simulation(data)``: the parsed data distribution and the kernels, the Gaussian's
:class:`~stability.families.gaussian.GaussianSimulation` or a :class:`~stability.families.FamilySpec`
running the family's sum hooks); :func:`simulate` names no family.

Methods: ``exact`` draws the fitted sufficient statistics from their law
(:mod:`~stability.families.samplers`) and pools them with the centred pooling identity

.. math:: \mu_{t+1} = (1-w)\hat m + w\bar y,\qquad
   T = R + Q + \tfrac{nk}{n+k}(\bar y-\hat m)(\bar y-\hat m)^\top

(:math:`R, Q` the real and synthetic scatter matrices); a generation costs :math:`O(d^3)` per chain
whatever :math:`n` and :math:`k`, and memory is :math:`O(\text{chains}\cdot d^2)` per stored
generation. ``naive`` draws the points (chains in blocks, so memory stays bounded) and refits from
raw sums :math:`\sum x`, :math:`\sum xx^\top` centred at the data mean (a different route, the
reference the exact method must agree with in law; raw sums lose relative accuracy once
:math:`\Sigma_t` is tiny compared with :math:`\|\mu_t-\mu_d\|^2`, so use ``exact`` for long
collapsing runs). The covariance is :math:`T/N` (``estimator="mle"``) or :math:`T/(N-1)`
(``"unbiased"``), :math:`N` the training-set size; for the other families the MLE of the mean
parameter is the sample mean, which is unbiased, so the two estimators coincide.

Weighted mixing (``synthetic_weight`` :math:`w`, docs/theory.md §10): each round fits the maximiser
of :math:`(1-w)\cdot` (mean log-likelihood over the real points) :math:`+\,w\cdot` (mean over the
synthetic points), so the fitted mean parameter is :math:`(1-w)\hat m + w\bar y` and a Gaussian's
covariance is the weighted covariance :math:`(1-w)\hat S + wS_y + w(1-w)(\bar y-\hat m)(\bar y-\hat m)^\top`.
Both methods pool the statistics with the identity above after rescaling each group's count
(real to :math:`(1-w)N_e`, synthetic to :math:`wN_e`) to the Kish effective size
:math:`N_e = 1/\sum_i w_i^2 = 1/((1-w)^2/n + w^2/k)` (:math:`w_i` the normalised weight of each
point), so that ``estimator="unbiased"`` divides by :math:`N_e - 1`: the reliability-weights
estimator :math:`\sum_i w_i(x_i-\bar x_w)(x_i-\bar x_w)^\top/(1-\sum_i w_i^2)`, unbiased when every
point has the same law, and :math:`T/(N-1)` at the natural share :math:`w = k/(n+k)` (where
:math:`N_e = n+k`). ``None`` (default) is the natural share, run by the unweighted code path (same
numbers as without the option). Under ``accumulate`` :math:`w` is the weight of the whole synthetic
pool (all batches so far, equal weights within it) against the real sample, constant over rounds
(the natural share :math:`(t+1)k/(n+(t+1)k)` grows); under ``replace`` (no real data) only ``None``
or 1 is accepted.

Self-correction (``correction`` :math:`\gamma`, docs/theory.md §14, :mod:`~stability.dynamics.correction`):
each synthetic point is replaced, independently with probability :math:`\gamma/(1+\gamma)`, by a draw
of the corrector's target; the kernel is wrapped so that only the synthetic draws change (exact: a
binomial split of the batch, each part's statistics drawn exactly; naive: the mixture's points).
Curation (``curation=``, Gaussian; docs/theory.md §15, :mod:`~stability.dynamics.curation`): each
synthetic point is the Luce choice among ``K`` model samples under a reward; ``K = inf`` draws the
batch from the tilt of the current model (both methods exact), finite ``K`` draws the candidates
(``naive`` only). The rest of the loop is unchanged
(:class:`stability.dynamics.curation.CuratedKernel` wraps the kernel).

Collapse: a Gaussian chain has *collapsed* at generation :math:`t` when :math:`\Sigma_t` is singular
to working precision, or its variance in some direction is below :math:`d\,\epsilon_{mach}` times
the data's smallest variance (see :func:`~stability.families.samplers.sqrt_factor`); a discrete or
positive family when the fit lost part of the data's support (e.g. a Bernoulli fixed at 0 or 1),
exactly or numerically: :math:`KL(p_{data}\|p_{\theta_t})` infinite or above
``COLLAPSE_KL`` :math:`= 1/(2\epsilon_{mach}) \approx 2.3\times10^{15}` nats, or a fitted mean parameter
below ``COLLAPSE_RTOL`` :math:`=\epsilon_{mach}` times the data's (the edge of its domain; see
:meth:`~stability.families.FamilySpec.degenerate`). Collapse is recorded, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .._domains import check_choice, check_scalar, check_seed
from ..errors import InputError, check_memory, check_time
from ..families import FAMILIES, FamilySpec, simulated_families
from ..families import samplers as samplers
from ..families._simulation import NAIVE_BLOCK_FLOATS
from ..retraining import run as _run
from ..schemes import SCHEMES as _SCHEMES
from ..schemes import Scheme, synthetic_count
from ..schemes import as_scheme as _scheme
from ..weights import check_synthetic_weight
from . import curation as _curation
from .correction import check_correction, correct_kernel

__all__ = ["Band", "SimulationResult", "simulate", "synthetic_count"]

SCHEMES = tuple(_SCHEMES)  # the names of stability.schemes.SCHEMES
METHODS = ("exact", "naive")
ESTIMATORS = ("mle", "unbiased")
# naive method: refuse runs that would draw more random numbers than this (about an hour at
# ~1e8 normal draws per second); the exact method has the same law at a cost independent of n and k
NAIVE_MAX_DRAWS = 1e12


@dataclass(frozen=True)
class Band:
    """Across-chain summary of a per-generation statistic: mean, median and a quantile band."""

    generation: np.ndarray
    mean: np.ndarray
    median: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    quantiles: tuple[float, float]


@dataclass(frozen=True, eq=False)
class SimulationResult:
    r"""Per-generation parameters of every chain, with distances to the data distribution.

    Attributes
    ----------
    mean : array (generations + 1, chains, p). Gaussian: the mean vector (p = d); other families:
        the mean parameter :math:`\eta = E[T(x)]` (p = 1, categorical p = K).
    cov : array (generations + 1, chains, d, d) for the Gaussian, else ``None``.
    collapsed : bool array (generations + 1, chains), see the module docstring.
    data_mean, data_cov : the data distribution's parameters.
    n, k, lambda_ : real sample size, synthetic points per round (``None`` under ``replace``), ratio.
    real_mean, real_cov : the maximum-likelihood fit of each chain's fixed real sample, (chains, p) and
        (chains, d, d) (Gaussian, covariance :math:`R/n`), under ``fixed-real`` and ``accumulate``
        (the sample every round reuses); ``None`` under the other schemes. ``real_cov`` is ``None``
        for the non-Gaussian families.
    n_real : real points per round when not ``n`` (``fresh-fraction``: :math:`\lfloor a n\rfloor`), else ``None``.
    real_fraction : ``fresh-fraction``'s :math:`a`, else ``None``.
    """

    family: str
    scheme: str
    method: str
    estimator: str
    n: int
    k: int | None
    lambda_: float
    mean: np.ndarray
    cov: np.ndarray | None
    collapsed: np.ndarray
    data_mean: np.ndarray
    data_cov: np.ndarray | None = None
    spec: FamilySpec | None = field(default=None, repr=False)
    real_mean: np.ndarray | None = field(default=None, repr=False)
    real_cov: np.ndarray | None = field(default=None, repr=False)
    synthetic_weight: float | None = None
    n_real: int | None = None
    real_fraction: float | None = None
    correction: float = 0.0
    curation: _curation.Curation | None = None

    @property
    def generations(self) -> int:
        return self.mean.shape[0] - 1

    @property
    def chains(self) -> int:
        return self.mean.shape[1]

    @property
    def w(self) -> float:
        """Weight of the synthetic data: ``synthetic_weight`` if given, else the share :math:`k/(n_r+k)`
        of each round's fresh training data (1 under ``replace``; :math:`n_r = n` except under
        ``fresh-fraction``)."""
        if self.synthetic_weight is not None:
            return self.synthetic_weight
        n_r = self.n if self.n_real is None else self.n_real
        return 1.0 if self.k is None else self.k / (n_r + self.k)

    @property
    def collapse_generation(self) -> np.ndarray:
        """First generation at which each chain was collapsed, ``-1`` if never (shape (chains,))."""
        hit = self.collapsed.any(axis=0)
        return np.where(hit, np.argmax(self.collapsed, axis=0), -1)

    @cached_property
    def error(self) -> np.ndarray:
        r""":math:`\|\eta_t - \eta_{data}\|` (Gaussian: :math:`\|\mu_t-\mu_{data}\|`), (generations + 1, chains)."""
        return np.linalg.norm(self.mean - self.data_mean, axis=-1)

    @cached_property
    def expected_reward(self) -> np.ndarray:
        r""":math:`E_{p_{\theta_t}} r` of the curation reward (docs/theory.md §15), (generations + 1, chains)."""
        if self.curation is None:
            raise ValueError("expected_reward needs a run with curation=")
        return self.curation.reward.expected(self.mean, self.cov)

    @cached_property
    def kl(self) -> np.ndarray:
        r""":math:`KL(p_{data}\|p_{\theta_t})` in closed form; ``inf`` for collapsed chains, (generations + 1, chains).

        Gaussian: :math:`\tfrac12[\mathrm{tr}(\Sigma_t^{-1}\Sigma_d) + \delta^\top\Sigma_t^{-1}\delta - d
        + \log\det\Sigma_t - \log\det\Sigma_d]`, evaluated in the coordinates whitened by
        :math:`\Sigma_d`.
        """
        if self.cov is None:
            return self.spec.kl(self.mean)
        Ld = np.linalg.cholesky(self.data_cov)
        Li = np.linalg.inv(Ld)
        d = Ld.shape[0]
        out = np.empty(self.mean.shape[:2])
        for g in range(out.shape[0]):  # one generation at a time bounds the temporaries
            S = Li @ self.cov[g] @ Li.T
            e, V = np.linalg.eigh(S)
            delta = (self.mean[g] - self.data_mean) @ Li.T
            proj = np.einsum("cij,ci->cj", V, delta)
            ok = (e.min(axis=1) > 0) & ~self.collapsed[g]
            es = np.where(ok[:, None], e, 1.0)
            with np.errstate(over="ignore", divide="ignore"):  # a nearly singular Sigma_t: KL = inf is intended
                val = 0.5 * (np.sum(1.0 / es + proj**2 / es + np.log(es), axis=1) - d)
            out[g] = np.where(ok, val, np.inf)
        return out

    @cached_property
    def w2(self) -> np.ndarray:
        r"""Wasserstein-2 distance to the data Gaussian, (generations + 1, chains) (Gaussian only).

        :math:`W_2^2 = \|\mu_t-\mu_d\|^2 + \mathrm{tr}\,\Sigma_d + \mathrm{tr}\,\Sigma_t
        - 2\,\mathrm{tr}(\Sigma_d^{1/2}\Sigma_t\Sigma_d^{1/2})^{1/2}` (Dowson & Landau 1982; Givens &
        Shortt 1984); rounding below zero is clipped.
        """
        if self.cov is None:
            raise ValueError(f"w2 is implemented for the gaussian family only, got family {self.family!r}")
        e, V = np.linalg.eigh(self.data_cov)
        root = (V * np.sqrt(e)) @ V.T
        out = np.empty(self.mean.shape[:2])
        for g in range(out.shape[0]):
            ev = np.linalg.eigvalsh(root @ self.cov[g] @ root)
            cross = np.sqrt(np.maximum(ev, 0.0)).sum(axis=1)
            tr = np.trace(self.cov[g], axis1=1, axis2=2)
            sq = np.sum((self.mean[g] - self.data_mean) ** 2, axis=1) + np.trace(self.data_cov) + tr - 2 * cross
            out[g] = np.sqrt(np.maximum(sq, 0.0))
        return out

    @cached_property
    def excess_nll(self) -> np.ndarray:
        r"""Excess NLL per point of the fixed real sample over its own fit, (generations + 1, chains) (Gaussian).

        For a Gaussian the mean negative log-likelihood of the real sample at :math:`(\mu_t, \Sigma_t)`
        minus its minimum (at the sample's MLE :math:`\hat m, \hat S`) is exactly
        :math:`KL(N(\hat m, \hat S)\,\|\,N(\mu_t, \Sigma_t)) = \tfrac12[\mathrm{tr}(\Sigma_t^{-1}\hat S)
        + \delta^\top\Sigma_t^{-1}\delta - d + \log\det\Sigma_t - \log\det\hat S]`,
        :math:`\delta = \mu_t - \hat m` (the quantity :func:`stability.stationary` predicts,
        docs/theory.md §9); ``inf`` for collapsed chains.
        """
        if self.cov is None or self.real_mean is None:
            raise ValueError(
                "excess_nll needs the gaussian family under scheme 'fixed-real' or 'accumulate' (a fixed real "
                f"sample), got family {self.family!r}, scheme {self.scheme!r}"
            )
        Lr = np.linalg.cholesky(self.real_cov)  # (C, d, d)
        d = Lr.shape[-1]
        out = np.empty(self.mean.shape[:2])
        for g in range(out.shape[0]):  # whitened by each chain's real covariance
            S = np.linalg.solve(Lr, np.linalg.solve(Lr, self.cov[g]).transpose(0, 2, 1))
            delta = np.linalg.solve(Lr, (self.mean[g] - self.real_mean)[..., None])[..., 0]
            e, V = np.linalg.eigh(S)
            proj = np.einsum("cij,ci->cj", V, delta)
            ok = (e.min(axis=1) > 0) & ~self.collapsed[g]
            es = np.where(ok[:, None], e, 1.0)
            with np.errstate(over="ignore", divide="ignore"):
                val = 0.5 * (np.sum(1.0 / es + proj**2 / es + np.log(es), axis=1) - d)
            out[g] = np.where(ok, val, np.inf)
        return out

    def band(self, stat="w2", quantiles: tuple[float, float] = (0.05, 0.95)) -> Band:
        """Mean, median and quantile band across chains of ``stat`` per generation.

        ``stat``: ``"w2"``, ``"kl"``, ``"error"``, or an array of shape (generations + 1, chains).
        The mean of a statistic that is infinite on collapsed chains is ``inf``; the median stays
        informative (collapse is almost sure while the mean can stay flat). Quantiles are those of
        the empirical distribution (``inverted_cdf``, no interpolation, so infinite values stay
        ``inf`` instead of becoming ``inf - inf = nan``).
        """
        x = getattr(self, stat) if isinstance(stat, str) else np.asarray(stat, dtype=float)
        if x.shape != self.mean.shape[:2]:
            raise ValueError(f"stat must have shape {self.mean.shape[:2]} (generations + 1, chains), got {x.shape}")
        lo, hi = quantiles
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"quantiles must satisfy 0 <= lower < upper <= 1, got {quantiles}")
        with np.errstate(invalid="ignore"):  # inf - inf inside the mean of collapsed chains
            mean = np.mean(x, axis=1)
        q = np.quantile(x, [lo, 0.5, hi], axis=1, method="inverted_cdf")
        return Band(np.arange(x.shape[0]), mean, q[1], q[0], q[2], (lo, hi))

    def table(self, generations: list[int] | None = None) -> list[dict]:
        """Across-chain summary rows at ``generations`` (default: 0, 1, G/4, G/2, 3G/4 and G).

        Each row: the generation, mean / median / 5% / 95% quantile across chains of the distance to the
        data (``w2`` for the Gaussian, else ``error``), the median KL and the fraction of collapsed chains.

        >>> r = simulate("poisson", n=20, lambda_=1.0, generations=4, chains=10, seed=0)
        >>> [row["generation"] for row in r.table()], sorted(r.table()[0])[:3]
        ([0, 1, 2, 3, 4], ['collapsed_fraction', 'error_mean', 'error_median'])
        """
        G = self.generations
        if generations is None:
            generations = sorted({0, 1, G // 4, G // 2, (3 * G) // 4, G} & set(range(G + 1)))
        stat = "w2" if self.cov is not None else "error"
        dist, kl = self.band(stat), self.band("kl")
        frac = self.collapsed.mean(axis=1)
        return [
            {
                "generation": int(g),
                f"{stat}_mean": float(dist.mean[g]),
                f"{stat}_median": float(dist.median[g]),
                f"{stat}_q05": float(dist.lower[g]),
                f"{stat}_q95": float(dist.upper[g]),
                "kl_median": float(kl.median[g]),
                "collapsed_fraction": float(frac[g]),
            }
            for g in generations
        ]

    def summary(self, generations: list[int] | None = None) -> str:
        """A text table of :meth:`table`, headed by the settings."""
        stat = "w2" if self.cov is not None else "error"
        k = "n/a (replace)" if self.k is None else self.k
        lines = [
            f"{self.family} retraining, scheme {self.scheme}, method {self.method}: "
            f"n={self.n}, k={k}, w={self.w:.4g}, {self.chains} chains"
            + (f", correction gamma={self.correction:g}" if self.correction else ""),
            f"{'gen':>6} {stat + ' mean':>12} {stat + ' median':>12} {'q05':>10} {'q95':>10}"
            f" {'KL median':>11} {'collapsed':>9}",
        ]
        for row in self.table(generations):
            keys = (f"{stat}_mean", f"{stat}_median", f"{stat}_q05", f"{stat}_q95", "kl_median")
            vals = " ".join(f"{row[key]:>{w}.4g}" for key, w in zip(keys, (12, 12, 10, 10, 11), strict=True))
            lines.append(f"{row['generation']:>6d} {vals} {row['collapsed_fraction']:>9.3f}")
        return "\n".join(lines)

    def save(self, path, *, seed: int | None = None) -> Path:
        """Write the arrays and settings to an ``.npz`` file and return the path written.

        Every field is written (``real_mean`` / ``real_cov``, ``real_fraction`` / ``n_real`` when
        set), and ``seed`` when given (the result does not know the seed it was drawn with).

        ``.npz`` is appended when ``path`` lacks it (as :func:`numpy.savez` does). The file is
        written to a temporary file in the same folder and renamed, so it is complete or absent
        even if the process is killed. Raises :class:`~stability.errors.OutputError` naming the
        path when its folder is missing or not writable.
        """
        from .._io import atomic_write_npz, output_path

        path = output_path(path, "path", suffix=".npz")
        arrays = {"mean": self.mean, "collapsed": self.collapsed, "data_mean": self.data_mean, "kl": self.kl}
        if self.cov is not None:
            arrays.update(cov=self.cov, data_cov=self.data_cov, w2=self.w2)
        meta = dict(family=self.family, scheme=self.scheme, method=self.method, estimator=self.estimator)
        k = -1 if self.k is None else self.k
        if self.synthetic_weight is not None:
            arrays["synthetic_weight"] = self.synthetic_weight
        for name in ("real_mean", "real_cov", "real_fraction", "n_real"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        if seed is not None:
            arrays["seed"] = seed
        if self.correction:
            arrays["correction"] = self.correction
        atomic_write_npz(path, **arrays, n=self.n, k=k, lambda_=self.lambda_, **meta)
        return path


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def _resolve(n, lambda_, scheme, real_fraction=None) -> tuple[Scheme, int]:
    """The scheme run (``inf`` under a scheme with real data is ``replace``) and its synthetic points per round."""
    run = _scheme(scheme, real_fraction=real_fraction).resolve(lambda_)
    return run, run.synthetic(n, lambda_)


def simulate(
    family: str,
    *,
    n: int,
    lambda_: float | None = None,
    generations: int,
    chains: int,
    scheme: str | Scheme = "fixed-real",
    method: str = "exact",
    estimator: str = "mle",
    data: dict | Any = None,
    init: dict | Any = None,
    dim: int | None = None,
    seed: int | np.random.Generator | None = None,
    progress: bool = False,
    noise_scale: str | None = None,
    synthetic_weight: float | None = None,
    real_fraction: float | None = None,
    correction: float = 0.0,
    correction_target: dict | Any = None,
    curation: dict | _curation.Curation | None = None,
) -> SimulationResult:
    r"""Simulate ``chains`` independent retraining chains for ``generations`` rounds.

    Parameters
    ----------
    family : ``"gaussian"``, ``"bernoulli"``, ``"categorical"``, ``"poisson"``, ``"exponential"``, ``"gamma"``,
        or ``"linear-regression"`` (a fixed design; see :mod:`~stability.dynamics.regression`)
    n : integer ``>= 2``, real sample size (under ``replace``, ``fresh-fraction`` and
        ``accumulate-subsample``: points fitted per round)
    lambda_ : ``>= 0`` (``inf`` allowed), synthetic-to-real ratio; :math:`k` from
        :func:`~stability.schemes.synthetic_count`. Required except under ``fresh-fraction``, which
        does not use it (``None`` or any valid value).
    generations : integer ``>= 0``
    chains : integer ``>= 1``
    scheme : a name of :data:`stability.schemes.SCHEMES` or a :class:`~stability.schemes.Scheme`
    method : ``"exact"`` (sufficient statistics from their law) or ``"naive"`` (draw points, refit)
    estimator : ``"mle"`` or ``"unbiased"`` (Gaussian covariance :math:`T/N` or :math:`T/(N-1)`)
    data : the data distribution, given as :func:`stability.analyze` takes it (a sample, a frozen
        ``scipy.stats`` distribution, :class:`~stability.families.Moments`; the family's
        maximum-likelihood fit to it is simulated, which is the distribution itself when it belongs
        to the family), or as a dict of parameters. Gaussian: ``{"mean": (d,), "cov": (d, d) SPD}``
        (default :math:`N(0, I_d)`); other families: the keys of their ``defaults`` (e.g.
        :attr:`stability.families.Poisson.defaults`).
    init : the model of generation 0, same forms as ``data`` (default: the data distribution).
    dim : Gaussian dimension when ``data`` does not give it (default 1).
    seed : int, ``numpy.random.Generator`` or ``None``. Same seed, same numbers.
    progress : show a tqdm bar over generations when stderr is a terminal.
    noise_scale : ``linear-regression`` only: ``"fitted"`` (default) or ``"known"``, the noise level
        of the synthetic labels (:mod:`~stability.dynamics.regression`).
    synthetic_weight : in [0, 1] or ``None``, the weight :math:`w` of the synthetic term in each
        round's objective (module docstring, docs/theory.md §10); ``None`` (default): the natural
        share :math:`k/(n+k)`. Under ``accumulate``: the whole synthetic pool's weight. Under
        ``replace``: ``None`` or 1 only. ``linear-regression``: weighted least squares, :math:`w` in
        :math:`[0, 1)` under ``fixed-real`` / ``fresh-real`` (docs/theory.md §12).
    real_fraction : ``fresh-fraction`` only: the real share :math:`a \in (0, 1]` of each round's
        :math:`n` points (:math:`\lfloor an\rfloor \ge 1`); ValueError for another scheme.
    correction : :math:`\gamma \ge 0`, finite: self-correction (docs/theory.md §14,
        :mod:`~stability.dynamics.correction`): each synthetic point is replaced, independently with
        probability :math:`\gamma/(1+\gamma)`, by a draw from the corrector's target. 0 (default):
        no corrector. Refused for ``accumulate-subsample`` and ``linear-regression``.
    correction_target : the corrector's target, as ``data`` takes it (its family fit, the same for
        every chain); default: each chain's real-sample fit under ``fixed-real`` / ``accumulate``,
        the data distribution under the other schemes.
    curation : Gaussian only, ``dict(K=..., reward=...)`` or a :class:`~stability.dynamics.curation.Curation`
        (docs/theory.md §15): each synthetic point is the Luce choice among ``K`` model samples under
        the reward (:mod:`~stability.dynamics.curation`), every scheme. ``K = inf``: drawn from the
        tilt, both methods exact; finite ``K > 1``: ``method="naive"`` only (points).

    Every round must fit a full covariance: :math:`N \ge d+1` points per round (``n + k`` for
    ``fixed-real`` / ``fresh-real`` / ``accumulate``, ``n`` for ``replace``).

    Examples
    --------
    >>> r = simulate("gaussian", dim=2, n=50, lambda_=0.5, generations=3, chains=4, seed=0)
    >>> r.mean.shape, r.cov.shape, r.k, round(r.w, 4)
    ((4, 4, 2), (4, 4, 2, 2), 25, 0.3333)
    >>> r.band("w2").median.shape
    (4,)
    >>> simulate("bernoulli", n=10, lambda_=1.0, generations=2, chains=3, seed=1).mean.shape
    (3, 3, 1)
    """
    check_choice("family", family, simulated_families())
    fam = FAMILIES[family]
    scheme_name = _scheme(scheme).name
    check_choice("method", method, METHODS)
    check_choice("estimator", estimator, ESTIMATORS)
    n = int(check_scalar("n", n))
    G = int(check_scalar("generations", generations))
    C = int(check_scalar("chains", chains))
    check_seed("seed", seed)
    gamma = check_correction(correction, None, fam, correction_target)
    cur = _curation.check_curation(curation, fam, method)
    if gamma and cur is not None:
        raise ValueError("correction and curation cannot be combined: pass one of them (correction=0 or curation=None)")
    if fam.simulate is not None:  # a family with its own chains (linear regression)
        if real_fraction is not None:
            raise ValueError(f"real_fraction is for scheme 'fresh-fraction', which family {family!r} does not run")
        return fam.simulate(
            n=n, lambda_=lambda_, generations=G, chains=C, scheme=scheme, method=method, estimator=estimator,
            data=data, init=init, dim=dim, noise_scale=noise_scale, synthetic_weight=synthetic_weight, seed=seed,
            progress=progress,
        )  # fmt: skip
    if noise_scale is not None:
        takes = sorted(name for name, cls in FAMILIES.items() if "noise_scale" in cls.options)
        raise ValueError(f"noise_scale is for the families {takes} only, got family {family!r}")
    run, k = _resolve(n, lambda_, scheme, real_fraction)
    weight = check_synthetic_weight(synthetic_weight, run, k)
    gamma = check_correction(gamma, run, fam, correction_target)
    extra_c = dict(correction=gamma) if gamma else {}
    k_reported = None if run.synthetic_only else k
    n_r = run.real_size(n)
    lam = k / n_r if run.fraction else float(lambda_)
    extra = dict(n_real=n_r if n_r != n else None, real_fraction=run.real_fraction)
    rng = _rng(seed)
    sim = fam.simulation(data, dim)  # the family's side of the loop: parsed data, kernels (docs/theory.md §6)
    q = np.size(sim.data_mean)
    _curation.check_curation(cur, fam, method, q)
    per_round = run.training_size(n, k)
    if weight is not None:  # the points that carry weight
        per_round = (n if weight < 1 else 0) + (k if weight > 0 else 0)
    what = "n" if run.fixed_size else "n + floor(lambda_ n)"
    what = what if weight is None else f"the points with positive weight (synthetic_weight {weight:g})"
    sim.check_round(per_round, what, scheme_name, param="n" if weight is None else "synthetic_weight")
    start = sim.initial(init, dim)
    K = 1 if cur is None or cur.infinite else cur.K  # candidates drawn per kept point
    _check_cost(method, per_round, G, C, *sim.cost(K))
    kernel = sim.kernel(start, method, run.subsample, G, C, estimator, n, k)
    if run.subsample:
        kernel.allocate(run.pool_size(n, k, G - 1), q, method)
    if cur is not None:
        kernel = _curation.CuratedKernel(kernel, cur, NAIVE_BLOCK_FLOATS)
    corrected = correct_kernel(kernel, gamma, run, method, correction_target=correction_target, **sim.correction())
    real = _run(corrected, run, rng, n, k, G, progress, weight)
    return SimulationResult(
        family, scheme_name, method, estimator, n, k_reported, lam, kernel.mean, synthetic_weight=weight,
        curation=cur, **sim.result(kernel, real), **extra, **extra_c,
    )  # fmt: skip


def _check_recursion(G: int, p: int, what: str) -> None:
    """Refuse a moment recursion of ``G`` generations over ``p x p`` matrices that would not fit in
    memory (about 3 stored ``(G + 1) x p x p`` arrays) or run within :func:`~stability.errors.time_limit`
    (~5 us of Python per generation on one core, the fast side; measured 13-25 us on a busy core)."""
    check_memory(8.0 * 3 * (G + 1) * (p * p + p), f"{what} with generations={G} (p = {p})", "lower generations")
    check_time(G * (5e-6 + 1e-9 * p**3), f"{what} with generations={G}", "lower generations")


def _check_cost(method, per_round, G, C, per_point, per_state) -> None:
    """Refuse, before any allocation, a run whose arrays exceed the available memory or whose naive
    draws are beyond :data:`NAIVE_MAX_DRAWS`.

    Stored: ``(G + 1) x C`` states of ``per_state`` floats (mean, covariance, collapse flag, KL, W2);
    working memory: about 16 arrays of ``C x per_state`` (the exact samplers' Wishart factors and
    pooling temporaries), or a naive block of at most ``3 NAIVE_BLOCK_FLOATS`` floats.
    """
    stored = 8.0 * (G + 1) * C * per_state
    work = 8.0 * 16 * C * per_state + (8.0 * 3 * NAIVE_BLOCK_FLOATS if method == "naive" else 0.0)
    check_memory(
        stored + work,
        f"simulate with chains={C}, generations={G} ({per_state} numbers per chain and generation)",
        "lower chains (--chains), generations (--generations) or the dimension (--dim)",
    )
    draws = float(C) * G * per_round * per_point
    # time on one core, fast side: Python per generation ~5 us (~30 us for the Gaussian's Wishart
    # kernels: per_state > p + 3), ~10 ns per stored number per chain and generation (exact samplers),
    # ~5 ns per point drawn (naive); measured 13 us / 78 us / 30 ns on a busy core
    per_generation = 3e-5 if per_state > 4 else 5e-6
    seconds = G * (per_generation + 1e-8 * C * per_state) + (5e-9 * draws if method == "naive" else 0.0)
    if not (method == "naive" and draws > NAIVE_MAX_DRAWS):
        check_time(
            seconds,
            f"simulate with chains={C}, generations={G}",
            "lower generations (--generations) or chains (--chains)",
        )
    if method == "naive" and draws > NAIVE_MAX_DRAWS:
        raise InputError(
            f"method 'naive' would draw {draws:.3g} random numbers (chains {C} x generations {G} x "
            f"{per_round} points x {per_point}), more than NAIVE_MAX_DRAWS = {NAIVE_MAX_DRAWS:g}: use "
            f"method 'exact' (--method exact), which has the same law at a cost independent of n and lambda"
        )
