"""retrain_chains throughput: batched Newton over 1,000 Student-t chains vs a Python loop over chains.

Model: Student-t(3) location-scale, real sample N(0, 1) of n points, lambda = 1 (k = n synthetic
points per round), chains started at theta*. Batched: ``stability.retrain_chains`` with 1,000
chains (value, gradient and Hessian of all chains by ``torch.func.vmap``). Loop: the same rounds
with one call of the library's scalar optimiser ``stability.numerical.operator.maximize`` per chain
(same Newton method, same Armijo rule, same tolerance |grad|_inf <= 1e-10) on the same synthetic
points, timed on the first ``LOOP_CHAINS`` chains (its cost per chain does not depend on how many
chains there are). Both include drawing the synthetic points. Throughput in chain-generations per
second; the loop's refits must agree with the batched ones to 1e-8 (both stop at |grad| <= 1e-10
and the curvature is >= 0.5). Run for n = 200 and n = 1000: the loop's cost per refit is mostly
per-call overhead (nearly flat in n), the batched cost is proportional to n + k. Measured on the
2-core project machine (CPU time): n = 200: 3,237 vs 76 chain-generations/s (43x); n = 1000: 706
vs 86 (8x).

Threads: torch on 1 thread (``BENCH_THREADS`` overrides), the same for both. Times are CPU
seconds of this process (``time.process_time``; with one thread, the wall time on an idle core): on
a shared machine the wall clock mostly measures the other processes. Wall times are printed too.
"""

import os
import time

import numpy as np
import torch

import stability
from stability.numerical.models import StudentT
from stability.numerical.operator import maximize

CHAINS, GENERATIONS, LOOP_CHAINS, LAMBDA = 1000, 3, 50, 1.0


def loop_generation(model, x, theta, k, lam, gen):
    """One generation by a plain Python loop over chains: draw, then the library's scalar Newton per chain."""
    y = model.sample(torch.as_tensor(theta), k, gen)
    out = np.empty_like(theta)
    for c in range(theta.shape[0]):
        yc = y[c]

        def f(th, yc=yc):
            return (model.log_prob(th, x).mean() + lam * model.log_prob(th, yc).mean()) / (1 + lam)

        out[c] = maximize(f, theta[c]).raise_if_failed(f"chain {c}").theta
    return out


def run(n: int) -> float:
    model = StudentT(3.0)
    xs = np.random.default_rng(0).standard_normal(n)
    # warm-up: torch.func builds its transforms on first use (about 2 CPU s, once per process)
    stability.retrain_chains(model, xs, LAMBDA, generations=1, chains=2, seed=0)
    t0, w0 = time.process_time(), time.perf_counter()
    r = stability.retrain_chains(model, xs, LAMBDA, generations=GENERATIONS, chains=CHAINS, seed=0)
    t_batched, w_batched = time.process_time() - t0, time.perf_counter() - w0
    rate_b = CHAINS * GENERATIONS / t_batched
    x = torch.as_tensor(xs[:, None])
    gen = torch.Generator().manual_seed(1)
    start = r.theta[0, :LOOP_CHAINS]
    t0, w0 = time.process_time(), time.perf_counter()
    theta = start
    for _ in range(GENERATIONS):
        theta = loop_generation(model, x, theta, r.k, LAMBDA, gen)
    t_loop, w_loop = time.process_time() - t0, time.perf_counter() - w0
    rate_l = LOOP_CHAINS * GENERATIONS / t_loop
    # agreement on identical inputs: refit the batched run's first generation chain by chain
    gen = torch.Generator().manual_seed(0)
    y = model.sample(torch.as_tensor(r.theta[0]), r.k, gen)[:LOOP_CHAINS]
    err = 0.0
    for c in range(LOOP_CHAINS):

        def f(th, yc=y[c]):
            return (model.log_prob(th, x).mean() + LAMBDA * model.log_prob(th, yc).mean()) / (1 + LAMBDA)

        err = max(err, float(np.abs(maximize(f, r.theta[0, c]).theta - r.theta[1, c]).max()))
    print(
        f"n = {n}, k = {r.k}: batched {CHAINS} chains x {GENERATIONS} generations in {t_batched:.2f} CPU s "
        f"({w_batched:.1f} s wall) = {rate_b:.0f} chain-generations/s (mean Newton iterations "
        f"{r.iterations.mean():.2f}); loop {LOOP_CHAINS} chains x {GENERATIONS} in {t_loop:.2f} CPU s "
        f"({w_loop:.1f} s wall) = {rate_l:.1f} chain-generations/s; ratio {rate_b / rate_l:.0f}x "
        f"(wall {(CHAINS / w_batched) / (LOOP_CHAINS / w_loop):.0f}x); max |theta_loop - theta_batched| = {err:.1e}"
    )
    if err > 1e-8:
        raise SystemExit(f"batched and loop refits disagree: {err:.2e} > 1e-8")
    return rate_b / rate_l


def main():
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
    for n in (200, 1000):
        run(n)


if __name__ == "__main__":
    main()
