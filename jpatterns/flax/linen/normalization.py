"""``flax.linen`` normalization modules over :mod:`jpatterns.normalization`.

BatchNorm, LayerNorm, GroupNorm, InstanceNorm, RMSNorm and LocalResponseNorm.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from jpatterns import initializers as _init
from jpatterns import normalization as _norm
from jpatterns.flax import _shared
from jpatterns.flax._shared import Initializer
from jpatterns.flax.linen import _base


@_base.checked
class BatchNorm(nn.Module):
  """Batch normalization with running statistics (:func:`jpatterns.batch_norm`).

  ``mean`` / ``var`` live in ``"batch_stats"`` and are updated (``momentum · old +
  (1 − momentum) · batch``) when ``use_running_average`` is False and the collection is
  mutable, not during ``init``. ``axis_name`` gives cross-device statistics.

  Attributes:
    use_running_average: eval flag (or pass it to the call).
    feature_axis: the feature axis (Flax's ``axis``); every other axis is reduced.
    momentum: weight of the old running value.
    eps: ε > 0.
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
  eps: float = 1e-5
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
    eval_mode = nn.merge_param("use_running_average", self.use_running_average, use_running_average)
    x = jnp.asarray(x)
    feat, axes = _shared.batch_norm_axes(x.ndim, self.feature_axis)
    shape = (x.shape[feat],)
    mean = self.variable("batch_stats", "mean", jnp.zeros, shape, self.param_dtype)
    var = self.variable("batch_stats", "var", jnp.ones, shape, self.param_dtype)
    scale, bias = _base.scale_bias(self, shape)
    y, new = _norm.batch_norm(
      x,
      _norm.BatchNormStats(mean.value, var.value),
      scale=scale,
      bias=bias,
      train=not eval_mode,
      axis=axes,
      momentum=self.momentum,
      eps=self.eps,
      axis_name=self.axis_name,
      mask=mask,
    )
    if not eval_mode and not self.is_initializing():
      mean.value, var.value = new.mean, new.var
    return y


@_base.checked
class LayerNorm(nn.Module):
  """Layer normalization (:func:`jpatterns.layer_norm`).

  Attributes:
    axis: reduced axes (default the last), which also carry γ and β.
    eps: ε > 0.
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
  eps: float = 1e-5
  use_bias: bool = True
  use_scale: bool = True
  bias_init: Initializer = _init.zeros()
  scale_init: Initializer = _init.ones()
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    """Returns ``layer_norm(x)`` in the dtype of ``x``."""
    x = jnp.asarray(x)
    shape = tuple(x.shape[a] for a in _shared.as_tuple(self.axis))
    scale, bias = _base.scale_bias(self, shape)
    return _norm.layer_norm(x, scale=scale, bias=bias, axis=self.axis, eps=self.eps)


@_base.checked
class GroupNorm(nn.Module):
  """Group normalization (:func:`jpatterns.group_norm`).

  Attributes:
    num_groups: number of groups (divides the channels).
    channel_axis: the channel axis; statistics over every axis but 0 (batch).
    eps: ε > 0.
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
  eps: float = 1e-5
  use_bias: bool = True
  use_scale: bool = True
  bias_init: Initializer = _init.zeros()
  scale_init: Initializer = _init.ones()
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    """Returns ``group_norm(x)`` in the dtype of ``x``."""
    x = jnp.asarray(x)
    shape = (_shared.channel_size("GroupNorm", x.shape, self.channel_axis),)
    scale, bias = _base.scale_bias(self, shape)
    return _norm.group_norm(
      x,
      scale=scale,
      bias=bias,
      num_groups=self.num_groups,
      channel_axis=self.channel_axis,
      eps=self.eps,
    )


@_base.checked
class InstanceNorm(nn.Module):
  """Instance normalization (:func:`jpatterns.instance_norm`).

  Attributes:
    channel_axis: the channel axis; statistics over every axis but 0 and it.
    eps: ε > 0.
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
  eps: float = 1e-5
  use_bias: bool = True
  use_scale: bool = True
  bias_init: Initializer = _init.zeros()
  scale_init: Initializer = _init.ones()
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    """Returns ``instance_norm(x)`` in the dtype of ``x``."""
    x = jnp.asarray(x)
    shape = (_shared.channel_size("InstanceNorm", x.shape, self.channel_axis),)
    scale, bias = _base.scale_bias(self, shape)
    return _norm.instance_norm(
      x, scale=scale, bias=bias, channel_axis=self.channel_axis, eps=self.eps
    )


@_base.checked
class RMSNorm(nn.Module):
  """RMS normalization (:func:`jpatterns.rms_norm`).

  Attributes:
    axis: reduced axes (default the last).
    eps: ε > 0 (1e-6, as flax).
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
  eps: float = 1e-6
  use_scale: bool = True
  scale_init: Initializer = _init.ones()
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    """Returns ``rms_norm(x)`` in the dtype of ``x``."""
    x = jnp.asarray(x)
    shape = tuple(x.shape[a] for a in _shared.as_tuple(self.axis))
    scale = _base.optional_param(self, self.use_scale, "scale", self.scale_init, shape)
    return _norm.rms_norm(x, scale=scale, axis=self.axis, eps=self.eps)


@_base.checked
class LocalResponseNorm(nn.Module):
  """Local response normalization across channels (:func:`jpatterns.local_response_norm`).

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
    return _norm.local_response_norm(
      x, size=self.size, k=self.k, alpha=self.alpha, beta=self.beta, channel_axis=self.channel_axis
    )
