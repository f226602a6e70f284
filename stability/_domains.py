"""Parameter domains, declared once.

Every public function validates its inputs through :func:`check`, so a parameter's valid range is
written in exactly one place (:data:`DOMAINS`) and the error messages are uniform::

    ValueError: lambda_ must be >= 0, got -0.1

The test-suite draws valid, boundary, out-of-domain and NaN values from the same declarations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import InputError

__all__ = [
    "DOMAINS",
    "Interval",
    "broadcast",
    "check",
    "check_choice",
    "check_scalar",
    "check_seed",
    "count",
    "scalar_or_array",
]


@dataclass(frozen=True)
class Interval:
    """A real interval ``low <(=) x <(=) high``, optionally restricted to integers.

    ``high = inf`` with ``high_closed=True`` admits ``inf`` itself (e.g. ``lambda_ = inf`` is the
    purely synthetic limit, ``t = inf`` the limit of infinitely many generations).
    """

    low: float
    high: float = math.inf
    low_closed: bool = True
    high_closed: bool = False
    integer: bool = False

    def describe(self) -> str:
        kind = "an integer " if self.integer else ""
        lo = ">=" if self.low_closed else ">"
        if self.high == math.inf:
            text = f"{kind}{lo} {self.low:g}"
            return text + (" (inf allowed)" if self.high_closed else "")
        left = "[" if self.low_closed else "("
        right = "]" if self.high_closed else ")"
        return f"{kind}in {left}{self.low:g}, {self.high:g}{right}"

    def contains(self, x: np.ndarray) -> np.ndarray:
        """Elementwise membership (NaN is never a member)."""
        ok = (x >= self.low) if self.low_closed else (x > self.low)
        ok &= (x <= self.high) if self.high_closed else (x < self.high)
        if self.integer:
            finite = np.isfinite(x)
            ok &= ~finite | (np.floor(np.where(finite, x, 0.0)) == np.where(finite, x, 0.0))
        return ok


# The parameters of docs/theory.md, with the names used in code.
DOMAINS: dict[str, Interval] = {
    "lambda_": Interval(0.0, math.inf, high_closed=True),  # synthetic-to-real ratio; inf = fully synthetic
    "eps": Interval(0.0),  # W1(p_theta*, p_data)
    "alpha": Interval(0.0, low_closed=False),  # strong concavity of the data log-likelihood
    "L": Interval(0.0),  # Lipschitz constant of x -> Hessian of log p_theta(x)
    "t": Interval(0.0, math.inf, high_closed=True, integer=True),  # generations
    "stat_err": Interval(0.0),  # eps_OPT + a(delta)/sqrt(n)
    "init_err": Interval(0.0),  # ||theta_0 - theta*||
    "n": Interval(2.0, integer=True),  # sample size for the Gaussian warm-up
    "d": Interval(1.0, integer=True),  # dimension
    "sigma0": Interval(0.0, low_closed=False),  # initial standard deviation
    "delta": Interval(0.0, 1.0, low_closed=False, high_closed=False),  # failure probability
    "generations": Interval(0.0, integer=True),  # retraining rounds simulated
    "chains": Interval(1.0, integer=True),  # independent simulated chains
    "synthetic_weight": Interval(0.0, 1.0, high_closed=True),  # weight of the synthetic term (docs/theory.md §10)
    "correction": Interval(0.0),  # self-correction strength gamma, finite (docs/theory.md §14)
    # exponential families (stability.families)
    "k": Interval(2.0, integer=True),  # number of categories
    "p": Interval(0.0, 1.0, low_closed=False, high_closed=False),  # Bernoulli success probability
    "rate": Interval(0.0, low_closed=False),  # Poisson / exponential / gamma rate
    "shape": Interval(0.0, low_closed=False),  # gamma shape
    "w1_points": Interval(2.0, integer=True),  # sample size of a POT estimate of W1
    # the same domains under the public parameter names that spell them differently
    "dim": Interval(1.0, integer=True),  # dimension (simulate, theorem2_check, ...); d in the formulas
    "sigma": Interval(0.0, low_closed=False),  # initial standard deviation; sigma0 in the formulas
    "steps": Interval(0.0, integer=True),  # iterations of a deterministic map (finite)
    "probs": Interval(0.0, 1.0, low_closed=False, high_closed=False),  # categorical probabilities
}


def check(name: str, value, domain: Interval | None = None) -> np.ndarray:
    """Return ``value`` as a float array after checking it lies in its domain.

    Raises :class:`~stability.errors.InputError` (a ``ValueError``) naming the parameter, its valid
    range and the first offending value; ``name`` is the parameter as the caller spelled it (the
    error's ``param``), ``domain`` defaults to ``DOMAINS[name]``.
    """
    domain = DOMAINS[name] if domain is None else domain
    if np.iscomplexobj(value) or isinstance(value, complex):
        raise InputError(f"{name} must be a real number {domain.describe()}, got a complex value {value!r}", param=name)
    try:
        x = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a real number {domain.describe()}, got {value!r}", param=name) from None
    ok = domain.contains(x)
    if not np.all(ok):
        bad = float(x[~ok].flat[0]) if x.ndim else float(x)
        where = "" if x.ndim == 0 else f" (at index {tuple(int(i) for i in np.argwhere(~ok)[0])})"
        raise InputError(f"{name} must be {domain.describe()}, got {bad!r}{where}", param=name)
    return x


def check_scalar(name: str, value, domain: Interval | None = None) -> float:
    """:func:`check` for a parameter that must be a single number; returns a Python float."""
    if np.ndim(value) != 0:
        raise InputError(f"{name} must be a single number, got {value!r}", param=name)
    return float(check(name, value, domain))


def check_choice(name: str, value, choices) -> str:
    """Check that ``value`` is one of ``choices`` (a clear error for unknown names)."""
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}", param=name)
    return value


def check_seed(name: str, seed, allow_generator: bool = True):
    """Check a random seed: ``None``, an integer >= 0 (or a sequence of them) or a ``numpy.random.Generator``.

    >>> check_seed("seed", 3)
    3
    >>> check_seed("--seed", -1)
    Traceback (most recent call last):
    ...
    stability.errors.InputError: --seed must be None, an integer >= 0 or a numpy Generator, got -1
    """
    if seed is None or (allow_generator and isinstance(seed, (np.random.Generator, np.random.SeedSequence))):
        return seed
    what = "None, an integer >= 0 or a numpy Generator" if allow_generator else "an integer >= 0"
    values = seed if isinstance(seed, (list, tuple)) and seed else [seed]
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)) or v < 0:
            raise InputError(f"{name} must be {what}, got {seed!r}", param=name)
    return seed


def broadcast(**arrays: np.ndarray) -> list[np.ndarray]:
    """Broadcast validated arrays together, naming the parameters whose shapes clash."""
    try:
        return list(np.broadcast_arrays(*arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())
        raise InputError(f"shapes do not broadcast together: {shapes}") from None


def scalar_or_array(result: np.ndarray, *inputs):
    """A Python float when every input was a scalar, else the array."""
    if all(np.ndim(v) == 0 for v in inputs):
        return float(result)
    return result


def count(name: str, value) -> int:
    """Return ``value`` as an ``int`` after checking it is an integer >= 1 (``1e3`` is accepted).

    >>> count("n", 1e3)
    1000
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be an integer >= 1, got {value!r}", param=name) from None
    if not math.isfinite(x) or x < 1 or x != math.floor(x):
        raise InputError(f"{name} must be an integer >= 1, got {value!r}", param=name)
    return int(x)
