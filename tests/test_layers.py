"""Tests for jpatterns.layers.

References: flax.linen pooling / MultiHeadDotProductAttention / LSTMCell with the same
weights, jax.nn.dot_product_attention, torch (F.max_pool*d / F.avg_pool*d on NCHW,
nn.MultiheadAttention, nn.LSTMCell, nn.LSTM) with copied weights, and NumPy
transcriptions of the formulas written here (the residual Jacobian ∂f/∂x + I).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.linen as fnn
import helpers
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from jax.test_util import check_grads

from jpatterns import layers as jl

F32 = dict(rtol=1e-5, atol=1e-5)


def _normal(key, shape, dtype=jnp.float32, scale=1.0):
  return (scale * jax.random.normal(key, shape, jnp.float32)).astype(dtype)


def _np(x):
  return np.asarray(x, np.float64)


def _cast(tree, dtype):
  return jax.tree.map(
    lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree
  )


def _mha_params(key, dim=8, kv_dim=None, dtype=jnp.float32):
  """Random weights AND biases (init gives zero biases, which would hide bias bugs)."""
  p = jl.init_multi_head_attention(key, dim, kv_dim=kv_dim)
  keys = jax.random.split(jax.random.fold_in(key, 1), 4)
  for k, name in zip(keys, ("bq", "bk", "bv", "bo")):
    p[name] = _normal(k, p[name].shape, scale=0.3)
  return _cast(p, dtype)


def _lstm_params(key, n_in=3, hidden=4, dtype=jnp.float32):
  p = jl.init_lstm_params(key, n_in, hidden)
  p["b"] = p["b"] + _normal(jax.random.fold_in(key, 1), p["b"].shape, scale=0.3)
  return _cast(p, dtype)


# ---------------------------------------------------------------------------------------
# Case registry: fn(*args) and make(key, dtype) -> args. Generic tests run over all.
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
  fn: Callable
  make: Callable
  smooth: bool = True  # jax.test_util.check_grads applies


def _make_x(shape):
  return lambda key, dtype: (_normal(key, shape, dtype),)


def _make_causal_mask(key):
  # (B, 1, T, S) random mask with the diagonal kept so that no row is empty.
  m = jax.random.bernoulli(key, 0.6, (2, 1, 4, 6))
  return m.at[..., jnp.arange(4), jnp.arange(4)].set(True)


def _lstm_scan(params, c, h, xs):
  return jax.lax.scan(lambda carry, x: jl.lstm_cell(params, carry, x), (c, h), xs)


CASES = {
  "max_pool_2d_valid": Case(
    lambda x: jl.max_pool(x, window=(2, 2)), _make_x((2, 5, 6, 3)), smooth=False
  ),
  "max_pool_1d_same": Case(
    lambda x: jl.max_pool(x, window=3, strides=2, padding="SAME"), _make_x((2, 7, 3)), smooth=False
  ),
  "avg_pool_2d_same": Case(
    lambda x: jl.avg_pool(x, window=3, strides=2, padding="SAME"), _make_x((2, 5, 6, 3))
  ),
  "residual": Case(
    lambda x, w: jl.residual(lambda v: jnp.tanh(v @ w), x),
    lambda key, dtype: (
      _normal(key, (4, 6), dtype),
      _normal(jax.random.fold_in(key, 1), (6, 6), dtype, 0.4),
    ),
  ),
  "residual_projection": Case(
    lambda x, w, ws: jl.residual(lambda v: jnp.tanh(v @ w), x, projection=ws),
    lambda key, dtype: (
      _normal(key, (4, 6), dtype),
      _normal(jax.random.fold_in(key, 1), (6, 8), dtype, 0.4),
      _normal(jax.random.fold_in(key, 2), (6, 8), dtype, 0.4),
    ),
  ),
  "mha_self_causal": Case(
    lambda p, x: jl.multi_head_attention(p, x, num_heads=2, causal=True),
    lambda key, dtype: (
      _mha_params(key, 8, dtype=dtype),
      _normal(jax.random.fold_in(key, 1), (2, 5, 8), dtype),
    ),
  ),
  "mha_cross_mask": Case(
    lambda p, q, kv, m: jl.multi_head_attention(p, q, key_value=kv, num_heads=4, mask=m),
    lambda key, dtype: (
      _mha_params(key, 8, kv_dim=6, dtype=dtype),
      _normal(jax.random.fold_in(key, 1), (2, 4, 8), dtype),
      _normal(jax.random.fold_in(key, 2), (2, 6, 6), dtype),
      _make_causal_mask(jax.random.fold_in(key, 3)),
    ),
  ),
  "lstm_cell": Case(
    lambda p, c, h, x: jl.lstm_cell(p, (c, h), x),
    lambda key, dtype: (
      _lstm_params(key, dtype=dtype),
      _normal(jax.random.fold_in(key, 1), (2, 4), dtype),
      _normal(jax.random.fold_in(key, 2), (2, 4), dtype),
      _normal(jax.random.fold_in(key, 3), (2, 3), dtype),
    ),
  ),
  "lstm_scan": Case(
    _lstm_scan,
    lambda key, dtype: (
      _lstm_params(key, dtype=dtype),
      _normal(jax.random.fold_in(key, 1), (2, 4), dtype),
      _normal(jax.random.fold_in(key, 2), (2, 4), dtype),
      _normal(jax.random.fold_in(key, 3), (5, 2, 3), dtype),
    ),
  ),
}

# Low-precision results vs the float32 result of the same inputs (rounded to dtype).
LOW_TOL = {
  jnp.dtype(jnp.bfloat16): dict(rtol=5e-2, atol=5e-2),
  jnp.dtype(jnp.float16): dict(rtol=5e-3, atol=5e-3),
}


def _float_argnums(args):
  return tuple(
    i
    for i, a in enumerate(args)
    if all(jnp.issubdtype(l.dtype, jnp.floating) for l in jax.tree.leaves(a))
  )


@pytest.mark.parametrize("name", CASES)
def test_jit_matches_eager_without_retrace(name, key):
  case = CASES[name]
  args = case.make(key, jnp.float32)
  traces = []

  def counted(*a):
    traces.append(None)
    return case.fn(*a)

  jitted = jax.jit(counted)
  got = jitted(*args)
  jitted(*case.make(jax.random.fold_in(key, 7), jnp.float32))  # new values, same shapes
  assert len(traces) == 1, f"traced {len(traces)} times"
  helpers.tree_allclose(got, case.fn(*args), **F32)  # eager


@pytest.mark.parametrize("name", CASES)
def test_vmap_matches_loop(name, key):
  case = CASES[name]
  sets = [case.make(k, jnp.float32) for k in jax.random.split(key, 3)]
  batched = jax.tree.map(lambda *a: jnp.stack(a), *sets)
  helpers.assert_vmap_matches_loop(jax.jit(case.fn), *batched, **F32)


@pytest.mark.parametrize("name", CASES)
def test_dtype_kept_and_low_precision_close(name, key):
  case = CASES[name]
  fn = jax.jit(case.fn)
  helpers.assert_dtypes_kept(fn, lambda dtype: case.make(key, dtype))
  args32 = case.make(key, jnp.float32)
  for dtype, tol in LOW_TOL.items():
    args = _cast(args32, dtype)  # the same rounded inputs for both precisions
    helpers.tree_allclose(fn(*args), fn(*_cast(args, jnp.float32)), **tol)


@pytest.mark.parametrize("name", CASES)
def test_grads(name, key):
  """Finite gradients; and equal to central differences where the function is smooth."""
  case = CASES[name]
  args = case.make(key, jnp.float32)
  floats = _float_argnums(args)
  helpers.assert_grad_finite(jax.jit(case.fn), *args, argnums=floats)
  if not case.smooth:
    return

  def f(*float_args):
    full = list(args)
    for i, a in zip(floats, float_args):
      full[i] = a
    return case.fn(*full)

  check_grads(
    jax.jit(f),
    tuple(args[i] for i in floats),
    order=1,
    modes=("rev",),
    atol=2e-2,
    rtol=2e-2,
    eps=1e-2,
  )


# ---------------------------------------------------------------------------------------
# Pooling: flax (explicit strides) and torch (NCHW).
# ---------------------------------------------------------------------------------------

POOL_CONFIGS = [
  # (window, strides, padding, count_include_pad)
  ((2, 2), (2, 2), "VALID", False),
  ((3, 2), (1, 2), "VALID", False),
  ((3, 3), (2, 2), "SAME", False),
  ((2, 3), (1, 1), ((1, 0), (1, 1)), True),
]


@pytest.mark.parametrize("window,strides,padding,include", POOL_CONFIGS)
def test_pool_matches_flax(window, strides, padding, include, key):
  x = _normal(key, (2, 7, 8, 3))
  got = jl.max_pool(x, window=window, strides=strides, padding=padding)
  want = fnn.max_pool(x, window, strides=strides, padding=padding)
  np.testing.assert_allclose(_np(got), _np(want), **F32)
  got = jl.avg_pool(x, window=window, strides=strides, padding=padding, count_include_pad=include)
  want = fnn.avg_pool(x, window, strides=strides, padding=padding, count_include_pad=include)
  np.testing.assert_allclose(_np(got), _np(want), **F32)


def _torch_nchw(fn, x, **kw):
  """Applies a torch NC... pooling to a channels-last array; returns channels-last."""
  xt = torch.from_numpy(np.moveaxis(np.asarray(x), -1, 1).copy())
  return np.moveaxis(fn(xt, **kw).numpy(), 1, -1)


TORCH_CONFIGS = [
  # (spatial, window, strides, padding, torch padding); strides None = default.
  ((7, 8), 2, None, "VALID", 0),
  ((7, 9), (3, 2), None, "VALID", 0),
  ((6, 7), 3, 1, "SAME", 1),  # odd window, stride 1: symmetric SAME
  ((7, 8), 3, 2, ((1, 1), (1, 1)), 1),
  ((9,), 4, None, "VALID", 0),  # 1-D
  ((4, 5, 6), 2, None, "VALID", 0),  # 3-D
]


@pytest.mark.parametrize("spatial,window,strides,padding,tpad", TORCH_CONFIGS)
def test_pool_matches_torch(spatial, window, strides, padding, tpad, key):
  nd = len(spatial)
  x = _normal(key, (2, *spatial, 3))
  maxf = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[nd]
  avgf = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[nd]
  kw = dict(kernel_size=window, padding=tpad)
  if strides is not None:
    kw["stride"] = strides  # torch's default stride is the window, like ours
  got = jl.max_pool(x, window=window, strides=strides, padding=padding)
  np.testing.assert_allclose(_np(got), _torch_nchw(maxf, x, **kw), **F32)
  for include in (False, True):
    got = jl.avg_pool(x, window=window, strides=strides, padding=padding, count_include_pad=include)
    want = _torch_nchw(avgf, x, count_include_pad=include, **kw)
    np.testing.assert_allclose(_np(got), want, **F32)


def test_pool_defaults_differ_from_flax(key):
  """Default strides = window (torch/Keras), not flax's 1."""
  x = _normal(key, (1, 6, 6, 2))
  got = jl.max_pool(x, window=(2, 2))
  assert got.shape == (1, 3, 3, 2)
  np.testing.assert_allclose(_np(got), _np(fnn.max_pool(x, (2, 2), strides=(2, 2))), **F32)
  assert fnn.max_pool(x, (2, 2)).shape == (1, 5, 5, 2)  # flax: strides 1
  # avg_pool's SAME default divides by the valid count (= torch count_include_pad=False).
  y = jl.avg_pool(jnp.ones((1, 5, 5, 1)), window=3, strides=1, padding="SAME")
  np.testing.assert_allclose(_np(y), 1.0, rtol=0, atol=1e-6)


def test_max_pool_grad_matches_torch(key):
  x = _normal(key, (2, 6, 7, 3))
  g = jax.grad(lambda v: jnp.sum(jl.max_pool(v, window=3, strides=2) ** 2))(x)
  xt = torch.from_numpy(np.moveaxis(np.asarray(x), -1, 1).copy()).requires_grad_()
  (F.max_pool2d(xt, 3, 2) ** 2).sum().backward()
  np.testing.assert_allclose(_np(g), np.moveaxis(xt.grad.numpy(), 1, -1), **F32)


def test_max_pool_numpy_transcription():
  rng = np.random.default_rng(0)
  x = rng.standard_normal((2, 7, 5, 3)).astype(np.float32)
  want = np.empty((2, 3, 2, 3), np.float32)
  for i in range(3):
    for j in range(2):
      want[:, i, j] = x[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 2].max(axis=(1, 2))
  got = jl.max_pool(jnp.asarray(x), window=(3, 2), strides=2)
  np.testing.assert_array_equal(np.asarray(got), want)


@pytest.mark.parametrize("pool", [jl.max_pool, jl.avg_pool])
@pytest.mark.parametrize(
  "shape,kw,match",
  [
    ((1, 4, 10, 1), dict(window=(5, 2)), r"window=\(5, 2\) is larger"),
    ((1, 10, 4, 1), dict(window=(2, 5)), r"window=\(2, 5\) is larger"),
    ((1, 4, 4, 1), dict(window=5, padding="SAME"), "window=.* is larger"),
    ((1, 4, 4, 1), dict(window=6, padding=((1, 0), (1, 1))), "window=.* is larger"),
    ((4, 4), dict(window=2), "x has rank 2"),
    ((1, 4, 4, 1), dict(window=(2, 2, 2)), "x has rank 4"),
    ((1, 4, 4, 1), dict(window=(2, 0)), "window="),
    ((1, 4, 4, 1), dict(window=2, strides=(1, -1)), "strides="),
    ((1, 4, 4, 1), dict(window=2, padding="FULL"), "padding='FULL'"),
    ((1, 4, 4, 1), dict(window=2, padding=((1, 1),)), "padding="),
  ],
)
def test_pool_bad_input(pool, shape, kw, match):
  with pytest.raises(ValueError, match=pool.__name__ + ": .*" + match):
    pool(jnp.zeros(shape), **kw)


def test_pool_window_may_use_padding():
  # A window larger than the input is fine when explicit padding makes room.
  x = jnp.arange(3.0).reshape(1, 3, 1)
  y = jl.avg_pool(x, window=4, strides=1, padding=((1, 0),), count_include_pad=True)
  np.testing.assert_allclose(_np(y).ravel(), [0.75], rtol=1e-6)


# ---------------------------------------------------------------------------------------
# Residual.
# ---------------------------------------------------------------------------------------


def test_residual_jacobian_is_df_plus_identity(key):
  """Seed 001: ∂(f(x) + x)/∂x = ∂f/∂x + 1 (the identity matrix for vector x)."""
  x = _normal(key, (5,))
  w = _normal(jax.random.fold_in(key, 1), (5, 5), scale=0.7)
  jac = jax.jit(jax.jacfwd(lambda v: jl.residual(lambda u: jnp.tanh(u @ w), v)))(x)
  xn, wn = _np(x), _np(w)
  t = np.tanh(xn @ wn)
  want = np.diag(1 - t**2) @ wn.T + np.eye(5)  # ∂f_j/∂x_i = (1 - t_j²) W_ij, + I
  np.testing.assert_allclose(_np(jac), want, rtol=1e-5, atol=1e-6)
  # A saturated branch (∂f/∂x ≈ 0) still passes the gradient through: J ≈ I.
  jac = jax.jit(jax.jacfwd(lambda v: jl.residual(lambda u: jnp.tanh(100 + u @ w), v)))(x)
  np.testing.assert_allclose(_np(jac), np.eye(5), atol=1e-6)


def test_residual_projection_numpy(key):
  x = _normal(key, (3, 4))
  w = _normal(jax.random.fold_in(key, 1), (4, 6))
  ws = _normal(jax.random.fold_in(key, 2), (4, 6))
  got = jl.residual(lambda v: jax.nn.relu(v @ w), x, projection=ws)
  xn = _np(x)
  want = np.maximum(xn @ _np(w), 0) + xn @ _np(ws)  # f(x) + x W_s
  np.testing.assert_allclose(_np(got), want, rtol=1e-5, atol=1e-5)
  # A function projection (a strided shortcut, as in a downsampling ResNet block).
  got = jl.residual(lambda v: 2 * v[:, ::2], x, projection=lambda v: v[:, ::2])
  np.testing.assert_allclose(_np(got), 3 * xn[:, ::2], rtol=1e-6)


def test_residual_bad_input():
  x = jnp.ones((3, 4))
  with pytest.raises(ValueError, match="residual: .*pass projection="):
    jl.residual(lambda v: jnp.ones((3, 5)), x)
  with pytest.raises(ValueError, match="residual: projection has shape"):
    jl.residual(lambda v: jnp.ones((3, 5)), x, projection=jnp.ones((5, 5)))
  with pytest.raises(ValueError, match="residual: the projected shortcut"):
    jl.residual(lambda v: jnp.ones((3, 5)), x, projection=jnp.ones((4, 6)))
  with pytest.raises(ValueError, match="residual: .*pass projection="):
    jl.residual(lambda v: jnp.ones((1, 4)), x)  # no silent broadcasting


# ---------------------------------------------------------------------------------------
# Multi-head attention: edge cases (the flax, jax.nn and torch comparisons are in
# jpatterns.conformance, run by tests/test_conformance.py).
# ---------------------------------------------------------------------------------------


def test_mha_fully_masked_row_is_finite(key):
  """A query whose keys are all masked averages the values (flax/jax.nn): no NaN."""
  p = _mha_params(key, 8)
  x = _normal(jax.random.fold_in(key, 1), (4, 8))
  mask = np.ones((4, 4), bool)
  mask[2] = False
  mha = jax.jit(lambda p, x: jl.multi_head_attention(p, x, num_heads=2, mask=mask))
  got = mha(p, x)
  v = _np(x) @ _np(p["wv"]) + _np(p["bv"])
  want_row = v.mean(0) @ _np(p["wo"]) + _np(p["bo"])
  np.testing.assert_allclose(_np(got[2]), want_row, rtol=1e-5, atol=1e-5)
  want = jax.nn.dot_product_attention(
    *(
      jnp.asarray((_np(x) @ _np(p[w]) + _np(p[b])).reshape(4, 2, 4), jnp.float32)
      for w, b in (("wq", "bq"), ("wk", "bk"), ("wv", "bv"))
    ),
    mask=mask[None],
  )
  want = _np(want).reshape(4, 8) @ _np(p["wo"]) + _np(p["bo"])
  np.testing.assert_allclose(_np(got), want, rtol=1e-5, atol=1e-5)
  g = jax.jit(jax.grad(lambda q: jnp.sum(mha(p, q))))(x)
  assert np.all(np.isfinite(_np(g)))


def test_mha_bad_input(key):
  p = jl.init_multi_head_attention(key, 8)
  x = jnp.ones((2, 3, 8))
  with pytest.raises(ValueError, match="multi_head_attention: num_heads=3 does not divide dim=8"):
    jl.multi_head_attention(p, x, num_heads=3)
  with pytest.raises(ValueError, match="num_heads=0"):
    jl.multi_head_attention(p, x, num_heads=0)
  with pytest.raises(ValueError, match="query has 6 features"):
    jl.multi_head_attention(p, jnp.ones((2, 3, 6)), num_heads=2)
  with pytest.raises(ValueError, match="key_value has 5 features"):
    jl.multi_head_attention(p, x, key_value=jnp.ones((2, 3, 5)), num_heads=2)
  with pytest.raises(ValueError, match="init_multi_head_attention: dim=0"):
    jl.init_multi_head_attention(key, 0)


# ---------------------------------------------------------------------------------------
# LSTM: torch LSTMCell / LSTM and flax LSTMCell with mapped weights.
# ---------------------------------------------------------------------------------------


def _torch_lstm_weights(p, module, key):
  """Copies (w_i, w_h, b) into a torch LSTM(Cell); b is split into b_ih + b_hh."""
  suffix = "_l0" if isinstance(module, torch.nn.LSTM) else ""
  b_hh = _np(_normal(key, p["b"].shape))
  with torch.no_grad():
    getattr(module, "weight_ih" + suffix).copy_(torch.from_numpy(_np(p["w_i"]).T))
    getattr(module, "weight_hh" + suffix).copy_(torch.from_numpy(_np(p["w_h"]).T))
    getattr(module, "bias_ih" + suffix).copy_(torch.from_numpy(_np(p["b"]) - b_hh))
    getattr(module, "bias_hh" + suffix).copy_(torch.from_numpy(b_hh))


def test_lstm_scan_matches_torch_lstm_values_and_grads(key):
  p = _lstm_params(key)
  c0, h0 = (_normal(jax.random.fold_in(key, i), (2, 4)) for i in (1, 2))
  xs = _normal(jax.random.fold_in(key, 3), (6, 2, 3))  # (T, B, in)

  def loss(params):
    (c, h), hs = _lstm_scan(params, c0, h0, xs)
    return jnp.sum(hs**2) + jnp.sum(c), ((c, h), hs)

  (_, ((c, h), hs)), g = jax.jit(jax.value_and_grad(loss, has_aux=True))(p)
  lstm = torch.nn.LSTM(3, 4).double()
  _torch_lstm_weights(p, lstm, jax.random.fold_in(key, 9))
  out, (h_n, c_n) = lstm(
    torch.from_numpy(_np(xs)), (torch.from_numpy(_np(h0))[None], torch.from_numpy(_np(c0))[None])
  )
  ((out**2).sum() + c_n.sum()).backward()
  tol = dict(rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(_np(hs), out.detach().numpy(), **tol)
  np.testing.assert_allclose(_np(h), h_n[0].detach().numpy(), **tol)
  np.testing.assert_allclose(_np(c), c_n[0].detach().numpy(), **tol)
  np.testing.assert_allclose(_np(g["w_i"]), lstm.weight_ih_l0.grad.numpy().T, **tol)
  np.testing.assert_allclose(_np(g["w_h"]), lstm.weight_hh_l0.grad.numpy().T, **tol)
  np.testing.assert_allclose(_np(g["b"]), lstm.bias_ih_l0.grad.numpy(), **tol)


def test_lstm_init(key):
  p = jl.init_lstm_params(key, 3, 4, forget_bias=2.0)
  np.testing.assert_array_equal(_np(p["b"]), [0] * 4 + [2] * 4 + [0] * 8)
  w_h = _np(p["w_h"])  # (H, 4H) with orthonormal rows
  np.testing.assert_allclose(w_h @ w_h.T, np.eye(4), atol=1e-5)
  limit = np.sqrt(6 / (3 + 16))  # Glorot-uniform bound for (3, 16)
  assert np.all(np.abs(_np(p["w_i"])) <= limit)
  c, h = jl.init_lstm_carry((2, 5), 4, dtype=jnp.bfloat16)
  assert c.shape == h.shape == (2, 5, 4) and c.dtype == jnp.bfloat16
  np.testing.assert_array_equal(_np(c), 0)


def test_lstm_bad_input(key):
  p = jl.init_lstm_params(key, 3, 4)
  carry = jl.init_lstm_carry(2, 4)
  with pytest.raises(ValueError, match="lstm_cell: x has 5 features"):
    jl.lstm_cell(p, carry, jnp.ones((2, 5)))
  with pytest.raises(ValueError, match=r"lstm_cell: carry \(c, h\)"):
    jl.lstm_cell(p, jl.init_lstm_carry(2, 3), jnp.ones((2, 3)))
  with pytest.raises(ValueError, match="lstm_cell: params shapes"):
    jl.lstm_cell({**p, "b": jnp.zeros(8)}, carry, jnp.ones((2, 3)))
  with pytest.raises(ValueError, match="init_lstm_params: hidden=0"):
    jl.init_lstm_params(key, 3, 0)


# ------------------------------------------------------------------------------------
# _dense, the library's one dense product (also jpatterns.train's).
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
  "xd,wd",
  [
    (jnp.float32, jnp.float32),
    (jnp.bfloat16, jnp.float32),
    (jnp.float16, jnp.float16),
    (jnp.bfloat16, jnp.bfloat16),
  ],
)
def test_dense_promotes_and_matches_numpy(xd, wd):
  _dense = jl._dense
  key = jax.random.key(0)
  x = _normal(key, (3, 5), xd)
  w = _normal(jax.random.fold_in(key, 1), (5, 4), wd)
  b = _normal(jax.random.fold_in(key, 2), (4,), wd)
  out_dtype = jnp.result_type(x, w)
  x64, w64, b64 = (np.asarray(a, np.float64) for a in (x, w, b))
  for args, want in (((x, w), x64 @ w64), ((x, w, None), x64 @ w64), ((x, w, b), x64 @ w64 + b64)):
    got = jax.jit(_dense)(*args)
    assert got.dtype == out_dtype
    tol = 1e-5 if out_dtype == jnp.float32 else 3e-2
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=tol, atol=tol)
  g = jax.grad(lambda w: jnp.sum(_dense(x, w, b).astype(jnp.float32)))(w)
  assert g.dtype == w.dtype and np.all(np.isfinite(np.asarray(g, np.float32)))
  y = jax.vmap(_dense, in_axes=(0, None, None))(jnp.stack([x, x]), w, b)
  np.testing.assert_array_equal(
    np.asarray(y[1], np.float32), np.asarray(_dense(x, w, b), np.float32)
  )
