"""Shared command line for figure scripts: ``--out DIR``, ``--fast`` (CI's quick mode) and ``--full``."""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")


def parse_args(doc: str, argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("figures/out"), help="output folder")
    parser.add_argument("--fast", action="store_true", help="coarse grids, fewer samples (CI)")
    parser.add_argument(
        "--full", action="store_true", help="recompute long runs instead of reusing results/cpu/ (also: FULL=1)"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def save(fig, args: argparse.Namespace, name: str) -> Path:
    path = args.out / f"{name}.png"
    fig.savefig(path, dpi=90 if args.fast else 150, bbox_inches="tight")
    print(f"wrote {path}")
    return path
