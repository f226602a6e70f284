"""One entry point, :func:`analyze`: the paper's guarantee next to the exact behaviour.

A model plugs in by providing ``local_constants(data) -> LocalConstants`` (the best model
:math:`\\theta^*`, the matrices :math:`A` and :math:`B`, and the constants :math:`\\alpha, L,
\\varepsilon` with how each was obtained). :func:`build_report` turns those into a
:class:`StabilityReport` at a given :math:`\\lambda`: the Jacobian, the exact rate, its Euclidean
norm and the sharp and paper bounds evaluated at the same constants. Models are looked up by name
in :data:`MODELS` (filled by :func:`register_model`) or passed as objects.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from ._domains import check
from .bounds import bound, sharp_bound
from .errors import InputError
from .jacobian import analyze_jacobian
from .stationary import StationaryLaw, stationary

__all__ = ["MODELS", "LocalConstants", "StabilityModel", "StabilityReport", "analyze", "build_report", "register_model"]


@dataclass(frozen=True)
class LocalConstants:
    """What a model knows about itself near :math:`\\theta^*` for given data.

    ``L`` and ``eps`` are ``nan`` where they are not defined or not computed; ``details`` says how
    each quantity was obtained (closed form, quadrature, Monte Carlo, optimiser status, ...).
    """

    model: str
    theta_star: np.ndarray
    A: np.ndarray
    B: np.ndarray
    alpha: float
    L: float = math.nan
    eps: float = math.nan
    details: dict[str, Any] = field(default_factory=dict)
    # Optional well-conditioned coordinates (scale-invariant analysis): ``basis`` M maps standardised
    # parameters to these, theta = o + M theta_z, and ``A_std``, ``B_std`` are A and B in theta_z
    # (A = M^-T A_std M^-1). The Jacobian is then computed from (A_std, B_std) and mapped back, so
    # data far from the origin or at extreme scales do not lose the spectrum to rounding in A, B.
    basis: np.ndarray | None = None
    A_std: np.ndarray | None = None
    B_std: np.ndarray | None = None


class StabilityModel(Protocol):
    def local_constants(self, data) -> LocalConstants: ...


@dataclass(frozen=True)
class StabilityReport:
    """The exact local behaviour of retraining at :math:`\\theta^*` and the bounds that cover it.

    Ordering whenever the bounds are finite (docs/theory.md §4):
    ``rate_exact <= norm2 <= rate_sharp <= rate_paper``.
    """

    model: str
    lambda_: float
    theta_star: np.ndarray
    jacobian: np.ndarray
    gammas: np.ndarray
    rate_exact: float
    norm2: float
    norm_energy: float
    alpha: float
    L: float
    eps: float
    rate_sharp: float
    rate_paper: float
    A: np.ndarray
    B: np.ndarray
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # The likelihood is self-consistent (docs/theory.md §13): theta*_lambda is theta* for every lambda.
    @property
    def theta_hat(self) -> np.ndarray:
        """The λ = 0 fit: :math:`\theta^*` itself for the likelihood."""
        return self.theta_star

    @property
    def bias_loss(self) -> float:
        """Excess real-data loss of the fixed point over the λ = 0 fit: 0 for the likelihood."""
        return 0.0

    @property
    def self_consistency(self) -> float:
        r""":math:`\|H + M\|/\|H\|` with :math:`H = B`, :math:`M = -B`: 0 for the likelihood."""
        return 0.0

    def stationary(self, n: int, k: int | None = None) -> StationaryLaw:
        r"""First-order stationary law of finite-sample retraining at this report's :math:`A, B, \lambda`.

        :math:`C = V\,\mathrm{diag}(\lambda^2\gamma_i/(k(1+2\lambda\gamma_i)))V^\top` for a fixed real
        sample of size ``n`` and ``k`` synthetic points per round (default :math:`\lfloor\lambda n\rfloor`);
        see :func:`stability.stationary.stationary` (docs/theory.md §9). ``C`` is in the model's
        parametrisation (that of ``theta_star``); ``excess_loss`` does not depend on it.

        Examples
        --------
        >>> from scipy import stats
        >>> r = analyze("poisson", stats.poisson(3.0), 1.0)
        >>> law = r.stationary(100)
        >>> law.k, round(law.excess_loss * 100, 6)  # exponential family: d λ / (2 n (1 + 2λ)) = 1/600
        (100, 0.166667)
        """
        return stationary(self.A, self.B, self.lambda_, n, k=k)

    def __str__(self) -> str:
        def fmt(x):
            return f"{x:.6g}" if isinstance(x, float) else str(x)

        theta = np.array2string(np.asarray(self.theta_star), precision=5, separator=", ")
        rows = [
            ("model", self.model),
            ("lambda", fmt(self.lambda_)),
            ("theta*", theta),
            ("alpha (min eig A)", fmt(self.alpha)),
            ("L", fmt(self.L)),
            ("eps = W1(p_theta*, p_data)", fmt(self.eps)),
            ("gamma_max", fmt(float(self.gammas[-1]))),
            ("rate_exact", fmt(self.rate_exact)),
            ("||J||_2", fmt(self.norm2)),
            ("rate_sharp (Ferbach et al.)", fmt(self.rate_sharp)),
            ("rate_paper (Theorem 1)", fmt(self.rate_paper)),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:<{width}}  {v}" for k, v in rows]
        verdict = "contraction guaranteed" if self.rate_paper < 1 else "no guarantee"
        lines.append(f"{'Theorem 1':<{width}}  {verdict}; exact local rate {'<' if self.rate_exact < 1 else '>='} 1")
        return "\n".join(lines)

    def summary(self) -> str:
        """The table of :meth:`__str__` followed by how each constant was obtained (``details``)."""
        return "\n".join([str(self), *(f"  {key}: {value}" for key, value in self.details.items())])


def build_report(constants: LocalConstants, lambda_: float) -> StabilityReport:
    """Evaluate the Jacobian, the exact rate and both bounds at the model's constants."""
    lam = float(check("lambda_", lambda_))
    if constants.basis is None:
        jac = analyze_jacobian(constants.A, constants.B, lam)
        jacobian = jac.jacobian
    else:  # similarity: J = M J_z M^-1 has the spectrum and the energy norm of J_z
        jac = analyze_jacobian(constants.A_std, constants.B_std, lam)
        M = np.asarray(constants.basis, dtype=float)
        if np.array_equal(constants.A_std, constants.B_std) and math.isfinite(lam):
            # A = B (an exponential family): J = lambda/(1+lambda) I in every basis, exactly; the
            # similarity M J_z M^-1 would amplify the rounding of J_z by cond(M) (~ (mean/sd)^2 for
            # data far from 0: 1e12 + N(0, 1) gave ||J||_2 = 523 instead of 1/3)
            jacobian = lam / (1.0 + lam) * np.eye(M.shape[0])
        else:
            jacobian = M @ jac.jacobian @ np.linalg.inv(M)
    L, eps = constants.L, constants.eps
    if math.isnan(L) or math.isnan(eps):
        rate_sharp = rate_paper = math.nan
    else:
        rate_sharp = sharp_bound(lam, eps, constants.alpha, L)
        rate_paper = bound(lam, eps, constants.alpha, L)
    return StabilityReport(
        model=constants.model,
        lambda_=lam,
        theta_star=np.asarray(constants.theta_star, dtype=float),
        jacobian=jacobian,
        gammas=jac.gammas,
        rate_exact=jac.rate_exact,
        norm2=float(np.linalg.norm(jacobian, 2)),
        norm_energy=jac.norm_energy,
        alpha=float(constants.alpha),
        L=float(L),
        eps=float(eps),
        rate_sharp=float(rate_sharp),
        rate_paper=float(rate_paper),
        A=np.asarray(constants.A, dtype=float),
        B=np.asarray(constants.B, dtype=float),
        details=dict(constants.details),
    )


# name -> factory(**options) returning an object with ``local_constants(data)``
MODELS: dict[str, Callable[..., StabilityModel]] = {}


def register_model(name: str, factory: Callable[..., StabilityModel]) -> None:
    """Make ``analyze(name, ...)`` build the model with ``factory()``."""
    MODELS[name] = factory


def analyze(model: str | StabilityModel, data: Any, lambda_: float, **options: Any) -> StabilityReport:
    """Analyse retraining of ``model`` on ``data`` at ratio ``lambda_``.

    ``model`` is a registered name (see :data:`MODELS`) or an object with
    ``local_constants(data)``; ``options`` go to the named model's factory. A model fitted by any
    loss (:class:`stability.numerical.LossModel`, docs/theory.md §13) has ``loss_report(data,
    lambda_, **options)`` instead and returns a :class:`~stability.numerical.losses.LossReport`
    (options ``n_noise``, ``seed``, ``synthetic_weight``, ``gtol``, ``max_iter``).
    """
    check("lambda_", lambda_)  # before any (possibly long) fit
    if isinstance(model, str):
        if model not in MODELS:
            names = ", ".join(sorted(MODELS)) or "(none registered)"
            raise InputError(f"model must be one of {names}, got {model!r}")
        factory = MODELS[model]
        accepted = getattr(factory, "options", None)
        if accepted is not None and set(options) - set(accepted):
            bad = sorted(set(options) - set(accepted))
            raise InputError(f"model {model!r} does not take option(s) {bad} (it takes {', '.join(sorted(accepted))})")
        try:
            model = factory(**options)
        except TypeError as err:  # a user factory with another signature
            raise InputError(f"options {sorted(options)} are not accepted by model {model!r}: {err}") from None
    elif hasattr(model, "loss_report"):  # a model fitted by any loss (docs/theory.md §13): LossModel
        accepted = getattr(model, "loss_options", None)
        if accepted is not None and set(options) - set(accepted):
            bad = sorted(set(options) - set(accepted))
            raise InputError(f"a loss model does not take option(s) {bad} (it takes {', '.join(sorted(accepted))})")
        return model.loss_report(data, lambda_, **options)
    elif options:
        raise InputError(f"options {sorted(options)} are only accepted with a model name or a loss model")
    if not hasattr(model, "local_constants"):
        raise InputError(f"model must be a name or have a local_constants(data) method, got {type(model).__name__}")
    return build_report(model.local_constants(data), lambda_)
