"""Iterative retraining of a normalizing flow, a DDPM and OT-CFM on two moons, three seeds, the lambda grid.

The toolkit's analogue of the 2-D retraining experiment of Bertrand et al. 2024 (arXiv 2310.00429),
from real runs of the CPU quick profile (``stability retrain``; the protocol of
docs/theory.md §8): generation 0 is pretrained on n = 1000 real points; each generation fine-tunes
on the real points plus floor(lambda n) fresh samples of the current model (``replace``: n samples of
the model only). Seeds 0, 1 and 2 change the data draw, the split, the initialisation and the
sampling. Top: W2 to held-out data (exact OT on 1000-point subsamples) and the flow's held-out NLL
per generation, and the W2 of the DDPM and of conditional flow matching (OT path, Heun sampler);
line and markers = mean over the seeds, band = the seeds' min-max range (three
seeds: the full spread, not a standard error); grey dotted line = the generation-0 mean, the level
the local theory says a stable chain stays near. Bottom: the flow's samples (seed 0) at the last
generation over the held-out points (grey). Claim checked: lambda = 0 is flat, small lambda stays
close to it, fully synthetic retraining drifts away; the theory is a heuristic for the DDPM and CFM (§8).

Reuse: each (model, seed) run is stored in ``results/cpu/{flow,ddpm,cfm}_moons`` (seed 0) and
``results/cpu/{flow,ddpm,cfm}_moons_seed{1,2}`` (metrics and last-generation samples) and drawn when its
configuration hash equals the quick profile's; otherwise it is computed in ``runs/fig_retrain_2d``
(resumable) and stored there. ``--full`` (``make figures FULL=1``) recomputes them from scratch
(5-9 min per run on 2 cores at load average 4-6, measured 2026-12-01; several times that on a busier
machine). ``results/gpu/`` runs are drawn when present. ``--fast``: a tiny profile (seconds; the
curves are then not meaningful).
"""

import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from _common import parse_args, save
from _stored import compute_seconds, full_requested, reuse_line, store_run, stored_run, stored_samples, timer

from stability.experiments import default_config, load_dataset, load_samples, read_metrics, retrain

ROOT = Path(__file__).resolve().parent.parent
GPU = ROOT / "results" / "gpu"
SEEDS = (0, 1, 2)
MODELS = ("flow", "ddpm", "cfm")
TINY = {"n": 200, "generations": 2, "pretrain_steps": 60, "finetune_steps": 10, "eval_samples": 200}


def store_name(model: str, seed: int) -> str:
    """The ``results/cpu`` folder of one run: seed 0 keeps the historical name."""
    return f"{model}_moons" if seed == 0 else f"{model}_moons_seed{seed}"


def _label(chain: str) -> str:
    return r"$\lambda=\infty$ (replace)" if chain == "replace" else rf"$\lambda$={chain}"


def _style(i: int, chain: str) -> dict:
    if chain == "replace":
        return dict(color="k", ls="--", marker="s")
    return dict(color=f"C{i}", ls="-", marker="o")


def seed_band(runs: list[list[dict]], chain: str, key: str):
    """Generations, and the mean, min and max over the seeds' runs of ``key`` for ``chain``
    (only generations that every run has)."""
    per_run = [{r["generation"]: r[key] for r in rows if r["chain"] == chain and key in r} for rows in runs]
    gens = sorted(set.intersection(*(set(p) for p in per_run)))
    v = np.array([[p[g] for g in gens] for p in per_run])
    return np.array(gens), v.mean(axis=0), v.min(axis=0), v.max(axis=0)


def _panel(ax, runs, chains, key, title, ylabel):
    for i, chain in enumerate(chains):
        g, mean, lo, hi = seed_band(runs, chain, key)
        st = _style(i, chain)
        ax.fill_between(g, lo, hi, color=st["color"], alpha=0.12, lw=0)
        ax.plot(g, mean, ms=3, lw=1.2, label=_label(chain), **st)
    g0 = np.mean([r[key] for rows in runs for r in rows if r["generation"] == 0 and key in r])
    ax.axhline(g0, color="0.4", ls=":", lw=1, label="generation 0 (mean)")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("generation")
    ax.set_ylabel(ylabel, fontsize=9)


def _rows_and_samples(model, cfg, base, args):
    """Metrics rows and last-generation samples of one run: stored, or computed (and then stored)."""
    name = store_name(model, cfg.seed)
    folder = None if args.fast or full_requested(args) else stored_run(name, cfg)
    if folder is not None:
        print(reuse_line(folder, cfg.identity()))
        return read_metrics(folder), stored_samples(folder)
    run_dir = base / name
    if full_requested(args) and not args.fast:
        shutil.rmtree(run_dir, ignore_errors=True)
    what = f"ran retrain {model} on moons, seed {cfg.seed} ({cfg.generations} generations, {len(cfg.lambdas)} chains)"
    with timer(what):
        result = retrain(cfg, run_dir, resume=True, progress=not args.fast)
    print(result.summary())
    rows = read_metrics(result.run_dir)
    samples = {c: load_samples(result.run_dir, c, cfg.generations).numpy() for c in cfg.lambdas}
    if not args.fast:
        seconds = compute_seconds(rows)
        command = f"python figures/fig_retrain_2d.py ({model}, seed {cfg.seed})"
        store_run(name, result.run_dir, samples, seconds, command)
    return rows, samples


def main(argv=None):
    args = parse_args(__doc__, argv)
    profile = "tiny" if args.fast else "quick"
    base = Path(tempfile.mkdtemp(dir=args.out)) if args.fast else ROOT / "runs" / "fig_retrain_2d"
    overrides = TINY if args.fast else {}
    runs, samples = {m: [] for m in MODELS}, {}
    for model in MODELS:
        for seed in SEEDS:
            cfg = default_config(model, "moons", profile, seed=seed, **overrides)
            rows, smp = _rows_and_samples(model, cfg, base, args)
            runs[model].append(rows)
            if seed == 0:
                samples[model] = smp
    first = default_config("flow", "moons", profile, seed=0, **overrides)
    chains = first.lambdas
    held = load_dataset("moons", n=first.n, heldout=first.heldout, seed=0).heldout.numpy()
    gpu_runs = sorted(p.parent for p in GPU.glob("*/metrics.jsonl")) if GPU.is_dir() else []

    fig = plt.figure(figsize=(max(13.0, 2.6 * len(chains)), 6.4), layout="constrained")
    upper, lower = fig.subfigures(2, 1, height_ratios=[1.2, 1])
    top = upper.subplots(1, 4 + len(gpu_runs))
    _panel(top[0], runs["flow"], chains, "w2", "flow: W2 to held-out data", "W2")
    _panel(top[1], runs["flow"], chains, "nll", "flow: held-out NLL", "NLL (nats)")
    _panel(top[2], runs["ddpm"], chains, "w2", "DDPM: W2 to held-out data", "W2")
    _panel(top[3], runs["cfm"], chains, "w2", "OT-CFM: W2 to held-out data", "W2")
    for ax, run in zip(top[4:], gpu_runs, strict=True):
        g_rows = read_metrics(run)
        key = "w2" if "w2" in g_rows[0] else "fd"
        _panel(ax, [g_rows], list(dict.fromkeys(r["chain"] for r in g_rows)), key, f"GPU {run.name}", key)
    top[0].legend(fontsize=7, loc="upper left")
    last = max(r["generation"] for r in runs["flow"][0])
    for i, (ax, chain) in enumerate(zip(lower.subplots(1, len(chains)), chains, strict=True)):
        ax.scatter(held[:, 0], held[:, 1], s=1, color="0.75", label="held-out data")
        x = samples["flow"][chain]
        ax.scatter(x[:, 0], x[:, 1], s=1.5, alpha=0.7, color=_style(i, chain)["color"], label="flow samples")
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xticks=[], yticks=[], xlabel="$x_1$", aspect="equal")
        ax.set_title(f"flow, {_label(chain)}, gen {last}, seed 0", fontsize=8)
        if i == 0:
            ax.set_ylabel("$x_2$")
            ax.legend(fontsize=6, loc="lower left", markerscale=4)
    mode = "fast mode: tiny runs" if args.fast else "CPU quick profile"
    fig.suptitle(
        f"Iterative retraining on two moons ({mode}): analogue of the 2-D experiments of Bertrand et al. 2024\n"
        f"lines and markers: mean over seeds {', '.join(map(str, SEEDS))}; bands: the seeds' min-max range",
        fontsize=10,
    )
    save(fig, args, "retrain_2d")


if __name__ == "__main__":
    main()
