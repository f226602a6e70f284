"""Run directories: kill -9 mid-generation then resume gives the uninterrupted numbers; bad checkpoints refused."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from stability.experiments import CheckpointError, default_config, flow_parameters, load_model, read_metrics, retrain
from stability.experiments.runs import atomic_write_text, checkpoint_path

pytestmark = pytest.mark.slow  # trains flows: minutes on 2 cores (make test-fast skips it)

ROOT = Path(__file__).resolve().parents[2]

# A few seconds of work split in many generations, so that a kill lands inside one.
KILL_CONFIG = dict(lambdas=["0.5", "replace"], n=200, generations=4, pretrain_steps=100, finetune_steps=80)

CHILD = """
import sys
from stability.experiments import default_config, retrain
cfg = default_config("flow", "moons", "tiny", **{config})
retrain(cfg, sys.argv[1], resume=True, progress=False)
"""


def _child(out):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = CHILD.format(config=repr(KILL_CONFIG))
    return subprocess.Popen([sys.executable, "-c", code, str(out)], env=env, stderr=subprocess.PIPE, text=True)


def _metrics(run_dir):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in read_metrics(run_dir)]


def test_sigkill_mid_generation_then_resume_matches_uninterrupted(tmp_path):
    full, killed = tmp_path / "full", tmp_path / "killed"
    r = _child(full)
    assert r.wait(timeout=300) == 0, r.stderr.read()

    proc = _child(killed)
    target = checkpoint_path(killed, "0.5", 1)  # generation 1 of the first chain is complete ...
    deadline = time.monotonic() + 240
    while not target.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # ... and generation 2 is being trained (it takes about a second here)
    assert proc.poll() is None, "the run finished before it could be killed: make KILL_CONFIG longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not checkpoint_path(killed, "replace", KILL_CONFIG["generations"]).exists()

    r = _child(killed)  # resume
    assert r.wait(timeout=300) == 0, r.stderr.read()
    # bitwise equal: the same CPU kernels on the same seeded draws
    assert _metrics(killed) == _metrics(full)
    for chain in KILL_CONFIG["lambdas"]:
        a = torch.load(checkpoint_path(full, chain, 4), weights_only=True)["state_dict"]
        b = torch.load(checkpoint_path(killed, chain, 4), weights_only=True)["state_dict"]
        assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "small"
    cfg = default_config("flow", "moons", "tiny", lambdas=["1", "accumulate"], generations=2)
    return cfg, out, retrain(cfg, out, progress=False)


def test_run_directory_contents(small_run):
    cfg, out, result = small_run
    assert json.loads((out / "config.json").read_text())["config"]["lambdas"] == ["1", "accumulate"]
    rows = read_metrics(out)
    assert [(r["chain"], r["generation"]) for r in rows] == [(c, g) for c in ("1", "accumulate") for g in range(3)]
    assert rows[0]["param_dist"] == 0.0 and all(r["param_dist"] > 0 for r in rows if r["generation"])
    theta = flow_parameters(out, "1")
    assert theta.shape[0] == 3
    # the stored distance is ||theta_t - theta_0||, recomputed here from the checkpoints
    assert rows[2]["param_dist"] == pytest.approx(float(((theta[2] - theta[0]) ** 2).sum() ** 0.5), rel=1e-12)
    blob = torch.load(checkpoint_path(out, "accumulate", 2), weights_only=True)
    assert blob["pool"].shape == (2 * cfg.n, 2)  # n fresh samples per round, kept
    assert load_model(out, "1", 2).log_prob(torch.zeros(1, 2)).shape == (1,)


def test_existing_run_needs_resume_and_same_config(small_run, tmp_path):
    cfg, out, _ = small_run
    with pytest.raises(ValueError, match="already holds a run: pass resume"):
        retrain(cfg, out, progress=False)
    other = default_config("flow", "moons", "tiny", lambdas=["1", "accumulate"], generations=2, seed=5)
    with pytest.raises(CheckpointError, match=r"another configuration \(differs in \['seed'\]\)"):
        retrain(other, out, resume=True, progress=False)
    # a finished run resumes to the same rows without recomputing
    again = retrain(cfg, out, resume=True, progress=False)
    assert again.resumed_from == {"1": 2, "accumulate": 2}


def test_corrupt_and_foreign_checkpoints_refused(small_run, tmp_path):
    cfg, out, _ = small_run
    work = tmp_path / "work"
    shutil.copytree(out, work)
    path = checkpoint_path(work, "1", 2)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(CheckpointError, match="unreadable \\(corrupt or truncated"):
        retrain(cfg, work, resume=True, progress=False)
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="unreadable"):
        retrain(cfg, work, resume=True, progress=False)
    # a checkpoint from a run with another configuration
    foreign_dir = tmp_path / "foreign"
    foreign = default_config("flow", "moons", "tiny", lambdas=["1"], generations=2, seed=1)
    retrain(foreign, foreign_dir, progress=False)
    shutil.copy(checkpoint_path(foreign_dir, "1", 2), path)
    with pytest.raises(CheckpointError, match="belongs to another run"):
        retrain(cfg, work, resume=True, progress=False)
    # the right run's checkpoint under the wrong generation
    shutil.copy(checkpoint_path(out, "1", 1), path)
    with pytest.raises(CheckpointError, match="expected chain '1' generation 2"):
        retrain(cfg, work, resume=True, progress=False)
    # an edited config.json
    blob = json.loads((work / "config.json").read_text())
    blob["config"]["seed"] = 99
    atomic_write_text(json.dumps(blob), work / "config.json")
    with pytest.raises(CheckpointError, match="was edited"):
        retrain(cfg, work, resume=True, progress=False)
