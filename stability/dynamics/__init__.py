"""Finite-sample retraining dynamics: exact fast simulator, closed-form moments, Theorem 2 check."""

from .curation import (
    CuratedGaussian,
    Curation,
    LinearReward,
    QuadraticReward,
    curated_gaussian,
    curated_point_moments,
    curated_replace,
)
from .moments import MomentPrediction, family_moments, family_stationary, gaussian_moments, gaussian_stationary
from .regression import RegressionPrediction, RegressionResult, regression_moments, regression_stationary
from .simulator import Band, SimulationResult, simulate, synthetic_count
from .theorem2 import Theorem2Check, gaussian_stat_err, theorem2_check

__all__ = [
    "Band",
    "CuratedGaussian",
    "Curation",
    "LinearReward",
    "QuadraticReward",
    "MomentPrediction",
    "RegressionPrediction",
    "RegressionResult",
    "SimulationResult",
    "Theorem2Check",
    "curated_gaussian",
    "curated_point_moments",
    "curated_replace",
    "family_moments",
    "family_stationary",
    "gaussian_moments",
    "gaussian_stat_err",
    "gaussian_stationary",
    "regression_moments",
    "regression_stationary",
    "simulate",
    "synthetic_count",
    "theorem2_check",
]
