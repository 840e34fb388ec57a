"""Running a claim: its grid trained (one program for the seeds), each seed's metric, a verdict."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable

import numpy as np

from jpatterns.study import metrics as metrics_lib
from jpatterns.study import rules
from jpatterns.study.claims import Claim, get_claim

__all__ = [
  "Result",
  "run_claim",
  "run_claims",
  "judge",
  "evaluate",
  "quick_config",
  "claim_data",
  "QUICK",
]

# What quick=True shrinks a claim to: a smoke test of the pipeline, never a result.
QUICK = {"epochs": 2, "width": 16, "depth": 3, "batch_size": 32, "train_examples": 256, "seeds": 2}


@dataclasses.dataclass
class Result:
  """A claim's run: per-arm per-seed values, the rule's tests and the verdict.

  Attributes:
    claim: the :class:`~jpatterns.study.Claim`.
    values: ``{arm: per-seed values}`` of the metric (non-finite losses mapped, see
      :func:`jpatterns.study.metrics.map_nonfinite`).
    replaced: ``{arm: how many values were non-finite and mapped}``.
    outcomes: one :class:`~jpatterns.study.rules.Outcome` per test of the rule.
    verdict: ``"supported"``, ``"not supported"`` or ``"inconclusive"``.
    quick: the claim was shrunk (``quick=True``): the verdict is not a result.
    seeds: the seeds.
    seconds: wall time of the run (training and compiling; cached arms cost nothing).
    plot: the figure's path, or None.
    histories: ``{arm: History}`` (not serialized).
    shared: the arms whose runs came from the cache (trained for another claim).
  """

  claim: Claim
  values: dict
  replaced: dict
  outcomes: list
  verdict: str
  quick: bool
  seeds: tuple
  seconds: float
  plot: str | None = None
  histories: dict = dataclasses.field(default_factory=dict, repr=False)
  shared: tuple = ()

  @property
  def diverged(self) -> dict:
    """``{arm: seeds whose final train or test loss is not finite}`` (arms with any)."""
    out = {}
    for arm, h in self.histories.items():
      bad = ~np.isfinite(np.asarray(h.metrics["train_loss"])[:, -1])
      bad |= ~np.isfinite(np.asarray(h.metrics["test_loss"])[:, -1])
      if bad.any():
        out[arm] = int(bad.sum())
    return out

  @property
  def metric_name(self) -> str:
    return metrics_lib.describe(self.claim.metric_spec)

  def rows(self) -> list[tuple]:
    """``(arm, mean, std, n, non-finite mapped)`` per arm; std with ddof=1."""
    out = []
    for arm, v in self.values.items():
      v = np.asarray(v, np.float64)
      std = float(v.std(ddof=1)) if v.size > 1 else float("nan")
      out.append((arm, float(v.mean()), std, int(v.size), self.replaced.get(arm, 0)))
    return out

  def to_json(self) -> dict:
    return {
      "claim": self.claim.name,
      "section": self.claim.section,
      "metric": self.claim.metric_spec,
      "metric_name": self.metric_name,
      "rule": {
        k: (list(map(list, v)) if k == "pairs" else v) for k, v in self.claim.rule_spec.items()
      },
      "seeds": list(self.seeds),
      "values": {a: [float(x) for x in v] for a, v in self.values.items()},
      "non_finite_mapped": self.replaced,
      "diverged_seeds": self.diverged,
      "tests": [o.to_json() for o in self.outcomes],
      "verdict": self.verdict,
      "quick": self.quick,
      "seconds": self.seconds,
      "shared_arms": list(self.shared),
      "plot": self.plot,
    }


def quick_config(config):
  """``config`` shrunk for a smoke test (:data:`QUICK`)."""
  from jpatterns.train.config import DEFAULT_WIDTH

  model = config.model if isinstance(config.model, str) else None
  width = config.width or DEFAULT_WIDTH.get(model, QUICK["width"])
  return dataclasses.replace(
    config,
    epochs=min(config.epochs, QUICK["epochs"]),
    width=min(width, QUICK["width"]),
    depth=min(config.depth, QUICK["depth"]),
    batch_size=min(config.batch_size, QUICK["batch_size"]),
  )


def claim_data(claim: Claim, *, quick: bool = False):
  """The claim's :class:`~jpatterns.datasets.Dataset` (its training examples cut to
  ``data.train_examples``, the test set whole)."""
  from jpatterns import datasets

  name = claim.data.get("dataset") or claim.base.get("dataset") or "digits"
  ds = datasets.load(name)
  n = claim.data.get("train_examples")
  if quick:
    n = min(n or len(ds.x_train), QUICK["train_examples"])
  if n is not None:
    if n > len(ds.x_train):
      raise ValueError(
        f"claim {claim.name!r}: data.train_examples={n} is more than the "
        f"{len(ds.x_train)} training examples of {ds.name}"
      )
    ds = dataclasses.replace(ds, x_train=ds.x_train[:n], y_train=ds.y_train[:n])
  return ds


def _key(config, data, seeds) -> str:
  return json.dumps(
    [config.to_json(), data.name, len(data.x_train), list(seeds)], sort_keys=True, default=str
  )


def run_claim(
  claim,
  *,
  seeds: int | None = None,
  quick: bool = False,
  out: str | os.PathLike | None = None,
  plot: bool = True,
  compile_cache=None,
  devices: int | None = None,
  cache: dict | None = None,
  on_arm: Callable[[str, str, bool], None] | None = None,
) -> Result:
  """Trains every arm of ``claim``, measures its metric per seed and applies its rule.

  Args:
    claim: a :class:`~jpatterns.study.Claim` or a registered claim's name.
    seeds: seeds per arm (default the claim's; at least 2).
    quick: shrink epochs, widths, depths and data (:data:`QUICK`) for a smoke test;
      the verdict is then not a result, and the output says so.
    out: a directory for the plot (``NAME.png``); None writes nothing.
    plot: write the plot (with ``out``).
    compile_cache, devices: :func:`jpatterns.train.fit`'s arguments.
    cache: a dict shared by several calls: an arm already trained with the same
      configuration, data and seeds is reused (claims that share a grid train it once).
    on_arm: ``on_arm(claim_name, arm, cached)`` before each arm runs.

  Returns:
    A :class:`Result`.
  """
  from jpatterns import train

  if isinstance(claim, str):
    claim = get_claim(claim)
  if not isinstance(claim, Claim):
    raise ValueError(f"run_claim: claim={claim!r} must be a Claim or a registered claim's name")
  n = seeds if seeds is not None else (min(claim.seeds, QUICK["seeds"]) if quick else claim.seeds)
  if isinstance(n, bool) or not isinstance(n, int) or n < 2:
    raise ValueError(
      f"run_claim: seeds={seeds!r} must be an integer >= 2 (the rule needs a spread)"
    )
  spec = claim.metric_spec
  diag = metrics_lib.needs_diagnostics(spec)
  data = claim_data(claim, quick=quick)
  configs = {}
  for arm, c in claim.configs().items():
    c = dataclasses.replace(c, dataset=data.name)
    configs[arm] = quick_config(c) if quick else c
  cache = {} if cache is None else cache
  t0 = time.perf_counter()
  histories, shared = {}, []
  for arm, config in configs.items():
    seed_list = list(range(config.seed, config.seed + n))
    key = _key(config, data, seed_list)
    hit = cache.get(key)
    usable = hit is not None and (hit.get("diagnostics") or not diag)
    if on_arm is not None:
      on_arm(claim.name, arm, bool(usable))
    if usable:
      histories[arm] = hit["history"]
      shared.append(arm)
      continue
    kw = {"diagnostics": True} if diag else {}
    (h,) = train.compare(
      [config],
      data,
      seeds=n,
      devices=devices,
      terminate_on_nan=False,
      compile_cache=compile_cache,
      **kw,
    )
    cache[key] = {"history": h, "diagnostics": diag}
    histories[arm] = h
  seconds = time.perf_counter() - t0
  raw = {arm: metrics_lib.metric_values(spec, h) for arm, h in histories.items()}
  verdict, outcomes, values, replaced = judge(claim, raw, data.num_classes)
  result = Result(
    claim,
    values,
    replaced,
    outcomes,
    verdict,
    quick,
    tuple(next(iter(histories.values())).seeds),
    seconds,
    histories=histories,
    shared=tuple(shared),
  )
  if out is not None and plot:
    from jpatterns.study import plots

    os.makedirs(out, exist_ok=True)
    result.plot = plots.plot_result(result, os.path.join(os.fspath(out), f"{claim.name}.png"))
  return result


def run_claims(claims, **kwargs) -> list[Result]:
  """:func:`run_claim` for each claim, sharing one cache; results in the claims' order.

  Claims whose metric needs diagnostics run first, so that a later claim on the same
  grid (a final accuracy, say) reuses their runs instead of training again.
  Takes :func:`run_claim`'s keyword arguments (``cache`` defaults to a new dict).
  """
  claims = [get_claim(c) if isinstance(c, str) else c for c in claims]
  kwargs.setdefault("cache", {})
  order = sorted(
    range(len(claims)), key=lambda i: not metrics_lib.needs_diagnostics(claims[i].metric_spec)
  )
  results: dict = {}
  for i in order:
    results[i] = run_claim(claims[i], **kwargs)
  return [results[i] for i in range(len(claims))]


def judge(claim: Claim, values: dict, num_classes: int = 2) -> tuple:
  """The verdict of ``claim`` on per-seed metric values, without training anything.

  Args:
    claim: the claim.
    values: ``{arm: per-seed values}`` of the claim's metric (every arm its rule names).
    num_classes: the data's classes (a diverged loss maps to at least ``ln`` of it).

  Returns:
    ``(verdict, outcomes, values, replaced)``: the combined verdict, one
    :class:`~jpatterns.study.rules.Outcome` per test, and the values after
    :func:`~jpatterns.study.metrics.map_nonfinite` with its replacement counts.
  """
  spec, rule = claim.metric_spec, claim.rule_spec
  needed = {rule["arm"]} if rule["kind"] == "threshold" else {a for p in rule["pairs"] for a in p}
  missing = sorted(needed - set(values))
  if missing:
    raise ValueError(f"judge: values has no arm {', '.join(missing)} of claim {claim.name!r}")
  values, replaced = metrics_lib.map_nonfinite(values, spec, num_classes)
  outcomes = evaluate(rule, values)
  return rules.combine(o.verdict for o in outcomes), outcomes, values, replaced


def evaluate(rule: dict, values: dict) -> list:
  """The rule's tests on ``{arm: per-seed values}`` (``rule`` as :attr:`Claim.rule_spec`)."""
  k, m, direction = rule["k"], rule["min_effect"], rule["direction"]
  sign = ">" if direction == "higher" else "<"
  if rule["kind"] == "threshold":
    a = rule["arm"]
    return [
      rules.check_threshold(
        values[a],
        rule["value"],
        direction=direction,
        k=k,
        min_effect=m,
        label=f"{a} {sign} {rule['value']:g}",
      )
    ]
  return [
    rules.check_pair(
      values[a], values[b], direction=direction, k=k, min_effect=m, label=f"{a} {sign} {b}"
    )
    for a, b in rule["pairs"]
  ]
