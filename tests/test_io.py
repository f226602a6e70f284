"""stability/_io.py: atomic writes, the configuration hash of the stored runs, the commit read once."""

import json
import os
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

from stability import _io

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / "results" / "cpu"


def test_atomic_writes_leave_the_file_complete_and_nothing_else(tmp_path):
    path = tmp_path / "sub" / "a.txt"  # the folder is created
    _io.atomic_write_text("one", path)
    _io.atomic_write_text("two", path)
    assert path.read_text() == "two"
    _io.atomic_write_npz(tmp_path / "z.npz", a=np.arange(3.0))
    with np.load(tmp_path / "z.npz") as z:
        np.testing.assert_array_equal(z["a"], np.arange(3.0))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a.txt", "sub", "z.npz"]
    # the mode open() would give (mkstemp alone gives 0600)
    assert stat.S_IMODE(path.stat().st_mode) == _io.new_file_mode()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.npz"
    _io.atomic_bytes(b"old", path)

    class Boom:
        def __array__(self, *a, **k):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        _io.atomic_write_npz(path, a=Boom())
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.npz"]


@pytest.mark.parametrize(
    "folder", sorted(p.name for p in STORE.iterdir() if (p / "config.json").is_file() and "validation" not in p.name)
)
def test_config_hash_reproduces_the_hash_of_every_stored_deep_run(folder):
    # the hash each stored run recorded when it was written (the run's identity: without "generations")
    blob = json.loads((STORE / folder / "config.json").read_text())
    assert _io.config_hash(blob["config"]) == blob["hash"]


def test_config_hash_reproduces_the_stored_smooth_flow_runs():
    # the smooth-flow study hashes its whole configuration but the data sets, 16 hex digits
    for folder in ("flow_validation", "flow_validation_scale"):
        blob = json.loads((STORE / folder / "config.json").read_text())
        assert _io.config_hash(blob["config"], omit=("data",), digits=16) == blob["hash"]


def test_config_hash_of_a_stored_figure_json():
    blob = json.loads((STORE / "stationary.json").read_text())
    assert _io.config_hash(blob["config"]) == blob["hash"]


def test_git_commit_is_the_checkout_head_read_once():
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        assert _io.git_commit() is None
        return
    commit = _io.git_commit()
    assert commit.removesuffix("+dirty") == head.stdout.strip()
    assert _io.git_commit(short=True).removesuffix("+dirty") == head.stdout.strip()[:10]
    _io.git_commit()
    assert _io._head.cache_info().misses == 1  # git ran once in this process
