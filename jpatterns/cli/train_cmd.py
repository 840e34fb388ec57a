"""``jpatterns train``: one configuration, one or more seeds, a checkpoint every epoch.

Example::

    jpatterns train --model cnn --optimizer momentum --lr 0.05 --norm batch \\
        --dropout spatial_dropout --rate 0.1 --augment random_rotate,cutout --epochs 10

writes ``runs/train/metrics.json`` (configuration, per-epoch curves, final metrics,
compile and train seconds, devices, versions) and ``runs/train/checkpoint.npz``
(params + batch-norm statistics + optimizer state + epochs done; no pickle, see
``_checkpoint``). ``--resume runs/train/checkpoint.npz`` continues that run: flags not
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
      "train", help="train one configuration (all patterns by catalogue name)",
      description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
      epilog=__doc__.split("\n\n", 1)[1])
  _common.add_config_flags(p)
  _common.add_run_flags(p, os.path.join("runs", "train"))
  p.add_argument("--seeds", type=int, default=None,
                 help="train seeds seed..seed+N-1 together under vmap (default 1)")
  p.add_argument("--resume", metavar="CHECKPOINT", default=None,
                 help="continue from a checkpoint written by `jpatterns train`")
  p.set_defaults(run=run)


def _resumed_config(args, given):
  from jpatterns.cli import _checkpoint
  from jpatterns.cli._options import TrainConfig, validate
  meta, leaves = _checkpoint.load(args.resume)
  base = TrainConfig.from_json(meta["config"])
  config = dataclasses.replace(base, **given)
  canon_base, canon_new = validate(base), validate(config)
  differ = [f.name for f in dataclasses.fields(TrainConfig)
            if f.name != "epochs"
            and getattr(canon_base, f.name) != getattr(canon_new, f.name)]
  if differ:
    what = ", ".join(f"{k}={getattr(canon_base, k)!r} (asked {getattr(canon_new, k)!r})"
                     for k in differ)
    raise UsageError(f"--resume: {args.resume!r} was written by another configuration: {what}")
  if args.seeds is not None and args.seeds != len(meta["seeds"]):
    raise UsageError(f"--seeds: the checkpoint holds {len(meta['seeds'])} seed(s), not {args.seeds}")
  if meta["epoch"] >= config.epochs:
    raise UsageError(f"--epochs: the checkpoint has already trained {meta['epoch']} "
                     f"epochs; pass --epochs larger than {meta['epoch']} to continue")
  return config, meta, leaves


def run(args) -> int:
  _common.start_jax(args)
  from jpatterns.cli._options import TrainConfig
  given = _common.explicit_fields(args)
  if args.seeds is not None and args.seeds < 1:
    raise UsageError(f"--seeds: {args.seeds} is not valid; need an integer >= 1")
  meta = leaves = None
  if args.resume:
    config, meta, leaves = _resumed_config(args, given)
  else:
    config = TrainConfig(**given)
  return train(config, args, meta, leaves)


def train(config, args, meta=None, leaves=None) -> int:
  import numpy as np

  from jpatterns.cli import _checkpoint, _engine

  exp = _engine.prepare(config)
  config = exp.config
  seeds = meta["seeds"] if meta else list(range(config.seed, config.seed + (args.seeds or 1)))
  trainer = _engine.Trainer(exp, seeds, devices=args.devices)
  carry = trainer.init_carry()
  start, history = 0, []
  if meta is not None:
    carry = trainer.put(_checkpoint.restore(carry, meta, leaves, args.resume))
    start = meta["epoch"]
    history = [np.asarray(h) for h in meta["history"]]
  data = trainer.data()
  os.makedirs(args.out, exist_ok=True)
  ckpt_path = os.path.join(args.out, "checkpoint.npz")

  def header():
    return {"config": config.to_json(), "seeds": list(seeds),
            "history": [h.tolist() for h in history]}

  def on_epoch(epoch, carry, metrics):
    history.append(np.stack([metrics[m] for m in _engine.METRICS]))
    _checkpoint.save(ckpt_path, carry, dict(header(), epoch=epoch + 1))
    bar.advance(metrics)

  with _common.Progress(config.epochs, args.quiet) as bar:
    bar.describe(f"{config.model} on {config.dataset}")
    for _ in range(start):
      bar.advance()
    compile_s = trainer.compile(carry, data)
    carry, _, train_s = trainer.run(carry, data, start=start, on_epoch=on_epoch)

  hist = np.asarray(history)
  summary = _common.summarize(hist)
  report = {
      "command": "train", **header(), "epochs_completed": config.epochs,
      "resumed_from_epoch": start, "devices": _engine.describe_devices(trainer.num_devices),
      "compile_seconds": compile_s, "train_seconds": train_s,
      "final": summary, "curves": _common.curves(hist), "versions": _common.versions(),
  }
  del report["history"]
  _common.write_json(os.path.join(args.out, "metrics.json"), report)
  print(f"{config.model} on {config.dataset}, {config.optimizer} "
        f"lr {config.learning_rate:g}, {len(seeds)} seed(s), {config.epochs} epochs, "
        f"{_engine.describe_devices(trainer.num_devices)}")
  for m in _engine.METRICS:
    print(f"  {m:<15} {_common.fmt_mean_std(summary[m]['per_seed'])}")
  print(f"  compile {compile_s:.2f} s, train {train_s:.2f} s")
  print(f"wrote {os.path.join(args.out, 'metrics.json')} and {ckpt_path}")
  return 0
