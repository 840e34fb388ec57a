"""Training options by catalogue name: the registries ``train`` and ``compare`` draw on.

A run is one :class:`TrainConfig`, a flat record of catalogue names and numbers that
JSON round-trips (it is stored in metrics files and checkpoints). The registries map
each catalogue name to the jpatterns function it builds; ``--opt k=v`` and
``--sched k=v`` pass extra keyword arguments, checked against that function's
signature. Every bad name or value raises :class:`UsageError`, which the command
prints as one line (exit status 2).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
from typing import Any, Callable

import jax
import optax

from jpatterns import activations, initializers, optim
from jpatterns.cli._errors import UsageError, choose_from

__all__ = [
    "TrainConfig", "OPTIMIZERS", "SCHEDULES", "NORMS", "DROPOUTS", "ACTIVATIONS",
    "INITIALIZERS", "CLIPS", "LOSSES", "AUGMENTS", "PREPROCESS", "MODELS",
    "ALIASES", "canonical", "parse_value", "parse_kv", "make_optimizer", "validate",
    "field_names",
]

# name -> (factory, the usual learning rate for the digits MLP; None = no lr argument).
OPTIMIZERS: dict[str, tuple[Callable, float]] = {
    "sgd": (optim.sgd, 0.1),
    "momentum": (optim.momentum, 0.05),
    "nesterov": (optim.nesterov, 0.05),
    "adagrad": (optim.adagrad, 0.05),
    "adadelta": (optim.adadelta, 1.0),
    "rmsprop": (optim.rmsprop, 1e-3),
    "adam": (optim.adam, 1e-3),
    "adamw": (optim.adamw, 1e-3),
    "amsgrad": (optim.amsgrad, 1e-3),
    "nadam": (optim.nadam, 1e-3),
    "adamax": (optim.adamax, 2e-3),
    "lion": (optim.lion, 1e-4),
}

# name -> factory(lr, total_steps, steps_per_epoch, **extra) -> schedule or float.
SCHEDULES: dict[str, Callable] = {
    "constant": lambda lr, total, per_epoch: lr,
    "cosine_decay": lambda lr, total, per_epoch, **kw: optim.cosine_decay(lr, total, **kw),
    "exponential_decay": lambda lr, total, per_epoch, decay_rate=0.9, **kw:
        optim.exponential_decay(lr, decay_rate, transition_steps=per_epoch, **kw),
    "inverse_time_decay": lambda lr, total, per_epoch, decay_rate=0.5, **kw:
        optim.inverse_time_decay(lr, decay_rate, decay_steps=per_epoch, **kw),
    "natural_exp_decay": lambda lr, total, per_epoch, decay_rate=0.1, **kw:
        optim.natural_exp_decay(lr, decay_rate, decay_steps=per_epoch, **kw),
    # 003 §3: large drops at chosen epochs; here at half and three quarters of the run.
    "step_decay": lambda lr, total, per_epoch, **kw:
        optim.step_decay(lr, kw.pop("boundaries", [total // 2, (3 * total) // 4]), **kw),
}
# The keyword arguments each schedule accepts through --sched.
SCHEDULE_ARGS = {
    "constant": (),
    "cosine_decay": ("alpha",),
    "exponential_decay": ("decay_rate", "staircase", "end_value"),
    "inverse_time_decay": ("decay_rate", "staircase"),
    "natural_exp_decay": ("decay_rate", "staircase"),
    "step_decay": ("boundaries", "factor", "inclusive"),
}

NORMS = ("none", "batch_norm", "layer_norm", "group_norm", "rms_norm", "instance_norm",
         "weight_norm", "local_response_norm")
DROPOUTS = ("none", "dropout", "gaussian_dropout", "alpha_dropout", "spatial_dropout",
            "drop_path", "dropconnect", "standout")
ACTIVATIONS = tuple(n for n in activations.__all__ if n not in ("softmax", "log_softmax"))
INITIALIZERS = ("glorot_normal", "glorot_uniform", "he_normal", "he_uniform",
                "lecun_normal", "lecun_uniform", "orthogonal", "truncated_normal",
                "normal", "uniform", "zeros")
CLIPS = ("none", "clip_by_value", "clip_by_norm", "clip_by_global_norm")
LOSSES = ("softmax_cross_entropy", "focal_loss")
AUGMENTS = ("random_flip_left_right", "random_flip_up_down", "random_crop",
            "random_rotate", "random_zoom", "random_translate", "gaussian_noise",
            "cutout", "mixup")
PREPROCESS = ("none", "min_max_scale", "standardize", "pca_whiten", "zca_whiten")
MODELS = ("mlp", "cnn", "resnet", "lstm")

# Short spellings users type (the issue's ``norm=none,batch,layer``).
ALIASES = {
    "norm": {"batch": "batch_norm", "layer": "layer_norm", "group": "group_norm",
             "rms": "rms_norm", "instance": "instance_norm", "weight": "weight_norm",
             "lrn": "local_response_norm", "bn": "batch_norm", "ln": "layer_norm"},
    "clip": {"value": "clip_by_value", "norm": "clip_by_norm",
             "global_norm": "clip_by_global_norm"},
    "schedule": {"cosine": "cosine_decay", "exponential": "exponential_decay",
                 "step": "step_decay", "inverse_time": "inverse_time_decay",
                 "natural_exp": "natural_exp_decay", "none": "constant"},
    "dropout": {"gaussian": "gaussian_dropout", "alpha": "alpha_dropout",
                "spatial": "spatial_dropout"},
    "init": {"glorot": "glorot_normal", "xavier": "glorot_normal", "he": "he_normal",
             "kaiming": "he_normal", "lecun": "lecun_normal"},
    "preprocess": {"whiten": "zca_whiten", "zca": "zca_whiten", "pca": "pca_whiten",
                   "standardization": "standardize", "min_max": "min_max_scale"},
}

_CHOICES = {
    "model": MODELS, "optimizer": tuple(OPTIMIZERS), "schedule": tuple(SCHEDULES),
    "norm": NORMS, "dropout": DROPOUTS, "activation": ACTIVATIONS,
    "init": INITIALIZERS, "clip": CLIPS, "loss": LOSSES, "preprocess": PREPROCESS,
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """One training run: every choice by catalogue name, every number explicit."""
  model: str = "mlp"
  dataset: str = "digits"
  epochs: int = 20
  batch_size: int = 64
  width: int | None = None  # hidden units (mlp, lstm) or base channels (cnn, resnet)
  depth: int = 2  # hidden layers (mlp), conv blocks (cnn, resnet)
  optimizer: str = "adam"
  lr: float | None = None  # None: the optimizer's usual rate (OPTIMIZERS)
  opt: dict = dataclasses.field(default_factory=dict)  # extra optimizer keywords
  schedule: str = "constant"
  sched: dict = dataclasses.field(default_factory=dict)  # extra schedule keywords
  warmup_steps: int = 0
  norm: str = "none"
  dropout: str = "none"
  rate: float = 0.1  # drop rate of the dropout variant
  activation: str = "relu"
  init: str = "he_normal"
  clip: str = "none"
  clip_value: float = 1.0
  l1: float = 0.0
  l2: float = 0.0
  weight_decay: float = 0.0
  max_norm: float = 0.0
  label_smoothing: float = 0.0
  loss: str = "softmax_cross_entropy"
  augment: tuple = ()
  preprocess: str = "none"
  seed: int = 0

  def to_json(self) -> dict:
    d = dataclasses.asdict(self)
    d["augment"] = list(self.augment)
    return d

  @classmethod
  def from_json(cls, d: dict) -> "TrainConfig":
    d = dict(d)
    d["augment"] = tuple(d.get("augment", ()))
    unknown = set(d) - set(field_names())
    if unknown:
      raise UsageError(f"config: unknown fields {sorted(unknown)}")
    return cls(**d)

  @property
  def learning_rate(self) -> float:
    return OPTIMIZERS[self.optimizer][1] if self.lr is None else self.lr

  def label(self, keys) -> str:
    """A short name from the fields in ``keys`` (the varied ones in ``compare``)."""
    parts = []
    for k in keys:
      field, _, sub = k.partition(".")  # opt.b1 -> self.opt["b1"]
      v = getattr(self, field)[sub] if sub else getattr(self, field)
      parts.append(f"{k}={'+'.join(v) or 'none' if isinstance(v, tuple) else v}")
    return " ".join(parts) or "default"


def field_names() -> tuple[str, ...]:
  return tuple(f.name for f in dataclasses.fields(TrainConfig))


def canonical(field: str, value: str) -> str:
  """The catalogue name of ``value`` for ``field`` (aliases resolved), or UsageError."""
  value = ALIASES.get(field, {}).get(value, value)
  valid = _CHOICES.get(field)
  if valid is not None and value not in valid:
    raise choose_from(f"--{field.replace('_', '-')}", value, valid)
  return value


def parse_value(text: str) -> Any:
  """A command-line value: Python literal (number, bool, list) or a bare string."""
  try:
    return ast.literal_eval(text)
  except (ValueError, SyntaxError):
    lowered = text.lower()
    if lowered in ("true", "false"):
      return lowered == "true"
    return text


def parse_kv(items, flag: str) -> dict:
  """``["b1=0.9", "eps=1e-7"]`` -> ``{"b1": 0.9, "eps": 1e-7}``."""
  out = {}
  for item in items or ():
    for part in item.split(",") if "[" not in item else [item]:
      name, sep, value = part.partition("=")
      if not sep or not name:
        raise UsageError(f"{flag}: {part!r} is not NAME=VALUE")
      out[name.strip()] = parse_value(value.strip())
  return out


def _keyword_names(fn) -> tuple[str, ...]:
  return tuple(n for n, p in inspect.signature(fn).parameters.items()
               if p.kind == p.KEYWORD_ONLY and n not in ("accumulator_dtype", "mask"))


def make_schedule(config: TrainConfig, steps_per_epoch: int):
  total = max(1, config.epochs * steps_per_epoch)
  valid = SCHEDULE_ARGS[config.schedule]
  for k in config.sched:
    if k not in valid:
      raise choose_from(f"--sched (for {config.schedule})", k, valid or ("nothing",))
  try:
    sched = SCHEDULES[config.schedule](config.learning_rate, total, steps_per_epoch,
                                       **config.sched)
    if config.warmup_steps:
      sched = optim.warmup(sched, warmup_steps=config.warmup_steps)
  except (ValueError, TypeError) as e:
    raise UsageError(f"--schedule {config.schedule}: {e}") from None
  return sched


def _kernel_mask(params):
  """Regularize kernels (ndim >= 2), not biases, scales or norm parameters."""
  return jax.tree.map(lambda p: p.ndim >= 2, params)


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> optax.GradientTransformation:
  """clip → L1/L2 → the optimizer (with schedule) → decoupled decay → max-norm.

  The order is seed 002's: clipping acts on the raw gradient, the coupled penalties
  add λw / λ·sgn(w) to it, decoupled weight decay and the max-norm projection act on
  the weights after the optimizer's step.
  """
  factory, _ = OPTIMIZERS[config.optimizer]
  valid = _keyword_names(factory)
  for k in config.opt:
    if k not in valid:
      raise choose_from(f"--opt (for {config.optimizer})", k, valid)
  sched = make_schedule(config, steps_per_epoch)
  parts = []
  try:
    if config.clip == "clip_by_value":
      parts.append(optim.clip_by_value(-config.clip_value, config.clip_value))
    elif config.clip == "clip_by_norm":
      parts.append(optim.clip_by_norm(config.clip_value))
    elif config.clip == "clip_by_global_norm":
      parts.append(optim.clip_by_global_norm(config.clip_value))
    if config.l1:
      parts.append(optim.add_l1(config.l1, mask=_kernel_mask))
    if config.l2:
      parts.append(optim.add_l2(config.l2, mask=_kernel_mask))
    parts.append(factory(learning_rate=sched, **config.opt))
    if config.weight_decay:
      parts.append(optim.weight_decay(config.weight_decay, learning_rate=sched,
                                      mask=_kernel_mask))
    if config.max_norm:
      parts.append(optim.max_norm(config.max_norm, axis=0, mask=_kernel_mask))
  except (ValueError, TypeError) as e:
    raise UsageError(f"--optimizer {config.optimizer}: {e}") from None
  return optax.chain(*parts)


def make_initializer(config: TrainConfig):
  """The kernel initializer; the fixed-scale ones draw with scale 0.05."""
  name = config.init
  if name == "truncated_normal":
    return initializers.truncated_normal(0.05)
  if name == "normal":
    return initializers.normal(0.05)
  if name == "uniform":
    return initializers.uniform(0.05)
  return getattr(initializers, name)()


def _check(cond, flag, value, valid):
  if not cond:
    raise UsageError(f"--{flag}: {value!r} is not valid; {valid}")


def validate(config: TrainConfig, dataset_kind: str | None = None) -> TrainConfig:
  """Canonical names and value ranges; UsageError (one line) on the first problem."""
  c = dataclasses.replace(
      config, **{f: canonical(f, getattr(config, f)) for f in _CHOICES})
  _check(isinstance(c.epochs, int) and c.epochs >= 1, "epochs", c.epochs,
         "need an integer >= 1")
  _check(isinstance(c.batch_size, int) and c.batch_size >= 1, "batch-size",
         c.batch_size, "need an integer >= 1")
  _check(c.width is None or (isinstance(c.width, int) and c.width >= 1), "width",
         c.width, "need an integer >= 1")
  _check(isinstance(c.depth, int) and c.depth >= 1, "depth", c.depth,
         "need an integer >= 1")
  _check(c.lr is None or (isinstance(c.lr, (int, float)) and c.lr > 0), "lr", c.lr,
         "the learning rate must be > 0")
  _check(isinstance(c.rate, (int, float)) and 0 <= c.rate < 1, "rate", c.rate,
         "the drop rate must be in [0, 1)")
  _check(isinstance(c.clip_value, (int, float)) and c.clip_value > 0, "clip-value",
         c.clip_value, "need a number > 0")
  for f in ("l1", "l2", "weight_decay", "max_norm"):
    v = getattr(c, f)
    _check(isinstance(v, (int, float)) and v >= 0, f.replace("_", "-"), v,
           "need a number >= 0")
  _check(isinstance(c.label_smoothing, (int, float)) and 0 <= c.label_smoothing < 1,
         "label-smoothing", c.label_smoothing, "need a number in [0, 1)")
  _check(isinstance(c.warmup_steps, int) and c.warmup_steps >= 0, "warmup-steps",
         c.warmup_steps, "need an integer >= 0")
  augment = tuple(ALIASES.get("augment", {}).get(a, a) for a in c.augment)
  for a in augment:
    if a not in AUGMENTS:
      raise choose_from("--augment", a, AUGMENTS)
  c = dataclasses.replace(c, augment=augment)
  if dataset_kind is not None:
    _check_compatible(c, dataset_kind)
  return c


def _check_compatible(c: TrainConfig, kind: str) -> None:
  """Combinations that have no meaning (a CNN on 2-D points) are refused by name."""
  models = {"image": MODELS, "vector": ("mlp",), "sequence": ("mlp", "lstm")}[kind]
  if c.model not in models:
    raise UsageError(f"--model: {c.model!r} does not fit the {c.dataset} data "
                     f"({kind}); choose from {', '.join(models)}")
  if c.augment and kind != "image":
    raise UsageError(f"--augment: image augmentation needs image data; "
                     f"{c.dataset} is {kind} data")
  conv = c.model in ("cnn", "resnet")
  only = {"spatial_dropout": ("cnn", "resnet"), "drop_path": ("resnet",),
          "dropconnect": ("mlp",), "standout": ("mlp",)}
  if c.dropout in only and c.model not in only[c.dropout]:
    raise UsageError(f"--dropout: {c.dropout} applies to {', '.join(only[c.dropout])} "
                     f"models, not {c.model}")
  if c.dropout == "standout" and c.norm != "none":
    raise UsageError("--dropout: standout gates the activation of an un-normalized "
                     "dense layer; use it with --norm none")
  if c.norm in ("instance_norm", "local_response_norm") and not conv:
    raise UsageError(f"--norm: {c.norm} normalizes feature maps; use it with the "
                     f"cnn or resnet model, not {c.model}")
  if c.preprocess in ("pca_whiten", "zca_whiten") and kind == "sequence":
    raise UsageError("--preprocess: whitening applies to image or vector data")
