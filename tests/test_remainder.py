"""``TrainConfig.remainder``: the last partial batch of an epoch, dropped or kept.

The engine against a hand-written loop over the same permutation (``epoch_batches``'
rule) with an optax optimizer and schedule, a hand-written MLP whose batch norm sees
only the real rows of the partial last batch (no padding at all): ``"keep"`` trains
``ceil(n / batch_size)`` steps, ``"drop"`` (the default) ``n // batch_size``; a kept
batch's loss is the mean over its real examples, an epoch's train loss the mean over
its examples. A kept run equals a dropped one when ``batch_size`` divides ``n``, and
equals itself on a 2-device mesh.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jpatterns as jp
from jpatterns import datasets, train
from jpatterns.train import engine

# 150 training examples in batches of 32: 4 full batches and one of 22.
N, BS, LR, EPOCHS, SEED = 150, 32, 0.01, 2, 3
CFG = train.TrainConfig(
  epochs=EPOCHS,
  batch_size=BS,
  width=8,
  depth=1,
  norm="batch_norm",
  optimizer="adam",
  learning_rate=LR,
  # halves the rate every epoch: the schedule must count the steps an epoch takes
  schedule="exponential_decay",
  schedule_kwargs={"decay_rate": 0.5, "staircase": True},
)


def _subset(n):
  d = datasets.load("digits")
  return dataclasses.replace(d, name=f"digits{n}", x_train=d.x_train[:n], y_train=d.y_train[:n])


@pytest.fixture(scope="module")
def data():
  return _subset(N)


def _curves(h):
  return np.stack([h.metrics[m] for m in train.METRICS])


def _engine_run(cfg, data):
  """The final params and model state, the history (epochs, metrics) and the initial params."""
  exp = engine.prepare(cfg, data)
  trainer = engine.Trainer(exp, [SEED], devices=1)
  carry = trainer.init_carry()
  params0 = jax.tree.map(lambda a: np.array(a[0]), carry[0])  # copied before donation
  carry, hist, _ = trainer.run(carry, trainer.data())
  final = jax.tree.map(lambda a: np.asarray(a[0]), (carry[0], carry[1]))
  return final, hist[:, :, 0], params0, exp


def _mlp_forward(p, s, x):
  """The engine's mlp (depth 1, batch norm, relu) written out; ``x`` is real rows only."""
  h = x.reshape(len(x), -1) @ p["dense0"]["linear"]["w"]  # no bias before batch norm
  norm = p["dense0"]["norm"]
  h, s = jp.batch_norm(
    h, s, scale=norm["scale"], bias=norm["bias"], train=True, axis=(0,), momentum=0.9
  )
  return jnp.maximum(h, 0) @ p["head"]["w"] + p["head"]["b"], s


def _hand_loop(params0, state0, forward, data, *, keep):
  """Adam with a staircase exponential decay over the real examples of each batch."""
  n, k = len(data.x_train), data.num_classes
  x_tr, y_tr = jnp.asarray(data.x_train), jax.nn.one_hot(data.y_train, k)
  steps = -(-n // BS) if keep else n // BS
  opt = optax.adam(optax.exponential_decay(LR, steps, 0.5, staircase=True))
  p, s = jax.tree.map(jnp.asarray, params0), state0
  opt_state = opt.init(p)

  def loss(p, s, x, y):
    logits, s = forward(p, s, x)
    correct = jnp.argmax(logits, -1) == jnp.argmax(y, -1)
    return optax.softmax_cross_entropy(logits, y).mean(), (s, correct.mean())

  @jax.jit  # one program per batch shape: full, and the partial last one
  def step(p, s, opt_state, x, y):
    (value, (s, acc)), g = jax.value_and_grad(loss, has_aux=True)(p, s, x, y)
    updates, opt_state = opt.update(g, opt_state, p)
    return optax.apply_updates(p, updates), s, opt_state, value, acc

  curves = []
  for epoch in range(EPOCHS):
    perm = np.random.default_rng([SEED, epoch]).permutation(n)  # epoch_batches' shuffle
    total_loss = total_acc = 0.0
    for i in range(steps):
      idx = perm[i * BS : (i + 1) * BS]  # the last one holds the n mod BS left over
      p, s, opt_state, value, acc = step(p, s, opt_state, x_tr[idx], y_tr[idx])
      total_loss += float(value) * len(idx)
      total_acc += float(acc) * len(idx)
    seen = steps * BS if not keep else n
    curves.append((total_loss / seen, total_acc / seen))
  return p, s, np.asarray(curves).T  # (2, epochs): train loss, train accuracy


@pytest.mark.parametrize("remainder", ["keep", "drop"])
def test_engine_equals_a_hand_written_loop(data, remainder):
  """Params, batch-norm running statistics and train curves after 2 epochs, to 1e-5."""
  cfg = dataclasses.replace(CFG, remainder=remainder)
  (params, state), hist, params0, exp = _engine_run(cfg, data)
  assert exp.steps_per_epoch == (5 if remainder == "keep" else 4)
  state0 = jp.init_batch_norm_stats((cfg.width,))
  ref_p, ref_s, ref_curves = _hand_loop(
    params0, state0, _mlp_forward, data, keep=remainder == "keep"
  )
  for ours, ref in zip(jax.tree.leaves(params), jax.tree.leaves(ref_p), strict=True):
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(state["dense0"].mean, ref_s.mean, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(state["dense0"].var, ref_s.var, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(hist[:, 0], ref_curves[0], rtol=1e-5, atol=1e-6)  # train loss
  # Train accuracy to 3 examples an epoch: a row whose 8 hidden units are all zero (ReLU
  # after batch norm) has the head bias as logits, and Adam's first steps move every bias
  # entry by about ±lr alike, so that row's argmax is a near-tie decided by rounding.
  np.testing.assert_allclose(hist[:, 1], ref_curves[1], atol=3.5 / (exp.steps_per_epoch * BS))


def test_keep_sees_every_example_and_drop_does_not(data):
  """The indices of an epoch: keep covers the permutation once (the padding repeats its
  first rows, weight 0); drop leaves the last n mod batch_size out."""
  kept = engine.epoch_batches(SEED, 1, N, engine.steps_per_epoch(N, BS, "keep"), BS)
  dropped = engine.epoch_batches(SEED, 1, N, engine.steps_per_epoch(N, BS), BS)
  w = engine.batch_weights(N, len(kept), BS)
  assert kept.shape == (5, BS) and dropped.shape == (4, BS)
  assert sorted(kept.ravel()[w.ravel() > 0]) == list(range(N))
  np.testing.assert_array_equal(kept[:4], dropped)  # the same permutation
  np.testing.assert_array_equal(kept[4, N % BS :], kept[0, : BS - N % BS])
  assert engine.batch_weights(N, 4, BS) is None
  with pytest.raises(ValueError, match="steps=6 is not valid for 150 examples"):
    engine.epoch_batches(SEED, 0, N, 6, BS)


@pytest.mark.parametrize(
  "seed,epoch,name", [(-1, 0, "seed"), (1.5, 0, "seed"), (True, 0, "seed"), (0, -2, "epoch")]
)
def test_epoch_batches_refuses_a_bad_seed_or_epoch(seed, epoch, name):
  with pytest.raises(ValueError) as e:
    engine.epoch_batches(seed, epoch, N, 4, BS)
  assert e.value.name == name and "integer >= 0" in str(e.value)


def test_epoch_batches_is_a_function_of_the_seed_and_the_epoch():
  a = engine.epoch_batches(3, 2, N, 4, BS)
  np.testing.assert_array_equal(a, engine.epoch_batches(np.int64(3), 2, N, 4, BS))
  assert a.dtype == np.int32 and len(set(a.ravel())) == 4 * BS
  assert not np.array_equal(a, engine.epoch_batches(3, 3, N, 4, BS))
  assert not np.array_equal(a, engine.epoch_batches(4, 2, N, 4, BS))


def test_keep_equals_drop_when_the_batch_size_divides_n():
  """160 = 5 · 32: the same steps, one shared program, identical curves and params."""
  data = _subset(160)
  drop = train.fit(CFG, data, devices=1)
  keep = train.fit(dataclasses.replace(CFG, remainder="keep"), data, devices=1)
  assert keep.compile_seconds == 0.0  # drop's program
  np.testing.assert_array_equal(_curves(keep), _curves(drop))
  for a, b in zip(jax.tree.leaves(keep.params), jax.tree.leaves(drop.params), strict=True):
    np.testing.assert_array_equal(a, b)


def test_a_model_without_a_mask_gets_the_masked_loss(data):
  """A user's Model (takes_mask False) is called without mask=; its loss is still the
  mean over the real rows: a linear model (nothing mixes examples) equals the loop."""
  n_in, k = int(np.prod(data.x_train.shape[1:])), data.num_classes

  def init(key):
    return {"w": 0.01 * jax.random.normal(key, (n_in, k)), "b": jnp.zeros(k)}, {}

  def apply(p, s, x, key, train):  # no mask keyword: the engine must not pass one
    return x.reshape(len(x), -1) @ p["w"] + p["b"], s

  cfg = dataclasses.replace(CFG, model=train.Model(init, apply, "linear"), remainder="keep")
  (params, _), hist, params0, _ = _engine_run(cfg, data)
  ref_p, _, ref_curves = _hand_loop(
    params0, {}, lambda p, s, x: apply(p, s, x, None, True), data, keep=True
  )
  for ours, ref in zip(jax.tree.leaves(params), jax.tree.leaves(ref_p), strict=True):
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(hist[:, :2], ref_curves.T, rtol=1e-5, atol=1e-6)


def test_mixup_pairs_real_rows_with_real_rows():
  """Rows e_i of the identity: a mixed real row has weight only on real columns."""
  r = 5
  x = jnp.eye(8)
  w = jnp.asarray([1.0] * r + [0.0] * (8 - r))
  keys = jax.random.split(jax.random.key(0), 20)
  mx, my = jax.jit(jax.vmap(lambda k: engine._mixup(k, x, x, w, alpha=0.2)))(keys)
  np.testing.assert_array_equal(mx, my)
  assert not np.asarray(mx[:, :r, r:]).any()
  np.testing.assert_allclose(np.asarray(mx[:, :r]).sum(-1), 1.0, rtol=1e-6)
  assert np.asarray(mx[:, :r] != x[:r]).any()  # some rows did mix


def test_keep_on_two_devices_equals_one(data):
  """The padded last batch splits over a 2-device mesh (its padding too): same curves."""
  cfg = dataclasses.replace(CFG, remainder="keep", augment=("mixup",))
  one = train.fit(cfg, data, devices=1)
  two = train.fit(cfg, data, devices=2)
  np.testing.assert_allclose(_curves(two), _curves(one), rtol=1e-5, atol=1e-5)
  for a, b in zip(jax.tree.leaves(two.params), jax.tree.leaves(one.params), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
  for a, b in zip(jax.tree.leaves(two.state), jax.tree.leaves(one.state), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_remainder_is_validated_by_name():
  with pytest.raises(ValueError, match=r"remainder='all' is not valid; choose from drop, keep"):
    train.fit(dataclasses.replace(CFG, remainder="all"), _subset(64))


# resnet's convolutions cover the cnn's conv + batch norm (the cnn case cost 14 s of the suite)
@pytest.mark.parametrize("model", ["resnet", "lstm", "transformer"])
def test_builtin_models_keep_padding_out_of_batch_norm(data, model):
  """A padded batch with its mask gives the real rows the logits and running statistics
  of the real rows alone (every batch-norm layer of the model; the mlp is the loop's)."""
  cfg = train.TrainConfig(model=model, width=8, depth=1, heads=2, norm="batch_norm")
  m = train.models.build_model(cfg, data.x_train.shape[1:], data.num_classes)
  assert m.takes_mask
  params, state = jax.jit(m.init)(jax.random.key(0))  # eager, a cnn's init takes seconds
  x = jnp.asarray(data.x_train[:8])
  padded = jnp.concatenate([x[:5], 10.0 + x[:3]])  # 3 padded rows, far from the real ones
  mask = jnp.asarray([1.0] * 5 + [0.0] * 3)

  @jax.jit  # one program for both calls
  def both(params, state, key):
    ref = m.apply(params, state, x[:5], key, train=True)
    return ref, m.apply(params, state, padded, key, train=True, mask=mask)

  (ref_logits, ref_state), (logits, new_state) = both(params, state, jax.random.key(1))
  np.testing.assert_allclose(logits[:5], ref_logits, rtol=1e-5, atol=1e-5)
  for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(ref_state), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
