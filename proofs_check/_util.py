"""Helpers shared by the checks: symbolic identities with a visible numeric fallback, worst cases.

Precision: high-precision references use mpmath at :data:`DPS` = 50 significant digits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from fractions import Fraction

import mpmath as mp
import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.printing.pycode import PythonCodePrinter

from .registry import Outcome

__all__ = [
    "DPS",
    "FALLBACK_POINTS",
    "FALLBACK_TOL",
    "exact_function",
    "expect_true",
    "expect_zero",
    "lyapunov_mp",
    "rational",
    "worst_case",
]

DPS = 50
# Number of random rational points at which an identity sympy cannot simplify is evaluated.
FALLBACK_POINTS = 40
# Residual threshold for that evaluation at 50 digits: an identity leaves only rounding at the
# 1e-50 level (times the size of intermediate terms, at most ~1e5 here), a wrong one leaves O(1).
FALLBACK_TOL = 1e-40


def rational(x: float, max_den: int = 10**6) -> sp.Rational:
    """A sympy rational close to ``x`` (the exact point a float check is compared at)."""
    return sp.Rational(x).limit_denominator(max_den)


def _is_zero(expr) -> bool:
    if isinstance(expr, sp.MatrixBase):
        return all(_is_zero(e) for e in expr)
    return sp.simplify(sp.expand(expr)) == 0


def expect_zero(expr, label: str, domain: dict | None = None, seed: int = 0) -> Outcome:
    """``simplify(expr) == 0``; if sympy cannot close it, evaluate at random rational points.

    ``domain`` maps each free symbol to an interval ``(low, high)`` for the fallback points; a
    symbol not listed is drawn from ``(1/8, 4)`` (positive, away from the usual singular points).
    The fallback is reported in :attr:`Outcome.fallback`, never silently.
    """
    if _is_zero(expr):
        return Outcome(True, f"{label}: simplify -> 0")
    if expr.atoms(AppliedUndef):
        return Outcome(False, f"{label}: not simplified to 0; undefined functions leave no numeric fallback")
    free = sorted(expr.free_symbols, key=str)
    if not free:
        val = abs(sp.N(expr.norm() if isinstance(expr, sp.MatrixBase) else expr, DPS))
        return Outcome(bool(val < FALLBACK_TOL), f"{label}: not simplified; |residual| = {float(val):.2e}", "numeric")
    rng = np.random.default_rng(seed)
    domain = domain or {}
    worst = sp.Integer(0)
    for _ in range(FALLBACK_POINTS):
        subs = {}
        for s in free:
            lo, hi = domain.get(s, (0.125, 4.0))
            subs[s] = rational(rng.uniform(lo, hi), 1000)
        val = expr.subs(subs)
        val = val.norm() if isinstance(val, sp.MatrixBase) else val
        worst = max(worst, abs(sp.N(val, DPS)))
    ok = bool(worst < FALLBACK_TOL)
    return Outcome(
        ok,
        f"{label}: sympy did not simplify to 0; max |residual| at {FALLBACK_POINTS} points = {float(worst):.2e}",
        f"{FALLBACK_POINTS} rational points at {DPS} digits",
    )


def expect_true(cond: bool, label: str) -> Outcome:
    """A single decided fact (e.g. sympy's ``is_positive`` returning True)."""
    return Outcome(bool(cond), f"{label}: {'holds' if cond else 'does NOT hold'}")


def worst_case(errors: Iterable[float], tol: float, label: str, where: Sequence | None = None) -> Outcome:
    """Pass when every error is ``<= tol``; report the worst one (and where it occurred)."""
    errs = np.asarray(list(errors), dtype=float)
    if errs.size == 0:
        return Outcome(False, f"{label}: no cases were evaluated")
    if np.any(np.isnan(errs)):
        return Outcome(False, f"{label}: NaN error")
    i = int(np.argmax(errs))
    at = f" at {where[i]}" if where is not None else ""
    return Outcome(bool(errs[i] <= tol), f"{label}: worst {errs[i]:.2e} (tol {tol:.0e}, {errs.size} cases){at}")


class _FractionPrinter(PythonCodePrinter):
    """Python code in which every rational constant is a :class:`fractions.Fraction`."""

    def _print_Rational(self, expr):
        return f"Fraction({expr.p}, {expr.q})"

    def _print_Integer(self, expr):
        return f"Fraction({expr.p})"


def exact_function(args: Sequence[sp.Symbol], expr: sp.Expr) -> Callable:
    """``expr`` as a Python function that is exact on :class:`fractions.Fraction` inputs.

    Lets a checked symbolic result (not a re-typed formula) be the reference for the toolkit,
    evaluated in exact rational arithmetic and fast enough for thousands of points.
    """
    return sp.lambdify(args, expr, modules=[{"Fraction": Fraction}], printer=_FractionPrinter)


def lyapunov_mp(J, Q) -> np.ndarray:
    """The solution C of C = J C Jᵀ + Q by the dense Kronecker route vec C = (I - J⊗J)⁻¹ vec Q, at :data:`DPS` digits.

    The independent reference that the Lyapunov checks (docs/theory.md §9, §10, §12) compare the
    toolkit's solvers with. ``J`` and ``Q``: numpy arrays or mpmath matrices (a caller that builds
    them at :data:`DPS` digits passes them as mpmath matrices so that no precision is lost).
    """
    with mp.workdps(DPS):
        Jm = J if isinstance(J, mp.matrix) else mp.matrix(np.asarray(J, dtype=float).tolist())
        Qm = Q if isinstance(Q, mp.matrix) else mp.matrix(np.asarray(Q, dtype=float).tolist())
        d = Jm.rows
        K = mp.matrix(d * d, d * d)
        for i in range(d):
            for j in range(d):
                for p in range(d):
                    for r in range(d):
                        K[i * d + j, p * d + r] = (1 if (i, j) == (p, r) else 0) - Jm[i, p] * Jm[j, r]
        vec = mp.lu_solve(K, mp.matrix([Qm[i, j] for i in range(d) for j in range(d)]))
        return np.array([[float(vec[i * d + j]) for j in range(d)] for i in range(d)])
