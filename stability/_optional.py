"""Optional dependencies: import on first use, or fail with the ``pip install`` line that fixes it.

The core install (``pip install stability``: numpy, scipy, tqdm) runs every bound, the closed forms
of the exponential families (:func:`stability.analyze` on ``"gaussian"``, ``"poisson"``, ...) and
:func:`stability.simulate`. The extras (``pyproject.toml``) add the rest:

- ``numerical``: torch (the numerical models, :mod:`stability.numerical`) and POT;
- ``ot``: POT alone, for W1 between samples in d >= 2 (``analyze`` on a 2-D sample);
- ``proofs``: sympy and mpmath (``python -m proofs_check``);
- ``figures``: matplotlib (the figure scripts, the plots of a retraining run);
- ``experiments``: zuko, scikit-learn, prdc, torch and POT (:mod:`stability.experiments`);
- ``distributed``: dask (``stability sweep`` on a cluster); ``all``: everything.

Each public entry point calls :func:`require` before importing its optional module, so a missing
one raises an ``ImportError`` of one line naming the extra.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "require"]

# module -> (distribution on PyPI, extra that installs it)
EXTRAS = {
    "torch": ("torch", "numerical"),
    "ot": ("POT", "ot"),
    "sympy": ("sympy", "proofs"),
    "mpmath": ("mpmath", "proofs"),
    "matplotlib": ("matplotlib", "figures"),
    "zuko": ("zuko", "experiments"),
    "sklearn": ("scikit-learn", "experiments"),
    "prdc": ("prdc", "experiments"),
}


def require(module: str, purpose: str, extra: str | None = None) -> ModuleType:
    """Import ``module`` (a key of :data:`EXTRAS`, or a submodule of one), or raise ``ImportError`` naming the extra.

    ``purpose`` completes "... is needed for": e.g. ``"normalizing flows"``. ``extra`` overrides the
    extra named in the message (e.g. ``"experiments"`` for torch in the deep experiments).
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        dist, default = EXTRAS[module.split(".")[0]]
        extra = extra or default
        raise ImportError(
            f"{dist} is needed for {purpose} but is not installed: pip install 'stability[{extra}]'"
        ) from err
