"""jpatterns.datasets: the embedded sets and the user's .npz/.csv files.

The user's files are written here with NumPy and the csv module; what ``load`` returns is
compared with those arrays (values, split sizes, labels) and every malformed file must
raise a ValueError that names the file and the problem.
"""

import os

import numpy as np
import pytest

from jpatterns import datasets


def _blobs(n=60, d=3, k=3, seed=0):
  rng = np.random.default_rng(seed)
  y = np.arange(n) % k
  x = rng.normal(size=(n, d)) + 4.0 * np.eye(k, d)[y]
  return x.astype(np.float32), y


def test_digits_is_one_fixed_split():
  a, b = datasets.load("digits"), datasets.load("digits")
  assert (a.x_train.shape, a.x_test.shape) == ((1438, 8, 8, 1), (359, 8, 8, 1))
  assert a.kind == "image" and a.num_classes == 10 and a.x_train.dtype == np.float32
  np.testing.assert_array_equal(a.x_train, b.x_train)
  assert 0.0 <= a.x_train.min() and a.x_train.max() <= 1.0
  # Together the two parts are the 1797 images, each once (UCI optdigits' class counts).
  counts = np.bincount(np.concatenate([a.y_train, a.y_test]), minlength=10)
  assert counts.sum() == 1797 and counts.min() >= 174
  other = datasets.load("digits", seed=1, test_fraction=0.5)
  assert len(other.x_test) == 898 and not np.array_equal(other.y_test[:50], a.y_test[:50])


@pytest.mark.parametrize(
  "name,kind,classes", [("spirals", "vector", 3), ("sequence", "sequence", 2)]
)
def test_synthetic_sets(name, kind, classes):
  d = datasets.load(name)
  assert d.kind == kind and d.num_classes == classes
  assert set(np.unique(d.y_train)) == set(range(classes))


def test_csv_with_header_and_npz_with_x_y(tmp_path):
  x, y = _blobs()
  path = tmp_path / "blobs.csv"
  rows = ["a,b,c,label"] + [",".join(f"{v:.6f}" for v in xi) + f",{yi}" for xi, yi in zip(x, y)]
  path.write_text("\n".join(rows) + "\n")
  d = datasets.load(str(path), test_fraction=0.25)
  assert (len(d.x_train), len(d.x_test), d.num_classes, d.kind) == (45, 15, 3, "vector")
  # Every row comes back once, with its label.
  got = np.concatenate([np.c_[d.x_train, d.y_train], np.c_[d.x_test, d.y_test]])
  want = np.c_[np.round(x, 6), y]
  np.testing.assert_allclose(got[np.lexsort(got.T)], want[np.lexsort(want.T)], atol=1e-6)
  np.savez(tmp_path / "xy.npz", x=x, y=y)
  e = datasets.load(str(tmp_path / "xy.npz"), test_fraction=0.25)
  np.testing.assert_array_equal(np.sort(e.y_test), np.sort(d.y_test))  # same permutation


def test_npz_with_its_own_split_and_images(tmp_path):
  x, y = _blobs(n=20, d=16)
  imgs = x.reshape(20, 4, 4, 1)
  np.savez(
    tmp_path / "s.npz",
    x_train=imgs[:15],
    y_train=y[:15],
    x_test=imgs[15:],
    y_test=y[15:].astype(np.float64),
  )  # integral floats are labels too
  d = datasets.load(tmp_path / "s.npz")
  assert d.kind == "image" and d.x_test.shape == (5, 4, 4, 1) and d.y_test.dtype == np.int32
  np.testing.assert_array_equal(d.y_test, y[15:])


def _write(tmp_path, name, content):
  path = tmp_path / name
  if isinstance(content, dict):
    np.savez(path, **content)
  else:
    path.write_text(content)
  return str(path)


x20, y20 = _blobs(n=20)
MALFORMED = [
  ("missing.npz", {"features": x20, "labels": y20}, "need x_train, y_train"),
  ("ragged.csv", "1,2,0\n3,4,1\n5,1\n6,7,0\n", "line 3 has 2 columns"),
  ("fraction.csv", "1,2,0\n3,4,1.5\n5,6,1\n7,8,0\n", "labels must be integers"),
  ("words.csv", "1,2,0\n3,4,cat\n5,6,1\n", "holds 'cat', not a number"),
  ("one_class.csv", "1,2,1\n3,4,1\n5,6,1\n7,8,1\n", "at least 2 classes"),
  ("nan.csv", "1,2,0\n3,nan,1\n5,6,1\n7,8,0\n", "NaN or infinite"),
  ("negative.npz", {"x": x20, "y": y20 - 1}, "labels must be integers 0..K-1"),
  (
    "pickled.npz",
    {"x": np.array([{"a": 1}] * 4, dtype=object), "y": np.arange(4) % 2},
    "cannot be read without pickle",
  ),
  ("lengths.npz", {"x": x20, "y": y20[:10]}, "20 examples but 10 labels"),
  (
    "shapes.npz",
    {"x_train": x20, "y_train": y20, "x_test": x20[:, :2], "y_test": y20},
    "they must match",
  ),
  ("empty.csv", "a,b,label\n", "no data rows"),
  ("notazip.npz", "plain text", "not a readable .npz"),
]


@pytest.mark.parametrize("name,content,message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_files_name_the_file_and_the_problem(tmp_path, name, content, message):
  path = _write(tmp_path, name, content)
  with pytest.raises(ValueError, match=message) as e:
    datasets.load(path)
  assert os.path.basename(path) in str(e.value)


@pytest.mark.parametrize(
  "kwargs,message",
  [
    ({"name_or_path": "digitz"}, "is not a dataset; choose from digits"),
    ({"name_or_path": "/nonexistent/x.csv"}, "no file at"),
    ({"name_or_path": "digits", "test_fraction": 1.0}, r"test_fraction=1.0 must be"),
    ({"name_or_path": "digits", "test_fraction": float("nan")}, "test_fraction=nan"),
    ({"name_or_path": "digits", "seed": True}, "seed=True must be"),
    ({"name_or_path": 3}, "must be a dataset name"),
  ],
)
def test_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    datasets.load(**kwargs)


def test_a_split_that_leaves_nothing_is_refused(tmp_path):
  path = _write(tmp_path, "tiny.csv", "1,0\n2,1\n3,0\n")
  with pytest.raises(ValueError, match="leaves 0 for testing"):
    datasets.load(path, test_fraction=0.1)
