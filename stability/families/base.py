r"""Exponential families :math:`p_\theta(x) = h(x)\exp(\theta\cdot T(x) - A(\theta))` and their
retraining operator in closed form (docs/theory.md §3, "[exact]").

In mean parameters :math:`\mu = \nabla A(\theta)` the infinite-sample operator is affine and
global,

.. math:: \mu_{t+1} = \frac{\mu_{data} + \lambda\,\mu_t}{1+\lambda}, \qquad
          \mu_{data} = E_{data}[T(x)],

because the maximiser of :math:`E_{data}[\log p_{\theta'}] + \lambda E_{p_\theta}[\log p_{\theta'}]`
matches moments: :math:`\nabla A(\theta') = (\mu_{data} + \lambda\nabla A(\theta))/(1+\lambda)`.
Hence the fixed point :math:`\theta^* = (\nabla A)^{-1}(\mu_{data})` does not depend on
:math:`\lambda`, the Hessian of :math:`\log p_\theta(x)` is :math:`-\nabla^2 A(\theta)` whatever
:math:`x` is (so :math:`L = 0` and :math:`A = B = \nabla^2 A(\theta^*)`), and the Jacobian in
natural parameters is :math:`J = \lambda/(1+\lambda)\,I` exactly, misspecified data or not.

Every closed form has a numerical twin with the same signature (suffix ``_numeric``): the
operator by maximising the retraining objective numerically (trust-region Newton), the Jacobian
by central finite differences of the closed-form :math:`G_\lambda`, the fixed point by iterating
:math:`G_\lambda`, the moments of a distribution by quadrature or summation, the mean map by
finite differences of the log-partition and the Fisher information by finite differences of the
mean map. ``tests/families/test_base.py`` checks every pair for every family.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .._domains import DOMAINS, check, check_seed
from ..report import LocalConstants
from ._simulation import FamilySpec, positive
from .data import Moments, is_distribution

if TYPE_CHECKING:  # torch is imported where a torch hook runs, never by this module
    import torch

__all__ = ["ExponentialFamily", "FixedPointResult", "MeanMapSolve"]

# Central differences with step h have truncation error O(h^2 * third derivative) and rounding
# error O(1e-16 * |f| / h); h = 1e-5 (relative to the parameter's scale) balances them at ~1e-10.
FD_STEP = 1e-5


@dataclass(frozen=True)
class FixedPointResult:
    """Outcome of iterating :math:`\\theta_{t+1} = G_\\lambda(\\theta_t)` to its fixed point."""

    value: np.ndarray
    iterations: int
    residual: float  # ||G(theta) - theta||_2 at the returned value
    converged: bool


@dataclass(frozen=True)
class MeanMapSolve:
    """Outcome of inverting a mean map numerically (e.g. the gamma shape from the digamma function)."""

    value: float
    iterations: int
    residual: float
    converged: bool


class ExponentialFamily(ABC):
    r"""Base class: a family provides the maps below; everything else is derived here.

    ``seed`` and ``w1_points`` only matter where :math:`\varepsilon` needs a Monte Carlo / POT
    estimate (Gaussians in :math:`d \ge 2`): the model sample is drawn with ``seed`` and both
    samples have at most ``w1_points`` points.

    Subclasses implement :meth:`statistic`, :meth:`log_partition`, :meth:`mean` (natural to mean),
    :meth:`natural` (mean to natural, validating the mean), :meth:`fisher`, :meth:`check_natural`,
    :meth:`sample`, :meth:`check_sample`, :meth:`expected_statistic` (closed form),
    :meth:`_integrate_statistic` (quadrature or summation), :meth:`params`, :meth:`reference_point`
    and :meth:`w1`.
    """

    #: registry name
    name: str = ""
    #: the constructor's size option read off the data when not given (``"d"``, ``"k"``), if any
    size_option: ClassVar[str | None] = None
    #: the parameters of a dict given to :func:`stability.simulate` as ``data=`` / ``init=``, with
    #: their defaults (docs/theory.md §6); empty: the simulator does not run this family
    defaults: ClassVar[dict[str, Any]] = {}
    #: simulated through the sum of its sufficient statistic (a :class:`FamilySpec`; the Gaussian: no)
    sum_statistic: ClassVar[bool] = True
    #: the domain of each scalar parameter of :attr:`defaults` (:mod:`stability._domains`)
    domains: ClassVar[dict[str, Any]] = {}
    #: the parameters held fixed along a chain (not fitted), e.g. the gamma's known shape
    known: ClassVar[tuple[str, ...]] = ()
    #: whether the self-correcting corrector (docs/theory.md §14) and curation (§15) run on it
    corrects: ClassVar[bool] = True
    curates: ClassVar[bool] = False
    #: whether it defines the torch hooks (:meth:`torch_statistic`, :meth:`torch_log_partition`, ...):
    #: then :mod:`stability.numerical` derives its torch model, registered as ``"<name>-numerical"``
    numerical: ClassVar[bool] = False
    #: the support of x in :mod:`stability.numerical.models`' terms (``"real"``, ``"positive"``,
    #: ``"count"`` or the tuple of values)
    model_support: ClassVar[str | tuple] = "real"
    #: the constructor options its torch model takes by name (``"<name>-numerical"``, e.g. ``k``)
    numerical_options: ClassVar[tuple[str, ...]] = ()
    #: defaults of those options where the torch model's differ from the constructor's
    numerical_defaults: ClassVar[dict[str, Any]] = {}
    #: options of :func:`stability.simulate` only some families take (e.g. ``noise_scale``)
    options: ClassVar[tuple[str, ...]] = ()
    #: a family with its own chains, moments and stationary law sets these (none here: the
    #: simulator runs :meth:`simulation`'s kernels)
    simulate: ClassVar[Any] = None
    moments: ClassVar[Any] = None
    stationary: ClassVar[Any] = None

    def __init__(self, seed: int = 0, w1_points: int = 1000):
        #: seed and sample size of the Monte Carlo / POT estimate of eps where one is needed
        self.seed = check_seed("seed", seed)
        self.w1_points = int(check("w1_points", w1_points))

    # ------------------------------------------------------------------ family-specific maps
    @property
    @abstractmethod
    def dim(self) -> int:
        """Number of natural parameters."""

    @abstractmethod
    def statistic(self, x) -> np.ndarray:
        """Sufficient statistic :math:`T(x)`, shape ``(n, dim)`` for ``n`` data points."""

    @abstractmethod
    def log_partition(self, theta) -> float:
        """:math:`A(\\theta)`."""

    @abstractmethod
    def mean(self, theta) -> np.ndarray:
        """Mean parameters :math:`\\mu = \\nabla A(\\theta) = E_\\theta[T(x)]`."""

    @abstractmethod
    def natural(self, mu) -> np.ndarray:
        """Natural parameters :math:`\\theta = (\\nabla A)^{-1}(\\mu)`; raises if ``mu`` is not in
        the interior of the mean space (degenerate data)."""

    @abstractmethod
    def fisher(self, theta) -> np.ndarray:
        """Fisher information :math:`\\nabla^2 A(\\theta) = \\mathrm{Cov}_\\theta[T(x)]`."""

    @abstractmethod
    def check_natural(self, theta) -> np.ndarray:
        """Validated natural parameters (shape ``(dim,)``) or ``ValueError``."""

    @abstractmethod
    def sample(self, theta, size: int, seed=None) -> np.ndarray:
        """``size`` draws from :math:`p_\\theta`; ``seed``: int or ``numpy.random.Generator``."""

    @abstractmethod
    def expected_statistic(self, data) -> np.ndarray:
        """:math:`E_{data}[T(x)]` in closed form (sample average, or the distribution's moments)."""

    @abstractmethod
    def check_sample(self, x) -> np.ndarray:
        """A validated data sample (finite, right shape, inside the family's support)."""

    @abstractmethod
    def _integrate_statistic(self, dist) -> np.ndarray:
        """:math:`E[T(x)]` for a distribution by quadrature or summation."""

    def expected_statistic_numeric(self, data) -> np.ndarray:
        """Twin of :meth:`expected_statistic`: for a sample the average of :meth:`statistic` over the
        points; for a distribution :math:`E[T(x)]` by quadrature or summation. A :class:`Moments`
        object has no second route and raises."""
        if isinstance(data, Moments):
            raise ValueError("data given by Moments has no distribution to integrate; pass a sample or a distribution")
        if is_distribution(data):
            return self._integrate_statistic(data)
        return self.statistic(self.check_sample(data)).mean(axis=0)

    @abstractmethod
    def params(self, theta) -> dict[str, Any]:
        """The usual parameters (mean, covariance, rate, ...) of :math:`p_\\theta`."""

    @abstractmethod
    def w1(self, theta, data) -> tuple[float, str]:
        """:math:`W_1(p_\\theta, p_{data})` and a sentence saying how it was computed (with its error)."""

    def log_base_measure(self, x) -> np.ndarray:
        r""":math:`\log h(x)` per data point (zero unless a family overrides it)."""
        return np.zeros(self.statistic(x).shape[0])

    # ------------------------------------------------------------------ derived: closed forms
    def logpdf(self, theta, x) -> np.ndarray:
        r""":math:`\log p_\theta(x) = \log h(x) + \theta\cdot T(x) - A(\theta)` per data point."""
        theta = self.check_natural(theta)
        return self.log_base_measure(x) + self.statistic(x) @ theta - self.log_partition(theta)

    def data_mean(self, data) -> tuple[np.ndarray, str]:
        """:math:`\\mu_{data}` and how it was obtained (closed form, or quadrature where a
        distribution's moment has no closed form)."""
        try:
            return self.expected_statistic(data), "closed form"
        except NotImplementedError:
            return self.expected_statistic_numeric(data), "quadrature (no closed form for this distribution)"

    def operator(self, theta, data, lambda_) -> np.ndarray:
        r"""Infinite-sample retraining operator
        :math:`G_\lambda(\theta) = (\nabla A)^{-1}\big((\mu_{data} + \lambda\nabla A(\theta))/(1+\lambda)\big)`.

        ``lambda_ = inf`` (purely synthetic) gives the identity.
        """
        lam = float(check("lambda_", lambda_))
        theta = self.check_natural(theta)
        return self._step(theta, self.data_mean(data)[0], lam)

    def _step(self, theta: np.ndarray, mu_data: np.ndarray, lam: float) -> np.ndarray:
        if math.isinf(lam):
            return theta.copy()
        return self.natural((mu_data + lam * self.mean(theta)) / (1.0 + lam))

    def fixed_point(self, data) -> np.ndarray:
        """:math:`\\theta^* = (\\nabla A)^{-1}(E_{data}[T])`, the same for every :math:`\\lambda`."""
        return self.natural(self.data_mean(data)[0])

    def rate(self, lambda_) -> float:
        """Exact local (and global, in mean parameters) contraction rate :math:`\\lambda/(1+\\lambda)`."""
        lam = float(check("lambda_", lambda_))
        return 1.0 if math.isinf(lam) else lam / (1.0 + lam)

    def jacobian(self, data, lambda_) -> np.ndarray:
        r""":math:`\partial G_\lambda/\partial\theta` at :math:`\theta^*`: :math:`\lambda/(1+\lambda) I`."""
        self.fixed_point(data)  # validates the data (degenerate data has no fixed point)
        return self.rate(lambda_) * np.eye(self.dim)

    def trajectory(self, theta0, data, lambda_, steps: int) -> np.ndarray:
        """Deterministic iterates :math:`\\theta_0, \\dots, \\theta_{steps}` of :math:`G_\\lambda`,
        shape ``(steps + 1, dim)``."""
        lam = float(check("lambda_", lambda_))
        steps_ = float(check("steps", steps))
        if math.isinf(steps_):
            raise ValueError("steps must be a finite integer >= 0, got inf")
        steps = int(steps_)
        mu_data = self.data_mean(data)[0]
        out = np.empty((steps + 1, self.dim))
        out[0] = self.check_natural(theta0)
        for t in range(steps):  # a recursion: each step needs the previous one
            out[t + 1] = self._step(out[t], mu_data, lam)
        return out

    def local_constants(self, data) -> LocalConstants:
        """:math:`\\theta^*`, :math:`A = B = \\nabla^2A(\\theta^*)`, :math:`\\alpha` = its smallest
        eigenvalue, :math:`L = 0`, :math:`\\varepsilon = W_1(p_{\\theta^*}, p_{data})`."""
        mu, how = self.data_mean(data)
        theta = self.natural(mu)
        F = self.fisher(theta)
        eps, eps_how = self.w1(theta, data)
        details = {
            "family": self.name,
            "theta": "natural parameters (see the family's docstring for their order)",
            "params": {k: np.asarray(v).tolist() for k, v in self.params(theta).items()},
            "fixed_point": f"moment matching, E_data[T] by {how}",
            "A = B": "Fisher information grad^2 A(theta*) in closed form",
            "L": "0: the Hessian of log p_theta(x) is -grad^2 A(theta), independent of x",
            "eps": eps_how,
        }
        return LocalConstants(
            model=self.name,
            theta_star=theta,
            A=F,
            B=F,
            alpha=float(np.linalg.eigvalsh(F)[0]),
            L=0.0,
            eps=eps,
            details=details,
        )

    # ------------------------------------------------------------------ derived: numerical twins
    def _fd(self, f, theta: np.ndarray) -> np.ndarray:
        """Central-difference Jacobian of ``f`` at ``theta`` (columns = partial derivatives)."""
        h = FD_STEP * np.maximum(1.0, np.abs(theta))
        cols = []
        for i in range(theta.size):  # one column per parameter (dim is small)
            e = np.zeros_like(theta)
            e[i] = h[i]
            cols.append((np.atleast_1d(f(theta + e)) - np.atleast_1d(f(theta - e))) / (2 * h[i]))
        return np.stack(cols, axis=-1)

    def mean_numeric(self, theta) -> np.ndarray:
        """Twin of :meth:`mean`: central differences of :meth:`log_partition`."""
        theta = self.check_natural(theta)
        return self._fd(lambda t: np.array([self.log_partition(t)]), theta)[0]

    def fisher_numeric(self, theta) -> np.ndarray:
        """Twin of :meth:`fisher`: central differences of :meth:`mean` (symmetrised)."""
        theta = self.check_natural(theta)
        F = self._fd(self.mean, theta)
        return (F + F.T) / 2

    def jacobian_numeric(self, data, lambda_) -> np.ndarray:
        """Twin of :meth:`jacobian`: central differences of the closed-form :math:`G_\\lambda` at
        :math:`\\theta^*`."""
        lam = float(check("lambda_", lambda_))
        mu_data = self.data_mean(data)[0]
        theta = self.natural(mu_data)
        return self._fd(lambda t: self._step(t, mu_data, lam), theta)

    def operator_numeric(self, theta, data, lambda_) -> np.ndarray:
        r"""Twin of :meth:`operator`: the argmax of docs/theory.md §1 solved numerically.

        Maximises :math:`\theta' \mapsto E_{data}[\log p_{\theta'}] + \lambda E_{p_\theta}[\log p_{\theta'}]
        = \mathrm{const} + \langle \mu_{data} + \lambda\nabla A(\theta), \theta'\rangle - (1+\lambda)A(\theta')`
        with a trust-region Newton method (``scipy.optimize.minimize(method="trust-exact")``, gradient
        from :meth:`mean`, Hessian from :meth:`fisher`) started at :meth:`reference_point`, then five
        Newton steps on the gradient; it never calls :meth:`natural`. Points outside the natural
        domain count as :math:`+\infty`. Raises if the final gradient is not at rounding level.
        """
        from scipy import optimize

        lam = float(check("lambda_", lambda_))
        theta = self.check_natural(theta)
        if math.isinf(lam):
            return theta.copy()  # the argmax of E_theta[log p_theta'] is theta itself
        target = (self.data_mean(data)[0] + lam * self.mean(theta)) / (1.0 + lam)

        def objective(t):
            try:
                return self.log_partition(t) - target @ t
            except ValueError:
                return math.inf

        res = optimize.minimize(
            objective,
            self.reference_point(),
            jac=lambda t: self.mean(t) - target,
            hess=self.fisher,
            method="trust-exact",
            options={"gtol": 1e-12, "maxiter": 500},
        )
        # The objective is resolved only to ~1e-16 |A|, which stalls the trust region at a gradient
        # of ~1e-9; Newton steps on the gradient itself (no objective needed) polish the result.
        t = res.x
        for _ in range(5):
            t = t - np.linalg.solve(self.fisher(t), self.mean(t) - target)
        scale = max(1.0, float(np.abs(target).max()))
        grad = float(np.linalg.norm(self.mean(t) - target))
        if grad > 1e-10 * scale:
            raise ValueError(f"operator_numeric: the optimiser failed ({res.message}; gradient {grad:.1e})")
        return t

    def fixed_point_numeric(
        self, data, lambda_=1.0, theta0=None, tol: float = 1e-13, max_iter: int = 10_000
    ) -> FixedPointResult:
        """Twin of :meth:`fixed_point`: iterate :math:`G_\\lambda` from ``theta0`` (default: the
        family's reference point) until :math:`\\|\\theta_{t+1}-\\theta_t\\| \\le` ``tol`` times
        :math:`\\max(1, \\|\\theta_t\\|)`. Not converging is reported, not hidden."""
        lam = float(check("lambda_", lambda_))
        if math.isinf(lam):
            raise ValueError("lambda_ must be finite to iterate to the fixed point (G_inf is the identity)")
        mu_data = self.data_mean(data)[0]
        theta = self.check_natural(self.reference_point() if theta0 is None else theta0)
        residual = math.inf
        for it in range(1, max_iter + 1):  # a recursion
            new = self._step(theta, mu_data, lam)
            residual = float(np.linalg.norm(new - theta))
            theta = new
            if residual <= tol * max(1.0, float(np.linalg.norm(theta))):
                return FixedPointResult(theta, it, residual, True)
        return FixedPointResult(theta, max_iter, residual, False)

    def reference_point(self) -> np.ndarray:
        """A valid natural parameter used as the default start (the "standard" member)."""
        raise NotImplementedError(f"family {self.name!r} must define reference_point() (its default start)")

    # ------------------------------------------------------------------ sized from the data
    @classmethod
    def infer_size(cls, data) -> int:
        """The size option (:attr:`size_option`) read off ``data`` (families with one override this)."""
        raise NotImplementedError(f"family {cls.name!r} has no size option")

    @classmethod
    def for_data(cls, data=None, **options) -> ExponentialFamily:
        """The family with ``options``, its size (:attr:`size_option`) read off ``data`` unless given."""
        if cls.size_option is not None and options.get(cls.size_option) is None:
            options[cls.size_option] = cls.infer_size(data)
        return cls(**options)

    # ------------------------------------------------------------------ the simulator's hooks
    # (docs/theory.md §6). The defaults below are those of a family given by one positive scalar
    # parameter that is its mean parameter eta = E[x] (Poisson rate, exponential mean); a family
    # overrides what differs. :class:`~stability.families._simulation.FamilySpec` runs them.
    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The parameter names the simulator reads (of :attr:`defaults`)."""
        return tuple(cls.defaults)

    @classmethod
    def parse_dict(cls, params, name: str = "data") -> dict:
        """``params`` as a dict of distribution parameters: a dict is returned as is (keys checked),
        a sample, a frozen scipy distribution or Moments is read by the family (its fit)."""
        if params is None:
            return {}
        if not isinstance(params, dict):
            fam = cls.for_data(params)
            return cls.params_from_statistic(fam, fam.expected_statistic(params))
        unknown = set(params) - set(cls.keys())
        if unknown:
            raise ValueError(f"{name} for family {cls.name!r} takes keys {sorted(cls.keys())}, got {sorted(unknown)}")
        return dict(params)

    @classmethod
    def simulation(cls, params=None, dim: int | None = None) -> FamilySpec:
        """The simulator's view of the data distribution ``params`` (``data=`` of :func:`stability.simulate`)."""
        return cls.parse_params(cls.parse_dict(params))

    @classmethod
    def parse_params(cls, params: dict) -> FamilySpec:
        """The data distribution with the parameters ``params`` (keys :meth:`keys`, defaults filled)."""
        (key,) = cls.keys()
        return FamilySpec(cls, np.array([cls.check_param(key, params.get(key, cls.defaults[key]))]))

    @classmethod
    def check_param(cls, key: str, value) -> float:
        """A validated scalar parameter ``data[key]``, in its declared domain (:attr:`domains`)."""
        domain = cls.domains[key]
        if domain is DOMAINS["rate"]:  # a finite number > 0 (the message says finite)
            return positive(key, value)
        return float(check(f"data[{key!r}]", value, domain))

    @classmethod
    def params_from_mean(cls, eta: np.ndarray, shape: float) -> dict:
        """The parameters (a dict :meth:`parse_params` reads) of the mean parameter ``eta``."""
        (key,) = cls.keys()
        return {key: float(eta[0])}

    @classmethod
    def params_from_statistic(cls, fam: ExponentialFamily, mu: np.ndarray) -> dict:
        """The parameters of the fit whose expected statistic is ``mu`` (``fam``: the sized family)."""
        (key,) = cls.keys()
        return {key: float(mu[-1])}  # E[T] is (E[x],) for these families

    @staticmethod
    def sum_exact(rng: np.random.Generator, eta: np.ndarray, m, shape: float) -> np.ndarray:
        r""":math:`\sum_{i \le m} T(x_i)` drawn from its law, per chain (``m`` an int or (chains,))."""
        raise NotImplementedError("a simulated family must define sum_exact (the exact law of the summed statistic)")

    @staticmethod
    def sum_points(rng: np.random.Generator, e: np.ndarray, m: int, shape: float) -> np.ndarray:
        """Draw ``m`` points per row of ``e`` and return the sum of their statistics, (rows, p)."""
        raise NotImplementedError("a simulated family must define sum_points (the naive method's draw)")

    @staticmethod
    def floats_per_point(p: int) -> int:
        """Random floats drawn per point by :meth:`sum_points`."""
        return 1

    @staticmethod
    def free_parameters(p: int) -> int:
        """Free mean parameters among the ``p`` the simulator stores."""
        return p

    @staticmethod
    def sum_kl(eta_data: np.ndarray, eta: np.ndarray, shape: float) -> np.ndarray:
        r""":math:`KL(p_{\eta_{data}}\|p_\eta)` over the last axis; ``inf`` where support was lost."""
        raise NotImplementedError("a simulated family must define sum_kl (the KL of the data from a fit)")

    @staticmethod
    def variance_function(eta_mean: np.ndarray, eta_second: np.ndarray, shape: float) -> np.ndarray:
        r""":math:`E[V(\eta)]`, :math:`V(\eta) = \mathrm{Cov}_\eta T(x)`, from :math:`E\eta` and
        :math:`E\eta\eta^\top` (the variance function is at most quadratic in these families)."""
        raise NotImplementedError("a simulated family must define variance_function (for the moment recursions)")

    # ------------------------------------------------------------------ the torch hooks
    # (stability.numerical.models.FamilyModel): the log-density log h(x) + theta . T(x) - A(theta)
    # in these natural parameters, written with torch (imported by the caller: ``x`` and ``theta``
    # are float64 tensors, ``x`` of shape (N, 1)); outside the natural domain A is NaN.
    def torch_statistic(self, x) -> torch.Tensor:
        """:math:`T(x)` of torch points ``x`` (N, 1), shape (N, :attr:`dim`)."""
        raise NotImplementedError(f"family {self.name!r} has no torch model")

    def torch_log_partition(self, theta) -> torch.Tensor:
        """:math:`A(\\theta)` of a torch parameter vector (NaN outside the natural domain)."""
        raise NotImplementedError(f"family {self.name!r} has no torch model")

    def torch_log_base(self, x) -> torch.Tensor | None:
        """:math:`\\log h(x)` of torch points, or ``None`` for :math:`h = 1`."""
        return None

    def initial_theta(self, x: np.ndarray, w: np.ndarray) -> np.ndarray:
        """A starting point of the maximum-likelihood fit from points ``x`` (N, 1) with weights ``w``."""
        return self.reference_point()

    @staticmethod
    def edge(eta: np.ndarray) -> np.ndarray:
        """The mean parameters whose vanishing is the edge of the domain (collapse), last axis."""
        return eta
