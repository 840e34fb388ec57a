"""The training engine: :func:`fit` and :func:`compare`, and the compiled epoch under them.

One compiled function runs one epoch::

    carry, metrics = epoch_fn(carry, seed_keys, epoch, data)

* for one seed, called per seed (on one CPU device), or for every seed at once under
  ``vmap`` (``carry`` and ``seed_keys`` then have a leading seed axis): either way
  ``compare(..., seeds=3)`` costs one compile, not three;
* the epoch is one ``lax.scan`` over minibatches (Python is not in the inner loop),
  followed by the test-set evaluation, and ``carry`` (params, model state such as
  batch-norm statistics, optimizer state) is donated, so XLA updates it in place;
* every device draw is ``fold_in(seed key, epoch, step)`` and an epoch's shuffle is
  NumPy's ``default_rng([seed, epoch])`` on the host (:func:`epoch_batches`): the
  batches, dropout masks and augmentations depend only on the seed and the epoch, so a
  run resumed from a checkpoint continues exactly as the uninterrupted run would;
* with more than one device the batch axis is sharded across them
  (``jax.sharding.NamedSharding`` over a 1-D ``"data"`` mesh) and everything else is
  replicated. XLA's SPMD partitioner turns the batch-norm statistics into
  cross-device reductions, so the loss curve is the one-device curve of the same
  global batch (tested on 8 CPU devices).

Every problem with a configuration or argument raises
:class:`~jpatterns.train.config.ConfigError` (a ``ValueError``) naming the field.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import json
import math
import os
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

import jpatterns as jp
from jpatterns import _validation, datasets
from jpatterns import augment as aug
from jpatterns import preprocessing as pre
from jpatterns.train import checkpoint as ckpt
from jpatterns.train import compile_cache as compile_cache_mod
from jpatterns.train import diagnostics, distributed
from jpatterns.train._files import atomic_open, check_output_dir, output_lock
from jpatterns.train.build import make_optimizer
from jpatterns.train.config import ConfigError, TrainConfig, validate
from jpatterns.train.models import BUILTIN_MODELS, Model, build_model

__all__ = [
  "fit",
  "compare",
  "History",
  "Experiment",
  "prepare",
  "run_experiment",
  "load_data",
  "Trainer",
  "METRICS",
  "epoch_batches",
  "batch_weights",
  "steps_per_epoch",
  "prng_context",
  "describe_devices",
  "environment",
  "NonFiniteLossError",
  "choose_seed_axis",
  "RunOptions",
  "hyperparameters",
]

# Per epoch and seed. The train metrics are means over the epoch's training examples as
# they were trained on (train mode: dropout on, augmented, label-smoothed loss): each
# minibatch's mean weighted by its real examples; the test metrics are the whole test
# set in eval mode after the epoch, with the plain loss.
METRICS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")


def prng_context():
  """Threefry in its non-partitionable form while the engine traces.

  XLA:CPU compiles the partitionable form (JAX's default since 0.5) about 3× slower:
  three ``normal`` draws took 1.8 s against 0.6 s here, and compilation is most of a
  short run's wall time. Values stay a pure function of the key, equal on one device
  and on eight (the SPMD partitioner keeps the program's semantics); only the bit
  stream differs from the default form's, so a key gives other numbers than in a
  program traced with the default.
  """
  return jax.threefry_partitionable(False)


@dataclasses.dataclass
class Experiment:
  """A validated configuration with its data, model and optimizer built."""

  config: TrainConfig
  data: datasets.Dataset
  model: Model
  optimizer: optax.GradientTransformation
  steps_per_epoch: int


def _preprocess(name, x_train, x_test):
  """Fits on the training set, applies to both (seed 002 数据预处理)."""
  if name == "none":
    return x_train, x_test
  shape = x_train.shape[1:]
  tr, te = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
  if name == "min_max_scale":
    stats = pre.fit_min_max(tr)
    tr, te = pre.min_max_scale(tr, stats), pre.min_max_scale(te, stats)
  elif name == "standardize":
    stats = pre.fit_standardization(tr)
    tr, te = pre.standardize(tr, stats), pre.standardize(te, stats)
  else:
    stats = pre.fit_whitening(tr, method=name.split("_")[0], eps=1e-2)
    tr, te = pre.whiten(tr, stats), pre.whiten(te, stats)
  return (
    np.asarray(tr, np.float32).reshape(-1, *shape),
    np.asarray(te, np.float32).reshape(-1, *shape),
  )


def load_data(config: TrainConfig, data=None) -> datasets.Dataset:
  """``data`` as a Dataset: given, loaded from a name/path, or ``config.dataset``."""
  if isinstance(data, datasets.Dataset):
    return data
  if data is not None and not isinstance(data, (str, os.PathLike)):
    raise ConfigError(
      "data",
      type(data).__name__,
      "must be a jpatterns.datasets.Dataset, a dataset name or a file path",
    )
  name = config.dataset if data is None else os.fspath(data)
  try:
    return datasets.load(name, test_fraction=config.test_fraction)
  except ValueError as e:
    reason = str(e).removeprefix("load: ").removeprefix(f"{name}: ")
    raise ConfigError("dataset", name, f"cannot be used: {reason}") from None


def prepare(config: TrainConfig, data=None) -> Experiment:
  """Validates ``config`` against its data and builds everything a run needs.

  Args:
    config: the run.
    data: a :class:`~jpatterns.datasets.Dataset`, a dataset name or file path, or
      None for ``config.dataset``.
  """
  validate(config)  # field by field, before any file is read
  data = load_data(config, data)
  config = validate(dataclasses.replace(config, dataset=data.name), data.kind)
  x_train, x_test = _preprocess(config.preprocess, data.x_train, data.x_test)
  data = dataclasses.replace(data, x_train=x_train, x_test=x_test)
  n_train = len(data.x_train)
  if config.batch_size > n_train:
    raise ConfigError(
      "batch_size",
      config.batch_size,
      f"is larger than the {n_train} training examples of {data.name}",
    )
  steps = steps_per_epoch(n_train, config.batch_size, config.remainder)
  model = build_model(config, data.x_train.shape[1:], data.num_classes)
  return Experiment(config, data, model, make_optimizer(config, steps), steps)


# --- the pieces of one step ----------------------------------------------------------


def _augment_batch(config: TrainConfig, key, x, y, weights=None):
  """The chosen augmentations, per example (vmap over split keys), and mixup.

  ``weights`` (0/1 per example, the padding of a kept last batch 0, at the end) make
  mixup pair real examples with real examples only.
  """
  ops = {
    "random_flip_left_right": lambda k, im: aug.random_flip_left_right(k, im),
    "random_flip_up_down": lambda k, im: aug.random_flip_up_down(k, im),
    "random_crop": lambda k, im: aug.random_crop(k, im, crop_size=im.shape[:2], padding=1),
    "random_rotate": lambda k, im: aug.random_rotate(k, im, max_angle=np.pi / 12),
    "random_zoom": lambda k, im: aug.random_zoom(k, im, min_factor=0.9, max_factor=1.1),
    "random_translate": lambda k, im: aug.random_translate(k, im, max_shift=1),
    "gaussian_noise": lambda k, im: aug.gaussian_noise(k, im, stddev=0.05),
    "cutout": lambda k, im: aug.cutout(k, im, size=max(1, im.shape[0] // 4)),
  }
  for i, name in enumerate(config.augment):
    k = jax.random.fold_in(key, i)
    if name == "mixup":
      x, y = _mixup(k, x, y, weights, alpha=0.2)
    else:
      x = jax.vmap(ops[name])(jax.random.split(k, x.shape[0]), x)
  return x, y


def _mixup(key, x, y, weights, *, alpha):
  """:func:`jpatterns.augment.mixup`; with ``weights``, its pairing ``π`` permutes the
  real rows among themselves (padding, at the end, pairs with padding), so a real row
  never mixes with a padded one. λ is drawn as mixup draws it."""
  if weights is None:
    return aug.mixup(key, x, y, alpha=alpha)
  key_lam, key_perm = jax.random.split(key)
  lam = jax.random.beta(key_lam, alpha, alpha, (), jnp.float32)
  u = jax.random.uniform(key_perm, weights.shape)  # real rows sort first, in random order
  perm = jnp.argsort(jnp.where(weights > 0, u, 2.0 + u))

  def mix(v):
    v32 = v.astype(jnp.float32)
    return (lam * v32 + (1 - lam) * v32[perm]).astype(v.dtype)

  return mix(x), mix(y)


def _loss(config: TrainConfig, logits, labels, weights=None):
  """Mean loss of a batch; ``labels`` are one-hot (or mixed) probabilities.

  ``weights`` (0/1 per example) leave padding out: the mean is over the real examples.
  """
  if config.loss == "focal_loss":
    per_example = jp.focal_loss(logits, labels).sum(-1)
  else:
    per_example = jp.softmax_cross_entropy(logits, labels, label_smoothing=config.label_smoothing)
  return _mean(per_example, weights)


def _mean(values, weights=None):
  """``values.mean()``, or the mean weighted by ``weights`` (0/1: over the examples
  whose weight is 1)."""
  if weights is None:
    return values.mean()
  return (values * weights).sum() / weights.sum()


def steps_per_epoch(n: int, batch_size: int, remainder: str = "drop") -> int:
  """Minibatches an epoch of ``n`` examples takes: ``n // batch_size`` when the last
  partial batch is dropped, ``ceil(n / batch_size)`` when it is kept."""
  if remainder == "keep":
    return -(-n // batch_size)
  return n // batch_size


def epoch_batches(seed: int, epoch: int, n: int, steps: int, batch_size: int) -> np.ndarray:
  """The minibatch indices ``(steps, batch_size)`` of an epoch, drawn on the host.

  The shuffle is ``numpy.random.default_rng([seed, epoch]).permutation(n)``, cut into
  ``steps`` batches: a function of the integer seed and the epoch alone, so a resumed
  run draws the batches of the uninterrupted one. With ``steps = n // batch_size``
  (``remainder="drop"``) the last ``n mod batch_size`` examples of the permutation sit
  the epoch out; with one step more (``remainder="keep"``) the last batch holds them,
  padded to ``batch_size`` with the first indices of the permutation again (the engine
  masks those rows out: :func:`batch_weights`).

  The device draws (initialization, dropout, augmentation) stay JAX's: initialization
  from ``fold_in(key(seed), 0)``, step ``i`` of an epoch from
  ``fold_in(epoch_key, i + 1)`` with ``epoch_key = fold_in(fold_in(key(seed), 1),
  epoch)``. The shuffle was ``jax.random.permutation`` in a jitted program until
  2026-12: on the 2-core CPU it cost 0.2-0.27 s to compile and 0.23 ms an epoch to run
  (a tenth of a width-128 MLP's epoch), where NumPy shuffles 1438 indices in ~20 us.
  """
  _check_steps(n, steps, batch_size)
  for name, v in (("seed", seed), ("epoch", epoch)):
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 0:
      raise ConfigError(name, v, "is not valid; give an integer >= 0")
  perm = np.random.default_rng([int(seed), int(epoch)]).permutation(n).astype(np.int32)
  pad = steps * batch_size - n
  if pad > 0:
    perm = np.concatenate([perm, perm[:pad]])
  return perm[: steps * batch_size].reshape(steps, batch_size)


def batch_weights(n: int, steps: int, batch_size: int) -> np.ndarray | None:
  """0/1 weights ``(steps, batch_size)`` of :func:`epoch_batches`' rows: 0 for the
  padding of a kept last batch; None when no batch is padded."""
  _check_steps(n, steps, batch_size)
  if steps * batch_size <= n:
    return None
  return (np.arange(steps * batch_size) < n).astype(np.float32).reshape(steps, batch_size)


def _check_steps(n: int, steps: int, batch_size: int) -> None:
  if not 1 <= steps <= -(-n // batch_size):
    raise ConfigError(
      "steps",
      steps,
      f"is not valid for {n} examples in batches of {batch_size}; give 1 to "
      f"{-(-n // batch_size)} (n // batch_size drops the partial batch, ceil keeps it)",
    )


def _epoch_key(seed_key, epoch):
  return jax.random.fold_in(jax.random.fold_in(seed_key, 1), epoch)


# --- the trainer ---------------------------------------------------------------------


def _devices_by_process() -> list[list]:
  """Every process's devices, process 0 first (each list in JAX's order)."""
  by_process: dict[int, list] = {}
  for d in jax.devices():
    by_process.setdefault(d.process_index, []).append(d)
  return [by_process[p] for p in sorted(by_process)]


def check_devices(devices: int | None, batch_size: int) -> int:
  """How many devices a run shards over (None: all); ConfigError when it cannot.

  With several processes the count is over all of them and must split evenly: each
  process contributes ``devices / processes`` of its own devices, so no process runs a
  duplicate of another's work.
  """
  groups = _devices_by_process()
  total, procs = sum(len(g) for g in groups), len(groups)
  n = total if devices is None else devices
  if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= total:
    where = f"this machine has {total}" if procs == 1 else f"the {procs} processes have {total}"
    raise ConfigError("devices", n, f"is not valid; {where} {jax.devices()[0].platform} device(s)")
  if n % procs or n // procs > min(len(g) for g in groups):
    raise ConfigError(
      "devices",
      n,
      f"does not split over the {procs} processes; give a multiple of {procs} up to {total}",
    )
  if n > 1 and batch_size % n:
    raise ConfigError(
      "batch_size",
      batch_size,
      f"does not split across {n} devices; use a multiple of {n} or devices=1",
    )
  return n


def mesh_devices(n: int) -> list:
  """The ``n`` devices a run uses: the first ``n / processes`` of every process."""
  groups = _devices_by_process()
  per = n // len(groups)
  return [d for g in groups for d in g[:per]]


# The config fields a built-in model's parameters depend on (models.py reads no other).
_INIT_FIELDS = (
  "model",
  "width",
  "depth",
  "norm",
  "dropout",
  "activation",
  "initializer",
)  # not dropout_rate: a drop rate changes no parameter (only apply reads it)
_MODEL_INITS: dict = {}


def _model_init(exp: Experiment):
  """``jit(vmap(init))`` of ``exp``'s model, shared by configurations building the same one.

  Measured on the default compare grid (2 CPU cores): compiling the vmapped init took
  1.0-1.5 CPU-s per configuration, as much as XLA spends on the epoch program; the 7
  optimizers of one grid now compile it once. A user's model (a ``Model`` value or a
  registered builder, which may read any field) gets its own program every time.
  """
  cfg = exp.config

  def init(keys):
    return jax.vmap(lambda k: exp.model.init(jax.random.fold_in(k, 0)))(keys)

  if not isinstance(cfg.model, str) or cfg.model not in BUILTIN_MODELS:
    return jax.jit(init)
  key = (
    tuple(getattr(cfg, f) for f in _INIT_FIELDS),
    tuple(exp.data.x_train.shape[1:]),
    exp.data.num_classes,
  )
  if key not in _MODEL_INITS:
    if len(_MODEL_INITS) >= 32:
      _MODEL_INITS.clear()
    _MODEL_INITS[key] = jax.jit(init)
  return _MODEL_INITS[key]


# Hyperparameters that enter the epoch program as arguments, not constants, so that
# configurations differing only in them share one compiled program (issue 15): a
# `compare --vary lr=...` grid compiles once. A field is traced when its value is a
# number; zero stays a constant where it removes a piece of the optimizer chain.
_TRACED_FIELDS = ("learning_rate", "weight_decay", "l1", "l2", "label_smoothing", "dropout_rate")
_NONZERO_FIELDS = ("weight_decay", "l1", "l2", "label_smoothing")
_TRACED = "<traced>"


def _traceable(v) -> bool:
  return isinstance(v, float | int) and not isinstance(v, bool) and math.isfinite(v)


def hyperparameters(config: TrainConfig) -> dict[str, float]:
  """The numbers an epoch program takes as arguments: ``{name: value}``.

  ``learning_rate`` (the optimizer's default when None), the decoupled and coupled
  penalties, label smoothing and the drop rate (with a dropout variant) when non-zero, and
  every float keyword of the optimizer (non-zero) and schedule (``opt.b1``,
  ``sched.decay_rate``); integers, booleans and lists stay constants (they change a
  program's shape or control flow).
  """
  hp = {"learning_rate": float(config.lr)}
  for f in _NONZERO_FIELDS:
    if getattr(config, f):
      hp[f] = float(getattr(config, f))
  if config.dropout != "none" and config.dropout_rate:
    hp["dropout_rate"] = float(config.dropout_rate)
  for prefix, kw in (("opt.", config.optimizer_kwargs), ("sched.", config.schedule_kwargs)):
    for k, v in kw.items():
      # A zero optimizer keyword stays a constant: it may switch a term off and with it a
      # piece of the state (momentum keeps a step count only with dampening ≠ 0).
      if isinstance(v, float) and math.isfinite(v) and (prefix == "sched." or v != 0):
        hp[prefix + k] = v
  return hp


def with_hyperparameters(config: TrainConfig, hp: dict) -> TrainConfig:
  """``config`` with the values of :func:`hyperparameters` replaced by ``hp``'s."""
  fields = {f: hp[f] for f in _TRACED_FIELDS if f in hp}
  opt = {k[4:]: v for k, v in hp.items() if k.startswith("opt.")}
  sched = {k[6:]: v for k, v in hp.items() if k.startswith("sched.")}
  return dataclasses.replace(
    config,
    **fields,
    optimizer_kwargs={**config.optimizer_kwargs, **opt},
    schedule_kwargs={**config.schedule_kwargs, **sched},
  )


def _program_key(exp: Experiment, mode: str, num_seeds: int, mesh_ids) -> tuple | None:
  """What an epoch program depends on, the traced hyperparameters' values left out."""
  cfg = exp.config
  if not isinstance(cfg.model, str) or cfg.model not in BUILTIN_MODELS:
    return None  # a user's model may read any field: its own program
  skeleton = with_hyperparameters(cfg, dict.fromkeys(hyperparameters(cfg), _TRACED))
  skeleton = dataclasses.replace(skeleton, seed=0, dataset="")
  d = exp.data
  if batch_weights(len(d.x_train), exp.steps_per_epoch, cfg.batch_size) is None:
    skeleton = dataclasses.replace(skeleton, remainder="drop")  # no partial batch: one program
  return _cache_key(skeleton, exp, mode, num_seeds, mesh_ids)


def _cache_key(skeleton: TrainConfig, exp: Experiment, mode: str, num_seeds: int, mesh_ids):
  """A compiled program's cache key: the configuration ``skeleton`` (what the program
  reads of it), the data's shapes, the seed axis, the mesh and the checked mode
  (:func:`jpatterns.checking` adds run-time checks of the traced hyperparameters)."""
  d = exp.data
  return (
    json.dumps(skeleton.to_json(), sort_keys=True, default=str),
    d.x_train.shape,
    d.x_test.shape,
    d.num_classes,
    mode,
    num_seeds if mode == "vmap" else 1,
    mesh_ids,
    _validation.is_checking(),
  )


# Fields the evaluation (the eval-mode forward on the test set, its unsmoothed loss)
# never reads: configurations differing only in them share one evaluation program.
_TRAIN_ONLY_FIELDS = (
  "dataset",  # the data's shapes are in the key; the arrays are arguments
  "epochs",
  "batch_size",
  "remainder",
  "optimizer",
  "learning_rate",
  "optimizer_kwargs",
  "schedule",
  "schedule_kwargs",
  "warmup_steps",
  "clip",
  "clip_value",
  "l1",
  "l2",
  "weight_decay",
  "max_norm",
  "label_smoothing",
  "augment",
  "loss_scale",
  "seed",
)


def _eval_key(exp: Experiment, mode: str, num_seeds: int, mesh_ids) -> tuple | None:
  """What the evaluation program depends on: the model and its eval-mode forward (the
  drop rate traced), the data's shapes, the seed axis. None for a user's model."""
  cfg = exp.config
  if not isinstance(cfg.model, str) or cfg.model not in BUILTIN_MODELS:
    return None
  defaults = TrainConfig()
  skeleton = dataclasses.replace(cfg, **{f: getattr(defaults, f) for f in _TRAIN_ONLY_FIELDS})
  if "dropout_rate" in hyperparameters(cfg):
    skeleton = dataclasses.replace(skeleton, dropout_rate=_TRACED)
  return _cache_key(skeleton, exp, mode, num_seeds, mesh_ids)


_PROGRAMS: dict = {}
_PROBES: dict = {}  # the diagnostics' programs, keyed as _PROGRAMS
_EVALS: dict = {}  # the shared evaluation programs, keyed by _eval_key
_WRITER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="jpatterns-ckpt")

# Dynamic loss scaling for float16 (PyTorch's GradScaler defaults): start at 2**16, halve
# the scale and skip the step when a gradient is not finite, double it after 2000 steps
# of finite gradients.
LOSS_SCALE_INIT = 2.0**16
LOSS_SCALE_PERIOD = 2000


def uses_loss_scale(config: TrainConfig) -> bool:
  """float16 compute with ``loss_scale="dynamic"``: the carry holds a loss scaler."""
  return config.dtype == "float16" and config.loss_scale == "dynamic"


def _is_float(a) -> bool:
  return jnp.issubdtype(a.dtype, jnp.floating)


def _next_scale(scaler: dict, finite) -> dict:
  """One step of dynamic loss scaling (``finite``: this step's gradients were)."""
  good = jnp.where(finite, scaler["good_steps"] + 1, 0)
  grow = good >= LOSS_SCALE_PERIOD
  scale = scaler["scale"]
  scale = jnp.where(finite, jnp.where(grow, scale * 2, scale), jnp.maximum(scale / 2, 1.0))
  return {
    "scale": scale,
    "good_steps": jnp.where(grow, 0, good),
    "skipped_steps": scaler["skipped_steps"] + jnp.where(finite, 0, 1),
  }


def choose_seed_axis(
  seed_axis: str, num_seeds: int, platform: str | None = None, num_devices: int = 1
) -> str:
  """``"vmap"`` or ``"loop"``: how the seeds run. One seed always runs unbatched.

  ``"auto"`` loops several seeds over one unbatched program on a single CPU device and
  vmaps them elsewhere (an accelerator, or a mesh of devices). Measured on the 2-core
  CPU machine (3 seeds, the built-in models on their default data, one device,
  2026-12-03), the loop took less compile and less time an epoch for every model:
  compile 0.89-0.90 s against 0.90-1.03 s (digits MLP, width 128), 1.29 / 1.55 (cnn),
  1.11 / 1.29 (lstm), 1.46 / 1.55 (resnet), 1.42 / 1.60 (transformer); epoch CPU 2-20 %
  less (MLP width 2048: 1.15 s against 1.27 s); the default ``jpatterns compare`` 8.5-9.4
  CPU-s against 9.5-10.3. XLA:CPU runs a vmapped matmul or convolution no faster than
  the unbatched ones in turn. A single seed vmapped paid up to 2.3x at width 2048, so
  one seed never gets the axis. ``platform`` defaults to JAX's default backend.
  """
  if seed_axis not in ("auto", "vmap", "loop"):
    raise ConfigError("seed_axis", seed_axis, "is not valid; choose auto, vmap or loop")
  if num_seeds == 1:
    return "loop"
  if seed_axis != "auto":
    return seed_axis
  on_cpu = (platform or jax.default_backend()) == "cpu"
  return "loop" if on_cpu and num_devices == 1 else "vmap"


class Trainer:
  """Compiles and runs the epoch function of an :class:`Experiment` for some seeds.

  One seed runs unbatched; several run under ``vmap`` (one program for all) or in a
  loop over one unbatched program, as :func:`choose_seed_axis` decides. The program
  takes the hyperparameters of :func:`hyperparameters` as arguments and is shared by
  every configuration that differs only in them.

  On one device the training set sits on the device and each step gathers its
  minibatch inside the compiled epoch. On a mesh (several devices, one process or
  many) the host cuts each epoch's minibatches (the same permutation, computed by a
  small jitted program) and every device receives only its slice of every batch and of
  the test set (padded to the mesh, the padding masked out of the metrics): a device
  holds ``1 / devices`` of the data, and a process only its own devices' share.

  Args:
    experiment: from :func:`prepare`.
    seeds: the seeds.
    devices: how many devices to shard the batch over (default: all, over every process).
    seed_axis: ``"auto"``, ``"vmap"`` or ``"loop"`` (see :func:`choose_seed_axis`).
    share_eval: evaluate the test set in a program of its own, shared by the
      configurations that build the same model (:func:`_eval_key`), instead of inside
      each epoch program (see :func:`run_experiment`).
  """

  def __init__(
    self,
    experiment: Experiment,
    seeds,
    devices: int | None = None,
    seed_axis: str = "auto",
    share_eval: bool = False,
  ):
    self.exp = experiment
    self.seeds = tuple(int(s) for s in seeds)
    n = check_devices(devices, experiment.config.batch_size)
    self.num_devices = n
    devs = mesh_devices(n)
    self.mesh = (
      jax.make_mesh((n,), ("data",), devices=devs, axis_types=(jax.sharding.AxisType.Auto,))
      if n > 1
      else None
    )
    self._mesh_ids = tuple(d.id for d in devs) if n > 1 else None
    self.mode = choose_seed_axis(seed_axis, len(self.seeds), devs[0].platform, n)
    self._compiled = None
    self._host = None
    self.hp = {k: jnp.float32(v) for k, v in hyperparameters(experiment.config).items()}
    key = _eval_key(experiment, self.mode, len(self.seeds), self._mesh_ids) if share_eval else None
    self._eval_key = key  # None: the test set is evaluated inside the epoch program
    self._evaluate = None  # the shared evaluation program, once compiled
    self._test_fn = None  # set by _epoch_fn

  def _sharding(self, spec=None):
    return NamedSharding(self.mesh, P() if spec is None else spec)

  def put(self, tree):
    """``tree`` on the devices: replicated over the mesh, or on the default device.

    On a mesh each process places its own copy from the host
    (``make_array_from_callback``), so a tree may come from a file or an init program
    run locally; resumed processes check that their files agree first.
    """
    if self.mesh is None:
      return jax.device_put(tree)
    sharding = self._sharding()

    def place(leaf):
      host = np.asarray(jax.device_get(leaf))
      return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])

    return jax.tree.map(place, tree)

  def _shard_batch(self, x):
    if self.mesh is None:
      return x
    return jax.lax.with_sharding_constraint(x, NamedSharding(self.mesh, P("data")))

  def seed_keys(self):
    return jnp.stack([jax.random.key(s) for s in self.seeds])

  def _one_seed(self, tree):
    """The shapes of one seed's slice of a stacked ``tree``, to lower the loop axis'
    program with (slicing the arrays would compile a program per leaf shape)."""
    sharding = None if self.mesh is None else self._sharding()

    def spec(a):
      return jax.ShapeDtypeStruct(a.shape[1:], a.dtype, sharding=sharding, weak_type=a.weak_type)

    return jax.tree.map(spec, tree)

  def _unstack(self, carry):
    """One carry per seed from the stacked ``carry``, sliced on the host (no device
    program; on CPU a copy) and placed like :meth:`put`."""
    host = host_local(carry)
    return [self.put(jax.tree.map(lambda a, i=i: a[i], host)) for i in range(len(self.seeds))]

  def init_carry(self):
    """(params, state, opt_state) for every seed, stacked on a leading axis (and the
    loss scaler's state, for float16 with dynamic loss scaling).

    The model init is one jitted program shared by the configurations that build the
    same model (:func:`_model_init`); the optimizer init (zeros and constants) runs op
    by op, so a grid over optimizers compiles no init program after the first.
    """
    with prng_context():
      params, state = _model_init(self.exp)(self.seed_keys())
      opt_state = jax.vmap(self.exp.optimizer.init)(params)
    if not uses_loss_scale(self.exp.config):
      return self.put((params, state, opt_state))
    n = len(self.seeds)
    scaler = {
      "scale": jnp.full((n,), LOSS_SCALE_INIT, jnp.float32),
      "good_steps": jnp.zeros((n,), jnp.int32),
      "skipped_steps": jnp.zeros((n,), jnp.int32),
    }
    return self.put((params, state, opt_state, scaler))

  def data(self):
    """The arrays the epoch function reads: the training set (one device) or the
    test set alone (a mesh: the training batches come with each epoch)."""
    d = self.exp.data
    k = d.num_classes
    eye = np.eye(k, dtype=np.float32)  # one-hot rows picked on the host: no device program
    if self.mesh is None:
      x_train, x_test = (np.asarray(a, np.float32) for a in (d.x_train, d.x_test))
      y_train, y_test = (eye[np.asarray(y)] for y in (d.y_train, d.y_test))
      return jax.device_put((x_train, y_train, x_test, y_test))
    self._host = (np.asarray(d.x_train, np.float32), eye[np.asarray(d.y_train)])
    t = len(d.x_test)
    pad = -t % self.num_devices
    x_test = np.asarray(d.x_test, np.float32)
    x_test = np.concatenate([x_test, np.zeros((pad, *x_test.shape[1:]), np.float32)])
    y_test = np.concatenate([eye[np.asarray(d.y_test)], np.zeros((pad, k), np.float32)])
    mask = np.concatenate([np.ones(t, np.float32), np.zeros(pad, np.float32)])
    sharding = self._sharding(P("data"))
    return tuple(
      jax.make_array_from_callback(a.shape, sharding, lambda index, a=a: a[index])
      for a in (x_test, y_test, mask)
    )

  def _indices(self, epoch):
    """:func:`epoch_batches` of every seed: ``(seeds, steps, batch)``, on the host."""
    exp = self.exp
    n, steps, bs = len(exp.data.x_train), exp.steps_per_epoch, exp.config.batch_size
    return np.stack([epoch_batches(s, epoch, n, steps, bs) for s in self.seeds])

  def _batches(self, epoch):
    """This process's slices of the epoch's minibatches, as global arrays on the mesh:
    ``(seeds, steps, batch, ...)`` under vmap, else one ``(steps, batch, ...)`` per seed."""
    idx = self._indices(epoch)

    def place(idx, spec):
      sharding = self._sharding(spec)
      k = idx.ndim
      return tuple(
        jax.make_array_from_callback(
          (*idx.shape, *a.shape[1:]), sharding, lambda index, a=a: a[idx[index[:k]]]
        )
        for a in self._host
      )

    if self.mode == "vmap":
      return place(idx, P(None, None, "data"))
    return [place(i, P(None, "data")) for i in idx]

  def data_bytes_per_device(self, data) -> int:
    """Bytes of training and test data the first device holds (its shards of them)."""
    arrays = list(data)
    if self.mesh is not None:
      feed = self._batches(0)
      arrays += list(feed) if self.mode == "vmap" else [a for f in feed for a in f]
    return sum(a.addressable_shards[0].data.nbytes for a in arrays)

  def _parts(self, hp):
    """``(config, model, optimizer, forward)`` with the hyperparameters ``hp`` (traced
    inside a program); ``forward(params, state, x, key, train, w=None) -> (logits,
    state)`` runs the model in the compute dtype, logits and model state back in theirs;
    ``w``, the batch's 0/1 weights, goes as ``mask`` to a model that takes one."""
    exp = self.exp
    cfg = with_hyperparameters(exp.config, hp)
    builtin = isinstance(exp.config.model, str) and exp.config.model in BUILTIN_MODELS
    shape, classes = exp.data.x_train.shape[1:], exp.data.num_classes
    model = build_model(cfg, shape, classes) if builtin else exp.model
    opt = make_optimizer(cfg, exp.steps_per_epoch)
    compute = jnp.dtype(cfg.dtype)

    def forward(params, state, x, key, train, w=None):
      kw = {"mask": w} if w is not None and model.takes_mask else {}
      if compute == jnp.float32:
        return model.apply(params, state, x, key, train=train, **kw)
      low = jax.tree.map(lambda a: a.astype(compute) if _is_float(a) else a, params)
      logits, new_state = model.apply(low, state, x.astype(compute), key, train=train, **kw)
      new_state = jax.tree.map(lambda n, o: n.astype(o.dtype), new_state, state)
      return logits.astype(jnp.float32), new_state

    return cfg, model, opt, forward

  def _epoch_fn(self):
    """``(carry, seed_key, epoch, hp, data, batches) -> (carry, metrics)`` for one seed,
    vmapped over the seeds in ``"vmap"`` mode."""
    exp = self.exp
    steps = exp.steps_per_epoch
    on_mesh = self.mesh is not None
    bs = exp.config.batch_size
    # remainder="keep" with a partial batch: 0/1 weights per row (the last batch's padding
    # 0), a constant of the program; else None and the steps are drop's, unweighted.
    weights = batch_weights(len(exp.data.x_train), steps, bs)
    counts = None if weights is None else weights.sum(axis=1)  # real examples per step

    def one_seed(carry, seed_key, epoch, hp, data, batches):
      cfg, _, opt, forward = self._parts(hp)
      scaled = uses_loss_scale(cfg)

      def loss_fn(params, state, x, y, w, key, scale):
        logits, state = forward(params, state, x, key, True, w)
        loss = _loss(cfg, logits, y, w)  # the mean over the batch's real examples
        acc = _mean(jnp.argmax(logits, -1) == jnp.argmax(y, -1), w)
        return loss * scale, (state, acc, loss)

      # On a mesh the host cut this epoch's batches and data is the padded test set; on
      # one device each batch is gathered from the training set by the indices of
      # epoch_batches (drawn on the host).
      if not on_mesh:
        x_train, y_train = data[:2]
      epoch_key = _epoch_key(seed_key, epoch)
      xs = batches

      def step(carry, inputs):
        params, state, opt_state, *scaler = carry
        batch, i, *w = inputs
        w = self._shard_batch(w[0]) if w else None
        k = jax.random.fold_in(epoch_key, i + 1)
        x, y = batch if on_mesh else (x_train[batch], y_train[batch])
        x, y = self._shard_batch(x), self._shard_batch(y)
        if cfg.augment:
          x, y = _augment_batch(cfg, jax.random.fold_in(k, 0), x, y, w)
        scale = scaler[0]["scale"] if scaled else jnp.float32(1.0)
        (_, (new_state, acc, loss)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
          params, state, x, y, w, jax.random.fold_in(k, 1), scale
        )
        if not scaled:
          updates, opt_state = opt.update(grads, opt_state, params)
          return (optax.apply_updates(params, updates), new_state, opt_state), (loss, acc)
        grads = jax.tree.map(lambda g: g / scale, grads)
        finite = jnp.all(jnp.stack([jnp.isfinite(g).all() for g in jax.tree.leaves(grads)]))
        updates, new_opt = opt.update(grads, opt_state, params)
        new = (optax.apply_updates(params, updates), new_state, new_opt)
        kept = jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, (params, state, opt_state))
        return (*kept, _next_scale(scaler[0], finite)), (loss, acc)

      inputs = (xs, jnp.arange(steps)) + (() if weights is None else (jnp.asarray(weights),))
      carry, (losses, accs) = jax.lax.scan(step, carry, inputs)
      if counts is None:  # equal batches: the mean of the steps' means
        train_loss, train_acc = losses.mean(), accs.mean()
      else:  # each step's mean weighted by its real examples: the mean over the epoch's
        train_loss, train_acc = _mean(losses, counts), _mean(accs, counts)
      if self._eval_key is not None:  # the shared evaluation program follows
        return carry, jnp.stack([train_loss, train_acc])
      metrics = jnp.stack([train_loss, train_acc])
      return carry, jnp.concatenate([metrics, test(carry[:2], hp, data)])

    def test(variables, hp, data):
      """(test loss, test accuracy) of one seed's (params, state): eval mode, the plain
      loss (no label smoothing)."""
      cfg, _, _, forward = self._parts(hp)
      x_test, y_test, mask = data if on_mesh else (*data[2:], None)
      params, state = variables
      logits, _ = forward(params, state, x_test, jax.random.key(0), False)
      test_loss = _loss(dataclasses.replace(cfg, label_smoothing=0.0), logits, y_test, mask)
      test_acc = _mean(jnp.argmax(logits, -1) == jnp.argmax(y_test, -1), mask)
      return jnp.stack([test_loss, test_acc])

    self._test_fn = jax.vmap(test, in_axes=(0, None, None)) if self.mode == "vmap" else test
    if self.mode == "vmap":
      return jax.vmap(one_seed, in_axes=(0, 0, None, None, None, 0))
    return one_seed

  def probe(self):
    """``probe(carry) -> {name: (seeds, ...) array}``: the :mod:`diagnostics` of every
    seed on the probe batch (one jitted program, shared like the epoch program)."""
    exp = self.exp
    n = min(diagnostics.PROBE_EXAMPLES, len(exp.data.x_train))
    k = exp.data.num_classes
    x = np.asarray(exp.data.x_train[:n], np.float32)
    y = np.eye(k, dtype=np.float32)[np.asarray(exp.data.y_train[:n])]
    batch = self.put((x, y))
    with prng_context():
      self.layers = diagnostics.layer_names(exp.model.init, jax.random.key(0))
    layers = self.layers

    def one_seed(carry, hp, x, y):
      cfg, _, opt, forward = self._parts(hp)
      params, state, opt_state = carry[:3]
      key = jax.random.key(0)
      eval_cfg = dataclasses.replace(cfg, label_smoothing=0.0)

      def loss_and_logits(p, train):
        logits, _ = forward(p, state, x, key, train)
        return _loss(cfg if train else eval_cfg, logits, y), logits

      return diagnostics.measure(params, opt_state, opt, loss_and_logits, y, layers)

    key = _program_key(exp, self.mode, len(self.seeds), self._mesh_ids)
    fn = _PROBES.get(key) if key is not None else None
    if fn is None:
      batched = self.mode == "vmap"
      fn = jax.jit(jax.vmap(one_seed, in_axes=(0, None, None, None)) if batched else one_seed)
      if key is not None:
        if len(_PROBES) >= 16:
          _PROBES.clear()
        _PROBES[key] = fn

    def run(carry):
      with prng_context():
        if self.mode == "vmap":
          out = fn(carry, self.hp, *batch)
        else:
          seeds = [fn(c, self.hp, *batch) for c in self._unstack(carry)]
          out = jax.tree.map(lambda *v: jnp.stack(v), *seeds)
      return {name: np.asarray(host_local(v)) for name, v in out.items()}

    return run

  def _feed(self, epoch):
    """The epoch's batches: on a mesh this process's slices of them, cut on the host;
    on one device their indices (:func:`epoch_batches`, drawn on the host), which the
    epoch program gathers from the training set on the device: ``(seeds, steps,
    batch)`` under vmap, one ``(steps, batch)`` array per seed in the loop. The
    shuffle stays out of the epoch program (``jax.random.permutation`` inside it took
    0.3 CPU-s of its XLA compile, 1.31 s against 0.99 s, adam on the digits MLP).
    """
    if self.mesh is not None:
      return self._batches(epoch)
    idx = self._indices(epoch)
    return jax.device_put(list(idx) if self.mode == "loop" else idx)

  def _seed_feed(self, feed, i):
    return feed[i]

  def compile(self, carry, data):
    """Lowers and compiles the epoch function, or takes the compiled program of an
    earlier configuration that differs only in hyperparameters (and, with
    ``share_eval``, the evaluation program likewise); returns the seconds spent (0.0
    when every program was shared)."""
    t0 = time.perf_counter()
    key = _program_key(self.exp, self.mode, len(self.seeds), self._mesh_ids)
    compiled_eval = False
    if self._eval_key is not None:
      # again: the checked mode (in the key) may have changed since __init__
      self._eval_key = _eval_key(self.exp, self.mode, len(self.seeds), self._mesh_ids)
      key = None if key is None else (*key, "shared evaluation")
      compiled_eval = self._compile_eval(carry, data)
    if key is not None and key in _PROGRAMS:
      self._compiled = _PROGRAMS[key]
      return time.perf_counter() - t0 if compiled_eval else 0.0
    shardings = {} if self.mesh is None else {"out_shardings": self._sharding()}
    fn = jax.jit(self._epoch_fn(), donate_argnums=0, **shardings)
    feed = self._feed(0)
    with prng_context():
      if self.mode == "vmap":
        lowered = fn.lower(carry, self.seed_keys(), jnp.int32(0), self.hp, data, feed)
      else:
        one, seed_key = self._one_seed(carry), jax.random.key(self.seeds[0])
        lowered = fn.lower(one, seed_key, jnp.int32(0), self.hp, data, self._seed_feed(feed, 0))
      self._compiled = lowered.compile()
    if key is not None:
      if len(_PROGRAMS) >= 16:
        _PROGRAMS.clear()
      _PROGRAMS[key] = self._compiled
    return time.perf_counter() - t0

  def _eval_hp(self):
    return {k: v for k, v in self.hp.items() if k == "dropout_rate"}

  def _compile_eval(self, carry, data) -> bool:
    """The shared evaluation program: taken from an earlier configuration with the same
    :func:`_eval_key`, or lowered and compiled (then returns True)."""
    compiling = self._eval_key not in _EVALS
    if compiling:
      if self._test_fn is None:
        self._epoch_fn()  # defines it
      shardings = {} if self.mesh is None else {"out_shardings": self._sharding()}
      fn = jax.jit(self._test_fn, **shardings)
      one = carry[:2] if self.mode == "vmap" else self._one_seed(carry[:2])
      with prng_context():
        compiled = fn.lower(one, self._eval_hp(), data).compile()
      if len(_EVALS) >= 16:
        _EVALS.clear()
      _EVALS[self._eval_key] = compiled
    self._evaluate = _EVALS[self._eval_key]
    return compiling

  def run(self, carry, data, *, start: int = 0, on_epoch: Callable | None = None):
    """Epochs ``start … epochs-1``; ``on_epoch(epoch, get_carry, metrics)`` after each.

    ``get_carry()`` returns the carry (seed axis first), ``get_carry(host=True)`` a NumPy
    copy of it (stacked on the host: no device program); ``metrics`` is a dict of NumPy
    arrays, one value per seed; ``on_epoch`` returning ``"stop"`` ends the run there.
    Returns the final carry, the stacked metrics of the epochs run
    ``(epochs run, 4, seeds)`` and the seconds spent in them (compile excluded). On a
    mesh the next epoch's batches are cut on the host while the devices run the current
    one.
    """
    if self._compiled is None:
      self.compile(carry, data)
    # vmap: one stacked key array; loop: a key per seed, made once (no slicing op an epoch)
    keys = self.seed_keys() if self.mode == "vmap" else [jax.random.key(s) for s in self.seeds]
    eval_hp = self._eval_hp()
    history = []
    t0 = time.perf_counter()
    epochs = self.exp.config.epochs
    if self.mode == "loop":  # one carry per seed, each on its own
      carries = self._unstack(carry)
    feed = self._feed(start) if start < epochs else None
    for epoch in range(start, epochs):
      e = np.int32(epoch)
      if self.mode == "vmap":
        carry, m = self._compiled(carry, keys, e, self.hp, data, feed)
        if self._evaluate is not None:
          m = (m, self._evaluate(carry[:2], eval_hp, data))
      else:
        out = [
          self._compiled(c, keys[i], e, self.hp, data, self._seed_feed(feed, i))
          for i, c in enumerate(carries)
        ]
        carries = [c for c, _ in out]
        m = [m for _, m in out]
        if self._evaluate is not None:
          m = [(mi, self._evaluate(c[:2], eval_hp, data)) for mi, c in zip(m, carries)]
      if epoch + 1 < epochs:
        feed = self._feed(epoch + 1)
      if self._evaluate is not None:  # (train, test) halves: one transfer, then joined
        m = host_local(m)
        m = [np.concatenate(x) for x in m] if self.mode == "loop" else np.concatenate(m, -1)
      m = np.stack([host_local(x) for x in m]) if self.mode == "loop" else host_local(m)
      m = m.T  # (4, seeds)
      history.append(m)
      if on_epoch is not None:
        if self.mode == "vmap":
          get_carry = functools.partial(_vmapped_carry, carry)
        else:
          get_carry = functools.partial(_looped_carry, carries)
        if on_epoch(epoch, get_carry, dict(zip(METRICS, m))) == "stop":
          break
    if self.mode == "loop" and start < epochs:  # stacked on the host: no device program
      carry = jax.tree.map(jnp.asarray, _looped_carry(carries, host=True))
    seconds = time.perf_counter() - t0
    return carry, np.asarray(history).reshape(-1, len(METRICS), len(self.seeds)), seconds


def _stack(carries):
  """Per-seed carries as one carry with a leading seed axis."""
  return jax.tree.map(lambda *xs: jnp.stack(xs), *carries)


def _vmapped_carry(carry, host: bool = False):
  """:meth:`Trainer.run`'s ``get_carry`` for the batched carry."""
  return jax.tree.map(np.array, host_local(carry)) if host else carry  # np.array: a copy


def _looped_carry(carries, host: bool = False):
  """:meth:`Trainer.run`'s ``get_carry`` for per-seed carries: stacked on the host for a
  copy (one ``np.stack`` a leaf), on the device otherwise."""
  if host:
    return jax.tree.map(lambda *xs: np.stack(xs), *[host_local(c) for c in carries])
  return _stack(carries)


def host_local(tree):
  """``tree`` as NumPy on this host; replicated arrays that span other processes read
  from this process's own copy."""

  def local(a):
    if isinstance(a, jax.Array) and not a.is_fully_addressable:
      return a.addressable_data(0)
    return a

  return jax.tree.map(np.asarray, jax.device_get(jax.tree.map(local, tree)))  # one transfer


def describe_devices(n: int) -> str:
  """E.g. ``"8 x cpu (cpu)"``: how many devices a run used, and which (and over how
  many processes, when more than one)."""
  d = jax.devices()[0]
  text = f"{n} x {d.platform} ({getattr(d, 'device_kind', d.platform)})"
  procs = jax.process_count()
  return text if procs == 1 else f"{text} over {procs} processes"


def environment() -> dict:
  """Versions and devices of this process: what a result was measured with."""
  import flax

  import jpatterns

  d = jax.devices()[0]
  return {
    "jpatterns": jpatterns.__version__,
    "jax": jax.__version__,
    "flax": flax.__version__,
    "optax": optax.__version__,
    "python": platform.python_version(),
    "backend": d.platform,
    "device_kind": getattr(d, "device_kind", d.platform),
    "device_count": jax.device_count(),
  }


# --- the public entry points ---------------------------------------------------------


@dataclasses.dataclass
class History:
  """What :func:`fit` returns: per-epoch metrics per seed, and the final variables.

  Attributes:
    config: the configuration run (names canonical, ``dataset`` the data's name).
    seeds: the seeds, in the order of every leading seed axis below.
    metrics: ``{name: array (seeds, epochs)}`` for the names of :data:`METRICS`; the
      train metrics are means over the examples the epoch trained on, as trained
      (dropout on, augmented, label-smoothed loss): each minibatch's mean weighted by
      its real examples (with ``remainder="drop"`` all weigh the same), the test metrics
      the whole test set in eval mode after the epoch. A resumed run includes the epochs
      before it.
    params, state, opt_state: the final parameters, model state (batch-norm
      statistics) and optimizer state, each with a leading seed axis.
    model: the :class:`~jpatterns.train.Model`, to evaluate ``params`` with.
    start_epoch: the epoch the run started from (> 0 when resumed).
    compile_seconds, train_seconds: compile and training wall time of this call.
    devices: e.g. ``"8 x cpu (cpu)"``.
    compile_cache: ``{"directory", "hits", "misses"}`` of JAX's persistent compilation
      cache during this call (``directory`` None when it is off).
    data_bytes_per_device: bytes of training and test data on one device: the whole
      data set on one device, ``1 / devices`` of it (each epoch's batches and the test
      set) on a mesh.
    seed_axis: ``"vmap"`` or ``"loop"``: how the seeds ran (one seed: ``"loop"``).
    best_epoch: with ``early_stop`` or ``keep_best``, the epoch (from 1) of the lowest
      mean test loss; with ``early_stop`` the variables above are that epoch's.
    skipped_steps: float16 with dynamic loss scaling: the steps per seed whose
      gradients were not finite and were skipped (the scale halved); else None.
    diagnostics: with ``diagnostics=True``, ``{name: array (seeds, epochs + 1, ...)}``
      as :mod:`jpatterns.train.diagnostics` defines them (index 0: before the first
      epoch); else None.
    layers: with diagnostics, the parameter groups of the per-layer diagnostics, in the
      model's order.
    kernel_sizes: with diagnostics, each group's kernel entries.
  """

  config: TrainConfig
  seeds: tuple[int, ...]
  metrics: dict[str, np.ndarray]
  params: Any
  state: Any
  opt_state: Any
  model: Model
  start_epoch: int = 0
  compile_seconds: float = 0.0
  train_seconds: float = 0.0
  devices: str = ""
  compile_cache: dict = dataclasses.field(default_factory=dict)
  data_bytes_per_device: int = 0
  seed_axis: str = ""
  best_epoch: int | None = None
  skipped_steps: list[int] | None = None
  diagnostics: dict[str, np.ndarray] | None = None
  layers: tuple[str, ...] = ()
  kernel_sizes: tuple[int, ...] = ()

  @property
  def gap(self) -> np.ndarray:
    """``(seeds, epochs)``: accuracy on the probe batch of training data minus test
    accuracy, both in evaluation mode after each epoch (needs ``diagnostics=True``)."""
    if self.diagnostics is None:
      raise ValueError("History.gap needs a run with diagnostics=True")
    train = self.diagnostics["train_eval_accuracy"][:, 1:]
    return train - self.metrics["test_accuracy"][:, -train.shape[1] :]

  @property
  def final(self) -> dict[str, np.ndarray]:
    """The last epoch's metrics, one value per seed."""
    return {m: v[:, -1] for m, v in self.metrics.items()}

  def summary(self) -> dict:
    """Final-epoch metrics: ``{name: {"mean", "std", "per_seed"}}``."""
    return {
      m: {"mean": float(v.mean()), "std": float(v.std()), "per_seed": [float(x) for x in v]}
      for m, v in self.final.items()
    }

  def diagnostics_json(self) -> dict:
    """``{"diagnostics", "layers", "kernel_sizes"}`` as lists; ``{}`` without them."""
    if self.diagnostics is None:
      return {}
    return {
      "diagnostics": {n: v.tolist() for n, v in self.diagnostics.items()},
      "layers": list(self.layers),
      "kernel_sizes": list(self.kernel_sizes),
    }

  def to_json(self) -> dict:
    """The record ``metrics.json`` holds (no arrays but the curves as lists)."""
    return {
      "config": self.config.to_json(),
      "seeds": list(self.seeds),
      "epochs_completed": int(self.metrics[METRICS[0]].shape[1]),
      "resumed_from_epoch": self.start_epoch,
      "devices": self.devices,
      "compile_seconds": self.compile_seconds,
      "train_seconds": self.train_seconds,
      "compile_cache": self.compile_cache,
      "data_bytes_per_device": self.data_bytes_per_device,
      "seed_axis": self.seed_axis,
      "best_epoch": self.best_epoch,
      "skipped_steps": self.skipped_steps,
      "final": self.summary(),
      "curves": {m: v.tolist() for m, v in self.metrics.items()},
      **self.diagnostics_json(),
      "versions": environment(),
    }


def _seed_list(config: TrainConfig, seeds) -> list[int]:
  if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
    if seeds < 1:
      raise ConfigError("seeds", seeds, "is not valid; need an integer >= 1")
    return list(range(config.seed, config.seed + int(seeds)))
  if (
    isinstance(seeds, Sequence)
    and seeds
    and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0 for s in seeds)
  ):
    if len(set(seeds)) != len(seeds):
      raise ConfigError("seeds", seeds, "repeats a seed")
    return [int(s) for s in seeds]
  raise ConfigError("seeds", seeds, "must be a count >= 1 or a non-empty list of seeds >= 0")


def _resume(path, config: TrainConfig):
  """The checkpoint's metadata, layout and leaves, checked against ``config``."""
  saved, seeds, epoch, history, layout, leaves = ckpt.read_training_checkpoint(path)
  differ = [
    f.name
    for f in dataclasses.fields(TrainConfig)
    if f.name not in ("epochs", "dataset") and getattr(saved, f.name) != getattr(config, f.name)
  ]
  if differ:
    what = ", ".join(f"{k}={getattr(saved, k)!r} (asked {getattr(config, k)!r})" for k in differ)
    raise ConfigError("resume", os.fspath(path), f"was written by another configuration: {what}")
  if epoch >= config.epochs:
    raise ConfigError(
      "epochs",
      config.epochs,
      f"is not more than the {epoch} epochs the "
      "checkpoint has trained; pass more epochs to continue",
    )
  return seeds, epoch, history, layout, leaves


def _write_json(path, obj) -> None:
  with atomic_open(path, "w", encoding="utf-8") as f:
    json.dump(obj, f, indent=1, ensure_ascii=False)
    f.write("\n")


def _file_digest(path) -> str:
  with open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def fit(
  config: TrainConfig,
  data=None,
  *,
  seeds=1,
  devices: int | None = None,
  out: str | os.PathLike | None = None,
  on_epoch: Callable[[int, dict], None] | None = None,
  resume: str | os.PathLike | None = None,
  compile_cache: bool | str | os.PathLike | None = None,
  terminate_on_nan: bool = True,
  overwrite: bool = False,
  seed_axis: str = "auto",
  early_stop: int | None = None,
  keep_best: bool = False,
  diagnostics: bool = False,
  checkpoint_every: int = 1,
  checkpoint_min_interval: float = 10.0,
) -> History:
  """Trains ``config`` on ``data`` for one or more seeds at once.

  Args:
    config: the run (:class:`~jpatterns.train.TrainConfig`).
    data: a :class:`~jpatterns.datasets.Dataset`, a dataset name or an .npz/.csv path;
      None loads ``config.dataset``.
    seeds: how many seeds (``config.seed`` onwards) or which ones; one compiled
      program trains them, as ``seed_axis`` says.
    devices: how many devices to shard the batch over (default: all).
    out: a directory for ``checkpoint.npz`` (written after the last epoch and, before
      it, as ``checkpoint_every`` and ``checkpoint_min_interval`` say; atomically, by a
      background thread while the next epoch runs) and ``metrics.json`` (at the end);
      None writes nothing.
    on_epoch: ``on_epoch(epoch, metrics)`` after each epoch, ``epoch`` counted from 0,
      ``metrics`` ``{name: array (seeds,)}``.
    resume: a checkpoint written by ``fit(..., out=...)``: training continues from its
      epoch with its seeds and equals the uninterrupted run. ``config`` must match the
      checkpoint's except for ``epochs``.
    compile_cache: JAX's persistent compilation cache for this and later compiles:
      ``True`` the default directory (:func:`~jpatterns.train.compile_cache.default_dir`,
      ``$JPATTERNS_COMPILE_CACHE``), a path that directory, ``False`` off; ``None``
      (default) leaves JAX's configuration as it is. The ``jpatterns`` commands pass
      ``True`` unless given ``--no-compile-cache``.
    terminate_on_nan: stop with :class:`NonFiniteLossError` after the first epoch whose
      train or test loss is NaN or infinite for some seed (as Keras'
      ``TerminateOnNaN``); the checkpoint in ``out`` stays the last one written before
      it (the last finite epoch's with ``checkpoint_every=1,
      checkpoint_min_interval=0``). ``False`` trains on.
    overwrite: write to ``out`` even while another run holds its lock file
      (``out/.jpatterns.lock``, which refuses a second concurrent run).
    seed_axis: how several seeds run: ``"vmap"`` (one batched program), ``"loop"`` (one
      unbatched program, called per seed) or ``"auto"`` (:func:`choose_seed_axis`: the
      loop on a single CPU device, vmap elsewhere). A seed's curves are the same either
      way.
    early_stop: a patience: stop once the mean test loss over the seeds has not
      improved for this many epochs, and return the variables of the best epoch
      (``History.best_epoch``), as Keras' ``EarlyStopping(restore_best_weights=True)``.
    keep_best: also write ``best.npz`` in ``out`` whenever the mean test loss improves
      (a checkpoint ``resume=`` accepts).
    diagnostics: measure per-layer gradient norms, activation statistics, weight norms
      and sparsity, the effective learning rate and eval-mode training metrics before
      the first epoch and after each (:mod:`jpatterns.train.diagnostics`), into
      ``History.diagnostics`` and ``metrics.json``. Costs one more compiled program
      and one probe-batch pass an epoch; off, nothing changes.
    checkpoint_every: write ``checkpoint.npz`` after every this many epochs (and always
      after the last, and the epoch early stopping ends on), as Keras' ``save_freq`` or
      Orbax's ``save_interval_steps``. 1 (default): every epoch that
      ``checkpoint_min_interval`` allows.
    checkpoint_min_interval: seconds that must pass since the last checkpoint was
      written (or training began) before an epoch writes another, as Orbax's
      ``ContinuousCheckpointingPolicy(minimum_interval_secs=...)``; the last epoch and
      the early-stopping epoch are written regardless. Default 10: an interrupted run
      loses at most ~10 s of training, and a write (a host copy of the parameters and
      optimizer state, then ~2 ms of CPU at the digits MLP's width 128 or ~50 ms at
      width 2048, 52 MB) costs at most that every 10 s, where a write every epoch cost
      as much as the epoch itself at width 128 (2 ms) and +15 % at width 2048. 0: every
      ``checkpoint_every``-th epoch (every epoch before this option).

  ``out`` also receives ``metrics.jsonl``: one JSON line per epoch as it ends (the
  epoch, each metric per seed, the seconds since the run started), to ``tail -f``.

  The last partial batch (``n mod batch_size`` training examples) follows
  ``config.remainder``: ``"drop"`` (the default, as before) trains ``n // batch_size``
  steps an epoch and leaves those examples out of it (a new permutation every epoch, so
  not the same ones); ``"keep"`` trains ``ceil(n / batch_size)`` steps, as PyTorch's
  ``DataLoader(drop_last=False)``: the last batch is padded to ``batch_size`` (so it
  splits over devices and every step has one shape) and masked. Its loss is the mean
  over its real examples, the built-in models take its batch-norm statistics (and move
  their running statistics) over those alone, and mixup pairs real examples only; a
  :class:`~jpatterns.train.Model` of your own sees the padded rows unless it
  ``takes_mask``. The schedules count the steps taken. An epoch's train metrics are the
  mean over its examples (each step's mean weighted by its real examples). Dropout and
  augmentation draws of the last batch are those of a full batch's first rows. With
  ``n`` a multiple of ``batch_size`` both run the same program.

  Returns:
    A :class:`History`.

  Raises:
    ValueError: a bad field or argument (a :class:`~jpatterns.train.config.ConfigError`
      naming it), an unusable data file, or an unreadable checkpoint.

  Example:
    >>> from jpatterns import datasets, train
    >>> h = train.fit(train.TrainConfig(epochs=3), datasets.load("digits"))
    >>> h.metrics["test_accuracy"].shape, bool(h.final["test_accuracy"][0] > 0.9)
    ((1, 3), True)
  """
  return run_experiment(
    prepare(config, data),
    seeds=seeds,
    devices=devices,
    out=out,
    on_epoch=on_epoch,
    resume=resume,
    compile_cache=compile_cache,
    terminate_on_nan=terminate_on_nan,
    overwrite=overwrite,
    seed_axis=seed_axis,
    early_stop=early_stop,
    keep_best=keep_best,
    diagnostics=diagnostics,
    checkpoint_every=checkpoint_every,
    checkpoint_min_interval=checkpoint_min_interval,
  )


def use_compile_cache(compile_cache) -> None:
  """Applies :func:`fit`'s ``compile_cache`` argument (``None`` does nothing)."""
  if compile_cache is None:
    return
  if compile_cache is True:
    compile_cache_mod.enable()
  elif compile_cache is False:
    compile_cache_mod.disable()
  elif isinstance(compile_cache, str | os.PathLike):
    compile_cache_mod.enable(compile_cache)
  else:
    raise ConfigError(
      "compile_cache", compile_cache, "is not valid; give True, False, None or a directory"
    )


@dataclasses.dataclass
class RunOptions:
  """How :func:`run_experiment` runs an experiment (the keyword arguments of :func:`fit`)."""

  seeds: Any = 1
  devices: int | None = None
  out: Any = None
  on_epoch: Callable | None = None
  resume: Any = None
  compile_cache: Any = None
  terminate_on_nan: bool = True
  overwrite: bool = False
  seed_axis: str = "auto"
  early_stop: int | None = None
  keep_best: bool = False
  diagnostics: bool = False
  on_compiled: Callable | None = None
  checkpoint_every: int = 1
  checkpoint_min_interval: float = 10.0
  share_eval: bool = False

  def check(self) -> None:
    p = self.early_stop
    if p is not None and (isinstance(p, bool) or not isinstance(p, int) or p < 1):
      raise ConfigError("early_stop", p, "is not valid; give a patience (epochs) >= 1, or None")
    if not isinstance(self.keep_best, bool):
      raise ConfigError("keep_best", self.keep_best, "must be True or False")
    if self.keep_best and self.out is None:
      raise ConfigError("keep_best", True, "needs out= (a directory for best.npz)")
    if not isinstance(self.diagnostics, bool):
      raise ConfigError("diagnostics", self.diagnostics, "must be True or False")
    n = self.checkpoint_every
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
      raise ConfigError("checkpoint_every", n, "is not valid; give a number of epochs >= 1")
    s = self.checkpoint_min_interval
    if not _validation.is_static_number(s) or not 0 <= s < math.inf:
      raise ConfigError(
        "checkpoint_min_interval", s, "is not valid; give a finite number of seconds >= 0"
      )
    if not isinstance(self.share_eval, bool):
      raise ConfigError("share_eval", self.share_eval, "must be True or False")


def run_experiment(exp: Experiment, **options) -> History:
  """:func:`fit` for an :class:`Experiment` already :func:`prepare`-d.

  Takes :func:`fit`'s keyword arguments (:class:`RunOptions`), ``on_compiled(seconds)``,
  called once the epoch program is ready (0.0 when it was shared with an earlier
  configuration), before the first epoch, and ``share_eval``: evaluate the test set in
  a program of its own, shared with the other configurations that build the same model
  and differ only in how they train, instead of inside the epoch program. The curves
  are the same operations compiled apart (equal to 1e-6 in the tests, on one device and
  on a 2-device mesh; bitwise when measured on one device).
  On the default compare grid (7 optimizers, digits MLP, 2 cores) the evaluation was
  0.2 CPU-s of each epoch program's compile; shared, it compiles once, for one more
  program call an epoch. :func:`compare` and ``jpatterns compare`` set it where
  configurations share a model but not an epoch program; a single run keeps it off.

  With several processes (:func:`~jpatterns.train.init_distributed`) every process
  calls it alike; only process 0 writes ``out``, and an exception in one process is
  reported to the others (:func:`~jpatterns.train.distributed.report_failure`).
  """
  o = RunOptions(**options)
  try:
    o.check()
    if o.out is None or not distributed.is_primary():
      return _run_experiment(exp, o)
    check_output_dir(o.out)  # before anything compiles
    with output_lock(o.out, overwrite=o.overwrite):
      return _run_experiment(exp, o)
  except Exception as e:
    if not getattr(e, "everywhere", False):  # the others cannot know: tell them
      distributed.report_failure(str(e).splitlines()[0] if str(e) else type(e).__name__)
    raise


class NonFiniteLossError(RuntimeError):
  """A loss became NaN or infinite; the run stopped after that epoch.

  Attributes:
    epoch: the epoch (counted from 1) whose loss is not finite.
    metric: ``"train_loss"`` or ``"test_loss"``.
    seeds: the seeds whose loss it is.
    kept: the epoch the checkpoint in ``out`` holds (0: none written by this run).
  """

  everywhere = True  # every process sees the same metrics

  def __init__(self, epoch: int, metric: str, seeds, kept: int, out):
    self.epoch, self.metric, self.seeds, self.kept = epoch, metric, list(seeds), kept
    which = "the last finite one" if kept == epoch - 1 else "the last one written"
    if out is None:
      where = ""
    elif kept:
      where = f"; {os.path.join(out, 'checkpoint.npz')} holds epoch {kept}, {which}"
    else:  # the default policy writes at most one checkpoint per 10 s
      where = "; no checkpoint was written before it (checkpoint_min_interval)"
    super().__init__(
      f"{metric} is not finite at epoch {epoch} (seed {', '.join(map(str, self.seeds))}): "
      f"training stopped{where}; lower the learning rate or clip the gradients"
    )


_clock = time.perf_counter  # checkpoint_min_interval's clock (a test replaces it)


def _run_experiment(exp: Experiment, o: RunOptions) -> History:
  out, resume = o.out, o.resume
  writer = out is not None and distributed.is_primary()
  use_compile_cache(o.compile_cache)
  cache_before = compile_cache_mod.counts()
  config = exp.config
  restored = _resume(resume, config) if resume is not None else None
  if restored:  # every process must continue from the same state
    distributed.same_everywhere(f"the checkpoint {os.fspath(resume)!r}", _file_digest(resume))
  seed_list = restored[0] if restored else _seed_list(config, o.seeds)
  trainer = Trainer(
    exp, seed_list, devices=o.devices, seed_axis=o.seed_axis, share_eval=o.share_eval
  )
  carry = trainer.init_carry()
  start, past = 0, np.zeros((len(seed_list), len(METRICS), 0), np.float32)
  if restored:
    _, start, history, layout, leaves = restored
    carry = trainer.put(ckpt.fill(host_local(carry), layout, leaves, os.fspath(resume)))
    past = np.asarray(history, np.float32).reshape(len(seed_list), len(METRICS), start)
  curves = [past]
  probe = trainer.probe() if o.diagnostics else None
  measured = [probe(carry)] if probe else []  # the diagnostics, epoch by epoch
  log = []  # metrics.jsonl, opened at the first finite epoch (a run that fails leaves none)
  if writer:
    os.makedirs(out, exist_ok=True)
  best = {"loss": np.inf, "epoch": None, "carry": None, "waited": 0}
  t0 = time.perf_counter()

  # Checkpoints are written by one background thread while the next epoch runs (the
  # write of a width-2048 MLP's 52 MB took 130-210 ms an epoch, in the epoch loop); the
  # arrays are copied to the host first, since the live carry is donated to the next
  # epoch. Writes stay in order; the run waits for the last before it returns or fails.
  pending = []
  config_json = config.to_json()
  # the epoch (from 1) checkpoint.npz holds (0: none by this run) and when it was written
  written = {"epoch": 0, "at": _clock()}

  def save(name, host, epoch):
    metadata = {
      "config": config_json,
      "seeds": list(seed_list),
      "epoch": epoch + 1,
      "history": np.concatenate(curves, axis=2)[..., : epoch + 1].tolist(),
    }
    wait_for_writes()
    pending.append(
      _WRITER.submit(ckpt.save_checkpoint, os.path.join(out, name), host, metadata=metadata)
    )

  def wait_for_writes():
    while pending:
      pending.pop(0).result()  # a failed write raises here

  def after_epoch(epoch, get_carry, metrics):
    curves.append(np.stack([metrics[m] for m in METRICS])[..., None].transpose(1, 0, 2))
    for m in ("train_loss", "test_loss"):
      bad = ~np.isfinite(metrics[m])
      if o.terminate_on_nan and bad.any():
        kept = written["epoch"] if writer else 0
        raise NonFiniteLossError(epoch + 1, m, np.asarray(seed_list)[bad], kept, out)
    host = []  # this epoch's carry copied to the host once, for whichever file needs it

    def host_carry():
      if not host:
        host.append(get_carry(host=True))
      return host[0]

    if writer:
      if not log:
        log.append(open(os.path.join(out, "metrics.jsonl"), "w", encoding="utf-8"))  # noqa: SIM115
        for e in range(start):  # a resumed run's earlier epochs first
          _log_epoch(log[0], e, {m: past[:, i, e] for i, m in enumerate(METRICS)})
      _log_epoch(log[0], epoch, metrics, time.perf_counter() - t0)
    stop = None
    if o.early_stop is not None or o.keep_best:
      loss = float(np.mean(metrics["test_loss"]))
      if loss < best["loss"]:
        best.update(loss=loss, epoch=epoch, waited=0)
        if o.early_stop is not None:  # its own copy: the live carry is donated next epoch
          best["carry"] = jax.tree.map(jnp.copy, get_carry())
        if o.keep_best and writer:
          save("best.npz", host_carry(), epoch)
      else:
        best["waited"] += 1
        if o.early_stop is not None and best["waited"] >= o.early_stop:
          stop = "stop"
    if probe:
      measured.append(probe(get_carry()))
    now = _clock()
    due = (epoch + 1) % o.checkpoint_every == 0
    due = due and now - written["at"] >= o.checkpoint_min_interval
    if writer and (due or epoch + 1 == config.epochs or stop):
      save("checkpoint.npz", host_carry(), epoch)
      written.update(epoch=epoch + 1, at=now)
    if o.on_epoch is not None:
      o.on_epoch(epoch, metrics)
    return stop

  try:
    data_arrays = trainer.data()
    compile_s = trainer.compile(carry, data_arrays)
    written["at"] = _clock()  # the interval counts training, not the compile
    if o.on_compiled is not None:
      o.on_compiled(compile_s)
    carry, _, train_s = trainer.run(carry, data_arrays, start=start, on_epoch=after_epoch)
  finally:
    for f in log:
      f.close()
    wait_for_writes()  # the last (finite) checkpoint is whole before anything returns
  curves = np.concatenate(curves, axis=2)  # (seeds, metrics, epochs)
  if o.early_stop is not None and best["carry"] is not None:
    carry = best["carry"]  # the best epoch's variables, as Keras' restore_best_weights
  if jax.process_count() > 1:  # arrays this process can use on its own
    carry = jax.tree.map(jnp.asarray, host_local(carry))
  params, state, opt_state, *scaler = carry
  history = History(
    config,
    tuple(seed_list),
    {m: curves[:, i] for i, m in enumerate(METRICS)},
    params,
    state,
    opt_state,
    exp.model,
    start,
    compile_s,
    train_s,
    describe_devices(trainer.num_devices),
    compile_cache_mod.counts().since(cache_before),
    trainer.data_bytes_per_device(data_arrays),
    trainer.mode,
    None if best["epoch"] is None else best["epoch"] + 1,
    [int(v) for v in np.asarray(host_local(scaler[0]["skipped_steps"]))] if scaler else None,
  )
  if probe:
    history.diagnostics = {n: np.stack([m[n] for m in measured], axis=1) for n in measured[0]}
    history.layers = trainer.layers
    history.kernel_sizes = diagnostics.kernel_sizes(
      jax.tree.map(lambda a: a[0], params), trainer.layers
    )
  if writer:
    _write_json(os.path.join(out, "metrics.json"), history.to_json())
  return history


def _log_epoch(f, epoch: int, metrics: dict, seconds: float | None = None) -> None:
  """One line of ``metrics.jsonl``: the epoch (from 1) and each metric per seed."""
  record = {"epoch": epoch + 1, **{m: [float(v) for v in metrics[m]] for m in METRICS}}
  if seconds is not None:
    record["seconds"] = round(seconds, 4)
  f.write(json.dumps(record) + "\n")
  f.flush()


def compare(
  configs: Sequence[TrainConfig],
  data=None,
  *,
  seeds=3,
  devices: int | None = None,
  on_epoch: Callable[[int, dict], None] | None = None,
  compile_cache: bool | str | os.PathLike | None = None,
  terminate_on_nan: bool = True,
  seed_axis: str = "auto",
  diagnostics: bool = False,
) -> list[History]:
  """Runs :func:`fit` for each configuration with the same seeds and data.

  Every configuration is validated (and its data loaded) before the first compiles,
  so a bad one fails at once. A dataset is loaded once for all configurations that
  name it.

  Args:
    configs: a non-empty list of :class:`~jpatterns.train.TrainConfig`.
    data: one :class:`~jpatterns.datasets.Dataset` (or name or path) for all of them;
      None loads each configuration's ``dataset``.
    seeds, devices, on_epoch, compile_cache, terminate_on_nan, seed_axis, diagnostics:
      as :func:`fit`.

  Returns:
    One :class:`History` per configuration, in order.
  """
  if isinstance(configs, TrainConfig) or not isinstance(configs, Sequence) or not configs:
    raise ConfigError("configs", configs, "must be a non-empty list of TrainConfig")
  loaded = {}

  def data_of(c):
    if data is not None:
      return data
    k = (c.dataset, c.test_fraction)
    if k not in loaded:
      loaded[k] = load_data(validate(c))
    return loaded[k]

  for c in configs:  # every field of every configuration, before any data is loaded
    validate(c)
  experiments = [prepare(c, data_of(c)) for c in configs]  # fail before any compile
  use_compile_cache(compile_cache)
  return [
    run_experiment(
      e,
      seeds=seeds,
      devices=devices,
      on_epoch=on_epoch,
      terminate_on_nan=terminate_on_nan,
      seed_axis=seed_axis,
      diagnostics=diagnostics,
      share_eval=share,
    )
    for e, share in zip(experiments, _shared_evaluation(experiments), strict=True)
  ]


def _shared_evaluation(experiments: Sequence[Experiment]) -> list[bool]:
  """Per experiment of a grid: whether its evaluation program (:func:`_eval_key`) is
  also another's whose epoch program differs (another optimizer, schedule, clipping...),
  so that ``run_experiment(..., share_eval=True)`` compiles the evaluation once for
  them. Configurations that share their epoch program anyway (a grid over traced
  hyperparameters) keep the evaluation in it: splitting it off would save nothing."""
  evals = [_eval_key(e, "any", 1, None) for e in experiments]
  programs = [_program_key(e, "any", 1, None) for e in experiments]
  distinct: dict = {}
  for k, p in zip(evals, programs, strict=True):
    distinct.setdefault(k, set()).add(p)
  return [k is not None and len(distinct[k]) > 1 for k in evals]
