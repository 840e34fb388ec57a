"""From a :class:`~jpatterns.train.TrainConfig` to the objects a run uses.

The optimizer is seed 002's chain, clip → L1/L2 → the optimizer (with its schedule) →
decoupled weight decay → max-norm, every piece a ``jpatterns.optim`` transform; the
initializer is a ``jpatterns.initializers`` factory. Bad keyword arguments raise
:class:`~jpatterns.train.config.ConfigError` naming ``optimizer_kwargs`` or
``schedule_kwargs``.
"""

from __future__ import annotations

import inspect

import jax
import optax

from jpatterns import initializers, optim
from jpatterns.train.config import ConfigError, TrainConfig

__all__ = ["make_optimizer", "make_schedule", "make_initializer"]

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
  sig = inspect.signature(getattr(optim, name))
  return tuple(
    n
    for n, p in sig.parameters.items()
    if p.kind == p.KEYWORD_ONLY and n not in ("accumulator_dtype", "mask")
  )


def make_schedule(config: TrainConfig, steps_per_epoch: int):
  """The learning-rate schedule (a float for ``"constant"`` without warm-up)."""
  total = max(1, config.epochs * steps_per_epoch)
  valid = SCHEDULE_KWARGS[config.schedule]
  for k in config.schedule_kwargs:
    if k not in valid:
      raise ConfigError(
        "schedule_kwargs",
        k,
        f"is not a keyword of {config.schedule}; choose from {', '.join(valid) or 'nothing'}",
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


def _kernel_mask(params):
  """Regularize kernels (ndim >= 2), not biases, scales or norm parameters."""
  return jax.tree.map(lambda p: p.ndim >= 2, params)


def make_optimizer(config: TrainConfig, steps_per_epoch: int) -> optax.GradientTransformation:
  """clip → L1/L2 → the optimizer (with schedule) → decoupled decay → max-norm.

  The order is seed 002's: clipping acts on the raw gradient, the coupled penalties
  add λw / λ·sgn(w) to it, decoupled weight decay and the max-norm projection act on
  the weights after the optimizer's step.
  """
  valid = optimizer_kwargs_of(config.optimizer)
  for k in config.optimizer_kwargs:
    if k not in valid:
      close = [v for v in valid if v.startswith(k[:1])]
      hint = f" (did you mean {close[0]}?)" if len(close) == 1 else ""
      raise ConfigError(
        "optimizer_kwargs",
        k,
        f"is not a keyword of {config.optimizer}{hint}; choose from {', '.join(valid)}",
      )
  sched = make_schedule(config, steps_per_epoch)
  parts = []
  try:
    if config.clip == "clip_by_value":
      parts.append(optim.clip_by_value(-config.clip_value, config.clip_value))
    elif config.clip != "none":
      parts.append(getattr(optim, config.clip)(config.clip_value))
    if config.l1:
      parts.append(optim.add_l1(config.l1, mask=_kernel_mask))
    if config.l2:
      parts.append(optim.add_l2(config.l2, mask=_kernel_mask))
    parts.append(getattr(optim, config.optimizer)(learning_rate=sched, **config.optimizer_kwargs))
    if config.weight_decay:
      parts.append(optim.weight_decay(config.weight_decay, learning_rate=sched, mask=_kernel_mask))
    if config.max_norm:
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
