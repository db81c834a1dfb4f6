"""Reading a report's HTML back: every figure cell with the API answer and field it says it shows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser


@dataclass(frozen=True)
class Figure:
    key: str  # "<source>:<path>", e.g. "current.kpis:items/fix_rate"
    text: str  # as printed
    scale: float
    digits: int
    kind: str  # "number" or "time"

    @property
    def source(self) -> str:
        return self.key.split(":", 1)[0]

    @property
    def path(self) -> str:
        return self.key.split(":", 1)[1]

    def number(self) -> float:
        """The printed number, in the units it is printed in (English separators)."""
        cleaned = self.text.replace("\u202f", "").replace("%", "").replace(",", "").strip()
        return float(cleaned)


class ReportParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.figures: list[Figure] = []
        self.untraced: list[str] = []  # numeric cells without a data-key
        self.rows: list[dict[str, str]] = []  # <tr> attributes, with the row's text
        self._cell: dict[str, str | None] | None = None
        self._text: list[str] = []
        self._row: dict[str, str] | None = None
        self._row_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "td":
            self._cell = dict(attrs)
            self._text = []
        if tag == "tr":
            self._row = {name: value or "" for name, value in attrs}
            self._row_text = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)
        if self._row is not None:
            self._row_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            text = "".join(self._text).strip()
            key = self._cell.get("data-key")
            if key:
                self.figures.append(
                    Figure(
                        key,
                        text,
                        float(self._cell.get("data-scale") or 1),
                        int(self._cell.get("data-digits") or 0),
                        self._cell.get("data-kind") or "number",
                    )
                )
            elif "num" in (self._cell.get("class") or "").split() and any(ch.isdigit() for ch in text):
                self.untraced.append(text)
            self._cell = None
        if tag == "tr" and self._row is not None:
            text = re.sub(r"[ \t\r\n]+", " ", " ".join(self._row_text)).strip()
            self.rows.append({**self._row, "text": text})
            self._row = None


def parse(html: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(html)
    return parser
