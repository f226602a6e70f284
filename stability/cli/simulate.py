"""``stability simulate``: run retraining chains from the command line (docs/theory.md §6–7)."""

from __future__ import annotations

import argparse
import json

from .._domains import DOMAINS
from .._io import output_path
from .._jsonable import jsonable
from ..dynamics.simulator import ESTIMATORS, METHODS, SCHEMES, simulate
from ..families import simulated_families
from ._options import add_dim, add_json, add_lambda, add_out, add_quiet, add_seed, integer, number, progress

__all__ = ["register"]


def _cmd_simulate(args: argparse.Namespace) -> int:
    out = output_path(args.out, "--out", suffix=".npz") if args.out is not None else None  # before any work
    r = simulate(
        args.family,
        n=args.n,
        lambda_=args.lambda_,
        generations=args.generations,
        chains=args.chains,
        scheme=args.scheme,
        method=args.method,
        estimator=args.estimator,
        dim=args.dim,  # read by the families with a dimension (size_option "d"), ignored by the others
        seed=args.seed,
        progress=progress(args),
        synthetic_weight=args.synthetic_weight,
        real_fraction=args.real_fraction,
        correction=args.correction,
    )
    summary = {
        "family": r.family,
        "scheme": r.scheme,
        "method": r.method,
        "estimator": r.estimator,
        "n": r.n,
        "k": r.k,
        "lambda": r.lambda_,
        "w": r.w,
        "synthetic_weight": r.synthetic_weight,
        "correction": r.correction,
        "generations": r.generations,
        "chains": r.chains,
        "distance": "w2" if r.cov is not None else "error",
        "table": r.table(),
    }
    if out is not None:
        summary["out"] = str(r.save(out, seed=args.seed))  # the path actually written
    if args.json:
        print(json.dumps(jsonable(summary)))
        return 0
    print(r.summary())
    if "out" in summary:
        print(f"wrote {summary['out']}")
    return 0


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "simulate",
        help="simulate finite-sample retraining chains (exact or naive)",
        description="Simulate independent retraining chains of an exponential family under a mixing scheme "
        "and report the distance to the data distribution across generations (mean, median, 5-95%% band).",
    )
    p.add_argument("family", choices=simulated_families(own_dynamics=False))
    add_dim(p, help="Gaussian dimension, integer >= 1 (default 1)", default=1)
    p.add_argument("--n", type=integer("--n", DOMAINS["n"]), required=True, help="real sample size, integer >= 2")
    add_lambda(p, help="synthetic-to-real ratio, >= 0 or inf (required except under --scheme fresh-fraction)")
    p.add_argument(
        "--generations", type=integer("--generations", DOMAINS["generations"]), required=True, help="integer >= 0"
    )
    p.add_argument(
        "--chains", type=integer("--chains", DOMAINS["chains"]), default=1000, help="integer >= 1 (default 1000)"
    )
    p.add_argument("--scheme", choices=SCHEMES, default="fixed-real")
    p.add_argument(
        "--real-fraction",
        dest="real_fraction",
        type=float,
        default=None,
        help="fresh-fraction only: real share of each round's n points, in (0, 1] (default 0.5); --lambda is unused",
    )
    p.add_argument("--method", choices=METHODS, default="exact")
    p.add_argument("--estimator", choices=ESTIMATORS, default="mle")
    p.add_argument(
        "--synthetic-weight",
        type=number("--synthetic-weight", DOMAINS["synthetic_weight"]),
        default=None,
        metavar="W",
        help="weight of the synthetic data in each round's objective, in [0, 1] (default: the natural share "
        "k/(n+k); accumulate: the whole synthetic pool's weight; docs/theory.md §10)",
    )
    p.add_argument(
        "--correction",
        type=number("--correction", DOMAINS["correction"]),
        default=0.0,
        metavar="GAMMA",
        help="self-correction strength gamma >= 0: each synthetic point is replaced with probability "
        "gamma/(1+gamma) by a draw from the real data's fit (default 0: none; docs/theory.md §14)",
    )
    add_seed(p, help="seed (default 0)", default=0)
    add_out(p, help="write the arrays to this .npz file ('.npz' is appended if missing)")
    add_quiet(p)
    add_json(p)
    p.set_defaults(func=_cmd_simulate)
    return p
