"""jpatterns.train as a Python user meets it: no private import, the user's own data.

The accuracy ``fit`` reports is checked against a training loop written here by hand
(jax.nn initializers, optax.adam, NumPy minibatches) on the same data; errors are
ValueErrors that name the field; the package floors import only downward.
"""

import ast
import json
import pathlib
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jpatterns import datasets, optim, train

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _blobs(n=240, d=6, k=3, seed=0):
  rng = np.random.default_rng(seed)
  y = np.arange(n) % k
  centers = rng.normal(size=(k, d)) * 3.0
  return (centers[y] + rng.normal(size=(n, d))).astype(np.float32), y


def _hand_written_accuracy(data, *, epochs, width, batch_size=64, lr=1e-3, seed=0):
  """A 2-hidden-layer ReLU MLP trained with optax.adam, written without jpatterns."""
  x_tr = data.x_train.reshape(len(data.x_train), -1)
  x_te = data.x_test.reshape(len(data.x_test), -1)
  sizes = [x_tr.shape[1], width, width, data.num_classes]
  keys = jax.random.split(jax.random.key(seed), len(sizes) - 1)
  init = jax.nn.initializers.he_normal()
  params = [(init(k, (a, b)), jnp.zeros(b)) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]

  def forward(p, x):
    for w, b in p[:-1]:
      x = jax.nn.relu(x @ w + b)
    return x @ p[-1][0] + p[-1][1]

  opt = optax.adam(lr)
  state = opt.init(params)

  @jax.jit
  def step(p, s, x, y):
    def loss(p):
      return optax.softmax_cross_entropy_with_integer_labels(forward(p, x), y).mean()

    g = jax.grad(loss)(p)
    u, s = opt.update(g, s, p)
    return optax.apply_updates(p, u), s

  rng = np.random.default_rng(seed)
  for _ in range(epochs):
    perm = rng.permutation(len(x_tr))
    for i in range(len(x_tr) // batch_size):
      idx = perm[i * batch_size : (i + 1) * batch_size]
      params, state = step(params, state, x_tr[idx], data.y_train[idx])
  return float(np.mean(np.argmax(forward(params, x_te), -1) == data.y_test))


def _user_files(tmp_path):
  x, y = _blobs()
  csv = tmp_path / "my.csv"
  csv.write_text(
    "f0,f1,f2,f3,f4,f5,label\n"
    + "\n".join(",".join(f"{v:.6f}" for v in xi) + f",{yi}" for xi, yi in zip(x, y))
    + "\n"
  )
  npz = tmp_path / "my.npz"
  np.savez(npz, x=x, y=y)
  return csv, npz


@pytest.mark.parametrize("source", ["csv", "npz", "digits"])
def test_fit_on_the_users_data_matches_a_hand_written_loop(source, tmp_path):
  """The issue's example, verbatim but for epochs/width, against an optax loop."""
  csv, npz = _user_files(tmp_path)
  path = {"csv": str(csv), "npz": str(npz), "digits": "digits"}[source]
  epochs, width = (20, 32) if source != "digits" else (6, 64)
  data = datasets.load(path)
  h = train.fit(
    train.TrainConfig(model="mlp", optimizer="adam", epochs=epochs, width=width),
    data=data,
    devices=1,
  )
  ours = float(h.final["test_accuracy"][0])
  theirs = _hand_written_accuracy(data, epochs=epochs, width=width)
  assert h.config.dataset == data.name
  assert ours > 0.9 and theirs > 0.9, (ours, theirs)
  assert abs(ours - theirs) <= 0.04, (ours, theirs)
  # The reported accuracy is the returned parameters' accuracy on the test split.
  params = jax.tree.map(lambda a: a[0], h.params)
  state = jax.tree.map(lambda a: a[0], h.state)
  logits, _ = h.model.apply(params, state, jnp.asarray(data.x_test), jax.random.key(0), train=False)
  np.testing.assert_allclose(np.mean(np.argmax(logits, -1) == data.y_test), ours, atol=1e-6)


def test_fit_writes_checkpoints_and_resumes_exactly(tmp_path):
  cfg = train.TrainConfig(epochs=2, width=16, dropout="dropout", norm="batch_norm")
  h2 = train.fit(cfg, seeds=2, devices=1, out=tmp_path / "a")
  h3 = train.fit(
    dataclass_replace(cfg, epochs=3),
    resume=tmp_path / "a" / "checkpoint.npz",
    devices=1,
    out=tmp_path / "a",
  )
  full = train.fit(dataclass_replace(cfg, epochs=3), seeds=2, devices=1)
  assert h3.start_epoch == 2 and h3.seeds == (0, 1) and h2.metrics["test_loss"].shape == (2, 2)
  for m in train.METRICS:
    np.testing.assert_array_equal(h3.metrics[m], full.metrics[m])
  for a, b in zip(jax.tree.leaves(h3.params), jax.tree.leaves(full.params)):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  report = json.loads((tmp_path / "a" / "metrics.json").read_text())
  assert report["resumed_from_epoch"] == 2 and len(report["curves"]["test_loss"][1]) == 3


def dataclass_replace(cfg, **kw):
  import dataclasses

  return dataclasses.replace(cfg, **kw)


@pytest.mark.parametrize(
  "kwargs,message",
  [
    ({"batch_size": 2000}, "batch_size=2000 is larger than the 1438 training examples of digits"),
    ({"optimizer": "adamm"}, "optimizer='adamm' is not valid (did you mean adam?)"),
    ({"learning_rate": float("inf")}, "learning_rate=inf is not valid"),
    ({"dropout_rate": 1.0}, "dropout_rate=1.0 is not valid; the drop rate must be in [0, 1)"),
    ({"epochs": 2.5}, "epochs=2.5 must be an integer >= 1"),
    ({"seed": True}, "seed=True must be an integer >= 0"),
    ({"norm": "layer", "augment": ("twirl",)}, "augment='twirl' is not valid"),
    ({"optimizer_kwargs": {"beta1": 0.9}}, "optimizer_kwargs='beta1' is not a keyword of adam"),
    (
      {"schedule": "cosine", "schedule_kwargs": {"rate": 1}},
      "schedule_kwargs='rate' is not a keyword of cosine_decay",
    ),
    ({"model": "cnn", "dataset": "spirals"}, "does not fit the spirals data"),
    ({"dataset": "nowhere.csv"}, "dataset='nowhere.csv' cannot be used: no file at"),
  ],
  ids=lambda v: str(v)[:40] if isinstance(v, dict) else "",
)
def test_errors_are_value_errors_naming_the_field(kwargs, message):
  with pytest.raises(ValueError, match=re.escape(message)) as e:
    train.fit(train.TrainConfig(**kwargs), devices=1)
  assert isinstance(e.value, train.ConfigError)


@pytest.mark.parametrize(
  "kwargs,message",
  [
    ({"seeds": 0}, "seeds=0 is not valid"),
    ({"seeds": [1, 1]}, "repeats a seed"),
    ({"devices": 99}, "devices=99 is not valid; this machine has 8"),
    ({"data": np.zeros(3)}, "must be a jpatterns.datasets.Dataset"),
  ],
)
def test_fit_arguments_are_checked(kwargs, message):
  with pytest.raises(ValueError, match=message):
    train.fit(train.TrainConfig(epochs=1), **kwargs)


def test_a_users_model_by_registry_and_by_value():
  """A linear softmax classifier the user writes, trained by the engine on spirals."""

  def linear(config, input_shape, num_classes):
    n = int(np.prod(input_shape))

    def init(key):
      return {"w": 0.1 * jax.random.normal(key, (n, num_classes)), "b": jnp.zeros(num_classes)}, {}

    def apply(params, state, x, key, train):
      return x.reshape(len(x), -1) @ params["w"] + params["b"], state

    return train.Model(init, apply, "linear")

  train.register_model("linear_test", linear)
  try:
    cfg = train.TrainConfig(model="linear_test", dataset="sequence", epochs=2, learning_rate=0.05)
    h = train.fit(cfg, devices=1)
    assert h.model.name == "linear" and h.params["w"].shape == (1, 32, 2)
    d = datasets.load("sequence")
    h2 = train.fit(dataclass_replace(cfg, model=linear(cfg, d.x_train.shape[1:], 2)), d, devices=1)
    for m in train.METRICS:  # the same model, so the same run
      np.testing.assert_allclose(h2.metrics[m], h.metrics[m], rtol=1e-6)
  finally:
    del train.MODELS["linear_test"]
  with pytest.raises(ValueError, match="is a built-in model"):
    train.register_model("mlp", linear)


def test_checkpoint_round_trip_and_mismatch(tmp_path):
  tree = {"a": jnp.arange(6.0).reshape(2, 3), "b": [jnp.ones(2, jnp.bfloat16)]}
  train.save_checkpoint(tmp_path / "c.npz", tree, metadata={"note": "x"})
  got, meta = train.restore_checkpoint(tmp_path / "c.npz", jax.tree.map(jnp.zeros_like, tree))
  assert meta == {"note": "x"} and got["b"][0].dtype == jnp.bfloat16
  np.testing.assert_array_equal(got["a"], tree["a"])
  with pytest.raises(ValueError, match="written by another model"):
    train.restore_checkpoint(tmp_path / "c.npz", {"a": jnp.zeros((3, 2)), "b": [jnp.ones(2)]})
  (tmp_path / "junk.npz").write_bytes(b"junk")
  with pytest.raises(ValueError, match="is not a jpatterns checkpoint"):
    train.load_checkpoint(tmp_path / "junk.npz")


def test_checkpoint_with_an_unread_step_count_restores(tmp_path):
  """A checkpoint from when momentum kept a step count for a constant learning rate (an
  int32 ``count`` leaf) restores into today's state, which holds ``count=None``."""
  params = {"w": jnp.arange(3.0)}
  state = optim.momentum(0.1).init(params)
  assert state.count is None
  velocity = {"w": jnp.array([0.5, -1.0, 2.0])}
  old = (params, type(state)(count=jnp.asarray([7, 7], jnp.int32), momentum_velocity=velocity))
  train.save_checkpoint(tmp_path / "old.npz", old)
  (got_params, got_state), _ = train.restore_checkpoint(tmp_path / "old.npz", (params, state))
  assert got_state.count is None
  np.testing.assert_array_equal(got_state.momentum_velocity["w"], [0.5, -1.0, 2.0])
  np.testing.assert_array_equal(got_params["w"], [0.0, 1.0, 2.0])


def test_every_choice_is_a_catalogue_name_of_its_family():
  from jpatterns import catalogue

  for field, choice in train.CHOICES.items():
    for name in choice.names:
      if name in choice.extra:
        continue
      if field == "preprocess":
        continue  # pca_whiten/zca_whiten name fit_whitening + whiten with a method
      assert catalogue.by_name(name).family == choice.family, (field, name)


# --- the floors ----------------------------------------------------------------------

GROUND = {
  "activations",
  "initializers",
  "normalization",
  "_norm_core",
  "stochastic",
  "losses",
  "regularization",
  "augment",
  "preprocessing",
  "layers",
  "gradcheck",
  "_validation",
  "_dtypes",
}
# module (dotted, under jpatterns) -> the third-party packages and jpatterns subpackages
# it may import.
FLOORS = [
  ("jpatterns/{}.py", GROUND, {"jax", "numpy"}, set()),
  ("jpatterns/optim", None, {"jax", "numpy", "optax"}, {"optim"}),
  ("jpatterns/flax", None, {"jax", "numpy", "optax", "flax"}, {"optim", "flax"}),
  (
    "jpatterns/train",
    None,
    {"jax", "numpy", "optax", "flax"},
    {"optim", "flax", "train", "datasets", "catalogue"},
  ),
  ("jpatterns/datasets.py", None, {"numpy"}, set()),
  ("jpatterns/catalogue.py", None, set(), set()),
]
STDLIB = {
  "__future__",
  "typing",
  "dataclasses",
  "functools",
  "math",
  "numbers",
  "inspect",
  "os",
  "shutil",
  "csv",
  "json",
  "zipfile",
  "zlib",
  "tempfile",
  "importlib",
  "collections",
  "platform",
  "time",
  "difflib",
  "itertools",
  "warnings",
  "abc",
  "enum",
  "operator",
  "types",
  "contextlib",
  "socket",
  "threading",
  "hashlib",
  "sys",
  "signal",
  "subprocess",
  "re",
  "atexit",
  "concurrent",
}


def _imports(path):
  tree = ast.parse(path.read_text(encoding="utf-8"))
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      yield from (a.name for a in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0:
      yield node.module
      if node.module == "jpatterns":
        yield from (f"jpatterns.{a.name}" for a in node.names)


@pytest.mark.parametrize(
  "pattern,names,third_party,subpackages", FLOORS, ids=[f[0] for f in FLOORS]
)
def test_a_lower_floor_never_imports_a_higher_one(pattern, names, third_party, subpackages):
  if names:
    files = [ROOT / pattern.format(n) for n in names if (ROOT / pattern.format(n)).exists()]
  elif pattern.endswith(".py"):
    files = [ROOT / pattern]
  else:
    files = sorted((ROOT / pattern).rglob("*.py"))
  assert files
  ground = {f"jpatterns.{n}" for n in GROUND} | {"jpatterns"}
  for f in files:
    for name in _imports(f):
      top = name.split(".")[0]
      if top in STDLIB:
        continue
      if top == "jpatterns":
        parts = name.split(".")
        ok = name in ground or (len(parts) > 1 and parts[1] in subpackages)
        assert ok, f"{f.relative_to(ROOT)} imports {name}"
      else:
        assert top in third_party, f"{f.relative_to(ROOT)} imports {name}"


def test_nothing_outside_the_cli_imports_it():
  for folder in ("jpatterns", "examples", "benchmarks"):
    for f in (ROOT / folder).rglob("*.py"):
      if "cli" in f.relative_to(ROOT).parts or f.name == "__main__.py":
        continue
      assert not any(n.startswith("jpatterns.cli") for n in _imports(f)), f
  for f in (ROOT / "tests").glob("*.py"):
    if not f.name.startswith("test_cli"):
      assert not any(n.startswith("jpatterns.cli") for n in _imports(f)), f


def test_configurations_building_the_same_model_share_one_init_program():
  """A grid over optimizers compiles the model init once; another model gets its own."""
  from jpatterns.train import engine

  d = datasets.load("spirals")
  a, b, c = (
    engine.prepare(train.TrainConfig(dataset="spirals", width=8, **kw), d)
    for kw in ({"optimizer": "sgd"}, {"optimizer": "adam", "l2": 1e-3}, {"depth": 1})
  )
  assert engine._model_init(a) is engine._model_init(b)
  assert engine._model_init(c) is not engine._model_init(a)
  keys = jnp.stack([jax.random.key(s) for s in (0, 1)])
  own = jax.jit(jax.vmap(lambda k: b.model.init(jax.random.fold_in(k, 0))))
  with engine.prng_context():
    shared, mine = engine._model_init(b)(keys), own(keys)
  for x, y in zip(jax.tree.leaves(shared), jax.tree.leaves(mine)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
