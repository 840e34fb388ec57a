"""The figure of a claim (matplotlib, Agg): what shows the effect, and the verdict's numbers.

Left panel, by metric kind: gradient norm per layer (log scale) for ``grad_norm_*``;
activation std or mean per hidden layer for ``act_*``; a histogram of log10 |w| of
every kernel entry for ``sparsity`` and ``weight_norm``; the effective learning rate
per epoch for ``effective_lr_ratio``; train (eval mode) and test accuracy per epoch for
``gap``; the metric's curve per epoch for ``final`` and ``mean_over_epochs``. Lines are
means over seeds with a band from the lowest to the highest seed.

Right panel: the per-seed values of the claim's metric per arm, each arm's mean and
the mean ± 2 standard errors, and the verdict in the title.
"""

from __future__ import annotations

import warnings

import numpy as np

from jpatterns.study import metrics as metrics_lib

__all__ = ["plot_result"]


def _plt():
  import matplotlib

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  return plt


def _band(ax, x, a, label, **kw):
  """Mean over seeds (of the finite values) with a min-max band; a label says when a
  seed's values are not finite (a diverged run), an arm without any finite value is
  drawn as no line at all."""
  a = np.asarray(a, np.float64)
  bad = int((~np.isfinite(a)).any(axis=1).sum())
  if bad:
    label = f"{label} ({bad}/{a.shape[0]} seeds not finite)"
  a = np.where(np.isfinite(a), a, np.nan)
  with warnings.catch_warnings():  # an epoch where every seed diverged: NaN, no warning
    warnings.simplefilter("ignore", RuntimeWarning)
    mean, lo, hi = np.nanmean(a, axis=0), np.nanmin(a, 0), np.nanmax(a, 0)
  (line,) = ax.plot(x, mean, marker="o" if len(x) <= 40 else None, ms=3, label=label, **kw)
  if a.shape[0] > 1:
    ax.fill_between(x, lo, hi, alpha=0.18, color=line.get_color())
  return line


def _epoch_slice(a, epoch):
  """(seeds, epochs+1, L) -> (seeds, L) at ``epoch`` or the mean over epochs."""
  return a.mean(axis=1) if epoch == "mean" else a[:, epoch]


def _at(epoch) -> str:
  return (
    "mean over training"
    if epoch == "mean"
    else ("at init" if epoch == 0 else "final" if epoch == -1 else f"index {epoch}")
  )


def _kernels(history) -> np.ndarray:
  import jax

  leaves = [np.asarray(x) for x in jax.tree.leaves(history.params)]
  ks = [x.reshape(-1) for x in leaves if x.ndim >= 3]  # seed axis + a kernel's 2+ axes
  return np.concatenate(ks) if ks else np.zeros(0)


def _mechanism(ax, result):
  spec = result.claim.metric_spec
  kind = spec["kind"]
  hs = result.histories
  if kind in ("grad_norm_ratio", "grad_norm_spread"):
    for arm, h in hs.items():
      g = _epoch_slice(np.asarray(h.diagnostics["grad_norm"], np.float64), spec["epoch"])
      _band(ax, np.arange(g.shape[1]), np.maximum(g, 1e-30), arm)
    first = next(iter(hs.values()))
    layers = list(getattr(first, "layers", ()) or range(g.shape[1]))
    ax.set(
      yscale="log",
      xlabel="layer (input → head)",
      ylabel="‖∂loss/∂θ_layer‖",
      title=f"gradient norm per layer ({_at(spec['epoch'])})",
    )
    if len(layers) <= 12:
      ax.set_xticks(range(len(layers)), layers, rotation=45, fontsize=7)
  elif kind in ("act_std_ratio", "act_mean_abs"):
    name = "act_std" if kind == "act_std_ratio" else "act_mean"
    for arm, h in hs.items():
      a = _epoch_slice(np.asarray(h.diagnostics[name], np.float64), spec["epoch"])
      _band(ax, np.arange(1, a.shape[1] + 1), a, arm)
    ax.set(
      xlabel="hidden layer",
      ylabel="std of activations" if name == "act_std" else "mean activation",
      title=f"{'activation std' if name == 'act_std' else 'mean activation'} per layer "
      f"({_at(spec['epoch'])})",
    )
    if name == "act_std":
      ax.set_yscale("log")
    else:
      ax.axhline(0, color="k", lw=0.6)
  elif kind in ("sparsity", "weight_norm"):
    bins = np.linspace(-8, 1, 60)
    for arm, h in hs.items():
      w = np.abs(_kernels(h))
      ax.hist(
        np.log10(np.maximum(w, 1e-8)), bins=bins, histtype="step", lw=1.5, label=arm, density=True
      )
    ax.axvline(-3, color="k", ls="--", lw=0.8)
    ax.text(-3, ax.get_ylim()[1] * 0.95, " |w| = 1e-3", fontsize=7, va="top")
    ax.set(
      xlabel="log10 |w| (final kernels, all seeds; 1e-8 floor)",
      ylabel="density",
      title="weight histogram",
    )
  elif kind == "effective_lr_ratio":
    for arm, h in hs.items():
      lr = np.asarray(h.diagnostics["effective_lr"], np.float64)
      _band(ax, np.arange(lr.shape[1]), lr, arm)
    ax.set(
      yscale="log",
      xlabel="epoch (0 = init)",
      ylabel="‖update‖ / ‖gradient‖",
      title="effective learning rate",
    )
  elif kind == "gap":
    for arm, h in hs.items():
      te = np.asarray(h.metrics["test_accuracy"], np.float64)
      x = np.arange(1, te.shape[1] + 1)
      line = _band(ax, x, te, f"{arm} test")
      tr = te + metrics_lib.gap_curve(h)  # train accuracy in eval mode
      _band(ax, x, tr, f"{arm} train (eval)", ls="--", color=line.get_color())
    ax.set(xlabel="epoch", ylabel="accuracy", title="train (eval mode) and test accuracy")
  else:
    of = spec["of"]
    for arm, h in hs.items():
      m = np.asarray(h.metrics[of], np.float64)
      _band(ax, np.arange(1, m.shape[1] + 1), m, arm)
    ax.set(xlabel="epoch", ylabel=of, title=f"{of} per epoch")
    if of.endswith("loss"):
      ax.set_yscale("log")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)


def _values(ax, result):
  arms = list(result.values)
  for i, arm in enumerate(arms):
    v = np.asarray(result.values[arm], np.float64)
    ax.scatter(np.full(v.size, i), v, s=18, alpha=0.7, zorder=3)
    if v.size > 1:
      se = v.std(ddof=1) / np.sqrt(v.size)
      ax.errorbar(i, v.mean(), yerr=2 * se, fmt="_", color="k", ms=18, capsize=5, zorder=4)
  ax.set_xticks(range(len(arms)), arms, rotation=20, fontsize=8)
  ax.set(ylabel=result.metric_name, title=f"per seed, mean ± 2 s.e. → {result.verdict}")
  ax.grid(alpha=0.3, axis="y")


def plot_result(result, path: str) -> str | None:
  """Writes ``result``'s figure to ``path``; returns it (None without matplotlib)."""
  try:
    plt = _plt()
  except ImportError:
    return None
  from jpatterns.train._files import atomic_open

  fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.6, 1]})
  _mechanism(ax1, result)
  _values(ax2, result)
  quick = " [quick: not a result]" if result.quick else ""
  # The section is left out: its CJK characters are not in matplotlib's default font.
  fig.suptitle(f"{result.claim.name}{quick}", fontsize=11)
  fig.tight_layout()
  with atomic_open(path, "wb") as f:
    fig.savefig(f, dpi=100, format="png")
  plt.close(fig)
  return path
