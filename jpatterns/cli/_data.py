"""The command line's datasets: the embedded digits and two synthetic sets.

Every dataset is small enough to live on the device whole, so an epoch gathers its
minibatches inside one compiled ``lax.scan``. The split and the synthetic samples are
fixed (their own NumPy generator, seed 0): the ``--seed`` of a run changes the
initialization, the shuffling and the noise of the run, never the data, so seeds are
replicates of one experiment.
"""

from __future__ import annotations

import dataclasses
import importlib.resources

import numpy as np

from jpatterns.cli._errors import choose_from

__all__ = ["Dataset", "DATASETS", "load"]


@dataclasses.dataclass(frozen=True)
class Dataset:
  """Arrays of one dataset, split into train and test, as float32 / int32."""
  name: str
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray
  num_classes: int
  kind: str  # "image" (N, H, W, C), "vector" (N, D) or "sequence" (N, T, D)
  description: str


def _split(x, y, test_fraction=0.2):
  perm = np.random.default_rng(0).permutation(len(x))
  n_test = int(round(test_fraction * len(x)))
  te, tr = perm[:n_test], perm[n_test:]
  return x[tr], y[tr], x[te], y[te]


def digits() -> Dataset:
  """scikit-learn's digits (UCI optdigits test set): 1797 8×8 images, 10 classes.

  Shipped inside the package as ``data/digits.npz`` (uint8 pixels 0..16, read with
  ``allow_pickle=False``), so no download and no scikit-learn at run time. Pixels are
  scaled to [0, 1]; 1438 train / 359 test.
  """
  ref = importlib.resources.files("jpatterns.cli") / "data" / "digits.npz"
  with ref.open("rb") as f, np.load(f, allow_pickle=False) as npz:
    images, labels = npz["images"], npz["labels"]
  x = (images.astype(np.float32) / 16.0)[..., None]
  return Dataset("digits", *_split(x, labels.astype(np.int32)), num_classes=10,
                 kind="image", description="scikit-learn digits, 8x8x1, 10 classes")


def spirals(n_per_class: int = 300, num_classes: int = 3, noise: float = 0.2) -> Dataset:
  """Interleaved 2-D spirals (CS231n's toy set): 3 classes, not linearly separable."""
  rng = np.random.default_rng(0)
  xs, ys = [], []
  for c in range(num_classes):
    r = np.linspace(0.05, 1.0, n_per_class)
    t = np.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + rng.normal(0, noise, n_per_class)
    xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
    ys.append(np.full(n_per_class, c))
  x = np.concatenate(xs).astype(np.float32)
  y = np.concatenate(ys).astype(np.int32)
  return Dataset("spirals", *_split(x, y), num_classes=num_classes, kind="vector",
                 description="3 interleaved 2-D spirals, 900 points")


def sequence(n: int = 2000, length: int = 16) -> Dataset:
  """A memory task for recurrent nets: which of two marked values is larger?

  Each step carries (value ~ U(0, 1), marker ∈ {0, 1}); exactly two steps are marked,
  the first in the first half of the sequence. The label is 1 when the first marked
  value is larger. A classification twin of Hochreiter & Schmidhuber's adding problem
  (seed 003 §7 LSTM): the answer needs values seen many steps apart.
  """
  rng = np.random.default_rng(0)
  values = rng.uniform(0, 1, (n, length)).astype(np.float32)
  marks = np.zeros((n, length), np.float32)
  first = rng.integers(0, length // 2, n)
  second = rng.integers(length // 2, length, n)
  rows = np.arange(n)
  marks[rows, first] = 1.0
  marks[rows, second] = 1.0
  y = (values[rows, first] > values[rows, second]).astype(np.int32)
  x = np.stack([values, marks], axis=-1)
  return Dataset("sequence", *_split(x, y), num_classes=2, kind="sequence",
                 description=f"marked-value comparison, {length} steps x 2 features")


DATASETS = {"digits": digits, "spirals": spirals, "sequence": sequence}


def load(name: str) -> Dataset:
  """The dataset called ``name``; a UsageError listing the valid names otherwise."""
  if name not in DATASETS:
    raise choose_from("--dataset", name, DATASETS)
  return DATASETS[name]()
