"""Finite-difference gradient check (seed 003 §1 反向传播 Back-Propagation).

Seed 003 §1 contrasts analytic differentiation (back-prop, the chain rule) with
"approximate differentiation using finite differences", whose cost is ``O(N)``
function evaluations for ``N`` parameters — too expensive to train with, which is
why finite differences are used "to verify back-prop while debugging". This
module is that debugging tool for JAX: it compares ``jax.grad`` with central
differences over every element of a pytree of parameters and says where they
disagree most.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jpatterns import _validation
from jpatterns._validation import check_positive_int

__all__ = ["GradCheckResult", "check_grads"]


class GradCheckResult(NamedTuple):
  """The outcome of ``check_grads``.

  Attributes:
    max_rel_error: the worst relative error over all checked elements.
    path: where it is: the leaf's path in the pytree, as ``jax.tree_util.keystr``
      writes it (e.g. ``"['layer1']['w']"``).
    index: the element's index inside that leaf (a tuple, ``()`` for a scalar).
    numeric: the central-difference derivative there.
    analytic: the ``jax.grad`` derivative there.
    rel_errors: the relative error of every element, a pytree shaped like
      ``params`` (zeros for non-floating leaves, which are not checked).
  """

  max_rel_error: float
  path: str
  index: tuple
  numeric: float
  analytic: float
  rel_errors: Any


def check_grads(f, params, *, eps=None, floor=None, batch_size=None):
  r"""Checks ``jax.grad(f)`` against central finite differences (seed 003 §1).

  .. math::
    g^{\mathrm{num}}_i = \frac{f(\theta + h_i e_i) - f(\theta - h_i e_i)}{2 h_i},
    \qquad
    r_i = \frac{|g^{\mathrm{num}}_i - g^{\mathrm{ad}}_i|}
               {\max(|g^{\mathrm{num}}_i|, |g^{\mathrm{ad}}_i|, \mathrm{floor})}

  Every floating-point element of every leaf of ``params`` is perturbed in turn
  (``2N`` evaluations of ``f`` for ``N`` elements — seed 003's ``O(N)``, against
  one forward and one backward pass for ``jax.grad``). The perturbed evaluations
  are vectorized with ``jax.lax.map(..., batch_size=...)`` (``vmap`` over chunks of
  ``batch_size`` perturbations inside a ``scan``) and jit-compiled once.
  Integer / boolean leaves are held fixed.

  Precision: with ``jax_enable_x64`` on, the check runs in float64 (floating leaves
  are cast), otherwise in float32. The step is relative, :math:`h_i = \mathrm{eps}
  \cdot \max(1, |\theta_i|)`, with default ``eps`` the cube root of the machine
  epsilon (the step that balances the central difference's :math:`O(h^2)`
  truncation error against its :math:`O(\varepsilon / h)` rounding error):
  6.1e-6 in float64, 4.9e-3 in float32. The division uses the step actually
  representable, :math:`(\theta_i + h_i) - (\theta_i - h_i)`. ``floor`` keeps
  elements whose true derivative is ~0 from reporting rounding noise as a large
  relative error; default :math:`\sqrt{\varepsilon}\,\max(1, |f(\theta)|)`.
  Expect ``max_rel_error`` around 1e-8 or below in float64 and 1e-4..1e-3 in
  float32 for a correct, smooth ``f``; a wrong gradient shows up as an error of
  order 0.1..1 at the element concerned. At kinks (ReLU at 0, max) the two
  disagree legitimately.

  Args:
    f: a function of ``params`` returning a scalar; close over the data
      (``lambda p: loss(p, x, y)``). It must be traceable (``jit`` / ``vmap``).
    params: a pytree of arrays (the point where gradients are checked).
    eps: relative step size; ``None`` = cube root of the machine epsilon.
    floor: lower bound of the relative error's denominator; ``None`` = see above.
    batch_size: perturbations evaluated together (memory ``batch_size * N``);
      ``None`` = ``max(1, min(N, 2**22 // N))``.

  Returns:
    ``GradCheckResult(max_rel_error, path, index, numeric, analytic, rel_errors)``.

  Example:
    >>> import jax.numpy as jnp
    >>> params = {"w": jnp.array([1.0, 2.0]), "b": jnp.array(0.5)}
    >>> res = check_grads(lambda p: jnp.sum(p["w"] ** 2) * p["b"], params)
    >>> print(res.max_rel_error < 1e-3, res.path in ("['b']", "['w']"))
    True True

  References:
    Bengio, "Practical Recommendations for Gradient-Based Training of Deep
    Architectures" (§ gradient checking), 2012.
  """
  fn = "check_grads"
  dtype = jax.dtypes.canonicalize_dtype(jnp.float64)  # float64 iff x64 is on
  if eps is None:
    eps = float(np.finfo(dtype).eps) ** (1.0 / 3.0)
  _validation.check_callable(fn, "f", f)
  _validation.check_positive(fn, "eps", eps)
  if floor is not None:
    _validation.check_non_negative(fn, "floor", floor)

  leaves_with_path, treedef = jax.tree_util.tree_flatten_with_path(params)
  leaves = [jnp.asarray(leaf) for _, leaf in leaves_with_path]
  checked = [i for i, leaf in enumerate(leaves) if jnp.issubdtype(leaf.dtype, jnp.floating)]
  if not checked:
    raise ValueError(
      f"{fn}: params has no floating-point leaves to check; pass a pytree of float arrays"
    )
  sizes = [leaves[i].size for i in checked]
  offsets = np.cumsum([0] + sizes)
  n = int(offsets[-1])

  def unflatten(theta):
    new = list(leaves)
    for j, i in enumerate(checked):
      new[i] = theta[offsets[j] : offsets[j + 1]].reshape(leaves[i].shape)
    return jax.tree_util.tree_unflatten(treedef, new)

  def f_flat(theta):
    out = jnp.asarray(f(unflatten(theta)))
    if out.shape != ():
      raise ValueError(
        f"{fn}: f must return a scalar but returned shape {out.shape}; "
        "reduce it (e.g. jnp.sum or .mean())"
      )
    return out.astype(dtype)

  theta = jnp.concatenate([leaves[i].astype(dtype).ravel() for i in checked])
  if batch_size is None:
    batch_size = max(1, min(n, 2**22 // n))
  check_positive_int(fn, "batch_size", batch_size)  # an int >= 1, or None (the default)

  def numeric_and_analytic(theta):
    value, analytic = jax.value_and_grad(f_flat)(theta)
    h = eps * jnp.maximum(1.0, jnp.abs(theta))  # h_i = eps max(1, |theta_i|)
    plus, minus = theta + h, theta - h

    def central_difference(i):  # (f(theta + h e_i) - f(theta - h e_i)) / 2h
      f_plus = f_flat(theta.at[i].set(plus[i]))
      f_minus = f_flat(theta.at[i].set(minus[i]))
      return (f_plus - f_minus) / (plus[i] - minus[i])

    numeric = lax.map(central_difference, jnp.arange(n), batch_size=batch_size)
    return value, numeric, analytic

  value, numeric, analytic = jax.jit(numeric_and_analytic)(theta)
  value, numeric, analytic = (np.asarray(a, np.float64) for a in (value, numeric, analytic))
  if floor is None:
    floor = math.sqrt(float(np.finfo(dtype).eps)) * max(1.0, abs(float(value)))
  denom = np.maximum(np.maximum(np.abs(numeric), np.abs(analytic)), floor)
  with np.errstate(invalid="ignore", divide="ignore"):
    rel = np.abs(numeric - analytic) / np.where(denom > 0, denom, 1.0)
  rel = np.where(np.isnan(rel), np.inf, rel)  # a NaN derivative is the worst error

  worst = int(np.argmax(rel))
  j = int(np.searchsorted(offsets, worst, side="right") - 1)
  leaf_i = checked[j]
  index = tuple(int(k) for k in np.unravel_index(worst - offsets[j], leaves[leaf_i].shape))
  rel_leaves = [np.zeros(leaf.shape) for leaf in leaves]
  for jj, i in enumerate(checked):
    rel_leaves[i] = rel[offsets[jj] : offsets[jj + 1]].reshape(leaves[i].shape)
  return GradCheckResult(
    max_rel_error=float(rel[worst]),
    path=jax.tree_util.keystr(leaves_with_path[leaf_i][0]),
    index=index,
    numeric=float(numeric[worst]),
    analytic=float(analytic[worst]),
    rel_errors=jax.tree_util.tree_unflatten(treedef, rel_leaves),
  )
