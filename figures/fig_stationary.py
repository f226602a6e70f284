"""The stationary excess NLL of finite-sample retraining: first-order law vs simulation vs Theorem 2.

Fixed real sample of n points, k = floor(lambda n) fresh model samples per round, refit to the
maximum of the mixed objective, chains started at theta* and pooled after a burn-in. Curve: the
predicted stationary excess NLL on the real sample, 1/2 tr(A C) with C the solution of
C = J C J' + Q (``stability.stationary``, docs/theory.md §9); it rises like lambda/(n(1 + 2 lambda)) for
an exponential family and stays below d/(4n) (dotted). Points: simulated mean +- 2 standard errors
(standard error from the spread of per-chain averages). Left: 1-D Gaussian (exponential family;
``stability.simulate``, exact sufficient statistics, a fixed real N(0, 1) sample per chain; excess
NLL in closed form). Middle: Student-t(3) location-scale on a N(0, 1) sample; right: logistic
location-scale on a uniform sample (``stability.retrain_chains``, batched Newton refits to
|grad| <= 1e-10). Dashed: Theorem 2's radius of stability r (A4 term = the 95% quantile of the
first-order one-step error, delta = 0.05) in the same units, 1/2 lambda_max(A) r^2 (the largest
excess NLL the theorem then allows), drawn where rho_paper < 1 (lambda < 1/2, less when L eps > 0);
for larger lambda the theorem gives nothing. ``--fast``: n = 100, three lambdas, 40 chains.

Reuse: the Student-t and logistic points (``retrain_chains``, about 80 s on an idle core) are stored in
``results/cpu/stationary.json`` with the hash of the settings that produced them and redrawn when the
settings match; ``--full`` (``make figures FULL=1``) recomputes and stores them again. The curves and
the Gaussian panel (under a second) are always computed.
"""

import math

import matplotlib.pyplot as plt
import numpy as np
from _common import parse_args, save
from _stored import STORE, full_requested, reuse_line, store_json, stored_json, timer

import stability
import stability.experiments.runs
from stability.numerical.chains import default_burn_in, theorem2_radius
from stability.numerical.models import Logistic, StudentT

T2_LABEL = r"Theorem 2 radius, $\frac{1}{2}\lambda_{max}(A) r^2$"


def predicted(A, B, n, grid):
    return np.array([stability.stationary(A, B, lam, n).excess_loss for lam in grid])


def radius(A, B, n, grid, eps, alpha, L):
    """Theorem 2's excess-loss radius on ``grid``; inf where rho_paper >= 1 (the theorem gives nothing, so the
    Monte Carlo A4 quantile is not computed there). 2^16 draws for the quantile: relative error ~0.4 %."""
    L = L if math.isfinite(L) else math.nan
    out = np.full(len(grid), np.inf)
    for i, lam in enumerate(grid):
        if math.isfinite(L) and stability.bound(lam, eps, alpha, L) < 1:
            out[i] = theorem2_radius(A, B, lam, n, eps=eps, alpha=alpha, L=L, n_mc=2**16).excess_loss
    return out


def main(argv=None):
    args = parse_args(__doc__, argv)
    if args.fast:
        n, lambdas, chains, after = 100, (0.25, 1.0, 4.0), 40, 15
    else:
        n, lambdas, chains, after = 500, (0.1, 0.25, 0.5, 1.0, 2.0, 4.0), 200, 40
    grid = np.geomspace(0.05, 10.0, 60)
    grid = grid[np.floor(grid * n) >= 1]
    rng = np.random.default_rng(1)
    normal = rng.standard_normal(n)
    uniform = rng.uniform(-math.sqrt(3), math.sqrt(3), n)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), sharey=True)

    # exponential family: natural parameters of N(0, 1), Fisher diag(1, 2); A = B, L = 0
    A = np.diag([1.0, 2.0])
    ax = axes[0]
    lo = predicted(A, A, n, grid).min()
    ax.plot(grid, predicted(A, A, n, grid), "C0", lw=2, label=r"predicted $\frac{1}{2}$tr(AC)")
    ax.plot(grid, radius(A, A, n, grid, 0.0, 1.0, 0.0), "C3--", lw=1.5, label=T2_LABEL)
    for lam in lambdas:
        b = default_burn_in(stability.stationary(A, A, lam, n).rate)
        r = stability.simulate("gaussian", n=n, lambda_=lam, generations=b + after, chains=20 * chains, seed=0)
        per_chain = r.excess_nll[b:].mean(axis=0)
        se = per_chain.std(ddof=1) / math.sqrt(per_chain.size)
        ax.errorbar(lam, per_chain.mean(), yerr=2 * se, fmt="ko", ms=4, capsize=3)
    ax.set_title(f"Gaussian (exponential family)\nstability.simulate, {20 * chains} chains", fontsize=10)

    panels = {
        "student-t": ("Student-t(3) on N(0,1) data", StudentT(3.0), normal),
        "logistic": ("logistic on uniform data", Logistic(), uniform),
    }
    consts = {key: model.local_constants(x) for key, (_, model, x) in panels.items()}
    # the settings the simulated points depend on (the chain for lambdas[i] is seeded by i)
    settings = {
        "n": n,
        "lambdas": list(lambdas),
        "chains": chains,
        "after_burn_in": after,
        "data": "rng(1): N(0,1) then U(-sqrt 3, sqrt 3)",
        "models": ["StudentT(3.0)", "Logistic()"],
    }
    points = None if args.fast or full_requested(args) else stored_json("stationary", settings)
    if points is not None:
        print(reuse_line(STORE / "stationary.json", stability.experiments.runs.config_hash(settings)))
    else:
        with timer(f"ran retrain_chains ({chains} chains, {len(lambdas)} lambdas, 2 models)") as t:
            points = {key: [] for key in panels}
            for key, (_, model, x) in panels.items():
                c = consts[key]
                for i, lam in enumerate(lambdas):
                    b = default_burn_in(stability.stationary(c.A, c.B, lam, n).rate)
                    res = stability.retrain_chains(model, x, lam, generations=b + after, chains=chains, seed=i)
                    o = res.observed(b)
                    points[key].append([lam, float(o.excess_loss), float(o.excess_loss_se)])
        if not args.fast:
            store_json("stationary", settings, points, t.seconds, "python figures/fig_stationary.py --out DIR")

    for ax, (key, (title, _, _)) in zip(axes[1:], panels.items(), strict=True):
        c = consts[key]
        ax.plot(grid, predicted(c.A, c.B, n, grid), "C0", lw=2, label=r"predicted $\frac{1}{2}$tr(AC)")
        ax.plot(grid, radius(c.A, c.B, n, grid, c.eps, c.alpha, c.L), "C3--", lw=1.5, label=T2_LABEL)
        for lam, mean, se in points[key]:
            ax.errorbar(lam, mean, yerr=2 * se, fmt="ko", ms=4, capsize=3)
        ax.set_title(f"{title}\nretrain_chains, {chains} chains", fontsize=10)

    for ax in axes:
        ax.axhline(2 / (4 * n), color="0.5", ls=":", lw=1, label="d/(4n), d = 2")
        ax.errorbar([], [], yerr=[], fmt="ko", ms=4, capsize=3, label=r"simulated $\pm$ 2 SE")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"$\lambda$ (synthetic-to-real ratio)")
        ax.grid(alpha=0.3, which="both")
        ax.set_ylim(0.5 * lo, 30 * 2 / (4 * n))  # Theorem 2's radius leaves the top as rho_paper -> 1
    axes[0].set_ylabel(f"stationary excess NLL per real point (n = {n})")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        "Stationary excess NLL of finite-sample retraining: first-order law (docs/theory.md §9, line) vs "
        "simulated chains (points) vs Theorem 2 of Bertrand et al. 2024 (dashed)",
        fontsize=10,
    )
    fig.tight_layout()
    save(fig, args, "stationary")


if __name__ == "__main__":
    main()
