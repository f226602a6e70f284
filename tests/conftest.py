"""Test configuration: hypothesis profiles (CI: derandomized) and ``np`` in doctests.

Doctests that draw random numbers pass their own seed or ``numpy.random.Generator``. The ``torch``
marker and the files that need an optional module: the repository's ``conftest.py``.
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _doctest_namespace(doctest_namespace):
    doctest_namespace["np"] = np
