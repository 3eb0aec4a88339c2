"""Reading a report page back: its tags, numeric cells, embedded data and anything it would fetch."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser

from deepmarkets.reports.document import DATA_ID, format_number


class Page(HTMLParser):
    """What a page holds: its tags with attributes, the text of numeric cells and the embedded data."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.numbers: list[str] = []
        self.numbers_by_section: dict[str, list[str]] = {}
        self._section = ""
        self._in_heading = False
        self.data_text: str | None = None
        self._in_num = self._in_data = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        self._in_num = tag == "td" and attrs.get("class") == "num"
        self._in_heading = tag == "h2"
        self._in_data = tag == "script" and attrs.get("id") == DATA_ID

    def handle_endtag(self, tag):
        self._in_num = self._in_data = self._in_heading = False

    def handle_data(self, data):
        if self._in_heading:
            self._section = data
        if self._in_num:
            self.numbers.append(data)
            self.numbers_by_section.setdefault(self._section, []).append(data)
        if self._in_data:
            self.data_text = (self.data_text or "") + data

    @property
    def data(self):
        return json.loads(self.data_text.replace("<\\/", "</").replace("<\\!--", "<!--"))


def external_references(text: str) -> list[str]:
    """Every attribute that would make a browser fetch something (a page must hold no such thing)."""
    page = Page(text)
    found = []
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            if value and not (value.startswith("data:") or value.startswith("#")):
                found.append(f"<{tag} {name}={value}>")
        if tag == "link":
            found.append(f"<link {attrs}>")
    if re.search(r"@import|url\(", text):
        found.append("a style sheet import or url()")
    return found


def without_seconds(value):
    """``value`` with every key naming seconds dropped and NaN as None (timings differ between runs)."""
    if isinstance(value, dict):
        return {k: without_seconds(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list):
        return [without_seconds(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def shown_numbers(value) -> set[str]:
    """Every number inside ``value`` (nested dicts and lists, and numeric keys) as a page shows it."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            found |= shown_numbers(v)
            try:
                found.add(format_number(float(k)))
            except ValueError:
                pass
    elif isinstance(value, list):
        for v in value:
            found |= shown_numbers(v)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found.add(format_number(value))
        found.add(format_number(float(value)))
    return found
