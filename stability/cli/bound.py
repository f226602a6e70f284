"""``stability bound``: the contraction factor of Theorem 1 (paper or sharp form)."""

from __future__ import annotations

import argparse
import json

from .._domains import DOMAINS
from .._jsonable import jsonable
from ._options import add_json, add_lambda, number

__all__ = ["register"]


def _cmd_bound(args: argparse.Namespace) -> int:
    from ..bounds import bound, max_lambda, sharp_bound

    lam, eps, alpha, L = args.lambda_, args.eps, args.alpha, args.L
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


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "bound",
        help="Theorem 1 contraction factor (paper or sharp form)",
        description="Contraction factor of Theorem 1 (Bertrand et al. 2024) or its sharp form "
        "(Ferbach et al. 2024), whether it guarantees contraction, and the largest admissible lambda.",
    )
    add_lambda(p, required=True)
    p.add_argument("--eps", type=number("--eps", DOMAINS["eps"]), required=True, help="W1(p_theta*, p_data), >= 0")
    p.add_argument(
        "--alpha", type=number("--alpha", DOMAINS["alpha"]), default=1.0, help="strong concavity, > 0 (default 1)"
    )
    p.add_argument(
        "--L", type=number("--L", DOMAINS["L"]), default=1.0, help="Hessian Lipschitz constant, >= 0 (default 1)"
    )
    p.add_argument("--form", choices=["paper", "sharp"], default="paper")
    add_json(p, help="print one JSON object")
    p.set_defaults(func=_cmd_bound)
    return p
