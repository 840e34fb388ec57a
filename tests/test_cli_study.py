"""`jpatterns study` through the command line: --list, bad names, a claim end to end.

The end-to-end runs use ``--quick`` (2 epochs, width 16, depth 3, 256 training
examples, 2 seeds): they check the pipeline (train → metric → rule → table, plot,
JSON, report), not the verdicts.
"""

import json
import time

import pytest

from jpatterns import study
from jpatterns.cli import main


def _run(capsys, *argv):
  code = main(list(argv))
  out, err = capsys.readouterr()
  return code, out, err


def test_list_shows_every_claim_with_its_section(capsys):
  code, out, _ = _run(capsys, "study", "--list")
  assert code == 0
  assert len(study.CLAIMS) >= 12
  lines = out.splitlines()
  for c in study.CLAIMS.values():
    (line,) = [ln for ln in lines if ln.startswith(c.name + " ")]
    assert c.section in line and c.text_en[:30] in line
  assert f"{len(study.CLAIMS)} claims" in out


@pytest.mark.parametrize(
  "argv, message",
  [
    (["l1-sparsty"], "unknown claim 'l1-sparsty'; did you mean l1-sparsity?"),
    ([], "name a claim, or give --all or --list"),
    (["l1-sparsity", "--all"], "not both"),
    (["l1-sparsity", "--seeds", "1"], "--seeds: 1 is not valid"),
  ],
)
def test_bad_input_is_one_line_exit_2(capsys, argv, message):
  code, out, err = _run(capsys, "study", *argv)
  assert code == 2
  assert message in err and len(err.strip().splitlines()) == 1


def test_claims_file_is_listed_and_bad_file_is_one_line(capsys, tmp_path):
  saved = dict(study.CLAIMS)
  try:
    f = tmp_path / "mine.json"
    f.write_text(
      json.dumps(
        [
          {
            "name": "mine",
            "section": "002 优化算法",
            "text_zh": "梯度下降",
            "text_en": "My own claim.",
            "base": {"epochs": 1},
            "arms": {"a": {"optimizer": "adam"}, "b": {"optimizer": "sgd"}},
            "metric": {"kind": "final", "of": "test_accuracy"},
            "rule": {"pairs": [["a", "b"]], "direction": "higher"},
          }
        ]
      ),
      encoding="utf-8",
    )
    code, out, _ = _run(capsys, "study", "--list", "--claims", str(f))
    assert code == 0 and "mine" in out and "My own claim." in out
    f.write_text('[{"name": "x"}]', encoding="utf-8")
    code, _, err = _run(capsys, "study", "--list", "--claims", str(f))
    assert code == 2 and "claims[0]" in err and "missing" in err
  finally:
    study.CLAIMS.clear()
    study.CLAIMS.update(saved)


# One claim of each diagnostic metric kind (the other kinds read History.metrics and are
# checked on synthetic histories in test_study.py). Every claim running end to end is the
# committed report, docs/study.md (`jpatterns study --all`); in quick mode all 20 take
# ~115 s here, too much for the suite's budget.
REPRESENTATIVE = (
  "l1-sparsity",  # sparsity (its three arms share one program: l1/l2 are traced)
  "elu-mean-zero",  # act_mean_abs
  "he-for-relu",  # act_std_ratio, at init
  "adagrad-lr-decays",  # effective_lr_ratio
  "residual-gradients",  # grad_norm_ratio, the resmlp model
  "augment-gap",  # gap, augmentation on a training subset
)


@pytest.mark.slow
def test_claims_of_every_diagnostic_kind_end_to_end_in_quick_mode(capsys, tmp_path):
  """Claims of every diagnostic metric run (train → metric → rule → plot → report)."""
  t0 = time.perf_counter()
  code, out, _ = _run(
    capsys,
    "study",
    *REPRESENTATIVE,
    "--quick",
    "--out",
    str(tmp_path / "st"),
    "--report",
    str(tmp_path / "study.md"),
    "--devices",
    "1",
    "--quiet",
  )
  seconds = time.perf_counter() - t0
  assert code == 0
  for name in REPRESENTATIVE:
    assert (tmp_path / "st" / f"{name}.png").stat().st_size > 10_000, name
  record = json.loads((tmp_path / "st" / "study.json").read_text(encoding="utf-8"))
  assert sorted(r["claim"] for r in record["results"]) == sorted(REPRESENTATIVE)
  assert all(
    r["verdict"] in ("supported", "not supported", "inconclusive") for r in record["results"]
  )
  assert f"{len(REPRESENTATIVE)} claim(s) in" in out and "[quick: not results]" in out
  assert "l1 > l2: d = " in out and "verdict: " in out and "quick mode: not a result" in out
  (l1,) = [r for r in record["results"] if r["claim"] == "l1-sparsity"]
  assert l1["quick"] is True and set(l1["values"]) == {"none", "l1", "l2"}
  assert all(len(v) == 2 for v in l1["values"].values())
  text = (tmp_path / "study.md").read_text(encoding="utf-8")
  assert "quick mode" in text and "](st/l1-sparsity.png)" in text
  print(f"{len(REPRESENTATIVE)} claims, quick mode: {seconds:.0f} s")
