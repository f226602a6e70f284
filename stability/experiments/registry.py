"""The registry of the retraining loop's generative models, without importing torch.

:data:`MODEL_REGISTRY` maps a model's name (its ``kind``) to the name of its class in
:mod:`stability.experiments.models` (a :class:`~stability.experiments.models.GenerativeModel`) and
a one-line summary. It is the one list of models: the command line's ``--model`` choices and help,
:data:`~stability.experiments.models.MODELS`, :func:`~stability.experiments.models.make_model` and
the configuration defaults (:func:`~stability.experiments.config.default_config`, read from the
class) all derive from it. Adding a model is one class in ``models`` and one line here. This module
imports nothing, so ``stability --help`` does not load torch.
"""

from __future__ import annotations

__all__ = ["MODEL_KINDS", "MODEL_REGISTRY"]

MODEL_REGISTRY: dict[str, tuple[str, str]] = {
    "flow": ("Flow", "neural spline flow, maximum likelihood"),
    "ddpm": ("DDPM", "denoising diffusion (epsilon prediction, ancestral sampler)"),
    "cfm": ("CFM", "OT conditional flow matching (straight paths, Heun sampler)"),
}

MODEL_KINDS = tuple(MODEL_REGISTRY)
