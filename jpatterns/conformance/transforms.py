"""Gradient transforms (clipping) against optax."""

from __future__ import annotations

import jax
import optax

from jpatterns import optim
from jpatterns.conformance import add
from jpatterns.conformance._inputs import normal


def _grads():
  return {"w": normal(0, (4, 3), scale=2.0), "b": normal(1, (3,), scale=0.5)}


def _transform_check(ours, theirs):
  def fn(key, dtype):
    g = _grads()
    apply = lambda tx: tx.update(g, tx.init(g), g)[0]  # noqa: E731
    return apply(ours), theirs(g)

  return fn


add("clip_by_value", "optax.clip", "elementwise")(
  _transform_check(optim.clip_by_value(-0.5, 0.5), lambda g: optax.clip(0.5).update(g, None)[0])
)
add("clip_by_norm", "optax.clip_by_global_norm per leaf", "elementwise")(
  _transform_check(
    optim.clip_by_norm(1.0),
    lambda g: jax.tree.map(lambda x: optax.clip_by_global_norm(1.0).update(x, None)[0], g),
  )
)
add("clip_by_global_norm", "optax.clip_by_global_norm", "elementwise")(
  _transform_check(
    optim.clip_by_global_norm(2.0), lambda g: optax.clip_by_global_norm(2.0).update(g, None)[0]
  )
)
