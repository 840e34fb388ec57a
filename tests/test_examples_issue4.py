"""Smoke tests for the issue-4 examples: each runs (short) and shows what it claims."""

import math

import pytest
from helpers import load_example

_load = load_example


def test_residual_cnn_digits_learns(capsys):
  acc = _load("residual_cnn_digits").main(["--epochs", "8"])
  assert acc > 0.93, f"test accuracy {acc:.3f} after 8 epochs"
  assert "final test accuracy" in capsys.readouterr().out


def test_transfer_learning_keeps_features_and_helps():
  result = _load("transfer_learning").main([])
  assert result["feature_change"] == 0.0, "frozen feature weights moved"
  assert result["head_change"] > 0.1, result  # the new head did train
  assert result["pretrain_accuracy"] > 0.95, result  # the reused features are trained ones
  # The docstring's claims (seed 0): from 10 images per class, a head on frozen features
  # (pretrained or random) is far above chance (0.2). Pretrained features do NOT reliably
  # beat random ones on the embedded digits split (2 of seeds 0-4), so that is not asserted.
  assert result["pretrained"] > 0.7 and result["random"] > 0.7, result


def test_lstm_solves_adding_problem():
  mse, baseline = _load("lstm_sequence").main(["--length", "10", "--steps", "600"])
  assert baseline > 0.1
  assert mse < 0.02 and mse < baseline / 10, (mse, baseline)


def test_word_vectors_find_planted_groups():
  module = _load("word_vectors")
  results = module.main(["--model", "skipgram", "--epochs", "2", "--sentences", "2000"])
  precision, neighbours = results["skipgram"]["precision"], results["skipgram"]["neighbours"]
  assert precision >= 0.9, precision
  # The four nearest neighbours of "cat" are the other four planted animals.
  assert set(neighbours["cat"]) == set(module.GROUPS["ANIMAL"]) - {"cat"}, neighbours["cat"]
  assert set(neighbours["apple"]) == set(module.GROUPS["FRUIT"]) - {"apple"}


def test_gradient_clipping_rescues_rnn():
  result = _load("gradient_clipping_rnn").main(["--steps", "400"])
  assert not math.isfinite(result["unclipped"]), result  # diverged without clipping
  assert math.isfinite(result["clipped"]), result
  assert result["clipped"] < 0.7, result  # from ~1 (predicting 0) down


def test_optimizer_comparison_table(capsys):
  rows = _load("optimizer_comparison").main(["--epochs", "5"])
  assert set(rows) == {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"}
  for name, row in rows.items():
    assert math.isfinite(row["loss"]) and row["loss"] < row["first_loss"], (name, row)
    assert row["accuracy"] > 0.9, (name, row)
  # Plain SGD ends with the highest training loss (the docstring's claim).
  assert rows["sgd"]["loss"] == pytest.approx(max(r["loss"] for r in rows.values()))
  out = capsys.readouterr().out
  assert "| optimizer |" in out and out.count("\n| ") >= 7
