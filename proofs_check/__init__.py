"""proofs_check: mechanical verification of every step of the proofs in docs/theory.md §2–6 and §9–15.

``python -m proofs_check`` runs every registered check and prints a table (result, step, method,
status, residual or worst case); it exits non-zero if any check fails. Each module holds the
checks of one result; importing this package registers them all, in the order of docs/theory.md.
"""

from importlib import import_module

from stability._optional import require

require("sympy", "the proof checks (python -m proofs_check)")
require("mpmath", "the proof checks (python -m proofs_check)")

from .registry import REGISTRY, Check, Outcome, Report, run, select  # noqa: E402 - after the check for the extra

__all__ = ["Check", "Outcome", "REGISTRY", "RESULTS", "Report", "run", "select"]

# One module per result, in the order docs/theory.md states them (importing registers the checks).
RESULTS = (
    "fixed_point",
    "jacobian",
    "families",
    "spectrum",
    "theorem1",
    "theorem2",
    "collapse",
    "gaussian_recursions",
    "stationary",
    "weighted",
    "setups",
    "regression",
    "correction",
    "curation",
    "losses",
)
for _name in RESULTS:
    import_module(f".{_name}", __name__)
