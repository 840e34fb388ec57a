"""Tests for jpatterns.initializers against jax.nn.initializers, PyTorch and NumPy.

- Same key -> bit-equal values (assert_array_equal) wherever jax.nn samples the
  same way: variance_scaling (every mode x distribution), glorot/he/lecun (both
  normal forms), truncated_normal, normal, orthogonal, the uniform relation.
- Statistics vs torch (``xavier_normal_``, ``kaiming_normal_``, ``xavier_uniform_``,
  ``kaiming_uniform_``): sample std of a 1000x1000 (or 3x3x256x256 conv) kernel,
  relative tolerance 1% (the standard error of a std from 1e6 draws is ~0.07%,
  from 2.9e5 draws ~0.13%).
- Fans vs a NumPy transcription of the formula written here.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import flax.linen as nn
import helpers
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jpatterns import initializers as I

JI = jax.nn.initializers
SHAPES = [(7, 5), (3, 3, 4, 6)]  # dense (in, out) and conv (H, W, in, out)


@dataclasses.dataclass(frozen=True)
class Case:
  name: str
  ours: Callable  # an init(key, shape, dtype)
  jnn: Callable | None = None  # jax.nn init sampling the same way (bit-equal)
  random: bool = True


CASES = [
  Case("glorot_normal", I.glorot_normal(), JI.variance_scaling(1.0, "fan_avg", "normal")),
  Case("glorot_normal_trunc", I.glorot_normal(distribution="truncated_normal"), JI.glorot_normal()),
  Case("glorot_uniform", I.glorot_uniform(), JI.glorot_uniform()),
  Case("he_normal", I.he_normal(), JI.variance_scaling(2.0, "fan_in", "normal")),
  Case("he_normal_trunc", I.he_normal(distribution="truncated_normal"), JI.he_normal()),
  Case("he_uniform", I.he_uniform(), JI.he_uniform()),
  Case("lecun_normal", I.lecun_normal(), JI.variance_scaling(1.0, "fan_in", "normal")),
  Case("lecun_normal_trunc", I.lecun_normal(distribution="truncated_normal"), JI.lecun_normal()),
  Case("lecun_uniform", I.lecun_uniform(), JI.lecun_uniform()),
  Case(
    "vs_fan_out_uniform",
    I.variance_scaling(0.5, "fan_out", "uniform"),
    JI.variance_scaling(0.5, "fan_out", "uniform"),
  ),
  Case(
    "vs_geo_trunc",
    I.variance_scaling(3.0, "fan_geo_avg", "truncated_normal"),
    JI.variance_scaling(3.0, "fan_geo_avg", "truncated_normal"),
  ),
  Case("truncated_normal", I.truncated_normal(0.3), JI.truncated_normal(0.3)),
  Case(
    "truncated_normal_bounds",
    I.truncated_normal(0.3, lower=-1.0, upper=3.0),
    JI.truncated_normal(0.3, lower=-1.0, upper=3.0),
  ),
  Case("normal", I.normal(0.02), JI.normal(0.02)),
  Case("uniform", I.uniform(0.1)),  # relation with jax.nn tested below
  Case("orthogonal", I.orthogonal(scale=2.0), JI.orthogonal(2.0)),
  Case("orthogonal_col0", I.orthogonal(column_axis=0), JI.orthogonal(column_axis=0)),
  Case("zeros", I.zeros(), JI.zeros, False),
  Case("ones", I.ones(), JI.ones, False),
  Case("constant", I.constant(-0.5), JI.constant(-0.5), False),
]
IDS = [c.name for c in CASES]


# -- generic ------------------------------------------------------------------------


@pytest.mark.parametrize("case", [c for c in CASES if c.jnn], ids=lambda c: c.name)
def test_same_key_same_values_as_jax_nn(case):
  """Conv kernel here; the dense (in, out) kernel in test_works_as_flax_kernel_init."""
  key, shape = jax.random.key(11), (3, 3, 4, 6)
  np.testing.assert_array_equal(case.ours(key, shape), case.jnn(key, shape, jnp.float32))
  ref_dtype = jnp.float32 if case.name.startswith("orthogonal") else jnp.bfloat16
  np.testing.assert_array_equal(  # jax.nn's QR has no bf16 kernel: ours rounds f32
    np.asarray(case.ours(key, shape, jnp.bfloat16), np.float32),
    np.asarray(case.jnn(key, shape, ref_dtype).astype(jnp.bfloat16), np.float32),
  )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dtype_kept_and_default_float32(case):
  key = jax.random.key(0)
  assert case.ours(key, (4, 3)).dtype == jnp.float32
  helpers.assert_dtypes_kept(lambda k, dt: case.ours(k, (4, 3), dt), lambda dt: (key, dt))
  for dtype in helpers.DTYPES:
    w = case.ours(key, (4, 3), dtype)
    assert w.dtype == jnp.dtype(dtype) and w.shape == (4, 3)
    assert np.all(np.isfinite(np.asarray(w, np.float32)))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_determinism_and_keys(case):
  k1, k2 = jax.random.key(1), jax.random.key(2)
  w1 = case.ours(k1, (6, 5))
  np.testing.assert_array_equal(w1, case.ours(k1, (6, 5)))
  if case.random:
    assert not np.array_equal(w1, case.ours(k2, (6, 5)))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_and_vmap_over_keys(case):
  key = jax.random.key(3)
  # jit may fuse the sampling's erfinv differently from eager: 1-ulp tolerance
  helpers.assert_jit_matches_eager(lambda k: case.ours(k, (6, 5)), key, rtol=1e-6, atol=1e-7)
  keys = jax.random.split(key, 3)
  helpers.assert_vmap_matches_loop(lambda k: case.ours(k, (6, 5)), keys, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_works_as_flax_kernel_init(case):
  model = nn.Dense(5, kernel_init=case.ours)
  params = model.init(jax.random.key(0), jnp.ones((1, 6)))
  kernel = params["params"]["kernel"]
  assert kernel.shape == (6, 5) and kernel.dtype == jnp.float32
  if case.jnn is not None:
    ref = nn.Dense(5, kernel_init=case.jnn).init(jax.random.key(0), jnp.ones((1, 6)))
    np.testing.assert_array_equal(kernel, ref["params"]["kernel"])


# -- fans and the seed's formulas ----------------------------------------------------


def _np_fans(shape):
  """NumPy transcription: receptive field = all but the last two axes."""
  receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
  return shape[-2] * receptive, shape[-1] * receptive


@pytest.mark.parametrize("shape", [(300, 500), (3, 3, 64, 128), (5, 40, 60)], ids=str)
def test_std_follows_fans(shape):
  fan_in, fan_out = _np_fans(shape)
  key = jax.random.key(5)
  want = {
    "glorot_normal": math.sqrt(2 / (fan_in + fan_out)),  # seed 002: σ = √(2/(n_in+n_out))
    "glorot_uniform": math.sqrt(2 / (fan_in + fan_out)),  # r = √(6/(n_in+n_out)), σ = r/√3
    "he_normal": math.sqrt(2 / fan_in),
    "he_uniform": math.sqrt(2 / fan_in),
    "lecun_normal": math.sqrt(1 / fan_in),
    "lecun_uniform": math.sqrt(1 / fan_in),
  }
  for name, std in want.items():
    w = np.asarray(getattr(I, name)()(key, shape), np.float64)
    assert abs(w.std() / std - 1) < 0.02, (name, w.std(), std)
    assert abs(w.mean()) < 0.02 * std, name
    if name.endswith("uniform"):
      r = math.sqrt(3) * std
      assert w.max() <= r and w.min() >= -r and w.max() > 0.99 * r, name
    if name.endswith("normal"):  # plain Gaussian: tails beyond 2σ exist (~4.55%)
      tail = np.mean(np.abs(w) > 2 * std)
      assert abs(tail - 0.0455) < 0.01, (name, tail)


def test_truncated_variants_std_and_bounds():
  key = jax.random.key(6)
  w = np.asarray(I.he_normal(distribution="truncated_normal")(key, (1000, 400)))
  std = math.sqrt(2 / 1000)
  assert abs(w.std() / std - 1) < 0.01  # variance_scaling corrects the truncation
  assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-6
  t = np.asarray(I.truncated_normal(0.5)(key, (1000, 400)))
  assert abs(t.std() / (0.5 * 0.87962566103423978) - 1) < 0.01  # stddev is pre-truncation
  assert np.abs(t).max() <= 1.0


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_uniform_is_symmetric_and_relates_to_jax_nn(shape):
  key = jax.random.key(8)
  scale = 0.1
  ours = np.asarray(I.uniform(scale)(key, shape), np.float64)
  theirs = np.asarray(JI.uniform(scale)(key, shape), np.float64)  # U[0, scale)
  # same unit draw u: ours = (2u − 1)·scale, jax.nn = u·scale
  np.testing.assert_allclose(ours, 2 * theirs - scale, rtol=0, atol=2e-8)
  big = np.asarray(I.uniform(scale)(key, (200_000,)), np.float64)
  assert big.min() >= -scale and big.max() <= scale
  assert abs(big.mean()) < 1e-3 and abs(big.std() / (scale / math.sqrt(3)) - 1) < 0.01


@pytest.mark.parametrize(
  "shape,column_axis", [((6, 4), -1), ((4, 6), -1), ((3, 3, 2, 8), -1), ((5, 3), 0)], ids=str
)
def test_orthogonal_is_orthogonal(shape, column_axis):
  w = np.asarray(
    I.orthogonal(scale=1.5, column_axis=column_axis)(jax.random.key(9), shape), np.float64
  )
  cols = np.moveaxis(w, column_axis, -1).reshape(-1, shape[column_axis])
  small = min(cols.shape)
  gram = cols.T @ cols if cols.shape[0] >= cols.shape[1] else cols @ cols.T
  np.testing.assert_allclose(gram, 1.5**2 * np.eye(small), atol=1e-5)


def test_constant_zeros_ones_values():
  key = jax.random.key(0)
  np.testing.assert_array_equal(I.zeros()(key, (2, 3)), np.zeros((2, 3)))
  np.testing.assert_array_equal(I.ones()(key, (2, 3), jnp.bfloat16), np.ones((2, 3)))
  np.testing.assert_array_equal(I.constant(2.5)(key, (4,)), np.full(4, 2.5))


def test_batch_axis_and_multi_axes_match_jax_nn():
  key = jax.random.key(10)
  shape = (2, 3, 4, 5)
  for kw in [
    dict(batch_axis=0),
    dict(in_axis=(0, 1), out_axis=-1),
    dict(in_axis=1, out_axis=(2, 3), batch_axis=(0,)),
  ]:
    ours = I.variance_scaling(1.3, "fan_avg", "normal", **kw)(key, shape)
    theirs = JI.variance_scaling(1.3, "fan_avg", "normal", **kw)(key, shape)
    np.testing.assert_array_equal(ours, theirs)


def test_empty_shape_gives_empty_array():
  w = I.glorot_normal()(jax.random.key(0), (0, 5))
  assert w.shape == (0, 5) and w.dtype == jnp.float32
  assert I.orthogonal()(jax.random.key(0), (3, 0)).shape == (3, 0)


# -- torch statistics -------------------------------------------------------------


def _torch_std(init_fn, shape_torch, **kw):
  torch.manual_seed(0)
  t = torch.empty(shape_torch)
  init_fn(t, **kw)
  return float(t.double().std())


@pytest.mark.parametrize(
  "ours_name,torch_fn,kw",
  [
    ("glorot_normal", torch.nn.init.xavier_normal_, {}),
    ("glorot_uniform", torch.nn.init.xavier_uniform_, {}),
    ("he_normal", torch.nn.init.kaiming_normal_, dict(nonlinearity="relu")),
    ("he_uniform", torch.nn.init.kaiming_uniform_, dict(nonlinearity="relu")),
  ],
)
@pytest.mark.parametrize("shape", [(1000, 1000), (3, 3, 128, 256)], ids=str)
def test_std_matches_torch(ours_name, torch_fn, kw, shape):
  """Relative tolerance 1%: >= 7 standard errors of a std from >= 2.9e5 draws."""
  # torch layouts: Linear weight (out, in); Conv weight (out, in, H, W)
  shape_t = (shape[1], shape[0]) if len(shape) == 2 else (shape[3], shape[2], *shape[:2])
  std_t = _torch_std(torch_fn, shape_t, **kw)
  w = np.asarray(getattr(I, ours_name)()(jax.random.key(12), shape), np.float64)
  assert abs(w.std() / std_t - 1) < 0.01, (w.std(), std_t)


# -- errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
  "name",
  ["glorot_normal", "glorot_uniform", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform"],
)
@pytest.mark.parametrize("shape", [(), (5,)], ids=str)
def test_too_few_dims_for_fan(name, shape):
  init = getattr(I, name)()
  with pytest.raises(ValueError, match=rf"{name}: shape=\(.*too few"):
    init(jax.random.key(0), shape)


def test_orthogonal_needs_two_dims():
  with pytest.raises(ValueError, match="orthogonal: shape=.*needs at least 2"):
    I.orthogonal()(jax.random.key(0), (5,))


@pytest.mark.parametrize(
  "make,match",
  [
    (
      lambda: I.variance_scaling(0.0, "fan_in", "normal"),
      "variance_scaling: scale=0.0 must be > 0",
    ),
    (lambda: I.variance_scaling(-1.0, "fan_in", "normal"), "scale=-1.0 must be > 0"),
    (lambda: I.variance_scaling(1.0, "fan_sum", "normal"), "mode='fan_sum' is not valid"),
    (lambda: I.variance_scaling(1.0, "fan_in", "cauchy"), "distribution='cauchy' is not valid"),
    (lambda: I.he_normal(distribution="uniform"), "he_normal: distribution='uniform'"),
    (lambda: I.glorot_normal(distribution="gaussian"), "glorot_normal: distribution="),
    (lambda: I.normal(0.0), "normal: stddev=0.0 must be > 0"),
    (lambda: I.truncated_normal(-1.0), "truncated_normal: stddev=-1.0"),
    (lambda: I.truncated_normal(1.0, lower=2.0, upper=1.0), "lower=2.0 >= upper=1.0"),
    (lambda: I.uniform(0), "uniform: scale=0 must be > 0"),
    (lambda: I.orthogonal(scale=-2.0), "orthogonal: scale=-2.0"),
  ],
)
def test_bad_arguments(make, match):
  with pytest.raises(ValueError, match=match):
    make()


def test_overlapping_axes_and_int_dtype():
  with pytest.raises(ValueError, match="overlap"):
    I.variance_scaling(1.0, "fan_in", "normal", in_axis=0, out_axis=0)(jax.random.key(0), (3, 4))
  with pytest.raises(ValueError, match="dtype=int32 is not a real floating dtype"):
    I.he_normal()(jax.random.key(0), (3, 4), jnp.int32)
