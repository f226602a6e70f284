"""Per-generation metrics against held-out real data.

* :func:`w2`: Wasserstein-2 distance between two point clouds, computed exactly (POT's network
  simplex, ``ot.emd2``) on random subsamples of ``m`` points each:
  ``W2 = (min_P sum_ij P_ij ||x_i - y_j||^2)^{1/2}`` over couplings of the uniform weights.
* :func:`heldout_nll`: ``-mean log p_theta(x)`` over held-out points (flows).
* :func:`frechet_distance`: ``||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 (S_1^{1/2} S_2 S_1^{1/2})^{1/2})``,
  the Fréchet distance of Gaussians fitted to two feature sets (Heusel et al. 2017, the FID formula),
  here in the feature space of a small classifier trained once on the real images
  (:class:`FeatureNet`, :func:`feature_net`).
* :func:`prdc_metrics`: precision / recall / density / coverage of Naeem et al. (2020) from ``k``-nearest-
  neighbour balls, in the same feature space (computed here with numpy; the ``prdc`` package's numbers,
  which the tests use as the reference, so the image protocol needs no package beyond torch and numpy).
* :func:`param_distance`: ``||theta_t - theta_0||_2``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._domains import Interval, check
from .._io import atomic_save, sha256_hex

__all__ = [
    "FeatureNet",
    "feature_net",
    "features",
    "frechet_distance",
    "heldout_nll",
    "param_distance",
    "prdc_metrics",
    "w2",
]


def _subsample(x: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= m else x[rng.choice(len(x), m, replace=False)]


def w2(x, y, m: int = 1000, seed=0) -> float:
    """Exact W2 between uniform measures on ``m``-point subsamples of ``x`` and ``y`` (rows flattened).

    ``m`` >= 1 (all rows when fewer); the subsamples are drawn without replacement with ``seed``.
    Raises ``RuntimeError`` if the network simplex stops before optimality.

    >>> x = np.zeros((3, 2)); y = x + [3.0, 4.0]
    >>> w2(x, y)
    5.0
    """
    from .._optional import require

    ot = require("ot", "W2 between samples", "experiments")

    m = int(check("m", m, Interval(1, integer=True)))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    x = _subsample(np.asarray(x, dtype=np.float64).reshape(len(x), -1), m, rng)
    y = _subsample(np.asarray(y, dtype=np.float64).reshape(len(y), -1), m, rng)
    a, b = np.full(len(x), 1.0 / len(x)), np.full(len(y), 1.0 / len(y))
    cost, log = ot.emd2(a, b, ot.dist(x, y), numItermax=10_000_000, log=True)
    if log["warning"] is not None:
        raise RuntimeError(f"exact OT did not converge: {log['warning']}")
    return float(np.sqrt(max(float(cost), 0.0)))  # cost >= 0; max only guards a -0.0 from rounding


@torch.no_grad()
def heldout_nll(model, x: torch.Tensor, batch: int = 4096) -> float:
    """``-mean log p_theta(x)`` (nats per sample) for a model with ``log_prob``."""
    device = next(model.parameters()).device
    total = sum(float(model.log_prob(x[i : i + batch].to(device)).double().sum()) for i in range(0, len(x), batch))
    return -total / len(x)


def param_distance(theta: torch.Tensor, theta0: torch.Tensor) -> float:
    """``||theta - theta0||_2`` of two flat parameter vectors."""
    return float(torch.linalg.vector_norm(theta.double() - theta0.double()))


def frechet_distance(f1, f2) -> float:
    """Fréchet distance between Gaussians fitted to feature sets ``f1 (m1, k)`` and ``f2 (m2, k)``.

    ``tr((S_1^{1/2} S_2 S_1^{1/2})^{1/2})`` is computed from symmetric eigen-decompositions (equal
    to ``tr((S_1 S_2)^{1/2})``, and real by construction).

    >>> rng = np.random.default_rng(0)
    >>> f = rng.standard_normal((500, 3))
    >>> frechet_distance(f, f + [2.0, 0.0, 0.0])  # a pure shift: ||mu_1 - mu_2||^2
    4.0
    """
    f1, f2 = np.asarray(f1, dtype=np.float64), np.asarray(f2, dtype=np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1] or min(len(f1), len(f2)) < 2:
        raise ValueError(f"f1, f2 must be (m, k) arrays with equal k and m >= 2, got {f1.shape}, {f2.shape}")
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    w, v = np.linalg.eigh(s1)
    # eigenvalues of PSD matrices come out as tiny negatives by rounding; they are zero
    s1h = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(s1h @ s2 @ s1h), 0.0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2.0 * cross)


def _pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``||a_i - b_j||`` (float64), from ``|a|^2 + |b|^2 - 2 a.b`` clipped at 0."""
    sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.clip(sq, 0.0, None))


def _kth_neighbour_radii(x: np.ndarray, k: int) -> np.ndarray:
    """Distance from each row of ``x`` to its ``k``-th nearest other row (the row itself, at 0, excluded)."""
    return np.partition(_pairwise_distances(x, x), k, axis=1)[:, k]


def prdc_metrics(real_features, fake_features, nearest_k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage (Naeem et al. 2020) with ``k = nearest_k`` neighbours.

    With ``r_i`` the distance of real point ``x_i`` to its ``k``-th nearest real neighbour and ``s_j``
    that of fake point ``y_j`` among the fakes (``B(c, r)``: the open ball):
    precision ``= mean_j 1[exists i: y_j in B(x_i, r_i)]``, recall ``= mean_i 1[exists j: x_i in B(y_j, s_j)]``,
    density ``= (1/k) mean_j #{i: y_j in B(x_i, r_i)}``, coverage ``= mean_i 1[min_j ||x_i - y_j|| < r_i]``.
    The definitions of the ``prdc`` package (strict inequalities, self excluded from the radii).

    >>> f = np.arange(20.0)[:, None]
    >>> prdc_metrics(f, f + 100.0)["precision"]  # fakes far from every real ball
    0.0
    """
    real = np.asarray(real_features, dtype=np.float64)
    fake = np.asarray(fake_features, dtype=np.float64)
    k = int(check("nearest_k", nearest_k, Interval(1, integer=True)))
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1] or min(len(real), len(fake)) <= k:
        raise ValueError(
            f"real_features, fake_features must be (m, d) arrays with equal d and more than nearest_k = {k} rows, "
            f"got {real.shape}, {fake.shape}"
        )
    r_real, r_fake = _kth_neighbour_radii(real, k), _kth_neighbour_radii(fake, k)
    d = _pairwise_distances(real, fake)  # (n_real, n_fake)
    inside_real = d < r_real[:, None]  # fake j in the ball of real i
    return {
        "precision": float(inside_real.any(axis=0).mean()),
        "recall": float((d < r_fake[None, :]).any(axis=1).mean()),
        "density": float(inside_real.sum(axis=0).mean() / k),
        "coverage": float((d.min(axis=1) < r_real).mean()),
    }


class FeatureNet(nn.Module):
    """A small CNN classifier for ``(1, H, W)`` images; ``features`` is its penultimate layer (128-d)."""

    def __init__(self, classes: int = 10, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(2 * width * 16, 128),
            nn.ReLU(),
        )
        self.head = nn.Linear(128, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def feature_net(
    train: torch.Tensor,
    labels: torch.Tensor,
    cache_dir=None,
    seed: int = 0,
    steps: int = 600,
    heldout: tuple[torch.Tensor, torch.Tensor] | None = None,
    device: str | torch.device = "cpu",
) -> tuple[FeatureNet, dict]:
    """Train (or load from ``cache_dir``) the feature classifier on real images; returns ``(net, info)``.

    Training: Adam (lr 1e-3), ``steps`` minibatches of 128 drawn with ``torch.Generator(seed)``, on
    ``device`` (the net is returned there). The cache file name is a hash of the images, labels,
    seed, steps and (unless it is the CPU) the device type, since a GPU trains a slightly different
    net, so a cached net is reused only for the same inputs. ``info`` holds the held-out accuracy
    when ``heldout`` is given.
    """
    if labels is None:
        raise ValueError("labels are required to train the feature classifier (this image set has none)")
    device = torch.device(device)
    inputs = [t.contiguous().cpu().numpy().tobytes() for t in (train, labels)]
    inputs.append(f"{seed}-{steps}".encode() + (b"" if device.type == "cpu" else device.type.encode()))
    key = sha256_hex(b"".join(inputs))[:16]  # the same digest as hashing the parts in turn
    path = None if cache_dir is None else Path(cache_dir) / f"feature_net_{key}.pt"
    net = FeatureNet(classes=int(labels.max()) + 1)
    if path is not None and path.is_file():
        blob = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(blob["state_dict"])
        return net.to(device).eval(), dict(blob["info"])
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = FeatureNet(classes=int(labels.max()) + 1).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x_train, y_train = train.to(device), labels.to(device)
    for _ in range(steps):
        idx = torch.randint(0, len(train), (128,), generator=gen).to(device)
        loss = nn.functional.cross_entropy(net(x_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    info = {"key": key, "steps": steps, "seed": seed}
    if heldout is not None:
        with torch.no_grad():
            pred = torch.cat(
                [net(heldout[0][i : i + 1024].to(device)).argmax(1).cpu() for i in range(0, len(heldout[0]), 1024)]
            )
            info["heldout_accuracy"] = float((pred == heldout[1]).double().mean())
    if path is not None:
        atomic_save({"state_dict": {k: v.cpu() for k, v in net.state_dict().items()}, "info": info}, path)
    return net, info


@torch.no_grad()
def features(net: FeatureNet, x: torch.Tensor, batch: int = 1024) -> np.ndarray:
    """Penultimate-layer features of ``x``, computed on the net's device, as a CPU array of shape ``(m, 128)``."""
    device = next(net.parameters()).device
    chunks = [net.features(x[i : i + batch].to(device)).cpu() for i in range(0, len(x), batch)]
    return torch.cat(chunks).double().numpy()
