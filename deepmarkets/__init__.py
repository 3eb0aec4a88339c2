"""deepmarkets: markets as models of intelligence.

The facade re-exports the public API lazily so that ``import deepmarkets`` and
the command line start fast; the heavy work lives in ``deepmarkets.logic``,
``deepmarkets.beliefs`` and ``deepmarkets.models``.

Examples
--------
>>> import deepmarkets
>>> with deepmarkets.Market("coin", maker=deepmarkets.LMSR(b=1.0)) as m:
...     _ = deepmarkets.contract("heads")
...     _ = deepmarkets.contract("~heads", name="tails")
>>> round(m.trade("heads", 1.0), 6)     # log((e + 1) / 2)
0.620115
"""

from __future__ import annotations

import importlib

from deepmarkets.errors import (
    BookError,
    DeclarationError,
    DeepMarketsError,
    EconomyError,
    InductionError,
    InferenceError,
    MissingExtraError,
    ParseError,
    PlotError,
    SolverUnknownError,
    SweepError,
)

__version__ = "0.1.0"

_LAZY = {
    "Sentence": "deepmarkets.logic",
    "Term": "deepmarkets.logic",
    "TRUE": "deepmarkets.logic",
    "FALSE": "deepmarkets.logic",
    "atoms": "deepmarkets.logic",
    "ints": "deepmarkets.logic",
    "reals": "deepmarkets.logic",
    "sentence": "deepmarkets.logic",
    "implies": "deepmarkets.logic",
    "iff": "deepmarkets.logic",
    "at_most_one": "deepmarkets.logic",
    "exactly_one": "deepmarkets.logic",
    "forall": "deepmarkets.logic",
    "exists": "deepmarkets.logic",
    "predicate": "deepmarkets.logic",
    "parse": "deepmarkets.logic",
    "parse_theory": "deepmarkets.logic",
    "Theory": "deepmarkets.logic",
    "check_coherence": "deepmarkets.logic",
    "CoherenceReport": "deepmarkets.logic",
    "DutchBook": "deepmarkets.logic",
    "Verdict": "deepmarkets.logic",
    "Market": "deepmarkets.beliefs",
    "contract": "deepmarkets.beliefs",
    "conditional": "deepmarkets.beliefs",
    "MarketMaker": "deepmarkets.beliefs",
    "LMSR": "deepmarkets.beliefs",
    "LSLMSR": "deepmarkets.beliefs",
    "Quadratic": "deepmarkets.beliefs",
    "LogScore": "deepmarkets.beliefs",
    "QuadraticScore": "deepmarkets.beliefs",
    "SphericalScore": "deepmarkets.beliefs",
    "Book": "deepmarkets.beliefs",
    "replay": "deepmarkets.beliefs",
    "Replay": "deepmarkets.beliefs",
    "ArbitrageFreeMarket": "deepmarkets.beliefs",
    "project": "deepmarkets.beliefs",
    "infer": "deepmarkets.models",
    "Reports": "deepmarkets.models",
    "LatentClassFit": "deepmarkets.models",
    "LatentMarket": "deepmarkets.models",
    "simulate_reports": "deepmarkets.models",
    "natural_latent_errors": "deepmarkets.models",
    "sweep": "deepmarkets.sweeps",
}

__all__ = [
    "BookError",
    "DeclarationError",
    "DeepMarketsError",
    "EconomyError",
    "InductionError",
    "InferenceError",
    "MissingExtraError",
    "ParseError",
    "PlotError",
    "SolverUnknownError",
    "SweepError",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'deepmarkets' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
