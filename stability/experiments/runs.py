"""Run directories that lose nothing: atomic files, validated checkpoints, resumable chains.

Layout of a run directory::

    config.json                 the run's configuration and its hash
    metrics.jsonl               one JSON row per (chain, generation), rebuilt from the checkpoints
    gen000.pt                   generation 0: the model pretrained on real data (shared by all chains)
    chains/<label>/genNNN.pt    generation NNN of the chain with lambda label <label>
    chains/<label>/genNNN.png   a scatter plot / image grid of that generation's samples

Every file is written atomically (:mod:`._io`), so a killed process leaves either the old file or the new one.
A checkpoint records the format, the config hash, the chain label and the generation; loading
checks all four and raises :class:`CheckpointError` (a ``ValueError``) for a file that is corrupt,
truncated or from another run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .._io import atomic_save, atomic_write_text, config_hash
from ..errors import CorruptRunError
from .config import RetrainConfig, build_model
from .models import parameter_vector

__all__ = [
    "FORMAT",
    "CheckpointError",
    "atomic_save",
    "atomic_write_text",
    "checkpoint_path",
    "config_hash",
    "flow_parameters",
    "load_checkpoint",
    "load_model",
    "load_samples",
    "read_config",
    "read_metrics",
    "sort_rows",
]

FORMAT = "stability-retrain/1"


class CheckpointError(CorruptRunError):
    """A checkpoint that cannot be used: unreadable, truncated, or belonging to another run."""


def checkpoint_path(run_dir, chain: str | None, generation: int) -> Path:
    """Where generation ``generation`` of ``chain`` lives (``chain=None`` or generation 0: pretraining)."""
    run_dir = Path(run_dir)
    if generation == 0 or chain is None:
        return run_dir / "gen000.pt"
    return run_dir / "chains" / chain / f"gen{generation:03d}.pt"


def load_checkpoint(path, expected_hash: str, chain: str | None, generation: int) -> dict:
    """Load and validate a checkpoint; raise :class:`CheckpointError` naming what is wrong."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated / garbage files
        raise CheckpointError(
            f"checkpoint {str(path)!r} is unreadable (corrupt or truncated: {type(err).__name__}); "
            "delete it to recompute that generation"
        ) from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {str(path)!r} is not a {FORMAT} checkpoint")
    if blob.get("config_hash") != expected_hash:
        raise CheckpointError(
            f"checkpoint {str(path)!r} belongs to another run (config hash {str(blob.get('config_hash'))[:12]}, "
            f"this run {expected_hash[:12]})"
        )
    want_chain = None if generation == 0 else chain
    if blob.get("chain") != want_chain or blob.get("generation") != generation:
        raise CheckpointError(
            f"checkpoint {str(path)!r} holds chain {blob.get('chain')!r} generation {blob.get('generation')}, "
            f"expected chain {want_chain!r} generation {generation}"
        )
    for key in ("state_dict", "metrics"):
        if key not in blob:
            raise CheckpointError(f"checkpoint {str(path)!r} lacks {key!r}")
    return blob


def read_config(run_dir) -> dict:
    """The run's ``config.json`` as ``{"config": ..., "hash": ...}``."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise ValueError(f"run_dir {str(run_dir)!r} has no config.json (not a retrain run directory)")
    fix = "restore it or start a new run in another folder"
    try:
        blob = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{str(path)!r} is damaged (not JSON: {err}): {fix}") from None
    if not isinstance(blob, dict) or not isinstance(blob.get("config"), dict) or not isinstance(blob.get("hash"), str):
        raise CheckpointError(f"{str(path)!r} is damaged (expected an object with 'config' and 'hash'): {fix}")
    try:
        same = config_hash(blob["config"]) == blob["hash"]
    except (TypeError, ValueError):
        same = False
    if not same:
        raise CheckpointError(f"{str(path)!r} was edited: its hash does not match its content ({fix})")
    return blob


def sort_rows(rows, chains) -> list[dict]:
    """Rows ordered by chain (in the order of ``chains``) then generation."""
    order = {c: i for i, c in enumerate(chains)}
    return sorted(rows, key=lambda r: (order.get(r["chain"], len(order)), r["generation"]))


def read_metrics(run_dir) -> list[dict]:
    """All rows of ``metrics.jsonl`` (one per chain and generation, generation 0 included),
    ordered by chain (as in the config) then generation."""
    path = Path(run_dir) / "metrics.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sort_rows(rows, read_config(run_dir)["config"]["lambdas"])


def load_model(run_dir, chain: str, generation: int, device: str = "cpu") -> torch.nn.Module:
    """The model of ``chain`` at ``generation`` from a run directory, in eval mode."""
    blob_cfg = read_config(run_dir)
    cfg = RetrainConfig(**blob_cfg["config"])
    blob = load_checkpoint(checkpoint_path(run_dir, chain, generation), blob_cfg["hash"], chain, generation)
    model = build_model(cfg, tuple(blob["shape"]))
    model.load_state_dict(blob["state_dict"])
    return model.to(device).eval()


def load_samples(run_dir, chain: str, generation: int) -> torch.Tensor:
    """The (up to 512) model samples stored with a checkpoint, for scatter plots and image grids."""
    blob_cfg = read_config(run_dir)
    return load_checkpoint(checkpoint_path(run_dir, chain, generation), blob_cfg["hash"], chain, generation)["samples"]


def flow_parameters(run_dir, chain: str) -> np.ndarray:
    """``theta_t`` for ``t = 0..T`` of one chain, shape ``(T + 1, d)`` (float64), from its checkpoints.

    Works for any model kind; the theory applies exactly to flows (docs/theory.md §8). Stops at the
    last generation present, so a run in progress gives the generations done so far.
    """
    lambdas = read_config(run_dir)["config"].get("lambdas", [])
    if chain is not None and chain not in lambdas:
        raise ValueError(f"chain must be one of {lambdas} (the run's lambdas) or None (pretraining), got {chain!r}")
    thetas, g = [], 0
    while checkpoint_path(run_dir, chain, g).is_file() and (chain is not None or g == 0):
        thetas.append(parameter_vector(load_model(run_dir, chain, g)).numpy())
        g += 1
    if not thetas:
        raise ValueError(f"run_dir {str(run_dir)!r} has no checkpoints")
    return np.stack(thetas)
