"""Every function of the top-level API (``stability.__all__``) is fully annotated.

Ruff (ANN201/ANN206, ``make lint``) checks the return type of every public function of
``stability/``; this test also checks each parameter of the functions users call first.
"""

import inspect

import pytest

import stability

FUNCTIONS = [name for name in stability.__all__ if inspect.isfunction(getattr(stability, name))]


def test_the_api_has_functions():
    assert {"analyze", "bound", "simulate", "stationary"} <= set(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_parameter_and_return_is_annotated(name):
    sig = inspect.signature(getattr(stability, name))
    missing = [p for p, v in sig.parameters.items() if v.annotation is inspect.Parameter.empty]
    assert not missing, f"stability.{name}: parameters without a type: {missing}"
    assert sig.return_annotation is not inspect.Signature.empty, f"stability.{name}: no return type"
