"""Flat-buffer training step (jpatterns.optim._flat): same numbers as the tree form,
one buffer per dtype/group, one concatenate in the gradient, and an optimizer part
whose size does not grow with the number of parameter arrays.

References: the ordinary tree-form optax step (``opt.update`` on the pytree), and a
NumPy transcription of the packing (``np.concatenate`` of raveled leaves).
"""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.extend import core as jex_core

from jpatterns.optim._flat import FlatLayout, flat_train_step, flatten_params

_rng = np.random.default_rng(0)
_X = jnp.asarray(_rng.normal(size=(16, 4)).astype(np.float32))
_Y = jnp.asarray(_rng.normal(size=(16, 2)).astype(np.float32))
# Mixed shapes, nesting and a scalar.
_PARAMS = {
  "dense": {
    "w": (_rng.normal(size=(4, 3)) * 0.5).astype(np.float32),
    "b": (_rng.normal(size=(3,)) * 0.1).astype(np.float32),
  },
  "head": [(_rng.normal(size=(3, 2)) * 0.5).astype(np.float32), np.float32(0.7)],  # a scalar gain
  "s": np.array([0.8, -1.2], np.float32),
}


def _params(dtype=jnp.float32):
  return jax.tree.map(lambda x: jnp.asarray(x, dtype), _PARAMS)


def _loss(p, x, y):
  """Non-quadratic: log-cosh regression through tanh, scalar gain, quartic term."""
  h = jnp.tanh(x @ p["dense"]["w"].astype(jnp.float32) + p["dense"]["b"].astype(jnp.float32))
  r = p["head"][1].astype(jnp.float32) * (h @ p["head"][0].astype(jnp.float32)) - y
  return jnp.log(jnp.cosh(r)).mean() + 0.1 * (p["s"].astype(jnp.float32) ** 4).sum()


def _tree_step(opt):
  def step(params, state, x, y):
    loss, g = jax.value_and_grad(_loss)(params, x, y)
    updates, state = opt.update(g, state, params)
    return optax.apply_updates(params, updates), state, loss

  return step


def _jp(module, name, *args, **kwargs):
  return lambda: getattr(importlib.import_module(f"jpatterns.optim.{module}"), name)(
    *args, **kwargs
  )


OPTIMIZERS = {
  "optax.adam": lambda: optax.adam(1e-2),
  "optax.sgd_momentum": lambda: optax.sgd(1e-2, momentum=0.9),
  "optax.chain_global_norm_adamw": lambda: optax.chain(
    optax.clip_by_global_norm(0.5), optax.adamw(1e-2, weight_decay=1e-2)
  ),
  "optax.inject_hyperparams_adam": lambda: optax.inject_hyperparams(optax.adam)(
    learning_rate=optax.cosine_decay_schedule(1e-2, 20)
  ),
  "optax.multisteps_sgd": lambda: optax.MultiSteps(optax.sgd(1e-2, momentum=0.9), 3),
  "jp.sgd": _jp("_sgd", "sgd", 1e-2),
  "jp.momentum": _jp("_sgd", "momentum", 1e-2),
  "jp.nesterov": _jp("_sgd", "nesterov", 1e-2),
  "jp.adagrad": _jp("_adaptive", "adagrad", 1e-1),
  "jp.adadelta": _jp("_adaptive", "adadelta", learning_rate=1.0),
  "jp.rmsprop": _jp("_adaptive", "rmsprop", 1e-2),
  "jp.rmsprop_centered_momentum": _jp("_adaptive", "rmsprop", 1e-2, centered=True, momentum=0.5),
  "jp.adam": _jp("_adam", "adam", 1e-2),
  "jp.adamw": _jp("_adam", "adamw", 1e-2, weight_decay=1e-2),
  "jp.amsgrad": _jp("_adam", "amsgrad", 1e-2),
  "jp.nadam": _jp("_adam", "nadam", 1e-2),
  "jp.adamax": _jp("_adamax", "adamax", 1e-2),
  "jp.lion": _jp("_lion", "lion", 1e-3),
}
STEPS = 20


def _run_tree(opt, params, steps=STEPS):
  step = jax.jit(_tree_step(opt))
  state = opt.init(params)
  losses = []
  for _ in range(steps):
    params, state, loss = step(params, state, _X, _Y)
    losses.append(float(loss))
  return params, losses


def _run_flat(opt, params, steps=STEPS, **kw):
  flat, unflatten = flatten_params(params, **kw)
  step = jax.jit(flat_train_step(_loss, opt, unflatten), donate_argnums=(0, 1))
  state = opt.init(flat)
  losses = []
  for _ in range(steps):
    flat, state, loss = step(flat, state, _X, _Y)
    losses.append(float(loss))
  return jax.jit(unflatten)(flat), losses, flat, state, step


def _assert_trees_close(a, b, rtol):
  """Leaf-wise ‖a − b‖∞ / max(‖b‖∞, 1) ≤ rtol (normwise, as optim_helpers): the two
  programs fuse the model's gradient differently, so float32 rounding differs slightly."""
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    assert x.shape == y.shape and x.dtype == y.dtype
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    err = np.max(np.abs(x - y), initial=0.0) / max(np.max(np.abs(y), initial=0.0), 1.0)
    assert err <= rtol, f"relative error {err:.2e} > {rtol:.0e}"


# ---------------------------------------------------------------- packing


def test_flatten_matches_numpy_packing_and_roundtrips():
  params = {
    "a": np.arange(6, dtype=np.float32).reshape(2, 3),
    "z": np.zeros((0, 4), np.float32),
    "b": (np.float32(-1.5), np.array([[7.0]], np.float32)),
  }
  flat, unflatten = flatten_params(params)
  # NumPy transcription: leaves in jax.tree order, raveled (C order), concatenated.
  ref = np.concatenate([np.ravel(x) for x in jax.tree.leaves(params)])
  assert list(flat) == ["float32"]
  np.testing.assert_array_equal(np.asarray(flat["float32"]), ref)
  back = unflatten(flat)
  assert jax.tree.structure(back) == jax.tree.structure(params)
  for x, y in zip(jax.tree.leaves(back), jax.tree.leaves(params)):
    assert x.shape == np.shape(y)
    np.testing.assert_array_equal(np.asarray(x), y)
  # layout.flatten packs another tree (e.g. gradients) the same way.
  doubled = jax.tree.map(lambda x: 2 * jnp.asarray(x), params)
  np.testing.assert_array_equal(np.asarray(unflatten.flatten(doubled)["float32"]), 2 * ref)
  assert "4 leaves" in repr(unflatten)


def test_mixed_dtypes_get_one_buffer_each():
  params = {
    "w": jnp.ones((3, 2), jnp.bfloat16),
    "b": jnp.zeros(2, jnp.float32),
    "g": jnp.full((4,), 2.0, jnp.bfloat16),
  }
  flat, unflatten = flatten_params(params)
  assert {k: (v.dtype, v.shape) for k, v in flat.items()} == {
    "bfloat16": (jnp.bfloat16, (10,)),
    "float32": (jnp.float32, (2,)),
  }
  back = unflatten(flat)
  for k in params:
    assert back[k].dtype == params[k].dtype
    np.testing.assert_array_equal(
      np.asarray(back[k], np.float32), np.asarray(params[k], np.float32)
    )


def test_unflatten_gradient_is_one_concatenate_not_pad_add():
  """The transpose of the views is ONE concatenate (slices would give a pad+add per leaf)."""
  n = 20
  params = {f"p{i:02d}": jnp.full((3, 2), 0.1 * i) for i in range(n)}
  flat, unflatten = flatten_params(params)

  def loss(f):
    return sum(jnp.sum(jnp.tanh(v) * (i + 1)) for i, v in enumerate(jax.tree.leaves(unflatten(f))))

  jaxpr = str(jax.make_jaxpr(jax.grad(loss))(flat))
  assert jaxpr.count(" pad[") == 0
  assert jaxpr.count("concatenate[") == 1
  compiled = jax.jit(jax.grad(loss)).lower(flat).compile()
  assert " pad(" not in compiled.as_text()
  # Value: d/dθ_i Σ i·tanh(θ_i) = i (1 − tanh²θ_i), in packing order.
  g = np.asarray(compiled(flat)["float32"]).reshape(n, 6)
  ref = np.array([(i + 1) * (1 - np.tanh(np.float32(0.1) * i) ** 2) for i in range(n)])
  np.testing.assert_allclose(g, np.repeat(ref[:, None], 6, axis=1), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- same numbers


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_flat_step_matches_tree_form(name):
  tree_p, tree_losses = _run_tree(OPTIMIZERS[name](), _params())
  flat_p, flat_losses, *_ = _run_flat(OPTIMIZERS[name](), _params())
  _assert_trees_close(flat_p, tree_p, rtol=1e-5)
  np.testing.assert_allclose(flat_losses, tree_losses, rtol=1e-5, atol=1e-7)
  assert tree_losses[-1] < tree_losses[0]  # the problem actually moves


def test_mixed_dtype_flat_matches_tree_form():
  params = _params()
  params["dense"]["w"] = params["dense"]["w"].astype(jnp.bfloat16)
  params["s"] = params["s"].astype(jnp.bfloat16)
  tree_p, _ = _run_tree(optax.adam(1e-2), params, steps=10)
  flat_p, _, flat, _, _ = _run_flat(optax.adam(1e-2), params, steps=10)
  assert sorted(flat) == ["bfloat16", "float32"]
  # Same elementwise ops in the same dtypes: bf16 leaves agree to bf16 rounding (a
  # gradient rounding difference can flip the last bf16 bit), float32 leaves to 1e-5.
  _assert_trees_close(flat_p, tree_p, rtol=1e-2)
  _assert_trees_close(flat_p["dense"]["b"], tree_p["dense"]["b"], rtol=1e-5)
  _assert_trees_close(flat_p["head"], tree_p["head"], rtol=1e-5)


def test_groups_carry_a_weight_decay_mask():
  """No decay on vectors/scalars: tree mask on the tree == per-group mask on the flat dict."""

  def label(p):
    return jax.tree.map(lambda x: "decay" if jnp.ndim(x) > 1 else "no_decay", p)

  def tree_mask(p):
    return jax.tree.map(lambda x: jnp.ndim(x) > 1, p)

  tree_p, _ = _run_tree(optax.adamw(1e-2, weight_decay=0.5, mask=tree_mask), _params())
  flat_opt = optax.adamw(1e-2, weight_decay=0.5, mask={"decay": True, "no_decay": False})
  flat_p, _, flat, _, _ = _run_flat(flat_opt, _params(), groups=label)
  assert sorted(flat) == ["decay", "no_decay"]
  _assert_trees_close(flat_p, tree_p, rtol=1e-5)
  # And the mask matters: without it the result differs.
  nomask_p, _ = _run_tree(optax.adamw(1e-2, weight_decay=0.5), _params())
  assert not np.allclose(np.asarray(nomask_p["s"]), np.asarray(tree_p["s"]), atol=1e-4)


def test_per_tensor_clipping_does_not_commute():
  """The documented limitation: a per-tensor norm sees ONE tensor in the flat path."""

  def opt():
    return optax.chain(optax.clip_by_block_rms(0.01), optax.sgd(0.1))

  tree_p, _ = _run_tree(opt(), _params(), steps=3)
  flat_p, _, *_ = _run_flat(opt(), _params(), steps=3)
  assert not np.allclose(
    np.asarray(flat_p["dense"]["w"]), np.asarray(tree_p["dense"]["w"]), atol=1e-4
  )


def test_has_aux_and_optimizer_states_unflatten():
  opt = optax.adam(1e-2)
  flat, unflatten = flatten_params(_params())

  def loss_aux(p, x, y):
    return (_loss(p, x, y), {"gain": p["head"][1]})

  step = jax.jit(flat_train_step(loss_aux, opt, unflatten, has_aux=True))
  flat, state, loss, aux = step(flat, opt.init(flat), _X, _Y)
  tree_p = _params()
  ref_loss, g = jax.jit(jax.value_and_grad(_loss))(tree_p, _X, _Y)
  np.testing.assert_allclose(float(loss), float(ref_loss), rtol=1e-6)
  np.testing.assert_allclose(float(aux["gain"]), 0.7, rtol=1e-6)
  # The first moment after one step is (1 − β₁) g, leaf by leaf in tree form.
  mu = jax.jit(unflatten)(state[0].mu)
  _assert_trees_close(mu, jax.tree.map(lambda x: 0.1 * x, g), rtol=1e-6)


def test_donated_and_no_retrace():
  opt = optax.adam(1e-2)
  flat, unflatten = flatten_params(_params())
  step = jax.jit(flat_train_step(_loss, opt, unflatten), donate_argnums=(0, 1))
  state = opt.init(flat)
  for _ in range(3):
    old = flat["float32"]
    flat, state, _ = step(flat, state, _X, _Y)
    assert old.is_deleted()  # the buffer was donated, updated in place
  assert step._cache_size() == 1


# ---------------------------------------------------------------- structure


def _count_eqns(jaxpr, skip=("reshape",)) -> int:
  """Equations of a jaxpr, sub-jaxprs included, views (reshape) excluded."""
  n = 0
  for eqn in jaxpr.eqns:
    n += eqn.primitive.name not in skip
    for v in eqn.params.values():
      for sub in v if isinstance(v, (tuple, list)) else (v,):
        if isinstance(sub, jex_core.ClosedJaxpr):
          n += _count_eqns(sub.jaxpr, skip)
        elif isinstance(sub, jex_core.Jaxpr):
          n += _count_eqns(sub, skip)
  return n


def _many_leaves(n):
  return {f"p{i:03d}": jnp.full((4,), 0.01 * i, jnp.float32) for i in range(n)}


def _model_loss(p):
  return sum(jnp.sum(jnp.sin(v)) for v in jax.tree.leaves(p))  # the model's own ops


@pytest.mark.parametrize(
  "make_opt", [lambda: optax.adam(1e-3), _jp("_adam", "adam", 1e-3)], ids=["optax.adam", "jp.adam"]
)
def test_optimizer_part_does_not_grow_with_leaf_count(make_opt):
  """(flat step) − (model's value_and_grad) is the same for 10 and 200 leaves;
  the tree-form step's optimizer part grows with the leaf count."""
  opt = make_opt()
  flat_part, tree_part = {}, {}
  for n in (10, 200):
    flat, unflatten = flatten_params(_many_leaves(n))
    params = jax.eval_shape(lambda: _many_leaves(n))  # the tree the model sees
    model = _count_eqns(jax.make_jaxpr(jax.value_and_grad(_model_loss))(params).jaxpr)
    fstep = flat_train_step(_model_loss, opt, unflatten)
    flat_part[n] = _count_eqns(jax.make_jaxpr(fstep)(flat, opt.init(flat)).jaxpr) - model

    def tstep(p, s):
      _, g = jax.value_and_grad(_model_loss)(p)
      u, s = opt.update(g, s, p)
      return optax.apply_updates(p, u), s

    state = jax.eval_shape(opt.init, params)
    tree_part[n] = _count_eqns(jax.make_jaxpr(tstep)(params, state).jaxpr) - model
  assert flat_part[10] == flat_part[200], flat_part
  assert tree_part[200] > tree_part[10] + 190 * 3, tree_part  # several ops per leaf


# ---------------------------------------------------------------- bad input


def test_bad_input_raises():
  with pytest.raises(ValueError, match=r"flatten_params: leaf \['n'\] has dtype int32"):
    flatten_params({"n": jnp.zeros(3, jnp.int32), "w": jnp.ones(2)})
  with pytest.raises(ValueError, match="group 'all' holds"):
    flatten_params(
      {"a": jnp.ones(2, jnp.bfloat16), "b": jnp.ones(2)}, groups={"a": "all", "b": "all"}
    )
  with pytest.raises(ValueError, match="is not a str"):
    flatten_params({"a": jnp.ones(2)}, groups={"a": 1})
  with pytest.raises(ValueError, match="groups must be a pytree"):
    flatten_params({"a": jnp.ones(2), "b": jnp.ones(2)}, groups={"a": "x"})
  flat, unflatten = flatten_params({"a": jnp.ones(2), "b": jnp.ones(3)})
  with pytest.raises(ValueError, match=r"flat\['float32'\] has shape \(4,\); choose a 1-D"):
    unflatten({"float32": jnp.ones(4)})
  with pytest.raises(ValueError, match="choose a dict with keys"):
    unflatten(flat["float32"])
  with pytest.raises(ValueError, match="choose the FlatLayout"):
    flat_train_step(_loss, optax.sgd(0.1), lambda f: f)
  assert isinstance(unflatten, FlatLayout)
