"""The training diagnostics (jpatterns.train.diagnostics) against independent computations:
per-layer gradient norms against jax.grad of a hand-written MLP, weight norms and sparsity
against NumPy, activation statistics against the hand-written forward, the effective
learning rate against SGD's formula; and the models the study needs (resmlp, the lstm's
recurrent norm) against hand-written forwards."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jpatterns as jp
from jpatterns import datasets, train
from jpatterns.train import diagnostics, engine, models

TOL = dict(rtol=2e-4, atol=1e-6)


@pytest.fixture(scope="module")
def digits():
  d = datasets.load("digits")
  return dataclasses.replace(
    d,
    x_train=d.x_train[:300],
    y_train=d.y_train[:300],
    x_test=d.x_test[:100],
    y_test=d.y_test[:100],
  )


@pytest.fixture(scope="module")
def run(digits):
  """Two seeds of a 2-layer tanh MLP under SGD, 2 epochs, with diagnostics."""
  config = train.TrainConfig(
    epochs=2, depth=2, width=16, activation="tanh", optimizer="sgd", learning_rate=0.05, l1=1e-3
  )
  return train.fit(config, digits, seeds=2, diagnostics=True)


def _probe(digits):
  n = diagnostics.PROBE_EXAMPLES
  x = digits.x_train[:n].reshape(min(n, len(digits.x_train)), -1).astype(np.float32)
  return x, np.eye(digits.num_classes, dtype=np.float32)[digits.y_train[:n]]


def _hand_mlp(p, x):
  """The mlp of models.py written out: dense → tanh, twice, then the head."""
  acts = []
  h = x
  for name in ("dense0", "dense1"):
    h = jnp.tanh(h @ p[name]["w"] + p[name]["b"])
    acts.append(h)
  return h @ p["head"]["w"] + p["head"]["b"], acts


def _seed_params(history, seed, layer):
  tree = history.params[layer]
  w = tree["linear"] if "linear" in tree else tree
  return {"w": np.asarray(w["w"][seed]), "b": np.asarray(w["b"][seed])}


def test_final_diagnostics_match_a_hand_written_model(run, digits):
  x, y = _probe(digits)
  assert run.layers == ("dense0", "dense1", "head")
  for seed in range(2):
    p = {name: _seed_params(run, seed, name) for name in run.layers}

    def loss(p):
      logits, _ = _hand_mlp(p, x)
      return optax.softmax_cross_entropy(logits, y).mean()  # L1 is in the optimizer

    g = jax.grad(loss)(p)
    d = {k: v[seed, -1] for k, v in run.diagnostics.items()}
    expected = [np.sqrt(sum(np.sum(np.square(a)) for a in g[n].values())) for n in run.layers]
    np.testing.assert_allclose(d["grad_norm"], expected, **TOL)
    np.testing.assert_allclose(
      d["weight_norm"], [np.linalg.norm(p[n]["w"]) for n in run.layers], **TOL
    )
    np.testing.assert_allclose(
      d["sparsity"], [np.mean(np.abs(p[n]["w"]) < 1e-3) for n in run.layers], atol=1e-7
    )
    logits, acts = _hand_mlp(p, x)
    np.testing.assert_allclose(d["act_mean"], [np.mean(a) for a in acts], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(d["act_std"], [np.std(a) for a in acts], **TOL)
    np.testing.assert_allclose(
      d["train_eval_loss"], optax.softmax_cross_entropy(logits, y).mean(), **TOL
    )
    np.testing.assert_allclose(
      d["train_eval_accuracy"], np.mean(np.argmax(logits, -1) == np.argmax(y, -1)), atol=1e-6
    )
  assert run.kernel_sizes == (64 * 16, 16 * 16, 16 * 10)


def test_effective_lr_is_sgds_rate_and_gap_is_train_minus_test(run):
  # plain SGD with coupled L1: u = lr · (g + λ sign w), so ‖u‖/‖g‖ = lr · ‖g + λ sign w‖/‖g‖
  ratio = run.diagnostics["effective_lr"]
  assert ratio.shape == (2, 3)
  np.testing.assert_allclose(ratio, 0.05, rtol=0.05)  # λ = 1e-3 ≪ |g|: within 5 %
  expected = run.diagnostics["train_eval_accuracy"][:, 1:] - run.metrics["test_accuracy"]
  np.testing.assert_array_equal(run.gap, expected)


def test_effective_lr_of_sgd_without_penalty_is_exactly_lr(digits):
  h = train.fit(
    train.TrainConfig(epochs=1, depth=1, width=8, optimizer="sgd", learning_rate=0.1),
    digits,
    diagnostics=True,
  )
  np.testing.assert_allclose(h.diagnostics["effective_lr"], 0.1, rtol=1e-5)


def test_adagrad_effective_lr_against_its_formula(digits):
  """AdaGrad's ‖u‖/‖g‖ from its accumulator G: u = lr · g / sqrt(G + g² + eps) (seed 002's
  form, the default)."""
  lr = 0.1
  h = train.fit(
    train.TrainConfig(epochs=2, depth=1, width=8, optimizer="adagrad", learning_rate=lr),
    digits,
    diagnostics=True,
  )
  x, y = _probe(digits)
  p = {n: _seed_params(h, 0, n) for n in ("dense0", "head")}

  def loss(p):
    z = jax.nn.relu(x @ p["dense0"]["w"] + p["dense0"]["b"])
    return optax.softmax_cross_entropy(z @ p["head"]["w"] + p["head"]["b"], y).mean()

  g = jax.grad(loss)(p)
  acc = jax.tree.map(lambda a: np.asarray(a[0]), h.opt_state)
  accs = [a for a in jax.tree.leaves(acc) if np.ndim(a) > 0 and a.dtype == np.float32]
  gs = jax.tree.leaves(g)
  # the accumulator leaves in the same tree order as the gradient's
  accs = [a for a in accs if a.shape in {x.shape for x in gs}][: len(gs)]
  assert [a.shape for a in accs] == [a.shape for a in gs]
  eps = 1e-10
  us = [lr * gi / np.sqrt(ai + gi * gi + eps) for gi, ai in zip(gs, accs)]
  expected = np.sqrt(sum(np.sum(u * u) for u in us)) / np.sqrt(sum(np.sum(gi * gi) for gi in gs))
  np.testing.assert_allclose(h.diagnostics["effective_lr"][0, -1], expected, rtol=1e-3)
  assert h.diagnostics["effective_lr"][0, -1] < h.diagnostics["effective_lr"][0, 0]


def test_diagnostics_change_nothing_and_agree_across_seed_axes(run, digits):
  plain = train.fit(run.config, digits, seeds=2)
  assert plain.diagnostics is None and "diagnostics" not in plain.to_json()
  for m in train.METRICS:
    np.testing.assert_array_equal(plain.metrics[m], run.metrics[m])
  looped = train.fit(run.config, digits, seeds=2, seed_axis="loop", diagnostics=True)
  assert looped.seed_axis == "loop"
  for k in diagnostics.NAMES:
    np.testing.assert_allclose(looped.diagnostics[k], run.diagnostics[k], rtol=1e-4, atol=1e-6)
  record = run.to_json()
  assert record["layers"] == list(run.layers)
  assert np.asarray(record["diagnostics"]["grad_norm"]).shape == (2, 3, 3)


def test_diagnostics_on_a_mesh_equal_one_device(digits):
  """On 2 devices the probe batch is replicated and the parameters too: same numbers."""
  config = train.TrainConfig(epochs=1, depth=1, width=8, norm="batch_norm")
  one = train.fit(config, digits, seeds=2, devices=1, diagnostics=True)
  two = train.fit(config, digits, seeds=2, devices=2, diagnostics=True)
  for k in diagnostics.NAMES:
    np.testing.assert_allclose(two.diagnostics[k], one.diagnostics[k], rtol=1e-5, atol=1e-6)


def test_a_users_model_gets_layers_and_no_activations(digits):
  def init(key):
    return {"w": 0.01 * jax.random.normal(key, (64, 10)), "b": jnp.zeros(10)}, {}

  def apply(p, s, x, key, train):
    return x.reshape(len(x), -1) @ p["w"] + p["b"], s

  h = train.fit(
    train.TrainConfig(model=train.Model(init, apply, "linear"), epochs=1, optimizer="sgd"),
    digits,
    diagnostics=True,
  )
  assert h.layers == ("w", "b") and h.kernel_sizes == (640, 0)
  assert h.diagnostics["act_mean"].shape == (1, 2, 0)
  x, y = _probe(digits)
  w, b = np.asarray(h.params["w"][0]), np.asarray(h.params["b"][0])
  gw, gb = jax.grad(lambda w, b: optax.softmax_cross_entropy(x @ w + b, y).mean(), (0, 1))(w, b)
  np.testing.assert_allclose(
    h.diagnostics["grad_norm"][0, -1], [np.linalg.norm(gw), np.linalg.norm(gb)], **TOL
  )


def test_gap_needs_diagnostics(digits):
  h = train.fit(train.TrainConfig(epochs=1, depth=1, width=8), digits)
  with pytest.raises(ValueError, match="diagnostics=True"):
    _ = h.gap


# --- the models the study compares ----------------------------------------------------


def test_resmlp_is_the_mlp_with_skips(digits):
  cfg = train.TrainConfig(model="resmlp", depth=3, width=16, epochs=1)
  model = models.build_model(cfg, digits.x_train.shape[1:], 10)
  plain = models.build_model(dataclasses.replace(cfg, model="mlp"), digits.x_train.shape[1:], 10)
  key = jax.random.key(3)
  params, state = model.init(key)
  plain_params, _ = plain.init(key)
  assert jax.tree.structure(params) == jax.tree.structure(plain_params)
  x = digits.x_train[:32].reshape(32, -1)
  logits, _ = model.apply(params, state, x, key, train=False)
  h = jax.nn.relu(x @ params["dense0"]["linear"]["w"] + params["dense0"]["linear"]["b"])
  for i in (1, 2):
    lin = params[f"dense{i}"]["linear"]
    h = h + jax.nn.relu(h @ lin["w"] + lin["b"])
  np.testing.assert_allclose(
    logits, h @ params["head"]["w"] + params["head"]["b"], rtol=1e-5, atol=1e-5
  )
  with models.capturing() as acts:
    model.apply(params, state, x, key, train=False)
  assert len(acts) == 3  # one activation per hidden layer, in order


def test_lstm_normalizes_its_hidden_state_every_step():
  seq = datasets.load("sequence")
  cfg = train.TrainConfig(model="lstm", dataset="sequence", norm="layer_norm", width=8, epochs=1)
  model = models.build_model(cfg, seq.x_train.shape[1:], seq.num_classes)
  params, state = model.init(jax.random.key(0))
  x = jnp.asarray(seq.x_train[:5])
  logits, _ = model.apply(params, state, x, jax.random.key(1), train=False)
  c, h = jp.init_lstm_carry((5,), 8)
  rec = params["recurrent"]
  for t in range(x.shape[1]):
    (c, h), _ = jp.lstm_cell(params["lstm"], (c, h), x[:, t])
    mu, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
    h = (h - mu) / jnp.sqrt(var + 1e-5) * rec["scale"] + rec["bias"]
  dense = params["dense"]
  z = h @ dense["linear"]["w"] + dense["linear"]["b"]
  mu, var = z.mean(-1, keepdims=True), z.var(-1, keepdims=True)
  z = jax.nn.relu((z - mu) / jnp.sqrt(var + 1e-5) * dense["norm"]["scale"] + dense["norm"]["bias"])
  np.testing.assert_allclose(
    logits, z @ params["head"]["w"] + params["head"]["b"], rtol=1e-4, atol=1e-5
  )
  bn = dataclasses.replace(cfg, norm="batch_norm")
  model = models.build_model(bn, seq.x_train.shape[1:], seq.num_classes)
  params, state = model.init(jax.random.key(0))
  _, new_state = model.apply(params, state, x, jax.random.key(1), train=True)
  assert not np.allclose(new_state["recurrent"].mean, state["recurrent"].mean)


def test_probe_program_is_shared_by_hyperparameter_twins(digits):
  configs = [
    train.TrainConfig(epochs=1, depth=1, width=8, optimizer="sgd", learning_rate=lr)
    for lr in (0.01, 0.02)
  ]
  engine._PROBES.clear()
  a, b = train.compare(configs, digits, seeds=1, diagnostics=True)
  assert len(engine._PROBES) == 1
  np.testing.assert_allclose(a.diagnostics["effective_lr"], 0.01, rtol=1e-5)
  np.testing.assert_allclose(b.diagnostics["effective_lr"], 0.02, rtol=1e-5)
