"""Declaring a market: securities on sentences, an outcome theory and a market maker.

A market is declared like a small model::

    with Market("weather", theory=["~(rain & snow)"], maker=LMSR(b=10)) as m:
        contract("rain")
        contract("snow")
        contract("~rain & ~snow", name="dry")

On leaving the ``with`` block the market is frozen and validated. Without ``with``,
``Market(...).contract(...)`` works too and the market is frozen on first use
(:meth:`Market.prices`, :meth:`Market.trade`, ...).

Securities
----------
*Contracts* (Arrow-Debreu) pay 1 when their sentence is true. With a complete maker
(LMSR, LS-LMSR, Quadratic) the contracts are the **outcomes**: z3 must show that the
theory entails that exactly one of them is true, and each is possible. The maker
prices these ``n`` outcome contracts, with state ``q`` (units owed in each outcome).

*Index* securities pay ``f(outcome)``, a number determined by the outcome (a
sympy expression of the world's variables, a :class:`~deepmarkets.logic.Term`, a
sentence read as 0/1, or a constant). Buying ``k`` units is the bundle
``q += k f``, costing ``C(q + k f) - C(q)``; the price is ``sum_w p_w f(w)``.

*Conditional* securities ``A | B`` pay 1 if ``A & B``, 0 if ``~A & B`` and refund
the price paid if ``~B``. Buying ``k`` units is the bundle
``q += k 1[A & B] + c 1[~B]`` where the cash paid ``c`` solves
``C(q + k 1[A & B] + c 1[~B]) - C(q) = c``: the trader holds ``k`` units of ``A & B``
and a refund of ``c`` in every ``~B`` outcome. For a translation-invariant maker this
leaves ``P(B)`` and the distribution inside ``~B`` unchanged: the trade only moves
probabilities inside ``B`` (Hanson's semantics). The price is ``P(A & B) / P(B)``.
Settlement pays each trade's bundle in the true outcome, so money is conserved exactly.
Conditional and index securities need a complete maker, conditional ones a
translation-invariant maker (not LS-LMSR), and ``A``, ``B`` and index payoffs must be
decided by each outcome under the theory.

A maker is a :class:`~deepmarkets.beliefs.makers.MarketMaker`; the built-ins may be
given unbound (``LMSR(b=10)``) and are bound to the number of outcome contracts.
"""

from __future__ import annotations

import contextvars
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sympy
import z3

from deepmarkets.beliefs.makers import AMOUNT_LIMIT_REASON, LMSR, LSLMSR, MAX_AMOUNT, MarketMaker, Quadratic
from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import to_fraction
from deepmarkets.logic.files import read_text
from deepmarkets.logic.sentence import Sentence, Term, exactly_one, sentence
from deepmarkets.logic.theory import Theory
from deepmarkets.logic.worlds import WorldOracle, decide
from deepmarkets.protocols import TRADE_HISTORY_COLUMNS

__all__ = ["Market", "Security", "contract", "conditional", "index", "current_market"]

_CURRENT: contextvars.ContextVar[tuple[Market, ...]] = contextvars.ContextVar("deepmarkets_market", default=())

#: Maker kinds accepted in MARKET.toml and their parameters.
MAKER_KINDS = {"lmsr": (LMSR, ("b",)), "lslmsr": (LSLMSR, ("alpha", "initial")), "quadratic": (Quadratic, ("b",))}


@dataclass(frozen=True)
class Security:
    """A declared security: ``kind`` is ``"contract"``, ``"index"`` or ``"conditional"``."""

    name: str
    kind: str
    sentence: Sentence | None = None
    given: Sentence | None = None
    payoff: Any = None

    def __repr__(self) -> str:
        if self.kind == "contract":
            return f"Security({self.name!r}: pays 1 if {self.sentence})"
        if self.kind == "conditional":
            return f"Security({self.name!r}: pays 1 if {self.sentence} given {self.given}, refunded otherwise)"
        return f"Security({self.name!r}: pays {self.payoff})"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "sentence": None if self.sentence is None else str(self.sentence),
            "given": None if self.given is None else str(self.given),
            "payoff": None if self.payoff is None else str(self.payoff),
        }


def current_market() -> Market:
    """The market being declared by the innermost ``with Market(...)`` block.

    >>> with Market("m") as m:
    ...     current_market() is m
    ...     _ = contract("a"); _ = contract("~a")
    True

    Raises
    ------
    DeclarationError
        Outside a ``with Market(...)`` block.
    """
    stack = _CURRENT.get()
    if not stack:
        raise DeclarationError(
            "no market is being declared: call contract()/conditional()/index() inside "
            "'with Market(...) as m:', or use m.contract(...) on a market"
        )
    return stack[-1]


def contract(s: Any, name: str | None = None) -> Security:
    """Declare a contract on the current market (inside ``with Market(...)``); see :meth:`Market.contract`.

    Examples
    --------
    >>> with Market("coin") as m:
    ...     contract("heads")
    ...     contract("~heads", name="tails")
    Security('heads': pays 1 if heads)
    Security('tails': pays 1 if ~heads)
    >>> m.outcomes
    ('heads', 'tails')
    """
    return current_market().contract(s, name=name)


def conditional(s: Any, *, given: Any, name: str | None = None) -> Security:
    """Declare a conditional contract on the current market; see :meth:`Market.conditional`.

    Examples
    --------
    >>> with Market("die", theory=["exactly_one(one, two, three)"]) as m:
    ...     for face in ("one", "two", "three"):
    ...         _ = contract(face)
    ...     _ = conditional("one", given="one | two")
    >>> round(float(m.prices()["one given one | two"]), 6)
    0.5
    """
    return current_market().conditional(s, given=given, name=name)


def index(payoff: Any, name: str | None = None) -> Security:
    """Declare an index security on the current market; see :meth:`Market.index`.

    Examples
    --------
    >>> from deepmarkets.logic import ints
    >>> (x,) = ints("x")
    >>> with Market("count", theory=[x >= 0, x <= 2]) as m:
    ...     for k in range(3):
    ...         _ = contract(x == k)
    ...     _ = index(x, name="x")
    >>> float(m.prices()["x"])
    1.0
    """
    return current_market().index(payoff, name=name)


def _z3_constants(exprs: Iterable[z3.ExprRef]) -> dict[str, z3.ExprRef]:
    found: dict[str, z3.ExprRef] = {}
    seen: set[int] = set()
    stack = list(exprs)
    while stack:
        e = stack.pop()
        if e.get_id() in seen:
            continue
        seen.add(e.get_id())
        if z3.is_const(e) and e.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            found.setdefault(e.decl().name(), e)
        stack.extend(e.children())
    return found


def _number(value: z3.ExprRef) -> Fraction:
    if z3.is_int_value(value):
        return Fraction(value.as_long())
    if z3.is_rational_value(value):
        return Fraction(value.numerator_as_long(), value.denominator_as_long())
    raise DeclarationError(f"z3 gave the non-rational value {value}; index payoffs must be rational")


class Market:
    """A prediction market: securities on sentences, a theory and a cost-function maker.

    Parameters
    ----------
    name : str
        A label.
    theory : Theory or iterable of sentence-like, optional
        Axioms that hold in every world (text, Sentences, z3 or sympy Booleans).
    maker : MarketMaker, optional
        The market maker; built-ins may be unbound (``LMSR(b=10)``). Default
        ``LMSR(b=100)``.

    Examples
    --------
    >>> from deepmarkets.beliefs.makers import LMSR
    >>> with Market("weather", theory=["~(rain & snow)"], maker=LMSR(b=10)) as m:
    ...     _ = contract("rain")
    ...     _ = contract("snow")
    ...     _ = contract("~rain & ~snow", name="dry")
    >>> m.prices().round(4).tolist()
    [0.3333, 0.3333, 0.3333]
    >>> round(m.trade("rain", 10, trader="ann"), 4)    # 10 log((e + 2) / 3)
    4.5283
    >>> round(float(m.prices()["rain"]), 4)
    0.5761
    """

    def __init__(self, name: str = "market", *, theory: Theory | Iterable[Any] | None = None,
                 maker: MarketMaker | None = None):
        if not isinstance(name, str) or not name.strip():
            raise DeclarationError(f"a market name must be a non-empty string, got {name!r}")
        self.name = name
        if theory is None:
            theory = Theory()
        elif not isinstance(theory, Theory):
            if isinstance(theory, (str, Sentence)):
                theory = [theory]
            theory = Theory(theory)
        self.theory: Theory = theory
        if maker is None:
            maker = LMSR(b=100.0)
        if not isinstance(maker, MarketMaker):
            raise DeclarationError(
                f"maker must be a MarketMaker such as LMSR(b=10), LSLMSR(alpha=0.05) or Quadratic(b=10), "
                f"got {type(maker).__name__} {maker!r}"
            )
        self._maker_spec = maker
        self.maker: MarketMaker | None = None
        self._securities: dict[str, Security] = {}
        self._frozen = False
        self._ledger: list[dict] = []

    # declaration -----------------------------------------------------------
    def __enter__(self) -> Market:
        if self._frozen:
            raise DeclarationError(f"market {self.name!r} is already frozen; declare securities in a new Market")
        self._token = _CURRENT.set((*_CURRENT.get(), self))
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        _CURRENT.reset(self._token)
        if exc_type is None:
            self.freeze()
        return False

    def _add(self, sec: Security) -> Security:
        if self._frozen:
            raise DeclarationError(
                f"market {self.name!r} is frozen (it has been used or its 'with' block ended); "
                f"declare {sec.name!r} before trading, or in a new Market"
            )
        if not sec.name.strip():
            raise DeclarationError("a security name must be non-empty")
        if sec.name in self._securities:
            raise DeclarationError(
                f"market {self.name!r} already has a security named {sec.name!r} ({self._securities[sec.name]!r}); "
                "give this one another name=..."
            )
        self._securities[sec.name] = sec
        return sec

    def contract(self, s: Any, name: str | None = None) -> Security:
        """Declare an Arrow-Debreu contract paying 1 when ``s`` is true.

        Parameters
        ----------
        s : Sentence, text, z3 or sympy Boolean
        name : str, optional
            Defaults to the sentence's text.
        """
        s = sentence(s)
        return self._add(Security(str(s) if name is None else str(name), "contract", sentence=s))

    def conditional(self, s: Any, *, given: Any, name: str | None = None) -> Security:
        """Declare a conditional contract ``s given g``: pays 1 if both hold, refunded if ``g`` is false.

        Its name defaults to ``"<s> given <g>"``.
        """
        s, g = sentence(s), sentence(given)
        return self._add(Security(f"{s} given {g}" if name is None else str(name), "conditional", sentence=s,
                                  given=g))

    def index(self, payoff: Any, name: str | None = None) -> Security:
        """Declare an index security paying ``payoff`` in each outcome.

        Parameters
        ----------
        payoff : sympy expression, Term, Sentence or number
            A sympy expression of the market's variables (Boolean atoms count as 0/1),
            a linear :class:`~deepmarkets.logic.Term` (e.g. ``x`` from ``ints("x")``), a
            sentence (pays 1 when true) or a constant. Its value must be decided by
            each outcome contract under the theory.
        name : str, optional
            Defaults to the text of the payoff.
        """
        if isinstance(payoff, bool) or not isinstance(payoff, (sympy.Expr, Term, Sentence, int, float, Fraction)):
            raise DeclarationError(
                f"an index payoff must be a sympy expression, a Term (from ints()/reals()), a Sentence or a "
                f"number, got {type(payoff).__name__} {payoff!r}"
            )
        if isinstance(payoff, (int, float)) and not math.isfinite(payoff):
            raise DeclarationError(f"an index payoff must be finite, got {payoff!r}")
        return self._add(Security(str(payoff) if name is None else str(name), "index", payoff=payoff))

    # freezing and validation -------------------------------------------------
    @property
    def frozen(self) -> bool:
        """Whether the declaration is closed (validated, ready to trade)."""
        return self._frozen

    @property
    def securities(self) -> tuple[Security, ...]:
        """All declared securities, in order."""
        return tuple(self._securities.values())

    @property
    def outcomes(self) -> tuple[str, ...]:
        """Names of the outcome (contract) securities, in the maker's order."""
        return tuple(s.name for s in self._securities.values() if s.kind == "contract")

    def freeze(self) -> Market:
        """Validate the declaration and bind the maker (done on leaving ``with`` or on first use).

        Raises
        ------
        DeclarationError
            No contracts; contracts that are not mutually exclusive and exhaustive for a
            complete maker; an impossible contract; a maker for another number of
            securities; conditional/index payoffs not decided by the outcomes.
        """
        if self._frozen:
            return self
        contracts = [s for s in self._securities.values() if s.kind == "contract"]
        others = [s for s in self._securities.values() if s.kind != "contract"]
        if not contracts:
            raise DeclarationError(
                f"market {self.name!r} has no contracts; declare the outcomes with m.contract(sentence)"
            )
        if not self.theory.is_consistent():
            raise DeclarationError(f"the theory of market {self.name!r} has no possible world: {self.theory!r}")
        spec = self._maker_spec
        complete = spec.complete
        if complete:
            self._check_outcomes(contracts)
        elif others:
            raise DeclarationError(
                f"{others[0].name!r} is a {others[0].kind} security, which is priced as a bundle of outcomes: it "
                f"needs a complete maker (mutually exclusive, exhaustive contracts), but {spec!r} is not complete"
            )
        conditionals = [s for s in others if s.kind == "conditional"]
        if conditionals and spec.translation_invariant is False:
            raise DeclarationError(
                f"the conditional {conditionals[0].name!r} needs a translation-invariant maker (LMSR, Quadratic): "
                f"its refund is self-financing only when C(q + k 1) = C(q) + k, which {spec!r} does not satisfy"
            )
        maker = spec.bind(len(contracts)) if spec.n is None or spec.n == len(contracts) else None
        if maker is None:
            raise DeclarationError(
                f"the maker {spec!r} prices {spec.n} securities but market {self.name!r} declares "
                f"{len(contracts)} contracts ({', '.join(s.name for s in contracts)}); give a maker for "
                f"{len(contracts)} outcomes or an unbound one such as LMSR(b=...)"
            )
        self.maker = maker
        n = len(contracts)
        self._outcome_sentences = [s.sentence for s in contracts]
        self._vectors: dict[str, np.ndarray] = {}
        self._masks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for i, s in enumerate(contracts):
            self._vectors[s.name] = np.eye(n)[i]
        for s in others:
            if s.kind == "index":
                self._vectors[s.name] = self._index_values(s)
            else:
                wins = self._decided(s.sentence & s.given, f"the conditional {s.name!r}")
                active = self._decided(s.given, f"the condition of {s.name!r}")
                if not active.any():
                    raise DeclarationError(
                        f"the condition {s.given} of {s.name!r} is false in every outcome; it can never be active"
                    )
                self._masks[s.name] = (wins.astype(float), (~active).astype(float))
        self.q0 = maker.initial_state()
        self._q = self.q0.copy()
        self._frozen = True
        maker.prices(self._q)  # the starting state must be quotable
        return self

    def _require_frozen(self) -> MarketMaker:
        if not self._frozen:
            self.freeze()
        assert self.maker is not None
        return self.maker

    def _check_outcomes(self, contracts: list[Security]) -> None:
        sents = [s.sentence for s in contracts]
        oracle = WorldOracle(self.theory)
        for s in contracts:
            if not oracle.possible(s.sentence):
                raise DeclarationError(
                    f"contract {s.name!r} ({s.sentence}) is impossible under the theory; remove it (a complete "
                    "maker would give it a positive price)"
                )
        if oracle.entails(exactly_one(sents)):
            return
        for i, a in enumerate(contracts):
            for b in contracts[i + 1:]:
                if oracle.possible(a.sentence, b.sentence):
                    raise DeclarationError(
                        f"contracts {a.name!r} and {b.name!r} can both be true under the theory, but "
                        f"{self._maker_spec!r} needs mutually exclusive, exhaustive outcomes. Add axioms that "
                        "exclude it, declare one of them as a conditional/index security, or price overlapping "
                        "sentences with deepmarkets.beliefs.arbitrage"
                    )
        none = Sentence(z3.And(*[z3.Not(s.z3) for s in sents])) if len(sents) > 1 else ~sents[0]
        s = self.theory.solver(none)
        decide(s, (), "a world where no contract is true", self.theory.rlimit)  # possible: seen above
        model = s.model()
        world = ", ".join(f"{d.name()}={model[d]}" for d in sorted(model.decls(), key=lambda d: d.name()))
        raise DeclarationError(
            f"the contracts of market {self.name!r} are not exhaustive: in the possible world {{{world}}} none of "
            f"them is true. Add a contract for the remaining case (e.g. {none}) or an axiom that excludes it"
        )

    def _decided(self, s: Sentence, what: str) -> np.ndarray:
        out = np.zeros(len(self._outcome_sentences), dtype=bool)
        oracle = WorldOracle(self.theory)
        for i, (o, oname) in enumerate(zip(self._outcome_sentences, self.outcomes, strict=True)):
            if not oracle.possible(o, ~s):
                out[i] = True
            elif oracle.possible(o, s):
                raise DeclarationError(
                    f"{what} is not decided by the outcome {oname!r}: {s} can be true or false when {o} holds. "
                    "Refine the outcome contracts so each one settles it"
                )
        return out

    def _declared_constants(self) -> dict[str, z3.ExprRef]:
        exprs = [a.z3 for a in self.theory.axioms]
        for s in self._securities.values():
            exprs.extend(x.z3 for x in (s.sentence, s.given) if x is not None)
            if isinstance(s.payoff, (Term, Sentence)):
                exprs.append(s.payoff.z3)
        return _z3_constants(exprs)

    def _term_value(self, term: z3.ExprRef, o: Sentence, oname: str, what: str) -> Fraction:
        solver, rlimit = self.theory.solver(o), self.theory.rlimit
        if not decide(solver, (), f"whether outcome {oname!r} is possible", rlimit):
            raise DeclarationError(f"outcome {oname!r} is impossible under the theory")
        value = solver.model().eval(term, model_completion=True)
        solver.add(term != value)
        if decide(solver, (), f"whether outcome {oname!r} decides {what}", rlimit):
            other = solver.model().eval(term, model_completion=True)
            raise DeclarationError(
                f"{what} is not decided by the outcome {oname!r}: it can be {value} or {other} when {o} holds. "
                "Refine the outcome contracts so each one fixes the payoff"
            )
        return _number(value)

    def _index_values(self, sec: Security) -> np.ndarray:
        payoff = sec.payoff
        n = len(self._outcome_sentences)
        what = f"the payoff of index {sec.name!r}"
        if isinstance(payoff, (int, float, Fraction)):
            return np.full(n, float(payoff))
        if isinstance(payoff, Sentence):
            return self._decided(payoff, what).astype(float)
        pairs = list(zip(self._outcome_sentences, self.outcomes, strict=True))
        if isinstance(payoff, Term):
            return np.array([float(self._term_value(payoff.z3, o, name, what)) for o, name in pairs])
        # sympy expression: every free symbol is a declared atom or variable, decided by each outcome
        known = self._declared_constants()
        symbols = sorted(payoff.free_symbols, key=str)
        for sym in symbols:
            if str(sym) not in known:
                raise DeclarationError(
                    f"{what} uses {sym}, which no sentence of the market or theory mentions; declared names: "
                    f"{', '.join(sorted(known)) or '(none)'}"
                )
        values = np.empty(n)
        for i, (o, oname) in enumerate(pairs):
            subs = {}
            for sym in symbols:
                const = known[str(sym)]
                if z3.is_bool(const):
                    subs[sym] = int(self._decided(Sentence(const), what)[i])
                else:
                    v = self._term_value(const, o, oname, what)
                    subs[sym] = sympy.Rational(v.numerator, v.denominator)
            v = payoff.subs(subs, simultaneous=True)
            try:
                values[i] = float(v)
            except TypeError:
                raise DeclarationError(f"{what} does not evaluate to a number in outcome {oname!r}: {v}") from None
            if not math.isfinite(values[i]):
                raise DeclarationError(f"{what} is {values[i]} in outcome {oname!r}; it must be finite")
        return values

    # pricing and trading -----------------------------------------------------
    def _security(self, security: Any) -> Security:
        key = security.name if isinstance(security, Security) else security
        if not isinstance(key, str) or key not in self._securities:
            known = ", ".join(repr(k) for k in self._securities)
            raise DeclarationError(f"market {self.name!r} has no security {security!r}; known securities: {known}")
        return self._securities[key]

    def _security_prices(self, P: np.ndarray) -> np.ndarray:
        """Prices of every security (columns, in declaration order) from outcome prices P (T, n).

        When the securities are exactly the outcome contracts this is ``P`` itself (not a
        copy); otherwise a new array, column-major like ``P.T`` of a row-major ``P``.
        """
        secs = list(self._securities.values())
        if all(s.kind == "contract" for s in secs):  # the contracts are the outcomes, in order
            return P
        out = np.empty((len(secs), P.shape[0])).T
        outcome = 0
        for k, s in enumerate(secs):
            if s.kind == "contract":
                out[:, k] = P[:, outcome]
                outcome += 1
            elif s.kind == "conditional":
                wins, refund = self._masks[s.name]
                with np.errstate(divide="ignore", invalid="ignore"):  # NaN where P(B) = 0: undefined
                    out[:, k] = (P @ wins) / (P @ (1.0 - refund))
            else:
                out[:, k] = P @ self._vectors[s.name]
        return out

    def prices(self) -> pd.Series:
        """Current price of every security, by name.

        Outcome contracts: the maker's prices; index: ``sum_w p_w f(w)``;
        conditional ``A | B``: ``P(A & B) / P(B)``.
        """
        maker = self._require_frozen()
        P = maker.prices(self._q)[None, :]
        return pd.Series(self._security_prices(P)[0], index=list(self._securities), name="price", dtype=float)

    @property
    def state(self) -> pd.Series:
        """The maker's state ``q``: units owed in each outcome (a copy)."""
        self._require_frozen()
        return pd.Series(self._q.copy(), index=list(self.outcomes), name="q", dtype=float)

    def _bundle(self, sec: Security, k: float, q: np.ndarray) -> tuple[np.ndarray, float]:
        """The change of state and the cost of buying ``k`` units of ``sec`` at state ``q``."""
        maker = self.maker
        assert maker is not None
        if sec.kind != "conditional":
            delta = k * self._vectors[sec.name]
            return delta, float(maker.trade_cost(q, delta))
        wins, refund = self._masks[sec.name]
        c = self._conditional_cash(maker, q, k, wins, refund, sec.name)
        delta = k * wins + c * refund
        return delta, float(maker.trade_cost(q, delta))

    @staticmethod
    def _conditional_cash(maker, q, k, wins, refund, name) -> float:
        if not refund.any():
            return float(maker.trade_cost(q, k * wins))
        if isinstance(maker, LMSR):
            # c = b log(P(A|B) e^{k/b} + P(~A|B)), in log space
            z = q / maker.b
            z = z - np.max(z)
            logp = z - np.log(np.sum(np.exp(z)))
            inside = refund == 0
            lw = logp[wins == 1]
            lb = logp[inside]
            top = np.logaddexp.reduce(np.concatenate([lw + k / maker.b, logp[inside & (wins == 0)]]))
            return float(maker.b * (top - np.logaddexp.reduce(lb)))
        from scipy.optimize import brentq

        Q = q[None, :]

        def g(c: float) -> float:
            with np.errstate(all="ignore"):
                return float(maker._trade_cost(Q, (k * wins + c * refund)[None, :])[0]) - c

        lo, hi = min(0.0, k), max(0.0, k)
        width = max(abs(k), 1.0)
        for _ in range(60):
            glo, ghi = g(lo), g(hi)
            if math.isfinite(glo) and math.isfinite(ghi) and glo >= 0 >= ghi:
                break
            lo, hi, width = lo - width, hi + width, 2 * width
        else:
            raise DeclarationError(
                f"no refund level makes the conditional trade of {k} units of {name!r} self-financing at this state "
                f"for {maker!r}; trade a smaller quantity"
            )
        if glo == 0:
            return lo
        if ghi == 0:
            return hi
        return float(brentq(g, lo, hi, xtol=1e-15 * max(1.0, abs(k)), rtol=4 * np.finfo(float).eps, maxiter=200))

    def quote(self, security: Any, quantity: float) -> float:
        """What buying ``quantity`` units of ``security`` would cost now (nothing is traded)."""
        self._require_frozen()
        return self._bundle(self._security(security), _quantity(quantity), self._q)[1]

    def trade(self, security: Any, quantity: float, trader: str | None = None) -> float:
        """Buy ``quantity`` units of ``security`` (sell if negative); returns the cost paid.

        Raises
        ------
        DeclarationError
            For an unknown security (listing the known ones), a NaN/inf quantity, a quantity or
            a holding of the maker beyond :data:`~deepmarkets.beliefs.makers.MAX_AMOUNT` units
            (where costs stop being accurate), or a trade the maker refuses (overflow, outside
            its domain).
        """
        self._require_frozen()
        sec = self._security(security)
        k = _quantity(quantity)
        if k == 0:
            raise DeclarationError(f"a trade of 0 units of {sec.name!r} does nothing; give a non-zero quantity")
        if abs(k) > MAX_AMOUNT:
            raise DeclarationError(f"a trade of {k:g} units of {sec.name!r} exceeds the limit of {MAX_AMOUNT:g} units; "
                                   f"{AMOUNT_LIMIT_REASON}")
        delta, cost = self._bundle(sec, k, self._q)
        over = np.flatnonzero(~(np.abs(self._q + delta) <= MAX_AMOUNT))
        if len(over):
            j = int(over[0])
            raise DeclarationError(f"after this trade the maker would hold {float(self._q[j] + delta[j]):g} units of "
                                   f"outcome {self.outcomes[j]!r}, beyond the limit of {MAX_AMOUNT:g}; "
                                   f"{AMOUNT_LIMIT_REASON}")
        self._q = self._q + delta
        self._ledger.append({
            "time": float(len(self._ledger)),
            "trader": "anonymous" if trader is None else str(trader),
            "security": sec.name,
            "quantity": k,
            "price": cost / k,
        })
        return cost

    @property
    def history(self) -> pd.DataFrame:
        """The trades made with :meth:`trade` since the last :meth:`reset`, as a trades-book table.

        Columns ``time`` (0, 1, ...), ``trader``, ``security``, ``quantity`` and ``price`` (cost per
        unit); ``Book.from_frame(m.history)`` replays them.
        """
        frame = pd.DataFrame(self._ledger, columns=list(TRADE_HISTORY_COLUMNS))
        return frame.astype({"time": float, "quantity": float, "price": float})

    def reset(self) -> None:
        """Back to the starting state, forgetting the trades."""
        self._require_frozen()
        self._q = self.q0.copy()
        self._ledger = []

    # worlds --------------------------------------------------------------
    def outcome_truth(self, world: Any) -> np.ndarray:
        """Which outcome contracts are true in ``world`` (a 0/1 vector over :attr:`outcomes`).

        Parameters
        ----------
        world : str, Path, Sentence, mapping or iterable of sentences
            * the name of an outcome contract (that outcome is true);
            * other text: facts, one sentence per line (``"rain\\n~cold"``), as in a theory file;
            * a ``pathlib.Path`` to such a file;
            * a Sentence, or an iterable of sentences/texts (facts);
            * a mapping ``{name: value}``: ``True``/``False`` for atoms, numbers for integer
              or real variables (keys may be names, atoms or Terms).

        The facts and the theory must decide every outcome contract; with a complete
        maker exactly one is true.

        Raises
        ------
        DeclarationError
            If the world contradicts the theory, makes no outcome or two outcomes true,
            or leaves an outcome undecided.
        """
        self._require_frozen()
        n = len(self.outcomes)
        if isinstance(world, str) and world in self.outcomes:
            return np.eye(n)[self.outcomes.index(world)]
        facts = self._facts(world)
        truth = np.zeros(n)
        base = WorldOracle(self.theory, facts)
        if not base.possible():
            alone = WorldOracle(Theory(facts, rlimit=self.theory.rlimit))
            consistent = alone.possible()
            true = [name for name, o in zip(self.outcomes, self._outcome_sentences, strict=True)
                    if consistent and alone.entails(o)]
            if self._maker_spec.complete and len(true) > 1:
                raise DeclarationError(f"the world makes {len(true)} outcomes true ({', '.join(true)}); "
                                       "exactly one must be")
            if self._maker_spec.complete and consistent and all(
                    alone.entails(~o) for o in self._outcome_sentences):
                raise DeclarationError("the world makes no outcome true; exactly one must be")
            raise DeclarationError(f"the world contradicts the theory of market {self.name!r}: "
                                   f"{'; '.join(map(str, facts))}")
        for i, (name, o) in enumerate(zip(self.outcomes, self._outcome_sentences, strict=True)):
            if base.entails(o):
                truth[i] = 1.0
            elif not base.entails(~o):
                raise DeclarationError(
                    f"the world does not decide the outcome {name!r} ({o}); give more facts"
                )
        if self._maker_spec.complete and truth.sum() != 1:  # pragma: no cover - excluded by the outcome check
            raise DeclarationError(f"the world makes {int(truth.sum())} outcomes true; exactly one must be")
        return truth

    def _facts(self, world: Any) -> list[Sentence]:
        from deepmarkets.logic.parse import parse_theory

        if isinstance(world, Path):
            return parse_theory(read_text(world, "world"), source=str(world))
        if isinstance(world, str):
            facts = parse_theory(world, source="world")
            if not facts:
                raise DeclarationError(
                    f"the world {world!r} is neither an outcome ({', '.join(self.outcomes)}) nor facts"
                )
            return facts
        if isinstance(world, (Sentence, z3.BoolRef)):
            return [sentence(world)]
        if isinstance(world, Mapping):
            known = self._declared_constants()
            facts = []
            for key, value in world.items():
                name = key if isinstance(key, str) else None
                if isinstance(key, (Sentence, Term)) and z3.is_const(key.z3):
                    name = key.z3.decl().name()
                if name is None or name not in known:
                    raise DeclarationError(
                        f"the world gives a value for {key!r}, which the market does not mention; declared names: "
                        f"{', '.join(sorted(known))}"
                    )
                const = known[name]
                if z3.is_bool(const):
                    if not isinstance(value, (bool, np.bool_)):
                        raise DeclarationError(f"the world gives {name} = {value!r}; an atom needs True or False")
                    facts.append(Sentence(const if value else z3.Not(const)))
                else:
                    if isinstance(value, bool) or not isinstance(value, (int, float, Fraction, np.number)):
                        raise DeclarationError(f"the world gives {name} = {value!r}; a variable needs a number")
                    if z3.is_int(const):
                        if float(value) != int(value):
                            raise DeclarationError(f"the world gives {name} = {value!r}; {name} is an integer")
                        facts.append(Sentence(const == int(value)))
                    else:
                        exact = to_fraction(value, f"the world's value of {name}")
                        facts.append(Sentence(const == z3.RealVal(exact)))
            return facts
        if isinstance(world, Iterable):
            return [sentence(w) for w in world]
        raise DeclarationError(
            f"cannot read a world from {type(world).__name__} {world!r}; give an outcome name, facts as text or "
            "sentences, a Path to a facts file, or a mapping {name: value}"
        )

    # display -----------------------------------------------------------
    def __repr__(self) -> str:
        names = ", ".join(self._securities) or "no securities"
        maker = self.maker if self.maker is not None else self._maker_spec
        state = "frozen" if self._frozen else "open"
        return f"Market({self.name!r}, {state}; {names}; {maker!r})"

    def summary(self) -> str:
        """A text table of the securities and their prices."""
        prices = self.prices()
        width = max(len("security"), *(len(s) for s in self._securities))
        kinds = max(len("kind"), *(len(s.kind) for s in self._securities.values()))
        lines = [f"market {self.name!r} with {self.maker!r}", f"{'security':<{width}}  {'kind':<{kinds}}  price"]
        for s in self._securities.values():
            lines.append(f"{s.name:<{width}}  {s.kind:<{kinds}}  {prices[s.name]:.6g}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return "```\n" + self.summary() + "\n```"

    def to_dict(self) -> dict:
        out = {
            "name": self.name,
            "maker": repr(self.maker if self.maker is not None else self._maker_spec),
            "theory": [str(a) for a in self.theory.axioms],
            "securities": [s.to_dict() for s in self._securities.values()],
        }
        if self._frozen:
            out["prices"] = {k: float(v) for k, v in self.prices().items()}
            out["state"] = [float(v) for v in self._q]
        return out

    # files ---------------------------------------------------------------
    @classmethod
    def from_toml(cls, path: str | Path) -> Market:
        """Read a market from a TOML file.

        Example ``MARKET.toml``::

            name = "goals"
            theory = ["0 <= goals", "goals <= 2"]   # or theory = "theory.txt", relative to this file

            [maker]
            kind = "lmsr"        # "lmsr" (b), "lslmsr" (alpha, initial) or "quadratic" (b)
            b = 10.0

            [[securities]]
            name = "none"
            sentence = "goals == 0"

            [[securities]]
            name = "one"
            sentence = "goals == 1"

            [[securities]]
            name = "two"
            sentence = "goals == 2"

            [[securities]]          # an index: pays the number of goals
            name = "goals"
            payoff = "goals"

            [[securities]]          # a conditional: two goals, given at least one
            name = "two if any"
            sentence = "goals == 2"
            given = "goals >= 1"

        A security's ``kind`` (``contract``, ``index``, ``conditional``) may be given or is
        inferred: ``payoff`` makes an index, ``given`` a conditional. Sentences and payoffs
        are read with :func:`deepmarkets.logic.parse` (never evaluated as code).

        Raises
        ------
        DeclarationError
            Naming the file and the key that is missing, unknown or malformed.
        """
        from deepmarkets.logic.parse import parse, parse_theory

        p = Path(path)
        try:
            data = tomllib.loads(read_text(p, "market"))
        except tomllib.TOMLDecodeError as err:
            raise DeclarationError(f"{p}: not valid TOML: {err}") from None
        unknown = set(data) - {"name", "theory", "maker", "securities"}
        if unknown:
            raise DeclarationError(
                f"{p}: unknown key(s) {', '.join(sorted(unknown))}; expected name, theory, [maker], [[securities]]"
            )
        name = data.get("name", p.stem)
        if not isinstance(name, str):
            raise DeclarationError(f"{p}: 'name' must be a string, got {name!r}")
        theory = _toml_theory(p, data.get("theory", []), parse_theory)
        maker = _toml_maker(p, data.get("maker"))
        secs = data.get("securities")
        if not isinstance(secs, list) or not secs or not all(isinstance(s, dict) for s in secs):
            raise DeclarationError(f"{p}: expected one or more [[securities]] tables, each with a 'sentence'")
        reals = {k for k, c in _z3_constants([a.z3 for a in theory]).items() if z3.is_real(c)}
        m = cls(name, theory=Theory(theory, source=str(p)), maker=maker)
        for i, entry in enumerate(secs, start=1):
            where = f"{p}: securities[{i}]"
            allowed = {"name", "kind", "sentence", "given", "payoff"}
            extra = set(entry) - allowed
            if extra:
                raise DeclarationError(f"{where}: unknown key(s) {', '.join(sorted(extra))}; allowed: "
                                       f"{', '.join(sorted(allowed))}")
            kind = entry.get("kind", "index" if "payoff" in entry else "conditional" if "given" in entry
                             else "contract")
            if kind not in ("contract", "index", "conditional"):
                raise DeclarationError(f"{where}: kind = {kind!r}; expected contract, index or conditional")
            sec_name = entry.get("name")
            if sec_name is not None and not isinstance(sec_name, str):
                raise DeclarationError(f"{where}: 'name' must be a string, got {sec_name!r}")

            def text(key: str, where=where, entry=entry) -> Sentence:
                value = entry.get(key)
                if not isinstance(value, str):
                    raise DeclarationError(f"{where}: '{key}' must be a sentence as text, got {value!r}")
                return parse(value, reals=reals, source=f"{where}.{key}")

            if kind == "contract":
                if "payoff" in entry or "given" in entry:
                    raise DeclarationError(f"{where}: a contract takes 'sentence' only (no payoff or given)")
                m.contract(text("sentence"), name=sec_name)
            elif kind == "conditional":
                if "payoff" in entry:
                    raise DeclarationError(f"{where}: a conditional takes 'sentence' and 'given', not 'payoff'")
                m.conditional(text("sentence"), given=text("given"), name=sec_name)
            else:
                if "sentence" in entry or "given" in entry:
                    raise DeclarationError(f"{where}: an index takes 'payoff' only")
                payoff = entry.get("payoff")
                if isinstance(payoff, bool) or not isinstance(payoff, (str, int, float)):
                    raise DeclarationError(f"{where}: 'payoff' must be arithmetic text such as \"2 * x + 1\" or a "
                                           f"number, got {payoff!r}")
                value = payoff if not isinstance(payoff, str) else _parse_term(payoff, reals, where, parse)
                m.index(value, name=sec_name if sec_name is not None else str(payoff))
        return m.freeze()


def _quantity(quantity: Any) -> float:
    if isinstance(quantity, bool):
        raise DeclarationError(f"a quantity must be a number, got {quantity!r}")
    try:
        k = float(quantity)
    except (TypeError, ValueError):
        raise DeclarationError(f"a quantity must be a number, got {quantity!r}") from None
    if not math.isfinite(k):
        raise DeclarationError(f"a quantity must be finite, got {quantity!r}")
    return k


def _toml_theory(path: Path, value: Any, parse_theory) -> list[Sentence]:
    if isinstance(value, str):
        file = (path.parent / value)
        try:
            text = read_text(file, "theory")
        except DeclarationError as err:
            raise DeclarationError(f"{path}: theory = {value!r}: {err}") from None
        return parse_theory(text, source=str(file))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DeclarationError(
            f"{path}: 'theory' must be a list of sentences as text or the path of a theory file, got {value!r}"
        )
    return parse_theory("\n".join(value), source=f"{path}: theory (line = list item)")


def _toml_maker(path: Path, value: Any) -> MarketMaker:
    if value is None:
        return LMSR(b=100.0)
    if not isinstance(value, dict) or "kind" not in value:
        raise DeclarationError(f"{path}: [maker] must be a table with kind = \"lmsr\", \"lslmsr\" or \"quadratic\"")
    kind = value["kind"]
    if kind not in MAKER_KINDS:
        raise DeclarationError(f"{path}: maker.kind = {kind!r}; expected one of {', '.join(MAKER_KINDS)}")
    cls, allowed = MAKER_KINDS[kind]
    params = {k: v for k, v in value.items() if k != "kind"}
    extra = set(params) - set(allowed)
    if extra:
        raise DeclarationError(
            f"{path}: maker.{sorted(extra)[0]} is not a parameter of {kind}; it takes {', '.join(allowed)}"
        )
    try:
        return cls(**params)
    except DeclarationError as err:
        raise DeclarationError(f"{path}: [maker]: {err}") from None


def _parse_term(text: str, reals: set[str], where: str, parse) -> Term:
    from deepmarkets.errors import ParseError

    try:
        s = parse(f"({text}) == 0", reals=reals)
    except ParseError as err:
        raise DeclarationError(
            f"{where}: payoff = {text!r} is not an arithmetic expression such as \"2 * x + 1\" ({err.reason})"
        ) from None
    e = s.z3
    if not (e.decl().kind() == z3.Z3_OP_EQ and len(e.children()) == 2 and z3.is_arith(e.children()[0])):
        raise DeclarationError(f"{where}: payoff = {text!r} is not an arithmetic expression")
    return Term(e.children()[0])
