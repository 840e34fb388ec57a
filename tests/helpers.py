"""Generic checks run over each module's case registry.

A *case* is a callable ``f(*args)`` plus its arguments. Each helper compares the
function under a transformation with an independent computation of the same
thing (eager evaluation, a Python loop), never with itself.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

DTYPES = (jnp.float32, jnp.bfloat16, jnp.float16)

# Tolerances per dtype, for comparisons of one dtype's result with another's.
TOL = {
  jnp.dtype(jnp.float32): dict(rtol=1e-5, atol=1e-6),
  jnp.dtype(jnp.bfloat16): dict(rtol=2e-2, atol=2e-2),
  jnp.dtype(jnp.float16): dict(rtol=2e-3, atol=2e-3),
}


def tree_allclose(a, b, rtol=1e-5, atol=1e-6):
  la, ta = jax.tree.flatten(a)
  lb, tb = jax.tree.flatten(b)
  assert ta == tb, f"tree structures differ: {ta} vs {tb}"
  for x, y in zip(la, lb):
    np.testing.assert_allclose(
      np.asarray(x, np.float64), np.asarray(y, np.float64), rtol=rtol, atol=atol
    )


def assert_jit_matches_eager(f, *args, rtol=1e-5, atol=1e-6):
  """jit(f)(*args) equals eager f(*args)."""
  tree_allclose(jax.jit(f)(*args), f(*args), rtol=rtol, atol=atol)


def assert_vmap_matches_loop(f, *batched_args, rtol=1e-5, atol=1e-6):
  """vmap(f) over the leading axis equals stacking f over a Python loop."""
  n = jax.tree.leaves(batched_args)[0].shape[0]
  got = jax.vmap(f)(*batched_args)
  want = [f(*jax.tree.map(lambda a: a[i], batched_args)) for i in range(n)]
  want = jax.tree.map(lambda *xs: jnp.stack(xs), *want)
  tree_allclose(got, want, rtol=rtol, atol=atol)


def assert_dtypes_kept(f, make_args, dtypes=DTYPES):
  """For each dtype: every floating output leaf has the input dtype.

  ``make_args(dtype)`` builds the argument tuple for one dtype.
  """
  for dtype in dtypes:
    out = f(*make_args(dtype))
    for leaf in jax.tree.leaves(out):
      if jnp.issubdtype(leaf.dtype, jnp.floating):
        assert leaf.dtype == jnp.dtype(dtype), (
          f"{getattr(f, '__name__', f)}: {dtype.__name__} in, {leaf.dtype} out"
        )


def assert_grad_finite(f, *args, argnums=0):
  """The gradient of sum(f) is finite everywhere."""

  def scalar(*a):
    return sum(
      jnp.sum(l.astype(jnp.float32))
      for l in jax.tree.leaves(f(*a))
      if jnp.issubdtype(l.dtype, jnp.floating)
    )

  g = jax.grad(scalar, argnums=argnums)(*args)
  for leaf in jax.tree.leaves(g):
    assert np.all(np.isfinite(np.asarray(leaf, np.float64))), "non-finite gradient"


def assert_no_retrace(f, *args):
  """A jitted f traces once for two calls with same-shaped arguments."""
  traces = []

  def counted(*a):
    traces.append(None)
    return f(*a)

  g = jax.jit(counted)
  jax.block_until_ready(g(*args))
  args2 = jax.tree.map(
    lambda a: a + 0 if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.number) else a, args
  )
  jax.block_until_ready(g(*args2))
  assert len(traces) == 1, f"traced {len(traces)} times"


# The ground-floor and optim modules whose ``__all__`` the convention and API walks cover.
PUBLIC_MODULES = [
  "jpatterns.activations",
  "jpatterns.initializers",
  "jpatterns.normalization",
  "jpatterns.stochastic",
  "jpatterns.regularization",
  "jpatterns.losses",
  "jpatterns.preprocessing",
  "jpatterns.gradcheck",
  "jpatterns.layers",
  "jpatterns.augment",
  "jpatterns.optim",
]

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parent.parent / "examples"


def load_example(name):
  """``examples/NAME.py`` as a module (the examples are scripts, not a package)."""
  import importlib.util

  spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module
