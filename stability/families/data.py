r"""What "data" may be for the closed forms: a sample, a distribution, or just its moments.

The infinite-sample operator of an exponential family only needs :math:`E_{data}[T(x)]`
(docs/theory.md §3), and :math:`\varepsilon = W_1(p_{\theta^*}, p_{data})` needs :math:`p_{data}`
itself. Three kinds of data are accepted everywhere:

- a **sample**: an array of shape ``(n,)`` (one-dimensional data) or ``(n, d)``; it stands for its
  empirical measure, so the fixed point is the maximum-likelihood fit to the sample;
- a **distribution**: a frozen one-dimensional ``scipy.stats`` distribution (continuous or
  discrete), or a :class:`GaussianMixture` in any dimension (misspecified data for a Gaussian);
- a :class:`Moments` object holding only the moments a family needs; ``eps`` is then undefined
  (``nan``) because :math:`p_{data}` is unknown.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from ..errors import InputError, check_memory

__all__ = [
    "GaussianMixture",
    "Moments",
    "as_sample",
    "check_real",
    "data_size",
    "float_array",
    "is_distribution",
    "is_scipy_distribution",
    "load_data",
    "parse_dist",
]


def float_array(data, name: str = "data") -> np.ndarray | None:
    """``data`` as a float array after the checks every data path shares, or ``None`` if numpy cannot convert it.

    Refuses complex values and ragged nests, and sizes that will not fit in memory (8 bytes a number and a
    few working copies for centring and statistics), each with an ``InputError`` naming ``name``. The caller
    decides what an unconvertible object means (an error in its own words, or a default).
    """
    check_real(data, name)
    size = data_size(data, name)
    check_memory(8.0 * 8 * size, f"{name} with {size} numbers", "use a smaller sample")
    try:
        return np.asarray(data, dtype=float)
    except (TypeError, ValueError):
        return None


def as_sample(data, name: str = "data") -> np.ndarray:
    """Return a finite float array (``(n,)`` or ``(n, d)``), or raise naming what is wrong."""
    x = float_array(data, name)
    if x is None:
        raise InputError(f"{name} must be an array of numbers, got {_describe(data)}")
    if x.ndim not in (1, 2) or x.shape[0] == 0 or (x.ndim == 2 and x.shape[1] == 0):
        raise ValueError(f"{name} must have shape (n,) or (n, d) with n >= 1, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite, got NaN or inf")
    return x


def _describe(data) -> str:
    if isinstance(data, np.ndarray):
        return f"an array of dtype {data.dtype}"
    return type(data).__name__


def data_size(data, name: str = "data") -> int:
    """How many numbers ``data`` holds (before converting it), or an ``InputError`` for a ragged nest."""
    try:
        return int(np.size(data))
    except ValueError:
        raise InputError(f"{name} must be a rectangular array of numbers (rows of equal length)") from None


def check_real(data, name: str = "data") -> None:
    """Refuse complex numbers (numpy would drop the imaginary part with only a warning)."""
    if isinstance(data, complex) or (not isinstance(data, (str, bytes, dict)) and np.iscomplexobj(data)):
        raise InputError(f"{name} must be real numbers, got complex values (pass .real or abs() explicitly)")


def is_scipy_distribution(data) -> bool:
    """A frozen one-dimensional ``scipy.stats`` distribution (``stats.norm(0, 1)``, ...)."""
    return isinstance(data, stats.distributions.rv_frozen)


def is_distribution(data) -> bool:
    return is_scipy_distribution(data) or isinstance(data, GaussianMixture)


@dataclass(frozen=True)
class Moments:
    r"""The moments of :math:`p_{data}` that a family's fixed point needs, and nothing else.

    - Gaussian (full or diagonal): ``mean`` (shape ``(d,)``) and ``cov`` (``(d, d)``; a vector of
      variances is accepted by the diagonal family);
    - Bernoulli, Poisson, exponential: ``mean`` (a scalar);
    - categorical: ``mean`` = the class probabilities (the mean of the one-hot encoding);
    - gamma: ``mean`` = :math:`E[x]` and ``mean_log`` = :math:`E[\log x]`.

    With only moments, :math:`W_1(p_{\theta^*}, p_{data})` is undefined and reported as ``nan``.
    """

    mean: np.ndarray | float
    cov: np.ndarray | float | None = None
    mean_log: float | None = None

    def __post_init__(self):
        for field_name in ("mean", "cov", "mean_log"):
            value = getattr(self, field_name)
            if value is None:
                continue
            arr = np.asarray(value, dtype=float)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"Moments.{field_name} must be finite, got NaN or inf")
            object.__setattr__(self, field_name, arr)


@dataclass(frozen=True)
class GaussianMixture:
    r"""A mixture :math:`\sum_k w_k N(m_k, \Sigma_k)` in :math:`d` dimensions (misspecified data).

    ``weights``: shape ``(K,)``, positive, summing to one; ``means``: ``(K, d)`` (or ``(K,)`` for
    ``d = 1``); ``covs``: ``(K, d, d)`` (or ``(K,)`` variances for ``d = 1``), positive definite.
    Its mean and covariance are closed forms (law of total covariance); :meth:`sample` draws with
    a seed.

    >>> mix = GaussianMixture([0.5, 0.5], [-1.0, 1.0], [0.25, 0.25])
    >>> float(mix.mean()[0]), float(mix.cov()[0, 0])  # 0 and 0.25 + 1
    (0.0, 1.25)
    """

    weights: np.ndarray
    means: np.ndarray
    covs: np.ndarray

    def __post_init__(self):
        w = np.asarray(self.weights, dtype=float)
        m = np.asarray(self.means, dtype=float)
        c = np.asarray(self.covs, dtype=float)
        if w.ndim != 1 or w.size == 0:
            raise ValueError(f"weights must have shape (K,) with K >= 1, got shape {w.shape}")
        if m.ndim == 1:
            m = m[:, None]
        if c.ndim == 1:
            c = c[:, None, None]
        if not (np.all(np.isfinite(w)) and np.all(np.isfinite(m)) and np.all(np.isfinite(c))):
            raise ValueError("GaussianMixture parameters must be finite, got NaN or inf")
        if np.any(w <= 0) or abs(w.sum() - 1.0) > 1e-12 * w.size:  # rounding of a user-typed sum
            raise ValueError(f"weights must be > 0 and sum to 1, got {w.tolist()}")
        k, d = w.size, m.shape[1] if m.ndim == 2 else 0
        if m.shape != (k, d) or c.shape != (k, d, d):
            raise ValueError(f"means must have shape (K, d) and covs (K, d, d), got {m.shape} and {c.shape}")
        for i in range(k):  # K is small (mixture components), not a loop over samples
            try:
                np.linalg.cholesky(c[i])
            except np.linalg.LinAlgError:
                raise ValueError(f"covs[{i}] must be positive definite") from None
            if not np.allclose(c[i], c[i].T, rtol=1e-12, atol=0):
                raise ValueError(f"covs[{i}] must be symmetric")
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "means", m)
        object.__setattr__(self, "covs", c)

    @property
    def d(self) -> int:
        return self.means.shape[1]

    def mean(self) -> np.ndarray:
        return self.weights @ self.means

    def cov(self) -> np.ndarray:
        """Law of total covariance: :math:`\\sum_k w_k(\\Sigma_k + m_k m_k^\\top) - m m^\\top`."""
        m = self.mean()
        second = np.einsum("k,kij->ij", self.weights, self.covs) + np.einsum(
            "k,ki,kj->ij", self.weights, self.means, self.means
        )
        return second - np.outer(m, m)

    def sample(self, size: int, seed=None) -> np.ndarray:
        """``size`` draws, shape ``(size, d)``; ``seed``: int or ``numpy.random.Generator``."""
        rng = np.random.default_rng(seed)
        comp = rng.choice(self.weights.size, size=size, p=self.weights)
        chol = np.linalg.cholesky(self.covs)
        z = rng.standard_normal((size, self.d))
        return self.means[comp] + np.einsum("nij,nj->ni", chol[comp], z)

    def _check_1d(self):
        if self.d != 1:
            raise ValueError(f"this needs a one-dimensional mixture, got d = {self.d}")

    def cdf(self, x) -> np.ndarray:
        self._check_1d()
        sd = np.sqrt(self.covs[:, 0, 0])
        z = (np.asarray(x, dtype=float)[..., None] - self.means[:, 0]) / sd
        return stats.norm.cdf(z) @ self.weights

    def gauss_hermite(self, order: int = 40) -> tuple[np.ndarray, np.ndarray]:
        """Nodes ``(N, d)`` and weights ``(N,)`` integrating polynomials of degree < 2 ``order``
        exactly against the mixture (tensor-product Gauss-Hermite rule per component)."""
        t, v = np.polynomial.hermite_e.hermegauss(order)  # weight exp(-t^2/2)
        v = v / np.sqrt(2.0 * np.pi)
        grid = np.stack(np.meshgrid(*([t] * self.d), indexing="ij"), -1).reshape(-1, self.d)
        gw = np.prod(np.stack(np.meshgrid(*([v] * self.d), indexing="ij"), -1).reshape(-1, self.d), axis=1)
        chol = np.linalg.cholesky(self.covs)
        nodes = self.means[:, None, :] + np.einsum("kij,nj->kni", chol, grid)
        weights = self.weights[:, None] * gw[None, :]
        return nodes.reshape(-1, self.d), weights.reshape(-1)


def parse_dist(spec: str) -> GaussianMixture | stats.rv_continuous | stats.rv_discrete:
    """A distribution from ``NAME:ARGS`` (``stability analyze --dist``; also the sweeps' ``data``).

    ``NAME`` is a one-dimensional ``scipy.stats`` distribution and ``ARGS`` its positional
    arguments in scipy's order (``norm:0,1``, ``gamma:2,0,0.5``), or ``mixture:w,m,s;w,m,s;...``
    a one-dimensional Gaussian mixture of (weight, mean, standard deviation) triples.

    >>> float(parse_dist("norm:1,2").mean())
    1.0
    >>> parse_dist("mixture:0.5,-1,1;0.5,1,1").cov().tolist()  # 1 + 1
    [[2.0]]
    """
    name, _, args = spec.partition(":")
    name = name.strip()
    if name == "mixture":
        try:
            rows = [[float(v) for v in part.split(",")] for part in args.split(";") if part.strip()]
        except ValueError:
            raise InputError(f"--dist: mixture components must be numbers 'w,m,s;w,m,s', got {args!r}") from None
        if not rows or any(len(r) != 3 for r in rows):
            raise InputError(f"--dist: mixture needs (weight, mean, sd) triples 'w,m,s;w,m,s', got {args!r}")
        w, m, s = np.array(rows).T
        if np.any(s <= 0):
            raise InputError(f"--dist: mixture standard deviations must be > 0, got {s.tolist()}")
        try:
            return GaussianMixture(w, m, s**2)
        except ValueError as err:
            raise InputError(f"--dist: mixture {args!r}: {err}") from None
    dist = getattr(stats, name, None)
    if not isinstance(dist, (stats.rv_continuous, stats.rv_discrete)):
        raise InputError(f"--dist: unknown distribution {name!r} (a scipy.stats name or 'mixture')")
    try:
        values = [float(v) for v in args.split(",")] if args.strip() else []
        frozen = dist(*values)
        ok = np.isfinite(frozen.cdf(frozen.median()))
    except (TypeError, ValueError) as err:
        raise InputError(f"--dist: bad arguments for {name}: {err}") from None
    if not ok:
        raise InputError(f"--dist: invalid parameters for {name}: {args!r}")
    return frozen


def load_data(path: str) -> np.ndarray:
    """A sample from a ``.npy`` or ``.csv`` file; every failure is an ``InputError`` naming ``--data``."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"--data: file not found: {path}")
    if not p.is_file():
        raise InputError(f"--data: {path} is not a file (a folder?)")
    if p.suffix == ".npy":
        with open(p, "rb") as f:
            magic = f.read(6)
        if magic != b"\x93NUMPY":
            what = "empty" if not magic else "it lacks the .npy header"
            raise InputError(f"--data: {path} is not a valid .npy file ({what}); save arrays with numpy.save")
        try:
            x = np.load(p, allow_pickle=False)
        except ValueError as err:
            if "allow_pickle" in str(err):  # an object array (or bytes that look like a pickle)
                raise InputError(
                    f"--data: {path} holds an object array (pickled Python objects), not numbers: "
                    "save a numeric array with numpy.save"
                ) from None
            raise InputError(f"--data: {path} is not a valid .npy file ({err})") from None
        except (OSError, EOFError) as err:
            raise InputError(f"--data: {path} is not a valid .npy file (empty or truncated: {err})") from None
        if not isinstance(x, np.ndarray):
            raise InputError(f"--data: {path} is not a valid .npy file")
        if x.dtype.kind not in "biufc":
            raise InputError(f"--data: {path} holds an array of dtype {x.dtype}, not numbers")
        return x
    if p.suffix == ".csv":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # numpy warns (instead of failing) on an empty file
                return np.loadtxt(p, delimiter=",", ndmin=1)
        except (ValueError, UserWarning, UnicodeDecodeError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise InputError(f"--data: cannot read {path} as comma-separated numbers: {first}") from None
    raise InputError(f"--data: expected a .npy or .csv file, got {path}")
