"""JSON-safe copies of results: numpy scalars and arrays to Python, non-finite floats to strings."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["jsonable"]


def jsonable(obj: Any) -> Any:
    """Make numbers JSON-safe: numpy scalars to Python, infinities and NaN to strings.

    >>> jsonable({"x": np.float64(1.5), "y": [np.inf, np.int64(2)], "z": np.array([True])})
    {'x': 1.5, 'y': ['inf', 2], 'z': [True]}
    """
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        x = float(obj)
        return x if math.isfinite(x) else str(x)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj
