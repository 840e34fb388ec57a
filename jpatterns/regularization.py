"""Parameter-norm penalties and label smoothing (seed 002 正则化: 参数范数正则化, L2, L1,
标签平滑).

Pure functions on arrays and pytrees: add a penalty to the loss
(``loss + l2_penalty(params, weight=1e-4)``) and let ``jax.grad`` differentiate it, or
use the equivalent gradient transformations in ``jpatterns.optim``
(``add_l2``, ``add_l1``, ``weight_decay``).

Masks: ``mask`` selects the leaves a penalty applies to (``True`` = penalized), so
biases and normalization scales can be left out. It is a pytree of Python bools with
the structure of ``params`` or a prefix of it (``{"encoder": False, "head": True}``),
or a callable ``params -> such a pytree``; it must be static (not traced).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jpatterns._dtypes import compute_dtype
from jpatterns._validation import (
  as_array,
  check_in_range,
  check_non_negative,
  check_positive_int,
  float_dtype,
)

__all__ = ["l2_penalty", "l1_penalty", "label_smoothing"]

Mask = Any | Callable[[Any], Any] | None


def _full_mask(fn: str, mask: Mask, params) -> Any:
  """The mask as a pytree of Python bools with exactly the structure of ``params``.

  ``None`` selects every leaf; a prefix tree broadcasts each bool over its subtree.
  """
  if mask is None:
    return jax.tree.map(lambda _: True, params)
  m = mask(params) if callable(mask) else mask
  if not all(isinstance(b, (bool, np.bool_)) for b in jax.tree.leaves(m)):
    raise ValueError(
      f"{fn}: mask={m!r} must be a pytree of Python bools (or a callable returning one), "
      "with the structure of params or a prefix of it"
    )
  try:
    return jax.tree.map(lambda b, sub: jax.tree.map(lambda _: bool(b), sub), m, params)
  except (ValueError, TypeError) as e:
    raise ValueError(
      f"{fn}: mask of structure {jax.tree.structure(m)} does not match (a prefix "
      f"of) the params structure {jax.tree.structure(params)}; give one bool per "
      f"leaf or subtree"
    ) from e


def _signed_abs(w):
  """|w| written as w·sgn(w): its derivative is sgn(w) exactly, so 0 at w = 0.

  ``jax.grad(jnp.abs)(0.)`` is 1; seed 002 sets sgn(0) = 0 so that a zero weight
  gets no L1 push. d(w·sgn w) = sgn(w) dw + w·0 (sgn is piecewise constant).
  """
  return w * jnp.sign(w)  # |w|, with d|w|/dw = sgn(w), sgn(0) = 0


def _check_weight(fn: str, weight):
  check_non_negative(fn, "weight", weight)


def l2_penalty(params, *, weight, mask: Mask = None) -> jax.Array:
  r"""L2 penalty λ/2 Σ w² over a pytree (seed 002 正则化 L2正则化).

  .. math:: \Omega(w) = \frac{\lambda}{2} \sum_w w^2, \qquad
     \nabla_w \Omega = \lambda w

  Added to the loss, plain gradient descent becomes
  :math:`w \leftarrow (1 - \eta\lambda) w - \eta \nabla_w C_0` (weight decay).

  Args:
    params: a pytree of arrays.
    weight: λ ≥ 0.
    mask: which leaves are penalized (see the module docstring); default all.

  Returns:
    A scalar, float32 (or float64 under x64), summed in at least float32.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> p = {"w": jnp.array([1.0, -2.0]), "b": jnp.array([3.0])}
    >>> print(l2_penalty(p, weight=0.1, mask={"w": True, "b": False}))
    0.25
    >>> print(jax.grad(lambda q: l2_penalty(q, weight=0.1))(p)["w"])
    [ 0.1 -0.2]
  """
  fn = "l2_penalty"
  _check_weight(fn, weight)
  full = _full_mask(fn, mask, params)
  terms = [
    jnp.sum(jnp.square(w.astype(compute_dtype(w))))  # Σ w²
    for w, m in zip(jax.tree.leaves(params), jax.tree.leaves(full))
    if m
  ]
  total = sum(terms) if terms else jnp.float32(0.0)
  return 0.5 * weight * total  # λ/2 Σ w²


def l1_penalty(params, *, weight, mask: Mask = None) -> jax.Array:
  r"""L1 penalty λ Σ |w| with gradient λ sgn(w), sgn(0) = 0 (seed 002 正则化 L1正则化).

  .. math:: \Omega(w) = \lambda \sum_w |w|, \qquad \nabla_w \Omega = \lambda\,
     \mathrm{sgn}(w), \quad \mathrm{sgn}(0) = 0

  Seed 002: |w| is not differentiable at 0, so a zero weight is updated as without
  the penalty, i.e. sgn(0) = 0 — which ``jax.grad(jnp.abs)`` does not do (it gives
  1 at 0). The penalty is written as w·sgn(w) so its autodiff gradient is exactly
  λ sgn(w). Gradient descent becomes :math:`w \leftarrow w - \eta\lambda\,
  \mathrm{sgn}(w) - \eta \nabla_w C_0`.

  Args:
    params: a pytree of arrays.
    weight: λ ≥ 0.
    mask: which leaves are penalized (see the module docstring); default all.

  Returns:
    A scalar, float32 (or float64 under x64), summed in at least float32.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> p = {"w": jnp.array([1.5, 0.0, -2.0])}
    >>> print(l1_penalty(p, weight=0.1))
    0.35
    >>> print(jax.grad(lambda q: l1_penalty(q, weight=0.1))(p)["w"])
    [ 0.1  0.  -0.1]
  """
  fn = "l1_penalty"
  _check_weight(fn, weight)
  full = _full_mask(fn, mask, params)
  terms = [
    jnp.sum(_signed_abs(w.astype(compute_dtype(w))))  # Σ |w|
    for w, m in zip(jax.tree.leaves(params), jax.tree.leaves(full))
    if m
  ]
  total = sum(terms) if terms else jnp.float32(0.0)
  return weight * total  # λ Σ |w|


def label_smoothing(labels, *, eps, num_classes: int | None = None, dtype=jnp.float32) -> jax.Array:
  r"""Label smoothing as seed 002 writes it: 1 − ε on the true class, ε/(K−1) elsewhere.

  .. math:: \tilde y = \Big[\tfrac{\epsilon}{K-1}, \dots, \tfrac{\epsilon}{K-1},
     1-\epsilon, \tfrac{\epsilon}{K-1}, \dots\Big], \qquad
     \text{i.e. } \tilde y = \Big(1 - \tfrac{K\epsilon}{K-1}\Big) y +
     \tfrac{\epsilon}{K-1}

  The affine form is applied to any (one-hot or soft) label vector and keeps sums at
  1. ``optax.smooth_labels(y, α)`` computes :math:`(1-\alpha) y + \alpha / K`, giving
  the true class :math:`1 - \alpha + \alpha/K`: it equals this function with
  :math:`\alpha = \epsilon K / (K - 1)`.

  Args:
    labels: integer class indices (any shape; ``num_classes`` required), or one-hot /
      soft labels of floating dtype with the K classes on the last axis.
    eps: ε in [0, 1), the probability mass moved off the true class (ε = 1 would
      leave the true class nothing).
    num_classes: K ≥ 2. Required for integer labels; for one-hot labels it must equal
      ``labels.shape[-1]`` if given.
    dtype: output dtype for integer labels (floating labels keep their dtype).

  Returns:
    Smoothed labels, shape ``labels.shape + (K,)`` for integer labels, else
    ``labels.shape``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(label_smoothing(jnp.array([2]), eps=0.3, num_classes=4))
    [[0.1 0.1 0.7 0.1]]

  References:
    Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", 2016.
  """
  fn = "label_smoothing"
  check_in_range(fn, "eps", eps, 0.0, 1.0, hi_open=True)
  labels = as_array(fn, "labels", labels)
  dtype = float_dtype(fn, "dtype", dtype)
  if num_classes is not None:
    check_positive_int(fn, "num_classes", num_classes)
  if jnp.issubdtype(labels.dtype, jnp.integer):
    if num_classes is None:
      raise ValueError(
        f"{fn}: integer labels need num_classes; pass num_classes=K (K >= 2) or one-hot labels"
      )
    k = int(num_classes)
    if k < 2:
      raise ValueError(f"{fn}: num_classes={k!r} must be an integer >= 2 (ε/(K−1))")
    y = jax.nn.one_hot(labels, k, dtype=dtype)
  elif jnp.issubdtype(labels.dtype, jnp.floating):
    if labels.ndim == 0:
      raise ValueError(
        f"{fn}: one-hot labels must have the classes on a last axis; got a scalar "
        f"(pass integer labels with num_classes instead)"
      )
    k = labels.shape[-1]
    if num_classes is not None and num_classes != k:
      raise ValueError(
        f"{fn}: num_classes={num_classes!r} differs from labels.shape[-1]={k}; "
        f"omit num_classes or make them equal"
      )
    y = labels
  else:
    raise ValueError(
      f"{fn}: labels of dtype {labels.dtype} are neither integer class indices nor "
      f"floating one-hot labels"
    )
  if not isinstance(k, numbers.Integral) or k < 2:
    raise ValueError(f"{fn}: num_classes={k!r} must be an integer >= 2 (ε/(K−1))")
  off = eps / (k - 1)  # ε/(K−1) on every other class
  y32 = y.astype(compute_dtype(y.dtype))
  out = y32 * (1.0 - eps) + (1.0 - y32) * off  # ỹ = y(1 − ε) + (1 − y) ε/(K−1)
  return out.astype(y.dtype)
