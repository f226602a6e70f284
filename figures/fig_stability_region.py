"""Stability region of Theorem 1 in the (lambda, eps) plane.

Shaded: where the paper's bound (Bertrand et al. 2024, Thm 1) guarantees local contraction,
lambda (1 + L eps / alpha) < 1/2; dashed: the boundary of the sharp form (Ferbach et al. 2024),
lambda < alpha / (2 L eps). Both drawn from ``stability.bound`` / ``stability.sharp_bound`` on a grid;
the exact local rate of docs/theory.md §3 is below one for every finite lambda.
"""

import matplotlib.pyplot as plt
import numpy as np
from _common import parse_args, save

import stability


def main(argv=None):
    args = parse_args(__doc__, argv)
    m = 120 if args.fast else 600
    lam = np.linspace(0.0, 1.0, m)
    eps = np.linspace(0.0, 2.0, m)
    Lam, Eps = np.meshgrid(lam, eps)
    cases = [(1.0, 1.0), (1.0, 0.5), (0.5, 1.0), (2.0, 1.0)]
    fig, axes = plt.subplots(1, len(cases), figsize=(4 * len(cases), 3.6), sharey=True)
    for ax, (alpha, L) in zip(axes, cases, strict=True):
        rho = stability.bound(Lam, Eps, alpha=alpha, L=L)
        sharp = stability.sharp_bound(Lam, Eps, alpha=alpha, L=L)
        ax.contourf(Lam, Eps, (rho < 1).astype(float), levels=[0.5, 1.5], colors=["tab:blue"], alpha=0.35)
        cs = ax.contour(Lam, Eps, np.minimum(rho, 5), levels=[0.25, 0.5, 0.75], colors="tab:blue", linewidths=0.8)
        ax.clabel(cs, fmt=r"$\rho$=%.2f", fontsize=7)
        ax.contour(Lam, Eps, (sharp < 1).astype(float), levels=[0.5], colors="k", linestyles="--")
        ax.plot(stability.max_lambda(eps, alpha, L), eps, color="tab:blue", lw=1.5)
        ax.set_title(rf"$\alpha$={alpha:g}, L={L:g}")
        ax.set_xlabel(r"$\lambda$ (synthetic / real)")
        ax.set_xlim(0, 1)
    axes[0].set_ylabel(r"$\varepsilon = W_1(p_{\theta^*}, p_{data})$")
    axes[-1].plot([], [], color="tab:blue", label="paper: Thm 1 boundary")
    axes[-1].plot([], [], "k--", label="sharp (Ferbach et al.)")
    axes[-1].legend(loc="upper right", fontsize=7)
    fig.suptitle(
        r"Where Theorem 1 of Bertrand et al. 2024 guarantees local contraction (shaded, contours: $\rho_{paper}$) "
        "and the sharp form's boundary (docs/theory.md §4)",
        y=1.04,
    )
    save(fig, args, "stability_region")


if __name__ == "__main__":
    main()
