"""The registry of proof-step checks and the outcome each one reports.

A check is a function of no arguments, registered with :func:`check`, that verifies one step of
a proof in docs/theory.md and returns an :class:`Outcome`. Its docstring quotes the step it verifies.
Checks look toolkit functions up through their module (``bounds.bound``, not a copied reference),
so a test can plant an error by monkeypatching the module and see the check FAIL.

A check that raises reports FAIL with the exception: a crash is never a pass.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Check", "METHODS", "Outcome", "REGISTRY", "Report", "check", "combine", "run", "select"]

METHODS = ("symbolic", "high-precision numeric", "randomized")


@dataclass(frozen=True)
class Outcome:
    """What a check found: whether the step holds, and the residual or worst case observed.

    ``fallback`` is set when a symbolic step could not be closed by sympy and was verified
    numerically instead; the table shows it next to the method, so the fallback is never quiet.
    """

    passed: bool
    detail: str
    fallback: str | None = None


def combine(*outcomes: Outcome) -> Outcome:
    """All sub-steps must pass; details are joined, failed ones first."""
    bad = [o for o in outcomes if not o.passed]
    ordered = bad + [o for o in outcomes if o.passed]
    details = "; ".join(("FAILED: " if not o.passed else "") + o.detail for o in ordered)
    fallbacks = [o.fallback for o in outcomes if o.fallback]
    return Outcome(not bad, details, "; ".join(fallbacks) if fallbacks else None)


@dataclass(frozen=True)
class Check:
    """One registered check: ``result`` (module), ``name``, the proof ``step`` and the ``method``."""

    name: str
    result: str
    step: str
    method: str
    func: Callable[[], Outcome]

    @property
    def doc(self) -> str:
        return (self.func.__doc__ or "").strip()


@dataclass(frozen=True)
class Report:
    """The outcome of one check, with the time it took."""

    check: Check
    outcome: Outcome
    seconds: float

    @property
    def status(self) -> str:
        return "PASS" if self.outcome.passed else "FAIL"

    @property
    def method(self) -> str:
        m = self.check.method
        return f"{m} (fallback: {self.outcome.fallback})" if self.outcome.fallback else m


REGISTRY: dict[str, Check] = {}


def check(result: str, step: str, method: str) -> Callable[[Callable[[], Outcome]], Callable[[], Outcome]]:
    """Register a check of ``step`` of ``result`` under the name ``<result>.<function name>``."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(map(repr, METHODS))}, got {method!r}")

    def register(func: Callable[[], Outcome]) -> Callable[[], Outcome]:
        if not (func.__doc__ or "").strip():
            raise ValueError(f"check {func.__name__} must quote the step it verifies in its docstring")
        name = f"{result}.{func.__name__.removeprefix('check_')}"
        if name in REGISTRY:
            raise ValueError(f"check {name} is registered twice")
        REGISTRY[name] = Check(name, result, step, method, func)
        return func

    return register


def select(only: str | None = None) -> list[Check]:
    """All checks, or those whose name equals ``only`` or starts with ``only + '.'`` (a result)."""
    checks = list(REGISTRY.values())
    if only is None:
        return checks
    chosen = [c for c in checks if c.name == only or c.name.startswith(only + ".")]
    if not chosen:
        raise ValueError(f"only must name a check or a result, got {only!r}; see --list")
    return chosen


def run(checks: list[Check]) -> list[Report]:
    """Run ``checks`` in order; an exception inside a check is reported as FAIL."""
    reports = []
    for c in checks:
        t0 = time.perf_counter()
        try:
            outcome = c.func()
            if not isinstance(outcome, Outcome):
                outcome = Outcome(False, f"check returned {type(outcome).__name__}, not an Outcome")
        except Exception as exc:  # a crash is a failure, reported with where it happened
            where = traceback.extract_tb(exc.__traceback__)[-1]
            outcome = Outcome(False, f"raised {type(exc).__name__}: {exc} (at {where.name}:{where.lineno})")
        reports.append(Report(c, outcome, time.perf_counter() - t0))
    return reports
