"""``flax.linen`` architecture layers over :mod:`jpatterns.layers`.

Residual, MultiHeadAttention and LSTMCell.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from jpatterns import initializers as _init
from jpatterns import layers as _layers
from jpatterns.flax import _shared
from jpatterns.flax._shared import Initializer
from jpatterns.flax.linen import _base


@_base.checked
class Residual(nn.Module):
  """Residual connection ``f(x) + x`` around a branch module (:func:`jpatterns.layers.residual`).

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
      kernel = self.param(
        "kernel", self.kernel_init, (x.shape[-1], self.features), self.param_dtype
      )
    return _layers.residual(lambda v: self.branch(v, **kwargs), x, projection=kernel)


@_base.checked
class MultiHeadAttention(nn.Module):
  """Multi-head attention (:func:`jpatterns.layers.multi_head_attention`).

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
          key,
          dim,
          kv_dim=kv.shape[-1],
          out_dim=self.out_dim,
          use_bias=self.use_bias,
          dtype=self.param_dtype,
        )[name]

      return fn

    names = _shared.MHA_NAMES if self.use_bias else _shared.MHA_KERNEL_NAMES
    params = {n: self.param(n, init(n)) for n in names}
    return _layers.multi_head_attention(
      params, query, key_value=key_value, num_heads=self.num_heads, mask=mask, causal=self.causal
    )


@_base.checked
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
        return _layers.init_lstm_params(
          key, in_features, self.features, forget_bias=self.forget_bias, dtype=self.param_dtype
        )[name]

      return fn

    params = {n: self.param(n, init(n)) for n in _shared.LSTM_NAMES}
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
