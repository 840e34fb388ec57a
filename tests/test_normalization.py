"""Tests of jpatterns.normalization against NumPy transcriptions, flax and torch."""

from __future__ import annotations

import flax.linen as fnn
import helpers as h
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from flax import nnx
from jax.test_util import check_grads

import jpatterns as jp
from jpatterns import normalization as jn

EPS = 1e-5


def _rand(shape, seed=0, loc=0.0, scale=1.0):
  return (loc + scale * np.random.default_rng(seed).standard_normal(shape)).astype(np.float32)


def _t(a):
  return torch.from_numpy(np.asarray(a, np.float32).copy())


# ------------------------------------------------------------------------------------
# NumPy references (float64), transcribed from the formulas.
# ------------------------------------------------------------------------------------


def np_norm(x, axes, eps=EPS, center=True):
  x = np.asarray(x, np.float64)
  mu = x.mean(axes, keepdims=True) if center else 0.0  # μ = (1/n) Σ x
  var = ((x - mu) ** 2).mean(axes, keepdims=True)  # σ² = (1/n) Σ (x − μ)²
  return (x - mu) / np.sqrt(var + eps)


def np_layer_norm(x, s, b, axes=(-1,), eps=EPS):
  return np_norm(x, axes, eps) * s + b


def np_instance_norm(x, s, b, eps=EPS):  # NHWC
  return np_norm(x, tuple(range(1, x.ndim - 1)), eps) * s + b


def np_group_norm(x, s, b, g, eps=EPS):  # NHWC
  c = x.shape[-1]
  xg = np.asarray(x, np.float64).reshape(x.shape[:-1] + (g, c // g))
  axes = tuple(range(1, x.ndim - 1)) + (x.ndim,)
  return np_norm(xg, axes, eps).reshape(x.shape) * s + b


def np_rms_norm(x, s, eps=EPS):
  x = np.asarray(x, np.float64)
  return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * s


def np_batch_norm(x, s, b, eps=EPS):
  return np_norm(x, tuple(range(x.ndim - 1)), eps) * s + b


def np_weight_norm(v, g):  # norm over all axes but the last
  v = np.asarray(v, np.float64)
  return g * v / np.sqrt((v * v).sum(tuple(range(v.ndim - 1)), keepdims=True))


def np_lrn(x, size, k, alpha, beta):  # channels last, window [c − size//2, c + (size−1)//2]
  x = np.asarray(x, np.float64)
  c = x.shape[-1]
  out = np.empty_like(x)
  for p in range(c):
    lo, hi = max(0, p - size // 2), min(c - 1, p + (size - 1) // 2)
    out[..., p] = x[..., p] / (k + alpha * (x[..., lo : hi + 1] ** 2).sum(-1)) ** beta
  return out


def np_spectral(w, u, n_steps, eps=1e-12):
  m = np.asarray(w, np.float64).reshape(-1, w.shape[-1])
  u = np.asarray(u, np.float64).reshape(-1)
  for _ in range(n_steps):
    v = m @ u
    v = v / np.sqrt((v * v).sum() + eps)
    u = v @ m
    u = u / np.sqrt((u * u).sum() + eps)
  sigma = v @ m @ u
  return (m / sigma).reshape(w.shape), u


# ------------------------------------------------------------------------------------
# Case registry: name -> (function, args builder(dtype), NumPy reference on the args).
# ------------------------------------------------------------------------------------


def _bn_train(x, s, b):  # running statistics kept in the dtype they are created in
  return jn.batch_norm(
    x, jn.init_batch_norm_stats(x.shape[-1], dtype=x.dtype), scale=s, bias=b, train=True
  )


def _bn_eval(x, s, b):
  stats = jn.BatchNormStats(
    jnp.linspace(-0.5, 0.5, x.shape[-1]), jnp.linspace(0.5, 2.0, x.shape[-1])
  )
  return jn.batch_norm(x, stats, scale=s, bias=b, train=False)[0]


def _np_bn_eval(x, s, b):
  c = x.shape[-1]
  return (x - np.linspace(-0.5, 0.5, c)) / np.sqrt(np.linspace(0.5, 2.0, c) + EPS) * s + b


def _np_bn_train(x, s, b):
  ax = tuple(range(x.ndim - 1))
  x64 = np.asarray(x, np.float64)
  mean, var = x64.mean(ax), x64.var(ax)
  return (np_batch_norm(x, s, b), jn.BatchNormStats(0.01 * mean, 0.99 + 0.01 * var))


def _sb(c, dtype, seed=1):
  s = jnp.asarray(1.0 + 0.3 * _rand((c,), seed), dtype)
  b = jnp.asarray(0.2 * _rand((c,), seed + 1), dtype)
  return s, b


def _args_nhwc(dtype, shape=(2, 3, 4, 6)):
  return (jnp.asarray(_rand(shape, 0, 0.5, 2.0), dtype),) + _sb(shape[-1], dtype)


CASES = {
  "layer_norm": (
    lambda x, s, b: jn.layer_norm(x, scale=s, bias=b),
    lambda dt: (jnp.asarray(_rand((4, 8), 0, 1.0, 2.0), dt),) + _sb(8, dt),
    lambda x, s, b: np_layer_norm(x, s, b),
  ),
  "layer_norm_2axes": (
    lambda x, s, b: jn.layer_norm(x, scale=s, bias=b, axis=(1, 2)),
    lambda dt: (
      jnp.asarray(_rand((3, 4, 5)), dt),
      jnp.asarray(1 + 0.3 * _rand((4, 5), 1), dt),
      jnp.asarray(0.2 * _rand((4, 5), 2), dt),
    ),
    lambda x, s, b: np_layer_norm(x, s, b, axes=(1, 2)),
  ),
  "instance_norm": (
    lambda x, s, b: jn.instance_norm(x, scale=s, bias=b),
    _args_nhwc,
    np_instance_norm,
  ),
  "group_norm": (
    lambda x, s, b: jn.group_norm(x, scale=s, bias=b, num_groups=3),
    _args_nhwc,
    lambda x, s, b: np_group_norm(x, s, b, 3),
  ),
  "rms_norm": (
    lambda x, s: jn.rms_norm(x, scale=s, eps=EPS),
    lambda dt: (jnp.asarray(_rand((4, 8), 0, 0.5), dt), jnp.asarray(1 + 0.3 * _rand((8,), 1), dt)),
    np_rms_norm,
  ),
  "batch_norm_train": (_bn_train, _args_nhwc, _np_bn_train),
  "batch_norm_eval": (_bn_eval, _args_nhwc, _np_bn_eval),
  "batch_norm_analytic": (
    lambda x, s, b: jn.batch_norm_analytic(x, scale=s, bias=b),
    _args_nhwc,
    np_batch_norm,
  ),
  "weight_norm": (
    lambda v, g: jn.weight_norm(v, g, eps=1e-30),
    lambda dt: (jnp.asarray(_rand((5, 3)), dt), jnp.asarray(1 + _rand((3,), 1) ** 2, dt)),
    np_weight_norm,
  ),
  "local_response_norm": (
    lambda x: jn.local_response_norm(x, size=5, k=2.0, alpha=1e-2, beta=0.75),
    lambda dt: (jnp.asarray(_rand((2, 3, 3, 7), 0, 0.0, 3.0), dt),),
    lambda x: np_lrn(x, 5, 2.0, 1e-2, 0.75),
  ),
  "local_response_norm_even": (
    lambda x: jn.local_response_norm(x, size=4, k=1.0, alpha=0.1, beta=0.5),
    lambda dt: (jnp.asarray(_rand((2, 6)), dt),),
    lambda x: np_lrn(x, 4, 1.0, 0.1, 0.5),
  ),
  "spectral_norm": (
    lambda w, u: jn.spectral_norm(w, u, n_steps=3),
    lambda dt: (jnp.asarray(_rand((3, 2, 4)), dt), jnp.asarray(_rand((4,), 3), dt)),
    lambda w, u: np_spectral(w, u, 3),
  ),
}
NAMES = sorted(CASES)


@pytest.mark.parametrize("name", NAMES)
def test_values_vs_numpy(name):
  f, make, ref = CASES[name]
  args = make(jnp.float32)
  got = f(*args)
  want = ref(*[np.asarray(a, np.float64) for a in args])
  h.tree_allclose(got, want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("name", NAMES)
def test_dtype_kept_and_close(name):
  f, make, _ = CASES[name]
  f = jax.jit(f)
  h.assert_dtypes_kept(f, make)
  for dt in (jnp.bfloat16, jnp.float16):
    tol = h.TOL[jnp.dtype(dt)]
    # inputs rounded to dt: compare with float32 on the same rounded values
    args = make(dt)
    got = f(*args)
    want = f(*[a.astype(jnp.float32) for a in args])
    h.tree_allclose(got, want, rtol=tol["rtol"] * 2, atol=tol["atol"] * 2)


@pytest.mark.parametrize("name", NAMES)
def test_jit_matches_eager(name):
  f, make, _ = CASES[name]
  h.assert_jit_matches_eager(f, *make(jnp.float32), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_vmap_matches_loop(name):
  f, make, _ = CASES[name]
  batched = [jnp.stack([a * (1 + 0.5 * i) + 0.1 * i for i in range(3)]) for a in make(jnp.float32)]
  h.assert_vmap_matches_loop(f, *batched, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_grad_finite(name):
  f, make, _ = CASES[name]
  args = make(jnp.float32)
  h.assert_grad_finite(jax.jit(f), *args, argnums=tuple(range(len(args))))


@pytest.mark.parametrize("name", NAMES)
def test_no_retrace(name):
  f, make, _ = CASES[name]
  h.assert_no_retrace(f, *make(jnp.float32))


# ------------------------------------------------------------------------------------
# Custom derivatives (reverse and forward mode) equal autodiff of a plain reference.
# ------------------------------------------------------------------------------------


def _plain(x, s, b, axes, eps=EPS, center=True, bshape=None):
  mu = jnp.mean(x, axes, keepdims=True) if center else 0.0
  var = jnp.mean((x - mu) ** 2, axes, keepdims=True)
  y = (x - mu) / jnp.sqrt(var + eps)
  if s is not None:
    y = y * s.reshape(bshape)
  if b is not None:
    y = y + b.reshape(bshape)
  return y


def _plain_gn(x, s, b, g):
  xg = x.reshape(x.shape[:-1] + (g, x.shape[-1] // g))
  y = _plain(xg, None, None, (1, 2, 4)).reshape(x.shape)
  return y * s + b


GRAD_CASES = {
  "layer_norm": (
    lambda x, s, b: jn.layer_norm(x, scale=s, bias=b),
    lambda x, s, b: _plain(x, s, b, (3,), bshape=(6,)),
  ),
  "layer_norm_2axes": (
    lambda x, s, b: jn.layer_norm(x, scale=s.reshape(4, 6), bias=b.reshape(4, 6), axis=(2, 3)),
    lambda x, s, b: _plain(x, s, b, (2, 3), bshape=(4, 6)),
  ),
  "instance_norm": (
    lambda x, s, b: jn.instance_norm(x, scale=s, bias=b),
    lambda x, s, b: _plain(x, s, b, (1, 2), bshape=(6,)),
  ),
  "group_norm": (
    lambda x, s, b: jn.group_norm(x, scale=s, bias=b, num_groups=2),
    lambda x, s, b: _plain_gn(x, s, b, 2),
  ),
  "rms_norm": (
    lambda x, s, b: jn.rms_norm(x, scale=s, eps=EPS) + 0 * b,
    lambda x, s, b: _plain(x, s, None, (3,), center=False, bshape=(6,)) + 0 * b,
  ),
  "batch_norm": (
    lambda x, s, b: _bn_train(x, s, b)[0],
    lambda x, s, b: _plain(x, s, b, (0, 1, 2), bshape=(6,)),
  ),
  "batch_norm_no_params": (
    lambda x, s, b: _bn_train(x, None, None)[0] * s + b,
    lambda x, s, b: _plain(x, None, None, (0, 1, 2)) * s + b,
  ),
  "batch_norm_analytic": (
    lambda x, s, b: jn.batch_norm_analytic(x, scale=s, bias=b),
    lambda x, s, b: _plain(x, s, b, (0, 1, 2), bshape=(6,)),
  ),
  "layer_norm_no_params": (
    lambda x, s, b: jn.layer_norm(x) * s + b,
    lambda x, s, b: _plain(x, None, None, (3,)) * s + b,
  ),
}


def _grad_case_args(name):
  """(x, scale, bias) of a GRAD_CASES entry: x far from zero, γ and β not 1 and 0."""
  x = jnp.asarray(_rand((3, 4, 4, 6), 0, 2.0, 3.0))
  if name == "layer_norm_2axes":
    return x, jnp.asarray(1 + 0.3 * _rand((24,), 1)), jnp.asarray(0.2 * _rand((24,), 2))
  return (x, *_sb(6, jnp.float32))


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_custom_vjp_equals_autodiff(name):
  ours, plain = GRAD_CASES[name]
  x, s, b = _grad_case_args(name)
  cot = jnp.asarray(_rand(x.shape, 5))

  def loss(f):
    return lambda x, s, b: jnp.sum(f(x, s, b) * cot)

  got = jax.jit(jax.grad(loss(ours), argnums=(0, 1, 2)))(x, s, b)
  want = jax.jit(jax.grad(loss(plain), argnums=(0, 1, 2)))(x, s, b)
  h.tree_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_forward_mode_equals_autodiff(name):
  """jax.jvp, jax.linearize, jvp of a jitted function and forward-over-reverse (a Hessian-
  vector product) all agree with autodiff of the plain reference (issue 14)."""
  ours, plain = GRAD_CASES[name]
  x, s, b = _grad_case_args(name)
  dx, ds, db = jnp.asarray(_rand(x.shape, 3)), 0.5 * s, b + 0.1
  cot = jnp.asarray(_rand(x.shape, 5))

  def modes(f):
    def loss(x):
      return jnp.sum(f(x, s, b) * cot * x)  # x-dependent weights: a non-trivial Hessian

    _, tangent = jax.jvp(f, (x, s, b), (dx, ds, db))
    _, lin = jax.linearize(f, x, s, b)
    _, tangent_jit = jax.jvp(jax.jit(f), (x, s, b), (dx, ds, db))
    hvp = jax.jvp(jax.grad(loss), (x,), (dx,))[1]
    return tangent, lin(dx, ds, db), tangent_jit, hvp

  got = jax.jit(lambda: modes(ours))()
  want = jax.jit(lambda: modes(plain))()
  for g in got[1:3]:
    np.testing.assert_allclose(g, got[0], rtol=1e-5, atol=1e-5)
  h.tree_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_batch_norm_masked_jvp_equals_autodiff():
  x = jnp.asarray(_rand((10, 5), 0, 1.0, 2.0))
  mask = jnp.asarray(np.arange(10) % 3 != 0)[:, None]
  s, b = _sb(5, jnp.float32)
  dx = jnp.asarray(_rand(x.shape, 3))

  def plain(x):
    m = mask.astype(jnp.float32)
    mu = jnp.sum(m * x, 0) / jnp.sum(m)
    return (x - mu) / jnp.sqrt(jnp.sum(m * (x - mu) ** 2, 0) / jnp.sum(m) + EPS) * s + b

  def ours(x):
    return jn.batch_norm(x, jn.init_batch_norm_stats(5), scale=s, bias=b, train=True, mask=mask)[0]

  np.testing.assert_allclose(
    jax.jvp(ours, (x,), (dx,))[1], jax.jvp(plain, (x,), (dx,))[1], rtol=1e-4, atol=1e-4
  )


def test_jacfwd_equals_jacrev():
  x = jnp.asarray(_rand((4, 6), 0, 1.0, 2.0))
  s, b = _sb(6, jnp.float32)

  def both(f):
    return jax.jacfwd(f)(x), jax.jacrev(f)(x)

  for f in (
    lambda x: jn.layer_norm(x, scale=s, bias=b),
    lambda x: jn.group_norm(x, scale=s, bias=b, num_groups=2),
    lambda x: _bn_train(x, s, b)[0],
  ):
    fwd, rev = jax.jit(lambda: both(f))()
    np.testing.assert_allclose(fwd, rev, rtol=1e-5, atol=1e-5)


def test_batch_norm_masked_grad_equals_autodiff():
  x = jnp.asarray(_rand((10, 5), 0, 1.0, 2.0))
  mask = jnp.asarray(np.arange(10) % 3 != 0)[:, None]
  s, b = _sb(5, jnp.float32)
  cot = jnp.asarray(_rand(x.shape, 5))

  def plain(x, s, b):
    m = mask.astype(jnp.float32)
    n = jnp.sum(m)
    mu = jnp.sum(m * x, 0) / n
    var = jnp.sum(m * (x - mu) ** 2, 0) / n
    return (x - mu) / jnp.sqrt(var + EPS) * s + b

  def ours(x, s, b):
    return jn.batch_norm(x, jn.init_batch_norm_stats(5), scale=s, bias=b, train=True, mask=mask)[0]

  np.testing.assert_allclose(ours(x, s, b), plain(x, s, b), rtol=1e-5, atol=1e-5)
  got = jax.jit(jax.grad(lambda *a: jnp.sum(ours(*a) * cot), (0, 1, 2)))(x, s, b)
  want = jax.jit(jax.grad(lambda *a: jnp.sum(plain(*a) * cot), (0, 1, 2)))(x, s, b)
  h.tree_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_custom_vjp_check_grads():
  x = jnp.asarray(_rand((5, 6), 0, 1.0, 2.0))
  s, b = _sb(6, jnp.float32)
  for f in (
    lambda x, s, b: jn.layer_norm(x, scale=s, bias=b),
    lambda x, s, b: _bn_train(x, s, b)[0],
    lambda x, s, b: jn.batch_norm_analytic(x, scale=s, bias=b),
  ):
    check_grads(jax.jit(f), (x, s, b), order=1, modes=("fwd", "rev"), atol=5e-2, rtol=5e-2)


# ------------------------------------------------------------------------------------
# Accuracy on inputs far from zero (issue item 4).
# ------------------------------------------------------------------------------------

ACC_CASES = {
  "batch_norm": (lambda x: _bn_train(x, None, None)[0], lambda x: np_norm(x, (0, 1, 2))),
  "layer_norm": (lambda x: jn.layer_norm(x), lambda x: np_norm(x, (3,))),
  "instance_norm": (lambda x: jn.instance_norm(x), lambda x: np_norm(x, (1, 2))),
  "group_norm": (lambda x: jn.group_norm(x, num_groups=4), lambda x: np_group_norm(x, 1.0, 0.0, 4)),
}


@pytest.mark.parametrize("name", sorted(ACC_CASES))
def test_accuracy_mean_1000(name):
  ours, ref = ACC_CASES[name]
  x = _rand((16, 16, 16, 32), 7, 1000.0, 1.0)
  err = np.max(
    np.abs(np.asarray(jax.jit(ours)(jnp.asarray(x)), np.float64) - ref(x.astype(np.float64)))
  )
  assert err < 3e-4, f"{name}: max abs error {err:.2e} on mean-1000 inputs"


def test_flax_one_pass_is_inaccurate_there():
  """The problem item 4 fixes: flax's default one-pass variance at mean 1000."""
  x = _rand((64, 256), 7, 1000.0, 1.0)
  y = fnn.LayerNorm(epsilon=EPS).apply(
    {"params": {"scale": jnp.ones(256), "bias": jnp.zeros(256)}}, x
  )
  err = np.max(np.abs(np.asarray(y, np.float64) - np_norm(x, (1,))))
  assert err > 1e-2


# ------------------------------------------------------------------------------------
# flax references.
# ------------------------------------------------------------------------------------


def test_batch_norm_vs_flax_outputs_and_running_stats():
  c = 6
  s, b = _sb(c, jnp.float32)
  m = nnx.BatchNorm(c, momentum=0.9, epsilon=EPS, use_fast_variance=False, rngs=nnx.Rngs(0))
  m.scale[...] = s
  m.bias[...] = b
  stats = jn.init_batch_norm_stats(c)
  for step in range(3):
    x = _rand((8, 3, 3, c), step, 1.0 + step, 2.0)
    y, stats = jn.batch_norm(x, stats, scale=s, bias=b, train=True, momentum=0.9)
    m.train()
    np.testing.assert_allclose(y, m(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats.mean, m.mean[...], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats.var, m.var[...], rtol=1e-5, atol=1e-6)
  x = _rand((4, 3, 3, c), 9)
  y, same = jn.batch_norm(x, stats, scale=s, bias=b, train=False)
  m.eval()
  np.testing.assert_allclose(y, m(x), rtol=1e-5, atol=1e-5)
  assert same is stats


def test_batch_norm_mask_vs_flax_linen():
  x = _rand((10, 4), 0, 1.0, 2.0)
  mask = (np.arange(10) % 3 != 0)[:, None] & np.ones((1, 4), bool)
  s, b = _sb(4, jnp.float32)
  variables = {
    "params": {"scale": s, "bias": b},
    "batch_stats": {"mean": jnp.zeros(4), "var": jnp.ones(4)},
  }
  y_ref, upd = fnn.BatchNorm(
    use_running_average=False, momentum=0.9, epsilon=EPS, use_fast_variance=False
  ).apply(variables, x, mask=mask, mutable=["batch_stats"])
  y, st = jn.batch_norm(
    x, jn.init_batch_norm_stats(4), scale=s, bias=b, train=True, momentum=0.9, mask=mask[:, :1]
  )
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(st.mean, upd["batch_stats"]["mean"], rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(st.var, upd["batch_stats"]["var"], rtol=1e-5, atol=1e-6)


def test_weight_norm_vs_flax():
  layer = nnx.Linear(5, 3, rngs=nnx.Rngs(0))
  m = nnx.WeightNorm(layer, rngs=nnx.Rngs(1))
  v = layer.kernel[...]
  g = jnp.asarray(1 + _rand((3,), 1) ** 2)
  m.scales[("kernel",)] = g
  x = _rand((2, 5), 2)
  got = x @ jn.weight_norm(v, g) + layer.bias[...]
  np.testing.assert_allclose(got, m(x), rtol=1e-5, atol=1e-5)


def test_spectral_norm_vs_flax():
  layer = nnx.Linear(6, 4, rngs=nnx.Rngs(0))
  m = nnx.SpectralNorm(layer, n_steps=2, update_stats=True, rngs=nnx.Rngs(1))
  u0 = m.batch_stats[("kernel", "u")][...]
  w = layer.kernel[...]
  x = _rand((2, 6), 2)
  y_ref = m(x)
  wn, u1 = jn.spectral_norm(w, u0, n_steps=2)
  np.testing.assert_allclose(x @ wn + layer.bias[...], y_ref, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(u1, m.batch_stats[("kernel", "u")][...], rtol=1e-5, atol=1e-6)
  assert u1.shape == u0.shape


def test_spectral_norm_converges_to_top_singular_value():
  w = _rand((6, 4))
  u = _rand((4,), 1)
  for _ in range(30):
    wn, u = jn.spectral_norm(w, u, n_steps=1)
  np.testing.assert_allclose(np.linalg.svd(np.asarray(wn), compute_uv=False)[0], 1.0, rtol=1e-4)


# ------------------------------------------------------------------------------------
# torch references.
# ------------------------------------------------------------------------------------


def test_weight_norm_vs_torch():
  v = _rand((4, 3, 2, 2))  # torch conv weight (out, in, kh, kw); dim=0 keeps `out`
  g = 1 + _rand((4,), 1) ** 2
  want = torch._weight_norm(_t(v), _t(g).reshape(4, 1, 1, 1), 0).numpy()
  got = jn.weight_norm(v, g, axis=(1, 2, 3), eps=1e-30)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  lin = torch.nn.utils.parametrizations.weight_norm(torch.nn.Linear(5, 3), dim=0)
  with torch.no_grad():
    v2 = lin.parametrizations.weight.original1.numpy()  # (out, in)
    g2 = lin.parametrizations.weight.original0.numpy().reshape(3)
    want2 = lin.weight.numpy()
  np.testing.assert_allclose(jn.weight_norm(v2, g2, axis=1, eps=1e-30), want2, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------
# Bad input and edge cases.
# ------------------------------------------------------------------------------------


def test_group_norm_bad_num_groups():
  x = jnp.ones((2, 4, 4, 64))
  with pytest.raises(
    ValueError,
    match=r"group_norm: num_groups=3 does not divide 64 "
    r"channels; choose a divisor of 64",
  ):
    jn.group_norm(x, num_groups=3)
  with pytest.raises(ValueError, match="num_groups=0"):
    jn.group_norm(x, num_groups=0)


@pytest.mark.parametrize(
  "fn",
  [
    lambda s: jn.layer_norm(jnp.ones((2, 4)), scale=s),
    lambda s: jn.instance_norm(jnp.ones((2, 3, 4)), scale=s),
    lambda s: jn.group_norm(jnp.ones((2, 3, 4)), bias=s, num_groups=2),
    lambda s: jn.rms_norm(jnp.ones((2, 4)), scale=s),
    lambda s: jn.batch_norm(jnp.ones((2, 4)), jn.init_batch_norm_stats(4), scale=s, train=True),
    lambda s: jn.weight_norm(jnp.ones((3, 4)), s),
  ],
)
def test_param_shape_mismatch(fn):
  with pytest.raises(ValueError, match=r"has shape \(5,\); expected \(4,\)"):
    fn(jnp.ones(5))


@pytest.mark.parametrize("eps", [0.0, -1e-5])
@pytest.mark.parametrize(
  "fn",
  [
    lambda e: jn.layer_norm(jnp.ones((2, 4)), eps=e),
    lambda e: jn.instance_norm(jnp.ones((2, 3, 4)), eps=e),
    lambda e: jn.group_norm(jnp.ones((2, 3, 4)), num_groups=2, eps=e),
    lambda e: jn.rms_norm(jnp.ones((2, 4)), eps=e),
    lambda e: jn.batch_norm(jnp.ones((2, 4)), jn.init_batch_norm_stats(4), train=True, eps=e),
    lambda e: jn.batch_norm_analytic(jnp.ones((2, 4)), scale=jnp.ones(4), bias=jnp.zeros(4), eps=e),
    lambda e: jn.weight_norm(jnp.ones((3, 4)), jnp.ones(4), eps=e),
    lambda e: jn.spectral_norm(jnp.ones((3, 4)), jnp.ones(4), eps=e),
  ],
)
def test_epsilon_not_positive(fn, eps):
  with pytest.raises(ValueError, match=r"eps=.* must be > 0"):
    fn(eps)


def test_other_bad_arguments():
  with pytest.raises(ValueError, match=r"local_response_norm: size=0 must be an integer >= 1"):
    jn.local_response_norm(jnp.ones((2, 4)), size=0)
  with pytest.raises(ValueError, match=r"k=0"):
    jn.local_response_norm(jnp.ones((2, 4)), size=3, k=0.0)
  with pytest.raises(ValueError, match=r"batch_norm: momentum=1.5 is outside"):
    jn.batch_norm(jnp.ones((2, 4)), jn.init_batch_norm_stats(4), train=True, momentum=1.5)
  with pytest.raises(ValueError, match=r"batch_norm: stats have shapes"):
    jn.batch_norm(jnp.ones((2, 4)), jn.init_batch_norm_stats(3), train=True)
  with pytest.raises(ValueError, match=r"spectral_norm: n_steps=0"):
    jn.spectral_norm(jnp.ones((3, 4)), jnp.ones(4), n_steps=0)
  with pytest.raises(ValueError, match=r"spectral_norm: u has shape"):
    jn.spectral_norm(jnp.ones((3, 4)), jnp.ones(3))
  with pytest.raises(ValueError, match=r"axis=.* is out of range"):
    jn.layer_norm(jnp.ones((2, 4)), axis=2)
  with pytest.raises(ValueError, match=r"instance_norm: axis=.* contains channel_axis"):
    jn.instance_norm(jnp.ones((2, 3, 4)), axis=(1, 2))


CONSTANT_CASES = {
  "layer_norm": lambda x, s, b: jn.layer_norm(x, scale=s, bias=b),
  "instance_norm": lambda x, s, b: jn.instance_norm(x, scale=s, bias=b),
  "group_norm": lambda x, s, b: jn.group_norm(x, scale=s, bias=b, num_groups=2),
  "rms_norm_zero": lambda x, s, b: jn.rms_norm(0 * x, scale=s),
  "batch_norm": lambda x, s, b: _bn_train(x, s, b)[0],
  "batch_norm_analytic": lambda x, s, b: jn.batch_norm_analytic(x, scale=s, bias=b),
}


@pytest.mark.parametrize("name", sorted(CONSTANT_CASES))
def test_constant_input_is_finite(name):
  f = jax.jit(CONSTANT_CASES[name])
  x = jnp.full((2, 3, 3, 4), 7.0)
  s, b = _sb(4, jnp.float32)
  y = f(x, s, b)
  assert np.all(np.isfinite(np.asarray(y)))
  np.testing.assert_allclose(
    y, jnp.broadcast_to(b if name != "rms_norm_zero" else 0.0, y.shape), atol=1e-5
  )
  h.assert_grad_finite(f, x, s, b, argnums=(0, 1, 2))


def test_batch_norm_all_masked_is_finite():
  x = jnp.asarray(_rand((4, 3)))

  def f(x):
    return jn.batch_norm(x, jn.init_batch_norm_stats(3), train=True, mask=jnp.zeros((4, 1), bool))

  y, st = f(x)
  assert np.all(np.isfinite(np.asarray(y))) and np.all(np.isfinite(np.asarray(st.var)))
  h.assert_grad_finite(jax.jit(lambda x: f(x)[0]), x)


def test_weight_norm_zero_vector_is_finite():
  v = jnp.zeros((4, 3))
  g = jnp.ones(3)
  w = jn.weight_norm(v, g)
  np.testing.assert_array_equal(w, np.zeros((4, 3)))
  h.assert_grad_finite(jn.weight_norm, v, g, argnums=(0, 1))


def test_spectral_norm_zero_weight_is_finite():
  wn, u = jn.spectral_norm(jnp.zeros((3, 4)), jnp.ones(4))
  assert np.all(np.isfinite(np.asarray(wn))) and np.all(np.isfinite(np.asarray(u)))
  h.assert_grad_finite(lambda w: jn.spectral_norm(w, jnp.ones(4))[0], jnp.zeros((3, 4)))


def test_batch_norm_unbiased_running_var():
  x = _rand((6, 3), 0, 1.0, 2.0)
  _, st = jn.batch_norm(
    x, jn.init_batch_norm_stats(3), train=True, momentum=0.0, unbiased_running_var=True
  )
  np.testing.assert_allclose(st.var, x.astype(np.float64).var(0, ddof=1), rtol=1e-5)
  np.testing.assert_allclose(st.mean, x.astype(np.float64).mean(0), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape,channel_axis", [((6, 12), -1), ((3, 12, 2, 3), 1)])
def test_group_norm_other_layouts_grad_equals_autodiff(shape, channel_axis):
  """Group norm without spatial axes (2-D) and channels-first: values and gradients."""
  x = jnp.asarray(_rand(shape, 0, 3.0, 2.0))
  s, b = _sb(12, jnp.float32)
  cot = jnp.asarray(_rand(shape, 4))
  c = channel_axis % len(shape)
  bshape = tuple(12 if i == c else 1 for i in range(len(shape)))

  def plain(x, s, b):
    xg = x.reshape(shape[:c] + (4, 3) + shape[c + 1 :])
    axes = tuple(i for i in range(1, xg.ndim) if i != c)
    return _plain(xg, None, None, axes).reshape(shape) * s.reshape(bshape) + b.reshape(bshape)

  def ours(x, s, b):
    return jn.group_norm(x, scale=s, bias=b, num_groups=4, channel_axis=channel_axis)

  np.testing.assert_allclose(ours(x, s, b), plain(x, s, b), rtol=1e-5, atol=1e-5)
  got = jax.jit(jax.grad(lambda *a: jnp.sum(ours(*a) * cot), (0, 1, 2)))(x, s, b)
  want = jax.jit(jax.grad(lambda *a: jnp.sum(plain(*a) * cot), (0, 1, 2)))(x, s, b)
  h.tree_allclose(got, want, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------------------
# scale=None / bias=None (the defaults) equal explicit ones / zeros.
# ------------------------------------------------------------------------------------


def _bn_train_kw(x, **kw):
  return jn.batch_norm(x, jn.init_batch_norm_stats(x.shape[-1], dtype=x.dtype), train=True, **kw)[0]


def _bn_eval_kw(x, **kw):
  stats = jn.BatchNormStats(
    jnp.linspace(-0.5, 0.5, x.shape[-1]), jnp.linspace(0.5, 2.0, x.shape[-1])
  )
  return jn.batch_norm(x, stats, train=False, **kw)[0]


# name -> (fn(x, **scale/bias keywords), the keywords it takes)
NONE_CASES = {
  "layer_norm": (jn.layer_norm, ("scale", "bias")),
  "instance_norm": (jn.instance_norm, ("scale", "bias")),
  "group_norm": (lambda x, **kw: jn.group_norm(x, num_groups=3, **kw), ("scale", "bias")),
  "rms_norm": (jn.rms_norm, ("scale",)),
  "batch_norm_train": (_bn_train_kw, ("scale", "bias")),
  "batch_norm_eval": (_bn_eval_kw, ("scale", "bias")),
  "batch_norm_analytic": (jn.batch_norm_analytic, ("scale", "bias")),
}


def _none_variants(names, dtype, c=6):
  """Each subset of the keywords left out (None), the rest explicit ones / zeros."""
  full = {"scale": jnp.ones(c, dtype), "bias": jnp.zeros(c, dtype)}
  subsets = [(), ("scale",), ("bias",), ("scale", "bias")]
  return [
    ({k: full[k] for k in names}, {k: full[k] for k in names if k not in drop})
    for drop in subsets
    if set(drop) <= set(names)
  ]


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("name", sorted(NONE_CASES))
def test_none_scale_bias_equal_ones_zeros(name, dtype):
  f, names = NONE_CASES[name]
  x = jnp.asarray(_rand((2, 3, 4, 6), 0, 0.5, 2.0), dtype)
  for explicit, partial in _none_variants(names, dtype):
    want = jax.jit(lambda x, kw: f(x, **kw))(x, explicit)
    got = jax.jit(lambda x, kw: f(x, **kw))(x, partial)
    assert got.dtype == x.dtype == want.dtype, (name, partial.keys())
    np.testing.assert_array_equal(np.asarray(got, np.float32), np.asarray(want, np.float32))
  # defaults: f(x) is f(x, scale=None, bias=None)
  np.testing.assert_array_equal(
    np.asarray(f(x), np.float32), np.asarray(f(x, **explicit), np.float32)
  )


@pytest.mark.parametrize("name", sorted(NONE_CASES))
def test_none_scale_bias_grad_and_vmap(name):
  f, names = NONE_CASES[name]
  x = jnp.asarray(_rand((2, 3, 4, 6), 0, 0.5, 2.0))
  cot = jnp.asarray(_rand(x.shape, 5))
  explicit = {k: v for k, v in (("scale", jnp.ones(6)), ("bias", jnp.zeros(6))) if k in names}
  got = jax.jit(jax.grad(lambda x: jnp.sum(f(x) * cot)))(x)
  want = jax.jit(jax.grad(lambda x: jnp.sum(f(x, **explicit) * cot)))(x)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
  xs = jnp.stack([x, 2 * x + 1])
  np.testing.assert_allclose(jax.vmap(f)(xs), jnp.stack([f(xs[0]), f(xs[1])]), rtol=1e-5, atol=1e-5)


def test_scale_and_bias_are_keyword_only():
  x, s = jnp.ones((2, 4)), jnp.ones(4)
  for call in (
    lambda: jn.layer_norm(x, s),
    lambda: jn.rms_norm(x, s),
    lambda: jn.instance_norm(x, s),
    lambda: jn.batch_norm_analytic(x, s),
    lambda: jn.batch_norm(x, jn.init_batch_norm_stats(4), s, train=True),
  ):
    with pytest.raises(TypeError):
      call()


# ------------------------------------------------------------------------------------
# The float32 range: the checked mode reports an overflowing variance (issue 14 item 4).
# ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
  "name, f",
  [
    ("layer_norm", lambda x: jn.layer_norm(x)),
    ("rms_norm", lambda x: jn.rms_norm(x)),
    ("group_norm", lambda x: jn.group_norm(x[:, None, :], num_groups=2)),
    ("batch_norm", lambda x: jn.batch_norm(x, jn.init_batch_norm_stats(4), train=True)[0]),
  ],
)
def test_checked_mode_reports_variance_overflow(name, f):
  x = jnp.asarray([[1.0, -2.0, 3.0, -4.0], [2.0, 1.0, -1.0, 0.5]])
  big = x * 1e20  # deviations ~1e20: their squares overflow float32
  assert np.all(np.asarray(f(big)) == 0.0)  # the documented limit, unchecked: zeros
  want = f(x)
  with jp.checking(True):
    np.testing.assert_array_equal(f(x), want)  # a fine input passes, same values
    with pytest.raises(ValueError, match=rf"{name}: x is finite but its variance overflows"):
      f(big)
    with pytest.raises(jax.errors.JaxRuntimeError, match=rf"{name}: x is finite but its var"):
      jax.jit(f)(big).block_until_ready()
    with pytest.raises(ValueError, match=rf"{name}: x is finite"):
      jax.grad(lambda x: jnp.sum(f(x)))(big)
  assert not jp.is_checking()
