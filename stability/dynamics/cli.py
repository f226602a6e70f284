"""``stability simulate``: run retraining chains from the command line (THEORY.md §6–7)."""

from __future__ import annotations

import json

from .._domains import check_seed
from .._io import output_path
from ..cli import cli_value, jsonable
from ._families import FAMILIES
from .simulate import ESTIMATORS, METHODS, SCHEMES, simulate

__all__ = ["register"]


def _report_generations(G: int) -> list[int]:
    return sorted({0, 1, G // 4, G // 2, (3 * G) // 4, G} & set(range(G + 1)))


def _cmd_simulate(args) -> int:
    n = int(cli_value("--n", args.n, "n"))
    lam = cli_value("--lambda", args.lambda_, "lambda_")
    G = int(cli_value("--generations", args.generations, "generations"))
    C = int(cli_value("--chains", args.chains, "chains"))
    dim = int(cli_value("--dim", args.dim, "d"))
    check_seed("--seed", args.seed, allow_generator=False)
    out = output_path(args.out, "--out", suffix=".npz") if args.out is not None else None  # before any work
    r = simulate(
        args.family,
        n=n,
        lambda_=lam,
        generations=G,
        chains=C,
        scheme=args.scheme,
        method=args.method,
        estimator=args.estimator,
        dim=dim if args.family == "gaussian" else None,
        seed=args.seed,
        progress=not args.json,
    )
    stat = "w2" if r.cov is not None else "error"
    dist, kl = r.band(stat), r.band("kl")
    gens = _report_generations(G)
    frac = r.collapsed.mean(axis=1)
    summary = {
        "family": r.family,
        "scheme": r.scheme,
        "method": r.method,
        "estimator": r.estimator,
        "n": n,
        "k": r.k,
        "lambda": lam,
        "w": r.w,
        "generations": G,
        "chains": C,
        "distance": stat,
        "table": [
            {
                "generation": g,
                f"{stat}_mean": dist.mean[g],
                f"{stat}_median": dist.median[g],
                f"{stat}_q05": dist.lower[g],
                f"{stat}_q95": dist.upper[g],
                "kl_median": kl.median[g],
                "collapsed_fraction": frac[g],
            }
            for g in gens
        ],
    }
    if out is not None:
        summary["out"] = str(r.save(out))
    if args.json:
        print(json.dumps(jsonable(summary)))
        return 0
    k = "n/a (replace)" if r.k is None else r.k
    print(f"{r.family} retraining, scheme {r.scheme}, method {r.method}: n={n}, k={k}, w={r.w:.4g}, {C} chains")
    head = f"{'gen':>6} {stat + ' mean':>12} {stat + ' median':>12} {'q05':>10} {'q95':>10}"
    print(head + f" {'KL median':>11} {'collapsed':>9}")
    for row in summary["table"]:
        vals = [row[f"{stat}_mean"], row[f"{stat}_median"], row[f"{stat}_q05"], row[f"{stat}_q95"], row["kl_median"]]
        print(
            f"{row['generation']:>6d} "
            + " ".join(f"{v:>{w}.4g}" for v, w in zip(vals, (12, 12, 10, 10, 11), strict=True))
            + f" {row['collapsed_fraction']:>9.3f}"
        )
    if "out" in summary:
        print(f"wrote {summary['out']}")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "simulate",
        help="simulate finite-sample retraining chains (exact or naive)",
        description="Simulate independent retraining chains of an exponential family under a mixing scheme "
        "and report the distance to the data distribution across generations (mean, median, 5-95%% band).",
    )
    p.add_argument("family", choices=FAMILIES)
    p.add_argument("--dim", type=float, default=1, help="Gaussian dimension, integer >= 1 (default 1)")
    p.add_argument("--n", type=float, required=True, help="real sample size, integer >= 2")
    p.add_argument("--lambda", dest="lambda_", type=float, required=True, help="synthetic-to-real ratio, >= 0 or inf")
    p.add_argument("--generations", type=float, required=True, help="integer >= 0")
    p.add_argument("--chains", type=float, default=1000, help="integer >= 1 (default 1000)")
    p.add_argument("--scheme", choices=SCHEMES, default="fixed-real")
    p.add_argument("--method", choices=METHODS, default="exact")
    p.add_argument("--estimator", choices=ESTIMATORS, default="mle")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the arrays to this .npz file ('.npz' is appended if missing)")
    p.add_argument("--json", action="store_true", help="print one JSON object (no progress bar)")
    p.set_defaults(func=_cmd_simulate)
