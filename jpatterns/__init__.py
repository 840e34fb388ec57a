"""jpatterns: neural-network design patterns as pure, verified JAX functions."""

__version__ = "0.1.0"
