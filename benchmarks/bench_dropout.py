"""Forward+backward time of jpatterns' dropout variants against flax Dropout.

Run: ``python -m benchmarks.bench_dropout [--quick]``.

Each row is one jitted ``jax.vjp`` (output and input gradient for a fixed cotangent),
float32, warm, timed interleaved with its reference in the same run; the ratio is
jpatterns / reference. ``dropout``, ``spatial_dropout`` and ``drop_path`` are compared
with flax ``Dropout`` configured to do the same thing (same key -> same values, checked
before timing). ``gaussian_dropout`` and ``alpha_dropout`` have no flax counterpart:
their reference is flax ``Dropout`` of the same rate, a plain baseline for the cost of a
random multiplicative mask, not a like-for-like comparison.
"""

from __future__ import annotations

import argparse

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._timing import interleaved_median_times, machine_info, print_ratio_table
from jpatterns import stochastic as jd

RATE = 0.5
SHAPES = ((256, 1024), (64, 32, 32, 64))


def _flax(rate, broadcast_dims=()):
  layer = nn.Dropout(rate, broadcast_dims=broadcast_dims, deterministic=False)
  return lambda key, x: layer.apply({}, x, rng=key)


def _fwd_bwd(f):
  def run(key, x, ct):
    y, vjp = jax.vjp(lambda x: f(key, x), x)
    return y, vjp(ct)[0]

  return jax.jit(run)


def _pairs(shape):
  nd = len(shape)
  spatial = tuple(range(1, nd - 1))  # NHWC: H, W share the mask; N and C do not
  rest = tuple(range(1, nd))
  return [
    ("dropout", lambda k, x: jd.dropout(k, x, rate=RATE), _flax(RATE), True),
    (
      "spatial_dropout",
      lambda k, x: jd.spatial_dropout(k, x, rate=RATE, batch_axis=0),
      _flax(RATE, spatial),
      True,
    ),
    ("drop_path", lambda k, x: jd.drop_path(k, x, rate=RATE), _flax(RATE, rest), True),
    (
      "gaussian_dropout (ref: flax Dropout)",
      lambda k, x: jd.gaussian_dropout(k, x, rate=RATE),
      _flax(RATE),
      False,
    ),
    (
      "alpha_dropout (ref: flax Dropout)",
      lambda k, x: jd.alpha_dropout(k, x, rate=RATE),
      _flax(RATE),
      False,
    ),
  ]


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="few repeats (smoke run)")
  parser.add_argument("--repeats", type=int, default=None)
  args = parser.parse_args(argv)
  repeats = args.repeats or (5 if args.quick else 100)

  print(machine_info())
  rows, same_hlo = [], []
  key = jax.random.key(0)
  for shape in SHAPES:
    x = jax.random.normal(jax.random.key(1), shape, jnp.float32)
    ct = jax.random.normal(jax.random.key(2), shape, jnp.float32)
    for name, ours, ref, same_values in _pairs(shape):
      f_ours, f_ref = _fwd_bwd(ours), _fwd_bwd(ref)
      if same_values:  # a like-for-like row: the two must compute the same thing
        np.testing.assert_array_equal(f_ours(key, x, ct)[0], f_ref(key, x, ct)[0])
        identical = f_ours.lower(key, x, ct).as_text() == f_ref.lower(key, x, ct).as_text()
        same_hlo.append(
          f"{name} {'x'.join(map(str, shape))}: {'identical' if identical else 'different'}"
        )
      t_ours, t_ref = interleaved_median_times(
        [f_ours, f_ref], [(key, x, ct), (key, x, ct)], repeats=repeats
      )
      rows.append((name, "x".join(map(str, shape)), t_ours, t_ref))
  print_ratio_table(
    f"Dropout fwd+bwd (float32, rate={RATE}, jit, warm, interleaved median of {repeats})",
    rows,
    ref_name="flax Dropout",
  )
  print("\nLowered StableHLO of the like-for-like rows vs flax: " + "; ".join(same_hlo))
  return rows


if __name__ == "__main__":
  main()
