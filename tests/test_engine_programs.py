"""The engine compiles each distinct program once and runs the seeds as measured.

* hyperparameters (learning rate, penalties, label smoothing, drop rate, float keywords
  of the optimizer and schedule) are arguments of the epoch program: a grid over them
  compiles once (counted with ``jax.monitoring``'s backend-compile events), and the
  shared program's curves equal those of a program compiled for the one configuration;
* one seed runs unbatched; several run vmapped or in a loop over one program, and a
  seed's curves are the same whichever way it ran.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from jpatterns import datasets, train
from jpatterns.train import engine

BASE = train.TrainConfig(epochs=2, width=24, norm="batch_norm", dropout="dropout", batch_size=64)


@pytest.fixture(scope="module")
def digits():
  return datasets.load("digits")


def _curves(h):
  return np.stack([h.metrics[m] for m in train.METRICS])


class _Compiles:
  """Counts XLA backend compiles while active."""

  def __init__(self):
    self.count = 0
    jax.monitoring.register_event_duration_secs_listener(self._listen)

  def _listen(self, event, duration, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":
      self.count += 1


COMPILES = _Compiles()


def test_a_grid_over_hyperparameters_compiles_its_epoch_program_once(digits):
  grid = [
    dataclasses.replace(
      BASE,
      learning_rate=lr,
      l2=l2,
      label_smoothing=ls,
      dropout_rate=rate,
      optimizer_kwargs={"b1": b1},
    )
    for lr, l2, ls, rate, b1 in (
      (1e-3, 1e-4, 0.1, 0.1, 0.9),
      (3e-3, 1e-3, 0.05, 0.3, 0.8),
      (1e-2, 1e-5, 0.2, 0.2, 0.85),
    )
  ]
  first = train.compare(grid[:1], digits, seeds=2, devices=1)
  before = COMPILES.count
  rest = train.compare(grid[1:], digits, seeds=2, devices=1)
  assert COMPILES.count == before, "the grid compiled again"
  assert first[0].compile_seconds > 0 and [h.compile_seconds for h in rest] == [0.0, 0.0]
  # the shared program gives what a program compiled for that configuration alone gives
  engine._PROGRAMS.clear()
  alone = train.fit(grid[2], digits, seeds=2, devices=1)
  assert alone.compile_seconds > 0
  np.testing.assert_allclose(_curves(rest[1]), _curves(alone), atol=1e-6)


@pytest.mark.parametrize("devices", [1, 2])
def test_a_grid_over_optimizers_compiles_its_evaluation_once(digits, devices):
  """Two optimizers, one model: the test set is evaluated by one shared program, and the
  curves equal a configuration's run alone (evaluation inside its epoch program; one of the
  two per device count, to compile less)."""
  grid = [dataclasses.replace(BASE, width=12, optimizer=o) for o in ("sgd", "rmsprop")]
  evals = len(engine._EVALS)
  shared = train.compare(grid, digits, seeds=2, devices=devices)
  assert len(engine._EVALS) == evals + 1
  alone = train.fit(grid[devices - 1], digits, seeds=2, devices=devices)
  np.testing.assert_allclose(_curves(shared[devices - 1]), _curves(alone), rtol=1e-6, atol=1e-7)


def test_which_configurations_share_their_evaluation(digits):
  """The same model trained by different programs shares; a grid over a traced
  hyperparameter (one program anyway) and a model of its own do not."""
  cfgs = [
    dataclasses.replace(BASE, optimizer="sgd"),
    dataclasses.replace(BASE, optimizer="adam"),
    dataclasses.replace(BASE, optimizer="adam", width=20),
    dataclasses.replace(BASE, optimizer="adam", learning_rate=0.01),
  ]
  exps = [engine.prepare(c, digits) for c in cfgs]
  assert engine._shared_evaluation(exps) == [True, True, False, True]
  assert engine._shared_evaluation(exps[1:]) == [False, False, False]


def test_a_structural_change_compiles_a_new_program(digits):
  """weight_decay 0 → non-zero adds a piece to the chain: another program."""
  a = train.fit(dataclasses.replace(BASE, width=20), digits, devices=1)
  b = train.fit(dataclasses.replace(BASE, width=20, weight_decay=1e-4), digits, devices=1)
  assert a.compile_seconds > 0 and b.compile_seconds > 0


def test_a_zero_optimizer_keyword_is_its_own_program(digits):
  """momentum keeps a step count only with dampening ≠ 0: dampening 0.0 and 0.5 give states
  of different structure, so they must not share a program; 0.5 equals a fresh compile."""
  cfg = dataclasses.replace(BASE, width=20, optimizer="momentum", epochs=1)
  zero = train.fit(dataclasses.replace(cfg, optimizer_kwargs={"dampening": 0.0}), digits, devices=1)
  half = dataclasses.replace(cfg, optimizer_kwargs={"dampening": 0.5})
  shared = train.fit(half, digits, devices=1)
  assert zero.compile_seconds > 0 and shared.compile_seconds > 0
  engine._PROGRAMS.clear()
  alone = train.fit(half, digits, devices=1)
  np.testing.assert_allclose(_curves(shared), _curves(alone), atol=1e-6)


@pytest.mark.parametrize("devices", [1, 2])
def test_a_seed_has_the_same_curves_vmapped_looped_or_alone(digits, devices):
  kw = dict(devices=devices)
  vmapped = train.fit(BASE, digits, seeds=[3, 5], seed_axis="vmap", **kw)
  looped = train.fit(BASE, digits, seeds=[3, 5], seed_axis="loop", **kw)
  alone = train.fit(BASE, digits, seeds=[5], **kw)
  assert (vmapped.seed_axis, looped.seed_axis, alone.seed_axis) == ("vmap", "loop", "loop")
  np.testing.assert_allclose(_curves(looped), _curves(vmapped), atol=1e-6)
  np.testing.assert_allclose(_curves(alone)[:, 0], _curves(vmapped)[:, 1], atol=1e-6)
  for a, b in zip(jax.tree.leaves(looped.params), jax.tree.leaves(vmapped.params), strict=True):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)


def test_auto_loops_several_seeds_on_one_cpu_device_vmaps_elsewhere_and_never_one():
  assert engine.choose_seed_axis("auto", 3, "cpu", 1) == "loop"
  assert engine.choose_seed_axis("auto", 3, "cpu", 2) == "vmap"  # a mesh
  assert engine.choose_seed_axis("auto", 3, "gpu", 1) == "vmap"
  assert engine.choose_seed_axis("auto", 3, "tpu", 1) == "vmap"
  assert engine.choose_seed_axis("vmap", 3, "cpu", 1) == "vmap"
  assert engine.choose_seed_axis("loop", 3, "gpu", 1) == "loop"
  assert (
    engine.choose_seed_axis("auto", 1, "gpu", 1) == engine.choose_seed_axis("vmap", 1) == "loop"
  )
  with pytest.raises(train.ConfigError) as e:
    engine.choose_seed_axis("batched", 3)
  assert e.value.name == "seed_axis"


def test_hyperparameters_are_the_traceable_numbers():
  c = dataclasses.replace(
    BASE,
    learning_rate=0.01,
    l1=0.0,
    l2=1e-4,
    optimizer="adam",
    optimizer_kwargs={"b1": 0.8, "nesterov": False, "weight_decay": 0.0},
    schedule="step_decay",
    schedule_kwargs={"boundaries": [5]},
  )
  assert engine.hyperparameters(c) == {
    "learning_rate": 0.01,
    "l2": 1e-4,
    "dropout_rate": 0.1,
    "opt.b1": 0.8,
  }
