"""Logical inductors declared in TOML (the ``deepmarkets induct SPEC.toml`` format).

Example ``SPEC.toml``::

    days = 30
    sentences = ["rain", "wet", "rain -> wet"]
    theory = ["rain -> wet"]            # optional axioms

    [[deductive]]                       # sentences entering D (proven or observed) on a day
    day = 10
    sentences = ["rain"]

    [[traders]]
    kind = "threshold"                  # buys below buy_below, sells above sell_above
    sentence = "wet"
    buy_below = 0.6

    [[traders]]
    kind = "arbitrageurs"               # one per recognised axiom of the theory

    [[traders]]
    kind = "exclusive_exhaustive"       # buys all when their prices sum below 1, sells above
    sentences = ["a", "b", "c"]

Files are read as data (``tomllib``); sentences go through the project's parser.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers.files import read_toml_spec
from deepmarkets.logic.induction.inductor import (
    Inductor,
    arbitrageurs,
    exclusive_exhaustive_trader,
    threshold_trader,
)
from deepmarkets.logic.parse import parse
from deepmarkets.logic.theory import Theory

__all__ = ["read_spec", "inductor_from_spec", "TRADER_KINDS"]

#: Trader families a spec may name, with the keys each takes.
TRADER_KINDS = {
    "threshold": "sentence, buy_below and/or sell_above, optional width and name",
    "arbitrageurs": "none (one trader per recognised axiom of the theory), optional width",
    "exclusive_exhaustive": "sentences, optional width and name",
}


def read_spec(path: str | Path) -> tuple[Inductor, int]:
    """The inductor declared in a TOML file, and its number of days.

    Raises
    ------
    DeclarationError
        For a missing or unreadable file, an unknown key or trader kind, a bad sentence, a
        threshold trader without prices or with a price outside [0, 1] or buy_below above
        sell_above, a width that is not a finite number > 0, a name that is not text, or an
        arbitrageurs entry the theory gives no trader for, naming the file and the entry.
    """
    return read_toml_spec(path, inductor_from_spec)


def inductor_from_spec(spec: Mapping[str, Any]) -> tuple[Inductor, int]:
    """The inductor declared by a parsed spec (see the module docstring), and its number of days.

    Examples
    --------
    >>> ind, days = inductor_from_spec({"days": 3, "sentences": ["a"],
    ...                                 "traders": [{"kind": "threshold", "sentence": "a", "buy_below": 0.8}]})
    >>> res = ind.run(days, progressbar=False)
    >>> res.price("a") >= 0.8
    True
    """
    unknown = set(spec) - {"days", "sentences", "theory", "deductive", "traders", "precision_bits"}
    if unknown:
        raise DeclarationError(f"unknown keys {sorted(unknown)}; expected days, sentences, theory, deductive, "
                               "traders, precision_bits")
    days = spec.get("days", 10)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise DeclarationError(f"days = {days!r}; expected a whole number >= 1")
    sentences = [_sentence(s, "sentences") for s in _list(spec, "sentences")]
    if not sentences:
        raise DeclarationError("sentences is empty; list the sentences to price, e.g. sentences = [\"a\", \"a | b\"]")
    theory = Theory([_sentence(s, "theory") for s in _list(spec, "theory")]) if spec.get("theory") else None
    by_day: dict[int, list] = {}
    for i, entry in enumerate(_list(spec, "deductive")):
        day = entry.get("day") if isinstance(entry, Mapping) else None
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= days:
            raise DeclarationError(f"deductive entry {i + 1}: day = {day!r}; expected a day between 1 and {days}")
        by_day.setdefault(day, []).extend(_sentence(s, f"deductive entry {i + 1}") for s in entry.get("sentences", []))
    deductive = [by_day.get(d, []) for d in range(1, days + 1)]
    traders = []
    for i, entry in enumerate(_list(spec, "traders")):
        traders += _traders(entry, i + 1, theory, sentences)
    if not traders:
        raise DeclarationError("no traders; add [[traders]] entries (kinds: " + ", ".join(TRADER_KINDS) + ")")
    options = {"precision_bits": spec["precision_bits"]} if "precision_bits" in spec else {}
    return Inductor(sentences, traders, deductive=deductive, theory=theory, **options), days


def _traders(entry: Any, number: int, theory: Theory | None, sentences: list) -> list:
    if not isinstance(entry, Mapping) or "kind" not in entry:
        raise DeclarationError(f"trader {number}: give a kind ({', '.join(TRADER_KINDS)})")
    kind = entry["kind"]
    options = {k: v for k, v in entry.items() if k != "kind"}
    where = f"trader {number} ({kind})"
    try:
        if "width" in options:
            _number(options["width"], "width", low=0.0, high=math.inf, what="a finite number > 0", open_low=True)
        if "name" in options and not (isinstance(options["name"], str) and options["name"].strip()):
            raise DeclarationError(f"name = {options['name']!r}; expected a non-empty text, e.g. name = \"bull\"")
        if kind == "threshold":
            s = _sentence(options.pop("sentence", None), where)
            _threshold_prices(options)
            return [threshold_trader(s, **options)]
        if kind == "exclusive_exhaustive":
            group = [_sentence(s, where) for s in options.pop("sentences", [])]
            return [exclusive_exhaustive_trader(group, **options)]
        if kind == "arbitrageurs":
            if theory is None:
                raise DeclarationError("arbitrageurs come from the theory's axioms; add theory = [...]")
            derived = arbitrageurs(theory, sentences, **options)
            if not derived:
                raise DeclarationError(
                    f"the theory's axioms {[str(ax) for ax in theory.axioms]} give no arbitrageurs: they come only "
                    "from axioms 'a -> b' and exactly_one(...) whose sentences are all listed in sentences; "
                    "add those sentences to sentences, or declare threshold or exclusive_exhaustive traders")
            return derived
    except TypeError as err:
        raise DeclarationError(f"{where}: {err}; accepted keys: {TRADER_KINDS[kind]}") from None
    except DeclarationError as err:
        raise DeclarationError(f"{where}: {err}") from None
    raise DeclarationError(f"{where}: unknown kind; expected one of {', '.join(TRADER_KINDS)}")


def _threshold_prices(options: Mapping[str, Any]) -> None:
    """DeclarationError unless buy_below and/or sell_above are prices in [0, 1], buy_below <= sell_above."""
    prices = {key: _number(options[key], key, low=0.0, high=1.0, what="a price between 0 and 1")
              for key in ("buy_below", "sell_above") if key in options}
    if not prices:
        raise DeclarationError("give buy_below and/or sell_above (prices between 0 and 1); without them the "
                               "trader never trades")
    if prices.get("buy_below", 0.0) > prices.get("sell_above", 1.0):
        raise DeclarationError(f"buy_below = {prices['buy_below']} > sell_above = {prices['sell_above']}: the "
                               "trader would buy and sell at the same prices; expected buy_below <= sell_above")


def _number(value: Any, key: str, *, low: float, high: float, what: str, open_low: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value > low if open_low else value >= low) and value <= high:
        return float(value)
    raise DeclarationError(f"{key} = {value!r}; expected {what}")


def _list(spec: Mapping[str, Any], key: str) -> list:
    value = spec.get(key, [])
    if not isinstance(value, list):
        raise DeclarationError(f"{key} must be a list, got {value!r}")
    return value


def _sentence(text: Any, where: str):
    if not isinstance(text, str):
        raise DeclarationError(f"{where}: {text!r} is not a sentence; write sentences as text, e.g. \"a & ~b\"")
    return parse(text)
