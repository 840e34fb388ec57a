"""What :mod:`jpatterns.flax.nnx` and :mod:`jpatterns.flax.linen` both need, written once.

Only plain helpers on shapes and names; no Flax import, so either API's modules can use
them. Anything that declares a variable (``nnx.Param`` / ``Module.param``) or handles a
flag or key is API-specific and lives in that package's ``_base``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax

from jpatterns import _validation as val

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
  """The feature axis (non-negative) and the reduced axes (every other) of BatchNorm.

  ``feature_axis`` outside ``[-ndim, ndim - 1]`` raises ValueError (it is not taken modulo
  ``ndim``, which would silently normalize over the wrong axes).
  """
  feat = val.canonical_axis("BatchNorm", "feature_axis", feature_axis, ndim)
  return feat, tuple(i for i in range(ndim) if i != feat)


def channel_size(owner: str, shape: Sequence[int], channel_axis: int) -> int:
  """``shape[channel_axis]``, a ValueError naming ``channel_axis`` when it is out of range."""
  return shape[val.canonical_axis(owner, "channel_axis", channel_axis, len(shape))]


# ---------------------------------------------------------------------------------------
# Construction-time checks of the modules' arguments: one table, by argument name, for
# both APIs (nnx ``__init__``, linen ``__post_init__``), so a bad rate or eps fails
# where the module is built, naming the argument, not at the first call.
# ---------------------------------------------------------------------------------------


def _posint(owner, name, v):
  val.check_positive_int(owner, name, v)


def _features(owner, name, v):
  # LayerNorm / RMSNorm normalize over one or more axes: a tuple of sizes is valid there.
  many = isinstance(v, (list, tuple)) and owner in ("LayerNorm", "RMSNorm")
  for d in v if many else (v,):
    val.check_positive_int(owner, name, d)


def _one_axis(owner, name, v):
  if isinstance(v, (list, tuple)):
    raise ValueError(f"{owner}: {name}={v!r} must be one int axis")
  val.axis_tuple(owner, name, v)


_axes = val.axis_tuple


def _unit(owner, name, v):
  val.check_in_range(owner, name, v, 0.0, 1.0)


_pos = val.check_positive


_nonneg = val.check_non_negative


_finite = val.check_finite


_flag = val.check_bool


_fn = val.check_callable


_dtype = val.float_dtype


def _str(owner, name, v):
  if not isinstance(v, str):
    raise ValueError(f"{owner}: {name}={v!r} must be a string")


def _axis_name(owner, name, v):
  names = v if isinstance(v, tuple) else (v,)
  if not all(isinstance(n, str) for n in names):
    raise ValueError(f"{owner}: {name}={v!r} must be a mapped-axis name (a str) or None")


CHECKS: dict[str, Callable] = {
  "num_features": _features,
  "features": _posint,
  "in_features": _posint,
  "out_features": _posint,
  "hidden_features": _posint,
  "dim": _posint,
  "kv_dim": _posint,
  "out_dim": _posint,
  "num_channels": _posint,
  "num_groups": _posint,
  "num_heads": _posint,
  "num_samples": _posint,
  "size": _posint,
  "n_steps": _posint,
  "feature_axis": _one_axis,
  "channel_axis": _one_axis,
  "batch_axis": _one_axis,
  "axis": _axes,
  "broadcast_dims": _axes,
  "momentum": _unit,
  "rate": _unit,
  "lower": _unit,
  "upper": _unit,
  "eps": _pos,
  "k": _pos,
  "alpha": _nonneg,
  "beta": _finite,
  "negative_slope_init": _finite,
  "forget_bias": _finite,
  "use_bias": _flag,
  "use_scale": _flag,
  "inverted": _flag,
  "causal": _flag,
  "per_channel": _flag,
  "use_running_average": _flag,
  "deterministic": _flag,
  "update_stats": _flag,
  "bias_init": _fn,
  "scale_init": _fn,
  "kernel_init": _fn,
  "gate": _fn,
  "branch": _fn,
  "activation": _fn,
  "param_dtype": _dtype,
  "axis_name": _axis_name,
  "rng_collection": _str,
}


def check_config(owner: str, params: dict, nullable=()) -> None:
  """Checks a module's constructor arguments by name (:data:`CHECKS`).

  None is accepted only for the arguments in ``nullable`` (those whose default is
  None); an argument whose name the table does not know (``rngs``, handled by each
  API) is skipped.
  """
  for name, value in params.items():
    check = CHECKS.get(name)
    if check is None:
      continue
    if value is None:
      if name not in nullable:
        raise ValueError(f"{owner}: {name}=None is not valid; pass a value or leave the default")
      continue
    check(owner, name, value)
  lower, upper = params.get("lower"), params.get("upper")
  if lower is not None and upper is not None:

    def order(lower, upper):
      if lower > upper:
        raise ValueError(f"{owner}: lower={lower!r} > upper={upper!r}; choose lower <= upper")

    val.check_numbers(owner, order, lower=lower, upper=upper)
