"""Optimizer step and compile time: jpatterns vs optax, tree form and flat path.

Run: ``python -m benchmarks.bench_optim [--quick] [--allow-missing]``.

What is timed (issue 3, item 9):

* the optimizer step ONLY: ``opt.update`` + ``optax.apply_updates``, gradients given as
  input, jitted with params and state donated, warm, median of many calls; jpatterns and
  optax are timed interleaved in one run, on a 1 × 10M and a 1000 × 10k float32 tree;
* compile time: ``jax.jit(step, donate_argnums=(0, 1)).lower(...).compile()`` of a fresh
  function, measured apart from the step (median of a few, the two sides in ABBA order);
  a control row puts optax's momentum against itself (identical programs) to show the noise;
* the flat path (``jpatterns.optim._flat``): the 1000 × 10k tree packed in one buffer,
  its optimizer step against the tree form on 1 × 10M;
* Adam's achieved bandwidth on 1 × 10M, counting 7 arrays × 4 bytes per parameter (read
  θ, g, M, G; write θ, M, G), against a measured read-2-write-1 kernel
  ``x ← 0.5·x + y`` (x donated; 12 bytes per element).

The machine may be shared: compare the ratios, which are measured side by side.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks._timing import machine_info, print_ratio_table
from jpatterns.optim._flat import flat_train_step, flatten_params

LR = 1e-3
WEIGHT_DECAY = 1e-4

# name, (jpatterns module, function, kwargs), optax factory. The kwargs select the
# convention optax uses so both sides compute the same update.
PAIRS = [
  ("sgd", ("_sgd", "sgd", {}), lambda: optax.sgd(LR)),
  (
    "momentum",
    ("_sgd", "momentum", {"momentum": 0.9, "velocity": "gradient"}),
    lambda: optax.sgd(LR, momentum=0.9),
  ),
  # The seed's form (the default): the state holds Δθ itself, so the update IS the new
  # state and θ + Δθ is a lone add, which XLA:CPU emits through its slower single-op path
  # (see benchmarks/README.md); a different program from optax's, measured for the record.
  (
    "momentum (seed form)",
    ("_sgd", "momentum", {"momentum": 0.9, "velocity": "seed"}),
    lambda: optax.sgd(LR, momentum=0.9),
  ),
  (
    "adagrad",
    ("_adaptive", "adagrad", {"eps": 1e-7, "initial_accumulator_value": 0.1}),
    lambda: optax.adagrad(LR),
  ),
  ("rmsprop", ("_adaptive", "rmsprop", {}), lambda: optax.rmsprop(LR)),
  ("adam", ("_adam", "adam", {}), lambda: optax.adam(LR)),
  (
    "adamw",
    ("_adam", "adamw", {"weight_decay": WEIGHT_DECAY}),
    lambda: optax.adamw(LR, weight_decay=WEIGHT_DECAY),
  ),
]


def _jpatterns_factory(spec):
  """``() -> jpatterns optimizer``, or an error message if it does not exist (yet)."""
  module, name, kwargs = spec
  try:
    fn = getattr(importlib.import_module(f"jpatterns.optim.{module}"), name)
  except (ImportError, AttributeError) as e:
    return None, f"jpatterns.optim.{module}.{name} is missing ({type(e).__name__}: {e})"
  return (lambda: fn(LR, **kwargs)), None


def _make_step():
  """A fresh step function (a new object, so no jit cache is shared between measures)."""

  def step(opt, params, state, grads):
    updates, state = opt.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  return step


def _jit_step(opt):
  step = _make_step()
  return jax.jit(lambda p, s, g: step(opt, p, s, g), donate_argnums=(0, 1))


def _tree(n_leaves: int, size: int, seed: int):
  """A dict of ``n_leaves`` float32 vectors of ``size`` (made on the host, put one by one)."""
  rows = np.random.default_rng(seed).standard_normal((n_leaves, size), dtype=np.float32)
  return {f"p{i:04d}": jnp.asarray(rows[i]) for i in range(n_leaves)}


def _copy(tree):
  return jax.tree.map(jnp.copy, tree)


def _interleaved_carry_times(fns, carries, grads, repeats: int, warmup: int = 3):
  """Median seconds of ``carry = fn(*carry, g)`` for each fn, timed in alternation.

  The carried (params, state) are donated, so each call feeds the previous output back.
  """
  carries = list(carries)
  for i, fn in enumerate(fns):
    for _ in range(warmup):
      carries[i] = jax.block_until_ready(fn(*carries[i], grads[i]))
  samples = [[] for _ in fns]
  order = list(range(len(fns)))
  for r in range(repeats):
    for i in order if r % 2 == 0 else order[::-1]:  # ABBA: no side always runs second
      fn = fns[i]
      t0 = time.perf_counter()
      carries[i] = jax.block_until_ready(fn(*carries[i], grads[i]))
      samples[i].append(time.perf_counter() - t0)
  return [statistics.median(s) for s in samples]


def _compile_times(makers, args, repeats: int):
  """Median seconds of lower + compile of a fresh jitted step, the makers in ABBA order.

  The median, not the minimum: on a loaded machine the minimum of a few is a lucky draw
  (two identical programs differ by up to 1.5× in it; the control row shows the spread).
  Use an even ``repeats``: each side then goes first equally often.
  """
  samples = [[] for _ in makers]
  order = list(range(len(makers)))
  for r in range(repeats):
    for i in order if r % 2 == 0 else order[::-1]:
      fn = makers[i]()
      gc.collect()  # the previous trace's garbage is not collected inside this one's timing
      t0 = time.perf_counter()
      fn.lower(*args[i]).compile()
      samples[i].append(time.perf_counter() - t0)
  return [statistics.median(s) for s in samples]


def _bench_pair(jp_make, ox_make, params, grads, repeats, compile_repeats):
  """(step jp, step optax, compile jp, compile optax) in seconds."""
  jp_opt, ox_opt = jp_make(), ox_make()
  p_jp, p_ox = _copy(params), _copy(params)
  s_jp, s_ox = jp_opt.init(p_jp), ox_opt.init(p_ox)
  c_jp, c_ox = _compile_times(
    [lambda: _jit_step(jp_opt), lambda: _jit_step(ox_opt)],
    [(p_jp, s_jp, grads), (p_ox, s_ox, grads)],
    compile_repeats,
  )
  t_jp, t_ox = _interleaved_carry_times(
    [_jit_step(jp_opt), _jit_step(ox_opt)], [(p_jp, s_jp), (p_ox, s_ox)], [grads, grads], repeats
  )
  return t_jp, t_ox, c_jp, c_ox


def _copy_bandwidth(n: int, repeats: int) -> float:
  """Bytes/s of the donated read-2-write-1 kernel x ← 0.5·x + y on n float32 (12 B/elem)."""
  x, y = jnp.ones(n, jnp.float32), jnp.full(n, 0.25, jnp.float32)
  kernel = jax.jit(lambda x, y: (0.5 * x + y,), donate_argnums=0)  # x ← 0.5x + y
  (t,) = _interleaved_carry_times([kernel], [(x,)], [y], repeats)
  return 12 * n / t


def _whole_step(opt, n_layers: int, width: int, repeats: int, compile_repeats: int):
  """Whole training step (value_and_grad of an MLP + Adam), tree form vs flat path.

  The model is ``n_layers`` tanh layers ``x ← tanh(x W_i)`` of ``width × width`` weights
  on a batch of 32. Returns ((step tree, step flat), (compile tree, compile flat)).
  """
  rng = np.random.default_rng(2)
  params = {
    f"w{i:04d}": jnp.asarray(
      (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
    )
    for i in range(n_layers)
  }
  x = jnp.asarray(rng.standard_normal((32, width)).astype(np.float32))

  def loss_fn(p, x):
    for k in sorted(p):
      x = jnp.tanh(x @ p[k])  # x ← tanh(x W_i)
    return jnp.mean(x**2)

  def make_tree():
    def step(p, s, x):
      loss, g = jax.value_and_grad(loss_fn)(p, x)
      updates, s = opt.update(g, s, p)
      return optax.apply_updates(p, updates), s, loss

    return jax.jit(step, donate_argnums=(0, 1))

  flat, layout = flatten_params(params)

  def make_flat():
    return jax.jit(flat_train_step(loss_fn, opt, layout), donate_argnums=(0, 1))

  p_tree, p_flat = _copy(params), _copy(flat)
  s_tree, s_flat = opt.init(p_tree), opt.init(p_flat)
  compiles = _compile_times(
    [make_tree, make_flat], [(p_tree, s_tree, x), (p_flat, s_flat, x)], compile_repeats
  )
  tree_fn, flat_fn = make_tree(), make_flat()
  # The steps return (params, state, loss): carry the first two.
  fns = [lambda p, s, x, f=f: f(p, s, x)[:2] for f in (tree_fn, flat_fn)]
  steps = _interleaved_carry_times(fns, [(p_tree, s_tree), (p_flat, s_flat)], [x, x], repeats)
  return steps, compiles


def _fmt_s(seconds: float) -> str:
  return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
  parser.add_argument(
    "--allow-missing", action="store_true", help="skip jpatterns optimizers that do not exist yet"
  )
  parser.add_argument("--repeats", type=int, default=None, help="timed calls per step")
  parser.add_argument(
    "--compile-repeats",
    type=int,
    default=None,
    help="lower+compile measures per step, ABBA order (the median is kept)",
  )
  parser.add_argument(
    "--layers", type=int, default=None, help="MLP depth of the whole-step comparison (0 skips it)"
  )
  args = parser.parse_args(argv)

  if args.quick:
    big, (n_leaves, leaf) = 100_000, (100, 1_000)
    repeats, compile_repeats, layers = 5, 1, 20
  else:
    big, (n_leaves, leaf) = 10_000_000, (1_000, 10_000)
    repeats, compile_repeats, layers = 30, 6, 1000
  repeats = args.repeats or repeats
  compile_repeats = args.compile_repeats or compile_repeats
  layers = layers if args.layers is None else args.layers

  pairs, missing = [], []
  for name, spec, ox_make in PAIRS:
    jp_make, error = _jpatterns_factory(spec)
    if error:
      missing.append(error)
    else:
      pairs.append((name, jp_make, ox_make))
  if missing and not args.allow_missing:
    raise SystemExit(
      "bench_optim: jpatterns optimizers missing:\n  "
      + "\n  ".join(missing)
      + "\nrerun with --allow-missing to benchmark the others"
    )

  print("##", machine_info())
  print(
    f"\nMode: {'quick' if args.quick else 'full'}; step = update + apply_updates, "
    f"gradients given, params+state donated; median of {repeats} interleaved calls; "
    f"compile = median of {compile_repeats} lower+compile (ABBA)."
  )
  for error in missing:
    print(f"\n**skipped**: {error}")

  shapes = {f"1 × {big:,}": (1, big), f"{n_leaves} × {leaf:,}": (n_leaves, leaf)}
  trees = {label: (_tree(n, s, seed=0), _tree(n, s, seed=1)) for label, (n, s) in shapes.items()}
  step_rows, compile_rows, results = [], [], {}
  for name, jp_make, ox_make in pairs:
    for label, (params, grads) in trees.items():
      t_jp, t_ox, c_jp, c_ox = _bench_pair(
        jp_make, ox_make, params, grads, repeats, compile_repeats
      )
      step_rows.append((name, label, t_jp, t_ox))
      compile_rows.append((name, label, c_jp, c_ox))
      results[name, label] = (t_jp, t_ox, c_jp, c_ox)
  # Control: the same optimizer on both sides (identical programs): how far from 1.00 noise
  # alone moves a ratio in this run.
  for label, (params, grads) in trees.items():
    same = lambda: optax.sgd(LR, momentum=0.9)  # noqa: E731
    t_a, t_b, c_a, c_b = _bench_pair(same, same, params, grads, repeats, compile_repeats)
    step_rows.append(("control: optax momentum vs itself", label, t_a, t_b))
    compile_rows.append(("control: optax momentum vs itself", label, c_a, c_b))
  print_ratio_table("Optimizer step, tree form (target: ratio ≤ 1.05)", step_rows, "optax")
  print_ratio_table("Compile time, lower + compile (target: ratio ≤ 1.0)", compile_rows, "optax")

  # ---- flat path: 1000 × 10k packed in one buffer vs the tree form on 1 × 10M.
  big_label, many_label = list(shapes)
  many_params, many_grads = trees[many_label]
  t0 = time.perf_counter()
  flat, layout = flatten_params(many_params)
  flat_grads = layout.flatten(many_grads)
  jax.block_until_ready((flat, flat_grads))
  t_pack = time.perf_counter() - t0
  flat_rows, flat_compile_rows = [], []
  for name, jp_make, _ in pairs:
    opt = jp_make()
    one_p, one_g = trees[big_label]
    p_flat, p_one = _copy(flat), _copy(one_p)
    s_flat, s_one = opt.init(p_flat), opt.init(p_one)
    c_flat, c_one = _compile_times(
      [lambda: _jit_step(opt)] * 2,
      [(p_flat, s_flat, flat_grads), (p_one, s_one, one_g)],
      compile_repeats,
    )
    t_flat, t_one = _interleaved_carry_times(
      [_jit_step(opt), _jit_step(opt)],
      [(p_flat, s_flat), (p_one, s_one)],
      [flat_grads, one_g],
      repeats,
    )
    t_tree_many = results[name, many_label][0]
    flat_rows.append((name, f"flat {many_label} vs tree {big_label}", t_flat, t_one))
    flat_compile_rows.append((name, c_flat, t_flat, t_tree_many))
  print_ratio_table(
    "Flat path step: 1000 leaves in one buffer vs one 10M leaf, jpatterns (target: ratio ≤ 1.3)",
    flat_rows,
    "tree 1 leaf",
  )
  print(f"\n### Flat path compile (target ≤ 0.5 s) and gain over the tree form on {many_label}\n")
  print("| optimizer | flat compile | tree compile | flat step | tree step | step gain |")
  print("|---|---:|---:|---:|---:|---:|")
  for name, c_flat, t_flat, t_tree_many in flat_compile_rows:
    c_tree = results[name, many_label][2]
    print(
      f"| {name} | {_fmt_s(c_flat)} | {_fmt_s(c_tree)} | {t_flat * 1e3:.3f} ms | "
      f"{t_tree_many * 1e3:.3f} ms | {t_tree_many / t_flat:.2f}× |"
    )
  print(
    f"\n(packing {many_label} with flatten_params + layout.flatten of the gradients, "
    f"once, eager: {_fmt_s(t_pack)})"
  )

  # ---- bandwidth: Adam on 1 × 10M vs a read-2-write-1 kernel.
  if ("adam", big_label) in results:
    bw_copy = _copy_bandwidth(big, repeats)
    t_jp, t_ox = results["adam", big_label][:2]
    bw_jp, bw_ox = 28 * big / t_jp, 28 * big / t_ox  # 7 arrays × 4 bytes per parameter
    print(f"\n### Adam bandwidth on {big_label} float32 (target ≥ 0.8× the kernel)\n")
    print("| what | time (ms) | GB/s | vs kernel |")
    print("|---|---:|---:|---:|")
    print(
      f"| kernel x ← 0.5·x + y (read 2, write 1; 12 B/elem) | {12 * big / bw_copy * 1e3:.3f}"
      f" | {bw_copy / 1e9:.1f} | 1.00 |"
    )
    print(
      f"| jpatterns adam (28 B/param) | {t_jp * 1e3:.3f} | {bw_jp / 1e9:.1f} | "
      f"{bw_jp / bw_copy:.2f} |"
    )
    print(
      f"| optax adam (28 B/param) | {t_ox * 1e3:.3f} | {bw_ox / 1e9:.1f} | {bw_ox / bw_copy:.2f} |"
    )

  # ---- whole training step: the model reads its weights as views of the flat buffer.
  adam_pair = [make for name, make, _ in pairs if name == "adam"]
  if layers and adam_pair:
    width = 100
    (t_tree, t_flat), (c_tree, c_flat) = _whole_step(
      adam_pair[0](), layers, width, max(3, repeats // 3), compile_repeats
    )
    print(
      f"\n### Whole training step, jpatterns adam: MLP of {layers} tanh layers "
      f"{width} × {width} (batch 32), tree form vs flat path\n"
    )
    print("| what | tree | flat | flat / tree |")
    print("|---|---:|---:|---:|")
    print(
      f"| step (value_and_grad + update, donated) | {t_tree * 1e3:.3f} ms | "
      f"{t_flat * 1e3:.3f} ms | {t_flat / t_tree:.2f} |"
    )
    print(
      f"| compile (lower + compile) | {_fmt_s(c_tree)} | {_fmt_s(c_flat)} | {c_flat / c_tree:.2f} |"
    )
    print(
      "\n(The flat step adds one slice per weight in the forward and one concatenate "
      "in the backward; its optimizer part is one buffer.)"
    )


if __name__ == "__main__":
  main()
