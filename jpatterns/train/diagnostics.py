"""Opt-in training diagnostics: what the documents say happens inside a network, measured.

``fit(..., diagnostics=True)`` (``jpatterns train --diagnostics``) measures, before the
first step and after every epoch, for every seed, on a fixed probe batch of training
examples (the first :data:`PROBE_EXAMPLES` of the training set):

* ``grad_norm`` ``(seeds, epochs + 1, L)``: ``‖∂loss/∂θ_layer‖₂`` per layer, the training
  loss in training mode (dropout on, batch statistics) with a fixed key, so epochs
  differ only by the parameters (seed 004 §4's vanishing gradients, seed 001's residual
  paths);
* ``weight_norm``, ``sparsity`` ``(seeds, epochs + 1, L)``: the L2 norm of the layer's
  kernel entries (leaves of two or more axes) and the fraction of them with
  ``|w| < ``:data:`SPARSE_BELOW` (seed 002 正则化: L1 zeroes weights, L2 shrinks them);
* ``act_mean``, ``act_std`` ``(seeds, epochs + 1, A)``: mean and standard deviation over
  the probe batch and the units of each hidden activation output of a built-in model,
  in forward order (seed 002 参数初始化; a user's model records none: ``A = 0``);
* ``effective_lr`` ``(seeds, epochs + 1)``: ``‖u‖ / ‖g‖`` for the update ``u`` the
  optimizer would make from its current state on the probe gradient ``g`` (computed,
  not applied): the learning rate actually in effect (AdaGrad's decays, seed 002);
* ``train_eval_loss``, ``train_eval_accuracy`` ``(seeds, epochs + 1)``: the probe batch in
  evaluation mode, so that :attr:`History.gap` compares training and test data alike
  (the train metrics of :data:`~jpatterns.train.METRICS` are taken with dropout on).

Index 0 of the epoch axis is the state the run starts from (the initialization, or a
resumed checkpoint), index ``e`` the state after epoch ``e``. ``L`` counts the
parameter groups: the top-level entries of ``params`` (``History.layers`` names them in
the model's order; ``History.kernel_sizes`` gives each one's kernel entries).

The measurement is one extra jitted program per configuration (shared, like the epoch
program, by configurations that differ only in hyperparameters), run once per epoch; a
run without diagnostics compiles and runs exactly what it did before.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jpatterns.train.models import capturing

__all__ = ["NAMES", "PROBE_EXAMPLES", "SPARSE_BELOW", "layer_names", "kernel_sizes", "measure"]

NAMES = (
  "grad_norm",
  "weight_norm",
  "sparsity",
  "act_mean",
  "act_std",
  "effective_lr",
  "train_eval_loss",
  "train_eval_accuracy",
)
PROBE_EXAMPLES = 256
SPARSE_BELOW = 1e-3


def layer_names(init, key) -> tuple[str, ...]:
  """The parameter groups of ``init(key) -> (params, state)`` in the order ``init``
  builds them (a dict's insertion order; jax's trees sort dict keys)."""
  order = []

  def record(k):
    params, _ = init(k)
    order.append(_names(params))
    return params

  jax.eval_shape(record, key)
  return order[0]


def _names(params) -> tuple[str, ...]:
  if isinstance(params, dict):
    return tuple(str(k) for k in params)
  if isinstance(params, list | tuple):
    return tuple(str(i) for i in range(len(params)))
  return ("params",)


def _groups(params, layers) -> list:
  if isinstance(params, dict):
    by_name = {str(k): v for k, v in params.items()}
    return [by_name[n] for n in layers]
  if isinstance(params, list | tuple):
    return list(params)
  return [params]


def _kernels(tree) -> list:
  return [a for a in jax.tree.leaves(tree) if jnp.ndim(a) >= 2]


def kernel_sizes(params, layers) -> tuple[int, ...]:
  """Kernel entries (leaves of two or more axes) of each parameter group."""
  return tuple(sum(int(np.size(a)) for a in _kernels(g)) for g in _groups(params, layers))


def _norm(tree) -> jax.Array:
  leaves = jax.tree.leaves(tree)
  if not leaves:
    return jnp.float32(0.0)
  return jnp.sqrt(sum(jnp.sum(jnp.square(a.astype(jnp.float32))) for a in leaves))


def _safe_ratio(a, b):
  return jnp.where(b > 0, a / jnp.where(b > 0, b, 1.0), 0.0)


def measure(
  params, opt_state, optimizer, loss_and_logits, labels, layers: tuple[str, ...]
) -> dict[str, Any]:
  """The diagnostics of one seed at one moment (see the module docstring).

  Args:
    params, opt_state: the seed's parameters and optimizer state.
    optimizer: the ``optax.GradientTransformation`` being trained.
    loss_and_logits: ``loss_and_logits(params, train) -> (loss, logits)`` on the probe
      batch (the model state and the key fixed inside).
    labels: the probe batch's one-hot labels.
    layers: :func:`layer_names` of the model.

  Returns:
    ``{name: array}`` for :data:`NAMES`, per-layer values as vectors.
  """

  def train_loss(p):
    with capturing() as acts:
      loss, _ = loss_and_logits(p, True)
    return loss, list(acts)

  (_, acts), grads = jax.value_and_grad(train_loss, has_aux=True)(params)
  eval_loss, logits = loss_and_logits(params, False)
  updates, _ = optimizer.update(grads, opt_state, params)
  kernels = [_kernels(g) for g in _groups(params, layers)]
  sizes = [sum(a.size for a in k) for k in kernels]
  small = [sum(jnp.sum(jnp.abs(a) < SPARSE_BELOW) for a in k) for k in kernels]
  acts32 = [a.astype(jnp.float32) for a in acts]
  vector = lambda values: jnp.stack(values) if values else jnp.zeros((0,), jnp.float32)  # noqa: E731
  return {
    "grad_norm": vector([_norm(g) for g in _groups(grads, layers)]),
    "weight_norm": vector([_norm(k) for k in kernels]),
    "sparsity": vector(
      [jnp.float32(s) / n if n else jnp.float32(0.0) for s, n in zip(small, sizes)]
    ),
    "act_mean": vector([jnp.mean(a) for a in acts32]),
    "act_std": vector([jnp.std(a) for a in acts32]),
    "effective_lr": _safe_ratio(_norm(updates), _norm(grads)),
    "train_eval_loss": eval_loss.astype(jnp.float32),
    "train_eval_accuracy": jnp.mean(jnp.argmax(logits, -1) == jnp.argmax(labels, -1)),
  }
