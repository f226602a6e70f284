"""The exceptions of ``stability``: every anticipated failure has a type and a one-line message.

Two families, which the command line maps to its exit status:

- :class:`InputError` (a ``ValueError``): the input is invalid — a parameter out of its domain,
  data that cannot be used, a file that cannot be read. Exit status 2. The message names the
  parameter, flag or file and what is allowed.
- :class:`RuntimeFailure`: a valid input that could not be carried through — a fit that did not
  converge (:class:`ConvergenceError`), a run folder that is damaged or foreign
  (:class:`CorruptRunError`), a computation that would not fit in memory
  (:class:`MemoryEstimateError`), an output that cannot be written (:class:`OutputError`).
  Exit status 1. The message says what to do.

Anything else reaching the command line is a bug: it prints a traceback and asks to report it.
This module imports nothing from the package, so every module can use it.

>>> issubclass(InputError, ValueError), issubclass(MemoryEstimateError, RuntimeFailure)
(True, True)
"""

from __future__ import annotations

__all__ = [
    "ConvergenceError",
    "CorruptRunError",
    "InputError",
    "MemoryEstimateError",
    "OutputError",
    "RuntimeFailure",
    "StabilityError",
    "available_memory",
    "check_memory",
    "classify",
    "error_name",
    "format_bytes",
]


class StabilityError(Exception):
    """Base class of the anticipated failures of ``stability``."""


class InputError(StabilityError, ValueError):
    """An invalid input (a usage error): the message names it and its valid range."""


class RuntimeFailure(StabilityError, RuntimeError):
    """A valid input that could not be carried through (see the subclasses)."""


class ConvergenceError(RuntimeFailure):
    """An iterative solver (a maximum-likelihood fit, a fixed point) did not converge."""


class CorruptRunError(RuntimeFailure, ValueError):
    """A run folder or checkpoint that is damaged, foreign or from another configuration.

    Also a ``ValueError`` so that code written against the earlier ``CheckpointError(ValueError)``
    keeps catching it.
    """


class MemoryEstimateError(RuntimeFailure, MemoryError):
    """A computation refused before allocation: its estimated memory exceeds what is available."""


class OutputError(RuntimeFailure, OSError):
    """An output file or folder that cannot be written (missing parent, not a folder, no permission)."""


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``.

    >>> format_bytes(3 * 2**30)
    '3 GiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def available_memory() -> int:
    """Bytes a computation may allocate: ``MemAvailable`` of ``/proc/meminfo`` where it exists, else
    the physical memory; capped by the address-space limit (``RLIMIT_AS``) when one is set."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    if avail is None:
        try:
            import os

            avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            avail = 2**63
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            avail = min(avail, soft)
    except (ImportError, OSError, ValueError):
        pass
    return int(avail)


def check_memory(nbytes: float, what: str, fix: str) -> None:
    """Raise :class:`MemoryEstimateError` when ``nbytes`` exceeds :func:`available_memory`.

    ``what`` says what would be allocated, ``fix`` which argument to lower.
    """
    avail = available_memory()
    if nbytes > avail:
        raise MemoryEstimateError(
            f"{what} needs about {format_bytes(nbytes)} of memory, more than the {format_bytes(avail)} available: {fix}"
        )


def classify(err: BaseException) -> tuple[int, str] | None:
    """The command line's reading of an exception: ``(exit status, one-line message)``, or ``None``
    for an unanticipated one (a bug, which deserves a traceback).

    Status 2 for invalid input (:class:`InputError`, any ``ValueError``), 1 for a runtime failure
    (:class:`RuntimeFailure`, ``MemoryError``, ``OSError``, ``ImportError``, ``RuntimeError``), 130
    for Ctrl-C.

    >>> classify(InputError("--n must be an integer >= 2, got 1"))
    (2, '--n must be an integer >= 2, got 1')
    >>> classify(FileNotFoundError(2, "No such file or directory", "x.npz"))
    (1, "[Errno 2] No such file or directory: 'x.npz'")
    >>> classify(KeyError("x")) is None
    True
    """
    first = " ".join(str(err).split()) or type(err).__name__  # one line
    if isinstance(err, KeyboardInterrupt):
        return 130, "interrupted"
    if isinstance(err, RuntimeFailure):
        return 1, first
    if isinstance(err, ValueError):
        return 2, first
    if isinstance(err, MemoryError):
        return 1, f"out of memory ({first}): use smaller sizes"
    if isinstance(err, OSError):  # its message names the file: "[Errno 2] No such file or directory: 'x'"
        return 1, first
    if isinstance(err, ImportError):  # a missing optional package: its message names the extra
        return 1, first
    if isinstance(err, RuntimeError):  # a run that failed (a diverged training, a solver)
        return 1, f"{type(err).__name__}: {first}"
    return None


def error_name(err: BaseException) -> str:
    """The exception's name as shown to users: a plain :class:`InputError` shows as ``ValueError``
    (the type callers catch); every other exception under its own name.

    >>> error_name(InputError("n must be >= 2")), error_name(KeyError("x"))
    ('ValueError', 'KeyError')
    """
    return "ValueError" if type(err) is InputError else type(err).__name__
