"""Losses against optax."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jpatterns import losses
from jpatterns.conformance import add
from jpatterns.conformance._inputs import integers, normal, on_torch


@add("softmax_cross_entropy", "optax.softmax_cross_entropy (+ integer labels)", "elementwise")
def _softmax_ce(key, dtype):
  z, y = normal(0, (8, 5), scale=2.0), integers(1, (8,), 5)
  p = jax.nn.softmax(normal(2, (8, 5)))
  return (
    [losses.softmax_cross_entropy(z, y), losses.softmax_cross_entropy(z, p)],
    [optax.softmax_cross_entropy_with_integer_labels(z, y), optax.softmax_cross_entropy(z, p)],
  )


@add("sigmoid_binary_cross_entropy", "optax.sigmoid_binary_cross_entropy", "elementwise")
def _sigmoid_bce(key, dtype):
  z = normal(0, (8, 3), scale=4.0)
  y = jnp.asarray(np.random.default_rng(1).uniform(size=(8, 3)), jnp.float32)
  return losses.sigmoid_binary_cross_entropy(z, y), optax.sigmoid_binary_cross_entropy(z, y)


@add("huber", "optax.huber_loss(delta=0.5)", "elementwise")
def _huber(key, dtype):
  p, t = normal(0, (16,), scale=2.0), normal(1, (16,))
  return losses.huber(p, t, delta=0.5), optax.huber_loss(p, t, delta=0.5)


@add(
  "gan_discriminator_loss",
  "optax.sigmoid_binary_cross_entropy: real vs 0.9 (one-sided) and 1, fake vs 0",
  "elementwise",
)
def _gan_d(key, dtype):
  real, fake = normal(60, (16,), scale=3.0), normal(61, (16,), scale=3.0)

  def bce(z, y):
    return optax.sigmoid_binary_cross_entropy(z, jnp.full_like(z, y))

  return (
    [losses.gan_discriminator_loss(real, fake, real_label=r) for r in (0.9, 1.0)],
    [bce(real, r) + bce(fake, 0.0) for r in (0.9, 1.0)],
  )


@add(
  "gan_generator_loss",
  "optax.sigmoid_binary_cross_entropy: fake vs 1 (non-saturating), minus fake vs 0",
  "elementwise",
)
def _gan_g(key, dtype):
  fake = normal(62, (16,), scale=3.0)
  ones, zeros = jnp.ones_like(fake), jnp.zeros_like(fake)
  return (
    [losses.gan_generator_loss(fake), losses.gan_generator_loss(fake, saturating=True)],
    [
      optax.sigmoid_binary_cross_entropy(fake, ones),
      -optax.sigmoid_binary_cross_entropy(fake, zeros),
    ],
  )


@add(
  "gan_discriminator_loss",
  "torch BCEWithLogitsLoss (real target 0.9, fake 0; generator: fake target 1)",
  "torch",
  torch=True,
)
def _gan_torch(key, dtype):
  real, fake = normal(63, (16,), scale=3.0), normal(64, (16,), scale=3.0)

  def ref(real, fake):
    import torch  # noqa: PLC0415

    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    r, f = torch.tensor(real), torch.tensor(fake)
    d = bce(r, torch.full_like(r, 0.9)) + bce(f, torch.zeros_like(f))
    return d.numpy(), bce(f, torch.ones_like(f)).numpy()

  ours = (
    losses.gan_discriminator_loss(real, fake, real_label=0.9),
    losses.gan_generator_loss(fake),
  )
  return ours, on_torch(ref, real, fake, like=ours)
