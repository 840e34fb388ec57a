"""The training engine behind ``jpatterns train`` and ``jpatterns compare``.

One compiled function runs one epoch for every seed at once::

    carry, metrics = epoch_fn(carry, seed_keys, epoch, data)

* the seeds of a configuration are a ``vmap`` axis (``carry`` and ``seed_keys`` have a
  leading seed axis), so ``compare --seeds 3`` costs one compile, not three;
* the epoch is one ``lax.scan`` over minibatches (Python is not in the inner loop),
  followed by the test-set evaluation, and ``carry`` (params, batch-norm statistics,
  optimizer state) is donated, so XLA updates it in place;
* every random draw is ``fold_in(seed key, epoch, step)``: an epoch's shuffling,
  dropout masks and augmentations depend only on the seed and the epoch, so a run
  resumed from a checkpoint continues exactly as the uninterrupted run would;
* with more than one device the batch axis is sharded across them
  (``jax.sharding.NamedSharding`` over a 1-D ``"data"`` mesh) and everything else is
  replicated. XLA's SPMD partitioner turns the batch-norm statistics into
  cross-device reductions, so the loss curve is the one-device curve of the same
  global batch (tested on 8 CPU devices).

Multi-host: call ``jax.distributed.initialize()`` on every host before the first JAX
call (``jpatterns train --distributed``); ``jax.devices()`` then lists every host's
devices and the same mesh spans them.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import NamedSharding, PartitionSpec as P

import jpatterns as jp
from jpatterns import augment as aug
from jpatterns import preprocessing as pre
from jpatterns.cli import _data
from jpatterns.cli._errors import UsageError
from jpatterns.cli._models import Model, build_model
from jpatterns.cli._options import TrainConfig, make_optimizer, validate

__all__ = ["Experiment", "prepare", "Trainer", "METRICS", "epoch_batches", "prng_context",
           "describe_devices"]

# Per epoch and seed. The train metrics are means over the epoch's minibatches as they
# were trained on (train mode: dropout on, augmented, label-smoothed loss); the test
# metrics are the whole test set in eval mode after the epoch, with the plain loss.
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
  data: _data.Dataset
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
    stats = pre.fit_whitening(tr, method=name.split("_")[0], epsilon=1e-2)
    tr, te = pre.whiten(tr, stats), pre.whiten(te, stats)
  return (np.asarray(tr, np.float32).reshape(-1, *shape),
          np.asarray(te, np.float32).reshape(-1, *shape))


def prepare(config: TrainConfig) -> Experiment:
  """Validates ``config`` against its dataset and builds everything a run needs."""
  data = _data.load(config.dataset)
  config = validate(config, data.kind)
  x_train, x_test = _preprocess(config.preprocess, data.x_train, data.x_test)
  data = dataclasses.replace(data, x_train=x_train, x_test=x_test)
  n_train = len(data.x_train)
  if config.batch_size > n_train:
    raise UsageError(f"--batch-size: {config.batch_size} is larger than the "
                     f"{n_train} training examples of {config.dataset}")
  steps = n_train // config.batch_size
  model = build_model(config, data.x_train.shape[1:], data.num_classes)
  return Experiment(config, data, model, make_optimizer(config, steps), steps)


# --- the pieces of one step ----------------------------------------------------------

def _augment_batch(config: TrainConfig, key, x, y):
  """The chosen augmentations, per example (vmap over split keys), then mixup."""
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
      x, y = aug.mixup(k, x, y, alpha=0.2)
    else:
      x = jax.vmap(ops[name])(jax.random.split(k, x.shape[0]), x)
  return x, y


def _loss(config: TrainConfig, logits, labels):
  """Mean loss of a batch; ``labels`` are one-hot (or mixed) probabilities."""
  if config.loss == "focal_loss":
    per_example = jp.focal_loss(logits, labels).sum(-1)
  else:
    per_example = jp.softmax_cross_entropy(
        logits, labels, label_smoothing=config.label_smoothing)
  return per_example.mean()


def epoch_batches(seed_key, epoch, n: int, steps: int, batch_size: int):
  """The epoch's key and its minibatch indices ``(steps, batch_size)``.

  ``epoch_key = fold_in(fold_in(seed_key, 1), epoch)``; the shuffle is
  ``permutation(fold_in(epoch_key, 0), n)``, cut into ``steps`` batches (the last
  ``n mod batch_size`` examples of the permutation sit the epoch out); step ``i`` draws
  its dropout and augmentation keys from ``fold_in(epoch_key, i + 1)``. Initialization
  uses ``fold_in(seed_key, 0)``.
  """
  epoch_key = jax.random.fold_in(jax.random.fold_in(seed_key, 1), epoch)
  perm = jax.random.permutation(jax.random.fold_in(epoch_key, 0), n)
  return epoch_key, perm[: steps * batch_size].reshape(steps, batch_size)


# --- the trainer ---------------------------------------------------------------------

class Trainer:
  """Compiles and runs the epoch function of an :class:`Experiment` for some seeds.

  Args:
    experiment: from :func:`prepare`.
    seeds: the seeds (a vmap axis).
    devices: how many devices to shard the batch over (default: all).
  """

  def __init__(self, experiment: Experiment, seeds, devices: int | None = None):
    self.exp = experiment
    self.seeds = tuple(int(s) for s in seeds)
    available = jax.devices()
    n = len(available) if devices is None else devices
    if not 1 <= n <= len(available):
      raise UsageError(f"--devices: {n} is not valid; this machine has "
                       f"{len(available)} {available[0].platform} device(s)")
    bs = experiment.config.batch_size
    if n > 1 and bs % n:
      raise UsageError(f"--batch-size: {bs} does not split across {n} devices; "
                       f"use a multiple of {n} or --devices 1")
    self.num_devices = n
    self.mesh = (jax.make_mesh((n,), ("data",), devices=available[:n],
                               axis_types=(jax.sharding.AxisType.Auto,)) if n > 1 else None)
    self._compiled = None

  # Placement: everything replicated; the batch axis is sharded inside the step.
  def put(self, tree):
    """``tree`` on the devices: replicated over the mesh, or on the default device."""
    if self.mesh is None:
      return jax.device_put(tree)
    return jax.device_put(tree, NamedSharding(self.mesh, P()))

  def _shard_batch(self, x):
    if self.mesh is None:
      return x
    return jax.lax.with_sharding_constraint(x, NamedSharding(self.mesh, P("data")))

  def seed_keys(self):
    return jnp.stack([jax.random.key(s) for s in self.seeds])

  def init_carry(self):
    """(params, state, opt_state) for every seed, stacked on a leading axis."""
    exp = self.exp

    def one(key):
      params, state = exp.model.init(jax.random.fold_in(key, 0))
      return params, state, exp.optimizer.init(params)

    with prng_context():
      return self.put(jax.jit(jax.vmap(one))(self.seed_keys()))

  def data(self):
    d = self.exp.data
    k = d.num_classes
    arrays = (d.x_train, jax.nn.one_hot(d.y_train, k), d.x_test, jax.nn.one_hot(d.y_test, k))
    return self.put(tuple(jnp.asarray(a, jnp.float32) for a in arrays))

  def _epoch_fn(self):
    exp, cfg = self.exp, self.exp.config
    model, opt, steps, bs = exp.model, exp.optimizer, exp.steps_per_epoch, cfg.batch_size

    def loss_fn(params, state, x, y, key):
      logits, state = model.apply(params, state, x, key, train=True)
      loss = _loss(cfg, logits, y)
      acc = jnp.mean(jnp.argmax(logits, -1) == jnp.argmax(y, -1))
      return loss, (state, acc)

    def one_seed(carry, seed_key, epoch, data):
      x_train, y_train, x_test, y_test = data
      epoch_key, batches = epoch_batches(seed_key, epoch, x_train.shape[0], steps, bs)

      def step(carry, inputs):
        params, state, opt_state = carry
        idx, i = inputs
        k = jax.random.fold_in(epoch_key, i + 1)
        x, y = self._shard_batch(x_train[idx]), self._shard_batch(y_train[idx])
        if cfg.augment:
          x, y = _augment_batch(cfg, jax.random.fold_in(k, 0), x, y)
        (loss, (state, acc)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, state, x, y, jax.random.fold_in(k, 1))
        updates, opt_state = opt.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), state, opt_state), (loss, acc)

      carry, (losses, accs) = jax.lax.scan(step, carry, (batches, jnp.arange(steps)))
      params, state, _ = carry
      logits, _ = model.apply(params, state, x_test, jax.random.key(0), train=False)
      test_loss = _loss(dataclasses.replace(cfg, label_smoothing=0.0), logits, y_test)
      test_acc = jnp.mean(jnp.argmax(logits, -1) == jnp.argmax(y_test, -1))
      return carry, jnp.stack([losses.mean(), accs.mean(), test_loss, test_acc])

    return jax.vmap(one_seed, in_axes=(0, 0, None, None))

  def compile(self, carry, data):
    """Lowers and compiles the epoch function; returns its compile time in seconds."""
    t0 = time.perf_counter()
    fn = jax.jit(self._epoch_fn(), donate_argnums=0)
    with prng_context():
      self._compiled = fn.lower(carry, self.seed_keys(), jnp.int32(0), data).compile()
    return time.perf_counter() - t0

  def run(self, carry, data, *, start: int = 0, on_epoch: Callable | None = None):
    """Epochs ``start … epochs-1``; ``on_epoch(epoch, carry, metrics)`` after each.

    ``metrics`` is a dict of NumPy arrays, one value per seed. Returns the final
    carry, the stacked metrics of the epochs run ``(epochs - start, 4, seeds)`` and
    the seconds spent in them (compile excluded).
    """
    if self._compiled is None:
      self.compile(carry, data)
    keys = self.seed_keys()
    history = []
    t0 = time.perf_counter()
    for epoch in range(start, self.exp.config.epochs):
      carry, m = self._compiled(carry, keys, jnp.int32(epoch), data)
      m = np.asarray(jax.device_get(m)).T  # (4, seeds)
      history.append(m)
      if on_epoch is not None:
        on_epoch(epoch, carry, dict(zip(METRICS, m)))
    seconds = time.perf_counter() - t0
    return carry, np.asarray(history).reshape(-1, len(METRICS), len(self.seeds)), seconds


def describe_devices(n: int) -> str:
  """E.g. ``"8 x cpu (cpu)"``: how many devices a run used, and which."""
  d = jax.devices()[0]
  return f"{n} x {d.platform} ({getattr(d, 'device_kind', d.platform)})"
