"""Learning-rate schedules against optax, steps 0..59."""

from __future__ import annotations

import jax
import numpy as np
import optax

from jpatterns import optim
from jpatterns.conformance import add

_T = np.arange(60)  # NumPy: importing this module must not start a JAX backend
_SCHEDULES = [
  (
    "exponential_decay",
    optim.exponential_decay(0.1, 0.9),
    optax.exponential_decay(0.1, 1, 0.9),
    "optax.exponential_decay",
  ),
  (
    "cosine_decay",
    optim.cosine_decay(0.1, 40, alpha=0.1),
    optax.cosine_decay_schedule(0.1, 40, alpha=0.1),
    "optax.cosine_decay_schedule",
  ),
  (
    "piecewise_constant",
    optim.piecewise_constant(0.5, {10: 0.1, 25: 0.5, 40: 0.2}),
    optax.piecewise_constant_schedule(0.5, {10: 0.1, 25: 0.5, 40: 0.2}),
    "optax.piecewise_constant_schedule",
  ),
  (
    "step_decay",
    optim.step_decay(0.1, [10, 30], factor=0.5),
    optax.piecewise_constant_schedule(0.1, {10: 0.5, 30: 0.5}),
    "optax.piecewise_constant_schedule",
  ),
  (
    "warmup",
    optim.warmup(optim.cosine_decay(0.2, 40, alpha=0.05), warmup_steps=10, init_value=0.01),
    optax.warmup_cosine_decay_schedule(0.01, 0.2, 10, 50, 0.01),
    "optax.warmup_cosine_decay_schedule",
  ),
]


def _schedule_check(ours, theirs):
  return lambda key, dtype: (jax.vmap(ours)(_T), jax.vmap(theirs)(_T))


for _name, _ours, _theirs, _ref in _SCHEDULES:
  add(_name, _ref + ", steps 0..59", "elementwise")(_schedule_check(_ours, _theirs))
