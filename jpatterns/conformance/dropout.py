"""Dropout against flax.linen.Dropout with the same key (bit-equal)."""

from __future__ import annotations

import flax.linen as fnn

from jpatterns import stochastic as jdrop
from jpatterns.conformance import add
from jpatterns.conformance._inputs import normal


@add("dropout", "flax.linen.Dropout same key (bit-equal)", "exact", ("f32", "bf16"))
def _dropout(key, dtype):
  x = normal(0, (4, 5, 6), dtype)
  ours = [
    jdrop.dropout(key, x, rate=r, broadcast_dims=d) for r, d in ((0.5, ()), (0.1, ()), (0.3, (0,)))
  ]
  theirs = [
    fnn.Dropout(r, broadcast_dims=d, deterministic=False).apply({}, x, rng=key)
    for r, d in ((0.5, ()), (0.1, ()), (0.3, (0,)))
  ]
  return ours, theirs
