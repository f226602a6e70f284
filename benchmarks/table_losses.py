"""Any training loss (docs/theory.md §13): analyze() against closed forms and against refit chains.

Rows:

- ``hsm-t5``: Student-t(5) location-scale fitted by Hyvärinen score matching
  (``HyvarinenScoreMatching(StudentT(5))``) to a N(0, 1) sample of n = 400 points, lambda = 1,
  ``CHAINS`` refit chains x ``GENERATIONS`` generations from theta*_lambda (``retrain_chains``),
  pooled after the burn-in rho^(2b) <= 1e-3. Columns: the analysis (self_consistency, bias_loss,
  rate_exact vs lambda/(1+lambda)), the predicted stationary covariance (the sandwich law,
  ``analyze(...).stationary(n).cov``) and the simulated one with its standard error (spread of the
  per-chain time averages over independent chains), the z-score of every entry against the
  sandwich law and against the likelihood form of the law (S = H: what the likelihood formula
  would predict with this loss's own curvature), and against the law of the same model fitted by
  maximum likelihood (docs/theory.md §9: A and the Fisher information B at the MLE).
- ``ddpm-T10``: ``LinearGaussianDDPM`` with T = 10, betas linearly from 1e-3 to 0.3, a real sample
  of n = 400 points standardised to mean 0.3 and variance 1.7, lambda in {0.5, 1, 4}: analyze's
  theta*_lambda read as moments (the (m, v) it is fitted to) against the fixed point of the
  closed-form moment map, and the non-zero spectrum of the general J against the moment map's
  Jacobian; at lambda = 1 also ``DDPM_CHAINS`` chains x ``GENERATIONS`` generations against the
  (Lyapunov) stationary law.

``--fast``: 100 chains. Writes ``table_losses.md`` (``--out``).

Measured (full run, 1 thread, about 4 minutes of CPU on the shared machine; covariances x 1e3,
entries 11, 12, 22 of (mu, log s)):

=====================  ======  =========  =========  ==========  ===========  ==============================
model                  lambda  self-cons  bias_loss  rate_exact  lambda/(1+l)  C pred / sim +- se
=====================  ======  =========  =========  ==========  ===========  ==============================
HSM Student-t(5)       1       2.6e-07    1.6e-14    0.5153      0.5          1.563 / 1.577 +- 0.024,
                                                                              0.099 / 0.107 +- 0.012,
                                                                              0.822 / 0.820 +- 0.012
linear DDPM, T = 10    0.5     0.954      1.88e-03   0.2769      0.3333
linear DDPM, T = 10    1       0.954      6.19e-03   0.4153      0.5          tr C 1.924e-03 / 1.962e-03
linear DDPM, T = 10    4       0.953      4.44e-02   0.6685      0.8
=====================  ======  =========  =========  ==========  ===========  ==============================

HSM: z vs the sandwich law +0.58, +0.64, -0.22; vs the likelihood form S = H (0.955, 0.052, 0.365)
+25.7, +4.7, +38.4; vs the MLE's law (0.828, 0.015, 0.606) about +31, +8, +18. DDPM: analyze's
fixed-point moments (0.2642, 1.6512), (0.2370, 1.6108), (0.1510, 1.4564) and |eig J| (0.2323,
0.2769), (0.3533, 0.4153), (0.5921, 0.6685) equal the moment map's to the printed digits; 300
chains at lambda = 1: largest |z| over the 210 covariance entries 1.93, excess real loss
1/2 tr(A C) predicted 2.181e-03, simulated 2.289e-03 +- 8.4e-05.
"""

import argparse
import math
import time
from pathlib import Path

import numpy as np

import stability
from stability.numerical import HyvarinenScoreMatching, LinearGaussianDDPM
from stability.numerical.chains import default_burn_in
from stability.numerical.models import StudentT

CHAINS, DDPM_CHAINS, GENERATIONS, N = 600, 300, 30, 400
BETAS = np.linspace(1e-3, 0.3, 10)


def _upper(m):
    return m[np.triu_indices(m.shape[0])]


def chains_row(model, x, lam, chains, seed=0):
    t0 = time.perf_counter()
    rep = stability.analyze(model, x, lam)
    law = rep.stationary(x.shape[0])
    fisher = stability.stationary(rep.A, rep.H, lam, x.shape[0])  # S = H, M = -H: the likelihood form
    res = stability.retrain_chains(model, x, lam, generations=GENERATIONS, chains=chains, seed=seed)
    obs = res.observed(default_burn_in(law.rate))
    z = (obs.cov - law.cov) / obs.cov_se
    zf = (obs.cov - fisher.cov) / obs.cov_se
    return {
        "rep": rep,
        "law": law,
        "fisher": fisher,
        "obs": obs,
        "z": z,
        "zf": zf,
        "iters": float(res.iterations.mean()),
        "seconds": time.perf_counter() - t0,
    }


def fmt_mat(m, scale):
    return ", ".join(f"{v * scale:.3f}" for v in _upper(m))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fast", action="store_true")
    parser.add_argument("--out", default="table_losses.md")
    args = parser.parse_args(argv)
    chains = 100 if args.fast else CHAINS
    dchains = 60 if args.fast else DDPM_CHAINS
    lines = ["# Any training loss: analyze() vs closed forms and refit chains", ""]
    x = np.random.default_rng(0).standard_normal(N)
    r = chains_row(HyvarinenScoreMatching(StudentT(5.0)), x, 1.0, chains)
    rep, law, obs = r["rep"], r["law"], r["obs"]
    pairs = zip(_upper(obs.cov), _upper(obs.cov_se), strict=True)
    lc = StudentT(5.0).local_constants(x)  # the same model fitted by maximum likelihood (docs/theory.md §9)
    mle = stability.stationary(lc.A, lc.B, 1.0, N)
    zm = (obs.cov - mle.cov) / obs.cov_se
    lines += [
        f"## Student-t(5) by Hyvärinen score matching, N(0,1) data, n = {N}, lambda = 1, {chains} chains x "
        f"{GENERATIONS} generations (burn-in {obs.burn_in}; {r['seconds']:.0f} s)",
        "",
        f"theta*_lambda = {np.round(rep.theta_star, 5)}, theta_hat = {np.round(rep.theta_hat, 5)}, "
        f"self_consistency = {rep.self_consistency:.3g}, bias_loss = {rep.bias_loss:.2e}, rate_exact = "
        f"{rep.rate_exact:.4f} (lambda/(1+lambda) = 0.5), mean Newton iterations {r['iters']:.2f}",
        "",
        "Covariance entries (11, 12, 22) x 1e3:",
        "",
        f"- sandwich law (predicted): {fmt_mat(law.cov, 1e3)}",
        f"- likelihood form S = H:    {fmt_mat(r['fisher'].cov, 1e3)}",
        "- simulated +- se:          " + ", ".join(f"{a * 1e3:.3f} +- {b * 1e3:.3f}" for a, b in pairs),
        f"- z vs sandwich:            {', '.join(f'{v:+.2f}' for v in _upper(r['z']))}",
        f"- z vs likelihood form:     {', '.join(f'{v:+.2f}' for v in _upper(r['zf']))}",
        f"- the MLE's law (§9, A, B): {fmt_mat(mle.cov, 1e3)}; z {', '.join(f'{v:+.2f}' for v in _upper(zm))}",
        "",
    ]
    ddpm = LinearGaussianDDPM(BETAS)
    xd = np.random.default_rng(1).standard_normal(N)
    xd = 0.3 + math.sqrt(1.7) * (xd - xd.mean()) / xd.std()
    lines += [
        "## LinearGaussianDDPM, T = 10, betas 1e-3..0.3, data mean 0.3 variance 1.7",
        "",
        "| lambda | self_consistency | bias_loss | rate_exact | lambda/(1+lambda) | |eig J| (general) | "
        "|eig| moment map | moments (analyze) | moments (closed form) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for lam in (0.5, 1.0, 4.0):
        rep = stability.analyze(ddpm, xd, lam)
        m, v, rate = ddpm.fixed_point(lam, 0.3, 1.7)
        ev = np.sort(np.abs(rep.eigenvalues))[-2:]
        mm = ddpm.fitted_moments(rep.theta_star)
        lines.append(
            f"| {lam:g} | {rep.self_consistency:.4f} | {rep.bias_loss:.3e} | {rep.rate_exact:.4f} | "
            f"{lam / (1 + lam):.4f} | {ev[0]:.4f}, {ev[1]:.4f} | {rate[0]:.4f}, {rate[1]:.4f} | "
            f"{mm[0]:.4f}, {mm[1]:.4f} | {m:.4f}, {v:.4f} |"
        )
    r = chains_row(ddpm, xd, 1.0, dchains, seed=1)
    law, obs = r["law"], r["obs"]
    rel = np.abs(obs.cov - law.cov).max() / np.abs(law.cov).max()
    zmax = np.abs(r["z"]).max()
    lines += [
        "",
        f"DDPM chains, lambda = 1, {dchains} chains x {GENERATIONS} generations: stationary law by "
        f"{law.method}; tr C predicted {np.trace(law.cov):.4e}, simulated {np.trace(obs.cov):.4e}; largest "
        f"|z| over the 210 entries {zmax:.2f}; largest |obs - pred| / max|pred| = {rel:.3f}; excess real loss "
        f"1/2 tr(A C) predicted {law.excess_loss:.3e}, simulated {obs.excess_loss:.3e} +- {obs.excess_loss_se:.1e}",
        "",
    ]
    text = "\n".join(lines)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
