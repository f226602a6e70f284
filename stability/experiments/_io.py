"""The I/O names the run-directory modules import: all defined once in :mod:`stability._io`.

(Kept so that ``from ._io import ...`` in :mod:`.config` and :mod:`.loop` keeps working; new code imports
:mod:`stability._io` directly.)
"""

from .._io import atomic_bytes, atomic_save, atomic_write_text, config_hash

__all__ = ["atomic_bytes", "atomic_save", "atomic_write_text", "config_hash"]
