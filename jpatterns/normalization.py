"""Normalization layers as pure functions (seed 002 逐层归一化, 004 §2, 001).

Layer, instance, group, RMS and batch norm share one float32 two-pass core with a
fused backward (see :mod:`jpatterns._norm_core`; forward mode too): accurate on
inputs far from zero (mean 1000, std 1: ~1e-4 vs flax's one-pass ~0.35) and no slower
than flax's layers. Weight norm, local response norm and spectral norm follow.

Range. The statistics are float32 sums of squared deviations: exact while the deviations
from the mean stay below ~1e19 (for n entries, ~1.8e19/√n); beyond, the squares overflow
float32's 3.4e38 and the output is 0 or NaN (flax's layers likewise). A rescaled core
that would stay exact to ~3e38 costs 25–270 % more on XLA:CPU (one more pass over x), so
it is not the default; ``jpatterns.checking(True)`` reports the overflow as a
``ValueError`` naming the function.

Parameter shapes: ``scale``/``bias`` have one value per normalized feature and are
optional keyword arguments: None (the default) means no scale / no bias, as flax's
``use_scale=False`` / ``use_bias=False``. ``axis`` always names the reduced axes (NumPy's meaning).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from jpatterns import _validation as val
from jpatterns._dtypes import compute_dtype
from jpatterns._norm_core import (
  BatchNormStats,
  _check_eps,
  _input,
  _normalize,
  _param,
  batch_norm,
  batch_norm_analytic,
  init_batch_norm_stats,
)

__all__ = [
  "BatchNormStats",
  "init_batch_norm_stats",
  "batch_norm",
  "batch_norm_analytic",
  "layer_norm",
  "instance_norm",
  "group_norm",
  "rms_norm",
  "weight_norm",
  "local_response_norm",
  "spectral_norm",
]


def layer_norm(x, *, scale=None, bias=None, axis=-1, eps=1e-5):
  r"""Layer normalization (seed 002 层归一化; 004 §2.2).

  .. math::
     \mu = \frac{1}{n}\sum_i z_i,\quad \sigma^2 = \frac{1}{n}\sum_i (z_i-\mu)^2,\quad
     \hat z = \frac{z-\mu}{\sqrt{\sigma^2+\epsilon}}\odot\gamma+\beta

  over the axes ``axis`` of each example (the seed's sum index for σ² is written ``k``
  while the summand uses ``i``; one index is meant).

  Args:
    x: input.
    scale: γ with shape ``x.shape`` at ``axis`` (as torch's ``normalized_shape``), or None.
    bias: β with the same shape, or None.
    axis: reduced axes (int or tuple), default the last.
    eps: ε > 0.

  Returns:
    The normalized array, dtype of ``x``.

  Example:
    >>> import numpy as np
    >>> print(np.round(np.asarray(layer_norm(jnp.array([[1., 2., 3.]]))), 3))
    [[-1.225  0.     1.225]]

  References:
    Ba, Kiros & Hinton, "Layer Normalization", 2016.
  """
  fn = "layer_norm"
  x = _input(fn, "x", x)
  axes = val.canonical_axes(fn, "axis", axis, x.ndim)
  _check_eps(fn, eps)
  feat = tuple(x.shape[a] for a in axes)
  bshape = tuple(s if i in axes else 1 for i, s in enumerate(x.shape))
  scale = _param(fn, "scale", scale, feat, bshape)
  bias = _param(fn, "bias", bias, feat, bshape)
  return _normalize(x, scale, bias, axes, eps=eps, center=True, fn=fn)


def _spatial_axes(fn, x, channel_axis, axis):
  c = val.canonical_axis(fn, "channel_axis", channel_axis, x.ndim)
  if axis is None:
    axes = tuple(i for i in range(1, x.ndim) if i != c)
  else:
    axes = val.canonical_axes(fn, "axis", axis, x.ndim)
    if c in axes:
      raise ValueError(
        f"{fn}: axis={axis!r} contains channel_axis={channel_axis}; "
        "reduce over non-channel axes only"
      )
  return c, axes


def instance_norm(x, *, scale=None, bias=None, channel_axis=-1, axis=None, eps=1e-5):
  r"""Instance normalization: per example and channel, over the spatial axes (seed 002 IN).

  .. math:: y_{nc\cdot} = \frac{x_{nc\cdot}-\mu_{nc}}{\sqrt{\sigma^2_{nc}+\epsilon}}\gamma_c+\beta_c

  Args:
    x: input ``(N, ..., C)`` (or channels at ``channel_axis``).
    scale: γ of shape ``(C,)`` or None.
    bias: β of shape ``(C,)`` or None.
    channel_axis: the channel axis.
    axis: reduced axes; default all but axis 0 (batch) and ``channel_axis``.
    eps: ε > 0.

  Returns:
    The normalized array, dtype of ``x``.

  Example:
    >>> import numpy as np
    >>> x = jnp.arange(8.).reshape(1, 4, 2)
    >>> print(np.round(np.asarray(instance_norm(x)[0, :, 0]), 3))
    [-1.342 -0.447  0.447  1.342]

  References:
    Ulyanov, Vedaldi & Lempitsky, "Instance Normalization", 2016.
  """
  fn = "instance_norm"
  x = _input(fn, "x", x)
  _check_eps(fn, eps)
  c, axes = _spatial_axes(fn, x, channel_axis, axis)
  bshape = tuple(s if i == c else 1 for i, s in enumerate(x.shape))
  scale = _param(fn, "scale", scale, (x.shape[c],), bshape)
  bias = _param(fn, "bias", bias, (x.shape[c],), bshape)
  return _normalize(x, scale, bias, axes, eps=eps, center=True, fn=fn)


def group_norm(x, *, num_groups, scale=None, bias=None, channel_axis=-1, axis=None, eps=1e-5):
  r"""Group normalization: channel groups normalized with the spatial axes (seed 002 GN).

  .. math::
     y = \frac{x-\mu_{ng}}{\sqrt{\sigma^2_{ng}+\epsilon}}\gamma_c+\beta_c,\quad
     \mu_{ng},\sigma^2_{ng} \text{ over the } C/G \text{ channels of group } g
     \text{ and the axes } \texttt{axis}

  ``num_groups=1`` is layer norm over (spatial, channels); ``num_groups=C`` is
  instance norm.

  Args:
    x: input ``(N, ..., C)`` (or channels at ``channel_axis``).
    scale: γ of shape ``(C,)`` or None.
    bias: β of shape ``(C,)`` or None.
    num_groups: number of groups G; must divide C.
    channel_axis: the channel axis.
    axis: reduced non-channel axes; default all but axis 0 and ``channel_axis``.
    eps: ε > 0.

  Returns:
    The normalized array, dtype of ``x``.

  Example:
    >>> import numpy as np
    >>> x = jnp.arange(8.).reshape(1, 2, 4)
    >>> print(np.round(np.asarray(group_norm(x, num_groups=2)[0]), 3))
    [[-1.213 -0.728 -1.213 -0.728]
     [ 0.728  1.213  0.728  1.213]]

  References:
    Wu & He, "Group Normalization", 2018.
  """
  fn = "group_norm"
  x = _input(fn, "x", x)
  _check_eps(fn, eps)
  c, axes = _spatial_axes(fn, x, channel_axis, axis)
  channels = x.shape[c]
  val.check_positive_int(fn, "num_groups", num_groups)
  if channels % num_groups:
    raise ValueError(
      f"{fn}: num_groups={num_groups} does not divide {channels} "
      f"channels; choose a divisor of {channels}"
    )
  if not axes:  # no spatial axes: reduce the contiguous C/G channels of each group
    shape = x.shape[:c] + (num_groups, channels // num_groups) + x.shape[c + 1 :]
    bshape = tuple(s if i in (c, c + 1) else 1 for i, s in enumerate(shape))
    scale = _param(fn, "scale", scale, (channels,), bshape)
    bias = _param(fn, "bias", bias, (channels,), bshape)
    y = _normalize(x.reshape(shape), scale, bias, (c + 1,), eps=eps, center=True, fn=fn)
    return y.reshape(x.shape)
  # Statistics: Σ over the spatial axes per channel, then within each group of C/G
  # channels (on the small (N, C) sums), which keeps the large reductions in the fast
  # per-channel layout instead of a strided (…, G, C/G) reshape.
  bshape = tuple(s if i == c else 1 for i, s in enumerate(x.shape))
  scale = _param(fn, "scale", scale, (channels,), bshape)
  bias = _param(fn, "bias", bias, (channels,), bshape)
  return _normalize(x, scale, bias, axes, eps=eps, center=True, group=(c, num_groups), fn=fn)


def rms_norm(x, *, scale=None, axis=-1, eps=1e-6):
  r"""RMS normalization: layer norm without centering (beyond the seeds; as flax/torch RMSNorm).

  .. math:: y = \frac{x}{\sqrt{\frac{1}{n}\sum_i x_i^2+\epsilon}}\odot\gamma

  Args:
    x: input.
    scale: γ with shape ``x.shape`` at ``axis``, or None.
    axis: reduced axes, default the last.
    eps: ε > 0.

  Returns:
    The normalized array, dtype of ``x``.

  Example:
    >>> import numpy as np
    >>> print(np.round(np.asarray(rms_norm(jnp.array([3., 4.]))), 3))
    [0.849 1.131]

  References:
    Zhang & Sennrich, "Root Mean Square Layer Normalization", 2019.
  """
  fn = "rms_norm"
  x = _input(fn, "x", x)
  axes = val.canonical_axes(fn, "axis", axis, x.ndim)
  _check_eps(fn, eps)
  feat = tuple(x.shape[a] for a in axes)
  bshape = tuple(s if i in axes else 1 for i, s in enumerate(x.shape))
  scale = _param(fn, "scale", scale, feat, bshape)
  return _normalize(x, scale, None, axes, eps=eps, center=False, fn=fn)


def weight_norm(v, g, *, axis=None, eps=1e-12):
  r"""Weight normalization: direction times a learned length (seed 002 weight normalization).

  .. math:: w = g\,\frac{v}{\|v\|},\qquad \|v\| = \sqrt{\textstyle\sum_{\text{axis}} v^2 + \epsilon}

  The norm is taken over ``axis`` (flax ``WeightNorm``'s reduction axes; torch's
  ``weight_norm(dim=d)`` reduces over every axis but ``d``). ε (flax's ``1e-12``) keeps
  a zero ``v`` finite: ``w = 0`` with finite gradients.

  Args:
    v: the direction parameter (any shape).
    g: the length: shape ``v.shape`` without the ``axis`` dims (or a scalar when all
      axes are reduced).
    axis: reduced axes; default all but the last (a dense kernel ``(in, out)``
      normalized per output unit, as flax's default ``feature_axes=-1``).
    eps: ε > 0 under the square root.

  Returns:
    ``w`` of the shape of ``v``, in the dtype of ``v``.

  Example:
    >>> import numpy as np
    >>> print(weight_norm(jnp.array([[3.], [4.]]), jnp.array([10.])))
    [[6.]
     [8.]]

  References:
    Salimans & Kingma, "Weight Normalization", 2016.
  """
  fn = "weight_norm"
  vv = _input(fn, "v", v)
  _check_eps(fn, eps)
  axes = (
    tuple(range(vv.ndim - 1)) if axis is None else val.canonical_axes(fn, "axis", axis, vv.ndim)
  )
  feat = tuple(s for i, s in enumerate(vv.shape) if i not in axes)
  bshape = tuple(1 if i in axes else s for i, s in enumerate(vv.shape))
  if g is None:
    raise ValueError(f"{fn}: g=None; pass the length g, an array of shape {feat}")
  g = _param(fn, "g", g, feat, bshape)
  ct = compute_dtype(vv.dtype)
  v32 = vv.astype(ct)
  inv = lax.rsqrt(jnp.sum(v32 * v32, axis=axes, keepdims=True) + eps)  # 1/‖v‖
  return (g.astype(ct) * v32 * inv).astype(vv.dtype)  # w = g · v/‖v‖


def local_response_norm(x, *, size, k=2.0, alpha=1e-4, beta=0.75, channel_axis=-1):
  r"""Local response normalization across channels (seed 002 局部响应归一化).

  .. math::
     \hat Y^p = Y^p \Big/ \Big(k + \alpha \sum_{j=\max(1,\,p-\lfloor n/2\rfloor)}
       ^{\min(P,\,p+\lfloor (n-1)/2\rfloor)} (Y^j)^2\Big)^{\beta}

  α is NOT divided by n, as the seed (and AlexNet) write it; torch's
  ``local_response_norm`` divides by n, so it equals this with ``alpha · size``.

  Window. The seed sums j from p − n/2 to p + n/2: for odd n (read n/2 as ⌊n/2⌋)
  that is n channels centred on p. For even n the seed's bounds would cover n + 1
  channels; we take torch's window instead, exactly n channels
  ``[p − n//2, p + (n−1)//2]`` (one more below than above), so every ``size ≥ 1`` is
  valid and matches torch.

  Args:
    x: input with channels at ``channel_axis``.
    size: window size n ≥ 1 (channels).
    k: additive constant, > 0 (keeps zero inputs finite).
    alpha: α ≥ 0.
    beta: exponent β.
    channel_axis: the channel axis.

  Returns:
    The normalized array, dtype of ``x``.

  Example:
    >>> import numpy as np
    >>> x = jnp.array([1., 2., 3.])
    >>> print(np.round(np.asarray(local_response_norm(x, size=3, k=1., alpha=1., beta=1.)), 4))
    [0.1667 0.1333 0.2143]

  References:
    Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
    Neural Networks", 2012 (section 3.3).
  """
  fn = "local_response_norm"
  x = _input(fn, "x", x)
  val.check_positive_int(fn, "size", size)
  val.check_positive(fn, "k", k)
  val.check_non_negative(fn, "alpha", alpha)
  val.check_finite(fn, "beta", beta)
  c = val.canonical_axes(fn, "channel_axis", channel_axis, x.ndim)[0]
  ct = compute_dtype(x.dtype)
  x32 = x.astype(ct)
  dims = tuple(size if i == c else 1 for i in range(x.ndim))
  pads = tuple((size // 2, (size - 1) // 2) if i == c else (0, 0) for i in range(x.ndim))
  sq = lax.reduce_window(
    x32 * x32, 0.0, lax.add, dims, (1,) * x.ndim, pads
  )  # Σ_j (Y^j)² over the window
  return (x32 * (k + alpha * sq) ** (-beta)).astype(x.dtype)  # Y / (k + α Σ)^β


def _l2_normalize(a, eps):
  return a * lax.rsqrt(jnp.sum(a * a) + eps)  # a / ‖a‖


def spectral_norm(w, u, *, n_steps=1, eps=1e-12):
  r"""Spectral normalization by power iteration, ``u`` carried as state (beyond the seeds).

  ``W`` is viewed as a matrix ``(−1, out)`` (last axis = outputs, as flax). Each step:

  .. math::
     v \leftarrow \frac{u W^\top}{\|u W^\top\|},\quad
     u \leftarrow \frac{v W}{\|v W\|},\qquad
     \sigma = v W u^\top,\quad \bar W = W / \sigma

  ``u`` and ``v`` are constants for the gradient (``stop_gradient``), as in the paper
  and flax; σ = 0 leaves ``W`` unscaled.

  Args:
    w: weight of rank ≥ 2 (rank 1 / 0 are returned unchanged, as flax does).
    u: the carried vector, shape ``(out,)`` or ``(1, out)``; start from a random normal.
    n_steps: power-iteration steps per call, ≥ 1.
    eps: ε > 0 in the l2 normalizations.

  Returns:
    ``(w / σ, new_u)``: the normalized weight in the dtype of ``w`` and the updated
    ``u`` (same shape as ``u``).

  Example:
    >>> import numpy as np
    >>> w = jnp.array([[3., 0.], [0., 1.]])
    >>> wn, u = spectral_norm(w, jnp.array([1., 1.]), n_steps=20)
    >>> print(np.round(np.asarray(wn), 3))
    [[1.    0.   ]
     [0.    0.333]]

  References:
    Miyato, Kataoka, Koyama & Yoshida, "Spectral Normalization for Generative
    Adversarial Networks", 2018.
  """
  fn = "spectral_norm"
  w = _input(fn, "w", w)
  val.check_positive_int(fn, "n_steps", n_steps)
  _check_eps(fn, eps)
  u = val.as_array(fn, "u", u)
  if w.ndim < 2:
    return w, u
  ct = compute_dtype(w.dtype)
  mat = w.astype(ct).reshape(-1, w.shape[-1])
  if u.size != mat.shape[1]:
    raise ValueError(
      f"{fn}: u has shape {u.shape}; expected ({mat.shape[1]},) or "
      f"(1, {mat.shape[1]}) for w of shape {w.shape}"
    )
  uu = u.astype(ct).reshape(-1)
  vv = None
  for _ in range(n_steps):
    vv = _l2_normalize(mat @ uu, eps)  # v = u Wᵀ / ‖u Wᵀ‖
    uu = _l2_normalize(vv @ mat, eps)  # u = v W / ‖v W‖
  uu = lax.stop_gradient(uu)
  vv = lax.stop_gradient(vv)
  sigma = vv @ mat @ uu  # σ = v W uᵀ
  out = mat / jnp.where(sigma != 0, sigma, 1)  # W / σ
  return out.reshape(w.shape).astype(w.dtype), uu.reshape(u.shape).astype(u.dtype)
