"""Metrics checked against independent routes: sorted coupling (1-D W2), scipy.linalg.sqrtm (Fréchet)."""

import numpy as np
import pytest
import scipy.linalg
import torch

from stability.experiments.metrics import feature_net, frechet_distance, param_distance, prdc_metrics, w2


def test_w2_one_dimensional_equals_sorted_coupling():
    # in 1-D the optimal coupling of equal-size uniform samples matches order statistics
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((300, 1)), rng.exponential(size=(300, 1))
    expected = np.sqrt(np.mean((np.sort(x[:, 0]) - np.sort(y[:, 0])) ** 2))
    # the network simplex is exact; 1e-10 covers summation rounding over 300^2 costs
    assert w2(x, y, m=300) == pytest.approx(expected, rel=1e-10)


def test_w2_translation_and_subsampling():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 2))
    # for a pure shift the identity coupling is optimal: W2 = |c| exactly (rounding only)
    assert w2(x, x + [0.3, -0.4], m=200) == pytest.approx(0.5, rel=1e-10)
    a, b = w2(x, x[::-1] + 1.0, m=50, seed=3), w2(x, x[::-1] + 1.0, m=50, seed=3)
    assert a == b  # same seed, same subsamples
    with pytest.raises(ValueError, match="m must be an integer >= 1"):
        w2(x, x, m=0)


def test_frechet_distance_matches_sqrtm_route():
    rng = np.random.default_rng(2)
    f1 = rng.standard_normal((400, 5)) @ rng.standard_normal((5, 5))
    f2 = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 5)) + 0.5
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real  # Heusel et al.'s reference implementation route
    expected = ((f1.mean(0) - f2.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean)
    # two eigen/Schur routes to the same trace: agreement to ~1e-8 relative (conditioning of sqrtm)
    assert frechet_distance(f1, f2) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(f1, f1) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(ValueError, match="equal k"):
        frechet_distance(f1, f2[:, :3])


def test_prdc_identical_sets_and_param_distance():
    rng = np.random.default_rng(3)
    f = rng.standard_normal((100, 4))
    out = prdc_metrics(f, f, nearest_k=5)
    assert out["precision"] == 1.0 and out["recall"] == 1.0 and out["coverage"] == 1.0
    far = prdc_metrics(f, f + 100.0)
    assert far["precision"] == 0.0 and far["recall"] == 0.0
    assert param_distance(torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0])) == 5.0


@pytest.mark.slow
def test_feature_net_trained_once_then_cached(tmp_path):
    from stability.experiments.data import load_dataset

    ds = load_dataset("digits", seed=0)
    net, info = feature_net(ds.train, ds.train_labels, cache_dir=tmp_path, heldout=(ds.heldout, ds.heldout_labels))
    assert info["heldout_accuracy"] > 0.9  # a CNN on 8x8 digits: ~0.97 in 600 steps; 0.9 leaves room for seeds
    again, info2 = feature_net(ds.train, ds.train_labels, cache_dir=tmp_path)
    assert info2 == info and len(list(tmp_path.glob("feature_net_*.pt"))) == 1
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values(), strict=True))
    with pytest.raises(ValueError, match="labels are required"):
        feature_net(ds.train, None)


@pytest.mark.parametrize("shift", [0.0, 0.7])
def test_prdc_equals_the_prdc_package(shift):
    # the reference is Naeem et al.'s own package; the same definitions on continuous random
    # features leave no distance within rounding of a radius, so the fractions agree exactly
    prdc = pytest.importorskip("prdc")
    import contextlib
    import io

    rng = np.random.default_rng(4)
    real = rng.standard_normal((300, 8))
    fake = 1.3 * rng.standard_normal((250, 8)) + shift
    with contextlib.redirect_stdout(io.StringIO()):
        expected = prdc.compute_prdc(real, fake, nearest_k=5)
    got = prdc_metrics(real, fake, nearest_k=5)
    assert got == pytest.approx({k: float(v) for k, v in expected.items()}, abs=1e-12)
    with pytest.raises(ValueError, match="more than nearest_k"):
        prdc_metrics(real[:5], fake, nearest_k=5)
