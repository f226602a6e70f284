"""Real signals in subprocesses: Ctrl-C exits 130 with one line, and no file is left half-written.

Each child imports :mod:`stability.cli`, prints ``ready`` and then runs ``main(argv)``, so the
signal lands in the command's work (not in Python's own start-up, which no program can guard).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

# The child restores Python's own Ctrl-C handler first: a process started in the background by a
# non-interactive shell (``(pytest &)``, some CI runners) inherits SIGINT *ignored*, Python then
# installs no KeyboardInterrupt handler, and the child would run on after the signal. A user's
# terminal Ctrl-C reaches a process with the default handler, which is what these tests are about.
CHILD = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)
from stability.cli import main
print("ready", flush=True)
sys.exit(main(sys.argv[1:]))
"""

# naive simulation: about 1e10 normal draws (minutes) in 50 MB, so an interrupt lands mid-run
LONG_SIMULATE = ["simulate", "gaussian", "--dim", "5", "--n", "1000", "--lambda", "10", "--generations", "1000"]
LONG_SIMULATE += ["--chains", "200", "--method", "naive", "--quiet"]


def _start(argv):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD, *argv], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert p.stdout.readline().strip() == "ready"
    return p


def _interrupt(p, after: float, sig=signal.SIGINT) -> tuple[int, str]:
    time.sleep(after)
    p.send_signal(sig)
    try:
        _, err = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()  # no orphan left burning a core for the tests that follow
        p.communicate()
        raise
    return p.returncode, err


@pytest.mark.slow
def test_ctrl_c_in_simulate_exits_130_and_writes_nothing(tmp_path):
    out = tmp_path / "chains.npz"
    p = _start([*LONG_SIMULATE, "--out", str(out)])
    code, err = _interrupt(p, 1.0)
    assert code == 130, err
    assert err.strip().splitlines() == ["stability simulate: interrupted"]
    assert list(tmp_path.iterdir()) == []  # neither the output nor a temporary file


@pytest.mark.slow
@pytest.mark.torch
def test_ctrl_c_in_retrain_leaves_only_complete_files(tmp_path):
    from stability.experiments.runs import read_config, read_metrics

    out = tmp_path / "run"
    argv = ["retrain", "--model", "flow", "--data", "moons", "--profile", "tiny", "--quiet", "--no-plots"]
    argv += ["--lambda", "0.5", "replace", "--generations", "6", "--n", "200", "--out", str(out)]
    p = _start(argv)
    deadline = time.time() + 120
    while not (out / "gen000.pt").exists() and time.time() < deadline:  # interrupt after pretraining
        time.sleep(0.05)
    code, err = _interrupt(p, 0.5)
    assert code == 130, err
    assert err.strip().splitlines()[-1] == "stability retrain: interrupted"
    assert not list(out.rglob(".*.tmp"))
    read_config(out)  # parses, hash matches
    for row in read_metrics(out):  # every line a complete JSON row
        assert {"chain", "generation"} <= set(row)
    import torch

    for ckpt in out.rglob("*.pt"):
        assert "state_dict" in torch.load(ckpt, weights_only=True)


@pytest.mark.slow
def test_sigkill_while_writing_leaves_no_partial_npz(tmp_path):
    """SIGKILL cannot be caught: killed while the temporary file is being written, the output is
    absent (the rename never happened); a run that finished first left it complete."""
    out = tmp_path / "chains.npz"
    argv = ["simulate", "gaussian", "--dim", "8", "--n", "50", "--lambda", "1", "--generations", "200"]
    argv += ["--chains", "500", "--quiet", "--out", str(out)]
    p = _start(argv)
    deadline = time.time() + 120
    while p.poll() is None and not list(tmp_path.glob(".chains.npz.*.tmp")) and time.time() < deadline:
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    if p.returncode == -signal.SIGKILL:
        assert not out.exists()
    else:  # finished before the kill: complete
        with np.load(out) as z:
            assert z["cov"].shape == (201, 500, 8, 8)


@pytest.mark.torch
def test_failed_retrain_start_leaves_the_folder_as_it_was(tmp_path, capsys):
    """Bad data, then the corrected command: the first failure wrote nothing (no "already holds a run")."""
    from stability.cli import main

    out = tmp_path / "run"
    base = ["retrain", "--model", "flow", "--profile", "tiny", "--quiet", "--no-plots", "--out", str(out)]
    assert main([*base, "--data", str(tmp_path / "nosuch.npz")]) == 2
    assert not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main([*base, "--data", "moons", "--device", "tpu"]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert main([*base, "--data", "moons", "--resume"]) == 2  # no run to resume: refused, not started
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    err = capsys.readouterr().err
    assert "no run to resume" in err


@pytest.mark.torch
def test_damaged_config_names_the_file(tmp_path, capsys):
    from stability.cli import main

    out = tmp_path / "run"
    out.mkdir()
    for text in ("", "{", "[]", json.dumps({"config": [], "hash": 1})):
        (out / "config.json").write_text(text)
        argv = ["retrain", "--model", "flow", "--data", "moons", "--profile", "tiny", "--resume", "--out", str(out)]
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert str(out / "config.json") in err and "damaged" in err
