"""The seed documents' claims as reproducible experiments with a verdict (``jpatterns study``).

A :class:`Claim` is data: the documents' words, a grid of training configurations, a
metric and a rule. :func:`run_claim` trains the grid (one program for the seeds,
configurations that differ only in hyperparameters sharing it), measures the metric per
seed and applies the rule (:mod:`jpatterns.study.rules`)::

    >>> from jpatterns import study
    >>> result = study.run_claim("l1-sparsity", out="runs/study")   # doctest: +SKIP
    >>> result.verdict                                                # doctest: +SKIP
    'supported'

:data:`CLAIMS` holds the built-in claims (:mod:`jpatterns.study.builtin`);
:func:`register_claim` and :func:`load_claims` (JSON or TOML) add a user's own.
"""

from jpatterns.study import metrics as metrics
from jpatterns.study import rules as rules
from jpatterns.study.builtin import BUILTIN_CLAIMS as _BUILTIN
from jpatterns.study.claims import CLAIMS as CLAIMS
from jpatterns.study.claims import Claim as Claim
from jpatterns.study.claims import get_claim as get_claim
from jpatterns.study.claims import load_claims as load_claims
from jpatterns.study.claims import register_claim as register_claim
from jpatterns.study.report import write_report as write_report
from jpatterns.study.runner import Result as Result
from jpatterns.study.runner import judge as judge
from jpatterns.study.runner import run_claim as run_claim
from jpatterns.study.runner import run_claims as run_claims

__all__ = [
  "Claim",
  "CLAIMS",
  "register_claim",
  "load_claims",
  "get_claim",
  "run_claim",
  "run_claims",
  "judge",
  "Result",
  "write_report",
  "metrics",
  "rules",
]

for _c in _BUILTIN:
  register_claim(_c)
