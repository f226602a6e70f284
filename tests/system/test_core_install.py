"""The core install runs the core paths: nothing outside ``[project] dependencies`` is imported.

A fresh interpreter blocks the modules of every extra (torch, POT, sympy, mpmath, matplotlib, zuko,
scikit-learn, prdc, dask) with a ``sys.meta_path`` finder, as if only numpy, scipy and tqdm were
installed, then runs ``bound``, ``analyze`` of exponential families and ``simulate``, from Python
and from the command line. Each path that needs an extra then fails with an ``ImportError`` of one
line that names the extra (``pip install 'stability[...]'``).
"""

import subprocess
import sys
import textwrap

import pytest

BLOCK = textwrap.dedent(
    """
    import importlib.abc, sys

    EXTRA = {blocked!r}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in EXTRA:
                raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
            return None

    sys.meta_path.insert(0, Block())
    """
)


EVERY_EXTRA = ("torch", "ot", "sympy", "mpmath", "matplotlib", "zuko", "sklearn", "prdc", "dask")
EXPERIMENTS_ONLY = ("zuko", "sklearn", "prdc")  # torch installed, the experiments extra not


def _run(code: str, blocked: tuple[str, ...] = EVERY_EXTRA) -> subprocess.CompletedProcess:
    source = BLOCK.replace("{blocked!r}", repr(blocked)) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", source], capture_output=True, text=True)


@pytest.mark.slow
def test_core_paths_run_without_any_extra():
    r = _run(
        """
        import numpy as np
        import stability
        from stability.cli import main

        rng = np.random.default_rng(0)
        report = stability.analyze("gaussian", rng.normal(size=200), 0.5)
        assert abs(report.rate_exact - 1 / 3) < 1e-12, report.rate_exact  # lambda / (1 + lambda), docs/theory.md
        report = stability.analyze("poisson", rng.poisson(3.0, size=200), 0.5)
        assert abs(report.rate_exact - 1 / 3) < 1e-12, report.rate_exact  # the same for every exponential family
        assert stability.bound(0.3, 0.05) < 1  # lambda (1 + L/alpha) < 1 (docs/theory.md): 0.3 * 2 < 1
        result = stability.simulate("poisson", n=50, lambda_=0.5, generations=2, chains=4, seed=0)
        assert result.mean.shape[:2] == (3, 4), result.mean.shape  # generations 0..2, 4 chains
        args = ["--n", "20", "--lambda", "0.5", "--generations", "3", "--chains", "5", "--json"]
        assert main(["simulate", "gaussian", "--dim", "2", *args]) == 0
        assert main(["bound", "--lambda", "0.3", "--eps", "0.05"]) == 0
        assert main(["--help"]) == 0
        print("LOADED", sorted(m for m in EXTRA if m in sys.modules))
        """
    )
    assert r.returncode == 0, r.stderr
    assert "LOADED []" in r.stdout


@pytest.mark.slow
@pytest.mark.torch  # torch installed, the experiments extra not
def test_experiments_name_the_missing_extra():
    r = _run(
        """
        from stability.experiments.models import Flow
        try:
            Flow((2,))
        except ImportError as err:
            print("ERR", err)
        """,
        EXPERIMENTS_ONLY,
    )
    assert r.returncode == 0, r.stderr
    assert "ERR zuko is needed for normalizing flows" in r.stdout and "pip install 'stability[experiments]'" in r.stdout


# (code run with every extra blocked, the extra its one-line error must name)
MISSING = {
    "numerical model": ("stability.analyze('laplace', np.zeros(20) + np.arange(20), 0.5)", "numerical"),
    "numerical module": ("stability.numerical.Retraining", "numerical"),
    "retrain_chains": ("stability.retrain_chains", "numerical"),
    "W1 in 2-D": ("stability.analyze('gaussian', np.eye(20, 2) + np.arange(20)[:, None], 0.5)", "ot"),
    "experiments": ("from stability.experiments import Flow", "experiments"),
    "proofs_check": ("import proofs_check", "proofs"),
}


@pytest.mark.slow
def test_each_missing_extra_gives_one_line_naming_it():
    cases = "".join(
        f"try:\n    {code}\nexcept ImportError as err:\n    print({key!r}, '::', err)\n"
        f"else:\n    print({key!r}, ':: no error')\n"
        for key, (code, _) in MISSING.items()
    )
    r = _run("import numpy as np\nimport stability\n" + cases)
    assert r.returncode == 0, r.stderr
    said = dict(line.split(" :: ", 1) for line in r.stdout.splitlines() if " :: " in line)
    for key, (_, extra) in MISSING.items():
        assert f"pip install 'stability[{extra}]'" in said[key], (key, said[key])


@pytest.mark.slow
@pytest.mark.torch  # torch installed, the experiments extra not
def test_the_command_line_says_which_extra_is_missing(tmp_path):
    r = _run(
        f"""
        from stability.cli import main
        argv = ["retrain", "--model", "flow", "--data", "moons", "--profile", "tiny", "--generations", "1"]
        sys.exit(main([*argv, "--out", {str(tmp_path / "run")!r}, "--quiet"]))
        """,
        EXPERIMENTS_ONLY,
    )
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "stability[experiments]" in lines[0], lines
