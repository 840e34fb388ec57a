"""Loss functions (seed 000 Loss Function Patterns; seed 002 标签平滑).

Seed 000 names the loss patterns "交叉熵、Dice系数等" (cross-entropy, the Dice
coefficient, ...); seed 002 adds label smoothing. The catalogue completes them with
the usual regression and detection losses (MSE, Huber, focal) and the two losses of
the GAN game (seed 000 GANs).

Conventions (as optax): every loss is *unreduced*. Element-wise losses
(``sigmoid_binary_cross_entropy``, ``mean_squared_error``, ``huber``,
``focal_loss``) return one value per element, the shape of their inputs; losses
that reduce over a class axis (``softmax_cross_entropy``) or over the pixels of an
example (``dice_loss``) return one value per example. Take ``.mean()`` (or a
weighted sum) yourself.

Every loss computes in at least float32 and returns the dtype of its predictions
(float32, bfloat16, float16 kept), and is written in log-space so that logits of
±1e4 give finite values and gradients equal to the analytic limits.

Shapes are checked at trace time: mismatched shapes raise ``ValueError`` naming the
argument. Values cannot be checked under ``jit``; an integer label outside
``[0, K)`` (negative ones included) gives a NaN loss for that example — never a
silently wrong finite number.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jpatterns import _validation
from jpatterns._dtypes import compute_dtype
from jpatterns.regularization import label_smoothing as _seed_label_smoothing

__all__ = [
  "softmax_cross_entropy",
  "sigmoid_binary_cross_entropy",
  "dice_loss",
  "mean_squared_error",
  "huber",
  "focal_loss",
  "gan_discriminator_loss",
  "gan_generator_loss",
]


def _float(fn, name, x):
  """A floating array (integers and bools promoted to float32); lists refused."""
  x = _validation.as_array(fn, name, x)
  if not jnp.issubdtype(x.dtype, jnp.floating):
    x = x.astype(jnp.float32)
  return x


def _check_same_shape(fn, a_name, a, b_name, b):
  if a.shape != b.shape:
    raise ValueError(
      f"{fn}: {b_name} has shape {b.shape} but {a_name} has shape {a.shape}; "
      f"pass {b_name} with the shape of {a_name}"
    )


def softmax_cross_entropy(logits, labels, *, label_smoothing=0.0, axis=-1):
  r"""Softmax cross-entropy, one-hot / probability or integer labels (seed 000, 002).

  .. math::
    \ell = -\sum_k \tilde y_k \log \mathrm{softmax}(z)_k, \qquad
    \tilde y_k = \begin{cases} 1 - \epsilon & k = y \\
                               \epsilon / (K - 1) & k \ne y \end{cases}

  One function for both label kinds, dispatched on the labels' dtype (static, so
  the choice is made at trace time):

  * **integer** labels (any integer dtype): class indices of shape
    ``logits.shape`` without ``axis``; equal to optax's
    ``softmax_cross_entropy_with_integer_labels``. A label outside ``[0, K)``
    (negative ones included) gives ``nan`` for that example (values cannot be
    checked under ``jit``; torch raises, optax returns a wrong finite number).
  * **floating** (or boolean one-hot) labels: one-hot or probability vectors of
    ``logits.shape``; equal to optax's ``softmax_cross_entropy``.

  Label smoothing follows seed 002 (标签平滑): the true class keeps
  :math:`1-\epsilon`, the others share :math:`\epsilon` equally,
  :math:`\epsilon/(K-1)` each. optax's ``smooth_labels`` and torch's
  ``label_smoothing`` mix with the uniform distribution instead (:math:`\epsilon'/K`
  off the true class); the two agree for :math:`\epsilon' = \epsilon K / (K-1)`.
  For probability labels the smoothing is applied linearly,
  :math:`(1-\epsilon) y + \epsilon/(K-1)\,(1-y)`, by
  ``jpatterns.regularization.label_smoothing``.

  Masked classes (``z_k = -inf``) are allowed where the label puts no mass
  (:math:`0 \log 0 = 0`); with smoothing they make the loss ``inf``, its true value.

  With integer labels the smoothed loss is computed without building the smoothed
  vector: :math:`-(1-\epsilon)\log p_y - \frac{\epsilon}{K-1}(\sum_k \log p_k - \log p_y)`.

  Args:
    logits: unnormalized log-probabilities, classes along ``axis``.
    labels: integer class indices (shape of ``logits`` without ``axis``) or
      floating one-hot / probability labels (shape of ``logits``).
    label_smoothing: seed 002's :math:`\epsilon` in ``[0, 1)``; needs ``K >= 2``
      when positive.
    axis: the class axis of ``logits``.

  Returns:
    The loss per example: ``logits.shape`` without ``axis``, dtype of ``logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> logits = jnp.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    >>> loss = softmax_cross_entropy(logits, jnp.array([0, 2]))
    >>> print([round(float(v), 4) for v in loss])
    [0.1698, 1.0986]
    >>> loss = softmax_cross_entropy(logits, jnp.eye(3)[jnp.array([0, 2])],
    ...                              label_smoothing=0.1)
    >>> print([round(float(v), 4) for v in loss])
    [0.4198, 1.0986]

  References:
    Szegedy et al., "Rethinking the Inception Architecture for Computer Vision"
    (label smoothing), 2016.
  """
  fn = "softmax_cross_entropy"
  logits = _float("softmax_cross_entropy", "logits", logits)
  labels = _validation.as_array("softmax_cross_entropy", "labels", labels)
  _validation.check_in_range(fn, "label_smoothing", label_smoothing, 0.0, 1.0, hi_open=True)
  (axis,) = _validation.canonical_axes(fn, "axis", axis, logits.ndim)
  num_classes = logits.shape[axis]
  if isinstance(label_smoothing, (int, float)) and label_smoothing > 0 and num_classes < 2:
    raise ValueError(
      f"{fn}: label_smoothing={label_smoothing!r} needs at least 2 classes but "
      f"logits has {num_classes} along axis {axis}; use label_smoothing=0"
    )
  dtype = logits.dtype
  z = logits.astype(compute_dtype(dtype))
  log_norm = jax.nn.logsumexp(z, axis=axis)  # log sum_k exp(z_k)
  eps = label_smoothing

  if jnp.issubdtype(labels.dtype, jnp.integer):
    batch_shape = logits.shape[:axis] + logits.shape[axis + 1 :]
    if labels.shape != batch_shape:
      raise ValueError(
        f"{fn}: integer labels have shape {labels.shape} but logits "
        f"{logits.shape} need {batch_shape} (logits without the class axis "
        f"{axis}); pass one class index per example, or float one-hot labels"
      )
    labels = labels.astype(jnp.int32)
    valid = (labels >= 0) & (labels < num_classes)
    safe = jnp.where(valid, labels, 0)
    z_y = jnp.take_along_axis(z, jnp.expand_dims(safe, axis), axis=axis)
    z_y = jnp.squeeze(z_y, axis)
    log_p_y = z_y - log_norm  # log p_y = z_y - logsumexp(z)
    loss = -log_p_y
    if not (isinstance(eps, (int, float)) and eps == 0):
      sum_log_p = jnp.sum(z, axis=axis) - num_classes * log_norm  # sum_k log p_k
      # -(1-eps) log p_y - eps/(K-1) (sum_k log p_k - log p_y)
      loss = -(1.0 - eps) * log_p_y - eps / (num_classes - 1) * (sum_log_p - log_p_y)
    loss = jnp.where(valid, loss, jnp.nan)  # out-of-range label -> nan
  else:
    _check_same_shape(fn, "logits", logits, "labels", labels)
    y = labels.astype(z.dtype)
    if not (isinstance(eps, (int, float)) and eps == 0):
      # (1-eps) y + eps/(K-1) (1-y), classes on the last axis
      y = jnp.moveaxis(_seed_label_smoothing(jnp.moveaxis(y, axis, -1), eps=eps), -1, axis)
    log_p = z - jnp.expand_dims(log_norm, axis)  # log softmax
    # -sum_k y_k log p_k, with 0 log 0 = 0 (a masked class, z_k = -inf, has y_k = 0)
    loss = -jnp.sum(jnp.where(y == 0, 0.0, y * log_p), axis=axis)
  return loss.astype(dtype)


def sigmoid_binary_cross_entropy(logits, labels):
  r"""Sigmoid binary cross-entropy on logits (seed 000 交叉熵).

  .. math::
    \ell = -y \log \sigma(z) - (1 - y) \log(1 - \sigma(z))
         = \mathrm{softplus}(z) - y z

  The right-hand form is exact for every ``z`` (``softplus(1e4) = 1e4``), so
  ``ℓ(1e4, 0) = 1e4`` and ``ℓ(1e4, 1) = 0`` with gradient ``σ(z) - y``. Labels may
  be soft (in ``[0, 1]``), boolean or integer.

  Args:
    logits: logits ``z``, any shape.
    labels: targets ``y`` in ``[0, 1]``, the shape of ``logits``.

  Returns:
    The loss per element, shape and dtype of ``logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> loss = sigmoid_binary_cross_entropy(
    ...     jnp.array([2.0, -1.0, 1e4]), jnp.array([1.0, 1.0, 0.0]))
    >>> print([round(float(v), 4) for v in loss])
    [0.1269, 1.3133, 10000.0]

  References:
    Goodfellow, Bengio, Courville, "Deep Learning", §6.2.2.2, 2016.
  """
  fn = "sigmoid_binary_cross_entropy"
  logits = _float("sigmoid_binary_cross_entropy", "logits", logits)
  labels = _validation.as_array("sigmoid_binary_cross_entropy", "labels", labels)
  _check_same_shape(fn, "logits", logits, "labels", labels)
  dtype = logits.dtype
  z = logits.astype(compute_dtype(dtype))
  y = labels.astype(z.dtype)
  loss = jax.nn.softplus(z) - y * z  # softplus(z) - y z
  return loss.astype(dtype)


def dice_loss(predictions, targets, *, from_logits=True, smooth=1.0, axis=None):
  r"""Soft Dice loss, one value per example (seed 000 Dice系数).

  .. math::
    D_c = \frac{2 \sum_i p_{ic} t_{ic} + s}{\sum_i p_{ic} + \sum_i t_{ic} + s},
    \qquad \ell = 1 - \frac{1}{K}\sum_{c=1}^{K} D_c

  Seed 000 only names the Dice coefficient :math:`2|A \cap B| / (|A| + |B|)`; this
  is its soft (probability) form, computed per class and averaged over classes.

  Choices (they differ between libraries):

  * **Inputs**: logits by default (``from_logits=True``, as optax): probabilities
    are ``softmax`` over the last (class) axis, or ``sigmoid`` when that axis has
    size 1 (binary masks need a trailing axis of size 1). With
    ``from_logits=False`` predictions are probabilities in ``[0, 1]`` used as
    given (as Keras' ``Dice``).
  * **Smoothing**: :math:`s` is added once to numerator and denominator
    (``smooth=1`` by default; Keras uses none). optax's ``dice_loss`` adds its
    ``smooth`` to :math:`I` and to :math:`(P + T)/2`, i.e. optax's ``smooth=s'``
    equals ``smooth=2 s'`` here. With ``smooth=0`` a class absent from both
    prediction and target counts as a perfect match (:math:`D_c = 1`), not NaN.
  * **Reduction axes**: sums over ``axis``, by default every axis but the first
    (batch) and the last (class), as optax.

  Args:
    predictions: ``(batch, ..., K)`` logits (or probabilities, see
      ``from_logits``); rank at least 2.
    targets: one-hot / binary / soft targets, shape of ``predictions``.
    from_logits: whether ``predictions`` are logits.
    smooth: :math:`s \ge 0`.
    axis: the axes summed over; ``None`` = all but the first and the last.

  Returns:
    The loss per example: ``predictions.shape`` without ``axis`` and without the
    class axis (``(batch,)`` by default), dtype of ``predictions``.

  Example:
    >>> import jax.numpy as jnp
    >>> p = jnp.array([[[0.9], [0.2], [0.8]]])  # (batch=1, pixels=3, K=1)
    >>> t = jnp.array([[[1.0], [0.0], [1.0]]])
    >>> print(dice_loss(p, t, from_logits=False, smooth=0.0).round(4))
    [0.1282]

  References:
    Dice, "Measures of the Amount of Ecologic Association Between Species", 1945;
    Milletari et al., "V-Net", 2016.
  """
  fn = "dice_loss"
  predictions = _float("dice_loss", "predictions", predictions)
  targets = _validation.as_array("dice_loss", "targets", targets)
  if predictions.ndim < 2:
    raise ValueError(
      f"{fn}: predictions has rank {predictions.ndim} (shape {predictions.shape}); "
      "pass (batch, ..., classes), with a trailing axis of size 1 for binary masks"
    )
  _check_same_shape(fn, "predictions", predictions, "targets", targets)
  _validation.check_non_negative(fn, "smooth", smooth)
  _validation.check_bool(fn, "from_logits", from_logits)
  ndim = predictions.ndim
  if axis is None:
    axes = tuple(range(1, ndim - 1))
  else:
    axes = _validation.canonical_axes(fn, "axis", axis, ndim)
    if ndim - 1 in axes:
      raise ValueError(
        f"{fn}: axis={axis!r} includes the class axis {ndim - 1}; sum over the spatial axes only"
      )
  dtype = predictions.dtype
  p = predictions.astype(compute_dtype(dtype))
  if from_logits:
    p = jax.nn.sigmoid(p) if p.shape[-1] == 1 else jax.nn.softmax(p, axis=-1)
  t = targets.astype(p.dtype)
  intersection = jnp.sum(p * t, axis=axes)  # I_c = sum_i p_ic t_ic
  total = jnp.sum(p, axis=axes) + jnp.sum(t, axis=axes)  # P_c + T_c
  num = 2.0 * intersection + smooth
  den = total + smooth
  empty = den == 0  # smooth = 0 and class absent everywhere: perfect match
  dice = jnp.where(empty, 1.0, num / jnp.where(empty, 1.0, den))  # D_c
  loss = 1.0 - jnp.mean(dice, axis=-1)  # 1 - mean_c D_c
  return loss.astype(dtype)


def mean_squared_error(predictions, targets):
  r"""Squared error, unreduced (seed 000 Loss Function Patterns).

  .. math:: \ell = (\hat y - y)^2

  Unreduced like optax and ``torch.nn.functional.mse_loss(reduction='none')``:
  the "mean" is the caller's ``.mean()``. optax's ``l2_loss`` is half of this
  (``½ (ŷ - y)²``); optax's ``squared_error`` equals it.

  Args:
    predictions: :math:`\hat y`, any shape.
    targets: :math:`y`, the shape of ``predictions``.

  Returns:
    The loss per element, shape and dtype of ``predictions``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(mean_squared_error(jnp.array([1.0, 2.0]), jnp.array([0.5, 4.0])))
    [0.25 4.  ]

  References:
    Gauss, "Theoria motus corporum coelestium", 1809.
  """
  predictions = _float("mean_squared_error", "predictions", predictions)
  targets = _validation.as_array("mean_squared_error", "targets", targets)
  _check_same_shape("mean_squared_error", "predictions", predictions, "targets", targets)
  dtype = predictions.dtype
  acc = compute_dtype(dtype)
  err = predictions.astype(acc) - targets.astype(acc)  # e = y_hat - y
  return jnp.square(err).astype(dtype)  # e^2


def huber(predictions, targets, *, delta=1.0):
  r"""Huber loss, unreduced (seed 000 Loss Function Patterns).

  .. math::
    \ell = \begin{cases} \tfrac12 e^2 & |e| \le \delta \\
                         \delta (|e| - \tfrac12 \delta) & |e| > \delta \end{cases},
    \quad e = \hat y - y

  Equal to optax's ``huber_loss`` and torch's ``huber_loss(reduction='none')``.

  Args:
    predictions: :math:`\hat y`, any shape.
    targets: :math:`y`, the shape of ``predictions``.
    delta: :math:`\delta > 0`, where the quadratic turns linear.

  Returns:
    The loss per element, shape and dtype of ``predictions``.

  Example:
    >>> import jax.numpy as jnp
    >>> print(huber(jnp.array([0.5, 3.0]), jnp.array([0.0, 0.0])))
    [0.125 2.5  ]

  References:
    Huber, "Robust Estimation of a Location Parameter", 1964.
  """
  fn = "huber"
  predictions = _float("huber", "predictions", predictions)
  targets = _validation.as_array("huber", "targets", targets)
  _check_same_shape(fn, "predictions", predictions, "targets", targets)
  _validation.check_positive(fn, "delta", delta)
  dtype = predictions.dtype
  acc = compute_dtype(dtype)
  abs_err = jnp.abs(predictions.astype(acc) - targets.astype(acc))  # |e|
  quad = jnp.minimum(abs_err, delta)  # quadratic part, |e| clipped at delta
  lin = abs_err - quad  # linear part, |e| - delta beyond delta
  return (0.5 * quad * quad + delta * lin).astype(dtype)  # e^2/2 or delta(|e| - delta/2)


def focal_loss(logits, labels, *, gamma=2.0, alpha=None):
  r"""Binary (sigmoid) focal loss, unreduced (seed 000 Loss Function Patterns).

  .. math::
    \ell = -\alpha_t (1 - p_t)^\gamma \log p_t, \quad
    p_t = y\,\sigma(z) + (1 - y)(1 - \sigma(z)), \quad
    \alpha_t = \alpha y + (1 - \alpha)(1 - y)

  As optax's ``sigmoid_focal_loss`` and torchvision's ``sigmoid_focal_loss``:
  :math:`-\log p_t` is the sigmoid cross-entropy (soft labels allowed), and the
  modulating factor is computed in log-space,
  :math:`(1-p_t)^\gamma = \exp(\gamma \log(y\,\sigma(-z) + (1-y)\,\sigma(z)))`, so
  ``z = ±1e4`` and ``gamma < 1`` keep finite gradients. ``alpha=None`` means no
  class weighting (:math:`\alpha_t = 1`); torchvision's default is 0.25.
  ``gamma=0`` gives the (optionally weighted) binary cross-entropy.

  Args:
    logits: logits ``z``, any shape.
    labels: targets ``y`` in ``[0, 1]``, the shape of ``logits``.
    gamma: focusing exponent :math:`\gamma \ge 0`.
    alpha: weight of the positive class in ``[0, 1]``, or ``None``.

  Returns:
    The loss per element, shape and dtype of ``logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> loss = focal_loss(jnp.array([2.0, -1.0]), jnp.array([1.0, 1.0]))
    >>> print([round(float(v), 4) for v in loss])
    [0.0018, 0.7019]

  References:
    Lin et al., "Focal Loss for Dense Object Detection", 2017.
  """
  fn = "focal_loss"
  logits = _float("focal_loss", "logits", logits)
  labels = _validation.as_array("focal_loss", "labels", labels)
  _check_same_shape(fn, "logits", logits, "labels", labels)
  _validation.check_non_negative(fn, "gamma", gamma)
  if alpha is not None:
    _validation.check_in_range(fn, "alpha", alpha, 0.0, 1.0)
  dtype = logits.dtype
  z = logits.astype(compute_dtype(dtype))
  y = labels.astype(z.dtype)
  ce = jax.nn.softplus(z) - y * z  # -log p_t
  log_p = jax.nn.log_sigmoid(z)  # log sigma(z)
  log_q = jax.nn.log_sigmoid(-z)  # log (1 - sigma(z))
  # log(1 - p_t) = log(y sigma(-z) + (1 - y) sigma(z))
  log_1m_pt = jax.nn.logsumexp(jnp.stack([log_p, log_q]), axis=0, b=jnp.stack([1.0 - y, y]))
  loss = ce * jnp.exp(gamma * log_1m_pt)  # (1 - p_t)^gamma (-log p_t)
  if alpha is not None:
    loss = (alpha * y + (1.0 - alpha) * (1.0 - y)) * loss  # alpha_t
  return loss.astype(dtype)


def gan_discriminator_loss(real_logits, fake_logits, *, real_label=1.0):
  r"""The discriminator's loss of a GAN, with one-sided label smoothing (seed 000 GANs).

  .. math::
    \ell_D = -y \log D(x) - (1 - y) \log(1 - D(x)) - \log(1 - D(G(z))),
    \qquad D = \sigma(\text{logit})

  The discriminator ``D`` maximizes :math:`\log D(x) + \log(1 - D(G(z)))`
  (Goodfellow et al., 2014): a binary cross-entropy with target ``y`` for a real
  example and 0 for a generated one. ``real_label`` < 1 is one-sided label smoothing
  (Salimans et al., 2016, with 0.9): the real target is lowered, the fake target stays
  0, so ``D`` is not rewarded for overconfidence on real data and a generated sample
  never gets a target that pulls it toward the fakes it resembles.

  Each real example is paired with one generated example (the discriminator step
  takes equal batches); take ``.mean()`` yourself, as for every loss here.

  Args:
    real_logits: discriminator logits on real examples.
    fake_logits: logits on generated examples, the shape of ``real_logits``.
    real_label: target ``y`` of a real example, in ``(0, 1]`` (0.9: one-sided smoothing).

  Returns:
    :math:`\ell_D` per pair, the shape and dtype of ``real_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> loss = gan_discriminator_loss(jnp.array([3.0, 0.0]), jnp.array([-3.0, 0.0]))
    >>> print([round(float(v), 4) for v in loss])
    [0.0972, 1.3863]

  References:
    Goodfellow et al., "Generative adversarial nets", 2014; Salimans et al.,
    "Improved techniques for training GANs", 2016.
  """
  fn = "gan_discriminator_loss"
  _validation.check_in_range(fn, "real_label", real_label, 0, 1, lo_open=True)
  real_logits = _float(fn, "real_logits", real_logits)
  fake_logits = _float(fn, "fake_logits", fake_logits)
  _check_same_shape(fn, "real_logits", real_logits, "fake_logits", fake_logits)
  dtype = real_logits.dtype
  real = real_logits.astype(compute_dtype(dtype))
  fake = fake_logits.astype(real.dtype)
  real_term = jax.nn.softplus(real) - real_label * real  # -y log D(x) - (1-y) log(1-D(x))
  fake_term = jax.nn.softplus(fake)  # -log(1 - D(G(z))) = softplus(logit)
  return (real_term + fake_term).astype(dtype)


def gan_generator_loss(fake_logits, *, saturating=False):
  r"""The generator's loss of a GAN, non-saturating by default (seed 000 GANs).

  .. math::
    \ell_G = -\log D(G(z)) \quad\text{(non-saturating)}, \qquad
    \ell_G = \log(1 - D(G(z))) \quad\text{(saturating, the minimax form)}

  The minimax game has the generator minimize :math:`\log(1 - D(G(z)))`; early in
  training ``D`` rejects the samples confidently, where that loss is flat (its
  gradient in the logit is :math:`-D(G(z)) \to 0`). Goodfellow et al. (2014)
  therefore train ``G`` to maximize :math:`\log D(G(z))`: the same fixed point,
  gradient :math:`D - 1 \to -1` there.

  Args:
    fake_logits: discriminator logits on generated examples.
    saturating: if True, the minimax form :math:`\log(1 - D(G(z)))`.

  Returns:
    :math:`\ell_G` per example, the shape and dtype of ``fake_logits``.

  Example:
    >>> import jax.numpy as jnp
    >>> print([round(float(v), 4) for v in gan_generator_loss(jnp.array([-3.0, 0.0]))])
    [3.0486, 0.6931]

  References:
    Goodfellow et al., "Generative adversarial nets", 2014.
  """
  _validation.check_bool("gan_generator_loss", "saturating", saturating)
  fake_logits = _float("gan_generator_loss", "fake_logits", fake_logits)
  dtype = fake_logits.dtype
  z = fake_logits.astype(compute_dtype(dtype))
  if saturating:
    return (-jax.nn.softplus(z)).astype(dtype)  # log(1 - σ(z)) = -softplus(z)
  return jax.nn.softplus(-z).astype(dtype)  # -log σ(z) = softplus(-z)
