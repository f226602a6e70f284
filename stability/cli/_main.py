"""The ``stability`` program: the parser of every command and the error boundary.

Exit status and what is printed:

- 0: success;
- 2: a bad argument, whether argparse or the library found it (:class:`~stability.errors.InputError`
  or any ``ValueError``), in one line ``stability COMMAND: error: ...`` naming the flag as the user
  wrote it: argparse's checks name it themselves; a library error names the parameter (its
  ``param``, which is the ``dest`` of the option that set it) and is shown after
  ``argument FLAG:``, as argparse shows its own errors;
- 1: the run failed (:class:`~stability.errors.RuntimeFailure`: a solver that did not converge, a
  damaged run folder, a memory estimate beyond what is available, an output that cannot be
  written; or ``OSError``, ``MemoryError``, a missing optional package), in one line;
- 130: interrupted (Ctrl-C), in one line;
- anything else is a bug: the traceback, then a line asking to report it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from ..errors import classify
from ._options import Parser, flag_typed, option_names

__all__ = ["COMMANDS", "build_parser", "main"]

# one module per command, each defining ``register(subparsers) -> the command's parser``
COMMANDS = [
    "stability.cli.bound",
    "stability.cli.analyze",
    "stability.cli.simulate",
    "stability.cli.retrain",
    "stability.cli.gpu_validation",
    "stability.cli.sweep",
]


def build_parser() -> argparse.ArgumentParser:
    """The ``stability`` parser with every command of :data:`COMMANDS`."""
    parser = Parser(
        prog="stability",
        description="Bounds, closed forms, simulations and experiments for iterative retraining "
        "of generative models on their own data (Bertrand et al., ICLR 2024).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        p = importlib.import_module(name).register(sub)
        p.set_defaults(option_names=option_names(p))
    return parser


def _say(command: str | None, message: str) -> None:
    prog = "stability" if command is None else f"stability {command}"
    text = " ".join(str(message).split()) or "(no message)"  # one line
    print(f"{prog}: error: {text}", file=sys.stderr)


def _with_flag(err: BaseException, message: str, args: argparse.Namespace, argv: Sequence[str]) -> str:
    """``message`` after ``argument FLAG:`` when ``err`` is about a parameter an option of the command sets."""
    names = getattr(args, "option_names", {}).get(getattr(err, "param", None))
    return f"argument {flag_typed(names, argv)}: {message}" if names else message


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``stability`` with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        _say(None, "a command is required: " + ", ".join(m.rsplit(".", 1)[1] for m in COMMANDS))
        return 2
    command = args.command
    try:
        return int(args.func(args) or 0)
    except BaseException as err:  # noqa: BLE001 - the one error boundary of the command line
        if isinstance(err, SystemExit):
            raise
        known = classify(err)
        if known is None:  # a bug: show everything
            traceback.print_exc()
            print(
                f"stability {command}: internal error (a bug in stability); please report it with the command "
                "line and the traceback above",
                file=sys.stderr,
            )
            return 1
        status, message = known
        if status == 130:
            print(f"stability {command}: interrupted", file=sys.stderr)
        else:
            _say(command, _with_flag(err, message, args, argv))
        return status
