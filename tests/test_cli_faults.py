"""Faults a new user makes, against the ``jpatterns`` command (issue 16).

One table, :data:`FAULTS`: a bad checkpoint header (edited as a user would: load the
``.npz`` and its JSON header, change one thing, ``np.savez`` it back), a file that is
no checkpoint, or a bad ``--opt`` / ``--sched`` value. Every row must end in exactly
one line on stderr naming the problem, exit status 2, no traceback, nothing on
stdout, nothing written to ``--out`` and no checkpoint changed. Every row must fail
before a dataset is loaded or a program is compiled (:func:`nothing_builds` makes
either a test failure), so the table runs in-process in well under a second a row;
two rows also run as real processes for the real exit status.

One real checkpoint is trained once per module (1 epoch, width 8) and edited per row.
"""

import hashlib
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from jpatterns import train
from jpatterns.cli import main
from jpatterns.train import engine
from jpatterns.train.checkpoint import read_training_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOAD_DATA = engine.load_data


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
  """A real ``checkpoint.npz`` of ``jpatterns train --epochs 1 --width 8`` and its hash."""
  out = tmp_path_factory.mktemp("good")
  argv = ["train", "--epochs", "1", "--width", "8", "--quiet", "--devices", "1"]
  assert main([*argv, "--out", str(out)]) == 0
  path = out / "checkpoint.npz"
  return path, _hash(path)


def _hash(path) -> str:
  return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(autouse=True)
def nothing_builds(monkeypatch):
  """A bad input must be refused before any data is loaded or anything compiles."""

  def refuse(*args, **kwargs):
    raise AssertionError("a faulty input got as far as loading data or compiling")

  monkeypatch.setattr(engine, "load_data", refuse)
  monkeypatch.setattr(engine, "Trainer", refuse)


# --- how the bad inputs are made -----------------------------------------------------


class Payload:
  """Unpickling this creates ``marker``: proof that a pickled array was (not) loaded."""

  def __init__(self, marker):
    self.marker = marker

  def __reduce__(self):
    return (open, (self.marker, "w"))


def _meta(obj) -> np.ndarray:
  return np.frombuffer(json.dumps(obj).encode("utf-8"), np.uint8)


def _edited(good, bad, edit) -> None:
  """``good`` with ``edit(header, arrays)`` applied, saved to ``bad`` as a user would.

  ``arrays`` lacks ``meta`` while ``edit`` runs; unless ``edit`` puts one back, the
  edited ``header`` is written as it. An array set to None is left out.
  """
  with np.load(good, allow_pickle=False) as npz:
    arrays = dict(npz)
  header = json.loads(bytes(arrays.pop("meta")).decode("utf-8"))
  edit(header, arrays)
  if "meta" not in arrays:
    arrays["meta"] = _meta(header)
  np.savez(bad, **{k: v for k, v in arrays.items() if v is not None})


def _md(**changes):
  """An edit setting metadata fields (``None``: delete the field)."""

  def edit(h, a):
    for k, v in changes.items():
      if v is None:
        del h["metadata"][k]
      else:
        h["metadata"][k] = v

  return edit


def _cfg(**changes):
  """An edit setting fields of the metadata's config."""
  return lambda h, a: h["metadata"]["config"].update(changes)


def _history(fn):
  """An edit of ``history``: ``fn(history)`` in place."""
  return lambda h, a: fn(h["metadata"]["history"])


def _set_item(obj, key, value):
  obj[key] = value


# Header faults: (id, edit, substring of the one stderr line). Leaf 1 is the first
# dense kernel, (1, 64, 8) float32; the checkpoint has 19 leaves.
HEADERS = [
  ("missing config", _md(config=None), "header field 'config' is missing"),
  ("missing seeds", _md(seeds=None), "header field 'seeds' is missing"),
  ("missing epoch", _md(epoch=None), "header field 'epoch' is missing"),
  ("missing history", _md(history=None), "header field 'history' is missing"),
  ("unknown metadata field", _md(note="x"), "header field 'note'='x' is not a training"),
  ("config not an object", _md(config="mlp"), "header field 'config'='mlp' must be a JSON obj"),
  ("config.augment not a list", _cfg(augment="cutout"), "header field 'config.augment'='cutout'"),
  ("config unknown field", _cfg(optimiser="adam"), "'config'=['optimiser'] are not TrainConfig"),
  ("config bad value", _cfg(batch_size=0), "header field 'config.batch_size'=0 must be an int"),
  ("config bad name", _cfg(norm="batchy"), "header field 'config.norm'='batchy' is not valid"),
  ("config bad opt", _cfg(optimizer_kwargs={"b1": "x"}), "'config.optimizer_kwargs'={'b1': 'x'}"),
  ("epoch a string", _md(epoch="3"), "header field 'epoch'='3' must be an integer >= 1"),
  ("epoch a bool", _md(epoch=True), "header field 'epoch'=True must be an integer >= 1"),
  ("epoch 0", _md(epoch=0), "header field 'epoch'=0 must be an integer >= 1"),
  ("epoch -3", _md(epoch=-3), "header field 'epoch'=-3 must be an integer >= 1"),
  ("epoch past config.epochs", _md(epoch=5), "'epoch'=5 is more than config.epochs=1"),
  (
    "epoch larger than history",
    lambda h, a: (_md(epoch=2)(h, a), _cfg(epochs=3)(h, a)),
    "header field 'history[0][0]'=[",
  ),
  ("seeds empty", _md(seeds=[]), "header field 'seeds'=[] must be a non-empty list"),
  ("seeds not a list", _md(seeds=0), "header field 'seeds'=0 must be a non-empty list"),
  ("seeds repeated", _md(seeds=[0, 0]), "header field 'seeds'=[0, 0] repeats a seed"),
  ("seeds negative", _md(seeds=[-1]), "header field 'seeds'=[-1] must be a non-empty list of"),
  ("seeds strings", _md(seeds=["0"]), "header field 'seeds'=['0'] must be a non-empty list of"),
  (
    "seeds more than the arrays hold",
    lambda h, a: _md(seeds=[0, 1], history=h["metadata"]["history"] * 2)(h, a),
    "every array's first axis is the 2 seed(s)",
  ),
  (
    "history not a list",
    _md(history="x"),
    "header field 'history'='x' must be lists [seed][metric][epoch] of shape (1, 4, 1)",
  ),
  (
    "history one per seed",
    _md(history=[]),
    "header field 'history'=[] must be lists [seed][metric][epoch] of shape (1, 4, 1)",
  ),
  ("history ragged metrics", _history(lambda h: h[0].pop()), "'history[0]'=[["),
  (
    "history ragged epochs",
    _history(lambda h: h[0][2].append(0.5)),
    "header field 'history[0][2]'=[",
  ),
  ("history NaN", _history(lambda h: _set_item(h[0][0], 0, math.nan)), "'history[0][0][0]'=nan"),
  ("history inf", _history(lambda h: _set_item(h[0][2], 0, math.inf)), "'history[0][2][0]'=inf"),
  (
    "history accuracy 1.5",
    _history(lambda h: _set_item(h[0][1], 0, 1.5)),
    "'history[0][1][0]'=1.5 must be a finite train_accuracy in [0, 1]",
  ),
  (
    "history a string value",
    _history(lambda h: _set_item(h[0][3], 0, "0.9")),
    "'history[0][3][0]'='0.9' must be a finite test_accuracy",
  ),
  (
    "leaf shape differs from layout",
    lambda h, a: _set_item(a, "leaf_00001", np.zeros((1, 64, 9), np.float32)),
    "'layout[1]'=\"[0]['dense0']['linear']['w']\" says shape (1, 64, 8) float32; array "
    "'leaf_00001' is (1, 64, 9) float32",
  ),
  (
    "layout shape differs from leaf",
    lambda h, a: _set_item(h["layout"][1], 1, [1, 64, 9]),
    "says shape (1, 64, 9) float32; array 'leaf_00001' is (1, 64, 8) float32",
  ),
  (
    "leaf dtype differs",
    lambda h, a: _set_item(a, "leaf_00001", a["leaf_00001"].astype(np.float64)),
    "array 'leaf_00001' is (1, 64, 8) float64",
  ),
  (
    "layout dtype differs",
    lambda h, a: _set_item(h["layout"][1], 2, "int32"),
    "says shape (1, 64, 8) int32; array 'leaf_00001' is (1, 64, 8) float32",
  ),
  (
    "layout dtype no dtype",
    lambda h, a: _set_item(h["layout"][1], 2, "float99"),
    "header field 'layout[1]'=[",
  ),
  (
    "layout dtype object",
    lambda h, a: _set_item(h["layout"][1], 2, "object"),
    "names no array dtype ('object')",
  ),
  ("missing leaf", lambda h, a: a.pop("leaf_00018"), "has no array 'leaf_00018' in the file"),
  (
    "extra leaf",
    lambda h, a: _set_item(a, "leaf_00019", np.zeros(1)),
    "'layout' lists 19 arrays, not the file's array 'leaf_00019'",
  ),
  (
    "leaf without seed axis",
    lambda h, a: (
      _set_item(a, "leaf_00000", a["leaf_00000"][0]),
      _set_item(h["layout"][0], 1, [8]),
    ),
    "has shape (8,); every array's first axis is the 1 seed(s)",
  ),
  ("layout not a list", lambda h, a: _set_item(h, "layout", {}), "header field 'layout'={} must"),
  ("layout missing", lambda h, a: h.pop("layout"), "header field 'layout' is missing"),
  (
    "layout entry malformed",
    lambda h, a: _set_item(h["layout"][0], 1, [1, "8"]),
    "header field 'layout[0]'=[",
  ),
  (
    "layout shape negative",
    lambda h, a: _set_item(h["layout"][0], 1, [1, -8]),
    "must be [tree path, shape (a list of integers >= 0), dtype name]",
  ),
  (
    "meta not JSON",
    lambda h, a: _set_item(a, "meta", np.frombuffer(b"{not json", np.uint8)),
    "is not a jpatterns checkpoint (its header is not JSON",
  ),
  (
    "meta not UTF-8",
    lambda h, a: _set_item(a, "meta", np.frombuffer(b"\xff\xfe{}", np.uint8)),
    "is not a jpatterns checkpoint (its header is not JSON",
  ),
  (
    "meta a JSON list",
    lambda h, a: _set_item(a, "meta", _meta([1, 2])),
    "(its header is not a JSON object)",
  ),
  (
    "meta not bytes",
    lambda h, a: _set_item(a, "meta", np.zeros(3, np.float32)),
    "(no 'meta' header of JSON bytes)",
  ),
  ("meta missing", lambda h, a: _set_item(a, "meta", None), "(no 'meta' header of JSON bytes)"),
  (
    "meta pickled",
    lambda h, a: _set_item(a, "meta", np.array([h], dtype=object)),
    "array 'meta' holds pickled Python objects",
  ),
  ("format wrong", lambda h, a: _set_item(h, "format", "jpatterns-checkpoint-1"), "'format'"),
  ("format missing", lambda h, a: h.pop("format"), "header field 'format' is missing"),
  ("header unknown field", lambda h, a: _set_item(h, "extra", 1), "header field 'extra'=1 is not"),
  (
    "metadata not an object",
    lambda h, a: _set_item(h, "metadata", []),
    "header field 'metadata'=[] must be a JSON object",
  ),
]


def _junk(path, good):
  path.write_bytes(b"not a checkpoint")


def _npy(path, good):
  with open(path, "wb") as f:
    np.save(f, np.zeros(3))


def _truncated(path, good):
  path.write_bytes(good.read_bytes()[:2000])


def _corrupted(path, good):
  """Compressed (``np.savez_compressed``), then bytes of the deflate stream flipped."""
  with np.load(good, allow_pickle=False) as npz:
    np.savez_compressed(path, **dict(npz))
  data = bytearray(path.read_bytes())
  for i in range(len(data) // 2, len(data) // 2 + 32):
    data[i] ^= 0xFF
  path.write_bytes(bytes(data))


# Files that are no checkpoint at all: (id, write(path, good), substring).
FILES = [
  ("not a zip", _junk, "is not a jpatterns checkpoint ("),
  ("a .npy file", _npy, "(a .npy array, not an .npz archive)"),
  ("truncated", _truncated, "is not a jpatterns checkpoint ("),
  ("compressed and corrupted", _corrupted, "is not a jpatterns checkpoint ("),
  ("no such file", lambda path, good: None, "no checkpoint at"),
]

RESUME = ["train", "--epochs", "3", "--quiet", "--devices", "1"]

# Bad optimizer and schedule keywords: (id, argv, substring).
OPTIONS = [
  (
    "checkpoint-every 0",
    ["--checkpoint-every", "0"],
    "--checkpoint-every: 0 is not valid; give a number of epochs >= 1",
  ),
  (
    "checkpoint-min-interval nan",
    ["--checkpoint-min-interval", "nan"],
    "--checkpoint-min-interval: nan is not valid; give a finite number of seconds >= 0",
  ),
  (
    "checkpoint-min-interval -1",
    ["--checkpoint-min-interval", "-1"],
    "--checkpoint-min-interval: -1.0 is not valid; give a finite number of seconds >= 0",
  ),
  ("opt b1=abc", ["--opt", "b1=abc"], "--opt: {'b1': 'abc'} is not valid; adam: b1='abc' must be"),
  (
    "opt eps=nan",
    ["--opt", "eps=nan"],
    "--opt: {'eps': nan} is not valid; adam: eps=nan must be a",
  ),
  ("opt eps=inf", ["--opt", "eps=inf"], "adam: eps=inf must be a finite number"),
  ("opt eps=-inf", ["--opt", "eps=-inf"], "adam: eps=-inf must be a finite number"),
  ("opt b1=1.5", ["--opt", "b1=1.5"], "--opt: {'b1': 1.5} is not valid; adam: b1=1.5 is outside"),
  ("opt b1=true", ["--opt", "b1=true"], "adam: b1=True must be a finite number"),
  ("opt b1=[0.9]", ["--opt", "b1=[0.9]"], "adam: b1=[0.9] must be a finite number"),
  ("opt b1 empty", ["--opt", "b1="], "adam: b1='' must be a finite number"),
  ("opt eps=-1", ["--opt", "eps=-1"], "adam: eps=-1 must be >= 0"),
  (
    "opt nosuch=1",
    ["--opt", "nosuch=1"],
    "--opt: 'nosuch' is not a keyword of adam; choose from b1",
  ),
  ("opt =1", ["--opt", "=1"], "--opt: '=1' is not NAME=VALUE"),
  ("opt b1", ["--opt", "b1"], "--opt: 'b1' is not NAME=VALUE"),
  (
    "opt lr for adadelta",
    ["--optimizer", "adadelta", "--opt", "learning_rate=2"],
    "'learning_rate' is not a keyword of adadelta",
  ),
  (
    "opt centered=1",
    ["--optimizer", "rmsprop", "--opt", "centered=1"],
    "rmsprop: centered=1 must be true or false",
  ),
  (
    "opt velocity",
    ["--optimizer", "momentum", "--opt", "velocity=sideways"],
    "momentum: velocity='sideways' is not valid; choose one of 'seed', 'gradient'",
  ),
  (
    "sched decay_rate=abc",
    ["--schedule", "exponential", "--sched", "decay_rate=abc"],
    "--sched: {'decay_rate': 'abc'} is not valid; exponential_decay: decay_rate='abc' must be",
  ),
  (
    "sched decay_rate=-1",
    ["--schedule", "exponential", "--sched", "decay_rate=-1"],
    "exponential_decay: decay_rate=-1 is outside (0.0, 1.0]",
  ),
  (
    "sched nosuch=1",
    ["--schedule", "cosine", "--sched", "nosuch=1"],
    "--sched: 'nosuch' is not a keyword of cosine_decay; choose from alpha",
  ),
  (
    "sched alpha=nan",
    ["--schedule", "cosine_decay", "--sched", "alpha=nan"],
    "--sched: {'alpha': nan} is not valid; cosine_decay: alpha=nan must be a finite number",
  ),
  (
    "sched alpha=2",
    ["--schedule", "cosine_decay", "--sched", "alpha=2"],
    "cosine_decay: alpha=2 is outside [0.0, 1.0]",
  ),
  (
    "sched boundaries decreasing",
    ["--schedule", "step", "--sched", "boundaries=[5,3]"],
    "step_decay: boundaries=[5, 3] is not strictly increasing",
  ),
  (
    "sched boundaries strings",
    ["--schedule", "step", "--sched", "boundaries=[5,'a']"],
    "step_decay: boundaries=[5, 'a'] must be a list of integers",
  ),
  (
    "sched staircase=2",
    ["--schedule", "exponential", "--sched", "staircase=2"],
    "exponential_decay: staircase=2 must be true or false",
  ),
  ("sched for constant", ["--sched", "alpha=0.1"], "'alpha' is not a keyword of constant"),
]

COMPARE = [
  (
    "compare opt b1=abc",
    ["compare", "--vary", "optimizer=adam,lion", "--opt", "b1=abc"],
    "--opt: {'b1': 'abc'} is not valid",
  ),
  (
    "compare vary opt.b1",
    ["compare", "--vary", "optimizer=adam,nadam", "--vary", "opt.b1=0.5,nan"],
    "--opt: {'b1': nan} is not valid; adam: b1=nan must be a finite number",
  ),
]


def _one_line(code, out, err, expected) -> None:
  assert code == 2, err
  assert "Traceback" not in err
  assert out == ""
  lines = [l for l in err.splitlines() if l.strip()]
  assert len(lines) == 1, err
  assert expected in lines[0], lines[0]


def _main(argv):
  try:
    return main(argv)
  except SystemExit as e:  # argparse's own errors
    return e.code


@pytest.mark.parametrize("name,edit,expected", HEADERS, ids=[h[0] for h in HEADERS])
def test_bad_checkpoint_header(name, edit, expected, checkpoint, tmp_path, capsys):
  good, good_hash = checkpoint
  bad = tmp_path / "bad.npz"
  _edited(good, bad, edit)
  bad_hash = _hash(bad)
  out = tmp_path / "out"
  code = _main([*RESUME, "--resume", str(bad), "--out", str(out)])
  _one_line(code, *capsys.readouterr(), expected)
  assert not out.exists()
  assert _hash(bad) == bad_hash and _hash(good) == good_hash


@pytest.mark.parametrize("name,edit,expected", HEADERS, ids=[h[0] for h in HEADERS])
def test_bad_checkpoint_header_through_the_library(name, edit, expected, checkpoint, tmp_path):
  """What engine._resume calls: the same one message, as a ValueError."""
  bad = tmp_path / "bad.npz"
  _edited(checkpoint[0], bad, edit)
  with pytest.raises(ValueError) as e:
    read_training_checkpoint(bad)
  assert expected in str(e.value) and "\n" not in str(e.value)


def test_fit_resume_checks_the_header(checkpoint, tmp_path, monkeypatch):
  """``fit(resume=...)`` refuses a bad header as the command does (data may load)."""
  monkeypatch.setattr(engine, "load_data", LOAD_DATA)
  bad = tmp_path / "bad.npz"
  _edited(checkpoint[0], bad, _md(epoch=-3))
  with pytest.raises(ValueError, match="header field 'epoch'=-3 must be an integer >= 1"):
    train.fit(train.TrainConfig(epochs=3, width=8), resume=bad, devices=1)


@pytest.mark.parametrize("name,write,expected", FILES, ids=[f[0] for f in FILES])
def test_not_a_checkpoint(name, write, expected, checkpoint, tmp_path, capsys):
  bad = tmp_path / "bad.npz"
  write(bad, checkpoint[0])
  out = tmp_path / "out"
  code = _main([*RESUME, "--resume", str(bad), "--out", str(out)])
  _one_line(code, *capsys.readouterr(), expected)
  assert not out.exists()


def test_a_pickled_payload_is_refused_and_never_runs(checkpoint, tmp_path, capsys):
  marker = tmp_path / "payload-ran"
  bad = tmp_path / "bad.npz"
  _edited(
    checkpoint[0],
    bad,
    lambda h, a: _set_item(a, "leaf_00000", np.array([Payload(str(marker))], dtype=object)),
  )
  out = tmp_path / "out"
  code = _main([*RESUME, "--resume", str(bad), "--out", str(out)])
  _one_line(code, *capsys.readouterr(), "array 'leaf_00000' holds pickled Python objects")
  assert not marker.exists() and not out.exists()


@pytest.mark.parametrize("name,argv,expected", OPTIONS, ids=[o[0] for o in OPTIONS])
def test_bad_optimizer_or_schedule_keyword(name, argv, expected, tmp_path, capsys):
  out = tmp_path / "out"
  code = _main(["train", *argv, "--quiet", "--devices", "1", "--out", str(out)])
  _one_line(code, *capsys.readouterr(), expected)
  assert not out.exists()


@pytest.mark.parametrize("name,argv,expected", COMPARE, ids=[c[0] for c in COMPARE])
def test_bad_keyword_in_compare(name, argv, expected, tmp_path, capsys):
  out = tmp_path / "out"
  code = _main([*argv, "--quiet", "--devices", "1", "--out", str(out)])
  _one_line(code, *capsys.readouterr(), expected)
  assert not out.exists()


@pytest.mark.parametrize(
  "kwargs,keyword",
  [
    ({"optimizer_kwargs": {"b1": "abc"}}, "b1"),
    ({"optimizer_kwargs": {"eps": math.nan}}, "eps"),
    ({"optimizer_kwargs": {"eps": math.inf}}, "eps"),
    ({"optimizer_kwargs": {"b1": 1.5}}, "b1"),
    ({"optimizer_kwargs": {"b1": True}}, "b1"),
    ({"schedule": "cosine_decay", "schedule_kwargs": {"alpha": math.nan}}, "alpha"),
    ({"schedule": "exponential_decay", "schedule_kwargs": {"decay_rate": "abc"}}, "decay_rate"),
  ],
  ids=str,
)
def test_bad_keyword_through_the_library(kwargs, keyword):
  field = "schedule_kwargs" if "schedule_kwargs" in kwargs else "optimizer_kwargs"
  with pytest.raises(train.ConfigError) as e:
    train.fit(train.TrainConfig(**kwargs))
  assert e.value.name == field and e.value.value == kwargs[field]
  assert str(e.value).startswith(f"{field}=") and f"{keyword}=" in str(e.value)


def test_good_keywords_still_build():
  """The checks refuse the faults, not the values the factories take."""
  import optax

  from jpatterns.train.build import make_optimizer
  from jpatterns.train.config import validate

  for kwargs in (
    {"optimizer": "nadam", "optimizer_kwargs": {"b1": 0.8, "momentum_decay": None}},
    {"optimizer": "rmsprop", "optimizer_kwargs": {"centered": True, "eps": 1}},
    {"optimizer": "momentum", "optimizer_kwargs": {"velocity": "gradient"}},
    {"schedule": "step_decay", "schedule_kwargs": {"boundaries": [3, 5], "factor": 0.5}},
    {"schedule": "exponential_decay", "schedule_kwargs": {"staircase": True, "end_value": None}},
  ):
    config = validate(train.TrainConfig(**kwargs))
    for field in ("optimizer_kwargs", "schedule_kwargs"):  # kept as given
      assert getattr(config, field) == kwargs.get(field, {})
    assert isinstance(make_optimizer(config, 4), optax.GradientTransformation)


# --- the real command: exit status and no traceback from a fresh process ------------


@pytest.mark.parametrize(
  "argv,expected",
  [
    (["--opt", "b1=abc"], "--opt: {'b1': 'abc'} is not valid"),
    (["--resume", "BAD"], "header field 'epoch'=-3 must be an integer >= 1"),
  ],
  ids=["opt", "resume"],
)
def test_through_a_real_process(argv, expected, checkpoint, tmp_path):
  bad = tmp_path / "bad.npz"
  _edited(checkpoint[0], bad, _md(epoch=-3))
  out = tmp_path / "out"
  argv = [str(bad) if a == "BAD" else a for a in argv]
  proc = subprocess.run(
    [sys.executable, "-m", "jpatterns", "train", *argv, "--quiet", "--out", str(out)],
    cwd=ROOT,
    env=dict(os.environ, PYTHONPATH=ROOT, XLA_FLAGS="", JPATTERNS_COMPILE_CACHE="off"),
    capture_output=True,
    text=True,
    timeout=120,
  )
  _one_line(proc.returncode, proc.stdout, proc.stderr, expected)
  assert not out.exists()
