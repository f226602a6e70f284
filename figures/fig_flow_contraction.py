"""Three predictions of the local theory against observation, for a smooth flow at a true maximum theta*.

The flow: zuko's masked autoregressive flow with C-infinity affine transforms and tanh conditioners
(``studies/smooth_flow.py``), float64, fitted to n standardised points of two moons and of eight
Gaussians with a Gaussian prior of weight beta on the real-data term (``stability.numerical.fit_theta_star``;
without it the maximum likelihood drifts to infinite weights). theta* is a true local maximum (Adam, then
the library's L-BFGS + Newton-CG, then Newton; relative gradient below 1e-7).
(a) Prediction 1: per-step ratio ||theta_{t+1} - theta*|| / ||theta_t - theta*|| of the expected operator
G_lambda (model expectation by the library's deterministic quadrature; Monte Carlo with common random
numbers was tried and its Jacobian's radius was 2.4 at lambda = 0.25, see studies/smooth_flow.py)
from theta* + delta along the slowest mode (markers) and a random direction (lines), lambda = 0.25, 1, 4,
against rate_exact (dashed).
(b) Predictions 2 and 3: stationary excess NLL on the real sample against lambda: first-order law
(``stability.stationary``, curve), finite-sample retraining refitted to convergence each round
(``stability.retrain_chains`` with ``prior_precision = beta``; points with
one standard error from the predicted autocorrelation), and the paper's fixed-budget protocol (Adam steps
from the current weights; crosses). Theorem 1/2 values are drawn where finite.
(c) Samples: real data, the flow at theta*, after the last generation of lambda = 1 (refit) and after the
purely synthetic chain (lambda = inf, refit each round).
Default: draw what ``results/cpu/flow_validation`` holds and compute nothing missing (``--stored`` is
accepted for that); ``--full`` computes the missing parts.

Measured (summary.json, 40 parameters, n = 500): slowest-mode starts give rate_exact to 1e-4 (moons) and
<1 % (eight Gaussians, coarser quadrature); random starts approach it as slowly as the linearisation's own
ratio sequence does (moons lambda = 1: 0.865 after 30 steps; J^t e_0 gives 0.869). Stationary excess of the
refits by ``stability.retrain_chains`` (5 chains x 14 generations) within two standard errors of the law for
every lambda; the fixed budget ends at 50-65 % of it; E||theta_t - theta*||_A^2 is far above the law (single
chains jump to neighbouring near-maxima; results/cpu/README.md); Theorems 1/2 are infinite on the whole grid
(kappa >= 1e6).

The numbers come from the stored, resumable run ``results/cpu/flow_validation`` (``run`` of the study
``studies/smooth_flow.py``; the first full run takes tens of minutes on a contended
2-core CPU, later runs only read it). ``--fast``: a tiny configuration in a temporary folder.
"""

import json
import math
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from _common import parse_args, save
from matplotlib.ticker import NullFormatter

from stability._io import atomic_write_text
from stability.stationary import stationary
from studies.smooth_flow import DEFAULT, FAST, load_part, load_problem, part_key, run

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None):
    argv = [a for a in (argv if argv is not None else __import__("sys").argv[1:]) if a != "--stored"]
    args = parse_args(__doc__, argv)
    cfg = FAST if args.fast else DEFAULT
    out = Path(tempfile.mkdtemp(dir=args.out)) if args.fast else ROOT / "results" / "cpu" / "flow_validation"
    # By default draw what results/cpu/flow_validation holds (tens of minutes of compute on 2 cores);
    # --full (make figures FULL=1) computes the missing parts and resumes; --fast computes a tiny run.
    compute = args.fast or args.full
    if not compute:
        print(f"reused {out.relative_to(ROOT)} (stored parts only; --full computes what is missing)")
    rows = run(out, cfg, compute=compute)
    names = cfg["data"]
    fig, axes = plt.subplots(len(names), 6, figsize=(22, 3.6 * len(names)), squeeze=False)
    colours = {0.25: "C0", 0.5: "C4", 1.0: "C1", 2.0: "C5", 4.0: "C2"}
    for r, name in enumerate(names):
        contr = json.loads((out / name / "contraction.json").read_text())["runs"]
        ax = axes[r, 0]
        for key, res in contr.items():
            lam, start = key.split("/")
            c = colours.get(float(lam), "k")
            t = np.arange(1, len(res["ratio"]) + 1)
            if start == "random":
                ax.plot(t, res["ratio"], "-", color=c, label=f"$\\lambda$={lam}: random start")
                ax.axhline(res["rate_exact"], color=c, ls="--", lw=0.8)
            else:
                ax.plot(t, res["ratio"], "o", color=c, ms=4, label=f"$\\lambda$={lam}: slowest mode")
        ax.plot([], [], "k--", lw=0.8, label="rate_exact (from A, B)")
        ax.set(xlabel="generation t", ylabel=r"$\|e_{t+1}\| / \|e_t\|$", title=f"(a) {name}: expected operator")
        ax.legend(fontsize=7)
        ax = axes[r, 1]
        mine = [row for row in rows if row["data"] == name]
        problem = load_problem(out, name, cfg)
        Ar, Br = problem.reduced()
        grid = np.geomspace(min(cfg["lambdas"]) / 2, max(cfg["lambdas"]) * 2, 60)
        ax.plot(grid, [stationary(Ar, Br, g, problem.n).excess_loss for g in grid], "k-", label="first-order law")
        lam = np.array([row["lambda"] for row in mine])
        ax.plot(lam, [row["excess_pred_window"] for row in mine], "s", mfc="none", color="k", ms=6,
                label=r"first-order law, same window from $\theta^*$")  # fmt: skip
        done = [row for row in mine if row["excess_obs"] is not None]
        ax.errorbar([row["lambda"] for row in done], [row["excess_obs"] for row in done],
                    yerr=[row["excess_se"] for row in done], fmt="o", color="C3",
                    label="refit to convergence")  # fmt: skip
        done = [row for row in mine if row["excess_obs_budget"] is not None]
        ax.plot([row["lambda"] for row in done], [row["excess_obs_budget"] for row in done], "x", color="C2", ms=8,
                label="fixed budget")  # fmt: skip
        t1 = [(row["lambda"], row["theorem2_excess"]) for row in mine if row.get("theorem2_excess") is not None]
        if t1:
            ax.plot(*zip(*t1, strict=True), "v", color="grey", label="Theorem 2 (finite)")
        ax.set(xscale="log", yscale="log", xlabel=r"$\lambda$", ylabel="stationary excess NLL (nats)",
               title=f"(b) {name}: stationary error")  # fmt: skip
        ax.set_xticks(cfg["lambdas"], [f"{g:g}" for g in cfg["lambdas"]])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=7)
        # (c) samples
        gen = torch.Generator().manual_seed(0)
        key = part_key(cfg)  # the chains' key
        panels = [("real data", None)]
        panels.append((r"$\theta^*$", problem.theta_star))
        last = ((r"$\lambda$=1, refit", "refit_1.pt"), (r"purely synthetic ($\lambda=\infty$)", "refit_inf.pt"))
        for label, fname in last:
            path = out / name / "chains" / fname
            if path.exists():
                th = load_part(path, key)["thetas"]
                panels.append((f"{label}, t={th.shape[1] - 1}", th[0, -1]))
        for j, (label, th) in enumerate(panels[:4]):
            ax = axes[r, 2 + j]
            if th is None:
                pts = problem.x
            else:
                pts = problem.model.sample(torch.as_tensor(th), problem.n, gen).numpy()
            ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5)
            ax.set(title=f"(c) {label}", xlim=(-3, 3), ylim=(-3, 3))
            ax.set_aspect("equal")
    d = int(mine[0]["d"]) if mine and mine[0].get("d") is not None else None
    bounds = "finite" if any(row.get("theorem1_rate") is not None for row in rows) else "infinite on the whole grid"
    fig.suptitle(
        f"Smooth MAF flow ({d} parameters) at its penalised maximum: the local theory (docs/theory.md §3, §9) "
        f"against observation; Theorem 1/2 bounds (Bertrand et al. 2024): {bounds}",
        fontsize=11,
    )
    fig.tight_layout()
    save(fig, args, "fig_flow_contraction")
    atomic_write_text(json.dumps(rows, indent=1, default=_nan), args.out / "fig_flow_contraction.json")


def _nan(x):
    return None if isinstance(x, float) and not math.isfinite(x) else x


if __name__ == "__main__":
    main()
