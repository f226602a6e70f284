"""proofs_check: mechanical verification of every step of the proofs in THEORY.md §2–6.

``python -m proofs_check`` runs every registered check and prints a table (result, step, method,
status, residual or worst case); it exits non-zero if any check fails. Each module holds the
checks of one result; importing this package registers them all.
"""

from . import collapse, fixed_point, jacobian, spectrum, theorem1, theorem2  # noqa: F401  (importing registers the checks)
from .registry import REGISTRY, Check, Outcome, Report, run, select

__all__ = ["REGISTRY", "Check", "Outcome", "Report", "run", "select"]
