"""Exact vs naive retraining simulator (target: exact >= 300x faster) and exact throughput in d = 2, 10, 50.

Gaussian, fixed-real, d = 4, n = 10,000, lambda = 1 (k = 10,000 synthetic points per round),
1,000 chains, 100 generations. The exact method is timed on the full problem. The naive method
draws 10^4 x 4 normals per chain and round, so it is timed on fewer chains and generations
(NAIVE_CHAINS x NAIVE_GENERATIONS) and scaled per chain-generation to the full problem (its
one-time draw of the real samples is timed separately and scaled per chain); the printout says
so. Both timings use the same machine in the same run.
"""

import time

from stability.dynamics import simulate

D, N, LAMBDA, CHAINS, GENERATIONS = 4, 10_000, 1.0, 1_000, 100
NAIVE_CHAINS, NAIVE_GENERATIONS = 100, 5


def _time(**kw) -> float:
    t0 = time.perf_counter()
    simulate("gaussian", n=N, lambda_=LAMBDA, scheme="fixed-real", seed=0, **kw)
    return time.perf_counter() - t0


def main():
    exact = min(_time(dim=D, generations=GENERATIONS, chains=CHAINS, method="exact") for _ in range(3))
    naive = _time(dim=D, generations=NAIVE_GENERATIONS, chains=NAIVE_CHAINS, method="naive")
    setup = _time(dim=D, generations=0, chains=NAIVE_CHAINS, method="naive")  # the one-time real sample
    per_cg_exact = exact / (CHAINS * GENERATIONS)
    per_cg_naive = (naive - setup) / (NAIVE_CHAINS * NAIVE_GENERATIONS)
    naive_full = per_cg_naive * CHAINS * GENERATIONS + setup * CHAINS / NAIVE_CHAINS
    print(f"gaussian fixed-real d={D} n={N} lambda={LAMBDA:g}: {CHAINS} chains x {GENERATIONS} generations")
    print(f"  exact (full problem, best of 3): {exact:8.3f} s   ({1 / per_cg_exact:,.0f} chain-generations/s)")
    print(
        f"  naive (measured on {NAIVE_CHAINS} chains x {NAIVE_GENERATIONS} generations = {naive:.2f} s, "
        f"scaled per chain-generation to the full problem, its one-time real-sample draw ({setup:.2f} s) "
        f"scaled per chain): {naive_full:8.1f} s"
    )
    print(f"  speed-up exact / naive: {naive_full / exact:,.0f}x (target >= 300x)")
    for d, chains, gens in [(2, 1_000, 50), (10, 1_000, 20), (50, 200, 10)]:
        t = min(_time(dim=d, generations=gens, chains=chains, method="exact") for _ in range(3))
        rate = chains * gens / t
        print(f"  exact d={d:3d}: {rate:12,.0f} chain-generations/s ({chains} chains x {gens} generations)")


if __name__ == "__main__":
    main()
