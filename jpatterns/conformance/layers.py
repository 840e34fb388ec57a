"""Layers against flax.linen (pooling, attention, LSTM cell), jax.nn.dot_product_attention
and torch (attention, LSTM cell)."""

from __future__ import annotations

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np

from jpatterns import layers
from jpatterns.conformance import add
from jpatterns.conformance._inputs import f32, normal, on_torch


@add(
  "multi_head_attention",
  "jax.nn.dot_product_attention (causal; also as an explicit mask) + projections",
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
  tri = jnp.tril(jnp.ones((5, 5), bool))
  ours = [
    layers.multi_head_attention(p, x, num_heads=heads, causal=True),
    layers.multi_head_attention(p, x, num_heads=heads, mask=tri),
  ]
  x32, p = x.astype(jnp.float32), f32(p)
  q, k, v = (
    (x32 @ p[w] + p[b]).reshape(3, 5, heads, dim // heads)
    for w, b in (("wq", "bq"), ("wk", "bk"), ("wv", "bv"))
  )
  att = jax.nn.dot_product_attention(q, k, v, is_causal=True)
  want = att.reshape(3, 5, dim) @ p["wo"] + p["bo"]
  return ours, [want, want]


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


def _mha_params(dim, kv_dim, seed=0):
  """Random weights and nonzero biases (init's zero biases would hide bias bugs)."""
  shapes = {"wq": (dim, dim), "wk": (kv_dim, dim), "wv": (kv_dim, dim), "wo": (dim, dim)}
  p = {n: normal(seed + i, s, scale=dim**-0.5) for i, (n, s) in enumerate(shapes.items())}
  for i, name in enumerate(("bq", "bk", "bv", "bo")):
    p[name] = normal(seed + 10 + i, (dim,), scale=0.3)
  return p


def _flax_mha_params(p, heads):
  hd = p["wq"].shape[1] // heads

  def proj(w, b):
    return {"kernel": w.reshape(w.shape[0], heads, hd), "bias": b.reshape(heads, hd)}

  return {
    "params": {
      "query": proj(p["wq"], p["bq"]),
      "key": proj(p["wk"], p["bk"]),
      "value": proj(p["wv"], p["bv"]),
      "out": {"kernel": p["wo"].reshape(heads, hd, -1), "bias": p["bo"]},
    }
  }


@add(
  "multi_head_attention",
  "flax.linen.MultiHeadDotProductAttention (cross-attention with a mask, 1 and 4 heads; "
  "self-attention)",
  "reduction",
)
def _mha_flax(key, dtype):
  ours, theirs = [], []
  q, kv = normal(20, (2, 4, 8)), normal(21, (2, 6, 6))
  # (B, 1, T, S) random mask with the diagonal kept so that no row is empty.
  mask = np.random.default_rng(22).uniform(size=(2, 1, 4, 6)) < 0.6
  mask[..., np.arange(4), np.arange(4)] = True
  mask = jnp.asarray(mask)
  for heads in (1, 4):
    module = fnn.MultiHeadDotProductAttention(
      num_heads=heads, qkv_features=8, out_features=8, deterministic=True
    )
    p = _mha_params(8, 6)
    ours.append(layers.multi_head_attention(p, q, key_value=kv, num_heads=heads, mask=mask))
    theirs.append(module.apply(_flax_mha_params(p, heads), q, kv, kv, mask=mask))
    p = _mha_params(8, 8, seed=30)  # self-attention: key_value defaults to query, no mask
    ours.append(layers.multi_head_attention(p, q, num_heads=heads))
    theirs.append(module.apply(_flax_mha_params(p, heads), q))
  return ours, theirs


@add(
  "multi_head_attention",
  "torch.nn.MultiheadAttention, causal and key-padding masks",
  "torch",
  torch=True,
)
def _mha_torch(key, dtype):
  heads, dim, b, t = 4, 8, 2, 5
  p = _mha_params(dim, dim)
  x = normal(20, (b, t, dim))
  padding = np.zeros((b, t), bool)
  padding[1, -2:] = True  # torch key_padding_mask: True = ignore this key
  causal = np.tril(np.ones((t, t), bool))

  def ref(p, x):
    import torch  # noqa: PLC0415

    m = torch.nn.MultiheadAttention(dim, heads, batch_first=True)
    with torch.no_grad():
      m.in_proj_weight.copy_(torch.tensor(np.concatenate([p["wq"], p["wk"], p["wv"]], 1).T))
      m.in_proj_bias.copy_(torch.tensor(np.concatenate([p["bq"], p["bk"], p["bv"]])))
      m.out_proj.weight.copy_(torch.tensor(p["wo"].T))
      m.out_proj.bias.copy_(torch.tensor(p["bo"]))
      xt = torch.tensor(x)
      out, _ = m(
        xt,
        xt,
        xt,
        attn_mask=torch.tensor(~causal),  # torch: True = blocked
        key_padding_mask=torch.tensor(padding),
        need_weights=False,
      )
    return out.numpy()

  ours_mask = jnp.asarray(causal[None, None] & ~padding[:, None, None, :])  # True = attend
  got = layers.multi_head_attention(p, x, num_heads=heads, mask=ours_mask)
  return got, on_torch(ref, p, x, like=got)


def _lstm_inputs():
  p = {"w_i": normal(40, (3, 16), scale=0.5), "w_h": normal(41, (4, 16), scale=0.5)}
  p["b"] = normal(42, (16,), scale=0.3)
  c, h, x = normal(43, (2, 4)), normal(44, (2, 4)), normal(45, (2, 3))
  return p, c, h, x


@add("lstm_cell", "flax.linen.LSTMCell (mapped weights)", "reduction")
def _lstm_flax(key, dtype):
  p, c, h, x = _lstm_inputs()
  hid = 4
  fp = {}
  for k, gate in enumerate("ifgo"):
    cols = slice(k * hid, (k + 1) * hid)
    fp["i" + gate] = {"kernel": p["w_i"][:, cols]}
    fp["h" + gate] = {"kernel": p["w_h"][:, cols], "bias": p["b"][cols]}
  return layers.lstm_cell(p, (c, h), x), fnn.LSTMCell(hid).apply({"params": fp}, (c, h), x)


@add("lstm_cell", "torch.nn.LSTMCell (b split into b_ih + b_hh)", "torch", torch=True)
def _lstm_torch(key, dtype):
  p, c, h, x = _lstm_inputs()
  b_hh = normal(46, (16,))

  def ref(p, c, h, x, b_hh):
    import torch  # noqa: PLC0415

    cell = torch.nn.LSTMCell(3, 4)
    with torch.no_grad():
      cell.weight_ih.copy_(torch.tensor(p["w_i"].T))
      cell.weight_hh.copy_(torch.tensor(p["w_h"].T))
      cell.bias_ih.copy_(torch.tensor(p["b"] - b_hh))
      cell.bias_hh.copy_(torch.tensor(b_hh))
      h_t, c_t = cell(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))  # torch: (h, c)
    return (c_t.numpy(), h_t.numpy()), h_t.numpy()

  got = layers.lstm_cell(p, (c, h), x)  # ours: ((c, h), h)
  return got, on_torch(ref, p, c, h, x, b_hh, like=got)


@add(
  "transformer_block",
  "flax.linen LayerNorm + MultiHeadDotProductAttention + Dense, exact GELU (same weights; "
  "also causal)",
  "reduction",
)
def _transformer_flax(key, dtype):
  dim, heads, hidden = 8, 2, 12
  x = normal(50, (2, 5, dim))
  p = {
    "norm1": {
      "scale": normal(51, (dim,), loc=1.0, scale=0.2),
      "bias": normal(52, (dim,), scale=0.2),
    },
    "attn": _mha_params(dim, dim, seed=53),
    "norm2": {
      "scale": normal(70, (dim,), loc=1.0, scale=0.2),
      "bias": normal(71, (dim,), scale=0.2),
    },
    "mlp": {
      "w1": normal(72, (dim, hidden), scale=dim**-0.5),
      "b1": normal(73, (hidden,), scale=0.3),
      "w2": normal(74, (hidden, dim), scale=hidden**-0.5),
      "b2": normal(75, (dim,), scale=0.3),
    },
  }

  def ref(causal):
    ln = fnn.LayerNorm(epsilon=1e-5)
    mha = fnn.MultiHeadDotProductAttention(num_heads=heads, qkv_features=dim, deterministic=True)
    mask = fnn.make_causal_mask(x[..., 0]) if causal else None
    n1 = ln.apply({"params": p["norm1"]}, x)
    h = x + mha.apply(_flax_mha_params(p["attn"], heads), n1, mask=mask)
    n2 = ln.apply({"params": p["norm2"]}, h)
    u = jax.nn.gelu(
      fnn.Dense(hidden).apply({"params": {"kernel": p["mlp"]["w1"], "bias": p["mlp"]["b1"]}}, n2),
      approximate=False,
    )
    return h + fnn.Dense(dim).apply(
      {"params": {"kernel": p["mlp"]["w2"], "bias": p["mlp"]["b2"]}}, u
    )

  ours = [layers.transformer_block(p, x, num_heads=heads, causal=c) for c in (False, True)]
  return ours, [ref(False), ref(True)]


@add("cbow", "one-hot counts times E (masked mean of the context rows)", "reduction")
def _cbow(key, dtype):
  vocab, dim = 11, 4
  emb = normal(80, (vocab, dim))
  context = jnp.asarray(np.random.default_rng(81).integers(0, vocab, (3, 4)), jnp.int32)
  mask = jnp.asarray([[1, 1, 1, 1], [1, 1, 0, 0], [0, 1, 1, 1]], bool)
  counts = jnp.sum(jax.nn.one_hot(context, vocab) * mask[..., None], axis=1)  # (3, V)
  theirs = counts @ emb / jnp.sum(mask, axis=1, keepdims=True)
  return [layers.cbow(emb, context, mask=mask), layers.cbow(emb, context)], [
    theirs,
    jnp.mean(jax.nn.one_hot(context, vocab), axis=1) @ emb,
  ]
