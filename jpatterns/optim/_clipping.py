"""Gradient clipping as gradient transformations (seed 002 梯度截断).

Seed 002 clips when a gradient suddenly grows ("cliffs"), in two ways::

  按值截断 (by value)   g_t = max(min(g_t, b), a)            for an interval [a, b]
  按模截断 (by norm)    g_t = b g_t / ‖g_t‖  if ‖g_t‖ > b,  else g_t unchanged

The seed does not say over what the norm ‖g_t‖ runs: ``clip_by_norm`` takes one norm
per tensor (per pytree leaf), ``clip_by_global_norm`` one norm over every leaf
together (Pascanu et al., 2013; optax's and torch's ``clip_grad_norm_``).

Each factory returns a stateless ``optax.GradientTransformation``: chain it BEFORE
the optimizer (``optax.chain(clip_by_global_norm(1.0), adam(1e-3))``) to clip the raw
gradient. Norms are computed in float32 (at least); each leaf keeps its dtype. A zero
gradient stays zero (no 0/0).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jpatterns import _validation
from jpatterns.optim import _common

__all__ = ["clip_by_value", "clip_by_norm", "clip_by_global_norm"]


def _sum_squares(g) -> jax.Array:
  gc = _common.upcast(g)  # at least float32
  return jnp.sum(gc * gc)


def _scale_down(norm, bound):
  """b/‖g‖ where ‖g‖ > b, else 1 (never divides by a zero norm: b > 0)."""
  over = norm > bound
  return jnp.where(over, bound / jnp.where(over, norm, 1.0), 1.0)


def _check_bound(name, value):
  if value != value:
    raise ValueError(f"clip_by_value: {name}=nan is not a bound; pass a number (±inf for no bound)")


def _check_interval(a, b):
  if not a <= b:
    raise ValueError(f"clip_by_value: a={a!r} > b={b!r}; choose an interval with a <= b")


def clip_by_value(a: float, b: float) -> optax.GradientTransformation:
  r"""Clip every gradient element to the interval [a, b] (seed 002 梯度截断 按值截断).

  .. math:: g_t = \max(\min(g_t, b), a)

  The interval may be asymmetric; ``optax.clip(δ)`` is the symmetric case
  ``clip_by_value(-δ, δ)``.

  Args:
    a: lower bound (``-inf``: none).
    b: upper bound, ≥ a (``inf``: none).

  Returns:
    A stateless ``optax.GradientTransformation``.

  Example:
    >>> import jax.numpy as jnp
    >>> clip = clip_by_value(-1.0, 0.5)
    >>> g, _ = clip.update({"w": jnp.array([-3.0, 0.2, 2.0])}, clip.init(None))
    >>> print(g["w"])
    [-1.   0.2  0.5]
  """
  fn = "clip_by_value"
  _validation.check_numbers(fn, lambda a: _check_bound("a", a), a=a)
  _validation.check_numbers(fn, lambda b: _check_bound("b", b), b=b)
  _validation.check_numbers(fn, _check_interval, a=a, b=b)

  def update(updates, state, params=None):
    del params
    # g = max(min(g, b), a)
    updates = jax.tree.map(lambda g: jnp.maximum(jnp.minimum(g, b), a).astype(g.dtype), updates)
    return updates, state

  return optax.GradientTransformation(optax.init_empty_state, update)


def clip_by_norm(max_norm: float) -> optax.GradientTransformation:
  r"""Rescale each tensor whose L2 norm exceeds b (seed 002 梯度截断 按模截断, per tensor).

  .. math:: g \leftarrow \frac{b}{\lVert g \rVert_2}\, g \quad \text{if }
     \lVert g \rVert_2 > b, \qquad \text{for each leaf } g \text{ separately}

  Equals ``torch.nn.utils.clip_grad_norm_`` called on each tensor alone, except that
  torch divides by ``‖g‖ + 1e-6``.

  Args:
    max_norm: b > 0, the largest norm a leaf keeps.

  Returns:
    A stateless ``optax.GradientTransformation``.

  Example:
    >>> import jax.numpy as jnp
    >>> clip = clip_by_norm(1.0)
    >>> g = {"a": jnp.array([3.0, 4.0]), "b": jnp.array([0.3, 0.4])}
    >>> out, _ = clip.update(g, clip.init(None))
    >>> print(out["a"], out["b"])
    [0.6 0.8] [0.3 0.4]
  """
  _validation.check_positive("clip_by_norm", "max_norm", max_norm)

  def clip_leaf(g):
    norm = jnp.sqrt(_sum_squares(g))  # ‖g‖₂ of this tensor
    return (g * _scale_down(norm, max_norm)).astype(g.dtype)  # g ← b g/‖g‖ if ‖g‖ > b

  def update(updates, state, params=None):
    del params
    return jax.tree.map(clip_leaf, updates), state

  return optax.GradientTransformation(optax.init_empty_state, update)


def clip_by_global_norm(max_norm: float) -> optax.GradientTransformation:
  r"""Rescale all gradients together when their global L2 norm exceeds b (seed 002 梯度截断).

  .. math:: \lVert g \rVert = \sqrt{\textstyle\sum_{\text{leaves } l} \lVert g_l
     \rVert_2^2}, \qquad g_l \leftarrow \frac{b}{\lVert g \rVert}\, g_l \quad
     \text{if } \lVert g \rVert > b

  Keeps the direction of the whole update. Same as ``optax.clip_by_global_norm``;
  ``torch.nn.utils.clip_grad_norm_`` divides by ``‖g‖ + 1e-6`` instead of ``‖g‖``
  (a relative difference of about 1e-6 / ‖g‖).

  Args:
    max_norm: b > 0.

  Returns:
    A stateless ``optax.GradientTransformation``.

  Example:
    >>> import jax.numpy as jnp
    >>> clip = clip_by_global_norm(1.0)
    >>> g = {"a": jnp.array([3.0, 0.0]), "b": jnp.array([4.0])}
    >>> out, _ = clip.update(g, clip.init(None))
    >>> print(out["a"], out["b"])
    [0.6 0. ] [0.8]

  References:
    Pascanu, Mikolov & Bengio, "On the difficulty of training recurrent neural
    networks", 2013.
  """
  _validation.check_positive("clip_by_global_norm", "max_norm", max_norm)

  def update(updates, state, params=None):
    del params
    leaves = jax.tree.leaves(updates)
    norm = jnp.sqrt(sum(_sum_squares(g) for g in leaves)) if leaves else 0.0  # ‖g‖
    scale = _scale_down(norm, max_norm)  # b/‖g‖ if ‖g‖ > b else 1
    return jax.tree.map(lambda g: (g * scale).astype(g.dtype), updates), state

  return optax.GradientTransformation(optax.init_empty_state, update)
