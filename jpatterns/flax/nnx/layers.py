"""``flax.nnx`` architecture layers over :mod:`jpatterns.layers`.

Residual, MultiHeadAttention and LSTMCell.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
from flax import nnx

from jpatterns import initializers as _init
from jpatterns import layers as _layers
from jpatterns.flax import _shared
from jpatterns.flax._shared import Initializer
from jpatterns.flax.nnx import _base


class Residual(nnx.Module):
  """Residual connection ``f(x) + x`` around a branch module (:func:`jpatterns.layers.residual`).

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

  def __init__(
    self,
    branch: Callable,
    *,
    in_features: int | None = None,
    out_features: int | None = None,
    kernel_init: Initializer = _init.lecun_normal(),
    param_dtype=jnp.float32,
    rngs: nnx.Rngs | None = None,
  ):
    _base.check_init(self, locals())
    self.branch = branch
    if in_features is not None and out_features is not None and in_features != out_features:
      if rngs is None:
        raise ValueError(
          "Residual: in_features != out_features needs a projection; "
          "pass rngs=nnx.Rngs(0) to initialize it"
        )
      self.kernel = nnx.Param(kernel_init(rngs.params(), (in_features, out_features), param_dtype))
    else:
      self.kernel = nnx.data(None)

  def __call__(self, x, **kwargs):
    """Returns ``branch(x, **kwargs) + x`` (or ``+ x @ kernel``)."""
    return _layers.residual(
      lambda v: self.branch(v, **kwargs), x, projection=_base.value(self.kernel)
    )


class MultiHeadAttention(nnx.Module):
  """Multi-head attention (:func:`jpatterns.layers.multi_head_attention`).

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

  def __init__(
    self,
    dim: int,
    *,
    num_heads: int,
    kv_dim: int | None = None,
    out_dim: int | None = None,
    use_bias: bool = True,
    causal: bool = False,
    param_dtype=jnp.float32,
    rngs: nnx.Rngs,
  ):
    _base.check_init(self, locals())
    params = _layers.init_multi_head_attention(
      rngs.params(), dim, kv_dim=kv_dim, out_dim=out_dim, use_bias=use_bias, dtype=param_dtype
    )
    for name in _shared.MHA_NAMES:
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
    params = {n: getattr(self, n)[...] for n in _shared.MHA_NAMES if getattr(self, n) is not None}
    return _layers.multi_head_attention(
      params, query, key_value=key_value, num_heads=self.num_heads, mask=mask, causal=self.causal
    )


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

  def __init__(
    self,
    in_features: int,
    hidden_features: int,
    *,
    forget_bias: float = 1.0,
    param_dtype=jnp.float32,
    rngs: nnx.Rngs,
  ):
    _base.check_init(self, locals())
    params = _layers.init_lstm_params(
      rngs.params(), in_features, hidden_features, forget_bias=forget_bias, dtype=param_dtype
    )
    self.w_i = nnx.Param(params["w_i"])
    self.w_h = nnx.Param(params["w_h"])
    self.b = nnx.Param(params["b"])
    self.in_features = in_features
    self.hidden_features = hidden_features

  def __call__(self, carry, inputs):
    """One step: returns ``((c', h'), h')``."""
    params = {n: getattr(self, n)[...] for n in _shared.LSTM_NAMES}
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
