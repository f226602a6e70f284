"""Atomic file writes and configuration hashing: the leaf the run-directory modules build on.

Every file is written to a temporary name in the same folder, flushed, fsync'd and moved into
place with :func:`os.replace`, so a killed process leaves either the old file or the new one.
Nothing here knows about models, configurations or checkpoints.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from pathlib import Path

from .._io import new_file_mode

__all__ = ["atomic_bytes", "atomic_save", "atomic_write_text", "config_hash"]


def atomic_bytes(data: bytes, path) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, fsync, ``os.replace``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, new_file_mode())  # mkstemp's 0600 -> the umask's mode, as open() would give
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_save(obj, path) -> None:
    """``torch.save(obj)`` to ``path`` atomically."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_bytes(buf.getvalue(), path)


def atomic_write_text(text: str, path) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_bytes(text.encode(), path)


def config_hash(config: dict) -> str:
    """SHA-256 of the canonical JSON of ``config`` (sorted keys) without ``generations``: the run's identity.

    ``generations`` is left out so that a finished run can be extended by resuming it with more.
    """
    rest = {k: v for k, v in config.items() if k != "generations"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True).encode()).hexdigest()
