"""A retraining run's configuration: chain labels, profiles, and the model it builds.

:class:`RetrainConfig` holds everything that determines a run's numbers (its hash, from
:func:`~stability.experiments._io.config_hash`, is the run's identity); :func:`default_config`
fills it from a profile; :func:`build_model` makes the model it describes. Imports no run
directory, loop or metric.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from .._domains import Interval, check, check_choice, check_seed
from ..errors import InputError
from ..schemes import SCHEMES, Scheme
from ._io import config_hash
from .models import MODEL_KINDS, MODELS, GenerativeModel, make_model

__all__ = [
    "DEFAULT_LAMBDAS",
    "RetrainConfig",
    "build_model",
    "chain_label",
    "chain_scheme",
    "default_config",
    "parse_chain",
]

DEFAULT_LAMBDAS = ("0", "0.25", "0.5", "1", "replace")


def chain_label(value) -> str:
    """Canonical label of a lambda-grid entry: a number ``>= 0`` (``"0.5"``), ``"replace"`` or ``"accumulate"``.

    >>> [chain_label(v) for v in (0, "0.50", 1.0, "replace")]
    ['0', '0.5', '1', 'replace']
    """
    if isinstance(value, str) and value in ("replace", "accumulate"):
        return value
    try:
        lam = float(value)
    except (TypeError, ValueError):
        raise InputError(
            f"lambdas must hold numbers >= 0, 'replace' or 'accumulate', got {value!r}", param="lambdas"
        ) from None
    if not math.isfinite(lam):
        raise InputError(
            f"lambdas must hold finite numbers (use 'replace' for the fully synthetic limit), got {value!r}",
            param="lambdas",
        )
    return f"{float(check('lambdas', lam, Interval(0.0))):g}"  # finite here: no "(inf allowed)"


def parse_chain(label: str) -> tuple[str, float]:
    """``(scheme, lambda)`` of a chain label: ``("fixed-real", lam)``, ``("replace", inf)``, ``("accumulate", 1)``."""
    if label == "replace":
        return "replace", math.inf
    if label == "accumulate":
        return "accumulate", 1.0
    return "fixed-real", float(label)


def chain_scheme(label: str) -> tuple[Scheme, float]:
    """The declared :class:`~stability.schemes.Scheme` of a chain label and its lambda (see :func:`parse_chain`)."""
    name, lam = parse_chain(label)
    return SCHEMES[name], lam


@dataclass(frozen=True)
class RetrainConfig:
    """Everything that determines a retraining run's numbers (its hash is the run's identity).

    ``model``: a name of the registry :data:`~stability.experiments.models.MODELS` (``"flow"``,
    ``"ddpm"``, ``"cfm"``); ``data``: a data-set name or image-file path;
    ``lambdas``: chain labels (see :func:`chain_label`); ``generations`` >= 1; ``n``: size of the
    real training set (``None``: the loader's default); ``heldout`` in (0, 1); ``pretrain_steps``,
    ``finetune_steps`` >= 1 (Adam steps); ``batch_size`` >= 1; ``lr`` > 0: pretraining's initial
    learning rate (cosine-annealed to 0 over ``pretrain_steps``, so generation 0 is close to a local
    optimum); ``finetune_lr`` > 0: the constant learning rate of each round; ``eval_samples`` >= 2:
    the number of points compared at evaluation, ``m = min(eval_samples, held-out size)``: ``m``
    model samples against ``m`` held-out points (W2 subsample size; feature sets for images);
    ``classifier_steps`` >= 1: training steps of the image metrics' feature classifier;
    ``model_options``: passed to :func:`make_model`; ``device``: torch device.
    ``generations`` is left out of the hash so a finished run can be extended with ``resume``.
    """

    model: str
    data: str
    lambdas: tuple = DEFAULT_LAMBDAS
    generations: int = 5
    n: int | None = 1000
    heldout: float = 0.2
    seed: int = 0
    pretrain_steps: int = 1500
    finetune_steps: int = 200
    batch_size: int = 256
    lr: float = 1e-3
    finetune_lr: float = 1e-3
    eval_samples: int = 1000
    classifier_steps: int = 600
    model_options: dict = field(default_factory=dict)
    device: str = "cpu"

    def __post_init__(self):
        check_choice("model", self.model, MODEL_KINDS)
        labels = tuple(chain_label(v) for v in self.lambdas)
        if not labels or len(set(labels)) != len(labels):
            raise InputError(
                f"lambdas must be a non-empty list without repeats, got {list(self.lambdas)}", param="lambdas"
            )
        object.__setattr__(self, "lambdas", labels)
        for name in ("generations", "pretrain_steps", "finetune_steps", "batch_size"):
            check(name, getattr(self, name), Interval(1, integer=True))
        check("eval_samples", self.eval_samples, Interval(2, integer=True))
        check("classifier_steps", self.classifier_steps, Interval(1, integer=True))
        check("heldout", self.heldout, Interval(0.0, 1.0, low_closed=False))
        check_seed("seed", self.seed, allow_generator=False)
        if self.n is not None:
            check("n", self.n, Interval(2, integer=True))
        check("lr", self.lr, Interval(0.0, low_closed=False))
        check("finetune_lr", self.finetune_lr, Interval(0.0, low_closed=False))
        object.__setattr__(self, "model_options", dict(self.model_options))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["lambdas"] = list(self.lambdas)
        return d

    def identity(self) -> str:
        return config_hash(self.to_dict())


# Default sizes. "quick": the CPU quick profile (a few minutes per model on 2 cores);
# "tiny": seconds, for CI smoke runs and figure fast modes (numbers are not meaningful).
_PROFILE_KEYS = "n heldout generations pretrain_steps finetune_steps batch_size lr finetune_lr eval_samples".split()
_PROFILES = {
    (kind, profile): dict(zip(_PROFILE_KEYS, row, strict=True))
    for (kind, profile), row in {
        # (kind, profile):    n, heldout, generations, pretrain, finetune, batch, lr, finetune_lr, eval_samples
        ("2d", "quick"): (1000, 0.5, 10, 2000, 200, 256, 1e-3, 3e-4, 1000),
        ("2d", "tiny"): (300, 0.5, 2, 150, 30, 128, 3e-3, 1e-3, 300),
        ("image", "quick"): (None, 0.2, 5, 2000, 300, 128, 2e-3, 5e-4, 1000),
        ("image", "tiny"): (256, 0.2, 2, 60, 10, 64, 2e-3, 1e-3, 128),
    }.items()
}
_PROFILES["image", "tiny"]["classifier_steps"] = 150
# Per-model default options and profile changes are declared by each model class
# (GenerativeModel.defaults / .profiles) and read here through the registry MODELS.


def default_config(model: str, data: str, profile: str = "quick", **overrides) -> RetrainConfig:
    """A :class:`RetrainConfig` with the profile's defaults for the data's kind, then ``overrides``.

    The model's options and its changes to the profile's sizes come from its class in the registry
    :data:`~stability.experiments.models.MODELS` (``default_options``, ``profiles``).
    ``profile``: ``"quick"`` (the CPU quick profile) or ``"tiny"`` (seconds; smoke tests).

    >>> default_config("flow", "moons", "tiny", generations=3).generations
    3
    """
    from .data import DATASETS_2D

    check_choice("profile", profile, ("quick", "tiny"))
    check_choice("model", model, MODEL_KINDS)
    kind = "2d" if data in DATASETS_2D else "image"
    cls = MODELS[model]
    values = {
        **_PROFILES[kind, profile],
        **cls.profiles.get((kind, profile), {}),
        "model_options": cls.default_options(kind, str(data)),
        **overrides,
    }
    return RetrainConfig(model=model, data=str(data), **values)


def build_model(config: RetrainConfig, shape) -> GenerativeModel:
    """The model of ``config`` for samples of ``shape`` (parameters from the global torch RNG)."""
    return make_model(config.model, shape, **config.model_options)
