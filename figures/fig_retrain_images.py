"""Iterative retraining of a DDPM on 8x8 digits for the lambda grid: the paper's Figure-3 analogue.

From real runs (``stability retrain --model ddpm --data digits``): generation 0 is a small U-Net
DDPM pretrained on scikit-learn's digits (1438 training images); each generation fine-tunes on the
real images plus floor(lambda n) fresh samples (``replace``: n samples only). Metrics against the
359 held-out images, in the 128-d feature space of a small CNN classifier trained once on the real
training images: Fréchet distance (lower is better), precision and recall (Naeem et al. 2020, k = 5).
Bottom: samples at the last generation. Runs are kept in ``runs/fig_retrain_images`` and reused;
``results/gpu/`` image runs are drawn when present. ``--fast``: a tiny run (curves not meaningful).
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from _common import parse_args, save

from stability.experiments import default_config, load_samples, read_metrics, retrain

ROOT = Path(__file__).resolve().parent.parent
GPU = ROOT / "results" / "gpu"
KEYS = (("fd", "Fréchet distance (classifier features)"), ("precision", "precision"), ("recall", "recall"))


def _panel(ax, rows, chains, key, title):
    for chain in chains:
        rs = [r for r in rows if r["chain"] == chain]
        style = dict(color="k", ls="--") if chain == "replace" else {}
        ax.plot(
            [r["generation"] for r in rs], [r[key] for r in rs], marker="o", ms=3, label=rf"$\lambda$={chain}", **style
        )
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("generation")


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
    result = retrain(cfg, base / "ddpm_digits", resume=True, progress=not args.fast)
    run = result.run_dir
    print(f"{run}\n{result.summary()}")
    rows = read_metrics(run)
    chains = cfg.lambdas
    gpu_runs = [p.parent for p in sorted(GPU.glob("*/metrics.jsonl"))] if GPU.is_dir() else []
    gpu_runs = [r for r in gpu_runs if "fd" in read_metrics(r)[0]]

    ncols = max(len(chains), 3)
    nrows = 2 + (1 if gpu_runs else 0)
    fig = plt.figure(figsize=(2.8 * ncols, 2.9 * nrows))
    grid = fig.add_gridspec(nrows, ncols)
    for i, (key, title) in enumerate(KEYS):
        _panel(fig.add_subplot(grid[0, i]), rows, chains, key, f"digits DDPM: {title}")
    fig.axes[0].legend(fontsize=7)
    last = max(r["generation"] for r in rows)
    for i, chain in enumerate(chains):
        _grid(fig.add_subplot(grid[1, i]), load_samples(run, chain, last), rf"$\lambda$={chain}, generation {last}")
    for j, gpu in enumerate(gpu_runs[:1]):  # the first GPU image run, when one was committed
        g_rows = read_metrics(gpu)
        g_chains = list(dict.fromkeys(r["chain"] for r in g_rows))
        for i, (key, title) in enumerate(KEYS):
            _panel(fig.add_subplot(grid[2 + j, i]), g_rows, g_chains, key, f"GPU {gpu.name}: {title}")
    mode = "fast mode: tiny run" if args.fast else "CPU"
    fig.suptitle(f"Iterative retraining of a DDPM on 8x8 digits ({mode})")
    fig.tight_layout()
    save(fig, args, "retrain_images")


if __name__ == "__main__":
    main()
