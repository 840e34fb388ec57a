"""``flax.nnx`` normalization modules over :mod:`jpatterns.normalization`.

BatchNorm, LayerNorm, GroupNorm, InstanceNorm, RMSNorm and LocalResponseNorm.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
from flax import nnx

from jpatterns import initializers as _init
from jpatterns import normalization as _norm
from jpatterns.flax import _shared
from jpatterns.flax._shared import Initializer
from jpatterns.flax.nnx import _base


class BatchNorm(nnx.Module):
  """Batch normalization with running statistics (:func:`jpatterns.batch_norm`).

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
    eps: ε > 0 added to the variance.
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

  def __init__(
    self,
    num_features: int,
    *,
    use_running_average: bool | None = False,
    feature_axis: int = -1,
    momentum: float = 0.99,
    eps: float = 1e-5,
    use_bias: bool = True,
    use_scale: bool = True,
    bias_init: Initializer = _init.zeros(),
    scale_init: Initializer = _init.ones(),
    param_dtype=jnp.float32,
    axis_name: str | None = None,
    rngs: nnx.Rngs | None = None,
  ):
    _base.check_init(self, locals())
    shape = (num_features,)
    self.mean = nnx.BatchStat(jnp.zeros(shape, param_dtype))
    self.var = nnx.BatchStat(jnp.ones(shape, param_dtype))
    self.scale = _base.optional_param(
      use_scale, scale_init, _base.param_key(rngs), shape, param_dtype
    )
    self.bias = _base.optional_param(use_bias, bias_init, _base.param_key(rngs), shape, param_dtype)
    self.num_features = num_features
    self.use_running_average = use_running_average
    self.feature_axis = feature_axis
    self.momentum = momentum
    self.eps = eps
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
    eval_mode = _base.first(
      use_running_average, self.use_running_average, "use_running_average", "BatchNorm"
    )
    x = jnp.asarray(x)
    _, axes = _shared.batch_norm_axes(x.ndim, self.feature_axis)
    stats = _norm.BatchNormStats(self.mean[...], self.var[...])
    y, new = _norm.batch_norm(
      x,
      stats,
      scale=_base.value(self.scale),
      bias=_base.value(self.bias),
      train=not eval_mode,
      axis=axes,
      momentum=self.momentum,
      eps=self.eps,
      axis_name=self.axis_name,
      mask=mask,
    )
    if not eval_mode:
      self.mean[...] = new.mean
      self.var[...] = new.var
    return y

  def set_view(self, use_running_average: bool | None = None):
    """Used by ``nnx.view``: sets ``use_running_average``."""
    if use_running_average is not None:
      self.use_running_average = use_running_average


class LayerNorm(nnx.Module):
  """Layer normalization (:func:`jpatterns.layer_norm`).

  Args:
    num_features: the shape of ``x`` at ``axis`` (an int for one axis).
    axis: reduced axes (default the last), which also carry γ and β.
    eps: ε > 0.
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

  def __init__(
    self,
    num_features: int | Sequence[int],
    *,
    axis=-1,
    eps: float = 1e-5,
    use_bias: bool = True,
    use_scale: bool = True,
    bias_init: Initializer = _init.zeros(),
    scale_init: Initializer = _init.ones(),
    param_dtype=jnp.float32,
    rngs: nnx.Rngs | None = None,
  ):
    _base.check_init(self, locals())
    shape = _shared.as_tuple(num_features)
    self.scale = _base.optional_param(
      use_scale, scale_init, _base.param_key(rngs), shape, param_dtype
    )
    self.bias = _base.optional_param(use_bias, bias_init, _base.param_key(rngs), shape, param_dtype)
    self.axis = axis
    self.eps = eps

  def __call__(self, x):
    """Returns ``layer_norm(x)`` in the dtype of ``x``."""
    return _norm.layer_norm(
      x, scale=_base.value(self.scale), bias=_base.value(self.bias), axis=self.axis, eps=self.eps
    )


class GroupNorm(nnx.Module):
  """Group normalization (:func:`jpatterns.group_norm`).

  Args:
    num_features: number of channels C.
    num_groups: number of groups G (must divide C).
    channel_axis: the channel axis; the statistics use every axis but 0 (batch).
    eps: ε > 0.
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

  def __init__(
    self,
    num_features: int,
    *,
    num_groups: int = 32,
    channel_axis: int = -1,
    eps: float = 1e-5,
    use_bias: bool = True,
    use_scale: bool = True,
    bias_init: Initializer = _init.zeros(),
    scale_init: Initializer = _init.ones(),
    param_dtype=jnp.float32,
    rngs: nnx.Rngs | None = None,
  ):
    _base.check_init(self, locals())
    shape = (num_features,)
    self.scale = _base.optional_param(
      use_scale, scale_init, _base.param_key(rngs), shape, param_dtype
    )
    self.bias = _base.optional_param(use_bias, bias_init, _base.param_key(rngs), shape, param_dtype)
    self.num_groups = num_groups
    self.channel_axis = channel_axis
    self.eps = eps

  def __call__(self, x):
    """Returns ``group_norm(x)`` in the dtype of ``x``."""
    return _norm.group_norm(
      x,
      scale=_base.value(self.scale),
      bias=_base.value(self.bias),
      num_groups=self.num_groups,
      channel_axis=self.channel_axis,
      eps=self.eps,
    )


class InstanceNorm(nnx.Module):
  """Instance normalization (:func:`jpatterns.instance_norm`).

  Args:
    num_features: number of channels C.
    channel_axis: the channel axis; statistics over every axis but 0 and it.
    eps: ε > 0.
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

  def __init__(
    self,
    num_features: int,
    *,
    channel_axis: int = -1,
    eps: float = 1e-5,
    use_bias: bool = True,
    use_scale: bool = True,
    bias_init: Initializer = _init.zeros(),
    scale_init: Initializer = _init.ones(),
    param_dtype=jnp.float32,
    rngs: nnx.Rngs | None = None,
  ):
    _base.check_init(self, locals())
    shape = (num_features,)
    self.scale = _base.optional_param(
      use_scale, scale_init, _base.param_key(rngs), shape, param_dtype
    )
    self.bias = _base.optional_param(use_bias, bias_init, _base.param_key(rngs), shape, param_dtype)
    self.channel_axis = channel_axis
    self.eps = eps

  def __call__(self, x):
    """Returns ``instance_norm(x)`` in the dtype of ``x``."""
    return _norm.instance_norm(
      x,
      scale=_base.value(self.scale),
      bias=_base.value(self.bias),
      channel_axis=self.channel_axis,
      eps=self.eps,
    )


class RMSNorm(nnx.Module):
  """RMS normalization (:func:`jpatterns.rms_norm`).

  Args:
    num_features: the shape of ``x`` at ``axis``.
    axis: reduced axes (default the last).
    eps: ε > 0 (1e-6, as flax).
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

  def __init__(
    self,
    num_features: int | Sequence[int],
    *,
    axis=-1,
    eps: float = 1e-6,
    use_scale: bool = True,
    scale_init: Initializer = _init.ones(),
    param_dtype=jnp.float32,
    rngs: nnx.Rngs | None = None,
  ):
    _base.check_init(self, locals())
    shape = _shared.as_tuple(num_features)
    self.scale = _base.optional_param(
      use_scale, scale_init, _base.param_key(rngs), shape, param_dtype
    )
    self.axis = axis
    self.eps = eps

  def __call__(self, x):
    """Returns ``rms_norm(x)`` in the dtype of ``x``."""
    return _norm.rms_norm(x, scale=_base.value(self.scale), axis=self.axis, eps=self.eps)


class LocalResponseNorm(nnx.Module):
  """Local response normalization across channels (:func:`jpatterns.local_response_norm`).

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

  def __init__(
    self,
    *,
    size: int,
    k: float = 2.0,
    alpha: float = 1e-4,
    beta: float = 0.75,
    channel_axis: int = -1,
  ):
    _base.check_init(self, locals())
    self.size, self.k, self.alpha, self.beta = size, k, alpha, beta
    self.channel_axis = channel_axis

  def __call__(self, x):
    """Returns ``local_response_norm(x)`` in the dtype of ``x``."""
    return _norm.local_response_norm(
      x, size=self.size, k=self.k, alpha=self.alpha, beta=self.beta, channel_axis=self.channel_axis
    )
