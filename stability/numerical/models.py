r"""Likelihood models written in torch: the protocol and the built-in models.

A model is an object with

- ``n_params`` (d) and ``data_dim`` (the dimension of x),
- ``log_prob(theta, x)``: :math:`\log p_\theta(x)` for a parameter vector ``theta`` (torch, shape
  ``(d,)``, float64) and points ``x`` (torch, shape ``(N, data_dim)``), returning shape ``(N,)``;
  it must be differentiable in ``theta`` and in ``x`` (torch autograd / ``torch.func``),
- ``support``: ``"real"`` (:math:`\mathbb{R}^{dim}`), ``"positive"`` (:math:`(0,\infty)`),
  ``"count"`` (:math:`\{0,1,\dots\}`) or a tuple of the finitely many values x can take,
- ``initial_theta(x, w)``: a starting point for the maximum-likelihood fit from weighted points,
- optionally ``sample(theta, n, generator)``: ``n`` exact draws from :math:`p_\theta` using the
  ``torch.Generator`` ``generator``, shape ``(n, data_dim)`` (needed by Monte Carlo expectations,
  dim > 2, and by :func:`~stability.numerical.chains.retrain_chains`). A model whose ``sample``
  also takes a stack of parameters ``theta`` of shape ``(..., d)`` and returns ``(..., n, data_dim)``
  (one independent sample per parameter vector) sets ``batched_sample = True``; the built-in
  samplers do.

Every parameter is unconstrained except the natural parameters of the exponential families that
live on a half-space (their log-density returns NaN outside, which the optimiser rejects).
Scales are log-scales: :math:`s = e^{\theta_{scale}}`. The maps are in each class docstring.
:class:`LikelihoodModel` supplies ``local_constants(data)`` so every model plugs into
:func:`stability.analyze`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from .. import families as _families
from ..report import LocalConstants
from .optim import DTYPE

__all__ = [
    "Bernoulli",
    "Categorical",
    "Exponential",
    "FamilyModel",
    "FunctionModel",
    "Gamma",
    "Gaussian",
    "GaussianMixture",
    "Laplace",
    "LikelihoodModel",
    "Logistic",
    "Poisson",
    "ProductStudentT",
    "StudentT",
]


def _wmean_std(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = (w[:, None] * x).sum(0)
    s = np.sqrt((w[:, None] * (x - m) ** 2).sum(0))
    return m, s


class LikelihoodModel:
    """Base class: subclasses define ``log_prob`` and the attributes of the module docstring."""

    name = "model"
    n_params: int
    data_dim = 1
    support: str | tuple = "real"
    param_names: tuple[str, ...] = ()
    batched_sample = False

    def log_prob(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def initial_theta(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def local_constants(self, data, **options) -> LocalConstants:
        """θ*, A, B, α, L, ε for ``data`` (see :func:`stability.numerical.constants.local_constants`)."""
        from .constants import local_constants

        return local_constants(self, data, **options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _LocationScale(LikelihoodModel):
    r"""1-D location-scale model :math:`p_\theta(x) = f((x-\mu)/s)/s`, :math:`\theta = (\mu, \log s)`."""

    n_params = 2
    param_names = ("mu", "log_scale")

    def log_f(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def log_prob(self, theta, x) -> torch.Tensor:
        mu, log_s = theta[0], theta[1]
        z = (x[:, 0] - mu) * torch.exp(-log_s)
        return self.log_f(z) - log_s

    def initial_theta(self, x, w) -> np.ndarray:
        m, s = _wmean_std(x, w)
        return np.array([m[0], math.log(max(s[0], 1e-300))])

    def standardize(self, c, s) -> tuple[np.ndarray, np.ndarray]:
        """Parameters for data ``x = c + s z`` from those for ``z``: :math:`\\theta_x = o + M\\theta_z`.

        Locations map to :math:`c + s\\mu`, log-scales to :math:`\\log s_z + \\log s`.
        """
        return np.array([c[0], math.log(s)]), np.diag([s, 1.0])

    def standard_sample(self, shape: tuple, generator: torch.Generator) -> torch.Tensor:
        """Exact draws of the standard variable :math:`z` (``theta = 0``), float64 of ``shape``."""
        raise NotImplementedError(f"{type(self).__name__} must define standard_sample() to be sampled")

    def sample(self, theta, n, generator) -> torch.Tensor:
        r""":math:`x = \mu + e^{\log s} z`, :math:`z` from :meth:`standard_sample`; ``theta`` (d,) or (..., d)."""
        theta = torch.as_tensor(theta, dtype=DTYPE)
        z = self.standard_sample((*theta.shape[:-1], int(n)), generator)
        return (theta[..., 0, None] + torch.exp(theta[..., 1, None]) * z)[..., None]


def _uniform(shape: tuple, generator: torch.Generator) -> torch.Tensor:
    """Uniforms on the open interval (0, 1): torch's [0, 1) with the zeros replaced by the smallest float64.

    ``torch.rand`` draws multiples of 2**-53, so 0 has probability 2**-53 and 1 never occurs.
    """
    u = torch.rand(shape, generator=generator, dtype=DTYPE)
    return u.clamp(min=float(np.finfo(float).tiny))


class StudentT(_LocationScale):
    r"""Student-t location-scale with fixed degrees of freedom :math:`\nu`.

    :math:`\log p_\theta(x) = \log\Gamma(\tfrac{\nu+1}{2}) - \log\Gamma(\tfrac{\nu}{2})
    - \tfrac12\log(\nu\pi) - \log s - \tfrac{\nu+1}{2}\log(1 + z^2/\nu)`, :math:`z = (x-\mu)/s`,
    :math:`\theta = (\mu, \log s)`. ``df`` must be > 0.
    """

    name = "student-t"

    def __init__(self, df: float = 5.0):
        if not (isinstance(df, (int, float)) and math.isfinite(df) and df > 0):
            raise ValueError(f"df must be a real number > 0, got {df!r}")
        self.df = float(df)
        nu = self.df
        self._const = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)

    def log_f(self, z) -> torch.Tensor:
        return self._const - (self.df + 1) / 2 * torch.log1p(z * z / self.df)

    batched_sample = True

    def standard_sample(self, shape, generator) -> torch.Tensor:
        r"""Exact Student-t draws :math:`z = N/\sqrt{V/\nu}`, :math:`N \sim N(0,1)`, :math:`V \sim \chi^2_\nu`.

        numpy's ``standard_t`` (which is that construction), seeded by one 62-bit draw from
        ``generator``: torch has no generator-driven gamma sampler, and the inverse CDF
        (``scipy.stats.t.ppf``) is about 12x slower (2 us per point).
        """
        seed = int(torch.randint(2**62, (1,), generator=generator))
        z = np.random.default_rng(seed).standard_t(self.df, size=shape)
        return torch.as_tensor(z, dtype=DTYPE)

    def __repr__(self):
        return f"StudentT(df={self.df:g})"


class Laplace(_LocationScale):
    r"""Laplace location-scale: :math:`\log p_\theta(x) = -\log 2 - \log s - |x-\mu|/s`, :math:`\theta = (\mu, \log s)`.

    Not twice differentiable in :math:`\mu` at :math:`x = \mu`: the pointwise Hessian misses the
    :math:`-2\delta(x-\mu)/s^2` term, so (A1) fails (``L`` is undefined) and the curvature is taken
    from the Hessian of the *expected* log-likelihood (see ``smooth``).
    """

    name = "laplace"
    smooth = False
    batched_sample = True

    def log_f(self, z) -> torch.Tensor:
        return -math.log(2.0) - torch.abs(z)

    def standard_sample(self, shape, generator) -> torch.Tensor:
        r"""Inverse CDF: :math:`z = -\mathrm{sign}(v)\log(1-2|v|)`, :math:`v = u - \tfrac12`, :math:`u \in (0,1)`."""
        v = _uniform(shape, generator) - 0.5
        return -torch.sign(v) * torch.log1p(-2 * v.abs())


class Logistic(_LocationScale):
    r"""Logistic location-scale: :math:`\log p_\theta(x) = -z - 2\log(1+e^{-z}) - \log s`.

    :math:`z = (x-\mu)/s`, :math:`\theta=(\mu,\log s)`.
    """

    name = "logistic"
    batched_sample = True

    def log_f(self, z) -> torch.Tensor:
        return -z - 2 * torch.nn.functional.softplus(-z)

    def standard_sample(self, shape, generator) -> torch.Tensor:
        r"""Inverse CDF: :math:`z = \log u - \log(1-u)`, :math:`u \in (0,1)`."""
        u = _uniform(shape, generator)
        return torch.log(u) - torch.log1p(-u)

    def initial_theta(self, x, w) -> np.ndarray:
        m, s = _wmean_std(x, w)
        return np.array([m[0], math.log(max(s[0], 1e-300) * math.sqrt(3) / math.pi)])


class GaussianMixture(LikelihoodModel):
    r"""Two-component Gaussian mixture with isotropic components in ``dim`` = 1 or 2 dimensions.

    :math:`p_\theta(x) = \pi N(x; m_1, s_1^2 I) + (1-\pi) N(x; m_2, s_2^2 I)` with
    :math:`\theta = (\mathrm{logit}\,\pi, m_1, m_2, \log s_1, \log s_2)` (``2 dim + 3`` numbers).
    """

    name = "gaussian-mixture"
    batched_sample = True

    def __init__(self, dim: int = 1):
        if dim not in (1, 2):
            raise ValueError(f"dim must be 1 or 2, got {dim!r}")
        self.data_dim = dim
        self.n_params = 2 * dim + 3
        self.param_names = (
            "logit_pi",
            *(f"m1_{i}" for i in range(dim)),
            *(f"m2_{i}" for i in range(dim)),
            "log_s1",
            "log_s2",
        )

    def _unpack(self, theta):
        k = self.data_dim
        return (
            theta[..., 0],
            theta[..., 1 : 1 + k],
            theta[..., 1 + k : 1 + 2 * k],
            theta[..., 1 + 2 * k],
            theta[..., 2 + 2 * k],
        )

    def log_prob(self, theta, x) -> torch.Tensor:
        a, m1, m2, ls1, ls2 = self._unpack(theta)
        k = self.data_dim
        c = -0.5 * k * math.log(2 * math.pi)
        l1 = c - k * ls1 - 0.5 * ((x - m1) ** 2).sum(-1) * torch.exp(-2 * ls1)
        l2 = c - k * ls2 - 0.5 * ((x - m2) ** 2).sum(-1) * torch.exp(-2 * ls2)
        lp = torch.nn.functional.logsigmoid(a)
        lq = torch.nn.functional.logsigmoid(-a)
        return torch.logsumexp(torch.stack([lp + l1, lq + l2]), 0)  # (logaddexp has NaN second derivatives far out)

    def initial_theta(self, x, w) -> np.ndarray:
        # split along the first principal axis at the weighted mean
        m, s = _wmean_std(x, w)
        xc = x - m
        cov = (w[:, None, None] * xc[:, :, None] * xc[:, None, :]).sum(0)
        v = np.linalg.eigh(cov)[1][:, -1]
        side = xc @ v > 0
        out = []
        for mask in (side, ~side):
            wm = w * mask
            tot = wm.sum()
            mm = (wm[:, None] * x).sum(0) / tot
            ss = np.sqrt((wm[:, None] * (x - mm) ** 2).sum() / tot / x.shape[1])
            out.append((tot, mm, ss))
        (t1, m1, s1), (_, m2, s2) = out
        if not (s1 > 0 and s2 > 0):
            from ..errors import InputError

            raise InputError(
                f"data are too few for a two-component mixture: splitting the {x.shape[0]} points along their "
                "principal axis leaves a component with no spread (each needs at least 2 distinct points)"
            )
        t1 = min(max(t1, 1e-3), 1 - 1e-3)
        return np.concatenate([[math.log(t1 / (1 - t1))], m1, m2, [math.log(s1), math.log(s2)]])

    def standardize(self, c, s) -> tuple[np.ndarray, np.ndarray]:
        """Parameters for data ``x = c + s z`` from those for ``z``: :math:`\\theta_x = o + M\\theta_z`.

        Locations map to :math:`c + s\\mu`, log-scales to :math:`\\log s_z + \\log s`.
        """
        k = self.data_dim
        o = np.concatenate([[0.0], c, c, [math.log(s), math.log(s)]])
        return o, np.diag(np.concatenate([[1.0], np.full(2 * k, s), [1.0, 1.0]]))

    def sample(self, theta, n, generator) -> torch.Tensor:
        """Component by a uniform, then a Gaussian draw; ``theta`` (d,) or (..., d) -> (..., n, dim)."""
        theta = torch.as_tensor(theta, dtype=DTYPE)
        a, m1, m2, ls1, ls2 = self._unpack(theta)
        batch = theta.shape[:-1]
        first = torch.rand((*batch, n), generator=generator, dtype=DTYPE) < torch.sigmoid(a)[..., None]
        z = torch.randn((*batch, n, self.data_dim), generator=generator, dtype=DTYPE)
        x1 = m1[..., None, :] + torch.exp(ls1)[..., None, None] * z
        x2 = m2[..., None, :] + torch.exp(ls2)[..., None, None] * z
        return torch.where(first[..., None], x1, x2)

    def __repr__(self):
        return f"GaussianMixture(dim={self.data_dim})"


class ProductStudentT(LikelihoodModel):
    r"""Independent Student-t location-scale coordinates in ``dim`` dimensions (``2 dim`` parameters).

    :math:`\log p_\theta(x) = \sum_k \log t_\nu((x_k-\mu_k)/s_k) - \log s_k`,
    :math:`\theta = (\mu_1..\mu_{dim}, \log s_1..\log s_{dim})`. A large-d test bed for the
    matrix-free path: its exact curvature is block diagonal (one 2x2 block per coordinate), which the
    matrix-free code does not know.
    """

    name = "product-student-t"

    def __init__(self, dim: int, df: float = 5.0):
        if not (isinstance(dim, int) and dim >= 1):
            raise ValueError(f"dim must be an integer >= 1, got {dim!r}")
        self.data_dim = dim
        self.n_params = 2 * dim
        self._t = StudentT(df)

    def log_prob(self, theta, x) -> torch.Tensor:
        k = self.data_dim
        mu, ls = theta[:k], theta[k:]
        z = (x - mu) * torch.exp(-ls)
        return (self._t.log_f(z) - ls).sum(-1)

    def initial_theta(self, x, w) -> np.ndarray:
        m, s = _wmean_std(x, w)
        return np.concatenate([m, np.log(s)])

    def standardize(self, c, s) -> tuple[np.ndarray, np.ndarray]:
        """Parameters for data ``x = c + s z`` from those for ``z``: :math:`\\theta_x = o + M\\theta_z`.

        Locations map to :math:`c + s\\mu`, log-scales to :math:`\\log s_z + \\log s`.
        """
        k = self.data_dim
        return np.concatenate([c, np.full(k, math.log(s))]), np.diag(np.concatenate([np.full(k, s), np.ones(k)]))

    def sample(self, theta, n, generator) -> torch.Tensor:
        from scipy import stats

        k = self.data_dim
        u = torch.rand(n, k, generator=generator, dtype=DTYPE).clamp(1e-300, 1 - 1e-16)
        z = torch.as_tensor(stats.t.ppf(u.numpy(), self._t.df), dtype=DTYPE)
        return theta[:k] + torch.exp(theta[k:]) * z


class FunctionModel(LikelihoodModel):
    """A user model from a plain function ``log_prob(theta, x) -> (N,)`` (torch, float64).

    ``theta0`` is the starting point of the fit (its length fixes ``n_params``); ``sample`` is an
    optional exact sampler ``sample(theta, n, generator) -> (n, data_dim)`` (``generator`` a
    ``torch.Generator``) used by Monte Carlo expectations and by
    :func:`~stability.numerical.chains.retrain_chains`; ``batched_sample=True`` declares that it
    also maps a stack ``theta`` (..., d) to independent samples (..., n, data_dim).
    """

    def __init__(
        self,
        log_prob: Callable,
        theta0,
        data_dim: int = 1,
        support="real",
        sample: Callable | None = None,
        name: str = "user",
        batched_sample: bool = False,
    ):
        if not callable(log_prob):
            raise ValueError(f"log_prob must be callable, got {type(log_prob).__name__}")
        self._log_prob = log_prob
        self.theta0 = np.atleast_1d(np.asarray(theta0, dtype=float))
        if self.theta0.ndim != 1 or not np.all(np.isfinite(self.theta0)):
            raise ValueError(f"theta0 must be a finite 1-D vector, got {theta0!r}")
        self.n_params = self.theta0.size
        self.data_dim = int(data_dim)
        self.support = support
        self.name = name
        if sample is not None:
            if not callable(sample):
                raise ValueError(f"sample must be callable or None, got {type(sample).__name__}")
            self.sample = sample
        self.batched_sample = bool(batched_sample) and sample is not None

    def log_prob(self, theta, x) -> torch.Tensor:
        return self._log_prob(theta, x)

    def initial_theta(self, x, w) -> np.ndarray:
        return self.theta0.copy()


# --- exponential families, derived from stability.families ---------------------------------------


class FamilyModel(LikelihoodModel):
    r"""The torch model of an exponential family of :mod:`stability.families`, in its natural parameters.

    :math:`\log p_\theta(x) = \log h(x) + \theta\cdot T(x) - A(\theta)` with :math:`T`, :math:`A` and
    :math:`h` the family's own (its ``torch_*`` hooks), so the numerical route and the closed forms
    share one parametrisation (``theta_star`` of ``"<name>-numerical"`` is that of ``"<name>"``).
    The Hessian of :math:`\log p` in :math:`\theta` is :math:`-\nabla^2 A(\theta)`, independent of
    :math:`x` (:math:`L = 0`). :meth:`of` gives the model class of a family class; its constructor
    takes the family's ``numerical_options`` (the categorical's ``k``) with its
    ``numerical_defaults``.
    """

    family_class: type = None  # set by of()
    _classes: dict = {}

    def __init__(self, **options):
        self.family = self.family_class(**options)
        self.name = f"{self.family.name}-numerical"
        self.n_params = self.family.dim
        self.support = self.family.model_support
        self.batched_sample = hasattr(self.family, "torch_sample")

    @classmethod
    def of(cls, family_class: type) -> type[FamilyModel]:
        """The model class of ``family_class`` (one per family, created on first use)."""
        if family_class not in cls._classes:
            import inspect

            sig = inspect.signature(family_class.__init__)
            defaults = family_class.numerical_defaults
            options = [
                p.replace(default=defaults.get(n, p.default))
                for n, p in sig.parameters.items()
                if n in family_class.numerical_options  # the options its registered model takes by name
            ]

            def __init__(self, *args, **kwargs):
                given = dict(zip((p.name for p in options), args, strict=False)) | kwargs
                FamilyModel.__init__(self, **(defaults | given))

            self_ = next(iter(sig.parameters.values()))
            __init__.__signature__ = sig.replace(parameters=[self_, *options], return_annotation=None)
            __init__.__annotations__ = {p.name: p.annotation for p in options}
            name = family_class.__name__
            doc = f"The torch model of :class:`stability.families.{name}` (``{family_class.name}-numerical``)."
            cls._classes[family_class] = type(
                name, (cls,), {"family_class": family_class, "__init__": __init__, "__doc__": doc}
            )
        return cls._classes[family_class]

    def log_partition(self, eta: torch.Tensor) -> torch.Tensor:
        r""":math:`A(\eta)` (torch; NaN outside the natural domain)."""
        return self.family.torch_log_partition(eta)

    def log_prob(self, theta, x) -> torch.Tensor:
        out = (self.family.torch_statistic(x) * theta).sum(-1) - self.log_partition(theta)
        base = self.family.torch_log_base(x)
        return out if base is None else out + base

    def mean_statistic(self, x: np.ndarray) -> np.ndarray:
        """T(x) for each row of x, shape (N, n_params)."""
        return self.family.statistic(x)

    def initial_theta(self, x, w) -> np.ndarray:
        return self.family.initial_theta(x, w)

    def sample(self, theta, n, generator) -> torch.Tensor:
        """Exact draws (the families with a torch sampler); ``theta`` (d,) or (..., d), returns (..., n, 1)."""
        if not self.batched_sample:
            raise NotImplementedError(f"{self.name} has no sampler")
        return self.family.torch_sample(torch.as_tensor(theta, dtype=DTYPE), n, generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# the torch models of the families by their class names (stability.numerical registers every
# family of stability.families.FAMILIES with torch hooks as "<name>-numerical" through FamilyModel.of)
Gaussian = FamilyModel.of(_families.Gaussian)
Bernoulli = FamilyModel.of(_families.Bernoulli)
Categorical = FamilyModel.of(_families.Categorical)
Poisson = FamilyModel.of(_families.Poisson)
Exponential = FamilyModel.of(_families.Exponential)
Gamma = FamilyModel.of(_families.Gamma)
