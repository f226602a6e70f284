"""Files the library writes: check the destination first, write atomically, hash a configuration, record
the commit.

The one I/O module of the package (and of ``figures/`` and ``studies/``):

- :func:`output_path` checks a destination before any work;
- :func:`atomic_bytes` (and :func:`atomic_write_text`, :func:`atomic_write_npz`, :func:`atomic_save` on
  it) writes to a temporary name in the same folder, flushes, fsyncs and moves it into place with
  :func:`os.replace`, so a killed process leaves either the old file or the new one;
- :func:`config_hash` is the SHA-256 of a configuration's canonical JSON (sorted keys), the identity
  of a stored run; :func:`sha256_hex` and :func:`file_sha256` hash text, bytes and files;
- :func:`git_commit` reads the checkout's commit once per process (provenance records).

Nothing here knows about models, configurations or checkpoints.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .errors import InputError, OutputError

__all__ = [
    "atomic_bytes",
    "atomic_save",
    "atomic_write_npz",
    "atomic_write_text",
    "config_hash",
    "file_sha256",
    "git_commit",
    "new_file_mode",
    "output_path",
    "sha256_hex",
]

ROOT = Path(__file__).resolve().parents[1]
# the code whose changes make a commit "+dirty" (stored results and docs do not: a figure run that
# stores its results in results/ is still a run of the committed code)
CODE_PATHS = ("stability", "figures", "studies", "Makefile", "pyproject.toml")


def output_path(path, name: str, suffix: str | None = None) -> Path:
    """The file ``path`` will be written to (``suffix`` appended if missing), after checking it can be.

    Raises :class:`~stability.errors.InputError` for an empty name and
    :class:`~stability.errors.OutputError` naming ``name`` when the folder does not exist, is not a
    folder or is not writable, or when ``path`` is a folder.
    """
    if path is None or str(path).strip() == "":
        raise InputError(f"{name} must be a file name, got {str(path)!r}", param=name)
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{name} {str(p)!r} is a folder: give a file name inside it", param=name)
    if suffix and p.suffix != suffix:
        p = p.with_name(p.name + suffix)
    parent = p.parent
    if p.is_dir():
        raise OutputError(f"{name} {str(p)!r} is a folder: give a file name inside it", param=name)
    if not parent.exists():
        raise OutputError(f"{name} {str(p)!r}: folder {str(parent)!r} does not exist (create it first)", param=name)
    if not parent.is_dir():
        raise OutputError(f"{name} {str(p)!r}: {str(parent)!r} is a file, not a folder", param=name)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{name} {str(p)!r}: no permission to write in folder {str(parent)!r}", param=name)
    return p


def new_file_mode() -> int:
    """The mode ``open()`` gives a new file: ``0o666`` less the process umask.

    :func:`tempfile.mkstemp` creates its file with mode 0600 whatever the umask; an atomic write
    sets this mode on the temporary file so that the renamed output is like any other file.
    """
    try:
        with open("/proc/self/status") as f:  # Linux >= 4.7: read without changing the umask
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return 0o666 & ~mask


def _atomic(path, write: Callable) -> None:
    """``write(f)`` into a temporary file next to ``path`` (its folder created), fsync, ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, new_file_mode())  # mkstemp's 0600 -> the umask's mode, as open() would give
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_bytes(data: bytes, path) -> None:
    """Write ``data`` to ``path`` atomically: complete or absent (the old file kept)."""
    _atomic(path, lambda f: f.write(data))


def atomic_write_text(text: str, path) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_bytes(text.encode(), path)


def atomic_write_npz(path, **arrays) -> None:
    """``numpy.savez_compressed(path, **arrays)`` atomically."""
    _atomic(path, lambda f: np.savez_compressed(f, **arrays))


def atomic_save(obj, path) -> None:
    """``torch.save(obj)`` to ``path`` atomically (torch is imported here, on first use)."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_bytes(buf.getvalue(), path)


def sha256_hex(data: str | bytes) -> str:
    """SHA-256 (64 hex digits) of ``data`` (text is hashed as UTF-8)."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def file_sha256(path) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks of 1 MiB."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def config_hash(config: dict, *, omit=("generations",), digits: int = 64) -> str:
    """SHA-256 of ``json.dumps(config, sort_keys=True)`` without the keys ``omit``: a stored run's identity.

    The default leaves ``generations`` out, so that a finished run can be extended by resuming it with
    more; ``digits``: the length of the hex prefix kept (64: all of it).

    >>> config_hash({"b": 1, "a": [2.0], "generations": 5}) == config_hash({"a": [2.0], "b": 1})
    True
    >>> config_hash({"a": 1}, digits=16)
    'f9d86028c6e0d64e'
    """
    rest = {k: v for k, v in config.items() if k not in omit}
    return sha256_hex(json.dumps(rest, sort_keys=True))[: int(digits)]


@functools.cache
def _head() -> tuple[str, bool] | None:
    """``(commit, dirty)`` of the checkout holding this package, read once; None outside a git checkout."""
    git = ["git", "-C", str(ROOT)]
    try:
        head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if head.returncode != 0 or not head.stdout.strip():
            return None
        status = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip(), bool(status.stdout.strip())


def git_commit(*, short: bool = False) -> str | None:
    """The checkout's commit (40 hex digits, or 10 with ``short``), with ``+dirty`` when the tracked code
    (:data:`CODE_PATHS`) differs from it; None outside a git checkout (an installed copy).

    git runs once per process (:func:`functools.cache`); every provenance record reads it here.
    """
    head = _head()
    if head is None:
        return None
    commit, dirty = head
    return (commit[:10] if short else commit) + ("+dirty" if dirty else "")
