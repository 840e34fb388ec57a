"""Gradient clipping (jpatterns.optim._clipping) against optax, torch.nn.utils and NumPy
transcriptions of seed 002's 梯度截断 formulas written here."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from helpers import DTYPES, TOL, assert_no_retrace, assert_vmap_matches_loop, tree_allclose
from optim_helpers import PROBLEMS, assert_trajectories_close, run_jax, run_torch

from jpatterns.optim._clipping import clip_by_global_norm, clip_by_norm, clip_by_value

_rng = np.random.default_rng(1)
# Leaves with norms above and below the bounds used below, and an all-zero leaf.
GRADS = {
  "big": (_rng.normal(size=(4, 3)) * 3.0).astype(np.float32),  # ‖g‖ ≈ 10
  "small": (_rng.normal(size=(5,)) * 0.05).astype(np.float32),  # ‖g‖ ≈ 0.1
  "zero": np.zeros((2, 2), np.float32),
  "mid": (_rng.normal(size=(3,)) * 1.0).astype(np.float32),
}


# --------------------------------------------------------------------- references


def np_clip_value(g, a, b):
  return {k: np.maximum(np.minimum(v, b), a) for k, v in g.items()}  # max(min(g, b), a)


def np_clip_norm(g, b):
  out = {}
  for k, v in g.items():
    n = np.sqrt(np.sum(v.astype(np.float64) ** 2))
    out[k] = v * b / n if n > b else v  # g ← b g/‖g‖ if ‖g‖ > b
  return out


def torch_clip_per_tensor(g, b):
  out = {}
  for k, v in g.items():
    t = torch.tensor(v)
    t.grad = torch.tensor(v)
    torch.nn.utils.clip_grad_norm_([t], b)  # torch: g · min(1, b / (‖g‖ + 1e-6))
    out[k] = t.grad.numpy()
  return out


def torch_clip_global(g, b):
  ts = {k: torch.tensor(v) for k, v in g.items()}
  for k, t in ts.items():
    t.grad = torch.tensor(g[k])
  torch.nn.utils.clip_grad_norm_(list(ts.values()), b)
  return {k: t.grad.numpy() for k, t in ts.items()}


def optax_ref(tx):
  return lambda g: tx.update(jax.tree.map(jnp.asarray, g), tx.init(g))[0]


# ------------------------------------------------------------------ case registry
# name -> (jpatterns transform, reference fn on the NumPy gradient dict, rtol)
# torch divides by ‖g‖ + 1e-6: relative difference ≈ 1e-6/‖g‖ ≤ 1e-5 for ‖g‖ ≥ 0.1.

CASES = {
  "value_symmetric_optax": (clip_by_value(-0.5, 0.5), optax_ref(optax.clip(0.5)), 0),
  "value_asymmetric_np": (clip_by_value(-0.2, 1.0), lambda g: np_clip_value(g, -0.2, 1.0), 0),
  "value_degenerate_np": (clip_by_value(0.3, 0.3), lambda g: np_clip_value(g, 0.3, 0.3), 0),
  "norm_np": (clip_by_norm(1.0), lambda g: np_clip_norm(g, 1.0), 1e-6),
  "norm_torch": (clip_by_norm(1.0), lambda g: torch_clip_per_tensor(g, 1.0), 1e-5),
  "global_optax": (clip_by_global_norm(2.0), optax_ref(optax.clip_by_global_norm(2.0)), 1e-6),
  "global_torch": (clip_by_global_norm(2.0), lambda g: torch_clip_global(g, 2.0), 1e-5),
  "global_inactive_torch": (
    clip_by_global_norm(100.0),
    lambda g: torch_clip_global(g, 100.0),
    1e-6,
  ),
}


def apply(tx, g):
  return tx.update(g, tx.init(g))[0]


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_reference(name):
  tx, ref, rtol = CASES[name]
  got = apply(tx, jax.tree.map(jnp.asarray, GRADS))
  tree_allclose(got, ref(GRADS), rtol=rtol, atol=1e-7)


def test_norm_clip_is_per_tensor_not_global():
  """clip_by_norm bounds each leaf's norm by b; the global norm may stay above b."""
  got = apply(clip_by_norm(1.0), jax.tree.map(jnp.asarray, GRADS))
  norms = {k: float(np.linalg.norm(np.asarray(v))) for k, v in got.items()}
  assert norms["big"] == pytest.approx(1.0, rel=1e-6)
  assert norms["small"] == pytest.approx(np.linalg.norm(GRADS["small"]), rel=1e-6)
  assert float(optax.global_norm(got)) > 1.0


@pytest.mark.parametrize("name", sorted(CASES))
def test_dtype_kept(name):
  tx, _, _ = CASES[name]
  for dtype in DTYPES:
    g = jax.tree.map(lambda v: jnp.asarray(v, dtype), GRADS)
    got = apply(tx, g)
    assert all(l.dtype == jnp.dtype(dtype) for l in jax.tree.leaves(got))
    # Low precision in, same answer as float32 in (norms reduced in float32).
    want = apply(tx, jax.tree.map(lambda v: jnp.asarray(v, dtype).astype(jnp.float32), g))
    tree_allclose(jax.tree.map(lambda l: l.astype(jnp.float32), got), want, **TOL[jnp.dtype(dtype)])


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_matches_eager_and_no_retrace(name):
  tx, _, _ = CASES[name]
  g = jax.tree.map(jnp.asarray, GRADS)
  f = lambda g: apply(tx, g)  # noqa: E731
  tree_allclose(jax.jit(f)(g), f(g), rtol=1e-6, atol=1e-7)
  assert_no_retrace(f, g)


@pytest.mark.parametrize("name", ["norm_np", "global_optax"])
def test_vmap_gives_per_example_clipping(name):
  """vmap over a batch of gradient trees clips each example separately (DP-SGD style)."""
  tx, _, _ = CASES[name]
  batch = {k: jnp.stack([jnp.asarray(v) * s for s in (0.01, 1.0, 5.0)]) for k, v in GRADS.items()}
  assert_vmap_matches_loop(lambda g: apply(tx, g), batch)


@pytest.mark.parametrize(
  "tx", [clip_by_norm(1.0), clip_by_global_norm(1.0), clip_by_value(-1.0, 1.0)]
)
def test_zero_gradients_stay_zero_without_nan(tx):
  g = {"a": jnp.zeros((3, 2)), "b": jnp.zeros(())}
  got = jax.jit(lambda g: apply(tx, g))(g)
  for leaf in jax.tree.leaves(got):
    assert np.all(np.asarray(leaf) == 0.0)
  assert apply(tx, {}) == {}  # an empty tree too


class _ClippedSGD:
  """torch SGD with a gradient-clipping call before each step."""

  def __init__(self, params, lr, clip):
    self.params, self.clip = params, clip
    self.opt = torch.optim.SGD(params, lr=lr)

  def zero_grad(self):
    self.opt.zero_grad()

  def step(self):
    self.clip(self.params)
    self.opt.step()


def _per_tensor(b):
  def clip(params):
    for p in params:
      torch.nn.utils.clip_grad_norm_([p], b)

  return clip


LR = {"mlp": 0.1, "rosenbrock": 1e-3}


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_chained_with_sgd_matches_torch_trajectory(problem):
  """optax.chain(clip, optax.sgd) over 50 steps == torch clip_grad_*_ + SGD."""
  lr = LR[problem]
  b = 0.1 if problem == "mlp" else 5.0  # below the initial gradient norms: clipping acts
  cases = [
    (clip_by_global_norm(b), lambda ps: torch.nn.utils.clip_grad_norm_(ps, b)),
    (clip_by_norm(b), _per_tensor(b)),
    (clip_by_value(-b / 10, b / 10), lambda ps: torch.nn.utils.clip_grad_value_(ps, b / 10)),
  ]
  for tx, torch_clip in cases:
    jp = run_jax(optax.chain(tx, optax.sgd(lr)), problem, 50)
    th = run_torch(lambda ps: _ClippedSGD(ps, lr, torch_clip), problem, 50)
    assert_trajectories_close(jp, th, rtol=1e-5)


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_asymmetric_value_clip_in_chain_matches_numpy(problem):
  """clip_by_value(a, b) + sgd over 50 steps == a NumPy loop with the same gradients."""
  from optim_helpers import init_params, jax_loss

  a, b, lr = -0.05, 0.2, LR[problem]
  got = run_jax(optax.chain(clip_by_value(a, b), optax.sgd(lr)), problem, 50)
  grad = jax.jit(jax.grad(jax_loss(problem)))
  p = {k: np.asarray(v, np.float64) for k, v in init_params(problem).items()}
  for t in range(50):
    g = grad({k: jnp.asarray(v, jnp.float32) for k, v in p.items()})
    p = {k: p[k] - lr * np.maximum(np.minimum(np.asarray(g[k], np.float64), b), a) for k in p}
    assert_trajectories_close([got[t]], [p], rtol=1e-5)


def test_inside_inject_hyperparams():
  """A traced bound (optax.inject_hyperparams) works and can be changed between steps."""
  tx = optax.inject_hyperparams(clip_by_global_norm)(max_norm=1.0)
  g = jax.tree.map(jnp.asarray, GRADS)
  state = tx.init(g)
  out, state = jax.jit(tx.update)(g, state)
  tree_allclose(out, torch_clip_global(GRADS, 1.0), rtol=1e-5, atol=1e-7)
  state.hyperparams["max_norm"] = jnp.asarray(3.0)
  out, _ = jax.jit(tx.update)(g, state)
  tree_allclose(out, torch_clip_global(GRADS, 3.0), rtol=1e-5, atol=1e-7)


BAD = [
  (lambda: clip_by_value(1.0, -1.0), "clip_by_value: a=1.0 > b=-1.0"),
  (lambda: clip_by_value(0.5, 0.2), "a=0.5 > b=0.2"),
  (lambda: clip_by_norm(0.0), "clip_by_norm: max_norm=0.0"),
  (lambda: clip_by_norm(-1.0), "clip_by_norm: max_norm=-1.0"),
  (lambda: clip_by_global_norm(0), "clip_by_global_norm: max_norm=0"),
  (lambda: clip_by_global_norm(-2.5), "clip_by_global_norm: max_norm=-2.5"),
]


@pytest.mark.parametrize("make,match", BAD, ids=[m for _, m in BAD])
def test_invalid_arguments_raise_at_construction(make, match):
  with pytest.raises(ValueError, match=match):
    make()
