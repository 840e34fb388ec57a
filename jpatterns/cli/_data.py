"""Temporary: the command line's datasets now live in :mod:`jpatterns.datasets`."""

from jpatterns.cli._errors import choose_from
from jpatterns.datasets import BUILTIN as DATASETS
from jpatterns.datasets import Dataset

__all__ = ["Dataset", "DATASETS", "load"]


def load(name: str) -> Dataset:
  if name not in DATASETS:
    raise choose_from("--dataset", name, DATASETS)
  return DATASETS[name]()
