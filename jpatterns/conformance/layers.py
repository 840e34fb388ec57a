"""Layers against flax.linen pooling and jax.nn.dot_product_attention."""

from __future__ import annotations

import flax.linen as fnn
import jax
import jax.numpy as jnp

from jpatterns import layers
from jpatterns.conformance import add
from jpatterns.conformance._inputs import f32, normal


@add(
  "multi_head_attention",
  "jax.nn.dot_product_attention (causal) + projections",
  "reduction",
  ("f32", "bf16"),
)
def _mha(key, dtype):
  heads, dim = 2, 8
  p = {
    name: normal(i, (dim, dim), scale=dim**-0.5) for i, name in enumerate(("wq", "wk", "wv", "wo"))
  }
  for i, name in enumerate(("bq", "bk", "bv", "bo")):
    p[name] = normal(10 + i, (dim,), scale=0.3)  # nonzero biases
  x = normal(20, (3, 5, dim), dtype)
  p = jax.tree.map(lambda a: a.astype(dtype), p)
  ours = layers.multi_head_attention(p, x, num_heads=heads, causal=True)
  x32, p = x.astype(jnp.float32), f32(p)
  q, k, v = (
    (x32 @ p[w] + p[b]).reshape(3, 5, heads, dim // heads)
    for w, b in (("wq", "bq"), ("wk", "bk"), ("wv", "bv"))
  )
  att = jax.nn.dot_product_attention(q, k, v, is_causal=True)
  return ours, att.reshape(3, 5, dim) @ p["wo"] + p["bo"]


@add("max_pool", "flax.linen.max_pool", "reduction", ("f32", "bf16"))
def _max_pool(key, dtype):
  x = normal(0, (2, 7, 8, 3), dtype)
  return (
    [
      layers.max_pool(x, window=(2, 2), strides=(2, 2)),
      layers.max_pool(x, window=(3, 3), strides=(2, 2), padding="SAME"),
    ],
    [
      fnn.max_pool(x.astype(jnp.float32), (2, 2), strides=(2, 2)),
      fnn.max_pool(x.astype(jnp.float32), (3, 3), strides=(2, 2), padding="SAME"),
    ],
  )


@add("avg_pool", "flax.linen.avg_pool", "reduction", ("f32", "bf16"))
def _avg_pool(key, dtype):
  x = normal(0, (2, 7, 8, 3), dtype)
  x32 = x.astype(jnp.float32)
  return (
    [
      layers.avg_pool(x, window=(2, 2), strides=(2, 2)),
      layers.avg_pool(x, window=(3, 3), strides=(2, 2), padding="SAME", count_include_pad=True),
      layers.avg_pool(x, window=(3, 3), strides=(2, 2), padding="SAME"),
    ],
    [
      fnn.avg_pool(x32, (2, 2), strides=(2, 2)),
      fnn.avg_pool(x32, (3, 3), strides=(2, 2), padding="SAME", count_include_pad=True),
      fnn.avg_pool(x32, (3, 3), strides=(2, 2), padding="SAME", count_include_pad=False),
    ],
  )
