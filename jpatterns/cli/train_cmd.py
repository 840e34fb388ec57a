"""``jpatterns train``: one configuration, one or more seeds, checkpoints (at most one per 10 s).

Example::

    jpatterns train --model cnn --optimizer momentum --lr 0.05 --norm batch \\
        --dropout spatial_dropout --rate 0.1 --augment random_rotate,cutout --epochs 10

writes ``runs/train/metrics.json`` (configuration, per-epoch curves, final metrics,
compile and train seconds, devices, versions) and ``runs/train/checkpoint.npz``
(params + batch-norm statistics + optimizer state + epochs done; no pickle, see
``jpatterns.train.checkpoint``). ``--dataset`` also takes the path of your own .npz or
.csv file (see ``jpatterns.datasets.load``). The command is a thin layer over
``jpatterns.train.fit``. ``--resume runs/train/checkpoint.npz`` continues that run: flags not
given are taken from the checkpoint, and the result equals the uninterrupted run.
"""

from __future__ import annotations

import argparse
import dataclasses
import os

from jpatterns.cli import _common
from jpatterns.cli._errors import UsageError

__all__ = ["add_parser", "run"]


def add_parser(sub) -> None:
  p = sub.add_parser(
    "train",
    help="train one configuration (all patterns by catalogue name)",
    description=__doc__.split("\n\n")[0],
    formatter_class=argparse.RawDescriptionHelpFormatter,
    epilog=__doc__.split("\n\n", 1)[1],
  )
  _common.add_config_flags(p)
  _common.add_run_flags(p, os.path.join("runs", "train"))
  p.add_argument(
    "--seeds",
    type=int,
    default=None,
    help="train seeds seed..seed+N-1 with one compiled program (default 1)",
  )
  p.add_argument(
    "--keep-best",
    action="store_true",
    help="also write best.npz whenever the mean test loss improves",
  )
  p.add_argument(
    "--checkpoint-every",
    type=int,
    default=1,
    metavar="N",
    help="write checkpoint.npz after every N epochs and the last (default 1: every epoch "
    "that --checkpoint-min-interval allows)",
  )
  p.add_argument(
    "--checkpoint-min-interval",
    type=float,
    default=10.0,
    metavar="SECONDS",
    help="at least this long between two checkpoints, the last epoch always written "
    "(default 10; 0: every N epochs)",
  )
  p.add_argument(
    "--resume",
    metavar="CHECKPOINT",
    default=None,
    help="continue from a checkpoint written by `jpatterns train`",
  )
  p.set_defaults(run=run)


def _resumed_config(path, given):
  """The checkpoint's configuration with the flags given on top (epochs may grow).

  Every header field is checked here, before anything is built or compiled.
  """
  from jpatterns.train.checkpoint import read_training_checkpoint

  saved = read_training_checkpoint(path)
  return dataclasses.replace(saved.config, **given), len(saved.seeds), saved.epoch


def _plan(args, spec):
  """Everything checked that can be before JAX starts: flags, files, the output."""
  from jpatterns import train
  from jpatterns.train import engine
  from jpatterns.train._files import check_output_dir
  from jpatterns.train.config import validate

  given = _common.explicit_fields(args)
  if args.seeds is not None and args.seeds < 1:
    raise UsageError(f"--seeds: {args.seeds} is not valid; need an integer >= 1")
  engine.RunOptions(  # fit's own checks of these, before any data is loaded
    out=args.out,
    early_stop=args.early_stop,
    keep_best=args.keep_best,
    diagnostics=args.diagnostics,
    checkpoint_every=args.checkpoint_every,
    checkpoint_min_interval=args.checkpoint_min_interval,
  ).check()
  config, done = train.TrainConfig(**given), 0
  if args.resume:
    try:
      config, num_seeds, done = _resumed_config(args.resume, given)
    except ValueError as e:  # the file's own faults (a given flag is checked in prepare)
      raise UsageError(f"--resume: {e}") from None
    if args.seeds is not None and args.seeds != num_seeds:
      raise UsageError(f"--seeds: the checkpoint holds {num_seeds} seed(s), not {args.seeds}")
  config = validate(config)
  data = engine.load_data(config)
  if spec is None or spec.process_id in (None, 0):  # process 0 writes
    check_output_dir(args.out)
  return config, data, done


def run(args) -> int:
  spec = _common.distributed_spec(args)
  from jpatterns import train
  from jpatterns.train import distributed, engine

  plan, problem = _common.checked(spec, lambda: _plan(args, spec))
  _common.start_jax(args, spec)
  _common.agree(problem)
  config, data, done = plan
  primary = distributed.is_primary()
  exp = engine.prepare(config, data)  # every field checked before the bar and the compile
  engine.check_devices(args.devices, exp.config.batch_size)
  if args.log_every < 1:
    raise UsageError(f"--log-every: {args.log_every} is not valid; need an integer >= 1")
  with _common.Progress(exp.config.epochs, args.quiet or not primary, args.log_every) as bar:
    bar.describe(f"{exp.config.model_name} on {exp.config.dataset}")
    for _ in range(done):
      bar.advance()
    try:
      history = engine.run_experiment(
        exp,
        seeds=args.seeds or 1,
        devices=args.devices,
        out=args.out,
        on_epoch=lambda epoch, metrics: bar.advance(metrics),
        resume=args.resume,
        terminate_on_nan=args.terminate_on_nan,
        overwrite=args.overwrite,
        seed_axis=args.seed_axis,
        on_compiled=bar.compiled,
        early_stop=args.early_stop,
        keep_best=args.keep_best,
        diagnostics=args.diagnostics,
        checkpoint_every=args.checkpoint_every,
        checkpoint_min_interval=args.checkpoint_min_interval,
      )
    except train.ConfigError:
      raise
    except ValueError as e:  # a checkpoint that does not fit the model
      if args.resume:
        raise UsageError(f"--resume: {e}") from None
      raise
  if not primary:
    return 0
  config = history.config
  summary = history.summary()
  print(
    f"{config.model_name} on {config.dataset}, {config.optimizer} "
    f"lr {config.lr:g}, {len(history.seeds)} seed(s) ({history.seed_axis}), "
    f"{config.epochs} epochs, "
    f"{history.devices}"
  )
  for m in train.METRICS:
    print(f"  {m:<15} {_common.fmt_mean_std(summary[m]['per_seed'])}")
  print(f"  compile {history.compile_seconds:.2f} s, train {history.train_seconds:.2f} s")
  if history.best_epoch is not None:
    epochs_run = history.metrics["test_loss"].shape[1]
    stopped = f"stopped after epoch {epochs_run}; " if epochs_run < config.epochs else ""
    print(f"  {stopped}best mean test loss at epoch {history.best_epoch}")
  if history.skipped_steps is not None:
    print(f"  float16 loss scaling skipped {sum(history.skipped_steps)} step(s) (non-finite)")
  print(f"  {_common.cache_line([history.compile_cache])}")
  print(f"  data on each device: {history.data_bytes_per_device / 1024:.0f} KiB")
  print(f"wrote {', '.join(os.path.join(args.out, f) for f in _written(args))}")
  return 0


def _written(args) -> list[str]:
  names = ["metrics.json", "metrics.jsonl", "checkpoint.npz"]
  return names + ["best.npz"] if args.keep_best else names
