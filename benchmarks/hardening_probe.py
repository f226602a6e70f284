"""Count tracebacks, unclear messages and silent acceptances over the invalid-input table (issue 11).

    OMP_NUM_THREADS=1 python -m benchmarks.hardening_probe [--verbose]

Runs every case of ``tests/invalid_inputs.py`` in this process (the CLI through
``stability.cli.main``, the API directly), with the address space capped at 6 GiB so that an
unbounded allocation fails instead of swapping, and a 60 s alarm per case. A CLI case is

- ``traceback``: an exception escaped ``main`` or a ``Traceback`` was printed;
- ``accepted``: exit status 0 (an invalid input gave a result);
- ``unclear``: the wrong exit status, more than one line, or a message not matching the table;
- ``clear`` otherwise. API cases: ``unclear`` for another exception type or message,
  ``accepted`` for no exception.
"""

from __future__ import annotations

import contextlib
import io
import re
import resource
import signal
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.invalid_inputs import api_cases, cli_cases  # noqa: E402


class _Alarm(Exception):
    pass


def _alarm(signum, frame):
    raise _Alarm("timed out")


def run_cli(case):
    from stability.cli import main

    err, out = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = main(list(case.argv))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException as e:  # noqa: BLE001 - counting what escapes
        return "traceback", f"{type(e).__name__}: {str(e)[:150]}"
    text = err.getvalue()
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if "Traceback" in text:
        return "traceback", lines[-1] if lines else ""
    if code == 0:
        return "accepted", out.getvalue()[:100]
    msg = lines[-1] if lines else ""
    usage = [ln for ln in lines if not ln.startswith("usage:") and not ln.startswith(" ")]
    if code != case.code or len(usage) != 1 or not re.search(case.match, msg):
        return "unclear", f"[exit {code}] {msg[:200]}"
    return "clear", msg


def run_api(case):
    try:
        case.call()
    except BaseException as e:  # noqa: BLE001
        if isinstance(e, _Alarm):
            return "traceback", "timed out"
        msg = str(e).splitlines()[0] if str(e) else ""
        if isinstance(e, case.exc) and re.search(case.match, str(e)):
            return "clear", f"{type(e).__name__}: {msg}"
        return "unclear", f"{type(e).__name__}: {msg[:200]}"
    return "accepted", ""


def main(argv=None) -> int:
    verbose = "--verbose" in (argv or sys.argv[1:])
    cap = 6 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    signal.signal(signal.SIGALRM, _alarm)
    import warnings

    warnings.simplefilter("ignore")
    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, cases, runner in (
            ("cli", cli_cases(Path(tmp) / "cli"), run_cli),
            ("api", api_cases(Path(tmp) / "api"), run_api),
        ):
            c = Counter()
            for case in cases:
                signal.alarm(60)
                try:
                    verdict, msg = runner(case)
                except _Alarm:
                    verdict, msg = "traceback", "timed out"
                except BaseException as e:  # noqa: BLE001
                    verdict, msg = "traceback", "".join(traceback.format_exception_only(e)).strip()
                finally:
                    signal.alarm(0)
                c[verdict] += 1
                if verbose or verdict != "clear":
                    print(f"{kind} {verdict:9s} {case.id}: {msg}", flush=True)
            counts[kind] = c
    print()
    print(f"{'':5s} {'cases':>6s} {'clear':>6s} {'traceback':>9s} {'unclear':>8s} {'accepted':>8s}")
    for kind, c in counts.items():
        total = sum(c.values())
        print(f"{kind:5s} {total:6d} {c['clear']:6d} {c['traceback']:9d} {c['unclear']:8d} {c['accepted']:8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
