"""OT conditional flow matching in the retraining loop, and the model protocol and registry behind it.

References are closed forms for a Gaussian target N(mu, sigma^2 I) and the independent coupling with
x0 ~ N(0, I): x_s = (1 - s) x0 + s x is Gaussian, so the minimiser of the CFM loss, the marginal velocity
v*(y, s) = E[x - x0 | x_s = y], is the linear regression
    v*(y, s) = mu + c(s) / V(s) (y - s mu),   c(s) = s sigma^2 - (1 - s),   V(s) = (1 - s)^2 + s^2 sigma^2,
and the loss at v* is E_s[1 + sigma^2 - c(s)^2 / V(s)] per coordinate (the residual variance).
"""

import itertools
import math

import numpy as np
import pytest
import torch
from scipy.integrate import quad
from torch import nn

from stability.cli import main
from stability.cli._main import build_parser
from stability.experiments import default_config, retrain
from stability.experiments.models import CFM, MODELS, GenerativeModel, make_model, ot_pairing
from stability.experiments.registry import MODEL_KINDS, MODEL_REGISTRY

MU, SIGMA, D = 1.5, 0.5, 2


class ExactVelocity(nn.Module):
    """v*(y, s) of the Gaussian target (module docstring), plus a constant ``shift``."""

    def __init__(self, shift: float = 0.0):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))  # CFM.sample reads the device of its parameters
        self.shift = shift

    def forward(self, y, s):
        s = s.view(-1, 1).to(y.dtype)
        c, v = s * SIGMA**2 - (1 - s), (1 - s) ** 2 + s**2 * SIGMA**2
        return MU + c / v * (y - s * MU) + self.shift


def _retrain_choices():
    sub = next(a for a in build_parser()._actions if getattr(a, "choices", None) and "retrain" in a.choices)
    return next(a for a in sub.choices["retrain"]._actions if "--model" in a.option_strings).choices


def test_registry_drives_cli_choices_and_defaults():
    assert list(MODELS) == list(MODEL_REGISTRY) == list(MODEL_KINDS) == ["flow", "ddpm", "cfm"]
    assert list(_retrain_choices()) == list(MODEL_REGISTRY)
    for kind, cls in MODELS.items():
        assert issubclass(cls, GenerativeModel) and cls.kind == kind and cls.__name__ == MODEL_REGISTRY[kind][0]
        for data, data_kind, shape in (("moons", "2d", (2,)), ("digits", "image", (1, 8, 8))):
            cfg = default_config(kind, data, "tiny")
            expected = {
                **cls.defaults[data_kind],
                **({"dequantize": 0.125} if data_kind == "image" and kind == "flow" else {}),
            }
            assert cfg.model_options == expected
            if kind != "flow" or data_kind == "2d":  # the image flow is large: its build is covered elsewhere
                assert make_model(kind, shape, **cfg.model_options).kind == kind
    # per-model profile changes come from the class: the CFM gets the DDPM's pretraining budget on 2-D data
    assert (
        default_config("cfm", "moons", "quick").pretrain_steps == default_config("ddpm", "moons").pretrain_steps == 8000
    )
    assert default_config("flow", "moons", "quick").pretrain_steps == 2000


def test_unknown_model_is_a_clear_error(capsys):
    with pytest.raises(ValueError, match="model must be one of 'flow', 'ddpm', 'cfm', got 'gan'"):
        default_config("gan", "moons")
    with pytest.raises(ValueError, match="model must be one of 'flow', 'ddpm', 'cfm'"):
        make_model("gan", (2,))
    assert main(["retrain", "--model", "gan", "--data", "moons", "--out", "x"]) == 2
    assert "invalid choice: 'gan' (choose from" in capsys.readouterr().err
    with pytest.raises(ValueError, match="K must be an integer >= 1"):
        make_model("cfm", (2,), K=0)
    with pytest.raises(
        ValueError, match=r"options for model 'cfm' must be among \['K', 'hidden', 'pairing', 'width'\]"
    ):
        make_model("cfm", (2,), T=30)
    with pytest.raises(ValueError, match="shape must be"):
        make_model("cfm", (1, 7, 7))


def test_heun_sampler_with_the_exact_velocity_reproduces_the_target():
    model = CFM((D,), ExactVelocity(), K=20)
    torch.manual_seed(0)
    m = 100_000
    x = model.sample(m).double()
    # Tolerance: 4 standard errors (sigma / sqrt(m) for the mean, sigma / sqrt(2m) for the std) plus the
    # Heun discretisation error of the linear flow, O(1/K^2): the image of a unit interval, pushed
    # through 20 steps in float64, is 5.1e-4 too long (2.3e-5 at K = 100), the mean is exact.
    assert np.allclose(x.mean(0), MU, atol=4 * SIGMA / math.sqrt(m))
    assert np.allclose(x.std(0), SIGMA, atol=4 * SIGMA / math.sqrt(2 * m) + 1e-3)
    # with K = 2 the discretisation error (~4 %) is far above the noise: the step count matters
    x2 = CFM((D,), ExactVelocity(), K=2).sample(m).double()
    assert float((x2.std(0) - SIGMA).abs().min()) > 0.01


def test_loss_is_minimised_by_the_exact_velocity():
    x = MU + SIGMA * torch.randn(400_000, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def losses(shift, seed=2):
        model = CFM((D,), ExactVelocity(shift)).double()
        torch.manual_seed(seed)  # common random numbers (x0, s) across shifts
        return np.array([float(model.loss(b)) for b in x.split(20_000)])

    base = losses(0.0)
    floor, _ = quad(lambda s: 1 + SIGMA**2 - (s * SIGMA**2 - (1 - s)) ** 2 / ((1 - s) ** 2 + s**2 * SIGMA**2), 0, 1)
    se = base.std(ddof=1) / math.sqrt(len(base))
    assert abs(base.mean() - floor) < 4 * se
    # A constant shift c adds c^2 exactly in expectation (the residual has conditional mean 0); with
    # common random numbers the difference is c^2 + 2c mean(residual), whose noise is measured from the batches.
    for c in (0.1, -0.3):
        diff = losses(c) - base
        assert abs(diff.mean() - c**2) < 4 * diff.std(ddof=1) / math.sqrt(len(diff)) + 1e-12


def test_cli_retrain_cfm_on_moons(tmp_path, capsys):
    out = tmp_path / "cfm"
    args = ["retrain", "--model", "cfm", "--data", "moons", "--profile", "tiny", "--lambda", "0", "replace"]
    args += ["--n", "100", "--generations", "1", "--pretrain-steps", "40", "--finetune-steps", "5"]
    args += ["--eval-samples", "64", "--json"]
    assert main([*args, "--out", str(out), "--no-plots"]) == 0
    rows = __import__("json").loads(capsys.readouterr().out)["rows"]
    assert {(r["chain"], r["generation"]) for r in rows} == {(c, g) for c in ("0", "replace") for g in range(2)}
    assert all(math.isfinite(r["w2"]) and "nll" not in r for r in rows)  # no log_prob: no likelihood


def test_cfm_retrain_resumed_step_by_step_matches_uninterrupted(tmp_path):
    cfg = default_config("cfm", "moons", "tiny", lambdas=["0.5", "replace"], n=80, pretrain_steps=20,
                         finetune_steps=4, eval_samples=40, model_options={"K": 4, "hidden": 16})  # fmt: skip
    whole = retrain(cfg, tmp_path / "whole", progress=False)
    calls = 0
    while True:  # time_budget 0: each call does one step (pretraining or one generation of one chain)
        part = retrain(cfg, tmp_path / "parts", resume=calls > 0, progress=False, time_budget=0)
        calls += 1
        if part.complete:
            break
    assert calls == 1 + len(cfg.lambdas) * cfg.generations

    def strip(rows):
        return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]

    assert strip(part.rows) == strip(whole.rows)


@pytest.mark.slow
def test_cfm_on_images_uses_the_unet(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 120)
    images = np.zeros((120, 12, 12), dtype=np.uint8)
    for k in range(3):  # three classes of bars, so the feature classifier has something to learn
        images[labels == k, 1 + 4 * k : 3 + 4 * k, 2:10] = 255
    np.savez(tmp_path / "toy.npz", images=images, labels=labels)
    cfg = default_config("cfm", str(tmp_path / "toy.npz"), "tiny", lambdas=["0.5"], generations=1, n=64,
                         pretrain_steps=3, finetune_steps=2, eval_samples=16, classifier_steps=20,
                         model_options={"K": 3, "width": 8})  # fmt: skip
    result = retrain(cfg, tmp_path / "run", progress=False)
    assert type(result.rows[-1]["fd"]) is float and math.isfinite(result.rows[-1]["fd"])
    model = make_model("cfm", (1, 12, 12), K=3, width=8)
    assert type(model.net).__name__ == "UNetDenoiser" and model.sample(2).shape == (2, 1, 12, 12)


def test_ot_pairing_is_the_optimal_assignment():
    g = torch.Generator().manual_seed(3)
    x0, x = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    paired = ot_pairing(x0, x)
    assert sorted(map(tuple, paired.tolist())) == sorted(map(tuple, x0.tolist()))  # a reordering of x0
    # independent reference: the cheapest of all 720 pairings, by enumeration
    best = min(float(((x0[list(p)] - x) ** 2).sum()) for p in itertools.permutations(range(6)))
    assert math.isclose(float(((paired - x) ** 2).sum()), best, rel_tol=1e-6)
    # in one dimension the optimal plan for a convex cost is the monotone (sorted) matching
    a, b = torch.randn(300, 1, generator=g), torch.randn(300, 1, generator=g)
    matched = ot_pairing(a, b).flatten()
    assert torch.equal(matched[b.flatten().argsort()], a.flatten().sort().values)


def test_cfm_with_ot_pairing_trains_and_keeps_the_default_hash():
    torch.manual_seed(0)
    model = make_model("cfm", (2,), K=4, hidden=16, pairing="ot")
    assert model.pairing == "ot" and math.isfinite(model.loss(torch.randn(64, 2)).item())
    with pytest.raises(ValueError, match="pairing must be one of 'independent', 'ot'"):
        make_model("cfm", (2,), pairing="sinkhorn")
    assert "pairing" not in default_config("cfm", "moons").model_options  # independent: the stored runs' setting
