r"""Finite-sample retraining of a model fitted by any loss, many chains at once (docs/theory.md §13).

One real sample :math:`x_1..x_n` is fixed (with its attached draws, :class:`~.losses.PointDrawsLoss`).
Every chain starts at the fixed point :math:`\theta^*_\lambda` of the expected operator
(:func:`~.losses.analyze_loss`, same seed) and each generation

1. draws base noise :math:`z_1..z_k` afresh and pushes it through the sampler,
   :math:`y_j = T_{\theta_t}(z_j)` (``torch.func.vmap`` over chains; no gradient flows through y),
2. refits, warm-started at :math:`\theta_t`, to the minimum of the mixed objective of
   :mod:`.objectives`,

   .. math:: L_t(\theta) = \frac{1}{1+\lambda}\,\frac1n\sum_i\ell(\theta, x_i)
             + \frac{\lambda}{1+\lambda}\,\frac1k\sum_j\ell(\theta, y_j)

   (or the weights :math:`(1-w, w)` of a ``synthetic_weight``), with the batched modified Newton
   of :mod:`.optim` for all chains at once, to :math:`\|\nabla L_t\|_\infty \le` ``gtol``
   (iterations and convergence recorded per refit).

To first order the chains follow the law of :meth:`~.losses.LossReport.stationary` (the sandwich
Q); the result's ``observed()`` is taken about :math:`\theta^*_\lambda`, and its ``excess_nll`` is the
excess real-data loss :math:`R_n(\theta_t) - R_n(\theta^*_\lambda)` (it can be negative when the
loss is not self-consistent: :math:`\theta^*_\lambda` is not the minimiser of :math:`R_n`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from .._domains import Interval, check
from .._domains import count as _count
from ..errors import InputError
from .chains import MAX_NEWTON, ChainsResult
from .expectations import _samples, as_generator
from .losses import DEFAULT_N_NOISE, LossModel, LossReport, _analyze, _as_points
from .objectives import MixedObjective
from .optim import DTYPE, GTOL, batched_newton

__all__ = ["LossChainsResult", "retrain_loss_chains"]


@dataclass(frozen=True, eq=False)
class LossChainsResult(ChainsResult):
    r""":class:`~.chains.ChainsResult` of a loss model: ``theta_star`` is :math:`\theta^*_\lambda`,
    ``excess_nll`` the excess real-data loss over it, ``fit`` the fit of :math:`\hat\theta`, and
    ``report`` the :class:`~.losses.LossReport` of the same real points and seed."""

    report: LossReport | None = None


def retrain_loss_chains(
    loss_model: LossModel,
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
    n_noise: int = DEFAULT_N_NOISE,
) -> LossChainsResult:
    r"""Run ``chains`` chains of finite-sample retraining with a loss for ``generations`` rounds (module docstring).

    Parameters are those of :func:`~stability.numerical.chains.retrain_chains` (``k`` default
    :math:`\lfloor\lambda n\rfloor`; ``synthetic_weight`` in [0, 1)), plus ``n_noise``, the bank of
    the analysis that gives the start :math:`\theta^*_\lambda`. ``seed`` drives, in order, the real
    points' attached draws, the bank and the chains' base noise. Same seed, same numbers.

    >>> from stability.numerical.losses import HyvarinenScoreMatching
    >>> from stability.numerical.models import StudentT
    >>> x = np.random.default_rng(0).standard_normal(200)
    >>> r = retrain_loss_chains(HyvarinenScoreMatching(StudentT(5)), x, 1.0, generations=2, chains=3, n_noise=1024)
    >>> r.theta.shape, bool(r.converged.all()), bool(np.allclose(r.theta[0], r.theta_star))
    ((3, 3, 2), True, True)
    """
    from ..schemes import synthetic_count
    from ..stationary import _weight_ratio

    if not isinstance(loss_model, LossModel):
        raise InputError(f"loss_model must be a LossModel, got {type(loss_model).__name__}")
    x_raw = _samples(real_sample)
    x = _as_points(loss_model, real_sample)
    n = x.shape[0]
    lam = float(check("lambda_", lambda_))
    if math.isinf(lam):
        raise InputError("lambda_ must be finite, got inf: purely synthetic retraining has no real data")
    G = int(check("generations", generations))
    C = int(check("chains", chains))
    k_int = synthetic_count(n, lam) if k is None else _count("k", k)
    if lam > 0 and k_int < 1:
        raise InputError(
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
