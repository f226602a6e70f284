"""Theorem 2 (Bertrand et al. 2024) against exact simulation: the bound holds with the promised probability.

Known-variance Gaussian N(mu, I_d), d = 3, n = 50, fixed real sample, delta = 0.05, started at
distance 1 from mu*. Left: the Theorem 2 bound (e (1 - rho^t)/(1 - rho) + rho^t ||mu_0 - mu*||,
with the statistical term e = a(delta)/sqrt(n) computed from the exact law of G^n - G and rho the
paper's factor) against the median and 95% quantile of ||mu_t - mu*|| across chains, for several
lambda. Right: the observed fraction of chains above the bound and the theorem's allowance
1 - (1 - delta)^t.
"""

import matplotlib.pyplot as plt
import numpy as np
from _common import parse_args, run_grid, save


def main(argv=None):
    args = parse_args(__doc__, argv)
    G, C = (30, 4000) if args.fast else (60, 40000)
    t = np.arange(G + 1)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    lams, colors = [0.1, 0.3, 0.44], ["C0", "C1", "C3"]
    # the lambda grid goes through stability.sweeps (serial unless --sweep says otherwise), seed 0 for every run
    base = {"n": 50, "delta": 0.05, "generations": G, "chains": C, "dim": 3, "seed": 0}
    results = run_grid(args, "stability.sweeps.tasks:theorem2_curves", base, {"lambda_": lams})
    every = max(1, G // 15)
    for i, (lam, color, c) in enumerate(zip(lams, colors, results, strict=True)):
        ax.plot(t, c["bound"], color=color, lw=2, label=rf"bound, $\lambda$={lam:g} ($\rho$={c['rho']:.2f})")
        # observations as markers, staggered so that equal values of the three lambdas stay visible
        mark = dict(ls="none", ms=4, markevery=(i, every), mfc="none", color=color)
        ax.plot(t, c["distance_median"], marker="o", **mark)
        ax.plot(t, c["distance_q95"], marker="^", **mark)
        bx.plot(t, c["violation"], marker="o", label=rf"observed, $\lambda$={lam:g}", **mark)
    bx.plot(t, 1 - (1 - 0.05) ** t, "k", lw=1.5, label=r"allowed $1-(1-\delta)^t$")
    ax.plot([], [], "ko", mfc="none", ms=4, label="observed median distance")
    ax.plot([], [], "k^", mfc="none", ms=4, label="observed 95% quantile")
    ax.set_xlabel("generation t")
    ax.set_ylabel(r"$\|\mu_t - \mu^*\|$")
    ax.set_title(f"n = 50, d = 3, delta = 0.05, {C} chains")
    ax.legend(fontsize=7)
    bx.set_xlabel("generation t")
    bx.set_ylabel("fraction of chains above the bound")
    bx.set_title("violation frequency vs Theorem 2's allowance")
    bx.legend(fontsize=7)
    fig.suptitle(
        "Theorem 2 of Bertrand et al. 2024 (docs/theory.md §5) on known-variance Gaussian chains: "
        "the bound (lines) vs simulation (markers)",
        fontsize=10,
    )
    fig.tight_layout()
    save(fig, args, "theorem2")


if __name__ == "__main__":
    main()
