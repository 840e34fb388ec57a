"""What ``train`` and ``compare`` share: the configuration flags, progress, reports."""

from __future__ import annotations

import argparse
import json
import os
import platform

import numpy as np

from jpatterns.cli._options import field_names, parse_kv

__all__ = ["add_config_flags", "add_run_flags", "explicit_fields", "start_jax",
           "summarize", "curves", "versions", "write_json", "Progress", "fmt_mean_std"]

_HELP = {
    "model": "mlp, cnn, resnet, lstm (default mlp)",
    "dataset": "digits (embedded, default), spirals, sequence",
    "epochs": "passes over the training set (default 20)",
    "batch_size": "global batch size (default 64)",
    "width": "hidden units (mlp 128, lstm 64) or base channels (cnn, resnet 32)",
    "depth": "hidden layers / conv blocks (default 2)",
    "optimizer": "sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam, adamw, "
                 "amsgrad, nadam, adamax, lion (default adam)",
    "lr": "learning rate (default: the optimizer's usual rate, see `jpatterns list optimizers`)",
    "schedule": "constant, cosine_decay, exponential_decay, inverse_time_decay, "
                "natural_exp_decay, step_decay (per-epoch decays)",
    "warmup_steps": "linear warm-up steps before the schedule",
    "norm": "none, batch_norm, layer_norm, group_norm, rms_norm, instance_norm, "
            "weight_norm, local_response_norm (short: batch, layer, ...)",
    "dropout": "none, dropout, gaussian_dropout, alpha_dropout, spatial_dropout, "
               "drop_path, dropconnect, standout",
    "rate": "drop rate of the dropout variant, in [0, 1) (default 0.1)",
    "activation": "any activation of `jpatterns list activations` (default relu)",
    "init": "glorot_normal, glorot_uniform, he_normal (default), he_uniform, "
            "lecun_normal, lecun_uniform, orthogonal, truncated_normal, normal, uniform, zeros",
    "clip": "none, clip_by_value, clip_by_norm, clip_by_global_norm",
    "clip_value": "the clipping bound (default 1.0; clip_by_value clips to ±value)",
    "l1": "coupled L1 penalty λ on kernels (seed 002)",
    "l2": "coupled L2 penalty λ on kernels (seed 002)",
    "weight_decay": "decoupled weight decay λ on kernels",
    "max_norm": "max-norm constraint k on each unit's incoming weights (0: off)",
    "label_smoothing": "ε of seed 002's label smoothing (1-ε true class, ε/(K-1) others)",
    "loss": "softmax_cross_entropy (default), focal_loss",
    "augment": "comma list: random_flip_left_right, random_flip_up_down, random_crop, "
               "random_rotate, random_zoom, random_translate, gaussian_noise, cutout, mixup",
    "preprocess": "none, min_max_scale, standardize, pca_whiten, zca_whiten",
    "seed": "first seed (default 0)",
}
_TYPES = {"epochs": int, "batch_size": int, "width": int, "depth": int, "lr": float,
          "warmup_steps": int, "rate": float, "clip_value": float, "l1": float,
          "l2": float, "weight_decay": float, "max_norm": float,
          "label_smoothing": float, "seed": int}


def add_config_flags(p: argparse.ArgumentParser) -> None:
  """One flag per TrainConfig field; unset flags stay absent (argparse.SUPPRESS)."""
  g = p.add_argument_group("what to train (catalogue names)")
  for name in field_names():
    flag = "--" + name.replace("_", "-")
    if name == "opt":
      g.add_argument("--opt", action="append", metavar="NAME=VALUE",
                     default=argparse.SUPPRESS,
                     help="extra optimizer hyperparameter, e.g. --opt b1=0.8 --opt eps=1e-7")
    elif name == "sched":
      g.add_argument("--sched", action="append", metavar="NAME=VALUE",
                     default=argparse.SUPPRESS,
                     help="extra schedule argument, e.g. --sched decay_rate=0.8")
    elif name == "augment":
      g.add_argument(flag, metavar="NAMES", default=argparse.SUPPRESS,
                     type=lambda s: tuple(a for a in s.split(",") if a),
                     help=_HELP[name])
    else:
      kind = _TYPES.get(name, str)
      g.add_argument(flag, type=kind, default=argparse.SUPPRESS,
                     metavar={int: "N", float: "X"}.get(kind, "NAME"), help=_HELP[name])


def add_run_flags(p: argparse.ArgumentParser, out_default: str) -> None:
  g = p.add_argument_group("how to run")
  g.add_argument("--out", default=out_default,
                 help=f"directory for the metrics, curves and checkpoint (default {out_default})")
  g.add_argument("--devices", type=int, default=None,
                 help="devices to shard the batch over (default: all of the default backend)")
  g.add_argument("--distributed", action="store_true",
                 help="multi-host: call jax.distributed.initialize() first (run the same "
                      "command on every host; coordinator from the environment)")
  g.add_argument("--quiet", action="store_true", help="no progress bar")


def explicit_fields(args) -> dict:
  """The TrainConfig fields given on the command line, parsed."""
  given = {k: v for k, v in vars(args).items() if k in field_names()}
  if "opt" in given:
    given["opt"] = parse_kv(given["opt"], "--opt")
  if "sched" in given:
    given["sched"] = parse_kv(given["sched"], "--sched")
  return given


def start_jax(args) -> None:
  """Multi-host set-up, before any other JAX call."""
  if getattr(args, "distributed", False):
    import jax
    jax.distributed.initialize()


def fmt_mean_std(values, digits=4) -> str:
  v = np.asarray(values, np.float64)
  if v.size == 1:
    return f"{v.item():.{digits}f}"
  return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def summarize(history: np.ndarray) -> dict:
  """Final-epoch metrics per seed, their mean and std: ``history`` is (E, 4, S)."""
  from jpatterns.cli._engine import METRICS
  last = history[-1]
  return {m: {"mean": float(last[i].mean()), "std": float(last[i].std()),
              "per_seed": [float(v) for v in last[i]]} for i, m in enumerate(METRICS)}


def curves(history: np.ndarray) -> dict:
  from jpatterns.cli._engine import METRICS
  return {m: history[:, i, :].T.tolist() for i, m in enumerate(METRICS)}  # [seed][epoch]


def versions() -> dict:
  import flax
  import jax
  import optax
  import jpatterns
  d = jax.devices()[0]
  return {"jpatterns": getattr(jpatterns, "__version__", "0.1.0"), "jax": jax.__version__,
          "flax": flax.__version__, "optax": optax.__version__,
          "python": platform.python_version(), "backend": d.platform,
          "device_kind": getattr(d, "device_kind", d.platform),
          "device_count": jax.device_count()}


def write_json(path, obj) -> None:
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    json.dump(obj, f, indent=1, ensure_ascii=False)
    f.write("\n")


class Progress:
  """A rich progress bar on stderr (nothing when ``quiet``)."""

  def __init__(self, total: int, quiet: bool):
    self._bar = None
    if quiet:
      return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                               TextColumn, TimeElapsedColumn)
    self._bar = RichProgress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TextColumn("{task.fields[metrics]}"),
        console=Console(stderr=True), transient=False)
    self._task = self._bar.add_task("", total=total, metrics="")

  def __enter__(self):
    if self._bar is not None:
      self._bar.__enter__()
    return self

  def __exit__(self, *exc):
    if self._bar is not None:
      self._bar.__exit__(*exc)

  def describe(self, text: str) -> None:
    if self._bar is not None:
      self._bar.update(self._task, description=text)

  def advance(self, metrics: dict | None = None) -> None:
    if self._bar is None:
      return
    text = ""
    if metrics:
      text = (f"loss {np.mean(metrics['train_loss']):.4f}  "
              f"acc {np.mean(metrics['train_accuracy']):.4f}  "
              f"test acc {np.mean(metrics['test_accuracy']):.4f}")
    self._bar.update(self._task, advance=1, metrics=text)
