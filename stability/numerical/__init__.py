"""Numerical retraining operator for likelihood models written in torch (docs/theory.md §1–4).

Modules: :mod:`.models` (protocol, built-in models), :mod:`.expectations` (data and model
expectations), :mod:`.operator` (θ* and :math:`G_\\lambda`), :mod:`.curvature` (A, B dense and
matrix-free), :mod:`.maximum` (θ* of a penalised data term, A and B there, the spectrum's
symmetries), :mod:`.nonsmooth` (Laplace: curvature of the expected
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
    "classify_spectrum",
    "curvature_at",
    "data_term",
    "dense_curvature",
    "fit_theta_star",
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
    "classify_spectrum": "maximum",
    "curvature_at": "maximum",
    "data_term": "maximum",
    "fit_theta_star": "maximum",
    "dense_curvature": "curvature",
    "lipschitz": "constants",
    "local_constants": "constants",
    "retrain_chains": "chains",
    "theorem2_radius": "chains",
    "wasserstein": "constants",
}


def _models():
    _require_torch()
    from . import models

    return models


def _family_model(cls):
    return lambda: _models().FamilyModel.of(cls)


# registered name -> a function returning the model class (torch is imported on first use). The
# exponential families' torch models come from the registry stability.families.FAMILIES (each
# family with ``numerical = True``) and carry a "-numerical" suffix: their plain names belong to the
# closed forms.
BUILTIN_MODELS = dict(
    sorted(
        {
            **{f"{name}-numerical": _family_model(cls) for name, cls in FAMILIES.items() if cls.numerical},
            "gaussian-mixture": lambda: _models().GaussianMixture,
            "laplace": lambda: _models().Laplace,
            "logistic": lambda: _models().Logistic,
            "student-t": lambda: _models().StudentT,
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
_MODEL_OPTIONS = {
    "gaussian-mixture": ("d", "dim"),
    "student-t": ("df",),
    **{f"{name}-numerical": cls.numerical_options for name, cls in FAMILIES.items() if cls.numerical},
}


class _Configured:
    """A built-in model with the options of :func:`stability.analyze` (``seed``: Monte Carlo / POT draws)."""

    def __init__(self, model, seed: int = 0):
        self.model, self.seed = model, seed

    def local_constants(self, data):
        return self.model.local_constants(data, seed=self.seed)


def _factory(name: str):
    def make(seed=0, **options):
        from .._domains import check_seed
        from ..errors import InputError

        check_seed("seed", seed, allow_generator=False)
        _require_torch()
        allowed = _MODEL_OPTIONS.get(name, ())
        bad = sorted(set(options) - set(allowed))
        if bad:
            takes = ", ".join(sorted({*allowed, "seed"}))
            raise InputError(f"model {name!r} does not take option(s) {bad} (it takes {takes})")
        if "d" in options:
            d = options.pop("d")
            if d not in (1, 2):
                raise InputError(f"d (--d) must be 1 or 2 for model 'gaussian-mixture', got {d!r}")
            options["dim"] = int(d)
        return _Configured(BUILTIN_MODELS[name]()(**options), seed)

    make.__name__ = f"make_{name}"
    make.options = ("seed", *_MODEL_OPTIONS.get(name, ()))
    return make


for _name in BUILTIN_MODELS:
    register_model(_name, _factory(_name))
