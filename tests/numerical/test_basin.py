"""Basin-of-attraction probe of iterated G_lambda."""

import numpy as np
import pytest
from scipy import stats

from stability.numerical.basin import basin_radius
from stability.numerical.models import GaussianMixture, StudentT
from stability.numerical.operator import Retraining


@pytest.fixture(scope="module")
def student():
    return Retraining(StudentT(5.0), stats.norm(0.0, 1.0))


@pytest.mark.slow
def test_small_radii_converge_and_steps_follow_the_rate(student):
    r = basin_radius(student, 0.5, [1e-3, 1e-1], n_directions=2, tol=1e-9)
    assert r.radius == pytest.approx(1e-1) and r.converged.all()
    # from distance r0 the error after k steps is about rho^k r0 with rho <= lambda/(1+lambda) * gamma-ish;
    # reaching 1e-9 from 1e-3 needs at least log(1e-6)/log(0.5) ~ 20 steps at lambda = 0.5 (rho >= 1/3)
    assert np.all(r.steps[0] >= 12) and np.all(r.steps <= r.max_steps)


@pytest.mark.slow
def test_a_far_start_outside_the_basin_is_reported():
    # a start 30 away in (logit pi, means, log-scales) has a component scale of order e^(+-10) or a
    # weight of order e^(-10): retraining does not come back to this theta* within 40 steps, while
    # from 0.01 the error shrinks by rate_exact ~ 1/2 per step (lambda = 1): 0.01 -> 1e-8 in ~20 steps
    rng = np.random.default_rng(2)
    data = np.concatenate([rng.normal(-2.0, 1.0, 300), rng.normal(2.0, 0.7, 200)])
    p = Retraining(GaussianMixture(1), data)
    r = basin_radius(p, 1.0, [0.01, 30.0], n_directions=2, max_steps=40, seed=1)
    assert r.converged[0].all() and not r.converged[1].all()
    assert r.radius == 0.01


def test_bad_arguments(student):
    with pytest.raises(ValueError, match=r"^radii must be a non-empty increasing"):
        basin_radius(student, 0.5, [0.2, 0.1])
    with pytest.raises(ValueError, match=r"^lambda_ must be finite"):
        basin_radius(student, np.inf, [0.1])
    with pytest.raises(ValueError, match=r"^tol must be > 0"):
        basin_radius(student, 0.5, [0.1], tol=0.0)
