"""Sweeps: spec validation, seeds, the store, failures, and a killed driver on a real LocalCluster."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from stability.cli import main
from stability.sweeps import load, load_spec, parse_spec, run_sweep

ROOT = Path(__file__).resolve().parents[2]
SIM_BASE = {"family": "gaussian", "generations": 3, "chains": 4}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _independent_seed(sweep_seed: int, task: str, args: dict, replicate: int) -> tuple[str, int]:
    """Task id and seed recomputed from the documented formulas, without the library's helpers."""
    text = json.dumps(
        {"task": task, "args": args, "replicate": replicate, "seed": sweep_seed}, sort_keys=True, separators=(",", ":")
    )
    tid = hashlib.sha256(text.encode()).hexdigest()[:16]
    ss = np.random.SeedSequence(entropy=sweep_seed, spawn_key=(int(tid[:8], 16), int(tid[8:], 16)))
    return tid, int(ss.generate_state(1, np.uint64)[0]) >> 1


def test_task_ids_and_seeds_follow_the_formula_and_not_the_grid_order():
    a = parse_spec(
        {"task": "simulate", "seed": 7, "seeds": 2, "base": SIM_BASE, "grid": {"lambda_": [0.5, 1.0], "n": [10, 20]}}
    )
    b = parse_spec(
        {"task": "simulate", "seed": 7, "seeds": 2, "base": SIM_BASE, "grid": {"n": [20, 10], "lambda_": [1.0, 0.5]}}
    )
    assert len(a.tasks) == 8
    assert {(t.task_id, t.seed) for t in a.tasks} == {(t.task_id, t.seed) for t in b.tasks}
    for t in a.tasks:
        assert (t.task_id, t.seed) == _independent_seed(7, "simulate", t.args, t.replicate)
    assert len({t.seed for t in a.tasks}) == 8  # every cell and replicate its own stream


def test_zip_groups_vary_together_and_cross_the_grid():
    spec = parse_spec(
        {
            "task": "simulate",
            "base": SIM_BASE,
            "grid": {"n": [10, 20, 30]},
            "zip": [{"scheme": ["fixed-real", "accumulate"], "lambda_": [0.5, 1.0]}],
        }
    )
    cells = {(t.args["n"], t.args["scheme"], t.args["lambda_"]) for t in spec.tasks}
    assert cells == {(n, s, lam) for n in (10, 20, 30) for s, lam in (("fixed-real", 0.5), ("accumulate", 1.0))}


@pytest.mark.parametrize(
    "body, field",
    [
        ('task = "simulat"', "task: unknown task 'simulat'"),
        (
            'task = "simulate"\n[base]\nfamily = "gaussian"\nlambd = 0.5\n[grid]\nn = [10]',
            "base.lambd: unknown argument",
        ),
        (
            'task = "simulate"\n[base]\nfamily = "gaussian"\n[grid]\nlambda_ = []',
            "grid.lambda_: expected a non-empty list",
        ),
        ('task = "simulate"\n[base]\nfamily = "gaussian"\n[grid]\nn = ["ten"]', "grid.n: expected int, got str"),
        ('task = "simulate"\nseed = -1\n[grid]\nn = [10]', "seed: expected an integer >= 0"),
        ('task = "simulate"\nseeds = 1.5\n[grid]\nn = [10]', "seeds: expected an integer >= 1"),
        ('task = "simulate"\n[grid]\nn = 10', "grid.n: expected a non-empty list"),
        ('task = "simulate"\n[base]\nn = 10\n[grid]\nn = [10]', "grid.n: also set in base"),
        ('task = "simulate"\n[[zip]]\nn = [10, 20]\nlambda_ = [1.0]', "zip[0]: lists must have equal lengths"),
        ('task = "simulate"\n[base]\nseed = 3', "base.seed: set by the sweep"),
        ('task = "simulate"\nseed_arg = "rng"', "seed_arg: the task has no argument 'rng'"),
        ('task = "os:nonexistent_function"', "task: module 'os' has no function"),
        ('task = "simulate"\nstores = "x.sqlite"', "stores: unknown key"),
        ("task = [", "spec: bad.toml is not valid TOML"),
    ],
)
def test_malformed_spec_exits_2_with_one_line_naming_the_field(tmp_path, capsys, body, field):
    spec = _write(tmp_path / "bad.toml", body + "\n")
    assert main(["sweep", str(spec), "--serial"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("stability sweep: error: " + field), err
    assert not (tmp_path / "bad.sqlite").exists()  # nothing ran, no store created


def test_bad_cell_is_reported_with_its_parameters_and_the_others_finish(tmp_path, capsys):
    spec = _write(
        tmp_path / "s.toml",
        'task = "simulate"\nseed = 1\n[base]\nfamily = "gaussian"\nn = 20\ngenerations = 2\nchains = 3\n'
        "[grid]\nlambda_ = [0.5, -0.5, 1.0]\n",
    )
    assert main(["sweep", str(spec), "--serial", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert (out["done"], out["skipped"], out["failed"]) == (2, 0, 1)
    (bad,) = out["failures"]
    assert bad["args"]["lambda_"] == -0.5 and bad["error"].startswith("ValueError: lambda_ must be >= 0")
    rows = load(tmp_path / "s.sqlite", status=None)
    assert sorted(r["status"] for r in rows) == ["done", "done", "failed"]
    failed = next(r for r in rows if r["status"] == "failed")
    assert failed["args"]["lambda_"] == -0.5 and "Traceback" in failed["traceback"] and failed["metrics"] is None
    # the next run skips the finished cells and retries the failed one
    assert main(["sweep", str(spec), "--serial"]) == 1
    text = capsys.readouterr().out
    assert '"lambda_": -0.5' in text and "0 done, 2 skipped, 1 failed of 3 tasks" in text
    assert {r["task_id"]: r["attempts"] for r in load(tmp_path / "s.sqlite", status="failed")} == {failed["task_id"]: 2}


def toy_task(x: float, seed: int) -> dict:
    """A ``module:function`` task: a dict of numbers from its arguments and its seed."""
    return {"twice": 2 * x, "u": float(np.random.default_rng(seed).random()), "curve": [x, x + 1]}


def test_module_function_task_gets_its_seed_and_load_gives_rows_and_columns(tmp_path):
    spec = load_spec(
        _write(tmp_path / "f.toml", 'task = "tests.sweeps.test_engine:toy_task"\nseed = 3\n[grid]\nx = [0.5, 1.5]\n')
    )
    assert run_sweep(spec, serial=True).done == 2
    rows = load(tmp_path / "f.sqlite")
    for r in rows:
        assert r["metrics"]["twice"] == 2 * r["args"]["x"] and r["metrics"]["curve"] == [
            r["args"]["x"],
            r["args"]["x"] + 1,
        ]
        assert r["metrics"]["u"] == np.random.default_rng(_independent_seed(3, spec.task, r["args"], 0)[1]).random()
        assert r["version"] and r["host"] and r["seconds"] >= 0
    cols = load(tmp_path / "f.sqlite", as_="columns")
    order = np.argsort(cols["x"])
    np.testing.assert_array_equal(cols["x"][order], [0.5, 1.5])
    np.testing.assert_array_equal(cols["twice"][order], [1.0, 3.0])
    # a task that does not return a dict of numbers fails with that message
    bad = load_spec(
        _write(tmp_path / "b.toml", 'task = "stability.bounds:bound"\n[base]\neps = 0.05\n[grid]\nlambda_ = [0.1]\n')
    )
    s = run_sweep(bad, serial=True)
    assert (s.done, s.failed) == (0, 1) and "dict of numbers" in s.failures[0]["error"]


def test_explicit_seed_argument_reproduces_a_direct_simulate_call(tmp_path):
    import stability

    spec = load_spec(
        _write(
            tmp_path / "d.toml",
            'task = "simulate"\nseed_arg = ""\n[base]\nfamily = "gaussian"\nn = 30\ngenerations = 4\n'
            "chains = 50\nseed = 123\n[grid]\nlambda_ = [0.5, inf]\n",
        )
    )
    assert all(t.seed is None and t.call_args()["seed"] == 123 for t in spec.tasks)
    assert run_sweep(spec, serial=True).done == 2
    for row in load(tmp_path / "d.sqlite"):
        r = stability.simulate("gaussian", n=30, lambda_=row["args"]["lambda_"], generations=4, chains=50, seed=123)
        w2 = r.band("w2")
        m = row["metrics"]
        assert (m["w2_median"], m["w2_q05"], m["w2_q95"]) == (w2.median[-1], w2.lower[-1], w2.upper[-1])
        assert m["w2_median_curve"] == w2.median.tolist()
        assert m["collapsed_fraction"] == r.collapsed[-1].mean()


def test_dry_run_counts_tasks_and_runs_nothing(tmp_path, capsys):
    spec = _write(
        tmp_path / "dry.toml",
        'task = "simulate"\nseeds = 3\n[base]\nfamily = "gaussian"\nn = 20\ngenerations = 2\nchains = 3\n'
        "[grid]\nlambda_ = [0.5, 1.0]\n",
    )
    assert main(["sweep", str(spec), "--dry-run", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["tasks"], out["pending"], out["skipped"]) == (6, 6, 0) and out["estimated_task_seconds"] > 0
    assert not (tmp_path / "dry.sqlite").exists()  # a dry run creates nothing
    assert main(["sweep", str(spec), "--local", "0"]) == 2
    assert "--local must be an integer >= 1" in capsys.readouterr().err


@pytest.mark.torch
def test_retrain_task_resumes_in_its_own_run_directory(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from stability.experiments import loop

    calls = []

    def fake_retrain(config, out, resume=False, progress=True, plots=False):
        calls.append((config, Path(out), resume))
        rows = [{"chain": c, "generation": g, "w2": 0.1 * g, "seconds": 1.0} for c in config.lambdas for g in range(3)]
        return SimpleNamespace(rows=tuple(rows))

    monkeypatch.setattr(loop, "retrain", fake_retrain)
    spec = load_spec(
        _write(
            tmp_path / "r.toml",
            'task = "retrain"\n[base]\nmodel = "flow"\ndata = "moons"\nprofile = "tiny"\n'
            '[grid]\nlambdas = ["0.5", ["0", "replace"]]\n',
        )
    )
    assert run_sweep(spec, serial=True).done == 2
    by_id = {t.task_id: t for t in spec.tasks}
    for config, out, resume in calls:
        assert resume and out.parent == tmp_path / "r.sqlite.runs" and out.name in by_id
        assert config.seed == by_id[out.name].seed and config.generations == 2  # the tiny profile's
    metrics = {
        tuple(r["args"]["lambdas"]) if isinstance(r["args"]["lambdas"], list) else r["args"]["lambdas"]: r["metrics"]
        for r in load(tmp_path / "r.sqlite")
    }
    assert metrics["0.5"]["w2"] == 0.2 and metrics[("0", "replace")]["replace/w2"] == 0.2
    assert metrics["0.5"]["w2_curve"] == [0.0, 0.1, 0.2]


def test_curve_tasks_of_the_figures_equal_the_direct_calls(tmp_path):
    import stability

    sim = {"family": "gaussian", "n": 20, "generations": 5, "chains": 40, "seed": 0, "stats": ["sigma", "w2"]}
    t2 = {"n": 50, "delta": 0.05, "generations": 4, "chains": 300, "dim": 3, "seed": 0}
    for name, base, grid in [
        ("simulate_bands", sim, {"lambda_": [0.5, 4.0]}),
        ("theorem2_curves", t2, {"lambda_": [0.1, 0.44]}),
    ]:
        spec = parse_spec(
            {"task": f"stability.sweeps.tasks:{name}", "seed_arg": "", "base": base, "grid": grid,
             "store": str(tmp_path / f"{name}.sqlite")}
        )  # fmt: skip
        assert run_sweep(spec, serial=True).done == 2
        for row in load(spec.store):
            m, lam = row["metrics"], row["args"]["lambda_"]
            if name == "simulate_bands":
                r = stability.simulate("gaussian", n=20, lambda_=lam, generations=5, chains=40, seed=0)
                sigma = r.band(np.sqrt(r.cov[:, :, 0, 0]))
                assert m["sigma_median"] == sigma.median.tolist() and m["sigma_q95"] == sigma.upper.tolist()
                assert m["w2_q05"] == r.band("w2").lower.tolist()
            else:
                c = stability.theorem2_check(lambda_=lam, **{k: v for k, v in t2.items()})
                assert m["bound"] == c.bound.tolist() and m["violation"] == c.violation.tolist()
                assert m["distance_q95"] == np.quantile(c.distance, 0.95, axis=1).tolist()


def test_missing_dask_names_the_extra(monkeypatch):
    from stability.sweeps.engine import import_distributed

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"stability\[distributed\]"):
        import_distributed()


@pytest.mark.torch
def test_example_specs_are_valid():
    specs = sorted((ROOT / "examples" / "sweeps").glob("*.toml"))
    assert {p.stem for p in specs} >= {"analyze", "simulate", "retrain"}
    for path in specs:
        assert len(load_spec(path).tasks) >= 1


def _done_count(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT count(*) FROM results WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:  # table not created yet
        return 0


@pytest.mark.slow
def test_killed_driver_resumes_and_matches_a_serial_run_bit_for_bit(tmp_path):
    pytest.importorskip("distributed")
    # 20 tasks of ~0.2-0.5 s each on 2 workers: the driver is killed after 4 have been recorded
    body = (
        'task = "simulate"\nseed = 11\nseeds = 2\nstore = "{store}"\n'
        '[base]\nfamily = "gaussian"\ndim = 2\ngenerations = 30\nchains = 200\nmethod = "exact"\n'
        "[grid]\nlambda_ = [0.1, 0.5, 1.0, 2.0, 4.0]\nn = [20, 200]\n"
    )
    spec = _write(tmp_path / "kill.toml", body.format(store="kill.sqlite"))
    store = tmp_path / "kill.sqlite"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "stability", "sweep", str(spec), "--local", "2", "--json"]
    with open(tmp_path / "killed.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while _done_count(store) < 4 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before it could be killed: make its tasks longer"
        os.kill(proc.pid, signal.SIGKILL)  # the driver dies without any clean-up
        proc.wait(30)
    finally:
        time.sleep(0.5)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its orphaned worker processes, if any
        except ProcessLookupError:
            pass
    first = {r["task_id"]: r for r in load(store)}
    assert 4 <= len(first) < 20

    again = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert summary["skipped"] == len(first) and summary["done"] == 20 - len(first) and summary["failed"] == 0
    rows = load(store)
    assert len(rows) == 20 and len({r["task_id"] for r in rows}) == 20
    assert all(r["attempts"] == 1 for r in rows)  # each task was recorded exactly once overall
    for r in rows:  # rows of the killed run are untouched by the second
        if r["task_id"] in first:
            assert r == first[r["task_id"]]

    serial_spec = _write(tmp_path / "serial.toml", body.format(store="serial.sqlite"))
    s = run_sweep(load_spec(serial_spec), serial=True)
    assert (s.done, s.failed) == (20, 0)
    serial = {r["task_id"]: r for r in load(tmp_path / "serial.sqlite")}
    assert set(serial) == {r["task_id"] for r in rows}
    for r in rows:
        assert r["seed"] == _independent_seed(11, "simulate", r["args"], r["replicate"])[1]
        assert r["metrics"] == serial[r["task_id"]]["metrics"]  # bit for bit: JSON keeps every float exactly
