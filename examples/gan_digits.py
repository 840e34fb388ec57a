"""A GAN that draws 8×8 digits, built from jpatterns patterns (seed 000 GANs).

Seed 000 names generative adversarial networks among its special patterns. Here a
generator G and a discriminator D are trained against each other on the embedded
digits (the 1438 training images, pixels scaled to [−1, 1]), with the usual recipe of
DCGAN (Radford et al., 2016) and Salimans et al. (2016), every piece a jpatterns one:

* G: z ~ N(0, I₁₆) → dense 128 → ``batch_norm`` → ``leaky_relu`` (0.2) → dense 128 →
  ``batch_norm`` → ``leaky_relu`` → dense 64 → ``tanh``;
* D: 64 → dense 128 → ``leaky_relu`` (0.2) → dense 128 → ``leaky_relu`` → dense 1, every
  kernel under ``spectral_norm`` (one power-iteration step a call, ``u`` carried as
  state), which keeps D Lipschitz and the game stable without batch norm in D;
* losses ``gan_discriminator_loss`` with one-sided label smoothing (real target 0.9,
  fake target 0) and the non-saturating ``gan_generator_loss`` (−log D(G(z)));
* ``jpatterns.optim.adam`` for both, learning rate 3e-4 and β₁ = 0.5 (DCGAN's β₁:
  with 0.9 the momentum chases the other player's moving target);
* one D step then one G step per minibatch of 64, an epoch a compiled ``lax.scan``
  (22 steps, 0.02 s once compiled).

Quality is measured with an independent judge, a digits classifier (the library's
``cnn`` model, ``jpatterns.train``, 10 epochs on the real training images, 0.98 test
accuracy): on 1000 samples it reports the mean top-class probability (confidence),
the share of samples it classifies with probability ≥ 0.9, how many of the 10 classes
the samples cover (classes holding at least 2% of the predictions) and exp(entropy)
of the predicted-class histogram (10 when uniform). The same numbers for uniform
noise and for the real test images bracket them. A 10×10 grid of samples is written
as a PNG.

Run:  python examples/gan_digits.py [--epochs 500] [--out runs/gan_digits] [--seed 0]
With the defaults (seed 0; 43 s on 2 shared CPU cores, of which 20 s the GAN with its
compilation, 15 s the judge):

  | images            | confidence | share ≥ 0.9 | classes ≥ 2% | exp(entropy) |
  | noise U(0, 1)     | 0.62       | 0.11        | 9            | 7.4          |
  | GAN samples       | 0.91       | 0.73        | 10           | 9.9          |
  | real test digits  | 0.98       | 0.96        | 10           | 9.9          |

The judge recognizes the samples almost as confidently as real digits, and they
cover every class evenly (no mode collapse); noise it mostly cannot place (coverage
alone says little: noise spreads over classes too, with low confidence). After 100
epochs the samples score 0.85 / 0.56 / 10 / 9.6.
"""

from __future__ import annotations

import argparse
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jpatterns as jp
from jpatterns import datasets, optim, train

Z_DIM, HIDDEN, BATCH = 16, 128, 64
REAL_LABEL = 0.9  # one-sided label smoothing: the fake target stays 0
SLOPE = 0.2  # leaky ReLU's negative slope (DCGAN)


def _dense_init(key, n_in, n_out):
  return {"w": jp.glorot_uniform()(key, (n_in, n_out)), "b": jnp.zeros(n_out)}


def init_generator(key):
  k = jax.random.split(key, 3)
  params = {
    "l0": _dense_init(k[0], Z_DIM, HIDDEN),
    "l1": _dense_init(k[1], HIDDEN, HIDDEN),
    "out": _dense_init(k[2], HIDDEN, 64),
  }
  for name in ("bn0", "bn1"):
    params[name] = {"scale": jnp.ones(HIDDEN), "bias": jnp.zeros(HIDDEN)}
  stats = {name: jp.init_batch_norm_stats((HIDDEN,)) for name in ("bn0", "bn1")}
  return params, stats


def generator(params, stats, z, *, train):
  """z (N, 16) -> images (N, 64) in [−1, 1], and the new batch-norm statistics."""
  h, new = z, {}
  for i in range(2):
    h = h @ params[f"l{i}"]["w"] + params[f"l{i}"]["b"]
    bn = params[f"bn{i}"]
    h, new[f"bn{i}"] = jp.batch_norm(
      h, stats[f"bn{i}"], scale=bn["scale"], bias=bn["bias"], train=train, momentum=0.9
    )
    h = jp.leaky_relu(h, negative_slope=SLOPE)
  return jp.tanh(h @ params["out"]["w"] + params["out"]["b"]), new


def init_discriminator(key):
  k = jax.random.split(key, 6)
  sizes = {"l0": (64, HIDDEN), "l1": (HIDDEN, HIDDEN), "out": (HIDDEN, 1)}
  params = {name: _dense_init(k[i], *s) for i, (name, s) in enumerate(sizes.items())}
  u = {name: jax.random.normal(k[3 + i], (s[1],)) for i, (name, s) in enumerate(sizes.items())}
  return params, u


def discriminator(params, u, x):
  """x (N, 64) -> logits (N,), and the carried power-iteration vectors."""
  h, new_u = x, {}
  for name in ("l0", "l1", "out"):
    w, new_u[name] = jp.spectral_norm(params[name]["w"], u[name])  # W / σ(W)
    h = h @ w + params[name]["b"]
    if name != "out":
      h = jp.leaky_relu(h, negative_slope=SLOPE)
  return h[:, 0], new_u


def make_epoch(opt):
  def epoch(carry, real_batches, key):
    def step(carry, real):
      g, g_stats, d, d_u, g_opt, d_opt, key = carry
      key, k_d, k_g = jax.random.split(key, 3)

      def d_loss(d):  # the discriminator step: real vs G's current samples
        fake, _ = generator(g, g_stats, jax.random.normal(k_d, (BATCH, Z_DIM)), train=True)
        logits, u = discriminator(d, d_u, jnp.concatenate([real, jax.lax.stop_gradient(fake)]))
        loss = jp.gan_discriminator_loss(logits[:BATCH], logits[BATCH:], real_label=REAL_LABEL)
        return loss.mean(), u

      (ld, d_u), grads = jax.value_and_grad(d_loss, has_aux=True)(d)
      updates, d_opt = opt.update(grads, d_opt, d)
      d = optax.apply_updates(d, updates)

      def g_loss(g):  # the generator step: fool the updated D
        fake, stats = generator(g, g_stats, jax.random.normal(k_g, (BATCH, Z_DIM)), train=True)
        logits, _ = discriminator(d, d_u, fake)
        return jp.gan_generator_loss(logits).mean(), stats

      (lg, g_stats), grads = jax.value_and_grad(g_loss, has_aux=True)(g)
      updates, g_opt = opt.update(grads, g_opt, g)
      g = optax.apply_updates(g, updates)
      return (g, g_stats, d, d_u, g_opt, d_opt, key), jnp.stack([ld, lg])

    carry, losses = jax.lax.scan(step, (*carry, key), real_batches)
    return carry[:-1], losses.mean(0)

  return jax.jit(epoch, donate_argnums=(0,))


def judge(data, seed):
  """A digits classifier trained by jpatterns.train on the real images: predict(x01)."""
  history = train.fit(train.TrainConfig(model="cnn", epochs=10, seed=seed), data=data, devices=1)
  params = jax.tree.map(lambda a: a[0], history.params)
  state = jax.tree.map(lambda a: a[0], history.state)
  apply = jax.jit(lambda x: history.model.apply(params, state, x, jax.random.key(0), False)[0])
  accuracy = float(history.final["test_accuracy"][0])
  return lambda x: np.asarray(jax.nn.softmax(apply(jnp.asarray(x).reshape(-1, 8, 8, 1)))), accuracy


def quality(probs):
  """Mean top-class probability, share above 0.9, classes holding ≥ 2% of the
  predictions, exp(entropy) of the predicted-class histogram."""
  counts = np.bincount(probs.argmax(1), minlength=10) / len(probs)
  nonzero = counts[counts > 0]
  return {
    "confidence": float(probs.max(1).mean()),
    "confident": float(np.mean(probs.max(1) >= 0.9)),
    "classes": int(np.sum(counts >= 0.02)),
    "effective_classes": float(np.exp(-np.sum(nonzero * np.log(nonzero)))),
  }


def save_grid(images01, path):
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  n = int(np.sqrt(len(images01)))
  cells = np.zeros((n, n, 10, 10))  # each 8×8 digit with a one-pixel blank margin
  cells[:, :, 1:9, 1:9] = images01[: n * n].reshape(n, n, 8, 8)
  grid = cells.transpose(0, 2, 1, 3).reshape(10 * n, 10 * n)
  fig, ax = plt.subplots(figsize=(5, 5))
  ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
  ax.set_axis_off()
  ax.set_title("GAN samples (jpatterns, seed 000 GANs)", fontsize=8)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=110, bbox_inches="tight")
  plt.close(fig)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--epochs", type=int, default=500)
  parser.add_argument("--lr", type=float, default=3e-4)
  parser.add_argument("--samples", type=int, default=1000)
  parser.add_argument("--out", default=os.path.join("runs", "gan_digits"))
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)
  t0 = time.perf_counter()
  timing = {}

  data = datasets.load("digits")
  real = data.x_train.reshape(len(data.x_train), 64) * 2 - 1  # [0, 1] -> [−1, 1]
  key = jax.random.key(args.seed)
  k_g, k_d, key = jax.random.split(key, 3)
  g, g_stats = jax.jit(init_generator)(k_g)  # one program, not op by op
  d, d_u = jax.jit(init_discriminator)(k_d)
  opt = optim.adam(args.lr, b1=0.5)
  carry = (g, g_stats, d, d_u, opt.init(g), opt.init(d))
  epoch = make_epoch(opt)
  rng = np.random.default_rng(args.seed)
  steps = len(real) // BATCH
  for e in range(args.epochs):
    batches = real[rng.permutation(len(real))[: steps * BATCH]].reshape(steps, BATCH, 64)
    carry, (ld, lg) = epoch(carry, jnp.asarray(batches), jax.random.fold_in(key, e))
    if (e + 1) % max(1, args.epochs // 6) == 0 or e + 1 == args.epochs:
      print(f"epoch {e + 1:3d}  D loss {float(ld):.3f}  G loss {float(lg):.3f}")
  timing["gan"] = time.perf_counter() - t0
  g, g_stats = carry[0], carry[1]

  z = jax.random.normal(jax.random.fold_in(key, 10**6), (args.samples, Z_DIM))
  samples = (np.asarray(generator(g, g_stats, z, train=False)[0]) + 1) / 2  # back to [0, 1]
  t1 = time.perf_counter()
  predict, accuracy = judge(data, args.seed)
  timing["judge"] = time.perf_counter() - t1
  noise = np.random.default_rng(args.seed + 1).uniform(0, 1, (args.samples, 64))
  results = {
    "noise U(0, 1)": quality(predict(noise)),
    "GAN samples": quality(predict(samples)),
    "real test digits": quality(predict(data.x_test)),
  }
  path = os.path.join(args.out, "gan_digits.png")
  save_grid(samples[:100], path)
  print(f"judge: the cnn digits classifier of jpatterns.train, test accuracy {accuracy:.3f}")
  print("| images | confidence | share ≥ 0.9 | classes ≥ 2% | exp(entropy) |")
  print("|---|---|---|---|---|")
  for name, q in results.items():
    print(
      f"| {name} | {q['confidence']:.2f} | {q['confident']:.2f} | {q['classes']} | "
      f"{q['effective_classes']:.1f} |"
    )
  print(
    f"wrote {path} (GAN {timing['gan']:.1f} s with compilation, judge {timing['judge']:.1f} s, "
    f"{time.perf_counter() - t0:.1f} s in all)"
  )
  return {
    "quality": results,
    "judge_accuracy": accuracy,
    "png": path,
    "samples": samples,
    "seconds": timing,
  }


if __name__ == "__main__":
  main()
