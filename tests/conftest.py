"""Test configuration: 8 host devices (for axis_name / sharding tests) and a key."""

import os

# Must be set before jax initialises its CPU backend.
os.environ["XLA_FLAGS"] = (
  os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
)
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# The commands turn JAX's persistent compilation cache on; the tests run cold and never
# write to the user's ~/.cache (tests/test_cli_compile_cache.py points it at tmp dirs).
os.environ["JPATTERNS_COMPILE_CACHE"] = "off"

import jax  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402,F401  (a hard test dependency: comparisons must not skip)

torch.set_num_threads(1)


@pytest.fixture
def key():
  return jax.random.key(0)
