"""Smoke tests: each example runs (short) and reaches what it claims."""

from helpers import load_example

_load = load_example


def test_train_digits_learns():
  acc = _load("train_digits").main(["--epochs", "8"])
  assert acc > 0.9, f"test accuracy {acc:.3f} after 8 epochs"
