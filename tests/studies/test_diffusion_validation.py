"""The stored diffusion / flow-matching study (issue 22) and its figure: keys, checks, reading only.

``results/cpu/diffusion_validation`` is written by ``studies/diffusion_validation.py``; these tests read it and
recompute the Done-when checks from the stored numbers themselves (not with the study's ``checks``).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "results" / "cpu" / "diffusion_validation"
ISSUE_KEYS = {
    "model", "data", "lambda", "n", "d", "grad_rel", "self_consistency", "bias_loss", "rate_exact", "observed_ratio",
    "observed_ratio_slowest", "linear_ratio", "excess_pred", "excess_obs", "excess_se", "excess_obs_budget",
}  # fmt: skip
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


def _rows():
    return json.loads((STUDY / "summary.json").read_text())


def test_summary_rows_have_the_issue_keys_and_honest_checks():
    rows = _rows()
    base = [r for r in rows if r["beta"] == 0.01]
    # every (model, data, lambda) of the issue's grid has a row: 2 models x 2 data sets x 5 lambdas
    assert {(r["model"], r["data"], r["lambda"]) for r in base} == {
        (m, d, lam) for m in ("ddpm", "cfm") for d in ("moons", "eight_gaussians") for lam in (0.25, 0.5, 1, 2, 4)
    }
    for r in rows:
        assert ISSUE_KEYS <= set(r), r
        assert r["grad_rel"] <= 1e-10  # theta_hat a true minimum
        if r["rate_exact"] is None:  # no fixed point: the stored reason names it
            assert "continuation stalled" in r["error"] and "spectral radius of J" in r["error"]
            continue
        c = r["checks"]
        if r["observed_ratio"] is not None:
            assert c["ok_slowest"] == (abs(r["observed_ratio_slowest"] / r["rate_exact"] - 1) <= 0.03)
            assert c["ok_random"] == (abs(r["observed_ratio"] / r["linear_ratio"] - 1) <= 0.03)
        if r["excess_obs"] is not None:
            tol = 4 * r["excess_se"] + 0.05 * abs(r["excess_pred"])
            assert c["ok_excess"] == (abs(r["excess_obs"] - r["excess_pred"]) <= tol)


def test_the_three_missing_rows_are_folds():
    # where no fixed point exists on the branch from theta_hat, J's spectral radius at the last point reached is
    # near 1 (a fold) or the round's Hessian A + lambda H stopped being positive definite
    missing = [r for r in _rows() if r["rate_exact"] is None]
    assert {(r["model"], r["data"], r["lambda"], r["beta"]) for r in missing} == {
        ("ddpm", "moons", 4.0, 0.01), ("cfm", "eight_gaussians", 4.0, 0.01), ("ddpm", "eight_gaussians", 1.0, 0.03),
    }  # fmt: skip
    for r in missing:
        radius = float(r["error"].split("spectral radius of J is ")[1].split(")")[0])
        assert radius > 0.99 or "A + lambda H is not positive definite" in r["error"]


def test_study_help_runs():
    r = subprocess.run(
        [sys.executable, str(ROOT / "studies" / "diffusion_validation.py"), "--help"],
        capture_output=True, text=True, env=ENV, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0 and "--stages" in r.stdout and "--beta" in r.stdout, r.stderr


@pytest.mark.slow
def test_figure_reads_only_the_stored_study(tmp_path):
    # the figure computes nothing: it runs without torch (blocked) and says it reused the stored study
    code = (
        "import sys, runpy; sys.modules['torch'] = None; "
        f"sys.argv = ['fig', '--out', {str(tmp_path)!r}, '--full']; "
        f"sys.path.insert(0, {str(ROOT / 'figures')!r}); "
        f"runpy.run_path({str(ROOT / 'figures' / 'fig_diffusion_contraction.py')!r}, run_name='__main__')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "computes nothing" in r.stdout
    assert (tmp_path / "fig_diffusion_contraction.png").stat().st_size > 10_000
