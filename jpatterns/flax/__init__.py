"""Flax modules over the jpatterns pure functions (the floor above the functions and optim).

Two sub-modules with the same classes, one per Flax API; import the one you use::

  from jpatterns.flax import nnx as jnnx      # flax.nnx modules
  from jpatterns.flax import linen as jlinen  # flax.linen modules

The modules own parameters, running statistics and PRNG streams only; every formula
lives once, in :mod:`jpatterns.normalization`, :mod:`jpatterns.stochastic`,
:mod:`jpatterns.activations` and :mod:`jpatterns.layers`. Flags and keys follow Flax:
``deterministic`` / ``use_running_average`` (so nnx ``model.train()`` /
``model.eval()`` and ``nnx.view`` work), nnx ``rngs`` streams and linen
``make_rng("dropout")``. Parameter and statistic names are Flax's (``scale``,
``bias``, ``mean``, ``var``, ``kernel``, ``negative_slope``) so variables can be
copied between a Flax module and its jpatterns twin.

Nothing is imported here eagerly: ``import jpatterns`` does not import Flax.
"""
