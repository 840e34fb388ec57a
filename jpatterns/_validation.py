"""Argument checks shared by every module (trace-time, plain Python values).

Each helper raises ``ValueError`` with the function name, the argument, the value
received and what would be valid, e.g.::

  ValueError: dropout: rate=1.5 is outside [0, 1); choose rate in [0, 1)

What is checked. A hyperparameter may be a Python or NumPy number or a *concrete*
0-d array (``jnp.array(0.1)``): it is converted to a Python number and checked. NaN
and ±inf are refused everywhere unless a helper is told ``allow_inf=True``. A string,
a bool, a list or an array of rank ≥ 1 where a number is expected is refused. A
traced value (a hyperparameter passed through ``jit`` or ``optax.inject_hyperparams``'
jitted update) cannot be checked at trace time and is let through unchecked: the
checks never add work inside a compiled program.

Arrays: :func:`as_array` refuses lists, strings and other non-arrays by name (jax.numpy
refuses lists too, with a less helpful message). Keys: :func:`check_key` refuses an
integer seed where a PRNG key is expected.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np


def is_traced(value: Any) -> bool:
  """True for a value being traced by jit/vmap/grad (not checkable at trace time)."""
  return isinstance(value, jax.core.Tracer)


def is_static_number(value: Any) -> bool:
  """True for a Python/NumPy real number (not a bool), False for arrays and traced values."""
  return (
    isinstance(value, numbers.Real)
    and not isinstance(value, (bool, np.bool_))
    and not isinstance(value, jax.core.Tracer)
  )


def _show(value: Any) -> str:
  text = repr(value)
  return text if len(text) <= 60 else text[:57] + "..."


def number(fn: str, name: str, value: Any) -> float | int | None:
  """The Python number behind a scalar hyperparameter; None when it is traced.

  Accepts Python/NumPy real numbers and concrete 0-d real arrays (jax or NumPy);
  raises ``ValueError`` naming ``name`` for anything else (str, bool, None, list,
  complex, an array of rank ≥ 1).
  """
  if isinstance(value, jax.core.Tracer):
    return None
  if is_static_number(value):
    return value
  if isinstance(value, (jax.Array, np.ndarray, np.generic)):
    dtype = np.dtype(value.dtype) if not jnp.issubdtype(value.dtype, jax.dtypes.prng_key) else None
    if dtype is not None and dtype.kind in "iuf" and np.ndim(value) == 0:
      return value.item()
    what = f"an array of shape {tuple(np.shape(value))} and dtype {value.dtype}"
  else:
    what = f"a {type(value).__name__}"
  raise ValueError(f"{fn}: {name}={_show(value)} is {what}; pass a real number (a float)")


def _not_finite(v) -> bool:
  return isinstance(v, float) and not math.isfinite(v)


def _interval(lo, hi, lo_open, hi_open) -> str:
  return f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"


def check_finite(fn: str, name: str, value: Any) -> None:
  """Raises ValueError unless ``value`` is a finite real number (or traced)."""
  v = number(fn, name, value)
  if v is not None and (v != v or _not_finite(float(v))):
    raise ValueError(f"{fn}: {name}={_show(value)} must be a finite number")


def check_in_range(
  fn: str,
  name: str,
  value: Any,
  lo: float,
  hi: float,
  *,
  lo_open: bool = False,
  hi_open: bool = False,
) -> None:
  """Raises ValueError unless ``value`` lies in the interval lo..hi (NaN refused)."""
  v = number(fn, name, value)
  if v is None:
    return
  ok_lo = v > lo if lo_open else v >= lo
  ok_hi = v < hi if hi_open else v <= hi
  if not (ok_lo and ok_hi):  # also catches NaN
    interval = _interval(lo, hi, lo_open, hi_open)
    raise ValueError(
      f"{fn}: {name}={_show(value)} is outside {interval}; choose {name} in {interval}"
    )


def check_positive(fn: str, name: str, value: Any, *, allow_inf: bool = False) -> None:
  """Raises ValueError unless ``0 < value < inf`` (``value = inf`` too with ``allow_inf``)."""
  v = number(fn, name, value)
  if v is None:
    return
  if not v > 0 or (v == math.inf and not allow_inf):  # `not v > 0` catches NaN
    bound = "> 0" if allow_inf else "> 0 and finite"
    raise ValueError(f"{fn}: {name}={_show(value)} must be {bound}")


def check_non_negative(fn: str, name: str, value: Any, *, allow_inf: bool = False) -> None:
  """Raises ValueError unless ``0 <= value < inf`` (``value = inf`` too with ``allow_inf``)."""
  v = number(fn, name, value)
  if v is None:
    return
  if not v >= 0 or (v == math.inf and not allow_inf):
    bound = ">= 0" if allow_inf else ">= 0 and finite"
    raise ValueError(f"{fn}: {name}={_show(value)} must be {bound}")


def check_positive_int(fn: str, name: str, value: Any) -> None:
  """Raises ValueError unless ``value`` is an int >= 1 (bools and floats are refused)."""
  v = _int_or_none(value)
  if v is None or v < 1:
    raise ValueError(f"{fn}: {name}={_show(value)} must be an integer >= 1")


def check_non_negative_int(fn: str, name: str, value: Any) -> None:
  """Raises ValueError unless ``value`` is an int >= 0 (bools and floats are refused)."""
  v = _int_or_none(value)
  if v is None or v < 0:
    raise ValueError(f"{fn}: {name}={_show(value)} must be an integer >= 0")


def _int_or_none(value):
  if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
    if isinstance(value, (jax.Array, np.ndarray)) and not is_traced(value):
      if np.ndim(value) == 0 and np.dtype(value.dtype).kind in "iu":
        return int(value)
    return None
  return int(value)


def check_bool(fn: str, name: str, value: Any) -> None:
  """Raises ValueError unless ``value`` is a Python/NumPy bool (a traced flag passes)."""
  if not isinstance(value, (bool, np.bool_)) and not is_traced(value):
    raise ValueError(f"{fn}: {name}={_show(value)} must be True or False")


def check_choice(fn: str, name: str, value: Any, choices) -> None:
  """Raises ValueError unless ``value`` is one of ``choices``."""
  if not any(type(value) is type(c) and value == c for c in choices):
    valid = ", ".join(repr(c) for c in choices)
    raise ValueError(f"{fn}: {name}={_show(value)} is not valid; choose one of {valid}")


def check_callable(fn: str, name: str, value: Any) -> None:
  """Raises ValueError unless ``value`` is callable."""
  if not callable(value):
    raise ValueError(f"{fn}: {name}={_show(value)} is not callable; pass a function")


def _is_array_like(x: Any) -> bool:
  if isinstance(x, (jax.core.Tracer, jax.Array)):
    return True
  if isinstance(x, np.ndarray):
    return x.dtype.kind in "biuf"
  if isinstance(x, (str, bytes, list, tuple, dict)) or x is None:
    return False
  if isinstance(x, (numbers.Real, np.generic)):
    return True
  return hasattr(x, "__jax_array__")


def as_array(fn: str, name: str, x: Any) -> jax.Array:
  """``jnp.asarray(x)`` for an array or a number; ValueError naming ``name`` otherwise.

  Lists, tuples, strings and None are refused (as ``jax.numpy`` refuses lists), and so
  are PRNG key arrays where data is expected.
  """
  if not _is_array_like(x):
    hint = f"jnp.asarray({name})" if isinstance(x, (list, tuple)) else "a jax or NumPy array"
    raise ValueError(f"{fn}: {name} is a {type(x).__name__}, not an array; pass {hint}")
  x = jnp.asarray(x)
  if jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
    raise ValueError(f"{fn}: {name} is a PRNG key array; pass the data array here")
  return x


def as_float_array(fn: str, name: str, x: Any) -> jax.Array:
  """:func:`as_array`, with integer and boolean inputs promoted to float32."""
  x = as_array(fn, name, x)
  if not jnp.issubdtype(x.dtype, jnp.inexact):
    x = x.astype(jnp.float32)
  return x


def check_key(fn: str, name: str, key: Any) -> None:
  """Raises ValueError unless ``key`` is one PRNG key (``jax.random.key(seed)``).

  A typed key of shape ``()`` or a raw ``uint32[2]`` key (``jax.random.PRNGKey``)
  is accepted; an int seed, None, a float array or a batch of keys is refused.
  """
  if isinstance(key, (jax.Array, jax.core.Tracer)):
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
      if key.ndim == 0:
        return
      raise ValueError(
        f"{fn}: {name} has shape {key.shape}; pass one key (for per-example keys, "
        f"jax.vmap over jax.random.split(key, n))"
      )
    if key.dtype == jnp.uint32 and key.shape == (2,):
      return
  raise ValueError(
    f"{fn}: {name}={_show(key)} is not a PRNG key; pass jax.random.key(seed), not an integer seed"
  )


def axis_tuple(fn: str, name: str, axis: Any) -> tuple[int, ...]:
  """An int or a sequence of ints as a tuple of Python ints (floats, bools refused)."""

  def one(a):
    if isinstance(a, (bool, np.bool_)) or not isinstance(a, (int, np.integer)):
      raise ValueError(f"{fn}: {name}={_show(axis)} must be an int or a sequence of ints")
    return int(a)

  if isinstance(axis, (list, tuple)):
    return tuple(one(a) for a in axis)
  return (one(axis),)


def canonical_axes(fn: str, name: str, axis, ndim: int) -> tuple[int, ...]:
  """Normalizes an int or a sequence of ints to sorted non-negative axes."""
  axes = axis_tuple(fn, name, axis)
  out = []
  for a in axes:
    if not -ndim <= a < ndim:
      raise ValueError(
        f"{fn}: {name}={axis!r} is out of range for an input of rank {ndim}; "
        f"use axes in [{-ndim}, {ndim - 1}]"
      )
    out.append(a % ndim)
  if len(set(out)) != len(out):
    raise ValueError(f"{fn}: {name}={axis!r} repeats an axis")
  return tuple(sorted(out))


def canonical_axis(fn: str, name: str, axis, ndim: int) -> int:
  """One axis (an int) normalized to ``[0, ndim)``."""
  if isinstance(axis, (list, tuple)):
    raise ValueError(f"{fn}: {name}={axis!r} must be one int axis")
  return canonical_axes(fn, name, axis, ndim)[0]


def shape_tuple(fn: str, name: str, shape: Any) -> tuple[int, ...]:
  """An int or a sequence of ints >= 0 as a tuple of Python ints."""
  dims = (shape,) if not isinstance(shape, (list, tuple)) else tuple(shape)
  for d in dims:
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)) or d < 0:
      raise ValueError(
        f"{fn}: {name}={_show(shape)} is not a shape; pass an int or a tuple of ints >= 0"
      )
  return tuple(int(d) for d in dims)


def float_dtype(fn: str, name: str, dtype: Any) -> np.dtype:
  """``dtype`` as a floating NumPy dtype (float16, bfloat16, float32, float64)."""
  try:
    dt = jnp.dtype(dtype)
  except TypeError:
    dt = None
  if dt is None or not jnp.issubdtype(dt, jnp.floating) or isinstance(dtype, (int, float)):
    shown = _show(dtype) if dt is None or isinstance(dtype, (int, float)) else dt.name
    raise ValueError(
      f"{fn}: {name}={shown} is not a real floating dtype; choose float32, bfloat16, "
      "float16 or float64"
    )
  return dt
