"""The one retraining loop (stability.retraining): what each scheme's rounds are made of, in which order.

A recording kernel whose "data" are lists of labels shows the training set of every round; the
expected sets are written from the scheme table of docs/theory.md §1, §7, §11 by hand.
"""

import math

import numpy as np
import pytest

from stability.errors import InputError
from stability.retraining import capabilities, check_supported, run, supported_schemes, weighted
from stability.schemes import SCHEMES, Scheme, as_scheme


class Recorder:
    """Data: (count, labels); draws are labelled ``real<t>`` / ``syn<t>`` and logged in call order."""

    def __init__(self):
        self.calls, self.fits, self.t = [], {}, 0

    def real(self, rng, m):
        self.calls.append(f"real{self.t}")
        return m, [f"real{self.t}"] * m

    def synthetic(self, rng, t, m):
        self.t = t + 1  # the next real draw belongs to the next round
        self.calls.append(f"syn{t}")
        return m, [f"syn{t}"] * m

    @staticmethod
    def join(a, b):
        return a[0] + b[0], a[1] + b[1]

    def subsample(self, rng, data, m):
        self.calls.append("sub")
        return m, list(rng.permutation(data[1])[:m])

    def fit(self, t, data):
        self.fits[t] = data[1]

    @staticmethod
    def real_fit(data):
        return data


def _sets(scheme, n=4, lam=0.5, G=3, **kw):
    s = as_scheme(scheme, **kw).resolve(lam)
    k = s.synthetic(n, lam)
    rec = Recorder()
    kept = run(rec, s, np.random.default_rng(0), n, k, G)
    return rec, kept, {t: sorted(set(v)) for t, v in rec.fits.items()}, {t: len(v) for t, v in rec.fits.items()}


def test_each_scheme_builds_the_declared_training_sets():
    rec, kept, labels, sizes = _sets("fixed-real")
    assert rec.calls == ["real0", "syn0", "syn1", "syn2"] and kept == (4, ["real0"] * 4)
    assert labels == {1: ["real0", "syn0"], 2: ["real0", "syn1"], 3: ["real0", "syn2"]} and set(sizes.values()) == {6}
    rec, kept, labels, _ = _sets("fresh-real")
    assert rec.calls == ["real0", "syn0", "real1", "syn1", "real2", "syn2"] and kept is None
    assert labels == {1: ["real0", "syn0"], 2: ["real1", "syn1"], 3: ["real2", "syn2"]}
    rec, kept, labels, sizes = _sets("replace", lam=math.inf)
    assert rec.calls == ["syn0", "syn1", "syn2"] and labels[2] == ["syn1"] and sizes[2] == 4
    _, _, labels, sizes = _sets("accumulate")
    assert labels[3] == ["real0", "syn0", "syn1", "syn2"] and sizes == {1: 6, 2: 8, 3: 10}
    rec, _, labels, sizes = _sets("accumulate-subsample", n=4, lam=1.0)
    assert rec.calls == ["real0", "syn0", "sub", "syn1", "sub", "syn2", "sub"] and set(sizes.values()) == {4}
    assert set(labels[3]) <= {"real0", "syn0", "syn1", "syn2"}
    _, _, labels, sizes = _sets("fresh-fraction", n=4, lam=None, real_fraction=0.25)
    assert labels[2] == ["real1", "syn1"] and set(sizes.values()) == {4}
    assert _sets("fresh-fraction", n=4, lam=None, real_fraction=0.25)[0].calls[:2] == ["real0", "syn0"]


class MeanKernel:
    """Data (N, mean) of a scalar model; the fit is the mean (a stand-in for an exponential family)."""

    def __init__(self):
        self.mean = {}

    @staticmethod
    def join(a, b):
        N = a[0] + b[0]
        return N, (a[0] * a[1] + b[0] * b[1]) / N

    @staticmethod
    def scale(a, c):
        return a[0] * c, a[1]


def test_weighted_union_has_the_objective_weights():
    # the weighted union's mean is (1 - w) mean_real + w mean_synthetic whatever the counts (docs/theory.md §10)
    k = MeanKernel()
    for w, n, m in [(0.3, 10, 5), (0.8, 7, 100), (0.0, 4, 4)]:
        N, mean = weighted(k, (n, 1.0), (m, 5.0), w)
        assert mean == pytest.approx((1 - w) * 1.0 + w * 5.0, rel=1e-14)
        assert N == pytest.approx(1 / ((1 - w) ** 2 / n + w**2 / m))  # the Kish effective size
    assert weighted(k, (3, 2.0), None, 0.0) == (3, 2.0)


class RowsKernel(Recorder):
    """A kernel whose real data are fixed rows (no other size) and that keeps no points."""

    resizes_real = False
    subsample = None


def test_capabilities_decide_the_schemes_a_kernel_runs():
    assert capabilities(Recorder()) == capabilities(Recorder)
    cap = capabilities(RowsKernel)
    assert not cap.resizes_real and not cap.can_subsample and not cap.can_weigh
    assert supported_schemes(RowsKernel) == ("fixed-real", "fresh-real", "replace", "accumulate")
    assert supported_schemes(Recorder) == tuple(SCHEMES)
    with pytest.raises(InputError, match="scheme must be one of 'fixed-real', .* for rows, got 'fresh-fraction'"):
        check_supported(RowsKernel, as_scheme("fresh-fraction"), what="rows")
    with pytest.raises(InputError, match="synthetic_weight is not supported for rows"):
        check_supported(RowsKernel, as_scheme("fixed-real"), 0.5, what="rows")
    check_supported(Recorder, as_scheme("accumulate-subsample"))  # no error


def test_a_new_scheme_is_one_declaration():
    # a scheme that is not registered runs through the loop from its declaration alone
    twin = Scheme("fixed-real-twin", "fixed", False, "fixed-real under another name", weighted=True)
    rec = Recorder()
    run(rec, twin, np.random.default_rng(0), 4, 2, 2)
    assert rec.calls == ["real0", "syn0", "syn1"]
