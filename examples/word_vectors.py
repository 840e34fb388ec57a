"""Skip-gram word vectors with negative sampling on a generated corpus (seed 003 §8).

Seed 003 §8 (跳跃图 Skip-gram): words that share contexts are similar; a network
that predicts the context words around a centre word learns embeddings in which
such words are close. The corpus is generated from a toy grammar with five
planted word groups (animals, fruits, vehicles, colours, places) whose members
are interchangeable in every sentence, e.g. "the cat eats a banana", "a red bus
drives to the market": within a group the contexts are the same, so the learned
vectors of a group should be each other's nearest neighbours.

Model (Mikolov et al., 2013): centre vectors v and context vectors u; for each
(centre c, context o) pair within a window of 2, and K = 5 negatives k drawn from
the unigram distribution raised to 3/4,

  loss = -log σ(u_o·v_c) - Σ_k log σ(-u_k·v_c),

written with ``jpatterns.sigmoid_binary_cross_entropy`` (label 1 for the true
context, 0 for the negatives) and trained with ``jpatterns.optim.adam``, one
compiled ``lax.scan`` per epoch with donated buffers; negatives are sampled
inside the step.

Run:  python examples/word_vectors.py [--epochs 5] [--seed 0]
It prints the nearest neighbours (cosine similarity of the centre vectors) of one
word per group, the mean similarity within and between groups, and the fraction
of the 25 group words whose nearest neighbour is in their own group: 1.00 with
the defaults (seed 0; mean cosine similarity 0.99 within a group, 0.40 between
groups), in under 10 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jpatterns as jp
from jpatterns import optim

GROUPS = {
  "ANIMAL": ["cat", "dog", "horse", "cow", "sheep"],
  "FRUIT": ["apple", "banana", "cherry", "grape", "mango"],
  "VEHICLE": ["car", "bus", "truck", "train", "bike"],
  "COLOR": ["red", "green", "blue", "yellow", "white"],
  "PLACE": ["city", "village", "farm", "market", "park"],
}
TEMPLATES = [
  "the ANIMAL eats a FRUIT",
  "the ANIMAL runs to the PLACE",
  "the ANIMAL sleeps in the PLACE",
  "a COLOR VEHICLE drives to the PLACE",
  "she buys a COLOR FRUIT at the PLACE",
  "the VEHICLE is COLOR",
  "we ride the VEHICLE to the PLACE",
  "the FRUIT is COLOR and sweet",
]
WINDOW = 2
NEGATIVES = 5
DIM = 16
BATCH = 256


def generate_corpus(rng, n_sentences: int):
  """Sentences (lists of words) from TEMPLATES, each slot filled uniformly."""
  sentences = []
  for _ in range(n_sentences):
    template = TEMPLATES[rng.integers(len(TEMPLATES))]
    sentences.append([GROUPS[w][rng.integers(5)] if w in GROUPS else w for w in template.split()])
  return sentences


def skipgram_pairs(sentences, index):
  """All (centre, context) index pairs within WINDOW words of each other."""
  pairs = []
  for sentence in sentences:
    ids = [index[w] for w in sentence]
    for i, c in enumerate(ids):
      for j in range(max(0, i - WINDOW), min(len(ids), i + WINDOW + 1)):
        if j != i:
          pairs.append((c, ids[j]))
  return np.array(pairs, dtype=np.int32)


def loss_fn(params, centre, context, negatives):
  """Negative-sampling loss, mean over the batch."""
  v = params["centre"][centre]  # (B, D)
  u_pos = params["context"][context]  # (B, D)
  u_neg = params["context"][negatives]  # (B, K, D)
  pos = jnp.sum(u_pos * v, axis=-1)  # u_o·v_c
  neg = jnp.einsum("bkd,bd->bk", u_neg, v)  # u_k·v_c
  loss_pos = jp.sigmoid_binary_cross_entropy(pos, jnp.ones_like(pos))  # -log σ(u_o·v_c)
  loss_neg = jp.sigmoid_binary_cross_entropy(neg, jnp.zeros_like(neg))  # -log σ(-u_k·v_c)
  return jnp.mean(loss_pos + loss_neg.sum(-1))


def make_epoch(opt, log_noise):
  def epoch(params, opt_state, centres, contexts, key):
    """One pass over the batched pairs as a lax.scan; negatives drawn per step."""

    def step(carry, batch):
      params, opt_state, key = carry
      key, sub = jax.random.split(key)
      centre, context = batch
      negatives = jax.random.categorical(sub, log_noise, shape=(*centre.shape, NEGATIVES))
      loss, grads = jax.value_and_grad(loss_fn)(params, centre, context, negatives)
      updates, opt_state = opt.update(grads, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state, key), loss

    (params, opt_state, _), losses = jax.lax.scan(
      step, (params, opt_state, key), (centres, contexts)
    )
    return params, opt_state, losses.mean()

  return jax.jit(epoch, donate_argnums=(0, 1))


def nearest_neighbours(vectors, k: int):
  """Indices of the k most cosine-similar other words, and their similarities."""
  unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
  sim = unit @ unit.T  # cos(a, b) = a·b / (|a| |b|)
  np.fill_diagonal(sim, -np.inf)
  order = np.argsort(-sim, axis=1)[:, :k]
  return order, np.take_along_axis(sim, order, axis=1)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--sentences", type=int, default=4000)
  parser.add_argument("--epochs", type=int, default=5)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args(argv)

  t0 = time.perf_counter()
  rng = np.random.default_rng(args.seed)
  sentences = generate_corpus(rng, args.sentences)
  vocab = sorted({w for s in sentences for w in s})
  index = {w: i for i, w in enumerate(vocab)}
  pairs = skipgram_pairs(sentences, index)
  counts = np.bincount([index[w] for s in sentences for w in s], minlength=len(vocab))
  log_noise = jnp.asarray(0.75 * np.log(counts), jnp.float32)  # P_n(w) ∝ count(w)^(3/4)
  print(
    f"{len(sentences)} sentences, {counts.sum()} tokens, vocabulary {len(vocab)}, "
    f"{len(pairs)} skip-gram pairs"
  )

  key = jax.random.key(args.seed)
  key, k_centre = jax.random.split(key)
  params = {
    "centre": jax.random.normal(k_centre, (len(vocab), DIM)) * 0.1,
    "context": jnp.zeros((len(vocab), DIM)),
  }  # word2vec's initialisation
  opt = optim.adam(1e-2)
  opt_state = opt.init(params)
  epoch = make_epoch(opt, log_noise)

  steps = len(pairs) // BATCH
  for e in range(args.epochs):
    batch = pairs[rng.permutation(len(pairs))[: steps * BATCH]].reshape(steps, BATCH, 2)
    key, sub = jax.random.split(key)
    params, opt_state, loss = epoch(params, opt_state, batch[..., 0], batch[..., 1], sub)
    print(f"epoch {e + 1}  loss {float(loss):.4f}")

  vectors = np.asarray(params["centre"])
  neighbours, sims = nearest_neighbours(vectors, 4)
  group_of = {w: g for g, words in GROUPS.items() for w in words}
  for group, words in GROUPS.items():
    w = words[0]
    near = ", ".join(f"{vocab[j]} {s:.2f}" for j, s in zip(neighbours[index[w]], sims[index[w]]))
    print(f"  {w:>6} ({group.lower()}): {near}")
  unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
  ids = np.array([index[w] for w in group_of])
  same = np.array([[group_of[a] == group_of[b] for b in group_of] for a in group_of])
  sim = unit[ids] @ unit[ids].T
  within = sim[same & ~np.eye(len(ids), dtype=bool)].mean()
  print(
    f"mean cosine similarity: {within:.2f} within a group, {sim[~same].mean():.2f} between groups"
  )
  hits = [group_of.get(vocab[neighbours[index[w]][0]]) == group_of[w] for w in group_of]
  precision = float(np.mean(hits))
  print(
    f"nearest neighbour in the same planted group for {sum(hits)}/{len(hits)} "
    f"group words: {precision:.2f} ({time.perf_counter() - t0:.1f} s)"
  )
  return precision, {w: [vocab[j] for j in neighbours[index[w]]] for w in vocab}


if __name__ == "__main__":
  main()
