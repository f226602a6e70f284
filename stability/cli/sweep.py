"""``stability sweep SPEC.toml``: run a grid of tasks on dask and record every finished task.

::

    stability sweep examples/sweeps/simulate.toml                    # LocalCluster, one worker per core
    stability sweep spec.toml --local 4                              # 4 local worker processes
    stability sweep spec.toml --scheduler tcp://HOST:8786            # an existing dask scheduler
    stability sweep spec.toml --serial                               # in this process, no dask
    stability sweep spec.toml --dry-run [--json]                     # count tasks, estimate the cost

Re-running a spec skips the tasks already done and retries the failed ones. Exit status: 0 when
every task is done, 1 when some task failed, 2 for a malformed spec or bad arguments, 130 when
interrupted (the finished tasks are kept); 1 also for a missing dask or an unreachable scheduler.
``--json`` prints one object with ``done``, ``skipped``, ``failed``, ``seconds``,
``store`` (and ``tasks``, ``interrupted``, ``failures``).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

from .._domains import Interval
from ._options import add_json, integer

__all__ = ["add_parser", "register", "run"]

_POSITIVE = Interval(1, integer=True)


def _line(summary) -> str:
    state = " (interrupted)" if summary.interrupted else ""
    return (
        f"{summary.done} done, {summary.skipped} skipped, {summary.failed} failed of {summary.tasks} tasks "
        f"in {summary.seconds:.1f} s{state}; store: {summary.store}"
    )


def run(args) -> int:
    from .._jsonable import jsonable
    from ..sweeps.engine import check_size, estimate_cost, run_sweep
    from ..sweeps.spec import load_spec
    from ..sweeps.store import read_store

    spec = load_spec(args.spec, resolve=not args.dry_run)  # a dry run does not import a module:function task
    if args.dry_run:
        check_size(spec)
        done, seconds = read_store(spec.store, spec.task)  # read-only: a dry run writes nothing anywhere
        pending = sum(t.task_id not in done for t in spec.tasks)
        cost, basis = estimate_cost(spec, pending, seconds)
        out = {
            "tasks": len(spec.tasks),
            "pending": pending,
            "skipped": len(spec.tasks) - pending,
            "estimated_task_seconds": cost,
            "estimate": basis,
            "store": str(spec.store),
        }
        if args.json:
            print(json.dumps(jsonable(out)))
        else:
            print(f"{spec.task}: {len(spec.tasks)} tasks, {pending} to run, {out['skipped']} already done")
            if cost is None:
                print(f"estimated cost: {basis}")
            else:
                print(f"estimated cost: ~{cost:.3g} task-seconds ({basis}); divide by the number of workers")
            print(f"store: {spec.store}")
            if ":" in spec.task:
                print("the task's module was not imported (dry run): its arguments are checked when the sweep runs")
        return 0

    def on_term(signum, frame):  # SIGTERM stops like Ctrl-C: close the cluster, keep what finished
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        summary = run_sweep(
            spec,
            workers=args.local,
            scheduler=args.scheduler,
            serial=args.serial,
            chunk=args.chunk,
            progress=not args.json and sys.stderr.isatty(),
        )
    except OSError as err:  # exit status 1 (a run that failed), like a missing dask (ImportError)
        if args.scheduler is None:
            raise
        raise OSError(f"--scheduler: cannot reach {args.scheduler} ({err})") from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        print(json.dumps(jsonable(summary.to_dict())))
    else:
        for f in summary.failures:
            print(f"failed {f['task_id']} {json.dumps(jsonable(f['args']))} replicate {f['replicate']}: {f['error']}")
        print(_line(summary))
    if summary.interrupted:
        return 130
    return 1 if summary.failed else 0


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "sweep",
        help="run a grid of analyze / simulate / retrain tasks on dask, resumable",
        description="Expand a TOML sweep spec into tasks, run those not yet done on dask.distributed "
        "(a LocalCluster by default, any scheduler by address) and record each finished task in the "
        "spec's SQLite store. Re-running skips finished tasks and retries failed ones.",
    )
    p.add_argument("spec", help="the sweep spec (TOML); see examples/sweeps/")
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--local",
        type=integer("--local", _POSITIVE),
        metavar="N",
        help="N local worker processes (default: one per core)",
    )
    where.add_argument("--scheduler", metavar="ADDRESS", help="address of a running dask scheduler, tcp://HOST:8786")
    where.add_argument("--serial", action="store_true", help="run in this process, in order, without dask")
    p.add_argument(
        "--chunk",
        type=integer("--chunk", _POSITIVE),
        metavar="K",
        help="tasks per dask task (default: pending / (50 x workers), 1 to 100)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the number of tasks and an estimated cost")
    add_json(p, "print one JSON object (no progress bar)")
    p.set_defaults(func=run)
    return p


register = add_parser  # the name stability.cli._main looks for
