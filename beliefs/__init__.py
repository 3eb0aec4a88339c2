"""deepmarkets.beliefs: markets, securities, market makers, books, scoring rules and arbitrage-free pricing.

Prices are beliefs. A :class:`Market` declares securities on sentences of
:mod:`deepmarkets.logic`, an outcome theory and a cost-function market maker
(:class:`LMSR`, :class:`LSLMSR`, :class:`Quadratic` or any sympy cost with
:class:`MarketMaker`); the prices are the gradient of the cost, and
:meth:`MarketMaker.verify` proves the maker's properties with sympy. A :class:`Book`
is a validated table of trades or reports; :func:`replay` runs a trades book through
a market and settles it. :class:`ArbitrageFreeMarket` keeps the quotes of a
combinatorial market coherent by projecting them onto the marginal polytope.

The modules are

==========================================  ==============================================
:mod:`deepmarkets.beliefs.makers`           cost-function market makers and their proofs
:mod:`deepmarkets.beliefs.properties`       reports of proven, checked or failing properties
:mod:`deepmarkets.beliefs.trade_columns`    trades as sparse outcome columns (price paths, replay)
:mod:`deepmarkets.beliefs.scoring`          scoring rules, properness, market scoring rules
:mod:`deepmarkets.beliefs.market`           declaring a market (``with Market(...):``)
:mod:`deepmarkets.beliefs.book`             books of trades or reports (CSV, Parquet, JSONL)
:mod:`deepmarkets.beliefs.replay`           replaying and settling a book
:mod:`deepmarkets.beliefs.arbitrage`        arbitrage-free pricing on combinatorial spaces
==========================================  ==============================================

``from deepmarkets.beliefs import replay`` is the function; the module is
``deepmarkets.beliefs.replay`` (import names from it explicitly).

Examples
--------
>>> from deepmarkets.beliefs import LMSR, Market, contract
>>> with Market("coin", maker=LMSR(b=1.0)) as m:
...     _ = contract("heads")
...     _ = contract("~heads", name="tails")
>>> m.prices().tolist()
[0.5, 0.5]
"""

from __future__ import annotations

from deepmarkets.helpers import export_lazily

# submodule -> the names it exports; each loads on first use (sympy, z3 and pandas are slow to import)
__all__ = export_lazily(__name__, {
    "makers": ["MarketMaker", "LMSR", "LSLMSR", "Quadratic", "PricePath"],
    "properties": ["MakerReport", "PropertyCheck"],
    "scoring": ["ScoringRule", "LogScore", "QuadraticScore", "SphericalScore", "is_proper", "msr_payout"],
    "market": ["Market", "Security", "contract", "conditional", "index", "current_market"],
    "book": ["Book"],
    "replay": ["Replay", "replay"],
    "arbitrage": ["ArbitrageFreeMarket", "Projection", "QuoteCertificate", "TradeRecord", "project",
                  "exact_projection", "world_lmsr_prices"],
})
