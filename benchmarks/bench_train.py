"""`jpatterns train` on digits vs the same training written by hand in flax linen and nnx.

Every contender trains the digits MLP (64 → W → W → 10, ReLU, He-normal), Adam 1e-3,
batch 64, 22 steps an epoch, the test set evaluated after every epoch, one seed, one
device, at widths 128, 512 and 2048 for 20 and 80 epochs:

* ``jpatterns``: ``python -m jpatterns train --width W --epochs E --quiet --devices 1
  --no-compile-cache`` (the whole epoch, test evaluation included, is one compiled
  ``lax.scan`` with donated carry; its default checkpoints (every epoch, at most one
  per 10 s, and the last), the metrics JSON);
* ``linen-scan``: a ``flax.linen`` module and ``optax.adam``; the whole epoch is one
  jitted ``lax.scan`` over the minibatches with donated params and optimizer state, the
  permutation drawn with ``jax.random`` inside the jitted epoch (the training set sits
  on the device and each step gathers its batch); a jitted ``eval_step`` per epoch;
* ``nnx``: a ``flax.nnx`` module, ``nnx.Optimizer(model, optax.adam(1e-3))``, an
  ``nnx.jit`` train step called per minibatch from Python over a NumPy permutation
  (batches cut on the host), an ``nnx.jit`` eval step per epoch (the flax tutorial's loop);
* ``linen-step`` (not in the default set): the earlier reference of this benchmark, a
  linen module with a jitted, donated ``train_step`` called per minibatch from Python.

Two measures, both from fresh Python processes alternated per round (the order reversed
every other round, ABBA), medians over ``--repeats`` rounds:

* whole process: wall and CPU seconds (user + system) of the process, interpreter
  start, imports, data, compilation and training included, the way a user meets it;
* steady epoch: the median wall time of the epochs after the first, timed inside a
  process up to the host reading the epoch's test accuracy (which waits for the epoch).
  For jpatterns this comes from ``jpatterns-fit``, a process that runs
  ``train.fit(TrainConfig(width=W, epochs=E), devices=1, out=DIR)`` (the checkpoints
  ``jpatterns train`` writes by default; the mean gap, so its writes count) and times
  the gaps between ``on_epoch`` calls, then the same with a checkpoint every epoch
  (``checkpoint_min_interval=0``), then with ``out=None`` (the compiled program is
  shared, no checkpoint), the engine alone.

Run:  python -m benchmarks.bench_train [--quick] [--widths 128,512,2048] [--epochs 20,80]
                                       [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from benchmarks import _timing
from jpatterns import datasets

BATCH = 64
WIDTH = 128  # the default width (bench_compare's MLP)
LR = 1e-3
CONTENDERS = ("jpatterns", "jpatterns-fit", "linen-scan", "nnx")


class MLP(nn.Module):
  width: int = WIDTH

  @nn.compact
  def __call__(self, x):
    x = x.reshape(x.shape[0], -1)
    for _ in range(2):
      x = nn.relu(nn.Dense(self.width, kernel_init=nn.initializers.he_normal())(x))
    return nn.Dense(10, kernel_init=nn.initializers.he_normal())(x)


class NnxMLP(nnx.Module):
  def __init__(self, width: int, *, rngs: nnx.Rngs):
    init = nnx.initializers.he_normal()
    self.hidden1 = nnx.Linear(64, width, kernel_init=init, rngs=rngs)
    self.hidden2 = nnx.Linear(width, width, kernel_init=init, rngs=rngs)
    self.out = nnx.Linear(width, 10, kernel_init=init, rngs=rngs)

  def __call__(self, x):
    x = x.reshape(x.shape[0], -1)
    x = nnx.relu(self.hidden1(x))
    x = nnx.relu(self.hidden2(x))
    return self.out(x)


def _clocks():
  """(wall, CPU) seconds now; CPU is this process's, all threads (XLA's included)."""
  return time.perf_counter(), time.process_time()


def _since(t0):
  """[wall, CPU] seconds since ``t0 = _clocks()``."""
  t1 = _clocks()
  return [t1[0] - t0[0], t1[1] - t0[1]]


def _gaps(stamps):
  """[wall, CPU] seconds between successive ``_clocks()`` stamps."""
  return [[b[0] - a[0], b[1] - a[1]] for a, b in zip(stamps, stamps[1:])]


def _xent(logits, y):
  return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


# --- the contenders, each run once in its own process ---------------------------------


def linen_step(width: int, epochs: int, seed: int = 0):
  """The linen per-step loop; returns (test accuracy, per-epoch [wall, CPU] seconds)."""
  d = datasets.load("digits")
  x_tr, y_tr, x_te, y_te = d.x_train, d.y_train, d.x_test, d.y_test
  model, tx = MLP(width), optax.adam(LR)
  params = model.init(jax.random.key(seed), x_tr[:1])
  opt_state = tx.init(params)

  def train_step(params, opt_state, x, y):
    loss, grads = jax.value_and_grad(lambda p: _xent(model.apply(p, x), y))(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  def eval_step(params, x, y):
    logits = model.apply(params, x)
    return _xent(logits, y), jnp.mean(jnp.argmax(logits, -1) == y)

  train_step = jax.jit(train_step, donate_argnums=(0, 1))
  eval_step = jax.jit(eval_step)
  rng = np.random.default_rng(seed)
  steps = len(x_tr) // BATCH
  acc, seconds = None, []
  for _ in range(epochs):
    t0 = _clocks()
    perm = rng.permutation(len(x_tr))
    for i in range(steps):
      idx = perm[i * BATCH : (i + 1) * BATCH]
      params, opt_state, loss = train_step(params, opt_state, x_tr[idx], y_tr[idx])
    _, acc = eval_step(params, x_te, y_te)
    acc = float(acc)  # the per-epoch record a user prints
    seconds.append(_since(t0))
  return acc, seconds


def linen_scan(width: int, epochs: int, seed: int = 0):
  """The linen epoch as one jitted ``lax.scan``; returns (accuracy, [wall, CPU] per epoch)."""
  d = datasets.load("digits")
  x_tr, y_tr = jnp.asarray(d.x_train), jnp.asarray(d.y_train)  # on the device, once
  x_te, y_te = jnp.asarray(d.x_test), jnp.asarray(d.y_test)
  model, tx = MLP(width), optax.adam(LR)
  init_key, shuffle_key = jax.random.split(jax.random.key(seed))
  params = model.init(init_key, x_tr[:1])
  opt_state = tx.init(params)
  steps = len(x_tr) // BATCH

  def train_epoch(params, opt_state, key, epoch, x, y):
    perm = jax.random.permutation(jax.random.fold_in(key, epoch), x.shape[0])
    batches = perm[: steps * BATCH].reshape(steps, BATCH)

    def step(carry, idx):
      params, opt_state = carry
      loss, grads = jax.value_and_grad(lambda p: _xent(model.apply(p, x[idx]), y[idx]))(params)
      updates, opt_state = tx.update(grads, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state), loss

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), batches)
    return params, opt_state, losses.mean()

  def eval_step(params, x, y):
    logits = model.apply(params, x)
    return _xent(logits, y), jnp.mean(jnp.argmax(logits, -1) == y)

  train_epoch = jax.jit(train_epoch, donate_argnums=(0, 1))
  eval_step = jax.jit(eval_step)
  acc, seconds = None, []
  for epoch in range(epochs):
    t0 = _clocks()
    params, opt_state, loss = train_epoch(params, opt_state, shuffle_key, epoch, x_tr, y_tr)
    _, acc = eval_step(params, x_te, y_te)
    acc = float(acc)
    seconds.append(_since(t0))
  return acc, seconds


def nnx_step(width: int, epochs: int, seed: int = 0):
  """The nnx per-step loop; returns (test accuracy, per-epoch [wall, CPU] seconds)."""
  d = datasets.load("digits")
  x_tr, y_tr, x_te, y_te = d.x_train, d.y_train, d.x_test, d.y_test
  model = NnxMLP(width, rngs=nnx.Rngs(seed))
  optimizer = nnx.Optimizer(model, optax.adam(LR), wrt=nnx.Param)

  @nnx.jit
  def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(lambda m: _xent(m(x), y))(model)
    optimizer.update(model, grads)
    return loss

  @nnx.jit
  def eval_step(model, x, y):
    logits = model(x)
    return _xent(logits, y), jnp.mean(jnp.argmax(logits, -1) == y)

  rng = np.random.default_rng(seed)
  steps = len(x_tr) // BATCH
  acc, seconds = None, []
  for _ in range(epochs):
    t0 = _clocks()
    perm = rng.permutation(len(x_tr))
    for i in range(steps):
      idx = perm[i * BATCH : (i + 1) * BATCH]
      train_step(model, optimizer, x_tr[idx], y_tr[idx])
    _, acc = eval_step(model, x_te, y_te)
    acc = float(acc)
    seconds.append(_since(t0))
  return acc, seconds


def jpatterns_fit(width: int, epochs: int, seed: int = 0):
  """``train.fit`` as ``jpatterns train`` runs it (``out=DIR``, the default checkpoint
  policy: every epoch, at most one per ``checkpoint_min_interval`` = 10 s, and the
  last), then with a checkpoint every epoch (``checkpoint_min_interval=0``), then
  without ``out`` (the compiled program is shared: the engine alone).

  Returns (accuracy, then per run the gaps between ``on_epoch`` calls, ``[wall, CPU]``
  seconds, so the epochs after the first).
  """
  from jpatterns import train

  config = train.TrainConfig(width=width, epochs=epochs, seed=seed)
  gaps = []
  for i, options in enumerate(({}, {"checkpoint_min_interval": 0}, None)):
    stamps = []
    with tempfile.TemporaryDirectory() as out:
      h = train.fit(
        config,
        devices=1,
        out=None if options is None else out,
        compile_cache=False,
        on_epoch=lambda e, m: stamps.append(_clocks()),
        **(options or {}),
      )
    if i and h.compile_seconds != 0.0:
      raise RuntimeError("a later fit compiled again; its epochs would not be comparable")
    gaps.append(_gaps(stamps))
    if i == 0:
      accuracy = float(h.final["test_accuracy"][0])
  default, every_epoch, without = gaps
  return accuracy, default, every_epoch, without


def run_child(name: str, width: int, epochs: int, report: str | None) -> None:
  """Runs one contender once; writes its accuracy and steady epoch times to ``report``."""
  if name == "jpatterns-fit":
    acc, default, every_epoch, engine = jpatterns_fit(width, epochs)
    rec = {
      "accuracy": acc,
      "steady": default,
      "steady_every_epoch": every_epoch,
      "steady_no_checkpoint": engine,
    }
  else:
    fn = {"linen-scan": linen_scan, "nnx": nnx_step, "linen-step": linen_step}[name]
    acc, seconds = fn(width, epochs)
    rec = {"accuracy": acc, "steady": seconds[1:]}
  print(f"{name} width {width} epochs {epochs}: test accuracy {acc:.4f}")
  if report:
    with open(report, "w", encoding="utf-8") as f:
      json.dump(rec, f)


# --- the driver ---------------------------------------------------------------------


def _command(name, width, epochs, tmp, report):
  if name == "jpatterns":
    return [
      sys.executable,
      "-m",
      "jpatterns",
      "train",
      "--width",
      str(width),
      "--epochs",
      str(epochs),
      "--quiet",
      "--devices",
      "1",
      "--no-compile-cache",
      "--out",
      os.path.join(tmp, "out"),
    ]
  return [
    sys.executable,
    "-m",
    "benchmarks.bench_train",
    "--child",
    name,
    "--width",
    str(width),
    "--epochs",
    str(epochs),
    "--report",
    report,
  ]


def default_repeats(width: int, epochs: int) -> int:
  """5 rounds for the cheap cells, 3 at width 2048 × 20 epochs, 2 at 2048 × 80."""
  if width >= 2048:
    return 2 if epochs >= 80 else 3
  return 5


def measure(width, epochs, repeats, contenders, root):
  """``{name: [record per round]}``; a record has wall, cpu, accuracy, steady."""
  runs = {n: [] for n in contenders}
  for r in range(repeats):
    for name in contenders if r % 2 == 0 else contenders[::-1]:  # ABBA
      with tempfile.TemporaryDirectory() as tmp:
        report = os.path.join(tmp, "report.json")
        wall, cpu = _timing.process_times(_command(name, width, epochs, tmp, report), root)
        if name == "jpatterns":
          with open(os.path.join(tmp, "out", "metrics.json"), encoding="utf-8") as f:
            rec = {"accuracy": json.load(f)["final"]["test_accuracy"]["mean"]}
        else:
          with open(report, encoding="utf-8") as f:
            rec = json.load(f)
      runs[name].append({"wall": wall, "cpu": cpu, **rec})
  return runs


def _med(records, key, clock=None, within=statistics.median):
  """Median over the rounds of ``key``; for per-epoch ``[wall, CPU]`` lists, ``within``
  (the median, or the mean: the amortized cost of the epochs that write) of ``clock``
  (0 wall, 1 CPU) over each process's epochs first."""
  vals = [r[key] for r in records if r.get(key)]
  if clock is not None:
    vals = [within(e[clock] for e in v) for v in vals]
  return statistics.median(vals) if vals else float("nan")


def _load():
  return "/".join(f"{x:.2f}" for x in os.getloadavg())


def print_tables(cells, load_start, load_end):
  print(
    "\n### Whole process: wall / CPU seconds of a fresh process, compile included "
    "(median of n rounds)\n"
  )
  print(
    "| width | epochs | n | jpatterns train | linen scan | nnx loop | "
    "CPU jp/scan | CPU jp/nnx | wall jp/scan | wall jp/nnx | test acc jp / scan / nnx |"
  )
  print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
  for (width, epochs, n), runs in cells:
    m = {k: (_med(v, "wall"), _med(v, "cpu"), _med(v, "accuracy")) for k, v in runs.items()}
    jp, sc, nx = m["jpatterns"], m["linen-scan"], m["nnx"]
    print(
      f"| {width} | {epochs} | {n} | {jp[0]:.2f} / {jp[1]:.2f} | {sc[0]:.2f} / {sc[1]:.2f} | "
      f"{nx[0]:.2f} / {nx[1]:.2f} | {jp[1] / sc[1]:.2f} | {jp[1] / nx[1]:.2f} | "
      f"{jp[0] / sc[0]:.2f} | {jp[0] / nx[0]:.2f} | {jp[2]:.3f} / {sc[2]:.3f} / {nx[2]:.3f} |"
    )
  print(
    "\n### Steady epoch: wall / CPU ms per epoch after the first, inside a process "
    "(median per process, then of the n rounds)\n"
  )
  print(
    "| width | epochs | n | jpatterns fit, default checkpoints | linen scan | nnx loop | "
    "wall jp/scan | CPU jp/scan | wall jp/nnx | mean wall, CPU jp/scan | "
    "jpatterns fit, checkpoint every epoch | wall, CPU every-epoch/scan | "
    "jpatterns fit, no out | wall, CPU no-out/scan |"
  )
  print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for (width, epochs, n), runs in cells:
    fit = runs["jpatterns-fit"]
    jp, every, eng = (
      [_med(fit, k, c) * 1e3 for c in (0, 1)]
      for k in ("steady", "steady_every_epoch", "steady_no_checkpoint")
    )
    sc, nx = ([_med(runs[k], "steady", c) * 1e3 for c in (0, 1)] for k in ("linen-scan", "nnx"))
    mean = [_med(fit, "steady", c, statistics.mean) * 1e3 for c in (0, 1)]
    print(
      f"| {width} | {epochs} | {n} | {jp[0]:.1f} / {jp[1]:.1f} | {sc[0]:.1f} / {sc[1]:.1f} | "
      f"{nx[0]:.1f} / {nx[1]:.1f} | {jp[0] / sc[0]:.2f} | {jp[1] / sc[1]:.2f} | "
      f"{jp[0] / nx[0]:.2f} | {mean[0] / sc[0]:.2f}, {mean[1] / sc[1]:.2f} | "
      f"{every[0]:.1f} / {every[1]:.1f} | "
      f"{every[0] / sc[0]:.2f}, {every[1] / sc[1]:.2f} | {eng[0]:.1f} / {eng[1]:.1f} | "
      f"{eng[0] / sc[0]:.2f}, {eng[1] / sc[1]:.2f} |"
    )
  print(
    f"\nload average (1/5/15 min) at start {load_start}, at end {load_end}; {os.cpu_count()} CPUs"
  )


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="width 128, 3 epochs, 1 round")
  parser.add_argument("--widths", default="128,512,2048")
  parser.add_argument("--epochs", default="20,80", help="comma-separated epoch counts")
  parser.add_argument(
    "--repeats", type=int, default=None, help="rounds per cell (default: 5, 3 or 2 by cost)"
  )
  parser.add_argument("--child", choices=(*CONTENDERS[1:], "linen-step"), help=argparse.SUPPRESS)
  parser.add_argument("--width", type=int, default=WIDTH, help=argparse.SUPPRESS)
  parser.add_argument("--report", default=None, help=argparse.SUPPRESS)
  parser.add_argument(
    "--handwritten",
    action="store_true",
    help="run the linen per-step loop once at --width and the first --epochs, and exit",
  )
  args = parser.parse_args(argv)
  if args.child or args.handwritten:
    epochs = int(args.epochs.split(",")[0])
    run_child(args.child or "linen-step", args.width, epochs, args.report)
    return None
  if args.quick:
    widths, epoch_list, fixed = [128], [3], 1
  else:
    widths = [int(w) for w in args.widths.split(",")]
    epoch_list = [int(e) for e in args.epochs.split(",")]
    fixed = args.repeats
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  print(_timing.machine_info())
  load_start = _load()
  print(f"load average at start: {load_start}", flush=True)
  cells = []
  for width in widths:
    for epochs in epoch_list:
      n = fixed or default_repeats(width, epochs)
      t0 = time.perf_counter()
      cells.append(((width, epochs, n), measure(width, epochs, n, CONTENDERS, root)))
      print(f"  width {width}, {epochs} epochs: {time.perf_counter() - t0:.0f} s", flush=True)
  print_tables(cells, load_start, _load())
  return cells


if __name__ == "__main__":
  main()
