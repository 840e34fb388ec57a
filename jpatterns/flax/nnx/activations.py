"""``flax.nnx`` activation modules with state: PReLU (a parameter), RReLU (a key).

They wrap :func:`jpatterns.prelu` and :func:`jpatterns.rrelu`.
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from jpatterns import activations as _act
from jpatterns.flax.nnx import _base


class PReLU(nnx.Module):
  """Parametric ReLU with a learned slope ``negative_slope`` (:func:`jpatterns.prelu`).

  One shared slope by default (flax's ``PReLU``, same parameter name and init 0.01);
  ``num_channels=C`` learns one per channel along ``channel_axis`` (torch's
  ``num_parameters=C``).

  Args:
    negative_slope_init: initial slope.
    num_channels: None (one slope) or C (one per channel).
    channel_axis: the channel axis for per-channel slopes.
    param_dtype: parameter dtype.

  Example:
    >>> import jax.numpy as jnp
    >>> from jpatterns.flax import nnx as jnnx
    >>> print(jnnx.PReLU(0.1)(jnp.array([-2., 3.])))
    [-0.2  3. ]
  """

  def __init__(
    self,
    negative_slope_init: float = 0.01,
    *,
    num_channels: int | None = None,
    channel_axis: int = -1,
    param_dtype=jnp.float32,
  ):
    _base.check_init(self, locals())
    shape = () if num_channels is None else (num_channels,)
    self.negative_slope = nnx.Param(jnp.full(shape, negative_slope_init, param_dtype))
    self.channel_axis = channel_axis

  def __call__(self, x):
    """Returns ``x`` where ``x ≥ 0`` and ``α x`` elsewhere."""
    return _act.prelu(x, self.negative_slope[...], channel_axis=self.channel_axis)


class RReLU(_base.Stochastic):
  """Randomized leaky ReLU (:func:`jpatterns.rrelu`).

  Train: a slope ``U(lower, upper)`` per element, drawn from the ``"dropout"``
  stream (train-time noise, like dropout); eval: the mean slope.

  Args:
    lower, upper: slope range.
    deterministic: eval flag.
    rng_collection: the stream to fork.
    rngs: ``nnx.Rngs`` or None.

  Example:
    >>> import jax.numpy as jnp
    >>> from jpatterns.flax import nnx as jnnx
    >>> print(jnnx.RReLU(deterministic=True)(jnp.array([-3., 2.])).round(4))
    [-0.6875  2.    ]
  """

  def __init__(
    self,
    *,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    deterministic: bool | None = False,
    rng_collection: str = "dropout",
    rngs: nnx.Rngs | None = None,
  ):
    _base.check_init(self, locals())
    self.lower, self.upper = lower, upper
    self._init_stochastic(deterministic, rng_collection, rngs)

  def __call__(self, x, *, deterministic: bool | None = None, rngs=None):
    """Returns ``rrelu(x)`` with random (train) or mean (eval) slopes."""
    train = self._train(deterministic)
    key = self._key(rngs) if train else None
    return _act.rrelu(key, x, lower=self.lower, upper=self.upper, train=train)
