"""The retraining protocol of the experiments of Bertrand et al. (2024), in memory and resumable.

Generation 0 is the model pretrained on the fixed real training set (``n`` points). Each chain
(one per entry of the lambda grid) then repeats, for ``t = 1..generations``:

1. draw fresh samples from the current model ``theta_{t-1}``;
2. build the training set in memory according to the scheme:
   ``fixed-real`` (lambda >= 0, the paper's): the ``n`` real points plus ``floor(lambda n)`` samples,
   so the synthetic share is ``w = lambda / (1 + lambda)`` (THEORY.md §1);
   ``replace``: ``n`` samples only (fully synthetic, lambda = inf);
   ``accumulate``: the real points plus every sample drawn so far, ``n`` new ones per round
   (Gerstgrasser et al. 2024; THEORY.md §7);
3. fine-tune from ``theta_{t-1}`` for a fixed budget (``finetune_steps`` Adam steps on uniform
   minibatches of that set, a fresh optimiser each round), giving ``theta_t``;
4. evaluate against the held-out real data and write an atomic checkpoint and a metrics row.

Reproducibility: every random draw of generation ``t`` of chain ``c`` (model samples, minibatches,
diffusion noise, evaluation subsamples) comes from generators seeded by ``(seed, c, t)`` at the
start of that generation. The only state carried from one generation to the next is therefore in
the checkpoint (the weights, and the sample pool for ``accumulate``), so a run killed at any point
and resumed from its last complete generation gives the same numbers as an uninterrupted run on the
CPU (GPU kernels may be non-deterministic).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .._domains import Interval, check, check_choice, check_seed
from ..errors import InputError, OutputError, check_memory
from .data import load_dataset
from .metrics import feature_net, features, frechet_distance, heldout_nll, param_distance, prdc_metrics, w2
from .models import MODEL_KINDS, make_model, parameter_vector
from .runs import (
    FORMAT,
    CheckpointError,
    atomic_save,
    atomic_write_text,
    checkpoint_path,
    config_hash,
    load_checkpoint,
    read_config,
    sort_rows,
)

__all__ = [
    "DEFAULT_LAMBDAS",
    "METRIC_KEYS",
    "RetrainConfig",
    "RetrainResult",
    "build_model",
    "chain_label",
    "default_config",
    "flow_parameters",
    "load_model",
    "parse_chain",
    "retrain",
    "summary_table",
]

DEFAULT_LAMBDAS = ("0", "0.25", "0.5", "1", "replace")
METRIC_KEYS = ("w2", "nll", "nll_bpd", "fd", "precision", "recall", "density", "coverage", "param_dist")


def chain_label(value) -> str:
    """Canonical label of a lambda-grid entry: a number ``>= 0`` (``"0.5"``), ``"replace"`` or ``"accumulate"``.

    >>> [chain_label(v) for v in (0, "0.50", 1.0, "replace")]
    ['0', '0.5', '1', 'replace']
    """
    if isinstance(value, str) and value in ("replace", "accumulate"):
        return value
    try:
        lam = float(value)
    except (TypeError, ValueError):
        raise InputError(f"lambda must be a number >= 0, 'replace' or 'accumulate', got {value!r}") from None
    if not math.isfinite(lam):
        raise InputError(f"lambda must be finite (use 'replace' for the fully synthetic limit), got {value!r}")
    return f"{float(check('lambda_', lam, Interval(0.0))):g}"


def parse_chain(label: str) -> tuple[str, float]:
    """``(scheme, lambda)`` of a chain label: ``("fixed-real", lam)``, ``("replace", inf)``, ``("accumulate", 1)``."""
    if label == "replace":
        return "replace", math.inf
    if label == "accumulate":
        return "accumulate", 1.0
    return "fixed-real", float(label)


@dataclass(frozen=True)
class RetrainConfig:
    """Everything that determines a retraining run's numbers (its hash is the run's identity).

    ``model``: ``"flow"`` or ``"ddpm"``; ``data``: a data-set name or image-file path;
    ``lambdas``: chain labels (see :func:`chain_label`); ``generations`` >= 1; ``n``: size of the
    real training set (``None``: the loader's default); ``heldout`` in (0, 1); ``pretrain_steps``,
    ``finetune_steps`` >= 1 (Adam steps); ``batch_size`` >= 1; ``lr`` > 0: pretraining's initial
    learning rate (cosine-annealed to 0 over ``pretrain_steps``, so generation 0 is close to a local
    optimum); ``finetune_lr`` > 0: the constant learning rate of each round; ``eval_samples`` >= 2:
    the number of points compared at evaluation, ``m = min(eval_samples, held-out size)``: ``m``
    model samples against ``m`` held-out points (W2 subsample size; feature sets for images);
    ``classifier_steps`` >= 1: training steps of the image metrics' feature classifier;
    ``model_options``: passed to :func:`make_model`; ``device``: torch device.
    ``generations`` is left out of the hash so a finished run can be extended with ``resume``.
    """

    model: str
    data: str
    lambdas: tuple = DEFAULT_LAMBDAS
    generations: int = 5
    n: int | None = 1000
    heldout: float = 0.2
    seed: int = 0
    pretrain_steps: int = 1500
    finetune_steps: int = 200
    batch_size: int = 256
    lr: float = 1e-3
    finetune_lr: float = 1e-3
    eval_samples: int = 1000
    classifier_steps: int = 600
    model_options: dict = field(default_factory=dict)
    device: str = "cpu"

    def __post_init__(self):
        check_choice("model", self.model, MODEL_KINDS)
        labels = tuple(chain_label(v) for v in self.lambdas)
        if not labels or len(set(labels)) != len(labels):
            raise InputError(f"lambdas must be a non-empty list without repeats, got {list(self.lambdas)}")
        object.__setattr__(self, "lambdas", labels)
        for name in ("generations", "pretrain_steps", "finetune_steps", "batch_size"):
            check(name, getattr(self, name), Interval(1, integer=True))
        check("eval_samples", self.eval_samples, Interval(2, integer=True))
        check("classifier_steps", self.classifier_steps, Interval(1, integer=True))
        check("heldout", self.heldout, Interval(0.0, 1.0, low_closed=False))
        check_seed("seed", self.seed, allow_generator=False)
        if self.n is not None:
            check("n", self.n, Interval(2, integer=True))
        check("lr", self.lr, Interval(0.0, low_closed=False))
        check("finetune_lr", self.finetune_lr, Interval(0.0, low_closed=False))
        object.__setattr__(self, "model_options", dict(self.model_options))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["lambdas"] = list(self.lambdas)
        return d

    def identity(self) -> str:
        return config_hash(self.to_dict())


@dataclass(frozen=True)
class RetrainResult:
    """What :func:`retrain` did: the run directory, every metrics row, and where each chain resumed."""

    run_dir: Path
    rows: tuple
    resumed_from: dict

    def summary(self) -> str:
        """A text table: per chain, each metric at generation 0 and at the last generation."""
        return summary_table(self.rows)

    def series(self, chain: str, key: str) -> np.ndarray:
        """Metric ``key`` of ``chain`` for generations ``0..T`` as an array."""
        rows = sorted((r for r in self.rows if r["chain"] == chain), key=lambda r: r["generation"])
        return np.array([r[key] for r in rows], dtype=float)


# Default sizes. "quick": the CPU quick profile (a few minutes per model on 2 cores);
# "tiny": seconds, for CI smoke runs and figure fast modes (numbers are not meaningful).
_PROFILES = {
    ("2d", "quick"): dict(
        n=1000,
        heldout=0.5,
        generations=10,
        pretrain_steps=2000,
        finetune_steps=200,
        batch_size=256,
        lr=1e-3,
        finetune_lr=3e-4,
        eval_samples=1000,
    ),
    ("2d", "tiny"): dict(
        n=300,
        heldout=0.5,
        generations=2,
        pretrain_steps=150,
        finetune_steps=30,
        batch_size=128,
        lr=3e-3,
        finetune_lr=1e-3,
        eval_samples=300,
    ),
    ("image", "quick"): dict(
        n=None,
        heldout=0.2,
        generations=5,
        pretrain_steps=2000,
        finetune_steps=300,
        batch_size=128,
        lr=2e-3,
        finetune_lr=5e-4,
        eval_samples=1000,
    ),
    ("image", "tiny"): dict(
        n=256,
        heldout=0.2,
        generations=2,
        pretrain_steps=60,
        finetune_steps=10,
        batch_size=64,
        lr=2e-3,
        finetune_lr=1e-3,
        eval_samples=128,
        classifier_steps=150,
    ),
}
# DDPM steps are ~3x cheaper than flow steps and it needs more of them to fit the moons.
_MODEL_PROFILES = {("ddpm", "2d", "quick"): dict(pretrain_steps=8000)}
_MODEL_OPTIONS = {
    ("ddpm", "2d"): {"T": 100, "hidden": 128},
    ("ddpm", "image"): {"T": 50, "width": 16},
    ("flow", "2d"): {"transforms": 3, "hidden": [64, 64]},
    ("flow", "image"): {"transforms": 3, "hidden": [256, 256]},
}


def default_config(model: str, data: str, profile: str = "quick", **overrides) -> RetrainConfig:
    """A :class:`RetrainConfig` with the profile's defaults for the data's kind, then ``overrides``.

    ``profile``: ``"quick"`` (the CPU quick profile) or ``"tiny"`` (seconds; smoke tests).

    >>> default_config("flow", "moons", "tiny", generations=3).generations
    3
    """
    from .data import DATASETS_2D

    check_choice("profile", profile, ("quick", "tiny"))
    check_choice("model", model, MODEL_KINDS)
    kind = "2d" if data in DATASETS_2D else "image"
    options = dict(_MODEL_OPTIONS[model, kind])
    if model == "flow" and kind == "image":  # the grid spacing of the scaled pixels: 2 / 16 or 2 / 255
        options["dequantize"] = 2.0 / 16.0 if data == "digits" else 2.0 / 255.0
    values = {
        **_PROFILES[kind, profile],
        **_MODEL_PROFILES.get((model, kind, profile), {}),
        "model_options": options,
        **overrides,
    }
    return RetrainConfig(model=model, data=str(data), **values)


def build_model(config: RetrainConfig, shape) -> torch.nn.Module:
    """The model of ``config`` for samples of ``shape`` (parameters from the global torch RNG)."""
    return make_model(config.model, shape, **config.model_options)


def _seed(seed: int, chain: str | None, generation: int, stream: int = 0) -> int:
    key = zlib.crc32((chain or "pretrain").encode())
    return int(np.random.SeedSequence([seed, key, generation, stream]).generate_state(1)[0])


def _fit(model, x, steps, batch_size, lr, progress, desc, cosine=False):
    from tqdm.auto import tqdm

    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if cosine else None
    bar = tqdm(range(steps), desc=desc, leave=False, disable=not progress)
    for step in bar:
        idx = torch.randint(0, len(x), (batch_size,), device=x.device)
        loss = model.loss(x[idx])
        if not torch.isfinite(loss):
            raise RuntimeError(f"training diverged ({desc}, step {step}): loss {float(loss)}")
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{float(loss.detach()):.3g}")
    model.eval()


def _draw(model, m: int, chunk: int = 4096) -> torch.Tensor:
    model.eval()
    return torch.cat([model.sample(min(chunk, m - i)) for i in range(0, m, chunk)]) if m else None


class _Evaluator:
    def __init__(self, config, data, run_dir):
        self.config, self.data = config, data
        self.m = min(config.eval_samples, len(data.heldout))
        self.net = None
        if data.kind == "image":
            self.net, self.net_info = feature_net(
                data.train,
                data.train_labels,
                cache_dir=run_dir,
                seed=config.seed,
                steps=config.classifier_steps,
                heldout=(data.heldout, data.heldout_labels),
            )
            self.real = features(self.net, data.heldout[: self.m])

    def __call__(self, model, theta0, seed) -> tuple[dict, torch.Tensor]:
        rng = np.random.default_rng(seed)
        samples = _draw(model, self.m).cpu()
        row = {"param_dist": param_distance(parameter_vector(model), theta0)}
        if self.data.kind == "2d":
            row["w2"] = w2(samples, self.data.heldout, m=self.m, seed=rng)
        else:
            fake = features(self.net, samples[: self.m].clamp(-1.0, 1.0))
            row["fd"] = frechet_distance(self.real, fake)
            row.update(prdc_metrics(self.real, fake, nearest_k=5))
        if hasattr(model, "log_prob"):
            device = next(model.parameters()).device
            heldout = self.data.heldout.to(device)
            if getattr(model, "dequantize", 0.0):
                row["nll_bpd"] = model.bits_per_dim(heldout)
            else:
                row["nll"] = heldout_nll(model, heldout)
        return row, samples[:512]


def _plot(samples: torch.Tensor, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .runs import _atomic_bytes

    if samples.dim() == 2:
        fig, ax = plt.subplots(figsize=(3, 3))
        ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.5)
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
    else:
        k = int(math.sqrt(min(64, len(samples))))
        tiles = torch.nn.functional.pad(samples[: k * k, 0].clamp(-1, 1), (1, 1, 1, 1), value=-1.0)
        h, w = tiles.shape[-2:]
        fig, ax = plt.subplots(figsize=(3, 3))
        ax.imshow(tiles.reshape(k, k, h, w).permute(0, 2, 1, 3).reshape(k * h, k * w), cmap="gray_r", vmin=-1, vmax=1)
        ax.axis("off")
    ax.set_title(title, fontsize=8)
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    _atomic_bytes(buf.getvalue(), path)


def summary_table(rows) -> str:
    """A text table: per chain, each metric at generation 0 and at the last generation."""
    chains = list(dict.fromkeys(r["chain"] for r in rows))
    keys = [k for k in METRIC_KEYS if any(k in r for r in rows)]
    head = f"{'chain':>10} {'gens':>4} " + " ".join(f"{k + ' 0→T':>20}" for k in keys)
    lines = [head, "-" * len(head)]
    for c in chains:
        rs = sorted((r for r in rows if r["chain"] == c), key=lambda r: r["generation"])
        cells = [f"{rs[0][k]:9.4g}→{rs[-1][k]:<9.4g}" if k in rs[0] else f"{'-':>20}" for k in keys]
        lines.append(f"{c:>10} {rs[-1]['generation']:>4} " + " ".join(f"{s:>20}" for s in cells))
    return "\n".join(lines)


def _row(chain, generation, metrics, seconds):
    return {"chain": chain, "scheme": parse_chain(chain)[0], "generation": generation, **metrics, "seconds": seconds}


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError(f"device must be a torch device such as 'cpu' or 'cuda', got {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name!r} is not available here (torch.cuda.is_available() is False)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise InputError(f"device {name!r} is not available here ({torch.cuda.device_count()} CUDA devices)")
    return device


class RunExistsError(InputError):
    """``out`` already holds a run and ``resume`` was not asked for."""


def _check_run_dir(out) -> Path:
    """``out`` as a path, after checking it is (or can be created as) a writable folder."""
    if out is None or str(out).strip() == "":
        raise InputError(f"out must be a folder name, got {str(out)!r}")
    run_dir = Path(out)
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputError(f"out {str(run_dir)!r} is a file, not a folder: choose a folder for the run")
    existing = run_dir
    while not existing.exists():  # the nearest existing ancestor must be a writable folder
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"out {str(run_dir)!r}: {str(existing)!r} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"out {str(run_dir)!r}: no permission to write in {str(existing)!r}")
    return run_dir


# bytes per stored float in the training sets (float32) and copies alive at once (the set, its
# concatenation, a minibatch index, the model's samples)
_RETRAIN_COPIES = 4


def _check_retrain_memory(config: RetrainConfig, data) -> None:
    """Refuse, before training, a run whose largest training set would not fit in memory."""
    n = len(data.train)
    point = 4 * math.prod(data.shape)
    largest = n  # replace: n samples
    for chain in config.lambdas:
        scheme, lam = parse_chain(chain)
        if scheme == "fixed-real":
            largest = max(largest, n + math.floor(lam * n))
        elif scheme == "accumulate":
            largest = max(largest, n + config.generations * n)
    largest = max(largest, config.eval_samples)
    check_memory(
        _RETRAIN_COPIES * largest * point,
        f"retrain's largest training set ({largest} points of shape {tuple(data.shape)})",
        "lower n (--n), the lambdas (--lambda) or, for accumulate, the generations (--generations)",
    )


def retrain(
    config: RetrainConfig, out, resume: bool = False, progress: bool = True, plots: bool = False
) -> RetrainResult:
    """Run (or resume) the retraining protocol of ``config`` in the run directory ``out``.

    ``resume=False`` refuses a folder that already holds a run; ``resume=True`` validates every
    checkpoint present (raising :class:`CheckpointError` for a corrupt or foreign one) and continues
    each chain from its last complete generation. ``plots``: save a scatter plot / image grid of each
    generation's samples. ``progress``: tqdm bars (stderr) per generation and per training loop.
    Returns a :class:`RetrainResult` (its ``summary()`` is the table the command line prints).
    """
    from tqdm.auto import tqdm

    # everything is validated before the run directory is touched: a failed start leaves it as it was
    run_dir = _check_run_dir(out)
    _device(config.device)
    ident = config.identity()
    if (run_dir / "config.json").exists():
        if not resume:
            raise RunExistsError(
                f"out {str(run_dir)!r} already holds a run: pass resume (--resume) or choose a new folder"
            )
        stored = read_config(run_dir)
        old = stored["config"]
        if config_hash(old) != ident:
            new = config.to_dict()
            diff = sorted(k for k in set(old) | set(new) if k != "generations" and old.get(k) != new.get(k))
            raise CheckpointError(f"out {str(run_dir)!r} holds a run with another configuration (differs in {diff})")
    data = load_dataset(config.data, n=config.n, heldout=config.heldout, seed=config.seed)
    _check_retrain_memory(config, data)
    run_dir.mkdir(parents=True, exist_ok=True)
    for tmp in run_dir.rglob(".*.tmp"):  # our own temporary files, left by a killed writer
        tmp.unlink()
    atomic_write_text(json.dumps({"config": config.to_dict(), "hash": ident}, indent=1) + "\n", run_dir / "config.json")

    device = _device(config.device)
    train = data.train.to(device)
    evaluate = _Evaluator(config, data, run_dir)

    def save(chain, generation, model, metrics, samples, pool=None):
        blob = {
            "format": FORMAT,
            "config_hash": ident,
            "chain": chain,
            "generation": generation,
            "shape": list(data.shape),
            "state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
            "metrics": metrics,
            "samples": samples,
        }
        if pool is not None:
            blob["pool"] = pool.cpu()
        atomic_save(blob, checkpoint_path(run_dir, chain, generation))

    # generation 0: pretraining on the real data
    path0 = checkpoint_path(run_dir, None, 0)
    if path0.exists():
        blob0 = load_checkpoint(path0, ident, None, 0)
        torch.manual_seed(_seed(config.seed, None, 0))  # so that parameter shapes are built identically
        model0 = build_model(config, data.shape)
        model0.load_state_dict(blob0["state_dict"])
        metrics0 = blob0["metrics"]
    else:
        start = time.perf_counter()
        torch.manual_seed(_seed(config.seed, None, 0))
        model0 = build_model(config, data.shape).to(device)
        _fit(model0, train, config.pretrain_steps, config.batch_size, config.lr, progress, "pretrain", cosine=True)
        theta0 = parameter_vector(model0)
        metrics0, samples0 = evaluate(model0, theta0, _seed(config.seed, None, 0, 1))
        metrics0["seconds"] = time.perf_counter() - start
        save(None, 0, model0, metrics0, samples0)
        if plots:
            _plot(samples0, run_dir / "gen000.png", "generation 0 (pretrained)")
    model0 = model0.to(device)
    theta0 = parameter_vector(model0)
    state0 = {k: v.clone() for k, v in model0.state_dict().items()}

    # find each chain's last complete generation and rebuild metrics.jsonl from the checkpoints
    rows, last, blobs = [], {}, {}
    for chain in config.lambdas:
        rows.append(_row(chain, 0, {k: v for k, v in metrics0.items() if k != "seconds"}, metrics0.get("seconds")))
        g = 0
        while checkpoint_path(run_dir, chain, g + 1).exists() and g < config.generations:
            blob = load_checkpoint(checkpoint_path(run_dir, chain, g + 1), ident, chain, g + 1)
            m = dict(blob["metrics"])
            rows.append(_row(chain, g + 1, {k: v for k, v in m.items() if k != "seconds"}, m.get("seconds")))
            g, blobs[chain] = g + 1, blob
        last[chain] = g
    atomic_write_text("".join(json.dumps(r) + "\n" for r in rows), run_dir / "metrics.jsonl")

    n_real = len(train)
    total = len(config.lambdas) * config.generations
    outer = tqdm(total=total, initial=sum(last.values()), desc="generations", disable=not progress)
    for chain in config.lambdas:
        scheme, lam = parse_chain(chain)
        model = model0
        model.load_state_dict(blobs[chain]["state_dict"] if chain in blobs else state0)
        pool = blobs[chain].get("pool") if chain in blobs else None
        pool = pool.to(device) if pool is not None else None
        for g in range(last[chain] + 1, config.generations + 1):
            start = time.perf_counter()
            torch.manual_seed(_seed(config.seed, chain, g))
            if scheme == "fixed-real":
                fresh = _draw(model, math.floor(lam * n_real))
                x = train if fresh is None else torch.cat([train, fresh])
            elif scheme == "replace":
                x = _draw(model, n_real)
            else:
                fresh = _draw(model, n_real)
                pool = fresh if pool is None else torch.cat([pool, fresh])
                x = torch.cat([train, pool])
            _fit(model, x, config.finetune_steps, config.batch_size, config.finetune_lr, progress, f"λ={chain} gen {g}")
            metrics, samples = evaluate(model, theta0, _seed(config.seed, chain, g, 1))
            seconds = time.perf_counter() - start
            save(chain, g, model, {**metrics, "seconds": seconds}, samples, pool if scheme == "accumulate" else None)
            row = _row(chain, g, metrics, seconds)
            rows.append(row)  # rewritten whole and atomically: never a half-written line
            atomic_write_text("".join(json.dumps(r) + "\n" for r in rows), run_dir / "metrics.jsonl")
            if plots:
                _plot(samples, run_dir / "chains" / chain / f"gen{g:03d}.png", f"λ={chain}, generation {g}")
            outer.update(1)
    outer.close()
    rows = sort_rows(rows, config.lambdas)
    atomic_write_text("".join(json.dumps(r) + "\n" for r in rows), run_dir / "metrics.jsonl")
    return RetrainResult(run_dir, tuple(rows), dict(last))


# Loading trained models needs the config and the model builder above, so it lives here, not in
# runs (which only reads and writes files): runs -> loop would close an import cycle.
def load_model(run_dir, chain: str, generation: int, device: str = "cpu") -> torch.nn.Module:
    """The model of ``chain`` at ``generation`` from a run directory, in eval mode."""
    blob_cfg = read_config(run_dir)
    cfg = RetrainConfig(**blob_cfg["config"])
    blob = load_checkpoint(checkpoint_path(run_dir, chain, generation), blob_cfg["hash"], chain, generation)
    model = build_model(cfg, tuple(blob["shape"]))
    model.load_state_dict(blob["state_dict"])
    return model.to(device).eval()


def flow_parameters(run_dir, chain: str) -> np.ndarray:
    """``theta_t`` for ``t = 0..T`` of one chain, shape ``(T + 1, d)`` (float64), from its checkpoints.

    Works for any model kind; the theory applies exactly to flows (THEORY.md §8). Stops at the
    last generation present, so a run in progress gives the generations done so far.
    """
    lambdas = read_config(run_dir)["config"].get("lambdas", [])
    if chain is not None and chain not in lambdas:
        raise ValueError(f"chain must be one of {lambdas} (the run's lambdas) or None (pretraining), got {chain!r}")
    thetas, g = [], 0
    while checkpoint_path(run_dir, chain, g).is_file() and (chain is not None or g == 0):
        thetas.append(parameter_vector(load_model(run_dir, chain, g)).numpy())
        g += 1
    if not thetas:
        raise ValueError(f"run_dir {str(run_dir)!r} has no checkpoints")
    return np.stack(thetas)
