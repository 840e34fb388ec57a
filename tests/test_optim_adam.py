"""Adam family (jpatterns.optim._adam, _adamax, _lion) against optax, torch.optim and NumPy
transcriptions of the formulas written here.

Every trajectory comparison runs 50 steps on both problems of tests/optim_helpers.py
(a multi-leaf MLP with a non-quadratic loss, and Rosenbrock), relative error ≤ 1e-5
per leaf and step (normwise, see assert_trajectories_close).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from optim_helpers import (
  PROBLEMS,
  assert_trajectories_close,
  init_params,
  jax_loss,
  run_jax,
  run_torch,
)

from jpatterns.optim._adam import adam, adamw, amsgrad, nadam
from jpatterns.optim._adamax import adamax
from jpatterns.optim._lion import lion

STEPS = 50
RTOL = 1e-5
LR = 1e-2
PROBLEM_NAMES = sorted(PROBLEMS)

# mlp leaves in run_torch order: w1, b1, w2, s. Decay the weights only.
MLP_MASK = {"w1": True, "b1": False, "w2": True, "s": False}


def _torch_masked_groups(ps, wd):
  """torch param groups equivalent to MLP_MASK (no decay on b1 and s)."""
  return [
    {"params": [ps[0], ps[2]], "weight_decay": wd},
    {"params": [ps[1], ps[3]], "weight_decay": 0.0},
  ]


# ------------------------------------------------------------------ NumPy transcriptions
# Each is one step of the paper/seed formula in float64: (θ, g, state, t) -> (θ, state).


def np_seed_adam(lr, b1, b2, eps):
  """Seed 002: Δθ = −α M̂/√(Ĝ + ε), ε inside the root."""

  def step(theta, g, s, t):
    m = b1 * s["m"] + (1 - b1) * g
    v = b2 * s["v"] + (1 - b2) * g * g
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    return theta - lr * m_hat / np.sqrt(v_hat + eps), {"m": m, "v": v}

  return step, ("m", "v")


def np_adamax_keras(lr, b1, b2, eps):
  """Adamax with ε in the denominator (Keras): u = max(β₂u, |g|); Δθ = −α m̂/(u+ε)."""

  def step(theta, g, s, t):
    m = b1 * s["m"] + (1 - b1) * g
    u = np.maximum(b2 * s["u"], np.abs(g))
    return theta - lr / (1 - b1**t) * m / (u + eps), {"m": m, "u": u}

  return step, ("m", "u")


def np_lion(lr, b1, b2, wd, mask=None):
  """Chen et al. 2023, Algorithm 2 (decay multiplied by the lr, as optax)."""

  def step(theta, g, s, t, decay=True):
    c = b1 * s["m"] + (1 - b1) * g
    theta = theta - lr * (np.sign(c) + (wd * theta if decay else 0.0))
    return theta, {"m": b2 * s["m"] + (1 - b2) * g}

  return step, ("m",)


def np_nadam_torch(lr, b1, b2, eps, psi):
  """torch's NAdam documentation algorithm, μ_t = β₁(1 − ½·0.96^{tψ})."""

  def step(theta, g, s, t):
    mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    prod = s["prod"] * mu
    m = b1 * s["m"] + (1 - b1) * g
    v = b2 * s["v"] + (1 - b2) * g * g
    v_hat = v / (1 - b2**t)
    theta = (
      theta
      - lr * (1 - mu) / (1 - prod) * g / (np.sqrt(v_hat) + eps)
      - lr * mu_next / (1 - prod * mu_next) * m / (np.sqrt(v_hat) + eps)
    )
    return theta, {"m": m, "v": v, "prod": prod}

  return step, ("m", "v", "prod")


@functools.cache
def _jitted_grad(problem):
  return jax.jit(jax.grad(jax_loss(problem)))


def run_numpy(np_opt, problem, steps=STEPS, mask=None):
  """Trajectory of a NumPy transcription; gradients from jax at float32 θ."""
  step, names = np_opt
  params = {k: np.asarray(v, np.float64) for k, v in PROBLEMS[problem][1].items()}
  state = {
    k: {n: (np.ones_like(v) if n == "prod" else np.zeros_like(v)) for n in names}
    for k, v in params.items()
  }
  grad = _jitted_grad(problem)
  out = []
  for t in range(1, steps + 1):
    g = grad({k: jnp.asarray(v, jnp.float32) for k, v in params.items()})
    for k in params:
      kw = {} if mask is None else {"decay": mask[k]}
      params[k], state[k] = step(params[k], np.asarray(g[k], np.float64), state[k], t, **kw)
    out.append({k: v.copy() for k, v in params.items()})
  return out


# ------------------------------------------------------------------ case registry
# name -> (ours, reference kind, reference builder, problems)


def _case(ours, kind, ref, problems=PROBLEM_NAMES):
  return (ours, kind, ref, problems)


CASES = {
  # Adam, ε outside (optax / torch convention).
  "adam-optax": _case(lambda: adam(LR), "optax", lambda: optax.adam(LR)),
  "adam-torch": _case(lambda: adam(LR), "torch", lambda ps: torch.optim.Adam(ps, lr=LR)),
  # ε inside the root: optax's eps_root, and the seed's own form (β₂ = 0.99).
  # ε = 1e-3 is large enough for its placement to matter on the MLP (see
  # test_conventions_are_distinguishable); 1e-8 is the usual value.
  "adam-eps_root-optax": _case(
    lambda: adam(LR, b2=0.99, eps=0.0, eps_root=1e-3),
    "optax",
    lambda: optax.adam(LR, b2=0.99, eps=0.0, eps_root=1e-3),
  ),
  "adam-seed-numpy": _case(
    lambda: adam(LR, b1=0.9, b2=0.99, eps=0.0, eps_root=1e-3),
    "numpy",
    lambda: np_seed_adam(LR, 0.9, 0.99, 1e-3),
  ),
  "adam-seed-1e-8-numpy": _case(
    lambda: adam(LR, b1=0.9, b2=0.99, eps=0.0, eps_root=1e-8),
    "numpy",
    lambda: np_seed_adam(LR, 0.9, 0.99, 1e-8),
    ["mlp"],
  ),
  # Coupled L2 (torch's weight_decay): g ← g + λθ.
  "adam-l2-torch": _case(
    lambda: adam(LR, weight_decay=0.1),
    "torch",
    lambda ps: torch.optim.Adam(ps, lr=LR, weight_decay=0.1),
  ),
  "adam-l2-optax": _case(
    lambda: adam(LR, weight_decay=0.1),
    "optax",
    lambda: optax.chain(optax.add_decayed_weights(0.1), optax.adam(LR)),
  ),
  # AdamW, decoupled decay multiplied by the learning rate (optax and torch agree).
  "adamw-optax": _case(
    lambda: adamw(LR, weight_decay=0.1), "optax", lambda: optax.adamw(LR, weight_decay=0.1)
  ),
  "adamw-torch": _case(
    lambda: adamw(LR, weight_decay=0.1),
    "torch",
    lambda ps: torch.optim.AdamW(ps, lr=LR, weight_decay=0.1),
  ),
  "adamw-mask-optax": _case(
    lambda: adamw(LR, weight_decay=0.5, mask=MLP_MASK),
    "optax",
    lambda: optax.adamw(LR, weight_decay=0.5, mask=MLP_MASK),
    ["mlp"],
  ),
  "adamw-callable-mask-optax": _case(
    lambda: adamw(LR, weight_decay=0.5, mask=lambda p: jax.tree.map(lambda x: x.ndim > 1, p)),
    "optax",
    lambda: optax.adamw(LR, weight_decay=0.5, mask=lambda p: jax.tree.map(lambda x: x.ndim > 1, p)),
    ["mlp"],
  ),
  "adamw-mask-torch": _case(
    lambda: adamw(LR, weight_decay=0.5, mask=MLP_MASK),
    "torch",
    lambda ps: torch.optim.AdamW(_torch_masked_groups(ps, 0.5), lr=LR),
    ["mlp"],
  ),
  # AMSGrad: max over corrected (optax) or raw (torch) second moments.
  "amsgrad-corrected-optax": _case(lambda: amsgrad(LR), "optax", lambda: optax.amsgrad(LR)),
  "amsgrad-raw-torch": _case(
    lambda: amsgrad(LR, max_over="raw"),
    "torch",
    lambda ps: torch.optim.Adam(ps, lr=LR, amsgrad=True),
  ),
  # NAdam: constant μ = β₁ (optax) or torch's schedule ψ = 0.004.
  "nadam-optax": _case(lambda: nadam(LR), "optax", lambda: optax.nadam(LR)),
  "nadam-torch": _case(
    lambda: nadam(LR, momentum_decay=0.004), "torch", lambda ps: torch.optim.NAdam(ps, lr=LR)
  ),
  "nadam-numpy": _case(
    lambda: nadam(LR, momentum_decay=0.004),
    "numpy",
    lambda: np_nadam_torch(LR, 0.9, 0.999, 1e-8, 0.004),
  ),
  "nadam-l2-torch": _case(
    lambda: nadam(LR, momentum_decay=0.004, weight_decay=0.1),
    "torch",
    lambda ps: torch.optim.NAdam(ps, lr=LR, weight_decay=0.1),
  ),
  # Adamax: ε inside the max (optax = torch) or in the denominator (Keras).
  "adamax-optax": _case(lambda: adamax(LR), "optax", lambda: optax.adamax(LR)),
  "adamax-torch": _case(lambda: adamax(LR), "torch", lambda ps: torch.optim.Adamax(ps, lr=LR)),
  "adamax-keras-numpy": _case(
    lambda: adamax(LR, eps=1e-3, eps_in_max=False),
    "numpy",
    lambda: np_adamax_keras(LR, 0.9, 0.999, 1e-3),
  ),
  # Lion (torch 2.13 has no Lion): optax and Chen et al.'s algorithm in NumPy.
  "lion-optax": _case(lambda: lion(1e-3), "optax", lambda: optax.lion(1e-3, weight_decay=0.0)),
  "lion-wd-optax": _case(
    lambda: lion(1e-3, weight_decay=0.3), "optax", lambda: optax.lion(1e-3, weight_decay=0.3)
  ),
  "lion-mask-optax": _case(
    lambda: lion(1e-3, weight_decay=0.3, mask=MLP_MASK),
    "optax",
    lambda: optax.lion(1e-3, weight_decay=0.3, mask=MLP_MASK),
    ["mlp"],
  ),
  "lion-numpy": _case(
    lambda: lion(1e-3, weight_decay=0.3), "numpy", lambda: np_lion(1e-3, 0.9, 0.99, 0.3)
  ),
}

TRAJECTORY_PARAMS = [
  pytest.param(name, problem, id=f"{name}-{problem}")
  for name, case in CASES.items()
  for problem in case[3]
]


@pytest.mark.parametrize("name,problem", TRAJECTORY_PARAMS)
def test_trajectory_matches_reference(name, problem):
  ours, kind, ref, _ = CASES[name]
  got = run_jax(ours(), problem, STEPS)
  if kind == "optax":
    want = run_jax(ref(), problem, STEPS)
  elif kind == "torch":
    want = run_torch(ref, problem, STEPS)
  else:
    want = run_numpy(ref(), problem, STEPS)
  assert_trajectories_close(got, want, rtol=RTOL)
  # The run must actually move the parameters (not a vacuous comparison).
  start = init_params(problem)
  moved = max(np.max(np.abs(got[-1][k] - np.asarray(start[k]))) for k in start)
  assert moved > 10 * LR * 1e-3


def test_lion_mask_numpy():
  """Masked decoupled decay (no decay on b1, s) vs Chen et al. in NumPy."""
  got = run_jax(lion(1e-3, weight_decay=0.3, mask=MLP_MASK), "mlp", STEPS)
  want = run_numpy(np_lion(1e-3, 0.9, 0.99, 0.3), "mlp", STEPS, mask=MLP_MASK)
  assert_trajectories_close(got, want, rtol=RTOL)


# ------------------------------------------------------------------ conventions differ


def _max_rel_diff(a, b):
  return max(
    np.max(np.abs(a[-1][k] - b[-1][k])) / max(np.max(np.abs(b[-1][k])), 1.0) for k in b[-1]
  )


@pytest.mark.parametrize(
  "ours_a,ours_b",
  [
    # The two AMSGrad conventions give different trajectories ...
    (lambda: amsgrad(LR, max_over="raw"), lambda: amsgrad(LR, max_over="corrected")),
    # ... and so do the two NAdam momentum schedules,
    (lambda: nadam(LR, momentum_decay=0.004), lambda: nadam(LR)),
    # ... and ε inside vs outside the root (ε = 1e-3 as in the seed-form cases),
    (lambda: adam(LR, eps=0.0, eps_root=1e-3), lambda: adam(LR, eps=1e-3)),
    # ... and coupled L2 vs decoupled decay.
    (lambda: adam(LR, weight_decay=0.1), lambda: adamw(LR, weight_decay=0.1)),
  ],
  ids=["amsgrad", "nadam", "adam-eps", "l2-vs-decoupled"],
)
def test_conventions_are_distinguishable(ours_a, ours_b):
  """Each convention switch changes the result: the tests above are not vacuous."""
  a = run_jax(ours_a(), "mlp", STEPS)
  b = run_jax(ours_b(), "mlp", STEPS)
  assert _max_rel_diff(a, b) > 100 * RTOL


# ------------------------------------------------------------------ generic behaviour

FACTORIES = {
  "adam": lambda **kw: adam(LR, **kw),
  "adamw": lambda **kw: adamw(LR, **kw),
  "amsgrad": lambda **kw: amsgrad(LR, **kw),
  "nadam": lambda **kw: nadam(LR, momentum_decay=0.004, **kw),
  "adamax": lambda **kw: adamax(LR, **kw),
  "lion": lambda **kw: lion(1e-3, **kw),
}
OPTAX_EQUIV = {
  "adam": lambda lr: optax.adam(lr),
  "adamw": lambda lr: optax.adamw(lr),
  "amsgrad": lambda lr: optax.amsgrad(lr),
  "nadam": None,
  "adamax": lambda lr: optax.adamax(lr),
  "lion": lambda lr: optax.lion(lr, weight_decay=0.0),
}


def _mlp_grads_and_params():
  params = init_params("mlp")
  return jax.grad(jax_loss("mlp"))(params), params


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_jit_matches_eager_and_state_names_unique(name):
  opt = FACTORIES[name]()
  grads, params = _mlp_grads_and_params()
  state = opt.init(params)
  eager = opt.update(grads, state, params)
  jitted = jax.jit(opt.update)(grads, state, params)
  for x, y in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted)):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7)
  # count first (int32; lion's is None with constant α and λ: nothing reads it), other
  # field names prefixed by the optimizer's name.
  assert state._fields[0] == "count"
  if name == "lion":
    assert state.count is None
  else:
    assert state.count.dtype == jnp.int32
  assert all(f.startswith(name + "_") for f in state._fields[1:])


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_bf16_accumulators(name):
  """accumulator_dtype=bf16 stores the moments in bf16; the trajectory stays within
  2e-2 (normwise relative, on the MLP after 50 steps) of the float32 one."""
  opt16 = FACTORIES[name](accumulator_dtype=jnp.bfloat16)
  params = init_params("mlp")
  state = opt16.init(params)
  for leaf in jax.tree.leaves(state)[1:]:
    if jnp.issubdtype(leaf.dtype, jnp.floating) and leaf.ndim > 0:
      assert leaf.dtype == jnp.bfloat16
  got = run_jax(opt16, "mlp", STEPS)
  want = run_jax(FACTORIES[name](), "mlp", STEPS)
  # Updates and parameters stay float32.
  assert all(v.dtype == np.float64 for v in got[-1].values())
  assert_trajectories_close(got, want, rtol=2e-2)


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_param_dtype_kept(name):
  """bf16 / f16 parameters and gradients: updates and moments keep that dtype and
  match the float32 computation to the dtype's resolution."""
  grads32, params32 = _mlp_grads_and_params()
  opt = FACTORIES[name]()
  want, _ = jax.jit(opt.update)(grads32, opt.init(params32), params32)
  for dtype, tol in ((jnp.bfloat16, 2e-2), (jnp.float16, 2e-3)):

    def cast(t):
      return jax.tree.map(lambda x: x.astype(dtype), t)

    params, grads = cast(params32), cast(grads32)
    state = opt.init(params)
    updates, state = jax.jit(opt.update)(grads, state, params)
    for leaf in jax.tree.leaves((updates, state))[0:]:
      if jnp.issubdtype(leaf.dtype, jnp.floating) and leaf.ndim > 0:
        assert leaf.dtype == dtype
    for k in want:
      np.testing.assert_allclose(
        np.asarray(updates[k], np.float32), want[k], rtol=tol, atol=tol * LR
      )


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_chain_multisteps_donate_no_retrace(name):
  """In optax.chain and MultiSteps, jitted with donated buffers: traces once for
  two steps, and equals the plain optimizer stepped every k-th micro-step."""
  loss = jax_loss("mlp")
  traces = []
  k = 2
  opt = optax.MultiSteps(
    optax.chain(optax.clip_by_global_norm(10.0), FACTORIES[name]()), every_k_schedule=k
  )

  def step(params, state):
    traces.append(None)
    g = jax.grad(loss)(params)
    updates, state = opt.update(g, state, params)
    return optax.apply_updates(params, updates), state

  jstep = jax.jit(step, donate_argnums=(0, 1))
  params = init_params("mlp")
  state = opt.init(params)
  for _ in range(2 * k):
    params, state = jstep(params, state)
  assert len(traces) == 1

  # Reference: the same micro-steps with optax.MultiSteps around optax's chain of
  # clip + our optimizer replaced by the plain loop over averaged gradients.
  plain = FACTORIES[name]()
  p = init_params("mlp")
  s = plain.init(p)
  clip = optax.clip_by_global_norm(10.0)
  for _ in range(2):
    g_mean = jax.grad(loss)(p)  # params do not move between micro-steps
    g_mean, _ = clip.update(g_mean, clip.init(p))
    u, s = plain.update(g_mean, s, p)
    p = optax.apply_updates(p, u)
  for key in p:
    np.testing.assert_allclose(np.asarray(params[key]), np.asarray(p[key]), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", [n for n in sorted(OPTAX_EQUIV) if OPTAX_EQUIV[n]])
def test_inject_hyperparams_and_schedule(name):
  """Traced hyperparameters (inject_hyperparams) and a schedule as learning_rate:
  same trajectory as optax's optimizer with the same schedule."""
  sched = optax.exponential_decay(LR, transition_steps=10, decay_rate=0.5)
  factory = {"adam": adam, "adamw": adamw, "amsgrad": amsgrad, "adamax": adamax, "lion": lion}[name]
  if name == "lion":
    ours = optax.inject_hyperparams(factory)(learning_rate=sched, b1=0.9, b2=0.99)
  else:
    ours = optax.inject_hyperparams(factory)(learning_rate=sched, b1=0.9, b2=0.999)
  got = run_jax(ours, "rosenbrock", STEPS)
  want = run_jax(OPTAX_EQUIV[name](sched), "rosenbrock", STEPS)
  assert_trajectories_close(got, want, rtol=RTOL)


def test_nadam_inject_hyperparams_matches_torch():
  opt = optax.inject_hyperparams(nadam)(learning_rate=LR, momentum_decay=0.004)
  got = run_jax(opt, "rosenbrock", STEPS)
  want = run_torch(lambda ps: torch.optim.NAdam(ps, lr=LR), "rosenbrock", STEPS)
  assert_trajectories_close(got, want, rtol=RTOL)


def test_zero_gradients_stay_finite():
  """A leaf whose gradient is always zero gets zero updates (no 0/0)."""
  params = {"a": jnp.ones(3), "b": jnp.ones(2)}
  grads = {"a": jnp.zeros(3), "b": jnp.array([1.0, -1.0])}
  for name, make in FACTORIES.items():
    opt = make(weight_decay=0.0)
    state = opt.init(params)
    update = jax.jit(opt.update)
    for _ in range(3):
      updates, state = update(grads, state, params)
    assert np.all(np.asarray(updates["a"]) == 0), name
    assert np.all(np.isfinite(np.asarray(updates["b"]))), name
  # The seed form (ε only inside the root) too.
  opt = adam(LR, eps=0.0, eps_root=1e-8)
  updates, _ = opt.update(grads, opt.init(params))
  assert np.all(np.asarray(updates["a"]) == 0)


def test_mask_prefix_matches_optax():
  """A mask that is a prefix of the params tree (one bool for a whole subtree)."""
  params = {"w": jnp.ones((2, 2)), "sub": {"a": jnp.full(3, 2.0), "b": jnp.ones(1)}}
  grads = jax.tree.map(lambda x: 0.1 * x, params)
  mask = {"w": True, "sub": False}
  for ours, ref in (
    (adamw(LR, weight_decay=0.5, mask=mask), optax.adamw(LR, weight_decay=0.5, mask=mask)),
    (lion(1e-3, weight_decay=0.5, mask=mask), optax.lion(1e-3, weight_decay=0.5, mask=mask)),
  ):
    got, _ = ours.update(grads, ours.init(params), params)
    want, _ = ref.update(grads, ref.init(params), params)
    for x, y in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
      np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=0)


@pytest.mark.parametrize("name", ["adam", "lion"])
def test_vmap_matches_loop(name):
  """vmap over a stack of independent parameter sets (an ensemble) == a loop."""
  opt = FACTORIES[name](weight_decay=0.1)
  grads, params = _mlp_grads_and_params()
  ps = jax.tree.map(lambda x: jnp.stack([x, 2 * x, -x]), params)
  gs = jax.tree.map(lambda x: jnp.stack([x, -x, 3 * x]), grads)

  def two_steps(g, p):
    s = opt.init(p)
    u, s = opt.update(g, s, p)
    return opt.update(g, s, optax.apply_updates(p, u))[0]

  got = jax.vmap(two_steps)(gs, ps)
  loop_step = jax.jit(two_steps)
  for i in range(3):
    want = loop_step(jax.tree.map(lambda x: x[i], gs), jax.tree.map(lambda x: x[i], ps))
    for k in want:
      np.testing.assert_allclose(np.asarray(got[k][i]), np.asarray(want[k]), rtol=1e-6, atol=1e-7)


def test_grad_through_update_with_eps_root():
  """Differentiating through the update (meta-learning) at a zero gradient: finite
  with eps_root > 0 (what eps_root is for), and equal to the derivative of the
  first-step formula −α g/(√(g² + ε_r) + ε), written here by hand."""
  lr, eps_root = LR, 1e-8
  opt = adam(lr, eps=1e-8, eps_root=eps_root)
  params = jnp.zeros(3)
  g0 = jnp.array([0.0, 0.5, -2.0])

  def first_update(g):
    return jnp.sum(opt.update(g, opt.init(params), params)[0])

  got = np.asarray(jax.grad(first_update)(g0), np.float64)
  g = np.asarray(g0, np.float64)
  r = np.sqrt(g * g + eps_root)
  want = -lr * (1 / (r + 1e-8) - g * (g / r) / (r + 1e-8) ** 2)  # d/dg of −α g/(r+ε)
  assert np.all(np.isfinite(got))
  np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)  # ≈0 where g ≠ 0


def test_weight_decay_without_params_raises():
  params = {"w": jnp.ones(2)}
  for opt in (adam(LR, weight_decay=0.1), adamw(LR), lion(LR, weight_decay=0.1)):
    with pytest.raises(ValueError, match="weight_decay"):
      opt.update(params, opt.init(params))


# ------------------------------------------------------------------ bad input

BAD = [
  (adam, dict(learning_rate=-1.0), "learning_rate"),
  (adam, dict(learning_rate=LR, b1=1.0), "b1"),
  (adam, dict(learning_rate=LR, b1=-0.1), "b1"),
  (adam, dict(learning_rate=LR, b2=1.5), "b2"),
  (adam, dict(learning_rate=LR, eps=-1e-8), "eps"),
  (adam, dict(learning_rate=LR, eps_root=-1e-8), "eps_root"),
  (adam, dict(learning_rate=LR, eps=0.0, eps_root=0.0), "eps"),
  (adam, dict(learning_rate=LR, weight_decay=-0.1), "weight_decay"),
  (adamw, dict(learning_rate=-1.0), "learning_rate"),
  (adamw, dict(learning_rate=LR, b2=1.0), "b2"),
  (adamw, dict(learning_rate=LR, weight_decay=-1.0), "weight_decay"),
  (amsgrad, dict(learning_rate=LR, max_over="max"), "max_over"),
  (amsgrad, dict(learning_rate=LR, eps=-1.0), "eps"),
  (nadam, dict(learning_rate=LR, momentum_decay=-0.004), "momentum_decay"),
  (nadam, dict(learning_rate=LR, b1=1.0), "b1"),
  (adamax, dict(learning_rate=LR, eps=0.0), "eps"),
  (adamax, dict(learning_rate=LR, b2=-0.5), "b2"),
  (lion, dict(learning_rate=-1e-3), "learning_rate"),
  (lion, dict(learning_rate=1e-3, b1=1.0), "b1"),
  (lion, dict(learning_rate=1e-3, weight_decay=-0.1), "weight_decay"),
]


@pytest.mark.parametrize(
  "factory,kwargs,arg", BAD, ids=[f"{f.__name__}-{a}-{i}" for i, (f, _, a) in enumerate(BAD)]
)
def test_bad_input_raises_at_construction(factory, kwargs, arg):
  kwargs = dict(kwargs)
  lr = kwargs.pop("learning_rate")
  with pytest.raises(ValueError, match=rf"{factory.__name__}: {arg}="):
    factory(lr, **kwargs)
