"""The README's code: both Python blocks run as printed and train to what they state."""

import os
import re

import numpy as np

from jpatterns import datasets

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _python_blocks():
  with open(README, encoding="utf-8") as f:
    return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def _run(block):
  scope = {}
  exec(compile(block, "README.md", "exec"), scope)  # noqa: S102 (our own README)
  return scope


def test_training_from_python_block():
  """The jpatterns.train block, as printed, against the accuracy it states."""
  train_block, _ = _python_blocks()
  scope = _run(train_block)
  h, sgd, adam = scope["history"], scope["sgd"], scope["adam"]
  assert h.metrics["test_accuracy"].shape == (2, 5)
  assert np.all(h.final["test_accuracy"] > 0.94), h.final  # the README says about 0.96
  assert sgd.config.optimizer == "sgd" and sgd.metrics["test_loss"].shape == (2, 5)
  np.testing.assert_array_equal(adam.metrics["test_loss"], h.metrics["test_loss"])


def test_nnx_example_trains_digits():
  _, nnx_block = _python_blocks()
  assert 'datasets.load("digits")' in nnx_block
  scope = _run(nnx_block)
  d = datasets.load("digits")
  np.testing.assert_array_equal(scope["data"].y_test, d.y_test)
  accuracy = np.mean(np.argmax(np.asarray(scope["logits"]), -1) == d.y_test)
  assert accuracy > 0.95, accuracy  # the README says about 0.98
  # Label smoothing 0.1 over 10 classes floors the loss at its entropy term (~0.5).
  assert float(scope["loss"]) < 0.8


def test_set_up_commands_are_the_ci_ones():
  """The README's two commands: the main job is `jpatterns compare`, the tests as CI runs them."""
  with open(README, encoding="utf-8") as f:
    text = f.read()
  bash = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
  assert bash[0].strip().endswith("pip install -e . && jpatterns compare")
  assert bash[1].strip().endswith('pip install -e ".[test]" && python -m pytest -n 2 -q')
  ci = open(os.path.join(os.path.dirname(README), ".ci", "run"), encoding="utf-8").read()
  assert 'pip install -e ".[test]" && python -m pytest -n 2 -q' in ci
