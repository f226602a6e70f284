r"""A normalizing flow whose log-density is :math:`C^\infty` in its parameters and in x.

The theory's assumption (A1) asks :math:`x \mapsto \nabla^2_\theta \log p_\theta(x)` to be Lipschitz, and
the fixed-point analysis asks :math:`\theta \mapsto \log p_\theta(x)` to be twice differentiable. zuko's
neural spline flow violates both (spline bin edges, ReLU conditioners) and its affine MAF violates them
mildly: :class:`zuko.transforms.MonotonicAffineTransform` soft-clips the log-scale with
:math:`a / (1 + |a/\log s|)`, whose second derivative jumps at :math:`a = 0`. The flow here is zuko's
masked autoregressive flow (:class:`zuko.flows.MAF`) with

* :class:`SmoothAffineTransform`: :math:`f(x) = e^{c\tanh(a/c)}\,x + b` (log-scale clipped to
  :math:`(-c, c)` by a :math:`C^\infty` map instead of the :math:`C^1` one);
* ``tanh`` conditioners (:class:`zuko.nn.MaskedMLP` with ``activation=nn.Tanh``).

So :math:`\log p_\theta(x) = \log\mathcal N(z_\theta(x); 0, I) + \sum \log|\det|` is a composition of
analytic maps: every derivative in :math:`\theta` and :math:`x` exists and is continuous. An affine MAF
was chosen over a smooth spline or continuous flow because it is the smallest zuko flow with an exact,
cheap, analytic log-density (a CNF's log-density needs an ODE solve and a trace estimate); with two
transforms and alternating order it models moons and eight Gaussians only coarsely, which is what the
theory is about (a misspecified :math:`p_{\theta^*}`, :math:`A \ne B`).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BOUND", "SmoothAffineTransform", "SmoothFlow", "smooth_flow"]

# Bound c of the log-scale. Large enough never to bind at a maximum (a binding clip would push the
# maximiser to infinity); it only keeps exp() finite during the first steps of an optimisation.
BOUND = 10.0


def _transform_base():
    from zuko.transforms import Transform

    return Transform


class SmoothAffineTransform(_transform_base()):
    r"""The map :math:`f(x) = e^{\ell} x + b`, :math:`\ell = c\tanh(a/c)`.

    ``shift`` :math:`b` and ``scale`` :math:`a` (unconstrained) with shape ``(*,)``; ``bound`` :math:`c > 0`
    bounds the log-scale smoothly (zuko's :class:`~zuko.transforms.MonotonicAffineTransform` uses the
    :math:`C^1` clip :math:`a/(1+|a|/c)`).
    """

    from torch.distributions import constraints as _c

    domain = _c.real
    codomain = _c.real
    bijective = True
    sign = +1

    def __init__(self, shift: torch.Tensor, scale: torch.Tensor, bound: float = BOUND, **kwargs) -> None:
        super().__init__(**kwargs)
        self.shift = shift
        self.log_scale = bound * torch.tanh(scale / bound)
        self.scale = self.log_scale.exp()

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift

    def _inverse(self, y: torch.Tensor) -> torch.Tensor:
        return (y - self.shift) / self.scale

    def log_abs_det_jacobian(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.log_scale.expand(x.shape)


class SmoothFlow(nn.Module):
    r"""Masked autoregressive flow with smooth affine transforms and tanh conditioners (module docstring).

    ``features``: data dimension; ``transforms``: number of autoregressive layers (their order alternates);
    ``hidden``: conditioner widths. ``log_prob(x)`` is :math:`\log p_\theta(x)`, shape ``(m,)``;
    ``sample(m)`` draws ``(m, features)``; ``push(z)`` maps base noise ``z`` ``(m, features)`` to
    :math:`x = f_\theta^{-1}(z)` (a draw of :math:`p_\theta` when :math:`z\sim\mathcal N(0, I)`).
    """

    def __init__(self, features: int = 2, transforms: int = 2, hidden=(16, 16)):
        super().__init__()
        import zuko

        if not (isinstance(features, int) and features >= 2):
            raise ValueError(f"features must be an integer >= 2, got {features!r}")
        if not (isinstance(transforms, int) and transforms >= 1):
            raise ValueError(f"transforms must be an integer >= 1, got {transforms!r}")
        self.shape = (features,)
        self.flow = zuko.flows.MAF(
            features, transforms=transforms, hidden_features=tuple(hidden), univariate=SmoothAffineTransform,
            activation=nn.Tanh,
        )  # fmt: skip

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.flow().log_prob(x)

    def push(self, z: torch.Tensor) -> torch.Tensor:
        return self.flow().transform.inv(z)

    @torch.no_grad()
    def sample(self, m: int) -> torch.Tensor:
        return self.flow().sample((int(m),))


def smooth_flow(features: int = 2, transforms: int = 2, hidden=(16, 16), *, seed: int = 0) -> SmoothFlow:
    """A float64 :class:`SmoothFlow` with zuko's initialisation drawn from ``torch.manual_seed(seed)``.

    >>> from stability.experiments.analysis import FlowLikelihood
    >>> FlowLikelihood(smooth_flow(hidden=(8,), seed=0), estimate_L=False).n_params
    72
    """
    with torch.random.fork_rng():
        torch.manual_seed(int(seed))
        flow = SmoothFlow(features, transforms, hidden)
    return flow.to(torch.float64)
