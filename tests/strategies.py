"""Hypothesis strategies drawn from the parameter domains declared in ``stability._domains``."""

import math

from hypothesis import strategies as st

from stability._domains import DOMAINS, Interval


def valid(name: str, max_value: float = 1e3) -> st.SearchStrategy[float]:
    """Finite values inside the domain of ``name`` (boundaries included when closed)."""
    d: Interval = DOMAINS[name]
    hi = min(d.high, max_value)
    if d.integer:
        lo = math.ceil(d.low) if d.low_closed else math.floor(d.low) + 1
        return st.integers(lo, int(hi)).map(float)
    return st.floats(d.low, hi, exclude_min=not d.low_closed, exclude_max=d.high < math.inf and not d.high_closed)


def invalid(name: str) -> st.SearchStrategy[float]:
    """Values outside the domain of ``name``: below it, NaN, and non-integers for integer domains."""
    d: Interval = DOMAINS[name]
    below = st.floats(max_value=d.low, exclude_max=d.low_closed, allow_nan=False, allow_infinity=False)
    options = [below.filter(lambda x: x < d.low or (x == d.low and not d.low_closed)), st.just(math.nan)]
    if d.integer:
        options.append(st.floats(d.low + 0.01, 1e6).filter(lambda x: x != math.floor(x)))
    if d.high < math.inf:
        options.append(st.floats(min_value=d.high, exclude_min=d.high_closed, allow_infinity=False))
    return st.one_of(options)
