r"""Linear regression with a fixed design, retrained on its own labels (docs/theory.md §12).

The family ``linear-regression`` of :func:`~stability.dynamics.simulate`: a fixed design
:math:`X` (:math:`n\times d`, full column rank, :math:`n > d`), real labels
:math:`y = X\beta + \sigma\varepsilon`, :math:`\varepsilon \sim N(0, I_n)`. Generation :math:`t` is a
linear model :math:`(\beta_t, s_t)`; its :math:`k` synthetic labels are
:math:`\tilde y = \tilde X\beta_t + s_t\zeta`, :math:`\zeta \sim N(0, I_k)`, on the rows
:math:`\tilde X` of :math:`X` taken cyclically (row :math:`j` of :math:`\tilde X` is row
:math:`j \bmod n` of :math:`X`: :math:`\lambda = 1` uses each row once, :math:`\lambda = 2.5` uses
:math:`X` twice then its first half). Generation :math:`t+1` is the least-squares fit to the
training set the scheme builds (real labels on :math:`X` plus synthetic labels on :math:`\tilde X`):

- ``fixed-real``: one real label vector per chain, drawn once; ``fresh-real``: new real noise
  every round (same :math:`X`); ``replace``: :math:`n` synthetic labels on :math:`X` only;
  ``accumulate``: the real labels plus every synthetic batch so far.
- ``noise_scale="fitted"`` (default): :math:`s_{t+1}^2 = \mathrm{RSS}_{t+1}/D` is the residual
  variance of the fit on its own training set of :math:`N` points,
  :math:`\mathrm{RSS} = \min_b \|Y - Zb\|^2`, with :math:`D = N` (``estimator="mle"``, the
  maximum-likelihood variance) or :math:`D = N - d` (``"unbiased"``). ``"known"``: the synthetic
  labels use the true :math:`\sigma` every round (:math:`s_t = \sigma`); the fitted residual
  variance is still recorded.

Methods. ``exact`` draws the sufficient statistics of each batch of labels from their law, centred
at the coefficients that generated them (no per-point draws): for rows with Gram matrix
:math:`\Gamma = F F^\top` of rank :math:`r` (:math:`F` of shape :math:`d\times r`) and labels
:math:`Zb + s\zeta`,

.. math:: Z^\top(Y - Zb) = s F w,\qquad \|Y - Zb\|^2 = s^2(\|w\|^2 + \chi^2_{m-r}),\qquad
   w \sim N(0, I_r)\ \text{independent of}\ \chi^2_{m-r},

the split of :math:`\|\zeta\|^2` into its projection on the column space of :math:`Z`
(:math:`\zeta^\top P\zeta = z^\top\Gamma^+ z = \|w\|^2`, :math:`z = Z^\top\zeta = Fw`) and the rest
(docs/theory.md §12). Pooling moves statistics to a common centre :math:`c` exactly
(:math:`S(c) = S(b) - \Gamma(c-b)`, :math:`R(c) = R(b) - 2(c-b)^\top S(b) + (c-b)^\top\Gamma(c-b)`),
and the fit is :math:`\beta = c + H^{-1}S(c)`, :math:`\mathrm{RSS} = R(c) - S(c)^\top H^{-1}S(c)`,
:math:`H` the pooled Gram matrix; centring at the latest model keeps the RSS free of cancellation
when the noise level collapses. ``naive`` draws the label vectors and solves least squares
(:func:`numpy.linalg.lstsq`, all chains as right-hand sides of one design).

``synthetic_weight`` :math:`w` (``fixed-real``, ``fresh-real``): weighted least squares, the objective
:math:`(1-w)\frac1n\sum_{real} + w\frac1k\sum_{synthetic}` of squared residuals (:func:`point_weights`).

:func:`regression_moments` and :func:`regression_stationary` give :math:`E\|\beta_t-\beta\|^2`,
:math:`E\|\beta_t-\hat\beta\|^2` (:math:`\hat\beta` the real labels' OLS) and :math:`E[s_t^2]`:
exact at every generation for both noise scales and every scheme above (docs/theory.md §12).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from .._domains import check_choice, check_scalar
from ..errors import InputError, check_memory
from ..families import LinearRegression
from ..retraining import check_supported, supported_schemes
from ..retraining import run as _run
from ..schemes import Scheme
from ..schemes import as_scheme as _scheme
from ..weights import check_synthetic_weight, kish_weights
from .simulator import SimulationResult, _check_cost, _check_recursion, _rng

__all__ = [
    "NOISE_SCALES",
    "REGRESSION",
    "RegressionPrediction",
    "RegressionResult",
    "regression_moments",
    "regression_stationary",
    "simulate_regression",
]

REGRESSION = "linear-regression"
NOISE_SCALES = ("fitted", "known")


# --------------------------------------------------------------------------------------- inputs
@dataclass(frozen=True, eq=False)
class Design:
    """The validated design ``X`` (n, d), true coefficients ``beta`` (d,) and noise level ``sigma``."""

    X: np.ndarray
    beta: np.ndarray
    sigma: float

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    @cached_property
    def gram(self) -> np.ndarray:
        return self.X.T @ self.X

    def rows(self, k: int) -> np.ndarray:
        """The ``k`` synthetic inputs: the rows of ``X`` taken cyclically."""
        return self.X[np.arange(k) % self.n]


def _sigma(name: str, value) -> float:
    try:
        s = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a finite number > 0, got {value!r}") from None
    if np.ndim(value) != 0 or not (math.isfinite(s) and s > 0):
        raise InputError(f"{name} must be a finite number > 0, got {value!r}")
    return s


def _vector(name: str, value, d: int) -> np.ndarray:
    if isinstance(value, complex) or np.iscomplexobj(value):
        raise InputError(f"{name} must be real numbers, got complex values (pass .real explicitly)")
    try:
        v = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a finite vector of length d = {d}, got {value!r}") from None
    if v.shape != (d,) or not np.all(np.isfinite(v)):
        raise InputError(f"{name} must be a finite vector of length d = {d}, got shape {v.shape}")
    return v


def parse_design(data) -> Design:
    """``data = {"X": (n, d), "beta": (d,), "sigma": > 0 (default 1)}``, validated."""
    if not isinstance(data, dict) or "X" not in data or "beta" not in data:
        raise InputError(
            f"data for family {REGRESSION!r} must be a dict with keys 'X' (n, d), 'beta' (d,) and optionally "
            f"'sigma' (> 0, default 1), got {data!r:.200}"
        )
    unknown = set(data) - {"X", "beta", "sigma"}
    if unknown:
        raise InputError(f"data for family {REGRESSION!r} takes keys ['X', 'beta', 'sigma'], got {sorted(unknown)}")
    if isinstance(data["X"], complex) or np.iscomplexobj(data["X"]):
        raise InputError("data['X'] must be real numbers, got complex values (pass .real explicitly)")
    try:
        X = np.array(data["X"], dtype=float)
    except (TypeError, ValueError):
        raise InputError("data['X'] must be a 2-D array of numbers (n, d)") from None
    if X.ndim != 2 or X.shape[1] < 1:
        raise InputError(f"data['X'] must be a 2-D array (n, d) with d >= 1, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise InputError("data['X'] must be finite (no NaN or inf)")
    n, d = X.shape
    if n <= d:
        raise InputError(
            f"data['X'] must have more rows than columns (n > d, so that the residual variance is defined), "
            f"got shape {X.shape}"
        )
    rank = np.linalg.matrix_rank(X)
    if rank < d:
        raise InputError(f"data['X'] must have full column rank d = {d}, got rank {rank}")
    return Design(X, _vector("data['beta']", data["beta"], d), _sigma("data['sigma']", data.get("sigma", 1.0)))


def _init(init, design: Design) -> tuple[np.ndarray, float]:
    """Generation 0: ``{"beta": (d,), "sigma": > 0}`` (default: the true coefficients and noise level)."""
    init = {} if init is None else init
    if not isinstance(init, dict) or set(init) - {"beta", "sigma"}:
        raise InputError(f"init for family {REGRESSION!r} must be a dict with keys 'beta' and/or 'sigma', got {init!r}")
    beta0 = _vector("init['beta']", init["beta"], design.d) if "beta" in init else design.beta.copy()
    s0 = _sigma("init['sigma']", init["sigma"]) if "sigma" in init else design.sigma
    return beta0, s0


def _scheme_run(scheme, lambda_, n) -> tuple[Scheme, int]:
    declared = _scheme(scheme)
    check_supported(_Regression, declared, what=f"family {REGRESSION!r}")
    run = declared.resolve(lambda_)
    return run, run.synthetic(n, lambda_)


def point_weights(synthetic_weight, run: Scheme, n: int, k: int) -> tuple[float, float]:
    r"""Per-point weights :math:`(c_1, c_2)` of the real and synthetic labels (docs/theory.md §12).

    ``None``: the natural least squares, :math:`(1, 1)`. Otherwise :math:`w` in :math:`[0, 1)` is the
    synthetic term's weight in the objective :math:`(1-w)\frac1n\sum_{real} + w\frac1k\sum_{synthetic}`,
    normalised to the Kish effective size :math:`N_e = 1/((1-w)^2/n + w^2/k)`:
    :math:`c_1 = (1-w)N_e/n`, :math:`c_2 = wN_e/k` (so :math:`c_1n + c_2k = N_e`, and :math:`w = k/(n+k)`
    gives :math:`(1, 1)`). Under ``fixed-real`` and ``fresh-real`` only (``replace``: ``None`` or 1).
    """
    w = check_synthetic_weight(synthetic_weight, run, k)  # the checks every family shares (docs/theory.md §10)
    if w is None:  # None, or 1 under replace: the natural least squares
        return 1.0, 1.0
    if run.accumulate:
        raise InputError(
            f"synthetic_weight is supported under schemes 'fixed-real', 'fresh-real' for family {REGRESSION!r}, "
            f"got scheme {run.name!r}"
        )
    if w == 1.0:
        raise InputError(
            f"synthetic_weight must be in [0, 1) for family {REGRESSION!r} with real data (at 1 the real labels "
            "are ignored), got 1"
        )
    if k == 0:  # w = 0 (checked): real data only
        return 1.0, 1.0
    return kish_weights(w, n, k)


def _divisor(N: int, d: int, estimator: str) -> int:
    return N if estimator == "mle" else N - d


# --------------------------------------------------------------------------------------- kernels
def _factor(rows: np.ndarray) -> np.ndarray:
    r""":math:`F` (d, r) with :math:`FF^\top = Z^\top Z`, :math:`r = \mathrm{rank}\,Z` (eigenvectors of the Gram)."""
    r = int(np.linalg.matrix_rank(rows)) if rows.size else 0
    e, V = np.linalg.eigh(rows.T @ rows)
    keep = slice(V.shape[1] - r, V.shape[1])  # the r largest eigenvalues
    return V[:, keep] * np.sqrt(np.maximum(e[keep], 0.0))


def chi2(rng: np.random.Generator, df: int, size: int) -> np.ndarray:
    r""":math:`\chi^2_{df}` draws (zeros for ``df = 0``): the part of :math:`\|\zeta\|^2` outside the column space."""
    return rng.chisquare(df, size) if df > 0 else np.zeros(size)


def label_stats(rng, F: np.ndarray, m: int, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Exact law of :math:`(Z^\top(Y-Zb), \|Y-Zb\|^2)` for ``m`` labels :math:`Y = Zb + s\zeta`, per chain.

    ``F`` (d, r): :math:`FF^\top = Z^\top Z`, :math:`r = \mathrm{rank}\,Z`; ``scale`` (chains,): :math:`s`.
    Returns :math:`sFw` (chains, d) and :math:`s^2(\|w\|^2 + \chi^2_{m-r})` (chains,), :math:`w \sim N(0, I_r)`.
    """
    C, r = scale.shape[0], F.shape[1]
    w = rng.standard_normal((C, r))
    rest = chi2(rng, m - r, C)
    return scale[:, None] * (w @ F.T), scale**2 * (np.sum(w**2, axis=1) + rest)


class _Regression:
    """Per-generation arrays: coefficients, fitted residual variance, the noise the next labels use.

    A kernel of :func:`stability.retraining.run` whose real data are the labels of the ``n`` design
    rows (``resizes_real = False``: no fraction scheme) and which keeps no points to subsample."""

    resizes_real = False

    def __init__(self, design: Design, beta0, s0, G, C, noise_scale, estimator, k, weights=(1.0, 1.0)):
        self.design, self.noise_scale, self.estimator = design, noise_scale, estimator
        # weighted least squares (docs/theory.md §12): real points weigh c1, synthetic c2 (1, 1: natural);
        # the synthetic statistics are drawn scaled by ratio = c2/c1 and the fit rescales by c1
        self.c1, c2 = weights
        self.ratio = c2 / self.c1
        self.mean = np.empty((G + 1, C, design.d))
        self.noise_var = np.empty((G + 1, C))
        self.mean[0], self.noise_var[0] = beta0, s0**2
        self.beta_c = np.broadcast_to(design.beta, (C, design.d))
        self.sigma_c = np.full(C, design.sigma)
        self.synth_rows = design.rows(k)

    def label_scale(self, t) -> np.ndarray:
        """:math:`s_t`: the fitted residual scale of generation ``t``, or the true σ (``known``)."""
        if self.noise_scale == "known":
            return self.sigma_c
        return np.sqrt(np.maximum(self.noise_var[t], 0.0))

    def _store(self, t, beta, rss, N):
        self.mean[t] = beta
        c = self.c1  # the weighted RSS and the effective size N_e are c1 times the pooled ones
        self.noise_var[t] = np.maximum(c * rss, 0.0) / _divisor(c * N, self.design.d, self.estimator)


class _RegressionExact(_Regression):
    """Statistics ``(N, Gram, centre, S(centre), R(centre))`` drawn from their law; pooled at a common centre."""

    def __init__(self, *args):
        super().__init__(*args)
        self.F_real = _factor(self.design.X)
        self.F_synth = _factor(self.synth_rows)
        self.G_synth = self.synth_rows.T @ self.synth_rows

    def real(self, rng, m):
        S, R = label_stats(rng, self.F_real, m, self.sigma_c)
        return m, self.design.gram, self.beta_c, S, R

    def synthetic(self, rng, t, m):
        S, R = label_stats(rng, self.F_synth, m, self.label_scale(t))
        r = self.ratio
        return m * r, self.G_synth * r, self.mean[t], S * r, R * r

    @staticmethod
    def join(a, b):
        (Na, Ga, ca, Sa, Ra), (Nb, Gb, cb, Sb, Rb) = a, b
        delta = cb - ca  # move a's statistics to b's centre
        Sa_b = Sa - delta @ Ga
        Ra_b = Ra - 2.0 * np.sum(delta * Sa, axis=1) + np.einsum("ci,ij,cj->c", delta, Ga, delta)
        return Na + Nb, Ga + Gb, cb, Sa_b + Sb, Ra_b + Rb

    @staticmethod
    def _solve(stats):
        N, H, c, S, R = stats
        step = np.linalg.solve(H, S.T).T
        return c + step, R - np.sum(S * step, axis=1), N

    def fit(self, t, stats):
        self._store(t, *self._solve(stats))

    def real_fit(self, stats):
        beta, rss, N = self._solve(stats)
        return beta, np.maximum(rss, 0.0) / _divisor(N, self.design.d, self.estimator)


class _RegressionNaive(_Regression):
    """Statistics ``(rows (N, d), labels (chains, N), weights (N,))``: labels drawn point by point; least squares."""

    def real(self, rng, m):
        X = self.design.X
        y = X @ self.design.beta + self.design.sigma * rng.standard_normal((self.mean.shape[1], m))
        return X, y, np.ones(m)

    def synthetic(self, rng, t, m):
        Z = self.synth_rows
        y = self.mean[t] @ Z.T + self.label_scale(t)[:, None] * rng.standard_normal((self.mean.shape[1], m))
        return Z, y, np.full(m, self.ratio)

    @staticmethod
    def join(a, b):
        return np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1]], axis=1), np.concatenate([a[2], b[2]])

    @staticmethod
    def _solve(stats):
        Z, Y, wts = stats
        root = np.sqrt(wts)
        beta = np.linalg.lstsq(Z * root[:, None], (Y * root).T, rcond=None)[0].T
        return beta, np.sum(wts * (Y - beta @ Z.T) ** 2, axis=1), float(np.sum(wts))

    def fit(self, t, stats):
        self._store(t, *self._solve(stats))

    def real_fit(self, stats):
        beta, rss, N = self._solve(stats)
        return beta, rss / _divisor(N, self.design.d, self.estimator)


# the schemes the regression kernels run: those whose training sets are unions of the n real labels
# and synthetic label batches (their join); derived from the kernels' declared capabilities
SCHEMES = supported_schemes(_Regression)


# --------------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class RegressionResult(SimulationResult):
    r"""A :class:`~stability.dynamics.SimulationResult` of the ``linear-regression`` family.

    ``mean`` (generations + 1, chains, d) holds :math:`\beta_t`, ``data_mean`` the true :math:`\beta`
    (so ``error`` is :math:`\|\beta_t - \beta\|`); ``noise_var`` (generations + 1, chains) the fitted
    residual variance :math:`s_t^2 = \mathrm{RSS}_t/D` (generation 0: the initial :math:`s_0^2`);
    ``real_mean`` / ``real_noise_var`` the real labels' OLS :math:`\hat\beta` and residual variance
    (``fixed-real`` and ``accumulate``). ``collapsed``: the fitted noise variance fell to
    :math:`d\,\epsilon_{mach}\sigma^2` or below (``noise_scale="fitted"`` only).
    """

    noise_var: np.ndarray | None = None
    noise_scale: str = "fitted"
    sigma: float = 1.0
    X: np.ndarray | None = field(default=None, repr=False)
    real_noise_var: np.ndarray | None = field(default=None, repr=False)

    @cached_property
    def kl(self) -> np.ndarray:
        r"""Per-row :math:`KL(N(X\beta, \sigma^2 I)\,\|\,N(X\beta_t, v_t I))/n`, (generations + 1, chains).

        :math:`v_t` is the model's label variance (:math:`s_t^2`, or :math:`\sigma^2` when ``known``):
        :math:`\tfrac12(\sigma^2/v_t - 1 - \log(\sigma^2/v_t)) + \|X(\beta_t-\beta)\|^2/(2nv_t)`;
        ``inf`` for a collapsed chain.
        """
        v = np.full(self.noise_var.shape, self.sigma**2) if self.noise_scale == "known" else self.noise_var
        fit = np.einsum("gcd,nd->gcn", self.mean - self.data_mean, self.X)
        ok = (v > 0) & ~self.collapsed
        vs = np.where(ok, v, 1.0)
        r = self.sigma**2 / vs
        val = 0.5 * (r - 1.0 - np.log(r)) + np.sum(fit**2, axis=-1) / (2.0 * self.X.shape[0] * vs)
        return np.where(ok, val, np.inf)

    def save(self, path) -> Path:
        """Write the arrays (``mean``, ``noise_var``, ``X``, ``kl``, ...) and settings to an ``.npz`` file."""
        from .._io import atomic_write_npz, output_path

        path = output_path(path, "path", suffix=".npz")
        arrays = dict(mean=self.mean, noise_var=self.noise_var, collapsed=self.collapsed, data_mean=self.data_mean)
        arrays.update(kl=self.kl, X=self.X, sigma=self.sigma)
        if self.real_mean is not None:
            arrays.update(real_mean=self.real_mean, real_noise_var=self.real_noise_var)
        meta = dict(family=self.family, scheme=self.scheme, method=self.method, estimator=self.estimator)
        k = -1 if self.k is None else self.k
        atomic_write_npz(path, **arrays, n=self.n, k=k, lambda_=self.lambda_, noise_scale=self.noise_scale, **meta)
        return path


# --------------------------------------------------------------------------------------- simulate
def simulate_regression(
    *,
    n,
    lambda_,
    generations,
    chains,
    scheme="fixed-real",
    method="exact",
    estimator="mle",
    data=None,
    init=None,
    dim=None,
    noise_scale=None,
    synthetic_weight=None,
    seed=None,
    progress=False,
) -> RegressionResult:
    """The ``linear-regression`` branch of :func:`~stability.dynamics.simulate` (module docstring).

    ``data = {"X": (n, d), "beta": (d,), "sigma": > 0}``; ``n`` must equal ``X.shape[0]``;
    ``init = {"beta", "sigma"}`` (default the true ones); ``noise_scale``: ``"fitted"`` (default) or
    ``"known"``; ``synthetic_weight``: weighted least squares (:func:`point_weights`). Arguments are
    validated by :func:`~stability.dynamics.simulate` first.
    """
    design = parse_design(data)
    noise_scale = check_choice("noise_scale", "fitted" if noise_scale is None else noise_scale, NOISE_SCALES)
    if n != design.n:
        raise InputError(f"n must equal the number of rows of data['X'] ({design.n}), got {n}")
    if dim is not None and check_scalar("dim", dim) != design.d:
        raise InputError(f"dim must equal the number of columns of data['X'] ({design.d}) or be None, got {dim}")
    beta0, s0 = _init(init, design)
    run, k = _scheme_run(scheme, lambda_, n)
    weights = point_weights(synthetic_weight, run, n, k)
    d = design.d
    per_round = run.training_size(n, k, generations - 1 if run.accumulate and generations else 0)
    _check_cost(method, run.training_size(n, k), generations, chains, 1, d + 3)
    if method == "naive":
        check_memory(
            8.0 * 3 * chains * per_round,
            f"method 'naive' with chains={chains} and {per_round} labels per chain",
            "lower chains or generations, or use method 'exact'",
        )
    cls = _RegressionExact if method == "exact" else _RegressionNaive
    kernel = cls(design, beta0, s0, generations, chains, noise_scale, estimator, k, weights)
    real = _run(kernel, run, _rng(seed), n, k, generations, progress)
    real_beta, real_var = (None, None) if real is None else kernel.real_fit(real)
    if noise_scale == "fitted":
        collapsed = ~(kernel.noise_var > d * np.finfo(float).eps * design.sigma**2)
    else:
        collapsed = np.zeros(kernel.noise_var.shape, dtype=bool)
    return RegressionResult(
        REGRESSION, _scheme(scheme).name, method, estimator, n, None if run.synthetic_only else k, float(lambda_),
        kernel.mean, None, collapsed, design.beta.copy(), None, spec=None, real_mean=real_beta,
        noise_var=kernel.noise_var, noise_scale=noise_scale, sigma=design.sigma, X=design.X, real_noise_var=real_var,
        synthetic_weight=None if synthetic_weight is None or run.synthetic_only else float(synthetic_weight),
    )  # fmt: skip


# --------------------------------------------------------------------------------------- moments
@dataclass(frozen=True, eq=False)
class RegressionPrediction:
    r"""Predicted moments of the regression chains (leading axis ``generations + 1``, or none if stationary).

    ``sq_error``: :math:`E\|\beta_t-\beta\|^2`; ``sq_error_ols``: :math:`E\|\beta_t-\hat\beta\|^2`
    (``fixed-real`` only, else ``None``); ``noise_var``: :math:`E[s_t^2]`, the fitted residual variance
    (``RSS/D``; generation 0: :math:`s_0^2`); ``second_moment``: :math:`E[(\beta_t-\beta)(\beta_t-\beta)^\top]`.
    """

    sq_error: np.ndarray
    sq_error_ols: np.ndarray | None
    noise_var: np.ndarray
    second_moment: np.ndarray


@dataclass(frozen=True, eq=False)
class _Consts:
    """The matrices of the moment recursion (docs/theory.md §12), from the design and the scheme."""

    J: np.ndarray  # H^{-1} G~
    K: np.ndarray  # H^{-1} G (0 without real data)
    Q1: np.ndarray  # H^{-1} G~ H^{-1}: the synthetic noise covariance per unit s_t^2
    A: np.ndarray  # sigma^2 G^{-1}: Cov(beta_hat) (0 without real data)
    M: np.ndarray  # G~ - G~ H^{-1} G~: the model error's share of the pooled RSS
    free: float  # k - tr(H^{-1} G~): the synthetic noise's share of the RSS per unit s_t^2
    real_rss: float  # sigma^2 (n - d): E of the real labels' own RSS (0 without real data)
    D: int  # the divisor of the fitted variance
    sigma2: float
    fixed: bool  # the real labels are kept (their error correlates with beta_t)
    known: bool


def _consts(design: Design, run: Scheme, k: int, estimator: str, noise_scale: str, weights=(1.0, 1.0)) -> _Consts:
    r"""The recursion's matrices; with per-point weights :math:`(c_1, c_2)` (:func:`point_weights`) the
    weighted problem is the unweighted one with the real rows and labels scaled by :math:`\sqrt{c_1}`,
    the synthetic ones by :math:`\sqrt{c_2}`."""
    d, n = design.d, design.n
    c1, c2 = weights
    has_real = not run.synthetic_only
    rows = design.rows(k)
    Gt = c2 * (rows.T @ rows)
    G = c1 * design.gram if has_real else np.zeros((d, d))
    Hinv = np.linalg.inv(G + Gt)
    A = design.sigma**2 * np.linalg.inv(design.gram) if has_real else np.zeros((d, d))
    N = c1 * n + c2 * k if has_real else n
    return _Consts(
        J=Hinv @ Gt, K=Hinv @ G, Q1=c2 * Hinv @ Gt @ Hinv, A=A, M=Gt - Gt @ Hinv @ Gt,
        free=c2 * (k - float(np.trace(Hinv @ Gt))), real_rss=c1 * design.sigma**2 * (n - d) if has_real else 0.0,
        D=_divisor(N, d, estimator), sigma2=design.sigma**2, fixed=run.keeps_real, known=noise_scale == "known",
    )  # fmt: skip


def _moment_step(P, Cc, v, c: _Consts):
    r"""One round of the exact second-moment recursion (docs/theory.md §12).

    :math:`P = E[e_te_t^\top]`, :math:`e_t = \beta_t - \beta`; :math:`C_c = E[e_ta^\top]`,
    :math:`a = \hat\beta - \beta` (``fixed-real``; else 0); :math:`v = E[s_t^2]`, the label noise variance.
    Returns the next :math:`(P, C_c, v)` and :math:`E[\mathrm{RSS}_{t+1}]/D`.
    """
    Edd = P - Cc - Cc.T + c.A  # E[(beta_t - beta_hat)(...)^T]; fresh-real: a new, independent beta_hat
    rss = c.real_rss + float(np.sum(c.M * Edd)) + v * c.free
    P1 = c.J @ P @ c.J.T + c.K @ c.A @ c.K.T + c.J @ Cc @ c.K.T + c.K @ Cc.T @ c.J.T + v * c.Q1
    Cc1 = c.J @ Cc + c.K @ c.A if c.fixed else np.zeros_like(Cc)
    v1 = c.sigma2 if c.known else rss / c.D
    return P1, Cc1, v1, rss / c.D


def _prediction_setup(data, lambda_, scheme, estimator, noise_scale, synthetic_weight=None):
    design = parse_design(data)
    check_choice("estimator", estimator, ("mle", "unbiased"))
    noise_scale = check_choice("noise_scale", noise_scale, NOISE_SCALES)
    run, k = _scheme_run(scheme, lambda_, design.n)
    weights = point_weights(synthetic_weight, run, design.n, k)
    if run.accumulate:
        return design, run, k
    return design, run, _consts(design, run, k, estimator, noise_scale, weights)


def _accumulate_moments(design: Design, k, estimator, noise_scale, beta0, s0, G) -> RegressionPrediction:
    r"""``accumulate``: the exact recursion of the pooled statistics' second moments (docs/theory.md §12).

    With :math:`S_t = Z_t^\top(Y_t - Z_t\beta)` and :math:`R_t = \|Y_t - Z_t\beta\|^2` the statistics of
    round :math:`t+1`'s training set (real labels and batches from :math:`\beta_0,\dots,\beta_t`),
    :math:`H_t = G + (t+1)\tilde G`: :math:`\beta_{t+1} - \beta = H_t^{-1}S_t`,
    :math:`S_{t+1} = (I + \tilde GH_t^{-1})S_t + s_{t+1}z_{t+1}`,
    :math:`R_{t+1} = R_t + e_{t+1}^\top\tilde Ge_{t+1} + 2s_{t+1}e_{t+1}^\top z_{t+1} + s_{t+1}^2\|\zeta\|^2` and
    :math:`\mathrm{RSS}_t = R_t - S_t^\top H_t^{-1}S_t`; their expectations close on
    :math:`(E[S_tS_t^\top], E[R_t], E[S_ta^\top])`.
    """
    n, d, s2 = design.n, design.d, design.sigma**2
    Gr = design.gram
    rows = design.rows(k)
    Gt = rows.T @ rows
    known = noise_scale == "known"
    e0 = beta0 - design.beta
    v = s2 if known else s0**2
    Sig = s2 * Gr + np.outer(Gt @ e0, Gt @ e0) + v * Gt  # E[S_0 S_0^T]: real labels + the batch of generation 0
    R = s2 * n + e0 @ Gt @ e0 + v * k
    W = s2 * np.eye(d)  # E[S_t a^T], a = beta_hat - beta = G^-1 S_real
    A = s2 * np.linalg.inv(Gr)
    Ps, Cs, noise = [np.outer(e0, e0)], [np.zeros((d, d))], [s0**2]
    for t in range(G):
        Hi = np.linalg.inv(Gr + (t + 1) * Gt)
        P = Hi @ Sig @ Hi
        rss = R - float(np.sum(Hi * Sig))
        s2_fit = rss / _divisor(n + (t + 1) * k, d, estimator)
        Ps.append(P)
        Cs.append(Hi @ W)
        noise.append(s2_fit)
        v = s2 if known else s2_fit
        B = np.eye(d) + Gt @ Hi
        R = R + float(np.sum(Gt * P)) + v * k
        Sig = B @ Sig @ B.T + v * Gt
        W = B @ W
    Ps, Cs = np.array(Ps), np.array(Cs)
    tr = np.trace(Ps, axis1=1, axis2=2)
    return RegressionPrediction(tr, tr - 2 * np.trace(Cs, axis1=1, axis2=2) + np.trace(A), np.array(noise), Ps)


def regression_moments(
    *,
    data,
    lambda_,
    generations,
    scheme="fixed-real",
    noise_scale="fitted",
    estimator="mle",
    init=None,
    synthetic_weight=None,
) -> RegressionPrediction:
    r"""Exact :math:`E\|\beta_t-\beta\|^2`, :math:`E\|\beta_t-\hat\beta\|^2`, :math:`E[s_t^2]` for every generation.

    Arguments as :func:`~stability.dynamics.simulate` with ``family="linear-regression"``
    (``n`` is ``data["X"].shape[0]``); schemes ``fixed-real``, ``fresh-real``, ``replace``,
    ``accumulate``. Exact for both noise scales (docs/theory.md §12): the second moments of
    :math:`(\beta_t, s_t)` follow a linear recursion (time-dependent under ``accumulate``).

    Examples
    --------
    >>> X = np.eye(4, 2) + 1.0
    >>> p = regression_moments(data={"X": X, "beta": [0, 0]}, lambda_=1.0, generations=3, scheme="replace",
    ...                        noise_scale="known")
    >>> bool(np.allclose(p.sq_error, np.arange(4) * np.trace(np.linalg.inv(X.T @ X))))  # t sigma^2 tr G^-1
    True
    """
    design, run, c = _prediction_setup(data, lambda_, scheme, estimator, noise_scale, synthetic_weight)
    G = int(check_scalar("generations", generations))
    _check_recursion(G, design.d, "regression_moments")
    beta0, s0 = _init(init, design)
    if run.accumulate:
        return _accumulate_moments(design, c, estimator, noise_scale, beta0, s0, G)
    e0 = beta0 - design.beta
    P, Cc, v = np.outer(e0, e0), np.zeros((design.d, design.d)), c.sigma2 if c.known else s0**2
    Ps, Cs, noise = [P], [Cc], [s0**2]
    for _ in range(G):
        P, Cc, v, s2 = _moment_step(P, Cc, v, c)
        Ps.append(P)
        Cs.append(Cc)
        noise.append(s2)
    Ps, Cs = np.array(Ps), np.array(Cs)
    tr = np.trace(Ps, axis1=1, axis2=2)
    ols = tr - 2 * np.trace(Cs, axis1=1, axis2=2) + np.trace(c.A) if run.keeps_real else None
    return RegressionPrediction(tr, ols, np.array(noise), Ps)


def regression_stationary(
    *, data, lambda_, scheme="fixed-real", noise_scale="fitted", estimator="mle", synthetic_weight=None
) -> RegressionPrediction:
    r"""The stationary moments (``fixed-real`` / ``fresh-real``, finite :math:`\lambda`), exact.

    The recursion of :func:`regression_moments` is affine in :math:`x = (P, C_c, v)`; its matrix
    and offset are read off at 0 and at the unit vectors and :math:`(I - M)x = b` is solved. With the
    known noise level this is the discrete Lyapunov equation of docs/theory.md §12; at
    :math:`\lambda = 1` (:math:`\tilde X = X`, :math:`J = I/2`)
    :math:`E\|\beta_\infty-\hat\beta\|^2 = \sigma^2\operatorname{tr}(G^{-1})/3`.

    Examples
    --------
    >>> X = np.vstack([np.eye(2), np.ones((3, 2))])
    >>> st = regression_stationary(data={"X": X, "beta": [1, 2]}, lambda_=1.0, noise_scale="known")
    >>> bool(np.isclose(st.sq_error_ols, np.trace(np.linalg.inv(X.T @ X)) / 3))
    True
    """
    design, run, c = _prediction_setup(data, lambda_, scheme, estimator, noise_scale, synthetic_weight)
    if run.accumulate:
        raise InputError(
            "scheme 'accumulate' has no stationary law in closed form (its recursion depends on t); "
            "use regression_moments at a large t"
        )
    if run.synthetic_only:
        raise InputError(
            "scheme 'replace' has no stationary law: E||beta_t - beta||^2 grows by E[s_t^2] tr(G^-1) per round "
            "(see regression_moments)"
        )
    d = design.d
    size = 2 * d * d + 1

    def F(x):
        P, Cc, v = x[: d * d].reshape(d, d), x[d * d : 2 * d * d].reshape(d, d), x[-1]
        P1, Cc1, v1, _ = _moment_step(P, Cc, c.sigma2 if c.known else v, c)
        return np.concatenate([P1.ravel(), Cc1.ravel(), [v1]])

    b = F(np.zeros(size))
    Mx = np.stack([F(e) - b for e in np.eye(size)], axis=1)
    x = np.linalg.solve(np.eye(size) - Mx, b)
    P, Cc, v = x[: d * d].reshape(d, d), x[d * d : 2 * d * d].reshape(d, d), x[-1]
    P, Cc = 0.5 * (P + P.T), Cc
    _, _, _, s2 = _moment_step(P, Cc, c.sigma2 if c.known else v, c)
    tr = float(np.trace(P))
    ols = tr - 2 * float(np.trace(Cc)) + float(np.trace(c.A)) if run.keeps_real else None
    return RegressionPrediction(np.float64(tr), None if ols is None else np.float64(ols), np.float64(s2), P)


# registration: simulate / family_moments / family_stationary("linear-regression") land here
LinearRegression.simulate = staticmethod(simulate_regression)
LinearRegression.moments = staticmethod(regression_moments)
LinearRegression.stationary = staticmethod(regression_stationary)
