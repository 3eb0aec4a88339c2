"""Books: validated tables of trades or of reports, read from and written to CSV, Parquet and JSON lines.

A :class:`Book` is who traded or reported what, on which security or question, and when.
A *trades* book is replayed through a market maker; a *reports* book (categorical answers or
probabilities from traders on questions) feeds inference on the hidden truth and on each
trader's reliability. Every way into a book (files, frames, records) goes through one
validation that names the file, the row (and the line, for text files), the column, the bad
value, what was expected and how to fix it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from deepmarkets.errors import BookError, DeclarationError
from deepmarkets.helpers import as_rng, atomic_path

__all__ = ["Book", "BookKind", "TRADE_COLUMNS", "REPORT_COLUMNS", "FORMATS"]

BookKind = Literal["trades", "reports"]

#: Accepted column names of a trades book: canonical name -> aliases (matched case-insensitively).
TRADE_COLUMNS: dict[str, tuple[str, ...]] = {
    "time": ("time", "timestamp", "t", "ts"),
    "trader": ("trader", "agent", "user", "account", "worker", "annotator"),
    "security": ("security", "contract", "market", "asset", "outcome", "item"),
    "quantity": ("quantity", "qty", "shares", "size", "amount"),
    "price": ("price", "cost", "paid", "price_paid"),
}

#: Accepted column names of a reports book: canonical name -> aliases (matched case-insensitively).
REPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "time": ("time", "timestamp", "t", "ts"),
    "question": ("question", "item", "task", "question_id"),
    "trader": ("trader", "worker", "annotator", "labeler", "labeller", "rater", "forecaster", "user"),
    "answer": ("answer", "label", "response", "choice"),
    "probability": ("probability", "prob", "p", "forecast"),
}

_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {"trades": TRADE_COLUMNS, "reports": REPORT_COLUMNS}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "trades": ("trader", "security", "quantity"),
    "reports": ("question", "trader"),
}
_NAMES_WHAT = {"trades": "securities", "reports": "questions"}
_ITEM = {"trades": "security", "reports": "question"}

#: File formats: name -> suffixes that select it (``.gz`` variants are gzip-compressed).
FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".csv.gz"),
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz"),
}

#: Text cells read as a missing number (case-insensitive), besides the empty cell.
_NA_TOKENS = frozenset({"nan", "na", "n/a", "null", "none"})
_EXAMPLE_HEADER = {"trades": "time,trader,security,quantity,price", "reports": "question,trader,answer"}
_COW = int(pd.__version__.split(".")[0]) >= 3  # copy-on-write is always on from pandas 3


def _text_series(values: Sequence[Any] | np.ndarray) -> pd.Series:
    """Text with NaN for missing: pandas' default string dtype from pandas 3, object (not 'None' text) before."""
    if _COW:
        return pd.Series(values, dtype="str")
    return pd.Series([np.nan if v is None else v for v in values], dtype=object)


# ---------------------------------------------------------------------------
# where a row came from, for messages
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Origin:
    """The source of a table being validated: a file name (or 'frame') and the line of each data row."""

    source: str
    lines: np.ndarray | None = None  # 1-based line of each data row in a text file

    def where(self, pos: int) -> str:
        line = f" (line {int(self.lines[pos])})" if self.lines is not None else ""
        return f"row {pos + 1}{line}"


def _column_label(canonical: str, original: str) -> str:
    if original == canonical:
        return f"column {canonical}"
    return f"column {original!r} (read as {canonical})"


def _show(value: Any) -> str:
    text = repr(value.item() if isinstance(value, np.generic) else value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fail_at(origin: _Origin, bad: np.ndarray, label: str, problem, expected: str) -> None:
    """Raise a BookError for the first True of ``bad``; ``problem(pos)`` describes that row's value."""
    positions = np.flatnonzero(bad)
    if positions.size == 0:
        return
    pos = int(positions[0])
    more = positions.size - 1
    also = f" ({more} more row{'s' if more != 1 else ''} with the same problem)" if more else ""
    raise BookError(f"{origin.source}: {origin.where(pos)}, {label}: {problem(pos)}; {expected}{also}")


# ---------------------------------------------------------------------------
# column conversion
# ---------------------------------------------------------------------------


def _is_missing_scalar(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float | np.floating) and v != v


def _to_numbers(s: pd.Series, label: str, origin: _Origin, expected: str) -> tuple[np.ndarray, np.ndarray]:
    """Float64 values and a missing mask; raises on values that are not numbers at all.

    Missing: NaN, None, the empty cell and the text tokens nan/na/n/a/null/none.
    Non-finite numbers (inf) are returned as such; callers decide.
    """
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        _fail_at(origin, np.ones(len(s), bool), label, lambda p: f"{_show(s.iloc[p])} is a boolean, not a number",
                 expected)
    if pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.StringDtype):
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.isnan(values)
    raw = s.to_numpy(dtype=object)
    values = np.full(len(raw), np.nan)
    missing = np.zeros(len(raw), bool)
    bad = np.zeros(len(raw), bool)
    if isinstance(dtype, pd.StringDtype):
        stripped = s.str.strip()
        text_missing = (stripped.isna() | (stripped == "") | stripped.str.lower().isin(list(_NA_TOKENS))).to_numpy(bool)
        parsed = pd.to_numeric(stripped.where(~text_missing), errors="coerce").to_numpy(np.float64, na_value=np.nan)
        values[:] = parsed
        missing[:] = text_missing
        retry = np.flatnonzero(np.isnan(parsed) & ~text_missing)
    else:
        retry = np.arange(len(raw))
    for i in retry:
        v = raw[i]
        if isinstance(v, str):
            t = v.strip()
            if not t or t.lower() in _NA_TOKENS:
                missing[i] = True
                continue
            try:
                values[i] = float(t)
            except ValueError:
                bad[i] = True
        elif _is_missing_scalar(v):
            missing[i] = True
        elif isinstance(v, bool | np.bool_):
            bad[i] = True
        elif isinstance(v, int | float | np.integer | np.floating):
            try:
                values[i] = float(v)
            except OverflowError:
                values[i] = math.copysign(math.inf, v)
        else:
            bad[i] = True
    _fail_at(origin, bad, label, lambda p: f"{_show(raw[p])} is not a number", expected)
    return values, missing


def _to_names(s: pd.Series, label: str, origin: _Origin, what: str, *, missing_ok: bool = False) -> np.ndarray:
    """Object array of stripped text (None where missing and ``missing_ok``); integers become their digits."""
    dtype = s.dtype
    how = (
        f"expected a non-empty {what}; fill in the cell or remove the row"
        if not missing_ok else f"expected a {what} as text"
    )
    if pd.api.types.is_bool_dtype(dtype):
        _fail_at(origin, np.ones(len(s), bool), label, lambda p: f"{_show(s.iloc[p])} is a boolean", how)
    if pd.api.types.is_integer_dtype(dtype) and not isinstance(dtype, pd.StringDtype):
        if s.isna().any():  # nullable integers
            if not missing_ok:
                _fail_at(origin, s.isna().to_numpy(bool), label, lambda p: "the value is missing", how)
        return np.array([None if _is_missing_scalar(v) else str(int(v)) for v in s.to_numpy(object)], dtype=object)
    if isinstance(dtype, pd.StringDtype):
        stripped = s.str.strip()
        out = stripped.to_numpy(dtype=object, na_value=None)
        missing = (stripped.isna() | (stripped == "")).to_numpy(bool)
        bad = np.zeros(len(out), bool)
    else:
        raw = s.to_numpy(dtype=object)
        out = np.empty(len(raw), dtype=object)
        missing = np.zeros(len(raw), bool)
        bad = np.zeros(len(raw), bool)
        for i, v in enumerate(raw):
            if isinstance(v, str):
                out[i] = v.strip()
                missing[i] = not out[i]
            elif _is_missing_scalar(v):
                missing[i] = True
            elif isinstance(v, int | np.integer) and not isinstance(v, bool | np.bool_):
                out[i] = str(int(v))
            else:
                bad[i] = True
    if not missing_ok:
        _fail_at(origin, missing, label, lambda p: "the value is missing or empty", how)
    out[missing] = None

    def kind_of(p: int) -> str:
        v = s.iloc[p]
        if isinstance(v, float | np.floating):
            return f"{_show(v)} is a number with a decimal point, not a name"
        return f"{_show(v)} is a {type(v).__name__}, not a name"

    _fail_at(origin, bad, label, kind_of, f"expected text or an integer id for the {what}")
    return out


def _to_times(s: pd.Series, label: str, origin: _Origin) -> np.ndarray:
    """Float64 times or datetime64[ns] UTC values (as a numpy array of the UTC wall clock)."""
    expected = ("expected a number or an ISO 8601 date-time like 2024-05-01T12:00:00Z (naive times are UTC, "
                "years 1677-2262); fix the cell, or drop the time column to use the row order")
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        stamps = s.dt.tz_convert("UTC") if isinstance(dtype, pd.DatetimeTZDtype) else s.dt.tz_localize("UTC")
        return _finish_datetimes(stamps, label, origin, expected, s)
    if (pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.StringDtype)) or pd.api.types.is_bool_dtype(
        dtype
    ):
        return _finish_numeric_times(s, label, origin, expected)
    raw = s.to_numpy(dtype=object)
    first = next((v for v in raw if not _is_missing_scalar(v) and not (isinstance(v, str) and not v.strip())), None)
    if first is None:
        _fail_at(origin, np.ones(len(raw), bool), label, lambda p: "the value is missing", expected)
    numeric_first = isinstance(first, int | float | np.integer | np.floating) and not isinstance(first, bool | np.bool_)
    if isinstance(first, str):
        numeric_first = first.strip().lower() not in _NA_TOKENS and _parses_as_float(first.strip())
    if numeric_first:
        return _finish_numeric_times(
            s, label, origin, "the first time is a number, so every time must be a number (or every time a date-time)"
        )
    cleaned = np.empty(len(raw), dtype=object)
    bad = np.zeros(len(raw), bool)
    missing = np.zeros(len(raw), bool)
    for i, v in enumerate(raw):
        if isinstance(v, str):
            t = v.strip()
            missing[i] = not t
            cleaned[i] = t or None
            if t and t.lower() not in _NA_TOKENS and _parses_as_float(t):
                bad[i] = True
        elif _is_missing_scalar(v):
            missing[i] = True
            cleaned[i] = None
        elif isinstance(v, int | float | np.integer | np.floating | bool | np.bool_):
            bad[i] = True
            cleaned[i] = None
        else:
            cleaned[i] = v
    _fail_at(origin, missing, label, lambda p: "the value is missing", expected)
    _fail_at(
        origin, bad, label, lambda p: f"{_show(raw[p])} is a number, but the first time is a date-time",
        "every time must be a date-time (or every time a number)",
    )
    try:
        stamps = pd.to_datetime(pd.Series(cleaned, dtype=object), format="ISO8601", utc=True, errors="coerce")
    except (TypeError, ValueError, OverflowError):  # an odd object among the cells: parse one by one
        stamps = pd.Series([_one_datetime(v) for v in cleaned], dtype="datetime64[ns, UTC]")
    return _finish_datetimes(stamps, label, origin, expected, pd.Series(raw, dtype=object))


def _parses_as_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _one_datetime(v: Any) -> pd.Timestamp:
    try:
        return pd.to_datetime(v, format="ISO8601", utc=True)
    except (TypeError, ValueError, OverflowError):
        return pd.NaT


def _finish_numeric_times(s: pd.Series, label: str, origin: _Origin, expected: str) -> np.ndarray:
    values, missing = _to_numbers(s, label, origin, expected)
    _fail_at(origin, missing, label, lambda p: "the value is missing", "expected a time in every row, or no time "
             "column at all (then the row order is the time)")
    _fail_at(origin, ~np.isfinite(values), label, lambda p: f"{float(values[p])!r} is not a finite time",
             "expected a finite number")
    return values


def _finish_datetimes(stamps: pd.Series, label: str, origin: _Origin, expected: str, raw: pd.Series) -> np.ndarray:
    stamps = stamps.reset_index(drop=True)
    lo, hi = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
    bad = (stamps.isna() | (stamps < lo) | (stamps > hi)).to_numpy(bool)
    _fail_at(origin, bad, label, lambda p: f"{_show(raw.iloc[p])} is not a date-time in range", expected)
    return stamps.dt.as_unit("ns").dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")


# ---------------------------------------------------------------------------
# columns: aliases, kind detection
# ---------------------------------------------------------------------------


def _key(name: str) -> str:
    return name.strip().casefold()


def _assign(columns: Sequence[str], kind: str) -> dict[str, list[str]]:
    lookup = {alias: canon for canon, aliases in _ALIASES[kind].items() for alias in aliases}
    out: dict[str, list[str]] = {}
    for c in columns:
        canon = lookup.get(_key(c))
        if canon is not None:
            out.setdefault(canon, []).append(c)
    return out


def _missing_required(assigned: Mapping[str, list[str]], kind: str) -> list[str]:
    missing = [c for c in _REQUIRED[kind] if c not in assigned]
    if kind == "reports" and "answer" not in assigned and "probability" not in assigned:
        missing.append("answer or probability")
    return missing


def _accepted(kind: str, canonical: str) -> str:
    if canonical == "answer or probability":
        return (f"answer (or {', '.join(REPORT_COLUMNS['answer'][1:])}) or probability "
                f"(or {', '.join(REPORT_COLUMNS['probability'][1:])})")
    return f"{canonical} (or {', '.join(a for a in _ALIASES[kind][canonical] if a != canonical)})"


def _detect_kind(columns: list[str], origin: _Origin) -> str:
    fits = {k: not _missing_required(_assign(columns, k), k) for k in ("trades", "reports")}
    if fits["trades"] and fits["reports"]:
        raise BookError(
            f"{origin.source}: the columns {columns} fit both a trades book and a reports book; "
            f"pass kind='trades' or kind='reports'"
        )
    if fits["trades"]:
        return "trades"
    if fits["reports"]:
        return "reports"
    needs = "; ".join(
        f"a {k} book needs {', '.join(_REQUIRED[k]) + (' and answer or probability' if k == 'reports' else '')}"
        f" (missing: {'; '.join(_accepted(k, m) for m in _missing_required(_assign(columns, k), k))})"
        for k in ("trades", "reports")
    )
    raise BookError(
        f"{origin.source}: cannot tell whether this is a book of trades or of reports from its columns "
        f"{columns}: {needs}. Rename the columns, or pass kind='trades' or kind='reports'"
    )


def _check_kind(kind: Any) -> None:
    if kind is not None and kind not in _ALIASES:
        raise DeclarationError(f"kind={kind!r} is not a kind of book; expected 'trades', 'reports' or None (detect)")


# ---------------------------------------------------------------------------
# validation: one path for every source
# ---------------------------------------------------------------------------


def _validate(frame: pd.DataFrame, kind: str | None, origin: _Origin) -> tuple[pd.DataFrame, str, np.ndarray]:
    """Validated canonical frame, the kind, and the source position of each output row."""
    _check_kind(kind)
    if isinstance(frame.columns, pd.MultiIndex):
        raise BookError(f"{origin.source}: the columns have several levels; flatten them to single names first")
    names: list[str] = []
    for c in frame.columns:
        if not isinstance(c, str):
            raise BookError(
                f"{origin.source}: column name {c!r} is a {type(c).__name__}; column names must be text "
                f"(give the table a header such as {_header_example(kind)})"
            )
        if not c.strip():
            raise BookError(
                f"{origin.source}: column {len(names) + 1} has an empty name; name it or remove the column "
                f"(a trailing comma on each line makes one)"
            )
        names.append(c)
    seen: dict[str, str] = {}
    for c in names:
        if c.strip() in seen:
            raise BookError(f"{origin.source}: the column {c.strip()!r} appears twice; keep one of them")
        seen[c.strip()] = c
    if len(frame) == 0:
        raise BookError(
            f"{origin.source}: the book has no rows; expected one row per "
            f"{ {'trades': 'trade', 'reports': 'report'}.get(kind or '', 'trade or report')} after the column names"
        )
    if kind is None:
        kind = _detect_kind(names, origin)
    assigned = _assign(names, kind)
    for canon, cols in assigned.items():
        if len(cols) > 1:
            raise BookError(
                f"{origin.source}: the columns {cols[0]!r} and {cols[1]!r} both name the {canon} column of a {kind} "
                f"book (accepted names: {', '.join(_ALIASES[kind][canon])}); keep one, or rename the other to a "
                f"name that is not an alias"
            )
    missing = _missing_required(assigned, kind)
    if missing:
        raise BookError(
            f"{origin.source}: the {kind} book has no column for "
            f"{'; '.join(_accepted(kind, m) for m in missing)}; columns found: {names}. "
            f"Rename a column to one of the accepted names, or add it"
        )
    col = {canon: cols[0] for canon, cols in assigned.items()}
    frame = frame.reset_index(drop=True)
    n = len(frame)

    def label(canon: str) -> str:
        return _column_label(canon, col[canon])

    out: dict[str, Any] = {}
    if "time" in col:
        times = _to_times(frame[col["time"]], label("time"), origin)
    elif kind == "trades":
        times = np.arange(n, dtype=np.float64)
    else:
        times = None
    if kind == "trades":
        traders = _to_names(frame[col["trader"]], label("trader"), origin, "trader name")
        securities = _to_names(frame[col["security"]], label("security"), origin, "security name")
        qty, qmissing = _to_numbers(frame[col["quantity"]], label("quantity"), origin,
                                    "expected a finite, non-zero number of units (positive buys, negative sells)")
        how = "expected a finite, non-zero number of units (positive buys, negative sells); fix or remove the row"
        _fail_at(origin, qmissing, label("quantity"), lambda p: "the quantity is missing (NaN or empty)", how)
        _fail_at(origin, ~np.isfinite(qty), label("quantity"), lambda p: f"{float(qty[p])!r} is not a finite number",
                 how)
        _fail_at(origin, qty == 0, label("quantity"), lambda p: "a quantity of 0 trades nothing",
                 "expected a non-zero number of units; remove the row")
        if "price" in col:
            price, _ = _to_numbers(frame[col["price"]], label("price"), origin,
                                   "expected a finite price paid per unit, or an empty cell when not recorded")
            _fail_at(origin, np.isinf(price), label("price"), lambda p: f"{float(price[p])!r} is not a finite price",
                     "expected a finite price paid per unit, or an empty cell when not recorded")
        else:
            price = np.full(n, np.nan)
        out = {"time": times, "trader": traders, "security": securities, "quantity": qty, "price": price}
    else:
        questions = _to_names(frame[col["question"]], label("question"), origin, "question name")
        traders = _to_names(frame[col["trader"]], label("trader"), origin, "trader name")
        if times is not None:
            out["time"] = times
        out["question"] = questions
        out["trader"] = traders
        answered = np.zeros(n, bool)
        if "answer" in col:
            answers = _to_names(frame[col["answer"]], label("answer"), origin, "answer label",
                                missing_ok="probability" in col)
            answered = np.array([a is not None for a in answers], dtype=bool)
            out["answer"] = answers
        if "probability" in col:
            expected = "expected a probability between 0 and 1"
            prob, pmissing = _to_numbers(frame[col["probability"]], label("probability"), origin, expected)
            if "answer" in col:
                _fail_at(origin, pmissing & ~answered, f"{label('answer')} and {label('probability')}",
                         lambda p: "both are missing", "expected an answer, a probability or both; fill one in "
                         "or remove the row")
            else:
                _fail_at(origin, pmissing, label("probability"), lambda p: "the probability is missing",
                         expected + "; fill it in or remove the row")
            outside = ~pmissing & ~((prob >= 0) & (prob <= 1))
            _fail_at(origin, outside, label("probability"), lambda p: f"{float(prob[p])!r} is outside [0, 1]",
                     expected + " (percentages must be divided by 100)")
            out["probability"] = prob
    used = set(col.values())
    extras = [c for c in names if c not in used]
    result = pd.DataFrame({name: _canonical_series(name, values) for name, values in out.items()})
    for c in extras:
        result[c.strip()] = _tidy_extra(frame[c])
    if times is not None:
        key = times.view(np.int64) if times.dtype.kind == "M" else times
        order = np.argsort(key, kind="stable")
        if not np.array_equal(order, np.arange(n)):
            result = result.take(order).reset_index(drop=True)
    else:
        order = np.arange(n)
    return result, kind, order


def _canonical_series(name: str, values: np.ndarray) -> pd.Series:
    if values.dtype == object:
        return _text_series(values)
    if values.dtype.kind == "M":
        return pd.Series(values).dt.tz_localize("UTC")
    return pd.Series(values, dtype=np.float64)


def _tidy_extra(s: pd.Series) -> pd.Series:
    """An extra column as given, except that object columns get the dtype their values share (ints, text...)."""
    s = s.reset_index(drop=True)
    return s.infer_objects() if s.dtype == object else s.copy()


# ---------------------------------------------------------------------------
# formats
# ---------------------------------------------------------------------------


def _format_of(path: Path, format: str | None) -> tuple[str, bool]:
    name = path.name.lower()
    if format is not None:
        fmt = format.lower().lstrip(".")
        gz = fmt.endswith(".gz")
        fmt = fmt.removesuffix(".gz")
        fmt = {"ndjson": "jsonl"}.get(fmt, fmt)
        if fmt not in FORMATS or (gz and fmt == "parquet"):
            raise BookError(
                f"{path}: format={format!r} is not a book format; expected one of "
                f"{', '.join(sorted(FORMATS))} (csv and jsonl may end in .gz)"
            )
        return fmt, gz or (fmt != "parquet" and name.endswith(".gz"))
    for fmt, suffixes in FORMATS.items():
        for suffix in sorted(suffixes, key=len, reverse=True):
            if name.endswith(suffix):
                return fmt, suffix.endswith(".gz")
    suffix = "".join(path.suffixes[-2:]) or "(none)"
    known = ", ".join(s for sfx in FORMATS.values() for s in sfx)
    raise BookError(
        f"{path}: cannot tell the format from the suffix {suffix}; expected one of {known}, "
        f"or pass format='csv', 'parquet' or 'jsonl'"
    )


def _open_text(path: Path, gz: bool):
    if gz:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _header_example(kind: str | None) -> str:
    """A header line for a book of ``kind`` (both kinds when it is not known), for messages."""
    if kind is None:
        return f"{_EXAMPLE_HEADER['trades']} for trades or {_EXAMPLE_HEADER['reports']} for reports"
    return _EXAMPLE_HEADER[kind]


def _read_csv(path: Path, gz: bool, kind: str | None = None) -> tuple[pd.DataFrame, _Origin]:
    header: list[str] | None = None
    header_line = 0
    columns: list[list[str | None]] = []
    lines: list[int] = []
    with _open_text(path, gz) as f:
        reader = csv.reader(f)
        previous = 0
        try:
            for row in reader:
                start, previous = previous + 1, reader.line_num
                if not row:
                    continue
                if header is None:
                    header, header_line = row, start
                    columns = [[] for _ in row]
                    continue
                if len(row) != len(header):
                    raise BookError(
                        f"{path}: row {len(lines) + 1} (line {start}): expected {len(header)} fields like the header "
                        f"on line {header_line}, found {len(row)}; quote fields that contain commas"
                    )
                for column, cell in zip(columns, row, strict=True):
                    column.append(cell if cell != "" else None)
                lines.append(start)
        except csv.Error as err:
            raise BookError(f"{path}: line {reader.line_num}: not valid CSV ({err})") from None
    if header is None:
        raise BookError(
            f"{path}: the file is empty; expected a header line naming the columns (e.g. "
            f"{_header_example(kind)}) and one line per row"
        )
    if not lines:
        raise BookError(f"{path}: the book has no rows: the header (line {header_line}) is there but no row follows")
    frame = pd.DataFrame({}, index=pd.RangeIndex(len(lines)))
    for i, (name, column) in enumerate(zip(header, columns, strict=True)):
        if not name.strip():
            raise BookError(
                f"{path}: line {header_line}: column {i + 1} has an empty name; name it or remove the column "
                f"(a trailing comma on each line makes one)"
            )
        if name in frame.columns:
            raise BookError(f"{path}: line {header_line}: the column {name!r} appears twice; keep one of them")
        frame[name] = _text_series(column)
    return frame, _Origin(str(path), np.asarray(lines, dtype=np.int64))


def _read_jsonl(path: Path, gz: bool) -> tuple[pd.DataFrame, _Origin]:
    records: list[dict] = []
    lines: list[int] = []
    with _open_text(path, gz) as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise BookError(
                    f"{path}: row {len(records) + 1} (line {lineno}), character {err.colno}: not valid JSON "
                    f"({err.msg}); expected one JSON object per line"
                ) from None
            if not isinstance(record, dict):
                raise BookError(
                    f"{path}: row {len(records) + 1} (line {lineno}): a JSON {type(record).__name__}, not an object; "
                    'expected one object per line like {"trader": "ann", "security": "rain", "quantity": 2}'
                )
            records.append(record)
            lines.append(lineno)
    if not records:
        raise BookError(f"{path}: the book has no rows: the file holds no JSON object; expected one object per line")
    return _records_frame(records), _Origin(str(path), np.asarray(lines, dtype=np.int64))


def _records_frame(records: Sequence[Mapping]) -> pd.DataFrame:
    """Columns in first-seen key order; canonical-looking columns stay object so ints are not turned into floats."""
    keys: dict[Any, None] = {}
    for r in records:
        keys.update(dict.fromkeys(r))
    aliases = {a for table in _ALIASES.values() for names in table.values() for a in names}
    data = {}
    for k in keys:
        values = [r.get(k) for r in records]
        if isinstance(k, str) and _key(k) in aliases:
            data[k] = pd.Series(values, dtype=object)
        else:
            data[k] = pd.Series(values)
    return pd.DataFrame(data, index=pd.RangeIndex(len(records)))


def _read_parquet(path: Path) -> tuple[pd.DataFrame, _Origin]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError) as err:
        raise BookError(f"{path}: cannot read the file as Parquet ({err}); check the file or pass format=") from None
    if any(n is not None for n in frame.index.names):
        frame = frame.reset_index()
    return frame.reset_index(drop=True), _Origin(str(path))


def _cell_text(values: np.ndarray | pd.Series) -> list[str]:
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return [("" if v is None else v) for v in _iso(s)]
    if pd.api.types.is_float_dtype(dtype):
        return ["" if x != x else repr(x) for x in s.to_numpy(np.float64).tolist()]
    return ["" if _is_missing_scalar(v) else str(v) for v in s.to_numpy(object)]


def _iso(s: pd.Series) -> list[str | None]:
    """ISO 8601 text in UTC with the coarsest unit (s, ms, us, ns) that shows every value exactly."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert("UTC").dt.tz_localize(None)
    v = s.dt.as_unit("ns").to_numpy("datetime64[ns]")
    ok = ~np.isnat(v)
    ticks = v[ok].view(np.int64)
    unit = "ns"
    for name, step in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if np.all(ticks % step == 0):
            unit = name
            break
    text = np.datetime_as_string(v, unit=unit, timezone="UTC")
    return [t if good else None for t, good in zip(text.tolist(), ok.tolist(), strict=True)]


def _write_csv(frame: pd.DataFrame, path: Path, gz: bool) -> None:
    columns = [_cell_text(frame[c]) for c in frame.columns]
    with open(path, "wb") as raw:
        binary = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") if gz else raw
        with io.TextIOWrapper(binary, encoding="utf-8", newline="") as f:
            writer = csv.writer(f, lineterminator="\r\n")  # RFC 4180; quotes any field holding \r or \n
            writer.writerow(list(frame.columns))
            writer.writerows(zip(*columns, strict=True))
        if gz:
            binary.close()


def _json_values(s: pd.Series, path: Path) -> list[Any]:
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return _iso(s)
    if pd.api.types.is_float_dtype(dtype):
        values = s.to_numpy(np.float64)
        if np.isinf(values).any():
            raise BookError(f"{path}: column {s.name!r} holds an infinite value, which JSON cannot store; "
                            f"write CSV or Parquet instead")
        return [None if x != x else x for x in values.tolist()]
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        return [None if _is_missing_scalar(v) else v for v in s.to_numpy(object).tolist()]
    out = []
    for v in s.to_numpy(object):
        if _is_missing_scalar(v):
            out.append(None)
        elif isinstance(v, str | bool | int):
            out.append(v)
        elif isinstance(v, float | np.floating):
            if math.isinf(v):
                raise BookError(f"{path}: column {s.name!r} holds an infinite value, which JSON cannot store; "
                                f"write CSV or Parquet instead")
            out.append(float(v))
        elif isinstance(v, np.generic):
            out.append(v.item())
        elif isinstance(v, pd.Timestamp):
            out.append(v.isoformat())
        else:
            raise BookError(
                f"{path}: column {s.name!r} holds a {type(v).__name__} ({_show(v)}), which JSON lines cannot store; "
                f"convert the column to text, numbers or dates first"
            )
    return out


def _write_jsonl(frame: pd.DataFrame, path: Path, gz: bool) -> None:
    names = list(frame.columns)
    columns = [_json_values(frame[c], path) for c in names]
    with open(path, "wb") as raw:
        binary = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") if gz else raw
        with io.TextIOWrapper(binary, encoding="utf-8", newline="\n") as f:
            for row in zip(*columns, strict=True):
                f.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False, allow_nan=False))
                f.write("\n")
        if gz:
            binary.close()


def _write_parquet(frame: pd.DataFrame, path: Path, gz: bool) -> None:
    import pyarrow as pa

    try:
        frame.to_parquet(path, engine="pyarrow", index=False)
    except (pa.ArrowException, TypeError, ValueError) as err:
        raise BookError(
            f"{path}: cannot write the book as Parquet ({err}); an extra column probably mixes types, convert it "
            f"to one type first"
        ) from None


_WRITERS = {"csv": _write_csv, "jsonl": _write_jsonl, "parquet": _write_parquet}


# ---------------------------------------------------------------------------
# the Book
# ---------------------------------------------------------------------------


def _names_arg(value: str | Iterable[str] | None, what: str) -> set[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {value}
    values = set(value)
    if not all(isinstance(v, str) for v in values):
        raise DeclarationError(f"{what} names must be text; got {sorted(map(repr, values))}")
    return values


class Book:
    """A validated table of trades or of reports.

    Build one with :meth:`read` (CSV, Parquet, JSON lines), :meth:`from_frame`,
    :meth:`from_records` or :meth:`simulate_trades`; ``Book(frame, kind)`` is the same as
    :meth:`from_frame`. The validated table is :attr:`frame` (a copy: changing it does not
    change the book). A book always has at least one row.

    **Trades** (``kind="trades"``), one row per trade, columns in this order:

    ==========  =========================  ================================================
    column      dtype                      meaning
    ==========  =========================  ================================================
    time        float64 or                 when; numbers stay numbers; date-times (ISO 8601
                datetime64[ns, UTC]        text, or datetime columns) become UTC, naive ones
                                           read as UTC. Without a time column the row order
                                           is the time: 0.0, 1.0, ..., n-1.
    trader      str                        who traded (non-empty)
    security    str                        what was traded (non-empty)
    quantity    float64                    units bought (> 0) or sold (< 0); finite, non-zero
    price       float64                    price paid per unit, any finite number; NaN when
                                           not recorded (the column is added, all NaN, when
                                           absent)
    ==========  =========================  ================================================

    **Reports** (``kind="reports"``), one row per report of a trader on a question: ``time``
    (optional, as above), ``question`` (str), ``trader`` (str), and ``answer`` (str, a
    categorical label) and/or ``probability`` (float64 in [0, 1]). With both columns a row
    needs at least one of them (the other is missing: NaN). Gold labels (the truth) do not
    belong in a book; keep them in a separate table.

    **Column names** are matched case-insensitively, ignoring surrounding spaces, and these
    aliases are accepted (see :data:`TRADE_COLUMNS`, :data:`REPORT_COLUMNS`):

    ===========  ==============================================================
    trades       aliases
    ===========  ==============================================================
    time         timestamp, t, ts
    trader       agent, user, account, worker, annotator
    security     contract, market, asset, outcome, item
    quantity     qty, shares, size, amount
    price        cost, paid, price_paid
    ===========  ==============================================================

    ===========  ==============================================================
    reports      aliases
    ===========  ==============================================================
    time         timestamp, t, ts
    question     item, task, question_id
    trader       worker, annotator, labeler, labeller, rater, forecaster, user
    answer       label, response, choice
    probability  prob, p, forecast
    ===========  ==============================================================

    Two columns naming the same thing (``user`` and ``worker``) are an error. **Other
    columns are kept**, unvalidated, after the canonical ones (their names stripped of
    surrounding spaces); CSV reads them as text, and an empty cell is a missing value.

    **Validation.** Names (trader, security, question, answer) are stripped of surrounding
    spaces; integer ids become their digits (``17`` -> ``"17"``). Numbers may be written as
    text; the empty cell and ``nan``, ``na``, ``n/a``, ``null``, ``none`` are missing numbers.
    Rows are sorted by time with a stable sort, so rows with equal times keep their order in
    the file. Every problem raises :class:`~deepmarkets.errors.BookError` naming the source,
    the row (1-based, counting data rows as a reader of the file does; text files add the
    line), the column, the value, what was expected and how to fix it.

    Examples
    --------
    >>> book = Book.from_records([
    ...     {"ts": 2, "agent": "ann", "contract": "rain", "qty": 5, "cost": 0.4},
    ...     {"ts": 1, "agent": "bob", "contract": "rain", "qty": -2},
    ... ])
    >>> book
    Book(trades: 2 rows, 2 traders, 1 security, time 1 to 2)
    >>> book.frame
       time trader security  quantity  price
    0   1.0    bob     rain      -2.0    NaN
    1   2.0    ann     rain       5.0    0.4
    >>> Book.from_records([{"item": "q1", "worker": 7, "label": "cat"}]).frame
      question trader answer
    0       q1      7    cat
    """

    __slots__ = ("_frame", "_kind", "_source", "_label", "_rows", "_lines")

    def __init__(self, frame: pd.DataFrame, kind: BookKind | None = None):
        if not isinstance(frame, pd.DataFrame):
            raise BookError(
                f"Book() takes a pandas DataFrame, got a {type(frame).__name__}; use Book.from_records for a list "
                f"of dicts or Book.read for a file"
            )
        if any(n is not None for n in frame.index.names):
            shown = [n for n in frame.index.names if n is not None]
            raise BookError(
                f"frame: the index is named {shown[0]!r}; books read columns only. Call frame.reset_index() to make "
                f"it a column, or frame.reset_index(drop=True) to discard it"
            )
        self._set(*_validate(frame, kind, _Origin("frame")), source=None, label="frame", lines=None)

    def _set(self, frame: pd.DataFrame, kind: str, order: np.ndarray, *, source: str | None, label: str,
             lines: np.ndarray | None) -> None:
        self._frame = frame
        self._kind = kind
        self._source = source
        self._label = label
        self._rows = np.asarray(order, dtype=np.int64) + 1
        self._lines = None if lines is None else np.asarray(lines, dtype=np.int64)[order]

    @classmethod
    def _trusted(cls, frame: pd.DataFrame, kind: str, rows: np.ndarray, lines: np.ndarray | None,
                 source: str | None, label: str) -> Book:
        book = object.__new__(cls)
        book._frame, book._kind, book._source, book._label = frame, kind, source, label
        book._rows, book._lines = rows, lines
        return book

    # -- constructors --------------------------------------------------------

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, kind: BookKind | None = None) -> Book:
        """Validate a DataFrame as a book; the frame itself is not modified.

        Parameters
        ----------
        frame : pandas.DataFrame
            One row per trade or report; columns as in :class:`Book` (aliases accepted). Its
            index is ignored unless it is named (then an error asks for ``reset_index()``).
        kind : {"trades", "reports"}, optional
            Detected from the columns when omitted.

        Returns
        -------
        Book

        Raises
        ------
        BookError
            For a missing column, a bad value (naming the row and column), or no rows.

        Examples
        --------
        >>> import pandas as pd
        >>> Book.from_frame(pd.DataFrame({"trader": ["a"], "security": ["x"], "quantity": [1]})).kind
        'trades'
        """
        return cls(frame, kind)

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]], kind: BookKind | None = None) -> Book:
        """A book from mappings (column -> value), one per row; keys may differ between rows.

        A key absent from a record is a missing value there; messages call the ``k``-th record row ``k``.

        Examples
        --------
        >>> Book.from_records([{"question": "q1", "trader": "ann", "probability": 0.9}]).kind
        'reports'
        """
        _check_kind(kind)
        rows = list(records) if not isinstance(records, list) else records
        for i, r in enumerate(rows):
            if not isinstance(r, Mapping):
                raise BookError(
                    f"records: record {i + 1} is a {type(r).__name__}, not a mapping; expected one dict per row "
                    f"like {{'trader': 'ann', 'security': 'rain', 'quantity': 2}}"
                )
        if not rows:
            raise BookError("records: the book has no rows; expected one mapping per trade or report")
        book = object.__new__(cls)
        book._set(*_validate(_records_frame(rows), kind, _Origin("records")), source=None, label="records",
                  lines=None)
        return book

    @classmethod
    def read(cls, path: str | os.PathLike[str], kind: BookKind | None = None, format: str | None = None) -> Book:
        """Read a book from CSV (``.csv``, ``.csv.gz``), Parquet (``.parquet``) or JSON lines (``.jsonl``, ``.ndjson``).

        Text files are UTF-8 (a byte-order mark is ignored). In CSV the first non-blank line
        names the columns; blank lines are skipped. JSON lines hold one object per line.

        Parameters
        ----------
        path : str or os.PathLike
        kind : {"trades", "reports"}, optional
            Detected from the columns when omitted.
        format : {"csv", "parquet", "jsonl"}, optional
            Inferred from the suffix when omitted; ``"csv.gz"``/``"jsonl.gz"`` or a ``.gz``
            suffix mean gzip.

        Returns
        -------
        Book

        Raises
        ------
        BookError
            For a file that does not exist, an unknown suffix, an empty file, no rows, a missing
            column or a bad value; the message names the file, the row, the line (text
            formats) and the column.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "trades.csv"
        >>> _ = path.write_text("time,trader,security,quantity\\n1,ann,rain,2\\n2,bob,rain,abc\\n")
        >>> Book.read(path)
        Traceback (most recent call last):
        ...
        deepmarkets.errors.BookError: ...trades.csv: row 2 (line 3), column quantity: 'abc' is not a number; ...
        """
        p = Path(path)
        fmt, gz = _format_of(p, format)
        if not p.exists():
            raise BookError(f"{p}: no such file; check the path (the working folder is {os.getcwd()})")
        if p.is_dir():
            raise BookError(f"{p}: is a folder, not a file; give the path of a {fmt} file")
        _check_kind(kind)
        try:
            if fmt == "csv":
                frame, origin = _read_csv(p, gz, kind)
            elif fmt == "jsonl":
                frame, origin = _read_jsonl(p, gz)
            else:
                frame, origin = _read_parquet(p)
        except UnicodeDecodeError as err:
            raise BookError(f"{p}: not UTF-8 text (byte {err.start}: {err.reason}); save the file as UTF-8") from None
        except (OSError, EOFError, zlib.error) as err:
            raise BookError(f"{p}: cannot read the file ({err}); is it a complete {fmt} file?") from None
        book = object.__new__(cls)
        valid, kind_found, order = _validate(frame, kind, origin)
        book._set(valid, kind_found, order, source=str(p), label=str(p), lines=origin.lines)
        return book

    @classmethod
    def simulate_trades(
        cls,
        securities: int | Sequence[str],
        n_trades: int,
        *,
        traders: int | Sequence[str] = 5,
        rng: int | np.random.Generator | None = None,
        max_quantity: float = 10.0,
    ) -> Book:
        """A random trades book for demos and benchmarks.

        Each trade picks a trader and a security uniformly at random, a side (buy or sell)
        with probability 1/2 and a size uniform on (0, ``max_quantity``]. Times are the
        arrival times of a Poisson process of rate 1 (increasing); prices are not recorded
        (NaN). The same ``rng`` seed gives the same book.

        Parameters
        ----------
        securities : int or sequence of str
            Names, or a count ``k`` for the names ``s0, ..., s{k-1}``.
        n_trades : int
            Number of rows (>= 1).
        traders : int or sequence of str, default 5
            Names, or a count ``m`` for ``trader0, ..., trader{m-1}``.
        rng : int, numpy.random.Generator or None
            Seed or generator.
        max_quantity : float, default 10.0
            Largest absolute quantity.

        Returns
        -------
        Book

        Examples
        --------
        >>> book = Book.simulate_trades(["rain", "sun"], 100, traders=3, rng=0)
        >>> len(book), sorted(book.securities), len(book.traders)
        (100, ['rain', 'sun'], 3)
        >>> book == Book.simulate_trades(["rain", "sun"], 100, traders=3, rng=0)
        True
        """
        sec_names = _simulation_names(securities, "securities", "s")
        trader_names = _simulation_names(traders, "traders", "trader")
        if isinstance(n_trades, bool) or not isinstance(n_trades, int | np.integer) or n_trades < 1:
            raise DeclarationError(f"n_trades={n_trades!r}; expected a whole number of trades >= 1")
        if isinstance(max_quantity, bool) or not isinstance(max_quantity, int | float | np.integer | np.floating) or \
                not (math.isfinite(max_quantity) and max_quantity > 0):
            raise DeclarationError(f"max_quantity={max_quantity!r}; expected a finite number > 0")
        gen = as_rng(rng)
        n = int(n_trades)
        times = np.cumsum(gen.exponential(1.0, n))
        who = gen.integers(0, len(trader_names), n)
        what = gen.integers(0, len(sec_names), n)
        side = np.where(gen.random(n) < 0.5, -1.0, 1.0)
        size = float(max_quantity) * (1.0 - gen.random(n))  # (0, max]
        frame = pd.DataFrame({
            "time": times,
            "trader": _text_series(np.asarray(trader_names, dtype=object)[who]),
            "security": _text_series(np.asarray(sec_names, dtype=object)[what]),
            "quantity": side * size,
            "price": np.full(n, np.nan),
        })
        book = cls(frame, "trades")
        book._label = "simulated"
        return book

    # -- accessors -----------------------------------------------------------

    @property
    def kind(self) -> BookKind:
        """``"trades"`` or ``"reports"``."""
        return self._kind  # type: ignore[return-value]

    @property
    def frame(self) -> pd.DataFrame:
        """The validated table (a copy: changing it leaves the book as it was)."""
        return self._frame.copy(deep=not _COW)

    @property
    def source(self) -> str | None:
        """The file the book was read from, or None."""
        return self._source

    def __len__(self) -> int:
        return len(self._frame)

    @property
    def traders(self) -> tuple[str, ...]:
        """Trader names in order of first appearance (after sorting by time)."""
        return tuple(pd.unique(self._frame["trader"].to_numpy(object)))

    @property
    def securities(self) -> tuple[str, ...]:
        """Security names in order of first appearance (trades books only)."""
        if self._kind != "trades":
            raise BookError("a reports book has questions, not securities; use book.questions")
        return tuple(pd.unique(self._frame["security"].to_numpy(object)))

    @property
    def questions(self) -> tuple[str, ...]:
        """Question names in order of first appearance (reports books only)."""
        if self._kind != "reports":
            raise BookError("a trades book has securities, not questions; use book.securities")
        return tuple(pd.unique(self._frame["question"].to_numpy(object)))

    def row_origin(self, i: int) -> str:
        """Where row ``i`` (0-based, of :attr:`frame`) came from, for messages: ``"trades.csv row 7 (line 8)"``.

        Examples
        --------
        >>> book = Book.from_records([{"t": 5, "trader": "a", "security": "x", "quantity": 1},
        ...                           {"t": 1, "trader": "b", "security": "x", "quantity": 1}])
        >>> book.row_origin(0)
        'records row 2'
        """
        if not -len(self) <= i < len(self):
            raise IndexError(f"row {i} is outside the book's {len(self)} rows")
        line = f" (line {int(self._lines[i])})" if self._lines is not None else ""
        return f"{self._label} row {int(self._rows[i])}{line}"

    def _time_span(self) -> tuple[Any, Any] | None:
        if "time" not in self._frame.columns:
            return None
        t = self._frame["time"]
        return t.iloc[0], t.iloc[-1]

    # -- comparisons and display --------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Book):
            return NotImplemented
        return self._kind == other._kind and list(self._frame.columns) == list(other._frame.columns) and \
            self._frame.equals(other._frame)

    __hash__ = None  # type: ignore[assignment]

    def _summary(self) -> str:
        n = len(self)
        k = len(self.traders)
        items = self.securities if self._kind == "trades" else self.questions
        item = _ITEM[self._kind]
        parts = [
            f"{self._kind}: {n} row{'s' if n != 1 else ''}",
            f"{k} trader{'s' if k != 1 else ''}",
            f"{len(items)} {item if len(items) == 1 else _NAMES_WHAT[self._kind]}",
        ]
        if self._kind == "reports":
            parts.append(", ".join(c for c in ("answer", "probability") if c in self._frame.columns) + " given")
        span = self._time_span()
        if span is not None:
            parts.append(f"time {_fmt_time(span[0])} to {_fmt_time(span[1])}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        src = f", source={self._source!r}" if self._source else ""
        return f"Book({self._summary()}{src})"

    def _repr_markdown_(self) -> str:
        head = self._frame.head(5)
        cols = list(head.columns)
        esc = lambda v: " ".join(str(v).split("\n")).replace("|", "\\|")  # noqa: E731
        lines = [f"**Book** ({self._summary()})", "", "| " + " | ".join(map(esc, cols)) + " |",
                 "|" + "---|" * len(cols)]
        cells = [_cell_text(head[c]) for c in cols]
        for row in zip(*cells, strict=True):
            lines.append("| " + " | ".join(esc(v) for v in row) + " |")
        if len(self) > len(head):
            lines += ["", f"(first {len(head)} of {len(self)} rows)"]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: kind, rows, traders, securities or questions, time span, columns, source.

        Examples
        --------
        >>> Book.simulate_trades(2, 10, traders=3, rng=1).to_dict()["securities"]
        2
        """
        span = self._time_span()
        time = None
        if span is not None:
            kind = "datetime" if isinstance(span[0], pd.Timestamp) else "number"
            time = {"type": kind, "start": _json_time(span[0]), "end": _json_time(span[1])}
        out: dict[str, Any] = {"kind": self._kind, "rows": len(self), "traders": len(self.traders)}
        if self._kind == "trades":
            out["securities"] = len(self.securities)
            out["prices_recorded"] = int(self._frame["price"].notna().sum())
        else:
            out["questions"] = len(self.questions)
            for c, key in (("answer", "answers"), ("probability", "probabilities")):
                out[key] = int(self._frame[c].notna().sum()) if c in self._frame.columns else 0
        out["time"] = time
        out["columns"] = list(self._frame.columns)
        out["source"] = self._source
        return out

    # -- selection and output ------------------------------------------------

    def filter(self, *, trader: str | Iterable[str] | None = None, security: str | Iterable[str] | None = None,
               question: str | Iterable[str] | None = None) -> Book:
        """The rows whose trader (and security, or question) is among the given names, in book order.

        Raises
        ------
        BookError
            When no row matches (the message lists the names the book has), or when asking a
            trades book for questions or a reports book for securities.

        Examples
        --------
        >>> book = Book.simulate_trades(["rain", "sun"], 50, traders=["ann", "bob"], rng=2)
        >>> set(book.filter(trader="ann", security="sun").frame["trader"])
        {'ann'}
        """
        if security is not None and self._kind != "trades":
            raise BookError("filter(security=...) is for trades books; a reports book has questions")
        if question is not None and self._kind != "reports":
            raise BookError("filter(question=...) is for reports books; a trades book has securities")
        mask = np.ones(len(self), bool)
        for column, value in (("trader", trader), ("security", security), ("question", question)):
            names = _names_arg(value, column)
            if names is not None:
                mask &= self._frame[column].isin(names).to_numpy(bool)
        if not mask.any():
            raise BookError(
                f"no row matches the filter (trader={trader!r}, {_ITEM[self._kind]}="
                f"{security if self._kind == 'trades' else question!r}); the book has traders {list(self.traders)} "
                f"and {_NAMES_WHAT[self._kind]} "
                f"{list(self.securities if self._kind == 'trades' else self.questions)}"
            )
        idx = np.flatnonzero(mask)
        frame = self._frame.take(idx).reset_index(drop=True)
        lines = None if self._lines is None else self._lines[idx]
        return Book._trusted(frame, self._kind, self._rows[idx], lines, self._source, self._label)

    def write(self, path: str | os.PathLike[str], format: str | None = None) -> Path:
        """Write the book to CSV, Parquet or JSON lines, atomically (see :func:`deepmarkets.helpers.atomic_write`).

        The format comes from the suffix (as in :meth:`read`) unless given. Numbers are
        written exactly (shortest round-trip text in CSV and JSON), date-times as ISO 8601 in
        UTC, missing values as empty cells (CSV) or ``null`` (JSON). ``Book.read`` of the
        written file gives back an equal book; in CSV, extra columns come back as text.
        If anything fails, an existing file at ``path`` is left as it was.

        Returns
        -------
        pathlib.Path

        Examples
        --------
        >>> import tempfile, pathlib
        >>> book = Book.simulate_trades(3, 20, rng=0)
        >>> path = book.write(pathlib.Path(tempfile.mkdtemp()) / "trades.parquet")
        >>> Book.read(path) == book
        True
        """
        p = Path(path)
        fmt, gz = _format_of(p, format)
        writer = _WRITERS[fmt]
        try:
            with atomic_path(p) as tmp:
                writer(self._frame, tmp, gz)
        except OSError as err:
            raise BookError(f"{p}: cannot write the book ({err})") from None
        return p


def _simulation_names(value: int | Sequence[str], what: str, prefix: str) -> list[str]:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        if value < 1:
            raise DeclarationError(f"{what}={value!r}; expected a count >= 1 or a list of names")
        return [f"{prefix}{i}" for i in range(int(value))]
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise DeclarationError(f"{what}={value!r}; expected a count >= 1 or a list of names")
    names = list(value)
    if not names or not all(isinstance(v, str) and v.strip() == v and v for v in names):
        raise DeclarationError(f"{what}={value!r}; expected non-empty names without surrounding spaces")
    if len(set(names)) != len(names):
        raise DeclarationError(f"{what}={value!r} repeats a name; give each once")
    return names


def _fmt_time(t: Any) -> str:
    if isinstance(t, pd.Timestamp):
        return t.isoformat()
    return f"{float(t):g}"


def _json_time(t: Any) -> str | float:
    return t.isoformat() if isinstance(t, pd.Timestamp) else float(t)
