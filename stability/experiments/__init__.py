"""Iterative retraining of deep generative models on their own samples (docs/theory.md §8).

Data (:mod:`.data`), models (:mod:`.models`: a zuko neural spline flow, DDPM and OT-CFM, one
protocol and the registry of :mod:`.registry`), metrics
(:mod:`.metrics`), a run's configuration (:mod:`.config`), the paper's retraining protocol
(:mod:`.loop`), resumable run directories (:mod:`.runs`, on the atomic writes of :mod:`stability._io`) and a
trained flow as a numerical model for :func:`stability.analyze` (:mod:`.analysis`).
Needs the ``experiments`` extra (zuko, scikit-learn, prdc): ``pip install 'stability[experiments]'``;
a missing one raises ``ImportError`` naming it when first used.
Names are imported on first use (PEP 562), so the command line does not import torch to start.
"""

import importlib

__all__ = [
    "CFM",
    "DATASETS_2D",
    "DDPM",
    "DEFAULT_LAMBDAS",
    "CheckpointError",
    "Dataset",
    "Flow",
    "FlowLikelihood",
    "GenerativeModel",
    "MODELS",
    "RetrainConfig",
    "RetrainResult",
    "chain_label",
    "default_config",
    "flow_parameters",
    "load_dataset",
    "load_model",
    "load_samples",
    "make_model",
    "parameter_vector",
    "read_metrics",
    "retrain",
    "summary_table",
]

_WHERE = {
    "FlowLikelihood": "analysis",
    "DATASETS_2D": "data",
    "Dataset": "data",
    "load_dataset": "data",
    "DEFAULT_LAMBDAS": "config",
    "RetrainConfig": "config",
    "RetrainResult": "loop",
    "chain_label": "config",
    "default_config": "config",
    "retrain": "loop",
    "summary_table": "loop",
    "CFM": "models",
    "DDPM": "models",
    "Flow": "models",
    "GenerativeModel": "models",
    "MODELS": "models",
    "make_model": "models",
    "parameter_vector": "models",
    "CheckpointError": "runs",
    "flow_parameters": "runs",
    "load_model": "runs",
    "load_samples": "runs",
    "read_metrics": "runs",
}


def __getattr__(name):
    if name in _WHERE:
        from .._optional import require

        require("torch", "the deep experiments (stability.experiments)", "experiments")
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
