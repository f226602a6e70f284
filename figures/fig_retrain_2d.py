"""Iterative retraining of a normalizing flow and a DDPM on two moons, for the lambda grid.

From real runs of the CPU quick profile (``stability retrain``; the protocol of Bertrand et al. 2024):
generation 0 is pretrained on n = 1000 real points; each generation fine-tunes on the real points
plus floor(lambda n) fresh samples of the current model (``replace``: n samples only). Top: W2 to
held-out data (exact OT on 1000-point subsamples) and the flow's held-out NLL per generation.
Bottom: the flow's samples at the last generation. The theory predicts lambda = 0 flat, small
lambda close to it, and fully synthetic retraining (``replace``) drifting away.

Reuse: the runs stored in ``results/cpu/{flow,ddpm}_moons`` (metrics and last-generation samples)
are drawn when their configuration equals the quick profile's; otherwise the runs are computed in
``runs/fig_retrain_2d`` (resumable) and stored there. ``--full`` (``make figures FULL=1``) recomputes
them from scratch. ``results/gpu/`` runs are drawn when present. ``--fast``: a tiny profile
(seconds; the curves are then not meaningful).
"""

import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
from _common import parse_args, save
from _stored import full_requested, reuse_line, store_run, stored_run, stored_samples, timer

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


def _rows_and_samples(model, cfg, base, args):
    """Metrics rows and last-generation samples of one run: stored, or computed (and then stored)."""
    name = f"{model}_moons"
    folder = None if args.fast or full_requested(args) else stored_run(name, cfg)
    if folder is not None:
        print(reuse_line(folder, cfg.identity()))
        return read_metrics(folder), stored_samples(folder)
    run_dir = base / name
    if full_requested(args) and not args.fast:
        shutil.rmtree(run_dir, ignore_errors=True)
    with timer(f"ran retrain {model} on moons ({cfg.generations} generations, {len(cfg.lambdas)} chains)"):
        result = retrain(cfg, run_dir, resume=True, progress=not args.fast)
    print(result.summary())
    rows = read_metrics(result.run_dir)
    samples = {c: load_samples(result.run_dir, c, cfg.generations).numpy() for c in cfg.lambdas}
    if not args.fast:
        seconds = sum(r.get("seconds", 0.0) for r in rows)
        store_run(name, result.run_dir, samples, seconds, f"python figures/fig_retrain_2d.py ({model})")
    return rows, samples


def main(argv=None):
    args = parse_args(__doc__, argv)
    profile = "tiny" if args.fast else "quick"
    base = Path(tempfile.mkdtemp(dir=args.out)) if args.fast else ROOT / "runs" / "fig_retrain_2d"
    rows, samples = {}, {}
    for model in ("flow", "ddpm"):
        tiny = {"n": 200, "generations": 2, "pretrain_steps": 60, "finetune_steps": 10, "eval_samples": 200}
        overrides = tiny if args.fast else {}
        cfg = default_config(model, "moons", profile, **overrides)
        rows[model], samples[model] = _rows_and_samples(model, cfg, base, args)
    chains = default_config("flow", "moons", profile).lambdas
    flow_rows, ddpm_rows = rows["flow"], rows["ddpm"]
    gpu_runs = sorted(p.parent for p in GPU.glob("*/metrics.jsonl")) if GPU.is_dir() else []

    ncols = max(len(chains), 3 + len(gpu_runs))
    fig = plt.figure(figsize=(2.6 * ncols, 5.6))
    grid = fig.add_gridspec(2, ncols, height_ratios=[1.2, 1])
    top = [fig.add_subplot(grid[0, i]) for i in range(3 + len(gpu_runs))]
    _panel(top[0], flow_rows, chains, "w2", "flow: W2 to held-out")
    _panel(top[1], flow_rows, chains, "nll", "flow: held-out NLL (nats)")
    _panel(top[2], ddpm_rows, chains, "w2", "DDPM: W2 to held-out")
    for ax, run in zip(top[3:], gpu_runs, strict=True):
        g_rows = read_metrics(run)
        key = "w2" if "w2" in g_rows[0] else "fd"
        _panel(ax, g_rows, list(dict.fromkeys(r["chain"] for r in g_rows)), key, f"GPU {run.name}: {key}")
    top[0].legend(fontsize=7)
    last = max(r["generation"] for r in flow_rows)
    for i, chain in enumerate(chains):
        ax = fig.add_subplot(grid[1, i])
        x = samples["flow"][chain]
        ax.scatter(x[:, 0], x[:, 1], s=1.5, alpha=0.6)
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xticks=[], yticks=[])
        ax.set_title(rf"flow, $\lambda$={chain}, gen {last}", fontsize=8)
    mode = "fast mode: tiny runs" if args.fast else "CPU quick profile"
    fig.suptitle(f"Iterative retraining on two moons ({mode})")
    fig.tight_layout()
    save(fig, args, "retrain_2d")


if __name__ == "__main__":
    main()
