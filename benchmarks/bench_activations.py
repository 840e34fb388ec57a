"""Forward+backward time of each jpatterns activation against its jax.nn counterpart.

Run: ``python -m benchmarks.bench_activations [--quick]``.

For each activation ``f`` both sides time ``jax.jit(jax.grad(lambda x: f(x).sum()))``
(for prelu, the gradient with respect to ``x`` and ``alpha``) on float32 inputs of
shapes (256, 1024) and (64, 32, 32, 64), warm, medians of interleaved runs (the two
sides alternate, so machine noise hits both). Target: ratio <= 1.05. It also
reports whether each pair compiles to the same XLA program (instructions compared
with names and metadata stripped), a noise-free check that the ratio is 1.

Counterparts: jax.nn has no tanh, prelu or rrelu; tanh is timed against
``jnp.tanh``, prelu against ``jax.nn.leaky_relu`` with a per-channel slope array,
rrelu (eval) against ``jax.nn.leaky_relu`` at the mean slope and rrelu (train)
against ``jax.nn.leaky_relu`` with slopes drawn by ``jax.random.uniform``.
"""

from __future__ import annotations

import argparse
import re

import jax
import jax.numpy as jnp

from benchmarks import _timing
from jpatterns import activations as A

SHAPES = ((256, 1024), (64, 32, 32, 64))
_KEY = jax.random.key(0)
_L, _U = 1 / 8, 1 / 3


def _rrelu_train_ref(x):
  slope = jax.random.uniform(_KEY, x.shape, x.dtype, _L, _U)
  return jax.nn.leaky_relu(x, slope)


# (name, ours, reference) for elementwise x -> y activations.
PAIRS = [
  ("sigmoid", A.sigmoid, jax.nn.sigmoid),
  ("tanh", A.tanh, jnp.tanh),
  ("relu", A.relu, jax.nn.relu),
  ("leaky_relu", A.leaky_relu, jax.nn.leaky_relu),
  (
    "rrelu (eval)",
    lambda x: A.rrelu(None, x, train=False),
    lambda x: jax.nn.leaky_relu(x, (_L + _U) / 2),
  ),
  ("rrelu (train)", lambda x: A.rrelu(_KEY, x), _rrelu_train_ref),
  ("elu", A.elu, jax.nn.elu),
  ("selu", A.selu, jax.nn.selu),
  ("celu", A.celu, jax.nn.celu),
  ("gelu (exact)", A.gelu, lambda x: jax.nn.gelu(x, approximate=False)),
  (
    "gelu (tanh)",
    lambda x: A.gelu(x, approximate=True),
    lambda x: jax.nn.gelu(x, approximate=True),
  ),
  ("silu", A.silu, jax.nn.silu),
  ("mish", A.mish, jax.nn.mish),
  ("softplus", A.softplus, jax.nn.softplus),
  ("softmax", A.softmax, jax.nn.softmax),
  ("log_softmax", A.log_softmax, jax.nn.log_softmax),
]


def _fwd_bwd(f):
  return jax.jit(jax.grad(lambda x: f(x).sum()))


def _fwd_bwd2(f):
  return jax.jit(jax.grad(lambda x, a: f(x, a).sum(), argnums=(0, 1)))


def _ops(jitted, *args):
  """The compiled program's instructions, without names and metadata."""
  text = jitted.lower(*args).compile().as_text()
  text = re.sub(r", metadata=\{[^}]*\}", "", text)
  text = re.sub(r"%[\w.\-]+", "%v", text)
  return sorted(l.strip() for l in text.splitlines() if "%v" in l and "=" in l)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="few repeats (smoke run)")
  parser.add_argument("--repeats", type=int, default=None)
  args = parser.parse_args(argv)
  repeats = args.repeats or (5 if args.quick else 200)

  print(_timing.machine_info())
  rows, same = [], []
  for shape in SHAPES:
    x = jax.random.normal(jax.random.key(1), shape, jnp.float32)
    alpha = jnp.linspace(0.05, 0.3, shape[-1], dtype=jnp.float32)
    for name, ours, ref in PAIRS:
      t_ours, t_ref = _timing.interleaved_median_times(
        [_fwd_bwd(ours), _fwd_bwd(ref)], [(x,), (x,)], repeats=repeats
      )
      rows.append((name, shape, t_ours, t_ref))
      same.append(_ops(_fwd_bwd(ours), x) == _ops(_fwd_bwd(ref), x))
    t_ours, t_ref = _timing.interleaved_median_times(
      [_fwd_bwd2(A.prelu), _fwd_bwd2(jax.nn.leaky_relu)], [(x, alpha), (x, alpha)], repeats=repeats
    )
    rows.append(("prelu (per channel)", shape, t_ours, t_ref))
    same.append(_ops(_fwd_bwd2(A.prelu), x, alpha) == _ops(_fwd_bwd2(jax.nn.leaky_relu), x, alpha))
  _timing.print_ratio_table("Activations fwd+bwd (float32, jitted, warm)", rows, ref_name="jax.nn")
  worst = max(rows, key=lambda r: r[2] / r[3])
  print(f"\nworst ratio: {worst[2] / worst[3]:.2f} ({worst[0]}, {worst[1]}); target <= 1.05")
  differ = [f"{r[0]} {r[1]}" for r, s in zip(rows, same) if not s]
  print(
    f"compiled fwd+bwd programs identical to the reference's (instructions, "
    f"ignoring names/metadata): {sum(same)}/{len(same)}"
    + (f"; differ: {', '.join(differ)}" if differ else "")
  )
  return rows


if __name__ == "__main__":
  main()
