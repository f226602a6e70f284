"""The core install runs the core paths: nothing outside ``[project] dependencies`` is imported.

A fresh interpreter blocks the modules of the ``experiments`` extra (zuko, scikit-learn, prdc)
with a ``sys.meta_path`` finder, as if they were not installed, then runs ``analyze`` on a 2-D
sample (W1 by POT, a core dependency), ``stability simulate`` and ``stability bound``. The
experiments then fail with an ``ImportError`` that names the extra.
"""

import subprocess
import sys
import textwrap

import pytest

BLOCK = textwrap.dedent(
    """
    import importlib.abc, sys

    EXTRA = ("zuko", "sklearn", "prdc")

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in EXTRA:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
            return None

    sys.meta_path.insert(0, Block())
    """
)


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + textwrap.dedent(code)], capture_output=True, text=True)


@pytest.mark.slow
def test_core_paths_run_without_the_experiments_extra():
    r = _run(
        """
        import numpy as np
        import stability
        from stability.cli import main

        x = np.random.default_rng(0).normal(size=(200, 2))
        report = stability.analyze("gaussian", x, 0.5, w1_points=50)
        assert abs(report.rate_exact - 1 / 3) < 1e-12, report.rate_exact  # lambda / (1 + lambda), THEORY.md
        args = ["--n", "20", "--lambda", "0.5", "--generations", "3", "--chains", "5", "--json"]
        assert main(["simulate", "gaussian", "--dim", "2", *args]) == 0
        assert main(["bound", "--lambda", "0.3", "--eps", "0.05"]) == 0
        assert main(["--help"]) == 0
        print("LOADED", sorted(m for m in ("zuko", "sklearn", "prdc") if m in sys.modules))
        """
    )
    assert r.returncode == 0, r.stderr
    assert "LOADED []" in r.stdout


@pytest.mark.slow
def test_experiments_name_the_missing_extra():
    r = _run(
        """
        from stability.experiments.models import Flow
        try:
            Flow((2,))
        except ImportError as err:
            print("ERR", err)
        """
    )
    assert r.returncode == 0, r.stderr
    assert "ERR zuko is needed for normalizing flows" in r.stdout and "pip install 'stability[experiments]'" in r.stdout


@pytest.mark.slow
def test_the_command_line_says_which_extra_is_missing(tmp_path):
    r = _run(
        f"""
        from stability.cli import main
        argv = ["retrain", "--model", "flow", "--data", "moons", "--profile", "tiny", "--generations", "1"]
        sys.exit(main([*argv, "--out", {str(tmp_path / "run")!r}, "--quiet"]))
        """
    )
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "stability[experiments]" in lines[0], lines
