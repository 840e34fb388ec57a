"""Argument checks shared by every module, and the opt-in checked mode for traced values.

Each helper raises ``ValueError`` with the function name, the argument, the value
received and what would be valid, e.g.::

  ValueError: dropout: rate=1.5 is outside [0.0, 1.0]; choose rate in [0.0, 1.0]

What is checked. A hyperparameter may be a Python or NumPy number or a *concrete*
0-d array (``jnp.array(0.1)``): it is converted to a Python number and checked when the
function is called (or traced). NaN and ±inf are refused everywhere unless a helper is
told ``allow_inf=True``. A string, a bool, a list or an array of rank ≥ 1 where a number
is expected is refused.

Traced values. A hyperparameter passed through ``jit`` (``jax.jit(f)(1.5)``), ``vmap``,
``grad`` or ``optax.inject_hyperparams`` is a tracer: its value does not exist at trace
time. By default it is let through unchecked and the checks add nothing to the traced
program. In *checked mode* (:func:`checking`, off by default) every number check that
meets a traced value instead adds a ``jax.debug.callback`` that runs the same check on the
concrete value when the program runs (every element of a ``vmap`` batch), so the error
text is the one the static check gives for that value. Under ``jit`` JAX wraps the
``ValueError`` in a ``jax.errors.JaxRuntimeError`` whose message ends with it; without
``jit`` (``grad``/``vmap`` applied eagerly) the ``ValueError`` itself is raised. The
checked mode is for debugging: each checked hyperparameter costs a device-to-host copy
and a Python call per execution.

Arrays: :func:`as_array` refuses lists, strings and other non-arrays by name (jax.numpy
refuses lists too, with a less helpful message). Keys: :func:`check_key` refuses an
integer seed where a PRNG key is expected.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# ----------------------------------------------------------------------------- checked mode

ENV = "JPATTERNS_CHECKING"


def _from_environment() -> bool:
  value = os.environ.get(ENV, "").strip()
  if value in ("", "0"):
    return False
  if value == "1":
    return True
  raise ValueError(f"{ENV}={value!r} is not valid; set it to 1 (checked mode on) or 0 (off)")


_checking: bool = _from_environment()


def is_checking() -> bool:
  """Whether the checked mode is on (see :func:`checking`).

  Returns:
    ``True`` when number checks that meet a traced value add a run-time check.

  Example:
    >>> import jpatterns as jp
    >>> jp.is_checking()
    False
  """
  return _checking


def _set_checking(enabled: bool) -> None:
  global _checking
  if enabled != _checking:
    _checking = enabled
    # jit keys its caches on the function and the arguments' types, not on this flag:
    # without this, a function traced in one mode would keep running that mode's program.
    jax.clear_caches()


class _CheckingState:
  """What :func:`checking` returns: the mode is already set; ``with`` restores the previous."""

  __slots__ = ("enabled", "previous")

  def __init__(self, enabled: bool, previous: bool):
    self.enabled, self.previous = enabled, previous

  def __enter__(self) -> _CheckingState:
    return self

  def __exit__(self, *exc_info) -> None:
    _set_checking(self.previous)

  def __repr__(self) -> str:
    return f"checking({self.enabled})"


def checking(enabled: bool) -> _CheckingState:
  """Turns the checked mode on or off: run-time checks of traced hyperparameters.

  The library checks every hyperparameter it can see: Python and NumPy numbers and
  concrete arrays, when the function is called or traced. A traced value (a rate passed
  through ``jax.jit``, a learning rate of ``optax.inject_hyperparams``, a ``vmap``-ped
  hyperparameter) has no value at trace time, and by default is not checked. With
  ``checking(True)`` each such check becomes a ``jax.debug.callback`` in the traced program
  that runs the same check on the value when the program runs (each element of a
  ``vmap`` batch) and raises the same ``ValueError``. Under ``jit`` JAX reraises it as a
  ``jax.errors.JaxRuntimeError`` whose message ends with the ``ValueError``'s; without
  ``jit`` (eager ``grad`` or ``vmap``) the ``ValueError`` itself propagates. JAX also logs
  "jax.debug.callback failed" with the traceback when a check fails.

  Use it as a setter, ``jp.checking(True)``, or as a context manager, ``with
  jp.checking(True): ...``, which restores the previous mode on exit (on an exception
  too). The mode is global to the process (all threads), off by default, or on at import
  when the environment variable ``JPATTERNS_CHECKING=1``. :func:`is_checking` reads it.

  Cost. With the mode off nothing is added to any program. A change of mode calls
  ``jax.clear_caches()``, since ``jit`` does not key its cache on this flag: every jitted
  function of the process (yours too) is traced and compiled again on its next call (the
  switch itself takes ~0.1 ms; the recompiles cost what the first compiles cost). Already
  lowered and compiled programs (``jax.jit(f).lower(...).compile()``) keep the mode they
  were traced in; :mod:`jpatterns.train` keys its compiled programs on the mode. In checked
  mode each checked value costs a device-to-host copy and a Python call per execution
  (per step inside a ``scan``), and a ``vmap`` unrolls the callback over the batch: a
  debugging aid, not a training setting.

  Args:
    enabled: ``True`` or ``False`` (a Python or NumPy bool).

  Returns:
    A context manager; the mode is set already, and leaving the ``with`` block restores
    the previous one.

  Example:
    >>> import jax, jax.numpy as jnp, jpatterns as jp
    >>> drop = jax.jit(lambda r: jp.dropout(jax.random.key(0), jnp.ones(4), rate=r))
    >>> drop(1.5).shape  # the traced rate is not checked by default
    (4,)
    >>> with jp.checking(True):
    ...   try:
    ...     drop(1.5).block_until_ready()
    ...   except jax.errors.JaxRuntimeError as e:
    ...     print(str(e).splitlines()[-1])
    ValueError: dropout: rate=1.5 is outside [0.0, 1.0]; choose rate in [0.0, 1.0]
    >>> jp.is_checking()
    False
  """
  if not isinstance(enabled, (bool, np.bool_)):
    raise ValueError(f"checking: enabled={_show(enabled)} is not valid; pass True or False")
  previous = _checking
  _set_checking(bool(enabled))
  return _CheckingState(bool(enabled), previous)


def _host_number(item: np.generic) -> Any:
  """A Python number for an element that reached the host: the value the static check
  would have seen (a float32 0.1 reads 0.1, not 0.10000000149011612)."""
  if isinstance(item, (bool, np.bool_)):
    return bool(item)
  if np.dtype(item.dtype).kind == "f" or jnp.issubdtype(item.dtype, jnp.floating):
    return float(str(item))  # the shortest text that round-trips in the value's dtype
  return item.item()


def _check_on_host(check: Callable[..., None], names: tuple[str, ...], *arrays) -> None:
  """Runs ``check(**numbers)`` on every element of the (broadcast) traced values."""
  values = np.broadcast_arrays(*(np.asarray(a) for a in arrays))
  for index in np.ndindex(values[0].shape):
    check(**{n: _host_number(v[index]) for n, v in zip(names, values, strict=True)})


def check_later(check: Callable[..., None], **traced: Any) -> None:
  """In checked mode, ``check(**numbers)`` at run time on the values of ``traced``.

  ``check`` takes the traced values as keyword arguments (Python numbers) and raises
  ``ValueError``; it runs on the host in a ``jax.debug.callback``, once per element when
  the values are batched. With the checked mode off nothing is added to the program.
  """
  if _checking:
    names = tuple(traced)
    callback = functools.partial(_check_on_host, check, names)
    jax.debug.callback(callback, *(traced[n] for n in names))


def check_finite_statistics(fn: str, name: str, x: Any, stats: Any) -> None:
  """In checked mode, at run time: ``ValueError`` when ``stats`` computed from a finite
  ``x`` are not finite (a float32 variance overflows for deviations beyond ~1e19).

  With the checked mode off nothing is added to the program (:func:`check_later`).
  """

  def check(x_finite, stats_finite):
    if x_finite and not stats_finite:
      raise ValueError(
        f"{fn}: {name} is finite but its variance overflows float32 (deviations from the "
        f"mean beyond ~1e19 square past 3.4e38), so the output would be 0 or NaN; scale "
        f"{name} down (e.g. by a power of two) before normalizing"
      )

  if _checking:
    check_later(check, x_finite=jnp.all(jnp.isfinite(x)), stats_finite=jnp.all(jnp.isfinite(stats)))


def check_numbers(fn: str, check: Callable[..., None], **values: Any) -> None:
  """``check(**numbers)`` on the numbers behind ``values`` (a check of several numbers).

  Each value is read with :func:`number` (a non-number is refused now). When all are
  concrete, ``check`` runs now; when some are traced, it runs in checked mode at run time
  (:func:`check_later`) with the concrete ones fixed.
  """
  numbers_ = {name: number(fn, name, v) for name, v in values.items()}
  traced = {name: values[name] for name, v in numbers_.items() if v is None}
  if not traced:
    check(**numbers_)
    return
  fixed = {name: v for name, v in numbers_.items() if v is not None}
  check_later(functools.partial(check, **fixed), **traced)


# ----------------------------------------------------------------------------- numbers


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
  """Raises ValueError unless ``value`` is a finite real number (traced: see :func:`checking`)."""
  v = number(fn, name, value)
  if v is None:
    check_later(functools.partial(check_finite, fn, name), value=value)
  elif v != v or _not_finite(float(v)):
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
    check = functools.partial(
      check_in_range, fn, name, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open
    )
    check_later(check, value=value)
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
    check_later(functools.partial(check_positive, fn, name, allow_inf=allow_inf), value=value)
    return
  if not v > 0 or (v == math.inf and not allow_inf):  # `not v > 0` catches NaN
    bound = "> 0" if allow_inf else "> 0 and finite"
    raise ValueError(f"{fn}: {name}={_show(value)} must be {bound}")


def check_non_negative(fn: str, name: str, value: Any, *, allow_inf: bool = False) -> None:
  """Raises ValueError unless ``0 <= value < inf`` (``value = inf`` too with ``allow_inf``)."""
  v = number(fn, name, value)
  if v is None:
    check_later(functools.partial(check_non_negative, fn, name, allow_inf=allow_inf), value=value)
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
