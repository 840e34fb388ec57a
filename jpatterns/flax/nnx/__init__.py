"""``flax.nnx`` modules over the jpatterns pure functions (issue 4 item 6).

Thin wrappers: each module owns its parameters (``nnx.Param``), running statistics
(``nnx.BatchStat``) and PRNG stream, and calls one pure function of
:mod:`jpatterns.normalization`, :mod:`jpatterns.stochastic`, :mod:`jpatterns.activations`
or :mod:`jpatterns.layers` — the maths lives there, once.

Flags follow Flax. Stochastic modules carry ``deterministic``; modules with running
statistics carry ``use_running_average`` (``SpectralNormDense`` too, Flax's trick for
its ``update_stats``). ``model.train()`` / ``model.eval()`` / ``nnx.view`` set them
recursively; a flag passed to ``__call__`` wins over the attribute. Keys follow Flax's
``nnx.Dropout``: a module forks ``rngs[rng_collection]`` (``"dropout"`` by default,
falling back to ``rngs``' default stream) at construction and draws one key per call;
``__call__(..., rngs=)`` takes a key, an ``nnx.RngStream`` or ``nnx.Rngs`` instead.
With the same ``nnx.Rngs`` seed, :class:`Dropout` draws exactly the masks of
``flax.nnx.Dropout`` (tested).

Departures from Flax, by house convention (STYLE.md): the feature axis of
:class:`BatchNorm` is ``feature_axis`` (Flax's ``axis``), since ``axis`` means reduced
axes everywhere in jpatterns; ``eps`` defaults are the pure functions' (1e-5;
RMSNorm 1e-6), where Flax's LayerNorm / GroupNorm use 1e-6; there is no ``dtype=``
computation-dtype option: outputs keep the input dtype, reductions run in ≥ float32.
``WeightNormDense`` and ``SpectralNormDense`` are dense layers with a reparametrized
kernel, not generic layer wrappers (Flax's nnx wrappers overwrite the wrapped kernel
in place at every call).

Layout: one module per family — :mod:`~jpatterns.flax.nnx.normalization`,
:mod:`~jpatterns.flax.nnx.normalized_dense`, :mod:`~jpatterns.flax.nnx.stochastic`,
:mod:`~jpatterns.flax.nnx.activations`, :mod:`~jpatterns.flax.nnx.layers` — over the
flag/key plumbing of ``_base``; every class is re-exported here.
"""

from __future__ import annotations

from jpatterns.flax.nnx.activations import PReLU as PReLU
from jpatterns.flax.nnx.activations import RReLU as RReLU
from jpatterns.flax.nnx.layers import LSTMCell as LSTMCell
from jpatterns.flax.nnx.layers import MultiHeadAttention as MultiHeadAttention
from jpatterns.flax.nnx.layers import Residual as Residual
from jpatterns.flax.nnx.normalization import BatchNorm as BatchNorm
from jpatterns.flax.nnx.normalization import GroupNorm as GroupNorm
from jpatterns.flax.nnx.normalization import InstanceNorm as InstanceNorm
from jpatterns.flax.nnx.normalization import LayerNorm as LayerNorm
from jpatterns.flax.nnx.normalization import LocalResponseNorm as LocalResponseNorm
from jpatterns.flax.nnx.normalization import RMSNorm as RMSNorm
from jpatterns.flax.nnx.normalized_dense import SpectralNormDense as SpectralNormDense
from jpatterns.flax.nnx.normalized_dense import WeightNormDense as WeightNormDense
from jpatterns.flax.nnx.stochastic import AlphaDropout as AlphaDropout
from jpatterns.flax.nnx.stochastic import DropConnectDense as DropConnectDense
from jpatterns.flax.nnx.stochastic import Dropout as Dropout
from jpatterns.flax.nnx.stochastic import DropPath as DropPath
from jpatterns.flax.nnx.stochastic import GaussianDropout as GaussianDropout
from jpatterns.flax.nnx.stochastic import SpatialDropout as SpatialDropout
from jpatterns.flax.nnx.stochastic import Standout as Standout

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
