"""Iterative retraining of a DDPM on 8x8 digits for the lambda grid (analogue of the paper's CIFAR-10/FFHQ runs).

From real runs (``stability retrain --model ddpm --data digits``): generation 0 is a small U-Net
DDPM pretrained on scikit-learn's digits (1438 training images); each generation fine-tunes on the
real images plus floor(lambda n) fresh samples (``replace``: n samples only). Metrics against the
359 held-out images, in the 128-d feature space of a small CNN classifier trained once on the real
training images: Fréchet distance (lower is better), precision and recall (Naeem et al. 2020, k = 5).
Bottom: samples at the last generation.

Reuse: the run stored in ``results/cpu/ddpm_digits`` (metrics and 64 last-generation samples per
chain) is drawn when its configuration equals the quick profile's; otherwise the run is computed in
``runs/fig_retrain_images`` (resumable) and stored there. ``--full`` (``make figures FULL=1``)
recomputes it from scratch. ``--fast``: a tiny run (curves not meaningful).

GPU: the first image run under ``results/gpu/`` (``make gpu-validation``: a DDPM on MNIST), when one
is stored, adds a row of its Fréchet distance / precision / recall curves and a row of its latest
samples per chain, titled with the device and the commit from its ``provenance.json`` (and what
remains, for a run its time budget stopped). ``--gpu DIR`` draws another folder of such runs.
"""

import json
import shutil
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from _common import parse_args, save
from _stored import compute_seconds, full_requested, reuse_line, store_run, stored_run, stored_samples, timer

from stability.experiments import default_config, load_samples, read_metrics, retrain

ROOT = Path(__file__).resolve().parent.parent
GPU = ROOT / "results" / "gpu"
KEYS = (
    ("fd", "Fréchet distance (classifier features)", "Fréchet distance (lower is better)"),
    ("precision", "precision", "precision (higher is better)"),
    ("recall", "recall", "recall (higher is better)"),
)


def _label(chain: str) -> str:
    return r"$\lambda=\infty$ (replace)" if chain == "replace" else rf"$\lambda$={chain}"


def _colour(chain: str) -> str:
    known = ("0", "0.25", "0.5", "1")
    return f"C{known.index(chain)}" if chain in known else f"C{4 + sum(map(ord, chain)) % 6}"


def _panel(ax, rows, chains, key, title, ylabel):
    for chain in chains:
        rs = [r for r in rows if r["chain"] == chain]
        # one colour per lambda in every row (the GPU run's grid is a subset of the CPU run's)
        style = dict(color="k", ls="--", marker="s") if chain == "replace" else dict(marker="o", color=_colour(chain))
        ax.plot([r["generation"] for r in rs], [r[key] for r in rs], ms=3, label=_label(chain), **style)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("generation")
    ax.set_ylabel(ylabel, fontsize=8)


def _grid(ax, x, title):
    k = int(min(8, len(x) ** 0.5))
    tiles = torch.nn.functional.pad(x[: k * k, 0].clamp(-1, 1), (1, 1, 1, 1), value=-1.0)  # 1-pixel white frame
    h, w = tiles.shape[-2:]
    tiles = tiles.reshape(k, k, h, w).permute(0, 2, 1, 3).reshape(k * h, k * w)
    ax.imshow(tiles, cmap="gray_r", vmin=-1, vmax=1)
    ax.set(xticks=[], yticks=[])
    ax.set_title(title, fontsize=8)


def _gpu_runs(folder: Path) -> list[Path]:
    """Image runs (metrics with a Fréchet distance) stored under ``folder``, by name."""
    if not folder.is_dir():
        return []
    runs = [p.parent for p in sorted(folder.glob("*/metrics.jsonl")) if (p.parent / "config.json").is_file()]
    return [r for r in runs if "fd" in read_metrics(r)[0]]


def _gpu_rows(curves, grids, run: Path) -> None:
    """Curves and latest samples of a ``make gpu-validation`` run, titled from its provenance."""
    g_rows = read_metrics(run)
    g_chains = list(dict.fromkeys(r["chain"] for r in g_rows))
    prov_path = run / "provenance.json"
    prov = json.loads(prov_path.read_text()) if prov_path.is_file() else {}
    machine = prov.get("machine", {})
    where = machine.get("gpu") or machine.get("device") or "device unknown"
    status = "" if prov.get("status", "complete") == "complete" else f", incomplete ({len(prov['remaining'])} left)"
    commit = str(prov.get("commit", "unknown"))[:12]
    curves.suptitle(f"{run.name} on {where} (make gpu-validation), commit {commit}{status}", fontsize=10)
    axes = curves.subplots(1, len(KEYS))
    for ax, (key, title, ylabel) in zip(axes, KEYS, strict=True):
        _panel(ax, g_rows, g_chains, key, f"{run.name}: {title}", ylabel)
    axes[0].legend(fontsize=7)
    if (run / "samples.npz").is_file():
        with np.load(run / "samples.npz") as z:
            latest = {c: z[c] for c in g_chains if c in z.files}
        lasts = {c: max(r["generation"] for r in g_rows if r["chain"] == c) for c in latest}
        for ax, chain in zip(grids.subplots(1, max(1, len(latest))), latest, strict=False):
            _grid(ax, torch.as_tensor(latest[chain]), f"{run.name}: {_label(chain)}, generation {lasts[chain]}")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    gpu = None
    if "--gpu" in argv:  # this script's own option, next to the common ones
        i = argv.index("--gpu")
        gpu, argv = argv[i + 1], argv[:i] + argv[i + 2 :]
    args = parse_args(__doc__, argv)
    args.gpu = gpu
    if args.fast:
        base = Path(tempfile.mkdtemp(dir=args.out))
        tiny = {"lambdas": ["0", "1", "replace"], "generations": 1, "pretrain_steps": 20, "finetune_steps": 3}
        cfg = default_config("ddpm", "digits", "tiny", model_options={"T": 21, "width": 8}, **tiny)
    else:
        base = ROOT / "runs" / "fig_retrain_images"
        cfg = default_config("ddpm", "digits", "quick")
    folder = None if args.fast or full_requested(args) else stored_run("ddpm_digits", cfg)
    if folder is not None:
        print(reuse_line(folder, cfg.identity()))
        rows, samples = read_metrics(folder), stored_samples(folder)
    else:
        run_dir = base / "ddpm_digits"
        if full_requested(args) and not args.fast:
            shutil.rmtree(run_dir, ignore_errors=True)
        with timer(f"ran retrain ddpm on digits ({cfg.generations} generations, {len(cfg.lambdas)} chains)"):
            result = retrain(cfg, run_dir, resume=True, progress=not args.fast)
        print(f"{result.run_dir}\n{result.summary()}")
        rows = read_metrics(result.run_dir)
        samples = {c: load_samples(result.run_dir, c, cfg.generations)[:64].numpy() for c in cfg.lambdas}
        if not args.fast:
            seconds = compute_seconds(rows)
            store_run("ddpm_digits", result.run_dir, samples, seconds, "python figures/fig_retrain_images.py")
    chains = cfg.lambdas
    gpu_runs = _gpu_runs(Path(args.gpu) if args.gpu else GPU)

    nrows = 2 + (2 if gpu_runs else 0)
    fig = plt.figure(figsize=(max(12.0, 2.8 * len(chains)), 3.0 * nrows), layout="constrained")
    rows_fig = fig.subfigures(nrows, 1, height_ratios=[1.15] + [1] * (nrows - 1))
    top = rows_fig[0].subplots(1, len(KEYS))
    for ax, (key, title, ylabel) in zip(top, KEYS, strict=True):
        _panel(ax, rows, chains, key, f"digits DDPM: {title}", ylabel)
    top[0].legend(fontsize=7)
    last = max(r["generation"] for r in rows)
    for ax, chain in zip(rows_fig[1].subplots(1, len(chains)), chains, strict=True):
        _grid(ax, torch.as_tensor(samples[chain]), f"{_label(chain)}, generation {last}")
    if gpu_runs:  # the first GPU image run, when one was stored
        _gpu_rows(rows_fig[2], rows_fig[3], gpu_runs[0])
    mode = "fast mode: tiny run" if args.fast else "CPU quick profile, seed 0"
    fig.suptitle(
        f"Iterative retraining of a DDPM on 8x8 digits ({mode}): analogue of Bertrand et al. 2024's image runs"
    )
    save(fig, args, "retrain_images")


if __name__ == "__main__":
    main()
