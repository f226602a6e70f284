"""Curated retraining (docs/theory.md §15): the tilt, the Luce choice, closed forms against simulation, inputs.

Tolerances. Every Monte Carlo comparison is a z-score: a simulated mean over independent chains
minus its prediction, over the standard error across chains. A correct law passes at |z| < Z = 4
(two-sided 6e-5 per comparison; seeds are fixed, so the outcome is deterministic); a planted wrong
law must reach |z| > Z_WRONG = 6 with the same statistic and chains. One generation from a known
model is exact in law at any n (E[sample mean] = the kept law's mean, E[MLE variance] = (n-1)/n
times its variance); multi-generation and fixed-point comparisons use the population recursion,
whose finite-sample bias is O(1/k): the runs use k = 1e5 (exact method, cost independent of k), so
the bias is a few percent of the standard error. Exact-vs-naive uses the two-sample KS test at
KS_LEVEL and the mean difference within Z standard errors. Numerical identities (closed forms
against an independent route) are checked at the accuracy of that route, stated at each.
"""

import math

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import expit

from stability import simulate
from stability.dynamics import (
    Curation,
    LinearReward,
    QuadraticReward,
    curated_gaussian,
    curated_point_moments,
    curated_replace,
)
from stability.dynamics.curation import as_reward, curated_points, quartic_coefficients, tilt

Z, Z_WRONG, KS_LEVEL = 4.0, 6.0, 1e-4


def _z(per_chain: np.ndarray, predicted) -> float:
    return float(
        np.max(np.abs(per_chain.mean(axis=0) - predicted) / (per_chain.std(axis=0) / math.sqrt(len(per_chain))))
    )


def _tilt_by_quadrature(m, v, r):
    """Mean and variance of p e^r / E_p e^r by adaptive quadrature (independent of the closed form)."""
    f = lambda x, k: x**k * stats.norm.pdf(x, m, math.sqrt(v)) * math.exp(r(np.array([x]))[()])  # noqa: E731
    lo, hi = m - 30 * math.sqrt(v), m + 30 * math.sqrt(v)
    Z0, Z1, Z2 = (integrate.quad(f, lo, hi, args=(k,), epsabs=0, epsrel=1e-12, limit=400)[0] for k in range(3))
    return Z1 / Z0, Z2 / Z0 - (Z1 / Z0) ** 2


# ---------------------------------------------------------------- the tilt and the Luce choice


@pytest.mark.parametrize(
    "m, v, reward",
    [
        (0.0, 1.0, QuadraticReward(1.5, 0.7)),
        (-1.0, 3.0, QuadraticReward(2.0, 4.0)),
        (0.5, 2.0, LinearReward(0.8)),
    ],
)
def test_tilt_matches_quadrature(m, v, reward):
    # quad at epsrel 1e-12 on a Gaussian-decaying integrand: agreement to 1e-9 relative
    mt, St = tilt(np.array([m]), np.array([[v]]), reward)
    ref = _tilt_by_quadrature(m, v, lambda x: reward(x[None, :])[0])
    assert mt[0] == pytest.approx(ref[0], rel=1e-9, abs=1e-10)
    assert St[0, 0] == pytest.approx(ref[1], rel=1e-9)


def test_tilt_in_d_dimensions_is_the_precision_formula():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    S = A @ A.T + 0.5 * np.eye(3)
    mu, a, beta = rng.standard_normal(3), rng.standard_normal(3), 1.7
    mt, St = tilt(mu, S, QuadraticReward(a, beta))
    P = np.linalg.inv(S) + beta * np.eye(3)  # precision form, another route
    assert np.allclose(St, np.linalg.inv(P), rtol=1e-12, atol=1e-13)
    assert np.allclose(mt, np.linalg.solve(P, np.linalg.solve(S, mu) + beta * a), rtol=1e-12, atol=1e-13)
    b = rng.standard_normal(3)
    ml, Sl = tilt(mu, S, LinearReward(b))
    assert np.allclose(ml, mu + S @ b) and np.array_equal(Sl, S)


def test_gumbel_choice_has_the_luce_probabilities():
    # the sampler's kept points against the K = 2 law computed by quadrature (exact, see below):
    # per-chain means of 500 kept points are independent across the 400 chains
    cur = Curation(2, QuadraticReward(1.0, 1.0))
    x = curated_points(np.random.default_rng(3), np.zeros((400, 1)), np.eye(1), 500, cur)
    m2, v2 = curated_point_moments(0.0, 1.0, cur.reward, 2)
    pts = x[..., 0].mean(axis=1)  # per-chain means, independent across chains
    assert _z(pts[:, None], m2) < Z
    assert _z(pts[:, None], 0.5) > Z_WRONG  # the tilt's mean (K = inf) is a wrong law here


# ---------------------------------------------------------------- the law of a kept point (finite K)


def _h2_moments(m, v, r):
    """K = 2 by a 2-D trapezoid product rule (uniform grid of +-13 sd, 2000 points per axis):
    E[g(X) 2 e^{r(X)}/(e^{r(X)} + e^{r(X')})], the ratio as a logistic of r(X) - r(X') (independent route).
    (Gauss-Hermite is not used: the logistic of a quadratic difference has complex poles near the real
    axis, and 160 nodes are only ~1e-8 accurate there.)"""
    x = np.linspace(m - 13 * math.sqrt(v), m + 13 * math.sqrt(v), 2000)
    w = np.exp(-0.5 * (x - m) ** 2 / v)
    w /= w.sum()
    rr = r(x[:, None])
    H = 2 * expit(rr[:, None] - rr[None, :]) @ w
    mass = w @ H
    mu = (w * H) @ x / mass
    return mu, (w * H) @ x**2 / mass - mu**2, mass


@pytest.mark.parametrize(
    "m, v, reward",
    [(0.0, 1.0, QuadraticReward(1.0, 1.0)), (0.3, 0.5, QuadraticReward(-1.0, 3.0)), (0.0, 1.0, LinearReward(0.7))],
)
def test_kept_point_law_k2_matches_a_product_rule(m, v, reward):
    # the trapezoid product rule is spectrally accurate here (1e-14 between 1000 and 4000 points); the
    # quadrature's own tolerance (quad_vec epsrel 1e-11) sets 1e-9; mass = 1 by the symmetry of H_2
    mu, var, mass = _h2_moments(m, v, lambda x: reward(x))
    assert mass == pytest.approx(1.0, abs=1e-10)
    got = curated_point_moments(m, v, reward, 2)
    assert got[0] == pytest.approx(mu, abs=1e-9) and got[1] == pytest.approx(var, rel=1e-9)


def test_kept_point_law_approaches_the_tilt_and_is_monotone_in_k():
    reward = QuadraticReward(1.0, 1.0)
    mt, vt = 0.5, 0.5  # the tilt of N(0, 1) by -(x-1)^2/2
    errs = [abs(curated_point_moments(0.0, 1.0, reward, K)[0] - mt) for K in (2, 16, 128, 1024)]
    assert all(b < a for a, b in zip(errs, errs[1:], strict=False))
    assert errs[-1] < 2e-3  # O(1/K): 1024 * err ~ constant
    assert 0.2 < 1024 * errs[-1] / (128 * errs[-2]) < 5
    assert curated_point_moments(0.0, 1.0, reward, 1) == (0.0, 1.0)
    assert curated_point_moments(0.0, 1.0, reward, math.inf) == pytest.approx((mt, vt), rel=1e-14)


@pytest.mark.parametrize("K", [2, 16])
def test_finite_k_simulation_matches_the_quadrature_law(K):
    # replace, one generation from N(0, 1): E m_1 = kept mean, E v_1 = (n-1)/n kept variance, exactly
    reward = QuadraticReward(1.0, 1.0)
    n, C = 200, 2000
    r = simulate("gaussian", n=n, lambda_=math.inf, generations=1, chains=C, method="naive", seed=K,
                 curation=dict(K=K, reward=reward))  # fmt: skip
    mk, vk = curated_point_moments(0.0, 1.0, reward, K)
    sim = np.column_stack([r.mean[1, :, 0], r.cov[1, :, 0, 0]])
    assert _z(sim, [mk, (n - 1) / n * vk]) < Z
    assert _z(sim[:, :1], 0.5) > Z_WRONG  # planted: the K = inf tilt's mean


def test_exact_method_refuses_finite_k_and_k1_is_plain_sampling():
    kw = dict(n=20, lambda_=1.0, generations=2, chains=5, seed=0)
    with pytest.raises(ValueError, match=r"finite K = 4 needs method 'naive'"):
        simulate("gaussian", curation=dict(K=4, reward=dict(center=0.0, strength=1.0)), **kw)
    a = simulate("gaussian", curation=dict(K=1, reward=dict(center=0.0, strength=1.0)), **kw)
    b = simulate("gaussian", **kw)
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.cov, b.cov)


# ---------------------------------------------------------------- K = inf: exact against naive, closed forms


@pytest.mark.parametrize(
    "scheme, kw",
    [
        ("fixed-real", {}),
        ("replace", {}),
        ("accumulate", {}),
        ("fresh-real", {}),
        ("fresh-fraction", dict(real_fraction=0.4, lambda_=None)),
        ("accumulate-subsample", {}),
    ],
)
def test_exact_and_naive_agree_in_law_at_k_inf(scheme, kw):
    G, C = 4, 2000
    cur = dict(K=math.inf, reward=QuadraticReward(2.0, 0.5))
    kw = dict(lambda_=1.0) | kw
    runs = [
        simulate("gaussian", n=30, generations=G, chains=C, scheme=scheme, method=m, seed=s, curation=cur, **kw)
        for m, s in (("exact", 1), ("naive", 2))
    ]
    for g in range(1, G + 1):
        for x, y in (
            (runs[0].mean[g, :, 0], runs[1].mean[g, :, 0]),
            (runs[0].cov[g, :, 0, 0], runs[1].cov[g, :, 0, 0]),
        ):
            assert stats.ks_2samp(x, y).pvalue > KS_LEVEL / G, (g, scheme)
            assert abs(x.mean() - y.mean()) <= Z * math.sqrt(x.var() / C + y.var() / C), (g, scheme)


def test_one_round_in_two_dimensions_has_the_tilted_conditional_moments():
    # fixed-real, one round: given the real fit (m, S), E mu_1 = (1-w) m + w mu~ and, by §6 applied to
    # the tilt, E Sigma_1 = (1-w) S + w (k-1)/k Sigma~ + w(1-w)[(mu~-m)(mu~-m)' + Sigma~/k], exact at any n
    Sd = np.array([[1.0, 0.4], [0.4, 0.6]])
    reward = QuadraticReward([1.5, -0.5], 0.8)
    n, C = 40, 20000
    r = simulate("gaussian", data={"mean": [0.0, 0.5], "cov": Sd}, n=n, lambda_=1.0, generations=1, chains=C, seed=9,
                 curation=dict(K=math.inf, reward=reward))  # fmt: skip
    k, w = n, 0.5
    mt, St = tilt(np.array([0.0, 0.5]), Sd, reward)  # generation 0 is the data
    Em = (1 - w) * r.real_mean + w * mt
    D = mt - r.real_mean
    ES = (1 - w) * r.real_cov + w * (k - 1) / k * St + w * (1 - w) * (D[:, :, None] * D[:, None, :] + St / k)
    dm = r.mean[1] - Em
    dS = (r.cov[1] - ES).reshape(C, 4)[:, [0, 1, 3]]
    assert _z(dm, 0.0) < Z and _z(dS, 0.0) < Z
    assert _z(r.mean[1] - ((1 - w) * r.real_mean + w * np.array([0.0, 0.5])), 0.0) > Z_WRONG  # planted: no tilt


def test_replace_closed_form_against_simulation_and_reward_increases():
    reward = QuadraticReward(2.0, 0.5)
    G, n, C = 8, 100_000, 400
    r = simulate(
        "gaussian", n=n, lambda_=math.inf, generations=G, chains=C, seed=5, curation=dict(K=math.inf, reward=reward)
    )
    m, S = curated_replace(0.0, 1.0, reward, G)
    t = np.arange(G + 1)
    assert np.allclose(m[:, 0], 2.0 * 0.5 * t / (1 + 0.5 * t)) and np.allclose(S[:, 0, 0], 1 / (1 + 0.5 * t))
    for g in (1, 4, 8):  # bias O(g/n) = 1e-4 of v, SE ~ sqrt(v/n/C) ~ 1.5e-4 for the mean
        sim = np.column_stack([r.mean[g, :, 0], r.cov[g, :, 0, 0]])
        assert _z(sim[:, :1], m[g, 0]) < Z
        assert abs(sim[:, 1].mean() - S[g, 0, 0]) < 1e-3 * S[g, 0, 0] + Z * sim[:, 1].std() / math.sqrt(C)
    assert _z(r.mean[8, :, :1], curated_replace(0.0, 1.0, QuadraticReward(2.0, 0.55), G)[0][8, 0]) > Z_WRONG
    er = reward.expected(m, S)
    assert np.all(np.diff(er) > 0)  # Ferbach et al.: the expected reward increases along the replace loop
    assert _z(r.expected_reward[8][:, None], er[8]) < Z


def test_replace_linear_reward_drifts_without_bound():
    b = np.array([0.3, -0.2])
    S0 = np.array([[1.0, 0.4], [0.4, 2.0]])
    m, S = curated_replace(np.zeros(2), S0, LinearReward(b), 10)
    assert np.allclose(m[10], 10 * S0 @ b) and np.allclose(S, S0)
    r = simulate("gaussian", data={"mean": [0, 0], "cov": S0}, n=100_000, lambda_=math.inf, generations=10, chains=300,
                 seed=2, curation=dict(K=math.inf, reward=dict(direction=b)))  # fmt: skip
    assert _z(r.mean[10], m[10]) < Z


def test_replace_d_dimensional_closed_form_per_eigen_direction():
    S0 = np.array([[2.0, 0.5], [0.5, 1.0]])
    a, beta, t = np.array([1.0, -1.0]), 0.8, 5
    m, S = curated_replace(np.zeros(2), S0, QuadraticReward(a, beta), t)
    e, V = np.linalg.eigh(S0)
    assert np.allclose(V.T @ S[t] @ V, np.diag(1 / (1 / e + t * beta)), atol=1e-13)  # 1/(1/v0 + t beta)
    proj = V.T @ m[t]
    assert np.allclose(proj, (t * beta * (V.T @ a)) / (1 / e + t * beta))  # (m0/v0 + t beta a)/(1/v0 + t beta)


# ---------------------------------------------------------------- mixed real / curated: fixed point and rate


def test_fixed_point_at_a_equal_data_mean_is_the_quadratic_root():
    for c, lam in ((0.3, 0.5), (1.0, 1.0), (4.0, 3.0)):
        g = curated_gaussian(0.0, c, 0.0, 1.0, lam)  # beta = 1, so s = v and c = beta v_d
        s = (-(1 - c) + math.sqrt((1 - c) ** 2 + 4 * (1 + lam) * c)) / (2 * (1 + lam))
        assert g.var == pytest.approx(s, rel=1e-12) and g.mean == pytest.approx(0.0, abs=1e-14)
        assert g.rate == pytest.approx(lam / ((1 + lam) * (1 + s)), rel=1e-10)


def test_fixed_point_is_the_limit_of_the_iterated_map_and_the_jacobian_is_right():
    g = curated_gaussian(0.5, 2.0, 3.0, 0.7, 1.5)
    m, S = g.trajectory(400)  # iterating the map: another route than the quartic's root
    assert m[-1, 0] == pytest.approx(g.mean, rel=1e-12) and S[-1, 0, 0] == pytest.approx(g.var, rel=1e-12)
    x0 = np.array([g.mean, g.var])
    F = lambda x: np.array([v.ravel()[0] for v in g.step(np.array([x[0]]), np.array([[x[1]]]))])  # noqa: E731
    h = 1e-6
    J = np.column_stack([(F(x0 + h * e) - F(x0 - h * e)) / (2 * h) for e in np.eye(2)])
    assert np.allclose(g.jacobian, J, atol=1e-8)  # central differences: error O(h^2) ~ 1e-12 + rounding 1e-10
    ratio = np.abs(m[6:16, 0] - g.mean) / np.abs(m[5:15, 0] - g.mean)  # the slowest mode takes over
    assert ratio[-1] == pytest.approx(g.rate, rel=1e-3)  # the other mode (0.05) is 1e-7 of it by then
    coef = np.poly1d(quartic_coefficients(0.7 * 2.0, 1.5, 0.7 * 2.5**2))
    assert abs(coef(0.7 * g.var)) < 1e-10 * np.abs(coef.coeffs).max()


def test_fixed_point_d_dimensional_against_iteration():
    Sd = np.array([[1.0, 0.3], [0.3, 0.5]])
    g = curated_gaussian([0.0, 1.0], Sd, [1.0, 2.0], 1.2, 2.0)
    m, S = g.trajectory(500)
    assert np.allclose(m[-1], g.mean, atol=1e-12) and np.allclose(S[-1], g.var, atol=1e-12)
    assert g.jacobian.shape == (5, 5) and 0 < g.rate < 1


def test_multiple_fixed_points_are_all_roots():
    # data much narrower than the reward's distance (c = beta v_d = 1e-5 < 1/(4 lambda (1+lambda) kappa)):
    # three positive roots: near the data (stable), a middle one (unstable) and one near the reward (stable)
    g = curated_gaussian(0.0, 1e-5, 3.0, 1.0, 1.0)
    pts = g.fixed_points
    assert len(pts) == 3
    for m, S in pts:
        m2, S2 = g.step(m, S)
        assert np.allclose(m2, m, rtol=1e-9) and np.allclose(S2, S, rtol=1e-9)
    rates = []
    for m, S in pts:  # the Jacobian at each root by central differences of the map
        x0, h = np.array([m[0], S[0, 0]]), 1e-7 * max(1.0, abs(m[0]))
        F = lambda x: np.array([u.ravel()[0] for u in g.step(np.array([x[0]]), np.array([[x[1]]]))])  # noqa: E731
        J = np.column_stack([(F(x0 + h * e) - F(x0 - h * e)) / (2 * h) for e in np.eye(2)])
        rates.append(np.max(np.abs(np.linalg.eigvals(J))))
    assert rates[0] < 1 and rates[1] > 1 and rates[2] < 1
    m, S = g.trajectory(200)  # from the data the recursion stays at the near root
    assert g.var == pytest.approx(S[-1, 0, 0], rel=1e-9) and g.var == pytest.approx(pts[0][1][0, 0], rel=1e-12)
    far = g.trajectory(200, mean0=3.0, cov0=1.0)[1][-1, 0, 0]  # from the reward, the far root
    assert far == pytest.approx(pts[2][1][0, 0], rel=1e-9)


def test_linear_reward_fixed_point_closed_form_and_threshold():
    g = curated_gaussian(0.0, 1.0, reward=LinearReward(0.2), lambda_=1.0)
    # v = v_d + lambda (1 + lambda) b^2 v^2: smaller root of 0.08 v^2 - v + 1 = 0; m = lambda v b
    v = (1 - math.sqrt(1 - 4 * 0.08)) / (2 * 0.08)
    assert g.var == pytest.approx(v, rel=1e-13) and g.mean == pytest.approx(0.2 * v, rel=1e-13)
    m, S = g.trajectory(300)
    assert S[-1, 0, 0] == pytest.approx(v, rel=1e-10)
    with pytest.raises(ValueError, match=r"no fixed point: it needs 4 lambda_ \(1 \+ lambda_\) b'Sigma_d b <= 1"):
        curated_gaussian(0.0, 1.0, reward=LinearReward(0.5), lambda_=1.0).mean  # noqa: B018
    with pytest.raises(ValueError, match="drifts"):
        curated_gaussian(0.0, 1.0, reward=LinearReward(0.5), lambda_=math.inf).mean  # noqa: B018


def _stationary(reward, lam, seed, n=100_000, C=300, G=60, B=30, wrong=False):
    r = simulate("gaussian", n=n, lambda_=lam, generations=G, chains=C, seed=seed,
                 curation=dict(K=math.inf, reward=reward))  # fmt: skip
    sim = np.column_stack([r.mean[B:, :, 0].mean(axis=0), r.cov[B:, :, 0, 0].mean(axis=0)])
    pred = []
    for m_hat, v_hat in zip(r.real_mean[:, 0], r.real_cov[:, 0, 0], strict=True):
        g = curated_gaussian(m_hat, v_hat, reward=reward, lambda_=lam)
        if wrong:  # planted: the refit without the between-means term w(1-w)(mu~ - m)^2
            m, v = g.mean, g.var
            for _ in range(200):
                mt, vt = tilt(np.array([m]), np.array([[v]]), reward)
                w = lam / (1 + lam)
                m, v = (1 - w) * m_hat + w * mt[0], (1 - w) * v_hat + w * vt[0, 0]
            pred.append((m, v))
        else:
            pred.append((g.mean, g.var))
    return sim - np.array(pred), r


@pytest.mark.slow  # ~6 s each (300 chains x 60 generations, twice)
@pytest.mark.parametrize("lam", [0.5, 2.0])
def test_fixed_point_against_simulation(lam):
    # burn-in 30: the transient from the data start, 0.63^30 ~ 1e-6 at lambda = 2, is far below the SE
    reward = QuadraticReward(2.0, 1.0)
    diff, _ = _stationary(reward, lam, seed=int(10 * lam))
    assert _z(diff, 0.0) < Z
    wrong, _ = _stationary(reward, lam, seed=int(10 * lam), wrong=True)
    assert _z(wrong[:, 1:], 0.0) > Z_WRONG


def test_finite_k_population_recursion_runs_and_is_between_plain_and_tilt():
    reward = QuadraticReward(2.0, 1.0)
    g16 = curated_gaussian(0.0, 1.0, reward=reward, lambda_=1.0, K=16)
    ginf = curated_gaussian(0.0, 1.0, reward=reward, lambda_=1.0)
    assert 0.0 < g16.mean < ginf.mean
    m, S = g16.step(np.array([g16.mean]), np.array([[g16.var]]))
    assert m[0] == pytest.approx(g16.mean, abs=1e-9) and S[0, 0] == pytest.approx(g16.var, abs=1e-9)
    assert 0 < g16.rate < 1


# ---------------------------------------------------------------- declarations, seeds, inputs


def test_reward_and_curation_declarations():
    assert as_reward({"kind": "linear", "direction": [1.0, 2.0]}).dim == 2
    assert Curation(3.0, {"center": 0.0, "strength": 1.0}).K == 3
    assert Curation(math.inf, {"center": 0.0, "strength": 1.0}).infinite


def test_same_seed_same_numbers_and_shapes_in_two_dimensions():
    kw = dict(data={"mean": [0, 0], "cov": [[1, 0.2], [0.2, 1]]}, n=30, lambda_=1.0, generations=3, chains=7,
              method="naive", curation=dict(K=5, reward=dict(center=[1.0, 0.0], strength=2.0)))  # fmt: skip
    a, b = simulate("gaussian", seed=4, **kw), simulate("gaussian", seed=4, **kw)
    assert np.array_equal(a.mean, b.mean) and a.mean.shape == (4, 7, 2) and a.expected_reward.shape == (4, 7)
    assert a.curation.K == 5


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(curation=dict(K=0, reward=dict(center=0.0, strength=1.0))), r"curation K must be an integer >= 1"),
        (dict(curation=dict(K=2.5, reward=dict(center=0.0, strength=1.0))), r"curation K must be an integer >= 1"),
        (dict(curation=dict(K=2, reward=dict(kind="cubic"))), r"reward kind must be one of"),
        (dict(curation=dict(K=2, reward=dict(center=0.0, strength=0.0))), r"reward strength must be > 0"),
        (dict(curation=dict(K=2, reward=dict(center=0.0, strength=-1.0))), r"reward strength must be > 0"),
        (
            dict(curation=dict(K=2, reward=dict(center=[0.0, 1.0], strength=1.0)), method="naive"),
            r"dimension 2, the data",
        ),
        (dict(curation=dict(K=2)), r"curation must be None, a Curation or a dict"),
    ],
)
def test_invalid_inputs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate("gaussian", **(dict(n=10, lambda_=1.0, generations=1, chains=2) | kwargs))


def test_non_gaussian_family_refused():
    with pytest.raises(ValueError, match="curation is implemented for the gaussian family only"):
        simulate("poisson", n=10, lambda_=1.0, generations=1, chains=2, curation=dict(K=2, reward=dict(direction=1.0)))


def test_finite_k_draws_in_chunks_have_the_same_law(monkeypatch):
    # a tiny block forces one chain per block and 16 kept points per draw of candidates
    from stability.dynamics import simulator

    monkeypatch.setattr(simulator, "NAIVE_BLOCK_FLOATS", 64)
    reward = QuadraticReward(1.0, 1.0)
    n, C = 50, 400
    r = simulate("gaussian", n=n, lambda_=math.inf, generations=1, chains=C, method="naive", seed=1,
                 curation=dict(K=4, reward=reward))  # fmt: skip
    m4, v4 = curated_point_moments(0.0, 1.0, reward, 4)
    assert _z(np.column_stack([r.mean[1, :, 0], r.cov[1, :, 0, 0]]), [m4, (n - 1) / n * v4]) < Z
