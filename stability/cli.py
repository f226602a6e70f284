"""The ``stability`` command line.

Each sub-command lives next to the code it exposes and registers itself through a
``register(subparsers)`` function listed in :data:`COMMANDS`. Bad arguments exit with status 2
and a one-line message naming the argument and its valid range.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys

import numpy as np

from ._domains import DOMAINS, check

__all__ = ["COMMANDS", "main"]

# module path -> it defines ``register(subparsers)``
COMMANDS = [
    "stability.cli",  # ``bound``
    "stability.analyze_cli",  # ``analyze``
    "stability.dynamics.cli",  # ``simulate``
    "stability.experiments.cli",  # ``retrain``
]


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (and exit status 2)."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def jsonable(obj):
    """Make numbers JSON-safe: numpy scalars to Python, infinities and NaN to strings."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        x = float(obj)
        return x if math.isfinite(x) else str(x)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def cli_value(flag: str, value: float, param: str) -> float:
    """Validate a command-line value with the library's domain, naming the flag in the error."""
    return float(check(flag, value, DOMAINS[param]))


def _cmd_bound(args) -> int:
    from .bounds import bound, max_lambda, sharp_bound

    lam = cli_value("--lambda", args.lambda_, "lambda_")
    eps = cli_value("--eps", args.eps, "eps")
    alpha = cli_value("--alpha", args.alpha, "alpha")
    L = cli_value("--L", args.L, "L")
    factor = (bound if args.form == "paper" else sharp_bound)(lam, eps, alpha, L)
    lam_max = max_lambda(eps, alpha, L, form=args.form)
    result = {
        "form": args.form,
        "lambda": lam,
        "eps": eps,
        "alpha": alpha,
        "L": L,
        "factor": factor,
        "contraction_guaranteed": bool(factor < 1),
        "max_lambda": lam_max,
    }
    if args.json:
        print(json.dumps(jsonable(result)))
    else:
        verdict = "yes" if factor < 1 else "no"
        print(f"{args.form} bound at lambda={lam:g}, eps={eps:g}, alpha={alpha:g}, L={L:g}")
        print(f"  contraction factor      {factor:.6g}")
        print(f"  contraction guaranteed  {verdict}")
        print(f"  largest admissible lambda  {lam_max:.6g} (contraction for lambda < this)")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "bound",
        help="Theorem 1 contraction factor (paper or sharp form)",
        description="Contraction factor of Theorem 1 (Bertrand et al. 2024) or its sharp form "
        "(Ferbach et al. 2024), whether it guarantees contraction, and the largest admissible lambda.",
    )
    p.add_argument("--lambda", dest="lambda_", type=float, required=True, help="synthetic-to-real ratio, >= 0")
    p.add_argument("--eps", type=float, required=True, help="W1(p_theta*, p_data), >= 0")
    p.add_argument("--alpha", type=float, default=1.0, help="strong concavity, > 0 (default 1)")
    p.add_argument("--L", type=float, default=1.0, help="Hessian Lipschitz constant, >= 0 (default 1)")
    p.add_argument("--form", choices=["paper", "sharp"], default="paper")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_bound)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stability",
        description="Bounds, closed forms, simulations and experiments for iterative retraining "
        "of generative models on their own data (Bertrand et al., ICLR 2024).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


REPORT = "this is a bug in stability: please report it with the command line and the traceback above"


def main(argv=None) -> int:
    """Run the command line. Exit status: 0 success, 2 invalid input, 1 runtime failure, 130 Ctrl-C.

    Every anticipated failure (:mod:`stability.errors`) prints one line; anything else is a bug and
    prints its traceback and a line asking to report it.
    """
    import traceback

    from .errors import classify

    prog = "stability"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_usage(sys.stderr)
            print(f"{prog}: error: a command is required (one of {', '.join(_command_names(parser))})", file=sys.stderr)
            return 2
        prog = f"stability {args.command}"
        return int(args.func(args) or 0)
    except BaseException as err:  # noqa: BLE001 - the one error boundary of the command line
        if isinstance(err, SystemExit):
            raise
        known = classify(err)
        if known is None:
            traceback.print_exc()
            print(f"{prog}: {REPORT}", file=sys.stderr)
            return 1
        status, message = known
        print(f"{prog}: error: {message}" if status != 130 else f"{prog}: interrupted", file=sys.stderr)
        return status


def _command_names(parser) -> list[str]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    return []


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
