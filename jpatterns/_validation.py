"""Argument checks shared by every module (trace-time, plain Python values).

Each helper raises ``ValueError`` with the function name, the argument, the value
received and what would be valid, e.g.::

  ValueError: dropout: rate=1.5 is outside [0, 1]; choose a rate in [0, 1]

They run on static Python numbers only. A traced value (a hyperparameter passed as
an array, e.g. under ``optax.inject_hyperparams``) cannot be checked at trace time
and is let through unchecked.
"""

from __future__ import annotations

import numbers
from typing import Any

import jax


def is_static_number(value: Any) -> bool:
  """True for a Python/NumPy real number, False for a traced or array value."""
  return isinstance(value, numbers.Real) and not isinstance(value, jax.core.Tracer)


def _interval(lo, hi, lo_open, hi_open) -> str:
  return f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"


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
  """Raises ValueError unless ``value`` lies in the interval lo..hi."""
  if not is_static_number(value):
    return
  ok_lo = value > lo if lo_open else value >= lo
  ok_hi = value < hi if hi_open else value <= hi
  if not (ok_lo and ok_hi):  # also catches NaN
    interval = _interval(lo, hi, lo_open, hi_open)
    raise ValueError(f"{fn}: {name}={value!r} is outside {interval}; choose {name} in {interval}")


def check_positive(fn: str, name: str, value: Any) -> None:
  """Raises ValueError unless ``value > 0``."""
  if is_static_number(value) and not value > 0:
    raise ValueError(f"{fn}: {name}={value!r} must be > 0")


def check_non_negative(fn: str, name: str, value: Any) -> None:
  """Raises ValueError unless ``value >= 0``."""
  if is_static_number(value) and not value >= 0:
    raise ValueError(f"{fn}: {name}={value!r} must be >= 0")


def check_positive_int(fn: str, name: str, value: Any) -> None:
  """Raises ValueError unless ``value`` is an int >= 1 (bools and floats are refused)."""
  if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
    raise ValueError(f"{fn}: {name}={value!r} must be an integer >= 1")


def check_choice(fn: str, name: str, value: Any, choices) -> None:
  """Raises ValueError unless ``value`` is one of ``choices``."""
  if value not in choices:
    valid = ", ".join(repr(c) for c in choices)
    raise ValueError(f"{fn}: {name}={value!r} is not valid; choose one of {valid}")


def canonical_axes(fn: str, name: str, axis, ndim: int) -> tuple[int, ...]:
  """Normalizes an int or a sequence of ints to sorted non-negative axes."""
  axes = (axis,) if isinstance(axis, int) else tuple(axis)
  out = []
  for a in axes:
    if not isinstance(a, int) or not -ndim <= a < ndim:
      raise ValueError(
        f"{fn}: {name}={axis!r} is out of range for an input of rank {ndim}; "
        f"use axes in [{-ndim}, {ndim - 1}]"
      )
    out.append(a % ndim)
  if len(set(out)) != len(out):
    raise ValueError(f"{fn}: {name}={axis!r} repeats an axis")
  return tuple(sorted(out))
