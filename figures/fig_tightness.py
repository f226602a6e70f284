"""How tight are the bounds? rate_exact, ||J||_2, the sharp bound and the paper's bound against lambda.

For built-in non-exponential-family models fitted numerically (``stability.numerical``) to
misspecified data: Student-t (df 4) on a normal density, logistic on a Student-t (df 3) density,
a two-component Gaussian mixture on a bimodal sample (1-D; 2-D in the full mode). Curves from
``stability.build_report`` at the model's numerically estimated constants (alpha, L, eps): the exact
local rate lambda gamma_max / (1 + lambda gamma_max), the Euclidean norm of J, the sharp bound
(Ferbach et al. 2024) and Theorem 1's factor (Bertrand et al. 2024); bounds are drawn where finite.
"""

import matplotlib.pyplot as plt
import numpy as np
from _common import parse_args, save
from scipy import stats

import stability
from stability.numerical import local_constants
from stability.numerical.models import GaussianMixture, Logistic, StudentT


def cases(fast: bool):
    rng = np.random.default_rng(0)
    bimodal = np.concatenate([rng.normal(-2.0, 1.0, 300), rng.normal(2.0, 0.7, 200)])
    out = [
        ("Student-t (df 4) on N(0, 1.5^2)", StudentT(4.0), stats.norm(0.0, 1.5)),
        ("logistic on t(3)", Logistic(), stats.t(3)),
        ("2-Gaussian mixture, 1-D sample", GaussianMixture(1), bimodal),
    ]
    if not fast:
        bimodal2 = np.concatenate([rng.normal(-2.0, 1.0, (300, 2)), rng.normal(2.0, 0.7, (200, 2))])
        out.append(("2-Gaussian mixture, 2-D sample", GaussianMixture(2), bimodal2))
    return out


def main(argv=None):
    args = parse_args(__doc__, argv)
    lams = np.linspace(0.0, 2.0, 41 if args.fast else 201)
    items = cases(args.fast)
    fig, axes = plt.subplots(1, len(items), figsize=(4.2 * len(items), 3.6), sharey=True)
    for ax, (title, model, data) in zip(axes, items, strict=True):
        c = local_constants(model, data)
        reps = [stability.build_report(c, lam) for lam in lams]
        series = {
            "rate_exact": [r.rate_exact for r in reps],
            r"$\|J\|_2$": [r.norm2 for r in reps],
            "sharp (Ferbach et al.)": [r.rate_sharp for r in reps],
            "paper (Thm 1)": [r.rate_paper for r in reps],
        }
        for (label, ys), style in zip(series.items(), ["-", "--", "-.", ":"], strict=True):
            ys = np.asarray(ys, dtype=float)
            ax.plot(lams, np.where(np.isfinite(ys), ys, np.nan), style, label=label)
        ax.axhline(1.0, color="grey", lw=0.6)
        ax.set_ylim(0, 1.5)
        pos = lams >= 0.05
        missing = [label for label, ys in series.items() if not np.any(np.asarray(ys, dtype=float)[pos] <= 1.5)]
        if missing:  # a bound undefined on this grid (L eps >= alpha) or above the axis for lambda >= 0.05
            note = "off the axis or undefined for $\\lambda \\geq 0.05$:\n" + ", ".join(missing)
            ax.text(0.03, 0.97, note, transform=ax.transAxes, fontsize=7, va="top", wrap=True)
        ax.set_title(f"{title}\nalpha={c.alpha:.3g}, L={c.L:.3g}, eps={c.eps:.3g}", fontsize=8)
        ax.set_xlabel(r"$\lambda$ (synthetic / real)")
    axes[0].set_ylabel("contraction factor")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        "Exact local rate vs Theorem 1 of Bertrand et al. 2024 and its sharp form, at numerically estimated "
        "constants (docs/theory.md §3-4)",
        fontsize=10,
        y=1.06,
    )
    save(fig, args, "tightness")


if __name__ == "__main__":
    main()
