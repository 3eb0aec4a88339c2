"""One self-contained HTML page: sections of text, facts, tables and figures, and the job's data.

Everything the page needs is inside it: the style sheet inline, figures as PNG data URIs, the
job's ``to_dict()`` as JSON (shown, and in a ``<script type="application/json">`` for tools).
No script runs and nothing is fetched when the page is opened.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from deepmarkets.errors import DeclarationError
from deepmarkets.helpers import atomic_write, json_safe

__all__ = ["Report", "Section", "format_number", "SIGNIFICANT"]

#: Significant digits of the numbers shown in tables (the embedded JSON has them all).
SIGNIFICANT = 6
#: Rows of a table shown in the page; the rest are in the embedded JSON.
MAX_ROWS = 200
#: Resolution of embedded figures (dots per inch).
FIGURE_DPI = 110
#: The id of the ``<script type="application/json">`` element holding the job's data.
DATA_ID = "deepmarkets-data"

_VERDICT_CLASSES = {"good": "ok", "bad": "bad", "neutral": "neutral"}

_CSS = """
:root { --fg: #1b1f24; --muted: #57606a; --rule: #d0d7de; --bg: #ffffff; --panel: #f6f8fa;
        --ok: #1a7f37; --bad: #cf222e; --neutral: #6e7781; --accent: #0072b2; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--fg); background: var(--bg); margin: 0; }
main { max-width: 1040px; margin: 0 auto; padding: 2rem 1.5rem 3rem; }
header { border-bottom: 2px solid var(--accent); margin-bottom: 1.5rem; padding-bottom: .5rem; }
h1 { font-size: 1.7rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .6rem; border-bottom: 1px solid var(--rule); padding-bottom: .2rem; }
.subtitle, .meta, .note, figcaption, .more { color: var(--muted); }
.meta { font-size: .85rem; }
nav ol { margin: .5rem 0 0; padding-left: 1.4rem; columns: 2; font-size: .9rem; }
a { color: var(--accent); }
.verdict { display: inline-block; font-weight: 700; letter-spacing: .03em; padding: .15rem .6rem;
           border-radius: 4px; color: #fff; margin: .2rem 0 .6rem; }
.verdict.ok { background: var(--ok); } .verdict.bad { background: var(--bad); }
.verdict.neutral { background: var(--neutral); }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .9rem; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3rem; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { background: var(--panel); text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: ui-monospace, Menlo, Consolas, monospace; }
table.facts th { width: 16rem; font-weight: 600; }
.scroll { overflow-x: auto; max-width: 100%; }
figure { margin: 1rem 0 1.5rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--rule); }
pre { background: var(--panel); padding: .8rem; overflow-x: auto; font-size: .8rem; border-radius: 4px; }
details summary { cursor: pointer; color: var(--accent); }
@media print { nav, details { display: none; } main { max-width: none; padding: 0; }
               h2 { break-after: avoid; } figure, table { break-inside: avoid; } }
"""


def format_number(value: Any) -> str:
    """A number as the page shows it: integers in full, floats to :data:`SIGNIFICANT` digits,
    NaN and None as a dash; anything else as text.

    Examples
    --------
    >>> format_number(0.1 + 0.2), format_number(12), format_number(float("nan")), format_number(None)
    ('0.3', '12', '–', '–')
    """
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        return "–" if math.isnan(value) else f"{value:.{SIGNIFICANT}g}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class Section:
    """A part of a :class:`Report` under one heading; its methods append and return ``self``."""

    def __init__(self, title: str, anchor: str) -> None:
        self.title, self.anchor = title, anchor
        self._parts: list[str] = []

    def text(self, text: str, *, note: bool = False) -> Section:
        """A paragraph of plain text (escaped)."""
        self._parts.append(f'<p{" class=note" if note else ""}>{html.escape(text)}</p>')
        return self

    def verdict(self, text: str, kind: str = "neutral") -> Section:
        """A coloured verdict badge: ``kind`` is ``"good"``, ``"bad"`` or ``"neutral"``."""
        if kind not in _VERDICT_CLASSES:
            raise DeclarationError(f"verdict kind {kind!r}: expected one of {', '.join(_VERDICT_CLASSES)}")
        self._parts.append(f'<div class="verdict {_VERDICT_CLASSES[kind]}">{html.escape(text)}</div>')
        return self

    def facts(self, facts: Mapping[str, Any], *, caption: str | None = None) -> Section:
        """A two-column table of names and values."""
        rows = "".join(f"<tr><th scope=row>{html.escape(str(k))}</th>{_cell(v)}</tr>" for k, v in facts.items())
        self._parts.append(f'<table class="facts">{_caption(caption)}<tbody>{rows}</tbody></table>')
        return self

    def table(self, rows: Any, columns: Sequence[str] | None = None, *, caption: str | None = None,
              max_rows: int = MAX_ROWS, index: bool = False) -> Section:
        """A table from a pandas DataFrame, or from rows (sequences, or mappings keyed by ``columns``).

        Numbers are right-aligned and shown to :data:`SIGNIFICANT` significant digits; beyond
        ``max_rows`` rows a line says how many more there are (the embedded data has them all).
        """
        header, body = _rows(rows, columns, index=index)
        shown = body[:max_rows]
        head = "".join(f"<th scope=col>{html.escape(str(c))}</th>" for c in header)
        cells = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in shown)
        self._parts.append(f'<div class="scroll"><table>{_caption(caption)}<thead><tr>{head}</tr></thead>'
                           f"<tbody>{cells}</tbody></table></div>")
        if len(body) > len(shown):
            self._parts.append(f'<p class="more">… {len(body) - len(shown)} more rows (all of them are in the '
                               f'data at the end of this page)</p>')
        return self

    def figure(self, fig: Any, *, alt: str, caption: str | None = None, close: bool = True) -> Section:
        """A matplotlib figure as an inline PNG (closed afterwards unless ``close=False``)."""
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self._parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">{cap}</figure>')
        return self

    def code(self, text: str) -> Section:
        """Preformatted text (a command, a theory, a sentence list)."""
        self._parts.append(f"<pre>{html.escape(text)}</pre>")
        return self

    def render(self) -> str:
        return f'<section id="{self.anchor}"><h2>{html.escape(self.title)}</h2>{"".join(self._parts)}</section>'


class Report:
    """A self-contained HTML report of one job.

    Parameters
    ----------
    title : str
        The page's heading and ``<title>``.
    subtitle : str, optional
        One line under the heading (what was run on what).

    Examples
    --------
    >>> report = Report("Coherence check", subtitle="three prices")
    >>> _ = report.section("Verdict").verdict("INCOHERENT", "bad").facts({"guaranteed profit": 0.1})
    >>> page = report.to_html(data={"verdict": "incoherent"})
    >>> page.startswith("<!DOCTYPE html>"), "INCOHERENT" in page, "http" in page.split("<main>")[0]
    (True, True, False)
    """

    def __init__(self, title: str, *, subtitle: str | None = None) -> None:
        self.title, self.subtitle = title, subtitle
        self.sections: list[Section] = []

    def section(self, title: str) -> Section:
        """A new section at the end of the page."""
        section = Section(title, f"s{len(self.sections) + 1}")
        self.sections.append(section)
        return section

    def to_html(self, data: Any = None, *, command: Sequence[str] | None = None) -> str:
        """The page as text. ``data`` (the job's ``to_dict()``) is embedded as JSON; ``command``, the
        command line that ran the job, is shown under the title when given."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            release = version("deepmarkets")
        except PackageNotFoundError:  # pragma: no cover - a source tree without an install
            release = "unknown"
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        nav = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in self.sections)
        ran = "" if command is None else f' · <code>{html.escape(" ".join(map(str, command)))}</code>'
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body><main>",
            f"<header><h1>{html.escape(self.title)}</h1>",
            f'<div class="subtitle">{html.escape(self.subtitle)}</div>' if self.subtitle else "",
            f'<div class="meta">deepmarkets {html.escape(release)} · {when}{ran}</div>',
            f"<nav><ol>{nav}</ol></nav></header>" if len(self.sections) > 1 else "</header>",
            *(s.render() for s in self.sections),
        ]
        if data is not None:
            text = json.dumps(json_safe(data), indent=2, allow_nan=False)
            parts += ['<section id="data"><h2>Data</h2>',
                      "<p class=note>The same numbers as the command's <code>--json</code> output.</p>",
                      f"<details><summary>Show the JSON</summary><pre>{html.escape(text)}</pre></details>",
                      f'<script type="application/json" id="{DATA_ID}">{_script_safe(text)}</script></section>']
        parts.append("</main></body></html>")
        return "\n".join(p for p in parts if p)

    def write(self, path: str | Path, data: Any = None, *, command: Sequence[str] | None = None) -> Path:
        """Write the page to ``path`` atomically (a complete file or none) and return its path."""
        page = self.to_html(data, command=command)
        return atomic_write(path, lambda tmp: Path(tmp).write_text(page, encoding="utf-8"))


def _script_safe(text: str) -> str:
    """JSON inside a ``<script>`` element: no sequence that would close the element early."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def _caption(caption: str | None) -> str:
    return f"<caption>{html.escape(caption)}</caption>" if caption else ""


def _cell(value: Any) -> str:
    if _is_number(value):
        return f'<td class="num">{html.escape(format_number(value))}</td>'
    return f"<td>{html.escape(format_number(value))}</td>"


def _rows(rows: Any, columns: Sequence[str] | None, *, index: bool) -> tuple[list[str], list[list[Any]]]:
    """Header and body cells of ``rows``: a DataFrame, or a sequence of sequences or mappings."""
    if hasattr(rows, "itertuples") and hasattr(rows, "columns"):
        frame = rows.reset_index() if index else rows
        header = [str(c) for c in frame.columns] if columns is None else list(columns)
        return header, [list(r) for r in frame[list(frame.columns) if columns is None else list(columns)]
                        .itertuples(index=False, name=None)]
    rows = list(rows) if isinstance(rows, Iterable) else None
    if rows is None:
        raise DeclarationError("a report table needs a DataFrame or a list of rows")
    if rows and isinstance(rows[0], Mapping):
        header = list(columns) if columns is not None else list(rows[0])
        return header, [[r.get(c) for c in header] for r in rows]
    if columns is None:
        raise DeclarationError("a report table of plain rows needs its column names (columns=...)")
    body = [list(r) for r in rows]
    if any(len(r) != len(columns) for r in body):
        raise DeclarationError(f"a report table row does not have the {len(columns)} columns {list(columns)}")
    return list(columns), body
