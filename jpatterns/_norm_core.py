"""The shared normalization core: the fused two-pass kernel behind every norm, and batch norm.

Layer, instance, group and RMS norm (:mod:`jpatterns.normalization`) and batch norm
(seed 002 批量归一化 / BN算法, 001, 004 §2, defined here) all normalize through
:func:`_normalize` / :func:`_bn_train`, one float32 core with a fused backward.

Private module: the public names are re-exported by :mod:`jpatterns.normalization`.
``scale`` (γ) and ``bias`` (β) are optional everywhere: None means no scale / no bias
(flax's ``use_scale=False`` / ``use_bias=False``), and the core branches on it
statically, so a None parameter costs nothing and has no gradient.

Accuracy and speed. Every mean/variance here is a float32 *corrected two-pass*
computation (mean first, then the sums of deviations and squared deviations, the
former correcting the mean's rounding error), so inputs far from zero (mean 1000,
std 1) keep ~5e-5 accuracy, where the one-pass ``E[x²] − E[x]²`` (flax's
``use_fast_variance=True`` default) loses ~0.35. The backward pass is hand-written in
the fused form

  dx = rstd · (g − mean(g) − x̂ · mean(g · x̂))   (g the cotangent times γ),

which needs two reductions of the cotangent instead of the chain of broadcasts and
reductions autodiff builds through the two-pass forward; the γ, β gradients come from
the same partial sums. It is wired in as a ``jax.custom_jvp`` whose tangent is the
transpose of that backward (``jax.linear_transpose``): reverse mode transposes the
tangent back into the very same backward — the compiled ``grad`` program has the
fusions of the former ``custom_vjp`` (checked on bench_normalization's shapes) — and
forward mode (``jax.jvp``, ``jax.linearize``, ``jacfwd``, Hessian-vector products)
works as for any JAX function. Group norm reduces the large array per channel over the
spatial axes and sums the (N, C) partial sums within groups. Every gradient is tested
equal to autodiff of a plain reference.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jpatterns import _validation as val
from jpatterns._dtypes import compute_dtype as _compute_dtype


def _sum_to(x, shape):
  """Sums ``x`` down to the broadcastable ``shape`` (same rank, 1 where broadcast)."""
  axes = tuple(i for i, (a, b) in enumerate(zip(x.shape, shape)) if b == 1 and a != 1)
  return jnp.sum(x, axis=axes, keepdims=True) if axes else x


def _param(fn, name, p, expected, bshape):
  """Checks a scale/bias shape and reshapes it to broadcast against x."""
  if p is None:
    return None
  p = val.as_array(fn, name, p)
  if tuple(p.shape) != tuple(expected):
    raise ValueError(
      f"{fn}: {name} has shape {tuple(p.shape)}; expected {tuple(expected)} "
      f"(one value per normalized feature); pass an array of shape "
      f"{tuple(expected)} or None"
    )
  return p.reshape(bshape)


def _check_eps(fn, eps):
  val.check_positive(fn, "eps", eps)


def _input(fn, name, x):
  """The normalized input as an array: lists refused, integers and bools promoted to float32."""
  return val.as_float_array(fn, name, x)


# ----------------------------------------------------------------------------------------
# Shared core: y = (x − mean) · rstd · scale + bias over `axes` (layer/instance/group/rms).
# ----------------------------------------------------------------------------------------


def _group_sum(a, group):
  """Sums a small keepdims array within channel groups and repeats the sums per channel.

  ``group = (c, G)``: axis ``c`` holds C channels in G groups of C/G. None: identity.
  Group norm reduces the large array only over the spatial axes (per channel, the fast
  instance-norm layout) and finishes the per-group sums here, on (N, C) values.
  """
  if group is None:
    return a
  c, num_groups = group
  shape = a.shape
  ag = a.reshape(shape[:c] + (num_groups, shape[c] // num_groups) + shape[c + 1 :])
  return jnp.broadcast_to(jnp.sum(ag, axis=c + 1, keepdims=True), ag.shape).reshape(shape)


def _reduce(a, axes, group=None):
  """Σ over ``axes`` (keepdims), then within channel groups if ``group``."""
  return _group_sum(jnp.sum(a, axis=axes, keepdims=True), group)


def _count(shape, axes, group=None):
  n = math.prod(shape[a] for a in axes)
  return n * (shape[group[0]] // group[1] if group else 1)


def _two_pass(x32, axes, group=None):
  """Mean and biased variance by the corrected two-pass algorithm.

  m = (1/n) Σ x; d = x − m; μ = m + mean(d); σ² = mean(d²) − mean(d)². mean(d) removes
  the rounding error of the first pass's float32 sum (up to ~n·ε·|μ| on long, strided
  reductions), so inputs with mean 1000 and std 1 keep ~5e-5 accuracy where the
  one-pass E[x²] − E[x]² loses ~0.35.
  """
  n = _count(x32.shape, axes, group)
  m = _reduce(x32, axes, group) / n  # first pass: m = (1/n) Σ x
  d = x32 - m
  # correction: mean(x − m), written x + (−m) so that XLA does not share one full-size
  # x − m (or broadcast of m) between the two passes: each fuses into its reduction.
  c = _reduce(x32 + (-m), axes, group) / n
  var = jnp.maximum(_reduce(d * d, axes, group) / n - c * c, 0.0)  # σ² = mean(d²) − c²
  return m + c, var  # μ = m + mean(x − m)


def _normalize(x, scale, bias, axes, *, eps, center, group=None, fn="normalize"):
  """y = (x − μ) · rstd · γ + β over ``axes`` (μ = 0 unless ``center``); fused backward.

  ``scale``/``bias`` may be None (no γ / no β); ``group = (c, G)`` reduces within G
  channel groups of axis ``c`` as well (group norm). ``fn`` names the caller in the
  checked mode's overflow report.
  """
  return _normalize_ad(x, scale, bias, axes, eps, center, group, fn)


def _is_zero(t):
  """True for a tangent that is absent: None (no parameter) or a symbolic zero."""
  return t is None or isinstance(t, jax.custom_derivatives.SymbolicZero)


def _transposed_bwd(bwd, y, tangents):
  """The JVP ẏ of a function whose (linear) backward is ``bwd: g ↦ (dx, dγ, dβ)``.

  The Jacobian-vector product is the transpose of the vector-Jacobian product:
  ẏ = bwdᵀ(ẋ, γ̇, β̇), built with ``jax.linear_transpose``. Reverse mode transposes this
  JVP once more, which gives back the operations of ``bwd`` itself: the fused backward
  serves ``grad`` (the program a ``custom_vjp`` compiles to) and forward mode
  (``jax.jvp``, ``jax.linearize``, ``jacfwd``) alike. Absent tangents (None, symbolic
  zeros) are left out of the transpose.
  """
  want = tuple(not _is_zero(t) for t in tangents)
  if not any(want):
    return jnp.zeros(y.shape, y.dtype)

  def picked(g):
    return tuple(o for o, w in zip(bwd(g), want) if w)

  return jax.linear_transpose(picked, y)(tuple(t for t, w in zip(tangents, want) if w))[0]


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4, 5, 6, 7))
def _normalize_ad(x, scale, bias, axes, eps, center, group, fn):
  return _normalize_fwd(x, scale, bias, axes, eps, center, group, fn)[0]


def _normalize_jvp(axes, eps, center, group, fn, primals, tangents):
  x, scale, bias = primals
  y, (mean, rstd) = _normalize_fwd(x, scale, bias, axes, eps, center, group, fn)
  n = float(_count(x.shape, axes, group))

  def bwd(g):
    return _fused_bwd(x, g, mean, rstd, scale, bias, axes, n, group=group)

  return y, _transposed_bwd(bwd, y, tangents)


_normalize_ad.defjvp(_normalize_jvp, symbolic_zeros=True)


def _normalize_fwd(x, scale, bias, axes, eps, center, group, fn):
  """(y, (μ, rstd)); μ is None without centering (RMS norm)."""
  ct = _compute_dtype(x.dtype)
  x32 = x.astype(ct)
  if center:
    mean, var = _two_pass(x32, axes, group)
    xc = x32 - mean
  else:
    mean = None
    xc = x32
    var = _reduce(x32 * x32, axes, group) / _count(x.shape, axes, group)  # (1/n) Σ x²
  val.check_finite_statistics(fn, "x", x, var)  # checked mode only
  rstd = lax.rsqrt(var + eps)  # 1/√(σ² + ε)
  y = xc * rstd  # x̂ = (x − μ)/√(σ² + ε)
  if scale is not None:
    y = y * scale.astype(ct)  # γ ⊙ x̂
  if bias is not None:
    y = y + bias.astype(ct)  # + β
  return y.astype(x.dtype), (mean, rstd)


def _fused_bwd(
  x,
  g,
  mean,
  rstd,
  scale,
  bias,
  axes,
  n,
  *,
  mask=None,
  axis_name=None,
  global_params=False,
  group=None,
):
  """dx, dγ, dβ of y = γ x̂ + β, x̂ = (x − μ)·rstd, μ/σ² over ``axes`` (n entries).

  dx = rstd · (∇x̂ − m/n · (Σ∇x̂ + x̂ Σ∇x̂ x̂)), ∇x̂ = γ ⊙ g, the sums over every
  output (all of them depend on μ, σ²), m = mask of x (only valid entries move μ, σ²;
  μ = None means no centering, RMS norm, and drops Σ∇x̂). The sums Σ g x̂ and Σ g are
  first taken over the axes along which γ is constant *and* the statistics reduce; γ, β
  gradients and the statistics' sums then come from those partial sums, so the large
  arrays are read by two reductions and one elementwise pass.
  """
  ct = _compute_dtype(x.dtype)
  g32 = g.astype(ct)
  center = mean is not None
  xc = (x.astype(ct) - mean) if center else x.astype(ct)  # x − μ
  # The same x − μ written x + (−μ) for the reductions: distinct expressions keep XLA
  # from sharing (and writing to memory) one full-size array between them and dx.
  xr = (x.astype(ct) + (-mean)) if center else x.astype(ct)
  xhat = xc * rstd  # x̂, recomputed (fused into each consumer)
  param = scale if scale is not None else bias
  if param is None:
    common, rest = axes, ()
  else:
    common = tuple(a for a in axes if param.shape[a] == 1)
    rest = tuple(a for a in axes if param.shape[a] != 1)
  sc = 1.0 if scale is None else scale.astype(ct)
  if common:  # γ constant along some reduced axes: partial sums there, then the rest
    # Σ g x̂ = rstd Σ g (x − μ): one broadcast operand per reduction (fuses on CPU).
    a_part = rstd * jnp.sum(g32 * xr, axis=common, keepdims=True)  # partial Σ g x̂
    b_part = jnp.sum(g32, axis=common, keepdims=True)  # partial Σ g
    s2 = _group_sum(jnp.sum(sc * a_part, axis=rest, keepdims=True), group)  # Σ ∇x̂ x̂
    s1 = _group_sum(jnp.sum(sc * b_part, axis=rest, keepdims=True), group)  # Σ ∇x̂
  else:  # γ varies along every reduced axis (layer norm): independent reductions
    gs = g32 * sc  # ∇x̂ = γ ⊙ g
    s2 = rstd * _reduce(gs * xr, axes, group)  # Σ ∇x̂ ⊙ x̂
    s1 = _reduce(gs, axes, group)  # Σ ∇x̂
    a_part = None if scale is None else _sum_to(g32 * xhat, scale.shape)
    b_part = None if bias is None else _sum_to(g32, bias.shape)
  if axis_name is not None and global_params:
    # Replicated γ, β under shard_map (batch norm: γ constant over every reduced axis,
    # so the partial sums are the full per-feature sums): ONE psum gives the global
    # Σ g, Σ g x̂ — the statistics' sums and γ, β's (replicated) gradients at once.
    a_part, b_part = lax.psum(jnp.stack([a_part, b_part]), axis_name)
    s2, s1 = sc * a_part, sc * b_part
  elif axis_name is not None:  # global sums: one collective
    s1, s2 = lax.psum(jnp.stack([s1, s2]), axis_name)
  dscale = None if scale is None else _sum_to(a_part, scale.shape).astype(scale.dtype)
  dbias = (
    None if bias is None else _sum_to(b_part, bias.shape).astype(bias.dtype)
  )  # ∇β = Σ g, ∇γ = Σ g ⊙ x̂
  # −(Σ∇x̂ + x̂ Σ∇x̂x̂), negated on the small sums: no full-size subtract, so that the forward
  # mode's double transpose of this function is again one multiply-add (not add + negate).
  inner = (-s1) + xhat * (-s2) if center else xhat * (-s2)
  w = 1.0 / n if mask is None else mask.astype(ct) / n  # only valid entries move μ, σ²
  dx = rstd * (sc * g32 + w * inner)  # dx = rstd (∇x̂ − m/n (Σ∇x̂ + x̂ Σ∇x̂x̂))
  return dx.astype(x.dtype), dscale, dbias


# ----------------------------------------------------------------------------------------
# Batch norm.
# ----------------------------------------------------------------------------------------


class BatchNormStats(NamedTuple):
  """Running statistics of :func:`batch_norm` (one value per feature)."""

  mean: jax.Array
  var: jax.Array


def init_batch_norm_stats(shape, *, dtype=jnp.float32) -> BatchNormStats:
  """Initial running statistics for :func:`batch_norm`: mean 0, variance 1 (as flax/torch).

  Args:
    shape: the feature shape, i.e. ``x.shape`` without the reduced axes (an int or a
      tuple), e.g. ``(C,)`` for NHWC inputs.
    dtype: dtype of the running statistics.

  Returns:
    A :class:`BatchNormStats` ``(mean=zeros, var=ones)``.

  Example:
    >>> import numpy as np
    >>> init_batch_norm_stats(3)
    BatchNormStats(mean=Array([0., 0., 0.], dtype=float32), var=Array([1., 1., 1.], dtype=float32))
  """
  fn = "init_batch_norm_stats"
  shape = val.shape_tuple(fn, "shape", shape)
  dtype = val.float_dtype(fn, "dtype", dtype)
  return BatchNormStats(jnp.zeros(shape, dtype), jnp.ones(shape, dtype))


def _local_moments(x32, mask, axes):
  """(n, mean, M2) of the valid entries on this device (two passes)."""
  if mask is None:
    n = float(math.prod(x32.shape[a] for a in axes))
    mean, var = _two_pass(x32, axes)  # μ_i, σ_i²
    return jnp.full(mean.shape, n, x32.dtype), mean, var * n  # M2_i = n_i σ_i²
  m = mask.astype(x32.dtype)
  n = jnp.sum(jnp.broadcast_to(m, x32.shape), axis=axes, keepdims=True)  # n_i = Σ mask
  n1 = jnp.maximum(n, 1.0)
  mean = jnp.sum(m * x32, axis=axes, keepdims=True) / n1  # μ_i over valid entries
  d = x32 - mean
  c = jnp.sum(m * d, axis=axes, keepdims=True) / n1  # correction (corrected two-pass)
  m2 = jnp.maximum(jnp.sum(m * d * d, axis=axes, keepdims=True) - n * c * c, 0.0)
  return n, mean + c, m2


def _global_moments(x32, mask, axes, axis_name):
  """Global (n, mean, var): one all_gather of (n_i, μ_i, M2_i), then Chan's combination."""
  n, mean, m2 = _local_moments(x32, mask, axes)
  if axis_name is not None:
    stacked = jnp.stack([n, mean, m2])
    try:  # ONE collective; under shard_map typed as the same on every device
      parts = lax.all_gather(stacked, axis_name, to="invarying")
    except (ValueError, AssertionError):  # a named vmap / pmap axis (jit(vmap) asserts)
      parts = lax.all_gather(stacked, axis_name)
    ns, means, m2s = parts[:, 0], parts[:, 1], parts[:, 2]
    n = jnp.sum(ns, axis=0)  # n = Σ n_i
    mean = jnp.sum(ns * means, axis=0) / jnp.maximum(n, 1.0)  # μ = Σ n_i μ_i / n
    m2 = jnp.sum(m2s, axis=0) + jnp.sum(ns * (means - mean) ** 2, axis=0)  # Chan et al.
  var = m2 / jnp.maximum(n, 1.0)  # biased σ² = M2/n (seeds 001/002)
  return n, mean, var


@functools.partial(jax.custom_jvp, nondiff_argnums=(4, 5, 6, 7))
def _bn_train(x, scale, bias, mask, axes, eps, axis_name, global_params):
  return _bn_train_fwd(x, scale, bias, mask, axes, eps, axis_name)[0]


def _bn_train_fwd(x, scale, bias, mask, axes, eps, axis_name):
  ct = _compute_dtype(x.dtype)
  x32 = x.astype(ct)
  n, mean, var = _global_moments(x32, mask, axes, axis_name)
  rstd = lax.rsqrt(var + eps)  # 1/√(σ² + ε)
  y = (x32 - mean) * rstd  # x̂
  if scale is not None:
    y = y * scale.astype(ct)
  if bias is not None:
    y = y + bias.astype(ct)
  return (y.astype(x.dtype), n, mean, var), (n, mean, rstd)


def _bn_train_jvp(axes, eps, axis_name, global_params, primals, tangents):
  # The statistics outputs (n, mean, var) only feed the running statistics, which
  # batch_norm passes through lax.stop_gradient: their tangents are zero.
  x, scale, bias, mask = primals
  out, (n, mean, rstd) = _bn_train_fwd(x, scale, bias, mask, axes, eps, axis_name)

  def bwd(g):
    kw = dict(mask=mask, axis_name=axis_name, global_params=global_params)
    return _fused_bwd(x, g, mean, rstd, scale, bias, axes, jnp.maximum(n, 1.0), **kw)

  y_dot = _transposed_bwd(bwd, out[0], tangents[:3])
  return out, (y_dot, *(jnp.zeros_like(a) for a in out[1:]))


_bn_train.defjvp(_bn_train_jvp, symbolic_zeros=True)


def _bn_axes(fn, x, axis, name="x"):
  if axis is None:
    if x.ndim < 2:
      raise ValueError(
        f"{fn}: {name} has rank {x.ndim}; pass an input of rank >= 2 "
        "(batch, ..., features) or an explicit axis"
      )
    return tuple(range(x.ndim - 1))
  return val.canonical_axes(fn, "axis", axis, x.ndim)


def _replicated_in_shard_map(params, axis_name):
  """True when γ/β are replicated (invariant) over ``axis_name`` inside shard_map.

  Their gradient must then be the global sum (what autodiff gives for a replicated
  parameter); under a named vmap/pmap axis it is the per-member (local) sum.
  """
  params = [p for p in params if p is not None]
  if axis_name is None or not params:
    return False
  names = (axis_name,) if isinstance(axis_name, str) else tuple(axis_name)
  try:
    varyings = [jax.typeof(p).manual_axis_type.varying for p in params]
    lax.pcast(params[0], names, to="varying")  # raises outside shard_map
  except (AttributeError, ValueError, AssertionError):  # jit(vmap) asserts
    return False
  if all(not any(a in v for a in names) for v in varyings):
    return True
  if all(all(a in v for a in names) for v in varyings):
    return False
  raise ValueError(
    f"batch_norm: scale and bias must both be replicated or both vary over axis_name={axis_name!r}"
  )


def batch_norm(
  x,
  stats,
  *,
  scale=None,
  bias=None,
  train,
  axis=None,
  momentum=0.99,
  eps=1e-5,
  axis_name=None,
  mask=None,
  unbiased_running_var=False,
):
  r"""Batch normalization with running statistics (seed 002 批量归一化, BN算法; 001; 004 §2).

  .. math::
     \mu = \frac{1}{m}\sum_i h_i,\quad \sigma^2 = \frac{1}{m}\sum_i (h_i-\mu)^2,\quad
     y_i = \gamma \odot \frac{h_i-\mu}{\sqrt{\sigma^2+\epsilon}} + \beta

  Train (``train=True``): the batch statistics above (biased variance, 1/m, as seeds
  001 and 002 write it; seed 001 writes the denominator as :math:`\sqrt{\sigma+\epsilon}`,
  a typo for :math:`\sqrt{\sigma^2+\epsilon}`), and the running statistics become
  ``momentum · old + (1 − momentum) · batch``. Eval (``train=False``): the running
  statistics normalize and are returned unchanged.

  Conventions. The default is flax's: ``momentum`` is the weight of the old running
  value (0.99) and the running variance is the biased one. PyTorch's ``BatchNorm`` with
  its momentum ``m`` (0.1) is ``momentum=1 − m, unbiased_running_var=True`` (running
  variance updated with ``σ² · n/(n − 1)``; normalization still uses the biased σ²).

  Cross-device. With ``axis_name`` (inside ``shard_map``, ``pmap`` or a named ``vmap``)
  each device computes (n_i, μ_i, M2_i) over its valid entries with two local passes,
  ONE ``lax.all_gather`` brings them together and Chan's parallel formula gives the
  global statistics: μ = Σ n_i μ_i / n, M2 = Σ M2_i + Σ n_i (μ_i − μ)². With unequal
  per-device batches (``mask``) they equal the full-batch statistics, unlike the mean of
  per-device means (flax issue #2417). The backward pass uses one ``psum`` (which
  also yields the summed gradients of replicated γ, β under ``shard_map``).

  The derivative is the fused backward (reverse mode) and its transpose (forward mode:
  ``jax.jvp``, ``jacfwd``), both equal to autodiff (tested). The returned
  running statistics are ``lax.stop_gradient``-ed buffers.

  Args:
    x: input, e.g. ``(N, C)`` or ``(N, H, W, C)``.
    stats: :class:`BatchNormStats` with arrays of the feature shape (see
      :func:`init_batch_norm_stats`).
    scale: γ of the feature shape, or None (no scale).
    bias: β of the feature shape, or None (no bias).
    train: use (and update) batch statistics if True, running statistics if False.
    axis: reduced axes; default all but the last (the channel) axis.
    momentum: weight of the old running value, in [0, 1].
    eps: ε > 0 added to the variance.
    axis_name: mapped axis name(s) for cross-device statistics, or None.
    mask: optional boolean array broadcastable to ``x``; True marks valid entries.
      Statistics use the valid entries only; every entry is normalized.
    unbiased_running_var: update the running variance with n/(n − 1) · σ² (torch).

  Returns:
    ``(y, new_stats)``: y in the dtype of x, and the updated :class:`BatchNormStats`
    (the input ``stats`` when ``train=False``).

  Example:
    >>> import numpy as np
    >>> x = jnp.array([[1., 2.], [3., 6.]])
    >>> y, s = batch_norm(x, init_batch_norm_stats(2), train=True)
    >>> print(np.round(np.asarray(y), 3))
    [[-1. -1.]
     [ 1.  1.]]
    >>> print(np.round(np.asarray(s.mean), 3), np.round(np.asarray(s.var), 3))
    [0.02 0.04] [1.   1.03]

  References:
    Ioffe & Szegedy, "Batch Normalization: Accelerating Deep Network Training by
    Reducing Internal Covariate Shift", 2015. Chan, Golub & LeVeque, "Updating
    Formulae and a Pairwise Algorithm for Computing Sample Variances", 1979.
  """
  fn = "batch_norm"
  x = _input(fn, "x", x)
  axes = _bn_axes(fn, x, axis)
  val.check_in_range(fn, "momentum", momentum, 0.0, 1.0)
  _check_eps(fn, eps)
  val.check_bool(fn, "train", train)
  val.check_bool(fn, "unbiased_running_var", unbiased_running_var)
  if not (hasattr(stats, "mean") and hasattr(stats, "var")):
    raise ValueError(
      f"{fn}: stats={stats!r} is not a BatchNormStats; create it with init_batch_norm_stats"
    )
  if train and mask is None and math.prod(x.shape[a] for a in axes) == 0:
    raise ValueError(
      f"{fn}: x has shape {x.shape}, no entries along axis {axes} to take batch "
      "statistics from; pass a non-empty batch (or train=False)"
    )
  feat = tuple(s for i, s in enumerate(x.shape) if i not in axes)
  bshape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
  scale = _param(fn, "scale", scale, feat, bshape)
  bias = _param(fn, "bias", bias, feat, bshape)
  if tuple(stats.mean.shape) != feat or tuple(stats.var.shape) != feat:
    raise ValueError(
      f"{fn}: stats have shapes {tuple(stats.mean.shape)}, {tuple(stats.var.shape)}; "
      f"expected {feat}; create them with init_batch_norm_stats({feat})"
    )
  if not train:
    ct = _compute_dtype(x.dtype)
    rstd = lax.rsqrt(stats.var.astype(ct).reshape(bshape) + eps)
    y = (x.astype(ct) - stats.mean.astype(ct).reshape(bshape)) * rstd  # running μ, σ²
    if scale is not None:
      y = y * scale.astype(ct)
    if bias is not None:
      y = y + bias.astype(ct)
    return y.astype(x.dtype), stats
  if mask is not None:
    mask = val.as_array(fn, "mask", mask)
    try:
      ok = jnp.broadcast_shapes(mask.shape, x.shape) == x.shape
    except ValueError:
      ok = False
    if not ok:
      raise ValueError(
        f"{fn}: mask shape {mask.shape} does not broadcast to x shape "
        f"{x.shape}; pass a mask broadcastable to x"
      )
    if mask.ndim != x.ndim:
      mask = jnp.broadcast_to(mask, x.shape)
  y, n, mean, var = _bn_train(
    x, scale, bias, mask, axes, eps, axis_name, _replicated_in_shard_map((scale, bias), axis_name)
  )
  val.check_finite_statistics(fn, "x", x, var)
  n, mean, var = (lax.stop_gradient(a).reshape(feat) for a in (n, mean, var))
  if unbiased_running_var:
    var = var * n / jnp.maximum(n - 1.0, 1.0)  # unbiased: σ² · n/(n − 1)
  new_mean = momentum * stats.mean + (1 - momentum) * mean  # m·old + (1−m)·batch
  new_var = momentum * stats.var + (1 - momentum) * var
  return y, BatchNormStats(new_mean.astype(stats.mean.dtype), new_var.astype(stats.var.dtype))


# ----------------------------------------------------------------------------------------
# The seed's analytic backward, literally.
# ----------------------------------------------------------------------------------------


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def _bn_analytic(h, gamma, beta, axes, eps):
  return _bn_analytic_fwd(h, gamma, beta, axes, eps)[0]


def _bn_analytic_fwd(h, gamma, beta, axes, eps):
  ct = _compute_dtype(h.dtype)
  h32 = h.astype(ct)
  mu = jnp.mean(h32, axis=axes, keepdims=True)  # μ = (1/m) Σ h_i
  var = jnp.mean((h32 - mu) ** 2, axis=axes, keepdims=True)  # σ² = (1/m) Σ (h_i − μ)²
  h1 = (h32 - mu) / jnp.sqrt(var + eps)  # h⁽¹⁾ = (h − μ)/√(σ² + ε)
  h2 = h1
  if gamma is not None:  # None: γ = 1
    h2 = gamma.astype(ct) * h2  # γ ⊙ h⁽¹⁾
  if beta is not None:  # None: β = 0
    h2 = h2 + beta.astype(ct)  # h⁽²⁾ = γ ⊙ h⁽¹⁾ + β
  return h2.astype(h.dtype), (h, gamma, beta, mu, var, h1)


def _bn_analytic_bwd(axes, eps, res, dh2):
  """The seed's backward formulas, one by one (linear in ∇h⁽²⁾)."""
  h, gamma, beta, mu, var, h1 = res
  ct = _compute_dtype(h.dtype)
  dh2 = dh2.astype(ct)
  m = math.prod(h.shape[a] for a in axes)
  dh1 = dh2 if gamma is None else gamma.astype(ct) * dh2  # ∇h⁽¹⁾ = γ ⊙ ∇h⁽²⁾
  dbeta = None if beta is None else _sum_to(dh2, beta.shape)  # ∇β = Σ_i ∇h_i⁽²⁾
  dgamma = None if gamma is None else _sum_to(dh2 * h1, gamma.shape)  # ∇γ = Σ_i ∇h_i⁽²⁾ ⊙ h_i⁽¹⁾
  dmu = jnp.sum(-dh1 / jnp.sqrt(var + eps), axis=axes, keepdims=True)  # ∇μ
  dvar = jnp.sum(
    -0.5 * (h.astype(ct) - mu) / (var + eps) ** 1.5 * dh1, axis=axes, keepdims=True
  )  # ∇σ² = Σ −½ (h_i − μ)/(σ²+ε)^{3/2} ⊙ ∇h_i⁽¹⁾
  dh = (
    dh1 / jnp.sqrt(var + eps) + dmu / m + 2.0 / m * (h.astype(ct) - mu) * dvar
  )  # ∇h_i = ∇h⁽¹⁾/√(σ²+ε) + ∇μ/m + 2/m (h_i−μ)∇σ²
  return (
    dh.astype(h.dtype),
    None if gamma is None else dgamma.astype(gamma.dtype),
    None if beta is None else dbeta.astype(beta.dtype),
  )


def _bn_analytic_jvp(axes, eps, primals, tangents):
  out, res = _bn_analytic_fwd(*primals, axes, eps)
  bwd = functools.partial(_bn_analytic_bwd, axes, eps, res)
  return out, _transposed_bwd(bwd, out, tangents)


_bn_analytic.defjvp(_bn_analytic_jvp, symbolic_zeros=True)


def batch_norm_analytic(h, *, scale=None, bias=None, axis=None, eps=1e-5):
  r"""Training-mode batch norm whose backward is seed 002's analytic derivation (BN算法).

  Forward (batch statistics, biased variance; γ is ``scale``, β is ``bias``):

  .. math::
     h^{<1>}_i = \frac{h_i-\mu}{\sqrt{\sigma^2+\epsilon}},\qquad
     h^{<2>}_i = \gamma\odot h^{<1>}_i + \beta

  Backward: the seed's formulas, evaluated one by one:

  .. math::
     \nabla_{h^{<1>}_i} = \gamma\odot\nabla_{h^{<2>}_i},\quad
     \nabla_\beta = \sum_i \nabla_{h^{<2>}_i},\quad
     \nabla_\gamma = \sum_i \nabla_{h^{<2>}_i}\odot h^{<1>}_i,

     \nabla_\mu = \sum_i -\frac{\nabla_{h^{<1>}_i}}{\sqrt{\sigma^2+\epsilon}},\quad
     \nabla_{\sigma^2} = \sum_i -\frac12\frac{h_i-\mu}{(\sigma^2+\epsilon)^{3/2}}
       \odot\nabla_{h^{<1>}_i},

     \nabla_{h_i} = \frac{\nabla_{h^{<1>}_i}}{\sqrt{\sigma^2+\epsilon}}
       + \frac{\nabla_\mu}{m} + \frac{2}{m}(h_i-\mu)\odot\nabla_{\sigma^2}

  Notes on the seed's text: the first term of ∇h is typeset
  ``\nabla_{h_i}^{<1>\mathcal{L}}`` — read as :math:`\nabla_{h^{<1>}_i}\mathcal{L}`; the
  sentence before ∇μ has a stray "=" ("由于$=\vec{\mu}"); ∇μ omits the path through
  σ² (the term ∇σ² · (−2/m) Σ(h_i − μ)), which is exactly zero since Σ(h_i − μ) = 0, so
  the formulas as written are exact; the identity case is written
  ":math:`\gamma=\sqrt{\sigma^2}+\epsilon`", meaning :math:`\sqrt{\sigma^2+\epsilon}`.
  :func:`batch_norm` uses the algebraically equal fused form instead (fewer passes).
  Forward mode (``jax.jvp``, ``jacfwd``) uses the transpose of these formulas, so that
  reverse mode still runs them as written.

  Args:
    h: input, e.g. ``(m, n)``.
    scale: γ of the feature shape (``h.shape`` without the reduced axes), or None
      (γ = 1: no scale).
    bias: β of the feature shape, or None (β = 0: no bias).
    axis: reduced axes; default all but the last.
    eps: ε > 0.

  Returns:
    ``h⁽²⁾`` in the dtype of ``h``.

  Example:
    >>> import numpy as np
    >>> h = jnp.array([[1.], [2.], [4.]])
    >>> loss = lambda h: batch_norm_analytic(h, scale=jnp.ones(1))[0, 0]
    >>> print(np.round(np.asarray(jax.grad(loss)(h)), 4).ravel())
    [ 0.2291 -0.3436  0.1145]

  References:
    Ioffe & Szegedy, "Batch Normalization", 2015 (section 3, backward pass).
  """
  fn = "batch_norm_analytic"
  h = _input(fn, "h", h)
  axes = _bn_axes(fn, h, axis, name="h")
  _check_eps(fn, eps)
  feat = tuple(s for i, s in enumerate(h.shape) if i not in axes)
  bshape = tuple(1 if i in axes else s for i, s in enumerate(h.shape))
  gamma = _param(fn, "scale", scale, feat, bshape)  # γ
  beta = _param(fn, "bias", bias, feat, bshape)  # β
  return _bn_analytic(h, gamma, beta, axes, eps)
