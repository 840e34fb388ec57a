"""Tests for jpatterns.preprocessing against scikit-learn and NumPy transcriptions.

Tolerances:
- min-max / standardization vs sklearn (float64 NumPy): rtol=1e-5, atol=1e-5 (float32);
- PCA whitening vs sklearn PCA(whiten=True), float64 (jax.enable_x64), eps=1e-12:
  rtol=1e-7, atol=1e-8, per component up to sign;
- ZCA vs a NumPy eigh transcription: float64, rtol=1e-8, atol=1e-9;
- whitened covariance (float32, eps=1e-5, eigenvalues >= ~0.1): max |cov - I| < 1e-3;
- bf16 / f16 inputs: output vs the float32 computation on the same rounded inputs,
  helpers.TOL for that dtype.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import helpers
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from jpatterns import preprocessing as P

TOL = dict(rtol=1e-5, atol=1e-5)

# A mixing matrix with strong correlations (covariance eigenvalues ~0.1 .. ~30).
MIX = np.array(
  [[3.0, 0.0, 0.0, 0.0], [2.0, 1.0, 0.0, 0.0], [1.0, 0.5, 0.8, 0.0], [-1.0, 0.3, 0.4, 0.5]]
)


def _correlated(n=400, seed=0, dtype=np.float32):
  rng = np.random.default_rng(seed)
  return (rng.normal(size=(n, 4)) @ MIX.T + np.array([1.0, -2.0, 5.0, 0.0])).astype(dtype)


def _with_constant(n=50, seed=1):
  x = _correlated(n, seed)
  x[:, 2] = 0.1  # constant feature (its mean is not exactly 0.1 in floating point)
  return x


@dataclasses.dataclass(frozen=True)
class Case:
  name: str
  fit: Callable
  apply: Callable
  sklearn: Callable | None = None  # x_fit (np), x_new (np) -> reference transform


def _sk(scaler):
  return lambda x, new: (
    scaler().fit(np.asarray(x, np.float64)).transform(np.asarray(new, np.float64))
  )


CASES = [
  Case("min_max", P.fit_min_max, P.min_max_scale, _sk(MinMaxScaler)),
  Case(
    "min_max_-1_2",
    lambda x: P.fit_min_max(x, feature_range=(-1.0, 2.0)),
    P.min_max_scale,
    lambda x, new: (
      MinMaxScaler(feature_range=(-1.0, 2.0))
      .fit(np.asarray(x, np.float64))
      .transform(np.asarray(new, np.float64))
    ),
  ),
  Case("standardize", P.fit_standardization, P.standardize, _sk(StandardScaler)),
  Case("zca", lambda x: P.fit_whitening(x, method="zca"), P.whiten),
  Case("pca", lambda x: P.fit_whitening(x, method="pca"), P.whiten),
]
IDS = [c.name for c in CASES]


def _fit_apply(case):
  return lambda x: case.apply(x, case.fit(x))


# -- generic tests over the registry -----------------------------------------------


@pytest.mark.parametrize("case", [c for c in CASES if c.sklearn], ids=lambda c: c.name)
def test_matches_sklearn_with_constant_feature(case):
  x = _with_constant()
  new = _correlated(7, seed=5)
  new[:, 2] = np.array([0.1, 0.1, 3.0, -2.0, 0.1, 0.0, 0.1], np.float32)
  stats = case.fit(jnp.asarray(x))
  got = case.apply(jnp.asarray(new), stats)
  assert np.all(np.isfinite(got))
  np.testing.assert_allclose(got, case.sklearn(x, new), **TOL)
  np.testing.assert_allclose(case.apply(jnp.asarray(x), stats), case.sklearn(x, x), **TOL)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_dtype_kept_and_low_precision_values(case):
  def make(dtype):
    return (jnp.asarray(_correlated(64), dtype),)

  helpers.assert_dtypes_kept(_fit_apply(case), make)
  for dtype in (jnp.bfloat16, jnp.float16):
    x = make(dtype)[0]
    stats = case.fit(x)
    for leaf in jax.tree.leaves(stats):
      assert leaf.dtype == jnp.float32  # statistics in at least float32
    want = case.apply(x.astype(jnp.float32), case.fit(x.astype(jnp.float32)))
    np.testing.assert_allclose(
      np.asarray(case.apply(x, stats), np.float64),
      np.asarray(want, np.float64),
      **helpers.TOL[jnp.dtype(dtype)],
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jit_matches_eager(case):
  x = jnp.asarray(_correlated(64))
  helpers.assert_jit_matches_eager(_fit_apply(case), x, rtol=1e-4, atol=1e-4)
  stats = case.fit(x)  # stats are a pytree: they pass through jit as an argument
  helpers.assert_jit_matches_eager(case.apply, x, stats)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_vmap_over_datasets_matches_loop(case):
  xs = jnp.stack([jnp.asarray(_correlated(32, seed=s)) for s in range(3)])
  helpers.assert_vmap_matches_loop(_fit_apply(case), xs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_grads_finite(case):
  helpers.assert_grad_finite(lambda x: _fit_apply(case)(x) ** 2, jnp.asarray(_correlated(32)))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_no_retrace(case):
  x = jnp.asarray(_correlated(32))
  helpers.assert_no_retrace(case.apply, x, case.fit(x))


# -- min-max and standardization ------------------------------------------------


def test_per_channel_image_statistics_match_numpy():
  x = np.random.default_rng(3).uniform(0, 255, size=(6, 4, 5, 3)).astype(np.float32)
  axes = (0, 1, 2)
  mm = P.fit_min_max(jnp.asarray(x), axis=axes)
  lo, hi = x.min(axes), x.max(axes)
  np.testing.assert_allclose(P.min_max_scale(jnp.asarray(x), mm), (x - lo) / (hi - lo), **TOL)
  st = P.fit_standardization(jnp.asarray(x), axis=axes, eps=0.5)
  want = (x - x.mean(axes)) / np.sqrt(x.astype(np.float64).var(axes) + 0.5)
  np.testing.assert_allclose(P.standardize(jnp.asarray(x), st), want, **TOL)
  assert mm.scale.shape == st.mean.shape == (3,)
  # one image (no sample axes) is transformed with the same statistics
  np.testing.assert_allclose(P.standardize(jnp.asarray(x[0]), st), want[0], **TOL)


def test_constant_features_are_finite():
  x = jnp.full((10, 3), 0.1)
  for out in (
    P.min_max_scale(x, P.fit_min_max(x)),
    P.standardize(x, P.fit_standardization(x)),
    P.whiten(x, P.fit_whitening(x, method="zca")),
    P.whiten(x, P.fit_whitening(x, method="pca")),
  ):
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, 0.0, atol=1e-5)


# -- whitening --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["zca", "pca"])
def test_whitened_covariance_is_identity(method):
  x = jnp.asarray(_correlated(2000))
  assert np.abs(np.corrcoef(np.asarray(x).T) - np.eye(4)).max() > 0.5  # really correlated
  y = P.whiten(x, P.fit_whitening(x, method=method))
  cov = np.cov(np.asarray(y, np.float64).T)
  assert np.abs(cov - np.eye(4)).max() < 1e-3, cov
  np.testing.assert_allclose(np.asarray(y).mean(0), 0.0, atol=1e-4)


def test_pca_whitening_matches_sklearn_up_to_sign():
  with jax.enable_x64(True):
    x = _correlated(300, dtype=np.float64)
    new = _correlated(20, seed=9, dtype=np.float64)
    for k in (4, 2):
      stats = P.fit_whitening(jnp.asarray(x), method="pca", eps=1e-12, n_components=k)
      got = np.asarray(P.whiten(jnp.asarray(new), stats))
      want = PCA(n_components=k, whiten=True, svd_solver="full").fit(x).transform(new)
      assert got.shape == want.shape == (20, k)
      signs = np.sign((got * want).sum(0))
      np.testing.assert_allclose(got * signs, want, rtol=1e-7, atol=1e-8)
      np.testing.assert_allclose(
        stats.variances, PCA(n_components=k).fit(x).explained_variance_, rtol=1e-10
      )


def test_zca_matches_numpy_transcription():
  with jax.enable_x64(True):
    x = _correlated(300, dtype=np.float64)
    eps = 1e-3
    xc = x - x.mean(0)
    lam, u = np.linalg.eigh(xc.T @ xc / (len(x) - 1))
    w = u @ np.diag(1 / np.sqrt(lam + eps)) @ u.T  # W_zca = U (L + eps)^(-1/2) U^T
    stats = P.fit_whitening(jnp.asarray(x), method="zca", eps=eps)
    np.testing.assert_allclose(stats.matrix, w, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(P.whiten(jnp.asarray(x), stats), xc @ w, rtol=1e-8, atol=1e-9)


def test_zca_stays_closest_to_the_data():
  """Among whitenings (W' = W Q, Q orthogonal) ZCA minimises E||x_white - x_c||^2."""
  x = _correlated(1000)
  xc = x - x.mean(0)
  zca = np.asarray(P.whiten(jnp.asarray(x), P.fit_whitening(jnp.asarray(x), method="zca")))
  pca = np.asarray(P.whiten(jnp.asarray(x), P.fit_whitening(jnp.asarray(x), method="pca")))
  d_zca = ((zca - xc) ** 2).sum(1).mean()
  d_pca = ((pca - xc) ** 2).sum(1).mean()
  assert d_zca < d_pca
  rng = np.random.default_rng(0)
  for _ in range(5):
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    assert d_zca < (((zca @ q) - xc) ** 2).sum(1).mean()


def test_pca_component_signs_are_deterministic():
  x = jnp.asarray(_correlated(200))
  stats = P.fit_whitening(x, method="pca")
  u = np.asarray(stats.components)
  assert np.all(u[np.abs(u).argmax(0), np.arange(4)] > 0)
  np.testing.assert_allclose(u.T @ u, np.eye(4), atol=1e-5)


# -- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
  "call, match",
  [
    (lambda: P.fit_min_max(jnp.zeros((4, 3)), axis=1), "axis"),
    (lambda: P.fit_min_max(jnp.zeros((4, 3)), axis=2), "axis"),
    (lambda: P.fit_min_max(jnp.zeros((4, 3)), feature_range=(1.0, 0.0)), "feature_range"),
    (lambda: P.fit_standardization(jnp.zeros((4, 3)), eps=-1.0), "eps=-1.0"),
    (lambda: P.fit_standardization(jnp.zeros((2, 4, 3)), axis=(1, 2)), "axis"),
    (lambda: P.min_max_scale(jnp.zeros((4, 2)), P.fit_min_max(jnp.zeros((4, 3)))), "x"),
    (lambda: P.standardize(jnp.zeros((4, 2)), P.fit_standardization(jnp.zeros((4, 3)))), "x"),
    (lambda: P.fit_whitening(jnp.zeros((4, 3, 2))), "x"),
    (lambda: P.fit_whitening(jnp.zeros((1, 3))), "samples"),
    (lambda: P.fit_whitening(jnp.zeros((4, 3)), method="cholesky"), "method"),
    (lambda: P.fit_whitening(jnp.zeros((4, 3)), eps=0.0), "eps=0.0"),
    (lambda: P.fit_whitening(jnp.zeros((4, 3)), n_components=4), "n_components"),
    (lambda: P.fit_whitening(jnp.zeros((4, 3)), n_components=0), "n_components"),
    (lambda: P.whiten(jnp.zeros((4, 2)), P.fit_whitening(jnp.ones((4, 3)))), "x"),
  ],
)
def test_bad_input_raises_naming_the_argument(call, match):
  with pytest.raises(ValueError, match=match):
    call()
