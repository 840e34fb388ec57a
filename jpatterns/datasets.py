"""Datasets for training: the embedded digits, two synthetic sets, and the user's own files.

:func:`load` returns a :class:`Dataset`, NumPy arrays already split into train and test::

    >>> from jpatterns import datasets
    >>> d = datasets.load("digits")
    >>> d.x_train.shape, d.x_test.shape, d.num_classes, d.kind
    ((1438, 8, 8, 1), (359, 8, 8, 1), 10, 'image')

Built in (no download, no scikit-learn at run time):

* ``digits``: scikit-learn's 8×8 digits (UCI optdigits test set), 1797 images of 10
  classes, shipped as ``jpatterns/data/digits.npz``, pixels scaled to [0, 1];
* ``spirals``: three interleaved 2-D spirals (CS231n's toy set), 900 points;
* ``sequence``: a memory task for recurrent nets (which of two marked values is larger).

The user's own data, by path:

* ``.npz`` holding ``x_train, y_train, x_test, y_test``, or ``x, y`` (then split by
  ``test_fraction``); read with ``allow_pickle=False``, so loading cannot run code;
* ``.csv``: one example per row, the last column its integer label; a header row is
  allowed (a first row that is not all numbers).

Features become float32, labels int32 in ``0 … num_classes − 1`` (``num_classes`` is the
largest label + 1). The kind follows the feature rank: ``(N, D)`` vector, ``(N, T, D)``
sequence, ``(N, H, W, C)`` image. A file that cannot be used raises ``ValueError`` naming
the file and the problem.

The split is a fixed permutation drawn from ``numpy.random.default_rng(seed)``: a
training run's own seed changes initialization, shuffling and noise, never the data.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.resources
import os
import zipfile

import numpy as np

__all__ = ["Dataset", "BUILTIN", "load", "digits", "spirals", "sequence"]

KINDS = {2: "vector", 3: "sequence", 4: "image"}


@dataclasses.dataclass(frozen=True)
class Dataset:
  """A dataset split into train and test: float32 features, int32 labels.

  Attributes:
    name: ``"digits"``, ``"spirals"``, ``"sequence"`` or the file's name.
    x_train, y_train, x_test, y_test: the arrays (features first axis = examples).
    num_classes: the number of classes (largest label + 1).
    kind: ``"image"`` (N, H, W, C), ``"vector"`` (N, D) or ``"sequence"`` (N, T, D).
    description: one line about where it comes from.
  """

  name: str
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray
  num_classes: int
  kind: str
  description: str = ""


def _split(x, y, test_fraction, seed):
  perm = np.random.default_rng(seed).permutation(len(x))
  n_test = int(round(test_fraction * len(x)))
  te, tr = perm[:n_test], perm[n_test:]
  return x[tr], y[tr], x[te], y[te]


def digits(*, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
  """scikit-learn's digits: 1797 8×8×1 images in [0, 1], 10 classes (1438 / 359 split).

  Args:
    test_fraction: the share of examples held out for testing, in (0, 1).
    seed: the NumPy seed of the split.

  Returns:
    A :class:`Dataset`.
  """
  ref = importlib.resources.files("jpatterns") / "data" / "digits.npz"
  with ref.open("rb") as f, np.load(f, allow_pickle=False) as npz:
    images, labels = npz["images"], npz["labels"]
  x = (images.astype(np.float32) / 16.0)[..., None]
  return Dataset(
    "digits",
    *_split(x, labels.astype(np.int32), test_fraction, seed),
    num_classes=10,
    kind="image",
    description="scikit-learn digits, 8x8x1, 10 classes",
  )


def spirals(*, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
  """Three interleaved 2-D spirals, 300 points each: not linearly separable.

  Args:
    test_fraction: the share of examples held out for testing, in (0, 1).
    seed: the NumPy seed of the split and of the points' noise.

  Returns:
    A :class:`Dataset`.
  """
  rng = np.random.default_rng(seed)
  n, k = 300, 3
  xs, ys = [], []
  for c in range(k):
    r = np.linspace(0.05, 1.0, n)
    t = np.linspace(c * 4.0, (c + 1) * 4.0, n) + rng.normal(0, 0.2, n)
    xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
    ys.append(np.full(n, c))
  x = np.concatenate(xs).astype(np.float32)
  y = np.concatenate(ys).astype(np.int32)
  return Dataset(
    "spirals",
    *_split(x, y, test_fraction, seed),
    num_classes=k,
    kind="vector",
    description="3 interleaved 2-D spirals, 900 points",
  )


def sequence(*, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
  """A memory task for recurrent nets: which of two marked values is larger?

  Each of 16 steps carries (value ~ U(0, 1), marker ∈ {0, 1}); exactly two steps are
  marked, the first in the first half. The label is 1 when the first marked value is
  larger: a classification twin of Hochreiter & Schmidhuber's adding problem (seed 003
  §7 LSTM), whose answer needs values seen many steps apart. 2000 sequences.

  Args:
    test_fraction: the share of examples held out for testing, in (0, 1).
    seed: the NumPy seed of the split and of the sequences.

  Returns:
    A :class:`Dataset`.
  """
  n, length = 2000, 16
  rng = np.random.default_rng(seed)
  values = rng.uniform(0, 1, (n, length)).astype(np.float32)
  marks = np.zeros((n, length), np.float32)
  first = rng.integers(0, length // 2, n)
  second = rng.integers(length // 2, length, n)
  rows = np.arange(n)
  marks[rows, first] = 1.0
  marks[rows, second] = 1.0
  y = (values[rows, first] > values[rows, second]).astype(np.int32)
  x = np.stack([values, marks], axis=-1)
  return Dataset(
    "sequence",
    *_split(x, y, test_fraction, seed),
    num_classes=2,
    kind="sequence",
    description=f"marked-value comparison, {length} steps x 2",
  )


BUILTIN = {"digits": digits, "spirals": spirals, "sequence": sequence}


# --- the user's files ----------------------------------------------------------------


def _labels(path, y, where):
  """Integer labels as int32; ValueError for fractions, negatives, NaN or strings."""
  y = np.asarray(y)
  if y.ndim != 1:
    raise ValueError(
      f"{path}: {where} labels have shape {y.shape}; need one integer "
      "label per example (a 1-D array)"
    )
  if y.dtype.kind in "iu":
    out = y.astype(np.int64)
  elif y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
    out = y.astype(np.int64)
  else:
    bad = y[0] if y.dtype.kind not in "f" else y[~(np.isfinite(y) & (y == np.round(y)))][0]
    raise ValueError(f"{path}: {where} labels must be integers 0..K-1; found {bad!r}")
  if out.size and out.min() < 0:
    raise ValueError(f"{path}: {where} labels must be integers 0..K-1; found {out.min()}")
  return out.astype(np.int32)


def _features(path, x, where):
  x = np.asarray(x)
  if x.dtype.kind not in "iufb":
    raise ValueError(f"{path}: {where} features have dtype {x.dtype}; need numbers")
  if x.ndim not in KINDS:
    raise ValueError(
      f"{path}: {where} features have shape {x.shape}; need (N, D) vectors, "
      "(N, T, D) sequences or (N, H, W, C) images"
    )
  x = x.astype(np.float32)
  bad = ~np.isfinite(x)
  if bad.any():
    row = int(np.argwhere(bad)[0][0])
    raise ValueError(
      f"{path}: {where} features hold {int(bad.sum())} NaN or infinite "
      f"value(s), the first in example {row}; clean or impute them first"
    )
  return x


def _from_arrays(path, x_tr, y_tr, x_te, y_te, description) -> Dataset:
  x_tr, x_te = _features(path, x_tr, "training"), _features(path, x_te, "test")
  y_tr, y_te = _labels(path, y_tr, "training"), _labels(path, y_te, "test")
  for x, y, where in ((x_tr, y_tr, "training"), (x_te, y_te, "test")):
    if len(x) != len(y):
      raise ValueError(f"{path}: {len(x)} {where} examples but {len(y)} labels")
    if len(x) == 0:
      raise ValueError(f"{path}: no {where} examples; need at least one")
  if x_tr.shape[1:] != x_te.shape[1:]:
    raise ValueError(
      f"{path}: training examples have shape {x_tr.shape[1:]}, test "
      f"examples {x_te.shape[1:]}; they must match"
    )
  classes = np.unique(np.concatenate([y_tr, y_te]))
  if len(classes) < 2:
    raise ValueError(
      f"{path}: all labels are {classes[0] if len(classes) else None}; "
      "a classifier needs at least 2 classes"
    )
  return Dataset(
    os.path.basename(path),
    x_tr,
    y_tr,
    x_te,
    y_te,
    num_classes=int(classes.max()) + 1,
    kind=KINDS[x_tr.ndim],
    description=description,
  )


def _split_file(path, x, y, test_fraction, seed, description):
  x, y = np.asarray(x), np.asarray(y)
  if len(x) != len(y):
    raise ValueError(f"{path}: {len(x)} examples but {len(y)} labels")
  if len(x) < 2:
    raise ValueError(f"{path}: {len(x)} example(s); need at least 2 to split into train and test")
  n_test = int(round(test_fraction * len(x)))
  if not 1 <= n_test < len(x):
    raise ValueError(
      f"{path}: test_fraction={test_fraction} of {len(x)} examples leaves "
      f"{n_test} for testing; choose a fraction giving 1..{len(x) - 1}"
    )
  return _from_arrays(path, *_split(x, y, test_fraction, seed), description)


def _load_npz(path, test_fraction, seed) -> Dataset:
  if not zipfile.is_zipfile(path):
    raise ValueError(
      f"{path}: not a readable .npz file (not a zip archive); write one with numpy.savez"
    )
  try:
    with np.load(path, allow_pickle=False) as npz:
      keys = set(npz.files)
      if {"x_train", "y_train", "x_test", "y_test"} <= keys:
        arrays = [npz[k] for k in ("x_train", "y_train", "x_test", "y_test")]
        return _from_arrays(path, *arrays, description="npz with its own train/test split")
      if {"x", "y"} <= keys:
        return _split_file(
          path,
          npz["x"],
          npz["y"],
          test_fraction,
          seed,
          f"npz x/y, split {1 - test_fraction:g}/{test_fraction:g}",
        )
  except (zipfile.BadZipFile, OSError, EOFError) as e:
    raise ValueError(f"{path}: not a readable .npz file ({e})") from None
  except ValueError as e:
    if str(e).startswith(path):
      raise
    # np.load refuses object (pickled) arrays with allow_pickle=False.
    raise ValueError(
      f"{path}: cannot be read without pickle ({e}); save plain numeric arrays with numpy.savez"
    ) from None
  raise ValueError(
    f"{path}: holds {sorted(keys) or 'no arrays'}; need x_train, y_train, x_test, y_test or x, y"
  )


def _is_number(text):
  try:
    float(text)
  except ValueError:
    return False
  return True


def _load_csv(path, test_fraction, seed) -> Dataset:
  try:
    with open(path, newline="", encoding="utf-8") as f:
      rows = [(i, r) for i, r in enumerate(csv.reader(f), start=1) if any(c.strip() for c in r)]
  except (OSError, UnicodeDecodeError) as e:
    raise ValueError(f"{path}: not a readable UTF-8 .csv file ({e})") from None
  if rows and not all(_is_number(c) for c in rows[0][1]):
    rows = rows[1:]  # a header
  if not rows:
    raise ValueError(f"{path}: no data rows")
  width = len(rows[0][1])
  if width < 2:
    raise ValueError(f"{path}: rows have {width} column; need features and a label (last)")
  values = np.empty((len(rows), width), np.float64)
  for j, (line, r) in enumerate(rows):
    if len(r) != width:
      raise ValueError(
        f"{path}: line {line} has {len(r)} columns, the first row {width}; "
        "every row needs the same number"
      )
    try:
      values[j] = [float(c) for c in r]
    except ValueError:
      cell = next(c for c in r if not _is_number(c))
      raise ValueError(f"{path}: line {line} holds {cell.strip()!r}, not a number") from None
  return _split_file(
    path,
    values[:, :-1],
    values[:, -1],
    test_fraction,
    seed,
    f"csv, {width - 1} features, split {1 - test_fraction:g}/{test_fraction:g}",
  )


def load(name_or_path: str | os.PathLike, *, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
  """A built-in dataset by name, or the user's ``.npz`` / ``.csv`` file by path.

  Args:
    name_or_path: ``"digits"``, ``"spirals"``, ``"sequence"``, or a file path.
    test_fraction: the share of examples held out for testing, in (0, 1); files that
      carry their own ``x_test``/``y_test`` ignore it.
    seed: the split's permutation (and the synthetic sets' samples).

  Returns:
    A :class:`Dataset`.

  Raises:
    ValueError: an unknown name, a missing or malformed file (the message names the
      file and the problem), or a bad ``test_fraction``/``seed``.
  """
  if (
    isinstance(test_fraction, bool)
    or not isinstance(test_fraction, (int, float))
    or not (0 < test_fraction < 1)
  ):
    raise ValueError(f"load: test_fraction={test_fraction!r} must be a number in (0, 1)")
  if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
    raise ValueError(f"load: seed={seed!r} must be an integer >= 0")
  if not isinstance(name_or_path, (str, os.PathLike)):
    raise ValueError(
      f"load: name_or_path={name_or_path!r} must be a dataset name "
      f"({', '.join(BUILTIN)}) or a path to an .npz or .csv file"
    )
  name = os.fspath(name_or_path)
  if name in BUILTIN:
    return BUILTIN[name](test_fraction=test_fraction, seed=seed)
  ext = os.path.splitext(name)[1].lower()
  if ext not in (".npz", ".csv"):
    raise ValueError(
      f"load: {name!r} is not a dataset; choose from {', '.join(BUILTIN)}, "
      "or give the path of an .npz or .csv file"
    )
  if not os.path.isfile(name):
    raise ValueError(f"load: no file at {name!r}")
  loader = _load_npz if ext == ".npz" else _load_csv
  return loader(name, test_fraction, seed)
