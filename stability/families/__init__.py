r"""Exponential families in closed form: retraining operator, fixed point, exact rate (docs/theory.md §3).

One module per family (``gaussian.py``, ``bernoulli.py``, ``categorical.py``, ``poisson.py``,
``exponential.py``, ``gamma.py``), one class each, carrying the closed forms, the simulator's hooks
(docs/theory.md §6) and, through its natural parameters, the torch model of
:mod:`stability.numerical` (``"<name>-numerical"``). :data:`FAMILIES` is the one registry: the
report's models (:func:`stability.analyze`), the ``-numerical`` models, the simulator's and the
command line's family choices and the sweep type hints are read from it. Adding a family is one
module and one line in :data:`FAMILIES`.

Importing this package registers every family with :func:`stability.analyze` under its name. The
dimension ``d`` (Gaussians) and the number of classes ``k`` (categorical) are options; left out,
they are read off the data.

>>> import numpy as np
>>> import stability
>>> r = stability.analyze("poisson", np.array([0, 1, 1, 3, 5]), 0.5)
>>> round(r.rate_exact, 12), r.L
(0.333333333333, 0.0)
"""

from __future__ import annotations

from .._domains import check_seed
from ..errors import InputError
from ..report import LocalConstants, register_model
from ._simulation import FamilySpec
from .base import ExponentialFamily, FixedPointResult, MeanMapSolve
from .bernoulli import Bernoulli
from .categorical import Categorical
from .data import GaussianMixture, Moments
from .exponential import Exponential
from .gamma import Gamma
from .gaussian import Gaussian, GaussianDiag
from .linear_regression import LinearRegression
from .poisson import Poisson
from .positive import solve_gamma_shape

__all__ = [
    "FAMILIES",
    "Bernoulli",
    "Categorical",
    "ExponentialFamily",
    "Exponential",
    "FamilySpec",
    "FixedPointResult",
    "Gamma",
    "Gaussian",
    "GaussianDiag",
    "GaussianMixture",
    "LinearRegression",
    "MeanMapSolve",
    "analytic_families",
    "Moments",
    "Poisson",
    "family",
    "simulated_families",
    "solve_gamma_shape",
]

#: The registry: name -> family class. One line per family.
FAMILIES: dict[str, type] = {
    cls.name: cls
    for cls in (
        Gaussian,
        GaussianDiag,
        Bernoulli,
        Categorical,
        Poisson,
        Exponential,
        Gamma,
        LinearRegression,
    )
}


def simulated_families(own_dynamics: bool = True) -> tuple[str, ...]:
    """The names :func:`stability.simulate` takes: the families with simulator hooks; without
    ``own_dynamics``, only those the simulator's kernels run (``stability simulate``'s choices)."""
    return tuple(name for name, cls in FAMILIES.items() if cls.defaults and (own_dynamics or cls.simulate is None))


def analytic_families() -> dict[str, type[ExponentialFamily]]:
    """The exponential families in closed form (registered with :func:`stability.analyze`)."""
    return {name: cls for name, cls in FAMILIES.items() if issubclass(cls, ExponentialFamily)}


class _FromData:
    """A registered model whose size (``d`` or ``k``) is read off the data unless given."""

    def __init__(self, cls: type[ExponentialFamily], **options):
        self.cls, self.options = cls, options

    def family_for(self, data) -> ExponentialFamily:
        return self.cls.for_data(data, **self.options)

    def local_constants(self, data) -> LocalConstants:
        return self.family_for(data).local_constants(data)


def family(name: str, data=None, **options) -> ExponentialFamily:
    """The family registered as ``name``, sized from ``data`` when ``d``/``k`` are not given.

    >>> import numpy as np
    >>> family("gaussian", np.zeros((5, 3))).dim  # 3 means + 6 precision entries
    9
    """
    closed = analytic_families()
    if name not in closed:
        raise ValueError(f"family must be one of {', '.join(sorted(closed))}, got {name!r}")
    return closed[name].for_data(data, **options)


def _register() -> None:
    for name, cls in analytic_families().items():
        size = cls.size_option
        takes = ("seed", "w1_points", *([size] if size else []))

        def make(cls=cls, takes=takes, **opts):
            bad = sorted(set(opts) - set(takes))
            if bad:
                takes_ = ", ".join(sorted(takes))
                raise InputError(f"model {cls.name!r} does not take option(s) {bad} (it takes {takes_})")
            if "seed" in opts:
                check_seed("seed", opts["seed"], allow_generator=False)
            return _FromData(cls, **opts)

        make.options = takes
        register_model(name, make)


_register()
