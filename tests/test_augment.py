"""Tests for jpatterns.augment.

References, all independent of the implementation: exactly invertible cases
(``jnp.rot90``, ``jnp.roll`` with fill, flips twice), ``scipy.ndimage``
(``affine_transform``, ``rotate``, ``shift``), torch (``flip``, ``affine_grid`` +
``grid_sample``), NumPy transcriptions written here, and statistics of the random
twins recovered from their outputs (never from re-drawing the library's random
numbers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.test_util  # noqa: F401  (check_grads)
import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.stats
import torch

from jpatterns import augment as aug
from tests import helpers

# ----------------------------------------------------------------------------- registry


@dataclasses.dataclass(frozen=True)
class Case:
  name: str
  fn: Callable  # fn(key, image) -> image
  random: bool = True
  integer_ok: bool = True  # meaningful on uint8 images
  smooth: bool = False  # differentiable in the image


CASES = [
  Case("flip_left_right", lambda k, x: aug.flip_left_right(x), random=False),
  Case("flip_up_down", lambda k, x: aug.flip_up_down(x), random=False),
  Case("random_flip_left_right", lambda k, x: aug.random_flip_left_right(k, x)),
  Case("random_flip_up_down", lambda k, x: aug.random_flip_up_down(k, x, probability=0.7)),
  Case("random_crop", lambda k, x: aug.random_crop(k, x, crop_size=(6, 5), padding=2)),
  Case(
    "random_crop_reflect",
    lambda k, x: aug.random_crop(k, x, crop_size=8, padding=(1, 3), pad_mode="reflect"),
  ),
  Case("rotate", lambda k, x: aug.rotate(x, 0.6), random=False, smooth=True),
  Case(
    "rotate_order0_constant",
    lambda k, x: aug.rotate(x, -1.1, order=0, mode="constant", cval=3.0),
    random=False,
  ),
  Case("random_rotate", lambda k, x: aug.random_rotate(k, x, max_angle=0.5), smooth=True),
  Case("zoom", lambda k, x: aug.zoom(x, (1.3, 0.8)), random=False, smooth=True),
  Case(
    "random_zoom",
    lambda k, x: aug.random_zoom(k, x, min_factor=0.7, max_factor=1.4, mode="reflect"),
    smooth=True,
  ),
  Case(
    "translate",
    lambda k, x: aug.translate(x, (1.5, -2.25), mode="constant"),
    random=False,
    smooth=True,
  ),
  Case("random_translate", lambda k, x: aug.random_translate(k, x, max_shift=(2, 3))),
  Case(
    "gaussian_noise",
    lambda k, x: aug.gaussian_noise(k, x, stddev=0.3),
    integer_ok=False,
    smooth=True,
  ),
  Case("cutout", lambda k, x: aug.cutout(k, x, size=(3, 4), fill=7)),
]
IDS = [c.name for c in CASES]
SHAPE = (8, 10, 3)


def _image(dtype=jnp.float32, shape=SHAPE, seed=0):
  rng = np.random.default_rng(seed)
  if jnp.issubdtype(dtype, jnp.integer):
    return jnp.asarray(rng.integers(0, 256, size=shape), dtype)
  return jnp.asarray(rng.uniform(0, 1, size=shape), dtype)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_matches_eager(case, key):
  helpers.assert_jit_matches_eager(case.fn, key, _image(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vmap_over_split_keys_matches_loop(case, key):
  keys = jax.random.split(key, 4)
  images = jnp.stack([_image(seed=i) for i in range(4)])
  helpers.assert_vmap_matches_loop(case.fn, keys, images, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dtype_kept(case, key):
  helpers.assert_dtypes_kept(case.fn, lambda dtype: (key, _image(dtype)))
  if case.integer_ok:
    out = case.fn(key, _image(jnp.uint8))
    assert out.dtype == jnp.uint8
  # Low-precision results agree with float32 within the dtype's resolution.
  ref = np.asarray(case.fn(key, _image(jnp.float32)), np.float64)
  for dtype in (jnp.bfloat16, jnp.float16):
    got = np.asarray(case.fn(key, _image(dtype)).astype(jnp.float32), np.float64)
    tol = 0.05 if dtype == jnp.bfloat16 else 5e-3
    np.testing.assert_allclose(got, ref, atol=tol * 4, rtol=tol)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_deterministic_for_a_key(case):
  x = _image()
  a = case.fn(jax.random.key(3), x)
  b = case.fn(jax.random.key(3), x)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  if case.random:
    outs = np.asarray(
      jax.jit(jax.vmap(case.fn, in_axes=(0, None)))(jax.random.split(jax.random.key(3), 8), x)
    )
    assert len({o.tobytes() for o in outs}) > 1, "8 different keys gave the same output"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_channel_first_matches_channel_last(case, key):
  x = _image()
  # The same op on CHW via channel_axis=0 equals moving the axes around the HWC op.
  fn_chw = {
    "flip_left_right": lambda k, x: aug.flip_left_right(x, channel_axis=0),
    "flip_up_down": lambda k, x: aug.flip_up_down(x, channel_axis=0),
    "random_flip_left_right": lambda k, x: aug.random_flip_left_right(k, x, channel_axis=0),
    "random_flip_up_down": lambda k, x: aug.random_flip_up_down(
      k, x, probability=0.7, channel_axis=0
    ),
    "random_crop": lambda k, x: aug.random_crop(k, x, crop_size=(6, 5), padding=2, channel_axis=0),
    "random_crop_reflect": lambda k, x: aug.random_crop(
      k, x, crop_size=8, padding=(1, 3), pad_mode="reflect", channel_axis=0
    ),
    "rotate": lambda k, x: aug.rotate(x, 0.6, channel_axis=0),
    "rotate_order0_constant": lambda k, x: aug.rotate(
      x, -1.1, order=0, mode="constant", cval=3.0, channel_axis=0
    ),
    "random_rotate": lambda k, x: aug.random_rotate(k, x, max_angle=0.5, channel_axis=0),
    "zoom": lambda k, x: aug.zoom(x, (1.3, 0.8), channel_axis=0),
    "random_zoom": lambda k, x: aug.random_zoom(
      k, x, min_factor=0.7, max_factor=1.4, mode="reflect", channel_axis=0
    ),
    "translate": lambda k, x: aug.translate(x, (1.5, -2.25), mode="constant", channel_axis=0),
    "random_translate": lambda k, x: aug.random_translate(k, x, max_shift=(2, 3), channel_axis=0),
    "gaussian_noise": lambda k, x: aug.gaussian_noise(k, x, stddev=0.3, channel_axis=0),
    "cutout": lambda k, x: aug.cutout(k, x, size=(3, 4), fill=7, channel_axis=0),
  }[case.name]
  want = np.asarray(case.fn(key, x))
  if case.name == "gaussian_noise":  # elementwise: the layout only matters to checks
    np.testing.assert_array_equal(fn_chw(key, x), want)
    return
  got = np.asarray(fn_chw(key, jnp.moveaxis(x, -1, 0)))
  np.testing.assert_allclose(np.moveaxis(got, 0, -1), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
  "case", [c for c in CASES if c.smooth], ids=[c.name for c in CASES if c.smooth]
)
def test_grad_finite_and_linear_in_image(case, key):
  x = _image()
  helpers.assert_grad_finite(lambda x: case.fn(key, x), x)
  # Resampling and noise are affine in the image: the VJP of a cotangent equals
  # the finite difference of <f(x), ct> along a direction (checked with jax.test_util).
  jax.test_util.check_grads(
    lambda x: case.fn(key, x), (x,), order=1, modes=("rev",), atol=1e-2, rtol=1e-2, eps=1e-2
  )


def test_no_retrace(key):
  helpers.assert_no_retrace(
    lambda k, x: aug.random_rotate(k, aug.random_crop(k, x, crop_size=8, padding=2), max_angle=0.3),
    key,
    _image(),
  )


# ----------------------------------------------------------------------------- flips


def test_flips_match_torch_and_numpy():
  x = _image()
  t = torch.tensor(np.asarray(x))
  np.testing.assert_array_equal(np.asarray(aug.flip_left_right(x)), torch.flip(t, dims=[1]).numpy())
  np.testing.assert_array_equal(np.asarray(aug.flip_up_down(x)), torch.flip(t, dims=[0]).numpy())
  xn = np.asarray(x)
  np.testing.assert_array_equal(np.asarray(aug.flip_left_right(x)), xn[:, ::-1])
  np.testing.assert_array_equal(np.asarray(aug.flip_up_down(x)), xn[::-1])
  # Involutions: flipping twice is the identity (uint8 too).
  u = _image(jnp.uint8)
  np.testing.assert_array_equal(aug.flip_left_right(aug.flip_left_right(u)), u)
  np.testing.assert_array_equal(aug.flip_up_down(aug.flip_up_down(u)), u)


@pytest.mark.parametrize(
  "fn,np_flip",
  [
    (aug.random_flip_left_right, lambda x: x[:, ::-1]),
    (aug.random_flip_up_down, lambda x: x[::-1]),
  ],
)
def test_random_flip_frequency(fn, np_flip, key):
  n = 4000
  x = _image(shape=(4, 5, 1))
  keys = jax.random.split(key, n)
  # probability traced: one compile for all three values.
  flip_all = jax.jit(jax.vmap(lambda k, p: fn(k, x, probability=p), in_axes=(0, None)))
  xn = np.asarray(x)
  for probability in (0.0, 0.3, 1.0):
    out = np.asarray(flip_all(keys, probability))
    flipped = np.all(out == np_flip(xn), axis=(1, 2, 3))
    kept = np.all(out == xn, axis=(1, 2, 3))
    assert np.all(flipped ^ kept), "every output is either the image or its flip"
    freq = flipped.mean()
    # Binomial(n, p): 5 standard deviations (exact at p = 0 or 1).
    assert abs(freq - probability) <= 5 * np.sqrt(probability * (1 - probability) / n)


# ----------------------------------------------------------------------------- crop


def _find_window(out, padded):
  """All (top, left) where ``out`` equals a window of ``padded`` (NumPy)."""
  h, w = out.shape[:2]
  hits = []
  for r in range(padded.shape[0] - h + 1):
    for s in range(padded.shape[1] - w + 1):
      if np.array_equal(padded[r : r + h, s : s + w], out):
        hits.append((r, s))
  return hits


@pytest.mark.parametrize(
  "crop_size,padding,pad_mode",
  [
    ((5, 7), 0, "constant"),
    (10, 4, "constant"),  # the CIFAR recipe, scaled down
    ((9, 6), (2, 1), "reflect"),
    ((10, 12), (1, 1), "edge"),
  ],
)
def test_random_crop_is_a_window_of_the_numpy_padded_image(crop_size, padding, pad_mode, key):
  x = np.arange(1, 8 * 10 * 2 + 1, dtype=np.float32).reshape(8, 10, 2)  # unique values
  ph, pw = (padding, padding) if isinstance(padding, int) else padding
  padded = np.pad(x, ((ph, ph), (pw, pw), (0, 0)), mode=pad_mode)
  ch, cw = (crop_size, crop_size) if isinstance(crop_size, int) else crop_size
  for i in range(6):
    out = np.asarray(
      aug.random_crop(
        jax.random.fold_in(key, i), x, crop_size=crop_size, padding=padding, pad_mode=pad_mode
      )
    )
    assert out.shape == (ch, cw, 2)
    assert _find_window(out, padded), "the crop is not a window of the padded image"


def test_random_crop_offsets_uniform_over_valid_range(key):
  # 6x5 image, crop (4, 4), padding 1: offsets r in {0..4}, s in {0..3}, 20 cells.
  x = np.arange(1, 31, dtype=np.float32).reshape(6, 5, 1)
  padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
  n = 4000
  keys = jax.random.split(key, n)
  outs = np.asarray(
    jax.jit(jax.vmap(lambda k: aug.random_crop(k, x, crop_size=4, padding=1)))(keys)
  )
  # Recover each offset from the crop (NumPy), then chi-square against uniform.
  windows = {padded[r : r + 4, s : s + 4].tobytes(): (r, s) for r in range(5) for s in range(4)}
  counts = np.zeros((5, 4))
  for o in outs:
    counts[windows[o.tobytes()]] += 1
  assert counts.min() > 0
  _, p = scipy.stats.chisquare(counts.ravel())
  assert p > 1e-3, counts


def test_random_crop_full_size_is_identity(key):
  x = _image(jnp.uint8)
  np.testing.assert_array_equal(aug.random_crop(key, x, crop_size=(8, 10)), x)


# ----------------------------------------------------------------------------- rotate


@pytest.mark.parametrize("k", [1, 2, 3, -1])
@pytest.mark.parametrize("order", [0, 1])
def test_rotate_quarter_turns_equal_rot90(k, order):
  x = _image(shape=(6, 6, 3))
  got = aug.rotate(x, k * np.pi / 2, order=order)
  np.testing.assert_allclose(got, jnp.rot90(x, k, axes=(0, 1)), atol=1e-5)


def test_rotate_by_zero_is_identity_and_inverse_rotation_undoes_it():
  x = _image(jnp.uint8)
  np.testing.assert_array_equal(aug.rotate(x, 0.0), x)
  np.testing.assert_array_equal(aug.rotate(x, 0.0, order=0), x)
  y = _image(shape=(9, 9, 2))
  back = aug.rotate(aug.rotate(y, np.pi / 2, order=0), -np.pi / 2, order=0)
  np.testing.assert_array_equal(back, y)


def _scipy_affine(x, matrix, offset, order, mode, cval):
  """scipy.ndimage.affine_transform channel by channel, float64."""
  return np.stack(
    [
      ndi.affine_transform(
        np.asarray(x, np.float64)[..., c], matrix, offset=offset, order=order, mode=mode, cval=cval
      )
      for c in range(x.shape[-1])
    ],
    axis=-1,
  )


# jpatterns/jax "constant" blends towards cval across the border, as SciPy's
# "grid-constant"; "wrap" is SciPy's "grid-wrap".
SCIPY_MODE = {
  "nearest": "nearest",
  "constant": "grid-constant",
  "wrap": "grid-wrap",
  "mirror": "mirror",
  "reflect": "reflect",
}


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", list(SCIPY_MODE))
@pytest.mark.parametrize("angle", [0.4, -2.3])
def test_rotate_matches_scipy_affine_transform(order, mode, angle):
  x = _image(shape=(7, 9, 2))
  c, s = np.cos(angle), np.sin(angle)
  matrix = np.array([[c, s], [-s, c]])  # pull: input = A (o - centre) + centre
  centre = (np.array([7, 9]) - 1) / 2
  want = _scipy_affine(x, matrix, centre - matrix @ centre, order, SCIPY_MODE[mode], 0.7)
  got = aug.rotate(x, angle, order=order, mode=mode, cval=0.7)
  np.testing.assert_allclose(got, want, atol=1e-5)


def test_rotate_matches_scipy_rotate_in_degrees():
  x = _image(shape=(9, 7, 3))
  for degrees in (17.0, -75.0, 130.0):
    want = np.stack(
      [
        ndi.rotate(
          np.asarray(x, np.float64)[..., c], degrees, reshape=False, order=1, mode="nearest"
        )
        for c in range(3)
      ],
      -1,
    )
    got = aug.rotate(x, np.deg2rad(degrees))
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("mode,padding_mode", [("nearest", "border"), ("constant", "zeros")])
def test_rotate_matches_torch_grid_sample(mode, padding_mode):
  x = _image(shape=(8, 8, 3))
  angle = 0.7
  c, s = np.cos(angle), np.sin(angle)
  # affine_grid works in (x, y) = (col, row), normalized to [-1, 1] (align_corners).
  theta = torch.tensor([[[c, -s, 0.0], [s, c, 0.0]]], dtype=torch.float64)
  grid = torch.nn.functional.affine_grid(theta, (1, 3, 8, 8), align_corners=True)
  t = torch.tensor(np.asarray(x, np.float64)).permute(2, 0, 1)[None]
  want = (
    torch.nn.functional.grid_sample(
      t, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True
    )[0]
    .permute(1, 2, 0)
    .numpy()
  )
  got = aug.rotate(x, angle, mode=mode, cval=0.0)
  np.testing.assert_allclose(got, want, atol=1e-5)


def _blob(shape, centre, sigma=1.5):
  rows, cols = np.mgrid[: shape[0], : shape[1]]
  b = np.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / (2 * sigma**2))
  return b[..., None].astype(np.float32)


def _centroid(images):
  """Centre of mass (row, col) of each (N, H, W, 1) image, NumPy."""
  images = np.asarray(images, np.float64)[..., 0]
  rows, cols = np.mgrid[: images.shape[1], : images.shape[2]]
  mass = images.sum((1, 2))
  return np.stack([(images * rows).sum((1, 2)) / mass, (images * cols).sum((1, 2)) / mass], -1)


def test_random_rotate_angles_uniform(key):
  # A blob 7 px to the right of the centre of a 31x31 image: after a counter-
  # clockwise rotation by theta it sits at angle theta (rows grow downwards).
  max_angle = 0.8
  x = _blob((31, 31), (15, 22))
  n = 2000
  keys = jax.random.split(key, n)
  out = jax.jit(jax.vmap(lambda k: aug.random_rotate(k, x, max_angle=max_angle, mode="constant")))(
    keys
  )
  c = _centroid(out)
  angles = np.arctan2(-(c[:, 0] - 15), c[:, 1] - 15)
  assert np.all(np.abs(angles) <= max_angle + 0.02)
  _, p = scipy.stats.kstest(angles, scipy.stats.uniform(-max_angle, 2 * max_angle).cdf)
  assert p > 1e-3
  np.testing.assert_allclose(aug.random_rotate(key, x, max_angle=0.0), x, atol=1e-6)


# ----------------------------------------------------------------------------- zoom


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("mode", ["nearest", "constant", "reflect"])
@pytest.mark.parametrize("factor", [(1.3, 0.73), 0.55, 2.2])
def test_zoom_matches_scipy_affine_transform(order, mode, factor):
  # Factors chosen so no sample lands exactly on a .5 tie, where order-0 rounding
  # is implementation-defined (jax and SciPy round such ties differently).
  x = _image(shape=(9, 8, 2))
  fh, fw = (factor, factor) if np.isscalar(factor) else factor
  matrix = np.diag([1 / fh, 1 / fw])
  centre = (np.array([9, 8]) - 1) / 2
  want = _scipy_affine(x, matrix, centre - matrix @ centre, order, SCIPY_MODE[mode], 0.2)
  got = aug.zoom(x, factor, order=order, mode=mode, cval=0.2)
  np.testing.assert_allclose(got, want, atol=1e-5)


def test_zoom_identity_and_integer_zoom_in():
  x = _image(jnp.uint8)
  np.testing.assert_array_equal(aug.zoom(x, 1.0), x)
  # Zoom in by 3 on a 9x9 image with order 0: each pixel of the central 3x3 block
  # becomes a 3x3 block (np.repeat).
  y = _image(shape=(9, 9, 1))
  want = np.repeat(np.repeat(np.asarray(y)[3:6, 3:6], 3, 0), 3, 1)
  np.testing.assert_array_equal(aug.zoom(y, 3.0, order=0), want)


def test_random_zoom_factors_uniform(key):
  # A blob 6 px right of the centre lands 6 * s px right of it after zoom(s).
  lo, hi = 0.6, 1.5
  x = _blob((33, 33), (16, 22), sigma=1.0)
  n = 2000
  keys = jax.random.split(key, n)
  out = jax.jit(
    jax.vmap(lambda k: aug.random_zoom(k, x, min_factor=lo, max_factor=hi, mode="constant"))
  )(keys)
  c = _centroid(out)
  factors = (c[:, 1] - 16) / 6
  assert np.all(factors >= lo - 0.02) and np.all(factors <= hi + 0.02)
  _, p = scipy.stats.kstest(factors, scipy.stats.uniform(lo, hi - lo).cdf)
  assert p > 1e-3


# ----------------------------------------------------------------------------- translate


@pytest.mark.parametrize("shift", [(2, -3), (-1, 4), (0, 0), (7, 0)])
@pytest.mark.parametrize("order", [0, 1])
def test_integer_translate_equals_roll_with_fill(shift, order):
  x = _image(jnp.uint8)
  want = np.roll(np.asarray(x), shift, axis=(0, 1))
  dy, dx = shift
  if dy > 0:
    want[:dy] = 9
  elif dy < 0:
    want[dy:] = 9
  if dx > 0:
    want[:, :dx] = 9
  elif dx < 0:
    want[:, dx:] = 9
  got = aug.translate(x, shift, order=order, mode="constant", cval=9)
  np.testing.assert_array_equal(got, want)
  # mode="nearest": the edge row/column is repeated (NumPy edge padding + slice).
  xn = np.asarray(x)
  padded = np.pad(xn, ((8, 8), (10, 10), (0, 0)), mode="edge")
  want_edge = padded[8 - dy : 8 - dy + 8, 10 - dx : 10 - dx + 10]
  np.testing.assert_array_equal(aug.translate(x, shift, order=order), want_edge)


@pytest.mark.parametrize("mode", ["nearest", "constant", "mirror"])
def test_fractional_translate_matches_scipy_shift(mode):
  x = _image(shape=(7, 9, 2))
  shift = (1.3, -2.6)
  want = np.stack(
    [
      ndi.shift(np.asarray(x, np.float64)[..., c], shift, order=1, mode=SCIPY_MODE[mode], cval=0.5)
      for c in range(2)
    ],
    -1,
  )
  got = aug.translate(x, jnp.asarray(shift), mode=mode, cval=0.5)
  np.testing.assert_allclose(got, want, atol=1e-5)


def test_random_translate_shifts_uniform(key):
  x = np.arange(1, 7 * 8 + 1, dtype=np.float32).reshape(7, 8, 1)  # unique values
  my, mx = 2, 3
  n = 3000
  keys = jax.random.split(key, n)
  outs = np.asarray(
    jax.jit(jax.vmap(lambda k: aug.random_translate(k, x, max_shift=(my, mx), mode="constant")))(
      keys
    )
  )
  table = {}
  for dy in range(-my, my + 1):
    for dx in range(-mx, mx + 1):
      shifted = np.zeros_like(x)
      src = x[max(-dy, 0) : 7 - max(dy, 0), max(-dx, 0) : 8 - max(dx, 0)]
      shifted[max(dy, 0) : max(dy, 0) + src.shape[0], max(dx, 0) : max(dx, 0) + src.shape[1]] = src
      table[shifted.tobytes()] = (dy + my, dx + mx)
  counts = np.zeros((2 * my + 1, 2 * mx + 1))
  for o in outs:
    counts[table[o.tobytes()]] += 1
  _, p = scipy.stats.chisquare(counts.ravel())
  assert p > 1e-3, counts


# ----------------------------------------------------------------------------- noise


def test_gaussian_noise_statistics(key):
  x = _image(shape=(64, 64, 3))
  stddev = 0.25
  noise = np.asarray(aug.gaussian_noise(key, x, stddev=stddev), np.float64) - np.asarray(
    x, np.float64
  )
  n = noise.size
  assert abs(noise.mean()) < 5 * stddev / np.sqrt(n)
  np.testing.assert_allclose(noise.std(), stddev, rtol=5 * np.sqrt(0.5 / n) + 1e-3)
  # Independent across neighbouring pixels and channels.
  for a, b in ((noise[1:], noise[:-1]), (noise[..., 1:], noise[..., :-1])):
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 5 / np.sqrt(a.size)
  _, p = scipy.stats.kstest(noise.ravel() / stddev, "norm")
  assert p > 1e-3
  np.testing.assert_array_equal(aug.gaussian_noise(key, x, stddev=0.0), x)


# ----------------------------------------------------------------------------- cutout


def _np_cutout(x, centre, size, fill):
  """DeVries & Taylor's cutout in NumPy: patch [c - h//2, c - h//2 + h), clipped."""
  h, w = size
  y = x.copy()
  r0, s0 = centre[0] - h // 2, centre[1] - w // 2
  y[max(r0, 0) : max(r0 + h, 0), max(s0, 0) : max(s0 + w, 0)] = fill
  return y


@pytest.mark.parametrize("size", [(3, 4), 5, (7, 1), (7, 10)])
def test_cutout_matches_numpy_for_some_centre(size, key):
  x = np.asarray(_image(shape=(7, 10, 2)))
  hw = (size, size) if isinstance(size, int) else size
  for i in range(5):
    out = np.asarray(aug.cutout(jax.random.fold_in(key, i), x, size=size, fill=-1.0))
    matches = [
      (r, s)
      for r in range(7)
      for s in range(10)
      if np.array_equal(out, _np_cutout(x, (r, s), hw, -1.0))
    ]
    assert matches, "output is not NumPy's cutout for any centre"


def test_cutout_masking_probability_matches_uniform_centre(key):
  # P(pixel masked) over a uniform centre, computed exactly in NumPy.
  h, w, size = 6, 7, (3, 2)
  ones = np.ones((h, w, 1), np.float32)
  exact = np.mean(
    [_np_cutout(ones, (r, s), size, 0.0) == 0 for r in range(h) for s in range(w)], axis=0
  )
  n = 4000
  out = np.asarray(
    jax.jit(jax.vmap(lambda k: aug.cutout(k, ones, size=size)))(jax.random.split(key, n))
  )
  freq = (out == 0).mean(0)
  np.testing.assert_allclose(freq, exact, atol=5 * np.sqrt(0.25 / n))


# ----------------------------------------------------------------------------- mixup


def test_mixup_matches_numpy_formula_eager_and_jit(key):
  n = 8
  images = _image(shape=(n, 4, 5, 3))
  labels = jnp.eye(n)  # distinct one-hot rows: lambda and the partner are readable
  xn = np.asarray(images, np.float64)
  for i in range(3):
    mixed_x, mixed_y = aug.mixup(jax.random.fold_in(key, i), images, labels, alpha=0.4)
    my = np.asarray(mixed_y, np.float64)
    np.testing.assert_allclose(my.sum(1), 1.0, atol=1e-6)
    off = my - np.diag(np.diag(my))
    partner = np.where(off.max(1) > 0, off.argmax(1), np.arange(n))
    assert sorted(partner) == list(range(n)), "partners form a permutation"
    moved = partner != np.arange(n)
    assert moved.any()
    lam = np.diag(my)[moved][0]  # one lambda for the batch
    want_x = lam * xn + (1 - lam) * xn[partner]  # λ x_i + (1 - λ) x_π(i)
    want_y = lam * np.eye(n) + (1 - lam) * np.eye(n)[partner]
    np.testing.assert_allclose(mixed_x, want_x, atol=1e-5)
    np.testing.assert_allclose(my, want_y, atol=1e-6)

  # jit == eager (last key), and the images' gradient in the same compile:
  # d sum(λ x + (1-λ) x[π]) / dx = 1 for every entry.
  def mixed_and_grad(x):
    grad = jax.grad(lambda x: aug.mixup(k, x, labels, alpha=0.4)[0].sum())(x)
    return aug.mixup(k, x, labels, alpha=0.4), grad

  k = jax.random.fold_in(key, 2)
  (jit_x, jit_y), grad = jax.jit(mixed_and_grad)(images)
  np.testing.assert_allclose(jit_x, mixed_x, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(jit_y, mixed_y, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(grad, np.ones(images.shape), rtol=1e-6)


def test_mixup_lambda_is_beta(key):
  n = 3000
  images = jnp.zeros((3, 2, 2, 1))
  labels = jnp.eye(3)

  def lam_of(k, alpha):
    # λ = the weight a moved row keeps on itself (a fixed point of π keeps 1).
    _, y = aug.mixup(k, images, labels, alpha=alpha)
    diag = jnp.diag(y)
    moved = diag < 1.0
    return jnp.where(moved.any(), jnp.max(jnp.where(moved, diag, -1.0)), jnp.nan)

  sample = jax.jit(jax.vmap(lam_of, in_axes=(0, None)))  # alpha traced: one compile
  for alpha in (0.2, 1.0):
    lams = np.asarray(sample(jax.random.split(key, n), alpha), np.float64)
    lams = lams[np.isfinite(lams)]
    mean, var = 0.5, 1 / (4 * (2 * alpha + 1))  # Beta(α, α) moments
    assert abs(lams.mean() - mean) < 5 * np.sqrt(var / lams.size)
    np.testing.assert_allclose(lams.var(), var, rtol=0.15)
    _, p = scipy.stats.kstest(lams, scipy.stats.beta(alpha, alpha).cdf)
    assert p > 1e-3


def test_mixup_dtype_kept(key):
  for dtype in helpers.DTYPES:  # traced through the real function, not compiled
    x = _image(dtype, shape=(4, 3, 3, 2))
    y = jax.nn.one_hot(jnp.arange(4), 5, dtype=dtype)
    mx, my = jax.eval_shape(lambda k, x, y: aug.mixup(k, x, y, alpha=0.3), key, x, y)
    assert mx.dtype == dtype and my.dtype == dtype


# ----------------------------------------------------------------------------- batch


def test_cifar_batch_256_under_jit_and_vmap(key):
  images = jax.random.uniform(jax.random.key(1), (256, 32, 32, 3))

  def augment_one(k, x):
    k1, k2, k3, k4, k5 = jax.random.split(k, 5)
    x = aug.random_crop(k1, x, crop_size=32, padding=4)
    x = aug.random_flip_left_right(k2, x)
    x = aug.random_rotate(k3, x, max_angle=0.2)
    x = aug.gaussian_noise(k4, x, stddev=0.05)
    return aug.cutout(k5, x, size=8)

  @jax.jit
  def augment_batch(k, xs):
    return jax.vmap(augment_one)(jax.random.split(k, xs.shape[0]), xs)

  out = jax.block_until_ready(augment_batch(key, images))
  assert out.shape == (256, 32, 32, 3) and out.dtype == jnp.float32
  assert np.all(np.isfinite(np.asarray(out)))
  # The same image in every slot (same shapes: no recompile): slot 0 reproduces the
  # batch's example 0 (no cross-talk between examples), and the other slots, with
  # their own keys, all differ from it (per-example randomness).
  copies = augment_batch(key, jnp.broadcast_to(images[0], images.shape))
  np.testing.assert_allclose(copies[0], out[0], atol=1e-6)
  diffs = np.abs(np.asarray(copies[1:]) - np.asarray(copies[:1])).max((1, 2, 3))
  assert np.all(diffs > 1e-3)


# ----------------------------------------------------------------------------- bad input

SINGLE_IMAGE_CALLS = {
  "flip_left_right": lambda x: aug.flip_left_right(x),
  "flip_up_down": lambda x: aug.flip_up_down(x),
  "random_flip_left_right": lambda x: aug.random_flip_left_right(jax.random.key(0), x),
  "random_flip_up_down": lambda x: aug.random_flip_up_down(jax.random.key(0), x),
  "random_crop": lambda x: aug.random_crop(jax.random.key(0), x, crop_size=2),
  "rotate": lambda x: aug.rotate(x, 0.1),
  "random_rotate": lambda x: aug.random_rotate(jax.random.key(0), x, max_angle=0.1),
  "zoom": lambda x: aug.zoom(x, 1.1),
  "random_zoom": lambda x: aug.random_zoom(jax.random.key(0), x, min_factor=0.9, max_factor=1.1),
  "translate": lambda x: aug.translate(x, (1, 1)),
  "random_translate": lambda x: aug.random_translate(jax.random.key(0), x, max_shift=1),
  "gaussian_noise": lambda x: aug.gaussian_noise(jax.random.key(0), x, stddev=0.1),
  "cutout": lambda x: aug.cutout(jax.random.key(0), x, size=2),
}


@pytest.mark.parametrize("name", sorted(SINGLE_IMAGE_CALLS))
@pytest.mark.parametrize("shape", [(8, 8), (2, 8, 8, 3)])
def test_wrong_image_rank_raises(name, shape):
  with pytest.raises(ValueError, match=rf"{name}: image has rank {len(shape)}"):
    SINGLE_IMAGE_CALLS[name](jnp.zeros(shape))


@pytest.mark.parametrize(
  "crop_size,padding",
  [
    ((40, 8), 0),
    ((8, 40), 0),
    ((33, 32), 0),
    ((32, 33), 0),
    (41, 4),
    ((8, 41), 4),
    ((41, 8), (4, 0)),
  ],
)
def test_crop_larger_than_padded_image_raises_element_by_element(crop_size, padding):
  x = jnp.zeros((32, 32, 3))
  with pytest.raises(ValueError, match=r"random_crop: crop_size="):
    aug.random_crop(jax.random.key(0), x, crop_size=crop_size, padding=padding)


def test_crop_up_to_padded_size_is_allowed(key):
  x = jnp.zeros((32, 32, 3))
  assert aug.random_crop(key, x, crop_size=(40, 36), padding=(4, 2)).shape == (40, 36, 3)


@pytest.mark.parametrize(
  "call,match",
  [
    (
      lambda x: aug.random_crop(jax.random.key(0), x, crop_size=8, padding=-1),
      r"random_crop: padding=-1",
    ),
    (
      lambda x: aug.random_crop(jax.random.key(0), x, crop_size=8, padding=(2, -1)),
      r"random_crop: padding=",
    ),
    (lambda x: aug.random_crop(jax.random.key(0), x, crop_size=0), r"crop_size=0"),
    (
      lambda x: aug.random_crop(jax.random.key(0), x, crop_size=(2, 3, 1)),
      r"random_crop: crop_size=",
    ),
    (lambda x: aug.random_crop(jax.random.key(0), x, crop_size=2.5), r"random_crop: crop_size=2.5"),
    (
      lambda x: aug.random_crop(jax.random.key(0), x, crop_size=8, pad_mode="zero"),
      r"random_crop: pad_mode='zero'",
    ),
    (
      lambda x: aug.random_flip_left_right(jax.random.key(0), x, probability=1.5),
      r"random_flip_left_right: probability=1.5",
    ),
    (
      lambda x: aug.random_flip_up_down(jax.random.key(0), x, probability=-0.1),
      r"random_flip_up_down: probability=-0.1",
    ),
    (
      lambda x: aug.gaussian_noise(jax.random.key(0), x, stddev=-1.0),
      r"gaussian_noise: stddev=-1.0",
    ),
    (
      lambda x: aug.gaussian_noise(jax.random.key(0), x.astype(jnp.uint8), stddev=1.0),
      r"gaussian_noise: image dtype uint8",
    ),
    (lambda x: aug.cutout(jax.random.key(0), x, size=(40, 8)), r"cutout: size="),
    (lambda x: aug.cutout(jax.random.key(0), x, size=(8, 40)), r"cutout: size="),
    (lambda x: aug.cutout(jax.random.key(0), x, size=0), r"cutout: size=0"),
    (lambda x: aug.rotate(x, 0.1, order=3), r"rotate: order=3"),
    (lambda x: aug.rotate(x, 0.1, mode="edge"), r"rotate: mode='edge'"),
    (lambda x: aug.rotate(x, 0.1, channel_axis=1), r"rotate: channel_axis=1"),
    (
      lambda x: aug.random_rotate(jax.random.key(0), x, max_angle=-0.1),
      r"random_rotate: max_angle=-0.1",
    ),
    (lambda x: aug.zoom(x, 0.0), r"zoom: factor=0.0"),
    (lambda x: aug.zoom(x, (1.0, -2.0)), r"zoom: factor=-2.0"),
    (
      lambda x: aug.random_zoom(jax.random.key(0), x, min_factor=1.2, max_factor=0.8),
      r"random_zoom: max_factor=0.8 < min_factor=1.2",
    ),
    (
      lambda x: aug.random_zoom(jax.random.key(0), x, min_factor=0.0, max_factor=0.8),
      r"random_zoom: min_factor=0.0",
    ),
    (lambda x: aug.translate(x, (1.0, 2.0, 3.0)), r"translate: shift has shape"),
    (
      lambda x: aug.random_translate(jax.random.key(0), x, max_shift=-1),
      r"random_translate: max_shift=-1",
    ),
    (
      lambda x: aug.random_translate(jax.random.key(0), x, max_shift=1.5),
      r"random_translate: max_shift=1.5",
    ),
  ],
)
def test_bad_arguments_raise(call, match):
  with pytest.raises(ValueError, match=match):
    call(jnp.zeros((32, 32, 3)))


@pytest.mark.parametrize(
  "call,match",
  [
    (
      lambda: aug.mixup(jax.random.key(0), jnp.zeros((4, 2)), jnp.arange(4), alpha=0.2),
      r"mixup: labels dtype int32 is not floating",
    ),
    (
      lambda: aug.mixup(jax.random.key(0), jnp.zeros((4, 2)), jnp.zeros((3, 5)), alpha=0.2),
      r"mixup: images has batch size 4 but labels has 3",
    ),
    (
      lambda: aug.mixup(jax.random.key(0), jnp.zeros((4, 2)), jnp.zeros((4, 5)), alpha=0.0),
      r"mixup: alpha=0.0",
    ),
    (
      lambda: aug.mixup(
        jax.random.key(0), jnp.zeros((4, 2), jnp.uint8), jnp.zeros((4, 5)), alpha=1.0
      ),
      r"mixup: images dtype uint8",
    ),
  ],
)
def test_mixup_bad_arguments_raise(call, match):
  with pytest.raises(ValueError, match=match):
    call()


def test_traced_probability_and_angle_are_accepted(key):
  x = _image()
  f = jax.jit(lambda p, a: aug.rotate(aug.random_flip_left_right(key, x, probability=p), a))
  np.testing.assert_allclose(f(1.0, 0.0), np.asarray(x)[:, ::-1], atol=1e-6)
  np.testing.assert_allclose(f(0.0, 0.0), x, atol=1e-6)
