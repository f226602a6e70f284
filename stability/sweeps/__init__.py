"""Sweeps: grids of analyses, simulations and retraining runs on dask, with a results store that resumes.

A sweep is a TOML spec (:mod:`.spec`): a task, fixed arguments, a grid, replicates and a store.
:func:`run_sweep` (:mod:`.engine`) runs its pending tasks on ``dask.distributed`` (or serially) and
records each finished task in an SQLite store (:mod:`.store`); :func:`load` reads the store back for
analysis and figures. From the command line: ``stability sweep SPEC.toml``.

dask is needed only to run on a cluster: ``pip install 'stability[distributed]'``.
"""

from .engine import SweepSummary, local_cluster, run_sweep
from .spec import Spec, SpecError, Task, load_spec, parse_spec, task_seed
from .store import ResultStore, StaleRowsWarning, StoreBusyError, load

__all__ = [
    "ResultStore",
    "Spec",
    "SpecError",
    "StaleRowsWarning",
    "StoreBusyError",
    "SweepSummary",
    "Task",
    "load",
    "load_spec",
    "local_cluster",
    "parse_spec",
    "run_sweep",
    "task_seed",
]
