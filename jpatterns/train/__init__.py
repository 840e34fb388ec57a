"""The training layer: configure, train, compare and checkpoint jpatterns models.

A library, like ``flax.training``: it knows nothing of a command line, and every bad
argument is a ``ValueError`` naming the field. The ``jpatterns`` command is a thin
layer over it.

    >>> from jpatterns import datasets, train
    >>> config = train.TrainConfig(model="mlp", optimizer="adam", epochs=2, width=32)
    >>> history = train.fit(config, data=datasets.load("digits"))
    >>> sorted(history.metrics)
    ['test_accuracy', 'test_loss', 'train_accuracy', 'train_loss']

* :class:`TrainConfig`: one run, every pattern by catalogue name;
* :func:`fit`: trains it (one compiled epoch for every seed, batch sharded over
  devices, checkpoints with ``out=`` (at most one per 10 s, and the last), ``resume=``
  to continue);
* :func:`compare`: several configurations, same seeds and data;
* :class:`Model`, :data:`MODELS`, :func:`register_model`: the model registry (``mlp``,
  ``cnn``, ``resnet``, ``lstm`` and the user's own);
* :func:`save_checkpoint` / :func:`restore_checkpoint`: npz + JSON, no pickle;
* :mod:`~jpatterns.train.compile_cache`: JAX's persistent compilation cache, which
  :func:`fit` turns on with ``compile_cache=True`` (the commands do by default);
* :func:`init_distributed`: several processes (hosts) on JAX's distributed runtime;
  call it first in every process, then :func:`fit` / :func:`compare` as usual.
"""

from jpatterns.train import compile_cache as compile_cache
from jpatterns.train import distributed as distributed
from jpatterns.train.checkpoint import load_checkpoint as load_checkpoint
from jpatterns.train.checkpoint import restore_checkpoint as restore_checkpoint
from jpatterns.train.checkpoint import save_checkpoint as save_checkpoint
from jpatterns.train.config import CHOICES as CHOICES
from jpatterns.train.config import ConfigError as ConfigError
from jpatterns.train.config import TrainConfig as TrainConfig
from jpatterns.train.distributed import init_distributed as init_distributed
from jpatterns.train.engine import METRICS as METRICS
from jpatterns.train.engine import History as History
from jpatterns.train.engine import compare as compare
from jpatterns.train.engine import fit as fit
from jpatterns.train.models import MODELS as MODELS
from jpatterns.train.models import Model as Model
from jpatterns.train.models import register_model as register_model

__all__ = [
  "TrainConfig",
  "ConfigError",
  "CHOICES",
  "fit",
  "compare",
  "History",
  "METRICS",
  "Model",
  "MODELS",
  "register_model",
  "save_checkpoint",
  "restore_checkpoint",
  "load_checkpoint",
  "compile_cache",
  "distributed",
  "init_distributed",
]
