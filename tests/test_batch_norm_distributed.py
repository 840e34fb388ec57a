"""Cross-device batch norm on the 8 CPU devices of conftest (issue item 5).

Under ``jax.shard_map`` each device holds a slice of the batch; with ``axis_name`` the
statistics must equal those of the full (valid) batch computed on one device — also
with unequal valid counts per device, where the mean of per-device means is wrong
(flax issue #2417). The reference is the single-device ``batch_norm`` on the
concatenated batch, itself checked against NumPy here.
"""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jpatterns import normalization as jn

N_DEV = 8
PER_DEV = 4
C = 5
EPS = 1e-5


@pytest.fixture(scope="module")
def mesh():
  assert jax.device_count() >= N_DEV, "conftest should provide 8 CPU devices"
  return jax.make_mesh((N_DEV,), ("batch",))


def _data(loc=1.0, scale=2.0, seed=0):
  rng = np.random.default_rng(seed)
  x = (loc + scale * rng.standard_normal((N_DEV * PER_DEV, C))).astype(np.float32)
  s = (1 + 0.3 * rng.standard_normal(C)).astype(np.float32)
  b = (0.2 * rng.standard_normal(C)).astype(np.float32)
  cot = rng.standard_normal((N_DEV * PER_DEV, C)).astype(np.float32)
  return x, s, b, cot


def _unequal_mask():
  # device d keeps its first (d % 5) rows: 0, 1, 2, 3, 4, 0, 1, 2 valid rows
  keep = [(d % 5) for d in range(N_DEV)]
  m = np.zeros((N_DEV, PER_DEV), bool)
  for d, k in enumerate(keep):
    m[d, :k] = True
  return m.reshape(-1, 1)


def _sharded(mesh, **kw):
  def local(x, s, b, mask, stats):
    return jn.batch_norm(
      x, stats, scale=s, bias=b, train=True, axis_name="batch", mask=mask, momentum=0.9, **kw
    )

  return jax.shard_map(
    local, mesh=mesh, in_specs=(P("batch"), P(), P(), P("batch"), P()), out_specs=(P("batch"), P())
  )


def _put(mesh, a, spec):
  return jax.device_put(a, NamedSharding(mesh, spec))


def _args(mesh, x, s, b, mask):
  stats = jn.BatchNormStats(jnp.full(C, 0.5), jnp.full(C, 2.0))
  return (
    _put(mesh, x, P("batch")),
    _put(mesh, s, P()),
    _put(mesh, b, P()),
    _put(mesh, mask, P("batch")),
    jax.tree.map(lambda a: _put(mesh, a, P()), stats),
  )


def _single(x, s, b, mask, **kw):
  stats = jn.BatchNormStats(jnp.full(C, 0.5), jnp.full(C, 2.0))
  return jn.batch_norm(
    jnp.asarray(x),
    stats,
    scale=jnp.asarray(s),
    bias=jnp.asarray(b),
    train=True,
    mask=jnp.asarray(mask),
    momentum=0.9,
    **kw,
  )


@pytest.mark.parametrize("case", ["full", "unequal_mask"])
@pytest.mark.parametrize("unbiased", [False, True])
def test_matches_single_device_full_batch(mesh, case, unbiased):
  x, s, b, _ = _data()
  mask = np.ones((N_DEV * PER_DEV, 1), bool) if case == "full" else _unequal_mask()
  y, st = jax.jit(_sharded(mesh, unbiased_running_var=unbiased))(*_args(mesh, x, s, b, mask))
  y1, st1 = _single(x, s, b, mask, unbiased_running_var=unbiased)
  np.testing.assert_allclose(y, y1, rtol=1e-5, atol=2e-5)
  np.testing.assert_allclose(st.mean, st1.mean, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(st.var, st1.var, rtol=1e-5, atol=1e-6)
  # the single-device reference itself: NumPy on the valid rows only
  valid = x[mask[:, 0]].astype(np.float64)
  mu, var = valid.mean(0), valid.var(0, ddof=1 if unbiased else 0)
  np.testing.assert_allclose(st1.mean, 0.9 * 0.5 + 0.1 * mu, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(st1.var, 0.9 * 2.0 + 0.1 * var, rtol=1e-5, atol=1e-6)
  want_y = (x - mu) / np.sqrt(valid.var(0) + EPS) * s + b
  np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=2e-5)


def test_mean_of_means_would_be_wrong(mesh):
  """The unequal case really distinguishes pooled statistics from averaged ones."""
  x, _, _, _ = _data()
  mask = _unequal_mask()[:, 0].reshape(N_DEV, PER_DEV)
  xs = x.reshape(N_DEV, PER_DEV, C)
  means = [xs[d][mask[d]].mean(0) for d in range(N_DEV) if mask[d].any()]
  pooled = x.reshape(-1, C)[mask.reshape(-1)].mean(0)
  assert np.max(np.abs(np.mean(means, 0) - pooled)) > 1e-2


def test_accurate_far_from_zero(mesh):
  x, s, b, _ = _data(loc=1000.0, scale=1.0, seed=3)
  mask = _unequal_mask()
  y, st = jax.jit(_sharded(mesh))(
    *_args(mesh, x, np.ones(C, np.float32), np.zeros(C, np.float32), mask)
  )
  valid = x[mask[:, 0]].astype(np.float64)
  want = (x - valid.mean(0)) / np.sqrt(valid.var(0) + EPS)
  assert np.max(np.abs(np.asarray(y, np.float64) - want)) < 3e-4
  np.testing.assert_allclose(st.var, 0.9 * 2.0 + 0.1 * valid.var(0), rtol=1e-4)


@pytest.mark.parametrize("case", ["full", "unequal_mask"])
def test_gradient_matches_single_device(mesh, case):
  x, s, b, cot = _data(seed=1)
  mask = np.ones((N_DEV * PER_DEV, 1), bool) if case == "full" else _unequal_mask()
  f = _sharded(mesh)
  args = _args(mesh, x, s, b, mask)
  cot_sh = _put(mesh, cot, P("batch"))

  def loss(x, s, b):
    return jnp.sum(f(x, s, b, args[3], args[4])[0] * cot_sh)

  with jax.set_mesh(mesh):
    got = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))(*args[:3])

  def loss1(x, s, b):
    return jnp.sum(_single(x, s, b, mask)[0] * cot)

  want = jax.grad(loss1, argnums=(0, 1, 2))(jnp.asarray(x), jnp.asarray(s), jnp.asarray(b))
  for g, w in zip(got, want):
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-4, atol=1e-4)


def _count(text, names):
  return sum(len(re.findall(n, text)) for n in names)


ALL_GATHER = (r"stablehlo\.all_gather\b",)
ALL_REDUCE = (r"stablehlo\.all_reduce\b",)


def test_one_collective_in_forward(mesh):
  x, s, b, _ = _data()
  args = _args(mesh, x, s, b, _unequal_mask())
  f = _sharded(mesh)
  jaxpr = str(jax.make_jaxpr(f)(*args))
  assert len(re.findall(r"= all_gather", jaxpr)) == 1, jaxpr
  assert _count(jaxpr, ("psum", "pmean", "all_reduce", "ppermute")) == 0, jaxpr
  hlo = jax.jit(f).lower(*args).as_text()
  assert _count(hlo, ALL_GATHER) == 1, hlo
  assert _count(hlo, ALL_REDUCE) == 0, hlo


def test_one_collective_in_backward(mesh):
  """fwd+bwd: the forward all_gather and ONE all_reduce (statistics' sums and the
  replicated scale/bias gradients together)."""
  x, s, b, _ = _data()
  args = _args(mesh, x, s, b, _unequal_mask())
  f = _sharded(mesh)

  def loss(x, s, b):
    return jnp.sum(f(x, s, b, args[3], args[4])[0] ** 2)

  with jax.set_mesh(mesh):
    hlo = jax.jit(jax.grad(loss, argnums=(0, 1, 2))).lower(*args[:3]).as_text()
  assert _count(hlo, ALL_GATHER) == 1, hlo
  assert _count(hlo, ALL_REDUCE) == 1, hlo


@pytest.mark.parametrize("jit", [False, True], ids=["vmap", "jit(vmap)"])
def test_named_vmap_axis(mesh, jit):
  """axis_name also works with a named vmap axis (no shard_map), eager or under jit (where
  JAX's all_gather(to='invarying') asserts instead of raising ValueError)."""
  del mesh
  x, s, b, _ = _data(seed=2)
  mask = _unequal_mask()
  xs, ms = x.reshape(N_DEV, PER_DEV, C), mask.reshape(N_DEV, PER_DEV, 1)
  stats = jn.BatchNormStats(jnp.full(C, 0.5), jnp.full(C, 2.0))

  def local(x, m):
    return jn.batch_norm(x, stats, scale=s, bias=b, train=True, axis_name="i", mask=m, momentum=0.9)

  mapped = jax.vmap(local, axis_name="i")
  y, st = (jax.jit(mapped) if jit else mapped)(xs, ms)
  y1, st1 = _single(x, s, b, mask)
  np.testing.assert_allclose(y.reshape(-1, C), y1, rtol=1e-5, atol=2e-5)
  np.testing.assert_allclose(st.mean[0], st1.mean, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(st.var[3], st1.var, rtol=1e-5, atol=1e-6)
