"""Natural latents: how well a latent variable mediates and is redundant across observables.

After Wentworth and Lorell (2023-2025). A latent ``Λ`` over observables ``X_1 .. X_n`` is a
*natural latent* when two things hold, each up to an error measured in bits:

**mediation**
    the observables are independent given ``Λ``. The error is the conditional total
    correlation ``Σ_i H(X_i | Λ) - H(X | Λ)``; for a split of the observables into blocks
    ``(A, B)`` its two-block form is ``I(X_A; X_B | Λ)`` (never larger).
**redundancy**
    ``Λ`` can be recovered from the observables with any one of them dropped. The
    *stochastic* error of observable ``i`` is ``I(Λ; X_i | X_{-i})`` (what ``X_i`` adds about
    ``Λ`` once the others are known); the *deterministic* one is ``H(Λ | X_{-i})`` (what is
    still unknown about ``Λ`` without ``X_i``; it bounds the stochastic one). The two-block
    forms are ``H(Λ | X_A)`` and ``H(Λ | X_B)``.

A latent that says almost nothing about ``X`` has small errors for a trivial reason, so each
error is also given divided by ``I(X; Λ)``.

Why the two conditions together matter: if ``Λ`` mediates between ``X_A`` and ``X_B`` (error
``ε_med = I(X_A; X_B | Λ)``) and ``Λ'`` is redundant (``H(Λ' | X_A), H(Λ' | X_B) ≤ ε_red``), then
``H(Λ' | Λ) ≤ ε_med + 2 ε_red``: every mediator determines every redund
(:func:`mediator_determines_redund`). A latent that is both is therefore the unique (up to these
errors) summary that all observers of the blocks agree on.

Entry points
------------
:func:`natural_latent_errors`
    a joint distribution as a numpy array (one axis per observable plus the latent's) or an
    ``xarray.DataArray`` with named dims.
:func:`mediator_determines_redund`
    the inequality above on a joint over observables and two latents.
:func:`fit_natural_latent_errors`
    the latent of a latent class fit (EM or NUTS from :func:`~deepmarkets.models.infer.infer`),
    with credible intervals over posterior draws for NUTS, or of a
    :class:`~deepmarkets.models.latent_market.LatentMarket`.
:func:`plot_natural_latent`
    a bar chart of the errors against the tolerance.

Entropies are computed by summing axes of the joint (vectorised numpy; ``0 log 0 = 0``), so a
joint of ``2**16`` cells takes a few milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError, InferenceError
from deepmarkets.helpers import as_rng, warn
from deepmarkets.helpers.defaults import INTERVAL_PROB
from deepmarkets.helpers.plotting import COLOURS, figure_and_axes, styled
from deepmarkets.helpers.validate import whole_number
from deepmarkets.models.posterior import read_posterior

__all__ = [
    "NaturalLatentReport",
    "NaturalLatentDraws",
    "MediatorRedundCheck",
    "natural_latent_errors",
    "mediator_determines_redund",
    "fit_natural_latent_errors",
    "latent_class_joint",
    "plot_natural_latent",
    "SUM_TOL",
    "ZERO_INFORMATION",
]

#: A joint must sum to 1 within this tolerance (it is then divided by its sum).
SUM_TOL = 1e-9
#: ``I(X; Λ)`` below this many bits counts as zero: the normalised errors are undefined.
ZERO_INFORMATION = 1e-12
#: Slack allowed for rounding when :func:`mediator_determines_redund` decides that the inequality holds.
_ROUNDING = 1e-12
_SOURCES = ("empirical", "model")
_MISSING = ("drop", "impute")


# ---------------------------------------------------------------------------
# entropies of a joint array (numpy core)
# ---------------------------------------------------------------------------


def _entropy(p: np.ndarray) -> float:
    """Shannon entropy in bits of the cells of ``p`` (any shape; ``0 log 0 = 0``)."""
    flat = p.ravel()
    flat = flat[flat > 0]
    return float(-(flat * np.log2(flat)).sum())  # not np.dot: BLAS threads cost more than they save here


def _core(p: np.ndarray, block_a: Sequence[int], block_b: Sequence[int]) -> dict[str, Any]:
    """Every entropy quantity of a normalised joint whose last axis is the latent.

    Returns the information terms in bits: ``h_x``, ``h_latent``, ``mi``, ``mediation``,
    ``mediation_two_block``, ``stochastic`` (n,), ``deterministic`` (n,), ``block_a``,
    ``block_b``. Quantities that are non-negative in exact arithmetic are clipped at 0 (rounding).
    """
    n = p.ndim - 1
    lat = n
    h_all = _entropy(p)
    p_x = p.sum(axis=lat)
    h_x = _entropy(p_x)
    p_lat = p.sum(axis=tuple(range(n)))
    h_lat = _entropy(p_lat)
    h_i_lat = np.empty(n)  # H(X_i, Λ)
    h_rest_lat = np.empty(n)  # H(X_{-i}, Λ)
    h_rest = np.empty(n)  # H(X_{-i})
    for i in range(n):
        h_i_lat[i] = _entropy(p.sum(axis=tuple(a for a in range(n) if a != i)))
        rest = p.sum(axis=i)
        h_rest_lat[i] = _entropy(rest)
        h_rest[i] = _entropy(rest.sum(axis=-1))
    p_a_lat = p.sum(axis=tuple(block_b))
    p_b_lat = p.sum(axis=tuple(block_a))
    h_a_lat, h_b_lat = _entropy(p_a_lat), _entropy(p_b_lat)
    h_a, h_b = _entropy(p_a_lat.sum(axis=-1)), _entropy(p_b_lat.sum(axis=-1))
    h_lat_given_x = h_all - h_x
    mediation = float(np.sum(h_i_lat - h_lat)) - (h_all - h_lat)
    two_block = h_a_lat + h_b_lat - h_all - h_lat
    deterministic = h_rest_lat - h_rest
    stochastic = deterministic - h_lat_given_x
    return {
        "h_x": max(h_x, 0.0),
        "h_latent": max(h_lat, 0.0),
        "mi": max(h_x + h_lat - h_all, 0.0),
        "mediation": max(mediation, 0.0),
        "mediation_two_block": max(two_block, 0.0),
        "stochastic": np.maximum(stochastic, 0.0),
        "deterministic": np.maximum(deterministic, 0.0),
        "block_a": max(h_a_lat - h_a, 0.0),
        "block_b": max(h_b_lat - h_b, 0.0),
    }


# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------


def _is_dataarray(value: Any) -> bool:
    return type(value).__name__ == "DataArray" and type(value).__module__.startswith("xarray")


def _probabilities(values: Any, what: str) -> np.ndarray:
    """A finite, non-negative float64 array summing to 1 within :data:`SUM_TOL`, divided by its sum."""
    try:
        p = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise DeclarationError(f"{what}: expected an array of probabilities, got {type(values).__name__} "
                               f"that is not numeric ({err})") from None
    if not np.isfinite(p).all():
        bad = np.argwhere(~np.isfinite(p))[0].tolist()
        raise DeclarationError(f"{what}: cell {bad} is {p[tuple(bad)]}; expected finite probabilities")
    if (p < 0).any():
        bad = np.argwhere(p < 0)[0].tolist()
        raise DeclarationError(f"{what}: cell {bad} is {p[tuple(bad)]!r} < 0; probabilities must be non-negative")
    total = float(p.sum(dtype=np.float64))
    if not abs(total - 1.0) <= SUM_TOL:
        raise DeclarationError(f"{what}: the probabilities sum to {total!r}, expected 1 within {SUM_TOL:g}; "
                               f"divide the array by its sum if it holds weights or counts")
    return p / total


def _axis(value: Any, ndim: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise DeclarationError(f"{what}={value!r}: for a numpy joint give the axis index (an int in "
                               f"[-{ndim}, {ndim - 1}]); dim names work for an xarray.DataArray")
    if not -ndim <= int(value) < ndim:
        raise DeclarationError(f"{what}={value}: the joint has {ndim} axes; expected an axis index in "
                               f"[-{ndim}, {ndim - 1}]")
    return int(value) % ndim


def _names(observables: Any, n: int, reserved: Sequence[str]) -> tuple[str, ...]:
    if observables is None:
        names = tuple(f"X{i + 1}" for i in range(n))
    else:
        if isinstance(observables, str):
            raise DeclarationError(f"observables={observables!r}: expected a sequence of {n} names, one per "
                                   f"observable axis")
        names = tuple(str(v) for v in observables)
        if len(names) != n:
            raise DeclarationError(f"observables has {len(names)} names for {n} observable axes; give one name "
                                   f"per axis other than the latent's, in axis order")
    if len(set(names)) != len(names):
        dup = next(v for v in names if names.count(v) > 1)
        raise DeclarationError(f"observables: the name {dup!r} appears twice; names must be distinct")
    clash = [v for v in names if v in reserved]
    if clash:
        raise DeclarationError(f"observables: {clash[0]!r} is also a latent's name; rename it")
    return names


def _as_joint(joint: Any, latents: Sequence[Any], observables: Any, what: str
              ) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """The joint with axes (observables..., latents...), the observable names, latent names, and notes."""
    notes: list[str] = []
    if _is_dataarray(joint):
        dims = [str(d) for d in joint.dims]
        lat_names = []
        for lat in latents:
            if str(lat) not in dims:
                raise DeclarationError(f"latent={lat!r} is not a dim of the DataArray (dims {dims}); name the "
                                       f"latent's dim")
            lat_names.append(str(lat))
        if len(set(lat_names)) != len(lat_names):
            raise DeclarationError(f"the latents {lat_names} must be different dims")
        others = [d for d in dims if d not in lat_names]
        if observables is None:
            obs = others
        else:
            if isinstance(observables, str):
                raise DeclarationError(f"observables={observables!r}: expected a sequence of dim names")
            obs = [str(v) for v in observables]
            missing = [v for v in obs if v not in others]
            if missing:
                raise DeclarationError(f"observables: {missing[0]!r} is not an observable dim of the DataArray "
                                       f"(dims other than the latent: {others})")
            if len(set(obs)) != len(obs):
                raise DeclarationError(f"observables={obs}: a dim is named twice")
        p = _probabilities(joint.values, what)
        summed = [d for d in others if d not in obs]
        if summed:
            p = p.sum(axis=tuple(dims.index(d) for d in summed))
            dims = [d for d in dims if d not in summed]
            notes.append(f"dims {summed} were summed out (not among the observables)")
        p = np.transpose(p, [dims.index(d) for d in obs] + [dims.index(d) for d in lat_names])
        return p, tuple(obs), tuple(lat_names), tuple(notes)
    if _is_dataarray_like(joint):
        raise DeclarationError(f"{what}: expected a numpy array or an xarray.DataArray, got a "
                               f"{type(joint).__name__}; pass .to_array() or .values")
    p = _probabilities(joint, what)
    if p.ndim < 1:
        raise DeclarationError(f"{what}: a scalar is not a joint distribution; expected one axis per observable "
                               f"and one per latent")
    axes = [_axis(v, p.ndim, "latent" if len(latents) == 1 else name)
            for v, name in zip(latents, ("mediator", "redund"), strict=False)]
    if len(set(axes)) != len(axes):
        raise DeclarationError(f"the latents are the same axis ({axes[0]}); give two different axes")
    rest = [a for a in range(p.ndim) if a not in axes]
    lat_names = ("Λ",) if len(latents) == 1 else ("Λ", "Λ'")
    names = _names(observables, len(rest), lat_names)
    return np.transpose(p, rest + axes), names, lat_names, tuple(notes)


def _is_dataarray_like(value: Any) -> bool:
    return type(value).__module__.startswith("xarray")


def _partition(partition: Any, names: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    n = len(names)
    if partition is None:
        half = n // 2
        return tuple(range(half)), tuple(range(half, n))
    try:
        if isinstance(partition, str | bytes):
            raise TypeError
        block_a, block_b = partition
        # a single name stands for a block of one
        block_a, block_b = ([v] if isinstance(v, str | int | np.integer) else list(v) for v in (block_a, block_b))
    except (TypeError, ValueError):
        raise DeclarationError(f"partition={partition!r}: expected two blocks (A, B) of observables, each a list "
                               f"of names or axis positions") from None

    def index(v: Any) -> int:
        if isinstance(v, str):
            if v not in names:
                raise DeclarationError(f"partition: {v!r} is not an observable; the observables are {list(names)}")
            return names.index(v)
        if isinstance(v, int | np.integer) and not isinstance(v, bool) and 0 <= int(v) < n:
            return int(v)
        raise DeclarationError(f"partition: {v!r} is neither an observable name nor a position in [0, {n - 1}]")

    a = tuple(index(v) for v in block_a)
    b = tuple(index(v) for v in block_b)
    if not a or not b:
        raise DeclarationError(f"partition={partition!r}: both blocks need at least one observable")
    both = set(a) & set(b)
    if both or len(set(a)) != len(a) or len(set(b)) != len(b):
        dup = names[next(iter(both))] if both else "an observable"
        raise DeclarationError(f"partition: {dup!r} appears twice; the blocks must not overlap")
    left = [names[i] for i in range(n) if i not in a and i not in b]
    if left:
        raise DeclarationError(f"partition: {left} are in neither block; A and B must cover every observable")
    return tuple(sorted(a)), tuple(sorted(b))


def _tolerance(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating) \
            or not math.isfinite(value) or value < 0:
        raise DeclarationError(f"tolerance={value!r}; expected a finite number >= 0 (bits, or a share of "
                               f"I(X; Λ) with normalise=True)")
    return float(value)


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------


def _num(x: float) -> float | None:
    """A float for JSON: NaN becomes None."""
    x = float(x)
    return None if math.isnan(x) else x


def _fmt(x: float) -> str:
    return "undefined" if math.isnan(x) else f"{x:.4g}"


@dataclass(eq=False)
class NaturalLatentDraws:
    """Natural-latent errors per posterior draw, summarised by mean and equal-tailed interval.

    Attributes
    ----------
    values : dict of str to numpy.ndarray
        ``(S,)`` per-draw values in bits for every key of :meth:`NaturalLatentReport.errors`
        plus ``mutual_information``.
    normalised : dict of str to numpy.ndarray
        The same errors divided by each draw's ``I(X; Λ)`` (NaN where it is 0).
    natural : numpy.ndarray
        ``(S,)`` bool: the verdict of each draw (same rule as the report).
    draws : numpy.ndarray
        ``(S, 2)`` the (chain, draw) positions used.
    interval : float
        Probability mass of the equal-tailed credible intervals (0.9: the 5% and 95% quantiles).
    total_draws : int
        Draws in the posterior before subsampling.

    Examples
    --------
    >>> d = NaturalLatentDraws({"mediation": np.array([0.25, 0.5, 0.75])}, {"mediation": np.array([0.5, 1.0, 1.5])},
    ...                        np.array([True, False, False]), np.zeros((3, 2), dtype=int), 0.9, 3)
    >>> d.summary()["mediation"]["mean"], d.probability_natural
    (0.5, 0.3333333333333333)
    """

    values: dict[str, np.ndarray]
    normalised: dict[str, np.ndarray]
    natural: np.ndarray
    draws: np.ndarray
    interval: float
    total_draws: int

    @property
    def n_draws(self) -> int:
        """Draws used ``S``."""
        return int(len(self.natural))

    @property
    def probability_natural(self) -> float:
        """Share of the draws whose latent passes the verdict."""
        return float(np.mean(self.natural)) if len(self.natural) else float("nan")

    def summary(self, normalised: bool = False) -> dict[str, dict[str, float]]:
        """``{key: {"mean", "lower", "upper"}}`` over the draws (NaN draws ignored; NaN if all are)."""
        source = self.normalised if normalised else self.values
        lo_q, hi_q = (1.0 - self.interval) / 2.0, (1.0 + self.interval) / 2.0
        out = {}
        for key, v in source.items():
            ok = v[np.isfinite(v)]
            if ok.size:
                out[key] = {"mean": float(ok.mean()), "lower": float(np.quantile(ok, lo_q)),
                            "upper": float(np.quantile(ok, hi_q))}
            else:
                out[key] = {"mean": float("nan"), "lower": float("nan"), "upper": float("nan")}
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: draws used, interval, P(natural), and mean/lower/upper per error (bits and normalised)."""
        def plain(s):
            return {k: {kk: _num(vv) for kk, vv in d.items()} for k, d in s.items()}

        return {"n_draws": self.n_draws, "total_draws": int(self.total_draws), "interval": float(self.interval),
                "probability_natural": _num(self.probability_natural), "bits": plain(self.summary(False)),
                "normalised": plain(self.summary(True))}

    def __repr__(self) -> str:
        s = self.summary()
        med = s.get("mediation", {"mean": float("nan"), "lower": float("nan"), "upper": float("nan")})
        return (f"NaturalLatentDraws({self.n_draws} of {self.total_draws} draws; mediation {_fmt(med['mean'])} "
                f"[{_fmt(med['lower'])}, {_fmt(med['upper'])}] bits ({self.interval:.0%} interval); "
                f"P(natural) {_fmt(self.probability_natural)})")

    def _repr_markdown_(self) -> str:
        return f"`{self!r}`"


@dataclass(eq=False)
class NaturalLatentReport:
    """The natural-latent errors of a latent over observables, in bits, with a verdict.

    Attributes
    ----------
    observables : tuple of str
        Names of the observables ``X_1 .. X_n``.
    latent : str
        Name of the latent ``Λ``.
    sizes : dict of str to int
        Number of values of each observable and of the latent.
    partition : (tuple of str, tuple of str)
        The blocks ``A`` and ``B`` of the two-block errors.
    entropy_x, entropy_latent, mutual_information : float
        ``H(X)``, ``H(Λ)`` and ``I(X; Λ)`` in bits.
    mediation : float
        ``Σ_i H(X_i | Λ) - H(X | Λ)`` (conditional total correlation).
    mediation_two_block : float
        ``I(X_A; X_B | Λ)``.
    stochastic_redundancy, deterministic_redundancy : dict of str to float
        ``I(Λ; X_i | X_{-i})`` and ``H(Λ | X_{-i})`` per observable.
    redundancy_a, redundancy_b : float
        ``H(Λ | X_A)`` and ``H(Λ | X_B)``.
    tolerance : float
        The verdict's tolerance.
    normalise : bool
        Whether the verdict uses the errors divided by ``I(X; Λ)``.
    natural : bool
        ``mediation <= tolerance`` and ``max_i H(Λ | X_{-i}) <= tolerance`` (normalised when
        ``normalise`` and ``I(X; Λ) > 0``; in bits otherwise).
    verdict : str
        The verdict in words, saying which scale was used.
    source : str
        Where the joint came from (``"joint"``, ``"empirical"`` or ``"model"``).
    notes : tuple of str
        What was done to the input (dims summed out, questions dropped, ...).
    draws : NaturalLatentDraws or None
        Per-draw errors of a NUTS fit.

    Examples
    --------
    >>> p = np.zeros((2, 2, 2)); p[0, 0, 0] = p[1, 1, 1] = 0.5   # X1 = X2 = Λ, a fair bit
    >>> r = natural_latent_errors(p, latent=2)
    >>> r.mediation, r.max_deterministic_redundancy, r.mutual_information, r.natural
    (0.0, 0.0, 1.0, True)
    """

    observables: tuple[str, ...]
    latent: str
    sizes: dict[str, int]
    partition: tuple[tuple[str, ...], tuple[str, ...]]
    entropy_x: float
    entropy_latent: float
    mutual_information: float
    mediation: float
    mediation_two_block: float
    stochastic_redundancy: dict[str, float]
    deterministic_redundancy: dict[str, float]
    redundancy_a: float
    redundancy_b: float
    tolerance: float
    normalise: bool
    natural: bool
    verdict: str
    source: str = "joint"
    notes: tuple[str, ...] = ()
    draws: NaturalLatentDraws | None = field(default=None, repr=False)

    @property
    def max_deterministic_redundancy(self) -> float:
        """``max_i H(Λ | X_{-i})``."""
        return float(max(self.deterministic_redundancy.values()))

    @property
    def max_stochastic_redundancy(self) -> float:
        """``max_i I(Λ; X_i | X_{-i})``."""
        return float(max(self.stochastic_redundancy.values()))

    @property
    def informative(self) -> bool:
        """Whether ``I(X; Λ) > 0`` (above :data:`ZERO_INFORMATION`), so that normalised errors exist."""
        return self.mutual_information > ZERO_INFORMATION

    def errors(self, normalised: bool = False) -> dict[str, float]:
        """Every error as a flat dict, in bits or divided by ``I(X; Λ)`` (NaN when it is 0).

        Keys: ``mediation``, ``mediation_two_block``, ``redundancy_A``, ``redundancy_B``,
        ``max_deterministic_redundancy``, ``max_stochastic_redundancy``, then
        ``deterministic_redundancy[name]`` and ``stochastic_redundancy[name]`` per observable.

        Examples
        --------
        >>> p = np.full((2, 2, 1), 0.25)   # two independent fair bits, a constant latent
        >>> natural_latent_errors(p, latent=2).errors(normalised=True)["mediation"]
        nan
        """
        out = {
            "mediation": self.mediation,
            "mediation_two_block": self.mediation_two_block,
            "redundancy_A": self.redundancy_a,
            "redundancy_B": self.redundancy_b,
            "max_deterministic_redundancy": self.max_deterministic_redundancy,
            "max_stochastic_redundancy": self.max_stochastic_redundancy,
        }
        out.update({f"deterministic_redundancy[{k}]": v for k, v in self.deterministic_redundancy.items()})
        out.update({f"stochastic_redundancy[{k}]": v for k, v in self.stochastic_redundancy.items()})
        if not normalised:
            return {k: float(v) for k, v in out.items()}
        scale = self.mutual_information if self.informative else float("nan")
        return {k: float(v) / scale for k, v in out.items()}

    @property
    def normalised(self) -> dict[str, float]:
        """:meth:`errors` divided by ``I(X; Λ)`` (NaN when the latent carries no information)."""
        return self.errors(normalised=True)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (NaN as None).

        Examples
        --------
        >>> import json
        >>> p = np.zeros((2, 2, 2)); p[0, 0, 0] = p[1, 1, 1] = 0.5
        >>> d = json.loads(json.dumps(natural_latent_errors(p, latent=2).to_dict()))
        >>> d["natural"], d["errors"]["mediation"], d["normalised"]["mediation"]
        (True, 0.0, 0.0)
        """
        return {
            "observables": list(self.observables),
            "latent": self.latent,
            "sizes": {k: int(v) for k, v in self.sizes.items()},
            "partition": [list(self.partition[0]), list(self.partition[1])],
            "entropy_x": self.entropy_x,
            "entropy_latent": self.entropy_latent,
            "mutual_information": self.mutual_information,
            "errors": {k: _num(v) for k, v in self.errors().items()},
            "normalised": {k: _num(v) for k, v in self.errors(normalised=True).items()},
            "tolerance": self.tolerance,
            "normalise": bool(self.normalise),
            "natural": bool(self.natural),
            "verdict": self.verdict,
            "source": self.source,
            "notes": list(self.notes),
            "draws": self.draws.to_dict() if self.draws is not None else None,
        }

    def __repr__(self) -> str:
        return (f"NaturalLatentReport({self.latent} over {len(self.observables)} observables, source {self.source}: "
                f"I(X;{self.latent}) {self.mutual_information:.4g} bits, mediation {self.mediation:.4g}, "
                f"max H({self.latent}|X_-i) {self.max_deterministic_redundancy:.4g}, "
                f"max I({self.latent};X_i|X_-i) {self.max_stochastic_redundancy:.4g} bits; {self.verdict})")

    def _repr_markdown_(self) -> str:
        lines = [f"**NaturalLatentReport** ({self.source}): {self.verdict}", "",
                 f"H(X) = {self.entropy_x:.4f}, H({self.latent}) = {self.entropy_latent:.4f}, "
                 f"I(X; {self.latent}) = {self.mutual_information:.4f} bits", ""]
        summary = self.draws.summary() if self.draws is not None else None
        head = f"| error | bits | / I(X;{self.latent}) |" + (
            f" posterior mean (bits) | {self.draws.interval:.0%} interval (bits) |" if summary else "")
        lines += [head, "|---|---|---|" + ("---|---|" if summary else "")]
        norm = self.errors(normalised=True)
        shown = list(self.errors().items())
        for k, v in shown[:46]:
            row = f"| {k} | {v:.4f} | {_fmt(norm[k])} |"
            if summary:
                s = summary[k]
                row += f" {_fmt(s['mean'])} | [{_fmt(s['lower'])}, {_fmt(s['upper'])}] |"
            lines.append(row)
        if len(shown) > 46:
            lines += ["", f"(first 46 of {len(shown)} errors)"]
        if self.notes:
            lines += ["", "notes: " + "; ".join(self.notes)]
        return "\n".join(lines)


@dataclass(eq=False)
class MediatorRedundCheck:
    """Both sides of ``H(Λ' | Λ) <= I(X_A; X_B | Λ) + 2 max(H(Λ' | X_A), H(Λ' | X_B))``.

    Attributes
    ----------
    mediator, redund : str
        Names of ``Λ`` and ``Λ'``.
    partition : (tuple of str, tuple of str)
        The blocks ``A`` and ``B``.
    lhs : float
        ``H(Λ' | Λ)`` in bits.
    eps_med : float
        ``I(X_A; X_B | Λ)``, the mediation error of ``Λ``.
    redundancy_a, redundancy_b : float
        ``H(Λ' | X_A)`` and ``H(Λ' | X_B)``.
    eps_red : float
        Their maximum, the redundancy error of ``Λ'``.
    rhs : float
        ``eps_med + 2 eps_red``.
    slack : float
        ``rhs - lhs`` (non-negative for every distribution).
    holds : bool
        ``lhs <= rhs + 1e-12``.

    Examples
    --------
    >>> p = np.zeros((2, 2, 2, 2)); p[0, 0, 0, 0] = p[1, 1, 1, 1] = 0.5   # X1 = X2 = Λ = Λ'
    >>> c = mediator_determines_redund(p, mediator=2, redund=3)
    >>> c.lhs, c.rhs, c.holds
    (0.0, 0.0, True)
    """

    mediator: str
    redund: str
    partition: tuple[tuple[str, ...], tuple[str, ...]]
    lhs: float
    eps_med: float
    redundancy_a: float
    redundancy_b: float
    eps_red: float
    rhs: float
    slack: float
    holds: bool

    @property
    def tight_rhs(self) -> float:
        """``eps_med + H(Λ' | X_A) + H(Λ' | X_B)``, the bound before ``2 max``."""
        return self.eps_med + self.redundancy_a + self.redundancy_b

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"mediator": self.mediator, "redund": self.redund,
                "partition": [list(self.partition[0]), list(self.partition[1])], "lhs": self.lhs,
                "eps_med": self.eps_med, "redundancy_a": self.redundancy_a, "redundancy_b": self.redundancy_b,
                "eps_red": self.eps_red, "rhs": self.rhs, "tight_rhs": self.tight_rhs, "slack": self.slack,
                "holds": bool(self.holds)}

    def __repr__(self) -> str:
        m, r = self.mediator, self.redund
        return (f"MediatorRedundCheck(H({r}|{m}) = {self.lhs:.4g} <= eps_med + 2 eps_red = {self.eps_med:.4g} + "
                f"2*{self.eps_red:.4g} = {self.rhs:.4g} bits: {'holds' if self.holds else 'FAILS'}, "
                f"slack {self.slack:.4g})")

    def _repr_markdown_(self) -> str:
        return f"`{self!r}`"


# ---------------------------------------------------------------------------
# public functions on joints
# ---------------------------------------------------------------------------


def _verdict(c: dict[str, Any], tolerance: float, normalise: bool, latent: str) -> tuple[bool, str]:
    med, red = c["mediation"], float(np.max(c["deterministic"]))
    if normalise and c["mi"] > ZERO_INFORMATION:
        med, red = med / c["mi"], red / c["mi"]
        scale = f"errors divided by I(X;{latent}) = {c['mi']:.4g} bits"
    elif normalise:
        scale = (f"errors in bits, because I(X;{latent}) = 0 and the normalised errors are undefined "
                 f"({latent} says nothing about X)")
    else:
        scale = "errors in bits"
    natural = bool(med <= tolerance and red <= tolerance)
    word = "natural" if natural else "not natural"
    rel = ("<=" if med <= tolerance else ">", "<=" if red <= tolerance else ">")
    return natural, (f"{word}: mediation {med:.4g} {rel[0]} {tolerance:g} and max H({latent}|X_-i) {red:.4g} "
                     f"{rel[1]} {tolerance:g} ({scale})")


def _report(p: np.ndarray, names: tuple[str, ...], latent: str, partition: Any, tolerance: float,
            normalise: bool, source: str, notes: tuple[str, ...]) -> NaturalLatentReport:
    if len(names) < 2:
        raise DeclarationError(f"the joint has {len(names)} observable{'s' if len(names) != 1 else ''} besides the "
                               f"latent; natural-latent errors need at least 2 observables")
    a, b = _partition(partition, names)
    c = _core(p, a, b)
    natural, verdict = _verdict(c, tolerance, normalise, latent)
    sizes = {n: int(s) for n, s in zip(names, p.shape[:-1], strict=True)}
    sizes[latent] = int(p.shape[-1])
    return NaturalLatentReport(
        observables=names, latent=latent, sizes=sizes,
        partition=(tuple(names[i] for i in a), tuple(names[i] for i in b)),
        entropy_x=c["h_x"], entropy_latent=c["h_latent"], mutual_information=c["mi"],
        mediation=c["mediation"], mediation_two_block=c["mediation_two_block"],
        stochastic_redundancy={n: float(v) for n, v in zip(names, c["stochastic"], strict=True)},
        deterministic_redundancy={n: float(v) for n, v in zip(names, c["deterministic"], strict=True)},
        redundancy_a=c["block_a"], redundancy_b=c["block_b"], tolerance=tolerance, normalise=bool(normalise),
        natural=natural, verdict=verdict, source=source, notes=notes,
    )


def natural_latent_errors(joint: Any, latent: int | str, *, observables: Sequence[str] | None = None,
                          partition: Any = None, tolerance: float = 0.1, normalise: bool = True
                          ) -> NaturalLatentReport:
    """Mediation and redundancy errors (bits) of a latent in a joint distribution.

    Parameters
    ----------
    joint : numpy.ndarray or xarray.DataArray
        ``P(X_1, .., X_n, Λ)``: one axis per observable and one for the latent, in any order.
        Finite, non-negative, summing to 1 within :data:`SUM_TOL` (it is then divided by its
        sum). A DataArray's dims name the variables.
    latent : int or str
        The latent's axis index (numpy) or dim name (DataArray).
    observables : sequence of str, optional
        numpy: names of the other axes in order (default ``"X1" .. "Xn"``). DataArray: the dims
        that are observables, in the order wanted (default all but the latent); any other dims
        are summed out.
    partition : (A, B), optional
        Two blocks of observables (names or positions) covering all of them, for the two-block
        errors; default the first ``n // 2`` observables and the rest.
    tolerance : float, default 0.1
        The verdict's tolerance on the mediation error and on ``max_i H(Λ | X_{-i})``.
    normalise : bool, default True
        Compare errors divided by ``I(X; Λ)`` with the tolerance (when ``I(X; Λ) = 0`` the bits
        are compared instead, and the verdict says so).

    Returns
    -------
    NaturalLatentReport

    Raises
    ------
    DeclarationError
        For a joint that is not a distribution (NaN, negative cells, a sum other than 1), fewer
        than 2 observables, an unknown latent axis or dim, or a bad partition.

    Examples
    --------
    >>> p = np.full((2, 2, 2), 1 / 8)   # three independent fair bits; the last is the latent
    >>> r = natural_latent_errors(p, latent=-1)
    >>> r.mediation, r.deterministic_redundancy, r.mutual_information
    (0.0, {'X1': 1.0, 'X2': 1.0}, 0.0)
    >>> r.natural   # the latent is unknowable from any observable: 1 bit > 0.1
    False
    """
    tolerance = _tolerance(tolerance)
    p, names, lat, notes = _as_joint(joint, [latent], observables, "joint")
    return _report(p, names, lat[0], partition, tolerance, bool(normalise), "joint", notes)


def mediator_determines_redund(joint: Any, mediator: int | str, redund: int | str, *,
                               observables: Sequence[str] | None = None, partition: Any = None
                               ) -> MediatorRedundCheck:
    """Check that a mediator ``Λ`` determines a redund ``Λ'``: ``H(Λ' | Λ) <= ε_med + 2 ε_red``.

    With ``ε_med = I(X_A; X_B | Λ)`` and ``ε_red = max(H(Λ' | X_A), H(Λ' | X_B))``. The
    inequality holds for every joint distribution, by the chain rule:

    ``H(Λ'|Λ) = I(Λ'; X_A | Λ) + H(Λ' | X_A, Λ) <= I(Λ'; X_A | Λ) + H(Λ' | X_A)``, and
    ``I(Λ'; X_A | Λ) <= I(Λ', X_B; X_A | Λ) = I(X_A; X_B | Λ) + I(Λ'; X_A | X_B, Λ)
    <= I(X_A; X_B | Λ) + H(Λ' | X_B)``,

    so ``H(Λ'|Λ) <= ε_med + H(Λ'|X_A) + H(Λ'|X_B) <= ε_med + 2 ε_red``. So a latent that
    mediates between the blocks fixes, up to these errors, every latent that each block alone
    determines. The result reports both sides and the slack.

    Parameters
    ----------
    joint : numpy.ndarray or xarray.DataArray
        ``P(X_1, .., X_n, Λ, Λ')``, validated as in :func:`natural_latent_errors`.
    mediator, redund : int or str
        Axis indices (numpy) or dim names (DataArray) of ``Λ`` and ``Λ'``.
    observables : sequence of str, optional
        As in :func:`natural_latent_errors`.
    partition : (A, B), optional
        Blocks of observables; default the first ``n // 2`` and the rest.

    Returns
    -------
    MediatorRedundCheck

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.dirichlet(np.ones(2 * 3 * 2 * 2)).reshape(2, 3, 2, 2)
    >>> c = mediator_determines_redund(p, mediator=2, redund=3)
    >>> c.holds, c.slack >= 0, round(c.rhs - c.slack - c.lhs, 12)
    (True, True, 0.0)
    """
    p, names, lat, _ = _as_joint(joint, [mediator, redund], observables, "joint")
    if len(names) < 2:
        raise DeclarationError(f"the joint has {len(names)} observable{'s' if len(names) != 1 else ''} besides the "
                               f"two latents; the two blocks A and B need at least 2 observables")
    a, b = _partition(partition, names)
    n = len(names)
    med_ax, red_ax = n, n + 1
    p_obs_med = p.sum(axis=red_ax)  # (X, Λ)
    h_med = _entropy(p_obs_med.sum(axis=tuple(range(n))))
    h_both = _entropy(p.sum(axis=tuple(range(n))))
    lhs = max(h_both - h_med, 0.0)  # H(Λ'|Λ) = H(Λ, Λ') - H(Λ)
    h_all = _entropy(p_obs_med)
    h_a_med = _entropy(p_obs_med.sum(axis=b))
    h_b_med = _entropy(p_obs_med.sum(axis=a))
    eps_med = max(h_a_med + h_b_med - h_all - h_med, 0.0)
    p_obs_red = p.sum(axis=med_ax)  # (X, Λ')
    reds = []
    for other in (b, a):  # H(Λ'|X_A) sums out B, H(Λ'|X_B) sums out A
        m = p_obs_red.sum(axis=other)
        reds.append(max(_entropy(m) - _entropy(m.sum(axis=-1)), 0.0))
    eps_red = max(reds)
    rhs = eps_med + 2.0 * eps_red
    return MediatorRedundCheck(
        mediator=lat[0], redund=lat[1], partition=(tuple(names[i] for i in a), tuple(names[i] for i in b)),
        lhs=float(lhs), eps_med=float(eps_med), redundancy_a=float(reds[0]), redundancy_b=float(reds[1]),
        eps_red=float(eps_red), rhs=float(rhs), slack=float(rhs - lhs), holds=bool(lhs <= rhs + _ROUNDING),
    )


def latent_class_joint(class_shares: Any, response: Sequence[Any]) -> np.ndarray:
    """The joint ``π_k Π_j θ_j[k, x_j]`` of a latent class model, latent axis last.

    Parameters
    ----------
    class_shares : array_like
        ``(K,)`` ``P(Λ = k)``.
    response : sequence of array_like
        For each observable j, ``(K, L_j)`` ``P(X_j = l | Λ = k)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(L_1, .., L_J, K)``.

    Examples
    --------
    >>> p = latent_class_joint([0.5, 0.5], [np.eye(2), np.eye(2)])
    >>> p[0, 0].tolist(), p[0, 1].tolist()
    ([0.5, 0.0], [0.0, 0.0])
    """
    pi = np.asarray(class_shares, dtype=np.float64)
    K, J = len(pi), len(response)
    out = pi.reshape((K,) + (1,) * J)
    for j, th in enumerate(response):
        th = np.asarray(th, dtype=np.float64)
        if th.ndim != 2 or th.shape[0] != K:
            raise DeclarationError(f"response[{j}] has shape {th.shape}; expected ({K}, L) for {K} classes")
        shape = [K] + [1] * J
        shape[j + 1] = th.shape[1]
        out = out * th.reshape(shape)
    return np.moveaxis(out, 0, -1)


# ---------------------------------------------------------------------------
# latent class fits
# ---------------------------------------------------------------------------






def _answer_table(fit: Any) -> tuple[np.ndarray, int]:
    """(Q, J) answer codes in the columns of ``fit.response`` (-1: none); questions with a repeated answer get -2."""
    r = fit.reports
    Q, J = r.n_questions, r.n_traders
    code = r.label if fit.model == "dawid-skene" else r.answer
    has = code >= 0
    q, t, c = r.question[has], r.trader[has], code[has]
    table = np.full((Q, J), -1, dtype=np.int64)
    table[q, t] = c
    counts = np.bincount(q * J + t, minlength=Q * J).reshape(Q, J)
    repeated = (counts > 1).any(axis=1)
    table[repeated] = -2
    return table, int(repeated.sum())


@dataclass
class _Book:
    """The questions that enter the empirical joint, grouped by answer pattern."""

    patterns: np.ndarray  # (P, J) codes, -1 missing
    which: np.ndarray  # (Q_kept,) pattern of each kept question
    kept: np.ndarray  # (Q_kept,) question indices
    n_levels: tuple[int, ...]
    notes: tuple[str, ...]


def _book(fit: Any, missing: str) -> _Book:
    table, n_rep = _answer_table(fit)
    Q = len(table)
    notes = []
    keep = np.ones(Q, dtype=bool)
    if n_rep:
        keep &= table[:, 0] != -2
        msg = (f"{n_rep} of {Q} questions dropped: a trader answered them more than once, so they have no single "
               f"answer pattern")
        notes.append(msg)
        warn(msg)
    incomplete = keep & (table < 0).any(axis=1)
    n_inc = int(incomplete.sum())
    if n_inc and missing == "drop":
        keep &= ~incomplete
        msg = (f"{n_inc} of {Q} questions dropped because some trader did not answer them (missing='drop'); "
               f"missing='impute' keeps them, filling missing answers from the fitted P(answer | class)")
        notes.append(msg)
        warn(msg)
    elif n_inc:
        notes.append(f"missing answers of {n_inc} of {Q} questions filled in from the fitted P(answer | class) "
                     f"(missing='impute')")
    kept = np.flatnonzero(keep)
    if not len(kept):
        raise InferenceError(f"no question of the {Q} has one answer from every trader, so the empirical joint is "
                             f"empty; use missing='impute' or source='model'")
    patterns, inverse = np.unique(table[kept], axis=0, return_inverse=True)
    return _Book(patterns=patterns, which=inverse.reshape(-1), kept=kept,
                 n_levels=tuple(int(r.shape[1]) for r in fit.response), notes=tuple(notes))


def _pattern_posterior(book: _Book, shares: np.ndarray, response: Sequence[np.ndarray]) -> np.ndarray:
    """(P, K) ``P(class | the pattern's observed answers)`` under the given parameters."""
    with np.errstate(divide="ignore"):
        ll = np.broadcast_to(np.log(shares), (len(book.patterns), len(shares))).copy()
        for j, th in enumerate(response):
            x = book.patterns[:, j]
            seen = x >= 0
            ll[seen] += np.log(th[:, x[seen]]).T
    m = ll.max(axis=1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.exp(ll - m)
    tot = e.sum(axis=1, keepdims=True)
    return np.divide(e, tot, out=np.full_like(e, 1.0 / e.shape[1]), where=tot > 0)


def _empirical_joint(book: _Book, weights: np.ndarray, response: Sequence[np.ndarray]) -> np.ndarray:
    """``P̂(x) P(class | x)``: ``weights`` (P, K) is the class mass of each pattern (summing to 1 overall)."""
    K = weights.shape[1]
    shape = book.n_levels + (K,)
    joint = np.zeros(shape)
    complete = (book.patterns >= 0).all(axis=1)
    if complete.any():
        flat = joint.reshape(-1, K)
        idx = np.ravel_multi_index(tuple(book.patterns[complete].T), book.n_levels)
        np.add.at(flat, idx, weights[complete])
    for p in np.flatnonzero(~complete):
        x = book.patterns[p]
        miss = np.flatnonzero(x < 0)
        # the pattern's class mass spread over its missing answers: axes (missing traders..., class)
        block = latent_class_joint(weights[p], [response[j] for j in miss])
        joint[tuple(slice(None) if v < 0 else int(v) for v in x)] += block
    return joint


def _check_fit_cells(n_levels: Sequence[int], K: int, max_cells: int, names: Sequence[str]) -> None:
    cells = K
    for L in n_levels:
        cells *= int(L)
    if cells > max_cells:
        shown = ", ".join(f"{n}: {L}" for n, L in list(zip(names, n_levels, strict=True))[:10])
        more = ", ..." if len(names) > 10 else ""
        raise DeclarationError(
            f"the joint of {len(names)} observables (levels {shown}{more}) and {K} classes has {cells:,} cells, above "
            f"max_cells={max_cells:,}; pass a larger max_cells (8 bytes per cell) or fit on fewer traders"
        )


def _state_of(obj: Any) -> Any:
    """A LatentMarket's or LatentState's state, or None for other objects."""
    module = type(obj).__module__
    if module != "deepmarkets.models.latent_market":
        return None
    from deepmarkets.models.latent_market import LatentMarket, LatentState

    if isinstance(obj, LatentMarket):
        return obj.state
    if isinstance(obj, LatentState):
        return obj
    return None


def _draw_parameters(fit: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Posterior draws: positions (S, 2), shares (S, K), response (S, J, K, L) and each trader's level columns."""
    post = read_posterior(fit.idata)
    C, D = post.chains, post.draws
    share = post.flat("class_share").astype(np.float64)
    resp = post.flat("response").astype(np.float64)  # (S, J, K, L_all)
    labels = list(post.coords["level"])
    if fit.model == "dawid-skene":
        cols = [np.arange(len(labels)) for _ in range(fit.reports.n_traders)]
    else:
        where = {v: i for i, v in enumerate(labels)}
        cols = [np.array([where[str(v)] for v in lv], dtype=np.int64) for lv in fit.reports.levels]
    pos = np.stack(np.meshgrid(np.arange(C), np.arange(D), indexing="ij"), axis=-1).reshape(-1, 2)
    return pos, share, resp, cols


def fit_natural_latent_errors(fit: Any, *, source: str = "empirical", missing: str = "drop", partition: Any = None,
                              tolerance: float = 0.1, normalise: bool = True, max_cells: int = 2**20,
                              max_draws: int = 200, interval: float = INTERVAL_PROB,
                              rng: int | np.random.Generator | None = None) -> NaturalLatentReport:
    """Natural-latent errors of the latent class of a fitted model (EM or NUTS) or a latent market.

    The observables are the traders' answers (one axis per trader, its levels), the latent is
    the class. Two joints can be examined:

    ``source="empirical"``
        ``P̂(x) P(class | x)``: the empirical distribution of the questions' answer patterns
        times the fit's posterior class probabilities of each question. This asks whether the
        class the traders' bets reveal makes the traders' *observed* answers independent and
        can be read off any subset of them.
    ``source="model"``
        The fitted model's own joint ``π_k Π_j θ_j[k, x_j]``. Its mediation error is 0 by
        construction (the model assumes it); its redundancy errors say how well the model's
        classes can be recovered with one trader left out.

    The empirical errors are plug-in estimates: with few questions per answer pattern the
    mediation error is biased upwards (by roughly the number of cells of the joint, less its
    free parameters, over ``2 Q ln 2`` bits for ``Q`` questions), so compare it with the
    ``"model"`` value and prefer books with many questions per pattern.

    Relabelling the classes changes no error, so the label switching of a posterior needs no
    care here. For a NUTS fit the errors are also computed per posterior draw (class shares,
    response tables and, for ``"empirical"``, each pattern's class probabilities under that
    draw) and summarised by the posterior mean and an equal-tailed credible interval in
    ``report.draws``; the report's own numbers are those of the posterior-mean estimate.

    Parameters
    ----------
    fit : LatentClassFit, LatentMarket or LatentState
        A categorical fit (``"lca"`` or ``"dawid-skene"``) from :func:`~deepmarkets.models.infer.infer`,
        :func:`~deepmarkets.models.em.fit_em` or :func:`~deepmarkets.models.nuts.fit_nuts`; or a
        latent market (its current state) or one of its states, with ``source="model"``.
    source : {"empirical", "model"}, default "empirical"
    missing : {"drop", "impute"}, default "drop"
        Questions some trader did not answer: ``"drop"`` leaves them out of the empirical joint
        (with a warning that says how many); ``"impute"`` keeps them, spreading each over the
        missing answers by the fitted ``P(answer | class)``. Questions a trader answered more
        than once are always dropped (with a warning).
    partition : (A, B), optional
        Blocks of traders (ids or positions) for the two-block errors; default first half / rest.
    tolerance : float, default 0.1
    normalise : bool, default True
        As in :func:`natural_latent_errors`.
    max_cells : int, default 2**20
        Largest joint (product of the traders' levels times K) built; larger ones are refused.
    max_draws : int, default 200
        Posterior draws used at most (a seeded random subset when there are more).
    interval : float, default 0.9
        Mass of the equal-tailed credible intervals.
    rng : int, numpy.random.Generator or None
        Seeds the subset of draws.

    Returns
    -------
    NaturalLatentReport
        With ``source`` set, notes on dropped questions, and ``draws`` for a NUTS fit.

    Raises
    ------
    DeclarationError
        For something other than a categorical fit or latent market, fewer than 2 traders, a bad
        option, or a joint above ``max_cells``.
    InferenceError
        When no question is left for the empirical joint.

    Examples
    --------
    >>> from deepmarkets.models.data import Reports
    >>> from deepmarkets.models.em import fit_em
    >>> from deepmarkets.models.simulate import simulate_reports
    >>> book, _, _ = simulate_reports(2000, 6, classes=2, levels=2, separation=4.0, rng=1)
    >>> fit = fit_em(Reports.from_book(book), model="lca", classes=2, rng=0)
    >>> r = fit_natural_latent_errors(fit)
    >>> r.natural, r.mediation < 0.1
    (True, True)
    >>> round(fit_natural_latent_errors(fit, source="model").mediation, 10)
    0.0
    """
    tolerance = _tolerance(tolerance)
    if source not in _SOURCES:
        raise DeclarationError(f"source={source!r}; expected 'empirical' (observed answer patterns times the "
                               f"posterior) or 'model' (the fitted model's joint)")
    if missing not in _MISSING:
        raise DeclarationError(f"missing={missing!r}; expected 'drop' or 'impute'")
    max_cells = whole_number(max_cells, "max_cells", 1)
    max_draws = whole_number(max_draws, "max_draws", 1)
    if isinstance(interval, bool) or not isinstance(interval, int | float | np.integer | np.floating) \
            or not 0 < interval < 1:
        raise DeclarationError(f"interval={interval!r}; expected a probability in (0, 1), e.g. 0.9")
    normalise = bool(normalise)

    state = _state_of(fit)
    if state is not None:
        if source != "model":
            raise DeclarationError("a latent market has no observed answers: use source='model' (its current joint)")
        names = tuple(str(v) for v in state.observables)
        _check_fit_cells([len(lv) for lv in state.levels], state.n_classes, max_cells, names)
        p = latent_class_joint(state.prior, state.tables)
        return _report(p / p.sum(), names, "class", partition, tolerance, normalise, "model", ())

    from deepmarkets.models.fit import LatentClassFit

    if not isinstance(fit, LatentClassFit):
        raise DeclarationError(f"fit is a {type(fit).__name__}; expected a LatentClassFit (from infer, fit_em or "
                               f"fit_nuts), a LatentMarket or a LatentState")
    if fit.model not in ("lca", "dawid-skene"):
        raise DeclarationError(f"fit is a {fit.model!r} model; natural-latent errors need categorical answers "
                               f"('lca' or 'dawid-skene'); bin the forecasts into levels and fit model='lca'")
    names = tuple(str(t) for t in fit.reports.traders)
    if len(names) < 2:
        raise DeclarationError(f"the fit has {len(names)} trader; natural-latent errors need at least 2 observables")
    K = fit.n_classes
    n_levels = [int(r.shape[1]) for r in fit.response]
    _check_fit_cells(n_levels, K, max_cells, names)
    shares = np.asarray(fit.class_shares, dtype=np.float64)
    response = [np.asarray(r, dtype=np.float64) for r in fit.response]
    part = partition

    if source == "model":
        book = None
        p = latent_class_joint(shares, response)
        notes: tuple[str, ...] = ()
    else:
        book = _book(fit, missing)
        post = np.asarray(fit.posterior, dtype=np.float64)[book.kept]
        weights = np.zeros((len(book.patterns), K))
        np.add.at(weights, book.which, post)
        p = _empirical_joint(book, weights / len(book.kept), response)
        notes = book.notes
    report = _report(p / p.sum(), names, "class", part, tolerance, normalise, source, notes)

    if fit.idata is not None and _has_posterior(fit.idata):
        report.draws = _per_draw(fit, book, report, max_draws=max_draws, interval=float(interval), rng=rng)
    return report


def _has_posterior(idata: Any) -> bool:
    try:
        post = read_posterior(idata)
    except InferenceError:
        return False
    return "class_share" in post and "response" in post


def _per_draw(fit: Any, book: _Book | None, report: NaturalLatentReport, *, max_draws: int, interval: float,
              rng: Any) -> NaturalLatentDraws:
    gen = as_rng(rng)
    pos, share, resp, cols = _draw_parameters(fit)
    total = len(share)
    chosen = np.arange(total) if total <= max_draws else np.sort(gen.choice(total, size=max_draws, replace=False))
    names = report.observables
    part = report.partition
    values: dict[str, list[float]] = {}
    normed: dict[str, list[float]] = {}
    natural = []
    for s in chosen:
        th = [resp[s, j][:, cols[j]] for j in range(len(cols))]
        pi = share[s]
        if book is None:
            p = latent_class_joint(pi, th)
        else:
            w = _pattern_posterior(book, pi, th) * np.bincount(book.which, minlength=len(book.patterns))[:, None]
            p = _empirical_joint(book, w / len(book.kept), th)
        r = _report(p / p.sum(), names, report.latent, part, report.tolerance, report.normalise, report.source, ())
        for k, v in r.errors().items():
            values.setdefault(k, []).append(v)
        for k, v in r.errors(normalised=True).items():
            normed.setdefault(k, []).append(v)
        values.setdefault("mutual_information", []).append(r.mutual_information)
        natural.append(r.natural)
    return NaturalLatentDraws(values={k: np.asarray(v) for k, v in values.items()},
                              normalised={k: np.asarray(v) for k, v in normed.items()},
                              natural=np.asarray(natural, dtype=bool), draws=pos[chosen], interval=interval,
                              total_draws=int(total))


# ---------------------------------------------------------------------------
# plot
# ---------------------------------------------------------------------------


@styled
def plot_natural_latent(report: NaturalLatentReport, *, normalised: bool | None = None, per_observable: bool = True,
                        ax: Any = None):
    """Bar chart of the natural-latent errors with the tolerance line.

    Parameters
    ----------
    report : NaturalLatentReport
    normalised : bool, optional
        Plot errors divided by ``I(X; Λ)``; default the scale the verdict used.
    per_observable : bool, default True
        Also show ``H(Λ | X_{-i})`` and ``I(Λ; X_i | X_{-i})`` of every observable (else only
        their maxima).
    ax : matplotlib.axes.Axes, optional
        Drawn there when given, else on a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        ``ax.figure`` when ``ax`` was given.

    Notes
    -----
    With posterior draws (a NUTS fit), a black line spans each error's credible interval and a
    dot marks its posterior mean; the bars are the posterior-mean estimate.
    """
    if not isinstance(report, NaturalLatentReport):
        raise DeclarationError(f"plot_natural_latent takes a NaturalLatentReport, got a {type(report).__name__}")
    if normalised is None:
        normalised = report.normalise and report.informative
    if normalised and not report.informative:
        raise DeclarationError("the normalised errors are undefined (I(X; Λ) = 0); plot with normalised=False")
    errors = report.errors(normalised=bool(normalised))
    keys = ["mediation", "mediation_two_block", "redundancy_A", "redundancy_B"]
    if per_observable:
        keys += [f"deterministic_redundancy[{n}]" for n in report.observables]
        keys += [f"stochastic_redundancy[{n}]" for n in report.observables]
    else:
        keys += ["max_deterministic_redundancy", "max_stochastic_redundancy"]
    L = report.latent
    label = {"mediation": "mediation", "mediation_two_block": "I(X_A;X_B|" + L + ")",
             "redundancy_A": f"H({L}|X_A)", "redundancy_B": f"H({L}|X_B)",
             "max_deterministic_redundancy": f"max H({L}|X_-i)", "max_stochastic_redundancy": f"max I({L};X_i|X_-i)"}
    for n in report.observables:
        label[f"deterministic_redundancy[{n}]"] = f"H({L}|X_-{n})"
        label[f"stochastic_redundancy[{n}]"] = f"I({L};{n}|rest)"
    bars = len(report.observables) if per_observable else 1
    colour = [COLOURS[0]] * 2 + [COLOURS[1]] * 2 + [COLOURS[2]] * bars + [COLOURS[3]] * bars
    fig, ax = figure_and_axes(ax, figsize=(max(5.0, 0.45 * len(keys) + 1.5), 4.2))
    x = np.arange(len(keys))
    ax.bar(x, [errors[k] for k in keys], color=colour, alpha=0.8)
    if report.draws is not None:
        s = report.draws.summary(normalised=bool(normalised))
        lo = np.array([s[k]["lower"] for k in keys])
        hi = np.array([s[k]["upper"] for k in keys])
        mean = np.array([s[k]["mean"] for k in keys])
        ax.vlines(x, lo, hi, color="k", lw=1.5, label=f"{report.draws.interval:.0%} credible interval")
        ax.plot(x, mean, "o", color="k", ms=3, label="posterior mean")
    ax.axhline(report.tolerance, color="grey", ls="--", lw=1, label=f"tolerance {report.tolerance:g}")
    ax.set_xticks(x)
    ax.set_xticklabels([label[k] for k in keys], rotation=60, ha="right", fontsize="small")
    ax.set_xlabel("error term")
    ax.set_ylabel(f"error / I(X;{L}) (fraction)" if normalised else "error (bits)")
    ax.set_title(("natural" if report.natural else "not natural") + f" ({report.source}); "
                 f"I(X;{L}) = {report.mutual_information:.3g} bits")
    ax.legend(loc="upper right")
    return fig
