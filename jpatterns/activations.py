"""Activation functions (seed 004 §4, seed 001).

Pure element-wise (or, for softmax / log_softmax, per-axis) functions of an array.
Each is written with the same primitives as its ``jax.nn`` counterpart, so that its
forward and backward passes cost the same, and is checked in the tests against
``jax.nn`` and PyTorch.

Seed 004 §4.1 names the saturating activations (sigmoid, tanh), §4.2 the
non-saturating ones (ReLU, Leaky ReLU, PReLU, RReLU, ELU); seed 001 uses ELU and
softmax layers. SELU, CELU, GELU, SiLU/Swish, Mish and softplus are not in the
seeds; they complete the catalogue with the definitions of their papers.

Conventions: integer inputs are promoted to float32; every output has the input's
floating dtype (float32, bfloat16, float16 kept). softmax / log_softmax reduce in
at least float32 and cast back.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jpatterns import _validation
from jpatterns._dtypes import compute_dtype

__all__ = [
  "sigmoid",
  "tanh",
  "relu",
  "leaky_relu",
  "prelu",
  "rrelu",
  "elu",
  "selu",
  "celu",
  "gelu",
  "silu",
  "swish",
  "mish",
  "softplus",
  "softmax",
  "log_softmax",
]

# SELU constants (Klambauer et al., 2017), the values jax.nn and torch use.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _as_float(x, fn):
  """The input as an array (lists refused); integer and boolean inputs become float32."""
  return _validation.as_float_array(fn, "x", x)


# --------------------------------------------------------------------------
# Saturating activations (seed 004 §4.1)


def sigmoid(x):
  r"""Logistic sigmoid (seed 004 §4.1).

  .. math:: \sigma(x) = \frac{1}{1 + e^{-x}}

  Computed with ``lax.logistic`` (as ``jax.nn.sigmoid``), which saturates cleanly:
  ``sigmoid(-1e4) = 0`` and ``sigmoid(1e4) = 1``, never NaN.

  Args:
    x: input array.

  Returns:
    ``sigma(x)`` element-wise, in ``(0, 1)``, same shape and dtype as ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(sigmoid(jnp.array([-1e4, 0.0, 2.0])).round(4))
    [0.     0.5    0.8808]

  References:
    Verhulst, "Notice sur la loi que la population suit dans son accroissement", 1838.
  """
  x = _as_float(x, "sigmoid")
  return lax.logistic(x)  # 1 / (1 + exp(-x))


def tanh(x):
  r"""Hyperbolic tangent (seed 004 §4.1).

  .. math:: \tanh(x) = \frac{e^x - e^{-x}}{e^x + e^{-x}} = 2\sigma(2x) - 1

  The seed writes the identity ``tanh(x) = 2 sigma(2x) - 1``; it is exact in real
  arithmetic but loses relative accuracy near 0 in floating point (a difference of
  two numbers near 1), so the direct ``jnp.tanh`` is used. The tests check the
  seed's identity.

  Args:
    x: input array.

  Returns:
    ``tanh(x)`` element-wise, in ``(-1, 1)``, same shape and dtype as ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(tanh(jnp.array([-1e4, 0.0, 1.0])).round(4))
    [-1.      0.      0.7616]

  References:
    LeCun et al., "Efficient BackProp", 1998.
  """
  x = _as_float(x, "tanh")
  return jnp.tanh(x)  # tanh(x) = 2·sigmoid(2x) − 1


# --------------------------------------------------------------------------
# ReLU family (seed 004 §4.2)


@jax.custom_jvp
def _relu(x):
  return jnp.maximum(x, 0)


# relu'(0) = 0, as jax.nn.relu and torch (Bertoin et al., 2021).
_relu.defjvps(lambda g, ans, x: lax.select(x > 0, g, lax.full_like(g, 0)))


def relu(x):
  r"""Rectified linear unit (seed 004 §4.2).

  .. math:: \mathrm{relu}(x) = \max(x, 0)

  The seed's "max(x, o)" means ``max(x, 0)``. The derivative at 0 is taken as 0
  (as ``jax.nn.relu`` and torch).

  Args:
    x: input array.

  Returns:
    ``max(x, 0)`` element-wise, same shape and dtype as ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(relu(jnp.array([-2.0, 0.0, 3.0])))
    [0. 0. 3.]

  References:
    Nair & Hinton, "Rectified Linear Units Improve Restricted Boltzmann Machines", 2010.
  """
  x = _as_float(x, "relu")
  return _relu(x)  # max(x, 0)


def leaky_relu(x, *, negative_slope=0.01):
  r"""Leaky ReLU (seed 004 §4.2).

  .. math:: f(x) = x \text{ if } x \ge 0 \text{ else } a x

  Args:
    x: input array.
    negative_slope: the slope ``a`` for negative inputs (default 0.01, as jax.nn
      and torch).

  Returns:
    ``f(x)`` element-wise, same shape and dtype as ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(leaky_relu(jnp.array([-2.0, 3.0]), negative_slope=0.1))
    [-0.2  3. ]

  References:
    Maas et al., "Rectifier Nonlinearities Improve Neural Network Acoustic Models", 2013.
  """
  _validation.check_finite("leaky_relu", "negative_slope", negative_slope)
  x = _as_float(x, "leaky_relu")
  return jnp.where(x >= 0, x, negative_slope * x)  # f(x) = x or a·x


def prelu(x, alpha, *, channel_axis=-1):
  r"""Parametric ReLU, a learned negative slope (seed 004 §4.2).

  .. math:: f(x_c) = x_c \text{ if } x_c \ge 0 \text{ else } \alpha_c x_c

  ``alpha`` is a parameter the caller owns and trains (seed 004: the slope "is
  decided by the data"): a scalar (one slope shared by all channels, torch's
  ``num_parameters=1``), or a vector of one slope per channel, broadcast along
  ``channel_axis``. Gradients flow to both ``x`` and ``alpha``.

  Args:
    x: input array.
    alpha: scalar, shape ``(1,)``, or shape ``(C,)`` with ``C = x.shape[channel_axis]``.
    channel_axis: the axis of ``x`` that ``alpha`` runs along (default -1,
      channels-last; torch's ``F.prelu`` uses axis 1).

  Returns:
    ``f(x)``, same shape and dtype as ``x``.

  Raises:
    ValueError: if ``alpha``'s shape is none of the above, or ``channel_axis`` is
      out of range.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.array([[-1.0, -1.0], [2.0, -4.0]])
    >>> print(prelu(x, jnp.array([0.1, 0.5])))
    [[-0.1 -0.5]
     [ 2.  -2. ]]

  References:
    He et al., "Delving Deep into Rectifiers: Surpassing Human-Level Performance on
    ImageNet Classification", 2015.
  """
  x = _as_float(x, "prelu")
  alpha = _validation.as_array("prelu", "alpha", alpha)
  _validation.canonical_axes("prelu", "channel_axis", channel_axis, x.ndim)
  if alpha.size == 1 and alpha.ndim <= 1:
    a = alpha.reshape(())
  elif alpha.ndim == 1:
    (axis,) = _validation.canonical_axes("prelu", "channel_axis", channel_axis, x.ndim)
    if alpha.shape[0] != x.shape[axis]:
      raise ValueError(
        f"prelu: alpha.shape={alpha.shape} does not match x.shape[{channel_axis}]="
        f"{x.shape[axis]} channels (x.shape={x.shape}); use a scalar alpha or one "
        f"of shape ({x.shape[axis]},)"
      )
    a = alpha.reshape([-1 if i == axis else 1 for i in range(x.ndim)])
  else:
    raise ValueError(
      f"prelu: alpha.shape={alpha.shape} is not valid; use a scalar alpha or a "
      f"vector of one slope per channel along channel_axis={channel_axis}"
    )
  a = a.astype(x.dtype)
  return jnp.where(x >= 0, x, a * x)  # f(x) = x or α_c·x


def _rrelu_order(lower, upper):
  if lower > upper:
    raise ValueError(f"rrelu: lower={lower!r} > upper={upper!r}; choose lower <= upper")


def rrelu(key, x, *, lower=1.0 / 8, upper=1.0 / 3, train=True):
  r"""Randomized leaky ReLU (seed 004 §4.2).

  .. math::
    f(x_{ji}) = x_{ji} \text{ if } x_{ji} \ge 0 \text{ else } a_{ji} x_{ji},
    \qquad a_{ji} \sim U(l, u) \text{ (train)}, \quad a = \frac{l + u}{2} \text{ (eval)}

  In training every element draws its own slope from ``U(lower, upper)``; at test
  time the slope is fixed to its mean ``(lower + upper) / 2`` (the seed: "random in
  training, fixed in testing"; the seed's ``U(I, u)`` is a typo for ``U(l, u)``).
  Defaults 1/8 and 1/3 are torch's (``F.rrelu``). Per-example randomness is the
  caller's ``jax.vmap(lambda k, x: rrelu(k, x))(jax.random.split(key, n), xs)``.

  Args:
    key: a PRNG key; may be ``None`` when ``train=False``.
    x: input array.
    lower: lower bound ``l`` of the slope, in ``[0, 1]``.
    upper: upper bound ``u`` of the slope, in ``[lower, 1]``.
    train: sample slopes (True) or use the deterministic mean slope (False).

  Returns:
    ``f(x)``, same shape and dtype as ``x``.

  Raises:
    ValueError: if ``lower`` or ``upper`` is outside ``[0, 1]``, ``lower > upper``,
      or ``key`` is None while ``train=True``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.array([-3.0, 2.0])
    >>> print(rrelu(None, x, train=False).round(4))
    [-0.6875  2.    ]
    >>> y = rrelu(jax.random.key(0), x)
    >>> print(bool(-1.0 <= y[0] <= -0.375), float(y[1]))
    True 2.0

  References:
    Xu et al., "Empirical Evaluation of Rectified Activations in Convolutional
    Network", 2015.
  """
  _validation.check_in_range("rrelu", "lower", lower, 0.0, 1.0)
  _validation.check_in_range("rrelu", "upper", upper, 0.0, 1.0)
  _validation.check_numbers("rrelu", _rrelu_order, lower=lower, upper=upper)
  _validation.check_bool("rrelu", "train", train)
  x = _as_float(x, "rrelu")
  if train:
    if key is None:
      raise ValueError(
        "rrelu: key=None with train=True; pass a PRNG key to sample "
        "slopes, or train=False for the deterministic eval form"
      )
    _validation.check_key("rrelu", "key", key)
    slope = jax.random.uniform(key, x.shape, x.dtype, lower, upper)  # a ~ U(l, u)
  else:
    slope = (lower + upper) / 2  # a = (l + u) / 2
  return jnp.where(x >= 0, x, slope * x)  # f(x) = x or a·x


# --------------------------------------------------------------------------
# Exponential units


def elu(x, *, alpha=1.0):
  r"""Exponential linear unit (seed 004 §4.2, seed 001).

  .. math:: \mathrm{elu}(x) = x \text{ if } x > 0 \text{ else } \alpha (e^x - 1)

  ``expm1`` keeps accuracy near 0; the inner ``where`` keeps ``exp`` of large
  positive inputs out of the unused branch, so gradients stay finite.

  Args:
    x: input array.
    alpha: saturation value ``-alpha`` for ``x -> -inf`` (default 1.0).

  Returns:
    ``elu(x)`` element-wise, same shape and dtype as ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(elu(jnp.array([-1e4, -1.0, 2.0])).round(4))
    [-1.     -0.6321  2.    ]

  References:
    Clevert et al., "Fast and Accurate Deep Network Learning by Exponential Linear
    Units (ELUs)", 2016.
  """
  _validation.check_finite("elu", "alpha", alpha)
  x = _as_float(x, "elu")
  safe = jnp.where(x > 0, 0.0, x)
  return jnp.where(x > 0, x, alpha * jnp.expm1(safe))  # x or α(e^x − 1)


def selu(x):
  r"""Scaled exponential linear unit (catalogue; an ELU variant, not in the seeds).

  .. math:: \mathrm{selu}(x) = \lambda\,\mathrm{elu}_\alpha(x), \quad
    \lambda \approx 1.0507, \ \alpha \approx 1.6733

  Args:
    x: input array.

  Returns:
    ``selu(x)`` element-wise, same shape and dtype as ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(selu(jnp.array([-1.0, 1.0])).round(4))
    [-1.1113  1.0507]

  References:
    Klambauer et al., "Self-Normalizing Neural Networks", 2017.
  """
  x = _as_float(x, "selu")
  return _SELU_SCALE * elu(x, alpha=_SELU_ALPHA)  # λ·elu_α(x)


def celu(x, *, alpha=1.0):
  r"""Continuously differentiable ELU (catalogue; an ELU variant, not in the seeds).

  .. math:: \mathrm{celu}(x) = \max(0, x) + \alpha\,(e^{\min(0, x)/\alpha} - 1)

  Args:
    x: input array.
    alpha: a positive scale (default 1.0; ``alpha = 1`` gives ELU).

  Returns:
    ``celu(x)`` element-wise, same shape and dtype as ``x``.

  Raises:
    ValueError: if ``alpha <= 0``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(celu(jnp.array([-1.0, 1.0]), alpha=2.0).round(4))
    [-0.7869  1.    ]

  References:
    Barron, "Continuously Differentiable Exponential Linear Units", 2017.
  """
  _validation.check_positive("celu", "alpha", alpha)
  x = _as_float(x, "celu")
  # celu(x) = max(0, x) + α(e^{min(0, x)/α} − 1)
  return jnp.maximum(x, 0.0) + alpha * jnp.expm1(jnp.minimum(x, 0.0) / alpha)


# --------------------------------------------------------------------------
# Smooth gates


def gelu(x, *, approximate=False):
  r"""Gaussian error linear unit, exact by default (catalogue; not in the seeds).

  .. math::
    \mathrm{gelu}(x) = x\,\Phi(x) = \frac{x}{2}\,\mathrm{erfc}\!\left(-\frac{x}{\sqrt 2}\right)

  With ``approximate=True``, the tanh approximation

  .. math::
    \frac{x}{2}\left(1 + \tanh\!\left(\sqrt{2/\pi}\,(x + 0.044715 x^3)\right)\right)

  Default: **exact** (``approximate=False``), as torch's ``F.gelu`` and the paper's
  definition; ``jax.nn.gelu`` defaults to the tanh approximation (``flax``'s
  ``nn.gelu`` too). The two differ by up to about 5e-4 (near ``|x| ~ 2``).

  Args:
    x: input array.
    approximate: use the tanh approximation (False: exact, via ``erfc``).

  Returns:
    ``gelu(x)`` element-wise, same shape and dtype as ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> [round(float(v), 4) for v in gelu(jnp.array([-1.0, 1.0]))]
    [-0.1587, 0.8413]
    >>> [round(float(v), 4) for v in gelu(jnp.array([-1.0, 1.0]), approximate=True)]
    [-0.1588, 0.8412]

  References:
    Hendrycks & Gimpel, "Gaussian Error Linear Units (GELUs)", 2016.
  """
  _validation.check_bool("gelu", "approximate", approximate)
  x = _as_float(x, "gelu")
  if approximate:
    c = np.sqrt(2 / np.pi).astype(x.dtype)
    # Φ(x) ≈ ½(1 + tanh(√(2/π)(x + 0.044715x³)))
    cdf = 0.5 * (1.0 + jnp.tanh(c * (x + 0.044715 * (x**3))))
    return x * cdf
  sqrt_half = np.sqrt(0.5).astype(x.dtype)
  return 0.5 * x * lax.erfc(-x * sqrt_half)  # x·Φ(x) = ½x·erfc(−x/√2)


def silu(x):
  r"""SiLU, i.e. Swish with ``beta = 1`` (catalogue; not in the seeds).

  .. math:: \mathrm{silu}(x) = x\,\sigma(x)

  Args:
    x: input array.

  Returns:
    ``x * sigmoid(x)`` element-wise, same shape and dtype as ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(silu(jnp.array([-1e4, 1.0])).round(4))
    [-0.      0.7311]

  References:
    Elfwing et al., "Sigmoid-Weighted Linear Units for Neural Network Function
    Approximation in Reinforcement Learning", 2017; Ramachandran et al., "Searching
    for Activation Functions", 2017.
  """
  x = _as_float(x, "silu")
  return x * lax.logistic(x)  # x·σ(x)


swish = silu  # Swish with beta = 1 is SiLU (as jax.nn.swish is jax.nn.silu).


def softplus(x):
  r"""Softplus, a smooth ReLU (catalogue; not in the seeds).

  .. math:: \mathrm{softplus}(x) = \log(1 + e^x)

  Computed as ``logaddexp(x, 0)``, which neither overflows for large ``x``
  (``softplus(1e4) = 1e4``) nor loses the tail for very negative ``x``.

  Args:
    x: input array.

  Returns:
    ``softplus(x)`` element-wise, same shape and dtype as ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(softplus(jnp.array([-1e4, 0.0, 1e4])).round(4))
    [0.0000e+00 6.9310e-01 1.0000e+04]

  References:
    Dugas et al., "Incorporating Second-Order Functional Knowledge for Better Option
    Pricing", 2001.
  """
  x = _as_float(x, "softplus")
  return jnp.logaddexp(x, 0)  # log(e^x + e^0) = log(1 + e^x)


def mish(x):
  r"""Mish, a self-regularized non-monotonic activation (catalogue; not in the seeds).

  .. math:: \mathrm{mish}(x) = x \tanh(\mathrm{softplus}(x))

  Stable for huge inputs: ``softplus`` does not overflow, so ``mish(1e4) = 1e4``.

  Args:
    x: input array.

  Returns:
    ``mish(x)`` element-wise, same shape and dtype as ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(mish(jnp.array([-1.0, 1.0, 1e4])).round(4))
    [-3.0340e-01  8.6510e-01  1.0000e+04]

  References:
    Misra, "Mish: A Self Regularized Non-Monotonic Activation Function", 2019.
  """
  x = _as_float(x, "mish")
  return x * jnp.tanh(jnp.logaddexp(x, 0))  # x·tanh(log(1 + e^x))


# --------------------------------------------------------------------------
# Softmax


def _softmax_axes(fn, x, axis):
  if axis is None:
    return tuple(range(x.ndim))
  return _validation.canonical_axes(fn, "axis", axis, x.ndim)


def softmax(x, *, axis=-1):
  r"""Softmax along ``axis`` (seed 001: the classifier's output layer).

  .. math:: \mathrm{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \quad m = \max_j x_j

  Subtracting the maximum makes it exact for logits of any size (``+-1e4``); the
  maximum is a constant of the gradient (``stop_gradient``), and the backward pass
  is autodiff of these lines, as ``jax.nn.softmax`` (its default, non-custom-JVP
  path), which compiles to the same fused kernels. The sum is taken in at least
  float32.

  Args:
    x: input array of logits.
    axis: axis or axes normalized over (``None``: all axes).

  Returns:
    Probabilities summing to 1 along ``axis``, same shape and dtype as ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(softmax(jnp.array([1e4, 0.0, -1e4])))
    [1. 0. 0.]
    >>> print(softmax(jnp.array([0.0, jnp.log(3.0)])).round(4))
    [0.25 0.75]

  References:
    Bridle, "Probabilistic Interpretation of Feedforward Classification Network
    Outputs", 1990.
  """
  x = _as_float(x, "softmax")
  axes = _softmax_axes("softmax", x, axis)
  xf = x.astype(compute_dtype(x.dtype))
  m = lax.stop_gradient(jnp.max(xf, axes, keepdims=True))  # m = max_j x_j
  unnormalized = jnp.exp(xf - m)  # e^{x_i − m}
  return (unnormalized / jnp.sum(unnormalized, axes, keepdims=True)).astype(x.dtype)  # / Σ_j


def log_softmax(x, *, axis=-1):
  r"""Log-softmax along ``axis`` (seed 001 softmax output, in log space).

  .. math:: \mathrm{log\_softmax}(x)_i = (x_i - m) - \log \sum_j e^{x_j - m},
    \quad m = \max_j x_j

  Finite for logits ``+-1e4`` (the naive ``log(softmax(x))`` gives ``-inf``). The
  maximum is a constant of the gradient (``stop_gradient``), as in
  ``jax.nn.log_softmax``. The sum is taken in at least float32.

  Args:
    x: input array of logits.
    axis: axis or axes normalized over (``None``: all axes).

  Returns:
    ``log softmax(x)``, same shape and dtype as ``x``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(log_softmax(jnp.array([1e4, 0.0])))
    [     0. -10000.]

  References:
    Bridle, "Probabilistic Interpretation of Feedforward Classification Network
    Outputs", 1990.
  """
  x = _as_float(x, "log_softmax")
  axes = _softmax_axes("log_softmax", x, axis)
  xf = x.astype(compute_dtype(x.dtype))
  shifted = xf - lax.stop_gradient(jnp.max(xf, axes, keepdims=True))  # x − max x
  lse = jnp.log(jnp.sum(jnp.exp(shifted), axes, keepdims=True))  # log Σ e^{x_j − max x}
  return (shifted - lse).astype(x.dtype)
