"""Image data augmentation as pure functions (seed 000 Data Augmentation Patterns; seed 002
数据增强: 旋转、翻转、缩放、平移、加噪声).

Seed 002 lists five augmentations — rotation (旋转), flipping (翻转), scaling (缩放),
translation (平移) and added noise (加噪声); seed 000 adds cropping (裁剪). Each is a
deterministic op plus a key-first ``random_*`` twin; ``cutout`` and ``mixup`` are the
two common regularizing augmentations built on the same conventions.

Conventions shared by every function here (those of dm-pix):

* One image per call, ``HWC`` (``channel_axis=-1``; pass ``channel_axis=0`` for ``CHW``).
  A rank other than 3 raises ``ValueError``. ``mixup`` is the exception: it mixes a
  *batch* and takes the batch axis first.
* The PRNG key is the first argument and one call draws one set of random parameters
  for its one image. Per-example randomness in a batch is ``jax.vmap`` over split keys
  (under ``jax.jit`` for speed), e.g. the CIFAR recipe:

  >>> import jax, jax.numpy as jnp
  >>> def augment_one(key, image):
  ...   key_crop, key_flip = jax.random.split(key)
  ...   image = random_crop(key_crop, image, crop_size=32, padding=4)
  ...   return random_flip_left_right(key_flip, image)
  >>> images = jnp.zeros((256, 32, 32, 3))
  >>> keys = jax.random.split(jax.random.key(0), images.shape[0])
  >>> jax.jit(jax.vmap(augment_one))(keys, images).shape
  (256, 32, 32, 3)

  Passing ONE key with ``jax.vmap(..., in_axes=(None, 0))`` gives every image of the
  batch the same random transformation.
* Geometric ops (``rotate``, ``zoom``, ``translate``) resample with
  ``jax.scipy.ndimage.map_coordinates`` in "pull" form: the output pixel at index
  ``o = (row, col)`` reads the input at ``A (o - c) + c + t`` for a 2x2 matrix ``A``
  (the inverse of the forward transform), centre ``c = ((H - 1) / 2, (W - 1) / 2)``
  and offset ``t``. ``order`` is 0 (nearest neighbour) or 1 (bilinear); ``mode`` says
  what lies beyond the border: ``"nearest"`` (edge pixel repeated, dm-pix's default),
  ``"constant"`` (``cval``; bilinear weights blend towards ``cval`` across the last
  pixel, as SciPy's ``"grid-constant"``), ``"wrap"`` (SciPy's ``"grid-wrap"``),
  ``"mirror"``, ``"reflect"``. Angles are in radians, counter-clockwise (dm-pix).
  With ``order=0`` a sample exactly halfway between two pixels may round to the
  other neighbour than SciPy picks.
* Arithmetic is done in float32 (at least) and the result has the input dtype
  (float32/bfloat16/float16 kept). Integer images (``uint8``) are accepted by flips,
  crops, ``cutout`` and the geometric ops: interpolated values are rounded and clipped
  to the dtype's range. ``gaussian_noise`` and ``mixup`` need floating images.
* Static arguments (sizes, probabilities, ranges) are validated at trace time with a
  ``ValueError`` naming the function and argument; traced values pass unchecked.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax, random
from jax.scipy import ndimage

from jpatterns._dtypes import compute_dtype
from jpatterns._validation import (
  as_array,
  check_choice,
  check_finite,
  check_in_range,
  check_key,
  check_non_negative,
  check_numbers,
  check_positive,
  is_traced,
  number,
)

__all__ = [
  "flip_left_right",
  "flip_up_down",
  "random_flip_left_right",
  "random_flip_up_down",
  "random_crop",
  "rotate",
  "random_rotate",
  "zoom",
  "random_zoom",
  "translate",
  "random_translate",
  "gaussian_noise",
  "cutout",
  "mixup",
]

_MODES = ("nearest", "constant", "wrap", "mirror", "reflect")
_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


# ----------------------------------------------------------------------------- helpers


def _to_hwc(fn: str, image, channel_axis: int):
  """Checks the rank and moves the channel axis last."""
  image = as_array(fn, "image", image)
  if image.ndim != 3:
    raise ValueError(
      f"{fn}: image has rank {image.ndim} (shape {image.shape}); pass ONE image of "
      "rank 3 (HWC by default), and jax.vmap over a batch"
    )
  if isinstance(channel_axis, bool) or channel_axis not in (-1, 2, 0, -3):
    raise ValueError(
      f"{fn}: channel_axis={channel_axis!r} is not valid; choose -1 (HWC) or 0 (CHW)"
    )
  if channel_axis in (0, -3):
    image = jnp.moveaxis(image, 0, -1)
  return image


def _from_hwc(image, channel_axis: int):
  return jnp.moveaxis(image, -1, 0) if channel_axis in (0, -3) else image


def _pair(fn: str, name: str, value, *, integer: bool):
  """A scalar or a length-2 sequence as a pair (height, width)."""
  if isinstance(value, Sequence) and not isinstance(value, str):
    if len(value) != 2:
      raise ValueError(
        f"{fn}: {name}={value!r} has {len(value)} entries; give one number or a "
        "(height, width) pair"
      )
    pair = tuple(value)
  else:
    pair = (value, value)
  if integer:
    for v in pair:
      if not isinstance(v, numbers.Integral) or isinstance(v, bool):
        raise ValueError(f"{fn}: {name}={value!r} must be an int or a pair of ints")
    pair = tuple(int(v) for v in pair)
  return pair


def _cast_back(values, dtype):
  """float32 result -> input dtype (round and clip for integer dtypes)."""
  if jnp.issubdtype(dtype, jnp.integer):
    info = jnp.iinfo(dtype)
    values = jnp.clip(jnp.round(values), info.min, info.max)
  return values.astype(dtype)


def _check_resampling(fn: str, order, mode, cval):
  """Checks order and mode; returns cval as a Python float (a static argument)."""
  check_choice(fn, "order", order, (0, 1))
  check_choice(fn, "mode", mode, _MODES)
  check_finite(fn, "cval", cval)
  value = number(fn, "cval", cval)
  if value is None:
    raise ValueError(f"{fn}: cval is traced; pass a Python number (it is static)")
  return float(value)


def _resample(image, matrix, offset, *, order, mode, cval):
  """out[o] = image[A (o - c) + c + t] on an HWC image, one channel at a time."""
  height, width, _ = image.shape
  dtype = compute_dtype(image.dtype)
  rows, cols = jnp.meshgrid(
    jnp.arange(height, dtype=dtype), jnp.arange(width, dtype=dtype), indexing="ij"
  )
  centre = ((height - 1) / 2.0, (width - 1) / 2.0)
  matrix = jnp.asarray(matrix, dtype)
  offset = jnp.asarray(offset, dtype)
  dr, dc = rows - centre[0], cols - centre[1]
  # input = A (o - c) + c + t
  src_r = matrix[0, 0] * dr + matrix[0, 1] * dc + centre[0] + offset[0]
  src_c = matrix[1, 0] * dr + matrix[1, 1] * dc + centre[1] + offset[1]

  def one_channel(channel):
    return ndimage.map_coordinates(channel, (src_r, src_c), order=order, mode=mode, cval=cval)

  out = jax.vmap(one_channel, in_axes=-1, out_axes=-1)(image.astype(dtype))
  return _cast_back(out, image.dtype)


# ----------------------------------------------------------------------------- flips


def flip_left_right(image, *, channel_axis: int = -1):
  """Mirrors an image left to right (seed 002 翻转, horizontal flip).

  .. math:: y[i, j, c] = x[i, W - 1 - j, c]

  Args:
    image: one image, ``HWC`` (or ``CHW`` with ``channel_axis=0``), any dtype.
    channel_axis: the channel axis, -1 or 0.

  Returns:
    The flipped image, same shape and dtype.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.arange(6).reshape(2, 3, 1)
    >>> flip_left_right(x)[..., 0].tolist()
    [[2, 1, 0], [5, 4, 3]]

  References:
    Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
    Neural Networks", 2012 (horizontal reflections).
  """
  hwc = _to_hwc("flip_left_right", image, channel_axis)
  return _from_hwc(jnp.flip(hwc, axis=1), channel_axis)  # y[i, j] = x[i, W-1-j]


def flip_up_down(image, *, channel_axis: int = -1):
  """Mirrors an image top to bottom (seed 002 翻转, vertical flip).

  .. math:: y[i, j, c] = x[H - 1 - i, j, c]

  Args:
    image: one image, ``HWC`` (or ``CHW`` with ``channel_axis=0``), any dtype.
    channel_axis: the channel axis, -1 or 0.

  Returns:
    The flipped image, same shape and dtype.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.arange(6).reshape(2, 3, 1)
    >>> flip_up_down(x)[..., 0].tolist()
    [[3, 4, 5], [0, 1, 2]]

  References:
    Simard, Steinkraus & Platt, "Best Practices for Convolutional Neural Networks
    Applied to Visual Document Analysis", 2003 (distortion-based augmentation).
  """
  hwc = _to_hwc("flip_up_down", image, channel_axis)
  return _from_hwc(jnp.flip(hwc, axis=0), channel_axis)  # y[i, j] = x[H-1-i, j]


def _random_flip(fn, flip, key, image, probability, channel_axis):
  check_in_range(fn, "probability", probability, 0.0, 1.0)
  check_key(fn, "key", key)
  hwc = _to_hwc(fn, image, channel_axis)
  do_flip = random.bernoulli(key, probability)  # flip ~ Bernoulli(p)
  return _from_hwc(jnp.where(do_flip, flip(hwc), hwc), channel_axis)


def random_flip_left_right(key, image, *, probability=0.5, channel_axis: int = -1):
  r"""Flips left to right with probability ``probability`` (seed 002 翻转).

  .. math:: y = \operatorname{flip}(x) \text{ if } b = 1 \text{ else } x,
     \quad b \sim \operatorname{Bernoulli}(p)

  Args:
    key: a PRNG key; one draw for the whole image.
    image: one image, ``HWC`` (or ``CHW`` with ``channel_axis=0``), any dtype.
    probability: the flip probability ``p`` in [0, 1].
    channel_axis: the channel axis, -1 or 0.

  Returns:
    The image, flipped or not, same shape and dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.arange(3.0).reshape(1, 3, 1)
    >>> random_flip_left_right(jax.random.key(0), x, probability=1.0)[0, :, 0].tolist()
    [2.0, 1.0, 0.0]

  References:
    Krizhevsky, Sutskever & Hinton, "ImageNet Classification with Deep Convolutional
    Neural Networks", 2012.
  """
  return _random_flip(
    "random_flip_left_right", lambda x: jnp.flip(x, 1), key, image, probability, channel_axis
  )


def random_flip_up_down(key, image, *, probability=0.5, channel_axis: int = -1):
  r"""Flips top to bottom with probability ``probability`` (seed 002 翻转).

  .. math:: y = \operatorname{flip}(x) \text{ if } b = 1 \text{ else } x,
     \quad b \sim \operatorname{Bernoulli}(p)

  Args:
    key: a PRNG key; one draw for the whole image.
    image: one image, ``HWC`` (or ``CHW`` with ``channel_axis=0``), any dtype.
    probability: the flip probability ``p`` in [0, 1].
    channel_axis: the channel axis, -1 or 0.

  Returns:
    The image, flipped or not, same shape and dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.arange(3.0).reshape(3, 1, 1)
    >>> random_flip_up_down(jax.random.key(0), x, probability=0.0)[:, 0, 0].tolist()
    [0.0, 1.0, 2.0]

  References:
    Simard, Steinkraus & Platt, 2003.
  """
  return _random_flip(
    "random_flip_up_down", lambda x: jnp.flip(x, 0), key, image, probability, channel_axis
  )


# ----------------------------------------------------------------------------- crop


def random_crop(
  key, image, *, crop_size, padding=0, pad_mode: str = "constant", channel_axis: int = -1
):
  r"""Pads, then crops a random window (seed 000 裁剪; the CIFAR "pad 4, crop 32" recipe).

  The image is padded by ``padding`` pixels on each side (``jnp.pad`` mode
  ``pad_mode``, zeros for ``"constant"``), and a ``crop_size`` window is cut at an
  offset drawn uniformly over every valid position:

  .. math:: y = \operatorname{pad}(x)[r:r+h,\ s:s+w],\quad
     r \sim U\{0..H+2p_h-h\},\ s \sim U\{0..W+2p_w-w\}

  Each of ``h <= H + 2 p_h`` and ``w <= W + 2 p_w`` is checked on its own (dm-pix's
  ``assert image_shape >= crop_sizes`` compares tuples lexicographically and lets
  ``(40, 8)`` through on a 32x32 image).

  Args:
    key: a PRNG key; one offset for the whole image.
    image: one image, ``HWC`` (or ``CHW`` with ``channel_axis=0``), any dtype.
    crop_size: ``h`` or ``(h, w)``, positive ints; channels are kept.
    padding: ``p`` or ``(p_h, p_w)``, non-negative ints added to each side.
    pad_mode: ``jnp.pad`` mode: "constant" (zeros), "edge", "reflect", "symmetric"
      or "wrap".
    channel_axis: the channel axis, -1 or 0.

  Returns:
    The crop, shape ``(h, w, C)`` (channel axis where it was), input dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.ones((32, 32, 3))
    >>> random_crop(jax.random.key(0), x, crop_size=32, padding=4).shape
    (32, 32, 3)

  References:
    Krizhevsky, Sutskever & Hinton, 2012 (random crops); He et al., "Deep Residual
    Learning for Image Recognition", 2016 (CIFAR: pad 4, random 32x32 crop).
  """
  fn = "random_crop"
  check_key(fn, "key", key)
  crop_h, crop_w = _pair(fn, "crop_size", crop_size, integer=True)
  pad_h, pad_w = _pair(fn, "padding", padding, integer=True)
  check_choice(fn, "pad_mode", pad_mode, _PAD_MODES)
  hwc = _to_hwc(fn, image, channel_axis)
  height, width, channels = hwc.shape
  for name, value in (("crop_size", crop_h), ("crop_size", crop_w)):
    if value <= 0:
      raise ValueError(f"{fn}: {name}={crop_size!r} must be positive")
  for value in (pad_h, pad_w):
    if value < 0:
      raise ValueError(f"{fn}: padding={padding!r} must be >= 0")
  padded_h, padded_w = height + 2 * pad_h, width + 2 * pad_w
  for axis, size, limit in (("height", crop_h, padded_h), ("width", crop_w, padded_w)):
    if size > limit:  # element by element, never a tuple comparison
      raise ValueError(
        f"{fn}: crop_size={crop_size!r} has {axis} {size} > {limit}, the padded "
        f"image {axis} ({padded_h}x{padded_w} after padding={padding!r}); choose a "
        f"crop {axis} <= {limit}"
      )
  if pad_h or pad_w:
    hwc = jnp.pad(hwc, ((pad_h, pad_h), (pad_w, pad_w), (0, 0)), mode=pad_mode)
  # (r, s) ~ U{0..H+2p_h-h} x U{0..W+2p_w-w}, one draw for both axes
  top, left = random.randint(
    key, (2,), 0, jnp.array([padded_h - crop_h + 1, padded_w - crop_w + 1])
  )
  out = lax.dynamic_slice(hwc, (top, left, 0), (crop_h, crop_w, channels))
  return _from_hwc(out, channel_axis)


# ----------------------------------------------------------------------------- rotate


def rotate(
  image, angle, *, order: int = 1, mode: str = "nearest", cval=0.0, channel_axis: int = -1
):
  r"""Rotates an image about its centre (seed 002 旋转), as ``dm_pix.rotate``.

  ``angle`` is in RADIANS, COUNTER-CLOCKWISE as the image is displayed (row 0 at the
  top): ``rotate(x, pi / 2)`` equals ``jnp.rot90(x, 1)``, and
  ``rotate(x, jnp.deg2rad(d))`` equals ``scipy.ndimage.rotate(x, d, reshape=False)``
  channel by channel. Each output pixel ``o`` pulls from the input at

  .. math:: x\!\left(\begin{pmatrix}\cos\theta & \sin\theta\\
     -\sin\theta & \cos\theta\end{pmatrix}(o - c) + c\right),
     \quad c = \left(\tfrac{H-1}{2}, \tfrac{W-1}{2}\right)

  (``o`` = (row, col)). The output keeps the input shape; corners that come from
  outside the input are filled per ``mode`` (default "nearest", dm-pix's default:
  the edge pixel is repeated; "constant" fills ``cval``).

  Args:
    image: one image, ``HWC`` (or ``CHW`` with ``channel_axis=0``).
    angle: the counter-clockwise angle in radians (a float or a traced scalar).
    order: interpolation order, 0 (nearest neighbour) or 1 (bilinear).
    mode: fill beyond the border: "nearest", "constant", "wrap", "mirror",
      "reflect" (``jax.scipy.ndimage.map_coordinates`` modes).
    cval: the fill value for ``mode="constant"``.
    channel_axis: the channel axis, -1 or 0.

  Returns:
    The rotated image, same shape and dtype.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.arange(4.0).reshape(2, 2, 1)
    >>> jnp.round(rotate(x, jnp.pi / 2)[..., 0], 4).tolist()
    [[1.0, 3.0], [0.0, 2.0]]

  References:
    Simard, Steinkraus & Platt, 2003; DeepMind dm-pix ``rotate`` (same convention).
  """
  fn = "rotate"
  cval = _check_resampling(fn, order, mode, cval)
  check_finite(fn, "angle", angle)
  hwc = _to_hwc(fn, image, channel_axis)
  angle = jnp.asarray(angle, compute_dtype(hwc.dtype))
  cos, sin = jnp.cos(angle), jnp.sin(angle)
  matrix = jnp.stack([jnp.stack([cos, sin]), jnp.stack([-sin, cos])])  # pull matrix
  out = _resample(hwc, matrix, (0.0, 0.0), order=order, mode=mode, cval=cval)
  return _from_hwc(out, channel_axis)


def random_rotate(
  key, image, *, max_angle, order: int = 1, mode: str = "nearest", cval=0.0, channel_axis: int = -1
):
  r"""Rotates by an angle drawn uniformly in ``[-max_angle, max_angle]`` (seed 002 旋转).

  .. math:: \theta \sim U[-\theta_{max}, \theta_{max}],\quad
     y = \operatorname{rotate}(x, \theta)

  Args:
    key: a PRNG key; one angle for the whole image.
    image: one image, ``HWC`` (or ``CHW`` with ``channel_axis=0``).
    max_angle: the largest angle in radians, >= 0.
    order: interpolation order, 0 or 1 (see ``rotate``).
    mode: fill beyond the border (see ``rotate``).
    cval: the fill value for ``mode="constant"``.
    channel_axis: the channel axis, -1 or 0.

  Returns:
    The rotated image, same shape and dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.ones((8, 8, 3))
    >>> float(random_rotate(jax.random.key(0), x, max_angle=0.3).mean())
    1.0

  References:
    Simard, Steinkraus & Platt, 2003.
  """
  check_non_negative("random_rotate", "max_angle", max_angle)
  check_key("random_rotate", "key", key)
  _to_hwc("random_rotate", image, channel_axis)
  angle = random.uniform(key, (), jnp.float32, -max_angle, max_angle)  # θ ~ U[-m, m]
  return rotate(image, angle, order=order, mode=mode, cval=cval, channel_axis=channel_axis)


# ----------------------------------------------------------------------------- zoom


def zoom(image, factor, *, order: int = 1, mode: str = "nearest", cval=0.0, channel_axis: int = -1):
  r"""Scales the content about the centre, keeping the image size (seed 002 缩放).

  ``factor > 1`` zooms in (content enlarged, borders cut off); ``factor < 1`` zooms
  out (content shrunk, the border filled per ``mode``). Per axis ``k``:

  .. math:: y[o] = x\!\left(c + (o - c) / s\right),
     \quad c = \left(\tfrac{H-1}{2}, \tfrac{W-1}{2}\right)

  (SciPy's ``ndimage.zoom`` changes the output size instead; this is its
  ``affine_transform`` with matrix ``diag(1/s)`` about the centre.)

  Args:
    image: one image, ``HWC`` (or ``CHW`` with ``channel_axis=0``).
    factor: ``s`` or ``(s_h, s_w)``, > 0 (floats or traced scalars).
    order: interpolation order, 0 or 1 (see ``rotate``).
    mode: fill beyond the border (see ``rotate``).
    cval: the fill value for ``mode="constant"``.
    channel_axis: the channel axis, -1 or 0.

  Returns:
    The zoomed image, same shape and dtype.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.arange(4.0).reshape(1, 4, 1)
    >>> zoom(x, (1.0, 0.5), mode="constant")[0, :, 0].tolist()
    [0.0, 0.5, 2.5, 0.0]

  References:
    Simard, Steinkraus & Platt, 2003.
  """
  fn = "zoom"
  cval = _check_resampling(fn, order, mode, cval)
  factor_h, factor_w = _pair(fn, "factor", factor, integer=False)
  for value in (factor_h, factor_w):
    check_positive(fn, "factor", value)
  hwc = _to_hwc(fn, image, channel_axis)
  dtype = compute_dtype(hwc.dtype)
  inv_h = 1.0 / jnp.asarray(factor_h, dtype)  # input = c + (o - c) / s
  inv_w = 1.0 / jnp.asarray(factor_w, dtype)
  zero = jnp.zeros((), dtype)
  matrix = jnp.stack([jnp.stack([inv_h, zero]), jnp.stack([zero, inv_w])])
  out = _resample(hwc, matrix, (0.0, 0.0), order=order, mode=mode, cval=cval)
  return _from_hwc(out, channel_axis)


def _zoom_order(min_factor, max_factor):
  if max_factor < min_factor:
    raise ValueError(
      f"random_zoom: max_factor={max_factor!r} < min_factor={min_factor!r}; choose "
      "min_factor <= max_factor"
    )


def random_zoom(
  key,
  image,
  *,
  min_factor,
  max_factor,
  order: int = 1,
  mode: str = "nearest",
  cval=0.0,
  channel_axis: int = -1,
):
  r"""Zooms by a factor drawn uniformly in ``[min_factor, max_factor]`` (seed 002 缩放).

  .. math:: s \sim U[s_{min}, s_{max}],\quad y = \operatorname{zoom}(x, s)

  One factor for both axes (aspect ratio kept).

  Args:
    key: a PRNG key; one factor for the whole image.
    image: one image, ``HWC`` (or ``CHW`` with ``channel_axis=0``).
    min_factor: the smallest factor, > 0.
    max_factor: the largest factor, >= ``min_factor``.
    order: interpolation order, 0 or 1 (see ``rotate``).
    mode: fill beyond the border (see ``rotate``).
    cval: the fill value for ``mode="constant"``.
    channel_axis: the channel axis, -1 or 0.

  Returns:
    The zoomed image, same shape and dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.ones((8, 8, 3))
    >>> random_zoom(jax.random.key(0), x, min_factor=0.8, max_factor=1.2).shape
    (8, 8, 3)

  References:
    Simard, Steinkraus & Platt, 2003.
  """
  fn = "random_zoom"
  check_key(fn, "key", key)
  check_positive(fn, "min_factor", min_factor)
  check_positive(fn, "max_factor", max_factor)
  check_numbers(fn, _zoom_order, min_factor=min_factor, max_factor=max_factor)
  _to_hwc(fn, image, channel_axis)
  factor = random.uniform(key, (), jnp.float32, min_factor, max_factor)  # s ~ U[a, b]
  return zoom(image, factor, order=order, mode=mode, cval=cval, channel_axis=channel_axis)


# ----------------------------------------------------------------------------- translate


def translate(
  image, shift, *, order: int = 1, mode: str = "nearest", cval=0.0, channel_axis: int = -1
):
  r"""Shifts the content by ``shift = (dy, dx)`` pixels (seed 002 平移).

  Positive ``dy`` moves the content DOWN, positive ``dx`` to the RIGHT:

  .. math:: y[i, j] = x(i - d_y,\ j - d_x)

  Integer shifts are exact (no blur) for either order; fractional shifts
  interpolate. Pixels shifted in from outside are filled per ``mode`` (default
  "nearest": the edge repeated; "constant": ``cval``, which makes an integer shift
  equal to ``jnp.roll`` with the wrapped-around part replaced by ``cval``).

  Args:
    image: one image, ``HWC`` (or ``CHW`` with ``channel_axis=0``).
    shift: ``(dy, dx)`` in pixels (floats, ints or a traced length-2 array).
    order: interpolation order, 0 or 1 (see ``rotate``).
    mode: fill beyond the border (see ``rotate``).
    cval: the fill value for ``mode="constant"``.
    channel_axis: the channel axis, -1 or 0.

  Returns:
    The shifted image, same shape and dtype.

  Example:
    >>> import jax.numpy as jnp
    >>> x = jnp.arange(1.0, 5.0).reshape(1, 4, 1)
    >>> translate(x, (0, 1), mode="constant")[0, :, 0].tolist()
    [0.0, 1.0, 2.0, 3.0]

  References:
    Simard, Steinkraus & Platt, 2003.
  """
  fn = "translate"
  cval = _check_resampling(fn, order, mode, cval)
  hwc = _to_hwc(fn, image, channel_axis)
  dtype = compute_dtype(hwc.dtype)
  if isinstance(shift, (tuple, list)):
    if len(shift) != 2:
      raise ValueError(f"{fn}: shift has shape ({len(shift)},); give (dy, dx), two numbers")
    for v in shift:
      check_finite(fn, "shift", v)
  else:
    shift = as_array(fn, "shift", shift)
    if not is_traced(shift) and not bool(jnp.all(jnp.isfinite(shift))):
      raise ValueError(f"{fn}: shift={shift!r} is not finite; give two finite numbers")
  shift = jnp.asarray(shift, dtype)
  if shift.shape != (2,):
    raise ValueError(f"{fn}: shift has shape {shift.shape}; give (dy, dx), two numbers")
  out = _resample(
    hwc,
    jnp.eye(2, dtype=dtype),
    -shift,  # input = o - d
    order=order,
    mode=mode,
    cval=cval,
  )
  return _from_hwc(out, channel_axis)


def random_translate(
  key, image, *, max_shift, mode: str = "nearest", cval=0.0, channel_axis: int = -1
):
  r"""Shifts by a random whole number of pixels per axis (seed 002 平移).

  .. math:: d_y \sim U\{-m_y..m_y\},\ d_x \sim U\{-m_x..m_x\},
     \quad y = \operatorname{translate}(x, (d_y, d_x))

  Whole-pixel shifts (as torchvision's ``RandomAffine`` rounds them) keep the image
  sharp and work for ``uint8`` images exactly.

  Args:
    key: a PRNG key; one shift for the whole image.
    image: one image, ``HWC`` (or ``CHW`` with ``channel_axis=0``).
    max_shift: ``m`` or ``(m_y, m_x)``, non-negative ints (pixels).
    mode: fill beyond the border (see ``rotate``).
    cval: the fill value for ``mode="constant"``.
    channel_axis: the channel axis, -1 or 0.

  Returns:
    The shifted image, same shape and dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.ones((8, 8, 3), jnp.uint8)
    >>> random_translate(jax.random.key(0), x, max_shift=2).dtype
    dtype('uint8')

  References:
    Simard, Steinkraus & Platt, 2003.
  """
  fn = "random_translate"
  check_key(fn, "key", key)
  max_y, max_x = _pair(fn, "max_shift", max_shift, integer=True)
  for value in (max_y, max_x):
    check_non_negative(fn, "max_shift", value)
  _to_hwc(fn, image, channel_axis)
  bound = jnp.array([max_y, max_x])
  shift = random.randint(key, (2,), -bound, bound + 1)  # (d_y, d_x) ~ U{-m..m}
  return translate(image, shift, order=0, mode=mode, cval=cval, channel_axis=channel_axis)


# ----------------------------------------------------------------------------- noise


def gaussian_noise(key, image, *, stddev, channel_axis: int = -1):
  r"""Adds independent Gaussian noise to every value (seed 002 加噪声).

  .. math:: y = x + \sigma \varepsilon,\quad \varepsilon \sim \mathcal N(0, 1)

  The noise is drawn in float32 and the sum is cast to the image dtype; values are
  not clipped (clip yourself if the range matters).

  Args:
    key: a PRNG key; independent noise for every pixel and channel.
    image: one floating image, ``HWC`` (or ``CHW`` with ``channel_axis=0``).
    stddev: the noise standard deviation ``σ`` >= 0.
    channel_axis: the channel axis, -1 or 0 (only for the rank check).

  Returns:
    The noisy image, same shape and dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.zeros((64, 64, 3))
    >>> round(float(gaussian_noise(jax.random.key(0), x, stddev=0.1).std()), 1)
    0.1

  References:
    Bishop, "Training with Noise is Equivalent to Tikhonov Regularization", 1995.
  """
  fn = "gaussian_noise"
  check_key(fn, "key", key)
  check_non_negative(fn, "stddev", stddev)
  image = as_array(fn, "image", image)
  _to_hwc(fn, image, channel_axis)
  if not jnp.issubdtype(image.dtype, jnp.floating):
    raise ValueError(
      f"{fn}: image dtype {image.dtype} is not floating; convert first, e.g. "
      "image.astype(jnp.float32) / 255"
    )
  dtype = compute_dtype(image.dtype)
  noise = random.normal(key, image.shape, dtype)  # ε ~ N(0, 1)
  return (image.astype(dtype) + jnp.asarray(stddev, dtype) * noise).astype(
    image.dtype
  )  # y = x + σ ε


# ----------------------------------------------------------------------------- cutout


def cutout(key, image, *, size, fill=0, channel_axis: int = -1):
  r"""Fills a random ``h x w`` patch with ``fill`` (Cutout, DeVries & Taylor 2017).

  The patch centre ``(r, s)`` is drawn uniformly over ALL pixels, and the patch
  covers rows ``[r - h//2, r - h//2 + h)`` and columns ``[s - w//2, s - w//2 + w)``,
  clipped to the image (as the paper's code, exactly so for even sizes: near a
  border only part of the patch lands on the image), in every channel:

  .. math:: y[i, j] = \begin{cases} \text{fill} & r - \lfloor h/2 \rfloor \le i
     < r - \lfloor h/2 \rfloor + h \text{ and }
     s - \lfloor w/2 \rfloor \le j < s - \lfloor w/2 \rfloor + w \\
     x[i, j] & \text{otherwise} \end{cases}

  Args:
    key: a PRNG key; one patch for the whole image.
    image: one image, ``HWC`` (or ``CHW`` with ``channel_axis=0``), any dtype.
    size: ``h`` or ``(h, w)``, positive ints no larger than the image.
    fill: the value written into the patch.
    channel_axis: the channel axis, -1 or 0.

  Returns:
    The image with the patch filled, same shape and dtype.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.ones((32, 32, 3))
    >>> int((cutout(jax.random.key(1), x, size=8) == 0).sum()) <= 8 * 8 * 3
    True

  References:
    DeVries & Taylor, "Improved Regularization of Convolutional Neural Networks with
    Cutout", 2017.
  """
  fn = "cutout"
  check_key(fn, "key", key)
  check_finite(fn, "fill", fill)
  size_h, size_w = _pair(fn, "size", size, integer=True)
  hwc = _to_hwc(fn, image, channel_axis)
  height, width, _ = hwc.shape
  for axis, value, limit in (("height", size_h, height), ("width", size_w, width)):
    if value <= 0 or value > limit:
      raise ValueError(
        f"{fn}: size={size!r} has {axis} {value}, outside [1, {limit}] (image "
        f"{height}x{width}); choose a patch {axis} in [1, {limit}]"
      )
  # (r, s) ~ U{0..H-1} x U{0..W-1}
  centre_r, centre_s = random.randint(key, (2,), 0, jnp.array([height, width]))
  top, left = centre_r - size_h // 2, centre_s - size_w // 2
  rows = jnp.arange(height)[:, None, None]
  cols = jnp.arange(width)[None, :, None]
  inside = (rows >= top) & (rows < top + size_h) & (cols >= left) & (cols < left + size_w)
  out = jnp.where(inside, jnp.asarray(fill, hwc.dtype), hwc)
  return _from_hwc(out, channel_axis)


# ----------------------------------------------------------------------------- mixup


def mixup(key, images, labels, *, alpha):
  r"""Mixes a batch with a shuffled copy of itself (mixup, Zhang et al. 2018).

  One ``λ ~ Beta(α, α)`` for the whole batch (the paper's reference code) and one
  random permutation ``π`` pair every example with another:

  .. math:: \tilde x_i = \lambda x_i + (1 - \lambda) x_{\pi(i)},\quad
     \tilde y_i = \lambda y_i + (1 - \lambda) y_{\pi(i)}

  This is a BATCH-level op (the leading axis is the batch), unlike the per-image
  functions above; do not ``vmap`` it over examples. Labels must be one-hot or soft
  (floating), e.g. ``jax.nn.one_hot(y, k)``; train with soft-label cross-entropy.

  Args:
    key: a PRNG key (split into one key for λ and one for π).
    images: a floating batch ``(N, ...)``.
    labels: floating one-hot / soft labels ``(N, ...)``, same ``N``.
    alpha: the Beta concentration ``α`` > 0 (the paper uses 0.1–0.4 on ImageNet, 1
      on CIFAR).

  Returns:
    ``(mixed_images, mixed_labels)``, shapes and dtypes of the inputs.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> x = jnp.zeros((4, 8, 8, 3))
    >>> y = jax.nn.one_hot(jnp.arange(4), 4)
    >>> _, y_mix = mixup(jax.random.key(0), x, y, alpha=0.2)
    >>> jnp.allclose(y_mix.sum(-1), 1.0).item()
    True

  References:
    Zhang, Cisse, Dauphin & Lopez-Paz, "mixup: Beyond Empirical Risk Minimization",
    2018.
  """
  fn = "mixup"
  check_key(fn, "key", key)
  check_positive(fn, "alpha", alpha)
  images, labels = as_array(fn, "images", images), as_array(fn, "labels", labels)
  for name, value in (("images", images), ("labels", labels)):
    if value.ndim < 1:
      raise ValueError(f"{fn}: {name} is a scalar; give a batch with a leading axis")
    if not jnp.issubdtype(value.dtype, jnp.floating):
      hint = (
        " (integer class ids: use jax.nn.one_hot(labels, num_classes))" if name == "labels" else ""
      )
      raise ValueError(f"{fn}: {name} dtype {value.dtype} is not floating{hint}")
  if images.shape[0] != labels.shape[0]:
    raise ValueError(
      f"{fn}: images has batch size {images.shape[0]} but labels has "
      f"{labels.shape[0]}; give one label row per image"
    )
  key_lam, key_perm = random.split(key)
  lam = random.beta(key_lam, alpha, alpha, (), jnp.float32)  # λ ~ Beta(α, α)
  perm = random.permutation(key_perm, images.shape[0])  # π

  def mix(v):
    dtype = compute_dtype(v.dtype)
    v32 = v.astype(dtype)
    lam_ = lam.astype(dtype)
    return (lam_ * v32 + (1 - lam_) * v32[perm]).astype(v.dtype)  # λ v + (1-λ) v[π]

  return mix(images), mix(labels)
