"""Transfer learning on the 8×8 digits: reuse features, retrain the head.

Seed 003 §10 (变换学习): the early layers of a trained network are generic, the
last ones specialised; reuse the early ones and retrain only the last. Here:

1. Pretrain an MLP (64 → 256 → 32 feature layers, then a 5-way head) on the
   digits 0–4, with all the training images of those classes.
2. Give it a fresh 5-way head for the digits 5–9 and train ONLY the head, on a
   few labelled images per class (``--shots``, default 10), with
   ``jpatterns.optim.freeze({"features": True, "head": False}, inner=adam)``:
   the frozen leaves get zero updates and the optimizer keeps no state for them.
3. Baseline: the same head training on top of frozen RANDOM (untrained)
   features of the same architecture.

It prints the test accuracy on the digits 5–9 with pretrained and with random
features, and the largest change of any feature weight during step 2 (exactly 0:
frozen) next to the head's change. With the defaults (seed 0) the pretrained
features reach 0.8021 on 5–9 from 10 images per class, random features 0.8342;
over seeds 0–4 pretrained 0.80–0.88, random 0.73–0.91, pretrained ahead in 2 of 5.
Both are far above chance (0.2) and the feature weights move by exactly 0. Runs in
under 20 s on 2 CPU cores.

An honest caveat: random ReLU features are as strong as pretrained ones on these 8×8
digits. Features pretrained on only five classes do not reliably beat frozen random
features of the same width on the other five (here: 2 wins in 5 seeds at 10 shots,
4 in 5 at 5 shots, 3 in 5 at 20 shots); only a much narrower bottleneck (8 units)
makes the pretrained ones win every seed, at a much lower accuracy (0.57–0.70). What this
example shows is the mechanics: ``freeze`` keeps the reused layers exactly fixed
and keeps no optimizer state for them, while the new head learns.

Run:  python examples/transfer_learning.py [--shots 10] [--seed 0]
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

FEATURES = (64, 256, 32)
BATCH = 64


def load():
  """The digits embedded in jpatterns (``jpatterns.datasets.load("digits")``: its fixed
  80/20 split), flattened to 64 features in [0, 1]."""
  d = datasets.load("digits")

  def flat(x):
    return x.reshape(len(x), -1)

  return (flat(d.x_train), d.y_train), (flat(d.x_test), d.y_test)


def init_features(key):
  """Dense layers of the feature extractor (He normal weights, zero biases)."""
  keys = jax.random.split(key, len(FEATURES) - 1)
  return [
    {"w": jp.he_normal()(k, (n_in, n_out)), "b": jnp.zeros(n_out)}
    for k, n_in, n_out in zip(keys, FEATURES[:-1], FEATURES[1:])
  ]


def init_head(key, n_classes: int = 5):
  return {"w": jp.glorot_uniform()(key, (FEATURES[-1], n_classes)), "b": jnp.zeros(n_classes)}


def features(layers, x):
  for layer in layers:
    x = jp.relu(x @ layer["w"] + layer["b"])  # h = ReLU(x W + b)
  return x


def logits_fn(params, x):
  return features(params["features"], x) @ params["head"]["w"] + params["head"]["b"]


def loss_fn(params, x, y):
  return jp.softmax_cross_entropy(logits_fn(params, x), y).mean()


def make_train(opt):
  def train(params, opt_state, xs, ys):
    """Steps over the batches ``xs[i], ys[i]`` as one lax.scan."""

    def step(carry, batch):
      params, opt_state = carry
      loss, grads = jax.value_and_grad(loss_fn)(params, *batch)
      updates, opt_state = opt.update(grads, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state), loss

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (xs, ys))
    return params, opt_state, losses

  return jax.jit(train, donate_argnums=(0, 1))


@jax.jit
def accuracy(params, x, y):
  return jnp.mean(jnp.argmax(logits_fn(params, x), -1) == y)


def minibatches(rng, x, y, epochs: int):
  """``epochs`` shuffled passes, stacked as (steps, BATCH, ...)."""
  steps = len(x) // BATCH
  idx = np.concatenate([rng.permutation(len(x))[: steps * BATCH] for _ in range(epochs)])
  return x[idx].reshape(-1, BATCH, x.shape[-1]), y[idx].reshape(-1, BATCH)


def max_change(before, after):
  return max(
    float(np.max(np.abs(np.asarray(a) - b)))
    for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(before))
  )


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--pretrain-epochs", type=int, default=20)
  parser.add_argument(
    "--shots", type=int, default=10, help="labelled training images per class for the digits 5–9"
  )
  parser.add_argument("--head-steps", type=int, default=300)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)

  t0 = time.perf_counter()
  (x_tr, y_tr), (x_te, y_te) = load()
  rng = np.random.default_rng(args.seed)
  key = jax.random.key(args.seed)
  k_feat, k_head_a, k_head_b, k_random = jax.random.split(key, 4)

  # 1. Pretrain everything on the digits 0–4.
  a_tr, a_te = y_tr < 5, y_te < 5
  params = {"features": init_features(k_feat), "head": init_head(k_head_a)}
  opt = optim.adam(1e-3)
  xs, ys = minibatches(rng, x_tr[a_tr], y_tr[a_tr], args.pretrain_epochs)
  params, _, losses = make_train(opt)(params, opt.init(params), xs, ys)
  acc_a = float(accuracy(params, x_te[a_te], y_te[a_te]))
  print(
    f"pretrained on digits 0-4: final loss {float(losses[-1]):.4f}, "
    f"test accuracy on 0-4 {acc_a:.4f}"
  )

  # 2. A new head for the digits 5–9; the features are frozen.
  b_te = y_te >= 5
  x_b_te, y_b_te = x_te[b_te], y_te[b_te] - 5
  few = np.concatenate(
    [rng.permutation(np.flatnonzero(y_tr == c))[: args.shots] for c in range(5, 10)]
  )
  x_few, y_few = x_tr[few], y_tr[few] - 5
  # Full-batch steps on the few labelled images: (steps, n, ...).
  xs = np.broadcast_to(x_few, (args.head_steps, *x_few.shape))
  ys = np.broadcast_to(y_few, (args.head_steps, *y_few.shape))
  head_opt = optim.freeze({"features": True, "head": False}, inner=optim.adam(1e-2))
  train_head = make_train(head_opt)

  results, head_changes = {}, []
  for name, feats in (("pretrained", params["features"]), ("random", init_features(k_random))):
    model = {"features": feats, "head": init_head(k_head_b)}
    before = jax.tree.map(np.array, model)  # copies: the buffers are donated
    model, _, losses = train_head(model, head_opt.init(model), xs, ys)
    acc = float(accuracy(model, x_b_te, y_b_te))
    d_feat = max_change(before["features"], model["features"])
    d_head = max_change(before["head"], model["head"])
    results[name] = (acc, d_feat)
    head_changes.append(d_head)
    print(
      f"{name:>10} features, head trained on {args.shots} images/class of 5-9: "
      f"test accuracy on 5-9 {acc:.4f}; max |change| features {d_feat:.1e}, "
      f"head {d_head:.2f}"
    )

  elapsed = time.perf_counter() - t0
  acc, d_feat = results["pretrained"]
  print(
    f"transfer: {acc:.4f} on 5-9 with frozen pretrained features vs "
    f"{results['random'][0]:.4f} with frozen random ones; features unchanged: "
    f"{d_feat == 0.0} ({elapsed:.1f} s)"
  )
  return {
    "pretrained": acc,
    "random": results["random"][0],
    "feature_change": max(d_feat, results["random"][1]),
    "head_change": min(head_changes),
    "pretrain_accuracy": acc_a,
  }


if __name__ == "__main__":
  main()
