"""A leaf-count-independent training step: one flat buffer per dtype (beyond seed 002).

An optimizer applied to a pytree does its work leaf by leaf: with 1000 parameter arrays
XLA compiles and launches ~1000 small fusions per step (optax's Adam on 1000 × 10k
floats is ~3× slower per step than on one 10M array and takes seconds to compile).
Here parameters, gradients and every optimizer state live in ONE contiguous 1-D buffer
(per dtype) for the whole training step, and the model sees its pytree as views of it::

  flat, unflatten = flatten_params(params)     # once, outside the step
  opt_state = opt.init(flat)                   # the optimizer sees one leaf
  step = jax.jit(flat_train_step(loss_fn, opt, unflatten), donate_argnums=(0, 1))
  flat, opt_state, loss = step(flat, opt_state, batch)
  params = unflatten(flat)                     # the pytree, whenever needed

Inside the step ``unflatten(flat)`` is one ``lax.split`` (static slices) plus
reshapes, so ``jax.grad`` with respect to the flat buffer transposes it into ONE
``concatenate`` (not one ``pad`` + ``add`` per leaf, which is what slicing with
``flat[a:b]`` gives), and the optimizer update is one fused pass over one buffer.

What commutes with flattening, and what does not
-----------------------------------------------
The flat path gives the tree form's numbers for any ``optax.GradientTransformation``
whose update is ELEMENTWISE (each output element depends on the same element of the
inputs and on scalars): every jpatterns optimizer (sgd, momentum, nesterov, adagrad,
adadelta, rmsprop, adam, adamw, amsgrad, nadam, adamax, lion), ``clip_by_value``,
schedules, ``optax.inject_hyperparams``, ``optax.MultiSteps``. Transforms that reduce
over ALL parameters also commute: ``clip_by_global_norm`` (the norm of the flat buffer
is the global norm; only the summation order differs) and ``optax.apply_if_finite``
(one all-or-nothing test).

Transforms that need the per-leaf structure do NOT commute, and the flat path cannot
detect them — the transform simply sees one 1-D array (``ndim == 1``):

* per-tensor norms: ``clip_by_norm`` per tensor, ``max_norm`` over a weight's axes,
  layer-wise trust ratios (LARS, LAMB), factored or matrix preconditioners
  (Adafactor, Shampoo, Muon). Use the tree form for these.
* masks and labels (``optax.masked``, ``optax.multi_transform``, weight decay with a
  ``mask``): a mask written for the tree does not fit the flat dict, and a callable
  mask receives the flat buffers. Handle them with ``groups=``: leaves with different
  labels go to different buffers, keyed by label, and the mask/labels are given per
  buffer, e.g. no decay on biases and norm scales::

    flat, unflatten = flatten_params(
        params, groups=lambda p: jax.tree.map(lambda x: "decay" if x.ndim > 1 else "no_decay", p))
    opt = adamw(1e-3, weight_decay=1e-2, mask={"decay": True, "no_decay": False})

The leaf count of the optimizer is then the number of groups, still independent of the
number of parameter arrays.

Cost that remains (the model's side): the model reads each weight through a static
slice of the flat buffer, which XLA materialises as a small copy kernel wherever the
consumer (a dot, a convolution) cannot fuse it, and the gradient is assembled by one
concatenate (one extra write of the gradient). So the OPTIMIZER part is one fused pass
whose size and compile time do not depend on the number of arrays, but the whole step
still holds one slice per weight. On XLA:CPU these slice kernels are not free to compile
(measured here: a 50-layer MLP forward compiled in 0.3 s on the tree, 2.2 s on views;
see ``benchmarks/bench_optim.py``, "Whole training step"), so where compile time of the
whole step matters more than step time, measure both forms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

__all__ = ["FlatLayout", "flatten_params", "flat_train_step"]


class FlatLayout:
  """Where each leaf of a pytree lives in its flat buffers; calling it unflattens.

  Built by :func:`flatten_params`. ``layout(flat)`` returns the pytree as views of the
  buffers (``lax.split`` + reshape; works under jit, vmap and grad; outside jit the
  first call compiles the split, later calls reuse it);
  ``layout.flatten(tree)`` packs a tree of the same structure (e.g. gradients or a
  tree-form optimizer moment) into buffers with this layout. Any tree of buffers with
  this layout unflattens, e.g. an optimizer moment: ``layout(opt_state.adam_m)``.

  Attributes:
    treedef: the pytree structure of the parameters.
    keys: the buffer names, sorted (dtype names, or the ``groups`` labels).
    shapes: the shape of each leaf, in ``treedef`` leaf order.
    dtypes: the dtype of each leaf.
    buffer_of: the buffer name of each leaf.
  """

  def __init__(self, treedef, shapes, dtypes, buffer_of):
    self.treedef = treedef
    self.shapes = tuple(tuple(s) for s in shapes)
    self.dtypes = tuple(jnp.dtype(d) for d in dtypes)
    self.buffer_of = tuple(buffer_of)
    self.keys = tuple(sorted(set(self.buffer_of)))
    # Per buffer: the leaf indices it holds, in order, and their sizes.
    self._members = {k: [i for i, b in enumerate(self.buffer_of) if b == k] for k in self.keys}
    self._sizes = {
      k: [int(np.prod(self.shapes[i], dtype=np.int64)) for i in self._members[k]] for k in self.keys
    }
    self.buffer_sizes = {k: sum(self._sizes[k]) for k in self.keys}
    self.buffer_dtypes = {k: self.dtypes[self._members[k][0]] for k in self.keys}

  def __repr__(self):
    parts = ", ".join(
      f"{k}: {self.buffer_dtypes[k].name}[{self.buffer_sizes[k]}]" for k in self.keys
    )
    return f"FlatLayout({self.treedef.num_leaves} leaves -> {{{parts}}})"

  def _check_flat(self, fn: str, flat) -> None:
    if not isinstance(flat, dict) or set(flat) != set(self.keys):
      got = sorted(flat) if isinstance(flat, dict) else type(flat).__name__
      raise ValueError(
        f"{fn}: flat={got} does not match the layout; choose a dict with keys {list(self.keys)}"
      )
    for k in self.keys:
      shape = jnp.shape(flat[k])
      if shape != (self.buffer_sizes[k],):
        raise ValueError(
          f"{fn}: flat[{k!r}] has shape {shape}; choose a 1-D buffer of "
          f"{self.buffer_sizes[k]} elements (this layout)"
        )

  def __call__(self, flat: dict) -> Any:
    """The pytree view of ``flat``: leaf i = split(buffer)[j].reshape(shape_i)."""
    self._check_flat("FlatLayout", flat)
    leaves = [None] * len(self.shapes)
    for k in self.keys:
      members = self._members[k]
      # One split, whose transpose is ONE concatenate (slices would give a pad + add
      # per leaf in the gradient).
      pieces = lax.split(flat[k], self._sizes[k]) if len(members) > 1 else [flat[k]]
      for i, piece in zip(members, pieces):
        leaves[i] = piece.reshape(self.shapes[i])  # θ_i = flat[o_i : o_i + n_i] as shape_i
    return self.treedef.unflatten(leaves)

  def flatten(self, tree: Any) -> dict:
    """Packs ``tree`` (same structure and shapes as the parameters) into flat buffers.

    Leaves are cast to their buffer's dtype. Use it for gradients computed in tree
    form or to convert a tree-form optimizer moment; inside the flat step it is not
    needed (``jax.grad`` wrt the flat buffers already returns buffers).
    """
    leaves = self.treedef.flatten_up_to(tree)
    out = {}
    for k in self.keys:
      parts = []
      for i in self._members[k]:
        leaf = jnp.asarray(leaves[i])
        if leaf.shape != self.shapes[i]:
          raise ValueError(
            f"FlatLayout.flatten: leaf {i} has shape {leaf.shape}; choose "
            f"shape {self.shapes[i]} (the layout's)"
          )
        parts.append(leaf.reshape(-1).astype(self.buffer_dtypes[k]))
      out[k] = jnp.concatenate(parts) if len(parts) > 1 else parts[0]
    return out


def _labels(groups, params, treedef) -> list:
  labels = groups(params) if callable(groups) else groups
  try:
    labels = treedef.flatten_up_to(labels)
  except (ValueError, TypeError) as e:
    raise ValueError(
      f"flatten_params: groups must be a pytree of str labels with the "
      f"structure of params (or a function returning one); got {e}"
    ) from None
  for label in labels:
    if not isinstance(label, str):
      raise ValueError(
        f"flatten_params: groups label {label!r} is not a str; choose a str "
        "label per leaf (it names the buffer)"
      )
  return labels


def flatten_params(
  params: Any, *, groups: Any | Callable[[Any], Any] | None = None
) -> tuple[dict, FlatLayout]:
  r"""Packs a parameter pytree into flat 1-D buffers, one per dtype (or per group).

  .. math::

     \text{flat} = [\operatorname{vec}\theta_1; \operatorname{vec}\theta_2; \dots;
       \operatorname{vec}\theta_L], \qquad
     \theta_i = \text{flat}[o_i : o_i + n_i].\text{reshape}(\text{shape}_i)

  Leaves are laid out in ``jax.tree`` order. Without ``groups`` the buffers are keyed
  by dtype name (``{"float32": ...}`` for a single-dtype model; a mixed bf16/f32
  model gets two buffers). With ``groups``, each leaf's label names its buffer, so
  masks and labels can be given per buffer (see the module docstring); leaves of one
  group must share a dtype.

  Args:
    params: a pytree of floating-point arrays (scalars and size-0 leaves allowed).
    groups: optional str label per leaf, as a pytree with the structure of
      ``params`` or a function ``params -> labels`` (as ``optax.multi_transform``'s
      ``param_labels``).

  Returns:
    ``(flat, unflatten)``: ``flat`` a dict ``{name: 1-D array}``; ``unflatten`` a
    :class:`FlatLayout`, ``unflatten(flat)`` gives the pytree back as views.

  Raises:
    ValueError: a non-floating leaf (integer state belongs outside the parameters),
      a non-str label, or a group holding several dtypes.

  Example:
    >>> import jax.numpy as jnp
    >>> params = {"w": jnp.ones((2, 3)), "b": jnp.zeros(3), "s": jnp.array(2.0)}
    >>> flat, unflatten = flatten_params(params)
    >>> print({k: v.shape for k, v in flat.items()})
    {'float32': (10,)}
    >>> print(jax.tree.map(jnp.shape, unflatten(flat)))
    {'b': (3,), 's': (), 'w': (2, 3)}

  References:
    ``jax.flatten_util.ravel_pytree`` (same packing, one dtype, slice-based unravel);
    PyTorch's ``foreach``/fused optimizers and Apex's flat-buffer FusedAdam (2019).
  """
  fn = "flatten_params"
  leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(params)
  leaves = [jnp.asarray(leaf) for _, leaf in leaves_with_path]
  for (path, _), leaf in zip(leaves_with_path, leaves):
    if not jnp.issubdtype(leaf.dtype, jnp.inexact):
      raise ValueError(
        f"{fn}: leaf {jax.tree_util.keystr(path)} has dtype {leaf.dtype}; "
        "choose floating-point parameters (keep integer state outside params)"
      )
  if groups is None:
    buffer_of = [leaf.dtype.name for leaf in leaves]
  else:
    buffer_of = _labels(groups, params, treedef)
    seen = {}
    for (path, _), leaf, label in zip(leaves_with_path, leaves, buffer_of):
      if seen.setdefault(label, leaf.dtype) != leaf.dtype:
        raise ValueError(
          f"{fn}: group {label!r} holds {seen[label]} and {leaf.dtype} "
          f"(leaf {jax.tree_util.keystr(path)}); choose one dtype per group, "
          f"e.g. label it {label + '_' + leaf.dtype.name!r}"
        )
  layout = FlatLayout(
    treedef, [leaf.shape for leaf in leaves], [leaf.dtype for leaf in leaves], buffer_of
  )
  return layout.flatten(treedef.unflatten(leaves)), layout


def flat_train_step(
  loss_fn: Callable[..., Any],
  optimizer: optax.GradientTransformation,
  unflatten: FlatLayout,
  *,
  has_aux: bool = False,
) -> Callable:
  r"""A training step on flat buffers: grad wrt the buffers, one-leaf optimizer update.

  .. math::

     g = \nabla_{\text{flat}}\, L(\text{unflatten}(\text{flat}), \text{batch}), \qquad
     (\Delta, s) = \text{update}(g, s, \text{flat}), \qquad
     \text{flat} \leftarrow \text{flat} + \Delta

  The gradient of the views is one concatenate; the update runs over one buffer per
  dtype/group, so its cost and compile time do not depend on the number of parameter
  arrays. Same numbers as the tree form for elementwise transforms (see the module
  docstring for those that need per-leaf structure). Not jitted: jit it yourself,
  donating the buffers and the state, ``jax.jit(step, donate_argnums=(0, 1))``.

  Args:
    loss_fn: ``loss_fn(params_tree, *batch) -> loss`` (or ``(loss, aux)`` with
      ``has_aux``), written for the ordinary pytree.
    optimizer: an ``optax.GradientTransformation`` (any jpatterns optimizer), whose
      state was built with ``optimizer.init(flat)``.
    unflatten: the :class:`FlatLayout` returned by :func:`flatten_params`.
    has_aux: whether ``loss_fn`` returns ``(loss, aux)``.

  Returns:
    ``step(flat, opt_state, *batch) -> (flat, opt_state, loss)``, or
    ``(flat, opt_state, loss, aux)`` with ``has_aux``.

  Example:
    >>> import jax, jax.numpy as jnp, optax
    >>> params = {"w": jnp.array([[1.0, -1.0]]), "b": jnp.array(0.5)}
    >>> loss_fn = lambda p, x: jnp.sum((x @ p["w"] + p["b"]) ** 2)
    >>> flat, unflatten = flatten_params(params)
    >>> opt = optax.sgd(0.05)
    >>> step = jax.jit(flat_train_step(loss_fn, opt, unflatten), donate_argnums=(0, 1))
    >>> flat, state, loss = step(flat, opt.init(flat), jnp.array([[2.0]]))
    >>> print(round(float(loss), 3), jnp.round(unflatten(flat)["w"], 3))
    8.5 [[ 0.5 -0.7]]

  References:
    Apex FusedAdam / PyTorch ``fused=True`` optimizers (multi-tensor apply, 2019).
  """
  if not callable(loss_fn):
    raise ValueError(f"flat_train_step: loss_fn={loss_fn!r} is not callable")
  if not (
    callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update", None))
  ):
    raise ValueError(
      f"flat_train_step: optimizer={optimizer!r} is not an optax.GradientTransformation"
    )
  if not isinstance(has_aux, (bool, np.bool_)):
    raise ValueError(f"flat_train_step: has_aux={has_aux!r} must be True or False")
  if not isinstance(unflatten, FlatLayout):
    raise ValueError(
      f"flat_train_step: unflatten={type(unflatten).__name__}; choose the "
      "FlatLayout returned by flatten_params"
    )

  def flat_loss(flat, *batch):
    return loss_fn(unflatten(flat), *batch)  # L(unflatten(flat))

  grad_fn = jax.value_and_grad(flat_loss, has_aux=has_aux)

  def step(flat, opt_state, *batch):
    value, grads = grad_fn(flat, *batch)  # g = ∇_flat L: one concatenate of leaf grads
    updates, opt_state = optimizer.update(grads, opt_state, flat)  # Δ over one buffer
    flat = optax.apply_updates(flat, updates)  # flat ← flat + Δ
    if has_aux:
      loss, aux = value
      return flat, opt_state, loss, aux
    return flat, opt_state, value

  return step
