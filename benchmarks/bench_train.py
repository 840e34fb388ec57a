"""`jpatterns train` on digits vs the same training written by hand with flax + optax.

Both train the same MLP (64 → 128 → 128 → 10, ReLU, He-normal), Adam 1e-3, batch 64,
22 steps an epoch, 20 epochs, the test set evaluated after every epoch. Each run is a
fresh Python process, the way a user meets them: interpreter start, imports, data,
compilation and training are all in the wall time. The two commands are timed in
alternation (ABBA), median of ``--repeats`` runs each:

* ``python -m jpatterns train --epochs 20 --quiet --devices 1`` — option parsing,
  the embedded data, the vmapped epoch ``lax.scan`` with donated carry, a checkpoint
  every epoch, the metrics JSON;
* ``python -m benchmarks.bench_train --handwritten`` — the loop a flax user writes:
  a ``flax.linen`` module, ``optax.adam``, a jitted, donated ``train_step`` called per
  minibatch from Python over a NumPy permutation, a jitted ``eval_step`` per epoch.

Run:  python -m benchmarks.bench_train [--quick] [--epochs 20] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks import _timing
from jpatterns import datasets

BATCH = 64
WIDTH = 128


class MLP(nn.Module):
  @nn.compact
  def __call__(self, x):
    x = x.reshape(x.shape[0], -1)
    for _ in range(2):
      x = nn.relu(nn.Dense(WIDTH, kernel_init=nn.initializers.he_normal())(x))
    return nn.Dense(10, kernel_init=nn.initializers.he_normal())(x)


def handwritten(epochs: int, seed: int = 0) -> float:
  """The flax + optax loop; returns the final test accuracy."""
  d = datasets.load("digits")
  x_tr, y_tr, x_te, y_te = d.x_train, d.y_train, d.x_test, d.y_test
  model, tx = MLP(), optax.adam(1e-3)
  params = model.init(jax.random.key(seed), x_tr[:1])
  opt_state = tx.init(params)

  def train_step(params, opt_state, x, y):
    def loss_fn(p):
      logits = model.apply(p, x)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  def eval_step(params, x, y):
    logits = model.apply(params, x)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    return loss, jnp.mean(jnp.argmax(logits, -1) == y)

  train_step = jax.jit(train_step, donate_argnums=(0, 1))
  eval_step = jax.jit(eval_step)
  rng = np.random.default_rng(seed)
  steps = len(x_tr) // BATCH
  acc = None
  for _ in range(epochs):
    perm = rng.permutation(len(x_tr))
    for i in range(steps):
      idx = perm[i * BATCH : (i + 1) * BATCH]
      params, opt_state, loss = train_step(params, opt_state, x_tr[idx], y_tr[idx])
    _, acc = eval_step(params, x_te, y_te)
    acc = float(acc)  # the per-epoch record a user prints
  return acc


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="few repeats (smoke run)")
  parser.add_argument("--epochs", type=int, default=20)
  parser.add_argument("--repeats", type=int, default=None)
  parser.add_argument(
    "--handwritten",
    action="store_true",
    help="run the flax + optax loop once and exit (what is timed)",
  )
  args = parser.parse_args(argv)
  if args.handwritten:
    print(f"test accuracy {handwritten(args.epochs):.4f}")
    return None
  repeats = args.repeats or (2 if args.quick else 5)
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  print(_timing.machine_info())
  with tempfile.TemporaryDirectory() as tmp:
    ours_cmd = [
      sys.executable,
      "-m",
      "jpatterns",
      "train",
      "--epochs",
      str(args.epochs),
      "--quiet",
      "--devices",
      "1",
      "--out",
      tmp,
    ]
    ref_cmd = [
      sys.executable,
      "-m",
      "benchmarks.bench_train",
      "--handwritten",
      "--epochs",
      str(args.epochs),
    ]
    ours, ref = [], []
    for r in range(repeats):
      pair = [(ours, ours_cmd), (ref, ref_cmd)]
      for times, cmd in pair if r % 2 == 0 else pair[::-1]:  # ABBA
        times.append(_timing.process_times(cmd, root))
  t_ours, t_ref = (statistics.median(w for w, _ in t) for t in (ours, ref))
  c_ours, c_ref = (statistics.median(c for _, c in t) for t in (ours, ref))
  print(
    f"\n### train on digits, {args.epochs} epochs: wall time of a fresh process, "
    f"compile included (median of {repeats})\n"
  )
  print("| run | jpatterns train wall / CPU (s) | flax + optax loop wall / CPU (s) | CPU ratio |")
  print("|---|---:|---:|---:|")
  print(
    f"| MLP 64-128-128-10, Adam, batch 64 | {t_ours:.2f} / {c_ours:.2f} | "
    f"{t_ref:.2f} / {c_ref:.2f} | {c_ours / c_ref:.2f} |"
  )
  return t_ours / t_ref


if __name__ == "__main__":
  main()
