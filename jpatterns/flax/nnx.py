"""``flax.nnx`` modules over the jpatterns pure functions (issue 4 item 6).

Thin wrappers: each module owns its parameters (``nnx.Param``), running statistics
(``nnx.BatchStat``) and PRNG stream, and calls one pure function of
:mod:`jpatterns.normalization`, :mod:`jpatterns.stochastic`, :mod:`jpatterns.activations`
or :mod:`jpatterns.layers` — the maths lives there, once.

Flags follow Flax. Stochastic modules carry ``deterministic``; modules with running
statistics carry ``use_running_average`` (``SpectralNormDense`` too, Flax's trick for
its ``update_stats``). ``model.train()`` / ``model.eval()`` / ``nnx.view`` set them
recursively; a flag passed to ``__call__`` wins over the attribute. Keys follow Flax's
``nnx.Dropout``: a module forks ``rngs[rng_collection]`` (``"dropout"`` by default,
falling back to ``rngs``' default stream) at construction and draws one key per call;
``__call__(..., rngs=)`` takes a key, an ``nnx.RngStream`` or ``nnx.Rngs`` instead.
With the same ``nnx.Rngs`` seed, :class:`Dropout` draws exactly the masks of
``flax.nnx.Dropout`` (tested).

Departures from Flax, by house convention (STYLE.md): the feature axis of
:class:`BatchNorm` is ``feature_axis`` (Flax's ``axis``), since ``axis`` means reduced
axes everywhere in jpatterns; ``epsilon`` defaults are the pure functions' (1e-5;
RMSNorm 1e-6), where Flax's LayerNorm / GroupNorm use 1e-6; there is no ``dtype=``
computation-dtype option: outputs keep the input dtype, reductions run in ≥ float32.
``WeightNormDense`` and ``SpectralNormDense`` are dense layers with a reparametrized
kernel, not generic layer wrappers (Flax's nnx wrappers overwrite the wrapped kernel
in place at every call).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from jpatterns import activations as _act
# The dropout variants live in jpatterns.stochastic.
from jpatterns.stochastic import (alpha_dropout, drop_path, dropconnect,
                               dropconnect_inference, gaussian_dropout, spatial_dropout,
                               standout)
from jpatterns.stochastic import dropout as _dropout
from jpatterns import initializers as _init
from jpatterns import layers as _layers
from jpatterns import normalization as _norm

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


def _first(call_value, attr_value, name, module):
  value = attr_value if call_value is None else call_value
  if value is None:
    raise ValueError(f"{module}: no `{name}` given; pass {name}=True/False to the "
                     "constructor or the call, or use model.train() / model.eval()")
  return value


def _param_key(rngs):
  """A key for parameter initializers; None when no rngs (ones/zeros need none)."""
  return None if rngs is None else rngs.params()


def _fork_stream(rngs, collection):
  if isinstance(rngs, nnx.Rngs):
    return rngs[collection].fork()
  if isinstance(rngs, nnx.RngStream):
    return rngs.fork()
  if rngs is None:
    return nnx.data(None)
  raise TypeError(f"rngs must be an nnx.Rngs, nnx.RngStream or None, got {type(rngs)}")


def _optional_param(use, init, key, shape, dtype):
  return nnx.Param(init(key, shape, dtype)) if use else nnx.data(None)


def _value(var):
  return None if var is None else var[...]


class _Stochastic(nnx.Module):
  """Shared flag and key handling of the random modules (as ``flax.nnx.Dropout``)."""

  def _init_stochastic(self, deterministic, rng_collection, rngs):
    self.deterministic = deterministic
    self.rng_collection = rng_collection
    self.rngs = _fork_stream(rngs, rng_collection)

  def _train(self, deterministic):
    return not _first(deterministic, self.deterministic, "deterministic",
                      type(self).__name__)

  def _key(self, rngs):
    rngs = self.rngs if rngs is None else rngs
    if isinstance(rngs, nnx.Rngs):
      return rngs[self.rng_collection]()
    if isinstance(rngs, nnx.RngStream):
      return rngs()
    if isinstance(rngs, jax.Array):
      return rngs
    raise ValueError(f"{type(self).__name__}: deterministic=False but no rngs; pass "
                     "rngs=nnx.Rngs(dropout=0) to the constructor or a key to the call")

  def set_view(self, deterministic: bool | None = None):
    """Used by ``nnx.view``: sets ``deterministic``."""
    if deterministic is not None:
      self.deterministic = deterministic


# ----------------------------------------------------------------------------------------
# Normalization
# ----------------------------------------------------------------------------------------

class BatchNorm(nnx.Module):
  """Batch normalization with running statistics; wraps :func:`jpatterns.batch_norm`.

  Train (``use_running_average=False``) normalizes with the batch statistics and
  updates ``mean``/``var`` (``nnx.BatchStat``) as ``momentum · old + (1 − momentum) ·
  batch`` (biased batch variance, as flax); eval uses the running statistics.
  ``axis_name`` gives cross-device statistics (one ``all_gather``) under
  ``shard_map``/``pmap``/named ``vmap``.

  Args:
    num_features: size of the feature axis.
    use_running_average: eval mode flag (``model.eval()`` sets it True).
    feature_axis: the feature axis (Flax's ``axis``); every other axis is reduced.
    momentum: weight of the old running value, in [0, 1].
    epsilon: ε > 0 added to the variance.
    use_bias, use_scale: learn β / γ.
    bias_init, scale_init: initializers of β (zeros) and γ (ones).
    param_dtype: dtype of parameters and statistics.
    axis_name: mapped axis name for cross-device statistics, or None.
    rngs: ``nnx.Rngs`` for the parameter initializers (optional for the defaults).

  Example:
    >>> import jax.numpy as jnp
    >>> from jpatterns.flax import nnx as jnnx
    >>> bn = jnnx.BatchNorm(2)
    >>> y = bn(jnp.array([[1., 2.], [3., 6.]]))
    >>> print(y.tolist(), bn.mean[...].round(3).tolist())
    [[-1.0, -1.0], [1.0, 1.0]] [0.02, 0.04]
  """

  def __init__(self, num_features: int, *, use_running_average: bool | None = False,
               feature_axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-5,
               use_bias: bool = True, use_scale: bool = True,
               bias_init: Initializer = _init.zeros(), scale_init: Initializer = _init.ones(),
               param_dtype=jnp.float32, axis_name: str | None = None,
               rngs: nnx.Rngs | None = None):
    shape = (num_features,)
    self.mean = nnx.BatchStat(jnp.zeros(shape, param_dtype))
    self.var = nnx.BatchStat(jnp.ones(shape, param_dtype))
    self.scale = _optional_param(use_scale, scale_init, _param_key(rngs), shape, param_dtype)
    self.bias = _optional_param(use_bias, bias_init, _param_key(rngs), shape, param_dtype)
    self.num_features = num_features
    self.use_running_average = use_running_average
    self.feature_axis = feature_axis
    self.momentum = momentum
    self.epsilon = epsilon
    self.axis_name = axis_name

  def __call__(self, x, use_running_average: bool | None = None, *, mask=None):
    """Normalizes ``x`` (updating the running statistics in train mode).

    Args:
      x: input with ``num_features`` at ``feature_axis``.
      use_running_average: overrides the attribute for this call.
      mask: optional boolean mask of the entries the statistics use.

    Returns:
      The normalized ``x``, in its dtype.
    """
    eval_mode = _first(use_running_average, self.use_running_average,
                       "use_running_average", "BatchNorm")
    x = jnp.asarray(x)
    feat = self.feature_axis % x.ndim
    axes = tuple(i for i in range(x.ndim) if i != feat)
    stats = _norm.BatchNormStats(self.mean[...], self.var[...])
    y, new = _norm.batch_norm(x, stats, _value(self.scale), _value(self.bias),
                              train=not eval_mode, axis=axes, momentum=self.momentum,
                              epsilon=self.epsilon, axis_name=self.axis_name, mask=mask)
    if not eval_mode:
      self.mean[...] = new.mean
      self.var[...] = new.var
    return y

  def set_view(self, use_running_average: bool | None = None):
    """Used by ``nnx.view``: sets ``use_running_average``."""
    if use_running_average is not None:
      self.use_running_average = use_running_average


class LayerNorm(nnx.Module):
  """Layer normalization; wraps :func:`jpatterns.layer_norm`.

  Args:
    num_features: the shape of ``x`` at ``axis`` (an int for one axis).
    axis: reduced axes (default the last), which also carry γ and β.
    epsilon: ε > 0.
    use_bias, use_scale: learn β / γ.
    bias_init, scale_init: their initializers.
    param_dtype: parameter dtype.
    rngs: ``nnx.Rngs`` for the initializers (optional for the defaults).

  Example:
    >>> import jax.numpy as jnp
    >>> from jpatterns.flax import nnx as jnnx
    >>> print(jnnx.LayerNorm(3)(jnp.array([[1., 2., 3.]])).round(3))
    [[-1.225  0.     1.225]]
  """

  def __init__(self, num_features: int | Sequence[int], *, axis=-1, epsilon: float = 1e-5,
               use_bias: bool = True, use_scale: bool = True,
               bias_init: Initializer = _init.zeros(), scale_init: Initializer = _init.ones(),
               param_dtype=jnp.float32, rngs: nnx.Rngs | None = None):
    shape = (num_features,) if isinstance(num_features, int) else tuple(num_features)
    self.scale = _optional_param(use_scale, scale_init, _param_key(rngs), shape, param_dtype)
    self.bias = _optional_param(use_bias, bias_init, _param_key(rngs), shape, param_dtype)
    self.axis = axis
    self.epsilon = epsilon

  def __call__(self, x):
    """Returns ``layer_norm(x)`` in the dtype of ``x``."""
    return _norm.layer_norm(x, _value(self.scale), _value(self.bias), axis=self.axis,
                            epsilon=self.epsilon)


class GroupNorm(nnx.Module):
  """Group normalization; wraps :func:`jpatterns.group_norm`.

  Args:
    num_features: number of channels C.
    num_groups: number of groups G (must divide C).
    channel_axis: the channel axis; the statistics use every axis but 0 (batch).
    epsilon: ε > 0.
    use_bias, use_scale: learn β / γ (shape ``(C,)``).
    bias_init, scale_init: their initializers.
    param_dtype: parameter dtype.
    rngs: ``nnx.Rngs`` for the initializers (optional for the defaults).

  Example:
    >>> import numpy as np
    >>> import jax.numpy as jnp
    >>> from jpatterns.flax import nnx as jnnx
    >>> gn = jnnx.GroupNorm(4, num_groups=2)
    >>> print(np.round(np.asarray(gn(jnp.arange(8.).reshape(1, 2, 4))[0]), 3))
    [[-1.213 -0.728 -1.213 -0.728]
     [ 0.728  1.213  0.728  1.213]]
  """

  def __init__(self, num_features: int, *, num_groups: int = 32, channel_axis: int = -1,
               epsilon: float = 1e-5, use_bias: bool = True, use_scale: bool = True,
               bias_init: Initializer = _init.zeros(), scale_init: Initializer = _init.ones(),
               param_dtype=jnp.float32, rngs: nnx.Rngs | None = None):
    shape = (num_features,)
    self.scale = _optional_param(use_scale, scale_init, _param_key(rngs), shape, param_dtype)
    self.bias = _optional_param(use_bias, bias_init, _param_key(rngs), shape, param_dtype)
    self.num_groups = num_groups
    self.channel_axis = channel_axis
    self.epsilon = epsilon

  def __call__(self, x):
    """Returns ``group_norm(x)`` in the dtype of ``x``."""
    return _norm.group_norm(x, _value(self.scale), _value(self.bias),
                            num_groups=self.num_groups, channel_axis=self.channel_axis,
                            epsilon=self.epsilon)


class InstanceNorm(nnx.Module):
  """Instance normalization; wraps :func:`jpatterns.instance_norm`.

  Args:
    num_features: number of channels C.
    channel_axis: the channel axis; statistics over every axis but 0 and it.
    epsilon: ε > 0.
    use_bias, use_scale: learn β / γ (shape ``(C,)``).
    bias_init, scale_init: their initializers.
    param_dtype: parameter dtype.
    rngs: ``nnx.Rngs`` for the initializers (optional for the defaults).

  Example:
    >>> import numpy as np
    >>> import jax.numpy as jnp
    >>> from jpatterns.flax import nnx as jnnx
    >>> x = jnp.arange(8.).reshape(1, 4, 2)
    >>> print(np.round(np.asarray(jnnx.InstanceNorm(2)(x)[0, :, 0]), 3))
    [-1.342 -0.447  0.447  1.342]
  """

  def __init__(self, num_features: int, *, channel_axis: int = -1, epsilon: float = 1e-5,
               use_bias: bool = True, use_scale: bool = True,
               bias_init: Initializer = _init.zeros(), scale_init: Initializer = _init.ones(),
               param_dtype=jnp.float32, rngs: nnx.Rngs | None = None):
    shape = (num_features,)
    self.scale = _optional_param(use_scale, scale_init, _param_key(rngs), shape, param_dtype)
    self.bias = _optional_param(use_bias, bias_init, _param_key(rngs), shape, param_dtype)
    self.channel_axis = channel_axis
    self.epsilon = epsilon

  def __call__(self, x):
    """Returns ``instance_norm(x)`` in the dtype of ``x``."""
    return _norm.instance_norm(x, _value(self.scale), _value(self.bias),
                               channel_axis=self.channel_axis, epsilon=self.epsilon)


class RMSNorm(nnx.Module):
  """RMS normalization; wraps :func:`jpatterns.rms_norm`.

  Args:
    num_features: the shape of ``x`` at ``axis``.
    axis: reduced axes (default the last).
    epsilon: ε > 0 (1e-6, as flax).
    use_scale: learn γ.
    scale_init: its initializer.
    param_dtype: parameter dtype.
    rngs: ``nnx.Rngs`` for the initializer (optional for the default).

  Example:
    >>> import numpy as np
    >>> import jax.numpy as jnp
    >>> from jpatterns.flax import nnx as jnnx
    >>> print(np.round(np.asarray(jnnx.RMSNorm(2)(jnp.array([3., 4.]))), 3))
    [0.849 1.131]
  """

  def __init__(self, num_features: int | Sequence[int], *, axis=-1, epsilon: float = 1e-6,
               use_scale: bool = True, scale_init: Initializer = _init.ones(),
               param_dtype=jnp.float32, rngs: nnx.Rngs | None = None):
    shape = (num_features,) if isinstance(num_features, int) else tuple(num_features)
    self.scale = _optional_param(use_scale, scale_init, _param_key(rngs), shape, param_dtype)
    self.axis = axis
    self.epsilon = epsilon

  def __call__(self, x):
    """Returns ``rms_norm(x)`` in the dtype of ``x``."""
    return _norm.rms_norm(x, _value(self.scale), axis=self.axis, epsilon=self.epsilon)


class LocalResponseNorm(nnx.Module):
  """Local response normalization across channels; wraps :func:`jpatterns.local_response_norm`.

  No parameters: a module only so it composes with the others. α is not divided by
  ``size`` (seed 002 / AlexNet); torch's ``LocalResponseNorm`` is ``alpha=α_torch/size``.

  Args:
    size: window size in channels.
    k, alpha, beta: the constants of ``(k + α Σ x²)^β``.
    channel_axis: the channel axis.

  Example:
    >>> import jax.numpy as jnp
    >>> from jpatterns.flax import nnx as jnnx
    >>> lrn = jnnx.LocalResponseNorm(size=3, k=1., alpha=1., beta=1.)
    >>> print(lrn(jnp.array([1., 2., 3.])).round(4))
    [0.1667 0.1333 0.2143]
  """

  def __init__(self, *, size: int, k: float = 2.0, alpha: float = 1e-4, beta: float = 0.75,
               channel_axis: int = -1):
    self.size, self.k, self.alpha, self.beta = size, k, alpha, beta
    self.channel_axis = channel_axis

  def __call__(self, x):
    """Returns ``local_response_norm(x)`` in the dtype of ``x``."""
    return _norm.local_response_norm(x, size=self.size, k=self.k, alpha=self.alpha,
                                     beta=self.beta, channel_axis=self.channel_axis)


class WeightNormDense(nnx.Module):
  """Dense layer with a weight-normalized kernel ``w = g · v/‖v‖``; wraps :func:`jpatterns.weight_norm`.

  ``kernel`` is the direction ``v`` (in, out), ``scale`` the per-output length ``g``
  (ones, as flax's ``WeightNorm``), so ``y = x (g · v/‖v‖) + b`` with ‖·‖ over the
  input axis. Same numbers as ``flax.linen.WeightNorm(nn.Dense(out))`` (tested).

  Args:
    in_features, out_features: kernel shape.
    use_bias: add a bias.
    kernel_init, bias_init, scale_init: initializers (lecun normal, zeros, ones).
    epsilon: ε under the square root of ‖v‖.
    param_dtype: parameter dtype.
    rngs: ``nnx.Rngs`` for the initializers.

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jpatterns.flax import nnx as jnnx
    >>> layer = jnnx.WeightNormDense(3, 2, rngs=nnx.Rngs(0))
    >>> w = layer.scale[...] * layer.kernel[...] / jnp.linalg.norm(layer.kernel[...], axis=0)
    >>> bool(jnp.allclose(layer(jnp.eye(3)), w, atol=1e-6))
    True
  """

  def __init__(self, in_features: int, out_features: int, *, use_bias: bool = True,
               kernel_init: Initializer = _init.lecun_normal(),
               bias_init: Initializer = _init.zeros(), scale_init: Initializer = _init.ones(),
               epsilon: float = 1e-12, param_dtype=jnp.float32, rngs: nnx.Rngs):
    self.kernel = nnx.Param(kernel_init(rngs.params(), (in_features, out_features),
                                        param_dtype))
    self.scale = nnx.Param(scale_init(rngs.params(), (out_features,), param_dtype))
    self.bias = _optional_param(use_bias, bias_init, rngs.params(), (out_features,),
                                param_dtype)
    self.epsilon = epsilon

  def __call__(self, x):
    """Returns ``x @ weight_norm(kernel, scale) + bias``."""
    w = _norm.weight_norm(self.kernel[...], self.scale[...], epsilon=self.epsilon)
    return _dense(x, w, _value(self.bias))


class SpectralNormDense(nnx.Module):
  """Dense layer with a spectrally normalized kernel ``W/σ(W)``; wraps :func:`jpatterns.spectral_norm`.

  The power-iteration vector ``u`` (shape ``(1, out)``, standard normal, as flax) is an
  ``nnx.BatchStat``: updated in train mode, read only in eval mode (``model.eval()``
  sets ``use_running_average=True``, Flax's own trick for its ``update_stats``).
  The power iteration runs in both modes, as flax's ``SpectralNorm``.

  Args:
    in_features, out_features: kernel shape.
    n_steps: power-iteration steps per call.
    epsilon: ε of the l2 normalizations.
    update_stats: initial mode (True = train); stored as ``use_running_average``.
    use_bias: add a bias.
    kernel_init, bias_init: initializers.
    param_dtype: parameter dtype.
    rngs: ``nnx.Rngs`` for the initializers and ``u``.

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jpatterns.flax import nnx as jnnx
    >>> layer = jnnx.SpectralNormDense(3, 3, n_steps=30, use_bias=False, rngs=nnx.Rngs(0))
    >>> print(jnp.linalg.norm(layer(jnp.eye(3)), ord=2).round(3))
    1.0
  """

  def __init__(self, in_features: int, out_features: int, *, n_steps: int = 1,
               epsilon: float = 1e-12, update_stats: bool = True, use_bias: bool = True,
               kernel_init: Initializer = _init.lecun_normal(),
               bias_init: Initializer = _init.zeros(), param_dtype=jnp.float32,
               rngs: nnx.Rngs):
    self.kernel = nnx.Param(kernel_init(rngs.params(), (in_features, out_features),
                                        param_dtype))
    self.bias = _optional_param(use_bias, bias_init, rngs.params(), (out_features,),
                                param_dtype)
    self.u = nnx.BatchStat(jax.random.normal(rngs.params(), (1, out_features), param_dtype))
    self.n_steps = n_steps
    self.epsilon = epsilon
    self.use_running_average = not update_stats

  def __call__(self, x, update_stats: bool | None = None):
    """Returns ``x @ (W/σ) + bias``; updates ``u`` when ``update_stats``."""
    update = (not self.use_running_average) if update_stats is None else update_stats
    w, u = _norm.spectral_norm(self.kernel[...], self.u[...], n_steps=self.n_steps,
                               epsilon=self.epsilon)
    if update:
      self.u[...] = u
    return _dense(x, w, _value(self.bias))

  def set_view(self, use_running_average: bool | None = None):
    """Used by ``nnx.view``: sets ``use_running_average`` (= not update_stats)."""
    if use_running_average is not None:
      self.use_running_average = use_running_average


def _dense(x, w, b):
  ct = jnp.promote_types(jnp.result_type(x, w), jnp.float32)
  y = jnp.asarray(x).astype(ct) @ w.astype(ct)  # y = x W
  if b is not None:
    y = y + b.astype(ct)  # + b
  return y.astype(jnp.result_type(x, w))


# ----------------------------------------------------------------------------------------
# Dropout family
# ----------------------------------------------------------------------------------------

class Dropout(_Stochastic):
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

  def __init__(self, rate: float, *, broadcast_dims: Sequence[int] = (),
               inverted: bool = True, deterministic: bool | None = False,
               rng_collection: str = "dropout", rngs: nnx.Rngs | None = None):
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
    return _dropout(key, x, rate=self.rate, inverted=self.inverted,
                         broadcast_dims=self.broadcast_dims, train=train)



class _RateNoise(_Stochastic):
  """A module around one pure ``f(key, x, *, rate, train)``, given by ``_pattern``."""

  def __init__(self, rate: float, *, deterministic: bool | None = False,
               rng_collection: str = "dropout", rngs: nnx.Rngs | None = None):
    self.rate = rate
    self._init_stochastic(deterministic, rng_collection, rngs)

  def __call__(self, x, *, deterministic: bool | None = None, rngs=None):
    """Returns the pattern applied to ``x`` in train mode, ``x`` in eval mode."""
    train = self._train(deterministic)
    key = self._key(rngs) if train and self.rate != 0 else None
    return self._pattern(key, x, rate=self.rate, train=train)


class GaussianDropout(_RateNoise):
  """Multiplicative N(1, rate/(1 − rate)) noise in training; wraps :func:`jpatterns.gaussian_dropout`.

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
    return gaussian_dropout(key, x, rate=rate, train=train)


class AlphaDropout(_RateNoise):
  """Alpha dropout for SELU networks; wraps :func:`jpatterns.alpha_dropout`.

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
    return alpha_dropout(key, x, rate=rate, train=train)


class SpatialDropout(_Stochastic):
  """Drops whole channels; wraps :func:`jpatterns.spatial_dropout`.

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

  def __init__(self, rate: float, *, channel_axis: int = -1, batch_axis: int | None = 0,
               deterministic: bool | None = False, rng_collection: str = "dropout",
               rngs: nnx.Rngs | None = None):
    self.rate = rate
    self.channel_axis = channel_axis
    self.batch_axis = batch_axis
    self._init_stochastic(deterministic, rng_collection, rngs)

  def __call__(self, x, *, deterministic: bool | None = None, rngs=None):
    """Returns ``x`` with dropped channels (train) or ``x`` (eval)."""
    train = self._train(deterministic)
    key = self._key(rngs) if train and self.rate != 0 else None
    return spatial_dropout(key, x, rate=self.rate, channel_axis=self.channel_axis,
                                 batch_axis=self.batch_axis, train=train)


class DropPath(_RateNoise):
  """Stochastic depth: drops a residual branch per example; wraps :func:`jpatterns.drop_path`.

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
    return drop_path(key, x, rate=rate, train=train)


class DropConnectDense(_Stochastic):
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

  def __init__(self, in_features: int, out_features: int, *, rate: float,
               use_bias: bool = True, activation: Callable | None = None,
               num_samples: int = 256, deterministic: bool | None = False,
               kernel_init: Initializer = _init.lecun_normal(),
               bias_init: Initializer = _init.zeros(), param_dtype=jnp.float32,
               rng_collection: str = "dropout", rngs: nnx.Rngs):
    self.kernel = nnx.Param(kernel_init(rngs.params(), (in_features, out_features),
                                        param_dtype))
    self.bias = _optional_param(use_bias, bias_init, rngs.params(), (out_features,),
                                param_dtype)
    self.rate = rate
    self.activation = activation
    self.num_samples = num_samples
    self._init_stochastic(deterministic, rng_collection, rngs)

  def __call__(self, x, *, deterministic: bool | None = None, rngs=None):
    """Returns ``f(x (W ⊙ M)/q + b ⊙ m/q)`` (train) or its expectation (eval)."""
    train = self._train(deterministic)
    w, b = self.kernel[...], _value(self.bias)
    if train:
      return dropconnect(self._key(rngs), x, w, rate=self.rate, bias=b,
                               activation=self.activation)
    key = None if self.activation is None else self._key(rngs)
    return dropconnect_inference(key, x, w, rate=self.rate, bias=b,
                                       activation=self.activation,
                                       num_samples=self.num_samples)


class Standout(_Stochastic):
  """Standout (adaptive dropout) dense layer; wraps :func:`jpatterns.standout`.

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

  def __init__(self, in_features: int, out_features: int, *, use_bias: bool = True,
               activation: Callable | None = None, gate: Callable = jax.nn.sigmoid,
               deterministic: bool | None = False,
               kernel_init: Initializer = _init.lecun_normal(),
               bias_init: Initializer = _init.zeros(), param_dtype=jnp.float32,
               rng_collection: str = "dropout", rngs: nnx.Rngs):
    shape = (in_features, out_features)
    self.kernel = nnx.Param(kernel_init(rngs.params(), shape, param_dtype))
    self.bias = _optional_param(use_bias, bias_init, rngs.params(), (out_features,),
                                param_dtype)
    self.gate_kernel = nnx.Param(kernel_init(rngs.params(), shape, param_dtype))
    self.gate_bias = _optional_param(use_bias, bias_init, rngs.params(), (out_features,),
                                     param_dtype)
    self.activation = activation
    self.gate = gate
    self._init_stochastic(deterministic, rng_collection, rngs)

  def __call__(self, x, *, deterministic: bool | None = None, rngs=None):
    """Returns the masked (train) or π-weighted (eval) activations."""
    train = self._train(deterministic)
    key = self._key(rngs) if train else None
    return standout(key, x, self.kernel[...], self.gate_kernel[...],
                          bias=_value(self.bias), gate_bias=_value(self.gate_bias),
                          activation=self.activation, gate=self.gate, train=train)


# ----------------------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------------------

class PReLU(nnx.Module):
  """Parametric ReLU with a learned slope ``negative_slope``; wraps :func:`jpatterns.prelu`.

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

  def __init__(self, negative_slope_init: float = 0.01, *, num_channels: int | None = None,
               channel_axis: int = -1, param_dtype=jnp.float32):
    shape = () if num_channels is None else (num_channels,)
    self.negative_slope = nnx.Param(jnp.full(shape, negative_slope_init, param_dtype))
    self.channel_axis = channel_axis

  def __call__(self, x):
    """Returns ``x`` where ``x ≥ 0`` and ``α x`` elsewhere."""
    return _act.prelu(x, self.negative_slope[...], channel_axis=self.channel_axis)


class RReLU(_Stochastic):
  """Randomized leaky ReLU; wraps :func:`jpatterns.rrelu`.

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

  def __init__(self, *, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
               deterministic: bool | None = False, rng_collection: str = "dropout",
               rngs: nnx.Rngs | None = None):
    self.lower, self.upper = lower, upper
    self._init_stochastic(deterministic, rng_collection, rngs)

  def __call__(self, x, *, deterministic: bool | None = None, rngs=None):
    """Returns ``rrelu(x)`` with random (train) or mean (eval) slopes."""
    train = self._train(deterministic)
    key = self._key(rngs) if train else None
    return _act.rrelu(key, x, lower=self.lower, upper=self.upper, train=train)


# ----------------------------------------------------------------------------------------
# Architecture layers
# ----------------------------------------------------------------------------------------

class Residual(nnx.Module):
  """Residual connection ``f(x) + x`` around a branch module; wraps :func:`jpatterns.layers.residual`.

  When ``in_features != out_features`` the shortcut is a learned projection
  ``x W_s`` (``kernel``, shape ``(in, out)``; He et al.'s option B). The branch is a
  sub-module, so ``model.train()`` / ``model.eval()`` reach its flags; call keyword
  arguments go to the branch.

  Args:
    branch: the residual branch ``f`` (an nnx module or any callable of ``x``).
    in_features, out_features: give both, and different, for a projected shortcut.
    kernel_init: initializer of the projection.
    param_dtype: parameter dtype.
    rngs: ``nnx.Rngs`` (needed for the projection only).

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jpatterns.flax import nnx as jnnx
    >>> block = jnnx.Residual(nnx.Linear(2, 2, rngs=nnx.Rngs(0)))
    >>> x = jnp.ones((1, 2))
    >>> bool(jnp.allclose(block(x), block.branch(x) + x))
    True
  """

  def __init__(self, branch: Callable, *, in_features: int | None = None,
               out_features: int | None = None,
               kernel_init: Initializer = _init.lecun_normal(), param_dtype=jnp.float32,
               rngs: nnx.Rngs | None = None):
    self.branch = branch
    if in_features is not None and out_features is not None and in_features != out_features:
      if rngs is None:
        raise ValueError("Residual: in_features != out_features needs a projection; "
                         "pass rngs=nnx.Rngs(0) to initialize it")
      self.kernel = nnx.Param(kernel_init(rngs.params(), (in_features, out_features),
                                          param_dtype))
    else:
      self.kernel = nnx.data(None)

  def __call__(self, x, **kwargs):
    """Returns ``branch(x, **kwargs) + x`` (or ``+ x @ kernel``)."""
    return _layers.residual(lambda v: self.branch(v, **kwargs), x,
                            projection=_value(self.kernel))


class MultiHeadAttention(nnx.Module):
  """Multi-head attention; wraps :func:`jpatterns.layers.multi_head_attention`.

  Parameters ``wq``, ``wk``, ``wv`` (``(D_in, D)``), ``wo`` (``(D, D_out)``) and
  biases ``bq``, ``bk``, ``bv``, ``bo``, initialized by
  :func:`jpatterns.layers.init_multi_head_attention`. Flax's ``(D, H, d_k)`` kernels
  are these reshaped (tested against ``flax.nnx.MultiHeadAttention``).

  Args:
    dim: model dimension ``D``.
    num_heads: number of heads (divides ``D``).
    kv_dim, out_dim: key/value and output features (default ``dim``).
    use_bias: learn the biases.
    causal: mask keys after each query position.
    param_dtype: parameter dtype.
    rngs: ``nnx.Rngs`` for the initializers.

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jpatterns.flax import nnx as jnnx
    >>> mha = jnnx.MultiHeadAttention(8, num_heads=2, rngs=nnx.Rngs(0))
    >>> mha(jnp.ones((3, 5, 8))).shape
    (3, 5, 8)
  """

  def __init__(self, dim: int, *, num_heads: int, kv_dim: int | None = None,
               out_dim: int | None = None, use_bias: bool = True, causal: bool = False,
               param_dtype=jnp.float32, rngs: nnx.Rngs):
    params = _layers.init_multi_head_attention(rngs.params(), dim, kv_dim=kv_dim,
                                               out_dim=out_dim, use_bias=use_bias,
                                               dtype=param_dtype)
    for name in _MHA_NAMES:
      setattr(self, name, nnx.Param(params[name]) if name in params else nnx.data(None))
    self.num_heads = num_heads
    self.causal = causal

  def __call__(self, query, key_value=None, *, mask=None):
    """Attends ``query`` (..., T, D) to ``key_value`` (default: itself).

    Args:
      query: ``(..., T, D_in)``.
      key_value: ``(..., S, D_kv)`` or None.
      mask: boolean, broadcastable to ``(..., H, T, S)``; True = attend.

    Returns:
      ``(..., T, D_out)`` in the dtype of ``query``.
    """
    params = {n: getattr(self, n)[...] for n in _MHA_NAMES if getattr(self, n) is not None}
    return _layers.multi_head_attention(params, query, key_value=key_value,
                                        num_heads=self.num_heads,
                                        mask=mask, causal=self.causal)


_MHA_NAMES = ("wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo")


class LSTMCell(nnx.RNNCellBase):
  """LSTM cell; wraps :func:`jpatterns.layers.lstm_cell` (works with ``nnx.RNN``).

  Parameters ``w_i`` (in, 4H), ``w_h`` (H, 4H), ``b`` (4H,), gates ordered i, f, g, o
  (torch's order), initialized by :func:`jpatterns.layers.init_lstm_params` (forget
  bias 1). The carry is ``(c, h)`` (flax's order).

  Args:
    in_features: input size.
    hidden_features: hidden size H.
    forget_bias: initial bias of the forget gate.
    param_dtype: parameter dtype.
    rngs: ``nnx.Rngs`` for the initializers.

  Example:
    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> from jpatterns.flax import nnx as jnnx
    >>> cell = jnnx.LSTMCell(3, 4, rngs=nnx.Rngs(0))
    >>> carry = cell.initialize_carry((2, 3))
    >>> carry, h = cell(carry, jnp.ones((2, 3)))
    >>> h.shape, nnx.RNN(cell)(jnp.ones((2, 7, 3))).shape
    ((2, 4), (2, 7, 4))
  """

  def __init__(self, in_features: int, hidden_features: int, *, forget_bias: float = 1.0,
               param_dtype=jnp.float32, rngs: nnx.Rngs):
    params = _layers.init_lstm_params(rngs.params(), in_features, hidden_features,
                                      forget_bias=forget_bias, dtype=param_dtype)
    self.w_i = nnx.Param(params["w_i"])
    self.w_h = nnx.Param(params["w_h"])
    self.b = nnx.Param(params["b"])
    self.in_features = in_features
    self.hidden_features = hidden_features

  def __call__(self, carry, inputs):
    """One step: returns ``((c', h'), h')``."""
    params = {"w_i": self.w_i[...], "w_h": self.w_h[...], "b": self.b[...]}
    return _layers.lstm_cell(params, carry, inputs)

  def initialize_carry(self, input_shape, rngs=None, carry_init=None):
    """A zero carry ``(c, h)`` for inputs of shape ``input_shape`` (batch..., in).

    Args:
      input_shape: shape of one step's input; all but the last axis are batch axes.
      rngs: unused (Flax's signature).
      carry_init: unused (zeros, as flax's default).

    Returns:
      ``(c, h)`` of shape ``(*input_shape[:-1], H)`` each.
    """
    del rngs, carry_init
    return _layers.init_lstm_carry(tuple(input_shape[:-1]), self.hidden_features)

  @property
  def num_feature_axes(self) -> int:
    return 1
