"""``flax.linen`` dense layers with a normalized kernel: WeightNormDense, SpectralNormDense.

The kernel goes through :func:`jpatterns.weight_norm` / :func:`jpatterns.spectral_norm`,
then :func:`jpatterns.layers._dense` applies it.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jpatterns import initializers as _init
from jpatterns import normalization as _norm
from jpatterns.flax._shared import Initializer
from jpatterns.flax.linen import _base
from jpatterns.layers import _dense


@_base.checked
class WeightNormDense(nn.Module):
  """Dense layer with a weight-normalized kernel ``w = g · v/‖v‖`` (:func:`jpatterns.weight_norm`).

  ``kernel`` is ``v`` (in, out), ``scale`` is ``g`` (out,), ones at init: the same
  numbers as ``flax.linen.WeightNorm(nn.Dense(features))`` (tested).

  Attributes:
    features: output size.
    use_bias: add a bias.
    kernel_init, bias_init, scale_init: initializers.
    eps: ε under the square root of ‖v‖.
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
  eps: float = 1e-12
  param_dtype: Any = jnp.float32

  @nn.compact
  def __call__(self, x):
    """Returns ``x @ weight_norm(kernel, scale) + bias``."""
    x = jnp.asarray(x)
    v = self.param("kernel", self.kernel_init, (x.shape[-1], self.features), self.param_dtype)
    g = self.param("scale", self.scale_init, (self.features,), self.param_dtype)
    b = _base.optional_param(self, self.use_bias, "bias", self.bias_init, (self.features,))
    return _dense(x, _norm.weight_norm(v, g, eps=self.eps), b)


@_base.checked
class SpectralNormDense(nn.Module):
  """Dense layer with a spectrally normalized kernel ``W/σ(W)`` (:func:`jpatterns.spectral_norm`).

  The power-iteration vector ``u`` (``(1, out)``, standard normal) is in
  ``"batch_stats"``; it is stored back when ``update_stats`` (Flax's flag) is True.

  Attributes:
    features: output size.
    n_steps: power-iteration steps per call.
    eps: ε of the l2 normalizations.
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
  eps: float = 1e-12
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
    w = self.param("kernel", self.kernel_init, (x.shape[-1], self.features), self.param_dtype)
    b = _base.optional_param(self, self.use_bias, "bias", self.bias_init, (self.features,))
    u = self.variable(
      "batch_stats",
      "u",
      lambda: jax.random.normal(self.make_rng("params"), (1, self.features), self.param_dtype),
    )
    wn, new_u = _norm.spectral_norm(w, u.value, n_steps=self.n_steps, eps=self.eps)
    if update and not self.is_initializing():
      u.value = new_u
    return _dense(x, wn, b)
