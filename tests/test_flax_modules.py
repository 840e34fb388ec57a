"""Tests of jpatterns.flax.nnx and jpatterns.flax.linen (issue 4 item 6).

References: Flax's own modules (nnx and linen) where they exist, with the same
parameters copied in: BatchNorm (outputs and running statistics over several train
steps, and under a named vmap axis), LayerNorm, GroupNorm, InstanceNorm, RMSNorm,
PReLU, WeightNorm / SpectralNorm around a Dense, Dropout (same key derivation ⇒ the
same masks), MultiHeadAttention and LSTMCell (kernels rearranged). Then: the nnx and
linen twins give the same numbers from the same variables (which also checks that the
variable names agree), eval vs train behaviour (``model.eval()``, ``nnx.view``,
call-time flags), expectations of the random dense layers against their eval form,
and a model mixing several modules trains under jit in both APIs.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from jpatterns import optim
from jpatterns.flax import linen as jlinen
from jpatterns.flax import nnx as jnnx


def _assert_close(a, b, rtol=1e-5, atol=1e-5):
  np.testing.assert_allclose(
    np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol, atol=atol
  )


def _randomize(tree, seed):
  """Adds N(0, 0.3²) noise to every leaf (NumPy: no compiles), so ones/zeros prove nothing."""
  rng = np.random.default_rng(seed)
  return jax.tree.map(
    lambda l: jnp.asarray(
      np.asarray(l) + 0.3 * rng.standard_normal(np.shape(l)), jnp.result_type(l)
    ),
    tree,
  )


def _set_params(module, seed):
  """Randomizes an nnx module's Params in place; returns them as a pure dict."""
  state = nnx.state(module, nnx.Param)
  new = _randomize(state.to_pure_dict(), seed)
  state.replace_by_pure_dict(new)
  nnx.update(module, state)
  return new


def _x(shape, seed=1, offset=0.0):
  return jnp.asarray(offset + np.random.default_rng(seed).standard_normal(shape), jnp.float32)


# ----------------------------------------------------------------------------------------
# Parity with flax's own modules
# ----------------------------------------------------------------------------------------

NNX_FLAX_PAIRS = {
  "LayerNorm": (
    lambda: jnnx.LayerNorm(6),
    lambda: nnx.LayerNorm(6, epsilon=1e-5, use_fast_variance=False, rngs=nnx.Rngs(0)),
    (3, 6),
  ),
  "GroupNorm": (
    lambda: jnnx.GroupNorm(6, num_groups=3),
    lambda: nnx.GroupNorm(6, num_groups=3, epsilon=1e-5, use_fast_variance=False, rngs=nnx.Rngs(0)),
    (2, 4, 6),
  ),
  "InstanceNorm": (
    lambda: jnnx.InstanceNorm(6),
    lambda: nnx.InstanceNorm(6, epsilon=1e-5, use_fast_variance=False, rngs=nnx.Rngs(0)),
    (2, 4, 6),
  ),
  "RMSNorm": (
    lambda: jnnx.RMSNorm(6),
    lambda: nnx.RMSNorm(6, epsilon=1e-6, rngs=nnx.Rngs(0)),
    (3, 6),
  ),
  "PReLU": (lambda: jnnx.PReLU(0.2), lambda: nnx.PReLU(0.2), (3, 6)),
}


@pytest.mark.parametrize("name", sorted(NNX_FLAX_PAIRS))
def test_nnx_matches_flax_nnx(name):
  ours_fn, theirs_fn, shape = NNX_FLAX_PAIRS[name]
  ours, theirs = ours_fn(), theirs_fn()
  params = _set_params(ours, 3)
  state = nnx.state(theirs, nnx.Param)
  state.replace_by_pure_dict(params)  # same names: scale/bias/negative_slope
  nnx.update(theirs, state)
  x = _x(shape, offset=2.0)
  _assert_close(ours(x), theirs(x), rtol=1e-5, atol=2e-5)


LINEN_FLAX_PAIRS = {
  "LayerNorm": (jlinen.LayerNorm(), nn.LayerNorm(epsilon=1e-5, use_fast_variance=False), (3, 6)),
  "GroupNorm": (
    jlinen.GroupNorm(num_groups=3),
    nn.GroupNorm(num_groups=3, epsilon=1e-5, use_fast_variance=False),
    (2, 4, 6),
  ),
  "InstanceNorm": (
    jlinen.InstanceNorm(),
    nn.InstanceNorm(epsilon=1e-5, use_fast_variance=False),
    (2, 4, 6),
  ),
  "RMSNorm": (jlinen.RMSNorm(), nn.RMSNorm(epsilon=1e-6), (3, 6)),
  "PReLU": (jlinen.PReLU(0.2), nn.PReLU(negative_slope_init=0.2), (3, 6)),
}


@pytest.mark.parametrize("name", sorted(LINEN_FLAX_PAIRS))
def test_linen_matches_flax_linen(name):
  ours, theirs, shape = LINEN_FLAX_PAIRS[name]
  x = _x(shape, offset=2.0)
  variables = _randomize(theirs.init(jax.random.key(0), x), 4)
  _assert_close(ours.apply(variables, x), theirs.apply(variables, x), rtol=1e-5, atol=2e-5)


def test_eps_is_flax_epsilon():
  # The modules spell it `eps` (one spelling across jpatterns); Flax's is `epsilon`.
  x = _x((3, 6), offset=2.0) * 1e-2
  theirs = nnx.LayerNorm(6, epsilon=1e-2, use_fast_variance=False, rngs=nnx.Rngs(0))
  _assert_close(jnnx.LayerNorm(6, eps=1e-2)(x), theirs(x))
  y, _ = jlinen.LayerNorm(eps=1e-2).init_with_output(jax.random.key(0), x)
  _assert_close(y, theirs(x))
  assert jnnx.RMSNorm(6).eps == jlinen.RMSNorm().eps == 1e-6


def test_batch_norm_nnx_matches_flax_over_train_steps():
  ours = jnnx.BatchNorm(5, momentum=0.9)
  theirs = nnx.BatchNorm(5, momentum=0.9, use_fast_variance=False, rngs=nnx.Rngs(0))
  params = _set_params(ours, 5)
  state = nnx.state(theirs, nnx.Param)
  state.replace_by_pure_dict(params)
  nnx.update(theirs, state)
  for step in range(3):
    x = _x((16, 5), seed=step, offset=3.0)
    _assert_close(ours(x), theirs(x), atol=2e-5)
  _assert_close(ours.mean[...], theirs.mean[...], atol=1e-6)
  _assert_close(ours.var[...], theirs.var[...], atol=1e-6)
  ours.eval()
  theirs.eval()
  x = _x((4, 5), seed=9)
  _assert_close(ours(x), theirs(x), atol=2e-5)


def test_batch_norm_linen_matches_flax_over_train_steps():
  ours = jlinen.BatchNorm(use_running_average=False, momentum=0.9)
  theirs = nn.BatchNorm(use_running_average=False, momentum=0.9, use_fast_variance=False)
  x0 = _x((16, 2, 5), offset=3.0)
  v_theirs = theirs.init(jax.random.key(0), x0)
  v_theirs = {"params": _randomize(v_theirs["params"], 6), "batch_stats": v_theirs["batch_stats"]}
  v_ours = ours.init(jax.random.key(0), x0)
  assert jax.tree.structure(v_ours) == jax.tree.structure(v_theirs)
  _assert_close(v_ours["batch_stats"]["mean"], 0.0)  # no update during init (as flax)
  v_ours = v_theirs
  for step in range(3):
    x = _x((16, 2, 5), seed=step, offset=3.0)
    y1, up1 = ours.apply(v_ours, x, mutable=["batch_stats"])
    y2, up2 = theirs.apply(v_theirs, x, mutable=["batch_stats"])
    _assert_close(y1, y2, atol=2e-5)
    v_ours = {**v_ours, **up1}
    v_theirs = {**v_theirs, **up2}
  for k in ("mean", "var"):
    _assert_close(v_ours["batch_stats"][k], v_theirs["batch_stats"][k], atol=1e-6)
  x = _x((4, 2, 5), seed=9)
  _assert_close(
    jlinen.BatchNorm(use_running_average=True).apply(v_ours, x),
    nn.BatchNorm(use_running_average=True).apply(v_theirs, x),
    atol=2e-5,
  )


def test_batch_norm_feature_axis_out_of_range_raises_not_wraps():
  # feature_axis=2 on a 2-D input used to be taken modulo ndim (axis 0): a silent wrong result.
  x = _x((6, 3), offset=1.0)
  for feature_axis in (2, -3):
    msg = rf"feature_axis={feature_axis}.*\[-2, 1\]"
    with pytest.raises(ValueError, match=msg):
      jnnx.BatchNorm(3, feature_axis=feature_axis)(x)
    with pytest.raises(ValueError, match=msg):
      jlinen.BatchNorm(use_running_average=False, feature_axis=feature_axis).init(
        jax.random.key(0), x
      )
  # In range, a non-default axis reduces every other axis (NumPy reference).
  xt = np.asarray(x).T  # features on axis 0
  want = (xt - xt.mean(1, keepdims=True)) / np.sqrt(xt.var(1, keepdims=True) + 1e-5)
  _assert_close(jnnx.BatchNorm(3, feature_axis=-2)(x.T), want, atol=2e-5)
  y, _ = jlinen.BatchNorm(use_running_average=False, feature_axis=0).init_with_output(
    jax.random.key(0), x.T
  )
  _assert_close(y, want, atol=2e-5)
  # The other modules' axes are range-checked the same way (no modulo).
  with pytest.raises(ValueError, match=r"channel_axis=2"):
    jnnx.GroupNorm(3, num_groups=1, channel_axis=2)(x)
  with pytest.raises(ValueError, match=r"channel_axis=-3"):
    jlinen.InstanceNorm(channel_axis=-3).init(jax.random.key(0), x)
  with pytest.raises(ValueError, match=r"axis=2"):
    jnnx.LayerNorm(3, axis=2)(x)


def test_batch_norm_axis_name_matches_flax_under_named_vmap():
  ours = jlinen.BatchNorm(use_running_average=False, axis_name="devices")
  theirs = nn.BatchNorm(use_running_average=False, axis_name="devices", use_fast_variance=False)
  x = _x((4, 8, 3), offset=1.0)  # 4 "devices" × 8 examples
  variables = theirs.init(jax.random.key(0), x[0])
  variables = {
    "params": _randomize(variables["params"], 7),
    "batch_stats": variables["batch_stats"],
  }

  def run(module):
    return jax.vmap(
      lambda xi: module.apply(variables, xi, mutable=["batch_stats"]), axis_name="devices"
    )(x)

  (y1, s1), (y2, s2) = run(ours), run(theirs)
  _assert_close(y1, y2, atol=2e-5)
  _assert_close(s1["batch_stats"]["mean"], s2["batch_stats"]["mean"], atol=1e-6)
  _assert_close(s1["batch_stats"]["var"], s2["batch_stats"]["var"], atol=1e-6)
  # Global statistics: every device normalizes with the full-batch moments.
  flat = np.asarray(x).reshape(-1, 3)
  want = (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 1e-5)
  scale, bias = (np.asarray(variables["params"][k]) for k in ("scale", "bias"))
  _assert_close(np.asarray(y1).reshape(-1, 3), want * scale + bias, atol=2e-5)
  # The nnx module, split/merged inside the same named vmap, agrees.
  bn = jnnx.BatchNorm(3, axis_name="devices")
  state = nnx.state(bn, nnx.Param)
  state.replace_by_pure_dict(variables["params"])
  nnx.update(bn, state)
  graphdef, full = nnx.split(bn)

  def member(state, xi):
    m = nnx.merge(graphdef, state)
    return m(xi), nnx.state(m, nnx.BatchStat).to_pure_dict()

  y3, s3 = jax.vmap(member, in_axes=(None, 0), axis_name="devices")(full, x)
  _assert_close(y3, y1, atol=1e-6)
  _assert_close(s3["mean"], s1["batch_stats"]["mean"], atol=1e-7)
  _assert_close(s3["var"], s1["batch_stats"]["var"], atol=1e-7)


def test_weight_norm_dense_matches_flax_weight_norm():
  x = _x((3, 4))
  theirs = nn.WeightNorm(nn.Dense(5))
  tv = _randomize(theirs.init(jax.random.key(0), x), 8)
  p = tv["params"]
  ours = {
    "params": {
      "kernel": p["layer_instance"]["kernel"],
      "bias": p["layer_instance"]["bias"],
      "scale": p["layer_instance/kernel/scale"],
    }
  }
  _assert_close(jlinen.WeightNormDense(5).apply(ours, x), theirs.apply(tv, x), atol=2e-5)
  layer = jnnx.WeightNormDense(4, 5, rngs=nnx.Rngs(0))
  state = nnx.state(layer, nnx.Param)
  state.replace_by_pure_dict(ours["params"])
  nnx.update(layer, state)
  _assert_close(layer(x), theirs.apply(tv, x), atol=2e-5)


def test_spectral_norm_dense_matches_flax_spectral_norm():
  x = _x((3, 4))
  theirs = nn.SpectralNorm(nn.Dense(5), n_steps=2)
  tv = theirs.init(jax.random.key(0), x, update_stats=False)
  tv = {"params": _randomize(tv["params"], 9), "batch_stats": tv["batch_stats"]}
  u0 = tv["batch_stats"]["layer_instance/kernel/u"]
  ours_v = {"params": dict(tv["params"]["layer_instance"]), "batch_stats": {"u": u0}}
  y2, s2 = theirs.apply(tv, x, update_stats=True, mutable=["batch_stats"])
  y1, s1 = jlinen.SpectralNormDense(5, n_steps=2).apply(
    ours_v, x, update_stats=True, mutable=["batch_stats"]
  )
  _assert_close(y1, y2, atol=2e-5)
  _assert_close(s1["batch_stats"]["u"], s2["batch_stats"]["layer_instance/kernel/u"], atol=1e-5)


def test_dropout_nnx_same_masks_as_flax_nnx():
  for rngs_args in ({"dropout": 3}, {"default": 5}):
    ours = jnnx.Dropout(0.4, rngs=nnx.Rngs(**rngs_args))
    theirs = nnx.Dropout(0.4, rngs=nnx.Rngs(**rngs_args))
    x = jnp.ones((6, 7))
    for _ in range(3):  # the streams advance identically
      np.testing.assert_array_equal(ours(x), theirs(x))
  key = jax.random.key(2)
  ours = jnnx.Dropout(0.5, broadcast_dims=(0,))
  theirs = nnx.Dropout(0.5, broadcast_dims=(0,))
  np.testing.assert_array_equal(ours(x, rngs=key), theirs(x, rngs=key))


def test_dropout_linen_same_masks_as_flax_linen():
  x = jnp.ones((6, 7))
  for dims in ((), (1,)):
    rngs = {"dropout": jax.random.key(11)}
    y1 = jlinen.Dropout(0.3, broadcast_dims=dims).apply({}, x, False, rngs=rngs)
    y2 = nn.Dropout(0.3, broadcast_dims=dims).apply({}, x, False, rngs=rngs)
    np.testing.assert_array_equal(y1, y2)


def test_multi_head_attention_matches_flax_nnx():
  d, h = 8, 2
  theirs = nnx.MultiHeadAttention(
    num_heads=h, in_features=d, qkv_features=d, out_features=d, decode=False, rngs=nnx.Rngs(0)
  )
  p = _randomize(nnx.state(theirs, nnx.Param).to_pure_dict(), 12)
  state = nnx.state(theirs, nnx.Param)
  state.replace_by_pure_dict(p)
  nnx.update(theirs, state)
  ours = jnnx.MultiHeadAttention(d, num_heads=h, rngs=nnx.Rngs(0))
  mine = {"wo": p["out"]["kernel"].reshape(d, d), "bo": p["out"]["bias"]}
  for ours_name, flax_name in (("q", "query"), ("k", "key"), ("v", "value")):
    mine["w" + ours_name] = p[flax_name]["kernel"].reshape(d, d)
    mine["b" + ours_name] = p[flax_name]["bias"].reshape(d)
  state = nnx.state(ours, nnx.Param)
  state.replace_by_pure_dict(mine)
  nnx.update(ours, state)
  q, kv = _x((2, 5, d)), _x((2, 7, d), seed=2)
  mask = jax.random.bernoulli(jax.random.key(3), 0.7, (2, 1, 5, 7))
  _assert_close(ours(q, kv, mask=mask), theirs(q, kv, mask=mask), atol=2e-5)


def test_lstm_cell_matches_flax_nnx():
  n_in, hid = 3, 4
  theirs = nnx.LSTMCell(n_in, hid, rngs=nnx.Rngs(0))
  p = _randomize(nnx.state(theirs, nnx.Param).to_pure_dict(), 13)
  state = nnx.state(theirs, nnx.Param)
  state.replace_by_pure_dict(p)
  nnx.update(theirs, state)
  gates_i, gates_h = ("ii", "if_", "ig", "io"), ("hi", "hf", "hg", "ho")
  mine = {
    "w_i": jnp.concatenate([p[g]["kernel"] for g in gates_i], axis=1),
    "w_h": jnp.concatenate([p[g]["kernel"] for g in gates_h], axis=1),
    "b": jnp.concatenate([p[g]["bias"] for g in gates_h]),
  }
  ours = jnnx.LSTMCell(n_in, hid, rngs=nnx.Rngs(0))
  state = nnx.state(ours, nnx.Param)
  state.replace_by_pure_dict(mine)
  nnx.update(ours, state)
  carry = (_x((2, hid), seed=4), _x((2, hid), seed=5))
  x = _x((2, n_in), seed=6)
  (c1, h1), o1 = ours(carry, x)
  (c2, h2), o2 = theirs(carry, x)
  for a, b in ((c1, c2), (h1, h2), (o1, o2)):
    _assert_close(a, b, atol=2e-5)


# ----------------------------------------------------------------------------------------
# nnx and linen twins: same variables -> same numbers
# ----------------------------------------------------------------------------------------


def _r():
  return nnx.Rngs(0)  # parameter seeds; the values are overwritten by _set_params


# name: (factory of (nnx module, linen module), input shape, random?). Factories: a test
# builds only its own modules.
REGISTRY = {
  "BatchNorm": (
    lambda: (jnnx.BatchNorm(4), jlinen.BatchNorm(use_running_average=False)),
    (8, 4),
    False,
  ),
  "LayerNorm": (lambda: (jnnx.LayerNorm(4), jlinen.LayerNorm()), (3, 4), False),
  "GroupNorm": (
    lambda: (jnnx.GroupNorm(4, num_groups=2), jlinen.GroupNorm(num_groups=2)),
    (2, 3, 4),
    False,
  ),
  "InstanceNorm": (lambda: (jnnx.InstanceNorm(4), jlinen.InstanceNorm()), (2, 3, 4), False),
  "RMSNorm": (lambda: (jnnx.RMSNorm(4), jlinen.RMSNorm()), (3, 4), False),
  "LocalResponseNorm": (
    lambda: (jnnx.LocalResponseNorm(size=3), jlinen.LocalResponseNorm(size=3)),
    (3, 4),
    False,
  ),
  "WeightNormDense": (
    lambda: (jnnx.WeightNormDense(4, 3, rngs=_r()), jlinen.WeightNormDense(3)),
    (3, 4),
    False,
  ),
  "SpectralNormDense": (
    lambda: (
      jnnx.SpectralNormDense(4, 3, rngs=_r()),
      jlinen.SpectralNormDense(3, update_stats=True),
    ),
    (3, 4),
    False,
  ),
  "Dropout": (lambda: (jnnx.Dropout(0.3), jlinen.Dropout(0.3)), (3, 4), True),
  "GaussianDropout": (
    lambda: (jnnx.GaussianDropout(0.3), jlinen.GaussianDropout(0.3)),
    (3, 4),
    True,
  ),
  "AlphaDropout": (lambda: (jnnx.AlphaDropout(0.3), jlinen.AlphaDropout(0.3)), (3, 4), True),
  "SpatialDropout": (
    lambda: (jnnx.SpatialDropout(0.5), jlinen.SpatialDropout(0.5)),
    (2, 3, 3, 4),
    True,
  ),
  "DropPath": (lambda: (jnnx.DropPath(0.5), jlinen.DropPath(0.5)), (6, 4), True),
  "DropConnectDense": (
    lambda: (
      jnnx.DropConnectDense(4, 3, rate=0.3, rngs=_r()),
      jlinen.DropConnectDense(3, rate=0.3),
    ),
    (3, 4),
    True,
  ),
  "Standout": (lambda: (jnnx.Standout(4, 3, rngs=_r()), jlinen.Standout(3)), (3, 4), True),
  "PReLU": (lambda: (jnnx.PReLU(num_channels=4), jlinen.PReLU(per_channel=True)), (3, 4), False),
  "RReLU": (lambda: (jnnx.RReLU(), jlinen.RReLU()), (3, 4), True),
  "Residual": (
    lambda: (
      jnnx.Residual(nnx.Linear(4, 3, rngs=_r()), in_features=4, out_features=3, rngs=_r()),
      jlinen.Residual(nn.Dense(3), features=3),
    ),
    (3, 4),
    False,
  ),
  "MultiHeadAttention": (
    lambda: (
      jnnx.MultiHeadAttention(4, num_heads=2, causal=True, rngs=_r()),
      jlinen.MultiHeadAttention(num_heads=2, causal=True),
    ),
    (2, 3, 4),
    False,
  ),
}


REGISTRY_NAMES = sorted(REGISTRY)


@pytest.mark.parametrize("name", REGISTRY_NAMES)
def test_nnx_and_linen_give_the_same_numbers(name):
  factory, shape, random = REGISTRY[name]
  ours_nnx, ours_linen = factory()
  x = _x(shape, offset=0.5)
  params = _set_params(ours_nnx, 21)
  stats = nnx.state(ours_nnx, nnx.BatchStat).to_pure_dict()
  init_kw = {"deterministic": True} if random else {}
  v_linen = ours_linen.init(
    {"params": jax.random.key(0), "dropout": jax.random.key(0)}, x, **init_kw
  )
  variables = {
    **({"params": params} if params else {}),
    **({"batch_stats": stats} if stats else {}),
  }
  assert jax.tree.structure(dict(v_linen)) == jax.tree.structure(variables), name
  modes = [{"deterministic": False}, {"deterministic": True}] if random else [{}]
  key = jax.random.key(7)
  for mode in modes:
    kw_nnx = dict(mode, rngs=key) if random else {}
    kw_linen = dict(mode, rng=key) if random else {}
    y_nnx = ours_nnx(x, **kw_nnx)
    y_linen, updates = ours_linen.apply(variables, x, mutable=["batch_stats"], **kw_linen)
    _assert_close(y_nnx, y_linen, atol=1e-5)
    if stats:
      new = nnx.state(ours_nnx, nnx.BatchStat).to_pure_dict()
      assert not np.allclose(jax.tree.leaves(new)[0], jax.tree.leaves(stats)[0])
      for k in new:
        _assert_close(new[k], updates["batch_stats"][k], atol=1e-6)


def test_lstm_cell_nnx_and_linen_give_the_same_numbers():
  cell = jnnx.LSTMCell(3, 4, rngs=nnx.Rngs(0))
  params = _set_params(cell, 22)
  xs = _x((5, 2, 3))
  carry = cell.initialize_carry((2, 3))
  _, ys_nnx = jax.lax.scan(lambda c, x: cell(c, x), carry, xs)
  linen_cell = jlinen.LSTMCell(4)
  carry = linen_cell.initialize_carry(None, (2, 3))
  _, ys_linen = jax.lax.scan(lambda c, x: linen_cell.apply({"params": params}, c, x), carry, xs)
  _assert_close(ys_nnx, ys_linen, atol=1e-5)
  # flax.linen.RNN drives the linen cell over the time axis the same way.
  seq = jnp.swapaxes(xs, 0, 1)
  _assert_close(
    nn.RNN(linen_cell).apply({"params": {"cell": params}}, seq),
    jnp.swapaxes(ys_nnx, 0, 1),
    atol=1e-5,
  )


def test_dtype_kept_bfloat16():
  x = _x((4, 2, 4)).astype(jnp.bfloat16)
  for module in (jnnx.BatchNorm(4), jnnx.Dropout(0.5, rngs=nnx.Rngs(0))):
    assert module(x).dtype == jnp.bfloat16, type(module).__name__


# ----------------------------------------------------------------------------------------
# Eval vs train
# ----------------------------------------------------------------------------------------


class _Block(nnx.Module):
  def __init__(self, rngs):
    self.bn = jnnx.BatchNorm(4)
    self.drop = jnnx.Dropout(0.5, rngs=rngs)
    self.sn = jnnx.SpectralNormDense(4, 4, n_steps=30, rngs=rngs)
    self.rrelu = jnnx.RReLU(rngs=rngs)

  def __call__(self, x):
    return self.rrelu(self.drop(self.sn(self.bn(x))))


def test_nnx_train_eval_flags():
  block = _Block(nnx.Rngs(0))
  x = _x((8, 4), offset=2.0)
  block(x)  # train: stats and u move
  mean, u = block.bn.mean[...], block.sn.u[...]
  assert float(jnp.abs(mean).max()) > 0
  block.eval()
  assert block.drop.deterministic and block.bn.use_running_average
  assert block.rrelu.deterministic and block.sn.use_running_average
  y1, y2 = block(x), block(x)
  np.testing.assert_array_equal(y1, y2)  # deterministic
  np.testing.assert_array_equal(block.bn.mean[...], mean)  # frozen
  np.testing.assert_array_equal(block.sn.u[...], u)
  # Eval output = the pure functions with running statistics, by hand in NumPy.
  xn = np.asarray(x)
  h = (xn - np.asarray(mean)) / np.sqrt(np.asarray(block.bn.var[...]) + 1e-5)
  h = h * np.asarray(block.bn.scale[...]) + np.asarray(block.bn.bias[...])
  w = np.asarray(block.sn.kernel[...])
  h = h @ (w / np.linalg.svd(w, compute_uv=False)[0]) + np.asarray(block.sn.bias[...])
  slope = (1 / 8 + 1 / 3) / 2
  want = np.where(h >= 0, h, slope * h)
  _assert_close(y1, want, atol=1e-4)
  block.train()
  assert not block.drop.deterministic and not block.bn.use_running_average
  assert not np.array_equal(block(x), block(x))  # fresh masks each call
  # nnx.view and call-time flags win over the attribute.
  view = nnx.view(block, deterministic=True, use_running_average=True)
  np.testing.assert_array_equal(view(x), view(x))
  np.testing.assert_array_equal(block.drop(x, deterministic=True), x)


def test_flags_required_and_keys_required():
  with pytest.raises(ValueError, match="rngs"):
    jnnx.Dropout(0.5)(jnp.ones(3))
  with pytest.raises(ValueError, match="deterministic"):
    jnnx.Dropout(0.5, deterministic=None)(jnp.ones(3))
  with pytest.raises(ValueError, match="deterministic"):
    jlinen.Dropout(0.5).apply({}, jnp.ones(3))  # flax's merge_param: neither given


def test_linen_spectral_norm_eval_keeps_u():
  layer = jlinen.SpectralNormDense(3)
  x = _x((2, 4))
  v = layer.init(jax.random.key(0), x, update_stats=True)
  _, up = layer.apply(v, x, update_stats=False, mutable=["batch_stats"])
  np.testing.assert_array_equal(up["batch_stats"]["u"], v["batch_stats"]["u"])
  _, up = layer.apply(v, x, update_stats=True, mutable=["batch_stats"])
  assert not np.allclose(up["batch_stats"]["u"], v["batch_stats"]["u"])


@pytest.mark.parametrize("name", ["DropConnectDense", "Standout"])
def test_random_dense_eval_is_train_expectation(name):
  rngs = nnx.Rngs(0)
  layer = (
    jnnx.DropConnectDense(3, 2, rate=0.4, rngs=rngs)
    if name == "DropConnectDense"
    else jnnx.Standout(3, 2, rngs=rngs)
  )
  _set_params(layer, 30)
  x = _x((2, 3))
  graphdef, state = nnx.split(layer)

  def sample(key):
    return nnx.merge(graphdef, state)(x, deterministic=False, rngs=key)

  samples = jax.vmap(sample)(jax.random.split(jax.random.key(1), 2000))
  mean, sem = samples.mean(0), samples.std(0) / np.sqrt(2000)
  np.testing.assert_array_less(np.abs(mean - layer(x, deterministic=True)), 5 * sem + 1e-6)


# ----------------------------------------------------------------------------------------
# A mixed model trains under jit (both APIs)
# ----------------------------------------------------------------------------------------


def _task():
  k1, k2 = jax.random.split(jax.random.key(42))
  x = jax.random.normal(k1, (128, 6))
  w = jax.random.normal(k2, (6, 1))
  return x, jnp.tanh(x @ w) + 0.5 * x[:, :1] ** 2


class _NnxNet(nnx.Module):
  def __init__(self, rngs):
    self.dense1 = nnx.Linear(6, 32, rngs=rngs)
    self.bn = jnnx.BatchNorm(32)
    self.act = jnnx.PReLU(num_channels=32)
    self.res = jnnx.Residual(jnnx.WeightNormDense(32, 32, rngs=rngs))
    self.drop = jnnx.Dropout(0.1, rngs=rngs)
    self.ln = jnnx.LayerNorm(32)
    self.dense2 = nnx.Linear(32, 1, rngs=rngs)

  def __call__(self, x):
    h = self.act(self.bn(self.dense1(x)))
    return self.dense2(self.ln(self.drop(self.res(h))))


class _LinenNet(nn.Module):
  @nn.compact
  def __call__(self, x, train: bool):
    h = nn.Dense(32)(x)
    h = jlinen.BatchNorm(use_running_average=not train)(h)
    h = jlinen.PReLU(per_channel=True)(h)
    h = jlinen.Residual(jlinen.WeightNormDense(32))(h)
    h = jlinen.Dropout(0.1, deterministic=not train)(h)
    return nn.Dense(1)(jlinen.LayerNorm()(h))


def test_mixed_nnx_model_trains_under_jit():
  x, y = _task()
  model = _NnxNet(nnx.Rngs(0))
  opt = nnx.Optimizer(model, optim.adam(1e-2), wrt=nnx.Param)

  @nnx.jit
  def step(model, opt, x, y):
    def loss_fn(model):
      return jnp.mean((model(x) - y) ** 2)

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    opt.update(model, grads)
    return loss

  eval_loss = nnx.jit(
    lambda model: jnp.mean(
      (nnx.view(model, deterministic=True, use_running_average=True)(x) - y) ** 2
    )
  )
  before = float(eval_loss(model))
  for _ in range(50):
    step(model, opt, x, y)
  after = float(eval_loss(model))
  assert after < 0.3 * before, (before, after)
  assert float(jnp.abs(model.bn.mean[...]).max()) > 0  # running stats were updated


def test_mixed_linen_model_trains_under_jit():
  x, y = _task()
  net = _LinenNet()
  variables = net.init(jax.random.key(0), x, train=False)
  params, stats = variables["params"], variables["batch_stats"]
  tx = optim.adam(1e-2)
  opt_state = tx.init(params)

  @jax.jit
  def step(params, stats, opt_state, key):
    def loss_fn(params):
      pred, updates = net.apply(
        {"params": params, "batch_stats": stats},
        x,
        train=True,
        mutable=["batch_stats"],
        rngs={"dropout": key},
      )
      return jnp.mean((pred - y) ** 2), updates["batch_stats"]

    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return jax.tree.map(jnp.add, params, updates), stats, opt_state, loss

  @jax.jit
  def eval_loss(params, stats):
    pred = net.apply({"params": params, "batch_stats": stats}, x, train=False)
    return jnp.mean((pred - y) ** 2)

  before = float(eval_loss(params, stats))
  for key in jax.random.split(jax.random.key(1), 50):
    params, stats, opt_state, _ = step(params, stats, opt_state, key)
  after = float(eval_loss(params, stats))
  assert after < 0.3 * before, (before, after)
