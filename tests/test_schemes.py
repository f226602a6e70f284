"""Mixing schemes: one synthetic count for every consumer, and declarations that match what runs."""

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from stability.dynamics import simulate
from stability.experiments import loop as loop_module
from stability.schemes import ACCUMULATE, FIXED_REAL, FRESH_REAL, REPLACE, SCHEMES, Scheme, as_scheme, synthetic_count


class _Recorder(torch.nn.Module):
    """A stand-in model whose samples are zeros: only how many points retraining asks for matters."""

    def sample(self, m):
        return torch.zeros(m, 2)


@given(
    lam=st.one_of(st.floats(0.0, 5.0), st.integers(0, 500).map(lambda i: i / 100)),  # decimals hit the rounding
    n=st.integers(2, 2000),
)
def test_retrain_and_simulate_draw_the_same_count(lam, n):
    """The loop's training set (the function ``retrain`` calls) has n + k points, k that of ``simulate``."""
    real = torch.ones(n, 2)
    pool, x = loop_module._training_set(FIXED_REAL, lam, _Recorder(), real, real)
    k_loop = len(x) - n
    assert x is pool  # fixed-real fits its whole training set
    k_sim = simulate("bernoulli", n=n, lambda_=lam, generations=0, chains=1, seed=0).k
    assert k_loop == k_sim == synthetic_count(n, lam)
    # independent of the code: within one point below lambda n, floor(lambda n) unless lambda n is an integer
    # up to binary rounding of the decimal (then the integer), computed in exact rational arithmetic
    exact = Fraction(lam) * n
    assert k_loop in (math.floor(exact), round(exact))
    assert abs(k_loop - exact) < 1


def test_count_of_the_issue_example():
    """lambda = 0.57, n = 100: 0.57 * 100 = 56.99999999999999 in binary; both consumers take 57 points."""
    real = torch.ones(100, 2)
    assert len(loop_module._training_set(FIXED_REAL, 0.57, _Recorder(), real, real)[1]) == 157
    assert simulate("poisson", n=100, lambda_=0.57, generations=0, chains=1, seed=0).k == 57


def test_tiny_retrain_uses_the_shared_count(tmp_path, monkeypatch):
    """A real (one-step) retrain run at lambda = 0.57, n = 100 fits 157 points per round."""
    from stability.experiments import default_config, retrain

    sizes = []
    real_fit = loop_module._fit

    def spy(model, x, steps, *args, **kwargs):
        sizes.append(len(x))
        return real_fit(model, x, 1, *args, **kwargs)

    monkeypatch.setattr(loop_module, "_fit", spy)
    cfg = default_config("flow", "moons", "tiny", n=100, lambdas=["0.57"], generations=1, eval_samples=50)
    retrain(cfg, tmp_path / "r", progress=False)
    assert sizes == [100, 157]


@pytest.mark.parametrize("s", SCHEMES.values(), ids=list(SCHEMES))
def test_training_set_sizes_follow_the_declaration(s):
    """Build training sets as lists of points and count them against ``training_size``."""
    n, k = 7, 3
    real = ["r"] * s.real_size(n)  # n, or floor(a n) = 3 under fresh-fraction (a = 1/2)
    previous = real
    for t in range(4):
        batch = ["s"] * s.synthetic(n, k / n)
        x = s.training_set(real, previous, batch, lambda a, b: a + b)
        assert len(x) == s.pool_size(n, s.synthetic(n, k / n), t)
        fitted = s.fit_set(x, n, lambda pool, m: pool[:m])  # a subsampling scheme fits n of the pool
        assert len(fitted) == s.training_size(n, s.synthetic(n, k / n), t)
        assert x.count("r") == (0 if s.synthetic_only else s.real_size(n))
        previous = x
    expected_final = {
        "fixed-real": n + k,
        "fresh-real": n + k,
        "replace": n,
        "accumulate": n + 4 * k,
        "fresh-fraction": n,  # 3 real + 4 synthetic
        "accumulate-subsample": n + 4 * k,  # the pool; each round fits n of it
    }
    assert len(previous) == expected_final[s.name]


def test_declarations_and_resolution():
    assert (FIXED_REAL.keeps_real, FRESH_REAL.redraws_real, REPLACE.synthetic_only, ACCUMULATE.accumulate) == (
        True,
        True,
        True,
        True,
    )
    assert FIXED_REAL.resolve(math.inf) is REPLACE and FRESH_REAL.resolve(math.inf) is REPLACE
    assert FIXED_REAL.resolve(0.5) is FIXED_REAL and REPLACE.resolve(0.5) is REPLACE
    with pytest.raises(ValueError, match="lambda_ must be finite for scheme 'accumulate'"):
        ACCUMULATE.resolve(math.inf)
    with pytest.raises(ValueError, match="scheme must be one of"):
        as_scheme("mix")
    with pytest.raises(ValueError, match="real must be one of"):
        Scheme("x", "sometimes", False, "")
    assert REPLACE.weight(10, 10) == 1.0 and FIXED_REAL.weight(10, 5) == pytest.approx(1 / 3)
    assert as_scheme(ACCUMULATE) is ACCUMULATE


def test_synthetic_count_edges():
    assert synthetic_count(100, 0.29) == 29  # 28.999999999999996 in binary
    assert synthetic_count(3, 0.5) == 1  # a real fractional part is floored
    assert synthetic_count(3, math.inf) is None
    with pytest.raises(ValueError, match="lambda_ must be >= 0"):
        synthetic_count(3, -0.1)
    with pytest.raises(ValueError, match="2\\*\\*53"):
        synthetic_count(2, 2.0**53)
    assert np.isclose(synthetic_count(10**6, 0.1234567), 123456)


def test_mixing_code_reads_the_declarations():
    """No place that mixes data branches on a scheme's name: they read the Scheme attributes."""
    import ast
    import inspect
    import re

    from stability import retraining, weights
    from stability.dynamics import moments, regression, simulator, theorem2
    from stability.experiments import config
    from stability.numerical import chains

    names = "|".join(map(re.escape, SCHEMES))
    branches = [
        r"scheme\w* ((==|!=|in|not in) |is (not )?(?!None))",  # a scheme (or its name) compared
        r"\.name (==|!=|in|not in) ",  # a declaration's name compared
        rf"(==|!=|\bin)\s*\(?\s*[\"']({names})[\"']",  # a registered name compared with
        r"SCHEMES\s*=\s*\(",  # a table of scheme names
    ]

    def code_lines(module):
        """The module's source without comments, docstrings, defaults and annotations naming a scheme."""
        source = inspect.getsource(module)
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
                if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                    for i in range(body[0].lineno - 1, body[0].end_lineno):
                        lines[i] = ""
        return "\n".join(
            line.split("  #")[0]
            for line in lines
            if not line.lstrip().startswith("#") and "scheme: str" not in line and "scheme=" not in line
        )

    for module in (simulator, moments, loop_module, weights, theorem2, retraining, chains, regression, config):
        code = code_lines(module)
        for pattern in branches:
            hit = re.search(pattern, code, re.M)
            assert hit is None, (module.__name__, hit and hit.group(0))
