"""Losses against optax."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jpatterns import losses
from jpatterns.conformance import add
from jpatterns.conformance._inputs import integers, normal


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
