"""Helpers shared by every layer, each in a module of its own.

=========================================  ==============================================
:mod:`deepmarkets.helpers.rng`             ``rng=`` arguments as numpy Generators
:mod:`deepmarkets.helpers.exports`         lazily loaded package exports
:mod:`deepmarkets.helpers.progress`        progress lines on standard error
:mod:`deepmarkets.helpers.exact`           exact fractions from user input (one rounding rule)
:mod:`deepmarkets.helpers.jsonsafe`        values ready for JSON (one rule for NaN)
:mod:`deepmarkets.helpers.files`           atomic file writes, TOML specs read as data
:mod:`deepmarkets.helpers.warn`            warnings attributed to the user's line
:mod:`deepmarkets.helpers.defaults`        the convergence rule and the interval probability
:mod:`deepmarkets.helpers.validate`        argument checks, one message per kind of bad argument
:mod:`deepmarkets.helpers.cluster`         usable CPUs; one rule for ``scheduler=`` (Dask)
:mod:`deepmarkets.helpers.plotting`        the plot style; the axes a plot draws on
=========================================  ==============================================

They import nothing from the project but :mod:`deepmarkets.errors`, and nothing heavy at
import time, so any module may use them without slowing down start-up.
"""

from __future__ import annotations

from deepmarkets.helpers.exact import to_fraction, to_rational
from deepmarkets.helpers.exports import export_lazily
from deepmarkets.helpers.files import atomic_path, atomic_write
from deepmarkets.helpers.jsonsafe import json_safe
from deepmarkets.helpers.progress import ProgressBar, StatusLine, track
from deepmarkets.helpers.rng import as_rng
from deepmarkets.helpers.warn import warn

__all__ = ["as_rng", "export_lazily", "StatusLine", "ProgressBar", "track", "to_fraction", "to_rational", "json_safe",
           "atomic_write", "atomic_path", "warn"]
