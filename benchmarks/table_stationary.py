"""Stationary excess NLL of finite-sample retraining: first-order prediction vs simulation vs Theorem 2.

Rows: an exponential family (1-D Gaussian, mean and variance fitted, ``stability.simulate`` with a
fixed real sample per chain, exact sufficient-statistic sampler) and three non-exponential models
refitted by batched Newton (``stability.numerical.retrain_chains``, one fixed real sample):

- Student-t(3) location-scale fitted to a N(0, 1) sample (THEORY.md §9's check),
- logistic location-scale fitted to a uniform sample on (-sqrt 3, sqrt 3),
- two-component 1-D Gaussian mixture fitted to a mixture of two uniforms (40% on (-3, -1),
  60% on (0.5, 3.5)),

each at lambda in {0.25, 1, 4}, n = 1000 real points, k = floor(lambda n). Columns:

- ``pred``: 1/2 tr(A C) of ``stability.stationary`` (A, B from ``model.local_constants``);
- ``sim +- se``: the excess NLL on the real sample averaged over chains and generations after the
  burn-in (rho_exact^(2b) <= 1e-3), with the standard error from the spread of per-chain averages
  (independent chains, so autocorrelation is accounted for); ``z`` = (sim - pred)/se;
- ``C z``: the largest |observed - predicted| entry of the covariance of theta_t - theta* in units of
  its standard error;
- ``T2 rho`` and ``T2 NLL``: Theorem 2's contraction factor rho_paper(lambda, eps, alpha, L) and its
  radius of stability r (A4 term: the 95% quantile of the first-order one-step error, delta = 0.05)
  in excess-NLL units, 1/2 lambda_max(A) r^2 (the largest excess NLL on the ball the theorem
  guarantees); ``inf`` where rho_paper >= 1 (the theorem says nothing).

The first-order prediction has a relative bias O(1/n); at n = 1000 it is below the Monte Carlo
standard error of these runs (|z| is what shows it). ``--fast``: n = 200, 60 chains.
Writes ``table_stationary.md`` (``--out``).

Measured (n = 1000; 200 chains, 4000 for the Gaussian; pred / sim +- se, x 1e-4; T2 in NLL units):

=================  ======  ==================  ==================  ==================
model / data       lambda  pred                sim +- se           Theorem 2 radius
=================  ======  ==================  ==================  ==================
gaussian           0.25    1.667               1.673 +- 0.004      16.7 (10x pred)
gaussian           1       3.333               3.341 +- 0.011      inf
gaussian           4       4.444               4.417 +- 0.022      inf
student-t(3)       0.25    1.642               1.645 +- 0.018      45.5 (28x)
student-t(3)       1       3.306               3.318 +- 0.048      inf
student-t(3)       4       4.431               4.655 +- 0.11       inf
logistic           0.25    1.664               1.683 +- 0.018      78.3 (47x)
logistic           1       3.329               3.243 +- 0.050      inf
logistic           4       4.442               4.394 +- 0.10       inf
mixture (d = 5)    0.25    4.014               4.038 +- 0.032      inf (L eps > alpha)
mixture (d = 5)    1       8.167               8.074 +- 0.071      inf
mixture (d = 5)    4       11.03               11.30 +- 0.15       inf
=================  ======  ==================  ==================  ==================

All |z| <= 1.97; the largest covariance entry deviation is 2.8 standard errors.
"""

import argparse
import math
import time
from pathlib import Path

import numpy as np

import stability
from stability.numerical.chains import check_stationary, default_burn_in, theorem2_radius
from stability.numerical.models import GaussianMixture, Logistic, StudentT
from stability.schemes import synthetic_count

LAMBDAS = (0.25, 1.0, 4.0)
AFTER_BURN_IN = 40  # generations pooled after the burn-in
GAUSSIAN = "gaussian (exp. family) / normal"


def datasets(n: int, seed: int = 1) -> dict:
    rng = np.random.default_rng(seed)
    normal = rng.standard_normal(n)
    uniform = rng.uniform(-math.sqrt(3), math.sqrt(3), n)
    which = rng.random(n) < 0.4
    bimodal = np.where(which, rng.uniform(-3.0, -1.0, n), rng.uniform(0.5, 3.5, n))
    return {
        "student-t(3) / normal": (StudentT(3.0), normal),
        "logistic / uniform": (Logistic(), uniform),
        "gaussian-mixture / two uniforms": (GaussianMixture(1), bimodal),
    }


def gaussian_row(n: int, lam: float, chains: int, seed: int = 0) -> dict:
    """1-D Gaussian (mean and variance), fixed real sample: A = B (gamma = 1), excess NLL in closed form."""
    k = synthetic_count(n, lam)
    A = np.diag([1.0, 2.0])  # Fisher information of N(0, 1) in natural parameters; gamma = 1 whatever A is
    law = stability.stationary(A, A, lam, n)
    b = default_burn_in(law.rate)
    t0 = time.perf_counter()
    r = stability.simulate("gaussian", n=n, lambda_=lam, generations=b + AFTER_BURN_IN, chains=chains, seed=seed)
    per_chain = r.excess_nll[b:].mean(axis=0)
    # natural parameters: L = 0 (exponential family), so rho_paper = lambda/(1 - lambda) whatever eps is
    t2 = theorem2_radius(A, A, lam, n, k=k, eps=0.0, alpha=1.0, L=0.0)
    return dict(
        model=GAUSSIAN,
        lam=lam,
        n=n,
        k=k,
        chains=chains,
        gens=b + AFTER_BURN_IN,
        burn=b,
        gammas="1",
        pred=law.excess_loss,
        sim=float(per_chain.mean()),
        se=float(per_chain.std(ddof=1) / math.sqrt(chains)),
        cz=math.nan,
        rho=t2.rho,
        t2=t2.excess_loss,
        iters=math.nan,
        gmax=math.nan,
        seconds=time.perf_counter() - t0,
    )


def chains_row(name: str, model, x, lam: float, chains: int, seed: int = 0) -> dict:
    from stability import stationary

    consts = model.local_constants(x)
    b = default_burn_in(stationary(consts.A, consts.B, lam, x.size).rate)
    t0 = time.perf_counter()
    c = check_stationary(model, x, lam, generations=b + AFTER_BURN_IN, chains=chains, seed=seed, burn_in=b)
    o = c.observed
    cz = float(np.max(np.abs(o.cov - c.predicted.cov) / o.cov_se))
    return dict(
        model=name,
        lam=lam,
        n=x.size,
        k=c.result.k,
        chains=chains,
        gens=c.result.generations,
        burn=b,
        gammas="-".join(f"{g:.3f}" for g in c.predicted.gammas[[0, -1]]),
        pred=c.predicted.excess_loss,
        sim=o.excess_loss,
        se=o.excess_loss_se,
        cz=cz,
        rho=c.theorem2.rho,
        t2=c.theorem2.excess_loss,
        iters=float(c.result.iterations.mean()),
        gmax=float(c.result.max_grad_norm.max()),
        seconds=time.perf_counter() - t0,
    )


HEADER = (
    "| model / data | lambda | n | k | chains x gens (burn) | gamma range | pred 1/2 tr(AC) | sim +- se | z | C z "
    "| T2 rho | T2 radius (NLL) | T2 / pred | Newton it. | max grad | s |"
)


def fmt(r: dict) -> str:
    z = (r["sim"] - r["pred"]) / r["se"]
    ratio = r["t2"] / r["pred"] if math.isfinite(r["t2"]) else math.inf
    return (
        f"| {r['model']} | {r['lam']:g} | {r['n']} | {r['k']} | {r['chains']} x {r['gens']} ({r['burn']}) "
        f"| {r['gammas']} | {r['pred']:.4e} | {r['sim']:.4e} +- {r['se']:.1e} | {z:+.2f} | {r['cz']:.2f} "
        f"| {r['rho']:.3g} | {r['t2']:.3e} | {ratio:.3g} | {r['iters']:.2f} | {r['gmax']:.1e} | {r['seconds']:.0f} |"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="n = 200, 60 chains")
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--chains", type=int, default=None)
    parser.add_argument("--only", default="", help="comma-separated substrings of the model names to run")
    parser.add_argument("--out", type=Path, default=Path("."))
    args = parser.parse_args(argv)
    n = args.n or (200 if args.fast else 1000)
    chains = args.chains or (60 if args.fast else 400)
    rows = []
    sep = "|" + "---|" * (HEADER.count("|") - 1)
    print(HEADER, sep, sep="\n", flush=True)
    only = args.only.split(",")

    def wanted(name):
        return any(part in name for part in only)

    if wanted(GAUSSIAN):
        for lam in LAMBDAS:
            rows.append(gaussian_row(n, lam, 20 * chains))
            print(fmt(rows[-1]), flush=True)
    for name, (model, x) in datasets(n).items():
        if not wanted(name):
            continue
        for lam in LAMBDAS:
            rows.append(chains_row(name, model, x, lam, chains))
            print(fmt(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"table_stationary{'_' + args.only.replace(',', '_') if args.only else ''}.md"
    path.write_text("\n".join([HEADER, sep, *map(fmt, rows)]) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
