"""Tests for jpatterns.losses against optax, PyTorch and NumPy transcriptions.

Tolerances (float32):
- vs optax / NumPy: rtol=1e-5, atol=1e-6 (same formulas up to summation order);
- vs torch: rtol=1e-5, atol=1e-5;
- bf16 / f16 inputs vs the float32 run on the same (rounded) inputs: helpers.TOL;
- check_grads: float64 (jax.enable_x64), order 2 (order 1 for Huber, C^1 only),
  atol=rtol=1e-5, eps=1e-6.
Label smoothing: seed 002 puts eps/(K-1) off the true class, optax / torch
eps'/K; the two agree for eps' = eps K / (K - 1), which the tests use.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import helpers
import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import optax
import pytest
import torch
import torch.nn.functional as F

from jpatterns import losses as L

TOL = dict(rtol=1e-5, atol=1e-6)
TORCH_TOL = dict(rtol=1e-5, atol=1e-5)

K = 5  # classes
EPS = 0.2  # seed 002 smoothing
EPS_UNIFORM = EPS * K / (K - 1)  # the same smoothing in optax / torch's convention


def _rng(seed=0):
  return np.random.default_rng(seed)


def _t(x):
  if isinstance(x, torch.Tensor):
    return x
  return torch.from_numpy(np.array(x, np.float32))


# -- argument builders: dtype -> args --------------------------------------------


def _logits(dtype, shape=(6, K), seed=0, scale=3.0):
  return jnp.asarray(_rng(seed).normal(size=shape) * scale, dtype)


def _int_labels(n=6, seed=1):
  return jnp.asarray(_rng(seed).integers(0, K, size=n), jnp.int32)


def _soft_labels(dtype, shape=(6, K), seed=2):
  p = _rng(seed).uniform(0.1, 1.0, size=shape)
  return jnp.asarray(p / p.sum(-1, keepdims=True), dtype)


def _binary(dtype, shape=(6, 4), seed=3):
  return jnp.asarray(_rng(seed).integers(0, 2, size=shape), dtype)


def _seg_onehot(dtype, shape=(2, 4, 4), k=3, seed=4):
  return jnp.asarray(np.eye(k)[_rng(seed).integers(0, k, size=shape)], dtype)


# -- NumPy transcriptions (written here, independent of the library) -------------


def np_log_softmax(z):
  z = np.asarray(z, np.float64)
  m = z.max(-1, keepdims=True)
  return z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))


def np_seed_smooth(onehot, eps):
  """Seed 002: y~ = [eps/(K-1), ..., 1 - eps, ..., eps/(K-1)]."""
  k = onehot.shape[-1]
  return np.where(onehot == 1, 1 - eps, eps / (k - 1))


def np_soft_smooth_ce(z, y, eps):
  k = y.shape[-1]
  ys = (1 - eps) * np.asarray(y, np.float64) + eps / (k - 1) * (1 - np.asarray(y, np.float64))
  return -(ys * np_log_softmax(z)).sum(-1)


def np_dice(p, t, smooth, from_logits):
  p = np.asarray(p, np.float64)
  t = np.asarray(t, np.float64)
  if from_logits:
    if p.shape[-1] == 1:
      p = 1 / (1 + np.exp(-p))
    else:
      p = np.exp(np_log_softmax(p))
  axes = tuple(range(1, p.ndim - 1))
  inter = (p * t).sum(axes)
  d = (2 * inter + smooth) / (p.sum(axes) + t.sum(axes) + smooth)
  return 1 - d.mean(-1)


def np_torchvision_focal(z, y, gamma, alpha):
  """torchvision.ops.sigmoid_focal_loss(reduction='none'), transcribed."""
  z = np.asarray(z, np.float64)
  y = np.asarray(y, np.float64)
  p = 1 / (1 + np.exp(-z))
  ce = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
  p_t = p * y + (1 - p) * (1 - y)
  loss = ce * ((1 - p_t) ** gamma)
  if alpha is not None and alpha >= 0:
    loss = (alpha * y + (1 - alpha) * (1 - y)) * loss
  return loss


# -- the case registry --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
  name: str
  fn: Callable  # jpatterns loss
  make_args: Callable  # dtype -> args (first arg differentiable)
  optax_fn: Callable | None = None  # same args -> reference
  torch_fn: Callable | None = None  # numpy args -> torch tensor
  np_fn: Callable | None = None  # numpy args -> reference
  per_example: Callable | None = None  # for vmap over the leading axis
  grad_order: int = 2


def _onehot(dtype):
  return jnp.asarray(np.eye(K)[np.asarray(_int_labels())], dtype)


CASES = [
  Case(
    "ce_onehot",
    L.softmax_cross_entropy,
    lambda dt: (_logits(dt), _onehot(dt)),
    optax_fn=optax.softmax_cross_entropy,
    torch_fn=lambda z, y: F.cross_entropy(_t(z), _t(y), reduction="none"),
  ),
  Case(
    "ce_soft",
    L.softmax_cross_entropy,
    lambda dt: (_logits(dt), _soft_labels(dt)),
    optax_fn=optax.softmax_cross_entropy,
    torch_fn=lambda z, y: F.cross_entropy(_t(z), _t(y), reduction="none"),
  ),
  Case(
    "ce_int",
    L.softmax_cross_entropy,
    lambda dt: (_logits(dt), _int_labels()),
    optax_fn=optax.softmax_cross_entropy_with_integer_labels,
    torch_fn=lambda z, y: F.cross_entropy(
      _t(z), torch.from_numpy(np.asarray(y, np.int64)), reduction="none"
    ),
  ),
  Case(
    "ce_int_smooth",
    lambda z, y: L.softmax_cross_entropy(z, y, label_smoothing=EPS),
    lambda dt: (_logits(dt), _int_labels()),
    optax_fn=lambda z, y: optax.softmax_cross_entropy(
      z, optax.smooth_labels(jax.nn.one_hot(y, K), EPS_UNIFORM)
    ),
    torch_fn=lambda z, y: F.cross_entropy(
      _t(z),
      torch.from_numpy(np.asarray(y, np.int64)),
      reduction="none",
      label_smoothing=EPS_UNIFORM,
    ),
    np_fn=lambda z, y: -(np_seed_smooth(np.eye(K)[y], EPS) * np_log_softmax(z)).sum(-1),
  ),
  Case(
    "ce_onehot_smooth",
    lambda z, y: L.softmax_cross_entropy(z, y, label_smoothing=EPS),
    lambda dt: (_logits(dt), _onehot(dt)),
    optax_fn=lambda z, y: optax.softmax_cross_entropy(z, optax.smooth_labels(y, EPS_UNIFORM)),
    torch_fn=lambda z, y: F.cross_entropy(
      _t(z), _t(y), reduction="none", label_smoothing=EPS_UNIFORM
    ),
  ),
  Case(
    "ce_soft_smooth",
    lambda z, y: L.softmax_cross_entropy(z, y, label_smoothing=EPS),
    lambda dt: (_logits(dt), _soft_labels(dt)),
    np_fn=lambda z, y: np_soft_smooth_ce(z, y, EPS),
  ),
  Case(
    "ce_int_axis0",
    lambda z, y: L.softmax_cross_entropy(z, y, axis=0),
    lambda dt: (_logits(dt).T, _int_labels()),
    optax_fn=lambda z, y: optax.softmax_cross_entropy_with_integer_labels(z.T, y),
  ),
  Case(
    "bce",
    L.sigmoid_binary_cross_entropy,
    lambda dt: (_logits(dt, (6, 4)), _binary(dt)),
    optax_fn=optax.sigmoid_binary_cross_entropy,
    torch_fn=lambda z, y: F.binary_cross_entropy_with_logits(_t(z), _t(y), reduction="none"),
  ),
  Case(
    "bce_soft",
    L.sigmoid_binary_cross_entropy,
    lambda dt: (_logits(dt, (6, 4)), _soft_labels(dt, (6, 4))),
    optax_fn=optax.sigmoid_binary_cross_entropy,
    torch_fn=lambda z, y: F.binary_cross_entropy_with_logits(_t(z), _t(y), reduction="none"),
  ),
  Case(
    "dice_logits",
    L.dice_loss,
    lambda dt: (_logits(dt, (2, 4, 4, 3)), _seg_onehot(dt)),
    # optax adds smooth to I and (P + T)/2: its smooth=0.5 is our smooth=1.
    optax_fn=lambda p, t: optax.losses.dice_loss(p, t, smooth=0.5),
    np_fn=lambda p, t: np_dice(p, t, 1.0, True),
    per_example=lambda p, t: L.dice_loss(p[None], t[None])[0],
  ),
  Case(
    "dice_binary_logits",
    L.dice_loss,
    lambda dt: (_logits(dt, (3, 8, 1)), _binary(dt, (3, 8, 1))),
    optax_fn=lambda p, t: optax.losses.dice_loss(p, t, smooth=0.5),
    np_fn=lambda p, t: np_dice(p, t, 1.0, True),
    per_example=lambda p, t: L.dice_loss(p[None], t[None])[0],
  ),
  Case(
    "dice_probs_nosmooth",
    lambda p, t: L.dice_loss(p, t, from_logits=False, smooth=0.0),
    lambda dt: (_soft_labels(dt, (2, 6, 3)), _seg_onehot(dt, (2, 6))),
    optax_fn=lambda p, t: optax.losses.dice_loss(p, t, smooth=0.0, apply_softmax=False),
    np_fn=lambda p, t: np_dice(p, t, 0.0, False),
    per_example=lambda p, t: L.dice_loss(p[None], t[None], from_logits=False, smooth=0.0)[0],
  ),
  Case(
    "mse",
    L.mean_squared_error,
    lambda dt: (_logits(dt, (6, 4)), _logits(dt, (6, 4), seed=9)),
    optax_fn=lambda p, t: 2 * optax.l2_loss(p, t),  # optax's l2_loss is half
    torch_fn=lambda p, t: F.mse_loss(_t(p), _t(t), reduction="none"),
    np_fn=lambda p, t: (np.asarray(p, np.float64) - np.asarray(t, np.float64)) ** 2,
  ),
  Case(
    "huber",
    L.huber,
    lambda dt: (_logits(dt, (6, 4)), _logits(dt, (6, 4), seed=9)),
    optax_fn=optax.huber_loss,
    torch_fn=lambda p, t: F.huber_loss(_t(p), _t(t), reduction="none"),
    grad_order=1,
  ),
  Case(
    "huber_0.5",
    lambda p, t: L.huber(p, t, delta=0.5),
    lambda dt: (_logits(dt, (6, 4)), _logits(dt, (6, 4), seed=9)),
    optax_fn=lambda p, t: optax.huber_loss(p, t, delta=0.5),
    torch_fn=lambda p, t: F.huber_loss(_t(p), _t(t), reduction="none", delta=0.5),
    grad_order=1,
  ),
  Case(
    "focal",
    L.focal_loss,
    lambda dt: (_logits(dt, (6, 4)), _binary(dt)),
    optax_fn=optax.sigmoid_focal_loss,
    np_fn=lambda z, y: np_torchvision_focal(z, y, 2.0, None),
  ),
  Case(
    "focal_alpha",
    lambda z, y: L.focal_loss(z, y, gamma=2.0, alpha=0.25),
    lambda dt: (_logits(dt, (6, 4)), _binary(dt)),
    optax_fn=lambda z, y: optax.sigmoid_focal_loss(z, y, alpha=0.25, gamma=2.0),
    np_fn=lambda z, y: np_torchvision_focal(z, y, 2.0, 0.25),
  ),
  Case(
    "focal_gamma0.5_soft",
    lambda z, y: L.focal_loss(z, y, gamma=0.5, alpha=0.7),
    lambda dt: (_logits(dt, (6, 4)), _soft_labels(dt, (6, 4))),
    optax_fn=lambda z, y: optax.sigmoid_focal_loss(z, y, alpha=0.7, gamma=0.5),
    np_fn=lambda z, y: np_torchvision_focal(z, y, 0.5, 0.7),
  ),
  Case(
    "focal_gamma0",
    lambda z, y: L.focal_loss(z, y, gamma=0.0),
    lambda dt: (_logits(dt, (6, 4)), _binary(dt)),
    optax_fn=optax.sigmoid_binary_cross_entropy,  # gamma = 0: plain BCE
    torch_fn=lambda z, y: F.binary_cross_entropy_with_logits(_t(z), _t(y), reduction="none"),
  ),
]
IDS = [c.name for c in CASES]


def _args(case, dtype=jnp.float32):
  return case.make_args(dtype)


# -- generic tests over the registry -----------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_values_match_references(case):
  args = _args(case)
  got = np.asarray(case.fn(*args), np.float64)
  assert case.optax_fn or case.torch_fn or case.np_fn
  if case.optax_fn:
    np.testing.assert_allclose(got, case.optax_fn(*args), **TOL)
  if case.torch_fn:
    np.testing.assert_allclose(got, case.torch_fn(*map(np.asarray, args)).numpy(), **TORCH_TOL)
  if case.np_fn:
    np.testing.assert_allclose(got, case.np_fn(*map(np.asarray, args)), **TOL)


@pytest.mark.parametrize("case", [c for c in CASES if c.optax_fn], ids=lambda c: c.name)
def test_grads_match_optax(case):
  args = _args(case)
  w = jnp.asarray(_rng(7).uniform(0.5, 1.5, size=case.fn(*args).shape), jnp.float32)
  g = jax.grad(lambda a: jnp.sum(case.fn(a, *args[1:]) * w))(args[0])
  g_ref = jax.grad(lambda a: jnp.sum(case.optax_fn(a, *args[1:]) * w))(args[0])
  np.testing.assert_allclose(g, g_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dtype_kept_and_low_precision_values(case):
  helpers.assert_dtypes_kept(case.fn, case.make_args)
  for dtype in (jnp.bfloat16, jnp.float16):
    args = case.make_args(dtype)
    want = case.fn(
      *[a.astype(jnp.float32) if jnp.issubdtype(a.dtype, jnp.floating) else a for a in args]
    )
    np.testing.assert_allclose(
      np.asarray(case.fn(*args), np.float64),
      np.asarray(want, np.float64),
      **helpers.TOL[jnp.dtype(dtype)],
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_matches_eager(case):
  helpers.assert_jit_matches_eager(case.fn, *_args(case))


@pytest.mark.parametrize(
  "case", [c for c in CASES if c.name != "ce_int_axis0"], ids=lambda c: c.name
)
def test_vmap_matches_loop(case):
  helpers.assert_vmap_matches_loop(case.per_example or case.fn, *_args(case))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_grads_finite(case):
  helpers.assert_grad_finite(case.fn, *_args(case))


# check_grads (float64 finite differences vs autodiff) on the cases whose gradients
# no optax / torch reference covers, plus one per loss family; reverse mode, jitted.
CHECK_GRADS = ["ce_soft_smooth", "ce_int_smooth", "dice_logits", "huber", "focal_gamma0.5_soft"]


@pytest.mark.parametrize("case", [c for c in CASES if c.name in CHECK_GRADS], ids=lambda c: c.name)
def test_check_grads_float64(case):
  with jax.enable_x64(True):
    args = [
      jnp.asarray(a, jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a
      for a in _args(case)
    ]
    args = [a[:2] for a in args]
    jax.test_util.check_grads(
      jax.jit(lambda z: case.fn(z, *args[1:])),
      (args[0],),
      order=1,
      modes=("rev",),
      atol=1e-5,
      rtol=1e-5,
      eps=1e-6,
    )


@pytest.mark.parametrize("case", [c for c in CASES if c.torch_fn], ids=lambda c: c.name)
def test_grads_match_torch(case):
  args = _args(case)
  w = _rng(7).uniform(0.5, 1.5, size=case.fn(*args).shape)
  g = jax.grad(lambda a: jnp.sum(case.fn(a, *args[1:]) * jnp.asarray(w, jnp.float32)))(args[0])
  np_args = [np.array(a) for a in args]
  zt = torch.tensor(np_args[0], dtype=torch.float32, requires_grad=True)
  (case.torch_fn(zt, *np_args[1:]) * torch.from_numpy(w)).sum().backward()
  ref = zt.grad.numpy()
  np.testing.assert_allclose(g, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES[::3], ids=IDS[::3])
def test_no_retrace(case):
  helpers.assert_no_retrace(case.fn, *_args(case))


# -- numerical stability: logits of +-1e4 ---------------------------------------


def _value_and_grad(fn, z, *rest):
  """(fn(z), grad of sum fn) in one jitted call (one compile instead of many ops)."""

  def both(z, *rest):
    return fn(z, *rest), jax.grad(lambda v: jnp.sum(fn(v, *rest)))(z)

  return jax.jit(both)(z, *rest)


def test_softmax_ce_extreme_logits():
  z = jnp.array([[1e4, -1e4, 0.0]] * 3)
  y = jnp.array([0, 1, 2])
  loss, g = _value_and_grad(L.softmax_cross_entropy, z, y)
  np.testing.assert_array_equal(loss, [0.0, 2e4, 1e4])
  p = np.array([1.0, 0.0, 0.0])  # softmax(z), exactly in float32
  np.testing.assert_array_equal(g, p - np.eye(3))  # d loss / dz = p - onehot
  # one-hot labels give the same; seed 002 smoothing: -(1-e) log p_y - e/(K-1) sum_{k!=y} log p_k
  loss1h, g1h = _value_and_grad(L.softmax_cross_entropy, z, jnp.eye(3))
  np.testing.assert_array_equal(loss1h, loss)
  np.testing.assert_array_equal(g1h, g)
  for labels in (y, jnp.eye(3)):
    ls, gs = _value_and_grad(
      lambda v, l: L.softmax_cross_entropy(v, l, label_smoothing=0.1), z, labels
    )
    log_p = np.array([0.0, -2e4, -1e4])
    want = [-(0.9 * log_p[k] + 0.05 * (log_p.sum() - log_p[k])) for k in range(3)]
    np.testing.assert_allclose(ls, want, rtol=1e-6)
    np.testing.assert_allclose(gs, p - np_seed_smooth(np.eye(3), 0.1), atol=1e-6)


def test_bce_and_focal_extreme_logits():
  z = jnp.array([1e4, -1e4, 1e4, -1e4])
  y = jnp.array([1.0, 0.0, 0.0, 1.0])
  loss, g = _value_and_grad(L.sigmoid_binary_cross_entropy, z, y)
  np.testing.assert_array_equal(loss, [0.0, 0.0, 1e4, 1e4])
  np.testing.assert_array_equal(g, [0.0, 0.0, 1.0, -1.0])  # sigma(z) - y
  for gamma in (0.0, 0.5, 2.0):
    loss, g = _value_and_grad(lambda v, l: L.focal_loss(v, l, gamma=gamma, alpha=0.25), z, y)
    # right answers: p_t = 1 -> 0; wrong answers: p_t = 0, (1 - p_t)^gamma = 1 -> alpha_t * 1e4
    np.testing.assert_array_equal(loss, [0.0, 0.0, 0.75e4, 0.25e4])
    assert np.all(np.isfinite(g)), (gamma, g)
    np.testing.assert_allclose(g, [0.0, 0.0, 0.75, -0.25], atol=1e-6)
    np.testing.assert_array_equal(loss, optax.sigmoid_focal_loss(z, y, alpha=0.25, gamma=gamma))


def test_dice_extreme_logits():
  z = jnp.array([[[1e4, -1e4], [-1e4, 1e4], [1e4, -1e4]]])  # (1, 3, 2): exact one-hot
  t = jnp.array([[[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]])
  loss, g = _value_and_grad(L.dice_loss, z, t)
  # class 0: I=1, P=2, T=1 -> (2+1)/(3+1); class 1: I=1, P=1, T=2 -> 3/4
  np.testing.assert_allclose(loss, [1 - 0.75], rtol=1e-6)
  assert np.all(np.isfinite(g))


def test_extreme_logits_bf16_f16_finite():
  for dtype in (jnp.bfloat16, jnp.float16):
    z = jnp.array([[1e4, -1e4, 0.0]], dtype)
    for fn, y in (
      (L.softmax_cross_entropy, jnp.array([1])),
      (L.sigmoid_binary_cross_entropy, jnp.array([[1.0, 1.0, 0.0]], dtype)),
      (L.focal_loss, jnp.array([[1.0, 1.0, 0.0]], dtype)),
    ):
      loss, g = _value_and_grad(fn, z, y)
      assert loss.dtype == dtype and np.all(np.isfinite(np.asarray(g, np.float32)))


# -- specific behaviour --------------------------------------------------------------


def test_seed_label_smoothing_vector():
  """eps/(K-1) off the true class, 1 - eps on it: integer and one-hot paths agree."""
  z = _logits(jnp.float32)
  y = _int_labels()
  got = L.softmax_cross_entropy(z, y, label_smoothing=EPS)
  smoothed = np_seed_smooth(np.eye(K)[np.asarray(y)], EPS)
  np.testing.assert_allclose(smoothed.sum(-1), 1.0)
  np.testing.assert_allclose(got, -(smoothed * np_log_softmax(z)).sum(-1), **TOL)
  np.testing.assert_allclose(
    got, L.softmax_cross_entropy(z, jnp.asarray(smoothed, jnp.float32)), **TOL
  )


def test_out_of_range_integer_labels_give_nan():
  """Documented behaviour: labels outside [0, K) -> nan for that example (jit too)."""
  z = _logits(jnp.float32, (4, K))
  y = jnp.array([0, K, -1, 2])
  ok = np.array([0, 3])
  plain = np.asarray(optax.softmax_cross_entropy_with_integer_labels(z[ok], y[ok]))
  smoothed = -(
    np_seed_smooth(np.eye(K)[np.asarray(y)[ok]], 0.1) * np_log_softmax(np.asarray(z)[ok])
  ).sum(-1)
  for f, want in (
    (L.softmax_cross_entropy, plain),
    (jax.jit(L.softmax_cross_entropy), plain),
    (lambda a, b: L.softmax_cross_entropy(a, b, label_smoothing=0.1), smoothed),
  ):
    loss = np.asarray(f(z, y))
    assert np.isnan(loss[1]) and np.isnan(loss[2])
    np.testing.assert_allclose(loss[ok], want, **TOL)


def test_masked_class_with_minus_inf_logit():
  """z_k = -inf on a class without label mass: the loss over the other classes."""
  z = jnp.array([[0.5, -jnp.inf, 1.0, -1.0]])
  want = -np_log_softmax(np.array([[0.5, 1.0, -1.0]]))[:, 0]
  for y in (jnp.array([0]), jnp.array([[1.0, 0.0, 0.0, 0.0]])):
    loss, g = _value_and_grad(L.softmax_cross_entropy, z, y)
    np.testing.assert_allclose(loss, want, **TOL)
    assert np.all(np.isfinite(g)) and g[0, 1] == 0
    assert np.isinf(L.softmax_cross_entropy(z, y, label_smoothing=0.1)[0])


def test_dice_smooth_zero_empty_class_is_perfect():
  p = jnp.zeros((1, 4, 1))
  loss, g = _value_and_grad(
    lambda a, b: L.dice_loss(a, b, from_logits=False, smooth=0.0), p, jnp.zeros((1, 4, 1))
  )
  np.testing.assert_array_equal(loss, [0.0])
  assert np.all(np.isfinite(g))


def test_dice_explicit_axis_per_pixel_row():
  p = _soft_labels(jnp.float32, (2, 3, 4, 2))
  t = _seg_onehot(jnp.float32, (2, 3, 4), k=2)
  got = L.dice_loss(p, t, from_logits=False, axis=2)  # per (batch, row)
  pn, tn = np.asarray(p, np.float64), np.asarray(t, np.float64)
  d = (2 * (pn * tn).sum(2) + 1) / (pn.sum(2) + tn.sum(2) + 1)
  np.testing.assert_allclose(got, 1 - d.mean(-1), **TOL)


@pytest.mark.parametrize(
  "call, match",
  [
    (lambda: L.softmax_cross_entropy(jnp.zeros((4, 3)), jnp.zeros((4, 2))), "labels"),
    (lambda: L.softmax_cross_entropy(jnp.zeros((4, 3)), jnp.zeros((3,), jnp.int32)), "labels"),
    (
      lambda: L.softmax_cross_entropy(
        jnp.zeros((4, 3)), jnp.zeros((4,), jnp.int32), label_smoothing=1.5
      ),
      "label_smoothing",
    ),
    (
      lambda: L.softmax_cross_entropy(
        jnp.zeros((4, 1)), jnp.zeros((4,), jnp.int32), label_smoothing=0.1
      ),
      "label_smoothing",
    ),
    (
      lambda: L.softmax_cross_entropy(jnp.zeros((4, 3)), jnp.zeros((4,), jnp.int32), axis=2),
      "axis",
    ),
    (lambda: L.sigmoid_binary_cross_entropy(jnp.zeros((4, 3)), jnp.zeros((4,))), "labels"),
    (lambda: L.dice_loss(jnp.zeros((4, 3)), jnp.zeros((4, 2))), "targets"),
    (lambda: L.dice_loss(jnp.zeros((4,)), jnp.zeros((4,))), "predictions"),
    (lambda: L.dice_loss(jnp.zeros((2, 4, 3)), jnp.zeros((2, 4, 3)), axis=-1), "axis"),
    (lambda: L.dice_loss(jnp.zeros((2, 4, 3)), jnp.zeros((2, 4, 3)), smooth=-1.0), "smooth"),
    (lambda: L.mean_squared_error(jnp.zeros((4, 3)), jnp.zeros((3, 4))), "targets"),
    (lambda: L.huber(jnp.zeros((4, 3)), jnp.zeros((4, 1))), "targets"),
    (lambda: L.huber(jnp.zeros(3), jnp.zeros(3), delta=0.0), "delta"),
    (lambda: L.focal_loss(jnp.zeros(3), jnp.zeros(4)), "labels"),
    (lambda: L.focal_loss(jnp.zeros(3), jnp.zeros(3), gamma=-1.0), "gamma"),
    (lambda: L.focal_loss(jnp.zeros(3), jnp.zeros(3), alpha=1.5), "alpha"),
  ],
)
def test_bad_input_raises_naming_the_argument(call, match):
  with pytest.raises(ValueError, match=match):
    call()


def test_shape_errors_raised_at_trace_time():
  with pytest.raises(ValueError, match="labels"):
    jax.jit(L.softmax_cross_entropy).lower(jnp.zeros((4, 3)), jnp.zeros((4, 3, 1)))
