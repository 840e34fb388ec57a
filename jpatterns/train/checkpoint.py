"""Checkpoints without pickle: one ``.npz`` of arrays plus a JSON header.

The file holds a pytree leaf by leaf as ``leaf_00000, leaf_00001, …`` and ``meta``:
UTF-8 JSON bytes with the format version, the caller's metadata and each leaf's tree
path, shape and dtype. It is read with ``np.load(..., allow_pickle=False)``, so loading
a file cannot run code; the tree structure comes from a ``target`` the caller builds
(as ``flax.training.checkpoints.restore_checkpoint`` does), never from the file.

    >>> import tempfile, os, jax.numpy as jnp
    >>> from jpatterns import train
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> train.save_checkpoint(path, {"w": jnp.ones((2, 3))}, metadata={"step": 7})
    >>> tree, meta = train.restore_checkpoint(path, {"w": jnp.zeros((2, 3))})
    >>> float(tree["w"].sum()), meta["step"]
    (6.0, 7)
"""

from __future__ import annotations

import json
import math
import numbers
import os
import zipfile
import zlib
from typing import NamedTuple

import jax
import numpy as np

from jpatterns.train._files import atomic_open
from jpatterns.train.config import ConfigError, TrainConfig, validate

__all__ = [
  "save_checkpoint",
  "load_checkpoint",
  "restore_checkpoint",
  "read_training_checkpoint",
  "TrainingCheckpoint",
  "TRAINING_FIELDS",
  "FORMAT",
]

FORMAT = "jpatterns-checkpoint-2"


def save_checkpoint(path, tree, *, metadata: dict | None = None) -> None:
  """Writes ``tree`` and JSON ``metadata`` to ``path`` atomically (temp file + rename).

  Args:
    path: the ``.npz`` file to write; its directory is created.
    tree: a pytree of arrays (sharded or not: leaves are fetched to the host).
    metadata: JSON-serializable facts stored beside the arrays.

  Returns:
    None.
  """
  leaves_with_paths, _ = jax.tree_util.tree_flatten_with_path(tree)
  arrays = {}
  layout = []
  for i, (p, leaf) in enumerate(leaves_with_paths):
    a = np.asarray(jax.device_get(leaf))
    layout.append([jax.tree_util.keystr(p), list(a.shape), a.dtype.name])
    if a.dtype.kind == "V":  # bfloat16 & co. (ml_dtypes): stored as their raw bits
      a = a.view(f"u{a.dtype.itemsize}")
    arrays[f"leaf_{i:05d}"] = a
  header = {"format": FORMAT, "metadata": metadata or {}, "layout": layout}
  arrays["meta"] = np.frombuffer(json.dumps(header).encode("utf-8"), np.uint8)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with atomic_open(path, "wb") as f:
    np.savez(f, **arrays)


def load_checkpoint(path) -> tuple[dict, list, list[np.ndarray]]:
  """``(metadata, layout, leaves)`` of the checkpoint at ``path``, its header checked.

  Before any array is returned the header is checked against the format: ``meta`` is
  UTF-8 JSON ``{"format", "metadata", "layout"}`` with this module's :data:`FORMAT`, a
  dict of metadata, and one ``[tree path, shape, dtype]`` entry per array; the file
  holds exactly the arrays ``leaf_00000 …`` the layout lists, each of its entry's shape
  and dtype. An array of Python objects is refused unread (it could only be unpickled).

  Args:
    path: a file written by :func:`save_checkpoint`.

  Returns:
    The metadata dict, the layout (one ``[tree path, shape, dtype]`` per leaf) and the
    leaves as NumPy arrays of their saved dtypes.

  Raises:
    ValueError: no file, a file that is not a jpatterns checkpoint, or a header that
      breaks the format; the message names the header field, e.g.
      ``'c.npz': header field 'layout[3]' says shape (2, 8) float32, array 'leaf_00003'
      is (2, 9) float32``.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise ValueError(f"no checkpoint at {path!r}")
  try:
    npz = np.load(path, allow_pickle=False)
    if not isinstance(npz, np.lib.npyio.NpzFile):
      raise ValueError("a .npy array, not an .npz archive")
    with npz:
      arrays = {name: _read(path, npz, name) for name in npz.files}
  except (zipfile.BadZipFile, zlib.error, OSError, EOFError, KeyError, ValueError) as e:
    if str(e).startswith(repr(path)):
      raise
    raise ValueError(f"{path!r} is not a jpatterns checkpoint ({e})") from None
  header = _header(path, arrays.pop("meta", None))
  layout = header["layout"]
  return header["metadata"], layout, _leaves(path, layout, arrays)


def _read(path, npz, name) -> np.ndarray:
  try:
    return npz[name]
  except ValueError as e:
    if "allow_pickle" not in str(e):
      raise
    raise ValueError(
      f"{path!r} is not a jpatterns checkpoint (array {name!r} holds pickled Python "
      "objects; checkpoints are read without pickle, so it was not loaded)"
    ) from None


def _short(value) -> str:
  r = repr(value)
  return r if len(r) <= 80 else r[:77] + "..."


def _header_error(path, field: str, value=..., problem: str = "is missing") -> ValueError:
  """``'c.npz': header field 'epoch'='3' must be an integer >= 1`` (no value: missing)."""
  shown = "" if value is ... else f"={_short(value)}"
  return ValueError(f"{path!r}: header field {field!r}{shown} {problem}")


_LAYOUT_ENTRY = "must be [tree path, shape (a list of integers >= 0), dtype name]"


def _header(path, meta) -> dict:
  """The JSON header in array ``meta``, checked field by field."""
  if meta is None or meta.dtype != np.uint8 or meta.ndim != 1:
    raise ValueError(f"{path!r} is not a jpatterns checkpoint (no 'meta' header of JSON bytes)")
  try:
    header = json.loads(bytes(meta).decode("utf-8"))
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise ValueError(
      f"{path!r} is not a jpatterns checkpoint (its header is not JSON: {e})"
    ) from None
  if not isinstance(header, dict):
    raise ValueError(f"{path!r} is not a jpatterns checkpoint (its header is not a JSON object)")
  if "format" not in header:
    raise _header_error(path, "format")
  if header["format"] != FORMAT:
    raise _header_error(path, "format", header["format"], f"is not {FORMAT!r}")
  unknown = sorted(set(header) - {"format", "metadata", "layout"})
  if unknown:
    raise _header_error(path, unknown[0], header[unknown[0]], "is not a field of the format")
  for field in ("metadata", "layout"):
    if field not in header:
      raise _header_error(path, field)
  if not isinstance(header["metadata"], dict):
    raise _header_error(path, "metadata", header["metadata"], "must be a JSON object")
  layout = header["layout"]
  if not isinstance(layout, list):
    raise _header_error(path, "layout", layout, "must be a list of [tree path, shape, dtype]")
  for i, entry in enumerate(layout):
    field = f"layout[{i}]"
    if not (
      isinstance(entry, list)
      and len(entry) == 3
      and isinstance(entry[0], str)
      and isinstance(entry[1], list)
      and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in entry[1])
      and isinstance(entry[2], str)
    ):
      raise _header_error(path, field, entry, _LAYOUT_ENTRY)
    try:
      dtype = jax.numpy.dtype(entry[2])
    except (TypeError, ValueError):
      dtype = None
    if dtype is None or dtype.kind == "O" or dtype.type is np.void or dtype.name != entry[2]:
      raise _header_error(path, field, entry, f"names no array dtype ({entry[2]!r})")
  return header


def _leaves(path, layout, arrays) -> list[np.ndarray]:
  """The arrays ``leaf_00000 …`` that ``layout`` lists, each as its entry says."""
  names = [f"leaf_{i:05d}" for i in range(len(layout))]
  extra = sorted(set(arrays) - set(names))
  if extra:
    raise _header_error(
      path, "layout", problem=f"lists {len(layout)} arrays, not the file's array {extra[0]!r}"
    )
  leaves = []
  for i, ((tree_path, shape, dtype_name), name) in enumerate(zip(layout, names)):
    field = f"layout[{i}]"
    if name not in arrays:
      raise _header_error(path, field, tree_path, f"has no array {name!r} in the file")
    a = arrays[name]
    dtype = jax.numpy.dtype(dtype_name)
    stored = dtype if dtype.kind != "V" else np.dtype(f"u{dtype.itemsize}")
    if tuple(a.shape) != tuple(shape) or a.dtype != stored:
      raise _header_error(
        path,
        field,
        tree_path,
        f"says shape {tuple(shape)} {dtype_name}; array {name!r} is {a.shape} {a.dtype.name}",
      )
    leaves.append(a if a.dtype == dtype else a.view(dtype))  # bfloat16 & co.: their bits
  return leaves


def restore_checkpoint(path, target) -> tuple[object, dict]:
  """``target``'s tree filled with the arrays at ``path``, and the metadata.

  Args:
    path: a file written by :func:`save_checkpoint`.
    target: a pytree of the same structure, shapes and paths (e.g. freshly
      initialized parameters); its leaves' dtypes are kept.

  Returns:
    ``(tree, metadata)``: ``target``'s structure holding the saved arrays (NumPy), and
    the metadata dict.

  Raises:
    ValueError: unreadable file, or arrays that do not fit ``target`` (the message
      names the first leaf that differs).
  """
  metadata, layout, leaves = load_checkpoint(path)
  return fill(target, layout, leaves, path), metadata


def fill(target, layout, leaves, path) -> object:
  """``target``'s tree filled with ``leaves``; ValueError when they do not match."""
  expected, treedef = jax.tree_util.tree_flatten_with_path(target)
  if len(layout) > len(expected):
    layout, leaves = _without_unread_counts(expected, layout, leaves)
  if len(expected) != len(layout):
    raise ValueError(
      f"{path!r} holds {len(layout)} arrays, the target has "
      f"{len(expected)}: it was written by another model"
    )
  for (p, leaf), (name, shape, _), a in zip(expected, layout, leaves):
    want = (jax.tree_util.keystr(p), tuple(np.shape(leaf)))
    if want != (name, tuple(shape)) or tuple(np.shape(a)) != tuple(shape):
      raise ValueError(
        f"{path!r} was written by another model: it has {name} {tuple(np.shape(a))} "
        f"where the target has {want[0]} {want[1]}"
      )
  return jax.tree_util.tree_unflatten(
    treedef, [np.asarray(a, dtype=leaf.dtype) for (_, leaf), a in zip(expected, leaves)]
  )


def _without_unread_counts(expected, layout, leaves) -> tuple[list, list]:
  """``layout`` and ``leaves`` less the optimizer step counts ``target`` does not hold.

  Before the optimizers kept no count that nothing reads (a constant learning rate:
  ``count=None`` in sgd's, momentum's, adagrad's… state), a checkpoint held it as an
  int32 leaf ``….count`` or ``….weight_decay_count``; such a checkpoint still resumes.
  """
  names = {jax.tree_util.keystr(p) for p, _ in expected}
  keep = [
    i
    for i, (name, _, dtype) in enumerate(layout)
    if name in names or not (name.endswith("count") and dtype == "int32")
  ]
  return [layout[i] for i in keep], [leaves[i] for i in keep]


# --- what jpatterns.train.fit writes ----------------------------------------------------

# The metadata of a training checkpoint (engine.run_experiment writes them as epochs end).
TRAINING_FIELDS = ("config", "seeds", "epoch", "history")


class TrainingCheckpoint(NamedTuple):
  """A checkpoint written by :func:`~jpatterns.train.fit`, every header field checked.

  Attributes:
    config: the run's configuration, validated (canonical names).
    seeds: the seeds, in the order of every leaf's leading axis.
    epoch: the epochs trained, >= 1.
    history: ``history[seed][metric][epoch]``, the metrics of
      :data:`~jpatterns.train.METRICS`, finite.
    layout, leaves: as :func:`load_checkpoint` returns them.
  """

  config: TrainConfig
  seeds: list[int]
  epoch: int
  history: list
  layout: list
  leaves: list[np.ndarray]


def read_training_checkpoint(path) -> TrainingCheckpoint:
  """The checkpoint at ``path`` with its training metadata checked against the schema.

  On top of :func:`load_checkpoint`'s checks of the format: the metadata holds exactly
  :data:`TRAINING_FIELDS`; ``config`` is a JSON object that
  :meth:`TrainConfig.from_json` and :func:`~jpatterns.train.config.validate` accept;
  ``seeds`` a non-empty list of distinct integers >= 0; ``epoch`` an integer in
  ``1 … config.epochs``; ``history`` one list per seed of one list per metric, each
  ``epoch`` finite numbers (accuracies in [0, 1]); every leaf's leading axis the seeds.

  Args:
    path: a ``checkpoint.npz`` written by ``fit(..., out=...)``.

  Returns:
    A :class:`TrainingCheckpoint`.

  Raises:
    ValueError: the first violation, naming its header field, e.g.
      ``'c.npz': header field 'epoch'='3' must be an integer >= 1``.
  """
  path = os.fspath(path)
  metadata, layout, leaves = load_checkpoint(path)
  for field in TRAINING_FIELDS:
    if field not in metadata:
      raise _header_error(path, field)
  unknown = sorted(set(metadata) - set(TRAINING_FIELDS))
  if unknown:
    raise _header_error(
      path,
      unknown[0],
      metadata[unknown[0]],
      f"is not a training checkpoint field; expected {', '.join(TRAINING_FIELDS)}",
    )
  config = _config(path, metadata["config"])
  seeds = metadata["seeds"]
  if not (isinstance(seeds, list) and seeds and all(_is_int(s) and s >= 0 for s in seeds)):
    raise _header_error(path, "seeds", seeds, "must be a non-empty list of integers >= 0")
  if len(set(seeds)) != len(seeds):
    raise _header_error(path, "seeds", seeds, "repeats a seed")
  epoch = metadata["epoch"]
  if not (_is_int(epoch) and epoch >= 1):
    raise _header_error(path, "epoch", epoch, "must be an integer >= 1")
  if epoch > config.epochs:
    raise _header_error(path, "epoch", epoch, f"is more than config.epochs={config.epochs}")
  history = metadata["history"]
  _check_history(path, history, len(seeds), epoch)
  for i, (tree_path, shape, _) in enumerate(layout):
    if not shape or shape[0] != len(seeds):
      raise _header_error(
        path,
        f"layout[{i}]",
        tree_path,
        f"has shape {tuple(shape)}; every array's first axis is the {len(seeds)} seed(s)",
      )
  return TrainingCheckpoint(config, seeds, epoch, history, layout, leaves)


def _is_int(v) -> bool:
  return isinstance(v, int) and not isinstance(v, bool)


def _config(path, d) -> TrainConfig:
  """The header's ``config``, validated; a bad field is named ``config.FIELD``."""
  if not isinstance(d, dict):
    raise _header_error(path, "config", d, "must be a JSON object of TrainConfig fields")
  try:
    return validate(TrainConfig.from_json(d))
  except ConfigError as e:
    field = "config" if e.name == "config" else f"config.{e.name}"
    raise _header_error(path, field, e.value, e.problem) from None
  except (TypeError, ValueError) as e:
    raise _header_error(path, "config", d, f"is not a valid TrainConfig ({e})") from None


def _check_history(path, history, num_seeds: int, epoch: int) -> None:
  """``history[seed][metric][epoch]``: finite numbers, accuracies in [0, 1]."""
  from jpatterns.train.engine import METRICS  # the engine imports this module

  if not (isinstance(history, list) and len(history) == num_seeds):
    raise _header_error(
      path,
      "history",
      history,
      f"must be lists [seed][metric][epoch] of shape ({num_seeds}, {len(METRICS)}, {epoch})",
    )
  for i, per_seed in enumerate(history):
    if not (isinstance(per_seed, list) and len(per_seed) == len(METRICS)):
      raise _header_error(
        path, f"history[{i}]", per_seed, f"must be a list of the {len(METRICS)} metrics"
      )
    for j, (metric, curve) in enumerate(zip(METRICS, per_seed)):
      field = f"history[{i}][{j}]"
      if not (isinstance(curve, list) and len(curve) == epoch):
        raise _header_error(
          path, field, curve, f"must list {epoch} {metric} value(s), one per epoch"
        )
      for k, v in enumerate(curve):
        finite = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
        if not finite or (metric.endswith("accuracy") and not 0 <= v <= 1):
          bound = " in [0, 1]" if metric.endswith("accuracy") else ""
          raise _header_error(path, f"{field}[{k}]", v, f"must be a finite {metric}{bound}")
