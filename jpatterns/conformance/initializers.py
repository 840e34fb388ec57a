"""Initializers against jax.nn.initializers with the same key (bit-equal on the CPU)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jpatterns import initializers as init
from jpatterns.conformance import add

_JI = jax.nn.initializers
_INITIALIZERS = [
  (
    "glorot_normal",
    init.glorot_normal(),
    _JI.variance_scaling(1.0, "fan_avg", "normal"),
    'variance_scaling(1, "fan_avg", "normal")',
  ),
  ("glorot_uniform", init.glorot_uniform(), _JI.glorot_uniform(), "glorot_uniform"),
  (
    "he_normal",
    init.he_normal(),
    _JI.variance_scaling(2.0, "fan_in", "normal"),
    'variance_scaling(2, "fan_in", "normal")',
  ),
  ("he_uniform", init.he_uniform(), _JI.he_uniform(), "he_uniform"),
  (
    "lecun_normal",
    init.lecun_normal(),
    _JI.variance_scaling(1.0, "fan_in", "normal"),
    'variance_scaling(1, "fan_in", "normal")',
  ),
  ("lecun_uniform", init.lecun_uniform(), _JI.lecun_uniform(), "lecun_uniform"),
  (
    "truncated_normal",
    init.truncated_normal(0.3),
    _JI.truncated_normal(0.3),
    "truncated_normal(0.3)",
  ),
  ("orthogonal", init.orthogonal(scale=2.0), _JI.orthogonal(2.0), "orthogonal(2)"),
]


def _init_check(ours, theirs, qr):
  def fn(key, dtype):
    shape = (3, 3, 4, 6)  # a conv kernel (H, W, in, out): the fans include H·W
    # jax.nn's orthogonal has no bf16 QR: it samples in float32, then rounds.
    ref = theirs(key, shape, jnp.float32).astype(dtype) if qr else theirs(key, shape, dtype)
    return ours(key, shape, dtype), ref

  return fn


for _name, _ours, _theirs, _ref in _INITIALIZERS:
  add(_name, "jax.nn.initializers." + _ref + " same key", "exact", ("f32", "bf16"))(
    _init_check(_ours, _theirs, _name == "orthogonal")
  )
