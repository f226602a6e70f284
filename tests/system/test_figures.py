"""Every figure script runs in fast mode and writes its PNG (CI's quick mode of `make figures`)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIGURES = sorted((ROOT / "figures").glob("fig_*.py"))
# a script's sys.path[0] is figures/, so without this it would import whichever stability is installed
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


@pytest.mark.slow
@pytest.mark.parametrize("script", FIGURES, ids=[p.stem for p in FIGURES])
def test_figure_script_runs_fast(script, tmp_path):
    r = subprocess.run(
        [sys.executable, str(script), "--fast", "--out", str(tmp_path)], capture_output=True, text=True, env=ENV
    )
    assert r.returncode == 0, r.stderr
    pngs = list(tmp_path.glob("*.png"))
    assert pngs, r.stdout
    assert all(p.stat().st_size > 1000 for p in pngs)
