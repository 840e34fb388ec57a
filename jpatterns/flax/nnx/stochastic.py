"""``flax.nnx`` dropout-family modules over :mod:`jpatterns.stochastic`.

Dropout, GaussianDropout, AlphaDropout, SpatialDropout, DropPath, DropConnectDense and
Standout; the flag and key handling is :class:`jpatterns.flax.nnx._base.Stochastic`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from jpatterns import initializers as _init
from jpatterns import stochastic as _stoch
from jpatterns.flax._shared import Initializer
from jpatterns.flax.nnx import _base


class Dropout(_base.Stochastic):
  """Dropout; wraps :func:`jpatterns.dropout` (same masks as ``flax.nnx.Dropout``).

  Args:
    rate: drop probability.
    broadcast_dims: axes that share the mask.
    inverted: scale kept units by 1/(1 − rate) in training (default) instead of
      scaling by (1 − rate) in eval (seed 002's form).
    deterministic: eval flag (``model.eval()`` sets it True).
    rng_collection: the ``nnx.Rngs`` stream to fork.
    rngs: ``nnx.Rngs`` (or a stream), or None to pass keys at call time.

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jpatterns.flax import nnx as jnnx
    >>> drop = jnnx.Dropout(0.5, rngs=nnx.Rngs(dropout=0))
    >>> sorted(set(drop(jnp.ones(8)).tolist()))
    [0.0, 2.0]
    >>> drop.eval(); drop(jnp.ones(2))
    Array([1., 1.], dtype=float32)
  """

  def __init__(
    self,
    rate: float,
    *,
    broadcast_dims: Sequence[int] = (),
    inverted: bool = True,
    deterministic: bool | None = False,
    rng_collection: str = "dropout",
    rngs: nnx.Rngs | None = None,
  ):
    _base.check_init(self, locals())
    self.rate = rate
    self.broadcast_dims = tuple(broadcast_dims)
    self.inverted = inverted
    self._init_stochastic(deterministic, rng_collection, rngs)

  def __call__(self, x, *, deterministic: bool | None = None, rngs=None):
    """Drops units in train mode.

    Args:
      x: input.
      deterministic: overrides the attribute for this call.
      rngs: a key, ``nnx.RngStream`` or ``nnx.Rngs`` overriding the module's stream.

    Returns:
      An array of the shape and dtype of ``x``.
    """
    train = self._train(deterministic)
    key = self._key(rngs) if train and self.rate != 0 else None
    return _stoch.dropout(
      key,
      x,
      rate=self.rate,
      inverted=self.inverted,
      broadcast_dims=self.broadcast_dims,
      train=train,
    )


class _RateNoise(_base.Stochastic):
  """A module around one pure ``f(key, x, *, rate, train)``, given by ``_pattern``."""

  def __init__(
    self,
    rate: float,
    *,
    deterministic: bool | None = False,
    rng_collection: str = "dropout",
    rngs: nnx.Rngs | None = None,
  ):
    _base.check_init(self, locals())
    self.rate = rate
    self._init_stochastic(deterministic, rng_collection, rngs)

  def __call__(self, x, *, deterministic: bool | None = None, rngs=None):
    """Returns the pattern applied to ``x`` in train mode, ``x`` in eval mode."""
    train = self._train(deterministic)
    key = self._key(rngs) if train and self.rate != 0 else None
    return self._pattern(key, x, rate=self.rate, train=train)


class GaussianDropout(_RateNoise):
  """Multiplicative N(1, rate/(1 − rate)) noise in training (:func:`jpatterns.gaussian_dropout`).

  Args:
    rate: drop rate of the matched Bernoulli dropout.
    deterministic: eval flag.
    rng_collection: the stream to fork.
    rngs: ``nnx.Rngs`` or None.

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jpatterns.flax import nnx as jnnx
    >>> gd = jnnx.GaussianDropout(0.5, rngs=nnx.Rngs(0))
    >>> print(round(float(gd(jnp.ones(100_000)).var()), 1))
    1.0
  """

  def _pattern(self, key, x, *, rate, train):
    return _stoch.gaussian_dropout(key, x, rate=rate, train=train)


class AlphaDropout(_RateNoise):
  """Alpha dropout for SELU networks (:func:`jpatterns.alpha_dropout`).

  Args:
    rate: drop probability.
    deterministic: eval flag.
    rng_collection: the stream to fork.
    rngs: ``nnx.Rngs`` or None.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from jpatterns.flax import nnx as jnnx
    >>> ad = jnnx.AlphaDropout(0.2, rngs=nnx.Rngs(0))
    >>> y = ad(jax.random.normal(jax.random.key(1), (100_000,)))
    >>> print(f"{float(y.mean()):.1f} {float(y.std()):.1f}")
    0.0 1.0
  """

  def _pattern(self, key, x, *, rate, train):
    return _stoch.alpha_dropout(key, x, rate=rate, train=train)


class SpatialDropout(_base.Stochastic):
  """Drops whole channels (:func:`jpatterns.spatial_dropout`).

  The module's ``batch_axis`` defaults to 0 (one mask per example and channel, as
  Keras ``SpatialDropout2D``), where the pure function's default shares it.

  Args:
    rate: probability of dropping a channel.
    channel_axis: the channel axis.
    batch_axis: axis with independent masks (None shares the mask across it).
    deterministic: eval flag.
    rng_collection: the stream to fork.
    rngs: ``nnx.Rngs`` or None.

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jpatterns.flax import nnx as jnnx
    >>> y = jnnx.SpatialDropout(0.5, rngs=nnx.Rngs(0))(jnp.ones((2, 4, 4, 8)))
    >>> bool(jnp.all(y == y[:, :1, :1]))
    True
  """

  def __init__(
    self,
    rate: float,
    *,
    channel_axis: int = -1,
    batch_axis: int | None = 0,
    deterministic: bool | None = False,
    rng_collection: str = "dropout",
    rngs: nnx.Rngs | None = None,
  ):
    _base.check_init(self, locals())
    self.rate = rate
    self.channel_axis = channel_axis
    self.batch_axis = batch_axis
    self._init_stochastic(deterministic, rng_collection, rngs)

  def __call__(self, x, *, deterministic: bool | None = None, rngs=None):
    """Returns ``x`` with dropped channels (train) or ``x`` (eval)."""
    train = self._train(deterministic)
    key = self._key(rngs) if train and self.rate != 0 else None
    return _stoch.spatial_dropout(
      key,
      x,
      rate=self.rate,
      channel_axis=self.channel_axis,
      batch_axis=self.batch_axis,
      train=train,
    )


class DropPath(_RateNoise):
  """Stochastic depth: drops a residual branch per example (:func:`jpatterns.drop_path`).

  Apply to the branch before the addition: ``x + drop_path(branch(x))``.

  Args:
    rate: probability of dropping the branch for an example (batch on axis 0).
    deterministic: eval flag.
    rng_collection: the stream to fork.
    rngs: ``nnx.Rngs`` or None.

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jpatterns.flax import nnx as jnnx
    >>> y = jnnx.DropPath(0.5, rngs=nnx.Rngs(0))(jnp.ones((6, 3)))
    >>> bool(jnp.all((y == 0) | (y == 2)) and jnp.all(y == y[:, :1]))
    True
  """

  def _pattern(self, key, x, *, rate, train):
    return _stoch.drop_path(key, x, rate=rate, train=train)


class DropConnectDense(_base.Stochastic):
  """Dense layer with DropConnect; wraps :func:`jpatterns.dropconnect` / ``dropconnect_inference``.

  Train: one Bernoulli mask on kernel and bias per call (shared by the batch; see
  :func:`jpatterns.dropconnect`). Eval: the expectation — exactly ``f(x W + b)``
  for the identity activation; with a nonlinear ``activation``, Wan et al.'s Gaussian
  moment matching with ``num_samples`` draws (a key from the module's stream).

  Args:
    in_features, out_features: kernel shape.
    rate: drop probability of each weight.
    use_bias: learn a bias.
    activation: ``f`` or None (identity).
    num_samples: samples of the eval-time moment matching (nonlinear ``f`` only).
    deterministic: eval flag.
    kernel_init, bias_init: initializers.
    param_dtype: parameter dtype.
    rng_collection: the stream to fork.
    rngs: ``nnx.Rngs`` (parameters and masks).

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jpatterns.flax import nnx as jnnx
    >>> layer = jnnx.DropConnectDense(3, 2, rate=0.5, rngs=nnx.Rngs(0))
    >>> layer.eval()
    >>> bool(jnp.allclose(layer(jnp.eye(3)), layer.kernel[...] + layer.bias[...]))
    True
  """

  def __init__(
    self,
    in_features: int,
    out_features: int,
    *,
    rate: float,
    use_bias: bool = True,
    activation: Callable | None = None,
    num_samples: int = 256,
    deterministic: bool | None = False,
    kernel_init: Initializer = _init.lecun_normal(),
    bias_init: Initializer = _init.zeros(),
    param_dtype=jnp.float32,
    rng_collection: str = "dropout",
    rngs: nnx.Rngs,
  ):
    _base.check_init(self, locals())
    self.kernel = nnx.Param(kernel_init(rngs.params(), (in_features, out_features), param_dtype))
    self.bias = _base.optional_param(
      use_bias, bias_init, rngs.params(), (out_features,), param_dtype
    )
    self.rate = rate
    self.activation = activation
    self.num_samples = num_samples
    self._init_stochastic(deterministic, rng_collection, rngs)

  def __call__(self, x, *, deterministic: bool | None = None, rngs=None):
    """Returns ``f(x (W ⊙ M)/q + b ⊙ m/q)`` (train) or its expectation (eval)."""
    train = self._train(deterministic)
    w, b = self.kernel[...], _base.value(self.bias)
    if train:
      return _stoch.dropconnect(
        self._key(rngs), x, w, rate=self.rate, bias=b, activation=self.activation
      )
    key = None if self.activation is None else self._key(rngs)
    return _stoch.dropconnect_inference(
      key, x, w, rate=self.rate, bias=b, activation=self.activation, num_samples=self.num_samples
    )


class Standout(_base.Stochastic):
  """Standout (adaptive dropout) dense layer (:func:`jpatterns.standout`).

  Parameters ``kernel``, ``bias`` (main map) and ``gate_kernel``, ``gate_bias`` (the
  overlay map giving each unit's keep probability ``π = gate(x W_s + b_s)``). Train:
  ``f(xW + b) ⊙ m, m ~ Bernoulli(π)``; eval: ``f(xW + b) ⊙ π``.

  Args:
    in_features, out_features: kernel shapes.
    use_bias: learn ``bias`` and ``gate_bias``.
    activation: ``f`` or None (identity).
    gate: ``g`` into [0, 1] (sigmoid).
    deterministic: eval flag.
    kernel_init, bias_init: initializers (both kernels use ``kernel_init``).
    param_dtype: parameter dtype.
    rng_collection: the stream to fork.
    rngs: ``nnx.Rngs`` (parameters and masks).

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> from jpatterns.flax import nnx as jnnx
    >>> layer = jnnx.Standout(3, 2, rngs=nnx.Rngs(0))
    >>> x = jnp.eye(3)
    >>> pi = jax.nn.sigmoid(layer.gate_kernel[...])
    >>> bool(jnp.allclose(layer(x, deterministic=True), layer.kernel[...] * pi))
    True
  """

  def __init__(
    self,
    in_features: int,
    out_features: int,
    *,
    use_bias: bool = True,
    activation: Callable | None = None,
    gate: Callable = jax.nn.sigmoid,
    deterministic: bool | None = False,
    kernel_init: Initializer = _init.lecun_normal(),
    bias_init: Initializer = _init.zeros(),
    param_dtype=jnp.float32,
    rng_collection: str = "dropout",
    rngs: nnx.Rngs,
  ):
    _base.check_init(self, locals())
    shape = (in_features, out_features)
    self.kernel = nnx.Param(kernel_init(rngs.params(), shape, param_dtype))
    self.bias = _base.optional_param(
      use_bias, bias_init, rngs.params(), (out_features,), param_dtype
    )
    self.gate_kernel = nnx.Param(kernel_init(rngs.params(), shape, param_dtype))
    self.gate_bias = _base.optional_param(
      use_bias, bias_init, rngs.params(), (out_features,), param_dtype
    )
    self.activation = activation
    self.gate = gate
    self._init_stochastic(deterministic, rng_collection, rngs)

  def __call__(self, x, *, deterministic: bool | None = None, rngs=None):
    """Returns the masked (train) or π-weighted (eval) activations."""
    train = self._train(deterministic)
    key = self._key(rngs) if train else None
    return _stoch.standout(
      key,
      x,
      self.kernel[...],
      self.gate_kernel[...],
      bias=_base.value(self.bias),
      gate_bias=_base.value(self.gate_bias),
      activation=self.activation,
      gate=self.gate,
      train=train,
    )
