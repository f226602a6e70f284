"""The ``linear-regression`` family of the simulator (docs/theory.md §12).

Statistical tolerances: every comparison is a z-score, the difference of two Monte Carlo means
divided by its standard error estimated from the chains (two-sample: the root sum of both squared
standard errors). Chains are independent, so the z-scores are approximately standard normal; we
require ``|z| <= Z_MAX = 4.5`` (two-sided false-alarm probability 6.8e-6 per comparison; with the
~250 comparisons below, below 2e-3 in all, and the seeds are fixed so a run is reproducible). A
planted wrong law must give ``|z| >= Z_WRONG = 10``.
"""

import numpy as np
import pytest

from stability.dynamics import regression, regression_moments, regression_stationary, simulate

Z_MAX = 4.5
Z_WRONG = 10.0
N_ROWS, D = 30, 3


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return {"X": rng.standard_normal((N_ROWS, D)) + 0.5, "beta": np.array([1.0, -0.5, 2.0]), "sigma": 1.3}


def _sim(data, **kw):
    kw = {"n": N_ROWS, "lambda_": 0.5, "generations": 4, "chains": 4000, "seed": 1} | kw
    return simulate("linear-regression", data=data, **kw)


def _stats(r, gens):
    """Per generation: the chains' β components, squared deviations from β, and fitted variance (chains, 7)."""
    e = r.mean[gens] - r.data_mean
    return np.concatenate([r.mean[gens], e**2, r.noise_var[gens][..., None]], axis=-1)


def _z_two(a, b):
    se = np.sqrt(a.var(axis=-2, ddof=1) / a.shape[-2] + b.var(axis=-2, ddof=1) / b.shape[-2])
    return (a.mean(axis=-2) - b.mean(axis=-2)) / se


def _z_one(x, target):
    return (x.mean(axis=-1) - target) / (x.std(axis=-1, ddof=1) / np.sqrt(x.shape[-1]))


# ------------------------------------------------------------------------ exact vs naive, in law
@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real", "replace", "accumulate"])
@pytest.mark.parametrize("noise_scale", ["fitted", "known"])
def test_exact_and_naive_agree_in_law(data, scheme, noise_scale):
    # lambda = 0.5: the synthetic rows are the first half of X, so G~ is not a multiple of G
    gens = [1, 4]
    a = _stats(_sim(data, scheme=scheme, noise_scale=noise_scale, method="exact", seed=1), gens)
    b = _stats(_sim(data, scheme=scheme, noise_scale=noise_scale, method="naive", seed=2), gens)
    z = _z_two(a, b)
    assert np.all(np.abs(z) <= Z_MAX), z


# ------------------------------------------------------------------------ simulation vs closed forms
@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real", "replace", "accumulate"])
@pytest.mark.parametrize("noise_scale", ["fitted", "known"])
@pytest.mark.parametrize("estimator", ["mle", "unbiased"])
def test_simulation_matches_exact_moments(data, scheme, noise_scale, estimator):
    G = 8
    r = _sim(data, scheme=scheme, noise_scale=noise_scale, estimator=estimator, generations=G, chains=20000)
    p = regression_moments(
        data=data, lambda_=0.5, generations=G, scheme=scheme, noise_scale=noise_scale, estimator=estimator
    )
    gens = [1, 2, G]
    z = [_z_one((r.error**2)[gens], p.sq_error[gens]), _z_one(r.noise_var[gens], p.noise_var[gens])]
    if scheme in ("fixed-real", "accumulate"):
        z.append(_z_one(np.sum((r.mean - r.real_mean) ** 2, axis=-1)[gens], p.sq_error_ols[gens]))
    else:
        assert p.sq_error_ols is None
    z = np.concatenate(z)
    assert np.all(np.abs(z) <= Z_MAX), z


@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real"])
@pytest.mark.parametrize("noise_scale", ["fitted", "known"])
def test_stationary_error_matches_simulation(data, scheme, noise_scale):
    # lambda = 2: J's largest eigenvalue is 2/3; after 40 rounds the transient is (2/3)^80 ~ 1e-14
    r = _sim(data, scheme=scheme, noise_scale=noise_scale, lambda_=2.0, generations=40, chains=20000)
    st = regression_stationary(data=data, lambda_=2.0, scheme=scheme, noise_scale=noise_scale)
    z = [_z_one(r.error[-1] ** 2, st.sq_error), _z_one(r.noise_var[-1], st.noise_var)]
    if scheme == "fixed-real":
        z.append(_z_one(np.sum((r.mean[-1] - r.real_mean) ** 2, axis=-1), st.sq_error_ols))
    assert np.all(np.abs(z) <= Z_MAX), z
    long = regression_moments(data=data, lambda_=2.0, generations=200, scheme=scheme, noise_scale=noise_scale)
    assert long.sq_error[-1] == pytest.approx(st.sq_error, rel=1e-10)
    assert long.noise_var[-1] == pytest.approx(st.noise_var, rel=1e-10)


def test_lambda_one_closed_forms(data):
    # docs/theory.md §12, typed independently of the code: lambda = 1 gives X~ = X, J = I/2, C = sigma^2 G^-1 / 3;
    # fitted scale (MLE): E s^2 = sigma^2 (n - d) / (n + d/3), fresh-real: sigma^2 (n - d/3) / (n + d/3)
    X, s2 = data["X"], data["sigma"] ** 2
    trg = np.trace(np.linalg.inv(X.T @ X))
    n, d = X.shape
    known = regression_stationary(data=data, lambda_=1.0, noise_scale="known")
    assert known.sq_error_ols == pytest.approx(s2 * trg / 3, rel=1e-12)
    assert known.sq_error == pytest.approx(4 * s2 * trg / 3, rel=1e-12)
    fitted = regression_stationary(data=data, lambda_=1.0)
    v = s2 * (n - d) / (n + d / 3)
    assert fitted.noise_var == pytest.approx(v, rel=1e-12)
    assert fitted.sq_error_ols == pytest.approx(v * trg / 3, rel=1e-12)
    fresh = regression_stationary(data=data, lambda_=1.0, scheme="fresh-real")
    vf = s2 * (n - d / 3) / (n + d / 3)
    assert fresh.noise_var == pytest.approx(vf, rel=1e-12)
    assert fresh.sq_error == pytest.approx((s2 + vf) * trg / 3, rel=1e-12)


def test_replace_growth_laws(data):
    X, s2 = data["X"], data["sigma"] ** 2
    trg = np.trace(np.linalg.inv(X.T @ X))
    t = np.arange(6)
    known = regression_moments(data=data, lambda_=1.0, generations=5, scheme="replace", noise_scale="known")
    np.testing.assert_allclose(known.sq_error, t * s2 * trg, rtol=1e-12)
    rho = (N_ROWS - D) / N_ROWS
    fitted = regression_moments(data=data, lambda_=1.0, generations=5, scheme="replace")
    np.testing.assert_allclose(fitted.noise_var, s2 * rho**t, rtol=1e-12)
    np.testing.assert_allclose(fitted.sq_error, s2 * trg * (1 - rho**t) / (1 - rho), rtol=1e-12)
    with pytest.raises(ValueError, match="no stationary law"):
        regression_stationary(data=data, lambda_=1.0, scheme="replace")


# ------------------------------------------------------------------------ planted wrong laws are rejected
def test_planted_jacobian_identity_is_rejected(data, monkeypatch):
    # J = I instead of (G + G~)^-1 G~ (the chain would never forget its past): the simulation rejects it
    r = _sim(data, noise_scale="known", generations=8, chains=20000)
    real = regression._consts

    def wrong(*args):
        c = real(*args)
        object.__setattr__(c, "J", np.eye(D))
        return c

    monkeypatch.setattr(regression, "_consts", wrong)
    p = regression_moments(data=data, lambda_=0.5, generations=8, noise_scale="known")
    z = _z_one((r.error**2)[8], p.sq_error[8])
    assert abs(z) >= Z_WRONG, z


def test_planted_sampler_without_chi2_is_rejected(data, monkeypatch):
    # the exact sampler forgetting the chi^2_{k - rank} part of ||zeta||^2: E s^2 falls below the exact law
    p = regression_moments(data=data, lambda_=0.5, generations=4)
    ok = _sim(data, chains=20000)
    assert np.all(np.abs(_z_one(ok.noise_var[1:], p.noise_var[1:])) <= Z_MAX)
    monkeypatch.setattr(regression, "chi2", lambda rng, df, size: np.zeros(size))
    bad = _sim(data, chains=20000)
    assert np.all(np.abs(_z_one(bad.noise_var[1:], p.noise_var[1:])) >= Z_WRONG)


# ------------------------------------------------------------------------ behaviour of the result
def test_result_shapes_and_kl(data):
    r = _sim(data, chains=7, generations=3)
    assert isinstance(r, regression.RegressionResult)
    assert r.mean.shape == (4, 7, D) and r.noise_var.shape == (4, 7) and r.real_mean.shape == (7, D)
    assert r.k == 15 and r.family == "linear-regression" and r.cov is None
    np.testing.assert_array_equal(r.mean[0], np.broadcast_to(data["beta"], (7, D)))
    assert np.all(r.noise_var[0] == data["sigma"] ** 2)
    assert np.all(r.kl[0] == 0.0) and np.all(r.kl[1:] > 0)
    assert "linear-regression retraining" in r.summary()


def test_save_round_trip(data, tmp_path):
    r = _sim(data, chains=3, generations=2)
    with np.load(r.save(tmp_path / "chains")) as f:
        np.testing.assert_array_equal(f["mean"], r.mean)
        np.testing.assert_array_equal(f["noise_var"], r.noise_var)
        np.testing.assert_array_equal(f["X"], data["X"])
        assert str(f["family"]) == "linear-regression" and str(f["noise_scale"]) == "fitted"


def test_lambda_zero_keeps_the_real_fit(data):
    # k = 0: every generation is the real labels' OLS, and s^2 their residual variance RSS/n
    r = _sim(data, lambda_=0.0, chains=50, generations=3)
    for t in (1, 2, 3):
        np.testing.assert_allclose(r.mean[t], r.real_mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(r.noise_var[t], r.real_noise_var, rtol=1e-10)


def test_replace_with_fitted_scale_collapses(data):
    # log s_t^2 drifts by E log(chi^2_27 / 30) ~ -0.14 per round: after 400 rounds s^2 ~ e^-57 << d eps sigma^2
    r = _sim(data, scheme="replace", chains=40, generations=400)
    assert r.collapsed[-1].mean() >= 0.9
    assert np.all(np.isinf(r.kl[-1][r.collapsed[-1]]))
    assert not _sim(data, scheme="replace", noise_scale="known", chains=40, generations=50).collapsed.any()


def test_same_seed_same_numbers(data):
    for method in ("exact", "naive"):
        a, b = _sim(data, method=method, chains=5, seed=7), _sim(data, method=method, chains=5, seed=7)
        np.testing.assert_array_equal(a.mean, b.mean)
        np.testing.assert_array_equal(a.noise_var, b.noise_var)
        assert not np.array_equal(a.mean, _sim(data, method=method, chains=5, seed=8).mean)
    g = _sim(data, chains=5, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(g.mean, _sim(data, chains=5, seed=np.random.default_rng(3)).mean)


# ------------------------------------------------------------------------ invalid inputs
def _bad(data, change):
    change = dict(change)
    d = dict(data) | change.pop("data", {})
    for key in change.pop("drop", ()):
        d.pop(key)
    return d, change


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"data": {"X": np.ones(N_ROWS)}}, r"data\['X'\] must be a 2-D array"),
        ({"data": {"X": np.ones((N_ROWS, D))}}, r"data\['X'\] must have full column rank d = 3, got rank 1"),
        ({"data": {"X": np.full((N_ROWS, D), np.nan)}}, r"data\['X'\] must be finite"),
        ({"data": {"X": np.eye(3)}, "n": 3}, r"data\['X'\] must have more rows than columns"),
        ({"data": {"beta": [1.0, 2.0]}}, r"data\['beta'\] must be a finite vector of length d = 3"),
        ({"data": {"sigma": 0.0}}, r"data\['sigma'\] must be a finite number > 0"),
        ({"data": {"sigma": -1.0}}, r"data\['sigma'\] must be a finite number > 0"),
        ({"data": {"sigma": float("nan")}}, r"data\['sigma'\] must be a finite number > 0"),
        ({"data": {"gamma": 1.0}}, r"takes keys \['X', 'beta', 'sigma'\]"),
        ({"drop": ["beta"]}, r"must be a dict with keys 'X' \(n, d\), 'beta'"),
        ({"noise_scale": "estimated"}, r"noise_scale must be one of 'fitted', 'known'"),
        ({"n": N_ROWS + 1}, r"n must equal the number of rows of data\['X'\] \(30\)"),
        ({"dim": 2}, r"dim must equal the number of columns of data\['X'\] \(3\)"),
        ({"init": {"beta": [0.0]}}, r"init\['beta'\] must be a finite vector of length d = 3"),
        ({"init": {"sigma": 0.0}}, r"init\['sigma'\] must be a finite number > 0"),
        ({"init": {"mean": 0.0}}, r"init for family 'linear-regression' must be a dict with keys 'beta'"),
        ({"method": "fast"}, r"method must be one of 'exact', 'naive'"),
        ({"lambda_": -1.0}, r"lambda_ must be >= 0"),
    ],
)
def test_invalid_inputs(data, change, match):
    d, kw = _bad(data, change)
    with pytest.raises(ValueError, match=match):
        _sim(d, **({"chains": 2} | kw))


def test_data_must_be_a_dict_and_noise_scale_is_regression_only(data):
    with pytest.raises(ValueError, match="must be a dict with keys 'X'"):
        _sim(np.ones((N_ROWS, D)), chains=2)
    with pytest.raises(ValueError, match=r"noise_scale is for the families \['linear-regression'\] only"):
        simulate("gaussian", n=10, lambda_=1.0, generations=1, chains=2, noise_scale="known")


def test_unsupported_scheme_and_no_stationary_law_under_accumulate(data):
    from stability.schemes import Scheme

    # a new declaration is run by what it declares, not by its name: a subsampling one is refused (the
    # kernel keeps no points), one with fixed-real's mechanics runs fixed-real's chains
    odd = Scheme("subsample-pool", "fixed", True, "a scheme the family cannot run", subsample=True)
    with pytest.raises(ValueError, match="scheme must be one of 'fixed-real', 'fresh-real', 'replace', 'accumulate'"):
        _sim(data, scheme=odd, chains=2)
    twin = Scheme("fixed-real-twin", "fixed", False, "fixed-real under another name")
    np.testing.assert_array_equal(_sim(data, scheme=twin, chains=2).mean, _sim(data, chains=2).mean)
    for name in ("fresh-fraction", "accumulate-subsample"):  # declared in stability.schemes, not run here
        with pytest.raises(ValueError, match=f"for family 'linear-regression', got '{name}'"):
            _sim(data, scheme=name, chains=2)
    with pytest.raises(ValueError, match="real_fraction is for scheme 'fresh-fraction'"):
        _sim(data, real_fraction=0.5, chains=2)
    with pytest.raises(ValueError, match="scheme 'accumulate' has no stationary law in closed form"):
        regression_stationary(data=data, lambda_=1.0, scheme="accumulate")


# ------------------------------------------------------------------------ weighted least squares
@pytest.mark.parametrize("scheme", ["fixed-real", "fresh-real"])
@pytest.mark.parametrize("noise_scale", ["fitted", "known"])
def test_weighted_exact_naive_and_moments_agree(data, scheme, noise_scale):
    kw = dict(scheme=scheme, noise_scale=noise_scale, synthetic_weight=0.7, generations=6)
    a = _sim(data, method="exact", seed=1, **kw)
    b = _sim(data, method="naive", seed=2, **kw)
    assert a.synthetic_weight == 0.7
    z = [_z_two(_stats(a, [1, 6]), _stats(b, [1, 6])).ravel()]
    p = regression_moments(data=data, lambda_=0.5, **kw)
    for r in (a, b):
        z.append(_z_one((r.error**2)[[1, 6]], p.sq_error[[1, 6]]))
        z.append(_z_one(r.noise_var[[1, 6]], p.noise_var[[1, 6]]))
    z = np.concatenate(z)
    assert np.all(np.abs(z) <= Z_MAX), z


def test_weighted_closed_form_and_natural_weight(data):
    # lambda = 1 (X~ = X): the weighted fit is beta' = (1-w) beta_hat + w (beta_t + noise), J = w I, noise
    # covariance w^2 sigma^2 G^-1, so C = w^2/(1-w^2) sigma^2 G^-1 (typed here from docs/theory.md §12)
    trg = np.trace(np.linalg.inv(data["X"].T @ data["X"]))
    for w in (0.2, 0.5, 0.8):
        st = regression_stationary(data=data, lambda_=1.0, noise_scale="known", synthetic_weight=w)
        assert st.sq_error_ols == pytest.approx(w**2 / (1 - w**2) * data["sigma"] ** 2 * trg, rel=1e-12)
    # the natural share k/(n+k) is ordinary least squares
    k = 15
    natural = _sim(data, chains=20, synthetic_weight=k / (N_ROWS + k))
    np.testing.assert_allclose(natural.mean, _sim(data, chains=20).mean, rtol=1e-12)
    np.testing.assert_allclose(natural.noise_var, _sim(data, chains=20).noise_var, rtol=1e-12)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"synthetic_weight": 1.5}, r"synthetic_weight must be in \[0, 1\]"),
        ({"synthetic_weight": float("nan")}, r"synthetic_weight must be in \[0, 1\]"),
        ({"synthetic_weight": 1.0}, r"synthetic_weight must be in \[0, 1\) for family 'linear-regression'"),
        ({"synthetic_weight": 0.5, "scheme": "replace"}, r"synthetic_weight must be None or 1 under scheme 'replace'"),
        ({"synthetic_weight": 0.5, "scheme": "accumulate"}, r"synthetic_weight is supported under schemes"),
        ({"synthetic_weight": 0.5, "lambda_": 0.0}, r"synthetic_weight must be 0 when no synthetic point"),
    ],
)
def test_invalid_weights(data, kw, match):
    with pytest.raises(ValueError, match=match):
        _sim(data, chains=2, **kw)


# ------------------------------------------------------------------------ the proofs_check steps can fail
def _check(name):
    from proofs_check import REGISTRY, run

    return run([REGISTRY[name]])[0].outcome


@pytest.mark.slow
@pytest.mark.proofs
def test_proofs_check_regression_passes_and_fails_on_planted_errors(monkeypatch):
    from proofs_check import regression as pc

    for name in ("regression.sampler_law", "regression.toolkit_lyapunov", "regression.replace_growth"):
        assert _check(name).passed, name
    # the sampler forgetting the chi^2 part: E[R] = s^2 r instead of s^2 m
    monkeypatch.setattr(pc.toolkit, "chi2", lambda rng, df, size: np.zeros(size))
    assert not _check("regression.sampler_law").passed
    monkeypatch.undo()
    # a toolkit whose stationary solve uses J = I/2 whatever lambda (the lambda = 1 answer everywhere)
    real = pc.toolkit._consts

    def half(*args):
        c = real(*args)
        object.__setattr__(c, "J", 0.5 * np.eye(c.J.shape[0]))
        return c

    monkeypatch.setattr(pc.toolkit, "_consts", half)
    assert not _check("regression.toolkit_lyapunov").passed
    assert not _check("regression.replace_growth").passed  # replace has J = I


@pytest.mark.slow
@pytest.mark.proofs
def test_proofs_check_closed_forms_fail_when_wrong(monkeypatch):
    from proofs_check import regression as pc

    assert _check("regression.fitted_scale_stationary").passed
    real = pc.integer_lambda_closed_forms

    def no_shrink(mm, n, d, s2, estimator="mle"):  # v = sigma^2 (n - d)/n: the real residual variance
        vf, olsf, vr, errr = real(mm, n, d, s2, estimator)
        v = s2 * (n - d) / n
        return v, v * mm / (1 + 2 * mm), vr, errr

    monkeypatch.setattr(pc, "integer_lambda_closed_forms", no_shrink)
    assert not _check("regression.fitted_scale_stationary").passed


def test_rank_deficient_synthetic_rows(data):
    # lambda = 0.07: k = 2 < d = 3 synthetic rows, G~ singular (rank 2), chi^2_{k - rank} = chi^2_0
    kw = dict(lambda_=0.07, generations=5, chains=20000)
    a, b = _sim(data, method="exact", seed=1, **kw), _sim(data, method="naive", seed=2, **kw)
    assert a.k == 2
    p = regression_moments(data=data, lambda_=0.07, generations=5)
    z = [_z_two(_stats(a, [1, 5]), _stats(b, [1, 5])).ravel()]
    z += [_z_one((a.error**2)[[1, 5]], p.sq_error[[1, 5]]), _z_one(a.noise_var[[1, 5]], p.noise_var[[1, 5]])]
    z = np.concatenate(z)
    assert np.all(np.abs(z) <= Z_MAX), z


def test_family_stationary_and_moments_route_the_regression_family():
    # one interface: family_stationary / family_moments("linear-regression") are the exact regression
    # predictions; reference at lambda = 1, known sigma: E||beta_inf - beta_hat||^2 = sigma^2 tr(G^-1)/3 (§12)
    from stability.dynamics import family_moments, family_stationary

    X = np.random.default_rng(5).standard_normal((30, 2))
    data = {"X": X, "beta": np.array([0.5, -1.0]), "sigma": 2.0}
    st = family_stationary("linear-regression", n=30, lambda_=1.0, data=data, noise_scale="known")
    assert st.sq_error_ols == pytest.approx(4.0 * np.trace(np.linalg.inv(X.T @ X)) / 3, rel=1e-10)
    mo = family_moments("linear-regression", n=30, lambda_=1.0, generations=200, data=data, noise_scale="known")
    assert mo.sq_error_ols[-1] == pytest.approx(st.sq_error_ols, rel=1e-8)  # J = I/2: converged after 200 rounds
    with pytest.raises(ValueError, match=r"n must equal data\['X'\].shape\[0\] = 30"):
        family_stationary("linear-regression", n=29, lambda_=1.0, data=data)
    with pytest.raises(ValueError, match="noise_scale.*only"):
        family_stationary("poisson", n=30, lambda_=1.0, noise_scale="known")
