"""Curated retraining (docs/theory.md §15): predicted vs simulated fixed points, rates and reward trajectories.

Data N(0, 1), quadratic reward r(x) = -beta (x - a)^2 / 2 (a = 2, beta = 0.5) unless stated; a linear
reward r(x) = b x in two rows. Predictions: ``curated_gaussian`` (population recursion; K = inf by the
tilt, finite K by the quadrature law of a kept point) and ``curated_replace`` (closed form). Simulation:
``stability.simulate(..., curation=dict(K=K, reward=...))``, exact method for K = inf (n = 1e5, so the
O(1/k) finite-sample bias is far below the SE), naive for finite K (n = 2000; 16 candidates per kept
point). Each simulated value is a mean over independent chains with its standard error across chains;
fixed points are each chain's average over generations B..G compared with the fixed point of its own
real sample's moments (fixed-real). The simulated rate is the ratio (E m_{t+1} - m*)/(E m_t - m*)
averaged over t = 0..2 from a start on the fixed point displaced along the Jacobian's dominant
eigenvector, against the population map's ratio from the same start; SE from 200 bootstrap resamples.

``python -m benchmarks.table_curation`` (~3 min on 2 shared cores). Measured (2026-12-04, seeds fixed):

| set-up | K | λ | β | quantity | predicted | simulated ± SE | z |
|---|---|---|---|---|---|---|---|
| fixed-real, quadratic | ∞ | 0.5 | 0.5 | fixed-point mean | 0.29799 | 0.29798 ± 0.00002 | -1.05 |
| fixed-real, quadratic | ∞ | 0.5 | 0.5 | fixed-point variance | 1.07771 | 1.07768 ± 0.00003 | -1.11 |
| fixed-real, quadratic | ∞ | 0.5 | 0.5 | rate (ρ = 0.4291): ratio t = 0..2 | 0.4215 | 0.4227 ± 0.0008 | +1.42 |
| fixed-real, quadratic | ∞ | 1 | 0.5 | fixed-point mean | 0.53533 | 0.53531 ± 0.00002 | -0.89 |
| fixed-real, quadratic | ∞ | 1 | 0.5 | fixed-point variance | 1.15208 | 1.15206 ± 0.00004 | -0.68 |
| fixed-real, quadratic | ∞ | 1 | 0.5 | rate (ρ = 0.5629): ratio t = 0..2 | 0.5497 | 0.5498 ± 0.0004 | +0.08 |
| fixed-real, quadratic | ∞ | 2 | 0.5 | fixed-point mean | 0.85748 | 0.85744 ± 0.00003 | -1.32 |
| fixed-real, quadratic | ∞ | 2 | 0.5 | fixed-point variance | 1.20131 | 1.20126 ± 0.00004 | -1.12 |
| fixed-real, quadratic | ∞ | 2 | 0.5 | rate (ρ = 0.6329): ratio t = 0..2 | 0.6172 | 0.6172 ± 0.0003 | +0.14 |
| fixed-real, quadratic | 16 | 1 | 0.5 | fixed-point mean | 0.51562 | 0.51559 ± 0.00031 | -0.11 |
| fixed-real, quadratic | 16 | 1 | 0.5 | fixed-point variance | 1.13290 | 1.13282 ± 0.00051 | -0.16 |
| fixed-real, quadratic | 16 | 1 | 0.5 | rate (ρ = 0.5734): ratio t = 0..2 | 0.5488 | 0.5444 ± 0.0033 | -1.33 |
| replace, quadratic | ∞ | ∞ (replace) | 0.5 | E r at t = 1 | -0.61111 | -0.61105 ± 0.00009 | +0.64 |
| replace, quadratic | ∞ | ∞ (replace) | 0.5 | E r at t = 5 | -0.15306 | -0.15303 ± 0.00005 | +0.60 |
| replace, quadratic | ∞ | ∞ (replace) | 0.5 | E r at t = 20 | -0.03099 | -0.03096 ± 0.00002 | +1.62 |
| replace, quadratic | ∞ | ∞ (replace) | 0.5 | variance at t = 20 | 0.09091 | 0.09087 ± 0.00006 | -0.66 |
| replace, quadratic | 2 | ∞ (replace) | 0.5 | E r at t = 1 | -0.87540 | -0.87448 ± 0.00100 | +0.91 |
| replace, quadratic | 2 | ∞ (replace) | 0.5 | E r at t = 5 | -0.33170 | -0.33238 ± 0.00088 | -0.77 |
| replace, quadratic | 2 | ∞ (replace) | 0.5 | E r at t = 10 | -0.16625 | -0.16713 ± 0.00065 | -1.36 |
| replace, quadratic | 16 | ∞ (replace) | 0.5 | E r at t = 1 | -0.63418 | -0.63324 ± 0.00079 | +1.19 |
| replace, quadratic | 16 | ∞ (replace) | 0.5 | E r at t = 5 | -0.16490 | -0.16515 ± 0.00044 | -0.58 |
| replace, quadratic | 16 | ∞ (replace) | 0.5 | E r at t = 10 | -0.07528 | -0.07501 ± 0.00029 | +0.96 |
| fixed-real, linear | ∞ | 0.5 | b = 0.3 | fixed-point mean | 0.16178 | 0.16179 ± 0.00002 | +0.47 |
| fixed-real, linear | ∞ | 0.5 | b = 0.3 | fixed-point variance | 1.07852 | 1.07843 ± 0.00004 | -2.23 |
| fixed-real, linear | ∞ | 0.5 | b = 0.3 | rate (ρ = 0.5161): ratio t = 0..2 | 0.5227 | 0.5228 ± 0.0007 | +0.12 |
| replace, linear | ∞ | ∞ (replace) | b = 0.3 | mean at t = 10 (drift t·v·b) | 3.00000 | 3.00176 ± 0.00123 | +1.43 |
"""

from __future__ import annotations

import math

import numpy as np

from stability import simulate
from stability.dynamics import LinearReward, QuadraticReward, curated_gaussian, curated_replace

A, BETA = 2.0, 0.5


def _row(setup, K, lam, beta, what, pred, sim):
    x = np.asarray(sim, dtype=float)
    mean, se = x.mean(), x.std() / math.sqrt(x.size)
    z = (mean - pred) / se
    lam_s = "∞ (replace)" if math.isinf(lam) else f"{lam:g}"
    K_s = "∞" if math.isinf(K) else f"{K}"
    print(f"| {setup} | {K_s} | {lam_s} | {beta} | {what} | {pred:.5f} | {mean:.5f} ± {se:.5f} | {z:+.2f} |")
    return z


def _fixed(reward, lam, K, n, C, G, B, seed, beta_label):
    method = "exact" if math.isinf(K) else "naive"
    r = simulate("gaussian", n=n, lambda_=lam, generations=G, chains=C, method=method, seed=seed,
                 curation=dict(K=K, reward=reward))  # fmt: skip
    mh, vh = r.real_mean[:, 0], r.real_cov[:, 0, 0]
    if math.isinf(K):  # each chain's fixed point at its own real sample's moments
        pts = [curated_gaussian(a, b, reward=reward, lambda_=lam) for a, b in zip(mh, vh, strict=True)]
        pm, pv = np.array([g.mean for g in pts]), np.array([g.var for g in pts])
    else:  # quadrature map: the fixed point at the data and its first-order change with (m_hat, v_hat)
        # (central differences, step 1e-3; the neglected second order is O(1/n) = 5e-4 relative)
        fp = lambda a, b: np.array([(g := curated_gaussian(a, b, reward=reward, lambda_=lam, K=K)).mean, g.var])  # noqa: E731
        f0, h = fp(0.0, 1.0), 1e-3
        dm_ = (fp(h, 1.0) - fp(-h, 1.0)) / (2 * h)
        dv_ = (fp(0.0, 1.0 + h) - fp(0.0, 1.0 - h)) / (2 * h)
        lin = f0 + np.outer(mh, dm_) + np.outer(vh - 1.0, dv_)
        pm, pv = lin[:, 0], lin[:, 1]
    dm = r.mean[B:, :, 0].mean(axis=0) - pm
    dv = r.cov[B:, :, 0, 0].mean(axis=0) - pv
    g0 = curated_gaussian(0.0, 1.0, reward=reward, lambda_=lam, K=K)
    setup = f"fixed-real, {reward.kind}"
    _row(setup, K, lam, beta_label, "fixed-point mean", g0.mean, dm + g0.mean)
    _row(setup, K, lam, beta_label, "fixed-point variance", g0.var, dv + g0.var)
    # rate: start on the fixed point plus eps along the Jacobian's dominant eigenvector, so the
    # deviation decays like rate^t from t = 0; predicted: the population map's ratio from the same start
    # (the exact transient, nonlinear terms included), next to the spectral radius
    ev, V = np.linalg.eig(g0.jacobian)
    u = np.real(V[:, np.argmax(np.abs(ev))])
    u = u / u[0]
    eps = 0.1 if math.isinf(K) else 0.2
    init = {"mean": [g0.mean + eps], "cov": [[g0.var + eps * u[1]]]}
    Cr, Gr = (4000, 3) if math.isinf(K) else (1000, 3)
    rr = simulate("gaussian", n=n if math.isinf(K) else n, lambda_=lam, generations=Gr, chains=Cr, method=method,
                  seed=seed + 1, init=init, curation=dict(K=K, reward=reward))  # fmt: skip
    mp, _ = g0.trajectory(Gr, init["mean"], init["cov"])
    dp = mp[:, 0] - g0.mean
    pred = float(np.mean(dp[1:] / dp[:-1]))
    e = rr.mean[:, :, 0] - g0.mean  # E over chains of the real-sample fixed point is g0's to O(1/n)
    rng = np.random.default_rng(0)

    def ratio(idx):
        d = e[:, idx].mean(axis=1)
        return float(np.mean(d[1:] / d[:-1]))

    est = ratio(np.arange(Cr))
    se = float(np.std([ratio(rng.integers(0, Cr, Cr)) for _ in range(200)]))
    K_s = "∞" if math.isinf(K) else K
    print(f"| {setup} | {K_s} | {lam:g} | {beta_label} | rate (ρ = {g0.rate:.4f}): ratio t = 0..{Gr - 1} | "
          f"{pred:.4f} | {est:.4f} ± {se:.4f} | {(est - pred) / se:+.2f} |")  # fmt: skip
    return r


def main() -> None:
    quad = QuadraticReward(A, BETA)
    print("| set-up | K | λ | β | quantity | predicted | simulated ± SE | z |")
    print("|---|---|---|---|---|---|---|---|")
    for lam in (0.5, 1.0, 2.0):
        _fixed(quad, lam, math.inf, 100_000, 400, 70, 35, int(10 * lam), BETA)
    _fixed(quad, 1.0, 16, 2000, 200, 40, 20, 7, BETA)
    # replace, K = inf: closed form vs simulation
    G = 20
    r = simulate("gaussian", n=100_000, lambda_=math.inf, generations=G, chains=400, seed=3,
                 curation=dict(K=math.inf, reward=quad))  # fmt: skip
    m, S = curated_replace(0.0, 1.0, quad, G)
    er = quad.expected(m, S)
    for t in (1, 5, 20):
        _row("replace, quadratic", math.inf, math.inf, BETA, f"E r at t = {t}", er[t], r.expected_reward[t])
    _row("replace, quadratic", math.inf, math.inf, BETA, "variance at t = 20", S[20, 0, 0], r.cov[20, :, 0, 0])
    # replace, finite K: population recursion with the quadrature law (n = 2000: MLE bias (n-1)/n per round)
    for K in (2, 16):
        g = curated_gaussian(0.0, 1.0, reward=quad, lambda_=math.inf, K=K)
        mK, SK = g.trajectory(10)
        erK = quad.expected(mK, SK)
        r = simulate("gaussian", n=2000, lambda_=math.inf, generations=10, chains=300, method="naive", seed=K,
                     curation=dict(K=K, reward=quad))  # fmt: skip
        for t in (1, 5, 10):
            _row("replace, quadratic", K, math.inf, BETA, f"E r at t = {t}", erK[t], r.expected_reward[t])
    # linear reward
    lin = LinearReward(0.3)
    _fixed(lin, 0.5, math.inf, 100_000, 400, 70, 35, 11, "b = 0.3")
    r = simulate("gaussian", n=100_000, lambda_=math.inf, generations=10, chains=400, seed=12,
                 curation=dict(K=math.inf, reward=lin))  # fmt: skip
    m, S = curated_replace(0.0, 1.0, lin, 10)
    _row("replace, linear", math.inf, math.inf, "b = 0.3", "mean at t = 10 (drift t·v·b)", m[10, 0], r.mean[10, :, 0])


if __name__ == "__main__":
    main()
