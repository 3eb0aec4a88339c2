"""The posterior of a latent class model as numpy arrays with named dims.

:func:`~deepmarkets.models.nuts.fit_nuts` writes its posterior as an ``xarray.DataTree`` whose
``posterior`` group holds the variables of :data:`LAYOUT`. :func:`read_posterior` reads that
group once into a :class:`Posterior`: every variable as a numpy array in the dim order of
:data:`LAYOUT` (chain and draw first), the names along each dim, and the sampler's divergent
transitions, so that no module depends on how xarray happens to order the dims.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepmarkets.errors import InferenceError

__all__ = ["LAYOUT", "Posterior", "read_posterior", "count_divergences"]

#: The dims after (chain, draw) of each variable of a latent class posterior.
LAYOUT: dict[str, tuple[str, ...]] = {
    "class_share": ("class",),
    "response": ("trader", "class", "level"),
    "mean": ("trader", "class"),
    "sigma": ("trader",),
    "class_probability": ("question", "class"),
    "loglik": (),
}


@dataclass(frozen=True, eq=False)
class Posterior:
    """Posterior draws of a latent class model, chain and draw first.

    Attributes
    ----------
    chains, draws : int
    arrays : mapping of str to numpy.ndarray
        The variables of :data:`LAYOUT` the posterior holds, each with dims
        ``("chain", "draw", *LAYOUT[name])``.
    coords : mapping of str to tuple of str
        The names along ``class``, ``trader``, ``level`` and ``question`` (those present).
    divergences : int
        Divergent transitions recorded in ``sample_stats`` (0 when there are none).

    Examples
    --------
    >>> import xarray as xr
    >>> share = np.array([[[0.25, 0.75], [0.5, 0.5]]])                # one chain, two draws, two classes
    >>> tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"class_share": (("chain", "draw", "class"), share)},
    ...                                                         coords={"class": ["a", "b"]})})
    >>> post = read_posterior(tree)
    >>> post.flat("class_share").shape, post.mean("class_share").tolist(), post.coords["class"]
    ((2, 2), [0.375, 0.625], ('a', 'b'))
    """

    chains: int
    draws: int
    arrays: Mapping[str, np.ndarray] = field(repr=False)
    coords: Mapping[str, tuple[str, ...]] = field(repr=False)
    divergences: int = 0

    def __contains__(self, name: object) -> bool:
        return name in self.arrays

    def dims(self, name: str) -> tuple[str, ...]:
        """The dims of variable ``name``: ``("chain", "draw", *LAYOUT[name])``."""
        return ("chain", "draw", *LAYOUT[name])

    def values(self, name: str) -> np.ndarray:
        """Variable ``name`` with dims :meth:`dims`; InferenceError when the posterior lacks it."""
        if name not in self.arrays:
            raise InferenceError(f"the posterior has no {name!r}; it has {sorted(self.arrays)}")
        return self.arrays[name]

    def flat(self, name: str) -> np.ndarray:
        """Variable ``name`` with chains and draws merged into one first axis (``chain * draws + draw``)."""
        arr = self.values(name)
        return arr.reshape(self.chains * self.draws, *arr.shape[2:])

    def mean(self, name: str) -> np.ndarray:
        """The posterior mean of variable ``name`` (over chains and draws)."""
        return self.values(name).mean(axis=(0, 1))


def count_divergences(tree: Any) -> int:
    """Divergent transitions in a DataTree's ``sample_stats`` (0 when it records none)."""
    children = getattr(tree, "children", None)
    if not isinstance(children, Mapping) or "sample_stats" not in children:
        return 0
    stats = children["sample_stats"]
    if "diverging" not in stats.data_vars:
        return 0
    return int(np.asarray(stats["diverging"].values).sum())


def read_posterior(tree: Any) -> Posterior:
    """The ``posterior`` group of a latent class model's DataTree as numpy arrays in :data:`LAYOUT` order.

    Parameters
    ----------
    tree : xarray.DataTree
        With a ``posterior`` group that has dims ``chain`` and ``draw`` (and optionally a
        ``sample_stats`` group with ``diverging``); as ``fit.idata`` of a NUTS fit.

    Returns
    -------
    Posterior

    Raises
    ------
    InferenceError
        If there is no posterior group with chain and draw dims, or a variable of
        :data:`LAYOUT` has other dims than the layout says.
    """
    children = getattr(tree, "children", None)
    if not isinstance(children, Mapping) or "posterior" not in children:
        raise InferenceError(f"expected an xarray.DataTree with a posterior group, got {type(tree).__name__}")
    post = children["posterior"].to_dataset()
    if "chain" not in post.dims or "draw" not in post.dims:
        raise InferenceError(f"the posterior has dims {dict(post.sizes)}; expected chain and draw")
    arrays = {}
    for name, dims in LAYOUT.items():
        if name not in post.data_vars:
            continue
        want = ("chain", "draw", *dims)
        da = post[name]
        if set(da.dims) != set(want):
            raise InferenceError(f"the posterior's {name!r} has dims {da.dims}; expected {want}")
        arrays[name] = np.asarray(da.transpose(*want).values)
    coords = {dim: tuple(str(v) for v in post[dim].values) for dim in ("class", "trader", "level", "question")
              if dim in post.coords}
    return Posterior(chains=int(post.sizes["chain"]), draws=int(post.sizes["draw"]), arrays=arrays, coords=coords,
                     divergences=count_divergences(tree))
