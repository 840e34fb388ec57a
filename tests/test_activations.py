"""Tests for jpatterns.activations against jax.nn, PyTorch and NumPy.

Tolerances (float32):
- vs jax.nn: rtol=1e-6, atol=1e-7 (same formulas; in practice bit-equal);
- vs torch: rtol=1e-5, atol=1e-6 (values), atol=5e-6 (autograd gradients of
  sum(w * f(x)); gelu-tanh's derivative crosses 0 where the formulas round apart);
- bf16 / f16 inputs vs the float32 reference on the same (rounded) inputs:
  tests/helpers.TOL for that dtype;
- check_grads: float64 (jax.enable_x64), order 2 where smooth, order 1 else,
  on inputs away from the kinks.
RReLU train slopes: 200k draws, mean within 1e-3 of (l+u)/2 (~5 standard errors),
variance within 3% of (u-l)^2/12 (~10 standard errors), range within [l, u].
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import helpers
import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from jpatterns import activations as A

JNN_TOL = dict(rtol=1e-6, atol=1e-7)
TORCH_TOL = dict(rtol=1e-5, atol=1e-6)
TORCH_GRAD_TOL = dict(rtol=1e-5, atol=5e-6)

_KEY = jax.random.key(42)
_ALPHA8 = np.linspace(0.05, 0.4, 8).astype(np.float32)  # PReLU per-channel slopes


@dataclasses.dataclass(frozen=True)
class Case:
  name: str
  fn: Callable  # jpatterns, x -> y
  jnn: Callable | None = None  # jax.nn (or jnp) reference, x -> y
  torch_fn: Callable | None = None  # torch reference, tensor -> tensor
  smooth: bool = False  # C^2 everywhere: check_grads order 2


def _rrelu_eval_jnn(x):
  return jax.nn.leaky_relu(x, (1 / 8 + 1 / 3) / 2)


CASES = [
  Case("sigmoid", A.sigmoid, jax.nn.sigmoid, torch.sigmoid, True),
  Case("tanh", A.tanh, jnp.tanh, torch.tanh, True),
  Case("relu", A.relu, jax.nn.relu, F.relu),
  Case("leaky_relu", A.leaky_relu, jax.nn.leaky_relu, F.leaky_relu),
  Case(
    "leaky_relu_0.2",
    lambda x: A.leaky_relu(x, negative_slope=0.2),
    lambda x: jax.nn.leaky_relu(x, 0.2),
    lambda t: F.leaky_relu(t, 0.2),
  ),
  Case(
    "prelu_scalar",
    lambda x: A.prelu(x, 0.25),
    lambda x: jax.nn.leaky_relu(x, 0.25),
    lambda t: F.prelu(t, torch.tensor([0.25])),
  ),
  Case(
    "prelu_channel",
    lambda x: A.prelu(x, jnp.asarray(_ALPHA8)),
    lambda x: jax.nn.leaky_relu(x, jnp.asarray(_ALPHA8)),
    lambda t: F.prelu(t, torch.from_numpy(_ALPHA8)),
  ),  # torch: channels = dim 1
  Case(
    "rrelu_eval",
    lambda x: A.rrelu(None, x, train=False),
    _rrelu_eval_jnn,
    lambda t: F.rrelu(t, training=False),
  ),
  Case("rrelu_train", lambda x: A.rrelu(_KEY, x)),  # values: statistical tests below
  Case("elu", A.elu, jax.nn.elu, F.elu),
  Case(
    "elu_0.5", lambda x: A.elu(x, alpha=0.5), lambda x: jax.nn.elu(x, 0.5), lambda t: F.elu(t, 0.5)
  ),
  Case("selu", A.selu, jax.nn.selu, F.selu),
  Case(
    "celu_1.5",
    lambda x: A.celu(x, alpha=1.5),
    lambda x: jax.nn.celu(x, 1.5),
    lambda t: F.celu(t, 1.5),
  ),
  Case(
    "gelu_exact",
    A.gelu,
    lambda x: jax.nn.gelu(x, approximate=False),
    lambda t: F.gelu(t, approximate="none"),
    True,
  ),
  Case(
    "gelu_tanh",
    lambda x: A.gelu(x, approximate=True),
    lambda x: jax.nn.gelu(x, approximate=True),
    lambda t: F.gelu(t, approximate="tanh"),
    True,
  ),
  Case("silu", A.silu, jax.nn.silu, F.silu, True),
  Case("swish", A.swish, jax.nn.swish, F.silu, True),
  Case("mish", A.mish, jax.nn.mish, F.mish, True),
  Case("softplus", A.softplus, jax.nn.softplus, F.softplus, True),
  Case("softmax", A.softmax, jax.nn.softmax, lambda t: torch.softmax(t, -1), True),
  Case(
    "softmax_axis0",
    lambda x: A.softmax(x, axis=0),
    lambda x: jax.nn.softmax(x, axis=0),
    lambda t: torch.softmax(t, 0),
    True,
  ),
  Case("log_softmax", A.log_softmax, jax.nn.log_softmax, lambda t: F.log_softmax(t, -1), True),
]
IDS = [c.name for c in CASES]


def _x(dtype=jnp.float32, shape=(5, 8)):
  """Inputs in [-6, 6], none within 0.05 of 0 (away from the kinks)."""
  rng = np.random.default_rng(0)
  x = rng.uniform(0.05, 6.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)
  return jnp.asarray(x, dtype)


def _weights(shape):
  """Fixed cotangent: gradients of sum(w * f(x)) (sum(softmax) would be constant)."""
  return np.random.default_rng(5).uniform(0.5, 1.5, size=shape).astype(np.float32)


def _grad(fn, x):
  w = jnp.asarray(_weights(x.shape))
  return jax.grad(lambda v: (fn(v) * w).sum())(x)


def _torch_value_and_grad(fn, x):
  t = torch.tensor(np.asarray(x, np.float32), requires_grad=True)
  y = fn(t)
  (y * torch.from_numpy(_weights(x.shape))).sum().backward()
  return y.detach().numpy(), t.grad.numpy()


# -- generic tests over the registry ----------------------------------------


@pytest.mark.parametrize("case", [c for c in CASES if c.jnn], ids=lambda c: c.name)
def test_values_and_grads_match_jax_nn(case):
  x = _x()
  np.testing.assert_allclose(case.fn(x), case.jnn(x), **JNN_TOL)
  np.testing.assert_allclose(_grad(case.fn, x), _grad(case.jnn, x), **JNN_TOL)


@pytest.mark.parametrize("case", [c for c in CASES if c.torch_fn], ids=lambda c: c.name)
def test_values_and_grads_match_torch(case):
  x = _x()
  y_t, g_t = _torch_value_and_grad(case.torch_fn, x)
  np.testing.assert_allclose(case.fn(x), y_t, **TORCH_TOL)
  np.testing.assert_allclose(_grad(case.fn, x), g_t, **TORCH_GRAD_TOL)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dtype_kept_and_low_precision_values(case):
  helpers.assert_dtypes_kept(case.fn, lambda dt: (_x(dt),))
  if case.jnn is None:
    return  # rrelu_train: slopes drawn in the input dtype; the stat tests cover values
  for dtype in (jnp.bfloat16, jnp.float16):
    x = _x(dtype)
    want = np.asarray(case.jnn(x.astype(jnp.float32)), np.float64)
    np.testing.assert_allclose(
      np.asarray(case.fn(x), np.float64), want, **helpers.TOL[jnp.dtype(dtype)]
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_matches_eager(case):
  helpers.assert_jit_matches_eager(case.fn, _x())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vmap_matches_loop(case):
  helpers.assert_vmap_matches_loop(case.fn, _x())


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_grads(case):
  helpers.assert_grad_finite(case.fn, _x())
  with jax.enable_x64(True):
    x = _x(jnp.float64, shape=(2, 8))
    order = 2 if case.smooth else 1
    jax.test_util.check_grads(
      case.fn, (x,), order=order, modes=("fwd", "rev"), atol=1e-5, rtol=1e-5, eps=1e-6
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_no_retrace(case):
  helpers.assert_no_retrace(case.fn, _x())


EXTREMES = np.array(
  [
    [-1e4, -1e3, -100.0, -20.0, -1e-30, 0.0, 1e-30, 20.0],
    [100.0, 1e3, 1e4, -88.0, 88.0, -1e5, 1e5, -1e-45],
  ],
  np.float32,
)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_extreme_inputs_finite(case):
  """Every activation is finite, with finite gradients, on huge and tiny inputs."""
  x = jnp.asarray(EXTREMES)
  y = case.fn(x)
  g = jax.grad(lambda v: case.fn(v).sum())(x)
  assert np.all(np.isfinite(y)), (case.name, y)
  assert np.all(np.isfinite(g)), (case.name, g)
  if case.jnn is not None:
    np.testing.assert_allclose(y, case.jnn(x), **JNN_TOL)


# -- stability: exact values where the naive formula overflows -----------------


def test_stable_values_at_extremes():
  np.testing.assert_array_equal(A.softplus(jnp.array([1e4, -1e4])), [1e4, 0.0])
  np.testing.assert_array_equal(
    jax.grad(lambda x: A.softplus(x).sum())(jnp.array([1e4, -1e4])), [1.0, 0.0]
  )
  np.testing.assert_array_equal(A.sigmoid(jnp.array([-1e4, 1e4])), [0.0, 1.0])
  np.testing.assert_array_equal(A.mish(jnp.array([1e4, -1e4])), [1e4, 0.0])
  np.testing.assert_array_equal(
    jax.grad(lambda x: A.mish(x).sum())(jnp.array([1e4, -1e4])), [1.0, 0.0]
  )
  np.testing.assert_array_equal(A.silu(jnp.array([-1e4, 1e4])), [0.0, 1e4])
  np.testing.assert_array_equal(A.elu(jnp.array([-1e4, 1e4])), [-1.0, 1e4])
  logits = jnp.array([1e4, -1e4, 0.0])
  np.testing.assert_array_equal(A.log_softmax(logits), [0.0, -2e4, -1e4])
  np.testing.assert_array_equal(A.softmax(logits), [1.0, 0.0, 0.0])
  g = jax.grad(lambda v: A.log_softmax(v)[1])(logits)  # d/dx of log p_1 = e_1 − p
  np.testing.assert_array_equal(g, [-1.0, 1.0, 0.0])


def test_log_softmax_matches_float64_numpy_on_large_logits():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(4, 7)) * 3e3
  ref = x - x.max(-1, keepdims=True)
  ref = ref - np.log(np.exp(ref).sum(-1, keepdims=True))  # NumPy float64 transcription
  np.testing.assert_allclose(
    A.log_softmax(jnp.asarray(x, jnp.float32)), ref, rtol=1e-6, atol=2e-3
  )  # atol: float32 rounding of 3e3-sized x


# -- seed formulas in NumPy -------------------------------------------------


def test_tanh_equals_seed_identity():
  x = np.linspace(-8, 8, 101)
  sigma = 1 / (1 + np.exp(-2 * x))
  np.testing.assert_allclose(
    A.tanh(jnp.asarray(x, jnp.float32)), 2 * sigma - 1, rtol=1e-5, atol=1e-6
  )  # seed 004: tanh(x) = 2σ(2x) − 1


def test_sigmoid_and_leaky_relu_match_numpy():
  x = np.linspace(-8, 8, 101)
  np.testing.assert_allclose(
    A.sigmoid(jnp.asarray(x, jnp.float32)), 1 / (1 + np.exp(-x)), rtol=1e-6, atol=1e-7
  )
  np.testing.assert_allclose(
    A.leaky_relu(jnp.asarray(x, jnp.float32)), np.where(x >= 0, x, 0.01 * x), rtol=1e-6, atol=1e-7
  )


def test_gelu_default_is_exact_and_forms_differ():
  x = jnp.linspace(-4, 4, 201)
  np.testing.assert_allclose(A.gelu(x), jax.nn.gelu(x, approximate=False), **JNN_TOL)
  gap = np.max(np.abs(A.gelu(x) - A.gelu(x, approximate=True)))
  assert 1e-4 < gap < 1e-3, gap  # the tanh form is a close, but different, function


def test_relu_grad_at_zero_is_zero():
  g = jax.grad(lambda x: A.relu(x).sum())(jnp.array([0.0, 1.0, -1.0]))
  np.testing.assert_array_equal(g, [0.0, 1.0, 0.0])


def test_swish_is_silu():
  assert A.swish is A.silu


# -- prelu ----------------------------------------------------------------------


def test_prelu_nchw_channel_axis_1_matches_torch():
  rng = np.random.default_rng(2)
  x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
  alpha = np.array([0.1, 0.2, 0.3], np.float32)
  t = torch.tensor(x, requires_grad=True)
  w = torch.tensor(alpha, requires_grad=True)
  y_t = F.prelu(t, w)
  (y_t * torch.arange(y_t.numel()).reshape(y_t.shape)).sum().backward()
  weights = jnp.arange(x.size, dtype=jnp.float32).reshape(x.shape)

  def loss(x, a):
    return (A.prelu(x, a, channel_axis=1) * weights).sum()

  np.testing.assert_allclose(A.prelu(x, alpha, channel_axis=1), y_t.detach(), **TORCH_TOL)
  gx, ga = jax.grad(loss, argnums=(0, 1))(jnp.asarray(x), jnp.asarray(alpha))
  np.testing.assert_allclose(gx, t.grad, **TORCH_TOL)
  np.testing.assert_allclose(ga, w.grad, rtol=1e-5, atol=1e-3)  # sums of ~100 terms ~1e2


def test_prelu_channels_last_matches_torch_on_transposed_input():
  rng = np.random.default_rng(3)
  x = rng.normal(size=(2, 4, 5, 3)).astype(np.float32)  # NHWC
  alpha = np.array([0.1, 0.2, 0.3], np.float32)
  y_t = F.prelu(torch.tensor(x).permute(0, 3, 1, 2), torch.tensor(alpha))
  np.testing.assert_allclose(A.prelu(x, alpha), y_t.permute(0, 2, 3, 1), **TORCH_TOL)
  np.testing.assert_allclose(
    A.prelu(x, np.array([0.3], np.float32)),
    F.prelu(torch.tensor(x), torch.tensor([0.3])),
    **TORCH_TOL,
  )


def test_prelu_keeps_input_dtype_with_float32_alpha():
  x = jnp.array([-1.0, 2.0], jnp.bfloat16)
  assert A.prelu(x, jnp.float32(0.25)).dtype == jnp.bfloat16


def test_prelu_bad_alpha_shape():
  x = jnp.ones((2, 3))
  with pytest.raises(ValueError, match=r"prelu: alpha.shape=\(4,\)"):
    A.prelu(x, jnp.ones(4))
  with pytest.raises(ValueError, match=r"prelu: alpha.shape=\(3, 1\)"):
    A.prelu(x, jnp.ones((3, 1)))
  with pytest.raises(ValueError, match="prelu: channel_axis=5"):
    A.prelu(x, jnp.ones(3), channel_axis=5)


# -- rrelu ------------------------------------------------------------------------

N_STAT = 200_000


def _uniform_stats_ok(slopes, lower, upper, name):
  mean, var = slopes.mean(), slopes.var()
  assert abs(mean - (lower + upper) / 2) < 1e-3, (name, mean)
  assert abs(var / ((upper - lower) ** 2 / 12) - 1) < 0.03, (name, var)
  assert slopes.min() >= lower - 1e-7 and slopes.max() <= upper + 1e-7, name
  assert slopes.min() < lower + 1e-3 and slopes.max() > upper - 1e-3, name


@pytest.mark.parametrize("lower,upper", [(1 / 8, 1 / 3), (0.0, 0.5)])
def test_rrelu_train_slopes_match_torch_statistics(lower, upper):
  x = -np.linspace(0.5, 2.0, N_STAT).astype(np.float32)
  ours = np.asarray(A.rrelu(jax.random.key(7), x, lower=lower, upper=upper), np.float64)
  torch.manual_seed(7)
  theirs = F.rrelu(torch.tensor(x), lower, upper, training=True).double().numpy()
  s_ours, s_torch = ours / x, theirs / x
  _uniform_stats_ok(s_ours, lower, upper, "jpatterns")
  _uniform_stats_ok(s_torch, lower, upper, "torch")
  assert abs(s_ours.mean() - s_torch.mean()) < 1.5e-3
  assert abs(s_ours.var() / s_torch.var() - 1) < 0.04
  # no correlation of slope with |x|: the slope is independent of the input
  assert abs(np.corrcoef(s_ours, x)[0, 1]) < 0.02


def test_rrelu_positive_inputs_unchanged_and_eval_matches_torch():
  x = np.linspace(-3, 3, 61).astype(np.float32)
  y = A.rrelu(jax.random.key(0), x)
  np.testing.assert_array_equal(np.asarray(y)[x >= 0], x[x >= 0])
  np.testing.assert_allclose(
    A.rrelu(None, x, lower=0.1, upper=0.3, train=False),
    F.rrelu(torch.tensor(x), 0.1, 0.3, training=False),
    **TORCH_TOL,
  )


def test_rrelu_determinism_and_per_example_keys():
  x = -jnp.ones((4, 16))
  k = jax.random.key(3)
  np.testing.assert_array_equal(A.rrelu(k, x), A.rrelu(k, x))
  assert not np.array_equal(A.rrelu(k, x), A.rrelu(jax.random.key(4), x))
  per_example = jax.vmap(A.rrelu)(jax.random.split(k, 4), x)
  rows = np.asarray(per_example)
  assert all(not np.array_equal(rows[0], rows[i]) for i in range(1, 4))
  loop = np.stack([A.rrelu(kk, xx) for kk, xx in zip(jax.random.split(k, 4), x)])
  np.testing.assert_array_equal(rows, loop)


@pytest.mark.parametrize(
  "kwargs,match",
  [
    (dict(lower=0.5, upper=0.2), "rrelu: lower=0.5 > upper=0.2"),
    (dict(lower=-0.1), "rrelu: lower=-0.1 is outside"),
    (dict(upper=1.5), "rrelu: upper=1.5 is outside"),
  ],
)
def test_rrelu_bad_bounds(kwargs, match):
  with pytest.raises(ValueError, match=match):
    A.rrelu(jax.random.key(0), jnp.ones(3), **kwargs)
  with pytest.raises(ValueError, match=match):
    A.rrelu(None, jnp.ones(3), train=False, **kwargs)


def test_rrelu_train_needs_key():
  with pytest.raises(ValueError, match="rrelu: key=None with train=True"):
    A.rrelu(None, jnp.ones(3))


# -- softmax / misc --------------------------------------------------------------------


def test_softmax_multi_axis_and_none_match_jax_nn():
  x = _x(shape=(3, 4, 5))
  for axis in [(0, 2), None, 1]:
    np.testing.assert_allclose(A.softmax(x, axis=axis), jax.nn.softmax(x, axis=axis), **JNN_TOL)
    np.testing.assert_allclose(
      A.log_softmax(x, axis=axis), jax.nn.log_softmax(x, axis=axis), rtol=1e-6, atol=1e-6
    )
  np.testing.assert_allclose(A.softmax(x, axis=(0, 2)).sum((0, 2)), 1.0, rtol=1e-6)


def test_softmax_bad_axis():
  with pytest.raises(ValueError, match="softmax: axis=3"):
    A.softmax(jnp.ones((2, 3)), axis=3)
  with pytest.raises(ValueError, match="log_softmax: axis=-4"):
    A.log_softmax(jnp.ones((2, 3)), axis=-4)


def test_celu_bad_alpha():
  with pytest.raises(ValueError, match="celu: alpha=0"):
    A.celu(jnp.ones(3), alpha=0)


def test_integer_input_promoted_to_float():
  assert A.relu(jnp.array([-1, 2])).dtype == jnp.float32
  np.testing.assert_allclose(A.softmax(jnp.array([0, 0])), [0.5, 0.5])
