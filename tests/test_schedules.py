"""Learning-rate schedules (jpatterns.optim._schedules) against NumPy transcriptions of
seed 002's formulas, Keras' formulas (transcribed: keras is not a dependency), optax's
schedules and torch's lr_scheduler."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from helpers import assert_no_retrace
from optim_helpers import assert_trajectories_close, run_jax

from jpatterns.optim._adam import adam
from jpatterns.optim._schedules import (
  cosine_decay,
  exponential_decay,
  inverse_time_decay,
  natural_exp_decay,
  piecewise_constant,
  step_decay,
  warmup,
)

STEPS = np.arange(0, 60)
RTOL = 1e-5  # float32 schedule vs float64 reference


# --------------------------------------------------------------------- references


def np_inverse_time(t, a0, beta, T=1, staircase=False):
  p = t / T
  p = np.floor(p) if staircase else p
  return a0 / (1 + beta * p)  # seed 002: α₀ / (1 + β t)


def keras_inverse_time_decay(step, initial_learning_rate, decay_steps, decay_rate, staircase=False):
  """Transcription of keras.optimizers.schedules.InverseTimeDecay.__call__."""
  global_step_recomp = float(step)
  p = global_step_recomp / decay_steps
  if staircase:
    p = np.floor(p)
  denom = 1.0 + decay_rate * p
  return initial_learning_rate / denom


def np_natural_exp(t, a0, beta, T=1, staircase=False):
  p = t / T
  p = np.floor(p) if staircase else p
  return a0 * np.exp(-beta * p)  # seed 002: α₀ exp(−β t)


def keras_piecewise_constant(step, boundaries, values):
  """Transcription of keras PiecewiseConstantDecay: values[0] while step <= b0, ..."""
  for b, v in zip(boundaries, values):
    if step <= b:
      return v
  return values[-1]


def torch_lrs(make_scheduler, lr0, steps):
  """Learning rate used at each step 0..steps-1 by a torch scheduler."""
  opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr0)
  sched = make_scheduler(opt)
  out = []
  for _ in range(steps):
    out.append(opt.param_groups[0]["lr"])
    opt.step()
    sched.step()
  return np.array(out)


def values(sched, steps=STEPS):
  return np.array([float(sched(int(t))) for t in steps])


# ------------------------------------------------------------------ case registry
# name -> (jpatterns schedule, reference values at STEPS)

CASES = {
  "inverse_time": (inverse_time_decay(0.1, 0.5), np_inverse_time(STEPS, 0.1, 0.5)),
  "inverse_time_keras_staircase": (
    inverse_time_decay(0.1, 0.5, decay_steps=7, staircase=True),
    np.array([keras_inverse_time_decay(t, 0.1, 7, 0.5, True) for t in STEPS]),
  ),
  "inverse_time_keras": (
    inverse_time_decay(0.3, 2.0, decay_steps=4),
    np.array([keras_inverse_time_decay(t, 0.3, 4, 2.0) for t in STEPS]),
  ),
  "exponential": (
    exponential_decay(0.1, 0.9),
    np.asarray(optax.exponential_decay(0.1, 1, 0.9)(STEPS)),
  ),
  "exponential_np": (exponential_decay(0.1, 0.9), 0.1 * 0.9 ** STEPS.astype(float)),
  "exponential_full": (
    exponential_decay(
      0.1, 0.5, transition_steps=5, staircase=True, transition_begin=3, end_value=0.01
    ),
    np.asarray(
      optax.exponential_decay(0.1, 5, 0.5, transition_begin=3, staircase=True, end_value=0.01)(
        STEPS
      )
    ),
  ),
  "exponential_torch": (
    exponential_decay(0.2, 0.95),
    torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.95), 0.2, len(STEPS)),
  ),
  "natural_exp": (natural_exp_decay(0.1, 0.05), np_natural_exp(STEPS, 0.1, 0.05)),
  "natural_exp_staircase": (
    natural_exp_decay(0.1, 0.3, decay_steps=10, staircase=True),
    np_natural_exp(STEPS, 0.1, 0.3, 10, True),
  ),
  "piecewise_optax": (
    piecewise_constant(0.5, {10: 0.1, 25: 0.5, 40: 0.2}),
    np.asarray(optax.piecewise_constant_schedule(0.5, {10: 0.1, 25: 0.5, 40: 0.2})(STEPS)),
  ),
  "piecewise_keras": (
    piecewise_constant(0.5, [(10, 0.1), (25, 0.5), (40, 0.2)], inclusive=False),
    np.array([keras_piecewise_constant(t, [10, 25, 40], [0.5, 0.05, 0.025, 0.005]) for t in STEPS]),
  ),
  "step_decay_torch": (
    step_decay(0.1, [10, 30, 45], factor=0.2),
    torch_lrs(
      lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [10, 30, 45], 0.2), 0.1, len(STEPS)
    ),
  ),
  "step_decay_optax": (
    step_decay(0.1, [10, 30], factor=0.5),
    np.asarray(optax.piecewise_constant_schedule(0.1, {10: 0.5, 30: 0.5})(STEPS)),
  ),
  "cosine": (
    cosine_decay(0.1, 40, alpha=0.1),
    np.asarray(optax.cosine_decay_schedule(0.1, 40, alpha=0.1)(STEPS)),
  ),
  "cosine_torch": (
    cosine_decay(0.1, 40, alpha=0.0),
    torch_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 40), 0.1, 41).tolist()
    + [0.0] * (len(STEPS) - 41),
  ),
  "warmup_cosine": (
    warmup(cosine_decay(0.2, 40, alpha=0.05), warmup_steps=10, init_value=0.01),
    np.asarray(optax.warmup_cosine_decay_schedule(0.01, 0.2, 10, 50, 0.01)(STEPS)),
  ),
  "warmup_exponential_join": (
    warmup(exponential_decay(0.3, 0.9), warmup_steps=5),
    np.asarray(
      optax.join_schedules(
        [optax.linear_schedule(0.0, 0.3, 5), optax.exponential_decay(0.3, 1, 0.9)], [5]
      )(STEPS)
    ),
  ),
  "warmup_constant": (
    warmup(0.1, warmup_steps=8),
    np.asarray(optax.warmup_constant_schedule(0.0, 0.1, 8)(STEPS)),
  ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_reference(name):
  sched, ref = CASES[name]
  np.testing.assert_allclose(values(sched), np.asarray(ref, np.float64), rtol=RTOL, atol=1e-8)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_and_jit_with_traced_count(name):
  sched, _ = CASES[name]
  counts = jnp.arange(0, 60, dtype=jnp.int32)
  jitted = jax.jit(jax.vmap(sched))(counts)  # traced int32 count
  assert jitted.dtype == jnp.float32
  np.testing.assert_allclose(np.asarray(jitted), values(sched), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
  "name", ["inverse_time", "exponential_full", "piecewise_keras", "warmup_cosine"]
)
def test_no_retrace_per_step(name):
  assert_no_retrace(CASES[name][0], jnp.int32(3))


def test_boundary_conventions():
  """optax changes at count >= boundary (inclusive=True); Keras at count > boundary."""
  inc = piecewise_constant(1.0, {5: 0.1})
  exc = piecewise_constant(1.0, {5: 0.1}, inclusive=False)
  ox = optax.piecewise_constant_schedule(1.0, {5: 0.1})
  assert float(ox(4)) == 1.0 and float(ox(5)) == pytest.approx(0.1)
  assert float(inc(4)) == 1.0 and float(inc(5)) == pytest.approx(0.1)
  assert keras_piecewise_constant(5, [5], [1.0, 0.1]) == 1.0
  assert float(exc(5)) == 1.0 and float(exc(6)) == pytest.approx(0.1)


def test_seed_forms_at_unit_steps():
  """Seed 002's three decays with t = 1, 2, 3 (β = 0.5, α₀ = 1)."""
  t = np.array([1, 2, 3])
  np.testing.assert_allclose(values(inverse_time_decay(1.0, 0.5), t), 1 / (1 + 0.5 * t), rtol=1e-6)
  np.testing.assert_allclose(values(exponential_decay(1.0, 0.5), t), 0.5**t, rtol=1e-6)
  np.testing.assert_allclose(values(natural_exp_decay(1.0, 0.5), t), np.exp(-0.5 * t), rtol=1e-6)


@pytest.mark.parametrize("problem", ["mlp", "rosenbrock"])
def test_usable_as_learning_rate_in_optax_and_jpatterns(problem):
  """Same parameter trajectory with a jpatterns schedule as with optax's."""
  lr = 0.05 if problem == "mlp" else 1e-3
  jp = warmup(cosine_decay(lr, 40, alpha=0.1), warmup_steps=10)
  ox = optax.warmup_cosine_decay_schedule(0.0, lr, 10, 50, 0.1 * lr)
  assert_trajectories_close(
    run_jax(optax.sgd(jp, momentum=0.9), problem, 50),
    run_jax(optax.sgd(ox, momentum=0.9), problem, 50),
  )
  jp = step_decay(lr, [20, 35], factor=0.3)
  ox = optax.piecewise_constant_schedule(lr, {20: 0.3, 35: 0.3})
  assert_trajectories_close(run_jax(adam(jp), problem, 50), run_jax(optax.adam(ox), problem, 50))


BAD = [
  (lambda: inverse_time_decay(-0.1, 0.5), "inverse_time_decay: init_value=-0.1"),
  (lambda: inverse_time_decay(0.1, -0.5), "decay_rate=-0.5"),
  (lambda: inverse_time_decay(0.1, 0.5, decay_steps=0), "decay_steps=0"),
  (lambda: exponential_decay(-1.0, 0.5), "exponential_decay: init_value=-1.0"),
  (lambda: exponential_decay(0.1, 0.0), "decay_rate=0.0"),
  (lambda: exponential_decay(0.1, 1.5), "decay_rate=1.5"),
  (lambda: exponential_decay(0.1, 0.5, transition_steps=-2), "transition_steps=-2"),
  (lambda: exponential_decay(0.1, 0.5, transition_begin=-1), "transition_begin=-1"),
  (lambda: exponential_decay(0.1, 0.5, end_value=-1.0), "end_value=-1.0"),
  (lambda: natural_exp_decay(-0.1, 0.5), "natural_exp_decay: init_value"),
  (lambda: natural_exp_decay(0.1, -0.5), "decay_rate=-0.5"),
  (lambda: natural_exp_decay(0.1, 0.5, decay_steps=0), "decay_steps=0"),
  (lambda: piecewise_constant(0.1, [(20, 0.1), (10, 0.1)]), "not strictly increasing"),
  (lambda: piecewise_constant(0.1, {20: 0.1, 10: 0.1}), "not strictly increasing"),
  (lambda: piecewise_constant(0.1, [(10, 0.1), (10, 0.1)]), "not strictly increasing"),
  (lambda: piecewise_constant(0.1, {-5: 0.1}), "boundary -5"),
  (lambda: piecewise_constant(0.1, {2.5: 0.1}), "boundary 2.5"),
  (lambda: piecewise_constant(0.1, {5: -0.1}), "boundaries_and_scales=-0.1"),
  (lambda: piecewise_constant(-0.1, {5: 0.1}), "init_value=-0.1"),
  (lambda: step_decay(0.1, [30, 10]), "step_decay: boundaries"),
  (lambda: step_decay(0.1, [-1, 10]), "boundary -1"),
  (lambda: step_decay(0.1, [10], factor=0.0), "factor=0.0"),
  (lambda: step_decay(0.1, [10], factor=2.0), "factor=2.0"),
  (lambda: step_decay(-0.1, [10]), "init_value=-0.1"),
  (lambda: cosine_decay(0.1, 0), "decay_steps=0"),
  (lambda: cosine_decay(-0.1, 10), "init_value=-0.1"),
  (lambda: cosine_decay(0.1, 10, alpha=1.5), "alpha=1.5"),
  (lambda: warmup(cosine_decay(0.1, 10), warmup_steps=0), "warmup_steps=0"),
  (lambda: warmup(0.1, warmup_steps=5, init_value=-1.0), "init_value=-1.0"),
  (lambda: warmup(-0.1, warmup_steps=5), "schedule=-0.1"),
]


@pytest.mark.parametrize("make,match", BAD, ids=[m for _, m in BAD])
def test_invalid_arguments_raise_at_construction(make, match):
  with pytest.raises(ValueError, match=match.replace("(", r"\(")):
    make()
