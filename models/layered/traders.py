"""Traders of a layered latent market: movers of parameters and entrepreneurs of structure.

A trader looks at the market's state and all the data the market has (``plan``) and returns a
:class:`Plan`: a *rule* ``(state, x) -> state'`` and what kind of trade it is. The market applies
the same rule to its state fitted on all the data and to each cross-fitting state fitted without
one fold, and pays the trader the held-out gain in log score (see
:class:`~deepmarkets.models.layered.market.LayeredLatentMarket`). A trader may return ``None``
to sit a round out.

:class:`EMTrader`
    One EM step on the parameter blocks it trades (weights, means, shapes): a local mover.
:class:`GradientTrader`
    A gradient-ascent step on the means.
:class:`Specialist`
    The conditional M-step of the means of a subset of the variables.
:class:`Restarter`
    Refits the structure from fresh starts when local moves are stuck.
:class:`Entrepreneur`
    Changes the structure: splits a location state (entry as two identical copies, then the
    copies moved apart along one of the state's principal axes and refitted), merges one into
    another, or groups location states
    under a coarse layer of shared shapes (inserting the layer as an identity map, then joining
    two shape states). It chooses the change with the best in-sample gain net of the rent the
    new structure pays; the market pays it only what the change earns on held-out data.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> x = np.concatenate([rng.normal(-3, 1, (60, 1)), rng.normal(3, 1, (60, 1))])
>>> s = LayeredState.from_arrays([1.0], [[0.0]], [[9.0]])
>>> plan = Entrepreneur(max_states=2).plan(s, x, rng)
>>> plan.kind, plan.rule(s, x).n_states
('split', 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers.validate import positive_float, whole_number
from deepmarkets.models.layered.categorical import CategoricalState
from deepmarkets.models.layered.em import BLOCKS, em_step, from_responsibilities, subset_means
from deepmarkets.models.layered.state import LayeredState

__all__ = ["Plan", "EMTrader", "GradientTrader", "Specialist", "Entrepreneur", "Restarter", "split_apart",
           "gradient_step", "rent_per_parameter"]

Rule = Callable[[LayeredState, np.ndarray], LayeredState]


def rent_per_parameter(rent: str | float, n: int) -> float:
    """Rent, in nats per pass over ``n`` data, of one free parameter.

    ``"bic"`` is ``log(n)/2`` (``log(n)/(2n)`` per datum: BIC's penalty), ``"aic"`` is 1 (AIC's);
    a number is taken as the rent per parameter per pass.
    """
    if rent == "bic":
        return float(np.log(n) / 2.0)
    if rent == "aic":
        return 1.0
    if isinstance(rent, int | float) and not isinstance(rent, bool) and np.isfinite(rent) and rent >= 0:
        return float(rent)
    raise DeclarationError(f"rent={rent!r}; expected 'bic', 'aic' or a non-negative number of nats per parameter")


@dataclass(frozen=True)
class Plan:
    """A trade a trader wants to make: ``rule`` applied to every copy of the market's state.

    ``kind`` is ``"move"`` (parameters only), ``"split"``, ``"layer"`` (insert the coarse layer
    and join two shape states) or ``"join"``; ``label`` says what in words.
    """

    rule: Rule
    kind: str = "move"
    label: str = ""


class EMTrader:
    """One EM step on ``blocks`` (default all: weights, means and shapes) per round."""

    def __init__(self, name: str = "em", *, blocks: Iterable[str] = BLOCKS):
        self.name = str(name)
        self.blocks = tuple(blocks)
        if not self.blocks or set(self.blocks) - set(BLOCKS):
            raise DeclarationError(f"blocks={self.blocks!r}; expected a non-empty subset of {BLOCKS}")

    def plan(self, state: LayeredState, x: np.ndarray, rng: np.random.Generator) -> Plan:
        blocks = self.blocks
        return Plan(lambda s, data: em_step(s, data, blocks=blocks), "move", f"EM step on {', '.join(blocks)}")

    def __repr__(self) -> str:
        return f"EMTrader({self.name!r}, blocks={self.blocks})"


class Specialist:
    """Moves the means of a subset of the variables only (their conditional M-step)."""

    def __init__(self, variables: Sequence[int], name: str | None = None):
        self.variables = np.array(sorted(set(int(v) for v in variables)), dtype=np.int64)
        if len(self.variables) == 0:
            raise DeclarationError("a specialist needs at least one variable")
        self.name = name or "specialist[" + ",".join(map(str, self.variables)) + "]"

    def plan(self, state: LayeredState, x: np.ndarray, rng: np.random.Generator) -> Plan:
        if self.variables.max() >= state.dim:
            raise DeclarationError(f"{self.name} trades variables {self.variables.tolist()}, but the data have "
                                   f"{state.dim} columns")
        v = self.variables
        return Plan(lambda s, data: subset_means(s, data, v), "move", f"means of variables {v.tolist()}")

    def __repr__(self) -> str:
        return f"Specialist({self.variables.tolist()})"


def gradient_step(state: LayeredState, x: np.ndarray, rate: float) -> LayeredState:
    """The means moved ``rate`` times the gradient of the mean log-likelihood,
    ``(1/n) Σ_i r_ia Σ_{g(a)}⁻¹ (x_i - μ_a)``."""
    if isinstance(state, CategoricalState):
        raise DeclarationError("gradient steps move Gaussian means; categorical states have none")
    resp, _ = state.responsibilities(x)
    cov = state.covariances()
    means = state.means.copy()
    for a in range(state.n_states):
        pull = resp[:, a] @ (x - state.means[a]) / len(x)
        means[a] += rate * np.linalg.solve(cov[state.shape_of[a]], pull)
    return state.with_arrays(means=means)


class GradientTrader:
    """A gradient-ascent step on the means per round (a mover that is not EM)."""

    def __init__(self, name: str = "gradient", *, rate: float = 0.5):
        self.name = str(name)
        self.rate = positive_float(rate, "rate")

    def plan(self, state: LayeredState, x: np.ndarray, rng: np.random.Generator) -> Plan:
        rate = self.rate
        return Plan(lambda s, data: gradient_step(s, data, rate), "move", f"gradient step on the means ({rate:g})")

    def __repr__(self) -> str:
        return f"GradientTrader({self.name!r}, rate={self.rate:g})"


def _axes(state: LayeredState, a: int) -> tuple[np.ndarray, np.ndarray]:
    """The principal axes of location state ``a``'s shape (rows) and their variances, largest first."""
    if state.emission == "diag":
        shape = state.shapes[state.shape_of[a]]
        order = np.argsort(-shape, kind="stable")
        return np.eye(state.dim)[order], shape[order]
    shape = state.covariances()[state.shape_of[a]]
    vals, vecs = np.linalg.eigh(shape)
    vecs = vecs[:, ::-1].T
    signs = np.sign(vecs[np.arange(len(vecs)), np.argmax(np.abs(vecs), axis=1)])
    return vecs * signs[:, None], vals[::-1]


def _refitted(state: LayeredState, x: np.ndarray, steps: int) -> LayeredState:
    for _ in range(steps):
        state = em_step(state, x)
    return state


def split_apart(state: LayeredState, a: int, x: np.ndarray, *, axis: int = 0, steps: int = 10) -> LayeredState:
    """Location state ``a`` split into two copies moved ``±`` half a standard deviation along its principal axis
    number ``axis`` (0 = the largest variance), then ``steps`` EM steps. A categorical state's copies lean to
    the lower and the upper answers of column ``axis``."""
    if isinstance(state, CategoricalState):
        return _refitted(state.split_along(a, axis), x, steps)
    vecs, vals = _axes(state, a)
    s = state.split_copy(a)
    means = s.means.copy()
    delta = 0.5 * np.sqrt(max(vals[axis], 0.0)) * vecs[axis]
    means[a] += delta
    means[-1] -= delta
    return _refitted(s.with_arrays(means=means), x, steps)


def _joined(state: LayeredState, g: int, into: int, x: np.ndarray, steps: int) -> LayeredState:
    return _refitted(state.joined(g, into), x, steps)


class Entrepreneur:
    """Grows, prunes and groups structure: splits location states up to ``max_states``, merges one into
    another, and with ``layer=True`` groups them under shape states.

    Parameters
    ----------
    max_states : int
        The most location states it will create.
    layer : bool
        Whether it may insert the coarse layer and join shape states.
    steps : int
        EM steps after a split or a join when changes are first compared; the best ``candidates``
        are refitted with five times as many, and the trade is made with that many.
    rent : {"bic", "aic"} or float
        The rent it expects to pay per parameter per pass (its own estimate of profit).
    candidates : int
        Changes (the best per element changed) refitted with more EM steps before choosing.
    axes : int
        Splits tried per location state: along its principal axes, largest variance first.
    """

    def __init__(self, name: str = "entrepreneur", *, max_states: int = 6, layer: bool = False, steps: int = 10,
                 rent: str | float = "bic", candidates: int = 6, axes: int = 16):
        self.name = str(name)
        self.max_states = whole_number(max_states, "max_states", 1)
        self.layer = bool(layer)
        self.steps = whole_number(steps, "steps", 0)
        self.rent = rent
        self.candidates = whole_number(candidates, "candidates", 1)
        self.axes = whole_number(axes, "axes", 1)

    def _candidates(self, state: LayeredState, rent: float) -> list[tuple[float, Callable, str, str, int, str]]:
        """(rent change, rule factory, kind, label, EM steps for a first look, the element changed) of every
        change considered."""
        out = []
        if state.n_states < self.max_states:
            extra = state.split_copy(0).n_parameters - state.n_parameters
            for a in range(state.n_states):
                for axis in range(min(self.axes, state.dim)):
                    def make(steps, a=a, axis=axis):
                        return lambda s, data: split_apart(s, a, data, axis=axis, steps=steps)
                    out.append((-rent * extra, make, "split", f"split {state.ids[a]} along axis {axis + 1}",
                                self.steps, state.ids[a]))
        for a in range(state.n_states):
            for b in range(state.n_states):
                if a != b:
                    saved = rent * (state.n_parameters - state.merged(a, b).n_parameters)

                    def make(steps, a=a, b=b):
                        return lambda s, data: _refitted(s.merged(a, b), data, steps)
                    out.append((saved, make, "merge", f"{state.ids[b]} merges into {state.ids[a]}", 0,
                                "merge " + state.ids[b]))
        if self.layer and state.n_states >= 2 and not isinstance(state, CategoricalState):
            insert = not state.layered
            ids = state.with_layer().shape_ids if insert else state.shape_ids
            saved = rent * (state.shape_size - (1 if insert else 0))
            for g in range(len(ids)):
                for into in range(len(ids)):
                    if g != into:
                        def make(steps, g=g, into=into):
                            return lambda s, data: _joined(s.with_layer() if insert else s, g, into, data, steps)
                        out.append((saved, make, "layer" if insert else "join", f"{ids[g]} joins {ids[into]}", 0,
                                    ids[g]))
        return out

    def _score(self, rule: Rule, state: LayeredState, x: np.ndarray, base: float) -> float | None:
        try:
            with np.errstate(divide="raise", over="raise", invalid="raise"):
                return float(rule(state, x).log_q(x).sum()) - base
        except (np.linalg.LinAlgError, DeclarationError, FloatingPointError):
            return None

    def plan(self, state: LayeredState, x: np.ndarray, rng: np.random.Generator) -> Plan | None:
        """The change with the best gain in log score net of the rent it adds or saves, if positive.

        Every change is first scored after ``steps`` EM steps; the best change of each element is
        kept, the best ``candidates`` of those are refitted with ``5 × steps`` EM steps, and the
        best of them is proposed with that many steps.
        """
        rent = rent_per_parameter(self.rent, len(x))
        base = float(state.log_q(x).sum())
        first: dict[str, tuple] = {}                 # the best first look per element changed
        for delta, make, kind, label, steps, element in self._candidates(state, rent):
            gain = self._score(make(steps), state, x, base)
            if gain is not None and (element not in first or gain + delta > first[element][0]):
                first[element] = (gain + delta, delta, make, kind, label)
        best = None
        for _, delta, make, kind, label in sorted(first.values(), key=lambda c: -c[0])[:self.candidates]:
            gain = self._score(make(5 * self.steps), state, x, base)
            if gain is not None and (best is None or gain + delta > best[0]):
                best = (gain + delta, Plan(make(5 * self.steps), kind, label))
        return best[1] if best is not None and best[0] > 0 else None

    def __repr__(self) -> str:
        return f"Entrepreneur({self.name!r}, max_states={self.max_states}, layer={self.layer})"


def as_trader(obj: Any) -> Any:
    """Check that ``obj`` has a ``name`` and a ``plan(state, x, rng)`` method; return it."""
    if not hasattr(obj, "plan") or not callable(obj.plan) or not isinstance(getattr(obj, "name", None), str):
        raise DeclarationError(f"{obj!r} is not a trader: a trader has a name (str) and a method "
                               f"plan(state, x, rng) returning a Plan or None")
    return obj


def _kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` data points chosen by k-means++ seeding (each next point with probability ∝ squared distance)."""
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = np.min(((x[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        total = d2.sum()
        centres.append(x[rng.choice(len(x), p=d2 / total)] if total > 0 else x[rng.integers(len(x))])
    return np.array(centres)


def restarted(state: LayeredState, x: np.ndarray, centres: np.ndarray, steps: int) -> LayeredState:
    """The same structure refitted from scratch: every row assigned (softly) to its nearest centre, every block
    fitted to those assignments, then ``steps`` EM steps."""
    k = state.n_states
    resp = np.zeros((len(x), k))
    resp[np.arange(len(x)), np.argmin(((x[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)] = 1.0
    return _refitted(from_responsibilities(state, x, 0.9 * resp + 0.1 / k), x, steps)  # nearest centres, softened


class Restarter:
    """Refits the current structure from ``starts`` fresh k-means++ starts and proposes the best, if it beats the
    market's state in-sample: a global move for when local EM steps are stuck.
    """

    def __init__(self, name: str = "restarter", *, starts: int = 5, steps: int = 100):
        self.name = str(name)
        self.starts = whole_number(starts, "starts", 1)
        self.steps = whole_number(steps, "steps", 1)

    def plan(self, state: LayeredState, x: np.ndarray, rng: np.random.Generator) -> Plan | None:
        if state.n_states < 2:
            return None
        base = float(state.log_q(x).sum())
        best = None
        for _ in range(self.starts):
            seed = int(rng.integers(2**31))
            centres = _kmeans_pp(x, state.n_states, np.random.default_rng(seed))
            try:
                with np.errstate(divide="raise", over="raise", invalid="raise"):
                    gain = float(restarted(state, x, centres, self.steps).log_q(x).sum()) - base
            except (np.linalg.LinAlgError, DeclarationError, FloatingPointError):
                continue
            if gain > 0 and (best is None or gain > best[0]):
                best = (gain, seed)
        if best is None:
            return None
        seed, steps, k = best[1], self.steps, state.n_states

        def rule(s, data):
            return restarted(s, data, _kmeans_pp(data, k, np.random.default_rng(seed)), steps)
        return Plan(rule, "move", f"refit from a fresh start (seed {seed})")

    def __repr__(self) -> str:
        return f"Restarter({self.name!r}, starts={self.starts})"
