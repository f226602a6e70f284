"""Shared command line for figure scripts: ``--out DIR``, ``--fast`` (CI's quick mode) and ``--sweep``.

``--sweep`` says where a script's grid of runs goes (:func:`run_grid`, through :mod:`stability.sweeps`):
``serial`` (default, in the script's process), ``local`` (a dask LocalCluster, one worker per core),
``local:N`` or a scheduler address ``tcp://HOST:8786``. Every run has its own explicit seed, so the
figure's numbers are the same wherever it runs.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")


def parse_args(doc: str, argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("figures/out"), help="output folder")
    parser.add_argument("--fast", action="store_true", help="coarse grids, fewer samples (CI)")
    parser.add_argument(
        "--sweep", default="serial", help="where grids of runs go: serial, local, local:N or tcp://HOST:PORT"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def save(fig, args: argparse.Namespace, name: str) -> Path:
    path = args.out / f"{name}.png"
    fig.savefig(path, dpi=90 if args.fast else 150, bbox_inches="tight")
    print(f"wrote {path}")
    return path


def run_grid(args: argparse.Namespace, task: str, base: dict, zipped: dict) -> list[dict]:
    """Metrics of ``task`` for each cell of ``zipped`` (lists varied together) over ``base``, in order.

    Runs through :func:`stability.sweeps.run_sweep` where ``--sweep`` says, with a store in a
    temporary folder (a figure always recomputes); seeds are the cells' own (``seed_arg = ""``).
    """
    from stability.sweeps import load, parse_spec, run_sweep

    where = args.sweep
    kw = {"serial": True} if where == "serial" else {}
    if where == "local" or where.startswith("local:"):
        kw = {"workers": int(where.split(":")[1]) if ":" in where else None}
    elif where.startswith("tcp://"):
        kw = {"scheduler": where}
    elif where != "serial":
        raise SystemExit(f"--sweep: expected serial, local, local:N or tcp://HOST:PORT, got {where!r}")
    with tempfile.TemporaryDirectory() as tmp:
        spec = parse_spec(
            {"task": task, "seed_arg": "", "base": base, "zip": [zipped], "store": str(Path(tmp) / "grid.sqlite")}
        )
        summary = run_sweep(spec, **kw)
        if summary.failed or summary.interrupted:
            raise SystemExit(f"grid failed: {summary.failures[:1] or 'interrupted'}")
        rows = {r["task_id"]: r["metrics"] for r in load(spec.store)}
    return [rows[t.task_id] for t in spec.tasks]
