"""Symbolic models shared by the checks: the 1-D Gaussian (mean, variance) and exponential families.

Derivations are cached: the Gaussian retraining map is solved once and reused by the fixed-point,
Jacobian and finite-sample checks.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

__all__ = ["expect_quadratic", "gaussian_logpdf", "gaussian_map", "syms", "x"]

x = sp.Symbol("x", real=True)


class _Syms:
    """Symbols with their assumptions (the names of docs/theory.md)."""

    lam = sp.Symbol("lambda", positive=True)
    mu_data = sp.Symbol("mu_data", real=True)
    s2_data = sp.Symbol("s2_data", positive=True)
    m = sp.Symbol("m", real=True)
    v = sp.Symbol("v", positive=True)
    m_new = sp.Symbol("m_new", real=True)
    v_new = sp.Symbol("v_new", positive=True)


syms = _Syms()


def gaussian_logpdf(m, v, at=x):
    r""":math:`\log N(x; m, v) = -\tfrac12\log(2\pi v) - (x-m)^2/(2v)`."""
    return -sp.log(2 * sp.pi * v) / 2 - (at - m) ** 2 / (2 * v)


def expect_quadratic(expr, mean, var, var_x=x):
    r""":math:`E[\mathrm{expr}]` for ``expr`` a polynomial of degree :math:`\le 2` in ``var_x``.

    Exact under *any* law with the given mean and variance (:math:`E x^2 = var + mean^2`), which is
    why a misspecified data distribution enters the Gaussian fit only through its two moments.
    """
    p = sp.Poly(sp.expand(expr), var_x)
    if p.degree() > 2:
        raise ValueError(f"expr must be quadratic in {var_x}, got degree {p.degree()}")
    moments = {0: sp.Integer(1), 1: mean, 2: var + mean**2}
    return sp.expand(sum(c * moments[k] for (k,), c in p.terms()))


@lru_cache(maxsize=1)
def gaussian_map():
    r"""Solve :math:`G_\lambda(m, v)` for the 1-D Gaussian family, data with mean/variance symbols.

    The objective is :math:`E_{data}[\log N(x; m', v')] + \lambda E_{N(m, v)}[\log N(x; m', v')]`;
    its stationary points are found with ``sympy.solve``. Returns ``(objective, [m', v'])``.
    """
    s = syms
    logp = gaussian_logpdf(s.m_new, s.v_new)
    obj = expect_quadratic(logp, s.mu_data, s.s2_data) + s.lam * expect_quadratic(logp, s.m, s.v)
    sols = sp.solve([sp.diff(obj, s.m_new), sp.diff(obj, s.v_new)], [s.m_new, s.v_new], dict=True)
    if len(sols) != 1:
        raise ArithmeticError(f"expected one stationary point of the Gaussian objective, got {len(sols)}")
    sol = sols[0]
    return obj, [sp.simplify(sol[s.m_new]), sp.simplify(sol[s.v_new])]
