"""The stationary law of finite-sample retraining (docs/theory.md §9) against independent computations.

References used here, none of them computed by :mod:`stability.stationary`:
- :func:`scipy.linalg.solve_discrete_lyapunov` on :math:`J` and :math:`Q` built by explicit inverses;
- the Lyapunov equation as a :math:`d^2` linear system in 40-digit arithmetic (mpmath), where the
  basis is ill-conditioned;
- the Fisher information of each family in mean parameters, written out by hand;
- the exact stationary moments of the simulator (:mod:`stability.dynamics.moments`);
- Monte Carlo: :func:`stability.simulate` (``fixed-real``) for the six families, and a Newton-refit
  Student-t location model (not an exponential family, so :math:`A \\ne B`) written in this file.
"""

import importlib
import json

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, linalg, stats

import stability
from stability.cli import main
from stability.dynamics.moments import family_stationary, gaussian_stationary, stationary_closed_form
from stability.stationary import stationary

# the module (the package attribute ``stability.stationary`` is the function)
stationary_module = importlib.import_module("stability.stationary")

# C is a product of double-precision factors of matrices with condition number <= 1e3 (the draws
# below): relative rounding ~ cond * 1e-16 <= 1e-13; 1e-10 is the accuracy the module promises.
TOL = 1e-10

DATA = {
    "gaussian": {"mean": [0.0, 1.0], "cov": [[1.0, 0.3], [0.3, 0.5]]},
    "bernoulli": {"p": 0.3},
    "categorical": {"probs": [0.5, 0.3, 0.2]},
    "poisson": {"rate": 3.0},
    "exponential": {"mean": 2.0},
    "gamma": {"shape": 2.0, "mean": 1.0},
}


def lyapunov_reference(A, B, lam, k):
    """C = J C J^T + Q by scipy, with J and Q from explicit inverses (not the toolkit's route)."""
    Minv = np.linalg.inv(A + lam * B)
    J = lam * Minv @ B
    Q = lam**2 / k * Minv @ B @ Minv
    return linalg.solve_discrete_lyapunov(J, Q), J, Q


def fisher_mean(family, data):
    """Fisher information in the simulator's (free) mean coordinates, by hand."""
    if family == "gaussian":
        S = np.asarray(data["cov"])
        Si = np.linalg.inv(S)
        d = S.shape[0]
        units = []
        for i, j in zip(*np.triu_indices(d), strict=True):
            E = np.zeros((d, d))
            E[i, j] = E[j, i] = 1.0
            units.append(E)
        # I(Sigma)[D1, D2] = 1/2 tr(S^-1 D1 S^-1 D2) (e.g. Magnus & Neudecker, ch. 15)
        A_cov = np.array([[0.5 * np.trace(Si @ E1 @ Si @ E2) for E2 in units] for E1 in units])
        return linalg.block_diag(Si, A_cov)
    if family == "bernoulli":
        p = data["p"]
        return np.array([[1 / (p * (1 - p))]])
    if family == "categorical":
        pi = np.asarray(data["probs"])
        return np.diag(1 / pi[:-1]) + 1 / pi[-1]  # multinomial Fisher in the K-1 free probabilities
    if family == "poisson":
        return np.array([[1 / data["rate"]]])
    if family == "exponential":
        return np.array([[1 / data["mean"] ** 2]])
    return np.array([[data["shape"] / data["mean"] ** 2]])  # gamma, known shape


def random_spd(rng, d, cond):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return (q * np.exp(rng.uniform(0, np.log(cond), size=d))) @ q.T


# ---------------------------------------------------------------- closed forms vs Lyapunov


@pytest.mark.parametrize("family", sorted(DATA))
@pytest.mark.parametrize("lam", [0.3, 1.0, 4.0])
def test_closed_forms_match_an_independent_lyapunov_solve(family, lam):
    n = 50
    law = stationary_closed_form(family, lam, n, data=DATA[family])
    A = fisher_mean(family, DATA[family])
    ref, _, _ = lyapunov_reference(A, A, lam, law.k)
    cov = law.cov[:-1, :-1] if family == "categorical" else law.cov  # the K-1 free coordinates
    assert np.allclose(cov, ref, rtol=TOL, atol=TOL * np.abs(ref).max())
    assert law.excess_loss == pytest.approx(0.5 * np.trace(A @ ref), rel=TOL)
    assert np.allclose(stationary(A, A, lam, n).cov, ref, rtol=TOL, atol=TOL * np.abs(ref).max())
    assert law.rate == pytest.approx(lam / (1 + lam))


def test_categorical_closed_form_covers_all_probabilities():
    law = stationary_closed_form("categorical", 1.0, 30, data={"probs": [0.5, 0.5]})
    c = 1.0 / (30 * 3)  # lambda / (n (1 + 2 lambda))
    assert np.allclose(law.cov, c * np.array([[0.25, -0.25], [-0.25, 0.25]]), rtol=1e-14)
    assert law.excess_loss == pytest.approx(0.5 * c)  # one free parameter


# ---------------------------------------------------------------- random pairs


@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.floats(0.01, 20), st.integers(1, 500))
def test_random_pairs_solve_the_lyapunov_equation(seed, d, lam, k):
    rng = np.random.default_rng(seed)
    A = random_spd(rng, d, 1e3)
    R = rng.normal(size=(d, d))
    if d > 1 and rng.uniform() < 0.3:
        R[:, 0] = 0.0  # B singular: a zero generalised eigenvalue
    B = R @ R.T
    law = stationary(A, B, lam, 100, k=k)
    C = law.cov
    assert np.array_equal(C, C.T)
    scale = np.abs(C).max()
    assert np.linalg.eigvalsh(C).min() >= -TOL * scale
    ref, J, Q = lyapunov_reference(A, B, lam, k)
    assert np.abs(C - J @ C @ J.T - Q).max() <= TOL * scale
    assert np.allclose(C, ref, rtol=1e-8, atol=1e-8 * scale)  # scipy's solver: cond(I - J⊗J) * 1e-16
    assert law.excess_loss == pytest.approx(0.5 * np.trace(A @ C), rel=1e-9, abs=1e-300)
    g = np.sort(np.linalg.eigvals(np.linalg.solve(A, B)).real)
    assert law.rate == pytest.approx(lam * g[-1] / (1 + lam * g[-1]), abs=1e-9)


@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.sampled_from([0.25, 0.5, 1.0, 2.0, 3.0]))
def test_equal_curvatures_give_the_exponential_family_law(seed, d, lam):
    A = random_spd(np.random.default_rng(seed), d, 1e3)
    n = 40  # lambda * n integer, so k = lambda n
    C = stationary(A, A, lam, n).cov
    expected = lam / (n * (1 + 2 * lam)) * np.linalg.inv(A)
    assert np.allclose(C, expected, rtol=TOL, atol=TOL * np.abs(expected).max())


def test_lambda_zero_gives_zero_covariance():
    A = random_spd(np.random.default_rng(1), 3, 10)
    law = stationary(A, A / 2, 0.0, 10)
    assert np.array_equal(law.cov, np.zeros((3, 3))) and law.excess_loss == 0.0 and law.rate == 0.0


def excess_loss_mp(A, B, rho, k, dps=40):
    """1/2 tr(A C) in 40-digit arithmetic on the given (double) A and B: C solves the d^2 linear system
    (I - J kron J) vec C = vec Q, with J and Q from an explicit inverse (mpmath; not the toolkit's route)."""
    d = A.shape[0]
    with mpmath.workdps(dps):
        Am, Bm, r = mpmath.matrix(A.tolist()), mpmath.matrix(B.tolist()), mpmath.mpf(rho)
        Minv = (Am + r * Bm) ** -1
        J, Q = r * Minv * Bm, r**2 / k * Minv * Bm * Minv
        K = mpmath.matrix(d * d, d * d)
        for i, j, a, b in np.ndindex(d, d, d, d):
            K[i * d + j, a * d + b] = int(i == a and j == b) - J[i, a] * J[j, b]
        vecC = mpmath.lu_solve(K, mpmath.matrix([Q[i, j] for i, j in np.ndindex(d, d)]))
        return float(sum(Am[i, a] * vecC[a * d + i] for i, a in np.ndindex(d, d)) / 2)


def test_ill_conditioned_basis_uses_the_lyapunov_fallback():
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    A = (q * np.array([1e-7, 1.0, 1e7])) @ q.T  # cond(A) = 1e14, cond(V) = 1e7 > BASIS_COND_MAX
    B = random_spd(rng, 3, 10)
    law = stationary(A, B, 0.7, 100)
    assert law.method == "lyapunov"
    C = law.cov
    _, J, Q = lyapunov_reference(A, B, 0.7, 70)
    assert np.abs(C - J @ C @ J.T - Q).max() <= 1e-6 * np.abs(C).max()  # J from an inverse of cond 1e14
    # The excess loss against 40-digit arithmetic on the same A, B. The toolkit sums the eigenvalue terms
    # c_i = rho^2 g_i / (k (1 + 2 rho g_i)): rounding A, B and the solver (backward error ~ d eps) moves the
    # generalised eigenvalue g_i by |v_i|^2 d eps (|B| + g_i |A|) to first order (v_i the A-orthonormal
    # eigenvector), and c_i by that times dc_i/dg_i. That bound, ~2e-9 relative here, is the tolerance.
    # (1/2 tr(A C) from the Lyapunov solution C is off by ~1e-4 relative here, kernel-dependent.)
    g, V = linalg.eigh(B, A)
    rho, k, eps = 0.7, law.k, np.finfo(float).eps
    dg = (V**2).sum(axis=0) * 3 * eps * (np.linalg.norm(B, 2) + g * np.linalg.norm(A, 2))
    bound = float((dg * rho**2 / (k * (1 + 2 * rho * g) ** 2)).sum() / law.excess_loss)
    assert bound < 1e-8  # the comparison below is meaningful
    assert law.excess_loss == pytest.approx(excess_loss_mp(A, B, rho, k), rel=bound)


def test_fallback_agrees_with_the_eigenbasis_on_a_well_conditioned_pair(monkeypatch):
    rng = np.random.default_rng(3)
    A, B = random_spd(rng, 4, 100), random_spd(rng, 4, 100)
    eig = stationary(A, B, 1.5, 60)
    monkeypatch.setattr(stationary_module, "BASIS_COND_MAX", 0.0)  # force the fallback
    lyap = stationary(A, B, 1.5, 60)
    assert (eig.method, lyap.method) == ("eigenbasis", "lyapunov")
    assert np.allclose(lyap.cov, eig.cov, rtol=1e-9, atol=1e-9 * np.abs(eig.cov).max())
    assert lyap.excess_loss == pytest.approx(eig.excess_loss, rel=1e-9)
    assert 0.5 * np.trace(A @ lyap.cov) == pytest.approx(eig.excess_loss, rel=1e-9)  # cond(A), cond(B) <= 100


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(A=[[1.0, 0.0], [0.0, -1.0]]), "A must be positive definite"),
        (dict(B=[[1.0, 0.0], [0.0, -1.0]]), "B must be positive semi-definite"),
        (dict(B=np.eye(3)), "A and B must have the same shape"),
        (dict(A=[[1.0, 2.0], [0.0, 1.0]]), "A must be symmetric"),
        (dict(A=[[np.nan, 0.0], [0.0, 1.0]]), "A must be finite"),
        (dict(n=0), "n must be an integer >= 1"),
        (dict(n=2.5), "n must be an integer >= 1"),
        (dict(n=np.nan), "n must be an integer >= 1"),
        (dict(k=0), "k must be an integer >= 1"),
        (dict(lambda_=-0.1), "lambda_ must be >= 0"),
        (dict(lambda_=np.nan), "lambda_ must be >= 0"),
        (dict(lambda_=np.inf), "no real data.*collapses"),
        (dict(lambda_=0.01, n=10), "k must be >= 1"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, match):
    args = dict(A=np.eye(2), B=np.eye(2), lambda_=1.0, n=10) | kwargs
    with pytest.raises(ValueError, match=match):
        stationary(**args)


def test_closed_form_rejects_unknown_family_and_bad_data():
    with pytest.raises(ValueError, match="family must be one of"):
        stationary_closed_form("cauchy", 1.0, 10)
    with pytest.raises(ValueError, match=r"data\['p'\] must be in \(0, 1\)"):
        stationary_closed_form("bernoulli", 1.0, 10, data={"p": 1.5})
    with pytest.raises(ValueError, match="no real data"):
        stationary_closed_form("poisson", np.inf, 10)


# ---------------------------------------------------------------- the exact law of the simulator


@pytest.mark.parametrize("family", [f for f in sorted(DATA) if f != "gaussian"])
def test_first_order_law_is_the_leading_term_of_the_exact_stationary_moments(family):
    """Exact: Cov(eta_inf) = Var(eta_hat) + E[Var(eta_inf - eta_hat | eta_hat)], Var(eta_hat) = V_d / n.

    The conditional term is c E[V] (1 + O(1/n)) with c = lambda / (n (1 + 2 lambda)); observed
    n |ratio - 1| = 1.25 (bernoulli, categorical, exponential), 0.625 (gamma) at n = 1e2..1e4, and
    0 for the Poisson (V linear: the first-order law is exact). Bound used: 2 / n.
    """
    lam = 0.5
    for n in (100, 1000, 10000):
        exact = family_stationary(family, n=n, lambda_=lam, data=DATA[family]).cov_mean
        law = stationary_closed_form(family, lam, n, data=DATA[family])
        V_d = law.cov * n * (1 + 2 * lam) / lam
        cond = exact - V_d / n
        mask = law.cov != 0
        ratio = cond[mask] / law.cov[mask]
        bound = 1e-9 if family == "poisson" else 2.0 / n
        assert np.abs(ratio - 1).max() <= bound, (n, ratio)


def test_gaussian_mean_block_is_the_leading_term_of_the_exact_moments():
    lam, S = 0.5, np.array([[1.0, 0.3], [0.3, 0.5]])
    for n in (100, 1000, 10000):
        exact = gaussian_stationary(n=n, lambda_=lam, data={"cov": S}).cov_mean - S / n
        law = stationary_closed_form("gaussian", lam, n, data={"cov": S})
        assert np.allclose(exact, law.cov[:2, :2], rtol=2.0 / n)  # observed n |ratio - 1| = 1.25


def test_simulate_exposes_the_fixed_real_fit():
    r = stability.simulate("gaussian", dim=2, n=20, lambda_=0.0, generations=1, chains=5, seed=0)
    assert np.array_equal(r.mean[1], r.real_mean) and np.allclose(r.cov[1], r.real_cov)
    r = stability.simulate("poisson", n=20, lambda_=0.0, generations=1, chains=5, seed=0, method="naive")
    assert np.array_equal(r.mean[1], r.real_mean)
    assert (
        stability.simulate("poisson", n=20, lambda_=1.0, generations=1, chains=2, scheme="fresh-real").real_mean is None
    )


# ---------------------------------------------------------------- Monte Carlo, right vs planted formulas


def right(A, B, lam, n, k):
    return stationary(A, B, lam, n, k=k).cov


def no_lambda_squared(A, B, lam, n, k):  # planted: Q = (1/k) M^-1 B M^-1
    return right(A, B, lam, n, k) / lam**2


def a_in_place_of_b(A, B, lam, n, k):  # planted: the score covariance taken as A instead of the Fisher B
    Minv = np.linalg.inv(A + lam * B)
    J = lam * Minv @ B
    return linalg.solve_discrete_lyapunov(J, lam**2 / k * Minv @ A @ Minv)


# Exponential families have A = B, so "A in place of B" changes nothing there: only the Student-t
# simulation (gamma = B / A = 0.61) can reject it; "no lambda^2" is off by 1/lambda^2 = 4 everywhere.
FORMULAS = {"right": right, "no lambda^2 in Q": no_lambda_squared, "A in place of B": a_in_place_of_b}

LAM, N, CHAINS, BURN, KEEP = 0.5, 200, 2000, 30, 60
# Burn-in: the chains start at the data distribution, at distance O(n^-1/2) from the real fit; the
# error decays like rate^t with rate = w = 1/3 here, so after 30 rounds it is 1e-14 of its start.
SE_MULT = 4.0  # |sim - pred| <= 4 SE + truncation: a false alarm has probability < 1e-4 per comparison
TRUNC = 2.0 / N  # the first-order law's relative error is O(1/n) (<= 1.25 / n measured above)


def _inv_sqrt(M):
    e, V = np.linalg.eigh(M)
    return (V / np.sqrt(e)[..., None, :]) @ np.swapaxes(V, -1, -2)


def _per_chain(values):
    """Mean over chains of each chain's time average (iid across chains) and its standard error."""
    per = values.mean(axis=0)
    return float(per.mean()), float(per.std(ddof=1) / np.sqrt(per.size))


def _family_statistics(family):
    """½ e^T A(eta_hat) e per chain at stationarity, e = eta_t - eta_hat (A: Fisher in mean parameters).

    Parametrisation-free: its expectation is ½ tr(A C) for the formula's C.
    """
    r = stability.simulate(family, n=N, lambda_=LAM, generations=BURN + KEEP, chains=CHAINS, data=DATA[family], seed=12)
    e = r.mean[BURN + 1 :] - r.real_mean
    if family == "gaussian":
        W = _inv_sqrt(r.real_cov)
        z = np.einsum("cij,tcj->tci", W, e)
        Z = W @ (r.cov[BURN + 1 :] - r.real_cov) @ W
        Z = Z - Z.mean(axis=(0, 1))  # E[Sigma_t - S_hat] = O(1/n) S_hat: centred, in whitened coordinates
        # ½ e^T A e for the mean block: ½ |z|²; for the covariance block: ¼ |S^-1/2 (Sigma - S) S^-1/2|_F²
        return {
            "gaussian mean": (0.5 * (z**2).sum(-1), [0, 1]),
            "gaussian cov": (0.25 * (Z**2).sum((-1, -2)), [2, 3, 4]),
        }
    m = r.real_mean
    if family == "categorical":
        e, m = e[..., :-1], m[:, :-1]
        V = m[:, :, None] * (np.eye(m.shape[1]) - m[:, None, :])
    else:
        m = m[:, 0]
        shape = DATA["gamma"]["shape"] if family == "gamma" else 1.0
        V = {"bernoulli": m * (1 - m), "poisson": m, "exponential": m**2, "gamma": m**2 / shape}[family]
        V = V[:, None, None]
    z = np.einsum("cij,tcj->tci", _inv_sqrt(V), e)
    return {family: (0.5 * (z**2).sum(-1), None)}


NU, SD = 3.0, 0.5  # Student-t(3) location model, scale 1, fitted to N(0, 0.5^2) data


def _psi(u):
    return (NU + 1) * u / (NU + u * u)


def _dpsi(u):
    return (NU + 1) * (NU - u * u) / (NU + u * u) ** 2


def _newton(theta, pts):
    for _ in range(50):
        step = _psi(pts - theta[:, None]).sum(1) / _dpsi(pts - theta[:, None]).sum(1)
        theta = theta + step
        if np.abs(step).max() < 1e-12:
            return theta
    raise AssertionError("Newton refit did not converge")


def _student_t_statistics(chains=600, burn=15, keep=30):
    """(theta_t - theta_hat)² at stationarity for refits of the mixed sample to the maximum.

    Rate lambda gamma / (1 + lambda gamma) = 0.23: 15 rounds of burn-in leave 1e-10 of the start.
    """
    rng = np.random.default_rng(5)
    k = round(LAM * N)
    x = rng.normal(0.0, SD, (chains, N))
    theta_hat = _newton(np.median(x, axis=1), x)
    theta, out = theta_hat.copy(), np.empty((keep, chains))
    for t in range(burn + keep):
        y = theta[:, None] + rng.standard_t(NU, (chains, k))
        theta = _newton(theta, np.concatenate([x, y], axis=1))
        if t >= burn:
            out[t - burn] = (theta - theta_hat) ** 2
    return out


@pytest.fixture(scope="module")
def simulations():
    """Per simulation: (statistic per round and chain, A, B, how to read the prediction from C)."""
    sims = {}
    for family in DATA:
        A = fisher_mean(family, DATA[family])
        for key, (values, block) in _family_statistics(family).items():
            sel = np.arange(A.shape[0]) if block is None else np.array(block)
            sims[key] = (values, A, A, lambda C, A=A, s=sel: 0.5 * np.trace(A[np.ix_(s, s)] @ C[np.ix_(s, s)]))
    A_t = integrate.quad(lambda v: _dpsi(v) * stats.norm.pdf(v, 0, SD), -np.inf, np.inf, epsabs=1e-13)[0]
    B_t = (NU + 1) / (NU + 3)  # Fisher information of the t location, scale 1
    sims["student-t"] = (_student_t_statistics(), np.array([[A_t]]), np.array([[B_t]]), lambda C: C[0, 0])
    return sims


def compare(simulations, formula):
    rows = []
    for name, (values, A, B, read) in simulations.items():
        pred = read(formula(A, B, LAM, N, round(LAM * N)))
        sim, se = _per_chain(values)
        tol = SE_MULT * se + TRUNC * pred
        rows.append((name, pred, sim, se, abs(sim - pred) <= tol))
    return rows


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_only_the_right_formula_matches_the_simulations(simulations, name):
    rows = compare(simulations, FORMULAS[name])
    table = "\n".join(
        f"{r[0]:14s} pred {r[1]:.4e} sim {r[2]:.4e} ± {r[3]:.1e} {'ok' if r[4] else 'MISMATCH'}" for r in rows
    )
    if name == "right":
        assert all(r[4] for r in rows), table
    else:
        assert not all(r[4] for r in rows), f"planted formula {name!r} was not rejected:\n{table}"


# ---------------------------------------------------------------- report and command line


def test_report_stationary_uses_the_report_matrices():
    x = np.random.default_rng(4).normal(1.0, 2.0, size=60)
    r = stability.analyze("gaussian", x, 0.5)
    law = r.stationary(300)
    ref, _, _ = lyapunov_reference(r.A, r.B, 0.5, 150)
    assert law.k == 150 and np.allclose(law.cov, ref, rtol=1e-8, atol=1e-8 * np.abs(ref).max())
    assert law.excess_loss == pytest.approx(0.5 * r.A.shape[0] * 0.5 / (300 * 2), rel=1e-10)  # ½ p λ/(n(1+2λ))
    assert r.stationary(300, k=10).k == 10


def test_analyze_cli_prints_the_stationary_law(capsys):
    cmd = ["analyze", "poisson", "--dist", "poisson:3", "--lambda", "1"]
    assert main([*cmd, "--n", "100", "--json"]) == 0
    law = json.loads(capsys.readouterr().out)["stationary"]
    assert law["k"] == 100 and law["excess_loss"] == pytest.approx(1 / 600, rel=1e-12)  # ½ λ / (n (1 + 2λ))
    assert main([*cmd, "--n", "100"]) == 0
    text = capsys.readouterr().out
    assert "stationary excess NLL" in text and "0.00166667" in text
    assert main([*cmd, "--json"]) == 0
    assert "stationary" not in json.loads(capsys.readouterr().out)
    assert main([*cmd, "--n", "0"]) == 2
    assert "n must be an integer >= 1" in capsys.readouterr().err
