"""The collector's URLs in README and docs use the port it listens on by default (issue 16: one page said 8000)."""

from __future__ import annotations

import re
from pathlib import Path

from collector.settings import HttpSettings

REPO_ROOT = Path(__file__).resolve().parents[3]
COLLECTOR_URL = re.compile(r"<?collector>?:(\d{2,5})\b")


def test_every_collector_url_in_the_docs_uses_the_default_port() -> None:
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    found = {
        f"{page.relative_to(REPO_ROOT)}: {match.group(0)}": int(match.group(1))
        for page in pages
        for match in COLLECTOR_URL.finditer(page.read_text(encoding="utf-8"))
    }
    assert len(found) >= 3, found  # the pattern still finds the examples
    wrong = [where for where, port in found.items() if port != HttpSettings().port]
    assert wrong == []
