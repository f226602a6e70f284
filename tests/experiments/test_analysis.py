"""A trained zuko flow as a numerical model: log_prob, masked entries, and stability.analyze on it."""

import copy

import numpy as np
import pytest
import torch
from scipy import linalg

import stability
from stability.experiments import load_dataset, make_model, parameter_vector
from stability.experiments.analysis import FlowLikelihood
from stability.experiments.loop import _fit

pytestmark = pytest.mark.slow  # trains flows: minutes on 2 cores (make test-fast skips it)

LAM = 0.5


@pytest.fixture(scope="module")
def trained():
    """A tiny NSF (1 transform, hidden [4, 4], 3 bins) briefly trained on 200 moons points."""
    torch.manual_seed(0)
    data = load_dataset("moons", n=200, heldout=0.5, seed=0)
    flow = make_model("flow", (2,), transforms=1, hidden=[4, 4], bins=3)
    _fit(flow, data.train, 150, 100, 3e-3, False, "test", cosine=True)
    return flow, data


@pytest.fixture(scope="module")
def report(trained):
    flow, data = trained
    return stability.analyze(FlowLikelihood(flow, estimate_L=False), data.train, LAM)


def _full_log_prob(flow):
    """An independent route to log p_theta(x) on the FULL parameter vector (masked entries included)."""
    module = copy.deepcopy(flow).double()
    names = [n for n, _ in module.named_parameters()]
    shapes = [p.shape for _, p in module.named_parameters()]
    sizes = [p.numel() for _, p in module.named_parameters()]

    def log_prob(full, x):
        params = {n: t.reshape(s) for n, t, s in zip(names, torch.split(full, sizes), shapes, strict=True)}
        return _call(params, x)

    def _call(params, x):
        saved = {n: p for n, p in module.named_parameters()}
        try:
            for n, t in params.items():
                owner = module.get_submodule(n.rsplit(".", 1)[0])
                delattr(owner, n.rsplit(".", 1)[1])
                setattr(owner, n.rsplit(".", 1)[1], t)
            return module.log_prob(x)
        finally:
            for n, p in saved.items():
                owner = module.get_submodule(n.rsplit(".", 1)[0])
                delattr(owner, n.rsplit(".", 1)[1])
                owner.register_parameter(n.rsplit(".", 1)[1], p)

    return log_prob


def test_log_prob_equals_the_flow(trained):
    flow, data = trained
    model = FlowLikelihood(flow)
    x = data.train[:50].double()
    ref = copy.deepcopy(flow).double()
    with torch.no_grad():
        got = model.log_prob(torch.as_tensor(model.theta0), x)
        want = ref.log_prob(x)
    # same float64 operations in the same order: equal up to rounding (1e-12 absolute on values ~1)
    assert torch.allclose(got, want, rtol=0, atol=1e-12)
    # at a moved theta: write the full vector into the zuko module and compare again
    theta = model.theta0 + 0.05 * np.random.default_rng(0).standard_normal(model.n_params)
    torch.nn.utils.vector_to_parameters(model.full_theta(theta), ref.parameters())
    with torch.no_grad():
        got, want = model.log_prob(torch.as_tensor(theta), x), ref.log_prob(x)
    assert torch.allclose(got, want, rtol=0, atol=1e-12)


def test_theta_is_the_free_entries(trained):
    flow, data = trained
    model = FlowLikelihood(flow)
    full = parameter_vector(flow).numpy()
    np.testing.assert_array_equal(model.free_theta(full), model.theta0.astype(full.dtype))
    assert model.n_params == int(model.free_mask.sum()) < full.size
    # the masked entries never enter log p: their gradient is exactly zero (zuko multiplies by a 0/1 mask)
    ref = copy.deepcopy(flow).double()
    ref.log_prob(data.train.double()).sum().backward()
    grad = torch.cat([p.grad.reshape(-1) for p in ref.parameters()]).numpy()
    assert np.all(grad[~model.free_mask] == 0.0)
    assert np.any(grad[model.free_mask] != 0.0)


def test_rate_exact_matches_an_independent_dense_computation(trained, report):
    flow, data = trained
    model = FlowLikelihood(flow)
    x = data.train.double()
    # A: autograd Hessian of the summed training log-likelihood on the FULL zuko parameter vector,
    # restricted to the free entries afterwards (an independent route through the parametrisation)
    full0 = model.full_theta(model.theta0).detach()
    ref = copy.deepcopy(flow).double()
    fn = _full_log_prob(ref)
    H = torch.autograd.functional.hessian(lambda f: fn(f, x).sum(), full0).numpy()
    A = -H[np.ix_(model.free_mask, model.free_mask)] / x.shape[0]
    A = (A + A.T) / 2
    ev, V = linalg.eigh(A)
    np.testing.assert_allclose(ev, report.details["spectrum_A"], rtol=0, atol=1e-9 * ev[-1])  # rounding
    keep = ev > model.rtol * ev[-1]
    U = V[:, keep]
    At = U.T @ A @ U
    # B: Monte Carlo average of the score outer product over exact flow samples (zuko's sampler),
    # instead of the library route's quadrature grid
    torch.manual_seed(1)
    m = 20000
    with torch.no_grad():
        xs = ref.sample(m).double()
    S = torch.func.jacfwd(lambda t: model.log_prob(t, xs))(torch.as_tensor(model.theta0)).numpy() @ U
    Bt = S.T @ S / m
    gams, W = linalg.eigh(Bt, At)
    gam, v = gams[-1], W[:, -1]  # v is A-normalised: v^T At v = 1
    rate_mc = LAM * gam / (1 + LAM * gam)
    g_lib = report.gammas[-1]
    # first-order perturbation: gamma_max(B_mc) - gamma_max(B) ~ v^T (B_mc - B) v, a sample mean of
    # q_i = (s_i . v)^2, whose standard error is std(q) / sqrt(m)
    q = (S @ v) ** 2
    se = q.std() / np.sqrt(m)
    # 5 Monte Carlo standard errors, plus the quadrature's relative error: the flow's density is only
    # C^1 (spline knots), so the trapezoidal rule is O(h^2); its measured mass error sets that scale,
    # x 10 for the squared-score integrand (larger and rougher than the density)
    mass_err = float(report.details["expectations"]["model"].rsplit("mass error ", 1)[1])
    tol = 5 * se + 10 * mass_err * g_lib
    assert abs(gam - g_lib) <= tol
    assert report.rate_exact == pytest.approx(LAM * g_lib / (1 + LAM * g_lib), rel=1e-12)
    assert abs(report.rate_exact - rate_mc) <= LAM * tol  # |d rate / d gamma| = lam / (1 + lam gamma)^2 <= lam


def test_singular_or_indefinite_A_is_reported(trained, report):
    flow, data = trained
    with pytest.raises(ValueError, match="A must be positive definite"):
        stability.analyze(FlowLikelihood(flow, quotient=False, estimate_L=False), data.train, LAM)
    d = report.details
    assert "discarded" in d["quotient"]
    assert d["alpha_full"] == min(d["spectrum_A"])
    assert report.alpha > 0 and report.alpha >= FlowLikelihood(flow).rtol * max(d["spectrum_A"])
    assert np.isnan(report.L) and np.isnan(report.rate_paper)  # L not estimated here: bounds undefined
    assert report.rate_exact < 1


def test_bad_input():
    with pytest.raises(ValueError, match="flow must have a log_prob"):
        FlowLikelihood(torch.nn.Linear(2, 2))
    flow = make_model("flow", (2,), transforms=1, hidden=[4], bins=3)
    with pytest.raises(ValueError, match="rtol must be in"):
        FlowLikelihood(flow, rtol=2.0)


class _Affine(torch.nn.Module):
    """x = W z + b: a 'flow' whose push has a closed form (log_prob is not used by push)."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(2, 2)
        self.shape = (2,)

    def log_prob(self, x):
        return -0.5 * (x * x).sum(-1)

    def push(self, z):
        return self.lin(z)


def test_push_sends_base_noise_through_the_flow_at_theta():
    model = FlowLikelihood(_Affine(), estimate_L=False)
    theta = np.arange(1.0, 7.0)  # parameter order: lin.weight (2 x 2, row-major), lin.bias
    z = torch.tensor([[1.0, 0.0], [0.5, -2.0]], dtype=torch.float64)
    W, b = theta[:4].reshape(2, 2), theta[4:]
    np.testing.assert_allclose(model.push(theta, z).detach().numpy(), z.numpy() @ W.T + b, rtol=0, atol=1e-14)
    th = torch.as_tensor(theta).requires_grad_(True)
    (g,) = torch.autograd.grad(model.push(th, z).sum(), th)  # d/dW_ij sum = sum_rows z_j; d/db_i = rows
    np.testing.assert_allclose(g.numpy(), [*z.sum(0).tolist(), *z.sum(0).tolist(), 2.0, 2.0], rtol=0, atol=1e-14)
    no_push = _Affine()
    no_push.push = None  # a flow with log_prob only
    with pytest.raises(ValueError, match="no push"):
        FlowLikelihood(no_push, estimate_L=False).push(theta, z)
