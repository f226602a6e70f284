"""``stability analyze MODEL``: the report of :func:`stability.analyze` from the command line.

Data come from a file or a named distribution::

    stability analyze gaussian --data samples.npy --lambda 0.5 [--json]
    stability analyze poisson --data counts.csv --lambda 2
    stability analyze gamma --dist lognorm:0.5,0,2 --lambda 0.5
    stability analyze gaussian --dist "mixture:0.5,-2,1;0.5,2,1" --lambda 0.3

- ``--data PATH``: a ``.npy`` array or a ``.csv`` file (comma separated, one point per row), of
  shape ``(n,)`` or ``(n, d)``.
- ``--dist NAME:ARGS``: any one-dimensional ``scipy.stats`` distribution with its positional
  arguments in scipy's order (shapes, then ``loc``, ``scale``), e.g. ``norm:0,1``, ``t:5``,
  ``gamma:2,0,0.5``, ``poisson:3``, ``bernoulli:0.3``; or ``mixture:w,m,s;w,m,s;...``, a
  one-dimensional Gaussian mixture given as (weight, mean, standard deviation) triples.

``MODEL`` is any name registered with :func:`stability.register_model`; ``--dim`` (old spelling
``--d``), ``--k``, ``--seed`` and ``--w1-points`` are passed to it when given.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

from .._domains import DOMAINS
from .._jsonable import jsonable
from ..errors import InputError
from ..families.data import GaussianMixture
from ..report import MODELS, analyze
from ._options import add_dim, add_json, add_lambda, add_seed, integer

__all__ = ["load_data", "parse_dist", "register"]


def parse_dist(spec: str) -> GaussianMixture | stats.rv_continuous | stats.rv_discrete:
    """A distribution from ``NAME:ARGS`` (see the module docstring).

    >>> float(parse_dist("norm:1,2").mean())
    1.0
    >>> parse_dist("mixture:0.5,-1,1;0.5,1,1").cov().tolist()  # 1 + 1
    [[2.0]]
    """
    name, _, args = spec.partition(":")
    name = name.strip()
    if name == "mixture":
        try:
            rows = [[float(v) for v in part.split(",")] for part in args.split(";") if part.strip()]
        except ValueError:
            raise InputError(f"--dist: mixture components must be numbers 'w,m,s;w,m,s', got {args!r}") from None
        if not rows or any(len(r) != 3 for r in rows):
            raise InputError(f"--dist: mixture needs (weight, mean, sd) triples 'w,m,s;w,m,s', got {args!r}")
        w, m, s = np.array(rows).T
        if np.any(s <= 0):
            raise InputError(f"--dist: mixture standard deviations must be > 0, got {s.tolist()}")
        try:
            return GaussianMixture(w, m, s**2)
        except ValueError as err:
            raise InputError(f"--dist: mixture {args!r}: {err}") from None
    dist = getattr(stats, name, None)
    if not isinstance(dist, (stats.rv_continuous, stats.rv_discrete)):
        raise InputError(f"--dist: unknown distribution {name!r} (a scipy.stats name or 'mixture')")
    try:
        values = [float(v) for v in args.split(",")] if args.strip() else []
        frozen = dist(*values)
        ok = np.isfinite(frozen.cdf(frozen.median()))
    except (TypeError, ValueError) as err:
        raise InputError(f"--dist: bad arguments for {name}: {err}") from None
    if not ok:
        raise InputError(f"--dist: invalid parameters for {name}: {args!r}")
    return frozen


def load_data(path: str) -> np.ndarray:
    """A sample from a ``.npy`` or ``.csv`` file; every failure is an ``InputError`` naming ``--data``."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"--data: file not found: {path}")
    if not p.is_file():
        raise InputError(f"--data: {path} is not a file (a folder?)")
    if p.suffix == ".npy":
        with open(p, "rb") as f:
            magic = f.read(6)
        if magic != b"\x93NUMPY":
            what = "empty" if not magic else "it lacks the .npy header"
            raise InputError(f"--data: {path} is not a valid .npy file ({what}); save arrays with numpy.save")
        try:
            x = np.load(p, allow_pickle=False)
        except ValueError as err:
            if "allow_pickle" in str(err):  # an object array (or bytes that look like a pickle)
                raise InputError(
                    f"--data: {path} holds an object array (pickled Python objects), not numbers: "
                    "save a numeric array with numpy.save"
                ) from None
            raise InputError(f"--data: {path} is not a valid .npy file ({err})") from None
        except (OSError, EOFError) as err:
            raise InputError(f"--data: {path} is not a valid .npy file (empty or truncated: {err})") from None
        if not isinstance(x, np.ndarray):
            raise InputError(f"--data: {path} is not a valid .npy file")
        if x.dtype.kind not in "biufc":
            raise InputError(f"--data: {path} holds an array of dtype {x.dtype}, not numbers")
        return x
    if p.suffix == ".csv":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # numpy warns (instead of failing) on an empty file
                return np.loadtxt(p, delimiter=",", ndmin=1)
        except (ValueError, UserWarning, UnicodeDecodeError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise InputError(f"--data: cannot read {path} as comma-separated numbers: {first}") from None
    raise InputError(f"--data: expected a .npy or .csv file, got {path}")


def _cmd_analyze(args: argparse.Namespace) -> int:
    data = load_data(args.data) if args.data is not None else parse_dist(args.dist)
    options = {"d": args.dim, "k": args.k, "seed": args.seed, "w1_points": args.w1_points}
    options = {k: v for k, v in options.items() if v is not None}
    accepted = getattr(MODELS[args.model], "options", None)
    flags = {"d": "--dim", "k": "--k", "seed": "--seed", "w1_points": "--w1-points"}
    for key in options:
        if accepted is not None and key not in accepted:
            takes = ", ".join(flags[a] for a in accepted if a in flags) or "none"
            raise InputError(f"{flags[key]} is not an option of model {args.model!r} (its options: {takes})")
    report = analyze(args.model, data, args.lambda_, **options)
    if args.json:
        print(json.dumps(jsonable(report.to_dict())))
    else:
        print(report.summary())
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
    add_dim(p, help="dimension (Gaussians; default: from the data)")
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
    add_json(p, help="print one JSON object")
    p.set_defaults(func=_cmd_analyze)
    return p
