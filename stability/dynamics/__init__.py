"""Finite-sample retraining dynamics: exact fast simulator, closed-form moments, Theorem 2 check."""

from .simulate import Band, SimulationResult, simulate, synthetic_count

__all__ = ["Band", "SimulationResult", "simulate", "synthetic_count"]
