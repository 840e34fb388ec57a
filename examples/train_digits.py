"""Train a small network built from jpatterns functions on the 8×8 digits.

The data ships inside jpatterns (``jpatterns.datasets.load("digits")``: the UCI /
scikit-learn 8×8 digits, 1797 images, 10 classes, a fixed 80/20 split): no download.
The model is an MLP whose every piece is a jpatterns pattern:

  He-normal init → dense → batch norm → GELU → dropout → … → dense → softmax CE

trained with the jpatterns Adam (an optax.GradientTransformation) under a cosine
schedule, with global-norm gradient clipping. One epoch is one compiled
``lax.scan`` over minibatches; parameters, optimizer state and batch-norm
statistics are donated to the jitted epoch.

Run:  python examples/train_digits.py [--epochs 40] [--seed 0]
It prints the loss every 5 epochs and the final test accuracy (0.9861 with seed 0;
0.983–0.989 over seeds 0–2, which change the initialization, dropout and batches).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jpatterns as jp
from jpatterns import datasets, optim

HIDDEN = (256, 256)
BATCH = 64


def load():
  """The digits embedded in jpatterns (``jpatterns.datasets.load("digits")``: its fixed
  80/20 split), flattened to 64 features in [0, 1]."""
  d = datasets.load("digits")

  def flat(x):
    return x.reshape(len(x), -1)

  return (flat(d.x_train), d.y_train), (flat(d.x_test), d.y_test)


def init_model(key, sizes):
  """Dense weights (He normal), biases, BN scale/bias and running statistics."""
  kernel_init = jp.he_normal()
  params, stats = [], []
  keys = jax.random.split(key, len(sizes) - 1)
  for i, (k, n_in, n_out) in enumerate(zip(keys, sizes[:-1], sizes[1:])):
    layer = {"w": kernel_init(k, (n_in, n_out)), "b": jnp.zeros(n_out)}
    if i < len(sizes) - 2:  # hidden layers carry batch norm
      layer["bn_scale"] = jnp.ones(n_out)
      layer["bn_bias"] = jnp.zeros(n_out)
      stats.append(jp.init_batch_norm_stats((n_out,)))
    params.append(layer)
  return params, stats


def forward(params, stats, x, key, *, train: bool, rate: float = 0.2):
  """Returns logits and the updated batch-norm statistics."""
  new_stats = []
  keys = jax.random.split(key, len(stats))
  for layer, s, k in zip(params[:-1], stats, keys):
    h = x @ layer["w"] + layer["b"]
    h, s = jp.batch_norm(h, s, scale=layer["bn_scale"], bias=layer["bn_bias"], train=train)
    h = jp.gelu(h)
    x = jp.dropout(k, h, rate=rate, train=train)
    new_stats.append(s)
  last = params[-1]
  return x @ last["w"] + last["b"], new_stats


def loss_fn(params, stats, x, y, key):
  logits, new_stats = forward(params, stats, x, key, train=True)
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
  return loss, new_stats


def make_epoch(opt):
  def epoch(params, stats, opt_state, xs, ys, key):
    """One pass over the (already shuffled, batched) data as a lax.scan."""

    def step(carry, batch):
      params, stats, opt_state, key = carry
      key, sub = jax.random.split(key)
      (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, stats, *batch, sub)
      updates, opt_state = opt.update(grads, opt_state, params)
      params = optax.apply_updates(params, updates)
      return (params, stats, opt_state, key), loss

    (params, stats, opt_state, _), losses = jax.lax.scan(
      step, (params, stats, opt_state, key), (xs, ys)
    )
    return params, stats, opt_state, losses.mean()

  return jax.jit(epoch, donate_argnums=(0, 1, 2))


@jax.jit
def accuracy(params, stats, x, y):
  logits, _ = forward(params, stats, x, jax.random.key(0), train=False)
  return jnp.mean(jnp.argmax(logits, -1) == y)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--epochs", type=int, default=40)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)

  (x_tr, y_tr), (x_te, y_te) = load()
  key = jax.random.key(args.seed)
  key, init_key = jax.random.split(key)
  params, stats = init_model(init_key, (64, *HIDDEN, 10))

  steps_per_epoch = len(x_tr) // BATCH
  schedule = optim.cosine_decay(3e-3, args.epochs * steps_per_epoch, alpha=0.05)
  opt = optax.chain(optim.clip_by_global_norm(5.0), optim.adam(schedule))
  opt_state = opt.init(params)
  epoch = make_epoch(opt)

  t0 = time.perf_counter()
  rng = np.random.default_rng(args.seed)
  for e in range(args.epochs):
    perm = rng.permutation(len(x_tr))[: steps_per_epoch * BATCH]
    xs = x_tr[perm].reshape(steps_per_epoch, BATCH, -1)
    ys = y_tr[perm].reshape(steps_per_epoch, BATCH)
    key, sub = jax.random.split(key)
    params, stats, opt_state, loss = epoch(params, stats, opt_state, xs, ys, sub)
    if e % 5 == 4 or e == args.epochs - 1:
      acc = accuracy(params, stats, x_te, y_te)
      print(f"epoch {e + 1:3d}  train loss {float(loss):.4f}  test accuracy {float(acc):.4f}")
  elapsed = time.perf_counter() - t0
  acc = float(accuracy(params, stats, x_te, y_te))
  print(f"final test accuracy {acc:.4f} ({args.epochs} epochs, {elapsed:.1f} s)")
  return acc


if __name__ == "__main__":
  main()
