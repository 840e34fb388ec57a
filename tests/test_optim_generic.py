"""Generic optimizer tests over EVERY jpatterns optimizer (STYLE.md: a case registry,
generic tests parametrized over it).

Each test compares the optimizer inside an optax combinator / a jax transformation
with an independent computation of the same thing: a hand-clipped gradient, a
schedule, a hand-averaged gradient, the non-donated step, the optimizer rebuilt with a
constant learning rate at each step. Problem: the multi-leaf MLP of
tests/optim_helpers.py (float32).
"""

from __future__ import annotations

import collections

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from optim_helpers import init_params, jax_loss

from jpatterns.optim._adam import adam, adamw, amsgrad, nadam
from jpatterns.optim._adamax import adamax
from jpatterns.optim._adaptive import adadelta, adagrad, rmsprop
from jpatterns.optim._lion import lion
from jpatterns.optim._sgd import momentum, nesterov, sgd

# name -> (factory, learning rate, other hyperparameters). Small, so 20 steps descend.
# One entry per optimizer, the torch-side settings where they exist (weight decay,
# "gradient" velocity, ε outside the root), plus the RMSProp states of other shapes
# (the plain one holds None for M_t and the velocity). The seed-side settings run
# through every module's own tests.
REGISTRY = {
  "sgd": (sgd, 0.05, dict(weight_decay=1e-3)),
  "momentum": (momentum, 0.02, dict(momentum=0.9, velocity="gradient", dampening=0.1)),
  "nesterov": (nesterov, 0.02, dict(momentum=0.9, weight_decay=1e-3)),
  "adagrad": (adagrad, 0.05, dict(eps_inside_sqrt=False, initial_accumulator_value=0.1)),
  "adadelta": (adadelta, 1.0, dict(rho=0.9, weight_decay=1e-3)),
  "rmsprop": (rmsprop, 0.002, dict()),
  "rmsprop_centered_nesterov": (rmsprop, 0.002, dict(centered=True, momentum=0.9, nesterov=True)),
  "rmsprop_torch": (
    rmsprop,
    0.002,
    dict(decay=0.99, eps_inside_sqrt=False, momentum=0.5, velocity="gradient", weight_decay=1e-3),
  ),
  "adam": (adam, 0.01, dict(b2=0.99, eps=0.0, eps_root=1e-8)),
  "adamw": (adamw, 0.01, dict(weight_decay=1e-2)),
  "amsgrad": (amsgrad, 0.01, dict(max_over="raw")),
  "nadam": (nadam, 0.01, dict(momentum_decay=0.004)),
  "adamax": (adamax, 0.01, dict()),
  "lion": (lion, 0.002, dict(weight_decay=1e-2)),
}
NAMES = sorted(REGISTRY)


def make(name, learning_rate=None, **extra):
  factory, lr, kw = REGISTRY[name]
  return factory(learning_rate=lr if learning_rate is None else learning_rate, **{**kw, **extra})


LOSS = jax_loss("mlp")
GRAD = jax.jit(jax.grad(LOSS))


def _params():
  return init_params("mlp")


@jax.jit
def _other_grads(params, i):
  """A different gradient per mini-step i (as from different batches)."""
  return GRAD(jax.tree.map(lambda p: p * (1 + 0.1 * i), params))


def _run(opt, params, steps, grads_fn=None):
  """Eager (params, state) after ``steps`` steps; gradients from ``grads_fn(params, i)``.

  Eager on purpose: the per-op kernels are cached across tests, while a jitted step
  would compile once per test.
  """
  state = opt.init(params)
  for i in range(steps):
    g = GRAD(params) if grads_fn is None else grads_fn(params, i)
    updates, state = opt.update(g, state, params)
    params = optax.apply_updates(params, updates)
  return params, state


def _assert_close(a, b, rtol=1e-6, atol=1e-7):
  la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(la) == len(lb)
  for x, y in zip(la, lb):
    np.testing.assert_allclose(
      np.asarray(x, np.float64), np.asarray(y, np.float64), rtol=rtol, atol=atol
    )


# ---------------------------------------------------------------- combinators


@pytest.mark.parametrize("name", NAMES)
def test_in_chain_with_clip_equals_hand_clipped_gradients(name):
  bound = 0.05

  def clipped(params, i):
    g = GRAD(params)
    norm = jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree.leaves(g)))  # ‖g‖₂ > bound here
    assert norm > bound
    return jax.tree.map(lambda x: x * (bound / norm), g)

  got, _ = _run(optax.chain(optax.clip_by_global_norm(bound), make(name)), _params(), 3)
  want, _ = _run(make(name), _params(), 3, grads_fn=clipped)
  _assert_close(got, want, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_inject_hyperparams_learning_rate_change_acts_from_next_step(name):
  factory, lr, kw = REGISTRY[name]
  opt = optax.inject_hyperparams(factory)(learning_rate=lr, **kw)
  params = _params()
  state = opt.init(params)
  for i in range(3):
    if i == 1:  # change α through the state after the first step
      state.hyperparams["learning_rate"] = jnp.asarray(lr / 4, jnp.float32)
    updates, state = opt.update(GRAD(params), state, params)
    params = optax.apply_updates(params, updates)
  # Reference: the same change as a schedule of the plain factory (α_t at count t).
  want, _ = _run(make(name, learning_rate=lambda c: jnp.where(c < 1, lr, lr / 4)), _params(), 3)
  constant, _ = _run(make(name), _params(), 3)
  _assert_close(params, want, rtol=1e-5)
  gap = max(
    float(jnp.max(jnp.abs(a - b)))
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(constant))
  )
  assert gap > 1e-5, "changing learning_rate in the hyperparams state changed nothing"


@pytest.mark.parametrize("name", NAMES)
def test_multisteps_equals_average_then_step(name):
  k = 2
  ms = optax.MultiSteps(make(name), every_k_schedule=k)
  ms_update = jax.jit(ms.update)
  params = _params()
  ms_state = ms.init(params)
  # Reference: the optimizer stepped once on the mean of every k mini-batch gradients.
  opt = make(name)
  ref_params, ref_state = _params(), opt.init(_params())
  for big in range(2):
    grads = [_other_grads(params, big * k + j) for j in range(k)]
    for j, g in enumerate(grads):
      updates, ms_state = ms_update(g, ms_state, params)
      if j < k - 1:
        for u in jax.tree.leaves(updates):
          np.testing.assert_array_equal(np.asarray(u), 0.0)
      params = optax.apply_updates(params, updates)
    mean = jax.tree.map(lambda *gs: sum(gs) / k, *grads)
    ref_updates, ref_state = opt.update(mean, ref_state, ref_params)
    ref_params = optax.apply_updates(ref_params, ref_updates)
    _assert_close(params, ref_params, rtol=1e-5)


# ---------------------------------------------------------------- jit


def _step_fn(opt, counter=None):
  def step(params, state):
    if counter is not None:
      counter.append(None)  # runs once per trace
    updates, state = opt.update(jax.grad(LOSS)(params), state, params)
    return optax.apply_updates(params, updates), state

  return step


@pytest.mark.filterwarnings("ignore:Some donated buffers were not usable")
@pytest.mark.parametrize("name", NAMES)
def test_jit_donated_equals_not_donated_and_traces_once(name):
  opt = make(name)
  traces = []
  donated = jax.jit(_step_fn(opt, traces), donate_argnums=(0, 1))
  plain = jax.jit(_step_fn(opt))
  p1, s1 = _params(), opt.init(_params())
  p2, s2 = _params(), opt.init(_params())
  for _ in range(3):
    old = jax.tree.leaves((p1, s1))
    p1, s1 = donated(p1, s1)
    p2, s2 = plain(p2, s2)
    assert all(x.is_deleted() for x in old), f"{name}: an input buffer was not donated"
  assert len(traces) == 1, f"{name}: traced {len(traces)} times in 3 steps"
  _assert_close(p1, p2, rtol=0, atol=0)
  _assert_close(s1, s2, rtol=0, atol=0)
  # And the jitted trajectory is the eager one.
  eager, _ = _run(opt, _params(), 3)
  _assert_close(p1, eager, rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------- state


def _field_names(state):
  """Names of every NamedTuple field in ``state`` (nested), except ``count``."""
  names = []

  def walk(node):
    if isinstance(node, tuple) and hasattr(node, "_fields"):
      for field, value in zip(node._fields, node):
        if field != "count":
          names.append(field)
        walk(value)
    elif isinstance(node, (tuple, list)):
      for value in node:
        walk(value)

  walk(state)
  return names


def test_state_field_names_unique_across_all_optimizers():
  params = _params()
  owner = collections.defaultdict(set)  # field name -> factories using it
  states = {}
  for name in NAMES:
    factory, _, _ = REGISTRY[name]
    state = make(name).init(params)
    assert state._fields[0] == "count", name
    assert state.count is None or state.count.dtype == jnp.int32, name
    fields = _field_names(state)
    assert len(fields) == len(set(fields)), f"{name}: repeated field in its state"
    for field in fields:
      owner[field].add(factory.__name__)
    states[factory.__name__] = state
  shared = {f: sorted(o) for f, o in owner.items() if len(o) > 1}
  assert not shared, f"state field names used by several optimizers: {shared}"
  # optax.tree.get finds each field in a state holding every optimizer's state.
  combined = tuple(states.values())
  for field in owner:
    optax.tree.get(combined, field)


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16_accumulators_stay_bfloat16_and_descend(name):
  opt = make(name, accumulator_dtype=jnp.bfloat16)
  params, state = _run(opt, _params(), 20)
  for leaf in jax.tree.leaves(state):
    if jnp.issubdtype(leaf.dtype, jnp.floating) and leaf.ndim > 0:  # per-parameter
      assert leaf.dtype == jnp.bfloat16, f"{name}: accumulator in {leaf.dtype}"
  for leaf in jax.tree.leaves(params):
    assert leaf.dtype == jnp.float32
  start, end = float(LOSS(_params())), float(LOSS(params))
  assert np.isfinite(end) and end < start, (name, start, end)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
def test_updates_and_state_keep_the_parameter_dtype(name, dtype):
  opt = make(name)
  params = jax.tree.map(lambda p: p.astype(dtype), _params())
  state = opt.init(params)
  grads = jax.tree.map(lambda g: g.astype(dtype), GRAD(_params()))
  for _ in range(2):
    updates, state = opt.update(grads, state, params)
    for u in jax.tree.leaves(updates):
      assert u.dtype == dtype, f"{name}: {jnp.dtype(dtype).name} params, {u.dtype} update"
      assert np.all(np.isfinite(np.asarray(u, np.float32)))
  for leaf in jax.tree.leaves(state):
    if jnp.issubdtype(leaf.dtype, jnp.floating) and leaf.ndim > 0:
      assert leaf.dtype == dtype, f"{name}: accumulator in {leaf.dtype}"


@pytest.mark.parametrize("name", NAMES)
def test_schedule_is_evaluated_at_count(name):
  """A schedule s(count) equals rebuilding the optimizer with the constant s(t) before
  step t (t = steps already taken), the state carried over."""
  _, lr, _ = REGISTRY[name]
  values = [lr, 0.5 * lr, 0.25 * lr, 2.0 * lr]
  schedule = lambda c: jnp.asarray(values)[jnp.minimum(c, 3)]  # noqa: E731
  got, _ = _run(make(name, learning_rate=schedule), _params(), 4)
  params = _params()
  state = make(name).init(params)
  for t in range(4):
    updates, state = make(name, learning_rate=values[t]).update(GRAD(params), state, params)
    params = optax.apply_updates(params, updates)
  _assert_close(got, params, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_zero_learning_rate_does_not_move(name):
  params = _params()
  got, state = _run(make(name, learning_rate=0.0), params, 2)
  _assert_close(got, params, rtol=0, atol=0)
  assert state.count is None or int(state.count) == 2


# Optimizers whose update reads the count for something besides a learning-rate schedule:
# Adam's bias correction (and Nadam's μ product schedule), torch's first undamped step.
READS_COUNT = {"adam", "adamw", "amsgrad", "nadam", "adamax", "momentum"}


@pytest.mark.parametrize("name", NAMES)
def test_count_kept_only_when_read(name):
  """A constant learning rate keeps no count where nothing else reads it (as optax.sgd
  keeps none), and that state steps as the same rate given as a schedule, which counts."""
  _, lr, _ = REGISTRY[name]
  const_params, const_state = _run(make(name), _params(), 3)
  sched_params, sched_state = _run(make(name, learning_rate=lambda c: lr), _params(), 3)
  if name in READS_COUNT:
    assert int(const_state.count) == 3, name
  else:
    assert const_state.count is None, name
  assert sched_state.count.dtype == jnp.int32 and int(sched_state.count) == 3, name
  _assert_close(const_params, sched_params, rtol=1e-6)
  _assert_close(
    [x for x in jax.tree.leaves(const_state) if x.ndim],  # the accumulators
    [x for x in jax.tree.leaves(sched_state) if x.ndim],
    rtol=1e-6,
  )


@pytest.mark.parametrize("name", sorted(set(NAMES) - READS_COUNT))
def test_schedule_on_a_state_without_count_raises(name):
  state = make(name).init(_params())
  with pytest.raises(ValueError, match="learning_rate=.*schedule.*count=None"):
    make(name, learning_rate=lambda c: 0.1).update(GRAD(_params()), state, _params())
