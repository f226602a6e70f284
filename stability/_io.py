"""Output files: check the destination before any work, write atomically, report the path written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import InputError, OutputError

__all__ = ["atomic_write_npz", "new_file_mode", "output_path"]


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


def atomic_write_npz(path: Path, **arrays) -> None:
    """``numpy.savez_compressed`` to a temporary file next to ``path``, then rename: complete or absent."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, new_file_mode())
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
