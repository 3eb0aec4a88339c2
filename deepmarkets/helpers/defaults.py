"""Defaults shared by every fit and report: the convergence rule of sampling and the interval probability."""

from __future__ import annotations

__all__ = ["RHAT_MAX", "ESS_MIN_PER_CHAIN", "INTERVAL_PROB"]

#: The convergence rule of every NUTS fit (Vehtari et al. 2021): the largest rank-normalised split R-hat ...
RHAT_MAX = 1.01
#: ... and the smallest bulk and tail ESS per chain (with no divergent transitions).
ESS_MIN_PER_CHAIN = 100
#: The probability of every credible interval reported by default.
INTERVAL_PROB = 0.9
