"""fresh-fraction and accumulate-subsample (docs/theory.md §11): simulation in law, closed forms, inputs.

Tolerances. Every Monte Carlo comparison is a z-score: the difference between a simulated mean over
independent chains and its prediction, over the standard error across chains. A correct law passes
at |z| < Z = 4 (two-sided 6e-5 per comparison; the seeds are fixed, so the outcome is deterministic).
A planted wrong law (a missing finite-population correction, n in place of n_r, the brief's
accumulate limit in another convention) must sit at |z| > Z_WRONG = 6: the same statistic, with the
same chains, tells the two laws apart. Exact-vs-naive uses the two-sample KS test at
KS_LEVEL / generations per generation (Bonferroni) and the mean difference within Z standard errors.
Numerical identities between closed forms and the exact recursions are checked at the accuracy of
the tail correction they use (stated at each).
"""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import polygamma

from stability import simulate
from stability.dynamics.moments import (
    family_moments,
    family_stationary,
    fraction_stationary,
    gaussian_moments,
    gaussian_stationary,
    pool_error,
    pool_stationary,
)
from stability.schemes import ACCUMULATE_SUBSAMPLE, FRESH_FRACTION, SCHEMES, as_scheme

Z, Z_WRONG, KS_LEVEL = 4.0, 6.0, 1e-4


def _z(per_chain: np.ndarray, predicted: float) -> float:
    return abs(per_chain.mean() - predicted) / (per_chain.std() / math.sqrt(per_chain.size))


# ---------------------------------------------------------------- exact vs naive in law


@pytest.mark.parametrize("family", ["gaussian", "poisson"])
@pytest.mark.parametrize(
    "scheme, kw", [("fresh-fraction", dict(real_fraction=0.3)), ("accumulate-subsample", dict(lambda_=0.5))]
)
def test_exact_and_naive_agree_in_law(family, scheme, kw):
    G, C = 5, 2000
    runs = [
        simulate(family, n=20, generations=G, chains=C, scheme=scheme, method=m, seed=s, **kw)
        for m, s in (("exact", 1), ("naive", 2))
    ]
    stats_ = [[r.mean[..., 0]] + ([r.cov[..., 0, 0]] if r.cov is not None else []) for r in runs]
    for x_all, y_all in zip(*stats_, strict=True):
        for g in range(1, G + 1):
            x, y = x_all[g], y_all[g]
            assert stats.ks_2samp(x, y).pvalue > KS_LEVEL / G, (g, family, scheme)
            se = math.sqrt(x.var() / C + y.var() / C)
            assert abs(x.mean() - y.mean()) <= Z * se, (g, family, scheme)


def test_fresh_fraction_is_fresh_real_with_n_r_real_points():
    """Same seed, same draws: fresh-fraction (n = 30, a = 1/3) is fresh-real with n_r = 10, k = 20 (lambda = 2)."""
    a = simulate("gaussian", n=30, generations=4, chains=50, scheme="fresh-fraction", real_fraction=1 / 3, seed=5)
    b = simulate("gaussian", n=10, lambda_=2.0, generations=4, chains=50, scheme="fresh-real", seed=5)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.cov, b.cov)
    assert (a.k, a.n_real, a.lambda_, a.w) == (20, 10, 2.0, pytest.approx(2 / 3))


def test_subsample_indices_are_uniform_subsets():
    """Both index samplers pick every point with probability m/N and never twice (m < N/2 and m > N/2)."""
    from stability.families._simulation import _distinct_indices, _ranked_indices

    rng = np.random.default_rng(0)
    C = 20000
    for pick in (_distinct_indices, _ranked_indices):
        for N, m in ((10, 3), (10, 8)):
            idx = pick(rng, N, m, C)
            assert all(len(set(row)) == m for row in idx[:500])
            freq = np.bincount(idx.ravel(), minlength=N) / C  # each a binomial proportion of C draws
            se = math.sqrt((m / N) * (1 - m / N) / C)
            assert np.max(np.abs(freq - m / N)) < Z * se, (pick.__name__, N, m)
            # pairs: P(i and j both chosen) = m(m-1)/(N(N-1)) (a uniform subset), checked for (0, 1)
            both = np.mean(np.any(idx == 0, axis=1) & np.any(idx == 1, axis=1))
            p2 = m * (m - 1) / (N * (N - 1))
            assert abs(both - p2) < Z * math.sqrt(p2 * (1 - p2) / C)


# ---------------------------------------------------------------- fresh-fraction: closed form vs simulation


def _stationary_mean_sq(r, burn):
    """Per-chain mean over generations burn..G of the squared error (chains independent, so the SE is honest)."""
    return ((r.mean[burn:, :, 0] - r.data_mean[0]) ** 2).mean(axis=0)


@pytest.mark.parametrize("family, data, v2", [("gaussian", None, -1.0), ("poisson", {"rate": 3.0}, 0.0)])
def test_fresh_fraction_stationary_variance(family, data, v2):
    """Var(eta_inf) = V/(n a'(2-a') - (1-a') v2): n = 20, a = 0.3 (n_r = 6, k = 14), 4000 chains x 40 generations.

    The error's autocorrelation is (k/n)^t = 0.7^t, so generations 15..40 are stationary (0.7^15 < 5e-3 of
    the start) and average ~26/5.7 independent values per chain. Planted: the real sample's variance V/n
    instead of V/n_r (the law with n in place of n_r) is 21% smaller; the sketch without the -(1-a')v2
    term is 7% off for the Gaussian.
    """
    n, a = 20, 0.3
    r = simulate(family, n=n, generations=40, chains=4000, scheme="fresh-fraction", real_fraction=a, data=data, seed=7)
    V = 1.0 if family == "gaussian" else 3.0
    closed = V * fraction_stationary(n, 6, v2)
    st = (gaussian_stationary if family == "gaussian" else lambda **k: family_stationary(family, **k))(
        n=n, scheme="fresh-fraction", real_fraction=a, data=data
    )
    assert st.cov_mean[0, 0] == pytest.approx(closed, rel=1e-12)  # the recursion's fixed point, solved exactly
    x = _stationary_mean_sq(r, 15)
    assert _z(x, closed) < Z
    b = 14 / 20
    wrong_n = V * (a**2 / n + b**2 / 14) / (1 - b**2 - b**2 * v2 / 14)  # the fixed point with V/n for the real part
    assert _z(x, wrong_n) > Z_WRONG
    if family == "gaussian":
        assert _z(x, V / (n * 0.3 * 1.7)) > Z_WRONG  # the sketch sigma^2/(n a'(2-a')) misses the 1 - a'
        ecov = r.cov[15:, :, 0, 0].mean(axis=0)  # E Sigma_inf = sigma^2 - Var(mu_inf) (MLE)
        assert _z(ecov, 1.0 - closed) < Z
        assert st.expected_cov[0, 0] == pytest.approx(1.0 - closed, rel=1e-12)


# ---------------------------------------------------------------- accumulate(-subsample): per generation


@pytest.mark.parametrize("family, data", [("gaussian", None), ("poisson", {"rate": 2.0})])
@pytest.mark.parametrize("scheme", ["accumulate", "accumulate-subsample"])
def test_pool_recursion_per_generation(family, data, scheme):
    """The exact pool recursion vs simulation at every generation (n = 20, lambda = 1, 4000 chains, 8 generations).

    Planted: without the finite-population correction (u_t ~ V/n instead of V(1/n - 1/N_t)) generation 1
    of accumulate-subsample would be V(1/n + 1/(n+k)) = 1.5 V/n instead of V/n.
    """
    n, G = 20, 8
    r = simulate(family, n=n, lambda_=1.0, generations=G, chains=4000, scheme=scheme, data=data, seed=11)
    pr = (gaussian_moments if family == "gaussian" else lambda **k: family_moments(family, **k))(
        n=n, lambda_=1.0, generations=G, scheme=scheme, data=data
    )
    V = 1.0 if family == "gaussian" else 2.0
    e2 = (r.mean[..., 0] - r.data_mean[0]) ** 2
    for g in range(1, G + 1):
        assert _z(e2[g], pr.cov_mean[g, 0, 0]) < Z, g
        if family == "gaussian":
            assert _z(r.cov[g, :, 0, 0], pr.expected_cov[g, 0, 0]) < Z, g
    sub = ACCUMULATE_SUBSAMPLE.name == scheme
    # the first-order closed form of docs/theory.md §11; exact at generation 1 (n + k fresh points)
    assert pr.cov_mean[1, 0, 0] == pytest.approx(V * pool_error(n, n, 1, subsample=sub), rel=1e-12)
    for g in range(1, G + 1):
        assert _z(e2[g], V * pool_error(n, n, g, subsample=sub)) < Z, g
    if sub:
        assert _z(e2[1], V * (1 / n + 1 / (2 * n))) > Z_WRONG


def test_pool_stationary_closed_forms_are_the_limits():
    """pool_stationary vs the exact recursion iterated 20000 generations plus its first-order tail.

    accumulate: exact (Gaussian MLE, v2 = -1; Poisson, v2 = 0; gamma shape 2, v2 = 1/2): agreement to 1e-5
    relative (the tail after 20000 generations is ~5e-5 of the total and its first-order form is off by
    O(1/n) of that). accumulate-subsample: first order, within 3/n relative of the exact limit. The brief's
    accumulate limit sigma^2/n + sigma^2 psi'(1 + n/k)/k (generation 0 the real fit, not the data) is
    10% above: a different initial condition, not this simulator's.
    """
    n, lam, G = 50, 1.0, 20000
    k = 50
    tail = float(polygamma(1, n / k + G + 1))
    for family, data, v2, V in (("poisson", {"rate": 2.0}, 0.0, 2.0), ("gamma", None, 0.5, 0.5)):
        rec = family_moments(family, n=n, lambda_=lam, generations=G, scheme="accumulate", data=data)
        limit = rec.cov_mean[-1, 0, 0] / V + tail / k
        assert limit == pytest.approx(pool_stationary(n, k, subsample=False, v2=v2), rel=1e-5)
    g = gaussian_moments(n=n, lambda_=lam, generations=G, scheme="accumulate").cov_mean[-1, 0, 0] + tail / k
    assert g == pytest.approx(pool_stationary(n, k, subsample=False, v2=-1.0), rel=1e-5)
    assert gaussian_stationary(n=n, lambda_=lam, scheme="accumulate").cov_mean[0, 0] == pytest.approx(g, rel=1e-5)
    brief = 1 / n + float(polygamma(1, 1 + n / k)) / k
    assert brief > 1.1 * g
    sub = gaussian_stationary(n=n, lambda_=lam, scheme="accumulate-subsample").cov_mean[0, 0]
    assert sub == pytest.approx(pool_stationary(n, k, subsample=True), rel=3 / n)


@pytest.mark.slow
def test_accumulate_subsample_long_run():
    """accumulate-subsample at n = 30, lambda = 1 over 60 generations vs the exact recursion at generation 60."""
    n, G = 30, 60
    r = simulate("gaussian", n=n, lambda_=1.0, generations=G, chains=3000, scheme="accumulate-subsample", seed=3)
    pr = gaussian_moments(n=n, lambda_=1.0, generations=G, scheme="accumulate-subsample")
    assert _z(r.mean[G, :, 0] ** 2, pr.cov_mean[G, 0, 0]) < Z


# ---------------------------------------------------------------- declarations and inputs


def test_declarations():
    assert FRESH_FRACTION.fraction and FRESH_FRACTION.redraws_real and not FRESH_FRACTION.accumulate
    assert ACCUMULATE_SUBSAMPLE.subsample and ACCUMULATE_SUBSAMPLE.accumulate and ACCUMULATE_SUBSAMPLE.keeps_real
    s = as_scheme("fresh-fraction", real_fraction=0.25)
    assert s.real_fraction == 0.25 and SCHEMES["fresh-fraction"].real_fraction == 0.5  # the registry is unchanged
    assert (s.real_size(100), s.synthetic(100, None), s.training_size(100, 75)) == (25, 75, 100)
    assert s.resolve(None) is s and s.resolve(3.0) is s  # lambda_ is not used
    assert ACCUMULATE_SUBSAMPLE.pool_size(10, 5, t=2) == 25 and ACCUMULATE_SUBSAMPLE.training_size(10, 5, 2) == 10
    assert as_scheme("fresh-fraction", real_fraction=0.29).real_size(100) == 29  # 0.29 * 100 = 28.999...


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(scheme="fresh-fraction", real_fraction=0.0), r"real_fraction must be a number in \(0, 1\]"),
        (dict(scheme="fresh-fraction", real_fraction=1.5), r"real_fraction must be a number in \(0, 1\]"),
        (dict(scheme="fresh-fraction", real_fraction=float("nan")), r"real_fraction must be a number in \(0, 1\]"),
        (dict(scheme="fresh-fraction", real_fraction="a"), r"real_fraction must be a number in \(0, 1\]"),
        (
            dict(scheme="fresh-fraction", real_fraction=0.05),
            r"real_fraction must satisfy floor\(real_fraction \* n\) >= 1",
        ),
        (
            dict(scheme="fixed-real", lambda_=1.0, real_fraction=0.5),
            r"real_fraction must be given only for the fraction",
        ),
        (dict(scheme="accumulate-subsample", lambda_=1.0, real_fraction=0.5), r"real_fraction must be given only for"),
        (dict(scheme="accumulate-subsample", lambda_=float("inf")), r"lambda_ must be finite for scheme"),
        (dict(scheme="fixed-real"), r"lambda_ must be given for scheme 'fixed-real'"),
        (dict(scheme="fresh-fraction", lambda_=-1.0), r"lambda_ must be >= 0"),
        (dict(scheme="fresh-fraction", n=3, dim=3), r"n must be >= dim \+ 1 = 4"),
        (dict(scheme="accumulate-subsample", lambda_=1.0, n=3, dim=3), r"n must be >= dim \+ 1 = 4"),
    ],
)
def test_invalid_inputs(kwargs, match):
    kw = dict(n=10, generations=2, chains=2) | kwargs
    with pytest.raises(ValueError, match=match):
        simulate("gaussian", **kw)


def test_invalid_inputs_of_the_closed_forms():
    with pytest.raises(ValueError, match=r"real_fraction must be a number in \(0, 1\]"):
        family_stationary("poisson", n=10, scheme="fresh-fraction", real_fraction=-0.2)
    with pytest.raises(ValueError, match=r"estimator must be one of"):
        gaussian_moments(n=10, lambda_=1.0, generations=2, scheme="accumulate-subsample", estimator="biased")
    with pytest.raises(ValueError, match="real_fraction must be given only for the fraction schemes"):
        as_scheme("replace", real_fraction=0.5)


# ---------------------------------------------------------------- proofs_check setups: planted errors


@pytest.mark.slow
@pytest.mark.proofs
def test_proofs_check_setups_fail_on_planted_errors(monkeypatch):
    """The §11 checks can fail: the sketch without -(1-a')v2 is not the fixed point (Gaussian, v2 = -1),
    and a toolkit limit without the finite-population correction differs from the independent value."""
    from proofs_check import REGISTRY, run
    from proofs_check import setups as pc_setups
    from stability.dynamics import moments

    def status(name):
        return run([REGISTRY[name]])[0].outcome

    monkeypatch.setattr(pc_setups, "fraction_variance", lambda n_, a_, v2_, V_=1: V_ / (n_ * a_ * (2 - a_)))
    assert not status("setups.fraction_fixed_point").passed
    real = moments.pool_stationary

    def no_fpc(n_, k_, *, subsample, v2=0.0):
        extra = 1.0 / (n_ + k_) if subsample else 0.0  # the -1/N_t terms dropped (first order)
        return real(n_, k_, subsample=subsample, v2=v2) + extra

    monkeypatch.setattr(moments, "pool_stationary", no_fpc)
    assert not status("setups.toolkit_limits").passed
