"""``flax.linen`` activation modules with state: PReLU (a parameter), RReLU (a key).

They wrap :func:`jpatterns.prelu` and :func:`jpatterns.rrelu`.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from jpatterns import activations as _act
from jpatterns.flax import _shared
from jpatterns.flax.linen import _base


@_base.checked
class PReLU(nn.Module):
  """Parametric ReLU with a learned ``negative_slope`` (:func:`jpatterns.prelu`).

  One shared slope (flax's ``PReLU``: same name, init 0.01), or one per channel along
  ``channel_axis`` with ``per_channel=True``.

  Attributes:
    negative_slope_init: initial slope.
    per_channel: one slope per channel instead of one shared.
    channel_axis: the channel axis.
    param_dtype: parameter dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> y, _ = jlinen.PReLU(0.1).init_with_output(jax.random.key(0), jnp.array([-2., 3.]))
    >>> print(y)
    [-0.2  3. ]
  """

  negative_slope_init: float = 0.01
  per_channel: bool = False
  channel_axis: int = -1
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    """Returns ``x`` where ``x ≥ 0`` and ``α x`` elsewhere."""
    x = jnp.asarray(x)
    shape = (_shared.channel_size("PReLU", x.shape, self.channel_axis),) if self.per_channel else ()
    alpha = self.param(
      "negative_slope",
      lambda key, s: jnp.full(s, self.negative_slope_init, self.param_dtype),
      shape,
    )
    return _act.prelu(x, alpha, channel_axis=self.channel_axis)


@_base.checked
class RReLU(_base.Stochastic):
  """Randomized leaky ReLU; wraps :func:`jpatterns.rrelu` (slopes from ``make_rng("dropout")``).

  Attributes:
    lower, upper: slope range.
    deterministic: eval flag (mean slope).
    rng_collection: the rng collection.

  Example:
    >>> import jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> print(jlinen.RReLU(deterministic=True).apply({}, jnp.array([-3., 2.])).round(4))
    [-0.6875  2.    ]
  """

  lower: float = 1.0 / 8
  upper: float = 1.0 / 3
  deterministic: bool | None = None
  rng_collection: str = "dropout"

  @nn.compact
  def __call__(self, x, deterministic: bool | None = None, rng=None):
    """Returns ``rrelu(x)`` with random (train) or mean (eval) slopes."""
    train = self._train(deterministic)
    key = self._key(rng) if train else None
    return _act.rrelu(key, x, lower=self.lower, upper=self.upper, train=train)
