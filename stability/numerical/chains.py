r"""Finite-sample retraining of any likelihood model, many chains at once (docs/theory.md §9).

One real sample :math:`x_1..x_n` is fixed; :math:`\theta^*` is its maximum-likelihood estimate
(fitted first with the library's optimiser, :func:`~stability.numerical.operator.maximize`). Every
chain starts at ``theta0`` (default :math:`\theta^*`) and each generation

1. draws :math:`k = \lfloor\lambda n\rfloor` fresh points :math:`y_1..y_k` from :math:`p_{\theta_t}`
   with the model's exact sampler (``model.sample``),
2. refits, warm-started at :math:`\theta_t`, to a local maximum of the mixed objective

   .. math:: F_t(\theta) = \frac{1}{1+\lambda}\Big(\frac1n\sum_{i=1}^n \log p_\theta(x_i)
             + \lambda\,\frac1k\sum_{j=1}^k \log p_\theta(y_j)\Big),

   the finite-sample form of :math:`G_\lambda` in :mod:`.operator` (same weights, same factor
   :math:`1/(1+\lambda)`, so the same gradient tolerance). With :math:`k = \lambda n` exactly it is
   the pooled maximum likelihood over all :math:`n + k` points (Bertrand et al. 2024, §3). With a
   ``synthetic_weight`` :math:`w` (docs/theory.md §10) the objective is
   :math:`(1-w)\frac1n\sum_i\log p_\theta(x_i) + w\frac1k\sum_j\log p_\theta(y_j)`; the default is
   :math:`w = \lambda/(1+\lambda)` (the objective above).

   With ``prior_precision`` :math:`\beta > 0` the real-data term is penalised,
   :math:`\frac1n\sum_i\log p_\theta(x_i) - \frac\beta2\|\theta\|^2` (a Gaussian prior
   :math:`N(0, (n\beta)^{-1}I)` on the real sample's likelihood; the synthetic term is not
   penalised). :math:`\theta^*` is then the penalised maximum, still the fixed point of the expected
   map, and the first-order law of :func:`stability.stationary` holds with :math:`A + \beta I` in
   place of A (B unchanged). Needed where the likelihood has no finite maximum (a tanh-conditioned
   flow on moons, the smooth-flow study ``studies/smooth_flow.py``).

To first order around :math:`\theta^*` the chains then follow the stationary law of
:func:`stability.stationary` (covariance :math:`C`, excess loss :math:`\tfrac12\operatorname{tr}(AC)`);
:func:`check_stationary` compares the two and adds the radius of Theorem 2 in the same units.

**Vectorised over chains.** The refit is Newton's method with the eigenvalue-modified Hessian
(negative curvature flipped, Nocedal & Wright 2006, §3.4) and Armijo backtracking, as
:func:`~stability.numerical.operator.maximize`, but run for all chains at once: value, gradient and
Hessian of every chain's objective come from one ``torch.func.vmap`` over the stacked parameters
of ``jacrev`` of ``grad_and_value`` (the real sample is shared, each chain has its own synthetic
points), in chunks of chains that bound memory; the line search halves the step of the chains
whose trial point failed the Armijo test and re-evaluates only those. Chains that reached the
tolerance leave the active set. There is no Python loop over chains (except for drawing from a
user sampler that does not declare ``batched_sample``).

**Reproducibility.** ``seed`` seeds one ``torch.Generator``; generation ``t`` draws
``model.sample(theta_t, k, generator)`` with ``theta_t`` of shape (chains, d) (a sampler without
``batched_sample``: one call per chain, in chain order). Same seed, same numbers.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from .. import retraining
from .._domains import Interval, check, check_scalar
from .._domains import count as _count
from ..errors import check_memory
from ..schemes import Scheme, as_scheme, names_where
from ..weights import check_synthetic_weight
from .expectations import _samples, as_generator, fisher_diagonal
from .objectives import CHUNK_NUMBERS, MixedObjective
from .operator import GTOL, ConvergenceError, OptimResult, maximize
from .optim import DTYPE, batched_newton

__all__ = [
    "BURN_IN_DEFICIT",
    "CHUNK_NUMBERS",
    "ChainsResult",
    "LossChainsResult",
    "ObservedStationary",
    "StationaryCheck",
    "Theorem2Radius",
    "check_stationary",
    "default_burn_in",
    "retrain_chains",
    "retrain_loss_chains",
    "theorem2_radius",
]

MAX_NEWTON = 50  # Newton iterations per refit; from a warm start 2-5 are typical
# Burn-in of check_stationary: chains start at theta*, where the error covariance is 0; it approaches
# C like rho^(2t) (rho = rate_exact), so after b generations with rho^(2b) <= BURN_IN_DEFICIT the
# remaining deficit is below 1e-3 of C.
BURN_IN_DEFICIT = 1e-3
_POSITIVE = Interval(0.0, low_closed=False)
_NONNEGATIVE = Interval(0.0)  # finite: inf is excluded


@dataclass(frozen=True)
class ObservedStationary:
    r"""Stationary statistics of simulated chains, pooled over chains and generations ``t >= burn_in``.

    ``excess_loss``: mean excess NLL on the real sample; ``cov``: :math:`E[(\theta_t-\theta^*)
    (\theta_t-\theta^*)^\top]` (second moment about :math:`\theta^*`, the quantity :math:`C`
    predicts; the mean error is of second order). Standard errors from the spread of the per-chain
    time averages: chains are independent, so ``sd(chain averages)/sqrt(chains)`` accounts for the
    autocorrelation within chains without modelling it.
    """

    burn_in: int
    samples: int
    excess_loss: float
    excess_loss_se: float
    cov: np.ndarray
    cov_se: np.ndarray


@dataclass(frozen=True, eq=False)
class ChainsResult:
    r"""Chains of finite-sample retraining (see the module docstring).

    Attributes
    ----------
    theta : array (generations + 1, chains, d), :math:`\theta_t` of every chain.
    theta_star : array (d,), the maximum-likelihood estimate of the real sample.
    excess_nll : array (generations + 1, chains),
        :math:`\frac1n\sum_i[\log p_{\theta^*}(x_i) - \log p_{\theta_t}(x_i)] \ge 0` (with
        ``prior_precision`` :math:`\beta > 0`, plus :math:`\frac\beta2(\|\theta_t\|^2 - \|\theta^*\|^2)`:
        the excess of the penalised real-data term).
    grad_norm : array (generations, chains), :math:`\|\nabla F_t\|_\infty` at the refit
        :math:`\theta_{t+1}` (the tolerance reached).
    iterations : int array (generations, chains), Newton iterations of each refit.
    converged : bool array (generations, chains), ``grad_norm <= gtol``.
    fit : the :class:`~stability.numerical.operator.OptimResult` of the fit of :math:`\theta^*`.
    prior_precision : :math:`\beta` of the penalised real-data term (0: none).
    scheme : the mixing scheme run (:mod:`stability.schemes`); ``real_fraction``: its :math:`a` (fraction
        schemes). ``k``: synthetic points per round; ``lambda_``: ``inf`` under ``replace``, the implied
        :math:`k/n_r` under a fraction scheme.
    """

    model: str
    lambda_: float
    n: int
    k: int
    gtol: float
    theta: np.ndarray
    theta_star: np.ndarray
    excess_nll: np.ndarray
    grad_norm: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    fit: OptimResult
    synthetic_weight: float | None = None
    prior_precision: float = 0.0
    correction: float = 0.0
    scheme: str = "fixed-real"
    real_fraction: float | None = None

    @property
    def generations(self) -> int:
        return self.theta.shape[0] - 1

    @property
    def chains(self) -> int:
        return self.theta.shape[1]

    @property
    def max_grad_norm(self) -> np.ndarray:
        """Largest final gradient norm over chains, per generation (generations,)."""
        return self.grad_norm.max(axis=1) if self.generations else np.zeros(0)

    def raise_if_failed(self) -> ChainsResult:
        """Raise :class:`ConvergenceError` if any refit stopped above the gradient tolerance."""
        if not self.converged.all():
            bad = int((~self.converged).sum())
            t, c = np.argwhere(~self.converged)[0]
            raise ConvergenceError(
                f"{bad} of {self.converged.size} refits did not reach |grad|_inf <= {self.gtol:g} (first: "
                f"generation {t + 1}, chain {c}, |grad|_inf = {self.grad_norm[t, c]:.3g} after "
                f"{self.iterations[t, c]} Newton iterations)"
            )
        return self

    def observed(self, burn_in: int) -> ObservedStationary:
        """Stationary statistics over generations ``burn_in..generations`` (see :class:`ObservedStationary`)."""
        b = int(check("burn_in", burn_in, Interval(0.0, integer=True)))
        if b > self.generations:
            raise ValueError(f"burn_in must be <= generations = {self.generations}, got {b}")
        e = self.theta[b:] - self.theta_star  # (T, C, d)
        T, C = e.shape[:2]
        loss = self.excess_nll[b:].mean(axis=0)  # per-chain time averages
        prod = np.einsum("tci,tcj->cij", e, e) / T
        se = (lambda x: x.std(axis=0, ddof=1) / math.sqrt(C)) if C > 1 else (lambda x: np.full(x.shape[1:], np.nan))
        return ObservedStationary(
            burn_in=b,
            samples=T * C,
            excess_loss=float(loss.mean()),
            excess_loss_se=float(se(loss[:, None])[0]),
            cov=prod.mean(axis=0),
            cov_se=se(prod),
        )


def _resolve_model(model):
    if isinstance(model, str):
        from . import BUILTIN_MODELS

        if model not in BUILTIN_MODELS:
            raise ValueError(
                f"model must be one of {', '.join(map(repr, BUILTIN_MODELS))} or a model object, got {model!r}"
            )
        return BUILTIN_MODELS[model]()()
    for attr in ("log_prob", "n_params", "initial_theta"):
        if not hasattr(model, attr):
            raise ValueError(f"model must have log_prob, n_params and initial_theta lacks {attr}")
    if getattr(model, "smooth", True) is False:
        raise ValueError(
            f"model {model!r} has a log-density that is not twice differentiable in theta (smooth = False): "
            "the Newton refits of retrain_chains need its Hessian"
        )
    if not callable(getattr(model, "sample", None)):
        raise ValueError(
            f"model {model!r} has no exact sampler: retrain_chains draws synthetic points with "
            "model.sample(theta, n, generator); give FunctionModel(..., sample=...)"
        )
    return model


def _draw(model, theta: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
    """k points from p_theta for every row of theta (C, d): (C, k, data_dim)."""
    C = theta.shape[0]
    dim = model.data_dim
    if getattr(model, "batched_sample", False):
        y = model.sample(theta, k, generator)
    else:  # a user sampler for one parameter vector: one call per chain (the refits stay batched)
        y = torch.stack([torch.as_tensor(model.sample(th, k, generator)) for th in theta])
    y = torch.as_tensor(y, dtype=DTYPE)
    if y.shape != (C, k, dim):
        raise ValueError(
            f"model.sample must return shape ({k}, {dim}) per parameter vector, here {(C, k, dim)}, "
            f"got {tuple(y.shape)}"
        )
    return y


def _fit_theta_star(model, x: torch.Tensor, beta: float = 0.0) -> OptimResult:
    """The MLE of the real sample, exactly as Retraining fits theta* (same objective, start and optimiser);
    with ``beta > 0`` the maximum of the penalised real-data term (the diagonal preconditioner gets + beta)."""
    n = x.shape[0]
    w = torch.full((n,), 1.0 / n, dtype=DTYPE)
    x0 = np.asarray(model.initial_theta(x.numpy(), w.numpy()), dtype=float)
    if x0.shape != (model.n_params,):
        raise ValueError(f"model.initial_theta must return shape ({model.n_params},), got {x0.shape}")
    if beta:
        fit = maximize(
            lambda th: (w * model.log_prob(th, x)).sum() - 0.5 * beta * (th * th).sum(),
            x0,
            diagonal=lambda th: fisher_diagonal(model, x, w, th) + beta,
        )
        return fit.raise_if_failed(f"penalised maximum-likelihood fit of theta* (prior_precision = {beta:g})")
    fit = maximize(
        lambda th: (w * model.log_prob(th, x)).sum(), x0, diagonal=lambda th: fisher_diagonal(model, x, w, th)
    )
    return fit.raise_if_failed("maximum-likelihood fit of theta* to the real sample")


# theta* maximises the real-data term, so no chain may beat it there: an excess below -tol (nats per
# point) means the fit of theta* stopped at a saddle or a lower local maximum (a mixture's likelihood
# is multimodal). tol = 1e-8 (1 + |l*|): far above the rounding of a mean of n log-densities and the
# gain ~ g^2 / (2 lambda_min) left by a fit converged to gradient g ~ 1e-6, far below a real miss.
THETA_STAR_TOL = 1e-8


def _check_theta_star(excess, ref: float, allow_failure: bool) -> None:
    worst = float(excess.min()) if excess.size else 0.0
    tol = THETA_STAR_TOL * (1.0 + abs(ref))
    if worst < -tol:
        msg = (
            f"theta* is not the maximum of the real-data likelihood: a chain reached a mean log-likelihood "
            f"{-worst:.3g} nats per point above it (tolerance {tol:.2g}), so the excess NLL is negative and "
            "meaningless; the fit of theta* stopped at a saddle point or a lower local maximum (multimodal "
            "likelihood, e.g. a mixture on unimodal data): use a model identifiable on these data"
        )
        if not allow_failure:
            raise ConvergenceError(msg)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)


def retrain_chains(
    model: object | str,
    real_sample: ArrayLike,
    lambda_: float | None,
    *,
    generations: int,
    chains: int,
    seed: int | np.random.Generator | torch.Generator = 0,
    k: int | None = None,
    theta0: ArrayLike | None = None,
    gtol: float = GTOL,
    max_iter: int = MAX_NEWTON,
    allow_failure: bool = False,
    synthetic_weight: float | None = None,
    prior_precision: float = 0.0,
    correction: float = 0.0,
    n_noise: int | None = None,
    scheme: str | Scheme = "fixed-real",
    real_fraction: float | None = None,
) -> ChainsResult:
    r"""Run ``chains`` independent chains of finite-sample retraining for ``generations`` rounds.

    Parameters
    ----------
    model : a model of :mod:`stability.numerical.models` (or its registered name, e.g.
        ``"student-t"``) with a twice-differentiable log-density and an exact sampler
        ``sample(theta, n, generator)``; or a :class:`~stability.numerical.losses.LossModel`
        (any training loss, docs/theory.md §13): then the refits minimise its loss and the chains
        start at :math:`\theta^*_\lambda` (:func:`retrain_loss_chains`; ``n_noise``: the bank of its
        analysis; ``theta0`` and ``prior_precision`` are not options then).
    real_sample : array (n,) or (n, data_dim), the fixed real sample, ``n >= 2``.
    lambda_ : ``>= 0`` and finite, the synthetic-to-real ratio (the weight of the synthetic term);
        ``None`` or any value under ``replace`` and the fraction schemes, which do not use it.
    generations : integer ``>= 0``; chains : integer ``>= 1``.
    seed : int, numpy or torch Generator. Same seed, same numbers.
    k : integer ``>= 1``, synthetic points per round; default
        :func:`~stability.schemes.synthetic_count` (:math:`\lfloor\lambda n\rfloor`).
    theta0 : (d,) or (chains, d), the start of the chains; default :math:`\theta^*`.
    gtol : ``> 0``, the refits stop at :math:`\|\nabla F_t\|_\infty \le` ``gtol``.
    max_iter : Newton iterations per refit, integer ``>= 1``.
    allow_failure : if False (default), raise :class:`~stability.numerical.operator.ConvergenceError`
        when a refit does not reach ``gtol``, or when a chain beats :math:`\theta^*` on the real-data
        term (then :math:`\theta^*` is not its maximum: :data:`THETA_STAR_TOL`); if True, record a
        failed refit in ``converged`` and go on from the last iterate, and only warn about
        :math:`\theta^*`.
    synthetic_weight : in [0, 1), the weight :math:`w` of the synthetic term: the objective is
        :math:`(1-w)` (mean over the real points) :math:`+\,w` (mean over the synthetic points)
        (docs/theory.md §10); default ``None``: :math:`w = \lambda/(1+\lambda)`. 1 is an error
        (no real data, as ``lambda_ = inf``); above 0 needs ``k >= 1``.
    prior_precision : ``>= 0`` and finite, :math:`\beta`: the real-data term becomes
        :math:`\frac1n\sum_i\log p_\theta(x_i) - \frac\beta2\|\theta\|^2` (module docstring), in the
        fit of :math:`\theta^*`, in every refit and in ``excess_nll``; the stationary law is then that
        of :math:`(A + \beta I, B)`. Default 0: plain maximum likelihood.
    correction : ``>= 0`` and finite, :math:`\gamma`: self-correction (docs/theory.md §14). Each
        synthetic point is replaced, independently with probability :math:`\gamma/(1+\gamma)`, by a
        draw from :math:`p_{\theta^*}`, the model at its fit to the real sample (the idealised
        corrector's target: a draw of the fitted model, not a resample of the real points, so the
        law is :func:`stability.stationary` with ``correction``). Default 0: no corrector.
    scheme : a name of :data:`stability.schemes.SCHEMES` or a :class:`~stability.schemes.Scheme`
        (default ``"fixed-real"``): the chains run through :func:`stability.retraining.run`, as
        :func:`stability.simulate`'s. Fresh real data (``fresh-real``, ``fresh-fraction``) are drawn
        from :math:`p_{\theta^*}`, the model at its fit to the real sample, the data distribution of this
        process (docs/theory.md §9); ``replace`` fits ``n`` synthetic points a round; ``accumulate``
        keeps the real sample and every synthetic batch; ``accumulate-subsample`` fits ``n`` points of
        that pool drawn without replacement. The excess NLL is measured on the real sample under every
        scheme. ``synthetic_weight`` where the scheme is :attr:`~stability.schemes.Scheme.weighted`
        (default: the objective weights above under ``fixed-real`` / ``fresh-real``, the pooled
        points' natural share under ``accumulate``); ``prior_precision`` where every round fits the
        whole fixed sample (``fixed-real``, ``accumulate``).
    real_fraction : the real share :math:`a` of a fraction scheme (``fresh-fraction``), as :func:`stability.simulate`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).standard_normal(200)
    >>> r = retrain_chains("student-t", x, 1.0, generations=3, chains=4, seed=0)
    >>> r.theta.shape, r.k, bool(r.converged.all()), bool(r.max_grad_norm.max() <= r.gtol)
    ((4, 4, 2), 200, True, True)
    >>> bool((r.excess_nll >= 0).all()), float(r.excess_nll[0, 0])  # chains start at theta*
    (True, 0.0)
    """
    from .losses import LossModel

    if isinstance(model, LossModel):  # a model fitted by any loss (docs/theory.md §13)
        if prior_precision or theta0 is not None or correction:
            raise ValueError(
                "prior_precision, theta0 and correction are not options of a loss model's chains "
                "(they start at theta*_lambda; self-correction is implemented for likelihood models)"
            )
        if not _fixed_sample_mix(as_scheme(scheme, real_fraction=real_fraction)):
            raise ValueError(
                f"scheme must be one of {', '.join(map(repr, names_where(_fixed_sample_mix)))} for a loss model's "
                f"chains (a fixed real sample and k synthetic points per round), got {as_scheme(scheme).name!r}"
            )
        return retrain_loss_chains(
            model, real_sample, lambda_, generations=generations, chains=chains, seed=seed, k=k, gtol=gtol,
            max_iter=max_iter, allow_failure=allow_failure, synthetic_weight=synthetic_weight, n_noise=n_noise,
        )  # fmt: skip
    model = _resolve_model(model)
    x = torch.as_tensor(_samples(real_sample), dtype=DTYPE)
    n, dim = x.shape
    if dim != model.data_dim:
        raise ValueError(f"real_sample must have dimension {model.data_dim} (the model's data_dim), got {dim}")
    declared = as_scheme(scheme, real_fraction=real_fraction)
    lam = None if lambda_ is None else float(check("lambda_", lambda_))
    if lam is not None and math.isinf(lam) and not declared.synthetic_only:
        raise ValueError(
            "lambda_ must be finite, got inf: purely synthetic retraining is scheme 'replace' (pass scheme='replace'); "
            f"scheme {declared.name!r} mixes the real data in"
        )
    run = declared.resolve(0.0 if lam is None and declared.synthetic_only else lam)
    G = int(check("generations", generations))
    C = int(check("chains", chains))
    uses_lambda = not (run.synthetic_only or run.fraction)
    if k is not None and not uses_lambda:
        raise ValueError(
            f"k must be None under scheme {run.name!r} (it draws {run.synthetic(n, lam)} points per round)"
        )
    k_int = run.synthetic(n, lam) if k is None else _count("k", k)
    if uses_lambda and lam > 0 and k_int < 1:
        raise ValueError(
            f"k must be >= 1 (synthetic points per round), got k = floor(lambda_ * n) = {k_int} for lambda_ = "
            f"{lam:g}, n = {n}; pass k explicitly or use lambda_ = 0"
        )
    if synthetic_weight is not None and not run.synthetic_only:
        from ..stationary import _weight_ratio

        _weight_ratio(lam, k_int, synthetic_weight, "retrain_chains")  # in [0, 1), > 0 only if k >= 1
    weight = check_synthetic_weight(synthetic_weight, run, k_int)
    synthetic_weight = weight
    if weight is None and run.lambda_mixing and k_int != lam * n:
        weight = lam / (1.0 + lam)  # the objective's documented default weights, 1/(1+lambda), lambda/(1+lambda)
    gtol = float(check("gtol", gtol, _POSITIVE))
    max_iter = _count("max_iter", max_iter)
    beta = check_scalar("prior_precision", prior_precision, _NONNEGATIVE)
    if beta and not (run.keeps_real and not run.subsample):
        raise ValueError(
            f"prior_precision must be 0 under scheme {run.name!r}: the penalty is on the fixed real sample's term, "
            f"which a round fits whole only under {', '.join(map(repr, names_where(_whole_real)))}"
        )
    from .._corrector import check_correction, replaced_probability

    gamma_c = check_correction(correction, run, "")
    gen = as_generator(seed)
    d = model.n_params
    # the trajectory (G + 1) C d, the records 3 G C, and per Newton step the draws, per-point
    # gradients and Hessian products of every chain: ~4 C N max(dim, d) + 4 C d^2 numbers, N the
    # points of the last round's training set (n + k under fixed-real)
    N = run.pool_size(n, k_int, max(G - 1, 0))
    check_memory(
        8.0 * ((G + 1) * C * d + 3 * G * C + 4 * C * N * max(dim, d) + 4 * C * d * d),
        f"retrain_chains with chains={C}, generations={G}, {N} points of {d} parameters in a training set",
        "lower chains, generations or lambda_",
    )
    fit = _fit_theta_star(model, x, beta)
    th_star = torch.as_tensor(fit.theta, dtype=DTYPE)
    if theta0 is None:
        start = th_star.expand(C, d).clone()
    else:
        t0 = np.asarray(theta0, dtype=float)
        if t0.shape not in ((d,), (C, d)) or not np.all(np.isfinite(t0)):
            raise ValueError(f"theta0 must be finite with shape ({d},) or ({C}, {d}), got shape {t0.shape}")
        start = torch.as_tensor(np.broadcast_to(t0, (C, d)).copy(), dtype=DTYPE)
    kernel = _ChainsKernel(model, x, th_star, start, G, run, gtol, max_iter, beta, replaced_probability(gamma_c))
    retraining.run(kernel, run, gen, n, k_int, G, weight=weight)
    theta = kernel.theta
    ref = kernel.real_value(th_star[None])[0]
    excess = (ref - kernel.real_value(theta.reshape(-1, d))).reshape(G + 1, C)
    _check_theta_star(excess, float(ref), allow_failure)
    result = ChainsResult(
        model=repr(model),
        lambda_=math.inf if run.synthetic_only else (k_int / run.real_size(n) if run.fraction else lam),
        n=n,
        k=k_int,
        gtol=gtol,
        theta=theta.numpy(),
        theta_star=fit.theta,
        excess_nll=excess.numpy(),
        grad_norm=kernel.grad_norm.numpy(),
        iterations=kernel.iterations.numpy(),
        converged=kernel.converged.numpy(),
        fit=fit,
        synthetic_weight=None if synthetic_weight is None else float(synthetic_weight),
        prior_precision=beta,
        correction=gamma_c,
        scheme=run.name,
        real_fraction=run.real_fraction,
    )
    return result if allow_failure else result.raise_if_failed()


def _fixed_sample_mix(s) -> bool:
    """One fixed real sample and ``k`` synthetic points a round: what the loss chains
    (:func:`retrain_loss_chains`) run and what the law of :func:`stability.stationary` describes."""
    return s.keeps_real and s.lambda_mixing


def _whole_real(s) -> bool:
    """Every round fits the whole fixed real sample (where ``prior_precision`` penalises its term)."""
    return s.keeps_real and not s.subsample


class _ChainsKernel:
    r"""The torch likelihood chains as a kernel of :func:`stability.retraining.run`; its fit is the batched refit.

    Data: ``(N, a, y, u)``: total weight ``N``; weight ``a`` of the fixed real sample ``x`` (shared by
    every chain, each of its ``n`` points weighing ``a/n``; 0 when absent); per-chain points ``y``
    (C, m, data_dim) with per-point weights ``u`` (m,). The fixed real sample is ``x`` itself (no
    draw); fresh real data (``real="fresh"``) are ``m`` points of :math:`p_{\theta^*}` per chain, the
    model at its fit to the real sample, which this process takes as its data distribution
    (docs/theory.md §9; as the corrector's target). A synthetic batch: ``model.sample`` at
    :math:`\theta_t`, each point replaced by a draw of :math:`p_{\theta^*}` with probability ``p_corr``
    (self-correction, docs/theory.md §14). The fit of generation :math:`t+1` maximises
    :math:`\frac1N[\frac an\sum_i v(\theta, x_i) + \sum_j u_j v(\theta, y_j)]` (with ``prior_precision``
    :math:`\beta`: :math:`-\frac aN\frac\beta2\|\theta\|^2`, the penalised real-data term), warm-started at
    :math:`\theta_t`, by :func:`~stability.numerical.optim.batched_newton`. Subsampling: ``m`` points of
    each chain's pool (the fixed sample's points and its own) drawn uniformly without replacement
    (the ``m`` smallest of uniform keys).
    """

    def __init__(self, model, x, th_star, start, G, scheme, gtol, max_iter, beta, p_corr):
        C, d = start.shape
        self.model, self.x, self.th_star, self.scheme = model, x, th_star, scheme
        self.gtol, self.max_iter, self.beta, self.p_corr = gtol, max_iter, beta, p_corr
        self.theta = torch.empty(G + 1, C, d, dtype=DTYPE)
        self.theta[0] = start
        self.grad_norm = torch.empty(G, C, dtype=DTYPE)
        self.iterations = torch.empty(G, C, dtype=torch.long)
        self.converged = torch.empty(G, C, dtype=torch.bool)
        self.real_value = _RoundObjective(model.log_prob, d, x, 1.0, None, beta).data_mean
        self._objectives = {}

    def _points(self, m):
        return torch.ones(m, dtype=DTYPE)

    def real(self, gen, m):
        if self.scheme.redraws_real:
            C, d = self.theta.shape[1:]
            return float(m), 0.0, _draw(self.model, self.th_star.expand(C, d), m, gen), self._points(m)
        return float(self.x.shape[0]), float(self.x.shape[0]), None, None

    def synthetic(self, gen, t, m):
        y = _draw(self.model, self.theta[t], m, gen)
        if self.p_corr > 0.0:  # each point replaced by a draw of p_theta* w.p. gamma/(1+gamma)
            C, d = self.theta.shape[1:]
            y_target = _draw(self.model, self.th_star.expand(C, d), m, gen)
            use = torch.rand((C, m), generator=gen, dtype=DTYPE) < self.p_corr
            y = torch.where(use[:, :, None], y_target, y)
        return float(m), 0.0, y, self._points(m)

    @staticmethod
    def join(a, b):
        (Na, aa, ya, ua), (Nb, ab, yb, ub) = a, b
        if ya is None:
            return Na + Nb, aa + ab, yb, ub
        if yb is None:
            return Na + Nb, aa + ab, ya, ua
        return Na + Nb, aa + ab, torch.cat([ya, yb], dim=1), torch.cat([ua, ub])

    @staticmethod
    def scale(a, c):
        N, w, y, u = a
        return N * c, w * c, y, None if u is None else u * c

    def subsample(self, gen, data, m):
        N, a, y, u = data
        C = self.theta.shape[1]
        pool = y
        if a:
            shared = self.x.expand(C, *self.x.shape)
            pool = shared if y is None else torch.cat([shared, y], dim=1)
        keys = torch.rand(pool.shape[:2], generator=gen, dtype=DTYPE)
        idx = torch.topk(keys, m, dim=1, largest=False).indices
        return float(m), 0.0, torch.gather(pool, 1, idx[:, :, None].expand(C, m, pool.shape[2])), self._points(m)

    def fit(self, t, data):
        N, a, y, u = data
        C = self.theta.shape[1]
        if y is None:
            y, u = torch.empty(C, 0, self.x.shape[1], dtype=DTYPE), torch.empty(0, dtype=DTYPE)
        key = (a / N, y.shape[1], tuple(u.tolist()) if u.unique().numel() > 1 else float(u[0]) if len(u) else 0.0)
        obj = self._objectives.get(key)
        if obj is None:  # one objective per distinct set of weights (one in all under fixed-real)
            obj = self._objectives[key] = _RoundObjective(
                self.model.log_prob, self.theta.shape[2], self.x if a else None, a / N, u / N, self.beta
            )
        self.theta[t], self.grad_norm[t - 1], self.iterations[t - 1], self.converged[t - 1] = batched_newton(
            obj, self.theta[t - 1], y, self.gtol, self.max_iter
        )

    @staticmethod
    def real_fit(data):
        return data


class _RoundObjective(MixedObjective):
    r"""Value, gradient and Hessian of one round's objective for every chain, vectorised in chunks.

    :math:`f(\theta, y) = a\,(\frac1n\sum_i v(\theta, x_i) - \frac\beta2\|\theta\|^2) + \sum_j u_j v(\theta, y_j)`,
    ``x`` (n, data_dim) shared by every chain (``None``: no shared term), ``y`` (C, m, data_dim) each
    chain's points, ``u`` (m,) their weights (``None``: no per-chain points). As
    :class:`~stability.numerical.objectives.MixedObjective` (whose real and synthetic terms are the
    special case ``u = b/k``), with per-point weights.
    """

    def __init__(self, point_value, d: int, x, a: float, u, prior_precision: float = 0.0):
        n = 0 if x is None else x.shape[0]
        m = 0 if u is None else u.shape[0]
        w = None if x is None else torch.full((n,), 1.0 / n, dtype=DTYPE)  # the weights of Expectations.data_mean
        beta = float(prior_precision)
        shared = x is not None and a > 0
        synth = m > 0 and bool((u > 0).any())

        def real(th):  # the (penalised) real-data term: the excess loss is measured on it
            v = (w * point_value(th, x)).sum()
            return v - 0.5 * beta * (th * th).sum() if beta else v

        def f(th, y):
            if not synth:
                return a * real(th)
            v = (u * point_value(th, y)).sum()
            return a * real(th) + v if shared else v

        def g_aux(th, y):
            g, v = torch.func.grad_and_value(f)(th, y)
            return g, (g, v)

        self._all = torch.func.vmap(torch.func.jacrev(g_aux, has_aux=True), in_dims=(0, 0))
        self._value = None if x is None else torch.func.vmap(real)
        self.chunk = max(1, CHUNK_NUMBERS // ((n + m) * (d + 1)))
        self.chunk_value = max(1, CHUNK_NUMBERS // max(n, 1))


@dataclass(frozen=True)
class Theorem2Radius:
    r"""Theorem 2's radius of stability for finite-sample retraining, with the one-step error to first order.

    ``stat_err``: the A4 term, the :math:`1-\delta` quantile of :math:`\|\xi\|`,
    :math:`\xi \sim N(0, Q)`; ``rho``: :math:`\rho_{paper}(\lambda, \varepsilon)`; ``radius``:
    :math:`e/(1-\rho)` (``inf`` where :math:`\rho \ge 1`); ``excess_loss``: the radius in excess-NLL
    units, :math:`\tfrac12\lambda_{max}(A)\,r^2` (the largest second-order excess NLL on the ball of
    radius r, which is what the theorem then guarantees).
    """

    lambda_: float
    delta: float
    rho: float
    stat_err: float
    radius: float
    excess_loss: float


def theorem2_radius(
    A: ArrayLike,
    B: ArrayLike,
    lambda_: float,
    n: int,
    *,
    eps: float,
    alpha: float,
    L: float,
    k: int | None = None,
    delta: float = 0.05,
    seed: int = 0,
    n_mc: int = 2**20,
) -> Theorem2Radius:
    r"""Radius of stability of Theorem 2 (Bertrand et al. 2024; docs/theory.md §5) for finite-sample retraining.

    The real sample is the data distribution of this process (docs/theory.md §9), so
    :math:`G^n_\lambda - G_\lambda` is only the synthetic-sampling error; to first order
    :math:`\xi = (A+\lambda B)^{-1}\lambda\frac1k\sum_j\nabla\log p_{\theta^*}(y_j)
    \sim N(0, Q)`, :math:`Q = (\lambda^2/k)(A+\lambda B)^{-1}B(A+\lambda B)^{-1}`. The A4 term at
    level :math:`\delta` is the :math:`1-\delta` quantile of :math:`\|\xi\|` (a weighted
    :math:`\chi^2`, by Monte Carlo: ``n_mc`` draws with ``seed``, relative error about
    :math:`10^{-3}` for the default), :math:`\varepsilon_{OPT} = 0` (refits to ``gtol``), and the
    radius is :func:`stability.bounds.finite_sample_bound` at :math:`t = \infty` with
    :math:`\rho_{paper}(\lambda, \varepsilon, \alpha, L)`.

    Parameters
    ----------
    A, B : (d, d), the curvatures of :func:`stability.stationary`; lambda_ : ``>= 0``, finite
    n : integer ``>= 1``; k : synthetic points per round (default :math:`\lfloor\lambda n\rfloor`)
    eps, alpha, L : the constants of Theorem 1 (e.g. from ``model.local_constants(real_sample)``)
    delta : in (0, 1)

    Examples
    --------
    Exponential family, well specified (eps = 0): rho = lambda/(1-lambda).

    >>> r = theorem2_radius(np.eye(1), np.eye(1), 0.25, 400, eps=0.0, alpha=1.0, L=0.0)
    >>> round(r.rho, 6), round(r.stat_err, 3)  # Q = 0.25^2/100/1.25^2 = 4e-4: 1.96 * 0.02
    (0.333333, 0.039)
    >>> theorem2_radius(np.eye(1), np.eye(1), 1.0, 400, eps=0.0, alpha=1.0, L=0.0).radius
    inf
    """
    from ..bounds import bound, finite_sample_bound
    from ..jacobian import check_psd, check_spd
    from ..schemes import synthetic_count

    lam = float(check("lambda_", lambda_))
    if math.isinf(lam):
        raise ValueError("lambda_ must be finite for Theorem 2's radius, got inf")
    n_int = _count("n", n)
    dlt = float(check("delta", delta))
    A = check_spd("A", A)
    B = check_psd("B", B)
    k_int = synthetic_count(n_int, lam) if k is None else _count("k", k)
    known = math.isfinite(eps) and math.isfinite(L)  # NaN: not computed for this model (no theorem)
    rho = float(bound(lam, eps, alpha, L)) if known else math.inf
    if lam == 0.0 or k_int == 0:
        e = 0.0
    else:
        M = np.linalg.inv(A + lam * B)
        Q = (lam**2 / k_int) * M @ B @ M
        q = np.clip(np.linalg.eigvalsh((Q + Q.T) / 2), 0.0, None)
        z = np.random.default_rng(seed).standard_normal((int(n_mc), q.size))
        e = float(np.sqrt(np.quantile((z**2) @ q, 1.0 - dlt)))
    r = float(finite_sample_bound(math.inf, lam, eps, e, 0.0, alpha, L)) if known else math.inf
    top = float(np.linalg.eigvalsh(A)[-1])
    return Theorem2Radius(lam, dlt, rho, e, r, 0.5 * top * r * r if math.isfinite(r) else math.inf)


@dataclass(frozen=True, eq=False)
class StationaryCheck:
    r"""Simulated stationary law of :func:`retrain_chains` against :func:`stability.stationary`.

    ``predicted``: the :class:`~stability.stationary.StationaryLaw` from A, B of the real sample;
    ``observed``: :class:`ObservedStationary` after ``burn_in``; ``se_predicted``: the Monte Carlo
    standard error of the observed excess loss expected from the predicted law,
    :math:`\sqrt{\tfrac12\operatorname{tr}((AC)^2)\,\tau/N}` with :math:`N` = chains x
    generations pooled and :math:`\tau = (1+\rho^2)/(1-\rho^2)`, :math:`\rho = \rho_{exact}` (the
    integrated autocorrelation of a quadratic form of a stationary AR(1) with coefficient at most
    :math:`\rho`: an upper bound); ``theorem2``: :class:`Theorem2Radius`; ``constants``: the
    :class:`~stability.report.LocalConstants` used.
    """

    predicted: object
    observed: ObservedStationary
    se_predicted: float
    theorem2: Theorem2Radius
    constants: object
    result: ChainsResult


def default_burn_in(rate: float) -> int:
    r"""Generations until :math:`\rho^{2b} \le` ``BURN_IN_DEFICIT`` (chains start at :math:`\theta^*`)."""
    if rate <= 0.0:
        return 0
    return int(math.ceil(math.log(BURN_IN_DEFICIT) / (2.0 * math.log(rate))))


def check_stationary(
    model: object | str,
    real_sample: ArrayLike,
    lambda_: float,
    *,
    generations: int,
    chains: int,
    burn_in: int | None = None,
    seed: int | np.random.Generator | torch.Generator = 0,
    delta: float = 0.05,
    **options,
) -> StationaryCheck:
    """Run :func:`retrain_chains` and compare its stationary statistics with :func:`stability.stationary`.

    A and B come from ``model.local_constants(real_sample)`` (the empirical curvature of the real
    sample and the Fisher information of :math:`p_{\theta^*}`). ``burn_in`` defaults to
    :func:`default_burn_in` of the exact rate; the generations after it are pooled. ``options`` go
    to :func:`retrain_chains`; with a ``synthetic_weight`` :math:`w` the law and Theorem 2's radius
    are taken at :math:`\rho = w/(1-w)` (docs/theory.md §10). Not ``prior_precision``
    (``model.local_constants`` are those of the unpenalised maximum; with a prior, compare
    :func:`retrain_chains` with ``stationary(A + beta I, B, ...)`` directly). With a ``correction``
    :math:`γ` the law is ``stationary(..., correction=γ)`` (docs/theory.md §14); Theorem 2's radius
    is the uncorrected one (the theorem has no corrector).
    """
    from ..stationary import stationary

    if options.get("prior_precision"):
        raise ValueError(
            "prior_precision must be 0 in check_stationary (model.local_constants are taken at the unpenalised "
            "maximum); call retrain_chains(..., prior_precision=beta) and stationary(A + beta I, B, ...)"
        )
    declared = as_scheme(options.get("scheme", "fixed-real"))
    if not _fixed_sample_mix(declared):
        raise ValueError(
            f"scheme must be one of {', '.join(map(repr, names_where(_fixed_sample_mix)))} in check_stationary "
            f"(stability.stationary's law is that of a fixed real sample mixed with k synthetic points), "
            f"got {declared.name!r}"
        )
    model = _resolve_model(model)
    consts = model.local_constants(real_sample)
    result = retrain_chains(model, real_sample, lambda_, generations=generations, chains=chains, seed=seed, **options)
    law = stationary(
        consts.A,
        consts.B,
        result.lambda_,
        result.n,
        k=result.k if result.k > 0 else None,
        synthetic_weight=result.synthetic_weight,
        correction=result.correction,
    )
    b = default_burn_in(law.rate) if burn_in is None else int(check("generations", burn_in))
    obs = result.observed(b)
    rho2 = law.rate**2
    AC = consts.A @ law.cov
    se = math.sqrt(0.5 * float(np.trace(AC @ AC)) * (1 + rho2) / (1 - rho2) / obs.samples)
    w = result.synthetic_weight  # docs/theory.md §10: the weighted round is G_rho, rho = w/(1-w)
    t2 = theorem2_radius(
        consts.A,
        consts.B,
        result.lambda_ if w is None else w / (1.0 - w),
        result.n,
        eps=consts.eps,
        alpha=consts.alpha,
        L=consts.L,
        k=result.k,
        delta=delta,
    )
    return StationaryCheck(law, obs, se, t2, consts, result)


@dataclass(frozen=True, eq=False)
class LossChainsResult(ChainsResult):
    r""":class:`~.chains.ChainsResult` of a loss model: ``theta_star`` is :math:`\theta^*_\lambda`,
    ``excess_nll`` the excess real-data loss over it, ``fit`` the fit of :math:`\hat\theta`, and
    ``report`` the :class:`~.losses.LossReport` of the same real points and seed."""

    report: object = None


def retrain_loss_chains(
    loss_model,
    real_sample: ArrayLike,
    lambda_: float,
    *,
    generations: int,
    chains: int,
    seed: int | np.random.Generator | torch.Generator = 0,
    k: int | None = None,
    gtol: float = GTOL,
    max_iter: int = MAX_NEWTON,
    allow_failure: bool = False,
    synthetic_weight: float | None = None,
    n_noise: int | None = None,
) -> LossChainsResult:
    r"""Run ``chains`` chains of finite-sample retraining with a loss for ``generations`` rounds.

    Any training loss (docs/theory.md §13). Every chain starts at the fixed point
    :math:`\theta^*_\lambda` of the expected operator (:func:`~stability.numerical.losses.analyze_loss`,
    same seed) and each generation draws base noise afresh, pushes it through the sampler,
    :math:`y_j = T_{\theta_t}(z_j)` (``torch.func.vmap`` over chains; no gradient through y), and
    refits, warm-started at :math:`\theta_t`, to the minimum of the mixed objective of
    :mod:`.objectives`, :math:`\frac{1}{1+\lambda}\frac1n\sum_i\ell(\theta, x_i) +
    \frac{\lambda}{1+\lambda}\frac1k\sum_j\ell(\theta, y_j)` (or the weights :math:`(1-w, w)`), by the
    batched Newton of :mod:`.optim` to :math:`\|\nabla\|_\infty \le` ``gtol``. The result's
    ``observed()`` is about :math:`\theta^*_\lambda`, its ``excess_nll`` the excess real-data loss
    :math:`R_n(\theta_t) - R_n(\theta^*_\lambda)` (negative values are possible when the loss is not
    self-consistent: :math:`\theta^*_\lambda` is not the minimiser of :math:`R_n`); the law it follows
    to first order is ``result.report.stationary(n)``.

    Parameters are those of :func:`retrain_chains` (``k`` default :math:`\lfloor\lambda n\rfloor`;
    ``synthetic_weight`` in [0, 1)), plus ``n_noise``, the bank of the analysis that gives the start
    :math:`\theta^*_\lambda` (default :data:`~stability.numerical.losses.DEFAULT_N_NOISE`). ``seed``
    drives, in order, the real points' attached draws, the bank and the chains' base noise. Same seed,
    same numbers.

    >>> from stability.numerical.losses import HyvarinenScoreMatching
    >>> from stability.numerical.models import StudentT
    >>> x = np.random.default_rng(0).standard_normal(200)
    >>> r = retrain_loss_chains(HyvarinenScoreMatching(StudentT(5)), x, 1.0, generations=2, chains=3, n_noise=1024)
    >>> r.theta.shape, bool(r.converged.all()), bool(np.allclose(r.theta[0], r.theta_star))
    ((3, 3, 2), True, True)
    """
    from ..schemes import synthetic_count
    from ..stationary import _weight_ratio
    from .losses import DEFAULT_N_NOISE, LossModel, _analyze, _as_points

    if n_noise is None:
        n_noise = DEFAULT_N_NOISE
    if not isinstance(loss_model, LossModel):
        raise ValueError(f"loss_model must be a LossModel, got {type(loss_model).__name__}")
    x_raw = _samples(real_sample)
    x = _as_points(loss_model, real_sample)
    n = x.shape[0]
    lam = float(check("lambda_", lambda_))
    if math.isinf(lam):
        raise ValueError("lambda_ must be finite, got inf: purely synthetic retraining has no real data")
    G = int(check("generations", generations))
    C = int(check("chains", chains))
    k_int = synthetic_count(n, lam) if k is None else _count("k", k)
    if lam > 0 and k_int < 1:
        raise ValueError(
            f"k must be >= 1 (synthetic points per round), got k = floor(lambda_ * n) = {k_int} for lambda_ = "
            f"{lam:g}, n = {n}; pass k explicitly or use lambda_ = 0"
        )
    rho = lam
    if synthetic_weight is not None:
        rho = _weight_ratio(lam, k_int, synthetic_weight, "retrain_chains")
        synthetic_weight = float(synthetic_weight)
    gtol = float(check("gtol", gtol, Interval(0.0, low_closed=False)))
    max_iter = _count("max_iter", max_iter)
    N = int(check("n_noise", n_noise, Interval(2.0, integer=True)))
    gen = as_generator(seed)
    xp = loss_model.prepare(x, gen)
    report, fit = _analyze(loss_model, x_raw, xp, lam, rho, synthetic_weight, N, gen, gtol, 100)
    d = loss_model.n_params
    loss, sample = loss_model.loss, loss_model.sample
    obj = MixedObjective(lambda th, pts: -loss(th, pts), d, xp, lam, k_int, synthetic_weight)
    push = torch.func.vmap(sample, in_dims=(0, 0))
    th_star = torch.as_tensor(report.theta_star, dtype=DTYPE)
    theta = torch.empty(G + 1, C, d, dtype=DTYPE)
    theta[0] = th_star.expand(C, d)
    grad_norm = torch.empty(G, C, dtype=DTYPE)
    iterations = torch.empty(G, C, dtype=torch.long)
    converged = torch.empty(G, C, dtype=torch.bool)
    pdim = loss_model.point_dim
    for t in range(G):
        if k_int > 0:
            z = loss_model.noise(C * k_int, gen).reshape(C, k_int, loss_model.noise_dim)
            with torch.no_grad():
                y = push(theta[t], z).reshape(C, k_int, pdim)
        else:
            y = torch.empty(C, 0, pdim, dtype=DTYPE)
        theta[t + 1], grad_norm[t], iterations[t], converged[t] = batched_newton(obj, theta[t], y, gtol, max_iter)
    ref = obj.data_mean(th_star[None])[0]
    excess = (ref - obj.data_mean(theta.reshape(-1, d))).reshape(G + 1, C)
    result = LossChainsResult(
        model=repr(loss_model),
        lambda_=lam,
        n=n,
        k=k_int,
        gtol=gtol,
        theta=theta.numpy(),
        theta_star=report.theta_star,
        excess_nll=excess.numpy(),
        grad_norm=grad_norm.numpy(),
        iterations=iterations.numpy(),
        converged=converged.numpy(),
        fit=fit,
        synthetic_weight=synthetic_weight,
        report=report,
    )
    return result if allow_failure else result.raise_if_failed()
