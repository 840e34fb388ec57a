"""Parameter initializers (seed 002 参数初始化, seed 001 Glorot / He).

Every public name is a *factory* returning ``init(key, shape, dtype=jnp.float32)``,
the signature Flax's ``kernel_init`` / ``bias_init`` call, e.g.
``flax.linen.Dense(10, kernel_init=glorot_normal())``. All fan-based initializers
are built on one :func:`variance_scaling`, which samples exactly as
``jax.nn.initializers.variance_scaling`` does: same key, same arguments -> same
values.

Fans. For a kernel of shape ``shape``, ``in_axis`` / ``out_axis`` (defaults -2 / -1)
name the input and output axes, ``batch_axis`` axes that are ignored, and every
other axis is the receptive field::

  fan_in  = prod(shape[in_axis])  * receptive_field
  fan_out = prod(shape[out_axis]) * receptive_field

so a dense kernel ``(n_in, n_out)`` has fans ``(n_in, n_out)`` and a conv kernel
``(H, W, C_in, C_out)`` has ``(H*W*C_in, H*W*C_out)`` (torch's convention too, with
its ``(C_out, C_in, H, W)`` layout).

Differences from ``jax.nn.initializers``, on purpose:

* ``glorot_normal``, ``he_normal``, ``lecun_normal`` default to a *plain* Gaussian,
  as seed 002, He et al. and torch write them; ``distribution="truncated_normal"``
  gives jax.nn's defaults.
* ``uniform(scale)`` is symmetric, ``U(-scale, scale)``; jax.nn's is ``[0, scale)``.
* ``zeros()``, ``ones()`` are factories, like the rest (jax.nn's ``zeros`` is itself
  an initializer): write ``bias_init=zeros()``.
* Invalid arguments raise ``ValueError`` (jax.nn: obscure errors or silent inf).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jpatterns import _validation
from jpatterns._dtypes import compute_dtype

__all__ = [
  "variance_scaling",
  "glorot_normal",
  "glorot_uniform",
  "he_normal",
  "he_uniform",
  "lecun_normal",
  "lecun_uniform",
  "truncated_normal",
  "normal",
  "uniform",
  "orthogonal",
  "zeros",
  "ones",
  "constant",
]

_MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
_DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")
_NORMALS = ("normal", "truncated_normal")
# Standard deviation of a standard normal truncated to (-2, 2) (as jax.nn).
_TRUNC_STD = 0.87962566103423978


def _canonical_shape(fn, shape):
  return _validation.shape_tuple(fn, "shape", shape)


def _check_float_dtype(fn, dtype):
  return _validation.float_dtype(fn, "dtype", dtype)


def _check_axes(fn, **axes):
  """Factory-time type check of in_axis / out_axis / batch_axis (ranges: at init time)."""
  for name, axis in axes.items():
    _validation.axis_tuple(fn, name, axis)


def _axes(fn, name, axis, shape, needed):
  """Canonical axes of ``shape``, with a message about the fan when out of range."""
  ndim = len(shape)
  axes = _validation.axis_tuple(fn, name, axis)
  if any(not -ndim <= a < ndim for a in axes):
    raise ValueError(
      f"{fn}: shape={shape} has {ndim} dimension(s), too few for {name}={axis!r}; "
      f"the fan needs at least {needed} dimensions (a dense kernel is (in, out), "
      "a conv kernel (H, W, in, out)), or pass in_axis/out_axis that exist"
    )
  return _validation.canonical_axes(fn, name, axis, ndim)


def _compute_fans(fn, shape, in_axis, out_axis, batch_axis):
  """(fan_in, fan_out) of a kernel; ValueError when the axes do not fit ``shape``."""
  needed = 2 if isinstance(in_axis, int) and isinstance(out_axis, int) else 1
  ins = _axes(fn, "in_axis", in_axis, shape, needed)
  outs = _axes(fn, "out_axis", out_axis, shape, needed)
  batches = _axes(fn, "batch_axis", batch_axis, shape, needed)
  if set(ins) & set(outs) or set(batches) & (set(ins) | set(outs)):
    raise ValueError(
      f"{fn}: in_axis={in_axis!r}, out_axis={out_axis!r}, batch_axis={batch_axis!r} "
      f"overlap for shape={shape}; the fan needs distinct input and output axes "
      "(at least 2 dimensions)"
    )
  if 0 in shape:  # empty kernel: no fan to speak of
    return 0.0, 0.0
  in_size = math.prod(shape[a] for a in ins)
  out_size = math.prod(shape[a] for a in outs)
  batch_size = math.prod(shape[a] for a in batches)
  receptive_field = math.prod(shape) / in_size / out_size / batch_size
  return in_size * receptive_field, out_size * receptive_field  # fan_in, fan_out


def _variance_scaling(
  fn, scale, mode, distribution, in_axis, out_axis, batch_axis, distributions=_DISTRIBUTIONS
):
  """The one implementation behind every fan-based initializer (named ``fn``)."""
  _validation.check_positive(fn, "scale", scale)
  _validation.check_choice(fn, "mode", mode, _MODES)
  _validation.check_choice(fn, "distribution", distribution, distributions)
  _check_axes(fn, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis)

  def init(key, shape, dtype=jnp.float32):
    shape = _canonical_shape(fn, shape)
    dtype = _check_float_dtype(fn, dtype)
    _validation.check_key(fn, "key", key)
    fan_in, fan_out = _compute_fans(fn, shape, in_axis, out_axis, batch_axis)
    if 0 in shape:  # empty kernel: nothing to sample (and a fan may be 0)
      return jnp.zeros(shape, dtype)
    n = {
      "fan_in": fan_in,
      "fan_out": fan_out,
      "fan_avg": (fan_in + fan_out) / 2,
      "fan_geo_avg": (fan_in * fan_out) ** 0.5,
    }[mode]
    variance = jnp.array(scale / n, dtype=dtype)  # σ² = scale / n
    if distribution == "normal":
      return jax.random.normal(key, shape, dtype) * jnp.sqrt(variance)  # N(0, σ²)
    if distribution == "truncated_normal":
      # N(0, 1) truncated to (-2, 2) has std 0.8796; divide to get std σ exactly.
      stddev = jnp.sqrt(variance) / jnp.array(_TRUNC_STD, dtype)
      return jax.random.truncated_normal(key, -2, 2, shape, dtype) * stddev
    # U(-r, r) with r = √(3σ²) has variance σ²
    return jax.random.uniform(key, shape, dtype, -1) * jnp.sqrt(3 * variance)

  return init


def variance_scaling(scale, mode, distribution, *, in_axis=-2, out_axis=-1, batch_axis=()):
  r"""Zero-mean initializer whose variance scales with the fan (seed 002 参数初始化).

  .. math:: \operatorname{Var}[w] = \sigma^2 = \frac{\text{scale}}{n}, \quad
    n = n_{in},\ n_{out},\ \tfrac{n_{in} + n_{out}}{2} \text{ or } \sqrt{n_{in} n_{out}}

  for ``mode`` = ``"fan_in"``, ``"fan_out"``, ``"fan_avg"``, ``"fan_geo_avg"``.
  ``distribution``: ``"normal"`` samples ``N(0, sigma^2)``; ``"truncated_normal"``
  a normal truncated at 2 standard deviations and rescaled so that its standard
  deviation *after* truncation is ``sigma``; ``"uniform"`` samples ``U(-r, r)``,
  ``r = sqrt(3) sigma``. Samples exactly as ``jax.nn.initializers.variance_scaling``
  (same key, same values).

  Args:
    scale: positive variance multiplier (1 Glorot/LeCun, 2 He).
    mode: ``"fan_in"``, ``"fan_out"``, ``"fan_avg"`` or ``"fan_geo_avg"``.
    distribution: ``"normal"``, ``"truncated_normal"`` or ``"uniform"``.
    in_axis: input axis or axes of the kernel (default -2).
    out_axis: output axis or axes of the kernel (default -1).
    batch_axis: axes ignored by the fan (default none).

  Returns:
    ``init(key, shape, dtype=jnp.float32)``; it raises ValueError when ``shape``
    has too few dimensions for the fan axes or ``dtype`` is not floating.

  Raises:
    ValueError: if ``scale <= 0`` or ``mode`` / ``distribution`` is unknown.

  Example:
    >>> import jax
    >>> init = variance_scaling(2.0, "fan_in", "normal")
    >>> w = init(jax.random.key(0), (3, 3, 64, 128))
    >>> print(w.shape, w.dtype, round(float(w.std()) * (2 / (9 * 64)) ** -0.5, 1))
    (3, 3, 64, 128) float32 1.0

  References:
    Glorot & Bengio, "Understanding the difficulty of training deep feedforward
    neural networks", 2010; He et al., "Delving Deep into Rectifiers", 2015.
  """
  return _variance_scaling(
    "variance_scaling", scale, mode, distribution, in_axis, out_axis, batch_axis
  )


def glorot_normal(*, distribution="normal", in_axis=-2, out_axis=-1, batch_axis=()):
  r"""Glorot (Xavier) normal initializer (seed 002 参数初始化, seed 001).

  .. math:: w \sim \mathcal{N}(0, \sigma^2), \quad \sigma = \sqrt{\frac{2}{n_{in} + n_{out}}}

  Seed 002 writes :math:`\mathcal{N}(0, \sqrt{2/(n_{in}+n_{out})})`; read as
  ``N(mean, variance)`` that would make the variance a square root, which matches no
  paper. The second argument is the standard deviation (Glorot & Bengio's
  ``Var = 2/(n_in+n_out)``, torch's ``xavier_normal_``), and that is implemented.
  The default is the plain Gaussian the seed writes (equal, same key, to
  ``jax.nn.initializers.variance_scaling(1.0, "fan_avg", "normal")``);
  ``distribution="truncated_normal"`` reproduces ``jax.nn.initializers.glorot_normal``.

  Args:
    distribution: ``"normal"`` (default) or ``"truncated_normal"``.
    in_axis: input axis or axes of the kernel (default -2).
    out_axis: output axis or axes of the kernel (default -1).
    batch_axis: axes ignored by the fan (default none).

  Returns:
    ``init(key, shape, dtype=jnp.float32)``.

  Raises:
    ValueError: for an unknown ``distribution``; ``init`` raises for a shape with
      fewer than 2 dimensions.

  Example:
    >>> import jax
    >>> w = glorot_normal()(jax.random.key(0), (400, 600))
    >>> print(round(float(w.std()) / (2 / 1000) ** 0.5, 1))
    1.0

  References:
    Glorot & Bengio, "Understanding the difficulty of training deep feedforward
    neural networks", 2010.
  """
  return _variance_scaling(
    "glorot_normal", 1.0, "fan_avg", distribution, in_axis, out_axis, batch_axis, _NORMALS
  )


def glorot_uniform(*, in_axis=-2, out_axis=-1, batch_axis=()):
  r"""Glorot (Xavier) uniform initializer (seed 002 参数初始化).

  .. math:: w \sim U(-r, r), \quad r = \sqrt{\frac{6}{n_{in} + n_{out}}}

  The variance ``r^2 / 3 = 2 / (n_in + n_out)`` equals glorot_normal's. Same key ->
  same values as ``jax.nn.initializers.glorot_uniform()``.

  Args:
    in_axis: input axis or axes of the kernel (default -2).
    out_axis: output axis or axes of the kernel (default -1).
    batch_axis: axes ignored by the fan (default none).

  Returns:
    ``init(key, shape, dtype=jnp.float32)``.

  Example:
    >>> import jax
    >>> w = glorot_uniform()(jax.random.key(0), (400, 600))
    >>> print(bool(abs(w).max() <= (6 / 1000) ** 0.5))
    True

  References:
    Glorot & Bengio, "Understanding the difficulty of training deep feedforward
    neural networks", 2010.
  """
  return _variance_scaling(
    "glorot_uniform", 1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis
  )


def he_normal(*, distribution="normal", in_axis=-2, out_axis=-1, batch_axis=()):
  r"""He (Kaiming) normal initializer, for ReLU networks (seed 001).

  .. math:: w \sim \mathcal{N}(0, \sigma^2), \quad \sigma = \sqrt{\frac{2}{n_{in}}}

  Default: plain Gaussian, as He et al. and torch's ``kaiming_normal_`` (fan_in,
  ReLU gain); ``distribution="truncated_normal"`` reproduces
  ``jax.nn.initializers.he_normal``.

  Args:
    distribution: ``"normal"`` (default) or ``"truncated_normal"``.
    in_axis: input axis or axes of the kernel (default -2).
    out_axis: output axis or axes of the kernel (default -1).
    batch_axis: axes ignored by the fan (default none).

  Returns:
    ``init(key, shape, dtype=jnp.float32)``.

  Example:
    >>> import jax
    >>> w = he_normal()(jax.random.key(0), (500, 300))
    >>> print(round(float(w.std()) / (2 / 500) ** 0.5, 1))
    1.0

  References:
    He et al., "Delving Deep into Rectifiers: Surpassing Human-Level Performance on
    ImageNet Classification", 2015.
  """
  return _variance_scaling(
    "he_normal", 2.0, "fan_in", distribution, in_axis, out_axis, batch_axis, _NORMALS
  )


def he_uniform(*, in_axis=-2, out_axis=-1, batch_axis=()):
  r"""He (Kaiming) uniform initializer.

  .. math:: w \sim U(-r, r), \quad r = \sqrt{\frac{6}{n_{in}}}

  Same key -> same values as ``jax.nn.initializers.he_uniform()``.

  Args:
    in_axis: input axis or axes of the kernel (default -2).
    out_axis: output axis or axes of the kernel (default -1).
    batch_axis: axes ignored by the fan (default none).

  Returns:
    ``init(key, shape, dtype=jnp.float32)``.

  Example:
    >>> import jax
    >>> w = he_uniform()(jax.random.key(0), (600, 10))
    >>> print(bool(abs(w).max() <= 0.1))
    True

  References:
    He et al., "Delving Deep into Rectifiers", 2015.
  """
  return _variance_scaling("he_uniform", 2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis)


def lecun_normal(*, distribution="normal", in_axis=-2, out_axis=-1, batch_axis=()):
  r"""LeCun normal initializer (the SELU companion).

  .. math:: w \sim \mathcal{N}(0, \sigma^2), \quad \sigma = \sqrt{\frac{1}{n_{in}}}

  Default: plain Gaussian; ``distribution="truncated_normal"`` reproduces
  ``jax.nn.initializers.lecun_normal``.

  Args:
    distribution: ``"normal"`` (default) or ``"truncated_normal"``.
    in_axis: input axis or axes of the kernel (default -2).
    out_axis: output axis or axes of the kernel (default -1).
    batch_axis: axes ignored by the fan (default none).

  Returns:
    ``init(key, shape, dtype=jnp.float32)``.

  Example:
    >>> import jax
    >>> w = lecun_normal()(jax.random.key(0), (400, 300))
    >>> print(round(float(w.std()) * 400 ** 0.5, 1))
    1.0

  References:
    LeCun et al., "Efficient BackProp", 1998; Klambauer et al., "Self-Normalizing
    Neural Networks", 2017.
  """
  return _variance_scaling(
    "lecun_normal", 1.0, "fan_in", distribution, in_axis, out_axis, batch_axis, _NORMALS
  )


def lecun_uniform(*, in_axis=-2, out_axis=-1, batch_axis=()):
  r"""LeCun uniform initializer.

  .. math:: w \sim U(-r, r), \quad r = \sqrt{\frac{3}{n_{in}}}

  Same key -> same values as ``jax.nn.initializers.lecun_uniform()``.

  Args:
    in_axis: input axis or axes of the kernel (default -2).
    out_axis: output axis or axes of the kernel (default -1).
    batch_axis: axes ignored by the fan (default none).

  Returns:
    ``init(key, shape, dtype=jnp.float32)``.

  Example:
    >>> import jax
    >>> w = lecun_uniform()(jax.random.key(0), (300, 10))
    >>> print(bool(abs(w).max() <= 0.1))
    True

  References:
    LeCun et al., "Efficient BackProp", 1998.
  """
  return _variance_scaling("lecun_uniform", 1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis)


def truncated_normal(stddev, *, lower=-2.0, upper=2.0):
  r"""Normal initializer truncated to ``[lower * stddev, upper * stddev]``.

  .. math:: w = \text{stddev} \cdot z, \quad z \sim \mathcal{N}(0, 1)
    \text{ conditioned on } \text{lower} < z < \text{upper}

  ``stddev`` is that of the normal *before* truncation (as
  ``jax.nn.initializers.truncated_normal``; same key -> same values); with the
  default bounds the samples' standard deviation is ``0.8796 * stddev``.
  :func:`variance_scaling` applies the correction instead.

  Args:
    stddev: positive standard deviation of the untruncated normal.
    lower: lower truncation bound in units of ``stddev`` (default -2).
    upper: upper truncation bound in units of ``stddev`` (default 2).

  Returns:
    ``init(key, shape, dtype=jnp.float32)``.

  Raises:
    ValueError: if ``stddev <= 0`` or ``lower >= upper``.

  Example:
    >>> import jax
    >>> w = truncated_normal(0.1)(jax.random.key(0), (100, 100))
    >>> print(bool(abs(w).max() <= 0.2))
    True

  References:
    Burkardt, "The Truncated Normal Distribution", 2014.
  """
  _validation.check_positive("truncated_normal", "stddev", stddev)
  _validation.check_finite("truncated_normal", "lower", lower)
  _validation.check_finite("truncated_normal", "upper", upper)
  if not lower < upper:
    raise ValueError(f"truncated_normal: lower={lower!r} >= upper={upper!r}; choose lower < upper")

  def init(key, shape, dtype=jnp.float32):
    shape = _canonical_shape("truncated_normal", shape)
    dtype = _check_float_dtype("truncated_normal", dtype)
    _validation.check_key("truncated_normal", "key", key)
    z = jax.random.truncated_normal(key, lower, upper, shape, dtype)  # z ~ N(0,1) on (l, u)
    return z * jnp.array(stddev, dtype)  # w = stddev·z

  return init


def normal(stddev):
  r"""Plain normal initializer.

  .. math:: w \sim \mathcal{N}(0, \text{stddev}^2)

  Same key -> same values as ``jax.nn.initializers.normal(stddev)``.

  Args:
    stddev: positive standard deviation.

  Returns:
    ``init(key, shape, dtype=jnp.float32)``.

  Raises:
    ValueError: if ``stddev <= 0``.

  Example:
    >>> import jax
    >>> w = normal(0.02)(jax.random.key(0), (300, 300))
    >>> print(round(float(w.std()), 3))
    0.02
  """
  _validation.check_positive("normal", "stddev", stddev)

  def init(key, shape, dtype=jnp.float32):
    shape = _canonical_shape("normal", shape)
    dtype = _check_float_dtype("normal", dtype)
    _validation.check_key("normal", "key", key)
    return jax.random.normal(key, shape, dtype) * jnp.array(stddev, dtype)  # stddev·z

  return init


def uniform(scale):
  r"""Symmetric uniform initializer.

  .. math:: w \sim U(-\text{scale}, \text{scale})

  Note: ``jax.nn.initializers.uniform(scale)`` samples ``[0, scale)``. With the same
  key both use the same unit draw ``u in [0, 1)``: jpatterns returns
  ``(2u - 1) * scale``, jax.nn ``u * scale``, so ours ``= 2 * theirs - scale`` up to
  rounding (tested).

  Args:
    scale: positive half-width of the interval.

  Returns:
    ``init(key, shape, dtype=jnp.float32)``.

  Raises:
    ValueError: if ``scale <= 0``.

  Example:
    >>> import jax
    >>> w = uniform(0.5)(jax.random.key(0), (1000,))
    >>> print(bool(w.min() < -0.45), bool(w.max() > 0.45), bool(abs(w).max() <= 0.5))
    True True True
  """
  _validation.check_positive("uniform", "scale", scale)

  def init(key, shape, dtype=jnp.float32):
    shape = _canonical_shape("uniform", shape)
    dtype = _check_float_dtype("uniform", dtype)
    _validation.check_key("uniform", "key", key)
    return jax.random.uniform(key, shape, dtype, -1) * jnp.array(scale, dtype)  # (2u − 1)·scale

  return init


def orthogonal(*, scale=1.0, column_axis=-1):
  r"""(Semi-)orthogonal initializer, uniformly distributed (Haar measure).

  .. math:: W = \text{scale} \cdot Q, \quad Q^\top Q = I \text{ (or } Q Q^\top = I)

  The kernel is viewed as a matrix with ``shape[column_axis]`` columns and the
  product of the other dimensions as rows; the smaller side is orthonormal. Same
  key -> same values as ``jax.nn.initializers.orthogonal`` (float32; for bfloat16 /
  float16, where jax.nn fails because QR has no such kernel, the float32 matrix is
  rounded to ``dtype``).

  Args:
    scale: positive multiplier (gain) of the orthogonal matrix.
    column_axis: the axis holding the columns (default -1).

  Returns:
    ``init(key, shape, dtype=jnp.float32)``; it raises ValueError for a shape with
    fewer than 2 dimensions.

  Raises:
    ValueError: if ``scale <= 0``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> w = orthogonal()(jax.random.key(0), (4, 3))
    >>> print(jnp.allclose(w.T @ w, jnp.eye(3), atol=1e-5))
    True

  References:
    Saxe et al., "Exact solutions to the nonlinear dynamics of learning in deep
    linear neural networks", 2014.
  """
  _validation.check_positive("orthogonal", "scale", scale)
  _validation.axis_tuple("orthogonal", "column_axis", column_axis)

  def init(key, shape, dtype=jnp.float32):
    shape = _canonical_shape("orthogonal", shape)
    dtype = _check_float_dtype("orthogonal", dtype)
    _validation.check_key("orthogonal", "key", key)
    if len(shape) < 2:
      raise ValueError(
        f"orthogonal: shape={shape} has {len(shape)} dimension(s); "
        "an orthogonal matrix needs at least 2"
      )
    axis = _validation.canonical_axis("orthogonal", "column_axis", column_axis, len(shape))
    if 0 in shape:
      return jnp.zeros(shape, dtype)
    n_rows, n_cols = math.prod(shape) // shape[axis], shape[axis]
    # QR has no bfloat16/float16 kernel: sample in float32, round once at the end.
    qr_dtype = compute_dtype(dtype)
    q = jax.random.orthogonal(key, n_rows, (), qr_dtype, n_cols)  # Haar-random Q
    q = jnp.reshape(q, tuple(np.delete(shape, axis)) + (n_cols,))
    w = jnp.array(scale, qr_dtype) * jnp.moveaxis(q, -1, axis)  # W = scale·Q
    return w.astype(dtype)

  return init


def constant(value):
  r"""Constant initializer.

  .. math:: w_i = \text{value}

  Args:
    value: the fill value.

  Returns:
    ``init(key, shape, dtype=jnp.float32)``; the key is ignored.

  Example:
    >>> import jax
    >>> print(constant(-7.0)(jax.random.key(0), (2, 2)))
    [[-7. -7.]
     [-7. -7.]]
  """
  _validation.check_finite("constant", "value", value)

  def init(key, shape, dtype=jnp.float32):
    del key
    return jnp.full(_canonical_shape("constant", shape), value, dtype)  # w = value

  return init


def zeros():
  r"""All-zeros initializer (a factory: ``bias_init=zeros()``).

  .. math:: w_i = 0

  Returns:
    ``init(key, shape, dtype=jnp.float32)``; the key is ignored.

  Example:
    >>> import jax
    >>> print(zeros()(jax.random.key(0), (3,)))
    [0. 0. 0.]
  """

  def init(key, shape, dtype=jnp.float32):
    del key
    return jnp.zeros(_canonical_shape("zeros", shape), dtype)  # w = 0

  return init


def ones():
  r"""All-ones initializer (a factory: ``scale_init=ones()``).

  .. math:: w_i = 1

  Returns:
    ``init(key, shape, dtype=jnp.float32)``; the key is ignored.

  Example:
    >>> import jax
    >>> print(ones()(jax.random.key(0), (3,)))
    [1. 1. 1.]
  """

  def init(key, shape, dtype=jnp.float32):
    del key
    return jnp.ones(_canonical_shape("ones", shape), dtype)  # w = 1

  return init
