"""stability: iterative retraining of generative models on their own data.

Bounds, closed forms, numerical operators, simulators and experiments for the theory of
Bertrand, Bose, Duplessis, Jiralerspong and Gidel, "On the Stability of Iterative Retraining of
Generative Models on their own Data" (ICLR 2024, arXiv 2310.00429).
"""

from . import (
    families,  # registers the exponential families with analyze()
    numerical,  # registers the numerical models with analyze()
)
from .bounds import bound, finite_sample_bound, max_lambda, sharp_bound
from .collapse import c4, expected_sigma, expected_variance, log_det_drift
from .dynamics import SimulationResult, simulate, theorem2_check
from .dynamics.moments import stationary_closed_form
from .jacobian import analyze_jacobian, fixed_point_jacobian, generalized_eigenvalues, rate_exact
from .report import LocalConstants, StabilityReport, analyze, build_report, register_model
from .stationary import StationaryLaw, stationary
from .weights import optimal_synthetic_weight


def __getattr__(name):
    # torch-backed: imported on first use, so ``import stability`` stays fast
    if name == "retrain_chains":
        from . import numerical

        return numerical.retrain_chains
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LocalConstants",
    "SimulationResult",
    "StabilityReport",
    "StationaryLaw",
    "analyze",
    "analyze_jacobian",
    "bound",
    "build_report",
    "c4",
    "expected_sigma",
    "expected_variance",
    "families",
    "finite_sample_bound",
    "fixed_point_jacobian",
    "generalized_eigenvalues",
    "log_det_drift",
    "max_lambda",
    "numerical",
    "optimal_synthetic_weight",
    "rate_exact",
    "register_model",
    "retrain_chains",
    "sharp_bound",
    "simulate",
    "stationary",
    "stationary_closed_form",
    "theorem2_check",
]

__version__ = "0.1.0"
