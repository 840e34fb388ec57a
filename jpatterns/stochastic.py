"""Dropout variants as pure functions (seed 002 DropOut, DropConnect, Standout, Gaussian
Dropout; 001; 003 §4; 004 §1).

Conventions shared by every function here:

* The PRNG key is the first argument. Functions with a ``train`` flag ignore the key
  when ``train=False`` (pass ``None``).
* ``rate`` is the DROP probability, validated in [0, 1] at trace time (a traced
  ``rate``, e.g. a scheduled one, cannot be checked and is used as given). The keep
  probability is ``q = 1 - rate``.
* ``rate=0`` is the identity; ``rate=1`` gives zeros (or ``f(0)`` for the dense layers)
  with finite, zero gradients: the ``1/q`` factor is never evaluated at ``q=0``.
* One call draws one mask for the whole input array. Per-example randomness where the
  mask would otherwise be shared (``dropconnect``'s weight mask, ``spatial_dropout``
  without ``batch_axis``) is the caller's
  ``jax.vmap(f)(jax.random.split(key, n), xs)``.

Seed 002 uses one letter ``p`` for both the keep and the drop probability (its DropOut
samples ``m ~ Bernoulli(p)`` during training but scales by ``1 - p`` at test time;
Standout samples ``Bernoulli(g)`` and scales by ``1 - g``), and writes the Gaussian
dropout variance as ``p(1-p)``. Everywhere below we take the reading whose test-time
output equals the expectation of the training-time output, as the catalogue asks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax import lax, random

from jpatterns._dtypes import compute_dtype
from jpatterns._validation import (
  as_array,
  canonical_axes,
  canonical_axis,
  check_bool,
  check_callable,
  check_in_range,
  check_key,
  check_positive_int,
  is_static_number,
  number,
)
from jpatterns.activations import _SELU_ALPHA, _SELU_SCALE

__all__ = [
  "dropout",
  "dropconnect",
  "dropconnect_inference",
  "standout",
  "gaussian_dropout",
  "alpha_dropout",
  "spatial_dropout",
  "drop_path",
]

# alpha' = -lambda * alpha is SELU's limit at -inf (constants of Klambauer et al., 2017).
_ALPHA_PRIME = -_SELU_SCALE * _SELU_ALPHA  # -1.7580993408473766, torch's constant


def _keep_prob(fn: str, rate):
  """Validates ``rate`` and returns the keep probability q = 1 - rate."""
  check_in_range(fn, "rate", rate, 0.0, 1.0)
  value = number(fn, "rate", rate)
  if value is not None:
    return 1.0 - float(value)
  return 1.0 - jnp.asarray(rate, jnp.float32)


def _key(fn: str, key, needed: bool):
  """Checks ``key``: a PRNG key, or None where no randomness is drawn."""
  if key is not None or needed:
    check_key(fn, "key", key)


def _train(fn: str, train, key, q=None):
  """Checks the ``train`` flag and the key it needs (none when q is a static 1)."""
  check_bool(fn, "train", train)
  _key(fn, key, bool(train) and not (is_static_number(q) and q == 1.0))


def _safe_reciprocal(q):
  """1/q, and 0 where q == 0 (no inf in values or gradients)."""
  if is_static_number(q):
    return 1.0 / q if q > 0 else 0.0
  positive = q > 0
  return jnp.where(positive, 1.0 / jnp.where(positive, q, 1.0), 0.0)


def _safe_sqrt(v):
  """sqrt(v) with a finite gradient at v == 0 (where sqrt' is infinite)."""
  positive = v > 0
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, v, 1.0)), 0.0)


def _identity(u):
  return u


def dropout(
  key,
  x,
  *,
  rate,
  inverted: bool = True,
  broadcast_dims: Sequence[int] = (),
  train: bool = True,
):
  r"""Dropout: zero each unit with probability ``rate`` (seed 002 DropOut; 003 §4; 004 §1).

  With keep probability :math:`q = 1 - \text{rate}` and :math:`m_i \sim
  \text{Bernoulli}(q)`:

  .. math::
     \text{inverted (default):}\quad
       y_{\text{train}} = \frac{x \odot m}{q}, \qquad y_{\text{test}} = x

     \text{non-inverted (seed 002):}\quad
       y_{\text{train}} = x \odot m, \qquad y_{\text{test}} = q\, x

  In both forms the test output is the expectation of the training output.

  Seed 002 writes ``Train: y = f(Wx) ⊙ m, m ~ Bernoulli(p)`` and ``Testing: y = (1-p)
  f(Wx)``: read literally ``p`` is the keep probability in the first line and the drop
  probability in the second, so the test output would not be the training expectation.
  Its text defines ``p`` as the deletion probability, so we read ``m ~ Bernoulli(1 -
  rate)`` and scale by ``1 - rate`` at test time. Seed 000's steps ("divide by the keep
  probability and multiply the rest by ``1-p``", "add a Gaussian mask") are garbled;
  its last sentence (no dropout at test time) describes the inverted form.

  The mask is drawn exactly as flax's ``Dropout`` draws it, ``random.bernoulli(key, q,
  shape)`` followed by ``lax.select``, so the same key gives the same values as
  ``flax.linen.Dropout(rate, deterministic=False).apply({}, x, rng=key)`` and
  ``flax.nnx.Dropout(rate)(x, rngs=key)`` (same ``broadcast_dims`` too).

  Args:
    key: a PRNG key; unused (may be ``None``) when ``train=False``.
    x: input array.
    rate: drop probability in [0, 1] (not the keep probability).
    inverted: scale kept units by ``1/q`` during training (default) instead of scaling
      by ``q`` at test time.
    broadcast_dims: axes along which the mask is shared (size 1 in the sampled mask),
      as in flax; e.g. ``(0,)`` for one mask across a batch.
    train: static Python bool; ``False`` gives the deterministic test-time output.

  Returns:
    An array of the shape and dtype of ``x``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.stochastic import dropout
    >>> y = dropout(jax.random.key(0), jnp.ones((2, 4)), rate=0.5)
    >>> sorted(set(y.ravel().tolist()))  # dropped units are 0, kept ones 1/(1-rate)
    [0.0, 2.0]
    >>> dropout(None, jnp.ones(3), rate=0.5, inverted=False, train=False)
    Array([0.5, 0.5, 0.5], dtype=float32)

  References:
    Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
    Overfitting", JMLR 2014; Hinton et al., arXiv:1207.0580, 2012.
  """
  q = _keep_prob("dropout", rate)
  check_bool("dropout", "inverted", inverted)
  _train("dropout", train, key, q)
  x = as_array("dropout", "x", x)
  dims = canonical_axes("dropout", "broadcast_dims", broadcast_dims, x.ndim)
  if not train:
    if inverted:
      return x  # y = x
    return (x * q).astype(x.dtype)  # y = q x
  if is_static_number(q):
    if q == 1.0:
      return x
    if q == 0.0:
      return jnp.zeros_like(x)  # no 1/q: finite (zero) gradient
  mask_shape = tuple(1 if d in dims else n for d, n in enumerate(x.shape))
  mask = jnp.broadcast_to(random.bernoulli(key, q, mask_shape), x.shape)  # m ~ Bernoulli(q)
  if not inverted:
    kept = x  # y = x ⊙ m
  elif is_static_number(q):
    kept = x / q  # y = x ⊙ m / q, computed as flax does
  else:
    kept = (x * _safe_reciprocal(q)).astype(x.dtype)
  return lax.select(mask, kept, jnp.zeros_like(x))


def _check_dense(fn: str, x, w, bias, bias_name: str = "bias", w_name: str = "w"):
  if w.ndim != 2:
    raise ValueError(
      f"{fn}: {w_name} has shape {w.shape}; expected a 2-D kernel (in_features, out_features)"
    )
  if x.ndim < 1 or x.shape[-1] != w.shape[0]:
    raise ValueError(
      f"{fn}: x has shape {x.shape} but {w_name} has {w.shape[0]} input features; "
      f"give x a last axis of size {w.shape[0]}"
    )
  if bias is not None and jnp.shape(bias) != (w.shape[1],):
    raise ValueError(f"{fn}: {bias_name} has shape {jnp.shape(bias)}; expected ({w.shape[1]},)")


def dropconnect(
  key,
  x,
  w,
  *,
  rate,
  bias=None,
  activation: Callable | None = None,
  inverted: bool = True,
):
  r"""DropConnect dense layer, training form (seed 002 DropConnect).

  A Bernoulli mask on the weights (and on the bias, which seed 002 also names; it is the
  weight of a constant input 1), keep probability :math:`q = 1 - \text{rate}`,
  kernel ``w`` of shape ``(in, out)`` as in flax (``x @ w`` is the seed's ``Wx``):

  .. math::
     y = f\big(s\,(x (W \odot M) + b \odot m_b)\big), \quad
     M_{ij}, m_{b,j} \sim \text{Bernoulli}(q), \quad
     s = \begin{cases} 1/q & \text{inverted (default)} \\ 1 & \text{seed 002} \end{cases}

  Seed 002 writes ``M ~ Bernoulli(p)`` with ``p`` the keep probability (its inference
  uses ``mu = p W x``); here ``rate`` is the drop probability, as everywhere in
  jpatterns. With ``inverted=False`` the formula is the seed's (and Wan et al.'s) exactly.
  ``dropconnect_inference`` with the same ``inverted`` gives the matching test output.

  One mask is drawn per call and shared by every row of ``x`` (Wan et al. draw one per
  example: ``jax.vmap(lambda k, xi: dropconnect(k, xi, w, rate=r))(jax.random.split(key,
  n), xs)``). The weight mask is ``random.bernoulli(k_w, q, w.shape)`` and the bias mask
  ``random.bernoulli(k_b, q, bias.shape)`` with ``k_w, k_b = random.split(key)``.

  Args:
    key: a PRNG key.
    x: inputs, shape ``(..., in)``.
    w: kernel, shape ``(in, out)``.
    rate: drop probability of each weight, in [0, 1].
    bias: optional bias, shape ``(out,)``; masked like the weights.
    activation: ``f``; ``None`` is the identity.
    inverted: divide by ``q`` during training (default) so that the expected
      pre-activation equals ``x @ w + bias``.

  Returns:
    ``f(u)`` of shape ``(..., out)`` in the dtype of ``x`` (product in >= float32).

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.stochastic import dropconnect
    >>> y = dropconnect(jax.random.key(0), jnp.ones((2, 3)), jnp.ones((3, 4)), rate=0.5)
    >>> y.shape
    (2, 4)

  References:
    Wan et al., "Regularization of Neural Networks using DropConnect", ICML 2013.
  """
  fn = "dropconnect"
  q = _keep_prob(fn, rate)
  check_bool(fn, "inverted", inverted)
  _key(fn, key, True)
  x, w = as_array(fn, "x", x), as_array(fn, "w", w)
  bias = None if bias is None else as_array(fn, "bias", bias)
  _check_dense(fn, x, w, bias)
  if activation is not None:
    check_callable(fn, "activation", activation)
  f = _identity if activation is None else activation
  s = _safe_reciprocal(q) if inverted else 1.0
  ct = compute_dtype(x.dtype, w.dtype)
  key_w, key_b = random.split(key)
  mask_w = random.bernoulli(key_w, q, w.shape)  # M_ij ~ Bernoulli(q)
  u = x.astype(ct) @ jnp.where(mask_w, w.astype(ct), 0)  # u = x (W ⊙ M)
  if bias is not None:
    bias = jnp.asarray(bias)
    mask_b = random.bernoulli(key_b, q, bias.shape)  # m_b ~ Bernoulli(q)
    u = u + jnp.where(mask_b, bias.astype(ct), 0)  # u += b ⊙ m_b
  return f(u * s).astype(x.dtype)  # y = f(s u)


def dropconnect_inference(
  key,
  x,
  w,
  *,
  rate,
  bias=None,
  activation: Callable | None = None,
  num_samples: int = 256,
  inverted: bool = True,
):
  r"""DropConnect test-time output by Gaussian moment matching (seed 002 DropConnect).

  The training pre-activation ``u = s (x (W⊙M) + b⊙m_b)`` of ``dropconnect`` is a sum
  of independent terms; it is approximated by a Gaussian with its exact mean and
  variance, and the activation is averaged over ``Z`` samples of it:

  .. math::
     \mu = s\,q\,(x W + b), \qquad
     \sigma^2 = s^2 q (1 - q)\,\big((x \odot x)(W \odot W) + b \odot b\big),

     y = \frac{1}{Z} \sum_{z=1}^{Z} f(\hat u_z), \qquad \hat u_z \sim N(\mu, \sigma^2)

  with :math:`q = 1 - \text{rate}` and :math:`s = 1/q` (inverted, default) or
  :math:`s = 1` (seed 002: :math:`\mu = pWx,\ \sigma^2 = p(1-p)(W\odot W)(x \odot x)`
  with ``p`` the keep probability). The output estimates :math:`E[f(u)]`, the
  expectation of the training output, for the same ``inverted``.

  Seed 002 writes the test output as ``f(Wx) ⊙ m̂(Z)`` with ``m̂(Z) = (1/Z) Σ f(x̂_z)``;
  multiplying by ``f(Wx)`` a second time is a transcription slip: Wan et al. (2013,
  Algorithm 2) return ``(1/Z) Σ f(û_z)``, which is what this function computes. For the
  identity activation the exact expectation ``mu`` is returned without sampling.

  Args:
    key: a PRNG key for the Gaussian samples (unused for the identity activation).
    x: inputs, shape ``(..., in)``.
    w: kernel, shape ``(in, out)``.
    rate: drop probability used in training, in [0, 1].
    bias: optional bias, shape ``(out,)`` (masked in training like the weights).
    activation: ``f``; ``None`` is the identity.
    num_samples: ``Z`` >= 1; memory is ``Z`` times the output size.
    inverted: must match the ``dropconnect`` call used in training.

  Returns:
    The averaged activation, shape ``(..., out)``, in the dtype of ``x``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.stochastic import dropconnect_inference
    >>> y = dropconnect_inference(jax.random.key(0), jnp.ones((1, 3)), jnp.ones((3, 2)),
    ...                           rate=0.5, activation=jax.nn.relu, num_samples=1000)
    >>> y.shape
    (1, 2)

  References:
    Wan et al., "Regularization of Neural Networks using DropConnect", ICML 2013.
  """
  fn = "dropconnect_inference"
  q = _keep_prob(fn, rate)
  check_positive_int(fn, "num_samples", num_samples)
  check_bool(fn, "inverted", inverted)
  if activation is not None:
    check_callable(fn, "activation", activation)
  _key(fn, key, activation is not None)
  x, w = as_array(fn, "x", x), as_array(fn, "w", w)
  bias = None if bias is None else as_array(fn, "bias", bias)
  _check_dense(fn, x, w, bias)
  s = _safe_reciprocal(q) if inverted else 1.0
  ct = compute_dtype(x.dtype, w.dtype)
  xc, wc = x.astype(ct), w.astype(ct)
  mean = xc @ wc  # x W
  second = (xc * xc) @ (wc * wc)  # (x ⊙ x)(W ⊙ W)
  if bias is not None:
    bc = jnp.asarray(bias).astype(ct)
    mean, second = mean + bc, second + bc * bc
  mu = s * q * mean  # mu = s q (x W + b)
  if activation is None:
    return mu.astype(x.dtype)  # E[u] = mu exactly
  sigma = _safe_sqrt(s * s * q * (1.0 - q) * second)  # sigma^2 = s^2 q (1-q) (x²W² + b²)
  eps = random.normal(key, (num_samples,) + mu.shape, ct)
  u_hat = mu + sigma * eps  # u_z ~ N(mu, sigma^2)
  return jnp.mean(activation(u_hat), axis=0).astype(x.dtype)  # (1/Z) Σ f(u_z)


def standout(
  key,
  x,
  w,
  ws,
  *,
  bias=None,
  gate_bias=None,
  activation: Callable | None = None,
  gate: Callable = jax.nn.sigmoid,
  train: bool = True,
):
  r"""Standout: dropout with adaptive, per-unit keep probabilities (seed 002 Standout).

  A second ("overlay") dense map gives each output unit its keep probability
  :math:`\pi = g(x W_s + b_s)`:

  .. math::
     y_{\text{train}} = f(x W + b) \odot m, \quad m_j \sim \text{Bernoulli}(\pi_j),
     \qquad y_{\text{test}} = f(x W + b) \odot \pi

  so the test output is the training expectation. Seed 002 writes the test form as
  ``f(Wx) ⊙ (1 - g(W_s x))`` while sampling ``m ~ Bernoulli(g(W_s x))`` in training:
  that would weight each unit by its DROP probability. We follow Ba & Frey (2013), where
  ``g`` is the probability of keeping the unit and the test output is ``f(Wx) ⊙ π``. The
  seed also masks inside the activation, ``f((Wx) ⊙ m)``; Ba & Frey mask its output.
  The two agree when ``f(0) = 0`` (ReLU, tanh, identity); we mask the output.

  Each element of the output gets its own Bernoulli draw, so rows of a batch are
  independent. The mask carries no gradient to ``ws`` (sampling is not
  differentiable); the test form does. Ba & Frey found ``ws = alpha * w + beta`` (the
  seed's "``W_s`` a function of ``W``") works well; pass such a ``ws`` to tie them.

  Args:
    key: a PRNG key; unused (may be ``None``) when ``train=False``.
    x: inputs, shape ``(..., in)``.
    w: kernel, shape ``(in, out)``.
    ws: overlay kernel, shape ``(in, out)``.
    bias: optional bias ``b`` of the main map, shape ``(out,)``.
    gate_bias: optional bias ``b_s`` of the overlay map, shape ``(out,)``.
    activation: ``f``; ``None`` is the identity.
    gate: ``g``, must map into [0, 1] (default sigmoid).
    train: static Python bool; ``False`` gives the test-time expectation.

  Returns:
    Shape ``(..., out)``, dtype of ``x``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.stochastic import standout
    >>> x, w = jnp.ones((1, 2)), jnp.ones((2, 3))
    >>> standout(None, x, w, jnp.zeros((2, 3)), train=False)  # pi = sigmoid(0) = 0.5
    Array([[1., 1., 1.]], dtype=float32)

  References:
    Ba & Frey, "Adaptive dropout for training deep neural networks", NeurIPS 2013.
  """
  fn = "standout"
  x, w, ws = as_array(fn, "x", x), as_array(fn, "w", w), as_array(fn, "ws", ws)
  bias = None if bias is None else as_array(fn, "bias", bias)
  gate_bias = None if gate_bias is None else as_array(fn, "gate_bias", gate_bias)
  if activation is not None:
    check_callable(fn, "activation", activation)
  check_callable(fn, "gate", gate)
  _train(fn, train, key)
  if ws.shape != w.shape:
    raise ValueError(f"{fn}: ws has shape {ws.shape}; expected the shape of w {w.shape}")
  _check_dense(fn, x, w, bias)
  _check_dense(fn, x, ws, gate_bias, bias_name="gate_bias", w_name="ws")
  f = _identity if activation is None else activation
  ct = compute_dtype(x.dtype, w.dtype, ws.dtype)
  xc = x.astype(ct)
  pre = xc @ w.astype(ct)  # W x
  pre_s = xc @ ws.astype(ct)  # W_s x
  if bias is not None:
    pre = pre + jnp.asarray(bias).astype(ct)
  if gate_bias is not None:
    pre_s = pre_s + jnp.asarray(gate_bias).astype(ct)
  h = f(pre)  # f(W x + b)
  pi = gate(pre_s)  # pi = g(W_s x + b_s), keep probability
  if not train:
    return (h * pi).astype(x.dtype)  # y = f(Wx) ⊙ pi
  mask = random.bernoulli(key, lax.stop_gradient(pi))  # m_j ~ Bernoulli(pi_j)
  return jnp.where(mask, h, 0).astype(x.dtype)  # y = f(Wx) ⊙ m


def gaussian_dropout(key, x, *, rate, train: bool = True):
  r"""Gaussian dropout: multiplicative N(1, rate/(1-rate)) noise (seed 002 Gaussian Dropout).

  .. math::
     y_{\text{train}} = x \odot m, \quad
     m_i \sim N\!\left(1, \tfrac{\text{rate}}{1 - \text{rate}}\right),
     \qquad y_{\text{test}} = x

  Seed 002 writes the noise variance as ``p(1-p)``. That is the variance of the
  unscaled Bernoulli mask ``m ~ Bernoulli(p)`` whose mean is ``p``, not 1; a mean-1
  multiplicative noise that mimics (inverted) dropout with drop rate ``rate`` must have
  the variance of ``m / (1 - rate)``, i.e. ``rate / (1 - rate)`` (Srivastava et al. 2014
  §10; Keras ``GaussianDropout(rate)`` uses ``stddev = sqrt(rate / (1 - rate))``).
  ``rate=1`` (infinite variance) returns zeros, the limit convention of ``dropout``.

  Args:
    key: a PRNG key; unused (may be ``None``) when ``train=False``.
    x: input array.
    rate: drop rate in [0, 1] of the Bernoulli dropout being matched.
    train: static Python bool; ``False`` returns ``x``.

  Returns:
    An array of the shape and dtype of ``x``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.stochastic import gaussian_dropout
    >>> y = gaussian_dropout(jax.random.key(0), jnp.ones(100_000), rate=0.5)
    >>> print(f"{float(y.mean()):.1f} {float(y.var()):.1f}")
    1.0 1.0

  References:
    Srivastava et al., "Dropout: A Simple Way to Prevent Neural Networks from
    Overfitting", JMLR 2014, §10.
  """
  q = _keep_prob("gaussian_dropout", rate)
  _train("gaussian_dropout", train, key, q)
  x = as_array("gaussian_dropout", "x", x)
  if not train:
    return x
  if is_static_number(q):
    if q == 1.0:
      return x
    if q == 0.0:
      return jnp.zeros_like(x)
    std = math.sqrt((1.0 - q) / q)  # std = sqrt(rate / (1 - rate))
    noise = random.normal(key, x.shape, x.dtype)
    return x * (1 + std * noise)  # y = x ⊙ m, m ~ N(1, std^2)
  std = _safe_sqrt((1.0 - q) * _safe_reciprocal(q))
  noise = random.normal(key, x.shape, jnp.float32)
  y = x.astype(jnp.float32) * (1 + std * noise)
  return jnp.where(q > 0, y, 0).astype(x.dtype)


def alpha_dropout(key, x, *, rate, train: bool = True):
  r"""Alpha dropout for self-normalizing (SELU) networks.

  Dropped units are set to SELU's negative saturation value
  :math:`\alpha' = -\lambda\alpha \approx -1.7581` instead of 0, then an affine map
  restores zero mean and unit variance for standardized inputs. With keep probability
  :math:`q = 1 - \text{rate}` and :math:`m_i \sim \text{Bernoulli}(q)`:

  .. math::
     y = a\,\big(x \odot m + \alpha' (1 - m)\big) + b, \quad
     a = \big(q\,(1 + \text{rate}\,\alpha'^2)\big)^{-1/2}, \quad
     b = -a\,\alpha'\,\text{rate}

  so a dropped unit takes the value :math:`a\alpha' + b`. The seeds do not cover it; it
  sits with dropout for the SELU activation of 004 §4. Same constants as
  ``torch.nn.functional.alpha_dropout`` and Keras ``AlphaDropout``; ``rate=1`` returns
  zeros as torch does.

  Args:
    key: a PRNG key; unused (may be ``None``) when ``train=False``.
    x: input array (pre-activations of a SELU network, ideally ~N(0, 1)).
    rate: drop probability in [0, 1].
    train: static Python bool; ``False`` returns ``x``.

  Returns:
    An array of the shape and dtype of ``x``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.stochastic import alpha_dropout
    >>> x = jax.random.normal(jax.random.key(1), (100_000,))
    >>> y = alpha_dropout(jax.random.key(0), x, rate=0.2)
    >>> print(f"{float(y.mean()):.1f} {float(y.std()):.1f}")
    0.0 1.0

  References:
    Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017.
  """
  q = _keep_prob("alpha_dropout", rate)
  _train("alpha_dropout", train, key, q)
  x = as_array("alpha_dropout", "x", x)
  if not train:
    return x
  if is_static_number(q):
    if q == 1.0:
      return x
    if q == 0.0:
      return jnp.zeros_like(x)
    r = 1.0 - q
    a = 1.0 / math.sqrt(q * (1.0 + r * _ALPHA_PRIME**2))  # a = (q (1 + rate α'²))^(-1/2)
    b = -a * _ALPHA_PRIME * r  # b = -a α' rate
    mask = random.bernoulli(key, q, x.shape)  # m ~ Bernoulli(q)
    return a * jnp.where(mask, x, jnp.asarray(_ALPHA_PRIME, x.dtype)) + b  # a(xm + α'(1-m)) + b
  r = 1.0 - q
  a = jnp.where(q > 0, lax.rsqrt(jnp.where(q > 0, q, 1.0) * (1.0 + r * _ALPHA_PRIME**2)), 0.0)
  b = -a * _ALPHA_PRIME * r
  mask = random.bernoulli(key, q, x.shape)
  y = a * jnp.where(mask, x.astype(jnp.float32), _ALPHA_PRIME) + b
  return jnp.where(q > 0, y, 0).astype(x.dtype)


def spatial_dropout(
  key,
  x,
  *,
  rate,
  channel_axis: int = -1,
  batch_axis: int | None = None,
  train: bool = True,
):
  r"""Spatial dropout: drop whole channels (feature maps) with probability ``rate``.

  One Bernoulli draw per channel (and per example along ``batch_axis`` if given),
  shared by every other axis (the spatial axes), inverted scaling:

  .. math::
     y_{\ldots c} = \frac{x_{\ldots c}\, m_c}{q}, \quad m_c \sim \text{Bernoulli}(q),
     \ q = 1 - \text{rate}

  Neighbouring pixels of a feature map are strongly correlated, so element-wise dropout
  barely regularizes convolutions (004 §1 advises against it there); dropping whole maps
  does. This is ``dropout`` with ``broadcast_dims`` = every axis except ``channel_axis``
  and ``batch_axis``: the same key gives the same values as flax ``Dropout`` with those
  ``broadcast_dims``. For a batch ``(N, H, W, C)`` pass ``batch_axis=0`` (Keras
  ``SpatialDropout2D``, torch ``dropout2d`` on ``(N, C, H, W)`` with ``channel_axis=1``)
  or ``vmap`` over split keys; with ``batch_axis=None`` (default, one example ``HWC``)
  every leading axis shares the mask.

  Args:
    key: a PRNG key; unused (may be ``None``) when ``train=False``.
    x: input array, e.g. ``(H, W, C)`` or ``(N, H, W, C)``.
    rate: probability of dropping a channel, in [0, 1].
    channel_axis: the channel axis (default -1).
    batch_axis: optional axis whose entries get independent masks.
    train: static Python bool; ``False`` returns ``x``.

  Returns:
    An array of the shape and dtype of ``x``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.stochastic import spatial_dropout
    >>> y = spatial_dropout(jax.random.key(0), jnp.ones((4, 4, 8)), rate=0.5)
    >>> bool(jnp.all(y == y[:1, :1]))  # each channel is all kept or all dropped
    True

  References:
    Tompson et al., "Efficient Object Localization Using Convolutional Networks",
    CVPR 2015.
  """
  fn = "spatial_dropout"
  _train(fn, train, key, _keep_prob(fn, rate))
  x = as_array(fn, "x", x)
  if x.ndim < 1:
    raise ValueError(f"{fn}: x is a scalar; give an array with a channel axis")
  keep = (canonical_axis(fn, "channel_axis", channel_axis, x.ndim),)
  if batch_axis is not None:
    b = canonical_axes(fn, "batch_axis", batch_axis, x.ndim)[0]
    if isinstance(batch_axis, (list, tuple)):
      raise ValueError(f"{fn}: batch_axis={batch_axis!r} must be one int axis or None")
    if b in keep:
      raise ValueError(f"{fn}: batch_axis={batch_axis} is the channel axis; choose another axis")
    keep = keep + (b,)
  shared = tuple(d for d in range(x.ndim) if d not in keep)
  return dropout(key, x, rate=rate, broadcast_dims=shared, train=train)


def drop_path(key, x, *, rate, train: bool = True):
  r"""Drop path (stochastic depth): drop a whole residual branch per example.

  One Bernoulli draw per entry of the leading (batch) axis, inverted scaling; apply it
  to the residual branch before the addition, ``x + drop_path(key, branch(x), rate=r)``:

  .. math::
     y_n = \frac{x_n\, m_n}{q}, \quad m_n \sim \text{Bernoulli}(q), \ q = 1 - \text{rate}

  This is ``dropout`` with every axis but the first in ``broadcast_dims`` (the residual
  connection of 001 / 003 §5 with the branch skipped at random, as timm's
  ``drop_path``). For an unbatched input, ``vmap`` over split keys.

  Args:
    key: a PRNG key; unused (may be ``None``) when ``train=False``.
    x: the residual branch's output, batch on axis 0.
    rate: probability of dropping the branch for an example, in [0, 1].
    train: static Python bool; ``False`` returns ``x``.

  Returns:
    An array of the shape and dtype of ``x``.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns.stochastic import drop_path
    >>> y = drop_path(jax.random.key(0), jnp.ones((4, 3)), rate=0.5)
    >>> y.tolist()  # whole rows are dropped or scaled by 2
    [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]

  References:
    Huang et al., "Deep Networks with Stochastic Depth", ECCV 2016; Larsson et al.,
    "FractalNet", ICLR 2017.
  """
  fn = "drop_path"
  _train(fn, train, key, _keep_prob(fn, rate))
  x = as_array(fn, "x", x)
  if x.ndim < 1:
    raise ValueError(f"{fn}: x is a scalar; give an array with a leading batch axis")
  return dropout(key, x, rate=rate, broadcast_dims=tuple(range(1, x.ndim)), train=train)
