"""HTML to A4 PDF with WeasyPrint (page size, margins and the running footer are in the templates' CSS)."""

from __future__ import annotations

from dataclasses import dataclass

from weasyprint import HTML


@dataclass(frozen=True)
class Pdf:
    content: bytes
    pages: int


def html_to_pdf(html: str) -> Pdf:
    document = HTML(string=html).render()
    return Pdf(document.write_pdf() or b"", len(document.pages))
