"""Generative models for the retraining experiments: a normalizing flow, DDPM and OT-CFM, CPU or CUDA.

Every model follows one declared protocol, :class:`GenerativeModel`: an ``nn.Module`` with a
``kind`` (its registry name), ``loss(x)`` (the training objective on a batch), ``sample(m)``
(``m`` draws, shape ``(m, *shape)``, from the global torch RNG so that seeding it with
``torch.manual_seed`` fixes them), optionally ``log_prob(x)`` (flows), a classmethod ``build(shape,
**options)`` that checks its options, and its default options and profile changes per data kind
(``"2d"`` or ``"image"``). :data:`MODELS` (``kind -> class``) is read from the torch-free
:data:`~stability.experiments.registry.MODEL_REGISTRY`, from which the command line's ``--model``
choices, :func:`make_model` and the configuration defaults derive: a new model is one class here
and one registry line.

* :class:`Flow`: a neural spline flow (``zuko.flows.NSF``, Durkan et al. 2019) trained by maximum
  likelihood, ``loss = -mean log p_theta(x)``: the setting of the theory (docs/theory.md §8).
* :class:`DDPM`: denoising diffusion (Ho et al. 2020) with the simple epsilon-prediction loss
  ``E_{t, x0, eps} ||eps - eps_theta(sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, t)||^2`` and ancestral
  sampling with ``sigma_t^2 = beta_t``; a surrogate of the likelihood, so the theory is a heuristic
  for it. The noise network is an MLP for vectors (:class:`MLPDenoiser`) and a small U-Net for
  images (:class:`UNetDenoiser`). The linear schedule is Ho et al.'s ``beta in [1e-4, 0.02]`` for
  ``T = 1000`` rescaled by ``1000 / T`` (Nichol & Dhariwal 2021), so ``abar_T ~ e^{-10}`` for every
  ``T``; ``beta_T = 20 / T < 1`` requires ``T >= 21``.
* :class:`CFM`: conditional flow matching with the straight (optimal-transport) path of Lipman et
  al. (2023) and Tong et al. (2024): ``x_s = (1 - s) x0 + s x``, ``x0 ~ N(0, I)``, ``s ~ U[0, 1]``,
  ``loss = E ||v_theta(x_s, s) - (x - x0)||^2`` (per coordinate), sampled by integrating
  ``dx/ds = v_theta(x, s)`` from ``s = 0`` to ``1`` with ``K`` fixed Heun steps. ``x0`` and ``x`` are
  paired independently (I-CFM in Tong et al.'s terms), not by a minibatch OT plan: the pairing
  changes which conditional paths are averaged, not the marginal path the loss targets, and
  independent pairing needs no OT solver. The velocity network is the DDPM's (MLP for vectors,
  U-Net for images) read as ``v_theta(x, s)`` with a continuous time ``s``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

from .._domains import Interval, check, check_choice
from .._optional import require
from .registry import MODEL_KINDS, MODEL_REGISTRY

__all__ = [
    "CFM",
    "DDPM",
    "MODELS",
    "MODEL_KINDS",
    "Flow",
    "GenerativeModel",
    "MLPDenoiser",
    "UNetDenoiser",
    "bits_per_dim",
    "heun",
    "make_model",
    "ot_pairing",
    "parameter_vector",
]


class GenerativeModel(nn.Module):
    """The protocol of the retraining loop's models (subclass it and add one line to the registry).

    Class attributes: ``kind`` (its name in :data:`~stability.experiments.registry.MODEL_REGISTRY`),
    ``options`` (the option names :meth:`build` accepts), ``defaults`` (``data kind -> options``, the
    data kinds being ``"2d"`` and ``"image"``) and ``profiles`` (``(data kind, profile) -> changes`` to
    the profile's sizes, e.g. more pretraining steps). Instances: ``shape`` (one sample's shape),
    ``loss(x)`` (a scalar to minimise on the batch ``x``), ``sample(m)`` (``m`` draws from the global
    torch RNG); models with a density add ``log_prob(x)``.
    """

    kind: ClassVar[str] = ""
    options: ClassVar[frozenset] = frozenset()
    defaults: ClassVar[dict] = {}
    profiles: ClassVar[dict] = {}

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """The training loss on a batch ``x`` (every model of the registry defines it)."""
        raise NotImplementedError(f"{type(self).__name__} must define loss(x) (the GenerativeModel protocol)")

    def sample(self, m: int) -> torch.Tensor:
        """``m`` samples of the model (every model of the registry defines it)."""
        raise NotImplementedError(f"{type(self).__name__} must define sample(m) (the GenerativeModel protocol)")

    @classmethod
    def build(cls, shape: tuple, **options) -> GenerativeModel:
        """The model for samples of ``shape`` (options already checked against ``options``)."""
        raise NotImplementedError(f"{cls.__name__} must define build(shape, **options) (the GenerativeModel protocol)")

    @classmethod
    def default_options(cls, data_kind: str, data: str) -> dict:
        """Default options for data set ``data`` of kind ``data_kind`` (a copy of ``defaults[data_kind]``)."""
        return {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in cls.defaults[data_kind].items()}


class Flow(GenerativeModel):
    """Neural spline flow on flattened samples, ``p_theta`` with exact ``log_prob``.

    ``shape``: one sample's shape; ``transforms``: number of autoregressive spline layers (>= 1);
    ``hidden``: widths of each conditioner MLP; ``bins``: spline bins. The splines act on
    ``[-5, 5]`` (zuko's default) and are the identity outside, so data should be standardised.
    ``dequantize`` >= 0: for discrete data on a grid of spacing ``Delta``, training adds uniform noise
    ``Delta u``, ``u ~ U[0, 1)^D`` (uniform dequantization, Theis et al. 2016), so that
    ``E_u[log p_theta(x + Delta u)] + D log Delta`` is a lower bound on the log-probability of the
    discrete ``x`` (see :func:`bits_per_dim`); ``0`` (default): continuous data, no noise.
    """

    kind = "flow"
    options = frozenset({"transforms", "hidden", "bins", "dequantize"})
    defaults = {"2d": {"transforms": 3, "hidden": [64, 64]}, "image": {"transforms": 3, "hidden": [256, 256]}}

    def __init__(self, shape, transforms: int = 3, hidden=(64, 64), bins: int = 8, dequantize: float = 0.0):
        super().__init__()
        zuko = require("zuko", "normalizing flows")
        self.shape = tuple(shape)
        self.dequantize = float(check("dequantize", dequantize, Interval(0.0)))
        features = math.prod(self.shape)
        self.flow = zuko.flows.NSF(features, transforms=transforms, hidden_features=tuple(hidden), bins=bins)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """``log p_theta(x)`` per sample, shape ``(m,)``."""
        return self.flow().log_prob(x.flatten(1))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        if self.dequantize:
            x = x + self.dequantize * torch.rand_like(x)
        return -self.log_prob(x).mean()

    @torch.no_grad()
    def bits_per_dim(self, x: torch.Tensor) -> float:
        """Held-out NLL of discrete data in bits per dimension, from one dequantization draw:
        ``-(mean log p_theta(x + Delta u) + D log Delta) / (D ln 2)`` (an upper bound in expectation)."""
        if not self.dequantize:
            raise ValueError("dequantize must be > 0 (the grid spacing of the data) for bits per dimension")
        D = math.prod(self.shape)
        nll = -float(self.log_prob(x + self.dequantize * torch.rand_like(x)).double().mean())
        return bits_per_dim(nll, D, self.dequantize)

    @torch.no_grad()
    def sample(self, m: int) -> torch.Tensor:
        return self.flow().sample((m,)).reshape(m, *self.shape)

    @classmethod
    def build(cls, shape: tuple, **options) -> Flow:
        return cls(shape, **options)

    @classmethod
    def default_options(cls, data_kind: str, data: str) -> dict:
        """As :meth:`GenerativeModel.default_options`; images also get ``dequantize``, the grid
        spacing of the scaled pixels: ``2 / 16`` for ``digits``, else ``2 / 255``."""
        options = super().default_options(data_kind, data)
        if data_kind == "image":
            options["dequantize"] = 2.0 / 16.0 if data == "digits" else 2.0 / 255.0
        return options


def bits_per_dim(nll: float, D: int, bin_width: float) -> float:
    """Discrete NLL in bits per dimension from a dequantized continuous NLL (nats per sample).

    ``bpd = (nll - D log(bin_width)) / (D ln 2)``: the density is converted to the probability of a
    bin of volume ``bin_width^D`` and nats to bits (Theis et al. 2016; Dinh et al. 2017).

    >>> bits_per_dim(0.0, 1, 0.5)  # density 1 on a bin of width 1/2: probability 1/2, one bit
    1.0
    """
    return (nll - D * math.log(bin_width)) / (D * math.log(2.0))


def _time_embedding(t: torch.Tensor, dim: int, T: int) -> torch.Tensor:
    """Sinusoidal embedding of the step ``t`` (Vaswani et al. 2017), shape ``(m, dim)``."""
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device) / half)
    arg = (t.float() / T * 1000.0)[:, None] * freqs[None]
    return torch.cat([arg.sin(), arg.cos()], dim=1)


class MLPDenoiser(nn.Module):
    """``eps_theta(x_t, t)`` for vectors: an MLP on ``[x_t, embed(t)]`` with SiLU activations."""

    def __init__(self, features: int, T: int, hidden: int = 128, depth: int = 3, temb: int = 32):
        super().__init__()
        self.T, self.temb = T, temb
        layers, width = [], features + temb
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        self.net = nn.Sequential(*layers, nn.Linear(width, features))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, _time_embedding(t, self.temb, self.T)], dim=1))


class _ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, temb: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(8, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.proj = nn.Linear(temb, c_out)
        self.norm2, self.conv2 = nn.GroupNorm(8, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x, e):
        h = self.conv1(nn.functional.silu(self.norm1(x))) + self.proj(e)[:, :, None, None]
        h = self.conv2(nn.functional.silu(self.norm2(h)))
        return h + self.skip(x)


class UNetDenoiser(nn.Module):
    """A small U-Net ``eps_theta(x_t, t)`` for ``(1, H, W)`` images with even ``H, W``.

    One down/up level (``H -> H/2``) with a residual block at each resolution and a skip
    connection; channels ``width`` and ``2 width`` (width a multiple of 8, for GroupNorm).
    """

    def __init__(self, T: int, width: int = 32, temb: int = 64):
        super().__init__()
        self.T, self.temb_dim = T, temb
        self.temb = nn.Sequential(nn.Linear(temb, temb), nn.SiLU(), nn.Linear(temb, temb))
        self.inc = nn.Conv2d(1, width, 3, padding=1)
        self.enc = _ResBlock(width, width, temb)
        self.down = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.mid = _ResBlock(2 * width, 2 * width, temb)
        self.up = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1)
        self.dec = _ResBlock(2 * width, width, temb)
        self.out = nn.Sequential(nn.GroupNorm(8, width), nn.SiLU(), nn.Conv2d(width, 1, 3, padding=1))

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        e = self.temb(_time_embedding(t, self.temb_dim, self.T))
        h0 = self.enc(self.inc(x), e)
        h = self.mid(self.down(h0), e)
        h = self.dec(torch.cat([self.up(h), h0], dim=1), e)
        return self.out(h)


def _network(shape: tuple, T: int, options: dict) -> nn.Module:
    """The noise / velocity network for ``shape``: an MLP for ``(d,)``, the U-Net for ``(1, H, W)``."""
    if len(shape) == 1:
        return MLPDenoiser(shape[0], T, hidden=int(options.get("hidden", 128)))
    if len(shape) == 3 and shape[0] == 1 and shape[1] % 2 == 0 and shape[2] % 2 == 0:
        return UNetDenoiser(T, width=int(options.get("width", 32)))
    raise ValueError(f"shape must be (d,) or (1, H, W) with even H, W, got {shape}")


class DDPM(GenerativeModel):
    """Denoising diffusion with ``T`` steps around a noise network ``net(x_t, t)``.

    ``loss``: the simple objective of Ho et al. (2020, eq. 14), ``t`` uniform on ``{0..T-1}``.
    ``sample``: ancestral sampling ``x_{t-1} = (x_t - beta_t / sqrt(1 - abar_t) eps_theta) /
    sqrt(1 - beta_t) + sqrt(beta_t) z`` (no noise at the last step).
    """

    kind = "ddpm"
    options = frozenset({"T", "hidden", "width"})
    defaults = {"2d": {"T": 100, "hidden": 128}, "image": {"T": 50, "width": 16}}
    # DDPM steps are ~3x cheaper than flow steps and it needs more of them to fit the moons.
    profiles = {("2d", "quick"): {"pretrain_steps": 8000}}

    def __init__(self, shape, net: nn.Module, T: int = 100):
        super().__init__()
        self.shape, self.T, self.net = tuple(shape), int(T), net
        betas = torch.linspace(1e-4, 0.02, self.T, dtype=torch.float64) * (1000.0 / self.T)
        self.register_buffer("betas", betas.float())
        self.register_buffer("abar", torch.cumprod(1.0 - betas, 0).float())

    def loss(self, x0: torch.Tensor) -> torch.Tensor:
        t = torch.randint(0, self.T, (x0.shape[0],), device=x0.device)
        eps = torch.randn_like(x0)
        ab = self.abar[t].view(-1, *([1] * (x0.dim() - 1)))
        xt = ab.sqrt() * x0 + (1.0 - ab).sqrt() * eps
        return ((self.net(xt, t) - eps) ** 2).mean()

    @torch.no_grad()
    def sample(self, m: int) -> torch.Tensor:
        device = self.betas.device
        x = torch.randn(m, *self.shape, device=device)
        for i in reversed(range(self.T)):
            t = torch.full((m,), i, device=device, dtype=torch.long)
            beta, ab = self.betas[i], self.abar[i]
            x = (x - beta / (1.0 - ab).sqrt() * self.net(x, t)) / (1.0 - beta).sqrt()
            if i > 0:
                x = x + beta.sqrt() * torch.randn_like(x)
        return x

    @classmethod
    def build(cls, shape: tuple, **options) -> DDPM:
        T = int(check("T", options.get("T", 100), Interval(21, integer=True)))  # beta_T = 20 / T < 1
        return cls(shape, _network(shape, T, options), T=T)


class CFM(GenerativeModel):
    """Conditional flow matching on the straight path, around a velocity network ``net(x, s)``.

    ``loss``: ``mean ||net(x_s, s) - (x - x0)||^2`` with ``x_s = (1 - s) x0 + s x``, ``x0 ~ N(0, I)``
    drawn independently of ``x`` and ``s ~ U[0, 1)``; it is minimised by the marginal velocity
    ``v(y, s) = E[x - x0 | x_s = y]`` (Lipman et al. 2023, Thm. 2), whose flow carries ``N(0, I)`` at
    ``s = 0`` to the data at ``s = 1`` (docs/theory.md §8). ``pairing="ot"`` instead pairs the batch's
    noise draws with its points by the exact minibatch optimal-transport plan for the squared distance
    (uniform weights on equal batches: an assignment, solved by ``scipy.optimize.linear_sum_assignment``;
    Tong et al. 2024's OT-CFM), which straightens the learned paths; the default ``"independent"``
    (I-CFM) is what the stored runs use, and needs no solver. ``sample``: ``K`` Heun steps of size
    ``h = 1 / K`` from ``x ~ N(0, I)``: ``x <- x + h/2 (v(x, s) + v(x + h v(x, s), s + h))``.
    The network sees ``s`` through the sinusoidal embedding of ``1000 s`` (``T = 1``).
    """

    kind = "cfm"
    options = frozenset({"K", "hidden", "width", "pairing"})
    defaults = {"2d": {"K": 20, "hidden": 128}, "image": {"K": 20, "width": 16}}
    profiles = {("2d", "quick"): {"pretrain_steps": 8000}}  # the DDPM's budget, the same MLP

    def __init__(self, shape, net: nn.Module, K: int = 20, pairing: str = "independent"):
        super().__init__()
        self.shape, self.K, self.net = tuple(shape), int(K), net
        self.pairing = check_choice("pairing", pairing, ("independent", "ot"))

    def velocity(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``v_theta(x, s)`` for a batch ``x`` and times ``s`` of shape ``(m,)``."""
        return self.net(x, s)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        x0 = torch.randn_like(x)
        if self.pairing == "ot":
            x0 = ot_pairing(x0, x)
        s = torch.rand(x.shape[0], device=x.device)
        sv = s.view(-1, *([1] * (x.dim() - 1)))
        xs = (1.0 - sv) * x0 + sv * x
        return ((self.velocity(xs, s) - (x - x0)) ** 2).mean()

    @torch.no_grad()
    def sample(self, m: int) -> torch.Tensor:
        device = next(self.parameters()).device
        return heun(self.velocity, torch.randn(m, *self.shape, device=device), self.K)

    @classmethod
    def build(cls, shape: tuple, **options) -> CFM:
        K = int(check("K", options.get("K", 20), Interval(1, integer=True)))
        return cls(shape, _network(shape, 1, options), K=K, pairing=options.get("pairing", "independent"))


def ot_pairing(x0: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``x0`` reordered so that ``x0[i]`` goes with ``x[i]`` under the optimal transport plan between the
    two equal-size batches (uniform weights, cost ``||x0_i - x_j||^2``): an assignment problem, whose
    optimal plan is a permutation (Birkhoff), solved exactly by ``linear_sum_assignment``.

    >>> ot_pairing(torch.tensor([[1.0], [0.0]]), torch.tensor([[0.1], [0.9]])).flatten().tolist()
    [0.0, 1.0]
    """
    from scipy.optimize import linear_sum_assignment

    cost = torch.cdist(x0.detach().flatten(1).double(), x.detach().flatten(1).double()) ** 2
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    order = torch.empty(len(cols), dtype=torch.long)
    order[torch.as_tensor(cols)] = torch.as_tensor(rows)  # the noise draw assigned to each point
    return x0[order.to(x0.device)]


def heun(velocity, x: torch.Tensor, K: int) -> torch.Tensor:
    """Integrate ``dx/ds = velocity(x, s)`` from ``s = 0`` to ``1`` by ``K`` Heun steps (second order).

    >>> round(heun(lambda x, s: x, torch.ones(1, dtype=torch.float64), 100).item(), 4)  # e = 2.71828...
    2.7182
    """
    h = 1.0 / K
    for i in range(K):
        s0 = torch.full((x.shape[0],), i * h, device=x.device, dtype=x.dtype)
        v0 = velocity(x, s0)
        v1 = velocity(x + h * v0, s0 + h)
        x = x + 0.5 * h * (v0 + v1)
    return x


MODELS: dict[str, type[GenerativeModel]] = {kind: globals()[name] for kind, (name, _) in MODEL_REGISTRY.items()}
"""Model name -> :class:`GenerativeModel` class, in the order of
:data:`~stability.experiments.registry.MODEL_REGISTRY` (the ``--model`` choices)."""


def make_model(kind: str, shape, **options) -> GenerativeModel:
    """Build a model of the registry :data:`MODELS` by kind for samples of ``shape``.

    Options: flow: ``transforms`` (3), ``hidden`` ((64, 64)), ``bins`` (8), ``dequantize`` (0); ddpm: ``T`` (100),
    ``hidden`` (128, vectors) / ``width`` (32, images); cfm: ``K`` (20 Heun steps), ``hidden`` / ``width``
    as ddpm, ``pairing`` (``"independent"`` or ``"ot"``, see :class:`CFM`). Vectors are shape ``(d,)``,
    images ``(1, H, W)``. Parameters are initialised from the global torch RNG.

    >>> _ = torch.manual_seed(0)
    >>> make_model("ddpm", (2,), T=25).sample(3).shape
    torch.Size([3, 2])
    """
    check_choice("model", kind, MODEL_KINDS)
    cls = MODELS[kind]
    shape = tuple(int(s) for s in shape)
    unknown = set(options) - cls.options
    if unknown:
        raise ValueError(f"options for model {kind!r} must be among {sorted(cls.options)}, got {sorted(unknown)}")
    return cls.build(shape, **options)


def parameter_vector(model: nn.Module) -> torch.Tensor:
    """All trainable parameters of ``model`` as one flat CPU ``float64`` vector (``theta``)."""
    return torch.cat([p.detach().reshape(-1).double().cpu() for p in model.parameters()])
