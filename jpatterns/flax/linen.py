"""``flax.linen`` modules over the jpatterns pure functions (issue 4 item 6).

The twins of :mod:`jpatterns.flax.nnx`, same class names, same parameter and
statistic names (``scale``, ``bias``, ``mean``, ``var``, ``kernel``, ``u``, …), so
variables copy across both ways and both APIs give the same numbers (tested). Every
formula lives in the pure functions (:mod:`jpatterns.normalization`,
:mod:`jpatterns.stochastic`, :mod:`jpatterns.activations`, :mod:`jpatterns.layers`); a
module only declares its variables and calls one of them.

Flax conventions: shapes are inferred from the first input; ``deterministic`` /
``use_running_average`` / ``update_stats`` are attributes or call arguments merged with
``nn.merge_param`` (give exactly one); running statistics and the spectral-norm vector
live in the ``"batch_stats"`` collection (``apply(..., mutable=["batch_stats"])``) and
are not updated during ``init``; random modules draw ``self.make_rng("dropout")`` (same
masks as ``flax.linen.Dropout`` for the same ``rngs``; tested).

House departures from Flax, as in the nnx module: ``feature_axis`` for BatchNorm's
feature axis (Flax's ``axis``), the pure functions' ``epsilon`` defaults, the output
keeps the input dtype, and ``WeightNormDense`` / ``SpectralNormDense`` are dense layers
rather than generic layer wrappers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jpatterns import activations as _act
from jpatterns import initializers as _init
from jpatterns import layers as _layers
from jpatterns import normalization as _norm
# The dropout variants live in jpatterns.stochastic.
from jpatterns.stochastic import (alpha_dropout, drop_path, dropconnect,
                               dropconnect_inference, gaussian_dropout, spatial_dropout,
                               standout)
from jpatterns.stochastic import dropout as _dropout

__all__ = [
    "BatchNorm",
    "LayerNorm",
    "GroupNorm",
    "InstanceNorm",
    "RMSNorm",
    "LocalResponseNorm",
    "WeightNormDense",
    "SpectralNormDense",
    "Dropout",
    "GaussianDropout",
    "AlphaDropout",
    "SpatialDropout",
    "DropPath",
    "DropConnectDense",
    "Standout",
    "PReLU",
    "RReLU",
    "Residual",
    "MultiHeadAttention",
    "LSTMCell",
]

Initializer = Callable[..., jax.Array]


def _scale_bias(module, shape):
  """γ and β of a norm module (``None`` where ``use_scale`` / ``use_bias`` is off)."""
  scale = (module.param("scale", module.scale_init, shape, module.param_dtype)
           if module.use_scale else None)
  bias = (module.param("bias", module.bias_init, shape, module.param_dtype)
          if module.use_bias else None)
  return scale, bias


def _dense(x, w, b):
  ct = jnp.promote_types(jnp.result_type(x, w), jnp.float32)
  y = jnp.asarray(x).astype(ct) @ w.astype(ct)  # y = x W
  if b is not None:
    y = y + b.astype(ct)  # + b
  return y.astype(jnp.result_type(x, w))


class _Stochastic(nn.Module):
  """Shared flag and key handling (as ``flax.linen.Dropout``)."""

  def _train(self, deterministic):
    return not nn.merge_param("deterministic", self.deterministic, deterministic)

  def _key(self, rng):
    return self.make_rng(self.rng_collection) if rng is None else rng


# ----------------------------------------------------------------------------------------
# Normalization
# ----------------------------------------------------------------------------------------

class BatchNorm(nn.Module):
  """Batch normalization with running statistics; wraps :func:`jpatterns.batch_norm`.

  ``mean`` / ``var`` live in ``"batch_stats"`` and are updated (``momentum · old +
  (1 − momentum) · batch``) when ``use_running_average`` is False and the collection is
  mutable, not during ``init``. ``axis_name`` gives cross-device statistics.

  Attributes:
    use_running_average: eval flag (or pass it to the call).
    feature_axis: the feature axis (Flax's ``axis``); every other axis is reduced.
    momentum: weight of the old running value.
    epsilon: ε > 0.
    use_bias, use_scale: learn β / γ.
    bias_init, scale_init: their initializers.
    param_dtype: parameter and statistic dtype.
    axis_name: mapped axis name for cross-device statistics, or None.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> bn = jlinen.BatchNorm(use_running_average=False)
    >>> x = jnp.array([[1., 2.], [3., 6.]])
    >>> variables = bn.init(jax.random.key(0), x)
    >>> y, updates = bn.apply(variables, x, mutable=["batch_stats"])
    >>> print(y.tolist(), updates["batch_stats"]["mean"].round(3).tolist())
    [[-1.0, -1.0], [1.0, 1.0]] [0.02, 0.04]
  """
  use_running_average: bool | None = None
  feature_axis: int = -1
  momentum: float = 0.99
  epsilon: float = 1e-5
  use_bias: bool = True
  use_scale: bool = True
  bias_init: Initializer = _init.zeros()
  scale_init: Initializer = _init.ones()
  param_dtype: Any = jnp.float32
  axis_name: str | None = None

  @nn.compact
  def __call__(self, x, use_running_average: bool | None = None, *, mask=None):
    """Normalizes ``x``.

    Args:
      x: input.
      use_running_average: eval flag for this call (merged with the attribute).
      mask: optional boolean mask of the entries the statistics use.

    Returns:
      The normalized ``x``, in its dtype.
    """
    eval_mode = nn.merge_param("use_running_average", self.use_running_average,
                               use_running_average)
    x = jnp.asarray(x)
    feat = self.feature_axis % x.ndim
    shape = (x.shape[feat],)
    mean = self.variable("batch_stats", "mean", jnp.zeros, shape, self.param_dtype)
    var = self.variable("batch_stats", "var", jnp.ones, shape, self.param_dtype)
    scale, bias = _scale_bias(self, shape)
    axes = tuple(i for i in range(x.ndim) if i != feat)
    y, new = _norm.batch_norm(x, _norm.BatchNormStats(mean.value, var.value), scale, bias,
                              train=not eval_mode, axis=axes, momentum=self.momentum,
                              epsilon=self.epsilon, axis_name=self.axis_name, mask=mask)
    if not eval_mode and not self.is_initializing():
      mean.value, var.value = new.mean, new.var
    return y


class LayerNorm(nn.Module):
  """Layer normalization; wraps :func:`jpatterns.layer_norm`.

  Attributes:
    axis: reduced axes (default the last), which also carry γ and β.
    epsilon: ε > 0.
    use_bias, use_scale: learn β / γ.
    bias_init, scale_init: their initializers.
    param_dtype: parameter dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> import numpy as np
    >>> from jpatterns.flax import linen as jlinen
    >>> x = jnp.array([[1., 2., 3.]])
    >>> y, _ = jlinen.LayerNorm().init_with_output(jax.random.key(0), x)
    >>> print(np.round(np.asarray(y), 3))
    [[-1.225  0.     1.225]]
  """
  axis: int | Sequence[int] = -1
  epsilon: float = 1e-5
  use_bias: bool = True
  use_scale: bool = True
  bias_init: Initializer = _init.zeros()
  scale_init: Initializer = _init.ones()
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    """Returns ``layer_norm(x)`` in the dtype of ``x``."""
    x = jnp.asarray(x)
    axes = (self.axis,) if isinstance(self.axis, int) else tuple(self.axis)
    shape = tuple(x.shape[a] for a in axes)
    scale, bias = _scale_bias(self, shape)
    return _norm.layer_norm(x, scale, bias, axis=self.axis, epsilon=self.epsilon)


class GroupNorm(nn.Module):
  """Group normalization; wraps :func:`jpatterns.group_norm`.

  Attributes:
    num_groups: number of groups (divides the channels).
    channel_axis: the channel axis; statistics over every axis but 0 (batch).
    epsilon: ε > 0.
    use_bias, use_scale: learn β / γ (shape ``(C,)``).
    bias_init, scale_init: their initializers.
    param_dtype: parameter dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> import numpy as np
    >>> from jpatterns.flax import linen as jlinen
    >>> x = jnp.arange(8.).reshape(1, 2, 4)
    >>> y, _ = jlinen.GroupNorm(num_groups=2).init_with_output(jax.random.key(0), x)
    >>> print(np.round(np.asarray(y[0]), 3))
    [[-1.213 -0.728 -1.213 -0.728]
     [ 0.728  1.213  0.728  1.213]]
  """
  num_groups: int = 32
  channel_axis: int = -1
  epsilon: float = 1e-5
  use_bias: bool = True
  use_scale: bool = True
  bias_init: Initializer = _init.zeros()
  scale_init: Initializer = _init.ones()
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    """Returns ``group_norm(x)`` in the dtype of ``x``."""
    x = jnp.asarray(x)
    shape = (x.shape[self.channel_axis],)
    scale, bias = _scale_bias(self, shape)
    return _norm.group_norm(x, scale, bias, num_groups=self.num_groups,
                            channel_axis=self.channel_axis, epsilon=self.epsilon)


class InstanceNorm(nn.Module):
  """Instance normalization; wraps :func:`jpatterns.instance_norm`.

  Attributes:
    channel_axis: the channel axis; statistics over every axis but 0 and it.
    epsilon: ε > 0.
    use_bias, use_scale: learn β / γ (shape ``(C,)``).
    bias_init, scale_init: their initializers.
    param_dtype: parameter dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> import numpy as np
    >>> from jpatterns.flax import linen as jlinen
    >>> x = jnp.arange(8.).reshape(1, 4, 2)
    >>> y, _ = jlinen.InstanceNorm().init_with_output(jax.random.key(0), x)
    >>> print(np.round(np.asarray(y[0, :, 0]), 3))
    [-1.342 -0.447  0.447  1.342]
  """
  channel_axis: int = -1
  epsilon: float = 1e-5
  use_bias: bool = True
  use_scale: bool = True
  bias_init: Initializer = _init.zeros()
  scale_init: Initializer = _init.ones()
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    """Returns ``instance_norm(x)`` in the dtype of ``x``."""
    x = jnp.asarray(x)
    shape = (x.shape[self.channel_axis],)
    scale, bias = _scale_bias(self, shape)
    return _norm.instance_norm(x, scale, bias, channel_axis=self.channel_axis,
                               epsilon=self.epsilon)


class RMSNorm(nn.Module):
  """RMS normalization; wraps :func:`jpatterns.rms_norm`.

  Attributes:
    axis: reduced axes (default the last).
    epsilon: ε > 0 (1e-6, as flax).
    use_scale: learn γ.
    scale_init: its initializer.
    param_dtype: parameter dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> import numpy as np
    >>> from jpatterns.flax import linen as jlinen
    >>> y, _ = jlinen.RMSNorm().init_with_output(jax.random.key(0), jnp.array([3., 4.]))
    >>> print(np.round(np.asarray(y), 3))
    [0.849 1.131]
  """
  axis: int | Sequence[int] = -1
  epsilon: float = 1e-6
  use_scale: bool = True
  scale_init: Initializer = _init.ones()
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    """Returns ``rms_norm(x)`` in the dtype of ``x``."""
    x = jnp.asarray(x)
    axes = (self.axis,) if isinstance(self.axis, int) else tuple(self.axis)
    shape = tuple(x.shape[a] for a in axes)
    scale = (self.param("scale", self.scale_init, shape, self.param_dtype)
             if self.use_scale else None)
    return _norm.rms_norm(x, scale, axis=self.axis, epsilon=self.epsilon)


class LocalResponseNorm(nn.Module):
  """Local response normalization across channels; wraps :func:`jpatterns.local_response_norm`.

  No variables. α is not divided by ``size`` (seed 002 / AlexNet).

  Attributes:
    size: window size in channels.
    k, alpha, beta: the constants of ``(k + α Σ x²)^β``.
    channel_axis: the channel axis.

  Example:
    >>> import jax.numpy as jnp
    >>> import numpy as np
    >>> from jpatterns.flax import linen as jlinen
    >>> lrn = jlinen.LocalResponseNorm(size=3, k=1., alpha=1., beta=1.)
    >>> print(np.round(np.asarray(lrn.apply({}, jnp.array([1., 2., 3.]))), 4))
    [0.1667 0.1333 0.2143]
  """
  size: int
  k: float = 2.0
  alpha: float = 1e-4
  beta: float = 0.75
  channel_axis: int = -1

  def __call__(self, x):
    """Returns ``local_response_norm(x)`` in the dtype of ``x``."""
    return _norm.local_response_norm(x, size=self.size, k=self.k, alpha=self.alpha,
                                     beta=self.beta, channel_axis=self.channel_axis)


class WeightNormDense(nn.Module):
  """Dense layer with a weight-normalized kernel ``w = g · v/‖v‖``; wraps :func:`jpatterns.weight_norm`.

  ``kernel`` is ``v`` (in, out), ``scale`` is ``g`` (out,), ones at init: the same
  numbers as ``flax.linen.WeightNorm(nn.Dense(features))`` (tested).

  Attributes:
    features: output size.
    use_bias: add a bias.
    kernel_init, bias_init, scale_init: initializers.
    epsilon: ε under the square root of ‖v‖.
    param_dtype: parameter dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> layer = jlinen.WeightNormDense(2, use_bias=False)
    >>> y, v = layer.init_with_output(jax.random.key(0), jnp.eye(3))
    >>> print(jnp.linalg.norm(y, axis=0).round(3))
    [1. 1.]
  """
  features: int
  use_bias: bool = True
  kernel_init: Initializer = _init.lecun_normal()
  bias_init: Initializer = _init.zeros()
  scale_init: Initializer = _init.ones()
  epsilon: float = 1e-12
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    """Returns ``x @ weight_norm(kernel, scale) + bias``."""
    x = jnp.asarray(x)
    v = self.param("kernel", self.kernel_init, (x.shape[-1], self.features),
                   self.param_dtype)
    g = self.param("scale", self.scale_init, (self.features,), self.param_dtype)
    b = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
         if self.use_bias else None)
    return _dense(x, _norm.weight_norm(v, g, epsilon=self.epsilon), b)


class SpectralNormDense(nn.Module):
  """Dense layer with a spectrally normalized kernel ``W/σ(W)``; wraps :func:`jpatterns.spectral_norm`.

  The power-iteration vector ``u`` (``(1, out)``, standard normal) is in
  ``"batch_stats"``; it is stored back when ``update_stats`` (Flax's flag) is True.

  Attributes:
    features: output size.
    n_steps: power-iteration steps per call.
    epsilon: ε of the l2 normalizations.
    update_stats: train flag (or pass it to the call).
    use_bias: add a bias.
    kernel_init, bias_init: initializers.
    param_dtype: parameter dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> layer = jlinen.SpectralNormDense(3, n_steps=30, use_bias=False)
    >>> y, v = layer.init_with_output(jax.random.key(0), jnp.eye(3), update_stats=False)
    >>> print(jnp.linalg.norm(y, ord=2).round(3))
    1.0
  """
  features: int
  n_steps: int = 1
  epsilon: float = 1e-12
  update_stats: bool | None = None
  use_bias: bool = True
  kernel_init: Initializer = _init.lecun_normal()
  bias_init: Initializer = _init.zeros()
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, update_stats: bool | None = None):
    """Returns ``x @ (W/σ) + bias``; stores the new ``u`` when ``update_stats``."""
    update = nn.merge_param("update_stats", self.update_stats, update_stats)
    x = jnp.asarray(x)
    w = self.param("kernel", self.kernel_init, (x.shape[-1], self.features),
                   self.param_dtype)
    b = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
         if self.use_bias else None)
    u = self.variable("batch_stats", "u", lambda: jax.random.normal(
        self.make_rng("params"), (1, self.features), self.param_dtype))
    wn, new_u = _norm.spectral_norm(w, u.value, n_steps=self.n_steps, epsilon=self.epsilon)
    if update and not self.is_initializing():
      u.value = new_u
    return _dense(x, wn, b)


# ----------------------------------------------------------------------------------------
# Dropout family
# ----------------------------------------------------------------------------------------

class Dropout(_Stochastic):
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
    return _dropout(key, x, rate=self.rate, inverted=self.inverted,
                    broadcast_dims=tuple(self.broadcast_dims), train=train)



class _RateNoise(_Stochastic):
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


class GaussianDropout(_RateNoise):
  """Multiplicative N(1, rate/(1 − rate)) noise in training; wraps :func:`jpatterns.gaussian_dropout`.

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
    return gaussian_dropout(key, x, rate=rate, train=train)


class AlphaDropout(_RateNoise):
  """Alpha dropout for SELU networks; wraps :func:`jpatterns.alpha_dropout`.

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
    return alpha_dropout(key, x, rate=rate, train=train)


class SpatialDropout(_Stochastic):
  """Drops whole channels; wraps :func:`jpatterns.spatial_dropout`.

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
    return spatial_dropout(key, x, rate=self.rate, channel_axis=self.channel_axis,
                           batch_axis=self.batch_axis, train=train)


class DropPath(_RateNoise):
  """Stochastic depth: drops a residual branch per example; wraps :func:`jpatterns.drop_path`.

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
    return drop_path(key, x, rate=rate, train=train)


class DropConnectDense(_Stochastic):
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
    w = self.param("kernel", self.kernel_init, (x.shape[-1], self.features),
                   self.param_dtype)
    b = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
         if self.use_bias else None)
    if train:
      return dropconnect(self._key(rng), x, w, rate=self.rate, bias=b,
                         activation=self.activation)
    key = None if self.activation is None else self._key(rng)
    return dropconnect_inference(key, x, w, rate=self.rate, bias=b,
                                 activation=self.activation, num_samples=self.num_samples)


class Standout(_Stochastic):
  """Standout (adaptive dropout) dense layer; wraps :func:`jpatterns.standout`.

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
    b = (self.param("bias", self.bias_init, (self.features,), self.param_dtype)
         if self.use_bias else None)
    ws = self.param("gate_kernel", self.kernel_init, shape, self.param_dtype)
    bs = (self.param("gate_bias", self.bias_init, (self.features,), self.param_dtype)
          if self.use_bias else None)
    key = self._key(rng) if train else None
    return standout(key, x, w, ws, bias=b, gate_bias=bs, activation=self.activation,
                    gate=self.gate, train=train)


# ----------------------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------------------

class PReLU(nn.Module):
  """Parametric ReLU with a learned ``negative_slope``; wraps :func:`jpatterns.prelu`.

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
    shape = (x.shape[self.channel_axis],) if self.per_channel else ()
    alpha = self.param("negative_slope",
                       lambda key, s: jnp.full(s, self.negative_slope_init,
                                               self.param_dtype), shape)
    return _act.prelu(x, alpha, channel_axis=self.channel_axis)


class RReLU(_Stochastic):
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


# ----------------------------------------------------------------------------------------
# Architecture layers
# ----------------------------------------------------------------------------------------

class Residual(nn.Module):
  """Residual connection ``f(x) + x`` around a branch module; wraps :func:`jpatterns.layers.residual`.

  With ``features`` different from the input's last axis the shortcut is a learned
  projection ``x W_s`` (``kernel``, ``(in, features)``). Call keyword arguments go to
  the branch (e.g. ``deterministic``).

  Attributes:
    branch: the residual branch ``f``.
    features: output size when it differs from the input's; None for identity.
    kernel_init: initializer of the projection.
    param_dtype: parameter dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> import flax.linen as nn
    >>> from jpatterns.flax import linen as jlinen
    >>> block = jlinen.Residual(nn.Dense(3), features=3)
    >>> y, v = block.init_with_output(jax.random.key(0), jnp.ones((1, 2)))
    >>> sorted(v["params"])
    ['branch', 'kernel']
  """
  branch: nn.Module
  features: int | None = None
  kernel_init: Initializer = _init.lecun_normal()
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x, **kwargs):
    """Returns ``branch(x) + x`` (or ``+ x @ kernel``)."""
    x = jnp.asarray(x)
    kernel = None
    if self.features is not None and self.features != x.shape[-1]:
      kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features),
                          self.param_dtype)
    return _layers.residual(lambda v: self.branch(v, **kwargs), x, projection=kernel)


_MHA_NAMES = ("wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo")


class MultiHeadAttention(nn.Module):
  """Multi-head attention; wraps :func:`jpatterns.layers.multi_head_attention`.

  Parameters ``wq``, ``wk``, ``wv``, ``wo`` and biases ``bq``, ``bk``, ``bv``, ``bo``
  drawn by :func:`jpatterns.layers.init_multi_head_attention`.

  Attributes:
    num_heads: number of heads.
    dim: inner dimension ``D`` (default: the query's features).
    out_dim: output features (default ``D``).
    use_bias: learn biases.
    causal: mask keys after each query position.
    param_dtype: parameter dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.flax import linen as jlinen
    >>> y, _ = jlinen.MultiHeadAttention(num_heads=2).init_with_output(
    ...     jax.random.key(0), jnp.ones((3, 5, 8)))
    >>> y.shape
    (3, 5, 8)
  """
  num_heads: int
  dim: int | None = None
  out_dim: int | None = None
  use_bias: bool = True
  causal: bool = False
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, query, key_value=None, *, mask=None):
    """Attends ``query`` (..., T, D) to ``key_value`` (default: itself).

    Args:
      query: ``(..., T, D_in)``.
      key_value: ``(..., S, D_kv)`` or None.
      mask: boolean, broadcastable to ``(..., H, T, S)``; True = attend.

    Returns:
      ``(..., T, D_out)`` in the dtype of ``query``.
    """
    query = jnp.asarray(query)
    kv = query if key_value is None else jnp.asarray(key_value)
    dim = query.shape[-1] if self.dim is None else self.dim

    def init(name):
      def fn(key):
        return _layers.init_multi_head_attention(
            key, dim, kv_dim=kv.shape[-1], out_dim=self.out_dim, use_bias=self.use_bias,
            dtype=self.param_dtype)[name]
      return fn

    names = _MHA_NAMES if self.use_bias else _MHA_NAMES[:4]
    params = {n: self.param(n, init(n)) for n in names}
    return _layers.multi_head_attention(params, query, key_value=key_value,
                                        num_heads=self.num_heads,
                                        mask=mask, causal=self.causal)


class LSTMCell(nn.RNNCellBase):
  """LSTM cell; wraps :func:`jpatterns.layers.lstm_cell` (works with ``nn.RNN``).

  Parameters ``w_i`` (in, 4H), ``w_h`` (H, 4H), ``b`` (4H,), gates i, f, g, o,
  drawn by :func:`jpatterns.layers.init_lstm_params`; carry ``(c, h)``.

  Attributes:
    features: hidden size H.
    forget_bias: initial forget-gate bias.
    param_dtype: parameter dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> import flax.linen as nn
    >>> from jpatterns.flax import linen as jlinen
    >>> rnn = nn.RNN(jlinen.LSTMCell(4))
    >>> y, _ = rnn.init_with_output(jax.random.key(0), jnp.ones((2, 7, 3)))
    >>> y.shape
    (2, 7, 4)
  """
  features: int
  forget_bias: float = 1.0
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, carry, inputs):
    """One step: returns ``((c', h'), h')``."""
    in_features = jnp.shape(inputs)[-1]

    def init(name):
      def fn(key):
        return _layers.init_lstm_params(key, in_features, self.features,
                                        forget_bias=self.forget_bias,
                                        dtype=self.param_dtype)[name]
      return fn

    params = {n: self.param(n, init(n)) for n in ("w_i", "w_h", "b")}
    return _layers.lstm_cell(params, carry, inputs)

  @nn.nowrap
  def initialize_carry(self, rng, input_shape):
    """A zero carry ``(c, h)`` for inputs of shape ``input_shape`` (batch..., in).

    Args:
      rng: unused (Flax's signature).
      input_shape: shape of one step's input.

    Returns:
      ``(c, h)`` of shape ``(*input_shape[:-1], H)`` each.
    """
    del rng
    return _layers.init_lstm_carry(tuple(input_shape[:-1]), self.features)

  @property
  def num_feature_axes(self) -> int:
    return 1
