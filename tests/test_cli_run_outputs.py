"""What a run leaves on disk: a diverged run stops and keeps its last finite checkpoint,
an unusable --out is refused before anything compiles (and nothing is left behind), a
second run on the same --out is refused while the first holds its lock, and every file
is written whole (temp file + rename) with the umask's mode."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading

import jax.numpy as jnp
import numpy as np
import pytest

from jpatterns import datasets, train
from jpatterns.cli import main
from jpatterns.train import _files, engine
from jpatterns.train import checkpoint as ckpt

STEPS = 1438 // 64  # minibatches per digits epoch at batch size 64


def _diverging_after(epochs: int):
  """A linear model whose logits turn NaN after ``epochs`` epochs (a counter in its state)."""

  def build(config, input_shape, num_classes):
    n = int(np.prod(input_shape))

    def init(key):
      return {"w": jnp.zeros((n, num_classes))}, {"steps": jnp.zeros((), jnp.int32)}

    def apply(params, state, x, key, train):
      logits = x.reshape(len(x), -1) @ params["w"]
      logits = jnp.where(state["steps"] > epochs * STEPS, jnp.nan, logits)
      return logits, {"steps": state["steps"] + (1 if train else 0)}

    return train.Model(init, apply, "diverging")

  return build


train.register_model("diverging_after_one_epoch", _diverging_after(1))  # from epoch 2's 2nd step
train.register_model("diverging_after_three_epochs", _diverging_after(3))


CONFIG = train.TrainConfig(model="diverging_after_one_epoch", epochs=4, batch_size=64)


@pytest.fixture(scope="module")
def digits():
  return datasets.load("digits")


def test_a_diverged_run_stops_and_keeps_the_last_finite_checkpoint(digits, tmp_path):
  out = tmp_path / "run"
  with pytest.raises(engine.NonFiniteLossError) as e:
    train.fit(CONFIG, digits, out=out, checkpoint_min_interval=0)
  assert (e.value.epoch, e.value.metric, e.value.seeds, e.value.kept) == (2, "train_loss", [0], 1)
  assert "not finite at epoch 2" in str(e.value) and "holds epoch 1" in str(e.value)
  metadata, _, leaves = train.load_checkpoint(out / "checkpoint.npz")
  assert metadata["epoch"] == 1 and all(np.isfinite(a).all() for a in leaves)
  assert np.isfinite(metadata["history"]).all()
  # no lock, no metrics.json of a failed run; the epochs' lines
  assert sorted(os.listdir(out)) == ["checkpoint.npz", "metrics.jsonl"]


def test_a_diverged_run_says_when_no_checkpoint_was_written(digits, tmp_path, monkeypatch):
  """The default policy (at most one checkpoint per 10 s): a run diverging in its first
  seconds has written none, and the error says so."""
  monkeypatch.setattr(engine, "_clock", lambda: 0.0)  # no time passes
  with pytest.raises(engine.NonFiniteLossError) as e:
    train.fit(CONFIG, digits, out=tmp_path / "run")
  assert e.value.kept == 0 and "no checkpoint was written before it" in str(e.value)
  assert not (tmp_path / "run" / "checkpoint.npz").exists()


def test_a_diverged_run_with_checkpoint_every_keeps_the_last_written(digits, tmp_path):
  """checkpoint_every=2, the loss NaN at epoch 4: the checkpoint holds epoch 2."""
  config = dataclasses.replace(CONFIG, model="diverging_after_three_epochs", epochs=5)
  with pytest.raises(engine.NonFiniteLossError) as e:
    train.fit(config, digits, out=tmp_path, checkpoint_every=2, checkpoint_min_interval=0)
  assert (e.value.epoch, e.value.kept) == (4, 2)
  assert "holds epoch 2, the last one written" in str(e.value)
  assert train.load_checkpoint(tmp_path / "checkpoint.npz")[0]["epoch"] == 2


@pytest.mark.parametrize(
  "every,interval,written",
  [
    (1, 10.0, [4, 7]),
    (1, 0.0, [1, 2, 3, 4, 5, 6, 7]),
    (2, 10.0, [4, 7]),
    (3, 10.0, [6, 7]),
    (1, 3.0, [2, 3, 4, 5, 6, 7]),
  ],
)
def test_checkpoints_at_most_one_per_min_interval(
  digits, tmp_path, monkeypatch, every, interval, written
):
  """A clock that moves 4 s an epoch: with the default 10 s a checkpoint is written after
  epochs 4 (12 s since training began) and 7 (the last, 12 s later: always written)."""
  clock = [0.0]
  monkeypatch.setattr(engine, "_clock", lambda: clock[0])
  epochs = []
  real_save = ckpt.save_checkpoint

  def save(path, host, *, metadata):
    epochs.append(metadata["epoch"])
    real_save(path, host, metadata=metadata)

  monkeypatch.setattr(ckpt, "save_checkpoint", save)

  def tick(epoch, metrics):
    clock[0] += 4.0

  train.fit(
    train.TrainConfig(epochs=7, width=8),
    digits,
    out=tmp_path,
    on_epoch=tick,
    checkpoint_every=every,
    checkpoint_min_interval=interval,
  )
  assert epochs == written
  assert train.load_checkpoint(tmp_path / "checkpoint.npz")[0]["epoch"] == 7


def test_checkpoint_every_n_epochs_and_the_last_resumes_exactly(digits, tmp_path):
  """checkpoint_every=2 with per-seed carries (the loop axis, stacked on the host): a run
  interrupted after epoch 3 holds epoch 2; resumed, it equals the uninterrupted run, and
  the last epoch (5) is written though 5 is odd."""
  config = train.TrainConfig(epochs=5, width=8)

  def interrupt(epoch, metrics):
    if epoch == 2:
      raise KeyboardInterrupt

  with pytest.raises(KeyboardInterrupt):
    train.fit(
      config,
      digits,
      seeds=2,
      seed_axis="loop",
      out=tmp_path / "a",
      checkpoint_every=2,
      checkpoint_min_interval=0,
      on_epoch=interrupt,
    )
  assert train.load_checkpoint(tmp_path / "a" / "checkpoint.npz")[0]["epoch"] == 2
  resumed = train.fit(
    config,
    digits,
    resume=tmp_path / "a" / "checkpoint.npz",
    seed_axis="loop",
    out=tmp_path / "b",
    checkpoint_every=2,
  )
  full = train.fit(config, digits, seeds=2, seed_axis="loop")
  assert resumed.start_epoch == 2
  for m in train.METRICS:
    np.testing.assert_array_equal(resumed.metrics[m], full.metrics[m], err_msg=m)
  metadata, layout, leaves = train.load_checkpoint(tmp_path / "b" / "checkpoint.npz")
  assert metadata["epoch"] == 5
  import jax

  flat, _ = jax.tree_util.tree_flatten_with_path((full.params, full.state, full.opt_state))
  saved = dict(zip([name for name, _, _ in layout], leaves))
  for path, leaf in flat:
    np.testing.assert_array_equal(saved[jax.tree_util.keystr(path)], np.asarray(leaf))


def test_terminate_on_nan_false_trains_every_epoch(digits):
  h = train.fit(CONFIG, digits, terminate_on_nan=False)
  loss = h.metrics["train_loss"][0]
  assert np.isfinite(loss[0]) and np.isnan(loss[1:]).all() and loss.shape == (4,)


def test_cli_divergence_is_one_line_exit_1_and_nothing_left(tmp_path, capsys):
  out = tmp_path / "a" / "b"
  code = main(
    [
      "train",
      "--optimizer",
      "sgd",
      "--lr",
      "1e30",
      "--width",
      "8",
      "--epochs",
      "2",
      "--quiet",
      "--no-compile-cache",
      "--out",
      str(out),
    ]
  )
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 1 and len(err) == 1, err
  assert "train_loss is not finite at epoch 1" in err[0] and "learning rate" in err[0]
  assert not (tmp_path / "a").exists()  # the directories it created are gone again


@pytest.mark.parametrize("case", ["file", "under_file", "long_name", "empty"])
def test_unusable_out_is_refused_before_compiling(tmp_path, capsys, case):
  (tmp_path / "f").write_text("x")
  out = {
    "file": tmp_path / "f",
    "under_file": tmp_path / "f" / "run",
    "long_name": tmp_path / ("n" * 300),
    "empty": "",
  }[case]
  with pytest.raises(train.ConfigError) as e:
    _files.check_output_dir(out)
  assert e.value.name == "out"
  code = main(["train", "--epochs", "1", "--quiet", "--out", str(out)])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1 and err[0].startswith("jpatterns train: error: --out"), err
  assert sorted(os.listdir(tmp_path)) == ["f"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_out_is_refused(tmp_path):
  ro = tmp_path / "ro"
  ro.mkdir(mode=0o500)
  with pytest.raises(train.ConfigError, match="not writable"):
    _files.check_output_dir(ro / "run")


def test_a_second_run_on_the_same_out_is_refused_while_the_first_holds_it(digits, tmp_path):
  out = tmp_path / "run"
  config = train.TrainConfig(epochs=1, width=8)
  with _files.output_lock(out):  # the first run, in progress
    with pytest.raises(train.ConfigError, match="in use by another run") as e:
      train.fit(config, digits, out=out)
    assert e.value.name == "out"
    train.fit(config, digits, out=out, overwrite=True)  # the user insists
  assert not (out / _files.LOCK_NAME).exists()
  # a lock left by a process that is gone is taken over
  dead = subprocess.run(
    [sys.executable, "-c", "import os; print(os.getpid())"],
    capture_output=True,
    text=True,
    check=True,
  ).stdout.strip()
  import socket

  (out / _files.LOCK_NAME).write_text(f"{dead} {socket.gethostname()}\n")
  train.fit(config, digits, out=out)
  assert sorted(os.listdir(out)) == ["checkpoint.npz", "metrics.json", "metrics.jsonl"]


def test_files_follow_the_umask(digits, tmp_path):
  old = os.umask(0o027)
  try:
    train.fit(train.TrainConfig(epochs=1, width=8), digits, out=tmp_path / "run")
  finally:
    os.umask(old)
  for name in ("checkpoint.npz", "metrics.json"):
    assert (tmp_path / "run" / name).stat().st_mode & 0o777 == 0o640, name


def test_concurrent_writers_leave_a_whole_file(tmp_path):
  """Two writers and a reader of one metrics file: every read parses (it was 145/500 bad)."""
  path = tmp_path / "metrics.json"
  engine._write_json(path, {"w": -1})
  bad = []

  def write(w):
    for i in range(200):
      engine._write_json(path, {"w": w, "i": i, "pad": "x" * 5000})

  def read():
    for _ in range(400):
      try:
        json.loads(path.read_text())
      except ValueError as e:
        bad.append(e)

  threads = [threading.Thread(target=write, args=(w,)) for w in (0, 1)]
  threads.append(threading.Thread(target=read))
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert not bad and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


def test_early_stop_restores_the_best_epoch_and_keep_best_writes_it(digits, tmp_path):
  config = train.TrainConfig(epochs=40, learning_rate=0.01, width=16)
  h = train.fit(config, digits, seeds=2, early_stop=2, keep_best=True, out=tmp_path)
  test_loss = h.metrics["test_loss"].mean(axis=0)
  ran = len(test_loss)
  assert ran < 40, "never stopped"
  assert h.best_epoch == int(np.argmin(test_loss)) + 1 and ran == h.best_epoch + 2
  metadata, layout, leaves = train.load_checkpoint(tmp_path / "best.npz")
  assert metadata["epoch"] == h.best_epoch
  saved = dict(zip([name for name, _, _ in layout], leaves))
  import jax

  flat, _ = jax.tree_util.tree_flatten_with_path((h.params, h.state, h.opt_state))
  for path, leaf in flat:
    np.testing.assert_array_equal(np.asarray(leaf), saved[jax.tree_util.keystr(path)])
  lines = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
  assert [r["epoch"] for r in lines] == list(range(1, ran + 1))
  np.testing.assert_allclose([r["test_loss"] for r in lines], h.metrics["test_loss"].T, rtol=1e-6)
  assert json.loads((tmp_path / "metrics.json").read_text())["best_epoch"] == h.best_epoch
  # best.npz is a checkpoint like any other: training resumes from it
  again = train.fit(
    dataclasses.replace(config, epochs=h.best_epoch + 1), digits, resume=tmp_path / "best.npz"
  )
  assert again.start_epoch == h.best_epoch


@pytest.mark.parametrize(
  "kwargs,name",
  [
    ({"early_stop": 0}, "early_stop"),
    ({"early_stop": 2.5}, "early_stop"),
    ({"keep_best": True}, "keep_best"),
    ({"seed_axis": "x"}, "seed_axis"),
    ({"diagnostics": "yes"}, "diagnostics"),
    ({"checkpoint_every": 0}, "checkpoint_every"),
    ({"checkpoint_every": 2.5}, "checkpoint_every"),
    ({"checkpoint_every": True}, "checkpoint_every"),
    ({"checkpoint_min_interval": -1}, "checkpoint_min_interval"),
    ({"checkpoint_min_interval": float("nan")}, "checkpoint_min_interval"),
    ({"checkpoint_min_interval": float("inf")}, "checkpoint_min_interval"),
    ({"checkpoint_min_interval": "10"}, "checkpoint_min_interval"),
    ({"checkpoint_min_interval": None}, "checkpoint_min_interval"),
    ({"share_eval": 1}, "share_eval"),
  ],
)
def test_bad_run_options_name_the_argument(digits, kwargs, name):
  with pytest.raises(train.ConfigError) as e:
    exp = engine.prepare(train.TrainConfig(epochs=1, width=8), digits)
    engine.run_experiment(exp, **kwargs)  # fit's options, and share_eval
  assert e.value.name == name


def test_cli_refuses_an_out_in_use_with_one_line(tmp_path, capsys):
  import socket

  out = tmp_path / "run"
  out.mkdir()
  (out / _files.LOCK_NAME).write_text(f"{os.getpid()} {socket.gethostname()}\n")  # alive
  before = sorted(os.listdir(out))
  code = main(["train", "--epochs", "1", "--width", "8", "--quiet", "--out", str(out)])
  err = capsys.readouterr().err.strip().splitlines()
  assert code == 2 and len(err) == 1 and "--out" in err[0] and "in use by another run" in err[0]
  assert "Traceback" not in err[0] and sorted(os.listdir(out)) == before


def test_cli_diagnostics_land_in_the_json_outputs(tmp_path, capsys):
  """--diagnostics: metrics.json (train) and compare.json (compare) carry the per-layer
  records, (seeds, epochs + 1, layers) each; the numbers are checked in test_diagnostics."""
  flags = ["--epochs", "2", "--width", "8", "--quiet", "--no-compile-cache", "--diagnostics"]
  assert main(["train", *flags, "--out", str(tmp_path / "t")]) == 0
  record = json.loads((tmp_path / "t" / "metrics.json").read_text())
  assert record["layers"] == ["dense0", "dense1", "head"]
  assert np.asarray(record["diagnostics"]["grad_norm"]).shape == (1, 3, 3)
  assert np.isfinite(np.asarray(record["diagnostics"]["effective_lr"])).all()
  out = tmp_path / "c"
  args = ["compare", *flags, "--vary", "lr=0.001,0.01", "--seeds", "2", "--no-plot"]
  assert main([*args, "--out", str(out)]) == 0
  results = json.loads((out / "compare.json").read_text())["results"]
  assert [np.asarray(r["diagnostics"]["sparsity"]).shape for r in results] == [(2, 3, 3)] * 2
  capsys.readouterr()
