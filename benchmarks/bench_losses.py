"""Any training loss (docs/theory.md §13): analyze() of a LossModel at d = 20 and d = 200, and refit throughput.

1. ``stability.analyze`` of ``LinearGaussianDDPM`` with T = 10 (d = 20; betas 1e-3..0.3) and T = 100
   (d = 200; betas 1e-4..0.05), n = 400 real points, lambda = 1, the default bank (n_noise = 2**14):
   theta-hat fit, the fixed-point solve, A, H, M by autograd and S from per-sample gradients. The
   d = 20 run is checked against the closed-form moment map (rate to 1e-6).
2. ``retrain_chains`` throughput, chain-generations per CPU second: ``HyvarinenScoreMatching(
   StudentT(5))`` against the likelihood chains of ``StudentT(5)``, N(0, 1) data, n = 400, lambda = 1,
   ``CHAINS`` chains. The per-generation cost is the difference between a run of ``GENERATIONS``
   generations and one of 0 (which leaves the fit of theta* / the analysis out of both), after a
   warm-up (torch.func builds its transforms on first use); best of ``REPEATS``. Aim: the loss
   chains at least half as fast as the likelihood chains.

Measured on the shared 2-core project machine (1 thread, CPU time; noisy to +-30 %): analyze at
d = 20 in 0.4-0.75 s (rate equal to the moment map's to 5e-13), at d = 200 in 85 s (H, M and the
fixed-point equation's Jacobian vmap 200 cotangents through the 100-step sampler over the 2**14
bank; the Jacobian is reused while Newton contracts); throughput likelihood about 2,300-2,900
and HSM 1,200-2,200 chain-generations/s, ratio 0.54-0.9 across runs (HSM refits take 3.54 Newton
iterations on average against 3.00: the score matching loss is more curved in theta; per
iteration the two cost about the same).

Threads: torch on 1 thread (``BENCH_THREADS`` overrides). Times are CPU seconds of this process.
"""

import os
import time

import numpy as np
import torch

import stability
from stability.numerical import HyvarinenScoreMatching, LinearGaussianDDPM
from stability.numerical.models import StudentT

CHAINS, GENERATIONS, N, REPEATS = 300, 8, 400, 3


def _cpu(fn):
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def bench_analyze():
    x = np.random.default_rng(0).standard_normal(N) * 1.3 + 0.3
    for T, betas in ((10, np.linspace(1e-3, 0.3, 10)), (100, np.linspace(1e-4, 0.05, 100))):
        ddpm = LinearGaussianDDPM(betas)
        stability.analyze(ddpm, x[:20], 1.0, n_noise=64)  # warm-up
        t, rep = _cpu(lambda ddpm=ddpm: stability.analyze(ddpm, x, 1.0))
        line = (
            f"analyze LinearGaussianDDPM(T={T}), d = {2 * T}, n_noise = {rep.n_noise}: {t:.2f} CPU s; "
            f"rate_exact {rep.rate_exact:.4f}, self_consistency {rep.self_consistency:.3f}"
        )
        if T == 10:
            _, _, rate = ddpm.fixed_point(1.0, float(x.mean()), float(x.var()))
            err = abs(rep.rate_exact - rate[-1])
            line += f", |rate - closed form| = {err:.1e}"
            if err > 1e-6:
                raise SystemExit(f"analyze disagrees with the moment map: {err:.2e}")
        print(line)


def bench_throughput():
    x = np.random.default_rng(1).standard_normal(N)
    rates = {}
    for name, model in (
        ("likelihood StudentT(5)", StudentT(5.0)),
        ("HSM StudentT(5)", HyvarinenScoreMatching(StudentT(5.0))),
    ):
        stability.retrain_chains(model, x, 1.0, generations=1, chains=2, seed=0)  # warm-up
        best = np.inf
        for _ in range(REPEATS):  # the least disturbed of a few repeats (a shared machine)
            t0, _ = _cpu(lambda m=model: stability.retrain_chains(m, x, 1.0, generations=0, chains=CHAINS))
            t1, r = _cpu(lambda m=model: stability.retrain_chains(m, x, 1.0, generations=GENERATIONS, chains=CHAINS))
            best = min(best, t1 - t0)
        rates[name] = CHAINS * GENERATIONS / max(best, 1e-9)
        print(
            f"{name}: {CHAINS} chains x {GENERATIONS} generations in {best:.2f} CPU s (best of {REPEATS}) = "
            f"{rates[name]:.0f} chain-generations/s, mean Newton iterations {r.iterations.mean():.2f}"
        )
    a, b = rates.values()
    print(f"throughput ratio HSM / likelihood = {b / a:.2f} (aim >= 0.5)")


def main():
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    bench_analyze()
    bench_throughput()


if __name__ == "__main__":
    main()
