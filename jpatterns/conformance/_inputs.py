"""Inputs shared by the checks: NumPy test data, the MLP problem, the torch bridge."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax


def normal(seed: int, shape, dtype=jnp.float32, scale=1.0, loc=0.0):
  """Test data from NumPy: a constant in the compiled program. (jax.random here would
  put a threefry hash into every check, and those dominated the compile time.)"""
  x = loc + scale * np.random.default_rng(seed).standard_normal(shape)
  return jnp.asarray(x.astype(np.float32)).astype(dtype)


def integers(seed: int, shape, high):
  return jnp.asarray(np.random.default_rng(seed).integers(0, high, shape), jnp.int32)


def f32(x):
  return jax.tree.map(lambda a: a.astype(jnp.float32), x)


STEPS = 20


def mlp_problem(with_data=False):
  x, y = normal(0, (16, 4)), normal(1, (16, 2))
  params = {
    "w1": normal(2, (4, 3), scale=0.5),
    "b1": normal(3, (3,), scale=0.1),
    "w2": normal(4, (3, 2), scale=0.5),
    "s": jnp.array([0.8, -1.2]),
  }

  def loss(p):
    r = jnp.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] - y
    return jnp.log(jnp.cosh(r)).mean() + 0.1 * jnp.sum(p["s"] ** 4)

  return (loss, params, (x, y)) if with_data else (loss, params)


def trajectory(opt, loss, params, steps=STEPS):
  def step(carry, _):
    p, state = carry
    updates, state = opt.update(jax.grad(loss)(p), state, p)
    p = optax.apply_updates(p, updates)
    return (p, state), p

  return jax.lax.scan(step, (params, opt.init(params)), None, length=steps)[1]


# The torch side of a check runs on the host CPU whatever the JAX backend, through
# jax.pure_callback, so torch checks jit (and group) like the others. They run only when
# torch is importable (run_checks skips them otherwise).


def on_torch(f, *args, like):
  """``f(*numpy_args) -> numpy`` on the host via PyTorch; result shaped like ``like``."""
  shape = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, jnp.float32), like)

  def host(*np_args):
    out = f(*jax.tree.map(np.asarray, np_args))
    return jax.tree.map(lambda o: np.asarray(o, np.float32), out)

  return jax.pure_callback(host, shape, *args)
