"""Run a sweep's tasks on ``dask.distributed`` (or serially in-process) and record each as it finishes.

The driver expands the spec, skips the tasks already ``done`` in the store, submits the rest to a
dask scheduler (a :class:`~distributed.LocalCluster` of single-threaded worker processes on the
loopback interface, or any scheduler by address) and writes every result to the store in one
transaction as soon as it arrives. A task that raises is recorded as ``failed`` with its error and
does not stop the others; it runs again on the next run. Killing the driver loses only the tasks in
flight. Each task's seed depends only on the spec's seed and the task's id
(:func:`~stability.sweeps.spec.task_seed`), so the numbers do not depend on the order the tasks
ran in or on the number of workers.

dask is imported only here and only when a cluster is used: install it with
``pip install 'stability[distributed]'``.
"""

from __future__ import annotations

import datetime
import functools
import os
import socket
import sys
import time
import traceback
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import MemoryEstimateError, error_name, format_bytes
from .spec import Spec, Task, jsonable_metrics
from .store import ResultStore

if TYPE_CHECKING:
    import distributed

__all__ = [
    "MAX_TASKS",
    "SweepSummary",
    "check_size",
    "estimate_cost",
    "execute",
    "execute_many",
    "import_distributed",
    "local_cluster",
    "run_sweep",
]


def import_distributed() -> types.ModuleType:
    """``dask.distributed``, or an ImportError that names the extra to install."""
    try:
        import distributed
    except ImportError:
        raise ImportError(
            "sweeps on a cluster need dask.distributed: pip install 'stability[distributed]' "
            "(or run serially with --serial)"
        ) from None
    return distributed


@dataclass
class SweepSummary:
    """What a run of a sweep did."""

    tasks: int
    done: int = 0
    skipped: int = 0
    failed: int = 0
    seconds: float = 0.0
    store: str = ""
    interrupted: bool = False
    failures: list = field(default_factory=list)  # {"task_id", "args", "replicate", "error"}

    def to_dict(self) -> dict:
        return {
            "done": self.done,
            "skipped": self.skipped,
            "failed": self.failed,
            "seconds": self.seconds,
            "store": self.store,
            "tasks": self.tasks,
            "interrupted": self.interrupted,
            "failures": self.failures,
        }


# The largest sweep run_sweep accepts. Each task costs the engine ~1-4 ms (dask scheduling, the store's
# transaction) and ~1 KiB of store before it computes anything, and the driver keeps the pending
# tasks in memory (~2 KiB each): 10^7 tasks are ~3-10 hours of overhead, ~10 GiB of store and ~20 GiB
# of driver memory. Larger grids are refused with these estimates; split them into several specs.
MAX_TASKS = 10**7
_TASK_OVERHEAD_S = 1.2e-3  # measured: 1.2 ms of driver CPU per task with chunking (benchmarks/bench_sweeps.py)
_ROW_BYTES = 1024
_PENDING_BYTES = 2048


def check_size(spec: Spec, max_tasks: int | None = None) -> None:
    """Refuse a sweep with more than ``max_tasks`` tasks (default :data:`MAX_TASKS`), before any task
    is built or any file written, with the estimated overhead (:class:`~stability.errors.MemoryEstimateError`)."""
    limit = MAX_TASKS if max_tasks is None else max_tasks
    n = len(spec.tasks)
    if n > limit:
        raise MemoryEstimateError(
            f"the sweep has {n:,} tasks, more than the {limit:,} a sweep may have: before any task computes, "
            f"that is about {n * _TASK_OVERHEAD_S / 3600:.3g} hours of engine overhead, "
            f"{format_bytes(n * _ROW_BYTES)} of store and {format_bytes(n * _PENDING_BYTES)} of driver memory; "
            "split the grid into several specs (or raise stability.sweeps.engine.MAX_TASKS)"
        )


# ---------------------------------------------------------------- on the worker


@functools.cache
def _provenance() -> tuple[str, str, str | None]:
    """``(host, package version, git commit)`` of this process (:func:`stability._io.git_commit`)."""
    from .. import __version__
    from .._io import git_commit

    return socket.gethostname(), __version__, git_commit()


def _function(task: str):
    from . import tasks

    if task == "simulate":
        return tasks.run_simulate
    if task == "analyze":
        return tasks.run_analyze
    if task == "retrain":
        return tasks.run_retrain
    if task == "retrain_chains":
        return tasks.run_retrain_chains
    from .spec import _resolve_callable

    return _resolve_callable(task)


def execute(payload: dict) -> dict:
    """Run one task (on a worker) and return its store record; exceptions become a ``failed`` record."""
    start = time.perf_counter()
    kwargs = dict(payload["args"])
    if payload["seed_arg"]:
        kwargs[payload["seed_arg"]] = payload["seed"]
    if payload["task"] == "retrain":
        kwargs.update(workdir=payload["workdir"], task_id=payload["task_id"])
    elif payload["task"] in ("analyze", "retrain_chains"):
        kwargs["base_dir"] = payload["base_dir"]
    try:
        metrics = jsonable_metrics(_function(payload["task"])(**kwargs))
        status, error, tb = "done", None, None
    except Exception as err:  # recorded, never hidden: the row says what failed and why
        metrics, status = None, "failed"
        error = f"{error_name(err)}: {err}".splitlines()[0]
        tb = traceback.format_exc()
    except SystemExit as err:  # sys.exit() in a task ends the task, not the sweep (nor silently with 0)
        metrics, status = None, "failed"
        error = f"SystemExit: the task called sys.exit({err.code!r}) instead of returning its metrics"
        tb = traceback.format_exc()
    host, version, commit = _provenance()
    return {
        **{k: payload[k] for k in ("task_id", "task", "args", "replicate", "sweep_seed", "seed")},
        "inputs": payload.get("inputs") or {},
        "status": status,
        "metrics": metrics,
        "error": error,
        "traceback": tb,
        "seconds": time.perf_counter() - start,
        "host": host,
        "version": version,
        "git_commit": commit,
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def execute_many(payloads: list) -> list:
    """Run several tasks in a row on one worker (a chunk): a list of store records."""
    return [execute(p) for p in payloads]


def _base_dir(spec: Spec) -> str | None:
    return str(spec.source.resolve().parent) if spec.source is not None else None


def _payload(spec: Spec, t: Task, base_dir: str | None) -> dict:
    return {
        "task_id": t.task_id,
        "task": t.task,
        "args": t.args,
        "replicate": t.replicate,
        "sweep_seed": t.sweep_seed,
        "seed": t.seed,
        "seed_arg": t.seed_arg,
        "inputs": t.inputs,
        "workdir": str(spec.workdir),
        "base_dir": base_dir,
    }


# ---------------------------------------------------------------- the driver


def estimate_cost(spec: Spec, pending: int, store_seconds: list[float]) -> tuple[float | None, str]:
    """Estimated task-seconds for ``pending`` tasks and how it was estimated.

    From the median wall time of this task kind's finished rows in the store when there are any;
    otherwise a rough model for ``simulate`` (seconds per chain-generation, measured on one core);
    otherwise unknown.
    """
    if store_seconds:
        med = sorted(store_seconds)[len(store_seconds) // 2]
        return pending * med, f"median of {len(store_seconds)} finished tasks in the store ({med:.3g} s each)"
    if spec.task == "simulate":
        # exact method: ~1 us per chain-generation in 1-D, ~d^2 growth; naive: ~20 ns per point drawn (1 core)
        total = 0.0
        tasks = spec.tasks
        step = max(1, len(tasks) // 10_000)  # an even sample of at most 10^4 tasks: a huge grid is not built
        sample = [tasks[i] for i in range(0, len(tasks), step)]
        for t in sample:
            a = t.args
            d = int(a.get("dim") or len((a.get("data") or {}).get("mean", [0])) or 1)
            cg = float(a.get("chains", 1)) * float(a.get("generations", 0))
            if a.get("method", "exact") == "naive":
                lam = float(a.get("lambda_", 0.0))
                pts = float(a.get("n", 2)) * (1 + (lam if lam != float("inf") else 0))
                total += 2e-8 * cg * pts * d * d + 5e-3
            else:
                total += 1e-6 * cg * d * d + 5e-3
        return total * pending / max(1, len(sample)), "rough model of simulate's cost (no finished tasks yet)"
    return None, "unknown until some tasks have finished (the estimate then uses their wall times)"


def _progress_bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, desc="tasks", unit="task", file=sys.stderr)


def run_sweep(
    spec: Spec,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    serial: bool = False,
    progress: bool = False,
    client=None,
    chunk: int | None = None,
) -> SweepSummary:
    """Run the pending tasks of ``spec`` and record them in its store.

    ``serial``: in this process, in task order, without dask. Otherwise on ``client`` (a
    ``distributed.Client``), or on the scheduler at ``scheduler`` (``tcp://host:8786``), or on a new
    ``LocalCluster`` of ``workers`` single-threaded processes (default: one per core) bound to
    127.0.0.1. ``chunk``: tasks per dask task (> 1 amortises the engine's few milliseconds per task
    over tiny tasks; results are still recorded as each chunk finishes); ``None``: :func:`auto_chunk`.
    ``KeyboardInterrupt`` (Ctrl-C, or SIGTERM through the command line) stops the run: finished
    tasks are kept, the summary says ``interrupted``.
    """
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise ValueError(f"chunk must be an integer >= 1, got {chunk!r}")
    check_size(spec)
    start = time.perf_counter()
    summary = SweepSummary(tasks=len(spec.tasks), store=str(spec.store))
    with ResultStore(spec.store) as store:  # refuses a foreign file, and a store another driver holds
        store.set_spec(spec.identity())
        done = store.done_ids()
        pending = [t for t in spec.tasks if t.task_id not in done]
        summary.skipped = len(spec.tasks) - len(pending)
        bar = _progress_bar(len(spec.tasks), summary.skipped, progress)

        def record(records):
            store.write(records)
            for rec in records:
                if rec["status"] == "done":
                    summary.done += 1
                else:
                    summary.failed += 1
                    summary.failures.append(
                        {k: rec[k] for k in ("task_id", "args", "replicate", "error")} | {"seed": rec["seed"]}
                    )
            if bar is not None:
                bar.update(len(records))

        try:
            if not pending:
                pass
            elif serial:
                for t in pending:
                    record([execute(_payload(spec, t, _base_dir(spec)))])
            else:
                _run_distributed(spec, pending, record, workers, scheduler, client, chunk)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            if bar is not None:
                bar.close()
    summary.seconds = time.perf_counter() - start
    return summary


def local_cluster(workers: int | None = None) -> distributed.LocalCluster:
    """A ``LocalCluster`` of ``workers`` single-threaded worker processes, everything on 127.0.0.1."""
    import logging

    distributed = import_distributed()
    n = workers if workers is not None else (os.cpu_count() or 1)
    return distributed.LocalCluster(
        n_workers=n,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",  # loopback only, any free port (None falls back to :8787)
        silence_logs=logging.CRITICAL,  # a worker's heartbeat error at shutdown is noise
    )


def _run_distributed(spec, pending, record, workers, scheduler, client, chunk) -> None:
    distributed = import_distributed()
    own_cluster = own_client = None
    try:
        if client is None:
            if scheduler is None:
                own_cluster = local_cluster(workers)
            own_client = client = distributed.Client(own_cluster if own_cluster is not None else scheduler)
        if chunk is None:
            chunk = auto_chunk(len(pending), len(client.scheduler_info().get("workers", {})))
        nonce = os.urandom(4).hex()  # keys unique to this run on a shared, long-lived scheduler
        base_dir = _base_dir(spec)
        payloads = [_payload(spec, t, base_dir) for t in pending]
        chunks = [payloads[i : i + chunk] for i in range(0, len(payloads), chunk)]
        keys = [f"sweep-{c[0]['task_id']}-{len(c)}-{nonce}" for c in chunks]
        futures = client.map(execute_many, chunks, key=keys, pure=False)
        by_key = {f.key: c for f, c in zip(futures, chunks, strict=True)}
        ac = distributed.as_completed(futures)
        try:
            for batch in ac.batches():  # the futures that finished since the last batch
                finished = [f for f in batch if f.status == "finished"]
                records = [r for rs in (client.gather(finished) if finished else []) for r in rs]  # one round trip
                # a worker that died (KilledWorker) or a lost task: each of its tasks recorded as failed
                records += [_lost(p, f.exception()) for f in batch if f.status != "finished" for p in by_key[f.key]]
                for f in batch:
                    f.release()
                record(records)
        except BaseException:
            client.cancel(futures)
            raise
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


def auto_chunk(pending: int, workers: int) -> int:
    """Tasks per dask task when not given: ``pending // (50 * workers)``, between 1 and 100.

    Each worker then gets about 50 chunks or more (the load stays balanced and a killed driver loses
    at most ``workers`` chunks, about 2% of what was pending), while a grid of thousands of tiny
    tasks pays the engine's few milliseconds once per chunk.

    >>> auto_chunk(20, 2), auto_chunk(1000, 2), auto_chunk(10**6, 16)
    (1, 10, 100)
    """
    return max(1, min(100, pending // (50 * max(1, workers))))


def _lost(payload: dict, exc) -> dict:
    return {
        **{k: payload[k] for k in ("task_id", "task", "args", "replicate", "sweep_seed", "seed")},
        "inputs": payload.get("inputs") or {},
        "status": "failed",
        "metrics": None,
        "error": f"{error_name(exc)}: {exc}".splitlines()[0],
        "traceback": None,
        "seconds": None,
        "host": None,
        "version": None,
        "git_commit": None,
        "finished_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
