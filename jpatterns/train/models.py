"""The models of the training layer, assembled from jpatterns functions, and their registry.

A model is a pair of pure functions, :class:`Model` ``(init, apply)``::

    params, state = model.init(key)                  # state: batch-norm statistics
    logits, state = model.apply(params, state, x, key, train=True)
    logits, state = model.apply(params, state, x, key, train=True, mask=m)  # takes_mask

``mask`` (a 0/1 vector over the batch, given only to a model whose ``takes_mask`` is
True) marks the real examples of a padded batch: the built-in models take batch-norm
statistics (and update the running statistics) over those rows alone; every other layer
acts per example, so padding cannot reach a real row. The engine pads the last partial
batch of an epoch this way under ``TrainConfig(remainder="keep")``.

Each hidden layer is ``linear → normalization → activation → dropout variant``, every
piece chosen by catalogue name in a :class:`~jpatterns.train.TrainConfig`:

* ``mlp``: ``depth`` dense layers of ``width`` units (default 128) on the flattened input;
* ``resmlp``: the same layers with a skip around each after the first, ``h + unit(h)``
  (seed 001 残差连接): ``mlp`` and ``resmlp`` differ only in the identity paths;
* ``cnn``: ``depth`` 3×3 conv layers of ``width`` channels (default 32), 2×2 max
  pool, one 3×3 conv of 2·width, flattened into the dense head (a global average
  pool would discard what instance norm keeps: after it every map's mean is β);
* ``resnet``: a conv stem, ``depth`` residual blocks ``act(x + f(x))`` (seed 001 残差连接,
  ``jpatterns.residual``), a projected downsampling block, global average pool;
* ``lstm``: ``jpatterns.lstm_cell`` scanned over the sequence (images: one row a
  step), the last hidden state through one hidden dense layer (default 64 units). With
  ``norm`` batch, layer, RMS or group norm the hidden state is also normalized at every
  step (one set of norm parameters, and for batch norm one set of running statistics,
  shared by the steps: the setting in which seed 004 §2 prefers LN to BN);
* ``transformer``: each step (images: each row) embedded linearly to ``width``
  features (default 64) plus a learned position embedding, ``depth`` pre-LN encoder
  blocks (``jpatterns.transformer_block``: ``heads``-head self-attention and a
  4·width MLP, each a residual branch after the config's ``norm``, the dropout
  variant on each branch), a final norm, the mean over steps into the head. The
  usual transformer is ``norm="layer_norm", activation="gelu"``.

Convolution and pooling windows are XLA's (``lax.conv_general_dilated``,
``jpatterns.max_pool`` / ``avg_pool``); everything else is a jpatterns pattern.

:data:`MODELS` maps a name to a builder ``builder(config, input_shape, num_classes) ->
Model``; :func:`register_model` adds one, so ``TrainConfig(model="mine")`` and
``jpatterns train --model mine`` find it. A :class:`Model` can also be passed directly as
``TrainConfig(model=Model(init, apply))``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

import jpatterns as jp
from jpatterns import activations as act_lib
from jpatterns import stochastic as drop_lib
from jpatterns.layers import _dense as _matmul_bias
from jpatterns.train.build import make_initializer
from jpatterns.train.config import DEFAULT_WIDTH, TrainConfig

__all__ = ["Model", "MODELS", "BUILTIN_MODELS", "register_model", "build_model"]
_PRELU_INIT = 0.25  # He et al. 2015's initial slope


def _num_groups(channels: int, spatial: bool) -> int:
  """Groups of at least 4 channels on feature maps, 16 on dense features (fewer and a
  group of two dense units normalizes to ±1 whatever the input), dividing ``channels``."""
  g = max(1, channels // (4 if spatial else 16))
  while channels % g:
    g -= 1
  return g


class Model(NamedTuple):
  """A model as two pure functions.

  Attributes:
    init: ``init(key) -> (params, state)``; ``state`` holds non-trained variables such
      as batch-norm statistics (``{}`` when there are none).
    apply: ``apply(params, state, x, key, train) -> (logits, new_state)`` for a batch
      ``x``; ``key`` drives dropout and other noise, ``train`` switches it on.
    name: recorded in metrics and checkpoints.
    takes_mask: ``apply`` also takes ``mask=`` (None, or 0/1 per example of ``x``: the
      real rows of a padded batch) and keeps padded rows out of everything that mixes
      examples (batch statistics). The built-in models do. Under
      ``TrainConfig(remainder="keep")`` a model without it (the default, False) is called
      without ``mask`` and sees the padded rows of an epoch's last batch (copies of real
      examples) as examples: its loss still counts the real rows only, but a layer that
      mixes examples, such as batch norm, includes the copies in its statistics.
  """

  init: Callable[[Any], tuple[Any, Any]]
  apply: Callable[..., tuple[Any, Any]]
  name: str = "custom"
  takes_mask: bool = False


def _is_zero(rate) -> bool:
  """A drop rate of 0 skips the layer; a traced rate (an engine argument) is never 0."""
  return not isinstance(rate, jax.core.Tracer) and rate == 0


# --- layers: (init, apply) pairs over plain dicts ------------------------------------


def _linear_init(cfg, key, shape):
  """Dense (in, out) or conv (kh, kw, in, out) weights; weight_norm stores v and g."""
  w = make_initializer(cfg)(key, shape)
  # Batch and instance norm subtract a per-channel mean, which cancels a bias: its
  # gradient is exactly zero, and an adaptive optimizer would turn the rounding noise
  # of that zero into steps of size lr. Such layers have no bias (as in flax's
  # ``use_bias=False`` before ``BatchNorm``).
  b = {} if cfg.norm in ("batch_norm", "instance_norm") else {"b": jnp.zeros(shape[-1])}
  if cfg.norm == "weight_norm":
    axes = tuple(range(len(shape) - 1))
    return {"v": w, "g": jnp.sqrt(jnp.sum(w * w, axis=axes)) + 1e-6, **b}
  return {"w": w, **b}


def _kernel(p):
  if "v" in p:  # w = g · v/‖v‖ over every axis but the output one (seed 002)
    return jp.weight_norm(p["v"], p["g"], axis=tuple(range(p["v"].ndim - 1)))
  return p["w"]


def _dense(p, x):
  return _matmul_bias(x, _kernel(p), p.get("b"))


def _conv(p, x, stride=1):
  """A 'SAME' convolution, NHWC × HWIO.

  On CPU it runs as im2col + one matmul (``conv_general_dilated_patches``): inside a
  vmapped ``lax.scan`` XLA:CPU lowers the seeds' convolutions to a grouped
  convolution that is about 6× slower than the batched matmul. Elsewhere it is
  ``lax.conv_general_dilated``. Both agree to float32 rounding.
  """
  w = _kernel(p)
  dims = ("NHWC", "HWIO", "NHWC")
  if jax.default_backend() == "cpu":
    kh, kw, c, o = w.shape
    patches = jax.lax.conv_general_dilated_patches(
      x, (kh, kw), (stride, stride), "SAME", dimension_numbers=dims
    )
    y = patches @ w.transpose(2, 0, 1, 3).reshape(c * kh * kw, o)  # (C, kh, kw) order
  else:
    y = jax.lax.conv_general_dilated(x, w, (stride, stride), "SAME", dimension_numbers=dims)
  return y + p["b"] if "b" in p else y


def _norm_init(cfg, channels):
  if cfg.norm in ("batch_norm", "layer_norm", "group_norm", "instance_norm"):
    return {"scale": jnp.ones(channels), "bias": jnp.zeros(channels)}, (
      jp.init_batch_norm_stats((channels,)) if cfg.norm == "batch_norm" else None
    )
  if cfg.norm == "rms_norm":
    return {"scale": jnp.ones(channels)}, None
  return {}, None


def _norm(cfg, p, s, x, train, mask=None):
  """The config's normalization; ``mask`` (0/1 per example) keeps padded rows out of
  batch-norm statistics (the other norms are per example)."""
  n = cfg.norm
  if n == "batch_norm":
    if mask is not None:
      mask = mask.reshape((x.shape[0],) + (1,) * (x.ndim - 1)) > 0
    return jp.batch_norm(
      x,
      s,
      scale=p["scale"],
      bias=p["bias"],
      train=train,
      axis=tuple(range(x.ndim - 1)),
      momentum=0.9,
      mask=mask,
    )
  if n == "layer_norm":
    return jp.layer_norm(x, scale=p["scale"], bias=p["bias"], axis=-1), s
  if n == "group_norm":
    groups = _num_groups(x.shape[-1], spatial=x.ndim > 2)
    return jp.group_norm(
      x,
      scale=p["scale"],
      bias=p["bias"],
      num_groups=groups,
      axis=tuple(range(1, x.ndim - 1)) or None,
    ), s
  if n == "rms_norm":
    return jp.rms_norm(x, scale=p["scale"], axis=-1), s
  if n == "instance_norm":
    return jp.instance_norm(x, scale=p["scale"], bias=p["bias"]), s
  if n == "local_response_norm":  # AlexNet's n=5, k=2, α=1e-4, β=0.75 (seed 002)
    return jp.local_response_norm(x, size=5), s
  return x, s  # none, weight_norm (in the kernel)


def _act_init(cfg, channels):
  return {"alpha": jnp.full(channels, _PRELU_INIT)} if cfg.activation == "prelu" else {}


def _act(cfg, p, x, key, train):
  name = cfg.activation
  if name == "prelu":
    y = act_lib.prelu(x, p["alpha"])
  elif name == "rrelu":
    y = act_lib.rrelu(key, x, train=train)
  else:
    y = getattr(act_lib, name)(x)
  if _CAPTURED:
    _CAPTURED[-1].append(y)
  return y


# Hidden activations recorded while a model is traced inside :func:`capturing` (the
# diagnostics read them); a stack, so nested captures each see their own.
_CAPTURED: list[list] = []


@contextlib.contextmanager
def capturing():
  """Collects every hidden activation a built-in model computes, in forward order.

  Used while tracing ``model.apply`` (the values are the traced arrays of that
  trace)::

    with capturing() as acts:
      logits, _ = model.apply(params, state, x, key, train=False)
    # acts: [first hidden activation, ..., last]

  A user's model records nothing.
  """
  acts: list = []
  _CAPTURED.append(acts)
  try:
    yield acts
  finally:
    _CAPTURED.pop()


def _drop(cfg, key, x, train, where):
  """The dropout variant where it applies; ``where`` is 'dense', 'conv' or 'branch'."""
  d, rate = cfg.dropout, cfg.dropout_rate
  if d == "none" or _is_zero(rate):
    return x
  if d == "dropout":
    return drop_lib.dropout(key, x, rate=rate, train=train)
  if d == "gaussian_dropout":
    return drop_lib.gaussian_dropout(key, x, rate=rate, train=train)
  if d == "alpha_dropout":
    return drop_lib.alpha_dropout(key, x, rate=rate, train=train)
  if d == "spatial_dropout" and where == "conv":
    return jax.vmap(lambda k, v: drop_lib.spatial_dropout(k, v, rate=rate, train=train))(
      jax.random.split(key, x.shape[0]), x
    )
  if d == "drop_path" and where == "branch":  # one draw per example
    return jax.vmap(lambda k, v: drop_lib.drop_path(k, v, rate=rate, train=train))(
      jax.random.split(key, x.shape[0]), x
    )
  return x  # the variant acts elsewhere in this model (weights, branches, gates)


def _unit_init(cfg, key, shape):
  """linear + norm + activation parameters for one hidden layer of ``shape``."""
  k1, k2 = jax.random.split(key)
  p = {"linear": _linear_init(cfg, k1, shape)}
  p["norm"], s = _norm_init(cfg, shape[-1])
  p["act"] = _act_init(cfg, shape[-1])
  if cfg.dropout == "standout":  # the gate's own weights W_s (seed 002 Standout)
    p["gate"] = {"w": make_initializer(cfg)(k2, shape), "b": jnp.zeros(shape[-1])}
  return p, s


def _post(cfg, p, s, h, key, train, where, mask=None):
  """norm → activation → dropout after the linear map."""
  k_act, k_drop = jax.random.split(key)
  h, s = _norm(cfg, p["norm"], s, h, train, mask)
  h = _act(cfg, p["act"], h, k_act, train)
  return _drop(cfg, k_drop, h, train, where), s


def _dense_unit(cfg, p, s, x, key, train, mask=None):
  k_lin, k_post = jax.random.split(key)
  lin = p["linear"]
  if cfg.dropout == "dropconnect" and train and not _is_zero(cfg.dropout_rate):  # seed 002: W
    h = drop_lib.dropconnect(k_lin, x, _kernel(lin), rate=cfg.dropout_rate, bias=lin.get("b"))
  elif cfg.dropout == "standout":  # keep probability g(W_s x) per unit (seed 002)

    def act(z):
      return _act(cfg, p["act"], z, k_post, train)

    return drop_lib.standout(
      k_lin,
      x,
      _kernel(lin),
      p["gate"]["w"],
      bias=lin.get("b"),
      gate_bias=p["gate"]["b"],
      activation=act,
      train=train,
    ), s
  else:
    h = _dense(lin, x)
  return _post(cfg, p, s, h, k_post, train, "dense", mask)


def _head_init(cfg, key, n_in, n_out):
  return {"w": make_initializer(cfg)(key, (n_in, n_out)), "b": jnp.zeros(n_out)}


# --- models --------------------------------------------------------------------------


def _mlp(cfg, input_shape, num_classes, width, residual=False):
  n_in = 1
  for d in input_shape:
    n_in *= d
  sizes = [n_in] + [width] * cfg.depth

  def init(key):
    keys = jax.random.split(key, cfg.depth + 1)
    params, state = {}, {}
    for i in range(cfg.depth):
      params[f"dense{i}"], state[f"dense{i}"] = _unit_init(cfg, keys[i], sizes[i : i + 2])
    params["head"] = _head_init(cfg, keys[-1], width, num_classes)
    return params, state

  def apply(params, state, x, key, train, mask=None):
    h = x.reshape(x.shape[0], -1)
    new_state = {}
    for i in range(cfg.depth):
      name = f"dense{i}"

      def unit(v, name=name, i=i):
        v, new_state[name] = _dense_unit(
          cfg, params[name], state[name], v, jax.random.fold_in(key, i), train, mask
        )
        return v

      h = jp.residual(unit, h) if residual and i > 0 else unit(h)
    return _dense(params["head"], h), new_state

  return Model(init, apply, takes_mask=True)


def _resmlp(cfg, input_shape, num_classes, width):
  """The mlp with a skip around every hidden layer after the first, ``h + unit(h)``
  (seed 001 残差连接): the same parameters as ``mlp``, only the identity paths added."""
  return _mlp(cfg, input_shape, num_classes, width, residual=True)


def _cnn(cfg, input_shape, num_classes, width):
  c_in = input_shape[-1]
  chans = [c_in] + [width] * cfg.depth

  def init(key):
    keys = jax.random.split(key, cfg.depth + 2)
    params, state = {}, {}
    for i in range(cfg.depth):
      params[f"conv{i}"], state[f"conv{i}"] = _unit_init(
        cfg, keys[i], (3, 3, chans[i], chans[i + 1])
      )
    params["conv_out"], state["conv_out"] = _unit_init(cfg, keys[-2], (3, 3, width, 2 * width))
    pooled = (input_shape[0] // 2) * (input_shape[1] // 2)
    params["head"] = _head_init(cfg, keys[-1], pooled * 2 * width, num_classes)
    return params, state

  def apply(params, state, x, key, train, mask=None):
    new_state = {}
    h = x
    for i in range(cfg.depth):
      name = f"conv{i}"
      k = jax.random.fold_in(key, i)
      h, new_state[name] = _post(
        cfg, params[name], state[name], _conv(params[name]["linear"], h), k, train, "conv", mask
      )
    h = jp.max_pool(h, window=2)
    k = jax.random.fold_in(key, cfg.depth)
    h, new_state["conv_out"] = _post(
      cfg,
      params["conv_out"],
      state["conv_out"],
      _conv(params["conv_out"]["linear"], h),
      k,
      train,
      "conv",
      mask,
    )
    h = h.reshape(h.shape[0], -1)  # flatten: keeps where a stroke is (LeNet's head)
    return _dense(params["head"], h), new_state

  return Model(init, apply, takes_mask=True)


def _resnet(cfg, input_shape, num_classes, width):
  c_in = input_shape[-1]

  def init(key):
    keys = jax.random.split(key, 2 * cfg.depth + 5)
    params, state = {}, {}
    params["stem"], state["stem"] = _unit_init(cfg, keys[0], (3, 3, c_in, width))
    for i in range(cfg.depth):
      for j in range(2):
        name = f"block{i}_{j}"
        params[name], state[name] = _unit_init(cfg, keys[1 + 2 * i + j], (3, 3, width, width))
    params["down_0"], state["down_0"] = _unit_init(cfg, keys[-4], (3, 3, width, 2 * width))
    params["down_1"], state["down_1"] = _unit_init(cfg, keys[-3], (3, 3, 2 * width, 2 * width))
    params["shortcut"] = _linear_init(cfg, keys[-2], (1, 1, width, 2 * width))
    params["head"] = _head_init(cfg, keys[-1], 2 * width, num_classes)
    return params, state

  def apply(params, state, x, key, train, mask=None):
    new_state = {}
    k_stem, k_blocks, k_down = jax.random.split(key, 3)
    stem = _conv(params["stem"]["linear"], x)
    h, new_state["stem"] = _post(
      cfg, params["stem"], state["stem"], stem, k_stem, train, "conv", mask
    )

    def branch(names, stride, k):
      def f(v):
        for j, name in enumerate(names):
          kj = jax.random.fold_in(k, j)
          v = _conv(params[name]["linear"], v, stride if j == 0 else 1)
          last = j == len(names) - 1
          if last:  # the last conv of the branch: norm only, activation after the sum
            v, new_state[name] = _norm(cfg, params[name]["norm"], state[name], v, train, mask)
          else:
            v, new_state[name] = _post(cfg, params[name], state[name], v, kj, train, "conv", mask)
        return _drop(cfg, jax.random.fold_in(k, 99), v, train, "branch")

      return f

    def out_act(name, v, k):
      return _act(cfg, params[name]["act"], v, k, train)

    for i in range(cfg.depth):
      k = jax.random.fold_in(k_blocks, i)
      names = (f"block{i}_0", f"block{i}_1")
      h = out_act(names[-1], jp.residual(branch(names, 1, k), h), k)
    h = jp.residual(
      branch(("down_0", "down_1"), 2, k_down),
      h,
      projection=lambda v: _conv(params["shortcut"], v, 2),
    )
    h = out_act("down_1", h, k_down)
    h = jnp.mean(h, axis=(1, 2))
    return _dense(params["head"], h), new_state

  return Model(init, apply, takes_mask=True)


# Norms the lstm model applies to its hidden state at every time step (per-example
# ones, and batch norm with one set of running statistics shared by the steps).
_RECURRENT_NORMS = ("batch_norm", "layer_norm", "rms_norm", "group_norm")


def _lstm(cfg, input_shape, num_classes, width):
  steps_features = input_shape[-1] if len(input_shape) == 2 else input_shape[1] * input_shape[2]

  def to_sequence(x):  # images: one row a time step
    return x.reshape(x.shape[0], x.shape[1], -1)

  def init(key):
    k_lstm, k_dense, k_head = jax.random.split(key, 3)
    params, state = {}, {}
    params["lstm"] = jp.init_lstm_params(k_lstm, steps_features, width)
    if cfg.norm in _RECURRENT_NORMS:
      params["recurrent"], state["recurrent"] = _norm_init(cfg, width)
    params["dense"], state["dense"] = _unit_init(cfg, k_dense, (width, width))
    params["head"] = _head_init(cfg, k_head, width, num_classes)
    return params, state

  def apply(params, state, x, key, train, mask=None):
    xs = jnp.swapaxes(to_sequence(x), 0, 1)  # (T, N, D)
    carry = jp.init_lstm_carry((xs.shape[1],), width)
    new_state = {}
    if "recurrent" in params:  # the norm on the hidden state at every step

      def step(c, xt):
        (cell, h), s = c
        (cell, h), _ = jp.lstm_cell(params["lstm"], (cell, h), xt)
        h, s = _norm(cfg, params["recurrent"], s, h, train, mask)
        return ((cell, h), s), None

      ((_, h), new_state["recurrent"]), _ = jax.lax.scan(step, (carry, state["recurrent"]), xs)
    else:
      (_, h), _ = jax.lax.scan(lambda c, xt: jp.lstm_cell(params["lstm"], c, xt), carry, xs)
    h, new_state["dense"] = _dense_unit(cfg, params["dense"], state["dense"], h, key, train, mask)
    return _dense(params["head"], h), new_state

  return Model(init, apply, takes_mask=True)


def _transformer(cfg, input_shape, num_classes, width):
  steps = input_shape[0]
  features = input_shape[-1] if len(input_shape) == 2 else input_shape[1] * input_shape[2]
  mlp_dim = 4 * width
  branch_ids = {"attn": 0, "mlp": 1}

  def linear(key, shape):  # w (v, g under weight_norm) and always a bias: no norm follows
    return {**_linear_init(cfg, key, shape), "b": jnp.zeros(shape[-1])}

  def init(key):
    keys = jax.random.split(key, cfg.depth + 3)
    params, state = {}, {}
    params["embed"] = linear(keys[0], (features, width))
    params["position"] = 0.02 * jax.random.normal(keys[1], (steps, width))  # learned
    for i in range(cfg.depth):
      k = jax.random.split(keys[2 + i], 6)
      p, s = {}, {}
      p["norm1"], s["norm1"] = _norm_init(cfg, width)
      p["attn"] = {n: linear(kn, (width, width)) for n, kn in zip("qkvo", k[:4])}
      p["norm2"], s["norm2"] = _norm_init(cfg, width)
      p["fc1"] = linear(k[4], (width, mlp_dim))
      p["act"] = _act_init(cfg, mlp_dim)
      p["fc2"] = linear(k[5], (mlp_dim, width))
      params[f"block{i}"], state[f"block{i}"] = p, s
    params["norm"], state["norm"] = _norm_init(cfg, width)
    params["head"] = _head_init(cfg, keys[-1], width, num_classes)
    return params, state

  def apply(params, state, x, key, train, mask=None):
    h = x.reshape(x.shape[0], steps, features)  # images: one row a token
    h = _dense(params["embed"], h) + params["position"]
    new_state = {}
    for i in range(cfg.depth):
      name, k_act, k_drop = f"block{i}", *jax.random.split(jax.random.fold_in(key, i))
      p, s, ns = params[name], state[name], {}

      def norm(which, v, p=p, s=s, ns=ns):
        v, ns[which] = _norm(cfg, p[which], s[which], v, train, mask)
        return v

      def branch(which, v, k=k_drop):
        return _drop(cfg, jax.random.fold_in(k, branch_ids[which]), v, train, "branch")

      attn = p["attn"]
      block = {
        "attn": {
          f"{a}{n}": _kernel(attn[n]) if a == "w" else attn[n]["b"] for n in "qkvo" for a in "wb"
        },
        "mlp": {
          "w1": _kernel(p["fc1"]),
          "b1": p["fc1"]["b"],
          "w2": _kernel(p["fc2"]),
          "b2": p["fc2"]["b"],
        },
      }
      h = jp.transformer_block(
        block,
        h,
        num_heads=cfg.heads,
        activation=lambda z, p=p, k=k_act: _act(cfg, p["act"], z, k, train),
        norm=norm,
        branch=branch,
      )
      new_state[name] = ns
    h, new_state["norm"] = _norm(cfg, params["norm"], state["norm"], h, train, mask)
    return _dense(params["head"], jnp.mean(h, axis=1)), new_state

  return Model(init, apply, takes_mask=True)


def _builtin(builder, name):
  def build(cfg, input_shape, num_classes):
    width = cfg.width or DEFAULT_WIDTH[name]
    return builder(cfg, tuple(input_shape), num_classes, width)._replace(name=name)

  build.__doc__ = builder.__doc__
  return build


BUILTIN_MODELS = ("mlp", "resmlp", "cnn", "resnet", "lstm", "transformer")
# name -> builder(config, input_shape, num_classes) -> Model
MODELS: dict[str, Callable[[TrainConfig, tuple, int], Model]] = {
  name: _builtin(b, name)
  for name, b in zip(BUILTIN_MODELS, (_mlp, _resmlp, _cnn, _resnet, _lstm, _transformer))
}


def register_model(name: str, builder: Callable[[TrainConfig, tuple, int], Model]) -> None:
  """Adds ``builder(config, input_shape, num_classes) -> Model`` to :data:`MODELS`.

  Args:
    name: the name ``TrainConfig(model=name)`` and ``jpatterns train --model`` take; not
      a built-in model's.
    builder: called with the validated config, the input shape without the batch axis
      and the number of classes; returns a :class:`Model`.

  Returns:
    None; ``TrainConfig(model=name)`` is valid from now on.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jpatterns import train
    >>> def linear(config, input_shape, num_classes):
    ...   n = int(jnp.prod(jnp.array(input_shape)))
    ...   init = lambda key: ({"w": jnp.zeros((n, num_classes))}, {})
    ...   apply = lambda p, s, x, key, train: (x.reshape(len(x), -1) @ p["w"], s)
    ...   return train.Model(init, apply, "linear")
    >>> train.register_model("linear", linear)
    >>> train.TrainConfig(model="linear").model
    'linear'
  """
  if not isinstance(name, str) or not name.isidentifier():
    raise ValueError(f"register_model: name={name!r} must be an identifier-like string")
  if name in BUILTIN_MODELS:
    raise ValueError(f"register_model: name={name!r} is a built-in model; choose another")
  if not callable(builder):
    raise ValueError(
      f"register_model: builder={builder!r} must be callable as "
      "builder(config, input_shape, num_classes) -> Model"
    )
  MODELS[name] = builder


def build_model(cfg: TrainConfig, input_shape, num_classes: int) -> Model:
  """The model ``cfg.model`` for examples of ``input_shape`` (no batch axis)."""
  if isinstance(cfg.model, Model):
    return cfg.model
  model = MODELS[cfg.model](cfg, tuple(input_shape), num_classes)
  if not isinstance(model, Model):
    raise ValueError(
      f"model={cfg.model!r}: its builder returned {type(model).__name__}, "
      "not a jpatterns.train.Model"
    )
  return model
