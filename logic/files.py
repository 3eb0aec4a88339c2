"""Reading price tables, theories and other text files, with errors that name the file, line and problem."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from pathlib import Path

from deepmarkets.errors import BookError, DeclarationError, ParseError
from deepmarkets.logic.sentence import Sentence

__all__ = ["read_prices", "read_theory", "read_text", "PRICE_COLUMNS"]

#: Columns of a price table; ``given`` is optional (blank for unconditional prices).
PRICE_COLUMNS = ("sentence", "price", "given")


def read_text(path: str | Path, what: str, error: type[DeclarationError] = DeclarationError) -> str:
    """The text of a UTF-8 file, without the byte-order mark that Excel and Notepad put first.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the file holds ("theory", "prices", ...), for the messages.
    error : type, optional
        The :class:`DeclarationError` subclass to raise.

    Raises
    ------
    DeclarationError
        (or ``error``) naming the file when it is missing, unreadable or not UTF-8.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "theory.txt"
    >>> _ = f.write_bytes(b"\\xef\\xbb\\xbfrain -> wet")  # what Excel writes first
    >>> read_text(f, "theory")
    'rain -> wet'
    """
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error(f"{p}: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise error(f"{p}: cannot read the {what} file ({err})") from None


def read_theory(path: str | Path) -> list[Sentence]:
    """Sentences of a theory file: one per line, ``#`` comments, ``int``/``real`` declarations."""
    from deepmarkets.logic.parse import parse_theory

    text = read_text(path, "theory", BookError)
    return parse_theory(text, source=str(path))


@contextlib.contextmanager
def _cells_up_to(size: int) -> Iterator[None]:
    """Let the csv module read cells of up to ``size`` characters (a sentence can be long)."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, size))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _rows(text: str, path) -> list[list[str]]:
    # the whole file is in memory already, so no cell can be longer than the text: lift the csv
    # module's cell limit (131,072 characters) to that length for this file
    with _cells_up_to(len(text) + 1):
        reader = csv.reader(io.StringIO(text))
        try:
            return list(reader)
        except csv.Error as err:
            raise BookError(f"{path}: line {reader.line_num}: not valid CSV ({err})") from None


def read_prices(path: str | Path, *, tolerance: float = 0.0,
                ) -> tuple[list[tuple[Sentence, str]], list[tuple[Sentence, Sentence, str]]]:
    """Read a CSV with columns ``sentence,price`` and optionally ``given``.

    Returns ``(prices, conditional)``: pairs ``(sentence, price)`` and triples
    ``(sentence, given, price)``; prices are kept as text so ``0.3`` stays exactly 3/10.
    A price at most ``tolerance`` outside [0, 1] (rounding noise, such as 1.0000000000000002)
    is kept for the coherence check to report; one further outside is an error.

    Raises
    ------
    BookError
        For a missing file, no rows, missing or unknown columns, or a bad price, naming the line.
    ParseError
        For a malformed sentence, naming the line and column.
    """
    text = read_text(path, "prices", BookError)
    rows = _rows(text, path)
    header_at = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), None)
    if header_at is None:
        raise BookError(f"{path}: the file is empty; expected a header 'sentence,price' and one row per price")
    header = [c.strip().lower() for c in rows[header_at]]
    unknown = [c for c in header if c not in PRICE_COLUMNS]
    if unknown:
        raise BookError(
            f"{path}: line {header_at + 1}: unknown column(s) {', '.join(map(repr, unknown))}; "
            f"expected columns sentence, price and optionally given"
        )
    missing = [c for c in ("sentence", "price") if c not in header]
    if missing:
        raise BookError(f"{path}: line {header_at + 1}: missing column(s) {', '.join(missing)}")
    col = {name: header.index(name) for name in header}
    prices: list[tuple[Sentence, str]] = []
    conditional: list[tuple[Sentence, Sentence, str]] = []
    for lineno, row in enumerate(rows[header_at + 1 :], start=header_at + 2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise BookError(f"{path}: line {lineno}: expected {len(header)} fields, found {len(row)}")
        s = _sentence(row[col["sentence"]], path, lineno, "sentence")
        price = row[col["price"]].strip()
        _check_price(price, path, lineno, tolerance)
        given = row[col["given"]].strip() if "given" in col else ""
        if given:
            conditional.append((s, _sentence(given, path, lineno, "given"), price))
        else:
            prices.append((s, price))
    if not prices and not conditional:
        raise BookError(f"{path}: no prices: the header is there but no row follows")
    return prices, conditional


def _sentence(cell: str, path, lineno: int, column: str) -> Sentence:
    from deepmarkets.logic.parse import parse

    try:
        return parse(cell)
    except ParseError as err:
        pointer = f"\n    {cell}\n    {' ' * (err.column - 1)}^" if err.line == 1 else ""
        raise ParseError(
            f"in the {column!r} cell, at character {err.column}: {err.reason}{pointer}", lineno, err.column,
            source=str(path),
        ) from None


def _check_price(price: str, path, lineno: int, tolerance: float) -> None:
    try:
        value = float(price)
    except ValueError:
        raise BookError(f"{path}: line {lineno}: price {price!r} is not a number") from None
    if value != value:
        raise BookError(f"{path}: line {lineno}: price is NaN; give a number in [0, 1]")
    if not -tolerance <= value <= 1 + tolerance:
        within = f" by more than the tolerance {tolerance:g}" if tolerance else ""
        raise BookError(f"{path}: line {lineno}: price {price} is outside [0, 1]{within}")
