"""``stability analyze MODEL``: the report of :func:`stability.analyze` from the command line.

Data come from a file or a named distribution::

    stability analyze gaussian --data samples.npy --lambda 0.5 [--json]
    stability analyze poisson --data counts.csv --lambda 2
    stability analyze gamma --dist lognorm:0.5,0,2 --lambda 0.5
    stability analyze gaussian --dist "mixture:0.5,-2,1;0.5,2,1" --lambda 0.3
    stability analyze poisson --dist poisson:3 --lambda 1 --n 100   # + the stationary law

- ``--data PATH``: a ``.npy`` array or a ``.csv`` file (comma separated, one point per row), of
  shape ``(n,)`` or ``(n, d)``.
- ``--dist NAME:ARGS``: any one-dimensional ``scipy.stats`` distribution with its positional
  arguments in scipy's order (shapes, then ``loc``, ``scale``), e.g. ``norm:0,1``, ``t:5``,
  ``gamma:2,0,0.5``, ``poisson:3``, ``bernoulli:0.3``; or ``mixture:w,m,s;w,m,s;...``, a
  one-dimensional Gaussian mixture given as (weight, mean, standard deviation) triples.

``MODEL`` is any name registered with :func:`stability.register_model`; ``--dim`` (old spelling
``--d``), ``--k``, ``--seed`` and ``--w1-points`` are passed to it when given. ``--n N`` adds the
first-order stationary law of retraining with a fixed real sample of size ``N``
(:meth:`stability.StabilityReport.stationary`).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from .._domains import DOMAINS, Interval
from .._jsonable import jsonable
from ..errors import InputError
from ..families.data import load_data, parse_dist
from ..report import MODELS, analyze
from ._options import add_dim, add_json, add_lambda, add_seed, integer

__all__ = ["load_data", "parse_dist", "register"]


def _cmd_analyze(args: argparse.Namespace) -> int:
    data = load_data(args.data) if args.data is not None else parse_dist(args.dist)
    options = {"d": args.d, "k": args.k, "seed": args.seed, "w1_points": args.w1_points}
    options = {k: v for k, v in options.items() if v is not None}
    accepted = getattr(MODELS[args.model], "options", None)
    for key in options:  # each option's dest is the model's option name: the error names the flag typed (_main)
        if accepted is not None and key not in accepted:
            takes = ", ".join(args.option_names[a][0] for a in accepted if a in args.option_names) or "none"
            raise InputError(f"not an option of model {args.model!r} (its options: {takes})", param=key)
    try:
        report = analyze(args.model, data, args.lambda_, **options)
    except ValueError as err:
        # argparse checked every other argument (the model, lambda and each option against its domain), so
        # an invalid input without a param is the data, or the data against an option (a 3-d Gaussian):
        # the line names the flag they came from
        if getattr(err, "param", None) is None:
            err.param = "data" if args.data is not None else "dist"
        raise
    law = None if args.n is None else report.stationary(args.n)
    if args.json:
        out = report.to_dict()
        if law is not None:
            out["stationary"] = asdict(law)
        print(json.dumps(jsonable(out)))
    else:
        print(report.summary())
        if law is not None:
            print(f"stationary law of finite-sample retraining (first order, docs/theory.md §9), method {law.method}")
            print(law.summary())
    return 0


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "analyze",
        help="exact local rate of retraining vs the paper's bounds for a model and data",
        description=__doc__.split("\n\n")[0] + " Data: --data FILE (.npy/.csv) or --dist NAME:ARGS "
        "(a scipy.stats distribution, e.g. norm:0,1, or mixture:w,m,s;w,m,s).",
    )
    p.add_argument("model", choices=sorted(MODELS), metavar="MODEL", help=f"one of {', '.join(sorted(MODELS))}")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="a .npy or .csv file with a sample, shape (n,) or (n, d)")
    src.add_argument("--dist", help="NAME:ARGS, e.g. norm:0,1, gamma:2,0,0.5, 'mixture:0.5,-2,1;0.5,2,1'")
    add_lambda(p, required=True)
    add_dim(p, help="dimension (Gaussians; default: from the data)", dest="d")  # analyze's option d
    p.add_argument(
        "--k", type=integer("--k", DOMAINS["k"]), help="number of classes (categorical; default: from the data)"
    )
    add_seed(p, help="seed of any Monte Carlo / POT estimate (default 0)")
    p.add_argument(
        "--w1-points",
        dest="w1_points",
        type=integer("--w1-points", DOMAINS["w1_points"]),
        help="POT sample size for eps in d >= 2",
    )
    p.add_argument(
        "--n",
        type=integer("--n", Interval(1.0, integer=True)),
        help="real sample size: also print the stationary law of retraining with n real and floor(lambda n) "
        "synthetic points per round (stability.stationary)",
    )
    add_json(p, help="print one JSON object")
    p.set_defaults(func=_cmd_analyze)
    return p
