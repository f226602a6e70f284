"""A DDPM and an OT flow-matching model at their loss minimum: the theory's predictions against observation.

The models (``stability.numerical.generative``): ``MLPDDPM`` (eps-prediction tanh MLP, T = 20 ancestral
steps) and ``MLPFlowMatching`` (OT-CFM velocity tanh MLP, K = 10 Heun steps), 26 parameters each, fitted to
n = 500 standardised points of two moons and of eight Gaussians with m = 8 fixed (time, noise) draws per
point and a prior (beta/2)||theta||^2, beta = 0.01 (docs/theory.md §13). Retraining fixed point theta*_lambda
by continuation in lambda from theta_hat; A, H, M, S at theta*_lambda by autograd through the sampler.

(a) Prediction 1: the expected operator's per-step ratio ||e_{t+1}|| / ||e_t|| (common random numbers) from
the slowest mode against rate_exact (filled) and from a random start against the linearised ratio
||J^{t+1} e_0|| / ||J^t e_0|| at the same step (open), every analysed (model, data, lambda).
(b) Predictions 2 and 3: the stationary excess real loss over theta_hat, observed (5 refit chains x 14
generations, one standard error) against the first-order prediction bias_loss + 1/2 tr(AC); crosses: the
paper's fixed budget (50 Adam steps per round) at the same prediction. Grey band: 4 SE + 5 %.
(c, d) bias_loss = R_n(theta*_lambda) - R_n(theta_hat) and rate_exact (the spectral radius of
J = -lambda (A + lambda H)^{-1} M) against lambda; dotted: the likelihood's lambda / (1 + lambda).
A lambda with no marker has no fixed point on the branch from theta_hat (a fold: J reaches eigenvalue 1).
(e, f) Prediction 4: bias_loss and rate_exact against the sampler's step count (T for the DDPM, K for the
CFM) at lambda = 0.25 (solid) and 1 (dashed).

This script only reads the stored study ``results/cpu/diffusion_validation`` (summary.json, steps.json);
it computes nothing, in every mode (``--fast`` and ``--full`` included): the study itself is
``python studies/diffusion_validation.py --stages fit,analysis,operator,chains,budget,steps,diagnose``
(about an hour of one CPU core), which resumes from the stored stages.
"""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from _common import parse_args, save
from matplotlib.ticker import NullFormatter

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "results" / "cpu" / "diffusion_validation"
STYLE = {
    ("ddpm", "moons"): ("C0", "o"),
    ("ddpm", "eight_gaussians"): ("C1", "s"),
    ("cfm", "moons"): ("C2", "^"),
    ("cfm", "eight_gaussians"): ("C3", "D"),
}
NAMES = {"moons": "moons", "eight_gaussians": "8 Gaussians"}


def _label(row) -> str:
    extra = f", beta={row['beta']:g}" if row.get("beta") not in (None, 0.01) else ""
    return f"{row['model']} {NAMES[row['data']]}{extra}"


def _base(rows):
    return [r for r in rows if r.get("beta") in (None, 0.01)]


def main(argv=None):
    args = parse_args(__doc__, argv)
    rows = json.loads((STUDY / "summary.json").read_text())
    steps = json.loads((STUDY / "steps.json").read_text())
    print(f"reused {STUDY.relative_to(ROOT)} (stored results only; this figure computes nothing)")
    fig, axes = plt.subplots(2, 3, figsize=(17, 10))
    # (a) ratios
    ax = axes[0, 0]
    lo, hi = 0.1, 1.0
    for key, (c, m) in STYLE.items():
        mine = [r for r in _base(rows) if (r["model"], r["data"]) == key and r["observed_ratio"] is not None]
        if not mine:
            continue
        ax.plot([r["rate_exact"] for r in mine], [r["observed_ratio_slowest"] for r in mine], m, color=c,
                label=f"{key[0]} {NAMES[key[1]]}: slowest mode vs rate_exact")  # fmt: skip
        ax.plot([r["linear_ratio"] for r in mine], [r["observed_ratio"] for r in mine], m, mfc="none", color=c,
                ms=9, label=f"{key[0]} {NAMES[key[1]]}: random start vs linearised")  # fmt: skip
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.fill_between([lo, hi], [lo * 0.97, hi * 0.97], [lo * 1.03, hi * 1.03], color="0.85", label="within 3 %")
    ax.set(xlabel="predicted ratio", ylabel="observed ratio (expected operator)", xlim=(lo, hi), ylim=(lo, hi),
           title="(a) prediction 1: per-step contraction")  # fmt: skip
    ax.legend(fontsize=6.5)
    # (b) excess
    ax = axes[0, 1]
    done = [r for r in rows if r["excess_obs"] is not None]
    if done:
        lo = 0.5 * min(min(r["excess_pred"], r["excess_obs"]) for r in done)
        hi = 2.0 * max(max(r["excess_pred"], r["excess_obs"]) for r in done)
        g = np.geomspace(lo, hi, 50)
        ax.fill_between(g, g * 0.95, g * 1.05, color="0.85", label="prediction ± 5 % (plus 4 SE per point)")
        ax.plot(g, g, "k-", lw=0.8)
        for r in done:
            c, m = STYLE[(r["model"], r["data"])]
            mfc = c if r.get("beta") in (None, 0.01) else "none"
            ax.errorbar(r["excess_pred"], r["excess_obs"], yerr=r["excess_se"], fmt=m, color=c, mfc=mfc, ms=6)
            if r["excess_obs_budget"] is not None:
                ax.plot(r["excess_pred"], r["excess_obs_budget"], "x", color=c, ms=7)
            ax.annotate(f"{r['lambda']:g}", (r["excess_pred"], r["excess_obs"]), fontsize=6, xytext=(3, 3),
                        textcoords="offset points")  # fmt: skip
        for key, (c, m) in STYLE.items():
            ax.plot([], [], m, color=c, label=f"{key[0]} {NAMES[key[1]]} (refits; label: lambda)")
        ax.plot([], [], "x", color="k", label="fixed budget (50 Adam steps)")
        if any(r.get("beta") not in (None, 0.01) for r in done):
            ax.plot([], [], "s", color="C1", mfc="none", label="stronger prior (beta in the table)")
        ax.set(xscale="log", yscale="log", xlim=(lo, hi), ylim=(lo, hi))
    ax.set(xlabel="predicted: bias_loss + 1/2 tr(AC)", ylabel="observed stationary excess real loss",
           title="(b) predictions 2, 3: stationary excess over theta_hat")  # fmt: skip
    ax.legend(fontsize=6.5)
    # (c, d) bias and rate against lambda
    lams = sorted({r["lambda"] for r in rows})
    for ax, key_, title in (
        (axes[0, 2], "bias_loss", "(c) bias_loss against lambda"),
        (axes[1, 0], "rate_exact", "(d) rate_exact against lambda"),
    ):
        top = 0.96
        for key, (c, m) in STYLE.items():
            mine = [r for r in _base(rows) if (r["model"], r["data"]) == key and r[key_] is not None]
            ax.plot([r["lambda"] for r in mine], [r[key_] for r in mine], m + "-", color=c,
                    label=f"{key[0]} {NAMES[key[1]]}")  # fmt: skip
            miss = [r["lambda"] for r in _base(rows) if (r["model"], r["data"]) == key and r[key_] is None]
            if miss:  # no fixed point on the branch from theta_hat: a mark at the top of the panel
                ax.plot(miss, [top] * len(miss), m, color=c, mfc="none", ms=9, transform=ax.get_xaxis_transform())
                top -= 0.05
        if key_ == "rate_exact":
            grid = np.geomspace(min(lams) / 1.2, max(lams) * 1.2, 50)
            ax.plot(grid, grid / (1 + grid), "k:", label="lambda/(1+lambda) (likelihood, A = H = -M)")
            ax.set(ylabel="rate_exact (spectral radius of J)")
        else:
            ax.set(yscale="log", ylabel="bias_loss = R_n(theta*) - R_n(theta_hat)")
        ax.set(xscale="log", xlabel="lambda", title=title + " (open mark at the top: no fixed point)")
        ax.set_xticks(lams, [f"{v:g}" for v in lams])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.legend(fontsize=7)
    # (e, f) step counts
    for ax, key_, title in (
        (axes[1, 1], "bias_loss", "(e) bias_loss against the sampler's steps"),
        (axes[1, 2], "rate_exact", "(f) rate_exact against the sampler's steps"),
    ):
        for key, (c, m) in STYLE.items():
            for lam, ls in ((0.25, "-"), (1.0, "--")):
                mine = [s for s in steps if (s["model"], s["data"]) == key and s["lambda"] == lam and s[key_]]
                mine.sort(key=lambda s: s["steps"])
                ax.plot([s["steps"] for s in mine], [s[key_] for s in mine], m + ls, color=c,
                        label=f"{key[0]} {NAMES[key[1]]}, lambda={lam:g}")  # fmt: skip
        counts = sorted({s["steps"] for s in steps})
        ax.set(xscale="log", xlabel="sampler steps (T for ddpm, K for cfm)", title=title)
        ax.set_xticks(counts, [str(v) for v in counts])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set(yscale="log" if key_ == "bias_loss" else "linear", ylabel=key_)
        if key_ == "bias_loss":
            ax.legend(fontsize=6.5, ncol=2, framealpha=0.9)
        else:
            ax.set_title(title + " (legend as in (e))")
    fig.suptitle(
        "DDPM and OT-CFM (26 parameters, n = 500) retrained at their loss fixed point: the first-order theory "
        "(docs/theory.md §13) against observation",
        fontsize=11,
    )
    fig.tight_layout()
    save(fig, args, "fig_diffusion_contraction")


if __name__ == "__main__":
    main()
