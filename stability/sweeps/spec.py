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

**Values are normalised before hashing**: an integer given for an argument the task declares
``float`` is converted (``lambda_ = 1`` and ``lambda_ = 1.0`` are the same task), and a list that
repeats a value (``[1, 1.0]``) is refused naming the field. **Input files are part of the
identity**: every string argument that names an existing file (relative to the spec's folder) adds
the SHA-256 of the file's bytes to the hashed JSON (``"inputs": {"data": "<sha256>"}``, only when
there is such an argument), and the row records the path and hash; editing a data file therefore
makes new tasks, and :func:`~stability.sweeps.store.load` reports the old rows as stale.

Tasks are built lazily (:attr:`Spec.tasks` is a sequence that makes each task when asked), so a
grid's size costs nothing until its tasks are used; :func:`~stability.sweeps.engine.run_sweep`
refuses grids above :data:`~stability.sweeps.engine.MAX_TASKS` tasks with an estimate.

**A spec file is code.** ``task = "package.module:function"`` imports the module and calls the
function with the spec's arguments on every worker: anything importable runs, with your
permissions. Run only spec files you trust. (A ``--dry-run`` does not import it: its arguments are
then checked when the sweep runs.)

A malformed spec raises :class:`SpecError` (a ``ValueError``) whose message starts with the field:
``grid.lambda_: expected a non-empty list, got []``.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import math
import sys
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import file_sha256, sha256_hex

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "BUILTIN_TASKS",
    "Spec",
    "SpecError",
    "Task",
    "canonical_json",
    "file_sha256",
    "identity_filter",
    "load_spec",
    "task_seed",
]

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


def _task_id(task: str, args: dict, replicate: int, seed: int, inputs: dict) -> str:
    """First 16 hex digits of SHA-256 of the canonical JSON of the task (module docstring)."""
    ident = {"task": task, "args": args, "replicate": replicate, "seed": seed}
    if inputs:
        ident["inputs"] = {k: v["sha256"] for k, v in inputs.items()}
    return sha256_hex(canonical_json(ident))[:16]


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
    inputs: dict = field(default_factory=dict)  # argument -> {"path", "sha256"} of the files it names

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
    inputs: dict = field(default_factory=dict, repr=False)  # "key=<json value>" -> {"path", "sha256"}

    @property
    def workdir(self) -> Path:
        """Where tasks that write files (``retrain``) keep them: ``<store>.runs/`` beside the store."""
        return self.store.with_name(self.store.name + ".runs")

    @property
    def tasks(self) -> _Tasks:
        """The tasks, a sequence built lazily (``len``, indexing and iteration make only what is asked)."""
        return _Tasks(self)

    def _axes(self) -> list[list[dict]]:
        axes = [[{key: v} for v in values] for key, values in self.grid.items()]
        return axes + [[dict(zip(g, row, strict=True)) for row in zip(*g.values(), strict=True)] for g in self.zips]

    def _make(self, cell: dict, replicate: int) -> Task:
        inputs = {k: self.inputs[_input_key(k, v)] for k, v in cell.items() if _input_key(k, v) in self.inputs}
        tid = _task_id(self.task, cell, replicate, self.seed, inputs)
        seed = task_seed(self.seed, tid) if self.seed_arg else None
        return Task(tid, self.task, cell, replicate, self.seed, seed, self.seed_arg, inputs)

    def identity(self) -> dict:
        """What makes a row of the store this spec's: task, seed, replicates, base, grid, zips and
        the hashes of its input files (the store records it; :func:`identity_filter` reads it)."""
        return {
            "task": self.task,
            "seed": self.seed,
            "replicates": list(self.replicates),
            "base": self.base,
            "grid": self.grid,
            "zips": [dict(g) for g in self.zips],
            "inputs": self.inputs,
        }


def _input_key(key: str, value) -> str:
    return f"{key}={canonical_json(value)}"


class _Tasks(Sequence):
    """The tasks of a spec in grid order (replicates innermost), each made when asked."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.axes = spec._axes()
        self.cells = math.prod(len(a) for a in self.axes)

    def __len__(self) -> int:
        return self.cells * len(self.spec.replicates)

    def _cell(self, combo) -> dict:
        return dict(self.spec.base, **{k: v for part in combo for k, v in part.items()})

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("task index out of range")
        ci, r = divmod(i, len(self.spec.replicates))
        combo = []
        for axis in reversed(self.axes):  # itertools.product order: the last axis varies fastest
            ci, j = divmod(ci, len(axis))
            combo.append(axis[j])
        return self.spec._make(self._cell(reversed(combo)), self.spec.replicates[r])

    def __iter__(self) -> Iterator[Task]:
        for combo in itertools.product(*self.axes):
            cell = self._cell(combo)
            for r in self.spec.replicates:
                yield self.spec._make(cell, r)


def identity_filter(identity: dict) -> Callable[[dict], bool]:
    """A test of whether a store row (a dict of :func:`~stability.sweeps.store.load`) is a task of
    the spec whose :meth:`Spec.identity` is ``identity``: its arguments are a cell of the grid, its
    replicate and seed the spec's, and its id the one the spec gives it (so the input files are the same)."""
    cj = canonical_json
    base = {k: cj(v) for k, v in identity["base"].items()}
    grid = {k: {cj(v) for v in vals} for k, vals in identity["grid"].items()}
    zips = [(tuple(g), {tuple(cj(v) for v in row) for row in zip(*g.values(), strict=True)}) for g in identity["zips"]]
    keys = set(base) | set(grid) | {k for g, _ in zips for k in g}
    reps, inputs = set(identity["replicates"]), identity.get("inputs", {})

    def member(row: dict) -> bool:
        args = row["args"]
        if row["task"] != identity["task"] or row["sweep_seed"] != identity["seed"] or row["replicate"] not in reps:
            return False
        if set(args) != keys or any(cj(args[k]) != v for k, v in base.items()):
            return False
        if any(cj(args[k]) not in vals for k, vals in grid.items()):
            return False
        if any(tuple(cj(args[k]) for k in g) not in rows for g, rows in zips):
            return False
        used = {k: inputs[_input_key(k, v)] for k, v in args.items() if _input_key(k, v) in inputs}
        return _task_id(row["task"], args, row["replicate"], row["sweep_seed"], used) == row["task_id"]

    return member


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
    from ..numerical import BUILTIN_MODELS

    # the registered model's class: a family's closed forms, or a torch model (its class loaded on demand)
    cls = FAMILIES[model] if model in FAMILIES else (BUILTIN_MODELS[model]() if model in BUILTIN_MODELS else None)
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


def load_spec(path, *, resolve: bool = True) -> Spec:
    """Read and validate a TOML sweep spec (raising :class:`SpecError` naming the field).

    ``resolve=False`` does not import the function of a ``module:function`` task (a dry run):
    its arguments are then not checked against its signature.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise SpecError(f"spec: cannot read {str(path)!r} ({err.strerror})") from None
    except UnicodeDecodeError:
        raise SpecError(f"spec: {path.name} is not a text file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"spec: {path.name} is not valid TOML ({err})") from None
    return parse_spec(data, source=path, resolve=resolve)


def _float_hint(hint) -> bool:
    """Whether a type hint asks for a float and not an int (an int value is then converted)."""
    if hint is float:
        return True
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        return float in args and int not in args
    return False


def _normalise(value, hint):
    if _float_hint(hint) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _same_key(value) -> str:
    """Equal values give equal keys: ``1`` and ``1.0`` (a float that is an integer) compare as one."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return canonical_json(value)


def _file_argument(value, base_dir: Path | None) -> Path | None:
    """The file a string argument names (relative to the spec's folder), or None."""
    if not isinstance(value, str) or not value or len(value) > 4096 or "\0" in value or "\n" in value:
        return None
    p = Path(value).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    try:
        return p.resolve() if p.is_file() else None
    except OSError:
        return None


def parse_spec(data: dict, source: Path | None = None, *, resolve: bool = True) -> Spec:
    """Validate a spec given as a dict (what :func:`load_spec` reads); its tasks are built lazily."""
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

    first = dict(base, **{k: v[0] for k, v in grid.items()}, **{k: v[0] for g in zips for k, v in g.items()})
    if resolve or task in BUILTIN_TASKS:
        params, default_seed_arg = task_parameters(task, first)
    else:  # a dry run does not import the task's module: nothing to check the arguments against
        params, default_seed_arg = None, None
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
    elif seed_arg and seed_arg in seen:
        raise SpecError(f"{seen[seed_arg]}.{seed_arg}: set by the sweep (seed_arg)")

    def checked(key, value):  # every value comes from one place (base, a grid list or a zip list): check it once
        if params is None:
            return value
        if not _type_ok(value, params[key]):
            raise SpecError(
                f"{seen[key]}.{key}: expected {_type_name(params[key])}, got {type(value).__name__} {value!r}"
            )
        return _normalise(value, params[key])

    base = {k: checked(k, v) for k, v in base.items()}
    grid = {k: [checked(k, v) for v in values] for k, values in grid.items()}
    zips = [{k: [checked(k, v) for v in values] for k, values in g.items()} for g in zips]
    for key, values in grid.items():
        _no_repeats(f"grid.{key}", [(v,) for v in values], data["grid"][key])
    for i, g in enumerate(zips):
        _no_repeats(f"zip[{i}]", list(zip(*g.values(), strict=True)), None)

    required = {"analyze": ("model", "data", "lambda_"), "retrain": ("model", "data")}
    required["retrain_chains"] = ("model", "data", "lambda_", "generations", "chains")
    for key in required.get(task, ()):
        if key not in seen:
            raise SpecError(f"base.{key}: missing ({task} needs {', '.join(required[task])})")

    name = data.get("name", source.stem if source is not None else "sweep")
    if not isinstance(name, str):
        raise SpecError(f"name: expected a string, got {name!r}")
    store = data.get("store", f"{name}.sqlite")
    if not isinstance(store, str) or not store:
        raise SpecError(f"store: expected a file name, got {store!r}")
    store_path = Path(store).expanduser()
    base_dir = source.resolve().parent if source is not None else None
    if not store_path.is_absolute() and base_dir is not None:
        store_path = base_dir / store_path

    if task == "retrain_chains":
        _check_sample_sizes(base, grid, zips, seen, base_dir)

    inputs = {}
    values = [(k, v) for k, v in base.items()] + [(k, v) for k, vs in grid.items() for v in vs]
    values += [(k, v) for g in zips for k, vs in g.items() for v in vs]
    for key, value in values:
        path = _file_argument(value, base_dir)
        if path is not None and _input_key(key, value) not in inputs:
            try:
                inputs[_input_key(key, value)] = {"path": str(path), "sha256": file_sha256(path)}
            except OSError as err:
                raise SpecError(f"{seen[key]}.{key}: cannot read {str(path)!r} ({err.strerror})") from None
    return Spec(task, base, grid, tuple(zips), seed, replicates, store_path, seed_arg, name, source, inputs)


def _check_sample_sizes(base: dict, grid: dict, zips: list, seen: dict, base_dir: Path | None) -> None:
    """``retrain_chains``: refuse an ``n`` larger than the rows of the ``.npy`` file it is paired with
    (the real sample is the file's first ``n`` rows; a larger ``n`` would be recorded but not used)."""
    if "n" not in seen or "data" not in seen:
        return
    group = next((g for g in zips if "n" in g and "data" in g), None)
    if group is not None:
        pairs = list(zip(group["data"], group["n"], strict=True))
    else:

        def values(key):
            if key in base:
                return [base[key]]
            if key in grid:
                return grid[key]
            return next(g[key] for g in zips if key in g)

        pairs = list(itertools.product(values("data"), values("n")))
    rows = {}
    for data, n in pairs:
        path = _file_argument(data, base_dir)
        if path is None or path.suffix != ".npy" or not isinstance(n, int):
            continue  # distributions are sampled at any n; other files are checked when the task runs
        if path not in rows:
            try:
                rows[path] = int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0])
            except Exception:  # unreadable or 0-d: the task reports it when it runs
                rows[path] = None
        if rows[path] is not None and n > rows[path]:
            raise SpecError(
                f"{seen['n']}.n: {n} is more than the {rows[path]} points of data file {data!r} (the real sample is "
                "the file's first n rows)"
            )


def _no_repeats(field_name: str, rows: list, raw) -> None:
    """Refuse a list (or zip group) that gives the same value twice: it would be the same task."""
    first = {}
    for j, row in enumerate(rows):
        key = tuple(_same_key(v) for v in row)
        if key in first:
            i = first[key]
            a, b = (raw[i], raw[j]) if raw is not None else (rows[i], rows[j])
            same = "" if canonical_json(a) == canonical_json(b) else f" ({a!r} and {b!r} are the same value)"
            what = f"the value {b!r}" if raw is not None else f"row {j} repeats row {i}"
            raise SpecError(f"{field_name}: {what} appears twice{same}: the grid would repeat a task")
        first[key] = j


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
