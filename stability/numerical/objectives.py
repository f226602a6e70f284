r"""Per-point losses and the one mixed objective of a retraining round (docs/theory.md §1, §10, §13).

A **per-point loss** is a torch function ``loss(theta, x) -> (N,)``: :math:`\ell(\theta, x_i)` for a
parameter vector ``theta`` (d,) and points ``x`` (N, data_dim), twice differentiable in θ. The
negative log-likelihood :math:`\ell = -\log p_\theta(x)` is one (:func:`negative_log_likelihood`);
score matching and denoising losses are others (:mod:`.losses`). ``log_prob`` stays the model's
density where a density is needed (quadrature weights, W1, sampling).

A retraining round minimises the **mixed objective**

.. math:: L(\theta) = a\,\frac1n\sum_{i=1}^n \ell(\theta, x_i) + b\,\frac1k\sum_{j=1}^k \ell(\theta, y_j),
          \qquad (a, b) = \Big(\frac{1}{1+\lambda}, \frac{\lambda}{1+\lambda}\Big)

over the real points :math:`x_i` and the synthetic points :math:`y_j`, or :math:`(a, b) = (1-w, w)`
with a ``synthetic_weight`` :math:`w` (docs/theory.md §10); see :func:`objective_weights`. The
library's optimiser maximises (:mod:`.optim`), so :class:`MixedObjective` is written for a per-point
*value* to maximise: ``log_prob`` for the likelihood, ``-loss`` for a loss; the factor
:math:`1/(1+\lambda)` keeps the scale of the objective, so one gradient tolerance serves every λ.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .optim import DTYPE

__all__ = ["CHUNK_NUMBERS", "MixedObjective", "negative_log_likelihood", "objective_weights"]

# Chains per vectorised evaluation: at most this many numbers per intermediate tensor,
# chains_in_chunk * (n + k) * (d + 1) (values and d cotangents): 2**21 float64 = 16 MiB, a few
# dozen of which are alive inside jacrev(grad) of a log-density.
CHUNK_NUMBERS = 2**21


def negative_log_likelihood(model) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    r"""The per-point loss :math:`\ell(\theta, x) = -\log p_\theta(x)` of a likelihood model."""

    def loss(theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return -model.log_prob(theta, x)

    return loss


def objective_weights(lambda_: float, synthetic_weight: float | None = None) -> tuple[float, float]:
    r"""The weights :math:`(a, b)` of the real and the synthetic mean: :math:`(1/(1+\lambda), \lambda/(1+\lambda))`,
    or :math:`(1-w, w)` with a ``synthetic_weight`` :math:`w` (docs/theory.md §10).

    >>> objective_weights(1.0), objective_weights(1.0, 0.25)
    ((0.5, 0.5), (0.75, 0.25))
    """
    if synthetic_weight is not None:
        return 1.0 - synthetic_weight, synthetic_weight
    lam = float(lambda_)
    return 1.0 / (1.0 + lam), lam / (1.0 + lam)


class MixedObjective:
    r"""Value, gradient and Hessian of every chain's mixed objective, vectorised over chains in chunks.

    ``point_value(theta, x) -> (N,)`` is the per-point quantity maximised (``log_prob``, or minus a
    loss); the objective of a chain with synthetic points ``y`` (k, data_dim) is
    :math:`a\,(\frac1n\sum_i v(\theta, x_i) - \frac\beta2\|\theta\|^2) + b\,\frac1k\sum_j v(\theta, y_j)`
    (``prior_precision`` :math:`\beta`: a Gaussian penalty on the real-data term only).
    Values, gradients and Hessians come from one ``torch.func.vmap`` over the stacked parameters of
    ``jacrev`` of ``grad_and_value`` (the real sample is shared, each chain has its own synthetic
    points), in chunks of at most :data:`CHUNK_NUMBERS` numbers per intermediate tensor.
    """

    def __init__(
        self, point_value, d: int, x: torch.Tensor, lam: float, k: int, synthetic_weight: float | None = None,
        prior_precision: float = 0.0,
    ):  # fmt: skip
        n = x.shape[0]
        w = torch.full((n,), 1.0 / n, dtype=DTYPE)  # the weights of Expectations.data_mean
        a, b = objective_weights(lam, synthetic_weight)
        synth = k > 0 and b > 0
        beta = float(prior_precision)

        def real(th):  # the (penalised) real-data term: the excess loss is measured on it
            v = (w * point_value(th, x)).sum()
            return v - 0.5 * beta * (th * th).sum() if beta else v

        def f(th, y):
            v = a * real(th)
            if synth:
                v = v + b * point_value(th, y).sum() / k
            return v

        def g_aux(th, y):
            g, v = torch.func.grad_and_value(f)(th, y)
            return g, (g, v)

        # reverse-over-reverse: measured 1.6-1.9x faster than jacfwd(grad) here (d = 2 and 5)
        self._all = torch.func.vmap(torch.func.jacrev(g_aux, has_aux=True), in_dims=(0, 0))
        self._value = torch.func.vmap(real)
        self.chunk = max(1, CHUNK_NUMBERS // ((n + k) * (d + 1)))
        self.chunk_value = max(1, CHUNK_NUMBERS // n)

    def __call__(self, theta: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(values (C,), gradients (C, d), Hessians (C, d, d)) at theta (C, d) with synthetic points y (C, k, dim)."""
        out_v, out_g, out_h = [], [], []
        for i in range(0, theta.shape[0], self.chunk):  # chunks bound memory; each is vectorised
            H, (g, v) = self._all(theta[i : i + self.chunk], y[i : i + self.chunk])
            out_v.append(v)
            out_g.append(g)
            out_h.append(H)
        return torch.cat(out_v), torch.cat(out_g), torch.cat(out_h)

    def data_mean(self, theta: torch.Tensor) -> torch.Tensor:
        r""":math:`\frac1n\sum_i v(\theta, x_i) - \frac\beta2\|\theta\|^2` for every row of theta (M, d)."""
        step = self.chunk_value
        with torch.no_grad():
            return torch.cat([self._value(theta[i : i + step]) for i in range(0, theta.shape[0], step)])
