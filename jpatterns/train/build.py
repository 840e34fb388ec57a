"""From a :class:`~jpatterns.train.TrainConfig` to the objects a run uses.

The optimizer is seed 002's chain, clip → L1/L2 → the optimizer (with its schedule) →
decoupled weight decay → max-norm, every piece a ``jpatterns.optim`` transform; the
initializer is a ``jpatterns.initializers`` factory.

``optimizer_kwargs`` and ``schedule_kwargs`` are checked against the factory they are
passed to (:func:`check_kwargs`, which :func:`~jpatterns.train.config.validate` runs
before anything is built): each name must be a keyword of the factory, each value of
the type its signature declares (a float finite, a bool a bool, ...), and the factory
itself must accept them. A bad one raises :class:`~jpatterns.train.config.ConfigError`
naming ``optimizer_kwargs`` or ``schedule_kwargs`` and the keyword::

    optimizer_kwargs={'b1': 'abc'} is not valid; adam: b1='abc' must be a finite number
"""

from __future__ import annotations

import inspect
import numbers

import jax
import optax

from jpatterns import initializers, optim
from jpatterns.train.config import ConfigError, TrainConfig, _is_int, _is_real

__all__ = [
  "make_optimizer",
  "make_schedule",
  "make_initializer",
  "check_kwargs",
  "optimizer_kwargs_of",
  "SCHEDULE_KWARGS",
]

# name -> factory(lr, total_steps, steps_per_epoch, **kwargs) -> schedule or float.
_SCHEDULES = {
  "constant": lambda lr, total, per_epoch: lr,
  "cosine_decay": lambda lr, total, per_epoch, **kw: optim.cosine_decay(lr, total, **kw),
  "exponential_decay": lambda lr, total, per_epoch, decay_rate=0.9, **kw: optim.exponential_decay(
    lr, decay_rate, transition_steps=per_epoch, **kw
  ),
  "inverse_time_decay": lambda lr, total, per_epoch, decay_rate=0.5, **kw: optim.inverse_time_decay(
    lr, decay_rate, decay_steps=per_epoch, **kw
  ),
  "natural_exp_decay": lambda lr, total, per_epoch, decay_rate=0.1, **kw: optim.natural_exp_decay(
    lr, decay_rate, decay_steps=per_epoch, **kw
  ),
  # 003 §3: large drops at chosen steps; by default at half and three quarters of the run.
  "step_decay": lambda lr, total, per_epoch, **kw: optim.step_decay(
    lr, kw.pop("boundaries", [total // 2, (3 * total) // 4]), **kw
  ),
}
# The keyword arguments each schedule accepts (schedule_kwargs).
SCHEDULE_KWARGS = {
  "constant": (),
  "cosine_decay": ("alpha",),
  "exponential_decay": ("decay_rate", "staircase", "end_value"),
  "inverse_time_decay": ("decay_rate", "staircase"),
  "natural_exp_decay": ("decay_rate", "staircase"),
  "step_decay": ("boundaries", "factor", "inclusive"),
}
# Fixed-scale initializers draw with this scale.
_INIT_SCALE = 0.05


def optimizer_kwargs_of(name: str) -> tuple[str, ...]:
  """The keyword arguments ``optimizer_kwargs`` may set for optimizer ``name``."""
  return tuple(_optimizer_params(name))


def _optimizer_params(name: str) -> dict[str, inspect.Parameter]:
  # learning_rate is TrainConfig.learning_rate (adadelta takes it by keyword).
  sig = inspect.signature(getattr(optim, name))
  return {
    n: p
    for n, p in sig.parameters.items()
    if p.kind == p.KEYWORD_ONLY and n not in ("learning_rate", "accumulator_dtype", "mask")
  }


def _schedule_params(name: str) -> dict[str, inspect.Parameter]:
  if name == "constant":
    return {}
  sig = inspect.signature(getattr(optim, name))
  return {n: sig.parameters[n] for n in SCHEDULE_KWARGS[name]}


# A factory's annotation (a string: the optim modules use postponed annotations) ->
# what a value must be. Another annotation falls back to the default's type.
_KINDS = {
  "float": ("a finite number", _is_real),
  "ScalarOrSchedule": ("a finite number", _is_real),
  "float | None": ("a finite number or None", lambda v: v is None or _is_real(v)),
  "int": ("an integer", _is_int),
  "bool": ("true or false", lambda v: isinstance(v, bool)),
  "str": ("a name", lambda v: isinstance(v, str)),
  "Sequence[int]": (
    "a list of integers",
    lambda v: isinstance(v, (list, tuple)) and all(_is_int(b) for b in v),
  ),
}


def _kind_of(p: inspect.Parameter) -> tuple[str, object] | None:
  """(description, predicate) of the values parameter ``p`` takes, or None if unknown."""
  annotation = (
    p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
  )
  if annotation in _KINDS:
    return _KINDS[annotation]
  d = p.default
  if isinstance(d, bool):
    return _KINDS["bool"]
  if isinstance(d, numbers.Integral):
    return _KINDS["int"]
  if isinstance(d, numbers.Real):
    return _KINDS["float"]
  if isinstance(d, str):
    return _KINDS["str"]
  return None


def _check_against(field: str, factory: str, params, given: dict) -> None:
  """Names of ``given`` among ``params``, values of their declared kinds."""
  valid = tuple(params)
  for k, v in given.items():
    if k not in params:
      close = [n for n in valid if n.startswith(k[:1])]
      hint = f" (did you mean {close[0]}?)" if len(close) == 1 else ""
      raise ConfigError(
        field,
        k,
        f"is not a keyword of {factory}{hint}; choose from {', '.join(valid) or 'nothing'}",
      )
    kind = _kind_of(params[k])
    # A traced value is an engine argument (a shared program), checked before tracing.
    if kind is not None and not isinstance(v, jax.core.Tracer) and not kind[1](v):
      default = params[k].default
      shown = "" if default is inspect.Parameter.empty else f" (default {default!r})"
      raise ConfigError(
        field, {k: v}, f"is not valid; {factory}: {k}={v!r} must be {kind[0]}{shown}"
      )


def _rejected(field: str, factory: str, given: dict, e: Exception) -> ConfigError:
  """The factory's own ValueError, naming the keyword it is about when it says so."""
  named = {k: v for k, v in given.items() if f"{k}=" in str(e)}
  return ConfigError(field, named or given, f"is not valid; {e}")


def check_kwargs(config: TrainConfig) -> None:
  """ConfigError unless ``optimizer_kwargs`` and ``schedule_kwargs`` fit their factories.

  ``config`` has canonical names and a valid learning rate (as
  :func:`~jpatterns.train.config.validate` checks first). Each keyword must be one the
  factory takes, each value of the kind its signature declares, and the factory must
  accept them (its range checks, e.g. ``b1`` in [0, 1)). Building a factory compiles
  nothing; the schedule is built for a stand-in run length (its keywords do not depend
  on it).
  """
  opt, kw = config.optimizer, config.optimizer_kwargs
  _check_against("optimizer_kwargs", opt, _optimizer_params(opt), kw)
  try:
    getattr(optim, opt)(learning_rate=config.lr, **kw)
  except (ValueError, TypeError) as e:
    raise _rejected("optimizer_kwargs", opt, kw, e) from None
  sched, kw = config.schedule, config.schedule_kwargs
  _check_against("schedule_kwargs", sched, _schedule_params(sched), kw)
  try:  # a stand-in run of 4 steps per epoch: no keyword's validity depends on it
    _SCHEDULES[sched](config.lr, 4 * config.epochs, 4, **kw)
  except (ValueError, TypeError) as e:
    raise _rejected("schedule_kwargs", sched, kw, e) from None


def make_schedule(config: TrainConfig, steps_per_epoch: int):
  """The learning-rate schedule (a float for ``"constant"`` without warm-up)."""
  total = max(1, config.epochs * steps_per_epoch)
  _check_against(
    "schedule_kwargs", config.schedule, _schedule_params(config.schedule), config.schedule_kwargs
  )
  try:
    sched = _SCHEDULES[config.schedule](config.lr, total, steps_per_epoch, **config.schedule_kwargs)
    if config.warmup_steps:
      sched = optim.warmup(sched, warmup_steps=config.warmup_steps)
  except (ValueError, TypeError) as e:
    raise ConfigError(
      "schedule_kwargs", config.schedule_kwargs, f"rejected by {config.schedule}: {e}"
    ) from None
  return sched


def _on(value) -> bool:
  """A penalty is in the chain when non-zero; a traced value (an engine argument) is one
  the engine only traces when it is non-zero."""
  return isinstance(value, jax.core.Tracer) or bool(value)


def _kernel_mask(params):
  """Regularize kernels (ndim >= 2), not biases, scales or norm parameters."""
  return jax.tree.map(lambda p: p.ndim >= 2, params)


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> optax.GradientTransformation:
  """clip → L1/L2 → the optimizer (with schedule) → decoupled decay → max-norm.

  The order is seed 002's: clipping acts on the raw gradient, the coupled penalties
  add λw / λ·sgn(w) to it, decoupled weight decay and the max-norm projection act on
  the weights after the optimizer's step.
  """
  _check_against(
    "optimizer_kwargs",
    config.optimizer,
    _optimizer_params(config.optimizer),
    config.optimizer_kwargs,
  )
  sched = make_schedule(config, steps_per_epoch)
  parts = []
  try:
    if config.clip == "clip_by_value":
      parts.append(optim.clip_by_value(-config.clip_value, config.clip_value))
    elif config.clip != "none":
      parts.append(getattr(optim, config.clip)(config.clip_value))
    if _on(config.l1):
      parts.append(optim.add_l1(config.l1, mask=_kernel_mask))
    if _on(config.l2):
      parts.append(optim.add_l2(config.l2, mask=_kernel_mask))
    parts.append(getattr(optim, config.optimizer)(learning_rate=sched, **config.optimizer_kwargs))
    if _on(config.weight_decay):
      parts.append(optim.weight_decay(config.weight_decay, learning_rate=sched, mask=_kernel_mask))
    if _on(config.max_norm):
      parts.append(optim.max_norm(config.max_norm, axis=0, mask=_kernel_mask))
  except (ValueError, TypeError) as e:
    raise ConfigError(
      "optimizer_kwargs", config.optimizer_kwargs, f"rejected by {config.optimizer}: {e}"
    ) from None
  return optax.chain(*parts)


def make_initializer(config: TrainConfig):
  """The kernel initializer; ``truncated_normal``, ``normal``, ``uniform`` use scale 0.05."""
  factory = getattr(initializers, config.initializer)
  if config.initializer in ("truncated_normal", "normal", "uniform"):
    return factory(_INIT_SCALE)
  return factory()
