"""The checked mode (issue 14, item 1): ``jpatterns.checking`` checks traced hyperparameters.

Off (the default), a traced hyperparameter is let through and nothing is added to the
program; on, each number check that meets a traced value adds a ``jax.debug.callback``
that raises the static check's ``ValueError`` for the concrete value: wrapped in a
``JaxRuntimeError`` under ``jit``, itself without ``jit``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jpatterns as jp
from jpatterns import _validation

K = jax.random.key(0)
X = jnp.linspace(-1.0, 1.0, 32).reshape(4, 8)


@pytest.fixture(autouse=True)
def _off_after_each_test():
  """Every test starts and ends with the mode off, whatever it does."""
  assert not jp.is_checking()
  yield
  jp.checking(False)


def _drop(rate):
  return jp.dropout(K, X, rate=rate)


def _static_message(fn, *args, **kwargs) -> str:
  with pytest.raises(ValueError) as info:
    fn(*args, **kwargs)
  return str(info.value)


def _jit_error(fn, *args) -> str:
  with pytest.raises(jax.errors.JaxRuntimeError) as info:
    jax.block_until_ready(fn(*args))
  return str(info.value)


# ----------------------------------------------------------------------------- failures


def test_a_traced_rate_is_checked_under_jit():
  static = _static_message(_drop, 1.5)
  assert static.startswith("dropout: rate=1.5 is outside")
  drop = jax.jit(_drop)
  with jp.checking(True):
    text = _jit_error(drop, 1.5)
  assert static in text  # the same text: function, parameter, value, what is valid
  assert text.rstrip().endswith(f"ValueError: {static}")


def test_a_traced_rate_is_not_checked_by_default():
  assert not jp.is_checking()
  out = jax.jit(_drop)(1.5)  # rate 1.5 is a wrong value, let through unchecked
  assert out.shape == X.shape


def test_eager_grad_raises_the_value_error_itself():
  static = _static_message(_drop, -0.5)
  loss = jax.grad(lambda r: jnp.sum(_drop(r)))
  loss(-0.5)  # off: no error
  with jp.checking(True), pytest.raises(ValueError) as info:
    loss(-0.5)
  assert str(info.value) == static


def test_jit_of_grad_is_checked():
  with jp.checking(True):
    text = _jit_error(jax.jit(jax.grad(lambda r: jnp.sum(_drop(r)))), jnp.float32(jnp.nan))
  assert "dropout: rate=nan is outside" in text


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
def test_a_vmapped_rate_with_one_bad_element(jit):
  rates = jnp.array([0.25, 1.25, 0.5])
  drop = jax.vmap(_drop)
  if jit:
    drop = jax.jit(drop)
  assert drop(rates).shape == (3, *X.shape)  # off: no error
  with jp.checking(True):
    assert drop(jnp.array([0.25, 0.75, 0.5])).shape == (3, *X.shape)  # all good
    if jit:
      text = _jit_error(drop, rates)
    else:
      with pytest.raises(ValueError) as info:
        drop(rates)
      text = str(info.value)
  assert _static_message(_drop, 1.25) in text


def _sgd_step(learning_rate):
  """An inject_hyperparams SGD state whose learning rate is set to ``learning_rate``."""
  opt = optax.inject_hyperparams(jp.optim.sgd)(learning_rate=0.1)
  params = {"w": jnp.arange(3.0)}
  state = opt.init(params)
  state.hyperparams["learning_rate"] = jnp.asarray(learning_rate, jnp.float32)
  return jax.jit(opt.update), params, state


def test_a_learning_rate_traced_through_inject_hyperparams():
  static = _static_message(jp.optim.sgd, learning_rate=-0.1)
  assert static.startswith("sgd: learning_rate=-0.1 ")
  update, params, state = _sgd_step(-0.1)
  jax.block_until_ready(update(params, state, params))  # off: no error
  with jp.checking(True):
    text = _jit_error(update, params, state, params)
  assert static in text


@pytest.mark.parametrize(
  ("fn", "args", "expected"),
  [
    (
      lambda lo, hi: jp.rrelu(K, X, lower=lo, upper=hi),
      (0.5, 0.25),
      "rrelu: lower=0.5 > upper=0.25",
    ),
    (
      lambda a, b: jp.optim.clip_by_value(a, b).update({"w": X}, None)[0],
      (1.0, -1.0),
      "clip_by_value: a=1.0 > b=-1.0",
    ),
    (
      lambda a, b: jp.random_zoom(K, X[..., None], min_factor=a, max_factor=b),
      (1.5, 0.5),
      "random_zoom: max_factor=0.5 < min_factor=1.5",
    ),
  ],
  ids=["rrelu", "clip_by_value", "random_zoom"],
)
def test_a_check_of_two_traced_numbers(fn, args, expected):
  static = _static_message(fn, *args)
  assert static.startswith(expected)
  with jp.checking(True):
    text = _jit_error(jax.jit(fn), *args)
  assert static in text


def test_a_traced_value_next_to_a_concrete_one():
  """rrelu with lower traced and upper a Python number: the pair is checked at run time."""
  fn = jax.jit(lambda lo: jp.rrelu(K, X, lower=lo, upper=0.25))
  fn(0.5)  # off
  with jp.checking(True):
    assert "rrelu: lower=0.5 > upper=0.25" in _jit_error(fn, 0.5)


# ----------------------------------------------------------------------------- good values


def test_a_good_traced_value_gives_the_unchecked_result():
  drop = jax.jit(_drop)
  update, params, state = _sgd_step(0.1)
  off = drop(0.3), update(params, state, params)[0]
  with jp.checking(True):
    on = drop(0.3), update(params, state, params)[0]
  jax.tree.map(np.testing.assert_array_equal, off, on)


def _jaxpr(fn, *args) -> str:
  return str(jax.make_jaxpr(fn)(*args))


@pytest.mark.parametrize(
  ("fn", "args"),
  [
    (_drop, (0.5,)),
    (
      lambda lr: jp.optim.adam(learning_rate=lr).update(
        {"w": X}, jp.optim.adam(0.1).init({"w": X})
      )[0],
      (0.1,),
    ),
    (lambda lo, hi: jp.rrelu(K, X, lower=lo, upper=hi), (0.1, 0.3)),
  ],
  ids=["dropout", "adam", "rrelu"],
)
def test_off_adds_nothing_to_the_program_on_adds_a_callback(fn, args):
  off = _jaxpr(fn, *args)
  assert "callback" not in off
  with jp.checking(True):
    on = _jaxpr(fn, *args)
  assert "debug_callback" in on
  assert _jaxpr(fn, *args) == off  # off again: the same program as before


# ----------------------------------------------------------------------------- the switch


def test_toggling_retraces_an_already_jitted_function():
  """jit does not key its cache on the mode: the toggle clears JAX's caches."""
  traces = []

  @jax.jit
  def drop(rate):
    traces.append(rate)
    return _drop(rate)

  drop(1.5)  # off: traced and cached without a check
  drop(1.5)
  assert len(traces) == 1
  jp.checking(True)
  assert "dropout: rate=1.5" in _jit_error(drop, 1.5)  # the same jitted object
  jp.checking(True)  # no change: no retrace
  _jit_error(drop, 1.5)
  assert len(traces) == 2
  jp.checking(False)
  assert drop(1.5).shape == X.shape
  assert len(traces) == 3


def test_setter_and_reader():
  assert jp.is_checking() is False
  state = jp.checking(True)
  assert jp.is_checking() is True
  assert repr(state) == "checking(True)"
  jp.checking(np.bool_(False))
  assert jp.is_checking() is False


def test_context_manager_restores_the_previous_mode():
  with jp.checking(True):
    assert jp.is_checking()
    with jp.checking(False):
      assert not jp.is_checking()
    assert jp.is_checking()
  assert not jp.is_checking()
  jp.checking(True)
  with jp.checking(False):
    assert not jp.is_checking()
  assert jp.is_checking()


def test_context_manager_restores_after_an_exception():
  with pytest.raises(RuntimeError, match="inside"), jp.checking(True):
    assert jp.is_checking()
    raise RuntimeError("inside")
  assert not jp.is_checking()
  drop = jax.jit(_drop)
  with pytest.raises(jax.errors.JaxRuntimeError), jp.checking(True):
    jax.block_until_ready(drop(1.5))
  assert not jp.is_checking()
  assert drop(1.5).shape == X.shape  # the unchecked program again


@pytest.mark.parametrize("bad", ["yes", 1, 0, None, 1.0, jnp.array(True)], ids=repr)
def test_enabled_must_be_a_bool(bad):
  with pytest.raises(ValueError, match=r"checking: enabled=.* is not valid; pass True or False"):
    jp.checking(bad)
  assert not jp.is_checking()


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("0", False), ("", False)])
def test_the_environment_variable(monkeypatch, value, expected):
  monkeypatch.setenv("JPATTERNS_CHECKING", value)
  assert _validation._from_environment() is expected


def test_a_bad_environment_variable(monkeypatch):
  monkeypatch.setenv("JPATTERNS_CHECKING", "yes")
  with pytest.raises(ValueError, match=r"JPATTERNS_CHECKING='yes' is not valid; set it to 1"):
    _validation._from_environment()


def test_the_engine_keys_its_programs_on_the_mode():
  """A Trainer compiled unchecked must not hand its program to a checked run."""
  from jpatterns import datasets, train
  from jpatterns.train import engine

  cfg = train.TrainConfig(epochs=1, width=8, dropout="dropout", batch_size=64)
  exp = engine.prepare(cfg, datasets.load("digits"))
  off = engine._program_key(exp, "loop", 1, None), engine._eval_key(exp, "loop", 1, None)
  with jp.checking(True):
    on = engine._program_key(exp, "loop", 1, None), engine._eval_key(exp, "loop", 1, None)
  assert None not in off and off[0] != on[0] and off[1] != on[1]
  assert engine._program_key(exp, "loop", 1, None) == off[0]
