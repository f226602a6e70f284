"""The image-scale retraining check: one resumable command sized for a short GPU window (``make gpu-validation``).

The paper's image protocol (docs/theory.md §8) on an image file such as MNIST: a DDPM with a small
U-Net is pretrained on ``n`` real images (generation 0), then each chain of the grid
lambda in {0, 0.5, 1, replace} is retrained for ``generations`` rounds on the real images plus
``floor(lambda n)`` of its own samples (:func:`stability.experiments.loop.retrain`). Every
generation is scored against held-out images in the feature space of a classifier trained in the
run on the real training images: Fréchet distance, precision and recall (k = 5), with density,
coverage and ``||theta_t - theta_0||``.

Profiles (:data:`PROFILES`): ``gpu`` (sized for one call of at most 9 minutes on one H200, see the
Makefile's comment for the measurements and the extrapolation behind it) and ``tiny`` (the same
code path in seconds on a CPU; its numbers mean nothing). Only the DDPM: the flow needs zuko, which
the GPU machine lacks, and the OT-CFM model (:class:`.models.CFM`) is not sized for the window yet.
The path needs torch and numpy only (no zuko, POT, prdc or scikit-learn: precision and recall are
computed by :func:`.metrics.prdc_metrics`).

A call starts the run in ``out/ddpm_<data stem>/`` or resumes it (the run's configuration hash must
match), stops cleanly before ``time_budget`` seconds (every finished generation is checkpointed
atomically; calling again continues), and writes next to the checkpoints:

* ``metrics.jsonl``: one row per chain and generation (``fd``, ``precision``, ``recall``, ...);
* ``gen000.png``, ``chains/<label>/genNNN.png``: a grid of 64 samples per generation;
* ``samples_by_generation.npz``: 64 samples per chain and generation as ``uint8`` images
  (keys ``<label>_genNNN``, generation 0 as ``pretrained_gen000``); ``samples.npz``: each chain's
  latest 64 samples (``float32`` in ``[-1, 1]``, the ``results/cpu`` convention the figures read);
* ``provenance.json``: commit, command, device (GPU name, torch, CUDA and cuDNN versions), wall
  time, and for every call the wall time of each phase (data, classifier, pretraining, and per
  generation: drawing, fine-tuning, evaluation, saving) and the FLOPs of the model (:func:`plan`),
  so that a later session can resize the profile from what was measured;
* ``.gitignore`` ignoring the checkpoints (``*.pt``), so that ``git add`` takes the small files only.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from .._domains import Interval, check, check_choice
from .._io import atomic_bytes, atomic_write_text, git_commit
from ..errors import InputError
from .config import RetrainConfig, default_config
from .data import DATASETS_2D
from .runs import checkpoint_path, load_checkpoint, read_config, read_metrics

__all__ = ["LAMBDAS", "PROFILES", "TIME_BUDGETS", "ValidationResult", "config_for", "measure", "plan", "run"]

LAMBDAS = ("0", "0.5", "1", "replace")
# Sizes. "gpu": see the Makefile comment above `gpu-validation` (FLOP counts of `plan`, CPU speeds,
# the H200 throughput assumed); "tiny": the same path in about a minute on one CPU thread.
PROFILES = {
    "gpu": dict(
        n=4000,
        heldout=0.2,
        generations=10,
        pretrain_steps=3000,
        finetune_steps=300,
        batch_size=256,
        lr=2e-3,
        finetune_lr=5e-4,
        eval_samples=1000,
        classifier_steps=600,
        model_options={"T": 100, "width": 32},
    ),
    "tiny": dict(
        n=64,
        heldout=0.2,
        generations=2,
        pretrain_steps=30,
        finetune_steps=4,
        batch_size=32,
        lr=2e-3,
        finetune_lr=1e-3,
        eval_samples=32,
        classifier_steps=20,
        model_options={"T": 21, "width": 8},
    ),
}
# Default time budget of one call in seconds: 480 s leaves 60 s of a 9-minute call for starting
# Python, importing torch, initialising CUDA and writing the last files.
TIME_BUDGETS = {"gpu": 480.0, "tiny": None}
_POSITIVE = Interval(0.0, low_closed=False)
_GRID = 64  # samples per image grid and per generation in samples_by_generation.npz


@dataclass(frozen=True)
class ValidationResult:
    """What one call did: the run directory, whether the run is complete, what remains
    (``(generation, chain)`` pairs), this call's wall time and the line to print."""

    run_dir: Path
    complete: bool
    remaining: tuple
    seconds: float
    message: str


def config_for(data, profile: str = "gpu", device: str = "cuda", **overrides) -> RetrainConfig:
    """The :class:`RetrainConfig` of the check: the DDPM, :data:`LAMBDAS`, the profile's sizes, then ``overrides``."""
    check_choice("profile", profile, tuple(PROFILES))
    if str(data) in DATASETS_2D:
        raise InputError(f"data must be an image data set (digits or an image file), got {data!r}", param="data")
    values = {**PROFILES[profile], "lambdas": LAMBDAS, "device": device, **overrides}
    return default_config("ddpm", str(data), "quick", **values)


def plan(config: RetrainConfig, shape=(1, 28, 28)) -> dict:
    """FLOP counts of the run (``torch.utils.flop_counter``: multiply-adds count 2), for sizing.

    ``train_flops_per_image``: one training step's forward and backward per image;
    ``forward_flops_per_image``: one denoiser evaluation (a sample needs ``T`` of them);
    ``pretrain_flops``: pretraining plus the generation-0 evaluation; ``generation_flops``: one
    generation of every chain (fine-tuning, the ``floor(lambda n)`` (or ``n``) samples drawn, the
    evaluation samples); ``total_flops``: pretraining and every generation. Evaluation is counted
    at ``eval_samples`` samples (the run draws ``min(eval_samples, held-out size)``).
    """
    from torch.utils.flop_counter import FlopCounterMode

    from .config import build_model, chain_scheme

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(config, shape)
        x = torch.randn(2, *shape)
        with FlopCounterMode(display=False) as count:
            model.loss(x).backward()
        train = count.get_total_flops() / 2
        with torch.no_grad(), FlopCounterMode(display=False) as count:
            model.net(x, torch.zeros(2, dtype=torch.long))
        forward = count.get_total_flops() / 2
    T, n = model.T, config.n
    m = config.eval_samples
    step = config.batch_size * train
    sample = T * forward
    drawn = sum(chain_scheme(c)[0].synthetic(n, chain_scheme(c)[1]) for c in config.lambdas)
    per_generation = len(config.lambdas) * (config.finetune_steps * step + m * sample) + drawn * sample
    pretrain = config.pretrain_steps * step + m * sample
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_flops_per_image": train,
        "forward_flops_per_image": forward,
        "T": T,
        "images_drawn_per_generation": drawn + len(config.lambdas) * m,
        "pretrain_flops": pretrain,
        "generation_flops": per_generation,
        "total_flops": pretrain + config.generations * per_generation,
    }


def measure(config: RetrainConfig, shape=(1, 28, 28), repeats: int = 3) -> dict:
    """Time the model of ``config`` on its device: training steps at ``batch_size`` and denoiser calls.

    After one warm-up of each, ``repeats`` Adam steps on random images and ``repeats`` denoiser calls
    on ``batch_size`` images are timed (the device synchronised); with :func:`plan`'s FLOP counts this
    gives the achieved FLOP/s and the predicted time of the whole run. Seconds of work; no data needed.
    """
    from .loop import _device, _sync

    device = _device(config.device)
    costs = plan(config, shape)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        from .config import build_model

        model = build_model(config, shape).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
        x = torch.randn(config.batch_size, *shape, device=device)
        t = torch.zeros(config.batch_size, dtype=torch.long, device=device)

        def step():
            opt.zero_grad()
            model.loss(x).backward()
            opt.step()

        timed = {}
        for name, fn in (("train_step", step), ("denoiser_call", torch.no_grad()(lambda: model.net(x, t)))):
            fn()
            _sync(device)
            start = time.perf_counter()
            for _ in range(repeats):
                fn()
            _sync(device)
            timed[name] = (time.perf_counter() - start) / repeats
    b = config.batch_size
    train_rate = costs["train_flops_per_image"] * b / timed["train_step"]
    sample_rate = costs["forward_flops_per_image"] * b / timed["denoiser_call"]
    train_flops = config.pretrain_steps + config.generations * len(config.lambdas) * config.finetune_steps
    train_flops *= costs["train_flops_per_image"] * b
    sample_flops = costs["total_flops"] - train_flops
    return {
        "device": str(device),
        "batch_size": b,
        "train_steps_per_second": 1.0 / timed["train_step"],
        "seconds_per_sample": costs["T"] * timed["denoiser_call"] / b,
        "train_flops_per_second": train_rate,
        "sample_flops_per_second": sample_rate,
        "predicted_run_seconds": train_flops / train_rate + sample_flops / sample_rate,
        "plan": costs,
    }


def _shape(data) -> tuple:
    """One image's shape ``(1, H, W)`` as the loaders give it (digits: 8 x 8; files: read from the header)."""
    from .data import load_images

    if str(data) == "digits":
        return (1, 8, 8)
    images, _ = load_images(data)
    return (1, *images.shape[1:])


def _machine(device: str) -> dict:
    dev = torch.device(device)
    info = {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(dev),
    }
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        info.update(
            gpu=props.name,
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            capability=list(torch.cuda.get_device_capability(dev)),
        )
    return info


def _uint8(x: torch.Tensor) -> np.ndarray:
    return ((x.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8).numpy()


def _write_samples(run_dir: Path, config: RetrainConfig, ident: str, rows) -> None:
    """``samples_by_generation.npz`` (every generation done, uint8) and ``samples.npz`` (latest, float32)."""
    import io

    by_gen, latest = {}, {}
    blob0 = load_checkpoint(checkpoint_path(run_dir, None, 0), ident, None, 0)
    by_gen["pretrained_gen000"] = _uint8(blob0["samples"][:_GRID])
    for chain in config.lambdas:
        last = max((r["generation"] for r in rows if r["chain"] == chain), default=0)
        latest[chain] = blob0["samples"][:_GRID]
        for g in range(1, last + 1):
            samples = load_checkpoint(checkpoint_path(run_dir, chain, g), ident, chain, g)["samples"][:_GRID]
            by_gen[f"{chain}_gen{g:03d}"] = _uint8(samples)
            latest[chain] = samples
    for name, arrays in (("samples_by_generation.npz", by_gen), ("samples.npz", latest)):
        buf = io.BytesIO()
        np.savez_compressed(buf, **{k: np.asarray(v) for k, v in arrays.items()})
        atomic_bytes(buf.getvalue(), run_dir / name)


def _remaining_text(remaining, chains) -> str:
    """``"generation 3: 1, replace; generations 4-10: every chain"``."""
    by_generation = {}
    for g, chain in remaining:
        by_generation.setdefault(g, []).append(chain)
    parts = [f"generation {g}: {', '.join(cs)}" for g, cs in sorted(by_generation.items()) if len(cs) < len(chains)]
    full = sorted(g for g, cs in by_generation.items() if len(cs) == len(chains))
    if full:
        parts.append(
            f"generation {full[0]}: every chain" if len(full) == 1 else f"generations {full[0]}-{full[-1]}: every chain"
        )
    return "; ".join(parts)


def run(
    data,
    out,
    profile: str = "gpu",
    device: str = "cuda",
    time_budget: float | None = None,
    *,
    generations: int | None = None,
    seed: int = 0,
    progress: bool = True,
    command: str | None = None,
    commit: str | None = None,
    started: float | None = None,
) -> ValidationResult:
    """Start or continue the check in ``out/ddpm_<data stem>/``; see the module docstring.

    ``time_budget`` (seconds, ``None``: the profile's :data:`TIME_BUDGETS`) is counted from
    ``started`` (a :func:`time.perf_counter` value; default: now), so a command line can count its
    own start-up. ``generations`` overrides the profile's (more than before extends a finished run).
    ``command`` and ``commit`` are recorded in the provenance (default: ``sys.argv`` and ``git``, with
    ``+dirty`` when the code differs from the commit; ``unknown`` where there is no ``.git``).
    """
    from .loop import _check_run_dir, _device, retrain

    started = time.perf_counter() if started is None else started
    overrides = {"seed": seed} if generations is None else {"seed": seed, "generations": generations}
    config = config_for(data, profile, device, **overrides)
    budget = TIME_BUDGETS[profile] if time_budget is None else float(check("time_budget", time_budget, _POSITIVE))
    run_dir = Path(out) / f"ddpm_{Path(str(data)).stem}"
    resume = (run_dir / "config.json").is_file()
    begun = datetime.now(timezone.utc)
    _device(config.device)  # the device first: its error is the one to see on a machine without CUDA
    _check_run_dir(run_dir)  # then the folder, then the data (read by plan's _shape), as retrain checks them
    costs = plan(config, _shape(data))  # before the run, so that its cost counts in the budget
    # what follows the run (samples, provenance) gets a reserve: 5 % of the budget, at most 10 s
    left = None if budget is None else max(0.0, budget - min(10.0, 0.05 * budget) - (time.perf_counter() - started))
    result = retrain(config, run_dir, resume=resume, progress=progress, plots=True, time_budget=left)  # 0: one step
    ident = read_config(run_dir)["hash"]
    rows = read_metrics(run_dir)
    _write_samples(run_dir, config, ident, rows)
    if not (run_dir / ".gitignore").is_file():
        atomic_write_text(
            "# checkpoints and the feature-net cache: large, and not needed to draw or tabulate the run\n*.pt\n",
            run_dir / ".gitignore",
        )
    seconds = time.perf_counter() - started
    total = len(config.lambdas) * config.generations
    done = total - len(result.remaining)
    if result.complete:
        message = f"complete: {done} of {total} generations ({len(config.lambdas)} chains) in {run_dir}"
    else:
        message = (
            f"stopped before the time budget ({budget:g} s) after {seconds:.0f} s: {done} of {total} generations "
            f"done, {len(result.remaining)} remain ({_remaining_text(result.remaining, config.lambdas)}); every "
            f"finished generation is checkpointed in {run_dir}: run the same command again to continue"
        )
    _write_provenance(run_dir, config, result, rows, begun, seconds, budget, command, commit, message, costs)
    return ValidationResult(run_dir, result.complete, result.remaining, seconds, message)


def _write_provenance(run_dir, config, result, rows, begun, seconds, budget, command, commit, message, costs) -> None:
    path = run_dir / "provenance.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    calls = list(old.get("calls", []))
    calls.append(
        {
            "start": begun.isoformat(timespec="seconds"),
            "wall_seconds": round(seconds, 2),
            "time_budget": budget,
            "command": command if command is not None else " ".join(sys.argv),
            "commit": commit or git_commit(short=True) or "unknown",
            "machine": _machine(config.device),
            "outcome": message,
            "steps": list(result.timings),
        }
    )
    last = calls[-1]
    prov = {
        "commit": last["commit"],
        "date": begun.strftime("%Y-%m-%d"),
        "command": last["command"],
        "machine": last["machine"],
        "status": "complete" if result.complete else "incomplete",
        "remaining": [list(r) for r in result.remaining],
        "wall_seconds": round(sum(c["wall_seconds"] for c in calls), 2),
        "compute_seconds": round(sum(float(r.get("seconds") or 0.0) for r in rows), 2),
        "plan": costs,
        "calls": calls,
    }
    atomic_write_text(json.dumps(prov, indent=1) + "\n", path)
