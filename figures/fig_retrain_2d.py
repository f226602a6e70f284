"""Iterative retraining of a normalizing flow and a DDPM on two moons, for the lambda grid.

From real runs of the CPU quick profile (``stability retrain``; the protocol of Bertrand et al. 2024):
generation 0 is pretrained on n = 1000 real points; each generation fine-tunes on the real points
plus floor(lambda n) fresh samples of the current model (``replace``: n samples only). Top: W2 to
held-out data (exact OT on 1000-point subsamples) and the flow's held-out NLL per generation.
Bottom: the flow's samples at the last generation. The theory predicts lambda = 0 flat, small
lambda close to it, and fully synthetic retraining (``replace``) drifting away. Runs are kept in
``runs/fig_retrain_2d`` and reused when complete; ``results/gpu/`` runs are drawn when present.
``--fast``: a tiny profile (seconds; the curves are then not meaningful).
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from _common import parse_args, save

from stability.experiments import default_config, load_samples, read_metrics, retrain

ROOT = Path(__file__).resolve().parent.parent
GPU = ROOT / "results" / "gpu"


def _series(rows, chain, key):
    rs = [r for r in rows if r["chain"] == chain and key in r]
    return [r["generation"] for r in rs], [r[key] for r in rs]


def _panel(ax, rows, chains, key, title):
    for chain in chains:
        g, v = _series(rows, chain, key)
        style = dict(color="k", ls="--") if chain == "replace" else {}
        ax.plot(g, v, marker="o", ms=3, label=rf"$\lambda$={chain}", **style)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("generation")


def main(argv=None):
    args = parse_args(__doc__, argv)
    profile = "tiny" if args.fast else "quick"
    base = Path(tempfile.mkdtemp(dir=args.out)) if args.fast else ROOT / "runs" / "fig_retrain_2d"
    runs = {}
    for model in ("flow", "ddpm"):
        tiny = {"n": 200, "generations": 2, "pretrain_steps": 60, "finetune_steps": 10, "eval_samples": 200}
        overrides = tiny if args.fast else {}
        cfg = default_config(model, "moons", profile, **overrides)
        result = retrain(cfg, base / f"{model}_moons", resume=True, progress=not args.fast)
        runs[model] = result.run_dir
        print(f"{model}: {runs[model]}\n{result.summary()}")
    chains = default_config("flow", "moons", profile).lambdas
    flow_rows, ddpm_rows = read_metrics(runs["flow"]), read_metrics(runs["ddpm"])
    gpu_runs = sorted(p.parent for p in GPU.glob("*/metrics.jsonl")) if GPU.is_dir() else []

    ncols = max(len(chains), 3 + len(gpu_runs))
    fig = plt.figure(figsize=(2.6 * ncols, 5.6))
    grid = fig.add_gridspec(2, ncols, height_ratios=[1.2, 1])
    top = [fig.add_subplot(grid[0, i]) for i in range(3 + len(gpu_runs))]
    _panel(top[0], flow_rows, chains, "w2", "flow: W2 to held-out")
    _panel(top[1], flow_rows, chains, "nll", "flow: held-out NLL (nats)")
    _panel(top[2], ddpm_rows, chains, "w2", "DDPM: W2 to held-out")
    for ax, run in zip(top[3:], gpu_runs, strict=True):
        rows = read_metrics(run)
        key = "w2" if "w2" in rows[0] else "fd"
        _panel(ax, rows, list(dict.fromkeys(r["chain"] for r in rows)), key, f"GPU {run.name}: {key}")
    top[0].legend(fontsize=7)
    last = max(r["generation"] for r in flow_rows)
    for i, chain in enumerate(chains):
        ax = fig.add_subplot(grid[1, i])
        x = load_samples(runs["flow"], chain, last)
        ax.scatter(x[:, 0], x[:, 1], s=1.5, alpha=0.6)
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xticks=[], yticks=[])
        ax.set_title(rf"flow, $\lambda$={chain}, gen {last}", fontsize=8)
    mode = "fast mode: tiny runs" if args.fast else "CPU quick profile"
    fig.suptitle(f"Iterative retraining on two moons ({mode})")
    fig.tight_layout()
    save(fig, args, "retrain_2d")


if __name__ == "__main__":
    main()
