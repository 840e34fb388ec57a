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
import os
import zipfile

import jax
import numpy as np

from jpatterns.train._files import atomic_open

__all__ = ["save_checkpoint", "load_checkpoint", "restore_checkpoint", "FORMAT"]

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
  """``(metadata, layout, leaves)`` of the checkpoint at ``path``.

  Args:
    path: a file written by :func:`save_checkpoint`.

  Returns:
    The metadata dict, the layout (one ``[tree path, shape, dtype]`` per leaf) and the
    leaves as NumPy arrays of their saved dtypes.

  Raises:
    ValueError: no file, or a file that is not a jpatterns checkpoint.
  """
  path = os.fspath(path)
  if not os.path.isfile(path):
    raise ValueError(f"no checkpoint at {path!r}")
  try:
    with np.load(path, allow_pickle=False) as npz:
      header = json.loads(bytes(npz["meta"]).decode("utf-8"))
      if not isinstance(header, dict) or header.get("format") != FORMAT:
        found = header.get("format") if isinstance(header, dict) else None
        raise ValueError(f"format {found!r}, expected {FORMAT!r}")
      layout = header["layout"]
      leaves = [_typed(npz[f"leaf_{i:05d}"], dtype) for i, (_, _, dtype) in enumerate(layout)]
  except (zipfile.BadZipFile, OSError, EOFError, KeyError, ValueError, TypeError) as e:
    raise ValueError(f"{path!r} is not a jpatterns checkpoint ({e})") from None
  return header.get("metadata", {}), layout, leaves


def _typed(a, dtype_name):
  """``a`` as the dtype it was saved from (raw bits of bfloat16 & co. viewed back)."""
  if a.dtype.name == dtype_name:
    return a
  return a.view(jax.numpy.dtype(dtype_name))


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
