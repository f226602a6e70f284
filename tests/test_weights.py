"""Weighted mixing (docs/theory.md §10): synthetic_weight in simulate, the moments, stationary and retrain_chains.

Monte Carlo comparisons use z-scores, |simulated - predicted| / SE with Z = 5 (fixed seeds, so
deterministic; a correct prediction fails one comparison with probability 6e-7). Stationary values
pool generations after a burn-in; their SE is the spread of the per-chain time averages over
sqrt(chains) (chains are independent, so autocorrelation within a chain needs no model).
"""

import math

import numpy as np
import pytest
from scipy import linalg

import stability
from stability import optimal_synthetic_weight, retrain_chains, simulate, stationary, stationary_closed_form
from stability.dynamics import family_moments, family_stationary, gaussian_moments, gaussian_stationary
from stability.numerical.models import StudentT
from stability.weights import stationary_mean_variance

Z = 5.0


def _z(samples, predicted):
    """Largest |z| of per-chain samples (chains, ...) against predicted means (exact entries: 0 or inf)."""
    se = samples.std(axis=0) / np.sqrt(samples.shape[0])
    diff = np.abs(samples.mean(axis=0) - predicted)
    exact = np.where(diff <= 1e-12 * np.maximum(1.0, np.abs(predicted)), 0.0, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.max(np.where(se > 0, diff / np.where(se > 0, se, 1.0), exact)))


def _z2(a, b):
    """Two-sample |z| of the means of independent per-chain samples a, b (chains, ...)."""
    se = np.sqrt(a.var(axis=0) / a.shape[0] + b.var(axis=0) / b.shape[0])
    return float(np.max(np.abs(a.mean(axis=0) - b.mean(axis=0)) / se))


def _stationary_e2(r, burn_in):
    """Per-chain time average of |e_t|^2 after ``burn_in`` (chains,): its mean and SE."""
    per_chain = (r.error[burn_in:] ** 2).mean(axis=0)
    return per_chain.mean(), per_chain.std(ddof=1) / math.sqrt(per_chain.size)


# --- the default is today's code ---------------------------------------------------------------------

# Values computed by the code before synthetic_weight existed (main at ff6a1bf; they were stored there
# as float.hex and are written here in decimal, exactly the same doubles): simulate(fam, n=12,
# lambda_=0.75, generations=3, chains=2, seed=7, dim=2 for the Gaussian) -> mean[-1] then cov[-1],
# first six numbers. They guard against a change, not against rounding: OpenBLAS picks its kernels by
# CPU, and another kernel rounds the 2x2 Cholesky factors and products differently in the last bits.
# Each of the 3 rounds factors a 2x2 covariance (condition number <= 4 in these runs) and sums 21
# draws, so the rounding is below ~3 * 21 * 4 * 2.2e-16 = 6e-14 of the largest entry; tolerance 1e-12 of
# it. A different weight moves these numbers by 1e-3 to 4e-2 (w = 0.45 instead of 9/21).
GOLDEN_SIMULATE = {
    ("gaussian", "fixed-real", "exact", "mle"): [
        0.0509957919095204, 0.09270551393160417, -0.12640076852131976,
        -0.024260631859007953, 0.7022639547669256, 0.19661017456259805,
    ],
    ("gaussian", "fresh-real", "naive", "unbiased"): [
        -0.22367588486967682, -0.38258410311750396, -0.22272449886247686,
        -0.14623408923576175, 0.5236472160056314, 0.12452366329691351,
    ],
    ("gaussian", "accumulate", "exact", "unbiased"): [
        -0.028140407950427958, 0.10007845419924888, -0.18473166363788407,
        -0.1589690001066291, 0.5445189813394141, 0.06540229656302715,
    ],
    ("poisson", "fixed-real", "exact", "mle"): [3.0476190476190474, 3.0952380952380953],
    ("bernoulli", "accumulate", "naive", "mle"): [0.23076923076923078, 0.4358974358974359],
}  # fmt: skip
GOLDEN_RTOL = 1e-12  # of the largest entry: see above
A2 = np.array([[2.0, 0.3], [0.3, 1.0]])
B2 = np.array([[1.0, 0.1], [0.1, 0.5]])


def _close_to_golden(got, golden, rtol=GOLDEN_RTOL):
    golden = np.asarray(golden)
    np.testing.assert_allclose(got, golden, rtol=0, atol=rtol * np.abs(golden).max())


@pytest.mark.parametrize("case", GOLDEN_SIMULATE, ids="-".join)
def test_default_weight_reproduces_the_unweighted_simulator(case):
    fam, scheme, method, est = case
    r = simulate(
        fam, n=12, lambda_=0.75, generations=3, chains=2, scheme=scheme, method=method, estimator=est, seed=7,
        dim=2 if fam == "gaussian" else None, synthetic_weight=None,
    )  # fmt: skip
    got = r.mean[-1].ravel().tolist() + ([] if r.cov is None else r.cov[-1].ravel().tolist())
    _close_to_golden(got[:6], GOLDEN_SIMULATE[case])
    assert r.synthetic_weight is None


def test_default_weight_reproduces_the_unweighted_laws():
    # The default weight is rho = lambda_: the law against the Lyapunov equation C = J C J^T + Q with
    # rho = 0.7, k = floor(0.7 * 50) = 35, J and Q from an explicit inverse (scipy; not the module's route).
    # A2, B2 and A2 + 0.7 B2 have condition numbers < 3 and J's spectral radius is 0.28: both routes are
    # accurate to ~1e-15 relative; tolerance 1e-12.
    law = stationary(A2, B2, 0.7, 50, synthetic_weight=None)
    Minv = np.linalg.inv(A2 + 0.7 * B2)
    J, Q = 0.7 * Minv @ B2, 0.49 / 35 * Minv @ B2 @ Minv
    C = linalg.solve_discrete_lyapunov(J, Q)
    np.testing.assert_allclose(law.cov, C, rtol=0, atol=1e-12 * np.abs(C).max())
    assert law.excess_loss == pytest.approx(0.5 * np.trace(A2 @ C), rel=1e-12)
    assert law.rate == pytest.approx(np.abs(np.linalg.eigvals(J)).max(), rel=1e-12)
    # and against the values the code gave before synthetic_weight existed (ff6a1bf), same tolerance
    old = [0.0021924974114397493, -0.0007830535339002053, -0.0007830535339002053, 0.004384994822879499]
    _close_to_golden(law.cov.ravel(), old)
    # Scalar closed forms (a few operations, rounding ~1e-15 relative; tolerance 1e-12): the Poisson one
    # against its formula, the other two against the values of the code at ff6a1bf.
    closed = stationary_closed_form("poisson", 0.7, 50, data={"rate": 2.0}, synthetic_weight=None)
    assert closed.cov[0, 0] == pytest.approx(2.0 * 0.49 / (35 * 2.4), rel=1e-12)  # rate rho^2 / (k (1 + 2 rho))
    g = gaussian_stationary(n=20, lambda_=0.75, scheme="fixed-real", estimator="unbiased", synthetic_weight=None)
    assert g.cov_mean[0, 0] == pytest.approx(0.06476683937823832, rel=1e-12)
    f = family_stationary("bernoulli", n=20, lambda_=0.75, scheme="fresh-real", synthetic_weight=None)
    assert f.cov_mean[0, 0] == pytest.approx(0.007241379310344826, rel=1e-12)


def test_default_weight_reproduces_retrain_chains():
    # Values of the code before synthetic_weight existed (ff6a1bf). Each refit is Newton's method stopped
    # at |grad|_inf <= gtol = 1e-10 (here it reached <= 2e-12) on a mean log-likelihood whose Hessian in
    # (mu, log s) has eigenvalues >= 1.2 near these points, so rounding elsewhere (another kernel) can move
    # a refit by up to ~gtol / 1.2 < 1e-10, carried into the next round: tolerance 1e-9. The weight
    # w = 0.34 instead of the default 1/3 moves theta by 2e-3.
    x = np.random.default_rng(0).standard_normal(40)
    r = retrain_chains("student-t", x, 0.5, generations=2, chains=2, seed=3, synthetic_weight=None)
    golden = [-0.10320785381370831, -0.3644206486052421, -0.1582482559918526, -0.4700098336005743]
    np.testing.assert_allclose(r.theta[-1].ravel(), golden, rtol=0, atol=1e-9)


@pytest.mark.parametrize("method", ["exact", "naive"])
@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real"])
@pytest.mark.parametrize("family,estimator", [("gaussian", "mle"), ("gaussian", "unbiased"), ("poisson", "mle")])
def test_the_natural_weight_through_the_weighted_path_gives_the_same_numbers(family, estimator, scheme, method):
    # w = k/(n+k) rescales each group's count by (1-w) N_e / n = 1 and w N_e / k = 1 up to rounding, and
    # the draws come in the same order: the same numbers to ~1e-13 relative (accumulated over 5 rounds)
    kw = dict(n=12, lambda_=0.75, generations=5, chains=3, scheme=scheme, method=method, estimator=estimator, seed=4)
    kw |= {"dim": 2} if family == "gaussian" else {}
    ref = simulate(family, **kw)
    got = simulate(family, synthetic_weight=9 / 21, **kw)
    np.testing.assert_allclose(got.mean, ref.mean, rtol=1e-11, atol=1e-13)
    if family == "gaussian":
        np.testing.assert_allclose(got.cov, ref.cov, rtol=1e-11, atol=1e-13)
    assert got.w == 9 / 21 and ref.w == 9 / 21


def test_replace_with_weight_one_is_replace():
    kw = dict(n=12, lambda_=float("inf"), generations=3, chains=3, seed=1)
    a, b = simulate("gaussian", **kw), simulate("gaussian", synthetic_weight=1.0, **kw)
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.cov, b.cov) and b.synthetic_weight is None


# --- exact and naive agree in law with a weight ---------------------------------------------------------


@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real", "accumulate"])
def test_exact_and_naive_agree_in_law_with_a_weight(scheme):
    # 1-D Gaussian, n = 10, k = 15, w = 0.8 (natural share 0.6), unbiased estimator (exercises N_e - 1);
    # after 30 rounds the error is stationary (w^60 ~ 2e-6 of the start left); two-sample z of E[e_G],
    # E[e_G^2] (mean and variance of the stationary error), E[Sigma_G] over 20000 independent chains each
    kw = dict(n=10, lambda_=1.5, generations=30, chains=20000, scheme=scheme, estimator="unbiased")
    kw["synthetic_weight"] = 0.8
    a = simulate("gaussian", method="exact", seed=11, **kw)
    b = simulate("gaussian", method="naive", seed=12, **kw)
    ea, eb = a.mean[-1, :, 0], b.mean[-1, :, 0]
    assert _z2(ea, eb) < Z and _z2(ea**2, eb**2) < Z and _z2(a.cov[-1, :, 0, 0], b.cov[-1, :, 0, 0]) < Z
    # the weight changes the law (so the comparison above is about the weighted process)
    natural = simulate("gaussian", method="exact", seed=13, **(kw | {"synthetic_weight": None}))
    assert _z2(ea**2, natural.mean[-1, :, 0] ** 2) > Z


# --- the weighted recursions and closed forms against simulation ----------------------------------------


@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real"])
def test_weighted_gaussian_moments_match_simulation(scheme, estimator):
    data = {"mean": [0.5, -1.0], "cov": [[1.5, 0.4], [0.4, 0.8]]}
    init = {"mean": [1.5, -0.5], "cov": [[1.0, 0.0], [0.0, 2.0]]}
    kw = dict(n=8, lambda_=0.75, generations=5, scheme=scheme, estimator=estimator, data=data, init=init)
    kw["synthetic_weight"] = 0.7  # far from the natural share 6/14
    r = simulate("gaussian", chains=20000, seed=21, **kw)
    p = gaussian_moments(**kw)
    mu_d = np.asarray(data["mean"])
    for g in (1, 5):
        e = r.mean[g] - mu_d
        P = p.cov_mean[g] + np.outer(p.mean[g] - mu_d, p.mean[g] - mu_d)
        assert _z(e, p.mean[g] - mu_d) < Z
        assert _z(e[:, :, None] * e[:, None, :], P) < Z
        assert _z(r.cov[g], p.expected_cov[g]) < Z
    # a planted wrong law: the unweighted recursion is rejected by the same statistic
    wrong = gaussian_moments(**(kw | {"synthetic_weight": None}))
    e = r.mean[5] - mu_d
    assert (
        _z(e[:, :, None] * e[:, None, :], wrong.cov_mean[5] + np.outer(wrong.mean[5] - mu_d, wrong.mean[5] - mu_d)) > Z
    )


@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real"])
@pytest.mark.parametrize("family,data", [("bernoulli", {"p": 0.3}), ("poisson", {"rate": 2.0})])
def test_weighted_family_moments_match_simulation(family, data, scheme):
    kw = dict(n=10, lambda_=1.0, generations=4, scheme=scheme, data=data, synthetic_weight=0.25)
    r = simulate(family, chains=20000, seed=5, **kw)
    p = family_moments(family, **kw)
    e = r.mean[-1] - r.data_mean
    m = p.mean[-1] - r.data_mean
    assert _z(e, m) < Z and _z(e[:, :, None] * e[:, None, :], p.cov_mean[-1] + np.outer(m, m)) < Z


# Poisson (variance function linear): the §10 closed forms are exact for its mean parameter, times
# the rate. n = 20, k = 20; 4000 chains, 60 generations, burn-in 20 (w <= 0.6: w^40 < 1e-8 left).
POISSON = dict(n=20, lambda_=1.0, generations=60, chains=4000, data={"rate": 2.0})
BURN = 20


@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real"])
@pytest.mark.parametrize("w", [0.2, 0.5, 0.6])
def test_closed_form_stationary_variance_matches_simulation(scheme, w):
    r = simulate("poisson", scheme=scheme, synthetic_weight=w, seed=31, **POISSON)
    sim, se = _stationary_e2(r, BURN)
    pred = 2.0 * stationary_mean_variance(20, 1.0, scheme=scheme, synthetic_weight=w)
    assert abs(sim - pred) <= Z * se, (sim, pred, se)
    # the exact moment solve (family_stationary) gives the same value: V is linear for the Poisson
    exact = family_stationary("poisson", n=20, lambda_=1.0, scheme=scheme, data={"rate": 2.0}, synthetic_weight=w)
    assert exact.cov_mean[0, 0] == pytest.approx(pred, rel=1e-12)
    # planted wrong laws, rejected by the same statistic: rho = lambda (the unweighted law) where
    # w != 1/2, and the fresh-real formula without the real term (1-w)^2/n
    if w != 0.5:
        wrong = 2.0 * stationary_mean_variance(20, 1.0, scheme=scheme)
        assert abs(sim - wrong) > Z * se
    if scheme == "fresh-real":
        assert abs(sim - 2.0 * (w * w / 20) / (1 - w * w)) > Z * se


def test_fixed_real_closed_form_is_the_conditional_part_of_the_exact_law():
    # stationary_closed_form gives Cov(eta_t - eta_hat) to first order; for the Poisson it is exact, and the
    # unconditional fixed-real variance adds the real sample's rate/n: rate (1/n + rho^2/(k(1+2rho)))
    w, n, k, rate = 0.3, 40, 20, 2.5
    rho = w / (1 - w)
    law = stationary_closed_form("poisson", 0.5, n, data={"rate": rate}, synthetic_weight=w)
    assert law.cov[0, 0] == pytest.approx(rate * rho**2 / (k * (1 + 2 * rho)), rel=1e-14)
    assert law.rate == pytest.approx(rho / (1 + rho), rel=1e-14) and law.synthetic_weight == w
    exact = family_stationary("poisson", n=n, lambda_=0.5, data={"rate": rate}, synthetic_weight=w)
    assert exact.cov_mean[0, 0] == pytest.approx(rate / n + law.cov[0, 0], rel=1e-12)


def test_stationary_with_a_weight_is_rho_in_place_of_lambda():
    # by hand, d = 1, A = 2, B = 1 (gamma = 1/2), w = 0.2 (rho = 1/4), k = 30:
    # C = rho^2 gamma / (k (1 + 2 rho gamma)) / A, rate = rho gamma / (1 + rho gamma)
    law = stationary(np.array([[2.0]]), np.array([[1.0]]), 1.0, 30, synthetic_weight=0.2)
    assert law.cov[0, 0] == pytest.approx((1 / 16) * 0.5 / (30 * 1.25) / 2.0, rel=1e-13)
    assert law.rate == pytest.approx(0.125 / 1.125, rel=1e-13)
    assert "synthetic weight w" in law.summary()
    assert stationary(A2, B2, 1.0, 30, synthetic_weight=0.0).excess_loss == 0.0


def test_stationary_with_a_weight_matches_retrain_chains():
    # Student-t(3) location-scale fitted to a N(0, 1) sample (docs/theory.md §9's model), n = 300,
    # lambda = 1 (k = 300), w = 0.25: rho = 1/3 (the unweighted law has rho = 1). Excess NLL pooled over
    # 100 chains x 31 generations after the burn-in; SE of the predicted law as in check_stationary.
    x = np.random.default_rng(3).standard_normal(300)
    c = stability.numerical.chains.check_stationary(
        StudentT(3.0), x, 1.0, generations=36, chains=100, seed=0, synthetic_weight=0.25
    )
    assert c.result.synthetic_weight == 0.25 and c.predicted.synthetic_weight == 0.25
    assert c.observed.burn_in <= 5  # rate ~ rho/(1+rho) = 1/4: 0.25^10 < 1e-3
    assert abs(c.observed.excess_loss - c.predicted.excess_loss) <= 4 * c.se_predicted, c
    wrong = stationary(c.constants.A, c.constants.B, 1.0, 300)  # rho = lambda: planted wrong law
    assert abs(c.observed.excess_loss - wrong.excess_loss) > 4 * c.se_predicted


# --- the optimal weight ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.5, 1.0, 2.0])
def test_optimal_weight_is_the_argmin_of_the_closed_form(lam):
    grid = np.linspace(0.0, 0.99, 991)  # step 1e-3
    V = [stationary_mean_variance(100, lam, scheme="fresh-real", synthetic_weight=w) for w in grid]
    assert abs(grid[int(np.argmin(V))] - optimal_synthetic_weight(lam)) <= 1e-3
    # lambda = 1: the real weight is 1/phi, the golden ratio's reciprocal (He, Xu & Cheng)
    if lam == 1.0:
        assert 1 - optimal_synthetic_weight(lam) == pytest.approx(2 / (1 + math.sqrt(5)), rel=1e-15)


def test_optimal_weight_minimises_the_simulated_variance():
    # Poisson, fresh-real, n = k = 20: w* = 0.382; at w* -+ 0.1 the closed form is 4.5% and 5.4% higher.
    # The SE of each simulated value is ~0.4% (measured below), so each gap is > 3 combined SE.
    w_star = optimal_synthetic_weight(1.0)
    sims = {}
    for i, w in enumerate((w_star - 0.1, w_star, w_star + 0.1)):
        r = simulate("poisson", scheme="fresh-real", synthetic_weight=w, seed=40 + i, **POISSON)
        sims[w] = _stationary_e2(r, BURN)
        pred = 2.0 * stationary_mean_variance(20, 1.0, scheme="fresh-real", synthetic_weight=w)
        assert abs(sims[w][0] - pred) <= Z * sims[w][1]
    (lo, se_lo), (mid, se_mid), (hi, se_hi) = sims.values()
    assert lo - mid > 3 * math.hypot(se_lo, se_mid) and hi - mid > 3 * math.hypot(se_hi, se_mid)


def test_optimal_weight_domain():
    assert optimal_synthetic_weight(0.0) == 0.0
    assert 0.0 < optimal_synthetic_weight(1e-12) < 1e-11 and optimal_synthetic_weight(1e12) < 1.0
    for bad, match in [(-1.0, "lambda_ must be >= 0"), (math.nan, "lambda_ must be"), (math.inf, "finite")]:
        with pytest.raises(ValueError, match=match):
            optimal_synthetic_weight(bad)


# --- validation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("w", [-0.1, 1.5, math.nan, math.inf])
def test_a_weight_outside_the_unit_interval_is_an_error(w):
    msg = r"synthetic_weight must be in \[0, 1\]"
    with pytest.raises(ValueError, match=msg):
        simulate("gaussian", n=10, lambda_=1.0, generations=1, chains=2, synthetic_weight=w)
    with pytest.raises(ValueError, match=msg):
        stationary(np.eye(1), np.eye(1), 1.0, 10, synthetic_weight=w)
    with pytest.raises(ValueError, match=msg):
        gaussian_stationary(n=10, lambda_=1.0, synthetic_weight=w)
    with pytest.raises(ValueError, match=msg):
        retrain_chains("student-t", np.arange(10.0), 1.0, generations=1, chains=1, synthetic_weight=w)


def test_weight_errors_name_the_parameter_and_the_scheme():
    with pytest.raises(ValueError, match=r"synthetic_weight must be None or 1 under scheme 'replace'"):
        simulate("poisson", n=10, lambda_=1.0, generations=1, chains=2, scheme="replace", synthetic_weight=0.5)
    with pytest.raises(ValueError, match=r"synthetic_weight must be None or 1 under scheme 'replace'"):
        simulate("poisson", n=10, lambda_=math.inf, generations=1, chains=2, synthetic_weight=0.5)
    with pytest.raises(ValueError, match=r"synthetic_weight must be 0 when no synthetic point is drawn"):
        simulate("poisson", n=10, lambda_=0.0, generations=1, chains=2, synthetic_weight=0.5)
    with pytest.raises(ValueError, match=r"synthetic_weight must be in \[0, 1\) for a stationary law"):
        stationary(np.eye(1), np.eye(1), 1.0, 10, synthetic_weight=1.0)
    with pytest.raises(ValueError, match=r"synthetic_weight must be < 1 for a stationary law"):
        family_stationary("poisson", n=10, lambda_=1.0, synthetic_weight=1.0)
    with pytest.raises(ValueError, match=r"synthetic_weight must be in \[0, 1\) for retrain_chains"):
        retrain_chains("student-t", np.arange(10.0), 1.0, generations=1, chains=1, synthetic_weight=1.0)
    with pytest.raises(ValueError, match=r"synthetic_weight 1.*dim \+ 1 = 3"):  # only the k = 2 synthetic points count
        simulate("gaussian", dim=2, n=10, lambda_=0.2, generations=1, chains=2, synthetic_weight=1.0)
    assert simulate("gaussian", n=10, lambda_=0.0, generations=1, chains=2, synthetic_weight=0.0).w == 0.0


def test_cli_simulate_synthetic_weight(capsys):
    import json

    from stability.cli import main

    argv = ["simulate", "poisson", "--n", "10", "--lambda", "1", "--generations", "2", "--chains", "3"]
    assert main([*argv, "--synthetic-weight", "0.25", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["synthetic_weight"] == 0.25 and out["w"] == 0.25


# --- the proofs_check checks of docs/theory.md §10 can fail -------------------------------------------


@pytest.mark.slow  # ~9 s (sympy); the planted-error proofs_check tests are in the slow tier
def test_weighted_proof_checks_pass_and_fail_on_planted_errors(monkeypatch):
    from proofs_check import REGISTRY, run
    from proofs_check import weighted as pc

    def outcome(name):
        return run([REGISTRY[f"weighted.{name}"]])[0].outcome

    assert outcome("toolkit_optimal_weight").passed and outcome("toolkit_weighted_lyapunov").passed
    # the real weight a* returned as the synthetic weight
    monkeypatch.setattr(pc.toolkit_weights, "optimal_synthetic_weight", lambda lam: 1 - optimal_synthetic_weight(lam))
    assert not outcome("toolkit_optimal_weight").passed
    # stationary ignoring the weight (rho = lambda)
    real = pc.toolkit_stationary.stationary
    monkeypatch.setattr(
        pc.toolkit_stationary, "stationary", lambda A, B, lam, n, k=None, synthetic_weight=None: real(A, B, lam, n, k=k)
    )
    assert not outcome("toolkit_weighted_lyapunov").passed
    # a fresh-real variance without the real term (1-w)^2/n
    monkeypatch.setattr(pc, "fresh_real_variance", lambda w_, n_, k_: (w_**2 / k_) / (1 - w_**2))
    assert not outcome("stationary_variances").passed and not outcome("optimal_weight").passed
