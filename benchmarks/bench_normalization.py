"""Normalization: forward+backward time vs flax, and accuracy on mean-1000 inputs.

Run: ``python -m benchmarks.bench_normalization [--quick]``.

Time: ``jax.grad`` of a scalar loss ``Σ y ⊙ c`` with respect to (x, scale, bias) for
jpatterns' functions and flax linen modules applied with fixed parameters, jitted,
warm, interleaved medians. Accuracy: max |y − y₆₄| on inputs with mean 1000 and std 1,
y₆₄ a float64 NumPy reference, for both (flax at its defaults, i.e. one-pass variance).
"""

from __future__ import annotations

import argparse

import flax.linen as fnn
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks._timing import interleaved_median_times, machine_info, print_ratio_table
from jpatterns import normalization as jn

EPS = 1e-5
GROUPS = 32


def _cases(shape):
  """name -> (jpatterns f(x, scale, bias), flax f(x, scale, bias), numpy ref(x))."""
  c = shape[-1]

  def bn_ours(x, s, b):
    return jn.batch_norm(x, jn.init_batch_norm_stats(c), scale=s, bias=b, train=True, eps=EPS)[0]

  def bn_flax(x, s, b):
    m = fnn.BatchNorm(use_running_average=False, epsilon=EPS)
    y, _ = m.apply(
      {
        "params": {"scale": s, "bias": b},
        "batch_stats": {"mean": jnp.zeros(c), "var": jnp.ones(c)},
      },
      x,
      mutable=["batch_stats"],
    )
    return y

  def bn_ref(x):
    ax = tuple(range(x.ndim - 1))
    return (x - x.mean(ax)) / np.sqrt(x.var(ax) + EPS)

  def ln_ours(x, s, b):
    return jn.layer_norm(x, scale=s, bias=b, eps=EPS)

  def ln_flax(x, s, b):
    return fnn.LayerNorm(epsilon=EPS).apply({"params": {"scale": s, "bias": b}}, x)

  def ln_ref(x):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + EPS)

  def rms_ours(x, s, b):
    del b
    return jn.rms_norm(x, scale=s, eps=EPS)

  def rms_flax(x, s, b):
    del b
    return fnn.RMSNorm(epsilon=EPS).apply({"params": {"scale": s}}, x)

  def rms_ref(x):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + EPS)

  def gn_ours(x, s, b):
    return jn.group_norm(x, scale=s, bias=b, num_groups=GROUPS, eps=EPS)

  def gn_flax(x, s, b):
    return fnn.GroupNorm(num_groups=GROUPS, epsilon=EPS).apply(
      {"params": {"scale": s, "bias": b}}, x
    )

  def gn_ref(x):
    xg = x.reshape(x.shape[:-1] + (GROUPS, c // GROUPS))
    ax = tuple(range(1, x.ndim - 1)) + (x.ndim,)
    y = (xg - xg.mean(ax, keepdims=True)) / np.sqrt(xg.var(ax, keepdims=True) + EPS)
    return y.reshape(x.shape)

  def in_ours(x, s, b):
    return jn.instance_norm(x, scale=s, bias=b, eps=EPS)

  def in_flax(x, s, b):
    return fnn.InstanceNorm(epsilon=EPS).apply({"params": {"scale": s, "bias": b}}, x)

  def in_ref(x):
    ax = tuple(range(1, x.ndim - 1))
    return (x - x.mean(ax, keepdims=True)) / np.sqrt(x.var(ax, keepdims=True) + EPS)

  cases = {
    "batch_norm": (bn_ours, bn_flax, bn_ref),
    "layer_norm": (ln_ours, ln_flax, ln_ref),
    "group_norm": (gn_ours, gn_flax, gn_ref),
    "rms_norm": (rms_ours, rms_flax, rms_ref),
  }
  if len(shape) > 2:
    cases["instance_norm"] = (in_ours, in_flax, in_ref)
  return cases


def _fwd_bwd(f, cot):
  def loss(x, s, b):
    return jnp.sum(f(x, s, b) * cot)  # Σ y ⊙ c

  return jax.jit(jax.grad(loss, argnums=(0, 1, 2)))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("--quick", action="store_true", help="few repeats")
  args = parser.parse_args(argv)
  repeats = 5 if args.quick else 50
  print(machine_info())
  rows, acc_rows = [], []
  shapes = [(256, 1024), (64, 32, 32, 64)]
  for shape in shapes:
    c = shape[-1]
    k1, k2 = jax.random.split(jax.random.key(0))
    x = jax.random.normal(k1, shape, jnp.float32)
    cot = jax.random.normal(k2, shape, jnp.float32)
    s, b = jnp.ones(c), jnp.zeros(c)
    x_far = np.asarray(1000.0 + x)  # mean 1000, std 1 (float32 values)
    for name, (ours, ref, np_ref) in _cases(shape).items():
      t_ours, t_ref = interleaved_median_times(
        [_fwd_bwd(ours, cot), _fwd_bwd(ref, cot)], [(x, s, b), (x, s, b)], repeats=repeats
      )
      rows.append((name, shape, t_ours, t_ref))
      want = np_ref(x_far.astype(np.float64))
      e_ours = np.max(
        np.abs(np.asarray(jax.jit(ours)(jnp.asarray(x_far), s, b), np.float64) - want)
      )
      e_ref = np.max(np.abs(np.asarray(jax.jit(ref)(jnp.asarray(x_far), s, b), np.float64) - want))
      acc_rows.append((name, shape, e_ours, e_ref))
  print_ratio_table("Normalization fwd+bwd (grad wrt x, scale, bias)", rows, ref_name="flax.linen")
  print("\n### Max abs error vs float64 NumPy, inputs mean 1000 std 1\n")
  print("| pattern | shape | jpatterns | flax (defaults) |")
  print("|---|---|---:|---:|")
  for name, shape, e_ours, e_ref in acc_rows:
    print(f"| {name} | {shape} | {e_ours:.2e} | {e_ref:.2e} |")


if __name__ == "__main__":
  main()
