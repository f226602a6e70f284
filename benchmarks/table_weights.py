"""Weighted mixing (docs/theory.md §10): stationary error of the Gaussian mean, predicted vs simulated.

1-D Gaussian N(0, 1), mean and variance fitted by maximum likelihood, n = 100 real points,
k = lambda n synthetic points per round, lambda in {0.5, 1, 2}, schemes ``fixed-real`` and
``fresh-real``, at the natural weight w = k/(n+k) and at He, Xu & Cheng's optimal weight
``stability.optimal_synthetic_weight(lambda)`` (the fresh-real optimum; the fixed-real optimum is
w = 0, i.e. ignoring the synthetic data, with E[e^2] = 1/n). Columns:

- ``closed form``: ``stability.weights.stationary_mean_variance`` (exact for a known variance:
  fixed-real 1/n + w^2/(k(1-w^2)), fresh-real ((1-w)^2/n + w^2/k)/(1-w^2));
- ``exact moments``: ``gaussian_stationary(..., synthetic_weight=w)``, the exact stationary value for
  the simulated process (its variance is estimated each round, E[Sigma_t] < 1 by O(1/n));
- ``simulated +- se``: ``stability.simulate`` (exact method), E[(mu_t - mu_d)^2] pooled over chains and
  generations after a burn-in of 30 (w^60 < 1e-10), SE from the spread of per-chain time averages.

``python -m benchmarks.table_weights [--chains C]`` (default 20000 chains, 130 generations; ~20 s on 2 cores).

Measured (2026-12-01, 2-core CPU, 20000 chains, seed 0 for every row, so rows of one scheme share
their random numbers; values x 1e-3):

==========  ======  =======  ======  ===========  =============  ===============  =====
scheme      lambda  weight   w       closed form  exact moments  simulated +- se  z
==========  ======  =======  ======  ===========  =============  ===============  =====
fixed-real  0.5     natural  0.3333  12.500       12.469         12.375 +- 0.099  -0.95
fixed-real  0.5     optimal  0.2679  11.547       11.529         11.439 +- 0.099  -0.91
fixed-real  1       natural  0.5000  13.333       13.289         13.215 +- 0.100  -0.73
fixed-real  1       optimal  0.3820  11.708       11.688         11.613 +- 0.100  -0.76
fixed-real  2       natural  0.6667  14.000       13.944         13.876 +- 0.102  -0.67
fixed-real  2       optimal  0.5000  11.667       11.647         11.575 +- 0.100  -0.72
fresh-real  0.5     natural  0.3333  7.500        7.481          7.487 +- 0.008   0.74
fresh-real  0.5     optimal  0.2679  7.321        7.309          7.314 +- 0.008   0.57
fresh-real  1       natural  0.5000  6.667        6.645          6.635 +- 0.008   -1.13
fresh-real  1       optimal  0.3820  6.180        6.170          6.162 +- 0.007   -1.15
fresh-real  2       natural  0.6667  6.000        5.976          5.983 +- 0.010   0.69
fresh-real  2       optimal  0.5000  5.000        4.992          4.994 +- 0.006   0.29
==========  ======  =======  ======  ===========  =============  ===============  =====

``z`` = (simulated - exact moments)/se.
"""

from __future__ import annotations

import argparse
import math

from stability import optimal_synthetic_weight, simulate
from stability.dynamics import gaussian_stationary
from stability.weights import stationary_mean_variance

N = 100
LAMBDAS = (0.5, 1.0, 2.0)
BURN_IN = 30


def rows(chains: int = 20000, generations: int = 130, seed: int = 0) -> list[dict]:
    out = []
    for scheme in ("fixed-real", "fresh-real"):
        for lam in LAMBDAS:
            k = round(lam * N)
            for label, w in (("natural", k / (N + k)), ("optimal", optimal_synthetic_weight(lam))):
                r = simulate(
                    "gaussian", n=N, lambda_=lam, generations=generations, chains=chains, scheme=scheme,
                    synthetic_weight=w, seed=seed,
                )  # fmt: skip
                per_chain = (r.error[BURN_IN:] ** 2).mean(axis=0)
                exact = gaussian_stationary(n=N, lambda_=lam, scheme=scheme, synthetic_weight=w).cov_mean[0, 0]
                out.append(
                    dict(
                        scheme=scheme,
                        lam=lam,
                        label=label,
                        w=w,
                        closed=stationary_mean_variance(N, lam, scheme=scheme, synthetic_weight=w),
                        exact=float(exact),
                        sim=float(per_chain.mean()),
                        se=float(per_chain.std(ddof=1) / math.sqrt(chains)),
                    )
                )
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chains", type=int, default=20000)
    args = p.parse_args(argv)
    head = ("scheme", "lambda", "weight", "w", "closed", "exact", "simulated +- se", "z")
    print("{:<11} {:>6} {:>8} {:>7} {:>8} {:>8} {:>18} {:>6}".format(*head))
    for r in rows(args.chains):
        z = (r["sim"] - r["exact"]) / r["se"]
        print(
            f"{r['scheme']:<11} {r['lam']:>6g} {r['label']:>8} {r['w']:>7.4f} {1e3 * r['closed']:>8.3f} "
            f"{1e3 * r['exact']:>8.3f} {1e3 * r['sim']:>9.3f} +- {1e3 * r['se']:.3f} {z:>6.2f}"
        )


if __name__ == "__main__":
    main()
