"""Data sets for the retraining experiments, each with a fixed, seeded train / held-out split.

Two-dimensional sets (``moons``, ``circles``, ``eight_gaussians``, ``checkerboard``; the first two
from scikit-learn's ``make_moons`` / ``make_circles``), scikit-learn's bundled 8x8 ``digits``, and
MNIST-style images from a file: the standard IDX files (``*-images-idx3-ubyte[.gz]``) or an ``.npz``
holding an ``images`` array. Nothing is downloaded and no project data file is required.

Scaling: 2-D sets are standardised with the train split's per-coordinate mean and standard deviation
(so flows' spline domains and W2 values are in comparable units); images are mapped from their
integer range to ``[-1, 1]`` and given a channel axis, shape ``(N, 1, H, W)``.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._domains import Interval, check, check_choice
from .._optional import require
from ..errors import InputError, check_memory

__all__ = ["DATASETS_2D", "Dataset", "load_dataset", "load_images", "make_2d", "split"]

DATASETS_2D = ("moons", "circles", "eight_gaussians", "checkerboard")
_NOISE = {"moons": 0.05, "circles": 0.05, "eight_gaussians": 0.1, "checkerboard": 0.0}


@dataclass(frozen=True)
class Dataset:
    """A data set split once: ``train`` (the fixed real sample of size ``n``) and ``heldout``.

    ``name`` identifies the source, ``kind`` is ``"2d"`` or ``"image"``; ``shape`` is one sample's
    shape (``(2,)`` or ``(1, H, W)``). Both tensors are ``float32`` on the CPU. Image sets carry
    their class labels (``int64``) where the source has them (the classifier of the image metrics
    needs them); otherwise the label fields are ``None``.
    """

    name: str
    kind: str
    train: torch.Tensor
    heldout: torch.Tensor
    train_labels: torch.Tensor | None = None
    heldout_labels: torch.Tensor | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])

    @property
    def n(self) -> int:
        return int(self.train.shape[0])


def _rng(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def make_2d(name: str, size: int, seed=0) -> np.ndarray:
    """``size`` points of a named 2-D distribution, shape ``(size, 2)``, unscaled.

    ``moons`` / ``circles``: scikit-learn (noise 0.05, ``factor=0.5`` for circles);
    ``eight_gaussians``: equal mixture of N(2(cos k pi/4, sin k pi/4), 0.1^2 I), k = 0..7;
    ``checkerboard``: uniform on the black squares of a 4x4 board on [-2, 2]^2.

    >>> make_2d("moons", 5, seed=0).shape
    (5, 2)
    """
    check_choice("name", name, DATASETS_2D)
    size = int(check("size", size, Interval(1, integer=True)))
    rng = _rng(seed)
    if name in ("moons", "circles"):
        datasets = require("sklearn.datasets", f"the {name} data set")
        make_circles, make_moons = datasets.make_circles, datasets.make_moons
        state = int(rng.integers(2**31 - 1))
        if name == "moons":
            x, _ = make_moons(size, noise=_NOISE[name], random_state=state)
        else:
            x, _ = make_circles(size, noise=_NOISE[name], factor=0.5, random_state=state)
        return x.astype(np.float64)
    if name == "eight_gaussians":
        k = rng.integers(0, 8, size)
        centres = 2.0 * np.stack([np.cos(k * math.pi / 4), np.sin(k * math.pi / 4)], axis=1)
        return centres + _NOISE[name] * rng.standard_normal((size, 2))
    # checkerboard: column u in [-2, 2), row chosen so that (floor(u) + floor(v)) is even
    u = rng.uniform(-2.0, 2.0, size)
    v = rng.uniform(0.0, 2.0, size) - 2.0 + 2.0 * rng.integers(0, 2, size)
    v = v + ((np.floor(u) + np.floor(v)) % 2)  # shift by one row where the square is white
    v = np.where(v >= 2.0, v - 4.0, v)
    return np.stack([u, v], axis=1)


def split(x: np.ndarray, heldout: float, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split: ``(train, heldout)`` with ``round(heldout * N)`` held-out rows."""
    heldout = float(check("heldout", heldout, Interval(0.0, 1.0, low_closed=False)))
    n_total = len(x)
    m = round(heldout * n_total)
    if m < 1 or m >= n_total:
        raise ValueError(f"heldout must leave at least one train and one held-out row, got {heldout} of {n_total}")
    perm = _rng(seed).permutation(n_total)
    return x[perm[m:]], x[perm[:m]]


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise InputError(
            f"data file {str(path)!r} is not an image file "
            "(an .npz with 'images', an .npy or an unsigned-byte IDX file: bad magic number)",
            param="data",
        )
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != math.prod(dims):
        raise ValueError(f"path {str(path)!r}: IDX header says {dims}, file holds {data.size} values")
    return data.reshape(dims)


def load_images(path) -> tuple[np.ndarray, np.ndarray | None]:
    """Images from an ``.npz`` (array ``images``), ``.npy`` or IDX file, as ``(N, H, W)`` integers 0..255.

    Returns ``(images, labels)``; labels come from the ``.npz``'s ``labels`` array or the IDX
    labels file next to the images (``*-labels-idx1-ubyte[.gz]``), else ``None``.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"data {str(path)!r} does not exist as a data set or a file (give {', '.join(DATASETS_2D)}, "
            "digits or an image file)",
            param="data",
        )
    labels = None
    kinds = "an .npz with an 'images' array, an .npy array or an IDX file"
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "images" not in z:
                    raise InputError(
                        f"data file {str(path)!r} has no 'images' array (has {sorted(z.files)})", param="data"
                    )
                images = z["images"]
                labels = z["labels"] if "labels" in z else None
        elif path.suffix == ".npy":
            images = np.load(path, allow_pickle=False)
        else:
            images = _read_idx(path)
    except InputError:
        raise
    except Exception as err:  # numpy / zipfile raise many types for files that are not what they claim
        first = (str(err).splitlines() or [type(err).__name__])[0]
        if "allow_pickle" in first:
            first = "it holds pickled Python objects, not an array of numbers"
        raise InputError(f"data file {str(path)!r} cannot be read as {kinds}: {first}", param="data") from None
    if not isinstance(images, np.ndarray) or images.dtype.kind not in "biuf":
        raise InputError(
            f"data file {str(path)!r} must hold numbers, got {getattr(images, 'dtype', type(images))}", param="data"
        )
    if path.suffix not in (".npz", ".npy"):
        sibling = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
        if sibling != path and sibling.is_file():
            labels = _read_idx(sibling)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W), got {images.shape} from {str(path)!r}")
    if labels is not None:
        labels = _check_labels(labels, len(images), path)
    return images, labels


# a feature classifier with more classes than this is not what the image metrics mean (MNIST has 10)
MAX_CLASSES = 1000


def _check_labels(labels, n_images: int, path: Path) -> np.ndarray:
    """Class labels as an int64 vector: one per image, integers in ``0..MAX_CLASSES - 1`` (integral
    floats are accepted), checked before a run folder is touched (the feature classifier needs them)."""
    where = f"data file {str(path)!r}"
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != n_images:
        raise InputError(
            f"{where}: labels must be one integer per image ({n_images}), got shape {labels.shape}", param="data"
        )
    if labels.dtype.kind not in "biuf":
        raise InputError(f"{where}: labels must be integers, got dtype {labels.dtype}", param="data")
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels) & (labels == np.round(labels))):
        bad = labels[~(labels == np.round(labels))][0]
        raise InputError(f"{where}: labels must be integers, got the value {bad:g}", param="data")
    if len(labels) and (labels.min() < 0 or labels.max() >= MAX_CLASSES):
        raise InputError(
            f"{where}: labels must be class numbers in 0..{MAX_CLASSES - 1}, got min {labels.min()}, "
            f"max {labels.max()}",
            param="data",
        )
    return labels.astype(np.int64)


def load_dataset(name: str, n: int | None = None, heldout: float = 0.2, seed=0) -> Dataset:
    """Load a data set by name (``moons``, ..., ``digits``) or image-file path, split and scaled.

    ``n``: size of the train split (the fixed real sample); for 2-D sets ``n / (1 - heldout)``
    points are generated, for images the first ``n`` train rows are kept (``None``: all).
    The split and any generation are seeded by ``seed``, so the same call gives the same tensors.

    >>> ds = load_dataset("moons", n=800, seed=0)
    >>> ds.train.shape, ds.heldout.shape
    (torch.Size([800, 2]), torch.Size([200, 2]))
    """
    rng = _rng(seed)
    heldout = float(check("heldout", heldout, Interval(0.0, 1.0, low_closed=False)))
    if n is not None:
        n = int(check("n", n, Interval(2, integer=True)))
    if name in DATASETS_2D:
        size = round((1000 if n is None else n) / (1 - heldout))
        # the points, the split copies and the scaled tensors: about 6 float64 copies of (size, 2)
        check_memory(6 * 16 * size, f"the {name!r} data set with {size} points", "lower n (--n)")
        x = make_2d(name, size, rng)
        train, held = split(x, heldout, rng)
        if n is not None:
            train = train[:n]
        mean, std = train.mean(axis=0), train.std(axis=0)
        to = lambda a: torch.as_tensor((a - mean) / std, dtype=torch.float32)  # noqa: E731
        return Dataset(name, "2d", to(train), to(held))
    if name == "digits":
        bunch = require("sklearn.datasets", "the digits data set").load_digits()
        images, labels, scale = bunch.images, bunch.target, 16.0  # values 0..16
    else:
        (images, labels), scale = load_images(name), 255.0
    idx_train, idx_held = split(np.arange(len(images)), heldout, rng)
    if n is not None:
        if n > len(idx_train):
            raise ValueError(f"n must be <= {len(idx_train)} (train rows of {name!r}), got {n}")
        idx_train = idx_train[:n]
    images = np.asarray(images, dtype=np.float64)
    to = lambda i: torch.as_tensor(2.0 * images[i] / scale - 1.0, dtype=torch.float32)[:, None]  # noqa: E731
    lab = (lambda i: None) if labels is None else (lambda i: torch.as_tensor(labels[i], dtype=torch.int64))
    return Dataset(str(name), "image", to(idx_train), to(idx_held), lab(idx_train), lab(idx_held))
