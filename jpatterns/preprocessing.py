"""Input preprocessing as fit / apply pure functions (seed 002 数据预处理).

Seed 002 (数据预处理 → 归一化) lists three normalizations of the *inputs*: 缩放归一化
(min-max scaling), 标准归一化 (standardization) and 白化 (whitening, "PCA"). Its
batch-normalization section describes whitening as "first PCA, then divide every
dimension of the new space by its standard deviation" — PCA whitening; ZCA
whitening rotates the result back to the original axes.

Each pattern is a pair of pure functions: ``fit_*(x, ...)`` computes statistics
over the sample axes and returns them as a NamedTuple of arrays (a pytree: it can
be saved, passed through ``jit``, stacked with ``vmap``), and the apply function
``f(x, stats)`` transforms any array whose trailing shape is the feature shape.

Conventions: the reduced axes (``axis``) are the *leading* (sample) axes, as in
scikit-learn; statistics have the shape of the remaining feature axes and
broadcast against new data of shape ``(..., *features)``. Statistics are computed
in at least float32; transformed data keeps the input dtype. Constant features give
finite outputs (never NaN): min-max maps them to the low end of the range and
standardization to 0 (as scikit-learn), whitening divides by
``sqrt(variance + eps)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jpatterns import _validation
from jpatterns._dtypes import compute_dtype

__all__ = [
  "MinMaxStats",
  "StandardizationStats",
  "WhiteningStats",
  "fit_min_max",
  "min_max_scale",
  "fit_standardization",
  "standardize",
  "fit_whitening",
  "whiten",
]


class MinMaxStats(NamedTuple):
  """Fitted min-max scaling: ``y = x * scale + offset``."""

  data_min: jax.Array
  data_max: jax.Array
  scale: jax.Array
  offset: jax.Array


class StandardizationStats(NamedTuple):
  """Fitted standardization: ``y = (x - mean) / std``."""

  mean: jax.Array
  std: jax.Array


class WhiteningStats(NamedTuple):
  """Fitted whitening: ``y = (x - mean) @ matrix``.

  ``variances`` are the covariance eigenvalues kept (descending), ``components``
  the matching unit eigenvectors (columns, ``(d, k)``).
  """

  mean: jax.Array
  matrix: jax.Array
  variances: jax.Array
  components: jax.Array


def _float(fn, x):
  x = _validation.as_array(fn, "x", x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.float32)
  return x


def _acc(x):
  return x.astype(compute_dtype(x.dtype))


def _stats(fn, stats, cls):
  if not isinstance(stats, tuple) or not all(hasattr(stats, f) for f in cls._fields):
    raise ValueError(
      f"{fn}: stats={stats!r} is not a {cls.__name__}; pass the result of "
      f"fit_{'min_max' if cls is MinMaxStats else cls.__name__[:-5].lower()}"
    )


def _sample_axes(fn, axis, ndim, shape=None):
  axes = _validation.canonical_axes(fn, "axis", axis, ndim)
  if shape is not None and any(shape[a] == 0 for a in axes):
    raise ValueError(f"{fn}: x has shape {shape}, no samples along axis={axis!r}")
  if axes != tuple(range(len(axes))):
    raise ValueError(
      f"{fn}: axis={axis!r} must be the leading (sample) axes of an input of rank "
      f"{ndim}, e.g. 0 or (0, 1, 2); move the sample axes first"
    )
  return axes


def _check_features(fn, x, feature_shape):
  n = len(feature_shape)
  if x.ndim < n or tuple(x.shape[x.ndim - n :]) != tuple(feature_shape):
    raise ValueError(
      f"{fn}: x has shape {x.shape} but the statistics were fitted on features of "
      f"shape {tuple(feature_shape)}; pass x of shape (..., *{tuple(feature_shape)})"
    )


def fit_min_max(x, *, axis=0, feature_range=(0.0, 1.0)):
  r"""Fits min-max scaling, 缩放归一化 (seed 002 数据预处理).

  .. math::
    \hat x = a + \frac{(x - \min x)(b - a)}{\max x - \min x}

  Minimum and maximum are taken over the sample axes ``axis``. As scikit-learn's
  ``MinMaxScaler``, a feature whose range is below ``10 * finfo.eps`` is treated as
  constant (range replaced by 1), so it maps to :math:`a`, never NaN.

  Args:
    x: data, sample axes first.
    axis: the leading axes reduced over (int or tuple).
    feature_range: :math:`(a, b)` with :math:`a < b`.

  Returns:
    ``MinMaxStats`` with arrays of the feature shape (``x.shape`` without ``axis``).

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.array([[0.0, 10.0], [5.0, 30.0], [10.0, 20.0]])
    >>> print(min_max_scale(x, fit_min_max(x)))
    [[0.  0. ]
     [0.5 1. ]
     [1.  0.5]]

  References:
    LeCun et al., "Efficient BackProp", 1998.
  """
  fn = "fit_min_max"
  x = _acc(_float(fn, x))
  axes = _sample_axes(fn, axis, x.ndim, x.shape)
  if not isinstance(feature_range, (tuple, list)) or len(feature_range) != 2:
    raise ValueError(f"{fn}: feature_range={feature_range!r} must be a pair (low, high)")
  lo, hi = feature_range
  _validation.check_finite(fn, "feature_range", lo)
  _validation.check_finite(fn, "feature_range", hi)
  if not lo < hi:
    raise ValueError(f"{fn}: feature_range={feature_range!r} must have low < high; e.g. (0.0, 1.0)")
  data_min = jnp.min(x, axis=axes)
  data_max = jnp.max(x, axis=axes)
  data_range = data_max - data_min  # max - min
  tiny = 10 * jnp.finfo(x.dtype).eps
  data_range = jnp.where(data_range < tiny, 1.0, data_range)  # constant feature -> 1
  scale = (hi - lo) / data_range  # (b - a) / (max - min)
  offset = lo - data_min * scale  # a - min (b - a) / (max - min)
  return MinMaxStats(data_min, data_max, scale, offset)


def min_max_scale(x, stats):
  r"""Applies fitted min-max scaling, 缩放归一化 (seed 002 数据预处理).

  .. math:: \hat x = x \cdot s + o, \quad s = \frac{b - a}{\max - \min},
     \ o = a - \min \cdot s

  Data outside the fitted range maps outside :math:`[a, b]` (no clipping, as
  scikit-learn's default).

  Args:
    x: data of shape ``(..., *features)``.
    stats: ``MinMaxStats`` from ``fit_min_max``.

  Returns:
    Scaled data, shape and dtype of ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> stats = fit_min_max(jnp.array([[0.0], [4.0]]), feature_range=(-1.0, 1.0))
    >>> print(min_max_scale(jnp.array([[1.0], [2.0]]), stats))
    [[-0.5]
     [ 0. ]]
  """
  x = _float("min_max_scale", x)
  _stats("min_max_scale", stats, MinMaxStats)
  _check_features("min_max_scale", x, stats.scale.shape)
  return (_acc(x) * stats.scale + stats.offset).astype(x.dtype)  # x s + o


def fit_standardization(x, *, axis=0, eps=0.0):
  r"""Fits standardization, 标准归一化 (seed 002 数据预处理).

  .. math:: \hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}

  :math:`\mu, \sigma^2` are the mean and the population variance (``ddof=0``, as
  scikit-learn's ``StandardScaler``) over the sample axes. A constant feature (a
  variance within rounding error of 0, scikit-learn's test
  :math:`\sigma^2 \le n\,\varepsilon\,\sigma^2 + (n\,\mu\,\varepsilon)^2`) gets
  ``std = 1``, so it maps to 0, never NaN. ``eps = 0`` reproduces
  scikit-learn.

  Args:
    x: data, sample axes first.
    axis: the leading axes reduced over.
    eps: :math:`\epsilon \ge 0` added to the variance.

  Returns:
    ``StandardizationStats(mean, std)`` of the feature shape.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.array([[1.0, 5.0], [3.0, 5.0]])
    >>> print(standardize(x, fit_standardization(x)))
    [[-1.  0.]
     [ 1.  0.]]

  References:
    LeCun et al., "Efficient BackProp", 1998.
  """
  fn = "fit_standardization"
  x = _acc(_float(fn, x))
  axes = _sample_axes(fn, axis, x.ndim, x.shape)
  _validation.check_non_negative(fn, "eps", eps)
  n = 1
  for a in axes:
    n *= x.shape[a]
  mean = jnp.mean(x, axis=axes)  # mu
  var = jnp.mean(jnp.square(x - mean), axis=axes)  # sigma^2 (two-pass)
  ulp = jnp.finfo(x.dtype).eps
  constant = var <= n * ulp * var + jnp.square(n * mean * ulp)  # sklearn's test
  std = jnp.sqrt(var + eps)  # sqrt(sigma^2 + eps)
  std = jnp.where(constant | (std == 0), 1.0, std)
  return StandardizationStats(mean, std)


def standardize(x, stats):
  r"""Applies fitted standardization, 标准归一化 (seed 002 数据预处理).

  .. math:: \hat x = (x - \mu) / \sigma

  Args:
    x: data of shape ``(..., *features)``.
    stats: ``StandardizationStats`` from ``fit_standardization``.

  Returns:
    Standardized data, shape and dtype of ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> stats = fit_standardization(jnp.array([[0.0], [2.0]]))
    >>> print(standardize(jnp.array([3.0]), stats))
    [2.]
  """
  x = _float("standardize", x)
  _stats("standardize", stats, StandardizationStats)
  _check_features("standardize", x, stats.mean.shape)
  return ((_acc(x) - stats.mean) / stats.std).astype(x.dtype)  # (x - mu) / sigma


def fit_whitening(x, *, method="zca", eps=1e-5, n_components=None):
  r"""Fits PCA or ZCA whitening, 白化 (seed 002 数据预处理).

  .. math::
    C = \tfrac{1}{n-1} X_c^\top X_c = U \Lambda U^\top, \qquad
    W_{\mathrm{PCA}} = U_k (\Lambda_k + \epsilon)^{-1/2}, \qquad
    W_{\mathrm{ZCA}} = U_k (\Lambda_k + \epsilon)^{-1/2} U_k^\top

  and ``whiten`` computes :math:`(x - \mu) W`. PCA whitening is what seed 002
  describes (PCA, then divide each new dimension by its standard deviation); its
  output lives in the eigenbasis, reduced to ``n_components`` dimensions. ZCA
  rotates back to the original axes: of all whitening transforms it is the one
  whose output stays closest to the (centred) input (Kessy et al., 2018).

  The covariance uses ``n - 1`` (as scikit-learn's ``PCA(whiten=True)``); the
  eigenvectors' signs are fixed so that each one's largest-magnitude entry is
  positive (eigh's signs are arbitrary). ``eps`` is in variance units: it keeps
  zero-variance directions (constant features, ``n <= d``) finite and bounds the
  amplification of noise; the whitened covariance is
  :math:`\Lambda / (\Lambda + \epsilon)`, within ``eps / λ_min`` of identity.

  Args:
    x: data of shape ``(n, d)``, ``n >= 2`` samples of ``d`` features (flatten
      images to ``(n, h * w * c)`` first).
    method: ``"zca"`` or ``"pca"``.
    eps: :math:`\epsilon > 0`, added to the eigenvalues.
    n_components: :math:`k` in ``[1, d]``, the leading components kept; ``None``
      keeps all ``d``.

  Returns:
    ``WhiteningStats(mean (d,), matrix (d, k) for PCA or (d, d) for ZCA,
    variances (k,), components (d, k))``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jax.random.normal(jax.random.key(0), (500, 3)) @ jnp.array(
    ...     [[2.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.5, 0.3, 0.2]])
    >>> y = whiten(x, fit_whitening(x, method="zca"))
    >>> print(bool(jnp.allclose(jnp.cov(y.T), jnp.eye(3), atol=1e-3)))
    True

  References:
    Bell and Sejnowski, "The 'independent components' of natural scenes are edge
    filters" (ZCA), 1997; Kessy, Lewin, Strimmer, "Optimal Whitening and
    Decorrelation", 2018.
  """
  fn = "fit_whitening"
  _validation.check_choice(fn, "method", method, ("zca", "pca"))
  _validation.check_positive(fn, "eps", eps)
  x = _acc(_float(fn, x))
  if x.ndim != 2:
    raise ValueError(
      f"{fn}: x has shape {x.shape}; pass a 2-D (samples, features) array "
      "(reshape to (n, -1) first)"
    )
  n, d = x.shape
  if n < 2:
    raise ValueError(f"{fn}: x has {n} sample; pass at least 2 samples (rows)")
  k = d if n_components is None else n_components
  if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= d:
    raise ValueError(
      f"{fn}: n_components={n_components!r} is outside [1, {d}]; "
      f"choose an integer in [1, {d}] or None"
    )
  mean = jnp.mean(x, axis=0)  # mu
  xc = x - mean
  cov = jnp.matmul(xc.T, xc, precision=lax.Precision.HIGHEST) / (n - 1)  # C = Xc^T Xc / (n-1)
  cov = 0.5 * (cov + cov.T)
  lam, u = jnp.linalg.eigh(cov)  # C = U diag(lam) U^T, ascending
  lam = jnp.maximum(lam[::-1][:k], 0.0)  # descending, clip rounding below 0
  u = u[:, ::-1][:, :k]
  pivot = jnp.take_along_axis(u, jnp.argmax(jnp.abs(u), axis=0)[None], axis=0)
  u = u * jnp.where(pivot < 0, -1.0, 1.0)  # largest entry of each column positive
  pca = u / jnp.sqrt(lam + eps)  # W_pca = U (Lambda + eps)^(-1/2)
  if method == "pca":
    matrix = pca
  else:
    matrix = jnp.matmul(pca, u.T, precision=lax.Precision.HIGHEST)  # W_zca = W_pca U^T
  return WhiteningStats(mean, matrix, lam, u)


def whiten(x, stats):
  r"""Applies fitted PCA / ZCA whitening, 白化 (seed 002 数据预处理).

  .. math:: \hat x = (x - \mu)\, W

  Args:
    x: data of shape ``(..., d)``.
    stats: ``WhiteningStats`` from ``fit_whitening``.

  Returns:
    Whitened data of shape ``(..., k)`` (``k = d`` for ZCA), dtype of ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    >>> stats = fit_whitening(x, method="pca", eps=1e-6)
    >>> print(jnp.abs(whiten(x, stats)).round(3))
    [[0.866 0.866]
     [0.866 0.866]
     [0.866 0.866]
     [0.866 0.866]]
  """
  x = _float("whiten", x)
  _stats("whiten", stats, WhiteningStats)
  _check_features("whiten", x, stats.mean.shape)
  y = jnp.matmul(_acc(x) - stats.mean, stats.matrix, precision=lax.Precision.HIGHEST)
  return y.astype(x.dtype)  # (x - mu) W
