"""The built-in demonstration behind ``make demo`` and ``deepmarkets demo``."""

from __future__ import annotations

import json

import click

#: Last-trade prices of mutually exclusive nominee contracts (one and only one candidate wins).
NOMINEE_PRICES = {"Biden": 0.46, "Sanders": 0.33, "Bloomberg": 0.14, "Warren": 0.09, "Buttigieg": 0.06}


def demo_examples():
    """The demo's cases: (title, prices, theory, conditional)."""
    from deepmarkets.logic import atoms, exactly_one, predicate

    wins = predicate("Wins")
    field = [wins(name) for name in NOMINEE_PRICES]
    a, b = atoms("a b")
    rain, cloudy = atoms("rain cloudy")
    return [
        (
            "Exclusive nominee contracts priced above 1 in total",
            {wins(name): p for name, p in NOMINEE_PRICES.items()},
            [exactly_one(field)],
            None,
        ),
        ("A logically related pair: P(a)=0.6, P(b)=0.7, P(a & b)=0.2", {a: 0.6, b: 0.7, a & b: 0.2}, None, None),
        ("The same pair with P(a & b)=0.3 (on the boundary)", {a: 0.6, b: 0.7, a & b: 0.3}, None, None),
        (
            "A conditional price: P(rain)=0.3, P(cloudy)=0.5, P(rain | cloudy)=0.4, where rain -> cloudy",
            {rain: 0.3, cloudy: 0.5},
            [rain.implies(cloudy)],
            {(rain, cloudy): 0.4},
        ),
    ]


def run_demo(*, as_json: bool = False) -> list:
    """Check every demo case and print its verdict and Dutch book; returns the reports."""
    from deepmarkets.logic import check_coherence

    reports = []
    for title, prices, theory, conditional in demo_examples():
        report = check_coherence(prices, theory, conditional)
        reports.append(report)
        if not as_json:
            click.echo(f"\n== {title}")
            click.echo(report.summary())
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], indent=2))
    return reports
