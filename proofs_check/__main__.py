"""``python -m proofs_check``: run the checks and print the table; exit 1 if any check fails.

Options: ``--list`` (names, steps and methods, nothing run), ``--only NAME`` (a check, or a result
such as ``theorem1``), ``--markdown [FILE]`` (write the report as a markdown table to FILE, or to
standard output when FILE is omitted).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time

from . import REGISTRY, run, select
from .registry import Report

__all__ = ["main", "markdown_table", "text_table"]

HEADERS = ("result", "check", "step", "method", "status", "residual / worst case", "s")


def _rows(reports: list[Report]) -> list[tuple[str, ...]]:
    return [
        (r.check.result, r.check.name.split(".", 1)[1], r.check.step, r.method, r.status, r.outcome.detail,
         f"{r.seconds:.2f}")
        for r in reports
    ]  # fmt: skip


def text_table(reports: list[Report], width: int = 110) -> str:
    """A plain-text table: one block per check, one line per sub-step of its residuals / worst cases."""
    lines = []
    for res, name, step, method, status, detail, secs in _rows(reports):
        lines.append(f"[{status}] {res}.{name}  ({method}, {secs} s)")
        lines.append(f"    step: {step}")
        for part in detail.split("; "):
            lines.extend(textwrap.wrap(part, width, initial_indent="    - ", subsequent_indent="      "))
    return "\n".join(lines)


def markdown_table(reports: list[Report]) -> str:
    """The report as a markdown table (pipes in cells escaped)."""

    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in _rows(reports)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m proofs_check", description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="list the checks and exit")
    parser.add_argument("--only", metavar="NAME", help="run one check, or every check of a result (e.g. theorem1)")
    parser.add_argument("--markdown", nargs="?", const="-", metavar="FILE", help="write a markdown table")
    args = parser.parse_args(argv)
    try:
        checks = select(args.only)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.list:
        for c in checks:
            print(f"{c.name:45s} {c.method:24s} {c.step}")
        print(f"{len(checks)} of {len(REGISTRY)} checks")
        return 0
    t0 = time.perf_counter()
    reports = run(checks)
    total = time.perf_counter() - t0
    failed = [r for r in reports if not r.outcome.passed]
    if args.markdown == "-":
        print(markdown_table(reports))
    else:
        print(text_table(reports))
        if args.markdown:
            with open(args.markdown, "w", encoding="utf-8") as fh:
                fh.write(markdown_table(reports) + "\n")
    print(f"\n{len(reports) - len(failed)}/{len(reports)} checks passed in {total:.1f} s", file=sys.stderr)
    for r in failed:
        print(f"FAIL {r.check.name}: {r.outcome.detail}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
