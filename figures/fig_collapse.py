"""Model collapse without real data, stability with it: sigma_t of a retrained 1-D Gaussian.

Left: sigma_t across generations for purely synthetic retraining (``replace``, n points per round)
and for the paper's fixed-real scheme at several lambda: median (solid) and 5-95% band across
chains, the across-chain mean (dashed), and theory (black): E[sigma_t] = (c4(n) sqrt((n-1)/n))^t
for the purely synthetic MLE chain (Bertrand et al. 2024's warm-up, ``stability.expected_sigma``)
and sqrt(E[Sigma_t]) from the exact moment recursion of docs/theory.md §6 for fixed-real. The mean of
sigma_t decays slowly while the median collapses faster: collapse is almost sure. Right: W2 to the
data distribution (median and band).
"""

import matplotlib.pyplot as plt
import numpy as np
from _common import parse_args, run_grid, save

import stability
from stability.dynamics import gaussian_moments


def main(argv=None):
    args = parse_args(__doc__, argv)
    n = 20
    G, C = (100, 400) if args.fast else (500, 4000)
    t = np.arange(G + 1)
    runs = [("replace (purely synthetic)", float("inf"), "replace", "k")]
    for lam, color in [(4.0, "C3"), (1.0, "C1"), (0.5, "C0")]:
        runs.append((rf"fixed-real, $\lambda$={lam:g}", lam, "fixed-real", color))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    # the lambda grid goes through stability.sweeps (serial unless --sweep says otherwise), seed 0 for every run
    base = {"family": "gaussian", "n": n, "generations": G, "chains": C, "seed": 0, "stats": ["sigma", "w2"]}
    cells = {"lambda_": [r[1] for r in runs], "scheme": [r[2] for r in runs]}
    results = run_grid(args, "stability.sweeps.tasks:simulate_bands", base, cells)
    for (label, lam, scheme, color), m in zip(runs, results, strict=True):
        ax.fill_between(t, m["sigma_q05"], m["sigma_q95"], color=color, alpha=0.15, lw=0)
        ax.plot(t, m["sigma_median"], color=color, label=label)
        ax.plot(t, m["sigma_mean"], color=color, ls="--", lw=1)
        if scheme == "replace":
            ax.plot(t, stability.expected_sigma(t, n, 1.0, "mle"), "k:", lw=1.5, label=r"theory $E[\sigma_t]$")
        else:
            p = gaussian_moments(n=n, lambda_=lam, generations=G, scheme=scheme)
            ax.plot(t, np.sqrt(p.expected_cov[:, 0, 0]), "k-.", lw=0.8)
        # W2 is 0 at t = 0 (the chains start at the data distribution): drawn from t = 1 on the log axis
        bx.fill_between(t[1:], m["w2_q05"][1:], m["w2_q95"][1:], color=color, alpha=0.15, lw=0)
        bx.plot(t[1:], m["w2_median"][1:], color=color, label=label)
    ax.plot([], [], "k-.", lw=0.8, label=r"theory $\sqrt{E[\Sigma_t]}$ (recursion)")
    ax.plot([], [], color="gray", ls="--", lw=1, label="mean over chains")
    ax.set_yscale("log")
    ax.set_xlabel("generation t")
    ax.set_ylabel(r"$\sigma_t$ (data: $\sigma$ = 1)")
    ax.set_title(f"n = {n}, {C} chains: median and 5-95% band")
    ax.legend(fontsize=7, loc="lower left")
    bx.set_yscale("log")
    bx.set_xlabel("generation t")
    bx.set_ylabel(r"$W_2(p_{\theta_t}, p_{data})$")
    bx.set_title("distance to the data distribution (median, 5-95% band)")
    bx.legend(fontsize=7, loc="center right")
    fig.suptitle(
        "Gaussian warm-up of Bertrand et al. 2024 (docs/theory.md §6): purely synthetic retraining collapses, "
        "fixed-real does not\nsimulated chains: coloured lines and bands; closed forms: black dotted / dash-dot",
        fontsize=10,
    )
    fig.tight_layout()
    save(fig, args, "collapse")


if __name__ == "__main__":
    main()
