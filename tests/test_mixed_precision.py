"""Mixed precision (issue 13): compute in bfloat16 or float16, parameters in float32.

bfloat16 and float16 (with dynamic loss scaling) reach float32's accuracy on digits to
within a point; and the case where float16 without loss scaling underflows: inputs
scaled by 1e-4 make some gradients smaller than float16's smallest subnormal, so those
parameters never move, while with loss scaling the entries float32 updates move.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from jpatterns import datasets, train
from jpatterns.train import engine


@pytest.fixture(scope="module")
def digits():
  return datasets.load("digits")


@pytest.fixture(scope="module")
def float32_accuracy(digits):
  return train.fit(train.TrainConfig(epochs=8, width=64), digits, devices=1).final["test_accuracy"][
    0
  ]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_low_precision_reaches_float32_accuracy(digits, float32_accuracy, dtype):
  h = train.fit(train.TrainConfig(epochs=8, width=64, dtype=dtype), digits, devices=1)
  acc = h.final["test_accuracy"][0]
  print(f"\n{dtype}: test accuracy {acc:.4f} (float32 {float32_accuracy:.4f})")
  assert abs(acc - float32_accuracy) <= 0.01
  assert h.skipped_steps == ([0] if dtype == "float16" else None)
  assert all(a.dtype == np.float32 for a in jax.tree.leaves(h.params))


def _moved(config, data):
  """Per parameter leaf, the share of entries that one epoch changed."""
  exp = engine.prepare(config, data)
  before = jax.tree.leaves(engine.Trainer(exp, [0], devices=1).init_carry()[0])
  after = jax.tree.leaves(train.fit(config, data, devices=1).params)
  return np.array([np.mean(np.asarray(a) != np.asarray(b)) for a, b in zip(after, before)])


def test_loss_scaling_rescues_the_gradients_float16_underflows(digits):
  tiny = dataclasses.replace(digits, x_train=digits.x_train * 1e-4, x_test=digits.x_test * 1e-4)
  config = train.TrainConfig(epochs=1, width=32)
  f32 = _moved(config, tiny)
  unscaled = _moved(dataclasses.replace(config, dtype="float16", loss_scale="none"), tiny)
  scaled = _moved(dataclasses.replace(config, dtype="float16"), tiny)
  print(
    f"\nshare of entries moved per leaf: float32 {f32.round(3)}, float16 unscaled "
    f"{unscaled.round(3)}, float16 loss-scaled {scaled.round(3)}"
  )
  assert (unscaled <= f32).all() and (unscaled < f32 - 0.02).any()  # underflowed to zero
  # with loss scaling the same entries move as in float32 (one in 2048 may round apart)
  np.testing.assert_allclose(scaled, f32, atol=0.002)
  assert (scaled - unscaled).max() > 0.02


def test_bad_dtype_names_the_field():
  with pytest.raises(train.ConfigError) as e:
    train.config.validate(train.TrainConfig(dtype="float8"))
  assert e.value.name == "dtype"
  with pytest.raises(train.ConfigError) as e:
    train.config.validate(train.TrainConfig(loss_scale="static"))
  assert e.value.name == "loss_scale"
  assert train.config.validate(train.TrainConfig(dtype="bf16")).dtype == "bfloat16"
