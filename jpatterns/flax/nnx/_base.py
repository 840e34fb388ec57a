"""Flag, key and parameter plumbing of the ``flax.nnx`` modules (one copy for all families)."""

from __future__ import annotations

import functools
import inspect

import jax
from flax import nnx

from jpatterns.flax import _shared


@functools.cache
def _signature(cls) -> tuple[tuple[str, ...], tuple[str, ...]]:
  """(required, nullable) arguments of ``cls.__init__`` (nullable: default None)."""
  params = inspect.signature(cls.__init__).parameters.items()
  required = tuple(n for n, p in params if p.default is inspect.Parameter.empty)
  nullable = tuple(n for n, p in params if p.default is None)
  return required, nullable


def check_init(module, params: dict) -> None:
  """Checks a module's constructor arguments (``locals()`` of its ``__init__``)."""
  owner = type(module).__name__
  params = {k: v for k, v in params.items() if k not in ("self", "__class__")}
  required, nullable = _signature(type(module))
  _shared.check_config(owner, params, nullable)
  if "rngs" in params:
    rngs = params["rngs"]
    if rngs is None and "rngs" in required:
      raise ValueError(f"{owner}: rngs=None; pass rngs=nnx.Rngs(0) for the initializers")
    if rngs is not None and not isinstance(rngs, (nnx.Rngs, nnx.RngStream)):
      raise ValueError(
        f"{owner}: rngs={rngs!r} must be an nnx.Rngs, an nnx.RngStream or None "
        "(e.g. rngs=nnx.Rngs(0))"
      )


def first(call_value, attr_value, name, module):
  """The call's flag if given, else the attribute's; an error when neither is set."""
  value = attr_value if call_value is None else call_value
  if value is None:
    raise ValueError(
      f"{module}: no `{name}` given; pass {name}=True/False to the "
      "constructor or the call, or use model.train() / model.eval()"
    )
  return value


def param_key(rngs):
  """A key for parameter initializers; None when no rngs (ones/zeros need none)."""
  return None if rngs is None else rngs.params()


def fork_stream(rngs, collection):
  """The module's own stream: a fork of ``rngs[collection]`` (or of a stream), or None."""
  if isinstance(rngs, nnx.Rngs):
    return rngs[collection].fork()
  if isinstance(rngs, nnx.RngStream):
    return rngs.fork()
  if rngs is None:
    return nnx.data(None)
  raise ValueError(f"rngs must be an nnx.Rngs, nnx.RngStream or None, got {type(rngs)}")


def optional_param(use, init, key, shape, dtype):
  """``nnx.Param(init(key, shape, dtype))`` when ``use``, else an empty data slot."""
  return nnx.Param(init(key, shape, dtype)) if use else nnx.data(None)


def value(var):
  """The array of a variable, or None for an empty slot."""
  return None if var is None else var[...]


class Stochastic(nnx.Module):
  """Shared flag and key handling of the random modules (as ``flax.nnx.Dropout``)."""

  def _init_stochastic(self, deterministic, rng_collection, rngs):
    self.deterministic = deterministic
    self.rng_collection = rng_collection
    self.rngs = fork_stream(rngs, rng_collection)

  def _train(self, deterministic):
    return not first(deterministic, self.deterministic, "deterministic", type(self).__name__)

  def _key(self, rngs):
    rngs = self.rngs if rngs is None else rngs
    if isinstance(rngs, nnx.Rngs):
      return rngs[self.rng_collection]()
    if isinstance(rngs, nnx.RngStream):
      return rngs()
    if isinstance(rngs, jax.Array):
      return rngs
    raise ValueError(
      f"{type(self).__name__}: deterministic=False but no rngs; pass "
      "rngs=nnx.Rngs(dropout=0) to the constructor or a key to the call"
    )

  def set_view(self, deterministic: bool | None = None):
    """Used by ``nnx.view``: sets ``deterministic``."""
    if deterministic is not None:
      self.deterministic = deterministic
