"""The pattern catalogue as data: one row per public pattern of the package.

Each :class:`Pattern` row names a public function, its family, its formula in one line
of plain Unicode, the seed section it comes from (as the target's docstring names it)
and what its tests verify it against. ``jpatterns list`` prints this table; other
commands may use it to look patterns up by name.

The rows are transcribed from the docstrings and tests of each module. The seed
column repeats the section the target's docstring names (Chinese section names kept,
an English gloss in parentheses); "beyond the seeds" marks a pattern the seed
documents do not contain. ``tests/test_cli_list.py`` checks that every row resolves,
that every pattern in each module's ``__all__`` has a row and that the seed column is
the docstring's.

:func:`family` resolves a family name or one of its :data:`ALIASES` (``optim``,
``norm``, singular forms, ...); ``jpatterns list FAMILY`` and ``jpatterns verify
--family FAMILY`` both resolve through it, so the two commands take the same names.

This module imports nothing heavy: :func:`resolve` imports a target only when called.

Example:
  >>> from jpatterns.catalogue import PATTERNS, by_name, resolve
  >>> p = by_name("momentum")
  >>> print(p.family, "|", p.formula)
  optimizers | Δθ_t = ρ Δθ_{t−1} − α_t g_t
  >>> resolve(p).__name__
  'momentum'
  >>> family("optim")
  'optimizers'
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib

__all__ = [
  "Pattern",
  "PATTERNS",
  "FAMILIES",
  "ALIASES",
  "FAMILY_NAMES",
  "BEYOND",
  "resolve",
  "by_name",
  "family",
]

# The families in display order (``jpatterns list FAMILY`` takes these names).
FAMILIES = (
  "activations",
  "initializers",
  "normalization",
  "dropout",
  "optimizers",
  "schedules",
  "transforms",  # gradient transforms: clipping, L1/L2, weight decay, masks
  "regularization",  # penalties added to the loss, label smoothing
  "losses",
  "augmentation",
  "preprocessing",
  "layers",
  "tools",
)

# Short names and singular forms, alias -> family. ``jpatterns list`` and ``jpatterns
# verify --family`` accept these wherever they accept a family (see :func:`family`).
ALIASES = {
  "activation": "activations",
  "act": "activations",
  "initializer": "initializers",
  "init": "initializers",
  "norm": "normalization",
  "optimizer": "optimizers",
  "optim": "optimizers",
  "schedule": "schedules",
  "transform": "transforms",
  "clipping": "transforms",
  "reg": "regularization",
  "loss": "losses",
  "augment": "augmentation",
  "preprocess": "preprocessing",
  "layer": "layers",
  "tool": "tools",
}

# Every name :func:`family` accepts: the families (display order), then the aliases.
FAMILY_NAMES = FAMILIES + tuple(ALIASES)

# The seed column of a pattern that none of the seed documents contains.
BEYOND = "beyond the seeds"


@dataclasses.dataclass(frozen=True)
class Pattern:
  """One catalogue row.

  Attributes:
    name: the public name, e.g. ``"batch_norm"``.
    family: one of :data:`FAMILIES`.
    formula: the formula in one line of plain Unicode text.
    seed: the seed section, e.g. ``"002 动量法 (momentum)"``: the seed number, the
      section as its docstring names it, an optional English gloss in parentheses;
      several sections are separated by ``"; "``. :data:`BEYOND` when not in the seeds.
    reference: what the tests verify it against.
    target: dotted path of the object, e.g. ``"jpatterns.optim.momentum"``.
  """

  name: str
  family: str
  formula: str
  seed: str
  reference: str
  target: str


def resolve(pattern: Pattern | str):
  """Imports and returns the object a row (or a dotted path) names.

  Args:
    pattern: a :class:`Pattern` row or a dotted path such as ``"jpatterns.layer_norm"``.

  Returns:
    The function, class or factory it names.
  """
  target = pattern.target if isinstance(pattern, Pattern) else pattern
  module, _, attr = target.rpartition(".")
  return getattr(importlib.import_module(module), attr)


def by_name(name: str) -> Pattern:
  """The row of a public name.

  Args:
    name: a public name of the catalogue, e.g. ``"layer_norm"``.

  Returns:
    Its :class:`Pattern` row.

  Raises:
    KeyError: no row has that name.
  """
  for p in PATTERNS:
    if p.name == name:
      return p
  raise KeyError(name)


def family(name: str) -> str:
  """The family a name or alias denotes (case and surrounding space ignored).

  Args:
    name: a family (``"normalization"``) or an alias (``"norm"``, ``"optim"``).

  Returns:
    The family's name, a key of :data:`FAMILIES`.

  Raises:
    ValueError: ``name`` is neither a family nor an alias; the message suggests the
      closest valid name and lists the families and aliases.

  >>> family("Norm"), family("optimizers")
  ('normalization', 'optimizers')
  """
  key = str(name).strip().lower()
  if key in FAMILIES:
    return key
  if key in ALIASES:
    return ALIASES[key]
  close = difflib.get_close_matches(key, FAMILY_NAMES, n=1)
  hint = f" (did you mean {close[0]}?)" if close else ""
  aliases = ", ".join(f"{a} = {f}" for a, f in ALIASES.items())
  raise ValueError(
    f"{name!r} is not valid{hint}; choose from {', '.join(FAMILIES)} (aliases: {aliases})"
  )


def _rows(family, module, rows):
  return tuple(
    Pattern(name, family, formula, seed, reference, f"{module}.{name}")
    for name, formula, seed, reference in rows
  )


_ACTIVATIONS = _rows(
  "activations",
  "jpatterns.activations",
  [
    ("sigmoid", "σ(x) = 1 / (1 + e^(−x))", "004 §4.1", "jax.nn, torch"),
    (
      "tanh",
      "tanh(x) = (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ) = 2σ(2x) − 1",
      "004 §4.1",
      "jax.nn, torch, np (2σ(2x) − 1)",
    ),
    ("relu", "relu(x) = max(x, 0)", "004 §4.2", "jax.nn, torch"),
    ("leaky_relu", "f(x) = x if x ≥ 0 else a·x (a = 0.01)", "004 §4.2", "jax.nn, torch, np"),
    (
      "prelu",
      "f(x_c) = x_c if x_c ≥ 0 else α_c·x_c, α learned (scalar or per channel)",
      "004 §4.2",
      "torch F.prelu, jax.nn leaky_relu",
    ),
    (
      "rrelu",
      "f(x) = x if x ≥ 0 else a·x; train a ~ U(l, u) per element, eval a = (l + u)/2",
      "004 §4.2",
      "torch F.rrelu (eval values, train slope statistics)",
    ),
    ("elu", "elu(x) = x if x > 0 else α(eˣ − 1)", "004 §4.2; 001", "jax.nn, torch"),
    ("selu", "selu(x) = λ·elu_α(x), λ ≈ 1.0507, α ≈ 1.6733", BEYOND, "jax.nn, torch"),
    ("celu", "celu(x) = max(0, x) + α(e^(min(0, x)/α) − 1)", BEYOND, "jax.nn, torch"),
    (
      "gelu",
      "gelu(x) = x·Φ(x) (exact, default); tanh form x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))",
      BEYOND,
      "jax.nn (approximate=False/True), torch (none/tanh)",
    ),
    ("silu", "silu(x) = x·σ(x)", BEYOND, "jax.nn, torch"),
    ("swish", "swish(x) = x·σ(x) (the same function as silu)", BEYOND, "jax.nn, torch"),
    ("mish", "mish(x) = x·tanh(softplus(x))", BEYOND, "jax.nn, torch"),
    ("softplus", "softplus(x) = log(1 + eˣ)", BEYOND, "jax.nn, torch"),
    (
      "softmax",
      "softmax(x)_i = e^(x_i − m) / Σ_j e^(x_j − m), m = max_j x_j",
      "001 (output layer)",
      "jax.nn, torch",
    ),
    (
      "log_softmax",
      "log_softmax(x)_i = (x_i − m) − log Σ_j e^(x_j − m), m = max_j x_j",
      "001 (output layer, log space)",
      "jax.nn, torch, float64 np",
    ),
  ],
)

_INITIALIZERS = _rows(
  "initializers",
  "jpatterns.initializers",
  [
    (
      "variance_scaling",
      "Var[w] = scale / n, n = fan_in, fan_out, fan_avg or fan_geo_avg",
      "002 参数初始化 (parameter initialization)",
      "jax.nn.initializers.variance_scaling (same key, same values)",
    ),
    (
      "glorot_normal",
      "w ~ N(0, σ²), σ = √(2 / (n_in + n_out)) (plain normal)",
      "002 参数初始化; 001",
      "jax.nn variance_scaling(1, fan_avg, normal) same key; torch xavier_normal_ std",
    ),
    (
      "glorot_uniform",
      "w ~ U(−r, r), r = √(6 / (n_in + n_out))",
      "002 参数初始化",
      "jax.nn glorot_uniform same key; torch xavier_uniform_ std",
    ),
    (
      "he_normal",
      "w ~ N(0, σ²), σ = √(2 / n_in)",
      "001",
      "jax.nn variance_scaling(2, fan_in, normal) same key; torch kaiming_normal_ std",
    ),
    (
      "he_uniform",
      "w ~ U(−r, r), r = √(6 / n_in)",
      BEYOND,
      "jax.nn he_uniform same key; torch kaiming_uniform_ std",
    ),
    (
      "lecun_normal",
      "w ~ N(0, σ²), σ = √(1 / n_in)",
      BEYOND,
      "jax.nn variance_scaling(1, fan_in, normal) same key",
    ),
    ("lecun_uniform", "w ~ U(−r, r), r = √(3 / n_in)", BEYOND, "jax.nn lecun_uniform same key"),
    (
      "truncated_normal",
      "w = stddev·z, z ~ N(0, 1) conditioned on lower < z < upper",
      BEYOND,
      "jax.nn truncated_normal same key",
    ),
    ("normal", "w ~ N(0, stddev²)", BEYOND, "jax.nn normal same key"),
    (
      "uniform",
      "w ~ U(−scale, scale) (symmetric, unlike jax.nn's [0, scale))",
      BEYOND,
      "jax.nn uniform (shifted and scaled)",
    ),
    (
      "orthogonal",
      "W = scale·Q, QᵀQ = I (or QQᵀ = I)",
      BEYOND,
      "jax.nn orthogonal same key; np QᵀQ = I",
    ),
    ("zeros", "w = 0", BEYOND, "jax.nn zeros"),
    ("ones", "w = 1", BEYOND, "jax.nn ones"),
    ("constant", "w = value", BEYOND, "jax.nn constant"),
  ],
)

_NORMALIZATION = _rows(
  "normalization",
  "jpatterns.normalization",
  [
    (
      "batch_norm",
      "y = γ(h − μ)/√(σ² + ε) + β; train: batch μ, σ² (1/m), running stats "
      "updated; eval: running stats",
      "002 批量归一化, BN算法; 001; 004 §2 (batch normalization)",
      "flax BatchNorm (output, running stats), torch BatchNorm (converted settings), np",
    ),
    (
      "batch_norm_analytic",
      "batch_norm (train) whose backward is 002's ∇γ, ∇β, ∇μ, ∇σ², ∇h (custom VJP)",
      "002 BN算法 (analytic backward)",
      "ad (custom VJP = autodiff), np",
    ),
    (
      "layer_norm",
      "ẑ = γ(z − μ)/√(σ² + ε) + β, μ, σ² over the features of each example",
      "002 层归一化; 004 §2.2 (layer normalization)",
      "flax LayerNorm, torch layer_norm, np",
    ),
    (
      "instance_norm",
      "y = γ_c(x − μ_nc)/√(σ²_nc + ε) + β_c, per example and channel over H, W",
      "002 IN (instance normalization)",
      "flax InstanceNorm, torch instance_norm, np",
    ),
    (
      "group_norm",
      "y = γ_c(x − μ_ng)/√(σ²_ng + ε) + β_c over the C/G channels of group g and H, W",
      "002 GN (group normalization)",
      "flax GroupNorm, torch group_norm, np",
    ),
    ("rms_norm", "y = γ·x / √(mean(x²) + ε)", BEYOND, "flax RMSNorm, torch RMSNorm, np"),
    (
      "weight_norm",
      "w = g·v/‖v‖",
      "002 weight normalization",
      "flax WeightNorm, torch weight_norm, np",
    ),
    (
      "local_response_norm",
      "Ŷᵖ = Yᵖ / (k + α Σ_{j in the n channels around p} (Yʲ)²)^β, α not divided by n",
      "002 局部响应归一化 (local response normalization)",
      "torch local_response_norm with α·n, np",
    ),
    (
      "spectral_norm",
      "v ← uWᵀ/‖uWᵀ‖, u ← vW/‖vW‖, σ = vWuᵀ, W̄ = W/σ (u carried as state)",
      BEYOND,
      "flax SpectralNorm, np (top singular value)",
    ),
  ],
)

_DROPOUT = _rows(
  "dropout",
  "jpatterns.stochastic",
  [
    (
      "dropout",
      "train y = x⊙m/q, m ~ Bernoulli(q), q = 1 − rate; test y = x "
      "(002's non-inverted form: train x⊙m, test q·x)",
      "002 DropOut; 003 §4; 004 §1",
      "flax Dropout (same key), np, statistics",
    ),
    (
      "dropconnect",
      "y = f(s·(x(W⊙M) + b⊙m_b)), M, m_b ~ Bernoulli(q), s = 1/q (inverted) or 1 (002)",
      "002 DropConnect",
      "np, Monte-Carlo mean vs dropconnect_inference",
    ),
    (
      "dropconnect_inference",
      "y = (1/Z) Σ_z f(û_z), û_z ~ N(μ, σ²), μ = s·q(xW + b), σ² = s²q(1 − q)((x⊙x)(W⊙W) + b⊙b)",
      "002 DropConnect (Gaussian moment matching)",
      "np, closed form for ReLU, Monte-Carlo mean of the train form",
    ),
    (
      "standout",
      "train y = f(xW + b)⊙m, m_j ~ Bernoulli(π_j), π = g(xW_s + b_s); test y = f(xW + b)⊙π",
      "002 Standout",
      "np, Monte-Carlo mean of the train form",
    ),
    (
      "gaussian_dropout",
      "train y = x⊙m, m ~ N(1, rate/(1 − rate)); test y = x",
      "002 Gaussian Dropout",
      "statistics (mean, variance)",
    ),
    (
      "alpha_dropout",
      "y = a(x⊙m + α′(1 − m)) + b, a = (q(1 + rate·α′²))^(−1/2), b = −a·α′·rate",
      BEYOND,
      "torch alpha_dropout statistics, np",
    ),
    (
      "spatial_dropout",
      "y_{…c} = x_{…c}·m_c/q, m_c ~ Bernoulli(q): whole channels",
      BEYOND,
      "torch Dropout2d statistics, flax Dropout(broadcast_dims)",
    ),
    (
      "drop_path",
      "y_n = x_n·m_n/q, m_n ~ Bernoulli(q): a whole residual branch per example",
      BEYOND,
      "statistics",
    ),
  ],
)

_OPTIMIZERS = _rows(
  "optimizers",
  "jpatterns.optim",
  [
    ("sgd", "Δθ_t = −α_t g_t", "002 随机梯度下降 (SGD)", "optax sgd, torch SGD"),
    (
      "momentum",
      "Δθ_t = ρ Δθ_{t−1} − α_t g_t",
      "002 动量法 (momentum)",
      "optax sgd(momentum=), torch SGD, np",
    ),
    (
      "nesterov",
      "Δθ_t = ρ Δθ_{t−1} − α_t g(θ_{t−1} + ρ Δθ_{t−1}) (re-parametrized: ρ v_t − α_t g_t)",
      "002 Nesterov 加速梯度",
      "optax sgd(nesterov=True), torch SGD, np literal look-ahead",
    ),
    (
      "adagrad",
      "G_t = Σ_τ g_τ⊙g_τ; Δθ_t = −α/√(G_t + ε) ⊙ g_t",
      "002 AdaGrad 算法",
      "optax adagrad, torch Adagrad, np",
    ),
    (
      "adadelta",
      "G_t = ρG_{t−1} + (1 − ρ)g_t²; Δθ_t = −√(ΔX²_{t−1} + ε)/√(G_t + ε) ⊙ g_t; "
      "ΔX²_t = ρΔX²_{t−1} + (1 − ρ)Δθ_t²",
      "002 AdaDelta 算法",
      "optax adadelta(learning_rate=1), torch Adadelta, np",
    ),
    (
      "rmsprop",
      "G_t = βG_{t−1} + (1 − β)g_t⊙g_t; Δθ_t = −α/√(G_t + ε) ⊙ g_t (+ momentum, centered)",
      "002 RMSProp, RMSProp动量",
      "optax rmsprop, torch RMSprop, np",
    ),
    (
      "adam",
      "M_t = β₁M_{t−1} + (1 − β₁)g_t; G_t = β₂G_{t−1} + (1 − β₂)g_t²; "
      "Δθ_t = −α M̂_t/(√(Ĝ_t + ε_root) + ε)",
      "002 Adam算法",
      "optax adam (eps_root), torch Adam, np",
    ),
    ("adamw", "Δθ_t = −α(M̂_t/(√Ĝ_t + ε) + λθ_{t−1})", BEYOND, "optax adamw, torch AdamW"),
    (
      "amsgrad",
      "Ĝmax_t = max(Ĝmax_{t−1}, Ĝ_t); Δθ_t = −α M̂_t/(√Ĝmax_t + ε)",
      BEYOND,
      "optax amsgrad (corrected), torch Adam(amsgrad=True) (raw)",
    ),
    (
      "nadam",
      "M̂_t = μ_{t+1}M_t/(1 − Π_{i≤t+1}μ_i) + (1 − μ_t)g_t/(1 − Π_{i≤t}μ_i); "
      "Δθ_t = −α M̂_t/(√Ĝ_t + ε)",
      BEYOND,
      "optax nadam, torch NAdam, np",
    ),
    (
      "adamax",
      "U_t = max(β₂U_{t−1}, |g_t| + ε); Δθ_t = −α/(1 − β₁ᵗ)·M_t/U_t",
      BEYOND,
      "optax adamax, torch Adamax, np (Keras ε)",
    ),
    (
      "lion",
      "C_t = β₁M_{t−1} + (1 − β₁)g_t; Δθ_t = −α(sign(C_t) + λθ_{t−1}); "
      "M_t = β₂M_{t−1} + (1 − β₂)g_t",
      BEYOND,
      "optax lion, np",
    ),
  ],
)

_SCHEDULES = _rows(
  "schedules",
  "jpatterns.optim",
  [
    (
      "inverse_time_decay",
      "α_t = α₀ / (1 + β t/T)",
      "002 学习率衰减 逆时衰减 (inverse time decay)",
      "np (Keras InverseTimeDecay)",
    ),
    (
      "exponential_decay",
      "α_t = α₀ β^(t/T)",
      "002 学习率衰减 指数衰减 (exponential decay)",
      "optax exponential_decay, torch ExponentialLR, np",
    ),
    (
      "natural_exp_decay",
      "α_t = α₀ exp(−β t/T)",
      "002 学习率衰减 自然指数衰减 (natural exponential decay)",
      "np",
    ),
    (
      "piecewise_constant",
      "α_t = α₀ Π_{i: t ≥ b_i} s_i (inclusive) or Π_{i: t > b_i} s_i",
      "003 §3",
      "optax piecewise_constant_schedule, np (Keras PiecewiseConstantDecay)",
    ),
    (
      "step_decay",
      "α_t = α₀ γ^#{i: t ≥ b_i}",
      "003 §3",
      "torch MultiStepLR, optax piecewise_constant_schedule",
    ),
    (
      "cosine_decay",
      "α_t = α₀[(1 − a)·½(1 + cos(π·min(t, T)/T)) + a]",
      BEYOND,
      "optax cosine_decay_schedule, torch CosineAnnealingLR",
    ),
    (
      "warmup",
      "α_t = α_init + (s(0) − α_init)·t/W for t < W, then s(t − W)",
      BEYOND,
      "optax warmup_cosine_decay_schedule, join_schedules, warmup_constant_schedule",
    ),
  ],
)

_TRANSFORMS = _rows(
  "transforms",
  "jpatterns.optim",
  [
    (
      "clip_by_value",
      "g_t = max(min(g_t, b), a), asymmetric [a, b] allowed",
      "002 梯度截断 按值截断 (clip by value)",
      "optax clip, np (asymmetric)",
    ),
    (
      "clip_by_norm",
      "g ← b·g/‖g‖ if ‖g‖ > b, per tensor",
      "002 梯度截断 按模截断 (clip by norm)",
      "torch clip_grad_norm_ per tensor, np",
    ),
    (
      "clip_by_global_norm",
      "g_l ← b·g_l/‖g‖ if ‖g‖ > b, ‖g‖ over all leaves",
      "002 梯度截断 (gradient clipping)",
      "optax clip_by_global_norm, torch clip_grad_norm_",
    ),
    (
      "add_l2",
      "g ← g + λw (gradient of λ/2‖w‖²)",
      "002 L2正则化 (L2 regularization)",
      "optax add_decayed_weights, np",
    ),
    ("add_l1", "g ← g + λ·sgn(w), sgn(0) = 0", "002 L1正则化 (L1 regularization)", "np"),
    (
      "weight_decay",
      "θ ← (1 − ηλ)θ + Δθ_opt (decoupled, chained after the optimizer)",
      "002 权重衰减 (weight decay)",
      "optax add_decayed_weights / adamw, torch AdamW, np",
    ),
    (
      "max_norm",
      "w′ ← w′·min(1, k/‖w′‖₂) after the update (projection onto ‖w‖ ≤ k)",
      "002 显式约束正则化 (explicit constraint)",
      "np (projected gradient descent)",
    ),
    (
      "freeze",
      "Δθ_l = 0 for frozen leaves, inner(g)_l otherwise",
      "003 §10 (transfer learning)",
      "optax freeze",
    ),
    (
      "skip_nonfinite",
      "(Δθ, s) = inner(g, s) if g is all finite else (0, s)",
      BEYOND,
      "optax apply_if_finite",
    ),
  ],
)

_REGULARIZATION = _rows(
  "regularization",
  "jpatterns.regularization",
  [
    (
      "l2_penalty",
      "Ω(w) = λ/2 Σ w², ∇Ω = λw",
      "002 正则化 L2正则化 (L2 regularization)",
      "np, ad, optax add_decayed_weights",
    ),
    (
      "l1_penalty",
      "Ω(w) = λ Σ |w|, ∇Ω = λ·sgn(w), sgn(0) = 0",
      "002 正则化 L1正则化 (L1 regularization)",
      "np, ad",
    ),
    (
      "label_smoothing",
      "ỹ = (1 − Kε/(K − 1))·y + ε/(K − 1): 1 − ε on the true class, ε/(K − 1) elsewhere",
      "002 (label smoothing)",
      "optax smooth_labels with α = εK/(K − 1), np",
    ),
  ],
)

_LOSSES = _rows(
  "losses",
  "jpatterns.losses",
  [
    (
      "softmax_cross_entropy",
      "ℓ = −Σ_k ỹ_k log softmax(z)_k (ỹ: one-hot, soft or 002-smoothed)",
      "000; 002 标签平滑 (label smoothing)",
      "optax softmax_cross_entropy(_with_integer_labels), torch cross_entropy",
    ),
    (
      "sigmoid_binary_cross_entropy",
      "ℓ = −y log σ(z) − (1 − y) log(1 − σ(z)) = softplus(z) − yz",
      "000 交叉熵 (cross-entropy)",
      "optax, torch binary_cross_entropy_with_logits",
    ),
    (
      "dice_loss",
      "D_c = (2Σ_i p_ic t_ic + s)/(Σ_i p_ic + Σ_i t_ic + s); ℓ = 1 − mean_c D_c",
      "000 Dice系数 (Dice coefficient)",
      "optax dice_loss, np",
    ),
    (
      "mean_squared_error",
      "ℓ = (ŷ − y)²",
      "000 Loss Function Patterns",
      "optax l2_loss ×2, torch mse_loss",
    ),
    (
      "huber",
      "ℓ = ½e² if |e| ≤ δ else δ(|e| − ½δ), e = ŷ − y",
      "000 Loss Function Patterns",
      "optax huber_loss, torch huber_loss",
    ),
    (
      "focal_loss",
      "ℓ = −α_t(1 − p_t)^γ log p_t, p_t = yσ(z) + (1 − y)(1 − σ(z))",
      "000 Loss Function Patterns",
      "optax sigmoid_focal_loss",
    ),
    (
      "gan_discriminator_loss",
      "ℓ_D = −y log D(x) − (1 − y) log(1 − D(x)) − log(1 − D(G(z))), D = σ(logit); y = 0.9: "
      "one-sided smoothing",
      "000 GANs",
      "optax sigmoid_binary_cross_entropy, torch BCEWithLogitsLoss; examples/gan_digits.py",
    ),
    (
      "gan_generator_loss",
      "ℓ_G = −log D(G(z)) (non-saturating) or log(1 − D(G(z)))",
      "000 GANs",
      "optax sigmoid_binary_cross_entropy, torch BCEWithLogitsLoss; examples/gan_digits.py",
    ),
  ],
)

_AUGMENTATION = _rows(
  "augmentation",
  "jpatterns.augment",
  [
    ("flip_left_right", "y[i, j, c] = x[i, W − 1 − j, c]", "002 翻转 (flip)", "torch flip, np"),
    ("flip_up_down", "y[i, j, c] = x[H − 1 − i, j, c]", "002 翻转 (flip)", "torch flip, np"),
    (
      "random_flip_left_right",
      "y = flip(x) if b else x, b ~ Bernoulli(p)",
      "002 翻转 (flip)",
      "np, flip frequency",
    ),
    (
      "random_flip_up_down",
      "y = flip(x) if b else x, b ~ Bernoulli(p)",
      "002 翻转 (flip)",
      "np, flip frequency",
    ),
    (
      "random_crop",
      "y = pad(x)[r:r+h, s:s+w], r, s uniform over the valid offsets",
      "000 裁剪 (crop)",
      "np padded window, offset statistics",
    ),
    (
      "rotate",
      "y(o) = x(R(θ)(o − c) + c), c = ((H − 1)/2, (W − 1)/2)",
      "002 旋转 (rotation)",
      "scipy.ndimage affine_transform / rotate, torch grid_sample",
    ),
    (
      "random_rotate",
      "θ ~ U[−θ_max, θ_max], y = rotate(x, θ)",
      "002 旋转 (rotation)",
      "angle statistics",
    ),
    (
      "zoom",
      "y(o) = x(c + (o − c)/s) (the catalogue's scale)",
      "002 缩放 (scaling)",
      "scipy.ndimage affine_transform",
    ),
    (
      "random_zoom",
      "s ~ U[s_min, s_max], y = zoom(x, s) (the catalogue's random scale)",
      "002 缩放 (scaling)",
      "factor statistics",
    ),
    (
      "translate",
      "y[i, j] = x(i − d_y, j − d_x)",
      "002 平移 (translation)",
      "np roll, scipy.ndimage shift",
    ),
    (
      "random_translate",
      "d_y ~ U{−m_y..m_y}, d_x ~ U{−m_x..m_x}, y = translate(x, (d_y, d_x))",
      "002 平移 (translation)",
      "shift statistics",
    ),
    ("gaussian_noise", "y = x + σε, ε ~ N(0, 1)", "002 加噪声 (noise)", "statistics"),
    (
      "cutout",
      "y = fill inside an h×w patch at a uniform random centre, x elsewhere",
      BEYOND,
      "np, masking-probability statistics",
    ),
    (
      "mixup",
      "x̃_i = λx_i + (1 − λ)x_π(i), ỹ_i likewise, λ ~ Beta(α, α)",
      BEYOND,
      "np, Beta statistics",
    ),
  ],
)

_PREPROCESSING = _rows(
  "preprocessing",
  "jpatterns.preprocessing",
  [
    (
      "fit_min_max",
      "x̂ = a + (x − min x)(b − a)/(max x − min x)",
      "002 数据预处理 (min-max scaling, 缩放归一化)",
      "sklearn MinMaxScaler",
    ),
    (
      "min_max_scale",
      "x̂ = x·s + o with s, o from fit_min_max",
      "002 数据预处理 (min-max scaling, 缩放归一化)",
      "sklearn MinMaxScaler",
    ),
    (
      "fit_standardization",
      "x̂ = (x − μ)/√(σ² + ε)",
      "002 数据预处理 (standardization, 标准归一化)",
      "sklearn StandardScaler, np",
    ),
    (
      "standardize",
      "x̂ = (x − μ)/σ with μ, σ from fit_standardization",
      "002 数据预处理 (standardization, 标准归一化)",
      "sklearn StandardScaler, np",
    ),
    (
      "fit_whitening",
      "C = X_cᵀX_c/(n − 1) = UΛUᵀ; W_PCA = U(Λ + ε)^(−½), W_ZCA = U(Λ + ε)^(−½)Uᵀ",
      "002 数据预处理 (whitening, 白化)",
      "sklearn PCA(whiten=True) up to sign, np ZCA, covariance ≈ I",
    ),
    (
      "whiten",
      "x̂ = (x − μ)W with μ, W from fit_whitening",
      "002 数据预处理 (whitening, 白化)",
      "sklearn PCA(whiten=True), np",
    ),
  ],
)

_LAYERS = _rows(
  "layers",
  "jpatterns.layers",
  [
    (
      "max_pool",
      "y_{n,i,c} = max_{k in window} x_{n, s·i + k, c}",
      "003 §5 (pooling)",
      "flax max_pool, torch max_pool, np",
    ),
    (
      "avg_pool",
      "y_{n,i,c} = mean_{k in window} x_{n, s·i + k, c}",
      "003 §5 (pooling)",
      "flax avg_pool, torch avg_pool",
    ),
    (
      "residual",
      "y = f(x) + x (f(x) + xW_s when shapes differ), ∂y/∂x = ∂f/∂x + I",
      "001 残差连接; 000 Skip Connections",
      "ad (Jacobian), np",
    ),
    (
      "multi_head_attention",
      "head_h = softmax(Q_h K_hᵀ/√d_k) V_h; MHA = [head_1, …, head_H] W_o + b_o",
      "000 Multi-Head Attention",
      "flax MultiHeadDotProductAttention, jax.nn.dot_product_attention, torch MultiheadAttention",
    ),
    (
      "lstm_cell",
      "[i, f, g, o] = xW_i + hW_h + b; c′ = σ(f)⊙c + σ(i)⊙tanh(g); h′ = σ(o)⊙tanh(c′)",
      "003 §7 (LSTM)",
      "torch LSTMCell / LSTM, flax LSTMCell",
    ),
    (
      "transformer_block",
      "h = x + MHA(LN₁(x)); y = h + W₂ φ(W₁ LN₂(h) + b₁) + b₂ (pre-LN)",
      "000 Multi-Head Attention; 000 Skip Connections; 004 §2 (LN for transformers)",
      "flax LayerNorm + MultiHeadDotProductAttention + Dense; the train model vs a "
      "hand-written flax nnx transformer (copied weights)",
    ),
    (
      "cbow",
      "h = (1/|C|) Σ_{j∈C} E_{w_j}; the centre word c scored by u_c·h",
      "003 §9 (Continuous Bag Of Words)",
      "one-hot counts times E; the example's negative-sampling loss and gradient vs np",
    ),
  ],
)

_TOOLS = _rows(
  "tools",
  "jpatterns.gradcheck",
  [
    (
      "check_grads",
      "g_i = (f(θ + h e_i) − f(θ − h e_i))/2h; worst |g_i − ∂f/∂θ_i| / "
      "max(|g_i|, |∂f/∂θ_i|, floor)",
      "003 §1 (gradient check)",
      "ad, jax.test_util.check_grads, np central difference",
    ),
  ],
)

# Every public pattern, grouped by family in the order of FAMILIES.
PATTERNS: tuple[Pattern, ...] = (
  _ACTIVATIONS
  + _INITIALIZERS
  + _NORMALIZATION
  + _DROPOUT
  + _OPTIMIZERS
  + _SCHEDULES
  + _TRANSFORMS
  + _REGULARIZATION
  + _LOSSES
  + _AUGMENTATION
  + _PREPROCESSING
  + _LAYERS
  + _TOOLS
)
