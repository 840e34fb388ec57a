"""Architecture patterns as pure functions (seed 000 Multi-Head Attention, Skip
Connections; 001 残差连接; 003 §5 Max Pooling, §7 LSTM, §9 Continuous Bag Of Words).

Conventions shared by every function here:

* Images are channels-last ``(N, *spatial, C)``; sequences are ``(..., T, D)``.
* Parameters are plain dicts of arrays (``init_*`` functions build them), so they are
  pytrees that optimizers, ``jax.grad`` and ``jax.vmap`` handle directly.
* Sums, logits, softmax and gates are computed in float32 (at least); outputs keep
  the input dtype (bfloat16 / float16 / float32).
* Static arguments (window, strides, padding, num_heads, shapes) are checked at trace
  time and raise ``ValueError`` naming the function and the argument.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jpatterns import _validation, activations, initializers, normalization
from jpatterns._dtypes import compute_dtype
from jpatterns._validation import check_choice, check_positive_int

__all__ = [
  "max_pool",
  "avg_pool",
  "residual",
  "multi_head_attention",
  "init_multi_head_attention",
  "transformer_block",
  "init_transformer_block",
  "cbow",
  "lstm_cell",
  "init_lstm_params",
  "init_lstm_carry",
]


def _per_dim(fn: str, name: str, value, ndim: int) -> tuple[int, ...]:
  """An int or a sequence of ints -> a tuple of ``ndim`` positive ints."""
  if isinstance(value, numbers.Integral) and not isinstance(value, bool):
    value = (int(value),) * ndim
  elif isinstance(value, (list, tuple)):
    value = tuple(value)
  else:
    value = (value,)
  if len(value) != ndim or not all(
    isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value
  ):
    raise ValueError(
      f"{fn}: {name}={value!r} is not valid for {ndim} spatial dimension(s); "
      f"give a positive int or {ndim} positive ints"
    )
  return tuple(int(v) for v in value)


def _pool_setup(fn: str, x, window, strides, padding):
  """Validates pooling arguments; returns (dims, strides, pads) of rank x.ndim."""
  if x.ndim < 3:
    raise ValueError(
      f"{fn}: x has rank {x.ndim} (shape {x.shape}); expected (N, *spatial, C), "
      "rank >= 3 (add a batch axis with x[None] for a single example)"
    )
  if not isinstance(window, (list, tuple)):
    n_spatial = x.ndim - 2
  else:
    n_spatial = len(tuple(window))
    if x.ndim != n_spatial + 2:
      raise ValueError(
        f"{fn}: x has rank {x.ndim} (shape {x.shape}) but window={window!r} has "
        f"{n_spatial} entries; x must be (N, *spatial, C) of rank {n_spatial + 2}"
      )
  window = _per_dim(fn, "window", window, n_spatial)
  strides = window if strides is None else _per_dim(fn, "strides", strides, n_spatial)
  spatial = x.shape[1:-1]
  if isinstance(padding, str):
    check_choice(fn, "padding", padding, ("VALID", "SAME"))
    pads = lax.padtype_to_pads(spatial, window, strides, padding)
  else:
    ok = isinstance(padding, (list, tuple)) and all(isinstance(p, (list, tuple)) for p in padding)
    pads = tuple(tuple(p) for p in padding) if ok else ()
    if (
      not ok
      or len(pads) != n_spatial
      or not all(
        len(p) == 2 and all(isinstance(v, numbers.Integral) and v >= 0 for v in p) for p in pads
      )
    ):
      raise ValueError(
        f"{fn}: padding={padding!r} is not valid; choose 'VALID', 'SAME' or "
        f"{n_spatial} pairs (low, high) of non-negative ints"
      )
    pads = tuple((int(lo), int(hi)) for lo, hi in pads)
  for d, (n, w, (lo, hi)) in enumerate(zip(spatial, window, pads)):
    extra = 0 if isinstance(padding, str) else lo + hi
    if w > n + extra:  # element by element, not a tuple comparison
      raise ValueError(
        f"{fn}: window={window!r} is larger than the input in spatial dimension "
        f"{d} ({w} > {n + extra}, x shape {x.shape}); choose a window of at most "
        f"{n + extra} there"
      )
  dims = (1, *window, 1)
  full_strides = (1, *strides, 1)
  full_pads = ((0, 0), *pads, (0, 0))
  return dims, full_strides, full_pads


def max_pool(x, *, window, strides=None, padding="VALID"):
  r"""Max pooling over the spatial axes of a channels-last batch (seed 003 §5).

  .. math:: y_{n, i, c} = \max_{k \in \text{window}} x_{n, s \cdot i + k, c}

  Seed 003 §5 describes max pooling as a maximum filter over *non-overlapping*
  sub-regions: that is the default here, ``strides = window`` (as in torch's
  ``max_pool2d`` and Keras' ``MaxPooling2D``). Note that ``flax.linen.max_pool``
  defaults to ``strides = 1`` (overlapping windows): pass ``strides=`` explicitly
  when porting flax code. Padded positions never win (they are ``-inf``).

  Args:
    x: array ``(N, *spatial, C)``.
    window: int (same for every spatial axis) or a tuple with one int per spatial
      axis. It must fit in the input along every axis.
    strides: int or tuple like ``window``; default ``window`` (non-overlapping).
    padding: ``"VALID"`` (no padding, output ``floor((n - w) / s) + 1``),
      ``"SAME"`` (output ``ceil(n / s)``, padding split as in TF/XLA with the
      extra element at the end), or a sequence of ``(low, high)`` pairs per
      spatial axis.

  Returns:
    The pooled array ``(N, *out_spatial, C)`` in ``x``'s dtype.

  Raises:
    ValueError: wrong rank, a non-positive window/stride, an unknown padding, or a
      window larger than the input along some axis.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.arange(16.).reshape(1, 4, 4, 1)
    >>> print(max_pool(x, window=2)[0, ..., 0])
    [[ 5.  7.]
     [13. 15.]]

  References:
    Ranzato et al., "Unsupervised learning of invariant feature hierarchies with
    applications to object recognition", 2007.
  """
  x = _validation.as_array("max_pool", "x", x)
  dims, strides, pads = _pool_setup("max_pool", x, window, strides, padding)
  # A NumPy (concrete) init value lets lax pick reduce_window_max, which has a VJP;
  # a jnp constant would be traced under jit and lose reverse-mode differentiation.
  if jnp.issubdtype(x.dtype, jnp.floating):
    init = np.array(-np.inf, x.dtype)
  else:
    init = np.array(jnp.iinfo(x.dtype).min, x.dtype)
  return lax.reduce_window(x, init, lax.max, dims, strides, pads)  # y = max over window


def avg_pool(x, *, window, strides=None, padding="VALID", count_include_pad=False):
  r"""Average pooling over the spatial axes of a channels-last batch (seed 003 §5).

  .. math:: y_{n, i, c} = \frac{1}{|W_i|} \sum_{k \in W_i} x_{n, s \cdot i + k, c}

  The same windows as :func:`max_pool` (``strides`` defaults to ``window``, as in
  torch and Keras; flax's ``avg_pool`` defaults to 1). With padding, ``|W_i|``
  counts only the real input elements of the window by default
  (``count_include_pad=False``: torch's ``count_include_pad=False``, Keras'
  ``padding="same"``), so border outputs are true averages and are not pulled
  towards 0. ``count_include_pad=True`` divides by the full window size, as torch's
  and flax's defaults do. The sum is taken in float32.

  Args:
    x: array ``(N, *spatial, C)``.
    window: int or a tuple with one int per spatial axis; it must fit in the input.
    strides: int or tuple; default ``window``.
    padding: ``"VALID"``, ``"SAME"`` or ``(low, high)`` pairs per spatial axis
      (see :func:`max_pool`).
    count_include_pad: whether padded zeros count in the divisor (default False).

  Returns:
    The pooled array ``(N, *out_spatial, C)`` in ``x``'s dtype.

  Raises:
    ValueError: as :func:`max_pool`.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.arange(16.).reshape(1, 4, 4, 1)
    >>> print(avg_pool(x, window=2)[0, ..., 0])
    [[ 2.5  4.5]
     [10.5 12.5]]

  References:
    LeCun et al., "Gradient-based learning applied to document recognition", 1998.
  """
  x = _validation.as_array("avg_pool", "x", x)
  _validation.check_bool("avg_pool", "count_include_pad", count_include_pad)
  dims, strides, pads = _pool_setup("avg_pool", x, window, strides, padding)
  ct = compute_dtype(x.dtype)
  zero = np.array(0, ct)  # concrete, so lax uses reduce_window_sum (see max_pool)
  total = lax.reduce_window(x.astype(ct), zero, lax.add, dims, strides, pads)  # sum over window
  if count_include_pad or all(p == (0, 0) for p in pads):
    count = math.prod(dims)
  else:
    ones = jnp.ones((1, *x.shape[1:-1], 1), ct)
    count = lax.reduce_window(ones, zero, lax.add, dims, strides, pads)  # |W_i| real elements
  return (total / count).astype(x.dtype)  # y = sum / |W|


def residual(f: Callable[[Any], Any], x, *, projection=None):
  r"""Residual (skip) connection (seed 001 残差连接, seed 000 Skip Connections).

  .. math::
    y = f(x) + x, \qquad
    \frac{\partial y}{\partial x} = \frac{\partial f}{\partial x} + I

  Seed 001 writes the derivative as ``∂f/∂x + 1``: for vector ``x`` the ``1`` is the
  identity matrix, so the gradient through the block never vanishes even when
  ``∂f/∂x`` does. When ``f`` changes the shape (more channels, or a downsampling),
  the shortcut is projected, :math:`y = f(x) + x W_s` (He et al.'s option B; seed
  000's ``x^{(l-1)} U^{(l)}``).

  Args:
    f: the residual branch, a function of ``x``.
    x: the block input.
    projection: ``None`` (identity shortcut: ``f(x)`` must have ``x``'s shape), a
      ``(C_in, C_out)`` matrix applied on the last axis of ``x``, or a function
      ``x -> shortcut`` (e.g. a strided 1x1 convolution).

  Returns:
    ``f(x) + shortcut(x)``, in ``f(x)``'s dtype.

  Raises:
    ValueError: if the shortcut's shape differs from ``f(x)``'s (give a
      ``projection``), or the projection matrix does not fit.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.array([1., 2.])
    >>> print(residual(lambda v: 0.5 * v, x))
    [1.5 3. ]
    >>> print(residual(lambda v: jnp.zeros(3), x, projection=jnp.ones((2, 3))))
    [3. 3. 3.]

  References:
    He et al., "Deep residual learning for image recognition", 2016.
  """
  _validation.check_callable("residual", "f", f)
  x = _validation.as_array("residual", "x", x)
  fx = f(x)
  fx_shape = jnp.shape(fx)
  if projection is None:
    shortcut = x
    if jnp.shape(x) != fx_shape:
      raise ValueError(
        f"residual: f(x) has shape {fx_shape} but x has shape {jnp.shape(x)}; "
        "pass projection= (a (C_in, C_out) matrix or a function) to map x"
      )
  elif callable(projection):
    shortcut = projection(x)
  else:
    w = _validation.as_array("residual", "projection", projection)
    if w.ndim != 2 or w.shape[0] != jnp.shape(x)[-1]:
      raise ValueError(
        f"residual: projection has shape {w.shape}; expected a (C_in, C_out) "
        f"matrix with C_in={jnp.shape(x)[-1]} (x's last axis)"
      )
    dtype = jnp.result_type(x, w)
    shortcut = jnp.matmul(
      x.astype(dtype), w.astype(dtype), preferred_element_type=compute_dtype(dtype)
    )  # shortcut = x W_s
  if jnp.shape(shortcut) != fx_shape:
    raise ValueError(
      f"residual: the projected shortcut has shape {jnp.shape(shortcut)} but f(x) "
      f"has shape {fx_shape}; choose a projection giving {fx_shape}"
    )
  return fx + shortcut.astype(fx.dtype)  # y = f(x) + x


def _dense(x, w, b=None):
  """``x @ w (+ b)``: the library's one dense product (also used by ``jpatterns.train``).

  The product runs in the promoted dtype ``result_type(x, w)``, accumulated in at least
  float32 (:func:`jpatterns._dtypes.compute_dtype`), the bias added in that accumulator;
  the result has dtype ``result_type(x, w)``.
  """
  dtype = jnp.result_type(x, w)
  y = jnp.matmul(
    jnp.asarray(x, dtype), jnp.asarray(w, dtype), preferred_element_type=compute_dtype(dtype)
  )  # x W
  if b is not None:
    y = y + jnp.asarray(b).astype(y.dtype)  # + b
  return y.astype(dtype)


def multi_head_attention(params, query, *, key_value=None, num_heads, mask=None, causal=False):
  r"""Multi-head scaled dot-product attention (seed 000 Multi-Head Attention).

  .. math::
    \text{head}_h = \text{softmax}\Big(\frac{Q_h K_h^\top}{\sqrt{d_k}}\Big) V_h,
    \quad Q = x_q W_q + b_q,\ K = x_{kv} W_k + b_k,\ V = x_{kv} W_v + b_v,

    \text{MHA} = [\text{head}_1, \ldots, \text{head}_H]\, W_o + b_o

  Each ``(D, D)`` projection is split into ``H`` heads of ``d_k = D / H`` columns:
  column ``h * d_k + j`` belongs to head ``h`` (flax's ``(D, H, d_k)`` kernel is
  ``W.reshape(D, H, d_k)``; torch's ``in_proj_weight`` is
  ``concat([W_q, W_k, W_v], 1).T``). Logits and softmax are computed in float32.

  ``mask`` follows flax and ``jax.nn.dot_product_attention``: ``True`` = attend.
  (torch's boolean ``attn_mask`` is the opposite: ``True`` = blocked.) A query
  whose keys are all masked gets uniform weights (the mean of the values), as in
  flax and ``jax.nn``, never NaN.

  Args:
    params: dict with ``"wq", "wk", "wv"`` (``(D_in, D)``; ``wk``/``wv`` take the
      key_value's feature size) and ``"wo"`` (``(D, D_out)``), and optional biases
      ``"bq", "bk", "bv"`` (``(D,)``) and ``"bo"`` (``(D_out,)``).
    query: ``(..., T, D_in)``.
    key_value: ``(..., S, D_kv)``; default ``query`` (self-attention).
    num_heads: number of heads ``H``; it must divide ``D``.
    mask: optional boolean array broadcastable to ``(..., H, T, S)``; ``True``
      where query ``t`` may attend to key ``s``.
    causal: if True, also mask keys after the query position (``s > t``).

  Returns:
    ``(..., T, D_out)`` in ``query``'s dtype.

  Raises:
    ValueError: if ``num_heads`` does not divide ``D`` or shapes do not match.

  Example:
    >>> import jax
    >>> params = init_multi_head_attention(jax.random.key(0), 8)
    >>> x = jax.random.normal(jax.random.key(1), (2, 5, 8))
    >>> print(multi_head_attention(params, x, num_heads=2, causal=True).shape)
    (2, 5, 8)

  References:
    Vaswani et al., "Attention is all you need", 2017.
  """
  fn = "multi_head_attention"
  query = _validation.as_array(fn, "query", query)
  key_value = query if key_value is None else _validation.as_array(fn, "key_value", key_value)
  _validation.check_bool(fn, "causal", causal)
  if not isinstance(params, dict):
    raise ValueError(
      f"{fn}: params={params!r} is not a dict; build it with init_multi_head_attention"
    )
  for name in ("wq", "wk", "wv", "wo"):
    if name not in params or jnp.ndim(params[name]) != 2:
      raise ValueError(
        f"{fn}: params[{name!r}] must be a 2-D matrix; got "
        f"{None if name not in params else jnp.shape(params[name])}"
      )
  dim = params["wq"].shape[1]
  check_positive_int(fn, "num_heads", num_heads)
  if dim % num_heads:
    raise ValueError(
      f"{fn}: num_heads={num_heads!r} does not divide dim={dim}; choose a positive divisor of {dim}"
    )
  if query.ndim < 2 or key_value.ndim < 2:
    raise ValueError(
      f"{fn}: query {query.shape} and key_value {key_value.shape} must have shape (..., T, D)"
    )
  if query.shape[-1] != params["wq"].shape[0]:
    raise ValueError(
      f"{fn}: query has {query.shape[-1]} features but params['wq'] is {params['wq'].shape}"
    )
  for name in ("wk", "wv"):
    if key_value.shape[-1] != params[name].shape[0] or params[name].shape[1] != dim:
      raise ValueError(
        f"{fn}: key_value has {key_value.shape[-1]} features but "
        f"params[{name!r}] is {params[name].shape}; expected "
        f"({key_value.shape[-1]}, {dim})"
      )
  if params["wo"].shape[0] != dim:
    raise ValueError(f"{fn}: params['wo'] is {params['wo'].shape}; expected ({dim}, D_out)")
  head_dim = dim // num_heads
  dtype = query.dtype
  ct = compute_dtype(dtype)

  def split(x):  # (..., T, D) -> (..., T, H, d_k), in query's dtype
    return x.astype(dtype).reshape(*x.shape[:-1], num_heads, head_dim)

  q = split(_dense(query, params["wq"], params.get("bq")))  # Q = x_q W_q + b_q
  k = split(_dense(key_value.astype(dtype), params["wk"], params.get("bk")))
  v = split(_dense(key_value.astype(dtype), params["wv"], params.get("bv")))
  logits = jnp.einsum("...thd,...shd->...hts", q, k, preferred_element_type=ct) / math.sqrt(
    head_dim
  )  # QK^T/√d_k
  t_len, s_len = query.shape[-2], key_value.shape[-2]
  allowed = None
  if mask is not None:
    allowed = _validation.as_array(fn, "mask", mask).astype(bool)
    try:
      jnp.broadcast_shapes(allowed.shape, logits.shape)
    except ValueError:
      raise ValueError(
        f"{fn}: mask has shape {allowed.shape}; it must broadcast to (..., H, T, S) = "
        f"{logits.shape}"
      ) from None
  if causal:
    tri = jnp.tril(jnp.ones((t_len, s_len), bool))
    allowed = tri if allowed is None else allowed & tri
  if allowed is not None:
    logits = jnp.where(allowed, logits, jnp.finfo(ct).min)
  weights = jax.nn.softmax(logits, axis=-1)  # softmax over keys, float32
  heads = jnp.einsum(
    "...hts,...shd->...thd", weights.astype(dtype), v, preferred_element_type=ct
  ).astype(dtype)  # Σ_s a_ts V_s
  concat = heads.reshape(*heads.shape[:-2], dim)  # [head_1, ..., head_H]
  return _dense(concat, params["wo"], params.get("bo")).astype(dtype)  # concat W_o + b_o


def init_multi_head_attention(
  key, dim, *, kv_dim=None, out_dim=None, use_bias=True, dtype=jnp.float32
):
  """Parameters for :func:`multi_head_attention` (seed 000 Multi-Head Attention).

  Weights are Glorot-uniform per ``(D_in, D)`` matrix, biases zero (torch's
  ``nn.MultiheadAttention`` is Xavier-uniform with zero biases too, but its fan
  counts the stacked ``(3D, D)`` in-projection). The number of heads is not needed
  here: it only decides how the columns are grouped at call time.

  Args:
    key: PRNG key.
    dim: model dimension ``D`` (query features and inner size).
    kv_dim: key_value features (default ``dim``).
    out_dim: output features (default ``dim``).
    use_bias: include ``"bq", "bk", "bv", "bo"`` (default True).
    dtype: parameter dtype.

  Returns:
    dict ``{"wq", "wk", "wv", "wo"[, "bq", "bk", "bv", "bo"]}``.

  Example:
    >>> import jax
    >>> p = init_multi_head_attention(jax.random.key(0), 4)
    >>> print(sorted(p), p["wq"].shape)
    ['bk', 'bo', 'bq', 'bv', 'wk', 'wo', 'wq', 'wv'] (4, 4)

  References:
    Glorot & Bengio, "Understanding the difficulty of training deep feedforward
    neural networks", 2010.
  """
  fn = "init_multi_head_attention"
  kv_dim = dim if kv_dim is None else kv_dim
  out_dim = dim if out_dim is None else out_dim
  for name, value in (("dim", dim), ("kv_dim", kv_dim), ("out_dim", out_dim)):
    check_positive_int(fn, name, value)
  _validation.check_bool(fn, "use_bias", use_bias)
  dtype = _validation.float_dtype(fn, "dtype", dtype)
  _validation.check_key(fn, "key", key)
  init = initializers.glorot_uniform()
  kq, kk, kv, ko = jax.random.split(key, 4)
  params = {
    "wq": init(kq, (dim, dim), dtype),
    "wk": init(kk, (kv_dim, dim), dtype),
    "wv": init(kv, (kv_dim, dim), dtype),
    "wo": init(ko, (dim, out_dim), dtype),
  }
  if use_bias:
    params.update(
      bq=jnp.zeros((dim,), dtype),
      bk=jnp.zeros((dim,), dtype),
      bv=jnp.zeros((dim,), dtype),
      bo=jnp.zeros((out_dim,), dtype),
    )
  return params


def _default_norm(params):
  def norm(name, x):  # layer norm over the features, γ and β from params[name]
    p = params[name]
    return normalization.layer_norm(x, scale=p.get("scale"), bias=p.get("bias"), axis=-1)

  return norm


def transformer_block(
  params,
  x,
  *,
  num_heads,
  mask=None,
  causal=False,
  activation=activations.gelu,
  norm=None,
  branch=None,
):
  r"""A pre-LN transformer encoder block (seed 000 Multi-Head Attention, Skip
  Connections; seed 004 §2 LN).

  .. math::
    h = x + \text{MHA}(\text{LN}_1(x)), \qquad
    y = h + W_2\, \phi(W_1\, \text{LN}_2(h) + b_1) + b_2

  Two residual branches (:func:`residual`, seed 000 Skip Connections), each with its
  normalization first (pre-LN, Xiong et al. 2020: the sum path carries ``x``
  unnormalized, so deep stacks train without warm-up), self-attention
  (:func:`multi_head_attention`) in the first and a two-layer MLP with activation
  :math:`\phi` (GELU, as in BERT and ViT) in the second. Seed 004 §2 says LN suits
  transformers: it normalizes each token over its own features, whatever the
  sequence length. A final LN after the last block is the caller's (see
  ``jpatterns.train``'s ``transformer`` model).

  ``norm`` and ``branch`` let a caller swap the pieces without another block:
  ``norm(name, v)`` replaces the layer norms (``name`` is ``"norm1"`` or ``"norm2"``;
  a batch norm keeps its statistics in the caller's closure) and ``branch(name, v)``
  maps each branch output before the sum (``name`` is ``"attn"`` or ``"mlp"``; e.g.
  dropout or drop-path with the caller's key).

  Args:
    params: dict with ``"attn"`` (:func:`multi_head_attention`'s params, ``(D, D)``
      matrices), ``"mlp"`` (``"w1"`` ``(D, F)``, ``"b1"`` ``(F,)``, ``"w2"`` ``(F, D)``,
      ``"b2"`` ``(D,)``) and ``"norm1"``, ``"norm2"`` (``"scale"``, ``"bias"``, each
      ``(D,)``, for the default layer norm); :func:`init_transformer_block` builds it.
    x: ``(..., T, D)`` tokens.
    num_heads: attention heads ``H``; it must divide ``D``.
    mask: optional boolean attention mask, ``True`` = attend (see
      :func:`multi_head_attention`).
    causal: if True, each token attends only to itself and earlier tokens.
    activation: :math:`\phi`, default exact GELU.
    norm: ``norm(name, v) -> v``; default layer norm with ``params[name]``.
    branch: ``branch(name, v) -> v`` applied to each branch output; default identity.

  Returns:
    ``(..., T, D)``, in ``x``'s dtype.

  Raises:
    ValueError: if ``num_heads`` does not divide ``D`` or a weight's shape does not fit.

  Example:
    >>> import jax
    >>> p = init_transformer_block(jax.random.key(0), 8, mlp_dim=16)
    >>> x = jax.random.normal(jax.random.key(1), (2, 5, 8))
    >>> print(transformer_block(p, x, num_heads=2).shape)
    (2, 5, 8)

  References:
    Vaswani et al., "Attention is all you need", 2017; Xiong et al., "On layer
    normalization in the transformer architecture", 2020.
  """
  fn = "transformer_block"
  x = _validation.as_array(fn, "x", x)
  check_positive_int(fn, "num_heads", num_heads)
  _validation.check_bool(fn, "causal", causal)
  _validation.check_callable(fn, "activation", activation)
  for name, f in (("norm", norm), ("branch", branch)):
    if f is not None:
      _validation.check_callable(fn, name, f)
  if mask is not None:
    mask = _validation.as_array(fn, "mask", mask)
  norm = _default_norm(params) if norm is None else norm
  branch = (lambda name, v: v) if branch is None else branch
  mlp = params["mlp"]
  dim = jnp.shape(x)[-1]
  if mlp["w1"].shape[0] != dim or mlp["w2"].shape != mlp["w1"].shape[::-1]:
    raise ValueError(
      f"transformer_block: mlp weights {mlp['w1'].shape} and {mlp['w2'].shape} do not fit "
      f"D={dim}; expected (D, F) and (F, D)"
    )

  def attend(v):  # MHA(LN₁(x))
    a = multi_head_attention(
      params["attn"], norm("norm1", v), num_heads=num_heads, mask=mask, causal=causal
    )
    return branch("attn", a)

  def feed_forward(v):  # W₂ φ(W₁ LN₂(h) + b₁) + b₂
    u = activation(_dense(norm("norm2", v), mlp["w1"], mlp.get("b1")))
    return branch("mlp", _dense(u, mlp["w2"], mlp.get("b2")))

  h = residual(attend, x)  # h = x + MHA(LN₁(x))
  return residual(feed_forward, h).astype(x.dtype)  # y = h + MLP(LN₂(h))


def init_transformer_block(key, dim, *, mlp_dim=None, kernel_init=None, dtype=jnp.float32):
  """Parameters for :func:`transformer_block` (seed 000 Multi-Head Attention).

  Attention weights as :func:`init_multi_head_attention` (or ``kernel_init``), MLP
  kernels Glorot-uniform (or ``kernel_init``), biases zero, layer-norm γ = 1, β = 0.

  Args:
    key: PRNG key.
    dim: model dimension ``D``.
    mlp_dim: hidden units ``F`` of the MLP (default ``4 D``, as Vaswani et al.).
    kernel_init: ``init(key, shape, dtype)`` for every weight matrix (default
      Glorot-uniform).
    dtype: parameter dtype.

  Returns:
    dict ``{"norm1", "attn", "norm2", "mlp"}``.

  Example:
    >>> import jax
    >>> p = init_transformer_block(jax.random.key(0), 8)
    >>> print(sorted(p), p["mlp"]["w1"].shape)
    ['attn', 'mlp', 'norm1', 'norm2'] (8, 32)

  References:
    Vaswani et al., "Attention is all you need", 2017.
  """
  fn = "init_transformer_block"
  _validation.check_key(fn, "key", key)
  check_positive_int(fn, "dim", dim)
  mlp_dim = 4 * dim if mlp_dim is None else mlp_dim
  check_positive_int(fn, "mlp_dim", mlp_dim)
  if kernel_init is not None:
    _validation.check_callable(fn, "kernel_init", kernel_init)
  dtype = _validation.float_dtype(fn, "dtype", dtype)
  init = initializers.glorot_uniform() if kernel_init is None else kernel_init
  k_attn, k1, k2 = jax.random.split(key, 3)
  attn = init_multi_head_attention(k_attn, dim, dtype=dtype)
  if kernel_init is not None:
    for name, k in zip(("wq", "wk", "wv", "wo"), jax.random.split(k_attn, 4)):
      attn[name] = init(k, (dim, dim), dtype)

  def ln():
    return {"scale": jnp.ones((dim,), dtype), "bias": jnp.zeros((dim,), dtype)}

  mlp = {
    "w1": init(k1, (dim, mlp_dim), dtype),
    "b1": jnp.zeros((mlp_dim,), dtype),
    "w2": init(k2, (mlp_dim, dim), dtype),
    "b2": jnp.zeros((dim,), dtype),
  }
  return {"norm1": ln(), "attn": attn, "norm2": ln(), "mlp": mlp}


def cbow(embeddings, context, *, mask=None):
  r"""Continuous bag of words: the context words' mean embedding (seed 003 §9
  Continuous Bag Of Words).

  .. math::
    h = \frac{1}{|C|} \sum_{j \in C} E_{w_j}

  Seed 003 §9: the words around a position are fed to a network that predicts the
  word at its centre; the hidden layer is the embedding. In word2vec's CBOW
  (Mikolov et al., 2013) that hidden layer is the mean of the context words'
  embedding rows, and the centre word ``c`` is scored by :math:`u_c \cdot h` (a
  softmax over the vocabulary, or negative sampling
  :math:`-\log\sigma(u_c \cdot h) - \sum_k \log\sigma(-u_k \cdot h)`); see
  ``examples/word_vectors.py --model cbow``. Skip-gram (seed 003 §8) is the reverse:
  the centre predicts each context word.

  Args:
    embeddings: ``(V, D)`` embedding matrix ``E``.
    context: ``(..., W)`` integer word indices, ``W`` context slots per centre word.
    mask: optional ``(..., W)`` boolean, ``True`` for real context words (a window
      cut short by a sentence edge pads the rest); default all real.

  Returns:
    ``(..., D)`` mean embedding ``h`` in ``embeddings``' dtype (zeros where the mask
    keeps no word).

  Example:
    >>> import jax.numpy as jnp
    >>> E = jnp.array([[1., 0.], [0., 1.], [3., 3.]])
    >>> print(cbow(E, jnp.array([0, 1, 2]), mask=jnp.array([True, True, False])))
    [0.5 0.5]

  References:
    Mikolov et al., "Efficient estimation of word representations in vector space",
    2013.
  """
  embeddings = _validation.as_array("cbow", "embeddings", embeddings)
  if embeddings.ndim != 2:
    raise ValueError(f"cbow: embeddings must be a (V, D) matrix; got shape {embeddings.shape}")
  context = _validation.as_array("cbow", "context", context)
  if mask is not None:
    mask = _validation.as_array("cbow", "mask", mask)
  if not jnp.issubdtype(context.dtype, jnp.integer) or context.ndim < 1:
    raise ValueError(
      f"cbow: context must be integer word indices of shape (..., W); got "
      f"{context.dtype} {context.shape}"
    )
  ct = compute_dtype(embeddings.dtype)
  vectors = embeddings[context].astype(ct)  # E_{w_j}: (..., W, D)
  if mask is None:
    h = jnp.mean(vectors, axis=-2)
  else:
    mask = jnp.asarray(mask)
    if mask.shape != context.shape:
      raise ValueError(f"cbow: mask has shape {mask.shape}; expected context's {context.shape}")
    m = mask.astype(ct)[..., None]
    count = jnp.sum(m, axis=-2)  # |C|
    h = jnp.sum(vectors * m, axis=-2) / jnp.maximum(count, 1)  # (1/|C|) Σ_{j∈C} E_{w_j}
  return h.astype(embeddings.dtype)


def lstm_cell(params, carry, x):
  r"""One step of a long short-term memory cell (seed 003 §7).

  .. math::
    [i, f, g, o] = x W_i + h W_h + b, \quad
    c' = \sigma(f) \odot c + \sigma(i) \odot \tanh(g), \quad
    h' = \sigma(o) \odot \tanh(c')

  Seed 003 §7 names the three gates: the input gate decides what enters the cell,
  the forget gate what is remembered from the previous step, the output gate what is
  passed on, all computed from the current input (and the previous output). The
  four pre-activations are stacked in torch's order ``i, f, g, o`` along the last
  axis of ``W_i (in, 4H)``, ``W_h (H, 4H)`` and ``b (4H,)``: torch's ``weight_ih``
  is ``W_i.T``, ``weight_hh`` is ``W_h.T`` and ``b = bias_ih + bias_hh``. The carry
  is ``(c, h)`` as in flax (torch's LSTM state is ``(h, c)``). Gates are computed in
  float32; the new carry keeps the carry's dtypes. Run a sequence with::

    jax.lax.scan(lambda carry, x: lstm_cell(params, carry, x), carry, xs)

  Args:
    params: dict ``{"w_i": (in, 4H), "w_h": (H, 4H), "b": (4H,)}``.
    carry: ``(c, h)``, each ``(..., H)``.
    x: input ``(..., in)``.

  Returns:
    ``((c', h'), h')``: the new carry and the output.

  Raises:
    ValueError: if the shapes of params, carry and x do not match.

  Example:
    >>> import jax
    >>> params = init_lstm_params(jax.random.key(0), 3, 4)
    >>> carry = init_lstm_carry((2,), 4)
    >>> xs = jax.numpy.ones((5, 2, 3))
    >>> carry, hs = jax.lax.scan(lambda c, x: lstm_cell(params, c, x), carry, xs)
    >>> print(hs.shape)
    (5, 2, 4)

  References:
    Hochreiter & Schmidhuber, "Long short-term memory", 1997; Gers et al.,
    "Learning to forget: continual prediction with LSTM", 2000.
  """
  fn = "lstm_cell"
  x = _validation.as_array(fn, "x", x)
  if not isinstance(carry, (tuple, list)) or len(carry) != 2:
    raise ValueError(f"{fn}: carry must be a pair (c, h); build it with init_lstm_carry")
  c, h = (_validation.as_array(fn, "carry", a) for a in carry)
  if not isinstance(params, dict) or any(k not in params for k in ("w_i", "w_h", "b")):
    raise ValueError(
      f"{fn}: params must be a dict with w_i, w_h, b; build it with init_lstm_params"
    )
  w_i, w_h, b = params["w_i"], params["w_h"], params["b"]
  hidden = w_h.shape[0]
  if (
    w_i.ndim != 2
    or w_h.shape != (hidden, 4 * hidden)
    or w_i.shape[1] != 4 * hidden
    or jnp.shape(b) != (4 * hidden,)
  ):
    raise ValueError(
      f"{fn}: params shapes w_i={w_i.shape}, w_h={w_h.shape}, b={jnp.shape(b)} "
      "do not fit; expected (in, 4H), (H, 4H), (4H,)"
    )
  if x.ndim < 1:
    raise ValueError(f"{fn}: x is a scalar; pass x of shape (..., {w_i.shape[0]})")
  if x.shape[-1] != w_i.shape[0]:
    raise ValueError(
      f"{fn}: x has {x.shape[-1]} features but params['w_i'] is "
      f"{w_i.shape}; expected x of shape (..., {w_i.shape[0]})"
    )
  if c.shape[-1] != hidden or h.shape[-1] != hidden:
    raise ValueError(
      f"{fn}: carry (c, h) has shapes {c.shape}, {h.shape}; expected "
      f"(..., {hidden}) each (carry order is (c, h))"
    )
  ct = compute_dtype(x.dtype, h.dtype, c.dtype)
  z = (
    jnp.matmul(x, w_i.astype(x.dtype), preferred_element_type=ct)
    + jnp.matmul(h, w_h.astype(h.dtype), preferred_element_type=ct)
    + b.astype(ct)
  )  # z = x W_i + h W_h + b
  zi, zf, zg, zo = jnp.split(z, 4, axis=-1)
  new_c = jax.nn.sigmoid(zf) * c.astype(ct) + jax.nn.sigmoid(zi) * jnp.tanh(
    zg
  )  # c' = σ(f)·c + σ(i)·tanh(g)
  new_h = jax.nn.sigmoid(zo) * jnp.tanh(new_c)  # h' = σ(o)·tanh(c')
  new_c, new_h = new_c.astype(c.dtype), new_h.astype(h.dtype)
  return (new_c, new_h), new_h


def init_lstm_params(key, in_features, hidden, *, forget_bias=1.0, dtype=jnp.float32):
  """Parameters for :func:`lstm_cell` (seed 003 §7).

  Keras' defaults: Glorot-uniform ``w_i``, orthogonal ``w_h``, zero bias except the
  forget gate's, set to ``forget_bias`` (1.0, Jozefowicz et al.; flax uses 0, torch
  draws every weight from ``U(-1/sqrt(H), 1/sqrt(H))``).

  Args:
    key: PRNG key.
    in_features: input size.
    hidden: hidden size ``H``.
    forget_bias: initial bias of the forget gate (default 1.0).
    dtype: parameter dtype.

  Returns:
    dict ``{"w_i": (in, 4H), "w_h": (H, 4H), "b": (4H,)}``, gates ordered i, f, g, o.

  Example:
    >>> import jax
    >>> p = init_lstm_params(jax.random.key(0), 3, 2)
    >>> print(p["w_i"].shape, p["w_h"].shape, p["b"])
    (3, 8) (2, 8) [0. 0. 1. 1. 0. 0. 0. 0.]

  References:
    Jozefowicz et al., "An empirical exploration of recurrent network
    architectures", 2015.
  """
  fn = "init_lstm_params"
  for name, value in (("in_features", in_features), ("hidden", hidden)):
    check_positive_int(fn, name, value)
  _validation.check_finite(fn, "forget_bias", forget_bias)
  dtype = _validation.float_dtype(fn, "dtype", dtype)
  _validation.check_key(fn, "key", key)
  ki, kh = jax.random.split(key)
  w_i = initializers.glorot_uniform()(ki, (in_features, 4 * hidden), dtype)
  w_h = initializers.orthogonal()(kh, (hidden, 4 * hidden), dtype)
  b = jnp.zeros((4 * hidden,), dtype).at[hidden : 2 * hidden].set(forget_bias)
  return {"w_i": w_i, "w_h": w_h, "b": b}


def init_lstm_carry(batch_shape, hidden, *, dtype=jnp.float32):
  """A zero carry ``(c, h)`` for :func:`lstm_cell` (seed 003 §7).

  Args:
    batch_shape: int or tuple of leading dimensions (``()`` for one sequence).
    hidden: hidden size ``H``.
    dtype: carry dtype.

  Returns:
    ``(c, h)``, zeros of shape ``(*batch_shape, hidden)`` each (flax's order;
    torch's state is ``(h, c)``).

  Example:
    >>> c, h = init_lstm_carry(2, 3)
    >>> print(c.shape, h.shape)
    (2, 3) (2, 3)
  """
  fn = "init_lstm_carry"
  batch_shape = _validation.shape_tuple(fn, "batch_shape", batch_shape)
  check_positive_int(fn, "hidden", hidden)
  dtype = _validation.float_dtype(fn, "dtype", dtype)
  shape = (*batch_shape, hidden)
  return jnp.zeros(shape, dtype), jnp.zeros(shape, dtype)
