"""``flax.linen`` modules over the jpatterns pure functions (issue 4 item 6).

The twins of :mod:`jpatterns.flax.nnx`, same class names, same parameter and
statistic names (``scale``, ``bias``, ``mean``, ``var``, ``kernel``, ``u``, …), so
variables copy across both ways and both APIs give the same numbers (tested). Every
formula lives in the pure functions (:mod:`jpatterns.normalization`,
:mod:`jpatterns.stochastic`, :mod:`jpatterns.activations`, :mod:`jpatterns.layers`); a
module only declares its variables and calls one of them.

Flax conventions: shapes are inferred from the first input; ``deterministic`` /
``use_running_average`` / ``update_stats`` are attributes or call arguments merged with
``nn.merge_param`` (give exactly one); running statistics and the spectral-norm vector
live in the ``"batch_stats"`` collection (``apply(..., mutable=["batch_stats"])``) and
are not updated during ``init``; random modules draw ``self.make_rng("dropout")`` (same
masks as ``flax.linen.Dropout`` for the same ``rngs``; tested).

House departures from Flax, as in the nnx module: ``feature_axis`` for BatchNorm's
feature axis (Flax's ``axis``), the pure functions' ``eps`` defaults, the output
keeps the input dtype, and ``WeightNormDense`` / ``SpectralNormDense`` are dense layers
rather than generic layer wrappers.

Layout: one module per family — :mod:`~jpatterns.flax.linen.normalization`,
:mod:`~jpatterns.flax.linen.normalized_dense`, :mod:`~jpatterns.flax.linen.stochastic`,
:mod:`~jpatterns.flax.linen.activations`, :mod:`~jpatterns.flax.linen.layers` — over the
plumbing of ``_base``; every class is re-exported here.
"""

from __future__ import annotations

from jpatterns.flax.linen.activations import PReLU as PReLU
from jpatterns.flax.linen.activations import RReLU as RReLU
from jpatterns.flax.linen.layers import LSTMCell as LSTMCell
from jpatterns.flax.linen.layers import MultiHeadAttention as MultiHeadAttention
from jpatterns.flax.linen.layers import Residual as Residual
from jpatterns.flax.linen.normalization import BatchNorm as BatchNorm
from jpatterns.flax.linen.normalization import GroupNorm as GroupNorm
from jpatterns.flax.linen.normalization import InstanceNorm as InstanceNorm
from jpatterns.flax.linen.normalization import LayerNorm as LayerNorm
from jpatterns.flax.linen.normalization import LocalResponseNorm as LocalResponseNorm
from jpatterns.flax.linen.normalization import RMSNorm as RMSNorm
from jpatterns.flax.linen.normalized_dense import SpectralNormDense as SpectralNormDense
from jpatterns.flax.linen.normalized_dense import WeightNormDense as WeightNormDense
from jpatterns.flax.linen.stochastic import AlphaDropout as AlphaDropout
from jpatterns.flax.linen.stochastic import DropConnectDense as DropConnectDense
from jpatterns.flax.linen.stochastic import Dropout as Dropout
from jpatterns.flax.linen.stochastic import DropPath as DropPath
from jpatterns.flax.linen.stochastic import GaussianDropout as GaussianDropout
from jpatterns.flax.linen.stochastic import SpatialDropout as SpatialDropout
from jpatterns.flax.linen.stochastic import Standout as Standout

__all__ = [
  "BatchNorm",
  "LayerNorm",
  "GroupNorm",
  "InstanceNorm",
  "RMSNorm",
  "LocalResponseNorm",
  "WeightNormDense",
  "SpectralNormDense",
  "Dropout",
  "GaussianDropout",
  "AlphaDropout",
  "SpatialDropout",
  "DropPath",
  "DropConnectDense",
  "Standout",
  "PReLU",
  "RReLU",
  "Residual",
  "MultiHeadAttention",
  "LSTMCell",
]
