"""Regularizers: the pure penalties and label smoothing of jpatterns.regularization, and the
gradient transforms of jpatterns.optim._regularize, against NumPy transcriptions of seed
002's formulas (written here), jax autodiff, optax and torch.optim.

Trajectory comparisons run 50 steps on both problems of tests/optim_helpers.py with a
relative error ≤ 1e-5 per leaf and step (assert_trajectories_close).
"""

import jax
import jax.numpy as jnp
import jax.test_util  # noqa: F401  (check_grads)
import numpy as np
import optax
import pytest
import torch
from helpers import (
  DTYPES,
  assert_jit_matches_eager,
  assert_no_retrace,
  assert_vmap_matches_loop,
  tree_allclose,
)
from optim_helpers import (
  PROBLEMS,
  assert_trajectories_close,
  init_params,
  jax_loss,
  run_jax,
  run_torch,
)

from jpatterns.optim._adam import adam as jp_adam
from jpatterns.optim._regularize import (
  add_l1,
  add_l2,
  freeze,
  max_norm,
  skip_nonfinite,
  weight_decay,
)
from jpatterns.regularization import l1_penalty, l2_penalty, label_smoothing

STEPS = 50
PROBLEM_NAMES = sorted(PROBLEMS)
LR = {"mlp": 0.1, "rosenbrock": 1e-3}

_rng = np.random.default_rng(2)
PARAMS = {
  "dense": {
    "kernel": _rng.normal(size=(4, 3)).astype(np.float32),
    "bias": np.array([0.0, 0.5, -0.25], np.float32),
  },
  "scale": np.array([1.0, 0.0, -2.0], np.float32),
}
PARAMS["dense"]["kernel"][1, 2] = 0.0  # an exact zero weight: sgn(0) = 0 matters


def jparams(dtype=jnp.float32):
  return jax.tree.map(lambda v: jnp.asarray(v, dtype), PARAMS)


def np_leaves(tree):
  return [np.asarray(l, np.float64) for l in jax.tree.leaves(tree)]


# ======================================================================= penalties
# name -> (penalty(params), NumPy value, NumPy gradient)

KERNEL_ONLY = {"dense": {"kernel": True, "bias": False}, "scale": False}


def _np_l2(tree, lam, keep):
  return lam / 2 * sum(np.sum(w**2) for w, k in zip(np_leaves(tree), keep) if k)


def _np_l1(tree, lam, keep):
  return lam * sum(np.sum(np.abs(w)) for w, k in zip(np_leaves(tree), keep) if k)


ALL = [True, True, True]
KO = [False, True, False]  # leaf order: dense/bias, dense/kernel, scale
PENALTIES = {
  "l2": (
    lambda p: l2_penalty(p, weight=0.3),
    lambda p: _np_l2(p, 0.3, ALL),
    lambda w, k: 0.3 * w if k else 0 * w,
    ALL,
  ),
  "l2_mask_tree": (
    lambda p: l2_penalty(p, weight=0.3, mask=KERNEL_ONLY),
    lambda p: _np_l2(p, 0.3, KO),
    lambda w, k: 0.3 * w if k else 0 * w,
    KO,
  ),
  "l2_mask_callable": (
    lambda p: l2_penalty(p, weight=0.3, mask=lambda q: jax.tree.map(lambda x: x.ndim > 1, q)),
    lambda p: _np_l2(p, 0.3, KO),
    lambda w, k: 0.3 * w if k else 0 * w,
    KO,
  ),
  "l1": (
    lambda p: l1_penalty(p, weight=0.2),
    lambda p: _np_l1(p, 0.2, ALL),
    lambda w, k: 0.2 * np.sign(w) if k else 0 * w,
    ALL,
  ),  # np.sign(0) = 0
  "l1_mask_prefix": (
    lambda p: l1_penalty(p, weight=0.2, mask={"dense": True, "scale": False}),
    lambda p: _np_l1(p, 0.2, [True, True, False]),
    lambda w, k: 0.2 * np.sign(w) if k else 0 * w,
    [True, True, False],
  ),
}


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_penalty_value_and_gradient_match_numpy(name):
  f, np_value, np_grad, keep = PENALTIES[name]
  p = jparams()
  assert float(f(p)) == pytest.approx(np_value(PARAMS), rel=1e-6)
  got = np_leaves(jax.grad(f)(p))
  want = [np_grad(w, k) for w, k in zip(np_leaves(PARAMS), keep)]
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=1e-6, atol=0)


def test_l1_gradient_at_zero_is_zero_unlike_jax_abs():
  """Seed 002 sets sgn(0) = 0; jax.grad(jnp.abs) gives 1 at 0."""
  w = jnp.array([-1.5, 0.0, 0.0, 2.0])
  assert float(jax.grad(lambda x: jnp.abs(x).sum())(w)[1]) == 1.0
  g = jax.grad(lambda x: l1_penalty(x, weight=1.0))(w)
  np.testing.assert_array_equal(np.asarray(g), np.sign(np.asarray(w)))
  # Away from zero it is jax's own autodiff of λ Σ |w|.
  w = jnp.array([-1.5, 0.3, 2.0])
  tree_allclose(
    jax.grad(lambda x: l1_penalty(x, weight=0.7))(w),
    jax.grad(lambda x: 0.7 * jnp.abs(x).sum())(w),
    rtol=0,
    atol=0,
  )


def test_l2_gradients_against_autodiff():
  p = jparams()
  jax.test_util.check_grads(
    lambda q: l2_penalty(q, weight=0.3), (p,), order=1, modes=["fwd", "rev"], atol=1e-2, rtol=1e-2
  )
  tree_allclose(
    jax.grad(lambda q: l2_penalty(q, weight=0.3))(p),
    jax.grad(lambda q: sum(0.15 * jnp.sum(w**2) for w in jax.tree.leaves(q)))(p),
    rtol=1e-6,
  )


@pytest.mark.parametrize("name", sorted(PENALTIES))
def test_penalty_jit_vmap_dtype_no_retrace(name):
  f = PENALTIES[name][0]
  p = jparams()
  assert_jit_matches_eager(f, p)
  assert_no_retrace(f, p)
  stacked = jax.tree.map(lambda v: jnp.stack([v, 2 * v, -v]), p)
  assert_vmap_matches_loop(f, stacked)
  for dtype in DTYPES:  # reduced in float32 whatever the params' dtype
    out = f(jparams(dtype))
    assert out.dtype == jnp.float32
    ref = f(jax.tree.map(lambda v: v.astype(jnp.float32), jparams(dtype)))
    assert float(out) == pytest.approx(float(ref), rel=1e-6)


@pytest.mark.parametrize("problem", PROBLEM_NAMES)
def test_penalties_in_the_loss_equal_the_transforms_and_references(problem):
  """loss + λ/2‖w‖² with SGD == chain(add_l2, sgd) == optax add_decayed_weights == torch
  SGD(weight_decay=λ); loss + λ‖w‖₁ with SGD == chain(add_l1, sgd) == NumPy seed update
  w ← w − ηλ sgn(w) − η∇C₀."""
  lr, lam = LR[problem], 0.05
  loss = jax_loss(problem)

  def run_loss(penalty):
    params = init_params(problem)
    step = jax.jit(
      lambda p: jax.tree.map(
        lambda w, g: w - lr * g, p, jax.grad(lambda q: loss(q) + penalty(q))(p)
      )
    )
    out = []
    for _ in range(STEPS):
      params = step(params)
      out.append({k: np.asarray(v, np.float64) for k, v in params.items()})
    return out

  l2 = run_loss(lambda q: l2_penalty(q, weight=lam))
  assert_trajectories_close(l2, run_jax(optax.chain(add_l2(lam), optax.sgd(lr)), problem))
  assert_trajectories_close(
    l2, run_jax(optax.chain(optax.add_decayed_weights(lam), optax.sgd(lr)), problem)
  )
  assert_trajectories_close(
    l2, run_torch(lambda ps: torch.optim.SGD(ps, lr=lr, weight_decay=lam), problem, STEPS)
  )

  l1 = run_loss(lambda q: l1_penalty(q, weight=lam))
  assert_trajectories_close(l1, run_jax(optax.chain(add_l1(lam), optax.sgd(lr)), problem))
  grad = jax.jit(jax.grad(loss))
  p = {k: np.asarray(v, np.float64) for k, v in init_params(problem).items()}
  for t in range(STEPS):
    g = grad({k: jnp.asarray(v, jnp.float32) for k, v in p.items()})
    p = {
      k: p[k] - lr * lam * np.sign(p[k]) - lr * np.asarray(g[k], np.float64) for k in p
    }  # seed 002: ω ← ω − ηλ sgn(ω) − η ∂C₀/∂ω
    assert_trajectories_close([l1[t]], [p])


# =================================================================== label smoothing


def np_seed_smoothing(labels, eps, k):
  """Seed 002: [ε/(K−1), …, 1 − ε, …, ε/(K−1)]."""
  out = np.full(labels.shape + (k,), eps / (k - 1))
  np.put_along_axis(out, labels[..., None], 1 - eps, axis=-1)
  return out


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3, 0.9])
@pytest.mark.parametrize("k", [2, 5])
def test_label_smoothing_matches_seed_and_optax(eps, k):
  labels = np.array([[0, k - 1, 1], [1, 0, 0]])
  got = label_smoothing(jnp.asarray(labels), eps=eps, num_classes=k)
  assert got.dtype == jnp.float32
  np.testing.assert_allclose(
    np.asarray(got), np_seed_smoothing(labels, eps, k), rtol=1e-6, atol=1e-7
  )
  one_hot = jax.nn.one_hot(labels, k)
  from_onehot = label_smoothing(one_hot, eps=eps)
  np.testing.assert_allclose(np.asarray(from_onehot), np.asarray(got), rtol=1e-6, atol=1e-7)
  alpha = eps * k / (k - 1)  # optax: (1 − α) y + α/K
  np.testing.assert_allclose(
    np.asarray(from_onehot), np.asarray(optax.smooth_labels(one_hot, alpha)), rtol=1e-6, atol=1e-7
  )
  np.testing.assert_allclose(np.asarray(got).sum(-1), 1.0, rtol=1e-6)


def test_label_smoothing_differs_from_optax_same_epsilon():
  y = jax.nn.one_hot(jnp.array([2]), 4)
  ours = label_smoothing(y, eps=0.2)
  theirs = optax.smooth_labels(y, 0.2)
  assert float(ours[0, 2]) == pytest.approx(0.8)  # 1 − ε
  assert float(theirs[0, 2]) == pytest.approx(0.85)  # 1 − ε + ε/K


def test_label_smoothing_soft_labels_dtypes_jit_vmap_grad(key):
  soft = jax.nn.softmax(jax.random.normal(key, (6, 5)))
  alpha = 0.25 * 5 / 4
  np.testing.assert_allclose(
    np.asarray(label_smoothing(soft, eps=0.25)),
    np.asarray(optax.smooth_labels(soft, alpha)),
    rtol=1e-6,
    atol=1e-7,
  )
  for dtype in DTYPES:
    out = label_smoothing(soft.astype(dtype), eps=0.1)
    assert out.dtype == jnp.dtype(dtype)
  assert (
    label_smoothing(jnp.array([1]), eps=0.1, num_classes=3, dtype=jnp.bfloat16).dtype
    == jnp.bfloat16
  )
  f = lambda y: label_smoothing(y, eps=0.1)  # noqa: E731
  assert_jit_matches_eager(f, soft)
  assert_vmap_matches_loop(f, soft)
  assert_no_retrace(f, soft)
  # A traced ε (e.g. scheduled) is used as given.
  traced = jax.jit(lambda e: label_smoothing(jnp.array([0]), eps=e, num_classes=3))(0.3)
  np.testing.assert_allclose(np.asarray(traced), [[0.7, 0.15, 0.15]], rtol=1e-6)
  g = jax.grad(lambda y: jnp.sum(f(y) ** 2))(soft)
  assert np.all(np.isfinite(np.asarray(g)))


# ======================================================= gradient-transform registry
# name -> (transform to chain with sgd, NumPy Δθ from (updates, params))


def _np_project(w, k, axis):
  n = np.sqrt(np.sum(w**2, axis=axis, keepdims=True))
  return w * np.minimum(1.0, k / np.where(n > 0, n, 1.0))  # w · min(1, k/‖w‖)


def _tree_np(f, u, p, keep=None):
  keep = keep or [True] * len(jax.tree.leaves(p))
  leaves = [f(a, b) if k else a for a, b, k in zip(np_leaves(u), np_leaves(p), keep)]
  return jax.tree.unflatten(jax.tree.structure(p), leaves)


IS_MATRIX = lambda q: jax.tree.map(lambda x: x.ndim > 1, q)  # noqa: E731
TRANSFORMS = {
  "add_l2": (add_l2(0.1), lambda u, p: _tree_np(lambda a, b: a + 0.1 * b, u, p)),
  "add_l2_masked": (
    add_l2(0.1, mask=KERNEL_ONLY),
    lambda u, p: _tree_np(lambda a, b: a + 0.1 * b, u, p, KO),
  ),
  "add_l1": (add_l1(0.1), lambda u, p: _tree_np(lambda a, b: a + 0.1 * np.sign(b), u, p)),
  "weight_decay": (
    weight_decay(0.1, learning_rate=0.5),
    lambda u, p: _tree_np(lambda a, b: a - 0.05 * b, u, p),
  ),
  "weight_decay_masked": (
    weight_decay(0.1, learning_rate=0.5, mask=IS_MATRIX),
    lambda u, p: _tree_np(lambda a, b: a - 0.05 * b, u, p, KO),
  ),
  "max_norm_axis0": (
    max_norm(1.0, axis=0, mask=IS_MATRIX),
    lambda u, p: _tree_np(lambda a, b: _np_project(a + b, 1.0, 0) - b, u, p, KO),
  ),
  "max_norm_axis1": (
    max_norm(0.8, axis=1, mask=KERNEL_ONLY),
    lambda u, p: _tree_np(lambda a, b: _np_project(a + b, 0.8, 1) - b, u, p, KO),
  ),
  "max_norm_whole": (
    max_norm(1.5, axis=None),
    lambda u, p: _tree_np(lambda a, b: _np_project(a + b, 1.5, None) - b, u, p),
  ),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transform_matches_numpy(name):
  tx, ref = TRANSFORMS[name]
  p = jparams()
  u = jax.tree.map(lambda w: 0.5 * jnp.cos(3 * w), p)
  got, _ = tx.update(u, tx.init(p), p)
  tree_allclose(got, ref(u, p), rtol=1e-5, atol=1e-6)
  for dtype in DTYPES:
    pd, ud = jparams(dtype), jax.tree.map(lambda x: x.astype(dtype), u)
    out, _ = tx.update(ud, tx.init(pd), pd)
    assert all(l.dtype == jnp.dtype(dtype) for l in jax.tree.leaves(out))


@pytest.mark.parametrize("mask", [None, KERNEL_ONLY, IS_MATRIX])
def test_add_l2_equals_optax_add_decayed_weights(mask):
  p = jparams()
  g = jax.tree.map(lambda w: jnp.sin(2 * w), p)
  ours, theirs = add_l2(0.3, mask=mask), optax.add_decayed_weights(0.3, mask=mask)
  tree_allclose(
    ours.update(g, ours.init(p), p)[0], theirs.update(g, theirs.init(p), p)[0], rtol=1e-6, atol=1e-7
  )


@pytest.mark.parametrize("name", sorted(TRANSFORMS) + ["freeze", "freeze_inner", "skip_nonfinite"])
def test_chains_with_sgd_jits_with_donation_without_retrace(name):
  """Inside optax.chain with optax.sgd, jitted with donated buffers: traced once."""
  if name == "freeze":
    tx = optax.chain(optax.sgd(0.1, momentum=0.9), freeze(KERNEL_ONLY))
  elif name == "freeze_inner":
    tx = freeze({"dense": True, "scale": False}, inner=optax.sgd(0.1, momentum=0.9))
  elif name == "skip_nonfinite":
    tx = skip_nonfinite(optax.sgd(0.1, momentum=0.9))
  elif name.startswith(("add_", "clip")):
    tx = optax.chain(TRANSFORMS[name][0], optax.sgd(0.1, momentum=0.9))
  else:
    tx = optax.chain(optax.sgd(0.1, momentum=0.9), TRANSFORMS[name][0])
  traces = []

  def step(p, s):
    traces.append(None)
    g = jax.tree.map(jnp.sin, p)
    u, s = tx.update(g, s, p)
    return optax.apply_updates(p, u), s

  jstep = jax.jit(step, donate_argnums=(0, 1))
  p = jparams()
  s = tx.init(p)
  ref_p, ref_s = jparams(), tx.init(jparams())
  for _ in range(2):
    p, s = jstep(p, s)
    ref_p, ref_s = step(ref_p, ref_s)  # eager
  assert len(traces) == 3, f"traced {len(traces) - 2} times under jit"
  tree_allclose(p, ref_p, rtol=1e-5, atol=1e-6)


# ==================================================================== weight decay


@pytest.mark.parametrize("problem", PROBLEM_NAMES)
def test_decoupled_weight_decay_with_sgd_is_the_seed_update(problem):
  """chain(sgd(η), weight_decay(λ, η)): w ← (1 − ηλ)w − η∇C₀ (seed 002); for SGD it equals
  coupled L2 (optax add_decayed_weights before sgd, torch SGD(weight_decay))."""
  lr, lam = LR[problem], 0.2
  got = run_jax(optax.chain(optax.sgd(lr), weight_decay(lam, learning_rate=lr)), problem)
  assert_trajectories_close(
    got, run_jax(optax.chain(optax.add_decayed_weights(lam), optax.sgd(lr)), problem)
  )
  assert_trajectories_close(
    got, run_torch(lambda ps: torch.optim.SGD(ps, lr=lr, weight_decay=lam), problem, STEPS)
  )
  grad = jax.jit(jax.grad(jax_loss(problem)))
  p = {k: np.asarray(v, np.float64) for k, v in init_params(problem).items()}
  for t in range(STEPS):
    g = grad({k: jnp.asarray(v, jnp.float32) for k, v in p.items()})
    p = {k: (1 - lr * lam) * p[k] - lr * np.asarray(g[k], np.float64) for k in p}
    assert_trajectories_close([got[t]], [p])


@pytest.mark.parametrize("problem", PROBLEM_NAMES)
def test_adam_plus_weight_decay_is_adamw(problem):
  """chain(adam, weight_decay) == optax.adamw == torch AdamW, masks and schedules included."""
  lr, lam = 1e-2, 0.1
  got = run_jax(optax.chain(optax.adam(lr), weight_decay(lam, learning_rate=lr)), problem)
  assert_trajectories_close(got, run_jax(optax.adamw(lr, weight_decay=lam), problem))
  assert_trajectories_close(
    got, run_torch(lambda ps: torch.optim.AdamW(ps, lr=lr, weight_decay=lam), problem, STEPS)
  )
  sched = optax.cosine_decay_schedule(lr, 50, alpha=0.1)
  got = run_jax(
    optax.chain(optax.adam(sched), weight_decay(lam, learning_rate=sched, mask=IS_MATRIX)), problem
  )
  assert_trajectories_close(
    got, run_jax(optax.adamw(sched, weight_decay=lam, mask=IS_MATRIX), problem)
  )


def test_weight_decay_masked_against_torch_param_groups():
  """Masked decay (matrices only) == torch AdamW with a no-decay param group."""
  lr, lam = 1e-2, 0.1
  got = run_jax(
    optax.chain(optax.adam(lr), weight_decay(lam, learning_rate=lr, mask=IS_MATRIX)), "mlp"
  )
  ref = run_torch(
    lambda ps: torch.optim.AdamW(
      [
        {"params": [ps[0], ps[2]], "weight_decay": lam},
        {"params": [ps[1], ps[3]], "weight_decay": 0.0},
      ],
      lr=lr,
    ),
    "mlp",
    STEPS,
  )
  assert_trajectories_close(got, ref)


def test_weight_decay_inside_inject_hyperparams():
  tx = optax.chain(
    optax.sgd(0.1), optax.inject_hyperparams(weight_decay)(weight_decay=0.2, learning_rate=0.1)
  )
  p = jparams()
  g = jax.tree.map(jnp.ones_like, p)
  u, _ = jax.jit(tx.update)(g, tx.init(p), p)
  tree_allclose(
    u, jax.tree.map(lambda w: -0.1 - 0.02 * np.asarray(w), PARAMS), rtol=1e-5, atol=1e-7
  )


# ======================================================================== max norm


@pytest.mark.parametrize("problem", PROBLEM_NAMES)
def test_max_norm_chained_after_sgd_is_projected_gradient_descent(problem):
  """50 steps of sgd then projection == a NumPy projected-gradient loop; norms stay ≤ k."""
  lr = LR[problem] * 5
  k = 0.6 if problem == "mlp" else 1.0
  mask = IS_MATRIX if problem == "mlp" else None
  got = run_jax(optax.chain(optax.sgd(lr), max_norm(k, axis=0, mask=mask)), problem)
  grad = jax.jit(jax.grad(jax_loss(problem)))
  p = {k_: np.asarray(v, np.float64) for k_, v in init_params(problem).items()}
  for t in range(STEPS):
    g = grad({n: jnp.asarray(v, jnp.float32) for n, v in p.items()})
    p = {n: p[n] - lr * np.asarray(g[n], np.float64) for n in p}
    p = {n: _np_project(v, k, 0) if (v.ndim > 1 or mask is None) else v for n, v in p.items()}
    assert_trajectories_close([got[t]], [p])
    for _n, v in got[t].items():
      if v.ndim > 1 or mask is None:
        assert np.all(np.linalg.norm(v, axis=0) <= k * (1 + 1e-6))
  first = got[0]["w1" if problem == "mlp" else "xy"]
  assert np.max(np.linalg.norm(first, axis=0)) == pytest.approx(k, rel=1e-5)  # it acted


def test_max_norm_leaves_inside_points_unchanged():
  tx = max_norm(100.0, axis=0)
  p = jparams()
  u = jax.tree.map(lambda w: 0.1 * w, p)
  got, _ = tx.update(u, tx.init(p), p)
  tree_allclose(got, u, rtol=1e-6, atol=1e-7)


# ========================================================================== freeze


def _mlp_head_mask(frozen_backbone=True):
  return {"w1": frozen_backbone, "b1": frozen_backbone, "w2": False, "s": False}


def test_freeze_with_inner_trains_only_the_head_and_keeps_no_backbone_state():
  """003 §10: retrain the last layer. Same as optax.multi_transform with set_to_zero,
  optax.selective_transform, and torch Adam given the head parameters only."""
  lr = 1e-2
  mask = _mlp_head_mask()
  got = run_jax(freeze(mask, inner=optax.adam(lr)), "mlp")
  labels = {k: "freeze" if v else "train" for k, v in mask.items()}
  assert_trajectories_close(
    got,
    run_jax(
      optax.multi_transform({"train": optax.adam(lr), "freeze": optax.set_to_zero()}, labels), "mlp"
    ),
  )
  assert_trajectories_close(
    got, run_jax(optax.selective_transform(optax.adam(lr), freeze_mask=mask), "mlp")
  )
  assert_trajectories_close(
    got, run_torch(lambda ps: torch.optim.Adam([ps[2], ps[3]], lr=lr), "mlp", STEPS)
  )
  assert_trajectories_close(got, run_jax(freeze(mask, inner=jp_adam(lr)), "mlp"))
  p0 = init_params("mlp")
  for k in ("w1", "b1"):
    np.testing.assert_array_equal(got[-1][k], np.asarray(p0[k], np.float64))
  # No Adam moments for the frozen leaves: state holds count + 2 × head sizes.
  state = freeze(mask, inner=optax.adam(lr)).init(p0)
  head = p0["w2"].size + p0["s"].size
  assert sum(l.size for l in jax.tree.leaves(state)) == 1 + 2 * head


def test_freeze_prefix_and_callable_masks():
  p = jparams()
  g = jax.tree.map(jnp.ones_like, p)
  for mask in (
    {"dense": True, "scale": False},
    lambda q: {"dense": jax.tree.map(lambda _: True, q["dense"]), "scale": False},
  ):
    tx = freeze(mask, inner=optax.sgd(0.1))
    u, _ = tx.update(g, tx.init(p), p)
    assert all(np.all(np.asarray(l) == 0) for l in jax.tree.leaves(u["dense"]))
    np.testing.assert_allclose(np.asarray(u["scale"]), -0.1 * np.ones(3), rtol=1e-6)


def test_freeze_without_inner_equals_optax_freeze_after_the_optimizer():
  lr = 1e-2
  mask = _mlp_head_mask()
  got = run_jax(optax.chain(optax.adamw(lr, weight_decay=0.1), freeze(mask)), "mlp")
  ref = run_jax(optax.chain(optax.adamw(lr, weight_decay=0.1), optax.freeze(mask)), "mlp")
  assert_trajectories_close(got, ref)
  p0 = init_params("mlp")
  np.testing.assert_array_equal(got[-1]["w1"], np.asarray(p0["w1"], np.float64))


def test_optax_masked_is_not_a_freeze():
  """The common bug: optax.masked(opt, trainable) passes the other leaves' gradients
  through UNCHANGED, so 'frozen' params move by +g (uphill); freeze keeps them fixed."""
  p = {"backbone": jnp.array([1.0, 2.0]), "head": jnp.array([3.0])}
  g = {"backbone": jnp.array([0.5, -0.5]), "head": jnp.array([1.0])}
  buggy = optax.masked(optax.sgd(0.1), {"backbone": False, "head": True})
  u, _ = buggy.update(g, buggy.init(p), p)
  moved = optax.apply_updates(p, u)
  np.testing.assert_allclose(np.asarray(moved["backbone"]), [1.5, 1.5])  # θ + g
  ours = freeze({"backbone": True, "head": False}, inner=optax.sgd(0.1))
  u, _ = ours.update(g, ours.init(p), p)
  kept = optax.apply_updates(p, u)
  np.testing.assert_array_equal(np.asarray(kept["backbone"]), [1.0, 2.0])
  np.testing.assert_allclose(np.asarray(kept["head"]), [2.9], rtol=1e-6)


# ================================================================= skip_nonfinite

BAD_STEPS = {3: np.nan, 4: np.inf, 5: -np.inf, 20: np.nan}


def _corrupt(g, t):
  if t in BAD_STEPS:
    return jax.tree.map(lambda x: x.at[(0,) * x.ndim].set(BAD_STEPS[t]), g)
  return g


def test_skip_nonfinite_skips_counts_and_matches_apply_if_finite():
  lr = 1e-2
  loss = jax_loss("mlp")
  ours = skip_nonfinite(optax.adam(lr))
  theirs = optax.apply_if_finite(optax.adam(lr), max_consecutive_errors=1000)
  plain = optax.adam(lr)

  @jax.jit
  def grad_at(p):
    return jax.grad(loss)(p)

  p = q = r = init_params("mlp")
  s, s2, s3 = ours.init(p), theirs.init(q), plain.init(r)
  upd, upd2, upd3 = jax.jit(ours.update), jax.jit(theirs.update), jax.jit(plain.update)
  total = consecutive = 0
  for t in range(STEPS):
    g = _corrupt(grad_at(p), t)
    before_inner = s.skip_inner
    u, s = upd(g, s, p)
    p_new = optax.apply_updates(p, u)
    u2, s2 = upd2(_corrupt(grad_at(q), t), s2, q)
    q = optax.apply_updates(q, u2)
    if t in BAD_STEPS:
      total, consecutive = total + 1, consecutive + 1
      tree_allclose(p_new, p, rtol=0, atol=0)  # params untouched
      tree_allclose(s.skip_inner, before_inner, rtol=0, atol=0)  # inner state untouched
    else:
      consecutive = 0
      u3, s3 = upd3(grad_at(r), s3, r)  # the inner optimizer on finite steps only
      r = optax.apply_updates(r, u3)
    p = p_new
    assert int(s.skip_total) == total == int(s2.total_notfinite)
    assert int(s.skip_consecutive) == consecutive == int(s2.notfinite_count)
    tree_allclose(p, q, rtol=1e-6, atol=1e-7)
    tree_allclose(p, r, rtol=1e-5, atol=1e-6)
  assert int(optax.tree.get(s, "count")) == STEPS - len(BAD_STEPS)


def test_skip_nonfinite_never_gives_up_unlike_apply_if_finite():
  p = {"w": jnp.ones(2)}
  nan = {"w": jnp.array([jnp.nan, 1.0])}
  ours = skip_nonfinite(optax.sgd(0.1))
  theirs = optax.apply_if_finite(optax.sgd(0.1), max_consecutive_errors=2)
  s, s2 = ours.init(p), theirs.init(p)
  for _ in range(4):
    u, s = ours.update(nan, s, p)
    u2, s2 = theirs.update(nan, s2, p)
  assert np.all(np.isfinite(np.asarray(u["w"])))
  assert int(s.skip_consecutive) == 4
  assert np.isnan(np.asarray(u2["w"])[0])  # optax accepted the NaN step


# ======================================================================== bad input

BAD = [
  (lambda: l2_penalty(PARAMS, weight=-0.1), "l2_penalty: weight=-0.1"),
  (lambda: l1_penalty(PARAMS, weight=-1.0), "l1_penalty: weight=-1.0"),
  (lambda: l2_penalty(PARAMS, weight=0.1, mask={"dense": True}), "l2_penalty: mask"),
  (lambda: label_smoothing(jnp.array([0, 1]), eps=-0.1, num_classes=3), "eps=-0.1"),
  (lambda: label_smoothing(jnp.array([0, 1]), eps=1.5, num_classes=3), "eps=1.5"),
  (lambda: label_smoothing(jnp.array([0, 1]), eps=1.0, num_classes=3), r"eps=1.0 is outside \[0"),
  (lambda: label_smoothing(jnp.array([0, 1]), eps=0.1), "need num_classes"),
  (lambda: label_smoothing(jnp.ones((2, 3)), eps=0.1, num_classes=4), "num_classes=4 differs"),
  (lambda: label_smoothing(jnp.float32(1.0), eps=0.1), "scalar"),
  (lambda: label_smoothing(jnp.array([0, 0]), eps=0.1, num_classes=1), "num_classes=1"),
  (lambda: label_smoothing(jnp.ones((2, 1)), eps=0.1), "num_classes=1"),
  (lambda: label_smoothing(jnp.array([True]), eps=0.1, num_classes=2), "dtype bool"),
  (lambda: add_l2(-0.1), "add_l2: weight=-0.1"),
  (lambda: add_l1(-0.1), "add_l1: weight=-0.1"),
  (lambda: weight_decay(-0.1, learning_rate=0.1), "weight_decay: weight_decay=-0.1"),
  (lambda: weight_decay(0.1, learning_rate=-0.1), "weight_decay: learning_rate=-0.1"),
  (lambda: max_norm(0.0), "max_norm: max_value=0.0"),
  (lambda: max_norm(-1.0), "max_norm: max_value=-1.0"),
  (lambda: max_norm(1.0, axis=2).update(jparams(), None, jparams()), "max_norm: axis=2"),
  (lambda: add_l2(0.1).update(jparams(), None), "add_l2: update needs params"),
  (
    lambda: weight_decay(0.1, learning_rate=0.1).update(
      jparams(), weight_decay(0.1, learning_rate=0.1).init(None)
    ),
    "weight_decay: update needs params",
  ),
  (lambda: freeze({"dense": True}).init(jparams()), "freeze: mask"),
]


@pytest.mark.parametrize("make,match", BAD, ids=[m for _, m in BAD])
def test_invalid_arguments_raise(make, match):
  with pytest.raises(ValueError, match=match):
    make()


def test_transforms_inside_multisteps():
  """optax.MultiSteps over a chain of jpatterns transforms == the chain applied once to the
  mean of the accumulated gradients."""
  from jpatterns.optim._clipping import clip_by_global_norm

  make = lambda: optax.chain(
    clip_by_global_norm(1.0),
    add_l1(0.01),  # noqa: E731
    optax.sgd(0.1, momentum=0.9),
    weight_decay(0.1, learning_rate=0.1),
    max_norm(1.0, axis=0, mask=IS_MATRIX),
  )
  ms = optax.MultiSteps(make(), every_k_schedule=2)
  p = jparams()
  g1 = jax.tree.map(lambda w: jnp.sin(3 * w), p)
  g2 = jax.tree.map(lambda w: jnp.cos(2 * w), p)
  s = ms.init(p)
  u, s = jax.jit(ms.update)(g1, s, p)
  assert all(np.all(np.asarray(l) == 0) for l in jax.tree.leaves(u))
  u, s = jax.jit(ms.update)(g2, s, p)
  once = make()
  want, _ = once.update(jax.tree.map(lambda a, b: (a + b) / 2, g1, g2), once.init(p), p)
  tree_allclose(u, want, rtol=1e-5, atol=1e-6)
