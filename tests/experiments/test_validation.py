"""Smooth flow at a true maximum: theta*, curvature by independent routes, contraction, resumable chains."""

import json

import numpy as np
import pytest
import torch

from stability.experiments.analysis import FlowLikelihood
from stability.experiments.data import make_2d
from stability.experiments.flow_validation import stored_chains
from stability.experiments.smooth_flow import smooth_flow
from stability.experiments.validation import (
    GRAD_REL,
    budget_chains,
    contraction,
    data_term,
    flow_problem,
    refit_chains,
)

BETA = 1e-2  # prior weight of the tiny test problem (keeps its maximum at moderate weights)


# The smooth-flow experiment fits a flow to a true maximum once per module (~10 s): slow tier.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def problem():
    x = make_2d("moons", 200, seed=3)
    x = (x - x.mean(0)) / x.std(0)
    model = FlowLikelihood(smooth_flow(2, 1, (4,), seed=0), estimate_L=False)
    return flow_problem(model, x, beta=BETA, adam_steps=400, lbfgs_iter=300, newton_iter=60)


def test_theta_star_is_a_strict_local_maximum(problem):
    fit = problem.fit
    assert fit["converged"] and fit["grad_rel"] <= GRAD_REL
    # strict: the Hessian of the objective is negative definite (A positive definite), no symmetry left
    assert np.linalg.eigvalsh(problem.A)[0] > 0
    assert problem.spectrum["n_symmetries"] == 0


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


def test_expected_operator_contracts_at_rate_exact(problem):
    for lam in (0.25, 4.0):
        out = contraction(problem, lam, 1e-4 * problem.slowest(), 3)
        # rate_crn is the exact Jacobian's spectral radius of the quadrature operator; it equals rate_exact
        # up to the quadrature error
        assert abs(out["rate_crn"] - out["rate_exact"]) <= 1e-5
        # from the slowest mode the ratio is rate_exact up to the O(|delta|) = O(1e-4) nonlinearity
        assert abs(out["ratio"][-1] - out["rate_exact"]) <= 1e-3 * out["rate_exact"]


def test_resumed_chains_give_identical_numbers(problem, tmp_path):
    straight = refit_chains(problem, 1.0, 3, 1, seed=5)
    first = stored_chains(problem, tmp_path, "refit", 1.0, generations=1, chains=1, seed=5, key="k")
    resumed = stored_chains(problem, tmp_path, "refit", 1.0, generations=3, chains=1, seed=5, key="k")
    np.testing.assert_array_equal(first, straight[:, :2])
    np.testing.assert_array_equal(resumed, straight)
    with pytest.raises(ValueError, match="another configuration"):
        stored_chains(problem, tmp_path, "refit", 1.0, generations=3, chains=1, seed=5, key="other")


def test_refit_chains_carry_the_prior(problem):
    """lambda = 0 (k = 0): each round refits the penalised real term alone, whose maximum is theta*, so the chains
    stay there to the refit tolerance (1e-10 / alpha). Without the prior in retrain_chains' objective the first
    round would climb the unpenalised likelihood, whose gradient at theta* is beta theta* (sup norm measured
    below) and which has no finite maximum here."""
    assert BETA * np.abs(problem.theta_star).max() > 1e-3  # the prior's pull at theta*: far above the tolerance
    th = refit_chains(problem, 0.0, 2, 2, seed=0)
    alpha = np.linalg.eigvalsh(problem.A)[0]
    np.testing.assert_allclose(th, np.broadcast_to(problem.theta_star, th.shape), rtol=0, atol=10 * 1e-10 / alpha)


def test_budget_chains_keep_each_generation(problem):
    """Generation t holds theta_t: the fine-tuning of round t must not overwrite it (Adam works in place)."""
    th = budget_chains(problem, 1.0, 2, 1, seed=0, steps=5, lr=1e-3)
    np.testing.assert_array_equal(th[:, 0], np.broadcast_to(problem.theta_star, th[:, 0].shape))
    assert np.all(np.abs(th[:, 1] - th[:, 0]).max(-1) > 0) and np.all(np.abs(th[:, 2] - th[:, 1]).max(-1) > 0)


def test_run_without_budget_or_synthetic_chains(tmp_path):
    """SCALE's switches: ``budget`` None and ``synthetic_generations`` 0 store refit chains only, and the summary
    keeps every column (the budget ones None)."""
    from stability.experiments.flow_validation import FAST, SCALE, run

    assert SCALE["budget"] is None and SCALE["synthetic_generations"] == 0
    cfg = {**FAST, "generations": 2, "steps_random": 2, "budget": None, "synthetic_generations": 0}
    rows = run(tmp_path, cfg, log=lambda *a: None)
    stored = sorted(p.name for p in (tmp_path / "moons" / "chains").iterdir())
    assert stored == ["refit_1.pt"]
    (row,) = rows
    assert row["excess_obs"] is not None and row["excess_obs_budget"] is None and row["A_norm_obs_budget"] is None
    assert set(row) == set(json.loads((tmp_path / "summary.json").read_text())[0])
