r"""Mixing schemes, declared once: what each round's training set keeps, redraws and adds (THEORY.md §1, §7).

A retraining round fits generation :math:`t+1` to a training set built from real data and from
points of the model of generation :math:`t`. A :class:`Scheme` says which real data the set holds
(``real``: one sample of :math:`n` points drawn once, a new one every round, or none), whether it
keeps every synthetic batch drawn so far (``accumulate``), and how many synthetic points a round
draws (:meth:`Scheme.synthetic`). Every place that mixes data (the exact and naive simulators,
the moment recursions, deep retraining) reads these declarations and builds its training set with
:meth:`Scheme.training_set`; none branches on the scheme's name.

==============  ==========  ==========  ================================  ===============================
scheme          real        accumulate  synthetic points per round        source
==============  ==========  ==========  ================================  ===============================
``fixed-real``  ``fixed``   no          :math:`k` (:func:`synthetic_count`)  Bertrand et al. 2024
``fresh-real``  ``fresh``   no          :math:`k`                         a new real sample every round
``replace``     ``none``    no          :math:`n`                         Shumailov et al. 2024
``accumulate``  ``fixed``   yes         :math:`k`                         Gerstgrasser et al. 2024
==============  ==========  ==========  ================================  ===============================

Training-set size at round :math:`t+1` (:meth:`Scheme.training_size`): :math:`n+k`, :math:`n+k`,
:math:`n`, :math:`n+(t+1)k`. ``lambda_ = inf`` under ``fixed-real`` / ``fresh-real`` is ``replace``
(:meth:`Scheme.resolve`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ._domains import check, check_choice

__all__ = ["ACCUMULATE", "FIXED_REAL", "FRESH_REAL", "REPLACE", "SCHEMES", "Scheme", "as_scheme", "synthetic_count"]

D = TypeVar("D")

# |lambda n - round(lambda n)| below this relative gap counts as an integer (binary rounding of decimals)
_INTEGER_GAP = 1e-12


def synthetic_count(n: int, lambda_: float) -> int | None:
    r"""Synthetic points per round, :math:`k = \lfloor\lambda n\rceil`; ``None`` for :math:`\lambda = \infty`.

    The one place where :math:`\lambda n` becomes a count: the simulators, the moment recursions,
    the Theorem 2 check and deep retraining all call it. :math:`k = \lfloor\lambda n\rfloor`, except
    that :math:`\lambda n` is rounded to the nearest integer when within a relative
    :math:`10^{-12}` of it, so that decimal ratios give the intended count despite binary rounding
    (``0.29 * 100 = 28.999999999999996``); :math:`10^{-12}` is far above double rounding
    (:math:`\sim 10^{-16}`) and far below a real fractional part for :math:`\lambda n < 10^{12}`.

    Examples
    --------
    >>> synthetic_count(100, 0.29), synthetic_count(10, 0.55), synthetic_count(3, float("inf"))
    (29, 5, None)
    """
    lam = float(check("lambda_", lambda_))
    if math.isinf(lam):
        return None
    x = lam * n
    r = round(x)
    k = int(r) if abs(x - r) <= _INTEGER_GAP * max(1.0, x) else math.floor(x)
    if k >= 2**53:
        raise ValueError(f"lambda_ * n must be < 2**53 (synthetic points per round), got {x:g}")
    return k


@dataclass(frozen=True)
class Scheme:
    """A mixing scheme: which real data a round's training set holds and which synthetic points it adds.

    Attributes
    ----------
    name : the scheme's name (a key of :data:`SCHEMES`)
    real : ``"fixed"`` (one real sample of ``n`` points, drawn once), ``"fresh"`` (a new one every
        round) or ``"none"`` (purely synthetic)
    accumulate : the training set keeps every synthetic batch drawn so far
    source : where the scheme comes from
    """

    name: str
    real: str
    accumulate: bool
    source: str

    def __post_init__(self):
        check_choice("real", self.real, ("fixed", "fresh", "none"))
        if self.accumulate and self.real == "none":
            raise ValueError("an accumulating scheme keeps its real data: real must be 'fixed' or 'fresh'")

    @property
    def keeps_real(self) -> bool:
        """One real sample shared by every round (its error is correlated across generations)."""
        return self.real == "fixed"

    @property
    def redraws_real(self) -> bool:
        """A new real sample every round."""
        return self.real == "fresh"

    @property
    def synthetic_only(self) -> bool:
        """No real data: each round fits ``n`` points of the current model only."""
        return self.real == "none"

    @property
    def has_moment_recursion(self) -> bool:
        """The moments follow a finite recursion (an accumulating state grows with t: none)."""
        return not self.accumulate

    def resolve(self, lambda_: float) -> Scheme:
        """The scheme actually run at ``lambda_``: ``inf`` under a non-accumulating scheme is :data:`REPLACE`."""
        if math.isinf(float(check("lambda_", lambda_))) and not self.synthetic_only:
            if self.accumulate:
                raise ValueError(f"lambda_ must be finite for scheme {self.name!r} (it keeps the real data), got inf")
            return REPLACE
        return self

    def synthetic(self, n: int, lambda_: float) -> int:
        """Points drawn from the current model per round: ``n`` when purely synthetic, else :func:`synthetic_count`."""
        if self.synthetic_only:
            return n
        k = synthetic_count(n, lambda_)
        if k is None:
            raise ValueError(f"lambda_ must be finite for scheme {self.name!r}; resolve() it first, got inf")
        return k

    def training_size(self, n: int, k: int, t: int = 0) -> int:
        """Points in the training set of round ``t + 1`` (``t >= 0``), ``k`` from :meth:`synthetic`."""
        if self.synthetic_only:
            return n
        return n + (t + 1) * k if self.accumulate else n + k

    def weight(self, n: int, k: int) -> float:
        """Synthetic share of one round's fresh points, :math:`w = k/(n+k)` (1 when purely synthetic)."""
        return 1.0 if self.synthetic_only else k / (n + k)

    def training_set(self, real: D | None, previous: D | None, synthetic: D | None, join: Callable[[D, D], D]) -> D:
        """This round's training set.

        ``real``: this round's real data (the fixed sample, or the one just redrawn); ``previous``:
        last round's training set (read only when accumulating; round 1 passes the real data);
        ``synthetic``: the batch just drawn from the current model (``None`` when ``k = 0``);
        ``join(a, b)``: the union of two data sets, as points (concatenation) or as sufficient
        statistics (a pooling identity), in that order.
        """
        if self.synthetic_only:
            return synthetic
        base = previous if self.accumulate else real
        return base if synthetic is None else join(base, synthetic)


FIXED_REAL = Scheme("fixed-real", "fixed", False, "Bertrand et al. 2024 (arXiv 2310.00429)")
FRESH_REAL = Scheme("fresh-real", "fresh", False, "a new real sample every round")
REPLACE = Scheme("replace", "none", False, "Shumailov et al. 2024; Alemohammad et al. 2024")
ACCUMULATE = Scheme("accumulate", "fixed", True, "Gerstgrasser et al. 2024 (arXiv 2404.01413)")

SCHEMES: dict[str, Scheme] = {s.name: s for s in (FIXED_REAL, FRESH_REAL, REPLACE, ACCUMULATE)}


def as_scheme(name) -> Scheme:
    """The :class:`Scheme` registered as ``name`` (a :class:`Scheme` is returned as is).

    >>> as_scheme("accumulate").training_size(100, 100, t=2)
    400
    """
    if isinstance(name, Scheme):
        return name
    return SCHEMES[check_choice("scheme", name, tuple(SCHEMES))]
