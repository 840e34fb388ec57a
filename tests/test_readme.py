"""The README's code: the nnx example runs as printed and trains."""

import os
import re

import numpy as np

from jpatterns import datasets

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def _python_blocks():
  with open(README, encoding="utf-8") as f:
    return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


def test_nnx_example_trains_digits():
  (block,) = _python_blocks()
  scope = {}
  exec(compile(block, "README.md", "exec"), scope)  # noqa: S102 (our own README)
  model, opt, train_step = scope["model"], scope["opt"], scope["train_step"]
  d = datasets.load("digits")
  x, y = d.x_train.reshape(len(d.x_train), -1), d.y_train
  rng = np.random.default_rng(0)
  losses = [float(train_step(model, opt, x[idx], y[idx]))
            for idx in (rng.integers(0, len(x), 64) for _ in range(500))]
  model.eval()
  logits = np.asarray(model(d.x_test.reshape(len(d.x_test), -1)))
  accuracy = np.mean(np.argmax(logits, -1) == d.y_test)
  assert accuracy > 0.95, accuracy  # the README says about 0.98
  # Label smoothing 0.1 over 10 classes floors the loss at its entropy term (~0.5).
  assert np.mean(losses[-50:]) < 0.5 * np.mean(losses[:10])


def test_set_up_commands_are_the_ci_ones():
  """The README's two commands: the main job is `jpatterns compare`, the tests as CI runs them."""
  with open(README, encoding="utf-8") as f:
    text = f.read()
  bash = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
  assert bash[0].strip().endswith("pip install -e . && jpatterns compare")
  assert bash[1].strip().endswith('pip install -e ".[test]" && python -m pytest -n 2 -q')
  ci = open(os.path.join(os.path.dirname(README), ".ci", "run"), encoding="utf-8").read()
  assert 'pip install -e ".[test]" && python -m pytest -n 2 -q' in ci
