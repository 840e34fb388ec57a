"""The built-in claims: the seed documents' statements as experiments (data, not code).

Each entry is the dict a JSON/TOML claim file would hold (:func:`jpatterns.study.load_claims`);
``text_zh`` quotes the seed document. Every setting was fixed before the claim was run
and none was changed after seeing its verdict; where a claim needs a precondition (a
deep network, a small training set, a deliberately large learning rate) the setting
says so in ``text_en``. The rule's ``min_effect`` is in the metric's units: 0.02 of
accuracy, 0.05 nats of train loss, 0.3 decades (a factor 2) for log10 ratios.

Shared settings: digits (8×8 images, 1438 training / 359 test examples), batch 64, 3
seeds. Sigmoid and tanh networks start from Glorot (their usual initialization), ReLU
and its variants from He.
"""

from __future__ import annotations

__all__ = ["BUILTIN_CLAIMS"]

_DEEP = {"model": "mlp", "depth": 10, "width": 64, "optimizer": "momentum", "epochs": 10}
_ACTIVATION_ARMS = {
  "relu": {"activation": "relu", "initializer": "he_normal"},
  "leaky_relu": {"activation": "leaky_relu", "initializer": "he_normal"},
  "elu": {"activation": "elu", "initializer": "he_normal"},
  "sigmoid": {"activation": "sigmoid", "initializer": "glorot_normal"},
  "tanh": {"activation": "tanh", "initializer": "glorot_normal"},
}
_NONSAT_PAIRS = [[a, b] for a in ("relu", "leaky_relu", "elu") for b in ("sigmoid", "tanh")]
_Q004_4 = (
  "sigmoid 和 tanh 是 饱和激活函数，而 ReLU 及其变体则是 非饱和激活函数。使用 非饱和激活函数 "
  "的优势在于两点：非饱和激活函数 能解决所谓的 梯度消失 问题；非饱和激活函数 能加快收敛速度"
)
_VERY_DEEP = {
  "model": "mlp",
  "depth": 30,
  "width": 64,
  "activation": "relu",
  "initializer": "he_normal",
  "optimizer": "momentum",
  "epochs": 10,
}
_NORM_ARMS = {
  "none": {"norm": "none"},
  "batch_norm": {"norm": "batch_norm"},
  "layer_norm": {"norm": "layer_norm"},
}
_RESIDUAL = {
  "depth": 20,
  "width": 64,
  "activation": "sigmoid",
  "initializer": "glorot_normal",
  "optimizer": "momentum",
  "epochs": 10,
}
_Q001_RES = (
  "如果我们用 sigmoid 激活，层数很大时，梯度累乘可能导致梯度消失影响训练效率……但是一旦把输出改成 "
  "$f(x)+x$……就算f(x)的梯度很小，这个偏导也是接近 1 的，从而避免了梯度消失问题。"
)
_Q_INIT = (
  "有很多方法可以在基本模型的基础上进行调整改进，比如 $Glorot$ 和 $He$ 权重初始化 (001)；"
  "Gaussian分布初始化：$\\mathcal{N}\\left(0, \\sqrt{\\frac{2}{n_{in}+n_{out}}}\\right)$ "
  "(002 参数初始化)"
)
_REG = {"width": 128, "optimizer": "sgd", "learning_rate": 0.1, "epochs": 20}
_REG_ARMS = {"none": {}, "l1": {"l1": 1e-3}, "l2": {"l2": 1e-3}}

BUILTIN_CLAIMS = [
  {
    "name": "nonsaturating-converge",
    "section": "004 §4",
    "text_zh": _Q004_4,
    "text_en": "In a deep MLP (10 hidden layers of 64, SGD with momentum), ReLU, leaky ReLU "
    "and ELU converge faster than sigmoid and tanh: a lower train loss averaged over "
    "the 10 epochs (the area under the curve).",
    "base": _DEEP,
    "arms": _ACTIVATION_ARMS,
    "metric": {"kind": "mean_over_epochs", "of": "train_loss"},
    "rule": {"pairs": _NONSAT_PAIRS, "direction": "lower", "min_effect": 0.05},
    "caveat": "Ten layers of 64 units on 8×8 digits; the documents' setting is deeper "
    "nets on large images, where saturation compounds over more layers.",
  },
  {
    "name": "nonsaturating-gradients",
    "section": "004 §4",
    "text_zh": _Q004_4,
    "text_en": "Saturating activations make the gradient vanish towards the input: at "
    "initialization, log10(‖g‖ first hidden layer / ‖g‖ head) is higher for ReLU, "
    "leaky ReLU and ELU than for sigmoid and tanh (same 10-layer MLP).",
    "base": _DEEP,
    "arms": _ACTIVATION_ARMS,
    "metric": {"kind": "grad_norm_ratio", "epoch": 0},
    "rule": {"pairs": _NONSAT_PAIRS, "direction": "higher", "min_effect": 0.3},
    "caveat": "Measured at initialization on one probe batch. tanh is nearly linear "
    "around 0 and Glorot initialization keeps its pre-activations there, so at 10 "
    "layers its gradient need not vanish; sigmoid's derivative is at most 1/4.",
  },
  {
    "name": "elu-mean-zero",
    "section": "004 §4",
    "text_zh": "ELU 的输出均值接近于零，所以收敛速度更快",
    "text_en": "ELU's hidden activations have a mean closer to zero than ReLU's and "
    "leaky ReLU's: the mean over hidden layers of |mean activation|, averaged over "
    "training, is lower (same 10-layer MLP).",
    "base": _DEEP,
    "arms": {k: _ACTIVATION_ARMS[k] for k in ("relu", "leaky_relu", "elu")},
    "metric": {"kind": "act_mean_abs", "epoch": "mean"},
    "rule": {
      "pairs": [["elu", "relu"], ["elu", "leaky_relu"]],
      "direction": "lower",
      "min_effect": 0.05,
    },
    "caveat": "Only the mean-activation half of the sentence is tested here; whether it "
    "makes ELU converge faster is in nonsaturating-converge's table (the elu row). "
    "The mean is over training: a run that diverges has no mean activation (NaN), "
    "which leaves the test inconclusive.",
  },
  {
    "name": "deep-relu-needs-bn",
    "section": "004 §4 / 002 逐层归一化",
    "text_zh": "在 ImageNet 上，不加 Batch Normalization 30 层以上的 ReLU 网络会无法收敛 (004 §4)；"
    "越深的层，其输入的分布会改变得越明显 (002 逐层归一化)",
    "text_en": "A 30-layer ReLU MLP (width 64, He initialization, SGD with momentum) "
    "trains badly without normalization: batch norm ends with a higher test accuracy.",
    "base": _VERY_DEEP,
    "arms": _NORM_ARMS,
    "metric": {"kind": "final", "of": "test_accuracy"},
    "rule": {"pairs": [["batch_norm", "none"]], "direction": "higher", "min_effect": 0.02},
    "caveat": "The documents speak of ImageNet-scale ReLU convnets; a 64-wide MLP on 8×8 "
    "digits with He initialization is a far easier problem.",
  },
  {
    "name": "norm-keeps-gradients",
    "section": "004 §2.3",
    "text_zh": "BN 和 LN 都可以比较好的抑制梯度消失和梯度爆炸的情况",
    "text_en": "In the 30-layer ReLU MLP, batch norm and layer norm keep the per-layer "
    "gradient norms within a narrower range than no normalization: the spread "
    "max − min of log10 ‖g‖ over layers, averaged over training, is lower.",
    "base": _VERY_DEEP,
    "arms": _NORM_ARMS,
    "metric": {"kind": "grad_norm_spread", "epoch": "mean"},
    "rule": {
      "pairs": [["batch_norm", "none"], ["layer_norm", "none"]],
      "direction": "lower",
      "min_effect": 0.3,
    },
    "caveat": "He initialization already keeps a plain ReLU MLP's gradients in range at "
    "initialization; the spread includes the head and the first layer, whose norms "
    "differ by construction.",
  },
  {
    "name": "ln-for-rnn",
    "section": "004 §2.3",
    "text_zh": "BN 适合于 CV 中的 CNN 等网络，不适合 batchsize 较小的情况；而 LN 适合用于 NLP 中的 "
    "RNN、transformer 等网络，因为 sequence 的长度可能是不一致的",
    "text_en": "In an LSTM whose hidden state is normalized at every step (the sequence "
    "task: which of two marked values is larger, 16 steps), layer norm ends with a "
    "higher test accuracy than batch norm.",
    "base": {"model": "lstm", "width": 32, "optimizer": "adam", "epochs": 10},
    "data": {"dataset": "sequence"},
    "arms": _NORM_ARMS,
    "metric": {"kind": "final", "of": "test_accuracy"},
    "rule": {"pairs": [["layer_norm", "batch_norm"]], "direction": "higher", "min_effect": 0.02},
    "caveat": "Every sequence here has the same length, so the documents' reason "
    "(variable lengths) is not exercised; batch norm's statistics are shared by the "
    "16 steps.",
  },
  {
    "name": "bn-small-batch",
    "section": "004 §2.1",
    "text_zh": "BN 是按照样本数计算归一化统计量的，当样本数很少时，效果通常不理想",
    "text_en": "With minibatches of 4 examples, batch norm does worse than layer norm "
    "(3-layer MLP, Adam, 3 epochs): lower final test accuracy.",
    "base": {"depth": 3, "width": 64, "optimizer": "adam", "epochs": 3, "batch_size": 4},
    "arms": {"layer_norm": {"norm": "layer_norm"}, "batch_norm": {"norm": "batch_norm"}},
    "metric": {"kind": "final", "of": "test_accuracy"},
    "rule": {"pairs": [["layer_norm", "batch_norm"]], "direction": "higher", "min_effect": 0.02},
    "caveat": "Digits is an easy problem: a small effect on accuracy may hide a larger "
    "one on harder data.",
  },
  {
    "name": "residual-gradients",
    "section": "001 残差连接",
    "text_zh": _Q001_RES,
    "text_en": "In a 20-layer sigmoid MLP, skip connections h + f(h) keep the gradient "
    "alive: at initialization log10(‖g‖ first hidden layer / ‖g‖ head) is higher "
    "with them (resmlp) than without (mlp).",
    "base": _RESIDUAL,
    "arms": {"resmlp": {"model": "resmlp"}, "mlp": {"model": "mlp"}},
    "metric": {"kind": "grad_norm_ratio", "epoch": 0},
    "rule": {"pairs": [["resmlp", "mlp"]], "direction": "higher", "min_effect": 0.3},
    "caveat": "Measured at initialization; the residual units have no normalization, so "
    "the activations grow along the skip path (sigmoid outputs are positive).",
  },
  {
    "name": "residual-trains",
    "section": "001 残差连接",
    "text_zh": _Q001_RES,
    "text_en": "The same 20-layer sigmoid MLP trains better with skip connections: higher "
    "final test accuracy after 10 epochs.",
    "base": _RESIDUAL,
    "arms": {"resmlp": {"model": "resmlp"}, "mlp": {"model": "mlp"}},
    "metric": {"kind": "final", "of": "test_accuracy"},
    "rule": {"pairs": [["resmlp", "mlp"]], "direction": "higher", "min_effect": 0.02},
    "caveat": "Sigmoid is the documents' example of vanishing gradients; with ReLU and "
    "He initialization a 20-layer plain MLP may train without skips.",
  },
  {
    "name": "he-for-relu",
    "section": "001 / 002 参数初始化",
    "text_zh": _Q_INIT,
    "text_en": "For ReLU, He initialization keeps the activation scale through 20 layers "
    "and Glorot does not: at initialization |log10(std last hidden / std first "
    "hidden)| is lower with He.",
    "base": {"depth": 20, "width": 64, "activation": "relu", "epochs": 1},
    "arms": {
      "he_normal": {"initializer": "he_normal"},
      "glorot_normal": {"initializer": "glorot_normal"},
    },
    "metric": {"kind": "act_std_ratio", "epoch": 0, "abs": True},
    "rule": {"pairs": [["he_normal", "glorot_normal"]], "direction": "lower", "min_effect": 0.3},
    "caveat": "An initialization-time property on one probe batch of digits.",
  },
  {
    "name": "glorot-for-tanh",
    "section": "001 / 002 参数初始化",
    "text_zh": _Q_INIT,
    "text_en": "For tanh, Glorot initialization keeps the activation scale through 20 "
    "layers better than He: at initialization |log10(std last hidden / std first "
    "hidden)| is lower with Glorot.",
    "base": {"depth": 20, "width": 64, "activation": "tanh", "epochs": 1},
    "arms": {
      "glorot_normal": {"initializer": "glorot_normal"},
      "he_normal": {"initializer": "he_normal"},
    },
    "metric": {"kind": "act_std_ratio", "epoch": 0, "abs": True},
    "rule": {"pairs": [["glorot_normal", "he_normal"]], "direction": "lower", "min_effect": 0.3},
    "caveat": "tanh saturates, so He's larger weights cannot blow the activations up "
    "(|tanh| < 1); Glorot's variance 1/n is a gain of 1, slightly below what keeps a "
    "tanh network's scale, so its activations shrink slowly with depth.",
  },
  {
    "name": "adagrad-lr-decays",
    "section": "002 AdaGrad",
    "text_zh": "AdaGrad算法的思想是：参数空间每个方向的学习率反比于某个值的平方根。"
    "这个值就是该方向上"
    "梯度分量的所有历史平方值之和。……AdaDelta 将梯度平方和的累计策略修改为：只考虑过去窗口"
    "$window$内的梯度。",
    "text_en": "AdaGrad's effective learning rate ‖update‖/‖gradient‖ decays over 20 "
    "epochs, since it divides by the sum of all past squared gradients; RMSProp's "
    "(a moving window) does not: log10(lr_eff final / lr_eff at init) is lower for "
    "AdaGrad.",
    "base": {"width": 64, "epochs": 20},
    "arms": {"adagrad": {"optimizer": "adagrad"}, "rmsprop": {"optimizer": "rmsprop"}},
    "metric": {"kind": "effective_lr_ratio", "from": 0, "to": -1},
    "rule": {"pairs": [["adagrad", "rmsprop"]], "direction": "lower", "min_effect": 0.3},
    "caveat": "The decay is what the formula implies; whether it hurts depends on the "
    "training length (here the loss keeps falling).",
  },
  {
    "name": "momentum-faster",
    "section": "002 动量方法",
    "text_zh": "Nesterov动量是动量方法的变种。区别在于：计算mini-batch的梯度时，采用更新后的参数"
    "$\\vec{\\theta}+\\alpha \\overrightarrow{\\mathbf{v}}$。",
    "text_en": "At the same learning rate (0.01), momentum and Nesterov momentum reach a "
    "low train loss sooner than plain SGD: lower train loss averaged over 10 epochs.",
    "base": {"width": 64, "learning_rate": 0.01, "epochs": 10},
    "arms": {
      "momentum": {"optimizer": "momentum"},
      "nesterov": {"optimizer": "nesterov"},
      "sgd": {"optimizer": "sgd"},
    },
    "metric": {"kind": "mean_over_epochs", "of": "train_loss"},
    "rule": {
      "pairs": [["momentum", "sgd"], ["nesterov", "sgd"]],
      "direction": "lower",
      "min_effect": 0.05,
    },
    "caveat": "With β = 0.9 momentum's steady step is 10× the learning rate, so at one "
    "learning rate the comparison mixes acceleration with a larger step.",
  },
  {
    "name": "sgd-needs-decay",
    "section": "002 学习率衰减 / 随机梯度下降",
    "text_zh": "标准的梯度下降可以使用固定的学习率，而SGD必须使用逐渐降低的学习率。",
    "text_en": "SGD on small minibatches (16) at learning rate 0.1 ends at a lower train "
    "loss with an exponential (0.9 per epoch) or inverse-time (0.5) decay than at a "
    "constant rate, 20 epochs.",
    "base": {"width": 64, "optimizer": "sgd", "learning_rate": 0.1, "batch_size": 16, "epochs": 20},
    "arms": {
      "exponential_decay": {"schedule": "exponential_decay"},
      "inverse_time_decay": {"schedule": "inverse_time_decay"},
      "constant": {"schedule": "constant"},
    },
    "metric": {"kind": "final", "of": "train_loss"},
    "rule": {
      "pairs": [["exponential_decay", "constant"], ["inverse_time_decay", "constant"]],
      "direction": "lower",
      "min_effect": 0.01,
    },
    "caveat": "A decayed rate also takes smaller steps overall; on a small, easy problem "
    "the constant rate may reach a lower loss first and the noise floor may not bind.",
  },
  {
    "name": "l1-sparsity",
    "section": "004 §3.1 / 002 L1正则化",
    "text_zh": "L1 正则化可以使得参数稀疏化，即得到的参数是一个稀疏矩阵 (004 §3.1)；"
    "它的效果就是让往0靠，使网络中的权重尽可能为0 (002)",
    "text_en": "L1 drives weights to zero: after 20 epochs of SGD (λ = 1e-3 for both "
    "penalties) the share of kernel entries with |w| < 1e-3 is higher with L1 than "
    "with L2 or none.",
    "base": _REG,
    "arms": _REG_ARMS,
    "metric": {"kind": "sparsity", "epoch": -1},
    "rule": {"pairs": [["l1", "l2"], ["l1", "none"]], "direction": "higher", "min_effect": 0.05},
    "caveat": "With a subgradient step w is not set to exactly 0: it oscillates around 0 "
    "with amplitude about lr·λ = 1e-4, which the 1e-3 threshold counts as zero.",
  },
  {
    "name": "l2-shrinks",
    "section": "004 §3.2 / 002 L2正则化",
    "text_zh": "L2 中模型参数 W 中每个元素都很小，接近于 0，一般不会等于 0 (004 §3.2)；"
    "它的效果是减小$\\omega$，这也就是权重衰减的由来 (002)",
    "text_en": "L2 makes the weights small: the L2 norm of all kernel entries after 20 "
    "epochs is lower with L2 (λ = 1e-3) than without.",
    "base": _REG,
    "arms": {k: _REG_ARMS[k] for k in ("l2", "none")},
    "metric": {"kind": "weight_norm", "epoch": -1},
    "rule": {"pairs": [["l2", "none"]], "direction": "lower", "min_effect": 0.1},
    "caveat": "The 'not exactly zero' half is l1-sparsity's l1 > l2 test and the weight "
    "histogram; λ = 1e-3 over 20 epochs is mild.",
  },
  {
    "name": "dropout-gap",
    "section": "004 §1",
    "text_zh": "在大小 > 256 的全连接层之后就应该始终使用 dropout 将过拟合的几率最小化",
    "text_en": "After dense layers of 512 units, dropout (rate 0.5) narrows the "
    "train–test accuracy gap when training on 300 examples (2-layer MLP, Adam, 30 "
    "epochs; train accuracy in eval mode on a probe batch).",
    "base": {"depth": 2, "width": 512, "optimizer": "adam", "epochs": 30},
    "data": {"train_examples": 300},
    "arms": {"dropout": {"dropout": "dropout", "dropout_rate": 0.5}, "none": {"dropout": "none"}},
    "metric": {"kind": "gap", "epoch": -1},
    "rule": {"pairs": [["dropout", "none"]], "direction": "lower", "min_effect": 0.02},
    "caveat": "300 digits and a 2-layer MLP; both arms may fit the training set "
    "perfectly, so the gap mostly follows test accuracy.",
  },
  {
    "name": "clip-cliff",
    "section": "002 梯度截断 / 悬崖",
    "text_zh": "在RNN网络的代价函数中悬崖结构很常见……解决悬崖问题的方案：使用梯度截断策略。"
    "……当常规的梯度下降算法建议更新一大步时，梯度截断会干涉并缩减步长",
    "text_en": "An LSTM trained by SGD at a deliberately large learning rate (2.0) on the "
    "sequence task ends with a higher test accuracy when the gradient's global norm "
    "is clipped to 1.",
    "base": {"model": "lstm", "width": 32, "optimizer": "sgd", "learning_rate": 2.0, "epochs": 10},
    "data": {"dataset": "sequence"},
    "arms": {"clip": {"clip": "clip_by_global_norm", "clip_value": 1.0}, "none": {"clip": "none"}},
    "metric": {"kind": "final", "of": "test_accuracy"},
    "rule": {"pairs": [["clip", "none"]], "direction": "higher", "min_effect": 0.02},
    "caveat": "One learning rate, fixed in advance. Clipping can only help where the "
    "unclipped run meets a cliff: if neither arm diverges (or both stall at chance) "
    "the test says nothing about clipping. A diverged run's parameters are NaN and it "
    "predicts one class, about chance (0.5) here.",
  },
  {
    "name": "standardize-speeds",
    "section": "002 数据预处理",
    "text_zh": "如果我们把数据归一化为取值范围相同，大部分位置的梯度方向近似于最优搜索方向。这样，"
    "在梯度下降求解时，每一步梯度的方向都基本指向最小值，训练效率会大大提高。",
    "text_en": "Standardized (and ZCA-whitened) inputs make SGD (lr 0.05) converge faster "
    "than raw pixels in [0, 1]: lower train loss averaged over 10 epochs.",
    "base": {"width": 64, "optimizer": "sgd", "learning_rate": 0.05, "epochs": 10},
    "arms": {
      "standardize": {"preprocess": "standardize"},
      "zca_whiten": {"preprocess": "zca_whiten"},
      "none": {"preprocess": "none"},
    },
    "metric": {"kind": "mean_over_epochs", "of": "train_loss"},
    "rule": {
      "pairs": [["standardize", "none"], ["zca_whiten", "none"]],
      "direction": "lower",
      "min_effect": 0.05,
    },
    "caveat": "The digits' pixels already share one range, [0, 1]: the documents' case "
    "of features on very different scales is milder here.",
  },
  {
    "name": "augment-gap",
    "section": "002 数据增强",
    "text_zh": "在数据量有限的情况下，可以通过数据增强来增加数据量，提高模型鲁棒性，避免过拟合。"
    "……增强的方法主要有几种：旋转、翻转、缩放、平移、加噪声。",
    "text_en": "On 300 training digits, random rotations (±15°) and translations (±1 "
    "pixel) narrow the train–test accuracy gap (2-layer MLP of 256, Adam, 30 epochs).",
    "base": {"depth": 2, "width": 256, "optimizer": "adam", "epochs": 30},
    "data": {"train_examples": 300},
    "arms": {
      "augment": {"augment": ["random_rotate", "random_translate"]},
      "none": {"augment": []},
    },
    "metric": {"kind": "gap", "epoch": -1},
    "rule": {"pairs": [["augment", "none"]], "direction": "lower", "min_effect": 0.02},
    "caveat": "8×8 digits: a one-pixel shift is an eighth of the image; flips are left "
    "out since they change a digit's class.",
  },
]
