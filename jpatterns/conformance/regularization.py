"""Regularization (label smoothing) against optax."""

from __future__ import annotations

import jax
import optax

from jpatterns import regularization
from jpatterns.conformance import add
from jpatterns.conformance._inputs import integers


@add("label_smoothing", "optax.smooth_labels with α = εK/(K−1)", "elementwise")
def _label_smoothing(key, dtype):
  k, eps = 5, 0.2
  labels = integers(0, (6,), k)
  one_hot = jax.nn.one_hot(labels, k)
  return (
    regularization.label_smoothing(labels, eps=eps, num_classes=k),
    optax.smooth_labels(one_hot, eps * k / (k - 1)),
  )
