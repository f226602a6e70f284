"""Reuse of stored deep-model runs by the figure scripts (figures/_stored.py).

A stored run is reused only when its configuration (hash and generations) equals the one the script
would run and every (chain, generation) row and the samples are present; anything else recomputes.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from stability.experiments import default_config
from stability.experiments.runs import config_hash

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "figures"))
import _stored  # noqa: E402


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(_stored, "STORE", tmp_path)
    return tmp_path


def _rows(cfg, generations):
    return [{"chain": c, "generation": g, "param_dist": 0.0} for c in cfg.lambdas for g in range(generations + 1)]


def _write(folder: Path, cfg, rows=None, samples=True):
    folder.mkdir(parents=True)
    d = cfg.to_dict()
    (folder / "config.json").write_text(json.dumps({"config": d, "hash": config_hash(d)}))
    if rows is None:
        rows = _rows(cfg, cfg.generations)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if samples:
        np.savez(folder / "samples.npz", **{c: np.zeros((3, 2)) for c in cfg.lambdas})


def _cfg(**over):
    return default_config("flow", "moons", "tiny", **{"lambdas": ["0", "1"], "generations": 2, **over})


def test_complete_matching_run_is_reused(store):
    cfg = _cfg()
    _write(store / "run", cfg)
    assert _stored.stored_run("run", cfg) == store / "run"
    assert set(_stored.stored_samples(store / "run")) == {"0", "1"}


def test_other_config_more_generations_or_missing_parts_recompute(store):
    cfg = _cfg()
    _write(store / "run", cfg)
    assert _stored.stored_run("run", _cfg(seed=1)) is None  # another hash
    assert _stored.stored_run("run", _cfg(generations=3)) is None  # same hash, more generations
    assert _stored.stored_run("missing", cfg) is None
    _write(store / "short", cfg, rows=_rows(cfg, cfg.generations - 1))  # last generation missing
    assert _stored.stored_run("short", cfg) is None
    _write(store / "nosamples", cfg, samples=False)
    assert _stored.stored_run("nosamples", cfg) is None
    assert _stored.stored_run("nosamples", cfg, need_samples=False) == store / "nosamples"


def test_full_is_requested_by_flag_or_environment(monkeypatch):
    class Args:
        full = False

    monkeypatch.delenv("FULL", raising=False)
    assert not _stored.full_requested(Args())
    monkeypatch.setenv("FULL", "1")
    assert _stored.full_requested(Args())
    monkeypatch.setenv("FULL", "0")
    Args.full = True
    assert _stored.full_requested(Args())


def test_reuse_line_names_path_commit_and_date(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "provenance.json").write_text(json.dumps({"commit": "abc1234", "date": "2026-11-30"}))
    line = _stored.reuse_line(folder, "f" * 64)
    assert line.startswith("reused ") and "commit abc1234" in line and "2026-11-30" in line and "ffffffffffff" in line


def test_stored_json_is_reused_only_for_the_same_settings(store):
    settings = {"n": 500, "lambdas": [0.1, 1.0], "chains": 200}
    assert _stored.stored_json("points", settings) is None  # nothing stored yet
    path = _stored.store_json("points", settings, {"model": [[0.1, 1e-4, 1e-6]]}, 1.5, "cmd")
    assert path == store / "points.json"
    assert _stored.stored_json("points", settings) == {"model": [[0.1, 1e-4, 1e-6]]}
    assert _stored.stored_json("points", {**settings, "chains": 100}) is None  # other settings
    assert _stored.stored_json("other", settings) is None
    blob = json.loads(path.read_text())
    assert blob["hash"] == config_hash(settings) and blob["provenance"]["command"] == "cmd"
    line = _stored.reuse_line(path, blob["hash"])
    assert line.startswith("reused ") and blob["provenance"]["date"] in line and blob["hash"][:12] in line


def test_compute_seconds_counts_the_shared_pretraining_once():
    # two chains share a 40 s pretraining (repeated in each generation-0 row), then 2 + 3 s and 5 s
    rows = [
        {"chain": "0", "generation": 0, "seconds": 40.0},
        {"chain": "1", "generation": 0, "seconds": 40.0},
        {"chain": "0", "generation": 1, "seconds": 2.0},
        {"chain": "0", "generation": 2, "seconds": 3.0},
        {"chain": "1", "generation": 1, "seconds": 5.0},
    ]
    assert _stored.compute_seconds(rows) == 50.0
