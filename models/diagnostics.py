"""Convergence diagnostics of MCMC draws, judged by one rule.

:func:`diagnose` computes the largest rank-normalised split R-hat and the smallest bulk and
tail effective sample sizes (ArviZ, Vehtari et al. 2021) over every parameter of a draws
array; :class:`Diagnostics` holds them with the run's divergent transitions and applies
:data:`CONVERGENCE_RULE` (thresholds from :mod:`deepmarkets.helpers.defaults`). Every NUTS
result (:func:`~deepmarkets.models.nuts.fit_nuts`, gauge fixing, inference from a latent
market) and the command line judge convergence here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

import numpy as np

from deepmarkets.errors import InferenceError
from deepmarkets.helpers import json_safe
from deepmarkets.helpers.defaults import ESS_MIN_PER_CHAIN, RHAT_MAX

__all__ = ["CONVERGENCE_RULE", "Diagnostics", "diagnose"]

#: The convergence rule of every NUTS fit, in words.
CONVERGENCE_RULE = f"R-hat <= {RHAT_MAX}, bulk and tail ESS >= {ESS_MIN_PER_CHAIN} per chain, no divergences"


@dataclass(frozen=True)
class Diagnostics(Mapping):
    """Convergence diagnostics of a run of MCMC chains, and the one rule they must pass.

    Read-only mapping too: ``d["max_rhat"]`` is ``d.max_rhat``, and the facts a result adds
    about its run (``extra``, for example the gauge or the priors) are keys as well.

    Attributes
    ----------
    max_rhat : float or None
        Largest rank-normalised split R-hat over the parameters (None: fewer than two chains,
        or not computable).
    min_ess_bulk, min_ess_tail : float or None
        Smallest bulk and tail effective sample size (None: not computable).
    divergences : int
        Divergent transitions of the sampler.
    chains, draws : int
        Chains and draws per chain.
    parameters : int
        Scalar parameters the diagnostics cover.
    extra : tuple of (str, value) pairs
        Further facts about the run, readable as keys (a mapping is accepted).
    rule : str
        :data:`CONVERGENCE_RULE`.

    Examples
    --------
    >>> d = Diagnostics(max_rhat=1.004, min_ess_bulk=250.0, min_ess_tail=310.0, divergences=0, chains=2, draws=300)
    >>> d.passes, d["min_ess_bulk"]
    (True, 250.0)
    >>> Diagnostics(max_rhat=1.018, min_ess_bulk=299.0, min_ess_tail=500.0, divergences=0, chains=4,
    ...             draws=300).problems()
    ['max R-hat 1.018 > 1.01', 'min bulk ESS 299 < 400 (100 per chain x 4 chains)']
    """

    max_rhat: float | None
    min_ess_bulk: float | None
    min_ess_tail: float | None
    divergences: int
    chains: int
    draws: int
    parameters: int = 0
    extra: tuple[tuple[str, Any], ...] = ()

    rule: ClassVar[str] = CONVERGENCE_RULE

    def __post_init__(self) -> None:
        for name in ("max_rhat", "min_ess_bulk", "min_ess_tail"):
            value = getattr(self, name)
            object.__setattr__(self, name, None if value is None or math.isnan(value) else float(value))
        for name in ("divergences", "chains", "draws", "parameters"):
            object.__setattr__(self, name, int(getattr(self, name)))
        extra = tuple(self.extra.items()) if isinstance(self.extra, Mapping) else tuple(self.extra)
        clash = [key for key, _ in extra if key in _FIELDS]
        if clash:
            raise InferenceError(f"extra facts {clash} would hide the diagnostics of the same name; rename them")
        object.__setattr__(self, "extra", extra)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Diagnostics:
        """Diagnostics from a mapping with their keys (missing counts are 0, missing statistics None);
        other keys become ``extra``. A :class:`Diagnostics` is returned as it is.

        Examples
        --------
        >>> Diagnostics.from_mapping({"chains": 2, "max_rhat": 1.2, "min_ess_bulk": 300.0, "min_ess_tail": 300.0,
        ...                           "gauge": "none"}).problems()
        ['max R-hat 1.200 > 1.01']
        """
        if isinstance(values, Diagnostics):
            return values
        return cls(max_rhat=values.get("max_rhat"), min_ess_bulk=values.get("min_ess_bulk"),
                   min_ess_tail=values.get("min_ess_tail"), divergences=values.get("divergences") or 0,
                   chains=values.get("chains") or 0, draws=values.get("draws") or 0,
                   parameters=values.get("parameters") or 0,
                   extra=tuple((str(k), v) for k, v in values.items() if k not in _FIELDS))

    def with_extra(self, **facts: Any) -> Diagnostics:
        """These diagnostics with more facts about the run (replacing extras of the same name)."""
        merged = dict(self.extra)
        merged.update(facts)
        return replace(self, extra=tuple(merged.items()))

    # -- the rule ----------------------------------------------------------------

    def problems(self) -> list[str]:
        """How the diagnostics fail :data:`CONVERGENCE_RULE`, one phrase per failure; empty when they pass."""
        chains = self.chains
        problems = []
        rhat = self.max_rhat
        if chains < 2:
            problems.append("one chain: R-hat cannot be computed (use chains >= 2)")
        elif rhat is None:
            problems.append("R-hat could not be computed")
        elif rhat > RHAT_MAX:
            problems.append(f"max R-hat {_beyond(rhat, '.3f', lambda v: v > RHAT_MAX)} > {RHAT_MAX}")
        need = ESS_MIN_PER_CHAIN * max(chains, 1)
        for kind, ess in (("bulk", self.min_ess_bulk), ("tail", self.min_ess_tail)):
            if ess is None or not ess >= need:
                shown = "not computable" if ess is None else _beyond(ess, ".0f", lambda v: v < need)
                problems.append(f"min {kind} ESS {shown} < {need} ({ESS_MIN_PER_CHAIN} per chain x {chains} chains)")
        if self.divergences:
            problems.append(f"{self.divergences} divergent transition{'s' if self.divergences != 1 else ''}")
        return problems

    @property
    def passes(self) -> bool:
        """Whether the diagnostics pass :data:`CONVERGENCE_RULE`."""
        return not self.problems()

    # -- mapping and output --------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        if key in _FIELDS:
            return getattr(self, key)
        for name, value in self.extra:
            if name == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield from _FIELDS
        for name, _ in self.extra:
            yield name

    def __len__(self) -> int:
        return len(_FIELDS) + len(self.extra)

    def to_dict(self) -> dict[str, Any]:
        """Every key with its value, strict JSON (non-finite numbers as None)."""
        return json_safe(dict(self.items()))

    def __repr__(self) -> str:
        def number(value, spec):
            return "-" if value is None else format(value, spec)

        verdict = "passes" if self.passes else "FAILS"
        return (f"Diagnostics({self.chains} chains x {self.draws} draws: max R-hat {number(self.max_rhat, '.3f')}, "
                f"min bulk ESS {number(self.min_ess_bulk, '.0f')}, min tail ESS {number(self.min_ess_tail, '.0f')}, "
                f"{self.divergences} divergences; {verdict} {self.rule})")


_FIELDS = tuple(f.name for f in fields(Diagnostics) if f.name != "extra")


def _beyond(value: float, spec: str, fails: Any) -> str:
    """``value`` formatted with ``spec``, or in full where rounding would hide that it ``fails`` the bound."""
    shown = format(value, spec)
    return shown if fails(float(shown)) else repr(float(value))


def _extreme(reduce: Any, values: np.ndarray) -> float | None:
    """``reduce`` (nanmax or nanmin) of the values that are not NaN; None when there are none."""
    values = values[~np.isnan(values)]
    return float(reduce(values)) if values.size else None


def diagnose(draws: Any, *, divergences: int = 0, **extra: Any) -> Diagnostics:
    """R-hat and bulk and tail ESS (ArviZ) of every parameter of a draws array, reduced to the worst.

    Parameters
    ----------
    draws : array_like
        ``(chain, draw, ...)``: every entry after the first two axes is one scalar parameter.
        Parameters whose statistics are NaN (for example a cell that is NaN in every draw) are
        left out of the extremes.
    divergences : int, default 0
        Divergent transitions of the run.
    **extra
        Further facts about the run, kept in :attr:`Diagnostics.extra`.

    Returns
    -------
    Diagnostics

    Raises
    ------
    InferenceError
        If ``draws`` has fewer than two axes or no draws, or ``divergences`` is negative.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = diagnose(rng.normal(size=(4, 500, 3)))
    >>> d.parameters, d.max_rhat < 1.01, d.passes
    (3, True, True)
    >>> stuck = rng.normal(size=(4, 500)); stuck[3] += 5.0   # one chain far from the others
    >>> diagnose(stuck).problems()[0].startswith("max R-hat")
    True
    """
    import arviz as az
    import xarray as xr

    arr = np.asarray(draws, dtype=np.float64)
    if arr.ndim < 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InferenceError(f"draws has shape {arr.shape}; expected (chain, draw, ...) with at least one chain "
                             f"and one draw")
    if int(divergences) < 0:
        raise InferenceError(f"divergences={divergences}; expected a count >= 0")
    C, D = arr.shape[:2]
    flat = arr.reshape(C, D, -1)
    ds = xr.Dataset({"theta": (("chain", "draw", "parameter"), flat)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant parameters: their statistics are NaN
        rhat = az.rhat(ds)["theta"].values if C >= 2 else np.full(flat.shape[2], np.nan)
        bulk = az.ess(ds, method="bulk")["theta"].values
        tail = az.ess(ds, method="tail")["theta"].values
    return Diagnostics(max_rhat=_extreme(np.max, rhat), min_ess_bulk=_extreme(np.min, bulk),
                       min_ess_tail=_extreme(np.min, tail), divergences=int(divergences), chains=C, draws=D,
                       parameters=flat.shape[2], extra=tuple(extra.items()))
