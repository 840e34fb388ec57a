"""The issue-13 examples: CBOW beside skip-gram (seed 003 §9) and the GAN on digits."""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import load_example

_load = load_example


def _sigmoid(z):
  return 1 / (1 + np.exp(-z))


def test_cbow_loss_and_gradient_equal_a_numpy_transcription():
  """h = (1/|C|) Σ_{j∈C} v_j; L = -log σ(u_c·h) - Σ_k log σ(-u_k·h), mean over the batch,
  and its gradient written out by hand: with s = σ(u_c·h) and s_k = σ(u_k·h),
  ∂L/∂h = (s - 1) u_c + Σ_k s_k u_k, ∂L/∂u_c = (s - 1) h, ∂L/∂u_k = s_k h,
  ∂L/∂v_j = ∂L/∂h / |C| for each context word j (rows accumulate)."""
  module = _load("word_vectors")
  rng = np.random.default_rng(0)
  vocab, dim, batch, k = 9, 4, 3, 5
  params = {"input": rng.normal(size=(vocab, dim)), "output": rng.normal(size=(vocab, dim))}
  centre = rng.integers(0, vocab, batch)
  context = rng.integers(0, vocab, (batch, 4))
  mask = np.array([[1, 1, 1, 1], [1, 1, 1, 0], [0, 1, 1, 0]], bool)
  negatives = rng.integers(0, vocab, (batch, k))

  loss = 0.0
  grad = {name: np.zeros_like(a) for name, a in params.items()}
  for b in range(batch):
    words = context[b][mask[b]]
    h = params["input"][words].mean(0)
    u_c, u_k = params["output"][centre[b]], params["output"][negatives[b]]
    s, s_k = _sigmoid(u_c @ h), _sigmoid(u_k @ h)
    loss += (-np.log(s) - np.log(1 - s_k).sum()) / batch
    d_h = ((s - 1) * u_c + s_k @ u_k) / batch
    grad["output"][centre[b]] += (s - 1) * h / batch
    for kk in range(k):
      grad["output"][negatives[b, kk]] += s_k[kk] * h / batch
    for w in words:
      grad["input"][w] += d_h / len(words)

  args = (
    jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), params),
    (jnp.asarray(centre), jnp.asarray(context), jnp.asarray(mask)),
    jnp.asarray(negatives),
  )
  ours, ours_grad = jax.value_and_grad(module.cbow_loss)(*args)
  np.testing.assert_allclose(ours, loss, rtol=1e-5)
  for name in params:
    np.testing.assert_allclose(ours_grad[name], grad[name], rtol=1e-4, atol=1e-6)


def test_cbow_examples_pad_the_window_at_sentence_edges():
  module = _load("word_vectors")
  index = {w: i for i, w in enumerate("abcde")}
  centres, contexts, masks = module.cbow_examples([list("abcde")], index)
  np.testing.assert_array_equal(centres, [0, 1, 2, 3, 4])
  np.testing.assert_array_equal(contexts[0][masks[0]], [1, 2])  # a: b c
  np.testing.assert_array_equal(contexts[2][masks[2]], [0, 1, 3, 4])  # c: a b d e
  assert masks.sum(1).tolist() == [2, 3, 4, 3, 2]


def test_cbow_finds_the_planted_groups():
  module = _load("word_vectors")
  # 4 epochs: at this corpus size 2 epochs are 94 CBOW steps, too few (the docstring's 0.80).
  results = module.main(["--model", "cbow", "--epochs", "4", "--sentences", "2000"])
  r = results["cbow"]
  assert set(results) == {"cbow"}
  assert r["precision"] >= 0.9, r["precision"]
  assert r["within"] > r["between"] + 0.3, (r["within"], r["between"])
  assert set(r["neighbours"]["cat"]) == set(module.GROUPS["ANIMAL"]) - {"cat"}
  assert set(r["neighbours"]["apple"]) == set(module.GROUPS["FRUIT"]) - {"apple"}


@pytest.mark.slow  # two compiled trainings (GAN and judge): 41 s at load 8 on 2 cores
def test_gan_draws_digits_the_judge_recognizes(tmp_path):
  """At a smaller size (100 epochs, 300 samples): measured 0.85 confidence and 0.56
  share ≥ 0.9 for the samples, 0.62 and 0.13 for noise, all 10 classes covered."""
  module = _load("gan_digits")
  result = module.main(["--epochs", "100", "--samples", "300", "--out", str(tmp_path)])
  q, noise, real = (
    result["quality"][k] for k in ("GAN samples", "noise U(0, 1)", "real test digits")
  )
  assert result["judge_accuracy"] > 0.9, result["judge_accuracy"]
  assert real["confidence"] > 0.9  # the judge itself is sound
  assert q["confidence"] > noise["confidence"] + 0.15, (q, noise)
  assert q["confident"] > 2 * noise["confident"] and q["confident"] > 0.4, (q, noise)
  assert q["classes"] >= 9 and q["effective_classes"] > 8, q  # no mode collapse
  samples = result["samples"]
  assert samples.shape == (300, 64) and np.all((samples >= 0) & (samples <= 1))
  png = pathlib.Path(result["png"])
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
