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
