"""Iterative retraining of deep generative models on their own samples (THEORY.md §8).

Data (:mod:`.data`), models (:mod:`.models`: a zuko neural spline flow and DDPM), metrics
(:mod:`.metrics`), the paper's retraining protocol (:mod:`.loop`) and resumable run directories
(:mod:`.runs`). Needs the ``experiments`` extra (zuko, POT, scikit-learn, prdc, tqdm).
"""

from .data import DATASETS_2D, Dataset, load_dataset
from .loop import DEFAULT_LAMBDAS, RetrainConfig, RetrainResult, chain_label, retrain, summary_table
from .models import DDPM, Flow, make_model, parameter_vector
from .runs import CheckpointError, flow_parameters, load_model, read_metrics

__all__ = [
    "DATASETS_2D",
    "DDPM",
    "DEFAULT_LAMBDAS",
    "CheckpointError",
    "Dataset",
    "Flow",
    "RetrainConfig",
    "RetrainResult",
    "chain_label",
    "flow_parameters",
    "load_dataset",
    "load_model",
    "make_model",
    "parameter_vector",
    "read_metrics",
    "retrain",
    "summary_table",
]
