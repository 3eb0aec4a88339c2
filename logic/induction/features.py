"""Expressible features (Garrabrant et al. 2016, §A.2) and their shared numpy expression graph.

A :class:`Feature` is a symbolic, hash-consed expression over market prices: constants, the
price of a sentence on the current day (``lag=0``), on an earlier day (``lag >= 1``) or on an
absolute day, and the operations ``+``, ``×``, ``max``, ``min`` and ``1 / max(1, x)``. Features
are built once by the user; a :class:`FeatureGraph` compiles them (memoised by structure, so a
feature used by many traders or on many days becomes one node) into flat arrays evaluated level
by level with numpy, for a whole batch of candidate price vectors at once, or exactly in
:class:`fractions.Fraction` arithmetic for certificates.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any

import numpy as np

from deepmarkets.errors import DeclarationError

__all__ = ["Feature", "FeatureGraph", "const", "price", "fmax", "fmin", "safe_reciprocal", "ramp"]

CONST, NOW, PAST, ADD, MUL, MAX, MIN, RECIP = range(8)
_NARY = (ADD, MUL, MAX, MIN)


class Feature:
    """A symbolic expressible feature: a function of the market's prices (see the module docstring).

    Build features with :func:`price`, :func:`const`, the operators ``+ - *`` and unary ``-``,
    :func:`fmax`, :func:`fmin`, :func:`safe_reciprocal` and :func:`ramp`.

    Examples
    --------
    >>> from deepmarkets.logic import atoms
    >>> a, = atoms("a")
    >>> f = ramp((0.3 - price(a)) / 0.1)
    >>> round(f.evaluate({a: 0.25}), 12)
    0.5
    """

    __slots__ = ("op", "args", "value", "_hash")

    def __init__(self, op: int, args: tuple = (), value: Any = None):
        self.op = op
        self.args = args
        self.value = value
        self._hash = hash((op, args, value))

    # structure ---------------------------------------------------------------------------
    def _key(self):
        return (self.op, self.args, self.value)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Feature) and self._hash == other._hash and self._key() == other._key()

    def __repr__(self) -> str:
        if self.op == CONST:
            return str(self.value)
        if self.op == NOW:
            return f"price({self.value})"
        if self.op == PAST:
            s, kind, k = self.value
            return f"price({s}, {kind}={k})"
        name = {ADD: "+", MUL: "*", MAX: "max", MIN: "min", RECIP: "recip"}[self.op]
        if self.op in (ADD, MUL):
            return "(" + f" {name} ".join(map(repr, self.args)) + ")"
        return f"{name}(" + ", ".join(map(repr, self.args)) + ")"

    # arithmetic --------------------------------------------------------------------------
    def __add__(self, other: Any) -> Feature:
        return _nary(ADD, (self, as_feature(other)))

    __radd__ = __add__

    def __mul__(self, other: Any) -> Feature:
        return _nary(MUL, (self, as_feature(other)))

    __rmul__ = __mul__

    def __neg__(self) -> Feature:
        return self * -1

    def __sub__(self, other: Any) -> Feature:
        return self + (-as_feature(other))

    def __rsub__(self, other: Any) -> Feature:
        return as_feature(other) + (-self)

    def __truediv__(self, other: Any) -> Feature:
        if isinstance(other, Feature):
            raise DeclarationError("features divide only by a nonzero number; use safe_reciprocal(x) for "
                                   "1 / max(1, x)")
        c = const(other).value
        if c == 0:
            raise DeclarationError("a feature was divided by zero; divide by a nonzero number")
        return self * (1 / c)

    def evaluate(self, prices: dict, history: list[dict] | None = None) -> float:
        """The value at current prices ``prices`` (sentence -> price) and past days ``history``."""
        g = FeatureGraph()
        node = g.compile(self)
        keys = list(prices)
        out = g.evaluate(np.array([[float(prices[k])] for k in keys]).reshape(len(keys), 1),
                         {s: i for i, s in enumerate(keys)}, _PastLookup(history or [], len(history or []) + 1))
        return float(out[node, 0])


def as_feature(x: Any) -> Feature:
    """``x`` itself if a :class:`Feature`, else the constant feature ``x``."""
    if isinstance(x, Feature):
        return x
    return const(x)


def const(x: Any) -> Feature:
    """The constant feature ``x`` (stored as an exact rational)."""
    try:
        return Feature(CONST, (), Fraction(repr(x)) if isinstance(x, float) else Fraction(x))
    except (TypeError, ValueError) as err:
        raise DeclarationError(f"a feature constant must be a finite number, got {x!r}") from err


def price(s: Any, *, lag: int = 0, day: int | None = None) -> Feature:
    """The price of sentence ``s`` today (``lag=0``), ``lag`` days ago, or on the absolute ``day``."""
    if day is not None:
        if int(day) < 1:
            raise DeclarationError(f"price(..., day={day}): days count from 1")
        return Feature(PAST, (), (s, "day", int(day)))
    if int(lag) < 0:
        raise DeclarationError(f"price(..., lag={lag}): a lag is >= 0 days")
    if lag == 0:
        return Feature(NOW, (), s)
    return Feature(PAST, (), (s, "lag", int(lag)))


def _nary(op: int, args: Iterable[Feature]) -> Feature:
    flat: list[Feature] = []
    for a in args:
        if a.op == op and op in _NARY:
            flat.extend(a.args)
        else:
            flat.append(a)
    consts = [a for a in flat if a.op == CONST]
    rest = [a for a in flat if a.op != CONST]
    if op in (ADD, MUL) and len(consts) > 1:  # fold constants
        v = consts[0].value
        for c in consts[1:]:
            v = v + c.value if op == ADD else v * c.value
        consts = [Feature(CONST, (), v)]
    if op == MUL and consts and consts[0].value == 0:
        return consts[0]
    if op == MUL and consts and consts[0].value == 1 and rest:
        consts = []
    if op == ADD and consts and consts[0].value == 0 and rest:
        consts = []
    flat = rest + consts
    if len(flat) == 1:
        return flat[0]
    return Feature(op, tuple(flat))


def fmax(*fs: Any) -> Feature:
    """``max`` of features or numbers."""
    return _nary(MAX, [as_feature(f) for f in fs])


def fmin(*fs: Any) -> Feature:
    """``min`` of features or numbers."""
    return _nary(MIN, [as_feature(f) for f in fs])


def safe_reciprocal(x: Any) -> Feature:
    """``1 / max(1, x)``."""
    return Feature(RECIP, (as_feature(x),))


def ramp(x: Any) -> Feature:
    """``max(0, min(1, x))``: the continuous indicator used by the paper's threshold traders."""
    return fmax(0, fmin(1, x))


class _PastLookup:
    """Prices of earlier days for the graph: ``history[k-1]`` maps sentences to day-k prices."""

    def __init__(self, history: list[dict], today: int):
        self.history = history
        self.today = today

    def __call__(self, s, kind: str, k: int, exact: bool = False):
        day = self.today - k if kind == "lag" else k
        if day >= self.today:
            raise DeclarationError(f"price({s}, day={k}) was used on day {self.today}: a feature may use the "
                                   "prices of today (lag=0) and of earlier days only")
        if day < 1:
            return Fraction(1, 2) if exact else 0.5  # before the market opened: the initial price
        v = self.history[day - 1][s]
        return Fraction(v) if exact else float(v)


class FeatureGraph:
    """Compiled features: one node per distinct sub-feature, evaluated level by level with numpy.

    The graph only grows; compiling a feature already seen returns its node without adding any.
    """

    def __init__(self):
        self._memo: dict[Feature, int] = {}
        self.ops: list[int] = []
        self.args: list[tuple[int, ...]] = []
        self.values: list[Any] = []
        self.level: list[int] = []
        self._plans: dict[tuple[int, ...] | None, dict] = {}

    def __len__(self) -> int:
        return len(self.ops)

    def compile(self, f: Feature) -> int:
        """The node of feature ``f`` (added with its sub-features if new)."""
        node = self._memo.get(f)
        if node is not None:
            return node
        kids = tuple(self.compile(a) for a in f.args)
        node = len(self.ops)
        self.ops.append(f.op)
        self.args.append(kids)
        self.values.append(f.value)
        self.level.append(1 + max((self.level[k] for k in kids), default=-1))
        self._memo[f] = node
        self._plans.pop(None, None)
        return node

    def _ancestors(self, outputs: Iterable[int]) -> np.ndarray:
        seen = set()
        stack = list(outputs)
        while stack:
            k = stack.pop()
            if k in seen:
                continue
            seen.add(k)
            stack.extend(self.args[k])
        return np.array(sorted(seen), dtype=np.int64)

    def _build_plan(self, outputs: tuple[int, ...] | None) -> dict:
        all_ops = np.array(self.ops)
        all_level = np.array(self.level)
        live = np.arange(len(self.ops)) if outputs is None else self._ancestors(outputs)
        ops = np.full(len(self.ops), -1)
        ops[live] = all_ops[live]
        level = np.full(len(self.ops), -1)
        level[live] = all_level[live]
        consts = np.flatnonzero(ops == CONST)
        plan = {"const": consts, "const_values": np.array([float(self.values[k]) for k in consts]),
                "now": np.flatnonzero(ops == NOW), "past": np.flatnonzero(ops == PAST), "levels": []}
        for lv in range(1, int(level.max(initial=0)) + 1):
            steps = []
            for op in (ADD, MUL, MAX, MIN, RECIP):
                nodes = np.flatnonzero((level == lv) & (ops == op))
                if not len(nodes):
                    continue
                lens = np.array([len(self.args[k]) for k in nodes])
                flat = np.array([a for k in nodes for a in self.args[k]], dtype=np.int64)
                starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
                steps.append((op, nodes, flat, starts))
            plan["levels"].append(steps)
        return plan

    def evaluate(self, now: np.ndarray, index: dict, past, outputs: Iterable[int] | None = None) -> np.ndarray:
        """Values of every node for a batch of current price vectors.

        ``now`` has shape (number of sentences, batch); ``index`` maps sentences to its rows;
        ``past(s, kind, k)`` gives earlier prices; ``outputs`` restricts the work to the nodes
        these depend on (the others are left undefined). Returns shape (nodes, batch).
        """
        key = None if outputs is None else tuple(sorted(set(outputs)))
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) > 8:
                self._plans.clear()
            plan = self._plans[key] = self._build_plan(key)
        if "past_values" not in plan or plan["past_fn"] is not past:
            plan["past_fn"] = past
            plan["past_values"] = np.array([past(*self.values[k]) for k in plan["past"]])[:, None] \
                if len(plan["past"]) else None
        batch = now.shape[1]
        vals = np.empty((len(self.ops), batch))
        vals[plan["const"]] = plan["const_values"][:, None]
        if plan.get("now_index") is not index:
            rows = []
            for k in plan["now"]:
                s = self.values[k]
                if s not in index:
                    raise DeclarationError(f"a feature uses the price of {s}, which is not one of the market's "
                                           "sentences; add it to the inductor's sentences")
                rows.append(index[s])
            plan["now_index"], plan["now_rows"] = index, np.array(rows, dtype=np.int64)
        if len(plan["now"]):
            vals[plan["now"]] = now[plan["now_rows"]]
        if plan["past_values"] is not None:
            vals[plan["past"]] = plan["past_values"]
        for steps in plan["levels"]:
            for op, nodes, flat, starts in steps:
                x = vals[flat]
                if op == ADD:
                    vals[nodes] = np.add.reduceat(x, starts, axis=0)
                elif op == MUL:
                    vals[nodes] = np.multiply.reduceat(x, starts, axis=0)
                elif op == MAX:
                    vals[nodes] = np.maximum.reduceat(x, starts, axis=0)
                elif op == MIN:
                    vals[nodes] = np.minimum.reduceat(x, starts, axis=0)
                else:
                    vals[nodes] = 1.0 / np.maximum(1.0, x)
        return vals

    def bounds(self, nodes: Iterable[int], past) -> tuple[np.ndarray, np.ndarray]:
        """A bound on ``|f|`` and a Lipschitz constant of ``f`` for each node, over all prices in [0, 1].

        Interval arithmetic carries a range ``[lo, hi]`` and a Lipschitz constant ``L`` (in the
        max-norm of today's prices) up the graph: a price has range [0, 1] and ``L = 1``, a
        constant or a past price ``L = 0``; ``L`` adds under ``+``, is ``L_a |b| + L_b |a|`` under
        ``×``, the largest argument's under max and min, and is divided by ``max(1, lo_x)^2`` under
        ``1 / max(1, x)``. So ``|f(p) - f(p')| <= L max_i |p_i - p'_i|``.

        Examples
        --------
        >>> from deepmarkets.logic import atoms
        >>> a, b = atoms("a b")
        >>> g = FeatureGraph()
        >>> node = g.compile(ramp((1 - price(a) - price(b)) / 0.05))
        >>> size, lip = g.bounds([node], past=None)      # no past prices in this feature
        >>> float(size[0]), float(lip[0])
        (1.0, 40.0)
        """
        nodes = list(nodes)
        order = self._ancestors(nodes)  # children precede their parents (compile adds them first)
        lo: dict[int, float] = {}
        hi: dict[int, float] = {}
        lip: dict[int, float] = {}
        for k in order.tolist():
            op, kids = self.ops[k], self.args[k]
            if op in (CONST, PAST):
                v = float(self.values[k]) if op == CONST else float(past(*self.values[k]))
                lo[k], hi[k], lip[k] = v, v, 0.0
            elif op == NOW:
                lo[k], hi[k], lip[k] = 0.0, 1.0, 1.0
            elif op == ADD:
                lo[k], hi[k], lip[k] = (sum(lo[a] for a in kids), sum(hi[a] for a in kids),
                                        sum(lip[a] for a in kids))
            elif op == MUL:
                lo_k, hi_k, lip_k = lo[kids[0]], hi[kids[0]], lip[kids[0]]
                for a in kids[1:]:
                    corners = (lo_k * lo[a], lo_k * hi[a], hi_k * lo[a], hi_k * hi[a])
                    size_k, size_a = max(-lo_k, hi_k), max(-lo[a], hi[a])
                    lip_k = lip_k * size_a + lip[a] * size_k
                    lo_k, hi_k = min(corners), max(corners)
                lo[k], hi[k], lip[k] = lo_k, hi_k, lip_k
            elif op in (MAX, MIN):
                pick = max if op == MAX else min
                lo[k], hi[k], lip[k] = pick(lo[a] for a in kids), pick(hi[a] for a in kids), max(lip[a] for a in kids)
            else:
                x = kids[0]
                lo[k], hi[k], lip[k] = 1 / max(1.0, hi[x]), 1 / max(1.0, lo[x]), lip[x] / max(1.0, lo[x]) ** 2
        size = np.array([max(-lo[k], hi[k]) for k in nodes])
        return size, np.array([lip[k] for k in nodes])

    def exact(self, nodes: Iterable[int], now: dict, past) -> dict[int, Fraction]:
        """Exact rational values of ``nodes`` given exact current prices ``now`` (sentence -> Fraction)."""
        memo: dict[int, Fraction] = {}

        def ev(k: int) -> Fraction:
            if k in memo:
                return memo[k]
            op = self.ops[k]
            if op == CONST:
                v = self.values[k]
            elif op == NOW:
                v = now[self.values[k]]
            elif op == PAST:
                v = Fraction(past(*self.values[k], exact=True))
            else:
                xs = [ev(a) for a in self.args[k]]
                if op == ADD:
                    v = sum(xs, Fraction(0))
                elif op == MUL:
                    v = Fraction(1)
                    for x in xs:
                        v *= x
                elif op == MAX:
                    v = max(xs)
                elif op == MIN:
                    v = min(xs)
                else:
                    v = 1 / max(Fraction(1), xs[0])
            memo[k] = v
            return v

        return {k: ev(k) for k in nodes}
