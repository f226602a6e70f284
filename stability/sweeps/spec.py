"""Sweep specifications: a TOML file that names a task, its fixed arguments, a grid and a store.

A spec (all keys but ``task`` optional)::

    task = "simulate"            # analyze | simulate | retrain | retrain_chains | "package.module:function"
    seed = 2024                  # root seed of the sweep (integer >= 0, default 0)
    seeds = 3                    # replicates of every cell: an integer >= 1 or a list of distinct integers
    store = "simulate.sqlite"    # results store, relative to the spec file (default: <spec name>.sqlite)
    seed_arg = "seed"            # argument that receives each task's seed ("" for none; default per task)

    [base]                       # arguments shared by every task
    family = "gaussian"
    generations = 50

    [grid]                       # Cartesian product of these lists
    lambda_ = [0.0, 0.5, 1.0]
    n = [100, 1000]

    [[zip]]                      # optional: lists of equal length varied together (one entry per group)
    scheme = ["fixed-real", "replace"]
    chains = [200, 100]

Tasks are the Cartesian product of the grid, the zip groups (each group one axis) and the
replicates, each merged over ``base``. Every task has an identity, ``task_id``: the first 16 hex
digits of the SHA-256 of the canonical JSON of ``{task, args, replicate, seed}`` (sorted keys), so a
task's identity, and its seed, do not depend on the grid's order or on the other cells. A task's
seed is

    ``SeedSequence(entropy=seed, spawn_key=(id0, id1)).generate_state(1, uint64)[0] >> 1``

with ``id0, id1`` the two 32-bit halves of ``task_id`` (a 63-bit integer, so SQLite and torch take it).

A malformed spec raises :class:`SpecError` (a ``ValueError``) whose message starts with the field:
``grid.lambda_: expected a non-empty list, got []``.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import itertools
import json
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["BUILTIN_TASKS", "Spec", "SpecError", "Task", "canonical_json", "load_spec", "task_seed"]

BUILTIN_TASKS = ("analyze", "retrain", "retrain_chains", "simulate")
_TOP_KEYS = {"task", "seed", "seeds", "store", "seed_arg", "base", "grid", "zip", "name"}


class SpecError(ValueError):
    """A malformed sweep specification; the message starts with the offending field."""


def canonical_json(obj) -> str:
    """Sorted-key, compact JSON (``inf`` / ``nan`` as ``Infinity`` / ``NaN``): the text a task id hashes."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True)


def task_seed(sweep_seed: int, task_id: str) -> int:
    """The seed of task ``task_id`` in a sweep with root seed ``sweep_seed`` (see the module docstring).

    >>> task_seed(0, "0123456789abcdef") == task_seed(0, "0123456789abcdef") != task_seed(1, "0123456789abcdef")
    True
    """
    key = (int(task_id[:8], 16), int(task_id[8:16], 16))
    state = np.random.SeedSequence(entropy=sweep_seed, spawn_key=key).generate_state(1, np.uint64)[0]
    return int(state) >> 1


@dataclass(frozen=True)
class Task:
    """One cell of a sweep: what runs on a worker."""

    task_id: str
    task: str
    args: dict
    replicate: int
    sweep_seed: int
    seed: int | None  # the derived seed, None when the task takes none
    seed_arg: str | None

    def call_args(self) -> dict:
        """The arguments the task function is called with (``args`` plus the seed)."""
        return {**self.args, self.seed_arg: self.seed} if self.seed_arg else dict(self.args)


@dataclass(frozen=True)
class Spec:
    """A validated sweep specification (see the module docstring)."""

    task: str
    base: dict
    grid: dict
    zips: tuple
    seed: int = 0
    replicates: tuple = (0,)
    store: Path = Path("sweep.sqlite")
    seed_arg: str | None = None
    name: str = "sweep"
    source: Path | None = None
    tasks: tuple = field(default=(), repr=False)

    @property
    def workdir(self) -> Path:
        """Where tasks that write files (``retrain``) keep them: ``<store>.runs/`` beside the store."""
        return self.store.with_name(self.store.name + ".runs")


# ---------------------------------------------------------------- task signatures


def _resolve_callable(task: str):
    """The function behind ``module:func`` (raising SpecError naming ``task``)."""
    module_name, _, func_name = task.partition(":")
    if not module_name or not func_name:
        raise SpecError(f"task: expected one of {', '.join(BUILTIN_TASKS)} or 'module:function', got {task!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise SpecError(f"task: cannot import module {module_name!r} ({err})") from None
    func = getattr(module, func_name, None)
    if not callable(func):
        raise SpecError(f"task: module {module_name!r} has no function {func_name!r}")
    return func


def _hints(func) -> dict:
    try:
        return typing.get_type_hints(func)
    except Exception:  # unresolved annotations: no type checks
        return {}


def task_parameters(task: str, args: dict) -> tuple[dict | None, str | None]:
    """``(parameters, default seed_arg)`` of a task: parameter name -> type hint (``None``: any name allowed).

    ``args`` (the base merged with the first cell) picks the model of ``analyze`` whose options are checked.
    """
    if task == "simulate":
        from ..dynamics import simulate

        hints = _hints(simulate)
        params = {k: hints.get(k, Any) for k in inspect.signature(simulate).parameters if k != "progress"}
        return params, "seed"
    if task == "analyze":
        return _analyze_parameters(args.get("model")), None
    if task == "retrain":
        from ..experiments import RetrainConfig

        hints = _hints(RetrainConfig)
        params = {f.name: hints.get(f.name, Any) for f in RetrainConfig.__dataclass_fields__.values()}
        params.pop("lambdas")
        return {**params, "lambdas": list | str | float, "profile": str}, "seed"
    if task == "retrain_chains":
        from .tasks import retrain_chains_function

        func = retrain_chains_function()
        if func is None:
            raise SpecError("task: 'retrain_chains' is not available in this version of stability")
        hints = _hints(func)
        sig = inspect.signature(func).parameters
        params = {k: hints.get(k, Any) for k in sig if k not in ("model", "real_sample")}
        return {**params, "model": str, "data": str, "n": int}, "seed"
    else:
        func = _resolve_callable(task)
    sig = inspect.signature(func)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None, "seed" if "seed" in sig.parameters else None
    hints = _hints(func)
    params = {
        k: hints.get(k, Any) for k, p in sig.parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    return params, "seed" if "seed" in sig.parameters else None


def _analyze_parameters(model) -> dict | None:
    from ..report import MODELS

    base = {"model": str, "data": str, "lambda_": float}
    if not isinstance(model, str) or model not in MODELS:
        return None  # the model name varies or is unknown: checked below / when the task runs
    from ..families import FAMILIES

    if model in FAMILIES:
        cls = FAMILIES[model]
    else:
        from ..numerical import BUILTIN_MODELS, models

        cls = getattr(models, BUILTIN_MODELS[model], None) if model in BUILTIN_MODELS else None
    if cls is None:
        return None
    sig = inspect.signature(cls)
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    hints = _hints(cls.__init__)
    return {**base, **{k: hints.get(k, Any) for k in sig.parameters}}


def _type_ok(value, hint) -> bool:
    """Whether a TOML value fits a simple type hint (anything unusual is accepted)."""
    if hint is Any or hint is inspect.Parameter.empty:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is not None:
        hint = origin
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (str, bool, dict):
        return isinstance(value, hint)
    if hint in (list, tuple):
        return isinstance(value, (list, tuple))
    return True


def _type_name(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


# ---------------------------------------------------------------- loading


def _int(field_name: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpecError(f"{field_name}: expected an integer >= {low}, got {value!r}")
    return value


def _table(field_name: str, value) -> dict:
    if not isinstance(value, dict):
        raise SpecError(f"{field_name}: expected a table, got {type(value).__name__} {value!r}")
    return value


def _values(field_name: str, value) -> list:
    if not isinstance(value, list) or not value:
        raise SpecError(f"{field_name}: expected a non-empty list, got {value!r}")
    return value


def load_spec(path) -> Spec:
    """Read and validate a TOML sweep spec (raising :class:`SpecError` naming the field)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise SpecError(f"spec: cannot read {str(path)!r} ({err.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"spec: {path.name} is not valid TOML ({err})") from None
    return parse_spec(data, source=path)


def parse_spec(data: dict, source: Path | None = None) -> Spec:
    """Validate a spec given as a dict (what :func:`load_spec` reads) and expand its tasks."""
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise SpecError(f"{unknown[0]}: unknown key (valid: {', '.join(sorted(_TOP_KEYS))})")
    if "task" not in data:
        raise SpecError("task: missing (analyze, simulate, retrain, retrain_chains or 'module:function')")
    task = data["task"]
    if not isinstance(task, str):
        raise SpecError(f"task: expected a string, got {task!r}")
    if task not in BUILTIN_TASKS and ":" not in task:
        raise SpecError(f"task: unknown task {task!r} (one of {', '.join(BUILTIN_TASKS)} or 'module:function')")
    seed = _int("seed", data.get("seed", 0), 0)
    seeds = data.get("seeds", 1)
    if isinstance(seeds, list):
        replicates = tuple(_int(f"seeds[{i}]", s, 0) for i, s in enumerate(seeds))
        if not replicates or len(set(replicates)) != len(replicates):
            raise SpecError(f"seeds: expected a non-empty list of distinct integers, got {seeds!r}")
    else:
        replicates = tuple(range(_int("seeds", seeds, 1)))
    base = dict(_table("base", data.get("base", {})))
    grid = dict(_table("grid", data.get("grid", {})))
    for key, value in grid.items():
        _values(f"grid.{key}", value)
    zips_raw = data.get("zip", [])
    if isinstance(zips_raw, dict):
        zips_raw = [zips_raw]
    if not isinstance(zips_raw, list):
        raise SpecError(f"zip: expected [[zip]] tables, got {zips_raw!r}")
    zips = []
    for i, group in enumerate(zips_raw):
        group = _table(f"zip[{i}]", group)
        if not group:
            raise SpecError(f"zip[{i}]: empty group")
        lengths = {key: len(_values(f"zip[{i}].{key}", value)) for key, value in group.items()}
        if len(set(lengths.values())) > 1:
            raise SpecError(f"zip[{i}]: lists must have equal lengths, got {lengths}")
        zips.append(dict(group))
    seen = {key: "base" for key in base}
    for where, keys in [("grid", grid)] + [(f"zip[{i}]", g) for i, g in enumerate(zips)]:
        for key in keys:
            if key in seen:
                raise SpecError(f"{where}.{key}: also set in {seen[key]}")
            seen[key] = where

    axes = [[{key: v} for v in values] for key, values in grid.items()]
    axes += [[dict(zip(g, row, strict=True)) for row in zip(*g.values(), strict=True)] for g in zips]
    cells = [dict(base, **{k: v for part in combo for k, v in part.items()}) for combo in itertools.product(*axes)]

    params, default_seed_arg = task_parameters(task, cells[0])
    seed_arg = data.get("seed_arg", default_seed_arg)
    if not isinstance(seed_arg, (str, type(None))):
        raise SpecError(f"seed_arg: expected a string, got {seed_arg!r}")
    seed_arg = seed_arg or None
    if params is not None:
        if seed_arg and seed_arg not in params:
            raise SpecError(f"seed_arg: the task has no argument {seed_arg!r}")
        for key in seen:
            if key not in params or key == seed_arg:
                valid = ", ".join(sorted(p for p in params if p != seed_arg))
                why = "set by the sweep (seed_arg)" if key == seed_arg else f"unknown argument (valid: {valid})"
                raise SpecError(f"{seen[key]}.{key}: {why}")
        for cell in cells:
            for key, value in cell.items():
                if not _type_ok(value, params[key]):
                    raise SpecError(
                        f"{seen[key]}.{key}: expected {_type_name(params[key])}, got {type(value).__name__} {value!r}"
                    )
    elif seed_arg and seed_arg in seen:
        raise SpecError(f"{seen[seed_arg]}.{seed_arg}: set by the sweep (seed_arg)")
    required = {"analyze": ("model", "data", "lambda_"), "retrain": ("model", "data")}
    required["retrain_chains"] = ("model", "data", "lambda_", "generations", "chains")
    for key in required.get(task, ()):
        if any(key not in cell for cell in cells):
            raise SpecError(f"base.{key}: missing ({task} needs {', '.join(required[task])})")

    name = data.get("name", source.stem if source is not None else "sweep")
    if not isinstance(name, str):
        raise SpecError(f"name: expected a string, got {name!r}")
    store = data.get("store", f"{name}.sqlite")
    if not isinstance(store, str) or not store:
        raise SpecError(f"store: expected a file name, got {store!r}")
    store_path = Path(store).expanduser()
    if not store_path.is_absolute() and source is not None:
        store_path = source.resolve().parent / store_path

    tasks = []
    for cell in cells:
        for r in replicates:
            ident = canonical_json({"task": task, "args": cell, "replicate": r, "seed": seed})
            tid = hashlib.sha256(ident.encode()).hexdigest()[:16]
            tasks.append(Task(tid, task, cell, r, seed, task_seed(seed, tid) if seed_arg else None, seed_arg))
    if len({t.task_id for t in tasks}) != len(tasks):
        raise SpecError("grid: the grid repeats a cell (two tasks with the same arguments)")
    return Spec(task, base, grid, tuple(zips), seed, replicates, store_path, seed_arg, name, source, tuple(tasks))


def jsonable_metrics(metrics) -> dict:
    """Check that a task returned a dict of numbers (or lists of numbers); plain Python values."""
    if not isinstance(metrics, dict):
        raise TypeError(f"a sweep task must return a dict of numbers, got {type(metrics).__name__}")

    def number(key, v):
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer)):
            return int(v)
        if isinstance(v, (float, np.floating)):
            return float(v)
        raise TypeError(f"metric {key!r} must be a number or a list of numbers, got {type(v).__name__}")

    out = {}
    for key, value in metrics.items():
        if not isinstance(key, str):
            raise TypeError(f"metric names must be strings, got {key!r}")
        if isinstance(value, (list, tuple, np.ndarray)):
            out[key] = [number(key, v) for v in np.asarray(value).ravel().tolist()]
        else:
            out[key] = number(key, value)
    return out
