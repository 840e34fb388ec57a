"""Smoke tests: each example runs (short) and reaches what it claims."""

import importlib.util
import pathlib

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def _load(name):
  spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_train_digits_learns():
  acc = _load("train_digits").main(["--epochs", "8"])
  assert acc > 0.9, f"test accuracy {acc:.3f} after 8 epochs"
