"""The exceptions of ``stability``: every anticipated failure has a type and a one-line message.

Two families, which the command line maps to its exit status:

- :class:`InputError` (a ``ValueError``): the input is invalid — a parameter out of its domain,
  data that cannot be used, a file that cannot be read. Exit status 2. The message names the
  parameter, flag or file and what is allowed.
- :class:`RuntimeFailure`: a valid input that could not be carried through — a fit that did not
  converge (:class:`ConvergenceError`), a run folder that is damaged or foreign
  (:class:`CorruptRunError`), a computation that would not fit in memory
  (:class:`MemoryEstimateError`) or finish in reasonable time (:class:`TimeEstimateError`), an
  output that cannot be written (:class:`OutputError`).
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
    "TIME_LIMIT_S",
    "TimeEstimateError",
    "available_memory",
    "check_memory",
    "check_time",
    "classify",
    "error_name",
    "format_bytes",
    "format_seconds",
    "time_limit",
]


class StabilityError(Exception):
    """Base class of the anticipated failures of ``stability``.

    ``param`` (keyword only) is the public parameter the failure is about, as the caller spelled it
    (``"dim"``, ``"lambda_"``, ``"out"``), or ``None``. The message names it too; the attribute lets the
    command line say which flag set that parameter without reading the message.

    >>> InputError("dim must be an integer >= 1, got 0", param="dim").param
    'dim'
    """

    def __init__(self, *args: object, param: str | None = None) -> None:
        super().__init__(*args)
        self.param = param


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


class TimeEstimateError(RuntimeFailure):
    """A computation refused before starting: its estimated run time exceeds :func:`time_limit`."""


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


def check_memory(nbytes: float, what: str, fix: str, param: str | None = None) -> None:
    """Raise :class:`MemoryEstimateError` when ``nbytes`` exceeds :func:`available_memory`.

    ``what`` says what would be allocated, ``fix`` which argument to lower (``param``, when it is one).
    """
    avail = available_memory()
    if nbytes > avail:
        raise MemoryEstimateError(
            f"{what} needs about {format_bytes(nbytes)} of memory, more than the {format_bytes(avail)} available: "
            f"{fix}",
            param=param,
        )


# A single library call (one simulation, one moment recursion) whose estimated time on one core exceeds
# this is refused up front with the estimate (docs/guide/dynamics.md). Half an hour: well above every
# documented use (figures, tables and benchmarks run each call in seconds to minutes), short enough
# that a typo (generations=1e9) fails at once instead of hanging. Raise it with the environment
# variable STABILITY_TIME_LIMIT (seconds; "inf" turns the check off), e.g. on a sweep's workers.
TIME_LIMIT_S = 1800.0


def time_limit() -> float:
    """Seconds a call may be estimated to take: ``$STABILITY_TIME_LIMIT`` when set, else :data:`TIME_LIMIT_S`."""
    import os

    raw = os.environ.get("STABILITY_TIME_LIMIT")
    if raw is None:
        return TIME_LIMIT_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise InputError(f"STABILITY_TIME_LIMIT must be a number of seconds > 0 (or inf), got {raw!r}")
    return value


def format_seconds(s: float) -> str:
    """``5400`` -> ``'1.5 hours'``.

    >>> format_seconds(90), format_seconds(5400), format_seconds(3e6)
    ('90 s', '1.5 hours', '34.7 days')
    """
    if s < 600:
        return f"{s:.3g} s"
    if s < 2 * 86400:
        return f"{s / 3600:.3g} hours"
    return f"{s / 86400:.3g} days"


def check_time(seconds: float, what: str, fix: str, param: str | None = None) -> None:
    """Raise :class:`TimeEstimateError` when the estimated ``seconds`` exceed :func:`time_limit`.

    ``what`` says what would run, ``fix`` which argument to lower (``param``, when it is one).
    Estimates are per core and on the fast side (a busy machine is slower), so what is refused
    cannot finish within the limit.
    """
    limit = time_limit()
    if seconds > limit:
        raise TimeEstimateError(
            f"{what} would take about {format_seconds(seconds)} (estimated), more than the limit of "
            f"{format_seconds(limit)}: {fix} (or raise the limit: STABILITY_TIME_LIMIT=seconds)",
            param=param,
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
