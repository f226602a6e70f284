r"""Exponential families in closed form: retraining operator, fixed point, exact rate (docs/theory.md §3).

Importing this package registers every family with :func:`stability.analyze` under its name:
``"gaussian"``, ``"gaussian-diag"``, ``"bernoulli"``, ``"categorical"``, ``"poisson"``,
``"exponential"``, ``"gamma"``. The dimension ``d`` (Gaussians) and the number of classes ``k``
(categorical) are options; left out, they are read off the data.

>>> import stability
>>> r = stability.analyze("poisson", np.array([0, 1, 1, 3, 5]), 0.5)
>>> round(r.rate_exact, 12), r.L
(0.333333333333, 0.0)
"""

from __future__ import annotations

import numpy as np

from .._domains import check_seed
from ..errors import InputError
from ..report import LocalConstants, register_model
from .base import ExponentialFamily, FixedPointResult, MeanMapSolve
from .data import GaussianMixture, Moments, float_array, is_scipy_distribution
from .discrete import Bernoulli, Categorical, Poisson
from .gaussian import Gaussian, GaussianDiag
from .positive import Exponential, Gamma, solve_gamma_shape

__all__ = [
    "FAMILIES",
    "Bernoulli",
    "Categorical",
    "ExponentialFamily",
    "Exponential",
    "FixedPointResult",
    "Gamma",
    "Gaussian",
    "GaussianDiag",
    "GaussianMixture",
    "MeanMapSolve",
    "Moments",
    "Poisson",
    "family",
    "solve_gamma_shape",
]

FAMILIES: dict[str, type[ExponentialFamily]] = {
    cls.name: cls for cls in (Gaussian, GaussianDiag, Bernoulli, Categorical, Poisson, Exponential, Gamma)
}
# the option read off the data when not given: a Gaussian's dimension, the number of categories
_SIZE_OPTION = {"gaussian": "d", "gaussian-diag": "d", "categorical": "k"}


def _infer_d(data) -> int:
    if isinstance(data, GaussianMixture):
        return data.d
    if isinstance(data, Moments):
        return int(np.atleast_1d(data.mean).size)
    if is_scipy_distribution(data):
        return 1
    try:
        shape = np.shape(data)
    except ValueError:  # ragged: the family's own validation names the problem
        return 1
    return 1 if len(shape) <= 1 else int(shape[1])


def _infer_k(data) -> int:
    if isinstance(data, Moments):
        return int(np.atleast_1d(data.mean).size)
    if is_scipy_distribution(data):
        return int(data.support()[1]) + 1
    x = float_array(data)
    if x is None or x.size == 0 or not np.all(np.isfinite(x)):
        return 2  # the family's own validation then names the problem
    return max(2, int(x.max()) + 1)


class _FromData:
    """A registered model whose size (``d`` or ``k``) is read off the data unless given."""

    def __init__(self, cls: type[ExponentialFamily], size_option: str | None, **options):
        self.cls, self.size_option, self.options = cls, size_option, options

    def family_for(self, data) -> ExponentialFamily:
        opts = dict(self.options)
        if self.size_option == "d" and opts.get("d") is None:
            opts["d"] = _infer_d(data)
        if self.size_option == "k" and opts.get("k") is None:
            opts["k"] = _infer_k(data)
        return self.cls(**opts)

    def local_constants(self, data) -> LocalConstants:
        return self.family_for(data).local_constants(data)


def family(name: str, data=None, **options) -> ExponentialFamily:
    """The family registered as ``name``, sized from ``data`` when ``d``/``k`` are not given.

    >>> family("gaussian", np.zeros((5, 3))).dim  # 3 means + 6 precision entries
    9
    """
    if name not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(sorted(FAMILIES))}, got {name!r}")
    return _FromData(FAMILIES[name], _SIZE_OPTION.get(name), **options).family_for(data)


def _register() -> None:
    for name, cls in FAMILIES.items():
        size = _SIZE_OPTION.get(name)

        def make(cls=cls, size=size, **opts):
            bad = sorted(set(opts) - {"seed", "w1_points", *([size] if size else [])})
            if bad:
                takes = ", ".join(sorted({"seed", "w1_points", *([size] if size else [])}))
                raise InputError(f"model {cls.name!r} does not take option(s) {bad} (it takes {takes})")
            if "seed" in opts:
                check_seed("seed", opts["seed"], allow_generator=False)
            return _FromData(cls, size, **opts)

        make.options = ("seed", "w1_points", *([size] if size else []))
        register_model(name, make)


_register()
