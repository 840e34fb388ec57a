"""``flax.nnx`` dense layers with a normalized kernel: WeightNormDense, SpectralNormDense.

The kernel goes through :func:`jpatterns.weight_norm` / :func:`jpatterns.spectral_norm`,
then :func:`jpatterns.layers._dense` applies it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from jpatterns import initializers as _init
from jpatterns import normalization as _norm
from jpatterns.flax._shared import Initializer
from jpatterns.flax.nnx import _base
from jpatterns.layers import _dense


class WeightNormDense(nnx.Module):
  """Dense layer with a weight-normalized kernel ``w = g · v/‖v‖`` (:func:`jpatterns.weight_norm`).

  ``kernel`` is the direction ``v`` (in, out), ``scale`` the per-output length ``g``
  (ones, as flax's ``WeightNorm``), so ``y = x (g · v/‖v‖) + b`` with ‖·‖ over the
  input axis. Same numbers as ``flax.linen.WeightNorm(nn.Dense(out))`` (tested).

  Args:
    in_features, out_features: kernel shape.
    use_bias: add a bias.
    kernel_init, bias_init, scale_init: initializers (lecun normal, zeros, ones).
    eps: ε under the square root of ‖v‖.
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

  def __init__(
    self,
    in_features: int,
    out_features: int,
    *,
    use_bias: bool = True,
    kernel_init: Initializer = _init.lecun_normal(),
    bias_init: Initializer = _init.zeros(),
    scale_init: Initializer = _init.ones(),
    eps: float = 1e-12,
    param_dtype=jnp.float32,
    rngs: nnx.Rngs,
  ):
    _base.check_init(self, locals())
    self.kernel = nnx.Param(kernel_init(rngs.params(), (in_features, out_features), param_dtype))
    self.scale = nnx.Param(scale_init(rngs.params(), (out_features,), param_dtype))
    self.bias = _base.optional_param(
      use_bias, bias_init, rngs.params(), (out_features,), param_dtype
    )
    self.eps = eps

  def __call__(self, x):
    """Returns ``x @ weight_norm(kernel, scale) + bias``."""
    w = _norm.weight_norm(self.kernel[...], self.scale[...], eps=self.eps)
    return _dense(jnp.asarray(x), w, _base.value(self.bias))


class SpectralNormDense(nnx.Module):
  """Dense layer with a spectrally normalized kernel ``W/σ(W)`` (:func:`jpatterns.spectral_norm`).

  The power-iteration vector ``u`` (shape ``(1, out)``, standard normal, as flax) is an
  ``nnx.BatchStat``: updated in train mode, read only in eval mode (``model.eval()``
  sets ``use_running_average=True``, Flax's own trick for its ``update_stats``).
  The power iteration runs in both modes, as flax's ``SpectralNorm``.

  Args:
    in_features, out_features: kernel shape.
    n_steps: power-iteration steps per call.
    eps: ε of the l2 normalizations.
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

  def __init__(
    self,
    in_features: int,
    out_features: int,
    *,
    n_steps: int = 1,
    eps: float = 1e-12,
    update_stats: bool = True,
    use_bias: bool = True,
    kernel_init: Initializer = _init.lecun_normal(),
    bias_init: Initializer = _init.zeros(),
    param_dtype=jnp.float32,
    rngs: nnx.Rngs,
  ):
    _base.check_init(self, locals())
    self.kernel = nnx.Param(kernel_init(rngs.params(), (in_features, out_features), param_dtype))
    self.bias = _base.optional_param(
      use_bias, bias_init, rngs.params(), (out_features,), param_dtype
    )
    self.u = nnx.BatchStat(jax.random.normal(rngs.params(), (1, out_features), param_dtype))
    self.n_steps = n_steps
    self.eps = eps
    self.use_running_average = not update_stats

  def __call__(self, x, update_stats: bool | None = None):
    """Returns ``x @ (W/σ) + bias``; updates ``u`` when ``update_stats``."""
    update = (not self.use_running_average) if update_stats is None else update_stats
    w, u = _norm.spectral_norm(self.kernel[...], self.u[...], n_steps=self.n_steps, eps=self.eps)
    if update:
      self.u[...] = u
    return _dense(jnp.asarray(x), w, _base.value(self.bias))

  def set_view(self, use_running_average: bool | None = None):
    """Used by ``nnx.view``: sets ``use_running_average`` (= not update_stats)."""
    if use_running_average is not None:
      self.use_running_average = use_running_average
