import math

import numpy as np
import pytest

import stability
from stability.report import MODELS, LocalConstants, analyze, build_report, register_model


class _Fixed:
    """A model that reports given constants (A, B symmetric PD, ||B - A|| = 0.2)."""

    def local_constants(self, data):
        A = np.diag([1.0, 2.0])
        B = A + np.array([[0.0, 0.2], [0.2, 0.0]])
        return LocalConstants("fixed", np.zeros(2), A, B, alpha=1.0, L=1.0, eps=0.2, details={"how": "test"})


def test_report_orders_rates_and_matches_bounds():
    r = build_report(_Fixed().local_constants(None), 0.3)
    assert r.rate_exact <= r.norm2 + 1e-12
    assert r.norm2 <= r.rate_sharp <= r.rate_paper
    assert r.rate_paper == stability.bound(0.3, 0.2)
    assert r.rate_sharp == stability.sharp_bound(0.3, 0.2)
    text = str(r)
    assert "rate_exact" in text and "Theorem 1" in text


def test_analyze_by_object_and_by_name(monkeypatch):
    # a copy of the registry for this test: register_model and analyze read the module's MODELS
    monkeypatch.setattr(stability.report, "MODELS", dict(MODELS))
    register_model("_fixed_for_test", _Fixed)
    a = analyze(_Fixed(), None, 0.5)
    b = analyze("_fixed_for_test", None, 0.5)
    assert a.rate_exact == b.rate_exact
    assert "_fixed_for_test" not in MODELS  # the global registry is untouched


def test_undefined_constants_give_nan_bounds():
    c = LocalConstants("x", np.zeros(1), np.eye(1), np.eye(1), alpha=1.0)
    r = build_report(c, 1.0)
    assert math.isnan(r.rate_paper) and r.rate_exact == pytest.approx(0.5)


def test_unknown_model_and_bad_objects():
    with pytest.raises(ValueError, match=r"^model must be one of"):
        analyze("no-such-model", None, 0.5)
    with pytest.raises(ValueError, match=r"local_constants"):
        analyze(object(), None, 0.5)
    with pytest.raises(ValueError, match=r"^lambda_ must be >= 0"):
        analyze(_Fixed(), None, -1)
