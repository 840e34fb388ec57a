"""Shared problems and runners for optimizer trajectory tests.

Two problems, each written once for jax.numpy and once for torch (same maths):
- ``mlp``: a multi-leaf pytree (w1, b1, w2, s) with a non-quadratic loss
  (log-cosh regression through tanh, plus a quartic term on s);
- ``rosenbrock``: f(x, y) = (1 − x)² + 100 (y − x²)², one leaf of shape (2,).

``run_jax(opt, problem, steps)`` and ``run_torch(make_opt, problem, steps)`` return
the parameter trajectory as a list of dicts of float64 NumPy arrays (after each
step), so tests compare trajectories step by step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

_rng = np.random.default_rng(0)
_X = _rng.normal(size=(16, 4)).astype(np.float32)
_Y = _rng.normal(size=(16, 2)).astype(np.float32)
_MLP_INIT = {
  "w1": (_rng.normal(size=(4, 3)) * 0.5).astype(np.float32),
  "b1": (_rng.normal(size=(3,)) * 0.1).astype(np.float32),
  "w2": (_rng.normal(size=(3, 2)) * 0.5).astype(np.float32),
  "s": np.array([0.8, -1.2], np.float32),
}


def _mlp_loss(p, xp, X, Y):
  h = xp.tanh(X @ p["w1"] + p["b1"])
  r = h @ p["w2"] - Y
  return xp.log(xp.cosh(r)).mean() + 0.1 * (p["s"] ** 4).sum()


def _rosen_loss(p, xp, X=None, Y=None):
  x, y = p["xy"][0], p["xy"][1]
  return (1 - x) ** 2 + 100 * (y - x**2) ** 2


PROBLEMS = {
  "mlp": (_mlp_loss, _MLP_INIT),
  "rosenbrock": (_rosen_loss, {"xy": np.array([-1.2, 1.0], np.float32)}),
}


def jax_loss(problem):
  loss, _ = PROBLEMS[problem]
  X, Y = jnp.asarray(_X), jnp.asarray(_Y)
  return lambda p: loss(p, jnp, X, Y)


def init_params(problem):
  return {k: jnp.asarray(v) for k, v in PROBLEMS[problem][1].items()}


def run_jax(opt: optax.GradientTransformation, problem: str, steps: int = 50, params=None):
  """Trajectory of ``opt`` on ``problem`` with a jitted step."""
  loss = jax_loss(problem)
  params = init_params(problem) if params is None else params
  state = opt.init(params)

  @jax.jit
  def step(params, state):
    g = jax.grad(loss)(params)
    updates, state = opt.update(g, state, params)
    return optax.apply_updates(params, updates), state

  out = []
  for _ in range(steps):
    params, state = step(params, state)
    out.append({k: np.asarray(v, np.float64) for k, v in params.items()})
  return out


def run_torch(make_opt, problem: str, steps: int = 50):
  """Trajectory of a torch optimizer; ``make_opt(list_of_tensors)`` builds it."""
  loss, init = PROBLEMS[problem]
  names = list(init)
  tensors = {k: torch.tensor(v, requires_grad=True) for k, v in init.items()}
  opt = make_opt([tensors[k] for k in names])
  X, Y = torch.tensor(_X), torch.tensor(_Y)
  out = []
  for _ in range(steps):
    opt.zero_grad()
    loss(tensors, torch, X, Y).backward()
    opt.step()
    out.append({k: tensors[k].detach().numpy().astype(np.float64).copy() for k in names})
  return out


def assert_trajectories_close(a, b, rtol=1e-5):
  """Leaf-wise relative error ‖a − b‖∞ / max(‖b‖∞, 1) ≤ rtol at every step.

  Normwise rather than elementwise: an element that passes near zero (a bias
  crossing the origin) would otherwise demand an exactness float32 cannot give.
  """
  assert len(a) == len(b)
  for t, (pa, pb) in enumerate(zip(a, b)):
    for k in pa:
      err = np.max(np.abs(pa[k] - pb[k])) / max(np.max(np.abs(pb[k])), 1.0)
      assert err <= rtol, f"step {t + 1}, leaf {k}: relative error {err:.2e} > {rtol:.0e}"
