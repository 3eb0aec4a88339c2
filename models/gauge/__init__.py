"""Gauge symmetries of latent-variable models: what can change in the hidden parts without a trace.

A latent-variable model is observed only through the distribution it implies for its
observables. A transformation of its parameters that leaves that distribution unchanged is a
*gauge transformation*: no data can tell the two parameter values apart. This package finds
them for models declared symbolically (:class:`~deepmarkets.models.symbolic.SymbolicModel`:
parameters are sympy symbols and the observable distribution is a list of exact expressions in
them).

:mod:`~deepmarkets.models.gauge.discrete` (:func:`discrete_gauge`)
    The group of class relabellings and latent sign flips that leave every observable
    invariant, each element proven by sympy (:class:`GaugeGroup`).
:mod:`~deepmarkets.models.gauge.continuous` (:func:`continuous_gauge`)
    The dimension of the continuous part: parameters minus the rank of the Jacobian of the
    observables, with a basis of its null space as generators (:class:`ContinuousGauge`).

Giving every posterior draw one labelling (gauge fixing) is relabelling of draws:
:func:`deepmarkets.models.relabel.fix_gauge`.

Examples
--------
>>> from deepmarkets.models.symbolic import latent_class_model
>>> m = latent_class_model(3, 2, items=3)          # 3 classes, 3 binary items
>>> discrete_gauge(m).order                        # the 3! relabellings of the classes
6
>>> continuous_gauge(m, rng=0).dimension           # 11 parameters, 7 observables
4
"""

from deepmarkets.models.gauge.continuous import EXACT_MAX_ENTRIES, RANK_TOL, ContinuousGauge, continuous_gauge
from deepmarkets.models.gauge.discrete import (
    MAX_CANDIDATES,
    GaugeElement,
    GaugeGroup,
    SymmetryCheck,
    check_symmetry,
    discrete_gauge,
)

__all__ = ["GaugeElement", "GaugeGroup", "SymmetryCheck", "discrete_gauge", "check_symmetry", "MAX_CANDIDATES",
           "ContinuousGauge", "continuous_gauge", "RANK_TOL", "EXACT_MAX_ENTRIES"]
