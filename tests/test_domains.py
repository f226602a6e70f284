import math

import numpy as np
import pytest
from hypothesis import given

from stability._domains import DOMAINS, Interval, broadcast, check, check_choice

from .strategies import invalid, valid


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_every_domain_accepts_valid_and_rejects_invalid(name):
    @given(valid(name))
    def accepts(x):
        assert check(name, x) == x

    @given(invalid(name))
    def rejects(x):
        with pytest.raises(ValueError, match=rf"^{name} must be "):
            check(name, x)

    accepts()
    rejects()


def test_message_names_parameter_range_and_value():
    with pytest.raises(ValueError, match=r"^lambda_ must be >= 0 \(inf allowed\), got -0.1$"):
        check("lambda_", -0.1)
    with pytest.raises(ValueError, match=r"^alpha must be > 0, got 0.0$"):
        check("alpha", 0.0)
    with pytest.raises(ValueError, match=r"^eps must be >= 0, got nan$"):
        check("eps", math.nan)
    with pytest.raises(ValueError, match=r"^t must be an integer >= 0 \(inf allowed\), got 1.5$"):
        check("t", 1.5)
    with pytest.raises(ValueError, match=r"^delta must be in \(0, 1\), got 1.0$"):
        check("delta", 1.0)


def test_array_error_reports_first_offending_index():
    with pytest.raises(ValueError, match=r"^eps must be >= 0, got -2.0 \(at index \(1, 0\)\)$"):
        check("eps", [[0.0, 1.0], [-2.0, 3.0]])


def test_non_numeric_input():
    with pytest.raises(ValueError, match=r"^L must be a real number >= 0, got 'abc'$"):
        check("L", "abc")


def test_broadcast_names_clashing_shapes():
    with pytest.raises(ValueError, match=r"lambda_ \(3,\), eps \(4,\)"):
        broadcast(lambda_=np.zeros(3), eps=np.zeros(4))


def test_check_choice():
    assert check_choice("form", "paper", ("paper", "sharp")) == "paper"
    with pytest.raises(ValueError, match=r"^form must be one of 'paper', 'sharp', got 'tight'$"):
        check_choice("form", "tight", ("paper", "sharp"))


def test_interval_integer_membership_with_infinity():
    d = Interval(0.0, math.inf, high_closed=True, integer=True)
    assert d.contains(np.array([0.0, 3.0, math.inf])).all()
    assert not d.contains(np.array([2.5])).any()
