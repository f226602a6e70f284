"""Shifting or rescaling valid data does not change whether it is accepted, nor the exact rate.

The fits run on standardised data and report in the original units, so for ``x -> a x + b`` the
rate is unchanged, ``eps`` scales by ``|a|`` and the location maps to ``a mu + b``. Tolerances:
a pure rescaling by ``1e-12`` or ``1e12`` changes the data only by rounding (relative 1e-16), so
the rates agree to the optimiser's tolerance (gradient 1e-10, ``rel=1e-7``); a shift by ``1e12``
rounds each point to ``ulp(1e12) = 1.2e-4`` of a unit-spread sample, which moves the rate by
about that much (``abs=1e-3``).
"""

import numpy as np
import pytest

import stability

X = np.random.default_rng(3).standard_normal(200)


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    ["gaussian", "gaussian-diag", *(pytest.param(m, marks=pytest.mark.torch) for m in ("student-t", "logistic"))],
)
def test_rate_is_scale_and_shift_invariant(model):
    base = stability.analyze(model, X, 0.5)
    for a in (1e-12, 1e12):
        r = stability.analyze(model, a * X, 0.5)
        assert r.rate_exact == pytest.approx(base.rate_exact, rel=1e-7)
        assert r.eps == pytest.approx(a * base.eps, rel=1e-6)
    shifted = stability.analyze(model, 1e12 + X, 0.5)
    assert shifted.rate_exact == pytest.approx(base.rate_exact, abs=1e-3)
    assert shifted.eps == pytest.approx(base.eps, abs=1e-3)


@pytest.mark.parametrize("model", ["student-t", "logistic", "gaussian-numerical"])
@pytest.mark.torch
def test_all_equal_data_are_degenerate(model):
    with pytest.raises(ValueError, match="data are degenerate: all 30 points are equal"):
        stability.analyze(model, np.full(30, 1e12), 0.5)


@pytest.mark.torch
def test_location_maps_back_to_the_original_units():
    base = stability.analyze("student-t", X, 0.5)
    r = stability.analyze("student-t", 1e12 + 2.0 * X, 0.5)
    assert r.theta_star[0] == pytest.approx(1e12 + 2.0 * base.theta_star[0], abs=1e-3)
    assert r.theta_star[1] == pytest.approx(base.theta_star[1] + np.log(2.0), abs=1e-6)
