"""A retraining run's configuration: chain labels, profiles, and the model it builds.

:class:`RetrainConfig` holds everything that determines a run's numbers (its hash, from
:func:`~stability._io.config_hash`, is the run's identity); :func:`default_config`
fills it from a profile; :func:`build_model` makes the model it describes. Imports no run
directory, loop or metric.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from .._domains import Interval, check, check_choice, check_seed
from .._io import config_hash
from ..errors import InputError
from ..schemes import FIXED_REAL, SCHEMES, Scheme, as_scheme, check_real_fraction
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
# the label grammar: a bare number is this scheme at that lambda (the paper's protocol)
NUMBER_SCHEME = FIXED_REAL


def _number(text, what: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise InputError(
            f"lambdas must hold numbers >= 0, 'replace' or 'accumulate', or scheme:value with a scheme of "
            f"{', '.join(map(repr, SCHEMES))} (e.g. 'fresh-real:0.5'), got {what!r}",
            param="lambdas",
        ) from None


def _scheme_label(name: str, value: float | None) -> str:
    """Canonical label of a named scheme: the bare name at its default value (lambda 1, or the registered
    real fraction of a fraction scheme; ``replace`` has none), else ``name:value``."""
    scheme = SCHEMES[name]
    default = scheme.real_fraction if scheme.fraction else 1.0
    if scheme.synthetic_only:
        if value is not None:
            raise InputError(
                f"lambdas entry {name!r} takes no value (it fits n synthetic points a round)", param="lambdas"
            )
        return name
    if value is None or value == default:
        return name
    return f"{name}:{value:g}"


def chain_label(value) -> str:
    """Canonical label of a lambda-grid entry (a chain: a scheme and its parameter).

    - a number ``>= 0`` (``"0.5"``): ``fixed-real`` at that lambda (the paper's protocol);
    - ``scheme:value`` with a scheme of :data:`stability.schemes.SCHEMES`: that scheme at lambda
      ``value`` (``"fresh-real:0.5"``, ``"accumulate:0.25"``), or at real fraction ``value`` for a
      fraction scheme (``"fresh-fraction:0.3"``, docs/theory.md §11);
    - a bare scheme name: its default, lambda 1 (``"accumulate"``: Gerstgrasser et al.'s ``k = n``) or
      the registered real fraction; ``"replace"`` (purely synthetic) takes no value.

    The label is canonical: ``fixed-real:x`` is written ``x``, a scheme at its default the bare name
    (``"accumulate:1"`` is ``"accumulate"``), numbers by ``%g``; so the labels of stored runs keep
    their meaning and their configuration hash.

    >>> [chain_label(v) for v in (0, "0.50", 1.0, "replace", "fresh-real:0.50", "accumulate:1", "fixed-real:2")]
    ['0', '0.5', '1', 'replace', 'fresh-real:0.5', 'accumulate', '2']
    """
    if isinstance(value, str) and (value in SCHEMES or ":" in value):
        name, _, text = value.partition(":")
        if name not in SCHEMES:
            raise InputError(
                f"lambdas entry {value!r}: its scheme must be one of {', '.join(map(repr, SCHEMES))}, got {name!r}",
                param="lambdas",
            )
        if not text:
            return _scheme_label(name, None) if name != NUMBER_SCHEME.name else "1"
        x = _number(text, value)
        scheme = SCHEMES[name]
        if scheme.fraction:
            x = check_real_fraction(x)
        elif not scheme.synthetic_only:
            x = _finite_lambda(x, value)
        if name == NUMBER_SCHEME.name:
            return f"{x:g}"
        return _scheme_label(name, x)
    return f"{_finite_lambda(_number(value, value), value):g}"


def _finite_lambda(lam: float, value) -> float:
    if not math.isfinite(lam):
        raise InputError(
            f"lambdas must hold finite numbers (use 'replace' for the fully synthetic limit), got {value!r}",
            param="lambdas",
        )
    return float(check("lambdas", lam, Interval(0.0)))  # finite here: no "(inf allowed)"


def chain_scheme(label: str) -> tuple[Scheme, float | None]:
    """The declared :class:`~stability.schemes.Scheme` of a chain label and its lambda (see :func:`chain_label`).

    ``replace``'s lambda is ``inf``; a fraction scheme's is ``None`` (not used), its real fraction set
    on the returned declaration.
    """
    name, _, text = label.partition(":")
    if name not in SCHEMES:  # a number
        return NUMBER_SCHEME, float(label)
    scheme = SCHEMES[name]
    if scheme.synthetic_only:
        return scheme, math.inf
    if scheme.fraction:
        return as_scheme(scheme, real_fraction=float(text) if text else None), None
    return scheme, float(text) if text else 1.0


def parse_chain(label: str) -> tuple[str, float | None]:
    """``(scheme name, lambda)`` of a chain label: ``("fixed-real", lam)``, ``("replace", inf)``,
    ``("accumulate", 1)``, ``("fresh-real", 0.5)`` for ``"fresh-real:0.5"`` (see :func:`chain_scheme`)."""
    scheme, lam = chain_scheme(label)
    return scheme.name, lam


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
