"""Tests for jpatterns.stochastic (the dropout variants).

References: flax Dropout (same key -> same values), NumPy transcriptions of the
formulas written here (fed the same uniform/normal draws jax uses), Monte-Carlo means
of the training forms, torch (alpha_dropout, dropout2d) statistics, and closed-form
moments.
"""

from __future__ import annotations

import math

import flax.linen as nn
import helpers
import jax
import jax.numpy as jnp
import jax.test_util  # noqa: F401
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from flax import nnx

from jpatterns import stochastic as jd

RATE = 0.3
IN, OUT = 6, 5


def _normal(shape, dtype=jnp.float32, seed=1):
  return jax.random.normal(jax.random.key(seed), shape, jnp.float32).astype(dtype)


# ---------------------------------------------------------------------------------------
# Case registry. RATE_FNS[name](key, x, *more, rate=r): the rate edge-case, traced-rate
# and bad-rate tests. CASES[name](key, x, *more): the same at rate 0.3 (plus standout).
# MAKE_ARGS[name](dtype) -> (x, *more).
# ---------------------------------------------------------------------------------------


def _dense_args(dtype):
  """(x, w, third): third is standout's ws; the dropconnect cases use its row 0 as bias."""
  return (
    _normal((3, IN), dtype),
    _normal((IN, OUT), dtype, 2) / math.sqrt(IN),
    _normal((IN, OUT), dtype, 3),
  )


RATE_FNS = {
  "dropout_inverted": lambda k, x, rate: jd.dropout(k, x, rate=rate),
  "dropout_noninverted": lambda k, x, rate: jd.dropout(k, x, rate=rate, inverted=False),
  "dropout_broadcast": lambda k, x, rate: jd.dropout(k, x, rate=rate, broadcast_dims=(0,)),
  "dropconnect": lambda k, x, w, b, rate: jd.dropconnect(
    k, x, w, bias=b[0], rate=rate, activation=jax.nn.relu
  ),
  "dropconnect_noninverted": lambda k, x, w, b, rate: jd.dropconnect(
    k, x, w, rate=rate, inverted=False, activation=jnp.tanh
  ),
  "dropconnect_inference": lambda k, x, w, b, rate: jd.dropconnect_inference(
    k, x, w, bias=b[0], rate=rate, activation=jax.nn.relu, num_samples=16
  ),
  "gaussian_dropout": lambda k, x, rate: jd.gaussian_dropout(k, x, rate=rate),
  "alpha_dropout": lambda k, x, rate: jd.alpha_dropout(k, x, rate=rate),
  "spatial_dropout": lambda k, x, rate: jd.spatial_dropout(k, x, rate=rate, batch_axis=0),
  "drop_path": lambda k, x, rate: jd.drop_path(k, x, rate=rate),
}

# The generic transformation tests run one case per code path; dropout_broadcast and
# dropconnect_noninverted (same code as spatial_dropout / dropconnect) only run the rate
# tests and their specific tests.
CASES = {
  name: (lambda f: lambda k, *a: f(k, *a, rate=RATE))(f)
  for name, f in RATE_FNS.items()
  if name not in ("dropout_broadcast", "dropconnect_noninverted")
}
CASES["standout"] = lambda k, x, w, ws: jd.standout(
  k, x, w, ws, activation=jax.nn.relu, gate=jax.nn.sigmoid
)

MAKE_ARGS = {name: (lambda dt: (_normal((4, 3, 8), dt),)) for name in RATE_FNS}
for _name in ("dropconnect", "dropconnect_noninverted", "dropconnect_inference", "standout"):
  MAKE_ARGS[_name] = _dense_args

NAMES = sorted(CASES)
RATE_NAMES = sorted(RATE_FNS)


@pytest.mark.parametrize("name", NAMES)
def test_same_key_same_values_different_key_differs(name):
  f, args = jax.jit(CASES[name]), MAKE_ARGS[name](jnp.float32)
  a = np.asarray(f(jax.random.key(0), *args))
  b = np.asarray(f(jax.random.key(0), *args))
  c = np.asarray(f(jax.random.key(1), *args))
  np.testing.assert_array_equal(a, b)
  assert np.any(a != c), f"{name}: keys 0 and 1 gave the same output"


@pytest.mark.parametrize("name", NAMES)
def test_dtype_kept(name):
  f = CASES[name]
  helpers.assert_dtypes_kept(jax.jit(lambda *a: f(jax.random.key(0), *a)), MAKE_ARGS[name])


@pytest.mark.parametrize("name", NAMES)
def test_jit_matches_eager(name):
  helpers.assert_jit_matches_eager(CASES[name], jax.random.key(0), *MAKE_ARGS[name](jnp.float32))


@pytest.mark.parametrize("name", NAMES)
def test_vmap_over_split_keys_matches_loop(name):
  f, (x, *more) = CASES[name], MAKE_ARGS[name](jnp.float32)
  keys = jax.random.split(jax.random.key(3), x.shape[0])
  # Per-example randomness: vmap over (key, example); the other arguments are closed over.
  helpers.assert_vmap_matches_loop(lambda k, xi: f(k, xi, *more), keys, x)


@pytest.mark.parametrize("name", NAMES)
def test_grad_finite(name):
  f, args = CASES[name], MAKE_ARGS[name](jnp.float32)
  helpers.assert_grad_finite(
    jax.jit(lambda *a: f(jax.random.key(0), *a)), *args, argnums=tuple(range(len(args)))
  )


@pytest.mark.parametrize(
  "name",
  [
    "dropout_inverted",
    "gaussian_dropout",
    "alpha_dropout",
    "dropconnect_noninverted",
    "standout_test",
  ],
)
def test_check_grads_where_smooth(name):
  # For a fixed key each form is smooth in its array arguments (tanh/sigmoid, no kinks).
  if name == "dropconnect_noninverted":

    def f(*a):
      return RATE_FNS[name](jax.random.key(0), *a, rate=RATE)

    args = _dense_args(jnp.float32)
  elif name == "standout_test":

    def f(x, w, ws):
      return jd.standout(None, x, w, ws, activation=jnp.tanh, train=False)

    args = _dense_args(jnp.float32)
  else:

    def f(*a):
      return CASES[name](jax.random.key(0), *a)

    args = MAKE_ARGS[name](jnp.float32)
  jax.test_util.check_grads(f, args, order=1, modes=("rev",), atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("name", NAMES)
def test_no_retrace(name):
  helpers.assert_no_retrace(CASES[name], jax.random.key(0), *MAKE_ARGS[name](jnp.float32))


@pytest.mark.parametrize("name", RATE_NAMES)
@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_bad_rate_raises(name, bad):
  f, args = RATE_FNS[name], MAKE_ARGS[name](jnp.float32)
  with pytest.raises(ValueError, match=r"rate=.* is outside \[0.0, 1.0\]"):
    f(jax.random.key(0), *args, rate=bad)


def test_bad_rate_message_names_function():
  for fn in (jd.dropout, jd.gaussian_dropout, jd.alpha_dropout, jd.spatial_dropout, jd.drop_path):
    with pytest.raises(ValueError, match=f"^{fn.__name__}: rate=1.5"):
      fn(jax.random.key(0), jnp.ones((2, 3)), rate=1.5)
  with pytest.raises(ValueError, match="^dropconnect: rate=-0.1"):
    jd.dropconnect(jax.random.key(0), jnp.ones((2, 3)), jnp.ones((3, 2)), rate=-0.1)


@pytest.mark.parametrize("name", RATE_NAMES)
def test_rate_one_gives_zeros_with_zero_grads(name):
  f, args = RATE_FNS[name], MAKE_ARGS[name](jnp.float32)

  def g(*a):
    return f(jax.random.key(0), *a, rate=1.0)

  y = np.asarray(g(*args))
  if name.startswith("dropconnect"):
    act = jnp.tanh if name == "dropconnect_noninverted" else jax.nn.relu
    want = np.asarray(act(jnp.zeros(y.shape)))  # every weight dropped: f(0)
  else:
    want = np.zeros_like(y)
  np.testing.assert_array_equal(y, want)
  grads = jax.grad(lambda *a: jnp.sum(g(*a)), argnums=tuple(range(len(args))))(*args)
  for leaf in grads:
    assert np.all(np.isfinite(leaf)), f"{name}: non-finite gradient at rate=1"
    np.testing.assert_array_equal(np.asarray(leaf), 0.0)


@pytest.mark.parametrize("name", [n for n in RATE_NAMES if not n.startswith("dropconnect")])
def test_rate_zero_is_identity(name):
  (x,) = MAKE_ARGS[name](jnp.float32)
  np.testing.assert_array_equal(RATE_FNS[name](jax.random.key(0), x, rate=0.0), x)


def test_rate_zero_dropconnect_is_dense():
  x, w, b = _dense_args(jnp.float32)
  want = np.maximum(np.asarray(x, np.float64) @ np.asarray(w, np.float64) + np.asarray(b[0]), 0)
  for fn in (jd.dropconnect, jd.dropconnect_inference):
    y = fn(jax.random.key(0), x, w, bias=b[0], rate=0.0, activation=jax.nn.relu)
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("rate,dims", [(0.5, ()), (0.1, ()), (0.3, (0, 2)), (0.7, (1,))])
def test_dropout_equals_flax_same_key(dtype, rate, dims):
  key, x = jax.random.key(7), _normal((4, 5, 6), dtype)
  ours = jd.dropout(key, x, rate=rate, broadcast_dims=dims)
  linen = nn.Dropout(rate, broadcast_dims=dims, deterministic=False).apply({}, x, rng=key)
  nnx_out = nnx.Dropout(rate, broadcast_dims=dims)(x, deterministic=False, rngs=key)
  np.testing.assert_array_equal(np.asarray(ours, np.float32), np.asarray(linen, np.float32))
  np.testing.assert_array_equal(np.asarray(ours, np.float32), np.asarray(nnx_out, np.float32))
  assert ours.dtype == linen.dtype
  # A legacy uint32 key too.
  raw = jax.random.PRNGKey(3)
  np.testing.assert_array_equal(
    np.asarray(jd.dropout(raw, x, rate=rate, broadcast_dims=dims), np.float32),
    np.asarray(
      nn.Dropout(rate, broadcast_dims=dims, deterministic=False).apply({}, x, rng=raw), np.float32
    ),
  )


def test_dropout_eval_equals_flax_deterministic():
  x = _normal((4, 5))
  np.testing.assert_array_equal(
    jd.dropout(None, x, rate=0.4, train=False), nn.Dropout(0.4, deterministic=True).apply({}, x)
  )


@pytest.mark.parametrize("inverted", [True, False])
def test_dropout_matches_numpy_transcription(inverted):
  key, rate, x = jax.random.key(5), 0.4, _normal((8, 7))
  q = 1 - rate
  u = np.asarray(jax.random.uniform(key, x.shape))  # bernoulli(key, q) == uniform < q
  m = u < q  # m_i ~ Bernoulli(1 - rate)
  xn = np.asarray(x, np.float64)
  want_train = xn * m / q if inverted else xn * m
  want_test = xn if inverted else q * xn
  np.testing.assert_allclose(
    jd.dropout(key, x, rate=rate, inverted=inverted), want_train, rtol=1e-6, atol=1e-7
  )
  np.testing.assert_allclose(
    jd.dropout(None, x, rate=rate, inverted=inverted, train=False), want_test, rtol=1e-6, atol=1e-7
  )


@pytest.mark.parametrize("inverted", [True, False])
def test_dropout_statistics_test_output_is_training_expectation(inverted):
  # 200k units: the kept fraction has std sqrt(q(1-q)/n) ~ 1.1e-3; tolerance 5e-3.
  rate, n = 0.3, 200_000
  x = jnp.full((n,), 2.0)
  y = np.asarray(jd.dropout(jax.random.key(11), x, rate=rate, inverted=inverted))
  assert abs(np.mean(y != 0) - (1 - rate)) < 5e-3
  test = np.asarray(jd.dropout(None, x, rate=rate, inverted=inverted, train=False))
  np.testing.assert_allclose(y.mean(), test.mean(), rtol=1e-2)


# One case per distinct traced-rate code path (spatial_dropout and drop_path go through
# dropout; dropconnect_inference uses dropconnect's safe 1/q).
@pytest.mark.parametrize(
  "name", ["dropout_inverted", "dropconnect", "gaussian_dropout", "alpha_dropout"]
)
def test_traced_rate(name):
  # A traced rate (e.g. scheduled) cannot be validated at trace time but must compute the
  # same values as the static one, and rate = 1 must stay NaN-free.
  f, args = RATE_FNS[name], MAKE_ARGS[name](jnp.float32)
  key = jax.random.key(2)
  g = jax.jit(lambda r, *a: f(key, *a, rate=r))
  np.testing.assert_allclose(g(0.3, *args), f(key, *args, rate=0.3), rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(g(1.0, *args), f(key, *args, rate=1.0), rtol=0, atol=0)
  grads = jax.grad(lambda *a: jnp.sum(g(1.0, *a)), argnums=tuple(range(len(args))))(*args)
  for leaf in grads:
    np.testing.assert_array_equal(np.asarray(leaf), 0.0)


def test_dropout_bad_broadcast_dims():
  with pytest.raises(ValueError, match="dropout: broadcast_dims=.*out of range"):
    jd.dropout(jax.random.key(0), jnp.ones((2, 3)), rate=0.5, broadcast_dims=(2,))


# ---------------------------------------------------------------------------------------
# dropconnect
# ---------------------------------------------------------------------------------------


def _np_dropconnect(key, x, w, b, rate, act, inverted):
  """NumPy transcription: y = f(s (x (W ⊙ M) + b ⊙ m_b)), masks as documented."""
  q = 1 - rate
  k_w, k_b = jax.random.split(key)
  m_w = np.asarray(jax.random.uniform(k_w, w.shape)) < q
  m_b = np.asarray(jax.random.uniform(k_b, b.shape)) < q
  s = 1 / q if inverted else 1.0
  u = np.asarray(x, np.float64) @ (np.asarray(w, np.float64) * m_w) + np.asarray(b) * m_b
  return act(s * u)


@pytest.mark.parametrize("inverted", [True, False])
def test_dropconnect_matches_numpy_transcription(inverted):
  x, w, b = _dense_args(jnp.float32)
  key = jax.random.key(9)
  y = jd.dropconnect(key, x, w, bias=b[0], rate=0.4, activation=jnp.tanh, inverted=inverted)
  want = _np_dropconnect(key, x, w, b[0], 0.4, np.tanh, inverted)
  np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("inverted", [True, False])
def test_dropconnect_inference_matches_numpy_transcription(inverted):
  x, w, b = _dense_args(jnp.float32)
  key, rate, z = jax.random.key(4), 0.4, 32
  p = 1 - rate  # the seed's p: keep probability
  s = 1 / p if inverted else 1.0
  xn, wn, bn = (np.asarray(a, np.float64) for a in (x, w, b[0]))
  mu = s * p * (xn @ wn + bn)  # mu = p W x (seed 002), times s
  var = s**2 * p * (1 - p) * ((xn * xn) @ (wn * wn) + bn * bn)  # p(1-p)(W⊙W)(x⊙x)
  eps = np.asarray(jax.random.normal(key, (z,) + mu.shape))
  want = np.mean(np.maximum(mu + np.sqrt(var) * eps, 0), axis=0)  # (1/Z) Σ f(u_z)
  y = jd.dropconnect_inference(
    key, x, w, bias=b[0], rate=rate, activation=jax.nn.relu, num_samples=z, inverted=inverted
  )
  np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)
  # Identity activation: the exact mean, no sampling.
  np.testing.assert_allclose(
    jd.dropconnect_inference(None, x, w, bias=b[0], rate=rate, inverted=inverted),
    mu,
    rtol=1e-5,
    atol=1e-6,
  )


def test_dropconnect_inference_relu_matches_closed_form():
  # E[relu(u)], u ~ N(mu, s^2) = mu Φ(mu/s) + s φ(mu/s). Z = 40000 samples: standard
  # error <= std(relu(u))/200; tolerance 3e-2 absolute on O(1) outputs.
  x, w, b = _dense_args(jnp.float32)
  rate = 0.5
  xn, wn = np.asarray(x, np.float64), np.asarray(w, np.float64)
  mu = xn @ wn
  sd = np.sqrt(rate / (1 - rate) * (xn * xn) @ (wn * wn))
  t = mu / sd
  cdf = 0.5 * (1 + np.vectorize(math.erf)(t / math.sqrt(2)))  # Φ(t)
  pdf = np.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)  # φ(t)
  want = mu * cdf + sd * pdf
  y = jd.dropconnect_inference(
    jax.random.key(1), x, w, rate=rate, activation=jax.nn.relu, num_samples=40_000
  )
  np.testing.assert_allclose(y, want, atol=3e-2)


@pytest.mark.parametrize("inverted", [True, False])
def test_dropconnect_inference_matches_monte_carlo_of_training(inverted):
  # Wide layer (64 inputs) so the pre-activation is close to Gaussian (CLT).
  # Monte-Carlo mean over 20000 masks vs 20000 Gaussian samples: both standard errors
  # are ~5e-3 here; the Gaussian approximation error is of the same order. atol 3e-2.
  n_in, n_mc = 64, 20_000
  x = _normal((2, n_in), seed=5)
  w = _normal((n_in, 4), seed=6) / math.sqrt(n_in)
  b = 0.1 * _normal((4,), seed=7)
  rate = 0.4
  keys = jax.random.split(jax.random.key(8), n_mc)

  @jax.jit
  @jax.vmap
  def train(k):  # the training form with relu and with the identity, same masks
    y = jd.dropconnect(k, x, w, bias=b, rate=rate, inverted=inverted)
    return jax.nn.relu(y), y

  train_relu, train_lin = (np.asarray(a) for a in train(keys))
  inf = jax.jit(
    lambda k: jd.dropconnect_inference(
      k, x, w, bias=b, rate=rate, activation=jax.nn.relu, num_samples=n_mc, inverted=inverted
    )
  )(jax.random.key(9))
  np.testing.assert_allclose(inf, train_relu.mean(axis=0), atol=3e-2)
  # The identity activation: the exact expectation (tolerance: 4 standard errors).
  lin = jd.dropconnect_inference(None, x, w, bias=b, rate=rate, inverted=inverted)
  se = train_lin.std(axis=0) / math.sqrt(n_mc)
  assert np.all(np.abs(train_lin.mean(axis=0) - lin) < 4 * se + 1e-6)


def test_dropconnect_mask_shared_across_batch_and_per_example_with_vmap():
  # One weight mask per call: identical rows of x give identical outputs.
  x = jnp.tile(_normal((1, IN)), (4, 1))
  _, w, _ = _dense_args(jnp.float32)
  y = np.asarray(jd.dropconnect(jax.random.key(0), x, w, rate=0.5))
  np.testing.assert_array_equal(y, np.broadcast_to(y[:1], y.shape))
  keys = jax.random.split(jax.random.key(0), 4)
  yv = np.asarray(jax.vmap(lambda k, xi: jd.dropconnect(k, xi, w, rate=0.5))(keys, x))
  assert not np.allclose(yv, yv[:1])


def test_dense_shape_errors():
  x, w, b = _dense_args(jnp.float32)
  with pytest.raises(ValueError, match="dropconnect: x has shape"):
    jd.dropconnect(jax.random.key(0), x[:, :2], w, rate=0.5)
  with pytest.raises(ValueError, match="dropconnect: bias has shape"):
    jd.dropconnect(jax.random.key(0), x, w, bias=jnp.ones(2), rate=0.5)
  with pytest.raises(ValueError, match="dropconnect_inference: num_samples=0"):
    jd.dropconnect_inference(jax.random.key(0), x, w, rate=0.5, num_samples=0)
  with pytest.raises(ValueError, match="standout: ws has shape"):
    jd.standout(jax.random.key(0), x, w, jnp.ones((IN, 2)))
  with pytest.raises(ValueError, match="standout: gate_bias has shape"):
    jd.standout(jax.random.key(0), x, w, w, gate_bias=jnp.ones(2))


# ---------------------------------------------------------------------------------------
# standout
# ---------------------------------------------------------------------------------------


def test_standout_matches_numpy_transcription():
  x, w, ws = _dense_args(jnp.float32)
  b, bs = _normal((OUT,), seed=4), _normal((OUT,), seed=5)
  key = jax.random.key(3)
  xn, wn, wsn = (np.asarray(a, np.float64) for a in (x, w, ws))
  h = np.maximum(xn @ wn + np.asarray(b), 0)  # f(W x + b)
  pi = 1 / (1 + np.exp(-(xn @ wsn + np.asarray(bs))))  # pi = g(W_s x + b_s)
  m = np.asarray(jax.random.uniform(key, pi.shape)) < pi  # m ~ Bernoulli(pi)
  kw = dict(bias=b, gate_bias=bs, activation=jax.nn.relu)
  np.testing.assert_allclose(jd.standout(key, x, w, ws, **kw), h * m, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(
    jd.standout(None, x, w, ws, train=False, **kw), h * pi, rtol=1e-5, atol=1e-6
  )


def test_standout_test_output_is_monte_carlo_mean_of_training():
  # 20000 masks; per-unit standard error <= max|h| * 0.5 / sqrt(20000); 5 standard errors.
  x, w, ws = _dense_args(jnp.float32)
  n = 20_000
  keys = jax.random.split(jax.random.key(12), n)
  train = np.asarray(
    jax.jit(jax.vmap(lambda k: jd.standout(k, x, w, ws, activation=jnp.tanh)))(keys)
  )
  test = np.asarray(jd.standout(None, x, w, ws, activation=jnp.tanh, train=False))
  se = train.std(axis=0) / math.sqrt(n)
  assert np.all(np.abs(train.mean(axis=0) - test) <= 5 * se + 1e-6)
  # The seed's literal test form f(Wx)(1 - g) is NOT the training expectation here.
  h = np.tanh(np.asarray(x @ w))
  seed_literal = h * (1 - np.asarray(jax.nn.sigmoid(x @ ws)))
  assert np.max(np.abs(train.mean(axis=0) - seed_literal)) > 0.05


# ---------------------------------------------------------------------------------------
# gaussian_dropout, alpha_dropout
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_gaussian_dropout_moments(rate):
  # n = 400k: mean std error sqrt(v/n) <= 1.6e-3; variance relative std error
  # sqrt(2/n) ~ 2.2e-3. Tolerances: 1e-2 absolute on the mean, 2% relative on the variance.
  n = 400_000
  y = np.asarray(jd.gaussian_dropout(jax.random.key(0), jnp.ones((n,)), rate=rate), np.float64)
  var = rate / (1 - rate)  # variance of the inverted Bernoulli mask m/(1-rate)
  assert abs(y.mean() - 1) < 1e-2
  assert abs(y.var() / var - 1) < 2e-2
  # Same first two moments as inverted Bernoulli dropout of the same rate.
  d = np.asarray(jd.dropout(jax.random.key(1), jnp.ones((n,)), rate=rate), np.float64)
  assert abs(d.var() / y.var() - 1) < 3e-2
  # Seed 002's p(1-p) would be a different variance (0.16 vs 0.25 at rate 0.2; 0.25 vs 1
  # at 0.5): ours is not that.
  assert abs(y.var() - rate * (1 - rate)) > 0.05
  np.testing.assert_array_equal(jd.gaussian_dropout(None, jnp.ones(3), rate=rate, train=False), 1.0)


@pytest.mark.parametrize("rate", [0.1, 0.3])
def test_alpha_dropout_statistics_vs_torch(rate):
  # Standard-normal input, 200k units: mean std error ~2.2e-3, variance ~3.2e-3.
  # Tolerances 1.5e-2 on the mean and on the variance, for both implementations.
  n = 200_000
  x = np.asarray(_normal((n,), seed=21))
  ours = np.asarray(jd.alpha_dropout(jax.random.key(2), jnp.asarray(x), rate=rate), np.float64)
  torch.manual_seed(0)
  ref = F.alpha_dropout(torch.from_numpy(x.copy()), rate, training=True).double().numpy()
  for y in (ours, ref):
    assert abs(y.mean()) < 1.5e-2
    assert abs(y.var() - 1) < 1.5e-2
  # The value of a dropped unit, a·α' + b: the most frequent value of each output.
  vals, counts = np.unique(ref, return_counts=True)
  torch_dropped = vals[np.argmax(counts)]
  vals, counts = np.unique(ours, return_counts=True)
  ours_dropped = vals[np.argmax(counts)]
  np.testing.assert_allclose(ours_dropped, torch_dropped, rtol=1e-6)
  # Dropped fraction: both within 5e-3 of rate (std error ~1e-3).
  assert abs(np.mean(ours == ours_dropped) - rate) < 5e-3
  assert abs(np.mean(ref == torch_dropped) - rate) < 5e-3


def test_alpha_dropout_matches_numpy_transcription():
  key, rate, x = jax.random.key(6), 0.25, _normal((30, 20))
  q = 1 - rate
  alpha_p = -1.0507009873554805 * 1.6732632423543772  # α' = -λα
  a = (q * (1 + rate * alpha_p**2)) ** -0.5
  b = -a * alpha_p * rate
  m = np.asarray(jax.random.uniform(key, x.shape)) < q
  want = a * (np.asarray(x, np.float64) * m + alpha_p * (1 - m)) + b
  np.testing.assert_allclose(jd.alpha_dropout(key, x, rate=rate), want, rtol=1e-5, atol=1e-6)
  # torch returns zeros at rate 1, as we do.
  np.testing.assert_array_equal(F.alpha_dropout(torch.ones(3), 1.0, training=True), 0.0)


# ---------------------------------------------------------------------------------------
# spatial_dropout, drop_path
# ---------------------------------------------------------------------------------------


def test_spatial_dropout_structure_and_flax():
  key, x = jax.random.key(4), _normal((8, 5, 5, 16))
  y = np.asarray(jd.spatial_dropout(key, x, rate=0.5, batch_axis=0))
  dropped = np.all(y == 0, axis=(1, 2))  # (N, C)
  kept = np.all(y != 0, axis=(1, 2))
  assert np.all(dropped | kept), "a channel was partly dropped"
  assert not np.all(dropped == dropped[:1]), "batch entries share the mask"
  ref = nn.Dropout(0.5, broadcast_dims=(1, 2), deterministic=False).apply({}, x, rng=key)
  np.testing.assert_array_equal(y, np.asarray(ref))
  # Without batch_axis every leading axis shares the mask.
  y1 = np.asarray(jd.spatial_dropout(key, x, rate=0.5))
  assert np.all((y1 == 0) == (y1[:1, :1, :1] == 0))
  # channel_axis=1 (NCHW).
  y2 = np.asarray(jd.spatial_dropout(key, x, rate=0.5, channel_axis=1, batch_axis=0))
  z = np.all(y2 == 0, axis=(2, 3))
  assert np.all(z | np.all(y2 != 0, axis=(2, 3)))


def test_spatial_dropout_statistics_vs_torch_dropout2d():
  # 512 x 64 = 32768 (example, channel) draws: kept-fraction std error ~2.5e-3; tol 1.2e-2.
  rate, n, c = 0.3, 512, 64
  x = jnp.ones((n, 3, 3, c))
  y = np.asarray(jd.spatial_dropout(jax.random.key(5), x, rate=rate, batch_axis=0))
  ours_kept = np.mean(y[:, 0, 0, :] != 0)
  torch.manual_seed(1)
  ref = F.dropout2d(torch.ones(n, c, 3, 3), rate, training=True).numpy()
  torch_kept = np.mean(ref[:, :, 0, 0] != 0)
  assert abs(ours_kept - (1 - rate)) < 1.2e-2
  assert abs(torch_kept - (1 - rate)) < 1.2e-2
  # Same set of values: 0 and 1/(1-rate); mean preserved.
  np.testing.assert_allclose(np.unique(y), np.unique(ref), rtol=1e-6)
  assert abs(y.mean() - 1) < 2e-2


def test_spatial_dropout_bad_axes():
  with pytest.raises(ValueError, match="spatial_dropout: batch_axis=3 is the channel axis"):
    jd.spatial_dropout(jax.random.key(0), jnp.ones((2, 3, 3, 4)), rate=0.5, batch_axis=3)
  with pytest.raises(ValueError, match="spatial_dropout: channel_axis=4"):
    jd.spatial_dropout(jax.random.key(0), jnp.ones((2, 3, 3, 4)), rate=0.5, channel_axis=4)


def test_drop_path_statistics():
  # 20000 examples: kept-fraction std error ~3.2e-3; tol 1.5e-2. Each row all-or-nothing.
  rate, n = 0.25, 20_000
  x = _normal((n, 4, 3))
  y = np.asarray(jd.drop_path(jax.random.key(6), x, rate=rate))
  xn = np.asarray(x)
  kept = np.all(np.isclose(y, xn / (1 - rate), rtol=1e-6), axis=(1, 2))
  dropped = np.all(y == 0, axis=(1, 2))
  assert np.all(kept | dropped)
  assert abs(kept.mean() - (1 - rate)) < 1.5e-2
  # Mean preserved: E[y] = x, checked on ones (std error ~ sqrt(rate/(1-rate)/n) ~ 4e-3).
  ones = np.asarray(jd.drop_path(jax.random.key(7), jnp.ones((n, 2)), rate=rate))
  assert abs(ones.mean() - 1) < 2e-2
  ref = nn.Dropout(rate, broadcast_dims=(1, 2), deterministic=False).apply(
    {}, x, rng=jax.random.key(6)
  )
  np.testing.assert_array_equal(y, np.asarray(ref))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_eval_forms_keep_dtype_and_values(dtype):
  x = _normal((3, 4), dtype)
  xn = np.asarray(x, np.float32)
  for fn in (jd.dropout, jd.gaussian_dropout, jd.alpha_dropout, jd.spatial_dropout, jd.drop_path):
    y = fn(None, x, rate=0.3, train=False)
    assert y.dtype == dtype
    np.testing.assert_array_equal(np.asarray(y, np.float32), xn)  # inverted: identity
  y = jd.dropout(None, x, rate=0.3, inverted=False, train=False)
  assert y.dtype == dtype
  np.testing.assert_allclose(np.asarray(y, np.float32), 0.7 * xn, rtol=1e-2)  # q x
  w = _normal((4, 2), dtype, 2)
  y = jd.standout(None, x, w, w, train=False)
  assert y.dtype == dtype
  xw = np.asarray(x, np.float64) @ np.asarray(w, np.float64)
  np.testing.assert_allclose(
    np.asarray(y, np.float32), xw / (1 + np.exp(-xw)), rtol=2e-2, atol=2e-2
  )
