"""What a claim measures: a metric spec turned into one value per seed.

A spec is a small dict, ``{"kind": KIND, ...parameters}``, from a fixed vocabulary
(:data:`KINDS`). Training metrics (``History.metrics``, ``(seeds, epochs)``):

* ``final``: ``{"of": METRIC}``, the last epoch's value;
* ``mean_over_epochs``: ``{"of": METRIC}``, the mean over epochs, i.e. the area under the
  curve per epoch: a lower train-loss area is faster convergence.

Diagnostics (``History.diagnostics``, index 0 of the epoch axis = at initialization,
``e`` = after epoch ``e``); ``epoch`` is such an index (negative counts from the end)
or ``"mean"`` (mean over every index):

* ``gap``: ``train_eval_accuracy − test_accuracy`` after epoch ``epoch`` (default the
  last; ``epoch`` counts epochs 1..E here, so ``-1`` is the last and ``0`` is refused);
* ``grad_norm_ratio``: ``log10(‖g_first‖ / ‖g_last‖)`` over the parameter groups
  ``layers`` (default ``[0, -1]``: the first hidden layer and the head) at ``epoch``
  (default 0): strongly negative means the gradient vanishes towards the input;
* ``grad_norm_spread``: ``max − min`` over layers of ``log10 ‖g‖`` at ``epoch``: how many
  decades the per-layer gradient norms span;
* ``act_std_ratio``: ``log10(std_last / std_first)`` of the hidden activations at
  ``epoch`` (default 0); ``"abs": true`` takes its absolute value (0: the scale is
  kept through the depth);
* ``act_mean_abs``: the mean over hidden layers of ``|mean activation|`` at ``epoch``
  (default -1);
* ``sparsity``: the share of all kernel entries with ``|w| < 1e-3`` at ``epoch``
  (default -1), layers weighted by their size (``History.kernel_sizes``);
* ``weight_norm``: the L2 norm of all kernel entries together at ``epoch`` (default -1);
* ``effective_lr_ratio``: ``log10(lr_eff[to] / lr_eff[from])`` (default ``from`` 0,
  ``to`` -1), ``lr_eff = ‖update‖ / ‖gradient‖``.

Norms are floored at ``1e-30`` before a logarithm, so a gradient that underflows to 0
gives a large negative (finite) number rather than ``-inf``.

Non-finite values (a run that diverged): for a loss (``final`` and ``mean_over_epochs``
of ``train_loss``/``test_loss``) a NaN or infinite value means the worst outcome and is
replaced by the worst finite value of the claim (over every arm and seed), and at least
``ln(num_classes)``, the loss of a uniform guess. :func:`map_nonfinite` does that and
counts the replacements. Other metrics keep NaN, which makes their tests inconclusive.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
  "KINDS",
  "TRAIN_METRICS",
  "check_spec",
  "needs_diagnostics",
  "describe",
  "metric_values",
  "is_loss",
  "map_nonfinite",
  "gap_curve",
]

# jpatterns.train.METRICS, repeated so that reading claims (`jpatterns study --list`) does not
# import jax; tests/test_study.py checks the two agree.
TRAIN_METRICS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy")
_FLOOR = 1e-30

# kind -> {parameter: default} (a parameter without a default is required: ...).
_REQUIRED = object()
KINDS: dict[str, dict] = {
  "final": {"of": _REQUIRED},
  "mean_over_epochs": {"of": _REQUIRED},
  "gap": {"epoch": -1},
  "grad_norm_ratio": {"epoch": 0, "layers": (0, -1)},
  "grad_norm_spread": {"epoch": 0},
  "act_std_ratio": {"epoch": 0, "abs": False},
  "act_mean_abs": {"epoch": -1},
  "sparsity": {"epoch": -1},
  "weight_norm": {"epoch": -1},
  "effective_lr_ratio": {"from": 0, "to": -1},
}


def _is_int(v) -> bool:
  return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def check_spec(spec, where: str = "metric") -> dict:
  """``spec`` with its defaults filled in, or ``ValueError`` naming the bad entry."""
  if not isinstance(spec, dict):
    raise ValueError(f"{where}={spec!r} must be a table/object with a 'kind'")
  kind = spec.get("kind")
  if kind not in KINDS:
    raise ValueError(f"{where}.kind={kind!r} is not valid; choose from {', '.join(KINDS)}")
  params = KINDS[kind]
  unknown = sorted(set(spec) - set(params) - {"kind"})
  if unknown:
    raise ValueError(
      f"{where}: {', '.join(unknown)} not parameters of kind {kind!r}; it takes "
      f"{', '.join(params) or 'none'}"
    )
  out = {"kind": kind}
  for name, default in params.items():
    if name not in spec and default is _REQUIRED:
      raise ValueError(f"{where}.{name} is missing; kind {kind!r} needs it")
    out[name] = spec.get(name, default)
  if "of" in out and out["of"] not in TRAIN_METRICS:
    raise ValueError(
      f"{where}.of={out['of']!r} is not valid; choose from {', '.join(TRAIN_METRICS)}"
    )
  for name in ("epoch", "from", "to"):
    if name in out:
      v = out[name]
      if not (_is_int(v) or (name == "epoch" and v == "mean" and kind != "gap")):
        what = "an integer epoch index" + (
          ' or "mean"' if name == "epoch" and kind != "gap" else ""
        )
        raise ValueError(f"{where}.{name}={v!r} must be {what}")
  if kind == "gap" and out["epoch"] == 0:
    raise ValueError(f"{where}.epoch=0 is not valid for gap: its epochs count from 1 (use -1)")
  if "layers" in out:
    v = out["layers"]
    if not (isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_int(i) for i in v)):
      raise ValueError(f"{where}.layers={v!r} must be two layer indices, e.g. [0, -1]")
    out["layers"] = tuple(int(i) for i in v)
  if "abs" in out and not isinstance(out["abs"], bool):
    raise ValueError(f"{where}.abs={out['abs']!r} must be true or false")
  return out


def needs_diagnostics(spec: dict) -> bool:
  return spec["kind"] not in ("final", "mean_over_epochs")


def is_loss(spec: dict) -> bool:
  return spec["kind"] in ("final", "mean_over_epochs") and spec["of"].endswith("_loss")


def _at(epoch) -> str:
  if epoch == "mean":
    return "mean over epochs"
  return "at init" if epoch == 0 else ("final" if epoch == -1 else f"epoch index {epoch}")


def describe(spec: dict) -> str:
  """A short name of the metric for tables and plots."""
  k = spec["kind"]
  if k == "final":
    return f"final {spec['of']}"
  if k == "mean_over_epochs":
    return f"{spec['of']} mean over epochs"
  if k == "gap":
    return "train - test accuracy" + ("" if spec["epoch"] == -1 else f" (epoch {spec['epoch']})")
  if k == "grad_norm_ratio":
    i, j = spec["layers"]
    return f"log10 |g| layer {i} / layer {j} ({_at(spec['epoch'])})"
  if k == "grad_norm_spread":
    return f"log10 |g| spread over layers ({_at(spec['epoch'])})"
  if k == "act_std_ratio":
    name = "|log10 act std last/first|" if spec["abs"] else "log10 act std last/first"
    return f"{name} ({_at(spec['epoch'])})"
  if k == "act_mean_abs":
    return f"mean |activation mean| ({_at(spec['epoch'])})"
  if k == "sparsity":
    return f"share of |w| < 1e-3 ({_at(spec['epoch'])})"
  if k == "weight_norm":
    return f"kernel L2 norm ({_at(spec['epoch'])})"
  return f"log10 effective lr index {spec['to']} / {spec['from']}"


def gap_curve(history) -> np.ndarray:
  """``(seeds, epochs)``: eval-mode accuracy on the probe batch of training data minus test
  accuracy after each epoch (:attr:`jpatterns.train.History.gap`, for any object with
  ``metrics`` and ``diagnostics``)."""
  train = _diag(history, "train_eval_accuracy")[:, 1:]
  return train - np.asarray(history.metrics["test_accuracy"], np.float64)[:, -train.shape[1] :]


def _diag(history, name: str) -> np.ndarray:
  d = getattr(history, "diagnostics", None)
  if not d or name not in d:
    raise ValueError(f"metric: the run has no diagnostics[{name!r}]; train with diagnostics=True")
  return np.asarray(d[name], np.float64)


def _pick(a: np.ndarray, epoch, what: str) -> np.ndarray:
  """``a[:, epoch]`` (epoch axis 1) or its mean over that axis for ``"mean"``."""
  if epoch == "mean":
    return a.mean(axis=1)
  n = a.shape[1]
  if not -n <= epoch < n:
    raise ValueError(f"metric.epoch={epoch} is outside the {n} points of {what} (0..{n - 1})")
  return a[:, epoch]


def _log10(x) -> np.ndarray:
  x = np.asarray(x, np.float64)
  with np.errstate(invalid="ignore"):
    return np.log10(np.where(np.isnan(x), np.nan, np.maximum(x, _FLOOR)))


def metric_values(spec: dict, history) -> np.ndarray:
  """The metric of ``spec`` (checked by :func:`check_spec`) per seed: shape ``(seeds,)``.

  ``history`` is a :class:`~jpatterns.train.History` or any object with its
  ``metrics``, ``diagnostics``, ``layers`` and ``kernel_sizes`` attributes.
  """
  spec = check_spec(spec)
  k = spec["kind"]
  if k in ("final", "mean_over_epochs"):
    m = np.asarray(history.metrics[spec["of"]], np.float64)
    return m[:, -1] if k == "final" else m.mean(axis=1)
  if k == "gap":
    return _pick(gap_curve(history), spec["epoch"], "the gap's epochs")
  if k in ("grad_norm_ratio", "grad_norm_spread"):
    g = _pick(_diag(history, "grad_norm"), spec["epoch"], "grad_norm")  # (seeds, L)
    lg = _log10(g)
    if k == "grad_norm_spread":
      return lg.max(axis=1) - lg.min(axis=1)
    i, j = spec["layers"]
    n = lg.shape[1]
    for idx in (i, j):
      if not -n <= idx < n:
        raise ValueError(f"metric.layers index {idx} is outside the {n} layers")
    return lg[:, i] - lg[:, j]
  if k in ("act_std_ratio", "act_mean_abs"):
    name = "act_std" if k == "act_std_ratio" else "act_mean"
    a = _pick(_diag(history, name), spec["epoch"], name)  # (seeds, A)
    if a.shape[1] == 0:
      raise ValueError(f"metric: {name} has no hidden layers (a custom model?)")
    if k == "act_mean_abs":
      return np.abs(a).mean(axis=1)
    r = _log10(a[:, -1]) - _log10(a[:, 0])
    return np.abs(r) if spec["abs"] else r
  if k == "sparsity":
    s = _pick(_diag(history, "sparsity"), spec["epoch"], "sparsity")
    sizes = np.asarray(history.kernel_sizes, np.float64)
    return (s * sizes).sum(axis=1) / sizes.sum()
  if k == "weight_norm":
    w = _pick(_diag(history, "weight_norm"), spec["epoch"], "weight_norm")
    return np.sqrt((w**2).sum(axis=1))
  lr = _diag(history, "effective_lr")  # (seeds, epochs+1)
  return _log10(_pick(lr, spec["to"], "effective_lr")) - _log10(
    _pick(lr, spec["from"], "effective_lr")
  )


def map_nonfinite(values: dict, spec: dict, num_classes: int) -> tuple[dict, dict]:
  """Replaces the non-finite per-seed values of a loss metric by the worst outcome.

  Args:
    values: ``{arm: per-seed values}``.
    spec: the metric spec.
    num_classes: the data's classes (a uniform guess has loss ``ln(num_classes)``).

  Returns:
    ``(values, replaced)``: the values (a loss metric's NaN/inf replaced by
    ``max(worst finite value of any arm, ln(num_classes))``; others unchanged) and
    ``{arm: how many values were replaced}``.
  """
  values = {a: np.asarray(v, np.float64) for a, v in values.items()}
  replaced = {a: 0 for a in values}
  if not is_loss(spec):
    return values, replaced
  finite = np.concatenate([v[np.isfinite(v)] for v in values.values()] + [np.zeros(0)])
  worst = max(math.log(num_classes), float(finite.max()) if finite.size else -math.inf)
  out = {}
  for a, v in values.items():
    bad = ~np.isfinite(v)
    replaced[a] = int(bad.sum())
    out[a] = np.where(bad, worst, v)
  return out, replaced
