"""jpatterns.study: the verdict rule, metric extraction, the claim registry and files.

The rule is checked against Python's ``statistics`` module (an independent mean and
sample variance) and flips on both sides of each branch; the metrics are checked
against element-by-element NumPy/``math`` loops on synthetic histories; every built-in
claim is fed synthetic values that favour and then contradict it.
"""

import json
import math
import statistics
import types

import numpy as np
import pytest

from jpatterns import study
from jpatterns.study import metrics, rules
from jpatterns.study.runner import QUICK, evaluate, quick_config

# --- the rule ---------------------------------------------------------------------


def _welch(a, b):
  """d and s from the statistics module (mean, sample variance), not NumPy."""
  d = statistics.fmean(a) - statistics.fmean(b)
  s = math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))
  return d, s


@pytest.mark.parametrize("direction", ["higher", "lower"])
def test_pair_rule_numbers_match_statistics(direction):
  a, b = [0.91, 0.93, 0.95], [0.80, 0.86, 0.83, 0.85]
  o = rules.check_pair(a, b, direction=direction, k=2.0, min_effect=0.01)
  d, s = _welch(a, b)
  sign = 1 if direction == "higher" else -1
  assert o.d == pytest.approx(sign * d, rel=1e-12)
  assert o.s == pytest.approx(s, rel=1e-12)


@pytest.mark.parametrize("direction", ["higher", "lower"])
def test_pair_rule_flips_on_each_side(direction):
  """Supported / other way / too small / inconclusive, at effects around k·s and min_effect."""
  sign = 1 if direction == "higher" else -1
  noise = np.array([-0.01, 0.0, 0.01])  # sample std 0.01; s = sqrt(2e-4/3) = 0.008165
  s = math.sqrt(2 * 1e-4 / 3)
  b = 1.0 + noise

  def verdict(effect, m=0.0):
    return rules.check_pair(
      1.0 + sign * effect + noise, b, direction=direction, min_effect=m
    ).verdict

  assert verdict(2 * s * 1.05) == rules.SUPPORTED  # just above k·s
  assert verdict(2 * s * 0.95) == rules.INCONCLUSIVE  # just below
  assert verdict(-2 * s * 1.05) == rules.NOT_SUPPORTED  # clearly the other way
  assert verdict(-2 * s * 0.95) == rules.INCONCLUSIVE
  # min_effect m: d = 0.03 > k·s = 0.0163 but d < m; d + k·s = 0.0463 decides
  assert verdict(0.03, m=0.0460) == rules.INCONCLUSIVE  # m within reach of the interval
  assert verdict(0.03, m=0.0470) == rules.NOT_SUPPORTED  # the whole interval below m
  assert verdict(0.051, m=0.05) == rules.SUPPORTED
  assert verdict(0.049, m=0.05) == rules.INCONCLUSIVE


def test_pair_rule_branches_name_their_reason():
  assert "other way" in rules.check_pair([0, 0.1], [1, 1.1], direction="higher").reason
  assert (
    "no effect"
    in rules.check_pair([1.0, 1.01], [1.0, 1.01], direction="higher", min_effect=0.5).reason
  )
  nan = rules.check_pair([np.nan, 1.0], [0.0, 0.1], direction="higher")
  assert nan.verdict == rules.INCONCLUSIVE and "finite" in nan.reason


@pytest.mark.parametrize("direction", ["higher", "lower"])
def test_threshold_rule_flips(direction):
  sign = 1 if direction == "higher" else -1
  a = np.array([0.50, 0.52, 0.54])
  s = statistics.stdev(a.tolist()) / math.sqrt(3)
  o = rules.check_threshold(a, 0.52 - sign * 2.1 * s, direction=direction)
  assert o.d == pytest.approx(2.1 * s) and o.s == pytest.approx(s)
  assert o.verdict == rules.SUPPORTED
  assert (
    rules.check_threshold(a, 0.52 - sign * 1.9 * s, direction=direction).verdict
    == rules.INCONCLUSIVE
  )
  assert (
    rules.check_threshold(a, 0.52 + sign * 2.1 * s, direction=direction).verdict
    == rules.NOT_SUPPORTED
  )


def test_combine():
  S, N, I = rules.SUPPORTED, rules.NOT_SUPPORTED, rules.INCONCLUSIVE
  assert rules.combine([S, S]) == S
  assert rules.combine([S, I]) == I
  assert rules.combine([S, I, N]) == N
  assert rules.combine([]) == I


def test_rule_refuses_one_seed_and_bad_direction():
  with pytest.raises(ValueError, match="2 seeds"):
    rules.check_pair([1.0], [0.0, 1.0], direction="higher")
  with pytest.raises(ValueError, match="direction='up'"):
    rules.check_pair([1.0, 2.0], [0.0, 1.0], direction="up")


# --- every built-in claim flips ---------------------------------------------------


def _synthetic(claim, favour: bool):
  """Per-seed values that favour (or contradict) the claim by 10 min_effects + 1."""
  rule = claim.rule_spec
  sign = 1 if rule["direction"] == "higher" else -1
  effect = (10 * rule["min_effect"] + 1.0) * (1 if favour else -1)
  noise = np.array([-0.01, 0.0, 0.01])
  values = {arm: 0.5 + noise for arm in claim.arms}
  if rule["kind"] == "threshold":
    values[rule["arm"]] = rule["value"] + sign * effect + noise
  else:
    claimed = {a for a, _ in rule["pairs"]}
    others = {b for _, b in rule["pairs"]}
    assert not claimed & others, "a built-in claim whose arm is on both sides of its pairs"
    for a in claimed:
      values[a] = 0.5 + sign * effect + noise
  return values


def test_at_least_twelve_builtin_claims_with_sections_and_quotes():
  assert len(study.CLAIMS) >= 12
  for c in study.CLAIMS.values():
    assert c.section[:3] in ("001", "002", "004"), c.name
    assert any("\u4e00" <= ch <= "\u9fff" for ch in c.text_zh), c.name  # quoted in Chinese


@pytest.mark.parametrize("name", sorted(study.CLAIMS))
def test_each_builtin_claim_flips_with_its_numbers(name):
  claim = study.CLAIMS[name]
  verdict, outcomes, _, _ = study.judge(claim, _synthetic(claim, True), num_classes=10)
  assert verdict == rules.SUPPORTED, outcomes
  verdict, outcomes, _, _ = study.judge(claim, _synthetic(claim, False), num_classes=10)
  assert verdict == rules.NOT_SUPPORTED, outcomes


def test_threshold_claim_flips():
  c = study.Claim.from_dict(
    {
      **_USER,
      "rule": {
        "kind": "threshold",
        "arm": "adam",
        "value": 0.8,
        "direction": "higher",
        "min_effect": 0.01,
      },
    }
  )
  assert study.judge(c, {"adam": [0.90, 0.91, 0.92], "sgd": [0.1, 0.1]})[0] == rules.SUPPORTED
  assert study.judge(c, {"adam": [0.70, 0.71, 0.72], "sgd": [0.1, 0.1]})[0] == rules.NOT_SUPPORTED


# --- metrics from a synthetic History ---------------------------------------------


def _history(seeds=3, epochs=4, layers=5, acts=4, seed=0):
  rng = np.random.default_rng(seed)
  pos = lambda *s: rng.uniform(0.01, 2.0, s)  # noqa: E731
  return types.SimpleNamespace(
    metrics={m: pos(seeds, epochs) for m in metrics.TRAIN_METRICS},
    diagnostics={
      "grad_norm": pos(seeds, epochs + 1, layers),
      "weight_norm": pos(seeds, epochs + 1, layers),
      "sparsity": rng.uniform(0, 1, (seeds, epochs + 1, layers)),
      "act_mean": rng.normal(size=(seeds, epochs + 1, acts)),
      "act_std": pos(seeds, epochs + 1, acts),
      "effective_lr": pos(seeds, epochs + 1),
      "train_eval_accuracy": rng.uniform(0, 1, (seeds, epochs + 1)),
    },
    layers=tuple(f"l{i}" for i in range(layers)),
    kernel_sizes=tuple(int(v) for v in rng.integers(10, 100, layers)),
  )


def _loop(h, spec):
  """The metric by explicit per-seed loops and math.log10 (the reference)."""
  D, M = h.diagnostics, h.metrics
  k = spec["kind"]
  out = []
  for s in range(len(M["train_loss"])):

    def at(a, e):
      return np.mean(a[s], axis=0) if e == "mean" else a[s][e]

    if k == "final":
      v = M[spec["of"]][s][-1]
    elif k == "mean_over_epochs":
      v = sum(M[spec["of"]][s]) / len(M[spec["of"]][s])
    elif k == "gap":
      v = D["train_eval_accuracy"][s][1:][spec["epoch"]] - M["test_accuracy"][s][spec["epoch"]]
    elif k == "grad_norm_ratio":
      g = at(D["grad_norm"], spec["epoch"])
      i, j = spec.get("layers", (0, -1))
      v = math.log10(g[i]) - math.log10(g[j])
    elif k == "grad_norm_spread":
      lg = [math.log10(x) for x in at(D["grad_norm"], spec["epoch"])]
      v = max(lg) - min(lg)
    elif k == "act_std_ratio":
      a = at(D["act_std"], spec["epoch"])
      v = math.log10(a[-1] / a[0])
      v = abs(v) if spec.get("abs") else v
    elif k == "act_mean_abs":
      a = at(D["act_mean"], spec["epoch"])
      v = sum(abs(x) for x in a) / len(a)
    elif k == "sparsity":
      sp = at(D["sparsity"], spec["epoch"])
      v = sum(f * n for f, n in zip(sp, h.kernel_sizes)) / sum(h.kernel_sizes)
    elif k == "weight_norm":
      v = math.sqrt(sum(x * x for x in at(D["weight_norm"], spec["epoch"])))
    else:
      lr = D["effective_lr"][s]
      v = math.log10(lr[spec["to"]] / lr[spec["from"]])
    out.append(v)
  return np.array(out)


SPECS = [
  {"kind": "final", "of": "test_accuracy"},
  {"kind": "mean_over_epochs", "of": "train_loss"},
  {"kind": "gap", "epoch": -1},
  {"kind": "gap", "epoch": 2},
  {"kind": "grad_norm_ratio", "epoch": 0},
  {"kind": "grad_norm_ratio", "epoch": 3, "layers": [1, 2]},
  {"kind": "grad_norm_spread", "epoch": "mean"},
  {"kind": "act_std_ratio", "epoch": 0},
  {"kind": "act_std_ratio", "epoch": -1, "abs": True},
  {"kind": "act_mean_abs", "epoch": "mean"},
  {"kind": "sparsity", "epoch": -1},
  {"kind": "weight_norm", "epoch": 1},
  {"kind": "effective_lr_ratio", "from": 0, "to": -1},
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: "-".join(str(v) for v in s.values()))
def test_metric_values_match_a_loop(spec):
  h = _history()
  np.testing.assert_allclose(metrics.metric_values(spec, h), _loop(h, spec), rtol=1e-12, atol=1e-12)


def test_every_metric_kind_has_a_case():
  assert {s["kind"] for s in SPECS} == set(metrics.KINDS)


def test_metric_floors_a_zero_gradient_and_keeps_nan():
  h = _history()
  h.diagnostics["grad_norm"][0, 0, 0] = 0.0
  h.diagnostics["grad_norm"][1, 0, 0] = np.nan
  v = metrics.metric_values({"kind": "grad_norm_ratio", "epoch": 0}, h)
  assert v[0] == pytest.approx(-30 - math.log10(h.diagnostics["grad_norm"][0, 0, -1]))
  assert np.isnan(v[1]) and np.isfinite(v[2])


def test_nonfinite_losses_map_to_the_worst():
  spec = metrics.check_spec({"kind": "final", "of": "train_loss"})
  vals, n = metrics.map_nonfinite({"a": [0.1, np.nan, np.inf], "b": [3.0, 0.2]}, spec, 10)
  np.testing.assert_allclose(vals["a"], [0.1, 3.0, 3.0])  # worst finite 3.0 > ln 10
  assert n == {"a": 2, "b": 0}
  vals, _ = metrics.map_nonfinite({"a": [0.1, np.nan], "b": [0.2, 0.3]}, spec, 10)
  assert vals["a"][1] == pytest.approx(math.log(10))  # at least a uniform guess's loss
  acc = metrics.check_spec({"kind": "final", "of": "test_accuracy"})
  vals, n = metrics.map_nonfinite({"a": [np.nan, 0.5]}, acc, 10)
  assert np.isnan(vals["a"][0]) and n == {"a": 0}  # not a loss: kept (inconclusive)


def test_metric_without_diagnostics_says_so():
  h = types.SimpleNamespace(metrics=_history().metrics, diagnostics=None)
  with pytest.raises(ValueError, match="diagnostics=True"):
    metrics.metric_values({"kind": "sparsity"}, h)
  with pytest.raises(ValueError, match="epoch=9 is outside"):
    metrics.metric_values({"kind": "sparsity", "epoch": 9}, _history())


@pytest.mark.parametrize(
  "spec, match",
  [
    ({"kind": "mean"}, "metric.kind='mean' is not valid"),
    ({"kind": "final"}, "metric.of is missing"),
    ({"kind": "final", "of": "loss"}, "metric.of='loss' is not valid"),
    ({"kind": "sparsity", "epochs": 1}, "epochs not parameters"),
    ({"kind": "gap", "epoch": 0}, "epoch=0 is not valid for gap"),
    ({"kind": "grad_norm_ratio", "layers": [0]}, "metric.layers"),
    ({"kind": "act_std_ratio", "abs": 1}, "metric.abs"),
    ({"kind": "sparsity", "epoch": "last"}, "metric.epoch='last'"),
  ],
)
def test_bad_metric_specs_name_the_field(spec, match):
  with pytest.raises(ValueError, match=match):
    metrics.check_spec(spec)


# --- the registry and claim files -------------------------------------------------

_USER = {
  "name": "adam-beats-sgd",
  "section": "002 优化算法",
  "text_zh": "深层神经网络的参数学习主要是通过梯度下降方法",
  "text_en": "Adam ends with a higher test accuracy than SGD.",
  "base": {"epochs": 2, "width": 16},
  "arms": {"adam": {"optimizer": "adam"}, "sgd": {"optimizer": "sgd"}},
  "metric": {"kind": "final", "of": "test_accuracy"},
  "rule": {"pairs": [["adam", "sgd"]], "direction": "higher", "min_effect": 0.01},
  "data": {"train_examples": 200},
}

_TOML = """
[[claims]]
name = "adam-beats-sgd"
section = "002 优化算法"
text_zh = "深层神经网络的参数学习主要是通过梯度下降方法"
text_en = "Adam ends with a higher test accuracy than SGD."
base = { epochs = 2, width = 16 }
arms = { adam = { optimizer = "adam" }, sgd = { optimizer = "sgd" } }
metric = { kind = "final", of = "test_accuracy" }
rule = { pairs = [["adam", "sgd"]], direction = "higher", min_effect = 0.01 }
data = { train_examples = 200 }
"""


@pytest.fixture
def restore_registry():
  saved = dict(study.CLAIMS)
  yield
  study.CLAIMS.clear()
  study.CLAIMS.update(saved)


def test_load_json_and_toml_give_the_same_claim(tmp_path, restore_registry):
  j = tmp_path / "c.json"
  j.write_text(json.dumps({"claims": [_USER]}, ensure_ascii=False), encoding="utf-8")
  t = tmp_path / "c.toml"
  t.write_text(_TOML, encoding="utf-8")
  (cj,) = study.load_claims(j)
  (ct,) = study.load_claims(t)
  assert cj.to_json() == ct.to_json() == study.Claim.from_dict(_USER).to_json()
  assert study.CLAIMS["adam-beats-sgd"] is ct  # registered (the later replaces)
  lst = tmp_path / "list.json"
  lst.write_text(json.dumps([_USER]), encoding="utf-8")
  assert study.load_claims(lst, register=False)[0].name == "adam-beats-sgd"


def test_register_claim_from_python(restore_registry):
  c = study.register_claim(dict(_USER, name="mine"))
  assert study.get_claim("mine") is c
  with pytest.raises(ValueError, match="already registered"):
    study.register_claim(dict(_USER, name="mine"))
  with pytest.raises(ValueError, match="did you mean mine"):
    study.get_claim("mina")


@pytest.mark.parametrize(
  "change, match",
  [
    ({"colour": 1}, "colour not claim fields"),
    ({"name": "Bad Name"}, "name='Bad Name'"),
    ({"text_en": ""}, "text_en=''"),
    ({"seeds": 1}, "seeds=1 must be an integer >= 2"),
    ({"arms": {}}, "arms="),
    ({"arms": {"adam": {"optimizer": "adamx"}, "sgd": {}}}, r"arms\['adam'\]: optimizer='adamx'"),
    ({"base": {"epochs": 0}}, "base: epochs=0"),
    ({"metric": {"kind": "accuracy"}}, "metric.kind='accuracy'"),
    (
      {"rule": {"pairs": [["adm", "sgd"]], "direction": "higher"}},
      "names arm 'adm' .did you mean 'adam'",
    ),
    ({"rule": {"pairs": [["adam", "adam"]], "direction": "higher"}}, "itself"),
    ({"rule": {"pairs": [["adam", "sgd"]], "direction": "up"}}, "rule.direction='up'"),
    ({"rule": {"pairs": [["adam", "sgd"]], "direction": "higher", "k": 0}}, "rule.k=0 must be > 0"),
    (
      {"rule": {"pairs": [["adam", "sgd"]], "direction": "higher", "min_effect": -1}},
      "rule.min_effect=-1",
    ),
    ({"rule": {"kind": "threshold", "arm": "adam", "direction": "higher"}}, "rule.value=None"),
    ({"rule": {"kind": "bayes", "direction": "higher"}}, "rule.kind='bayes'"),
    ({"data": {"examples": 3}}, "data has unknown keys"),
    ({"data": {"train_examples": 0}}, "data.train_examples=0"),
  ],
)
def test_bad_claims_name_the_field(change, match):
  with pytest.raises(ValueError, match=match):
    study.Claim.from_dict({**_USER, **change})


def test_missing_field_is_named():
  d = dict(_USER)
  del d["metric"]
  with pytest.raises(ValueError, match="metric missing"):
    study.Claim.from_dict(d)


def test_bad_files_raise_value_error_naming_file_and_field(tmp_path):
  bad_json = tmp_path / "bad.json"
  bad_json.write_text("{claims: ", encoding="utf-8")
  with pytest.raises(ValueError, match="bad.json: not valid JSON"):
    study.load_claims(bad_json)
  bad_toml = tmp_path / "bad.toml"
  bad_toml.write_text("[[claims]\nname=", encoding="utf-8")
  with pytest.raises(ValueError, match="bad.toml: not valid TOML"):
    study.load_claims(bad_toml)
  field = tmp_path / "field.toml"
  field.write_text(_TOML.replace('of = "test_accuracy"', 'of = "accuracy"'), encoding="utf-8")
  with pytest.raises(
    ValueError, match=r"field.toml: claims\[0\]: claim 'adam-beats-sgd': metric.of='accuracy'"
  ):
    study.load_claims(field)
  empty = tmp_path / "empty.json"
  empty.write_text("[]", encoding="utf-8")
  with pytest.raises(ValueError, match="non-empty list"):
    study.load_claims(empty)
  with pytest.raises(ValueError, match=r"must end in \.json or \.toml"):
    study.load_claims(tmp_path / "c.yaml")
  with pytest.raises(ValueError, match="missing.json"):
    study.load_claims(tmp_path / "missing.json")


def test_evaluate_labels_and_quick_config():
  c = study.Claim.from_dict(_USER)
  (o,) = evaluate(c.rule_spec, {"adam": [0.9, 0.92], "sgd": [0.5, 0.52]})
  assert o.label == "adam > sgd" and o.verdict == rules.SUPPORTED
  cfg = c.configs()["adam"]
  q = quick_config(cfg.__class__(epochs=20, width=512, depth=30, batch_size=64))
  assert (q.epochs, q.width, q.depth, q.batch_size) == (
    QUICK["epochs"],
    QUICK["width"],
    QUICK["depth"],
    QUICK["batch_size"],
  )


def test_report_tables_escape_pipes_and_state_the_rule(tmp_path):
  """A report from synthetic values: every table row keeps its columns (|w| escaped)."""
  import re

  claim = study.CLAIMS["l1-sparsity"]
  verdict, outcomes, values, replaced = study.judge(claim, _synthetic(claim, True))
  r = study.Result(claim, values, replaced, outcomes, verdict, False, (0, 1, 2), 1.0)
  path = study.write_report([r], str(tmp_path / "r.md"))
  text = open(path, encoding="utf-8").read()
  assert "the Welch standard" in text and "1 supported, 0 not supported, 0 inconclusive" in text
  rows = [ln for ln in text.splitlines() if ln.startswith("| ")]
  widths = {
    len(re.split(r"(?<!\\)\|", ln))
    for ln in rows
    if "claim | section" in ln or "l1-sparsity](#" in ln
  }
  assert widths == {6}  # 4 cells between 5 unescaped pipes
  assert r"\|w\| < 1e-3" in text and "l1 > l2: d = " in text


def test_metric_names_are_the_engines():
  from jpatterns import train

  assert metrics.TRAIN_METRICS == train.METRICS


def test_gap_curve_is_history_gap():
  from jpatterns import datasets, train

  d = datasets.load("digits")
  h = train.fit(train.TrainConfig(epochs=2, depth=1, width=8), d, diagnostics=True)
  np.testing.assert_array_equal(metrics.gap_curve(h), h.gap)
