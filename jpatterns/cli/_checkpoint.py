"""Checkpoints without pickle: one ``.npz`` of arrays plus a JSON header.

The file holds the training carry (params, batch-norm statistics, optimizer state)
leaf by leaf as ``leaf_00000, leaf_00001, …``, and ``meta``: UTF-8 JSON bytes with the
format version, the configuration, the seeds, the epochs completed, the metric
curves so far and each leaf's tree path, shape and dtype. It is read with
``np.load(..., allow_pickle=False)``, so loading a file cannot run code; the tree
structure comes from the configuration (the model is rebuilt, then filled), never
from the file.
"""

from __future__ import annotations

import json
import os
import tempfile

import jax
import numpy as np

from jpatterns.cli._errors import UsageError

__all__ = ["save", "load", "restore"]

FORMAT = "jpatterns-checkpoint-1"


def save(path, carry, meta: dict) -> None:
  """Writes ``carry`` and ``meta`` to ``path`` atomically (temp file + rename)."""
  leaves_with_paths, _ = jax.tree_util.tree_flatten_with_path(carry)
  arrays = {}
  layout = []
  for i, (p, leaf) in enumerate(leaves_with_paths):
    a = np.asarray(jax.device_get(leaf))
    arrays[f"leaf_{i:05d}"] = a
    layout.append([jax.tree_util.keystr(p), list(a.shape), a.dtype.name])
  header = dict(meta, format=FORMAT, layout=layout)
  arrays["meta"] = np.frombuffer(json.dumps(header).encode("utf-8"), np.uint8)
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
  try:
    with os.fdopen(fd, "wb") as f:
      np.savez(f, **arrays)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def load(path) -> tuple[dict, list[np.ndarray]]:
  """The header and the leaves of the checkpoint at ``path``; UsageError if unreadable."""
  if not os.path.isfile(path):
    raise UsageError(f"--resume: no checkpoint at {path!r}")
  try:
    with np.load(path, allow_pickle=False) as npz:
      meta = json.loads(bytes(npz["meta"]).decode("utf-8"))
      if meta.get("format") != FORMAT:
        raise ValueError(f"format {meta.get('format')!r}")
      leaves = [npz[f"leaf_{i:05d}"] for i in range(len(meta["layout"]))]
  except UsageError:
    raise
  except Exception as e:  # zip, JSON or key errors: not one of our checkpoints
    raise UsageError(f"--resume: {path!r} is not a jpatterns checkpoint ({e})") from None
  return meta, leaves


def restore(template, meta: dict, leaves, path) -> object:
  """``template``'s tree filled with ``leaves``; UsageError when they do not match."""
  expected, treedef = jax.tree_util.tree_flatten_with_path(template)
  layout = meta["layout"]
  if len(expected) != len(layout):
    raise UsageError(f"--resume: {path!r} holds {len(layout)} arrays, this model has "
                     f"{len(expected)}: it was written by another model")
  for (p, leaf), (name, shape, dtype) in zip(expected, layout):
    if jax.tree_util.keystr(p) != name or tuple(leaf.shape) != tuple(shape):
      raise UsageError(
          f"--resume: {path!r} was written by another model: it has {name} "
          f"{tuple(shape)} where this model has {jax.tree_util.keystr(p)} "
          f"{tuple(leaf.shape)}")
  return jax.tree_util.tree_unflatten(
      treedef, [np.asarray(a, dtype=leaf.dtype) for (_, leaf), a in zip(expected, leaves)])
