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
Column ``inputs`` (JSON) records, for every argument that names a file, its path and the SHA-256 of
its bytes (part of the task id: editing a data file makes a new task). Table ``meta`` holds the
schema version and ``spec``, the identity of the spec last run on the store (:meth:`Spec.identity
<stability.sweeps.spec.Spec.identity>`): :func:`load` leaves out, with a warning, rows of an earlier
configuration (an edited ``[base]``, a changed grid, an edited data file).

**Recognising its own files.** A store is an SQLite file whose header carries
``PRAGMA application_id`` = :data:`APPLICATION_ID` and ``PRAGMA user_version`` =
:data:`SCHEMA_VERSION`. Before anything is written, the header (the first 100 bytes) is read without
opening the file as a database; any other file (a folder, a text file, random bytes, an SQLite
database of another application, even one with its own ``results`` table) is refused with one line
naming it (:class:`~stability.errors.InputError`, exit status 2) and left byte for byte as it was.
A folder that cannot be written is refused before the file is created
(:class:`~stability.errors.OutputError`). Stores written before the application id existed
(schema 1: tables ``results`` and ``meta`` with ``schema = 1``) are recognised by their tables and
upgraded in place when a sweep runs on them.

**One driver at a time.** A running sweep holds an exclusive ``flock`` on the store file; a second
driver on the same store is refused (:class:`StoreBusyError`) instead of running every task again.
Readers (:func:`load`, ``--dry-run``) take no lock and write nothing.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import sqlite3
import warnings
from contextlib import closing
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, OutputError, RuntimeFailure

__all__ = ["APPLICATION_ID", "COLUMNS", "SCHEMA_VERSION", "ResultStore", "StaleRowsWarning", "StoreBusyError", "load"]

APPLICATION_ID = 0x53544257  # "STBW": the header mark of a stability sweep store
SCHEMA_VERSION = 2
_SQLITE_MAGIC = b"SQLite format 3\x00"
_V1_COLUMNS = (
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
COLUMNS = (*_V1_COLUMNS, "inputs")
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
    attempts INTEGER NOT NULL DEFAULT 1,
    inputs TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_UPSERT = f"""
INSERT INTO results ({", ".join(COLUMNS)}) VALUES ({", ".join("?" * len(COLUMNS))})
ON CONFLICT(task_id) DO UPDATE SET
    status = excluded.status, metrics = excluded.metrics, error = excluded.error,
    traceback = excluded.traceback, seconds = excluded.seconds, host = excluded.host,
    version = excluded.version, git_commit = excluded.git_commit, finished_at = excluded.finished_at,
    inputs = excluded.inputs, attempts = results.attempts + 1
WHERE results.status != 'done'
"""


def _dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True, allow_nan=True)


class StoreBusyError(RuntimeFailure):
    """Another sweep driver is running on the store (it holds the store's lock)."""


class StaleRowsWarning(UserWarning):
    """:func:`load` left out rows written under an earlier configuration of the spec."""


def _header(path: Path, fd: int | None = None) -> bytes:
    if fd is not None:
        return os.pread(fd, 100, 0)
    with open(path, "rb") as f:
        return f.read(100)


def _v1_store(path: Path) -> bool:
    """Whether an SQLite file without the application id is a store of schema 1 (read-only, immutable open)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables != {"results", "meta"}:
                return False
            cols = tuple(r[1] for r in conn.execute("PRAGMA table_info(results)"))
            schema = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    except sqlite3.Error:
        return False
    return cols == _V1_COLUMNS and schema is not None and schema[0] == "1"


def check_store(path, *, fd: int | None = None) -> str:
    """What ``path`` is, read without writing anything: ``"new"`` (no file yet), ``"store"``
    (a store of this version), ``"v1"`` (a store of schema 1, to upgrade); anything else raises
    :class:`~stability.errors.InputError` naming the file (or ``OutputError`` for a folder that
    cannot be written)."""
    path = Path(path)
    name = str(path)
    if path.is_dir():
        raise InputError(f"store {name!r} is a folder, not a sweep store file")
    if not path.exists():
        parent = path.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise OutputError(f"store {name!r}: {str(parent)!r} is not a folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"store {name!r}: cannot create files in folder {str(parent)!r} (permission denied)")
        return "new"
    if not path.is_file():
        raise InputError(f"store {name!r} is not a regular file")
    try:
        head = _header(path, fd)
    except OSError as err:
        raise OutputError(f"store {name!r}: cannot read it ({err.strerror})") from None
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        what = "an empty file" if not head else "not an SQLite file"
        raise InputError(f"store {name!r} is {what}, not a sweep store: give a new file name (nothing was changed)")
    app_id = int.from_bytes(head[68:72], "big", signed=True)
    version = int.from_bytes(head[60:64], "big", signed=True)
    if app_id == APPLICATION_ID:
        if version != SCHEMA_VERSION:
            raise InputError(f"store {name!r} has schema {version}, this version of stability reads {SCHEMA_VERSION}")
        return "store"
    if app_id == 0 and _v1_store(path):
        return "v1"
    raise InputError(
        f"store {name!r} is an SQLite database of another application (application_id {app_id}), not a sweep "
        "store: give a new file name (nothing was changed)"
    )


class ResultStore:
    """A sweep's SQLite store, opened by the driver (the only writer), under an exclusive lock.

    The file is checked (:func:`check_store`) before anything is written, and created only when it
    does not exist. ``lock=False`` skips the lock (tests that open a store twice in one process).
    """

    def __init__(self, path, *, lock: bool = True):
        self.path = Path(path)
        self._fd = None
        self.conn = None
        kind = check_store(self.path)
        if kind == "new":
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:  # created meanwhile by another driver: check it like any existing file
                kind = None
            except OSError as err:
                raise OutputError(f"store {str(self.path)!r}: cannot create it ({err.strerror})") from None
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except OSError as err:
                raise OutputError(f"store {str(self.path)!r}: cannot open it ({err.strerror})") from None
            if kind is None:  # an empty file another driver is initialising, or anything else: checked again
                kind = "new" if os.fstat(self._fd).st_size == 0 else check_store(self.path, fd=self._fd)
        try:
            if lock:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise StoreBusyError(
                        f"store {str(self.path)!r} is in use by another sweep driver (it holds the store's lock): "
                        "wait for it to finish, or give this sweep another store"
                    ) from None
            if kind == "new" and os.fstat(self._fd).st_size > 0:
                kind = check_store(self.path, fd=self._fd)  # initialised by a driver that held the lock first
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            if kind == "new":  # mark the file as ours before anything else (rollback journal: in the file itself)
                with self.conn:
                    self.conn.execute("BEGIN IMMEDIATE")
                    self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    for stmt in _CREATE.split(";"):
                        if stmt.strip():
                            self.conn.execute(stmt)
                    self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif kind == "v1":
                with self.conn:
                    self.conn.execute("BEGIN IMMEDIATE")
                    self.conn.execute("ALTER TABLE results ADD COLUMN inputs TEXT")
                    self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    self.conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
            # WAL: a commit is in the log before it returns, so killing the process loses no committed
            # row; synchronous=NORMAL skips an fsync per commit (only a power cut could lose the last rows).
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self._fd is not None:  # after SQLite's own descriptors: closing it releases our flock
            os.close(self._fd)
            self._fd = None

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

    def set_spec(self, identity: dict) -> None:
        """Record the identity of the spec being run (what :func:`load` calls current)."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('spec', ?)", (_dumps(identity),))

    def write(self, records) -> None:
        """Record finished tasks (dicts with :data:`COLUMNS` keys but ``attempts``) in one transaction."""
        rows = []
        for rec in records:
            row = dict(rec, attempts=1)
            row["args"] = _dumps(row["args"])
            row["metrics"] = None if row.get("metrics") is None else _dumps(row["metrics"])
            row["inputs"] = _dumps(row["inputs"]) if row.get("inputs") else None
            rows.append(tuple(row.get(c) for c in COLUMNS))
        if not rows:
            return
        with self.conn:  # BEGIN ... COMMIT (ROLLBACK on error)
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(_UPSERT, rows)


def read_store(path, task: str | None = None) -> tuple[set, list]:
    """``(done task ids, wall times of finished tasks of kind task)`` of an existing store, read-only
    (what ``--dry-run`` needs); a file that is not a store raises as :func:`check_store`."""
    kind = check_store(path)
    if kind == "new":
        return set(), []
    with closing(_connect_ro(path)) as conn:
        done = {r[0] for r in conn.execute("SELECT task_id FROM results WHERE status = 'done'")}
        rows = conn.execute("SELECT seconds FROM results WHERE status = 'done' AND task = ?", (task,))
        return done, [r[0] for r in rows if r[0] is not None]


def _connect_ro(path) -> sqlite3.Connection:
    # mode=ro: never writes; a WAL store being written by a driver is read consistently through its -shm
    return sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)


def _row(values) -> dict:
    row = dict(zip(COLUMNS, values, strict=False))  # a schema-1 store has no inputs column
    row["args"] = json.loads(row["args"])
    row["metrics"] = None if row["metrics"] is None else json.loads(row["metrics"])
    row["inputs"] = json.loads(row["inputs"]) if row.get("inputs") else {}
    return row


def load(
    store, status: str | None = "done", task: str | None = None, as_: str = "rows", *, spec=None, stale: bool = False
) -> list | dict | Any:
    """The rows of a sweep store.

    ``status``: ``"done"`` (default), ``"failed"`` or ``None`` (all); ``task``: only this task kind.
    ``as_``:

    - ``"rows"``: a list of dicts with the keys of :data:`COLUMNS`; ``args``, ``metrics`` and
      ``inputs`` are dicts;
    - ``"columns"``: a dict of numpy arrays, one per column: ``task_id``, ``replicate``, ``seed``,
      ``status``, ``seconds``, then every argument and every metric by its own name (a metric named
      like an argument becomes ``metrics.NAME``); numbers give float arrays (NaN where missing),
      anything else an object array; ``seed`` is an int64 array (-1 for tasks that take no seed);
    - ``"pandas"``: the columns as a ``pandas.DataFrame`` (needs pandas).

    Which rows: those of the tasks of ``spec`` (a :class:`~stability.sweeps.spec.Spec` or the path
    of its TOML file) when given, else of the spec last run on the store (recorded by the driver).
    Rows of other configurations — the spec's ``[base]`` or grid edited since, a data file whose
    bytes changed — are *stale*: they are left out with a :class:`StaleRowsWarning` that counts
    them, so two configurations are never mixed silently; ``stale=True`` returns every row.

    Rows come in ``task_id`` order, which does not depend on the order tasks ran.
    """
    path = Path(store)
    if status not in ("done", "failed", None):
        raise ValueError(f"status must be 'done', 'failed' or None, got {status!r}")
    if as_ not in ("rows", "columns", "pandas"):
        raise ValueError(f"as_ must be 'rows', 'columns' or 'pandas', got {as_!r}")
    if check_store(path) == "new":
        raise ValueError(f"store: no such file {str(path)!r}")
    where, params = [], []
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if task is not None:
        where.append("task = ?")
        params.append(task)
    cols = COLUMNS if check_store(path) == "store" else _V1_COLUMNS
    sql = f"SELECT {', '.join(cols)} FROM results"
    sql += (" WHERE " + " AND ".join(where)) if where else ""
    with closing(_connect_ro(path)) as conn:
        rows = [_row(v) for v in conn.execute(sql + " ORDER BY task_id", params)]
        recorded = conn.execute("SELECT value FROM meta WHERE key = 'spec'").fetchone()
    if not stale:
        from .spec import Spec, identity_filter, load_spec

        if spec is not None:
            identity = (spec if isinstance(spec, Spec) else load_spec(spec)).identity()
        else:
            identity = None if recorded is None else json.loads(recorded[0])
        if identity is not None:
            member = identity_filter(identity)
            kept = [r for r in rows if member(r)]
            if len(kept) < len(rows):
                which = "the spec given" if spec is not None else "the spec last run on it"
                warnings.warn(
                    f"store {str(path)!r}: {len(rows) - len(kept)} of {len(rows)} rows come from another "
                    f"configuration than {which} (an edited [base] or grid, or a changed data file) and are "
                    "left out; load(..., stale=True) returns them too",
                    StaleRowsWarning,
                    stacklevel=2,
                )
            rows = kept
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
