"""House conventions (STYLE.md), checked over every public function.

Walks ``__all__`` of each public module: random functions take ``key`` first, no
``rng``/``seed`` parameters, optional arguments are keyword-only, and docstrings
carry a summary, Args and Returns.
"""

import importlib
import inspect

import pytest
from helpers import PUBLIC_MODULES

MODULES = PUBLIC_MODULES


def _public_functions():
  for name in MODULES:
    module = importlib.import_module(name)
    for attr in module.__all__:
      obj = getattr(module, attr)
      if inspect.isfunction(obj):
        yield f"{name}.{attr}", obj


FUNCTIONS = dict(_public_functions())

# The upper floors: plain Python and NumPy around the functions (no PRNG key, a NumPy
# split seed, optional positional ``data`` as the issue specifies); docstrings alike.
UPPER = ["jpatterns.datasets", "jpatterns.train", "jpatterns.catalogue"]
UPPER_FUNCTIONS = {
  f"{m}.{a}": getattr(importlib.import_module(m), a)
  for m in UPPER
  for a in importlib.import_module(m).__all__
  if inspect.isfunction(getattr(importlib.import_module(m), a))
}


def test_every_module_exports_something():
  for name in MODULES + UPPER:
    module = importlib.import_module(name)
    assert module.__all__, f"{name} exports nothing"
    for attr in module.__all__:
      assert hasattr(module, attr), f"{name}.__all__ names missing {attr!r}"


def test_top_level_reexports_every_module_name():
  import jpatterns

  for name in MODULES:
    module = importlib.import_module(name)
    for attr in module.__all__:
      if f"jpatterns.{attr}" in MODULES:  # a submodule of the same name
        assert getattr(jpatterns, attr) is importlib.import_module(f"jpatterns.{attr}")
        continue
      assert getattr(jpatterns, attr, None) is getattr(module, attr) or (
        getattr(jpatterns.optim, attr, None) is getattr(module, attr)
      ), f"{name}.{attr} is not re-exported"


@pytest.mark.parametrize("qualname", sorted(FUNCTIONS))
def test_signature_conventions(qualname):
  sig = inspect.signature(FUNCTIONS[qualname])
  params = list(sig.parameters.values())
  names = [p.name for p in params]
  for banned in ("rng", "seed", "prng", "rng_key"):
    assert banned not in names, f"{qualname}: use `key`, not `{banned}`"
  if "key" in names:
    assert names[0] == "key", f"{qualname}: `key` must be the first argument"
  for p in params:
    if p.default is not inspect.Parameter.empty:
      assert p.kind is inspect.Parameter.KEYWORD_ONLY, (
        f"{qualname}: optional argument `{p.name}` must be keyword-only"
      )


@pytest.mark.parametrize("qualname", sorted(FUNCTIONS) + sorted(UPPER_FUNCTIONS))
def test_docstring_conventions(qualname):
  fn = FUNCTIONS.get(qualname) or UPPER_FUNCTIONS[qualname]
  doc = inspect.getdoc(fn)
  assert doc, f"{qualname}: no docstring"
  summary = doc.splitlines()[0]
  assert summary.strip(), f"{qualname}: empty summary line"
  if inspect.signature(fn).parameters:
    assert "Args:" in doc, f"{qualname}: docstring has no Args section"
  assert "Returns:" in doc, f"{qualname}: docstring has no Returns section"
