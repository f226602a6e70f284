"""The results store of a sweep: one SQLite file, one row per task, written by the driver only.

Why SQLite and not Parquet: it is in the standard library (no new dependency for reading results),
every row is committed in a transaction as its task finishes (a killed driver leaves a consistent
file that holds every committed row; WAL journal), a row can be updated in place (a failed task that
succeeds on the next run), and readers can open it while a sweep is writing. Parquet files are
immutable: appending one row at a time means one file per row or rewriting the file. The rows are
small (arguments and a few numbers), so a columnar format buys nothing here; :func:`load` gives
columns as numpy arrays (or a pandas DataFrame) when wanted.

Table ``results`` (one row per task id)::

    task_id TEXT PRIMARY KEY   first 16 hex digits of SHA-256 of {task, args, replicate, seed}
    task, args (JSON), replicate, sweep_seed, seed (the task's derived seed, NULL when it takes none)
    status  'done' | 'failed'
    metrics (JSON, NULL when failed), error (one line), traceback
    seconds (wall time of the task on its worker), host, version, git_commit, finished_at (UTC ISO)
    attempts (how many times a result was recorded for this id: a failure then a success is 2)

A ``done`` row is never overwritten; a ``failed`` row is replaced by the next attempt's result.
"""

from __future__ import annotations

import json
import math
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["COLUMNS", "ResultStore", "load"]

SCHEMA_VERSION = 1
COLUMNS = (
    "task_id",
    "task",
    "args",
    "replicate",
    "sweep_seed",
    "seed",
    "status",
    "metrics",
    "error",
    "traceback",
    "seconds",
    "host",
    "version",
    "git_commit",
    "finished_at",
    "attempts",
)
_CREATE = """
CREATE TABLE IF NOT EXISTS results (
    task_id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    args TEXT NOT NULL,
    replicate INTEGER NOT NULL,
    sweep_seed INTEGER NOT NULL,
    seed INTEGER,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    metrics TEXT,
    error TEXT,
    traceback TEXT,
    seconds REAL,
    host TEXT,
    version TEXT,
    git_commit TEXT,
    finished_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_UPSERT = f"""
INSERT INTO results ({", ".join(COLUMNS)}) VALUES ({", ".join("?" * len(COLUMNS))})
ON CONFLICT(task_id) DO UPDATE SET
    status = excluded.status, metrics = excluded.metrics, error = excluded.error,
    traceback = excluded.traceback, seconds = excluded.seconds, host = excluded.host,
    version = excluded.version, git_commit = excluded.git_commit, finished_at = excluded.finished_at,
    attempts = results.attempts + 1
WHERE results.status != 'done'
"""


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, allow_nan=True)


class ResultStore:
    """A sweep's SQLite store, opened by the driver (the only writer)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        # WAL: a commit is in the log before it returns, so killing the process loses no committed
        # row; synchronous=NORMAL skips an fsync per commit (only a power cut could lose the last rows).
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(_CREATE)
        got = self.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if got is None:
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(got[0]) != SCHEMA_VERSION:
            raise ValueError(f"store {str(self.path)!r} has schema {got[0]}, this version reads {SCHEMA_VERSION}")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def done_ids(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT task_id FROM results WHERE status = 'done'")}

    def seconds(self, task: str) -> list[float]:
        """Wall times of the finished tasks of kind ``task`` (the dry run's cost estimate)."""
        rows = self.conn.execute("SELECT seconds FROM results WHERE status = 'done' AND task = ?", (task,))
        return [r[0] for r in rows if r[0] is not None]

    def write(self, records) -> None:
        """Record finished tasks (dicts with :data:`COLUMNS` keys but ``attempts``) in one transaction."""
        rows = []
        for rec in records:
            row = dict(rec, attempts=1)
            row["args"] = _dumps(row["args"])
            row["metrics"] = None if row.get("metrics") is None else _dumps(row["metrics"])
            rows.append(tuple(row.get(c) for c in COLUMNS))
        if not rows:
            return
        with self.conn:  # BEGIN ... COMMIT (ROLLBACK on error)
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(_UPSERT, rows)


def _row(values) -> dict:
    row = dict(zip(COLUMNS, values, strict=True))
    row["args"] = json.loads(row["args"])
    row["metrics"] = None if row["metrics"] is None else json.loads(row["metrics"])
    return row


def load(store, status: str | None = "done", task: str | None = None, as_: str = "rows") -> list | dict | Any:
    """The rows of a sweep store.

    ``status``: ``"done"`` (default), ``"failed"`` or ``None`` (all); ``task``: only this task kind.
    ``as_``:

    - ``"rows"``: a list of dicts with the keys of :data:`COLUMNS`; ``args`` and ``metrics`` are dicts;
    - ``"columns"``: a dict of numpy arrays, one per column: ``task_id``, ``replicate``, ``seed``,
      ``status``, ``seconds``, then every argument and every metric by its own name (a metric named
      like an argument becomes ``metrics.NAME``); numbers give float arrays (NaN where missing),
      anything else an object array; ``seed`` is an int64 array (-1 for tasks that take no seed);
    - ``"pandas"``: the columns as a ``pandas.DataFrame`` (needs pandas).

    Rows come in ``task_id`` order, which does not depend on the order tasks ran.
    """
    path = Path(store)
    if not path.is_file():
        raise ValueError(f"store: no such file {str(path)!r}")
    if status not in ("done", "failed", None):
        raise ValueError(f"status must be 'done', 'failed' or None, got {status!r}")
    if as_ not in ("rows", "columns", "pandas"):
        raise ValueError(f"as_ must be 'rows', 'columns' or 'pandas', got {as_!r}")
    where, params = [], []
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if task is not None:
        where.append("task = ?")
        params.append(task)
    sql = f"SELECT {', '.join(COLUMNS)} FROM results"
    sql += (" WHERE " + " AND ".join(where)) if where else ""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        rows = [_row(v) for v in conn.execute(sql + " ORDER BY task_id", params)]
    if as_ == "rows":
        return rows
    cols = _columns(rows)
    if as_ == "columns":
        return cols
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("load(..., as_='pandas') needs pandas: pip install pandas") from None
    return pd.DataFrame({k: list(v) if v.dtype == object else v for k, v in cols.items()})


def _columns(rows) -> dict:
    names = ["task_id", "replicate", "seed", "status", "seconds"]
    arg_names = list(dict.fromkeys(k for r in rows for k in r["args"]))
    metric_names = list(dict.fromkeys(k for r in rows for k in (r["metrics"] or {})))
    cells = {n: [r[n] for r in rows] for n in names}
    for k in arg_names:
        cells[k] = [r["args"].get(k) for r in rows]
    for k in metric_names:
        cells[k if k not in cells else f"metrics.{k}"] = [(r["metrics"] or {}).get(k) for r in rows]
    out = {}
    for k, values in cells.items():
        numeric = all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values)
        if numeric and k != "seed" and any(v is not None for v in values):
            out[k] = np.array([math.nan if v is None else v for v in values], dtype=float)
        elif k == "seed":
            out[k] = np.array([-1 if v is None else v for v in values], dtype=np.int64)
        else:
            arr = np.empty(len(values), dtype=object)
            arr[:] = values
            out[k] = arr
    return out
