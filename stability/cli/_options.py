"""Options shared by the commands: one spelling, one parser and one error message per option.

Every value is checked while the command line is parsed, with the library's domain
(:data:`stability._domains.DOMAINS`), so a bad value exits with status 2 and one line naming the
flag as the user wrote it::

    stability simulate: error: --generations must be an integer >= 0, got 2.5

Integer options accept ``1000`` and ``1e3`` (an exact integer written in scientific notation) and
refuse ``2.5``. Old spellings stay accepted as hidden aliases (``--d`` for ``--dim``).

Every option's ``dest`` is the name of the library parameter it sets (``--lambda`` sets ``lambda_``,
``--synthetic-weight`` sets ``synthetic_weight``). A library error about a parameter carries its name
(:attr:`stability.errors.StabilityError.param`), so the command line says which flag set it,
argparse's way, without reading the message::

    stability simulate: error: argument --real-fraction: real_fraction must satisfy floor(real_fraction * n) >= 1 ...
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence

import numpy as np

from .._domains import DOMAINS, Interval, check

__all__ = [
    "Parser",
    "add_device",
    "add_dim",
    "add_json",
    "add_lambda",
    "add_out",
    "add_quiet",
    "add_seed",
    "flag_typed",
    "integer",
    "number",
    "option_names",
    "parse_integer",
    "progress",
]

SEED = Interval(0.0, integer=True)  # numpy.random.default_rng takes non-negative integers


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (and exit status 2)."""

    def error(self, message: str) -> None:  # argparse API
        # "argument --n: --n must be ..." -> "--n must be ..." (our value checks name the flag)
        head, _, rest = message.partition(": ")
        if head.startswith("argument ") and rest.startswith(head.removeprefix("argument ") + " "):
            message = rest
        self.exit(2, f"{self.prog}: error: {message}\n")


def parse_integer(text: str) -> int:
    """An exact integer from ``"1000"``, ``"-3"`` or ``"1e3"``; ``ValueError`` for ``"2.5"``, ``"x"``, ``"inf"``.

    >>> parse_integer("1e3"), parse_integer("-7"), parse_integer("12345678901234567890")
    (1000, -7, 12345678901234567890)
    """
    try:
        return int(text)
    except ValueError:
        pass
    x = float(text)  # ValueError for non-numbers
    if not math.isfinite(x) or x != math.floor(x):
        raise ValueError(f"not an integer: {text!r}")
    return int(x)


def integer(flag: str, domain: Interval | None = None) -> Callable[[str], int]:
    """An argparse ``type`` parsing an integer option and checking it lies in ``domain``."""

    def parse(text: str) -> int:
        kind = domain.describe() if domain is not None else "an integer"
        try:
            value = parse_integer(text)
        except ValueError:
            try:
                got = repr(float(text))  # a number, but not an integer: 2.5
            except ValueError:
                got = repr(text)
            raise argparse.ArgumentTypeError(f"{flag} must be {kind}, got {got}") from None
        if domain is not None and not domain.contains(np.asarray(float(value))):
            raise argparse.ArgumentTypeError(f"{flag} must be {kind}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def number(flag: str, domain: Interval | None = None) -> Callable[[str], float]:
    """An argparse ``type`` parsing a real option (``inf`` and ``nan`` are numbers) and checking its domain."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
        if domain is not None:
            _check(flag, value, domain)
        return value

    parse.__name__ = "float"
    return parse


def _check(flag: str, value: float, domain: Interval) -> None:
    try:
        check(flag, value, domain)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def option_names(parser: argparse.ArgumentParser) -> dict[str, tuple[str, ...]]:
    """Library parameter (an argument's ``dest``) -> its names on the command line, the documented one
    first (``{"dim": ("--dim", "--d"), "family": ("family",)}``; a positional is named by its metavar)."""
    names: dict[str, list[str]] = {}
    for action in parser._actions:  # argparse keeps no public list of a parser's arguments
        if action.dest in (argparse.SUPPRESS, "help"):
            continue
        spelled = list(action.option_strings) or [action.metavar or action.dest]
        shown = names.setdefault(action.dest, [])
        if action.help == argparse.SUPPRESS:  # a hidden alias goes last
            shown.extend(spelled)
        else:
            shown[:0] = spelled
    return {dest: tuple(spelled) for dest, spelled in names.items()}


def flag_typed(names: Sequence[str], argv: Sequence[str]) -> str:
    """The one of ``names`` the user typed in ``argv`` (``--d`` for the old spelling), else the first.

    >>> flag_typed(("--dim", "--d"), ["--n", "3", "--d=2"]), flag_typed(("--dim", "--d"), [])
    ('--d', '--dim')
    """
    for name in names:
        if any(arg == name or arg.startswith(name + "=") for arg in argv):
            return name
    return names[0]


def add_lambda(p: argparse.ArgumentParser, help: str = "synthetic-to-real ratio, >= 0", **kw) -> None:
    """``--lambda``: the synthetic-to-real ratio (``args.lambda_``)."""
    p.add_argument(
        "--lambda", dest="lambda_", metavar="LAMBDA", type=number("--lambda", DOMAINS["lambda_"]), help=help, **kw
    )


def add_dim(p: argparse.ArgumentParser, help: str, default: int | None = None, dest: str = "dim") -> None:
    """``--dim`` (hidden alias ``--d``): the dimension, ``args.<dest>`` (the library parameter: ``dim``
    for :func:`~stability.dynamics.simulate`, ``d`` for :func:`~stability.analyze`)."""
    p.add_argument("--dim", dest=dest, type=integer("--dim", DOMAINS["d"]), default=default, help=help)
    p.add_argument(
        "--d", dest=dest, type=integer("--d", DOMAINS["d"]), default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )


def add_seed(p: argparse.ArgumentParser, help: str, default: int | None = None) -> None:
    """``--seed``: a non-negative integer seed (``args.seed``)."""
    p.add_argument("--seed", type=integer("--seed", SEED), default=default, help=help)


def add_json(p: argparse.ArgumentParser, help: str = "print one JSON object (implies --quiet)") -> None:
    """``--json``: machine-readable output on stdout; no progress bars."""
    p.add_argument("--json", action="store_true", help=help)


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bars (they go to stderr, and only when it is a terminal)."""
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def progress(args: argparse.Namespace) -> bool:
    """Whether to show progress bars: not with ``--quiet`` nor ``--json``."""
    return not (getattr(args, "quiet", False) or getattr(args, "json", False))


def add_device(p: argparse.ArgumentParser) -> None:
    """``--device``: a torch device name."""
    p.add_argument("--device", help="torch device (cpu, cuda, cuda:1, ...); default cpu")


def add_out(p: argparse.ArgumentParser, help: str, required: bool = False) -> None:
    """``--out``: where results are written."""
    p.add_argument("--out", required=required, help=help)
