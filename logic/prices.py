"""Prices on sentences: the one calling convention, and the one function that reads it.

Every public function that takes prices on sentences (:func:`~deepmarkets.logic.check_coherence`,
:func:`~deepmarkets.logic.find_distribution`, :func:`~deepmarkets.beliefs.project`,
:func:`~deepmarkets.beliefs.exact_projection`, the brute-force checks of
:mod:`deepmarkets.logic.testing`) takes them in the same shape:

* a mapping ``{sentence: price}`` (a dict, or a pandas Series indexed by sentences), or
* an iterable of ``(sentence, price)`` pairs, where a sentence may appear more than once.

A sentence is a :class:`~deepmarkets.logic.Sentence`, text in the project's syntax, a z3 Boolean
or a sympy Boolean. Conditional prices ``P(A | B) = p`` are ``{(A, B): p}`` or ``(A, B, p)``
triples. Each function then reads the price values as its own kind of number (exact and in
[0, 1] for coherence, strictly inside (0, 1) for independent LMSR prices).

Examples
--------
>>> from deepmarkets.logic import atoms
>>> a, b = atoms("a b")
>>> sentence_prices({a: 0.6, "a & b": 0.2})
[(Sentence('a'), 0.6), (Sentence('a & b'), 0.2)]
>>> sentence_prices([0.6, 0.2])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
deepmarkets.errors.DeclarationError: prices: item 0 is 0.6; expected {sentence: price} or (sentence, price) pairs ...
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from deepmarkets.errors import DeclarationError, ParseError
from deepmarkets.logic.sentence import Sentence, sentence

__all__ = ["sentence_prices", "conditional_prices"]

_PAIRS = "{sentence: price} or (sentence, price) pairs"
_TRIPLES = "{(sentence, given): price} or (sentence, given, price) triples"
_SHOWN = 80


def _shown(value: Any) -> str:
    """``repr(value)``, cut short: a sentence can be long."""
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _items(prices: Any, what: str, form: str) -> list:
    """The entries of a mapping (as key-value pairs) or of an iterable, or a DeclarationError."""
    if isinstance(prices, Mapping) or (hasattr(prices, "items") and getattr(prices, "ndim", 1) == 1):
        return list(prices.items())
    if isinstance(prices, (str, bytes, Sentence)) or not isinstance(prices, Iterable):
        raise DeclarationError(f"{what} must be {form}; got {type(prices).__name__} {_shown(prices)}")
    return list(prices)


def _unpack(item: Any, size: int, i: int, what: str, form: str) -> tuple:
    if not isinstance(item, (str, bytes, Sentence)):
        try:
            values = tuple(item)
        except TypeError:
            values = ()
        if len(values) == size:
            return values
    hint = ""
    if isinstance(item, numbers.Number) and not isinstance(item, bool):
        hint = " (numbers alone name no sentence: pair them, e.g. dict(zip(sentences, prices)))"
    raise DeclarationError(f"{what}: item {i} is {_shown(item)}; expected {form}{hint}")


def _sentence(value: Any, i: int, what: str) -> Sentence:
    try:
        return sentence(value)
    except ParseError:
        raise
    except DeclarationError as err:
        raise DeclarationError(f"{what}: item {i}: {err}") from None


def sentence_prices(prices: Any, *, what: str = "prices") -> list[tuple[Sentence, Any]]:
    """The ``(sentence, price)`` pairs of prices given as ``{sentence: price}`` or as pairs.

    Sentences are parsed (text, z3 and sympy Booleans become :class:`Sentence`); the price
    values are returned as given, in input order, for the caller to read as its kind of number.

    Parameters
    ----------
    prices : mapping or iterable of pairs
        ``{sentence: price}`` or ``(sentence, price)`` pairs.
    what : str
        What the prices are, for error messages.

    Returns
    -------
    list of (Sentence, object)
        Empty when ``prices`` is empty; the caller decides whether that is allowed.

    Raises
    ------
    DeclarationError
        For anything else, naming the item that is not a pair and the expected form.
    ParseError
        For a sentence's text that does not parse.

    Examples
    --------
    >>> sentence_prices([("rain", "0.3"), ("rain | wind", 0.5)])
    [(Sentence('rain'), '0.3'), (Sentence('rain | wind'), 0.5)]
    """
    pairs = []
    for i, item in enumerate(_items(prices, what, _PAIRS)):
        s, p = _unpack(item, 2, i, what, _PAIRS)
        pairs.append((_sentence(s, i, what), p))
    return pairs


def conditional_prices(prices: Any, *, what: str = "conditional prices") -> list[tuple[Sentence, Sentence, Any]]:
    """The ``(sentence, given, price)`` triples of ``P(sentence | given) = price``.

    Parameters
    ----------
    prices : mapping or iterable of triples
        ``{(sentence, given): price}`` or ``(sentence, given, price)`` triples.
    what : str
        What the prices are, for error messages.

    Returns
    -------
    list of (Sentence, Sentence, object)

    Examples
    --------
    >>> conditional_prices({("rain", "cloudy"): 0.6})
    [(Sentence('rain'), Sentence('cloudy'), 0.6)]
    """
    triples = []
    for i, item in enumerate(_items(prices, what, _TRIPLES)):
        if isinstance(prices, Mapping) or hasattr(prices, "items"):
            key, p = item
            a, b = _unpack(key, 2, i, what, _TRIPLES)
        else:
            a, b, p = _unpack(item, 3, i, what, _TRIPLES)
        triples.append((_sentence(a, i, what), _sentence(b, i, what), p))
    return triples
