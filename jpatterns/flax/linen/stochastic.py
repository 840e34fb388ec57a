"""``flax.linen`` dropout-family modules over :mod:`jpatterns.stochastic`.

Dropout, GaussianDropout, AlphaDropout, SpatialDropout, DropPath, DropConnectDense and
Standout; the flag and key handling is :class:`jpatterns.flax.linen._base.Stochastic`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jpatterns import initializers as _init
from jpatterns import stochastic as _stoch
from jpatterns.flax._shared import Initializer
from jpatterns.flax.linen import _base


@_base.checked
class Dropout(_base.Stochastic):
  """Dropout; wraps :func:`jpatterns.dropout` (same masks as ``flax.linen.Dropout``).

  Attributes:
    rate: drop probability.
    broadcast_dims: axes that share the mask.
    inverted: scale by 1/(1 − rate) in training (default) instead of by (1 − rate) in
      eval (seed 002's form).
    deterministic: eval flag (or pass it to the call).
    rng_collection: the rng collection of ``make_rng``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> y = jlinen.Dropout(0.5).apply({}, jnp.ones(8), deterministic=False,
    ...                               rngs={"dropout": jax.random.key(0)})
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
  """

  rate: float
  broadcast_dims: Sequence[int] = ()
  inverted: bool = True
  deterministic: bool | None = None
  rng_collection: str = "dropout"

  @nn.compact
  def __call__(self, x, deterministic: bool | None = None, rng=None):
    """Drops units in train mode.

    Args:
      x: input.
      deterministic: eval flag for this call (merged with the attribute).
      rng: optional key instead of ``make_rng(rng_collection)``.

    Returns:
      An array of the shape and dtype of ``x``.
    """
    train = self._train(deterministic)
    key = self._key(rng) if train and self.rate != 0 else None
    return _stoch.dropout(
      key,
      x,
      rate=self.rate,
      inverted=self.inverted,
      broadcast_dims=tuple(self.broadcast_dims),
      train=train,
    )


class _RateNoise(_base.Stochastic):
  """A module around one pure ``f(key, x, *, rate, train)``, given by ``_pattern``."""

  rate: float
  deterministic: bool | None = None
  rng_collection: str = "dropout"

  @nn.compact
  def __call__(self, x, deterministic: bool | None = None, rng=None):
    """Returns the pattern applied to ``x`` in train mode, ``x`` in eval mode."""
    train = self._train(deterministic)
    key = self._key(rng) if train and self.rate != 0 else None
    return self._pattern(key, x, rate=self.rate, train=train)


@_base.checked
class GaussianDropout(_RateNoise):
  """Multiplicative N(1, rate/(1 − rate)) noise in training (:func:`jpatterns.gaussian_dropout`).

  Attributes:
    rate: drop rate of the matched Bernoulli dropout.
    deterministic: eval flag.
    rng_collection: the rng collection.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> gd = jlinen.GaussianDropout(0.5, deterministic=True)
    >>> gd.apply({}, jnp.ones(2))
    Array([1., 1.], dtype=float32)
  """

  def _pattern(self, key, x, *, rate, train):
    return _stoch.gaussian_dropout(key, x, rate=rate, train=train)


@_base.checked
class AlphaDropout(_RateNoise):
  """Alpha dropout for SELU networks (:func:`jpatterns.alpha_dropout`).

  Attributes:
    rate: drop probability.
    deterministic: eval flag.
    rng_collection: the rng collection.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> x = jax.random.normal(jax.random.key(1), (100_000,))
    >>> y = jlinen.AlphaDropout(0.2).apply({}, x, False, rngs={"dropout": jax.random.key(0)})
    >>> print(f"{float(y.mean()):.1f} {float(y.std()):.1f}")
    0.0 1.0
  """

  def _pattern(self, key, x, *, rate, train):
    return _stoch.alpha_dropout(key, x, rate=rate, train=train)


@_base.checked
class SpatialDropout(_base.Stochastic):
  """Drops whole channels (:func:`jpatterns.spatial_dropout`).

  ``batch_axis`` defaults to 0 for the module (one mask per example and channel).

  Attributes:
    rate: probability of dropping a channel.
    channel_axis: the channel axis.
    batch_axis: axis with independent masks (None shares the mask).
    deterministic: eval flag.
    rng_collection: the rng collection.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> y = jlinen.SpatialDropout(0.5).apply({}, jnp.ones((2, 4, 4, 8)), False,
    ...                                      rngs={"dropout": jax.random.key(0)})
    >>> bool(jnp.all(y == y[:, :1, :1]))
    True
  """

  rate: float
  channel_axis: int = -1
  batch_axis: int | None = 0
  deterministic: bool | None = None
  rng_collection: str = "dropout"

  @nn.compact
  def __call__(self, x, deterministic: bool | None = None, rng=None):
    """Returns ``x`` with dropped channels (train) or ``x`` (eval)."""
    train = self._train(deterministic)
    key = self._key(rng) if train and self.rate != 0 else None
    return _stoch.spatial_dropout(
      key,
      x,
      rate=self.rate,
      channel_axis=self.channel_axis,
      batch_axis=self.batch_axis,
      train=train,
    )


@_base.checked
class DropPath(_RateNoise):
  """Stochastic depth: drops a residual branch per example (:func:`jpatterns.drop_path`).

  Attributes:
    rate: probability of dropping the branch for an example (batch on axis 0).
    deterministic: eval flag.
    rng_collection: the rng collection.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> y = jlinen.DropPath(0.5).apply({}, jnp.ones((6, 3)), False,
    ...                                rngs={"dropout": jax.random.key(0)})
    >>> bool(jnp.all((y == 0) | (y == 2)) and jnp.all(y == y[:, :1]))
    True
  """

  def _pattern(self, key, x, *, rate, train):
    return _stoch.drop_path(key, x, rate=rate, train=train)


@_base.checked
class DropConnectDense(_base.Stochastic):
  """Dense layer with DropConnect; wraps :func:`jpatterns.dropconnect` / ``dropconnect_inference``.

  Train: one Bernoulli mask on kernel and bias per call. Eval: the expectation,
  exactly ``x W + b`` for the identity activation, Gaussian moment matching (a key
  from ``make_rng``) for a nonlinear one.

  Attributes:
    features: output size.
    rate: drop probability of each weight.
    use_bias: learn a bias.
    activation: ``f`` or None.
    num_samples: samples of the eval-time moment matching.
    deterministic: eval flag.
    kernel_init, bias_init: initializers.
    param_dtype: parameter dtype.
    rng_collection: the rng collection.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> layer = jlinen.DropConnectDense(2, rate=0.5, deterministic=True)
    >>> y, v = layer.init_with_output(jax.random.key(0), jnp.eye(3))
    >>> bool(jnp.allclose(y, v["params"]["kernel"]))
    True
  """

  features: int
  rate: float = 0.5
  use_bias: bool = True
  activation: Callable | None = None
  num_samples: int = 256
  deterministic: bool | None = None
  kernel_init: Initializer = _init.lecun_normal()
  bias_init: Initializer = _init.zeros()
  param_dtype: Any = jnp.float32
  rng_collection: str = "dropout"

  @nn.compact
  def __call__(self, x, deterministic: bool | None = None, rng=None):
    """Returns ``f(x (W ⊙ M)/q + b ⊙ m/q)`` (train) or its expectation (eval)."""
    train = self._train(deterministic)
    x = jnp.asarray(x)
    w = self.param("kernel", self.kernel_init, (x.shape[-1], self.features), self.param_dtype)
    b = _base.optional_param(self, self.use_bias, "bias", self.bias_init, (self.features,))
    if train:
      return _stoch.dropconnect(
        self._key(rng), x, w, rate=self.rate, bias=b, activation=self.activation
      )
    key = None if self.activation is None else self._key(rng)
    return _stoch.dropconnect_inference(
      key, x, w, rate=self.rate, bias=b, activation=self.activation, num_samples=self.num_samples
    )


@_base.checked
class Standout(_base.Stochastic):
  """Standout (adaptive dropout) dense layer (:func:`jpatterns.standout`).

  Parameters ``kernel``, ``bias``, ``gate_kernel``, ``gate_bias``; keep probability
  ``π = gate(x W_s + b_s)``; train ``f(xW + b) ⊙ m, m ~ Bernoulli(π)``; eval
  ``f(xW + b) ⊙ π``.

  Attributes:
    features: output size.
    use_bias: learn ``bias`` and ``gate_bias``.
    activation: ``f`` or None.
    gate: ``g`` into [0, 1].
    deterministic: eval flag.
    kernel_init, bias_init: initializers.
    param_dtype: parameter dtype.
    rng_collection: the rng collection.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> layer = jlinen.Standout(2, deterministic=True)
    >>> y, v = layer.init_with_output(jax.random.key(0), jnp.eye(3))
    >>> p = v["params"]
    >>> bool(jnp.allclose(y, p["kernel"] * jax.nn.sigmoid(p["gate_kernel"])))
    True
  """

  features: int
  use_bias: bool = True
  activation: Callable | None = None
  gate: Callable = jax.nn.sigmoid
  deterministic: bool | None = None
  kernel_init: Initializer = _init.lecun_normal()
  bias_init: Initializer = _init.zeros()
  param_dtype: Any = jnp.float32
  rng_collection: str = "dropout"

  @nn.compact
  def __call__(self, x, deterministic: bool | None = None, rng=None):
    """Returns the masked (train) or π-weighted (eval) activations."""
    train = self._train(deterministic)
    x = jnp.asarray(x)
    shape = (x.shape[-1], self.features)
    w = self.param("kernel", self.kernel_init, shape, self.param_dtype)
    b = _base.optional_param(self, self.use_bias, "bias", self.bias_init, (self.features,))
    ws = self.param("gate_kernel", self.kernel_init, shape, self.param_dtype)
    bs = _base.optional_param(self, self.use_bias, "gate_bias", self.bias_init, (self.features,))
    key = self._key(rng) if train else None
    return _stoch.standout(
      key, x, w, ws, bias=b, gate_bias=bs, activation=self.activation, gate=self.gate, train=train
    )
