"""Pieces every optimizer shares: learning-rate lookup, accumulators, checks."""

from __future__ import annotations

from typing import Any, Callable, Union

import jax
import jax.numpy as jnp
import optax

from jpatterns import _validation

Schedule = Callable[[jax.Array], jax.Array]
ScalarOrSchedule = Union[float, jax.Array, Schedule]


def learning_rate_at(learning_rate: ScalarOrSchedule, count: jax.Array) -> jax.Array:
  """α_t: the schedule evaluated at ``count`` (steps taken so far), or the constant."""
  return learning_rate(count) if callable(learning_rate) else learning_rate


def check_learning_rate(fn: str, learning_rate: ScalarOrSchedule) -> None:
  """A constant learning rate must be >= 0 (a schedule is checked by its factory)."""
  if not callable(learning_rate):
    _validation.check_non_negative(fn, "learning_rate", learning_rate)


def check_decay(fn: str, name: str, value: Any) -> None:
  """Momentum / decay rates β, ρ live in [0, 1)."""
  _validation.check_in_range(fn, name, value, 0.0, 1.0, hi_open=True)


def zeros_like(params: Any, dtype=None) -> Any:
  """An accumulator per leaf, in ``dtype`` (default: the leaf's own dtype)."""
  return jax.tree.map(lambda p: jnp.zeros_like(p, dtype=dtype or p.dtype), params)


def full_like(params: Any, value: float, dtype=None) -> Any:
  return jax.tree.map(lambda p: jnp.full_like(p, value, dtype=dtype or p.dtype), params)


def increment(count: jax.Array) -> jax.Array:
  """count + 1, saturating at int32 max (as optax does)."""
  return optax.safe_int32_increment(count)


def compute_dtype(dtype):
  """At least float32 for the arithmetic."""
  return jnp.promote_types(dtype, jnp.float32)


def is_static_zero(value) -> bool:
  """True for a Python 0 (a hyperparameter that switches a term off at trace time)."""
  return isinstance(value, (int, float)) and value == 0


def needs_params(fn: str, params, weight_decay) -> None:
  """Weight decay reads θ: ``update`` must be given ``params``."""
  if params is None and not is_static_zero(weight_decay):
    raise ValueError(
        f"{fn}: weight_decay={weight_decay!r} needs the parameters; "
        "call update(grads, state, params)")


def per_leaf(fn: Callable, n_out: int, treedef, *trees) -> tuple:
  """Applies ``fn`` to aligned leaves of ``trees`` and returns ``n_out`` trees.

  ``fn(*leaves)`` returns a tuple (Δθ and the new accumulators of one leaf), so
  each leaf's whole update is traced together. A tree given as ``None`` passes
  ``None`` to ``fn``.
  """
  columns = [treedef.flatten_up_to(t) if t is not None else [None] * treedef.num_leaves
             for t in trees]
  outs = [fn(*leaves) for leaves in zip(*columns)]
  if not outs:
    return tuple(treedef.unflatten([]) for _ in range(n_out))
  return tuple(treedef.unflatten(list(col)) for col in zip(*outs))
