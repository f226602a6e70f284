r"""Linear regression with a fixed design as a simulator family (docs/theory.md §12).

:math:`y = X\beta + \sigma z` with the design :math:`X` (n, d) fixed, refitted by least squares
each round. It is not an exponential family in closed form here: its retraining chains, moments
and stationary law live in :mod:`stability.dynamics.regression`, which binds them to this class's
hooks (:attr:`simulate`, :attr:`moments`, :attr:`stationary`), so the simulator, the command line
and the sweeps reach it through :data:`stability.families.FAMILIES` like every family.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

__all__ = ["LinearRegression"]


class LinearRegression:
    """Registry entry of the ``"linear-regression"`` family (a fixed design; docs/theory.md §12)."""

    name = "linear-regression"
    #: the keys of ``data=`` (``sigma`` defaults to 1; ``X`` and ``beta`` are required)
    defaults: ClassVar[dict[str, Any]] = {"X": None, "beta": None, "sigma": 1.0}
    known: ClassVar[tuple[str, ...]] = ()
    #: options of :func:`stability.simulate` only this family takes
    options: ClassVar[tuple[str, ...]] = ("noise_scale",)
    corrects: ClassVar[bool] = False
    curates: ClassVar[bool] = False
    size_option: ClassVar[str | None] = None
    numerical: ClassVar[bool] = False
    numerical_options: ClassVar[tuple[str, ...]] = ()
    #: the family's own chains / moments / stationary law (set by :mod:`stability.dynamics.regression`)
    simulate: ClassVar[Callable[..., Any] | None] = None
    moments: ClassVar[Callable[..., Any] | None] = None
    stationary: ClassVar[Callable[..., Any] | None] = None
