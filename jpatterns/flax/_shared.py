"""What :mod:`jpatterns.flax.nnx` and :mod:`jpatterns.flax.linen` both need, written once.

Only plain helpers on shapes and names; no Flax import, so either API's modules can use
them. Anything that declares a variable (``nnx.Param`` / ``Module.param``) or handles a
flag or key is API-specific and lives in that package's ``_base``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax

Initializer = Callable[..., jax.Array]

# Parameter names of MultiHeadAttention (kernels, then biases; as
# jpatterns.layers.init_multi_head_attention) and of LSTMCell (as init_lstm_params).
MHA_NAMES = ("wq", "wk", "wv", "wo", "bq", "bk", "bv", "bo")
MHA_KERNEL_NAMES = MHA_NAMES[:4]
LSTM_NAMES = ("w_i", "w_h", "b")


def as_tuple(value: int | Sequence[int]) -> tuple[int, ...]:
  """An int -> ``(int,)``; a sequence of ints -> a tuple."""
  return (value,) if isinstance(value, int) else tuple(value)


def batch_norm_axes(ndim: int, feature_axis: int) -> tuple[int, tuple[int, ...]]:
  """The feature axis (non-negative) and the reduced axes (every other) of BatchNorm."""
  feat = feature_axis % ndim
  return feat, tuple(i for i in range(ndim) if i != feat)
