r"""Mixing schemes, declared once: what each round's training set keeps, redraws and adds (docs/theory.md §1, §7).

A retraining round fits generation :math:`t+1` to a training set built from real data and from
points of the model of generation :math:`t`. A :class:`Scheme` says which real data the set holds
(``real``: one sample of :math:`n` points drawn once, a new one every round, or none), whether it
keeps every synthetic batch drawn so far (``accumulate``), and how many synthetic points a round
draws (:meth:`Scheme.synthetic`). Every place that mixes data (the exact and naive simulators,
the moment recursions, deep retraining) reads these declarations and builds its training set with
:meth:`Scheme.training_set`; none branches on the scheme's name.

==============  ==========  ==========  ===================================  ===============================
scheme          real        accumulate  synthetic points per round           source
==============  ==========  ==========  ===================================  ===============================
``fixed-real``  ``fixed``   no          :math:`k` (:func:`synthetic_count`)  Bertrand et al. 2024
``fresh-real``  ``fresh``   no          :math:`k`                            a new real sample every round
``replace``     ``none``    no          :math:`n`                            Shumailov et al. 2024
``accumulate``  ``fixed``   yes         :math:`k`                            Gerstgrasser et al. 2024
==============  ==========  ==========  ===================================  ===============================

Two more set-ups (docs/theory.md §11):

- ``fresh-fraction`` (``real="fresh"``, ``fraction=True``): every round's training set has :math:`n`
  points, :math:`n_r = \lfloor a n\rfloor` of them a new real sample and :math:`n - n_r` drawn from
  the current model, :math:`a` = ``real_fraction`` in (0, 1] (the "real-data anchoring" of recent
  diffusion-collapse analyses). It is a parametrised declaration, registered with :math:`a = 1/2`:
  ``as_scheme("fresh-fraction", real_fraction=0.3)`` sets another. ``lambda_`` is not used (as under
  ``replace``; any valid value or ``None``): the synthetic-to-real ratio is :math:`(n-n_r)/n_r`.
- ``accumulate-subsample`` (``accumulate=True``, ``subsample=True``; Kazdan, Schaeffer et al. 2024,
  arXiv 2410.16713, their "accumulate-subsample" / fixed-budget workflow): the pool keeps the real
  sample and every synthetic batch (:math:`k` points per round, as ``accumulate``), and each round fits
  a uniform subsample without replacement of :math:`n` points of the pool.

Training-set size at round :math:`t+1` (:meth:`Scheme.training_size`): :math:`n+k`, :math:`n+k`,
:math:`n`, :math:`n+(t+1)k`, :math:`n` (fresh-fraction), :math:`n` (accumulate-subsample, out of a
pool of :meth:`Scheme.pool_size` :math:`= n+(t+1)k`). ``lambda_ = inf`` under ``fixed-real`` /
``fresh-real`` is ``replace`` (:meth:`Scheme.resolve`).

Every per-scheme capability is an attribute of the declaration: ``weighted`` (takes a
``synthetic_weight``: ``fixed-real``, ``fresh-real``, ``accumulate``), and derived from the
declaration :attr:`Scheme.lambda_mixing` (the set-up of Theorem 2 and of the closed-form
stationary variances), :attr:`Scheme.has_moment_recursion`, :attr:`Scheme.fixed_size`. The one
retraining loop :func:`stability.retraining.run` builds every round from them, and a model's kernel
declares which mechanisms it can run (:func:`stability.retraining.capabilities`). Adding a scheme is
one declaration here and its entry in :data:`SCHEMES` (docs/extending.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from ._domains import check, check_choice
from .errors import InputError

__all__ = [
    "ACCUMULATE",
    "ACCUMULATE_SUBSAMPLE",
    "FIXED_REAL",
    "FRESH_FRACTION",
    "FRESH_REAL",
    "REPLACE",
    "SCHEMES",
    "Scheme",
    "as_scheme",
    "names_where",
    "synthetic_count",
]

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
        raise InputError(f"lambda_ * n must be < 2**53 (synthetic points per round), got {x:g}", param="lambda_")
    return k


def check_real_fraction(real_fraction) -> float:
    """``real_fraction`` as a float in (0, 1]; ValueError naming it otherwise (NaN included)."""
    try:
        a = float(real_fraction)
    except (TypeError, ValueError):
        raise InputError(
            f"real_fraction must be a number in (0, 1], got {real_fraction!r}", param="real_fraction"
        ) from None
    if not 0.0 < a <= 1.0:  # NaN fails too
        raise InputError(f"real_fraction must be a number in (0, 1], got {real_fraction!r}", param="real_fraction")
    return a


@dataclass(frozen=True)
class Scheme:
    r"""A mixing scheme: which real data a round's training set holds and which synthetic points it adds.

    Capabilities derived from these declarations: :attr:`keeps_real`, :attr:`redraws_real`,
    :attr:`synthetic_only`, :attr:`fixed_size`, :attr:`has_moment_recursion`, :attr:`lambda_mixing`.
    What a model can run is declared by its kernel (:func:`stability.retraining.capabilities`).

    Attributes
    ----------
    name : the scheme's name (a key of :data:`SCHEMES`)
    real : ``"fixed"`` (one real sample of ``n`` points, drawn once), ``"fresh"`` (a new one every
        round) or ``"none"`` (purely synthetic)
    accumulate : the training set keeps every synthetic batch drawn so far
    source : where the scheme comes from
    fraction : the training set has ``n`` points, a share ``real_fraction`` of them real (``lambda_``
        not used)
    subsample : each round fits a uniform subsample without replacement of ``n`` points of the pool
        (the data kept, :meth:`training_set`)
    real_fraction : the real share :math:`a \in (0, 1]` of a ``fraction`` scheme (``None`` until given,
        :meth:`with_real_fraction`); ``None`` for the others
    weighted : the scheme accepts a ``synthetic_weight`` :math:`w` (docs/theory.md §10): each round's
        training set is a real part and a synthetic part (this batch, or all batches so far when
        accumulating), weighed :math:`1-w` and :math:`w` (:func:`stability.retraining.weighted`).
        Not for a purely synthetic or a subsampling scheme.
    """

    name: str
    real: str
    accumulate: bool
    source: str
    fraction: bool = False
    subsample: bool = False
    real_fraction: float | None = None
    weighted: bool = False

    def __post_init__(self):
        check_choice("real", self.real, ("fixed", "fresh", "none"))
        if self.accumulate and self.real == "none":
            raise ValueError("an accumulating scheme keeps its real data: real must be 'fixed' or 'fresh'")
        if self.subsample and not self.accumulate:
            raise ValueError("subsample needs a pool larger than n: only an accumulating scheme can subsample")
        if self.fraction and (self.real == "none" or self.accumulate):
            raise ValueError("a fraction scheme mixes fresh real and synthetic points in a set of n: real='fresh'")
        if self.weighted and (self.synthetic_only or self.subsample):
            raise ValueError("a weighted scheme weighs real against synthetic data: real data, no subsample")
        if self.real_fraction is not None:
            if not self.fraction:
                raise InputError(
                    f"real_fraction must be given only for the fraction schemes ({', '.join(_fraction_names())}), "
                    f"not for scheme {self.name!r}",
                    param="real_fraction",
                )
            a = float(check_real_fraction(self.real_fraction))
            object.__setattr__(self, "real_fraction", a)

    def with_real_fraction(self, real_fraction: float | None) -> Scheme:
        """This declaration with its ``real_fraction`` set (``None``: unchanged); checked to be in (0, 1]."""
        if real_fraction is None:
            return self
        return replace(self, real_fraction=real_fraction)

    def real_size(self, n: int) -> int:
        r"""Real points in one round's training set: :math:`\lfloor a n\rfloor` for a fraction scheme, else ``n``.

        >>> as_scheme("fresh-fraction", real_fraction=0.3).real_size(100)
        30
        """
        if not self.fraction:
            return n
        if self.real_fraction is None:
            raise InputError(
                f"real_fraction must be given for scheme {self.name!r} (a number in (0, 1])", param="real_fraction"
            )
        x = self.real_fraction * n
        r = round(x)
        n_r = int(r) if abs(x - r) <= _INTEGER_GAP * max(1.0, x) else math.floor(x)  # as synthetic_count
        if n_r < 1:
            raise InputError(
                f"real_fraction must satisfy floor(real_fraction * n) >= 1 (real points per round), got "
                f"floor({self.real_fraction:g} * {n}) = {n_r}: raise real_fraction or n",
                param="real_fraction",
            )
        return n_r

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
    def fixed_size(self) -> bool:
        """Every round fits ``n`` points whatever ``lambda_`` (purely synthetic, fraction or subsampling)."""
        return self.synthetic_only or self.fraction or self.subsample

    @property
    def has_moment_recursion(self) -> bool:
        """The moments follow a time-invariant recursion with a stationary fixed point (docs/theory.md §6).

        The accumulating schemes (pool of growing size) follow an exact recursion with time-varying
        coefficients instead (docs/theory.md §11)."""
        return not self.accumulate

    @property
    def lambda_mixing(self) -> bool:
        r"""Every round fits the ``n`` real points (the fixed sample or a fresh one) and :math:`k` synthetic ones.

        The set-up of Theorem 2 and of the closed-form stationary variances (docs/theory.md §5, §10):
        a real part of :math:`n` points, a synthetic batch of :math:`k = \lfloor\lambda n\rceil`, the
        same recursion every round (not purely synthetic, not accumulating, not a fraction scheme)."""
        return not (self.synthetic_only or self.accumulate or self.fraction)

    def resolve(self, lambda_: float | None) -> Scheme:
        """The scheme actually run at ``lambda_``: ``inf`` under a non-accumulating scheme is :data:`REPLACE`.

        A fraction scheme does not use ``lambda_`` (``None`` allowed); it needs its ``real_fraction``.
        """
        if self.fraction:
            if self.real_fraction is None:
                raise InputError(
                    f"real_fraction must be given for scheme {self.name!r} (a number in (0, 1])", param="real_fraction"
                )
            if lambda_ is not None:
                check("lambda_", lambda_)
            return self
        if lambda_ is None:
            raise InputError(
                f"lambda_ must be given for scheme {self.name!r} (a number >= 0, inf allowed)", param="lambda_"
            )
        if math.isinf(float(check("lambda_", lambda_))) and not self.synthetic_only:
            if self.accumulate:
                raise InputError(
                    f"lambda_ must be finite for scheme {self.name!r} (it keeps the real data), got inf",
                    param="lambda_",
                )
            return REPLACE
        return self

    def synthetic(self, n: int, lambda_: float | None) -> int:
        """Points drawn from the current model per round: ``n`` when purely synthetic, ``n - real_size(n)``
        for a fraction scheme, else :func:`synthetic_count`."""
        if self.synthetic_only:
            return n
        if self.fraction:
            return n - self.real_size(n)
        k = synthetic_count(n, lambda_)
        if k is None:
            raise ValueError(f"lambda_ must be finite for scheme {self.name!r}; resolve() it first, got inf")
        return k

    def pool_size(self, n: int, k: int, t: int = 0) -> int:
        """Points kept after round ``t + 1`` (``t >= 0``): the training set, or the pool it is subsampled from."""
        if self.synthetic_only:
            return n
        n_r = self.real_size(n)
        return n_r + (t + 1) * k if self.accumulate else n_r + k

    def training_size(self, n: int, k: int, t: int = 0) -> int:
        """Points in the training set of round ``t + 1`` (``t >= 0``), ``k`` from :meth:`synthetic`."""
        return n if self.subsample else self.pool_size(n, k, t)

    def weight(self, n: int, k: int) -> float:
        """Synthetic share of one round's fresh points, :math:`w = k/(n_r+k)` (1 when purely synthetic)."""
        return 1.0 if self.synthetic_only else k / (self.real_size(n) + k)

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

    def fit_set(self, pool: D, n: int, subsample: Callable[[D, int], D]) -> D:
        """What generation ``t + 1`` is fitted to: ``subsample(pool, n)`` (``n`` points drawn uniformly
        without replacement) for a subsampling scheme, else the pool (the training set) itself."""
        return subsample(pool, n) if self.subsample else pool


FIXED_REAL = Scheme("fixed-real", "fixed", False, "Bertrand et al. 2024 (arXiv 2310.00429)", weighted=True)
FRESH_REAL = Scheme("fresh-real", "fresh", False, "a new real sample every round", weighted=True)
REPLACE = Scheme("replace", "none", False, "Shumailov et al. 2024; Alemohammad et al. 2024")
ACCUMULATE = Scheme("accumulate", "fixed", True, "Gerstgrasser et al. 2024 (arXiv 2404.01413)", weighted=True)
FRESH_FRACTION = Scheme(
    "fresh-fraction", "fresh", False, "real-data anchoring (a fresh real share every round)", True, False, 0.5
)
ACCUMULATE_SUBSAMPLE = Scheme(
    "accumulate-subsample", "fixed", True, "Kazdan, Schaeffer et al. 2024 (arXiv 2410.16713)", subsample=True
)

SCHEMES: dict[str, Scheme] = {
    s.name: s for s in (FIXED_REAL, FRESH_REAL, REPLACE, ACCUMULATE, FRESH_FRACTION, ACCUMULATE_SUBSAMPLE)
}


def _fraction_names() -> list[str]:
    return [s.name for s in SCHEMES.values() if s.fraction]


def names_where(capability: Callable[[Scheme], bool]) -> tuple[str, ...]:
    """The names of the registered schemes that have ``capability`` (a predicate on :class:`Scheme`).

    >>> names_where(lambda s: s.weighted)
    ('fixed-real', 'fresh-real', 'accumulate')
    """
    return tuple(name for name, s in SCHEMES.items() if capability(s))


def as_scheme(name, *, real_fraction: float | None = None) -> Scheme:
    """The :class:`Scheme` registered as ``name`` (a :class:`Scheme` is returned as is), with ``real_fraction`` set.

    ``real_fraction`` parametrises the fraction schemes (``fresh-fraction``); given for another scheme
    it is a ValueError.

    >>> as_scheme("accumulate").training_size(100, 100, t=2)
    400
    >>> as_scheme("fresh-fraction", real_fraction=0.25).synthetic(100, None)
    75
    """
    s = name if isinstance(name, Scheme) else SCHEMES[check_choice("scheme", name, tuple(SCHEMES))]
    return s.with_real_fraction(real_fraction)
