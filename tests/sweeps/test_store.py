"""Issue 20: the sweep store recognises its own files, a task's identity includes its input files,
stale rows are visible, grids are built lazily, two drivers do not both run a sweep, and a task
that calls ``sys.exit`` fails."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest

from stability.cli import main
from stability.errors import InputError, MemoryEstimateError, OutputError
from stability.sweeps import (
    ResultStore,
    SpecError,
    StaleRowsWarning,
    StoreBusyError,
    load,
    load_spec,
    parse_spec,
    run_sweep,
)
from stability.sweeps.store import APPLICATION_ID, SCHEMA_VERSION

SIM = {"family": "gaussian", "n": 10, "generations": 1, "chains": 2}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sim_spec(store: Path, **grid) -> object:
    return parse_spec({"task": "simulate", "store": str(store), "base": SIM, "grid": grid or {"lambda_": [0.5]}})


def _foreign(tmp_path: Path) -> dict[str, Path]:
    """Files that are not sweep stores, each kind the audit tried."""
    out = {}
    out["random"] = tmp_path / "random.db"
    out["random"].write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    out["text"] = tmp_path / "notes.sqlite"
    out["text"].write_text("not a database\n")
    out["empty"] = tmp_path / "empty.sqlite"
    out["empty"].write_bytes(b"")
    for name, sql in {
        "own-results": "CREATE TABLE results (task_id TEXT PRIMARY KEY, status TEXT);"
        "INSERT INTO results VALUES ('a', 'x');",
        "unrelated": "CREATE TABLE people (name TEXT); INSERT INTO people VALUES ('ada');",
    }.items():
        out[name] = tmp_path / f"{name}.sqlite"
        conn = sqlite3.connect(out[name])
        conn.executescript(sql)
        conn.close()
    return out


@pytest.mark.parametrize("kind", ["random", "text", "empty", "own-results", "unrelated"])
def test_a_foreign_file_is_refused_and_left_byte_for_byte(tmp_path, kind, capsys):
    path = _foreign(tmp_path)[kind]
    before, listing = _sha(path), sorted(p.name for p in tmp_path.iterdir())
    spec = _sim_spec(path)
    with pytest.raises(InputError, match=f"store {str(path)!r} is .*not a sweep store"):
        run_sweep(spec, serial=True)
    with pytest.raises(InputError, match="not a sweep store"):
        load(path)
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(f"task = 'simulate'\nstore = {json.dumps(str(path))}\n[base]\nfamily = 'gaussian'\n")
    for extra in ([], ["--dry-run"]):
        assert main(["sweep", str(spec_file), "--serial", *extra]) == 2
        err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
        assert len(err) == 1 and str(path) in err[0], err
    spec_file.unlink()
    assert _sha(path) == before  # nothing written: no table added, no WAL switched on
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no -wal / -shm / journal beside it
    if kind == "unrelated":
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["people"]
        conn.close()


def test_folders_and_unwritable_places_are_refused(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        ResultStore(tmp_path)
    with pytest.raises(InputError, match="store '/' is a folder"):
        ResultStore("/")
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(OutputError, match="is not a folder"):
        ResultStore(afile / "s.sqlite")
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            with pytest.raises(OutputError, match="cannot create files in folder .*permission denied"):
                run_sweep(_sim_spec(ro / "s.sqlite"), serial=True)
            assert list(ro.iterdir()) == []
        finally:
            ro.chmod(0o755)


def test_a_store_carries_its_mark_and_a_dry_run_writes_nothing(tmp_path):
    store = tmp_path / "sub" / "s.sqlite"
    spec_file = tmp_path / "s.toml"
    spec_file.write_text(
        "task = 'simulate'\nstore = 'sub/s.sqlite'\n[base]\nfamily = 'gaussian'\nn = 10\ngenerations = 1\n"
        "chains = 2\n[grid]\nlambda_ = [0.5, 1.0]\n"
    )
    assert main(["sweep", str(spec_file), "--dry-run"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]  # no store, no folder
    assert main(["sweep", str(spec_file), "--serial"]) == 0
    head = store.read_bytes()[:100]  # the SQLite header: application_id at 68, user_version at 60
    assert int.from_bytes(head[68:72], "big") == APPLICATION_ID
    assert int.from_bytes(head[60:64], "big") == SCHEMA_VERSION
    before = _sha(store)
    assert main(["sweep", str(spec_file), "--dry-run"]) == 0
    assert _sha(store) == before


def test_a_store_of_schema_1_is_upgraded_and_keeps_its_rows(tmp_path):
    from stability.sweeps.store import _V1_COLUMNS

    store = tmp_path / "old.sqlite"
    spec = _sim_spec(store)
    t = spec.tasks[0]
    conn = sqlite3.connect(store)  # the schema of the first version, written by hand
    conn.executescript(
        f"CREATE TABLE results ({', '.join(c + (' TEXT PRIMARY KEY' if c == 'task_id' else '') for c in _V1_COLUMNS)});"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema', '1');"
    )
    row = dict.fromkeys(_V1_COLUMNS)
    row |= {"task_id": t.task_id, "task": "simulate", "args": json.dumps(t.args), "replicate": 0, "sweep_seed": 0}
    row |= {"status": "done", "metrics": json.dumps({"x": 1.0}), "attempts": 1}
    conn.execute(f"INSERT INTO results VALUES ({', '.join('?' * len(_V1_COLUMNS))})", tuple(row.values()))
    conn.commit()
    conn.close()
    summary = run_sweep(spec, serial=True)
    assert (summary.skipped, summary.done) == (1, 0)
    assert [r["metrics"] for r in load(store)] == [{"x": 1.0}]
    assert int.from_bytes(store.read_bytes()[68:72], "big") == APPLICATION_ID


def test_a_second_driver_on_the_same_store_is_refused(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    spec = _sim_spec(store)
    with ResultStore(store):  # a driver holding the store
        with pytest.raises(StoreBusyError, match="in use by another sweep driver"):
            run_sweep(spec, serial=True)
        spec_file = tmp_path / "s.toml"
        spec_file.write_text("task = 'simulate'\nstore = 's.sqlite'\n[base]\nfamily = 'gaussian'\n")
        assert main(["sweep", str(spec_file), "--serial"]) == 1
        assert "in use by another sweep driver" in capsys.readouterr().err
    assert run_sweep(spec, serial=True).done == 1  # free again once the first driver closed it


def test_editing_a_data_file_reruns_the_task_and_the_old_row_is_stale(tmp_path):
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(0).standard_normal(100))
    spec_file = tmp_path / "a.toml"
    spec_file.write_text("task = 'analyze'\n[base]\nmodel = 'gaussian'\ndata = 'x.npy'\nlambda_ = 0.5\n")
    first = run_sweep(load_spec(spec_file), serial=True)
    assert first.done == 1
    (row,) = load(tmp_path / "a.sqlite")
    assert row["inputs"]["data"]["sha256"] == _sha(data)  # recorded, computed here independently
    np.save(data, 3.0 * np.random.default_rng(1).standard_normal(100))
    second = run_sweep(load_spec(spec_file), serial=True)
    assert (second.done, second.skipped) == (1, 0)  # the edited file is a new task
    with pytest.warns(StaleRowsWarning, match="1 of 2 rows come from another configuration"):
        (now,) = load(tmp_path / "a.sqlite")
    assert now["inputs"]["data"]["sha256"] == _sha(data) != row["inputs"]["data"]["sha256"]
    assert len(load(tmp_path / "a.sqlite", stale=True)) == 2


def test_editing_base_does_not_mix_configurations_in_load(tmp_path):
    store = tmp_path / "s.sqlite"
    a = parse_spec({"task": "simulate", "store": str(store), "base": SIM, "grid": {"lambda_": [0.5, 1.0]}})
    run_sweep(a, serial=True)
    b = parse_spec({"task": "simulate", "store": str(store), "base": SIM | {"n": 20}, "grid": {"lambda_": [0.5]}})
    run_sweep(b, serial=True)
    with pytest.warns(StaleRowsWarning, match="2 of 3 rows"):
        rows = load(store)  # the spec last run: b
    assert [r["args"]["n"] for r in rows] == [20]
    with pytest.warns(StaleRowsWarning, match="1 of 3 rows"):
        assert sorted(r["args"]["lambda_"] for r in load(store, spec=a)) == [0.5, 1.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when every row is asked for
        assert sorted(r["args"]["n"] for r in load(store, stale=True)) == [10, 10, 20]


def test_integer_and_float_values_are_one_task(tmp_path):
    a = parse_spec({"task": "simulate", "base": SIM | {"lambda_": 1}})
    b = parse_spec({"task": "simulate", "base": SIM | {"lambda_": 1.0}})
    assert a.tasks[0].task_id == b.tasks[0].task_id and a.tasks[0].args["lambda_"] == 1.0
    with pytest.raises(SpecError, match=r"grid\.lambda_: the value 1\.0 appears twice \(1 and 1\.0 are the same"):
        parse_spec({"task": "simulate", "base": SIM, "grid": {"lambda_": [1, 1.0]}})


def test_tasks_are_built_lazily_and_a_huge_grid_is_refused_before_any_file(tmp_path):
    small = parse_spec(
        {"task": "simulate", "seeds": 2, "base": {"family": "gaussian", "chains": 2},
         "grid": {"lambda_": [0.5, 1.0, 2.0], "n": [10, 20]},
         "zip": [{"scheme": ["fixed-real", "accumulate"], "generations": [1, 2]}]}
    )  # fmt: skip
    listed = list(small.tasks)
    assert len(listed) == len(small.tasks) == 24
    assert [small.tasks[i] for i in range(24)] == listed and small.tasks[-1] == listed[-1]
    axis = [float(i) for i in range(1000)]
    huge = parse_spec(
        {"task": "simulate", "store": str(tmp_path / "h.sqlite"), "base": {"family": "gaussian", "n": 10},
         "grid": {"lambda_": axis, "chains": list(range(1, 1001)), "dim": list(range(1, 1001))}}
    )  # fmt: skip
    assert len(huge.tasks) == 10**9
    # index = ((i_lambda * 1000) + i_chains) * 1000 + i_dim (the last axis varies fastest)
    assert huge.tasks[123_456_789].args == {"family": "gaussian", "n": 10, "lambda_": 123.0, "chains": 457, "dim": 790}
    with pytest.raises(MemoryEstimateError, match=r"1,000,000,000 tasks.* hours of engine overhead"):
        run_sweep(huge, serial=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.torch
def test_retrain_chains_n_larger_than_the_file_is_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal(200))
    base = {"model": "student-t", "data": "x.npy", "lambda_": 1.0, "generations": 1, "chains": 2}
    spec_file = tmp_path / "rc.toml"
    spec_file.write_text(
        "task = 'retrain_chains'\n[base]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in base.items())
    )
    with open(spec_file, "a") as f:
        f.write("n = 100000\n")
    with pytest.raises(SpecError, match=r"base\.n: 100000 is more than the 200 points of data file 'x\.npy'"):
        load_spec(spec_file)
    from stability.sweeps.tasks import run_retrain_chains

    with pytest.raises(InputError, match="n must be at most the 200 points"):  # the task itself, too
        run_retrain_chains(**base, seed=0, n=201, base_dir=str(tmp_path))


def test_a_task_that_calls_sys_exit_fails(tmp_path, monkeypatch, capsys):
    (tmp_path / "exiting_task.py").write_text(
        textwrap.dedent(
            """
            import sys

            def quits(x: float, seed: int = 0):
                sys.exit(0)
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec_file = tmp_path / "q.toml"
    spec_file.write_text("task = 'exiting_task:quits'\n[grid]\nx = [1.0, 2.0]\n")
    assert main(["sweep", str(spec_file), "--serial"]) == 1
    out = capsys.readouterr().out
    assert out.count("SystemExit: the task called sys.exit(0)") == 2 and "0 done" in out
    rows = load(tmp_path / "q.sqlite", status="failed")
    assert len(rows) == 2 and all("sys.exit" in r["error"] for r in rows)


def test_a_dry_run_does_not_import_the_task_module(tmp_path, monkeypatch, capsys):
    (tmp_path / "loud_module.py").write_text(
        f"open({str(tmp_path / 'imported')!r}, 'w').close()\ndef f(x): return {{}}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    spec_file = tmp_path / "l.toml"
    spec_file.write_text("task = 'loud_module:f'\n[grid]\nx = [1, 2]\n")
    assert main(["sweep", str(spec_file), "--dry-run"]) == 0
    assert "not imported" in capsys.readouterr().out
    assert not (tmp_path / "imported").exists()
