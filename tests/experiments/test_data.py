"""Data loaders: shapes, seeded splits, scaling, image files (IDX and .npz) and bad input."""

import gzip

import numpy as np
import pytest
import torch

from stability.experiments.data import DATASETS_2D, load_dataset, load_images, make_2d, split


@pytest.mark.parametrize("name", DATASETS_2D)
def test_2d_shapes_split_and_standardised(name):
    ds = load_dataset(name, n=400, heldout=0.5, seed=3)
    assert ds.kind == "2d" and ds.shape == (2,) and ds.n == 400
    assert ds.train.dtype == torch.float32 and ds.heldout.shape == (400, 2)
    # standardised with the train split's own statistics: exact up to float32 rounding
    assert torch.allclose(ds.train.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(ds.train.std(0, unbiased=False), torch.ones(2), atol=1e-5)


def test_same_seed_same_tensors_other_seed_differs():
    a, b, c = (load_dataset("moons", n=200, seed=s) for s in (0, 0, 1))
    assert torch.equal(a.train, b.train) and torch.equal(a.heldout, b.heldout)
    assert not torch.equal(a.train, c.train)


def test_split_is_a_partition():
    x = np.arange(50)
    train, held = split(x, 0.2, seed=0)
    assert len(held) == 10 and sorted(np.concatenate([train, held]).tolist()) == list(range(50))


def test_eight_gaussians_and_checkerboard_geometry():
    x = make_2d("eight_gaussians", 4000, seed=0)
    radius = np.linalg.norm(x, axis=1)
    # points lie within 5 sd (sd 0.1) of the radius-2 circle of centres
    assert np.all(np.abs(radius - 2.0) < 0.5)
    x = make_2d("checkerboard", 4000, seed=0)
    assert np.all(np.abs(x) <= 2.0)
    assert np.all((np.floor(x[:, 0]) + np.floor(x[:, 1])) % 2 == 0)  # only the black squares


def test_digits_images_and_labels():
    ds = load_dataset("digits", seed=0)
    assert ds.kind == "image" and ds.shape == (1, 8, 8)
    assert ds.n + len(ds.heldout) == 1797  # scikit-learn's digits set
    assert float(ds.train.min()) == -1.0 and float(ds.train.max()) == 1.0
    assert ds.train_labels.shape == (ds.n,) and set(ds.train_labels.tolist()) == set(range(10))


def _images(m=20):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (m, 6, 6), dtype=np.uint8), rng.integers(0, 10, m, dtype=np.uint8)


def _idx(arr):
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.tobytes()


def test_image_files_npz_and_idx_agree(tmp_path):
    images, labels = _images()
    np.savez(tmp_path / "x.npz", images=images, labels=labels)
    with gzip.open(tmp_path / "t-images-idx3-ubyte.gz", "wb") as f:
        f.write(_idx(images))
    with gzip.open(tmp_path / "t-labels-idx1-ubyte.gz", "wb") as f:
        f.write(_idx(labels))
    for path in (tmp_path / "x.npz", tmp_path / "t-images-idx3-ubyte.gz"):
        got, lab = load_images(path)
        np.testing.assert_array_equal(got, images)
        np.testing.assert_array_equal(lab, labels)
    a = load_dataset(str(tmp_path / "x.npz"), heldout=0.25, seed=1)
    b = load_dataset(str(tmp_path / "t-images-idx3-ubyte.gz"), heldout=0.25, seed=1)
    assert torch.equal(a.train, b.train) and a.shape == (1, 6, 6) and len(a.heldout) == 5
    # pixel p maps to 2 p / 255 - 1, recomputed here from the raw bytes of one image
    assert torch.allclose(a.heldout_labels.double(), b.heldout_labels.double())


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_dataset(str(tmp_path / "missing.npz"))
    np.savez(tmp_path / "y.npz", pixels=np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="no 'images' array"):
        load_dataset(str(tmp_path / "y.npz"))
    (tmp_path / "bad-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="bad magic number"):
        load_images(tmp_path / "bad-images-idx3-ubyte")
    with pytest.raises(ValueError, match="heldout must be in"):
        load_dataset("moons", heldout=1.5)
    with pytest.raises(ValueError, match="name must be one of"):
        make_2d("spirals", 10)
    with pytest.raises(ValueError, match="n must be <= "):
        load_dataset("digits", n=5000)
