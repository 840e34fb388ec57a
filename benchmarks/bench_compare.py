"""`jpatterns compare` (the main job) cold and warm vs the same grid written by hand.

The default grid: 7 optimizers (sgd, momentum, nesterov, adagrad, adadelta, rmsprop,
adam at their usual learning rates) × 3 seeds, 20 epochs of the digits MLP
(64 → 128 → 128 → 10, batch 64). Each run is a fresh Python process, so imports, data,
tracing and compilation count, as they do for a user. Three commands, timed in
rotation (ABC, CBA, ...), median of ``--repeats``, wall and CPU seconds:

* cold: ``jpatterns compare`` with an empty persistent compilation cache (it compiles
  everything and writes the cache);
* warm: ``jpatterns compare`` again on the cache the cold run left (XLA skipped);
* hand-written: ``python -m benchmarks.bench_compare --handwritten``: flax.linen + optax,
  one jitted, donated step compiled once per optimizer and reused by its 3 seeds, run
  one after another from Python, a jitted evaluation per epoch.

Run:  python -m benchmarks.bench_compare [--quick] [--repeats 5] [--epochs 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks import _timing
from benchmarks.bench_train import BATCH, MLP  # the same digits MLP and batch
from jpatterns import datasets

SEEDS = 3
# jpatterns.train.config.DEFAULT_LEARNING_RATES, as optax spells the optimizers.
GRID = {
  "sgd": lambda: optax.sgd(0.1),
  "momentum": lambda: optax.sgd(0.05, momentum=0.9),
  "nesterov": lambda: optax.sgd(0.05, momentum=0.9, nesterov=True),
  "adagrad": lambda: optax.adagrad(0.05),
  "adadelta": lambda: optax.adadelta(1.0),
  "rmsprop": lambda: optax.rmsprop(1e-3),
  "adam": lambda: optax.adam(1e-3),
}


def handwritten(epochs: int) -> dict:
  """The flax + optax grid; returns {optimizer: mean final test accuracy}."""
  d = datasets.load("digits")
  x_tr, y_tr, x_te, y_te = d.x_train, d.y_train, d.x_test, d.y_test
  model = MLP()

  def loss_fn(p, x, y):
    return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, x), y).mean()

  @jax.jit
  def eval_step(params, x, y):
    logits = model.apply(params, x)
    return jnp.mean(jnp.argmax(logits, -1) == y)

  results = {}
  for name, make in GRID.items():
    tx = make()

    def train_step(params, opt_state, x, y, tx=tx):
      loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
      updates, opt_state = tx.update(grads, opt_state, params)
      return optax.apply_updates(params, updates), opt_state, loss

    step = jax.jit(train_step, donate_argnums=(0, 1))  # compiled once, reused by the seeds
    accs = []
    for seed in range(SEEDS):
      params = model.init(jax.random.key(seed), x_tr[:1])
      opt_state = tx.init(params)
      rng = np.random.default_rng(seed)
      for _ in range(epochs):
        perm = rng.permutation(len(x_tr))
        for i in range(len(x_tr) // BATCH):
          idx = perm[i * BATCH : (i + 1) * BATCH]
          params, opt_state, _ = step(params, opt_state, x_tr[idx], y_tr[idx])
        acc = float(eval_step(params, x_te, y_te))  # the per-epoch record a user keeps
      accs.append(acc)
    results[name] = float(np.mean(accs))
  return results


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="one repeat, 2 epochs (smoke run)")
  parser.add_argument("--epochs", type=int, default=None)
  parser.add_argument("--repeats", type=int, default=None)
  parser.add_argument("--handwritten", action="store_true", help="run the hand-written grid once")
  args = parser.parse_args(argv)
  epochs = args.epochs or (2 if args.quick else 20)
  if args.handwritten:
    for name, acc in handwritten(epochs).items():
      print(f"{name:<10} {acc:.4f}")
    return None
  repeats = args.repeats or (1 if args.quick else 5)
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  print(_timing.machine_info())
  runs = {"cold": [], "warm": [], "hand-written": []}
  with tempfile.TemporaryDirectory() as tmp:
    compare = [sys.executable, "-m", "jpatterns", "compare", "--quiet", "--no-plot"]
    compare += ["--epochs", str(epochs), "--out", os.path.join(tmp, "out")]
    ref = [sys.executable, "-m", "benchmarks.bench_compare", "--handwritten"]
    ref += ["--epochs", str(epochs)]
    for r in range(repeats):
      cache = os.path.join(tmp, f"cache{r}")  # empty for the cold run, then warm
      env = {"JPATTERNS_COMPILE_CACHE": cache}
      order = [("cold", compare), ("warm", compare), ("hand-written", ref)]
      if r % 2:  # the cold run must precede the warm one: rotate the reference instead
        order = [order[2], order[0], order[1]]
      for name, cmd in order:
        runs[name].append(_timing.process_times(cmd, root, env))
  med = {
    k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
    for k, v in runs.items()
  }
  ref_wall, ref_cpu = med["hand-written"]
  print(
    f"\n### jpatterns compare default grid (7 optimizers x {SEEDS} seeds, {epochs} epochs): "
    f"fresh processes, compile included (median of {repeats})\n"
  )
  print("| run | wall (s) | CPU (s) | CPU ratio vs hand-written |")
  print("|---|---:|---:|---:|")
  for name, (wall, cpu) in med.items():
    print(f"| {name} | {wall:.2f} | {cpu:.2f} | {cpu / ref_cpu:.2f} |")
  print(f"\nwarm / cold CPU: {med['warm'][1] / med['cold'][1]:.2f}")
  return med


if __name__ == "__main__":
  main()
