"""Validation of the self-correction strength (docs/theory.md §14), low in the import graph.

:mod:`stability.dynamics.correction` holds the corrected samplers; this module only checks
``correction`` and converts it to the replacement probability, so that :mod:`stability.stationary`
and :mod:`stability.numerical.chains` can validate it without importing the simulator.
"""

from __future__ import annotations

import math

from ._domains import check_scalar
from .errors import InputError

__all__ = ["check_correction", "replaced_probability"]


def check_correction(correction, scheme=None, family: str = "", correction_target=None) -> float:
    r"""``correction`` as a float :math:`\gamma \ge 0` (finite), checked against the scheme and family.

    ``None`` is 0. A positive :math:`\gamma` is refused for ``accumulate-subsample`` and for the
    ``linear-regression`` family (not implemented); ``correction_target`` without a positive
    ``correction`` is an error.
    """
    try:
        infinite = math.isinf(float(correction))
    except (TypeError, ValueError):  # not a number: check_scalar names the parameter
        infinite = False
    if infinite:
        raise InputError(f"correction must be a finite number >= 0, got {correction!r}")
    g = 0.0 if correction is None else check_scalar("correction", correction)
    if g == 0.0:
        if correction_target is not None:
            raise InputError("correction_target is given but correction is 0: pass correction > 0 (docs/theory.md §14)")
        return 0.0
    if not getattr(family, "corrects", True):  # a family class of stability.families.FAMILIES
        raise InputError(f"correction (self-correction, docs/theory.md §14) is not implemented for {family.name!r}")
    if scheme is not None and scheme.subsample:
        raise InputError(
            f"correction must be 0 for scheme {scheme.name!r}: its pool of points is not corrected "
            "(docs/theory.md §14); use fixed-real, fresh-real, replace, accumulate or fresh-fraction"
        )
    return g


def replaced_probability(correction: float) -> float:
    r""":math:`p = \gamma/(1+\gamma)`, the probability that a synthetic point is replaced by a target draw."""
    return correction / (1.0 + correction)
