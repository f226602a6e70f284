"""Numerical retraining operator for likelihood models written in torch (docs/theory.md §1–4).

Modules: :mod:`.models` (protocol, built-in models), :mod:`.expectations` (data and model
expectations), :mod:`.operator` (θ* and :math:`G_\\lambda`), :mod:`.curvature` (A, B dense and
matrix-free), :mod:`.nonsmooth` (Laplace: curvature of the expected
log-likelihood), :mod:`.constants` (α, L, ε and ``local_constants``), :mod:`.basin` (basin of
attraction), :mod:`.chains` (finite-sample retraining chains, vectorised over chains), :mod:`.optim`
(the optimiser), :mod:`.objectives` (per-point losses, the mixed objective), :mod:`.losses` (models
fitted by any loss: ``LossModel``, score matching, the linear DDPM, their analysis; docs/theory.md
§13; their chains are :func:`.chains.retrain_loss_chains`). torch is
imported on first use, so ``import stability`` stays fast; the built-in models are registered
with :func:`stability.register_model` by name here.
"""

from __future__ import annotations

import importlib

from ..families import FAMILIES
from ..report import register_model

__all__ = [
    "BUILTIN_MODELS",
    "ChainsResult",
    "ConvergenceError",
    "HyvarinenScoreMatching",
    "LinearGaussianDDPM",
    "LossModel",
    "LossReport",
    "MLPDDPM",
    "MLPFlowMatching",
    "PointDrawsLoss",
    "MatrixFreeCurvature",
    "NonSmoothRetraining",
    "Retraining",
    "analyze_loss",
    "basin_radius",
    "check_stationary",
    "dense_curvature",
    "lipschitz",
    "local_constants",
    "retrain_chains",
    "theorem2_radius",
    "wasserstein",
]

_WHERE = {
    "ChainsResult": "chains",
    "ConvergenceError": "operator",
    "HyvarinenScoreMatching": "losses",
    "LinearGaussianDDPM": "losses",
    "LossModel": "losses",
    "LossReport": "losses",
    "MLPDDPM": "generative",
    "MLPFlowMatching": "generative",
    "PointDrawsLoss": "losses",
    "analyze_loss": "losses",
    "MatrixFreeCurvature": "curvature",
    "NonSmoothRetraining": "nonsmooth",
    "Retraining": "operator",
    "basin_radius": "basin",
    "check_stationary": "chains",
    "dense_curvature": "curvature",
    "lipschitz": "constants",
    "local_constants": "constants",
    "retrain_chains": "chains",
    "theorem2_radius": "chains",
    "wasserstein": "constants",
}

# registered name -> class name in .models. The exponential families' twins are declared by the
# families themselves (``numerical_twin``) and carry a "-numerical" suffix: their plain names belong
# to the closed forms (stability.families).
BUILTIN_MODELS = dict(
    sorted(
        {
            **{f"{name}-numerical": cls.numerical_twin for name, cls in FAMILIES.items() if cls.numerical_twin},
            "gaussian-mixture": "GaussianMixture",
            "laplace": "Laplace",
            "logistic": "Logistic",
            "student-t": "StudentT",
        }.items()
    )
)


def _require_torch() -> None:
    from .._optional import require

    require("torch", "the numerical models (stability.numerical)")


def __getattr__(name):
    if name in _WHERE:
        _require_torch()
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# options of each built-in model's constructor; ``d`` is the command line's name for ``dim``
_MODEL_OPTIONS = {"GaussianMixture": ("d", "dim"), "StudentT": ("df",), "Categorical": ("k",)}


class _Configured:
    """A built-in model with the options of :func:`stability.analyze` (``seed``: Monte Carlo / POT draws)."""

    def __init__(self, model, seed: int = 0):
        self.model, self.seed = model, seed

    def local_constants(self, data):
        return self.model.local_constants(data, seed=self.seed)


def _factory(cls_name: str):
    def make(seed=0, **options):
        from .._domains import check_seed
        from ..errors import InputError

        check_seed("seed", seed, allow_generator=False)
        _require_torch()
        from . import models

        allowed = _MODEL_OPTIONS.get(cls_name, ())
        bad = sorted(set(options) - set(allowed))
        if bad:
            takes = ", ".join(sorted({*allowed, "seed"}))
            raise InputError(
                f"model {getattr(models, cls_name).name!r} does not take option(s) {bad} (it takes {takes})"
            )
        if "d" in options:
            d = options.pop("d")
            if d not in (1, 2):
                raise InputError(f"d (--d) must be 1 or 2 for model 'gaussian-mixture', got {d!r}")
            options["dim"] = int(d)
        return _Configured(getattr(models, cls_name)(**options), seed)

    make.__name__ = f"make_{cls_name}"
    make.options = ("seed", *_MODEL_OPTIONS.get(cls_name, ()))
    return make


for _name, _cls in BUILTIN_MODELS.items():
    register_model(_name, _factory(_cls))
