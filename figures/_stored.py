"""Reuse of the long deep-model runs kept in ``results/cpu/`` (``make figures``; ``FULL=1`` recomputes).

A stored run is a folder ``results/cpu/<name>/`` holding the run's ``config.json`` (configuration
and hash), ``metrics.jsonl``, ``samples.npz`` (the model samples the figure draws: one array per
chain at the last generation) and ``provenance.json`` (commit, date, machine, wall time). A figure
script reuses it only when the stored configuration equals the one it would run (same hash and
same number of generations) and every (chain, generation) row is present; otherwise, or with
``--full`` / ``FULL=1``, it runs the experiment and stores the result for next time.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from stability._io import atomic_bytes, atomic_write_npz, atomic_write_text, config_hash, git_commit

ROOT = Path(__file__).resolve().parent.parent
STORE = ROOT / "results" / "cpu"

__all__ = [
    "STORE",
    "compute_seconds",
    "full_requested",
    "provenance",
    "reuse_line",
    "store_json",
    "stored_json",
    "stored_run",
    "store_run",
    "timer",
]


def full_requested(args) -> bool:
    """``--full`` on the command line or ``FULL=1`` in the environment (``make figures FULL=1``)."""
    return bool(getattr(args, "full", False)) or os.environ.get("FULL", "") not in ("", "0")


def provenance(folder: Path) -> dict:
    """``provenance.json`` of a stored run folder (or the ``provenance`` entry of a stored JSON file);
    for older runs, the commit and date that stored them (git log)."""
    if folder.is_file():
        stored = json.loads(folder.read_text()).get("provenance")
        if stored:
            return stored
    elif (folder / "provenance.json").is_file():
        return json.loads((folder / "provenance.json").read_text())
    try:
        log = subprocess.run(
            ["git", "log", "-1", "--format=%h %cs", "--", str(folder)], cwd=ROOT, capture_output=True, text=True
        )
        commit, date = (log.stdout.split() + ["unknown", "unknown"])[:2]
    except OSError:
        commit, date = "unknown", "unknown"
    return {"commit": commit, "date": date}


def reuse_line(folder: Path, config_hash: str | None = None) -> str:
    """The line a figure prints when it reuses a stored run: path, config hash, commit, date."""
    p = provenance(folder)
    rel = folder.relative_to(ROOT) if folder.is_relative_to(ROOT) else folder
    what = f"config {config_hash[:12]}, " if config_hash else ""
    return f"reused {rel} ({what}commit {p.get('commit', 'unknown')}, {p.get('date', 'unknown')})"


def stored_run(name: str, config, need_samples: bool = True) -> Path | None:
    """``results/cpu/<name>`` if it holds a complete run of ``config`` (a ``RetrainConfig``), else None."""
    from stability.experiments import read_metrics

    folder = STORE / name
    try:
        blob = json.loads((folder / "config.json").read_text())
        if blob["hash"] != config.identity() or blob["config"] != config.to_dict():
            return None
        rows = read_metrics(folder)
    except (OSError, KeyError, ValueError):
        return None
    have = {(r["chain"], r["generation"]) for r in rows}
    need = {(c, g) for c in config.lambdas for g in range(config.generations + 1)}
    if not need <= have:
        return None
    if need_samples:
        if not (folder / "samples.npz").is_file():
            return None
        with np.load(folder / "samples.npz") as z:
            if set(z.files) != set(config.lambdas):
                return None
    return folder


def stored_samples(folder: Path) -> dict[str, np.ndarray]:
    """The last-generation samples of a stored run, by chain."""
    with np.load(folder / "samples.npz") as z:
        return {k: z[k] for k in z.files}


def store_run(name: str, run_dir: Path, samples: dict[str, np.ndarray], seconds: float, command: str) -> Path:
    """Copy a finished run's config and metrics to ``results/cpu/<name>`` with its samples and provenance.

    ``seconds``: the run's compute time (:func:`compute_seconds` of its metrics rows).
    """
    folder = STORE / name
    folder.mkdir(parents=True, exist_ok=True)
    for f in ("config.json", "metrics.jsonl"):
        atomic_bytes((Path(run_dir) / f).read_bytes(), folder / f)
    atomic_write_npz(folder / "samples.npz", **{k: np.asarray(v, dtype=np.float32) for k, v in samples.items()})
    write_provenance(folder, seconds, command)
    print(f"stored {folder.relative_to(ROOT)}")
    return folder


def compute_seconds(rows: list[dict]) -> float:
    """A run's training and evaluation time from its metrics rows: every chain's generation-0 row
    repeats the shared pretraining time, so it is counted once."""
    pretrain = max((r.get("seconds", 0.0) for r in rows if r.get("generation") == 0), default=0.0)
    return pretrain + sum(r.get("seconds", 0.0) for r in rows if r.get("generation") != 0)


def stored_json(name: str, config: dict) -> dict | None:
    """The ``data`` of ``results/cpu/<name>.json`` if it was computed for exactly ``config`` (a plain dict
    of the script's settings: same hash and same dict), else None."""
    try:
        blob = json.loads((STORE / f"{name}.json").read_text())
        if blob["hash"] != config_hash(config) or blob["config"] != json.loads(json.dumps(config)):
            return None
        return blob["data"]
    except (OSError, KeyError, ValueError):
        return None


def store_json(name: str, config: dict, data: dict, seconds: float, command: str) -> Path:
    """Write ``results/cpu/<name>.json``: ``config``, its hash, ``data`` and a ``provenance`` entry."""
    path = STORE / f"{name}.json"
    blob = {"config": config, "hash": config_hash(config), "data": data, "provenance": _provenance(seconds, command)}
    atomic_write_text(json.dumps(blob, indent=1) + "\n", path)
    print(f"stored {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


def write_provenance(folder: Path, seconds: float, command: str) -> None:
    atomic_write_text(json.dumps(_provenance(seconds, command), indent=1) + "\n", folder / "provenance.json")


def _provenance(seconds: float, command: str) -> dict:
    import torch

    return {
        "commit": git_commit(short=True) or "unknown",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "command": command,
        "compute_seconds": round(seconds, 1),  # the run's own training + evaluation time (metrics rows)
        "load_average": round(os.getloadavg()[0], 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}, torch {torch.__version__}",
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
    }


class timer:
    """``with timer("what") as t:`` prints ``what: 12.3 s`` at the end; ``t.seconds`` holds the time."""

    def __init__(self, what: str):
        self.what = what
        self.seconds = 0.0

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t0
        print(f"{self.what}: {self.seconds:.1f} s")
        return False
