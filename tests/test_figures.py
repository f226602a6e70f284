"""Every figure script runs in fast mode and writes its PNG (CI's quick mode of `make figures`)."""

import subprocess
import sys
from pathlib import Path

import pytest

FIGURES = sorted((Path(__file__).parent.parent / "figures").glob("fig_*.py"))


@pytest.mark.parametrize("script", FIGURES, ids=[p.stem for p in FIGURES])
def test_figure_script_runs_fast(script, tmp_path):
    r = subprocess.run([sys.executable, str(script), "--fast", "--out", str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    pngs = list(tmp_path.glob("*.png"))
    assert pngs, r.stdout
    assert all(p.stat().st_size > 1000 for p in pngs)
