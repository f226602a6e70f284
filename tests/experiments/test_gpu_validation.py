"""The image-scale check (`make gpu-validation`) on the CPU: its tiny profile writes every artefact, a
call stopped by its time budget is continued by the next one to the numbers of an uninterrupted run,
and the path runs without the experiments extra (zuko, scikit-learn, prdc) and without POT, as on
the GPU machine."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from stability.experiments import gpu_validation as gv
from stability.experiments.loop import _predicted_seconds

ROOT = Path(__file__).resolve().parents[2]

# the modules the GPU machine lacks (and scikit-learn, which the path must not need either)
BLOCK = textwrap.dedent(
    """
    import importlib.abc, importlib.machinery, sys
    class _Fail(importlib.abc.Loader):  # found (torch's dynamo probes find_spec), but importing fails
        def create_module(self, spec):
            raise ModuleNotFoundError(f"No module named {spec.name!r} (blocked by the test)", name=spec.name)
        def exec_module(self, module):
            pass
    class _Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("zuko", "ot", "prdc", "sklearn"):
                return importlib.machinery.ModuleSpec(name, _Fail())
    sys.meta_path.insert(0, _Block())
    from stability.cli import main
    code = main(sys.argv[1:])
    print("LOADED", sorted(m for m in ("zuko", "ot", "prdc", "sklearn") if m in sys.modules))
    sys.exit(code)
    """
)


def _images(path):
    """300 labelled 28x28 images: scikit-learn's 8x8 digits, each pixel a 3x3 block, padded by 2."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = np.kron(bunch.images[:300], np.ones((3, 3)))  # (300, 24, 24), values 0..16
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    np.savez(path, images=np.round(x * 255 / 16).astype(np.uint8), labels=bunch.target[:300])
    return path


def _cli(*args, env_extra=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env_extra or {})}
    cmd = [sys.executable, "-c", BLOCK, "gpu-validation", "--profile", "tiny", "--device", "cpu", "--quiet", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def _rows(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.mark.slow
def test_tiny_profile_artefacts_and_resume_after_the_time_budget(tmp_path):
    data = _images(tmp_path / "digits28.npz")
    full, cut = tmp_path / "full", tmp_path / "cut"
    chains, gens = gv.LAMBDAS, gv.PROFILES["tiny"]["generations"]

    r = _cli("--data", str(data), "--out", str(full))  # uninterrupted
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("complete: 8 of 8 generations"), r.stdout
    assert "LOADED []" in r.stdout  # none of zuko, POT, prdc, scikit-learn was imported

    # a budget already spent: each call does exactly one step (pretraining, then one generation) and stops
    r1 = _cli("--data", str(data), "--out", str(cut), "--time-budget", "1e-6")
    r2 = _cli("--data", str(data), "--out", str(cut), "--time-budget", "1e-6")
    for r in (r1, r2):
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("stopped before the time budget"), r.stdout
        assert "run the same command again to continue" in r.stdout
    assert "0 of 8 generations done, 8 remain (generations 1-2: every chain)" in r1.stdout
    assert "1 of 8 generations done, 7 remain (generation 1: 0.5, 1, replace; generation 2: every chain)" in r2.stdout
    run_dir = cut / "ddpm_digits28"
    assert [(r["chain"], r["generation"]) for r in _rows(run_dir) if r["generation"] > 0] == [("0", 1)]
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["status"] == "incomplete" and len(prov["remaining"]) == 7 and len(prov["calls"]) == 2
    r3 = _cli("--data", str(data), "--out", str(cut))  # continues, does not restart
    assert r3.returncode == 0 and r3.stdout.startswith("complete"), r3.stderr
    prov = json.loads((run_dir / "provenance.json").read_text())
    assert prov["status"] == "complete" and len(prov["calls"]) == 3
    # the third call computed 7 generations and no pretraining: it resumed
    assert [s["step"] for s in prov["calls"][2]["steps"] if s["step"] not in ("open", "metrics")] == [
        f"{c} gen {g}" for g in range(1, gens + 1) for c in chains if (c, g) != ("0", 1)
    ]

    # same numbers as the uninterrupted run (CPU, one thread: every draw is seeded by (seed, chain, generation))
    assert _rows(run_dir) == _rows(full / "ddpm_digits28")
    for chain in chains:
        a = torch.load(run_dir / "chains" / chain / f"gen{gens:03d}.pt", weights_only=True)["state_dict"]
        b = torch.load(full / "ddpm_digits28" / "chains" / chain / f"gen{gens:03d}.pt", weights_only=True)
        assert all(torch.equal(a[k], b["state_dict"][k]) for k in a)

    # every artefact: metrics per generation, samples, provenance, checkpoints
    rows = _rows(run_dir)
    assert {(r["chain"], r["generation"]) for r in rows} == {(c, g) for c in chains for g in range(gens + 1)}
    assert all({"fd", "precision", "recall", "param_dist"} <= set(r) for r in rows)
    assert all(np.isfinite(r["fd"]) and 0 <= r["precision"] <= 1 and 0 <= r["recall"] <= 1 for r in rows)
    for chain in chains:
        for g in range(1, gens + 1):
            assert (run_dir / "chains" / chain / f"gen{g:03d}.pt").is_file()
            assert (run_dir / "chains" / chain / f"gen{g:03d}.png").is_file()
    assert (run_dir / "gen000.pt").is_file() and (run_dir / "gen000.png").is_file()
    with np.load(run_dir / "samples_by_generation.npz") as z:
        keys = {"pretrained_gen000"} | {f"{c}_gen{g:03d}" for c in chains for g in range(1, gens + 1)}
        assert set(z.files) == keys
        assert z["replace_gen002"].dtype == np.uint8 and z["replace_gen002"].shape[1:] == (1, 28, 28)
    with np.load(run_dir / "samples.npz") as z:
        assert set(z.files) == set(chains)
        last = torch.load(run_dir / "chains" / "1" / f"gen{gens:03d}.pt", weights_only=True)["samples"]
        assert np.array_equal(z["1"], last[:64].numpy())
    assert (run_dir / ".gitignore").read_text().splitlines()[-1] == "*.pt"
    prov = json.loads((run_dir / "provenance.json").read_text())
    call = prov["calls"][0]
    assert call["machine"]["torch"] == torch.__version__ and call["machine"]["device"] == "cpu"
    assert "--time-budget 1e-6" in call["command"] and call["commit"]
    phases = {s["step"]: s for s in call["steps"]}
    assert {"checks_and_data"} <= set(phases["open"]) and {"classifier"} <= set(phases["metrics"])
    assert {"fit", "evaluate", "save"} <= set(phases["pretrain"])
    gen = prov["calls"][1]["steps"][-1]
    assert gen["step"] == "0 gen 1" and {"draw", "fit", "evaluate", "save"} <= set(gen)
    assert prov["plan"]["total_flops"] > prov["plan"]["pretrain_flops"] > 0

    # the figure finds the run and draws its curves (one line per chain) and its latest samples
    import runpy

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sys.path.insert(0, str(ROOT / "figures"))
    fig_mod = runpy.run_path(str(ROOT / "figures" / "fig_retrain_images.py"), run_name="fig_retrain_images")
    assert fig_mod["_gpu_runs"](cut) == [run_dir] and fig_mod["_gpu_runs"](tmp_path / "none") == []
    fig = plt.figure()
    curves, grids = fig.subfigures(2, 1)
    fig_mod["_gpu_rows"](curves, grids, run_dir)
    axes = fig.get_axes()
    assert len(axes) == 3 + len(chains)
    assert curves._suptitle.get_text().startswith("ddpm_digits28 on cpu (make gpu-validation), commit ")
    assert axes[0].get_title() == "ddpm_digits28: Fréchet distance (classifier features)"
    assert [len(line.get_xdata()) for line in axes[0].get_lines()] == [gens + 1] * len(chains)
    assert axes[3].get_title() == f"ddpm_digits28: $\\lambda$=0, generation {gens}"
    plt.close(fig)


@pytest.mark.slow  # a subprocess importing torch: several seconds on a busy machine
def test_cuda_missing_is_one_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the error for a missing CUDA device cannot be produced here")
    data = tmp_path / "x.npz"
    np.savez(data, images=np.zeros((20, 28, 28), np.uint8), labels=np.arange(20) % 10)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "stability", "gpu-validation", "--data", str(data), "--out", str(tmp_path / "o")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "stability gpu-validation: error: argument --device: device 'cuda' is not available here "
        "(torch.cuda.is_available() is False)"
    ]
    assert not (tmp_path / "o").exists()  # nothing written


def test_plan_counts_flops_of_an_independent_formula():
    # the FLOPs of the first convolution (1 -> width channels, 3x3, on 28x28) are 2 * 9 * width * 784
    # per image; the whole U-Net must cost more than it and the training step about 3 forwards
    cfg = gv.config_for("digits28.npz", "gpu", "cpu")
    p = gv.plan(cfg)
    width = cfg.model_options["width"]
    assert p["forward_flops_per_image"] > 2 * 9 * width * 784
    # backward costs about twice the forward (weights and inputs), so a step is close to 3 forwards
    assert 2.5 < p["train_flops_per_image"] / p["forward_flops_per_image"] < 3.5
    drawn = 0 + 2000 + 4000 + 4000  # floor(lambda n) for lambda = 0, 0.5, 1 and n for replace, n = 4000
    assert p["images_drawn_per_generation"] == drawn + 4 * cfg.eval_samples
    with pytest.raises(ValueError, match="data must be an image data set"):
        gv.config_for("moons")


def test_measure_times_the_model_on_its_device():
    cfg = gv.config_for("x.npz", "tiny", "cpu")
    out = gv.measure(cfg, (1, 28, 28), repeats=1)
    assert out["device"] == "cpu" and out["batch_size"] == cfg.batch_size
    assert out["train_steps_per_second"] > 0 and out["seconds_per_sample"] > 0
    # the run's compute at the measured rates is at least its FLOPs at the faster of the two rates
    fastest = max(out["train_flops_per_second"], out["sample_flops_per_second"])
    assert out["predicted_run_seconds"] >= out["plan"]["total_flops"] / fastest * (1 - 1e-12)


def test_predicted_seconds_uses_the_chain_then_any_chain_then_pretraining():
    rows = [
        {"chain": "0", "generation": 1, "seconds": 2.0},
        {"chain": "0", "generation": 2, "seconds": 3.0},
        {"chain": "1", "generation": 1, "seconds": 5.0},
        {"chain": "1", "generation": 0, "seconds": 50.0},
    ]
    assert _predicted_seconds(rows, "0", 50.0) == 3.0  # the chain's last generation
    assert _predicted_seconds(rows, "replace", 50.0) == 5.0  # the slowest last generation of any chain
    assert _predicted_seconds(rows[3:], "0", 50.0) == 50.0  # nothing but pretraining measured


def _make_results():
    import runpy

    return runpy.run_path(str(ROOT / "docs" / "make_results.py"), run_name="make_results")


def test_results_page_gpu_section_absent_and_present(tmp_path):
    # the page's GPU section (render() adds it after the CPU tables; test_docs checks the whole page)
    section = _make_results()["_gpu_runs"]
    render = lambda gpu_store: "\n".join(section(gpu_store))  # noqa: E731
    absent = render(gpu_store=tmp_path / "gpu")
    assert "## Image-scale retraining on a GPU (`make gpu-validation`)\n\nNo GPU run is stored under" in absent

    # a stored run written by hand: the table must show exactly these numbers
    run = tmp_path / "gpu" / "ddpm_mnist10k"
    run.mkdir(parents=True)
    cfg = gv.config_for("mnist10k.npz", "gpu", "cuda", generations=2)
    (run / "config.json").write_text(json.dumps({"config": cfg.to_dict(), "hash": cfg.identity()}))
    rows = []
    for chain, fd in zip(gv.LAMBDAS, (10.0, 11.0, 12.0, 40.0), strict=True):
        rows.append({"chain": chain, "generation": 0, "fd": 9.5, "precision": 0.8, "recall": 0.7, "param_dist": 0.0})
        last = 1 if chain == "replace" else 2  # a run stopped by its budget: replace one generation behind
        for g in range(1, last + 1):
            rows.append(
                {"chain": chain, "generation": g, "fd": fd + g, "precision": 0.5, "recall": 0.25, "param_dist": 1.5 * g}
            )
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    prov = {
        "commit": "abc1234",
        "date": "2027-01-02",
        "machine": {"gpu": "NVIDIA H200", "torch": "2.11.0+cu130", "cuda": "13.0", "device": "cuda"},
        "status": "incomplete",
        "remaining": [[2, "replace"]],
        "wall_seconds": 471.5,
        "calls": [{}],
    }
    (run / "provenance.json").write_text(json.dumps(prov))
    page = render(gpu_store=tmp_path / "gpu")
    assert "No GPU run is stored" not in page
    assert "commit abc1234, 2027-01-02; NVIDIA H200, torch 2.11.0+cu130, CUDA 13.0; 471.5 s wall over 1 call(s)" in page
    assert "incomplete: 1 (chain, generation) steps remain" in page
    assert "| λ = 0.5 | 2 | 9.500 → 13.000 | 0.800 → 0.500 | 0.700 → 0.250 | 3.00 |" in page
    assert "| replace (purely synthetic) | 1 | 9.500 → 41.000 | 0.800 → 0.500 | 0.700 → 0.250 | 1.50 |" in page
