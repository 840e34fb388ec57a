"""The one "compute in at least float32" rule of the library.

Reductions, transcendental functions and optimizer statistics run in
:func:`compute_dtype` and the result is cast back to the input's dtype: bf16 and f16
inputs are computed in float32, float32 stays float32, float64 (under ``jax_enable_x64``)
stays float64, integers and booleans compute in float32.
"""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["compute_dtype"]


def compute_dtype(*arrays_or_dtypes):
  """``promote_types(result_type(*args), float32)``: at least float32, never narrower.

  >>> import jax.numpy as jnp
  >>> compute_dtype(jnp.bfloat16), compute_dtype(jnp.ones(2, jnp.float16), jnp.float32)
  (dtype('float32'), dtype('float32'))
  """
  return jnp.promote_types(jnp.result_type(*arrays_or_dtypes), jnp.float32)
