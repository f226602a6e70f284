"""simulate: input validation, seeding, extreme inputs, collapse reporting, and exact vs naive in law."""

import numpy as np
import pytest
from scipy import stats

from stability.dynamics import simulate, synthetic_count
from stability.dynamics.simulator import SCHEMES
from stability.families import simulated_families

FAMILIES = simulated_families(own_dynamics=False)  # the kernel-run families, the Gaussian first

# Exact vs naive: the per-generation statistics are compared with a two-sample KS test at
# KS_LEVEL / generations per generation (Bonferroni) and their means within Z standard errors of the
# difference. With fixed seeds the outcome is deterministic; a correct simulator fails a combination
# with probability <= 1e-4 (KS) + 6e-7 (5 SE, two-sided), and the 24 combinations together <= 0.3%.
KS_LEVEL = 1e-4
Z = 5.0
CHAINS, GENS, N, LAM = 3000, 4, 12, 1.0


def _statistics(r):
    """Per-generation statistics of each chain, shape (stat, generations + 1, chains)."""
    if r.cov is None:
        return [r.mean[..., i] for i in range(r.mean.shape[-1])]
    return [r.mean[..., 0], r.cov[..., 0, 0], r.cov[..., 0, 1], np.linalg.slogdet(r.cov)[1]]


def _run(family, scheme, method, seed):
    kw = dict(n=N, lambda_=LAM, generations=GENS, chains=CHAINS, scheme=scheme, method=method, seed=seed)
    if family == "gaussian":
        kw.update(data={"mean": [1.0, -1.0], "cov": [[2.0, 0.5], [0.5, 1.0]]})
    return simulate(family, **kw)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("family", FAMILIES)
def test_exact_and_naive_agree_in_law(family, scheme):
    ex = _run(family, scheme, "exact", seed=11)
    nv = _run(family, scheme, "naive", seed=12)
    for a, b in zip(_statistics(ex), _statistics(nv), strict=True):
        for g in range(1, GENS + 1):
            x, y = a[g], b[g]
            if np.ptp(x) == 0 and np.ptp(y) == 0:
                assert x[0] == y[0]
                continue
            assert stats.ks_2samp(x, y).pvalue > KS_LEVEL / GENS, (g, family, scheme)
            se = np.sqrt(x.var() / x.size + y.var() / y.size)
            assert abs(x.mean() - y.mean()) <= Z * se, (g, family, scheme)


def test_exact_vs_naive_detects_a_planted_wrong_factor(monkeypatch):
    """The comparison has power: a scatter matrix with k instead of k - 1 degrees of freedom fails it."""
    from stability.families import samplers

    nv = _run("gaussian", "replace", "naive", seed=12)
    real = samplers.wishart_factor
    monkeypatch.setattr(samplers, "wishart_factor", lambda rng, df, d, chains: real(rng, df + 1, d, chains))
    ex = _run("gaussian", "replace", "exact", seed=11)
    x, y = ex.cov[GENS, :, 0, 0], nv.cov[GENS, :, 0, 0]
    se = np.sqrt(x.var() / x.size + y.var() / y.size)
    assert abs(x.mean() - y.mean()) > Z * se


def test_same_seed_same_numbers():
    kw = dict(dim=2, n=10, lambda_=0.5, generations=3, chains=5)
    a = simulate("gaussian", seed=3, **kw)
    b = simulate("gaussian", seed=3, **kw)
    c = simulate("gaussian", seed=np.random.default_rng(3), **kw)
    d = simulate("gaussian", seed=4, **kw)
    np.testing.assert_array_equal(a.cov, b.cov)
    np.testing.assert_array_equal(a.mean, c.mean)
    assert not np.array_equal(a.mean, d.mean)
    for fam in FAMILIES[1:]:
        r1 = simulate(fam, n=10, lambda_=1.0, generations=3, chains=4, method="naive", seed=5)
        r2 = simulate(fam, n=10, lambda_=1.0, generations=3, chains=4, method="naive", seed=5)
        np.testing.assert_array_equal(r1.mean, r2.mean)


def test_shapes_and_generation_zero():
    r = simulate("gaussian", dim=3, n=20, lambda_=0.5, generations=4, chains=6, seed=0, init={"mean": [1, 0, 0]})
    assert r.mean.shape == (5, 6, 3) and r.cov.shape == (5, 6, 3, 3)
    assert r.w2.shape == r.kl.shape == r.error.shape == (5, 6)
    np.testing.assert_array_equal(r.mean[0], np.broadcast_to([1.0, 0, 0], (6, 3)))
    np.testing.assert_allclose(r.w2[0], 1.0)  # W2 between N(e1, I) and N(0, I) is |e1| = 1
    np.testing.assert_allclose(r.kl[0], 0.5)  # KL = |e1|^2 / 2
    band = r.band("kl", (0.1, 0.9))
    assert np.all(band.lower <= band.median) and np.all(band.median <= band.upper)
    c = simulate("categorical", n=20, lambda_=1.0, generations=2, chains=3, seed=0, data={"probs": [0.25] * 4})
    assert c.mean.shape == (3, 3, 4)
    np.testing.assert_allclose(c.mean.sum(axis=-1), 1.0)  # counts / N sum to one up to rounding


def test_synthetic_count():
    assert synthetic_count(100, 0.29) == 29  # 0.29 * 100 = 28.999999999999996 in binary
    assert synthetic_count(10, 0.55) == 5
    assert synthetic_count(7, 0.0) == 0
    assert synthetic_count(3, float("inf")) is None


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n=3, dim=3, lambda_=0.0), r"n \+ floor\(lambda_ n\) must be >= dim \+ 1 = 4"),
        (dict(n=3, dim=3, lambda_=1.0, scheme="replace"), r"n must be >= dim \+ 1 = 4"),
        (dict(n=10, lambda_=-0.1), r"lambda_ must be >= 0 \(inf allowed\), got -0.1"),
        (dict(n=10, lambda_=1.0, generations=2.5), r"generations must be an integer >= 0, got 2.5"),
        (dict(n=10, lambda_=1.0, chains=0), r"chains must be an integer >= 1, got 0.0"),
        (dict(n=1, lambda_=1.0), r"n must be an integer >= 2, got 1.0"),
        (dict(n=10, lambda_=1.0, scheme="mixed"), r"scheme must be one of"),
        (dict(n=10, lambda_=1.0, method="fast"), r"method must be one of"),
        (dict(n=10, lambda_=float("inf"), scheme="accumulate"), r"lambda_ must be finite for scheme 'accumulate'"),
        (dict(n=10, lambda_=1.0, data={"cov": [[1.0, 2.0], [2.0, 1.0]]}), r"data\['cov'\] must be positive definite"),
        (dict(n=10, lambda_=1.0, data={"mean": [0.0, 0.0]}, dim=3), r"data\['mean'\] must be a finite vector"),
        (dict(n=10, lambda_=1.0, data={"sd": 1.0}), r"takes keys \['cov', 'mean'\]"),
    ],
)
def test_bad_input(kwargs, match):
    kw = dict(generations=2, chains=2) | kwargs
    with pytest.raises(ValueError, match=match):
        simulate("gaussian", **kw)


def test_bad_family_and_family_data():
    with pytest.raises(ValueError, match="family must be one of"):
        simulate("cauchy", n=10, lambda_=1.0, generations=1, chains=1)
    with pytest.raises(ValueError, match=r"data\['p'\] must be in \(0, 1\)"):
        simulate("bernoulli", n=10, lambda_=1.0, generations=1, chains=1, data={"p": 1.0})
    with pytest.raises(ValueError, match="summing to 1"):
        simulate("categorical", n=10, lambda_=1.0, generations=1, chains=1, data={"probs": [0.5, 0.6]})
    with pytest.raises(ValueError, match=r"data\['rate'\] must be a finite number > 0"):
        simulate("poisson", n=10, lambda_=1.0, generations=1, chains=1, data={"rate": -1})


def test_extreme_valid_input_runs_finite():
    """lambda = 1e6, n = 2, d = 100: k = 2e6 synthetic points per round, a rank-1 real scatter."""
    r = simulate("gaussian", dim=100, n=2, lambda_=1e6, generations=3, chains=2, seed=0)
    assert r.k == 2_000_000
    assert np.all(np.isfinite(r.mean)) and np.all(np.isfinite(r.cov))
    assert np.all(np.isfinite(r.kl)) and np.all(np.isfinite(r.w2))
    assert not r.collapsed.any()
    for fam in FAMILIES[1:]:
        f = simulate(fam, n=2, lambda_=1e6, generations=3, chains=2, seed=0)
        assert np.all(np.isfinite(f.mean))


def test_collapse_is_reported_not_raised():
    """Purely synthetic with n = 2: log sigma^2 drifts by about -1.96 per round, so sigma underflows."""
    r = simulate("gaussian", n=2, lambda_=float("inf"), generations=800, chains=4, seed=1)
    assert r.scheme == "fixed-real" and r.k is None and r.w == 1.0
    gen = r.collapse_generation
    assert np.all(gen > 0)
    assert np.all(np.isinf(r.kl[-1])) and np.all(np.isfinite(r.w2[-1]))
    assert r.band("kl").median[-1] == np.inf
    b = simulate("bernoulli", n=5, lambda_=1.0, generations=200, chains=50, scheme="replace", seed=2)
    assert b.collapsed[-1].all()  # fixation at 0 or 1 (Wright-Fisher), absorbing
    assert set(np.unique(b.mean[-1])) <= {0.0, 1.0}


def test_save_roundtrip(tmp_path):
    r = simulate("gaussian", dim=2, n=10, lambda_=1.0, generations=2, chains=3, seed=0)
    path = r.save(tmp_path / "run.npz")
    with np.load(path) as z:
        np.testing.assert_array_equal(z["cov"], r.cov)
        assert str(z["scheme"]) == "fixed-real" and int(z["k"]) == 10


def test_progress_bar_only_on_a_terminal(monkeypatch, capsys):
    import sys

    simulate("poisson", n=10, lambda_=1.0, generations=3, chains=2, seed=0, progress=True)
    assert capsys.readouterr().err == ""  # not a TTY under pytest: no bar
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    simulate("poisson", n=10, lambda_=1.0, generations=3, chains=2, seed=0, progress=True)
    assert "generations" in capsys.readouterr().err


def test_data_objects_as_analyze_takes_them():
    """simulate reads the data as analyze does: frozen scipy distributions, samples, Moments, and dicts."""
    from stability.families import Moments

    kw = dict(n=10, lambda_=1.0, generations=2, chains=3, seed=4)
    # a distribution of the family whose mean parameter scipy gives exactly: the same numbers as the dict
    for fam, dist, params in [
        ("bernoulli", stats.bernoulli(0.3), {"p": 0.3}),
        ("poisson", stats.poisson(2.0), {"rate": 2.0}),
        ("exponential", stats.expon(scale=2.0), {"mean": 2.0}),
    ]:
        a, b = simulate(fam, data=dist, **kw), simulate(fam, data=params, **kw)
        assert np.array_equal(a.mean, b.mean) and np.array_equal(a.data_mean, b.data_mean)
    assert np.array_equal(simulate("bernoulli", data=Moments(mean=0.3), **kw).mean, simulate("bernoulli", **kw).mean)
    # a sample stands for its maximum-likelihood fit: mean and biased covariance, class frequencies
    x = np.random.default_rng(0).normal(size=(40, 2)) @ np.array([[1.0, 0.5], [0.0, 2.0]])
    r = simulate("gaussian", data=x, **kw)
    np.testing.assert_allclose(r.data_mean, x.mean(axis=0), rtol=0, atol=1e-13)  # rounding of a 40-term sum
    np.testing.assert_allclose(r.data_cov, np.cov(x, rowvar=False, bias=True), rtol=1e-12)  # via natural params
    r = simulate("categorical", data=np.array([0, 1, 2, 2, 1]), **kw)
    np.testing.assert_allclose(r.data_mean, [0.2, 0.4, 0.4], rtol=1e-15)
    # a gamma distribution: its shape and mean (the shape solved from E[log x] to ~1e-15)
    r = simulate("gamma", data=stats.gamma(2.5, scale=0.4), **kw)
    assert r.spec.shape == pytest.approx(2.5, rel=1e-12) and r.data_mean[0] == pytest.approx(1.0, rel=1e-15)
    r = simulate("gaussian", data=stats.norm(1.0, 2.0), **kw)
    np.testing.assert_allclose([r.data_mean[0], r.data_cov[0, 0]], [1.0, 4.0], rtol=1e-14)
    # init given as a distribution
    assert simulate("poisson", init=stats.poisson(4.0), **kw).mean[0, 0, 0] == 4.0
    with pytest.raises(ValueError, match="init for family 'gamma' takes key 'mean' only"):
        simulate("gamma", init=stats.gamma(3.0), **kw)


def test_one_registry_and_module_names():
    """Each simulated family is the family registered for analyze; the module does not shadow the function."""
    import importlib

    import stability.dynamics as dyn
    from stability.families import FAMILIES as REGISTERED
    from stability.families import simulated_families
    from stability.report import MODELS

    for name in simulated_families(own_dynamics=False):
        assert REGISTERED[name].simulation().family is REGISTERED[name] and name in MODELS
    assert simulated_families() == (*FAMILIES, "linear-regression")
    assert callable(dyn.simulate) and dyn.simulate is importlib.import_module("stability.dynamics.simulator").simulate
