"""Every retraining set-up at an equal real-data budget: Gaussian mean error against lambda and per generation.

No figure of Bertrand et al. 2024 corresponds: this extends their Gaussian setting (docs/theory.md §6)
to the set-ups of Gerstgrasser et al. 2024 (accumulate vs replace) and Kazdan, Schaeffer et al. 2024
(accumulate-subsample), plus fresh real data and real-data anchoring (fresh-fraction), under one
interface (``stability.simulate``, exact method). Data N(0, 1), n = 100 real points per round
(fixed-real, accumulate and accumulate-subsample keep the same 100; fresh-real draws 100 new ones;
fresh-fraction fits n(1 + lambda) points of which a = 1/(1 + lambda) are new real, i.e. the same 100:
it coincides with fresh-real, a check of two code paths), k = lambda n synthetic points per round,
MLE refits. y: n E(mu_t - mu)^2 / sigma^2. Left, against lambda: solid lines are closed forms
(docs/theory.md §6, §11): the stationary value for fixed-real and fresh-real (exact) and the limit
t -> inf of accumulate (exact) and accumulate-subsample (first order); dotted lines are the pool
schemes' exact predictions at the simulated generation G, where their points sit (the limit is
reached like 1/t); replace (n points of the model, no real data) is shown at generation G,
n(1 - (1 - 1/n)^G), and keeps growing. Dash-dotted line and triangles: fresh-real with the
variance-optimal synthetic weight w*(lambda) = (sqrt(1 + 4 lambda) - 1)/(sqrt(1 + 4 lambda) + 1) of
He, Xu & Cheng 2025 (``stability.optimal_synthetic_weight``, docs/theory.md §10) instead of the
natural share. Points: simulation, mean +- 2 standard errors across independent chains (stationary
schemes: each chain's average over generations B..G). Right: per generation at lambda = 1, exact
recursions (lines) against simulation (points), replace growing without bound.
``--fast``: three lambdas, 300 chains, fewer generations.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from _common import parse_args, save

from stability import optimal_synthetic_weight, simulate
from stability.dynamics.moments import fraction_stationary, gaussian_moments, gaussian_stationary, pool_stationary

N_REAL = 100
COLORS = {
    "fixed-real": "C0",
    "fresh-real": "C1",
    "fresh-fraction": "C1",
    "accumulate": "C2",
    "accumulate-subsample": "C3",
    "replace": "C7",
}


def _stationary_points(scheme, lam, chains, G, B, seed, **kw):
    """Mean and standard error across chains of each chain's average of n e_t^2 over generations B..G."""
    r = simulate("gaussian", n=kw.pop("n", N_REAL), lambda_=lam, generations=G, chains=chains, scheme=scheme,
                 seed=seed, **kw)  # fmt: skip
    x = N_REAL * (r.mean[B:, :, 0] ** 2).mean(axis=0)
    return x.mean(), x.std() / np.sqrt(x.size)


def _generation_points(scheme, lam, chains, G, seed):
    r = simulate("gaussian", n=N_REAL, lambda_=lam, generations=G, chains=chains, scheme=scheme, seed=seed)
    x = N_REAL * r.mean[:, :, 0] ** 2
    return x.mean(axis=1), x.std(axis=1) / np.sqrt(chains)


def main(argv=None):
    args = parse_args(__doc__, argv)
    start = time.perf_counter()
    if args.fast:
        lambdas, chains, G, B, G_pool, G_right = (0.25, 1.0, 4.0), 300, 40, 20, 15, 15
    else:
        lambdas, chains, G, B, G_pool, G_right = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0), 800, 80, 40, 40, 40
    n = N_REAL
    grid = np.geomspace(0.05, 8.0, 80)
    grid = grid[np.floor(grid * n) >= 1]
    ks = [int(np.floor(lam * n)) for lam in grid]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(13, 6.2))

    theory = {
        "fixed-real": [n * gaussian_stationary(n=n, lambda_=lam).cov_mean[0, 0] for lam in grid],
        "fresh-real": [n * gaussian_stationary(n=n, lambda_=lam, scheme="fresh-real").cov_mean[0, 0] for lam in grid],
        "accumulate": [n * pool_stationary(n, k, subsample=False, v2=-1.0) for k in ks],
    }
    for name, y in theory.items():
        ax.plot(grid, y, color=COLORS[name], lw=2, label=f"{name} (closed form)")
    w_opt = [optimal_synthetic_weight(k / n) for k in ks]  # He, Xu & Cheng 2025 (docs/theory.md §10)
    opt = [n * gaussian_stationary(n=n, lambda_=lam, scheme="fresh-real", synthetic_weight=w).cov_mean[0, 0]
           for lam, w in zip(grid, w_opt, strict=True)]  # fmt: skip
    ax.plot(grid, opt, color=COLORS["fresh-real"], ls="-.", lw=1.5, label="fresh-real, optimal weight w*(λ)")
    ax.plot(grid, [n * pool_stationary(n, k, subsample=True) for k in ks], color=COLORS["accumulate-subsample"],
            lw=2, label="accumulate-subsample (t → ∞, first order)")  # fmt: skip
    for scheme, ls in (("accumulate", ":"), ("accumulate-subsample", ":")):
        at_G = [n * gaussian_moments(n=n, lambda_=lam, generations=G_pool, scheme=scheme).cov_mean[-1, 0, 0]
                for lam in grid]  # fmt: skip
        ax.plot(grid, at_G, color=COLORS[scheme], ls=ls, lw=1.3, label=f"{scheme} at generation {G_pool} (exact)")
    replace_G = n * (1.0 - (1.0 - 1.0 / n) ** G_pool)
    ax.axhline(replace_G, color=COLORS["replace"], ls="--", lw=1.5, label=f"replace at generation {G_pool}")

    rows = []
    for i, lam in enumerate(lambdas):
        seed = 100 + 10 * i
        for j, scheme in enumerate(("fixed-real", "fresh-real")):
            m, se = _stationary_points(scheme, lam, chains, G, B, seed + j)
            ax.errorbar(lam, m, 2 * se, fmt="o", color=COLORS[scheme], ms=5, capsize=2)
            pred = n * gaussian_stationary(n=n, lambda_=lam, scheme=scheme).cov_mean[0, 0]
            rows.append((scheme, lam, pred, m, se))
        w = optimal_synthetic_weight(lam)
        r = simulate("gaussian", n=n, lambda_=lam, generations=G, chains=chains, scheme="fresh-real",
                     synthetic_weight=w, seed=seed + 5)  # fmt: skip
        x = n * (r.mean[B:, :, 0] ** 2).mean(axis=0)
        ax.errorbar(lam * 0.94, x.mean(), 2 * x.std() / np.sqrt(chains), fmt="^", color=COLORS["fresh-real"], ms=5,
                    capsize=2)  # fmt: skip
        pred = n * gaussian_stationary(n=n, lambda_=lam, scheme="fresh-real", synthetic_weight=w).cov_mean[0, 0]
        rows.append((f"fresh-real w*={w:.3f}", lam, pred, x.mean(), x.std() / np.sqrt(chains)))
        total = round(n * (1 + lam))  # fresh-fraction at the same 100 real points per round
        m, se = _stationary_points("fresh-fraction", None, chains, G, B, seed + 2, n=total, real_fraction=1 / (1 + lam))
        ax.errorbar(lam * 1.06, m, 2 * se, fmt="s", mfc="none", color=COLORS["fresh-fraction"], ms=6, capsize=2)
        rows.append(("fresh-fraction", lam, n * fraction_stationary(total, n, v2=-1.0), m, se))
        for j, scheme in enumerate(("accumulate", "accumulate-subsample")):
            r = simulate(
                "gaussian", n=n, lambda_=lam, generations=G_pool, chains=chains, scheme=scheme, seed=seed + 3 + j
            )
            x = n * r.mean[-1, :, 0] ** 2
            ax.errorbar(lam, x.mean(), 2 * x.std() / np.sqrt(chains), fmt="D", color=COLORS[scheme], ms=5, capsize=2)
            pred = n * gaussian_moments(n=n, lambda_=lam, generations=G_pool, scheme=scheme).cov_mean[-1, 0, 0]
            rows.append((f"{scheme} (gen {G_pool})", lam, pred, x.mean(), x.std() / np.sqrt(chains)))
    ax.errorbar(
        [], [], 0, fmt="s", mfc="none", color=COLORS["fresh-fraction"], label="fresh-fraction a = 1/(1+λ) (sim.)"
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("λ (synthetic points per round / n)")
    ax.set_ylabel(r"$n\,E(\mu-\mu_d)^2/\sigma^2$")
    ax.set_title(f"stationary error, n = {n} real points per round (points: simulation ± 2 SE)", fontsize=10)
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    ax.grid(alpha=0.3, which="both")

    # right: per generation at lambda = 1
    t = np.arange(1, G_right + 1)
    for j, scheme in enumerate(("fixed-real", "fresh-real", "accumulate", "accumulate-subsample", "replace")):
        pred = n * gaussian_moments(n=n, lambda_=1.0, generations=G_right, scheme=scheme).cov_mean[:, 0, 0]
        ax2.plot(t, pred[1:], color=COLORS[scheme], lw=1.8, label=scheme)
        m, se = _generation_points(scheme, 1.0, chains, G_right, 500 + j)
        sel = np.unique(np.r_[1, 2, t[:: max(1, G_right // 10)]])
        ax2.errorbar(sel, m[sel], 2 * se[sel], fmt="o", color=COLORS[scheme], ms=4, capsize=2)
    ax2.set_yscale("log")
    ax2.set_ylabel(r"$n\,E(\mu_t-\mu_d)^2/\sigma^2$")
    ax2.set_xlabel("generation t")
    ax2.set_title("λ = 1 per generation: exact recursions (lines) vs simulation (± 2 SE)", fontsize=10)
    ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    ax2.grid(alpha=0.3)
    fig.suptitle("Retraining set-ups under one interface: Gaussian mean, equal real-data budget", fontsize=11)
    fig.tight_layout()
    save(fig, args, "setups")
    print(f"{'set-up':<28} {'lambda':>6} {'predicted':>10} {'simulated':>10} {'SE':>8}")
    for name, lam, pred, m, se in rows:
        print(f"{name:<28} {lam:>6g} {pred:>10.4f} {m:>10.4f} {se:>8.4f}")
    print(f"fig_setups: {len(lambdas)} lambdas x 5 set-ups + per-generation panel, {chains} chains, "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip


if __name__ == "__main__":
    main()
