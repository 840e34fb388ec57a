"""What one training run is: :class:`TrainConfig`, its choices, and their validation.

A configuration is a flat record of catalogue names and numbers that JSON round-trips
(it is stored in ``metrics.json`` and in checkpoints). Each named choice draws on one
family of :mod:`jpatterns.catalogue`; :data:`CHOICES` lists, per field, the catalogue
family and the names the engine builds. Every problem raises :class:`ConfigError`, a
``ValueError`` that names the field, the value and what would be valid::

    ValueError: batch_size=2000 is larger than the 1438 training examples of digits
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
from typing import Any, NamedTuple

from jpatterns import catalogue

__all__ = [
  "TrainConfig",
  "ConfigError",
  "Choice",
  "CHOICES",
  "ALIASES",
  "DEFAULT_LEARNING_RATES",
  "DEFAULT_WIDTH",
  "validate",
  "field_names",
]


class ConfigError(ValueError):
  """A bad configuration field (or fit argument): ``name=value problem``.

  Attributes:
    name: the field or argument, e.g. ``"batch_size"``.
    value: the value given.
    problem: what is wrong and what would be valid, e.g. ``"must be an integer >= 1"``.
  """

  def __init__(self, name: str, value: Any, problem: str):
    self.name, self.value, self.problem = name, value, problem
    super().__init__(f"{name}={value!r} {problem}")


class Choice(NamedTuple):
  """A field chosen by name: its catalogue family and the names the engine builds."""

  family: str | None
  names: tuple[str, ...]
  extra: tuple[str, ...] = ()  # engine-level names that are no catalogue pattern


def _from_catalogue(family: str, names, extra=()) -> Choice:
  """Names of ``family`` the engine builds; each must be a catalogue row of that family."""
  rows = {p.name for p in catalogue.PATTERNS if p.family == family}
  missing = [n for n in names if n not in rows]
  if missing:  # a programming error in this table, caught at import
    raise RuntimeError(f"not {family} patterns of the catalogue: {missing}")
  return Choice(family, tuple(extra) + tuple(names), tuple(extra))


# The usual learning rate of each optimizer on the digits MLP (TrainConfig.learning_rate=None).
DEFAULT_LEARNING_RATES = {
  "sgd": 0.1,
  "momentum": 0.05,
  "nesterov": 0.05,
  "adagrad": 0.05,
  "adadelta": 1.0,
  "rmsprop": 1e-3,
  "adam": 1e-3,
  "adamw": 1e-3,
  "amsgrad": 1e-3,
  "nadam": 1e-3,
  "adamax": 2e-3,
  "lion": 1e-4,
}
# Hidden units (mlp, lstm), base channels (cnn, resnet) or token features (transformer)
# when width=None.
DEFAULT_WIDTH = {"mlp": 128, "resmlp": 128, "cnn": 32, "resnet": 32, "lstm": 64, "transformer": 64}

CHOICES: dict[str, Choice] = {
  "optimizer": _from_catalogue("optimizers", tuple(DEFAULT_LEARNING_RATES)),
  "schedule": _from_catalogue(
    "schedules",
    ("cosine_decay", "exponential_decay", "inverse_time_decay", "natural_exp_decay", "step_decay"),
    extra=("constant",),
  ),
  "norm": _from_catalogue(
    "normalization",
    (
      "batch_norm",
      "layer_norm",
      "group_norm",
      "rms_norm",
      "instance_norm",
      "weight_norm",
      "local_response_norm",
    ),
    extra=("none",),
  ),
  "dropout": _from_catalogue(
    "dropout",
    (
      "dropout",
      "gaussian_dropout",
      "alpha_dropout",
      "spatial_dropout",
      "drop_path",
      "dropconnect",
      "standout",
    ),
    extra=("none",),
  ),
  "activation": _from_catalogue(
    "activations",
    tuple(
      p.name
      for p in catalogue.PATTERNS
      if p.family == "activations" and p.name not in ("softmax", "log_softmax")
    ),
  ),
  "initializer": _from_catalogue(
    "initializers",
    (
      "glorot_normal",
      "glorot_uniform",
      "he_normal",
      "he_uniform",
      "lecun_normal",
      "lecun_uniform",
      "orthogonal",
      "truncated_normal",
      "normal",
      "uniform",
      "zeros",
    ),
  ),
  "clip": _from_catalogue(
    "transforms", ("clip_by_value", "clip_by_norm", "clip_by_global_norm"), extra=("none",)
  ),
  "loss": _from_catalogue("losses", ("softmax_cross_entropy", "focal_loss")),
  "augment": _from_catalogue(
    "augmentation",
    (
      "random_flip_left_right",
      "random_flip_up_down",
      "random_crop",
      "random_rotate",
      "random_zoom",
      "random_translate",
      "gaussian_noise",
      "cutout",
      "mixup",
    ),
  ),
  # fit_*/transform pairs of the catalogue, under the engine's names.
  "preprocess": Choice(
    "preprocessing", ("none", "min_max_scale", "standardize", "pca_whiten", "zca_whiten"), ("none",)
  ),
}

# Short spellings users type (``norm=none,batch,layer``).
ALIASES = {
  "norm": {
    "batch": "batch_norm",
    "layer": "layer_norm",
    "group": "group_norm",
    "rms": "rms_norm",
    "instance": "instance_norm",
    "weight": "weight_norm",
    "lrn": "local_response_norm",
    "bn": "batch_norm",
    "ln": "layer_norm",
  },
  "clip": {"value": "clip_by_value", "norm": "clip_by_norm", "global_norm": "clip_by_global_norm"},
  "schedule": {
    "cosine": "cosine_decay",
    "exponential": "exponential_decay",
    "step": "step_decay",
    "inverse_time": "inverse_time_decay",
    "natural_exp": "natural_exp_decay",
    "none": "constant",
  },
  "dropout": {
    "gaussian": "gaussian_dropout",
    "alpha": "alpha_dropout",
    "spatial": "spatial_dropout",
  },
  "initializer": {
    "glorot": "glorot_normal",
    "xavier": "glorot_normal",
    "he": "he_normal",
    "kaiming": "he_normal",
    "lecun": "lecun_normal",
  },
  "preprocess": {
    "whiten": "zca_whiten",
    "zca": "zca_whiten",
    "pca": "pca_whiten",
    "standardization": "standardize",
    "min_max": "min_max_scale",
  },
}


def _field(default, help: str, **kw):
  """A TrainConfig field with its one-line help (the command line's --help reads it)."""
  if isinstance(default, dict):
    return dataclasses.field(default_factory=dict, metadata={"help": help, **kw})
  return dataclasses.field(default=default, metadata={"help": help, **kw})


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """One training run: every choice by catalogue name, every number explicit.

  Each field's ``metadata["help"]`` says what it is; the named choices are the
  catalogue names of :data:`CHOICES` (short spellings in :data:`ALIASES`). ``model``
  may also be a :class:`~jpatterns.train.Model`, and ``dataset`` the path of an
  .npz/.csv file (see :func:`jpatterns.datasets.load`).
  """

  model: Any = _field(
    "mlp", "mlp, resmlp, cnn, resnet, lstm, transformer, a registered name, or a Model"
  )
  dataset: str = _field("digits", "digits, spirals, sequence, or an .npz/.csv file path")
  test_fraction: float = _field(
    0.2, "share of a file's examples held out for testing (files without their own split)"
  )
  epochs: int = _field(20, "passes over the training set")
  batch_size: int = _field(64, "global minibatch size (split across devices)")
  remainder: str = _field(
    "drop",
    "drop or keep the last partial batch of an epoch (n mod batch_size examples); keep "
    "trains it padded and masked, its loss the mean over its real examples",
  )
  width: int | None = _field(
    None,
    "hidden units (mlp 128, lstm 64), base channels (cnn, resnet 32) or token features "
    "(transformer 64)",
  )
  depth: int = _field(
    2, "hidden layers (mlp), conv blocks (cnn, resnet) or encoder blocks (transformer)"
  )
  heads: int = _field(4, "attention heads of the transformer; must divide its width")
  optimizer: str = _field("adam", "the optimizer")
  learning_rate: float | None = _field(
    None, "learning rate (default: the optimizer's usual rate, DEFAULT_LEARNING_RATES)"
  )
  optimizer_kwargs: dict = _field({}, "extra optimizer keyword arguments, e.g. b1=0.8")
  schedule: str = _field("constant", "learning-rate decay (per-epoch decays)")
  schedule_kwargs: dict = _field({}, "extra schedule keyword arguments, e.g. decay_rate=0.8")
  warmup_steps: int = _field(0, "linear warm-up steps before the schedule")
  norm: str = _field("none", "normalization after each hidden linear map")
  dropout: str = _field("none", "dropout variant")
  dropout_rate: float = _field(0.1, "drop rate of the dropout variant, in [0, 1)")
  activation: str = _field("relu", "hidden activation")
  initializer: str = _field(
    "he_normal", "kernel initializer (truncated_normal, normal, uniform at scale 0.05)"
  )
  clip: str = _field("none", "gradient clipping")
  clip_value: float = _field(1.0, "the clipping bound (clip_by_value clips to ±value)")
  l1: float = _field(0.0, "coupled L1 penalty λ on kernels (seed 002)")
  l2: float = _field(0.0, "coupled L2 penalty λ on kernels (seed 002)")
  weight_decay: float = _field(0.0, "decoupled weight decay λ on kernels")
  max_norm: float = _field(0.0, "max-norm constraint k on each unit's incoming weights (0: off)")
  label_smoothing: float = _field(
    0.0, "ε of seed 002's label smoothing (1-ε true class, ε/(K-1) others)"
  )
  loss: str = _field("softmax_cross_entropy", "the training loss")
  augment: tuple = _field((), "image augmentations, applied in order to each batch")
  preprocess: str = _field("none", "preprocessing fitted on the training set")
  dtype: str = _field(
    "float32",
    "compute dtype: float32, bfloat16 or float16 (parameters and optimizer state stay "
    "float32; losses and norm statistics reduce in float32)",
  )
  loss_scale: str = _field(
    "dynamic", "float16 only: dynamic loss scaling (dynamic) or none, to see underflow"
  )
  seed: int = _field(0, "first seed (fit(..., seeds=n) runs seed .. seed+n-1)")

  def to_json(self) -> dict:
    d = dataclasses.asdict(self)
    d["augment"] = list(self.augment)
    if not isinstance(self.model, str):
      d["model"] = getattr(self.model, "name", None) or "custom"
    return d

  @classmethod
  def from_json(cls, d: dict) -> TrainConfig:
    if not isinstance(d, dict):
      raise ConfigError("config", d, "must be a JSON object of TrainConfig fields")
    unknown = sorted(set(d) - set(field_names()))
    if unknown:
      raise ConfigError(
        "config", unknown, "are not TrainConfig fields; choose from " + ", ".join(field_names())
      )
    d = dict(d)
    if "augment" in d:
      if not isinstance(d["augment"], (list, tuple)):
        raise ConfigError("augment", d["augment"], "must be a list of augmentation names")
      d["augment"] = tuple(d["augment"])
    return cls(**d)

  @property
  def lr(self) -> float:
    """The learning rate in effect (the optimizer's usual one when unset)."""
    if self.learning_rate is None:
      return DEFAULT_LEARNING_RATES[self.optimizer]
    return self.learning_rate

  @property
  def model_name(self) -> str:
    return self.model if isinstance(self.model, str) else self.to_json()["model"]

  def label(self, keys) -> str:
    """A short name from the fields in ``keys`` (``optimizer_kwargs.b1`` for a kwarg)."""
    parts = []
    for k in keys:
      name, _, sub = k.partition(".")
      v = getattr(self, name)[sub] if sub else getattr(self, name)
      parts.append(f"{k}={'+'.join(v) or 'none' if isinstance(v, tuple) else v}")
    return " ".join(parts) or "default"


def field_names() -> tuple[str, ...]:
  return tuple(f.name for f in dataclasses.fields(TrainConfig))


# --- validation ------------------------------------------------------------------------


def canonical(field: str, value: Any) -> str:
  """The catalogue name of ``value`` for ``field`` (aliases resolved), or ConfigError."""
  valid = CHOICES[field].names
  if not isinstance(value, str):
    raise ConfigError(field, value, f"must be a name; choose from {', '.join(valid)}")
  value = ALIASES.get(field, {}).get(value, value)
  if value not in valid:
    close = difflib.get_close_matches(value, valid, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ConfigError(field, value, f"is not valid{hint}; choose from {', '.join(valid)}")
  return value


def _is_int(v) -> bool:
  return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
  return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _need(ok: bool, name: str, value, problem: str) -> None:
  if not ok:
    raise ConfigError(name, value, problem)


def validate(config: TrainConfig, kind: str | None = None) -> TrainConfig:
  """``config`` with canonical names, or ConfigError on the first bad field.

  Args:
    config: the configuration.
    kind: the dataset kind (``"image"``, ``"vector"``, ``"sequence"``) to check the
      combinations against; None skips those checks.
  """
  if not isinstance(config, TrainConfig):
    raise ConfigError("config", type(config).__name__, "must be a jpatterns.train.TrainConfig")
  c = config
  from jpatterns.train.models import MODELS, Model  # the registry may have grown

  if isinstance(c.model, str):
    if c.model not in MODELS:
      close = difflib.get_close_matches(c.model, list(MODELS), n=1)
      hint = f" (did you mean {close[0]}?)" if close else ""
      raise ConfigError(
        "model",
        c.model,
        f"is not valid{hint}; choose from {', '.join(MODELS)} or pass a jpatterns.train.Model",
      )
  elif not isinstance(c.model, Model):
    raise ConfigError("model", c.model, "must be a model name or a jpatterns.train.Model")
  named = {f: canonical(f, getattr(c, f)) for f in CHOICES if f != "augment"}
  if not isinstance(c.augment, (tuple, list)):
    raise ConfigError("augment", c.augment, "must be a tuple of augmentation names")
  named["augment"] = tuple(canonical("augment", a) for a in c.augment)
  c = dataclasses.replace(c, **named)
  if not isinstance(c.dataset, str):
    raise ConfigError("dataset", c.dataset, "must be a dataset name or a file path")
  for f, low in (
    ("epochs", 1),
    ("batch_size", 1),
    ("depth", 1),
    ("heads", 1),
    ("warmup_steps", 0),
  ):
    v = getattr(c, f)
    _need(_is_int(v) and v >= low, f, v, f"must be an integer >= {low}")
  _need(
    c.width is None or (_is_int(c.width) and c.width >= 1),
    "width",
    c.width,
    "must be an integer >= 1 (or None for the model's default)",
  )
  if c.model == "transformer":
    width = c.width or DEFAULT_WIDTH["transformer"]
    _need(
      width % c.heads == 0,
      "heads",
      c.heads,
      f"does not divide the transformer's width={width}; choose a divisor of {width}",
    )
  _need(_is_int(c.seed) and c.seed >= 0, "seed", c.seed, "must be an integer >= 0")
  _need(
    c.remainder in ("drop", "keep"),
    "remainder",
    c.remainder,
    "is not valid; choose from drop, keep",
  )
  dtypes = {
    "float32": "float32",
    "f32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "f16": "float16",
    "fp16": "float16",
  }
  _need(c.dtype in dtypes, "dtype", c.dtype, "is not valid; choose from float32, bfloat16, float16")
  _need(
    c.loss_scale in ("dynamic", "none"),
    "loss_scale",
    c.loss_scale,
    "is not valid; choose from dynamic, none",
  )
  c = dataclasses.replace(c, dtype=dtypes[c.dtype])
  _need(
    c.learning_rate is None or (_is_real(c.learning_rate) and c.learning_rate > 0),
    "learning_rate",
    c.learning_rate,
    "is not valid; the learning rate must be > 0",
  )
  _need(
    _is_real(c.dropout_rate) and 0 <= c.dropout_rate < 1,
    "dropout_rate",
    c.dropout_rate,
    "is not valid; the drop rate must be in [0, 1)",
  )
  _need(
    _is_real(c.test_fraction) and 0 < c.test_fraction < 1,
    "test_fraction",
    c.test_fraction,
    "must be a number in (0, 1)",
  )
  _need(
    _is_real(c.clip_value) and c.clip_value > 0, "clip_value", c.clip_value, "must be a number > 0"
  )
  for f in ("l1", "l2", "weight_decay", "max_norm"):
    v = getattr(c, f)
    _need(_is_real(v) and v >= 0, f, v, "must be a number >= 0")
  _need(
    _is_real(c.label_smoothing) and 0 <= c.label_smoothing < 1,
    "label_smoothing",
    c.label_smoothing,
    "must be a number in [0, 1)",
  )
  for f in ("optimizer_kwargs", "schedule_kwargs"):
    v = getattr(c, f)
    _need(
      isinstance(v, dict) and all(isinstance(k, str) for k in v),
      f,
      v,
      "must be a dict of keyword arguments",
    )
  from jpatterns.train.build import check_kwargs  # build imports this module

  check_kwargs(c)  # names, types and ranges against the factories' own checks
  if kind is not None:
    _check_compatible(c, kind)
  return c


def _check_compatible(c: TrainConfig, kind: str) -> None:
  """Combinations that have no meaning (a CNN on 2-D points) are refused by name."""
  if isinstance(c.model, str):
    models = {
      "image": ("mlp", "resmlp", "cnn", "resnet", "lstm", "transformer"),
      "vector": ("mlp", "resmlp"),
      "sequence": ("mlp", "resmlp", "lstm", "transformer"),
    }[kind]
    from jpatterns.train.models import BUILTIN_MODELS

    if c.model in BUILTIN_MODELS and c.model not in models:
      raise ConfigError(
        "model",
        c.model,
        f"does not fit the {c.dataset} data ({kind}); choose from {', '.join(models)}",
      )
  if c.augment and kind != "image":
    raise ConfigError("augment", c.augment, f"needs image data; {c.dataset} is {kind} data")
  conv = c.model in ("cnn", "resnet")
  only = {
    "spatial_dropout": ("cnn", "resnet"),
    "drop_path": ("resnet", "transformer"),
    "dropconnect": ("mlp", "resmlp"),
    "standout": ("mlp", "resmlp"),
  }
  if c.dropout in only and c.model not in only[c.dropout]:
    raise ConfigError(
      "dropout", c.dropout, f"applies to {', '.join(only[c.dropout])} models, not {c.model_name}"
    )
  if c.dropout == "standout" and c.norm != "none":
    raise ConfigError(
      "dropout",
      c.dropout,
      "gates the activation of an un-normalized dense layer; use it with norm='none'",
    )
  if c.norm in ("instance_norm", "local_response_norm") and not conv:
    raise ConfigError(
      "norm",
      c.norm,
      f"normalizes feature maps; use it with the cnn or resnet model, not {c.model_name}",
    )
  if c.preprocess in ("pca_whiten", "zca_whiten") and kind == "sequence":
    raise ConfigError("preprocess", c.preprocess, "applies to image or vector data")
