"""`jpatterns train`, `compare` and `bench` through the command line.

Runs in-process through ``jpatterns.cli.main`` (the console script's function) with
small widths and few epochs; one subprocess each checks the real entry points. The
conftest gives this process 8 CPU devices, so the sharding test can compare 1 and 8.
"""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from test_datasets import MALFORMED, _write

from jpatterns.cli import main
from jpatterns.cli._errors import UsageError
from jpatterns.train import checkpoint as _checkpoint
from jpatterns.train import config as _options
from jpatterns.train import engine as _engine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["--width", "16", "--quiet", "--devices", "1"]


def _run(capsys, *argv):
  code = main(list(argv))
  out, err = capsys.readouterr()
  return code, out, err


def _metrics(out_dir):
  with open(os.path.join(out_dir, "metrics.json"), encoding="utf-8") as f:
    return json.load(f)


def _leaves(path):
  meta, _, leaves = _checkpoint.load_checkpoint(path)
  return meta, leaves


# --- the entry points ----------------------------------------------------------------


@pytest.mark.slow
def test_python_m_jpatterns_train_subprocess(tmp_path):
  """The real command: exit 0, a metrics JSON, a checkpoint that loads without pickle."""
  out = tmp_path / "run"
  proc = subprocess.run(
    [
      sys.executable,
      "-m",
      "jpatterns",
      "train",
      "--epochs",
      "3",
      "--quiet",
      "--devices",
      "1",
      "--out",
      str(out),
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert proc.returncode == 0, proc.stderr
  m = _metrics(out)
  assert len(m["curves"]["test_accuracy"][0]) == 3
  assert m["final"]["test_accuracy"]["mean"] > 0.9  # adam MLP, 3 epochs on digits
  with np.load(out / "checkpoint.npz", allow_pickle=False) as npz:
    assert json.loads(bytes(npz["meta"]))["metadata"]["epoch"] == 3


def test_console_script_entry_point():
  from importlib.metadata import entry_points

  (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "jpatterns"]
  from jpatterns.cli import main_exit

  assert ep.load() is main_exit


# --- training is what it says --------------------------------------------------------


def test_engine_equals_a_hand_written_sgd_loop():
  """One epoch of the engine = plain SGD on a hand-written MLP over the same batches."""
  cfg = _options.TrainConfig(
    epochs=1, width=16, depth=1, optimizer="sgd", learning_rate=0.1, initializer="glorot_uniform"
  )
  exp = _engine.prepare(cfg)
  trainer = _engine.Trainer(exp, [3], devices=1)
  carry = trainer.init_carry()
  params0 = jax.tree.map(lambda a: np.array(a[0]), carry[0])  # copy before donation
  data = trainer.data()
  carry, hist, _ = trainer.run(carry, data)

  x_tr = jnp.asarray(exp.data.x_train.reshape(len(exp.data.x_train), -1))
  y_tr = jax.nn.one_hot(exp.data.y_train, 10)

  def forward(p, x):
    h = jnp.maximum(x @ p["dense0"]["linear"]["w"] + p["dense0"]["linear"]["b"], 0)
    return h @ p["head"]["w"] + p["head"]["b"]

  def loss(p, x, y):
    return optax.softmax_cross_entropy(forward(p, x), y).mean()

  batches = _engine.epoch_batches(3, 0, len(x_tr), exp.steps_per_epoch, cfg.batch_size)
  p = jax.tree.map(jnp.asarray, params0)
  losses = []
  for idx in np.asarray(batches):
    value, g = jax.value_and_grad(loss)(p, x_tr[idx], y_tr[idx])
    losses.append(value)
    p = jax.tree.map(lambda w, gw: w - 0.1 * gw, p, g)
  final = jax.tree.map(lambda a: np.asarray(a[0]), carry[0])
  for ours, ref in zip(jax.tree.leaves(final), jax.tree.leaves(p)):
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(hist[0, 0, 0], np.mean(losses), rtol=1e-5)
  # The reported test accuracy is the hand-written model's on the test split.
  x_te = jnp.asarray(exp.data.x_test.reshape(len(exp.data.x_test), -1))
  acc = np.mean(np.argmax(forward(p, x_te), -1) == exp.data.y_test)
  np.testing.assert_allclose(hist[0, 3, 0], acc, atol=1.5 / len(x_te))


@pytest.mark.slow
def test_resume_after_interrupt_equals_uninterrupted(tmp_path, capsys, monkeypatch):
  """Ctrl-C after epoch 2 of 4, then --resume: the same arrays as one 4-epoch run."""
  flags = [
    "--epochs",
    "4",
    "--norm",
    "batch",
    "--dropout",
    "dropout",
    "--rate",
    "0.2",
    "--schedule",
    "cosine",
    "--optimizer",
    "momentum",
    *SMALL,
  ]
  full, part = tmp_path / "full", tmp_path / "part"
  assert _run(capsys, "train", *flags, "--out", str(full))[0] == 0

  real_save = _checkpoint.save_checkpoint

  def save_then_interrupt(path, carry, *, metadata):
    real_save(path, carry, metadata=metadata)
    if metadata["epoch"] == 2:
      raise KeyboardInterrupt

  monkeypatch.setattr(_checkpoint, "save_checkpoint", save_then_interrupt)
  code, _, err = _run(capsys, "train", *flags, "--checkpoint-min-interval", "0", "--out", str(part))
  assert code == 130 and "interrupted" in err
  assert _leaves(part / "checkpoint.npz")[0]["epoch"] == 2
  monkeypatch.setattr(_checkpoint, "save_checkpoint", real_save)

  # Flags not given are taken from the checkpoint.
  code, out, _ = _run(
    capsys,
    "train",
    "--resume",
    str(part / "checkpoint.npz"),
    "--out",
    str(part),
    "--quiet",
    "--devices",
    "1",
  )
  assert code == 0, out
  meta_full, leaves_full = _leaves(full / "checkpoint.npz")
  meta_part, leaves_part = _leaves(part / "checkpoint.npz")
  assert meta_part["epoch"] == meta_full["epoch"] == 4
  for a, b in zip(leaves_full, leaves_part):
    np.testing.assert_array_equal(a, b)
  assert _metrics(part)["curves"] == _metrics(full)["curves"]
  assert _metrics(part)["resumed_from_epoch"] == 2


@pytest.mark.slow
def test_sharded_over_8_devices_matches_one_device(tmp_path, capsys):
  """Batch sharded over 8 CPU devices (batch-norm statistics across them) = 1 device."""
  assert jax.device_count() == 8
  flags = [
    "train",
    "--epochs",
    "2",
    "--norm",
    "batch",
    "--dropout",
    "dropout",
    "--width",
    "32",
    "--seeds",
    "2",
    "--quiet",
  ]
  assert _run(capsys, *flags, "--devices", "1", "--out", str(tmp_path / "one"))[0] == 0
  code, out, _ = _run(capsys, *flags, "--devices", "8", "--out", str(tmp_path / "eight"))
  assert code == 0 and "8 x cpu" in out
  one, eight = _metrics(tmp_path / "one"), _metrics(tmp_path / "eight")
  for name in ("train_loss", "test_loss"):
    np.testing.assert_allclose(eight["curves"][name], one["curves"][name], rtol=1e-5)
  _, a = _leaves(tmp_path / "one" / "checkpoint.npz")
  _, b = _leaves(tmp_path / "eight" / "checkpoint.npz")
  for x, y in zip(a, b):
    np.testing.assert_allclose(y, x, rtol=1e-4, atol=1e-6)


# Every catalogue option the command takes, in a handful of runs: each must learn
# (test accuracy far above chance, train loss falling) with finite numbers.
OPTION_RUNS = [
  [
    "--norm",
    "layer",
    "--dropout",
    "gaussian_dropout",
    "--activation",
    "gelu",
    "--init",
    "glorot_normal",
    "--optimizer",
    "nesterov",
    "--schedule",
    "exponential_decay",
    "--clip",
    "clip_by_global_norm",
    "--l2",
    "1e-4",
  ],
  [
    "--norm",
    "rms_norm",
    "--dropout",
    "alpha_dropout",
    "--activation",
    "selu",
    "--init",
    "lecun_normal",
    "--optimizer",
    "rmsprop",
    "--opt",
    "centered=True",
    "--schedule",
    "step_decay",
    "--clip",
    "clip_by_value",
    "--l1",
    "1e-5",
    "--preprocess",
    "standardize",
  ],
  [
    "--norm",
    "group",
    "--dropout",
    "dropconnect",
    "--activation",
    "prelu",
    "--optimizer",
    "adagrad",
    "--schedule",
    "inverse_time_decay",
    "--max-norm",
    "3",
    "--label-smoothing",
    "0.1",
    "--preprocess",
    "zca_whiten",
  ],
  [
    "--dropout",
    "standout",
    "--norm",
    "none",
    "--activation",
    "rrelu",
    "--optimizer",
    "adadelta",
    "--clip",
    "clip_by_norm",
    "--loss",
    "focal_loss",
  ],
  [
    "--activation",
    "elu",
    "--init",
    "orthogonal",
    "--optimizer",
    "adamw",
    "--weight-decay",
    "1e-3",
    "--schedule",
    "natural_exp_decay",
    "--warmup-steps",
    "10",
    "--augment",
    "random_crop,random_rotate,random_zoom,random_translate,gaussian_noise,cutout,mixup",
  ],
  [
    "--augment",
    "random_flip_up_down,random_flip_left_right",
    "--optimizer",
    "lion",
    "--lr",
    "1e-3",
    "--init",
    "he_uniform",
    "--activation",
    "softplus",
  ],
  [
    "--model",
    "cnn",
    "--norm",
    "instance_norm",
    "--dropout",
    "spatial_dropout",
    "--optimizer",
    "sgd",
    "--activation",
    "silu",
    "--width",
    "8",
  ],
  [
    "--model",
    "resnet",
    "--norm",
    "batch",
    "--dropout",
    "drop_path",
    "--depth",
    "1",
    "--width",
    "8",
    "--optimizer",
    "amsgrad",
    "--lr",
    "1e-2",
    "--preprocess",
    "min_max_scale",
  ],
  [
    "--model",
    "cnn",
    "--norm",
    "local_response_norm",
    "--optimizer",
    "nadam",
    "--activation",
    "mish",
    "--width",
    "8",
    "--depth",
    "1",
  ],
  [
    "--model",
    "lstm",
    "--optimizer",
    "adamax",
    "--lr",
    "1e-2",
    "--activation",
    "sigmoid",
    "--norm",
    "layer_norm",
    "--init",
    "glorot_uniform",
  ],
  [
    "--dataset",
    "sequence",
    "--optimizer",
    "adamax",
    "--lr",
    "1e-2",
    "--activation",
    "leaky_relu",
    "--epochs",
    "6",
  ],
  [
    "--dataset",
    "spirals",
    "--optimizer",
    "momentum",
    "--lr",
    "0.1",
    "--activation",
    "celu",
    "--norm",
    "weight_norm",
    "--width",
    "64",
    "--epochs",
    "6",
  ],
]


@pytest.mark.slow
@pytest.mark.parametrize(
  "flags", OPTION_RUNS, ids=lambda f: "_".join(v for v in f if not v.startswith("-"))[:60]
)
def test_every_option_trains(flags, tmp_path, capsys):
  code, out, err = _run(
    capsys, "train", "--epochs", "3", "--quiet", "--devices", "1", *flags, "--out", str(tmp_path)
  )
  assert code == 0, err
  m = _metrics(tmp_path)
  chance = 1 / (2 if "sequence" in flags else (3 if "spirals" in flags else 10))
  train_loss = np.asarray(m["curves"]["train_loss"][0])
  assert np.all(np.isfinite(train_loss))
  assert train_loss[-1] < train_loss[0], train_loss
  accuracy = m["final"]["test_accuracy"]["mean"]
  assert accuracy > chance + 0.4 * (1 - chance), (flags, accuracy)


# --- compare ---------------------------------------------------------------------------


def test_compare_grid_table_plot_and_files(tmp_path, capsys):
  code, out, err = _run(
    capsys,
    "compare",
    "--vary",
    "optimizer=sgd,adam",
    "--vary",
    "norm=none,batch",
    "--seeds",
    "2",
    "--epochs",
    "2",
    *SMALL,
    "--out",
    str(tmp_path),
  )
  assert code == 0, err
  rows = [l for l in out.splitlines() if l.startswith("optimizer=")]
  assert len(rows) == 4 and all("±" in r for r in rows)
  with open(tmp_path / "compare.json", encoding="utf-8") as f:
    report = json.load(f)
  assert [r["label"] for r in report["results"]] == [
    "optimizer=sgd norm=none",
    "optimizer=sgd norm=batch_norm",
    "optimizer=adam norm=none",
    "optimizer=adam norm=batch_norm",
  ]
  for r in report["results"]:
    acc = r["final"]["test_accuracy"]
    np.testing.assert_allclose(acc["mean"], np.mean(acc["per_seed"]), rtol=1e-6)
    assert r["compile_seconds"] > 0 and r["train_seconds"] > 0
  lines = (tmp_path / "curves.csv").read_text().splitlines()
  assert lines[0].startswith("configuration,seed,epoch,train_loss")
  assert len(lines) == 1 + 4 * 2 * 2
  assert (tmp_path / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_varies_optimizer_hyperparameters(tmp_path, capsys):
  code, out, err = _run(
    capsys,
    "compare",
    "--vary",
    "opt.b1=0.5,0.9",
    "--seeds",
    "1",
    "--epochs",
    "1",
    "--no-plot",
    *SMALL,
    "--out",
    str(tmp_path),
  )
  assert code == 0, err
  with open(tmp_path / "compare.json", encoding="utf-8") as f:
    results = json.load(f)["results"]
  assert [r["label"] for r in results] == ["opt.b1=0.5", "opt.b1=0.9"]
  assert [r["config"]["optimizer_kwargs"] for r in results] == [{"b1": 0.5}, {"b1": 0.9}]
  losses = [r["final"]["train_loss"]["mean"] for r in results]
  assert losses[0] != losses[1]  # the value reached the optimizer


def test_parse_vary():
  from jpatterns.cli.compare_cmd import parse_vary

  assert parse_vary(["lr=0.1,1e-2", "augment=none,cutout+random_crop", "norm=batch"]) == [
    ("lr", [0.1, 0.01]),
    ("augment", [(), ("cutout", "random_crop")]),
    ("norm", ["batch"]),
  ]
  with pytest.raises(UsageError, match="given twice"):
    parse_vary(["lr=0.1", "lr=0.2"])
  with pytest.raises(UsageError, match="not FIELD=V1,V2"):
    parse_vary(["lr"])


@pytest.mark.slow
def test_compare_seeds_under_vmap_equal_separate_runs(tmp_path, capsys):
  """Seeds 0 and 1 together (vmap) give each seed's own `train --seed s` curve."""
  common = ["--epochs", "2", "--dropout", "dropout", *SMALL]
  assert (
    _run(
      capsys,
      "compare",
      "--vary",
      "optimizer=adam",
      "--seeds",
      "2",
      *common,
      "--out",
      str(tmp_path / "c"),
    )[0]
    == 0
  )
  with open(tmp_path / "c" / "compare.json", encoding="utf-8") as f:
    together = json.load(f)["results"][0]["curves"]["train_loss"]
  for seed in (0, 1):
    assert (
      _run(capsys, "train", "--seed", str(seed), *common, "--out", str(tmp_path / f"s{seed}"))[0]
      == 0
    )
    alone = _metrics(tmp_path / f"s{seed}")["curves"]["train_loss"][0]
    np.testing.assert_allclose(together[seed], alone, rtol=2e-5)


@pytest.mark.slow
def test_compare_default_is_the_main_job_under_two_minutes(tmp_path):
  """The README's main job: the default grid, as a real process, in < 120 s."""
  import time

  t0 = time.perf_counter()
  proc = subprocess.run(
    [sys.executable, "-m", "jpatterns", "compare", "--quiet", "--out", str(tmp_path)],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
    env=dict(os.environ, XLA_FLAGS=""),
  )  # one device, as a user has
  wall = time.perf_counter() - t0
  assert proc.returncode == 0, proc.stderr
  assert "Answer: best test accuracy optimizer=" in proc.stdout
  for name in ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam"):
    assert f"optimizer={name} " in proc.stdout
  assert wall < 120, wall
  with open(tmp_path / "compare.json", encoding="utf-8") as f:
    results = json.load(f)["results"]
  assert all(r["final"]["test_accuracy"]["mean"] > 0.9 for r in results)


# --- bad input -------------------------------------------------------------------------

BAD = [
  (["train", "--optimizer", "adamm"], "did you mean adam"),
  (["train", "--norm", "batchy"], "choose from none, batch_norm"),
  (["train", "--optimzer", "adam"], "did you mean --optimizer?"),
  (["train", "--lr", "-0.1"], "--lr: -0.1 is not valid"),
  (["train", "--rate", "1.0"], "--rate: 1.0 is not valid; the drop rate must be in [0, 1)"),
  (["train", "--epochs", "0"], "--epochs"),
  (["train", "--model", "cnn", "--dataset", "spirals"], "choose from mlp"),
  (["train", "--dropout", "drop_path"], "'drop_path' applies to resnet"),
  (["train", "--augment", "twirl"], "--augment: 'twirl' is not valid"),
  (["train", "--opt", "beta1=0.9"], "choose from b1, b2"),
  (["train", "--sched", "decay_rate=0.5"], "--sched: 'decay_rate' is not a keyword of constant"),
  (["train", "--resume", "/nonexistent/ckpt.npz"], "no checkpoint at"),
  (["train", "--batch-size", "12", "--devices", "8"], "does not split across 8 devices"),
  (["train", "--devices", "9"], "this machine has 8"),
  (["train", "--remainder", "bogus"], "--remainder: 'bogus' is not valid; choose from drop, keep"),
  (["compare", "--vary", "optimiser=sgd,adam"], "not a training field"),
  (["compare", "--vary", "optimizer=sgd,adamm"], "did you mean adam"),
  (["compare", "--seeds", "0"], "--seeds: 0 is not valid"),
  (["bench", "nosuch"], "choose from activations"),
  (["trian"], "invalid choice"),
]


@pytest.mark.parametrize(
  "argv,message", BAD, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
  try:
    code = main(argv)
  except SystemExit as e:  # argparse's own errors (unknown command, flag or type)
    code = e.code
  out, err = capsys.readouterr()
  assert code == 2
  assert message in err, err
  assert "Traceback" not in err
  if "usage:" not in err:  # our own errors are one line
    assert len(err.strip().splitlines()) == 1, err


def test_remainder_keep_trains_and_resumes_as_one_run(tmp_path, capsys):
  """--remainder keep: digits' 1438 examples in 23 batches of 64, the last one 30 real
  rows. A resumed run keeps the checkpoint's remainder (asking for another is refused)
  and equals the uninterrupted run."""
  first = tmp_path / "first"
  flags = ["--width", "16", "--quiet", "--devices", "1", "--norm", "batch_norm"]
  code, _, err = _run(
    capsys, "train", "--remainder", "keep", "--epochs", "1", *flags, "--out", str(first)
  )
  assert code == 0, err
  assert _metrics(first)["config"]["remainder"] == "keep"
  ckpt = str(first / "checkpoint.npz")
  code, _, err = _run(capsys, "train", "--resume", ckpt, "--remainder", "drop", "--epochs", "2")
  assert code == 2 and "remainder='keep' (asked 'drop')" in err, err
  resumed = tmp_path / "resumed"
  argv = ["--resume", ckpt, "--epochs", "2", "--quiet", "--devices", "1", "--out", str(resumed)]
  code, _, err = _run(capsys, "train", *argv)
  assert code == 0, err
  cfg = _options.TrainConfig(epochs=2, width=16, norm="batch_norm", remainder="keep")
  whole = _engine.fit(cfg, devices=1)
  curves = _metrics(resumed)["curves"]
  for m in whole.metrics:
    np.testing.assert_allclose(curves[m][0], whole.metrics[m][0], rtol=1e-5, atol=1e-6)


def test_checkpoint_from_another_model(tmp_path, capsys):
  ckpt = tmp_path / "mlp" / "checkpoint.npz"
  assert _run(capsys, "train", "--epochs", "1", *SMALL, "--out", str(ckpt.parent))[0] == 0
  code, _, err = _run(
    capsys, "train", "--resume", str(ckpt), "--model", "cnn", "--epochs", "2", "--quiet"
  )
  assert code == 2 and "written by another configuration: model='mlp'" in err
  # A file whose header names a configuration its arrays do not fit.
  with np.load(ckpt, allow_pickle=False) as npz:
    arrays = dict(npz)
  header = json.loads(bytes(arrays["meta"]))
  header["metadata"]["config"]["width"] = 24
  tampered = tmp_path / "tampered.npz"
  arrays["meta"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
  np.savez(tampered, **arrays)
  code, _, err = _run(
    capsys, "train", "--resume", str(tampered), "--epochs", "2", "--quiet", "--devices", "1"
  )
  assert code == 2 and "was written by another model" in err
  assert len(err.strip().splitlines()) == 1
  (tmp_path / "junk.npz").write_text("not a checkpoint")
  code, _, err = _run(capsys, "train", "--resume", str(tmp_path / "junk.npz"))
  assert code == 2 and "is not a jpatterns checkpoint" in err


@pytest.mark.slow
def test_bad_input_through_a_real_process():
  proc = subprocess.run(
    [sys.executable, "-m", "jpatterns", "train", "--dropout", "dropot"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
  )
  assert proc.returncode == 2
  assert "did you mean dropout" in proc.stderr and "standout" in proc.stderr
  assert "Traceback" not in proc.stderr


def test_restore_rejects_mismatched_shapes():
  cfg = _options.TrainConfig(width=8)
  exp = _engine.prepare(cfg)
  carry = _engine.Trainer(exp, [0], devices=1).init_carry()
  leaves_with_paths = jax.tree_util.tree_flatten_with_path(carry)[0]
  layout = [[jax.tree_util.keystr(p), list(np.shape(l)), "float32"] for p, l in leaves_with_paths]
  layout[0][1] = [1, 2, 3]
  with pytest.raises(ValueError, match="another model"):
    _checkpoint.fill(carry, layout, [np.zeros(1)] * len(layout), "x.npz")


# --- bench -----------------------------------------------------------------------------


@pytest.mark.slow
def test_bench_runs_a_suite_and_prints_ratios(capsys):
  code, out, _ = _run(capsys, "bench", "dropout", "--quick")
  assert code == 0
  assert "# jpatterns bench — cpu" in out and "jax " in out
  rows = [l for l in out.splitlines() if l.startswith("| dropout |")]
  assert rows
  for row in rows:  # | pattern | shape | ours ms | ref ms | ratio |
    cells = [c.strip() for c in row.strip("|").split("|")]
    ours, ref, ratio = float(cells[2]), float(cells[3]), float(cells[4])
    assert ratio == pytest.approx(ours / ref, abs=0.01)


def test_bench_missing_suite_dir(capsys, tmp_path):
  code, _, err = _run(capsys, "bench", "--dir", str(tmp_path))
  assert code == 2 and "no benchmark suite" in err


# --- the user's own data ------------------------------------------------------------------


def test_train_on_a_users_npz_and_csv(tmp_path, capsys):
  rng = np.random.default_rng(0)
  y = np.arange(120) % 2
  x = (rng.normal(size=(120, 4)) + 3.0 * y[:, None]).astype(np.float32)
  np.savez(tmp_path / "my.npz", x=x, y=y)
  (tmp_path / "my.csv").write_text(
    "a,b,c,d,label\n"
    + "\n".join(",".join(f"{v:.5f}" for v in xi) + f",{yi}" for xi, yi in zip(x, y))
    + "\n"
  )
  for name in ("my.npz", "my.csv"):
    out = tmp_path / name.replace(".", "_")
    code, text, err = _run(
      capsys,
      "train",
      "--dataset",
      str(tmp_path / name),
      "--epochs",
      "8",
      "--lr",
      "0.01",
      "--batch-size",
      "16",
      *SMALL,
      "--out",
      str(out),
    )
    assert code == 0, err
    assert f"mlp on {name}" in text
    assert _metrics(out)["final"]["test_accuracy"]["mean"] > 0.9


@pytest.mark.parametrize("name,content,message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_dataset_files_exit_2_with_one_line(name, content, message, tmp_path, capsys):
  path = _write(tmp_path, name, content)
  code, _, err = _run(capsys, "train", "--dataset", path, "--epochs", "1", "--quiet")
  assert code == 2
  assert err.startswith("jpatterns train: error: --dataset:") and message in err, err
  assert name in err and len(err.strip().splitlines()) == 1
