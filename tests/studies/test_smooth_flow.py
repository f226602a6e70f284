"""The smooth-flow study (studies/smooth_flow.py): theta*, curvature by independent routes, contraction,
resumable chains, and the stored run it reuses."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from stability.experiments.analysis import FlowLikelihood
from stability.experiments.data import make_2d
from stability.numerical import data_term
from stability.numerical.maximum import GRAD_REL
from studies import smooth_flow as study
from studies.smooth_flow import budget_chains, contraction, flow_problem, refit_chains, smooth_flow, stored_chains

STORED = Path(__file__).resolve().parents[2] / "results" / "cpu" / "flow_validation"

BETA = 1e-2  # prior weight of the tiny test problem (keeps its maximum at moderate weights)


# The tests that use ``problem`` fit a flow to a true maximum once per module (~10 s): slow tier.
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def problem():
    x = make_2d("moons", 200, seed=3)
    x = (x - x.mean(0)) / x.std(0)
    model = FlowLikelihood(smooth_flow(2, 1, (4,), seed=0), estimate_L=False)
    return flow_problem(model, x, beta=BETA, adam_steps=400, lbfgs_iter=300, newton_iter=60)


@slow
def test_theta_star_is_a_strict_local_maximum(problem):
    fit = problem.fit
    assert fit["converged"] and fit["grad_rel"] <= GRAD_REL
    # strict: the Hessian of the objective is negative definite (A positive definite), no symmetry left
    assert np.linalg.eigvalsh(problem.A)[0] > 0
    assert problem.spectrum["n_symmetries"] == 0


@slow
def test_A_matches_finite_differences_of_the_gradient(problem):
    model, xt = problem.model, torch.as_tensor(problem.x)
    th = torch.as_tensor(problem.theta_star)

    def grad(t):
        t = t.clone().requires_grad_(True)
        return torch.autograd.grad(data_term(model, xt, t, BETA), t)[0]

    h = 1e-5
    E = torch.eye(th.numel(), dtype=th.dtype)
    A_fd = -torch.stack([(grad(th + h * e) - grad(th - h * e)) / (2 * h) for e in E], 1).numpy()
    # central differences: truncation h^2 |g'''| / 6 ~ 1e-10 x scale, rounding 1e-16 |g| / h ~ 1e-11
    np.testing.assert_allclose(A_fd, problem.A, atol=1e-6 * np.abs(problem.A).max())


@slow
def test_B_matches_monte_carlo_fisher_from_exact_flow_samples(problem):
    """B (Fisher form by quadrature of p_theta*) against the Fisher information estimated on independent draws
    of zuko's own sampler, along random directions and the slowest mode: 5 Monte Carlo standard errors."""
    model = problem.model
    th = torch.as_tensor(problem.theta_star)
    y = model.sample(th, 4000, torch.Generator().manual_seed(7))
    S = torch.func.jacfwd(lambda t: model.log_prob(t, y))(th).numpy()
    rng = np.random.default_rng(0)
    V = np.column_stack([rng.standard_normal((th.numel(), 4)), problem.slowest()])
    for v in V.T:
        q = (S @ v) ** 2
        assert abs(q.mean() - v @ problem.B @ v) <= 5 * q.std() / np.sqrt(q.size)
    # Hessian form and Fisher form are equal for a C^2 density up to the quadrature error (mass error <= 1e-6)
    np.testing.assert_allclose(problem.B_hess, problem.B, atol=1e-6 * np.abs(problem.B).max())


@slow
def test_expected_operator_contracts_at_rate_exact(problem):
    for lam in (0.25, 4.0):
        out = contraction(problem, lam, 1e-4 * problem.slowest(), 3)
        # rate_crn is the exact Jacobian's spectral radius of the quadrature operator; it equals rate_exact
        # up to the quadrature error
        assert abs(out["rate_crn"] - out["rate_exact"]) <= 1e-5
        # from the slowest mode the ratio is rate_exact up to the O(|delta|) = O(1e-4) nonlinearity
        assert abs(out["ratio"][-1] - out["rate_exact"]) <= 1e-3 * out["rate_exact"]


@slow
def test_resumed_chains_give_identical_numbers(problem, tmp_path):
    straight = refit_chains(problem, 1.0, 3, 1, seed=5)
    first = stored_chains(problem, tmp_path, "refit", 1.0, generations=1, chains=1, seed=5, key="k")
    resumed = stored_chains(problem, tmp_path, "refit", 1.0, generations=3, chains=1, seed=5, key="k")
    np.testing.assert_array_equal(first, straight[:, :2])
    np.testing.assert_array_equal(resumed, straight)
    with pytest.raises(ValueError, match="another configuration"):
        stored_chains(problem, tmp_path, "refit", 1.0, generations=3, chains=1, seed=5, key="other")


@slow
def test_refit_chains_carry_the_prior(problem):
    """lambda = 0 (k = 0): each round refits the penalised real term alone, whose maximum is theta*, so the chains
    stay there to the refit tolerance (1e-10 / alpha). Without the prior in retrain_chains' objective the first
    round would climb the unpenalised likelihood, whose gradient at theta* is beta theta* (sup norm measured
    below) and which has no finite maximum here."""
    assert BETA * np.abs(problem.theta_star).max() > 1e-3  # the prior's pull at theta*: far above the tolerance
    th = refit_chains(problem, 0.0, 2, 2, seed=0)
    alpha = np.linalg.eigvalsh(problem.A)[0]
    np.testing.assert_allclose(th, np.broadcast_to(problem.theta_star, th.shape), rtol=0, atol=10 * 1e-10 / alpha)


@slow
def test_budget_chains_keep_each_generation(problem):
    """Generation t holds theta_t: the fine-tuning of round t must not overwrite it (Adam works in place)."""
    th = budget_chains(problem, 1.0, 2, 1, seed=0, steps=5, lr=1e-3)
    np.testing.assert_array_equal(th[:, 0], np.broadcast_to(problem.theta_star, th[:, 0].shape))
    assert np.all(np.abs(th[:, 1] - th[:, 0]).max(-1) > 0) and np.all(np.abs(th[:, 2] - th[:, 1]).max(-1) > 0)


@slow
def test_run_without_budget_or_synthetic_chains(tmp_path):
    """SCALE's switches: ``budget`` None and ``synthetic_generations`` 0 store refit chains only, and the summary
    keeps every column (the budget ones None)."""
    from studies.smooth_flow import FAST, SCALE, run

    assert SCALE["budget"] is None and SCALE["synthetic_generations"] == 0
    cfg = {**FAST, "generations": 2, "steps_random": 2, "budget": None, "synthetic_generations": 0}
    rows = run(tmp_path, cfg, log=lambda *a: None)
    stored = sorted(p.name for p in (tmp_path / "moons" / "chains").iterdir())
    assert stored == ["refit_1.pt"]
    (row,) = rows
    assert row["excess_obs"] is not None and row["excess_obs_budget"] is None and row["A_norm_obs_budget"] is None
    assert set(row) == set(json.loads((tmp_path / "summary.json").read_text())[0])


def test_the_stored_run_is_found_under_the_same_keys():
    """Each stored part of results/cpu/flow_validation recorded the key of the configuration that computed it
    (written by the code before it became a study): the study's DEFAULT must give the same keys, so that the
    figure reuses the parts instead of recomputing them (a key that differs is an error, never a silent reuse)."""
    assert json.loads((STORED / "config.json").read_text())["hash"] == study.run_hash(study.DEFAULT)
    for name in study.DEFAULT["data"]:
        folder = STORED / name
        assert study.load_part(folder / "fit.pt", study.part_key(study.DEFAULT, study.FIT_KEYS))["fit"]["converged"]
        contr = json.loads((folder / "contraction.json").read_text())
        assert contr["config"] == study.part_key(study.DEFAULT, study.CONTRACTION_KEYS)
        for path in sorted((folder / "chains").glob("*.pt")):
            thetas = study.load_part(path, study.part_key(study.DEFAULT))["thetas"]
            generations = study.DEFAULT["synthetic_generations" if "inf" in path.name else "generations"]
            assert thetas.shape[1] - 1 >= generations, path  # complete: nothing left to compute
    with pytest.raises(ValueError, match="another configuration"):
        study.load_part(STORED / "moons" / "fit.pt", study.part_key({**study.DEFAULT, "beta": 0.1}, study.FIT_KEYS))


def test_push_maps_base_noise_through_the_flow_at_theta():
    """``FlowLikelihood.push`` (functional, differentiable in theta) against the flow itself: a copy of the flow
    holding the parameters theta pushes the same noise to the same points, and its forward map returns the noise."""
    model = FlowLikelihood(smooth_flow(2, 2, (4,), seed=1), estimate_L=False)
    theta = model.theta0 + 0.1 * np.random.default_rng(0).standard_normal(model.n_params)
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    x = model.push(theta, z)
    flow = copy.deepcopy(model.module.flow)
    torch.nn.utils.vector_to_parameters(model.full_theta(theta), flow.parameters())
    with torch.no_grad():
        np.testing.assert_allclose(x.detach().numpy(), flow.push(z).numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(flow.flow().transform(x).numpy(), z.numpy(), rtol=0, atol=1e-10)
    th = torch.as_tensor(theta).requires_grad_(True)
    (g,) = torch.autograd.grad(model.push(th, z).sum(), th)
    assert torch.isfinite(g).all() and float(g.abs().max()) > 0


def test_the_command_line_says_what_it_runs(capsys):
    with pytest.raises(SystemExit) as exit_:
        study.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--config" in out and "--stored" in out and "results/cpu/flow_validation" in out
