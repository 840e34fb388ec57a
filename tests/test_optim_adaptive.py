"""adagrad, adadelta, rmsprop (jpatterns/optim/_adaptive.py) against optax,
torch.optim and NumPy transcriptions of seed 002 (AdaGrad, AdaDelta, RMSProp,
RMSProp动量) written here.

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

from jpatterns.optim._adaptive import adadelta, adagrad, rmsprop

PROBLEMS = ("mlp", "rosenbrock")
STEPS = 50


# The NumPy transcriptions compute in float32 like the optimizers: RMSProp divides
# by √G, which amplifies the float64-vs-float32 gap of gradients near 0 to ~1e-5.
NP_DTYPE = np.float32


def _grad_fn(problem):
  """∇L as a NumPy function (evaluated in float32 by jax)."""
  g = jax.jit(jax.grad(jax_loss(problem)))

  def grad(theta):
    out = g({k: jnp.asarray(v, jnp.float32) for k, v in theta.items()})
    return {k: np.asarray(v, NP_DTYPE) for k, v in out.items()}

  return grad


def _np_init(problem):
  return {k: np.asarray(v, NP_DTYPE) for k, v in init_params(problem).items()}


def _np_run(problem, steps, step_fn, n_acc):
  """Runs ``step_fn(t, g, accs) -> (Δθ, accs)`` leaf by leaf from zero accumulators."""
  grad = _grad_fn(problem)
  theta = _np_init(problem)
  accs = {k: [np.zeros_like(v) for _ in range(n_acc)] for k, v in theta.items()}
  out = []
  for t in range(steps):
    g = grad(theta)
    for k in theta:
      delta, accs[k] = step_fn(t, g[k], accs[k])
      theta = {**theta, k: theta[k] + delta}
    out.append(dict(theta))
  return out


def _loss_at(problem, params):
  return float(jax_loss(problem)({k: jnp.asarray(v, jnp.float32) for k, v in params.items()}))


def _descends(problem, trajectory):
  first, last = _loss_at(problem, init_params(problem)), _loss_at(problem, trajectory[-1])
  assert np.isfinite(last) and last < first, (first, last)


# ---------------------------------------------------------------- adagrad

AG_LR = {"mlp": 0.1, "rosenbrock": 0.05}


@pytest.mark.parametrize("problem", PROBLEMS)
def test_adagrad_seed_form_matches_numpy(problem):
  """Seed 002: G_t = Σ g⊙g, Δθ_t = −α/√(G_t + ε) ⊙ g_t (the default)."""
  lr, eps = AG_LR[problem], 1e-10

  def step(t, g, accs):
    G = accs[0] + g * g  # G_t = G_{t−1} + g⊙g
    return -lr / np.sqrt(G + eps) * g, [G]  # Δθ_t = −α/√(G_t+ε) g_t

  ours = run_jax(adagrad(lr), problem, STEPS)
  assert_trajectories_close(ours, _np_run(problem, STEPS, step, 1))
  _descends(problem, ours)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_adagrad_matches_optax(problem):
  lr = AG_LR[problem]
  ours = run_jax(adagrad(lr, initial_accumulator_value=0.1, eps=1e-7), problem, STEPS)
  assert_trajectories_close(ours, run_jax(optax.adagrad(lr), problem, STEPS))
  assert_trajectories_close(
    ours, run_jax(optax.adagrad(lr, initial_accumulator_value=0.1, eps=1e-7), problem, STEPS)
  )


@pytest.mark.parametrize("problem", PROBLEMS)
def test_adagrad_matches_torch(problem):
  lr = AG_LR[problem]
  ours = run_jax(adagrad(lr, eps_inside_sqrt=False), problem, STEPS)
  assert_trajectories_close(
    ours, run_torch(lambda p: torch.optim.Adagrad(p, lr=lr), problem, STEPS)
  )


def test_adagrad_torch_options_match_torch():
  """Torch's initial accumulator, weight decay and lr_decay (= a schedule)."""
  lr, d = AG_LR["mlp"], 0.05
  ours = run_jax(
    adagrad(
      lambda c: lr / (1 + c * d),
      eps_inside_sqrt=False,
      eps=1e-8,
      initial_accumulator_value=0.3,
      weight_decay=0.02,
    ),
    "mlp",
    STEPS,
  )
  want = run_torch(
    lambda p: torch.optim.Adagrad(
      p, lr=lr, lr_decay=d, eps=1e-8, initial_accumulator_value=0.3, weight_decay=0.02
    ),
    "mlp",
    STEPS,
  )
  assert_trajectories_close(ours, want)


@pytest.mark.parametrize("eps_inside_sqrt", [True, False])
def test_adagrad_eps_zero_zero_gradient_gives_zero_not_nan(eps_inside_sqrt):
  opt = adagrad(0.1, eps=0.0, eps_inside_sqrt=eps_inside_sqrt)
  params = jnp.array([1.0, 2.0])
  state = opt.init(params)
  updates, state = opt.update(jnp.array([0.0, 4.0]), state, params)
  np.testing.assert_allclose(np.asarray(updates), [0.0, -0.1], rtol=1e-6)


# ---------------------------------------------------------------- adadelta

RHO, AD_EPS = 0.9, 1e-6


def _np_adadelta_step(lr):
  def step(t, g, accs):
    G, dx2 = accs
    G = RHO * G + (1 - RHO) * g * g  # G_t = βG_{t−1} + (1−β)g⊙g
    delta = -np.sqrt(dx2 + AD_EPS) / np.sqrt(G + AD_EPS) * g  # Δθ_t
    dx2 = RHO * dx2 + (1 - RHO) * delta * delta  # ΔX²_t
    return lr * delta, [G, dx2]

  return step


@pytest.mark.parametrize("problem", PROBLEMS)
def test_adadelta_seed_form_matches_numpy(problem):
  """Seed 002 AdaDelta, no learning rate: the default learning_rate=1."""
  ours = run_jax(adadelta(), problem, STEPS)
  assert_trajectories_close(ours, _np_run(problem, STEPS, _np_adadelta_step(1.0), 2))
  _descends(problem, ours)


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("lr", [1.0, 5.0])
def test_adadelta_matches_optax_and_torch(problem, lr):
  ours = run_jax(adadelta(learning_rate=lr, rho=RHO, eps=AD_EPS), problem, STEPS)
  assert_trajectories_close(
    ours, run_jax(optax.adadelta(learning_rate=lr, rho=RHO, eps=AD_EPS), problem, STEPS)
  )
  assert_trajectories_close(
    ours, run_torch(lambda p: torch.optim.Adadelta(p, lr=lr, rho=RHO, eps=AD_EPS), problem, STEPS)
  )
  if lr == 5.0:  # α multiplies the step after ΔX² is updated: also the NumPy form
    assert_trajectories_close(ours, _np_run(problem, STEPS, _np_adadelta_step(lr), 2))


def test_adadelta_weight_decay_matches_torch():
  ours = run_jax(adadelta(learning_rate=5.0, rho=0.95, weight_decay=0.1), "mlp", STEPS)
  assert_trajectories_close(
    ours,
    run_torch(lambda p: torch.optim.Adadelta(p, lr=5.0, rho=0.95, weight_decay=0.1), "mlp", STEPS),
  )


def test_optax_adadelta_default_learning_rate_climbs():
  """optax.adadelta()'s learning_rate=None skips the sign flip: its update is −Δθ,
  and the loss goes up, while adadelta() (α = 1) goes down."""
  problem = "mlp"
  params = init_params(problem)
  grads = jax.grad(jax_loss(problem))(params)
  ours, theirs = adadelta(), optax.adadelta()
  u_ours, _ = ours.update(grads, ours.init(params), params)
  u_theirs, _ = theirs.update(grads, theirs.init(params), params)
  for k in params:
    np.testing.assert_allclose(np.asarray(u_theirs[k]), -np.asarray(u_ours[k]), rtol=1e-6)
  start = _loss_at(problem, params)
  assert _loss_at(problem, run_jax(theirs, problem, 30)[-1]) > start
  assert _loss_at(problem, run_jax(ours, problem, 30)[-1]) < start


# ---------------------------------------------------------------- rmsprop

# RMSProp divides each component by its own RMS, so a component whose gradient is a
# near-cancelling sum (an MLP bias here) turns float32 rounding of that gradient into
# an α-sized relative error of its step; α on the MLP is kept small enough that two
# correct float32 implementations stay ~10x inside rtol=1e-5 over 50 steps.
RMS_LR = {"mlp": 0.002, "rosenbrock": 0.002}
MU = 0.9


@pytest.mark.parametrize("problem", PROBLEMS)
def test_rmsprop_seed_form_matches_numpy(problem):
  """Seed 002: G_t = βG_{t−1} + (1−β)g⊙g, Δθ_t = −α/√(G_t + ε) ⊙ g_t."""
  lr, beta, eps = RMS_LR[problem], 0.9, 1e-8

  def step(t, g, accs):
    G = beta * accs[0] + (1 - beta) * g * g
    return -lr / np.sqrt(G + eps) * g, [G]

  ours = run_jax(rmsprop(lr), problem, STEPS)
  assert_trajectories_close(ours, _np_run(problem, STEPS, step, 1))
  _descends(problem, ours)


def _np_rmsprop_nesterov_look_ahead(problem, lr, beta, eps, mu, steps):
  """Seed 002 RMSProp动量 (Goodfellow et al. Algorithm 8.6) literally: the gradient
  is taken at the look-ahead point θ + μv. Returns the look-ahead points θ_t + μv_t."""
  grad = _grad_fn(problem)
  theta = _np_init(problem)
  v = {k: np.zeros_like(x) for k, x in theta.items()}
  G = {k: np.zeros_like(x) for k, x in theta.items()}
  out = []
  for _ in range(steps):
    g = grad({k: theta[k] + mu * v[k] for k in theta})  # g(θ + μv)
    G = {k: beta * G[k] + (1 - beta) * g[k] ** 2 for k in theta}
    v = {k: mu * v[k] - lr / np.sqrt(G[k] + eps) * g[k] for k in theta}
    theta = {k: theta[k] + v[k] for k in theta}
    out.append({k: theta[k] + mu * v[k] for k in theta})
  return out


@pytest.mark.parametrize("problem", PROBLEMS)
def test_rmsprop_nesterov_equals_literal_look_ahead(problem):
  lr = RMS_LR[problem] / 2
  ours = run_jax(rmsprop(lr, momentum=MU, nesterov=True), problem, STEPS)
  want = _np_rmsprop_nesterov_look_ahead(problem, lr, 0.9, 1e-8, MU, STEPS)
  assert_trajectories_close(ours, want)


OPTAX_VARIANTS = {
  "plain": dict(),
  "momentum": dict(momentum=MU),
  "centered": dict(centered=True),
  "centered_momentum": dict(centered=True, momentum=MU),
  "nesterov": dict(momentum=MU, nesterov=True),
  "initial_scale": dict(initial_scale=1.0, decay=0.95, eps=1e-6),
}


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("variant", sorted(OPTAX_VARIANTS))
def test_rmsprop_matches_optax(problem, variant):
  kw = OPTAX_VARIANTS[variant]
  lr = RMS_LR[problem] / (2 if "momentum" in kw else 1)
  ours = run_jax(rmsprop(lr, **kw), problem, STEPS)
  assert_trajectories_close(ours, run_jax(optax.rmsprop(lr, **kw), problem, STEPS))


@pytest.mark.parametrize("problem", PROBLEMS)
def test_rmsprop_momentum_with_schedule_matches_optax(problem):
  """optax applies its trace after the learning rate: the "seed" velocity."""
  base = RMS_LR[problem] / 2
  lr = lambda c: base * 0.95**c  # noqa: E731
  ours = run_jax(rmsprop(lr, momentum=MU, centered=True), problem, STEPS)
  assert_trajectories_close(
    ours, run_jax(optax.rmsprop(lr, momentum=MU, centered=True), problem, STEPS)
  )


TORCH_VARIANTS = {
  "plain": dict(),
  "momentum": dict(momentum=MU),
  "centered": dict(centered=True),
  "centered_momentum": dict(centered=True, momentum=MU),
  "weight_decay": dict(momentum=0.5, weight_decay=0.05),
}


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("variant", sorted(TORCH_VARIANTS))
def test_rmsprop_matches_torch(problem, variant):
  kw = TORCH_VARIANTS[variant]
  lr = RMS_LR[problem] / (4 if "momentum" in kw else 2)
  ours = run_jax(
    rmsprop(lr, decay=0.99, eps=1e-8, eps_inside_sqrt=False, velocity="gradient", **kw),
    problem,
    STEPS,
  )
  want = run_torch(
    lambda p: torch.optim.RMSprop(p, lr=lr, alpha=0.99, eps=1e-8, **kw), problem, STEPS
  )
  assert_trajectories_close(ours, want)


def test_rmsprop_centered_never_nan():
  """A constant gradient makes G − M² vanish; rounding must not give √(negative)."""
  opt = rmsprop(0.01, centered=True, eps=0.0)
  params = jnp.array([1.0, 1.0, 1.0])
  state = opt.init(params)
  g = jnp.array([0.3, 1e-3, 7.0])
  for _ in range(20):
    updates, state = opt.update(g, state, params)
    assert np.all(np.isfinite(np.asarray(updates)))


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
  "make", [lambda: adagrad(-0.1), lambda: adadelta(learning_rate=-1.0), lambda: rmsprop(-0.1)]
)
def test_negative_learning_rate_raises(make):
  with pytest.raises(ValueError, match="learning_rate=-"):
    make()


@pytest.mark.parametrize(
  "make, pattern",
  [
    (lambda: adagrad(0.1, eps=-1e-8), r"adagrad: eps=-1e-08 must be >= 0"),
    (
      lambda: adagrad(0.1, initial_accumulator_value=-0.1),
      "initial_accumulator_value=-0.1 must be >= 0",
    ),
    (lambda: adagrad(0.1, weight_decay=-1.0), "weight_decay=-1.0"),
    (lambda: adadelta(rho=1.0), r"adadelta: rho=1.0 is outside \[0.0, 1.0\)"),
    (lambda: adadelta(rho=-0.5), r"rho=-0.5 is outside"),
    (lambda: adadelta(eps=0.0), r"adadelta: eps=0.0 must be > 0"),
    (lambda: adadelta(eps=-1.0), r"eps=-1.0 must be > 0"),
    (lambda: rmsprop(0.1, decay=1.0), r"rmsprop: decay=1.0 is outside \[0.0, 1.0\)"),
    (lambda: rmsprop(0.1, decay=-0.1), r"decay=-0.1 is outside"),
    (lambda: rmsprop(0.1, momentum=1.0), r"momentum=1.0 is outside"),
    (lambda: rmsprop(0.1, momentum=-0.1), r"momentum=-0.1 is outside"),
    (lambda: rmsprop(0.1, eps=-1e-8), r"eps=-1e-08 must be >= 0"),
    (lambda: rmsprop(0.1, initial_scale=-1.0), "initial_scale=-1.0 must be >= 0"),
    (lambda: rmsprop(0.1, nesterov=True), "nesterov=True needs momentum > 0"),
    (lambda: rmsprop(0.1, velocity="optax"), "velocity='optax' is not valid"),
  ],
)
def test_bad_hyperparameters_raise(make, pattern):
  with pytest.raises(ValueError, match=pattern):
    make()
