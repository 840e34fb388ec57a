"""sgd, momentum, nesterov (jpatterns/optim/_sgd.py) against optax, torch.optim and
NumPy transcriptions of seed 002 (动量法, Nesterov 加速梯度) written here.

Every trajectory comparison runs 50 steps on both problems of tests/optim_helpers.py
(a multi-leaf MLP with a non-quadratic loss, and Rosenbrock) in float32 and asserts a
normwise relative error ≤ 1e-5 at every step.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from optim_helpers import assert_trajectories_close, init_params, jax_loss, run_jax, run_torch

from jpatterns.optim._sgd import momentum, nesterov, sgd

PROBLEMS = ("mlp", "rosenbrock")
STEPS = 50
LR = {"mlp": 0.1, "rosenbrock": 5e-4}
RHO = 0.9


def _schedule(problem):
  """A decaying learning rate, as a jnp function of count and a Python one."""
  base = LR[problem]
  return (lambda c: base * 0.95**c), (lambda t: base * 0.95**t)


def _grad_fn(problem):
  """∇L as a float64 NumPy function (evaluated in float32 by jax)."""
  g = jax.jit(jax.grad(jax_loss(problem)))

  def grad(theta):
    out = g({k: jnp.asarray(v, jnp.float32) for k, v in theta.items()})
    return {k: np.asarray(v, np.float64) for k, v in out.items()}

  return grad


def _np_init(problem):
  return {k: np.asarray(v, np.float64) for k, v in init_params(problem).items()}


def _descends(problem, trajectory):
  loss = jax_loss(problem)
  first = float(loss(init_params(problem)))
  last = float(loss({k: jnp.asarray(v, jnp.float32) for k, v in trajectory[-1].items()}))
  assert np.isfinite(last) and last < first, (first, last)


# ---------------------------------------------------------------- sgd


@pytest.mark.parametrize("problem", PROBLEMS)
def test_sgd_matches_optax_and_torch(problem):
  lr = LR[problem]
  ours = run_jax(sgd(lr), problem, STEPS)
  assert_trajectories_close(ours, run_jax(optax.sgd(lr), problem, STEPS))
  assert_trajectories_close(ours, run_torch(lambda p: torch.optim.SGD(p, lr=lr), problem, STEPS))
  _descends(problem, ours)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_sgd_weight_decay_matches_torch(problem):
  lr = LR[problem]
  ours = run_jax(sgd(lr, weight_decay=0.1), problem, STEPS)
  want = run_torch(lambda p: torch.optim.SGD(p, lr=lr, weight_decay=0.1), problem, STEPS)
  assert_trajectories_close(ours, want)


# ---------------------------------------------------------------- momentum


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("velocity", ["seed", "gradient"])
def test_momentum_constant_lr_matches_optax_and_torch(problem, velocity):
  lr = LR[problem]
  ours = run_jax(momentum(lr, momentum=RHO, velocity=velocity), problem, STEPS)
  assert_trajectories_close(ours, run_jax(optax.sgd(lr, momentum=RHO), problem, STEPS))
  assert_trajectories_close(
    ours, run_torch(lambda p: torch.optim.SGD(p, lr=lr, momentum=RHO), problem, STEPS)
  )
  _descends(problem, ours)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_momentum_weight_decay_matches_torch(problem):
  lr = LR[problem]
  ours = run_jax(momentum(lr, momentum=RHO, weight_decay=0.05), problem, STEPS)
  assert_trajectories_close(
    ours,
    run_torch(lambda p: torch.optim.SGD(p, lr=lr, momentum=RHO, weight_decay=0.05), problem, STEPS),
  )


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("velocity", ["seed", "gradient"])
def test_momentum_dampening_matches_torch(problem, velocity):
  """torch: b_1 = g_1 (no dampening on the first step), then b = ρb + (1 − d)g."""
  lr = LR[problem]
  ours = run_jax(momentum(lr, momentum=RHO, dampening=0.5, velocity=velocity), problem, STEPS)
  assert_trajectories_close(
    ours,
    run_torch(lambda p: torch.optim.SGD(p, lr=lr, momentum=RHO, dampening=0.5), problem, STEPS),
  )


def test_momentum_traced_dampening_on_a_state_made_with_zero_dampening():
  """The training engine inits with the config's Python dampening=0.0 (the state keeps no
  count) and traces its step with dampening as an argument: that step is undamped."""
  params = init_params("mlp")
  grads = jax.grad(jax_loss("mlp"))(params)
  state = momentum(0.1, momentum=RHO, dampening=0.0, velocity="gradient").init(params)
  assert state.count is None

  @jax.jit
  def step(d, state):
    opt = momentum(0.1, momentum=RHO, dampening=d, velocity="gradient")
    return opt.update(grads, state, params)

  ref = optax.sgd(0.1, momentum=RHO)
  ref_state = ref.init(params)
  for _ in range(2):
    updates, state = step(jnp.float32(0.0), state)
    want, ref_state = ref.update(grads, ref_state, params)
    for a, b in zip(jax.tree.leaves(updates), jax.tree.leaves(want)):
      np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-8)


def test_momentum_dampening_on_a_state_without_count_raises():
  params = init_params("mlp")
  state = momentum(0.1).init(params)
  with pytest.raises(ValueError, match="momentum: dampening=0.5 reads the step count"):
    momentum(0.1, dampening=0.5).update(jax.grad(jax_loss("mlp"))(params), state, params)


def _np_momentum_seed(problem, lr_at, rho, steps):
  """Seed 002 动量法: Δθ_t = ρΔθ_{t−1} − α_t g_t; θ_t = θ_{t−1} + Δθ_t."""
  grad = _grad_fn(problem)
  theta = _np_init(problem)
  dtheta = {k: np.zeros_like(v) for k, v in theta.items()}
  out = []
  for t in range(steps):
    g = grad(theta)
    dtheta = {k: rho * dtheta[k] - lr_at(t) * g[k] for k in theta}
    theta = {k: theta[k] + dtheta[k] for k in theta}
    out.append(theta)
  return out


@pytest.mark.parametrize("problem", PROBLEMS)
def test_momentum_with_schedule_both_forms(problem):
  jnp_lr, py_lr = _schedule(problem)
  seed_form = run_jax(momentum(jnp_lr, momentum=RHO, velocity="seed"), problem, STEPS)
  grad_form = run_jax(momentum(jnp_lr, momentum=RHO, velocity="gradient"), problem, STEPS)
  # The seed form is the seed's formula with α_t; the gradient form is optax's.
  assert_trajectories_close(seed_form, _np_momentum_seed(problem, py_lr, RHO, STEPS))
  assert_trajectories_close(grad_form, run_jax(optax.sgd(jnp_lr, momentum=RHO), problem, STEPS))
  # And with a schedule the two really are different methods.
  gap = max(np.max(np.abs(seed_form[-1][k] - grad_form[-1][k])) for k in seed_form[-1])
  assert gap > 1e-3


# ---------------------------------------------------------------- nesterov


def _np_nesterov_look_ahead(problem, lr_at, rho, steps):
  """Seed 002 literally: the gradient function is called at θ_{t−1} + ρΔθ_{t−1}.

  Δθ_t = ρΔθ_{t−1} − α_t g(θ_{t−1} + ρΔθ_{t−1});  θ_t = θ_{t−1} + Δθ_t.
  Returns the sequences θ_t and φ_t = θ_t + ρΔθ_t (the next look-ahead point).
  """
  grad = _grad_fn(problem)
  theta = _np_init(problem)
  dtheta = {k: np.zeros_like(v) for k, v in theta.items()}
  thetas, phis = [], []
  for t in range(steps):
    g = grad({k: theta[k] + rho * dtheta[k] for k in theta})  # g(θ + ρΔθ)
    dtheta = {k: rho * dtheta[k] - lr_at(t) * g[k] for k in theta}
    theta = {k: theta[k] + dtheta[k] for k in theta}
    thetas.append(theta)
    phis.append({k: theta[k] + rho * dtheta[k] for k in theta})
  return thetas, phis


def _run_with_state(opt, problem, steps):
  """Parameters and the seed's θ = params − ρ·velocity after each step."""
  loss = jax_loss(problem)
  params = init_params(problem)
  state = opt.init(params)

  @jax.jit
  def step(params, state):
    updates, state = opt.update(jax.grad(loss)(params), state, params)
    return optax.apply_updates(params, updates), state

  params_out, theta_out = [], []
  for _ in range(steps):
    params, state = step(params, state)
    params_out.append({k: np.asarray(v, np.float64) for k, v in params.items()})
    theta_out.append(
      {
        k: np.asarray(params[k], np.float64)
        - RHO * np.asarray(state.nesterov_velocity[k], np.float64)
        for k in params
      }
    )
  return params_out, theta_out


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("scheduled", [False, True])
def test_nesterov_equals_literal_look_ahead(problem, scheduled):
  """The parameters held are the seed's look-ahead points φ_t = θ_t + ρΔθ_t, and
  params − ρ·velocity is the seed's θ_t, at each of 60 steps (constant α and a
  schedule α_t: the re-parametrization holds for both)."""
  steps = 60
  jnp_lr, py_lr = _schedule(problem)
  if not scheduled:
    jnp_lr = py_lr = lambda c, lr=LR[problem]: lr
  thetas, phis = _np_nesterov_look_ahead(problem, py_lr, RHO, steps)
  params, theta = _run_with_state(nesterov(jnp_lr, momentum=RHO, velocity="seed"), problem, steps)
  assert_trajectories_close(params, phis)
  assert_trajectories_close(theta, thetas)
  _descends(problem, params)


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("velocity", ["seed", "gradient"])
def test_nesterov_matches_optax_and_torch(problem, velocity):
  lr = LR[problem]
  ours = run_jax(nesterov(lr, momentum=RHO, velocity=velocity), problem, STEPS)
  assert_trajectories_close(
    ours, run_jax(optax.sgd(lr, momentum=RHO, nesterov=True), problem, STEPS)
  )
  assert_trajectories_close(
    ours,
    run_torch(lambda p: torch.optim.SGD(p, lr=lr, momentum=RHO, nesterov=True), problem, STEPS),
  )


@pytest.mark.parametrize("problem", PROBLEMS)
def test_nesterov_gradient_form_with_schedule_matches_optax(problem):
  jnp_lr, _ = _schedule(problem)
  ours = run_jax(nesterov(jnp_lr, momentum=RHO, velocity="gradient"), problem, STEPS)
  assert_trajectories_close(
    ours, run_jax(optax.sgd(jnp_lr, momentum=RHO, nesterov=True), problem, STEPS)
  )


def test_nesterov_weight_decay_matches_torch():
  lr = LR["mlp"]
  ours = run_jax(nesterov(lr, momentum=RHO, weight_decay=0.05), "mlp", STEPS)
  assert_trajectories_close(
    ours,
    run_torch(
      lambda p: torch.optim.SGD(p, lr=lr, momentum=RHO, nesterov=True, weight_decay=0.05),
      "mlp",
      STEPS,
    ),
  )


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("factory", [sgd, momentum, nesterov])
def test_negative_learning_rate_raises(factory):
  with pytest.raises(ValueError, match=rf"{factory.__name__}: learning_rate=-0.1"):
    factory(-0.1)


@pytest.mark.parametrize("factory", [momentum, nesterov])
@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_momentum_outside_unit_interval_raises(factory, bad):
  with pytest.raises(ValueError, match=r"momentum=.* is outside \[0.0, 1.0\)"):
    factory(0.1, momentum=bad)


@pytest.mark.parametrize("factory", [sgd, momentum, nesterov])
def test_negative_weight_decay_raises(factory):
  with pytest.raises(ValueError, match="weight_decay=-1"):
    factory(0.1, weight_decay=-1.0)


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_dampening_outside_unit_interval_raises(bad):
  with pytest.raises(ValueError, match=r"momentum: dampening=.* is outside \[0.0, 1.0\]"):
    momentum(0.1, dampening=bad)


@pytest.mark.parametrize("factory", [momentum, nesterov])
def test_unknown_velocity_raises(factory):
  with pytest.raises(ValueError, match="velocity='torch'.*choose one of 'seed', 'gradient'"):
    factory(0.1, velocity="torch")


def test_weight_decay_without_params_raises():
  opt = momentum(0.1, weight_decay=0.1)
  params = jnp.ones(3)
  with pytest.raises(ValueError, match="weight_decay=0.1 needs the parameters"):
    opt.update(params, opt.init(params))
