"""Optional dependencies: import on first use, or fail with the ``pip install`` line that fixes it.

The core install (``pip install stability``) runs every bound, closed form, numerical operator,
``analyze`` and ``simulate``. The deep-model experiments (:mod:`stability.experiments`) also need
the ``experiments`` extra: ``pip install 'stability[experiments]'`` (zuko, scikit-learn, prdc).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["EXTRAS", "require"]

# module -> (distribution on PyPI, extra that installs it)
EXTRAS = {
    "zuko": ("zuko", "experiments"),
    "sklearn": ("scikit-learn", "experiments"),
    "prdc": ("prdc", "experiments"),
}


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (a key of :data:`EXTRAS`, or a submodule of one), or raise ``ImportError`` naming the extra.

    ``purpose`` completes "... is needed for": e.g. ``"normalizing flows"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        dist, extra = EXTRAS[module.split(".")[0]]
        raise ImportError(
            f"{dist} is needed for {purpose} but is not installed: pip install 'stability[{extra}]'"
        ) from err
