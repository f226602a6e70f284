"""Self-correcting retraining: the stationary error of the Gaussian mean against the corrector's strength gamma.

Gillman et al. 2024 (arXiv 2402.07087) claim that a corrector, which replaces each synthetic point
with probability gamma/(1+gamma) by a draw of the target, makes retraining more stable (docs/theory.md
§14). Data N(0, 1), mean and variance fitted by maximum likelihood, n = 100 real points, exact
simulator (``stability.simulate(..., correction=gamma)``). Left, ``fixed-real`` (target: each chain's
real-sample fit mhat) at lambda = 0.5, 1, 4: n E(mu_t - mhat)^2, the part of the error the corrector
acts on (docs/theory.md §9, §14); solid lines: the exact moment recursion (``gaussian_stationary``),
dashed: the first-order law rho^2/(k[(1+rho)^2 - rho^2/(1+gamma)^2]) times n; dotted at the left
edge: no corrector. Right, ``replace`` (n points of the corrected model, target the data
distribution) and ``fresh-real`` at lambda = 1: n E(mu_t - mu_d)^2; without a corrector replace has
no stationary law (it collapses), with one its error settles near (1+gamma)^2/(gamma(2+gamma)).
Points: simulation, mean +- 2 standard errors across independent chains of each chain's average over
generations B..G. The printed table lists predicted (exact recursion) against simulated values with z.
``--fast``: three gammas, 400 chains, fewer generations.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from _common import parse_args, save

from stability import simulate
from stability.dynamics.moments import gaussian_stationary, stationary_closed_form

N_REAL = 100
COLORS = {0.5: "C0", 1.0: "C1", 4.0: "C2", "replace": "C7", "fresh-real": "C3"}


def _points(scheme, lam, g, chains, G, B, seed):
    """Mean and SE across chains of each chain's average of n e_t^2 over generations B..G (e against mhat
    under fixed-real, against the data mean otherwise)."""
    r = simulate(
        "gaussian", n=N_REAL, lambda_=lam, generations=G, chains=chains, scheme=scheme, correction=g, seed=seed
    )
    ref = r.real_mean[None, :, 0] if scheme == "fixed-real" else 0.0
    x = N_REAL * ((r.mean[B:, :, 0] - ref) ** 2).mean(axis=0)
    return x.mean(), x.std(ddof=1) / np.sqrt(x.size)


def _exact(scheme, lam, g):
    st = gaussian_stationary(n=N_REAL, lambda_=lam, scheme=scheme, correction=g)
    return N_REAL * (st.cov_mean[0, 0] - (1.0 / N_REAL if scheme == "fixed-real" else 0.0))


def main(argv=None):
    args = parse_args(__doc__, argv)
    start = time.perf_counter()
    if args.fast:
        gammas, chains, G, B = (0.3, 1.0, 3.0), 400, 100, 50
    else:
        gammas, chains, G, B = (0.1, 0.3, 1.0, 3.0, 10.0), 2000, 220, 80
    grid = np.geomspace(0.05, 20.0, 60)
    n = N_REAL
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 5.6))
    rows = []
    for i, lam in enumerate((0.5, 1.0, 4.0)):
        c = COLORS[lam]
        ax.plot(grid, [_exact("fixed-real", lam, g) for g in grid], color=c, lw=2, label=f"λ = {lam:g} (exact)")
        first = [n * stationary_closed_form("gaussian", lam, n, correction=g).cov[0, 0] for g in grid]
        ax.plot(grid, first, color=c, lw=1.2, ls="--")
        ax.plot(grid[:6], [_exact("fixed-real", lam, 0.0)] * 6, color=c, ls=":", lw=1.5)
        for j, g in enumerate(gammas):
            m, se = _points("fixed-real", lam, g, chains, G, B, 100 + 10 * i + j)
            ax.errorbar(g, m, 2 * se, fmt="o", color=c, ms=5, capsize=2)
            rows.append(("fixed-real (vs mhat)", lam, g, _exact("fixed-real", lam, g), m, se))
    ax.plot([], [], color="k", ls="--", lw=1.2, label="first-order law (§14)")
    ax.plot([], [], color="k", ls=":", lw=1.5, label="no corrector (γ = 0)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("γ (corrector strength; a point is replaced w.p. γ/(1+γ))")
    ax.set_ylabel(r"$n\,E(\mu_t-\hat m)^2/\sigma^2$")
    ax.set_title("fixed-real, target the real fit (points: simulation ± 2 SE)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")

    for name, lam in (("replace", np.inf), ("fresh-real", 1.0)):
        c = COLORS[name]
        ax2.plot(grid, [_exact(name, lam, g) for g in grid], color=c, lw=2, label=f"{name} (exact)")
        first = [n * stationary_closed_form("gaussian", lam, n, correction=g).cov[0, 0] for g in grid]
        if name == "replace":
            ax2.plot(grid, first, color=c, lw=1.2, ls="--", label="replace, (1+γ)²/(γ(2+γ)) (first order)")
        for j, g in enumerate(gammas):
            m, se = _points(name, lam, g, chains, G, B, 300 + 10 * j + (name == "replace"))
            ax2.errorbar(g, m, 2 * se, fmt="o", color=c, ms=5, capsize=2)
            rows.append((name, lam, g, _exact(name, lam, g), m, se))
    ax2.axhline(_exact("fresh-real", 1.0, 0.0), color=COLORS["fresh-real"], ls=":", lw=1.5,
                label="fresh-real, no corrector")  # fmt: skip
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("γ")
    ax2.set_ylabel(r"$n\,E(\mu_t-\mu_d)^2/\sigma^2$")
    ax2.set_title("replace (target the data; collapses without a corrector) and fresh-real, λ = 1", fontsize=10)
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3, which="both")
    fig.suptitle(
        "Self-correcting retraining (Gillman et al. 2024): stationary error of the Gaussian mean, n = 100", fontsize=11
    )
    fig.tight_layout()
    save(fig, args, "correction")
    print(f"{'set-up':<22} {'lambda':>6} {'gamma':>6} {'predicted':>10} {'simulated':>10} {'SE':>8} {'z':>6}")
    for name, lam, g, pred, m, se in rows:
        print(f"{name:<22} {lam:>6g} {g:>6g} {pred:>10.4f} {m:>10.4f} {se:>8.4f} {(m - pred) / se:>6.2f}")
    print(f"fig_correction: {len(gammas)} gammas, {chains} chains, {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
