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
recomputes it from scratch. ``results/gpu/`` image runs are drawn when present. ``--fast``: a tiny
run (curves not meaningful).
"""

import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
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


def _panel(ax, rows, chains, key, title, ylabel):
    for chain in chains:
        rs = [r for r in rows if r["chain"] == chain]
        style = dict(color="k", ls="--", marker="s") if chain == "replace" else dict(marker="o")
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


def main(argv=None):
    args = parse_args(__doc__, argv)
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
    gpu_runs = [p.parent for p in sorted(GPU.glob("*/metrics.jsonl"))] if GPU.is_dir() else []
    gpu_runs = [r for r in gpu_runs if "fd" in read_metrics(r)[0]]

    nrows = 2 + (1 if gpu_runs else 0)
    fig = plt.figure(figsize=(max(12.0, 2.8 * len(chains)), 3.0 * nrows), layout="constrained")
    rows_fig = fig.subfigures(nrows, 1, height_ratios=[1.15] + [1] * (nrows - 1))
    top = rows_fig[0].subplots(1, len(KEYS))
    for ax, (key, title, ylabel) in zip(top, KEYS, strict=True):
        _panel(ax, rows, chains, key, f"digits DDPM: {title}", ylabel)
    top[0].legend(fontsize=7)
    last = max(r["generation"] for r in rows)
    for ax, chain in zip(rows_fig[1].subplots(1, len(chains)), chains, strict=True):
        _grid(ax, torch.as_tensor(samples[chain]), f"{_label(chain)}, generation {last}")
    for j, gpu in enumerate(gpu_runs[:1]):  # the first GPU image run, when one was committed
        g_rows = read_metrics(gpu)
        g_chains = list(dict.fromkeys(r["chain"] for r in g_rows))
        for ax, (key, title, ylabel) in zip(rows_fig[2 + j].subplots(1, len(KEYS)), KEYS, strict=True):
            _panel(ax, g_rows, g_chains, key, f"GPU {gpu.name}: {title}", ylabel)
    mode = "fast mode: tiny run" if args.fast else "CPU quick profile, seed 0"
    fig.suptitle(
        f"Iterative retraining of a DDPM on 8x8 digits ({mode}): analogue of Bertrand et al. 2024's image runs"
    )
    save(fig, args, "retrain_images")


if __name__ == "__main__":
    main()
