"""Tests for jpatterns.gradcheck.check_grads (seed 003 §1) against closed-form
gradients (NumPy, written here) and jax.test_util.check_grads.

Tolerances: a correct smooth function gives max_rel_error < 1e-7 in float64
(jax.enable_x64) and < 2e-3 in float32 (default steps, cube root of machine eps);
the planted wrong VJP (backward 2 cos instead of cos) gives a relative error of
exactly 1/3 at its element (numeric 2 cos, analytic 3 cos), to 1e-6.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest

from jpatterns.gradcheck import GradCheckResult, check_grads


def _params(dtype=np.float32):
  rng = np.random.default_rng(0)
  return {
    "layer": {"w": rng.normal(size=(3, 2)).astype(dtype), "b": rng.normal(size=(2,)).astype(dtype)},
    "scale": np.asarray(1.3, dtype),
  }


@dataclasses.dataclass(frozen=True)
class Case:
  name: str
  f: Callable  # params -> scalar (jax)
  grad_np: Callable  # params (NumPy float64) -> closed-form gradient pytree


X = np.random.default_rng(1).normal(size=(4, 3))


def _mlp(p):
  h = jnp.tanh(jnp.asarray(X, p["layer"]["w"].dtype) @ p["layer"]["w"] + p["layer"]["b"])
  return p["scale"] * jnp.sum(h**2)


def _mlp_grad(p):
  w, b, s = p["layer"]["w"], p["layer"]["b"], p["scale"]
  h = np.tanh(X @ w + b)
  dz = s * 2 * h * (1 - h**2)  # d/dz of s * h^2, h = tanh(z)
  return {"layer": {"w": X.T @ dz, "b": dz.sum(0)}, "scale": np.sum(h**2)}


CASES = [
  Case(
    "cubic_sin",
    lambda p: jnp.sum(p["layer"]["w"] ** 3) + jnp.sum(jnp.sin(p["layer"]["b"])) + p["scale"] ** 2,
    lambda p: {
      "layer": {"w": 3 * p["layer"]["w"] ** 2, "b": np.cos(p["layer"]["b"])},
      "scale": 2 * p["scale"],
    },
  ),
  Case("tanh_mlp", _mlp, _mlp_grad),
  Case(
    "log_softmax_ce",
    lambda p: (
      -jax.nn.log_softmax(p["layer"]["w"].ravel() * p["scale"])[2] + jnp.sum(p["layer"]["b"] ** 2)
    ),
    lambda p: {
      "layer": {
        "w": (
          p["scale"]
          * (
            np.exp(p["layer"]["w"].ravel() * p["scale"])
            / np.exp(p["layer"]["w"].ravel() * p["scale"]).sum()
            - np.eye(6)[2]
          )
        ).reshape(3, 2),
        "b": 2 * p["layer"]["b"],
      },
      "scale": float(
        np.dot(
          np.exp(p["layer"]["w"].ravel() * p["scale"])
          / np.exp(p["layer"]["w"].ravel() * p["scale"]).sum()
          - np.eye(6)[2],
          p["layer"]["w"].ravel(),
        )
      ),
    },
  ),
]
IDS = [c.name for c in CASES]


def _at(tree, path_str):
  for leaf_path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
    if jax.tree_util.keystr(leaf_path) == path_str:
      return leaf
  raise KeyError(path_str)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_correct_gradients_float64(case):
  with jax.enable_x64(True):
    p = jax.tree.map(jnp.asarray, _params(np.float64))
    res = check_grads(case.f, p)
  assert isinstance(res, GradCheckResult)
  assert res.max_rel_error < 1e-7, res[:5]
  want = case.grad_np(_params(np.float64))
  np.testing.assert_allclose(res.analytic, np.asarray(_at(want, res.path))[res.index], rtol=1e-10)
  np.testing.assert_allclose(res.numeric, res.analytic, rtol=1e-7)
  assert jax.tree.structure(res.rel_errors) == jax.tree.structure(p)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
def test_correct_gradients_float32(case, dtype):
  """Without x64 the check runs in float32 (low-precision params are upcast)."""
  p = jax.tree.map(lambda a: jnp.asarray(a, dtype), _params())
  res = check_grads(case.f, p)
  assert res.max_rel_error < 2e-3, res[:5]
  want = case.grad_np(jax.tree.map(lambda a: np.asarray(a, np.float64), p))
  np.testing.assert_allclose(
    res.numeric, np.asarray(_at(want, res.path))[res.index], rtol=2e-3, atol=1e-4
  )


# -- a planted wrong VJP is caught, at the right place --------------------------


@jax.custom_vjp
def wrong_sin(x):
  return jnp.sin(x)


wrong_sin.defvjp(lambda x: (jnp.sin(x), x), lambda x, g: (2 * jnp.cos(x) * g,))  # bug: 2 cos


def _with_bug(p):
  w = p["layer"]["w"]
  return jnp.sum(jnp.sin(w)) + wrong_sin(w[1, 0]) + jnp.sum(p["layer"]["b"] ** 2)


@pytest.mark.parametrize("x64", [True, False])
def test_wrong_custom_vjp_is_caught_at_its_element(x64):
  with jax.enable_x64(x64):
    p = jax.tree.map(jnp.asarray, _params(np.float64 if x64 else np.float32))
    res = check_grads(_with_bug, p)
  w10 = float(_params(np.float64)["layer"]["w"][1, 0])
  assert res.path == "['layer']['w']" and res.index == (1, 0)
  np.testing.assert_allclose(res.max_rel_error, 1 / 3, rtol=1e-3 if not x64 else 1e-6)
  np.testing.assert_allclose(res.numeric, 2 * np.cos(w10), rtol=1e-3 if not x64 else 1e-8)
  np.testing.assert_allclose(res.analytic, 3 * np.cos(w10), rtol=1e-6)
  errs = np.asarray(res.rel_errors["layer"]["w"]).copy()
  errs[1, 0] = 0
  assert errs.max() < (2e-3 if not x64 else 1e-7)  # every other element is fine


def test_jax_test_util_agrees():
  """jax.test_util.check_grads also rejects the wrong VJP and accepts the right one."""
  with jax.enable_x64(True):
    p = jax.tree.map(jnp.asarray, _params(np.float64))
    with pytest.raises(AssertionError):
      jax.test_util.check_grads(_with_bug, (p,), order=1, modes=("rev",))
    jax.test_util.check_grads(CASES[1].f, (p,), order=1, modes=("rev",))
    assert check_grads(CASES[1].f, p).max_rel_error < 1e-7


# -- specific behaviour ------------------------------------------------------------


def test_batch_size_does_not_change_the_result():
  with jax.enable_x64(True):
    p = jax.tree.map(jnp.asarray, _params(np.float64))
    results = [check_grads(_mlp, p, batch_size=b) for b in (1, 3, None)]
  for r in results[1:]:
    jax.tree.map(
      lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15),
      r.rel_errors,
      results[0].rel_errors,
    )


def test_numeric_matches_numpy_central_difference():
  """The reported numeric derivative is (f(t+h) - f(t-h)) / 2h with h = eps max(1,|t|)."""
  with jax.enable_x64(True):
    p = {"w": jnp.array([[0.3, -2.5], [4.0, 0.1]])}
    res = check_grads(lambda q: jnp.sum(jnp.exp(q["w"])), p, eps=1e-4)
  t = np.asarray(p["w"], np.float64)[res.index]
  h = 1e-4 * max(1.0, abs(t))
  np.testing.assert_allclose(res.numeric, (np.exp(t + h) - np.exp(t - h)) / (2 * h), rtol=1e-9)


def test_integer_leaves_are_held_fixed():
  with jax.enable_x64(True):
    p = {"w": jnp.array([1.0, 2.0]), "n": jnp.array(3)}
    res = check_grads(lambda q: q["n"] * jnp.sum(q["w"] ** 2), p)
  assert res.max_rel_error < 1e-8 and res.path == "['w']"
  np.testing.assert_array_equal(res.rel_errors["n"], 0.0)


def test_nan_derivative_is_reported_as_worst():
  with jax.enable_x64(True):
    p = {"a": jnp.array([1.0, 4.0]), "b": jnp.array([0.0, 9.0])}
    res = check_grads(lambda q: jnp.sum(jnp.sqrt(q["a"])) + jnp.sum(jnp.sqrt(q["b"])), p)
  assert res.path == "['b']" and res.index == (0,) and res.max_rel_error == np.inf


@pytest.mark.parametrize(
  "kwargs, params, f, match",
  [
    ({}, {"w": jnp.ones(3)}, lambda q: q["w"] * 2, "f must return a scalar"),
    ({}, {"n": jnp.arange(3)}, lambda q: jnp.sum(q["n"]), "params"),
    ({"eps": 0.0}, {"w": jnp.ones(3)}, lambda q: jnp.sum(q["w"]), "eps"),
    ({"batch_size": 0}, {"w": jnp.ones(3)}, lambda q: jnp.sum(q["w"]), "batch_size"),
    ({"floor": -1.0}, {"w": jnp.ones(3)}, lambda q: jnp.sum(q["w"]), "floor"),
  ],
)
def test_bad_input_raises_naming_the_argument(kwargs, params, f, match):
  with pytest.raises(ValueError, match=match):
    check_grads(f, params, **kwargs)
